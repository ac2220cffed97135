/**
 * tcptracer captures (bcc `tools/tcptracer.py` and libbpf-tools `tcptracer`; FORMATS.md sections 1 and 2), aggregated
 * while streaming: one pass, one line at a time, memory bounded by the number of distinct sources and destinations,
 * never by the number of events (a capture can hold millions of lines).
 *
 * Line accounting: every input line is exactly one of
 * - an event (counted in `events`),
 * - a banner or column header line (`Tracing TCP established connections...`, a line naming SADDR and DADDR), or
 * - a skipped line with a reason: blank lines (`blank`), `Possibly lost N samples` / `Lost N events on CPU #n!`
 *   notices (also summed into `lostEvents`), Python traceback lines, tool error text, malformed rows, `unknown` event
 *   types, and an unterminated last line.
 *
 * Rows are split on whitespace and anchored from both ends: [TIME] [UID] TYPE PID from the left, IP SADDR DADDR SPORT
 * DPORT [NETNS] from the right, COMM (free text, may hold spaces) in between. Where the row has a NETNS column is read
 * from the row itself: the IP column (`4`/`6`) is the 5th or the 6th field from the right, never both.
 *
 * Speed (a capture can be a million lines; the CLI must beat `awk | sort | uniq -c`): rows are read as UTF-8 bytes,
 * never decoded as a whole (a `\n` byte never occurs inside a multi-byte character); addresses and COMMs are interned
 * by a hash of their bytes, so a string is created, canonicalised and classified once per distinct value, not per row.
 *
 * The parser lives in tcptracer/: feeder.ts (bytes to lines), grammar.ts (the bcc and libbpf line grammars and the
 * header), aggregator.ts (lines to aggregates), capture.ts (per-source aggregates and the capture document),
 * problems.ts (skipped lines and rejections), partial.ts (what a parallel parse carries between parts), stream.ts
 * (the entry points), byte-strings.ts (hashing and interning). This module is its public face.
 */
export { TcptracerAggregator } from './tcptracer/aggregator.js';
export type { AggregatorOptions } from './tcptracer/aggregator.js';
export { toTcptracerDocument } from './tcptracer/capture.js';
export { feedFileRange, LineFeeder } from './tcptracer/feeder.js';
export type { HeaderLayout } from './tcptracer/grammar.js';
export { EVERY_ADDRESS_PUBLIC, INITIAL_STATE } from './tcptracer/partial.js';
export type { TcptracerPartial, TcptracerPartTask, TcptracerState } from './tcptracer/partial.js';
export { parseTcptracer, parseTcptracerPart, parseTcptracerStream } from './tcptracer/stream.js';
export type { TcptracerOptions } from './tcptracer/stream.js';
