/**
 * Format detection from content, for `analyze <dir>`: files captured by hand are named anything. Each format's own
 * sniffer looks at the first few KB; the file name only breaks a tie between formats whose sniffers all accept the
 * head (e.g. `ss -H` and `netstat` rows after `grep`), it never makes a format out of content that none accepts.
 */
import { looksLikeAlert } from './alert.js';
import { looksLikeCrictlInspectp } from './crictl.js';
import type { Format } from './index.js';
import { looksLikeLsns } from './lsns.js';
import { looksLikeNetstat } from './netstat.js';
import { looksLikeProcNetTcp } from './proc-net-tcp.js';
import { looksLikeSs } from './ss.js';

/** How much of a file the sniffers see. */
export const HEAD_BYTES = 16 * 1024;

const BCC_BANNER = /^Tracing TCP\b/m;
/** A header naming the event type (`TYPE` in bcc -v, `T` in bcc/libbpf) and both addresses. */
const HEADER = /^(?=.*\bSADDR\b)(?=.*\bDADDR\b)(?=.*(?:^|\s)(?:TYPE|T)(?:\s|$)).*$/m;
/** A headerless bcc/libbpf row (after `grep`): [TIME] [UID] TYPE PID COMM... IP SADDR DADDR SPORT DPORT [NETNS]. */
const ROW =
  /^\s*(?:\S+\s+){0,2}(?:connect|accept|close|[CAX])\s+\d+\s+.*\s[46]\s+\[?[0-9A-Fa-f:.]+\]?\s+\[?[0-9A-Fa-f:.]+\]?\s+\d+\s+\d+(?:\s+\d+)?\s*$/m;

/** tcptracer has no sniffer of its own: bcc's banner, either flavour's header, or rows that read like events. */
export function looksLikeTcptracer(head: string): boolean {
  return BCC_BANNER.test(head) || HEADER.test(head) || ROW.test(head);
}

/** Sniffers in priority order: JSON documents first (unambiguous), then tables whose headers are distinctive. */
const SNIFFERS: ReadonlyArray<readonly [Format, (head: string) => boolean]> = [
  ['alert', looksLikeAlert],
  ['crictl-inspectp', looksLikeCrictlInspectp],
  ['tcptracer', looksLikeTcptracer],
  ['lsns', looksLikeLsns],
  ['proc-net-tcp', looksLikeProcNetTcp],
  ['ss', looksLikeSs],
  ['netstat', looksLikeNetstat],
];

const NAME_HINTS: ReadonlyArray<readonly [Format, RegExp]> = [
  ['tcptracer', /tcptracer/i],
  ['lsns', /lsns/i],
  ['crictl-inspectp', /crictl|inspectp/i],
  ['alert', /alert/i],
  ['netstat', /netstat/i],
  ['ss', /(?:^|[^a-z])ss(?:[^a-z]|$)/i],
  ['proc-net-tcp', /proc|(?:^|[^a-z])tcp6?(?:[^a-z]|$)/i],
];

/** Every format whose sniffer accepts the head, in priority order. */
export function detectCandidates(head: string): Format[] {
  return SNIFFERS.filter(([, sniff]) => sniff(head)).map(([format]) => format);
}

/** The format of a file from its first bytes; null when no sniffer recognises it. */
export function detectFormat(head: string, fileName?: string): Format | null {
  const candidates = detectCandidates(head);
  if (candidates.length <= 1 || fileName === undefined) return candidates[0] ?? null;
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const hinted = NAME_HINTS.find(([format, pattern]) => candidates.includes(format) && pattern.test(base));
  return hinted ? hinted[0] : (candidates[0] ?? null);
}
