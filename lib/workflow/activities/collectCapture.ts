/**
 * collectCapture: the capture Job's log, read (size-bounded), kept as the raw capture next to the report, parsed, and
 * joined with the pod snapshot into evidence pieces (store). A log that cannot be had (the pod is gone, the container
 * never started) or that is not a capture log is a value; only transient API failures throw.
 */
import type { CaptureEvidencePieces } from '../../k8s/capture-evidence.js';
import { captureEvidenceOf } from '../../k8s/capture-evidence.js';
import { readCaptureLog } from '../../k8s/capture-lifecycle.js';
import { parseCaptureLog } from '../../k8s/capture-log.js';
import { isKubeError, isTransient } from '../../k8s/errors.js';
import type { PodSnapshotSet } from '../../k8s/pods.js';
import type { SocketDocument } from '../../parse/sockets.js';
import type { ActivityContext } from '../context.js';
import type { CollectCaptureInput, CollectCaptureOutput } from '../contracts.js';

/** What the store keeps of a capture: the evidence pieces and the node-side census by netns inode (for the fill). */
export interface StoredCapture {
  readonly pieces: CaptureEvidencePieces;
  readonly nodeCensus: Array<[number, SocketDocument]>;
}

export const captureKey = (investigationId: string): string => `${investigationId}/capture`;

export async function collectCapture(ctx: ActivityContext, input: CollectCaptureInput): Promise<CollectCaptureOutput> {
  let log;
  try {
    log = await readCaptureLog(ctx.clients, input.namespace, input.podName, {
      ...(ctx.settings.logLimitBytes !== undefined ? { limitBytes: ctx.settings.logLimitBytes } : {}),
    });
  } catch (e) {
    if (isKubeError(e) && !isTransient(e)) return { collected: false, message: e.message };
    throw e;
  }
  let rawCapture: string | null = null;
  try {
    rawCapture = await ctx.output.writeRaw('capture.log', log.text);
  } catch {
    // The raw log is a convenience; the parsed capture below is what the report needs.
  }
  const parsed = parseCaptureLog(log.text, { classifier: ctx.classifier });
  if (!parsed.ok) {
    return { collected: false, message: `not a capture log (${parsed.problem.message})` };
  }
  const pods = input.podsRef === null ? [] : (await ctx.store.get<PodSnapshotSet>(input.podsRef)).pods;
  const pieces = captureEvidenceOf(parsed.value, pods, {
    origin: `job ${input.namespace}/${input.jobName}`,
    limited: log.limited,
  });
  const nodeCensus: Array<[number, SocketDocument]> = [];
  for (const section of parsed.value.censuses) if (section.document) nodeCensus.push([section.netns, section.document]);
  const ref = captureKey(input.investigationId);
  await ctx.store.put(ref, { pieces, nodeCensus } satisfies StoredCapture);
  return {
    collected: true,
    ref,
    status: pieces.capture.status,
    bytes: log.bytes,
    connects: pieces.capture.capture?.events.connect ?? 0,
    netns: pieces.netns.length,
    rawCapture,
  };
}
