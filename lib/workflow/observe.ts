/**
 * The log of one investigation run by the in-process driver (`snat-responder serve`): the workflow's status callback
 * and the driver's activity events turned into structured lines (lib/log.ts), so that a log query follows one
 * investigation through its phases.
 *
 * Lines: `phase changed` when the phase changes (not at every progress tick), `activity done` / `activity failed` at
 * the end of each activity with its duration (`activity started` at debug), `step degraded` for each degradation of
 * the result, and `investigation finished` with the outcome. Every line carries `investigationId`, the current
 * `phase` once there is one, and `node` once resolved; a census's node investigations' activities carry their own
 * investigation id and the census's as `census`. Never an activity's input or output, only names and sizes.
 */
import type { ClusterInvestigationResult } from '../../orchestrations/cluster.js';
import type { InvestigationResult } from '../../orchestrations/investigate.js';
import type { LogFields, Logger } from '../log.js';
import type { Degradation } from '../report/model.js';
import { activityLogFields } from './activity-host.js';
import type { ActivityEvent } from './driver.js';

export interface InvestigationLog {
  /** The workflow's custom status (`InvestigationStatus`, `ClusterStatus`): a line when its phase changes. */
  readonly onStatus: (status: unknown) => void;
  /** The driver's activity events: a line at each end (debug at each start). */
  readonly onActivity: (event: ActivityEvent) => void;
  /** The investigation's logger as of now (its id, phase and node). */
  current(): Logger;
  /** Degradations (the report's): one `step degraded` line each, once however often it is given. */
  degraded(items: readonly Degradation[]): void;
  /** The result: its degradations not logged yet, then its outcome. */
  finished(result: InvestigationResult | ClusterInvestigationResult): void;
  /** The run did not finish: it threw (`failed`) or was cancelled (`terminated`). */
  ended(state: 'failed' | 'terminated', error: string): void;
}

type Status = {
  phase?: unknown;
  node?: unknown;
  pods?: { done?: unknown; total?: unknown };
  nodes?: { done?: unknown; total?: unknown };
  wave?: unknown;
  waves?: unknown;
};

const numberOr = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The progress fields of a status: pods of a node's investigation, nodes (and waves) of a census. */
function progressOf(status: Status): LogFields {
  const fields: Record<string, number | undefined> = {
    podsDone: numberOr(status.pods?.done),
    podsTotal: numberOr(status.pods?.total),
    nodesDone: numberOr(status.nodes?.done),
    nodesTotal: numberOr(status.nodes?.total),
    wave: numberOr(status.wave),
    waves: numberOr(status.waves),
  };
  return fields;
}

export function investigationLog(
  log: Logger,
  investigationId: string,
  options: { readonly now?: () => number } = {},
): InvestigationLog {
  const now = options.now ?? (() => performance.now());
  const started = now();
  let phase: string | null = null;
  let node: string | null = null;
  const context = (): LogFields => ({
    investigationId,
    ...(phase !== null ? { phase } : {}),
    ...(node !== null ? { node } : {}),
  });
  const current = (): Logger => log.child(context());
  const seen = new Set<string>();
  const degraded = (items: readonly Degradation[]): void => {
    for (const d of items) {
      const key = JSON.stringify([d.step, d.reason]);
      if (seen.has(key)) continue;
      seen.add(key);
      current().warn('step degraded', { step: d.step, reason: d.reason });
    }
  };

  return {
    current,
    degraded,
    onStatus(status) {
      if (typeof status !== 'object' || status === null) return;
      const s = status as Status;
      if (typeof s.node === 'string' && s.node !== '') node = s.node;
      if (typeof s.phase !== 'string' || s.phase === phase) return;
      const previous = phase;
      phase = s.phase;
      current().info('phase changed', { previousPhase: previous, ...progressOf(s) });
    },
    onActivity(event) {
      const own = activityLogFields(event.activity, event.input);
      // A census's node investigation: its own id (and node); the census's id alongside.
      const child = own.investigationId !== undefined && own.investigationId !== investigationId;
      const lines = current().child({
        ...own,
        ...(child ? { census: investigationId } : { investigationId }),
        ...(!child && node !== null ? { node } : {}),
      });
      if (event.type === 'start') {
        lines.debug('activity started');
        return;
      }
      const durationMs = Math.round(event.ms);
      if (event.error !== undefined) {
        // A warning, not an error: the workflow retries or degrades; `investigation finished` says how it ended.
        lines.warn('activity failed', { outcome: 'failed', durationMs, error: event.error });
      } else {
        lines.info('activity done', {
          outcome: 'ok',
          durationMs,
          ...(event.outputBytes !== undefined ? { outputBytes: event.outputBytes } : {}),
        });
      }
    },
    finished(result) {
      const durationMs = Math.round(now() - started);
      const lines = current();
      switch (result.outcome) {
        case 'reported':
          node = result.node.name;
          degraded(result.degraded);
          current().info('investigation finished', {
            outcome: 'reported',
            durationMs,
            pods: result.report.pods,
            topPod: result.report.top,
            degraded: result.report.degraded,
            cleanup: result.cleanup,
            report: result.report.json,
            notified: result.notifications?.targets.length ?? 0,
          });
          return;
        case 'target-not-found':
          lines.warn('investigation finished', {
            outcome: 'target-not-found',
            durationMs,
            reason: result.reason,
            error: result.message,
          });
          return;
        case 'census':
          // The census's own (its message); each node's report lists its own.
          degraded(result.degraded);
          for (const n of result.nodes) {
            if (n.outcome === 'reported') continue;
            lines.warn('node investigation not reported', {
              census: investigationId,
              investigationId: n.investigationId,
              outcome: n.outcome,
              error: n.message,
            });
          }
          lines.info('investigation finished', {
            outcome: 'census',
            durationMs,
            nodesTotal: result.total,
            nodesCensused: result.nodes.length,
            nodesReported: result.nodes.filter((n) => n.outcome === 'reported').length,
            skippedNotReady: result.skipped.notReady,
            skippedOverLimit: result.skipped.overLimit,
            topPod: result.top[0]?.pod ?? null,
            notified: result.notifications?.targets.length ?? 0,
          });
          return;
        case 'no-nodes':
          degraded(result.degraded);
          lines.warn('investigation finished', {
            outcome: 'no-nodes',
            durationMs,
            error: result.message,
            notified: result.notifications?.targets.length ?? 0,
          });
          return;
      }
    },
    ended(state, error) {
      const fields = { outcome: state, durationMs: Math.round(now() - started), error };
      if (state === 'terminated') current().warn('investigation cancelled', fields);
      else current().error('investigation failed', fields);
    },
  };
}
