/**
 * The one classification (`isTransient`) and the one retry helper, with the error shapes client-node 1.4.0 really
 * throws: its own `ApiException`, node-fetch's `FetchError`/`AbortError`, and errors from a request that a real
 * CoreV1Api sends to a loopback server that misbehaves on purpose.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AbortError, ApiException, FetchError, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeKubeClients } from '../../lib/k8s/access.js';
import {
  KubeError,
  isKubeError,
  isTransient,
  parseRetryAfter,
  retryAfterOf,
  toKubeError,
} from '../../lib/k8s/errors.js';
import { DEFAULT_RETRY, retryDelay, withRetry } from '../../lib/k8s/retry.js';
import type { RetryPolicy } from '../../lib/k8s/retry.js';
import { exitCodeOf } from '../../lib/errors.js';

const apiError = (code: number, body?: unknown, headers: Record<string, string> = {}) =>
  new ApiException<unknown>(code, 'Unknown API Status Code!', body, headers);
const socketError = (code: string) =>
  new FetchError(`request to https://x failed, reason: ${code}`, 'system', { code } as never);

describe('isTransient: one classification', () => {
  it.each([
    ['429', apiError(429), true],
    ['500', apiError(500), true],
    ['502', apiError(502), true],
    ['503', apiError(503), true],
    ['504', apiError(504), true],
    ['501 Not Implemented', apiError(501), false],
    ['400', apiError(400), false],
    ['401', apiError(401), false],
    ['403', apiError(403), false],
    ['404', apiError(404), false],
    ['409', apiError(409), false],
    ['422', apiError(422), false],
    ['ECONNRESET', socketError('ECONNRESET'), true],
    ['ETIMEDOUT', socketError('ETIMEDOUT'), true],
    ['EAI_AGAIN', socketError('EAI_AGAIN'), true],
    ['EPIPE', socketError('EPIPE'), true],
    ['ECONNREFUSED (a wrong address, not a hiccup)', socketError('ECONNREFUSED'), false],
    ['ENOTFOUND', socketError('ENOTFOUND'), false],
    ['AbortError (our request timeout)', new AbortError('The user aborted a request.'), true],
    ['plain Error', new Error('boom'), false],
    ['KubeError throttled', new KubeError('throttled', 'x'), true],
    ['KubeError server', new KubeError('server', 'x'), true],
    ['KubeError timeout', new KubeError('timeout', 'x'), true],
    ['KubeError network', new KubeError('network', 'x'), true],
    ['KubeError forbidden', new KubeError('forbidden', 'x'), false],
    ['KubeError not-found', new KubeError('not-found', 'x'), false],
    ['a string', 'nope', false],
  ])('%s -> %s', (_name, error, transient) => {
    expect(isTransient(error)).toBe(transient);
  });
});

describe('toKubeError: what was wrong and where', () => {
  it('quotes the Status message and maps the status to a reason and an exit code', () => {
    const e = toKubeError(
      apiError(
        403,
        JSON.stringify({
          kind: 'Status',
          status: 'Failure',
          message: 'jobs.batch is forbidden: User "x" cannot create resource "jobs"',
          reason: 'Forbidden',
          code: 403,
        }),
      ),
      'create job snat-responder-capture/snat-capture-1',
    );
    expect(e).toMatchObject({
      reason: 'forbidden',
      status: 403,
      operation: 'create job snat-responder-capture/snat-capture-1',
    });
    expect(e.message).toBe(
      'create job snat-responder-capture/snat-capture-1: HTTP 403: jobs.batch is forbidden: User "x" cannot create resource "jobs"',
    );
    expect(exitCodeOf(e)).toBe(4);
    expect(toKubeError(apiError(404), 'get node n').reason).toBe('not-found');
    expect(toKubeError(apiError(409), 'x').reason).toBe('conflict');
    expect(toKubeError(apiError(429), 'x').reason).toBe('throttled');
    expect(toKubeError(apiError(503), 'x').reason).toBe('server');
    expect(toKubeError(apiError(422), 'x').reason).toBe('unexpected');
    expect(toKubeError(new AbortError('aborted'), 'list nodes').message).toBe(
      'list nodes: the API server did not answer in time',
    );
    expect(toKubeError(socketError('ECONNREFUSED'), 'list nodes')).toMatchObject({ reason: 'network' });
    expect(
      toKubeError(new Error('HTTP protocol is not allowed when skipTLSVerify is not set or false'), 'list nodes')
        .reason,
    ).toBe('config');
  });

  it('an invalid value is bad input (exit 3)', () => {
    expect(exitCodeOf(new KubeError('invalid', 'x'))).toBe(3);
  });
});

describe('Retry-After', () => {
  it.each([
    ['1', 1000],
    ['0', 0],
    ['120', 120_000],
    [' 7 ', 7000],
    ['Wed, 26 Nov 2026 10:00:05 GMT', 5000],
    ['Wed, 26 Nov 2026 09:00:00 GMT', 0],
    ['soon', null],
    ['-1', null],
    ['1.5', null],
    [undefined, null],
  ])('%j -> %j ms', (value, ms) => {
    expect(parseRetryAfter(value, Date.parse('2026-11-26T10:00:00Z'))).toBe(ms);
  });

  it('from the header, else from the Status body details', () => {
    expect(retryAfterOf(apiError(429, undefined, { 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterOf(apiError(429, JSON.stringify({ details: { retryAfterSeconds: 3 } })))).toBe(3000);
    expect(retryAfterOf(apiError(429, 'not json'))).toBeNull();
    expect(retryAfterOf(new Error('x'))).toBeNull();
  });
});

describe('withRetry', () => {
  const policy = (sleeps: number[], extra: Partial<RetryPolicy> = {}): RetryPolicy => ({
    ...DEFAULT_RETRY,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    ...extra,
  });

  it('retries transient failures and honours Retry-After as the minimum wait', async () => {
    const sleeps: number[] = [];
    const failures = [apiError(429, undefined, { 'retry-after': '2' }), apiError(503), socketError('ECONNRESET')];
    let calls = 0;
    const value = await withRetry(
      'list nodes',
      () => {
        calls += 1;
        const next = failures.shift();
        return next ? Promise.reject(next) : Promise.resolve('ok');
      },
      policy(sleeps),
    );
    expect(value).toBe('ok');
    expect(calls).toBe(4);
    // 2000 from Retry-After (backoff 125 is smaller), then jittered backoff 0.5 * 500, 0.5 * 1000.
    expect(sleeps).toEqual([2000, 250, 500]);
  });

  it('gives up after the attempts, with a KubeError naming the operation', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const error = await withRetry(
      'list nodes',
      () => {
        calls += 1;
        return Promise.reject(apiError(500, JSON.stringify({ message: 'etcdserver: request timed out' })));
      },
      policy(sleeps),
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(sleeps).toHaveLength(3);
    expect(isKubeError(error, 'server')).toBe(true);
    expect((error as Error).message).toBe('list nodes: HTTP 500: etcdserver: request timed out');
  });

  it('does not retry what is final', async () => {
    let calls = 0;
    const error = await withRetry(
      'get node x',
      () => {
        calls += 1;
        return Promise.reject(apiError(404));
      },
      policy([]),
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(isKubeError(error, 'not-found')).toBe(true);
  });

  it('does not wait for a Retry-After beyond its bound: fails throttled, carrying the wait', async () => {
    const sleeps: number[] = [];
    const error = await withRetry(
      'list nodes',
      () => Promise.reject(apiError(429, undefined, { 'retry-after': '3600' })),
      policy(sleeps),
    ).catch((e: unknown) => e);
    expect(sleeps).toEqual([]);
    expect(error).toMatchObject({ reason: 'throttled', retryAfterMs: 3_600_000 });
  });

  it('backoff is capped and jittered', () => {
    const p = { ...DEFAULT_RETRY, random: () => 0.999 };
    expect(retryDelay(p, 1, null)).toBe(249);
    expect(retryDelay(p, 10, null)).toBe(7992);
    expect(retryDelay({ ...p, random: () => 0 }, 3, 1500)).toBe(1500);
  });
});

describe('through the real client against a loopback server that misbehaves', () => {
  let server: http.Server;
  let url = '';
  const script: Array<(res: http.ServerResponse) => void> = [];
  let requests = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests += 1;
      const step = script.shift();
      if (step) return step(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: {}, items: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const clients = (requestTimeoutMs = 2000, sleeps: number[] = []) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'tok' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return makeKubeClients(kc, {
      requestTimeoutMs,
      retry: { sleep: (ms) => (sleeps.push(ms), Promise.resolve()), random: () => 0 },
    });
  };

  it('429 with Retry-After, then 500, then success: the client surfaces ApiException, withRetry waits as asked', async () => {
    requests = 0;
    script.push(
      (res) => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'TooManyRequests', code: 429 }));
      },
      (res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500 }));
      },
    );
    const sleeps: number[] = [];
    const c = clients(2000, sleeps);
    const list = await withRetry('list nodes', () => c.core.listNode(), c.retry);
    expect(list.items).toEqual([]);
    expect(requests).toBe(3);
    expect(sleeps).toEqual([1000, 0]);
  });

  it('a server that never answers: the per-request timeout fires, classified transient, retried, then a timeout error', async () => {
    requests = 0;
    for (let i = 0; i < 4; i++) script.push(() => undefined);
    const c = clients(200);
    const started = Date.now();
    const error = await withRetry('list nodes', () => c.core.listNode(), c.retry).catch((e: unknown) => e);
    expect(isKubeError(error, 'timeout')).toBe(true);
    expect(requests).toBe(4);
    expect(Date.now() - started).toBeLessThan(5000);
    server.closeAllConnections();
  });

  it('a reset connection is retried', async () => {
    requests = 0;
    script.push((res) => res.socket?.destroy());
    const c = clients();
    const list = await withRetry('list nodes', () => c.core.listNode(), c.retry);
    expect(list.items).toEqual([]);
    expect(requests).toBe(2);
  });

  it('plain http without skipTLSVerify is a config error, before any request', async () => {
    requests = 0;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: url }],
      users: [{ name: 'u', token: 'tok' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const c = makeKubeClients(kc);
    const error = await withRetry('list nodes', () => c.core.listNode(), c.retry).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'config' });
    expect(requests).toBe(0);
  });
});
