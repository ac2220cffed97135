/**
 * Scenarios of the simulated cluster: a zod schema (documented in sim/README.md), and a loader that takes a built-in
 * name (`sim/scenarios/<name>.json`) or a file path. A bad scenario is a BAD_INPUT error naming the file and the JSON
 * field, so `snat-responder sim --scenario x.json` can say exactly what to fix.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { badInput } from '../lib/errors.js';
import { parseAddress } from '../lib/analysis/ip.js';
import { fieldPath, parseJsonText } from '../lib/parse/json.js';
import { TCP_STATES } from '../lib/parse/types.js';
import type { TcpState } from '../lib/parse/types.js';

import { parseEndpoint } from './net.js';
import { SCENARIO_DIR } from './paths.js';
import { buildWorld } from './world.js';

export { SCENARIO_DIR, parseEndpoint };

export type SimTcpState = TcpState;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const ipv4 = z.string().refine((s) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && parseAddress(s) !== null, {
  message: 'expected an IPv4 address (a.b.c.d)',
});
const ipAny = z.string().refine((s) => parseAddress(s) !== null && !s.includes('[') && !s.includes('%'), {
  message: 'expected an IP address without brackets (10.244.0.7 or fd00::7)',
});
/** `a.b.c.d:port` or `[v6]:port`. */
const endpoint = z.string().refine((s) => parseEndpoint(s) !== null, {
  message: 'expected "a.b.c.d:port" or "[ipv6]:port" with a port 0-65535',
});
/** An address, or an address with a port (`local`). */
const addressOrEndpoint = z.string().refine((s) => parseEndpoint(s) !== null || parseAddress(s) !== null, {
  message: 'expected an address ("10.244.0.7") or an endpoint ("10.244.0.7:8080", "[fd00::7]:8080")',
});
const port = z.number().int().min(1).max(65535);
const name = z.string().max(253).regex(DNS_SUBDOMAIN, 'expected a lower-case DNS name (a-z, 0-9, "-", ".")');
const namespace = z.string().max(63).regex(DNS_LABEL, 'expected a lower-case DNS label (a-z, 0-9, "-")');
const labels = z.record(z.string(), z.string());
const secondsAgo = z.number().int().min(0);

const processSchema = z.strictObject({
  /** PID inside the container's PID namespace (what netstat -p / ss -p show in the pod). */
  pid: z.number().int().min(1),
  /** /proc/PID/comm (ss -p shows it; 15 characters at most, may hold spaces). */
  comm: z.string().min(1).max(15),
  /** argv[0] (netstat -p shows its basename when it starts with "/"); default: comm. */
  argv0: z.string().min(1).optional(),
  /** PID on the node (tcptracer prints it); default: the pod's hostPid + pid. */
  hostPid: z.number().int().min(1).optional(),
  /** Container the process runs in (each has its own PID namespace); default the pod's first container. */
  container: z.string().optional(),
});

const socketSchema = z
  .strictObject({
    /** Remote endpoint. With `spread`, the first of several remote addresses. Not used for LISTEN. */
    remote: endpoint.optional(),
    /** A listening endpoint (`0.0.0.0:8080`, `[::]:8080`): shorthand for state LISTEN. */
    listen: endpoint.optional(),
    /** Local address (the pod's IP by default); with a port, the local port is fixed and remote ports vary. */
    local: addressOrEndpoint.optional(),
    state: z.enum(TCP_STATES).default('ESTABLISHED'),
    count: z.number().int().min(1).max(65535).default(1),
    /** First local port when local ports vary (default: a per-netns ephemeral allocator from 32768). */
    localPortStart: port.optional(),
    /** Number of consecutive remote addresses the connections are spread over (round robin). */
    spread: z.number().int().min(1).max(65535).default(1),
    /** `ipv6`: the socket sits in /proc/net/tcp6 (IPv4 endpoints become ::ffff:a.b.c.d, as dual-stack Java does). */
    family: z.enum(['ipv4', 'ipv6']).default('ipv4'),
    /** Owning process (pid in the pod); default the pod's first process. TIME_WAIT sockets have no owner. */
    pid: z.number().int().min(1).optional(),
    /** LISTEN backlog (ss Send-Q for LISTEN rows). */
    backlog: z.number().int().min(0).default(4096),
  })
  .superRefine((s, ctx) => {
    if (s.listen === undefined && s.remote === undefined && s.state !== 'LISTEN') {
      ctx.addIssue({ code: 'custom', message: 'a socket needs "remote" (or "listen" for a listening socket)' });
    }
    if (s.listen !== undefined && s.remote !== undefined) {
      ctx.addIssue({ code: 'custom', message: '"listen" and "remote" exclude each other', path: ['remote'] });
    }
    if (s.listen !== undefined && s.count !== 1) {
      ctx.addIssue({ code: 'custom', message: 'a listening socket has count 1', path: ['count'] });
    }
  });

