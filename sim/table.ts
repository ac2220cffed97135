/**
 * Server-side printing: `meta.k8s.io/v1 Table` responses for clients that ask for them (kubectl sends
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`).
 * Columns and cells follow the API server's printers (pkg/printers/internalversion/printers.go): priority 1 columns
 * are the ones `-o wide` adds; kubectl adds NAMESPACE itself from each row's object metadata.
 */
import type { KObject } from './objects.js';

interface Column {
  readonly name: string;
  readonly type: string;
  readonly format?: string;
  readonly description: string;
  readonly priority: number;
}

const col = (name: string, description: string, priority = 0, type = 'string', format = ''): Column => ({
  name,
  type,
  format,
  description,
  priority,
});

const NAME = col('Name', 'Name must be unique within a namespace.', 0, 'string', 'name');
const AGE = col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created.');

const NODE_COLUMNS = [
  NAME,
  col('Status', 'The status of the node'),
  col('Roles', 'The roles of the node'),
  AGE,
  col('Version', 'Kubelet Version reported by the node.'),
  col('Internal-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
  col('External-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
  col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
  col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
  col(
    'Container-Runtime',
    'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
    1,
  ),
];
const POD_COLUMNS = [
  NAME,
  col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'The aggregate status of the containers in this pod.'),
  col(
    'Restarts',
    'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
  ),
  AGE,
  col('IP', 'podIP is the IP address allocated to the pod.', 1),
  col('Node', 'NodeName indicates in which node this pod is scheduled.', 1),
  col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
  col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
];
const JOB_COLUMNS = [
  NAME,
  col('Status', 'Status of the job.'),
  col('Completions', 'The completion status of the job as a fraction of the desired number of completions.'),
  col('Duration', 'Time required to complete the job.'),
  AGE,
  col('Containers', 'Names of each container in the template.', 1),
  col('Images', 'Images referenced by each container in the template.', 1),
  col('Selector', 'A label query over pods that should match the pod count.', 1),
];
const NAMESPACE_COLUMNS = [NAME, col('Status', 'The status of the namespace'), AGE];
const EVENT_COLUMNS = [
  col('Last Seen', 'Time when last event occurred'),
  col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
  col(
    'Reason',
    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
  ),
  col('Object', 'The object that this event is about.'),
  col('Subobject', 'The subobject (fieldPath) this event is about.', 1),
  col('Source', 'The component reporting this event. Should be a short machine understandable string.', 1),
  col('Message', 'A human-readable description of the status of this operation.'),
  col('First Seen', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
  col('Count', 'The number of times this event has occurred.', 1, 'integer'),
  col('Name', NAME.description, 1, 'string', 'name'),
];
const GENERIC_COLUMNS = [NAME, col('Created At', AGE.description, 0, 'date')];

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(ms / 3_600_000);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

const since = (timestamp: unknown, now: number): string =>
  typeof timestamp === 'string' ? humanDuration(now - Date.parse(timestamp)) : '<unknown>';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

function nodeCells(o: KObject, now: number): unknown[] {
  const status = obj(o.status);
  const spec = obj(o.spec);
  const ready = arr(status.conditions).find((c) => c.type === 'Ready');
  let state = ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  if (spec.unschedulable === true) state += ',SchedulingDisabled';
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v !== '') roles.add(v);
  }
  const address = (type: string) => str(arr(status.addresses).find((a) => a.type === type)?.address) || '<none>';
  const info = obj(status.nodeInfo);
  return [
    o.metadata.name,
    state,
    roles.size > 0 ? [...roles].sort().join(',') : '<none>',
    since(o.metadata.creationTimestamp, now),
    str(info.kubeletVersion),
    address('InternalIP'),
    address('ExternalIP'),
    str(info.osImage) || '<unknown>',
    str(info.kernelVersion) || '<unknown>',
    str(info.containerRuntimeVersion) || '<unknown>',
  ];
}

function podCells(o: KObject, now: number): unknown[] {
  const status = obj(o.status);
  const spec = obj(o.spec);
  let reason = str(status.reason) || str(status.phase);
  const containers = arr(spec.containers);
  const statuses = arr(status.containerStatuses);
  let restarts = 0;
  let ready = 0;
  let lastRestart = 0;
  let hasRunning = false;
  for (let i = statuses.length - 1; i >= 0; i--) {
    const c = statuses[i]!;
    restarts += num(c.restartCount);
    const lastTerminated = obj(obj(c.lastState).terminated);
    const finished = Date.parse(str(lastTerminated.finishedAt));
    if (!Number.isNaN(finished) && finished > lastRestart) lastRestart = finished;
    const state = obj(c.state);
    const waiting = state.waiting === undefined ? undefined : obj(state.waiting);
    const terminated = state.terminated === undefined ? undefined : obj(state.terminated);
    if (waiting && str(waiting.reason) !== '') reason = str(waiting.reason);
    else if (terminated && str(terminated.reason) !== '') reason = str(terminated.reason);
    else if (terminated)
      reason =
        num(terminated.signal) !== 0 ? `Signal:${num(terminated.signal)}` : `ExitCode:${num(terminated.exitCode)}`;
    else if (c.ready === true && state.running !== undefined) {
      hasRunning = true;
      ready++;
    }
  }
  if (reason === 'Completed' && hasRunning) {
    reason = arr(status.conditions).some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
  }
  if (o.metadata.deletionTimestamp !== undefined) reason = 'Terminating';
  const restartText =
    lastRestart > 0 && restarts > 0 ? `${restarts} (${humanDuration(now - lastRestart)} ago)` : String(restarts);
  const gates = arr(spec.readinessGates);
  return [
    o.metadata.name,
    `${ready}/${containers.length}`,
    reason,
    restartText,
    since(o.metadata.creationTimestamp, now),
    str(status.podIP) || '<none>',
    str(spec.nodeName) || '<none>',
    str(status.nominatedNodeName) || '<none>',
    gates.length > 0 ? `0/${gates.length}` : '<none>',
  ];
}

