import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, withSecrets } from '../../lib/log.js';
import { investigationLog } from '../../lib/workflow/observe.js';

function capture(): { records: Array<Record<string, unknown>>; log: ReturnType<typeof createLogger> } {
  const records: Array<Record<string, unknown>> = [];
  const log = createLogger(
    (_level, line) => records.push(JSON.parse(line) as Record<string, unknown>),
    {},
    {
      level: 'debug',
      now: () => new Date('2026-11-26T10:00:00.000Z'),
    },
  );
  return { records, log };
}

const strip = (r: Record<string, unknown>) => {
  const { time: _time, ...rest } = r;
  return rest;
};

describe('investigationLog: the workflow callbacks as log lines', () => {
  it('a phase line only when the phase changes (not per progress tick), with where it came from', () => {
    const { records, log } = capture();
    const inv = investigationLog(log, 'inv-1', { now: () => 0 });
    inv.onStatus({ phase: 'resolving', node: null, pods: { done: 0, total: 0 } });
    inv.onStatus({ phase: 'census', node: 'n-0', pods: { done: 0, total: 9 } });
    inv.onStatus({ phase: 'census', node: 'n-0', pods: { done: 4, total: 9 } });
    inv.onStatus({ phase: 'census', node: 'n-0', pods: { done: 9, total: 9 } });
    inv.onStatus('not a status');
    expect(records.map(strip)).toEqual([
      {
        level: 'info',
        msg: 'phase changed',
        investigationId: 'inv-1',
        phase: 'resolving',
        previousPhase: null,
        podsDone: 0,
        podsTotal: 0,
      },
      {
        level: 'info',
        msg: 'phase changed',
        investigationId: 'inv-1',
        phase: 'census',
        node: 'n-0',
        previousPhase: 'resolving',
        podsDone: 0,
        podsTotal: 9,
      },
    ]);
  });

  it("a census: its nodes' activities carry their own id and the census's; the outcome counts the nodes", () => {
    const { records, log } = capture();
    const inv = investigationLog(log, 'cen-1', { now: () => 0 });
    inv.onStatus({ phase: 'census', nodes: { done: 0, total: 2 }, wave: 1, waves: 1 });
    const input = { investigationId: 'cen-1-n0', nodeName: 'n-0', podsRef: 'x' };
    inv.onActivity({ type: 'start', activity: 'listPods', input });
    inv.onActivity({ type: 'end', activity: 'listPods', input, ms: 12.6, error: 'HTTP 500' });
    inv.finished({
      outcome: 'census',
      investigationId: 'cen-1',
      natGatewayId: 'ng',
      cluster: { resourceId: null, name: 'sim' },
      total: 3,
      skipped: { notReady: 1, overLimit: 0 },
      nodes: [{ investigationId: 'cen-1-n0', node: { name: 'n-0' }, outcome: 'failed', message: 'exec refused' }],
      top: [],
      notifications: null,
      degraded: [],
    });
    expect(records.map(strip)).toEqual([
      expect.objectContaining({
        msg: 'phase changed',
        phase: 'census',
        nodesDone: 0,
        nodesTotal: 2,
        wave: 1,
        waves: 1,
      }),
      {
        level: 'debug',
        msg: 'activity started',
        investigationId: 'cen-1-n0',
        census: 'cen-1',
        // The node investigation's own phase for the activity (the census itself is in its 'census' phase).
        phase: 'listing pods',
        activity: 'listPods',
        node: 'n-0',
      },
      {
        level: 'warn',
        msg: 'activity failed',
        investigationId: 'cen-1-n0',
        census: 'cen-1',
        phase: 'listing pods',
        activity: 'listPods',
        node: 'n-0',
        outcome: 'failed',
        durationMs: 13,
        error: 'HTTP 500',
      },
      expect.objectContaining({
        level: 'warn',
        msg: 'node investigation not reported',
        investigationId: 'cen-1-n0',
        census: 'cen-1',
        outcome: 'failed',
        error: 'exec refused',
      }),
      expect.objectContaining({
        level: 'info',
        msg: 'investigation finished',
        investigationId: 'cen-1',
        outcome: 'census',
        nodesTotal: 3,
        nodesCensused: 1,
        nodesReported: 0,
        skippedNotReady: 1,
        topPod: null,
      }),
    ]);
  });

  it('not found, failed, cancelled; a degradation given twice is one line', () => {
    const { records, log } = capture();
    const inv = investigationLog(log, 'inv-2', { now: () => 0 });
    inv.degraded([{ step: 'capture', reason: 'unschedulable' }]);
    inv.degraded([
      { step: 'capture', reason: 'unschedulable' },
      { step: 'notify', reason: 'HTTP 500' },
    ]);
    inv.finished({ outcome: 'target-not-found', reason: 'not-found', message: 'no node has InternalIP 10.0.0.9' });
    inv.ended('failed', 'boom');
    inv.ended('terminated', 'cancelled');
    expect(records.map((r) => [r.level, r.msg, r.step ?? r.outcome])).toEqual([
      ['warn', 'step degraded', 'capture'],
      ['warn', 'step degraded', 'notify'],
      ['warn', 'investigation finished', 'target-not-found'],
      ['error', 'investigation failed', 'failed'],
      ['warn', 'investigation cancelled', 'terminated'],
    ]);
    expect(records.every((r) => r.investigationId === 'inv-2')).toBe(true);
  });
});

describe('withSecrets: a logger handed over blanks what its receiver knows is secret', () => {
  it('in the message, the fields and the fields of children; other values untouched', () => {
    const { records, log } = capture();
    const secret = 'the-secret-value-1234';
    const wrapped = withSecrets(log, [secret]);
    wrapped
      .child({ source: `rule ${secret}` })
      .warn(`sent ${secret}`, { n: 3, reason: `x${secret}x`, ok: true, none: null });
    expect(records.map(strip)).toEqual([
      {
        level: 'warn',
        msg: `sent ${REDACTED}`,
        source: `rule ${REDACTED}`,
        n: 3,
        reason: `x${REDACTED}x`,
        ok: true,
        none: null,
      },
    ]);
    expect(withSecrets(log, [])).toBe(log);
  });
});
