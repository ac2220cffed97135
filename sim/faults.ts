/**
 * Fault injection: set at start from the scenario's `faults`, changed at run time with `RunningSim.setFaults()`.
 * Counted faults (`rateLimit`, `serverErrors`) apply to the next N requests from the moment they are set.
 */
import type { ScenarioFaults } from './scenario.js';

export interface Faults {
  /** Added to every request (REST and exec upgrades). */
  latencyMs: number;
  /** The next N requests are answered 429 Too Many Requests with `Retry-After: 1`. */
  rateLimit: number;
  /** The next N requests are answered 500 InternalError. */
  serverErrors: number;
  /** Delay between the exec upgrade and the command's first output. */
  execLatencyMs: number;
  /** Exec sends part of stdout, then the connection drops: no status frame, no close frame. */
  execDropMidStream: boolean;
  /** Every exec is refused with 403 Forbidden before the upgrade (RBAC without pods/exec). */
  execForbidden: boolean;
  /** New Jobs' pods stay Pending: PodScheduled False / Unschedulable, event FailedScheduling. */
  jobUnschedulable: boolean;
  /** New Jobs' pods stay Pending with ErrImagePull, then ImagePullBackOff, and the matching events. */
  jobImagePullFailure: boolean;
  /** New Jobs' tcptracer ignores SIGINT: the pod runs on until activeDeadlineSeconds, the Job fails DeadlineExceeded. */
  jobDeadlineExceeded: boolean;
  /** New Jobs' container exits 1 right after starting: the Job fails BackoffLimitExceeded. */
  jobPodFails: boolean;
  /** Capture logs are cut mid-line, without their trailer. */
  logCutShort: boolean;
}

export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  rateLimit: 0,
  serverErrors: 0,
  execLatencyMs: 0,
  execDropMidStream: false,
  execForbidden: false,
  jobUnschedulable: false,
  jobImagePullFailure: false,
  jobDeadlineExceeded: false,
  jobPodFails: false,
  logCutShort: false,
});

export class FaultState {
  private faults: Faults = { ...NO_FAULTS };

  constructor(initial: ScenarioFaults | Partial<Faults> = {}) {
    this.set(initial);
  }

  get current(): Readonly<Faults> {
    return this.faults;
  }

  set(changes: Partial<Faults>): void {
    for (const [key, value] of Object.entries(changes) as Array<[keyof Faults, unknown]>) {
      if (value === undefined) continue;
      if (!(key in NO_FAULTS)) throw new TypeError(`unknown fault '${key}'`);
      const expected = typeof NO_FAULTS[key];
      if (typeof value !== expected || (expected === 'number' && (!Number.isInteger(value) || (value as number) < 0))) {
        throw new TypeError(`fault '${key}' must be ${expected === 'number' ? 'a whole number >= 0' : 'a boolean'}`);
      }
      (this.faults as unknown as Record<string, unknown>)[key] = value;
    }
  }

  /** Consumes one counted fault for a request: what to answer instead of the real response, if anything. */
  takeRequestFault(): 'rateLimit' | 'serverError' | null {
    if (this.faults.rateLimit > 0) {
      this.faults.rateLimit -= 1;
      return 'rateLimit';
    }
    if (this.faults.serverErrors > 0) {
      this.faults.serverErrors -= 1;
      return 'serverError';
    }
    return null;
  }
}
