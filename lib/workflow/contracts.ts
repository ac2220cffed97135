/**
 * What crosses the activity boundary of the investigation workflow: activity names, and the input and output of each.
 * Everything here is small plain JSON (names, ids, counts, ISO times), as Durable Functions' history requires; bulk
 * data (the pod snapshot, the censuses, the parsed capture) stays in the `EvidenceStore` and travels as a key.
 *
 * Expected outcomes (node not found, capture Job stuck, log unreadable as a fact of the run) come back as values;
 * activities throw only for failures worth retrying (STYLE.md), and the workflow treats a throw as "this step failed".
 */
import type { CaptureFailureReason, CapturePhase } from '../k8s/capture-lifecycle.js';
import type { DataQualityNote, Degradation, ReportTrigger } from '../report/model.js';

export const ACTIVITIES = Object.freeze({
  resolveTarget: 'resolveTarget',
  startCapture: 'startCapture',
  checkCapture: 'checkCapture',
  listPods: 'listPods',
  censusPods: 'censusPods',
  collectCapture: 'collectCapture',
  deleteCapture: 'deleteCapture',
  writeReport: 'writeReport',
  notifyReport: 'notifyReport',
  listNodes: 'listNodes',
  notifyCensus: 'notifyCensus',
} as const);

export type ActivityName = (typeof ACTIVITIES)[keyof typeof ACTIVITIES];

/**
 * The orchestrators: `investigateSnat` (one node), `investigateAlert` (an alert's nodes, as sub-orchestrations) and
 * `investigateCluster` (a NAT gateway alert's bounded census of a cluster's nodes, as census-only sub-orchestrations).
 */
export const ORCHESTRATIONS = Object.freeze({
  investigateSnat: 'investigateSnat',
  investigateAlert: 'investigateAlert',
  investigateCluster: 'investigateCluster',
} as const);

export type OrchestrationName = (typeof ORCHESTRATIONS)[keyof typeof ORCHESTRATIONS];

/** The node to investigate: by name, or by the exact InternalIP the load balancer reports. */
export type NodeQuery = { readonly name: string } | { readonly ip: string };

/**
 * Which cluster an investigation acts on, for a host that serves many clusters: the Functions app builds each
 * activity's clients, evidence store and report location from it (lib/azure/activity-factory.ts). Absent for a host
 * bound to one cluster (the CLI, `serve`). The workflow adds it to every activity input as `scope`, and completes it
 * once the target is resolved (the cluster found from the load balancer, the node's name, the start time).
 */
export interface InvestigationScope {
  /** The AKS cluster's resource id: from the intake (a mapping, a manual request) or resolved from the load balancer. */
  readonly clusterId?: string;
  /** The load balancer the alert named: its cluster is found through node resource groups, its SNAT metrics read. */
  readonly loadBalancerId?: string;
  readonly investigationId?: string;
  /** The node's name, once resolved. */
  readonly node?: string;
  /** When the investigation's window started (ISO 8601), once resolved: with the node, where its files go. */
  readonly startedAt?: string;
}

/** The SNAT figures of the report (Azure Monitor, else a setting or the CLI). */
export interface SnatFigures {
  readonly allocatedPorts: number | null;
  readonly usedPorts: number | null;
  readonly failedConnections: number | null;
}

/** The cluster as the report names it. */
export interface ClusterName {
  readonly resourceId: string | null;
  readonly name: string | null;
}

// resolveTarget ----------------------------------------------------------------------------------------------------

export interface ResolveTargetInput {
  readonly node: NodeQuery;
  /** The alert's window: the SNAT metrics of the node are read over it (when the host can read Azure Monitor). */
  readonly window?: { readonly start: string; readonly end: string };
  readonly scope?: InvestigationScope;
}

export type ResolveTargetOutput =
  | {
      readonly found: true;
      readonly name: string;
      /** The InternalIP asked for, else the node's first one; null when it reports none. */
      readonly ip: string | null;
      readonly snat: SnatFigures;
      /** The cluster the host acted on, when it knows it (absent from hosts bound to one kubeconfig). */
      readonly cluster?: ClusterName;
      /** What could not be read (the SNAT metrics), for the report. */
      readonly degraded?: Degradation[];
    }
  | { readonly found: false; readonly reason: 'not-found' | 'ambiguous' | 'invalid'; readonly message: string };

// startCapture -----------------------------------------------------------------------------------------------------

export interface StartCaptureInput {
  readonly investigationId: string;
  readonly nodeName: string;
  readonly captureSeconds: number;
  /** The workflow's clock (ISO 8601): the orphan sweep's "now" and the base of the deadline. */
  readonly now: string;
}

