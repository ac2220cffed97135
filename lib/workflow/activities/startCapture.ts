/**
 * startCapture: the capture namespace checked (or created where allowed), orphaned capture Jobs of crashed runs swept,
 * then the capture Job created (idempotent: a retried activity finds and reuses it). A namespace that cannot hold the
 * Job, or RBAC that forbids it, is a value: the investigation goes on without a capture.
 */
import { buildCaptureJob } from '../../k8s/capture-job.js';
import { createCaptureJob, ensureCaptureNamespace, sweepOrphanJobs } from '../../k8s/capture-lifecycle.js';
import { isKubeError } from '../../k8s/errors.js';
import type { ActivityContext } from '../context.js';
import type { StartCaptureInput, StartCaptureOutput } from '../contracts.js';

export async function startCapture(ctx: ActivityContext, input: StartCaptureInput): Promise<StartCaptureOutput> {
  const { clients, settings } = ctx;
  const namespace = settings.namespace;
  try {
    await ensureCaptureNamespace(clients, namespace);
  } catch (e) {
    if (isKubeError(e, 'config') || isKubeError(e, 'forbidden') || isKubeError(e, 'invalid')) {
      return { started: false, reason: 'namespace', message: e.message };
    }
    throw e;
  }
  let sweptOrphans = 0;
  try {
    sweptOrphans = (await sweepOrphanJobs(clients, namespace, new Date(input.now))).deleted.length;
  } catch (e) {
    // Best effort: a sweep that cannot list Jobs must not stop this investigation's own capture.
    if (!isKubeError(e)) throw e;
  }
  const job = buildCaptureJob({
    investigationId: input.investigationId,
    nodeName: input.nodeName,
    captureSeconds: input.captureSeconds,
    namespace,
    ...(settings.image !== undefined ? { image: settings.image } : {}),
    ...(settings.pullSecret !== undefined ? { pullSecret: settings.pullSecret } : {}),
    ...(settings.deadlineMarginSeconds !== undefined ? { deadlineMarginSeconds: settings.deadlineMarginSeconds } : {}),
  });
  try {
    const created = await createCaptureJob(clients, job);
    const deadlineSeconds = job.spec?.activeDeadlineSeconds ?? input.captureSeconds;
    return {
      started: true,
      namespace,
      jobName: job.metadata?.name ?? '',
      created: created.created,
      deadline: new Date(Date.parse(input.now) + deadlineSeconds * 1000).toISOString(),
      sweptOrphans,
    };
  } catch (e) {
    if (isKubeError(e, 'forbidden')) return { started: false, reason: 'forbidden', message: e.message };
    if (isKubeError(e, 'conflict')) return { started: false, reason: 'conflict', message: e.message };
    if (isKubeError(e, 'not-found')) return { started: false, reason: 'namespace', message: e.message };
    throw e;
  }
}
