/**
 * What lib/k8s asks of the API server, call by call: the source of truth for infra/k8s/rbac.yaml (a test checks that
 * the YAML grants exactly the required rows, and that every client call in lib/k8s appears here).
 */

export type PermissionScope = 'cluster' | 'capture-namespace';

export interface ApiCall {
  /** The client-node method (CoreV1Api, AppsV1Api, BatchV1Api) or `Exec` for the exec WebSocket. */
  readonly method: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: readonly string[];
  readonly scope: PermissionScope;
  /** Limited to these objects (namespaces are cluster-scoped: the capture namespace is named). */
  readonly resourceNames?: readonly string[];
  /** Not granted on purpose; the code handles 403 (see `why`). */
  readonly optional?: boolean;
  readonly why: string;
}

/** The capture namespace as named in infra/k8s (keep in sync with DEFAULT_CAPTURE_NAMESPACE). */
export const RBAC_CAPTURE_NAMESPACE = 'snat-responder-capture';

export const API_CALLS: readonly ApiCall[] = [
  {
    method: 'readNode',
    apiGroup: '',
    resource: 'nodes',
    verbs: ['get'],
    scope: 'cluster',
    why: 'find the node by name',
  },
  {
    method: 'listNode',
    apiGroup: '',
    resource: 'nodes',
    verbs: ['list'],
    scope: 'cluster',
    why: 'find the node by InternalIP',
  },
  {
    method: 'listPodForAllNamespaces',
    apiGroup: '',
    resource: 'pods',
    verbs: ['list'],
    scope: 'cluster',
    why: 'the pods on the node (field selector spec.nodeName), in every namespace',
  },
  {
    method: 'listNamespacedPod',
    apiGroup: '',
    resource: 'pods',
    verbs: ['list'],
    scope: 'capture-namespace',
    why: "the capture Job's pod (covered by the cluster-wide pods list)",
  },
  {
    method: 'readNamespacedReplicaSet',
    apiGroup: 'apps',
    resource: 'replicasets',
    verbs: ['get'],
    scope: 'cluster',
    why: 'owner of a pod: ReplicaSet -> Deployment',
  },
  {
    method: 'Exec',
    apiGroup: '',
    resource: 'pods/exec',
    verbs: ['create', 'get'],
    scope: 'cluster',
    why: 'pod census (netstat/ss/cat /proc/net/tcp); create for SPDY/POST, get for the WebSocket upgrade (a GET)',
  },
  {
    method: 'readNamespace',
    apiGroup: '',
    resource: 'namespaces',
    verbs: ['get'],
    scope: 'cluster',
    resourceNames: [RBAC_CAPTURE_NAMESPACE],
    why: 'check the capture namespace exists and enforces Pod Security privileged',
  },
  {
    method: 'createNamespace',
    apiGroup: '',
    resource: 'namespaces',
    verbs: ['create'],
    scope: 'cluster',
    optional: true,
    why: 'only on dev clusters and the simulator; in production namespace.yaml provisions it (403 -> clear error)',
  },
  {
    method: 'createNamespacedJob',
    apiGroup: 'batch',
    resource: 'jobs',
    verbs: ['create'],
    scope: 'capture-namespace',
    why: 'start the capture',
  },
  {
    method: 'readNamespacedJob',
    apiGroup: 'batch',
    resource: 'jobs',
    verbs: ['get'],
    scope: 'capture-namespace',
    why: 'capture status; reuse on 409',
  },
  {
    method: 'listNamespacedJob',
    apiGroup: 'batch',
    resource: 'jobs',
    verbs: ['list'],
    scope: 'capture-namespace',
    why: 'orphan sweep (by label)',
  },
  {
    method: 'deleteNamespacedJob',
    apiGroup: 'batch',
    resource: 'jobs',
    verbs: ['delete'],
    scope: 'capture-namespace',
    why: 'cleanup (background propagation: the garbage collector deletes the pod)',
  },
  {
    method: 'readNamespacedPodLog',
    apiGroup: '',
    resource: 'pods/log',
    verbs: ['get'],
    scope: 'capture-namespace',
    why: 'read the capture log',
  },
  {
    method: 'listNamespacedEvent',
    apiGroup: '',
    resource: 'events',
    verbs: ['list'],
    scope: 'capture-namespace',
    why: 'why the capture pod is stuck (FailedScheduling, image pull)',
  },
];

export interface Grant {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: string;
  readonly scope: PermissionScope;
  readonly resourceName: string | null;
}

/** The grants the RBAC must hold: one row per verb; calls in the capture namespace already covered cluster-wide drop out. */
export function requiredGrants(calls: readonly ApiCall[] = API_CALLS): Grant[] {
  const rows = new Map<string, Grant>();
  const key = (g: Grant) => `${g.scope}|${g.apiGroup}|${g.resource}|${g.verb}|${g.resourceName ?? ''}`;
  const cluster = calls.filter((c) => c.scope === 'cluster' && !c.optional && !c.resourceNames);
  for (const call of calls) {
    if (call.optional) continue;
    for (const verb of call.verbs) {
      if (
        call.scope === 'capture-namespace' &&
        cluster.some((c) => c.apiGroup === call.apiGroup && c.resource === call.resource && c.verbs.includes(verb))
      ) {
        continue;
      }
      for (const resourceName of call.resourceNames ?? [null]) {
        const grant = { apiGroup: call.apiGroup, resource: call.resource, verb, scope: call.scope, resourceName };
        rows.set(key(grant), grant);
      }
    }
  }
  return [...rows.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
