import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { generateTcptracerCapture } from '../../bench/tcptracer-capture.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { parseTcptracerStream } from '../../lib/parse/tcptracer.js';
import { parseTcptracerFile } from '../../lib/parse/tcptracer-parallel.js';
import type { TcptracerFileOptions } from '../../lib/parse/tcptracer-parallel.js';
import type { Parsed, TcptracerCapture } from '../../lib/parse/types.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/tcptracer/', import.meta.url));
const fixtures = readdirSync(FIXTURES).sort();
const dir = mkdtempSync(join(tmpdir(), 'tcptracer-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let written = 0;
function fileWith(content: string | Buffer): string {
  const path = join(dir, `capture-${written++}.log`);
  writeFileSync(path, content);
  return path;
}

/** The single-threaded result: the CLI's stream of the file, 64 KiB chunks. */
function sequential(path: string, options: TcptracerFileOptions = {}): Promise<Parsed<TcptracerCapture>> {
  return parseTcptracerStream(createReadStream(path), options);
}

/** Parallel, with the merge outcome of each part. */
async function parallel(path: string, options: TcptracerFileOptions) {
  const parts: Array<{ start: number; absorbed: boolean }> = [];
  const parsed = await parseTcptracerFile(path, { ...options, onPart: (p) => parts.push(p) });
  return { parsed, parts };
}

/** Equal as values and as JSON text (what the CLI prints). */
function expectSame(actual: Parsed<TcptracerCapture>, expected: Parsed<TcptracerCapture>): void {
  expect(actual).toEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

const everyOffset = (size: number): number[] => Array.from({ length: size }, (_, i) => i + 1);

describe('parseTcptracerFile: parallel parts give the single-threaded result', () => {
  it.each(fixtures)('%s, split at every single offset and into one part per line (in process)', async (name) => {
    const path = join(FIXTURES, name);
    const expected = await sequential(path);
    const size = statSync(path).size;
    // Every line its own part: splits at every line boundary, inside the traceback, after the header...
    const perLine = await parallel(path, { splitAt: everyOffset(size), inProcess: true });
    expectSame(perLine.parsed, expected);
    // A part starts after every newline but the last byte.
    expect(perLine.parts).toHaveLength(readFileSync(path).subarray(0, -1).toString('latin1').split('\n').length - 1);
    for (let at = 1; at < size; at++) {
      expectSame((await parallel(path, { splitAt: [at], inProcess: true })).parsed, expected);
    }
  });

  it.each(fixtures)('%s, one part per line, read by worker threads', async (name) => {
    const path = join(FIXTURES, name);
    const { parsed, parts } = await parallel(path, { splitAt: everyOffset(statSync(path).size), threads: 2 });
    expectSame(parsed, await sequential(path));
    // The head of the file tells each part's state (no part is read again), and the workers did read them.
    expect(parts.every((p) => p.absorbed)).toBe(true);
  });

  it('a generated 200k-line capture, in two workers and in many parts, with a classifier', async () => {
    const path = fileWith([...generateTcptracerCapture({ lines: 200_000, seed: 11 })].join(''));
    const size = statSync(path).size;
    const classifier = new AddressClassifier({ privateCidrs: ['20.50.0.0/16'] });
    for (const options of [{}, { classifier }]) {
      const expected = await sequential(path, options);
      expect(expected.ok).toBe(true);
      const two = await parallel(path, { ...options, threads: 2, minPartBytes: 1024 * 1024 });
      expect(two.parts).toHaveLength(1);
      expect(two.parts.every((p) => p.absorbed)).toBe(true);
      expectSame(two.parsed, expected);
      const many = await parallel(path, {
        ...options,
        splitAt: Array.from({ length: 15 }, (_, k) => Math.round(((k + 1) * size) / 16)),
        threads: 3,
      });
      expect(many.parts).toHaveLength(15);
      expect(many.parts.every((p) => p.absorbed)).toBe(true);
      expectSame(many.parsed, expected);
    }
  });

  it('a small file is one part; a non-regular file is streamed', async () => {
    const path = join(FIXTURES, 'bcc-tv.log');
    const { parsed, parts } = await parallel(path, {});
    expect(parts).toEqual([]);
    expectSame(parsed, await sequential(path));
  });

  it('byte order mark, CRLF, lines over 64 KiB and an unterminated last line, split anywhere', async () => {
    const tv = readFileSync(join(FIXTURES, 'bcc-tv.log'), 'utf8');
    const [banner, header, ...rows] = tv.split('\n');
    const long = 'x'.repeat(70_000);
    const text = `\ufeff${banner}\r\n${header}\n${rows.slice(0, 4).join('\r\n')}\n${long}\n${'y'.repeat(65_536)}\n${rows.slice(4).join('\n')}${rows[2]!.slice(0, 40)}`;
    const path = fileWith(text);
    const expected = await sequential(path);
    const size = statSync(path).size;
    const cuts = [1, 2, 3, 4, 200, 700, 20_000, 60_000, 65_536, 65_537, 70_000, 100_000, 140_000, size - 20, size - 1];
    for (const at of cuts) expectSame((await parallel(path, { splitAt: [at], inProcess: true })).parsed, expected);
    expectSame((await parallel(path, { splitAt: cuts, inProcess: true })).parsed, expected);
  });

  it('a header with another layout past the probed head: the parts after it are read again from the right state', async () => {
    const bcc = readFileSync(join(FIXTURES, 'bcc-tv.log'), 'utf8');
    const libbpf = readFileSync(join(FIXTURES, 'libbpf-tu.log'), 'utf8');
    const path = fileWith(bcc + libbpf + bcc);
    const options = { splitAt: everyOffset(statSync(path).size), probeBytes: bcc.length };
    const { parsed, parts } = await parallel(path, { ...options, inProcess: true });
    const expected = await sequential(path);
    expectSame(parsed, expected);
    // The libbpf lines are read again; the bcc lines after the third header are absorbed again.
    expect(parts.filter((p) => !p.absorbed).map((p) => p.start)).toEqual(
      parts.filter((p) => p.start > bcc.length && p.start <= bcc.length + libbpf.length + 53).map((p) => p.start),
    );
    expectSame((await parallel(path, { ...options, threads: 2 })).parsed, expected);
  });

  it('bounded lists (64 PIDs per source, 10,000 COMMs) keep exactly the sequential entries', async () => {
    const row = (pid: number, comm: string, saddr = '10.244.1.5') =>
      `0 connect ${pid} ${comm} 4 ${saddr} 20.50.2.10 40000 443 4026532361\n`;
    const head =
      'Tracing TCP established connections. Ctrl-C to end.\nTIME(ns) TYPE PID COMM IP SADDR DADDR SPORT DPORT NETNS\n';
    let pids = head;
    // Part 1: 40 PIDs; part 2: 40 others, then some of the first ones again. Each part keeps all of its 61 at most,
    // the merge keeps the first 64 of the 80.
    for (let p = 0; p < 40; p++) pids += row(1000 + p, 'java');
    const middle = Buffer.byteLength(pids);
    for (let p = 40; p < 80; p++) pids += row(1000 + p, 'java');
    for (let p = 0; p < 21; p++) pids += row(1000 + p, 'java');
    // Part 3 alone has more than 64 PIDs for one source: read again in the main thread.
    const third = Buffer.byteLength(pids);
    for (let p = 0; p < 100; p++) pids += row(5000 + p, 'curl', '10.244.1.6');
    let path = fileWith(pids);
    let result = await parallel(path, { splitAt: [middle, third], inProcess: true });
    expectSame(result.parsed, await sequential(path));
    expect(result.parts.map((p) => p.absorbed)).toEqual([true, false]);

    // 6,000 COMMs per part, 12,000 in all: the merge names the first 10,000, in the order a single pass meets them.
    let comms = head;
    for (let c = 0; c < 6000; c++) comms += row(7, `c${c}`, `10.244.2.${c % 200}`);
    const half = Buffer.byteLength(comms);
    for (let c = 12_000; c > 6000; c--) comms += row(7, `c${c}`, `10.244.2.${c % 200}`);
    path = fileWith(comms);
    result = await parallel(path, { splitAt: [half], inProcess: true });
    expectSame(result.parsed, await sequential(path));
    expect(result.parts.map((p) => p.absorbed)).toEqual([true]);
  });

  it('property: any split points over a mutated capture give the sequential result', async () => {
    const sources = ['bcc-tv.log', 'libbpf-tu.log', 'traceback.log', 'bcc-t.log', 'error-attach.txt', 'cut.log'].map(
      (name) => readFileSync(join(FIXTURES, name), 'utf8'),
    );
    const line = fc.oneof(
      fc.constantFrom(...sources.flatMap((s) => s.split('\n'))),
      fc.string({ unit: fc.constantFrom('a', 'C', ' ', '\t', '4', '.', '[', '1', '\r', 'é', '\ufeff'), maxLength: 12 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: sources.length - 1 }),
        fc.array(fc.tuple(fc.nat(), line), { maxLength: 10 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.nat(),
        async (base, inserts, terminated, cuts, probe) => {
          const lines = sources[base]!.replace(/\n$/, '').split('\n');
          for (const [at, text] of inserts) lines.splice(at % (lines.length + 1), 0, text);
          const text = lines.join('\n') + (terminated ? '\n' : '');
          const path = fileWith(text);
          const size = Buffer.byteLength(text);
          const splitAt = cuts.map((c) => (c % (size + 1)) + 1);
          const probeBytes = probe % (size + 2);
          expectSame((await parallel(path, { splitAt, probeBytes, inProcess: true })).parsed, await sequential(path));
          rmSync(path);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parseTcptracerFile from the esbuild bundle', () => {
  it('finds its worker entry next to the bundled chunks (the package.json build, plus this module as an entry)', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const outdir = join(root, 'node_modules', '.cache', `tcptracer-bundle-${process.pid}`);
    const build = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { 'build:cli': string } })
      .scripts['build:cli'];
    expect(build).toContain('lib/parse/tcptracer-worker.ts');
    const args = build
      .replace(/^esbuild /, '')
      .replace('--outdir=dist/cli', `--outdir=${outdir}`)
      .split(' ')
      .concat('lib/parse/tcptracer-parallel.ts');
    execFileSync(join(root, 'node_modules', '.bin', 'esbuild'), args, { cwd: root });
    try {
      const bundled = (await import(
        pathToFileURL(join(outdir, 'tcptracer-parallel.js')).href
      )) as typeof import('../../lib/parse/tcptracer-parallel.js');
      const path = join(FIXTURES, 'bcc-tv.log');
      const parts: boolean[] = [];
      const parsed = await bundled.parseTcptracerFile(path, {
        splitAt: [400, 800, 1200],
        threads: 3,
        onPart: (p) => parts.push(p.absorbed),
      });
      expect(parts).toEqual([true, true, true]);
      expect(JSON.stringify(parsed)).toBe(JSON.stringify(await sequential(path)));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
