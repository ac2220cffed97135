/**
 * The Functions app's production composition (lib/azure/activity-factory.ts) run in-process, not under the Functions
 * host: `investigateSnat` driven by the local driver (lib/workflow/driver.ts), each activity's context built by
 * `azureActivityFactory` from the scope in the activity's input, exactly as the registered activity handlers do.
 * Everything below it is real client code against loopback stand-ins: the ARM sim over HTTPS (cluster lookup by node
 * resource group, listClusterUserCredential, Azure Monitor metrics) with a stub TokenCredential, the Kubernetes sim
 * over HTTPS that the ARM sim's kubeconfig points at (Entra mode: the stub's AKS token is the bearer), and Azurite
 * for the report and the evidence. Not covered: the Functions host, the Durable extension, managed identity.
 */
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult } from '../../orchestrations/investigate.js';
import { azureActivityFactory, isActivityHostError } from '../../lib/azure/activity-factory.js';
import type { AzureActivityFactory, AzureActivityFactoryDeps } from '../../lib/azure/activity-factory.js';
import { AKS_SERVER_SCOPE } from '../../lib/azure/kube-access.js';
import { loadSettings } from '../../lib/config/settings.js';
import type { Report } from '../../lib/report/model.js';
import { CLEANUP_ACTIVITIES, INVESTIGATION_ACTIVITIES } from '../../lib/workflow/activities/index.js';
import { activityScopeOf } from '../../lib/workflow/activity-host.js';
import { runWorkflow } from '../../lib/workflow/driver.js';
import { startArmSim } from '../../sim/arm.js';
import type { RunningArmSim } from '../../sim/arm.js';
import { AZURITE_KEY, azuriteConnectionString } from '../../sim/azurite.js';
import { InvocationContext } from '@azure/functions';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { stubCredential } from '../fixtures/azure/arm/stub-credential.js';
import { loadApp } from '../helpers/df-harness.js';

const ENTRA_TOKEN = 'entra-token-for-the-kube-sim';
const OTHER_CLUSTER =
  '/subscriptions/6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c/resourceGroups/rg-other/providers/Microsoft.ContainerService/managedClusters/aks-other';
const noSleep = { sleep: () => Promise.resolve(), random: () => 0 };

let kube: RunningSim;
let arm: RunningArmSim;

beforeAll(async () => {
  // Jobs run at 1/20 of real time; the sim accepts exactly the Entra token the stub credential hands out for AKS.
  kube = await startSim({ scenario: 'default', tls: true, token: ENTRA_TOKEN, timeScale: 0.05 });
  // The default ARM data: the scenario's cluster, its `kubernetes` load balancer, its nodes' SNAT metrics.
  arm = await startArmSim({ kube: { url: kube.url, caPem: kube.caPem!, token: kube.token } });
});
afterAll(async () => {
  await arm?.close();
  await kube?.close();
});

function factoryOf(
  env: Record<string, string> = {},
  overrides: Partial<AzureActivityFactoryDeps> = {},
): AzureActivityFactory {
  const settings = loadSettings({
    SNAT_TASK_HUB: 'snathub',
    SNAT_REPORT_STORAGE: azuriteConnectionString(inject('azuriteBlobUrl')),
    SNAT_REPORT_CONTAINER: `af-${randomUUID().slice(0, 8)}`,
    SNAT_ARM_ENDPOINT: arm.url,
    SNAT_CENSUS_CONCURRENCY: '4',
    ...env,
  });
  return azureActivityFactory({
    settings,
    credential: stubCredential({ [AKS_SERVER_SCOPE]: ENTRA_TOKEN }),
    caPem: arm.caPem,
    kubeClientOptions: { requestTimeoutMs: 5_000, retry: noSleep },
    armRetry: noSleep,
    ...overrides,
  });
}

let invocations = 0;

/** What the Durable host does per activity, in-process: the context from the factory, the scope from the input. */
function investigate(factory: AzureActivityFactory, input: InvestigationInput): Promise<InvestigationResult> {
  return runWorkflow(investigateSnat, input, {
    activities: INVESTIGATION_ACTIVITIES,
    cleanupActivities: CLEANUP_ACTIVITIES,
    context: (activity, _signal, activityInput) =>
      factory.create(
        activity,
        { invocationId: `invocation-${++invocations}`, functionName: activity },
        activityScopeOf(activityInput),
      ),
  });
}

