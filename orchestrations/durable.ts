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
 *
 * `runOrchestration` runs a workflow on these ops and writes the orchestration's own lines (started, phase changed,
 * finished or failed) to the invocation's logger: Application Insights traces, one per event and not one per replay.
 */
import df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { retryPolicyOf } from '../lib/workflow/retry.js';
import type { RetryKind, RetryPolicy } from '../lib/workflow/retry.js';
import { createLogger, functionsLogSink } from '../lib/log.js';
import type { LogFields, Logger } from '../lib/log.js';
import type { WorkflowOps } from './alert.js';
import { stepError } from './investigate.js';

export function retryOptionsOf(policy: RetryPolicy): df.RetryOptions {
  const options = new df.RetryOptions(policy.firstRetryMs, policy.maxAttempts);
  options.backoffCoefficient = policy.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = policy.maxRetryMs;
  return options;
}

export interface DurableOpsOptions {
  /** The retry kind of each activity; default lib/workflow/retry.ts ACTIVITY_RETRY. */
  readonly retry?: Readonly<Record<string, RetryKind>>;
  /** Told of every custom status (`status`); default none. */
  readonly log?: OrchestrationLog;
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
    status: (status) => {
      d.setCustomStatus(status);
      options.log?.status(status);
    },
    sub: (orchestrator, input, instanceId) => d.callSubOrchestrator(orchestrator, input, instanceId),
  };
}

/**
 * The orchestration's own lines. An orchestrator function runs again from the start on every episode (each activity
 * completion, each timer), so a line is written only when the orchestrator is not replaying at that point: once for
 * each thing that happened, in the episode where it happened. The phase is followed during replays as well (the
 * status calls replay in the same order), so `previousPhase` and the change test hold in any episode.
 */
export interface OrchestrationLog {
  started(): void;
  /** A custom status was set: `phase changed` when its `phase` differs from the previous status's. */
  status(status: unknown): void;
  finished(result: unknown): void;
  failed(error: unknown): void;
}

/** `isReplaying`: default `context.df.isReplaying`; `runOrchestration` passes its own reading of it. */
export function orchestrationLog(
  context: OrchestrationContext,
  orchestrator: string,
  isReplaying: () => boolean = () => context.df.isReplaying,
): OrchestrationLog {
  const d = context.df;
  const parent = d.parentInstanceId;
  const logger: Logger = createLogger(
    functionsLogSink(context),
    {
      investigationId: d.instanceId,
      orchestrator,
      ...(typeof parent === 'string' && parent !== '' ? { parentInstanceId: parent } : {}),
    },
    // The replayed clock (this episode's start), not `new Date()`: an orchestrator reads no other clock.
    { now: () => new Date(d.currentUtcDateTime.getTime()) },
  );
  let phase: string | null = null;
  return {
    started: () => {
      if (!isReplaying()) logger.info('orchestration started');
    },
    status: (status) => {
      const previous = phase;
      const fields = statusFields(status);
      phase = fields.phase ?? null;
      if (phase === null || phase === previous || isReplaying()) return;
      logger.info('phase changed', { ...fields, ...(previous === null ? {} : { previousPhase: previous }) });
    },
    finished: (result) => {
      if (!isReplaying()) logger.info('orchestration finished', resultFields(result));
    },
    failed: (error) => {
      if (!isReplaying()) logger.error('orchestration failed', { error: firstLine(error) });
    },
  };
}

/**
 * Runs `workflow` on `durableOps(context)` with the orchestration's lines (`orchestrationLog`): what each registered
 * orchestrator does. A failure is logged and thrown on: the orchestration still fails with it.
 *
 * Why it drives the workflow itself rather than `yield*`: the engine sets `context.df.isReplaying` each time it resumes
 * the generator, from the task it resumes with, and a task that was already complete when yielded (`settleAll` waits
 * again for the tasks of a failed wave, some done episodes ago) resumes at once with `isReplaying` true, in an episode
 * that is not a replay: the lines after it (the alert's `done`, `finished`) would never be written. So the reading is
 * taken only when the generator resumes from a task that was pending when yielded, and kept across the others (they
 * run within the same event). It is never false in a replay: the engine reads true for every event before the last
 * `OrchestratorStarted`.
 */
