/**
 * Load balancer -> AKS cluster. An SNAT alert names the node resource group's load balancer
 * (`/subscriptions/s/resourcegroups/mc_rg_aks_westeurope/providers/microsoft.network/loadbalancers/kubernetes`), not the
 * cluster. The cluster is the managed cluster of the same subscription whose `nodeResourceGroup` is the load balancer's
 * resource group, compared case-insensitively (alerts lower-case ids; AKS reports `MC_rg_aks_westeurope`).
 *
 * An explicit mapping (a setting: load balancer id, node resource group id or node resource group name -> cluster id)
 * wins and costs no request: it is the way out when the responder's identity may not list clusters subscription-wide,
 * or when a custom node resource group name matches nothing. Otherwise the subscription's clusters are listed once per
 * TTL (one paged `managedClusters.list`), concurrent lookups sharing the same request.
 */
import type { ManagedCluster } from '@azure/arm-containerservice';
import { ArmError, withArmRetry } from './arm.js';
import type { ArmSession } from './arm.js';
import {
  LOAD_BALANCER_TYPE,
  MANAGED_CLUSTER_TYPE,
  isResourceGroupName,
  parseResourceId,
  requireType,
  resourceIdKey,
} from './resource-id.js';
import type { ResourceId } from './resource-id.js';

export interface ClusterRef {
  /** The cluster's ARM id, as ARM reports it (or as the mapping gives it). */
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  /** The node resource group: the load balancer's resource group, in ARM's case when listed. */
  readonly nodeResourceGroup: string;
  /** How it was found. */
  readonly source: 'mapping' | 'arm';
}

export interface ClusterLookupOptions {
  readonly session: ArmSession;
  /**
   * Explicit mapping, checked first: key = a load balancer id, a node resource group id
   * (`/subscriptions/s/resourceGroups/MC_...`) or a node resource group name; value = the managed cluster id.
   */
  readonly mapping?: Readonly<Record<string, string>>;
  /** How long a subscription's cluster list is trusted. Default 10 minutes. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export interface ClusterLookup {
  clusterForLoadBalancer(lbId: string): Promise<ClusterRef>;
  /** Forgets the cached cluster lists. */
  clear(): void;
}

export const DEFAULT_CLUSTER_TTL_MS = 10 * 60_000;

interface Listed {
  readonly id: ResourceId;
  readonly nodeResourceGroup: string | null;
}

interface Mapping {
  readonly byLoadBalancer: Map<string, ResourceId>;
  /** `<subscription>/<rg>` lower-cased, or `*\/<rg>` for a bare group name. */
  readonly byGroup: Map<string, ResourceId>;
}

/** Validates the mapping setting, reporting every bad entry at once. */
export function parseClusterMapping(mapping: Readonly<Record<string, string>>): Mapping {
  const byLoadBalancer = new Map<string, ResourceId>();
  const byGroup = new Map<string, ResourceId>();
  const problems: string[] = [];
  for (const [key, value] of Object.entries(mapping)) {
    let cluster: ResourceId;
    try {
      cluster = requireType(value, MANAGED_CLUSTER_TYPE);
    } catch (e) {
      problems.push(`${JSON.stringify(key)}: ${(e as Error).message}`);
      continue;
    }
    const k = key.trim();
    if (isResourceGroupName(k)) {
      byGroup.set(`*/${k.toLowerCase()}`, cluster);
      continue;
    }
    const group = /^\/?subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/?$/i.exec(k);
    if (group) {
      byGroup.set(`${group[1]!.toLowerCase()}/${group[2]!.toLowerCase()}`, cluster);
      continue;
    }
    try {
      byLoadBalancer.set(resourceIdKey(requireType(k, LOAD_BALANCER_TYPE)), cluster);
    } catch (e) {
      problems.push(
        `${JSON.stringify(key)}: not a load balancer id, node resource group id or group name (${(e as Error).message})`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ArmError('config', `cluster mapping setting: ${problems.join('; ')}`);
  }
  return { byLoadBalancer, byGroup };
}

function refOf(id: ResourceId, nodeResourceGroup: string, source: ClusterRef['source']): ClusterRef {
  return {
    id: id.id,
    subscriptionId: id.subscriptionId,
    resourceGroup: id.resourceGroup,
    name: id.name,
    nodeResourceGroup,
    source,
  };
}

export function clusterLookup(options: ClusterLookupOptions): ClusterLookup {
  const mapping = parseClusterMapping(options.mapping ?? {});
  const ttlMs = options.ttlMs ?? DEFAULT_CLUSTER_TTL_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; clusters: Promise<Listed[]> }>();

  const listClusters = (subscriptionId: string): Promise<Listed[]> => {
    const key = subscriptionId.toLowerCase();
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.clusters;
    const clients = options.session.clientsFor(subscriptionId);
    const clusters = withArmRetry(
      `list managed clusters of subscription ${subscriptionId}`,
      async () => {
        const out: Listed[] = [];
        for await (const mc of clients.containerService.managedClusters.list()) out.push(listed(mc));
        return out;
      },
      clients.retry,
    );
    cache.set(key, { at: now(), clusters });
    // A failed listing is not cached: the next lookup asks again.
    clusters.catch(() => {
      if (cache.get(key)?.clusters === clusters) cache.delete(key);
    });
    return clusters;
  };

  return {
    clear: () => cache.clear(),
    async clusterForLoadBalancer(lbId) {
      const lb = requireType(lbId, LOAD_BALANCER_TYPE);
      const mapped =
        mapping.byLoadBalancer.get(resourceIdKey(lb)) ??
        mapping.byGroup.get(`${lb.subscriptionId.toLowerCase()}/${lb.resourceGroup.toLowerCase()}`) ??
        mapping.byGroup.get(`*/${lb.resourceGroup.toLowerCase()}`);
      if (mapped) return refOf(mapped, lb.resourceGroup, 'mapping');

      const clusters = await listClusters(lb.subscriptionId);
      const group = lb.resourceGroup.toLowerCase();
      const matches = clusters.filter((c) => c.nodeResourceGroup?.toLowerCase() === group);
      if (matches.length === 0) {
        throw new ArmError(
          'not-found',
          `load balancer ${lb.id}: no AKS cluster in subscription ${lb.subscriptionId} has node resource group ` +
            `${lb.resourceGroup} (${clusters.length} cluster(s) listed); set the cluster mapping if the cluster lives ` +
            `elsewhere or the identity cannot list it`,
        );
      }
      if (matches.length > 1) {
        throw new ArmError(
          'ambiguous',
          `load balancer ${lb.id}: node resource group ${lb.resourceGroup} belongs to ${matches.length} clusters ` +
            `(${matches.map((m) => m.id.id).join(', ')}); set the cluster mapping to choose one`,
        );
      }
      const m = matches[0]!;
      return refOf(m.id, m.nodeResourceGroup ?? lb.resourceGroup, 'arm');
    },
  };
}

function listed(mc: ManagedCluster): Listed {
  if (typeof mc.id !== 'string') throw new ArmError('unexpected', 'managed cluster list: an entry has no id');
  return { id: parseResourceId(mc.id), nodeResourceGroup: mc.nodeResourceGroup ?? null };
}

/** One-shot form: `clusterForLoadBalancer(lbId, options)`; prefer a long-lived `clusterLookup` to use its cache. */
export function clusterForLoadBalancer(lbId: string, options: ClusterLookupOptions): Promise<ClusterRef> {
  return clusterLookup(options).clusterForLoadBalancer(lbId);
}
