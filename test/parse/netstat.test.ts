import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { looksLikeNetstat, parseNetstat, scanNetstat } from '../../lib/parse/netstat.js';
import { looksLikeProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { looksLikeSs } from '../../lib/parse/ss.js';
import type { SocketDocument } from '../../lib/parse/sockets.js';
import type { InputProblem } from '../../lib/parse/types.js';

const fixturePath = (name: string) => new URL(`../fixtures/netstat/${name}`, import.meta.url).pathname;
const fixture = (name: string) => readFileSync(fixturePath(name), 'utf8');

function doc(text: string, listeningPorts?: number[]): SocketDocument {
  const parsed = parseNetstat(text, listeningPorts ? { listeningPorts } : {});
  if (!parsed.ok) throw new Error(`rejected: ${parsed.problem.message}`);
  return parsed.value;
}

function problem(text: string): InputProblem {
  const parsed = parseNetstat(text);
  if (parsed.ok) throw new Error('accepted');
  return parsed.problem;
}

const byLocal = (d: SocketDocument, local: string) => {
  const found = d.sockets.filter((s) => s.local === local);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('parseNetstat: golden documents', () => {
  for (const name of [
    'real-net-tools-tnp',
    'real-net-tools-tanp',
    'real-net-tools-an',
    'real-net-tools-tnp-nonroot',
    'real-busybox-tan',
    'net-tools-tnp-aks',
    'net-tools-tanp-listen',
    'busybox-tnp-aks',
  ]) {
    it(`${name}.txt`, async () => {
      const d = doc(fixture(`${name}.txt`));
      await expect(JSON.stringify(d, null, 2) + '\n').toMatchFileSnapshot(`../golden/netstat/${name}.json`);
    });
  }
});

describe('parseNetstat: net-tools (real capture on this machine)', () => {
  it('reads tcp and tcp6 rows with PID/Program, ::1 as [::1]', () => {
    const d = doc(fixture('real-net-tools-tnp.txt'));
    expect(d.variant).toBe('net-tools');
    expect(d.sockets).toHaveLength(12);
    expect(d.skipped).toEqual([]);
    expect(d.sockets[0]).toEqual({
      local: '127.0.0.1:18080',
      remote: '127.0.0.1:51700',
      state: 'ESTABLISHED',
      pid: 7442,
      program: 'node',
      remotePublic: false,
      direction: 'inbound',
    });
    expect(d.sockets[8]).toMatchObject({ local: '[::1]:19090', remote: '[::1]:36366', state: 'ESTABLISHED' });
    expect(d.summary.byState).toEqual({ CLOSE_WAIT: 1, ESTABLISHED: 10, FIN_WAIT2: 1 });
    expect(d.summary.establishedPublic).toBe(0);
  });

  it('-a: LISTEN rows (remote `0.0.0.0:*` / `:::*` = port 0) make their ports inbound; `-` owner = no pid', () => {
    const d = doc(fixture('real-net-tools-tanp.txt'));
    expect(d.sockets[0]).toEqual({
      local: '0.0.0.0:2024',
      remote: '0.0.0.0:0',
      state: 'LISTEN',
      remotePublic: false,
      direction: 'inbound',
    });
    const listen6 = d.sockets.find((s) => s.state === 'LISTEN' && s.local === '[::1]:19090');
    expect(listen6?.remote).toBe('[::]:0');
    // The client side of a loopback connection is outbound once the listening ports are known.
    expect(d.sockets.find((s) => s.local === '127.0.0.1:51688')?.direction).toBe('outbound');
    expect(d.sockets.filter((s) => s.local === '127.0.0.1:18080' && s.state === 'ESTABLISHED')).toHaveLength(3);
    expect(d.sockets.filter((s) => s.local === '127.0.0.1:18080').every((s) => s.direction === 'inbound')).toBe(true);
  });

  it('netstat -an: udp and unix rows are skipped with a reason, their headers are layout', () => {
    const d = doc(fixture('real-net-tools-an.txt'));
    expect(d.sockets).toHaveLength(15);
    expect(d.skipped).toEqual([
      { line: 18, reason: 'not a TCP socket (udp)' },
      { line: 21, reason: 'not a TCP socket (unix)' },
      { line: 22, reason: 'not a TCP socket (unix)' },
    ]);
    expect(scanNetstat(fixture('real-net-tools-an.txt')).layoutLines).toEqual([1, 2, 19, 20]);
  });

  it('non-root: the stderr note is skipped with a reason, rows keep no owner', () => {
    const d = doc(fixture('real-net-tools-tnp-nonroot.txt'));
    expect(d.skipped).toEqual([{ line: 1, reason: 'netstat note (not root): -p could read no process information' }]);
    expect(d.sockets.length).toBeGreaterThan(0);
    expect(d.sockets.every((s) => s.pid === undefined && s.program === undefined)).toBe(true);
  });
});

describe('parseNetstat: the AKS pod scenario (net-tools, tcp6 truncation)', () => {
  const d = doc(fixture('net-tools-tnp-aks.txt'));

  it('flags every tcp6 row with a 23-character address field, and only those', () => {
    const suspects = d.sockets.filter((s) => s.suspect === 'truncated-address').map((s) => `${s.local} ${s.remote}`);
    expect(suspects).toEqual([
      // `::ffff:10.244.1.17:40500` / `::ffff:52.239.170.100:443` printed cut: both are different, valid addresses.
      '10.244.1.1:40500 52.239.170.1:443',
      // `::ffff:192.168.100.200:6379` cut to `::ffff:192.168.100`: no address at all, kept as printed.
      '10.244.1.1:40502 [::ffff:192.168.100]:6379',
      // a natural 23-character field is indistinguishable from a cut one.
      '[fd00:10:244:1::11]:41000 [2001:4860:4860::888]:443',
    ]);
    expect(d.sockets.find((s) => s.local === '[::1]:9090')?.suspect).toBeUndefined();
  });

  it('never counts an unparseable (cut) address as public', () => {
    expect(d.sockets.find((s) => s.remote === '[::ffff:192.168.100]:6379')).toMatchObject({
      state: 'ESTABLISHED',
      remotePublic: false,
    });
  });

  it('classifies remotes: public vs private, CGNAT, documentation, 168.63.129.16, IMDS', () => {
    const publicByRemote = Object.fromEntries(d.sockets.map((s) => [s.remote, s.remotePublic]));
    expect(publicByRemote).toMatchObject({
      '20.50.2.10:443': true,
      '13.107.42.14:443': true,
      '172.32.0.9:443': true,
      '52.168.1.20:3000': true,
      '168.63.129.16:80': false,
      '169.254.169.254:80': false,
      '10.0.0.4:5432': false,
      '100.64.0.5:443': false,
      '203.0.113.80:443': false,
      '[::1]:55000': false,
    });
  });

  it('reads owners as free text cut to 19 characters; `-` is no owner', () => {
    expect(byLocal(d, '10.244.1.17:8080')).toMatchObject({ pid: 12, program: 'nginx: worker pr' });
    expect(byLocal(d, '10.244.1.17:5000')).toMatchObject({ pid: 7, program: 'very-long-program' });
    const timeWait = byLocal(d, '10.244.1.17:40332');
    expect(timeWait.state).toBe('TIME_WAIT');
    expect('pid' in timeWait || 'program' in timeWait).toBe(false);
  });

  it('skips the non-root notes with a reason', () => {
    expect(d.skipped).toEqual([
      { line: 1, reason: 'netstat note (not root): owners of some sockets are not shown' },
      { line: 2, reason: 'netstat note (not root): owners of some sockets are not shown' },
    ]);
  });

  it('summary: the article rule, minus inbound connections once --listening-ports says 8080 listens', () => {
    expect(d.summary).toEqual({
      byState: { CLOSE_WAIT: 1, ESTABLISHED: 14, SYN_SENT: 1, TIME_WAIT: 1 },
      established: 14,
      establishedPublic: 8,
      // 10.244.1.17:8080 <- 52.168.1.20:3000: neither port is ephemeral, so without a listening port it may be either.
      establishedPublicOutbound: 8,
      publicDestinations: [
        { endpoint: '20.50.2.10:443', count: 3 },
        { endpoint: '13.107.42.14:443', count: 1 },
        { endpoint: '172.32.0.9:443', count: 1 },
        { endpoint: '52.168.1.20:3000', count: 1 },
        { endpoint: '52.239.170.1:443', count: 1 },
        { endpoint: '[2001:4860:4860::888]:443', count: 1 },
      ],
    });
    const withPorts = doc(fixture('net-tools-tnp-aks.txt'), [8080]);
    expect(byLocal(withPorts, '10.244.1.17:8080').direction).toBe('inbound');
    expect(withPorts.summary.establishedPublic).toBe(8);
    expect(withPorts.summary.establishedPublicOutbound).toBe(7);
    expect(withPorts.summary.publicDestinations.map((p) => p.endpoint)).not.toContain('52.168.1.20:3000');
  });

  it('output piped through grep (no header, no notes) reads the same rows', () => {
    const grepped = doc(fixture('net-tools-tnp-grep.txt'));
    expect(grepped.skipped).toEqual([]);
    expect(grepped.sockets).toEqual(d.sockets.filter((s) => s.state === 'ESTABLISHED'));
  });
});

describe('parseNetstat: LISTEN rows in -a output decide direction', () => {
  it('connections to a listening port are inbound, the rest outbound, also across tcp and tcp6', () => {
    const d = doc(fixture('net-tools-tanp-listen.txt'));
    expect(d.sockets.map((s) => [s.local, s.remote, s.direction])).toEqual([
      ['0.0.0.0:8080', '0.0.0.0:0', 'inbound'],
      ['10.244.1.17:8080', '52.168.1.20:3000', 'inbound'],
      ['10.244.1.17:8080', '52.168.1.21:3001', 'inbound'],
      ['10.244.1.17:5000', '20.50.2.10:443', 'outbound'],
      ['[::]:9090', '[::]:0', 'inbound'],
      ['10.244.1.17:9090', '40.1.2.3:2000', 'inbound'],
    ]);
    expect(d.summary.establishedPublic).toBe(4);
    expect(d.summary.establishedPublicOutbound).toBe(1);
    expect(d.summary.publicDestinations).toEqual([{ endpoint: '20.50.2.10:443', count: 1 }]);
    expect(d.sockets[0]).toMatchObject({ pid: 12, program: 'nginx: master pr' });
  });
});

describe('parseNetstat: busybox', () => {
  it('real capture: proto `tcp` for IPv6 rows, 12-wide state, detected as busybox', () => {
    const d = doc(fixture('real-busybox-tan.txt'));
    expect(d.variant).toBe('busybox');
    expect(d.sockets).toHaveLength(15);
    expect(d.sockets.find((s) => s.state === 'LISTEN' && s.local === '[::1]:19090')?.remote).toBe('[::]:0');
    expect(d.sockets.some((s) => s.suspect)).toBe(false);
  });

  it('synthetic -tnp: overflowing (never cut) mapped addresses canonicalised to IPv4; glued owner column', () => {
    const d = doc(fixture('busybox-tnp-aks.txt'));
    expect(d.variant).toBe('busybox');
    expect(d.skipped).toEqual([
      { line: 1, reason: 'busybox netstat note (not root): owners of some sockets are not shown' },
    ]);
    expect(byLocal(d, '10.244.1.17:40500')).toEqual({
      local: '10.244.1.17:40500',
      remote: '52.239.170.100:443',
      state: 'ESTABLISHED',
      pid: 1,
      program: 'node',
      remotePublic: true,
      direction: 'outbound',
    });
    expect(byLocal(d, '10.244.1.17:40502')).toMatchObject({ remote: '192.168.100.200:6379', remotePublic: false });
    expect(byLocal(d, '10.244.1.17:40600')).toMatchObject({ pid: 25, program: 'nginx: worker pr' });
    expect(d.summary.publicDestinations).toEqual([
      { endpoint: '20.50.2.10:443', count: 2 },
      { endpoint: '140.82.112.3:443', count: 1 },
      { endpoint: '52.239.170.100:443', count: 1 },
    ]);
  });

  it('IPv4-only output without notes cannot be told apart: it reads as net-tools', () => {
    expect(doc('tcp        0      0 10.0.0.1:40000          20.1.1.1:443            ESTABLISHED \n').variant).toBe(
      'net-tools',
    );
  });
});

describe('parseNetstat: row details', () => {
  const row = (rest: string) =>
    `tcp        0      0 10.244.1.17:40312       20.50.2.10:443          ESTABLISHED ${rest}\n`;

  it.each([
    ['1/java', { pid: 1, program: 'java' }],
    ['12/nginx: worker pr ', { pid: 12, program: 'nginx: worker pr' }],
    ['-                   ', {}],
    ['', {}],
    // -e puts User and Inode before the owner; -o puts a Timer after it.
    ['1000       123456     42/python3          ', { pid: 42, program: 'python3' }],
    ['42/python3            off (0.00/0/0)', { pid: 42, program: 'python3' }],
    ['off (0.00/0/0)', {}],
    ['0/x', {}],
  ])('owner cell %j', (rest, owner) => {
    const socket = doc(row(rest)).sockets[0]!;
    expect({ pid: socket.pid, program: socket.program }).toEqual({ pid: undefined, program: undefined, ...owner });
  });

  it('normalises nothing it does not know: unknown states, names instead of numbers, short rows are skipped', () => {
    const d = doc(
      [
        'Proto Recv-Q Send-Q Local Address           Foreign Address         State      ',
        'tcp        0      0 10.0.0.1:40000          20.1.1.1:443            ESTAB',
        'tcp        0      0 aks-node:40000          20.1.1.1:https          ESTABLISHED',
        'tcp        0      0 10.0.0.1:40000          github.com:443          ESTABLISHED',
        'tcp        0      0 10.0.0.1:40000',
        'tcp        x      0 10.0.0.1:40000          20.1.1.1:443            ESTABLISHED',
        'garbage',
      ].join('\n'),
    );
    expect(d.sockets).toEqual([]);
    expect(d.skipped).toEqual([
      { line: 2, reason: 'unknown TCP state "ESTAB"' },
      { line: 3, reason: 'no numeric port in "20.1.1.1:https" (run netstat with -n)' },
      { line: 4, reason: '"github.com" is not an IP address (run netstat with -n)' },
      { line: 5, reason: 'tcp row with 4 columns, expected at least 6' },
      { line: 6, reason: 'Recv-Q/Send-Q columns are not numbers' },
      { line: 7, reason: 'not a netstat row' },
    ]);
  });

  it('a tcp6 field of 23 characters that is not an address after the cut is kept only on a tcp6 row', () => {
    const cut = 'tcp6       0      0 ::ffff:10.0.0.5:40000   ::ffff:192.168.100:6379 ESTABLISHED 1/app\n';
    expect(doc(cut).sockets[0]).toMatchObject({ remote: '[::ffff:192.168.100]:6379', suspect: 'truncated-address' });
    const notTcp6 = 'tcp        0      0 10.0.0.5:40000          ::ffff:192.168.100:6379 ESTABLISHED 1/app\n';
    expect(doc(notTcp6).skipped).toEqual([
      { line: 1, reason: '"::ffff:192.168.100" is not an IP address (run netstat with -n)' },
    ]);
  });

  it('reads CRLF line ends, a BOM and a last line without newline', () => {
    const d = doc(
      '\ufeffProto Recv-Q Send-Q Local Address Foreign Address State\r\ntcp 0 0 10.0.0.1:40000 20.1.1.1:443 SYN_SENT',
    );
    expect(d.sockets).toEqual([
      { local: '10.0.0.1:40000', remote: '20.1.1.1:443', state: 'SYN_SENT', remotePublic: true, direction: 'outbound' },
    ]);
  });
});

describe('parseNetstat: input that is not netstat output', () => {
  it('a header with zero rows is a valid empty census', () => {
    const d = doc(fixture('net-tools-header-only.txt'));
    expect(d.sockets).toEqual([]);
    expect(d.skipped).toEqual([]);
    expect(d.summary).toEqual({
      byState: {},
      established: 0,
      establishedPublic: 0,
      establishedPublicOutbound: 0,
      publicDestinations: [],
    });
  });

  it.each([
    ['empty.txt', { code: 'empty', message: 'empty input: expected netstat output' }],
    [
      'sh-not-found.txt',
      { code: 'tool-error', line: 1, message: 'not netstat output but an error message: "sh: netstat: not found"' },
    ],
    [
      'oci-exec-failed.txt',
      {
        code: 'tool-error',
        line: 1,
        message:
          'not netstat output but an error message: "OCI runtime exec failed: exec failed: unable to start container process: exec: \\"..."',
      },
    ],
    [
      'no-info-p-alone.txt',
      {
        code: 'tool-error',
        line: 1,
        message:
          'not netstat output but an error message: "(No info could be read for \\"-p\\": geteuid()=1000 but you should be root.)"',
      },
    ],
    [
      'real-busybox-invalid-option-p.txt',
      {
        code: 'tool-error',
        line: 1,
        message: 'not netstat output but an error message: "netstat: invalid option -- \'p\'"',
      },
    ],
  ])('%s is rejected', (name, expected) => {
    expect(problem(fixture(name))).toEqual(expected);
  });

  it('rejects whitespace only, binary garbage and other tools output, naming the first line', () => {
    expect(problem(' \n\t\n')).toEqual({ code: 'empty', message: 'empty input: expected netstat output' });
    expect(problem('\u0000\u0001\u0002ELF\u00ff\n\u0010')).toEqual({
      code: 'not-netstat',
      line: 1,
      message: 'not netstat output: no header and no TCP row (first line: "\\u0000\\u0001\\u0002ELF\u00ff")',
    });
    expect(problem(readFileSync(new URL('../fixtures/ss/real-tnp.txt', import.meta.url), 'utf8')).code).toBe(
      'not-netstat',
    );
  });
});

describe('looksLikeNetstat', () => {
  it.each([
    'real-net-tools-tnp.txt',
    'real-net-tools-an.txt',
    'real-busybox-tan.txt',
    'net-tools-tnp-grep.txt',
    'busybox-tnp-aks.txt',
    'net-tools-header-only.txt',
  ])('recognises %s and no other sniffer does', (name) => {
    const head = fixture(name).slice(0, 4096);
    expect([looksLikeNetstat(head), looksLikeSs(head), looksLikeProcNetTcp(head)]).toEqual([true, false, false]);
  });

  it.each(['sh-not-found.txt', 'empty.txt', 'no-info-p-alone.txt'])('does not recognise %s', (name) => {
    expect(looksLikeNetstat(fixture(name))).toBe(false);
  });
});
