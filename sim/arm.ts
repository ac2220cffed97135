/**
 * The simulated Azure Resource Manager: a loopback HTTPS endpoint answering the few ARM calls the responder makes,
 * for the real SDK clients (@azure/arm-containerservice 25.x, @azure/arm-monitor 7.x). HTTPS because the SDKs refuse
 * bearer tokens over http; the certificate is the committed test one (sim/tls/).
 *
 *   const arm = await startArmSim({ kube: { url: kubeSim.url, caPem: kubeSim.caPem, token: kubeSim.token } });
 *   // or a scenario's data: startArmSim(armSimDataOf(sim.scenario)); a credential it takes: simCredential()
 *   const clients = armClients({ credential: stubCredential, subscriptionId: arm.ids.subscriptionId,
 *                                endpoint: arm.url, caPem: arm.caPem });
 *   ...
 *   expect(arm.requests().map((r) => r.path)).toEqual([...]);
 *   await arm.close();
 *
 * Routes (paths compared case-insensitively, as ARM does):
 * - GET  /subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters (paged with nextLink when
 *   `listPageSize` is set)
 * - GET  /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}
 * - POST .../managedClusters/{name}/listClusterUserCredential (`format=azure|exec`): a base64 kubeconfig whose server
 *   is the Kubernetes sim's URL when `kube` is given. Local-account clusters get a token user; AAD clusters an
 *   `exec: kubelogin` user (format exec, the default since Kubernetes 1.24) or an `auth-provider: azure` one.
 * - GET  /{loadBalancerId}/providers/Microsoft.Insights/metrics (api-version 2018-01-01): AllocatedSnatPorts,
 *   UsedSnatPorts, SnatConnectionCount, `$filter` on BackendIPAddress / ConnectionState / FrontendIPAddress /
 *   ProtocolType, `aggregation`, `interval`, `timespan`; one series point per interval.
 * Without a bearer token: 401 (with `WWW-Authenticate`). Errors are ARM's `{"error":{"code","message"}}`;
 * `failNext()` injects 429 (with Retry-After), 403, 404, 500 for the next matching requests.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { TLS_DIR } from './paths.js';
import { loadScenario } from './scenario.js';
import type { Scenario } from './scenario.js';
import { TEST_CA_PEM_PATH, kubeconfigYaml } from './server.js';
import { listen } from '../lib/net.js';

export interface ArmSimCluster {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly location?: string;
  readonly nodeResourceGroup: string;
  readonly kubernetesVersion?: string;
  /** Entra ID (AAD) integration: the user kubeconfig then uses kubelogin (exec) or the azure auth-provider. */
  readonly aad?: boolean;
  /** `disableLocalAccounts`: only meaningful with `aad`. */
  readonly disableLocalAccounts?: boolean;
  /** Default `<name>-dns-1a2b3c4d.hcp.<location>.azmk8s.io`. */
  readonly fqdn?: string;
}

/** SNAT metrics of one backend IP, per interval point. */
export interface ArmSimBackend {
  readonly allocatedPorts: number;
  /** The peak; the series ramps up to it, reached at the last point. */
  readonly usedPorts: number;
  /** SnatConnectionCount with ConnectionState failed, per minute. */
  readonly failedPerMinute: number;
  readonly successfulPerMinute?: number;
}

export interface ArmSimOptions {
  /** Default: the cluster of sim/scenarios/default.json. */
  readonly clusters?: readonly ArmSimCluster[];
  /** Load balancer id (any case) -> backend IP -> metrics. Default: the default scenario's nodes (see below). */
  readonly metrics?: Readonly<Record<string, Readonly<Record<string, ArmSimBackend>>>>;
  /** The Kubernetes API the user kubeconfigs point at (a running sim's url, caPem, token). */
  readonly kube?: { readonly url: string; readonly caPem?: string; readonly token: string };
  /** Page size of the subscription-wide cluster list (nextLink paging); default: one page. */
  readonly listPageSize?: number;
  /** Spell metric and dimension names in answers as baseline-alert policies do (`UsedSNATPorts`); default canonical. */
  readonly metricNameCase?: 'canonical' | 'upper-snat';
}

