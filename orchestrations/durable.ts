/**
 * The Durable Functions adapter of the Ops port: the same generators (`investigateSnat`, `investigateAlert`,
 * `investigateCluster`) run under the durable-functions replay engine with `durableOps(context)`.
 *
 * - call   -> `callActivityWithRetry` with the activity's policy (lib/workflow/retry.ts), `callActivity` for a name
 *             without one;
 * - all    -> `context.df.Task.all` (which throws on an empty list: the generators guard every fan-out);
 * - sleep  -> a durable timer at `currentUtcDateTime + ms`;
 * - now    -> `currentUtcDateTime` (the replayed clock; never `Date.now()` in an orchestrator);
 * - status -> `setCustomStatus` (phase and progress, read by `GET /api/investigations/{id}`);
 * - sub    -> `callSubOrchestrator` with an explicit instance id.
 */
import df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { retryPolicyOf } from '../lib/workflow/retry.js';
import type { RetryKind, RetryPolicy } from '../lib/workflow/retry.js';
import type { WorkflowOps } from './alert.js';

export function retryOptionsOf(policy: RetryPolicy): df.RetryOptions {
  const options = new df.RetryOptions(policy.firstRetryMs, policy.maxAttempts);
  options.backoffCoefficient = policy.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = policy.maxRetryMs;
  return options;
}

export interface DurableOpsOptions {
  /** The retry kind of each activity; default lib/workflow/retry.ts ACTIVITY_RETRY. */
  readonly retry?: Readonly<Record<string, RetryKind>>;
}

export function durableOps(context: OrchestrationContext, options: DurableOpsOptions = {}): WorkflowOps<Task> {
  const d = context.df;
  return {
    call: (activity, input) => {
      const policy = retryPolicyOf(activity, options.retry);
      return policy === null
        ? d.callActivity(activity, input)
        : d.callActivityWithRetry(activity, retryOptionsOf(policy), input);
    },
    all: (tasks) => d.Task.all(tasks),
    sleep: (ms) => d.createTimer(new Date(d.currentUtcDateTime.getTime() + Math.max(0, Math.ceil(ms)))),
    now: () => new Date(d.currentUtcDateTime.getTime()),
    status: (status) => d.setCustomStatus(status),
    sub: (orchestrator, input, instanceId) => d.callSubOrchestrator(orchestrator, input, instanceId),
  };
}
