/**
 * Listing the cluster's nodes for a NAT gateway alert's census (lib/k8s/nodes.ts `listNodes`, `selectNodes`) and the
 * `listNodes` activity, through the real @kubernetes/client-node against the simulated cluster (sim/): the built-in
 * `small` scenario with nodes added in the test (cordoned, not Ready, unsorted names), no new scenario file.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKubeClients } from '../../lib/k8s/access.js';
import type { KubeClients } from '../../lib/k8s/access.js';
import { listNodes, selectNodes } from '../../lib/k8s/nodes.js';
import type { ListedNode } from '../../lib/k8s/nodes.js';
import { listNodes as listNodesActivity } from '../../lib/workflow/activities/listNodes.js';
import type { ActivityContext } from '../../lib/workflow/context.js';
import { SCENARIO_DIR } from '../../sim/paths.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim, ScenarioInput } from '../../sim/server.js';

const NODE_0 = 'aks-nodepool1-12345678-vmss000000';
const NODE_40 = 'aks-nodepool1-12345678-vmss000001';

/** `small` (two Ready nodes) plus: one cordoned, one not Ready, two more Ready ones whose names sort first and last. */
function scenario(): ScenarioInput {
  const small = JSON.parse(readFileSync(`${SCENARIO_DIR}/small.json`, 'utf8')) as ScenarioInput;
  return {
    ...small,
    name: 'small-plus-nodes',
    nodes: [
      ...small.nodes,
      { name: 'aks-userpool-87654321-vmss000002', internalIP: '10.224.1.6', createdSecondsAgo: 3600 },
      { name: 'aks-nodepool1-12345678-vmss000003', internalIP: '10.224.0.7', unschedulable: true },
      { name: 'aks-nodepool1-12345678-vmss000004', internalIP: '10.224.0.8', ready: false },
      { name: 'aks-aaapool-11111111-vmss000000', internalIP: '10.224.2.4' },
    ],
  };
}

let sim: RunningSim;
let clients: KubeClients;

beforeAll(async () => {
  sim = await startSim({ scenario: scenario(), timeScale: 0.05 });
  clients = makeKubeClients(sim.kubeConfig(), {
    requestTimeoutMs: 5_000,
    retry: { sleep: () => Promise.resolve(), random: () => 0 },
  });
});
afterAll(() => sim.close());

