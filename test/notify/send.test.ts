/**
 * Delivery against a loopback HTTP receiver (node:http): exact bodies and headers, retries, throttling, refusals,
 * and no secret in any reason.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY,
  backoffDelay,
  notificationDegradations,
  notify,
  parseRetryAfter,
  postJson,
  redactUrl,
  withNotificationResults,
} from '../../lib/notify/send.js';
import type { NotificationResult, SendOptions } from '../../lib/notify/send.js';
import { teamsMessage } from '../../lib/notify/teams.js';
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
  webhookPayload,
} from '../../lib/notify/webhook.js';
import { culpritReport } from '../fixtures/report/sample.js';
import { closedPort, startReceiver } from './receiver.js';
import type { Receiver } from './receiver.js';

const SIG = 'Zm9vYmFyc2VjcmV0c2lnbmF0dXJl';
const HMAC_SECRET = 'whsec-super-secret-value';
const REPORT_LINK =
  'https://stsnat.blob.core.windows.net/reports/a/b/2024/05/14/i/report.html?sv=2025&sp=r&sig=SASTOKENSECRET';
const WORKFLOW_PATH = '/workflows/5f3c9d0e7a/triggers/manual/paths/invoke';

let rx: Receiver;
let delays: number[];

/** Retries without waiting: the delays asked for are recorded. */
function fast(extra: Partial<SendOptions> = {}): SendOptions {
  return {
    retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 },
    random: () => 0.5,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    timeoutMs: 2000,
    ...extra,
  };
}

const teamsUrl = (): string =>
  `${rx.origin}${WORKFLOW_PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`;
const hookUrl = (): string => `${rx.origin}/hooks/private-path-key-123`;

/** Nothing secret in what the caller gets back and records. */
function expectNoSecrets(results: unknown): void {
  const text = JSON.stringify(results);
  for (const secret of [SIG, HMAC_SECRET, 'SASTOKENSECRET', WORKFLOW_PATH, 'private-path-key-123', 'sig=']) {
    expect(text).not.toContain(secret);
  }
}

beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
});
beforeEach(() => {
  rx.reset();
  delays = [];
});

