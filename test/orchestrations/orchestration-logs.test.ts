/**
 * The orchestrators' own log lines (orchestrations/durable.ts `runOrchestration`): started, phase changed, finished
 * or failed, each written once for what happened and not again on every replay. Under the REAL durable-functions 3.5
 * replay engine, through the handlers functions/orchestrations.ts registers, with synthetic histories
 * (test/helpers/df-harness.ts): replay-engine level, not host level. The lines are read where the host would take
 * them, from the InvocationContext's log handler (Application Insights traces in Azure).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { InvestigationResult } from '../../orchestrations/investigate.js';
import { ORCHESTRATIONS } from '../../lib/workflow/contracts.js';
import { ReplayHost, loadApp } from '../helpers/df-harness.js';
import type { ReplayHostOptions, Scheduled } from '../helpers/df-harness.js';
import { drive } from './replay-drive.js';
import type { Answer } from './replay-drive.js';
import { recordRun, recordedResponder } from './recorded-run.js';
import type { RecordedRun } from './recorded-run.js';

type Handler = ConstructorParameters<typeof ReplayHost>[0];
let handlers: { snat: Handler; alert: Handler };
let rec: RecordedRun;

beforeAll(async () => {
  const registry = await loadApp();
  const handlerOf = (name: string) => registry.get(name)!.options.handler as unknown as Handler;
  handlers = { snat: handlerOf(ORCHESTRATIONS.investigateSnat), alert: handlerOf(ORCHESTRATIONS.investigateAlert) };
  rec = await recordRun('replay-logs-1');
});

interface Line {
  readonly episode: number;
  /** @azure/functions' level: 'information', 'warning', 'error', ... */
  readonly level: string;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

/** A host whose InvocationContexts hand every logged line to `lines`. */
function logged(
  handler: Handler,
  input: unknown,
  start: Date,
  options: ReplayHostOptions = {},
): { host: ReplayHost; lines: Line[] } {
  const lines: Line[] = [];
  const host = new ReplayHost(handler, input, start, {
    ...options,
    logHandler: (episode, level, ...args) => {
      const text = args.map(String).join(' ');
      lines.push({ episode, level, text, json: JSON.parse(text) as Record<string, unknown> });
    },
  });
  return { host, lines };
}

const snatHost = (options: ReplayHostOptions = {}) =>
  logged(handlers.snat, rec.input, rec.windowStart, {
    instanceId: rec.input.investigationId,
    functionName: ORCHESTRATIONS.investigateSnat,
    ...options,
  });

const msgs = (lines: Line[], msg: string) => lines.filter((l) => l.json.msg === msg);

const ALL_PHASES = [
  'resolving',
  'starting capture',
  'listing pods',
  'census',
  'capturing',
  'collecting',
  'cleaning up',
  'reporting',
  'done',
];

