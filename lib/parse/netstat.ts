/**
 * `netstat -tn[p][a]` output, net-tools and busybox alike (FORMATS.md sections 3, 4), into the socket census document.
 *
 * Both print the same columns (`Proto Recv-Q Send-Q Local Foreign State [PID/Program name]`), so rows are read as
 * whitespace fields with the owner as free text after the state. The variants differ where it matters:
 * - net-tools writes `tcp6` for /proc/net/tcp6 rows and, without -W, cuts an address so that `addr:port` is 23
 *   characters; busybox writes `tcp` for every row and never cuts (its columns overflow instead).
 * - the owner is `PID/argv0` cut to 19 characters (both tools), free text that may hold spaces and colons
 *   (`12/nginx: worker pr`); `-` means the owner was not visible.
 */
import { parseAddress } from '../analysis/ip.js';
import { splitLines } from './lines.js';
import { documentFromScan, fieldsOf, looksLikeToolError, splitEndpoint } from './sockets.js';
import type { RawSocket, SocketDocument, SocketDocumentOptions, SocketScan } from './sockets.js';
import { TCP_STATES } from './types.js';
import type { Parsed, SkippedLine, TcpState } from './types.js';

const TCP_PROTOS = new Set(['tcp', 'tcp6']);
/** Other sockets netstat lists without -t (or with -a alone): part of the format, not TCP. */
const OTHER_PROTOS = new Set(['udp', 'udp6', 'udpl', 'udpl6', 'raw', 'raw6', 'unix', 'sctp', 'sctp6']);
const STATES = new Set<string>(TCP_STATES);

/** net-tools pads `addr:port` to 23 and, without -W, cuts longer ones to exactly this length. */
const NET_TOOLS_ADDRESS_WIDTH = 23;
/** Both tools cut `PID/Program name` to this many characters (a 20-byte buffer with its NUL). */
const OWNER_WIDTH = 19;

