/**
 * resolveTarget: the node by name or by exact InternalIP, and its SNAT figures: Azure Monitor's over the alert window
 * when the host reads it and the investigation names its load balancer, else the configured allocation. Not found,
 * ambiguous and invalid come back as values; metrics that cannot be read are a degradation, not a failure.
 */
import { canonicalAddress } from '../../analysis/ip.js';
import { isKubeError } from '../../k8s/errors.js';
import { findNode } from '../../k8s/nodes.js';
import type { ActivityContext } from '../context.js';
import type { ResolveTargetInput, ResolveTargetOutput, SnatFigures } from '../contracts.js';
import type { Degradation } from '../../report/model.js';

export async function resolveTarget(ctx: ActivityContext, input: ResolveTargetInput): Promise<ResolveTargetOutput> {
  try {
    const node = await findNode(ctx.clients, input.node);
    const ip = 'ip' in input.node ? canonicalAddress(input.node.ip) : (node.internalIps[0] ?? null);
    const configured: SnatFigures = {
      allocatedPorts: ctx.settings.allocatedPorts,
      usedPorts: null,
      failedConnections: null,
    };
    let snat = configured;
    const degraded: Degradation[] = [];
    const lbId = input.scope?.loadBalancerId;
    if (ctx.snatMetrics && lbId && ip !== null && input.window) {
      // Throttling or an outage that outlived the reader's retries: the investigation goes on without the metrics.
      try {
        const read = await ctx.snatMetrics({ lbId, nodeIp: ip, window: input.window }, configured);
        snat = read.snat;
        if (!read.ok) degraded.push({ step: 'snat metrics', reason: read.message });
      } catch (e) {
        const why = e instanceof Error ? (e.message.split('\n', 1)[0] ?? e.name) : String(e);
        degraded.push({ step: 'snat metrics', reason: `SNAT metrics unavailable after retries: ${why}` });
      }
    }
    return {
      found: true,
      name: node.name,
      ip,
      snat,
      ...(ctx.cluster ? { cluster: ctx.cluster } : {}),
      ...(degraded.length > 0 ? { degraded } : {}),
    };
  } catch (e) {
    if (isKubeError(e, 'not-found')) return { found: false, reason: 'not-found', message: e.message };
    if (isKubeError(e, 'ambiguous')) return { found: false, reason: 'ambiguous', message: e.message };
    if (isKubeError(e, 'invalid')) return { found: false, reason: 'invalid', message: e.message };
    throw e;
  }
}
