/**
 * The fault matrix: one investigation per fault, started through POST /api/alerts of `snat-responder serve`
 * (lib/serve/server.ts, the in-process engine) against the simulated AKS cluster (sim/, faults of sim/faults.ts), with
 * the report store, the Teams / webhook targets and the API client timeout as the command sets them up. Every row
 * ends either `completed` with a report whose `degraded` names the step that degraded (and the culprit still ranked
 * first), or `failed` with the reason in serve's log; and in every row no capture Job or pod is left afterwards.
 *
 * Each row has its own sim (faults are per sim) and its own server; rows run concurrently. Timing is production's
 * shortened (harness.ts): a 1 s capture window (3 s where a fault is injected during it), polls of 0.2-0.5 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobReportStore } from '../../lib/azure/blob-store.js';
import type { InvestigationPhase } from '../../orchestrations/investigate.js';
import { snatAlert } from '../../sim/alerts.js';
import { azuriteConnectionString } from '../../sim/azurite.js';
import { NO_FAULTS } from '../../sim/faults.js';
import type { Faults } from '../../sim/server.js';
import { closedPort, startReceiver } from '../notify/receiver.js';
import type { Answer, Receiver } from '../notify/receiver.js';
import { captureObjectsLeft, jobsEverCreated, post, reportOf, startServeOnSim, untilFinished } from './harness.js';
import type { Finished, ServeUnderTest, StatusView } from './harness.js';

type Outcome =
  | {
      readonly status: 'completed';
      /** The step of `degraded` that names the fault, and a fragment of its reason. */
      readonly step: 'capture' | 'pod census' | 'notify';
      readonly reason: RegExp;
      /** The report's capture status, where the fault decides it. */
      readonly capture?: string;
    }
  | { readonly status: 'failed'; readonly log: RegExp; readonly jobCreated: boolean };

interface FaultCase {
  readonly fault: string;
  /** Cluster faults (sim/faults.ts), from the start or, with `at`, once the investigation reaches that phase. */
  readonly faults?: Partial<Faults>;
  readonly at?: InvestigationPhase;
  /** Lift the faults again once the investigation has left the phase `at`. */
  readonly lift?: boolean;
  readonly requestTimeoutMs?: number;
  /** A notification target on loopback, answering these. */
  readonly notify?: { readonly kind: 'teams' | 'webhook'; readonly answers: Answer[]; readonly requests: number };
  /** The report store (BlobReportStore, as `snat-responder serve` builds it) points at a closed port. */
  readonly blobDown?: boolean;
  readonly expected: Outcome;
}

const ANY_JOB = String.raw`snat-responder-capture/snat-capture-[0-9a-f]+`;

