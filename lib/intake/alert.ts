/**
 * POST /api/alerts, the decision: what an Azure Monitor alert body asks the responder to do. Pure: bytes + settings
 * in, a plan out; the handler starts what the plan says (through the registry) and answers with the plan's status.
 *
 * - over 256 KB: 413, refused before any parsing;
 * - Resolved, non-metric (log, activity log) and non-SNAT metric alerts: 202 and nothing started (`ignore`);
 * - malformed alerts, IP dimensions that are not IP literals, load balancer alerts without a BackendIPAddress,
 *   unsupported targets, clusters outside the allow-list, unmapped NAT gateways: 400 with a reason (`reject`);
 * - otherwise `start`: one target per node IP (load balancer), or one bounded all-nodes census per cluster the
 *   NAT gateway mapping names (a NAT gateway alert has no node dimension).
 */
import { canonicalIpLiteral } from '../analysis/ip.js';
import { dimensionOf, MAX_ALERT_BYTES, parseAlert } from '../parse/alert.js';
import { describeProblem } from '../parse/types.js';
import type { AlertCondition, AlertDocument } from '../parse/types.js';
import { clusterAllowed } from '../config/settings.js';
import type { Settings } from '../config/settings.js';
import { canonicalResourceId } from '../config/resource-ids.js';
import { investigationKey } from './registry.js';
import type { InvestigationKey } from './registry.js';

export { MAX_ALERT_BYTES };

export type AlertPlanSettings = Pick<
  Settings,
  'loadBalancerClusters' | 'natGatewayClusters' | 'maxNodesPerAlert' | 'allowedClusterIds'
>;

export interface LoadBalancerTarget {
  readonly loadBalancerId: string;
  /** The cluster from SNAT_LB_CLUSTER_MAP; absent when unmapped (resolved later through node resource groups). */
  readonly clusterHint?: string;
  /** Canonical node IP (BackendIPAddress). */
  readonly nodeIp: string;
}

export interface NatGatewayTarget {
  readonly natGatewayId: string;
  /** The cluster from SNAT_NATGW_CLUSTER_MAP. */
  readonly clusterHint: string;
  /** Census every node of the cluster, at most `maxNodes` of them. */
  readonly allNodes: { readonly maxNodes: number };
}

export type AlertTarget = LoadBalancerTarget | NatGatewayTarget;

export type IgnoreCode = 'resolved' | 'not-metric-alert' | 'not-snat-metric';
export type RejectCode =
  | 'too-large'
  | 'empty'
  | 'invalid-json'
  | 'unknown-schema'
  | 'invalid-alert'
  | 'invalid-dimension'
  | 'no-node-dimension'
  | 'unsupported-target'
  | 'unmapped-nat-gateway'
  | 'cluster-not-allowed';

export type AlertPlan =
  | { readonly kind: 'ignore'; readonly status: 202; readonly code: IgnoreCode; readonly reason: string }
  | {
      readonly kind: 'reject';
      readonly status: 400 | 413;
      readonly code: RejectCode;
      readonly reason: string;
      /** JSON path of the offending field, when one field is at fault. */
      readonly field?: string;
    }
  | {
      readonly kind: 'start';
      readonly status: 202;
      readonly targets: readonly AlertTarget[];
      readonly window: { readonly start: string | null; readonly end: string | null };
      readonly alertId: string | null;
      readonly alertRule: string | null;
      readonly severity: string | null;
      /** The SNAT metrics that fired, as the alert spells them. */
      readonly metrics: readonly string[];
      /** Node IPs beyond SNAT_MAX_NODES_PER_ALERT, not investigated (stated, never dropped silently). */
      readonly omittedNodeIps: readonly string[];
    };

const LB_METRICS = new Set(['usedsnatports', 'allocatedsnatports', 'snatconnectioncount']);
const NATGW_METRICS = new Set(['snatconnectioncount']);

