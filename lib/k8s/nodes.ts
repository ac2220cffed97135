/**
 * Finding the node under investigation, by name or by the IP the load balancer reports (BackendIPAddress = the
 * node's private IP). IPs are compared as canonical text of parsed addresses, never as string prefixes: `kubectl get
 * nodes -o wide | grep 10.224.0.4` also matches 10.224.0.40 (FORMATS.md section 9).
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
