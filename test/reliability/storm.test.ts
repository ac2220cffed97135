/**
 * Alert storms on POST /api/alerts of `snat-responder serve` (lib/serve/server.ts, in-process engine) against the
 * simulated AKS cluster (sim/): Azure Monitor fires one alert per dimension combination and evaluation, and an action
 * group retries, so the same node arrives many times at once. One live investigation per cluster + node must hold
 * under concurrency: one investigation, and one capture Job, per node.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snatAlert } from '../../sim/alerts.js';
import type { ScenarioInput } from '../../sim/server.js';
import {
  captureObjectsLeft,
  get,
  jobsEverCreated,
  listedInvestigations,
  post,
  startServeOnSim,
  untilFinished,
} from './harness.js';
import type { ServeUnderTest, StatusView } from './harness.js';

interface AlertAnswer {
  readonly investigations: Array<{
    readonly id: string;
    readonly started: boolean;
    readonly reusedBecause?: string;
    readonly target: { readonly nodeIp: string };
  }>;
}

const firedAt = new Date();
const alertFor = (nodeIp: string): string => JSON.stringify(snatAlert({ nodeIp, firedAt }));

async function storm(url: string, bodies: string[]): Promise<AlertAnswer[]> {
  const answers = await Promise.all(bodies.map((b) => post(url, '/api/alerts', b)));
  for (const a of answers) expect(a.status).toBe(202);
  return answers.map((a) => a.body as AlertAnswer);
}

describe('50 identical alerts at once (default scenario)', () => {
  let serve: ServeUnderTest;
  beforeAll(async () => {
    serve = await startServeOnSim({ scenario: 'default' });
  });
  afterAll(() => serve?.close());

  it('start exactly one investigation: every answer names it, one Job is created over the whole run', async () => {
    const answers = await storm(
      serve.url,
      Array.from({ length: 50 }, () => alertFor(serve.sim.expected.nodeIp)),
    );
    const all = answers.map((a) => a.investigations);
    expect(all.every((i) => i.length === 1)).toBe(true);
    const ids = new Set(all.map((i) => i[0]!.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect(all.filter((i) => i[0]!.started)).toHaveLength(1);
    expect(all.filter((i) => !i[0]!.started).every((i) => i[0]!.reusedBecause === 'running')).toBe(true);
    expect(serve.server.started()).toBe(1);

    const done = await untilFinished(serve.url, id);
    expect(done.status).toMatchObject<Partial<StatusView>>({ status: 'completed', outcome: 'reported' });
    expect(done.status.summary?.topPod).toBe(serve.sim.expected.culprit);
    expect(await listedInvestigations(serve.url)).toEqual([id]);
    expect(await jobsEverCreated(serve.sim)).toHaveLength(1);
    expect(await captureObjectsLeft(serve.sim)).toEqual({ jobs: [], pods: [] });

    // The storm's tail, after the investigation ended: inside the cooldown, the same one is returned.
    const late = await storm(
      serve.url,
      Array.from({ length: 10 }, () => alertFor(serve.sim.expected.nodeIp)),
    );
    for (const a of late) expect(a.investigations[0]).toMatchObject({ id, started: false, reusedBecause: 'cooldown' });
    expect(await jobsEverCreated(serve.sim)).toHaveLength(1);
    expect(serve.server.started()).toBe(1);
  });
});

/** The `small` scenario with three more nodes: five nodes, 10.224.0.4, .40, .5, .6, .7. */
function fiveNodeScenario(): ScenarioInput {
  const path = fileURLToPath(new URL('../../sim/scenarios/small.json', import.meta.url));
  const small = JSON.parse(readFileSync(path, 'utf8')) as ScenarioInput & {
    name: string;
    nodes: Array<Record<string, unknown>>;
  };
  const extra = [5, 6, 7].map((n) => ({
    name: `aks-nodepool1-12345678-vmss00000${n - 3}`,
    internalIP: `10.224.0.${n}`,
    tracer: 'bcc',
    snat: { allocatedPorts: 1024 },
  }));
  return { ...small, name: 'five-nodes', nodes: [...small.nodes, ...extra] } as ScenarioInput;
}

describe('50 alerts for 5 node IPs at once (the small scenario grown to five nodes)', () => {
  const NODE_IPS = ['10.224.0.4', '10.224.0.40', '10.224.0.5', '10.224.0.6', '10.224.0.7'];
  const MAX_CONCURRENT = 2;
  let serve: ServeUnderTest;
  beforeAll(async () => {
    serve = await startServeOnSim({
      scenario: fiveNodeScenario(),
      env: { SNAT_MAX_CONCURRENT_INVESTIGATIONS: String(MAX_CONCURRENT) },
    });
  });
  afterAll(() => serve?.close());

  it('start one investigation and one Job per node, at most SNAT_MAX_CONCURRENT_INVESTIGATIONS at a time', async () => {
    expect(serve.sim.world.nodes.map((n) => n.ip)).toEqual(NODE_IPS);
    const bodies = Array.from({ length: 50 }, (_, i) => alertFor(NODE_IPS[i % NODE_IPS.length]!));
    const answers = await storm(serve.url, bodies);

    const idsByIp = new Map<string, Set<string>>();
    let startedAnswers = 0;
    for (const a of answers) {
      expect(a.investigations).toHaveLength(1);
      const { id, started, target } = a.investigations[0]!;
      idsByIp.set(target.nodeIp, (idsByIp.get(target.nodeIp) ?? new Set()).add(id));
      if (started) startedAnswers += 1;
    }
    expect([...idsByIp.keys()].sort()).toEqual([...NODE_IPS].sort());
    for (const ids of idsByIp.values()) expect(ids.size).toBe(1);
    const ids = [...idsByIp.values()].map((s) => [...s][0]!);
    expect(new Set(ids).size).toBe(5);
    expect(startedAnswers).toBe(5);
    expect(serve.server.started()).toBe(5);

    // Queued behind the limit: two run, three wait.
    const states = await Promise.all(
      ids.map(async (id) => ((await get(serve.url, `/api/investigations/${id}`)).body as StatusView).status),
    );
    expect(states.filter((s) => s === 'running')).toHaveLength(MAX_CONCURRENT);
    expect(states.filter((s) => s === 'pending')).toHaveLength(5 - MAX_CONCURRENT);

    let maxJobs = 0;
    const watch = setInterval(() => {
      maxJobs = Math.max(maxJobs, serve.sim.jobs().length);
    }, 5);
    try {
      const finished = await Promise.all(ids.map((id) => untilFinished(serve.url, id)));
      for (const [ip, set] of idsByIp) {
        const f = finished[ids.indexOf([...set][0]!)]!;
        expect(f.status).toMatchObject<Partial<StatusView>>({ status: 'completed', outcome: 'reported' });
        const node = serve.sim.world.nodes.find((n) => n.ip === ip);
        expect((f.status as StatusView & { node: string }).node).toBe(node?.name);
      }
    } finally {
      clearInterval(watch);
    }
    expect(maxJobs).toBeGreaterThanOrEqual(1);
    expect(maxJobs).toBeLessThanOrEqual(MAX_CONCURRENT);
    const created = await jobsEverCreated(serve.sim);
    expect(created).toHaveLength(5);
    expect(new Set(created.map((j) => j.name)).size).toBe(5);
    expect((await listedInvestigations(serve.url)).sort()).toEqual([...ids].sort());
    expect(await captureObjectsLeft(serve.sim)).toEqual({ jobs: [], pods: [] });
  });
});
