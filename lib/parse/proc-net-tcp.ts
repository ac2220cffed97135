/**
 * `/proc/net/tcp` and `/proc/net/tcp6` (FORMATS.md section 6), alone or concatenated (`cat /proc/net/tcp
 * /proc/net/tcp6`: the second header sits in the middle), into the socket census document. No tool is needed in the
 * pod, but there is no owner either: sockets carry no pid or program.
 *
 * Row: `sl: LOCAL:PORT REMOTE:PORT st ...` with addresses in hex. The kernel prints each `__be32` word as a host-order
 * integer, so on little-endian machines (x86_64, arm64: every AKS node) the bytes of each 32-bit word come out
 * reversed: 10.224.0.37 is `2500E00A`; IPv6 is four such words. Only the first five fields are read: TIME_WAIT rows
 * have fewer trailing fields, and tcp lines are space-padded to 149 characters.
 */
import { splitLines } from './lines.js';
import { documentFromScan } from './sockets.js';
import type { RawSocket, SocketDocument, SocketDocumentOptions, SocketScan } from './sockets.js';
import { TCP_STATES } from './types.js';
import type { Parsed, SkippedLine } from './types.js';

/** `tcp` and `tcp6` headers (`rem_address` vs `remote_address`); udp's ends with `ref pointer drops`. */
const HEADER = /^\s*sl\s+local_address\s+rem(?:ote)?_address\s+st\b/;
const UDP_HEADER = /\bdrops\s*$/;
const ROW = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})(?:\s|$)/;

/** A cheap look at the first few KB: does this read like /proc/net/tcp{,6}? */
export function looksLikeProcNetTcp(head: string): boolean {
  return HEADER.test(head) || /^\s*\d+:\s+(?:[0-9A-F]{8}|[0-9A-F]{32}):[0-9A-F]{4}\s+/m.test(head);
}

export function parseProcNetTcp(text: string, options: SocketDocumentOptions = {}): Parsed<SocketDocument> {
  return documentFromScan('proc-net-tcp', '/proc/net/tcp', text, scanProcNetTcp(text), options);
}

/** Reads every line into a row, a skipped line or a layout line. */
export function scanProcNetTcp(text: string): SocketScan {
  const rows: RawSocket[] = [];
  const skipped: SkippedLine[] = [];
  const layoutLines: number[] = [];
  let recognised = false;
  // `cat /proc/net/*` may bring /proc/net/udp along: its rows look the same, only its header tells them apart.
  let inUdp = false;

  for (const { text: line, number } of splitLines(text)) {
    const skip = (reason: string) => skipped.push({ line: number, reason });
    if (line.trim().length === 0) {
      layoutLines.push(number);
      continue;
    }
    if (HEADER.test(line)) {
      recognised = true;
      inUdp = UDP_HEADER.test(line);
      layoutLines.push(number);
      continue;
    }
    const m = ROW.exec(line);
    if (!m) {
      skip('not a /proc/net/tcp row');
      continue;
    }
    recognised = true;
    if (inUdp) {
      skip('not a TCP socket (a /proc/net/udp row)');
      continue;
    }
    const [, localHex = '', localPortHex = '', remoteHex = '', remotePortHex = '', stHex = ''] = m;
    const localAddress = decodeAddress(localHex);
    const remoteAddress = decodeAddress(remoteHex);
    if (localAddress === null || remoteAddress === null || localHex.length !== remoteHex.length) {
      skip('addresses are not 8 (IPv4) or 32 (IPv6) hex digits of one family');
      continue;
    }
    const state = TCP_STATES[parseInt(stHex, 16) - 1];
    if (state === undefined) {
      skip(`unknown TCP state code ${stHex}`);
      continue;
    }
    rows.push({
      localAddress,
      localPort: parseInt(localPortHex, 16),
      remoteAddress,
      remotePort: parseInt(remotePortHex, 16),
      state,
      line: number,
    });
  }
  return { variant: 'proc', rows, skipped, layoutLines, recognised };
}

/**
 * Hex as the kernel prints it -> address text (dotted quad, or eight full IPv6 groups that the census canonicalises).
 * Each 32-bit word is byte-reversed (little-endian host).
 */
export function decodeAddress(hex: string): string | null {
  if (hex.length !== 8 && hex.length !== 32) return null;
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    for (let b = 3; b >= 0; b -= 1) bytes.push(parseInt(hex.slice(word + b * 2, word + b * 2 + 2), 16));
  }
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let g = 0; g < 16; g += 2) groups.push((((bytes[g] ?? 0) << 8) | (bytes[g + 1] ?? 0)).toString(16));
  return groups.join(':');
}
