/**
 * The in-process driver of a workflow generator (orchestrations/): what Durable Functions does for the orchestration
 * in Azure, done in memory for the CLI, the demo and the tests.
 *
 * The generator yields descriptors built by `localOps` (call, all, sleep); the driver runs them and resumes the
 * generator with the result, or throws the failure into it, as Durable does. Where the two could differ, the driver
 * takes Durable's side:
 * - `all([])` throws Durable's own error text (its `Task.all([])` fails the orchestration; `Promise.all([])` would not);
 * - every activity input and output, the workflow's input and result, and the custom status go through a JSON round
 *   trip, and a value that JSON would change (a Map, a Date, a class instance, a function) is an error naming it;
 * - an activity's error reaches the generator as a plain error with the activity's message (its class does not cross
 *   Durable's activity boundary); the original stays in `cause` for the caller.
 *
 * Cancellation (Ctrl-C): the AbortSignal fails the pending sleep at once and, once the running activities have settled
 * (they receive the signal), every further sleep and call fails with `WorkflowCancelledError`, except the activities
 * named in `cleanupActivities`, which still run (with a signal of their own) so the generator's `finally` can delete
 * what it created. The run then rejects with `WorkflowCancelledError`.
 */
import { setMaxListeners } from 'node:events';
import type { WorkflowOps } from '../../orchestrations/alert.js';
import { roundTrip } from './json.js';

export type Descriptor =
  | { readonly kind: 'call'; readonly activity: string; readonly input: unknown }
  | { readonly kind: 'all'; readonly items: readonly Descriptor[] }
  | { readonly kind: 'sleep'; readonly ms: number }
  | { readonly kind: 'sub'; readonly orchestrator: string; readonly input: unknown; readonly instanceId: string };

/** durable-functions 3.x, `CompoundTask`'s constructor (src/task/CompoundTask.ts). */
export const EMPTY_ALL_MESSAGE =
  'When constructing a CompoundTask (such as Task.all() or Task.any()), you must specify at least one Task.';

/** The Ops port over descriptors. `all([])` throws where Durable's `Task.all([])` throws: when it is built. */
export function localOps(now: () => Date, onStatus?: (status: unknown) => void): WorkflowOps<Descriptor> {
  return {
    call: (activity, input) => ({ kind: 'call', activity, input }),
    all: (handles) => {
      if (handles.length === 0) throw new Error(EMPTY_ALL_MESSAGE);
      return { kind: 'all', items: [...handles] };
    },
    sleep: (ms) => ({ kind: 'sleep', ms }),
    sub: (orchestrator, input, instanceId) => ({ kind: 'sub', orchestrator, input, instanceId }),
    now: () => new Date(now().getTime()),
    status: (status) => onStatus?.(status),
  };
}

export class WorkflowCancelledError extends Error {
  constructor(message = 'the investigation was cancelled') {
    super(message);
    this.name = 'WorkflowCancelledError';
  }
}

export const isWorkflowCancelled = (e: unknown): e is WorkflowCancelledError => e instanceof WorkflowCancelledError;

/** An activity's failure as the generator sees it: the activity's message; the original error in `cause`. */
export class ActivityFailedError extends Error {
  constructor(
    readonly activity: string,
    message: string,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'ActivityFailedError';
  }
}

/** `input: never` so that activities typed with their own input type can be registered side by side. */
export type ActivityFunction<C> = (context: C, input: never) => Promise<unknown>;

export type ActivityEvent =
  | { readonly type: 'start'; readonly activity: string; readonly input: unknown }
  | {
      readonly type: 'end';
      readonly activity: string;
      readonly input: unknown;
      readonly ms: number;
      readonly output?: unknown;
      readonly error?: string;
      readonly outputBytes?: number;
    };

export interface DriverOptions<C> {
  readonly activities: Readonly<Record<string, ActivityFunction<C>>>;
  /**
   * The activity's context (clients, settings, output, ...): built by the caller, never by the generator, from the
   * activity's JSON round-tripped input where it needs to (a host that serves many clusters reads its `scope`, as the
   * Functions app's `ActivityContextFactory` does). Its failure is the activity's.
   */
  readonly context: (activity: string, signal: AbortSignal, input: unknown) => C | Promise<C>;
  readonly signal?: AbortSignal;
  /** Waits `ms`, rejecting when the signal aborts. Default: a timer. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The workflow's clock (`ops.now()`). Default: the system clock. */
  readonly now?: () => Date;
  readonly onStatus?: (status: unknown) => void;
  readonly onActivity?: (event: ActivityEvent) => void;
  /** Activities that still run after cancellation (cleanup). */
  readonly cleanupActivities?: readonly string[];
  /** Bound on one activity's input or output as JSON; Durable keeps history messages small. Default 64 KiB. */
  readonly maxPayloadBytes?: number;
  /** Workflows that `ops.sub` may start, by name; each runs with these options (its custom status is not reported). */
  readonly orchestrators?: Readonly<Record<string, Workflow<never, unknown>>>;
}

