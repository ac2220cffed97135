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
 *
 * One message per census: the nodes' investigations run with `notify: false` (a 10-node census would otherwise post 10
 * cards for one alert), and `notifyCensus` sends the pods ranked across the nodes, the counts and a link to each node's
 * report once the last wave is over. Also for `no-nodes`: the alert fired, and whoever watches the channel should hear
 * that nothing could be censused and why, rather than nothing at all. Skipped with `notify: false` (no target is
 * configured); a failure is recorded in the result's `degraded`, never the census's failure.
 */
import { ACTIVITIES, CENSUS_NODE_LINKS } from '../lib/workflow/contracts.js';
import type {
  CensusNodeRef,
  CensusTopPod,
  ClusterName,
  InvestigationScope,
  ListNodesInput,
  ListNodesOutput,
  NotifyCensusInput,
  NotifyCensusOutput,
} from '../lib/workflow/contracts.js';
import type { Degradation, ReportTrigger } from '../lib/report/model.js';
import { investigateNodes, wavesOf } from './alert.js';
import type { NodeInvestigationOutcome, WorkflowOps } from './alert.js';
import { stepError } from './investigate.js';
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
  /**
   * The census's one message (`notifyCensus`): `false` skips it (no target is configured: the in-process hosts set it
   * from their settings); absent or `true`, it is sent to whatever targets the responder's settings name. The nodes'
   * investigations never notify on their own (`notify: false`).
   */
  readonly notify?: boolean;
}

/** A pod of a node's report, ranked across the cluster's nodes. */
export type ClusterTopPod = CensusTopPod;

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

/** The census's message (`notifyCensus`), as the result records it. */
export interface ClusterNotified {
  /** The deliveries; null when the step was skipped (`notify: false`) or failed (then `degraded` says why). */
  readonly notifications: NotifyCensusOutput | null;
  /** What went wrong with the census's own steps after the nodes (its message); each node's report lists its own. */
  readonly degraded: Degradation[];
}

export type ClusterInvestigationResult =
  | (ClusterResultBase &
      ClusterNotified & {
        readonly outcome: 'census';
        /** One per censused node, in the order listed (schedulable first, by name). */
        readonly nodes: NodeInvestigationOutcome[];
        readonly top: ClusterTopPod[];
      })
  | (ClusterResultBase & ClusterNotified & { readonly outcome: 'no-nodes'; readonly message: string });

/** `notifying`: the census's one message is being sent (`notifyCensus`), after the last wave. */
export type ClusterPhase = 'listing nodes' | 'census' | 'notifying' | 'done';

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

/** Longest reason for a node without a report that the census's message carries (the node's status has it all). */
export const CENSUS_NODE_MESSAGE_MAX = 300;

/**
 * The first line of a step's error (under Durable: `${reason} \n ${details}`), at most `max` code points: what a node
 * without a report says in the census's message, kept short for the activity's input.
 */
function shortReason(text: string, max: number): string {
  const line = stepError(text);
  const points = Array.from(line);
  return points.length <= max ? line : `${points.slice(0, max - 1).join('')}…`;
}

/**
 * The nodes a census's message names, at most `max`: those holding the top pods first (in the ranking's order), then
 * the others in the census's order.
 */
export function nodesToName<N extends { readonly investigationId: string }>(
  nodes: readonly N[],
  top: readonly { readonly investigationId: string }[],
  max: number = CENSUS_NODE_LINKS,
): N[] {
  const byId = new Map(nodes.map((n) => [n.investigationId, n]));
  const chosen = new Map<string, N>();
  for (const t of top) {
    const n = byId.get(t.investigationId);
    if (n !== undefined && !chosen.has(n.investigationId)) chosen.set(n.investigationId, n);
  }
  for (const n of nodes) if (!chosen.has(n.investigationId)) chosen.set(n.investigationId, n);
  return [...chosen.values()].slice(0, Math.max(0, Math.floor(max)));
}