export type StartCaptureOutput =
  | {
      readonly started: true;
      readonly namespace: string;
      readonly jobName: string;
      /** False when the Job already existed (a retried or replayed activity): it is reused. */
      readonly created: boolean;
      /** now + activeDeadlineSeconds: past this, Kubernetes fails the Job. */
      readonly deadline: string;
      /** Orphaned capture Jobs of earlier runs that were deleted. */
      readonly sweptOrphans: number;
    }
  | { readonly started: false; readonly reason: 'namespace' | 'forbidden' | 'conflict'; readonly message: string };

// checkCapture -----------------------------------------------------------------------------------------------------

export interface CheckCaptureInput {
  readonly namespace: string;
  readonly jobName: string;
}

export interface CheckCaptureOutput {
  readonly phase: CapturePhase;
  readonly reason: CaptureFailureReason | null;
  readonly message: string | null;
  readonly podName: string | null;
}

// listPods ---------------------------------------------------------------------------------------------------------

export interface ListPodsInput {
  readonly investigationId: string;
  readonly nodeName: string;
  /** When the snapshot counts as taken (the workflow's clock). */
  readonly now: string;
}

export interface ListPodsOutput {
  /** Store key of the pod snapshot (`PodSnapshotSet`). */
  readonly ref: string;
  readonly pods: number;
}

// censusPods -------------------------------------------------------------------------------------------------------

export interface CensusPodsInput {
  readonly investigationId: string;
  readonly podsRef: string;
  /** The batch: pods [start, end) of the snapshot, in its order. */
  readonly start: number;
  readonly end: number;
}

export interface CensusPodsOutput {
  /** Store key of the batch's `PodCensusResult[]`. */
  readonly ref: string;
  readonly pods: number;
  readonly exec: number;
  readonly hostNetwork: number;
  readonly failed: number;
}

// collectCapture ---------------------------------------------------------------------------------------------------

export interface CollectCaptureInput {
  readonly investigationId: string;
  readonly namespace: string;
  readonly jobName: string;
  readonly podName: string;
  /** Null when the pod list failed: the capture is then joined with no pods. */
  readonly podsRef: string | null;
}

export type CollectCaptureOutput =
  | {
      readonly collected: true;
      /** Store key of the `StoredCapture`. */
      readonly ref: string;
      readonly status: 'complete' | 'truncated' | 'missing' | 'failed';
      readonly bytes: number;
      readonly connects: number;
      readonly netns: number;
      /** Where the raw log was kept (a path or URL), null when it was not. */
      readonly rawCapture: string | null;
    }
  | { readonly collected: false; readonly message: string };

// deleteCapture ----------------------------------------------------------------------------------------------------

export interface DeleteCaptureInput {
  readonly investigationId: string;
  readonly nodeName: string;
}

export interface DeleteCaptureOutput {
  readonly namespace: string;
  readonly jobName: string;
  readonly result: 'deleted' | 'absent';
}

// writeReport ------------------------------------------------------------------------------------------------------

export interface WriteReportInput {
  readonly investigationId: string;
  readonly generatedAt: string;
  readonly trigger: ReportTrigger;
  readonly node: { readonly name: string; readonly ip: string | null };
  readonly window: { readonly start: string | null; readonly end: string | null };
  readonly snat: SnatFigures;
  readonly cluster?: ClusterName;
  readonly podsRef: string | null;
  readonly censusRefs: string[];
  readonly captureRef: string | null;
  readonly rawCapture: string | null;
  /** Steps of the workflow that failed or were skipped (the activities add their own). */
  readonly degraded: Degradation[];
  /** What the workflow chose not to do and why (a census-only investigation), for the report's data quality notes. */
  readonly notes?: DataQualityNote[];
}

/** One ranked pod of a report, with the numbers a ranking across nodes compares. */
export interface RankedPod {
  /** `namespace/name`. */
  readonly pod: string;
  /** The report's score (an estimate in ports, not relative to the node: comparable across nodes). */
  readonly score: number;
  /** ESTABLISHED outbound connections to public destinations. */
  readonly publicConnections: number;
}

/** How many ranked pods of each report travel in `WriteReportOutput.topPods`. */
export const TOP_PODS_PER_REPORT = 3;

export interface WriteReportOutput {
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
  /** Store key of the full `Report`. */
  readonly reportRef: string;
  readonly pods: number;
  /** `namespace/name` of the first ranked pod, null when none. */
  readonly top: string | null;
  readonly degraded: number;
  /** The first `TOP_PODS_PER_REPORT` ranked pods with their numbers (a cluster's census ranks them across nodes). */
  readonly topPods?: RankedPod[];
}

// notifyReport -----------------------------------------------------------------------------------------------------

export interface NotifyReportInput {
  readonly investigationId: string;
  /** Store key of the full `Report` (writeReport's `reportRef`). */
  readonly reportRef: string;
}

