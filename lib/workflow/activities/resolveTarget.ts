/** resolveTarget: the node by name or by exact InternalIP. Not found, ambiguous and invalid come back as values. */
import { canonicalAddress } from '../../analysis/ip.js';
import { isKubeError } from '../../k8s/errors.js';
import { findNode } from '../../k8s/nodes.js';
import type { ActivityContext } from '../context.js';
import type { ResolveTargetInput, ResolveTargetOutput } from '../contracts.js';

export async function resolveTarget(ctx: ActivityContext, input: ResolveTargetInput): Promise<ResolveTargetOutput> {
  try {
    const node = await findNode(ctx.clients, input.node);
    const ip = 'ip' in input.node ? canonicalAddress(input.node.ip) : (node.internalIps[0] ?? null);
    return {
      found: true,
      name: node.name,
      ip,
      snat: { allocatedPorts: ctx.settings.allocatedPorts, usedPorts: null, failedConnections: null },
    };
  } catch (e) {
    if (isKubeError(e, 'not-found')) return { found: false, reason: 'not-found', message: e.message };
    if (isKubeError(e, 'ambiguous')) return { found: false, reason: 'ambiguous', message: e.message };
    if (isKubeError(e, 'invalid')) return { found: false, reason: 'invalid', message: e.message };
    throw e;
  }
}
