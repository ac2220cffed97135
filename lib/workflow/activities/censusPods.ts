/**
 * censusPods: one batch of the pod census (exec netstat -> ss -> /proc). Never throws for a pod: each ends as exec,
 * host-network or a failure with its reason. The exec limit and the missing-tools memory are the investigation's,
 * shared by every batch.
 */
import { censusNode } from '../../k8s/census.js';
import type { PodSnapshotSet } from '../../k8s/pods.js';
import type { ActivityContext } from '../context.js';
import type { CensusPodsInput, CensusPodsOutput } from '../contracts.js';

export const censusKey = (investigationId: string, start: number): string => `${investigationId}/census/${start}`;

export async function censusPods(ctx: ActivityContext, input: CensusPodsInput): Promise<CensusPodsOutput> {
  const snapshot = await ctx.store.get<PodSnapshotSet>(input.podsRef);
  const pods = snapshot.pods.slice(input.start, input.end);
  const { results, summary } = await censusNode(ctx.clients.kubeConfig, pods, {
    // The shared exec limit bounds the execs; within the batch every pod may go at once.
    concurrency: Math.max(1, pods.length),
    exec: ctx.exec,
    missingTools: ctx.missingTools,
    classifier: ctx.classifier,
    signal: ctx.signal,
    ...(ctx.settings.execTimeoutMs !== undefined ? { timeoutMs: ctx.settings.execTimeoutMs } : {}),
  });
  const ref = censusKey(input.investigationId, input.start);
  await ctx.store.put(ref, results);
  return {
    ref,
    pods: summary.pods,
    exec: summary.exec,
    hostNetwork: summary.hostNetwork,
    failed: summary.failed,
  };
}
