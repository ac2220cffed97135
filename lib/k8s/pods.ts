/**
 * The pods on one node, snapshotted at capture time: by the time someone reads the report, the culprit may have been
 * rescheduled, so the report keeps what the pod *was* (IPs, owner, images, labels) while the capture ran.
 *
 * Owners go through the ReplicaSet to its Deployment with a real lookup (cached per call: one node's pods share few
 * ReplicaSets). When the ReplicaSet cannot be read (deleted mid-rollout, RBAC), the `pod-template-hash` name rule of
 * `ownerOf` stands in, and a note says so.
 */
import pLimit from 'p-limit';
import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { canonicalAddress } from '../analysis/ip.js';
import { ownerOf } from '../analysis/evidence.js';
import type { PodEvidence } from '../analysis/evidence.js';
import type { DataQualityNote } from '../report/model.js';
import type { KubeClients } from './access.js';
import { isKubeError } from './errors.js';
import { listAll } from './list.js';
import { checkSubdomain } from './names.js';
import { withRetry } from './retry.js';

export interface PodContainerSnapshot {
  readonly name: string;
  readonly image: string;
  readonly ready: boolean;
  readonly running: boolean;
  readonly restartCount: number;
  /** The waiting/terminated reason (`CrashLoopBackOff`, `OOMKilled`, ...), else null. */
  readonly reason: string | null;
}

export interface PodSnapshot {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | null;
  readonly nodeName: string;
  /** Canonical pod IPs as the API reports them (a hostNetwork pod reports the node's IP here). */
  readonly ips: string[];
  readonly hostNetwork: boolean;
  /** `Deployment/api`, `ReplicaSet/x` (no Deployment), `StatefulSet/db`, `DaemonSet/ds`, `Job/j`, `Node/n` (static), or null. */
  readonly owner: string | null;
  /** How the owner was found: read from the API, guessed from the pod-template-hash rule, or the pod's own reference. */
  readonly ownerSource: 'api' | 'name-rule' | 'reference' | null;
  readonly labels: Record<string, string>;
  /** Images of the app containers, in spec order, de-duplicated. */
  readonly images: string[];
  readonly phase: string | null;
  readonly containers: PodContainerSnapshot[];
  readonly startTime: string | null;
}

export interface PodSnapshotSet {
  readonly nodeName: string;
  /** When the list was read (ISO 8601). */
  readonly takenAt: string;
  readonly pods: PodSnapshot[];
  readonly notes: DataQualityNote[];
}

export interface ListPodsOptions {
  readonly now?: () => Date;
  /** Parallel ReplicaSet lookups. */
  readonly concurrency?: number;
}

type OwnerResolution = { owner: string | null; source: PodSnapshot['ownerSource']; problem: string | null };

/** `Kind/name` of a ReplicaSet's controller: its Deployment (or other controller), else the ReplicaSet itself. */
function ownerOfReplicaSet(rs: V1ReplicaSet, rsName: string): string {
  const refs = rs.metadata?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller === true) ?? refs[0];
  return ref?.kind && ref.name ? `${ref.kind}/${ref.name}` : `ReplicaSet/${rsName}`;
}

function snapshotOf(pod: V1Pod, nodeName: string, owner: OwnerResolution, invalidIps: string[]): PodSnapshot {
  const raw = [...(pod.status?.podIPs?.map((p) => p.ip) ?? []), ...(pod.status?.podIP ? [pod.status.podIP] : [])];
  const ips: string[] = [];
  for (const text of raw) {
    const ip = canonicalAddress(text);
    if (ip === null) invalidIps.push(text);
    else if (!ips.includes(ip)) ips.push(ip);
  }
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
  const containers = (pod.spec?.containers ?? []).map((c): PodContainerSnapshot => {
    const s = statuses.get(c.name);
    return {
      name: c.name,
      image: c.image ?? s?.image ?? '',
      ready: s?.ready === true,
      running: s?.state?.running !== undefined,
      restartCount: s?.restartCount ?? 0,
      reason: s?.state?.waiting?.reason ?? s?.state?.terminated?.reason ?? null,
    };
  });
  const images: string[] = [];
  for (const c of containers) if (c.image && !images.includes(c.image)) images.push(c.image);
  const start = pod.status?.startTime;
  return {
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? null,
    nodeName: pod.spec?.nodeName ?? nodeName,
    ips,
    hostNetwork: pod.spec?.hostNetwork === true,
    owner: owner.owner,
    ownerSource: owner.source,
    labels: { ...(pod.metadata?.labels ?? {}) },
    images,
    phase: pod.status?.phase ?? null,
    containers,
    startTime: start instanceof Date ? start.toISOString() : typeof start === 'string' ? start : null,
  };
}

