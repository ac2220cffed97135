/**
 * The HTTP contract of the responder as pure functions from plain inputs to `{ status, body, headers }`; the
 * Functions handlers in functions/ only adapt requests to these and these to responses (no Functions types here).
 *
 * Routes (all behind function keys, authLevel `function`):
 *   POST /api/alerts                 `planAlert` (alert.ts) + `alertResponse`; optional shared secret `checkAlertSecret`
 *   POST /api/investigations         `parseStartRequest` -> start/reuse -> `startResponse`
 *   GET  /api/investigations/{id}    `checkInvestigationId` -> getStatus -> `statusResponse`
 *   GET  /api/investigations         `parseRecentQuery` -> list -> `recentResponse`
 * `snat-responder serve` has no function keys: `checkServeKey` (SNAT_SERVE_KEY, optional) stands in for them there.
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
import type { CensusTopPod, NodeQuery } from '../workflow/contracts.js';
import type { AlertPlan, AlertTarget } from './alert.js';
import type { InstanceView, Outcome, RegistryEntry } from './registry.js';

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
// The key of `snat-responder serve` (SNAT_SERVE_KEY)
// ---------------------------------------------------------------------------------------------------------------

/** Where the Functions host takes a function key from; serve takes SNAT_SERVE_KEY from the same places. */
export const FUNCTION_KEY_HEADER = 'x-functions-key';
export const FUNCTION_KEY_QUERY = 'code';

/**
 * null when the request may proceed (no key configured, or the right one in the `x-functions-key` header or the
 * `code` query parameter, compared in constant time); else 401 without saying which part was wrong. The Functions
 * convention, so that one client works against both the Function App and `snat-responder serve`.
 */
export function checkServeKey(
  request: { readonly headers: HeaderSource; readonly query?: { get(name: string): string | null } },
  settings: Pick<Settings, 'serveKey'>,
): HttpResult | null {
  const expected = settings.serveKey;
  if (expected === null) return null;
  const given = headerOf(request.headers, FUNCTION_KEY_HEADER) ?? request.query?.get(FUNCTION_KEY_QUERY) ?? null;
  if (given !== null && secretsEqual(given, expected)) return null;
  return errorResult(
    401,
    'unauthorized',
    `missing or wrong key (header ${FUNCTION_KEY_HEADER} or query parameter ${FUNCTION_KEY_QUERY})`,
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
  // A cluster census's (and an alert's) progress: node investigations over / to run.
  nodes: z.object({ done: z.number(), total: z.number() }).optional(),
});

const reportSchema = z.object({
  json: z.string(),
  markdown: z.string(),
  html: z.string(),
  pods: z.number(),
  top: z.string().nullable(),
  degraded: z.number(),
});

const nodeQuerySchema = z.union([z.object({ name: z.string() }), z.object({ ip: z.string() })]);

const nodeOutcomeSchema = z.union([
  z.object({
    investigationId: z.string(),
    node: nodeQuerySchema,
    outcome: z.literal('reported'),
    nodeName: z.string(),
    report: reportSchema,
  }),
  z.object({
    investigationId: z.string(),
    node: nodeQuerySchema,
    outcome: z.enum(['target-not-found', 'failed']),
    message: z.string(),
  }),
]);

const deliverySchema = z.object({
  target: z.string(),
  kind: z.enum(['teams', 'webhook']),
  ok: z.boolean(),
  status: z.number().optional(),
  attempts: z.number(),
});

const censusBase = {
  natGatewayId: z.string(),
  cluster: z.object({ resourceId: z.string().nullable(), name: z.string().nullable() }),
  total: z.number(),
  skipped: z.object({ notReady: z.number(), overLimit: z.number() }),
  // The census's one notification (absent from results of before it existed).
  notifications: z
    .object({ targets: z.array(deliverySchema) })
    .nullable()
    .optional(),
  degraded: z.array(z.object({ step: z.string(), reason: z.string() })).optional(),
};

