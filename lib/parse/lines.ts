/**
 * Line splitting shared by every text parser. A capture cut by `timeout` ends without a newline; parsers need to know
 * whether the last line was terminated, so every line carries that flag.
 */

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

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