export function* runOrchestration<T>(
  context: OrchestrationContext,
  orchestrator: string,
  workflow: (ops: WorkflowOps<Task>) => Generator<Task, T, unknown>,
  options: DurableOpsOptions = {},
): Generator<Task, T, unknown> {
  const d = context.df;
  let replaying = d.isReplaying;
  const log = options.log ?? orchestrationLog(context, orchestrator, () => replaying);
  const steps = workflow(durableOps(context, { ...options, log }));
  log.started();
  let step: IteratorResult<Task, T>;
  try {
    step = steps.next();
    while (!step.done) {
      const task = step.value;
      const pending = !task.isCompleted && !task.isFaulted;
      let resumed: { ok: true; value: unknown } | { ok: false; error: unknown };
      try {
        resumed = { ok: true, value: yield task };
      } catch (error) {
        resumed = { ok: false, error };
      }
      if (pending) replaying = d.isReplaying;
      step = resumed.ok ? steps.next(resumed.value) : steps.throw(resumed.error);
    }
  } catch (e) {
    log.failed(e);
    throw e;
  }
  log.finished(step.value);
  return step.value;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';
const isCount = (v: unknown): v is { done: number; total: number } =>
  isObject(v) && typeof v.done === 'number' && typeof v.total === 'number';

/** A custom status's small fields: `phase`, `node`, and the pods' or nodes' progress (`investigate`, `alert`, `cluster`). */
export function statusFields(status: unknown): LogFields {
  if (!isObject(status)) return {};
  const { phase, node, pods, nodes } = status;
  return {
    ...(typeof phase === 'string' ? { phase } : {}),
    ...(typeof node === 'string' ? { node } : {}),
    ...(isCount(pods) ? { podsDone: pods.done, podsTotal: pods.total } : {}),
    ...(isCount(nodes) ? { nodesDone: nodes.done, nodesTotal: nodes.total } : {}),
  };
}

/**
 * The outcome of a workflow's result, in small fields only: `outcome` (and a not-found's `reason`), the top pod, the
 * `degraded` count, and for an alert or a census the nodes by outcome. Never the report's keys or links (a blob URL
 * may carry a SAS), never messages. The three results differ, so each field is read where it is found.
 */
export function resultFields(result: unknown): LogFields {
  if (!isObject(result)) return {};
  const { outcome, reason, report, top, degraded } = result;
  const fields: Record<string, string | number | null> = {};
  if (typeof outcome === 'string') fields.outcome = outcome;
  if (typeof reason === 'string') fields.reason = reason;
  if (isObject(report)) {
    // investigateSnat: the report's counts (its `degraded` includes what the activities found and the notify step).
    if (typeof report.top === 'string' || report.top === null) fields.top = report.top;
    if (typeof report.degraded === 'number') fields.degraded = report.degraded;
  }
  // investigateCluster: the pods ranked across the nodes, the first one.
  if (Array.isArray(top)) fields.top = isObject(top[0]) && typeof top[0].pod === 'string' ? top[0].pod : null;
  if (fields.degraded === undefined && Array.isArray(degraded)) fields.degraded = degraded.length;
  const nodes = Array.isArray(result.investigations) ? result.investigations : result.nodes;
  if (Array.isArray(nodes)) {
    const count = (o: string): number => nodes.filter((n) => isObject(n) && n.outcome === o).length;
    fields.nodes = nodes.length;
    fields.reported = count('reported');
    fields.notFound = count('target-not-found');
    fields.failed = count('failed');
  }
  return fields;
}

/** An error's first line, at most 300 characters (an activity's failure arrives as `reason \n details`). */
function firstLine(error: unknown): string {
  const line = stepError(error);
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}
