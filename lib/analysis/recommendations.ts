/**
 * Recommendations, each tied to the signals that call for it and to the pods it applies to. Numbers are Azure's
 * documented limits: AKS default SNAT allocation by backend pool size, 64,000 ports per load balancer outbound IP,
 * 64,512 per NAT Gateway public IP (up to 16), idle timeout 4-120 minutes (AKS default 30).
 */
import type { Recommendation } from '../report/model.js';
import type { Signals } from './findings.js';
import type { RankedPod } from './rank.js';
import { endpointText } from './rank.js';

/** AKS default allocated outbound ports per node by backend pool size (when allocatedOutboundPorts is 0). */
export const DEFAULT_PORTS_BY_POOL_SIZE: ReadonlyArray<{ maxNodes: number; ports: number }> = [
  { maxNodes: 50, ports: 1024 },
  { maxNodes: 100, ports: 512 },
  { maxNodes: 200, ports: 256 },
  { maxNodes: 400, ports: 128 },
  { maxNodes: 800, ports: 64 },
  { maxNodes: 1000, ports: 32 },
];

export const PORTS_PER_LB_OUTBOUND_IP = 64_000;
export const PORTS_PER_NAT_GATEWAY_IP = 64_512;
export const MAX_NAT_GATEWAY_IPS = 16;

/** Default ports per node for a pool of `nodes` nodes; null outside 1..1000. */
export function defaultOutboundPorts(nodes: number): number | null {
  if (!Number.isInteger(nodes) || nodes < 1) return null;
  return DEFAULT_PORTS_BY_POOL_SIZE.find((row) => nodes <= row.maxNodes)?.ports ?? null;
}

/** The pool sizes whose default allocation is `ports`, e.g. 1024 -> "1-50 nodes"; null when not a default. */
export function poolSizeForDefault(ports: number): string | null {
  const index = DEFAULT_PORTS_BY_POOL_SIZE.findIndex((row) => row.ports === ports);
  if (index < 0) return null;
  const low = index === 0 ? 1 : (DEFAULT_PORTS_BY_POOL_SIZE[index - 1]?.maxNodes ?? 0) + 1;
  return `${low}-${DEFAULT_PORTS_BY_POOL_SIZE[index]?.maxNodes} nodes`;
}

/**
 * The most ports each node can be given with `ips` outbound IPs for `nodes` nodes (count the surge nodes of an
 * upgrade too): ports x nodes must fit in 64,000 x IPs, and AKS wants a multiple of 8.
 */
export function maxOutboundPortsPerNode(ips: number, nodes: number): number {
  if (!(ips > 0) || !(nodes > 0)) return 0;
  const perNode = Math.floor((PORTS_PER_LB_OUTBOUND_IP * ips) / nodes);
  return Math.min(PORTS_PER_LB_OUTBOUND_IP, perNode - (perNode % 8));
}

const key = (pod: RankedPod): string => `${pod.ranking.namespace}/${pod.ranking.name}`;

const unique = (pods: ReadonlyArray<RankedPod | null>): string[] => {
  const keys: string[] = [];
  for (const pod of pods) if (pod && !keys.includes(key(pod))) keys.push(key(pod));
  return keys;
};

