/**
 * The alert corpus (test/fixtures/alerts-corpus/, one body per file, index.json) posted to POST /api/alerts of
 * `snat-responder serve` (lib/serve/server.ts, in-process engine) against the simulated AKS cluster (sim/): each body
 * gets the exact status and code its file name states, the field at fault is named, and nothing starts: no
 * investigation is listed, serve sends not one request to the cluster, and no Job is ever created.
 *
 * Then two controls show that the same server and the same checks do see an investigation when one starts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snatAlert } from '../../sim/alerts.js';
import {
  captureObjectsLeft,
  jobsEverCreated,
  listedInvestigations,
  post,
  startServeOnSim,
  untilFinished,
} from './harness.js';
import type { ServeUnderTest, StatusView } from './harness.js';

const CORPUS = new URL('../fixtures/alerts-corpus/', import.meta.url);
const NAME = /^(\d{3})-([a-z]+(?:-[a-z]+)*)--[a-z0-9]+(?:-[a-z0-9]+)*\.json$/;

interface CorpusCase {
  readonly file: string;
  readonly about: string;
  readonly field?: string;
  readonly reason: readonly string[];
  readonly transform?: {
    readonly padToBytes?: number;
    readonly nest?: { readonly placeholder: string; readonly depth: number };
    readonly append?: { readonly text: string; readonly times: number };
  };
}

const index = JSON.parse(readFileSync(new URL('index.json', CORPUS), 'utf8')) as { cases: CorpusCase[] };
const cases = index.cases.map((c) => {
  const match = NAME.exec(c.file);
  return { ...c, status: Number(match?.[1] ?? NaN), code: match?.[2] ?? '' };
});

/** The bytes posted: the file, transformed as the index says. */
function bodyOf(c: CorpusCase): Uint8Array {
  let bytes = readFileSync(new URL(c.file, CORPUS));
  const nest = c.transform?.nest;
  if (nest) {
    const text = bytes.toString('utf8');
    if (!text.includes(nest.placeholder)) throw new Error(`${c.file}: no ${nest.placeholder} to expand`);
    bytes = Buffer.from(text.replace(nest.placeholder, '['.repeat(nest.depth) + ']'.repeat(nest.depth)), 'utf8');
  }
  const append = c.transform?.append;
  if (append) bytes = Buffer.concat([bytes, Buffer.from(append.text.repeat(append.times), 'utf8')]);
  const pad = c.transform?.padToBytes;
  if (pad !== undefined) bytes = Buffer.concat([bytes, Buffer.alloc(pad - bytes.length, 0x20)]);
  return new Uint8Array(bytes);
}

// The sim scenario's cluster is aks-shop-prod; its load balancer is the one sim/alerts.ts names.
const SUBSCRIPTION = '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
const ALLOWED_CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-shop-prod/providers/Microsoft.ContainerService/managedClusters/aks-shop-prod`;
const OTHER_CLUSTER =
  '/subscriptions/0b9d4c1e-7a2f-4e3d-8c6b-5a4f3e2d1c0b/resourceGroups/rg-other/providers/Microsoft.ContainerService/managedClusters/aks-other';
const ALLOWED_LB = `/subscriptions/${SUBSCRIPTION}/resourcegroups/mc_rg-shop-prod_aks-shop-prod_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const OTHER_LB =
  '/subscriptions/0b9d4c1e-7a2f-4e3d-8c6b-5a4f3e2d1c0b/resourcegroups/mc_rg-other_aks-other_westeurope/providers/microsoft.network/loadbalancers/kubernetes';

let serve: ServeUnderTest;
beforeAll(async () => {
  serve = await startServeOnSim({
    env: {
      SNAT_ALLOWED_CLUSTER_IDS: ALLOWED_CLUSTER,
      SNAT_LB_CLUSTER_MAP: JSON.stringify({ [ALLOWED_LB]: ALLOWED_CLUSTER, [OTHER_LB]: OTHER_CLUSTER }),
    },
  });
});
afterAll(() => serve?.close());

