/**
 * The Durable side of the intake (lib/serve/durable.ts) over an in-memory `DurableInstances`: which orchestrator each
 * start target runs, with which input (a NAT gateway's cluster census; a load balancer node's scope and alert window),
 * and the de-duplication of censuses (one live census per cluster, cooldown respected).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DurableClient } from 'durable-functions';
import { loadSettings } from '../../lib/config/settings.js';
import { keyOfTarget, planAlert } from '../../lib/intake/alert.js';
import type { AlertPlan, NatGatewayTarget } from '../../lib/intake/alert.js';
import { bucketMsFor, instanceIdFor } from '../../lib/intake/registry.js';
import type { DurableInstances, InstanceView } from '../../lib/intake/registry.js';
import { durableInstances, inputOfTarget, orchestratorOfTarget, startAlertTargets } from '../../lib/serve/durable.js';

const SUB = '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b';
const LB = `${SUB}/resourcegroups/mc_rg-shop_aks-shop_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const NATGW = `${SUB}/resourcegroups/rg-shop-egress/providers/microsoft.network/natgateways/ng-shop-egress`;
const NATGW_B = `${SUB}/resourcegroups/rg-shop-egress/providers/microsoft.network/natgateways/ng-shop-egress-b`;
const CLUSTER = `${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`;
const ALERT_ID = `${SUB}/providers/Microsoft.AlertsManagement/alerts/0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098`;
const WINDOW = { start: '2024-05-02T10:05:00.000Z', end: '2024-05-02T10:10:00.000Z' };
const MINUTE = 60_000;
const COOLDOWN = 30 * MINUTE;
const T0 = new Date('2026-11-26T10:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);

const settings = (extra: Record<string, string> = {}) =>
  loadSettings({
    SNAT_TASK_HUB: 'snathub',
    SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true',
    SNAT_LB_CLUSTER_MAP: JSON.stringify({ [LB]: CLUSTER }),
    SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: CLUSTER }),
    ...extra,
  });
const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/alert/${name}`, import.meta.url));
type StartPlan = Extract<AlertPlan, { kind: 'start' }>;
const planOf = (name: string, extra: Record<string, string> = {}): StartPlan => {
  const plan = planAlert(fixture(name), settings(extra));
  if (plan.kind !== 'start') throw new Error(`${name}: ${JSON.stringify(plan)}`);
  return plan;
};

/** Durable's instance store in memory: what the extension would answer, and every start. */
class MemoryInstances implements DurableInstances {
  readonly views = new Map<string, InstanceView>();
  readonly starts: Array<{ instanceId: string; input: unknown; orchestrator: string | undefined }> = [];
  constructor(private readonly clock: () => Date) {}
  getStatus(instanceId: string) {
    return Promise.resolve(this.views.get(instanceId) ?? null);
  }
  startNew(instanceId: string, input: unknown, orchestrator?: string) {
    this.starts.push({ instanceId, input, orchestrator });
    const t = this.clock();
    this.views.set(instanceId, { instanceId, runtimeStatus: 'Running', createdTime: t, lastUpdatedTime: t });
    return Promise.resolve();
  }
  listSince() {
    return Promise.resolve([...this.views.values()]);
  }
  finish(instanceId: string, when: Date, output: unknown) {
    const view = this.views.get(instanceId)!;
    this.views.set(instanceId, { ...view, runtimeStatus: 'Completed', lastUpdatedTime: when, output });
  }
}

