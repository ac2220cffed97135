/**
 * The HTTP contract of the responder as pure functions from plain inputs to `{ status, body, headers }`; the
 * Functions handlers in functions/ only adapt requests to these and these to responses (no Functions types here).
 *
 * Routes (all behind function keys, authLevel `function`):
 *   POST /api/alerts                 `planAlert` (alert.ts) + `alertResponse`; optional shared secret `checkAlertSecret`
 *   POST /api/investigations         `parseStartRequest` -> start/reuse -> `startResponse`
 *   GET  /api/investigations/{id}    `checkInvestigationId` -> getStatus -> `statusResponse`
 *   GET  /api/investigations         `parseRecentQuery` -> list -> `recentResponse`
 *
 * Error bodies are `{ error: { code, message, field? } }`; `field` names the request field at fault.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { canonicalAddress } from '../analysis/ip.js';
import { isDns1123Subdomain, isLabelValue } from '../k8s/names.js';
import { parseJsonText, quote } from '../parse/json.js';
import { clusterAllowed } from '../config/settings.js';
import type { Settings } from '../config/settings.js';
import { isAksClusterId } from '../config/resource-ids.js';
import type { NodeQuery } from '../workflow/contracts.js';
import type { AlertPlan, AlertTarget } from './alert.js';
import type { InstanceView, RegistryEntry } from './registry.js';

export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
}

const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json; charset=utf-8' });

export function jsonResult(status: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { status, body, headers: { ...JSON_HEADERS, ...headers } };
}

export function errorResult(status: number, code: string, message: string, field?: string): HttpResult {
  const body: ErrorBody = { error: { code, message, ...(field !== undefined ? { field } : {}) } };
  return jsonResult(status, body);
}

/** `/api/investigations/<id>` under the request's origin (`https://app.azurewebsites.net`). */
export function statusUrl(origin: string, id: string): string {
  return `${origin.replace(/\/+$/, '')}/api/investigations/${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Alert shared secret
// ---------------------------------------------------------------------------------------------------------------

/** Action groups cannot add headers to a webhook call, so the secret may also travel as a query parameter. */
export const ALERT_SECRET_HEADER = 'x-snat-alert-secret';
export const ALERT_SECRET_QUERY = 'alertSecret';

/** Header lookup over a Fetch `Headers` (case-insensitive `get`) or a plain record. */
export type HeaderSource = { get(name: string): string | null } | Readonly<Record<string, string | undefined>>;

export function headerOf(headers: HeaderSource, name: string): string | null {
  if (typeof headers.get === 'function') return (headers as { get(n: string): string | null }).get(name);
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, string | undefined>)) {
    if (key.toLowerCase() === lower && typeof value === 'string') return value;
  }
  return null;
}

/** Constant-time comparison: both sides hashed first, so neither the content nor the length leaks through timing. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * null when the alert may proceed (no secret configured, or the right one given in the `x-snat-alert-secret` header
 * or the `alertSecret` query parameter); else 401 without saying which part was wrong.
 */
export function checkAlertSecret(
  request: { readonly headers: HeaderSource; readonly query?: { get(name: string): string | null } },
  settings: Pick<Settings, 'alertSecret'>,
): HttpResult | null {
  const expected = settings.alertSecret;
  if (expected === null) return null;
  const given = headerOf(request.headers, ALERT_SECRET_HEADER) ?? request.query?.get(ALERT_SECRET_QUERY) ?? null;
  if (given !== null && secretsEqual(given, expected)) return null;
  return errorResult(
    401,
    'unauthorized',
    `missing or wrong alert secret (header ${ALERT_SECRET_HEADER} or query parameter ${ALERT_SECRET_QUERY})`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// POST /api/alerts
// ---------------------------------------------------------------------------------------------------------------

/** What the handler did for one target of a start plan. */
export interface StartedTarget {
  readonly target: AlertTarget;
  readonly id: string;
  /** false: an existing investigation was returned (running, or finished inside the cooldown). */
  readonly started: boolean;
  readonly why?: 'running' | 'cooldown';
}

/**
 * Targets the workflow cannot run yet: a NAT gateway alert names no node, and the all-nodes census it needs is not
 * built. Refused before anything starts, in the Functions app and in `serve` alike.
 */
export function unsupportedTargets(plan: AlertPlan): HttpResult | null {
  if (plan.kind !== 'start' || plan.targets.every((t) => 'nodeIp' in t)) return null;
  return errorResult(
    400,
    'unsupported-target',
    'a NAT gateway alert names no node, and the all-nodes census it needs is not supported yet: nothing was started',
  );
}

export function alertResponse(plan: AlertPlan, started: readonly StartedTarget[], origin: string): HttpResult {
  switch (plan.kind) {
    case 'ignore':
      return jsonResult(202, { accepted: true, started: [], ignored: { code: plan.code, reason: plan.reason } });
    case 'reject':
      return errorResult(plan.status, plan.code, plan.reason, plan.field);
    case 'start':
      return jsonResult(202, {
        accepted: true,
        alertRule: plan.alertRule,
        investigations: started.map((s) => ({
          id: s.id,
          started: s.started,
          ...(s.why !== undefined ? { reusedBecause: s.why } : {}),
          target: s.target,
          statusUrl: statusUrl(origin, s.id),
        })),
        ...(plan.omittedNodeIps.length > 0
          ? { omittedNodeIps: plan.omittedNodeIps, note: 'over SNAT_MAX_NODES_PER_ALERT: not investigated' }
          : {}),
      });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// POST /api/investigations
// ---------------------------------------------------------------------------------------------------------------

export interface StartRequest {
  /** The AKS cluster resource id as given (validated). */
  readonly cluster: string;
  readonly node: NodeQuery;
  readonly captureSeconds: number;
}

const startBody = z
  .object({
    cluster: z.string().refine(isAksClusterId, {
      message:
        'not an AKS cluster resource id (/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>)',
    }),
    node: z
      .string()
      .refine(isDns1123Subdomain, { message: 'not a Kubernetes node name (DNS-1123 subdomain)' })
      .optional(),
    nodeIp: z
      .string()
      .refine((s) => canonicalAddress(s) !== null, { message: 'not an IP address literal' })
      .optional(),
    captureSeconds: z.number().int().optional(),
  })
  .strict();

export const MAX_START_BODY_BYTES = 16 * 1024;

const EXPECTED: Readonly<Record<string, string>> = {
  int: 'a whole number of seconds',
  number: 'a number',
  string: 'a string',
};

function fieldOf(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Validates a start request body; the 400s name the field at fault. */
export function parseStartRequest(
  body: string | Uint8Array,
  settings: Pick<Settings, 'capture' | 'allowedClusterIds'>,
): { readonly ok: true; readonly request: StartRequest } | { readonly ok: false; readonly response: HttpResult } {
  const bad = (message: string, field?: string) =>
    ({ ok: false, response: errorResult(400, 'invalid-request', message, field) }) as const;
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > MAX_START_BODY_BYTES) {
    return { ok: false, response: errorResult(413, 'too-large', `request body is over ${MAX_START_BODY_BYTES} bytes`) };
  }
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8').decode(body);
  if (text.trim() === '') return bad('empty body: expected {"cluster": ..., "node" | "nodeIp": ...}');
  const json = parseJsonText(text, 'request body');
  if (!json.ok) return bad(json.problem.message);
  const parsed = startBody.safeParse(json.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue === undefined) return bad('invalid request body');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => quote(k)).join(', ');
      return bad(`unknown field(s) ${keys} (expected cluster, node | nodeIp, captureSeconds)`, issue.keys[0]);
    }
    if (issue.path.length === 0) return bad('expected a JSON object {"cluster": ..., "node" | "nodeIp": ...}');
    const field = fieldOf(issue.path);
    const message =
      issue.code === 'invalid_type'
        ? `${field}: expected ${EXPECTED[issue.expected] ?? issue.expected}`
        : `${field}: ${issue.message}`;
    return bad(message, field);
  }
  const { cluster, node, nodeIp, captureSeconds } = parsed.data;
  if ((node === undefined) === (nodeIp === undefined)) {
    return bad(
      'give exactly one of node (a node name) and nodeIp (its InternalIP)',
      node === undefined ? 'node' : 'nodeIp',
    );
  }
  const { defaultSeconds, maxSeconds } = settings.capture;
  const seconds = captureSeconds ?? defaultSeconds;
  if (seconds < 1 || seconds > maxSeconds) {
    return bad(
      `captureSeconds: expected 1..${maxSeconds} (SNAT_CAPTURE_SECONDS_MAX), got ${seconds}`,
      'captureSeconds',
    );
  }
  if (!clusterAllowed(settings, cluster)) {
    return bad('cluster: not in SNAT_ALLOWED_CLUSTER_IDS', 'cluster');
  }
  const query: NodeQuery = nodeIp !== undefined ? { ip: canonicalAddress(nodeIp) ?? nodeIp } : { name: node ?? '' };
  return { ok: true, request: { cluster, node: query, captureSeconds: seconds } };
}

/** 202 with the status URL; a reused investigation says why (running, or finished inside the cooldown). */
export function startResponse(
  result: { readonly id: string; readonly started: boolean; readonly why?: 'running' | 'cooldown' },
  origin: string,
): HttpResult {
  const url = statusUrl(origin, result.id);
  return jsonResult(
    202,
    { id: result.id, started: result.started, ...(result.why ? { reusedBecause: result.why } : {}), statusUrl: url },
    { location: url, 'retry-after': '10' },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// GET /api/investigations/{id}
// ---------------------------------------------------------------------------------------------------------------

/** null when `id` can be an investigation id (a Kubernetes label value), else the 400. */
export function checkInvestigationId(id: string | undefined): HttpResult | null {
  if (id !== undefined && id.length > 0 && isLabelValue(id)) return null;
  return errorResult(400, 'invalid-request', 'id: not an investigation id (1-63 letters, digits, - _ .)', 'id');
}

const customStatusSchema = z.object({
  phase: z.string(),
  node: z.string().nullable().optional(),
  pods: z.object({ done: z.number(), total: z.number() }).optional(),
});

const resultSchema = z.union([
  z.object({
    outcome: z.literal('reported'),
    node: z.object({ name: z.string(), ip: z.string().nullable() }),
    report: z.object({
      json: z.string(),
      markdown: z.string(),
      html: z.string(),
      pods: z.number(),
      top: z.string().nullable(),
      degraded: z.number(),
    }),
  }),
  z.object({ outcome: z.literal('target-not-found'), reason: z.string(), message: z.string() }),
]);

export interface ReportLinks {
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
}

export interface StatusBody {
  readonly id: string;
  /** Durable's runtime status, lower-cased: pending, running, completed, failed, terminated, ... */
  readonly status: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly phase: string | null;
  readonly node: string | null;
  readonly progress: { readonly podsDone: number; readonly podsTotal: number } | null;
  readonly outcome: 'reported' | 'target-not-found' | 'failed' | null;
  readonly summary: { readonly topPod: string | null; readonly pods: number; readonly degraded: number } | null;
  readonly message: string | null;
  /** SAS links when the handler made them, else the store keys of the report files. */
  readonly report: { readonly links: ReportLinks | null; readonly keys: ReportLinks } | null;
}

export function statusBody(view: InstanceView, links: ReportLinks | null = null): StatusBody {
  const status = view.runtimeStatus.toLowerCase();
  const custom = customStatusSchema.safeParse(view.customStatus);
  const result = status === 'completed' ? resultSchema.safeParse(view.output) : null;
  const done = result?.success ? result.data : null;
  let outcome: StatusBody['outcome'] = null;
  if (done !== null) outcome = done.outcome;
  else if (status === 'failed' || status === 'terminated' || status === 'completed') outcome = 'failed';
  return {
    id: view.instanceId,
    status,
    createdAt: view.createdTime.toISOString(),
    updatedAt: view.lastUpdatedTime.toISOString(),
    phase: status === 'completed' ? 'done' : custom.success ? custom.data.phase : null,
    node: done?.outcome === 'reported' ? done.node.name : custom.success ? (custom.data.node ?? null) : null,
    progress:
      custom.success && custom.data.pods
        ? { podsDone: custom.data.pods.done, podsTotal: custom.data.pods.total }
        : null,
    outcome,
    summary:
      done?.outcome === 'reported'
        ? { topPod: done.report.top, pods: done.report.pods, degraded: done.report.degraded }
        : null,
    message: done?.outcome === 'target-not-found' ? done.message : null,
    report:
      done?.outcome === 'reported'
        ? { links, keys: { json: done.report.json, markdown: done.report.markdown, html: done.report.html } }
        : null,
  };
}

export function statusResponse(view: InstanceView | null, id: string, links: ReportLinks | null = null): HttpResult {
  if (view === null) return errorResult(404, 'not-found', `no investigation ${quote(id)}`, 'id');
  return jsonResult(200, statusBody(view, links));
}

// ---------------------------------------------------------------------------------------------------------------
// GET /api/investigations
// ---------------------------------------------------------------------------------------------------------------

export const DEFAULT_RECENT = 20;
export const MAX_RECENT = 100;

export function parseRecentQuery(query: {
  get(name: string): string | null;
}): { readonly ok: true; readonly limit: number } | { readonly ok: false; readonly response: HttpResult } {
  const raw = query.get('limit');
  if (raw === null || raw === '') return { ok: true, limit: DEFAULT_RECENT };
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_RECENT) {
    return {
      ok: false,
      response: errorResult(400, 'invalid-request', `limit: expected 1..${MAX_RECENT}, got ${quote(raw)}`, 'limit'),
    };
  }
  return { ok: true, limit: n };
}

/** The recent investigations, newest first, with status URLs. Accepts Durable views or registry entries. */
export function recentResponse(
  items: ReadonlyArray<InstanceView | RegistryEntry>,
  limit: number,
  origin: string,
): HttpResult {
  const rows = items.map((item) =>
    'instanceId' in item
      ? { id: item.instanceId, status: item.runtimeStatus.toLowerCase(), createdAt: item.createdTime }
      : { id: item.id, status: item.state, createdAt: item.startedAt },
  );
  rows.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return jsonResult(200, {
    investigations: rows.slice(0, limit).map((r) => ({
      id: r.id,
      status: r.status,
      createdAt: r.createdAt.toISOString(),
      statusUrl: statusUrl(origin, r.id),
    })),
  });
}