export interface ArmSimRequest {
  readonly method: string;
  /** Path without the query, as sent. */
  readonly path: string;
  /** Decoded query parameters, in the order sent. */
  readonly query: ReadonlyArray<readonly [string, string]>;
  /** The raw request target (path + query). */
  readonly url: string;
  readonly authorization: string | null;
  readonly status: number;
}

export interface ArmSimFailure {
  readonly status: 403 | 404 | 429 | 500 | 503;
  /** Seconds, for 429/503. */
  readonly retryAfter?: number;
  /** Only requests whose lower-cased path contains this. */
  readonly pathIncludes?: string;
}

export interface RunningArmSim {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly caPem: string;
  /** Ids of the default data (or of the first cluster given). */
  readonly ids: {
    readonly subscriptionId: string;
    readonly clusterId: string;
    readonly nodeResourceGroup: string;
    /** Lower-cased, as alerts send it. */
    readonly loadBalancerId: string;
  };
  requests(): ArmSimRequest[];
  clearRequests(): void;
  /** The next `count` matching requests fail as given. */
  failNext(count: number, failure: ArmSimFailure): void;
  close(): Promise<void>;
}

const CONTAINER_SERVICE_API_VERSIONS = /^20\d\d-\d\d-\d\d(-preview)?$/;
const METRICS_API_VERSION = '2018-01-01';

const PORT_METRICS = new Map([
  ['allocatedsnatports', 'AllocatedSnatPorts'],
  ['usedsnatports', 'UsedSnatPorts'],
]);
const PORT_DIMENSIONS = ['frontendipaddress', 'backendipaddress', 'protocoltype', 'isawaitingremoval'];
const CONNECTION_DIMENSIONS = ['frontendipaddress', 'backendipaddress', 'connectionstate'];

/** What the ARM sim answers from: its clusters, and the SNAT metrics of each load balancer's backend IPs. */
export interface ArmSimData {
  readonly clusters: ArmSimCluster[];
  readonly metrics: Record<string, Record<string, ArmSimBackend>>;
}

/**
 * A scenario's data (the default data is sim/scenarios/default.json's): its cluster, its `kubernetes` load balancer,
 * and its nodes' SNAT metrics. The expected node shows the pressure the scenario describes (`snat` of the node:
 * allocated, peak used; 12 failed connections a minute); the other nodes are quiet.
 */
export function armSimDataOf(scenario: Scenario): ArmSimData {
  const c = scenario.cluster;
  const nodeResourceGroup = c.nodeResourceGroup ?? `MC_${c.resourceGroup}_${c.name}_${c.location}`;
  const lbId = `/subscriptions/${c.subscriptionId}/resourceGroups/${nodeResourceGroup}/providers/Microsoft.Network/loadBalancers/kubernetes`;
  const backends: Record<string, ArmSimBackend> = {};
  for (const node of scenario.nodes) {
    backends[node.internalIP] =
      node.internalIP === scenario.expected.nodeIp
        ? {
            allocatedPorts: node.snat?.allocatedPorts ?? 1024,
            usedPorts: node.snat?.usedPorts ?? 1010,
            failedPerMinute: 12,
            successfulPerMinute: 1700,
          }
        : // The other nodes are quiet in Azure Monitor's eyes, whatever their pods do.
          { allocatedPorts: 1024, usedPorts: 64, failedPerMinute: 0, successfulPerMinute: 40 };
  }
  return {
    clusters: [
      {
        subscriptionId: c.subscriptionId,
        resourceGroup: c.resourceGroup,
        name: c.name,
        location: c.location,
        nodeResourceGroup,
        kubernetesVersion: c.kubernetesVersion.replace(/^v/, ''),
      },
    ],
    metrics: { [lbId]: backends },
  };
}

async function defaults(): Promise<ArmSimData> {
  return armSimDataOf(await loadScenario('default'));
}

/**
 * A TokenCredential for the ARM sim, which takes any bearer token: for the demo and tests only, never Azure (and never
 * DefaultAzureCredential in tests: it probes IMDS).
 */
