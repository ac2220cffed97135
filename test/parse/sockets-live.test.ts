/**
 * Live cross-check: opens real TCP connections on loopback, runs the real `netstat -tan` and `ss -tan` of this machine
 * and reads its real /proc/net/tcp{,6}, and checks that the three parsers report the same sockets. Needs net-tools
 * and iproute2 installed (`.ci/run` installs them); a missing tool fails the test rather than skipping it.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNetstat } from '../../lib/parse/netstat.js';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { parseSs } from '../../lib/parse/ss.js';
import type { SocketDocument } from '../../lib/parse/sockets.js';
import type { Parsed } from '../../lib/parse/types.js';

const run = promisify(execFile);
const CLIENTS_V4 = 5;
const CLIENTS_V6 = 3;

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
/** `local remote state` lines the tools must show, in canonical endpoint form. */
const expected = new Set<string>();
/** Ports of the test's listeners: every socket of the test has one of them on one side. */
const ports = new Set<number>();
let ipv6 = false;

async function listen(host: string): Promise<net.Server | null> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    accepted.push(socket);
    sockets.push(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
  } catch {
    return null;
  }
  servers.push(server);
  return server;
}

function endpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function connectMany(server: net.Server, host: string, count: number): Promise<void> {
  const { port } = server.address() as net.AddressInfo;
  ports.add(port);
  expected.add(`${endpoint(host, port)} ${endpoint(host.includes(':') ? '::' : '0.0.0.0', 0)} LISTEN`);
  let acceptedBefore = 0;
  server.on('connection', () => (acceptedBefore += 1));
  for (let i = 0; i < count; i += 1) {
    const client = net.connect({ port, host });
    sockets.push(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const local = endpoint(host, client.localPort!);
    const remote = endpoint(host, port);
    expected.add(`${local} ${remote} ESTABLISHED`);
    expected.add(`${remote} ${local} ESTABLISHED`);
  }
  // The server side exists once accepted; wait so that no tool runs before the kernel lists it as ESTABLISHED.
  while (acceptedBefore < count) await new Promise((r) => setTimeout(r, 10));
}

async function tool(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { timeout: 15_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `${command} is not installed on this machine: the live census test needs it. ` +
          '.ci/run installs net-tools (netstat) and iproute2 (ss) with apt-get.',
        { cause: e },
      );
    }
    throw e;
  }
}

/** The test's own sockets, as `local remote state` lines. */
function ours(parsed: Parsed<SocketDocument>, label: string): string[] {
  if (!parsed.ok) throw new Error(`${label} output was rejected: ${parsed.problem.message}`);
  const portOf = (endpointText: string) => Number(endpointText.slice(endpointText.lastIndexOf(':') + 1));
  const loopback = (e: string) => e.startsWith('127.0.0.1:') || e.startsWith('[::1]:');
  return parsed.value.sockets
    .filter((s) => loopback(s.local) && (ports.has(portOf(s.local)) || ports.has(portOf(s.remote))))
    .map((s) => `${s.local} ${s.remote} ${s.state}`)
    .sort();
}

beforeAll(async () => {
  const v4 = await listen('127.0.0.1');
  if (!v4) throw new Error('cannot listen on 127.0.0.1');
  await connectMany(v4, '127.0.0.1', CLIENTS_V4);
  const idle = await listen('127.0.0.1');
  if (!idle) throw new Error('cannot listen on 127.0.0.1');
  await connectMany(idle, '127.0.0.1', 0);
  const v6 = await listen('::1');
  if (v6) {
    ipv6 = true;
    await connectMany(v6, '::1', CLIENTS_V6);
  }
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('real netstat/ss//proc on this machine (loopback connections opened by the test)', () => {
  it('netstat -tan, ss -tan and /proc/net/tcp{,6} agree on the same sockets, IPv4 and IPv6 ::1', async () => {
    const [netstatOut, ssOut, tcp4, tcp6] = await Promise.all([
      tool('netstat', ['-tan']),
      tool('ss', ['-tan']),
      readFile('/proc/net/tcp', 'utf8'),
      readFile('/proc/net/tcp6', 'utf8').catch(() => ''),
    ]);
    const want = [...expected].sort();
    const listeners = ipv6 ? 3 : 2;
    expect(want).toHaveLength(2 * CLIENTS_V4 + (ipv6 ? 2 * CLIENTS_V6 : 0) + listeners);
    // netstat prints ::1 sockets as tcp6 rows, /proc as tcp6 words: both must come out as [::1]:port.
    if (ipv6) expect(want.filter((w) => w.startsWith('[::1]:'))).toHaveLength(2 * CLIENTS_V6 + 1);

    expect(ours(parseNetstat(netstatOut), 'netstat')).toEqual(want);
    expect(ours(parseSs(ssOut), 'ss')).toEqual(want);
    expect(ours(parseProcNetTcp(tcp4 + tcp6), '/proc/net/tcp')).toEqual(want);
  });
});