describe('orchestration logs, replay-engine level (not host level): investigateSnat, the recorded real run', () => {
  it('a whole run of many episodes: one started, each phase change once and in order, one finished', async () => {
    const { host, lines } = snatHost();
    const end = await drive(host, { respond: recordedResponder(rec) });
    expect(end.state.isDone).toBe(true);
    const result = end.state.output as Extract<InvestigationResult, { outcome: 'reported' }>;
    expect(result.outcome).toBe('reported');
    // More episodes than phases, and every episode ran the generator from the start (`resolving` set in each).
    expect(host.states.length).toBeGreaterThan(ALL_PHASES.length);

    const phases = msgs(lines, 'phase changed');
    expect(phases.map((l) => l.json.phase)).toEqual(ALL_PHASES);
    expect(phases.map((l) => l.json.previousPhase)).toEqual([undefined, ...ALL_PHASES.slice(0, -1)]);
    // Each in its own episode, in episode order (every phase of this run waits for an activity or a timer).
    const episodes = phases.map((l) => l.episode);
    expect(new Set(episodes).size).toBe(episodes.length);
    expect(episodes).toEqual([...episodes].sort((a, b) => a - b));

    const started = msgs(lines, 'orchestration started');
    const finished = msgs(lines, 'orchestration finished');
    expect(started).toHaveLength(1);
    expect(finished).toHaveLength(1);
    expect(lines[0]).toBe(started[0]);
    expect(lines.at(-1)).toBe(finished[0]);
    expect(started[0]!.episode).toBe(0);
    expect(finished[0]!.episode).toBe(host.states.length - 1);
    expect(finished[0]!.json).toMatchObject({
      outcome: 'reported',
      top: result.report.top,
      degraded: result.report.degraded,
    });
    expect(lines).toHaveLength(ALL_PHASES.length + 2);

    // Progress and node where the status has them: the node once resolved, the pods once listed.
    const node = result.node.name;
    expect(phases[0]!.json).not.toHaveProperty('node');
    for (const l of phases.slice(1)) expect(l.json.node).toBe(node);
    const done = phases.at(-1)!.json;
    expect(done).toMatchObject({ podsDone: 13, podsTotal: 13 });
    expect(phases.find((l) => l.json.phase === 'census')!.json).toMatchObject({ podsTotal: 13 });

    for (const l of lines) {
      expect(l.level).toBe('information');
      expect(l.json).toMatchObject({ investigationId: rec.input.investigationId, orchestrator: 'investigateSnat' });
      expect(l.json).not.toHaveProperty('parentInstanceId');
      // The replayed clock: the line's time is its episode's start, never later than the run's end.
      expect(Date.parse(String(l.json.time))).toBeLessThanOrEqual(host.now().getTime());
      expect(l.text).not.toContain('sig=');
    }
  });

  it('replaying the finished history again (every event played) writes no line at all', async () => {
    const { host, lines } = snatHost();
    const end = await drive(host, { respond: recordedResponder(rec) });
    expect(lines.length).toBeGreaterThan(0);
    lines.length = 0;
    const again = await host.episode([]);
    expect(again.state.isDone).toBe(true);
    expect(again.state.output).toEqual(end.state.output);
    expect(again.state.customStatus).toEqual(end.state.customStatus);
    expect(lines).toEqual([]);
  });

  it('report keys that are SAS URLs stay out of the lines (the finished line holds outcome, top, counts only)', async () => {
    const sig = 'c2FzLXNpZ25hdHVyZS1ub3QtZm9yLWxvZ3M%3D';
    const url = (file: string) =>
      `https://acct.blob.core.windows.net/reports/${rec.input.investigationId}/${file}?sv=2025-01-05&sr=b&sp=r&sig=${sig}`;
    const recorded = recordedResponder(rec);
    const respond = (s: Scheduled): Answer => {
      const answer = recorded(s);
      if (s.name !== 'writeReport' || !answer.ok) return answer;
      const value = { ...(answer.value as object), json: url('r.json'), markdown: url('r.md'), html: url('r.html') };
      return { ok: true, value };
    };
    const { host, lines } = snatHost();
    const end = await drive(host, { respond });
    expect(JSON.stringify(end.state.output)).toContain(`sig=${sig}`);
    expect(msgs(lines, 'orchestration finished')).toHaveLength(1);
    for (const l of lines) {
      expect(l.text).not.toContain('sig=');
      expect(l.text).not.toContain(sig);
      expect(l.text).not.toContain('blob.core.windows.net');
    }
  });

  it('as a sub-orchestration: every line carries its parent instance id', async () => {
    const { host, lines } = snatHost({ parentInstanceId: 'alert-7' });
    await drive(host, { respond: recordedResponder(rec) });
    expect(msgs(lines, 'phase changed')).toHaveLength(ALL_PHASES.length);
    for (const l of lines) {
      expect(l.json).toMatchObject({ investigationId: rec.input.investigationId, parentInstanceId: 'alert-7' });
    }
  });

  it('a failed orchestration: one `orchestration failed` line (error, first line of the reason, redacted), no finished', async () => {
    const secret = 'c2FzLWluLWFuLWVycm9y';
    const recorded = recordedResponder(rec);
    const { host, lines } = snatHost();
    const end = await drive(host, {
      respond: (s) =>
        s.name === 'writeReport'
          ? { ok: false, reason: `PUT https://acct.blob.core.windows.net/reports/r.json?sig=${secret} returned 503` }
          : recorded(s),
    });
    expect(end.failed).toBe(true);
    expect(msgs(lines, 'phase changed').map((l) => l.json.phase)).toEqual(ALL_PHASES.slice(0, -1));
    expect(msgs(lines, 'orchestration finished')).toEqual([]);
    const failed = msgs(lines, 'orchestration failed');
    expect(failed).toHaveLength(1);
    expect(lines.at(-1)).toBe(failed[0]);
    expect(failed[0]!.level).toBe('error');
    expect(failed[0]!.episode).toBe(host.states.length - 1);
    expect(failed[0]!.json.error).toBe(
      'PUT https://acct.blob.core.windows.net/reports/r.json?sig=[redacted] returned 503',
    );
    for (const l of lines) expect(l.text).not.toContain(secret);
  });
});

describe('orchestration logs, replay-engine level (not host level): investigateAlert', () => {
  const T0 = new Date('2026-11-26T10:00:00Z');
  const input = {
    alertId: 'alert-9',
    investigations: [0, 1].map((n) => ({
      investigationId: `alert-9-n${n}`,
      node: { ip: `10.224.0.${n + 4}` },
      captureSeconds: 5,
      trigger: { kind: 'alert', source: 'rule-1' },
    })),
  };
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

  it('a wave whose first node fails after the other completed (tasks waited for again): done and finished are still written, once', async () => {
    // The engine resumes with `isReplaying` from the task yielded: node 1's, complete since an earlier episode, reads
    // true in this new episode. The lines must not depend on it.
    const { host, lines } = logged(handlers.alert, input, T0, { instanceId: 'alert-9' });
    await host.episode([host.started()]);
    await host.episode([host.subCompleted(1, reported(1))], 1_000);
    const end = await host.episode([host.subFailed(0, 'writeReport: blob 503')], 1_000);
    expect(end.state.isDone).toBe(true);
    expect(lines.map((l) => [l.episode, l.json.msg, l.json.phase])).toEqual([
      [0, 'orchestration started', undefined],
      [0, 'phase changed', 'investigating'],
      [2, 'phase changed', 'done'],
      [2, 'orchestration finished', undefined],
    ]);
    expect(lines[2]!.json).toMatchObject({ previousPhase: 'investigating', nodesDone: 2, nodesTotal: 2 });
    expect(lines[3]!.json).toMatchObject({ nodes: 2, reported: 1, failed: 1, notFound: 0 });
    for (const l of lines)
      expect(l.json).toMatchObject({ investigationId: 'alert-9', orchestrator: 'investigateAlert' });

    lines.length = 0;
    await host.episode([]);
    expect(lines).toEqual([]);
  });
});
