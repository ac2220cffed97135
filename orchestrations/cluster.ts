/**
 * `investigateCluster`: a NAT gateway alert's bounded census of one cluster's nodes. A NAT gateway's SNAT ports are
 * shared by every node behind it, and its alert names no node (no backend dimension, FORMATS.md section 10), so the
 * cluster that SNAT_NATGW_CLUSTER_MAP names for the gateway is censused instead: `listNodes` (Ready nodes, schedulable
 * first, by name, at most `maxNodes`), then one census-only `investigateSnat` per node (`capture: false`: a privileged
 * capture Job on every node of a cluster for one alert is not acceptable), in the bounded waves of `investigateAlert`,
 * and the nodes' top pods ranked across the cluster.
 *
 * A plain generator over the Ops port, like the others (no I/O, no clock, no randomness). A node whose investigation
 * fails is an outcome (`failed`), not a failed census. Nothing Ready to census: no sub-orchestration at all (never
 * `ops.all([])`), and the outcome `no-nodes` says why. A `listNodes` that still fails after its retries fails the
 * orchestration with its message: there is nothing else to report.
 */
import { ACTIVITIES } from '../lib/workflow/contracts.js';
import type { ClusterName, InvestigationScope, ListNodesInput, ListNodesOutput } from '../lib/workflow/contracts.js';
import type { ReportTrigger } from '../lib/report/model.js';
import { investigateNodes, wavesOf } from './alert.js';
import type { NodeInvestigationOutcome, WorkflowOps } from './alert.js';
import type { CensusFanOut, InvestigationInput, WorkflowTiming } from './investigate.js';

export interface ClusterInvestigationInput {
  /** A Kubernetes label value; the nodes' investigations are `<id>-n<index>` (`childInvestigationId`). */
  readonly investigationId: string;
  /** The AKS cluster's resource id (SNAT_NATGW_CLUSTER_MAP), for the result; the host finds it from `scope`. */
  readonly clusterId?: string;
  /** The NAT gateway that fired. */
  readonly natGatewayId: string;
  /** Most nodes censused (SNAT_MAX_NODES_PER_ALERT); the rest are counted in `skipped.overLimit`. */
  readonly maxNodes: number;
  /** Node investigations at once (1..16, default 4). */
  readonly maxParallel?: number;
  readonly trigger: ReportTrigger;
  /** The cluster to act on, for a host that serves many (the Functions app); passed to listNodes and every node. */
  readonly scope?: InvestigationScope;
  readonly timing?: Partial<WorkflowTiming>;
  readonly fanOut?: Partial<CensusFanOut>;
  /** Passed to each node's investigation (see `InvestigationInput.notify`). */
  readonly notify?: boolean;
}

/** A pod of a node's report, ranked across the cluster's nodes. */
export interface ClusterTopPod {
  /** `namespace/name`. */
  readonly pod: string;
  readonly node: string;
  readonly investigationId: string;
  /** The report's score; null from a report that did not carry it (then only its first pod is known). */
  readonly score: number | null;
  /** ESTABLISHED outbound connections to public destinations; null as for `score`. */
  readonly publicConnections: number | null;
}

/** Pods in `top`: across the cluster, the most likely culprits first. */
export const CLUSTER_TOP_PODS = 10;

interface ClusterResultBase {
  readonly investigationId: string;
  readonly natGatewayId: string;
  readonly cluster: ClusterName;
  /** Nodes in the cluster. */
  readonly total: number;
  /** Nodes not censused: not Ready, and Ready ones beyond `maxNodes`. */
  readonly skipped: { readonly notReady: number; readonly overLimit: number };
}

export type ClusterInvestigationResult =
  | (ClusterResultBase & {
      readonly outcome: 'census';
      /** One per censused node, in the order listed (schedulable first, by name). */
      readonly nodes: NodeInvestigationOutcome[];
      readonly top: ClusterTopPod[];
    })
  | (ClusterResultBase & { readonly outcome: 'no-nodes'; readonly message: string });

export type ClusterPhase = 'listing nodes' | 'census' | 'done';

/** The custom status: where the census is, and how many nodes' investigations are over. */
export interface ClusterStatus {
  readonly phase: ClusterPhase;
  readonly nodes: { readonly done: number; readonly total: number };
  readonly wave: number;
  readonly waves: number;
}

/** Kubernetes label values: at most 63 characters. */
const LABEL_MAX = 63;