/** A 10-minute alert window on minute boundaries (ten PT1M points of the ARM sim's metrics). */
const WINDOW_MINUTES = 10;
function alertWindow(): { start: string; end: string } {
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  return { start: new Date(end - WINDOW_MINUTES * 60_000).toISOString(), end: new Date(end).toISOString() };
}

function inputOf(scope: InvestigationInput['scope']): InvestigationInput {
  return {
    investigationId: `af-${randomUUID().slice(0, 8)}`,
    node: { ip: kube.expected.nodeIp },
    captureSeconds: 1,
    trigger: { kind: 'alert', source: 'aks-shop-prod-used-snat-ports', alertId: null },
    timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 },
    notify: false,
    ...(scope ? { scope } : {}),
    alertWindow: alertWindow(),
  };
}

async function blobNames(factory: AzureActivityFactory, prefix: string): Promise<string[]> {
  const container = BlobServiceClient.fromConnectionString(
    azuriteConnectionString(inject('azuriteBlobUrl')),
  ).getContainerClient(factory.reportStore.containerName);
  const names: string[] = [];
  for await (const b of container.listBlobsFlat({ prefix })) names.push(b.name);
  return names.sort();
}

const credentialCalls = () => arm.requests().filter((r) => /listClusterUserCredential$/i.test(r.path));
const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;

