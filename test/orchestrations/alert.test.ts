/**
 * `investigateAlert`: one sub-orchestration per node, in bounded waves. Under the real durable-functions replay engine
 * (replay-engine level, not host level: sub-orchestrations are answered by the test, not run) and under the in-process
 * driver (the sub-orchestrations run `investigateSnat` with scripted activities).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { investigateAlert, parallelismOf } from '../../orchestrations/alert.js';
import type { AlertInvestigationInput, AlertInvestigationResult, AlertStatus } from '../../orchestrations/alert.js';
import { investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult } from '../../orchestrations/investigate.js';
import { ORCHESTRATIONS } from '../../lib/workflow/contracts.js';
import { runWorkflow } from '../../lib/workflow/driver.js';
import type { ActivityFunction } from '../../lib/workflow/driver.js';
import { ActionType, ReplayHost, loadApp } from '../helpers/df-harness.js';

type Handler = ConstructorParameters<typeof ReplayHost>[0];
let handler: Handler;
beforeAll(async () => {
  handler = (await loadApp()).get('investigateAlert')!.options.handler as unknown as Handler;
});

const T0 = new Date('2026-11-26T10:00:00Z');
const target = (n: number): InvestigationInput => ({
  investigationId: `alert-1-n${n}`,
  node: { ip: `10.224.0.${n + 4}` },
  captureSeconds: 5,
  trigger: { kind: 'alert', source: 'rule-1' },
});
const alert = (nodes: number, maxParallel?: number): AlertInvestigationInput => ({
  alertId: 'alert-1',
  investigations: Array.from({ length: nodes }, (_, n) => target(n)),
  ...(maxParallel === undefined ? {} : { maxParallel }),
});
const reported = (n: number): InvestigationResult => ({
  outcome: 'reported',
  node: { name: `node-${n}`, ip: `10.224.0.${n + 4}` },
  report: {
    json: `r${n}.json`,
    markdown: `r${n}.md`,
    html: `r${n}.html`,
    reportRef: `r${n}`,
    pods: 3,
    top: 'a/b',
    degraded: 0,
  },
  rawCapture: null,
  degraded: [],
  cleanup: 'deleted',
});

describe('investigateAlert, replay-engine level (not host level)', () => {
  it('six nodes, at most four at a time: a wave of four, the next only when it is over; a failed node is an outcome', async () => {
    const host = new ReplayHost(handler, alert(6, 4), T0, { instanceId: 'alert-1' });
    const first = await host.episode([host.started()]);
    expect(first.scheduled.map((s) => [s.kind, s.name, s.instanceId])).toEqual(
      [0, 1, 2, 3].map((n) => ['sub', ORCHESTRATIONS.investigateSnat, `alert-1-n${n}`]),
    );
    expect(host.actions.every((a) => a.actionType === ActionType.CallSubOrchestrator)).toBe(true);
    expect(host.actions[0]!.input).toEqual(target(0));
    expect(first.state.customStatus).toEqual({
      phase: 'investigating',
      nodes: { done: 0, total: 6 },
      wave: 1,
      waves: 2,
    });

    // Node 1 fails first (Task.all fails at once): nothing new is started while 0, 2 and 3 still run.
    let e = await host.episode([host.subFailed(1, 'writeReport: blob 503')], 1_000);
    expect(e.scheduled).toEqual([]);
    e = await host.episode([host.subCompleted(3, reported(3))], 1_000);
    expect(e.scheduled).toEqual([]);
    e = await host.episode([host.subCompleted(0, reported(0)), host.subCompleted(2, reported(2))], 1_000);
    expect(e.scheduled.map((s) => s.instanceId)).toEqual(['alert-1-n4', 'alert-1-n5']);
    expect(e.state.customStatus).toMatchObject({ nodes: { done: 4, total: 6 }, wave: 2 });

    await host.episode([host.subCompleted(5, reported(5))], 1_000);
    e = await host.episode(
      [host.subCompleted(4, { outcome: 'target-not-found', reason: 'not-found', message: 'no node 10.224.0.8' })],
      1_000,
    );
    expect(e.state.isDone).toBe(true);
    const out = e.state.output as AlertInvestigationResult;
    expect(out.investigations.map((i) => [i.investigationId, i.outcome])).toEqual([
      ['alert-1-n0', 'reported'],
      ['alert-1-n1', 'failed'],
      ['alert-1-n2', 'reported'],
      ['alert-1-n3', 'reported'],
      ['alert-1-n4', 'target-not-found'],
      ['alert-1-n5', 'reported'],
    ]);
    expect(out.investigations[1]).toMatchObject({
      message: expect.stringContaining('writeReport: blob 503') as unknown,
    });
    expect(out.investigations[0]).toMatchObject({ nodeName: 'node-0', report: { json: 'r0.json', top: 'a/b' } });
    expect(e.state.customStatus).toEqual({ phase: 'done', nodes: { done: 6, total: 6 }, wave: 2, waves: 2 });
  });

  it('an alert with no nodes completes at once, with no Task.all([])', async () => {
    const host = new ReplayHost(handler, alert(0), T0);
    const e = await host.episode([host.started()]);
    expect(e.failed).toBe(false);
    expect(e.state.isDone).toBe(true);
    expect(host.actions).toEqual([]);
    expect(e.state.output).toEqual({ alertId: 'alert-1', investigations: [] });
  });

  it('the parallelism is bounded to 1..16, default 4', () => {
    expect([undefined, 0, -3, 2.7, 99, Number.NaN].map(parallelismOf)).toEqual([4, 1, 1, 2, 16, 4]);
  });
});

describe('investigateAlert under the in-process driver', () => {
  it('runs investigateSnat per node as a sub-workflow, at most maxParallel at once, failures as outcomes', async () => {
    const calls: Record<string, number> = {};
    let running = 0;
    let peak = 0;
    const act =
      (name: string, f: (input: Record<string, unknown>) => unknown): ActivityFunction<null> =>
      async (_ctx, input: never) => {
        calls[name] = (calls[name] ?? 0) + 1;
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return f(input);
      };
    const activities: Record<string, ActivityFunction<null>> = {
      resolveTarget: act('resolveTarget', (i) => {
        const ip = (i.node as { ip: string }).ip;
        if (ip === '10.224.0.5') return { found: false, reason: 'not-found', message: `no node ${ip}` };
        return {
          found: true,
          name: `node-${ip}`,
          ip,
          snat: { allocatedPorts: 1024, usedPorts: null, failedConnections: null },
        };
      }),
      startCapture: act('startCapture', () => ({ started: false, reason: 'forbidden', message: 'jobs is forbidden' })),
      listPods: act('listPods', (i) => {
        if (i.nodeName === 'node-10.224.0.6') throw new Error('list pods: 500');
        return { ref: `${String(i.investigationId)}/pods`, pods: 0 };
      }),
      writeReport: act('writeReport', (i) => {
        if (i.investigationId === 'alert-1-n3') throw new Error('disk full');
        return { json: 'r.json', markdown: 'r.md', html: 'r.html', reportRef: 'r', pods: 0, top: null, degraded: 1 };
      }),
    };
    const statuses: AlertStatus[] = [];
    const result = await runWorkflow(investigateAlert, alert(5, 2), {
      activities,
      context: () => null,
      sleep: () => Promise.resolve(),
      now: () => T0,
      orchestrators: { [ORCHESTRATIONS.investigateSnat]: investigateSnat },
      onStatus: (s) => statuses.push(s as AlertStatus),
    });
    expect(result.investigations.map((i) => i.outcome)).toEqual([
      'reported',
      'target-not-found',
      'reported',
      'failed',
      'reported',
    ]);
    expect(result.investigations[3]).toMatchObject({ message: 'disk full' });
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2);
    // A failed wave's sub-workflows are waited for again one by one, not run again.
    expect(calls).toEqual({ resolveTarget: 5, startCapture: 4, listPods: 4, writeReport: 4 });
    expect(statuses.map((s) => [s.phase, s.wave])).toEqual([
      ['investigating', 1],
      ['investigating', 2],
      ['investigating', 3],
      ['done', 3],
    ]);
  });
});
