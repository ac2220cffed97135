/**
 * `investigateCluster`: a NAT gateway alert's bounded census of a cluster's nodes. Under the real durable-functions
 * replay engine with synthetic histories (replay-engine level, not host level: listNodes, the nodes'
 * sub-orchestrations and notifyCensus are answered by the test, not run), and under the in-process driver (the nodes'
 * census-only `investigateSnat` run with scripted activities).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  childInvestigationId,
  CLUSTER_TOP_PODS,
  investigateCluster,
  nodesToName,
  rankAcrossNodes,
} from '../../orchestrations/cluster.js';
import type {
  ClusterInvestigationInput,
  ClusterInvestigationResult,
  ClusterStatus,
} from '../../orchestrations/cluster.js';
import type { NodeInvestigationOutcome } from '../../orchestrations/alert.js';
import { CENSUS_ONLY_NOTE, investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult } from '../../orchestrations/investigate.js';
import { isLabelValue } from '../../lib/k8s/names.js';
import { ACTIVITIES, CENSUS_NODE_LINKS, ORCHESTRATIONS } from '../../lib/workflow/contracts.js';
import type {
  ListNodesOutput,
  NotifyCensusInput,
  NotifyCensusOutput,
  RankedPod,
} from '../../lib/workflow/contracts.js';
import { RETRY_POLICIES } from '../../lib/workflow/retry.js';
import { runWorkflow } from '../../lib/workflow/driver.js';
import type { ActivityFunction } from '../../lib/workflow/driver.js';
import { ActionType, ReplayHost, loadApp } from '../helpers/df-harness.js';
import { failEveryAttempt } from './replay-drive.js';

type Handler = ConstructorParameters<typeof ReplayHost>[0];
let handler: Handler;
beforeAll(async () => {
  handler = (await loadApp()).get('investigateCluster')!.options.handler as unknown as Handler;
});

const T0 = new Date('2026-11-26T10:00:00Z');
const CLUSTER = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks';
const NATGW = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/natGateways/ng';
const TRIGGER = { kind: 'alert' as const, source: 'ng-snat-failed', alertId: 'a-1' };

const input = (over: Partial<ClusterInvestigationInput> = {}): ClusterInvestigationInput => ({
  investigationId: 'snat-c1',
  clusterId: CLUSTER,
  natGatewayId: NATGW,
  maxNodes: 10,
  maxParallel: 2,
  trigger: TRIGGER,
  scope: { clusterId: CLUSTER },
  ...over,
});
const listed = (names: string[], skipped = { notReady: 0, overLimit: 0 }): ListNodesOutput => ({
  nodes: names.map((name, i) => ({ name, ip: `10.224.0.${i + 4}` })),
  total: names.length + skipped.notReady + skipped.overLimit,
  skipped,
});
const reported = (node: string, topPods: RankedPod[]): InvestigationResult => ({
  outcome: 'reported',
  node: { name: node, ip: null },
  report: {
    json: `${node}/report.json`,
    markdown: `${node}/report.md`,
    html: `${node}/report.html`,
    reportRef: `${node}/report`,
    pods: 5,
    top: topPods[0]?.pod ?? null,
    degraded: 0,
    topPods,
  },
  rawCapture: null,
  degraded: [],
  cleanup: 'not-needed',
});
const childInput = (index: number, node: string): InvestigationInput => ({
  investigationId: `snat-c1-n${index}`,
  node: { name: node },
  captureSeconds: 0,
  capture: false,
  trigger: TRIGGER,
  // The census sends the one message: its nodes never notify on their own.
  notify: false,
  scope: { clusterId: CLUSTER },
});
const SENT: NotifyCensusOutput = {
  targets: [{ target: 'webhook https://hooks.example.net', kind: 'webhook', ok: true, status: 200, attempts: 1 }],
  link: 'read-link',
  linked: 3,
  degraded: [],
};

describe('investigateCluster, replay-engine level (not host level)', () => {
  it('three nodes, two at a time: listNodes with the scope, census-only children in two waves, pods ranked across nodes', async () => {
    const host = new ReplayHost(handler, input(), T0, { instanceId: 'snat-c1' });
    const first = await host.episode([host.started()]);
    expect(first.scheduled.map((s) => [s.kind, s.name])).toEqual([['activity', ACTIVITIES.listNodes]]);
    expect(host.actions[0]).toMatchObject({ actionType: ActionType.CallActivityWithRetry });
    expect(first.scheduled[0]!.retry).toMatchObject({ maxAttempts: RETRY_POLICIES.cluster.maxAttempts });
    expect(first.scheduled[0]!.input).toEqual({
      investigationId: 'snat-c1',
      maxNodes: 10,
      scope: { clusterId: CLUSTER, investigationId: 'snat-c1' },
    });
    expect(first.state.customStatus).toEqual({
      phase: 'listing nodes',
      nodes: { done: 0, total: 0 },
      wave: 0,
      waves: 0,
    });

    let e = await host.episode([
      host.completed(0, listed(['node-a', 'node-b', 'node-c'], { notReady: 1, overLimit: 0 })),
    ]);
    expect(e.scheduled.map((s) => [s.kind, s.name, s.instanceId])).toEqual([
      ['sub', ORCHESTRATIONS.investigateSnat, 'snat-c1-n0'],
      ['sub', ORCHESTRATIONS.investigateSnat, 'snat-c1-n1'],
    ]);
    expect(e.scheduled.map((s) => s.input)).toEqual([childInput(0, 'node-a'), childInput(1, 'node-b')]);
    expect(e.state.customStatus).toEqual({ phase: 'census', nodes: { done: 0, total: 3 }, wave: 1, waves: 2 });

    // Nothing new while the first wave still runs.
    e = await host.episode(
      [host.subCompleted(2, reported('node-b', [{ pod: 'shop/b1', score: 40, publicConnections: 30 }]))],
      1_000,
    );
    expect(e.scheduled).toEqual([]);
    e = await host.episode(
      [
        host.subCompleted(
          1,
          reported('node-a', [
            { pod: 'shop/a1', score: 900, publicConnections: 870 },
            { pod: 'shop/a2', score: 40, publicConnections: 31 },
          ]),
        ),
      ],
      1_000,
    );
    expect(e.scheduled.map((s) => [s.name, s.instanceId])).toEqual([[ORCHESTRATIONS.investigateSnat, 'snat-c1-n2']]);
    expect(e.scheduled[0]!.input).toEqual(childInput(2, 'node-c'));
    expect(e.state.customStatus).toEqual({ phase: 'census', nodes: { done: 2, total: 3 }, wave: 2, waves: 2 });

    e = await host.episode(
      [host.subCompleted(3, reported('node-c', [{ pod: 'ops/c1', score: 120, publicConnections: 5 }]))],
      1_000,
    );
    // After the last wave: the census's one message, with the ranking, the counts and each node's report.
    expect(e.state.isDone).toBe(false);
    expect(e.scheduled.map((s) => [s.kind, s.name])).toEqual([['activity', ACTIVITIES.notifyCensus]]);
    expect(e.scheduled[0]!.retry).toMatchObject({ maxAttempts: RETRY_POLICIES.notify.maxAttempts });
    expect(e.state.customStatus).toEqual({ phase: 'notifying', nodes: { done: 3, total: 3 }, wave: 2, waves: 2 });
    const notifyInput = e.scheduled[0]!.input as NotifyCensusInput;
    expect(notifyInput).toEqual({
      investigationId: 'snat-c1',
      generatedAt: host.now().toISOString(),
      trigger: TRIGGER,
      cluster: { resourceId: CLUSTER, name: null },
      natGatewayId: NATGW,
      outcome: 'census',
      message: null,
      total: 4,
      skipped: { notReady: 1, overLimit: 0 },
      counts: { censused: 3, reported: 3, failed: 0, notFound: 0 },
      top: expect.any(Array) as unknown,
      // The top pods' nodes first (shop/a1 and shop/a2 on node-a, ops/c1 on node-c), then the census's order.
      nodes: ['node-a', 'node-c', 'node-b'].map((node) => ({
        investigationId: `snat-c1-n${'abc'.indexOf(node.slice(-1))}`,
        node,
        outcome: 'reported',
        html: `${node}/report.html`,
        message: null,
      })),
      scope: { clusterId: CLUSTER, investigationId: 'snat-c1', startedAt: host.now().toISOString() },
    });
    expect(notifyInput.top.map((t) => t.pod)).toEqual(['shop/a1', 'ops/c1', 'shop/a2', 'shop/b1']);
    expect(JSON.stringify(notifyInput).length).toBeLessThan(4_096);

    e = await host.episode([host.completed(e.scheduled[0]!.id, SENT)], 200);
    expect(e.failed).toBe(false);
    expect(e.state.isDone).toBe(true);
    expect(e.state.customStatus).toEqual({ phase: 'done', nodes: { done: 3, total: 3 }, wave: 2, waves: 2 });
    const out = e.state.output as Extract<ClusterInvestigationResult, { outcome: 'census' }>;
    expect(out).toMatchObject({ notifications: SENT, degraded: [] });
    expect(out).toMatchObject({
      outcome: 'census',
      investigationId: 'snat-c1',
      natGatewayId: NATGW,
      cluster: { resourceId: CLUSTER, name: null },
      total: 4,
      skipped: { notReady: 1, overLimit: 0 },
    });
    expect(out.nodes.map((n) => [n.investigationId, n.outcome])).toEqual([
      ['snat-c1-n0', 'reported'],
      ['snat-c1-n1', 'reported'],
      ['snat-c1-n2', 'reported'],
    ]);
    expect(out.nodes[0]).toMatchObject({ nodeName: 'node-a', report: { json: 'node-a/report.json', top: 'shop/a1' } });
    expect(out.top.map((t) => [t.pod, t.node, t.score])).toEqual([
      ['shop/a1', 'node-a', 900],
      ['ops/c1', 'node-c', 120],
      // Equal scores: more public connections first.
      ['shop/a2', 'node-a', 40],
      ['shop/b1', 'node-b', 40],
    ]);
    expect(out.top[0]).toEqual({
      pod: 'shop/a1',
      node: 'node-a',
      investigationId: 'snat-c1-n0',
      score: 900,
      publicConnections: 870,
    });
    // Only listNodes, the sub-orchestrations and the one message: no activity of a node's investigation runs here.
    expect(host.actions.map((a) => [a.actionType, a.functionName])).toEqual([
      [ActionType.CallActivityWithRetry, ACTIVITIES.listNodes],
      [ActionType.CallSubOrchestrator, ORCHESTRATIONS.investigateSnat],
      [ActionType.CallSubOrchestrator, ORCHESTRATIONS.investigateSnat],
      [ActionType.CallSubOrchestrator, ORCHESTRATIONS.investigateSnat],
      [ActionType.CallActivityWithRetry, ACTIVITIES.notifyCensus],
    ]);
    expect(host.scheduledActivities(ACTIVITIES.notifyCensus)).toHaveLength(1);
  });

  it('no Ready node: no sub-orchestration (no Task.all([])), a short message that says why, a `no-nodes` outcome', async () => {
    const host = new ReplayHost(handler, input(), T0);
    await host.episode([host.started()]);
    let e = await host.episode([host.completed(0, listed([], { notReady: 2, overLimit: 0 }))]);
    const message = 'no node to census: none of its 2 node(s) is Ready (2 not Ready); no node was investigated';
    // The alert fired: whoever watches the channel hears that nothing could be censused, and why.
    expect(e.scheduled.map((s) => [s.kind, s.name])).toEqual([['activity', ACTIVITIES.notifyCensus]]);
    expect(e.scheduled[0]!.input).toMatchObject({
      outcome: 'no-nodes',
      message,
      counts: { censused: 0, reported: 0, failed: 0, notFound: 0 },
      nodes: [],
      top: [],
      total: 2,
    });
    expect(e.state.customStatus).toEqual({ phase: 'notifying', nodes: { done: 0, total: 0 }, wave: 0, waves: 0 });
    e = await host.episode([host.completed(e.scheduled[0]!.id, { ...SENT, linked: 0, link: 'none' })]);
    expect(e.failed).toBe(false);
    expect(e.state.isDone).toBe(true);
    expect(host.actions.filter((a) => a.actionType === ActionType.CallSubOrchestrator)).toEqual([]);
    expect(e.state.output).toEqual({
      outcome: 'no-nodes',
      investigationId: 'snat-c1',
      natGatewayId: NATGW,
      cluster: { resourceId: CLUSTER, name: null },
      total: 2,
      skipped: { notReady: 2, overLimit: 0 },
      message,
      notifications: { ...SENT, linked: 0, link: 'none' },
      degraded: [],
    });
    expect(e.state.customStatus).toEqual({ phase: 'done', nodes: { done: 0, total: 0 }, wave: 0, waves: 0 });

    const empty = new ReplayHost(handler, input({ notify: false }), T0);
    await empty.episode([empty.started()]);
    const done = await empty.episode([empty.completed(0, listed([]))]);
    expect(done.state.isDone).toBe(true);
    expect(empty.actions).toHaveLength(1);
    expect(done.state.output).toMatchObject({
      outcome: 'no-nodes',
      message: expect.stringContaining('no nodes') as unknown,
      notifications: null,
      degraded: [],
    });
  });

  it('a failed child is an outcome, not a failed census; the other nodes still run and rank', async () => {
    const host = new ReplayHost(handler, input(), T0);
    await host.episode([host.started()]);
    await host.episode([host.completed(0, listed(['node-a', 'node-b', 'node-c']))]);
    // node-a fails first: Task.all fails at once; node-b is then waited for on its own.
    let e = await host.episode([host.subFailed(1, 'listPods: HTTP 500', 'at listPods')], 1_000);
    expect(e.scheduled).toEqual([]);
    e = await host.episode(
      [host.subCompleted(2, reported('node-b', [{ pod: 'shop/b1', score: 7, publicConnections: 7 }]))],
      1_000,
    );
    expect(e.scheduled.map((s) => s.instanceId)).toEqual(['snat-c1-n2']);
    e = await host.episode(
      [host.subCompleted(3, { outcome: 'target-not-found', reason: 'not-found', message: 'no node named "node-c"' })],
      1_000,
    );
    // The message names the nodes without a report and why (the first line of the failure only).
    expect((e.scheduled[0]!.input as NotifyCensusInput).counts).toEqual({
      censused: 3,
      reported: 1,
      failed: 1,
      notFound: 1,
    });
    expect((e.scheduled[0]!.input as NotifyCensusInput).nodes).toEqual([
      {
        investigationId: 'snat-c1-n1',
        node: 'node-b',
        outcome: 'reported',
        html: 'node-b/report.html',
        message: null,
      },
      {
        investigationId: 'snat-c1-n0',
        node: 'node-a',
        outcome: 'failed',
        html: null,
        message: expect.stringMatching(/^listPods: HTTP 500$/) as unknown,
      },
      {
        investigationId: 'snat-c1-n2',
        node: 'node-c',
        outcome: 'target-not-found',
        html: null,
        message: 'no node named "node-c"',
      },
    ]);
    e = await host.episode([host.completed(e.scheduled[0]!.id, SENT)]);
    expect(e.state.isDone).toBe(true);
    const out = e.state.output as Extract<ClusterInvestigationResult, { outcome: 'census' }>;
    expect(out.nodes.map((n) => [n.node, n.outcome])).toEqual([
      [{ name: 'node-a' }, 'failed'],
      [{ name: 'node-b' }, 'reported'],
      [{ name: 'node-c' }, 'target-not-found'],
    ]);
    expect(out.nodes[0]).toMatchObject({ message: expect.stringContaining('listPods: HTTP 500') as unknown });
    expect(out.top.map((t) => t.pod)).toEqual(['shop/b1']);
  });

  it('notify: false (no target configured): no notifyCensus after the last wave, and none from the nodes', async () => {
    const host = new ReplayHost(handler, input({ notify: false }), T0);
    await host.episode([host.started()]);
    let e = await host.episode([host.completed(0, listed(['node-a']))]);
    expect(e.scheduled[0]!.input).toMatchObject({ notify: false });
    e = await host.episode([host.subCompleted(1, reported('node-a', []))], 1_000);
    expect(e.state.isDone).toBe(true);
    expect(host.scheduledActivities(ACTIVITIES.notifyCensus)).toEqual([]);
    expect(e.state.output).toMatchObject({ outcome: 'census', notifications: null, degraded: [] });
    expect(e.state.customStatus).toMatchObject({ phase: 'done' });
  });

  it('a notifyCensus failing on every attempt: the census is still `census`, the failure recorded', async () => {
    const host = new ReplayHost(handler, input(), T0);
    await host.episode([host.started()]);
    await host.episode([host.completed(0, listed(['node-a', 'node-b']))]);
    await host.episode([host.subCompleted(1, reported('node-a', [{ pod: 'x/1', score: 3, publicConnections: 3 }]))]);
    const e = await host.episode([host.subCompleted(2, reported('node-b', []))], 1_000);
    const first = e.scheduled.find((s) => s.name === ACTIVITIES.notifyCensus)!;
    const end = await failEveryAttempt(host, first, 'evidence store: HTTP 503 ServerBusy');
    expect(end.failed).toBe(false);
    expect(end.state.isDone).toBe(true);
    expect(host.scheduledActivities(ACTIVITIES.notifyCensus).map((s) => s.attempt)).toEqual([1, 2, 3, 4]);
    const out = end.state.output as Extract<ClusterInvestigationResult, { outcome: 'census' }>;
    expect(out).toMatchObject({ outcome: 'census', notifications: null, top: [{ pod: 'x/1', node: 'node-a' }] });
    expect(out.nodes.map((n) => n.outcome)).toEqual(['reported', 'reported']);
    expect(out.degraded).toEqual([
      {
        step: 'notify',
        reason:
          "the census's message could not be sent (evidence store: HTTP 503 ServerBusy); the nodes' reports stand as written",
      },
    ]);
    expect(end.state.customStatus).toMatchObject({ phase: 'done' });
  });

  it("notifyCensus's own failures (a delivery, a link) are the census's `degraded`", async () => {
    const host = new ReplayHost(handler, input(), T0);
    await host.episode([host.started()]);
    await host.episode([host.completed(0, listed(['node-a']))]);
    const e = await host.episode([host.subCompleted(1, reported('node-a', []))], 1_000);
    const failed: NotifyCensusOutput = {
      targets: [{ target: 'teams https://x.example', kind: 'teams', ok: false, status: 400, attempts: 1 }],
      link: 'path',
      linked: 1,
      degraded: [{ step: 'notify', reason: 'teams https://x.example: answered HTTP 400; not retried' }],
    };
    const end = await host.episode([host.completed(e.scheduled[0]!.id, failed)]);
    expect(end.state.output).toMatchObject({ outcome: 'census', notifications: failed, degraded: failed.degraded });
  });

  it('a listNodes that fails after its retries fails the census with its message', async () => {
    const host = new ReplayHost(handler, input(), T0);
    await host.episode([host.started()]);
    let e = await host.episode([host.failed(0, 'list nodes: HTTP 503')]);
    for (let attempt = 1; attempt < RETRY_POLICIES.cluster.maxAttempts; attempt++) {
      const timer = e.retries.find((r) => r.kind === 'retry-timer')!;
      e = await host.episode([host.timerFired(timer.id)]);
      const next = e.retries.find((r) => r.kind === 'activity')!;
      e = await host.episode([host.failed(next.id, 'list nodes: HTTP 503')]);
    }
    const timer = e.retries.find((r) => r.kind === 'retry-timer')!;
    e = await host.episode([host.timerFired(timer.id)]);
    expect(e.failed).toBe(true);
    expect(e.state.error).toMatch(/list nodes: HTTP 503/);
    expect(host.actions.filter((a) => a.actionType === ActionType.CallSubOrchestrator)).toEqual([]);
  });

  it('without a scope (a host bound to one cluster), no scope travels; maxNodes and notify reach listNodes and each node', async () => {
    const host = new ReplayHost(handler, input({ scope: undefined, notify: false, maxNodes: 1 }), T0);
    const first = await host.episode([host.started()]);
    expect(first.scheduled[0]!.input).toEqual({ investigationId: 'snat-c1', maxNodes: 1 });
    const e = await host.episode([host.completed(0, listed(['node-a'], { notReady: 0, overLimit: 2 }))]);
    expect(e.scheduled[0]!.input).toEqual({
      investigationId: 'snat-c1-n0',
      node: { name: 'node-a' },
      captureSeconds: 0,
      capture: false,
      trigger: TRIGGER,
      notify: false,
    });
  });
});

describe('investigateCluster pieces', () => {
  it("the nodes the census's message names: the top pods' nodes first (ranking order, once each), then census order", () => {
    const nodes = Array.from({ length: 30 }, (_, i) => ({ investigationId: `c-n${i}` }));
    const top = [
      { investigationId: 'c-n25' },
      { investigationId: 'c-n3' },
      { investigationId: 'c-n25' },
      { investigationId: 'gone' },
    ];
    const named = nodesToName(nodes, top);
    expect(named).toHaveLength(CENSUS_NODE_LINKS);
    expect(named.slice(0, 4).map((n) => n.investigationId)).toEqual(['c-n25', 'c-n3', 'c-n0', 'c-n1']);
    expect(new Set(named.map((n) => n.investigationId)).size).toBe(CENSUS_NODE_LINKS);
    expect(nodesToName(nodes, [], 0)).toEqual([]);
    expect(nodesToName([], top)).toEqual([]);
  });

  it('child ids are label values, `<parent>-n<i>` when they fit, cut and tagged (still distinct) when not', () => {
    expect(childInvestigationId('snat-0123456789abcdef-abc', 7)).toBe('snat-0123456789abcdef-abc-n7');
    const long = `snat-${'a'.repeat(58)}`;
    const other = `snat-${'a'.repeat(57)}b`;
    for (const parent of [long, other, `x${'-'.repeat(62)}`]) {
      for (const index of [0, 9, 99]) {
        const id = childInvestigationId(parent, index);
        expect(id.length).toBeLessThanOrEqual(63);
        expect(isLabelValue(id), id).toBe(true);
        expect(id.endsWith(`-n${index}`)).toBe(true);
      }
    }
    expect(childInvestigationId(long, 1)).not.toBe(childInvestigationId(other, 1));
    expect(childInvestigationId(long, 1)).toBe(childInvestigationId(long, 1));
  });

  it('ranks across nodes by score, then connections, then node and pod; a report without numbers ranks last', () => {
    const node = (
      name: string,
      topPods: RankedPod[] | undefined,
      top: string | null = null,
    ): NodeInvestigationOutcome => ({
      investigationId: `c-${name}`,
      node: { name },
      outcome: 'reported',
      nodeName: name,
      report: { json: '', markdown: '', html: '', pods: 1, top, degraded: 0, ...(topPods ? { topPods } : {}) },
    });
    const ranked = rankAcrossNodes([
      node('b', [{ pod: 'x/1', score: 5, publicConnections: 5 }]),
      node('a', [{ pod: 'x/2', score: 5, publicConnections: 5 }]),
      node('c', undefined, 'old/top'),
      { investigationId: 'c-d', node: { name: 'd' }, outcome: 'failed', message: 'boom' },
      node(
        'e',
        Array.from({ length: 3 }, (_, i) => ({ pod: `e/${i}`, score: 100 - i, publicConnections: 0 })),
      ),
    ]);
    expect(ranked.map((r) => `${r.node}:${r.pod}`)).toEqual(['e:e/0', 'e:e/1', 'e:e/2', 'a:x/2', 'b:x/1', 'c:old/top']);
    expect(ranked.at(-1)).toMatchObject({ score: null, publicConnections: null });
    const many = Array.from({ length: 6 }, (_, i) =>
      node(
        `n${i}`,
        [1, 2, 3].map((k) => ({ pod: `p/${k}`, score: i * 10 + k, publicConnections: 0 })),
      ),
    );
    expect(rankAcrossNodes(many)).toHaveLength(CLUSTER_TOP_PODS);
  });
});

describe('investigateCluster under the in-process driver', () => {
  it("runs each node's census-only investigateSnat as a sub-workflow: no capture activity anywhere", async () => {
    const calls: string[] = [];
    const act =
      (name: string, f: (i: Record<string, unknown>) => unknown): ActivityFunction<null> =>
      (_ctx, i: never) => {
        calls.push(name);
        return Promise.resolve(f(i));
      };
    const notes: unknown[] = [];
    const activities: Record<string, ActivityFunction<null>> = {
      listNodes: act('listNodes', () => listed(['node-a', 'node-b', 'node-c'])),
      resolveTarget: act('resolveTarget', (i) => ({
        found: true,
        name: (i.node as { name: string }).name,
        ip: null,
        snat: { allocatedPorts: null, usedPorts: null, failedConnections: null },
      })),
      listPods: act('listPods', (i) => ({ ref: `${String(i.investigationId)}/pods`, pods: 0 })),
      writeReport: act('writeReport', (i) => {
        notes.push(i.notes);
        const node = (i.node as { name: string }).name;
        return {
          json: `${node}.json`,
          markdown: `${node}.md`,
          html: `${node}.html`,
          reportRef: `${String(i.investigationId)}/report`,
          pods: 1,
          top: `ns/${node}`,
          degraded: 0,
          topPods: [{ pod: `ns/${node}`, score: node.length + (node === 'node-b' ? 10 : 0), publicConnections: 1 }],
        };
      }),
    };
    for (const name of ['startCapture', 'checkCapture', 'collectCapture', 'deleteCapture', 'notifyReport']) {
      activities[name] = act(name, () => {
        throw new Error(`${name} must not run`);
      });
    }
    const statuses: ClusterStatus[] = [];
    const result = await runWorkflow(investigateCluster, input({ scope: undefined, notify: false }), {
      activities,
      context: () => null,
      sleep: () => Promise.reject(new Error('nothing to wait for')),
      now: () => T0,
      orchestrators: { [ORCHESTRATIONS.investigateSnat]: investigateSnat },
      onStatus: (s) => statuses.push(s as ClusterStatus),
    });
    expect(result.outcome).toBe('census');
    if (result.outcome !== 'census') return;
    expect(result.nodes.map((n) => [n.investigationId, n.outcome])).toEqual([
      ['snat-c1-n0', 'reported'],
      ['snat-c1-n1', 'reported'],
      ['snat-c1-n2', 'reported'],
    ]);
    expect(result.top[0]).toMatchObject({ pod: 'ns/node-b', node: 'node-b', investigationId: 'snat-c1-n1' });
    expect(
      calls.filter((c) => ['startCapture', 'checkCapture', 'collectCapture', 'deleteCapture'].includes(c)),
    ).toEqual([]);
    expect(calls.filter((c) => c === 'listNodes')).toHaveLength(1);
    expect(notes).toEqual([[CENSUS_ONLY_NOTE], [CENSUS_ONLY_NOTE], [CENSUS_ONLY_NOTE]]);
    expect(statuses.map((s) => [s.phase, s.nodes.done, s.wave])).toEqual([
      ['listing nodes', 0, 0],
      ['census', 0, 1],
      ['census', 2, 2],
      ['done', 3, 2],
    ]);
    expect(calls).not.toContain('notifyCensus');
  });

  it('with notify on: no node notifies on its own; one notifyCensus once every node is over', async () => {
    const calls: string[] = [];
    const sent: unknown[] = [];
    const act =
      (name: string, f: (i: Record<string, unknown>) => unknown): ActivityFunction<null> =>
      (_ctx, i: never) => {
        calls.push(name);
        return Promise.resolve(f(i));
      };
    const names = Array.from({ length: 25 }, (_, i) => `node-${String(i).padStart(2, '0')}`);
    const activities: Record<string, ActivityFunction<null>> = {
      listNodes: act('listNodes', () => listed(names)),
      resolveTarget: act('resolveTarget', (i) => ({
        found: true,
        name: (i.node as { name: string }).name,
        ip: null,
        snat: { allocatedPorts: null, usedPorts: null, failedConnections: null },
      })),
      listPods: act('listPods', (i) => ({ ref: `${String(i.investigationId)}/pods`, pods: 0 })),
      writeReport: act('writeReport', (i) => {
        const node = (i.node as { name: string }).name;
        return {
          json: 'r.json',
          markdown: 'r.md',
          html: `${String(i.investigationId)}/report.html`,
          reportRef: `${String(i.investigationId)}/report`,
          pods: 1,
          top: `ns/${node}`,
          degraded: 0,
          // The culprit is on the last node listed.
          topPods: [{ pod: `ns/${node}`, score: node === 'node-24' ? 900 : 1, publicConnections: 1 }],
        };
      }),
      notifyReport: act('notifyReport', () => {
        throw new Error('notifyReport must not run in a census');
      }),
      notifyCensus: act('notifyCensus', (i) => {
        sent.push(i);
        return SENT;
      }),
    };
    const result = await runWorkflow(investigateCluster, input({ scope: undefined, maxNodes: 100, maxParallel: 16 }), {
      activities,
      context: () => null,
      sleep: () => Promise.reject(new Error('nothing to wait for')),
      now: () => T0,
      orchestrators: { [ORCHESTRATIONS.investigateSnat]: investigateSnat },
    });
    expect(result).toMatchObject({ outcome: 'census', notifications: SENT, degraded: [] });
    expect(calls).not.toContain('notifyReport');
    expect(calls.filter((c) => c === 'notifyCensus')).toHaveLength(1);
    expect(calls.at(-1)).toBe('notifyCensus');
    // At most CENSUS_NODE_LINKS nodes named, the culprit's first; the counts cover every node.
    expect(sent).toEqual([
      expect.objectContaining({
        investigationId: 'snat-c1',
        outcome: 'census',
        counts: { censused: 25, reported: 25, failed: 0, notFound: 0 },
      }),
    ]);
    const named = (sent[0] as NotifyCensusInput).nodes;
    expect(named).toHaveLength(CENSUS_NODE_LINKS);
    expect(named[0]).toEqual({
      investigationId: 'snat-c1-n24',
      node: 'node-24',
      outcome: 'reported',
      html: 'snat-c1-n24/report.html',
      message: null,
    });
    expect(named.slice(1).map((n) => n.node)).toEqual(names.slice(0, CENSUS_NODE_LINKS - 1));
    if (result.outcome !== 'census') return;
    for (const n of result.nodes) expect(n.outcome === 'reported' && n.report.degraded).toBe(0);
  });
});
