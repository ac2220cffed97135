/**
 * The line grammars of bcc `tools/tcptracer.py` and libbpf-tools `tcptracer` (FORMATS.md sections 1 and 2): the byte
 * scanners that read a row's fields in place, the event types, the banner / notice / traceback / tool-error lines, and
 * the column header (its layout and which tool printed it). Pure functions of their input; the aggregator
 * (aggregator.ts) decides what each line counts as.
 */
import type { TcptracerVariant } from '../types.js';

/** Fields read per line; a line with more is not a row. */
export const MAX_TOKENS = 48;

/** Why a line that does not have an event's shape is skipped (when it is no other known kind of line). */
export const NOT_AN_EVENT = 'not a tcptracer line';

/** Event types, as numbers: `eventTypeAt` runs on every row. */
export const NONE = -1;
export const CONNECT = 0;
export const ACCEPT = 1;
export const CLOSE = 2;
export const UNKNOWN = 3;

/** libbpf-tools prints `(ts_us - start_ts) / 1e6` of two u64: an event older than the first one wraps to ~1.8e13 s. */
export const U64_MICROSECONDS_IN_NS = 2 ** 64 * 1000;
export const WRAPPED_NS = 1e22;

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
export const BCC_LOST = /^Possibly lost (\d+) samples?\s*$/;
export const LIBBPF_LOST = /^Lost (\d+) events? on CPU #\d+!?\s*$/;
export const BANNER = /^Tracing TCP established connections/;
export const TRACEBACK =
  /^(\^C)?(Traceback \(most recent call last\):| {2}File "| {4}\S|KeyboardInterrupt\s*$|During handling of the above exception|\^C\s*$)/;

/** Whether a line is the tool's own error text (bad option, missing binary or headers, BPF failures, exceptions). */
export function isToolError(text: string): boolean {
  return TOOL_ERRORS.some((re) => re.test(text));
}

/** A column header line: the layout of the rows under it, and which tool printed it. */
export interface Header {
  readonly layout: HeaderLayout;
  readonly variant: TcptracerVariant;
}

/**
 * The header a (trimmed) line is, or null when it is not one: a header names SADDR, DADDR and PID. `bannerSeen`: the
 * input had a bcc banner before this line.
 */
export function readHeader(text: string, bannerSeen: boolean): Header | null {
  const words = text.split(/\s+/).map((w) => w.toUpperCase());
  if (!words.includes('SADDR') || !words.includes('DADDR') || !words.includes('PID')) return null;
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
  // bcc prints a banner before its header; -v headers (TYPE, NETNS, TIME(ns)) are bcc's, UID is libbpf's.
  const variant: TcptracerVariant =
    words.includes('TYPE') || words.includes('NETNS') || unit === 'ns' || bannerSeen ? 'bcc' : 'libbpf';
  return { layout: { prefix, unit }, variant };
}

/** The event type of a TYPE token: bcc -v words, or the one-letter types of bcc without -v and libbpf-tools. */
export function eventTypeAt(buf: Uint8Array, a: number, e: number): number {
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
export function uintAt(buf: Uint8Array, a: number, e: number, maxDigits: number): number {
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
export function decimalAt(buf: Uint8Array, a: number, e: number, scale: number): number {
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

export function hasDot(buf: Uint8Array, a: number, e: number): boolean {
  for (let i = a; i < e; i++) if (buf[i] === 46) return true;
  return false;
}

export function isIpVersion(buf: Uint8Array, a: number, e: number): boolean {
  if (e - a !== 1) return false;
  const c = buf[a];
  return c === 52 || c === 54;
}

/**
 * The value of a dotted quad written as `parseAddress` accepts it (four decimal octets <= 255, no leading zeros), or
 * -1 for anything else, which then takes the general path.
 */
export function strictIpv4At(buf: Uint8Array, a: number, e: number): number {
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
