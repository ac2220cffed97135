/**
 * Errors of the Kubernetes adapter, classified once.
 *
 * @kubernetes/client-node 1.4.0 surfaces failures in three shapes (read from its `dist/`):
 * - `ApiException` (`gen/apis/exception.js`): a non-2xx answer. `code` = HTTP status, `body` = the raw response text
 *   (a `Status` JSON string, or undefined for 401), `headers` = a plain object with lower-cased names
 *   (`retry-after`), built by `gen/http/isomorphic-fetch.js` from node-fetch's Headers.
 * - node-fetch 2.7 `FetchError` (`type: 'system'`, `code`/`errno` = the socket error such as `ECONNRESET`) for
 *   network failures, and `AbortError` (`type: 'aborted'`) when the request's signal fires (our per-request timeout).
 * - plain `Error`s from `KubeConfig` (no cluster, HTTP without skipTLSVerify, unreadable files).
 *
 * `toKubeError` maps all of them onto one `KubeError` with a `reason`; `isTransient` is the one place that decides
 * what is worth retrying.
 */
import { SnatResponderError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

export type KubeErrorReason =
  /** kubeconfig, context, server URL, CA or token is unusable. */
  | 'config'
  /** A value we were given is not acceptable (not an IP literal, not a DNS-1123 name, out of range). */
  | 'invalid'
  | 'not-found'
  | 'ambiguous'
  | 'unauthorized'
  | 'forbidden'
  | 'conflict'
  /** 429 that outlived the retries. */
  | 'throttled'
  /** 5xx that outlived the retries. */
  | 'server'
  | 'timeout'
  | 'network'
  /** Any other HTTP status (400, 422, ...) or an error of unknown shape. */
  | 'unexpected';

const CODE_OF_REASON: Record<KubeErrorReason, ErrorCode> = {
  config: 'ENVIRONMENT',
  invalid: 'BAD_INPUT',
  'not-found': 'BAD_INPUT',
  ambiguous: 'BAD_INPUT',
  unauthorized: 'ENVIRONMENT',
  forbidden: 'ENVIRONMENT',
  conflict: 'ENVIRONMENT',
  throttled: 'ENVIRONMENT',
  server: 'ENVIRONMENT',
  timeout: 'ENVIRONMENT',
  network: 'ENVIRONMENT',
  unexpected: 'ENVIRONMENT',
};

export class KubeError extends SnatResponderError {
  readonly reason: KubeErrorReason;
  /** HTTP status when the API server answered. */
  readonly status: number | null;
  /** What was being done, e.g. `get node aks-np1-0`, `create job snat-capture/snat-capture-1a2b`. */
  readonly operation: string | null;
  /** Server-requested wait (Retry-After) of the last answer, in ms. */
  readonly retryAfterMs: number | null;

  constructor(
    reason: KubeErrorReason,
    message: string,
    details: { status?: number | null; operation?: string | null; retryAfterMs?: number | null; cause?: unknown } = {},
  ) {
    super(CODE_OF_REASON[reason], message, { cause: details.cause });
    this.name = 'KubeError';
    this.reason = reason;
    this.status = details.status ?? null;
    this.operation = details.operation ?? null;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

export function isKubeError(e: unknown, reason?: KubeErrorReason): e is KubeError {
  return e instanceof KubeError && (reason === undefined || e.reason === reason);
}

export const invalidValue = (message: string): KubeError => new KubeError('invalid', message);
export const configError = (message: string, cause?: unknown): KubeError => new KubeError('config', message, { cause });

/** The fields of client-node's `ApiException` we rely on (duck-typed: the class is not re-exported from the root). */
export interface ApiExceptionLike {
  readonly code: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export function isApiException(e: unknown): e is ApiExceptionLike {
  return (
    e instanceof Error && typeof (e as { code?: unknown }).code === 'number' && e.message.startsWith('HTTP-Code: ')
  );
}

/**
 * Socket-level failures worth another attempt, for every HTTP client here: resets, timeouts, DNS hiccups.
 * ECONNREFUSED is not: it is almost always a wrong server address (AKS API servers and ARM sit behind load balancers
 * that accept the connection).
 */
export const TRANSIENT_NETWORK_CODES: readonly string[] = [
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
];

/** The network codes, plus how node-fetch and streams report a dropped socket. */
const TRANSIENT_SOCKET_CODES = new Set([...TRANSIENT_NETWORK_CODES, 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

function socketCode(e: unknown): string | null {
  for (let cur: unknown = e, depth = 0; cur instanceof Error && depth < 5; cur = cur.cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errno = (cur as { errno?: unknown }).errno;
    if (typeof errno === 'string') return errno;
  }
  return null;
}

function isAbort(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.name === 'AbortError' || e.name === 'TimeoutError' || (e as { type?: unknown }).type === 'aborted')
  );
}

export function isTransientStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

/**
 * The one classification of retryable failures: HTTP 429 and 5xx (but 501/505), request timeouts, connection resets
 * and other socket hiccups. Everything else (4xx, config errors, programming errors) is final.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof KubeError) {
    return e.reason === 'throttled' || e.reason === 'server' || e.reason === 'timeout' || e.reason === 'network';
  }
  if (isApiException(e)) return isTransientStatus(e.code);
  if (isAbort(e)) return true;
  const code = socketCode(e);
  return code !== null && TRANSIENT_SOCKET_CODES.has(code);
}

/** Parses a Retry-After header (delta seconds or an HTTP date) into milliseconds; null when absent or unusable. */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | null {
  if (value === undefined || value === null) return null;
  const text = value.trim();
  if (/^\d{1,7}$/.test(text)) return Number(text) * 1000;
  // An HTTP-date (IMF-fixdate, RFC 9110): `Wed, 26 Nov 2026 10:00:05 GMT`. Anything else Date.parse would guess at.
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** A Kubernetes `Status` body, when the answer carried one (client-node hands the raw text through). */
export interface StatusBody {
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly retryAfterSeconds?: number; readonly name?: string; readonly kind?: string };
}

export function statusBodyOf(e: ApiExceptionLike): StatusBody | null {
  let body: unknown = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return null;
    }
  }
  return typeof body === 'object' && body !== null ? body : null;
}

/** Server-requested delay of an error: the Retry-After header, else the Status body's `details.retryAfterSeconds`. */
export function retryAfterOf(e: unknown): number | null {
  if (e instanceof KubeError) return e.retryAfterMs;
  if (!isApiException(e)) return null;
  const header = parseRetryAfter(e.headers?.['retry-after']);
  if (header !== null) return header;
  const seconds = statusBodyOf(e)?.details?.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

function reasonOfStatus(status: number): KubeErrorReason {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'server';
  return 'unexpected';
}

/** Keeps a server message short and on one line. */
function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** Maps anything a client-node call can throw onto a `KubeError` naming the operation. */
export function toKubeError(e: unknown, operation: string): KubeError {
  if (e instanceof KubeError) {
    return e.operation !== null
      ? e
      : new KubeError(e.reason, `${operation}: ${e.message}`, { ...e, operation, cause: e });
  }
  if (isApiException(e)) {
    const status = e.code;
    const body = statusBodyOf(e);
    const detail = body?.message ? `: ${oneLine(body.message)}` : body?.reason ? `: ${body.reason}` : '';
    return new KubeError(reasonOfStatus(status), `${operation}: HTTP ${status}${detail}`, {
      status,
      operation,
      retryAfterMs: retryAfterOf(e),
      cause: e,
    });
  }
  if (isAbort(e)) {
    return new KubeError('timeout', `${operation}: the API server did not answer in time`, { operation, cause: e });
  }
  const code = socketCode(e);
  if (code !== null && (TRANSIENT_SOCKET_CODES.has(code) || code.startsWith('E'))) {
    return new KubeError('network', `${operation}: ${code} talking to the API server`, { operation, cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  // KubeConfig's own guards (no cluster, plain http without skipTLSVerify, unreadable CA file) are configuration.
  if (/skipTLSVerify|No active cluster|No active user|ENOENT|certificate/i.test(message)) {
    return new KubeError('config', `${operation}: ${oneLine(message)}`, { operation, cause: e });
  }
  return new KubeError('unexpected', `${operation}: ${oneLine(message)}`, { operation, cause: e });
}
