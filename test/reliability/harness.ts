/**
 * What the reliability suites share: `snat-responder serve`'s server (lib/serve/server.ts, the in-process engine)
 * started in this process against the simulated AKS cluster (sim/), settings read by the command's own
 * `serveSettings`, and the checks of what the cluster saw, made through the sim's Kubernetes API with the real client.
 *
 * Not AKS, not the Functions host: a loopback API server answering from a scenario, and the workflow's local driver.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import type { BlobReportStore } from '../../lib/azure/blob-store.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { DEFAULT_CAPTURE_NAMESPACE } from '../../lib/k8s/capture-job.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer } from '../../lib/serve/server.js';
import { startSim } from '../../sim/server.js';
import type { Faults, RunningSim, ScenarioInput } from '../../sim/server.js';

export const CAPTURE_NAMESPACE = DEFAULT_CAPTURE_NAMESPACE;

/**
 * The workflow's timing: the production defaults (orchestrations/investigate.ts DEFAULT_TIMING: polls 1-2 s, 20 s
 * grace for a stuck pod) shrunk five- to twenty-fold, with the sim's Job timeline at 1/20 of real time to match.
 */
export const SHORT_TIMING = { pollIntervalMs: 200, maxPollIntervalMs: 500, stuckGraceMs: 1_000 } as const;
export const SIM_TIME_SCALE = 0.05;

export interface ServeUnderTest {
  readonly sim: RunningSim;
  readonly server: RunningServer;
  readonly url: string;
  /** What serve logged (failed investigations, request errors). */
  readonly logs: string[];
  close(): Promise<void>;
}

export interface ServeUnderTestOptions {
  readonly scenario?: string | ScenarioInput;
  /** App settings (SNAT_*), read by `snat-responder serve`'s own settings loader. */
  readonly env?: Record<string, string>;
  readonly blob?: BlobReportStore | null;
  /** Per request to the API server; `snat-responder serve` uses the client's default of 30 s. */
  readonly requestTimeoutMs?: number;
  /** Capture window of alert-started investigations. */
  readonly captureSeconds?: number;
  readonly faults?: Partial<Faults>;
}

export async function startServeOnSim(options: ServeUnderTestOptions = {}): Promise<ServeUnderTest> {
  const sim = await startSim({
    scenario: options.scenario ?? 'default',
    timeScale: SIM_TIME_SCALE,
    ...(options.faults ? { faults: options.faults } : {}),
  });
  const logs: string[] = [];
  try {
    const kc = sim.kubeConfig();
    const server = await startServe({
      clients: makeKubeClients(kc, { requestTimeoutMs: options.requestTimeoutMs ?? 5_000 }),
      clusterName: kc.getCurrentCluster()?.name ?? 'sim',
      settings: serveSettings(options.env ?? {}).settings,
      classifier: new AddressClassifier(),
      blob: options.blob ?? null,
      outDir: mkdtempSync(join(tmpdir(), 'snat-reliability-')),
      captureSeconds: options.captureSeconds ?? 1,
      run: { timing: SHORT_TIMING },
      log: (m) => logs.push(m),
    });
    return {
      sim,
      server,
      url: server.url,
      logs,
      async close() {
        await server.close();
        await sim.close();
      },
    };
  } catch (e) {
    await sim.close();
    throw e;
  }
}

export interface HttpAnswer {
  readonly status: number;
  /** The JSON body, or the raw text when it is not JSON. */
  readonly body: unknown;
}

async function answerOf(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text };
  }
}

export async function post(
  url: string,
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return answerOf(res);
}

export async function get(url: string, path: string): Promise<HttpAnswer> {
  return answerOf(await fetch(`${url}${path}`));
}

/** The fields of GET /api/investigations/{id} the suites read (lib/intake/http.ts `StatusBody`). */
export interface StatusView {
  readonly id: string;
  readonly status: string;
  readonly phase: string | null;
  readonly outcome: string | null;
  readonly message: string | null;
  readonly summary: { readonly topPod: string | null; readonly pods: number; readonly degraded: number } | null;
  readonly report: { readonly links: { json: string } | null; readonly keys: { json: string } } | null;
}

