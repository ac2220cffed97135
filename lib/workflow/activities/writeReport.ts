/**
 * writeReport (the analyze step and the write): the evidence pieces from the store put together, the pods that could
 * not be exec'd filled from the node-side census, the report built (pure) and written to the output location.
 */
import { buildReport } from '../../analysis/build-report.js';
import { MISSING_CAPTURE, podKey } from '../../analysis/evidence.js';
import type { CaptureEvidence, NodeEvidence } from '../../analysis/evidence.js';
import { censusEvidence, fillFromNodeCensus } from '../../k8s/census.js';
import type { PodCensusResult } from '../../k8s/census.js';
import type { PodSnapshotSet } from '../../k8s/pods.js';
import { toPodEvidence } from '../../k8s/pods.js';
import type { ActivityContext } from '../context.js';
import { TOP_PODS_PER_REPORT } from '../contracts.js';
import type { WriteReportInput, WriteReportOutput } from '../contracts.js';
import type { StoredCapture } from './collectCapture.js';

export const reportKey = (investigationId: string): string => `${investigationId}/report`;

export async function writeReport(ctx: ActivityContext, input: WriteReportInput): Promise<WriteReportOutput> {
  const snapshot = input.podsRef === null ? null : await ctx.store.get<PodSnapshotSet>(input.podsRef);
  const capture = input.captureRef === null ? null : await ctx.store.get<StoredCapture>(input.captureRef);
  const results = (await Promise.all(input.censusRefs.map((ref) => ctx.store.get<PodCensusResult[]>(ref)))).flat();

  // Pods of a census batch that failed as a whole have no result: they are census failures like any other.
  const seen = new Set(results.map((r) => podKey(r.pod)));
  for (const pod of snapshot?.pods ?? []) {
    if (!seen.has(podKey(pod))) {
      results.push({ pod, source: 'none', failure: 'error', message: 'its census batch failed', attempts: [] });
    }
  }
  const netnsOfPod = new Map((capture?.pieces.pods ?? []).map((p) => [podKey(p), p.netns]));
  const filled = fillFromNodeCensus(
    results,
    (pod) => netnsOfPod.get(podKey(pod)) ?? null,
    new Map(capture?.nodeCensus ?? []),
  );
  const census = censusEvidence(filled);

  // A capture that was attempted and gave nothing is `failed`; one never attempted is `missing`.
  const attempted = input.degraded.some((d) => d.step === 'capture');
  const captureEvidence: CaptureEvidence =
    capture?.pieces.capture ?? (attempted ? { ...MISSING_CAPTURE, status: 'failed' } : MISSING_CAPTURE);

  const evidence: NodeEvidence = {
    node: { name: input.node.name, ip: input.node.ip },
    window: input.window,
    pods: capture?.pieces.pods ?? (snapshot?.pods ?? []).map((p) => toPodEvidence(p)),
    censuses: census.censuses,
    hostCensuses: capture?.pieces.hostCensuses ?? [],
    capture: captureEvidence,
    netns: capture?.pieces.netns ?? [],
    snat: input.snat,
    privateCidrs: [...ctx.settings.privateCidrs],
    degraded: [...input.degraded, ...(capture?.pieces.degraded ?? []), ...census.degraded],
    notes: [...(input.notes ?? []), ...(snapshot?.notes ?? []), ...(capture?.pieces.notes ?? [])],
  };
  const paths = ctx.output.paths();
  const report = buildReport(evidence, {
    investigationId: input.investigationId,
    generatedAt: input.generatedAt,
    trigger: input.trigger,
    ...(input.cluster ? { cluster: input.cluster } : ctx.cluster ? { cluster: ctx.cluster } : {}),
    artifacts: { ...paths, rawCapture: input.rawCapture },
  });
  const written = await ctx.output.writeReport(report);
  const reportRef = reportKey(input.investigationId);
  await ctx.store.put(reportRef, report);
  const top = report.pods[0];
  return {
    ...written,
    reportRef,
    pods: report.pods.length,
    top: top ? `${top.namespace}/${top.name}` : null,
    degraded: report.degraded.length,
    topPods: report.pods.slice(0, TOP_PODS_PER_REPORT).map((p) => ({
      pod: `${p.namespace}/${p.name}`,
      score: p.score,
      publicConnections: p.establishedPublicOutbound,
    })),
  };
}
