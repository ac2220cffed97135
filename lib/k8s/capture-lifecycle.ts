/**
 * The capture Job's lifecycle: create (idempotent), status with a reason a person can act on, the log (size-bounded),
 * delete, and a sweep for Jobs a crashed responder left behind. Every call goes through `withRetry`.
 *
 * Status reasons come from three places, because each failure shows up in a different one first:
 * - Job conditions: `Complete`, `Failed` (`DeadlineExceeded`, `BackoffLimitExceeded`), and since 1.31 the
 *   `SuccessCriteriaMet` / `FailureTarget` conditions that precede them;
 * - the Job's pod: `PodScheduled=False/Unschedulable`, a kubelet admission rejection (the pod is pinned with
 *   nodeName, so a full node shows as a Failed pod with `OutOfcpu`, `OutOfmemory`, `OutOfpods`, `NodeAffinity`...),
 *   an image pull stuck in `ErrImagePull`/`ImagePullBackOff`, a container that exited non-zero;
 * - events of the pod (`FailedScheduling`, `Failed` with a pull error), which arrive before the pod status changes.
 */
import type { CoreV1Event, V1Job, V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { KubeClients } from './access.js';
import { ANNOTATIONS, CAPTURE_CONTAINER, CAPTURE_SELECTOR, LABELS } from './capture-job.js';
import { KubeError, isKubeError } from './errors.js';
import { listAll } from './list.js';
import { checkLabel, checkSubdomain } from './names.js';
import { withRetry } from './retry.js';

export type CapturePhase = 'pending' | 'running' | 'succeeded' | 'failed';
export type CaptureFailureReason = 'unschedulable' | 'image-pull' | 'deadline-exceeded' | 'failed';

export interface CaptureJobStatus {
  readonly phase: CapturePhase;
  /** Why the capture is stuck (pending) or failed; null when all is well. */
  readonly reason: CaptureFailureReason | null;
  /** What Kubernetes said, for the report. */
  readonly message: string | null;
  /** The Job's pod, once it exists (its log is the capture). */
  readonly podName: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

const IMAGE_PULL_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
  'ImageInspectError',
  'SignatureValidationFailed',
]);
/** Kubelet admission rejections of a pod pinned by nodeName: the scheduler's "unschedulable", after the fact. */
const ADMISSION_REASONS = new Set([
  'OutOfcpu',
  'OutOfmemory',
  'OutOfpods',
  'OutOfephemeral-storage',
  'NodeAffinity',
  'NodeName',
  'NodePorts',
  'Taint',
  'UnexpectedAdmissionError',
  'PodOSNotSupported',
  'InvalidNodeInfo',
]);

const iso = (d: Date | string | undefined | null): string | null =>
  d instanceof Date ? d.toISOString() : typeof d === 'string' ? d : null;

