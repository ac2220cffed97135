/**
 * What a parallel parse (../tcptracer-parallel.ts) carries between the parts of a file: the reading state a part
 * starts from and ends in, one part's aggregate as plain data (`TcptracerPartial`, made by
 * `TcptracerAggregator.partial` and merged by `absorb`), and the task a worker is given.
 */
import type { AddressClassifier } from '../../analysis/ip.js';
import type { SkippedLine, TcptracerVariant } from '../types.js';
import type { HeaderLayout } from './grammar.js';

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

export function sameState(a: TcptracerState, b: TcptracerState): boolean {
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

export interface PartialSource {
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

/** One part of a file for a parallel parse (tcptracer-parallel.ts): it starts after a newline, at a known state. */
export interface TcptracerPartTask {
  readonly start: number;
  /** Null for the last part, which reads to the end of the file. */
  readonly end: number | null;
  readonly state: TcptracerState;
}
