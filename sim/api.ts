/**
 * The REST side of the simulated API server: discovery, nodes, namespaces, pods (+ log), workloads, Jobs (create, get,
 * list, delete with propagation) and events, as JSON or as server-side printed Tables; bearer-token authentication;
 * request faults (latency, 429, 500). Exec upgrades are in sim/exec.ts.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cluster, Json } from './cluster.js';
import { pluralOf } from './cluster.js';
import type { FaultState } from './faults.js';
import type { KObject } from './objects.js';
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  notFound,
  pathNotFound,
  RESOURCES,
  tooManyRequests,
  unauthorized,
} from './status.js';
import type { Resource } from './status.js';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, SelectorError } from './selectors.js';
import type { FieldResource } from './selectors.js';
import { toTable, wantsTable } from './table.js';
import type { TableKind } from './table.js';

export interface ApiContext {
  readonly cluster: Cluster;
  readonly faults: FaultState;
  readonly token: string;
  /** Number of requests served (tests and benchmarks read it). */
  requests: number;
}

const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** What the API server serves without credentials (system:public-info-viewer). */
const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
}

/**
 * Checks what every request goes through before it is routed: latency, authentication, counted faults. Returns the
 * error to answer with, if any. Shared with exec upgrades.
 */
export async function admit(ctx: ApiContext, req: IncomingMessage, path: string): Promise<ApiError | null> {
  ctx.requests += 1;
  const faults = ctx.faults.current;
  if (faults.latencyMs > 0) await sleep(faults.latencyMs);
  const auth = req.headers.authorization;
  if (auth === undefined ? !PUBLIC_PATHS.has(path) : auth !== `Bearer ${ctx.token}`) return unauthorized();
  const fault = ctx.faults.takeRequestFault();
  if (fault === 'rateLimit') return tooManyRequests();
  if (fault === 'serverError') return internalError('the simulated API server failed this request (injected fault)');
  return null;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
    'Audit-Id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

export async function handleRequest(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://sim');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  try {
    const refused = await admit(ctx, req, path);
    if (refused) throw refused;
    const body =
      req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE' ? await readBody(req) : undefined;
    const reply = route(
      ctx,
      req.method ?? 'GET',
      path,
      url.searchParams,
      body,
      req.headers.accept,
      req.headers.host ?? '127.0.0.1',
    );
    if (reply.contentType !== undefined && typeof reply.body === 'string') {
      res.writeHead(reply.status, {
        'Content-Type': reply.contentType,
        'Content-Length': Buffer.byteLength(reply.body),
        'Cache-Control': 'no-cache, private',
        'Audit-Id': randomUUID(),
      });
      res.end(reply.body);
    } else {
      sendJson(res, reply.status, reply.body, reply.headers);
    }
  } catch (e) {
    const error =
      e instanceof ApiError
        ? e
        : e instanceof SelectorError
          ? badRequest(e.message)
          : internalError(e instanceof Error ? e.message : String(e));
    if (!res.headersSent) sendJson(res, error.code, error.body(), error.headers);
    else res.destroy();
  }
}

