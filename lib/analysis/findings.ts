/**
 * Findings: what the ranking means, in sentences with numbers. Signals are computed once (`signalsOf`) and shared with
 * the recommendations, so a recommendation always has the finding that motivates it.
 */
import type { DataQualityNote, Finding } from '../report/model.js';
import { listSome } from './attribute.js';
import type { AttributionResult } from './attribute.js';
import type { NodeEvidence } from './evidence.js';
import { endpointText, percent, plural, round, shareOf } from './rank.js';
import type { RankedPod, RankingResult } from './rank.js';

/** Every threshold a finding depends on, in one place. */
export const FINDING_THRESHOLDS = {
  /** A pod holding this share of the allocated ports toward one destination is critical on its own. */
  culpritCriticalShare: 0.5,
  /** SYN_SENT public sockets at one instant: a few are normal connect latency, this many is a pile-up. */
  synSentWarning: 5,
  synSentCritical: 50,
  /** Public connects per second from which churn is worth a finding. */
  churnMinPerSecond: 2,
  /** Average connection lifetime (established / connect rate, Little's law) below which reuse is missing. */
  churnMaxLifetimeSeconds: 10,
  /** Node-wide pressure: at least this many pods hold public flows and the top one holds less than this share. */
  nodeWideMinPods: 3,
  nodeWideTopShareMax: 0.5,
  /** A destination shared by several pods is worth a finding at this share of the allocated ports... */
  sharedDestinationMinShare: 0.25,
  /** ...or at this many flows when the allocation is unknown. */
  sharedDestinationMinFlows: 100,
  sharedDestinationMaxFindings: 3,
  /** UsedSnatPorts / AllocatedSnatPorts levels. */
  usedWarning: 0.75,
  usedCritical: 0.9,
} as const;

const key = (pod: RankedPod): string => `${pod.ranking.namespace}/${pod.ranking.name}`;

/** Pods and the host namespace (what a census can say something about), not unattributed capture sources. */
const surveyed = (pods: readonly RankedPod[]): RankedPod[] => pods.filter((p) => p.kind !== 'unattributed');

export interface Signals {
  /** The ranking the signals were read from. */
  readonly pods: RankedPod[];
  readonly allocatedPorts: number | null;
  /** The first-ranked row when it has any public outbound evidence. */
  readonly culprit: RankedPod | null;
  readonly culpritShare: number | null;
  readonly synSentPods: RankedPod[];
  readonly churnPods: Array<{ pod: RankedPod; lifetimeSeconds: number | null }>;
  readonly nodeWide: { pods: number; flows: number; topShare: number } | null;
  readonly sharedDestinations: RankingResult['destinations'];
  readonly usedShare: number | null;
  readonly closingPods: RankedPod[];
  readonly inbound: {
    readonly articleCount: number;
    readonly inboundCount: number;
    readonly inboundOnlyPods: RankedPod[];
    /** The pod the article's rule would have named, when it differs from the ranking's culprit. */
    readonly articlePick: RankedPod | null;
  };
  /** Any sign that the node is short of ports (drives the capacity recommendations). */
  readonly pressure: boolean;
}

