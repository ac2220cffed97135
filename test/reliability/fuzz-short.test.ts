/**
 * The fuzz properties of test/reliability/properties.ts (the same set `npm run fuzz` runs for minutes), briefly: 200
 * runs per target with a seed that changes per run (fast-check prints it, with the replay path, on failure).
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTcptracer, parseTcptracerStream } from '../../lib/parse/tcptracer.js';
import { TARGETS } from './properties.js';

describe('fuzz properties, short run (parsers of lib/parse and planAlert; same set as npm run fuzz)', () => {
  it.each(TARGETS.map((t) => [t.name, t] as const))('%s', async (_name, target) => {
    await fc.assert(target.property(), { numRuns: 200 });
  });
});

/**
 * Found by `npm run fuzz` (tcptracer-stream, seed 1995877044): LineFeeder missed a byte order mark split across
 * chunks. Fixed; kept as a regression test.
 */
describe('gaps found by fuzzing (fixed)', () => {
  const text = '\ufeff\nTIME(ns) TYPE PID COMM IP SADDR DADDR SPORT DPORT NETNS\n';
  const bytes = Buffer.from(text, 'utf8');

  it('a byte order mark then a blank line: the whole-text parse skips line 1 as blank', () => {
    const whole = parseTcptracer(text);
    expect(whole.ok && whole.value.skipped).toEqual([{ line: 1, reason: 'blank' }]);
  });

  it('the same bytes streamed one byte per chunk give the same skip reason (a split BOM is still a BOM)', async () => {
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const streamed = await parseTcptracerStream(Readable.from(chunks));
    expect(streamed.ok && streamed.value.skipped).toEqual([{ line: 1, reason: 'blank' }]);
  });
});
