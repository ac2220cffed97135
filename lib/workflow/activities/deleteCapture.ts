/** deleteCapture: the cleanup that always runs. The Job's name is derived again, so a lost create is found too. */
import { captureJobName } from '../../k8s/capture-job.js';
import { deleteCaptureJob } from '../../k8s/capture-lifecycle.js';
import type { ActivityContext } from '../context.js';
import type { DeleteCaptureInput, DeleteCaptureOutput } from '../contracts.js';

export async function deleteCapture(ctx: ActivityContext, input: DeleteCaptureInput): Promise<DeleteCaptureOutput> {
  const namespace = ctx.settings.namespace;
  const jobName = captureJobName(input.investigationId, input.nodeName);
  const result = await deleteCaptureJob(ctx.clients, namespace, jobName);
  return { namespace, jobName, result };
}