/** A workflow generator the driver runs (`investigateSnat`, `investigateAlert`). */
export type Workflow<I, R> = (input: I, ops: WorkflowOps<Descriptor>) => Generator<Descriptor, R, unknown>;

export const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;

/** A timer that rejects with `WorkflowCancelledError` when the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new WorkflowCancelledError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new WorkflowCancelledError());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Runs `workflow(input, ops)` to completion. Rejects with what the generator throws, or `WorkflowCancelledError`. */
export async function runWorkflow<I, R, C>(
  workflow: (input: I, ops: WorkflowOps<Descriptor>) => Generator<Descriptor, R, unknown>,
  input: I,
  options: DriverOptions<C>,
): Promise<R> {
  const signal = options.signal ?? new AbortController().signal;
  // Every census exec of a fan-out listens on this one signal: dozens at once are expected, not a leak.
  setMaxListeners(256, signal);
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? (() => new Date());
  const maxBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const cleanup = new Set(options.cleanupActivities ?? []);
  // Cleanup activities after cancellation get a signal that never aborts.
  const quiet = new AbortController().signal;

  const json = <T>(value: T, where: string): T => {
    const copy = roundTrip(value, where);
    if (copy.bytes > maxBytes) {
      throw new RangeError(
        `${where} is ${copy.bytes} bytes of JSON, over the ${maxBytes}-byte bound: pass a reference`,
      );
    }
    return copy.value;
  };

  const callActivity = async (activity: string, rawInput: unknown): Promise<unknown> => {
    const isCleanup = cleanup.has(activity);
    if (signal.aborted && !isCleanup) throw new WorkflowCancelledError();
    const fn = options.activities[activity];
    if (!fn) throw new Error(`no activity named ${JSON.stringify(activity)} is registered`);
    const activityInput = json(rawInput, `the input of activity ${activity}`);
    options.onActivity?.({ type: 'start', activity, input: activityInput });
    const started = performance.now();
    let output: unknown;
    try {
      const context = await options.context(activity, signal.aborted ? quiet : signal, activityInput);
      output = await fn(context, activityInput as never);
    } catch (e) {
      options.onActivity?.({
        type: 'end',
        activity,
        input: activityInput,
        ms: performance.now() - started,
        error: messageOf(e),
      });
      if (signal.aborted && !isCleanup) throw new WorkflowCancelledError();
      throw new ActivityFailedError(activity, messageOf(e), e);
    }
    if (signal.aborted && !isCleanup) throw new WorkflowCancelledError();
    const copy = json(output, `the output of activity ${activity}`);
    options.onActivity?.({
      type: 'end',
      activity,
      input: activityInput,
      ms: performance.now() - started,
      output: copy,
      outputBytes: copy === undefined ? 0 : Buffer.byteLength(JSON.stringify(copy), 'utf8'),
    });
    return copy;
  };

  // A descriptor is a task, as in Durable: yielded again (alone, or in another `all`), it gives its outcome and does
  // not run again (orchestrations/alert.ts waits for a failed wave's tasks one by one).
  const started = new WeakMap<Descriptor, Promise<unknown>>();
  const execute = (d: Descriptor): Promise<unknown> => {
    let p = started.get(d);
    if (p === undefined) {
      p = run(d);
      started.set(d, p);
    }
    return p;
  };

  const run = async (d: Descriptor): Promise<unknown> => {
    switch (d.kind) {
      case 'call':
        return callActivity(d.activity, d.input);
      case 'sleep':
        if (signal.aborted) throw new WorkflowCancelledError();
        if (!(d.ms >= 0) || !Number.isFinite(d.ms)) throw new RangeError(`sleep of ${d.ms} ms`);
        return sleep(d.ms, signal);
      case 'all': {
        // Settled, not raced: nothing may still be running behind the generator's back (a create after a cleanup).
        const settled = await Promise.allSettled(d.items.map(execute));
        const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;
        return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
      }
      case 'sub': {
        if (signal.aborted) throw new WorkflowCancelledError();
        const child = options.orchestrators?.[d.orchestrator];
        if (!child) throw new Error(`no orchestrator named ${JSON.stringify(d.orchestrator)} is registered`);
        const { onStatus: _parentStatus, ...childOptions } = options;
        try {
          return await runWorkflow(child, json(d.input, `the input of sub-orchestration ${d.instanceId}`) as never, {
            ...childOptions,
            signal,
          });
        } catch (e) {
          if (isWorkflowCancelled(e)) throw e;
          // As Durable: the parent sees the child's failure as an error with its message.
          throw new ActivityFailedError(d.orchestrator, messageOf(e), e);
        }
      }
    }
  };

  const ops = localOps(now, (status) => options.onStatus?.(json(status, 'the custom status')));
  const generator = workflow(json(input, 'the workflow input'), ops);
  let step = generator.next();
  while (!step.done) {
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await execute(step.value) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    step = outcome.ok ? generator.next(outcome.value) : generator.throw(outcome.error);
  }
  if (signal.aborted) throw new WorkflowCancelledError();
  return json(step.value, 'the workflow result');
}
