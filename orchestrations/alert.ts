/**
 * `investigateAlert`: one alert naming several nodes, investigated as one `investigateSnat` sub-orchestration per node,
 * at most `maxParallel` at a time, in waves (the next wave starts when the previous one is over). A plain generator over
 * the Ops port, like `investigateSnat`: Durable Functions runs it with `callSubOrchestrator`, the in-process driver with
 * its `sub` descriptor.
 *
 * A node's investigation that fails does not fail the alert: its outcome is `failed` with the message, and the other
 * nodes are still investigated. The expansion of the alert into targets (validation, de-duplication, ids) is the
 * intake's: this orchestrator receives ready `InvestigationInput`s.
 */
import { ORCHESTRATIONS } from '../lib/workflow/contracts.js';
import type { NodeQuery, WriteReportOutput } from '../lib/workflow/contracts.js';
import type { InvestigationInput, InvestigationResult, Ops } from './investigate.js';

/** The Ops port plus sub-orchestrations. `instanceId` makes the child addressable (the investigation's id). */
export interface WorkflowOps<H> extends Ops<H> {
  sub(orchestrator: string, input: unknown, instanceId: string): H;
}

export const DEFAULT_MAX_PARALLEL = 4;
/** More than this many investigations at once would run that many privileged capture Jobs at once. */
export const MAX_PARALLEL_LIMIT = 16;

export interface AlertInvestigationInput {
  readonly alertId: string;
  /** One per node; each `investigationId` is also the sub-orchestration's instance id. */
  readonly investigations: readonly InvestigationInput[];
  /** Sub-orchestrations at once (1..16). Default 4. */
  readonly maxParallel?: number;
}

export type NodeInvestigationOutcome =
  | {
      readonly investigationId: string;
      readonly node: NodeQuery;
      readonly outcome: 'reported';
      readonly nodeName: string;
      readonly report: Pick<WriteReportOutput, 'json' | 'markdown' | 'html' | 'top' | 'pods' | 'degraded' | 'topPods'>;
    }
  | {
      readonly investigationId: string;
      readonly node: NodeQuery;
      readonly outcome: 'target-not-found';
      readonly message: string;
    }
  | {
      readonly investigationId: string;
      readonly node: NodeQuery;
      readonly outcome: 'failed';
      readonly message: string;
    };

export interface AlertInvestigationResult {
  readonly alertId: string;
  readonly investigations: NodeInvestigationOutcome[];
}

export interface AlertStatus {
  readonly phase: 'investigating' | 'done';
  readonly nodes: { readonly done: number; readonly total: number };
  readonly wave: number;
  readonly waves: number;
}

const messageOf = (e: unknown): string =>
  e instanceof Error ? e.message : typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));

export function parallelismOf(maxParallel: number | undefined): number {
  const n = maxParallel === undefined || !Number.isFinite(maxParallel) ? DEFAULT_MAX_PARALLEL : Math.floor(maxParallel);
  return Math.min(MAX_PARALLEL_LIMIT, Math.max(1, n));
}

function outcomeOf(input: InvestigationInput, result: InvestigationResult): NodeInvestigationOutcome {
  const base = { investigationId: input.investigationId, node: input.node };
  if (result.outcome === 'target-not-found') return { ...base, outcome: 'target-not-found', message: result.message };
  const { json, markdown, html, top, pods, degraded, topPods } = result.report;
  return {
    ...base,
    outcome: 'reported',
    nodeName: result.node.name,
    report: { json, markdown, html, top, pods, degraded, ...(topPods ? { topPods } : {}) },
  };
}

/**
 * Waits for all `handles`; a failed one is a value, not a throw. Durable's `Task.all` fails on the first failure, so
 * the tasks are then waited for one by one: a Durable task yielded again gives its outcome (the local driver's
 * descriptors behave the same), nothing runs twice.
 */
function* settleAll<H>(
  ops: Ops<H>,
  handles: H[],
): Generator<H, Array<{ ok: true; value: unknown } | { ok: false; message: string }>, unknown> {
  if (handles.length === 0) return [];
  try {
    const values = (yield ops.all(handles)) as unknown[];
    return values.map((value) => ({ ok: true as const, value }));
  } catch {
    const settled: Array<{ ok: true; value: unknown } | { ok: false; message: string }> = [];
    for (const h of handles) {
      try {
        settled.push({ ok: true, value: yield h });
      } catch (e) {
        settled.push({ ok: false, message: messageOf(e) });
      }
    }
    return settled;
  }
}

/** Where a wave runner is: before each wave, and once at the end (`wave` = `waves`). */
export interface WaveProgress {
  readonly done: number;
  readonly total: number;
  readonly wave: number;
  readonly waves: number;
}

/**
 * Runs `investigations` as `investigateSnat` sub-orchestrations (instance id = the investigation's id), at most
 * `maxParallel` at a time, in waves; a failed one is an outcome. `progress` is told before each wave (and the caller
 * reports the end). Nothing is scheduled for an empty list (never `ops.all([])`). Shared by `investigateAlert` and
 * `investigateCluster`.
 */
export function* investigateNodes<H>(
  investigations: readonly InvestigationInput[],
  maxParallel: number | undefined,
  ops: WorkflowOps<H>,
  progress: (p: WaveProgress) => void = () => {},
): Generator<H, NodeInvestigationOutcome[], unknown> {
  const size = parallelismOf(maxParallel);
  const waves = Math.ceil(investigations.length / size);
  const outcomes: NodeInvestigationOutcome[] = [];
  for (let w = 0; w < waves; w++) {
    const wave = investigations.slice(w * size, (w + 1) * size);
    if (wave.length === 0) break; // never ops.all([])
    progress({ done: outcomes.length, total: investigations.length, wave: w + 1, waves });
    const handles = wave.map((i) => ops.sub(ORCHESTRATIONS.investigateSnat, i, i.investigationId));
    const settled = yield* settleAll(ops, handles);
    settled.forEach((s, k) => {
      const i = wave[k]!;
      outcomes.push(
        s.ok
          ? outcomeOf(i, s.value as InvestigationResult)
          : { investigationId: i.investigationId, node: i.node, outcome: 'failed', message: s.message },
      );
    });
  }
  return outcomes;
}

/** The number of waves `investigateNodes` runs `count` investigations in. */
export const wavesOf = (count: number, maxParallel: number | undefined): number =>
  Math.ceil(count / parallelismOf(maxParallel));

export function* investigateAlert<H>(
  input: AlertInvestigationInput,
  ops: WorkflowOps<H>,
): Generator<H, AlertInvestigationResult, unknown> {
  const all = input.investigations;
  const waves = wavesOf(all.length, input.maxParallel);
  const status = (phase: AlertStatus['phase'], done: number, wave: number): void => {
    const s: AlertStatus = { phase, nodes: { done, total: all.length }, wave, waves };
    ops.status?.(s);
  };
  const outcomes = yield* investigateNodes(all, input.maxParallel, ops, (p) => status('investigating', p.done, p.wave));
  status('done', outcomes.length, waves);
  return { alertId: input.alertId, investigations: outcomes };
}
