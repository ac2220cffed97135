/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   answers are read as loose JSON, as in serve.test.ts */
/**
 * `snat-responder serve` reading the node's SNAT metrics from Azure Monitor: the real @azure/arm-monitor client
 * against the ARM sim (sim/arm.ts: HTTPS with the committed test certificate, a stub credential), the simulated AKS
 * cluster (sim/server.ts), real HTTP on loopback. An alert-started investigation names the alert's load balancer and
 * window (`nodeInputOfTarget`, as the Functions intake does), so resolveTarget reads the metrics when serve has a
 * reader (`startServe({ snatMetrics })`; the command builds one when SNAT_ARM_ENDPOINT is set or with
 * --azure-monitor). Not Azure Monitor itself, not Entra ID: DefaultAzureCredential is never built here (it probes IMDS).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { azureMonitorReader, runServe, serveSettings } from '../../cli/serve.js';
import type { StopSignal } from '../../cli/sim.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { armSession, PUBLIC_ARM_ENDPOINT } from '../../lib/azure/arm.js';
import { snatMetricsReader } from '../../lib/azure/metrics.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import type { Report } from '../../lib/report/model.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer, ServeOptions } from '../../lib/serve/server.js';
import { snatAlert } from '../../sim/alerts.js';
import { armSimDataOf, startArmSim } from '../../sim/arm.js';
import type { RunningArmSim } from '../../sim/arm.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { stubCredential } from '../fixtures/azure/arm/stub-credential.js';

const TIMING = { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 };
const CLUSTER =
  '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop';
const noSleep = { sleep: () => Promise.resolve(), random: () => 0 };

let sim: RunningSim;
let arm: RunningArmSim;
const dir = mkdtempSync(join(tmpdir(), 'snat-serve-monitor-'));
const servers: RunningServer[] = [];

async function serve(extra: Partial<ServeOptions> = {}, env: Record<string, string> = {}): Promise<RunningServer> {
  const server = await startServe({
    clients: makeKubeClients(sim.kubeConfig(), { requestTimeoutMs: 5_000 }),
    clusterName: 'sim',
    settings: serveSettings(env).settings,
    classifier: new AddressClassifier(),
    outDir: mkdtempSync(join(dir, 'reports-')),
    captureSeconds: 1,
    run: { timing: TIMING },
    ...extra,
  });
  servers.push(server);
  return server;
}

const reader = () =>
  snatMetricsReader(armSession({ credential: stubCredential(), endpoint: arm.url, caPem: arm.caPem, retry: noSleep }));

/** An alert on the load balancer the ARM sim knows, for the scenario's node. */
function alertOn(firedAt = new Date()) {
  return snatAlert({
    nodeIp: sim.expected.nodeIp,
    firedAt,
    subscriptionId: arm.ids.subscriptionId,
    nodeResourceGroup: arm.ids.nodeResourceGroup,
  });
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/** Follows the investigation to its end and returns its report. */
async function reportOf(url: string, id: string): Promise<Report> {
  for (let i = 0; i < 400; i++) {
    const status = (await (await fetch(`${url}/api/investigations/${id}`)).json()) as Record<string, any>;
    if (!['pending', 'running'].includes(String(status.status))) {
      expect(status).toMatchObject({ status: 'completed', outcome: 'reported' });
      return (await (await fetch(String(status.report.links.json))).json()) as Report;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`investigation ${id} did not finish`);
}

const metricsRequests = () =>
  arm.requests().filter((r) => r.path.toLowerCase().endsWith('/microsoft.insights/metrics'));

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  arm = await startArmSim(armSimDataOf(sim.scenario));
});
afterEach(() => arm.clearRequests());
afterAll(async () => {
  for (const s of servers) await s.close();
  await arm?.close();
  await sim?.close();
});