/** One target's delivery; the label names it by its configured name or origin, never by its URL (a secret). */
export interface NotificationOutcome {
  readonly target: string;
  readonly kind: 'teams' | 'webhook';
  readonly ok: boolean;
  /** The last HTTP status, absent when none came back (network failure, nothing sent). */
  readonly status?: number;
  readonly attempts: number;
}

export interface NotifyReportOutput {
  /** One per configured target, in the settings' order (Teams first, then the webhook). */
  readonly targets: NotificationOutcome[];
  /** What the notifications link to: a read link (SAS), the artifact's path (no links from a folder), or nothing. */
  readonly link: 'read-link' | 'path' | 'none';
  /** True when the report was written again with the failures in its `degraded`. */
  readonly rewritten: boolean;
  /** Entries in the report's `degraded` after this step (more than writeReport's count when it was rewritten). */
  readonly degraded?: number;
}

// listNodes --------------------------------------------------------------------------------------------------------

export interface ListNodesInput {
  readonly investigationId: string;
  /** At most this many nodes are kept (SNAT_MAX_NODES_PER_ALERT). */
  readonly maxNodes: number;
  readonly scope?: InvestigationScope;
}

export interface ListNodesOutput {
  /** Ready nodes, schedulable ones first, each group by name; at most `maxNodes`. */
  readonly nodes: Array<{ readonly name: string; readonly ip: string | null }>;
  /** Nodes in the cluster. */
  readonly total: number;
  /** Nodes left out: not Ready, and Ready ones beyond `maxNodes`. */
  readonly skipped: { readonly notReady: number; readonly overLimit: number };
  /** The cluster the host acted on, when it knows it (absent from hosts bound to one kubeconfig). */
  readonly cluster?: ClusterName;
}

// notifyCensus -----------------------------------------------------------------------------------------------------

/** A pod of a node's report, ranked across the cluster's nodes (`investigateCluster`'s `top`). */
export interface CensusTopPod {
  /** `namespace/name`. */
  readonly pod: string;
  readonly node: string;
  readonly investigationId: string;
  /** The report's score; null from a report that did not carry it (then only its first pod is known). */
  readonly score: number | null;
  /** ESTABLISHED outbound connections to public destinations; null as for `score`. */
  readonly publicConnections: number | null;
}

/** One censused node, as the census's message names it. */
export interface CensusNodeRef {
  /** The node's investigation. */
  readonly investigationId: string;
  /** The node's name (as resolved, else as listed). */
  readonly node: string;
  readonly outcome: 'reported' | 'target-not-found' | 'failed';
  /** The node's HTML report (writeReport's `html`: a path or a blob URL), for its read link; null without a report. */
  readonly html: string | null;
  /** Why there is no report (its first line, cut short); null when there is one. */
  readonly message: string | null;
}

/** Nodes a census's message names, with a link to each one's report; the others are counted ("and N more"). */
export const CENSUS_NODE_LINKS = 20;

/**
 * The census's one message (`investigateCluster`, after its last wave; also when no node was censused). Small JSON
 * whatever the cluster: names, ids, counts, the ranked top (at most 10) and a short entry for each node the message
 * names (at most CENSUS_NODE_LINKS); the read links are made by the activity.
 */
export interface NotifyCensusInput {
  /** The census's id: the deliveries are kept under it. */
  readonly investigationId: string;
  /** The workflow's clock when the census ended (ISO 8601). */
  readonly generatedAt: string;
  readonly trigger: ReportTrigger;
  readonly cluster: ClusterName;
  readonly natGatewayId: string;
  readonly outcome: 'census' | 'no-nodes';
  /** Why no node was censused (outcome `no-nodes`); else null. */
  readonly message: string | null;
  /** Nodes in the cluster. */
  readonly total: number;
  readonly skipped: { readonly notReady: number; readonly overLimit: number };
  /** The censused nodes by outcome (`censused` = all of them). */
  readonly counts: {
    readonly censused: number;
    readonly reported: number;
    readonly failed: number;
    readonly notFound: number;
  };
  readonly top: CensusTopPod[];
  /**
   * The nodes the message names, at most CENSUS_NODE_LINKS: those holding the top pods first (in the ranking's
   * order), then the others in the census's order, so that the culprit's node is linked however many nodes there are.
   */
  readonly nodes: CensusNodeRef[];
  readonly scope?: InvestigationScope;
}

export interface NotifyCensusOutput {
  /** One per configured target, in the settings' order (Teams first, then the webhook). */
  readonly targets: NotificationOutcome[];
  /** What the node links are: read links (SAS), the reports' paths (no links from a folder), or none. */
  readonly link: 'read-link' | 'path' | 'none';
  /** Node reports linked from the message (at most CENSUS_NODE_LINKS). */
  readonly linked: number;
  /** What went wrong (failed deliveries, links that could not be made), for the census result's `degraded`. */
  readonly degraded: Degradation[];
}