describe('listNodes against the simulated cluster', () => {
  it('lists every node with its first InternalIP, Ready, cordoned and creation time', async () => {
    const before = Date.now();
    const nodes = await listNodes(clients);
    expect(nodes.map((n) => n.name).sort()).toEqual(
      [
        NODE_0,
        NODE_40,
        'aks-userpool-87654321-vmss000002',
        'aks-nodepool1-12345678-vmss000003',
        'aks-nodepool1-12345678-vmss000004',
        'aks-aaapool-11111111-vmss000000',
      ].sort(),
    );
    const byName = new Map(nodes.map((n) => [n.name, n]));
    expect(byName.get(NODE_0)).toMatchObject({ ip: '10.224.0.4', ready: true, unschedulable: false });
    expect(byName.get(NODE_40)).toMatchObject({ ip: '10.224.0.40', ready: true, unschedulable: false });
    expect(byName.get('aks-nodepool1-12345678-vmss000003')).toMatchObject({ ready: true, unschedulable: true });
    expect(byName.get('aks-nodepool1-12345678-vmss000004')).toMatchObject({ ready: false, unschedulable: false });
    // 14 days ago by default; the added userpool node an hour ago (the API's RFC 3339 has whole seconds).
    const age = (name: string) => (before - Date.parse(byName.get(name)!.createdAt!)) / 1000;
    expect(age(NODE_0)).toBeGreaterThan(14 * 86_400 - 60);
    expect(age('aks-userpool-87654321-vmss000002')).toBeGreaterThan(3_600 - 60);
    expect(age('aks-userpool-87654321-vmss000002')).toBeLessThan(3_600 + 60);
  });

  it('the listNodes activity: Ready and schedulable first, by name, bounded; what is left out is counted', async () => {
    const ctx = { clients } as unknown as ActivityContext;
    expect(await listNodesActivity(ctx, { investigationId: 'c-1', maxNodes: 10 })).toEqual({
      nodes: [
        { name: 'aks-aaapool-11111111-vmss000000', ip: '10.224.2.4' },
        { name: NODE_0, ip: '10.224.0.4' },
        { name: NODE_40, ip: '10.224.0.40' },
        { name: 'aks-userpool-87654321-vmss000002', ip: '10.224.1.6' },
        // Cordoned: its pods still hold SNAT ports, so it is censused, after the schedulable ones.
        { name: 'aks-nodepool1-12345678-vmss000003', ip: '10.224.0.7' },
      ],
      total: 6,
      skipped: { notReady: 1, overLimit: 0 },
    });
    expect(await listNodesActivity(ctx, { investigationId: 'c-1', maxNodes: 2 })).toEqual({
      nodes: [
        { name: 'aks-aaapool-11111111-vmss000000', ip: '10.224.2.4' },
        { name: NODE_0, ip: '10.224.0.4' },
      ],
      total: 6,
      skipped: { notReady: 1, overLimit: 3 },
    });
    // The host's cluster, when it knows it, comes back with the nodes (as resolveTarget's does).
    const withCluster = {
      clients,
      cluster: { resourceId: '/subscriptions/s/x', name: 'aks' },
    } as unknown as ActivityContext;
    expect(await listNodesActivity(withCluster, { investigationId: 'c-1', maxNodes: 1 })).toMatchObject({
      cluster: { resourceId: '/subscriptions/s/x', name: 'aks' },
      nodes: [{ name: 'aks-aaapool-11111111-vmss000000' }],
    });
  });

  it('the built-in default scenario: both its nodes', async () => {
    const other = await startSim({ scenario: 'default', timeScale: 0.05 });
    try {
      const c = makeKubeClients(other.kubeConfig(), { requestTimeoutMs: 5_000 });
      const ctx = { clients: c } as unknown as ActivityContext;
      expect(await listNodesActivity(ctx, { investigationId: 'c-2', maxNodes: 10 })).toEqual({
        nodes: [
          { name: NODE_0, ip: '10.224.0.4' },
          { name: NODE_40, ip: '10.224.0.40' },
        ],
        total: 2,
        skipped: { notReady: 0, overLimit: 0 },
      });
    } finally {
      await other.close();
    }
  });
});

describe('selectNodes', () => {
  const node = (name: string, over: Partial<ListedNode> = {}): ListedNode => ({
    name,
    ip: null,
    ready: true,
    unschedulable: false,
    createdAt: null,
    ...over,
  });

  it('a node without a Ready condition is not Ready; a bound of 0 or NaN keeps none, and says so', () => {
    const nodes = [node('b'), node('a', { ready: null }), node('c', { ready: false }), node('d')];
    expect(selectNodes(nodes, 10)).toEqual({
      nodes: [node('b'), node('d')],
      total: 4,
      skipped: { notReady: 2, overLimit: 0 },
    });
    expect(selectNodes(nodes, 0)).toMatchObject({ nodes: [], skipped: { notReady: 2, overLimit: 2 } });
    expect(selectNodes(nodes, Number.NaN)).toMatchObject({ nodes: [], skipped: { overLimit: 2 } });
    expect(selectNodes(nodes, 1.9)).toMatchObject({ nodes: [node('b')], skipped: { overLimit: 1 } });
    expect(selectNodes([], 5)).toEqual({ nodes: [], total: 0, skipped: { notReady: 0, overLimit: 0 } });
  });

  it('is deterministic whatever the order the API answers in', () => {
    const nodes = [node('n3', { unschedulable: true }), node('n2'), node('n1', { unschedulable: true }), node('n0')];
    const names = (list: ListedNode[]) => selectNodes(list, 3).nodes.map((n) => n.name);
    expect(names(nodes)).toEqual(['n0', 'n2', 'n1']);
    expect(names([...nodes].reverse())).toEqual(['n0', 'n2', 'n1']);
  });
});