/**
 * Lists the pods scheduled on `nodeName` (field selector `spec.nodeName`, all namespaces) and resolves their owners.
 * Sorted by namespace/name.
 */
export async function listPodsOnNode(
  clients: KubeClients,
  nodeName: string,
  options: ListPodsOptions = {},
): Promise<PodSnapshotSet> {
  checkSubdomain('node name', nodeName);
  const takenAt = (options.now ?? (() => new Date()))().toISOString();
  const pods = await listAll(`list pods on node ${nodeName}`, clients.retry, (page) =>
    clients.core.listPodForAllNamespaces({ ...page, fieldSelector: `spec.nodeName=${nodeName}` }),
  );

  // One lookup per ReplicaSet, shared by every pod that names it (the promise is cached, so concurrent pods wait on it).
  const limit = pLimit(options.concurrency ?? 8);
  const replicaSets = new Map<string, Promise<OwnerResolution>>();
  const lookUp = (namespace: string, name: string): Promise<OwnerResolution> => {
    const key = `${namespace}/${name}`;
    let pending = replicaSets.get(key);
    if (!pending) {
      pending = limit(async (): Promise<OwnerResolution> => {
        try {
          const rs = await withRetry(
            `get replicaset ${namespace}/${name}`,
            () => clients.apps.readNamespacedReplicaSet({ name, namespace }),
            clients.retry,
          );
          return { owner: ownerOfReplicaSet(rs, name), source: 'api', problem: null };
        } catch (e) {
          const why = isKubeError(e) ? e.reason : 'error';
          return { owner: null, source: null, problem: why };
        }
      });
      replicaSets.set(key, pending);
    }
    return pending;
  };

  const problems = new Map<string, string[]>();
  const resolveOwner = async (pod: V1Pod): Promise<OwnerResolution> => {
    const refs = pod.metadata?.ownerReferences ?? [];
    const ref = refs.find((r) => r.controller === true) ?? refs[0];
    if (!ref?.kind || !ref.name) return { owner: null, source: null, problem: null };
    if (ref.kind !== 'ReplicaSet') return { owner: `${ref.kind}/${ref.name}`, source: 'reference', problem: null };
    const namespace = pod.metadata?.namespace ?? 'default';
    const found = await lookUp(namespace, ref.name);
    if (found.problem === null) return found;
    const list = problems.get(found.problem) ?? [];
    if (!list.includes(`${namespace}/${ref.name}`)) list.push(`${namespace}/${ref.name}`);
    problems.set(found.problem, list);
    return { owner: ownerOf(refs, pod.metadata?.labels), source: 'name-rule', problem: found.problem };
  };

  const invalidIps: string[] = [];
  const owners = await Promise.all(pods.map(resolveOwner));
  const snapshots = pods
    .map((pod, i) => snapshotOf(pod, nodeName, owners[i]!, invalidIps))
    .sort((a, b) => compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));

  const notes: DataQualityNote[] = [];
  for (const [reason, sets] of [...problems].sort(([a], [b]) => compare(a, b))) {
    notes.push({
      source: 'kubernetes pods',
      text: `ReplicaSets that could not be read (${reason}); their owner is inferred from the pod-template-hash name rule: ${sets.sort().join(', ')}`,
      count: sets.length,
    });
  }
  if (invalidIps.length > 0) {
    notes.push({
      source: 'kubernetes pods',
      text: `pod IPs that are not IP addresses (ignored): ${invalidIps.join(', ')}`,
      count: invalidIps.length,
    });
  }
  return { nodeName, takenAt, pods: snapshots, notes };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The analysis' pod shape. A hostNetwork pod's IPs are the node's: they are dropped, so its traffic is not taken for
 * the pod's own (it is the node's, attributed to the host namespace). `netns` comes from the capture's netns map.
 */
export function toPodEvidence(pod: PodSnapshot, netns: number | null = null): PodEvidence {
  return {
    namespace: pod.namespace,
    name: pod.name,
    uid: pod.uid,
    ips: pod.hostNetwork ? [] : [...pod.ips],
    hostNetwork: pod.hostNetwork,
    owner: pod.owner,
    netns,
  };
}
