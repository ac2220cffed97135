import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { parseTcptracer, parseTcptracerStream, toTcptracerDocument } from '../../lib/parse/tcptracer.js';
import type { Parsed, TcptracerCapture } from '../../lib/parse/types.js';
import { runCli } from '../helpers/cli.js';

const fixturePath = (name: string): string => fileURLToPath(new URL(`../fixtures/tcptracer/${name}`, import.meta.url));
const fixture = (name: string): string => readFileSync(fixturePath(name), 'utf8');

function ok(parsed: Parsed<TcptracerCapture>): TcptracerCapture {
  if (!parsed.ok) throw new Error(`rejected: ${JSON.stringify(parsed.problem)}`);
  return parsed.value;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** Feeds the text as bytes cut every `size` bytes (mid-line, mid-character). */
function chunked(text: string, size: number): Readable {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

describe("parseTcptracer: bcc tcptracer -tv (the article's command)", () => {
  const capture = ok(parseTcptracer(fixture('bcc-tv.log')));

  it('counts events by type and lost samples, and lists the notice as skipped', () => {
    expect(capture.variant).toBe('bcc');
    expect(capture.timeUnit).toBe('ns');
    expect(capture.events).toEqual({ connect: 9, accept: 1, close: 1 });
    expect(capture.lostEvents).toBe(7);
    expect(capture.skipped).toEqual([{ line: 8, reason: 'lost-samples notice: 7 (added to lostEvents)' }]);
    expect(capture.skippedTotal).toBe(1);
    expect(capture.cutLastLine).toBe(false);
  });

  it('groups connects by saddr + netns, merging [::ffff:a.b.c.d] with a.b.c.d, COMMs with spaces intact', () => {
    expect(capture.sources).toEqual([
      {
        saddr: '10.244.1.23',
        netns: 4026532361,
        connects: 5,
        // 10.0.12.4 is private and 168.63.129.16 is the Azure platform address: no SNAT.
        publicConnects: 3,
        pids: [4120],
        comms: ['OkHttp Dispatch', 'HikariPool-1 ho'],
        publicDestinations: [
          { endpoint: '20.50.2.10:443', connects: 2 },
          { endpoint: '20.60.128.4:443', connects: 1 },
        ],
        // Connect TIMEs -35000 ns .. 5 s (a late event from another CPU's buffer has a negative TIME).
        spanSeconds: 5.000035,
      },
      {
        saddr: '10.244.1.57',
        netns: 4026532455,
        connects: 2,
        publicConnects: 2,
        pids: [5521],
        comms: ['.NET ThreadPool'],
        publicDestinations: [{ endpoint: '52.239.170.100:443', connects: 2 }],
        spanSeconds: 0.0001,
      },
      {
        saddr: '10.224.0.4',
        netns: 4026531840,
        connects: 1,
        publicConnects: 1,
        pids: [1],
        comms: ['kubelet'],
        publicDestinations: [{ endpoint: '20.50.2.10:443', connects: 1 }],
        spanSeconds: 0,
      },
      {
        saddr: 'fd00:10:244::5',
        netns: 4026532500,
        connects: 1,
        publicConnects: 1,
        pids: [900],
        comms: ['curl'],
        publicDestinations: [{ endpoint: '[2603:1030:800:5::bfee:a418]:443', connects: 1 }],
        spanSeconds: 0,
      },
    ]);
  });

  it('ranks all public destinations by connects, then endpoint', () => {
    expect(capture.publicDestinations).toEqual([
      { endpoint: '20.50.2.10:443', connects: 3 },
      { endpoint: '52.239.170.100:443', connects: 2 },
      { endpoint: '20.60.128.4:443', connects: 1 },
      { endpoint: '[2603:1030:800:5::bfee:a418]:443', connects: 1 },
    ]);
    expect(capture.spanSeconds).toBe(5.000035);
  });

  it('projects onto the parse tcptracer contract (golden)', async () => {
    const doc = toTcptracerDocument(capture);
    expect(Object.keys(doc)).toEqual([
      'format',
      'variant',
      'events',
      'lostEvents',
      'skipped',
      'connectsBySource',
      'publicDestinations',
    ]);
    expect(doc.connectsBySource[0]).toEqual({
      saddr: '10.244.1.23',
      netns: 4026532361,
      connects: 5,
      publicConnects: 3,
    });
    await expect(json(doc)).toMatchFileSnapshot('../golden/tcptracer/bcc-tv.json');
    await expect(json(capture)).toMatchFileSnapshot('../golden/tcptracer/bcc-tv.capture.json');
  });

  it('honours configured private CIDRs (a peered VNet is not SNAT)', () => {
    const classifier = new AddressClassifier({ privateCidrs: ['20.50.0.0/16'] });
    const peered = ok(parseTcptracer(fixture('bcc-tv.log'), { classifier }));
    expect(peered.publicDestinations.map((d) => d.endpoint)).toEqual([
      '52.239.170.100:443',
      '20.60.128.4:443',
      '[2603:1030:800:5::bfee:a418]:443',
    ]);
    expect(peered.sources[0]!.publicConnects).toBe(1);
  });
});

describe('parseTcptracer: other bcc flag combinations', () => {
  it('bcc -t without -v: TIME(s), one-letter types, no NETNS; unknown type skipped', async () => {
    const capture = ok(parseTcptracer(fixture('bcc-t.log')));
    expect(capture.variant).toBe('bcc');
    expect(capture.timeUnit).toBe('s');
    expect(capture.events).toEqual({ connect: 2, accept: 1, close: 1 });
    expect(capture.skipped).toEqual([{ line: 7, reason: 'unknown event type' }]);
    expect(capture.sources).toEqual([
      {
        saddr: '10.244.2.10',
        netns: null,
        connects: 2,
        publicConnects: 2,
        pids: [3001],
        comms: ['java'],
        publicDestinations: [{ endpoint: '20.150.38.228:443', connects: 2 }],
        spanSeconds: 0.25,
      },
    ]);
    // 0.000 .. 1.500 s; the skipped `U` row at 2.000 s does not count.
    expect(capture.spanSeconds).toBe(1.5);
    await expect(json(toTcptracerDocument(capture))).toMatchFileSnapshot('../golden/tcptracer/bcc-t.json');
  });

  it('bcc -v without -t: NETNS but no TIME column, so no spans', () => {
    const capture = ok(parseTcptracer(fixture('bcc-v.log')));
    expect(capture.timeUnit).toBeNull();
    expect(capture.spanSeconds).toBeNull();
    expect(capture.events).toEqual({ connect: 1, accept: 0, close: 1 });
    expect(capture.sources.map((s) => [s.saddr, s.netns, s.connects, s.spanSeconds])).toEqual([
      ['10.244.2.10', 4026532600, 1, null],
    ]);
  });

  it('bcc without -t or -v: anchors on TYPE, even when COMM is itself a type letter', () => {
    const capture = ok(parseTcptracer(fixture('bcc-plain.log')));
    expect(capture.variant).toBe('bcc');
    expect(capture.events).toEqual({ connect: 2, accept: 0, close: 0 });
    expect(capture.sources[0]).toMatchObject({ saddr: '10.244.2.10', netns: null, pids: [3001, 3002] });
    expect(capture.sources[0]!.comms).toEqual(['C', 'java']);
    expect(capture.skippedTotal).toBe(0);
  });
});

describe('parseTcptracer: libbpf-tools tcptracer', () => {
  it('-t: no banner, no NETNS, COMM cut to 12, unbracketed IPv6, Lost notices', async () => {
    const capture = ok(parseTcptracer(fixture('libbpf-t.log')));
    expect(capture.variant).toBe('libbpf');
    expect(capture.timeUnit).toBe('s');
    expect(capture.events).toEqual({ connect: 3, accept: 1, close: 1 });
    expect(capture.lostEvents).toBe(3);
    expect(capture.skipped).toEqual([{ line: 5, reason: 'lost-events notice: 3 (added to lostEvents)' }]);
    expect(capture.sources).toEqual([
      {
        saddr: '10.244.1.23',
        netns: null,
        connects: 2,
        publicConnects: 2,
        pids: [4120, 4121],
        comms: ['OkHttp Dispa'],
        publicDestinations: [
          { endpoint: '13.107.42.14:443', connects: 1 },
          { endpoint: '20.50.2.10:443', connects: 1 },
        ],
        spanSeconds: 1.75,
      },
      {
        saddr: 'fd00:10:244::17',
        netns: null,
        connects: 1,
        publicConnects: 1,
        pids: [4120],
        comms: ['OkHttp Dispa'],
        publicDestinations: [{ endpoint: '[2603:1030:800:5::bfee:a418]:443', connects: 1 }],
        spanSeconds: 0,
      },
    ]);
    expect(capture.spanSeconds).toBe(1.75);
    await expect(json(toTcptracerDocument(capture))).toMatchFileSnapshot('../golden/tcptracer/libbpf-t.json');
  });

  it('-t -U: TIME then UID before T; UID is not a time', () => {
    const capture = ok(parseTcptracer(fixture('libbpf-tu.log')));
    expect(capture.variant).toBe('libbpf');
    expect(capture.timeUnit).toBe('s');
    expect(capture.spanSeconds).toBe(0.5);
    expect(capture.events.connect).toBe(2);
  });

  it('-U alone: the whole-number column before T is the UID, not a TIME', () => {
    const capture = ok(parseTcptracer(fixture('libbpf-u.log')));
    expect(capture.variant).toBe('libbpf');
    expect(capture.timeUnit).toBeNull();
    expect(capture.spanSeconds).toBeNull();
    expect(capture.events).toEqual({ connect: 1, accept: 0, close: 1 });
  });

  it('undoes the u64 wrap of an event older than the first one (libbpf prints (ts - start) unsigned)', () => {
    const text =
      'TIME(s)  T PID    COMM         IP SADDR            DADDR            SPORT DPORT\n' +
      '0.000    C 10     java         4  10.244.1.23      20.50.2.10       41234 443 \n' +
      '18446744073709.051 C 10     java         4  10.244.1.23      20.50.2.10       41236 443 \n';
    const capture = ok(parseTcptracer(text));
    // 2^64 us = 18446744073709.551616 s, so the second event is about 0.5 s before the first.
    expect(capture.spanSeconds).toBeCloseTo(0.5, 2);
  });
});

describe('parseTcptracer: hand-made and damaged captures', () => {
  it("the article's sample: hand-edited header, redacted TIMEs keep their events", async () => {
    const capture = ok(parseTcptracer(fixture('article.log')));
    expect(capture.variant).toBe('bcc');
    expect(capture.timeUnit).toBe('ns');
    expect(capture.spanSeconds).toBeNull();
    expect(capture.events).toEqual({ connect: 3, accept: 0, close: 0 });
    expect(capture.sources.map((s) => [s.saddr, s.netns, s.connects, s.publicConnects, s.spanSeconds])).toEqual([
      ['10.244.0.10', 4026532300, 2, 2, null],
      ['10.244.0.11', 4026532310, 1, 0, null],
    ]);
    await expect(json(toTcptracerDocument(capture))).toMatchFileSnapshot('../golden/tcptracer/article.json');
  });

  it('skips the ^C traceback with a reason for each line', () => {
    const capture = ok(parseTcptracer(fixture('traceback.log')));
    expect(capture.events.connect).toBe(2);
    expect(capture.skipped).toEqual(
      [5, 6, 7, 8, 9, 10].map((line) => ({ line, reason: 'Python traceback (tool interrupted)' })),
    );
  });

  it('drops an unterminated last line even though it looks complete', () => {
    const capture = ok(parseTcptracer(fixture('cut.log')));
    expect(capture.cutLastLine).toBe(true);
    expect(capture.events.connect).toBe(2);
    expect(capture.skipped).toEqual([{ line: 5, reason: 'unterminated last line (writer cut off mid-line), dropped' }]);
    expect(capture.sources[0]!.publicDestinations).toEqual([{ endpoint: '20.50.2.10:443', connects: 2 }]);
  });

  it('a header without events is a valid, empty capture', () => {
    const capture = ok(parseTcptracer(fixture('header-only.log')));
    expect(capture.events).toEqual({ connect: 0, accept: 0, close: 0 });
    expect(capture.sources).toEqual([]);
    expect(capture.publicDestinations).toEqual([]);
    expect(capture.spanSeconds).toBeNull();
    expect(capture.skippedTotal).toBe(0);
  });

  it('blank lines are skipped lines with reason "blank"; CRLF, a BOM and tabs are tolerated', () => {
    const text = fixture('bcc-v.log').replace(/\n/g, '\r\n').replace(/ {2,}/g, '\t');
    const capture = ok(parseTcptracer(`\ufeff${text}\r\n\r\n`));
    expect(capture.events).toEqual({ connect: 1, accept: 0, close: 1 });
    expect(capture.skipped).toEqual([
      { line: 5, reason: 'blank' },
      { line: 6, reason: 'blank' },
    ]);
    expect(capture.sources[0]!.comms).toEqual(['java']);
  });

  it.each([
    [
      'IP column disagreeing with the address family',
      '0 connect 1 x 6 10.0.0.1 20.0.0.1 1 443 5',
      'IP column says 6, addresses disagree',
    ],
    ['a SADDR that is not an address', '0 connect 1 x 4 10.0.0.300 20.0.0.1 1 443 5', 'bad SADDR'],
    ['a dotted quad with a leading zero', '0 connect 1 x 4 010.0.0.1 20.0.0.1 1 443 5', 'bad SADDR'],
    ['a DADDR that is not an address', '0 connect 1 x 4 10.0.0.1 host.example 1 443 5', 'bad DADDR'],
    ['a port over 65535', '0 connect 1 x 4 10.0.0.1 20.0.0.1 1 70000 5', 'bad DPORT'],
    ['a NETNS that is not a number', '0 connect 1 x 4 10.0.0.1 20.0.0.1 1 443 4026x', 'bad NETNS'],
    ['a row without TYPE', '0 1 x 4 10.0.0.1 20.0.0.1 1 443 5', 'not a tcptracer line'],
    ['free text', 'hello world', 'not a tcptracer line'],
  ])('skips %s with a reason', (_name, row, reason) => {
    const capture = ok(parseTcptracer(`${fixture('header-only.log')}${row}\n`));
    expect(capture.skipped).toEqual([{ line: 3, reason }]);
    expect(capture.events).toEqual({ connect: 0, accept: 0, close: 0 });
  });

  it('keeps at most 200 skipped lines but counts them all', () => {
    const capture = ok(parseTcptracer(fixture('header-only.log') + 'garbage\n'.repeat(250)));
    expect(capture.skipped).toHaveLength(200);
    expect(capture.skippedTotal).toBe(250);
    expect(capture.skipped[199]).toEqual({ line: 202, reason: 'not a tcptracer line' });
  });
});

describe('parseTcptracer: input that is not a capture is rejected', () => {
  it.each([
    ['error-libbpf-invalid-option.txt', 'tool-error', 1, `tcptracer did not run: "tcptracer: invalid option -- '4'"`],
    ['error-command-not-found.txt', 'tool-error', 1, 'tcptracer did not run: "bash: tcptracer: command not found"'],
    [
      'error-bpf-map.txt',
      'tool-error',
      1,
      'tcptracer did not run: "could not open bpf map: connectsock, error: Operation not permitted"',
    ],
    [
      'error-attach.txt',
      'tool-error',
      6,
      `tcptracer did not run: "Exception: Failed to attach BPF program b'trace_connect_v4_entry' to kprobe b'tcp_v4_connect'"`,
    ],
    ['empty.txt', 'empty', undefined, 'empty input: expected tcptracer output'],
    [
      'not-tcptracer.txt',
      'not-tcptracer',
      1,
      'not tcptracer output: no header or event line (first line: "Active Internet connections (w/o servers)")',
    ],
  ])('%s', (name, code, line, message) => {
    expect(parseTcptracer(fixture(name))).toEqual({
      ok: false,
      problem: line === undefined ? { code, message } : { code, line, message },
    });
  });

  it('rejects blank-only input as empty, and a bare traceback as a failed run', () => {
    expect(parseTcptracer('\n \n\t\n')).toEqual({
      ok: false,
      problem: { code: 'empty', message: 'empty input: expected tcptracer output' },
    });
    expect(parseTcptracer('Traceback (most recent call last):\n  File "x", line 1\nKeyboardInterrupt\n')).toEqual({
      ok: false,
      problem: {
        code: 'tool-error',
        line: 1,
        message: 'tcptracer did not run: it failed with a Python traceback before printing its header',
      },
    });
  });

  it('recognises an error even when it is the only, unterminated line', () => {
    const parsed = parseTcptracer(
      "Exception: Failed to load BPF program b'trace_connect_v4_entry': Operation not permitted",
    );
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem.code).toBe('tool-error');
    expect(!parsed.ok && parsed.problem.line).toBe(1);
  });
});

describe('parseTcptracerStream', () => {
  const names = ['bcc-tv.log', 'bcc-t.log', 'libbpf-t.log', 'article.log', 'traceback.log', 'cut.log'];

  it.each(names)('%s: identical to the whole-text parse for any chunk size', async (name) => {
    const text = fixture(name);
    const whole = parseTcptracer(text);
    for (const size of [1, 2, 3, 7, 64, 1000, 1 << 16]) {
      expect(await parseTcptracerStream(chunked(text, size))).toEqual(whole);
    }
  });

  it('a byte order mark split across chunks is still not part of line 1, for every split', async () => {
    const header = fixture('header-only.log');
    for (const text of [`\ufeff\n${header}`, `\ufeff${header}`, `\ufeff${fixture('bcc-tv.log')}`]) {
      const whole = parseTcptracer(text);
      const bytes = Buffer.from(text, 'utf8');
      // Every way of cutting the first 5 bytes (the mark and what follows it), the rest in one chunk.
      for (let mask = 0; mask < 16; mask++) {
        const cuts = [1, 2, 3, 4].filter((_, k) => (mask & (1 << k)) !== 0);
        const at = [0, ...cuts, 5];
        const chunks = at.slice(1).map((end, k) => bytes.subarray(at[k], end));
        chunks.push(bytes.subarray(5));
        expect(await parseTcptracerStream(Readable.from(chunks)), `cuts at ${cuts.join(',')}`).toEqual(whole);
      }
    }
    const streamed = ok(await parseTcptracerStream(chunked(`\ufeff\n${header}`, 1)));
    expect(streamed.skipped).toEqual([{ line: 1, reason: 'blank' }]);
  });

  it('bytes that only start like a byte order mark belong to line 1, however they are split', async () => {
    const header = fixture('header-only.log');
    for (const prefix of [[0xef], [0xef, 0xbb], [0xef, 0xbb, 0xbe]]) {
      const bytes = Buffer.concat([Buffer.from(prefix), Buffer.from(`x\n${header}`)]);
      const expected = await parseTcptracerStream(Readable.from([bytes]));
      expect(ok(expected).skipped).toEqual([{ line: 1, reason: 'not a tcptracer line' }]);
      for (const size of [1, 2]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
        expect(await parseTcptracerStream(Readable.from(chunks))).toEqual(expected);
      }
      // The input ends inside the would-be mark: its bytes are line 1 (here the only one), not lost.
      const head = prefix.slice(0, 2);
      const cut = await parseTcptracerStream(Readable.from(head.map((b) => Buffer.from([b]))));
      expect(cut).toEqual(await parseTcptracerStream(Readable.from([Buffer.from(head)])));
      expect(cut).toMatchObject({ ok: false, problem: { code: 'not-tcptracer', line: 1 } });
    }
  });

  it('keeps a multi-byte COMM whole when chunks split its UTF-8 bytes', async () => {
    const text = `${fixture('header-only.log')}0 connect 7 wörker€ 4 10.0.0.1 20.0.0.1 1 443 5\n`;
    const whole = ok(parseTcptracer(text));
    expect(whole.sources[0]!.comms).toEqual(['wörker€']);
    for (const size of [1, 2, 5])
      expect(await parseTcptracerStream(chunked(text, size))).toEqual({ ok: true, value: whole });
  });

  it('accepts string chunks, including a surrogate pair split across two chunks', async () => {
    const text = `${fixture('header-only.log')}0 connect 7 w😀 4 10.0.0.1 20.0.0.1 1 443 5\n`;
    const at = text.indexOf('😀') + 1;
    const parsed = ok(await parseTcptracerStream(Readable.from([text.slice(0, at), text.slice(at)])));
    expect(parsed.sources[0]!.comms).toEqual(['w😀']);
  });

  it('reads a file stream (as the CLI does) and rejects an empty one', async () => {
    const { createReadStream } = await import('node:fs');
    expect(await parseTcptracerStream(createReadStream(fixturePath('bcc-tv.log')))).toEqual(
      parseTcptracer(fixture('bcc-tv.log')),
    );
    const empty = await parseTcptracerStream(createReadStream(fixturePath('empty.txt')));
    expect(empty.ok).toBe(false);
  });
});

describe('snat-responder parse tcptracer (CLI, in-process)', () => {
  it('prints the contract document and exits 0', async () => {
    const run = await runCli(['parse', 'tcptracer', fixturePath('bcc-tv.log')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await expect(run.stdout).toMatchFileSnapshot('../golden/tcptracer/bcc-tv.json');
  });

  it('reads stdin with -', async () => {
    const run = await runCli(['parse', 'tcptracer', '-'], fixture('libbpf-t.log'));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(toTcptracerDocument(ok(parseTcptracer(fixture('libbpf-t.log')))));
  });

  it('exits 3 with one line naming the file and line for a tool error', async () => {
    const file = fixturePath('error-libbpf-invalid-option.txt');
    const run = await runCli(['parse', 'tcptracer', file]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`snat-responder: ${file}:1: tcptracer did not run: "tcptracer: invalid option -- '4'"\n`);
  });

  it('exits 3 for an empty file', async () => {
    const file = fixturePath('empty.txt');
    const run = await runCli(['parse', 'tcptracer', file]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(`snat-responder: ${file}: empty input: expected tcptracer output\n`);
  });
});
