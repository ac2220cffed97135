/**
 * iproute2 `ss -tn[p][a][H]` and `ss -tn state established` output (FORMATS.md section 5) into the socket census
 * document.
 *
 * Columns are `[Netid] [State] Recv-Q Send-Q Local:Port Peer:Port [Process]`: Netid only when several tables are shown,
 * State hidden when one state was selected, no header with -H. Each row says which of these it carries (a Netid is one of
 * ss's table names, a State an ss state name, the queues are numbers), so rows are read one by one and a
 * missing header (-H, or output piped through grep) changes nothing. Compact (not a tty) and padded (tty, COLUMNS)
 * layouts differ only in spaces.
 */
import { parseAddress } from '../analysis/ip.js';
import { splitLines } from './lines.js';
import { documentFromScan, fieldsOf, looksLikeToolError, splitEndpoint } from './sockets.js';
import type { RawSocket, SocketDocument, SocketDocumentOptions, SocketScan } from './sockets.js';
import type { Parsed, SkippedLine, TcpState } from './types.js';

/** ss's state names (misc/ss.c sstate_name) to the kernel's. UNCONN is TCP_CLOSE, handled apart. */
const SS_STATES: ReadonlyMap<string, TcpState> = new Map([
  ['ESTAB', 'ESTABLISHED'],
  ['SYN-SENT', 'SYN_SENT'],
  ['SYN-RECV', 'SYN_RECV'],
  ['NEW-SYN-RECV', 'SYN_RECV'],
  ['FIN-WAIT-1', 'FIN_WAIT1'],
  ['FIN-WAIT-2', 'FIN_WAIT2'],
  ['TIME-WAIT', 'TIME_WAIT'],
  ['CLOSE-WAIT', 'CLOSE_WAIT'],
  ['LAST-ACK', 'LAST_ACK'],
  ['LISTEN', 'LISTEN'],
  ['CLOSING', 'CLOSING'],
]);
const OTHER_STATES = new Set(['UNCONN', 'UNKNOWN']);

