/**
 * A synthetic-history host for durable-functions 3.5 orchestrators (PLATFORM.md section 4): replay-engine level, not
 * host level. It drives the REAL orchestration handler that `df.app.orchestration` registered (captured by patching
 * `@azure/functions`' `app.generic`/`app.http` before the app module is imported), emulating what the Durable
 * extension does between episodes:
 *
 * - each `episode(events)` marks the history played, appends `OrchestratorStarted` (the clock) and the new events,
 *   JSON round-trips the payload (as the wire does) and calls the handler;
 * - the actions returned (all of them, since the start) must begin with the ones recorded so far: the DTFx-style
 *   non-determinism check, which the JS library does not do itself;
 * - the new actions get sequence ids in order and their `TaskScheduled` / `TimerCreated` /
 *   `SubOrchestrationInstanceCreated` events are appended, then `OrchestratorCompleted`;
 * - `callActivityWithRetry`: a failed attempt gets a retry timer (`TimerCreated`), and when it fires, a new attempt (a
 *   new sequence id), as the JS library's `RetryableTask` expects; after the last attempt's timer, the task fails.
 *   Bookkeeping is in event order, before the new actions: within one episode, put failures before completions.
 *
 * Not emulated: the Functions host, the extension's storage and queues, activity execution (the test answers each
 * scheduled action), entities, external events, continue-as-new.
 */
import { createRequire } from 'node:module';
import { InvocationContext } from '@azure/functions';
import type { LogHandler } from '@azure/functions';

const require = createRequire(import.meta.url);

// HistoryEventType of durable-functions (lib/src/history/HistoryEventType.js).
export const EventType = Object.freeze({
  ExecutionStarted: 0,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
});

// ActionType of durable-functions (lib/src/actions/ActionType.js).
export const ActionType = Object.freeze({
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  CreateTimer: 5,
});

// Registration capture ---------------------------------------------------------------------------------------------

export interface Registration {
  readonly name: string;
  readonly via: 'generic' | 'http';
  /** The options passed to `app.generic`/`app.http`, with the wrapped handler the host would call. */
  readonly options: { trigger?: { type: string }; handler: (...args: never[]) => unknown } & Record<string, unknown>;
}

export const registry = new Map<string, Registration>();

type AppLike = Record<'generic' | 'http', (name: string, options: Registration['options']) => void>;

/** Patches `app.generic` and `app.http` of the one `@azure/functions` instance; returns the restore function. */
export function captureRegistrations(): () => void {
  const { app } = require('@azure/functions') as { app: AppLike };
  const saved = { generic: app.generic, http: app.http };
  for (const via of ['generic', 'http'] as const) {
    app[via] = (name, options) => {
      if (registry.has(name)) throw new Error(`function ${name} registered twice`);
      registry.set(name, { name, via, options });
    };
  }
  return () => {
    app.generic = saved.generic;
    app.http = saved.http;
  };
}

let appLoaded: Promise<Map<string, Registration>> | null = null;

/** Captures the registrations of functions/index.ts (once per test file: its module graph is the file's). */
export function loadApp(): Promise<Map<string, Registration>> {
  appLoaded ??= (async () => {
    captureRegistrations();
    await import('../../functions/index.js');
    return registry;
  })();
  return appLoaded;
}

export function triggerType(r: Registration): string | undefined {
  return r.options.trigger?.type;
}

// The host ---------------------------------------------------------------------------------------------------------

export type HistoryEvent = { EventType: number; EventId: number; IsPlayed: boolean; Timestamp: string } & Record<
  string,
  unknown
>;

export type Action = { actionType: number } & Record<string, unknown>;

export interface OrchestratorState {
  isDone: boolean;
  actions: unknown[];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion: number;
}

