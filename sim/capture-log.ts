/**
 * The capture Job's log, rendered from a scenario exactly as the real capture script writes it
 * (lib/k8s/capture-log.md): framing lines, the node's tcptracer output (bcc `tcptracer -tv` or libbpf-tools
 * `tcptracer -t`, FORMATS.md sections 1-2), the netns map, and one /proc/net/tcp{,6} census per network namespace.
 */
import { CAPTURE_LIMITS, CAPTURE_LOG_MARKER } from '../lib/k8s/capture-script.js';
import type { Scenario, ScenarioStream } from './scenario.js';
import { addToAddress, hash32, isIpv6, mapped, ntop, parseEndpoint, rng } from './net.js';
import { renderProcNetTcp } from './tools.js';
import { buildWorld } from './world.js';
import type { SimNode, SimProcess, World } from './world.js';

export const MARKER = CAPTURE_LOG_MARKER;
const DEFAULT_CENSUS_MAX_LINES = CAPTURE_LIMITS.censusMaxLines.default;
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
  /** CAPTURE_MAX_LINES: tcptracer lines kept. */
  readonly maxLines: number;
  readonly startedAt: Date;
  /** CAPTURE_CENSUS_MAX_LINES: /proc/net/tcp{,6} lines kept per namespace (the script's default: 4000). */
  readonly censusMaxLines?: number;
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
    sources.push({
      ips: pod.ips,
      netns: pod.netns.inode,
      processes: pod.processes,
      streams: pod.spec.tcptracer,
      seed: pod.key,
    });
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
    return {
      lines: [BCC_BANNER, BCC_HEADER, ...events.map((e) => bccLine(e, t0))],
      times: [0, 0, ...events.map((e) => e.t)],
    };
  }
  return { lines: [LIBBPF_HEADER, ...events.map((e) => libbpfLine(e, t0))], times: [0, ...events.map((e) => e.t)] };
}

/**
 * `renderCaptureLog(scenario, nodeName, { captureSeconds, maxLines, startedAt })`: the whole log of a capture Job
 * pinned to `nodeName`, as lib/k8s/capture-script.ts writes it, ending with its trailer; or, with `untilSecond`, what
 * a running capture has written so far; or, with `cutShort`, a log cut mid-line.
 */
