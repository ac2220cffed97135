/**
 * Evidence -> Report (schema v1). Pure and deterministic: the same evidence and options give the same report, byte for
 * byte once serialised (investigationId and generatedAt are inputs, never read from a clock here).
 */
import { REPORT_SCHEMA_VERSION } from '../report/model.js';
import type { Report, ReportTrigger } from '../report/model.js';
import { attributeSources } from './attribute.js';
import type { NodeEvidence } from './evidence.js';
import { buildFindings, dataQualityNotes, signalsOf } from './findings.js';
import { captureSeconds, rankPods } from './rank.js';
import { buildRecommendations } from './recommendations.js';

export interface BuildReportOptions {
  readonly investigationId: string;
  /** ISO 8601 timestamp. */
  readonly generatedAt: string;
  readonly trigger: ReportTrigger;
  readonly cluster?: { readonly resourceId: string | null; readonly name: string | null };
  /** Links to the stored report files, when the caller stores them (live); null offline. */
  readonly artifacts?: Report['artifacts'];
}

const NO_ARTIFACTS: Report['artifacts'] = { json: null, markdown: null, html: null, rawCapture: null };

export function buildReport(evidence: NodeEvidence, options: BuildReportOptions): Report {
  const attribution = attributeSources(evidence);
  const ranking = rankPods(evidence, attribution.sources);
  const signals = signalsOf(evidence, ranking);
  const capture = evidence.capture.capture;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    investigationId: options.investigationId,
    generatedAt: options.generatedAt,
    trigger: options.trigger,
    cluster: options.cluster ?? { resourceId: null, name: null },
    node: { ...evidence.node },
    window: { ...evidence.window },
    snat: { ...evidence.snat },
    capture: {
      status: evidence.capture.status,
      variant: capture?.variant ?? null,
      durationSeconds: capture ? captureSeconds(evidence) : evidence.capture.durationSeconds,
      events: capture ? { ...capture.events } : { connect: 0, accept: 0, close: 0 },
      lostEvents: capture?.lostEvents ?? 0,
      truncated: evidence.capture.status === 'truncated' || (capture?.cutLastLine ?? false),
    },
    pods: ranking.pods.map((p) => p.ranking),
    destinations: ranking.destinations,
    findings: buildFindings(evidence, ranking, signals),
    recommendations: buildRecommendations(signals),
    degraded: [...evidence.degraded],
    dataQuality: dataQualityNotes(evidence, ranking, attribution),
    artifacts: options.artifacts ?? NO_ARTIFACTS,
  };
}
