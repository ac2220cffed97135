/**
 * Kubernetes API objects (plain JSON, as the API server serialises them) built from the world: AKS-shaped nodes,
 * pods with their owner chains, and the ReplicaSets/Deployments/DaemonSets/StatefulSets/Jobs/CronJobs above them.
 */
import type { Scenario, ScenarioContainer } from './scenario.js';
import { hex64, uuidFrom } from './net.js';
import type { SimNode, SimPod, World } from './world.js';

/** A JSON object of the API. Timestamps are RFC 3339 strings, as on the wire. */
export type KObject = {
  kind?: string;
  apiVersion?: string;
  metadata: KMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
};

export interface KMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function ownerRef(apiVersion: string, kind: string, name: string, uid: string): OwnerReference {
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** MC_<rg>_<cluster>_<location>, the node resource group AKS creates. */
export function nodeResourceGroup(scenario: Scenario): string {
  const c = scenario.cluster;
  return c.nodeResourceGroup ?? `MC_${c.resourceGroup}_${c.name}_${c.location}`;
}

/** `aks-nodepool1-12345678-vmss000000` -> scale set `aks-nodepool1-12345678-vmss`, instance 0 (base 36 suffix). */
export function scaleSetOf(nodeName: string): { scaleSet: string; instance: number } | null {
  const m = /^(.+-vmss)([0-9a-z]{6})$/.exec(nodeName);
  if (!m) return null;
  return { scaleSet: m[1]!, instance: parseInt(m[2]!, 36) };
}

export function nodeObject(node: SimNode, scenario: Scenario): KObject {
  const n = node.spec;
  const c = scenario.cluster;
  const mcRg = nodeResourceGroup(scenario);
  const vmss = scaleSetOf(node.name);
  const providerID = vmss
    ? `azure:///subscriptions/${c.subscriptionId}/resourceGroups/${mcRg.toLowerCase()}/providers/Microsoft.Compute/virtualMachineScaleSets/${vmss.scaleSet}/virtualMachines/${vmss.instance}`
    : `azure:///subscriptions/${c.subscriptionId}/resourceGroups/${mcRg.toLowerCase()}/providers/Microsoft.Compute/virtualMachines/${node.name}`;
  const labels: Record<string, string> = {
    agentpool: n.nodepool,
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/instance-type': n.vmSize,
    'beta.kubernetes.io/os': 'linux',
    'failure-domain.beta.kubernetes.io/region': c.location,
    'failure-domain.beta.kubernetes.io/zone': '0',
    'kubernetes.azure.com/agentpool': n.nodepool,
    'kubernetes.azure.com/cluster': mcRg,
    'kubernetes.azure.com/mode': 'system',
    'kubernetes.azure.com/node-image-version': 'AKSUbuntu-2204gen2containerd-202510.01.0',
    'kubernetes.azure.com/nodepool-type': 'VirtualMachineScaleSets',
    'kubernetes.azure.com/os-sku': 'Ubuntu',
    'kubernetes.azure.com/role': 'agent',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': node.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/role': 'agent',
    'node-role.kubernetes.io/agent': '',
    'node.kubernetes.io/instance-type': n.vmSize,
    'topology.kubernetes.io/region': c.location,
    'topology.kubernetes.io/zone': '0',
    ...n.labels,
  };
  const created = rfc3339(node.createdAt);
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: rfc3339(new Date()),
    lastTransitionTime: created,
    reason,
    message,
  });
  const addresses = [
    { type: 'InternalIP', address: node.ip },
    ...(n.externalIP !== undefined ? [{ type: 'ExternalIP', address: n.externalIP }] : []),
    { type: 'Hostname', address: node.name },
  ];
  return {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: {
      name: node.name,
      uid: node.uid,
      creationTimestamp: created,
      labels,
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      ...(n.podCIDR !== undefined ? { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] } : {}),
      providerID,
      ...(n.taints.length > 0 ? { taints: n.taints } : {}),
      ...(n.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      capacity: { cpu: '4', 'ephemeral-storage': '129886128Ki', memory: '16364412Ki', pods: '250' },
      allocatable: { cpu: '3860m', 'ephemeral-storage': '119703055367', memory: '12899708Ki', pods: '250' },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        n.ready
          ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
          : condition('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
      ],
      addresses,
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: uuidFrom(`boot/${node.name}`),
        containerRuntimeVersion: n.containerRuntimeVersion,
        kernelVersion: n.kernelVersion,
        kubeProxyVersion: n.kubeletVersion,
        kubeletVersion: n.kubeletVersion,
        machineID: hex64(`machine/${node.name}`).slice(0, 32),
        operatingSystem: 'linux',
        osImage: n.osImage,
        systemUUID: uuidFrom(`system/${node.name}`),
      },
    },
  };
}

