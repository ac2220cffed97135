/**
 * Ranking of the node's pods by how much they press on the node's SNAT ports.
 *
 * SNAT ports are consumed per (node, destination IP, destination port): what exhausts a node is many concurrent
 * flows from it to ONE public IP:port, measured against the node's AllocatedSnatPorts. So a pod holding 870 flows to
 * one IP:port outranks a pod holding 900 flows spread over 300 destinations (3 each, which share ports). Inbound
 * connections (clients connecting to the pod's listening ports) never count: their replies do not use SNAT.
 *
 * Every score comes from `scoreOf` with the weights of `SCORE_WEIGHTS`, and every ranking carries its terms.
 */
import type { Socket } from '../parse/sockets.js';
import type { TcpState, TcptracerSource } from '../parse/types.js';
import type { DataQualityNote, Destination, EvidenceSource, PodRanking } from '../report/model.js';
import { byCountThenKey } from './counting.js';
import { canonicalAddress, splitHostPort } from './ip.js';
import { describeSource, listSome } from './attribute.js';
import type { AttributedSource } from './attribute.js';
import { podKey } from './evidence.js';
import type { NodeEvidence, PodEvidence, SocketCensus } from './evidence.js';

/**
 * The score is an estimate in "ports": each term is a count converted to how strongly it points at this pod as the
 * one exhausting the node. The node's allocated ports are the same denominator for every pod of the node, so they
 * would not change the order; shares of allocated ports appear in the notes and findings instead.
 */
export const SCORE_WEIGHTS = {
  /** Concurrent SNAT-holding flows to the pod's busiest public IP:port: the per-destination limit is what runs out. */
  peakDestinationFlows: 1,
  /** SYN_SENT to public destinations: connects already waiting for a port or an answer, the mark of exhaustion. */
  synSentPublic: 2,
  /**
   * Public connects per second in the capture. Each short-lived connection keeps its port busy for a while after it
   * closes, so a sustained rate holds about rate x seconds ports (Little's law); 4 seconds is a heuristic, not a
   * load-balancer constant. tcptracer only sees connects that succeeded, so this is a floor.
   */
  connectsPerSecond: 4,
  /** All outbound public SNAT-holding flows, any destination: spread flows reuse ports, hence the low weight. */
  publicOutboundFlows: 0.1,
} as const;

export type ScoreTerm = keyof typeof SCORE_WEIGHTS;

/** States that hold a SNAT port toward the remote. LISTEN has no remote; SYN_RECV is inbound by definition. */
const NOT_SNAT_HOLDING: ReadonlySet<TcpState> = new Set<TcpState>(['LISTEN', 'SYN_RECV']);
/** States after a close that keep the port until the load balancer reclaims it. */
const CLOSING: ReadonlySet<TcpState> = new Set<TcpState>([
  'TIME_WAIT',
  'CLOSE_WAIT',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'LAST_ACK',
  'CLOSING',
]);

export const TOP_POD_DESTINATIONS = 5;
export const TOP_NODE_DESTINATIONS = 20;

/** Numbers of one pod (or pseudo-pod), from its socket censuses and its capture sources. */
export interface PodMetrics {
  readonly established: number;
  readonly establishedPublic: number;
  readonly establishedPublicOutbound: number;
  readonly synSentPublic: number;
  readonly closingPublic: number;
  /** Outbound public flows in any SNAT-holding state. */
  readonly publicOutboundFlows: number;
  /** Per destination IP:port, sorted by flows desc then endpoint. */
  readonly destinations: Array<{ ip: string; port: number; flows: number }>;
  /** Sockets whose address the tool may have cut (net-tools without -W). */
  readonly suspectSockets: number;
  readonly publicConnects: number;
  readonly connectsPerSecond: number | null;
}

export interface ScoreResult {
  readonly score: number;
  readonly evidence: PodRanking['evidence'];
}

export function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return 0;
  const factor = 10 ** digits;
  const rounded = Math.round(value * factor) / factor;
  return Number.isFinite(rounded) ? rounded : value;
}

/** flows / allocated ports, or null when the allocation is unknown. */
export function shareOf(flows: number, allocatedPorts: number | null): number | null {
  return allocatedPorts !== null && allocatedPorts > 0 ? round(flows / allocatedPorts, 4) : null;
}

export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

/** `1 destination`, `2 destinations`. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

const isOutbound = (socket: Socket): boolean => socket.direction !== 'inbound';

/** Remote endpoint text -> canonical IP and port. */
function endpointParts(endpoint: string): { ip: string; port: number } | null {
  const parts = splitHostPort(endpoint);
  if (!parts) return null;
  const ip = canonicalAddress(parts.host);
  return ip === null ? null : { ip, port: parts.port };
}