export interface Scheduled {
  /** The sequence id completions refer to (`TaskScheduledId`, `TimerId`). */
  readonly id: number;
  readonly kind: 'activity' | 'timer' | 'sub' | 'retry-timer';
  /** Activity or orchestrator name. */
  readonly name: string | null;
  readonly input: unknown;
  readonly fireAt: string | null;
  readonly instanceId: string | null;
  /** For activities called with retry: attempt number (1-based) and the policy. */
  readonly attempt: number;
  readonly retry: { maxAttempts: number; firstMs: number; coefficient: number; maxMs: number } | null;
  /** The action this is (an attempt of), by index in the flattened action list. */
  readonly action: number;
  done: boolean;
}

export interface Episode {
  readonly state: OrchestratorState;
  /** The orchestration failed: the library threw `OrchestrationFailureError`; its state carries `error`. */
  readonly failed: boolean;
  /** Actions new in this episode, with their sequence ids. */
  readonly scheduled: Scheduled[];
  /** Retry timers and attempts created by this episode's failures and timer firings. */
  readonly retries: Scheduled[];
}

type Handler = (payload: unknown, context: InvocationContext) => Promise<unknown>;

export class NonDeterminismError extends Error {
  constructor(
    readonly index: number,
    readonly expected: unknown,
    readonly actual: unknown,
  ) {
    super(
      `Non-deterministic replay at action ${index}: recorded ${JSON.stringify(expected)}, replay produced ${JSON.stringify(actual)}`,
    );
    this.name = 'NonDeterminismError';
  }
}

const OUT_OF_PROC = '$OutOfProcData$:';

/** Leaves of the actions list: per-yield arrays (V1) and compound actions (V4 `Task.all`) flattened. */
export function flattenActions(actions: unknown): Action[] {
  const out: Action[] = [];
  const walk = (a: unknown): void => {
    if (Array.isArray(a)) a.forEach(walk);
    else if (a !== null && typeof a === 'object') {
      const compound = (a as { compoundActions?: unknown }).compoundActions;
      if (Array.isArray(compound)) compound.forEach(walk);
      else out.push(a as Action);
    }
  };
  walk(actions);
  return out;
}

export interface ReplayHostOptions {
  readonly instanceId?: string;
  readonly parentInstanceId?: string;
  /** The extension's `upperSchemaVersion` (durable-functions ReplaySchema): 0 = V1 ... 3 = V4. Default V4. */
  readonly schemaVersion?: number;
  readonly functionName?: string;
  /**
   * Receives what the orchestrator logs through its InvocationContext (`context.info(...)` etc.), every episode; the
   * `episode` argument is the episode's index in `states`. Default: @azure/functions' fallback (the console).
   */
  readonly logHandler?: (episode: number, ...args: Parameters<LogHandler>) => void;
}

export class ReplayHost {
  readonly history: HistoryEvent[] = [];
  /** Every action so far, flattened and JSON round-tripped, in sequence order. */
  readonly actions: Action[] = [];
  /** Everything scheduled so far by sequence id (actions, retry timers, retry attempts). */
  readonly byId = new Map<number, Scheduled>();
  /** The state returned by each episode. */
  readonly states: OrchestratorState[] = [];
  private seq = 0;
  private clock: number;
  private eventId = 0;

  constructor(
    private readonly handler: Handler,
    readonly input: unknown,
    start: Date,
    private readonly options: ReplayHostOptions = {},
  ) {
    this.clock = start.getTime();
  }

  now(): Date {
    return new Date(this.clock);
  }

  get last(): OrchestratorState | undefined {
    return this.states[this.states.length - 1];
  }

  /** Scheduled and not completed, by id (retry timers and attempts included; their first attempt excluded). */
  pending(): Scheduled[] {
    return [...this.byId.values()].filter((s) => !s.done).sort((a, b) => a.id - b.id);
  }

  scheduledActivities(name?: string): Scheduled[] {
    return [...this.byId.values()].filter((s) => s.kind === 'activity' && (name === undefined || s.name === name));
  }