function containerState(c: ScenarioContainer, started: string): Record<string, unknown> {
  switch (c.state) {
    case 'running':
      return { running: { startedAt: started } };
    case 'waiting':
      return {
        waiting: {
          reason: c.reason ?? 'CrashLoopBackOff',
          message:
            c.reason === undefined || c.reason === 'CrashLoopBackOff'
              ? `back-off 5m0s restarting failed container=${c.name}`
              : '',
        },
      };
    case 'terminated':
      return {
        terminated: {
          exitCode: c.exitCode ?? 0,
          reason: c.reason ?? ((c.exitCode ?? 0) === 0 ? 'Completed' : 'Error'),
          startedAt: started,
          finishedAt: started,
          containerID: '',
        },
      };
  }
}

export function imageId(image: string): string {
  const repo = image.includes('@') ? image.slice(0, image.indexOf('@')) : image.replace(/:[^/:]+$/, '');
  return `${repo}@sha256:${hex64(`image/${image}`)}`;
}

export function podObject(pod: SimPod, node: SimNode): KObject {
  const created = rfc3339(pod.createdAt);
  const started = rfc3339(new Date(pod.createdAt.getTime() + 4000));
  const spec = pod.spec;
  const running = spec.phase === 'Running';
  const statuses = pod.containers.map((c) => {
    const state = containerState(c, started);
    const ready = c.ready ?? (c.state === 'running' && running);
    return {
      name: c.name,
      image: c.image,
      imageID: imageId(c.image),
      containerID: `containerd://${hex64(`container/${pod.key}/${c.name}`)}`,
      ready,
      started: c.state === 'running',
      restartCount: c.restartCount,
      state,
      lastState:
        c.restartCount > 0
          ? {
              terminated: {
                exitCode: 1,
                reason: 'Error',
                startedAt: started,
                finishedAt: rfc3339(new Date(Date.now() - 300_000)),
                containerID: '',
              },
            }
          : {},
    };
  });
  const allReady = statuses.every((s) => s.ready);
  const condition = (type: string, status: boolean) => ({
    type,
    status: status ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: started,
    ...(status || type === 'PodScheduled'
      ? {}
      : { reason: type === 'Ready' || type === 'ContainersReady' ? 'ContainersNotReady' : 'PodCompleted' }),
  });
  const owner = pod.owner;
  const ownerApi = owner?.kind === 'Job' ? 'batch/v1' : 'apps/v1';
  const hostIP = node.ip;
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      creationTimestamp: created,
      ...(owner && owner.kind !== 'StatefulSet'
        ? { generateName: `${pod.name.slice(0, pod.name.lastIndexOf('-') + 1)}` }
        : {}),
      labels: pod.labels,
      ...(owner ? { ownerReferences: [ownerRef(ownerApi, owner.kind, owner.name, owner.uid)] } : {}),
    },
    spec: {
      containers: pod.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imagePullPolicy: 'IfNotPresent',
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      })),
      dnsPolicy: pod.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
      enableServiceLinks: true,
      ...(pod.hostNetwork ? { hostNetwork: true } : {}),
      nodeName: pod.nodeName,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: pod.namespace === 'kube-system' ? 2000001000 : 0,
      restartPolicy: owner?.kind === 'Job' ? 'OnFailure' : 'Always',
      schedulerName: 'default-scheduler',
      securityContext: {},
      serviceAccountName: 'default',
      serviceAccount: 'default',
      terminationGracePeriodSeconds: 30,
      tolerations: [
        { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 },
        { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 },
      ],
    },
    status: {
      phase: spec.phase,
      conditions: [
        condition('PodReadyToStartContainers', spec.phase !== 'Pending' || pod.ips.length > 0),
        condition('Initialized', true),
        condition('Ready', allReady && running),
        condition('ContainersReady', allReady && running),
        condition('PodScheduled', true),
      ],
      hostIP,
      hostIPs: [{ ip: hostIP }],
      ...(pod.ips.length > 0 ? { podIP: pod.ips[0], podIPs: pod.ips.map((ip) => ({ ip })) } : {}),
      startTime: created,
      containerStatuses: statuses,
      qosClass: 'Burstable',
    },
  };
}

