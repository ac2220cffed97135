/**
 * lib/k8s through the real @kubernetes/client-node 1.4.0 against the simulated AKS cluster (sim/): node lookup,
 * pods with owners, the capture Job's whole lifecycle, injected faults, retries. Real client, simulated server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { kubeConfigFromFile, kubeConfigFromToken, makeKubeClients } from '../../lib/k8s/access.js';
import type { KubeClients } from '../../lib/k8s/access.js';
import { buildCaptureJob, captureJobName } from '../../lib/k8s/capture-job.js';
import { captureEvidenceOf } from '../../lib/k8s/capture-evidence.js';
import {
  captureStatus,
  createCaptureJob,
  deleteCaptureJob,
  ensureCaptureNamespace,
  readCaptureLog,
  sweepOrphanJobs,
} from '../../lib/k8s/capture-lifecycle.js';
import type { CaptureJobStatus } from '../../lib/k8s/capture-lifecycle.js';
import { parseCaptureLog } from '../../lib/k8s/capture-log.js';
import { isKubeError } from '../../lib/k8s/errors.js';
import { listAll } from '../../lib/k8s/list.js';
import { findNode } from '../../lib/k8s/nodes.js';
import { listPodsOnNode } from '../../lib/k8s/pods.js';
import type { RetryInfo } from '../../lib/k8s/retry.js';

const NS = 'snat-responder-capture';
const NODE = 'aks-nodepool1-12345678-vmss000000';
const NODE_40 = 'aks-nodepool1-12345678-vmss000001';

let sim: RunningSim;
let sleeps: number[] = [];
let retries: RetryInfo[] = [];
let clients: KubeClients;

/** Clients whose retry sleeps are recorded (and skipped), so Retry-After can be checked without waiting. */
const clientsOf = (s: RunningSim): KubeClients =>
  makeKubeClients(s.kubeConfig(), {
    requestTimeoutMs: 5000,
    retry: {
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      random: () => 0,
      onRetry: (info) => retries.push(info),
    },
  });

