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
 */
import { readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { defaultClassifier, formatAddress, formatEndpoint, parseAddress } from '../analysis/ip.js';
import type { AddressClassifier } from '../analysis/ip.js';
import { byCountThenKey } from '../analysis/counting.js';
import { accept, reject } from './types.js';
import type {
  Parsed,
  SkippedLine,
  TcptracerCapture,
  TcptracerDocument,
  TcptracerSource,
  TcptracerVariant,
} from './types.js';

export interface TcptracerOptions {
  readonly classifier?: AddressClassifier;
}

/** How many skipped lines are listed; `skippedTotal` keeps the exact count. */
const MAX_SKIPPED_LISTED = 200;
/** Distinct PIDs / COMMs tracked per source; later newcomers are not counted (the lists report the top 5). */
const MAX_TRACKED_PER_SOURCE = 64;
const TOP_PIDS_AND_COMMS = 5;
const MAX_TOKENS = 48;
/** Longest line kept whole; longer ones cannot be tcptracer rows and are skipped without buffering them. */
const MAX_LINE_BYTES = 64 * 1024;
/** The UTF-8 byte order mark. */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** Distinct COMMs interned; later ones are counted as events but not named (bounds memory on hostile input). */
const MAX_INTERNED_COMMS = 10_000;

const NOT_AN_EVENT = 'not a tcptracer line';

const NONE = -1;
const CONNECT = 0;
const ACCEPT = 1;
const CLOSE = 2;
const UNKNOWN = 3;

/** libbpf-tools prints `(ts_us - start_ts) / 1e6` of two u64: an event older than the first one wraps to ~1.8e13 s. */
const U64_MICROSECONDS_IN_NS = 2 ** 64 * 1000;
const WRAPPED_NS = 1e22;

interface AddressInfo extends Interned {
  readonly id: number;
  /** Canonical text, or null when the field is not an IP literal. */
  readonly canonical: string | null;
  /** Family as printed (before unmapping): a `[::ffff:a.b.c.d]` is family 6 for the IP column check. */
  readonly family: 4 | 6 | 0;
  readonly isPublic: boolean;
  /** Connect aggregates of this address as a source, per NETNS (-1 when the row has none). */
  readonly sources: Map<number, SourceAggregate>;
  /** The last NETNS this address connected from, and its aggregate: a pod's address rarely changes namespace. */
  lastNetns: number;
  lastSource: SourceAggregate | null;
}

interface CommInfo extends Interned {
  readonly id: number;
  readonly text: string;
}

interface SourceAggregate {
  connects: number;
  publicConnects: number;
  readonly pids: Tally;
  /** By interned COMM id. */
  readonly comms: Tally;
  lastComm: CommInfo | null;
  /** Public destinations: key = destination address id * 65536 + port. */
  readonly destinations: Map<number, number>;
  minNs: number;
  maxNs: number;
}

/** Counts of a few small integers: a source has one or two PIDs and COMMs, so a scan beats a Map. */
interface Tally {
  readonly keys: number[];
  readonly counts: number[];
}

/** Adds `by` to `key`'s count; false when the key is a newcomer beyond MAX_TRACKED_PER_SOURCE (not counted). */
function tally(t: Tally, key: number, by: number): boolean {
  const keys = t.keys;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === key) {
      t.counts[i]! += by;
      return true;
    }
  }
  if (keys.length < MAX_TRACKED_PER_SOURCE) {
    keys.push(key);
    t.counts.push(by);
    return true;
  }
  return false;
}

type PrefixKind = 'time' | 'uid' | 'other';

export interface HeaderLayout {
  /** Columns before TYPE/T, in order. */
  readonly prefix: readonly PrefixKind[];
  readonly unit: 'ns' | 's' | null;
}

