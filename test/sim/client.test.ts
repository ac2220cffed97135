/**
 * The simulated API server through the real @kubernetes/client-node 1.4.0 (the client the responder uses), over http
 * (insecure-skip-tls-verify) and https (certificate-authority-data, the AKS shape).
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1Job } from '@kubernetes/client-node';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { eventually } from './helpers.js';

const NODE = 'aks-nodepool1-12345678-vmss000000';
const NODE_40 = 'aks-nodepool1-12345678-vmss000001';

/** What the API server answers, for assertions on error bodies: client-node 1.x throws ApiException with `code`/`body`. */
async function apiError(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    const body =
      typeof err.body === 'string'
        ? (JSON.parse(err.body) as Record<string, unknown>)
        : (err.body as Record<string, unknown>);
    return { code: err.code ?? 0, body };
  }
  throw new Error('expected the call to fail');
}

/** A plain GET, with or without a bearer token, trusting the sim's CA over https. */
function raw(sim: RunningSim, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, sim.url);
    const headers = token !== undefined ? { Authorization: `Bearer ${token}` } : {};
    const req =
      url.protocol === 'https:' ? httpsRequest(url, { headers, ca: sim.caPem }) : httpRequest(url, { headers });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

function captureJob(
  name: string,
  extra: { activeDeadlineSeconds?: number; ttl?: number; seconds?: number } = {},
): V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      labels: { 'app.kubernetes.io/managed-by': 'snat-responder', 'snat-responder/investigation': name },
    },
    spec: {
      backoffLimit: 0,
      ...(extra.activeDeadlineSeconds !== undefined ? { activeDeadlineSeconds: extra.activeDeadlineSeconds } : {}),
      ...(extra.ttl !== undefined ? { ttlSecondsAfterFinished: extra.ttl } : {}),
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'snat-responder' } },
        spec: {
          nodeName: NODE,
          hostNetwork: true,
          hostPID: true,
          restartPolicy: 'Never',
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: 'capture',
              image: 'mcr.microsoft.com/cbl-mariner/busybox:2.0',
              securityContext: { privileged: true },
              env: [
                { name: 'CAPTURE_SECONDS', value: String(extra.seconds ?? 5) },
                { name: 'CAPTURE_MAX_LINES', value: '30000' },
                { name: 'CAPTURE_CENSUS_MAX_LINES', value: '4000' },
                { name: 'CAPTURE_ENTER_HOST', value: '1' },
              ],
            },
          ],
        },
      },
    },
  };
}