describe('start targets of a NAT gateway alert: a cluster census (investigateCluster)', () => {
  it('starts investigateCluster under the deterministic id with the census input: cluster scope, bound, gateway', async () => {
    const plan = planOf('natgw-snat-connection-count.json', { SNAT_MAX_NODES_PER_ALERT: '5' });
    const instances = new MemoryInstances(() => T0);
    const started = await startAlertTargets(instances, plan, {
      now: T0,
      cooldownMs: COOLDOWN,
      captureSeconds: 30,
      maxParallel: 3,
    });
    const target = plan.targets[0] as NatGatewayTarget;
    const id = instanceIdFor(keyOfTarget(target), T0, bucketMsFor(COOLDOWN));
    expect(started).toEqual([{ target, id, started: true }]);
    expect(instances.starts).toEqual([
      {
        instanceId: id,
        orchestrator: 'investigateCluster',
        input: {
          investigationId: id,
          clusterId: CLUSTER,
          natGatewayId: NATGW,
          maxNodes: 5,
          maxParallel: 3,
          trigger: { kind: 'alert', source: 'ng-shop-egress-snat-failed', alertId: ALERT_ID },
          scope: { clusterId: CLUSTER },
        },
      },
    ]);
    // No capture window in a census: capture Jobs are never run for a NAT gateway alert.
    expect(JSON.stringify(instances.starts[0]!.input)).not.toContain('captureSeconds');
  });

  it('one live census per cluster: the same alert reuses it while it runs and inside the cooldown, so does another gateway of the cluster; after the cooldown a new one starts', async () => {
    let now = T0;
    const instances = new MemoryInstances(() => now);
    const plan = planOf('natgw-snat-connection-count.json');
    const options = () => ({ now, cooldownMs: COOLDOWN, captureSeconds: 30 });
    const [first] = await startAlertTargets(instances, plan, options());
    expect(first).toMatchObject({ started: true });

    now = at(5);
    expect(await startAlertTargets(instances, plan, options())).toMatchObject([
      { id: first!.id, started: false, why: 'running' },
    ]);
    const otherGateway: StartPlan = {
      ...plan,
      targets: [{ natGatewayId: NATGW_B, clusterHint: CLUSTER.toLowerCase(), allNodes: { maxNodes: 10 } }],
    };
    expect(await startAlertTargets(instances, otherGateway, options())).toMatchObject([
      { id: first!.id, started: false, why: 'running' },
    ]);

    instances.finish(first!.id, at(6), { outcome: 'census' });
    now = at(20);
    expect(await startAlertTargets(instances, plan, options())).toMatchObject([
      { id: first!.id, started: false, why: 'cooldown' },
    ]);
    expect(instances.starts).toHaveLength(1);

    now = at(6 + 31);
    const [later] = await startAlertTargets(instances, plan, options());
    expect(later).toMatchObject({ started: true });
    expect(later!.id).not.toBe(first!.id);
    expect(instances.starts.map((s) => s.orchestrator)).toEqual(['investigateCluster', 'investigateCluster']);
  });

  it('a census and a node investigation of the same cluster do not block each other', async () => {
    const instances = new MemoryInstances(() => T0);
    const options = { now: T0, cooldownMs: COOLDOWN, captureSeconds: 30 };
    await startAlertTargets(instances, planOf('natgw-snat-connection-count.json'), options);
    await startAlertTargets(instances, planOf('common-lb-used-snat-ports.json'), options);
    expect(instances.starts.map((s) => s.orchestrator)).toEqual(['investigateCluster', 'investigateSnat']);
  });
});

describe('start targets of a load balancer alert: investigateSnat with the scope and window the host needs', () => {
  it('passes scope {loadBalancerId, clusterId} and the alert window', async () => {
    const plan = planOf('common-lb-used-snat-ports.json');
    const instances = new MemoryInstances(() => T0);
    const [started] = await startAlertTargets(instances, plan, { now: T0, cooldownMs: COOLDOWN, captureSeconds: 20 });
    expect(instances.starts).toEqual([
      {
        instanceId: started!.id,
        orchestrator: 'investigateSnat',
        input: {
          investigationId: started!.id,
          node: { ip: '10.224.0.5' },
          captureSeconds: 20,
          trigger: { kind: 'alert', source: 'aks-shop-used-snat-ports', alertId: ALERT_ID },
          scope: { loadBalancerId: LB, clusterId: CLUSTER },
          alertWindow: WINDOW,
        },
      },
    ]);
  });

  it('an unmapped load balancer: its id alone in the scope; a window without a start: no alertWindow', () => {
    const plan = planOf('common-lb-used-snat-ports.json', { SNAT_LB_CLUSTER_MAP: '' });
    const target = plan.targets[0]!;
    expect(orchestratorOfTarget(target)).toBe('investigateSnat');
    expect(inputOfTarget(target, 'snat-1', plan, { captureSeconds: 30 })).toMatchObject({
      scope: { loadBalancerId: LB },
      alertWindow: WINDOW,
    });
    expect(inputOfTarget(target, 'snat-1', plan, { captureSeconds: 30 })).not.toHaveProperty('scope.clusterId');
    const open: StartPlan = { ...plan, window: { start: null, end: WINDOW.end } };
    expect(inputOfTarget(target, 'snat-1', open, { captureSeconds: 30 })).not.toHaveProperty('alertWindow');
  });
});

describe('durableInstances (the DurableClient adapter)', () => {
  it('starts investigateSnat by default (callers that name no orchestrator), else the one named', async () => {
    const calls: Array<[string, unknown]> = [];
    const client = {
      startNew: (name: string, options: unknown) => {
        calls.push([name, options]);
        return Promise.resolve('id');
      },
    } as unknown as DurableClient;
    await durableInstances(client).startNew('a', { x: 1 });
    await durableInstances(client).startNew('b', { y: 2 }, 'investigateCluster');
    expect(calls).toEqual([
      ['investigateSnat', { instanceId: 'a', input: { x: 1 } }],
      ['investigateCluster', { instanceId: 'b', input: { y: 2 } }],
    ]);
  });
});