const resultSchema = z.union([
  z.object({
    outcome: z.literal('reported'),
    node: z.object({ name: z.string(), ip: z.string().nullable() }),
    report: reportSchema,
  }),
  z.object({ outcome: z.literal('target-not-found'), reason: z.string(), message: z.string() }),
  z.object({
    outcome: z.literal('census'),
    ...censusBase,
    nodes: z.array(nodeOutcomeSchema),
    top: z.array(
      z.object({
        pod: z.string(),
        node: z.string(),
        investigationId: z.string(),
        score: z.number().nullable(),
        publicConnections: z.number().nullable(),
      }),
    ),
  }),
  z.object({ outcome: z.literal('no-nodes'), ...censusBase, message: z.string() }),
]);

export interface ReportLinks {
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
}

/** One node of a cluster census, in a status body. */
export interface CensusNodeStatus {
  /** The node's investigation (a sub-orchestration: its own status URL under Durable). */
  readonly id: string;
  /** The node's name (as resolved, else as listed). */
  readonly node: string;
  readonly outcome: 'reported' | 'target-not-found' | 'failed';
  readonly summary: { readonly topPod: string | null; readonly pods: number; readonly degraded: number } | null;
  readonly message: string | null;
  readonly report: { readonly links: ReportLinks | null; readonly keys: ReportLinks } | null;
}

/** A NAT gateway alert's cluster census, in a status body (`outcome` census or no-nodes). */
export interface CensusStatusBody {
  readonly natGatewayId: string;
  readonly cluster: { readonly resourceId: string | null; readonly name: string | null };
  /** Nodes in the cluster; those not censused are counted in `skipped`. */
  readonly total: number;
  readonly skipped: { readonly notReady: number; readonly overLimit: number };
  readonly nodes: CensusNodeStatus[];
  /** The nodes' top pods ranked across the cluster (score, then public connections). */
  readonly top: CensusTopPod[];
  /** The census's one message, per target (named by origin, never by URL); null when none was sent. */
  readonly notifications: ReadonlyArray<z.infer<typeof deliverySchema>> | null;
  /** What the census itself could not do (its notification, a link). */
  readonly degraded: ReadonlyArray<{ readonly step: string; readonly reason: string }>;
}

export interface StatusBody {
  readonly id: string;
  /** Durable's runtime status, lower-cased: pending, running, completed, failed, terminated, ... */
  readonly status: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly phase: string | null;
  readonly node: string | null;
  /** Pods censused on the node; for a cluster census, node investigations over. */
  readonly progress:
    | { readonly podsDone: number; readonly podsTotal: number }
    | { readonly nodesDone: number; readonly nodesTotal: number }
    | null;
  readonly outcome: Outcome | null;
  readonly summary: { readonly topPod: string | null; readonly pods: number; readonly degraded: number } | null;
  readonly message: string | null;
  /** SAS links when the handler made them, else the store keys of the report files. */
  readonly report: { readonly links: ReportLinks | null; readonly keys: ReportLinks } | null;
  /** A cluster census (NAT gateway alert): its nodes, their reports, the pods ranked across them; else null. */
  readonly census: CensusStatusBody | null;
}

const keysOf = (report: ReportLinks): ReportLinks => ({
  json: report.json,
  markdown: report.markdown,
  html: report.html,
});

/**
 * `links`: the report's links (one node); `nodeLinks`: a census's per-node report links by node investigation id
 * (absent ones show their keys only).
 */
