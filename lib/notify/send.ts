/**
 * Delivery of notifications: POST with a timeout, retried with exponential backoff and jitter on 429, 5xx, timeouts
 * and network errors (Retry-After honoured), not retried on any other answer. `deliver` (any message: a node's report,
 * a cluster's census) and `notify` (a report's) never throw: each target gives a result, and a failure carries the
 * Degradation the caller records.
 *
 * Webhook URLs are secrets (a Teams Workflows URL carries a `sig=` token; generic ones often hide a key in the path):
 * reasons name a target by its label or its origin only, and never repeat an error's own message, which may quote
 * the URL.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Degradation, Report } from '../report/model.js';
import { teamsMessage } from './teams.js';
import { jsonBytes } from './text.js';
import { signedHeaders, webhookPayload } from './webhook.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the delivery fails instead. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 15_000,
  maxRetryAfterMs: 60_000,
});

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface SendOptions {
  /** Per attempt. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Cancels the delivery (no further attempts). */
  readonly signal?: AbortSignal;
  /** Seams for tests. */
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

export type PostResult =
  | { readonly ok: true; readonly status: number; readonly attempts: number }
  | { readonly ok: false; readonly status: number | null; readonly attempts: number; readonly reason: string };

/** `https://host` of a URL (no path, query, or credentials), for messages; `an invalid URL` when it is none. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'an invalid URL';
  }
}

/**
 * Delay before retry number `retry` (1 = the first retry): exponential, capped, with "equal jitter" (half fixed, half
 * random) so a burst of responders does not retry in lockstep yet none retries at once.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** A short, secret-free description of a failed fetch: the timeout, or the system error code. */
function networkFailure(e: unknown, timeoutMs: number): string {
  const err = e as { name?: unknown; cause?: { code?: unknown; name?: unknown } };
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const code = err.cause?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code)) {
    const known: Record<string, string> = {
      ECONNREFUSED: 'connection refused',
      ECONNRESET: 'connection reset',
      ENOTFOUND: 'host not found',
      EAI_AGAIN: 'name resolution failed',
      ETIMEDOUT: 'connection timed out',
      UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
      UND_ERR_SOCKET: 'connection closed',
    };
    return `${known[code] ?? 'network error'} (${code})`;
  }
  return 'network error';
}

const sleepDefault = (ms: number, signal?: AbortSignal): Promise<void> =>
  delay(ms, undefined, signal ? { signal } : {}).then(() => undefined);

/**
 * POSTs `body` to `url`, retrying what is worth retrying. Never throws. `headers` may be a function, called per
 * attempt (a signed webhook gets a fresh timestamp each time). `label` names the target in reasons.
 */
export async function postJson(
  url: string,
  body: string,
  label: string,
  headers: Record<string, string> | (() => Record<string, string>),
  options: SendOptions = {},
): Promise<PostResult> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? sleepDefault;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const fail = (status: number | null, attempts: number, why: string): PostResult => ({
    ok: false,
    status,
    attempts,
    reason: `${label}: ${why}`,
  });

  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return fail(null, 0, 'the URL is not valid; nothing was sent');
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    return fail(null, 0, `the URL scheme ${target.protocol} is not http(s); nothing was sent`);
  }

  let last = 'not attempted';
  let lastStatus: number | null = null;
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (options.signal?.aborted) return fail(lastStatus, attempt - 1, 'cancelled');
    let waitMs: number | null = null;
    try {
      const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
      const response = await doFetch(target, {
        method: 'POST',
        headers: typeof headers === 'function' ? headers() : headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any(signals),
      });
      await response.body?.cancel().catch(() => undefined);
      const status = response.status;
      lastStatus = status;
      if (status >= 200 && status < 300) return { ok: true, status, attempts: attempt };
      if (status === 413) {
        return fail(
          status,
          attempt,
          `refused the message as too large (HTTP 413, ${Buffer.byteLength(body, 'utf8')} bytes sent); not retried`,
        );
      }
      if (status >= 300 && status < 400) return fail(status, attempt, `redirected (HTTP ${status}); not followed`);
      if (!isRetryableStatus(status)) return fail(status, attempt, `answered HTTP ${status}; not retried`);
      last = `HTTP ${status}`;
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now());
      if (retryAfter !== null && retryAfter > policy.maxRetryAfterMs) {
        return fail(
          status,
          attempt,
          `HTTP ${status} asking to retry after ${Math.ceil(retryAfter / 1000)} s, more than the ${Math.ceil(policy.maxRetryAfterMs / 1000)} s allowed; gave up`,
        );
      }
      waitMs = retryAfter;
    } catch (e) {
      if (options.signal?.aborted) return fail(lastStatus, attempt, 'cancelled');
      last = networkFailure(e, timeoutMs);
      lastStatus = null;
    }
    if (attempt === policy.maxAttempts) break;
    try {
      await sleep(waitMs ?? backoffDelay(attempt, policy, random), options.signal);
    } catch {
      return fail(lastStatus, attempt, 'cancelled');
    }
  }
  const n = policy.maxAttempts;
  return fail(lastStatus, n, `failed after ${n} attempt${n === 1 ? '' : 's'}: ${last}`);
}

