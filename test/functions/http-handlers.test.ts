/**
 * The HTTP handlers through their registrations, not the Functions host: functions/index.ts is imported with
 * `app.http` captured (test/helpers/df-harness.ts), and each handler is called with a real `HttpRequest` and an
 * `InvocationContext` whose Durable client input points at a loopback fake of the extension's HTTP API (the rpcBaseUrl
 * routes durable-functions 3.5 calls: POST orchestrators/<name>/<id>, GET instances/<id>, GET instances/?filters).
 * The fake records every start and answers like the extension (404 for an unknown instance).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { loadApp } from '../helpers/df-harness.js';
import type { Registration } from '../helpers/df-harness.js';
import { resetSettingsCache } from '../../lib/serve/handler-kit.js';
import { bucketMsFor, instanceIdFor } from '../../lib/intake/registry.js';
import { keyOfTarget } from '../../lib/intake/alert.js';
import { BlobReportStore } from '../../lib/azure/blob-store.js';
import { azuriteConnectionString } from '../../sim/azurite.js';
import { culpritReport } from '../fixtures/report/sample.js';

const SUB = '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b';
const LB = `${SUB}/resourcegroups/mc_rg-shop_aks-shop_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const NATGW = `${SUB}/resourcegroups/rg-shop-egress/providers/microsoft.network/natgateways/ng-shop-egress`;
const CLUSTER = `${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`;
const SECRET = 'a-shared-secret-of-enough-length';

interface Instance {
  name: string;
  instanceId: string;
  createdTime: string;
  lastUpdatedTime: string;
  input: unknown;
  output: unknown;
  runtimeStatus: string;
  customStatus: unknown;
}

/** The extension's HTTP API as far as DurableClient uses it. */
class FakeExtension {
  readonly instances = new Map<string, Instance>();
  readonly starts: Array<{ orchestrator: string; instanceId: string; input: unknown }> = [];
  readonly gets: string[] = [];
  url = '';
  private readonly server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const start = /^\/durabletask\/orchestrators\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'POST' && start) {
        const [, orchestrator, instanceId] = start as unknown as [string, string, string];
        const input = body === '' ? null : (JSON.parse(body) as unknown);
        this.starts.push({ orchestrator, instanceId, input });
        const t = new Date().toISOString();
        this.instances.set(instanceId, {
          name: orchestrator,
          instanceId,
          createdTime: t,
          lastUpdatedTime: t,
          input,
          output: null,
          runtimeStatus: 'Pending',
          customStatus: null,
        });
        return reply(202, { id: instanceId });
      }
      const get = /^\/durabletask\/instances\/(.*)$/.exec(url.pathname);
      if (req.method === 'GET' && get) {
        const id = get[1] ?? '';
        if (id === '') return reply(200, [...this.instances.values()]);
        this.gets.push(id);
        const inst = this.instances.get(id);
        return inst ? reply(200, inst) : reply(404, { message: 'not found' });
      }
      reply(400, { message: `unexpected ${req.method} ${url.pathname}` });
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
  reset(): void {
    this.instances.clear();
    this.starts.length = 0;
    this.gets.length = 0;
  }
}

const fake = new FakeExtension();
let app: Map<string, Registration>;
const savedEnv = { ...process.env };

function setEnv(extra: Record<string, string> = {}): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('SNAT_')) delete process.env[k];
  Object.assign(process.env, {
    SNAT_TASK_HUB: 'snathub',
    SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true',
    SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: CLUSTER }),
    ...extra,
  });
  resetSettingsCache();
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

async function call(
  name: string,
  init: {
    method: string;
    path: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    params?: Record<string, string>;
  },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const reg = app.get(name);
  if (!reg) throw new Error(`no registration ${name}`);
  const clientInput = (reg.options.extraInputs as Array<{ type: string }>).find((i) => i.type === 'durableClient');
  if (!clientInput) throw new Error(`${name} has no durable client input`);
  const context = new InvocationContext({ functionName: name, options: { extraInputs: [clientInput] } as never });
  context.extraInputs.set(clientInput as never, {
    taskHubName: 'snathub',
    rpcBaseUrl: `${fake.url}/durabletask/`,
    creationUrls: {},
    managementUrls: {},
    baseUrl: `${fake.url}/runtime/webhooks/durabletask`,
    requiredQueryStringParameters: '',
  });
  const request = new HttpRequest({
    method: init.method,
    url: `https://snat.example.net${init.path}`,
    headers: init.headers ?? {},
    ...(init.body !== undefined
      ? { body: typeof init.body === 'string' ? { string: init.body } : { bytes: new Uint8Array(init.body) } }
      : {}),
    ...(init.params ? { params: init.params } : {}),
  });
  const response = await (reg.options.handler as unknown as Handler)(request, context);
  return { status: response.status ?? 200, body: response.jsonBody as Record<string, unknown> };
}