const tracerStreamSchema = z
  .strictObject({
    type: z.enum(['connect', 'accept']),
    /** connect: the destination (`20.60.1.9:443`); with `spread`, the first of several addresses. */
    to: endpoint.optional(),
    /** accept: the local listening port. */
    port: port.optional(),
    /** accept: the first client address (`52.168.0.10`); clients use ephemeral ports. */
    from: ipAny.optional(),
    perSecond: z.number().positive().max(100_000),
    /** Thread name as tcptracer prints it (bpf_get_current_comm: 15 characters, may hold spaces). */
    comm: z.string().min(1).max(15),
    /** Process in the pod (pid in the pod); default the pod's first process. */
    pid: z.number().int().min(1).optional(),
    spread: z.number().int().min(1).max(65535).default(1),
    /** `ipv6`: a dual-stack socket; bcc prints `[::ffff:a.b.c.d]` with IP 6. */
    family: z.enum(['ipv4', 'ipv6']).default('ipv4'),
    /** Emit a close event this many seconds after each connect/accept (when inside the capture window). */
    closeAfterSeconds: z.number().min(0).optional(),
    startSecond: z.number().min(0).default(0),
    /** Last second of the stream (default: the end of the capture). */
    endSecond: z.number().min(0).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.type === 'connect' && s.to === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a connect stream needs "to"', path: ['to'] });
    }
    if (s.type === 'accept' && (s.port === undefined || s.from === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'an accept stream needs "port" and "from"', path: ['port'] });
    }
  });

const containerSchema = z.strictObject({
  name: z.string().regex(DNS_LABEL, 'expected a lower-case DNS label').max(63),
  image: z.string().min(1),
  /** Tools in the image: any of netstat (net-tools), ss, cat; [] or "none" for distroless. */
  tools: z.union([z.array(z.enum(['netstat', 'ss', 'cat'])), z.literal('none')]).default(['cat']),
  state: z.enum(['running', 'waiting', 'terminated']).default('running'),
  /** waiting: CrashLoopBackOff, ContainerCreating...; terminated: Completed, Error, OOMKilled. */
  reason: z.string().optional(),
  exitCode: z.number().int().optional(),
  restartCount: z.number().int().min(0).default(0),
  ready: z.boolean().optional(),
  /** What `kubectl logs` returns for this container. */
  logs: z.array(z.string()).default([]),
});