export type NotifyTarget =
  | { readonly kind: 'teams'; readonly url: string; readonly name?: string }
  | { readonly kind: 'webhook'; readonly url: string; readonly secret: string; readonly name?: string };

export type NotificationResult =
  | {
      readonly ok: true;
      readonly kind: NotifyTarget['kind'];
      readonly target: string;
      readonly status: number;
      readonly attempts: number;
      readonly bytes: number;
    }
  | {
      readonly ok: false;
      readonly kind: NotifyTarget['kind'];
      readonly target: string;
      readonly status: number | null;
      readonly attempts: number;
      readonly bytes: number;
      /** What to add to the report's `degraded`: `{ step: 'notify', reason }`. */
      readonly degradation: Degradation;
    };

export interface NotifyOptions extends SendOptions {
  /** The report's read link (readLink of the store); null when the report could not be stored. */
  readonly reportUrl: string | null;
}

/** How a target is named in results: its configured name, else its kind and origin (never the full URL). */
export function targetLabel(target: NotifyTarget): string {
  return target.name !== undefined && target.name.length > 0
    ? `${target.kind} "${target.name.slice(0, 80)}"`
    : `${target.kind} ${redactUrl(target.url)}`;
}

/**
 * The messages of one notification, built per target kind on demand (only for the kinds there are targets of): the
 * Teams Workflows body, and the generic webhook's JSON payload (signed when sent).
 */
export interface NotificationMessages {
  teams(): unknown;
  webhook(): unknown;
}

/**
 * Sends `messages` to every target, in parallel: the Teams body as is, the webhook payload signed with the target's
 * secret. Never throws (a message that cannot be built is that target's failure); one result per target, in order.
 */
export function deliver(
  messages: NotificationMessages,
  targets: readonly NotifyTarget[],
  options: SendOptions = {},
): Promise<NotificationResult[]> {
  return Promise.all(
    targets.map(async (target): Promise<NotificationResult> => {
      const label = targetLabel(target);
      let bytes = 0;
      let result: PostResult;
      try {
        if (target.kind === 'teams') {
          const message = messages.teams();
          const body = JSON.stringify(message);
          bytes = jsonBytes(message);
          result = await postJson(target.url, body, label, { 'content-type': 'application/json' }, options);
        } else if (target.secret.length === 0) {
          result = {
            ok: false,
            status: null,
            attempts: 0,
            reason: `${label}: no signing secret is set; nothing was sent`,
          };
        } else {
          const body = JSON.stringify(messages.webhook());
          bytes = Buffer.byteLength(body, 'utf8');
          const now = options.now ?? Date.now;
          result = await postJson(target.url, body, label, () => signedHeaders(target.secret, body, now()), options);
        }
      } catch {
        // A bug in building the message must not fail the investigation either.
        result = { ok: false, status: null, attempts: 0, reason: `${label}: the message could not be built` };
      }
      if (result.ok)
        return { ok: true, kind: target.kind, target: label, status: result.status, attempts: result.attempts, bytes };
      return {
        ok: false,
        kind: target.kind,
        target: label,
        status: result.status,
        attempts: result.attempts,
        bytes,
        degradation: { step: 'notify', reason: result.reason },
      };
    }),
  );
}

/** Sends the report's summary to every target, in parallel. Never throws; one result per target, in order. */
export function notify(
  report: Report,
  targets: readonly NotifyTarget[],
  options: NotifyOptions,
): Promise<NotificationResult[]> {
  return deliver(
    {
      teams: () => teamsMessage(report, { reportUrl: options.reportUrl }),
      webhook: () => webhookPayload(report, { reportUrl: options.reportUrl }),
    },
    targets,
    options,
  );
}

/** The degradations to record for the failed notifications. */
export function notificationDegradations(results: readonly NotificationResult[]): Degradation[] {
  return results.flatMap((r) => (r.ok ? [] : [r.degradation]));
}

/** The report with its failed notifications recorded (to be written again by the caller). */
export function withNotificationResults(report: Report, results: readonly NotificationResult[]): Report {
  const added = notificationDegradations(results);
  return added.length === 0 ? report : { ...report, degraded: [...report.degraded, ...added] };
}
