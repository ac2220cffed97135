/**
 * The kinds of Azure resource id the settings and the intake accept, on top of lib/azure/resource-id.ts (the one ARM
 * id parser): a well-formed id of the right type, whose name also follows that type's naming rule. ARM ids are
 * case-insensitive (alerts send them lower-cased), so every check is too, and keys compare lower-cased.
 */
import {
  NAT_GATEWAY_TYPE,
  LOAD_BALANCER_TYPE,
  MANAGED_CLUSTER_TYPE,
  parseResourceId,
  fullTypeKey,
} from '../azure/resource-id.js';

/** AKS cluster names: 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit. */
const AKS_NAME = /^[a-z0-9](?:[-_a-z0-9]{0,61}[a-z0-9])?$/i;
/** Load balancer and NAT gateway names: 1-80 of [-\w.], starting with a letter or digit, ending with a letter, digit or _. */
const NETWORK_NAME = /^[a-z0-9](?:[-\w.]{0,78}\w)?$/i;

function isIdOf(id: string, fullType: string, name: RegExp): boolean {
  try {
    const parsed = parseResourceId(id);
    return fullTypeKey(parsed) === fullType.toLowerCase() && name.test(parsed.name);
  } catch {
    return false;
  }
}

export const isAksClusterId = (id: string): boolean => isIdOf(id, MANAGED_CLUSTER_TYPE, AKS_NAME);
export const isLoadBalancerId = (id: string): boolean => isIdOf(id, LOAD_BALANCER_TYPE, NETWORK_NAME);
export const isNatGatewayId = (id: string): boolean => isIdOf(id, NAT_GATEWAY_TYPE, NETWORK_NAME);

/** The form ids are compared and keyed in. */
export const canonicalResourceId = (id: string): string => id.toLowerCase();
