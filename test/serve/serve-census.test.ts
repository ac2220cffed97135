/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   the JSON bodies of the HTTP contract are read loosely; their shapes are what each case asserts */
/**
 * `snat-responder serve` and a NAT gateway alert (SNATConnectionCount on Microsoft.Network/natGateways, which names no
 * node), against the simulated AKS cluster (sim/, `default`: two nodes) through real HTTP on loopback: one census of
 * the kubeconfig's cluster (investigateCluster under the in-process driver), census only on every node: no capture Job
 * is created at any time (every BatchV1Api call is recorded, and the sim's Jobs are sampled throughout).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { kubeConfigFromFile, makeKubeClients } from '../../lib/k8s/access.js';
import type { KubeClients } from '../../lib/k8s/access.js';
import type { Report } from '../../lib/report/model.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer } from '../../lib/serve/server.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../lib/notify/webhook.js';
import type { CensusWebhookPayload } from '../../lib/notify/webhook.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { startReceiver } from '../notify/receiver.js';
import type { Receiver } from '../notify/receiver.js';

const SUB = '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b';
const NATGW = `${SUB}/resourcegroups/rg-shop-egress/providers/microsoft.network/natgateways/ng-shop-egress`;
const CLUSTER = `${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`;
const NODE_0 = 'aks-nodepool1-12345678-vmss000000';
const NODE_1 = 'aks-nodepool1-12345678-vmss000001';

let sim: RunningSim;
let server: RunningServer;
const dir = mkdtempSync(join(tmpdir(), 'snat-serve-census-'));
/** Every BatchV1Api method the responder called: a capture Job is created (and read, deleted) only through it. */
const batchCalls: string[] = [];
/** Jobs the sim held at any sample. */
const jobsSeen = new Set<string>();
let sampler: NodeJS.Timeout | undefined;

const fixtureText = (name: string): string =>
  readFileSync(new URL(`../fixtures/alert/${name}`, import.meta.url), 'utf8').replace(/^\uFEFF/, '');
/** The NAT gateway alert, built like sim/alerts.ts `snatAlert` builds the load balancer one. */
const natAlert = (condition = 'Fired'): string =>
  fixtureText('natgw-snat-connection-count.json').replace(
    '"monitorCondition": "Fired"',
    `"monitorCondition": "${condition}"`,
  );

async function post(path: string, body: string, to: RunningServer = server) {
  const res = await fetch(`${to.url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function get(path: string, to: RunningServer = server) {
  const res = await fetch(`${to.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function untilDone(
  id: string,
  seen: Array<Record<string, any>>,
  to: RunningServer = server,
): Promise<Record<string, any>> {
  for (let i = 0; i < 600; i++) {
    const { body } = await get(`/api/investigations/${id}`, to);
    seen.push(body);
    if (!['pending', 'running'].includes(String(body.status))) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`census ${id} did not finish`);
}

/** The clients, with every BatchV1Api call recorded. */
function recording(clients: KubeClients): KubeClients {
  const batch = new Proxy(clients.batch, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        batchCalls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { ...clients, batch };
}

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
  const { settings } = serveSettings({
    SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: CLUSTER }),
    SNAT_MAX_CONCURRENT_INVESTIGATIONS: '2',
  });
  const kc = kubeConfigFromFile(kubeconfig);
  server = await startServe({
    clients: recording(makeKubeClients(kc, { requestTimeoutMs: 5_000 })),
    clusterName: kc.getCurrentCluster()?.name ?? 'sim',
    settings,
    classifier: new AddressClassifier(),
    outDir: join(dir, 'reports'),
    captureSeconds: 1,
    run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
  });
  sampler = setInterval(() => {
    for (const j of sim.jobs()) jobsSeen.add(`${j.namespace}/${j.name}`);
  }, 5);
});
afterAll(async () => {
  clearInterval(sampler);
  await server?.close();
  await sim?.close();
});

