/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   answers are read as loose JSON, as in serve.test.ts */
/**
 * SNAT_SERVE_KEY in `snat-responder serve` (lib/serve/server.ts, lib/intake/http.ts `checkServeKey`): the stand-in
 * for the Functions app's function keys. Without it every request is answered as before; with it every route (the
 * four /api routes, the report files, unknown paths) refuses a missing or wrong key with 401 before a body is read or
 * anything started, takes the key as header x-functions-key or query parameter code, checks the rate limit before the
 * key, and never writes the key to a log line. Real HTTP on loopback against the simulated cluster (sim/); not the
 * Functions host.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { createLogger } from '../../lib/log.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer } from '../../lib/serve/server.js';
import { snatAlert } from '../../sim/alerts.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';

// Characters a query string must encode: the key is redacted in both spellings.
const KEY = 'serve-key+/=0123456789abcdef';
const CLUSTER =
  '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop';
const TIMING = { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 };

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, any>;
}

interface Served {
  readonly server: RunningServer;
  /** Every line of its structured logger and of its plain `log`. */
  readonly lines: string[];
}

let sim: RunningSim;
const servers: RunningServer[] = [];

async function serve(env: Record<string, string>): Promise<Served> {
  const lines: string[] = [];
  const server = await startServe({
    clients: makeKubeClients(sim.kubeConfig(), { requestTimeoutMs: 5_000 }),
    clusterName: 'sim',
    settings: serveSettings(env).settings,
    classifier: new AddressClassifier(),
    // Reports to folders: the /reports/<id>/<file> route serves them.
    outDir: mkdtempSync(join(tmpdir(), 'snat-serve-key-')),
    captureSeconds: 1,
    run: { timing: TIMING },
    // Knows no secret itself: whatever is blanked, serve blanked.
    logger: createLogger((_level, line) => lines.push(line), {}, { level: 'debug' }),
    log: (line) => lines.push(line),
  });
  servers.push(server);
  return { server, lines };
}

async function call(
  server: RunningServer,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.body !== undefined && method !== 'GET' ? { body: options.body } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

const fired = (nodeIp: string): string => JSON.stringify(snatAlert({ nodeIp, firedAt: new Date() }));
const resolved = (): string =>
  JSON.stringify(snatAlert({ nodeIp: sim.expected.nodeIp, firedAt: new Date(), monitorCondition: 'Resolved' }));
const query = (key: string): string => `code=${encodeURIComponent(key)}`;
const withQuery = (path: string, key: string): string => `${path}${path.includes('?') ? '&' : '?'}${query(key)}`;

interface Route {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  /** A body that would start an investigation given the key. */
  readonly body?: () => string;
  /** A body that starts nothing, and the status it gets today (no key configured). */
  readonly quiet?: () => string;
  readonly today: number;
}

/** Every route of serve. */
const ROUTES: readonly Route[] = [
  {
    name: 'POST /api/alerts',
    method: 'POST',
    path: '/api/alerts',
    body: () => fired(sim.expected.nodeIp),
    quiet: () => resolved(),
    today: 202,
  },
  {
    name: 'POST /api/investigations',
    method: 'POST',
    path: '/api/investigations',
    body: () => JSON.stringify({ cluster: CLUSTER, node: sim.expected.node, captureSeconds: 1 }),
    quiet: () => JSON.stringify({ cluster: CLUSTER, node: 'Not_A_Node' }),
    today: 400,
  },
  { name: 'GET /api/investigations', method: 'GET', path: '/api/investigations', today: 200 },
  { name: 'GET /api/investigations/{id}', method: 'GET', path: '/api/investigations/serve-unknown', today: 404 },
  { name: 'GET /reports/{id}/{file}', method: 'GET', path: '/reports/serve-unknown/report.json', today: 404 },
  { name: 'an unknown path', method: 'GET', path: '/no/such/path', today: 404 },
  { name: 'a known path, another method', method: 'DELETE', path: '/api/alerts', today: 405 },
];

async function untilDone(server: RunningServer, id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const res = await call(server, 'GET', `/api/investigations/${id}`, { headers: { 'x-functions-key': KEY } });
    if (!['pending', 'running'].includes(String(res.body.status))) return res.body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`investigation ${id} did not finish`);
}

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await sim?.close();
});