function oneLine(text: string | undefined | null, max = 300): string | null {
  if (!text) return null;
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

// ---------------------------------------------------------------------------------------------------------------
// Namespace

export interface CaptureNamespaceState {
  readonly namespace: string;
  readonly created: boolean;
  /** False when the responder may not read namespaces (the least-privilege RBAC only allows reading this one). */
  readonly verified: boolean;
  /** The Pod Security `enforce` level, when read. */
  readonly enforce: string | null;
}

const ENFORCE = 'pod-security.kubernetes.io/enforce';

/** Labels of the capture namespace: Pod Security `privileged` here and only here. Also in infra/k8s/namespace.yaml. */
export const CAPTURE_NAMESPACE_LABELS = Object.freeze({
  [LABELS.name]: 'snat-responder',
  [LABELS.component]: 'capture',
  [ENFORCE]: 'privileged',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'privileged',
  'pod-security.kubernetes.io/audit': 'privileged',
});

/**
 * Makes sure the capture namespace exists and admits privileged pods. Normally it is provisioned with
 * infra/k8s/namespace.yaml and this only reads it; on a dev cluster or the simulator, with an identity allowed to,
 * it creates it. A namespace that enforces `baseline` or `restricted` would reject the Job: that is an error here,
 * before anything is created.
 */
export async function ensureCaptureNamespace(clients: KubeClients, namespace: string): Promise<CaptureNamespaceState> {
  checkLabel('capture namespace', namespace);
  const check = (ns: V1Namespace, created: boolean): CaptureNamespaceState => {
    const enforce = ns.metadata?.labels?.[ENFORCE] ?? null;
    if (enforce !== null && enforce !== 'privileged') {
      throw new KubeError(
        'config',
        `namespace ${namespace} enforces Pod Security "${enforce}": the capture Job is privileged and would be rejected; label it ${ENFORCE}=privileged (infra/k8s/namespace.yaml)`,
        { operation: `get namespace ${namespace}` },
      );
    }
    return { namespace, created, verified: true, enforce };
  };
  try {
    const ns = await withRetry(
      `get namespace ${namespace}`,
      () => clients.core.readNamespace({ name: namespace }),
      clients.retry,
    );
    return check(ns, false);
  } catch (e) {
    if (isKubeError(e, 'forbidden')) return { namespace, created: false, verified: false, enforce: null };
    if (!isKubeError(e, 'not-found')) throw e;
  }
  try {
    const ns = await withRetry(
      `create namespace ${namespace}`,
      () =>
        clients.core.createNamespace({
          body: {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: namespace, labels: { ...CAPTURE_NAMESPACE_LABELS } },
          },
        }),
      clients.retry,
    );
    return check(ns, true);
  } catch (e) {
    if (isKubeError(e, 'conflict')) {
      const ns = await withRetry(
        `get namespace ${namespace}`,
        () => clients.core.readNamespace({ name: namespace }),
        clients.retry,
      );
      return check(ns, false);
    }
    if (isKubeError(e, 'forbidden')) {
      throw new KubeError(
        'config',
        `namespace ${namespace} does not exist and the responder may not create it: apply infra/k8s/namespace.yaml`,
        { status: 403, operation: `create namespace ${namespace}`, cause: e },
      );
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Create

export interface CreatedCaptureJob {
  readonly job: V1Job;
  /** False when the Job already existed (a retried activity, a replayed orchestration): it is reused. */
  readonly created: boolean;
}

function namespaceOf(job: V1Job): string {
  return checkLabel('capture namespace', job.metadata?.namespace ?? '');
}

/**
 * Creates the Job. 409 means it is already there: it is read back and returned, after checking it is the same
 * capture (same investigation label and node), so a hash collision or a foreign Job is never mistaken for ours.
 */
export async function createCaptureJob(clients: KubeClients, job: V1Job): Promise<CreatedCaptureJob> {
  const namespace = namespaceOf(job);
  const name = checkSubdomain('job name', job.metadata?.name ?? '');
  try {
    const created = await withRetry(
      `create job ${namespace}/${name}`,
      () => clients.batch.createNamespacedJob({ namespace, body: job }),
      clients.retry,
    );
    return { job: created, created: true };
  } catch (e) {
    if (!isKubeError(e, 'conflict')) throw e;
  }
  const existing = await withRetry(
    `get job ${namespace}/${name}`,
    () => clients.batch.readNamespacedJob({ name, namespace }),
    clients.retry,
  );
  const want = job.metadata?.labels?.[LABELS.investigation];
  const have = existing.metadata?.labels?.[LABELS.investigation];
  const wantNode = job.spec?.template.spec?.nodeName;
  const haveNode = existing.spec?.template.spec?.nodeName;
  if (want !== have || wantNode !== haveNode) {
    throw new KubeError(
      'conflict',
      `job ${namespace}/${name} exists but belongs to another capture (investigation ${JSON.stringify(have ?? null)}, node ${JSON.stringify(haveNode ?? null)})`,
      { status: 409, operation: `create job ${namespace}/${name}` },
    );
  }
  return { job: existing, created: false };
}

// ---------------------------------------------------------------------------------------------------------------
// Status

async function podsOfJob(clients: KubeClients, namespace: string, name: string): Promise<V1Pod[]> {
  const pods = await listAll(`list pods of job ${namespace}/${name}`, clients.retry, (page) =>
    clients.core.listNamespacedPod({ namespace, ...page, labelSelector: `${LABELS.job}=${name}` }),
  );
  // Newest first: with backoffLimit 0 there is one, but a manual re-run could add another.
  return pods.sort((a, b) =>
    (iso(b.metadata?.creationTimestamp) ?? '').localeCompare(iso(a.metadata?.creationTimestamp) ?? ''),
  );
}

/** Events of one object, newest last. Events are a hint: when they cannot be read, there are none. */
async function eventsOf(clients: KubeClients, namespace: string, objectName: string): Promise<CoreV1Event[]> {
  try {
    const events = await listAll(`list events of ${namespace}/${objectName}`, clients.retry, (page) =>
      clients.core.listNamespacedEvent({ namespace, ...page, fieldSelector: `involvedObject.name=${objectName}` }),
    );
    const time = (e: CoreV1Event) =>
      iso(e.lastTimestamp) ?? iso(e.eventTime) ?? iso(e.metadata?.creationTimestamp) ?? '';
    return events.filter((e) => e.involvedObject?.name === objectName).sort((a, b) => time(a).localeCompare(time(b)));
  } catch (e) {
    if (isKubeError(e)) return [];
    throw e;
  }
}

interface PodVerdict {
  readonly phase: CapturePhase;
  readonly reason: CaptureFailureReason | null;
  readonly message: string | null;
}

/** What the pod (and its events) say. */
export function podVerdict(pod: V1Pod, events: readonly CoreV1Event[] = []): PodVerdict {
  const status = pod.status;
  const container =
    status?.containerStatuses?.find((c) => c.name === CAPTURE_CONTAINER) ?? status?.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  const terminated = container?.state?.terminated;
  if (status?.phase === 'Failed' && status.reason && ADMISSION_REASONS.has(status.reason)) {
    return { phase: 'failed', reason: 'unschedulable', message: oneLine(`${status.reason}: ${status.message ?? ''}`) };
  }
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
    const failed = status?.phase === 'Failed';
    return {
      phase: failed ? 'failed' : 'pending',
      reason: 'image-pull',
      message: oneLine(`${waiting.reason}: ${waiting.message ?? ''}`),
    };
  }
  const scheduled = status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return {
      phase: status?.phase === 'Failed' ? 'failed' : 'pending',
      reason: 'unschedulable',
      message: oneLine(scheduled.message),
    };
  }
  if (status?.phase === 'Succeeded') return { phase: 'succeeded', reason: null, message: null };
  if (status?.phase === 'Failed') {
    const detail = terminated
      ? `container exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ''}`
      : `${status.reason ?? 'Failed'}: ${status.message ?? ''}`;
    return { phase: 'failed', reason: 'failed', message: oneLine(detail) };
  }
  if (status?.phase === 'Running' || container?.state?.running)
    return { phase: 'running', reason: null, message: null };
  // Pending without a telling status yet: events often know first.
  for (const event of [...events].reverse()) {
    if (event.type !== 'Warning') continue;
    if (event.reason === 'FailedScheduling') {
      return { phase: 'pending', reason: 'unschedulable', message: oneLine(event.message) };
    }
    if (
      (event.reason === 'Failed' || event.reason === 'ErrImagePull' || event.reason === 'BackOff') &&
      /pull|image/i.test(event.message ?? '')
    ) {
      return { phase: 'pending', reason: 'image-pull', message: oneLine(event.message) };
    }
  }
  return { phase: 'pending', reason: null, message: null };
}

/** Combines the Job's conditions with the pod's verdict. Pure, for tests. */
export function captureStatusOf(job: V1Job, pod: V1Pod | null, events: readonly CoreV1Event[] = []): CaptureJobStatus {
  const conditions = job.status?.conditions ?? [];
  const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
  const verdict = pod ? podVerdict(pod, events) : null;
  const base = {
    podName: pod?.metadata?.name ?? null,
    startedAt: iso(job.status?.startTime),
    finishedAt: iso(job.status?.completionTime) ?? null,
  };
  const complete = isTrue('Complete') ?? isTrue('SuccessCriteriaMet');
  if (complete) return { ...base, phase: 'succeeded', reason: null, message: null };
  const failed = isTrue('Failed') ?? isTrue('FailureTarget');
  if (failed) {
    const finishedAt = base.finishedAt ?? iso(failed.lastTransitionTime);
    // A root cause seen on the pod (never scheduled, image never pulled) says more than "deadline exceeded".
    if (verdict?.reason === 'unschedulable' || verdict?.reason === 'image-pull') {
      return { ...base, finishedAt, phase: 'failed', reason: verdict.reason, message: verdict.message };
    }
    if (failed.reason === 'DeadlineExceeded') {
      return {
        ...base,
        finishedAt,
        phase: 'failed',
        reason: 'deadline-exceeded',
        message: oneLine(failed.message) ?? 'the Job ran past its activeDeadlineSeconds',
      };
    }
    return {
      ...base,
      finishedAt,
      phase: 'failed',
      reason: 'failed',
      message: verdict?.message ?? oneLine(`${failed.reason ?? 'Failed'}: ${failed.message ?? ''}`),
    };
  }
  if (!verdict) return { ...base, phase: 'pending', reason: null, message: null };
  return { ...base, ...verdict };
}

/** Reads the Job, its pod and the pod's events, and says where the capture stands. */
export async function captureStatus(clients: KubeClients, namespace: string, name: string): Promise<CaptureJobStatus> {
  checkLabel('capture namespace', namespace);
  checkSubdomain('job name', name);
  const job = await withRetry(
    `get job ${namespace}/${name}`,
    () => clients.batch.readNamespacedJob({ name, namespace }),
    clients.retry,
  );
  const pod = (await podsOfJob(clients, namespace, name))[0] ?? null;
  const phase = pod?.status?.phase;
  // Events only matter while the pod has not said anything conclusive itself.
  const events =
    pod && (phase === 'Pending' || phase === undefined)
      ? await eventsOf(clients, namespace, pod.metadata?.name ?? '')
      : [];
  return captureStatusOf(job, pod, events);
}

// ---------------------------------------------------------------------------------------------------------------
// Log

/** kubelet rotates container logs at 10 MiB by default; the bound leaves room above that. */
export const DEFAULT_LOG_LIMIT_BYTES = 16 * 1024 * 1024;

export interface CaptureLogText {
  readonly text: string;
  readonly bytes: number;
  /** The API stopped at the byte bound: the log continues beyond `text`. */
  readonly limited: boolean;
}

/** The capture container's log, at most `limitBytes` (the API server cuts it there, possibly mid-line). */
export async function readCaptureLog(
  clients: KubeClients,
  namespace: string,
  podName: string,
  options: { limitBytes?: number } = {},
): Promise<CaptureLogText> {
  checkLabel('capture namespace', namespace);
  checkSubdomain('pod name', podName);
  const limitBytes = options.limitBytes ?? DEFAULT_LOG_LIMIT_BYTES;
  if (!Number.isInteger(limitBytes) || limitBytes < 1024 || limitBytes > 256 * 1024 * 1024) {
    throw new KubeError('invalid', `log limit must be 1 KiB..256 MiB, got ${limitBytes}`);
  }
  const text = await withRetry(
    `read log of pod ${namespace}/${podName}`,
    () => clients.core.readNamespacedPodLog({ name: podName, namespace, container: CAPTURE_CONTAINER, limitBytes }),
    clients.retry,
  );
  const value = typeof text === 'string' ? text : String(text ?? '');
  const bytes = Buffer.byteLength(value, 'utf8');
  return { text: value, bytes, limited: bytes >= limitBytes };
}

// ---------------------------------------------------------------------------------------------------------------
// Delete and sweep

/** Deletes the Job and, in the background, its pod. A Job that is already gone is success. */
export async function deleteCaptureJob(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<'deleted' | 'absent'> {
  checkLabel('capture namespace', namespace);
  checkSubdomain('job name', name);
  try {
    await withRetry(
      `delete job ${namespace}/${name}`,
      () => clients.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }),
      clients.retry,
    );
    return 'deleted';
  } catch (e) {
    if (isKubeError(e, 'not-found')) return 'absent';
    throw e;
  }
}

