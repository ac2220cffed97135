/**
 * What `netstat`, `ss` and `cat /proc/net/tcp{,6}` print for a socket table, byte for byte as the real tools do
 * (FORMATS.md sections 3, 5, 6; net-tools netstat.c tcp_do_one/addr_do_one, iproute2 misc/ss.c render(), the kernel's
 * tcp4_seq_show/get_tcp6_sock). Also the command dispatcher the simulated exec uses: which binaries an image has and
 * what a missing one looks like.
 */
import { TCP_STATES } from '../lib/parse/types.js';
import type { SimTcpState } from './scenario.js';
import { hex, ntop, procHex } from './net.js';
import type { SimSocket } from './world.js';

/** Whose processes a reader can see (`-p`): one container's PID namespace, or everything (the node, as root). */
export interface Viewer {
  readonly podKey: string | null;
  readonly container: string | null;
  /** Reads kernel pointers (%pK) like a CAP_SYSLOG holder: the privileged capture container. */
  readonly privileged?: boolean;
}

/** The `st` code of /proc/net/tcp: the position in include/net/tcp_states.h. */
const stateCode = (state: SimTcpState): number => TCP_STATES.indexOf(state) + 1;

/** Listening sockets come first (the kernel walks the listening hash before the established one). */
function kernelOrder(sockets: readonly SimSocket[], table: 'tcp' | 'tcp6'): SimSocket[] {
  const of = sockets.filter((s) => s.table === table);
  return [...of.filter((s) => s.state === 'LISTEN'), ...of.filter((s) => s.state !== 'LISTEN')];
}

function ownerVisible(socket: SimSocket, viewer: Viewer): boolean {
  const owner = socket.owner;
  if (!owner) return false;
  if (viewer.podKey === null) return true;
  return owner.process.podKey === viewer.podKey && owner.process.container === viewer.container;
}

// ---------------------------------------------------------------------------------------------------------------
// /proc/net/tcp, /proc/net/tcp6

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
const TCP6_HEADER =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';
/** seq_setwidth(TMPSZ - 1): every /proc/net/tcp line (header too) is padded to 149 characters. */
const TCP_LINE_WIDTH = 149;

function procRow(s: SimSocket, sl: number, privileged: boolean): string {
  const pointer = privileged ? s.kernelPointer.padStart(16, '0') : '0000000000000000';
  const head =
    `${String(sl).padStart(4)}: ${procHex(s.localAddress)}:${hex(s.localPort, 4)} ` +
    `${procHex(s.remoteAddress)}:${hex(s.remotePort, 4)} ${hex(stateCode(s.state), 2)} ` +
    `${hex(s.txQueue, 8)}:${hex(s.rxQueue, 8)} ${hex(s.timer, 2)}:${hex(s.timerWhen, 8)} ${hex(s.retransmits, 8)}`;
  if (s.state === 'TIME_WAIT') {
    // get_timewait4_sock / get_timewait6_sock: uid 0, timeout 0, inode 0, refcnt 3, and nothing after the pointer.
    return `${head} ${'0'.padStart(5)} ${'0'.padStart(8)} 0 3 ${pointer}`;
  }
  const listen = s.state === 'LISTEN';
  const rto = listen || s.state === 'SYN_SENT' ? 100 : 20;
  const tail = listen
    ? `${rto} 0 0 10 0`
    : `${rto} ${s.state === 'SYN_SENT' ? 0 : 4} ${s.state === 'SYN_SENT' ? 0 : 30} 10 -1`;
  return `${head} ${String(s.uid).padStart(5)} ${'0'.padStart(8)} ${s.inode} 1 ${pointer} ${tail}`;
}

/** The text of /proc/net/tcp (`table` tcp) or /proc/net/tcp6 of one network namespace. */
export function renderProcNetTcp(sockets: readonly SimSocket[], table: 'tcp' | 'tcp6', viewer: Viewer): string {
  const rows = kernelOrder(sockets, table).map((s, i) => procRow(s, i, viewer.privileged === true));
  if (table === 'tcp') {
    return [TCP_HEADER, ...rows].map((l) => l.padEnd(TCP_LINE_WIDTH) + '\n').join('');
  }
  return [TCP6_HEADER, ...rows].map((l) => l + '\n').join('');
}

// ---------------------------------------------------------------------------------------------------------------
// net-tools netstat

