/**
 * The ARM adapter's shared pieces: one client factory, one error type, one retry loop.
 *
 * Clients: `armClients({ credential, subscriptionId, endpoint?, caPem? })` builds the real SDK clients
 * (@azure/arm-containerservice 25.x, @azure/arm-monitor 7.x). Production passes only the credential and subscription
 * (public cloud defaults); tests pass the loopback ARM sim's URL and the committed test CA (`tlsOptions.ca`: the SDKs
 * refuse bearer tokens over plain http, so the sim speaks https).
 *
 * Retries: the SDKs' own retry policies are switched off (`retryOptions.maxRetries: 0`) and every call goes through
 * `withArmRetry`, the same policy shape as lib/k8s/retry.ts (`RetryPolicy`, `retryDelay`, capped full-jitter backoff,
 * Retry-After honoured as the minimum wait). Why not the SDKs' throttling policy: it waits whatever Retry-After says
 * with no cap, its sleep is not injectable (tests would wait in real time), the two SDK generations (core-client vs
 * core-client-rest) configure it differently, and its final error is a bare RestError; here the final error is an
 * `ArmError` naming the operation and the resource, classified once by `isTransientArm`.
 */
import { ContainerServiceClient } from '@azure/arm-containerservice';
import { MonitorClient } from '@azure/arm-monitor';
import type { TokenCredential } from '@azure/core-auth';
import { ArmError } from './errors.js';
import type { ArmErrorReason } from './errors.js';
import { isTransientStatus, parseRetryAfter, TRANSIENT_NETWORK_CODES } from '../k8s/errors.js';
import { DEFAULT_RETRY, retrying } from '../k8s/retry.js';
import type { RetryClassifier, RetryPolicy } from '../k8s/retry.js';

export type { RetryPolicy };
// The error type lives in errors.ts, free of the SDKs; exported here too for callers of the adapter.
export { ArmError, isArmError } from './errors.js';
export type { ArmErrorReason } from './errors.js';

/** The fields of @azure/core-rest-pipeline's `RestError` we rely on (duck-typed: it is not a direct dependency). */
interface RestErrorLike {
  readonly name: 'RestError';
  readonly statusCode?: number;
  readonly code?: string;
  readonly message: string;
  readonly response?: { readonly headers?: { get(name: string): string | undefined }; readonly bodyAsText?: string };
  readonly details?: unknown;
}

function isRestError(e: unknown): e is RestErrorLike {
  return e instanceof Error && e.name === 'RestError';
}

/** The network codes every client retries, plus core-rest-pipeline's own for a request that never went out. */
const TRANSIENT_CODES = new Set([...TRANSIENT_NETWORK_CODES, 'REQUEST_SEND_ERROR']);

/** Kubernetes' transient statuses (429, 5xx but 501/505), plus 408, which ARM's gateways send on a slow request. */
function isTransientArmStatus(status: number): boolean {
  return status === 408 || isTransientStatus(status);
}

/** The one classification of retryable ARM failures: 408, 429, 5xx (but 501/505), timeouts and socket hiccups. */
export function isTransientArm(e: unknown): boolean {
  if (e instanceof ArmError) {
    return e.reason === 'throttled' || e.reason === 'server' || e.reason === 'timeout' || e.reason === 'network';
  }
  if (isRestError(e)) {
    if (typeof e.statusCode === 'number') return isTransientArmStatus(e.statusCode);
    return e.code !== undefined && TRANSIENT_CODES.has(e.code);
  }
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

/** ARM's error body: `{"error":{"code","message"}}` (the SDKs keep the raw text on the response). */
function armErrorBody(e: RestErrorLike): { code: string | null; message: string | null } {
  const text = e.response?.bodyAsText;
  if (typeof text === 'string' && text.length > 0) {
    try {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      const code = typeof body.error?.code === 'string' ? body.error.code : null;
      const message = typeof body.error?.message === 'string' ? body.error.message : null;
      return { code, message };
    } catch {
      // not JSON: fall through to the RestError's own code/message
    }
  }
  return { code: e.code ?? null, message: null };
}

export function retryAfterOfArm(e: unknown, now: number = Date.now()): number | null {
  if (e instanceof ArmError) return e.retryAfterMs;
  if (!isRestError(e)) return null;
  const headers = e.response?.headers;
  if (!headers) return null;
  const ms = headers.get('retry-after-ms') ?? headers.get('x-ms-retry-after-ms');
  if (ms !== undefined && /^\d{1,9}$/.test(ms.trim())) return Number(ms.trim());
  return parseRetryAfter(headers.get('retry-after'), now);
}

function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

function reasonOfStatus(status: number): ArmErrorReason {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 408) return 'timeout';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'server';
  return 'unexpected';
}