describe('serve: a NAT gateway alert starts one census of the cluster (loopback HTTP, in-process engine, simulated cluster)', () => {
  let censusId = '';

  it('202 with one census; the same alert again reuses it; its status shows the nodes, then per-node reports; no capture Job ever', async () => {
    const jobsBefore = new Set(sim.jobs().map((j) => `${j.namespace}/${j.name}`));
    const res = await post('/api/alerts', natAlert());
    expect(res.status).toBe(202);
    expect(res.body.investigations).toHaveLength(1);
    expect(res.body.investigations[0]).toMatchObject({
      started: true,
      target: { natGatewayId: NATGW, clusterHint: CLUSTER, allNodes: { maxNodes: 10 } },
    });
    censusId = String(res.body.investigations[0].id);
    expect(server.started()).toBe(1);

    const again = await post('/api/alerts', natAlert());
    expect(again.status).toBe(202);
    expect(again.body.investigations[0]).toMatchObject({ id: censusId, started: false });
    expect(['running', 'cooldown']).toContain(again.body.investigations[0].reusedBecause);
    expect(server.started()).toBe(1);

    const seen: Array<Record<string, any>> = [];
    const done = await untilDone(censusId, seen);
    expect(done).toMatchObject({
      id: censusId,
      status: 'completed',
      phase: 'done',
      outcome: 'census',
      report: null,
      census: {
        natGatewayId: NATGW,
        cluster: { resourceId: CLUSTER },
        total: 2,
        skipped: { notReady: 0, overLimit: 0 },
      },
    });
    // While it ran, the status said how far the census of the nodes was.
    const progress: unknown[] = seen
      .filter((b) => b.status === 'running' && b.progress)
      .map((b) => b.progress as unknown);
    for (const p of progress) expect(p).toMatchObject({ nodesTotal: expect.any(Number) as unknown });

    const nodes = done.census.nodes as Array<Record<string, any>>;
    expect(nodes.map((n): unknown[] => [n.id, n.node, n.outcome])).toEqual([
      [`${censusId}-n0`, NODE_0, 'reported'],
      [`${censusId}-n1`, NODE_1, 'reported'],
    ]);
    expect(nodes[0]!.summary.topPod).toBe(sim.expected.culprit);
    for (const n of nodes) {
      expect(n.report.links.json).toBe(`${server.url}/reports/${String(n.id)}/report.json`);
      const report = (await (await fetch(String(n.report.links.json))).json()) as Report;
      expect(report.investigationId).toBe(n.id);
      expect(report.node.name).toBe(n.node);
      expect(report.capture.status).toBe('missing');
      // Census only is not a degradation: no capture step failed (the scenario's unexec'able pods are, as ever).
      expect(report.degraded.filter((d) => d.step !== 'pod census')).toEqual([]);
      expect(report.dataQuality.map((q) => q.text)).toContain(
        'census only: a NAT gateway alert names no node; no capture Job was run',
      );
      expect(report.trigger).toMatchObject({ kind: 'alert', source: 'ng-shop-egress-snat-failed' });
      expect((await fetch(String(n.report.links.html))).headers.get('content-type')).toMatch(/text\/html/);
    }
    // The pods ranked across both nodes: the culprit of node 0 among them, each with its node.
    const top = done.census.top as Array<Record<string, any>>;
    expect(top.length).toBeGreaterThan(1);
    expect(new Set(top.map((t) => String(t.node)))).toEqual(new Set([NODE_0, NODE_1]));
    expect(top.map((t) => String(t.pod))).toContain(sim.expected.culprit);
    expect(done.summary.topPod).toBe(top[0]!.pod);

    expect(batchCalls).toEqual([]);
    expect([...jobsSeen].filter((j) => !jobsBefore.has(j))).toEqual([]);
    expect(sim.jobs()).toEqual([...jobsBefore].map((j) => ({ namespace: j.split('/')[0], name: j.split('/')[1] })));
  });

  it('the same alert inside the cooldown returns the finished census; Resolved starts nothing; GET lists it', async () => {
    const again = await post('/api/alerts', natAlert());
    expect(again.body.investigations[0]).toMatchObject({ id: censusId, started: false, reusedBecause: 'cooldown' });
    const resolved = await post('/api/alerts', natAlert('Resolved'));
    expect(resolved).toMatchObject({ status: 202, body: { started: [], ignored: { code: 'resolved' } } });
    expect(server.started()).toBe(1);
    const list = await get('/api/investigations');
    expect(list.body.investigations).toEqual([expect.objectContaining({ id: censusId, status: 'finished' })]);
    // A node's report is served under its own id; an unknown one is 404.
    expect((await fetch(`${server.url}/reports/${censusId}-n1/report.md`)).status).toBe(200);
    expect((await fetch(`${server.url}/reports/${censusId}-n7/report.md`)).status).toBe(404);
    expect(batchCalls).toEqual([]);
  });
});

