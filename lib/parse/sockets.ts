/**
 * The socket census document shared by the netstat, ss and /proc/net/tcp parsers. Each parser turns its tool's rows
 * into `RawSocket`s; this module canonicalises endpoints, classifies remotes, tells inbound from outbound and builds
 * the summary, so the three formats agree by construction.
 */
import {
  AddressClassifier,
  defaultClassifier,
  formatEndpoint,
  parseAddress,
  formatAddress,
  splitHostPort,
} from '../analysis/ip.js';
import { bump, rankCounts } from '../analysis/counting.js';
import { quote } from './json.js';
import { splitLines } from './lines.js';
import { accept, reject } from './types.js';
import type { Direction, Parsed, SkippedLine, TcpState } from './types.js';

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
 * Direction of a non-LISTEN socket. A local port that some socket listens on means the peer connected to us. When the
 * input lists every listening socket (LISTEN rows: `netstat -a`, `ss -a`, /proc), any other local port is outbound.
 * Otherwise (netstat without -a, or only `--listening-ports`, which may be partial) fall back to port ranges: an
 * ephemeral local port talking to a service port is outbound, a service port talking to an ephemeral peer is inbound.
 */
export function directionOf(
  localPort: number,
  remotePort: number,
  listening: ReadonlySet<number>,
  listeningComplete: boolean,
): Direction {
  if (listening.has(localPort)) return 'inbound';
  if (listeningComplete) return 'outbound';
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
  let listeningComplete = false;
  for (const row of rows) {
    if (row.state === 'LISTEN') {
      listening.add(row.localPort);
      listeningComplete = true;
    }
  }

  const byState = new Map<TcpState, number>();
  const destinations = new Map<string, number>();
  let established = 0;
  let establishedPublic = 0;
  let establishedPublicOutbound = 0;

  const sockets = rows.map((row): Socket => {
    const remotePublic = row.state !== 'LISTEN' && classifier.isPublic(row.remoteAddress);
    const direction =
      row.state === 'LISTEN' ? 'inbound' : directionOf(row.localPort, row.remotePort, listening, listeningComplete);
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

// ---------------------------------------------------------------------------------------------------------------
// Shared by the three census parsers: what a scan of the input found, and the decision to accept or reject it.

/** What a census parser read, before the document is built. Every input line is in exactly one of the three lists. */
export interface SocketScan {
  readonly variant: SocketVariant;
  readonly rows: RawSocket[];
  readonly skipped: SkippedLine[];
  /** Header, banner and blank lines: part of the tool's layout, not data and not a problem. */
  readonly layoutLines: number[];
  /** A header or a row of this format was seen (a row that was then skipped, e.g. UDP, counts too). */
  readonly recognised: boolean;
}

/**
 * Lines a shell, kubectl, the container runtime or the tool itself prints instead of the output we asked for. Only
 * used to word the rejection of an input that holds nothing of the format: inside real output such lines are skipped.
 */
const TOOL_ERRORS: readonly RegExp[] = [
  /\bnot found\b/i,
  /No such file or directory/i,
  /^OCI runtime exec failed/,
  /executable file not found/i,
  /^error(?: from server)?\b/i,
  /^\(No info could be read for "-p"/,
  /^\(Not all processes could be identified/,
  /\binvalid option\b|\bunrecognized option\b|^Usage:/i,
  /^RTNETLINK answers:/,
  /permission denied/i,
  /^[\w./-]+: can't /,
];

export function looksLikeToolError(line: string): boolean {
  return TOOL_ERRORS.some((re) => re.test(line));
}

/**
 * Accepts a scan that recognised its format (even with zero sockets: a header alone is a valid empty census) and
 * rejects anything else, naming the first line that is there instead.
 */
export function documentFromScan(
  format: SocketFormat,
  tool: string,
  text: string,
  scan: SocketScan,
  options: SocketDocumentOptions = {},
): Parsed<SocketDocument> {
  if (scan.recognised) {
    return accept(buildSocketDocument(format, scan.variant, scan.rows, scan.skipped, options));
  }
  let first: { text: string; number: number } | undefined;
  for (const line of splitLines(text)) {
    if (line.text.trim().length > 0) {
      first = line;
      break;
    }
  }
  if (!first) return reject({ code: 'empty', message: `empty input: expected ${tool} output` });
  if (looksLikeToolError(first.text.trim())) {
    return reject({
      code: 'tool-error',
      line: first.number,
      message: `not ${tool} output but an error message: ${quote(first.text.trim())}`,
    });
  }
  return reject({
    code: 'not-' + format,
    line: first.number,
    message: `not ${tool} output: no header and no TCP row (first line: ${quote(first.text)})`,
  });
}

/** Whitespace-separated fields with their start offsets, so a free-text last column can be cut from the line. */
export function fieldsOf(text: string): Array<{ text: string; start: number }> {
  const fields: Array<{ text: string; start: number }> = [];
  const re = /\S+/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) fields.push({ text: m[0], start: m.index });
  return fields;
}

/**
 * `host:port` as netstat and ss print it, split on the last colon (IPv6 hosts hold colons). A port of `*` (the peer
 * of a listening socket) is 0, as /proc/net/tcp writes it.
 */
export function splitEndpoint(text: string): { host: string; port: number } | null {
  if (text.endsWith(':*') && text.length > 2) return { host: text.slice(0, -2), port: 0 };
  return splitHostPort(text);
}
