/**
 * Azure resource ids the settings and the intake accept. ARM ids are case-insensitive (alerts send them lower-cased),
 * so the checks are too, and keys compare lower-cased. The rules follow ARM's naming limits: subscription GUID,
 * resource group 1-90 of [-\w._()] not ending in '.', resource names per type.
 */
const SUBSCRIPTION = '/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const GROUP = '/resourcegroups/[-\\w._()]{0,89}[-\\w_()]';

function idPattern(provider: string, nameRule: string): RegExp {
  return new RegExp(`^${SUBSCRIPTION}${GROUP}/providers/${provider}/${nameRule}$`, 'i');
}

/** AKS cluster names: 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit. */
const AKS = idPattern('microsoft\\.containerservice/managedclusters', '[a-z0-9](?:[-_a-z0-9]{0,61}[a-z0-9])?');
/** Load balancer and NAT gateway names: 1-80 of [-\w.], starting with a letter or digit, ending with a letter, digit or _. */
const NETWORK_NAME = '[a-z0-9](?:[-\\w.]{0,78}[\\w])?';
const LOAD_BALANCER = idPattern('microsoft\\.network/loadbalancers', NETWORK_NAME);
const NAT_GATEWAY = idPattern('microsoft\\.network/natgateways', NETWORK_NAME);

export const isAksClusterId = (id: string): boolean => AKS.test(id);
export const isLoadBalancerId = (id: string): boolean => LOAD_BALANCER.test(id);
export const isNatGatewayId = (id: string): boolean => NAT_GATEWAY.test(id);

/** The form ids are compared and keyed in. */
export const canonicalResourceId = (id: string): string => id.toLowerCase();
