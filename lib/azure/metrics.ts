/**
 * SNAT metrics of one node from Azure Monitor, over the alert window, for the report's `snat` block and the scoring
 * (lib/analysis/rank.ts measures each pod's busiest destination against `allocatedPorts`).
 *
 * The load balancer's metrics carry the node as the `BackendIPAddress` dimension (its private IP). Two requests,
 * because `ConnectionState` is a dimension of SnatConnectionCount only (asking it of the port metrics is a 400):
 * - `AllocatedSnatPorts,UsedSnatPorts`, aggregation `Average,Maximum`, filter `BackendIPAddress eq '<ip>'`;
 * - `SnatConnectionCount`, aggregation `Total`, filter `BackendIPAddress eq '<ip>' and ConnectionState eq 'failed'`.
 * Reduced over the window: allocated = the largest Average (allocation is constant per node, and Average is the
 * documented aggregation); used = the peak Maximum (the peak is what ran out), else the largest Average;
 * failedConnections = the sum of Total. A metric without any data point is null, never 0: "no data" and "no
 * failures" are different statements in a report.
 *
 * The IP is validated and canonicalised (lib/analysis/ip.ts) before anything is sent: nothing else is ever
 * interpolated into the filter.
 */
import type { Metric, MetricValue } from '@azure/arm-monitor';
import { canonicalAddress } from '../analysis/ip.js';
import type { SnatMetricsReader } from '../workflow/context.js';
import { ArmError, isArmError, isTransientArm, withArmRetry } from './arm.js';
import type { ArmErrorReason, ArmSession } from './arm.js';
import { LOAD_BALANCER_TYPE, requireType, resourceUri } from './resource-id.js';

/** The report's `snat` block (lib/workflow/contracts.ts, report schema v1). */
export interface SnatMetrics {
  readonly allocatedPorts: number | null;
  readonly usedPorts: number | null;
  readonly failedConnections: number | null;
}

export interface SnatMetricsRequest {
  /** The load balancer the alert names (any case). */
  readonly lbId: string;
  /** The node's private IP (the BackendIPAddress dimension). */
  readonly nodeIp: string;
  /** The alert window (`windowStartTime`..`windowEndTime`), as Dates or ISO 8601 strings. */
  readonly window: { readonly start: Date | string; readonly end: Date | string };
}

export interface SnatMetricsOptions {
  readonly session: ArmSession;
  readonly abortSignal?: AbortSignal;
}

/** Azure Monitor keeps 93 days; an alert window is minutes. Anything longer than this is a mistake upstream. */
export const MAX_WINDOW_MS = 7 * 24 * 3_600_000;

function toTime(value: Date | string, what: string): number {
  const t = value instanceof Date ? value.getTime() : Date.parse(value);
  if (!Number.isFinite(t))
    throw new ArmError('invalid', `SNAT metrics: window ${what} ${JSON.stringify(value)} is not a time`);
  return t;
}

/** `timespan` and `interval` for a window: one-minute grain up to a day, else one hour. */
export function metricsQueryWindow(window: SnatMetricsRequest['window']): { timespan: string; interval: string } {
  const start = toTime(window.start, 'start');
  const end = toTime(window.end, 'end');
  if (end <= start) {
    throw new ArmError('invalid', `SNAT metrics: window end ${new Date(end).toISOString()} is not after its start`);
  }
  if (end - start > MAX_WINDOW_MS) throw new ArmError('invalid', 'SNAT metrics: window longer than 7 days');
  return {
    timespan: `${new Date(start).toISOString()}/${new Date(end).toISOString()}`,
    interval: end - start <= 24 * 3_600_000 ? 'PT1M' : 'PT1H',
  };
}

/** The series of `metric` for `ip`: those whose backendipaddress metadata is that IP, or that carry none. */
function pointsFor(metric: Metric | undefined, ip: string): MetricValue[] {
  if (!metric) return [];
  const out: MetricValue[] = [];
  for (const series of metric.timeseries ?? []) {
    const backend = (series.metadatavalues ?? []).find((m) => m.name?.value.toLowerCase() === 'backendipaddress');
    if (backend && canonicalAddress(backend.value ?? '') !== ip) continue;
    out.push(...(series.data ?? []));
  }
  return out;
}

function maxOf(values: Array<number | undefined>): number | null {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return present.length > 0 ? Math.max(...present) : null;
}

function sumOf(values: Array<number | undefined>): number | null {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return present.length > 0 ? present.reduce((a, b) => a + b, 0) : null;
}

function byName(metrics: readonly Metric[], name: string): Metric | undefined {
  return metrics.find((m) => m.name.value.toLowerCase() === name.toLowerCase());
}

