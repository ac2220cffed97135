import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { looksLikeNetstat } from '../../lib/parse/netstat.js';
import { decodeAddress, looksLikeProcNetTcp, parseProcNetTcp, scanProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { looksLikeSs } from '../../lib/parse/ss.js';
import type { SocketDocument } from '../../lib/parse/sockets.js';
import type { InputProblem } from '../../lib/parse/types.js';
import { canonicalAddress } from '../../lib/analysis/ip.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/proc-net-tcp/${name}`, import.meta.url), 'utf8');

function doc(text: string, listeningPorts?: number[]): SocketDocument {
  const parsed = parseProcNetTcp(text, listeningPorts ? { listeningPorts } : {});
  if (!parsed.ok) throw new Error(`rejected: ${parsed.problem.message}`);
  return parsed.value;
}

function problem(text: string): InputProblem {
  const parsed = parseProcNetTcp(text);
  if (parsed.ok) throw new Error('accepted');
  return parsed.problem;
}

const H4 = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'.padEnd(
  149,
);
const H6 =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

describe('decodeAddress: little-endian words as the kernel prints them', () => {
  it.each([
    ['0100007F', '127.0.0.1'],
    ['2500E00A', '10.224.0.37'],
    ['10813FA8', '168.63.129.16'],
    ['00000000', '0.0.0.0'],
    ['FFFFFFFF', '255.255.255.255'],
    ['0000000000000000FFFF00002500E00A', '10.224.0.37'],
    ['00000000000000000000000001000000', '::1'],
    ['00000000000000000000000000000000', '::'],
    ['100000FD010044020000000011000000', 'fd00:10:244:1::11'],
    ['60480120000060480000000088880000', '2001:4860:4860::8888'],
    ['000080FE00000000FF0200000100FFFE', 'fe80::2ff:feff:1'],
    ['9BFF640000000000000000000A023214', '64:ff9b::1432:20a'],
    ['b80d0120000000000000000001000000', '2001:db8::1'],
  ])('%s -> %s', (hex, address) => {
    const decoded = decodeAddress(hex);
    expect(decoded).not.toBeNull();
    expect(canonicalAddress(decoded!)).toBe(address);
  });

  it.each(['', '0100007', '0100007F0', '0000000000000000FFFF00002500E00'])('%j is no address', (hex) => {
    expect(decodeAddress(hex)).toBeNull();
  });
});

describe('parseProcNetTcp: golden documents', () => {
  for (const name of ['real-tcp-tcp6', 'tcp-tcp6-aks']) {
    it(`${name}.txt`, async () => {
      const d = doc(fixture(`${name}.txt`));
      await expect(JSON.stringify(d, null, 2) + '\n').toMatchFileSnapshot(`../golden/proc-net-tcp/${name}.json`);
    });
  }
});

describe('parseProcNetTcp: real `cat /proc/net/tcp /proc/net/tcp6` on this machine', () => {
  const d = doc(fixture('real-tcp-tcp6.txt'));

  it('reads both files, the second header in the middle is layout', () => {
    expect(d.variant).toBe('proc');
    expect(d.skipped).toEqual([]);
    expect(d.sockets).toHaveLength(15);
    expect(scanProcNetTcp(fixture('real-tcp-tcp6.txt')).layoutLines).toEqual([1, 12]);
    expect(d.summary.byState).toEqual({ CLOSE_WAIT: 1, ESTABLISHED: 10, FIN_WAIT2: 1, LISTEN: 3 });
  });

  it('has no owners; decodes ports and states', () => {
    expect(d.sockets.every((s) => s.pid === undefined && s.program === undefined)).toBe(true);
    expect(d.sockets[1]).toEqual({
      local: '127.0.0.1:18080',
      remote: '0.0.0.0:0',
      state: 'LISTEN',
      remotePublic: false,
      direction: 'inbound',
    });
    expect(d.sockets[6]).toMatchObject({ local: '127.0.0.1:51718', remote: '127.0.0.1:18080', state: 'FIN_WAIT2' });
    expect(d.sockets[9]).toMatchObject({ local: '127.0.0.1:18080', remote: '127.0.0.1:51718', state: 'CLOSE_WAIT' });
    expect(d.sockets[10]).toMatchObject({ local: '[::1]:19090', remote: '[::]:0', state: 'LISTEN' });
    expect(d.sockets[12]).toMatchObject({ local: '[::1]:19090', remote: '[::1]:36370', direction: 'inbound' });
  });

  it('agrees with netstat and ss captured at the same moment', async () => {
    const { parseNetstat } = await import('../../lib/parse/netstat.js');
    const { parseSs } = await import('../../lib/parse/ss.js');
    const set = (x: { ok: boolean; value?: SocketDocument }) =>
      (x.value?.sockets ?? []).map((s) => `${s.local} ${s.remote} ${s.state}`).sort();
    const read = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');
    const proc = set({ ok: true, value: d });
    expect(set(parseNetstat(read('netstat/real-net-tools-tanp.txt')))).toEqual(proc);
    expect(set(parseSs(read('ss/real-tanp.txt')))).toEqual(proc);
  });
});