describe('serve + Azure Monitor (ARM sim, stub credential, simulated cluster)', () => {
  it("an alert: the report's snat block is the node's metrics over the alert's window, read with two requests", async () => {
    const server = await serve({ snatMetrics: reader() });
    const firedAt = new Date();
    const alert = alertOn(firedAt);
    const res = await post(server.url, '/api/alerts', alert);
    expect(res.status).toBe(202);
    const report = await reportOf(server.url, String(res.body.investigations[0].id));

    // 1024 allocated, the peak of UsedSnatPorts, 12 failed connections a minute over the 5-minute window.
    expect(report.snat).toEqual({ allocatedPorts: 1024, usedPorts: 1010, failedConnections: 60 });
    expect(report.degraded.filter((d) => d.step === 'snat metrics')).toEqual([]);
    // The culprit's share is measured against the allocation: 974 flows of 1024 ports.
    expect(report.pods[0]).toMatchObject({ namespace: 'shop', name: 'checkout-7d9f8b6c5d-x2k4p' });
    const top = report.pods[0]?.topDestinations[0];
    expect(top).toMatchObject({ ip: '20.60.1.9', port: 443 });
    expect(top?.shareOfAllocated).toBeCloseTo((top?.flows ?? 0) / 1024, 3);

    const { windowStartTime, windowEndTime } = alert.data.alertContext.condition;
    const timespan = `${new Date(windowStartTime).toISOString()}/${new Date(windowEndTime).toISOString()}`;
    const requests = metricsRequests();
    expect(requests.map((r) => r.path)).toEqual([
      `${arm.ids.loadBalancerId}/providers/Microsoft.Insights/metrics`,
      `${arm.ids.loadBalancerId}/providers/Microsoft.Insights/metrics`,
    ]);
    expect(requests.map((r) => Object.fromEntries(r.query))).toEqual([
      expect.objectContaining({
        metricnames: 'AllocatedSnatPorts,UsedSnatPorts',
        $filter: "BackendIPAddress eq '10.224.0.4'",
        timespan,
      }),
      expect.objectContaining({
        metricnames: 'SnatConnectionCount',
        $filter: "BackendIPAddress eq '10.224.0.4' and ConnectionState eq 'failed'",
        timespan,
      }),
    ]);
    expect(requests.every((r) => r.status === 200 && r.authorization === 'Bearer fake')).toBe(true);
    // The scope changes nothing else: the report is in the run's folder, served back under /reports/<id>/.
    expect(String(report.artifacts.json)).toContain(String(res.body.investigations[0].id));
    expect(sim.jobs()).toEqual([]);
  });

  it('metrics that cannot be read (403) are a degradation the report states; the investigation still reports', async () => {
    const server = await serve({ snatMetrics: reader() });
    arm.failNext(1, { status: 403, pathIncludes: '/providers/microsoft.insights/metrics' });
    const res = await post(server.url, '/api/alerts', alertOn());
    const report = await reportOf(server.url, String(res.body.investigations[0].id));
    expect(report.snat).toEqual({ allocatedPorts: null, usedPorts: null, failedConnections: null });
    const degraded = report.degraded.filter((d) => d.step === 'snat metrics');
    expect(degraded).toHaveLength(1);
    expect(degraded[0]?.reason).toMatch(/^SNAT metrics unavailable: .*HTTP 403 AuthorizationFailed/);
    expect(report.pods[0]).toMatchObject({ namespace: 'shop', name: 'checkout-7d9f8b6c5d-x2k4p' });
  });

  it('without a reader: no request to ARM and the allocation unknown, as before', async () => {
    const server = await serve();
    const res = await post(server.url, '/api/alerts', alertOn());
    const report = await reportOf(server.url, String(res.body.investigations[0].id));
    expect(report.snat).toEqual({ allocatedPorts: null, usedPorts: null, failedConnections: null });
    expect(arm.requests()).toEqual([]);
  });

  it('POST /api/investigations names no load balancer: nothing is read, even with a reader', async () => {
    const server = await serve({ snatMetrics: reader() });
    const res = await post(server.url, '/api/investigations', {
      cluster: CLUSTER,
      node: sim.expected.node,
      captureSeconds: 1,
    });
    expect(res.status).toBe(202);
    const report = await reportOf(server.url, String(res.body.id));
    expect(report.snat.allocatedPorts).toBeNull();
    expect(arm.requests()).toEqual([]);
  });
});

describe('snat-responder serve builds the reader from SNAT_ARM_ENDPOINT or --azure-monitor', () => {
  const credential = () => stubCredential();

  it('neither: no reader; --azure-monitor alone: the public cloud; SNAT_ARM_ENDPOINT: that endpoint', async () => {
    expect(await azureMonitorReader({ armEndpoint: null }, false, { credential })).toBeNull();
    expect((await azureMonitorReader({ armEndpoint: null }, true, { credential }))?.endpoint).toBe(PUBLIC_ARM_ENDPOINT);
    expect((await azureMonitorReader({ armEndpoint: arm.url }, false, { credential }))?.endpoint).toBe(arm.url);
  });

  it('the command with SNAT_ARM_ENDPOINT: says so when it listens, and an alert gets the metrics', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
    let stdout = '';
    let stderr = '';
    let stop = (): void => {};
    const until = (): StopSignal => ({
      stopped: new Promise<void>((resolve) => (stop = resolve)),
      dispose: () => {},
    });
    const running = runServe(
      { kubeconfig, out: join(dir, 'cli-reports'), captureSeconds: '1' },
      new AddressClassifier(),
      {
        stdout: (t) => (stdout += t),
        stderr: (t) => (stderr += t),
        stdin: () => process.stdin,
      },
      until,
      { SNAT_ARM_ENDPOINT: arm.url },
      { credential, caPem: arm.caPem },
    );
    for (let i = 0; i < 200 && !stdout.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25));
    const { url } = JSON.parse(stdout.split('\n')[0]!) as { url: string };
    const listening = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.msg === 'serve listening');
    expect(listening).toMatchObject({ url, azureMonitor: arm.url, keyRequired: false });

    const res = await post(url, '/api/alerts', alertOn());
    expect(res.status).toBe(202);
    const report = await reportOf(url, String(res.body.investigations[0].id));
    expect(report.snat).toEqual({ allocatedPorts: 1024, usedPorts: 1010, failedConnections: 60 });
    stop();
    expect(await running).toBe(0);
  });
});