export interface NetstatFlags {
  readonly all: boolean;
  readonly listening: boolean;
  readonly programs: boolean;
  readonly wide: boolean;
}

/** addr_do_one(): without -W, `addr:port` longer than 23 is cut to exactly 23 by shortening the address. */
function netstatEndpoint(address: string, port: number, wide: boolean): string {
  const addr = ntop(address);
  const sport = port === 0 ? '*' : String(port);
  const shortLen = 22;
  if (!wide && addr.length + sport.length > shortLen) {
    const portLen = Math.min(sport.length, shortLen - 4);
    const addrLen = shortLen - portLen;
    return `${addr.slice(0, addrLen)}:${sport.slice(0, portLen)}`;
  }
  return `${addr}:${sport}`;
}

/** `PID/Program name`: pid/argv0 (its basename when it starts with "/"), cut to 19 characters; `-` when unknown. */
function netstatOwner(socket: SimSocket, viewer: Viewer): string {
  if (socket.inode === 0 || !ownerVisible(socket, viewer)) return '-';
  const { process } = socket.owner!;
  const argv0 = process.argv0.startsWith('/') ? process.argv0.slice(process.argv0.lastIndexOf('/') + 1) : process.argv0;
  return `${process.pid}/${argv0}`.slice(0, 19);
}