export function statusBody(
  view: InstanceView,
  links: ReportLinks | null = null,
  nodeLinks: Readonly<Record<string, ReportLinks>> = {},
): StatusBody {
  const status = view.runtimeStatus.toLowerCase();
  const custom = customStatusSchema.safeParse(view.customStatus);
  const result = status === 'completed' ? resultSchema.safeParse(view.output) : null;
  const done = result?.success ? result.data : null;
  let outcome: StatusBody['outcome'] = null;
  if (done !== null) outcome = done.outcome;
  else if (status === 'failed' || status === 'terminated' || status === 'completed') outcome = 'failed';
  let progress: StatusBody['progress'] = null;
  if (custom.success && custom.data.pods) {
    progress = { podsDone: custom.data.pods.done, podsTotal: custom.data.pods.total };
  } else if (custom.success && custom.data.nodes) {
    progress = { nodesDone: custom.data.nodes.done, nodesTotal: custom.data.nodes.total };
  }

  let census: CensusStatusBody | null = null;
  let summary: StatusBody['summary'] = null;
  if (done?.outcome === 'reported') {
    summary = { topPod: done.report.top, pods: done.report.pods, degraded: done.report.degraded };
  } else if (done?.outcome === 'census' || done?.outcome === 'no-nodes') {
    const nodes = done.outcome === 'census' ? done.nodes : [];
    census = {
      natGatewayId: done.natGatewayId,
      cluster: done.cluster,
      total: done.total,
      skipped: done.skipped,
      nodes: nodes.map((n): CensusNodeStatus => {
        const listed = 'name' in n.node ? n.node.name : n.node.ip;
        if (n.outcome !== 'reported') {
          return {
            id: n.investigationId,
            node: listed,
            outcome: n.outcome,
            summary: null,
            message: n.message,
            report: null,
          };
        }
        return {
          id: n.investigationId,
          node: n.nodeName,
          outcome: 'reported',
          summary: { topPod: n.report.top, pods: n.report.pods, degraded: n.report.degraded },
          message: null,
          report: { links: nodeLinks[n.investigationId] ?? null, keys: keysOf(n.report) },
        };
      }),
      top: done.outcome === 'census' ? done.top : [],
      notifications: done.notifications?.targets ?? null,
      degraded: done.degraded ?? [],
    };
    if (done.outcome === 'census') {
      const reported = census.nodes.flatMap((n) => (n.summary ? [n.summary] : []));
      summary = {
        topPod: done.top[0]?.pod ?? null,
        pods: reported.reduce((sum, n) => sum + n.pods, 0),
        degraded: reported.reduce((sum, n) => sum + n.degraded, 0),
      };
    }
  }
  return {
    id: view.instanceId,
    status,
    createdAt: view.createdTime.toISOString(),
    updatedAt: view.lastUpdatedTime.toISOString(),
    phase: status === 'completed' ? 'done' : custom.success ? custom.data.phase : null,
    node: done?.outcome === 'reported' ? done.node.name : custom.success ? (custom.data.node ?? null) : null,
    progress,
    outcome,
    summary,
    message:
      done?.outcome === 'target-not-found' || done?.outcome === 'no-nodes'
        ? done.message
        : outcome === 'failed'
          ? failureOf(view.output)
          : null,
    report: done?.outcome === 'reported' ? { links, keys: keysOf(done.report) } : null,
    census,
  };
}

/** Longest failure reason a status shows (the rest is in the logs). */
export const MAX_FAILURE_MESSAGE = 500;

/**
 * Why an investigation failed, from its output: Durable keeps a failed orchestration's error as the output string
 * (`<message>\n<details>`), serve keeps the error message. The first line only, bounded.
 */
function failureOf(output: unknown): string | null {
  const text =
    typeof output === 'string'
      ? output
      : typeof output === 'object' && output !== null && typeof (output as { message?: unknown }).message === 'string'
        ? (output as { message: string }).message
        : null;
  const first = text?.split('\n', 1)[0]?.trim() ?? '';
  if (first === '') return null;
  return first.length > MAX_FAILURE_MESSAGE ? `${first.slice(0, MAX_FAILURE_MESSAGE - 3)}...` : first;
}

export function statusResponse(
  view: InstanceView | null,
  id: string,
  links: ReportLinks | null = null,
  nodeLinks: Readonly<Record<string, ReportLinks>> = {},
): HttpResult {
  if (view === null) return errorResult(404, 'not-found', `no investigation ${quote(id)}`, 'id');
  return jsonResult(200, statusBody(view, links, nodeLinks));
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
