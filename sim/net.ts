/**
 * Address arithmetic and the text forms the node's tools print: glibc `inet_ntop` (net-tools, ss, tcptracer) and the
 * kernel's /proc/net/tcp hex (each 32-bit word printed as a host-order integer on a little-endian machine).
 */
import ipaddr from 'ipaddr.js';
import { parseAddress, splitHostPort } from '../lib/analysis/ip.js';

/** `a.b.c.d:port` / `[v6]:port` -> parts; null for anything else. */
export function parseEndpoint(text: string): { address: string; port: number } | null {
  const hp = splitHostPort(text);
  if (!hp) return null;
  let host = hp.host;
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return null;
    host = host.slice(1, -1);
    if (!host.includes(':')) return null;
  } else if (host.includes(':')) {
    return null;
  }
  return parseAddress(host) !== null ? { address: host, port: hp.port } : null;
}

/** 4 (dotted quad) or 16 bytes. */
export function addressBytes(text: string): number[] {
  const parsed = ipaddr.parse(text);
  return parsed.toByteArray();
}

export function isIpv6(text: string): boolean {
  return text.includes(':');
}

/** `a.b.c.d` -> `::ffff:a.b.c.d`; IPv6 text unchanged. */
export function mapped(text: string): string {
  return isIpv6(text) ? text : `::ffff:${text}`;
}

/**
 * glibc inet_ntop(AF_INET6): the longest run (>= 2) of zero groups becomes `::` (the first one on a tie), lower-case
 * hex, and a dotted-quad tail for IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses.
 */
export function inetNtop6(bytes: readonly number[]): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
      break;
    }
    out += words[i]!.toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** The text a tool prints for an address: dotted quad, or inet_ntop of the 16 bytes. */
export function ntop(text: string): string {
  const bytes = addressBytes(text);
  return bytes.length === 4 ? bytes.join('.') : inetNtop6(bytes);
}

/** /proc/net/tcp hex of an address: each 32-bit word byte-reversed (little-endian host), upper-case. */
export function procHex(text: string): string {
  const bytes = addressBytes(text);
  let out = '';
  for (let w = 0; w < bytes.length; w += 4) {
    for (let b = 3; b >= 0; b--) out += bytes[w + b]!.toString(16).padStart(2, '0');
  }
  return out.toUpperCase();
}

export function hex(value: number, width: number): string {
  return (value >>> 0).toString(16).toUpperCase().padStart(width, '0');
}

/** `ip + n` (IPv4 or IPv6); throws when the result leaves the address space. */
export function addToAddress(text: string, n: number): string {
  if (n === 0) return text;
  const bytes = addressBytes(text);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  value += BigInt(n);
  const max = 1n << BigInt(bytes.length * 8);
  if (value < 0n || value >= max) throw new RangeError(`${text} + ${n} leaves the address space`);
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    out.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  return out.length === 4 ? out.join('.') : inetNtop6(out);
}

/** FNV-1a 32-bit hash of a string (seeds, deterministic identifiers). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small deterministic PRNG (mulberry32): the same scenario always renders the same captures. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The alphabet of Kubernetes' random name suffixes (no vowels, no look-alikes). */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A 5-character suffix like the ones ReplicaSets, DaemonSets and Jobs give their pods, derived from `seed`. */
export function nameSuffix(seed: string, length = 5): string {
  const next = rng(hash32(seed));
  let out = '';
  for (let i = 0; i < length; i++) out += SUFFIX_ALPHABET[Math.floor(next() * SUFFIX_ALPHABET.length)];
  return out;
}

/** A ReplicaSet's pod-template-hash shape: 9-10 characters of the same alphabet. */
export function templateHash(seed: string): string {
  return nameSuffix(`hash:${seed}`, 10);
}

/** A UUID (version 4 layout) derived from `seed`. */
export function uuidFrom(seed: string): string {
  const next = rng(hash32(seed));
  const hexDigits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');
  const variant = '89ab'[Math.floor(next() * 4)]!;
  return `${hexDigits(8)}-${hexDigits(4)}-4${hexDigits(3)}-${variant}${hexDigits(3)}-${hexDigits(12)}`;
}

/** 64 hex digits (container ids, exec ids), derived from `seed`. */
export function hex64(seed: string): string {
  const next = rng(hash32(seed));
  return Array.from({ length: 64 }, () => Math.floor(next() * 16).toString(16)).join('');
}
