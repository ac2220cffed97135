import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCaptureLog } from '../../lib/k8s/capture-log.js';
import type { CaptureLog } from '../../lib/k8s/capture-log.js';
import { captureEvidenceOf } from '../../lib/k8s/capture-evidence.js';
import type { PodSnapshot } from '../../lib/k8s/pods.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { parseTcptracer } from '../../lib/parse/tcptracer.js';
import type { InputProblem } from '../../lib/parse/types.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/k8s/${name}`, import.meta.url), 'utf8');
const M = '##SNAT-RESPONDER##';

function log(text: string, classifier?: AddressClassifier): CaptureLog {
  const result = parseCaptureLog(text, classifier ? { classifier } : {});
  if (!result.ok) throw new Error(`rejected: ${result.problem.message}`);
  return result.value;
}

function problem(text: string): InputProblem {
  const result = parseCaptureLog(text);
  if (result.ok) throw new Error('accepted');
  return result.problem;
}

const U1 = '3f1c2b4a-5d6e-4f70-8192-a3b4c5d6e7f8';
const U2 = '7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d';

describe('parseCaptureLog: a complete bcc capture', () => {
  const value = log(fixture('capture-bcc.log'));

  it('reads begin, every section and the trailer', () => {
    expect(value.begin).toEqual({
      line: 2,
      version: 1,
      tracer: 'bcc',
      captureSeconds: 30,
      maxLines: 30_000,
      censusMaxLines: 4_000,
      startedAt: 1795680000,
    });
    expect(value.preambleLines).toBe(1);
    expect(value.cut).toBe(false);
    expect(value.skipped).toEqual([]);
    expect(value.trailer).toEqual({
      line: value.totalLines,
      status: 'ok',
      reason: null,
      tcptracerLines: 14,
      truncated: false,
      netns: 4,
      elapsedSeconds: 33,
    });
  });

  it('hands the tcptracer section to parseTcptracer: same result as the file alone, line numbers of the log', () => {
    const alone = parseTcptracer(readFileSync(new URL('../fixtures/tcptracer/bcc-tv.log', import.meta.url), 'utf8'));
    if (!alone.ok) throw new Error('fixture');
    const section = value.tcptracer!;
    expect(section).toMatchObject({
      line: 3,
      complete: true,
      lines: 14,
      declaredLines: 14,
      truncated: false,
      exit: 0,
      seconds: 30,
    });
    expect(section.capture!.events).toEqual(alone.value.events);
    expect(section.capture!.sources).toEqual(alone.value.sources);
    // `Possibly lost 7 samples` is line 8 of the fixture and line 11 of the log (3 lines before the section's body).
    expect(alone.value.skipped.map((s) => s.line)).toEqual([8]);
    expect(section.capture!.skipped.map((s) => s.line)).toEqual([11]);
  });

  it('reads the netns map', () => {
    expect(value.netns).toEqual({
      line: 19,
      complete: true,
      entries: [
        { netns: 4026531840, pid: 1, uid: null, host: true },
        { netns: 4026532361, pid: 4101, uid: U1, host: false },
        { netns: 4026532400, pid: 790, uid: U2, host: false },
        { netns: 4026532455, pid: 5500, uid: '0e1d2c3b-4a59-4687-b6a5-c4d3e2f1a0b9', host: false },
      ],
    });
  });

  it('parses each census with parseProcNetTcp; an empty one (process gone) has a problem, not a document', () => {
    expect(value.censuses.map((c) => [c.netns, c.pid, c.lines, c.complete, c.truncated])).toEqual([
      [4026531840, 1, 5, true, false],
      [4026532361, 4101, 19, true, false],
      [4026532400, 790, 4, true, false],
      [4026532455, 5500, 0, true, false],
    ]);
    const pod = value.censuses[1]!.document!;
    expect(pod.summary.byState).toMatchObject({ SYN_SENT: 2, LISTEN: 2 });
    expect(pod.summary.byState.ESTABLISHED).toBeGreaterThan(0);
    expect(pod.summary.publicDestinations[0]).toEqual({ endpoint: '20.50.2.10:443', count: 3 });
    expect(value.censuses[3]!.document).toBeNull();
    expect(value.censuses[3]!.problem!.code).toBe('empty');
  });

  it('passes the classifier down (configured private ranges apply to both parsers)', () => {
    const classifier = new AddressClassifier({ privateCidrs: ['20.50.0.0/16'] });
    const value2 = log(fixture('capture-bcc.log'), classifier);
    expect(value2.tcptracer!.capture!.publicDestinations.map((d) => d.endpoint)).not.toContain('20.50.2.10:443');
    expect(value2.censuses[1]!.document!.summary.publicDestinations.map((d) => d.endpoint)).not.toContain(
      '20.50.2.10:443',
    );
  });
});

