/**
 * listPods: the pods on the node, snapshotted during the capture; the snapshot goes to the store. The capture Job's
 * own pod (and any other capture pod of this responder) runs on the node too; it is the responder, not a workload, and
 * is left out.
 */
import { LABELS } from '../../k8s/capture-job.js';
import { listPodsOnNode } from '../../k8s/pods.js';
import type { PodSnapshot, PodSnapshotSet } from '../../k8s/pods.js';
import type { ActivityContext } from '../context.js';
import type { ListPodsInput, ListPodsOutput } from '../contracts.js';

export const podsKey = (investigationId: string): string => `${investigationId}/pods`;

export const isCapturePod = (pod: PodSnapshot): boolean =>
  pod.labels[LABELS.name] === 'snat-responder' && pod.labels[LABELS.component] === 'capture';

export async function listPods(ctx: ActivityContext, input: ListPodsInput): Promise<ListPodsOutput> {
  const listed = await listPodsOnNode(ctx.clients, input.nodeName, { now: () => new Date(input.now) });
  const snapshot: PodSnapshotSet = { ...listed, pods: listed.pods.filter((p) => !isCapturePod(p)) };
  const ref = podsKey(input.investigationId);
  await ctx.store.put(ref, snapshot);
  return { ref, pods: snapshot.pods.length };
}