export function simCredential(token = 'simulated-arm-token'): TokenCredential {
  return { getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

function clusterId(c: ArmSimCluster): string {
  return `/subscriptions/${c.subscriptionId}/resourcegroups/${c.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}`;
}

function fqdnOf(c: ArmSimCluster): string {
  return c.fqdn ?? `${c.name}-dns-1a2b3c4d.hcp.${c.location ?? 'westeurope'}.azmk8s.io`;
}

function managedClusterJson(c: ArmSimCluster): unknown {
  const location = c.location ?? 'westeurope';
  return {
    id: clusterId(c),
    location,
    name: c.name,
    type: 'Microsoft.ContainerService/ManagedClusters',
    properties: {
      provisioningState: 'Succeeded',
      powerState: { code: 'Running' },
      kubernetesVersion: c.kubernetesVersion ?? '1.32.7',
      currentKubernetesVersion: c.kubernetesVersion ?? '1.32.7',
      dnsPrefix: `${c.name}-dns`,
      fqdn: fqdnOf(c),
      azurePortalFQDN: fqdnOf(c).replace('.hcp.', '.portal.hcp.'),
      nodeResourceGroup: c.nodeResourceGroup,
      enableRBAC: true,
      ...(c.aad
        ? { aadProfile: { managed: true, enableAzureRBAC: true, tenantID: '00000000-0000-0000-0000-0000000000aa' } }
        : {}),
      disableLocalAccounts: c.disableLocalAccounts ?? false,
      networkProfile: { networkPlugin: 'azure', loadBalancerSku: 'standard', outboundType: 'loadBalancer' },
    },
  };
}

function userKubeconfig(c: ArmSimCluster, format: string | null, options: ArmSimOptions, caPem: string): string {
  const server = options.kube?.url ?? `https://${fqdnOf(c)}:443`;
  const ca = options.kube?.caPem ?? caPem;
  const user = `clusterUser_${c.resourceGroup}_${c.name}`;
  if (!c.aad) {
    return kubeconfigYaml({
      server,
      cluster: c.name,
      user,
      token: options.kube?.token ?? 'local-account-token',
      caPem: ca,
    });
  }
  // What AKS hands out for AAD clusters: no secret, a plugin that fetches an Entra token at run time.
  const base = kubeconfigYaml({ server, cluster: c.name, user, token: 'REPLACED', caPem: ca });
  const userBlock =
    format === 'azure'
      ? [
          '    auth-provider:',
          '      name: azure',
          '      config:',
          '        apiserver-id: 6dae42f8-4368-4678-94ff-3960e28e3630',
          '        client-id: 80faf920-1908-4b52-b5ef-a8e7bedfc67a',
          '        config-mode: "1"',
          '        environment: AzurePublicCloud',
          '        tenant-id: 00000000-0000-0000-0000-0000000000aa',
        ]
      : [
          '    exec:',
          '      apiVersion: client.authentication.k8s.io/v1beta1',
          '      command: kubelogin',
          '      args:',
          '      - get-token',
          '      - --environment',
          '      - AzurePublicCloud',
          '      - --server-id',
          '      - 6dae42f8-4368-4678-94ff-3960e28e3630',
          '      - --login',
          '      - devicecode',
          '      env: null',
          '      provideClusterInfo: false',
        ];
  return base.replace('    token: "REPLACED"', userBlock.join('\n'));
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Filter {
  /** dimension (lower case) -> value, `*` for every value. */
  readonly dims: Map<string, string>;
}

/** `A eq 'x' and B eq '*'`: the subset of Azure Monitor's $filter grammar the responder uses. */
function parseFilter(text: string | null): Filter {
  const dims = new Map<string, string>();
  if (text === null || text.trim() === '') return { dims };
  for (const clause of text.split(/\s+and\s+/i)) {
    const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s+eq\s+'([^']*)'\s*$/.exec(clause);
    if (!m) throw new HttpError(400, 'BadRequest', `Failed to parse $filter clause: ${clause}`);
    dims.set(m[1]!.toLowerCase(), m[2]!);
  }
  return { dims };
}

const ISO_DURATION = /^PT(\d+)([MH])$/;

function intervalMs(text: string | null): number {
  const m = ISO_DURATION.exec(text ?? 'PT1M');
  if (!m) throw new HttpError(400, 'BadRequest', `Invalid interval: ${text}`);
  const ms = Number(m[1]) * (m[2] === 'H' ? 3_600_000 : 60_000);
  if (ms <= 0) throw new HttpError(400, 'BadRequest', `Invalid interval: ${text}`);
  return ms;
}

function parseTimespan(text: string | null, now: number): { start: number; end: number; text: string } {
  if (text === null) {
    const end = now;
    const start = end - 3_600_000;
    return { start, end, text: `${new Date(start).toISOString()}/${new Date(end).toISOString()}` };
  }
  const [a, b, extra] = text.split('/');
  const start = Date.parse(a ?? '');
  const end = Date.parse(b ?? '');
  if (extra !== undefined || Number.isNaN(start) || Number.isNaN(end) || end <= start) {
    throw new HttpError(400, 'BadRequest', `Invalid timespan: ${text}`);
  }
  return { start, end, text };
}

type Agg = 'average' | 'maximum' | 'minimum' | 'total' | 'count';
const AGGREGATIONS: Record<string, Agg> = {
  average: 'average',
  maximum: 'maximum',
  minimum: 'minimum',
  total: 'total',
  count: 'count',
};

export async function startArmSim(options: ArmSimOptions = {}): Promise<RunningArmSim> {
  const fallback = options.clusters && options.metrics ? null : await defaults();
  const clusters = options.clusters ?? fallback?.clusters ?? [];
  const metricsIn = options.metrics ?? fallback?.metrics ?? {};
  const metrics = new Map(Object.entries(metricsIn).map(([k, v]) => [k.replace(/^\/+/, '').toLowerCase(), v]));
  const caPem = readFileSync(TEST_CA_PEM_PATH, 'utf8');
  const log: ArmSimRequest[] = [];
  const failures: Array<ArmSimFailure & { left: number }> = [];

  const findCluster = (sub: string, rg: string, name: string): ArmSimCluster => {
    const c = clusters.find(
      (x) =>
        x.subscriptionId.toLowerCase() === sub.toLowerCase() &&
        x.resourceGroup.toLowerCase() === rg.toLowerCase() &&
        x.name.toLowerCase() === name.toLowerCase(),
    );
    if (!c) {
      throw new HttpError(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.ContainerService/managedClusters/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
    }
    return c;
  };

  const route = (method: string, path: string, q: URLSearchParams): { status: number; body: unknown } => {
    const p = path.toLowerCase();
    const apiVersion = q.get('api-version');
    if (!apiVersion) {
      throw new HttpError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    // /{resourceUri}/providers/Microsoft.Insights/metrics
    const metricsMatch = /^\/(subscriptions\/.+)\/providers\/microsoft\.insights\/metrics$/.exec(p);
    if (metricsMatch) {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported`);
      if (apiVersion !== METRICS_API_VERSION) {
        throw new HttpError(400, 'InvalidApiVersion', `The api-version '${apiVersion}' is invalid for metrics.`);
      }
      return {
        status: 200,
        body: metricsBody(
          metricsMatch[1]!,
          path.slice(1, path.length - '/providers/Microsoft.Insights/metrics'.length),
          q,
        ),
      };
    }
    if (!CONTAINER_SERVICE_API_VERSIONS.test(apiVersion)) {
      throw new HttpError(400, 'InvalidApiVersionParameter', `The api-version '${apiVersion}' is invalid.`);
    }
    const parts = path.split('/').slice(1);
    const list = /^\/subscriptions\/([^/]+)\/providers\/microsoft\.containerservice\/managedclusters$/.exec(p);
    if (list && method === 'GET') {
      const sub = parts[1]!;
      const all = clusters.filter((c) => c.subscriptionId.toLowerCase() === sub.toLowerCase());
      const size = options.listPageSize ?? Math.max(1, all.length);
      const skip = Number(q.get('$skipToken') ?? '0');
      const page = all.slice(skip, skip + size).map(managedClusterJson);
      const next =
        skip + size < all.length ? `${url}${path}?api-version=${apiVersion}&$skipToken=${skip + size}` : undefined;
      return { status: 200, body: next ? { value: page, nextLink: next } : { value: page } };
    }
    const one =
      /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.containerservice\/managedclusters\/[^/]+(\/listclusterusercredential)?$/.exec(
        p,
      );
    if (one) {
      const c = findCluster(parts[1]!, parts[3]!, parts[7]!);
      if (one[1] === undefined && method === 'GET') return { status: 200, body: managedClusterJson(c) };
      if (one[1] !== undefined && method === 'POST') {
        const format = q.get('format');
        if (format !== null && format !== 'azure' && format !== 'exec') {
          throw new HttpError(400, 'BadRequest', `format must be azure or exec, got ${format}`);
        }
        if (c.aad && c.disableLocalAccounts && format === 'azure') {
          throw new HttpError(
            400,
            'BadRequest',
            'azure format is not supported for clusters with local accounts disabled',
          );
        }
        const yaml = userKubeconfig(c, format, options, caPem);
        return {
          status: 200,
          body: { kubeconfigs: [{ name: 'clusterUser', value: Buffer.from(yaml).toString('base64') }] },
        };
      }
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported on ${path}`);
    }
    throw new HttpError(404, 'InvalidResourceType', `The resource type could not be found for ${path}.`);
  };

  const metricsBody = (lowerUri: string, uri: string, q: URLSearchParams): unknown => {
    const backends = metrics.get(lowerUri);
    if (!backends) {
      throw new HttpError(404, 'ResourceNotFound', `The Resource '${uri}' was not found.`);
    }
    const names = (q.get('metricnames') ?? '').split(',').filter((n) => n.length > 0);
    if (names.length === 0) throw new HttpError(400, 'BadRequest', 'metricnames is required');
    const aggs = (q.get('aggregation') ?? 'Average').split(',').map((a) => {
      const agg = AGGREGATIONS[a.trim().toLowerCase()];
      if (!agg) throw new HttpError(400, 'BadRequest', `Invalid aggregation: ${a}`);
      return agg;
    });
    const step = intervalMs(q.get('interval'));
    const span = parseTimespan(q.get('timespan'), Date.now());
    const points = Math.min(1440, Math.max(1, Math.floor((span.end - span.start) / step)));
    const filter = parseFilter(q.get('$filter'));
    const value = names.map((requested) => {
      const key = requested.toLowerCase();
      const canonical = PORT_METRICS.get(key) ?? (key === 'snatconnectioncount' ? 'SnatConnectionCount' : null);
      if (canonical === null) {
        throw new HttpError(
          400,
          'BadRequest',
          `Failed to find metric configuration for provider: Microsoft.Network, resource Type: loadBalancers, metric: ${requested}`,
        );
      }
      const allowed = PORT_METRICS.has(key) ? PORT_DIMENSIONS : CONNECTION_DIMENSIONS;
      for (const dim of filter.dims.keys()) {
        if (!allowed.includes(dim)) {
          throw new HttpError(
            400,
            'BadRequest',
            `Metric: ${canonical} does not support requested dimension combination: ${dim}`,
          );
        }
      }
      const wantedIp = filter.dims.get('backendipaddress');
      const state = filter.dims.get('connectionstate');
      const ips = Object.keys(backends).filter((ip) => wantedIp === undefined || wantedIp === '*' || wantedIp === ip);
      const seriesValue = (b: ArmSimBackend, i: number): number => {
        if (key === 'allocatedsnatports') return b.allocatedPorts;
        if (key === 'usedsnatports') return Math.round(b.usedPorts * (0.9 + (0.1 * (i + 1)) / points));
        const failed = b.failedPerMinute * (step / 60_000);
        const ok = (b.successfulPerMinute ?? 0) * (step / 60_000);
        if (state === undefined || state === '*') return failed + ok;
        if (state.toLowerCase() === 'failed') return failed;
        if (state.toLowerCase() === 'successful') return ok;
        return 0;
      };
      const metadataNames = [...filter.dims.keys()];
      const makeSeries = (ipList: string[]) =>
        ipList.map((ip) => {
          const b = backends[ip]!;
          return {
            metadatavalues: metadataNames.map((n) => ({
              name: {
                value: options.metricNameCase === 'upper-snat' ? n.replace('backendipaddress', 'BackendIPAddress') : n,
                localizedValue: n,
              },
              value:
                n === 'backendipaddress' ? ip : n === 'connectionstate' ? (state ?? '') : (filter.dims.get(n) ?? ''),
            })),
            data: Array.from({ length: points }, (_, i) => {
              const v = seriesValue(b, i);
              const point: Record<string, unknown> = { timeStamp: new Date(span.start + i * step).toISOString() };
              for (const a of aggs) point[a] = a === 'count' ? 1 : v;
              return point;
            }),
          };
        });
      return {
        id: `${uri}/providers/Microsoft.Insights/metrics/${canonical}`,
        type: 'Microsoft.Insights/metrics',
        name: {
          value: options.metricNameCase === 'upper-snat' ? canonical.replace('Snat', 'SNAT') : canonical,
          localizedValue: canonical.replace(/([a-z])([A-Z])/g, '$1 $2'),
        },
        displayDescription: '',
        unit: 'Count',
        timeseries: makeSeries(ips),
        errorCode: 'Success',
      };
    });
    return {
      cost: points * names.length,
      timespan: span.text,
      interval: q.get('interval') ?? 'PT1M',
      value,
      namespace: 'Microsoft.Network/loadBalancers',
      resourceregion: clusters[0]?.location ?? 'westeurope',
    };
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-ms-request-id': `sim-${log.length}`,
      ...headers,
    });
    res.end(text);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const parsed = new URL(target, 'https://arm.invalid');
    const authorization = req.headers.authorization ?? null;
    const record = (status: number) =>
      log.push({
        method: req.method ?? 'GET',
        path: parsed.pathname,
        query: [...parsed.searchParams.entries()],
        url: target,
        authorization,
        status,
      });
    // Drain the body (listClusterUserCredential POSTs an empty one).
    req.resume();
    req.on('end', () => {
      try {
        if (authorization === null || !/^Bearer \S+$/.test(authorization)) {
          throw new HttpError(
            401,
            'AuthenticationFailed',
            "Authentication failed. The 'Authorization' header is missing.",
            {
              'www-authenticate':
                'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"',
            },
          );
        }
        const lower = parsed.pathname.toLowerCase();
        const failure = failures.find(
          (f) => f.left > 0 && (f.pathIncludes === undefined || lower.includes(f.pathIncludes.toLowerCase())),
        );
        if (failure) {
          failure.left--;
          const retryAfter: Record<string, string> =
            failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {};
          const [code, message] =
            failure.status === 429
              ? [
                  'TooManyRequests',
                  'The request is being throttled. Please retry after the time specified in the Retry-After header.',
                ]
              : failure.status === 403
                ? [
                    'AuthorizationFailed',
                    `The client 'sim-client' does not have authorization to perform this action over scope '${parsed.pathname}'.`,
                  ]
                : failure.status === 404
                  ? ['ResourceNotFound', `The Resource '${parsed.pathname}' was not found.`]
                  : ['InternalServerError', 'Encountered an internal server error.'];
          throw new HttpError(failure.status, code, message, retryAfter);
        }
        const { status, body } = route(req.method ?? 'GET', parsed.pathname, parsed.searchParams);
        record(status);
        send(res, status, body);
      } catch (e) {
        const err = e instanceof HttpError ? e : new HttpError(500, 'InternalServerError', String(e));
        record(err.status);
        send(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
      }
    });
  };

  const server = createServer({ cert: caPem, key: readFileSync(join(TLS_DIR, 'key.pem'), 'utf8') }, handle);
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const url = `https://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  const first = clusters[0];
  const ids = first
    ? {
        subscriptionId: first.subscriptionId,
        clusterId: clusterId(first),
        nodeResourceGroup: first.nodeResourceGroup,
        loadBalancerId:
          `/subscriptions/${first.subscriptionId}/resourceGroups/${first.nodeResourceGroup}/providers/Microsoft.Network/loadBalancers/kubernetes`.toLowerCase(),
      }
    : { subscriptionId: '', clusterId: '', nodeResourceGroup: '', loadBalancerId: '' };
  let closing: Promise<void> | null = null;
  return {
    url,
    caPem,
    ids,
    requests: () => [...log],
    clearRequests: () => {
      log.length = 0;
    },
    failNext: (count, failure) => {
      failures.push({ ...failure, left: count });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
