/**
 * SNAT_RATE_LIMIT_PER_MINUTE in `snat-responder serve` (lib/serve/server.ts, lib/intake/rate-limit.ts `RouteLimits`):
 * per route and remote address, checked before the secret or the body. Real HTTP on loopback against the simulated
 * cluster (sim/); a second caller is a second loopback source address (127.0.0.2).
 */
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
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

const CLUSTER =
  '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
}

/** One request from `localAddress` (node:http: fetch cannot choose its source address). */
function send(
  url: string,
  method: string,
  path: string,
  body: string | null,
  localAddress = '127.0.0.1',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, localAddress, headers: { 'content-type': 'application/json' } });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

let sim: RunningSim;
const servers: RunningServer[] = [];
const resolved = (): string =>
  JSON.stringify(snatAlert({ nodeIp: sim.expected.nodeIp, firedAt: new Date(), monitorCondition: 'Resolved' }));
const fired = (): string => JSON.stringify(snatAlert({ nodeIp: sim.expected.nodeIp, firedAt: new Date() }));

async function serve(env: Record<string, string>, lines: string[] = []): Promise<RunningServer> {
  const server = await startServe({
    clients: makeKubeClients(sim.kubeConfig(), { requestTimeoutMs: 5_000 }),
    clusterName: 'sim',
    settings: serveSettings(env).settings,
    classifier: new AddressClassifier(),
    outDir: mkdtempSync(join(tmpdir(), 'snat-serve-limit-')),
    captureSeconds: 1,
    run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
    logger: createLogger((_level, line) => lines.push(line)),
  });
  servers.push(server);
  return server;
}

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await sim?.close();
});

describe('serve: SNAT_RATE_LIMIT_PER_MINUTE (loopback HTTP, simulated cluster)', () => {
  it('at 5 per minute, the 6th alert from one client within the minute is 429 with Retry-After and starts nothing', async () => {
    const lines: string[] = [];
    const server = await serve({ SNAT_RATE_LIMIT_PER_MINUTE: '5' }, lines);
    for (let i = 0; i < 5; i++) {
      const ok = await send(server.url, 'POST', '/api/alerts', resolved());
      expect(ok).toMatchObject({ status: 202, body: { started: [], ignored: { code: 'resolved' } } });
      expect(ok.headers['retry-after']).toBeUndefined();
    }
    // An alert that would start an investigation: refused before it is read.
    const sixth = await send(server.url, 'POST', '/api/alerts', fired());
    expect(sixth).toMatchObject({ status: 429, body: { error: { code: 'rate-limited' } } });
    const retryAfter = Number(sixth.headers['retry-after']);
    // One token every 12 s at 5 per minute.
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 12).toBe(true);
    expect(String((sixth.body.error as { message: string }).message)).toContain('POST /api/alerts');
    expect(server.started()).toBe(0);
    expect(sim.jobs()).toEqual([]);
    const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.status === 429);
    expect(refused).toEqual([
      expect.objectContaining({
        msg: 'request refused',
        route: 'alerts',
        code: 'rate-limited',
        retryAfterSeconds: retryAfter,
      }),
    ]);

    // Other routes of the same client have buckets of their own.
    const badStart = await send(server.url, 'POST', '/api/investigations', JSON.stringify({ cluster: CLUSTER }));
    expect(badStart.status).toBe(400);
    expect((await send(server.url, 'GET', '/api/investigations', null)).status).toBe(200);
    expect((await send(server.url, 'GET', '/api/investigations/serve-unknown', null)).status).toBe(404);
    // Another client has a bucket of its own on the same route.
    expect((await send(server.url, 'POST', '/api/alerts', resolved(), '127.0.0.2')).status).toBe(202);
    // The first client is still refused.
    expect((await send(server.url, 'POST', '/api/alerts', resolved())).status).toBe(429);
  });

  it('the start route is limited on its own: its 6th request is 429 before the body is parsed', async () => {
    const server = await serve({ SNAT_RATE_LIMIT_PER_MINUTE: '5' });
    for (let i = 0; i < 5; i++) {
      expect((await send(server.url, 'POST', '/api/investigations', '{not json')).status).toBe(400);
    }
    const sixth = await send(server.url, 'POST', '/api/investigations', '{not json');
    expect(sixth.status).toBe(429);
    expect(sixth.headers['retry-after']).toMatch(/^\d+$/);
    expect((await send(server.url, 'POST', '/api/alerts', resolved())).status).toBe(202);
  });

  it('the GET routes get ten times the budget: 50 status reads pass, the 51st is 429', async () => {
    const server = await serve({ SNAT_RATE_LIMIT_PER_MINUTE: '5' });
    for (let i = 0; i < 50; i++) {
      expect((await send(server.url, 'GET', '/api/investigations/serve-unknown', null)).status).toBe(404);
    }
    expect((await send(server.url, 'GET', '/api/investigations/serve-unknown', null)).status).toBe(429);
    expect((await send(server.url, 'GET', '/api/investigations', null)).status).toBe(200);
  });

  it('at 0 there is no limit', async () => {
    const server = await serve({ SNAT_RATE_LIMIT_PER_MINUTE: '0' });
    const all = await Promise.all(
      Array.from({ length: 60 }, () => send(server.url, 'POST', '/api/alerts', resolved())),
    );
    expect(all.map((a) => a.status)).toEqual(Array.from({ length: 60 }, () => 202));
    expect(all.every((a) => a.headers['retry-after'] === undefined)).toBe(true);
  });

  it('by default (120 per minute) a burst of 100 alerts is answered', async () => {
    const server = await serve({});
    const all = await Promise.all(
      Array.from({ length: 100 }, () => send(server.url, 'POST', '/api/alerts', resolved())),
    );
    expect(all.every((a) => a.status === 202)).toBe(true);
  });
});