/** The workload objects above the scenario's pods, one per distinct owner. */
export function workloadObjects(world: World): KObject[] {
  const out = new Map<string, KObject>();
  const add = (
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
    uid: string,
    created: Date,
    extra: Partial<KObject>,
  ) => {
    const key = `${kind}/${namespace}/${name}`;
    if (!out.has(key)) {
      out.set(key, {
        kind,
        apiVersion,
        metadata: {
          name,
          namespace,
          uid,
          creationTimestamp: rfc3339(created),
          generation: 1,
          ...(extra.metadata ?? {}),
        },
        ...(extra.spec ? { spec: extra.spec } : {}),
        ...(extra.status ? { status: extra.status } : {}),
      });
    }
  };
  for (const pod of world.pods) {
    const o = pod.owner;
    if (!o) continue;
    const template = {
      metadata: { labels: pod.labels },
      spec: { containers: pod.containers.map((c) => ({ name: c.name, image: c.image })) },
    };
    const selectorLabels = Object.fromEntries(
      Object.entries(pod.labels).filter(
        ([k]) => !['statefulset.kubernetes.io/pod-name', 'apps.kubernetes.io/pod-index'].includes(k),
      ),
    );
    const replicas = world.pods.filter((p) => p.owner?.uid === o.uid).length;
    if (o.kind === 'ReplicaSet') {
      add('apps/v1', 'ReplicaSet', pod.namespace, o.name, o.uid, pod.createdAt, {
        metadata: {
          name: o.name,
          uid: o.uid,
          creationTimestamp: rfc3339(pod.createdAt),
          labels: pod.labels,
          ...(o.parent ? { ownerReferences: [ownerRef('apps/v1', 'Deployment', o.parent.name, o.parent.uid)] } : {}),
        },
        spec: { replicas, selector: { matchLabels: selectorLabels }, template },
        status: {
          replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          fullyLabeledReplicas: replicas,
          observedGeneration: 1,
        },
      });
      if (o.parent) {
        const labels = Object.fromEntries(Object.entries(pod.labels).filter(([k]) => k !== 'pod-template-hash'));
        add('apps/v1', 'Deployment', pod.namespace, o.parent.name, o.parent.uid, pod.createdAt, {
          metadata: { name: o.parent.name, uid: o.parent.uid, creationTimestamp: rfc3339(pod.createdAt), labels },
          spec: { replicas, selector: { matchLabels: labels }, template: { ...template, metadata: { labels } } },
          status: {
            replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            updatedReplicas: replicas,
            observedGeneration: 1,
          },
        });
      }
    } else if (o.kind === 'DaemonSet' || o.kind === 'StatefulSet') {
      add('apps/v1', o.kind, pod.namespace, o.name, o.uid, pod.createdAt, {
        spec: { selector: { matchLabels: selectorLabels }, template },
        status:
          o.kind === 'DaemonSet'
            ? { desiredNumberScheduled: replicas, numberReady: replicas }
            : { replicas, readyReplicas: replicas },
      });
    } else if (o.kind === 'Job') {
      add('batch/v1', 'Job', pod.namespace, o.name, o.uid, pod.createdAt, {
        metadata: {
          name: o.name,
          uid: o.uid,
          creationTimestamp: rfc3339(pod.createdAt),
          labels: pod.labels,
          ...(o.parent ? { ownerReferences: [ownerRef('batch/v1', 'CronJob', o.parent.name, o.parent.uid)] } : {}),
        },
        spec: {
          completions: 1,
          parallelism: 1,
          backoffLimit: 6,
          selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': o.uid } },
          template,
        },
        status:
          pod.spec.phase === 'Succeeded'
            ? {
                succeeded: 1,
                startTime: rfc3339(pod.createdAt),
                completionTime: rfc3339(new Date(pod.createdAt.getTime() + 20_000)),
                conditions: [
                  {
                    type: 'SuccessCriteriaMet',
                    status: 'True',
                    lastProbeTime: rfc3339(pod.createdAt),
                    lastTransitionTime: rfc3339(pod.createdAt),
                  },
                  {
                    type: 'Complete',
                    status: 'True',
                    lastProbeTime: rfc3339(pod.createdAt),
                    lastTransitionTime: rfc3339(pod.createdAt),
                  },
                ],
              }
            : { active: 1, startTime: rfc3339(pod.createdAt) },
      });
      if (o.parent) {
        add('batch/v1', 'CronJob', pod.namespace, o.parent.name, o.parent.uid, pod.createdAt, {
          spec: { schedule: '*/30 * * * *', jobTemplate: { spec: { template } } },
          status: {},
        });
      }
    }
  }
  return [...out.values()];
}
