/**
 * ARM resource ids: parsed, validated and compared the way ARM compares them (case-insensitively).
 *
 * Alerts send ids lower-cased (`/subscriptions/.../resourcegroups/mc_rg_aks_westeurope/providers/microsoft.network/
 * loadbalancers/kubernetes`), the AKS resource reports its node resource group in its own case (`MC_rg_aks_westeurope`),
 * and settings hold whatever an operator pasted. `key()` is the one comparison form; `path()` keeps the original case
 * for requests (ARM accepts any case, and messages should show what the user gave).
 */
import { ArmError } from './errors.js';

export interface ResourceId {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** `Microsoft.Network`, as written in the id. */
  readonly provider: string;
  /** `loadBalancers`, or for nested types `virtualMachineScaleSets/virtualMachines`. */
  readonly type: string;
  /** The last name segment. */
  readonly name: string;
  /** `/subscriptions/.../providers/<provider>/<type>/<name>`, original case, one leading slash, no trailing slash. */
  readonly id: string;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Resource group names: 1-90 of letters, digits, `._-()`, not ending in a period (ARM's rule, Unicode letters aside). */
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
const PROVIDER = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)+$/;
const TYPE_SEGMENT = /^[A-Za-z][A-Za-z0-9]{0,79}$/;
/** Resource names: no ARM-forbidden characters, nothing that would change a URL path. */
const NAME_SEGMENT = /^[A-Za-z0-9_][-\w.]{0,259}$/;

function invalid(raw: string, why: string): ArmError {
  return new ArmError('invalid', `resource id ${JSON.stringify(raw)}: ${why}`);
}

/** A subscription id: a GUID. */
export function isSubscriptionId(value: string): boolean {
  return GUID.test(value);
}

export function isResourceGroupName(value: string): boolean {
  return RESOURCE_GROUP.test(value);
}

/**
 * Parses a resource-group-scoped ARM id. Accepts it with or without the leading slash and with a trailing slash;
 * rejects anything else (query strings, `..`, empty segments, a subscription that is not a GUID) with an error naming
 * the id and what is wrong.
 */
export function parseResourceId(raw: string): ResourceId {
  if (typeof raw !== 'string') throw invalid(String(raw), 'not a string');
  const text = raw.trim();
  if (text.length === 0) throw invalid(raw, 'empty');
  if (text.length > 2048) throw invalid(raw.slice(0, 80) + '...', 'longer than 2048 characters');
  if (!/^\/?subscriptions\//i.test(text)) throw invalid(raw, 'does not start with /subscriptions/');
  const segments = text.replace(/^\//, '').replace(/\/$/, '').split('/');
  if (segments.some((s) => s.length === 0)) throw invalid(raw, 'empty path segment');
  const [subs, subscriptionId = '', rgs, resourceGroup = '', providers, provider = '', ...rest] = segments;
  if (subs?.toLowerCase() !== 'subscriptions') throw invalid(raw, 'does not start with /subscriptions/');
  if (!GUID.test(subscriptionId)) throw invalid(raw, `subscription ${JSON.stringify(subscriptionId)} is not a GUID`);
  if (rgs?.toLowerCase() !== 'resourcegroups') throw invalid(raw, 'no /resourceGroups/ after the subscription');
  if (!RESOURCE_GROUP.test(resourceGroup)) {
    throw invalid(raw, `resource group ${JSON.stringify(resourceGroup)} is not a valid name`);
  }
  if (providers?.toLowerCase() !== 'providers') throw invalid(raw, 'no /providers/ after the resource group');
  if (!PROVIDER.test(provider)) throw invalid(raw, `provider ${JSON.stringify(provider)} is not a namespace`);
  if (rest.length < 2 || rest.length % 2 !== 0) {
    throw invalid(raw, 'expected <type>/<name> pairs after the provider');
  }
  const types: string[] = [];
  let name = '';
  for (let i = 0; i < rest.length; i += 2) {
    const type = rest[i] ?? '';
    const segmentName = rest[i + 1] ?? '';
    if (!TYPE_SEGMENT.test(type)) throw invalid(raw, `resource type ${JSON.stringify(type)} is not valid`);
    if (!NAME_SEGMENT.test(segmentName) || segmentName === '..') {
      throw invalid(raw, `resource name ${JSON.stringify(segmentName)} is not valid`);
    }
    types.push(type);
    name = segmentName;
  }
  const id = `/${segments.join('/')}`;
  return { subscriptionId, resourceGroup, provider, type: types.join('/'), name, id };
}

/** The comparison form: lower case, one leading slash, no trailing slash. */
export function resourceIdKey(id: ResourceId | string): string {
  const text = typeof id === 'string' ? parseResourceId(id).id : id.id;
  return text.toLowerCase();
}

export function sameResourceId(a: ResourceId | string, b: ResourceId | string): boolean {
  return resourceIdKey(a) === resourceIdKey(b);
}

/** `Microsoft.Network/loadBalancers`, lower-cased for comparison. */
export function fullTypeKey(id: ResourceId): string {
  return `${id.provider}/${id.type}`.toLowerCase();
}

/** The id as the ARM SDKs' `{resourceUri}` templates want it: no leading slash (else the URL holds `//subscriptions`). */
export function resourceUri(id: ResourceId): string {
  return id.id.replace(/^\/+/, '');
}

/** Requires an id of the given type (`Microsoft.Network/loadBalancers`), case-insensitively. */
export function requireType(raw: string, fullType: string): ResourceId {
  const id = parseResourceId(raw);
  if (fullTypeKey(id) !== fullType.toLowerCase()) {
    throw invalid(raw, `expected a ${fullType} id, got ${id.provider}/${id.type}`);
  }
  return id;
}

export const LOAD_BALANCER_TYPE = 'Microsoft.Network/loadBalancers';
export const MANAGED_CLUSTER_TYPE = 'Microsoft.ContainerService/managedClusters';
export const NAT_GATEWAY_TYPE = 'Microsoft.Network/natGateways';