async function waitFor(
  c: KubeClients,
  name: string,
  done: (s: CaptureJobStatus) => boolean,
  timeoutMs = 10_000,
): Promise<CaptureJobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await captureStatus(c, NS, name);
    if (done(status)) return status;
    if (Date.now() > deadline) throw new Error(`capture ${name} still ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let counter = 0;
const nextId = () => `it-${process.pid}-${++counter}`;

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.01 });
  clients = clientsOf(sim);
  await ensureCaptureNamespace(clients, NS);
});
afterEach(() => {
  sim.setFaults({
    rateLimit: 0,
    serverErrors: 0,
    jobUnschedulable: false,
    jobImagePullFailure: false,
    jobDeadlineExceeded: false,
    jobPodFails: false,
    logCutShort: false,
  });
  sleeps = [];
  retries = [];
});
afterAll(async () => {
  await sim?.close();
});

describe('findNode against the sim', () => {
  it('by exact InternalIP: 10.224.0.4 is not 10.224.0.40', async () => {
    expect((await findNode(clients, { ip: '10.224.0.4' })).name).toBe(NODE);
    expect((await findNode(clients, { ip: '10.224.0.40' })).name).toBe(NODE_40);
    expect(sim.expected).toMatchObject({ node: NODE, nodeIp: '10.224.0.4' });
  });

  it('by canonical text: an IPv4-mapped form finds the same node', async () => {
    expect((await findNode(clients, { ip: '::ffff:10.224.0.4' })).name).toBe(NODE);
    expect((await findNode(clients, { ip: ' 10.224.0.4 ' })).name).toBe(NODE);
  });

  it('by name, with the node facts', async () => {
    const node = await findNode(clients, { name: NODE });
    expect(node).toMatchObject({ name: NODE, internalIps: ['10.224.0.4'], ready: true, unschedulable: false });
    expect(node.providerId).toMatch(/^azure:\/\/\/subscriptions\//);
  });

  it('an unknown IP or name is a typed error naming it', async () => {
    const byIp = await findNode(clients, { ip: '10.224.0.5' }).catch((e: unknown) => e);
    expect(isKubeError(byIp, 'not-found')).toBe(true);
    expect((byIp as Error).message).toMatch(
      /^no node has InternalIP 10\.224\.0\.5 \(2 node\(s\) in the cluster at http:\/\/127\.0\.0\.1:\d+\)$/,
    );
    const byName = await findNode(clients, { name: 'aks-nodepool1-12345678-vmss000009' }).catch((e: unknown) => e);
    expect(isKubeError(byName, 'not-found')).toBe(true);
    expect((byName as Error).message).toContain('"aks-nodepool1-12345678-vmss000009"');
  });

  it('an invalid IP is refused before any request', async () => {
    const before = sim.requests();
    for (const ip of ['10.224.0', '10.224.0.4/32', '10.224.0.4:443', '0x0a.0.0.4', '010.224.0.4', 'node-1', '']) {
      const e = await findNode(clients, { ip }).catch((err: unknown) => err);
      expect(isKubeError(e, 'invalid'), ip).toBe(true);
    }
    expect(sim.requests()).toBe(before);
  });
});

describe('listPodsOnNode against the sim', () => {
  it('only this node, owners through ReplicaSet to Deployment, hostNetwork, canonical IPs, snapshot time', async () => {
    const now = new Date('2026-11-26T10:00:00Z');
    const set = await listPodsOnNode(clients, NODE, { now: () => now });
    expect(set.takenAt).toBe('2026-11-26T10:00:00.000Z');
    expect(set.nodeName).toBe(NODE);
    const expected = sim.world.pods
      .filter((p) => p.nodeName === NODE)
      .map((p) => `${p.namespace}/${p.name}`)
      .sort();
    expect(set.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(expected);
    expect(set.pods.every((p) => p.nodeName === NODE)).toBe(true);

    const checkout = set.pods.find((p) => p.name === 'checkout-7d9f8b6c5d-x2k4p')!;
    expect(checkout).toMatchObject({
      namespace: 'shop',
      owner: 'Deployment/checkout',
      ownerSource: 'api',
      hostNetwork: false,
      ips: ['10.244.0.12'],
      images: ['shopacr.azurecr.io/shop/checkout:2.14.1'],
      phase: 'Running',
    });
    expect(checkout.labels.app).toBe('checkout');
    expect(checkout.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(checkout.containers[0]).toMatchObject({ name: 'checkout', ready: true, running: true });
    expect(checkout.startTime).not.toBeNull();

    const daemon = set.pods.find((p) => p.hostNetwork)!;
    expect(daemon.owner).toMatch(/^DaemonSet\//);
    expect(daemon.ownerSource).toBe('reference');
    expect(set.notes).toEqual([]);
  });

  it('ReplicaSet lookups are cached per call: one GET per ReplicaSet', async () => {
    const before = sim.requests();
    const set = await listPodsOnNode(clients, NODE);
    const replicaSets = new Set(set.pods.filter((p) => p.ownerSource === 'api').map((p) => p.owner));
    const used = sim.requests() - before;
    // One list page, plus one GET per distinct ReplicaSet (each Deployment here has one).
    expect(used).toBe(1 + replicaSets.size);
  });

  it('paged lists follow the continue token to the end', async () => {
    const before = sim.requests();
    const pods = await listAll(
      'list pods',
      clients.retry,
      (page) => clients.core.listPodForAllNamespaces({ ...page, fieldSelector: `spec.nodeName=${NODE}` }),
      3,
    );
    const expected = sim.world.pods.filter((p) => p.nodeName === NODE).length;
    expect(pods).toHaveLength(expected);
    expect(new Set(pods.map((p) => p.metadata!.uid)).size).toBe(expected);
    expect(sim.requests() - before).toBe(Math.ceil(expected / 3) + (expected % 3 === 0 ? 1 : 0));
  });

  it('a node name that would extend the field selector is refused', async () => {
    const e = await listPodsOnNode(clients, `${NODE},metadata.namespace=kube-system`).catch((err: unknown) => err);
    expect(isKubeError(e, 'invalid')).toBe(true);
  });
});

describe('the capture Job lifecycle against the sim', () => {
  it('ensureCaptureNamespace created it privileged; a second call only reads it', async () => {
    const again = await ensureCaptureNamespace(clients, NS);
    expect(again).toEqual({ namespace: NS, created: false, verified: true, enforce: 'privileged' });
  });

  it('create twice -> the same Job; runs; log parsed; evidence joined; delete leaves no Job', async () => {
    const id = nextId();
    const job = buildCaptureJob({ investigationId: id, nodeName: NODE, captureSeconds: 5 });
    const first = await createCaptureJob(clients, job);
    const second = await createCaptureJob(clients, job);
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.job.metadata!.uid).toBe(first.job.metadata!.uid);
    expect(sim.jobs().filter((j) => j.name === captureJobName(id, NODE))).toHaveLength(1);

    const status = await waitFor(clients, job.metadata!.name!, (s) => s.phase === 'succeeded' || s.phase === 'failed');
    expect(status).toMatchObject({ phase: 'succeeded', reason: null });
    expect(status.podName).toMatch(new RegExp(`^${job.metadata!.name!}-[a-z0-9]{5}$`));

    const log = await readCaptureLog(clients, NS, status.podName!);
    expect(log.limited).toBe(false);
    const parsed = parseCaptureLog(log.text);
    if (!parsed.ok) throw new Error(parsed.problem.message);
    expect(parsed.value.trailer!.status).toBe('ok');
    expect(parsed.value.cut).toBe(false);
    expect(parsed.value.begin).toMatchObject({ tracer: 'bcc', captureSeconds: 5 });
    expect(parsed.value.tcptracer!.capture!.events.connect).toBeGreaterThan(0);

    const pods = await listPodsOnNode(clients, NODE);
    const pieces = captureEvidenceOf(parsed.value, pods.pods, { origin: `job ${NS}/${job.metadata!.name!}` });
    const culprit = pieces.netns.find((e) => e.owner.kind === 'pod' && e.owner.name === 'checkout-7d9f8b6c5d-x2k4p');
    expect(culprit).toBeDefined();
    expect(pieces.pods.find((p) => p.name === 'checkout-7d9f8b6c5d-x2k4p')!.netns).toBe(culprit!.netns);
    const census = pieces.censuses.find((c) => c.name === 'checkout-7d9f8b6c5d-x2k4p')!;
    expect(census.document.summary.publicDestinations[0]).toEqual({ endpoint: '20.60.1.9:443', count: 870 });
    expect(census.document.summary.byState.SYN_SENT).toBe(64);
    expect(pieces.hostCensuses.length).toBeGreaterThan(0);
    expect(pieces.capture.status).toBe('complete');

    expect(await deleteCaptureJob(clients, NS, job.metadata!.name!)).toBe('deleted');
    expect(sim.jobs()).toEqual([]);
    expect(sim.pods().filter((p) => p.namespace === NS)).toEqual([]);
    expect(await deleteCaptureJob(clients, NS, job.metadata!.name!)).toBe('absent');
  });

  it('the log read is bounded by limitBytes and says so', async () => {
    const job = buildCaptureJob({ investigationId: nextId(), nodeName: NODE, captureSeconds: 5 });
    await createCaptureJob(clients, job);
    const status = await waitFor(clients, job.metadata!.name!, (s) => s.phase === 'succeeded');
    const log = await readCaptureLog(clients, NS, status.podName!, { limitBytes: 4096 });
    expect(log.bytes).toBeLessThanOrEqual(4096);
    expect(log.limited).toBe(true);
    const parsed = parseCaptureLog(log.text);
    expect(parsed.ok && parsed.value.cut).toBe(true);
    await deleteCaptureJob(clients, NS, job.metadata!.name!);
  });

  it.each([
    ['jobUnschedulable', 'pending', 'unschedulable', /Insufficient cpu/],
    ['jobImagePullFailure', 'pending', 'image-pull', /ErrImagePull|ImagePullBackOff/],
  ] as const)('%s -> %s / %s, and delete still leaves nothing', async (fault, phase, reason, message) => {
    sim.setFaults({ [fault]: true });
    const job = buildCaptureJob({ investigationId: nextId(), nodeName: NODE, captureSeconds: 600 });
    await createCaptureJob(clients, job);
    const status = await waitFor(clients, job.metadata!.name!, (s) => s.reason !== null);
    expect(status).toMatchObject({ phase, reason });
    expect(status.message).toMatch(message);
    await deleteCaptureJob(clients, NS, job.metadata!.name!);
    expect(sim.jobs()).toEqual([]);
  });

  it('jobDeadlineExceeded -> failed / deadline-exceeded', async () => {
    sim.setFaults({ jobDeadlineExceeded: true });
    const job = buildCaptureJob({
      investigationId: nextId(),
      nodeName: NODE,
      captureSeconds: 5,
      deadlineMarginSeconds: 30,
    });
    await createCaptureJob(clients, job);
    const status = await waitFor(clients, job.metadata!.name!, (s) => s.phase === 'failed');
    expect(status).toMatchObject({ phase: 'failed', reason: 'deadline-exceeded' });
    await deleteCaptureJob(clients, NS, job.metadata!.name!);
    expect(sim.jobs()).toEqual([]);
  });

  it('jobPodFails -> failed / failed, with the exit code', async () => {
    sim.setFaults({ jobPodFails: true });
    const job = buildCaptureJob({ investigationId: nextId(), nodeName: NODE, captureSeconds: 5 });
    await createCaptureJob(clients, job);
    const status = await waitFor(clients, job.metadata!.name!, (s) => s.phase === 'failed');
    expect(status.reason).toBe('failed');
    expect(status.message).toMatch(/exit|Backoff|Error/i);
    await deleteCaptureJob(clients, NS, job.metadata!.name!);
  });

  it('logCutShort -> the parser keeps complete sections and flags the cut', async () => {
    sim.setFaults({ logCutShort: true });
    const job = buildCaptureJob({ investigationId: nextId(), nodeName: NODE, captureSeconds: 5 });
    await createCaptureJob(clients, job);
    const status = await waitFor(clients, job.metadata!.name!, (s) => s.phase === 'succeeded' || s.phase === 'failed');
    const parsed = parseCaptureLog((await readCaptureLog(clients, NS, status.podName!)).text);
    if (!parsed.ok) throw new Error(parsed.problem.message);
    expect(parsed.value.cut).toBe(true);
    expect(parsed.value.trailer).toBeNull();
    const pieces = captureEvidenceOf(parsed.value, [], { origin: 'sim' });
    expect(pieces.degraded.map((d) => d.reason)).toContain(
      'the capture log has no trailer (cut short: deadline, log size or rotation); complete sections are used',
    );
    await deleteCaptureJob(clients, NS, job.metadata!.name!);
  });

  it('orphan sweep: deletes capture Jobs past their deadline, keeps live ones', async () => {
    const job = buildCaptureJob({ investigationId: nextId(), nodeName: NODE, captureSeconds: 600 });
    await createCaptureJob(clients, job);
    const name = job.metadata!.name!;
    const kept = await sweepOrphanJobs(clients, NS, new Date());
    expect(kept).toEqual({ deleted: [], kept: [name], failed: [] });
    expect(sim.jobs().map((j) => j.name)).toEqual([name]);
    // 600 s window + 120 s margin + 60 s grace later: an orphan.
    const later = new Date(Date.now() + (600 + 120 + 61) * 1000);
    expect(await sweepOrphanJobs(clients, NS, later)).toEqual({ deleted: [name], kept: [], failed: [] });
    expect(sim.jobs()).toEqual([]);
  });
});

describe('transient faults through the real client', () => {
  it('429 with Retry-After: retried, the wait honoured', async () => {
    sim.setFaults({ rateLimit: 2 });
    const node = await findNode(clients, { ip: '10.224.0.4' });
    expect(node.name).toBe(NODE);
    expect(sleeps).toEqual([1000, 1000]);
    expect(retries.map((r) => [r.attempt, r.retryAfterMs])).toEqual([
      [1, 1000],
      [2, 1000],
    ]);
  });

  it('500: classified transient and retried', async () => {
    sim.setFaults({ serverErrors: 1 });
    const set = await listPodsOnNode(clients, NODE);
    expect(set.pods.length).toBeGreaterThan(0);
    expect(retries).toHaveLength(1);
    expect(isKubeError(retries[0]!.error)).toBe(false);
    expect((retries[0]!.error as { code?: number }).code).toBe(500);
  });

  it('500 that does not stop: a server error naming the operation after the attempts', async () => {
    sim.setFaults({ serverErrors: 10 });
    const e = await findNode(clients, { name: NODE }).catch((err: unknown) => err);
    expect(isKubeError(e, 'server')).toBe(true);
    expect((e as Error).message).toMatch(new RegExp(`^get node ${NODE}: HTTP 500`));
    expect(retries).toHaveLength(3);
  });

  it('create under 429: still exactly one Job', async () => {
    const job = buildCaptureJob({ investigationId: nextId(), nodeName: NODE, captureSeconds: 5 });
    sim.setFaults({ rateLimit: 1 });
    const created = await createCaptureJob(clients, job);
    expect(created.created).toBe(true);
    expect(sim.jobs()).toHaveLength(1);
    await deleteCaptureJob(clients, NS, job.metadata!.name!);
    expect(sim.jobs()).toEqual([]);
  });
});

describe('access paths against the sim', () => {
  let tls: RunningSim;
  const dir = mkdtempSync(join(tmpdir(), 'snat-sim-kubeconfig-'));
  beforeAll(async () => {
    tls = await startSim({ scenario: 'default', tls: true, timeScale: 0.01 });
  });
  afterAll(async () => {
    await tls?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kubeConfigFromToken: https, CA verified, bearer token (the Azure shape)', async () => {
    const kc = kubeConfigFromToken({ server: tls.url, caData: tls.caPem!, token: tls.token });
    const c = makeKubeClients(kc);
    expect((await findNode(c, { ip: '10.224.0.4' })).name).toBe(NODE);
  });

  it('a wrong token is unauthorized, not retried', async () => {
    const kc = kubeConfigFromToken({ server: tls.url, caData: tls.caPem!, token: 'wrong' });
    const e = await findNode(makeKubeClients(kc), { name: NODE }).catch((err: unknown) => err);
    expect(isKubeError(e, 'unauthorized')).toBe(true);
  });

  it('kubeConfigFromFile with the kubeconfig the sim prints', async () => {
    const path = join(dir, 'config');
    writeFileSync(path, tls.kubeconfig);
    const c = makeKubeClients(kubeConfigFromFile(path));
    expect((await findNode(c, { name: NODE })).internalIps).toEqual(['10.224.0.4']);
  });
});