// prettier-ignore
const MATRIX: readonly FaultCase[] = [
  // About 2 s: the store tries 3 times (BLOB_RETRY_OPTIONS) for capture.log, then for the report. Not a hang.
  { fault: 'Blob Storage down (report store at a closed port)', blobDown: true,
    expected: { status: 'failed', log: /failed: could not create container reports: no response ECONNREFUSED$/, jobCreated: true } },
  { fault: 'API 429 burst outlasting the client retries, from the first request', faults: { rateLimit: 4 },
    expected: { status: 'failed', log: /failed: list nodes: HTTP 429: Too many requests/, jobCreated: false } },
  { fault: 'API 429 burst during the capture (12 requests: three failed polls)', faults: { rateLimit: 12 }, at: 'capturing',
    expected: { status: 'completed', step: 'capture', capture: 'failed',
      reason: new RegExp(`^the status of capture Job ${ANY_JOB} could not be read \\(get job .*HTTP 429`) } },
  { fault: 'API 500 burst outlasting the client retries, from the first request', faults: { serverErrors: 4 },
    expected: { status: 'failed', log: /failed: list nodes: HTTP 500: Internal error occurred/, jobCreated: false } },
  { fault: 'API 500 burst during the capture (12 requests: three failed polls)', faults: { serverErrors: 12 }, at: 'capturing',
    expected: { status: 'completed', step: 'capture', capture: 'failed',
      reason: new RegExp(`^the status of capture Job ${ANY_JOB} could not be read \\(get job .*HTTP 500`) } },
  { fault: 'API latency 2 s, beyond the 1 s request timeout, from the first request', faults: { latencyMs: 2_000 },
    requestTimeoutMs: 1_000,
    expected: { status: 'failed', log: /failed: list nodes: the API server did not answer in time$/, jobCreated: false } },
  { fault: 'API latency 2 s, beyond the 1 s request timeout, during the capture', faults: { latencyMs: 2_000 },
    at: 'capturing', lift: true, requestTimeoutMs: 1_000,
    expected: { status: 'completed', step: 'capture', capture: 'failed',
      reason: new RegExp(`^the status of capture Job ${ANY_JOB} could not be read \\(.*did not answer in time`) } },
  { fault: 'exec WebSocket dropped mid-stream', faults: { execDropMidStream: true },
    expected: { status: 'completed', step: 'pod census',
      reason: /^exec connection dropped for \d+ pods .*closed without an exit status; \d+ taken from the node-side census instead$/ } },
  { fault: 'exec forbidden (RBAC without pods/exec)', faults: { execForbidden: true },
    expected: { status: 'completed', step: 'pod census',
      reason: /^exec forbidden for 9 pods .*HTTP 403: .*cannot create resource "pods\/exec".*; 9 taken from the node-side census instead$/ } },
  { fault: 'capture Job stuck Pending (unschedulable)', faults: { jobUnschedulable: true },
    expected: { status: 'completed', step: 'capture', capture: 'failed',
      reason: new RegExp(`^the capture Job ${ANY_JOB} was never scheduled on the node \\(unschedulable: 0/2 nodes are available`) } },
  { fault: 'capture image pull failure', faults: { jobImagePullFailure: true },
    expected: { status: 'completed', step: 'capture', capture: 'failed',
      reason: new RegExp(`^the capture Job ${ANY_JOB} never started: its image could not be pulled \\(image-pull: (ErrImagePull|ImagePullBackOff)`) } },
  { fault: 'capture log cut short', faults: { logCutShort: true },
    expected: { status: 'completed', step: 'capture', capture: 'truncated',
      reason: /^the capture log has no trailer \(cut short/ } },
  { fault: 'capture pod fails (exit 2)', faults: { jobPodFails: true },
    expected: { status: 'completed', step: 'capture', capture: 'failed',
      reason: new RegExp(`^the capture Job ${ANY_JOB} failed \\(failed: container exited with code 2`) } },
  // The capture status is `truncated` or `failed`: whether the log is read before the Job controller deletes the pod.
  { fault: 'capture Job deadline exceeded (tracer ignores SIGINT)', faults: { jobDeadlineExceeded: true },
    expected: { status: 'completed', step: 'capture',
      reason: new RegExp(`^the capture Job ${ANY_JOB} failed \\(deadline-exceeded: Job was active longer than specified deadline`) } },
  { fault: 'signed webhook answering 500', notify: { kind: 'webhook', answers: Array.from({ length: 4 }, () => ({ status: 500 })), requests: 4 },
    expected: { status: 'completed', step: 'notify',
      reason: /^webhook http:\/\/127\.0\.0\.1:\d+: failed after 4 attempts: HTTP 500$/ } },
  { fault: 'Teams webhook answering 413', notify: { kind: 'teams', answers: [{ status: 413 }], requests: 1 },
    expected: { status: 'completed', step: 'notify',
      reason: /^teams http:\/\/127\.0\.0\.1:\d+: refused the message as too large \(HTTP 413, \d+ bytes sent\); not retried$/ } },
];

const WEBHOOK_SECRET = 'a-webhook-secret-long-enough';

interface Run {
  readonly serve: ServeUnderTest;
  readonly id: string;
  readonly finished: Finished;
  readonly receiver: Receiver | null;
}

/** Starts serve for the row, posts one alert for the scenario's node, injects the faults, waits for the end. */
async function runCase(c: FaultCase, close: Array<() => Promise<void>>): Promise<Run> {
  const receiver = c.notify ? await startReceiver() : null;
  if (receiver) close.push(() => receiver.close());
  const env: Record<string, string> = {};
  if (receiver && c.notify?.kind === 'teams') env.SNAT_TEAMS_WEBHOOK_URL = `${receiver.origin}/teams`;
  if (receiver && c.notify?.kind === 'webhook') {
    env.SNAT_WEBHOOK_URL = `${receiver.origin}/hook`;
    env.SNAT_WEBHOOK_SECRET = WEBHOOK_SECRET;
  }
  if (receiver) receiver.script(...(c.notify?.answers ?? []));
  const blob = c.blobDown
    ? BlobReportStore.fromConnectionString(azuriteConnectionString(`http://127.0.0.1:${await closedPort()}`), {
        container: 'reports',
      })
    : null;
  const serve = await startServeOnSim({
    env,
    blob,
    captureSeconds: c.at ? 3 : 1,
    ...(c.requestTimeoutMs !== undefined ? { requestTimeoutMs: c.requestTimeoutMs } : {}),
    ...(c.faults && !c.at ? { faults: c.faults } : {}),
  });
  close.push(() => serve.close());

  const res = await post(
    serve.url,
    '/api/alerts',
    JSON.stringify(snatAlert({ nodeIp: serve.sim.expected.nodeIp, firedAt: new Date() })),
  );
  expect(res.status).toBe(202);
  const id = (res.body as { investigations: Array<{ id: string }> }).investigations[0]!.id;

  let injected = false;
  let lifted = false;
  const finished = await untilFinished(serve.url, id, {
    timeoutMs: 55_000,
    onPhase: (phase) => {
      if (c.at === undefined || !c.faults) return;
      if (phase === c.at && !injected) {
        serve.sim.setFaults(c.faults);
        injected = true;
      } else if (injected && c.lift && !lifted && phase !== c.at) {
        serve.sim.setFaults(NO_FAULTS);
        lifted = true;
      }
    },
  });
  if (c.at !== undefined && !injected) throw new Error(`phase ${c.at} was never seen: ${finished.phases.join(', ')}`);
  return { serve, id, finished, receiver };
}

const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

describe('fault matrix: an investigation through snat-responder serve (in-process engine) on the simulated cluster', () => {
  it.concurrent.each(MATRIX.map((c) => [c.fault, c] as const))(
    '%s',
    async (_fault, c) => {
      const { serve, id, finished, receiver } = await runCase(c, closers);
      const { status } = finished;
      const expected = c.expected;

      if (expected.status === 'completed') {
        expect(status).toMatchObject({ status: 'completed', outcome: 'reported' });
        // The rest still speaks: the culprit is ranked first.
        expect(status.summary?.topPod).toBe(serve.sim.expected.culprit);
        const report = await reportOf(status);
        const named = report.degraded.filter((d) => d.step === expected.step);
        expect(named.map((d) => d.reason)).toContainEqual(expect.stringMatching(expected.reason));
        if (expected.capture !== undefined) expect(report.capture.status).toBe(expected.capture);
        expect(serve.logs).toEqual([]);
      } else {
        expect(status).toMatchObject({ status: 'failed', outcome: 'failed' });
        expect(serve.logs).toHaveLength(1);
        expect(serve.logs[0]).toMatch(new RegExp(`^investigation ${id} failed: `));
        expect(serve.logs[0]).toMatch(expected.log);
      }
      if (c.notify) expect(receiver?.received).toHaveLength(c.notify.requests);

      // In every case: no capture Job, and no capture pod, is left in the cluster.
      serve.sim.setFaults(NO_FAULTS);
      expect(await captureObjectsLeft(serve.sim)).toEqual({ jobs: [], pods: [] });
      expect(serve.sim.jobs()).toEqual([]);
      const created = await jobsEverCreated(serve.sim);
      expect(created).toHaveLength(expected.status === 'failed' && !expected.jobCreated ? 0 : 1);
    },
    60_000,
  );
});

/** The status of a failed investigation names why; the summary counts what the notify step added to the report. */
describe('the status endpoint after a failure and after a notify degradation', () => {
  let serve: ServeUnderTest;
  let receiver: Receiver;
  let failed: StatusView;
  let notified: StatusView;
  let report: Awaited<ReturnType<typeof reportOf>>;
  const alertFor = (nodeIp: string) => JSON.stringify(snatAlert({ nodeIp, firedAt: new Date() }));
  const idOf = (body: unknown) => (body as { investigations: Array<{ id: string }> }).investigations[0]!.id;

  beforeAll(async () => {
    receiver = await startReceiver();
    serve = await startServeOnSim({
      env: { SNAT_WEBHOOK_URL: `${receiver.origin}/hook`, SNAT_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
  });
  afterAll(async () => {
    await serve?.close();
    await receiver?.close();
  });

  it('setting the scene: one investigation failed (API 500s), one with a notify degradation (webhook 413)', async () => {
    serve.sim.setFaults({ serverErrors: 4 });
    failed = (
      await untilFinished(serve.url, idOf((await post(serve.url, '/api/alerts', alertFor('10.224.0.40'))).body))
    ).status;
    expect(failed).toMatchObject({ status: 'failed', outcome: 'failed' });
    expect(serve.logs.join('\n')).toMatch(/HTTP 500/);

    receiver.script({ status: 413 });
    notified = (
      await untilFinished(serve.url, idOf((await post(serve.url, '/api/alerts', alertFor('10.224.0.4'))).body))
    ).status;
    report = await reportOf(notified);
    expect(report.degraded.filter((d) => d.step === 'notify')).toHaveLength(1);
  });

  it('GET /api/investigations/{id} of a failed investigation names its reason', () => {
    expect(failed.message).toMatch(/^list nodes: HTTP 500/);
  });

  it('summary.degraded counts the notify degradation (the report as notify rewrote it)', () => {
    expect(report.degraded.some((d) => d.step === 'notify')).toBe(true);
    expect(notified.summary?.degraded).toBe(report.degraded.length);
  });
});