export interface Finished {
  readonly status: StatusView;
  /** Every phase seen while polling, in order. */
  readonly phases: string[];
  readonly ms: number;
}

/**
 * Polls the status until the investigation is neither pending nor running. `onPhase` is called once per new phase
 * (fault injection at a point of the workflow). Fails the test past `timeoutMs`: a hang is a finding.
 */
export async function untilFinished(
  url: string,
  id: string,
  options: { timeoutMs?: number; onPhase?: (phase: string) => void } = {},
): Promise<Finished> {
  const started = performance.now();
  const deadline = started + (options.timeoutMs ?? 45_000);
  const phases: string[] = [];
  for (;;) {
    const { status, body } = await get(url, `/api/investigations/${encodeURIComponent(id)}`);
    if (status !== 200) throw new Error(`GET /api/investigations/${id}: HTTP ${status} ${JSON.stringify(body)}`);
    const view = body as StatusView;
    if (view.phase !== null && phases.at(-1) !== view.phase) {
      phases.push(view.phase);
      options.onPhase?.(view.phase);
    }
    if (view.status !== 'pending' && view.status !== 'running') {
      return { status: view, phases, ms: performance.now() - started };
    }
    if (performance.now() > deadline) {
      throw new Error(`investigation ${id} still ${view.status} (phase ${view.phase}) after ${options.timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Ids listed by GET /api/investigations (the recent ones, newest first). */
export async function listedInvestigations(url: string): Promise<string[]> {
  const { status, body } = await get(url, '/api/investigations?limit=100');
  if (status !== 200) throw new Error(`GET /api/investigations: HTTP ${status}`);
  return (body as { investigations: Array<{ id: string }> }).investigations.map((i) => i.id);
}

function apis(sim: RunningSim): { core: CoreV1Api; batch: BatchV1Api } {
  const kc = sim.kubeConfig();
  return { core: kc.makeApiClient(CoreV1Api), batch: kc.makeApiClient(BatchV1Api) };
}

/**
 * Jobs ever created in the cluster, from the job controller's `SuccessfulCreate` events (they outlive the Jobs,
 * which the workflow deletes): one per Job, as the Job controller creates one pod per capture Job.
 */
export async function jobsEverCreated(sim: RunningSim): Promise<Array<{ namespace: string; name: string }>> {
  const { core } = apis(sim);
  const events = await core.listEventForAllNamespaces({
    fieldSelector: 'involvedObject.kind=Job,reason=SuccessfulCreate',
  });
  return events.items.map((e) => ({
    namespace: e.involvedObject.namespace ?? '',
    name: e.involvedObject.name ?? '',
  }));
}

/** Jobs and pods in the capture namespace now, as the API lists them (the namespace may not exist: none). */
export async function captureObjectsLeft(sim: RunningSim): Promise<{ jobs: string[]; pods: string[] }> {
  const { core, batch } = apis(sim);
  const namespaces = (await core.listNamespace()).items.map((n) => n.metadata?.name);
  if (!namespaces.includes(CAPTURE_NAMESPACE)) return { jobs: [], pods: [] };
  const jobs = await batch.listNamespacedJob({ namespace: CAPTURE_NAMESPACE });
  const pods = await core.listNamespacedPod({ namespace: CAPTURE_NAMESPACE });
  return {
    jobs: jobs.items.map((j) => j.metadata?.name ?? ''),
    pods: pods.items.map((p) => p.metadata?.name ?? ''),
  };
}

/** A report's `degraded` list, read back through the link the status gives (serve's folder output). */
export async function reportOf(view: StatusView): Promise<{
  degraded: Array<{ step: string; reason: string }>;
  capture: { status: string };
  pods: Array<{ namespace: string; name: string }>;
}> {
  const link = view.report?.links?.json;
  if (!link) throw new Error(`investigation ${view.id} has no report link`);
  const res = await fetch(link);
  if (res.status !== 200) throw new Error(`GET ${link}: HTTP ${res.status}`);
  return (await res.json()) as Awaited<ReturnType<typeof reportOf>>;
}