/** Maps whatever an SDK call threw onto an `ArmError` naming the operation (`get managed cluster /subscriptions/...`). */
export function toArmError(e: unknown, operation: string): ArmError {
  if (e instanceof ArmError) {
    return e.operation !== null
      ? e
      : new ArmError(e.reason, `${operation}: ${e.message}`, { ...e, operation, cause: e });
  }
  if (isRestError(e) && typeof e.statusCode === 'number') {
    const status = e.statusCode;
    const body = armErrorBody(e);
    const detail = body.code ? ` ${body.code}${body.message ? `: ${oneLine(body.message)}` : ''}` : '';
    return new ArmError(reasonOfStatus(status), `${operation}: HTTP ${status}${detail}`, {
      status,
      armCode: body.code,
      operation,
      retryAfterMs: retryAfterOfArm(e),
      cause: e,
    });
  }
  if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')) {
    return new ArmError('timeout', `${operation}: ARM did not answer in time`, { operation, cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  if (isRestError(e) || /ECONN|ENOTFOUND|EAI_AGAIN|socket|certificate|self.signed/i.test(message)) {
    const reason: ArmErrorReason = /certificate|self.signed/i.test(message) ? 'config' : 'network';
    return new ArmError(reason, `${operation}: ${oneLine(message)}`, { operation, cause: e });
  }
  if (/Bearer token authentication is not permitted/i.test(message)) {
    return new ArmError('config', `${operation}: ${oneLine(message)}`, { operation, cause: e });
  }
  return new ArmError('unexpected', `${operation}: ${oneLine(message)}`, { operation, cause: e });
}

const ARM_ERRORS: RetryClassifier = {
  isTransient: isTransientArm,
  retryAfterMs: (e) => retryAfterOfArm(e),
  finalError: toArmError,
};

/** `retrying` with ARM's errors: whatever is finally thrown is an `ArmError` naming `operation`. */
export function withArmRetry<T>(
  operation: string,
  call: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  return retrying(operation, call, policy, ARM_ERRORS);
}

export interface ArmOptions {
  readonly credential: TokenCredential;
  readonly subscriptionId: string;
  /** ARM base URL; default public cloud (`https://management.azure.com`). https only. */
  readonly endpoint?: string;
  /** Extra CA (PEM) to trust, for the loopback ARM sim's test certificate. */
  readonly caPem?: string;
  /** Retry policy of `withArmRetry` (merged over lib/k8s's DEFAULT_RETRY). */
  readonly retry?: Partial<RetryPolicy>;
}

export interface ArmClients {
  readonly subscriptionId: string;
  /** The ARM base URL in use, for messages. */
  readonly endpoint: string;
  readonly containerService: ContainerServiceClient;
  readonly monitor: MonitorClient;
  readonly retry: RetryPolicy;
}

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The one ARM client factory. Validates the endpoint (https, no path/query/credentials) and the subscription. */
export function armClients(options: ArmOptions): ArmClients {
  if (!GUID.test(options.subscriptionId)) {
    throw new ArmError('config', `subscription ${JSON.stringify(options.subscriptionId)}: not a GUID`);
  }
  const endpoint = normaliseEndpoint(options.endpoint ?? PUBLIC_ARM_ENDPOINT);
  if (options.caPem !== undefined && !options.caPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ArmError('config', 'ARM CA: not a PEM certificate');
  }
  const common = {
    endpoint,
    retryOptions: { maxRetries: 0 },
    ...(options.caPem !== undefined ? { tlsOptions: { ca: options.caPem } } : {}),
  };
  return {
    subscriptionId: options.subscriptionId,
    endpoint,
    containerService: new ContainerServiceClient(options.credential, options.subscriptionId, common),
    monitor: new MonitorClient(options.credential, options.subscriptionId, common),
    retry: { ...DEFAULT_RETRY, ...options.retry },
  };
}

function normaliseEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ArmError('config', `ARM endpoint ${JSON.stringify(raw)}: not a URL`);
  }
  // The SDKs refuse bearer tokens over http anyway; say so before any request.
  if (url.protocol !== 'https:') throw new ArmError('config', `ARM endpoint ${JSON.stringify(raw)}: only https`);
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new ArmError('config', `ARM endpoint ${JSON.stringify(raw)}: no path, query, fragment or credentials`);
  }
  return url.origin;
}

/** How to reach ARM, whatever the subscription: clients are built per subscription by an `ArmSession`. */
export type ArmConnection = Omit<ArmOptions, 'subscriptionId'>;

export interface ArmSession {
  readonly connection: ArmConnection;
  /** The clients of one subscription, built once. */
  clientsFor(subscriptionId: string): ArmClients;
}

/** One session per process (or per test): caches the SDK clients of each subscription it is asked about. */
export function armSession(connection: ArmConnection): ArmSession {
  const clients = new Map<string, ArmClients>();
  return {
    connection,
    clientsFor(subscriptionId) {
      const key = subscriptionId.toLowerCase();
      let c = clients.get(key);
      if (!c) {
        c = armClients({ ...connection, subscriptionId });
        clients.set(key, c);
      }
      return c;
    },
  };
}
