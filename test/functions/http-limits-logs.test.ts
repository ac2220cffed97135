/**
 * Rate limits and decision logs of the HTTP handlers, through their registrations (test/helpers/df-harness.ts), not
 * the Functions host: each handler is called with a real `HttpRequest` and an `InvocationContext` whose log handler
 * keeps the lines (what the host would send to Application Insights) and whose Durable client input points at a
 * loopback fake of the extension's HTTP API that records every start.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetSettingsCache } from '../../lib/serve/handler-kit.js';
import { snatAlert } from '../../sim/alerts.js';
import { loadApp } from '../helpers/df-harness.js';
import type { Registration } from '../helpers/df-harness.js';

const SUB = '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b';
const CLUSTER = `${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`;
const ALERT_SECRET = 'functions-alert-secret-0123456789';
const ACCOUNT_KEY = 'RnVuY3Rpb25zVGVzdEFjY291bnRLZXlOb3RSZWFsMDAwMDA=';

/** The extension's HTTP API as far as the handlers use it: starts (recorded), instance reads, the list. */
const starts: string[] = [];
const extension = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const instance = (id: string) => {
      const t = new Date().toISOString();
      return {
        name: 'investigateSnat',
        instanceId: id,
        createdTime: t,
        lastUpdatedTime: t,
        input: null,
        output: null,
        runtimeStatus: 'Pending',
        customStatus: null,
      };
    };
    const start = /^\/durabletask\/orchestrators\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && start) {
      starts.push(start[2]!);
      return reply(202, { id: start[2] });
    }
    const get = /^\/durabletask\/instances\/(.*)$/.exec(url.pathname);
    if (req.method === 'GET' && get) {
      const id = get[1] ?? '';
      if (id === '') return reply(200, starts.map(instance));
      return starts.includes(id) ? reply(200, instance(id)) : reply(404, { message: 'not found' });
    }
    reply(400, { message: `unexpected ${req.method} ${url.pathname}` });
  });
});
let extensionUrl = '';
let app: Map<string, Registration>;
const savedEnv = { ...process.env };

function setEnv(extra: Record<string, string> = {}): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('SNAT_')) delete process.env[k];
  Object.assign(process.env, {
    SNAT_TASK_HUB: 'snathub',
    SNAT_REPORT_STORAGE: `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${ACCOUNT_KEY};EndpointSuffix=core.windows.net`,
    SNAT_ALERT_SECRET: ALERT_SECRET,
    ...extra,
  });
  resetSettingsCache();
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

interface Called {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
  /** What the handler logged through its invocation: level and the JSON line. */
  readonly logs: Array<{ level: string; record: Record<string, unknown>; text: string }>;
}

async function call(
  name: string,
  init: { method: string; path: string; body?: string; from?: string; params?: Record<string, string> },
): Promise<Called> {
  const reg = app.get(name);
  if (!reg) throw new Error(`no registration ${name}`);
  const clientInput = (reg.options.extraInputs as Array<{ type: string }>).find((i) => i.type === 'durableClient');
  if (!clientInput) throw new Error(`${name} has no durable client input`);
  const logs: Called['logs'] = [];
  const context = new InvocationContext({
    functionName: name,
    options: { extraInputs: [clientInput] } as never,
    logHandler: (level, ...args) => {
      const text = args.map(String).join(' ');
      logs.push({ level, text, record: JSON.parse(text) as Record<string, unknown> });
    },
  });
  context.extraInputs.set(clientInput as never, {
    taskHubName: 'snathub',
    rpcBaseUrl: `${extensionUrl}/durabletask/`,
    creationUrls: {},
    managementUrls: {},
    baseUrl: `${extensionUrl}/runtime/webhooks/durabletask`,
    requiredQueryStringParameters: '',
  });
  const request = new HttpRequest({
    method: init.method,
    url: `https://snat.example.net${init.path}`,
    headers: {
      'content-type': 'application/json',
      'x-snat-alert-secret': ALERT_SECRET,
      // As the platform's front end sets it: the client, with its port.
      ...(init.from !== undefined ? { 'x-forwarded-for': `${init.from}, 10.0.0.4` } : {}),
    },
    ...(init.body !== undefined ? { body: { string: init.body } } : {}),
    ...(init.params ? { params: init.params } : {}),
  });
  const response = await (reg.options.handler as unknown as Handler)(request, context);
  return {
    status: response.status ?? 200,
    headers: { ...(response.headers as Record<string, string>) },
    body: response.jsonBody as Record<string, unknown>,
    logs,
  };
}

const alertOf = (nodeIp: string, monitorCondition: 'Fired' | 'Resolved' = 'Fired'): string =>
  JSON.stringify(snatAlert({ nodeIp, firedAt: new Date(), monitorCondition }));
const postAlert = (body: string, from?: string) =>
  call('alerts', { method: 'POST', path: '/api/alerts', body, ...(from !== undefined ? { from } : {}) });

beforeAll(async () => {
  await new Promise<void>((r) => extension.listen(0, '127.0.0.1', r));
  extensionUrl = `http://127.0.0.1:${(extension.address() as AddressInfo).port}`;
  process.env.WEBSITE_HOSTNAME = new URL(extensionUrl).host;
  app = await loadApp();
});
afterAll(async () => {
  await new Promise<void>((r) => extension.close(() => r()));
  process.env = savedEnv;
});
beforeEach(() => {
  starts.length = 0;
  setEnv();
});

