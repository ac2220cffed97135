/**
 * The scenario expanded into what the node really holds: pods (replicas expanded) with their processes, network
 * namespaces and socket tables. Everything the simulated cluster prints (kubectl objects, netstat/ss/proc output in a
 * pod, the capture Job's log) is rendered from this one model, so the different views of a node always agree.
 */
import { badInput } from '../lib/errors.js';
import { fieldPath } from '../lib/parse/json.js';
import type {
  Scenario,
  ScenarioContainer,
  ScenarioNode,
  ScenarioPod,
  ScenarioProcess,
  ScenarioSocket,
  SimTcpState,
} from './scenario.js';
import { addToAddress, hash32, isIpv6, mapped, nameSuffix, parseEndpoint, rng, templateHash, uuidFrom } from './net.js';

export interface SimProcess {
  /** PID in the container's PID namespace. */
  readonly pid: number;
  /** PID on the node (what tcptracer prints). */
  readonly hostPid: number;
  readonly comm: string;
  readonly argv0: string;
  /** `namespace/name` of the pod, or null for a node process. */
  readonly podKey: string | null;
  /** Container the process runs in (each container has its own PID namespace); null for node processes. */
  readonly container: string | null;
  nextFd: number;
}

export interface SimSocket {
  readonly table: 'tcp' | 'tcp6';
  /** Address text as the kernel holds it (IPv4 in tcp6 is `::ffff:a.b.c.d`). */
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: SimTcpState;
  /** 0 for TIME_WAIT (no socket inode any more). */
  readonly inode: number;
  readonly uid: number;
  readonly txQueue: number;
  readonly rxQueue: number;
  /** /proc `tr` (0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero window probe) and `tm->when` (clock ticks). */
  readonly timer: number;
  readonly timerWhen: number;
  readonly retransmits: number;
  /** LISTEN: the backlog ss shows as Send-Q. */
  readonly backlog: number;
  readonly owner: { readonly process: SimProcess; readonly fd: number } | null;
  /** The socket's kernel address as a privileged reader sees it (%pK with CAP_SYSLOG). */
  readonly kernelPointer: string;
}

export interface SimNetns {
  readonly inode: number;
  /** A host PID inside the namespace (the pod's pause process; 1 for the node's own). */
  readonly pid: number;
  /** The pod UID (as the capture script reads it from /proc/PID/cgroup), or null for the node. */
  readonly podUid: string | null;
  readonly host: boolean;
  readonly sockets: SimSocket[];
}

export interface SimOwner {
  readonly kind: 'ReplicaSet' | 'StatefulSet' | 'DaemonSet' | 'Job';
  readonly name: string;
  readonly uid: string;
  /** The Deployment over a ReplicaSet, or the CronJob over a Job. */
  readonly parent: { readonly kind: 'Deployment' | 'CronJob'; readonly name: string; readonly uid: string } | null;
}

export interface SimPod {
  readonly spec: ScenarioPod;
  /** Index of the scenario entry this pod comes from (for error messages). */
  readonly scenarioIndex: number;
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly nodeName: string;
  /** Pod IPs (the node IP for hostNetwork pods); empty for a pod without a sandbox yet. */
  readonly ips: string[];
  readonly hostNetwork: boolean;
  readonly labels: Record<string, string>;
  readonly owner: SimOwner | null;
  readonly containers: ScenarioContainer[];
  readonly processes: SimProcess[];
  /** The pod's network namespace; the node's for hostNetwork pods; null for a finished pod (sandbox gone). */
  readonly netns: SimNetns | null;
  readonly hostPid: number;
  readonly createdAt: Date;
}

export interface SimNode {
  readonly spec: ScenarioNode;
  readonly name: string;
  readonly ip: string;
  readonly uid: string;
  readonly hostNetns: SimNetns;
  readonly hostProcesses: SimProcess[];
  readonly pods: SimPod[];
  readonly createdAt: Date;
}

export interface World {
  readonly scenario: Scenario;
  readonly nodes: SimNode[];
  readonly pods: SimPod[];
  readonly startedAt: Date;
  node(name: string): SimNode | undefined;
  pod(namespace: string, name: string): SimPod | undefined;
  /** Every network namespace on a node: the node's own first, then the pods' in pod order. */
  netnsOf(nodeName: string): SimNetns[];
}

const FIRST_POD_NETNS = 4026532200;
const FIRST_POD_HOST_PID = 4000;
const POD_UID = 1000;

