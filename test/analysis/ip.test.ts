import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AddressClassifier,
  canonicalAddress,
  canonicalIpLiteral,
  defaultClassifier,
  formatEndpoint,
  invalidCidrs,
  splitHostPort,
} from '../../lib/analysis/ip.js';

describe('canonicalAddress', () => {
  it.each([
    ['10.224.0.5', '10.224.0.5'],
    ['::ffff:52.239.170.100', '52.239.170.100'],
    ['[::ffff:10.0.0.5]', '10.0.0.5'],
    ['::FFFF:A00:5', '10.0.0.5'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['[fe80::1]', 'fe80::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[fe80::1]%eth0', 'fe80::1'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ])('%s -> %s', (raw, canonical) => {
    expect(canonicalAddress(raw)).toBe(canonical);
  });

  it.each([
    '',
    '0x7f.1',
    '127.1',
    '2130706433',
    '256.1.1.1',
    '10.224.0.0/16',
    '10.0.0.5; rm -rf /',
    'aks-nodepool1-123',
    '*',
    '1.2.3.4.5',
    '::ffff:192.168.100',
    '1:2:3:4:5:6:7:8:9',
    '$(reboot)',
  ])('rejects %j', (raw) => {
    expect(canonicalAddress(raw)).toBeNull();
  });

  it('never throws and only ever returns a re-parseable canonical form', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.ipV4Extended()), (raw) => {
        const c = canonicalAddress(raw);
        if (c !== null) expect(canonicalAddress(c)).toBe(c);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canonicalAddress keeps what tool output needs', () => {
  it('a zone after an IPv4 address: ss names the device a socket is bound to (127.0.0.53%lo:53)', () => {
    expect(canonicalAddress('127.0.0.53%lo')).toBe('127.0.0.53');
  });
});

describe('canonicalIpLiteral (alert dimensions: a bare literal and nothing more)', () => {
  it.each([
    ['10.224.0.4', '10.224.0.4'],
    ['0.0.0.0', '0.0.0.0'],
    ['fd00:e0::4', 'fd00:e0::4'],
    ['FD00:E0:0:0:0:0:0:4', 'fd00:e0::4'],
    ['::ffff:10.224.0.4', '10.224.0.4'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ])('%s -> %s', (raw, canonical) => {
    expect(canonicalIpLiteral(raw)).toBe(canonical);
  });

  it.each([
    '10.224.0.4%eth0',
    '10.224.0.4%$(reboot)',
    '10.224.0.4%',
    '[10.224.0.4]',
    '[10.224.0.4]%eth0',
    '[fd00:e0::4]',
    'fe80::4%eth0',
    'fe80::4%25eth0',
    '[fe80::4]%eth0',
    ' 10.224.0.4',
    '10.224.0.4\n',
    '\t10.224.0.4',
    '010.224.0.4',
    '10.224.0.04',
    '10.224.0.4/32',
    'fd00:e0::4/128',
    '10.224.0.4;reboot',
    '182452228',
    '0x0a.224.0.4',
    '\uff11\uff10.224.0.4',
    '',
    'fd00:e0::4::1',
  ])('rejects %j', (raw) => {
    expect(canonicalIpLiteral(raw)).toBeNull();
  });

  it('accepts exactly the inputs that are their own bare form: what canonicalAddress reads, minus decoration', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.ipV6(),
          fc
            .tuple(
              fc.oneof(fc.ipV4(), fc.ipV6()),
              fc.constantFrom('[', ' ', ''),
              fc.constantFrom(']', '%eth0', '%', ' ', ''),
            )
            .map(([ip, a, b]) => a + ip + b),
          fc.string(),
        ),
        (raw) => {
          const literal = canonicalIpLiteral(raw);
          if (literal !== null) expect(literal).toBe(canonicalAddress(raw));
          if (/^[0-9A-Fa-f:.]+$/.test(raw)) expect(literal).toBe(canonicalAddress(raw));
          else expect(literal).toBeNull();
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('formatEndpoint and splitHostPort', () => {
  it('writes IPv6 endpoints with brackets and IPv4 without', () => {
    expect(formatEndpoint('20.1.2.3', 443)).toBe('20.1.2.3:443');
    expect(formatEndpoint('2603:1030::5', 443)).toBe('[2603:1030::5]:443');
  });

  it.each([
    ['1.2.3.4:443', '1.2.3.4', 443],
    ['[::1]:8080', '[::1]', 8080],
    ['::ffff:1.2.3.4:443', '::ffff:1.2.3.4', 443],
    ['[fe80::1]%eth0:22', '[fe80::1]%eth0', 22],
    ['*:22', '*', 22],
  ])('splits %s on the last colon', (text, host, port) => {
    expect(splitHostPort(text)).toEqual({ host, port });
  });

  it.each(['1.2.3.4', '1.2.3.4:', ':443', '1.2.3.4:65536', '1.2.3.4:http', '0.0.0.0:*'])('rejects %j', (text) => {
    expect(splitHostPort(text)).toBeNull();
  });
});

describe('SNAT classification (FORMATS.md section 12)', () => {
  const publicAddresses = [
    '20.1.2.3',
    '52.239.170.100',
    '100.128.0.1', // just past CGNAT
    '172.32.0.1', // just past 172.16/12
    '198.20.0.1', // just past 198.18/15
    '192.0.0.9',
    '192.0.0.10',
    '168.63.129.17',
    '::ffff:20.1.2.3',
    '64:ff9b::14.1.2.3', // NAT64 of a public IPv4
    '2603:1030:20e:3::23c',
  ];
  const notPublic: Array<[string, string]> = [
    ['0.1.2.3', 'unspecified'],
    ['10.224.0.37', 'private'],
    ['100.64.0.1', 'shared-cgnat'],
    ['100.127.255.255', 'shared-cgnat'],
    ['127.0.0.1', 'loopback'],
    ['169.254.10.1', 'link-local'],
    ['169.254.169.254', 'azure-platform'],
    ['168.63.129.16', 'azure-platform'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['192.88.99.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['::ffff:10.0.0.5', 'private'],
    ['::ffff:168.63.129.16', 'azure-platform'],
    ['64:ff9b::10.1.2.3', 'private'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::1.2.3.4', 'reserved'],
    ['64:ff9b:1::1', 'reserved'],
    ['100::1', 'reserved'],
    ['2001:db8::1', 'documentation'],
    ['2001:1::1', 'reserved'],
    ['2002::1', 'reserved'],
    ['3fff::1', 'documentation'],
    ['5f00::1', 'reserved'],
    ['fd00::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['fec0::1', 'reserved'],
    ['ff02::1', 'multicast'],
  ];

  it.each(publicAddresses)('%s is public', (raw) => {
    expect(defaultClassifier.categoryOf(raw)).toBe('public');
    expect(defaultClassifier.isPublic(raw)).toBe(true);
  });

  it.each(notPublic)('%s is %s', (raw, category) => {
    expect(defaultClassifier.categoryOf(raw)).toBe(category);
    expect(defaultClassifier.isPublic(raw)).toBe(false);
  });

  it('is not fooled by text that is not an address', () => {
    expect(defaultClassifier.categoryOf('*')).toBeNull();
    expect(defaultClassifier.isPublic('20.1.2.3.4')).toBe(false);
  });

  it('treats configured private-egress CIDRs as not public, also through mapped and NAT64 forms', () => {
    const classifier = new AddressClassifier({ privateCidrs: ['20.50.0.0/16', '2603:1030::/32'] });
    expect(classifier.categoryOf('20.50.1.2')).toBe('configured-private');
    expect(classifier.categoryOf('::ffff:20.50.1.2')).toBe('configured-private');
    expect(classifier.categoryOf('64:ff9b::20.50.1.2')).toBe('configured-private');
    expect(classifier.categoryOf('2603:1030::9')).toBe('configured-private');
    expect(classifier.categoryOf('20.51.1.2')).toBe('public');
  });

  it('refuses invalid CIDRs and names them', () => {
    expect(invalidCidrs(['10.0.0.0/8', '10.0.0.0/33', 'nope'])).toEqual(['10.0.0.0/33', 'nope']);
    expect(() => new AddressClassifier({ privateCidrs: ['x/1'] })).toThrow(/x\/1/);
  });
});
