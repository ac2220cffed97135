/**
 * The capture Job's log, rendered from a scenario exactly as the real capture script writes it
 * (lib/k8s/capture-log.md): framing lines, the node's tcptracer output (bcc `tcptracer -tv` or libbpf-tools
 * `tcptracer -t`, FORMATS.md sections 1-2), the netns map, and one /proc/net/tcp{,6} census per network namespace.
 */
import type { Scenario, ScenarioStream } from './scenario.js';
import { parseEndpoint } from './scenario.js';
import { addToAddress, hash32, isIpv6, mapped, ntop, rng } from './net.js';
import { renderProcNetTcp } from './tools.js';
import { buildWorld } from './world.js';
import type { SimNode, SimProcess, World } from './world.js';

export const MARKER = '##SNAT-RESPONDER##';
const BCC_BANNER = 'Tracing TCP established connections. Ctrl-C to end.';
const BCC_HEADER =
  'TIME(ns)'.padEnd(14) +
  `${'TYPE'.padEnd(12)} ${'PID'.padEnd(6)} ${'COMM'.padEnd(16)} ${'IP'.padEnd(2)} ${'SADDR'.padEnd(16)} ${'DADDR'.padEnd(16)} ${'SPORT'.padEnd(6)} ${'DPORT'.padEnd(7)}` +
  'NETNS'.padEnd(8);
const LIBBPF_HEADER =
  'TIME(s)'.padEnd(9) +
  `T ${'PID'.padEnd(6)} ${'COMM'.padEnd(12)} ${'IP'.padEnd(2)} ${'SADDR'.padEnd(16)} ${'DADDR'.padEnd(16)} ${'SPORT'.padEnd(4)} ${'DPORT'.padEnd(4)}`;

export interface CaptureLogOptions {
  readonly captureSeconds: number;
  readonly maxLines: number;
  readonly startedAt: Date;
  /** The log as it stands this many seconds into the capture (a running Job): no census, no trailer yet. */
  readonly untilSecond?: number;
  /** Cut mid-line and without a trailer, as a log bounded by size or a Job killed at its deadline. */
  readonly cutShort?: boolean;
  /** A prebuilt model of the scenario (the simulated cluster passes its own). */
  readonly world?: World;
}

export interface TracerEvent {
  /** Seconds since the start of the capture. */
  readonly t: number;
  readonly type: 'connect' | 'accept' | 'close';
  readonly pid: number;
  readonly comm: string;
  readonly ip: 4 | 6;
  readonly saddr: string;
  readonly daddr: string;
  readonly sport: number;
  readonly dport: number;
  readonly netns: number;
}

interface Source {
  readonly ips: readonly string[];
  readonly netns: number;
  readonly processes: readonly SimProcess[];
  readonly streams: readonly ScenarioStream[];
  readonly seed: string;
}

function sourcesOf(node: SimNode): Source[] {
  const sources: Source[] = [
    {
      ips: [node.ip],
      netns: node.hostNetns.inode,
      processes: node.hostProcesses,
      streams: node.spec.hostTcptracer,
      seed: `host/${node.name}`,
    },
  ];
  for (const pod of node.pods) {
    if (pod.netns === null || pod.spec.tcptracer.length === 0) continue;
    sources.push({ ips: pod.ips, netns: pod.netns.inode, processes: pod.processes, streams: pod.spec.tcptracer, seed: pod.key });
  }
  return sources;
}

