/**
 * A parsed capture log, joined with the pod snapshot, as the analysis' evidence pieces: the tcptracer capture and its
 * status, the netns map (inode -> pod by the UID the script read from the cgroup, or the node), the node-side
 * censuses (per pod, and the node's own namespace), each pod's netns, and what degraded.
 */
import type { CaptureEvidence, NetnsEntry, PodCensus, PodEvidence, SocketCensus } from '../analysis/evidence.js';
import type { DataQualityNote, Degradation } from '../report/model.js';
import type { CaptureLog } from './capture-log.js';
import { toPodEvidence } from './pods.js';
import type { PodSnapshot } from './pods.js';

export interface CaptureEvidencePieces {
  readonly capture: CaptureEvidence;
  readonly netns: NetnsEntry[];
  /** The snapshot's pods with their netns inode filled from the map. */
  readonly pods: PodEvidence[];
  readonly censuses: PodCensus[];
  readonly hostCensuses: SocketCensus[];
  readonly degraded: Degradation[];
  readonly notes: DataQualityNote[];
}

export interface CaptureEvidenceOptions {
  /** Where the log came from, for notes: `job snat-responder-capture/snat-capture-1a2b...`. */
  readonly origin: string;
  /** The log API stopped at its byte bound. */
  readonly limited?: boolean;
}

const SOURCE = 'capture job';

function captureOf(log: CaptureLog, options: CaptureEvidenceOptions, degraded: Degradation[]): CaptureEvidence {
  const section = log.tcptracer;
  const tracer = log.begin?.tracer ?? null;
  const durationSeconds = section?.seconds ?? log.begin?.captureSeconds ?? null;
  if (log.trailer?.status === 'failed') {
    degraded.push({
      step: 'capture',
      reason: `the capture script failed (${log.trailer.reason ?? 'no reason given'}): no tcptracer capture`,
    });
  }
  if (section?.capture) {
    const stoppedEarly = !section.complete || section.truncated || log.cut || options.limited === true;
    if (section.truncated) {
      degraded.push({
        step: 'capture',
        reason: `tcptracer printed more than ${log.begin?.maxLines ?? 'max_lines'} lines; the rest was discarded`,
      });
    }
    if (!section.complete)
      degraded.push({ step: 'capture', reason: 'the capture log was cut inside the tcptracer section' });
    if (log.trailer?.status === 'partial' && !section.truncated) {
      degraded.push({
        step: 'capture',
        reason: `tcptracer ended abnormally (exit ${section.exit ?? '?'}, after ${section.seconds ?? '?'} s of ${log.begin?.captureSeconds ?? '?'} s)`,
      });
    }
    return {
      status: stoppedEarly || log.trailer?.status === 'partial' ? 'truncated' : 'complete',
      capture: section.capture,
      durationSeconds,
      origin: options.origin,
    };
  }
  if (tracer === 'none' || tracer === null) {
    // The script itself failed (bad parameters, no host namespaces): a capture was attempted and failed; its trailer's
    // reason is reported with the other trailer problems.
    if (log.trailer?.status === 'failed') {
      return { status: 'failed', capture: null, durationSeconds: null, origin: options.origin };
    }
    degraded.push({
      step: 'capture',
      reason:
        tracer === 'none'
          ? 'no tcptracer on the node (bcc or libbpf-tools): connect rates are unknown; the socket census still counts'
          : 'the capture log has no begin line: the tracer is unknown',
    });
    return { status: 'missing', capture: null, durationSeconds: null, origin: options.origin };
  }
  degraded.push({
    step: 'capture',
    reason: section?.problem
      ? `tcptracer produced no capture: ${section.problem.message}`
      : 'the capture log was cut before the tcptracer section',
  });
  return { status: 'failed', capture: null, durationSeconds, origin: options.origin };
}