export async function snatMetricsForNode(
  request: SnatMetricsRequest,
  options: SnatMetricsOptions,
): Promise<SnatMetrics> {
  const ip = canonicalAddress(typeof request.nodeIp === 'string' ? request.nodeIp : '');
  if (ip === null || !/^[0-9a-f.:]+$/.test(ip)) {
    throw new ArmError('invalid', `SNAT metrics: node IP ${JSON.stringify(request.nodeIp)} is not an IP literal`);
  }
  const lb = requireType(request.lbId, LOAD_BALANCER_TYPE);
  const { timespan, interval } = metricsQueryWindow(request.window);
  const clients = options.session.clientsFor(lb.subscriptionId);
  const uri = resourceUri(lb);
  const common = {
    timespan,
    interval,
    metricnamespace: LOAD_BALANCER_TYPE,
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  };
  const ports = await withArmRetry(
    `read SNAT port metrics of ${ip} on ${lb.id}`,
    () =>
      clients.monitor.metrics.list(uri, {
        ...common,
        metricnames: 'AllocatedSnatPorts,UsedSnatPorts',
        aggregation: 'Average,Maximum',
        filter: `BackendIPAddress eq '${ip}'`,
      }),
    clients.retry,
  );
  const connections = await withArmRetry(
    `read failed SNAT connections of ${ip} on ${lb.id}`,
    () =>
      clients.monitor.metrics.list(uri, {
        ...common,
        metricnames: 'SnatConnectionCount',
        aggregation: 'Total',
        filter: `BackendIPAddress eq '${ip}' and ConnectionState eq 'failed'`,
      }),
    clients.retry,
  );
  const allocated = pointsFor(byName(ports.value, 'AllocatedSnatPorts'), ip);
  const used = pointsFor(byName(ports.value, 'UsedSnatPorts'), ip);
  const failed = pointsFor(byName(connections.value, 'SnatConnectionCount'), ip);
  return {
    allocatedPorts: maxOf(allocated.map((p) => p.average ?? p.maximum)),
    usedPorts: maxOf(used.map((p) => p.maximum ?? p.average)),
    failedConnections: sumOf(failed.map((p) => p.total)),
  };
}

/**
 * What an activity returns (expected outcomes as values, STYLE.md): the metrics, or why there are none plus the
 * fallback (`allocatedPorts` from a setting, say) so the report and the scoring still have a denominator. Throws only
 * transient failures that outlived the retries (throttled, 5xx, timeouts, network), which are worth retrying at the
 * activity level; a refused IP, a missing load balancer or a 403 come back as `ok: false`.
 */
export type SnatMetricsOutcome =
  | { readonly ok: true; readonly snat: SnatMetrics }
  | {
      readonly ok: false;
      readonly snat: SnatMetrics;
      readonly reason: ArmErrorReason;
      /** For the report's `degraded` list: what failed and where. */
      readonly message: string;
    };

export async function readSnatMetrics(
  request: SnatMetricsRequest,
  options: SnatMetricsOptions & { readonly fallback?: Partial<SnatMetrics> },
): Promise<SnatMetricsOutcome> {
  const fallback: SnatMetrics = {
    allocatedPorts: options.fallback?.allocatedPorts ?? null,
    usedPorts: options.fallback?.usedPorts ?? null,
    failedConnections: options.fallback?.failedConnections ?? null,
  };
  try {
    const snat = await snatMetricsForNode(request, options);
    // Azure Monitor wins; a setting fills only what Monitor had no data for.
    return {
      ok: true,
      snat: {
        allocatedPorts: snat.allocatedPorts ?? fallback.allocatedPorts,
        usedPorts: snat.usedPorts ?? fallback.usedPorts,
        failedConnections: snat.failedConnections ?? fallback.failedConnections,
      },
    };
  } catch (e) {
    if (!isArmError(e) || isTransientArm(e)) throw e;
    return { ok: false, snat: fallback, reason: e.reason, message: `SNAT metrics unavailable: ${e.message}` };
  }
}

/**
 * The workflow's `SnatMetricsReader` (lib/workflow/context.ts) over Azure Monitor through `session`: what resolveTarget
 * calls in the Functions app (lib/azure/activity-factory.ts) and under `snat-responder serve` when it reads Azure
 * Monitor (cli/serve.ts; the demo's simulated ARM).
 */
export function snatMetricsReader(session: ArmSession): SnatMetricsReader {
  return async (request, fallback) => {
    const outcome = await readSnatMetrics(request, { session, fallback });
    return outcome.ok ? { ok: true, snat: outcome.snat } : { ok: false, snat: outcome.snat, message: outcome.message };
  };
}