/** Ephemeral local ports of one namespace, as Linux hands them out (32768-60999). */
class PortAllocator {
  private next: number;
  private readonly used = new Set<number>();
  constructor(seed: number) {
    this.next = 32768 + (seed % 20000);
  }
  reserve(port: number): void {
    this.used.add(port);
  }
  take(): number {
    for (let tries = 0; tries < 28232; tries++) {
      const port = this.next;
      this.next = this.next >= 60999 ? 32768 : this.next + 1;
      if (!this.used.has(port)) {
        this.used.add(port);
        return port;
      }
    }
    throw new RangeError('no ephemeral port left in the namespace');
  }
}

interface NetnsBuilder {
  readonly netns: SimNetns;
  readonly ports: PortAllocator;
  nextInode: () => number;
  readonly census: boolean;
}

/** Replicated scenario entries -> one entry per pod, with consecutive IPs, namespaces and host PIDs. */
function expandReplicas(pod: ScenarioPod): ScenarioPod[] {
  if (pod.replicas === undefined) return [pod];
  const out: ScenarioPod[] = [];
  for (let i = 0; i < pod.replicas; i++) {
    const name = `${pod.name}-${nameSuffix(`${pod.namespace}/${pod.name}#${i}`)}`;
    const { replicas: _replicas, uid: _uid, ...rest } = pod;
    out.push({
      ...rest,
      name,
      ...(pod.podIP !== undefined ? { podIP: addToAddress(pod.podIP, i) } : {}),
      ...(pod.podIPs !== undefined ? { podIPs: pod.podIPs.map((ip) => addToAddress(ip, i)) } : {}),
      ...(pod.netns !== undefined ? { netns: pod.netns + i } : {}),
      ...(pod.hostPid !== undefined ? { hostPid: pod.hostPid + i * 100 } : {}),
    });
  }
  return out;
}

function ownerOf(pod: ScenarioPod): { owner: SimOwner | null; labels: Record<string, string> } {
  const labels: Record<string, string> = { ...pod.labels };
  const o = pod.owner;
  if (o === null) return { owner: null, labels };
  const uid = (kind: string, n: string) => uuidFrom(`${kind}/${pod.namespace}/${n}`);
  const withoutSuffix = pod.name.includes('-') ? pod.name.slice(0, pod.name.lastIndexOf('-')) : pod.name;
  switch (o.kind) {
    case 'Deployment': {
      const rs =
        o.replicaSet ?? (withoutSuffix.startsWith(`${o.name}-`) ? withoutSuffix : `${o.name}-${templateHash(o.name)}`);
      labels['pod-template-hash'] ??= rs.slice(rs.lastIndexOf('-') + 1);
      return {
        owner: {
          kind: 'ReplicaSet',
          name: rs,
          uid: uid('ReplicaSet', rs),
          parent: { kind: 'Deployment', name: o.name, uid: uid('Deployment', o.name) },
        },
        labels,
      };
    }
    case 'ReplicaSet':
      return { owner: { kind: 'ReplicaSet', name: o.name, uid: uid('ReplicaSet', o.name), parent: null }, labels };
    case 'StatefulSet':
      labels['statefulset.kubernetes.io/pod-name'] ??= pod.name;
      labels['controller-revision-hash'] ??= `${o.name}-${templateHash(o.name)}`;
      return { owner: { kind: 'StatefulSet', name: o.name, uid: uid('StatefulSet', o.name), parent: null }, labels };
    case 'DaemonSet':
      labels['controller-revision-hash'] ??= templateHash(o.name);
      labels['pod-template-generation'] ??= '1';
      return { owner: { kind: 'DaemonSet', name: o.name, uid: uid('DaemonSet', o.name), parent: null }, labels };
    case 'Job':
    case 'CronJob': {
      const job = o.kind === 'Job' ? o.name : (o.job ?? withoutSuffix);
      const jobUid = uid('Job', job);
      labels['batch.kubernetes.io/job-name'] ??= job;
      labels['job-name'] ??= job;
      labels['batch.kubernetes.io/controller-uid'] ??= jobUid;
      labels['controller-uid'] ??= jobUid;
      return {
        owner: {
          kind: 'Job',
          name: job,
          uid: jobUid,
          parent: o.kind === 'CronJob' ? { kind: 'CronJob', name: o.name, uid: uid('CronJob', o.name) } : null,
        },
        labels,
      };
    }
  }
}

function defaultProcesses(pod: ScenarioPod): ScenarioProcess[] {
  return [{ pid: 1, comm: pod.containers[0]!.name.slice(0, 15) }];
}

/** The remote's family decides the local address: a real IPv6 peer needs the pod's IPv6 address. */
function localAddressFor(ips: readonly string[], remote: string | null, where: string): string {
  const wantV6 = remote !== null && isIpv6(remote) && !remote.toLowerCase().startsWith('::ffff:');
  const ip = ips.find((a) => isIpv6(a) === wantV6);
  if (ip === undefined) {
    throw badInput(`field ${where}: no ${wantV6 ? 'IPv6' : 'IPv4'} address to connect from (set "local" or podIPs)`);
  }
  return ip;
}