export function renderCaptureLog(scenario: Scenario, nodeName: string, options: CaptureLogOptions): string {
  const world = options.world ?? buildWorld(scenario);
  const node = world.node(nodeName);
  if (!node) throw new Error(`no node ${nodeName} in scenario ${scenario.name}`);
  const tracer = node.spec.tracer;
  const secs = Math.max(1, Math.floor(options.captureSeconds));
  const maxLines = Math.max(1, Math.floor(options.maxLines));
  const censusMaxLines = Math.max(1, Math.floor(options.censusMaxLines ?? DEFAULT_CENSUS_MAX_LINES));
  const started = Math.floor(options.startedAt.getTime() / 1000);
  const frame = (text: string) => `${MARKER} ${text}\n`;

  let out = frame(
    `begin v=1 tracer=${tracer} capture_seconds=${secs} max_lines=${maxLines} census_max_lines=${censusMaxLines} started=${started}`,
  );
  out += frame('section tcptracer');
  const { lines, times } = tracerOutput(node, secs);
  const truncated = lines.length > maxLines;
  const kept = truncated ? lines.slice(0, maxLines) : lines;
  if (options.untilSecond !== undefined && options.untilSecond < secs) {
    const until = options.untilSecond;
    const partial =
      out +
      kept
        .filter((_, i) => times[i]! <= until)
        .map((l) => `${l}\n`)
        .join('');
    return options.cutShort ? cutMidLine(partial) : partial;
  }
  out += kept.map((l) => `${l}\n`).join('');
  // `timeout --preserve-status`: bcc leaves its poll loop through exit() on SIGINT (0), libbpf-tools returns 0 once
  // `exiting` is set. Past max_lines, `head` has gone: libbpf-tools dies of SIGPIPE at its next line (141); bcc's
  // writes fail inside ctypes callbacks, which Python reports and ignores, so it runs to the end of the window.
  let exit = tracer === 'none' ? 'none' : '0';
  let seconds = tracer === 'none' ? 0 : secs;
  if (truncated && tracer === 'libbpf') {
    exit = '141';
    seconds = Math.min(secs, Math.floor(times[maxLines + 1] ?? times[maxLines] ?? secs));
  }
  out += frame(
    `end tcptracer lines=${kept.length} truncated=${truncated ? 1 : 0} partial=0 exit=${exit} seconds=${seconds}`,
  );

  // `stat -L -c %i /proc/[0-9]*/ns/net | sort -k1,1n -k2,2n`, first PID per inode: namespaces in inode order.
  const namespaces = [...world.netnsOf(nodeName)].sort((a, b) => a.inode - b.inode);
  out += frame('section netns');
  for (const ns of namespaces)
    out += `netns=${ns.inode} pid=${ns.pid} uid=${ns.podUid ?? '-'} host=${ns.host ? 1 : 0}\n`;
  out += frame(`end netns lines=${namespaces.length}`);
  const viewer = { podKey: null, container: null, privileged: true };
  for (const ns of namespaces) {
    const census = (renderProcNetTcp(ns.sockets, 'tcp', viewer) + renderProcNetTcp(ns.sockets, 'tcp6', viewer)).split(
      '\n',
    );
    census.pop();
    const cut = census.length > censusMaxLines;
    const keptCensus = cut ? census.slice(0, censusMaxLines) : census;
    out += frame(`section census netns=${ns.inode} pid=${ns.pid}`);
    out += keptCensus.map((l) => `${l}\n`).join('');
    out += frame(`end census lines=${keptCensus.length} truncated=${cut ? 1 : 0}`);
  }
  let status = 'ok';
  if (tracer === 'none') status = 'no-tracer';
  else if (!truncated && (!['0', '130'].includes(exit) || seconds < secs - 1)) status = 'partial';
  if (namespaces.length === 0 && status === 'ok') status = 'partial';
  const trailer = frame(
    `trailer status=${status} tcptracer_lines=${kept.length} truncated=${truncated ? 1 : 0} netns=${namespaces.length} elapsed=${secs + 1}`,
  );
  if (options.cutShort) return cutMidLine(out);
  return out + trailer;
}

/**
 * What the script writes when an environment variable fails its checks (a Job edited by hand, or built wrong): it
 * does nothing else and exits 2, so the pod fails.
 */
export function renderBadParametersLog(startedAt: Date): string {
  const started = Math.floor(startedAt.getTime() / 1000);
  return (
    `${MARKER} begin v=1 tracer=none capture_seconds=0 max_lines=0 census_max_lines=0 started=${started}\n` +
    `${MARKER} trailer status=failed reason=bad-parameters tcptracer_lines=0 truncated=0 netns=0 elapsed=0\n`
  );
}

/** The script's `valid VALUE MIN MAX`: decimal, no sign, no leading zero, at most 6 digits, within bounds. */
export function validParameter(value: string | undefined, min: number, max: number): boolean {
  if (value === undefined || !/^(0|[1-9][0-9]{0,5})$/.test(value)) return false;
  const n = Number(value);
  return n >= min && n <= max;
}

/** The capture parameters of a container's environment, validated as the script does; null: bad-parameters. */
export function captureParameters(
  env: ReadonlyMap<string, string>,
): { captureSeconds: number; maxLines: number; censusMaxLines: number } | null {
  const L = CAPTURE_LIMITS;
  const secs = env.get(L.captureSeconds.env);
  const max = env.get(L.maxLines.env);
  const cmax = env.get(L.censusMaxLines.env);
  const enter = env.get(L.enterHost.env) ?? '1';
  if (
    !validParameter(secs, L.captureSeconds.min, L.captureSeconds.max) ||
    !validParameter(max, L.maxLines.min, L.maxLines.max) ||
    !validParameter(cmax, L.censusMaxLines.min, L.censusMaxLines.max) ||
    (enter !== '0' && enter !== '1')
  ) {
    return null;
  }
  return { captureSeconds: Number(secs), maxLines: Number(max), censusMaxLines: Number(cmax) };
}

/** About two thirds of the log, ending inside a line (no newline at the end), never on a framing line's start. */
export function cutMidLine(text: string): string {
  let at = Math.floor(text.length * 0.66);
  while (at > 1 && (text[at - 1] === '\n' || text[at] === '\n')) at--;
  return text.slice(0, at);
}