/** Builds the evidence pieces from a parsed log and the pods snapshotted for the same node. */
export function captureEvidenceOf(
  log: CaptureLog,
  pods: readonly PodSnapshot[],
  options: CaptureEvidenceOptions,
): CaptureEvidencePieces {
  const degraded: Degradation[] = [];
  const notes: DataQualityNote[] = [];
  const capture = captureOf(log, options, degraded);

  if (log.cut) {
    degraded.push({
      step: 'capture',
      reason: options.limited
        ? 'the capture log exceeded the read bound and was cut; complete sections are used'
        : 'the capture log has no trailer (cut short: deadline, log size or rotation); complete sections are used',
    });
  }

  const byUid = new Map<string, PodSnapshot>();
  for (const pod of pods) if (pod.uid) byUid.set(pod.uid, pod);

  const netns: NetnsEntry[] = [];
  const podNetns = new Map<string, number>();
  const hostNetns = new Set<number>();
  let unknownUids = 0;
  for (const record of log.netns?.entries ?? []) {
    if (record.host) {
      hostNetns.add(record.netns);
      netns.push({ netns: record.netns, pid: record.pid, command: null, owner: { kind: 'host' } });
      continue;
    }
    const pod = record.uid ? byUid.get(record.uid) : undefined;
    if (pod && !pod.hostNetwork) {
      podNetns.set(pod.uid!, record.netns);
      netns.push({
        netns: record.netns,
        pid: record.pid,
        command: null,
        owner: { kind: 'pod', namespace: pod.namespace, name: pod.name },
      });
    } else {
      if (record.uid) unknownUids += 1;
      netns.push({ netns: record.netns, pid: record.pid, command: null, owner: { kind: 'unknown' } });
    }
  }
  netns.sort((a, b) => a.netns - b.netns);
  if (!log.netns) {
    degraded.push({
      step: 'capture',
      reason: 'the capture log has no netns map: tcptracer sources are matched by IP only',
    });
  } else if (!log.netns.complete) {
    notes.push({ source: SOURCE, text: 'the netns map was cut; namespaces after the cut are unknown', count: 1 });
  }
  if (unknownUids > 0) {
    notes.push({
      source: SOURCE,
      text: 'network namespaces of pods that were not on the node when the pods were listed (started or deleted in between)',
      count: unknownUids,
    });
  }

  const owners = new Map(netns.map((e) => [e.netns, e.owner]));
  const censuses: PodCensus[] = [];
  const hostCensuses: SocketCensus[] = [];
  let truncated = 0;
  let incomplete = 0;
  let unusable = 0;
  for (const section of log.censuses) {
    if (!section.document) {
      unusable += 1;
      continue;
    }
    if (section.truncated) truncated += 1;
    if (!section.complete) incomplete += 1;
    const census: SocketCensus = {
      source: 'node-census',
      origin: `${options.origin} census netns ${section.netns}`,
      document: section.document,
    };
    const owner = owners.get(section.netns);
    if (owner?.kind === 'host' || hostNetns.has(section.netns)) hostCensuses.push(census);
    else if (owner?.kind === 'pod') censuses.push({ ...census, namespace: owner.namespace, name: owner.name });
  }
  if (truncated > 0) {
    notes.push({
      source: SOURCE,
      text: `node-side censuses capped at ${log.begin?.censusMaxLines ?? 'census_max_lines'} lines (counts are lower bounds)`,
      count: truncated,
    });
  }
  if (incomplete > 0)
    notes.push({
      source: SOURCE,
      text: 'node-side censuses cut by the end of the log (lower bounds)',
      count: incomplete,
    });
  if (unusable > 0) {
    notes.push({
      source: SOURCE,
      text: 'node-side censuses that were empty or unreadable (the process had exited)',
      count: unusable,
    });
  }
  const first = log.skipped[0];
  if (first) {
    notes.push({
      source: SOURCE,
      text: `capture log lines skipped (first: line ${first.line}: ${first.reason})`,
      count: log.skipped.length,
    });
  }

  return {
    capture,
    netns,
    pods: pods.map((p) => toPodEvidence(p, p.uid ? (podNetns.get(p.uid) ?? null) : null)),
    censuses,
    hostCensuses,
    degraded,
    notes,
  };
}
