/**
 * The Durable side of the intake (functions/http-*.ts): Durable's instance store is the registry. A claim reads this
 * bucket's and the previous bucket's deterministic instance ids (`candidateInstanceIds`), decides with
 * `decideFromInstances` (reuse a running one, return a finished one inside the cooldown) and otherwise starts the
 * target's orchestrator under the new id: `investigateSnat` for a node (load balancer alert, HTTP start),
 * `investigateCluster` for a NAT gateway alert's census of a cluster. `durableInstances` adapts durable-functions'
 * DurableClient to the port.
 */
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import { ORCHESTRATIONS } from '../workflow/contracts.js';
import type { OrchestrationName } from '../workflow/contracts.js';
import type { ClusterInvestigationInput } from '../../orchestrations/cluster.js';
import type { InvestigationInput } from '../../orchestrations/investigate.js';
import type { ReportTrigger } from '../report/model.js';
import type { AlertPlan, AlertTarget, LoadBalancerTarget } from '../intake/alert.js';
import { keyOfTarget } from '../intake/alert.js';
import type { StartedTarget } from '../intake/http.js';
import { bucketMsFor, candidateInstanceIds, decideFromInstances } from '../intake/registry.js';
import type { DurableInstances, InstanceView, InvestigationKey } from '../intake/registry.js';

function viewOf(status: DurableOrchestrationStatus): InstanceView {
  return {
    instanceId: status.instanceId,
    runtimeStatus: String(status.runtimeStatus),
    createdTime: new Date(status.createdTime),
    lastUpdatedTime: new Date(status.lastUpdatedTime),
    customStatus: status.customStatus,
    output: status.output,
  };
}

/** The extension answers 404 for an unknown instance; durable-functions turns that into an Error saying so. */
const isNotFound = (e: unknown): boolean => e instanceof Error && /HTTP 404 response/.test(e.message);

export function durableInstances(client: DurableClient): DurableInstances {
  return {
    async getStatus(instanceId) {
      try {
        return viewOf(await client.getStatus(instanceId, { showInput: false }));
      } catch (e) {
        if (isNotFound(e)) return null;
        throw e;
      }
    },
    async startNew(instanceId, input, orchestrator = ORCHESTRATIONS.investigateSnat) {
      await client.startNew(orchestrator, { instanceId, input });
    },
    async listSince(createdFrom, limit) {
      const all = await client.getStatusBy({ createdTimeFrom: createdFrom });
      return all
        .map(viewOf)
        .sort((a, b) => b.createdTime.getTime() - a.createdTime.getTime())
        .slice(0, limit);
    },
  };
}

export interface Claimed {
  readonly id: string;
  readonly started: boolean;
  readonly why?: 'running' | 'cooldown';
}

/**
 * One live investigation per key: reuse (running / inside the cooldown) or start `orchestrator` (default
 * `investigateSnat`) with `input(id)` under a fresh id.
 */
export async function claimInstance(
  instances: DurableInstances,
  key: InvestigationKey,
  input: (id: string) => unknown,
  now: Date,
  cooldownMs: number,
  orchestrator: OrchestrationName = ORCHESTRATIONS.investigateSnat,
): Promise<Claimed> {
  const candidates = candidateInstanceIds(key, now, bucketMsFor(cooldownMs));
  const views = [await instances.getStatus(candidates[0]), await instances.getStatus(candidates[1])] as const;
  const decision = decideFromInstances(key, candidates, views, now, cooldownMs);
  if ('reuse' in decision) return { id: decision.reuse.id, started: false, why: decision.why };
  await instances.startNew(decision.start, input(decision.start), orchestrator);
  return { id: decision.start, started: true };
}

export interface TargetStartOptions {
  /** The capture window of a node's investigation (SNAT_CAPTURE_SECONDS_DEFAULT). */
  readonly captureSeconds: number;
  /** A census's node investigations at once (SNAT_MAX_CONCURRENT_INVESTIGATIONS); default 4. */
  readonly maxParallel?: number;
}