describe('parseProcNetTcp: the AKS pod scenario', () => {
  const d = doc(fixture('tcp-tcp6-aks.txt'));
  const at = (local: string) => d.sockets.find((s) => s.local === local);

  it('decodes mapped IPv6 as IPv4, NAT64 classified by its IPv4, TIME_WAIT rows with fewer fields', () => {
    expect(at('10.244.1.17:40500')).toMatchObject({ remote: '52.239.170.100:443', remotePublic: true });
    expect(at('[fd00:10:244:1::11]:41002')).toMatchObject({ remote: '[64:ff9b::1432:20a]:443', remotePublic: true });
    expect(at('10.244.1.17:40332')).toMatchObject({ remote: '20.50.2.10:443', state: 'TIME_WAIT' });
    expect(at('10.244.1.17:51000')).toMatchObject({ remote: '168.63.129.16:80', remotePublic: false });
  });

  it('LISTEN rows of either file make their port inbound in both families', () => {
    expect(at('10.244.1.17:8080')?.direction).toBe('inbound');
    expect(at('10.244.1.17:9090')?.direction).toBe('inbound');
    expect(at('10.244.1.17:40312')?.direction).toBe('outbound');
  });

  it('summary', () => {
    expect(d.summary).toEqual({
      byState: { CLOSING: 1, ESTABLISHED: 11, LISTEN: 2, SYN_SENT: 2, TIME_WAIT: 1 },
      established: 11,
      establishedPublic: 9,
      establishedPublicOutbound: 7,
      publicDestinations: [
        { endpoint: '20.50.2.10:443', count: 3 },
        { endpoint: '13.107.42.14:443', count: 1 },
        { endpoint: '52.239.170.100:443', count: 1 },
        { endpoint: '[2001:4860:4860::8888]:443', count: 1 },
        { endpoint: '[64:ff9b::1432:20a]:443', count: 1 },
      ],
    });
  });
});

describe('parseProcNetTcp: row details', () => {
  it('reads rows without the header, in lower-case hex, with and without padding', () => {
    const d = doc(
      [
        '   0: 1101f40a:9d78 0a023214:01bb 01 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 20 4 30 10 -1',
        '   1: 1101F40A:9D79 0A023214:01BB 02 00000000:00000000 01:00000064 00000002  1000        0 2 1 0000000000000000 20 4 30 10 -1'.padEnd(
          149,
        ),
      ].join('\n'),
    );
    expect(d.sockets.map((s) => `${s.local} ${s.remote} ${s.state}`)).toEqual([
      '10.244.1.17:40312 20.50.2.10:443 ESTABLISHED',
      '10.244.1.17:40313 20.50.2.10:443 SYN_SENT',
    ]);
  });

  it('skips rows with an unknown state code, mixed families or cut addresses', () => {
    const d = doc(
      [
        H4,
        '   0: 1101F40A:9D78 0A023214:01BB 0C 00000000:00000000 00:00000000 00000000     0        0 0 1',
        '   1: 1101F40A:9D78 0A023214:01BB 00 00000000:00000000 00:00000000 00000000     0        0 0 1',
        '   2: 1101F40A:9D78 0000000000000000FFFF00000A023214:01BB 01 00000000:00000000',
        '   3: 1101F4:9D78 0A023214:01BB 01 00000000:00000000',
        '   4: 1101F40A:9D78',
        H6,
      ].join('\n'),
    );
    expect(d.sockets).toEqual([]);
    expect(d.skipped).toEqual([
      { line: 2, reason: 'unknown TCP state code 0C' },
      { line: 3, reason: 'unknown TCP state code 00' },
      { line: 4, reason: 'addresses are not 8 (IPv4) or 32 (IPv6) hex digits of one family' },
      { line: 5, reason: 'addresses are not 8 (IPv4) or 32 (IPv6) hex digits of one family' },
      { line: 6, reason: 'not a /proc/net/tcp row' },
    ]);
  });

  it('rows after a /proc/net/udp header are skipped as UDP', () => {
    const udpHeader =
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops';
    const d = doc(
      [
        udpHeader,
        '  100: 0100007F:3BC9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 11090 2 0000000000000000 0',
        H4,
        '   0: 0100007F:46A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11088 1 0000000000000000 100 0 0 10 0',
      ].join('\n'),
    );
    expect(d.skipped).toEqual([{ line: 2, reason: 'not a TCP socket (a /proc/net/udp row)' }]);
    expect(d.sockets.map((s) => s.local)).toEqual(['127.0.0.1:18080']);
  });
});

describe('parseProcNetTcp: input that is not /proc/net/tcp', () => {
  it('a header alone is an empty census (a namespace with no TCP sockets)', () => {
    const d = doc(fixture('header-only.txt'));
    expect(d.sockets).toEqual([]);
    expect(d.skipped).toEqual([]);
  });

  it('rejects cat errors, empty input and other formats', () => {
    expect(problem(fixture('cat-no-such-file.txt'))).toEqual({
      code: 'tool-error',
      line: 1,
      message: 'not /proc/net/tcp output but an error message: "cat: /proc/net/tcp: No such file or directory"',
    });
    expect(problem('')).toEqual({ code: 'empty', message: 'empty input: expected /proc/net/tcp output' });
    const ss = readFileSync(new URL('../fixtures/ss/real-tnp.txt', import.meta.url), 'utf8');
    expect(problem(ss)).toMatchObject({ code: 'not-proc-net-tcp', line: 1 });
  });
});

describe('looksLikeProcNetTcp', () => {
  it.each(['real-tcp-tcp6.txt', 'tcp-tcp6-aks.txt', 'header-only.txt'])(
    'recognises %s and no other sniffer does',
    (name) => {
      const head = fixture(name).slice(0, 4096);
      expect([looksLikeNetstat(head), looksLikeSs(head), looksLikeProcNetTcp(head)]).toEqual([false, false, true]);
    },
  );

  it('recognises rows without a header, not a cat error', () => {
    expect(looksLikeProcNetTcp('   2: 0100007F:C9F4 0100007F:46A0 01 00000000:00000000 00:00000000')).toBe(true);
    expect(looksLikeProcNetTcp(fixture('cat-no-such-file.txt'))).toBe(false);
  });
});
