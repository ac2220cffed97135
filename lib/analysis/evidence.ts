/**
 * The evidence of one node, independent of where it came from: files captured by hand (`analyze <dir>`) today, the
 * live cluster and Azure Monitor later. Everything here is plain JSON-able data, so it can cross an activity boundary
 * or be written next to the report; the analysis (attribute -> rank -> findings -> report) only ever reads this.
 */
import type { SocketDocument } from '../parse/sockets.js';
import type { TcptracerCapture } from '../parse/types.js';
import type { DataQualityNote, Degradation } from '../report/model.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

/** `namespace/name`: the key every pod is known by in maps, notes and `appliesTo`. */
export const podKey = (pod: PodRef): string => `${pod.namespace}/${pod.name}`;

export interface PodEvidence extends PodRef {
  readonly uid: string | null;
  /** Canonical pod IPs (see `canonicalAddress`); empty for hostNetwork pods and pods whose IPs are unknown. */
  readonly ips: string[];
  /** hostNetwork pods share the node's network namespace and IP: their sockets are the node's. */
  readonly hostNetwork: boolean;
  /** `Deployment/api`, `StatefulSet/db`, `DaemonSet/kube-proxy`, ... or null. */
  readonly owner: string | null;
  /** Inode of the pod's network namespace, when known (crictl inspectp + lsns, or the live capture Job). */
  readonly netns: number | null;
}

/** How a socket census was obtained: exec into the pod, read from the node through its netns, or a file. */
export type CensusSource = 'exec' | 'node-census' | 'file';

export interface SocketCensus {
  readonly source: CensusSource;
  /** Where it came from, for data-quality notes: a file name relative to the folder, or `exec netstat -ptn`. */
  readonly origin: string;
  readonly document: SocketDocument;
}

/** A census of one pod; a pod may have several (e.g. /proc/net/tcp and /proc/net/tcp6 as separate files). */
export interface PodCensus extends SocketCensus, PodRef {}

export type CaptureStatus = 'complete' | 'truncated' | 'missing' | 'failed';

export interface CaptureEvidence {
  /** `missing`: no capture at all; `failed`: the capture step ran and broke; `truncated`: cut short or lost events. */
  readonly status: CaptureStatus;
  readonly capture: TcptracerCapture | null;
  /** The capture window as configured (live); null when unknown (offline), then the events' own span is used. */
  readonly durationSeconds: number | null;
  readonly origin: string | null;
}

/** Who owns a network namespace. */
export type NetnsOwner =
  | { readonly kind: 'pod'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'host' }
  | { readonly kind: 'unknown' };

/** One network namespace of the node (lsns row, joined with crictl inspectp). */
export interface NetnsEntry {
  readonly netns: number;
  /** lsns PID: the lowest PID in the namespace (usually the pod's pause process). */
  readonly pid: number | null;
  readonly command: string | null;
  readonly owner: NetnsOwner;
}

/** Azure Load Balancer SNAT metrics for the node's backend IP; null when unknown. */
export interface SnatMetrics {
  readonly allocatedPorts: number | null;
  readonly usedPorts: number | null;
  readonly failedConnections: number | null;
}

export interface NodeEvidence {
  readonly node: { readonly name: string | null; readonly ip: string | null };
  readonly window: { readonly start: string | null; readonly end: string | null };
  readonly pods: PodEvidence[];
  readonly censuses: PodCensus[];
  /** The node's own namespace (hostNetwork pods included), possibly in several parts (tcp + tcp6); empty if none. */
  readonly hostCensuses: SocketCensus[];
  readonly capture: CaptureEvidence;
  readonly netns: NetnsEntry[];
  readonly snat: SnatMetrics;
  /** CIDRs configured as not using SNAT (already applied by the classifier that built the documents). */
  readonly privateCidrs: string[];
  /** Steps that failed or were skipped, and why. */
  readonly degraded: Degradation[];
  /** Data-quality notes of the collector itself (e.g. skipped lines of lsns or crictl output). */
  readonly notes: DataQualityNote[];
}

export const UNKNOWN_SNAT: SnatMetrics = { allocatedPorts: null, usedPorts: null, failedConnections: null };

export const MISSING_CAPTURE: CaptureEvidence = {
  status: 'missing',
  capture: null,
  durationSeconds: null,
  origin: null,
};

/** An empty evidence record to build on (tests, collectors). */
export function emptyEvidence(): NodeEvidence {
  return {
    node: { name: null, ip: null },
    window: { start: null, end: null },
    pods: [],
    censuses: [],
    hostCensuses: [],
    capture: MISSING_CAPTURE,
    netns: [],
    snat: UNKNOWN_SNAT,
    privateCidrs: [],
    degraded: [],
    notes: [],
  };
}

export interface OwnerReference {
  readonly kind?: string;
  readonly name?: string;
  readonly controller?: boolean;
}

/**
 * `Kind/name` of a pod's controller. A ReplicaSet named `<deployment>-<pod-template-hash>` is reported as its
 * Deployment: that is what people scale and fix, and the hash changes with every rollout.
 */
export function ownerOf(
  references: readonly OwnerReference[] | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): string | null {
  const refs = references ?? [];
  const ref = refs.find((r) => r.controller === true) ?? refs[0];
  if (!ref?.kind || !ref.name) return null;
  const hash = labels?.['pod-template-hash'];
  if (ref.kind === 'ReplicaSet' && hash && ref.name.endsWith(`-${hash}`)) {
    return `Deployment/${ref.name.slice(0, -hash.length - 1)}`;
  }
  return `${ref.kind}/${ref.name}`;
}