describe('serve: a NAT gateway census with a webhook configured sends ONE message for the census, none per node', () => {
  const SECRET = 'whsec-serve-census-0123456789';
  let rx: Receiver;
  let hooked: RunningServer;

  beforeAll(async () => {
    rx = await startReceiver();
    const kubeconfig = join(dir, 'kubeconfig');
    const { settings } = serveSettings({
      SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: CLUSTER }),
      SNAT_MAX_CONCURRENT_INVESTIGATIONS: '2',
      SNAT_WEBHOOK_URL: `${rx.origin}/hook`,
      SNAT_WEBHOOK_SECRET: SECRET,
    });
    const kc = kubeConfigFromFile(kubeconfig);
    hooked = await startServe({
      clients: makeKubeClients(kc, { requestTimeoutMs: 5_000 }),
      clusterName: kc.getCurrentCluster()?.name ?? 'sim',
      settings,
      classifier: new AddressClassifier(),
      outDir: join(dir, 'reports-hooked'),
      captureSeconds: 1,
      run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
    });
  });
  afterAll(async () => {
    await hooked?.close();
    await rx?.close();
  });

  it('the 2-node census posts exactly one signed webhook: kind census, both nodes, their reports, the ranking', async () => {
    const res = await post('/api/alerts', natAlert(), hooked);
    expect(res.status).toBe(202);
    const id = String(res.body.investigations[0].id);
    const done = await untilDone(id, [], hooked);
    expect(done).toMatchObject({
      status: 'completed',
      outcome: 'census',
      census: { total: 2, notifications: [{ kind: 'webhook', ok: true, status: 200, attempts: 1 }], degraded: [] },
    });

    // Exactly one message, for the census: none of the two nodes' investigations notified on its own.
    expect(rx.received).toHaveLength(1);
    const hook = rx.received[0]!;
    expect(hook.url).toBe('/hook');
    expect(
      verifyWebhookSignature(
        SECRET,
        hook.headers[TIMESTAMP_HEADER] as string,
        hook.body,
        hook.headers[SIGNATURE_HEADER] as string,
      ),
    ).toBe(true);
    const payload = JSON.parse(hook.body) as CensusWebhookPayload;
    expect(payload).toMatchObject({
      schemaVersion: 1,
      kind: 'census',
      investigationId: id,
      alertRule: 'ng-shop-egress-snat-failed',
      natGateway: { name: 'ng-shop-egress', resourceId: NATGW },
      cluster: { resourceId: CLUSTER },
      outcome: 'census',
      counts: { total: 2, censused: 2, reported: 2, failed: 0, notFound: 0 },
      nodeReportsOmitted: 0,
    });
    expect(payload.topPods.map((p) => p.pod)).toContain(sim.expected.culprit);
    expect(payload.topPods[0]!.pod).toBe(done.summary.topPod);
    // The culprit's node first; reports in a folder: each named by its path, which holds that node's report.
    expect(new Set(payload.nodeReports.map((n) => n.node))).toEqual(new Set([NODE_0, NODE_1]));
    expect(payload.nodeReports[0]!.investigationId).toBe(payload.topPods[0]!.investigationId);
    for (const n of payload.nodeReports) {
      expect(n).toMatchObject({ outcome: 'reported', message: null });
      expect(n.reportUrl).toBe(join(dir, 'reports-hooked', n.investigationId, 'report.html'));
      expect(readFileSync(n.reportUrl!, 'utf8')).toContain(n.node);
    }
    // And the nodes' reports record no notify step of their own.
    for (const n of done.census.nodes as Array<Record<string, any>>) {
      const report = (await (await fetch(String(n.report.links.json))).json()) as Report;
      expect(report.degraded.filter((d) => d.step === 'notify')).toEqual([]);
    }
  });
});
