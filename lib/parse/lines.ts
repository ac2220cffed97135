/**
 * Line splitting shared by every text parser. A capture cut by `timeout` ends without a newline; parsers need to know
 * whether the last line was terminated, so every line carries that flag.
 */
import type { Readable } from 'node:stream';

export interface Line {
  /** The text without its line terminator (`\n` or `\r\n`). */
  readonly text: string;
  /** 1-based. */
  readonly number: number;
  /** False only for a final line with no newline after it. */
  readonly terminated: boolean;
}

/** Splits a whole text into lines. A trailing newline does not produce an empty final line. */
export function* splitLines(text: string): Generator<Line> {
  let start = 0;
  let number = 0;
  // A UTF-8 byte order mark is not part of the first line.
  if (text.charCodeAt(0) === 0xfeff) start = 1;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    number += 1;
    if (end === -1) {
      yield { text: stripCr(text.slice(start)), number, terminated: false };
      return;
    }
    yield { text: stripCr(text.slice(start, end)), number, terminated: true };
    start = end + 1;
  }
}

/** Streams lines from a byte or string stream with bounded memory (one chunk plus one partial line). */
export async function* readLines(input: Readable | AsyncIterable<string | Buffer>): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let number = 0;
  let first = true;
  for await (const chunk of input as AsyncIterable<string | Buffer>) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    const data = pending + text;
    let start = 0;
    for (;;) {
      const end = data.indexOf('\n', start);
      if (end === -1) break;
      number += 1;
      yield { text: stripCr(data.slice(start, end)), number, terminated: true };
      start = end + 1;
    }
    pending = data.slice(start);
  }
  pending += decoder.decode();
  if (pending.length > 0) {
    number += 1;
    yield { text: stripCr(pending), number, terminated: false };
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