const ownerSchema = z.strictObject({
  kind: z.enum(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']),
  name: name,
  /** Deployment: the ReplicaSet between it and the pod (default: the pod name without its last "-xxxxx"). */
  replicaSet: name.optional(),
  /** CronJob: the Job between it and the pod (default: the pod name without its last "-xxxxx"). */
  job: name.optional(),
});

const podSchema = z.strictObject({
  namespace: namespace,
  name: name,
  uid: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'expected a lower-case UUID')
    .optional(),
  nodeName: name,
  podIP: ipAny.optional(),
  podIPs: z.array(ipAny).optional(),
  hostNetwork: z.boolean().default(false),
  owner: ownerSchema.nullable().default(null),
  labels: labels.default({}),
  phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed']).default('Running'),
  containers: z.array(containerSchema).min(1),
  /** RBAC denies pods/exec on this pod (403 before the upgrade). */
  execForbidden: z.boolean().default(false),
  /** Network namespace inode (default: allocated per node from 4026532200). */
  netns: z.number().int().min(1).optional(),
  /** Host PID of the pod's sandbox (pause); processes default to hostPid + pid. */
  hostPid: z.number().int().min(2).optional(),
  processes: z.array(processSchema).optional(),
  sockets: z.array(socketSchema).default([]),
  tcptracer: z.array(tracerStreamSchema).default([]),
  createdSecondsAgo: secondsAgo.default(86_400),
  /** Expand into this many pods named `<name>-<suffix>` with consecutive IPs, netns and host PIDs. */
  replicas: z.number().int().min(1).max(1000).optional(),
});

