/**
 * Azure Monitor alert payloads (FORMATS.md section 10): the common alert schema and the legacy metric webhook schema.
 *
 * The alert decides which node an investigation targets, and its values end up next to kubectl commands, so the
 * payload is validated with zod, every BackendIPAddress value must be a bare IP literal (anything else is reported in
 * `invalidDimensionValues` and never becomes a node IP), and inputs that are not a metric alert are rejected with a
 * code the HTTP endpoint can acknowledge (`not-metric-alert`) instead of starting anything.
 */
import { z } from 'zod';
import { canonicalIpLiteral } from '../analysis/ip.js';
import { parseJsonText, quote, zodProblem } from './json.js';
import { accept, reject } from './types.js';
import type { AlertCondition, AlertDocument, Parsed } from './types.js';

/** Common-schema alerts are at most 256 KB; anything larger is refused before parsing. */
export const MAX_ALERT_BYTES = 256 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Alert schemas
// ---------------------------------------------------------------------------------------------------------------

const DECIMAL = /^\s*-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$/;

/** A value that is not what a field wants, as a message quotes it. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  // JSON.parse reads 1e400 as Infinity: the text is gone, only its being out of range is known.
  if (typeof value === 'number') return 'a number beyond the range of a double';
  if (value === undefined) return 'nothing';
  if (value === null || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Checked by hand rather than by a zod union: a union's issue is a bare "Invalid input", which says nothing of what
 * was expected (zodProblem reports the first issue only).
 */
function expecting<T>(what: string, read: (value: unknown) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    const result = read(value);
    if (result !== undefined) return result;
    ctx.issues.push({ code: 'custom', message: `expected ${what}, got ${describeValue(value)}`, input: value });
    return z.NEVER;
  });
}

/** Azure writes thresholds as strings ("1000") and metric values as numbers; accept both spellings of a number. */
const numberish = expecting('a finite number', (value) => {
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value) ? Number(value) : NaN;
  return Number.isFinite(number) ? number : undefined;
});

const dimensionSchema = z.object({
  name: z.string(),
  value: expecting('a string or a finite number', (value) => {
    if (typeof value === 'string') return value;
    return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
  }),
});

const criterionSchema = z.object({
  metricName: z.string().min(1),
  metricNamespace: z.string().nullish(),
  operator: z.string().nullish(),
  threshold: numberish.nullish(),
  timeAggregation: z.string().nullish(),
  dimensions: z.array(dimensionSchema).nullish(),
  metricValue: numberish.nullish(),
});

const metricConditionSchema = z.object({
  windowSize: z.string().nullish(),
  windowStartTime: z.string().nullish(),
  windowEndTime: z.string().nullish(),
  allOf: z.array(criterionSchema).min(1, { message: 'a metric alert has at least one condition' }),
});

const commonSchema = z.object({
  data: z.object({
    essentials: z.object({
      alertId: z.string().nullish(),
      alertRule: z.string().nullish(),
      severity: z.string().nullish(),
      signalType: z.string().nullish(),
      monitorCondition: z.enum(['Fired', 'Resolved']),
      alertTargetIDs: z.array(z.string()).nullish(),
      firedDateTime: z.string().nullish(),
    }),
    alertContext: z.object({ condition: metricConditionSchema }),
  }),
});

const legacySchema = z.object({
  data: z.object({
    status: z.enum(['Activated', 'Resolved']),
    context: z.object({
      timestamp: z.string().nullish(),
      id: z.string().nullish(),
      name: z.string().nullish(),
      severity: z.union([z.string(), z.number().transform((v) => String(v))]).nullish(),
      condition: metricConditionSchema,
      resourceId: z.string().nullish(),
    }),
  }),
});

type MetricCondition = z.infer<typeof metricConditionSchema>;

