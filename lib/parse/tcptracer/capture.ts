/**
 * The connect aggregates kept while reading (per source address and NETNS: PIDs, COMMs, public destinations, time
 * span) and their projection into the capture: sources merged by canonical address and ranked, destinations ranked,
 * and `toTcptracerDocument`, the `parse tcptracer` JSON contract.
 */
import { formatEndpoint } from '../../analysis/ip.js';
import { byCountThenKey } from '../../analysis/counting.js';
import type { TcptracerCapture, TcptracerDocument, TcptracerSource } from '../types.js';
import type { Interned } from './byte-strings.js';

/** Distinct PIDs / COMMs tracked per source; later newcomers are not counted (the lists report the top 5). */
const MAX_TRACKED_PER_SOURCE = 64;
const TOP_PIDS_AND_COMMS = 5;

export interface AddressInfo extends Interned {
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

export interface CommInfo extends Interned {
  readonly id: number;
  readonly text: string;
}

export interface SourceAggregate {
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
export interface Tally {
  readonly keys: number[];
  readonly counts: number[];
}

/** Adds `by` to `key`'s count; false when the key is a newcomer beyond MAX_TRACKED_PER_SOURCE (not counted). */
export function tally(t: Tally, key: number, by: number): boolean {
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

/** The aggregate of `saddr`'s connects from `netns` (-1: the row has none), made on first use; remembered as the last. */
export function sourceOf(saddr: AddressInfo, netns: number): SourceAggregate {
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

/**
 * The capture's sources: the per-raw-text aggregates of `addresses` (by address id; COMMs by id in `comms`) merged by
 * canonical address + NETNS (`[::ffff:a.b.c.d]` and `a.b.c.d` are one), most connects first.
 */
export function mergeSources(addresses: readonly AddressInfo[], comms: readonly CommInfo[]): TcptracerSource[] {
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
  for (const info of addresses) {
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
        const comm = comms[id]!.text;
        m.comms.set(comm, (m.comms.get(comm) ?? 0) + agg.comms.counts[i]!);
      });
      for (const [key, c] of agg.destinations) {
        const destination = addresses[Math.floor(key / 65536)]!;
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

export function span(minNs: number, maxNs: number): number | null {
  return minNs <= maxNs ? (maxNs - minNs) / 1e9 : null;
}

export function rankDestinations(counts: ReadonlyMap<string, number>): Array<{ endpoint: string; connects: number }> {
  return [...counts]
    .sort(
      byCountThenKey<[string, number]>(
        ([, c]) => c,
        ([k]) => k,
      ),
    )
    .map(([endpoint, connects]) => ({ endpoint, connects }));
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