function timersFor(state: SimTcpState, r: () => number) {
  switch (state) {
    case 'SYN_SENT':
      return {
        txQueue: 1,
        rxQueue: 0,
        timer: 1,
        timerWhen: 20 + Math.floor(r() * 300),
        retransmits: 1 + Math.floor(r() * 3),
      };
    case 'TIME_WAIT':
      return { txQueue: 0, rxQueue: 0, timer: 3, timerWhen: 500 + Math.floor(r() * 5500), retransmits: 0 };
    case 'FIN_WAIT2':
      return { txQueue: 0, rxQueue: 0, timer: 2, timerWhen: 1000 + Math.floor(r() * 5000), retransmits: 0 };
    default:
      return { txQueue: 0, rxQueue: 0, timer: 0, timerWhen: 0, retransmits: 0 };
  }
}

function expandSockets(
  groups: readonly ScenarioSocket[],
  builder: NetnsBuilder,
  ips: readonly string[],
  processes: readonly SimProcess[],
  where: string,
): void {
  const r = rng(builder.netns.inode);
  groups.forEach((g, gi) => {
    const at = `${where}[${gi}]`;
    const listen = g.listen !== undefined || g.state === 'LISTEN';
    const owner = processes.find((p) => p.pid === g.pid) ?? processes[0] ?? null;
    if (listen) {
      const end = parseEndpoint(g.listen ?? g.local ?? '');
      if (!end) throw badInput(`field ${at}: a listening socket needs "listen": "address:port"`);
      const v6 = g.family === 'ipv6' || isIpv6(end.address);
      builder.ports.reserve(end.port);
      builder.netns.sockets.push({
        table: v6 ? 'tcp6' : 'tcp',
        localAddress: v6 ? mapped(end.address) : end.address,
        localPort: end.port,
        remoteAddress: v6 ? '::' : '0.0.0.0',
        remotePort: 0,
        state: 'LISTEN',
        inode: builder.nextInode(),
        uid: owner?.podKey === null ? 0 : POD_UID,
        txQueue: 0,
        rxQueue: 0,
        timer: 0,
        timerWhen: 0,
        retransmits: 0,
        backlog: g.backlog,
        owner: owner ? { process: owner, fd: owner.nextFd++ } : null,
        kernelPointer: pointer(r),
      });
      return;
    }
    const remote = parseEndpoint(g.remote!)!;
    const localGiven = g.local !== undefined ? (parseEndpoint(g.local) ?? { address: g.local, port: 0 }) : null;
    const localAddress = localGiven?.address ?? localAddressFor(ips, remote.address, at);
    const fixedLocalPort = localGiven !== null && localGiven.port > 0 ? localGiven.port : null;
    const v6 = g.family === 'ipv6' || isIpv6(remote.address) || isIpv6(localAddress);
    for (let k = 0; k < g.count; k++) {
      const remoteAddress = addToAddress(remote.address, k % g.spread);
      let localPort: number;
      let remotePort: number;
      if (fixedLocalPort !== null) {
        localPort = fixedLocalPort;
        remotePort = remote.port + Math.floor(k / g.spread);
        if (remotePort > 65535)
          throw badInput(`field ${at}: remote ports run past 65535 (lower count or raise spread)`);
      } else {
        localPort = g.localPortStart !== undefined ? g.localPortStart + k : builder.ports.take();
        if (localPort > 65535) throw badInput(`field ${at}: local ports run past 65535`);
        remotePort = remote.port;
      }
      const timeWait = g.state === 'TIME_WAIT';
      builder.netns.sockets.push({
        table: v6 ? 'tcp6' : 'tcp',
        localAddress: v6 ? mapped(localAddress) : localAddress,
        localPort,
        remoteAddress: v6 ? mapped(remoteAddress) : remoteAddress,
        remotePort,
        state: g.state,
        inode: timeWait ? 0 : builder.nextInode(),
        uid: timeWait || owner?.podKey === null ? 0 : POD_UID,
        ...timersFor(g.state, r),
        backlog: 0,
        owner: timeWait || !owner ? null : { process: owner, fd: owner.nextFd++ },
        kernelPointer: pointer(r),
      });
    }
  });
}

function pointer(r: () => number): string {
  const low = Math.floor(r() * 0x4000000) * 64;
  return `ffff${(0x8880 + Math.floor(r() * 0x700)).toString(16)}${low.toString(16).padStart(8, '0')}`;
}

