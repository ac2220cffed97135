/**
 * The incremental aggregator: tokenizes each line, reads rows by the bcc / libbpf grammar (grammar.ts) into per-source
 * connect aggregates (capture.ts), classifies the other lines (banner, header, notices, tracebacks, tool errors) and
 * accounts for every skipped one (problems.ts); `finish()` builds the capture. For a parallel parse, `partial()` and
 * `absorb()` hand one part's aggregate to the aggregator of the parts before it (partial.ts).
 */
import { defaultClassifier, formatAddress, parseAddress } from '../../analysis/ip.js';
import type { AddressClassifier } from '../../analysis/ip.js';
import { accept } from '../types.js';
import type { Parsed, TcptracerCapture, TcptracerVariant } from '../types.js';
import { decode, hashBytes, InternTable, IntTable, latin1, sameBytes } from './byte-strings.js';
import { mergeSources, rankDestinations, sourceOf, span, tally } from './capture.js';
import type { AddressInfo, CommInfo } from './capture.js';
import {
  ACCEPT,
  BANNER,
  BCC_LOST,
  CLOSE,
  decimalAt,
  eventTypeAt,
  hasDot,
  isIpVersion,
  isToolError,
  LIBBPF_LOST,
  MAX_TOKENS,
  NONE,
  NOT_AN_EVENT,
  readHeader,
  strictIpv4At,
  TRACEBACK,
  U64_MICROSECONDS_IN_NS,
  uintAt,
  UNKNOWN,
  WRAPPED_NS,
} from './grammar.js';
import type { HeaderLayout } from './grammar.js';
import { INITIAL_STATE, sameState } from './partial.js';
import type { PartialSource, TcptracerPartial, TcptracerState } from './partial.js';
import { emptyInput, notACapture, SkippedLines } from './problems.js';

/** Distinct COMMs interned; later ones are counted as events but not named (bounds memory on hostile input). */
const MAX_INTERNED_COMMS = 10_000;

export interface AggregatorOptions {
  readonly classifier?: Pick<AddressClassifier, 'classify'>;
  /** The state at the first line (a part of a file after its start). */
  readonly state?: TcptracerState;
}

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
  private readonly skipped = new SkippedLines();
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
    const source = saddr.lastNetns === netns ? saddr.lastSource! : sourceOf(saddr, netns);
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
    if (!isToolError(text)) return false;
    this.firstToolError ??= { line: number, text };
    return true;
  }

  private tryHeader(text: string): boolean {
    const header = readHeader(text, this.bannerSeen);
    if (header === null) return false;
    this.header = header.layout;
    if (header.layout.unit !== null) this.timeUnit = header.layout.unit;
    this.headerVariant = header.variant;
    return true;
  }

  private skip(line: number, reason: string): void {
    this.skipped.add(line, reason);
  }

  finish(): Parsed<TcptracerCapture> {
    const events = this.connects + this.accepts + this.closes;
    if (this.nonBlankLines === 0) return emptyInput();
    if (events === 0 && this.header === null && !this.bannerSeen) {
      return notACapture(this.firstToolError, this.firstTraceback, this.firstNonBlank!);
    }
    const sources = mergeSources(this.addressById, this.comms.items);
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
      skipped: this.skipped.listed,
      skippedTotal: this.skipped.total,
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
      skipped: this.skipped.listed,
      skippedTotal: this.skipped.total,
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
      const source = sourceOf(address(p.address), p.netns);
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
    this.skipped.addPart(part.skipped, part.skippedTotal, linesBefore);
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
}
