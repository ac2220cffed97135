/**
 * How the Functions app runs an activity of the investigation: the same activity function as the in-process driver,
 * given an `ActivityContext` built per invocation by an `ActivityContextFactory`.
 *
 * The production factory (kube clients from lib/azure, the Blob evidence store and report output, settings from
 * lib/config) is wired by the app's startup with `setActivityContextFactory`; until then an activity fails with a
 * message saying so. Tests set a factory built against the simulated cluster.
 */
import type { ActivityContext } from './context.js';
import type { InvestigationScope } from './contracts.js';
import type { ActivityFunction } from './driver.js';

/** What the factory may use from the Functions invocation (a subset of `InvocationContext`). */
export interface ActivityInvocation {
  readonly invocationId: string;
  readonly functionName: string;
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
): (input: unknown, invocation: ActivityInvocation) => Promise<unknown> {
  return async (input, invocation) => {
    const context = await factory.create(activity, invocation, activityScopeOf(input));
    return fn(context, input as never);
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
