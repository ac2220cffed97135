/**
 * The one formatter for every blob path of the report store (DESIGN.md "Blob layout"):
 * `<container>/<cluster>/<node>/<yyyy>/<mm>/<dd>/<investigationId>/report.{json,md,html}` + `capture.log`,
 * the container being `reports`.
 *
 * Cluster and node names come from the cluster (or from an alert) and are not trusted: each becomes one safe path
 * segment. A name that had to change gets a short hash of the original appended, so two different hostile names never
 * share a folder.
 */
import { createHash } from 'node:crypto';

export const REPORTS_CONTAINER = 'reports';

/** Every file kept for one investigation, and its blob name. */
export const REPORT_BLOB_FILES = {
  json: 'report.json',
  markdown: 'report.md',
  html: 'report.html',
  rawCapture: 'capture.log',
} as const;

export type ReportBlobFile = keyof typeof REPORT_BLOB_FILES;

/** Longest segment kept, hash included. Blob names allow 1024 characters; six segments stay far below that. */
export const MAX_SEGMENT_LENGTH = 80;

/** Where one investigation's files go. `generatedAt` is an ISO 8601 time; its UTC date names the day folders. */
export interface ReportLocation {
  readonly cluster: string | null;
  readonly node: string | null;
  readonly investigationId: string;
  readonly generatedAt: string;
}

export type ReportBlobPaths = { readonly prefix: string } & { readonly [K in ReportBlobFile]: string };

export class BlobPathError extends Error {
  readonly code = 'BLOB_PATH_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'BlobPathError';
  }
}

function shortHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 8);
}

/**
 * One path segment from an untrusted name: ASCII letters, digits, `.`, `_` and `-` only, no leading or trailing dot
 * or dash (so never `.` or `..`), at most MAX_SEGMENT_LENGTH characters; `fallback` when nothing usable is left.
 * Names that are already safe (every valid Kubernetes node name, every AKS cluster name) come back unchanged.
 */
export function safeSegment(name: string | null, fallback: string): string {
  if (name === null || name.length === 0) return fallback;
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
  if (cleaned === name && cleaned.length <= MAX_SEGMENT_LENGTH) return cleaned;
  const hash = shortHash(name);
  const room = MAX_SEGMENT_LENGTH - hash.length - 1;
  const head = cleaned.slice(0, room).replace(/[.-]+$/, '');
  return head.length > 0 ? `${head}-${hash}` : `${fallback}-${hash}`;
}

/** `yyyy/mm/dd` of an ISO 8601 time, in UTC. */
export function utcDateSegments(iso: string): [string, string, string] {
  const date = new Date(iso);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(iso) || Number.isNaN(date.getTime())) {
    throw new BlobPathError(`report time ${JSON.stringify(iso.slice(0, 64))} is not an ISO 8601 timestamp`);
  }
  const pad = (n: number): string => String(n).padStart(2, '0');
  return [String(date.getUTCFullYear()).padStart(4, '0'), pad(date.getUTCMonth() + 1), pad(date.getUTCDate())];
}

/** The folder of one investigation, without a trailing slash. */
export function reportPrefix(location: ReportLocation): string {
  const [yyyy, mm, dd] = utcDateSegments(location.generatedAt);
  return [
    safeSegment(location.cluster, 'unknown-cluster'),
    safeSegment(location.node, 'unknown-node'),
    yyyy,
    mm,
    dd,
    safeSegment(location.investigationId, 'unknown-investigation'),
  ].join('/');
}

/** Blob names (inside the container) of every file of one investigation. */
export function reportBlobPaths(location: ReportLocation): ReportBlobPaths {
  const prefix = reportPrefix(location);
  return {
    prefix,
    json: `${prefix}/${REPORT_BLOB_FILES.json}`,
    markdown: `${prefix}/${REPORT_BLOB_FILES.markdown}`,
    html: `${prefix}/${REPORT_BLOB_FILES.html}`,
    rawCapture: `${prefix}/${REPORT_BLOB_FILES.rawCapture}`,
  };
}

/** The location of a finished report: its own cluster, node, id and time. */
export function locationOfReport(report: {
  readonly investigationId: string;
  readonly generatedAt: string;
  readonly cluster: { readonly name: string | null };
  readonly node: { readonly name: string | null };
}): ReportLocation {
  return {
    cluster: report.cluster.name,
    node: report.node.name,
    investigationId: report.investigationId,
    generatedAt: report.generatedAt,
  };
}