const TOOL_ERRORS: readonly RegExp[] = [
  /invalid option/i,
  /unrecognized arguments?/i,
  /^usage:/i,
  /^try [`'"]?\S*tcptracer/i,
  /command not found/i,
  /no such file or directory/i,
  /permission denied/i,
  /operation not permitted/i,
  /could not open bpf map/i,
  /failed to (attach|load|open|fetch|polling)/i,
  /error polling perf buffer/i,
  /^\w*(exception|error)\b.*:/i,
  /^modprobe:/i,
  /kernel headers/i,
];
const BCC_LOST = /^Possibly lost (\d+) samples?\s*$/;
const LIBBPF_LOST = /^Lost (\d+) events? on CPU #\d+!?\s*$/;
const BANNER = /^Tracing TCP established connections/;
const TRACEBACK =
  /^(\^C)?(Traceback \(most recent call last\):| {2}File "| {4}\S|KeyboardInterrupt\s*$|During handling of the above exception|\^C\s*$)/;

/** The event type of a TYPE token: bcc -v words, or the one-letter types of bcc without -v and libbpf-tools. */
function eventTypeAt(buf: Uint8Array, a: number, e: number): number {
  const len = e - a;
  if (len === 1) {
    const c = buf[a]!;
    if (c === 67) return CONNECT; // C
    if (c === 65) return ACCEPT; // A
    if (c === 88) return CLOSE; // X
    if (c === 85 || c === 45) return UNKNOWN; // U (bcc), - (libbpf)
    return NONE;
  }
  if (len === 7)
    return bytesEqual(buf, a, CONNECT_BYTES) ? CONNECT : bytesEqual(buf, a, UNKNOWN_BYTES) ? UNKNOWN : NONE;
  if (len === 6) return bytesEqual(buf, a, ACCEPT_BYTES) ? ACCEPT : NONE;
  if (len === 5) return bytesEqual(buf, a, CLOSE_BYTES) ? CLOSE : NONE;
  return NONE;
}

const CONNECT_BYTES = Buffer.from('connect');
const UNKNOWN_BYTES = Buffer.from('unknown');
const ACCEPT_BYTES = Buffer.from('accept');
const CLOSE_BYTES = Buffer.from('close');

/** Whether `buf[a..]` starts with all of `word` (the caller checked the length). */
function bytesEqual(buf: Uint8Array, a: number, word: Uint8Array): boolean {
  for (let i = 0; i < word.length; i++) if (buf[a + i] !== word[i]) return false;
  return true;
}

/** A decimal unsigned integer of at most `maxDigits` digits, or -1. */
function uintAt(buf: Uint8Array, a: number, e: number, maxDigits: number): number {
  if (e <= a || e - a > maxDigits) return -1;
  let v = 0;
  for (let i = a; i < e; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** `-?\d+(\.\d+)?` times 10^scale, rounded; NaN for anything else (redacted `3xxx9`, `1e3`, `0x10`). */
function decimalAt(buf: Uint8Array, a: number, e: number, scale: number): number {
  let i = a;
  let negative = false;
  if (buf[i] === 45) {
    negative = true;
    i++;
  }
  if (i >= e || e - i > 40) return NaN;
  let whole = 0;
  let digits = 0;
  while (i < e) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) break;
    whole = whole * 10 + d;
    digits++;
    i++;
  }
  if (digits === 0) return NaN;
  if (i === e) return negative ? -whole * 10 ** scale : whole * 10 ** scale;
  let fraction = 0;
  let fractionDigits = 0;
  if (buf[i] !== 46) return NaN;
  i++;
  if (i >= e) return NaN;
  while (i < e) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    if (fractionDigits < 12) {
      fraction = fraction * 10 + d;
      fractionDigits++;
    }
    i++;
  }
  const value = Math.round(whole * 10 ** scale + fraction * 10 ** (scale - fractionDigits));
  return negative ? -value : value;
}

function hasDot(buf: Uint8Array, a: number, e: number): boolean {
  for (let i = a; i < e; i++) if (buf[i] === 46) return true;
  return false;
}

function isIpVersion(buf: Uint8Array, a: number, e: number): boolean {
  if (e - a !== 1) return false;
  const c = buf[a];
  return c === 52 || c === 54;
}

/** FNV-1a of a byte range. */
function hashBytes(buf: Uint8Array, a: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = a; i < e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h;
}

function sameBytes(stored: Uint8Array, buf: Uint8Array, a: number, e: number): boolean {
  if (stored.length !== e - a) return false;
  for (let i = 0; i < stored.length; i++) if (stored[i] !== buf[a + i]) return false;
  return true;
}

interface Interned {
  /** A copy of the bytes as printed. */
  readonly bytes: Uint8Array;
}

/**
 * Byte strings interned by hash (open addressing, linear probing): finding a row's address needs neither a string
 * nor a Map lookup, which are most of the cost of a row otherwise.
 */
class InternTable<T extends Interned> {
  readonly items: T[] = [];
  private slots = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private vacant = 0;

  /** The item with these bytes, or undefined (then `add` may follow for the same bytes and hash). */
  find(buf: Uint8Array, a: number, e: number, hash: number): T | undefined {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i]!;
      if (slot === 0) {
        this.vacant = i;
        return undefined;
      }
      if (this.hashes[i] === hash) {
        const item = this.items[slot - 1]!;
        if (sameBytes(item.bytes, buf, a, e)) return item;
      }
    }
  }

  add(item: T, hash: number): void {
    this.items.push(item);
    this.slots[this.vacant] = this.items.length;
    this.hashes[this.vacant] = hash;
    if (this.items.length * 2 > this.slots.length) this.grow();
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Int32Array(oldSlots.length * 2);
    const mask = this.slots.length - 1;
    for (let j = 0; j < oldSlots.length; j++) {
      if (oldSlots[j] === 0) continue;
      let i = oldHashes[j]! & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.slots[i] = oldSlots[j]!;
      this.hashes[i] = oldHashes[j]!;
    }
  }
}

/** Items keyed by a non-negative integer below 2^32 (open addressing, linear probing). */
class IntTable<T> {
  private keys = new Float64Array(1024).fill(-1);
  private values: Array<T | undefined> = new Array<T | undefined>(1024);
  private size = 0;
  private vacant = 0;

  find(key: number): T | undefined {
    const mask = this.keys.length - 1;
    for (let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask; ; i = (i + 1) & mask) {
      const k = this.keys[i]!;
      if (k === key) return this.values[i];
      if (k === -1) {
        this.vacant = i;
        return undefined;
      }
    }
  }

  /** After a `find` of the same key that returned undefined. */
  add(key: number, value: T): void {
    this.keys[this.vacant] = key;
    this.values[this.vacant] = value;
    this.size++;
    if (this.size * 2 > this.keys.length) {
      const keys = this.keys;
      const values = this.values;
      this.keys = new Float64Array(keys.length * 2).fill(-1);
      this.values = new Array<T | undefined>(keys.length * 2);
      const mask = this.keys.length - 1;
      for (let j = 0; j < keys.length; j++) {
        if (keys[j] === -1) continue;
        let i = (Math.imul(keys[j]!, 0x9e3779b1) >>> 0) & mask;
        while (this.keys[i] !== -1) i = (i + 1) & mask;
        this.keys[i] = keys[j]!;
        this.values[i] = values[j];
      }
    }
  }
}

/**
 * The value of a dotted quad written as `parseAddress` accepts it (four decimal octets <= 255, no leading zeros), or
 * -1 for anything else, which then takes the general path.
 */
function strictIpv4At(buf: Uint8Array, a: number, e: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = a; i < e; i++) {
    const c = buf[i]!;
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9 || (digits === 1 && octet === 0)) return -1;
      octet = octet * 10 + d;
      if (++digits > 3 || octet > 255) return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

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

/**
 * What reading a line depends on besides the line itself (the header's layout, the TIME unit, the banner), carried
 * from one part of a file to the next by a parallel parse (tcptracer-parallel.ts).
 */
export interface TcptracerState {
  readonly bannerSeen: boolean;
  readonly header: HeaderLayout | null;
  readonly timeUnit: 'ns' | 's' | null;
  readonly headerVariant: TcptracerVariant | null;
}

export const INITIAL_STATE: TcptracerState = { bannerSeen: false, header: null, timeUnit: null, headerVariant: null };

function sameState(a: TcptracerState, b: TcptracerState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * One part of a file aggregated on its own (in a worker thread), to be absorbed by the aggregator holding everything
 * before it. Plain data (structured-clone safe); line numbers count from the part's first line; addresses and COMMs
 * are byte strings (latin1), interned again by the absorbing aggregator.
 */
export interface TcptracerPartial {
  readonly lines: number;
  /** The state the part was read from, and the state after it. */
  readonly startState: TcptracerState;
  readonly endState: TcptracerState;
  /** A bounded list dropped a newcomer (PIDs / COMMs per source, interned COMMs): only a sequential read is exact. */
  readonly dropped: boolean;
  readonly rowVariant: TcptracerVariant | null;
  readonly connects: number;
  readonly accepts: number;
  readonly closes: number;
  readonly lostEvents: number;
  readonly skipped: SkippedLine[];
  readonly skippedTotal: number;
  readonly cutLastLine: boolean;
  readonly minNs: number;
  readonly maxNs: number;
  readonly nonBlankLines: number;
  readonly firstNonBlank: { line: number; text: string } | null;
  readonly firstToolError: { line: number; text: string } | null;
  readonly firstTraceback: number | null;
  /** By address id. */
  readonly addresses: string[];
  /** In the order they were first seen: the absorbing aggregator interns them in that order. */
  readonly comms: string[];
  readonly sources: PartialSource[];
}

interface PartialSource {
  readonly address: number;
  readonly netns: number;
  readonly connects: number;
  readonly pids: number[];
  readonly pidCounts: number[];
  /** Indexes into `comms`. */
  readonly comms: number[];
  readonly commCounts: number[];
  /** Flat (address id * 65536 + port, connects) pairs of every destination: a part is read without a classifier. */
  readonly destinations: number[];
  readonly minNs: number;
  readonly maxNs: number;
}

/** Classifies every address as public: a part then keeps every destination, the absorbing aggregator classifies. */
export const EVERY_ADDRESS_PUBLIC: Pick<AddressClassifier, 'classify'> = { classify: () => 'public' };

export interface AggregatorOptions {
  readonly classifier?: Pick<AddressClassifier, 'classify'>;
  /** The state at the first line (a part of a file after its start). */
  readonly state?: TcptracerState;
}

const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

/**
 * The incremental aggregator behind every entry point: `line()` per input line, then `finish()`. It keeps counters
 * and per-source maps only. A parallel parse runs one per part of the file and merges them with `partial()` and
 * `absorb()`.
 */
export class TcptracerAggregator {
  private readonly classifier: Pick<AddressClassifier, 'classify'>;
  private readonly startState: TcptracerState;
  /** A bounded list dropped a newcomer (see TcptracerPartial.dropped). */
  private dropped = false;
  private readonly starts = new Int32Array(MAX_TOKENS);
  private readonly ends = new Int32Array(MAX_TOKENS);
  private readonly addresses = new InternTable<AddressInfo>();
  private readonly ipv4 = new IntTable<AddressInfo>();
  private readonly addressById: AddressInfo[] = [];
  private readonly comms = new InternTable<CommInfo>();

  private bannerSeen = false;
  private header: HeaderLayout | null = null;
  private headerVariant: TcptracerVariant | null = null;
  private rowVariant: TcptracerVariant | null = null;
  private timeUnit: 'ns' | 's' | null = null;

  private connects = 0;
  private accepts = 0;
  private closes = 0;
  private lostEvents = 0;
  private readonly skipped: SkippedLine[] = [];
  private skippedTotal = 0;
  private cutLastLine = false;
  private minNs = Infinity;
  private maxNs = -Infinity;

  private nonBlankLines = 0;
  private firstNonBlank: { line: number; text: string } | null = null;
  private firstToolError: { line: number; text: string } | null = null;
  private firstTraceback: number | null = null;

  constructor(options: AggregatorOptions = {}) {
    this.classifier = options.classifier ?? defaultClassifier;
    this.startState = options.state ?? INITIAL_STATE;
    this.setState(this.startState);
  }

  state(): TcptracerState {
    return {
      bannerSeen: this.bannerSeen,
      header: this.header === null ? null : { prefix: [...this.header.prefix], unit: this.header.unit },
      timeUnit: this.timeUnit,
      headerVariant: this.headerVariant,
    };
  }

  private setState(state: TcptracerState): void {
    this.bannerSeen = state.bannerSeen;
    this.header = state.header === null ? null : { prefix: [...state.header.prefix], unit: state.header.unit };
    this.timeUnit = state.timeUnit;
    this.headerVariant = state.headerVariant;
  }

  /**
   * One line: `buf[a..b)`, and `buf[b]` is always a newline byte (the feeder guarantees it), which ends the scans
   * below without a bounds test per byte: this loop touches every byte of the capture.
   */
  line(buf: Uint8Array, a: number, b: number, number: number, terminated: boolean): void {
    const starts = this.starts;
    const ends = this.ends;
    let n = 0;
    let i = a;
    for (;;) {
      // Bytes up to 0x20 (space, tab, \r, control characters) separate fields.
      let c = buf[i]!;
      while (c === 32) c = buf[++i]!;
      if (c <= 32) {
        if (i >= b) break;
        i++;
        continue;
      }
      if (n === MAX_TOKENS) {
        n++;
        break;
      }
      starts[n] = i;
      do c = buf[++i]!;
      while (c > 32);
      ends[n] = i;
      n++;
    }
    if (n === 0) {
      this.skip(number, 'blank');
      return;
    }
    this.nonBlankLines++;
    if (this.firstNonBlank === null) this.firstNonBlank = { line: number, text: decode(buf, a, b).trim() };
    if (!terminated) {
      // Even a complete-looking row may be cut mid-NETNS or mid-port: the writer was killed while printing it.
      this.cutLastLine = true;
      this.noteToolError(decode(buf, a, b).trim(), number);
      this.skip(number, 'unterminated last line (writer cut off mid-line), dropped');
      return;
    }
    const problem = n <= MAX_TOKENS ? this.event(buf, n) : NOT_AN_EVENT;
    if (problem !== null) this.other(decode(buf, a, b), n, number, problem);
  }

  /** A line over MAX_LINE_BYTES: never a row, and not buffered whole. */
  longLine(number: number, terminated: boolean): void {
    this.nonBlankLines++;
    this.firstNonBlank ??= { line: number, text: '(a line over 64 KiB)' };
    if (!terminated) this.cutLastLine = true;
    this.skip(number, 'line over 64 KiB, not a tcptracer line');
  }

  /** Reads one row; null when it was an event, else why not (NOT_AN_EVENT when it does not have an event's shape). */
  private event(buf: Uint8Array, n: number): string | null {
    const starts = this.starts;
    const ends = this.ends;
    if (n < 7) return NOT_AN_EVENT;
    let ipIndex: number;
    let hasNetns: boolean;
    if (isIpVersion(buf, starts[n - 5]!, ends[n - 5]!)) {
      ipIndex = n - 5;
      hasNetns = false;
    } else if (n >= 8 && isIpVersion(buf, starts[n - 6]!, ends[n - 6]!)) {
      ipIndex = n - 6;
      hasNetns = true;
    } else {
      return NOT_AN_EVENT;
    }
    // TYPE comes after at most two prefix columns (TIME, UID) and before PID, which precedes the IP column.
    let typeIndex = -1;
    let type = NONE;
    let pid = -1;
    const lastTypeIndex = Math.min(2, ipIndex - 2);
    for (let t = 0; t <= lastTypeIndex; t++) {
      type = eventTypeAt(buf, starts[t]!, ends[t]!);
      if (type !== NONE) {
        pid = uintAt(buf, starts[t + 1]!, ends[t + 1]!, 10);
        if (pid >= 0) {
          typeIndex = t;
          break;
        }
      }
    }
    if (typeIndex < 0) return NOT_AN_EVENT;
    const verbose = ends[typeIndex]! - starts[typeIndex]! > 1;

    const sport = uintAt(buf, starts[ipIndex + 3]!, ends[ipIndex + 3]!, 5);
    const dport = uintAt(buf, starts[ipIndex + 4]!, ends[ipIndex + 4]!, 5);
    if (sport < 0 || sport > 65535) return 'bad SPORT';
    if (dport < 0 || dport > 65535) return 'bad DPORT';
    let netns = -1;
    if (hasNetns) {
      netns = uintAt(buf, starts[n - 1]!, ends[n - 1]!, 10);
      if (netns < 0 || netns > 0xffffffff) return 'bad NETNS';
    }
    const family = buf[starts[ipIndex]!] === 52 ? 4 : 6;
    const saddr = this.address(buf, starts[ipIndex + 1]!, ends[ipIndex + 1]!);
    if (saddr.canonical === null) return 'bad SADDR';
    const daddr = this.address(buf, starts[ipIndex + 2]!, ends[ipIndex + 2]!);
    if (daddr.canonical === null) return 'bad DADDR';
    if (saddr.family !== family || daddr.family !== family) return `IP column says ${family}, addresses disagree`;
    if (type === UNKNOWN) return 'unknown event type';

    let timeNs = NaN;
    if (typeIndex > 0) timeNs = this.time(buf, typeIndex, verbose);
    if (timeNs === timeNs) {
      if (timeNs < this.minNs) this.minNs = timeNs;
      if (timeNs > this.maxNs) this.maxNs = timeNs;
    }
    if (this.rowVariant === null && (verbose || hasNetns || buf[starts[ipIndex + 1]!] === 91)) {
      this.rowVariant = 'bcc';
    }

    if (type === ACCEPT) {
      this.accepts++;
      return null;
    }
    if (type === CLOSE) {
      this.closes++;
      return null;
    }
    this.connects++;
    const source = saddr.lastNetns === netns ? saddr.lastSource! : this.sourceOf(saddr, netns);
    source.connects++;
    if (daddr.isPublic) {
      source.publicConnects++;
      const key = daddr.id * 65536 + dport;
      source.destinations.set(key, (source.destinations.get(key) ?? 0) + 1);
    }
    if (!tally(source.pids, pid, 1)) this.dropped = true;
    const commStart = typeIndex + 2 < ipIndex ? starts[typeIndex + 2]! : 0;
    const commEnd = typeIndex + 2 < ipIndex ? ends[ipIndex - 1]! : 0;
    // A source's connects mostly come from one thread name: compare with the last one before hashing.
    const last = source.lastComm;
    const comm =
      last !== null && sameBytes(last.bytes, buf, commStart, commEnd) ? last.id : this.comm(buf, commStart, commEnd);
    if (comm >= 0) {
      if (!tally(source.comms, comm, 1)) this.dropped = true;
      source.lastComm = this.comms.items[comm]!;
    }
    if (timeNs === timeNs) {
      if (timeNs < source.minNs) source.minNs = timeNs;
      if (timeNs > source.maxNs) source.maxNs = timeNs;
    }
    return null;
  }

  private sourceOf(saddr: AddressInfo, netns: number): SourceAggregate {
    let source = saddr.sources.get(netns);
    if (source === undefined) {
      source = {
        connects: 0,
        publicConnects: 0,
        pids: { keys: [], counts: [] },
        comms: { keys: [], counts: [] },
        lastComm: null,
        destinations: new Map(),
        minNs: Infinity,
        maxNs: -Infinity,
      };
      saddr.sources.set(netns, source);
    }
    saddr.lastNetns = netns;
    saddr.lastSource = source;
    return source;
  }

  /** The row's TIME in ns, or NaN when it has none or it is not a number (redacted times keep their event). */
  private time(buf: Uint8Array, typeIndex: number, verbose: boolean): number {
    const starts = this.starts;
    const ends = this.ends;
    let timeIndex: number;
    const prefix = this.header?.prefix;
    if (prefix !== undefined && prefix.length === typeIndex) {
      timeIndex = prefix.indexOf('time');
    } else if (typeIndex === 2) {
      timeIndex = 0;
    } else {
      // One column before TYPE: a whole number before a one-letter type is libbpf's UID (its TIME has decimals).
      timeIndex = !verbose && uintAt(buf, starts[0]!, ends[0]!, 10) >= 0 ? -1 : 0;
    }
    if (timeIndex < 0) return NaN;
    const a = starts[timeIndex]!;
    const e = ends[timeIndex]!;
    let unit = this.header?.unit ?? this.timeUnit;
    if (unit === null) {
      unit = hasDot(buf, a, e) ? 's' : verbose ? 'ns' : 's';
      this.timeUnit = unit;
    }
    const ns = decimalAt(buf, a, e, unit === 'ns' ? 0 : 9);
    return ns > WRAPPED_NS ? Math.round(ns - U64_MICROSECONDS_IN_NS) : ns;
  }

  /** Interned by bytes: parsed, canonicalised and classified once per distinct address text. */
  private address(buf: Uint8Array, a: number, e: number): AddressInfo {
    const v4 = strictIpv4At(buf, a, e);
    if (v4 >= 0) {
      // A strict dotted quad has exactly one spelling, so its value identifies the text: no bytes to compare.
      const found = this.ipv4.find(v4);
      if (found !== undefined) return found;
      const info = this.newAddress(buf, a, e);
      this.ipv4.add(v4, info);
      return info;
    }
    const hash = hashBytes(buf, a, e);
    const found = this.addresses.find(buf, a, e, hash);
    if (found !== undefined) return found;
    const info = this.newAddress(buf, a, e);
    this.addresses.add(info, hash);
    return info;
  }

  private newAddress(buf: Uint8Array, a: number, e: number): AddressInfo {
    // A copy: a view would keep the whole chunk it came from alive.
    const bytes = Buffer.from(buf.subarray(a, e));
    const parsed = parseAddress(decode(bytes, 0, bytes.length));
    const info: AddressInfo = {
      bytes,
      id: this.addressById.length,
      canonical: parsed ? formatAddress(parsed) : null,
      family: parsed ? (parsed.kind() === 'ipv4' ? 4 : 6) : 0,
      isPublic: parsed ? this.classifier.classify(parsed) === 'public' : false,
      sources: new Map(),
      lastNetns: NaN,
      lastSource: null,
    };
    this.addressById.push(info);
    return info;
  }

  /** The interned id of a COMM, or -1 once MAX_INTERNED_COMMS distinct names were seen. */
  private comm(buf: Uint8Array, a: number, e: number): number {
    const hash = hashBytes(buf, a, e);
    const found = this.comms.find(buf, a, e, hash);
    if (found !== undefined) return found.id;
    if (this.comms.items.length >= MAX_INTERNED_COMMS) {
      this.dropped = true;
      return -1;
    }
    const bytes = Buffer.from(buf.subarray(a, e));
    const info: CommInfo = { bytes, id: this.comms.items.length, text: decode(bytes, 0, bytes.length) };
    this.comms.add(info, hash);
    return info.id;
  }

  /** Lines that are not events: banner, header, notices, tracebacks, tool errors, malformed rows. */
  private other(text: string, n: number, number: number, problem: string): void {
    const trimmed = text.trim();
    if (BANNER.test(trimmed)) {
      this.bannerSeen = true;
      this.headerVariant ??= 'bcc';
      return;
    }
    if (problem === NOT_AN_EVENT && n <= MAX_TOKENS && this.tryHeader(trimmed)) return;
    let lost = BCC_LOST.exec(trimmed);
    if (lost) {
      this.lostEvents += Number(lost[1]);
      this.skip(number, `lost-samples notice: ${lost[1]} (added to lostEvents)`);
      return;
    }
    lost = LIBBPF_LOST.exec(trimmed);
    if (lost) {
      this.lostEvents += Number(lost[1]);
      this.skip(number, `lost-events notice: ${lost[1]} (added to lostEvents)`);
      return;
    }
    if (problem !== NOT_AN_EVENT) {
      this.skip(number, problem);
      return;
    }
    if (TRACEBACK.test(text)) {
      this.firstTraceback ??= number;
      this.skip(number, 'Python traceback (tool interrupted)');
      return;
    }
    if (this.noteToolError(trimmed, number)) {
      this.skip(number, 'tool error message');
      return;
    }
    this.skip(number, 'not a tcptracer line');
  }

  private noteToolError(text: string, number: number): boolean {
    if (!TOOL_ERRORS.some((re) => re.test(text))) return false;
    this.firstToolError ??= { line: number, text };
    return true;
  }

  private tryHeader(text: string): boolean {
    const words = text.split(/\s+/).map((w) => w.toUpperCase());
    if (!words.includes('SADDR') || !words.includes('DADDR') || !words.includes('PID')) return false;
    let typeIndex = words.indexOf('TYPE');
    if (typeIndex < 0) typeIndex = words.indexOf('T');
    if (typeIndex < 0) typeIndex = words.indexOf('PID') - 1;
    const prefix: PrefixKind[] = [];
    let unit: 'ns' | 's' | null = null;
    for (const w of words.slice(0, Math.max(0, typeIndex))) {
      if (w.startsWith('TIME')) {
        prefix.push('time');
        unit = w.includes('(NS)') ? 'ns' : w.includes('(S)') ? 's' : null;
      } else {
        prefix.push(w === 'UID' ? 'uid' : 'other');
      }
    }
    this.header = { prefix, unit };
    if (unit !== null) this.timeUnit = unit;
    // bcc prints a banner before its header; -v headers (TYPE, NETNS, TIME(ns)) are bcc's, UID is libbpf's.
    if (words.includes('TYPE') || words.includes('NETNS') || unit === 'ns' || this.bannerSeen) {
      this.headerVariant = 'bcc';
    } else {
      this.headerVariant = 'libbpf';
    }
    return true;
  }

  private skip(line: number, reason: string): void {
    this.skippedTotal++;
    if (this.skipped.length < MAX_SKIPPED_LISTED) this.skipped.push({ line, reason });
  }

  finish(): Parsed<TcptracerCapture> {
    const events = this.connects + this.accepts + this.closes;
    if (this.nonBlankLines === 0) {
      return reject({ code: 'empty', message: 'empty input: expected tcptracer output' });
    }
    if (events === 0 && this.header === null && !this.bannerSeen) {
      if (this.firstToolError !== null) {
        return reject({
          code: 'tool-error',
          line: this.firstToolError.line,
          message: `tcptracer did not run: ${quote(this.firstToolError.text)}`,
        });
      }
      if (this.firstTraceback !== null) {
        return reject({
          code: 'tool-error',
          line: this.firstTraceback,
          message: 'tcptracer did not run: it failed with a Python traceback before printing its header',
        });
      }
      const first = this.firstNonBlank!;
      return reject({
        code: 'not-tcptracer',
        line: first.line,
        message: `not tcptracer output: no header or event line (first line: ${quote(first.text)})`,
      });
    }
    const sources = this.sources();
    const totals = new Map<string, number>();
    for (const source of sources) {
      for (const d of source.publicDestinations) totals.set(d.endpoint, (totals.get(d.endpoint) ?? 0) + d.connects);
    }
    return accept({
      format: 'tcptracer',
      variant: this.headerVariant ?? this.rowVariant ?? 'bcc',
      timeUnit: this.header !== null ? (this.header.unit ?? this.timeUnit) : this.timeUnit,
      events: { connect: this.connects, accept: this.accepts, close: this.closes },
      lostEvents: this.lostEvents,
      skipped: this.skipped,
      skippedTotal: this.skippedTotal,
      cutLastLine: this.cutLastLine,
      spanSeconds: span(this.minNs, this.maxNs),
      sources,
      publicDestinations: rankDestinations(totals),
    });
  }

  /** This aggregator's result as one part of a file, after `lines` lines (see TcptracerPartial). */
  partial(lines: number): TcptracerPartial {
    const sources: PartialSource[] = [];
    for (const info of this.addressById) {
      for (const [netns, agg] of info.sources) {
        sources.push({
          address: info.id,
          netns,
          connects: agg.connects,
          pids: agg.pids.keys,
          pidCounts: agg.pids.counts,
          comms: agg.comms.keys,
          commCounts: agg.comms.counts,
          destinations: [...agg.destinations].flat(),
          minNs: agg.minNs,
          maxNs: agg.maxNs,
        });
      }
    }
    return {
      lines,
      startState: this.startState,
      endState: this.state(),
      dropped: this.dropped,
      rowVariant: this.rowVariant,
      connects: this.connects,
      accepts: this.accepts,
      closes: this.closes,
      lostEvents: this.lostEvents,
      skipped: this.skipped,
      skippedTotal: this.skippedTotal,
      cutLastLine: this.cutLastLine,
      minNs: this.minNs,
      maxNs: this.maxNs,
      nonBlankLines: this.nonBlankLines,
      firstNonBlank: this.firstNonBlank,
      firstToolError: this.firstToolError,
      firstTraceback: this.firstTraceback,
      addresses: this.addressById.map((a) => latin1(a.bytes)),
      comms: this.comms.items.map((c) => latin1(c.bytes)),
      sources,
    };
  }

  /**
   * Adds the part of the file that follows everything this aggregator read, `linesBefore` lines into the file, as if
   * its lines had been read here. Returns false, absorbing nothing, when that cannot be exact: the part was read from
   * another state than this one ends in, or it dropped a newcomer from a bounded list; the caller then feeds the
   * part's lines here instead.
   */
  absorb(part: TcptracerPartial, linesBefore: number): boolean {
    if (part.dropped || !sameState(part.startState, this.state())) return false;
    const addresses: Array<AddressInfo | undefined> = [];
    const address = (id: number): AddressInfo => {
      let info = addresses[id];
      if (info === undefined) {
        const bytes = Buffer.from(part.addresses[id]!, 'latin1');
        info = addresses[id] = this.address(bytes, 0, bytes.length);
      }
      return info;
    };
    // Interned in the order the part first saw them, as a sequential read would have (MAX_INTERNED_COMMS applies).
    const comms = part.comms.map((text) => {
      const bytes = Buffer.from(text, 'latin1');
      return this.comm(bytes, 0, bytes.length);
    });
    for (const p of part.sources) {
      const source = this.sourceOf(address(p.address), p.netns);
      source.connects += p.connects;
      // The part kept every newcomer (not dropped): appending its lists in order keeps the first ones overall.
      p.pids.forEach((pid, i) => tally(source.pids, pid, p.pidCounts[i]!));
      p.comms.forEach((index, i) => {
        const id = comms[index]!;
        if (id >= 0) tally(source.comms, id, p.commCounts[i]!);
      });
      for (let i = 0; i < p.destinations.length; i += 2) {
        const key = p.destinations[i]!;
        const daddr = address(Math.floor(key / 65536));
        if (!daddr.isPublic) continue;
        const connects = p.destinations[i + 1]!;
        const own = daddr.id * 65536 + (key % 65536);
        source.publicConnects += connects;
        source.destinations.set(own, (source.destinations.get(own) ?? 0) + connects);
      }
      source.minNs = Math.min(source.minNs, p.minNs);
      source.maxNs = Math.max(source.maxNs, p.maxNs);
    }
    this.connects += part.connects;
    this.accepts += part.accepts;
    this.closes += part.closes;
    this.lostEvents += part.lostEvents;
    for (const skipped of part.skipped) {
      if (this.skipped.length >= MAX_SKIPPED_LISTED) break;
      this.skipped.push({ line: skipped.line + linesBefore, reason: skipped.reason });
    }
    this.skippedTotal += part.skippedTotal;
    this.cutLastLine ||= part.cutLastLine;
    this.minNs = Math.min(this.minNs, part.minNs);
    this.maxNs = Math.max(this.maxNs, part.maxNs);
    this.nonBlankLines += part.nonBlankLines;
    const shifted = (first: { line: number; text: string } | null) =>
      first === null ? null : { line: first.line + linesBefore, text: first.text };
    this.firstNonBlank ??= shifted(part.firstNonBlank);
    this.firstToolError ??= shifted(part.firstToolError);
    if (part.firstTraceback !== null) this.firstTraceback ??= part.firstTraceback + linesBefore;
    this.rowVariant ??= part.rowVariant;
    this.setState(part.endState);
    return true;
  }

  /** Merges the per-raw-text aggregates by canonical address + NETNS (`[::ffff:a.b.c.d]` and `a.b.c.d` are one). */
  private sources(): TcptracerSource[] {
    interface Merged {
      saddr: string;
      netns: number | null;
      connects: number;
      publicConnects: number;
      pids: Map<number, number>;
      comms: Map<string, number>;
      destinations: Map<string, number>;
      minNs: number;
      maxNs: number;
    }
    const merged = new Map<string, Merged>();
    for (const info of this.addressById) {
      for (const [netns, agg] of info.sources) {
        const saddr = info.canonical!;
        const key = `${saddr} ${netns}`;
        let m = merged.get(key);
        if (m === undefined) {
          m = {
            saddr,
            netns: netns < 0 ? null : netns,
            connects: 0,
            publicConnects: 0,
            pids: new Map(),
            comms: new Map(),
            destinations: new Map(),
            minNs: Infinity,
            maxNs: -Infinity,
          };
          merged.set(key, m);
        }
        m.connects += agg.connects;
        m.publicConnects += agg.publicConnects;
        agg.pids.keys.forEach((pid, i) => m.pids.set(pid, (m.pids.get(pid) ?? 0) + agg.pids.counts[i]!));
        agg.comms.keys.forEach((id, i) => {
          const comm = this.comms.items[id]!.text;
          m.comms.set(comm, (m.comms.get(comm) ?? 0) + agg.comms.counts[i]!);
        });
        for (const [key, c] of agg.destinations) {
          const destination = this.addressById[Math.floor(key / 65536)]!;
          const endpoint = formatEndpoint(destination.canonical!, key % 65536);
          m.destinations.set(endpoint, (m.destinations.get(endpoint) ?? 0) + c);
        }
        m.minNs = Math.min(m.minNs, agg.minNs);
        m.maxNs = Math.max(m.maxNs, agg.maxNs);
      }
    }
    const list = [...merged.values()].sort((a, b) => {
      if (a.connects !== b.connects) return b.connects - a.connects;
      if (a.saddr !== b.saddr) return a.saddr < b.saddr ? -1 : 1;
      return (a.netns ?? -1) - (b.netns ?? -1);
    });
    return list.map((m) => ({
      saddr: m.saddr,
      netns: m.netns,
      connects: m.connects,
      publicConnects: m.publicConnects,
      pids: [...m.pids]
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, TOP_PIDS_AND_COMMS)
        .map(([pid]) => pid),
      comms: [...m.comms]
        .sort(
          byCountThenKey<[string, number]>(
            ([, c]) => c,
            ([k]) => k,
          ),
        )
        .slice(0, TOP_PIDS_AND_COMMS)
        .map(([comm]) => comm),
      publicDestinations: rankDestinations(m.destinations),
      spanSeconds: span(m.minNs, m.maxNs),
    }));
  }
}

function span(minNs: number, maxNs: number): number | null {
  return minNs <= maxNs ? (maxNs - minNs) / 1e9 : null;
}

function rankDestinations(counts: ReadonlyMap<string, number>): Array<{ endpoint: string; connects: number }> {
  return [...counts]
    .sort(
      byCountThenKey<[string, number]>(
        ([, c]) => c,
        ([k]) => k,
      ),
    )
    .map(([endpoint, connects]) => ({ endpoint, connects }));
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
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

/** One part of a file for a parallel parse (tcptracer-parallel.ts): it starts after a newline, at a known state. */
export interface TcptracerPartTask {
  readonly start: number;
  /** Null for the last part, which reads to the end of the file. */
  readonly end: number | null;
  readonly state: TcptracerState;
}

/** Reads one part of a file on its own, for `TcptracerAggregator.absorb` (this is what a worker thread runs). */
export function parseTcptracerPart(fd: number, task: TcptracerPartTask): TcptracerPartial {
  const aggregator = new TcptracerAggregator({ classifier: EVERY_ADDRESS_PUBLIC, state: task.state });
  const feeder = new LineFeeder(aggregator, 0, false);
  feedFileRange(feeder, fd, task.start, task.end);
  if (task.end === null) feeder.end();
  return aggregator.partial(feeder.lines);
}

/** UTF-8 text of a byte range (invalid sequences become U+FFFD, as a TextDecoder would make them). */
function decode(buf: Uint8Array, a: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + a, e - a).toString('utf8');
}

/** The `parse tcptracer` JSON contract (DESIGN.md): counts, skipped lines, connects per source, public destinations. */
export function toTcptracerDocument(capture: TcptracerCapture): TcptracerDocument {
  return {
    format: 'tcptracer',
    variant: capture.variant,
    events: { ...capture.events },
    lostEvents: capture.lostEvents,
    skipped: capture.skipped,
    connectsBySource: capture.sources.map((s) => ({
      saddr: s.saddr,
      netns: s.netns,
      connects: s.connects,
      publicConnects: s.publicConnects,
    })),
    publicDestinations: capture.publicDestinations,
  };
}