const COMMON = 'azureMonitorCommonAlertSchema';
const LEGACY = 'AzureMonitorMetricAlert';
/** Schemas Azure uses for other alert kinds: known, so they are "not a metric alert" rather than "unknown". */
const NON_METRIC_SCHEMAS = new Map([['microsoft.insights/activitylogs', 'activity log']]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function notMetric(message: string, field?: string): Parsed<AlertDocument> {
  return reject({
    code: 'not-metric-alert',
    message: `${message}: not a metric alert, nothing to investigate`,
    ...(field ? { field } : {}),
  });
}

/**
 * Non-metric common-schema alerts (Log, Activity Log, smart detection) have other alertContext shapes; say so
 * instead of reporting the first field zod would miss.
 */
function nonMetricReason(root: Record<string, unknown>): Parsed<AlertDocument> | null {
  const data = root.data;
  if (!isRecord(data)) return null;
  const essentials = data.essentials;
  if (isRecord(essentials) && typeof essentials.signalType === 'string') {
    const signal = essentials.signalType;
    if (signal.toLowerCase() !== 'metric') return notMetric(`${quote(signal)} alert`, 'data.essentials.signalType');
  }
  const context = data.alertContext;
  if (!isRecord(context)) return null;
  if (typeof context.conditionType === 'string' && /log/i.test(context.conditionType)) {
    return notMetric(`condition type ${quote(context.conditionType)}`, 'data.alertContext.conditionType');
  }
  const condition = context.condition;
  if (!isRecord(condition) || !Array.isArray(condition.allOf)) {
    return notMetric('alertContext has no metric condition (condition.allOf)', 'data.alertContext');
  }
  return null;
}

function targetKindOf(resourceId: string | null, namespaces: Array<string | null>): AlertDocument['targetKind'] {
  const id = resourceId?.toLowerCase() ?? '';
  if (id.includes('/providers/microsoft.network/loadbalancers/')) return 'loadBalancer';
  if (id.includes('/providers/microsoft.network/natgateways/')) return 'natGateway';
  if (id.length === 0) {
    // No target id: the metric namespace still says which resource type emitted the metric.
    for (const ns of namespaces) {
      const lower = ns?.toLowerCase();
      if (lower === 'microsoft.network/loadbalancers') return 'loadBalancer';
      if (lower === 'microsoft.network/natgateways') return 'natGateway';
    }
  }
  return 'other';
}

/** Dimensions whose values must be IP literals; BackendIPAddress is the node's private IP. */
const IP_DIMENSIONS = new Set(['backendipaddress', 'frontendipaddress']);

interface ConditionsResult {
  readonly conditions: AlertCondition[];
  readonly nodeIps: string[];
  readonly invalidDimensionValues: Array<{ field: string; value: string }>;
}

function readConditions(condition: MetricCondition, basePath: string): ConditionsResult {
  const nodeIps: string[] = [];
  const invalidDimensionValues: Array<{ field: string; value: string }> = [];
  const conditions = condition.allOf.map((criterion, i): AlertCondition => {
    // A Map, then fromEntries: a dimension named `__proto__` stays a plain own property.
    const dimensions = new Map<string, string>();
    (criterion.dimensions ?? []).forEach((dimension, j) => {
      // First value wins: Azure sends each dimension once; a repeat is not allowed to override it.
      if (!dimensions.has(dimension.name)) dimensions.set(dimension.name, dimension.value);
      const kind = dimension.name.toLowerCase();
      if (!IP_DIMENSIONS.has(kind)) return;
      // A bare literal only: the lenient reading of tool output (brackets, `%zone`) would let `10.224.0.4%$(reboot)`
      // pass as 10.224.0.4.
      const ip = canonicalIpLiteral(dimension.value);
      if (ip === null) {
        invalidDimensionValues.push({
          field: `${basePath}.allOf[${i}].dimensions[${j}].value`,
          value: dimension.value,
        });
      } else if (kind === 'backendipaddress' && !nodeIps.includes(ip)) {
        nodeIps.push(ip);
      }
    });
    return {
      metricName: criterion.metricName,
      metricNamespace: criterion.metricNamespace ?? null,
      metricValue: criterion.metricValue ?? null,
      threshold: criterion.threshold ?? null,
      operator: criterion.operator ?? null,
      timeAggregation: criterion.timeAggregation ?? null,
      dimensions: Object.fromEntries(dimensions),
    };
  });
  return { conditions, nodeIps, invalidDimensionValues };
}

function decode(input: string | Buffer | Uint8Array): string {
  if (typeof input === 'string') return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  // TextDecoder drops a leading UTF-8 BOM by default.
  return new TextDecoder('utf-8').decode(input);
}

function byteLength(input: string | Buffer | Uint8Array): number {
  return typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
}

/**
 * Parses an Azure Monitor alert payload (common schema or legacy metric schema). Rejection codes: `too-large`,
 * `empty`, `invalid-json`, `unknown-schema`, `not-metric-alert`, `invalid-alert` (a zod issue, with `field`).
 */
export function parseAlert(input: string | Buffer | Uint8Array): Parsed<AlertDocument> {
  const size = byteLength(input);
  if (size > MAX_ALERT_BYTES) {
    return reject({
      code: 'too-large',
      message: `alert payload is ${size} bytes, over the 256 KB limit (Azure Monitor alerts are at most 256 KB)`,
    });
  }
  const text = decode(input);
  if (text.trim().length === 0) return reject({ code: 'empty', message: 'empty input: expected an alert payload' });
  const json = parseJsonText(text, 'alert payload');
  if (!json.ok) return json;
  const root = json.value;
  if (!isRecord(root)) {
    return reject({ code: 'unknown-schema', message: 'alert payload is not a JSON object with a schemaId', line: 1 });
  }
  const schemaId = root.schemaId;
  if (typeof schemaId !== 'string') {
    return reject({ code: 'unknown-schema', message: 'alert payload has no schemaId', field: 'schemaId' });
  }
  const lowered = schemaId.toLowerCase();
  if (lowered === COMMON.toLowerCase()) return parseCommon(root);
  if (lowered === LEGACY.toLowerCase()) return parseLegacy(root);
  const known = NON_METRIC_SCHEMAS.get(lowered);
  if (known !== undefined) return notMetric(`schemaId ${quote(schemaId)} (${known} alert)`, 'schemaId');
  return reject({
    code: 'unknown-schema',
    message: `unknown alert schemaId ${quote(schemaId)} (expected ${COMMON} or ${LEGACY})`,
    field: 'schemaId',
  });
}

function parseCommon(root: Record<string, unknown>): Parsed<AlertDocument> {
  const nonMetric = nonMetricReason(root);
  if (nonMetric) return nonMetric;
  const parsed = commonSchema.safeParse(root);
  if (!parsed.success) return reject(zodProblem(parsed.error, 'alert', 'invalid-alert'));
  const { essentials, alertContext } = parsed.data.data;
  const { condition } = alertContext;
  const read = readConditions(condition, 'data.alertContext.condition');
  const targetResourceId = essentials.alertTargetIDs?.[0] ?? null;
  return accept({
    format: 'alert',
    schema: COMMON,
    monitorCondition: essentials.monitorCondition,
    severity: essentials.severity ?? null,
    alertRule: essentials.alertRule ?? null,
    alertId: essentials.alertId ?? null,
    signalType: essentials.signalType ?? null,
    targetResourceId,
    targetKind: targetKindOf(
      targetResourceId,
      read.conditions.map((c) => c.metricNamespace),
    ),
    firedAt: essentials.firedDateTime ?? null,
    windowStart: condition.windowStartTime ?? null,
    windowEnd: condition.windowEndTime ?? null,
    windowSize: condition.windowSize ?? null,
    ...read,
  });
}

function parseLegacy(root: Record<string, unknown>): Parsed<AlertDocument> {
  const parsed = legacySchema.safeParse(root);
  if (!parsed.success) return reject(zodProblem(parsed.error, 'alert', 'invalid-alert'));
  const { status, context } = parsed.data.data;
  const { condition } = context;
  const read = readConditions(condition, 'data.context.condition');
  const targetResourceId = context.resourceId ?? null;
  const severity = context.severity ?? null;
  return accept({
    format: 'alert',
    schema: LEGACY,
    monitorCondition: status === 'Activated' ? 'Fired' : 'Resolved',
    // The legacy schema writes "3" where the common schema writes "Sev3"; one spelling downstream.
    severity: severity !== null && /^[0-4]$/.test(severity) ? `Sev${severity}` : severity,
    alertRule: context.name ?? null,
    alertId: context.id ?? null,
    signalType: 'Metric',
    targetResourceId,
    targetKind: targetKindOf(
      targetResourceId,
      read.conditions.map((c) => c.metricNamespace),
    ),
    firedAt: context.timestamp ?? null,
    windowStart: condition.windowStartTime ?? null,
    windowEnd: condition.windowEndTime ?? null,
    windowSize: condition.windowSize ?? null,
    ...read,
  });
}

/** The load balancer / NAT gateway SNAT metrics, whatever the capitalisation (`UsedSNATPorts` in baseline policies). */
export type SnatMetric = 'UsedSnatPorts' | 'AllocatedSnatPorts' | 'SnatConnectionCount';
const SNAT_METRICS: readonly SnatMetric[] = ['UsedSnatPorts', 'AllocatedSnatPorts', 'SnatConnectionCount'];

export function snatMetricOf(metricName: string): SnatMetric | null {
  const lower = metricName.toLowerCase();
  return SNAT_METRICS.find((m) => m.toLowerCase() === lower) ?? null;
}

/** A condition's dimension value by name, compared case-insensitively (`backendipaddress`, `BackendIPAddress`). */
export function dimensionOf(condition: AlertCondition, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(condition.dimensions)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

/** Sniffer for `analyze`: the first few KB of a file. */
export function looksLikeAlert(head: string): boolean {
  const text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  return /^\s*\{/.test(text) && /"schemaId"\s*:/.test(text);
}
