/**
 * The one retry helper of the Kubernetes adapter. Every API call in lib/k8s goes through `withRetry`: transient
 * failures (see `isTransient`) are retried with capped exponential backoff and full jitter, and a server-requested
 * wait (429/503 `Retry-After`, or a Status body's `details.retryAfterSeconds`) is honoured as the minimum delay.
 * Whatever is finally thrown is a `KubeError` naming the operation.
 */
import { isTransient, retryAfterOf, toKubeError } from './errors.js';

export interface RetryInfo {
  readonly operation: string;
  /** 1-based number of the attempt that failed. */
  readonly attempt: number;
  readonly delayMs: number;
  /** The wait the server asked for, when it did. */
  readonly retryAfterMs: number | null;
  readonly error: unknown;
}

export interface RetryPolicy {
  /** Total attempts, first one included (>= 1). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the call fails as throttled instead. */
  readonly maxRetryAfterMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** [0, 1); injectable so tests can pin the jitter. */
  readonly random: () => number;
  readonly onRetry?: (info: RetryInfo) => void;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
  sleep: realSleep,
  random: Math.random,
});

/** The delay before attempt `attempt + 1`: the server's wait if any, else full-jitter exponential backoff. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | null): number {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(policy.random() * backoff);
  return retryAfterMs !== null ? Math.max(retryAfterMs, jittered) : jittered;
}

/** How one layer reads its errors for retrying: which are transient, the wait the server asked for, the final error. */
export interface RetryClassifier {
  isTransient(e: unknown): boolean;
  retryAfterMs(e: unknown): number | null;
  finalError(e: unknown, operation: string): Error;
}

/**
 * Runs `call` until it succeeds, fails with an error the classifier does not call transient, or runs out of attempts;
 * a Retry-After over `maxRetryAfterMs` is not waited for. Whatever is finally thrown is `classify.finalError`, which
 * names `operation` (`list pods on node aks-np1-0`).
 */
export async function retrying<T>(
  operation: string,
  call: () => Promise<T>,
  policy: RetryPolicy,
  classify: RetryClassifier,
): Promise<T> {
  const attempts = Math.max(1, Math.floor(policy.attempts));
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!classify.isTransient(e) || attempt >= attempts) throw classify.finalError(e, operation);
      const retryAfterMs = classify.retryAfterMs(e);
      if (retryAfterMs !== null && retryAfterMs > policy.maxRetryAfterMs) throw classify.finalError(e, operation);
      const delayMs = retryDelay(policy, attempt, retryAfterMs);
      policy.onRetry?.({ operation, attempt, delayMs, retryAfterMs, error: e });
      await policy.sleep(delayMs);
    }
  }
}

const KUBE_ERRORS: RetryClassifier = {
  isTransient,
  retryAfterMs: (e) => retryAfterOf(e),
  finalError: toKubeError,
};

/** `retrying` with the Kubernetes API's errors: every API call in lib/k8s goes through it. */
export function withRetry<T>(
  operation: string,
  call: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
): Promise<T> {
  return retrying(operation, call, policy, KUBE_ERRORS);
}
