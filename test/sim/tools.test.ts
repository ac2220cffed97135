/**
 * The simulated tools print byte for byte what the real ones printed on this machine (test/fixtures/*\/real-*.txt were
 * captured from net-tools 2.10, iproute2 6.1 and Linux): the same sockets rendered by sim/tools.ts must give the
 * same text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNetstat } from '../../lib/parse/netstat.js';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { addToAddress, inetNtop6, procHex } from '../../sim/net.js';
import type { SimTcpState } from '../../sim/scenario.js';
import { renderNetstat, renderProcNetTcp, renderSs } from '../../sim/tools.js';
import type { SimProcess, SimSocket } from '../../sim/world.js';

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

const node: SimProcess = {
  pid: 7442,
  hostPid: 7442,
  comm: 'node',
  argv0: 'node',
  podKey: null,
  container: null,
  nextFd: 0,
};

function socket(
  table: 'tcp' | 'tcp6',
  local: string,
  localPort: number,
  remote: string,
  remotePort: number,
  state: SimTcpState,
  fd: number | null,
  extra: Partial<SimSocket> = {},
): SimSocket {
  return {
    table,
    localAddress: local,
    localPort,
    remoteAddress: remote,
    remotePort,
    state,
    inode: state === 'TIME_WAIT' ? 0 : 11000 + (fd ?? 0),
    uid: 0,
    txQueue: 0,
    rxQueue: 0,
    timer: 0,
    timerWhen: 0,
    retransmits: 0,
    backlog: 0,
    owner: fd === null ? null : { process: node, fd },
    kernelPointer: 'ffff888000000000',
    ...extra,
  };
}

const L = '127.0.0.1';
/** The sockets of the real captures: a node process talking to itself over 127.0.0.1 and ::1. */
const REAL: SimSocket[] = [
  socket('tcp', '0.0.0.0', 2024, '0.0.0.0', 0, 'LISTEN', null, { backlog: 128 }),
  socket('tcp', L, 18080, '0.0.0.0', 0, 'LISTEN', 19, { backlog: 511 }),
  socket('tcp', L, 18080, L, 51700, 'ESTABLISHED', 31),
  socket('tcp', L, 51688, L, 18080, 'ESTABLISHED', 22),
  socket('tcp', L, 51700, L, 18080, 'ESTABLISHED', 23),
  socket('tcp', L, 51706, L, 18080, 'ESTABLISHED', 24),
  socket('tcp', L, 51718, L, 18080, 'FIN_WAIT2', 27),
  socket('tcp', L, 18080, L, 51706, 'ESTABLISHED', 28),
  socket('tcp', L, 18080, L, 51688, 'ESTABLISHED', 29),
  socket('tcp', L, 18080, L, 51718, 'CLOSE_WAIT', 33),
  socket('tcp6', '::1', 19090, '::', 0, 'LISTEN', 20, { backlog: 511 }),
  socket('tcp6', '::1', 19090, '::1', 36366, 'ESTABLISHED', 30),
  socket('tcp6', '::1', 19090, '::1', 36370, 'ESTABLISHED', 32),
  socket('tcp6', '::1', 36366, '::1', 19090, 'ESTABLISHED', 25),
  socket('tcp6', '::1', 36370, '::1', 19090, 'ESTABLISHED', 26),
];
const root = { podKey: null, container: null };