  private event(type: number, fields: Record<string, unknown> = {}): HistoryEvent {
    return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: new Date(this.clock).toISOString(), ...fields };
  }

  started(): HistoryEvent {
    return this.event(EventType.ExecutionStarted, {
      Name: this.options.functionName ?? 'orchestrator',
      Input: JSON.stringify(this.input),
    });
  }

  completed(id: number, result: unknown): HistoryEvent {
    return this.event(EventType.TaskCompleted, { TaskScheduledId: id, Result: JSON.stringify(result) });
  }

  failed(id: number, reason: string, details = ''): HistoryEvent {
    return this.event(EventType.TaskFailed, { TaskScheduledId: id, Reason: reason, Details: details });
  }

  timerFired(id: number): HistoryEvent {
    const s = this.byId.get(id);
    if (!s || s.fireAt === null) throw new Error(`no timer with id ${id}`);
    return this.event(EventType.TimerFired, { TimerId: id, FireAt: s.fireAt });
  }

  subCompleted(id: number, result: unknown): HistoryEvent {
    return this.event(EventType.SubOrchestrationInstanceCompleted, {
      TaskScheduledId: id,
      Result: JSON.stringify(result),
    });
  }

  subFailed(id: number, reason: string, details = ''): HistoryEvent {
    return this.event(EventType.SubOrchestrationInstanceFailed, {
      TaskScheduledId: id,
      Reason: reason,
      Details: details,
    });
  }

  /**
   * One orchestrator invocation with `events` new since the last one. The clock moves `advanceMs` forward, and at least
   * to the `FireAt` of any timer firing now.
   */
  async episode(events: HistoryEvent[], advanceMs = 0): Promise<Episode> {
    this.clock += advanceMs;
    for (const e of events) {
      if (e.EventType === EventType.TimerFired) this.clock = Math.max(this.clock, Date.parse(String(e.FireAt)));
    }
    const stamp = new Date(this.clock).toISOString();
    for (const e of this.history) e.IsPlayed = true;
    this.history.push(this.event(EventType.OrchestratorStarted));
    for (const e of events) this.history.push({ ...e, Timestamp: stamp, IsPlayed: false });

    const retries = this.bookkeep(events);

    const payload = JSON.parse(
      JSON.stringify({
        history: this.history,
        input: this.input,
        instanceId: this.options.instanceId ?? 'instance-1',
        isReplaying: this.history.some((e) => e.IsPlayed),
        parentInstanceId: this.options.parentInstanceId ?? null,
        upperSchemaVersion: this.options.schemaVersion ?? 3,
        longRunningTimerIntervalDuration: '3.00:00:00',
        maximumShortTimerDuration: '6.00:00:00',
        defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
      }),
    ) as unknown;
    const episodeIndex = this.states.length;
    const onLog = this.options.logHandler;
    const context = new InvocationContext({
      functionName: this.options.functionName ?? 'orchestrator',
      invocationId: `episode-${episodeIndex}`,
      ...(onLog ? { logHandler: (level, ...args) => onLog(episodeIndex, level, ...args) } : {}),
    });
    let state: OrchestratorState;
    let failed = false;
    try {
      state = JSON.parse(JSON.stringify(await this.handler(payload, context))) as OrchestratorState;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const at = message.indexOf(OUT_OF_PROC);
      if (at < 0) throw e;
      state = JSON.parse(message.slice(at + OUT_OF_PROC.length)) as OrchestratorState;
      failed = true;
    }
    this.states.push(state);

    const all = flattenActions(state.actions);
    for (let i = 0; i < this.actions.length; i++) {
      if (i >= all.length || JSON.stringify(all[i]) !== JSON.stringify(this.actions[i])) {
        throw new NonDeterminismError(i, this.actions[i], all[i]);
      }
    }
    const scheduled: Scheduled[] = [];
    for (let i = this.actions.length; i < all.length; i++) {
      const action = all[i]!;
      this.actions.push(action);
      scheduled.push(this.schedule(action, i));
    }
    this.history.push(this.event(EventType.OrchestratorCompleted));
    return { state, failed, scheduled, retries };
  }

  private schedule(action: Action, index: number): Scheduled {
    const id = this.seq++;
    const base = { id, action: index, attempt: 1, done: false, fireAt: null, instanceId: null, retry: null };
    let s: Scheduled;
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const r = action.retryOptions as
          | {
              firstRetryIntervalInMilliseconds: number;
              maxNumberOfAttempts: number;
              backoffCoefficient?: number;
              maxRetryIntervalInMilliseconds?: number;
            }
          | undefined;
        s = {
          ...base,
          kind: 'activity',
          name: String(action.functionName),
          input: action.input,
          retry: r
            ? {
                maxAttempts: r.maxNumberOfAttempts,
                firstMs: r.firstRetryIntervalInMilliseconds,
                coefficient: r.backoffCoefficient ?? 1,
                maxMs: r.maxRetryIntervalInMilliseconds ?? Number.MAX_SAFE_INTEGER,
              }
            : null,
        };
        this.history.push(
          this.event(EventType.TaskScheduled, { EventId: id, Name: s.name, Input: JSON.stringify(action.input) }),
        );
        break;
      }
      case ActionType.CreateTimer:
        s = { ...base, kind: 'timer', name: null, input: null, fireAt: String(action.fireAt) };
        this.history.push(this.event(EventType.TimerCreated, { EventId: id, FireAt: s.fireAt }));
        break;
      case ActionType.CallSubOrchestrator:
        s = {
          ...base,
          kind: 'sub',
          name: String(action.functionName),
          input: action.input,
          instanceId: typeof action.instanceId === 'string' ? action.instanceId : null,
        };
        this.history.push(
          this.event(EventType.SubOrchestrationInstanceCreated, {
            EventId: id,
            Name: s.name,
            InstanceId: s.instanceId,
            Input: JSON.stringify(action.input),
          }),
        );
        break;
      default:
        throw new Error(`the harness does not emulate action type ${action.actionType}: ${JSON.stringify(action)}`);
    }
    this.byId.set(id, s);
    return s;
  }

  /** Marks completions; creates retry timers and attempts as the extension would for `callActivityWithRetry`. */
  private bookkeep(events: HistoryEvent[]): Scheduled[] {
    const created: Scheduled[] = [];
    for (const e of events) {
      const id = (e.TaskScheduledId ?? e.TimerId) as number | undefined;
      if (id === undefined) continue;
      const s = this.byId.get(id);
      if (!s) throw new Error(`event ${JSON.stringify(e)} refers to nothing scheduled`);
      if (s.done) throw new Error(`sequence id ${id} completed twice`);
      s.done = true;
      if (e.EventType === EventType.TaskFailed && s.retry) {
        const delay = Math.min(s.retry.firstMs * s.retry.coefficient ** (s.attempt - 1), s.retry.maxMs);
        const timer: Scheduled = {
          ...s,
          id: this.seq++,
          kind: 'retry-timer',
          fireAt: new Date(this.clock + delay).toISOString(),
          done: false,
        };
        this.byId.set(timer.id, timer);
        this.history.push(this.event(EventType.TimerCreated, { EventId: timer.id, FireAt: timer.fireAt }));
        created.push(timer);
      } else if (e.EventType === EventType.TimerFired && s.kind === 'retry-timer' && s.attempt < s.retry!.maxAttempts) {
        const attempt: Scheduled = {
          ...s,
          id: this.seq++,
          kind: 'activity',
          attempt: s.attempt + 1,
          fireAt: null,
          done: false,
        };
        this.byId.set(attempt.id, attempt);
        this.history.push(
          this.event(EventType.TaskScheduled, {
            EventId: attempt.id,
            Name: attempt.name,
            Input: JSON.stringify(attempt.input),
          }),
        );
        created.push(attempt);
      }
    }
    return created;
  }
}