function toProcesses(
  specs: readonly ScenarioProcess[],
  podKey: string | null,
  hostPidBase: number,
  container: string | null,
): SimProcess[] {
  return specs.map((p) => ({
    pid: p.pid,
    hostPid: p.hostPid ?? (podKey === null ? p.pid : hostPidBase + p.pid),
    comm: p.comm,
    argv0: p.argv0 ?? p.comm,
    podKey,
    container: podKey === null ? null : (p.container ?? container),
    nextFd: podKey === null ? 20 : 12,
  }));
}

/** Builds the model; `now` anchors creation times (`createdSecondsAgo`). */
export function buildWorld(scenario: Scenario, now: Date = new Date()): World {
  const inodeSeed = hash32(scenario.name);
  let inode = 20000 + (inodeSeed % 50000);
  const nextInode = () => inode++;
  const nodes: SimNode[] = [];
  const pods: SimPod[] = [];
  const ago = (s: number) => new Date(Math.floor(now.getTime() / 1000 - s) * 1000);

  scenario.nodes.forEach((n, ni) => {
    const hostProcesses = toProcesses(n.hostProcesses, null, 0, null);
    const hostNetns: SimNetns = { inode: n.hostNetns, pid: 1, podUid: null, host: true, sockets: [] };
    const hostBuilder: NetnsBuilder = {
      netns: hostNetns,
      ports: new PortAllocator(hash32(n.name)),
      nextInode,
      census: true,
    };
    expandSockets(n.hostSockets, hostBuilder, [n.internalIP], hostProcesses, `nodes[${ni}].hostSockets`);
    const node: SimNode = {
      spec: n,
      name: n.name,
      ip: n.internalIP,
      uid: uuidFrom(`node/${n.name}`),
      hostNetns,
      hostProcesses,
      pods: [],
      createdAt: ago(n.createdSecondsAgo),
    };
    nodes.push(node);

    let podIndex = 0;
    scenario.pods.forEach((entry, pi) => {
      if (entry.nodeName !== n.name) return;
      for (const spec of expandReplicas(entry)) {
        const key = `${spec.namespace}/${spec.name}`;
        const uid = spec.uid ?? uuidFrom(`pod/${key}`);
        const hostPid = spec.hostPid ?? FIRST_POD_HOST_PID + podIndex * 100;
        const firstContainer = spec.containers[0]!.name;
        const processes = toProcesses(spec.processes ?? defaultProcesses(spec), key, hostPid, firstContainer);
        const finished = spec.phase === 'Succeeded' || spec.phase === 'Failed';
        const ips = spec.hostNetwork ? [n.internalIP] : (spec.podIPs ?? (spec.podIP !== undefined ? [spec.podIP] : []));
        let netns: SimNetns | null;
        const where = fieldPath(['pods', pi, 'sockets']);
        if (spec.hostNetwork) {
          netns = hostNetns;
          expandSockets(spec.sockets, hostBuilder, ips, processes, where);
        } else if (finished || ips.length === 0) {
          netns = null;
        } else {
          netns = {
            inode: spec.netns ?? FIRST_POD_NETNS + podIndex * 8 + (ni << 12),
            pid: hostPid,
            podUid: uid,
            host: false,
            sockets: [],
          };
          const builder: NetnsBuilder = { netns, ports: new PortAllocator(hash32(key)), nextInode, census: true };
          expandSockets(spec.sockets, builder, ips, processes, where);
        }
        const { owner, labels } = ownerOf(spec);
        const pod: SimPod = {
          spec,
          scenarioIndex: pi,
          key,
          namespace: spec.namespace,
          name: spec.name,
          uid,
          nodeName: n.name,
          ips,
          hostNetwork: spec.hostNetwork,
          labels,
          owner,
          containers: spec.containers,
          processes,
          netns,
          hostPid,
          createdAt: ago(spec.createdSecondsAgo),
        };
        node.pods.push(pod);
        pods.push(pod);
        podIndex++;
      }
    });
  });

  const nodeByName = new Map(nodes.map((n) => [n.name, n]));
  const podByKey = new Map(pods.map((p) => [p.key, p]));
  return {
    scenario,
    nodes,
    pods,
    startedAt: now,
    node: (name) => nodeByName.get(name),
    pod: (namespace, name) => podByKey.get(`${namespace}/${name}`),
    netnsOf(nodeName) {
      const node = nodeByName.get(nodeName);
      if (!node) return [];
      const out: SimNetns[] = [node.hostNetns];
      for (const pod of node.pods) if (pod.netns !== null && !pod.netns.host) out.push(pod.netns);
      return out;
    },
  };
}