describe('parseCaptureLog: degraded logs', () => {
  it('libbpf-tools capture', () => {
    const value = log(fixture('capture-libbpf.log'));
    expect(value.tcptracer!.capture!.variant).toBe('libbpf');
    expect(value.tcptracer!.capture!.sources.every((s) => s.netns === null)).toBe(true);
  });

  it('no tracer: an empty section, no capture and no problem; census intact', () => {
    const value = log(fixture('capture-no-tracer.log'));
    expect(value.begin!.tracer).toBe('none');
    expect(value.tcptracer).toMatchObject({ lines: 0, exit: null, capture: null, problem: null });
    expect(value.trailer!.status).toBe('no-tracer');
    expect(value.censuses).toHaveLength(4);
  });

  it('truncated tracer output', () => {
    const value = log(fixture('capture-truncated.log'));
    expect(value.tcptracer).toMatchObject({ lines: 8, truncated: true });
    expect(value.trailer!.truncated).toBe(true);
    expect(value.tcptracer!.capture!.events.connect).toBe(3);
  });

  it('cut log: complete sections kept, the unfinished census marked, the partial last line dropped, cut flagged', () => {
    const text = fixture('capture-cut.log');
    const value = log(text);
    expect(value.cut).toBe(true);
    expect(value.trailer).toBeNull();
    expect(value.tcptracer!.complete).toBe(true);
    expect(value.netns!.complete).toBe(true);
    expect(value.censuses.map((c) => c.complete)).toEqual([true, false]);
    const lastLine = text.split('\n').length;
    expect(value.skipped).toEqual([
      { line: lastLine, reason: 'the log ends mid-line (cut): the partial line is dropped' },
      { line: lastLine, reason: 'section census (line 32) has no end line: the log was cut or is malformed' },
    ]);
    // The cut census holds the rows before the cut line: 1 header + 5 rows.
    expect(value.censuses[1]!.lines).toBe(6);
    expect(value.censuses[1]!.document!.sockets).toHaveLength(5);
  });

  it('a log cut inside the tcptracer section still yields the events read so far', () => {
    const text = fixture('capture-bcc.log');
    const cut = text.slice(0, text.indexOf('3100000'));
    const value = log(cut);
    expect(value.cut).toBe(true);
    expect(value.tcptracer).toMatchObject({ complete: false, declaredLines: null });
    expect(value.tcptracer!.capture!.events.connect).toBe(4);
    expect(value.netns).toBeNull();
  });

  it('the script refused its parameters', () => {
    const value = log(fixture('capture-bad-parameters.log'));
    expect(value.trailer).toMatchObject({ status: 'failed', reason: 'bad-parameters' });
    expect(value.tcptracer).toBeNull();
    expect(value.cut).toBe(false);
  });

  it('a tracer that failed to attach: the problem quotes it, the line points into the log', () => {
    const value = log(fixture('capture-attach-failed.log'));
    expect(value.tcptracer!.capture).toBeNull();
    expect(value.tcptracer!.problem).toMatchObject({ code: 'tool-error' });
    expect(value.tcptracer!.problem!.message).toMatch(/Failed to attach|Python traceback/);
    expect(value.trailer!.status).toBe('partial');
  });

  it('unknown framing, unknown sections, stray lines, bad netns lines, lines after the trailer: skipped with reasons', () => {
    const value = log(fixture('capture-odd.log'));
    expect(value.skipped.map((s) => [s.line, s.reason])).toEqual([
      [19, 'unknown framing keyword "checkpoint"'],
      [20, 'unknown section "ig": its lines are skipped'],
      [24, 'outside any section'],
      [27, 'not a netns line (netns=<inode> pid=<pid> uid=<uid|-> host=0|1)'],
      [28, 'netns line with a uid that is not a pod UID'],
      [30, 'netns 4026532361 listed twice; the first line is kept'],
      [71, 'after the trailer'],
    ]);
    // The first line for a namespace wins.
    expect(value.netns!.entries.find((e) => e.netns === 4026532361)!.pid).toBe(4102);
    expect(value.netns!.entries).toHaveLength(4);
    expect(value.trailer!.status).toBe('ok');
  });

  it('a section interrupted by another section is closed as incomplete', () => {
    const text = [
      `${M} begin v=1 tracer=none capture_seconds=1 max_lines=1 started=1`,
      `${M} section tcptracer`,
      `${M} section netns`,
      'netns=1 pid=1 uid=- host=1',
      `${M} end netns lines=1`,
      `${M} end census lines=0`,
      `${M} trailer status=no-tracer tcptracer_lines=0 truncated=0 netns=1 elapsed=1`,
      '',
    ].join('\n');
    const value = log(text);
    expect(value.tcptracer!.complete).toBe(false);
    expect(value.netns!.complete).toBe(true);
    expect(value.skipped.map((s) => s.reason)).toEqual([
      'section tcptracer (line 2) has no end line: the log was cut or is malformed',
      'end census without a matching section',
    ]);
  });

  it('a declared line count that does not match is reported', () => {
    const text = fixture('capture-bcc.log').replace('end tcptracer lines=14', 'end tcptracer lines=15');
    expect(log(text).skipped).toEqual([
      { line: 18, reason: 'end tcptracer says lines=15 but the section holds 14 line(s)' },
    ]);
  });

  it('the simulator flavour of v1 (no optional tokens, exit=127 without a tracer) reads the same', () => {
    const text = [
      `${M} begin v=1 tracer=none capture_seconds=5 max_lines=100 started=1795680000`,
      `${M} section tcptracer`,
      `${M} end tcptracer lines=0 truncated=0 exit=127`,
      `${M} section netns`,
      'netns=4026531840 pid=1 uid=- host=1',
      `${M} end netns lines=1`,
      `${M} section census netns=4026531840 pid=1`,
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      `${M} end census lines=1`,
      `${M} trailer status=no-tracer tcptracer_lines=0 truncated=0 netns=1 elapsed=6`,
      '',
    ].join('\n');
    const value = log(text);
    expect(value.begin!.censusMaxLines).toBeNull();
    expect(value.tcptracer).toMatchObject({
      exit: 127,
      seconds: null,
      partialLine: false,
      capture: null,
      problem: null,
    });
    expect(value.censuses[0]!.document!.sockets).toEqual([]);
    expect(value.skipped).toEqual([]);
  });

  it('an unknown tracer keeps its section but says it cannot read it', () => {
    const text = `${M} begin v=1 tracer=ig capture_seconds=5 max_lines=100 started=1\n${M} section tcptracer\n{"type":"connect"}\n${M} end tcptracer lines=1 exit=0\n${M} trailer status=ok tcptracer_lines=1 truncated=0 netns=0 elapsed=6\n`;
    expect(log(text).tcptracer!.problem).toMatchObject({ code: 'unsupported-tracer' });
  });

  it('CRLF line ends and a BOM are tolerated', () => {
    const value = log('\ufeff' + fixture('capture-bcc.log').replaceAll('\n', '\r\n'));
    expect(value.trailer!.status).toBe('ok');
    expect(value.tcptracer!.capture!.events.connect).toBe(9);
    expect(value.censuses[1]!.document!.sockets.length).toBeGreaterThan(0);
  });
});