/** The census's nodes as its message names them: outcome, the HTML report to link, or why there is none. */
export function censusNodeRefs(nodes: readonly NodeInvestigationOutcome[]): CensusNodeRef[] {
  return nodes.map((n): CensusNodeRef => {
    const base = { investigationId: n.investigationId };
    if (n.outcome === 'reported') {
      return { ...base, node: n.nodeName, outcome: 'reported', html: n.report.html, message: null };
    }
    return {
      ...base,
      node: 'name' in n.node ? n.node.name : n.node.ip,
      outcome: n.outcome,
      html: null,
      message: shortReason(n.message, CENSUS_NODE_MESSAGE_MAX),
    };
  });
}

const messageOf = stepError;

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

  /**
   * The census's one message, then `done`. After the nodes, and never at the census's cost: a failure (every retry
   * spent) is recorded in `degraded`, and the result keeps its outcome.
   */
  const notifyCensus = function* (
    outcome: Pick<NotifyCensusInput, 'outcome' | 'message' | 'counts' | 'top' | 'nodes'>,
    done: number,
    total: number,
    waves: number,
  ): Generator<H, ClusterNotified, unknown> {
    const degraded: Degradation[] = [];
    let notifications: NotifyCensusOutput | null = null;
    if (input.notify !== false) {
      status('notifying', done, total, waves, waves);
      const generatedAt = ops.now().toISOString();
      try {
        notifications = (yield ops.call(ACTIVITIES.notifyCensus, {
          investigationId: id,
          generatedAt,
          trigger: input.trigger,
          cluster: base.cluster,
          natGatewayId: input.natGatewayId,
          total: base.total,
          skipped: base.skipped,
          ...outcome,
          // `startedAt`: every attempt's evidence store finds the deliveries (the Functions app dates its blobs by it).
          ...(scope ? { scope: { ...scope, investigationId: id, startedAt: generatedAt } } : {}),
        } satisfies NotifyCensusInput)) as NotifyCensusOutput;
        degraded.push(...notifications.degraded);
      } catch (e) {
        degraded.push({
          step: 'notify',
          reason: `the census's message could not be sent (${messageOf(e)}); the nodes' reports stand as written`,
        });
      }
    }
    status('done', done, total, waves, waves);
    return { notifications, degraded };
  };

  if (listed.nodes.length === 0) {
    const { notReady, overLimit } = listed.skipped;
    const why =
      listed.total === 0
        ? 'the cluster has no nodes'
        : overLimit > 0
          ? `the bound on nodes is ${input.maxNodes} (${overLimit} Ready node(s) over it)`
          : `none of its ${listed.total} node(s) is Ready (${notReady} not Ready)`;
    const message = `no node to census: ${why}; no node was investigated`;
    const none = { censused: 0, reported: 0, failed: 0, notFound: 0 };
    const notified = yield* notifyCensus({ outcome: 'no-nodes', message, counts: none, top: [], nodes: [] }, 0, 0, 0);
    return { ...base, outcome: 'no-nodes', message, ...notified };
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
    // The census sends one message for all its nodes (notifyCensus): none of them notifies on its own.
    notify: false,
    // Each node's investigation adds its own id (and, once resolved, its node and start) to this.
    ...(scope ? { scope } : {}),
  }));
  const total = investigations.length;
  const waves = wavesOf(total, input.maxParallel);
  const nodes = yield* investigateNodes(investigations, input.maxParallel, ops, (p) =>
    status('census', p.done, total, p.wave, waves),
  );
  const top = rankAcrossNodes(nodes);
  const count = (outcome: NodeInvestigationOutcome['outcome']): number =>
    nodes.filter((n) => n.outcome === outcome).length;
  const notified = yield* notifyCensus(
    {
      outcome: 'census',
      message: null,
      counts: {
        censused: nodes.length,
        reported: count('reported'),
        failed: count('failed'),
        notFound: count('target-not-found'),
      },
      top,
      nodes: censusNodeRefs(nodesToName(nodes, top)),
    },
    nodes.length,
    total,
    waves,
  );
  return { ...base, outcome: 'census', nodes, top, ...notified };
}