export function signalsOf(evidence: NodeEvidence, ranking: RankingResult): Signals {
  const t = FINDING_THRESHOLDS;
  const allocatedPorts = evidence.snat.allocatedPorts;
  const top = ranking.pods[0];
  const culprit = top && top.ranking.score > 0 ? top : null;
  const culpritShare = culprit ? shareOf(culprit.metrics.destinations[0]?.flows ?? 0, allocatedPorts) : null;

  const synSentPods = ranking.pods.filter((p) => p.metrics.synSentPublic >= t.synSentWarning);
  const churnPods = ranking.pods.flatMap((pod): Array<{ pod: RankedPod; lifetimeSeconds: number | null }> => {
    const rate = pod.metrics.connectsPerSecond;
    if (rate === null || rate < t.churnMinPerSecond) return [];
    if (!pod.hasCensus) return [{ pod, lifetimeSeconds: null }];
    const lifetimeSeconds = round(pod.metrics.establishedPublicOutbound / rate, 2);
    return lifetimeSeconds < t.churnMaxLifetimeSeconds ? [{ pod, lifetimeSeconds }] : [];
  });

  const holders = surveyed(ranking.pods).filter((p) => p.metrics.publicOutboundFlows > 0);
  const nodeFlows = holders.reduce((sum, p) => sum + p.metrics.publicOutboundFlows, 0);
  const topFlows = Math.max(0, ...holders.map((p) => p.metrics.publicOutboundFlows));
  const topShare = nodeFlows > 0 ? round(topFlows / nodeFlows, 4) : 0;
  const nodeWide =
    holders.length >= t.nodeWideMinPods && topShare < t.nodeWideTopShareMax
      ? { pods: holders.length, flows: nodeFlows, topShare }
      : null;

  const sharedDestinations = ranking.destinations
    .filter(
      (d) =>
        d.pods >= 2 &&
        (d.shareOfAllocated === null
          ? d.flows >= t.sharedDestinationMinFlows
          : d.shareOfAllocated >= t.sharedDestinationMinShare),
    )
    .slice(0, t.sharedDestinationMaxFindings);

  const { usedPorts } = evidence.snat;
  const usedShare = usedPorts !== null ? shareOf(usedPorts, allocatedPorts) : null;

  const censused = surveyed(ranking.pods).filter((p) => p.hasCensus);
  const articleCount = censused.reduce((sum, p) => sum + p.metrics.establishedPublic, 0);
  const inboundCount = censused.reduce(
    (sum, p) => sum + p.metrics.establishedPublic - p.metrics.establishedPublicOutbound,
    0,
  );
  const inboundOnlyPods = censused.filter(
    (p) => p.metrics.establishedPublic > 0 && p.metrics.establishedPublicOutbound === 0,
  );
  // The article ranks by ESTABLISHED-to-public alone; ties resolve like the ranking (by name).
  const articleTop = [...censused].sort(
    (a, b) => b.metrics.establishedPublic - a.metrics.establishedPublic || a.ranking.rank - b.ranking.rank,
  )[0];
  const articlePick =
    articleTop && articleTop.metrics.establishedPublic > 0 && articleTop !== culprit ? articleTop : null;

  const pressure =
    (culpritShare !== null && culpritShare >= t.culpritCriticalShare) ||
    synSentPods.length > 0 ||
    nodeWide !== null ||
    sharedDestinations.length > 0 ||
    (usedShare !== null && usedShare >= t.usedWarning) ||
    (evidence.snat.failedConnections ?? 0) > 0;

  return {
    pods: ranking.pods,
    allocatedPorts,
    culprit,
    culpritShare,
    synSentPods,
    churnPods,
    nodeWide,
    sharedDestinations,
    usedShare,
    closingPods: ranking.pods.filter((p) => p.metrics.closingPublic > 0),
    inbound: { articleCount, inboundCount, inboundOnlyPods, articlePick },
    pressure,
  };
}

function culpritFinding(s: Signals): Finding {
  const t = FINDING_THRESHOLDS;
  const pod = s.culprit;
  if (!pod) {
    return {
      severity: 'info',
      text:
        'No pod holds outbound public flows or made public connects in this evidence: nothing on this node was using ' +
        'SNAT ports when it was captured (the pressure may have passed; capture again while the alert fires).',
      evidence: { pods: 0 },
    };
  }
  const r = pod.ranking;
  const peak = pod.metrics.destinations[0];
  const owner = r.owner && pod.kind === 'pod' ? ` (${r.owner})` : '';
  if (!peak) {
    return {
      severity: 'warning',
      text:
        `Pod ${key(pod)}${owner} made the most public connects: ${r.publicConnects} in the capture ` +
        `(${r.connectsPerSecond ?? '?'}/s); there is no socket census of it to count the ports it holds.`,
      evidence: {
        pod: key(pod),
        publicConnects: r.publicConnects,
        connectsPerSecond: r.connectsPerSecond,
        score: r.score,
      },
    };
  }
  const destination = endpointText(peak.ip, peak.port);
  const allocation =
    s.culpritShare === null || s.allocatedPorts === null
      ? `${peak.flows} SNAT ports toward ${destination} (allocated ports unknown: put allocatedPorts in node.json or pass --allocated-ports)`
      : `${peak.flows} of ${s.allocatedPorts} allocated SNAT ports toward ${destination} (${percent(s.culpritShare)})`;
  const extra: string[] = [];
  if (r.synSentPublic > 0) extra.push(`${r.synSentPublic} of its public connects are stuck in SYN_SENT`);
  if (r.connectsPerSecond !== null) extra.push(`it opens ${r.connectsPerSecond} public connects/s`);
  return {
    severity: s.culpritShare !== null && s.culpritShare >= t.culpritCriticalShare ? 'critical' : 'warning',
    text: `Pod ${key(pod)}${owner} holds ${allocation}${extra.length > 0 ? `; ${extra.join('; ')}` : ''}.`,
    evidence: {
      pod: key(pod),
      owner: r.owner,
      destination,
      flows: peak.flows,
      allocatedPorts: s.allocatedPorts,
      shareOfAllocated: s.culpritShare,
      synSentPublic: r.synSentPublic,
      score: r.score,
    },
  };
}

