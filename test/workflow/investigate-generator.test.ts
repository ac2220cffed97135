/**
 * `investigateSnat` (orchestrations/investigate.ts) with in-memory activities and a fake clock: the order of steps,
 * the guarded fan-out, degradations as values, cleanup on every path, and replay determinism (same answers, same
 * schedule). No cluster: the activities are scripted.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CENSUS_ONLY_NOTE, investigateSnat, batchesOf } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult, InvestigationStatus } from '../../orchestrations/investigate.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import type { PodSnapshotSet } from '../../lib/k8s/pods.js';
import type { Report } from '../../lib/report/model.js';
import { writeReport } from '../../lib/workflow/activities/writeReport.js';
import { folderOutput, MemoryEvidenceStore } from '../../lib/workflow/context.js';
import type { ActivityContext } from '../../lib/workflow/context.js';
import { runWorkflow } from '../../lib/workflow/driver.js';
import type { ActivityFunction } from '../../lib/workflow/driver.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const INPUT: InvestigationInput = {
  investigationId: 'inv-1',
  node: { ip: '10.224.0.4' },
  captureSeconds: 30,
  trigger: { kind: 'cli', source: 'test' },
  fanOut: { batchSize: 2, parallelBatches: 2 },
};

type Script = Record<string, (input: never, call: number) => unknown>;

const DEFAULT_SCRIPT: Script = {
  resolveTarget: () => ({
    found: true,
    name: 'node-0',
    ip: '10.224.0.4',
    snat: { allocatedPorts: 1024, usedPorts: null, failedConnections: null },
  }),
  startCapture: (i: { now: string; captureSeconds: number }) => ({
    started: true,
    namespace: 'snat-responder-capture',
    jobName: 'snat-capture-0123456789abcdef',
    created: true,
    deadline: new Date(Date.parse(i.now) + (i.captureSeconds + 120) * 1000).toISOString(),
    sweptOrphans: 0,
  }),
  listPods: () => ({ ref: 'inv-1/pods', pods: 5 }),
  censusPods: (i: { start: number; end: number }) => ({
    ref: `inv-1/census/${i.start}`,
    pods: i.end - i.start,
    exec: i.end - i.start,
    hostNetwork: 0,
    failed: 0,
  }),
  checkCapture: (_i, n) => ({ phase: n < 2 ? 'running' : 'succeeded', reason: null, message: null, podName: 'p-1' }),
  collectCapture: () => ({
    collected: true,
    ref: 'inv-1/capture',
    status: 'complete',
    bytes: 10,
    connects: 1,
    netns: 3,
    rawCapture: null,
  }),
  deleteCapture: () => ({
    namespace: 'snat-responder-capture',
    jobName: 'snat-capture-0123456789abcdef',
    result: 'deleted',
  }),
  writeReport: () => ({
    json: 'r.json',
    markdown: 'r.md',
    html: 'r.html',
    reportRef: 'inv-1/report',
    pods: 5,
    top: 'a/b',
    degraded: 0,
  }),
  notifyReport: () => ({
    targets: [{ target: 'teams https://example.test', kind: 'teams', ok: true, status: 200, attempts: 1 }],
    link: 'read-link',
    rewritten: false,
  }),
};

interface Trace {
  readonly schedule: string[];
  readonly inputs: Array<[string, unknown]>;
  readonly result: Promise<InvestigationResult>;
}

/** Runs the generator with scripted activities; sleeps advance a fake clock. */
function run(overrides: Script = {}, input: InvestigationInput = INPUT): Trace {
  let now = T0;
  const schedule: string[] = [];
  const inputs: Array<[string, unknown]> = [];
  const calls = new Map<string, number>();
  const script = { ...DEFAULT_SCRIPT, ...overrides };
  const activities: Record<string, ActivityFunction<null>> = {};
  for (const [name, fn] of Object.entries(script)) {
    activities[name] = (_ctx, activityInput) => {
      const n = calls.get(name) ?? 0;
      calls.set(name, n + 1);
      schedule.push(name);
      inputs.push([name, activityInput]);
      now += 10;
      try {
        return Promise.resolve(fn(activityInput, n));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
  }
  const result = runWorkflow(investigateSnat, input, {
    activities,
    context: () => null,
    now: () => new Date(now),
    sleep: (ms) => {
      schedule.push(`sleep ${ms}`);
      now += ms;
      return Promise.resolve();
    },
  });
  return { schedule, inputs, result };
}

const fail = (message: string) => () => {
  throw new Error(message);
};

describe('investigateSnat with scripted activities', () => {
  it('runs the steps in order: census during the window, poll, collect, delete, report', async () => {
    const trace = run();
    const result = await trace.result;
    expect(trace.schedule).toEqual([
      'resolveTarget',
      'startCapture',
      'listPods',
      'censusPods',
      'censusPods',
      'censusPods',
      // The window's rest: 30 s from the start of startCapture, less the 5 activities (10 ms each) since.
      'sleep 29950',
      'checkCapture',
      'sleep 1000',
      'checkCapture',
      'sleep 1200',
      'checkCapture',
      'collectCapture',
      'deleteCapture',
      'writeReport',
      'notifyReport',
    ]);
    expect(result).toMatchObject({ outcome: 'reported', cleanup: 'deleted', degraded: [] });
    expect(trace.inputs.at(-1)).toEqual(['notifyReport', { investigationId: 'inv-1', reportRef: 'inv-1/report' }]);
    expect(result.outcome === 'reported' && result.notifications).toEqual(DEFAULT_SCRIPT.notifyReport!({} as never, 0));
    const report = trace.inputs.find(([name]) => name === 'writeReport')![1];
    expect(report).toMatchObject({
      censusRefs: ['inv-1/census/0', 'inv-1/census/2', 'inv-1/census/4'],
      captureRef: 'inv-1/capture',
      podsRef: 'inv-1/pods',
      window: { start: '2026-11-26T10:00:00.010Z' },
    });
  });

  it('is deterministic: the same answers give the same schedule and inputs (replay)', async () => {
    const a = run();
    const b = run();
    await Promise.all([a.result, b.result]);
    expect(b.schedule).toEqual(a.schedule);
    expect(b.inputs).toEqual(a.inputs);
  });

  it('a node with no pods: no census and no empty fan-out', async () => {
    const trace = run({ listPods: () => ({ ref: 'inv-1/pods', pods: 0 }) });
    expect((await trace.result).outcome).toBe('reported');
    expect(trace.schedule).not.toContain('censusPods');
  });

  it('node not found: a value, nothing started, nothing to clean', async () => {
    const trace = run({
      resolveTarget: () => ({ found: false, reason: 'not-found', message: 'no node has InternalIP 10.224.0.4' }),
    });
    expect(await trace.result).toEqual({
      outcome: 'target-not-found',
      reason: 'not-found',
      message: 'no node has InternalIP 10.224.0.4',
    });
    expect(trace.schedule).toEqual(['resolveTarget']);
  });

  it('startCapture throws: census-only report, and the Job is deleted anyway (the create may have landed)', async () => {
    const trace = run({ startCapture: fail('create job x: HTTP 500') });
    const result = await trace.result;
    expect(trace.schedule).not.toContain('checkCapture');
    expect(trace.schedule.slice(-3)).toEqual(['deleteCapture', 'writeReport', 'notifyReport']);
    expect(result.outcome === 'reported' && result.degraded).toEqual([
      {
        step: 'capture',
        reason:
          'the capture Job could not be created (create job x: HTTP 500); the report rests on the pod census (exec) alone',
      },
    ]);
  });

  it('startCapture refused as a value (namespace): nothing created, nothing deleted', async () => {
    const trace = run({
      startCapture: () => ({ started: false, reason: 'namespace', message: 'apply namespace.yaml' }),
    });
    const result = await trace.result;
    expect(trace.schedule).not.toContain('deleteCapture');
    expect(result).toMatchObject({ outcome: 'reported', cleanup: 'not-needed' });
  });

  it('a capture pod stuck unschedulable is given up after the grace, without reading a log', async () => {
    const trace = run(
      {
        checkCapture: () => ({
          phase: 'pending',
          reason: 'unschedulable',
          message: 'Insufficient cpu',
          podName: 'p-1',
        }),
      },
      { ...INPUT, timing: { stuckGraceMs: 5_000 } },
    );
    const result = await trace.result;
    expect(trace.schedule).not.toContain('collectCapture');
    expect(trace.schedule.filter((s) => s === 'checkCapture').length).toBe(5);
    expect(result.outcome === 'reported' && result.degraded[0]!.reason).toMatch(
      /^the capture Job snat-responder-capture\/snat-capture-0123456789abcdef was never scheduled on the node \(unschedulable: Insufficient cpu\)/,
    );
  });

  it('polls that keep failing end the wait; the log is still tried when the pod is known', async () => {
    const trace = run({
      checkCapture: (_i, n) => {
        if (n === 0) return { phase: 'running', reason: null, message: null, podName: 'p-1' };
        throw new Error('get job: HTTP 503');
      },
    });
    const result = await trace.result;
    expect(trace.schedule.filter((s) => s === 'checkCapture').length).toBe(4);
    expect(trace.schedule).toContain('collectCapture');
    expect(result.outcome === 'reported' && result.degraded[0]!.reason).toMatch(
      /could not be read \(get job: HTTP 503\)/,
    );
  });

  it('a running Job past its deadline: polling stops at deadline + margin', async () => {
    const trace = run({ checkCapture: () => ({ phase: 'running', reason: null, message: null, podName: 'p-1' }) });
    await trace.result;
    const slept = trace.schedule.filter((s) => s.startsWith('sleep')).reduce((n, s) => n + Number(s.slice(6)), 0);
    // 30 s window + 120 s Job deadline margin + 30 s polling margin, give or take the activities' 10 ms ticks.
    expect(slept).toBeGreaterThan(179_000);
    expect(slept).toBeLessThan(181_000);
  });

  it('writeReport fails: the run fails, the Job was already deleted once', async () => {
    const trace = run({ writeReport: fail('disk full') });
    await expect(trace.result).rejects.toThrow('disk full');
    expect(trace.schedule.filter((s) => s === 'deleteCapture')).toHaveLength(1);
  });

  it('a failure before the cleanup step (a census wave) degrades; collect failing throws nothing out', async () => {
    const trace = run({ censusPods: fail('store unavailable'), collectCapture: fail('read log: HTTP 500') });
    const result = await trace.result;
    expect(result.outcome === 'reported' && result.degraded.map((d) => d.step)).toEqual([
      'pod census',
      'pod census',
      'capture',
    ]);
    expect(trace.schedule.filter((s) => s === 'deleteCapture')).toHaveLength(1);
  });

  it('the cleanup failing is stated in the report input, and is not retried in finally', async () => {
    const trace = run({ deleteCapture: fail('delete job: HTTP 403') });
    const result = await trace.result;
    expect(result).toMatchObject({ cleanup: 'failed' });
    const report = trace.inputs.find(([name]) => name === 'writeReport')![1] as { degraded: Array<{ step: string }> };
    expect(report.degraded.map((d) => d.step)).toEqual(['cleanup']);
    expect(trace.schedule.filter((s) => s === 'deleteCapture')).toHaveLength(1);
  });

  it('notify: false (no target configured) skips the step: no notifyReport call', async () => {
    const trace = run({}, { ...INPUT, notify: false });
    const result = await trace.result;
    expect(trace.schedule).not.toContain('notifyReport');
    expect(trace.schedule.at(-1)).toBe('writeReport');
    expect(result).toMatchObject({ outcome: 'reported', degraded: [], notifications: null });
  });

  it('notifyReport throwing is recorded; the investigation is still reported, after the one cleanup', async () => {
    const trace = run({ notifyReport: fail('blob: 503 ServerBusy') });
    const result = await trace.result;
    expect(result).toMatchObject({ outcome: 'reported', cleanup: 'deleted', notifications: null });
    expect(result.outcome === 'reported' && result.degraded).toEqual([
      {
        step: 'notify',
        reason:
          "the report's notifications could not be completed (blob: 503 ServerBusy); the report stands as written",
      },
    ]);
    expect(trace.schedule.filter((s) => s === 'deleteCapture')).toHaveLength(1);
  });

  it('batchesOf: half-open ranges covering every pod once', () => {
    expect(batchesOf(0, 8)).toEqual([]);
    expect(batchesOf(5, 2)).toEqual([
      { start: 0, end: 2 },
      { start: 2, end: 4 },
      { start: 4, end: 5 },
    ]);
  });
});

const CAPTURE_ACTIVITIES = ['startCapture', 'checkCapture', 'collectCapture', 'deleteCapture'];

describe('investigateSnat census only (capture: false), as a NAT gateway census runs it per node', () => {
  it('calls no capture activity and never sleeps: resolve, list, census, report, notify', async () => {
    const trace = run({}, { ...INPUT, capture: false });
    const result = await trace.result;
    expect(trace.schedule).toEqual([
      'resolveTarget',
      'listPods',
      'censusPods',
      'censusPods',
      'censusPods',
      'writeReport',
      'notifyReport',
    ]);
    expect(trace.schedule.filter((s) => CAPTURE_ACTIVITIES.includes(s))).toEqual([]);
    expect(result).toMatchObject({ outcome: 'reported', cleanup: 'not-needed', degraded: [], rawCapture: null });
    const report = trace.inputs.find(([name]) => name === 'writeReport')![1];
    expect(report).toMatchObject({
      captureRef: null,
      rawCapture: null,
      degraded: [],
      notes: [CENSUS_ONLY_NOTE],
      censusRefs: ['inv-1/census/0', 'inv-1/census/2', 'inv-1/census/4'],
    });
  });

  it('failures around it still start no capture Job and owe no cleanup; the note stays', async () => {
    const trace = run(
      { listPods: fail('list pods: HTTP 500'), notifyReport: fail('teams: 429') },
      {
        ...INPUT,
        capture: false,
      },
    );
    const result = await trace.result;
    expect(trace.schedule).toEqual(['resolveTarget', 'listPods', 'writeReport', 'notifyReport']);
    expect(result.outcome === 'reported' && result.degraded.map((d) => d.step)).toEqual(['pod list', 'notify']);
    const report = trace.inputs.find(([name]) => name === 'writeReport')![1];
    expect(report).toMatchObject({ notes: [CENSUS_ONLY_NOTE], degraded: [{ step: 'pod list' }] });
    // A run with a capture carries no such note.
    const full = run();
    await full.result;
    expect(full.inputs.find(([name]) => name === 'writeReport')![1]).not.toHaveProperty('notes');
  });

  it('the status never says it is capturing', async () => {
    const statuses: InvestigationStatus[] = [];
    await runWorkflow(
      investigateSnat,
      { ...INPUT, capture: false, notify: false },
      {
        activities: Object.fromEntries(
          Object.entries(DEFAULT_SCRIPT).map(([name, fn]) => [
            name,
            (_ctx: null, input: never) => Promise.resolve(fn(input, 0)),
          ]),
        ),
        context: () => null,
        now: () => new Date(T0),
        sleep: () => Promise.reject(new Error('a census-only investigation has nothing to wait for')),
        onStatus: (s) => statuses.push(s as InvestigationStatus),
      },
    );
    expect([...new Set(statuses.map((s) => s.phase))]).toEqual([
      'resolving',
      'listing pods',
      'census',
      'reporting',
      'done',
    ]);
  });

  it('with the real writeReport: the report says census only, its capture is `missing` (not failed), nothing degraded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snat-census-only-'));
    const store = new MemoryEvidenceStore();
    const snapshot: PodSnapshotSet = { nodeName: 'node-0', takenAt: new Date(T0).toISOString(), pods: [], notes: [] };
    await store.put('inv-1/pods', snapshot);
    const context = {
      store,
      output: folderOutput(dir),
      classifier: new AddressClassifier(),
      settings: { namespace: 'snat-responder-capture', allocatedPorts: 1024, privateCidrs: [] },
    } as unknown as ActivityContext;
    const called: string[] = [];
    const scripted =
      (name: string, answer: (input: never) => unknown): ActivityFunction<ActivityContext> =>
      (_ctx, input) => {
        called.push(name);
        return Promise.resolve(answer(input));
      };
    const activities: Record<string, ActivityFunction<ActivityContext>> = {
      resolveTarget: scripted('resolveTarget', (input) => DEFAULT_SCRIPT.resolveTarget!(input, 0)),
      listPods: scripted('listPods', () => ({ ref: 'inv-1/pods', pods: 0 })),
      writeReport: (ctx, input) => {
        called.push('writeReport');
        return writeReport(ctx, input);
      },
    };
    for (const name of CAPTURE_ACTIVITIES) {
      activities[name] = () => Promise.reject(new Error(`${name} must not run in a census-only investigation`));
    }
    const result = await runWorkflow(
      investigateSnat,
      { ...INPUT, capture: false, notify: false },
      { activities, context: () => context, now: () => new Date(T0), sleep: () => Promise.resolve() },
    );
    expect(called).toEqual(['resolveTarget', 'listPods', 'writeReport']);
    if (result.outcome !== 'reported') throw new Error(`not reported: ${JSON.stringify(result)}`);
    const report = await store.get<Report>(result.report.reportRef);
    expect(report.capture.status).toBe('missing');
    expect(report.degraded).toEqual([]);
    expect(report.dataQuality).toContainEqual(CENSUS_ONLY_NOTE);
    expect(result.report).toMatchObject({ degraded: 0, topPods: [] });
    const written = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
    expect(written.capture.status).toBe('missing');
    expect(written.dataQuality.map((n) => n.text)).toContain(
      'census only: a NAT gateway alert names no node; no capture Job was run',
    );
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('census only: a NAT gateway alert names no node');
  });
});