/** The orchestrator a start target of an alert runs. */
export function orchestratorOfTarget(target: AlertTarget): OrchestrationName {
  return 'nodeIp' in target ? ORCHESTRATIONS.investigateSnat : ORCHESTRATIONS.investigateCluster;
}

/**
 * What a start target of an alert asks the workflow (`orchestratorOfTarget` says which orchestrator):
 * - a load balancer's node IP: an `InvestigationInput` whose `scope` names the load balancer (and its mapped cluster),
 *   so the host finds the cluster and reads the node's SNAT metrics, over the alert's window when it has both ends;
 * - a NAT gateway's cluster: a `ClusterInvestigationInput`, a bounded census of the mapped cluster's nodes, scoped to
 *   that cluster.
 */
export function inputOfTarget(
  target: AlertTarget,
  id: string,
  plan: Extract<AlertPlan, { kind: 'start' }>,
  options: TargetStartOptions,
): InvestigationInput | ClusterInvestigationInput {
  if ('nodeIp' in target) return nodeInputOfTarget(target, id, plan, options);
  return {
    investigationId: id,
    clusterId: target.clusterHint,
    natGatewayId: target.natGatewayId,
    maxNodes: target.allNodes.maxNodes,
    ...(options.maxParallel !== undefined ? { maxParallel: options.maxParallel } : {}),
    trigger: alertTriggerOf(plan),
    scope: { clusterId: target.clusterHint },
  } satisfies ClusterInvestigationInput;
}

/** The report's trigger of an alert-started investigation. */
export function alertTriggerOf(plan: Extract<AlertPlan, { kind: 'start' }>): ReportTrigger {
  return { kind: 'alert', source: plan.alertRule, alertId: plan.alertId };
}

/**
 * A load balancer target's `InvestigationInput`: the node by its IP, `scope` naming the load balancer (and the cluster
 * SNAT_LB_CLUSTER_MAP gives it, when it does), and the alert's window when the alert has both ends. With `scope` and
 * `alertWindow`, resolveTarget reads the node's SNAT metrics over that window wherever its host has a reader: the
 * Functions app always, `snat-responder serve` when it was given one (lib/serve/server.ts uses this too).
 */
export function nodeInputOfTarget(
  target: LoadBalancerTarget,
  id: string,
  plan: Extract<AlertPlan, { kind: 'start' }>,
  options: Pick<TargetStartOptions, 'captureSeconds'>,
): InvestigationInput {
  const { start, end } = plan.window;
  return {
    investigationId: id,
    node: { ip: target.nodeIp },
    captureSeconds: options.captureSeconds,
    trigger: alertTriggerOf(plan),
    scope: {
      loadBalancerId: target.loadBalancerId,
      ...(target.clusterHint !== undefined ? { clusterId: target.clusterHint } : {}),
    },
    ...(start !== null && end !== null ? { alertWindow: { start, end } } : {}),
  };
}

/**
 * Claims every start target of a plan, one after the other (the plan is bounded by SNAT_MAX_NODES_PER_ALERT). A NAT
 * gateway target's key is its cluster's (`keyOfTarget`): one live census per cluster, whichever gateway fired.
 */
export async function startAlertTargets(
  instances: DurableInstances,
  plan: Extract<AlertPlan, { kind: 'start' }>,
  options: TargetStartOptions & { readonly now: Date; readonly cooldownMs: number },
): Promise<StartedTarget[]> {
  const started: StartedTarget[] = [];
  for (const target of plan.targets) {
    const claim = await claimInstance(
      instances,
      keyOfTarget(target),
      (id) => inputOfTarget(target, id, plan, options),
      options.now,
      options.cooldownMs,
      orchestratorOfTarget(target),
    );
    started.push({ target, ...claim });
  }
  return started;
}