describe('azureActivityFactory: the production composition, in-process (not under the Functions host)', () => {
  it('an alert scope naming only the load balancer: cluster found by node resource group, report + evidence in Blob, metrics from Azure Monitor, no Job left', async () => {
    const factory = factoryOf();
    arm.clearRequests();
    const input = inputOf({ loadBalancerId: arm.ids.loadBalancerId });
    const result = await investigate(factory, input);
    expect(result.outcome).toBe('reported');
    if (result.outcome !== 'reported') return;

    const report = JSON.parse(await factory.reportStore.read(result.report.json)) as Report;
    expect(report.cluster).toEqual({ resourceId: arm.ids.clusterId, name: 'aks-shop-prod' });
    expect(report.node).toEqual({ name: kube.expected.node, ip: kube.expected.nodeIp });
    expect(key(report.pods[0]!)).toBe(kube.expected.culprit);
    const node = kube.scenario.nodes.find((n) => n.internalIP === kube.expected.nodeIp)!;
    // The ARM sim's metrics for that backend IP: allocation, the used-ports peak, 12 failed connections a minute.
    expect(report.snat).toEqual({
      allocatedPorts: node.snat!.allocatedPorts,
      usedPorts: node.snat!.usedPorts,
      failedConnections: 12 * WINDOW_MINUTES,
    });
    expect(report.degraded.map((d) => d.step)).not.toContain('snat metrics');
    expect(result.cleanup).toBe('deleted');
    expect(kube.jobs()).toEqual([]);

    // Files under the report layout: <cluster>/<node>/<yyyy>/<mm>/<dd>/<id>/, the raw capture next to the report.
    const day = report.window.start!.slice(0, 10).replace(/-/g, '/');
    const folder = `aks-shop-prod/${kube.expected.node}/${day}/${input.investigationId}`;
    expect(await blobNames(factory, 'aks-shop-prod/')).toEqual(
      ['capture.log', 'report.html', 'report.json', 'report.md'].map((f) => `${folder}/${f}`),
    );
    expect(result.rawCapture).toBe(factory.reportStore.blobUrl(`${folder}/capture.log`));
    expect(report.artifacts.rawCapture).toBe(result.rawCapture);
    expect(await factory.reportStore.read(result.rawCapture!)).toMatch(/\S/);

    // The evidence, under the prefix infra's lifecycle rule deletes after 7 days.
    const evidence = await blobNames(factory, '_evidence/');
    const base = `_evidence/${day}/${input.investigationId}`;
    expect(evidence).toEqual(
      expect.arrayContaining([
        `${base}/pods.json`,
        `${base}/census/0.json`,
        `${base}/capture.json`,
        `${base}/report.json`,
      ]),
    );
    expect(evidence.every((n) => n.startsWith(`${base}/`))).toBe(true);

    // ARM: the cluster list once (node resource group match), the kube credentials once for every activity (cached
    // clients), the node's metrics for its IP on that load balancer.
    const paths = arm.requests().map((r) => `${r.method} ${r.path}`);
    expect(paths.filter((p) => /managedClusters$/i.test(p))).toHaveLength(1);
    expect(credentialCalls()).toHaveLength(1);
    const metrics = arm.requests().filter((r) => /metrics$/i.test(r.path));
    expect(metrics.length).toBe(2);
    for (const m of metrics) {
      expect(m.path.toLowerCase()).toBe(`${arm.ids.loadBalancerId}/providers/microsoft.insights/metrics`);
      expect(new URL(m.url, arm.url).searchParams.get('$filter')).toContain(
        `BackendIPAddress eq '${kube.expected.nodeIp}'`,
      );
    }
  });

  it('Azure Monitor refusing the metrics (403): the report is still written, with a `snat metrics` degradation', async () => {
    const factory = factoryOf();
    arm.failNext(1, { status: 403, pathIncludes: '/providers/microsoft.insights/metrics' });
    const result = await investigate(factory, inputOf({ loadBalancerId: arm.ids.loadBalancerId }));
    expect(result.outcome).toBe('reported');
    if (result.outcome !== 'reported') return;
    const report = JSON.parse(await factory.reportStore.read(result.report.json)) as Report;
    const snat = report.degraded.filter((d) => d.step === 'snat metrics');
    expect(snat).toHaveLength(1);
    expect(snat[0]!.reason).toMatch(/^SNAT metrics unavailable: .*HTTP 403 AuthorizationFailed/);
    // No figure from Monitor, and no configured allocation to fall back on.
    expect(report.snat).toEqual({ allocatedPorts: null, usedPorts: null, failedConnections: null });
    expect(report.cluster.name).toBe('aks-shop-prod');
    expect(report.pods.length).toBeGreaterThan(0);
    expect(kube.jobs()).toEqual([]);
  });

  it('a cluster outside SNAT_ALLOWED_CLUSTER_IDS: the first activity fails saying so, nothing reaches the cluster', async () => {
    const factory = factoryOf({ SNAT_ALLOWED_CLUSTER_IDS: OTHER_CLUSTER });
    arm.clearRequests();
    const kubeRequests = kube.requests();

    // Found through the load balancer, then refused.
    const viaLb = await investigate(factory, inputOf({ loadBalancerId: arm.ids.loadBalancerId })).catch(
      (e: unknown) => e as Error,
    );
    expect(viaLb).toBeInstanceOf(Error);
    expect((viaLb as Error).message).toBe(
      `activity resolveTarget: cluster ${arm.ids.clusterId} is not in SNAT_ALLOWED_CLUSTER_IDS: the responder does not act on it`,
    );
    // Named directly: refused before any request at all.
    arm.clearRequests();
    const direct = await factory
      .create('startCapture', { invocationId: 'i-1', functionName: 'startCapture' }, { clusterId: arm.ids.clusterId })
      .catch((e: unknown) => e);
    expect(isActivityHostError(direct, 'CLUSTER_NOT_ALLOWED')).toBe(true);
    expect(arm.requests()).toEqual([]);

    expect(credentialCalls()).toEqual([]);
    expect(kube.requests()).toBe(kubeRequests);
    expect(kube.jobs()).toEqual([]);
    for (const e of [viaLb, direct] as Error[]) {
      for (const secret of [ENTRA_TOKEN, AZURITE_KEY]) expect(e.message).not.toContain(secret);
    }
    // The allow-list is compared case-insensitively: the same cluster allowed in another case runs.
    const allowed = factoryOf({ SNAT_ALLOWED_CLUSTER_IDS: arm.ids.clusterId.replace('rg-shop-prod', 'RG-Shop-Prod') });
    await expect(
      allowed.create('listPods', { invocationId: 'i-2', functionName: 'listPods' }, { clusterId: arm.ids.clusterId }),
    ).resolves.toMatchObject({ cluster: { resourceId: arm.ids.clusterId, name: 'aks-shop-prod' } });
  });

  it('an investigation naming no cluster: a clear error naming the activity, nothing reaches the cluster', async () => {
    const factory = factoryOf();
    const kubeRequests = kube.requests();
    arm.clearRequests();
    const noScope = await investigate(factory, inputOf(undefined)).catch((e: unknown) => e as Error);
    expect((noScope as Error).message).toMatch(
      /^activity resolveTarget: the investigation names no cluster \(its input has no scope with a clusterId or a loadBalancerId\)/,
    );
    for (const scope of [null, { investigationId: 'af-x', node: 'n', startedAt: '2026-11-26T10:00:00.000Z' }]) {
      const e = await factory
        .create('startCapture', { invocationId: 'i', functionName: 'startCapture' }, scope)
        .catch((x: unknown) => x);
      expect(isActivityHostError(e, 'NO_CLUSTER')).toBe(true);
      expect((e as Error).message).toMatch(/^activity startCapture: the investigation names no cluster/);
    }
    expect(arm.requests()).toEqual([]);
    expect(kube.requests()).toBe(kubeRequests);
  });

  it('kube clients are cached per cluster and rebuilt when the Entra token is within 5 minutes of expiry', async () => {
    const credential = (ttlMs: number): TokenCredential => ({
      getToken: (): Promise<AccessToken> =>
        Promise.resolve({ token: ENTRA_TOKEN, expiresOnTimestamp: Date.now() + ttlMs }),
    });
    const scope = { clusterId: arm.ids.clusterId, investigationId: 'af-cache' };
    const inv = { invocationId: 'i', functionName: 'listPods' };

    const longLived = factoryOf({}, { credential: credential(3600_000) });
    arm.clearRequests();
    const [a, b] = await Promise.all([
      longLived.create('listPods', inv, scope),
      longLived.create('listPods', inv, scope),
    ]);
    const c = await longLived.create('censusPods', inv, scope);
    expect(credentialCalls()).toHaveLength(1);
    expect(c.clients).toBe(a.clients);
    expect(b.clients).toBe(a.clients);
    // One missing-tools memory per investigation, shared by its activities.
    expect(c.missingTools).toBe(a.missingTools);

    const expiring = factoryOf({}, { credential: credential(4 * 60_000) });
    arm.clearRequests();
    const first = await expiring.create('listPods', inv, scope);
    const second = await expiring.create('listPods', inv, scope);
    expect(credentialCalls()).toHaveLength(2);
    expect(second.clients).not.toBe(first.clients);
    // Both work against the cluster.
    const nodes = await second.clients.core.listNode();
    expect(nodes.items.length).toBe(kube.scenario.nodes.length);
  });

  it('functions/index.ts wires it: the registered activities build the factory from the app settings on first use', async () => {
    const registry = await loadApp();
    type Handler = (input: unknown, context: InvocationContext) => Promise<unknown>;
    const resolveTarget = registry.get('resolveTarget')!.options.handler as unknown as Handler;
    const invocation = new InvocationContext({ functionName: 'resolveTarget', invocationId: 'wiring-1' });
    const saved = { ...process.env };
    try {
      for (const k of Object.keys(process.env)) if (k.startsWith('SNAT_')) delete process.env[k];
      const connection = azuriteConnectionString(inject('azuriteBlobUrl'));
      // Settings that do not load: the activity fails naming itself and the problems, no secret value.
      process.env.SNAT_REPORT_STORAGE = connection;
      await expect(resolveTarget({ node: { name: 'n' } }, invocation)).rejects.toThrow(
        /^activity resolveTarget: the activity host could not be set up: 1 setting problem\(s\):\n {2}SNAT_TASK_HUB: required/,
      );
      const failed = (await resolveTarget({ node: { name: 'n' } }, invocation).catch((e: unknown) => e)) as Error;
      expect(failed.message).not.toContain(AZURITE_KEY);
      // Fixed: the next activity builds the production factory (no request yet: the scope names no cluster).
      process.env.SNAT_TASK_HUB = 'snathub';
      await expect(
        resolveTarget({ node: { name: 'n' }, scope: { investigationId: 'af-w' } }, invocation),
      ).rejects.toThrow(/^activity resolveTarget: the investigation names no cluster/);
    } finally {
      process.env = saved;
    }
  });
});
