/**
 * SNAT metrics of a node through the real @azure/arm-monitor client against the loopback ARM sim (HTTPS, committed
 * test certificate, stub credential).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { armSession, isArmError } from '../../lib/azure/arm.js';
import type { ArmSession } from '../../lib/azure/arm.js';
import { metricsQueryWindow, readSnatMetrics, snatMetricsForNode } from '../../lib/azure/metrics.js';
import { shareOf } from '../../lib/analysis/rank.js';
import { startArmSim } from '../../sim/arm.js';
import type { RunningArmSim } from '../../sim/arm.js';
import { stubCredential } from '../fixtures/azure/arm/stub-credential.js';

const SUB = '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
const LB = `/subscriptions/${SUB}/resourcegroups/mc_rg-shop-prod_aks-shop-prod_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const WINDOW = { start: '2026-11-26T08:55:00Z', end: '2026-11-26T09:00:00Z' };
const TIMESPAN = '2026-11-26T08:55:00.000Z/2026-11-26T09:00:00.000Z';
const noSleep = { sleep: () => Promise.resolve(), random: () => 0 };

describe('snatMetricsForNode against the ARM sim (default data)', () => {
  let arm: RunningArmSim;
  let session: ArmSession;
  beforeAll(async () => {
    arm = await startArmSim();
    session = armSession({ credential: stubCredential(), endpoint: arm.url, caPem: arm.caPem, retry: noSleep });
  });
  afterAll(() => arm.close());
  afterEach(() => arm.clearRequests());

  it('reads 10.224.0.4 over the alert window with two exact requests: ports peak, allocation, failed total', async () => {
    const snat = await snatMetricsForNode({ lbId: LB, nodeIp: '10.224.0.4', window: WINDOW }, { session });
    // 5 one-minute points, 12 failed connections each.
    expect(snat).toEqual({ allocatedPorts: 1024, usedPorts: 1010, failedConnections: 60 });
    const requests = arm.requests();
    expect(requests.map((r) => r.path)).toEqual([
      `${LB}/providers/Microsoft.Insights/metrics`,
      `${LB}/providers/Microsoft.Insights/metrics`,
    ]);
    expect(requests.map((r) => Object.fromEntries(r.query))).toEqual([
      {
        $filter: "BackendIPAddress eq '10.224.0.4'",
        'api-version': '2018-01-01',
        metricnamespace: 'Microsoft.Network/loadBalancers',
        timespan: TIMESPAN,
        interval: 'PT1M',
        metricnames: 'AllocatedSnatPorts,UsedSnatPorts',
        aggregation: 'Average,Maximum',
      },
      {
        $filter: "BackendIPAddress eq '10.224.0.4' and ConnectionState eq 'failed'",
        'api-version': '2018-01-01',
        metricnamespace: 'Microsoft.Network/loadBalancers',
        timespan: TIMESPAN,
        interval: 'PT1M',
        metricnames: 'SnatConnectionCount',
        aggregation: 'Total',
      },
    ]);
    // No `//subscriptions`: the SDK's `/{resourceUri}` template got the id without its leading slash.
    expect(requests[0]?.url.startsWith(`/subscriptions/${SUB}/`)).toBe(true);
    expect(requests.every((r) => r.authorization === 'Bearer fake')).toBe(true);
  });

  it('10.224.0.40 (a prefix match of 10.224.0.4) is its own, quiet node', async () => {
    const snat = await snatMetricsForNode({ lbId: LB, nodeIp: '10.224.0.40', window: WINDOW }, { session });
    expect(snat).toEqual({ allocatedPorts: 1024, usedPorts: 64, failedConnections: 0 });
  });

  it('an IP the load balancer has no series for: every value null (no data is not zero)', async () => {
    const snat = await snatMetricsForNode({ lbId: LB, nodeIp: '10.224.0.99', window: WINDOW }, { session });
    expect(snat).toEqual({ allocatedPorts: null, usedPorts: null, failedConnections: null });
  });

  it('canonicalises the IP before it reaches the filter (IPv4-mapped IPv6 -> dotted quad)', async () => {
    await snatMetricsForNode({ lbId: LB, nodeIp: ' ::ffff:10.224.0.4 ', window: WINDOW }, { session });
    expect(arm.requests()[0]?.query.find(([k]) => k === '$filter')?.[1]).toBe("BackendIPAddress eq '10.224.0.4'");
  });

  it.each([
    "10.224.0.4' or BackendIPAddress eq '*",
    'aks-nodepool1-12345678-vmss000000',
    '10.224.0.4/32',
    '010.224.0.4',
    '0x0a.224.0.4',
    '',
  ])('refuses %j before any request', async (nodeIp) => {
    await expect(snatMetricsForNode({ lbId: LB, nodeIp, window: WINDOW }, { session })).rejects.toSatisfy(
      (e) => isArmError(e, 'invalid') && e.code === 'BAD_INPUT' && e.message.includes(JSON.stringify(nodeIp)),
    );
    expect(arm.requests()).toEqual([]);
  });

  it('refuses a bad window or a non-LB id before any request', async () => {
    const bad = [
      { lbId: LB, nodeIp: '10.224.0.4', window: { start: WINDOW.end, end: WINDOW.start } },
      { lbId: LB, nodeIp: '10.224.0.4', window: { start: 'yesterday', end: WINDOW.end } },
      { lbId: LB.replace('loadbalancers', 'publicipaddresses'), nodeIp: '10.224.0.4', window: WINDOW },
    ];
    for (const request of bad) {
      await expect(snatMetricsForNode(request, { session })).rejects.toSatisfy((e) => isArmError(e, 'invalid'));
    }
    expect(arm.requests()).toEqual([]);
  });

  it('retries a throttled metrics call after Retry-After; a missing load balancer is not-found naming it', async () => {
    arm.failNext(1, { status: 429, retryAfter: 2, pathIncludes: 'microsoft.insights/metrics' });
    const snat = await snatMetricsForNode({ lbId: LB, nodeIp: '10.224.0.4', window: WINDOW }, { session });
    expect(snat.allocatedPorts).toBe(1024);
    expect(arm.requests().map((r) => r.status)).toEqual([429, 200, 200]);
    const gone = LB.replace('kubernetes', 'kubernetes-internal');
    await expect(
      snatMetricsForNode({ lbId: gone, nodeIp: '10.224.0.4', window: WINDOW }, { session }),
    ).rejects.toSatisfy(
      (e) => isArmError(e, 'not-found') && e.message.includes(gone) && e.message.includes('10.224.0.4'),
    );
  });

  it('readSnatMetrics: Monitor values win; the allocatedPorts setting fills only what Monitor lacks', async () => {
    const request = { lbId: LB, nodeIp: '10.224.0.4', window: WINDOW };
    const outcome = await readSnatMetrics(request, { session, fallback: { allocatedPorts: 2048 } });
    expect(outcome).toEqual({ ok: true, snat: { allocatedPorts: 1024, usedPorts: 1010, failedConnections: 60 } });
    // The scoring's denominator: the culprit's 870 flows toward one destination against Monitor's allocation.
    expect(shareOf(870, outcome.snat.allocatedPorts)).toBe(0.8496);
    const quiet = await readSnatMetrics(
      { ...request, nodeIp: '10.224.0.99' },
      { session, fallback: { allocatedPorts: 2048 } },
    );
    expect(quiet).toEqual({ ok: true, snat: { allocatedPorts: 2048, usedPorts: null, failedConnections: null } });
  });

  it('readSnatMetrics: final failures come back as values for the report; transient ones still throw', async () => {
    const request = { lbId: LB, nodeIp: '10.224.0.4', window: WINDOW };
    arm.failNext(1, { status: 403 });
    const denied = await readSnatMetrics(request, { session, fallback: { allocatedPorts: 1024 } });
    expect(denied).toMatchObject({
      ok: false,
      reason: 'forbidden',
      snat: { allocatedPorts: 1024, usedPorts: null, failedConnections: null },
    });
    expect(!denied.ok && denied.message).toContain(
      `read SNAT port metrics of 10.224.0.4 on ${LB}: HTTP 403 AuthorizationFailed`,
    );
    expect(await readSnatMetrics({ ...request, nodeIp: 'node-1' }, { session })).toMatchObject({
      ok: false,
      reason: 'invalid',
    });
    arm.failNext(4, { status: 503, retryAfter: 1 });
    await expect(readSnatMetrics(request, { session })).rejects.toSatisfy((e) => isArmError(e, 'server'));
  });

  it('uses an hour grain for windows over a day', () => {
    expect(metricsQueryWindow({ start: '2026-11-24T00:00:00Z', end: '2026-11-26T00:00:00Z' }).interval).toBe('PT1H');
    expect(metricsQueryWindow({ start: new Date(0), end: new Date(60_000) })).toEqual({
      timespan: '1970-01-01T00:00:00.000Z/1970-01-01T00:01:00.000Z',
      interval: 'PT1M',
    });
  });
});

describe('snatMetricsForNode: names as Azure may spell them', () => {
  it('matches metric names and the backend dimension case-insensitively (UsedSNATPorts)', async () => {
    const arm = await startArmSim({ metricNameCase: 'upper-snat' });
    try {
      const session = armSession({ credential: stubCredential(), endpoint: arm.url, caPem: arm.caPem, retry: noSleep });
      const snat = await snatMetricsForNode({ lbId: LB, nodeIp: '10.224.0.4', window: WINDOW }, { session });
      expect(snat).toEqual({ allocatedPorts: 1024, usedPorts: 1010, failedConnections: 60 });
    } finally {
      await arm.close();
    }
  });
});