/** metav1.FormatLabelSelector for matchLabels (+ simple matchExpressions). */
export function formatLabelSelector(selector: unknown): string {
  const s = obj(selector);
  const parts = Object.entries(obj(s.matchLabels))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${str(v)}`);
  for (const e of arr(s.matchExpressions)) {
    const values = (Array.isArray(e.values) ? (e.values as string[]) : []).join(',');
    const op = str(e.operator);
    if (op === 'In') parts.push(`${str(e.key)} in (${values})`);
    else if (op === 'NotIn') parts.push(`${str(e.key)} notin (${values})`);
    else if (op === 'Exists') parts.push(str(e.key));
    else if (op === 'DoesNotExist') parts.push(`!${str(e.key)}`);
  }
  return parts.length > 0 ? parts.join(',') : '<none>';
}

export function jobStatusText(o: KObject): string {
  const conditions = arr(obj(o.status).conditions).filter((c) => c.status === 'True');
  const has = (type: string) => conditions.some((c) => c.type === type);
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (o.metadata.deletionTimestamp !== undefined) return 'Terminating';
  if (has('Suspended')) return 'Suspended';
  if (has('FailureTarget')) return 'FailureTarget';
  if (has('SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

function jobCells(o: KObject, now: number): unknown[] {
  const spec = obj(o.spec);
  const status = obj(o.status);
  const succeeded = num(status.succeeded);
  let completions: string;
  if (typeof spec.completions === 'number') completions = `${succeeded}/${spec.completions}`;
  else if (typeof spec.parallelism === 'number' && spec.parallelism > 1)
    completions = `${succeeded}/1 of ${spec.parallelism}`;
  else completions = `${succeeded}/1`;
  const start = Date.parse(str(status.startTime));
  const end = Date.parse(str(status.completionTime));
  const duration = Number.isNaN(start) ? '' : humanDuration((Number.isNaN(end) ? now : end) - start);
  const containers = arr(obj(obj(spec.template).spec).containers);
  return [
    o.metadata.name,
    jobStatusText(o),
    completions,
    duration,
    since(o.metadata.creationTimestamp, now),
    containers.map((c) => str(c.name)).join(','),
    containers.map((c) => str(c.image)).join(','),
    formatLabelSelector(spec.selector),
  ];
}

function eventCells(o: KObject, now: number): unknown[] {
  const involved = obj(o.involvedObject);
  const source = obj(o.source);
  return [
    since(o.lastTimestamp, now),
    str(o.type),
    str(o.reason),
    `${str(involved.kind).toLowerCase()}/${str(involved.name)}`,
    str(involved.fieldPath),
    [str(source.component), str(source.host)].filter((x) => x !== '').join(', '),
    str(o.message).trim(),
    since(o.firstTimestamp, now),
    num(o.count),
    o.metadata.name,
  ];
}

export type TableKind = 'nodes' | 'pods' | 'jobs' | 'namespaces' | 'events' | 'other';

/** Whether an Accept header asks for a Table (`as=Table;...;g=meta.k8s.io`). */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io');
  });
}

export function toTable(kind: TableKind, objects: readonly KObject[], resourceVersion: string, now = Date.now()): Json {
  const columns =
    kind === 'nodes'
      ? NODE_COLUMNS
      : kind === 'pods'
        ? POD_COLUMNS
        : kind === 'jobs'
          ? JOB_COLUMNS
          : kind === 'namespaces'
            ? NAMESPACE_COLUMNS
            : kind === 'events'
              ? EVENT_COLUMNS
              : GENERIC_COLUMNS;
  const cells = (o: KObject): unknown[] => {
    switch (kind) {
      case 'nodes':
        return nodeCells(o, now);
      case 'pods':
        return podCells(o, now);
      case 'jobs':
        return jobCells(o, now);
      case 'namespaces':
        return [o.metadata.name, str(obj(o.status).phase) || 'Active', since(o.metadata.creationTimestamp, now)];
      case 'events':
        return eventCells(o, now);
      case 'other':
        return [o.metadata.name, o.metadata.creationTimestamp];
    }
  };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns,
    rows: objects.map((o) => ({
      cells: cells(o),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