/** The census part of the metrics, from every census of the pod together. */
export function censusMetrics(
  censuses: readonly SocketCensus[],
): Omit<PodMetrics, 'publicConnects' | 'connectsPerSecond'> {
  let established = 0;
  let establishedPublic = 0;
  let establishedPublicOutbound = 0;
  let synSentPublic = 0;
  let closingPublic = 0;
  let publicOutboundFlows = 0;
  let suspectSockets = 0;
  const flows = new Map<string, { ip: string; port: number; flows: number }>();
  for (const census of censuses) {
    for (const socket of census.document.sockets) {
      if (socket.suspect) suspectSockets += 1;
      if (socket.state === 'ESTABLISHED') {
        established += 1;
        if (socket.remotePublic) establishedPublic += 1;
        if (socket.remotePublic && isOutbound(socket)) establishedPublicOutbound += 1;
      }
      if (!socket.remotePublic || NOT_SNAT_HOLDING.has(socket.state)) continue;
      // A SYN_SENT socket is a client whatever the port heuristics say.
      if (socket.state === 'SYN_SENT') synSentPublic += 1;
      else if (!isOutbound(socket)) continue;
      if (CLOSING.has(socket.state)) closingPublic += 1;
      const parts = endpointParts(socket.remote);
      if (!parts) continue;
      publicOutboundFlows += 1;
      const key = socket.remote;
      const entry = flows.get(key) ?? { ...parts, flows: 0 };
      entry.flows += 1;
      flows.set(key, entry);
    }
  }
  const destinations = [...flows]
    .sort(
      byCountThenKey(
        ([, d]) => d.flows,
        ([k]) => k,
      ),
    )
    .map(([, d]) => ({ ip: d.ip, port: d.port, flows: d.flows }));
  return {
    established,
    establishedPublic,
    establishedPublicOutbound,
    synSentPublic,
    closingPublic,
    publicOutboundFlows,
    destinations,
    suspectSockets,
  };
}

/** The one scoring function. */
export function scoreOf(metrics: PodMetrics, allocatedPorts: number | null): ScoreResult {
  const peak = metrics.destinations[0];
  const peakFlows = peak?.flows ?? 0;
  const share = shareOf(peakFlows, allocatedPorts);
  const peakNote = peak
    ? `${peakFlows} flows to ${endpointText(peak.ip, peak.port)}` +
      (share === null ? ' (allocated ports unknown)' : ` = ${percent(share)} of ${allocatedPorts} allocated ports`)
    : 'no outbound public flows in the socket census';
  const rate = metrics.connectsPerSecond;
  const terms: Array<{ term: ScoreTerm; value: number; note: string }> = [
    { term: 'peakDestinationFlows', value: peakFlows, note: peakNote },
    {
      term: 'synSentPublic',
      value: metrics.synSentPublic,
      note: `${metrics.synSentPublic} connects to public destinations in SYN_SENT`,
    },
    {
      term: 'connectsPerSecond',
      value: rate ?? 0,
      note:
        rate === null
          ? 'no capture rate for this pod'
          : `${metrics.publicConnects} public connects in the capture = ${rate}/s`,
    },
    {
      term: 'publicOutboundFlows',
      value: metrics.publicOutboundFlows,
      note: `${metrics.publicOutboundFlows} outbound public flows to ${plural(metrics.destinations.length, 'destination')}`,
    },
  ];
  const evidence = terms.map(({ term, value, note }) => {
    const weight = SCORE_WEIGHTS[term];
    return { term, value, weight, contribution: round(value * weight, 2), note };
  });
  return {
    score: round(
      evidence.reduce((sum, t) => sum + t.contribution, 0),
      2,
    ),
    evidence,
  };
}

