/**
 * IP address canonicalisation and SNAT classification.
 *
 * "Public" here means SNAT-relevant: an outbound TCP flow to this address leaves through the load balancer's
 * frontend and holds one SNAT port per destination IP + port. Everything on the special-purpose registries, the
 * Azure platform addresses and any configured private-egress CIDR (VNet, peerings, private endpoints) is not.
 */
import ipaddr from 'ipaddr.js';

export type IPAddress = ipaddr.IPv4 | ipaddr.IPv6;

const FOUR_PART_DECIMAL = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
/** The characters of a bare IPv4 or IPv6 literal. */
const LITERAL_CHARS = /^[0-9a-fA-F:.]+$/;

/**
 * Parses an address as the tools print it: strips `[...]`, a `%zone` suffix, and accepts only a strict dotted quad
 * for IPv4 (no `0x7f.1`, no bare integers: those are not what a tool prints and must never pass as an address).
 *
 * The zone is stripped from IPv4 too: ss prints the device a socket is bound to after any address
 * (`127.0.0.53%lo:53`, systemd-resolved). For a value that is not tool output, use `parseIpLiteral`.
 */
export function parseAddress(raw: string): IPAddress | null {
  let text = raw.trim();
  // The zone goes before the brackets: ss prints `[fe80::1]%eth0`, net-tools and the kernel `fe80::1%eth0`.
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.length === 0 || text.length > 45) return null;
  if (FOUR_PART_DECIMAL.test(text)) {
    return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : null;
  }
  if (text.includes(':') && LITERAL_CHARS.test(text) && ipaddr.IPv6.isValid(text)) {
    const tail = text.slice(text.lastIndexOf(':') + 1);
    if (!tail.includes('.')) return ipaddr.IPv6.parse(text);
    // An embedded IPv4 tail must itself be a strict dotted quad. It is rewritten as two hex groups because
    // ipaddr.js reads `::a.b.c.d` (IPv4-compatible, deprecated) as if it were `::ffff:a.b.c.d` (mapped).
    if (!(FOUR_PART_DECIMAL.test(tail) && ipaddr.IPv4.isValidFourPartDecimal(tail))) return null;
    const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = ipaddr.IPv4.parse(tail).octets;
    const hex = `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
    const rewritten = text.slice(0, text.length - tail.length) + hex;
    return ipaddr.IPv6.isValid(rewritten) ? ipaddr.IPv6.parse(rewritten) : null;
  }
  return null;
}

/**
 * Parses a bare IP literal, as an alert dimension (BackendIPAddress) must be one (FORMATS.md section 10): a strict
 * dotted quad (no leading zeros) or an IPv6 address, and nothing else: no brackets, no `%zone`, no prefix length, no
 * surrounding space. Only hex digits, `:` and `.` can pass, so nothing of the text but the address itself is dropped.
 */
export function parseIpLiteral(raw: string): IPAddress | null {
  return LITERAL_CHARS.test(raw) ? parseAddress(raw) : null;
}

/** Canonical text of a bare IP literal (see `parseIpLiteral`), or null when it is anything more or less. */
export function canonicalIpLiteral(raw: string): string | null {
  const parsed = parseIpLiteral(raw);
  return parsed ? formatAddress(parsed) : null;
}

/** IPv4-mapped IPv6 becomes plain IPv4; anything else is kept as parsed. */
export function unmap(address: IPAddress): IPAddress {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address();
  }
  return address;
}

/** Canonical text: dotted quad, or RFC 5952 compressed IPv6, mapped addresses as IPv4. */
export function formatAddress(address: IPAddress): string {
  const plain = unmap(address);
  return plain.kind() === 'ipv4' ? plain.toString() : (plain as ipaddr.IPv6).toRFC5952String();
}

/** Canonical text of a raw address, or null when it is not an IP literal. */
export function canonicalAddress(raw: string): string | null {
  const parsed = parseAddress(raw);
  return parsed ? formatAddress(parsed) : null;
}

/** `a.b.c.d:port` or `[v6]:port`, from an address already in canonical text. */
export function formatEndpoint(canonical: string, port: number): string {
  return canonical.includes(':') ? `[${canonical}]:${port}` : `${canonical}:${port}`;
}

/**
 * Splits `host:port` on the last colon, as every tool here prints it: `1.2.3.4:443`, `[::1]:443`,
 * `[fe80::1]%eth0:22`, `::ffff:1.2.3.4:443` (net-tools), `*:22`. The port must be a decimal 0..65535.
 */
export function splitHostPort(text: string): { host: string; port: number } | null {
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) return null;
  const portText = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  return { host: text.slice(0, colon), port };
}

/** Why an address does or does not consume SNAT ports. */
export type AddressCategory =
  | 'public'
  | 'private'
  | 'shared-cgnat'
  | 'loopback'
  | 'link-local'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'documentation'
  | 'azure-platform'
  | 'unique-local'
  | 'configured-private';

interface Range {
  readonly net: IPAddress;
  readonly bits: number;
  readonly category: AddressCategory;
}

function range(cidr: string, category: AddressCategory): Range {
  const [net, bits] = ipaddr.parseCIDR(cidr);
  return { net, bits, category };
}

// FORMATS.md section 12 (IANA special-purpose registries, RFC 6890) plus the Azure platform addresses.
const IPV4_EXCEPTIONS = new Set(['192.0.0.9', '192.0.0.10']);
const IPV4_RANGES: readonly Range[] = [
  range('168.63.129.16/32', 'azure-platform'),
  range('169.254.169.254/32', 'azure-platform'),
  range('0.0.0.0/8', 'unspecified'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared-cgnat'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', 'reserved'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'reserved'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'),
];
const IPV6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('::/96', 'reserved'),
  range('64:ff9b:1::/48', 'reserved'),
  range('100::/64', 'reserved'),
  range('2001::/23', 'reserved'),
  range('2001:db8::/32', 'documentation'),
  range('2002::/16', 'reserved'),
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'reserved'),
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'reserved'),
  range('ff00::/8', 'multicast'),
];
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

function matches(address: IPAddress, r: Range): boolean {
  return address.kind() === r.net.kind() && (address as ipaddr.IPv4).match(r.net, r.bits);
}

/** The IPv4 address a flow really goes to: mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) carry one. */
export function effectiveAddress(address: IPAddress): IPAddress {
  if (address.kind() === 'ipv4') return address;
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  if (v6.match(NAT64)) {
    const bytes = v6.toByteArray();
    return new ipaddr.IPv4(bytes.slice(12));
  }
  return v6;
}

export interface ClassifierOptions {
  /** Extra CIDRs whose traffic does not leave through the load balancer (VNet, peerings, private endpoints). */
  readonly privateCidrs?: readonly string[];
}

/** Reports the first invalid CIDR, so configuration errors can name it. */
export function invalidCidrs(cidrs: readonly string[]): string[] {
  return cidrs.filter((c) => {
    try {
      ipaddr.parseCIDR(c.trim());
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Classifies addresses for SNAT relevance. Results are memoised by raw text: parsers call this once per socket or
 * event, and a capture has few distinct addresses.
 */
export class AddressClassifier {
  private readonly extra: readonly Range[];
  private readonly memo = new Map<string, AddressCategory | null>();

  constructor(options: ClassifierOptions = {}) {
    const bad = invalidCidrs(options.privateCidrs ?? []);
    if (bad.length > 0) throw new RangeError(`not a CIDR: ${bad.join(', ')}`);
    this.extra = (options.privateCidrs ?? []).map((c) => range(c.trim(), 'configured-private'));
  }

  /** The category of a raw address text, or null when it is not an IP literal. */
  categoryOf(raw: string): AddressCategory | null {
    let category = this.memo.get(raw);
    if (category === undefined) {
      const parsed = parseAddress(raw);
      category = parsed ? this.classify(parsed) : null;
      if (this.memo.size > 100_000) this.memo.clear();
      this.memo.set(raw, category);
    }
    return category;
  }

  isPublic(raw: string): boolean {
    return this.categoryOf(raw) === 'public';
  }

  classify(address: IPAddress): AddressCategory {
    const effective = effectiveAddress(address);
    for (const r of this.extra) {
      // A configured CIDR matches the address as written and the IPv4 it carries.
      if (matches(effective, r) || matches(address, r)) return r.category;
    }
    if (effective.kind() === 'ipv4') {
      if (IPV4_EXCEPTIONS.has(effective.toString())) return 'public';
      if (effective.toString() === '255.255.255.255') return 'reserved';
      for (const r of IPV4_RANGES) if (matches(effective, r)) return r.category;
      return 'public';
    }
    for (const r of IPV6_RANGES) if (matches(effective, r)) return r.category;
    return 'public';
  }
}

/** A classifier with no configured private ranges, for callers that have no settings. */
export const defaultClassifier = new AddressClassifier();