export function renderNetstat(sockets: readonly SimSocket[], flags: NetstatFlags, viewer: Viewer): string {
  const which = flags.all ? '(servers and established)' : flags.listening ? '(only servers)' : '(w/o servers)';
  let out = `Active Internet connections ${which}\n`;
  out += 'Proto Recv-Q Send-Q Local Address           Foreign Address         State      ';
  if (flags.programs) out += ` ${'PID/Program name'.padEnd(20)}`;
  out += '\n';
  for (const table of ['tcp', 'tcp6'] as const) {
    for (const s of kernelOrder(sockets, table)) {
      // tcp_do_one: without -a, a socket without a remote port (LISTEN) is a server; -l keeps only those.
      if (!flags.all && (flags.listening ? s.remotePort !== 0 : s.remotePort === 0)) continue;
      const local = netstatEndpoint(s.localAddress, s.localPort, flags.wide);
      const remote = netstatEndpoint(s.remoteAddress, s.remotePort, flags.wide);
      out +=
        `${table.padEnd(4)}  ${String(s.rxQueue).padStart(6)} ${String(s.txQueue).padStart(6)} ` +
        `${local.padEnd(Math.max(23, local.length))} ${remote.padEnd(Math.max(23, remote.length))} ${s.state.padEnd(11)}`;
      if (flags.programs) out += ` ${netstatOwner(s, viewer).padEnd(20)}`;
      out += '\n';
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// iproute2 ss

const SS_STATE: Record<SimTcpState, string> = {
  ESTABLISHED: 'ESTAB',
  SYN_SENT: 'SYN-SENT',
  SYN_RECV: 'SYN-RECV',
  FIN_WAIT1: 'FIN-WAIT-1',
  FIN_WAIT2: 'FIN-WAIT-2',
  TIME_WAIT: 'TIME-WAIT',
  CLOSE: 'UNCONN',
  CLOSE_WAIT: 'CLOSE-WAIT',
  LAST_ACK: 'LAST-ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
};

/** `ss state <name>` filter names. */
export const SS_STATE_FILTERS: Record<string, SimTcpState> = {
  established: 'ESTABLISHED',
  'syn-sent': 'SYN_SENT',
  'syn-recv': 'SYN_RECV',
  'fin-wait-1': 'FIN_WAIT1',
  'fin-wait-2': 'FIN_WAIT2',
  'time-wait': 'TIME_WAIT',
  closed: 'CLOSE',
  'close-wait': 'CLOSE_WAIT',
  'last-ack': 'LAST_ACK',
  listening: 'LISTEN',
  closing: 'CLOSING',
};

export interface SsFlags {
  readonly all: boolean;
  readonly listening: boolean;
  readonly processes: boolean;
  readonly header: boolean;
  /** `state <one state>`: only that state, and no State column. */
  readonly state?: SimTcpState;
}

/** SS_CONN: what ss shows without -a/-l (no LISTEN, CLOSE, TIME_WAIT, SYN_RECV). */
const SS_CONN = new Set<SimTcpState>([
  'ESTABLISHED',
  'SYN_SENT',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'CLOSE_WAIT',
  'LAST_ACK',
  'CLOSING',
]);

interface SsColumn {
  readonly align: 'left' | 'right';
  readonly header: string;
  readonly ldelim: string;
  readonly disabled: boolean;
}

function ssAddress(address: string, v6only: boolean): string {
  if (!address.includes(':')) return address;
  // inet_addr_print: the IPv6 wildcard of a socket that is not v6only is `*`; other IPv6 addresses are bracketed.
  const text = ntop(address);
  return text === '::' && !v6only ? '*' : `[${text}]`;
}

/** inet6_bind() sets IPV6_V6ONLY on a socket bound to one (non-mapped) IPv6 address. */
function isV6only(s: SimSocket): boolean {
  if (s.table !== 'tcp6') return false;
  const local = ntop(s.localAddress);
  return local !== '::' && !local.startsWith('::ffff:');
}

/**
 * misc/ss.c: every cell is a token of a column; widths come from the longest token (+ the left delimiter for all but
 * the first column); not on a tty, columns are not stretched to the screen (compact output). Right-aligned address
 * columns, left-aligned everything else; the Process column is there (empty) even without -p.
 */
export function renderSs(sockets: readonly SimSocket[], flags: SsFlags, viewer: Viewer): string {
  const columns: SsColumn[] = [
    { align: 'left', header: 'Netid', ldelim: '', disabled: true },
    { align: 'left', header: 'State', ldelim: ' ', disabled: flags.state !== undefined },
    { align: 'left', header: 'Recv-Q', ldelim: ' ', disabled: false },
    { align: 'left', header: 'Send-Q', ldelim: ' ', disabled: false },
    { align: 'right', header: 'Local Address:', ldelim: ' ', disabled: false },
    { align: 'left', header: 'Port', ldelim: '', disabled: false },
    { align: 'right', header: 'Peer Address:', ldelim: ' ', disabled: false },
    { align: 'left', header: 'Port', ldelim: '', disabled: false },
    { align: 'left', header: 'Process', ldelim: '', disabled: false },
    { align: 'left', header: '', ldelim: '', disabled: false },
  ];
  const enabled = columns.filter((c) => !c.disabled);
  const lines: string[][] = [];
  if (flags.header) lines.push([...enabled.slice(0, -1).map((c) => c.header), '']);

  for (const table of ['tcp', 'tcp6'] as const) {
    for (const s of kernelOrder(sockets, table)) {
      const shown =
        flags.state !== undefined
          ? s.state === flags.state
          : flags.all || (flags.listening ? s.state === 'LISTEN' : SS_CONN.has(s.state));
      if (!shown) continue;
      const listen = s.state === 'LISTEN';
      const rq = listen ? 0 : s.rxQueue;
      const wq = listen ? s.backlog : s.txQueue;
      const owner =
        flags.processes && s.inode !== 0 && ownerVisible(s, viewer)
          ? ` users:(("${s.owner!.process.comm}",pid=${s.owner!.process.pid},fd=${s.owner!.fd}))`
          : '';
      const cells = [
        SS_STATE[s.state],
        String(rq).padEnd(6),
        String(wq).padEnd(6),
        `${ssAddress(s.localAddress, isV6only(s))}:`,
        s.localPort === 0 ? '*' : String(s.localPort),
        `${ssAddress(s.remoteAddress, isV6only(s))}:`,
        s.remotePort === 0 ? '*' : String(s.remotePort),
        owner,
        '',
      ];
      lines.push(flags.state !== undefined ? cells.slice(1) : cells);
    }
  }
  if (lines.length === 0) return '';

  const widths = enabled.map((column, i) => {
    const maxLen = Math.max(...lines.map((l) => l[i]!.length));
    return i > 0 && maxLen > 0 ? maxLen + column.ldelim.length : maxLen;
  });
  let out = '';
  for (const line of lines) {
    let text = '';
    line.forEach((token, i) => {
      const column = enabled[i]!;
      const width = widths[i]!;
      let printed = 0;
      if (i > 0) {
        text += column.ldelim;
        printed = column.ldelim.length;
      }
      if (width > 0 && column.align === 'right') {
        const pad = width - token.length - printed;
        if (pad > 0) {
          text += ' '.repeat(pad);
          printed += pad;
        }
      }
      text += token;
      printed += token.length;
      if (width > 0 && column.align === 'left' && width - printed > 0) text += ' '.repeat(width - printed);
    });
    out += text + '\n';
  }
  return out;
}
