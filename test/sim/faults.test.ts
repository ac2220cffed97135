/**
 * Fault injection of the simulated cluster, each fault seen through the real client (or a raw request where the
 * client hides what matters, such as a 429's Retry-After header).
 */
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { eventually, execIn, execRefusal } from './helpers.js';

const NODE = 'aks-nodepool1-12345678-vmss000000';
const NS = 'snat-responder';

function job(name: string, options: { deadline?: number; env?: Record<string, string> } = {}): V1Job {
  const env = {
    CAPTURE_SECONDS: '5',
    CAPTURE_MAX_LINES: '30000',
    CAPTURE_CENSUS_MAX_LINES: '4000',
    CAPTURE_ENTER_HOST: '1',
    ...options.env,
  };
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ...(options.deadline !== undefined ? { activeDeadlineSeconds: options.deadline } : {}),
      template: {
        spec: {
          nodeName: NODE,
          hostNetwork: true,
          hostPID: true,
          restartPolicy: 'Never',
          tolerations: [{ operator: 'Exists' }],
          containers: [
            {
              name: 'capture',
              image: 'snatresponder.azurecr.io/capture:1.0.0',
              env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
            },
          ],
        },
      },
    },
  };
}

async function errorOf(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    return {
      code: err.code ?? 0,
      body: typeof err.body === 'string' ? (JSON.parse(err.body) as Record<string, unknown>) : {},
    };
  }
  throw new Error('expected a failure');
}

