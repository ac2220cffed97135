/**
 * The ways in to a tcptracer parse, each a line feeder driving one aggregator: a capture held in memory, a byte or
 * string stream, and one part of a file read on its own (the work of a worker thread in a parallel parse).
 */
import type { Readable } from 'node:stream';
import type { AddressClassifier } from '../../analysis/ip.js';
import type { Parsed, TcptracerCapture } from '../types.js';
import { TcptracerAggregator } from './aggregator.js';
import { feedFileRange, LineFeeder } from './feeder.js';
import { EVERY_ADDRESS_PUBLIC } from './partial.js';
import type { TcptracerPartial, TcptracerPartTask } from './partial.js';

export interface TcptracerOptions {
  readonly classifier?: AddressClassifier;
}

/** Parses a whole capture held in memory. Same aggregator and line rules as the stream. */
export function parseTcptracer(text: string, options: TcptracerOptions = {}): Parsed<TcptracerCapture> {
  const aggregator = new TcptracerAggregator(options);
  const feeder = new LineFeeder(aggregator);
  // Encoded in slices that end at a newline, so no character is split and no second copy of the whole text is made.
  const slice = 1 << 20;
  let start = 0;
  while (start < text.length) {
    let end = start + slice >= text.length ? text.length : text.indexOf('\n', start + slice);
    end = end === -1 ? text.length : end + 1;
    feeder.feed(Buffer.from(text.slice(start, end), 'utf8'));
    start = end;
  }
  feeder.end();
  return aggregator.finish();
}

/** Parses a capture from a byte or string stream, one chunk at a time (memory does not grow with the event count). */
export async function parseTcptracerStream(
  input: Readable | AsyncIterable<string | Buffer>,
  options: TcptracerOptions = {},
): Promise<Parsed<TcptracerCapture>> {
  const aggregator = new TcptracerAggregator(options);
  const feeder = new LineFeeder(aggregator);
  // A string chunk may end between the two halves of a surrogate pair: hold the high half back for the next chunk.
  let heldHighSurrogate = '';
  for await (const chunk of input as AsyncIterable<string | Buffer>) {
    if (typeof chunk === 'string') {
      let text = heldHighSurrogate + chunk;
      heldHighSurrogate = '';
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        heldHighSurrogate = text.slice(-1);
        text = text.slice(0, -1);
      }
      feeder.feed(Buffer.from(text, 'utf8'));
    } else {
      feeder.feed(chunk);
    }
  }
  if (heldHighSurrogate.length > 0) feeder.feed(Buffer.from(heldHighSurrogate, 'utf8'));
  feeder.end();
  return aggregator.finish();
}

/** Reads one part of a file on its own, for `TcptracerAggregator.absorb` (this is what a worker thread runs). */
export function parseTcptracerPart(fd: number, task: TcptracerPartTask): TcptracerPartial {
  const aggregator = new TcptracerAggregator({ classifier: EVERY_ADDRESS_PUBLIC, state: task.state });
  const feeder = new LineFeeder(aggregator, 0, false);
  feedFileRange(feeder, fd, task.start, task.end);
  if (task.end === null) feeder.end();
  return aggregator.partial(feeder.lines);
}
