/**
 * The Functions app's registrations (functions/index.ts), captured by patching `@azure/functions`' `app.generic` and
 * `app.http` before the import: replay-engine level, not host level. And the registered activity handlers, called as
 * the host would call them, against the simulated cluster.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvocationContext } from '@azure/functions';
import { ACTIVITIES, ORCHESTRATIONS } from '../../lib/workflow/contracts.js';
import type { ListPodsOutput, ResolveTargetOutput } from '../../lib/workflow/contracts.js';
import { setActivityContextFactory } from '../../lib/workflow/activity-host.js';
import { ArmError } from '../../lib/azure/arm.js';
import { MemoryEvidenceStore } from '../../lib/workflow/context.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { loadApp, triggerType } from '../helpers/df-harness.js';
import type { Registration } from '../helpers/df-harness.js';
import { simContextFactory } from './sim-context.js';

let registry: Map<string, Registration>;
let sim: RunningSim;

beforeAll(async () => {
  registry = await loadApp();
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
});
afterAll(() => sim.close());
afterEach(() => setActivityContextFactory(null));

type ActivityHandler = (input: unknown, context: InvocationContext) => Promise<unknown>;
const handlerOf = (name: string) => registry.get(name)!.options.handler as unknown as ActivityHandler;
const invocation = (name: string) => new InvocationContext({ functionName: name, invocationId: `inv-${name}` });

describe('registrations of functions/index.ts (replay-engine level, not host level)', () => {
  it('every activity of contracts.ts ACTIVITIES is an activity, both orchestrators are orchestrators, the rest HTTP', () => {
    const activities = [...registry.values()].filter((r) => triggerType(r) === 'activityTrigger').map((r) => r.name);
    const orchestrators = [...registry.values()]
      .filter((r) => triggerType(r) === 'orchestrationTrigger')
      .map((r) => r.name);
    expect(activities.sort()).toEqual(Object.values(ACTIVITIES).sort());
    expect(activities).toContain(ACTIVITIES.notifyReport);
    expect(orchestrators.sort()).toEqual(Object.values(ORCHESTRATIONS).sort());
    const durable = new Set([...activities, ...orchestrators]);
    for (const r of registry.values()) {
      // The HTTP triggers (functions/http-*.ts) have their own tests; here only: nothing else is registered.
      if (durable.has(r.name)) expect(r.via).toBe('generic');
      else expect(r.via, r.name).toBe('http');
    }
  });

  it('an activity run with no context factory (none set, or reset with null) fails with a message saying so', async () => {
    // functions/index.ts installs the app's lazy factory at import (functions/startup.ts); take it away.
    setActivityContextFactory(null);
    await expect(
      handlerOf(ACTIVITIES.resolveTarget)({ node: { name: 'x' } }, invocation('resolveTarget')),
    ).rejects.toThrow(/resolveTarget: no ActivityContextFactory is configured/);
  });

  it('the registered handlers run the same activity functions, against the simulated cluster', async () => {
    const store = new MemoryEvidenceStore();
    const created: string[] = [];
    setActivityContextFactory({
      create: (activity, inv, scope) => {
        created.push(`${activity}@${inv.invocationId}`);
        return simContextFactory(sim, store).create(activity, inv, scope);
      },
    });
    const target = (await handlerOf(ACTIVITIES.resolveTarget)(
      { node: { ip: sim.expected.nodeIp } },
      invocation('resolveTarget'),
    )) as ResolveTargetOutput;
    expect(target).toMatchObject({ found: true, name: sim.expected.node, ip: sim.expected.nodeIp });
    const listed = (await handlerOf(ACTIVITIES.listPods)(
      { investigationId: 'reg-1', nodeName: sim.expected.node, now: '2026-11-26T10:00:00.000Z' },
      invocation('listPods'),
    )) as ListPodsOutput;
    expect(listed).toEqual({ ref: 'reg-1/pods', pods: 13 });
    // No notification target in these settings: the registered notifyReport sends nothing and reads nothing.
    expect(
      await handlerOf(ACTIVITIES.notifyReport)(
        { investigationId: 'reg-1', reportRef: 'reg-1/report' },
        invocation('notifyReport'),
      ),
    ).toEqual({ targets: [], link: 'none', rewritten: false });
    expect(created).toEqual([
      'resolveTarget@inv-resolveTarget',
      'listPods@inv-listPods',
      'notifyReport@inv-notifyReport',
    ]);
    // A thrown activity keeps its message across the wrapper (Durable records it as the task's failure).
    await expect(
      handlerOf(ACTIVITIES.censusPods)(
        { investigationId: 'reg-1', podsRef: 'nope', start: 0, end: 1 },
        invocation('censusPods'),
      ),
    ).rejects.toThrow(/evidence store: no entry "nope"/);
  });

  it('resolveTarget: SNAT metrics that fail even after retries are a degradation, the node is still resolved', async () => {
    const store = new MemoryEvidenceStore();
    const asked: unknown[] = [];
    setActivityContextFactory({
      create: async (activity, inv, scope) => ({
        ...(await simContextFactory(sim, store).create(activity, inv, scope)),
        snatMetrics: (request) => {
          asked.push(request);
          return Promise.reject(new ArmError('throttled', 'read SNAT metrics: HTTP 429 (after 4 attempts)\nstack'));
        },
      }),
    });
    const window = { start: '2026-11-26T09:55:00.000Z', end: '2026-11-26T10:00:00.000Z' };
    const lbId =
      '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourceGroups/mc_rg/providers/Microsoft.Network/loadBalancers/kubernetes';
    const target = (await handlerOf(ACTIVITIES.resolveTarget)(
      { node: { ip: sim.expected.nodeIp }, window, scope: { loadBalancerId: lbId } },
      invocation('resolveTarget'),
    )) as ResolveTargetOutput;
    expect(asked).toEqual([{ lbId, nodeIp: sim.expected.nodeIp, window }]);
    expect(target).toMatchObject({
      found: true,
      name: sim.expected.node,
      snat: { allocatedPorts: 1024, usedPorts: null, failedConnections: null },
      degraded: [
        {
          step: 'snat metrics',
          reason: 'SNAT metrics unavailable after retries: read SNAT metrics: HTTP 429 (after 4 attempts)',
        },
      ],
    });
  });
});