describe('simulated tools print exactly what the real ones print', () => {
  it('ss -tnp (compact layout, not a tty)', () => {
    expect(renderSs(REAL, { all: false, listening: false, processes: true, header: true }, root)).toBe(
      fixture('ss/real-tnp.txt'),
    );
  });

  it('ss -tanp: LISTEN rows, backlog as Send-Q, [::] peer of a v6only socket', () => {
    expect(renderSs(REAL, { all: true, listening: false, processes: true, header: true }, root)).toBe(
      fixture('ss/real-tanp.txt'),
    );
  });

  it('ss -tanH: no header, an empty Process column takes no width', () => {
    expect(renderSs(REAL, { all: true, listening: false, processes: false, header: false }, root)).toBe(
      fixture('ss/real-tanH.txt'),
    );
  });

  it('ss -tn state established: no State column', () => {
    expect(
      renderSs(REAL, { all: false, listening: false, processes: false, header: true, state: 'ESTABLISHED' }, root),
    ).toBe(fixture('ss/real-tn-state-established.txt'));
  });

  it('netstat -tnp and -tanp (net-tools 2.10)', () => {
    expect(renderNetstat(REAL, { all: false, listening: false, programs: true, wide: false }, root)).toBe(
      fixture('netstat/real-net-tools-tnp.txt'),
    );
    expect(renderNetstat(REAL, { all: true, listening: false, programs: true, wide: false }, root)).toBe(
      fixture('netstat/real-net-tools-tanp.txt'),
    );
  });

  it('/proc/net/tcp and tcp6: the real layout line by line (pointers aside: the real ones are hashed)', () => {
    const real = fixture('proc-net-tcp/real-tcp-tcp6.txt').split('\n');
    const sim = (renderProcNetTcp(REAL, 'tcp', root) + renderProcNetTcp(REAL, 'tcp6', root)).split('\n');
    expect(sim).toHaveLength(real.length);
    const shape = (line: string) =>
      line
        .replace(/ [0-9a-f]{16} /, ' <ptr> ')
        // Inodes, timers and the last (cwnd/ssthresh) fields depend on the live sockets, not on the format.
        .replace(/^(\s*\d+: \S+ \S+ \S\S \S+ \S+ \S+\s+\d+\s+\d+) \d+ \d+ <ptr> .*$/, '$1 <inode> <ref> <ptr> <rest>');
    for (let i = 0; i < real.length; i++) {
      // tcp lines (header too) are padded to 149 characters; tcp6 lines are not.
      if (i <= 10) expect(sim[i]!.length, `line ${i + 1} length`).toBe(real[i]!.length);
      expect(shape(sim[i]!).trimEnd(), `line ${i + 1}`).toBe(shape(real[i]!).trimEnd());
    }
  });

  it('TIME_WAIT rows: no uid, inode 0, refcnt 3 and nothing after the pointer (get_timewait4_sock)', () => {
    const tw = socket('tcp', '10.244.0.17', 40332, '20.50.2.10', 443, 'TIME_WAIT', null, {
      timer: 3,
      timerWhen: 0x1234,
    });
    const line = renderProcNetTcp([tw], 'tcp', root).split('\n')[1]!;
    expect(line).toBe(
      '   0: 1100F40A:9D8C 0A023214:01BB 06 00000000:00000000 03:00001234 00000000     0        0 0 3 0000000000000000'.padEnd(
        149,
      ),
    );
  });

  it('only a privileged reader (CAP_SYSLOG) sees kernel pointers', () => {
    const s = socket('tcp', '10.244.0.17', 40332, '20.50.2.10', 443, 'ESTABLISHED', 1);
    expect(renderProcNetTcp([s], 'tcp', root)).toContain(' 0000000000000000 ');
    expect(renderProcNetTcp([s], 'tcp', { ...root, privileged: true })).toContain(' ffff888000000000 ');
  });
});

describe('address forms', () => {
  it('inet_ntop(AF_INET6) as glibc prints it', () => {
    const bytes = (text: string) => [...Buffer.from(text.replace(/:/g, ''), 'hex')];
    expect(inetNtop6(bytes('0000:0000:0000:0000:0000:ffff:0a0b:0c0d'))).toBe('::ffff:10.11.12.13');
    expect(inetNtop6(bytes('0000:0000:0000:0000:0000:0000:0000:0001'))).toBe('::1');
    expect(inetNtop6(bytes('0000:0000:0000:0000:0000:0000:0000:0000'))).toBe('::');
    expect(inetNtop6(bytes('2001:0db8:0000:0001:0000:0000:0000:0001'))).toBe('2001:db8:0:1::1');
    // A single zero group is not compressed; the first of two equal runs is.
    expect(inetNtop6(bytes('2001:0db8:0000:0001:0001:0001:0001:0001'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(inetNtop6(bytes('2001:0000:0000:0001:0000:0000:0001:0001'))).toBe('2001::1:0:0:1:1');
  });

  it('/proc hex: each 32-bit word byte-reversed', () => {
    expect(procHex('10.224.0.37')).toBe('2500E00A');
    expect(procHex('::ffff:10.224.0.37')).toBe('0000000000000000FFFF00002500E00A');
  });

  it('address arithmetic', () => {
    expect(addToAddress('10.224.1.255', 1)).toBe('10.224.2.0');
    expect(addToAddress('fd00::ffff', 1)).toBe('fd00::1:0');
  });
});

describe('net-tools cuts long tcp6 addresses to 23 characters (without -W)', () => {
  const mappedSocket = socket('tcp6', '::ffff:10.244.0.123', 41234, '::ffff:52.239.170.100', 443, 'ESTABLISHED', 1);

  it('prints the cut fields, which the project parser flags as suspect', () => {
    const text = renderNetstat([mappedSocket], { all: false, listening: false, programs: false, wide: false }, root);
    const row = text.split('\n')[2]!;
    expect(row).toContain('::ffff:10.244.0.1:41234 ');
    expect(row).toContain('::ffff:52.239.170.1:443 ');
    const parsed = parseNetstat(text);
    expect(parsed.ok && parsed.value.sockets[0]!.suspect).toBe('truncated-address');
  });

  it('-W prints them whole', () => {
    const text = renderNetstat([mappedSocket], { all: false, listening: false, programs: false, wide: true }, root);
    expect(text).toContain('::ffff:10.244.0.123:41234 ::ffff:52.239.170.100:443');
  });

  it('/proc/net/tcp6 holds the whole address (the parser reads it back exactly)', () => {
    const parsed = parseProcNetTcp(renderProcNetTcp([mappedSocket], 'tcp6', root));
    expect(parsed.ok && parsed.value.sockets.map((s) => [s.local, s.remote])).toEqual([
      ['10.244.0.123:41234', '52.239.170.100:443'],
    ]);
  });
});