describe('HTTP handlers: SNAT_RATE_LIMIT_PER_MINUTE, through their registrations (not the Functions host)', () => {
  it('at 5 per minute, the alert handler answers 429 with Retry-After after the burst, and starts nothing', async () => {
    setEnv({ SNAT_RATE_LIMIT_PER_MINUTE: '5' });
    const caller = '203.0.113.7:51234';
    for (let i = 0; i < 5; i++) expect((await postAlert(alertOf('10.224.0.5', 'Resolved'), caller)).status).toBe(202);
    const sixth = await postAlert(alertOf('10.224.0.5'), caller);
    expect(sixth).toMatchObject({ status: 429, body: { error: { code: 'rate-limited' } } });
    expect(sixth.headers['retry-after']).toMatch(/^([1-9]|1[0-2])$/);
    expect(starts).toEqual([]);
    expect(sixth.logs.map((l) => l.record)).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request refused',
        route: 'alerts',
        status: 429,
        code: 'rate-limited',
        retryAfterSeconds: Number(sixth.headers['retry-after']),
      }),
    ]);
    // The same client from another port is the same caller.
    expect((await postAlert(alertOf('10.224.0.5'), '203.0.113.7:40000')).status).toBe(429);
    // Another client, and the start route of the same client, have buckets of their own.
    const other = await postAlert(alertOf('10.224.0.5'), '198.51.100.20');
    expect(other.status).toBe(202);
    expect(starts).toHaveLength(1);
    const start = await call('startInvestigation', {
      method: 'POST',
      path: '/api/investigations',
      body: JSON.stringify({ cluster: CLUSTER, nodeIp: '10.224.0.6' }),
      from: caller,
    });
    expect(start.status).toBe(202);
    expect(starts).toHaveLength(2);
  });

  it('callers without x-forwarded-for share one bucket (unknown); at 0 nothing is limited', async () => {
    setEnv({ SNAT_RATE_LIMIT_PER_MINUTE: '2' });
    expect((await postAlert(alertOf('10.224.0.5', 'Resolved'))).status).toBe(202);
    expect((await postAlert(alertOf('10.224.0.5', 'Resolved'))).status).toBe(202);
    expect((await postAlert(alertOf('10.224.0.5', 'Resolved'))).status).toBe(429);
    setEnv({ SNAT_RATE_LIMIT_PER_MINUTE: '0' });
    for (let i = 0; i < 30; i++) expect((await postAlert(alertOf('10.224.0.5', 'Resolved'))).status).toBe(202);
  });

  it('the GET routes are limited at ten times the setting', async () => {
    setEnv({ SNAT_RATE_LIMIT_PER_MINUTE: '1' });
    const get = () =>
      call('getInvestigation', {
        method: 'GET',
        path: '/api/investigations/snat-nope',
        params: { id: 'snat-nope' },
        from: '192.0.2.1',
      });
    for (let i = 0; i < 10; i++) expect((await get()).status).toBe(404);
    expect((await get()).status).toBe(429);
    expect((await call('listInvestigations', { method: 'GET', path: '/api/investigations' })).status).toBe(200);
  });
});

describe('HTTP handlers: one decision line per request, through the invocation logger', () => {
  it('accepted with the started id; ignored with its code; refused with its code; no secret in any line', async () => {
    const accepted = await postAlert(alertOf('10.224.0.5'), '203.0.113.9');
    expect(accepted.status).toBe(202);
    expect(accepted.logs.map((l) => l.record)).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request accepted',
        route: 'alerts',
        status: 202,
        investigationId: starts[0],
        investigationIds: starts[0],
      }),
    ]);
    expect(accepted.logs[0]?.level).toBe('information');

    const ignored = await postAlert(alertOf('10.224.0.5', 'Resolved'));
    expect(ignored.logs.map((l) => l.record)).toEqual([
      expect.objectContaining({ msg: 'request ignored', status: 202, code: 'resolved' }),
    ]);

    const bad = await call('startInvestigation', {
      method: 'POST',
      path: '/api/investigations',
      body: JSON.stringify({ cluster: CLUSTER, nodeIp: `not-an-ip-${ALERT_SECRET}` }),
    });
    expect(bad.status).toBe(400);
    expect(bad.logs.map((l) => l.record)).toEqual([
      expect.objectContaining({ msg: 'request refused', route: 'startInvestigation', status: 400 }),
    ]);

    const status = await call('getInvestigation', {
      method: 'GET',
      path: `/api/investigations/${starts[0]}`,
      params: { id: starts[0]! },
    });
    expect(status.logs.map((l) => l.record)).toEqual([
      expect.objectContaining({
        level: 'debug',
        msg: 'request answered',
        route: 'getInvestigation',
        investigationId: starts[0],
      }),
    ]);
    expect(status.logs[0]?.level).toBe('debug');

    for (const line of [...accepted.logs, ...ignored.logs, ...bad.logs, ...status.logs]) {
      expect(line.text).not.toContain(ALERT_SECRET);
      expect(line.text).not.toContain(ACCOUNT_KEY);
    }
  });

  it('a settings problem: one error line (500, configuration), the broken secret settings still blanked', async () => {
    setEnv({ SNAT_TASK_HUB: '', SNAT_WEBHOOK_SECRET: 'short-but-secret' });
    const res = await postAlert(alertOf('10.224.0.5'));
    expect(res.status).toBe(500);
    expect(res.logs.map((l) => l.record)).toEqual([
      expect.objectContaining({ level: 'error', msg: 'settings could not be read' }),
      expect.objectContaining({ level: 'error', msg: 'request failed', status: 500, code: 'configuration' }),
    ]);
    const problems = String(res.logs[0]?.record.error);
    expect(problems).toContain('SNAT_TASK_HUB');
    expect(problems).toContain('SNAT_WEBHOOK_SECRET');
    const text = res.logs.map((l) => l.text).join('\n');
    for (const secret of [ACCOUNT_KEY, ALERT_SECRET, 'short-but-secret']) expect(text).not.toContain(secret);
  });
});
