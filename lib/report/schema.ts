/**
 * Runtime schema of report.json v1, mirroring lib/report/model.ts. Readers (the CLI, the HTTP status endpoint, tests)
 * validate a stored report before rendering it again, so a report written by another version fails with a JSON path
 * instead of a half-rendered page. Unknown extra fields are accepted and dropped: later versions may add optional
 * fields without breaking this reader.
 */
import { z } from 'zod';
import { accept, reject } from '../parse/types.js';
import type { Parsed } from '../parse/types.js';
import { REPORT_SCHEMA_VERSION } from './model.js';
import type { Report } from './model.js';

const count = z.number().int().nonnegative();
const nullableCount = count.nullable();
const finite = z.number();
const share = z.number().nonnegative().nullable();
const port = z.number().int().min(0).max(65535);
const severity = z.enum(['critical', 'warning', 'info']);

const destinationSchema = z.object({
  ip: z.string(),
  port,
  flows: count,
  shareOfAllocated: share,
});

const podRankingSchema = z.object({
  rank: z.number().int().min(1),
  namespace: z.string(),
  name: z.string(),
  owner: z.string().nullable(),
  hostNetwork: z.boolean(),
  source: z.enum(['exec', 'node-census', 'file', 'capture-only', 'none']),
  ips: z.array(z.string()),
  netns: nullableCount,
  established: count,
  establishedPublic: count,
  establishedPublicOutbound: count,
  synSentPublic: count,
  closingPublic: count,
  connectsPerSecond: z.number().nonnegative().nullable(),
  publicConnects: count,
  topDestinations: z.array(destinationSchema),
  score: finite,
  evidence: z.array(
    z.object({
      term: z.string(),
      value: finite,
      weight: finite,
      contribution: finite,
      note: z.string(),
    }),
  ),
});

export const reportSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  investigationId: z.string().min(1),
  generatedAt: z.string(),
  trigger: z.object({
    kind: z.enum(['alert', 'http', 'cli', 'offline']),
    source: z.string().nullable(),
    alertId: z.string().nullable().optional(),
  }),
  cluster: z.object({ resourceId: z.string().nullable(), name: z.string().nullable() }),
  node: z.object({ name: z.string().nullable(), ip: z.string().nullable() }),
  window: z.object({ start: z.string().nullable(), end: z.string().nullable() }),
  snat: z.object({
    allocatedPorts: nullableCount,
    usedPorts: nullableCount,
    failedConnections: nullableCount,
  }),
  capture: z.object({
    status: z.enum(['complete', 'truncated', 'missing', 'failed']),
    variant: z.enum(['bcc', 'libbpf']).nullable(),
    durationSeconds: z.number().nonnegative().nullable(),
    events: z.object({ connect: count, accept: count, close: count }),
    lostEvents: count,
    truncated: z.boolean(),
  }),
  pods: z.array(podRankingSchema),
  destinations: z.array(
    z.object({
      ip: z.string(),
      port,
      flows: count,
      pods: count,
      shareOfAllocated: share,
    }),
  ),
  findings: z.array(
    z.object({
      severity,
      text: z.string(),
      evidence: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    }),
  ),
  recommendations: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      text: z.string(),
      appliesTo: z.array(z.string()),
    }),
  ),
  degraded: z.array(z.object({ step: z.string(), reason: z.string() })),
  dataQuality: z.array(z.object({ source: z.string(), text: z.string(), count })),
  artifacts: z.object({
    json: z.string().nullable(),
    markdown: z.string().nullable(),
    html: z.string().nullable(),
    rawCapture: z.string().nullable(),
  }),
});

// Compile-time proof that the schema and the model describe the same shape, in both directions: a field added to
// one and not the other fails `tsc`.
type SchemaReport = z.output<typeof reportSchema>;
const _schemaMatchesModel = (r: SchemaReport): Report => r;
const _modelMatchesSchema = (r: Report): SchemaReport => r;
void _schemaMatchesModel;
void _modelMatchesSchema;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `['pods', 0, 'topDestinations', 1, 'port']` -> `pods[0].topDestinations[1].port`. */
export function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out.length === 0 ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out.length === 0 ? '$' : out;
}

/** Checks that a value (e.g. a parsed report.json) is a schema v1 report; the problem names the first bad field. */
export function validateReport(value: unknown): Parsed<Report> {
  if (typeof value === 'object' && value !== null && 'schemaVersion' in value) {
    const version = value.schemaVersion;
    if (version !== REPORT_SCHEMA_VERSION) {
      return reject({
        message: `unsupported report schemaVersion ${JSON.stringify(version) ?? String(version)} (this reader understands ${REPORT_SCHEMA_VERSION})`,
        code: 'unsupported-schema-version',
        field: 'schemaVersion',
      });
    }
  }
  const result = reportSchema.safeParse(value);
  if (result.success) return accept(result.data);
  const [first, ...rest] = result.error.issues;
  if (!first) return reject({ message: 'not a report', code: 'invalid-report' });
  const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length === 1 ? '' : 's'})` : '';
  return reject({
    message: `not a schema v${REPORT_SCHEMA_VERSION} report: ${first.message}${more}`,
    code: 'invalid-report',
    field: jsonPath(first.path),
  });
}