const fixtureText = (name: string): string =>
  readFileSync(new URL(`../fixtures/alert/${name}`, import.meta.url), 'utf8').replace(/^\uFEFF/, '');
const lbAlert = (backendIp = '10.224.0.5', condition = 'Fired'): string =>
  fixtureText('common-lb-used-snat-ports.json')
    .replace('"value": "10.224.0.5"', `"value": ${JSON.stringify(backendIp)}`)
    .replace('"monitorCondition": "Fired"', `"monitorCondition": "${condition}"`);
const postAlert = (body: string | Buffer, headers: Record<string, string> = {}) =>
  call('alerts', {
    method: 'POST',
    path: '/api/alerts',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

beforeAll(async () => {
  await fake.start();
  process.env.WEBSITE_HOSTNAME = new URL(fake.url).host;
  app = await loadApp();
});
afterAll(async () => {
  await fake.close();
  process.env = savedEnv;
});
beforeEach(() => {
  fake.reset();
  setEnv();
});

describe('HTTP handlers through their registrations, not the Functions host', () => {
  it('registers the four routes behind function keys with a durable client input', () => {
    for (const [name, route, method] of [
      ['alerts', 'alerts', 'POST'],
      ['startInvestigation', 'investigations', 'POST'],
      ['getInvestigation', 'investigations/{id}', 'GET'],
      ['listInvestigations', 'investigations', 'GET'],
    ] as const) {
      const r = app.get(name);
      expect(r?.via).toBe('http');
      expect(r?.options).toMatchObject({ route, methods: [method], authLevel: 'function' });
    }
  });

  it('a common-schema LB alert starts one investigation under the deterministic id; the same alert again reuses it', async () => {
    const first = await postAlert(lbAlert());
    expect(first.status).toBe(202);
    expect(fake.starts).toHaveLength(1);
    const key = keyOfTarget({ loadBalancerId: LB, nodeIp: '10.224.0.5' });
    const expectedId = instanceIdFor(key, new Date(), bucketMsFor(30 * 60_000));
    expect(fake.starts[0]).toMatchObject({
      orchestrator: 'investigateSnat',
      instanceId: expectedId,
      input: {
        investigationId: expectedId,
        node: { ip: '10.224.0.5' },
        captureSeconds: 30,
        trigger: { kind: 'alert' },
      },
    });
    expect(first.body).toMatchObject({
      accepted: true,
      investigations: [
        { id: expectedId, started: true, statusUrl: `https://snat.example.net/api/investigations/${expectedId}` },
      ],
    });
    const again = await postAlert(lbAlert());
    expect(again.status).toBe(202);
    expect(fake.starts).toHaveLength(1);
    expect(again.body).toMatchObject({
      investigations: [{ id: expectedId, started: false, reusedBecause: 'running' }],
    });
  });

  it('a finished investigation inside the cooldown is returned, not repeated', async () => {
    await postAlert(lbAlert());
    const inst = fake.instances.get(fake.starts[0]!.instanceId)!;
    inst.runtimeStatus = 'Completed';
    const again = await postAlert(lbAlert());
    expect(fake.starts).toHaveLength(1);
    expect(again.body).toMatchObject({ investigations: [{ started: false, reusedBecause: 'cooldown' }] });
  });

  it('Resolved and non-metric alerts: 202, nothing started', async () => {
    const resolved = await postAlert(lbAlert('10.224.0.5', 'Resolved'));
    expect(resolved).toMatchObject({ status: 202, body: { started: [], ignored: { code: 'resolved' } } });
    const log = await postAlert(fixtureText('log-alert.json'));
    expect(log).toMatchObject({ status: 202, body: { started: [], ignored: { code: 'not-metric-alert' } } });
    expect(fake.starts).toHaveLength(0);
  });

  it('malformed alert: 400 naming the field, nothing started', async () => {
    const res = await postAlert(fixtureText('missing-metric-name.json'));
    expect(res.status).toBe(400);
    expect((res.body.error as { field?: string }).field).toMatch(/metricName/);
    const notJson = await postAlert('{not json');
    expect(notJson.status).toBe(400);
    expect(fake.starts).toHaveLength(0);
  });

  it('over 256 KB: 413, nothing started', async () => {
    const res = await postAlert(Buffer.alloc(256 * 1024 + 1, 0x20));
    expect(res.status).toBe(413);
    expect(fake.starts).toHaveLength(0);
  });

  it('a BackendIPAddress that is not an IP literal: 400, nothing started', async () => {
    const res = await postAlert(lbAlert('10.224.0.5; rm -rf /'));
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid-dimension' } } });
    expect(fake.starts).toHaveLength(0);
  });

  it('NAT gateway alert: mapped -> 202 and one cluster census (investigateCluster, scoped to the mapped cluster); unmapped -> 400', async () => {
    const res = await postAlert(fixtureText('natgw-snat-connection-count.json'));
    expect(res.status).toBe(202);
    expect(fake.starts).toHaveLength(1);
    const key = keyOfTarget({ natGatewayId: NATGW, clusterHint: CLUSTER, allNodes: { maxNodes: 10 } });
    const expectedId = instanceIdFor(key, new Date(), bucketMsFor(30 * 60_000));
    expect(fake.starts[0]).toMatchObject({
      orchestrator: 'investigateCluster',
      instanceId: expectedId,
      input: {
        investigationId: expectedId,
        clusterId: CLUSTER,
        natGatewayId: NATGW,
        maxNodes: 10,
        trigger: { kind: 'alert' },
        scope: { clusterId: CLUSTER },
      },
    });
    // The same alert again: the running census is reused.
    expect((await postAlert(fixtureText('natgw-snat-connection-count.json'))).status).toBe(202);
    expect(fake.starts).toHaveLength(1);

    setEnv({ SNAT_NATGW_CLUSTER_MAP: '' });
    const unmapped = await postAlert(fixtureText('natgw-snat-connection-count.json'));
    expect(unmapped).toMatchObject({ status: 400, body: { error: { code: 'unmapped-nat-gateway' } } });
    expect(fake.starts).toHaveLength(1);
  });

  it('GET /api/investigations/{id} of a finished census: each node report has its own read links (SAS)', async () => {
    const container = `census-${randomUUID().slice(0, 8)}`;
    const connection = azuriteConnectionString(inject('azuriteBlobUrl'));
    setEnv({ SNAT_REPORT_STORAGE: connection, SNAT_REPORT_CONTAINER: container });
    const store = BlobReportStore.fromConnectionString(connection, { container });
    const files = await store
      .output({
        cluster: 'aks-shop',
        node: culpritReport.node.name,
        investigationId: 'census-1-n0',
        generatedAt: culpritReport.generatedAt,
      })
      .writeReport(culpritReport);
    await postAlert(fixtureText('natgw-snat-connection-count.json'));
    const id = fake.starts[0]!.instanceId;
    const inst = fake.instances.get(id)!;
    inst.runtimeStatus = 'Completed';
    inst.output = {
      investigationId: id,
      natGatewayId: NATGW,
      cluster: { resourceId: CLUSTER, name: 'aks-shop' },
      total: 2,
      skipped: { notReady: 0, overLimit: 0 },
      outcome: 'census',
      nodes: [
        {
          investigationId: 'census-1-n0',
          node: { name: culpritReport.node.name },
          outcome: 'reported',
          nodeName: culpritReport.node.name,
          report: { ...files, top: 'shop/checkout', pods: 3, degraded: 0 },
        },
        { investigationId: 'census-1-n1', node: { name: 'aks-n-1' }, outcome: 'failed', message: 'exec refused' },
      ],
      top: [],
    };
    const res = await call('getInvestigation', { method: 'GET', path: `/api/investigations/${id}`, params: { id } });
    expect(res.status).toBe(200);
    type Files = { json: string; markdown: string; html: string };
    const census = res.body.census as { nodes: Array<{ id: string; report: { links: Files | null } | null }> };
    expect(census.nodes.map((n) => n.id)).toEqual(['census-1-n0', 'census-1-n1']);
    const links = census.nodes[0]!.report!.links!;
    expect(new URL(links.html).searchParams.get('sig')).toBeTruthy();
    expect((await fetch(links.json)).status).toBe(200);
    expect(census.nodes[1]!.report).toBeNull();
  });

  it('alert secret: missing or wrong -> 401; right (header or query) -> accepted', async () => {
    setEnv({ SNAT_ALERT_SECRET: SECRET });
    expect((await postAlert(lbAlert())).status).toBe(401);
    expect((await postAlert(lbAlert(), { 'x-snat-alert-secret': 'wrong-secret-wrong-secret' })).status).toBe(401);
    expect(fake.starts).toHaveLength(0);
    expect((await postAlert(lbAlert(), { 'x-snat-alert-secret': SECRET })).status).toBe(202);
    const viaQuery = await call('alerts', {
      method: 'POST',
      path: `/api/alerts?alertSecret=${SECRET}`,
      body: lbAlert('10.224.0.9'),
    });
    expect(viaQuery.status).toBe(202);
    expect(fake.starts).toHaveLength(2);
  });

  it('a settings problem: 500 with a generic message, nothing started', async () => {
    setEnv({ SNAT_REPORT_STORAGE: '', SNAT_WEBHOOK_SECRET: 'short' });
    const res = await postAlert(lbAlert());
    expect(res).toMatchObject({ status: 500, body: { error: { code: 'configuration' } } });
    expect(JSON.stringify(res.body)).not.toContain('short');
    expect(fake.starts).toHaveLength(0);
  });

  it('POST /api/investigations: 202 + status URL; a bad body is 400 naming the field', async () => {
    const ok = await call('startInvestigation', {
      method: 'POST',
      path: '/api/investigations',
      body: JSON.stringify({ cluster: CLUSTER, node: 'aks-nodepool1-12345678-vmss000000', captureSeconds: 10 }),
    });
    expect(ok.status).toBe(202);
    expect(fake.starts).toHaveLength(1);
    expect(fake.starts[0]).toMatchObject({
      orchestrator: 'investigateSnat',
      input: { node: { name: 'aks-nodepool1-12345678-vmss000000' }, captureSeconds: 10, trigger: { kind: 'http' } },
    });
    expect(ok.body).toMatchObject({ id: fake.starts[0]!.instanceId, started: true });
    const bad = await call('startInvestigation', {
      method: 'POST',
      path: '/api/investigations',
      body: JSON.stringify({ cluster: CLUSTER, nodeIp: 'not-an-ip' }),
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { field: 'nodeIp' } } });
    expect(fake.starts).toHaveLength(1);
  });

  it('GET /api/investigations/{id}: running, completed with report keys, 404, 400; GET /api/investigations lists', async () => {
    await postAlert(lbAlert());
    const id = fake.starts[0]!.instanceId;
    const inst = fake.instances.get(id)!;
    inst.runtimeStatus = 'Running';
    inst.customStatus = { phase: 'census', node: 'aks-n-0', pods: { done: 3, total: 9 } };
    const running = await call('getInvestigation', {
      method: 'GET',
      path: `/api/investigations/${id}`,
      params: { id },
    });
    expect(running).toMatchObject({
      status: 200,
      body: { id, status: 'running', phase: 'census', progress: { podsDone: 3, podsTotal: 9 }, outcome: null },
    });
    inst.runtimeStatus = 'Completed';
    inst.output = {
      outcome: 'reported',
      node: { name: 'aks-n-0', ip: '10.224.0.5' },
      report: {
        json: 'r/report.json',
        markdown: 'r/report.md',
        html: 'r/report.html',
        pods: 9,
        top: 'shop/x',
        degraded: 0,
      },
    };
    const done = await call('getInvestigation', { method: 'GET', path: `/api/investigations/${id}`, params: { id } });
    expect(done.body).toMatchObject({
      status: 'completed',
      phase: 'done',
      outcome: 'reported',
      summary: { topPod: 'shop/x' },
      report: { keys: { json: 'r/report.json' } },
    });
    const missing = await call('getInvestigation', {
      method: 'GET',
      path: '/api/investigations/snat-nope',
      params: { id: 'snat-nope' },
    });
    expect(missing.status).toBe(404);
    const bad = await call('getInvestigation', { method: 'GET', path: '/api/investigations/x', params: { id: 'a b' } });
    expect(bad).toMatchObject({ status: 400, body: { error: { field: 'id' } } });
    const list = await call('listInvestigations', { method: 'GET', path: '/api/investigations?limit=5' });
    expect(list.body).toMatchObject({ investigations: [{ id, status: 'completed' }] });
    const badLimit = await call('listInvestigations', { method: 'GET', path: '/api/investigations?limit=0' });
    expect(badLimit).toMatchObject({ status: 400, body: { error: { field: 'limit' } } });
  });

  it('POST /api/investigations: the started input carries the cluster asked about as its scope', async () => {
    const ok = await call('startInvestigation', {
      method: 'POST',
      path: '/api/investigations',
      body: JSON.stringify({ cluster: CLUSTER, nodeIp: '10.224.0.5' }),
    });
    expect(ok.status).toBe(202);
    expect(fake.starts).toHaveLength(1);
    const input = fake.starts[0]!.input as Record<string, unknown>;
    expect(input).toMatchObject({
      investigationId: fake.starts[0]!.instanceId,
      node: { ip: '10.224.0.5' },
      captureSeconds: 30,
      scope: { clusterId: CLUSTER },
    });
    expect(Object.keys(input.scope as object)).toEqual(['clusterId']);
  });

  it('GET /api/investigations/{id} of a reported investigation: read links (SAS) that open the files in Azurite', async () => {
    const container = `links-${randomUUID().slice(0, 8)}`;
    const connection = azuriteConnectionString(inject('azuriteBlobUrl'));
    setEnv({
      SNAT_REPORT_STORAGE: connection,
      SNAT_REPORT_CONTAINER: container,
      SNAT_REPORT_LINK_TTL_MINUTES: '15',
    });
    const store = BlobReportStore.fromConnectionString(connection, { container });
    const files = await store
      .output({
        cluster: culpritReport.cluster.name,
        node: culpritReport.node.name,
        investigationId: culpritReport.investigationId,
        generatedAt: culpritReport.generatedAt,
      })
      .writeReport(culpritReport);

    await postAlert(lbAlert());
    const id = fake.starts[0]!.instanceId;
    const inst = fake.instances.get(id)!;
    inst.runtimeStatus = 'Completed';
    inst.output = {
      outcome: 'reported',
      node: { name: culpritReport.node.name, ip: '10.224.0.5' },
      report: { ...files, pods: 3, top: 'shop/checkout', degraded: 0 },
    };
    const before = Date.now();
    const res = await call('getInvestigation', { method: 'GET', path: `/api/investigations/${id}`, params: { id } });
    expect(res.status).toBe(200);
    type Files = { json: string; markdown: string; html: string };
    const report = res.body.report as { links: Files | null; keys: Files };
    expect(report.keys).toEqual(files);
    expect(report.links).not.toBeNull();
    for (const file of ['json', 'markdown', 'html'] as const) {
      const link = new URL(report.links![file]);
      expect(link.origin + link.pathname).toBe(files[file]);
      expect(link.searchParams.get('sig')).toBeTruthy();
      expect(link.searchParams.get('sp')).toBe('r');
      const expiry = Date.parse(link.searchParams.get('se') ?? '');
      expect(expiry - before).toBeGreaterThan(14 * 60_000);
      expect(expiry - before).toBeLessThanOrEqual(16 * 60_000);
      expect(report.links![file]).toMatch(/[?&]sig=/);
      expect(report.links![file]).toMatch(/[?&]se=/);
    }
    const opened = await fetch(report.links!.json);
    expect(opened.status).toBe(200);
    expect(((await opened.json()) as { investigationId: string }).investigationId).toBe(culpritReport.investigationId);
    // The key alone (no SAS) opens nothing: the container is private.
    expect((await fetch(files.json)).status).not.toBe(200);

    // Files outside the report container: no links (logged), the status and its keys all the same.
    inst.output = {
      outcome: 'reported',
      node: { name: 'aks-n-0', ip: '10.224.0.5' },
      report: {
        json: 'https://elsewhere.example.net/x/report.json',
        markdown: 'https://elsewhere.example.net/x/report.md',
        html: 'https://elsewhere.example.net/x/report.html',
        pods: 1,
        top: null,
        degraded: 0,
      },
    };
    const outside = await call('getInvestigation', {
      method: 'GET',
      path: `/api/investigations/${id}`,
      params: { id },
    });
    expect(outside).toMatchObject({
      status: 200,
      body: {
        outcome: 'reported',
        report: { links: null, keys: { json: 'https://elsewhere.example.net/x/report.json' } },
      },
    });

    // Not reported (still running): no links, and nothing is signed.
    inst.runtimeStatus = 'Running';
    inst.output = null;
    const running = await call('getInvestigation', {
      method: 'GET',
      path: `/api/investigations/${id}`,
      params: { id },
    });
    expect(running.body).toMatchObject({ status: 'running', report: null });
  });
});
