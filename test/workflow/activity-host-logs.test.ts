/**
 * The Functions app's activity handlers (lib/workflow/activity-host.ts, registered by functions/activities.ts) log each
 * run through the invocation's own logger: an `InvocationContext` of @azure/functions with a log handler that keeps the
 * lines, as the host would send them to Application Insights. The activities run against the simulated cluster (sim/).
 * Registration level, not the Functions host.
 */
import { InvocationContext } from '@azure/functions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetSettingsCache } from '../../lib/serve/handler-kit.js';
import { ACTIVITIES } from '../../lib/workflow/contracts.js';
import type { ListPodsOutput } from '../../lib/workflow/contracts.js';
import { activityHandler, activityLogFields, setActivityContextFactory } from '../../lib/workflow/activity-host.js';
import { MemoryEvidenceStore } from '../../lib/workflow/context.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { loadApp } from '../helpers/df-harness.js';
import type { Registration } from '../helpers/df-harness.js';
import { simContextFactory } from '../orchestrations/sim-context.js';

const WEBHOOK_SECRET = 'activity-webhook-secret-55aa66bb77cc';
const CLUSTER =
  '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop';

interface Logged {
  readonly level: string;
  readonly text: string;
  readonly record: Record<string, unknown>;
}

let registry: Map<string, Registration>;
let sim: RunningSim;
const savedEnv = { ...process.env };

type ActivityHandler = (input: unknown, context: InvocationContext) => Promise<unknown>;
const handlerOf = (name: string) => registry.get(name)!.options.handler as unknown as ActivityHandler;

/** An invocation whose logger keeps its lines. */
function invocation(name: string): { context: InvocationContext; logs: Logged[] } {
  const logs: Logged[] = [];
  const context = new InvocationContext({
    functionName: name,
    invocationId: `inv-${name}`,
    logHandler: (level, ...args) => {
      const text = args.map(String).join(' ');
      logs.push({ level, text, record: JSON.parse(text) as Record<string, unknown> });
    },
  });
  return { context, logs };
}

beforeAll(async () => {
  for (const k of Object.keys(process.env)) if (k.startsWith('SNAT_')) delete process.env[k];
  Object.assign(process.env, {
    SNAT_TASK_HUB: 'snathub',
    SNAT_REPORT_STORAGE: 'https://acct.blob.core.windows.net',
    SNAT_WEBHOOK_URL: 'https://hooks.example.net/snat',
    SNAT_WEBHOOK_SECRET: WEBHOOK_SECRET,
  });
  resetSettingsCache();
  registry = await loadApp();
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
});
afterAll(async () => {
  await sim?.close();
  process.env = savedEnv;
  resetSettingsCache();
});
afterEach(() => setActivityContextFactory(null));

describe('activity handlers log through the invocation (registrations, simulated cluster; not the Functions host)', () => {
  it('a run: a start line and an end line with the investigation id, the activity, the node and the duration', async () => {
    setActivityContextFactory(simContextFactory(sim, new MemoryEvidenceStore()));
    const { context, logs } = invocation(ACTIVITIES.listPods);
    const input = {
      investigationId: 'inv-logs-1',
      nodeName: sim.expected.node,
      now: '2026-11-26T10:00:00.000Z',
      scope: { clusterId: CLUSTER, investigationId: 'inv-logs-1', node: sim.expected.node },
    };
    const out = (await handlerOf(ACTIVITIES.listPods)(input, context)) as ListPodsOutput;
    expect(out.pods).toBe(13);
    expect(logs.map((l) => l.level)).toEqual(['information', 'information']);
    const [start, end] = logs.map((l) => l.record);
    const fields = {
      investigationId: 'inv-logs-1',
      activity: 'listPods',
      phase: 'listing pods',
      node: sim.expected.node,
      cluster: CLUSTER,
    };
    const { time: startTime, ...startRest } = start!;
    const { time: endTime, durationMs, ...endRest } = end!;
    for (const time of [startTime, endTime]) expect(new Date(String(time)).toISOString()).toBe(time);
    expect(startRest).toEqual({ level: 'info', msg: 'activity started', ...fields });
    expect(endRest).toEqual({ level: 'info', msg: 'activity done', ...fields, outcome: 'ok' });
    expect(Number.isInteger(durationMs) && (durationMs as number) >= 0).toBe(true);
  });

  it('a failure: an error line with the message (secrets blanked), and the error still reaches Durable', async () => {
    setActivityContextFactory({
      create: () => {
        throw new Error(`webhook https://hooks.example.net/snat refused, signed with ${WEBHOOK_SECRET}`);
      },
    });
    const { context, logs } = invocation(ACTIVITIES.notifyReport);
    await expect(
      handlerOf(ACTIVITIES.notifyReport)({ investigationId: 'inv-logs-2', reportRef: 'inv-logs-2/report' }, context),
    ).rejects.toThrow(WEBHOOK_SECRET);
    expect(logs.map((l) => [l.level, l.record.msg])).toEqual([
      ['information', 'activity started'],
      ['error', 'activity failed'],
    ]);
    expect(logs[1]?.record).toMatchObject({
      investigationId: 'inv-logs-2',
      activity: 'notifyReport',
      outcome: 'failed',
      error: 'webhook [redacted] refused, signed with [redacted]',
    });
    for (const l of logs) expect(l.text).not.toContain(WEBHOOK_SECRET);
  });

  it('the investigation id from the scope when the input has none; an invocation without log methods still runs', async () => {
    expect(
      activityLogFields('resolveTarget', {
        node: { ip: '10.224.0.4' },
        scope: { investigationId: 'inv-3', clusterId: CLUSTER },
      }),
    ).toEqual({ activity: 'resolveTarget', phase: 'resolving', investigationId: 'inv-3', cluster: CLUSTER });
    expect(activityLogFields('censusPods', null)).toEqual({ activity: 'censusPods', phase: 'census' });
    expect(activityLogFields('somethingElse', null)).toEqual({ activity: 'somethingElse' });
    const handler = activityHandler('x', () => Promise.resolve('done'));
    await expect(handler({}, { invocationId: 'i', functionName: 'x' })).rejects.toThrow(/no ActivityContextFactory/);
    setActivityContextFactory(simContextFactory(sim, new MemoryEvidenceStore()));
    await expect(handler({}, { invocationId: 'i', functionName: 'x' })).resolves.toBe('done');
  });
});
