/**
 * The investigation workflow, `investigateSnat`: a plain generator over an Ops port, so the same code runs under
 * Durable Functions (`ops` = the orchestration context) and in-process for the CLI, the demo and the tests
 * (`lib/workflow/driver.ts`). See orchestrations/README.md.
 *
 * Rules of this file (replay safety): no I/O, no clock but `ops.now()`, no randomness, activity inputs and outputs are
 * small JSON (names, ids, counts; bulk evidence travels as store keys). Never `ops.all([])`: Durable's `Task.all([])`
 * fails the orchestration, so every fan-out is guarded.
 *
 * The census runs while the capture Job traces: the pod list is then a snapshot taken during the capture (what the
 * report should show), and the census' execs cost no time on top of the window. A census-only investigation
 * (`capture: false`, what a NAT gateway alert's cluster census runs per node) creates no capture Job at all.
 */
import { ACTIVITIES } from '../lib/workflow/contracts.js';
import type {
  CensusPodsInput,
  CensusPodsOutput,
  CheckCaptureOutput,
  CollectCaptureOutput,
  DeleteCaptureOutput,
  InvestigationScope,
  ListPodsOutput,
  NodeQuery,
  NotifyReportInput,
  NotifyReportOutput,
  ResolveTargetOutput,
  StartCaptureOutput,
  WriteReportOutput,
} from '../lib/workflow/contracts.js';
import type { DataQualityNote, Degradation, ReportTrigger } from '../lib/report/model.js';

/** The port the workflow runs on. `H` is the adapter's handle: a Durable `Task`, or a local descriptor. */
export interface Ops<H> {
  call(activity: string, input?: unknown): H;
  /** Waits for all; must never be given an empty list (Durable's Task.all([]) throws). */
  all(handles: H[]): H;
  sleep(ms: number): H;
  now(): Date;
  /** Custom status (Durable: setCustomStatus): phase and progress. */
  status?(s: unknown): void;
}

export interface WorkflowTiming {
  /** First wait between two polls of the capture Job once the window is over; grows by a fifth up to the maximum. */
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  /** A capture pod stuck (unschedulable, image pull) this long after the window is given up on. */
  readonly stuckGraceMs: number;
  /** Polling ends this long after the Job's own deadline (activeDeadlineSeconds) at the latest. */
  readonly deadlineMarginMs: number;
  /** Consecutive failed polls after which the capture's status is taken as unknown. */
  readonly maxPollFailures: number;
}

export const DEFAULT_TIMING: WorkflowTiming = Object.freeze({
  pollIntervalMs: 1_000,
  maxPollIntervalMs: 2_000,
  stuckGraceMs: 20_000,
  deadlineMarginMs: 30_000,
  maxPollFailures: 3,
});

export interface CensusFanOut {
  /** Pods per censusPods activity. */
  readonly batchSize: number;
  /** censusPods activities scheduled together (one wave); the status is updated after each wave. */
  readonly parallelBatches: number;
}

export const DEFAULT_FAN_OUT: CensusFanOut = Object.freeze({ batchSize: 8, parallelBatches: 4 });

export interface InvestigationInput {
  /** A Kubernetes label value (1-63 of [A-Za-z0-9-_.]): it labels the capture Job and names the report. */
  readonly investigationId: string;
  readonly node: NodeQuery;
  /** The tcptracer window, 1..600 s; not used when `capture` is false. */
  readonly captureSeconds: number;
  /**
   * `false`: a census-only investigation: no capture Job at all (no startCapture, checkCapture, collectCapture or
   * deleteCapture), the pod list and census as usual, and the report says why (`CENSUS_ONLY_NOTE`). Absent: true.
   * `investigateCluster` sets it: a NAT gateway alert names no node, and a privileged capture Job on every node of a
   * cluster for one alert is not acceptable.
   */
  readonly capture?: boolean;
  readonly trigger: ReportTrigger;
  readonly timing?: Partial<WorkflowTiming>;
  readonly fanOut?: Partial<CensusFanOut>;
  /**
   * The notify step: `false` skips it (no target is configured: the in-process driver sets it from its settings);
   * absent or `true`, notifyReport runs, and sends to whatever targets the responder's settings name.
   */
  readonly notify?: boolean;
  /** The cluster to act on, for a host that serves many (the Functions app); see `InvestigationScope`. */
  readonly scope?: InvestigationScope;
  /** The alert's window (ISO 8601), over which the node's SNAT metrics are read. */
  readonly alertWindow?: { readonly start: string; readonly end: string };
}