export function buildRecommendations(signals: Signals): Recommendation[] {
  const s = signals;
  const recommendations: Recommendation[] = [];

  const culpritWithFlows = s.culprit && s.culprit.metrics.destinations.length > 0 ? s.culprit : null;
  const shared = new Set(s.sharedDestinations.map((d) => endpointText(d.ip, d.port)));
  // Pods that together exhaust a shared destination each need to reuse their connections to it.
  const sharing = s.pods.filter((p) => p.metrics.destinations.some((d) => shared.has(endpointText(d.ip, d.port))));
  const reusePods = unique([s.culprit, ...s.churnPods.map((c) => c.pod), ...s.synSentPods, ...sharing]);
  if (reusePods.length > 0) {
    recommendations.push({
      id: 'connection-reuse',
      title: 'Reuse connections: keep-alive and a bounded connection pool',
      text:
        'Open connections once and reuse them instead of one per request: keep-alive on, one long-lived client per ' +
        'process, a pool capped per destination. .NET: one shared HttpClient or IHttpClientFactory ' +
        '(SocketsHttpHandler PooledConnectionLifetime, MaxConnectionsPerServer); Java: one shared OkHttpClient ' +
        '(ConnectionPool) or Apache PoolingHttpClientConnectionManager, HikariCP for JDBC; Node.js: ' +
        'http.Agent({ keepAlive: true, maxSockets }); Go: one http.Client, Transport.MaxIdleConnsPerHost; Python: ' +
        'requests.Session or aiohttp.ClientSession. Database, cache and queue clients: a bounded pool, not a ' +
        'connection per call. Retry with backoff so failing connects do not pile up in SYN_SENT.',
      appliesTo: reusePods,
    });
  }

  if (s.pressure) {
    const current =
      s.allocatedPorts === null
        ? "This node's allocation is unknown."
        : `This node has ${s.allocatedPorts} allocated ports` +
          (poolSizeForDefault(s.allocatedPorts)
            ? ` (the default for a pool of ${poolSizeForDefault(s.allocatedPorts)}: growing the pool shrinks it).`
            : '.');
    const table = DEFAULT_PORTS_BY_POOL_SIZE.map((row, i) => {
      const low = i === 0 ? 1 : (DEFAULT_PORTS_BY_POOL_SIZE[i - 1]?.maxNodes ?? 0) + 1;
      return `${low}-${row.maxNodes} nodes: ${row.ports}`;
    }).join(', ');
    recommendations.push({
      id: 'outbound-ports',
      title: 'Give each node more SNAT ports',
      text:
        `${current} By default AKS allocates ports per node by pool size (${table}). Set them explicitly: ` +
        '`az aks update -g <resource-group> -n <cluster> --load-balancer-managed-outbound-ip-count <ips> ' +
        '--load-balancer-outbound-ports <ports>`. Each outbound IP adds 64,000 ports shared by all nodes: ports per ' +
        'node x nodes (surge nodes included) must fit in 64,000 x IPs, in multiples of 8 (e.g. 2 IPs for 20 nodes ' +
        `allow up to ${maxOutboundPortsPerNode(2, 20)} ports per node).`,
      appliesTo: [],
    });
    recommendations.push({
      id: 'nat-gateway',
      title: 'Send egress through a NAT Gateway',
      text:
        'A NAT Gateway (outboundType managedNATGateway or userAssignedNATGateway) gives 64,512 SNAT ports per public ' +
        'IP, up to 16 IPs (1,032,192 ports), handed to any node on demand instead of a fixed share per node.',
      appliesTo: [],
    });
  }

  const destinations = [
    ...(culpritWithFlows?.metrics.destinations.slice(0, 1) ?? []),
    ...s.sharedDestinations.map((d) => ({ ip: d.ip, port: d.port })),
  ]
    .map((d) => endpointText(d.ip, d.port))
    .filter((d, i, all) => all.indexOf(d) === i);
  if (destinations.length > 0) {
    recommendations.push({
      id: 'private-endpoint',
      title: 'Reach Azure services privately',
      text:
        `If ${destinations.join(', ')} is an Azure PaaS endpoint (Storage, SQL, Cosmos DB, Key Vault, Service Bus, ` +
        'Event Hubs, Container Registry, ...), reach it through a Private Endpoint or a service endpoint on the node ' +
        'subnet: that traffic then uses no SNAT port. The report cannot tell from the address alone.',
      appliesTo: unique(
        s.pods.filter((p) => p.metrics.destinations.some((d) => destinations.includes(endpointText(d.ip, d.port)))),
      ),
    });
  }

  if (s.closingPods.length > 0 && s.pressure) {
    recommendations.push({
      id: 'idle-timeout',
      title: 'Lower the outbound idle timeout',
      text:
        'Idle and half-closed flows keep their SNAT port until the load balancer idle timeout (AKS default 30 ' +
        'minutes). Lower it with `az aks update -g <resource-group> -n <cluster> --load-balancer-idle-timeout ' +
        '<minutes>` (4-120); clients that keep idle connections must then send TCP keep-alives more often than that.',
      appliesTo: unique(s.closingPods),
    });
  }
  return recommendations;
}
