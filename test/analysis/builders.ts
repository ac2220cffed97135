/** Small builders for analysis tests: socket documents go through the real `buildSocketDocument`. */
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { emptyEvidence } from '../../lib/analysis/evidence.js';
import type { NodeEvidence, PodCensus, PodEvidence, SocketCensus } from '../../lib/analysis/evidence.js';
import { buildSocketDocument } from '../../lib/parse/sockets.js';
import type { RawSocket } from '../../lib/parse/sockets.js';
import type { TcpState, TcptracerCapture, TcptracerSource } from '../../lib/parse/types.js';
import { splitHostPort } from '../../lib/analysis/ip.js';

export const classifier = new AddressClassifier();

function endpoint(text: string): { address: string; port: number } {
  const parts = splitHostPort(text);
  if (!parts) throw new Error(`bad endpoint ${text}`);
  return { address: parts.host.replace(/^\[|\]$/g, ''), port: parts.port };
}

/** `count` sockets from `local` (ports counting up from its port) to `remote` in `state`. */
export function rows(count: number, local: string, remote: string, state: TcpState = 'ESTABLISHED'): RawSocket[] {
  const l = endpoint(local);
  const r = endpoint(remote);
  return Array.from({ length: count }, (_, i) => ({
    localAddress: l.address,
    localPort: l.port + i,
    remoteAddress: r.address,
    remotePort: r.port,
    state,
    line: i + 2,
  }));
}

export function listen(local: string): RawSocket {
  const l = endpoint(local);
  return {
    localAddress: l.address,
    localPort: l.port,
    remoteAddress: '0.0.0.0',
    remotePort: 0,
    state: 'LISTEN',
    line: 1,
  };
}

export function socketCensus(origin: string, raw: RawSocket[], source: SocketCensus['source'] = 'file'): SocketCensus {
  return { source, origin, document: buildSocketDocument('netstat', 'net-tools', raw, [], { classifier }) };
}

export function podCensus(namespace: string, name: string, raw: RawSocket[]): PodCensus {
  return { namespace, name, ...socketCensus(`pods/${namespace}/${name}.txt`, raw) };
}

export function pod(namespace: string, name: string, extra: Partial<PodEvidence> = {}): PodEvidence {
  return { namespace, name, uid: null, ips: [], hostNetwork: false, owner: null, netns: null, ...extra };
}

export function source(
  saddr: string,
  netns: number | null,
  publicConnects: number,
  extra: Partial<TcptracerSource> = {},
): TcptracerSource {
  return {
    saddr,
    netns,
    connects: publicConnects,
    publicConnects,
    pids: [],
    comms: [],
    publicDestinations: [],
    spanSeconds: null,
    ...extra,
  };
}

export function capture(sources: TcptracerSource[], spanSeconds: number | null): TcptracerCapture {
  const connects = sources.reduce((sum, s) => sum + s.connects, 0);
  return {
    format: 'tcptracer',
    variant: 'bcc',
    timeUnit: spanSeconds === null ? null : 'ns',
    events: { connect: connects, accept: 0, close: 0 },
    lostEvents: 0,
    skipped: [],
    skippedTotal: 0,
    cutLastLine: false,
    spanSeconds,
    sources,
    publicDestinations: [],
  };
}

export function evidence(extra: Partial<NodeEvidence> = {}): NodeEvidence {
  return { ...emptyEvidence(), node: { name: 'aks-nodepool1-12345678-vmss000002', ip: '10.224.0.4' }, ...extra };
}

/** `count` inbound connections: clients (remote ports counting up) connecting to one listening `local` port. */
export function inbound(count: number, local: string, remote: string): RawSocket[] {
  return rows(count, remote, local).map((r) => ({
    localAddress: r.remoteAddress,
    localPort: r.remotePort,
    remoteAddress: r.localAddress,
    remotePort: r.localPort,
    state: r.state,
    line: r.line,
  }));
}