async function readBody(req: IncomingMessage): Promise<Json | undefined> {
  const type = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && type !== '*/*' && type !== '') {
    req.resume();
    // kubectl's typed commands (`kubectl create namespace`) send protobuf; manifests (`kubectl create -f`) send JSON.
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json (the simulated cluster does not decode ${type})`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Json;
  } catch (e) {
    throw badRequest(
      `the body of the request was in an unknown format - accepted media types include: application/json (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

// ----------------------------------------------------------------------------------------------------------------
// Discovery

function versionInfo(ctx: ApiContext): Json {
  const git = ctx.cluster.world.scenario.cluster.kubernetesVersion;
  const [major = '1', minor = '32'] = git.replace(/^v/, '').split('.');
  return {
    major,
    minor,
    gitVersion: git,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-10-01T00:00:00Z',
    goVersion: 'go1.23.12',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

const verbs = {
  all: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  read: ['get', 'list', 'watch'],
};

const CORE_RESOURCES = [
  { name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: verbs.all, shortNames: ['ev'] },
  {
    name: 'namespaces',
    singularName: 'namespace',
    namespaced: false,
    kind: 'Namespace',
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
  },
  { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: verbs.all, shortNames: ['no'] },
  {
    name: 'pods',
    singularName: 'pod',
    namespaced: true,
    kind: 'Pod',
    verbs: verbs.all,
    shortNames: ['po'],
    categories: ['all'],
  },
  { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
  { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
  { name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update'] },
];
const APPS_RESOURCES = [
  {
    name: 'daemonsets',
    singularName: 'daemonset',
    namespaced: true,
    kind: 'DaemonSet',
    verbs: verbs.all,
    shortNames: ['ds'],
    categories: ['all'],
  },
  {
    name: 'deployments',
    singularName: 'deployment',
    namespaced: true,
    kind: 'Deployment',
    verbs: verbs.all,
    shortNames: ['deploy'],
    categories: ['all'],
  },
  {
    name: 'replicasets',
    singularName: 'replicaset',
    namespaced: true,
    kind: 'ReplicaSet',
    verbs: verbs.all,
    shortNames: ['rs'],
    categories: ['all'],
  },
  {
    name: 'statefulsets',
    singularName: 'statefulset',
    namespaced: true,
    kind: 'StatefulSet',
    verbs: verbs.all,
    shortNames: ['sts'],
    categories: ['all'],
  },
];
const BATCH_RESOURCES = [
  {
    name: 'cronjobs',
    singularName: 'cronjob',
    namespaced: true,
    kind: 'CronJob',
    verbs: verbs.all,
    shortNames: ['cj'],
    categories: ['all'],
  },
  { name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: verbs.all, categories: ['all'] },
  { name: 'jobs/status', singularName: '', namespaced: true, kind: 'Job', verbs: ['get', 'patch', 'update'] },
];

const groupVersion = (group: string) => ({ groupVersion: `${group}/v1`, version: 'v1' });

function discovery(ctx: ApiContext, path: string, host: string): Reply | null {
  switch (path) {
    case '/version':
      return { status: 200, body: versionInfo(ctx) };
    case '/healthz':
    case '/livez':
    case '/readyz':
      return { status: 200, body: 'ok', contentType: 'text/plain; charset=utf-8' };
    case '/api':
      return {
        status: 200,
        body: {
          kind: 'APIVersions',
          versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }],
        },
      };
    case '/apis':
      return {
        status: 200,
        body: {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: ['apps', 'batch'].map((name) => ({
            name,
            versions: [groupVersion(name)],
            preferredVersion: groupVersion(name),
          })),
        },
      };
    case '/api/v1':
      return { status: 200, body: { kind: 'APIResourceList', groupVersion: 'v1', resources: CORE_RESOURCES } };
    case '/apis/apps':
    case '/apis/batch': {
      const name = path.slice('/apis/'.length);
      return {
        status: 200,
        body: {
          kind: 'APIGroup',
          apiVersion: 'v1',
          name,
          versions: [groupVersion(name)],
          preferredVersion: groupVersion(name),
        },
      };
    }
    case '/apis/apps/v1':
      return {
        status: 200,
        body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'apps/v1', resources: APPS_RESOURCES },
      };
    case '/apis/batch/v1':
      return {
        status: 200,
        body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'batch/v1', resources: BATCH_RESOURCES },
      };
    default:
      return null;
  }
}

// ----------------------------------------------------------------------------------------------------------------
// Resources

interface ListSpec {
  readonly kind: string;
  readonly apiVersion: string;
  readonly fields: FieldResource;
  readonly table: TableKind;
}

const LIST_SPECS: Record<string, ListSpec> = {
  nodes: { kind: 'NodeList', apiVersion: 'v1', fields: 'nodes', table: 'nodes' },
  namespaces: { kind: 'NamespaceList', apiVersion: 'v1', fields: 'namespaces', table: 'namespaces' },
  pods: { kind: 'PodList', apiVersion: 'v1', fields: 'pods', table: 'pods' },
  events: { kind: 'EventList', apiVersion: 'v1', fields: 'events', table: 'events' },
  jobs: { kind: 'JobList', apiVersion: 'batch/v1', fields: 'jobs', table: 'jobs' },
  cronjobs: { kind: 'CronJobList', apiVersion: 'batch/v1', fields: 'other', table: 'other' },
  replicasets: { kind: 'ReplicaSetList', apiVersion: 'apps/v1', fields: 'other', table: 'other' },
  deployments: { kind: 'DeploymentList', apiVersion: 'apps/v1', fields: 'other', table: 'other' },
  daemonsets: { kind: 'DaemonSetList', apiVersion: 'apps/v1', fields: 'other', table: 'other' },
  statefulsets: { kind: 'StatefulSetList', apiVersion: 'apps/v1', fields: 'other', table: 'other' },
};

/** Objects in etcd key order: namespace, then name. */
function ordered(objects: Iterable<KObject>): KObject[] {
  const key = (o: KObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  return [...objects].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function collection(ctx: ApiContext, plural: string, namespace: string | null): KObject[] {
  const c = ctx.cluster;
  const inNs = (o: KObject) => namespace === null || o.metadata.namespace === namespace;
  switch (plural) {
    case 'nodes':
      return ordered(c.nodes.values());
    case 'namespaces':
      return ordered(c.namespaces.values());
    case 'pods':
      return ordered([...c.pods.values()].filter(inNs));
    case 'jobs':
      return ordered([...c.jobs.values()].filter(inNs));
    case 'events':
      return c.events.filter(inNs);
    default:
      return ordered(
        [...c.workloads.entries()]
          .filter(([k]) => k.startsWith(`${plural}/`))
          .map(([, o]) => o)
          .filter(inNs),
      );
  }
}

function asItem(o: KObject): KObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = o;
  return rest;
}

function list(
  ctx: ApiContext,
  plural: string,
  namespace: string | null,
  query: URLSearchParams,
  accept: string | undefined,
): Reply {
  const spec = LIST_SPECS[plural]!;
  if (query.get('watch') === 'true' || query.get('watch') === '1') {
    throw badRequest('watch is not supported by the simulated cluster');
  }
  const labels = parseLabelSelector(query.get('labelSelector') ?? '');
  const fields = parseFieldSelector(query.get('fieldSelector') ?? '', spec.fields);
  let items = collection(ctx, plural, namespace).filter(
    (o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o),
  );
  const rv = ctx.cluster.resourceVersion;
  // limit/continue: the continue token is the offset into the filtered, ordered list.
  let start = 0;
  const token = query.get('continue');
  if (token) {
    const decoded = /^(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
    if (!decoded) throw badRequest('continue key is not valid: illegal base64 data');
    start = Number(decoded[1]);
  }
  const limit = Number(query.get('limit') ?? '0');
  const metadata: Json = { resourceVersion: rv };
  if (Number.isInteger(limit) && limit > 0) {
    const end = start + limit;
    if (end < items.length) {
      metadata.continue = Buffer.from(String(end)).toString('base64');
      metadata.remainingItemCount = items.length - end;
    }
    items = items.slice(start, end);
  } else if (start > 0) {
    items = items.slice(start);
  }
  if (wantsTable(accept)) {
    const table = toTable(spec.table, items, rv);
    return { status: 200, body: { ...table, metadata: { ...metadata, ...(table.metadata as Json) } } };
  }
  return { status: 200, body: { kind: spec.kind, apiVersion: spec.apiVersion, metadata, items: items.map(asItem) } };
}

function single(
  ctx: ApiContext,
  plural: string,
  o: KObject | undefined,
  resource: Resource,
  name: string,
  accept: string | undefined,
): Reply {
  if (!o) throw notFound(resource, name);
  if (wantsTable(accept))
    return { status: 200, body: toTable(LIST_SPECS[plural]!.table, [o], ctx.cluster.resourceVersion) };
  return { status: 200, body: o };
}

const WORKLOADS = new Set(['replicasets', 'deployments', 'daemonsets', 'statefulsets', 'cronjobs']);

function route(
  ctx: ApiContext,
  method: string,
  path: string,
  query: URLSearchParams,
  body: Json | undefined,
  accept: string | undefined,
  host: string,
): Reply {
  const found = discovery(ctx, path, host);
  if (found) {
    if (method !== 'GET') throw methodNotAllowed(method);
    return found;
  }
  const c = ctx.cluster;
  const seg = path.split('/').slice(1);
  let group: 'core' | 'apps' | 'batch';
  let rest: string[];
  if (seg[0] === 'api' && seg[1] === 'v1') {
    group = 'core';
    rest = seg.slice(2);
  } else if (seg[0] === 'apis' && (seg[1] === 'apps' || seg[1] === 'batch') && seg[2] === 'v1') {
    group = seg[1];
    rest = seg.slice(3);
  } else {
    throw pathNotFound();
  }
  let namespace: string | null = null;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = decodeURIComponent(rest[1]!);
    rest = rest.slice(2);
  }
  const [plural = '', rawName, sub, ...extra] = rest;
  const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
  if (extra.length > 0) throw pathNotFound();
  const known =
    group === 'core'
      ? ['nodes', 'namespaces', 'pods', 'events'].includes(plural)
      : group === 'batch'
        ? plural === 'jobs' || plural === 'cronjobs'
        : WORKLOADS.has(plural) && plural !== 'cronjobs';
  if (!known) throw pathNotFound();
  const clusterScoped = plural === 'nodes' || plural === 'namespaces';
  if (clusterScoped && namespace !== null) throw pathNotFound();

  // Collections.
  if (name === undefined) {
    if (method === 'GET') return list(ctx, plural, namespace, query, accept);
    if (method === 'POST' && plural === 'namespaces') return { status: 201, body: c.createNamespace(body ?? {}) };
    if (method === 'POST' && plural === 'jobs' && namespace !== null) {
      const job = c.createJob(namespace, body ?? {});
      return { status: 201, body: job };
    }
    throw methodNotAllowed(method);
  }

  // Subresources.
  if (sub !== undefined) {
    if (plural === 'pods' && namespace !== null && sub === 'log' && method === 'GET') {
      return { status: 200, body: c.podLog(namespace, name, query), contentType: 'text/plain' };
    }
    if (plural === 'pods' && namespace !== null && (sub === 'exec' || sub === 'attach')) {
      if (!c.pods.has(`${namespace}/${name}`)) throw notFound(RESOURCES.pods, name);
      throw badRequest('Upgrade request required');
    }
    if ((plural === 'pods' || plural === 'jobs') && namespace !== null && sub === 'status' && method === 'GET') {
      const o = plural === 'pods' ? c.pods.get(`${namespace}/${name}`) : c.jobs.get(`${namespace}/${name}`);
      return single(ctx, plural, o, RESOURCES[plural], name, accept);
    }
    throw pathNotFound();
  }

  // Single objects.
  const key = `${namespace}/${name}`;
  if (method === 'GET') {
    switch (plural) {
      case 'nodes':
        return single(ctx, plural, c.nodes.get(name), RESOURCES.nodes, name, accept);
      case 'namespaces':
        return single(ctx, plural, c.namespaces.get(name), RESOURCES.namespaces, name, accept);
      case 'pods':
        return single(ctx, plural, c.pods.get(key), RESOURCES.pods, name, accept);
      case 'jobs':
        return single(ctx, plural, c.jobs.get(key), RESOURCES.jobs, name, accept);
      case 'events':
        return single(
          ctx,
          plural,
          c.events.find((e) => e.metadata.namespace === namespace && e.metadata.name === name),
          RESOURCES.events,
          name,
          accept,
        );
      default:
        return single(
          ctx,
          plural,
          c.workloads.get(`${plural}/${key}`),
          RESOURCES[plural as keyof typeof RESOURCES],
          name,
          accept,
        );
    }
  }
  if (method === 'DELETE') {
    const propagation =
      query.get('propagationPolicy') ??
      (typeof body?.propagationPolicy === 'string' ? body.propagationPolicy : undefined);
    const orphan =
      query.get('orphanDependents') ??
      (typeof body?.orphanDependents === 'boolean' ? String(body.orphanDependents) : null);
    switch (plural) {
      case 'jobs': {
        const policy = propagation ?? (orphan === 'false' ? 'Background' : undefined);
        const result = c.deleteJob(namespace!, name, policy);
        return { status: result.status, body: result.body };
      }
      case 'pods':
        return { status: 200, body: c.deletePod(namespace!, name) };
      case 'namespaces':
        return { status: 200, body: c.deleteNamespace(name) };
      default:
        throw methodNotAllowed(method);
    }
  }
  throw methodNotAllowed(method);
}

export { pluralOf };
