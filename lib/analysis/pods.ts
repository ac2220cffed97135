/**
 * The pods of one node, from what an engineer can save by hand: `kubectl get pods -o json` (IPs, owners,
 * hostNetwork) and `crictl inspectp` (sandbox IPs, hostNetwork, netns paths), joined with the netns map.
 */
import { z } from 'zod';
import type { Parsed, SandboxInfo } from '../parse/types.js';
import { canonicalAddress } from './ip.js';
import { ownerOf, podKey } from './evidence.js';
import type { NetnsEntry, PodEvidence } from './evidence.js';
import { netnsOfPod } from './netns.js';

const podSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().min(1).default('default'),
    uid: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    ownerReferences: z
      .array(z.object({ kind: z.string().optional(), name: z.string().optional(), controller: z.boolean().optional() }))
      .optional(),
  }),
  spec: z.object({ nodeName: z.string().optional(), hostNetwork: z.boolean().optional() }).optional(),
  status: z
    .object({
      podIP: z.string().optional(),
      podIPs: z.array(z.object({ ip: z.string() })).optional(),
    })
    .optional(),
});

const listSchema = z.object({ items: z.array(podSchema) });

export interface KubectlPods {
  readonly pods: PodEvidence[];
  /** Pods of other nodes that were left out (the file held more than this node). */
  readonly otherNodes: number;
  /** IP strings that were not IP literals: never used. */
  readonly invalidIps: string[];
}

export interface KubectlPodsProblem {
  readonly message: string;
  readonly field?: string;
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/**
 * Reads `kubectl get pods -o json` (a List, or one Pod). With `nodeName`, pods scheduled on other nodes are dropped:
 * people often save `-A` without a field selector.
 */
export function podsFromKubectl(value: unknown, nodeName: string | null): Parsed<KubectlPods> {
  const kind = typeof value === 'object' && value !== null && 'kind' in value ? value.kind : null;
  if (kind !== 'List' && kind !== 'PodList' && kind !== 'Pod') {
    return {
      ok: false,
      problem: {
        code: 'not-kubectl-pods',
        message: 'not `kubectl get pods -o json` output: expected "kind": "List" or "Pod"',
        field: 'kind',
      },
    };
  }
  // Parsed without a union, so the first issue's path names the field in the document as written.
  const parsed =
    kind === 'Pod' ? podSchema.transform((pod) => ({ items: [pod] })).safeParse(value) : listSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? fieldPath(issue.path) : '';
    return {
      ok: false,
      problem: {
        code: 'not-kubectl-pods',
        message: `not \`kubectl get pods -o json\` output: ${issue?.message ?? 'unexpected shape'}`,
        ...(field ? { field } : {}),
      },
    };
  }
  const items = parsed.data.items;
  const invalidIps: string[] = [];
  let otherNodes = 0;
  const pods: PodEvidence[] = [];
  for (const item of items) {
    const podNode = item.spec?.nodeName;
    if (nodeName !== null && podNode !== undefined && podNode !== nodeName) {
      otherNodes += 1;
      continue;
    }
    const hostNetwork = item.spec?.hostNetwork === true;
    const raw = [...(item.status?.podIPs?.map((p) => p.ip) ?? []), ...(item.status?.podIP ? [item.status.podIP] : [])];
    const ips: string[] = [];
    for (const text of raw) {
      const ip = canonicalAddress(text);
      if (ip === null) invalidIps.push(text);
      else if (!ips.includes(ip)) ips.push(ip);
    }
    pods.push({
      namespace: item.metadata.namespace,
      name: item.metadata.name,
      uid: item.metadata.uid ?? null,
      // A hostNetwork pod's IP is the node's: keeping it would make the node's traffic look like the pod's own.
      ips: hostNetwork ? [] : ips,
      hostNetwork,
      owner: ownerOf(item.metadata.ownerReferences, item.metadata.labels),
      netns: null,
    });
  }
  return { ok: true, value: { pods, otherNodes, invalidIps } };
}

const compareKeys = (a: PodEvidence, b: PodEvidence): number =>
  podKey(a) < podKey(b) ? -1 : podKey(a) > podKey(b) ? 1 : 0;

/**
 * Joins the pod sources: kubectl metadata first, sandboxes fill what it lacks (or stand alone), the netns map adds
 * each pod's namespace inode. Sorted by `namespace/name`.
 */
export function mergePods(
  kubectl: readonly PodEvidence[],
  sandboxes: readonly SandboxInfo[],
  netns: readonly NetnsEntry[],
): PodEvidence[] {
  const pods = new Map<string, PodEvidence>();
  for (const pod of kubectl) pods.set(podKey(pod), pod);
  // Ready sandboxes first: an old NotReady sandbox of the same pod must not supply its stale IP.
  const ordered = [...sandboxes].sort((a, b) => Number(b.ready) - Number(a.ready));
  for (const sandbox of ordered) {
    const key = podKey(sandbox);
    const known = pods.get(key);
    const ip = sandbox.ip === null ? null : canonicalAddress(sandbox.ip);
    const ips = sandbox.hostNetwork || ip === null ? [] : [ip];
    if (!known) {
      pods.set(key, {
        namespace: sandbox.namespace,
        name: sandbox.name,
        uid: sandbox.uid || null,
        ips,
        hostNetwork: sandbox.hostNetwork,
        owner: null,
        netns: null,
      });
    } else if (known.ips.length === 0 && !known.hostNetwork && sandbox.ready) {
      pods.set(key, { ...known, ips, hostNetwork: sandbox.hostNetwork, uid: known.uid ?? (sandbox.uid || null) });
    }
  }
  return [...pods.values()]
    .map((pod) => ({ ...pod, netns: pod.netns ?? netnsOfPod(netns, pod.namespace, pod.name) }))
    .sort(compareKeys);
}
