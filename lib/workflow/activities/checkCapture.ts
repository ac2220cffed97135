/** checkCapture: where the capture Job stands (phase, and why it is stuck or failed). */
import { captureStatus } from '../../k8s/capture-lifecycle.js';
import type { ActivityContext } from '../context.js';
import type { CheckCaptureInput, CheckCaptureOutput } from '../contracts.js';

export async function checkCapture(ctx: ActivityContext, input: CheckCaptureInput): Promise<CheckCaptureOutput> {
  const status = await captureStatus(ctx.clients, input.namespace, input.jobName);
  return { phase: status.phase, reason: status.reason, message: status.message, podName: status.podName };
}
