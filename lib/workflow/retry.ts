/**
 * Retry policies of the investigation's activities under Durable Functions, by kind of activity. The orchestration
 * declares them (orchestrations/durable.ts turns them into `callActivityWithRetry`); the in-process driver does not
 * retry activities: there, the cluster client's own retries (lib/k8s/retry.ts) are all there is, and a failed
 * activity is a failed step at once.
 *
 * These retries sit on top of the client's: they are for what an activity cannot retry itself (the worker recycled,
 * the activity timed out, every client retry spent). Activities are idempotent for that reason (startCapture reuses a
 * Job that exists; deleteCapture of an absent Job says `absent`).
 */
import { ACTIVITIES } from './contracts.js';
import type { ActivityName } from './contracts.js';

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 = no retry. */
  readonly maxAttempts: number;
  readonly firstRetryMs: number;
  readonly backoffCoefficient: number;
  readonly maxRetryMs: number;
}

export type RetryKind = 'cluster' | 'poll' | 'report' | 'notify';

export const RETRY_POLICIES: Readonly<Record<RetryKind, RetryPolicy>> = Object.freeze({
  /** Kubernetes and ARM calls: three attempts, 2 s then 4 s apart. */
  cluster: Object.freeze({ maxAttempts: 3, firstRetryMs: 2_000, backoffCoefficient: 2, maxRetryMs: 10_000 }),
  /**
   * One poll of the capture Job: short, because the workflow's own poll loop already tolerates
   * `timing.maxPollFailures` failed polls in a row and would only wait longer.
   */
  poll: Object.freeze({ maxAttempts: 2, firstRetryMs: 1_000, backoffCoefficient: 1, maxRetryMs: 1_000 }),
  /** Writing the report (Blob Storage): the investigation's product, so more patience than for a cluster call. */
  report: Object.freeze({ maxAttempts: 5, firstRetryMs: 5_000, backoffCoefficient: 2, maxRetryMs: 60_000 }),
  /** Sending a notification (webhook, Teams): receivers throttle; spaced out, and few. */
  notify: Object.freeze({ maxAttempts: 4, firstRetryMs: 10_000, backoffCoefficient: 3, maxRetryMs: 120_000 }),
});

/** The kind of every activity of the investigation (a new activity must be given one: the type demands it). */
export const ACTIVITY_RETRY: Readonly<Record<ActivityName, RetryKind>> = Object.freeze({
  [ACTIVITIES.resolveTarget]: 'cluster',
  [ACTIVITIES.startCapture]: 'cluster',
  [ACTIVITIES.checkCapture]: 'poll',
  [ACTIVITIES.listPods]: 'cluster',
  [ACTIVITIES.censusPods]: 'cluster',
  [ACTIVITIES.collectCapture]: 'cluster',
  [ACTIVITIES.deleteCapture]: 'cluster',
  [ACTIVITIES.writeReport]: 'report',
  [ACTIVITIES.notifyReport]: 'notify',
  [ACTIVITIES.listNodes]: 'cluster',
  [ACTIVITIES.notifyCensus]: 'notify',
});

/** The policy of an activity by name; null for a name with none (called without retry). */
export function retryPolicyOf(
  activity: string,
  kinds: Readonly<Record<string, RetryKind>> = ACTIVITY_RETRY,
): RetryPolicy | null {
  const kind = Object.hasOwn(kinds, activity) ? kinds[activity] : undefined;
  return kind === undefined ? null : RETRY_POLICIES[kind];
}
