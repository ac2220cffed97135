/**
 * The simulated cluster's state: the API objects (nodes, namespaces, pods, workloads, Jobs, events) and a small Job
 * controller that runs capture Jobs on their node: Pending -> Running -> Succeeded after CAPTURE_SECONDS, with the
 * capture log rendered from the scenario, or one of the injected failures. Durations are simulated seconds; the
 * `timeScale` option turns them into wall-clock milliseconds (0.01 = a hundred times faster).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FaultState } from './faults.js';
import { captureParameters, cutMidLine, renderBadParametersLog, renderCaptureLog } from './capture-log.js';
import { hash32 } from './net.js';
import type { KObject, OwnerReference } from './objects.js';
import { nodeObject, ownerRef, podObject, rfc3339, workloadObjects } from './objects.js';
import { ApiError, alreadyExists, badRequest, invalid, notFound, RESOURCES } from './status.js';
import type { Resource } from './status.js';
import type { World } from './world.js';

export type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Simulated seconds from pod creation to the container running (scheduling, image already on the node). */
const START_SECONDS = 2;
/** Simulated seconds the script spends on the netns map and census after tcptracer ends. */
const CENSUS_SECONDS = 1;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(length = 5): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length];
  return out;
}

type RunMode = 'normal' | 'unschedulable' | 'imagePull' | 'stuck' | 'fails';

interface CaptureRun {
  readonly podKey: string;
  readonly jobKey: string;
  readonly nodeName: string | null;
  readonly container: string;
  readonly image: string;
  readonly captureSeconds: number;
  readonly maxLines: number;
  readonly censusMaxLines: number;
  readonly mode: RunMode;
  startedAt: Date | null;
  finishedAt: Date | null;
  state: 'pending' | 'running' | 'succeeded' | 'failed';
  readonly timers: Set<NodeJS.Timeout>;
  cachedLog?: string;
}

export interface ClusterOptions {
  readonly timeScale: number;
  readonly faults: FaultState;
}

