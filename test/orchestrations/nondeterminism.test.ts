/**
 * The harness' DTFx-style check (replay-engine level, not host level): the JS library replays by sequence id only and
 * does not notice an orchestrator that schedules something else on replay; the Durable extension would. The harness
 * compares each replay's actions with the recorded ones and flags the first difference.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import df from 'durable-functions';
import { durableOps } from '../../orchestrations/durable.js';
import { investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput } from '../../orchestrations/investigate.js';
import { NonDeterminismError, ReplayHost, loadApp, registry } from '../helpers/df-harness.js';

type Handler = ConstructorParameters<typeof ReplayHost>[0];

const INPUT: InvestigationInput = {
  investigationId: 'nd-1',
  node: { name: 'aks-node-0' },
  captureSeconds: 5,
  trigger: { kind: 'cli', source: 'test' },
};
const TARGET = {
  found: true,
  name: 'aks-node-0',
  ip: '10.224.0.4',
  snat: { allocatedPorts: 1024, usedPorts: null, failedConnections: null },
};
const STARTED = {
  started: true,
  namespace: 'snat-responder-capture',
  jobName: 'snat-capture-0123456789abcdef',
  created: true,
  deadline: '2026-11-26T10:03:00.000Z',
  sweptOrphans: 0,
};

beforeAll(async () => {
  await loadApp();
  // Registered under the same patch as the app, never imported by functions/index.ts.
  df.app.orchestration('brokenClock', function* (context) {
    // Deliberately wrong: the wall clock instead of the replayed one.
    return yield* investigateSnat(context.df.getInput<InvestigationInput>(), {
      ...durableOps(context),
      now: () => new Date(),
    });
  });
});

const hostOf = (name: string) =>
  new ReplayHost(registry.get(name)!.options.handler as unknown as Handler, INPUT, new Date('2026-11-26T10:00:00Z'));

async function threeEpisodes(host: ReplayHost): Promise<void> {
  await host.episode([host.started()]);
  await host.episode([host.completed(0, TARGET)], 50);
  await new Promise((r) => setTimeout(r, 5)); // the wall clock moves between two invocations, as it does in Azure
  await host.episode([host.completed(1, STARTED)], 50);
}

describe('non-determinism (replay-engine level, not host level)', () => {
  it('an orchestrator reading Date.now() is flagged at the first action whose input holds the time', async () => {
    const host = hostOf('brokenClock');
    const error = await threeEpisodes(host).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonDeterminismError);
    expect((error as NonDeterminismError).index).toBe(1);
    expect((error as Error).message).toMatch(
      /^Non-deterministic replay at action 1: recorded .*"functionName":"startCapture"/,
    );
  });

  it('the registered investigateSnat, given the same episodes, replays deterministically', async () => {
    const host = hostOf('investigateSnat');
    await threeEpisodes(host);
    expect(host.actions.map((a) => a.functionName)).toEqual(['resolveTarget', 'startCapture', 'listPods']);
    expect(host.actions[1]!.input).toMatchObject({ now: '2026-11-26T10:00:00.050Z' });
  });
});