describe('parseCaptureLog: rejections', () => {
  it.each([
    ['', 'empty'],
    ['\n\n  \n', 'empty'],
    ['exec /bin/sh: no such file or directory\n', 'not-capture-log'],
    [
      'Error from server (BadRequest): container "capture" in pod "x" is waiting to start: ContainerCreating\n',
      'not-capture-log',
    ],
  ])('%j -> %s', (text, code) => {
    expect(problem(text).code).toBe(code);
  });

  it('names the first line when it is not a capture log', () => {
    expect(problem('noise\nexec /bin/sh: no such file or directory\n')).toMatchObject({
      line: 1,
      message: 'not a capture log: no ##SNAT-RESPONDER## line (first line: "noise")',
    });
  });

  it('another format version is refused', () => {
    expect(problem(`${M} begin v=2 tracer=bcc\n`)).toMatchObject({ code: 'unsupported-version', line: 1 });
  });

  it('never throws and accounts for every line (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        `${M} begin v=1 tracer=bcc capture_seconds=1 max_lines=5 started=1`,
        `${M} begin v=1 tracer=none`,
        `${M} section tcptracer`,
        `${M} end tcptracer lines=2 truncated=1 exit=0`,
        `${M} section netns`,
        `${M} end netns lines=1`,
        `${M} section census netns=5 pid=7`,
        `${M} section census`,
        `${M} end census lines=1`,
        `${M} trailer status=ok tcptracer_lines=1 truncated=0 netns=1 elapsed=1`,
        `${M} trailer status=weird`,
        `${M}`,
        `${M} `,
        'netns=5 pid=7 uid=- host=0',
        '0   connect 1 curl 4 10.0.0.1 20.1.1.1 1 443 4026532361',
        '   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1',
        '',
      ),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.boolean(), (lines, terminated) => {
        const text = lines.join('\n') + (terminated ? '\n' : '');
        const result = parseCaptureLog(text);
        if (result.ok) {
          expect(result.value.totalLines).toBeGreaterThanOrEqual(0);
          expect(result.value.cut).toBe(
            result.value.trailer === null || (!terminated && text.length > 0 && !text.endsWith('\n')),
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('captureEvidenceOf: the log joined with the pod snapshot', () => {
  const pod = (name: string, uid: string, extra: Partial<PodSnapshot> = {}): PodSnapshot => ({
    namespace: 'shop',
    name,
    uid,
    nodeName: 'aks-nodepool1-12345678-vmss000000',
    ips: ['10.244.1.23'],
    hostNetwork: false,
    owner: `Deployment/${name}`,
    ownerSource: 'api',
    labels: {},
    images: ['example.azurecr.io/shop/api:1'],
    phase: 'Running',
    containers: [],
    startTime: null,
    ...extra,
  });
  const pods = [
    pod('checkout-7d9f-abcde', U1),
    pod('web-5c6d-fghij', U2, { ips: ['10.244.1.40'] }),
    pod('kube-proxy-xyz12', '11111111-2222-4333-8444-555555555555', {
      namespace: 'kube-system',
      hostNetwork: true,
      ips: ['10.224.0.4'],
      owner: 'DaemonSet/kube-proxy',
    }),
  ];
  const origin = 'job snat-responder-capture/snat-capture-0123456789abcdef';

  it('maps namespaces to pods by UID, the node namespace to host, censuses to their owners', () => {
    const pieces = captureEvidenceOf(log(fixture('capture-bcc.log')), pods, { origin });
    expect(pieces.capture).toMatchObject({ status: 'complete', durationSeconds: 30, origin });
    expect(pieces.netns.map((e) => [e.netns, e.owner])).toEqual([
      [4026531840, { kind: 'host' }],
      [4026532361, { kind: 'pod', namespace: 'shop', name: 'checkout-7d9f-abcde' }],
      [4026532400, { kind: 'pod', namespace: 'shop', name: 'web-5c6d-fghij' }],
      [4026532455, { kind: 'unknown' }],
    ]);
    expect(pieces.pods.map((p) => [p.name, p.netns, p.ips])).toEqual([
      ['checkout-7d9f-abcde', 4026532361, ['10.244.1.23']],
      ['web-5c6d-fghij', 4026532400, ['10.244.1.40']],
      // hostNetwork: its IP is the node's and its namespace is the node's.
      ['kube-proxy-xyz12', null, []],
    ]);
    expect(pieces.censuses.map((c) => [c.namespace, c.name, c.source])).toEqual([
      ['shop', 'checkout-7d9f-abcde', 'node-census'],
      ['shop', 'web-5c6d-fghij', 'node-census'],
    ]);
    expect(pieces.hostCensuses).toHaveLength(1);
    expect(pieces.degraded).toEqual([]);
    expect(pieces.notes.map((n) => n.text)).toEqual([
      'network namespaces of pods that were not on the node when the pods were listed (started or deleted in between)',
      'node-side censuses that were empty or unreadable (the process had exited)',
    ]);
  });

  it('no tracer: capture missing, degraded says so, census still used', () => {
    const pieces = captureEvidenceOf(log(fixture('capture-no-tracer.log')), pods, { origin });
    expect(pieces.capture.status).toBe('missing');
    expect(pieces.degraded).toEqual([
      {
        step: 'capture',
        reason:
          'no tcptracer on the node (bcc or libbpf-tools): connect rates are unknown; the socket census still counts',
      },
    ]);
    expect(pieces.censuses).toHaveLength(2);
  });

  it('truncated: capture truncated, with the cap named', () => {
    const pieces = captureEvidenceOf(log(fixture('capture-truncated.log')), pods, { origin });
    expect(pieces.capture.status).toBe('truncated');
    expect(pieces.degraded.map((d) => d.reason)).toEqual([
      'tcptracer printed more than 8 lines; the rest was discarded',
    ]);
  });

  it('cut: capture truncated, the cut census kept as a lower bound, the cut stated', () => {
    const pieces = captureEvidenceOf(log(fixture('capture-cut.log')), pods, { origin });
    expect(pieces.capture.status).toBe('truncated');
    expect(pieces.degraded.map((d) => d.reason)).toEqual([
      'the capture log has no trailer (cut short: deadline, log size or rotation); complete sections are used',
    ]);
    expect(pieces.censuses.map((c) => c.name)).toEqual(['checkout-7d9f-abcde']);
    expect(pieces.notes.map((n) => n.text)).toContain('node-side censuses cut by the end of the log (lower bounds)');
  });

  it('attach failure: capture failed, with the tracer error', () => {
    const pieces = captureEvidenceOf(log(fixture('capture-attach-failed.log')), pods, { origin });
    expect(pieces.capture.status).toBe('failed');
    expect(pieces.degraded[0]!.reason).toMatch(/^tcptracer produced no capture: tcptracer did not run/);
  });

  it('bad parameters: failed (a capture was attempted), with the script reason', () => {
    const pieces = captureEvidenceOf(log(fixture('capture-bad-parameters.log')), pods, { origin });
    expect(pieces.capture.status).toBe('failed');
    expect(pieces.degraded.map((d) => d.reason)).toEqual([
      'the capture script failed (bad-parameters): no tcptracer capture',
      'the capture log has no netns map: tcptracer sources are matched by IP only',
    ]);
  });
});
