/**
 * LB id -> AKS cluster through the real @azure/arm-containerservice client against the loopback ARM sim (HTTPS,
 * committed test certificate, stub credential).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { armSession, isArmError } from '../../lib/azure/arm.js';
import type { ArmSession } from '../../lib/azure/arm.js';
import { clusterLookup, parseClusterMapping } from '../../lib/azure/cluster.js';
import { startArmSim } from '../../sim/arm.js';
import type { ArmSimCluster, RunningArmSim } from '../../sim/arm.js';
import { stubCredential } from '../fixtures/azure/arm/stub-credential.js';

const SUB = '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
const LB = `/subscriptions/${SUB}/resourcegroups/mc_rg-shop-prod_aks-shop-prod_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const CLUSTER = `/subscriptions/${SUB}/resourcegroups/rg-shop-prod/providers/Microsoft.ContainerService/managedClusters/aks-shop-prod`;

const noSleep = { sleep: () => Promise.resolve(), random: () => 0 };

function sessionFor(arm: RunningArmSim, credential = stubCredential()): ArmSession {
  return armSession({ credential, endpoint: arm.url, caPem: arm.caPem, retry: noSleep });
}

describe('clusterForLoadBalancer against the ARM sim (default data)', () => {
  let arm: RunningArmSim;
  beforeAll(async () => {
    arm = await startArmSim();
  });
  afterAll(() => arm.close());
  afterEach(() => arm.clearRequests());

  it('matches the lower-cased LB id to the cluster whose nodeResourceGroup is MC_..., with one exact request', async () => {
    const credential = stubCredential();
    const lookup = clusterLookup({ session: sessionFor(arm, credential) });
    const ref = await lookup.clusterForLoadBalancer(LB);
    expect(ref).toEqual({
      id: CLUSTER.replace('resourceGroups', 'resourcegroups'),
      subscriptionId: SUB,
      resourceGroup: 'rg-shop-prod',
      name: 'aks-shop-prod',
      nodeResourceGroup: 'MC_rg-shop-prod_aks-shop-prod_westeurope',
      source: 'arm',
    });
    expect(arm.ids.loadBalancerId).toBe(LB);
    const requests = arm.requests();
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET /subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters?api-version=2026-04-01`,
    ]);
    expect(requests[0]?.authorization).toBe('Bearer fake');
    expect(credential.scopes).toEqual(['https://management.azure.com/.default']);
  });

  it('caches the subscription listing: a second lookup, in any case, makes no request', async () => {
    const lookup = clusterLookup({ session: sessionFor(arm) });
    await lookup.clusterForLoadBalancer(LB);
    await lookup.clusterForLoadBalancer(
      LB.toUpperCase().replace('/SUBSCRIPTIONS/' + SUB.toUpperCase(), `/subscriptions/${SUB}`),
    );
    expect(arm.requests()).toHaveLength(1);
  });

  it('lists again once the TTL has passed', async () => {
    let now = 1_000_000;
    const lookup = clusterLookup({ session: sessionFor(arm), ttlMs: 60_000, now: () => now });
    await lookup.clusterForLoadBalancer(LB);
    now += 59_999;
    await lookup.clusterForLoadBalancer(LB);
    expect(arm.requests()).toHaveLength(1);
    now += 1;
    await lookup.clusterForLoadBalancer(LB);
    expect(arm.requests()).toHaveLength(2);
  });

  it('shares one in-flight listing between concurrent lookups', async () => {
    const lookup = clusterLookup({ session: sessionFor(arm) });
    await Promise.all([lookup.clusterForLoadBalancer(LB), lookup.clusterForLoadBalancer(LB)]);
    expect(arm.requests()).toHaveLength(1);
  });

  it('uses the mapping first, by LB id, node resource group id or group name, with no request', async () => {
    const target = `/subscriptions/${SUB}/resourceGroups/rg-other/providers/Microsoft.ContainerService/managedClusters/aks-other`;
    for (const key of [
      LB.toUpperCase().replace(SUB.toUpperCase(), SUB),
      `/subscriptions/${SUB}/resourceGroups/MC_rg-shop-prod_aks-shop-prod_westeurope`,
      'MC_RG-SHOP-PROD_AKS-SHOP-PROD_WESTEUROPE',
    ]) {
      const lookup = clusterLookup({ session: sessionFor(arm), mapping: { [key]: target } });
      const ref = await lookup.clusterForLoadBalancer(LB);
      expect(ref).toMatchObject({ id: target, name: 'aks-other', resourceGroup: 'rg-other', source: 'mapping' });
    }
    expect(arm.requests()).toEqual([]);
  });

  it('rejects a bad mapping setting, naming every bad entry at once', () => {
    let error: unknown;
    try {
      parseClusterMapping({ 'not an id!': CLUSTER, [LB]: '/subscriptions/x/resourceGroups/y', ok: CLUSTER });
    } catch (e) {
      error = e;
    }
    expect(isArmError(error, 'config')).toBe(true);
    expect((error as Error).message).toContain('"not an id!"');
    expect((error as Error).message).toContain(JSON.stringify(LB));
    expect((error as Error).message).toContain('/subscriptions/x/resourceGroups/y');
  });

  it('says which LB has no cluster, and refuses ids that are not load balancers before any request', async () => {
    const lookup = clusterLookup({ session: sessionFor(arm) });
    const other = LB.replace('mc_rg-shop-prod', 'mc_rg-gone');
    await expect(lookup.clusterForLoadBalancer(other)).rejects.toSatisfy(
      (e) => isArmError(e, 'not-found') && e.message.includes(other) && e.message.includes('mc_rg-gone'),
    );
    arm.clearRequests();
    await expect(lookup.clusterForLoadBalancer(CLUSTER)).rejects.toSatisfy(
      (e) => isArmError(e, 'invalid') && e.message.includes(CLUSTER) && e.message.includes('loadBalancers'),
    );
    await expect(lookup.clusterForLoadBalancer('/subscriptions/not-a-guid/resourceGroups/x')).rejects.toSatisfy(
      (e) => isArmError(e, 'invalid') && e.message.includes('not-a-guid'),
    );
    expect(arm.requests()).toEqual([]);
  });

  it('retries a 429 after its Retry-After and then answers; a 403 is final and names the operation', async () => {
    const delays: number[] = [];
    const session = armSession({
      credential: stubCredential(),
      endpoint: arm.url,
      caPem: arm.caPem,
      retry: { sleep: (ms) => (delays.push(ms), Promise.resolve()), random: () => 0 },
    });
    arm.failNext(1, { status: 429, retryAfter: 7 });
    const ref = await clusterLookup({ session }).clusterForLoadBalancer(LB);
    expect(ref.name).toBe('aks-shop-prod');
    expect(delays).toEqual([7000]);
    expect(arm.requests().map((r) => r.status)).toEqual([429, 200]);

    arm.failNext(1, { status: 403 });
    await expect(clusterLookup({ session }).clusterForLoadBalancer(LB)).rejects.toSatisfy(
      (e) =>
        isArmError(e, 'forbidden') &&
        e.status === 403 &&
        e.armCode === 'AuthorizationFailed' &&
        e.message.startsWith(`list managed clusters of subscription ${SUB}: HTTP 403 AuthorizationFailed`),
    );
    expect(delays).toEqual([7000]);
  });

  it('gives up on a Retry-After longer than the cap, as throttled', async () => {
    arm.failNext(1, { status: 429, retryAfter: 3600 });
    await expect(clusterLookup({ session: sessionFor(arm) }).clusterForLoadBalancer(LB)).rejects.toSatisfy(
      (e) => isArmError(e, 'throttled') && e.retryAfterMs === 3_600_000 && e.code === 'ENVIRONMENT',
    );
    expect(arm.requests()).toHaveLength(1);
  });
});

describe('clusterForLoadBalancer with several clusters', () => {
  const base = { subscriptionId: SUB, location: 'westeurope' };
  const clusters: ArmSimCluster[] = [
    { ...base, resourceGroup: 'rg-a', name: 'aks-a', nodeResourceGroup: 'MC_rg-a_aks-a_westeurope' },
    { ...base, resourceGroup: 'rg-b', name: 'aks-b', nodeResourceGroup: 'Custom-Nodes-B' },
    { ...base, resourceGroup: 'rg-c', name: 'aks-c', nodeResourceGroup: 'shared-nodes' },
    { ...base, resourceGroup: 'rg-d', name: 'aks-d', nodeResourceGroup: 'SHARED-NODES' },
  ];
  let arm: RunningArmSim;
  beforeAll(async () => {
    arm = await startArmSim({ clusters, metrics: {}, listPageSize: 1 });
  });
  afterAll(() => arm.close());

  const lbIn = (group: string) =>
    `/subscriptions/${SUB}/resourcegroups/${group}/providers/microsoft.network/loadbalancers/kubernetes`;

  it('follows nextLink pages and matches a custom node resource group case-insensitively', async () => {
    arm.clearRequests();
    const ref = await clusterLookup({ session: sessionFor(arm) }).clusterForLoadBalancer(lbIn('custom-nodes-b'));
    expect(ref).toMatchObject({ name: 'aks-b', nodeResourceGroup: 'Custom-Nodes-B', source: 'arm' });
    expect(arm.requests().map((r) => r.query.find(([k]) => k === '$skipToken')?.[1] ?? null)).toEqual([
      null,
      '1',
      '2',
      '3',
    ]);
  });

  it('reports an ambiguous node resource group with every candidate; the mapping settles it', async () => {
    const lb = lbIn('shared-nodes');
    await expect(clusterLookup({ session: sessionFor(arm) }).clusterForLoadBalancer(lb)).rejects.toSatisfy(
      (e) =>
        isArmError(e, 'ambiguous') &&
        e.code === 'BAD_INPUT' &&
        e.message.includes(lb) &&
        e.message.includes('/managedClusters/aks-c') &&
        e.message.includes('/managedClusters/aks-d'),
    );
    const chosen = `/subscriptions/${SUB}/resourceGroups/rg-d/providers/Microsoft.ContainerService/managedClusters/aks-d`;
    const ref = await clusterLookup({
      session: sessionFor(arm),
      mapping: { 'shared-nodes': chosen },
    }).clusterForLoadBalancer(lb);
    expect(ref).toMatchObject({ id: chosen, source: 'mapping' });
  });
});