describe('fault injection', () => {
  let sim: RunningSim;
  let core: CoreV1Api;
  let batch: BatchV1Api;

  beforeAll(async () => {
    sim = await startSim({ scenario: 'small', timeScale: 0.01 });
    core = sim.kubeConfig().makeApiClient(CoreV1Api);
    batch = sim.kubeConfig().makeApiClient(BatchV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
  });
  afterEach(async () => {
    sim.setFaults({
      latencyMs: 0,
      rateLimit: 0,
      serverErrors: 0,
      execLatencyMs: 0,
      execDropMidStream: false,
      execForbidden: false,
      jobUnschedulable: false,
      jobImagePullFailure: false,
      jobDeadlineExceeded: false,
      jobPodFails: false,
      logCutShort: false,
    });
    for (const j of sim.jobs().filter((x) => x.namespace === NS)) {
      await batch.deleteNamespacedJob({ namespace: NS, name: j.name, propagationPolicy: 'Background' });
    }
  });
  afterAll(async () => {
    await sim?.close();
  });

  const get = (path: string) => fetch(`${sim.url}${path}`, { headers: { Authorization: `Bearer ${sim.token}` } });

  async function podOf(jobName: string): Promise<V1Pod> {
    return eventually(
      async () => (await core.listNamespacedPod({ namespace: NS, labelSelector: `job-name=${jobName}` })).items[0],
      3000,
      'the Job pod',
    );
  }

  it('latencyMs delays every request', async () => {
    sim.setFaults({ latencyMs: 150 });
    const t0 = Date.now();
    await core.listNode();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(145);
  });

  it('rateLimit: the next N requests are 429 with Retry-After: 1, then requests pass', async () => {
    sim.setFaults({ rateLimit: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await get('/api/v1/nodes');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Too many requests, please try again later.',
        reason: 'TooManyRequests',
        details: { retryAfterSeconds: 1 },
        code: 429,
      });
    }
    expect((await get('/api/v1/nodes')).status).toBe(200);
    expect(sim.faults().rateLimit).toBe(0);
  });

  it('serverErrors: the next N requests are 500 InternalError (through the client too)', async () => {
    sim.setFaults({ serverErrors: 1 });
    const e = await errorOf(core.listNode());
    expect(e.code).toBe(500);
    expect(e.body).toMatchObject({ reason: 'InternalError', code: 500 });
    expect((await core.listNode()).items).toHaveLength(2);
  });

  it("execLatencyMs delays the command's output", async () => {
    sim.setFaults({ execLatencyMs: 200 });
    const t0 = Date.now();
    const run = await execIn(sim.kubeConfig(), 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', [
      'cat',
      '/proc/net/tcp',
    ]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(195);
    expect(run.status?.status).toBe('Success');
  });

  it('execDropMidStream: some stdout, then the connection drops without a status on channel 3', async () => {
    const full = await execIn(sim.kubeConfig(), 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', ['netstat', '-ptn']);
    sim.setFaults({ execDropMidStream: true });
    const run = await execIn(sim.kubeConfig(), 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', ['netstat', '-ptn']);
    expect(run.status).toBeNull();
    expect(run.closed).toBe(true);
    expect(run.stdout.length).toBeGreaterThan(0);
    expect(run.stdout.length).toBeLessThan(full.stdout.length);
    expect(full.stdout.startsWith(run.stdout)).toBe(true);
  });

  it('execForbidden: every exec is refused with 403 before the upgrade', async () => {
    sim.setFaults({ execForbidden: true });
    expect(
      await execRefusal(sim.kubeConfig(), 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', ['netstat', '-ptn']),
    ).toBe('Unexpected server response: 403');
  });

  it('jobUnschedulable: the pod stays Pending (Unschedulable, FailedScheduling) until the deadline fails the Job', async () => {
    sim.setFaults({ jobUnschedulable: true });
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-unsched', { deadline: 40 }) });
    const pod = await podOf('cap-unsched');
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.conditions).toEqual([
      expect.objectContaining({
        type: 'PodScheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: expect.stringMatching(/^0\/2 nodes are available: /) as unknown,
      }),
    ]);
    const events = await core.listNamespacedEvent({
      namespace: NS,
      fieldSelector: `involvedObject.name=${pod.metadata!.name}`,
    });
    expect(events.items.map((e) => [e.type, e.reason, e.source?.component])).toEqual([
      ['Warning', 'FailedScheduling', 'default-scheduler'],
    ]);
    const log = await errorOf(core.readNamespacedPodLog({ namespace: NS, name: pod.metadata!.name! }));
    expect(log.code).toBe(400);
    const failed = await eventually(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: NS, name: 'cap-unsched' });
        return j.status?.conditions?.find((c) => c.type === 'Failed') ? j : undefined;
      },
      3000,
      'DeadlineExceeded',
    );
    expect(failed.status?.conditions?.find((c) => c.type === 'Failed')).toMatchObject({
      status: 'True',
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
    });
  });

  it("jobImagePullFailure: ErrImagePull, then ImagePullBackOff, with the kubelet's events; logs are refused", async () => {
    sim.setFaults({ jobImagePullFailure: true });
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-pull') });
    const podName = (await podOf('cap-pull')).metadata!.name!;
    const waiting = async (reason: string) =>
      eventually(
        async () => {
          const p = await core.readNamespacedPod({ namespace: NS, name: podName });
          return p.status?.containerStatuses?.[0]?.state?.waiting?.reason === reason ? p : undefined;
        },
        3000,
        reason,
      );
    // ErrImagePull lasts one simulated second (10 ms at this time scale): too short to poll for reliably, so its
    // message is checked through the kubelet's event, which stays.
    await waiting('ImagePullBackOff');
    const events = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${podName}` });
    expect(events.items.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['Scheduled', 'Pulling', 'Failed', 'BackOff']),
    );
    expect(events.items.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        'Failed to pull image "snatresponder.azurecr.io/capture:1.0.0": rpc error: code = NotFound desc = failed to pull and unpack image "snatresponder.azurecr.io/capture:1.0.0": failed to resolve reference "snatresponder.azurecr.io/capture:1.0.0": snatresponder.azurecr.io/capture:1.0.0: not found',
        'Error: ErrImagePull',
      ]),
    );
    const log = await errorOf(core.readNamespacedPodLog({ namespace: NS, name: podName }));
    expect(log.code).toBe(400);
    expect(log.body.message).toBe(
      `container "capture" in pod "${podName}" is waiting to start: trying and failing to pull image`,
    );
  });

  it('jobDeadlineExceeded: tracer ignores SIGINT, the Job fails DeadlineExceeded and its pod is deleted', async () => {
    sim.setFaults({ jobDeadlineExceeded: true });
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-stuck', { deadline: 20 }) });
    const podName = (await podOf('cap-stuck')).metadata!.name!;
    await eventually(async () =>
      (await core.readNamespacedPod({ namespace: NS, name: podName })).status?.phase === 'Running' ? true : undefined,
    );
    const failed = await eventually(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: NS, name: 'cap-stuck' });
        return j.status?.conditions?.find((c) => c.type === 'Failed' && c.reason === 'DeadlineExceeded');
      },
      3000,
      'DeadlineExceeded',
    );
    expect(failed.status).toBe('True');
    await eventually(() => (sim.pods().some((p) => p.name === podName) ? undefined : true), 3000, 'pod deletion');
  });

  it('jobPodFails: the script exits 2 on bad parameters; the Job fails BackoffLimitExceeded', async () => {
    sim.setFaults({ jobPodFails: true });
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-fails') });
    const podName = (await podOf('cap-fails')).metadata!.name!;
    const pod = await eventually(
      async () => {
        const p = await core.readNamespacedPod({ namespace: NS, name: podName });
        return p.status?.phase === 'Failed' ? p : undefined;
      },
      3000,
      'pod Failed',
    );
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 2, reason: 'Error' });
    const j = await batch.readNamespacedJob({ namespace: NS, name: 'cap-fails' });
    expect(j.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    const log = await core.readNamespacedPodLog({ namespace: NS, name: podName });
    expect(log).toMatch(
      / trailer status=failed reason=bad-parameters tcptracer_lines=0 truncated=0 netns=0 elapsed=0\n$/,
    );
  });

  it("a Job whose capture parameters fail the script's checks fails the same way, without any fault", async () => {
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-bad-env', { env: { CAPTURE_SECONDS: '0600' } }) });
    const podName = (await podOf('cap-bad-env')).metadata!.name!;
    await eventually(async () =>
      (await core.readNamespacedPod({ namespace: NS, name: podName })).status?.phase === 'Failed' ? true : undefined,
    );
  });

  it('logCutShort: the capture log ends mid-line, without a trailer', async () => {
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-cut') });
    const podName = (await podOf('cap-cut')).metadata!.name!;
    await eventually(async () =>
      (await core.readNamespacedPod({ namespace: NS, name: podName })).status?.phase === 'Succeeded' ? true : undefined,
    );
    const whole = await core.readNamespacedPodLog({ namespace: NS, name: podName });
    expect(whole).toMatch(/ trailer status=ok .*\n$/);
    sim.setFaults({ logCutShort: true });
    const cut = await core.readNamespacedPodLog({ namespace: NS, name: podName });
    expect(cut.endsWith('\n')).toBe(false);
    expect(cut).not.toContain('trailer');
    expect(whole.startsWith(cut)).toBe(true);
  });

  it("a running capture's log grows; a finished one is whole", async () => {
    await sim.close();
    sim = await startSim({ scenario: 'small', timeScale: 0.2 });
    core = sim.kubeConfig().makeApiClient(CoreV1Api);
    batch = sim.kubeConfig().makeApiClient(BatchV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await batch.createNamespacedJob({ namespace: NS, body: job('cap-live', { env: { CAPTURE_SECONDS: '5' } }) });
    const podName = (await podOf('cap-live')).metadata!.name!;
    await eventually(
      async () =>
        (await core.readNamespacedPod({ namespace: NS, name: podName })).status?.phase === 'Running' ? true : undefined,
      3000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const early = await core.readNamespacedPodLog({ namespace: NS, name: podName });
    expect(early.split('\n')[1]).toBe('##SNAT-RESPONDER## section tcptracer');
    expect(early).not.toContain('trailer');
    await eventually(
      async () =>
        (await core.readNamespacedPod({ namespace: NS, name: podName })).status?.phase === 'Succeeded'
          ? true
          : undefined,
      5000,
    );
    const late = await core.readNamespacedPodLog({ namespace: NS, name: podName });
    expect(late.startsWith(early)).toBe(true);
    expect(late).toMatch(/ trailer status=ok /);
  });

  it('faults can come with the scenario and with startSim; unknown ones are refused', async () => {
    const s2 = await startSim({ scenario: 'small', faults: { rateLimit: 1 } });
    try {
      expect((await fetch(`${s2.url}/api/v1/nodes`, { headers: { Authorization: `Bearer ${s2.token}` } })).status).toBe(
        429,
      );
      expect(() => s2.setFaults({ nope: true } as never)).toThrow("unknown fault 'nope'");
      expect(() => s2.setFaults({ latencyMs: -1 })).toThrow("fault 'latencyMs' must be a whole number >= 0");
    } finally {
      await s2.close();
    }
  });
});