/** The events tcptracer reports on a node during a capture window, in time order. */
export function tracerEvents(node: SimNode, captureSeconds: number): TracerEvent[] {
  const events: TracerEvent[] = [];
  for (const source of sourcesOf(node)) {
    const random = rng(hash32(source.seed));
    let nextPort = 33000 + (hash32(source.seed) % 20000);
    const ephemeral = () => {
      const port = nextPort;
      nextPort = nextPort >= 60999 ? 32768 : nextPort + 1;
      return port;
    };
    for (const stream of source.streams) {
      const process = source.processes.find((p) => p.pid === stream.pid) ?? source.processes[0];
      if (!process) continue;
      const end = Math.min(stream.endSecond ?? captureSeconds, captureSeconds);
      const interval = 1 / stream.perSecond;
      const v6 = stream.family === 'ipv6';
      for (let k = 0; ; k++) {
        const t = stream.startSecond + k * interval + random() * interval * 0.5;
        if (t >= end) break;
        let saddr: string;
        let daddr: string;
        let sport: number;
        let dport: number;
        if (stream.type === 'connect') {
          const to = parseEndpoint(stream.to!)!;
          daddr = addToAddress(to.address, k % stream.spread);
          const wantV6 = isIpv6(daddr);
          saddr = source.ips.find((ip) => isIpv6(ip) === wantV6) ?? source.ips[0]!;
          sport = ephemeral();
          dport = to.port;
        } else {
          daddr = addToAddress(stream.from!, k % stream.spread);
          const wantV6 = isIpv6(daddr);
          saddr = source.ips.find((ip) => isIpv6(ip) === wantV6) ?? source.ips[0]!;
          sport = stream.port!;
          dport = 32768 + Math.floor(random() * 28232);
        }
        const ip: 4 | 6 = v6 || isIpv6(saddr) || isIpv6(daddr) ? 6 : 4;
        if (ip === 6) {
          saddr = mapped(saddr);
          daddr = mapped(daddr);
        }
        const base = { pid: process.hostPid, comm: stream.comm, ip, saddr, daddr, sport, dport, netns: source.netns };
        events.push({ t, type: stream.type, ...base });
        if (stream.closeAfterSeconds !== undefined && t + stream.closeAfterSeconds < captureSeconds) {
          events.push({ t: t + stream.closeAfterSeconds, type: 'close', ...base });
        }
      }
    }
  }
  return events.sort((a, b) => a.t - b.t);
}

/** bcc tools/tcptracer.py with -t -v: TIME(ns) relative to the first printed event, NETNS last. */
function bccLine(e: TracerEvent, t0: number): string {
  const ns = Math.round((e.t - t0) * 1e9);
  const address = (a: string) => (e.ip === 6 ? `[${ntop(a)}]` : ntop(a));
  return (
    String(ns).padEnd(14) +
    `${e.type.padEnd(12)} ` +
    `${String(e.pid).padEnd(6)} ${e.comm.padEnd(16)} ${String(e.ip).padEnd(2)} ${address(e.saddr).padEnd(16)} ` +
    `${address(e.daddr).padEnd(16)} ${String(e.sport).padEnd(6)} ${String(e.dport).padEnd(6)}` +
    ` ${String(e.netns).padEnd(8)}`
  );
}

/** libbpf-tools tcptracer -t: seconds with 3 decimals, one-letter type, COMM cut to 12, no NETNS. */
function libbpfLine(e: TracerEvent, t0: number): string {
  const type = e.type === 'connect' ? 'C' : e.type === 'accept' ? 'A' : 'X';
  const micros = Math.round((e.t - t0) * 1e6);
  return (
    (micros / 1e6).toFixed(3).padEnd(9) +
    `${type} ${String(e.pid).padEnd(6)} ${e.comm.slice(0, 12).padEnd(12)} ${String(e.ip).padEnd(2)} ` +
    `${ntop(e.saddr).padEnd(16)} ${ntop(e.daddr).padEnd(16)} ${String(e.sport).padEnd(4)} ${String(e.dport).padEnd(4)}`
  );
}