describe('notify', () => {
  it('posts the exact Teams body and the exact signed webhook body', async () => {
    rx.script({ status: 202 }, { status: 200 });
    const results = await notify(
      culpritReport,
      [
        { kind: 'teams', url: teamsUrl(), name: 'incident channel' },
        { kind: 'webhook', url: hookUrl(), secret: HMAC_SECRET },
      ],
      { reportUrl: REPORT_LINK, ...fast() },
    );
    expect(results.map((r) => [r.ok, r.kind, r.target, r.attempts])).toEqual([
      [true, 'teams', 'teams "incident channel"', 1],
      [true, 'webhook', `webhook ${rx.origin}`, 1],
    ]);
    expect(rx.received).toHaveLength(2);
    const teams = rx.received.find((r) => r.url.startsWith(WORKFLOW_PATH));
    const hook = rx.received.find((r) => r.url === '/hooks/private-path-key-123');
    expect(teams?.method).toBe('POST');
    expect(teams?.url).toBe(`${WORKFLOW_PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${SIG}`);
    expect(teams?.headers['content-type']).toBe('application/json');
    expect(teams?.body).toBe(JSON.stringify(teamsMessage(culpritReport, { reportUrl: REPORT_LINK })));
    expect(results[0]?.bytes).toBe(Buffer.byteLength(teams?.body ?? ''));

    expect(hook?.body).toBe(JSON.stringify(webhookPayload(culpritReport, { reportUrl: REPORT_LINK })));
    expect(hook?.headers['content-type']).toBe('application/json; charset=utf-8');
    const ts = hook?.headers[TIMESTAMP_HEADER] as string;
    const sig = hook?.headers[SIGNATURE_HEADER] as string;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    expect(verifyWebhookSignature(HMAC_SECRET, ts, hook?.body ?? '', sig)).toBe(true);
    expect(verifyWebhookSignature(HMAC_SECRET, ts, (hook?.body ?? '').replace('870', '871'), sig)).toBe(false);
    expect(notificationDegradations(results)).toEqual([]);
    expect(withNotificationResults(culpritReport, results)).toBe(culpritReport);
  });

  it('retries 500s with growing, jittered backoff, then succeeds', async () => {
    rx.script({ status: 500 }, { status: 503 }, { status: 202 });
    const [r] = await notify(culpritReport, [{ kind: 'teams', url: teamsUrl() }], {
      reportUrl: REPORT_LINK,
      ...fast(),
    });
    expect(r).toMatchObject({ ok: true, status: 202, attempts: 3 });
    expect(rx.received).toHaveLength(3);
    expect(new Set(rx.received.map((x) => x.body)).size).toBe(1);
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(delays).toEqual([backoffDelay(1, policy, () => 0.5), backoffDelay(2, policy, () => 0.5)]);
    expect(delays).toEqual([75, 150]);
  });

  it('re-signs each webhook attempt with a fresh timestamp', async () => {
    rx.script({ status: 502 }, { status: 204 });
    let now = 1_700_000_000_000;
    const [r] = await notify(culpritReport, [{ kind: 'webhook', url: hookUrl(), secret: HMAC_SECRET }], {
      reportUrl: null,
      ...fast({
        now: () => now,
        sleep: () => {
          now += 30_000;
          return Promise.resolve();
        },
      }),
    });
    expect(r).toMatchObject({ ok: true, status: 204, attempts: 2 });
    const [a, b] = rx.received;
    expect(Number(b?.headers[TIMESTAMP_HEADER])).toBe(Number(a?.headers[TIMESTAMP_HEADER]) + 30);
    for (const x of rx.received) {
      expect(
        verifyWebhookSignature(
          HMAC_SECRET,
          x.headers[TIMESTAMP_HEADER] as string,
          x.body,
          x.headers[SIGNATURE_HEADER] as string,
          {
            nowMs: Number(x.headers[TIMESTAMP_HEADER]) * 1000,
          },
        ),
      ).toBe(true);
    }
  });

  it('honours Retry-After on 429', async () => {
    rx.script({ status: 429, headers: { 'retry-after': '2' } }, { status: 202 });
    const [r] = await notify(culpritReport, [{ kind: 'teams', url: teamsUrl() }], {
      reportUrl: REPORT_LINK,
      ...fast(),
    });
    expect(r).toMatchObject({ ok: true, attempts: 2 });
    expect(delays).toEqual([2000]);
  });

  it('gives up when Retry-After asks for more than allowed', async () => {
    rx.script({ status: 429, headers: { 'retry-after': '3600' } });
    const [r] = await notify(culpritReport, [{ kind: 'teams', url: teamsUrl() }], {
      reportUrl: REPORT_LINK,
      ...fast(),
    });
    expect(r?.ok).toBe(false);
    expect(rx.received).toHaveLength(1);
    expect(r && !r.ok && r.degradation.reason).toBe(
      `teams ${rx.origin}: HTTP 429 asking to retry after 3600 s, more than the 5 s allowed; gave up`,
    );
  });

  it('does not retry 413 and says the message was too large', async () => {
    rx.script({ status: 413, body: 'request entity too large' });
    const results = await notify(culpritReport, [{ kind: 'teams', url: teamsUrl(), name: 'ops' }], {
      reportUrl: REPORT_LINK,
      ...fast(),
    });
    const [r] = results;
    expect(rx.received).toHaveLength(1);
    expect(delays).toEqual([]);
    expect(r).toMatchObject({ ok: false, status: 413, attempts: 1 });
    const bytes = Buffer.byteLength(rx.received[0]?.body ?? '');
    expect(notificationDegradations(results)).toEqual([
      {
        step: 'notify',
        reason: `teams "ops": refused the message as too large (HTTP 413, ${bytes} bytes sent); not retried`,
      },
    ]);
    expectNoSecrets(results);
  });

  it('does not retry other 4xx', async () => {
    rx.script({ status: 400 }, { status: 200 });
    const [r] = await notify(culpritReport, [{ kind: 'webhook', url: hookUrl(), secret: HMAC_SECRET }], {
      reportUrl: REPORT_LINK,
      ...fast(),
    });
    expect(rx.received).toHaveLength(1);
    expect(r && !r.ok && r.degradation.reason).toBe(`webhook ${rx.origin}: answered HTTP 400; not retried`);
    expectNoSecrets(r);
  });

  it('reports exhausted retries with the last status', async () => {
    rx.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    const [r] = await notify(culpritReport, [{ kind: 'teams', url: teamsUrl() }], {
      reportUrl: REPORT_LINK,
      ...fast(),
    });
    expect(rx.received).toHaveLength(4);
    expect(delays).toEqual([75, 150, 300]);
    expect(r && !r.ok && r.degradation.reason).toBe(`teams ${rx.origin}: failed after 4 attempts: HTTP 500`);
  });

  it('reports a refused connection after retrying, without the URL', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}${WORKFLOW_PATH}?api-version=1&sig=${SIG}`;
    const [r] = await notify(culpritReport, [{ kind: 'teams', url }], { reportUrl: REPORT_LINK, ...fast() });
    expect(r).toMatchObject({ ok: false, status: null, attempts: 4 });
    expect(r && !r.ok && r.degradation.reason).toBe(
      `teams http://127.0.0.1:${port}: failed after 4 attempts: connection refused (ECONNREFUSED)`,
    );
    expectNoSecrets(r);
  });

  it('times out an attempt that gets no answer', async () => {
    rx.script({ hang: true }, { hang: true });
    const r = await postJson(
      hookUrl(),
      '{}',
      'webhook test',
      {},
      fast({ timeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 1 } }),
    );
    expect(r).toEqual({
      ok: false,
      status: null,
      attempts: 2,
      reason: 'webhook test: failed after 2 attempts: no answer within 150 ms',
    });
  });

  it('stops when cancelled', async () => {
    rx.script({ status: 500 });
    const controller = new AbortController();
    const r = await postJson(
      hookUrl(),
      '{}',
      'webhook test',
      {},
      {
        ...fast(),
        sleep: () => {
          controller.abort();
          return Promise.reject(new Error('aborted'));
        },
        signal: controller.signal,
      },
    );
    expect(r).toMatchObject({ ok: false, attempts: 1, reason: 'webhook test: cancelled' });
    expect(rx.received).toHaveLength(1);
  });

  it('never throws, records every failure in the report, and keeps secrets out of it', async () => {
    rx.script({ status: 500 }, { status: 500 });
    const results: NotificationResult[] = await notify(
      culpritReport,
      [
        { kind: 'teams', url: `not a url ?sig=${SIG}` },
        { kind: 'teams', url: `ftp://example.invalid/x?sig=${SIG}` },
        { kind: 'teams', url: teamsUrl() },
        { kind: 'webhook', url: hookUrl(), secret: HMAC_SECRET },
        { kind: 'webhook', url: hookUrl(), secret: '' },
      ],
      { reportUrl: REPORT_LINK, ...fast({ retry: { maxAttempts: 1 } }) },
    );
    expect(results.map((r) => r.ok)).toEqual([false, false, false, false, false]);
    const degraded = notificationDegradations(results);
    expect(degraded.map((d) => d.reason)).toEqual([
      'teams an invalid URL: the URL is not valid; nothing was sent',
      'teams ftp://example.invalid: the URL scheme ftp: is not http(s); nothing was sent',
      `teams ${rx.origin}: failed after 1 attempt: HTTP 500`,
      `webhook ${rx.origin}: failed after 1 attempt: HTTP 500`,
      `webhook ${rx.origin}: no signing secret is set; nothing was sent`,
    ]);
    expect(rx.received).toHaveLength(2);
    const updated = withNotificationResults(culpritReport, results);
    expect(updated.degraded.slice(-5)).toEqual(degraded);
    expect(updated.degraded.every((d) => typeof d.step === 'string')).toBe(true);
    expectNoSecrets(results);
    expectNoSecrets(updated.degraded);
  });
});

describe('helpers', () => {
  it('redactUrl keeps only the origin', () => {
    expect(redactUrl(`https://prod-12.westeurope.logic.azure.com:443${WORKFLOW_PATH}?sig=${SIG}`)).toBe(
      'https://prod-12.westeurope.logic.azure.com',
    );
    expect(redactUrl('https://user:pass@hooks.example/x')).toBe('https://hooks.example');
    expect(redactUrl(`nope ${SIG}`)).toBe('an invalid URL');
  });

  it('parseRetryAfter reads seconds and HTTP dates', () => {
    const now = Date.parse('2024-05-14T09:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Tue, 14 May 2024 09:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 14 May 2024 08:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('backoffDelay grows exponentially, is capped, and jitters within [exp/2, exp]', () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 1000, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 0))).toEqual([500, 1000, 2000, 2500, 2500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 1))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
});
