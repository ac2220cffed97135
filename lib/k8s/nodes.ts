/**
 * Finding the node under investigation, by name or by the IP the load balancer reports (BackendIPAddress = the
 * node's private IP). IPs are compared as canonical text of parsed addresses, never as string prefixes: `kubectl get
 * nodes -o wide | grep 10.224.0.4` also matches 10.224.0.40 (FORMATS.md section 9). And listing the cluster's nodes
 * for a NAT gateway alert's census (`listNodes`, `selectNodes`): such an alert names no node.
 */
import type { V1Node } from '@kubernetes/client-node';
import { canonicalAddress } from '../analysis/ip.js';
import type { KubeClients } from './access.js';
import { KubeError, invalidValue, isKubeError } from './errors.js';
import { listAll } from './list.js';
import { checkSubdomain, quoteValue } from './names.js';
import { withRetry } from './retry.js';

export interface NodeInfo {
  readonly name: string;
  /** Canonical InternalIP addresses (IPv4 and IPv6 on dual-stack nodes). */
  readonly internalIps: string[];
  /** The Ready condition; null when the node reports none. */
  readonly ready: boolean | null;
  readonly unschedulable: boolean;
  readonly labels: Record<string, string>;
  readonly taints: Array<{ key: string; effect: string; value: string | null }>;
  /** `azure:///subscriptions/.../virtualMachineScaleSets/<vmss>/virtualMachines/<n>` on AKS. */
  readonly providerId: string | null;
  readonly osImage: string | null;
  readonly kernelVersion: string | null;
  readonly containerRuntimeVersion: string | null;
  readonly kubeletVersion: string | null;
}

export type NodeQuery = { readonly name: string } | { readonly ip: string };

export function internalIpsOf(node: V1Node): string[] {
  const ips: string[] = [];
  for (const address of node.status?.addresses ?? []) {
    if (address.type !== 'InternalIP') continue;
    const ip = canonicalAddress(address.address);
    if (ip !== null && !ips.includes(ip)) ips.push(ip);
  }
  return ips;
}

export function nodeInfoOf(node: V1Node): NodeInfo {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  const info = node.status?.nodeInfo;
  return {
    name: node.metadata?.name ?? '',
    internalIps: internalIpsOf(node),
    ready: ready ? ready.status === 'True' : null,
    unschedulable: node.spec?.unschedulable === true,
    labels: { ...(node.metadata?.labels ?? {}) },
    taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, value: t.value ?? null })),
    providerId: node.spec?.providerID ?? null,
    osImage: info?.osImage ?? null,
    kernelVersion: info?.kernelVersion ?? null,
    containerRuntimeVersion: info?.containerRuntimeVersion ?? null,
    kubeletVersion: info?.kubeletVersion ?? null,
  };
}

/**
 * The node with this exact name, or the one node whose InternalIP equals this address. The IP is validated before
 * any request is made. Not found and ambiguous (two nodes reporting one IP) are `KubeError`s naming the value.
 */
export async function findNode(clients: KubeClients, query: NodeQuery): Promise<NodeInfo> {
  if ('name' in query) {
    const name = checkSubdomain('node name', query.name);
    try {
      const node = await withRetry(`get node ${name}`, () => clients.core.readNode({ name }), clients.retry);
      return nodeInfoOf(node);
    } catch (e) {
      if (isKubeError(e, 'not-found')) {
        throw new KubeError('not-found', `no node named ${quoteValue(name)} in the cluster at ${clients.server}`, {
          status: 404,
          operation: `get node ${name}`,
          cause: e,
        });
      }
      throw e;
    }
  }
  const ip = typeof query.ip === 'string' ? canonicalAddress(query.ip) : null;
  if (ip === null) throw invalidValue(`node IP ${quoteValue(query.ip)} is not an IP address`);
  const nodes = await listAll('list nodes', clients.retry, (page) => clients.core.listNode(page));
  const matches = nodes.filter((n) => internalIpsOf(n).includes(ip));
  if (matches.length === 0) {
    throw new KubeError(
      'not-found',
      `no node has InternalIP ${ip} (${nodes.length} node(s) in the cluster at ${clients.server})`,
      { operation: 'list nodes' },
    );
  }
  if (matches.length > 1) {
    const names = matches.map((n) => n.metadata?.name ?? '?').sort();
    throw new KubeError('ambiguous', `${matches.length} nodes report InternalIP ${ip}: ${names.join(', ')}`, {
      operation: 'list nodes',
    });
  }
  return nodeInfoOf(matches[0]!);
}

/** One node of the cluster as a census needs it. */
export interface ListedNode {
  readonly name: string;
  /** The first InternalIP (canonical); null when the node reports none. */
  readonly ip: string | null;
  /** The Ready condition; null when the node reports none. */
  readonly ready: boolean | null;
  /** Cordoned (`spec.unschedulable`): its pods still run, and still use SNAT ports. */
  readonly unschedulable: boolean;
  /** `metadata.creationTimestamp` (ISO 8601); null when absent. */
  readonly createdAt: string | null;
}

export function listedNodeOf(node: V1Node): ListedNode {
  const info = nodeInfoOf(node);
  const created = node.metadata?.creationTimestamp;
  const createdAt = created === undefined ? null : new Date(created);
  return {
    name: info.name,
    ip: info.internalIps[0] ?? null,
    ready: info.ready,
    unschedulable: info.unschedulable,
    createdAt: createdAt !== null && Number.isFinite(createdAt.getTime()) ? createdAt.toISOString() : null,
  };
}

/** Every node of the cluster (paged), in the API server's order. */
export async function listNodes(clients: KubeClients): Promise<ListedNode[]> {
  const nodes = await listAll('list nodes', clients.retry, (page) => clients.core.listNode(page));
  return nodes.map(listedNodeOf).filter((n) => n.name !== '');
}

export interface NodeSelection {
  /** Ready nodes, schedulable ones first, each group by name; at most `maxNodes`. */
  readonly nodes: ListedNode[];
  /** Nodes in the cluster. */
  readonly total: number;
  /** Left out: not Ready (no Ready condition counts as not Ready), and Ready ones beyond `maxNodes`. */
  readonly skipped: { readonly notReady: number; readonly overLimit: number };
}

const byName = (a: ListedNode, b: ListedNode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The nodes a bounded census visits. A node that is not Ready cannot be exec'd into (its kubelet does not answer);
 * a cordoned one still runs pods that hold SNAT ports, so it is kept, after the schedulable ones. The order is
 * deterministic (by name), so the same cluster gives the same selection; what is left out is counted, never dropped
 * silently.
 */
export function selectNodes(nodes: readonly ListedNode[], maxNodes: number): NodeSelection {
  const limit = Number.isFinite(maxNodes) ? Math.max(0, Math.floor(maxNodes)) : 0;
  const ready = nodes.filter((n) => n.ready === true);
  const ordered = [
    ...ready.filter((n) => !n.unschedulable).sort(byName),
    ...ready.filter((n) => n.unschedulable).sort(byName),
  ];
  const kept = ordered.slice(0, limit);
  return {
    nodes: kept,
    total: nodes.length,
    skipped: { notReady: nodes.length - ready.length, overLimit: ordered.length - kept.length },
  };
}