const taintSchema = z.strictObject({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

const nodeSchema = z.strictObject({
  name: name,
  internalIP: ipv4,
  externalIP: ipv4.optional(),
  nodepool: z.string().min(1).default('nodepool1'),
  labels: labels.default({}),
  taints: z.array(taintSchema).default([]),
  kubeletVersion: z.string().min(1).default('v1.32.7'),
  osImage: z.string().min(1).default('Ubuntu 22.04.5 LTS'),
  kernelVersion: z.string().min(1).default('5.15.0-1089-azure'),
  containerRuntimeVersion: z.string().min(1).default('containerd://1.7.27-1'),
  vmSize: z.string().min(1).default('Standard_D4s_v5'),
  podCIDR: z.string().optional(),
  ready: z.boolean().default(true),
  unschedulable: z.boolean().default(false),
  createdSecondsAgo: secondsAgo.default(1_209_600),
  /** The tcptracer the capture Job finds on the node: bcc `tcptracer -tv`, libbpf-tools `tcptracer -t`, or none. */
  tracer: z.enum(['bcc', 'libbpf', 'none']).default('bcc'),
  /** Inode of the node's own network namespace. */
  hostNetns: z.number().int().min(1).default(4026531840),
  /** Sockets of node processes (kubelet, containerd...) in the host namespace; local defaults to the node IP. */
  hostSockets: z.array(socketSchema).default([]),
  hostProcesses: z.array(processSchema).default([{ pid: 1234, comm: 'kubelet', argv0: '/usr/local/bin/kubelet' }]),
  hostTcptracer: z.array(tracerStreamSchema).default([]),
  snat: z
    .strictObject({ allocatedPorts: z.number().int().min(0), usedPorts: z.number().int().min(0).optional() })
    .optional(),
});

const faultsSchema = z.strictObject({
  latencyMs: z.number().int().min(0).optional(),
  rateLimit: z.number().int().min(0).optional(),
  serverErrors: z.number().int().min(0).optional(),
  execLatencyMs: z.number().int().min(0).optional(),
  execDropMidStream: z.boolean().optional(),
  execForbidden: z.boolean().optional(),
  jobUnschedulable: z.boolean().optional(),
  jobImagePullFailure: z.boolean().optional(),
  jobDeadlineExceeded: z.boolean().optional(),
  jobPodFails: z.boolean().optional(),
  logCutShort: z.boolean().optional(),
});

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().default(''),
  cluster: z
    .strictObject({
      name: z.string().min(1).default('aks-sim'),
      /** gitVersion of /version. kubectl's dispatcher on these machines picks its client by the minor version. */
      kubernetesVersion: z
        .string()
        .regex(/^v\d+\.\d+\.\d+/, 'expected a version like v1.32.7')
        .default('v1.32.7'),
      subscriptionId: z.string().default('00000000-0000-0000-0000-000000000000'),
      resourceGroup: z.string().default('rg-sim'),
      nodeResourceGroup: z.string().optional(),
      location: z.string().default('westeurope'),
    })
    .default({
      name: 'aks-sim',
      kubernetesVersion: 'v1.32.7',
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      resourceGroup: 'rg-sim',
      location: 'westeurope',
    }),
  nodes: z.array(nodeSchema).min(1),
  pods: z.array(podSchema).default([]),
  expected: z.strictObject({ node: name, nodeIp: ipv4, culprit: z.string().regex(/^[^/]+\/[^/]+$/) }),
  faults: faultsSchema.default({}),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioNode = Scenario['nodes'][number];
export type ScenarioPod = Scenario['pods'][number];
export type ScenarioSocket = ScenarioPod['sockets'][number];
export type ScenarioStream = ScenarioPod['tcptracer'][number];
export type ScenarioProcess = z.output<typeof processSchema>;
export type ScenarioContainer = ScenarioPod['containers'][number];
export type ScenarioFaults = z.output<typeof faultsSchema>;

interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Cross-field rules zod cannot see field by field: references between nodes, pods, processes and `expected`. */
function crossCheck(s: Scenario): Issue[] {
  const issues: Issue[] = [];
  const nodes = new Map<string, number>();
  const ips = new Map<string, number>();
  s.nodes.forEach((n, i) => {
    if (nodes.has(n.name)) issues.push({ path: ['nodes', i, 'name'], message: `duplicate node name ${n.name}` });
    if (ips.has(n.internalIP)) {
      issues.push({ path: ['nodes', i, 'internalIP'], message: `duplicate InternalIP ${n.internalIP}` });
    }
    nodes.set(n.name, i);
    ips.set(n.internalIP, i);
    checkProcesses(n.hostProcesses, ['nodes', i, 'hostProcesses'], issues);
    checkOwners(n.hostSockets, n.hostProcesses, ['nodes', i, 'hostSockets'], issues);
    checkOwners(n.hostTcptracer, n.hostProcesses, ['nodes', i, 'hostTcptracer'], issues);
  });
  const pods = new Set<string>();
  s.pods.forEach((p, i) => {
    const key = `${p.namespace}/${p.name}`;
    if (pods.has(key)) issues.push({ path: ['pods', i, 'name'], message: `duplicate pod ${key}` });
    pods.add(key);
    if (!nodes.has(p.nodeName)) {
      issues.push({ path: ['pods', i, 'nodeName'], message: `no node named ${p.nodeName} in "nodes"` });
    }
    const names = new Set<string>();
    p.containers.forEach((c, j) => {
      if (names.has(c.name))
        issues.push({ path: ['pods', i, 'containers', j, 'name'], message: 'duplicate container' });
      names.add(c.name);
    });
    if (p.hostNetwork && (p.podIP !== undefined || p.podIPs !== undefined)) {
      issues.push({ path: ['pods', i, 'podIP'], message: 'a hostNetwork pod has the node IP: leave podIP out' });
    }
    if (!p.hostNetwork && p.podIP === undefined && p.podIPs === undefined && p.phase === 'Running') {
      issues.push({ path: ['pods', i, 'podIP'], message: 'a running pod that is not hostNetwork needs podIP' });
    }
    if (p.hostNetwork && p.netns !== undefined) {
      issues.push({ path: ['pods', i, 'netns'], message: 'a hostNetwork pod lives in the node namespace: no netns' });
    }
    if (p.replicas !== undefined && p.hostNetwork) {
      issues.push({ path: ['pods', i, 'replicas'], message: 'hostNetwork pods cannot be replicated on one node' });
    }
    const processes = p.processes ?? [];
    checkProcesses(processes, ['pods', i, 'processes'], issues);
    if (p.processes !== undefined) {
      checkOwners(p.sockets, processes, ['pods', i, 'sockets'], issues);
      checkOwners(p.tcptracer, processes, ['pods', i, 'tcptracer'], issues);
    }
  });
  const expectedNode = s.nodes.find((n) => n.name === s.expected.node);
  if (!expectedNode) {
    issues.push({ path: ['expected', 'node'], message: `no node named ${s.expected.node} in "nodes"` });
  } else if (expectedNode.internalIP !== s.expected.nodeIp) {
    issues.push({
      path: ['expected', 'nodeIp'],
      message: `node ${expectedNode.name} has InternalIP ${expectedNode.internalIP}, not ${s.expected.nodeIp}`,
    });
  }
  const culpritPods = s.pods.filter((p) =>
    p.replicas === undefined ? `${p.namespace}/${p.name}` === s.expected.culprit : false,
  );
  if (culpritPods.length === 0) {
    issues.push({
      path: ['expected', 'culprit'],
      message: `no pod ${s.expected.culprit} (replicated pods cannot be it)`,
    });
  } else if (expectedNode && culpritPods[0]!.nodeName !== expectedNode.name) {
    issues.push({ path: ['expected', 'culprit'], message: `pod ${s.expected.culprit} is not on ${expectedNode.name}` });
  }
  return issues;
}

function checkProcesses(processes: readonly ScenarioProcess[], path: PropertyKey[], issues: Issue[]): void {
  const seen = new Set<number>();
  processes.forEach((p, i) => {
    if (seen.has(p.pid)) issues.push({ path: [...path, i, 'pid'], message: `duplicate pid ${p.pid}` });
    seen.add(p.pid);
  });
}

function checkOwners(
  items: ReadonlyArray<{ pid?: number | undefined }>,
  processes: readonly ScenarioProcess[],
  path: PropertyKey[],
  issues: Issue[],
): void {
  items.forEach((item, i) => {
    if (item.pid !== undefined && !processes.some((p) => p.pid === item.pid)) {
      issues.push({ path: [...path, i, 'pid'], message: `no process with pid ${item.pid} in processes` });
    }
  });
}

/** Validates a parsed JSON value as a scenario; `where` names the file in errors. */
export function parseScenario(value: unknown, where: string): Scenario {
  const parsed = scenarioSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw scenarioError(where, issue.path, issue.message, parsed.error.issues.length - 1);
  }
  const issues = crossCheck(parsed.data);
  if (issues.length > 0) throw scenarioError(where, issues[0]!.path, issues[0]!.message, issues.length - 1);
  // Expanding it finds what only the whole scenario shows: a socket with no address of its family, ports run out.
  try {
    buildWorld(parsed.data);
  } catch (e) {
    throw badInput(`${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parsed.data;
}

function scenarioError(where: string, path: readonly PropertyKey[], message: string, more: number) {
  const field = fieldPath(path);
  const tail = more > 0 ? ` (and ${more} more problem(s))` : '';
  return badInput(`${where}: ${field ? `field ${field}: ` : ''}${message}${tail}`);
}

/** Names of the built-in scenarios (`sim/scenarios/*.json`). */
export async function builtInScenarios(): Promise<string[]> {
  const files = await readdir(SCENARIO_DIR);
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/**
 * A built-in scenario by name, or a JSON file by path (anything with a `/` or ending in `.json` is a path). Errors
 * are BAD_INPUT naming the file: `x.json:3:7: ... is not valid JSON`, `x.json: field pods[2].podIP: ...`.
 */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const isPath = nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.endsWith('.json');
  let file: string;
  if (isPath) {
    file = nameOrPath;
  } else {
    const known = await builtInScenarios();
    if (!known.includes(nameOrPath)) {
      throw badInput(`unknown scenario '${nameOrPath}' (built in: ${known.join(', ')}; or give a .json file path)`);
    }
    file = join(SCENARIO_DIR, `${nameOrPath}.json`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw badInput(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e)}`);
  }
  const json = parseJsonText(text.replace(/^\uFEFF/, ''), 'the scenario');
  if (!json.ok) {
    const p = json.problem;
    const at = p.line !== undefined ? `:${p.line}${p.column !== undefined ? `:${p.column}` : ''}` : '';
    throw badInput(`${file}${at}: ${p.message}`);
  }
  return parseScenario(json.value, file);
}