export function buildFindings(evidence: NodeEvidence, ranking: RankingResult, signals: Signals): Finding[] {
  const t = FINDING_THRESHOLDS;
  const s = signals;
  const findings: Finding[] = [culpritFinding(s)];

  const { allocatedPorts, usedPorts, failedConnections } = evidence.snat;
  if (failedConnections !== null && failedConnections > 0) {
    findings.push({
      severity: 'critical',
      text: `Azure Load Balancer counted ${failedConnections} failed SNAT connections for this node: it is out of ports now.`,
      evidence: { failedConnections },
    });
  }
  if (s.usedShare !== null && usedPorts !== null && allocatedPorts !== null) {
    findings.push({
      severity: s.usedShare >= t.usedCritical ? 'critical' : s.usedShare >= t.usedWarning ? 'warning' : 'info',
      text: `The node uses ${usedPorts} of its ${allocatedPorts} allocated SNAT ports (${percent(s.usedShare)}).`,
      evidence: { usedPorts, allocatedPorts, usedShare: s.usedShare },
    });
  }

  for (const pod of s.synSentPods) {
    const n = pod.metrics.synSentPublic;
    findings.push({
      severity: n >= t.synSentCritical ? 'critical' : 'warning',
      text:
        `${n} connects from ${key(pod)} to public destinations are stuck in SYN_SENT: they wait for a SNAT port or an ` +
        'answer, the mark of exhaustion (tcptracer never shows these: it only sees connects that succeed).',
      evidence: { pod: key(pod), synSentPublic: n },
    });
  }

  for (const { pod, lifetimeSeconds } of s.churnPods) {
    const r = pod.ranking;
    const text =
      lifetimeSeconds === null
        ? `${key(pod)} opens ${r.connectsPerSecond} public connects/s (${r.publicConnects} in the capture); no socket ` +
          'census of it says how many it keeps open.'
        : `${key(pod)} opens ${r.connectsPerSecond} public connects/s but holds only ${r.establishedPublicOutbound} ` +
          `established public connections: each lives about ${lifetimeSeconds} s (Little's law), a sign of no ` +
          `keep-alive or no connection pooling; ${r.closingPublic} closed ones still hold ports (TIME_WAIT and friends).`;
    findings.push({
      severity: lifetimeSeconds === null ? 'info' : 'warning',
      text,
      evidence: {
        pod: key(pod),
        connectsPerSecond: r.connectsPerSecond,
        publicConnects: r.publicConnects,
        establishedPublicOutbound: r.establishedPublicOutbound,
        averageLifetimeSeconds: lifetimeSeconds,
        closingPublic: r.closingPublic,
      },
    });
  }

  if (s.nodeWide) {
    const { pods, flows, topShare } = s.nodeWide;
    findings.push({
      severity: s.usedShare !== null && s.usedShare >= t.usedCritical ? 'critical' : 'warning',
      text:
        `Pressure is spread over the node: ${pods} pods hold ${flows} outbound public flows, the largest only ` +
        `${percent(topShare)} of them; fixing one pod will not be enough.`,
      evidence: { pods, flows, topShare },
    });
  }

  for (const d of s.sharedDestinations) {
    const destination = endpointText(d.ip, d.port);
    const share = d.shareOfAllocated === null ? '' : ` (${percent(d.shareOfAllocated)} of ${allocatedPorts} allocated)`;
    findings.push({
      severity: d.shareOfAllocated !== null && d.shareOfAllocated >= t.culpritCriticalShare ? 'critical' : 'warning',
      text:
        `${destination} receives ${d.flows} flows from ${d.pods} pods${share}: ports are counted per destination, so ` +
        'together they can exhaust it even when no single pod does.',
      evidence: { destination, flows: d.flows, pods: d.pods, shareOfAllocated: d.shareOfAllocated },
    });
  }

  const { articleCount, inboundCount, inboundOnlyPods, articlePick } = s.inbound;
  if (inboundCount > 0) {
    const only =
      inboundOnlyPods.length > 0
        ? ` Inbound only: ${listSome(inboundOnlyPods.map((p) => `${key(p)} (${p.metrics.establishedPublic})`))}.`
        : '';
    const pick = articlePick
      ? ` The article's rule would have named ${key(articlePick)} (${articlePick.metrics.establishedPublic} ESTABLISHED ` +
        `public, ${articlePick.metrics.establishedPublicOutbound} outbound).`
      : '';
    findings.push({
      severity: 'info',
      text:
        `The article's rule (ESTABLISHED to a public IP) counts ${articleCount} connections on this node; ` +
        `${inboundCount} of them (${percent(inboundCount / articleCount)}) are inbound (clients connecting to ` +
        `listening ports), use no SNAT port and were excluded.${only}${pick}`,
      evidence: {
        articleCount,
        inboundExcluded: inboundCount,
        inboundOnlyPods: inboundOnlyPods.length,
        articlePick: articlePick ? key(articlePick) : null,
      },
    });
  }

  const capture = evidence.capture;
  if (capture.capture === null) {
    findings.push({
      severity: 'info',
      text:
        capture.status === 'failed'
          ? 'The tcptracer capture failed: the ranking rests on socket censuses only (no connect rates).'
          : 'No tcptracer capture: the ranking rests on socket censuses only (no connect rates).',
      evidence: { captureStatus: capture.status },
    });
  } else if (capture.status === 'truncated' || capture.capture.lostEvents > 0) {
    // A cut last line alone is how `timeout` ends every capture: one line, noted in data quality, not a finding.
    const why: string[] = [];
    if (capture.status === 'truncated') why.push('it stopped early');
    if (capture.capture.lostEvents > 0) why.push(`${plural(capture.capture.lostEvents, 'event')} lost`);
    findings.push({
      severity: 'info',
      text: `The tcptracer capture is incomplete (${why.join(', ')}): connect rates are a floor.`,
      evidence: { captureStatus: capture.status, lostEvents: capture.capture.lostEvents },
    });
  }

  const suspect = ranking.pods.filter((p) => p.metrics.suspectSockets > 0);
  if (suspect.length > 0) {
    const total = suspect.reduce((sum, p) => sum + p.metrics.suspectSockets, 0);
    findings.push({
      severity: 'warning',
      text:
        `${plural(total, 'address', 'addresses')} in the census of ${listSome(suspect.map(key))} may be cut: net-tools netstat without -W ` +
        'prints at most 23 characters (::ffff:52.239.170.100:443 shows as ::ffff:52.239.170.1:443); rerun with ' +
        '`netstat -W`, `ss -tnp` or `cat /proc/net/tcp6` before trusting those destinations.',
      evidence: { suspectAddresses: total, pods: suspect.length },
    });
  }
  return findings;
}

