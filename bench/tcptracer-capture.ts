/**
 * A deterministic, realistic bcc `tcptracer -tv` capture (FORMATS.md section 1): banner, header, then rows printed with
 * bcc's exact widths. Pods are (saddr, netns) pairs; one pod churns connections to a few public endpoints (the
 * culprit), the rest talk mostly to private services. Some COMMs hold spaces, some sockets are IPv6 or dual-stack
 * (`[::ffff:a.b.c.d]`), times jitter backwards as per-CPU buffers do, and `Possibly lost N samples` appears now and
 * then. Used by the parse benchmark and by the large-input property test.
 */
import { rng } from '../sim/net.js';

export interface CaptureOptions {
  /** Total lines, banner and header included. */
  readonly lines: number;
  readonly seed?: number;
  readonly pods?: number;
}

/** What the generator wrote, so tests can check a parse against it. */
export interface CaptureTruth {
  lines: number;
  events: { connect: number; accept: number; close: number };
  lostEvents: number;
  lostLines: number;
}

const COMMS = [
  'java',
  'OkHttp Dispatch',
  'HikariPool-1 ho',
  '.NET ThreadPool',
  'node',
  'python3',
  'curl',
  'nginx',
  'envoy',
  'grpc-default-ex',
];
const PUBLIC_DESTINATIONS = [
  '20.50.2.10',
  '20.60.128.4',
  '52.239.170.100',
  '13.107.42.14',
  '40.126.32.68',
  '104.208.16.90',
  '51.116.253.170',
  '20.150.38.228',
];
const PUBLIC_V6_DESTINATIONS = ['2603:1030:800:5::bfee:a418', '2620:1ec:bdf::40'];
const PRIVATE_DESTINATIONS = ['10.0.0.10', '10.0.12.4', '10.244.3.17', '172.16.5.9', '168.63.129.16', '192.168.10.20'];
const PORTS = [443, 443, 443, 5432, 6379, 1433, 9093];

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

interface Pod {
  readonly saddr: string;
  readonly saddr6: string | null;
  readonly netns: number;
  readonly pid: number;
  readonly comm: string;
}

/**
 * Yields the capture in chunks of about `chunkBytes` characters (ASCII only, so characters = bytes). `truth` is filled
 * in as the chunks are produced.
 */
export function* generateTcptracerCapture(
  options: CaptureOptions,
  truth: CaptureTruth = emptyTruth(),
  chunkBytes = 1 << 20,
): Generator<string> {
  const random = rng(options.seed ?? 20240917);
  const podCount = options.pods ?? 80;
  const pods: Pod[] = [];
  for (let i = 0; i < podCount; i++) {
    const dualStack = i % 10 === 3;
    const v6Only = i % 25 === 7;
    const v4 = `10.244.${1 + (i >> 6)}.${2 + (i & 63)}`;
    pods.push({
      saddr: v4,
      saddr6: v6Only ? `fd00:10:244::${(i + 2).toString(16)}` : dualStack ? `::ffff:${v4}` : null,
      netns: 4026532200 + i * 7,
      pid: 3000 + i * 37,
      comm: COMMS[i % COMMS.length]!,
    });
  }
  let chunk = 'Tracing TCP established connections. Ctrl-C to end.\n';
  chunk +=
    pad('TIME(ns)', 14) +
    `${pad('TYPE', 12)} ${pad('PID', 6)} ${pad('COMM', 16)} ${pad('IP', 2)} ${pad('SADDR', 16)} ${pad('DADDR', 16)} ${pad('SPORT', 6)} ${pad('DPORT', 7)}` +
    `${pad('NETNS', 8)}\n`;
  truth.lines = 2;
  let now = 0;
  let port = 32768;
  while (truth.lines < options.lines) {
    const r = random();
    truth.lines++;
    if (r < 0.0005) {
      const lost = 1 + Math.floor(random() * 50);
      truth.lostEvents += lost;
      truth.lostLines++;
      chunk += `Possibly lost ${lost} samples\n`;
    } else {
      // One pod in four connections is the culprit; the rest spread evenly.
      const pod = random() < 0.25 ? pods[0]! : pods[Math.floor(random() * podCount)]!;
      const kind = random();
      const type = kind < 0.55 ? 'connect' : kind < 0.93 ? 'close' : 'accept';
      truth.events[type]++;
      let daddr: string;
      const d = random();
      if (pod === pods[0]) daddr = PUBLIC_DESTINATIONS[Math.floor(d * 3)]!;
      else if (d < 0.45) daddr = PUBLIC_DESTINATIONS[Math.floor(random() * PUBLIC_DESTINATIONS.length)]!;
      else daddr = PRIVATE_DESTINATIONS[Math.floor(random() * PRIVATE_DESTINATIONS.length)]!;
      let ip = 4;
      let saddr = pod.saddr;
      if (pod.saddr6 !== null) {
        ip = 6;
        saddr = `[${pod.saddr6}]`;
        daddr = pod.saddr6.startsWith('::ffff:')
          ? `[::ffff:${daddr}]`
          : `[${PUBLIC_V6_DESTINATIONS[Math.floor(random() * PUBLIC_V6_DESTINATIONS.length)]!}]`;
      }
      port = port >= 60999 ? 32768 : port + 1 + Math.floor(random() * 3);
      const dport = PORTS[Math.floor(random() * PORTS.length)]!;
      let sport = port;
      let remotePort = dport;
      if (type === 'accept') {
        sport = 8080;
        remotePort = port;
      }
      now += Math.floor(random() * 20000);
      // Per-CPU buffers deliver some events late: their TIME is behind the previous line's.
      const time = random() < 0.02 ? now - Math.floor(random() * 2_000_000) : now;
      chunk +=
        pad(String(time), 14) +
        pad(type, 12) +
        ' ' +
        `${pad(String(pod.pid), 6)} ${pad(pod.comm, 16)} ${pad(String(ip), 2)} ${pad(saddr, 16)} ${pad(daddr, 16)} ` +
        `${pad(String(sport), 6)} ${pad(String(remotePort), 6)} ${pad(String(pod.netns), 8)}\n`;
    }
    if (chunk.length >= chunkBytes) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

export function emptyTruth(): CaptureTruth {
  return { lines: 0, events: { connect: 0, accept: 0, close: 0 }, lostEvents: 0, lostLines: 0 };
}
