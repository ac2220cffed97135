/**
 * The generic JSON webhook: a small summary of the report (`webhookPayload`), or of a cluster's census
 * (`censusWebhookPayload`, `kind: "census"`), signed with HMAC-SHA256 so the receiver can check it came from this
 * responder and is fresh. docs/WEBHOOKS.md documents both bodies and tells receivers how to verify them.
 *
 * Signature: `x-snat-responder-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` with
 * `x-snat-responder-timestamp: <unix seconds>`. Signing the timestamp with the body stops replays of an old
 * delivery once it falls outside the receiver's tolerance.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { podLabel, snatHoldingFlows, verdict } from '../report/format.js';
import type { Report } from '../report/model.js';
import type { CensusTopPod } from '../workflow/contracts.js';
import type { CensusNotice } from './census.js';

export const WEBHOOK_SCHEMA_VERSION = 1;
export const TIMESTAMP_HEADER = 'x-snat-responder-timestamp';
export const SIGNATURE_HEADER = 'x-snat-responder-signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;
export const WEBHOOK_TOP_PODS = 5;

export interface WebhookPayload {
  readonly schemaVersion: typeof WEBHOOK_SCHEMA_VERSION;
  readonly investigationId: string;
  readonly generatedAt: string;
  readonly cluster: { readonly name: string | null; readonly resourceId: string | null };
  readonly node: { readonly name: string | null; readonly ip: string | null };
  /** The report's one-paragraph answer, as plain text. */
  readonly verdict: string;
  readonly snat: Report['snat'];
  readonly findings: { readonly critical: number; readonly warning: number; readonly info: number };
  readonly degradedSteps: number;
  readonly topPods: Array<{
    readonly rank: number;
    readonly pod: string;
    readonly owner: string | null;
    readonly snatFlows: number;
    readonly topDestination: { readonly ip: string; readonly port: number; readonly flows: number } | null;
  }>;
  /** Time-limited read link to the report; null when it could not be stored. */
  readonly reportUrl: string | null;
}

export function webhookPayload(report: Report, options: { readonly reportUrl: string | null }): WebhookPayload {
  const count = (s: string): number => report.findings.filter((f) => f.severity === s).length;
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    investigationId: report.investigationId,
    generatedAt: report.generatedAt,
    cluster: { name: report.cluster.name, resourceId: report.cluster.resourceId },
    node: { name: report.node.name, ip: report.node.ip },
    verdict: verdict(report)
      .map((p) => ('code' in p ? p.code : 'strong' in p ? p.strong : p.text))
      .join(''),
    snat: report.snat,
    findings: { critical: count('critical'), warning: count('warning'), info: count('info') },
    degradedSteps: report.degraded.length,
    topPods: report.pods.slice(0, WEBHOOK_TOP_PODS).map((p) => {
      const d = p.topDestinations[0];
      return {
        rank: p.rank,
        pod: podLabel(p),
        owner: p.owner,
        snatFlows: snatHoldingFlows(p),
        topDestination: d ? { ip: d.ip, port: d.port, flows: d.flows } : null,
      };
    }),
    reportUrl: options.reportUrl,
  };
}

/**
 * A cluster census's summary (a NAT gateway alert): one message for all the nodes censused. `kind: "census"` tells it
 * apart from a node's report summary, which has no `kind` (and is unchanged).
 */
export interface CensusWebhookPayload {
  readonly schemaVersion: typeof WEBHOOK_SCHEMA_VERSION;
  readonly kind: 'census';
  /** The census's id (each node's investigation has its own, in `nodeReports`). */
  readonly investigationId: string;
  readonly generatedAt: string;
  /** The alert rule that started the census, when known. */
  readonly alertRule: string | null;
  readonly cluster: { readonly name: string | null; readonly resourceId: string | null };
  readonly natGateway: { readonly name: string | null; readonly resourceId: string };
  /** `no-nodes`: nothing could be censused, and `message` says why. */
  readonly outcome: 'census' | 'no-nodes';
  readonly message: string | null;
  readonly counts: CensusNotice['counts'];
  /** The pods ranked across the nodes, the most likely culprit first (at most 10). */
  readonly topPods: Array<{ readonly rank: number } & CensusTopPod>;
  /** The nodes' reports (at most 20: the top pods' nodes first, then in census order). */
  readonly nodeReports: Array<{
    readonly investigationId: string;
    readonly node: string;
    readonly outcome: 'reported' | 'target-not-found' | 'failed';
    /** Time-limited read link (or the report's path where there are no links); null without a report or a link. */
    readonly reportUrl: string | null;
    /** Why the node has no report; null when it has one. */
    readonly message: string | null;
  }>;
  /** Censused nodes left out of `nodeReports`. */
  readonly nodeReportsOmitted: number;
}

export function censusWebhookPayload(notice: CensusNotice): CensusWebhookPayload {
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    kind: 'census',
    investigationId: notice.investigationId,
    generatedAt: notice.generatedAt,
    alertRule: notice.trigger.source,
    cluster: { name: notice.cluster.name, resourceId: notice.cluster.resourceId },
    natGateway: { name: notice.natGateway.name, resourceId: notice.natGateway.resourceId },
    outcome: notice.outcome,
    message: notice.message,
    counts: { ...notice.counts },
    topPods: notice.top.map((p, i) => ({
      rank: i + 1,
      pod: p.pod,
      node: p.node,
      investigationId: p.investigationId,
      score: p.score,
      publicConnections: p.publicConnections,
    })),
    nodeReports: notice.nodes.map((n) => ({
      investigationId: n.investigationId,
      node: n.node,
      outcome: n.outcome,
      reportUrl: n.reportUrl,
      message: n.message,
    })),
    nodeReportsOmitted: notice.nodesOmitted,
  };
}

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signWebhook(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`, 'utf8');
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/** The headers of one delivery, signed at `nowMs`. */
export function signedHeaders(secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json; charset=utf-8',
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
  };
}

export interface VerifyOptions {
  /** How far the timestamp may be from now, either way (default 300 s). */
  readonly toleranceSeconds?: number;
  /** The receiver's clock, in milliseconds. */
  readonly nowMs?: number;
}

/**
 * True only when `signature` is the HMAC of exactly this timestamp and raw body (compare the bytes received, not a
 * re-serialised object) and the timestamp is within the tolerance. A boolean on purpose: `if (verify(...))` cannot
 * mistake a failure object for success.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | null | undefined,
  body: string | Uint8Array,
  signature: string | null | undefined,
  options: VerifyOptions = {},
): boolean {
  if (typeof timestamp !== 'string' || typeof signature !== 'string') return false;
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - Number(timestamp)) > tolerance) return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!match?.[1]) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body).slice('sha256='.length), 'hex');
  const given = Buffer.from(match[1], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