interface ErrorAnswer {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}
interface IgnoredAnswer {
  readonly accepted: boolean;
  readonly started: unknown[];
  readonly ignored: { readonly code: string; readonly reason: string };
}

describe('alert corpus on POST /api/alerts (snat-responder serve, in-process engine, simulated cluster): nothing starts', () => {
  it('the index lists every file of the corpus exactly once, and every name states a status and a code', () => {
    const files = readdirSync(CORPUS)
      .filter((f) => f !== 'index.json')
      .sort();
    expect(cases.map((c) => c.file).sort()).toEqual(files);
    for (const c of cases) {
      expect(NAME.test(c.file), c.file).toBe(true);
      expect([202, 400, 413]).toContain(c.status);
    }
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('$file: $about', async (c) => {
    const requestsBefore = serve.sim.requests();
    const res = await post(serve.url, '/api/alerts', bodyOf(c));

    expect(res.status).toBe(c.status);
    if (c.status === 202) {
      const body = res.body as IgnoredAnswer;
      expect(body).toMatchObject({ accepted: true, started: [], ignored: { code: c.code } });
      for (const fragment of c.reason) expect(body.ignored.reason).toContain(fragment);
    } else {
      const { error } = res.body as ErrorAnswer;
      expect(error.code).toBe(c.code);
      expect(error.field).toBe(c.field);
      // The field at fault is named in the message too (the reason a person reads).
      if (c.field !== undefined) expect(error.message).toContain(c.field);
      for (const fragment of c.reason) expect(error.message).toContain(fragment);
    }

    // Nothing started: no claim, not one request to the cluster, nothing listed.
    expect(serve.server.started()).toBe(0);
    expect(serve.sim.requests()).toBe(requestsBefore);
    expect(await listedInvestigations(serve.url)).toEqual([]);
  });

  it('after the whole corpus, no Job was ever created and none is in the capture namespace', async () => {
    expect(await jobsEverCreated(serve.sim)).toEqual([]);
    expect(await captureObjectsLeft(serve.sim)).toEqual({ jobs: [], pods: [] });
    expect(serve.sim.jobs()).toEqual([]);
    expect(serve.logs).toEqual([]);
  });
});

describe('controls: the same server and checks do see an investigation that starts', () => {
  const alert = (nodeIp: string): string => JSON.stringify(snatAlert({ nodeIp, firedAt: new Date() }));
  const started = (body: unknown) =>
    (body as { investigations: Array<{ id: string; started: boolean }> }).investigations;

  it('a valid alert for node 10.224.0.4: one investigation, one Job, reported, the Job deleted', async () => {
    const res = await post(serve.url, '/api/alerts', alert('10.224.0.4'));
    expect(res.status).toBe(202);
    const [first] = started(res.body);
    expect(first).toMatchObject({ started: true });
    const done = await untilFinished(serve.url, first!.id);
    expect(done.status).toMatchObject({ status: 'completed', outcome: 'reported' });
    expect(await listedInvestigations(serve.url)).toEqual([first!.id]);
    expect(await jobsEverCreated(serve.sim)).toHaveLength(1);
    expect(await captureObjectsLeft(serve.sim)).toEqual({ jobs: [], pods: [] });
  });

  it('a valid IPv6 literal no node has: started, ends target-not-found naming it, no Job created', async () => {
    const res = await post(serve.url, '/api/alerts', alert('fd00:e0::4'));
    expect(res.status).toBe(202);
    const [first] = started(res.body);
    expect(first).toMatchObject({ started: true, target: { nodeIp: 'fd00:e0::4' } });
    const done = await untilFinished(serve.url, first!.id);
    expect(done.status).toMatchObject<Partial<StatusView>>({ status: 'completed', outcome: 'target-not-found' });
    expect(done.status.message).toContain('fd00:e0::4');
    expect(await jobsEverCreated(serve.sim)).toHaveLength(1);
    expect(serve.server.started()).toBe(2);
  });
});
