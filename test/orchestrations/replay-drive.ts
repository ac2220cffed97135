/**
 * Drives a `ReplayHost` to the end: each episode answers one pending action (an activity's completion or failure, a
 * sub-orchestration's, or a timer's firing). Replay-engine level, not host level.
 */
import type { Episode, ReplayHost, Scheduled } from '../helpers/df-harness.js';

export type Answer = { ok: true; value: unknown } | { ok: false; reason: string };

export interface DriveOptions {
  /** Answers an activity or sub-orchestration. */
  readonly respond: (s: Scheduled) => Answer;
  /** Which pending action is answered next. Default: the lowest sequence id. */
  readonly pick?: (pending: Scheduled[]) => Scheduled;
  /** Clock advance per answered activity. Default 20 ms. */
  readonly stepMs?: number;
  readonly maxEpisodes?: number;
  readonly onEpisode?: (episode: Episode) => void;
}

export async function drive(host: ReplayHost, options: DriveOptions): Promise<Episode> {
  let episode = await host.episode([host.started()]);
  options.onEpisode?.(episode);
  for (let n = 0; !episode.state.isDone && !episode.failed; n++) {
    if (n >= (options.maxEpisodes ?? 500)) throw new Error(`not done after ${n} episodes`);
    const pending = host.pending();
    if (pending.length === 0) throw new Error('the orchestration waits for nothing the harness can answer');
    const next = options.pick?.(pending) ?? pending[0]!;
    if (next.kind === 'timer' || next.kind === 'retry-timer') {
      episode = await host.episode([host.timerFired(next.id)]);
    } else {
      const answer = options.respond(next);
      const event =
        next.kind === 'sub'
          ? answer.ok
            ? host.subCompleted(next.id, answer.value)
            : host.subFailed(next.id, answer.reason)
          : answer.ok
            ? host.completed(next.id, answer.value)
            : host.failed(next.id, answer.reason);
      episode = await host.episode([event], options.stepMs ?? 20);
    }
    options.onEpisode?.(episode);
  }
  return episode;
}

/** Fails an activity on every attempt its retry policy allows (each attempt, then its retry timer). */
export async function failEveryAttempt(host: ReplayHost, first: Scheduled, reason: string): Promise<Episode> {
  let current = first;
  for (;;) {
    const failedEpisode = await host.episode([host.failed(current.id, reason)], 10);
    const timer = failedEpisode.retries.find((r) => r.kind === 'retry-timer');
    if (!timer) return failedEpisode;
    const fired = await host.episode([host.timerFired(timer.id)]);
    const next = fired.retries.find((r) => r.kind === 'activity');
    if (!next) return fired;
    current = next;
  }
}
