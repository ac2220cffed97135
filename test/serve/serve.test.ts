/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   the JSON bodies of the HTTP contract are read loosely; their shapes are what each case asserts */
/**
 * `snat-responder serve` against the simulated AKS cluster (sim/), through real HTTP on loopback: the in-process
 * server (lib/serve/server.ts) for the routes and the de-duplication, and one child process for the command's
 * start-up line and SIGINT.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { kubeConfigFromFile, makeKubeClients } from '../../lib/k8s/access.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer } from '../../lib/serve/server.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';

const BIN = fileURLToPath(new URL('../../bin/snat-responder.js', import.meta.url));
const CLUSTER =
  '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop';
const SECRET = 'a-shared-secret-of-enough-length';

let sim: RunningSim;
let server: RunningServer;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), 'snat-serve-'));

const fixtureText = (name: string): string =>
  readFileSync(new URL(`../fixtures/alert/${name}`, import.meta.url), 'utf8').replace(/^\uFEFF/, '');
const alert = (backendIp: string, condition = 'Fired'): string =>
  fixtureText('common-lb-used-snat-ports.json')
    .replace('"value": "10.224.0.5"', `"value": ${JSON.stringify(backendIp)}`)
    .replace('"monitorCondition": "Fired"', `"monitorCondition": "${condition}"`);

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-snat-alert-secret': SECRET, ...headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function get(path: string) {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function untilDone(id: string): Promise<Record<string, any>> {
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const { body } = await get(`/api/investigations/${id}`);
    seen.add(String(body.status));
    if (!['pending', 'running'].includes(String(body.status))) return { ...body, seen: [...seen] };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`investigation ${id} did not finish`);
}

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
  const { settings } = serveSettings({ SNAT_ALERT_SECRET: SECRET, SNAT_MAX_CONCURRENT_INVESTIGATIONS: '2' });
  const kc = kubeConfigFromFile(kubeconfig);
  server = await startServe({
    clients: makeKubeClients(kc, { requestTimeoutMs: 5_000 }),
    clusterName: kc.getCurrentCluster()?.name ?? 'sim',
    settings,
    classifier: new AddressClassifier(),
    outDir: join(dir, 'reports'),
    captureSeconds: 1,
    run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
  });
});
afterAll(async () => {
  await server?.close();
  await sim?.close();
});

describe('snat-responder serve (loopback HTTP, in-process engine, simulated cluster)', () => {
  let alertId = '';

  it('an alert for 10.224.0.4 starts one investigation; its status ends with report links; the culprit ranks first', async () => {
    const res = await post('/api/alerts', alert('10.224.0.4'));
    expect(res.status).toBe(202);
    expect(res.body.investigations).toHaveLength(1);
    alertId = String(res.body.investigations[0].id);
    expect(res.body.investigations[0]).toMatchObject({
      started: true,
      statusUrl: `${server.url}/api/investigations/${alertId}`,
    });
    const done = await untilDone(alertId);
    expect(done).toMatchObject({ status: 'completed', phase: 'done', outcome: 'reported', node: sim.expected.node });
    expect(done.summary.topPod).toBe(sim.expected.culprit);
    const links = done.report.links as { json: string; html: string; markdown: string };
    expect(links.json).toBe(`${server.url}/reports/${alertId}/report.json`);
    const report = (await (await fetch(links.json)).json()) as {
      pods: Array<{ namespace: string; name: string }>;
      trigger: unknown;
    };
    expect(`${report.pods[0]!.namespace}/${report.pods[0]!.name}`).toBe(sim.expected.culprit);
    expect(report.trigger).toMatchObject({ kind: 'alert', source: 'aks-shop-used-snat-ports' });
    expect((await fetch(links.html)).headers.get('content-type')).toMatch(/text\/html/);
    expect(sim.jobs()).toEqual([]);
  });

  it('the same alert again inside the cooldown returns the finished investigation', async () => {
    const res = await post('/api/alerts', alert('10.224.0.4'));
    expect(res.body.investigations[0]).toMatchObject({ id: alertId, started: false, reusedBecause: 'cooldown' });
  });

  it('50 identical alerts at once start exactly one investigation', async () => {
    const before = server.started();
    const all = await Promise.all(Array.from({ length: 50 }, () => post('/api/alerts', alert('10.224.0.5'))));
    expect(all.every((r) => r.status === 202)).toBe(true);
    const ids = new Set(all.map((r) => String(r.body.investigations[0].id)));
    expect(ids.size).toBe(1);
    expect(all.filter((r) => r.body.investigations[0].started === true)).toHaveLength(1);
    expect(server.started()).toBe(before + 1);
    await untilDone([...ids][0]!);
  });

  it('Resolved starts nothing; malformed is 400; a wrong secret is 401; over 256 KB is 413', async () => {
    const before = server.started();
    const resolved = await post('/api/alerts', alert('10.224.0.4', 'Resolved'));
    expect(resolved).toMatchObject({ status: 202, body: { started: [], ignored: { code: 'resolved' } } });
    const malformed = await post('/api/alerts', fixtureText('missing-metric-name.json'));
    expect(malformed.status).toBe(400);
    expect(String(malformed.body.error.field)).toMatch(/metricName/);
    expect((await post('/api/alerts', alert('10.224.0.4'), { 'x-snat-alert-secret': 'nope' })).status).toBe(401);
    expect((await post('/api/alerts', ' '.repeat(256 * 1024 + 1))).status).toBe(413);
    expect(server.started()).toBe(before);
  });

  it('POST /api/investigations by node name runs; a bad body is 400 with the field; GET /api/investigations lists them', async () => {
    const bad = await post('/api/investigations', JSON.stringify({ cluster: CLUSTER, node: 'Not_A_Node' }));
    expect(bad).toMatchObject({ status: 400, body: { error: { field: 'node' } } });
    const res = await post(
      '/api/investigations',
      JSON.stringify({ cluster: CLUSTER, node: sim.expected.node, captureSeconds: 1 }),
    );
    expect(res.status).toBe(202);
    const done = await untilDone(String(res.body.id));
    expect(done).toMatchObject({ outcome: 'reported', summary: { topPod: sim.expected.culprit } });
    const list = await get('/api/investigations');
    const ids = (list.body.investigations as Array<{ id: string }>).map((i) => i.id);
    expect(ids).toContain(alertId);
    expect(ids).toContain(res.body.id);
    expect((await get('/api/investigations/no-such-id')).status).toBe(404);
    expect(sim.jobs()).toEqual([]);
  });

  it('the command prints one {"url"} line and exits 0 on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--kubeconfig', kubeconfig, '--out', join(dir, 'child')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SNAT_REPORT_STORAGE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const { url } = JSON.parse(line) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/api/investigations`)).status).toBe(200);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGINT');
    });
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });
});