/** The tcptracer output lines (banner, header, events) of a node's capture, and the events' times. */
export function tracerOutput(node: SimNode, captureSeconds: number): { lines: string[]; times: number[] } {
  const flavour = node.spec.tracer;
  if (flavour === 'none') return { lines: [], times: [] };
  const events = tracerEvents(node, captureSeconds);
  const t0 = events[0]?.t ?? 0;
  if (flavour === 'bcc') {
    return { lines: [BCC_BANNER, BCC_HEADER, ...events.map((e) => bccLine(e, t0))], times: [0, 0, ...events.map((e) => e.t)] };
  }
  return { lines: [LIBBPF_HEADER, ...events.map((e) => libbpfLine(e, t0))], times: [0, ...events.map((e) => e.t)] };
}

/**
 * `renderCaptureLog(scenario, nodeName, { captureSeconds, maxLines, startedAt })`: the whole log of a capture Job
 * pinned to `nodeName`, ending with its trailer; or, with `untilSecond`, what a running capture has written so far;
 * or, with `cutShort`, a log cut mid-line.
 */
export function renderCaptureLog(scenario: Scenario, nodeName: string, options: CaptureLogOptions): string {
  const world = options.world ?? buildWorld(scenario);
  const node = world.node(nodeName);
  if (!node) throw new Error(`no node ${nodeName} in scenario ${scenario.name}`);
  const tracer = node.spec.tracer;
  const captureSeconds = Math.max(1, Math.floor(options.captureSeconds));
  const maxLines = Math.max(1, Math.floor(options.maxLines));
  const started = Math.floor(options.startedAt.getTime() / 1000);
  const frame = (text: string) => `${MARKER} ${text}\n`;

  let out = frame(`begin v=1 tracer=${tracer} capture_seconds=${captureSeconds} max_lines=${maxLines} started=${started}`);
  out += frame('section tcptracer');
  const { lines, times } = tracerOutput(node, captureSeconds);
  const truncated = lines.length > maxLines;
  const kept = truncated ? lines.slice(0, maxLines) : lines;
  if (options.untilSecond !== undefined && options.untilSecond < captureSeconds) {
    const until = options.untilSecond;
    return out + kept.filter((_, i) => times[i]! <= until).map((l) => `${l}\n`).join('');
  }
  out += kept.map((l) => `${l}\n`).join('');
  // 0: bcc leaves its poll loop through exit() on KeyboardInterrupt, libbpf-tools returns 0 once `exiting` is set;
  // 127: the shell found no tcptracer on the node.
  out += frame(`end tcptracer lines=${kept.length} truncated=${truncated ? 1 : 0} exit=${tracer === 'none' ? 127 : 0}`);

  const namespaces = world.netnsOf(nodeName);
  out += frame('section netns');
  for (const ns of namespaces) out += `netns=${ns.inode} pid=${ns.pid} uid=${ns.podUid ?? '-'} host=${ns.host ? 1 : 0}\n`;
  out += frame(`end netns lines=${namespaces.length}`);
  const viewer = { podKey: null, container: null, privileged: true };
  for (const ns of namespaces) {
    const census = renderProcNetTcp(ns.sockets, 'tcp', viewer) + renderProcNetTcp(ns.sockets, 'tcp6', viewer);
    out += frame(`section census netns=${ns.inode} pid=${ns.pid}`);
    out += census;
    out += frame(`end census lines=${census.split('\n').length - 1}`);
  }
  const status = tracer === 'none' ? 'no-tracer' : truncated ? 'partial' : 'ok';
  const trailer = frame(
    `trailer status=${status} tcptracer_lines=${kept.length} truncated=${truncated ? 1 : 0} netns=${namespaces.length} elapsed=${captureSeconds + 1}`,
  );
  if (options.cutShort) return cutMidLine(out);
  return out + trailer;
}

/** About two thirds of the log, ending inside a line (no newline at the end), never on a framing line's start. */
export function cutMidLine(text: string): string {
  let at = Math.floor(text.length * 0.66);
  while (at > 1 && (text[at - 1] === '\n' || text[at] === '\n')) at--;
  return text.slice(0, at);
}
