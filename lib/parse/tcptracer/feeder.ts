/**
 * The line feeder: splits byte chunks (file reads, stream chunks, pipe reads) into lines for the aggregator, handling
 * a byte order mark, lines split across chunks and lines too long to be rows; and `feedFileRange`, which feeds a byte
 * range of an open file in chunks the feeder expects.
 */
import { readSync } from 'node:fs';
import type { TcptracerAggregator } from './aggregator.js';

/** Longest line kept whole; longer ones cannot be tcptracer rows and are skipped without buffering them. */
const MAX_LINE_BYTES = 64 * 1024;
/** The UTF-8 byte order mark. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Splits byte chunks into lines (`\n`; a `\r` before it is whitespace to the tokenizer), handing each line to the
 * aggregator as a range of the chunk it sits in. Only a line that spans two chunks is copied.
 *
 * Whether a line is over MAX_LINE_BYTES is told the same way for any chunking of at most MAX_LINE_BYTES bytes (as
 * file streams and pipes deliver, and `feedFileRange` reads): such a line always spans two chunks.
 */
export class LineFeeder {
  private carry: Uint8Array | null = null;
  private carryOverflow = false;
  private started: boolean;
  /** Bytes of a byte order mark seen so far at the start of the input, which may come split across chunks. */
  private bomBytes = 0;
  private number: number;

  /**
   * Lines are numbered from `linesBefore + 1`. Only at the start of the input (`atInputStart`) is a byte order mark
   * not part of the first line: a part of a file that starts after a newline keeps its first bytes.
   */
  constructor(
    private readonly sink: TcptracerAggregator,
    linesBefore = 0,
    atInputStart = true,
  ) {
    this.number = linesBefore;
    this.started = !atInputStart;
  }

  /** The number of the last line handed to the aggregator. */
  get lines(): number {
    return this.number;
  }

  feed(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    let start = 0;
    if (!this.started) {
      // A UTF-8 byte order mark is not part of the first line, however the chunks split it (a pipe may hand over one
      // byte at a time): its bytes are held until the mark is complete, or turns out not to be one.
      let i = 0;
      while (i < chunk.length && this.bomBytes + i < BOM.length && chunk[i] === BOM[this.bomBytes + i]) i++;
      if (this.bomBytes + i === BOM.length) {
        this.started = true;
        start = i;
      } else if (i === chunk.length) {
        this.bomBytes += i;
        return;
      } else {
        this.started = true;
        // Not a byte order mark after all: the bytes held back start the first line.
        if (this.bomBytes > 0) this.append(BOM.subarray(0, this.bomBytes));
      }
      this.bomBytes = 0;
    }
    if (this.carry !== null) {
      const end = chunk.indexOf(10, start);
      this.append(chunk.subarray(start, end === -1 ? chunk.length : end));
      if (end === -1) return;
      this.flushCarry(true);
      start = end + 1;
    }
    for (;;) {
      const end = chunk.indexOf(10, start);
      if (end === -1) break;
      this.number++;
      this.sink.line(chunk, start, end, this.number, true);
      start = end + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
  }

  end(): void {
    if (!this.started) {
      // The input ended inside what could have been a byte order mark: those bytes are its last line.
      this.started = true;
      if (this.bomBytes > 0) this.append(BOM.subarray(0, this.bomBytes));
      this.bomBytes = 0;
    }
    if (this.carry !== null) this.flushCarry(false);
  }

  private append(part: Uint8Array): void {
    if (this.carry === null) {
      this.carry = Buffer.from(part.subarray(0, MAX_LINE_BYTES));
      this.carryOverflow = part.length > MAX_LINE_BYTES;
    } else if (this.carry.length < MAX_LINE_BYTES) {
      const room = MAX_LINE_BYTES - this.carry.length;
      const joined = Buffer.allocUnsafe(this.carry.length + Math.min(room, part.length));
      joined.set(this.carry, 0);
      joined.set(part.subarray(0, room), this.carry.length);
      this.carry = joined;
      if (part.length > room) this.carryOverflow = true;
    } else if (part.length > 0) {
      this.carryOverflow = true;
    }
  }

  private flushCarry(terminated: boolean): void {
    const carry = this.carry!;
    this.carry = null;
    this.number++;
    if (this.carryOverflow) {
      this.carryOverflow = false;
      this.sink.longLine(this.number, terminated);
    } else {
      // The aggregator relies on a newline byte after every line (see `line`).
      const line = Buffer.allocUnsafe(carry.length + 1);
      line.set(carry, 0);
      line[carry.length] = 10;
      this.sink.line(line, 0, carry.length, this.number, terminated);
    }
  }
}

/** Bytes per read: at most MAX_LINE_BYTES (see LineFeeder), as a file stream reads them. */
const READ_BYTES = 64 * 1024;

/** Feeds bytes `[start, end)` of an open file, or from `start` to the end of the file when `end` is null. */
export function feedFileRange(feeder: LineFeeder, fd: number, start: number, end: number | null): void {
  // One buffer for every read: the feeder and the aggregator copy what they keep.
  const buf = Buffer.allocUnsafe(READ_BYTES);
  for (let position = start; ;) {
    const want = end === null ? READ_BYTES : Math.min(READ_BYTES, end - position);
    if (want <= 0) return;
    const n = readSync(fd, buf, 0, want, position);
    if (n === 0) return;
    feeder.feed(buf.subarray(0, n));
    position += n;
  }
}
