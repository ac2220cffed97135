/**
 * `investigateSnat` under the REAL durable-functions 3.5 replay engine, through the handler functions/orchestrations.ts
 * registers, with synthetic histories (test/helpers/df-harness.ts): replay-engine level, not host level (no Functions
 * host, no Durable extension, no storage). The activities' answers are those of a real in-process run against the
 * simulated cluster, recorded once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { InvestigationResult, InvestigationStatus } from '../../orchestrations/investigate.js';
import { ACTIVITIES } from '../../lib/workflow/contracts.js';
import { RETRY_POLICIES } from '../../lib/workflow/retry.js';
import { ActionType, ReplayHost, loadApp } from '../helpers/df-harness.js';
import type { Episode, Scheduled } from '../helpers/df-harness.js';
import { drive, failEveryAttempt } from './replay-drive.js';
import type { Answer } from './replay-drive.js';
import { recordRun, recordedResponder, timeless } from './recorded-run.js';
import type { RecordedRun } from './recorded-run.js';

type Handler = ConstructorParameters<typeof ReplayHost>[0];
let handler: Handler;
let rec: RecordedRun;

beforeAll(async () => {
  const registry = await loadApp();
  handler = registry.get('investigateSnat')!.options.handler as unknown as Handler;
  rec = await recordRun();
});

const newHost = (input: unknown = rec.input, start = rec.windowStart) =>
  new ReplayHost(handler, input, start, { instanceId: rec.input.investigationId, functionName: 'investigateSnat' });

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');
const names = (host: ReplayHost) => host.scheduledActivities().map((s) => s.name);
const resultOf = (e: Episode) => e.state.output as InvestigationResult;

describe('investigateSnat, replay-engine level (not host level): the recorded real run', () => {
  it('replays to the same result, scheduling the same activities with the same inputs (clock fields aside)', async () => {
    const host = newHost();
    const statuses: unknown[] = [];
    const end = await drive(host, {
      respond: recordedResponder(rec),
      onEpisode: (e) => statuses.push(e.state.customStatus),
    });
    expect(end.failed).toBe(false);
    expect(end.state.isDone).toBe(true);
    expect(resultOf(end)).toEqual(rec.run.result);
    expect(resultOf(end)).toMatchObject({ outcome: 'reported', degraded: [], cleanup: 'deleted' });

    const durable = host.scheduledActivities().filter((s) => s.name !== ACTIVITIES.checkCapture);
    const local = rec.calls.filter((c) => c.activity !== ACTIVITIES.checkCapture);
    expect(durable.map((s) => [s.name, timeless(s.input)])).toEqual(local.map((c) => [c.activity, timeless(c.input)]));
    expect(host.scheduledActivities(ACTIVITIES.checkCapture).length).toBeGreaterThan(0);

    // Every activity is called with its retry policy; the capture window is one durable timer of captureSeconds.
    for (const a of host.actions.filter((a) => a.actionType !== ActionType.CreateTimer)) {
      expect(a.actionType).toBe(ActionType.CallActivityWithRetry);
    }
    const writeReport = host.actions.find((a) => a.functionName === ACTIVITIES.writeReport)!;
    expect(writeReport.retryOptions).toMatchObject({
      maxNumberOfAttempts: RETRY_POLICIES.report.maxAttempts,
      firstRetryIntervalInMilliseconds: RETRY_POLICIES.report.firstRetryMs,
    });
    const notifyAction = host.actions.find((a) => a.functionName === ACTIVITIES.notifyReport)!;
    expect(notifyAction.retryOptions).toMatchObject({
      maxNumberOfAttempts: RETRY_POLICIES.notify.maxAttempts,
      firstRetryIntervalInMilliseconds: RETRY_POLICIES.notify.firstRetryMs,
    });
    // The recorded run notified its Teams receiver (a folder output: the link is the HTML file's path).
    expect(names(host).at(-1)).toBe(ACTIVITIES.notifyReport);
    expect(resultOf(end)).toMatchObject({
      notifications: { targets: [{ kind: 'teams', ok: true, status: 200, attempts: 1 }], link: 'path' },
    });
    const resolve = host.actions.find((a) => a.functionName === ACTIVITIES.resolveTarget)!;
    expect(resolve.retryOptions).toMatchObject({ maxNumberOfAttempts: 3, backoffCoefficient: 2 });
    const timers = [...host.byId.values()].filter((s) => s.kind === 'timer');
    expect(Date.parse(timers[0]!.fireAt!) - rec.windowStart.getTime()).toBeGreaterThanOrEqual(1_000 - 200);

    // Custom status, as `GET /api/investigations/{id}` reads it: the phases in order, census progress to the end.
    const seen = statuses.filter(Boolean) as InvestigationStatus[];
    const phases = seen.map((s) => s.phase).filter((p, i, a) => p !== a[i - 1]);
    const recorded = rec.run.statuses.map((s) => s.phase).filter((p, i, a) => p !== a[i - 1]);
    expect(phases).toEqual(recorded.filter((p) => phases.includes(p)));
    expect(phases).toEqual(expect.arrayContaining(['resolving', 'census', 'capturing', 'reporting', 'done']));
    expect(seen.at(-1)).toEqual({ phase: 'done', node: rec.run.statuses.at(-1)!.node, pods: { done: 13, total: 13 } });
    expect(end.state.customStatus).toEqual(rec.run.statuses.at(-1));
  });

  it('every activity payload of a full run is under 16 KB (recorded inputs and outputs, the actions, the status)', async () => {
    expect(rec.calls.length).toBeGreaterThan(8);
    for (const c of rec.calls) {
      expect.soft(jsonBytes(c.input), `${c.activity} input`).toBeLessThan(16 * 1024);
      expect.soft(jsonBytes(c.output), `${c.activity} output`).toBeLessThan(16 * 1024);
    }
    const host = newHost();
    const end = await drive(host, { respond: recordedResponder(rec) });
    for (const a of host.actions) expect.soft(jsonBytes(a), String(a.functionName)).toBeLessThan(16 * 1024);
    for (const s of host.states) expect(jsonBytes(s.customStatus)).toBeLessThan(16 * 1024);
    expect(jsonBytes(end.state.output)).toBeLessThan(16 * 1024);
    // The orchestration input (history's ExecutionStarted) too.
    expect(jsonBytes(rec.input)).toBeLessThan(16 * 1024);
  });

  it('the census fan-out completed out of order (last batch first) gives the same result', async () => {
    const host = newHost();
    const waves: number[][] = [];
    const end = await drive(host, {
      respond: recordedResponder(rec),
      pick: (pending) => {
        const census = pending.filter((p) => p.name === ACTIVITIES.censusPods);
        if (census.length > 1) waves.push(census.map((c) => c.id));
        return census.length > 0 ? census[census.length - 1]! : pending[0]!;
      },
    });
    expect(waves.length).toBeGreaterThan(0);
    expect(waves[0]!.length).toBeGreaterThan(1);
    expect(resultOf(end)).toEqual(rec.run.result);
  });
});

// Scripted answers, for the paths the recorded run did not take ------------------------------------------------------

const NODE = {
  found: true,
  name: 'aks-node-0',
  ip: '10.224.0.4',
  snat: { allocatedPorts: 1024, usedPorts: null, failedConnections: null },
};
function scripted(overrides: Partial<Record<string, (s: Scheduled) => Answer>> = {}): (s: Scheduled) => Answer {
  const ok = (value: unknown): Answer => ({ ok: true, value });
  const base: Record<string, (s: Scheduled) => Answer> = {
    resolveTarget: () => ok(NODE),
    startCapture: (s) => {
      const { now } = s.input as { now: string };
      return ok({
        started: true,
        namespace: 'snat-responder-capture',
        jobName: 'snat-capture-0123456789abcdef',
        created: true,
        deadline: new Date(Date.parse(now) + 5_000).toISOString(),
        sweptOrphans: 0,
      });
    },
    listPods: () => ok({ ref: 'inv/pods', pods: 3 }),
    censusPods: (s) => {
      const { start, end } = s.input as { start: number; end: number };
      return ok({ ref: `inv/census/${start}`, pods: end - start, exec: end - start, hostNetwork: 0, failed: 0 });
    },
    checkCapture: () => ok({ phase: 'succeeded', reason: null, message: null, podName: 'capture-pod' }),
    collectCapture: () =>
      ok({
        collected: true,
        ref: 'inv/capture',
        status: 'complete',
        bytes: 10,
        connects: 1,
        netns: 2,
        rawCapture: null,
      }),
    deleteCapture: () =>
      ok({ namespace: 'snat-responder-capture', jobName: 'snat-capture-0123456789abcdef', result: 'deleted' }),
    writeReport: (s) => {
      const i = s.input as { degraded: unknown[] };
      return ok({
        json: 'r.json',
        markdown: 'r.md',
        html: 'r.html',
        reportRef: 'inv/report',
        pods: 3,
        top: 'a/b',
        degraded: i.degraded.length,
      });
    },
    notifyReport: () =>
      ok({
        targets: [{ target: 'teams https://example.test', kind: 'teams', ok: true, status: 200, attempts: 1 }],
        link: 'read-link',
        rewritten: false,
      }),
  };
  return (s) => (overrides[s.name!] ?? base[s.name!]!)(s);
}

const T0 = new Date('2026-11-26T10:00:00Z');
const INPUT = {
  investigationId: 'inv-1',
  node: { ip: '10.224.0.4' },
  captureSeconds: 2,
  trigger: { kind: 'cli', source: 'test' },
  timing: { pollIntervalMs: 1_000, maxPollIntervalMs: 2_000, stuckGraceMs: 600_000, deadlineMarginMs: 2_000 },
  fanOut: { batchSize: 1, parallelBatches: 3 },
};

describe('investigateSnat, replay-engine level (not host level): failures and edge cases', () => {
  it('a failed activity (every retry spent) degrades the report; the orchestration does not fail', async () => {
    const host = newHost(INPUT, T0);
    const respond = scripted();
    await host.episode([host.started()]);
    await host.episode([host.completed(0, respond(host.byId.get(0)!).ok && NODE)]);
    const start = host.byId.get(1)!;
    expect(start.name).toBe(ACTIVITIES.startCapture);
    let e = await host.episode([host.completed(1, (respond(start) as { value: unknown }).value)]);
    const list = e.scheduled[0]!;
    expect(list.name).toBe(ACTIVITIES.listPods);
    // listPods fails three times (its 'cluster' policy), with retry timers 2 s then 4 s apart.
    e = await failEveryAttempt(host, list, 'pods is forbidden: User cannot list resource "pods"');
    const retryTimers = [...host.byId.values()].filter((s) => s.kind === 'retry-timer');
    expect(retryTimers).toHaveLength(3);
    expect(host.scheduledActivities(ACTIVITIES.listPods).map((s) => s.attempt)).toEqual([1, 2, 3]);
    // Then the workflow goes on without a census; the retries outlasted the 2 s window: straight to the first poll.
    expect(e.scheduled.map((s) => s.name)).toEqual([ACTIVITIES.checkCapture]);
    const end = await drive2(host, respond);
    expect(end.failed).toBe(false);
    const writeReport = host.scheduledActivities(ACTIVITIES.writeReport)[0]!;
    expect((writeReport.input as { degraded: Array<{ step: string; reason: string }> }).degraded).toEqual([
      { step: 'pod list', reason: expect.stringContaining('pods is forbidden') as unknown },
    ]);
    expect(host.scheduledActivities(ACTIVITIES.censusPods)).toEqual([]);
    expect(resultOf(end)).toMatchObject({ outcome: 'reported', cleanup: 'deleted' });
  });

  it('one failed census batch of a wave is one degradation; the rest of the run is complete', async () => {
    const host = newHost(INPUT, T0);
    let census = 0;
    const end = await drive(host, {
      respond: scripted({
        censusPods: (s) => {
          census++;
          const { start, end: stop } = s.input as { start: number; end: number };
          return start === 1
            ? { ok: false, reason: 'exec: connection reset' }
            : { ok: true, value: { ref: `c/${start}`, pods: stop - start, exec: 1, hostNetwork: 0, failed: 0 } };
        },
      }),
      // The failing batch's retries interleave with the others'.
      pick: (pending) => pending[pending.length - 1]!,
    });
    expect(end.failed).toBe(false);
    const result = resultOf(end);
    expect(result.outcome === 'reported' && result.degraded.map((d) => d.step)).toEqual(['pod census']);
    expect(
      host.scheduledActivities(ACTIVITIES.censusPods).filter((s) => (s.input as { start: number }).start === 1),
    ).toHaveLength(3);
    // Durable's Task.all fails on the first failure: batch 0, never answered, is not waited for.
    expect(census).toBe(3 + 1);
    expect(result.outcome === 'reported' && result.degraded[0]!.reason).toMatch(
      // The library's message of a TaskFailed without FailureDetails is `${Reason} \n ${Details}`: the report keeps
      // its first line.
      /^the census of pods 1-3 of 3 failed \(exec: connection reset\); the node-side census stands in/,
    );
  });

  it('a capture never scheduled: polled until the Job deadline, no log read, census-only report, Job deleted', async () => {
    const host = newHost(INPUT, T0);
    const end = await drive(host, {
      respond: scripted({
        checkCapture: () => ({
          ok: true,
          value: { phase: 'pending', reason: 'unschedulable', message: '0/3 nodes are available', podName: null },
        }),
      }),
    });
    expect(end.failed).toBe(false);
    const deadline = T0.getTime() + 5_000;
    const polls = host.scheduledActivities(ACTIVITIES.checkCapture);
    expect(polls.length).toBeGreaterThan(3);
    expect(host.now().getTime()).toBeGreaterThanOrEqual(deadline + INPUT.timing.deadlineMarginMs);
    expect(host.now().getTime()).toBeLessThan(deadline + INPUT.timing.deadlineMarginMs + 1_000);
    expect(host.scheduledActivities(ACTIVITIES.collectCapture)).toEqual([]);
    expect(names(host).slice(-3)).toEqual([ACTIVITIES.deleteCapture, ACTIVITIES.writeReport, ACTIVITIES.notifyReport]);
    const result = resultOf(end);
    expect(result.outcome === 'reported' && result.degraded[0]!.reason).toMatch(
      /was never scheduled on the node \(unschedulable: 0\/3 nodes/,
    );
  });

  it('a node with no pods: no census, no Task.all([]), a complete run', async () => {
    const host = newHost(INPUT, T0);
    const end = await drive(host, {
      respond: scripted({ listPods: () => ({ ok: true, value: { ref: 'inv/pods', pods: 0 } }) }),
    });
    expect(end.failed).toBe(false);
    expect(end.state.error).toBeUndefined();
    expect(host.scheduledActivities(ACTIVITIES.censusPods)).toEqual([]);
    expect(resultOf(end)).toMatchObject({ outcome: 'reported', degraded: [] });
  });

  it('a node not found: only resolveTarget, the result says so', async () => {
    const host = newHost(INPUT, T0);
    const end = await drive(host, {
      respond: scripted({
        resolveTarget: () => ({
          ok: true,
          value: { found: false, reason: 'not-found', message: 'no node has InternalIP 10.224.0.4' },
        }),
      }),
    });
    expect(names(host)).toEqual([ACTIVITIES.resolveTarget]);
    expect(resultOf(end)).toEqual({
      outcome: 'target-not-found',
      reason: 'not-found',
      message: 'no node has InternalIP 10.224.0.4',
    });
  });

  it('notifyReport failing on every attempt: the orchestration completes with its report, the failure recorded', async () => {
    const host = newHost(INPUT, T0);
    const end = await drive(host, {
      respond: scripted({ notifyReport: () => ({ ok: false, reason: 'blob: 503 ServerBusy' }) }),
    });
    expect(end.failed).toBe(false);
    expect(end.state.isDone).toBe(true);
    expect(host.scheduledActivities(ACTIVITIES.notifyReport)).toHaveLength(RETRY_POLICIES.notify.maxAttempts);
    expect(host.scheduledActivities(ACTIVITIES.notifyReport).map((s) => s.attempt)).toEqual([1, 2, 3, 4]);
    expect(host.scheduledActivities(ACTIVITIES.deleteCapture)).toHaveLength(1);
    const result = resultOf(end);
    expect(result).toMatchObject({
      outcome: 'reported',
      cleanup: 'deleted',
      notifications: null,
      report: { reportRef: 'inv/report', html: 'r.html' },
    });
    expect(result.outcome === 'reported' && result.degraded).toEqual([
      { step: 'notify', reason: expect.stringContaining('blob: 503 ServerBusy') as unknown },
    ]);
    expect(end.state.customStatus).toMatchObject({ phase: 'done' });
  });

  it('notify: false in the input (no target configured): no notifyReport is scheduled', async () => {
    const host = newHost({ ...INPUT, notify: false }, T0);
    const end = await drive(host, { respond: scripted() });
    expect(end.failed).toBe(false);
    expect(names(host).at(-1)).toBe(ACTIVITIES.writeReport);
    expect(resultOf(end)).toMatchObject({ outcome: 'reported', degraded: [], notifications: null });
  });

  it('writeReport failing on every attempt fails the orchestration, after the Job was deleted', async () => {
    const host = newHost(INPUT, T0);
    const end = await drive(host, {
      respond: scripted({ writeReport: () => ({ ok: false, reason: 'blob: 503 ServerBusy' }) }),
    });
    expect(end.failed).toBe(true);
    expect(end.state.error).toContain('blob: 503 ServerBusy');
    expect(host.scheduledActivities(ACTIVITIES.writeReport)).toHaveLength(RETRY_POLICIES.report.maxAttempts);
    expect(host.scheduledActivities(ACTIVITIES.deleteCapture)).toHaveLength(1);
  });
});

/** Drives an already started host to the end with the scripted answers. */
async function drive2(host: ReplayHost, respond: (s: Scheduled) => Answer): Promise<Episode> {
  let e: Episode = { state: host.last!, failed: false, scheduled: [], retries: [] };
  for (let n = 0; !e.state.isDone && !e.failed && n < 200; n++) {
    const next = host.pending()[0]!;
    if (next.kind === 'timer' || next.kind === 'retry-timer') e = await host.episode([host.timerFired(next.id)]);
    else {
      const a = respond(next);
      e = await host.episode([a.ok ? host.completed(next.id, a.value) : host.failed(next.id, a.reason)], 20);
    }
  }
  return e;
}