const ignore = (code: IgnoreCode, reason: string): AlertPlan => ({ kind: 'ignore', status: 202, code, reason });
const reject = (code: RejectCode, reason: string, field?: string): AlertPlan => ({
  kind: 'reject',
  status: code === 'too-large' ? 413 : 400,
  code,
  reason,
  ...(field !== undefined ? { field } : {}),
});

const PARSE_CODES: ReadonlySet<string> = new Set(['too-large', 'empty', 'invalid-json', 'unknown-schema']);

/** Decides what an alert body asks for. Never throws (property-tested over arbitrary bytes). */
export function planAlert(bodyBytes: Uint8Array, settings: AlertPlanSettings): AlertPlan {
  if (bodyBytes.byteLength > MAX_ALERT_BYTES) {
    return reject(
      'too-large',
      `alert body is ${bodyBytes.byteLength} bytes, over the 256 KB limit of Azure Monitor alerts; not parsed`,
    );
  }
  const parsed = parseAlert(bodyBytes);
  if (!parsed.ok) {
    const { problem } = parsed;
    if (problem.code === 'not-metric-alert') return ignore('not-metric-alert', problem.message);
    const code: RejectCode = PARSE_CODES.has(problem.code ?? '') ? (problem.code as RejectCode) : 'invalid-alert';
    return reject(code, describeProblem('alert body', problem), problem.field);
  }
  return planParsed(parsed.value, settings);
}

function planParsed(alert: AlertDocument, settings: AlertPlanSettings): AlertPlan {
  if (alert.monitorCondition === 'Resolved') {
    return ignore('resolved', `alert ${describeRule(alert)} is Resolved: nothing to investigate`);
  }
  const snatConditions = alert.conditions.filter((c) => isSnatMetric(alert.targetKind, c.metricName));
  if (snatConditions.length === 0) {
    const names = [...new Set(alert.conditions.map((c) => JSON.stringify(c.metricName)))].join(', ');
    return ignore(
      'not-snat-metric',
      `alert ${describeRule(alert)} is on ${names}, not a SNAT metric of a load balancer (UsedSnatPorts, AllocatedSnatPorts, SnatConnectionCount) or NAT gateway (SNATConnectionCount): nothing to investigate`,
    );
  }
  // Any IP dimension that is not an IP literal makes the whole alert suspect: nothing of it is started.
  if (alert.invalidDimensionValues.length > 0) {
    const list = alert.invalidDimensionValues.map((d) => `${d.field} = ${JSON.stringify(d.value)}`).join('; ');
    return reject(
      'invalid-dimension',
      `IP address dimensions (BackendIPAddress, FrontendIPAddress) that are not bare IP literals (a dotted quad or an IPv6 address, without brackets, zone, prefix length or spaces): ${list}`,
      alert.invalidDimensionValues[0]?.field,
    );
  }
  if (alert.targetKind === 'loadBalancer') return planLoadBalancer(alert, snatConditions, settings);
  if (alert.targetKind === 'natGateway') return planNatGateway(alert, snatConditions, settings);
  return reject(
    'unsupported-target',
    `alert target ${JSON.stringify(alert.targetResourceId ?? '(none)')} is neither a load balancer nor a NAT gateway`,
  );
}

function isSnatMetric(kind: AlertDocument['targetKind'], metricName: string): boolean {
  const lower = metricName.toLowerCase();
  return (kind === 'natGateway' ? NATGW_METRICS : LB_METRICS).has(lower);
}

function describeRule(alert: AlertDocument): string {
  return JSON.stringify(alert.alertRule ?? alert.alertId ?? '(unnamed)');
}

function startPlan(
  alert: AlertDocument,
  conditions: readonly AlertCondition[],
  targets: AlertTarget[],
  omittedNodeIps: string[],
): AlertPlan {
  return {
    kind: 'start',
    status: 202,
    targets,
    window: { start: alert.windowStart, end: alert.windowEnd ?? alert.firedAt },
    alertId: alert.alertId,
    alertRule: alert.alertRule,
    severity: alert.severity,
    metrics: [...new Set(conditions.map((c) => c.metricName))],
    omittedNodeIps,
  };
}

