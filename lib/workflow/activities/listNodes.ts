/**
 * listNodes: the cluster's nodes a NAT gateway alert's census visits (such an alert names no node). Ready nodes,
 * schedulable ones first, by name, at most `maxNodes`; how many were left out (not Ready, over the bound) comes back
 * with them. Small JSON: names and IPs only.
 */
import { listNodes as listClusterNodes, selectNodes } from '../../k8s/nodes.js';
import type { ActivityContext } from '../context.js';
import type { ListNodesInput, ListNodesOutput } from '../contracts.js';

export async function listNodes(ctx: ActivityContext, input: ListNodesInput): Promise<ListNodesOutput> {
  const selection = selectNodes(await listClusterNodes(ctx.clients), input.maxNodes);
  return {
    nodes: selection.nodes.map((n) => ({ name: n.name, ip: n.ip })),
    total: selection.total,
    skipped: { ...selection.skipped },
    ...(ctx.cluster ? { cluster: ctx.cluster } : {}),
  };
}
