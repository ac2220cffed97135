/**
 * The socket census document shared by the netstat, ss and /proc/net/tcp parsers. Each parser turns its tool's rows
 * into `RawSocket`s; this module canonicalises endpoints, classifies remotes, tells inbound from outbound and builds
 * the summary, so the three formats agree by construction.
 */
import { AddressClassifier, defaultClassifier, formatEndpoint, parseAddress, formatAddress } from '../analysis/ip.js';
import { bump, rankCounts } from '../analysis/counting.js';
import type { Direction, SkippedLine, TcpState } from './types.js';

export type SocketFormat = 'netstat' | 'ss' | 'proc-net-tcp';
export type SocketVariant = 'net-tools' | 'busybox' | 'ss' | 'proc';

/** A row as a parser read it, before canonicalisation. Addresses as printed (brackets, zone, mapped forms allowed). */
export interface RawSocket {
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: TcpState;
  readonly pid?: number;
  readonly program?: string;
  /** 1-based input line, kept for data-quality notes. */
  readonly line: number;
  /** Set when the tool may have printed a cut address (net-tools without -W: 23-char tcp6 fields). */
  readonly suspect?: 'truncated-address';
}

export interface Socket {
  readonly local: string;
  readonly remote: string;
  readonly state: TcpState;
  readonly pid?: number;
  readonly program?: string;
  readonly remotePublic: boolean;
  readonly direction: Direction;
  readonly suspect?: 'truncated-address';
}

export interface SocketSummary {
  readonly byState: Partial<Record<TcpState, number>>;
  readonly established: number;
  /** The article's rule: ESTABLISHED with a public remote. */
  readonly establishedPublic: number;
  /** Same, without inbound connections (local port is a listening port). */
  readonly establishedPublicOutbound: number;
  /** ESTABLISHED outbound public connections per remote endpoint. */
  readonly publicDestinations: Array<{ endpoint: string; count: number }>;
}

export interface SocketDocument {
  readonly format: SocketFormat;
  readonly variant: SocketVariant;
  readonly sockets: Socket[];
  readonly skipped: SkippedLine[];
  readonly summary: SocketSummary;
}

export interface SocketDocumentOptions {
  /** Ports the pod listens on beyond the LISTEN rows of the input (`--listening-ports`). */
  readonly listeningPorts?: readonly number[];
  readonly classifier?: AddressClassifier;
}

/** Linux's default ephemeral range (net.ipv4.ip_local_port_range), for the direction heuristic. */
const EPHEMERAL_LOW = 32768;

/**
 * Direction of a non-LISTEN socket. A local port that some socket listens on means the peer connected to us. When
 * nothing says which ports listen (netstat without -a prints no LISTEN rows), fall back to port ranges: an ephemeral
 * local port talking to a service port is outbound, a service port talking to an ephemeral peer is inbound.
 */
export function directionOf(localPort: number, remotePort: number, listening: ReadonlySet<number>): Direction {
  if (listening.has(localPort)) return 'inbound';
  if (listening.size > 0) return 'outbound';
  const localEphemeral = localPort >= EPHEMERAL_LOW;
  const remoteEphemeral = remotePort >= EPHEMERAL_LOW;
  if (localEphemeral && !remoteEphemeral) return 'outbound';
  if (!localEphemeral && remoteEphemeral) return 'inbound';
  return 'unknown';
}

function canonicalEndpoint(address: string, port: number): string {
  const parsed = parseAddress(address);
  return formatEndpoint(parsed ? formatAddress(parsed) : address, port);
}

export function buildSocketDocument(
  format: SocketFormat,
  variant: SocketVariant,
  rows: readonly RawSocket[],
  skipped: SkippedLine[],
  options: SocketDocumentOptions = {},
): SocketDocument {
  const classifier = options.classifier ?? defaultClassifier;
  const listening = new Set<number>(options.listeningPorts ?? []);
  for (const row of rows) if (row.state === 'LISTEN') listening.add(row.localPort);

  const byState = new Map<TcpState, number>();
  const destinations = new Map<string, number>();
  let established = 0;
  let establishedPublic = 0;
  let establishedPublicOutbound = 0;

  const sockets = rows.map((row): Socket => {
    const remotePublic = row.state !== 'LISTEN' && classifier.isPublic(row.remoteAddress);
    const direction = row.state === 'LISTEN' ? 'inbound' : directionOf(row.localPort, row.remotePort, listening);
    const remote = canonicalEndpoint(row.remoteAddress, row.remotePort);
    bump(byState, row.state);
    if (row.state === 'ESTABLISHED') {
      established += 1;
      if (remotePublic) {
        establishedPublic += 1;
        if (direction !== 'inbound') {
          establishedPublicOutbound += 1;
          bump(destinations, remote);
        }
      }
    }
    return {
      local: canonicalEndpoint(row.localAddress, row.localPort),
      remote,
      state: row.state,
      ...(row.pid !== undefined ? { pid: row.pid } : {}),
      ...(row.program !== undefined ? { program: row.program } : {}),
      remotePublic,
      direction,
      ...(row.suspect ? { suspect: row.suspect } : {}),
    };
  });

  const byStateObject: Partial<Record<TcpState, number>> = {};
  for (const [state, count] of [...byState].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    byStateObject[state] = count;
  }
  return {
    format,
    variant,
    sockets,
    skipped,
    summary: {
      byState: byStateObject,
      established,
      establishedPublic,
      establishedPublicOutbound,
      publicDestinations: rankCounts(destinations, 'endpoint', 'count'),
    },
  };
}
