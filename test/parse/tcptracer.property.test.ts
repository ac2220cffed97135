import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyTruth, generateTcptracerCapture } from '../../bench/tcptracer-capture.js';
import { splitLines } from '../../lib/parse/lines.js';
import { parseTcptracer, parseTcptracerStream } from '../../lib/parse/tcptracer.js';
import type { Parsed, TcptracerCapture } from '../../lib/parse/types.js';

const capture = readFileSync(fileURLToPath(new URL('../fixtures/tcptracer/bcc-tv.log', import.meta.url)), 'utf8');
const [banner, header, ...rows] = capture.split('\n').slice(0, -1) as [string, string, ...string[]];

/** Lines as lib/parse/lines.ts counts them (an independent splitter). */
const lineCount = (text: string): number => [...splitLines(text)].length;

function events(parsed: Parsed<TcptracerCapture>): number {
  if (!parsed.ok) return 0;
  const e = parsed.value.events;
  return e.connect + e.accept + e.close;
}

/** Every line is an event, a skipped line, or one of the `headerLines` banner/header lines. */
function expectAccounted(text: string, parsed: Parsed<TcptracerCapture>, headerLines: number): void {
  expect(parsed.ok).toBe(true);
  if (!parsed.ok) return;
  expect(events(parsed) + parsed.value.skippedTotal + headerLines).toBe(lineCount(text));
  expect(parsed.value.skipped.length).toBe(Math.min(200, parsed.value.skippedTotal));
}

function expectWellFormed(parsed: Parsed<TcptracerCapture>): void {
  if (parsed.ok) {
    const v = parsed.value;
    expect(v.sources.reduce((n, s) => n + s.connects, 0)).toBe(v.events.connect);
    expect(v.publicDestinations.reduce((n, d) => n + d.connects, 0)).toBe(
      v.sources.reduce((n, s) => n + s.publicConnects, 0),
    );
  } else {
    expect(parsed.problem.message.length).toBeGreaterThan(0);
  }
}

/** A line that can be neither the banner nor a header (the test knows how many of those it wrote). */
const noiseLine = fc
  .string({ unit: fc.constantFrom('a', 'C', 'x', ' ', '\t', '4', '6', '.', ':', '[', ']', '1', '0', '-', '\r', 'é') })
  .filter((l) => !/SADDR/i.test(l) && !l.trim().startsWith('Tracing TCP'));

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'noise'; line: string }
  | { kind: 'duplicate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 3 }) }),
  fc.record({ kind: fc.constant('noise' as const), line: noiseLine }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
);

/** Mutates the event rows of a real capture; banner and header stay intact, so exactly 2 header lines remain. */
function mutate(ms: readonly Mutation[]): string {
  const body = [...rows];
  for (const m of ms) {
    const i = body.length === 0 ? 0 : ('at' in m ? m.at : 0) % body.length;
    const row = body[i] ?? '';
    if (m.kind === 'delete' && row.length > 0) body[i] = row.slice(0, i % row.length) + row.slice((i % row.length) + 1);
    if (m.kind === 'insert')
      body[i] = row.slice(0, m.at % (row.length + 1)) + m.text.replace(/\n/g, '') + row.slice(m.at % (row.length + 1));
    if (m.kind === 'noise') body.splice(i, 0, m.line);
    if (m.kind === 'duplicate') body.splice(i, 0, row);
  }
  return [banner, header, ...body].join('\n') + '\n';
}

/** Splits text into random chunk sizes, as bytes or strings. */
async function streamed(text: string, sizes: number[], asBytes: boolean): Promise<Parsed<TcptracerCapture>> {
  const data = asBytes ? Buffer.from(text, 'utf8') : text;
  const chunks: Array<string | Buffer> = [];
  let at = 0;
  for (let k = 0; at < data.length; k++) {
    const size = sizes.length > 0 ? sizes[k % sizes.length]! : data.length;
    chunks.push(data.slice(at, at + size));
    at += size;
  }
  return parseTcptracerStream(Readable.from(chunks));
}

describe('parseTcptracer properties', () => {
  it('never throws on arbitrary text, and its results are internally consistent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        expectWellFormed(parseTcptracer(text));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary lines after a real header, and accounts for every line', () => {
    fc.assert(
      fc.property(fc.array(noiseLine, { maxLength: 30 }), fc.boolean(), (lines, terminated) => {
        const text = `${banner}\n${header}\n${lines.join('\n')}${terminated ? '\n' : ''}`;
        const parsed = parseTcptracer(text);
        expectAccounted(text, parsed, 2);
        expectWellFormed(parsed);
      }),
      { numRuns: 400 },
    );
  });

  it('mutations of a real capture never throw and every line is an event, a skipped line or a header', () => {
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 12 }), fc.nat(), (ms, cut) => {
        const text = mutate(ms);
        const parsed = parseTcptracer(text);
        expectAccounted(text, parsed, 2);
        expectWellFormed(parsed);
        // Cutting the text anywhere (a writer killed mid-line) is also total.
        const cutText = text.slice(0, cut % (text.length + 1));
        const cutParsed = parseTcptracer(cutText);
        expectWellFormed(cutParsed);
        const lastLine = cutText.slice(cutText.lastIndexOf('\n') + 1);
        // eslint-disable-next-line no-control-regex
        const lastLineHasText = /[^\x00-\x20]/.test(lastLine);
        if (cutParsed.ok) expect(cutParsed.value.cutLastLine).toBe(lastLineHasText);
      }),
      { numRuns: 400 },
    );
  });

  it('the stream gives the whole-text result for any chunking, as bytes or as strings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutation, { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
        fc.boolean(),
        async (ms, sizes, asBytes) => {
          const text = mutate(ms).replace(/java|curl/g, 'wörker€');
          expect(await streamed(text, sizes, asBytes)).toEqual(parseTcptracer(text));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a 200k-line generated capture: every count matches what the generator wrote', async () => {
    const truth = emptyTruth();
    const chunks = [...generateTcptracerCapture({ lines: 200_000, seed: 7 }, truth, 1 << 16)];
    const parsed = await parseTcptracerStream(Readable.from(chunks.map((c) => Buffer.from(c))));
    expect(truth.lines).toBe(200_000);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const v = parsed.value;
    expect(v.events).toEqual(truth.events);
    expect(v.lostEvents).toBe(truth.lostEvents);
    expect(v.skippedTotal).toBe(truth.lostLines);
    expect(events(parsed) + v.skippedTotal + 2).toBe(200_000);
    // 80 pods, dual-stack ones printed as [::ffff:a.b.c.d] merge into their IPv4 address: one source each.
    expect(v.sources).toHaveLength(80);
    expect(v.sources[0]!.saddr).toBe('10.244.1.2');
    expectWellFormed(parsed);
  });
});
