/**
 * Report schema v1 (DESIGN.md "Report"). report.json is a public contract: add optional fields freely, but any
 * change to an existing field's meaning or type needs schemaVersion 2.
 */

export const REPORT_SCHEMA_VERSION = 1;

export type Severity = 'critical' | 'warning' | 'info';

export interface ReportTrigger {
  /** How the investigation was started. */
  readonly kind: 'alert' | 'http' | 'cli' | 'offline';
  /** Alert rule name, requester, or the folder analysed offline. */
  readonly source: string | null;
  readonly alertId?: string | null;
}

export interface Destination {
  readonly ip: string;
  readonly port: number;
  /** Concurrent flows from this pod to this IP:port (ESTABLISHED + SYN_SENT + other SNAT-holding states). */
  readonly flows: number;
  /** flows / the node's allocated SNAT ports, 0..1 (can exceed 1 while ports are being reclaimed); null if unknown. */
  readonly shareOfAllocated: number | null;
}

/** Where a pod's numbers came from. */
export type EvidenceSource =
  | 'exec' // netstat/ss/proc read inside the pod
  | 'node-census' // /proc/<pid>/net/tcp read from the node through the pod's netns
  | 'file' // a file captured by hand (offline `analyze`)
  | 'capture-only' // only tcptracer saw it
  | 'none';

export interface PodRanking {
  readonly rank: number;
  readonly namespace: string;
  readonly name: string;
  /** `Deployment/api`, `StatefulSet/db`, ... or null. For unattributed traffic, a description of the source. */
  readonly owner: string | null;
  readonly hostNetwork: boolean;
  readonly source: EvidenceSource;
  readonly ips: string[];
  readonly netns: number | null;
  readonly established: number;
  /** The article's number: ESTABLISHED to a public address, inbound included. */
  readonly establishedPublic: number;
  /** ESTABLISHED to a public address, outbound only: what holds SNAT ports. */
  readonly establishedPublicOutbound: number;
  /** SYN_SENT to public destinations: connects waiting for a SNAT port or an answer, the mark of exhaustion. */
  readonly synSentPublic: number;
  /** TIME_WAIT, CLOSE_WAIT and other closing states to public destinations: ports held until the LB idle timeout. */
  readonly closingPublic: number;
  /** Public connects per second in the capture; null without a capture that saw the pod. */
  readonly connectsPerSecond: number | null;
  readonly publicConnects: number;
  readonly topDestinations: Destination[];
  readonly score: number;
  /** Score terms and the numbers behind them, so every rank explains itself. */
  readonly evidence: Array<{ term: string; value: number; weight: number; contribution: number; note: string }>;
}

export interface Finding {
  readonly severity: Severity;
  readonly text: string;
  readonly evidence: Record<string, string | number | boolean | null>;
}

export interface Recommendation {
  readonly id: string;
  readonly title: string;
  readonly text: string;
  /** `namespace/name` of the pods it is for, empty when node-wide. */
  readonly appliesTo: string[];
}

export interface Degradation {
  readonly step: string;
  readonly reason: string;
}

export interface DataQualityNote {
  readonly source: string;
  readonly text: string;
  readonly count: number;
}

export interface Report {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly investigationId: string;
  readonly generatedAt: string;
  readonly trigger: ReportTrigger;
  readonly cluster: { readonly resourceId: string | null; readonly name: string | null };
  readonly node: { readonly name: string | null; readonly ip: string | null };
  readonly window: { readonly start: string | null; readonly end: string | null };
  readonly snat: {
    readonly allocatedPorts: number | null;
    readonly usedPorts: number | null;
    readonly failedConnections: number | null;
  };
  readonly capture: {
    readonly status: 'complete' | 'truncated' | 'missing' | 'failed';
    readonly variant: 'bcc' | 'libbpf' | null;
    readonly durationSeconds: number | null;
    readonly events: { readonly connect: number; readonly accept: number; readonly close: number };
    readonly lostEvents: number;
    readonly truncated: boolean;
  };
  /** Ranked: the first pod is the most likely culprit. */
  readonly pods: PodRanking[];
  /** Public destinations across the node (outbound flows), most flows first. */
  readonly destinations: Array<{
    ip: string;
    port: number;
    flows: number;
    pods: number;
    shareOfAllocated: number | null;
  }>;
  readonly findings: Finding[];
  readonly recommendations: Recommendation[];
  readonly degraded: Degradation[];
  readonly dataQuality: DataQualityNote[];
  readonly artifacts: {
    readonly json: string | null;
    readonly markdown: string | null;
    readonly html: string | null;
    readonly rawCapture: string | null;
  };
}