describe.each([
  ['http', false],
  ['https', true],
])('simulated API server through client-node (%s)', (_label, tls) => {
  let sim: RunningSim;
  let core: CoreV1Api;
  let batch: BatchV1Api;
  let apps: AppsV1Api;

  beforeAll(async () => {
    sim = await startSim({ scenario: 'default', tls, timeScale: 0.01 });
    const kc = sim.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    batch = kc.makeApiClient(BatchV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('kubeconfig: the AKS shape for the transport', () => {
    expect(sim.url).toMatch(tls ? /^https:\/\/127\.0\.0\.1:\d+$/ : /^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.kubeconfig).toContain(tls ? 'certificate-authority-data: ' : 'insecure-skip-tls-verify: true');
    expect(sim.kubeconfig).toContain(`server: "${sim.url}"`);
    const kc = sim.kubeConfig();
    expect(kc.getCurrentUser()?.token).toBe(sim.token);
    expect(kc.getCurrentCluster()?.name).toBe('aks-shop-prod');
  });

  it('listNode: both nodes with their InternalIP', async () => {
    const nodes = await core.listNode();
    expect(
      nodes.items.map((n) => [n.metadata?.name, n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address]),
    ).toEqual([
      [NODE, '10.224.0.4'],
      [NODE_40, '10.224.0.40'],
    ]);
    expect(nodes.items[0]!.spec?.providerID).toBe(
      'azure:///subscriptions/6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c/resourceGroups/mc_rg-shop-prod_aks-shop-prod_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/0',
    );
    expect(nodes.items[0]!.status?.nodeInfo?.kubeletVersion).toBe('v1.32.7');
  });

  it("readNode by name, and 404 with a Status body shaped like the API server's", async () => {
    expect((await core.readNode({ name: NODE_40 })).metadata?.labels?.['kubernetes.azure.com/agentpool']).toBe(
      'nodepool1',
    );
    const e = await apiError(core.readNode({ name: 'aks-nodepool1-12345678-vmss000009' }));
    expect(e.code).toBe(404);
    expect(e.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'nodes "aks-nodepool1-12345678-vmss000009" not found',
      reason: 'NotFound',
      details: { name: 'aks-nodepool1-12345678-vmss000009', kind: 'nodes' },
      code: 404,
    });
  });

  it('listPodForAllNamespaces with fieldSelector spec.nodeName: exactly the pods of that node', async () => {
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${NODE}` });
    expect(pods.items).toHaveLength(13);
    expect(pods.items.every((p) => p.spec?.nodeName === NODE)).toBe(true);
    const other = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${NODE_40}` });
    expect(other.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual([
      'kube-system/kube-proxy-m2n4b',
      'shop/checkout-7d9f8b6c5d-b8v3n',
      'shop/search-indexer-7c8d9b6f5-z9x8w',
    ]);
  });

  it('pod metadata: uid, IPs, hostNetwork, owner, labels, images, phase', async () => {
    const pod = await core.readNamespacedPod({ namespace: 'shop', name: 'checkout-7d9f8b6c5d-x2k4p' });
    expect(pod.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(pod.status?.podIP).toBe('10.244.0.12');
    expect(pod.status?.podIPs).toEqual([{ ip: '10.244.0.12' }]);
    expect(pod.status?.phase).toBe('Running');
    expect(pod.spec?.containers.map((c) => c.image)).toEqual(['shopacr.azurecr.io/shop/checkout:2.14.1']);
    expect(pod.metadata?.labels).toMatchObject({ app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' });
    expect(pod.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        name: 'checkout-7d9f8b6c5d',
        controller: true,
      }),
    ]);
    const proxy = await core.readNamespacedPod({ namespace: 'kube-system', name: 'kube-proxy-7xk9p' });
    expect(proxy.spec?.hostNetwork).toBe(true);
    expect(proxy.status?.podIP).toBe('10.224.0.4');
    expect(proxy.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'DaemonSet', name: 'kube-proxy' });
  });

  it('owner chain: ReplicaSet -> Deployment through apps/v1', async () => {
    const rs = await apps.readNamespacedReplicaSet({ namespace: 'shop', name: 'checkout-7d9f8b6c5d' });
    expect(rs.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Deployment', name: 'checkout' });
    const deployment = await apps.readNamespacedDeployment({ namespace: 'shop', name: 'checkout' });
    expect(deployment.metadata?.uid).toBe(rs.metadata?.ownerReferences?.[0]?.uid);
    const sts = await apps.readNamespacedStatefulSet({ namespace: 'security', name: 'vault' });
    expect(sts.metadata?.name).toBe('vault');
    const e = await apiError(apps.readNamespacedReplicaSet({ namespace: 'shop', name: 'nope' }));
    expect(e.body).toMatchObject({
      message: 'replicasets.apps "nope" not found',
      details: { group: 'apps', kind: 'replicasets' },
    });
  });

  it('field selectors: metadata.name, status.phase!=, and an unsupported field is a 400', async () => {
    const byName = await core.listNamespacedPod({
      namespace: 'shop',
      fieldSelector: 'metadata.name=cart-6d9c8b7f5-h2j9k',
    });
    expect(byName.items.map((p) => p.metadata?.name)).toEqual(['cart-6d9c8b7f5-h2j9k']);
    const notDone = await core.listPodForAllNamespaces({
      fieldSelector: `spec.nodeName=${NODE},status.phase!=Succeeded`,
    });
    expect(notDone.items).toHaveLength(12);
    const e = await apiError(core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeNam=x' }));
    expect(e.code).toBe(400);
    expect(e.body.message).toBe('field label not supported: spec.nodeNam');
  });

  it('label selectors: =, !=, in, notin, existence', async () => {
    const names = async (labelSelector: string) =>
      (await core.listPodForAllNamespaces({ labelSelector })).items.map((p) => p.metadata?.name).sort();
    expect(await names('app=checkout')).toEqual(['checkout-7d9f8b6c5d-b8v3n', 'checkout-7d9f8b6c5d-x2k4p']);
    expect(await names('app in (cart,catalog)')).toEqual(['cart-6d9c8b7f5-h2j9k', 'catalog-5f8d9c7b6-m4n7q']);
    expect(await names('app.kubernetes.io/part-of=shop,app!=checkout')).toEqual([
      'cart-6d9c8b7f5-h2j9k',
      'catalog-5f8d9c7b6-m4n7q',
    ]);
    expect(await names('tier,component')).toEqual(['kube-proxy-7xk9p', 'kube-proxy-m2n4b']);
    // notin and != match pods without the label too.
    expect(await names('tier,component notin (x)')).toEqual([
      'azure-ip-masq-agent-x5zqv',
      'kube-proxy-7xk9p',
      'kube-proxy-m2n4b',
    ]);
    expect(await names('!app,tier')).toEqual(['azure-ip-masq-agent-x5zqv', 'kube-proxy-7xk9p', 'kube-proxy-m2n4b']);
    const e = await apiError(core.listPodForAllNamespaces({ labelSelector: 'app in (a' }));
    expect(e.code).toBe(400);
  });

  it('limit/continue pages through a list', async () => {
    const first = await core.listPodForAllNamespaces({ limit: 5 });
    expect(first.items).toHaveLength(5);
    expect(first.metadata?.remainingItemCount).toBe(11);
    const rest = await core.listPodForAllNamespaces({ limit: 100, _continue: first.metadata!._continue! });
    expect(rest.items).toHaveLength(11);
    expect(rest.metadata?._continue).toBeUndefined();
  });

  it('401 without the bearer token; /version is public', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: sim.url,
          skipTLSVerify: !tls,
          ...(tls ? { caData: Buffer.from(sim.caPem!).toString('base64') } : {}),
        },
      ],
      users: [{ name: 'u', token: 'wrong' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    // client-node drops the body of a 401; the raw answer carries the API server's Status.
    expect((await apiError(kc.makeApiClient(CoreV1Api).listNode())).code).toBe(401);
    const denied = await raw(sim, '/api/v1/nodes', 'wrong');
    expect(denied.status).toBe(401);
    expect(JSON.parse(denied.body)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    expect((await raw(sim, '/api/v1/nodes')).status).toBe(401);
    const version = await raw(sim, '/version');
    expect(version.status).toBe(200);
    expect(JSON.parse(version.body)).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.7' });
  });

  it("readNamespacedPodLog: a pod's log; the container must be named when there are several", async () => {
    const log = await core.readNamespacedPodLog({ namespace: 'shop', name: 'recommendations-7b4f9d8c6-p5l2m' });
    expect(log).toBe('Exception in thread "main" java.lang.IllegalStateException: MODEL_URL is not set\n');
  });

  it('Jobs: namespace must exist; create (201), 409 on a duplicate, get, list in a namespace and across all', async () => {
    const missing = await apiError(
      batch.createNamespacedJob({ namespace: 'snat-responder', body: captureJob('snat-capture-a1') }),
    );
    expect(missing.code).toBe(404);
    expect(missing.body.message).toBe('namespaces "snat-responder" not found');
    await core.createNamespace({ body: { metadata: { name: 'snat-responder' } } });
    const nsAgain = await apiError(core.createNamespace({ body: { metadata: { name: 'snat-responder' } } }));
    expect(nsAgain.code).toBe(409);

    const created = await batch.createNamespacedJob({
      namespace: 'snat-responder',
      body: captureJob('snat-capture-a1'),
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.spec?.selector?.matchLabels).toEqual({
      'batch.kubernetes.io/controller-uid': created.metadata?.uid,
    });
    expect(created.spec?.template.metadata?.labels).toMatchObject({
      'job-name': 'snat-capture-a1',
      'controller-uid': created.metadata?.uid,
    });
    const dup = await apiError(
      batch.createNamespacedJob({ namespace: 'snat-responder', body: captureJob('snat-capture-a1') }),
    );
    expect(dup.code).toBe(409);
    expect(dup.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'jobs.batch "snat-capture-a1" already exists',
      reason: 'AlreadyExists',
      details: { name: 'snat-capture-a1', group: 'batch', kind: 'jobs' },
      code: 409,
    });
    const read = await batch.readNamespacedJob({ namespace: 'snat-responder', name: 'snat-capture-a1' });
    expect(read.metadata?.uid).toBe(created.metadata?.uid);
    expect((await batch.listNamespacedJob({ namespace: 'snat-responder' })).items.map((j) => j.metadata?.name)).toEqual(
      ['snat-capture-a1'],
    );
    const all = await batch.listJobForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=snat-responder' });
    expect(all.items.map((j) => `${j.metadata?.namespace}/${j.metadata?.name}`)).toEqual([
      'snat-responder/snat-capture-a1',
    ]);

    // The Job's pod: `<job>-<5 chars>`, labelled and owned by the Job, on the node of spec.template.spec.nodeName.
    const pods = await core.listNamespacedPod({
      namespace: 'snat-responder',
      labelSelector: `job-name=snat-capture-a1`,
    });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]!;
    expect(pod.metadata?.name).toMatch(/^snat-capture-a1-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(pod.metadata?.labels?.['batch.kubernetes.io/controller-uid']).toBe(created.metadata?.uid);
    expect(pod.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: 'snat-capture-a1',
        uid: created.metadata?.uid,
      }),
    ]);
    expect(pod.spec?.nodeName).toBe(NODE);

    // Pending -> Running -> Succeeded with Complete, and the capture log (5 simulated seconds at timeScale 0.01).
    const done = await eventually(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'snat-responder', name: 'snat-capture-a1' });
        return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
      },
      5000,
      'Job Complete',
    );
    expect(done.status?.succeeded).toBe(1);
    expect(done.status?.completionTime).toBeDefined();
    const log = await core.readNamespacedPodLog({
      namespace: 'snat-responder',
      name: pod.metadata!.name!,
      container: 'capture',
    });
    expect(log.split('\n')[0]).toMatch(
      /^##SNAT-RESPONDER## begin v=1 tracer=bcc capture_seconds=5 max_lines=30000 census_max_lines=4000 started=\d+$/,
    );
    expect(log.trimEnd().split('\n').pop()).toMatch(
      /^##SNAT-RESPONDER## trailer status=ok tcptracer_lines=\d+ truncated=0 netns=11 elapsed=6$/,
    );
    const bounded = await core.readNamespacedPodLog({
      namespace: 'snat-responder',
      name: pod.metadata!.name!,
      limitBytes: 100,
    });
    expect(Buffer.byteLength(bounded)).toBe(100);
    const tail = await core.readNamespacedPodLog({
      namespace: 'snat-responder',
      name: pod.metadata!.name!,
      tailLines: 1,
    });
    expect(tail).toMatch(/^##SNAT-RESPONDER## trailer .*\n$/);

    // Events of the Job and its pod, by involvedObject.name.
    const events = await core.listNamespacedEvent({
      namespace: 'snat-responder',
      fieldSelector: 'involvedObject.name=snat-capture-a1',
    });
    expect(events.items.map((e) => e.reason)).toEqual(['SuccessfulCreate', 'Completed']);

    // Delete with background propagation: the Job and its pod go.
    await batch.deleteNamespacedJob({
      namespace: 'snat-responder',
      name: 'snat-capture-a1',
      propagationPolicy: 'Background',
    });
    expect(sim.jobs()).toEqual([]);
    expect((await core.listNamespacedPod({ namespace: 'snat-responder' })).items).toEqual([]);
    const gone = await apiError(batch.readNamespacedJob({ namespace: 'snat-responder', name: 'snat-capture-a1' }));
    expect(gone.body).toMatchObject({
      reason: 'NotFound',
      message: 'jobs.batch "snat-capture-a1" not found',
      details: { group: 'batch', kind: 'jobs' },
    });
  });

  it("Job delete without a propagation policy orphans the pod (the API's default for batch/v1 Jobs); Foreground deletes it", async () => {
    await core.createNamespace({ body: { metadata: { name: 'orphans' } } });
    await batch.createNamespacedJob({ namespace: 'orphans', body: captureJob('job-o') });
    await batch.deleteNamespacedJob({ namespace: 'orphans', name: 'job-o' });
    const left = await core.listNamespacedPod({ namespace: 'orphans' });
    expect(left.items).toHaveLength(1);
    expect(left.items[0]!.metadata?.ownerReferences ?? []).toEqual([]);

    await batch.createNamespacedJob({ namespace: 'orphans', body: captureJob('job-f') });
    await batch.deleteNamespacedJob({ namespace: 'orphans', name: 'job-f', propagationPolicy: 'Foreground' });
    const after = await core.listNamespacedPod({ namespace: 'orphans', labelSelector: 'job-name=job-f' });
    expect(after.items).toEqual([]);
    expect(sim.jobs().filter((j) => j.namespace === 'orphans')).toEqual([]);
    await core.deleteNamespace({ name: 'orphans' });
  });

  it('ttlSecondsAfterFinished: the finished Job is deleted with its pod', async () => {
    await batch.createNamespacedJob({
      namespace: 'snat-responder',
      body: captureJob('snat-capture-ttl', { ttl: 1, seconds: 1 }),
    });
    await eventually(
      () => (sim.jobs().some((j) => j.name === 'snat-capture-ttl') ? undefined : true),
      5000,
      'TTL deletion',
    );
    expect(sim.pods().filter((p) => p.namespace === 'snat-responder')).toEqual([]);
  });

  it('a Job that fails validation is 422 Invalid, naming the field', async () => {
    const body = captureJob('bad-job');
    body.spec!.template.spec!.restartPolicy = 'Always';
    const e = await apiError(batch.createNamespacedJob({ namespace: 'snat-responder', body }));
    expect(e.code).toBe(422);
    expect(e.body.message).toBe(
      'Job.batch "bad-job" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    );
  });
});
