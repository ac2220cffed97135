/**
 * How the Functions app runs an activity of the investigation: the same activity function as the in-process driver,
 * given an `ActivityContext` built per invocation by an `ActivityContextFactory`.
 *
 * The production factory (kube clients from lib/azure, the Blob evidence store and report output, settings from
 * lib/config) is wired by the app's startup with `setActivityContextFactory`; until then an activity fails with a
 * message saying so. Tests set a factory built against the simulated cluster.
 *
 * Each run is logged through the invocation's own logger (Application Insights traces): a start line, then an end
 * line with the duration, or a failure line with the message; every line carries the investigation id, the activity
 * and, once resolved, the node.
 */
import { createLogger, functionsLogSink, silentLogger } from '../log.js';
import type { LogFields, Logger } from '../log.js';
import type { ActivityContext } from './context.js';
import type { ActivityName, InvestigationScope } from './contracts.js';
import type { ActivityFunction } from './driver.js';
import type { ClusterPhase } from '../../orchestrations/cluster.js';
import type { InvestigationPhase } from '../../orchestrations/investigate.js';

/** What the factory may use from the Functions invocation (a subset of `InvocationContext`). */
export interface ActivityInvocation {
  readonly invocationId: string;
  readonly functionName: string;
  /** The invocation's logger (InvocationContext has them): where the activity's lines go. Absent: not logged. */
  readonly debug?: (...args: unknown[]) => void;
  readonly info?: (...args: unknown[]) => void;
  readonly warn?: (...args: unknown[]) => void;
  readonly error?: (...args: unknown[]) => void;
}

export interface ActivityHandlerOptions {
  /** Values to blank out of every line (the app's secret settings), asked for at each run. */
  readonly secrets?: () => readonly string[];
}

export interface ActivityContextFactory {
  /** `scope`: the cluster (and node) the investigation acts on, as the workflow passed it; null when it passed none. */
  create(
    activity: string,
    invocation: ActivityInvocation,
    scope: InvestigationScope | null,
  ): ActivityContext | Promise<ActivityContext>;
}

export class ActivityHostNotConfiguredError extends Error {
  readonly code = 'ActivityHostNotConfigured';
  constructor(activity: string) {
    super(
      `activity ${activity}: no ActivityContextFactory is configured (setActivityContextFactory at the app's startup)`,
    );
    this.name = 'ActivityHostNotConfiguredError';
  }
}

const unconfigured: ActivityContextFactory = {
  create: (activity) => {
    throw new ActivityHostNotConfiguredError(activity);
  },
};

let factory: ActivityContextFactory = unconfigured;

/** Sets the factory every activity handler uses from now on; `null` restores the unconfigured one. */
export function setActivityContextFactory(next: ActivityContextFactory | null): void {
  factory = next ?? unconfigured;
}

/**
 * The handler registered for one activity: builds the context at call time (so registration, at import, needs no
 * settings), runs the activity. A throw is the activity's failure: Durable records its message and retries per the
 * activity's policy.
 */
export function activityHandler(
  activity: string,
  fn: ActivityFunction<ActivityContext>,
  options: ActivityHandlerOptions = {},
): (input: unknown, invocation: ActivityInvocation) => Promise<unknown> {
  return async (input, invocation) => {
    const log = invocationLoggerOf(invocation, activityLogFields(activity, input), options);
    log.info('activity started');
    const started = performance.now();
    const durationMs = (): number => Math.round(performance.now() - started);
    try {
      const context = await factory.create(activity, invocation, activityScopeOf(input));
      const output = await fn(context, input as never);
      log.info('activity done', { outcome: 'ok', durationMs: durationMs() });
      return output;
    } catch (e) {
      log.error('activity failed', {
        outcome: 'failed',
        durationMs: durationMs(),
        error: e instanceof Error ? e.message : String(e),
      });
      throw e;
    }
  };
}

type LoggingInvocation = ActivityInvocation & Required<Pick<ActivityInvocation, 'debug' | 'info' | 'warn' | 'error'>>;

const canLog = (invocation: ActivityInvocation): invocation is LoggingInvocation =>
  [invocation.debug, invocation.info, invocation.warn, invocation.error].every((f) => typeof f === 'function');

function invocationLoggerOf(
  invocation: ActivityInvocation,
  fields: LogFields,
  options: ActivityHandlerOptions,
): Logger {
  if (!canLog(invocation)) return silentLogger;
  // Called as the invocation's methods (functionsLogSink does), so an InvocationContext keeps its `this`. Every level
  // is passed on: host.json's `logging.logLevel` decides what is kept.
  return createLogger(functionsLogSink(invocation), fields, { secrets: options.secrets?.() ?? [], level: 'debug' });
}

/**
 * The log context of an activity run, from its input: the investigation (`investigationId`, else the scope's), the
 * activity, the node (the scope's once resolved, else the input's `nodeName` or `node.name`), the cluster (the
 * scope's). Never the input itself.
 */
/**
 * The workflow phase each activity runs in (the custom status' `phase`, orchestrations/investigate.ts and cluster.ts),
 * so that the Functions app's activity lines carry the phase as the in-process engine's do.
 */
export const PHASE_OF_ACTIVITY: Readonly<Record<ActivityName, InvestigationPhase | ClusterPhase>> = Object.freeze({
  resolveTarget: 'resolving',
  startCapture: 'starting capture',
  listPods: 'listing pods',
  censusPods: 'census',
  checkCapture: 'capturing',
  collectCapture: 'collecting',
  deleteCapture: 'cleaning up',
  writeReport: 'reporting',
  notifyReport: 'reporting',
  listNodes: 'listing nodes',
  notifyCensus: 'notifying',
});

export function activityLogFields(activity: string, input: unknown): LogFields {
  const i = (typeof input === 'object' && input !== null ? input : {}) as {
    investigationId?: unknown;
    nodeName?: unknown;
    node?: { name?: unknown } | null;
  };
  const scope = activityScopeOf(input);
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const investigationId = text(i.investigationId) ?? text(scope?.investigationId);
  const node = text(scope?.node) ?? text(i.nodeName) ?? text(typeof i.node === 'object' ? i.node?.name : undefined);
  const cluster = text(scope?.clusterId);
  const phase = (PHASE_OF_ACTIVITY as Readonly<Record<string, string>>)[activity];
  return {
    activity,
    ...(phase !== undefined ? { phase } : {}),
    ...(investigationId !== undefined ? { investigationId } : {}),
    ...(node !== undefined ? { node } : {}),
    ...(cluster !== undefined ? { cluster } : {}),
  };
}

/** The `scope` an activity's input carries (the workflow adds it to every input), or null. */
export function activityScopeOf(input: unknown): InvestigationScope | null {
  if (typeof input !== 'object' || input === null || !('scope' in input)) return null;
  const { scope } = input;
  return typeof scope === 'object' && scope !== null ? scope : null;
}

/**
 * A factory built on first use, so that importing the app needs no settings: `build` runs at the first activity and
 * again at the next one as long as it throws (a fixed app setting then takes effect without a restart). Its failure
 * is the activity's, with the activity named.
 */
export function lazyActivityContextFactory(build: () => ActivityContextFactory): ActivityContextFactory {
  let built: ActivityContextFactory | null = null;
  return {
    create(activity, invocation, scope) {
      if (built === null) {
        try {
          built = build();
        } catch (e) {
          throw new Error(
            `activity ${activity}: the activity host could not be set up: ${e instanceof Error ? e.message : String(e)}`,
            { cause: e },
          );
        }
      }
      return built.create(activity, invocation, scope);
    },
  };
}