export class Cluster {
  private rv = 1000;
  readonly nodes = new Map<string, KObject>();
  readonly namespaces = new Map<string, KObject>();
  readonly pods = new Map<string, KObject>();
  readonly jobs = new Map<string, KObject>();
  /** ReplicaSets, Deployments, DaemonSets, StatefulSets, CronJobs by `plural/namespace/name`. */
  readonly workloads = new Map<string, KObject>();
  readonly events: KObject[] = [];
  private readonly runs = new Map<string, CaptureRun>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    readonly world: World,
    private readonly options: ClusterOptions,
  ) {
    for (const node of world.nodes) this.put(this.nodes, node.name, nodeObject(node, world.scenario));
    const namespaces = new Set([
      'default',
      'kube-system',
      'kube-public',
      'kube-node-lease',
      ...world.pods.map((p) => p.namespace),
    ]);
    // System namespaces are as old as the cluster; the others as old as their oldest pod.
    const oldestNode = Math.min(...world.nodes.map((n) => n.createdAt.getTime()));
    for (const ns of namespaces) {
      const pods = world.pods.filter((p) => p.namespace === ns).map((p) => p.createdAt.getTime());
      const created = ns.startsWith('kube-') || ns === 'default' || pods.length === 0 ? oldestNode : Math.min(...pods);
      this.addNamespace(ns, new Date(created));
    }
    for (const pod of world.pods) {
      const node = world.node(pod.nodeName)!;
      this.put(this.pods, pod.key, podObject(pod, node));
      for (const c of pod.containers) {
        if (c.state === 'waiting' && (c.reason ?? 'CrashLoopBackOff') === 'CrashLoopBackOff') {
          this.event(
            this.pods.get(pod.key)!,
            'Warning',
            'BackOff',
            `Back-off restarting failed container ${c.name} in pod ${pod.name}_${pod.namespace}(${pod.uid})`,
            'kubelet',
            pod.nodeName,
          );
        }
      }
    }
    for (const w of workloadObjects(world)) {
      const ns = w.metadata.namespace ?? '';
      if (w.kind === 'Job') this.put(this.jobs, `${ns}/${w.metadata.name}`, w);
      else this.put(this.workloads, `${pluralOf(w.kind ?? '')}/${ns}/${w.metadata.name}`, w);
    }
  }

  nextResourceVersion(): string {
    this.rv += 1;
    return String(this.rv);
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  private put(map: Map<string, KObject>, key: string, o: KObject): KObject {
    o.metadata.resourceVersion = this.nextResourceVersion();
    map.set(key, o);
    return o;
  }

  private touch(o: KObject): void {
    o.metadata.resourceVersion = this.nextResourceVersion();
  }

  addNamespace(name: string, created = new Date()): KObject {
    return this.put(this.namespaces, name, {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: {
        name,
        uid: randomUUID(),
        creationTimestamp: rfc3339(created),
        labels: { 'kubernetes.io/metadata.name': name },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }

  createNamespace(body: Json): KObject {
    const name = str(obj(body.metadata).name);
    if (!DNS_SUBDOMAIN.test(name) || name.length > 63 || name.includes('.')) {
      throw invalid('Namespace', '', name, [
        {
          field: 'metadata.name',
          reason: 'FieldValueInvalid',
          message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`,
        },
      ]);
    }
    if (this.namespaces.has(name)) throw alreadyExists(RESOURCES.namespaces, name);
    const ns = this.addNamespace(name);
    const labels = obj(obj(body.metadata).labels);
    ns.metadata.labels = { ...(labels as Record<string, string>), 'kubernetes.io/metadata.name': name };
    return ns;
  }

  deleteNamespace(name: string): KObject {
    const ns = this.namespaces.get(name);
    if (!ns) throw notFound(RESOURCES.namespaces, name);
    for (const key of [...this.jobs.keys()]) if (key.startsWith(`${name}/`)) this.removeJob(key, 'Background');
    for (const key of [...this.pods.keys()]) if (key.startsWith(`${name}/`)) this.removePod(key);
    this.namespaces.delete(name);
    ns.status = { phase: 'Terminating' };
    ns.metadata.deletionTimestamp = rfc3339(new Date());
    return ns;
  }

  event(
    involved: KObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
    host?: string,
  ): void {
    const now = rfc3339(new Date());
    const namespace = involved.metadata.namespace ?? 'default';
    const e: KObject = {
      kind: 'Event',
      apiVersion: 'v1',
      metadata: {
        name: `${involved.metadata.name}.${randomBytes(8).toString('hex')}`,
        namespace,
        uid: randomUUID(),
        creationTimestamp: now,
        resourceVersion: this.nextResourceVersion(),
      },
      involvedObject: {
        kind: involved.kind,
        namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: involved.apiVersion,
        resourceVersion: involved.metadata.resourceVersion,
        ...(involved.kind === 'Pod' && component === 'kubelet'
          ? { fieldPath: `spec.containers{${str(arr(obj(involved.spec).containers)[0]?.name)}}` }
          : {}),
      },
      reason,
      message,
      source: { component, ...(host !== undefined ? { host } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: host ?? '',
    };
    this.events.push(e);
    if (this.events.length > 5000) this.events.splice(0, this.events.length - 5000);
  }

  // ----------------------------------------------------------------------------------------------------------
  // Jobs

  createJob(namespace: string, body: Json): KObject {
    const meta = obj(body.metadata);
    let name = str(meta.name);
    if (name === '' && str(meta.generateName) !== '') name = `${str(meta.generateName)}${randomSuffix()}`;
    if (name === '') {
      throw invalid('Job', 'batch', '', [
        {
          field: 'metadata.name',
          reason: 'FieldValueRequired',
          message: 'Required value: name or generateName is required',
        },
      ]);
    }
    if (!DNS_SUBDOMAIN.test(name) || name.length > 63) {
      throw invalid('Job', 'batch', name, [
        {
          field: 'metadata.name',
          reason: 'FieldValueInvalid',
          message: `Invalid value: "${name}": must be no more than 63 characters and a lowercase RFC 1123 subdomain`,
        },
      ]);
    }
    if (body.kind !== undefined && body.kind !== 'Job')
      throw badRequest(`the kind of the body is ${str(body.kind)}, expected Job`);
    if (!this.namespaces.has(namespace)) throw notFound(RESOURCES.namespaces, namespace);
    const key = `${namespace}/${name}`;
    if (this.jobs.has(key)) throw alreadyExists(RESOURCES.jobs, name);
    const spec = obj(body.spec);
    const template = obj(spec.template);
    const podSpec = obj(template.spec);
    const containers = arr(podSpec.containers);
    const causes: Array<{ field: string; message: string; reason: string }> = [];
    if (containers.length === 0)
      causes.push({ field: 'spec.template.spec.containers', reason: 'FieldValueRequired', message: 'Required value' });
    containers.forEach((c, i) => {
      if (str(c.image) === '')
        causes.push({
          field: `spec.template.spec.containers[${i}].image`,
          reason: 'FieldValueRequired',
          message: 'Required value',
        });
      if (str(c.name) === '')
        causes.push({
          field: `spec.template.spec.containers[${i}].name`,
          reason: 'FieldValueRequired',
          message: 'Required value',
        });
    });
    const restartPolicy = str(podSpec.restartPolicy);
    if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure') {
      causes.push({
        field: 'spec.template.spec.restartPolicy',
        reason: restartPolicy === '' ? 'FieldValueRequired' : 'FieldValueNotSupported',
        message:
          restartPolicy === ''
            ? 'Required value: valid values: "OnFailure", "Never"'
            : `Unsupported value: "${restartPolicy}": supported values: "OnFailure", "Never"`,
      });
    }
    if (causes.length > 0) throw invalid('Job', 'batch', name, causes);

    const uid = randomUUID();
    const now = new Date();
    const controllerLabels = {
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': name,
      'controller-uid': uid,
      'job-name': name,
    };
    const templateLabels = { ...(obj(obj(template.metadata).labels) as Record<string, string>), ...controllerLabels };
    const labels =
      Object.keys(obj(meta.labels)).length > 0 ? (obj(meta.labels) as Record<string, string>) : templateLabels;
    const job: KObject = {
      kind: 'Job',
      apiVersion: 'batch/v1',
      metadata: {
        name,
        namespace,
        uid,
        generation: 1,
        creationTimestamp: rfc3339(now),
        labels,
        ...(meta.annotations !== undefined ? { annotations: obj(meta.annotations) as Record<string, string> } : {}),
        ...(str(meta.generateName) !== '' ? { generateName: str(meta.generateName) } : {}),
      },
      spec: {
        parallelism: 1,
        completions: 1,
        backoffLimit: 6,
        completionMode: 'NonIndexed',
        suspend: false,
        podReplacementPolicy: 'TerminatingOrFailed',
        ...spec,
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
        template: { ...template, metadata: { ...obj(template.metadata), labels: templateLabels } },
      },
      status: { startTime: rfc3339(now), active: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {} },
    };
    this.put(this.jobs, key, job);
    this.startPod(job, namespace, templateLabels);
    return job;
  }

  private startPod(job: KObject, namespace: string, labels: Record<string, string>): void {
    const jobName = job.metadata.name;
    const jobKey = `${namespace}/${jobName}`;
    const template = obj(obj(job.spec).template);
    const podSpec = obj(template.spec);
    const name = `${jobName}-${randomSuffix()}`;
    const podKey = `${namespace}/${name}`;
    const target = this.targetNode(podSpec);
    const containers = arr(podSpec.containers);
    const first = containers[0]!;
    // The script reads only its CAPTURE_* integers, and checks them before anything else.
    const env = new Map(arr(first.env).map((e) => [str(e.name), str(e.value)]));
    const params = captureParameters(env);
    const faults = this.options.faults.current;
    const mode: RunMode = faults.jobUnschedulable
      ? 'unschedulable'
      : faults.jobImagePullFailure
        ? 'imagePull'
        : faults.jobPodFails || params === null
          ? 'fails'
          : faults.jobDeadlineExceeded
            ? 'stuck'
            : target === null
              ? 'unschedulable'
              : 'normal';
    const now = new Date();
    const pod: KObject = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        generateName: `${jobName}-`,
        namespace,
        uid: randomUUID(),
        creationTimestamp: rfc3339(now),
        labels,
        ownerReferences: [ownerRef('batch/v1', 'Job', jobName, job.metadata.uid)],
        finalizers: ['batch.kubernetes.io/job-tracking'],
      },
      spec: {
        dnsPolicy: 'ClusterFirst',
        enableServiceLinks: true,
        preemptionPolicy: 'PreemptLowerPriority',
        priority: 0,
        schedulerName: 'default-scheduler',
        securityContext: {},
        serviceAccountName: 'default',
        serviceAccount: 'default',
        terminationGracePeriodSeconds: 30,
        ...podSpec,
        ...(target !== null ? { nodeName: target } : {}),
        tolerations: [
          ...arr(podSpec.tolerations),
          { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 },
          { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 },
        ],
      },
      status: { phase: 'Pending', qosClass: 'Burstable' },
    };
    this.put(this.pods, podKey, pod);
    const run: CaptureRun = {
      podKey,
      jobKey,
      nodeName: target,
      container: str(first.name),
      image: str(first.image),
      captureSeconds: params?.captureSeconds ?? 0,
      maxLines: params?.maxLines ?? 0,
      censusMaxLines: params?.censusMaxLines ?? 0,
      mode,
      startedAt: null,
      finishedAt: null,
      state: 'pending',
      timers: new Set(),
    };
    this.runs.set(podKey, run);
    this.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, 'job-controller');

    if (mode === 'unschedulable') {
      const nodes = this.nodes.size;
      const message = `0/${nodes} nodes are available: ${nodes} Insufficient cpu. preemption: 0/${nodes} nodes are available: ${nodes} No preemption victims found for incoming pod.`;
      pod.status = {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            lastProbeTime: null,
            lastTransitionTime: rfc3339(now),
            reason: 'Unschedulable',
            message,
          },
        ],
        qosClass: 'Burstable',
      };
      this.event(pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
    } else {
      this.setPodWaiting(run, 'ContainerCreating', '');
      this.event(
        pod,
        'Normal',
        'Scheduled',
        `Successfully assigned ${namespace}/${name} to ${target}`,
        'default-scheduler',
      );
      if (mode === 'imagePull') {
        this.later(run, 0.5, () => this.imagePullFails(run));
      } else {
        this.later(run, START_SECONDS, () => this.containerStarts(run));
      }
    }
    const deadline = obj(job.spec).activeDeadlineSeconds;
    if (typeof deadline === 'number' && deadline > 0) this.later(run, deadline, () => this.deadlineExceeded(run));
  }

  /** nodeName, a kubernetes.io/hostname nodeSelector, a required node affinity on metadata.name/hostname, or any node. */
  private targetNode(podSpec: Json): string | null {
    const named = str(podSpec.nodeName);
    if (named !== '') return named;
    const bySelector = str(obj(podSpec.nodeSelector)['kubernetes.io/hostname']);
    if (bySelector !== '') return this.nodes.has(bySelector) ? bySelector : null;
    const terms = arr(
      obj(obj(obj(podSpec.affinity).nodeAffinity).requiredDuringSchedulingIgnoredDuringExecution).nodeSelectorTerms,
    );
    for (const term of terms) {
      for (const e of [...arr(term.matchFields), ...arr(term.matchExpressions)]) {
        if ((e.key === 'metadata.name' || e.key === 'kubernetes.io/hostname') && e.operator === 'In') {
          const wanted = (Array.isArray(e.values) ? (e.values as string[]) : []).find((v) => this.nodes.has(v));
          return wanted ?? null;
        }
      }
    }
    for (const [name, node] of this.nodes) {
      const ready = arr(obj(node.status).conditions).some((c) => c.type === 'Ready' && c.status === 'True');
      if (ready && obj(node.spec).unschedulable !== true) return name;
    }
    return null;
  }

  private later(run: CaptureRun, simSeconds: number, fn: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(
      () => {
        run.timers.delete(timer);
        this.timers.delete(timer);
        if (this.runs.get(run.podKey) === run) fn();
      },
      Math.max(0, simSeconds * 1000 * this.options.timeScale),
    );
    timer.unref();
    run.timers.add(timer);
    this.timers.add(timer);
  }

  private laterGlobal(simSeconds: number, fn: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        fn();
      },
      Math.max(0, simSeconds * 1000 * this.options.timeScale),
    );
    timer.unref();
    this.timers.add(timer);
  }

  private podOf(run: CaptureRun): KObject | undefined {
    return this.pods.get(run.podKey);
  }

  private jobOf(run: CaptureRun): KObject | undefined {
    const job = this.jobs.get(run.jobKey);
    const pod = this.podOf(run);
    return job && pod?.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid) ? job : undefined;
  }

  private setPodWaiting(run: CaptureRun, reason: string, message: string): void {
    const pod = this.podOf(run);
    if (!pod) return;
    const now = rfc3339(new Date());
    pod.status = {
      phase: 'Pending',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        {
          type: 'Ready',
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: now,
          reason: 'ContainersNotReady',
          message: `containers with unready status: [${run.container}]`,
        },
        {
          type: 'ContainersReady',
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: now,
          reason: 'ContainersNotReady',
          message: `containers with unready status: [${run.container}]`,
        },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now },
      ],
      ...this.hostIps(run),
      startTime: obj(pod.status).startTime ?? now,
      containerStatuses: [
        {
          name: run.container,
          image: run.image,
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          state: { waiting: { reason, ...(message ? { message } : {}) } },
          lastState: {},
        },
      ],
      qosClass: 'Burstable',
    };
    this.touch(pod);
  }

  private hostIps(run: CaptureRun): Json {
    const ip = run.nodeName !== null ? this.world.node(run.nodeName)?.ip : undefined;
    // The capture pod is hostNetwork: its IP is the node's.
    return ip !== undefined ? { hostIP: ip, hostIPs: [{ ip }], podIP: ip, podIPs: [{ ip }] } : {};
  }

  private imagePullFails(run: CaptureRun): void {
    const pod = this.podOf(run);
    if (!pod) return;
    const message = `rpc error: code = NotFound desc = failed to pull and unpack image "${run.image}": failed to resolve reference "${run.image}": ${run.image}: not found`;
    this.event(pod, 'Normal', 'Pulling', `Pulling image "${run.image}"`, 'kubelet', run.nodeName ?? undefined);
    this.event(
      pod,
      'Warning',
      'Failed',
      `Failed to pull image "${run.image}": ${message}`,
      'kubelet',
      run.nodeName ?? undefined,
    );
    this.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull', 'kubelet', run.nodeName ?? undefined);
    this.setPodWaiting(run, 'ErrImagePull', message);
    this.later(run, 1, () => {
      this.setPodWaiting(run, 'ImagePullBackOff', `Back-off pulling image "${run.image}"`);
      const p = this.podOf(run);
      if (!p) return;
      this.event(p, 'Normal', 'BackOff', `Back-off pulling image "${run.image}"`, 'kubelet', run.nodeName ?? undefined);
      this.event(p, 'Warning', 'Failed', 'Error: ImagePullBackOff', 'kubelet', run.nodeName ?? undefined);
    });
  }

  private containerStarts(run: CaptureRun): void {
    const pod = this.podOf(run);
    if (!pod) return;
    const now = new Date();
    run.startedAt = now;
    run.state = 'running';
    const at = rfc3339(now);
    pod.status = {
      phase: 'Running',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: at },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: at },
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: at },
        { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: at },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: at },
      ],
      ...this.hostIps(run),
      startTime: obj(pod.status).startTime ?? at,
      containerStatuses: [
        {
          name: run.container,
          image: run.image,
          imageID: `${run.image.replace(/:[^/:]+$/, '')}@sha256:${hash32(run.image).toString(16).padStart(8, '0').repeat(8)}`,
          containerID: `containerd://${randomBytes(32).toString('hex')}`,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: at } },
          lastState: {},
        },
      ],
      qosClass: 'Burstable',
    };
    this.touch(pod);
    const host = run.nodeName ?? undefined;
    this.event(pod, 'Normal', 'Pulled', `Container image "${run.image}" already present on machine`, 'kubelet', host);
    this.event(pod, 'Normal', 'Created', `Created container: ${run.container}`, 'kubelet', host);
    this.event(pod, 'Normal', 'Started', `Started container ${run.container}`, 'kubelet', host);
    const job = this.jobOf(run);
    if (job) {
      job.status = { ...obj(job.status), active: 1, ready: 1 };
      this.touch(job);
    }
    // Bad parameters: the script prints two lines and exits 2 at once.
    if (run.mode === 'fails') this.later(run, 0.2, () => this.containerEnds(run, 2));
    else if (run.mode === 'normal')
      this.later(run, run.captureSeconds + CENSUS_SECONDS, () => this.containerEnds(run, 0));
    // 'stuck': tcptracer ignores SIGINT; only the deadline ends it.
  }

  private containerEnds(run: CaptureRun, exitCode: number): void {
    const pod = this.podOf(run);
    if (!pod) return;
    const now = new Date();
    run.finishedAt = now;
    run.state = exitCode === 0 ? 'succeeded' : 'failed';
    const status = obj(pod.status);
    const statuses = arr(status.containerStatuses);
    const startedAt = str(obj(obj(statuses[0]?.state).running).startedAt) || rfc3339(now);
    const at = rfc3339(now);
    pod.status = {
      ...status,
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'False', lastProbeTime: null, lastTransitionTime: at },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: at, reason: 'PodCompleted' },
        { type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: at, reason: 'PodCompleted' },
        {
          type: 'ContainersReady',
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: at,
          reason: 'PodCompleted',
        },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: at },
      ],
      containerStatuses: statuses.map((c) => ({
        ...c,
        ready: false,
        started: false,
        state: {
          terminated: {
            exitCode,
            reason: exitCode === 0 ? 'Completed' : 'Error',
            startedAt,
            finishedAt: at,
            containerID: str(c.containerID),
          },
        },
      })),
    };
    pod.metadata.finalizers = [];
    this.touch(pod);
    const job = this.jobOf(run);
    if (!job) return;
    const jobStatus = obj(job.status);
    if (exitCode === 0) {
      job.status = {
        ...jobStatus,
        active: 0,
        ready: 0,
        succeeded: 1,
        completionTime: at,
        conditions: [
          { type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: at, lastTransitionTime: at },
          { type: 'Complete', status: 'True', lastProbeTime: at, lastTransitionTime: at },
        ],
      };
      this.event(job, 'Normal', 'Completed', 'Job completed', 'job-controller');
    } else {
      this.failJob(job, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', { failed: 1 });
    }
    this.touch(job);
    this.finished(job);
  }

  private failJob(job: KObject, reason: string, message: string, extra: Json): void {
    const at = rfc3339(new Date());
    job.status = {
      ...obj(job.status),
      active: 0,
      ready: 0,
      ...extra,
      conditions: [
        { type: 'FailureTarget', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason, message },
        { type: 'Failed', status: 'True', lastProbeTime: at, lastTransitionTime: at, reason, message },
      ],
    };
    this.event(job, 'Warning', reason, message, 'job-controller');
  }

  private deadlineExceeded(run: CaptureRun): void {
    const job = this.jobOf(run);
    if (!job || run.state === 'succeeded' || run.state === 'failed') return;
    run.state = 'failed';
    run.finishedAt = new Date();
    this.failJob(job, 'DeadlineExceeded', 'Job was active longer than specified deadline', { failed: 1 });
    this.touch(job);
    // The Job controller deletes the active pod; it terminates, then disappears (its log with it).
    const pod = this.podOf(run);
    if (pod) {
      pod.metadata.deletionTimestamp = rfc3339(new Date());
      pod.metadata.deletionGracePeriodSeconds = 30;
      this.touch(pod);
      this.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`, 'job-controller');
      this.later(run, 1, () => this.removePod(run.podKey));
    }
    this.finished(job);
  }

  /** ttlSecondsAfterFinished: the TTL controller deletes the finished Job with background propagation. */
  private finished(job: KObject): void {
    const ttl = obj(job.spec).ttlSecondsAfterFinished;
    if (typeof ttl !== 'number' || ttl < 0) return;
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const uid = job.metadata.uid;
    this.laterGlobal(ttl, () => {
      if (this.jobs.get(key)?.metadata.uid === uid) this.removeJob(key, 'Background');
    });
  }

  /** Deletes a Job. Orphan (the API's default for batch/v1 Jobs) leaves its pods, Background/Foreground delete them. */
  deleteJob(namespace: string, name: string, propagation: string | undefined): { status: number; body: Json } {
    const key = `${namespace}/${name}`;
    const job = this.jobs.get(key);
    if (!job) throw notFound(RESOURCES.jobs, name);
    const policy = propagation ?? 'Orphan';
    if (!['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw badRequest(
        `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
      );
    }
    if (policy === 'Background') {
      this.removeJob(key, 'Background');
      return {
        status: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: 'batch', kind: 'jobs', uid: job.metadata.uid },
        },
      };
    }
    job.metadata.deletionTimestamp = rfc3339(new Date());
    job.metadata.deletionGracePeriodSeconds = 0;
    job.metadata.finalizers = [policy === 'Orphan' ? 'orphan' : 'foregroundDeletion'];
    this.touch(job);
    const snapshot = structuredClone(job);
    // The garbage collector finishes the deletion right away: dependents orphaned, or deleted first.
    this.removeJob(key, policy);
    return { status: 200, body: snapshot };
  }

  removeJob(key: string, policy: string): void {
    const job = this.jobs.get(key);
    if (!job) return;
    this.jobs.delete(key);
    for (const [podKey, pod] of [...this.pods]) {
      const owned = pod.metadata.ownerReferences?.some((o: OwnerReference) => o.uid === job.metadata.uid);
      if (!owned) continue;
      if (policy === 'Orphan') {
        pod.metadata.ownerReferences = pod.metadata.ownerReferences!.filter((o) => o.uid !== job.metadata.uid);
        this.touch(pod);
      } else {
        this.removePod(podKey);
      }
    }
  }

  deletePod(namespace: string, name: string): KObject {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) throw notFound(RESOURCES.pods, name);
    this.removePod(key);
    return pod;
  }

  private removePod(key: string): void {
    this.pods.delete(key);
    const run = this.runs.get(key);
    if (run) {
      for (const t of run.timers) {
        clearTimeout(t);
        this.timers.delete(t);
      }
      this.runs.delete(key);
    }
  }

  // ----------------------------------------------------------------------------------------------------------
  // Logs

  /** GET .../pods/{name}/log: the container's log, with the API server's errors for containers that never ran. */
  podLog(namespace: string, name: string, query: URLSearchParams): string {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw notFound(RESOURCES.pods, name);
    const containers = arr(obj(pod.spec).containers).map((c) => str(c.name));
    let container = query.get('container') ?? '';
    if (container === '') {
      if (containers.length !== 1) {
        throw badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`,
        );
      }
      container = containers[0]!;
    } else if (!containers.includes(container)) {
      throw badRequest(`container ${container} is not valid for pod ${name}`);
    }
    const status = arr(obj(pod.status).containerStatuses).find((c) => c.name === container);
    const state = obj(status?.state);
    const lastTerminated = obj(obj(status?.lastState).terminated);
    if (query.get('previous') === 'true' && Object.keys(lastTerminated).length === 0) {
      throw badRequest(`previous terminated container "${container}" in pod "${name}" not found`);
    }
    if (state.waiting !== undefined && Object.keys(lastTerminated).length === 0) {
      const reason = str(obj(state.waiting).reason);
      const why =
        reason === 'ErrImagePull'
          ? "image can't be pulled"
          : reason === 'ImagePullBackOff'
            ? 'trying and failing to pull image'
            : reason;
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ${why}`);
    }
    if (status === undefined && str(obj(pod.spec).nodeName) !== '') {
      throw badRequest(`container "${container}" in pod "${name}" is waiting to start: ContainerCreating`);
    }
    const run = this.runs.get(`${namespace}/${name}`);
    let text: string;
    if (run) {
      text = this.captureLog(run);
    } else {
      const spec = this.world.pod(namespace, name)?.containers.find((c) => c.name === container);
      text = (spec?.logs ?? []).map((l) => `${l}\n`).join('');
    }
    return boundLog(
      text,
      query,
      status ? str(obj(state.running).startedAt) || str(obj(state.terminated).startedAt) : '',
    );
  }

  private captureLog(run: CaptureRun): string {
    if (run.nodeName === null || run.startedAt === null) return '';
    const node = run.nodeName;
    const base = {
      captureSeconds: run.captureSeconds,
      maxLines: run.maxLines,
      censusMaxLines: run.censusMaxLines,
      startedAt: run.startedAt,
      world: this.world,
    };
    if (!this.world.node(node)) return '';
    const cut = this.options.faults.current.logCutShort;
    if (run.mode === 'fails') return renderBadParametersLog(run.startedAt);
    if (run.state !== 'succeeded') {
      // Still running, or stopped before the end (deadline): what the script had written by then.
      const elapsed =
        ((run.finishedAt ?? new Date()).getTime() - run.startedAt.getTime()) / 1000 / this.options.timeScale;
      const text = renderCaptureLog(this.world.scenario, node, {
        ...base,
        untilSecond: Math.min(elapsed, run.captureSeconds - 1e-9),
      });
      return cut ? cutMidLine(text) : text;
    }
    run.cachedLog ??= renderCaptureLog(this.world.scenario, node, base);
    return cut ? cutMidLine(run.cachedLog) : run.cachedLog;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** tailLines, then limitBytes, then timestamps, as the kubelet applies them. */
function boundLog(text: string, query: URLSearchParams, startedAt: string): string {
  let out = text;
  const tail = query.get('tailLines');
  if (tail !== null) {
    const n = Number(tail);
    if (!Number.isInteger(n) || n < 0)
      throw badRequest(`tailLines: Invalid value: ${tail}: must be greater than or equal to 0`);
    const lines = out.split('\n');
    const terminated = out.endsWith('\n');
    if (terminated) lines.pop();
    out = lines.slice(Math.max(0, lines.length - n)).join('\n') + (terminated && n > 0 && lines.length > 0 ? '\n' : '');
  }
  if (query.get('timestamps') === 'true') {
    const stamp = startedAt !== '' ? startedAt.replace(/Z$/, '.000000000Z') : new Date().toISOString();
    out = out
      .split('\n')
      .map((l, i, all) => (i === all.length - 1 && l === '' ? l : `${stamp} ${l}`))
      .join('\n');
  }
  const limit = query.get('limitBytes');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1) throw badRequest(`limitBytes: Invalid value: ${limit}: must be greater than 0`);
    const bytes = Buffer.from(out, 'utf8');
    if (bytes.length > n) out = bytes.subarray(0, n).toString('utf8');
  }
  return out;
}

export function pluralOf(kind: string): string {
  switch (kind) {
    case 'ReplicaSet':
      return 'replicasets';
    case 'Deployment':
      return 'deployments';
    case 'DaemonSet':
      return 'daemonsets';
    case 'StatefulSet':
      return 'statefulsets';
    case 'CronJob':
      return 'cronjobs';
    default:
      return `${kind.toLowerCase()}s`;
  }
}

export { ApiError };
export type { Resource };
