import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { looksLikeNetstat } from '../../lib/parse/netstat.js';
import { looksLikeProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { looksLikeSs, parseSs, scanSs } from '../../lib/parse/ss.js';
import type { SocketDocument } from '../../lib/parse/sockets.js';
import type { InputProblem } from '../../lib/parse/types.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/ss/${name}`, import.meta.url), 'utf8');

function doc(text: string, listeningPorts?: number[]): SocketDocument {
  const parsed = parseSs(text, listeningPorts ? { listeningPorts } : {});
  if (!parsed.ok) throw new Error(`rejected: ${parsed.problem.message}`);
  return parsed.value;
}

function problem(text: string): InputProblem {
  const parsed = parseSs(text);
  if (parsed.ok) throw new Error('accepted');
  return parsed.problem;
}

const tuples = (d: SocketDocument) => d.sockets.map((s) => `${s.local} ${s.remote} ${s.state}`);

describe('parseSs: golden documents', () => {
  for (const name of ['real-tnp', 'real-tanp', 'real-anp', 'real-tnp-tty-crlf', 'tnp-aks', 'anp-aks']) {
    it(`${name}.txt`, async () => {
      const d = doc(fixture(`${name}.txt`));
      await expect(JSON.stringify(d, null, 2) + '\n').toMatchFileSnapshot(`../golden/ss/${name}.json`);
    });
  }
});

describe('parseSs: real captures on this machine', () => {
  const tanp = doc(fixture('real-tanp.txt'));

  it('reads -tanp: kernel state names, first owner, [::1] and [::]:* peers', () => {
    expect(tanp.variant).toBe('ss');
    expect(tanp.skipped).toEqual([]);
    expect(tanp.sockets).toHaveLength(15);
    expect(tanp.summary.byState).toEqual({ CLOSE_WAIT: 1, ESTABLISHED: 10, FIN_WAIT2: 1, LISTEN: 3 });
    expect(tanp.sockets[0]).toEqual({
      local: '0.0.0.0:2024',
      remote: '0.0.0.0:0',
      state: 'LISTEN',
      remotePublic: false,
      direction: 'inbound',
    });
    expect(tanp.sockets[1]).toMatchObject({ local: '127.0.0.1:18080', pid: 7442, program: 'node' });
    expect(tanp.sockets[10]).toMatchObject({ local: '[::1]:19090', remote: '[::]:0', state: 'LISTEN' });
  });

  it('-tanH (no header) reads the same sockets as -tanp', () => {
    const h = doc(fixture('real-tanH.txt'));
    expect(tuples(h)).toEqual(tuples(tanp));
    expect(scanSs(fixture('real-tanH.txt')).layoutLines).toEqual([]);
  });

  it('`state established` hides the State column: every row is ESTABLISHED', () => {
    const d = doc(fixture('real-tn-state-established.txt'));
    expect(tuples(d)).toEqual(tuples(tanp).filter((t) => t.endsWith(' ESTABLISHED')));
    expect(d.summary.byState).toEqual({ ESTABLISHED: 10 });
  });

  it('a state filter that matched nothing (compact header `Address:PortProcess`) is a valid empty census', () => {
    const d = doc(fixture('real-tn-state-syn-recv-empty.txt'));
    expect(d.sockets).toEqual([]);
    expect(d.skipped).toEqual([]);
  });

  it('tty layout written through a pty (padded columns, CRLF line ends)', () => {
    const d = doc(fixture('real-tnp-tty-crlf.txt'));
    expect(d.skipped).toEqual([]);
    expect(tuples(d)).toEqual(tuples(doc(fixture('real-tnp.txt'))));
    expect(d.sockets.every((s) => s.pid === 7442 && s.program === 'node')).toBe(true);
  });

  it('-anp: other tables (nl, u_str, udp) and the RTNETLINK stderr line are skipped with reasons', () => {
    const d = doc(fixture('real-anp.txt'));
    expect(tuples(d)).toEqual(tuples(tanp));
    expect(d.skipped[0]).toEqual({ line: 1, reason: 'an error message (stderr), not an ss row' });
    expect(d.skipped.slice(1).map((s) => s.reason)).toEqual([
      ...Array<string>(11).fill('not a TCP socket (nl)'),
      'not a TCP socket (u_str)',
      'not a TCP socket (u_str)',
      'not a TCP socket (udp)',
    ]);
    expect(d.skipped.map((s) => s.line)).toEqual([1, ...Array.from({ length: 14 }, (_, i) => i + 3)]);
  });
});

describe('parseSs: the AKS pod scenario', () => {
  const d = doc(fixture('tnp-aks.txt'));
  const at = (local: string) => d.sockets.find((s) => s.local === local);

  it('maps every ss state name to the kernel name', () => {
    expect(d.summary.byState).toEqual({
      CLOSE_WAIT: 1,
      CLOSING: 1,
      ESTABLISHED: 8,
      FIN_WAIT1: 1,
      FIN_WAIT2: 1,
      LAST_ACK: 1,
      SYN_RECV: 1,
      SYN_SENT: 2,
      TIME_WAIT: 1,
    });
  });

  it('takes the first of several owners; names keep spaces, commas and parentheses', () => {
    expect(at('10.244.1.17:40312')).toMatchObject({ pid: 1, program: 'java' });
    expect(at('10.244.1.17:40314')).toMatchObject({ pid: 7, program: 'my app, v2 (x)' });
    const timeWait = at('10.244.1.17:40332');
    expect(timeWait?.state).toBe('TIME_WAIT');
    expect(timeWait && ('pid' in timeWait || 'program' in timeWait)).toBe(false);
  });

  it('canonicalises [::ffff:a.b.c.d], [fe80::1]%eth0 and a%lo addresses', () => {
    expect(at('10.244.1.17:40500')).toMatchObject({ remote: '52.239.170.100:443', remotePublic: true });
    expect(at('[fe80::1]:22')).toMatchObject({ remote: '[fe80::2]:50000', remotePublic: false, pid: 300 });
    expect(at('127.0.0.53:53')).toMatchObject({ remote: '127.0.0.1:40000', remotePublic: false });
  });

  it('summary: 168.63.129.16 is not public; destinations ranked by count then endpoint', () => {
    expect(at('10.244.1.17:51000')).toMatchObject({ remote: '168.63.129.16:80', remotePublic: false });
    expect(d.summary.established).toBe(8);
    expect(d.summary.establishedPublic).toBe(5);
    expect(d.summary.establishedPublicOutbound).toBe(5);
    expect(d.summary.publicDestinations).toEqual([
      { endpoint: '20.50.2.10:443', count: 2 },
      { endpoint: '13.107.42.14:443', count: 1 },
      { endpoint: '52.168.1.20:3000', count: 1 },
      { endpoint: '52.239.170.100:443', count: 1 },
    ]);
    const withPorts = doc(fixture('tnp-aks.txt'), [8080]);
    expect(withPorts.summary.establishedPublicOutbound).toBe(4);
    expect(withPorts.summary.publicDestinations.map((p) => p.endpoint)).not.toContain('52.168.1.20:3000');
  });

  it('`state established` with and without header (-H) gives the ESTABLISHED rows of the full listing', () => {
    const established = tuples(d).filter((t) => t.endsWith(' ESTABLISHED'));
    expect(tuples(doc(fixture('tnp-state-established-aks.txt')))).toEqual(established);
    expect(tuples(doc(fixture('tnpH-state-established-aks.txt')))).toEqual(established);
    expect(doc(fixture('tnpH-state-established-aks.txt')).sockets[1]).toMatchObject({ program: 'my app, v2 (x)' });
  });

  it('-anp with a Netid column: `*` is the dual-stack wildcard `::`, tcp UNCONN is CLOSE, LISTEN ports are inbound', () => {
    const a = doc(fixture('anp-aks.txt'));
    expect(a.sockets.map((s) => [s.local, s.remote, s.state, s.direction])).toEqual([
      ['[::]:8080', '[::]:0', 'LISTEN', 'inbound'],
      ['0.0.0.0:22', '0.0.0.0:0', 'LISTEN', 'inbound'],
      ['[::]:9090', '[::]:0', 'LISTEN', 'inbound'],
      ['10.244.1.17:41111', '0.0.0.0:0', 'CLOSE', 'outbound'],
      ['10.244.1.17:8080', '52.168.1.20:3000', 'ESTABLISHED', 'inbound'],
      ['10.244.1.17:9090', '40.1.2.3:2000', 'ESTABLISHED', 'inbound'],
      ['10.244.1.17:5000', '20.50.2.10:443', 'ESTABLISHED', 'outbound'],
    ]);
    expect(a.skipped).toEqual([
      { line: 1, reason: 'an error message (stderr), not an ss row' },
      { line: 3, reason: 'not a TCP socket (udp)' },
      { line: 11, reason: 'not a TCP socket (u_str)' },
    ]);
    expect(a.summary.establishedPublic).toBe(3);
    expect(a.summary.establishedPublicOutbound).toBe(1);
  });
});

describe('parseSs: row details', () => {
  it.each([
    // [row, expected tuple or skip reason]
    ['ESTAB 0 0 10.0.0.1:40000 20.1.1.1:443', '10.0.0.1:40000 20.1.1.1:443 ESTABLISHED'],
    ['tcp ESTAB 0 0 10.0.0.1:40000 20.1.1.1:443', '10.0.0.1:40000 20.1.1.1:443 ESTABLISHED'],
    ['tcp 0 0 10.0.0.1:40000 20.1.1.1:443', '10.0.0.1:40000 20.1.1.1:443 ESTABLISHED'],
    ['0 0 10.0.0.1:40000 20.1.1.1:443', '10.0.0.1:40000 20.1.1.1:443 ESTABLISHED'],
    ['NEW-SYN-RECV 0 0 10.0.0.1:443 20.1.1.1:50000', '10.0.0.1:443 20.1.1.1:50000 SYN_RECV'],
    ['LISTEN 0 128 [::ffff:10.0.0.1]:443 *:*', '10.0.0.1:443 [::]:0 LISTEN'],
    ['UNCONN 0 0 10.0.0.1:68 0.0.0.0:*', 'skip: UNCONN socket (UDP, or a closed TCP socket): holds no connection'],
    ['udp ESTAB 0 0 10.0.0.1:40000 20.1.1.1:53', 'skip: not a TCP socket (udp)'],
    ['UNKNOWN 0 0 10.0.0.1:40000 20.1.1.1:443', 'skip: unknown ss state "UNKNOWN"'],
    ['ESTAB 0 0 10.0.0.1:40000 20.1.1.1:https', 'skip: no numeric port in "20.1.1.1:https" (run ss with -n)'],
    ['ESTAB 0 0 10.0.0.1:40000 example.com:443', 'skip: "example.com" is not an IP address (run ss with -n)'],
    ['\t cubic wscale:7,7 rto:204', 'skip: not an ss row (a detail line of -i/-m/-e?)'],
    ['Cannot open netlink socket: Protocol not supported', 'skip: not an ss row'],
  ])('%j', (row, expected) => {
    const d = doc(`State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n${row}\n`);
    if (expected.startsWith('skip: ')) {
      expect(d.sockets).toEqual([]);
      expect(d.skipped).toEqual([{ line: 2, reason: expected.slice(6) }]);
    } else {
      expect(d.skipped).toEqual([]);
      expect(tuples(d)).toEqual([expected]);
    }
  });

  it.each([
    ['users:(("nginx",pid=12,fd=6))', { pid: 12, program: 'nginx' }],
    ['users:(("a \\"b\\", c",pid=5,fd=1),("z",pid=6,fd=2))', { pid: 5, program: 'a \\"b\\", c' }],
    ['users:(("sshd",1234,3))', { pid: 1234, program: 'sshd' }],
    ['timer:(keepalive,119min,0) users:(("java",pid=1,fd=45)) uid:1000 ino:123 sk:1 <->', { pid: 1, program: 'java' }],
    ['ino:123 sk:1 cgroup:/ <->', {}],
  ])('process cell %s', (cell, owner) => {
    const s = doc(`ESTAB 0 0 10.0.0.1:40000 20.1.1.1:443 ${cell}\n`).sockets[0]!;
    expect({ pid: s.pid, program: s.program }).toEqual({ pid: undefined, program: undefined, ...owner });
  });
});

describe('parseSs: input that is not ss output', () => {
  it.each([
    ['command-not-found.txt', 'not ss output but an error message: "bash: ss: command not found"'],
    ['sh-not-found.txt', 'not ss output but an error message: "sh: 1: ss: not found"'],
  ])('%s is rejected as a tool error', (name, message) => {
    expect(problem(fixture(name))).toEqual({ code: 'tool-error', line: 1, message });
  });

  it('rejects empty input, a lone RTNETLINK line and netstat output', () => {
    expect(problem('')).toEqual({ code: 'empty', message: 'empty input: expected ss output' });
    expect(problem('RTNETLINK answers: Invalid argument\n')).toMatchObject({ code: 'tool-error', line: 1 });
    const netstat = readFileSync(new URL('../fixtures/netstat/real-net-tools-tnp.txt', import.meta.url), 'utf8');
    expect(problem(netstat)).toMatchObject({ code: 'not-ss', line: 1 });
  });
});

describe('looksLikeSs', () => {
  it.each([
    'real-tnp.txt',
    'real-tanH.txt',
    'real-tn-state-established.txt',
    'real-tn-state-syn-recv-empty.txt',
    'real-anp.txt',
    'tnpH-state-established-aks.txt',
    'real-tnp-tty-crlf.txt',
  ])('recognises %s and no other sniffer does', (name) => {
    const head = fixture(name).slice(0, 4096);
    expect([looksLikeNetstat(head), looksLikeSs(head), looksLikeProcNetTcp(head)]).toEqual([false, true, false]);
  });

  it.each(['command-not-found.txt', 'sh-not-found.txt'])('does not recognise %s', (name) => {
    expect(looksLikeSs(fixture(name))).toBe(false);
  });
});