export function endpointText(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** A row of the ranking before it is scored: a pod, the node's own namespace, or an unattributed capture source. */
interface Subject {
  readonly kind: 'pod' | 'host' | 'unattributed';
  readonly namespace: string;
  readonly name: string;
  readonly owner: string | null;
  readonly hostNetwork: boolean;
  readonly ips: string[];
  readonly netns: number | null;
  readonly censuses: SocketCensus[];
  readonly sources: TcptracerSource[];
  readonly censusSource: EvidenceSource | null;
}

export const PSEUDO_NAMESPACE = '(node)';
export const HOST_NAME = 'host network';

export interface RankedPod {
  readonly kind: Subject['kind'];
  readonly ranking: PodRanking;
  readonly metrics: PodMetrics;
  readonly hasCensus: boolean;
}

export interface RankingResult {
  readonly pods: RankedPod[];
  readonly destinations: Array<{
    ip: string;
    port: number;
    flows: number;
    pods: number;
    shareOfAllocated: number | null;
  }>;
  readonly notes: DataQualityNote[];
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byPodKey = (a: PodEvidence, b: PodEvidence): number => compareText(podKey(a), podKey(b));

function pidsAndComms(sources: readonly TcptracerSource[]): string {
  const pids = [...new Set(sources.flatMap((s) => s.pids))].sort((a, b) => a - b);
  const comms = [...new Set(sources.flatMap((s) => s.comms))].sort(compareText);
  const parts: string[] = [];
  if (pids.length > 0) parts.push(`pids ${listSome(pids.map(String), 8, ', ')}`);
  if (comms.length > 0) parts.push(`comms ${listSome(comms, 8, ', ')}`);
  return parts.join('; ');
}

function collectSubjects(
  evidence: NodeEvidence,
  attributed: readonly AttributedSource[],
): { subjects: Subject[]; notes: DataQualityNote[] } {
  const notes: DataQualityNote[] = [];
  const pods = [...evidence.pods].sort(byPodKey);
  const known = new Set(pods.map(podKey));
  // A census of a pod the metadata does not know still counts: the pod exists, we just know less about it.
  for (const census of [...evidence.censuses].sort((a, b) => compareText(podKey(a), podKey(b)))) {
    if (!known.has(podKey(census))) {
      known.add(podKey(census));
      pods.push({
        namespace: census.namespace,
        name: census.name,
        uid: null,
        ips: [],
        hostNetwork: false,
        owner: null,
        netns: null,
      });
    }
  }
  pods.sort(byPodKey);

  const censusesOf = new Map<string, SocketCensus[]>();
  for (const census of evidence.censuses) {
    const list = censusesOf.get(podKey(census)) ?? [];
    list.push(census);
    censusesOf.set(podKey(census), list);
  }
  for (const list of censusesOf.values()) list.sort((a, b) => compareText(a.origin, b.origin));
  const sourcesOf = new Map<string, TcptracerSource[]>();
  const hostSources: TcptracerSource[] = [];
  const unattributed: TcptracerSource[] = [];
  for (const { source, attribution } of attributed) {
    if (attribution.kind === 'host') hostSources.push(source);
    else if (attribution.kind === 'unattributed') unattributed.push(source);
    else {
      const key = podKey(attribution);
      sourcesOf.set(key, [...(sourcesOf.get(key) ?? []), source]);
    }
  }

  const subjects: Subject[] = [];
  const hostNetworkPods = pods.filter((p) => p.hostNetwork);
  for (const pod of pods) {
    if (pod.hostNetwork) continue;
    const censuses = censusesOf.get(podKey(pod)) ?? [];
    subjects.push({
      kind: 'pod',
      namespace: pod.namespace,
      name: pod.name,
      owner: pod.owner,
      hostNetwork: false,
      ips: [...pod.ips],
      netns: pod.netns,
      censuses,
      sources: sourcesOf.get(podKey(pod)) ?? [],
      censusSource: censuses[0]?.source ?? null,
    });
  }

  // hostNetwork pods all see the node's one namespace: count it once, as the host, never once per pod.
  const hostNetworkCensuses = hostNetworkPods.flatMap((p) => censusesOf.get(podKey(p)) ?? []);
  let hostCensuses: SocketCensus[] = [...evidence.hostCensuses].sort((a, b) => compareText(a.origin, b.origin));
  const surveyedHostPod = hostNetworkPods.find((p) => (censusesOf.get(podKey(p)) ?? []).length > 0);
  if (hostCensuses.length === 0 && surveyedHostPod) hostCensuses = censusesOf.get(podKey(surveyedHostPod)) ?? [];
  const folded = hostNetworkCensuses.filter((c) => !hostCensuses.includes(c));
  if (folded.length > 0) {
    notes.push({
      source: 'ranking',
      text:
        `censuses of hostNetwork pods show the node's own namespace and were not counted again: ` +
        listSome(folded.map((c) => c.origin)),
      count: folded.length,
    });
  }
  if (hostCensuses.length > 0 || hostSources.length > 0) {
    const parts = ["the node's own network namespace"];
    if (hostNetworkPods.length > 0) parts.push(`hostNetwork pods ${listSome(hostNetworkPods.map(podKey), 8, ', ')}`);
    const seen = pidsAndComms(hostSources);
    if (seen) parts.push(seen);
    subjects.push({
      kind: 'host',
      namespace: PSEUDO_NAMESPACE,
      name: HOST_NAME,
      owner: parts.join('; '),
      hostNetwork: true,
      ips: evidence.node.ip === null ? [] : [evidence.node.ip],
      netns: evidence.netns.find((e) => e.owner.kind === 'host')?.netns ?? null,
      censuses: hostCensuses,
      sources: hostSources,
      censusSource: hostCensuses[0]?.source ?? null,
    });
  }

  for (const source of unattributed) {
    const seen = pidsAndComms([source]);
    subjects.push({
      kind: 'unattributed',
      namespace: PSEUDO_NAMESPACE,
      name: `unattributed ${describeSource(source)}`,
      owner: `no pod matches this capture source${seen ? `; ${seen}` : ''}`,
      hostNetwork: false,
      ips: [source.saddr],
      netns: source.netns,
      censuses: [],
      sources: [source],
      censusSource: null,
    });
  }
  return { subjects, notes };
}

/** Below this a capture is too short to turn connect counts into a rate (one event has a span of 0). */
export const MIN_CAPTURE_SECONDS = 1;

/** Seconds the capture covered: the configured window when known, else the span of its events. */
export function captureSeconds(evidence: NodeEvidence): number | null {
  const seconds = evidence.capture.durationSeconds ?? evidence.capture.capture?.spanSeconds ?? null;
  return seconds !== null && Number.isFinite(seconds) && seconds >= MIN_CAPTURE_SECONDS ? seconds : null;
}

/** Ranks every pod of the node, the host namespace and unattributed sources; deterministic for any input order. */
export function rankPods(evidence: NodeEvidence, attributed: readonly AttributedSource[]): RankingResult {
  const allocated = evidence.snat.allocatedPorts;
  const seconds = captureSeconds(evidence);
  const { subjects, notes } = collectSubjects(evidence, attributed);

  const scored = subjects.map((subject) => {
    const census = censusMetrics(subject.censuses);
    const publicConnects = subject.sources.reduce((sum, s) => sum + s.publicConnects, 0);
    const connectsPerSecond =
      subject.sources.length > 0 && seconds !== null ? round(publicConnects / seconds, 2) : null;
    const metrics: PodMetrics = { ...census, publicConnects, connectsPerSecond };
    const { score, evidence: terms } = scoreOf(metrics, allocated);
    const source: EvidenceSource = subject.censusSource ?? (subject.sources.length > 0 ? 'capture-only' : 'none');
    return { subject, metrics, score, terms, source };
  });
  scored.sort(
    (a, b) =>
      b.score - a.score ||
      compareText(a.subject.namespace, b.subject.namespace) ||
      compareText(a.subject.name, b.subject.name),
  );

  const pods = scored.map(({ subject, metrics, score, terms, source }, index): RankedPod => {
    const topDestinations: Destination[] = metrics.destinations.slice(0, TOP_POD_DESTINATIONS).map((d) => ({
      ip: d.ip,
      port: d.port,
      flows: d.flows,
      shareOfAllocated: shareOf(d.flows, allocated),
    }));
    return {
      kind: subject.kind,
      hasCensus: subject.censuses.length > 0,
      metrics,
      ranking: {
        rank: index + 1,
        namespace: subject.namespace,
        name: subject.name,
        owner: subject.owner,
        hostNetwork: subject.hostNetwork,
        source,
        ips: subject.ips,
        netns: subject.netns,
        established: metrics.established,
        establishedPublic: metrics.establishedPublic,
        establishedPublicOutbound: metrics.establishedPublicOutbound,
        synSentPublic: metrics.synSentPublic,
        closingPublic: metrics.closingPublic,
        connectsPerSecond: metrics.connectsPerSecond,
        publicConnects: metrics.publicConnects,
        topDestinations,
        score,
        evidence: terms,
      },
    };
  });

  return { pods, destinations: nodeDestinations(pods, allocated), notes };
}

function nodeDestinations(pods: readonly RankedPod[], allocated: number | null): RankingResult['destinations'] {
  const totals = new Map<string, { ip: string; port: number; flows: number; pods: number }>();
  for (const pod of pods) {
    for (const d of pod.metrics.destinations) {
      const key = endpointText(d.ip, d.port);
      const entry = totals.get(key) ?? { ip: d.ip, port: d.port, flows: 0, pods: 0 };
      entry.flows += d.flows;
      entry.pods += 1;
      totals.set(key, entry);
    }
  }
  return [...totals]
    .sort(
      byCountThenKey(
        ([, d]) => d.flows,
        ([k]) => k,
      ),
    )
    .slice(0, TOP_NODE_DESTINATIONS)
    .map(([, d]) => ({ ...d, shareOfAllocated: shareOf(d.flows, allocated) }));
}