const BANNER = /^Active (?:Internet connections|UNIX domain sockets|Bluetooth connections)\b/;
const HEADER = /^Proto\s+(?:Recv-Q|RefCnt)\b/;
/** The non-root notes net-tools prints on stderr (they land in the same file when 2>&1 was used). */
const NET_TOOLS_NOTES: ReadonlyArray<[RegExp, string]> = [
  [/^\(Not all processes could be identified/, 'netstat note (not root): owners of some sockets are not shown'],
  [/^\s*will not be shown, you would have to be root/, 'netstat note (not root): owners of some sockets are not shown'],
  [/^\(No info could be read for "-p"/, 'netstat note (not root): -p could read no process information'],
];
const BUSYBOX_NOTE = /^netstat: (showing only processes with your user ID|can't scan \/proc - are you root\?)/;
const OWNER = /(?:^|\s)(\d+)\/(\S)/;

/** A cheap look at the first few KB: does this read like netstat output? */
export function looksLikeNetstat(head: string): boolean {
  return (
    /^Active Internet connections\b/m.test(head) ||
    /^Proto\s+Recv-Q\s+Send-Q\s+Local Address\s+Foreign Address\b/m.test(head) ||
    /^tcp6?\s+\d+\s+\d+\s+\S+:(?:\d+|\*)\s+\S+:(?:\d+|\*)\s+[A-Z][A-Z_12]+\b/m.test(head)
  );
}

export function parseNetstat(text: string, options: SocketDocumentOptions = {}): Parsed<SocketDocument> {
  return documentFromScan('netstat', 'netstat', text, scanNetstat(text), options);
}

/**
 * Reads every line into a row, a skipped line or a layout line. A final line without a newline is read like any
 * other: census files are whole outputs (often saved by hand), not streams cut by `timeout`.
 */
export function scanNetstat(text: string): SocketScan {
  const rows: RawSocket[] = [];
  const skipped: SkippedLine[] = [];
  const layoutLines: number[] = [];
  let recognised = false;
  let netTools = false;
  let busybox = false;

  for (const { text: line, number } of splitLines(text)) {
    const skip = (reason: string) => skipped.push({ line: number, reason });
    if (line.trim().length === 0) {
      layoutLines.push(number);
      continue;
    }
    const fields = fieldsOf(line);
    const proto = fields[0]?.text ?? '';
    if (TCP_PROTOS.has(proto)) {
      recognised = true;
      if (proto === 'tcp6') netTools = true;
      const row = readTcpRow(line, fields, number, skip);
      if (row) {
        if (proto === 'tcp' && row.localAddress.includes(':')) busybox = true;
        rows.push(row);
      }
      continue;
    }
    if (OTHER_PROTOS.has(proto)) {
      recognised = true;
      if (proto.endsWith('6')) netTools = true;
      skip(`not a TCP socket (${proto})`);
      continue;
    }
    if (BANNER.test(line) || HEADER.test(line)) {
      recognised = true;
      layoutLines.push(number);
      continue;
    }
    const note = NET_TOOLS_NOTES.find(([re]) => re.test(line));
    if (note) {
      skip(note[1]);
      continue;
    }
    if (BUSYBOX_NOTE.test(line)) {
      busybox = true;
      skip('busybox netstat note (not root): owners of some sockets are not shown');
      continue;
    }
    skip(looksLikeToolError(line.trim()) ? 'an error message (stderr), not a netstat row' : 'not a netstat row');
  }

  // A `tcp6` row can only come from net-tools; busybox shows itself by IPv6 rows under `tcp` or by its own notes.
  // IPv4-only output without notes reads the same from both: call it net-tools, the article's tool.
  const variant = busybox && !netTools ? 'busybox' : 'net-tools';
  return { variant, rows, skipped, layoutLines, recognised };
}

function readTcpRow(
  line: string,
  fields: ReadonlyArray<{ text: string; start: number }>,
  number: number,
  skip: (reason: string) => void,
): RawSocket | null {
  const [proto, recvQ, sendQ, local, remote, state, owner] = fields;
  if (!proto || !recvQ || !sendQ || !local || !remote || !state) {
    skip(`${proto?.text ?? 'tcp'} row with ${fields.length} columns, expected at least 6`);
    return null;
  }
  if (!/^\d+$/.test(recvQ.text) || !/^\d+$/.test(sendQ.text)) {
    skip('Recv-Q/Send-Q columns are not numbers');
    return null;
  }
  if (!STATES.has(state.text)) {
    skip(`unknown TCP state ${JSON.stringify(state.text)}`);
    return null;
  }
  const localEnd = splitEndpoint(local.text);
  const remoteEnd = splitEndpoint(remote.text);
  if (!localEnd || !remoteEnd) {
    skip(`no numeric port in ${JSON.stringify(localEnd ? remote.text : local.text)} (run netstat with -n)`);
    return null;
  }
  // net-tools without -W cuts tcp6 addresses so that the field is exactly 23 characters: `::ffff:52.239.170.100:443`
  // becomes `::ffff:52.239.170.1:443`, a different valid address. Such a row is kept and flagged. A cut that leaves
  // no address at all (`::ffff:192.168.100:6379`) is kept too, flagged, with the text as printed: the port and state
  // still count, and the classifier never calls an unparseable address public. Any other non-address (a host name
  // when -n was missing) is skipped.
  const suspect =
    proto.text === 'tcp6' &&
    (local.text.length === NET_TOOLS_ADDRESS_WIDTH || remote.text.length === NET_TOOLS_ADDRESS_WIDTH);
  for (const [end, raw] of [
    [localEnd, local.text],
    [remoteEnd, remote.text],
  ] as const) {
    if (parseAddress(end.host) === null && !(suspect && raw.length === NET_TOOLS_ADDRESS_WIDTH)) {
      skip(`${JSON.stringify(end.host)} is not an IP address (run netstat with -n)`);
      return null;
    }
  }
  return {
    localAddress: localEnd.host,
    localPort: localEnd.port,
    remoteAddress: remoteEnd.host,
    remotePort: remoteEnd.port,
    state: state.text as TcpState,
    ...(owner ? ownerOf(line.slice(owner.start)) : {}),
    line: number,
    ...(suspect ? { suspect: 'truncated-address' as const } : {}),
  };
}

/**
 * The owner cell: `PID/Program name`, `-`, or absent. Searched for rather than taken as the 7th field so that `-e`
 * (User and Inode columns before it) and `-o` (a Timer column after it) do not read as the program.
 */
function ownerOf(rest: string): { pid?: number; program?: string } {
  const m = OWNER.exec(rest);
  if (!m?.[1]) return {};
  const pid = Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return {};
  const start = m.index + (m[0].length - m[1].length - 2);
  const cell = rest.slice(start, start + OWNER_WIDTH).trimEnd();
  const program = cell.slice(cell.indexOf('/') + 1);
  return program.length > 0 ? { pid, program } : { pid };
}
