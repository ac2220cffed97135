/**
 * The Durable side of the intake (functions/http-*.ts): Durable's instance store is the registry. A claim reads this
 * bucket's and the previous bucket's deterministic instance ids (`candidateInstanceIds`), decides with
 * `decideFromInstances` (reuse a running one, return a finished one inside the cooldown) and otherwise starts
 * `investigateSnat` under the new id. `durableInstances` adapts durable-functions' DurableClient to the port.
 */
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import { ORCHESTRATIONS } from '../workflow/contracts.js';
import type { InvestigationInput } from '../../orchestrations/investigate.js';
import type { ReportTrigger } from '../report/model.js';
import type { AlertPlan, AlertTarget } from '../intake/alert.js';
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
    async startNew(instanceId, input) {
      await client.startNew(ORCHESTRATIONS.investigateSnat, { instanceId, input });
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

/** One live investigation per key: reuse (running / inside the cooldown) or start `input(id)` under a fresh id. */
export async function claimInstance(
  instances: DurableInstances,
  key: InvestigationKey,
  input: (id: string) => unknown,
  now: Date,
  cooldownMs: number,
): Promise<Claimed> {
  const candidates = candidateInstanceIds(key, now, bucketMsFor(cooldownMs));
  const views = [await instances.getStatus(candidates[0]), await instances.getStatus(candidates[1])] as const;
  const decision = decideFromInstances(key, candidates, views, now, cooldownMs);
  if ('reuse' in decision) return { id: decision.reuse.id, started: false, why: decision.why };
  await instances.startNew(decision.start, input(decision.start));
  return { id: decision.start, started: true };
}

/**
 * What a start target of an alert asks the workflow: an `InvestigationInput` for a node IP; a NAT gateway census
 * (`allNodes`) carries its bound and cluster on top, for the census orchestration to read.
 */
export function inputOfTarget(
  target: AlertTarget,
  id: string,
  plan: Extract<AlertPlan, { kind: 'start' }>,
  captureSeconds: number,
): InvestigationInput | (Omit<InvestigationInput, 'node'> & { readonly allNodes: object; readonly cluster: string }) {
  const trigger: ReportTrigger = { kind: 'alert', source: plan.alertRule, alertId: plan.alertId };
  if ('nodeIp' in target) return { investigationId: id, node: { ip: target.nodeIp }, captureSeconds, trigger };
  return { investigationId: id, allNodes: target.allNodes, cluster: target.clusterHint, captureSeconds, trigger };
}

/** Claims every start target of a plan, one after the other (the plan is bounded by SNAT_MAX_NODES_PER_ALERT). */
export async function startAlertTargets(
  instances: DurableInstances,
  plan: Extract<AlertPlan, { kind: 'start' }>,
  options: { readonly now: Date; readonly cooldownMs: number; readonly captureSeconds: number },
): Promise<StartedTarget[]> {
  const started: StartedTarget[] = [];
  for (const target of plan.targets) {
    const claim = await claimInstance(
      instances,
      keyOfTarget(target),
      (id) => inputOfTarget(target, id, plan, options.captureSeconds),
      options.now,
      options.cooldownMs,
    );
    started.push({ target, ...claim });
  }
  return started;
}