/** FNV-1a (32 bits) in base 36: a short, deterministic tag of a long id (no crypto in an orchestrator). */
function tagOf(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

/**
 * `<parent>-n<index>`, a valid Kubernetes label value (the child's id labels its objects and names its report) as
 * long as the parent's is one: a parent too long for the suffix is cut, and a tag of the whole parent id keeps two
 * cut parents apart.
 */
export function childInvestigationId(parentId: string, index: number): string {
  const suffix = `-n${index}`;
  if (parentId.length + suffix.length <= LABEL_MAX) return `${parentId}${suffix}`;
  const tag = `-${tagOf(parentId)}`;
  const head = parentId.slice(0, LABEL_MAX - suffix.length - tag.length).replace(/[-_.]+$/, '');
  return `${head}${tag}${suffix}`;
}

/** The cluster's top pods: the nodes' ranked pods by score, then public connections, then node and pod name. */
export function rankAcrossNodes(nodes: readonly NodeInvestigationOutcome[]): ClusterTopPod[] {
  const pods: ClusterTopPod[] = [];
  for (const n of nodes) {
    if (n.outcome !== 'reported') continue;
    const base = { node: n.nodeName, investigationId: n.investigationId };
    if (n.report.topPods !== undefined) {
      for (const p of n.report.topPods) pods.push({ ...base, ...p });
    } else if (n.report.top !== null) {
      pods.push({ ...base, pod: n.report.top, score: null, publicConnections: null });
    }
  }
  const desc = (a: number | null, b: number | null): number => (b ?? -1) - (a ?? -1);
  const text = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return pods
    .sort(
      (a, b) =>
        desc(a.score, b.score) ||
        desc(a.publicConnections, b.publicConnections) ||
        text(a.node, b.node) ||
        text(a.pod, b.pod),
    )
    .slice(0, CLUSTER_TOP_PODS);
}

export function* investigateCluster<H>(
  input: ClusterInvestigationInput,
  ops: WorkflowOps<H>,
): Generator<H, ClusterInvestigationResult, unknown> {
  const id = input.investigationId;
  const status = (phase: ClusterPhase, done: number, total: number, wave: number, waves: number): void => {
    const s: ClusterStatus = { phase, nodes: { done, total }, wave, waves };
    ops.status?.(s);
  };

  // The scope of the census: the host builds listNodes' clients from it, and each node's investigation acts on it.
  const clusterId = input.scope?.clusterId ?? input.clusterId;
  const scope: InvestigationScope | undefined = input.scope && {
    ...input.scope,
    ...(clusterId !== undefined ? { clusterId } : {}),
  };

  status('listing nodes', 0, 0, 0, 0);
  const listed = (yield ops.call(ACTIVITIES.listNodes, {
    investigationId: id,
    maxNodes: input.maxNodes,
    ...(scope ? { scope: { ...scope, investigationId: id } } : {}),
  } satisfies ListNodesInput)) as ListNodesOutput;
  const base: ClusterResultBase = {
    investigationId: id,
    natGatewayId: input.natGatewayId,
    cluster: listed.cluster ?? { resourceId: clusterId ?? null, name: null },
    total: listed.total,
    skipped: { ...listed.skipped },
  };

  if (listed.nodes.length === 0) {
    status('done', 0, 0, 0, 0);
    const { notReady, overLimit } = listed.skipped;
    const why =
      listed.total === 0
        ? 'the cluster has no nodes'
        : overLimit > 0
          ? `the bound on nodes is ${input.maxNodes} (${overLimit} Ready node(s) over it)`
          : `none of its ${listed.total} node(s) is Ready (${notReady} not Ready)`;
    return { ...base, outcome: 'no-nodes', message: `no node to census: ${why}; no node was investigated` };
  }

  const investigations = listed.nodes.map((node, index): InvestigationInput => ({
    investigationId: childInvestigationId(id, index),
    node: { name: node.name },
    // Not used: no capture Job runs in a census-only investigation.
    captureSeconds: 0,
    capture: false,
    trigger: input.trigger,
    ...(input.timing ? { timing: input.timing } : {}),
    ...(input.fanOut ? { fanOut: input.fanOut } : {}),
    ...(input.notify !== undefined ? { notify: input.notify } : {}),
    // Each node's investigation adds its own id (and, once resolved, its node and start) to this.
    ...(scope ? { scope } : {}),
  }));
  const total = investigations.length;
  const waves = wavesOf(total, input.maxParallel);
  const nodes = yield* investigateNodes(investigations, input.maxParallel, ops, (p) =>
    status('census', p.done, total, p.wave, waves),
  );
  status('done', nodes.length, total, waves, waves);
  return { ...base, outcome: 'census', nodes, top: rankAcrossNodes(nodes) };
}