export type InvestigationPhase =
  | 'resolving'
  | 'starting capture'
  | 'listing pods'
  | 'census'
  | 'capturing'
  | 'collecting'
  | 'cleaning up'
  | 'reporting'
  | 'done';

/** The custom status: where the investigation is, and how far the pod census got. */
export interface InvestigationStatus {
  readonly phase: InvestigationPhase;
  readonly node: string | null;
  readonly pods: { readonly done: number; readonly total: number };
}

export type CleanupOutcome = 'deleted' | 'absent' | 'failed' | 'not-needed';

export type InvestigationResult =
  | {
      readonly outcome: 'reported';
      readonly node: { readonly name: string; readonly ip: string | null };
      readonly report: WriteReportOutput;
      readonly rawCapture: string | null;
      /** What the workflow itself degraded (the report also lists what the activities found). */
      readonly degraded: Degradation[];
      readonly cleanup: CleanupOutcome;
      /** The deliveries; null when the step was skipped or failed (then `degraded` says why). */
      readonly notifications?: NotifyReportOutput | null;
    }
  | {
      readonly outcome: 'target-not-found';
      readonly reason: 'not-found' | 'ambiguous' | 'invalid';
      readonly message: string;
    };

/**
 * The first line of a step's error, for the report. Under Durable an activity's failure arrives as
 * `${reason} \n ${details}` (details: a stack trace, or nothing); the in-process driver passes the message as is.
 */
export function stepError(e: unknown): string {
  const text = e instanceof Error ? e.message : typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
  return (text.split('\n', 1)[0] ?? text).trim();
}

const messageOf = stepError;

const CENSUS_ALONE = 'the report rests on the pod census (exec) alone';

/** The report's data quality note of a census-only investigation (`capture: false`). */
export const CENSUS_ONLY_NOTE: DataQualityNote = Object.freeze({
  source: 'capture',
  text: 'census only: a NAT gateway alert names no node; no capture Job was run',
  count: 0,
});

/** The half-open ranges [start, end) of `total` items in batches of `size`. */
export function batchesOf(total: number, size: number): Array<{ start: number; end: number }> {
  const step = Math.max(1, Math.floor(size));
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < total; start += step) ranges.push({ start, end: Math.min(total, start + step) });
  return ranges;
}