describe('serve without SNAT_SERVE_KEY: every route answers as before, whatever key a request carries', () => {
  let plain: Served;
  beforeAll(async () => {
    plain = await serve({});
  });

  it.each(ROUTES)('$name: $today without a key, and the same with one', async (route) => {
    const body = route.quiet?.() ?? '';
    const without = await call(plain.server, route.method, route.path, { body });
    const withHeader = await call(plain.server, route.method, route.path, {
      body,
      headers: { 'x-functions-key': 'anything-at-all-0000' },
    });
    const withQueryKey = await call(plain.server, route.method, withQuery(route.path, 'anything-at-all-0000'), {
      body,
    });
    expect([without.status, withHeader.status, withQueryKey.status]).toEqual([route.today, route.today, route.today]);
    expect(plain.server.started()).toBe(0);
  });

  it('an alert without any key starts its investigation and runs it, as before', async () => {
    const res = await call(plain.server, 'POST', '/api/alerts', { body: fired('10.224.0.40') });
    expect(res.status).toBe(202);
    expect(res.body.investigations[0].started).toBe(true);
    expect(await untilDone(plain.server, String(res.body.investigations[0].id))).toMatchObject({
      status: 'completed',
    });
  });
});

describe('serve with SNAT_SERVE_KEY (header x-functions-key or query code)', () => {
  let keyed: Served;
  beforeAll(async () => {
    keyed = await serve({ SNAT_SERVE_KEY: KEY });
  });

  it.each(ROUTES)(
    '$name: a missing key and a wrong one (header, query) are 401 unauthorized; nothing starts',
    async (route) => {
      const requestsBefore = sim.requests();
      const attempts: Array<{ headers: Record<string, string>; path: string }> = [
        { headers: {}, path: route.path },
        { headers: { 'x-functions-key': `${KEY}x` }, path: route.path },
        { headers: { 'x-functions-key': '' }, path: route.path },
        { headers: {}, path: withQuery(route.path, KEY.slice(0, -1)) },
        { headers: {}, path: withQuery(route.path, KEY.toUpperCase()) },
        // A header present is the key given (checkServeKey reads it first): a right query does not rescue a wrong one.
        { headers: { 'x-functions-key': 'wrong-key-0123456789' }, path: withQuery(route.path, KEY) },
      ];
      for (const attempt of attempts) {
        const res = await call(keyed.server, route.method, attempt.path, {
          body: route.body?.() ?? '',
          headers: attempt.headers,
        });
        expect(res.status, `${route.name} ${JSON.stringify(attempt)}`).toBe(401);
        expect(res.body).toEqual({
          error: {
            code: 'unauthorized',
            message: 'missing or wrong key (header x-functions-key or query parameter code)',
          },
        });
      }
      expect(keyed.server.started()).toBe(0);
      expect(sim.requests()).toBe(requestsBefore);
      const list = await call(keyed.server, 'GET', '/api/investigations', { headers: { 'x-functions-key': KEY } });
      expect(list).toMatchObject({ status: 200, body: { investigations: [] } });
    },
  );

  it('the key in the header or the query: an alert starts, the status and the list answer, the report files are served', async () => {
    const started = await call(keyed.server, 'POST', '/api/alerts', {
      body: fired(sim.expected.nodeIp),
      headers: { 'x-functions-key': KEY },
    });
    expect(started.status).toBe(202);
    const id = String(started.body.investigations[0].id);
    // The status URL it gives does not carry the key: the client adds it, as it adds a function key.
    expect(started.body.investigations[0].statusUrl).toBe(`${keyed.server.url}/api/investigations/${id}`);
    const status = await call(keyed.server, 'GET', withQuery(`/api/investigations/${id}`, KEY));
    expect(status.status).toBe(200);
    const done = await untilDone(keyed.server, id);
    expect(done).toMatchObject({ status: 'completed', outcome: 'reported' });
    const links = (done.report as { links: { json: string; html: string } }).links;
    expect(links.json).toBe(`${keyed.server.url}/reports/${id}/report.json`);

    expect((await fetch(links.json)).status).toBe(401);
    const byHeader = await fetch(links.json, { headers: { 'x-functions-key': KEY } });
    expect(byHeader.status).toBe(200);
    expect(((await byHeader.json()) as { investigationId: string }).investigationId).toBe(id);
    const byQuery = await fetch(withQuery(links.html, KEY));
    expect(byQuery.status).toBe(200);
    expect(byQuery.headers.get('content-type')).toMatch(/text\/html/);

    const list = await call(keyed.server, 'GET', withQuery('/api/investigations?limit=5', KEY));
    expect(list.status).toBe(200);
    expect((list.body.investigations as Array<{ id: string }>).map((i) => i.id)).toEqual([id]);

    const manual = await call(keyed.server, 'POST', withQuery('/api/investigations', KEY), {
      body: JSON.stringify({ cluster: CLUSTER, node: 'aks-nodepool1-12345678-vmss000001', captureSeconds: 1 }),
    });
    expect(manual).toMatchObject({ status: 202, body: { started: true } });
    await untilDone(keyed.server, String(manual.body.id));
    expect(keyed.server.started()).toBe(2);
    // With the key, what is not there is still 404 and the wrong method 405.
    expect((await call(keyed.server, 'GET', withQuery('/reports/serve-unknown/report.json', KEY))).status).toBe(404);
    expect((await call(keyed.server, 'DELETE', '/api/alerts', { headers: { 'x-functions-key': KEY } })).status).toBe(
      405,
    );
    expect(sim.jobs()).toEqual([]);
  });

  it('with the key, the alert secret is still required on top (SNAT_ALERT_SECRET)', async () => {
    const { server } = await serve({ SNAT_SERVE_KEY: KEY, SNAT_ALERT_SECRET: 'alert-secret-0123456789' });
    const res = await call(server, 'POST', '/api/alerts', { body: resolved(), headers: { 'x-functions-key': KEY } });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/alert secret/);
    const ok = await call(server, 'POST', '/api/alerts?alertSecret=alert-secret-0123456789', {
      body: resolved(),
      headers: { 'x-functions-key': KEY },
    });
    expect(ok.status).toBe(202);
  });

  it('the key never reaches a log line: not as sent in a header or a query, not in a failed request', async () => {
    // A path that fails (500: a malformed escape in the id) with the right key in its query.
    const failed = await call(keyed.server, 'GET', withQuery('/api/investigations/%E0%A4%A', KEY));
    expect(failed.status).toBe(500);
    const text = keyed.lines.join('\n');
    expect(keyed.lines.length).toBeGreaterThan(20);
    expect(text).toContain('"status":401');
    expect(text).toContain('GET /api/investigations/%E0%A4%A: URI malformed');
    for (const spelling of [KEY, encodeURIComponent(KEY), KEY.slice(0, -1), KEY.toUpperCase()]) {
      // The wrong keys too: a near miss tells a reader of the log most of the key.
      expect(text).not.toContain(spelling);
    }
    expect(text).not.toContain('code=');
  });
});