/** Data-quality notes: every skipped line, cut address, gap and guess behind the report. */
export function dataQualityNotes(
  evidence: NodeEvidence,
  ranking: RankingResult,
  attribution: AttributionResult,
): DataQualityNote[] {
  const notes: DataQualityNote[] = [...evidence.notes];
  const censuses = [...evidence.censuses, ...evidence.hostCensuses].sort((a, b) =>
    a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0,
  );
  for (const census of censuses) {
    const { skipped, sockets } = census.document;
    const first = skipped[0];
    if (first) {
      notes.push({
        source: census.origin,
        text: `lines skipped (first: line ${first.line}: ${first.reason})`,
        count: skipped.length,
      });
    }
    const suspect = sockets.filter((s) => s.suspect === 'truncated-address').length;
    if (suspect > 0) {
      notes.push({
        source: census.origin,
        text:
          'addresses possibly cut by net-tools netstat without -W (23-character tcp6 fields): rerun with `netstat -W`, ' +
          '`ss -tnp` or read /proc/net/tcp6',
        count: suspect,
      });
    }
  }

  const capture = evidence.capture.capture;
  const origin = evidence.capture.origin ?? 'tcptracer';
  if (capture === null) {
    notes.push({
      source: origin,
      text:
        evidence.capture.status === 'failed'
          ? 'capture failed: ranking from socket censuses only, no connect rates'
          : 'no tcptracer capture: ranking from socket censuses only, no connect rates',
      count: 0,
    });
  } else {
    const first = capture.skipped[0];
    if (capture.skippedTotal > 0) {
      notes.push({
        source: origin,
        text: `lines skipped${first ? ` (first: line ${first.line}: ${first.reason})` : ''}`,
        count: capture.skippedTotal,
      });
    }
    if (capture.cutLastLine) {
      notes.push({
        source: origin,
        text: 'last line had no newline (writer killed mid-line) and was dropped',
        count: 1,
      });
    }
    if (capture.lostEvents > 0) {
      notes.push({ source: origin, text: 'events lost by tcptracer (perf buffer overrun)', count: capture.lostEvents });
    }
    if (capture.variant === 'libbpf') {
      notes.push({
        source: origin,
        text: 'libbpf-tools tcptracer prints no NETNS column: sources mapped by source address only',
        count: capture.sources.length,
      });
    }
  }

  const withoutCensus = ranking.pods.filter((p) => p.kind === 'pod' && !p.hasCensus).map(key);
  if (withoutCensus.length > 0) {
    notes.push({
      source: 'census',
      text: `pods without a socket census (ranked from the capture only, or not at all): ${listSome(withoutCensus, 10)}`,
      count: withoutCensus.length,
    });
  }
  const hostNetworkPods = evidence.pods.filter((p) => p.hostNetwork);
  const hostRow = ranking.pods.find((p) => p.kind === 'host');
  if (hostNetworkPods.length > 0 && !hostRow?.hasCensus) {
    notes.push({
      source: 'census',
      text: "no census of the node's own namespace (host.txt): hostNetwork pods' sockets are not counted",
      count: hostNetworkPods.length,
    });
  }
  notes.push(...attribution.notes, ...ranking.notes);
  return notes;
}