export function* investigateSnat<H>(
  input: InvestigationInput,
  ops: Ops<H>,
): Generator<H, InvestigationResult, unknown> {
  const timing: WorkflowTiming = { ...DEFAULT_TIMING, ...input.timing };
  const fanOut: CensusFanOut = { ...DEFAULT_FAN_OUT, ...input.fanOut };
  const id = input.investigationId;
  const degraded: Degradation[] = [];
  const pods = { done: 0, total: 0 };
  let nodeName: string | null = null;
  const setStatus = (phase: InvestigationPhase): void => {
    const status: InvestigationStatus = { phase, node: nodeName, pods: { ...pods } };
    ops.status?.(status);
  };

  // Every activity input carries the scope when there is one (the host builds the activity's clients from it).
  let scope: InvestigationScope | undefined = input.scope && { ...input.scope, investigationId: id };
  const call = (activity: string, payload: object): H =>
    ops.call(activity, scope === undefined ? payload : { ...payload, scope });

  setStatus('resolving');
  const target = (yield call(ACTIVITIES.resolveTarget, {
    node: input.node,
    ...(input.alertWindow ? { window: input.alertWindow } : {}),
  })) as ResolveTargetOutput;
  if (!target.found) return { outcome: 'target-not-found', reason: target.reason, message: target.message };
  nodeName = target.name;
  const node = { name: target.name, ip: target.ip };
  const windowStart = ops.now();
  degraded.push(...(target.degraded ?? []));
  if (scope !== undefined) {
    const clusterId = target.cluster?.resourceId ?? scope.clusterId;
    scope = { ...scope, ...(clusterId ? { clusterId } : {}), node: node.name, startedAt: windowStart.toISOString() };
  }

  // Cleanup is owed as soon as a create may have reached the API server (a thrown startCapture may have created it).
  // An object, not two lets: the nested generator below changes them.
  const job: { cleanup: CleanupOutcome; owed: boolean } = { cleanup: 'not-needed', owed: false };
  const deleteCapture = function* (): Generator<H, void, unknown> {
    job.owed = false;
    try {
      const deleted = (yield call(ACTIVITIES.deleteCapture, {
        investigationId: id,
        nodeName: node.name,
      })) as DeleteCaptureOutput;
      job.cleanup = deleted.result;
    } catch (e) {
      job.cleanup = 'failed';
      degraded.push({
        step: 'cleanup',
        reason: `the capture Job could not be deleted (${messageOf(e)}); Kubernetes ends it at its deadline, and the next investigation's orphan sweep deletes it`,
      });
    }
  };

  const censusOnly = input.capture === false;
  try {
    let capture: Extract<StartCaptureOutput, { started: true }> | null = null;
    // Census only: no capture Job is created, so none is owed a cleanup either.
    if (!censusOnly) {
      setStatus('starting capture');
      try {
        job.owed = true;
        const started = (yield call(ACTIVITIES.startCapture, {
          investigationId: id,
          nodeName: node.name,
          captureSeconds: input.captureSeconds,
          now: windowStart.toISOString(),
        })) as StartCaptureOutput;
        if (started.started) capture = started;
        else {
          job.owed = false;
          degraded.push({
            step: 'capture',
            reason: `the capture Job was not created (${started.reason}: ${started.message}); ${CENSUS_ALONE}`,
          });
        }
      } catch (e) {
        degraded.push({
          step: 'capture',
          reason: `the capture Job could not be created (${messageOf(e)}); ${CENSUS_ALONE}`,
        });
      }
    }

    // The pod list and the census, while the capture runs.
    setStatus('listing pods');
    let listed: ListPodsOutput | null = null;
    try {
      listed = (yield call(ACTIVITIES.listPods, {
        investigationId: id,
        nodeName: node.name,
        now: ops.now().toISOString(),
      })) as ListPodsOutput;
    } catch (e) {
      degraded.push({
        step: 'pod list',
        reason: `the pods on the node could not be listed (${messageOf(e)}): no pod census, and capture sources are not matched to pods`,
      });
    }
    const censusRefs: string[] = [];
    if (listed !== null && listed.pods > 0) {
      pods.total = listed.pods;
      setStatus('census');
      const batches = batchesOf(listed.pods, fanOut.batchSize);
      for (let i = 0; i < batches.length; i += Math.max(1, fanOut.parallelBatches)) {
        const wave = batches.slice(i, i + Math.max(1, fanOut.parallelBatches));
        if (wave.length === 0) break; // never ops.all([]): Durable's Task.all([]) fails the orchestration
        const tasks = wave.map((b) =>
          call(ACTIVITIES.censusPods, {
            investigationId: id,
            podsRef: listed.ref,
            start: b.start,
            end: b.end,
          } satisfies CensusPodsInput),
        );
        try {
          const results = (yield ops.all(tasks)) as CensusPodsOutput[];
          for (const r of results) censusRefs.push(r.ref);
        } catch (e) {
          const first = wave[0]!.start + 1;
          const last = wave[wave.length - 1]!.end;
          degraded.push({
            step: 'pod census',
            reason: `the census of pods ${first}-${last} of ${listed.pods} failed (${messageOf(e)}); the node-side census stands in where the capture has their network namespace`,
          });
        }
        pods.done = wave[wave.length - 1]!.end;
        setStatus('census');
      }
    }

    let captureRef: string | null = null;
    let rawCapture: string | null = null;
    if (capture !== null) {
      setStatus('capturing');
      const remaining = windowStart.getTime() + input.captureSeconds * 1000 - ops.now().getTime();
      if (remaining > 0) yield ops.sleep(remaining);

      const giveUpAt = Date.parse(capture.deadline) + timing.deadlineMarginMs;
      let interval = timing.pollIntervalMs;
      let last: CheckCaptureOutput | null = null;
      let failures = 0;
      let lastError = '';
      let stuckSince: number | null = null;
      for (;;) {
        try {
          last = (yield call(ACTIVITIES.checkCapture, {
            namespace: capture.namespace,
            jobName: capture.jobName,
          })) as CheckCaptureOutput;
          failures = 0;
        } catch (e) {
          failures += 1;
          lastError = messageOf(e);
          if (failures >= timing.maxPollFailures) break;
        }
        if (last !== null && (last.phase === 'succeeded' || last.phase === 'failed')) break;
        const now = ops.now().getTime();
        if (last !== null && last.phase === 'pending' && last.reason !== null) {
          stuckSince ??= now;
          if (now - stuckSince >= timing.stuckGraceMs) break;
        } else stuckSince = null;
        if (now >= giveUpAt) break;
        yield ops.sleep(Math.max(1, Math.min(interval, giveUpAt - now)));
        interval = Math.min(Math.round(interval * 1.2), timing.maxPollIntervalMs);
      }

      const jobRef = `${capture.namespace}/${capture.jobName}`;
      const why = last?.message ? `: ${last.message}` : '';
      let readLog = last?.podName != null;
      if (failures >= timing.maxPollFailures) {
        degraded.push({
          step: 'capture',
          reason: `the status of capture Job ${jobRef} could not be read (${lastError})`,
        });
      } else if (last === null) {
        readLog = false;
      } else if (last.phase === 'pending' || (last.phase === 'failed' && last.reason !== null && isNeverRan(last))) {
        readLog = false;
        const what =
          last.reason === 'unschedulable'
            ? 'was never scheduled on the node (unschedulable'
            : last.reason === 'image-pull'
              ? 'never started: its image could not be pulled (image-pull'
              : 'had not started by its deadline (pending';
        degraded.push({
          step: 'capture',
          reason: `the capture Job ${jobRef} ${what}${why}); no tcptracer capture and no node-side census: ${CENSUS_ALONE}`,
        });
      } else if (last.phase === 'failed') {
        degraded.push({
          step: 'capture',
          reason: `the capture Job ${jobRef} failed (${last.reason ?? 'failed'}${why}); what its log holds is used`,
        });
      } else if (last.phase === 'running') {
        degraded.push({
          step: 'capture',
          reason: `the capture Job ${jobRef} was still running past its deadline; what its log holds so far is used`,
        });
      }

      if (readLog && last?.podName) {
        setStatus('collecting');
        try {
          const collected = (yield call(ACTIVITIES.collectCapture, {
            investigationId: id,
            namespace: capture.namespace,
            jobName: capture.jobName,
            podName: last.podName,
            podsRef: listed?.ref ?? null,
          })) as CollectCaptureOutput;
          if (collected.collected) {
            captureRef = collected.ref;
            rawCapture = collected.rawCapture;
          } else {
            degraded.push({
              step: 'capture',
              reason: `the capture log of ${jobRef} could not be read (${collected.message}); ${CENSUS_ALONE}`,
            });
          }
        } catch (e) {
          degraded.push({
            step: 'capture',
            reason: `the capture log of ${jobRef} could not be read (${messageOf(e)}); ${CENSUS_ALONE}`,
          });
        }
      }
    }
    const windowEnd = ops.now();

    // Deleted before the report is written, so that the report can say when it could not be.
    if (job.owed) {
      setStatus('cleaning up');
      yield* deleteCapture();
    }

    setStatus('reporting');
    const report = (yield call(ACTIVITIES.writeReport, {
      investigationId: id,
      generatedAt: ops.now().toISOString(),
      trigger: input.trigger,
      node,
      window: { start: windowStart.toISOString(), end: windowEnd.toISOString() },
      snat: target.snat,
      ...(target.cluster ? { cluster: target.cluster } : {}),
      podsRef: listed?.ref ?? null,
      censusRefs,
      captureRef,
      rawCapture,
      // A copy: the notify step may add to `degraded` later, and the replay engine keeps this input by reference.
      degraded: [...degraded],
      // Not a degradation: nothing failed. The capture's status is `missing` (never attempted), and the note says why.
      ...(censusOnly ? { notes: [{ ...CENSUS_ONLY_NOTE }] } : {}),
    })) as WriteReportOutput;

    // After the report is stored, and never at its cost: a failure here is recorded, the result stays `reported`.
    let notifications: NotifyReportOutput | null = null;
    // Still 'reporting' while it runs (a new phase would be a new value for the status readers to know).
    if (input.notify !== false) {
      try {
        notifications = (yield call(ACTIVITIES.notifyReport, {
          investigationId: id,
          reportRef: report.reportRef,
        } satisfies NotifyReportInput)) as NotifyReportOutput;
      } catch (e) {
        degraded.push({
          step: 'notify',
          reason: `the report's notifications could not be completed (${messageOf(e)}); the report stands as written`,
        });
      }
    }
    setStatus('done');
    // The notify step may have added its failures to the stored report: the summary counts what the report holds.
    const stored =
      notifications?.degraded !== undefined && notifications.degraded !== report.degraded
        ? { ...report, degraded: notifications.degraded }
        : report;
    return { outcome: 'reported', node, report: stored, rawCapture, degraded, cleanup: job.cleanup, notifications };
  } finally {
    // Any failure above (or a cancelled run): the Job is deleted all the same.
    if (job.owed) yield* deleteCapture();
  }
}

/** A failed Job whose pod never ran (the root cause seen on the pod): there is no log to read. */
function isNeverRan(status: CheckCaptureOutput): boolean {
  return status.reason === 'unschedulable' || status.reason === 'image-pull';
}