describe('the order of the checks: the rate limit before the key', () => {
  it('refused keys use up the route budget: then even the right key gets 429 until the bucket refills', async () => {
    const { server } = await serve({ SNAT_SERVE_KEY: KEY, SNAT_RATE_LIMIT_PER_MINUTE: '2' });
    const wrong = { 'x-functions-key': 'wrong-key-0123456789' };
    expect((await call(server, 'POST', '/api/alerts', { body: resolved(), headers: wrong })).status).toBe(401);
    expect((await call(server, 'POST', '/api/alerts', { body: resolved(), headers: wrong })).status).toBe(401);
    const limited = await call(server, 'POST', '/api/alerts', {
      body: resolved(),
      headers: { 'x-functions-key': KEY },
    });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate-limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(server.started()).toBe(0);
  });

  it('with a key, report files and unknown paths share one limit of the GET budget, checked before the key', async () => {
    // 1 a minute: the GET routes (and these paths) get 10.
    const { server, lines } = await serve({ SNAT_SERVE_KEY: KEY, SNAT_RATE_LIMIT_PER_MINUTE: '1' });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await call(server, 'GET', `/reports/guess-${i}/report.json`)).status);
    expect(statuses).toEqual(Array.from({ length: 10 }, () => 401));
    const limited = await call(server, 'GET', withQuery('/reports/x/report.json', KEY));
    expect(limited.status).toBe(429);
    expect(limited.body.error.message).toMatch(/GET \/reports\/\{id\}\/\{file\}/);
    expect((await call(server, 'GET', '/elsewhere', { headers: { 'x-functions-key': KEY } })).status).toBe(429);
    // Each refusal is one line with its code; the API routes keep their own budget.
    const refused = lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === 'request refused');
    expect(refused.filter((r) => r.route === 'reportFile' && r.code === 'unauthorized')).toHaveLength(10);
    expect(refused.filter((r) => r.code === 'rate-limited')).toHaveLength(2);
    expect((await call(server, 'GET', '/api/investigations', { headers: { 'x-functions-key': KEY } })).status).toBe(
      200,
    );
  });

  it('without a key the report files are not limited, as before', async () => {
    const { server } = await serve({ SNAT_RATE_LIMIT_PER_MINUTE: '1' });
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await call(server, 'GET', `/reports/r-${i}/report.json`)).status);
    expect(new Set(statuses)).toEqual(new Set([404]));
  });
});