const HEADER = /Recv-Q\s+Send-Q\s+Local\s+Address:Port\s+Peer\s+Address:Port/;
/** misc/ss.c's table names; a known list, so that netstat's `tcp6` rows never pass for ss rows. */
const NETIDS = new Set([
  'tcp',
  'udp',
  'raw',
  'dccp',
  'sctp',
  'mptcp',
  'u_str',
  'u_dgr',
  'u_seq',
  'nl',
  'p_raw',
  'p_dgr',
  'v_str',
  'v_dgr',
  'xdp',
  'tipc',
  'icmp6',
]);
const QUEUE = /^\d+$/;
/** First owner of `users:(("name",pid=N,fd=N),...)`; iproute2 before 3.x printed `("name",N,N)`. */
const USERS = /users:\(\("(.*?)",(?:pid=)?(\d+),/;

/** A cheap look at the first few KB: does this read like ss output? */
export function looksLikeSs(head: string): boolean {
  return (
    HEADER.test(head) ||
    /^(?:tcp\s+)?(?:ESTAB|SYN-SENT|SYN-RECV|FIN-WAIT-[12]|TIME-WAIT|CLOSE-WAIT|LAST-ACK|LISTEN|CLOSING|UNCONN)\s+\d+\s+\d+\s+\S+:(?:\d+|\*)\s+\S+:(?:\d+|\*)(?:\s|$)/m.test(
      head,
    ) ||
    // Without a State cell: what follows the peer is the process or -e/-o extras (lowercase), never a netstat state.
    /^(?:tcp\s+)?\d+\s+\d+\s+\S+:(?:\d+|\*)\s+\S+:(?:\d+|\*)(?=\s*$|\s+[a-z])/m.test(head)
  );
}

export function parseSs(text: string, options: SocketDocumentOptions = {}): Parsed<SocketDocument> {
  return documentFromScan('ss', 'ss', text, scanSs(text), options);
}

/** Reads every line into a row, a skipped line or a layout line. */
export function scanSs(text: string): SocketScan {
  const rows: RawSocket[] = [];
  const skipped: SkippedLine[] = [];
  const layoutLines: number[] = [];
  let recognised = false;

  for (const { text: line, number } of splitLines(text)) {
    const skip = (reason: string) => skipped.push({ line: number, reason });
    if (line.trim().length === 0) {
      layoutLines.push(number);
      continue;
    }
    if (HEADER.test(line)) {
      recognised = true;
      layoutLines.push(number);
      continue;
    }
    const result = readRow(line, number);
    if (result === null) {
      if (looksLikeToolError(line.trim())) skip('an error message (stderr), not an ss row');
      else skip(/^\s/.test(line) ? 'not an ss row (a detail line of -i/-m/-e?)' : 'not an ss row');
      continue;
    }
    recognised = true;
    if (typeof result === 'string') skip(result);
    else rows.push(result);
  }
  return { variant: 'ss', rows, skipped, layoutLines, recognised };
}

/** A socket, a reason to skip a row that is recognisably ss's, or null for a line that is not an ss row at all. */
function readRow(line: string, number: number): RawSocket | string | null {
  const fields = fieldsOf(line);
  let i = 0;
  const first = fields[0]?.text ?? '';
  const netid = NETIDS.has(first) ? first : undefined;
  if (netid !== undefined) i += 1;
  const second = fields[i]?.text ?? '';
  const stateText = SS_STATES.has(second) || OTHER_STATES.has(second) ? second : undefined;
  if (stateText !== undefined) i += 1;
  const [recvQ, sendQ, local, peer, process] = fields.slice(i);
  if (!recvQ || !sendQ || !local || !peer || !QUEUE.test(recvQ.text) || !QUEUE.test(sendQ.text)) return null;
  if (netid !== undefined && netid !== 'tcp') return `not a TCP socket (${netid})`;
  // What follows the peer is the process or -e/-o/-m extras (`users:`, `timer:`, `ino:`, `<->`); an uppercase word
  // there is a netstat state (`tcp 0 0 a:1 b:2 ESTABLISHED`), which must not read as an ss row without a State cell.
  if (process && !/^[a-z<]/.test(process.text)) return null;

  let state: TcpState;
  if (stateText === undefined) {
    // No State cell: `ss ... state <one state>` hides it. The documented use is `state established`; another
    // filter (`state syn-sent`) cannot be told from the output, so such a capture reads as ESTABLISHED.
    state = 'ESTABLISHED';
  } else if (stateText === 'UNCONN') {
    // ss names TCP_CLOSE `UNCONN`, the same word as for unconnected UDP: only a tcp Netid says which it is.
    if (netid !== 'tcp') return 'UNCONN socket (UDP, or a closed TCP socket): holds no connection';
    state = 'CLOSE';
  } else {
    const mapped = SS_STATES.get(stateText);
    if (!mapped) return `unknown ss state ${JSON.stringify(stateText)}`;
    state = mapped;
  }

  const localEnd = endpointOf(local.text);
  const peerEnd = endpointOf(peer.text);
  if (typeof localEnd === 'string') return localEnd;
  if (typeof peerEnd === 'string') return peerEnd;
  const owner = process ? USERS.exec(line.slice(process.start)) : null;
  const pid = owner?.[2] !== undefined ? Number(owner[2]) : undefined;
  return {
    localAddress: localEnd.host,
    localPort: localEnd.port,
    remoteAddress: peerEnd.host,
    remotePort: peerEnd.port,
    state,
    ...(pid !== undefined && Number.isSafeInteger(pid) ? { pid } : {}),
    ...(owner?.[1] ? { program: owner[1] } : {}),
    line: number,
  };
}

/**
 * `1.2.3.4:443`, `[::ffff:1.2.3.4]:443`, `[fe80::1]%eth0:22`, `127.0.0.53%lo:53`, `*:22`, `0.0.0.0:*`. ss writes `*` for
 * the wildcard of a dual-stack socket, which /proc/net/tcp6 and netstat write `::`: use theirs, so the three agree.
 */
function endpointOf(text: string): { host: string; port: number } | string {
  const end = splitEndpoint(text);
  if (!end) return `no numeric port in ${JSON.stringify(text)} (run ss with -n)`;
  // `[fe80::1]%eth0`: the zone follows the bracket; written inside it, the address parses like any other.
  const bracketed = /^\[([^\]]*)\](%\S*)?$/.exec(end.host);
  const host = end.host === '*' ? '::' : bracketed ? `${bracketed[1]}${bracketed[2] ?? ''}` : end.host;
  if (parseAddress(host) === null) return `${JSON.stringify(end.host)} is not an IP address (run ss with -n)`;
  return { host, port: end.port };
}