function notAllowed(clusterId: string): AlertPlan {
  return reject(
    'cluster-not-allowed',
    `cluster ${JSON.stringify(clusterId)} is not in SNAT_ALLOWED_CLUSTER_IDS: nothing started`,
  );
}

function planLoadBalancer(
  alert: AlertDocument,
  conditions: readonly AlertCondition[],
  settings: AlertPlanSettings,
): AlertPlan {
  const loadBalancerId = alert.targetResourceId;
  if (loadBalancerId === null) {
    return reject('unsupported-target', 'load balancer alert names no target resource id (alertTargetIDs)');
  }
  const nodeIps: string[] = [];
  for (const condition of conditions) {
    const value = dimensionOf(condition, 'BackendIPAddress');
    const ip = value === undefined ? null : canonicalIpLiteral(value);
    if (ip !== null && !nodeIps.includes(ip)) nodeIps.push(ip);
  }
  if (nodeIps.length === 0) {
    return reject(
      'no-node-dimension',
      `load balancer alert ${describeRule(alert)} names no node: its SNAT conditions have no BackendIPAddress dimension (split the alert rule by BackendIPAddress)`,
    );
  }
  const clusterHint = settings.loadBalancerClusters[canonicalResourceId(loadBalancerId)];
  if (settings.allowedClusterIds !== null) {
    if (clusterHint === undefined) {
      return reject(
        'cluster-not-allowed',
        `load balancer ${JSON.stringify(loadBalancerId)} is not in SNAT_LB_CLUSTER_MAP, so its cluster cannot be checked against SNAT_ALLOWED_CLUSTER_IDS: nothing started`,
      );
    }
    if (!clusterAllowed(settings, clusterHint)) return notAllowed(clusterHint);
  }
  const kept = nodeIps.slice(0, settings.maxNodesPerAlert);
  const targets = kept.map((nodeIp): LoadBalancerTarget => ({
    loadBalancerId,
    ...(clusterHint !== undefined ? { clusterHint } : {}),
    nodeIp,
  }));
  return startPlan(alert, conditions, targets, nodeIps.slice(kept.length));
}

function planNatGateway(
  alert: AlertDocument,
  conditions: readonly AlertCondition[],
  settings: AlertPlanSettings,
): AlertPlan {
  const natGatewayId = alert.targetResourceId;
  if (natGatewayId === null) {
    return reject('unsupported-target', 'NAT gateway alert names no target resource id (alertTargetIDs)');
  }
  const clusters = settings.natGatewayClusters[canonicalResourceId(natGatewayId)];
  if (clusters === undefined || clusters.length === 0) {
    return reject(
      'unmapped-nat-gateway',
      `NAT gateway ${JSON.stringify(natGatewayId)} is not in SNAT_NATGW_CLUSTER_MAP: a NAT gateway alert names no node, so the mapping must say which cluster's nodes to census`,
    );
  }
  const denied = clusters.find((c) => !clusterAllowed(settings, c));
  if (denied !== undefined) return notAllowed(denied);
  const targets = clusters.map((clusterHint): NatGatewayTarget => ({
    natGatewayId,
    clusterHint,
    allNodes: { maxNodes: settings.maxNodesPerAlert },
  }));
  return startPlan(alert, conditions, targets, []);
}

/**
 * The registry key of a target: cluster + node IP, or cluster + `*` for a census. An unmapped load balancer's cluster
 * is not known before ARM resolves it; its id stands in for the cluster (a load balancer belongs to one cluster), so
 * alerts still de-duplicate among themselves. Map load balancers (SNAT_LB_CLUSTER_MAP) to share keys with HTTP starts.
 * A census's key leaves the NAT gateway out on purpose: the census covers the cluster's nodes whichever of its
 * gateways fired, so there is one live census per cluster (and its cooldown), not one per gateway.
 */
export function keyOfTarget(target: AlertTarget): InvestigationKey {
  if ('nodeIp' in target) return investigationKey(target.clusterHint ?? target.loadBalancerId, { ip: target.nodeIp });
  return investigationKey(target.clusterHint, { allNodes: true });
}