export interface SweepResult {
  readonly deleted: string[];
  /** Capture Jobs still within their deadline (an investigation may be using them). */
  readonly kept: string[];
  readonly failed: Array<{ name: string; message: string }>;
}

/** When a capture Job must be over: start (or creation) + activeDeadlineSeconds + grace. Null when unknown. */
export function captureJobExpiry(job: V1Job, graceSeconds: number): Date | null {
  const start = job.status?.startTime ?? job.metadata?.creationTimestamp;
  const deadline = job.spec?.activeDeadlineSeconds;
  const startMs = start instanceof Date ? start.getTime() : typeof start === 'string' ? Date.parse(start) : NaN;
  if (Number.isNaN(startMs) || typeof deadline !== 'number') return null;
  return new Date(startMs + (deadline + graceSeconds) * 1000);
}

/**
 * Deletes capture Jobs (by label) whose deadline has passed: what a responder that crashed between create and
 * delete left behind. A Job without a deadline or start time is older than any we make and is deleted too.
 */
export async function sweepOrphanJobs(
  clients: KubeClients,
  namespace: string,
  now: Date,
  options: { graceSeconds?: number } = {},
): Promise<SweepResult> {
  checkLabel('capture namespace', namespace);
  const grace = options.graceSeconds ?? 60;
  const jobs = await listAll(`list capture jobs in ${namespace}`, clients.retry, (page) =>
    clients.batch.listNamespacedJob({ namespace, ...page, labelSelector: CAPTURE_SELECTOR }),
  );
  const result: SweepResult = { deleted: [], kept: [], failed: [] };
  for (const job of jobs) {
    const name = job.metadata?.name;
    if (!name) continue;
    const expiry = captureJobExpiry(job, grace);
    if (expiry !== null && expiry.getTime() > now.getTime()) {
      result.kept.push(name);
      continue;
    }
    try {
      await deleteCaptureJob(clients, namespace, name);
      result.deleted.push(name);
    } catch (e) {
      result.failed.push({ name, message: e instanceof Error ? e.message : String(e) });
    }
  }
  result.deleted.sort();
  result.kept.sort();
  return result;
}

/** The node a capture Job is pinned to (its annotation, else the pod template). */
export function nodeOfCaptureJob(job: V1Job): string | null {
  return job.metadata?.annotations?.[ANNOTATIONS.node] ?? job.spec?.template.spec?.nodeName ?? null;
}
