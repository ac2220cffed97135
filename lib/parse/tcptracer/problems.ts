/**
 * Problems with the input: the skipped-line accounting (every line that is not an event, banner or header is one
 * skipped line with a reason; the first MAX_SKIPPED_LISTED are listed, all are counted), and the rejections of an
 * input that is not a capture at all (empty, the tool's own error, a traceback, something else).
 */
import { reject } from '../types.js';
import type { Parsed, SkippedLine } from '../types.js';

/** How many skipped lines are listed; `skippedTotal` keeps the exact count. */
const MAX_SKIPPED_LISTED = 200;

/** The skipped lines of an input: the first MAX_SKIPPED_LISTED listed, every one counted in `total`. */
export class SkippedLines {
  readonly listed: SkippedLine[] = [];
  total = 0;

  add(line: number, reason: string): void {
    this.total++;
    if (this.listed.length < MAX_SKIPPED_LISTED) this.listed.push({ line, reason });
  }

  /** The skipped lines of a part of the input that starts `linesBefore` lines in (its lines count from its start). */
  addPart(listed: readonly SkippedLine[], total: number, linesBefore: number): void {
    for (const skipped of listed) {
      if (this.listed.length >= MAX_SKIPPED_LISTED) break;
      this.listed.push({ line: skipped.line + linesBefore, reason: skipped.reason });
    }
    this.total += total;
  }
}

/** A line remembered for a message: its number and trimmed text. */
export interface NotedLine {
  readonly line: number;
  readonly text: string;
}

/** An input with nothing but blank lines. */
export function emptyInput(): Parsed<never> {
  return reject({ code: 'empty', message: 'empty input: expected tcptracer output' });
}

/**
 * An input with no event, header or banner: tcptracer's own error message when it printed one, else the traceback it
 * died with, else the input is something else (named by its first non-blank line).
 */
export function notACapture(
  firstToolError: NotedLine | null,
  firstTraceback: number | null,
  firstNonBlank: NotedLine,
): Parsed<never> {
  if (firstToolError !== null) {
    return reject({
      code: 'tool-error',
      line: firstToolError.line,
      message: `tcptracer did not run: ${quote(firstToolError.text)}`,
    });
  }
  if (firstTraceback !== null) {
    return reject({
      code: 'tool-error',
      line: firstTraceback,
      message: 'tcptracer did not run: it failed with a Python traceback before printing its header',
    });
  }
  return reject({
    code: 'not-tcptracer',
    line: firstNonBlank.line,
    message: `not tcptracer output: no header or event line (first line: ${quote(firstNonBlank.text)})`,
  });
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}
