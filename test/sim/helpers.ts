/**
 * Helpers for the simulated cluster's tests: exec through the real client-node `Exec` (waiting for the status on
 * channel 3, which `exec()` itself does not), and the sockets a tool should show for a pod, from the scenario model.
 */
import { PassThrough } from 'node:stream';
import { Exec } from '@kubernetes/client-node';
import type { KubeConfig, V1Status } from '@kubernetes/client-node';
import { canonicalAddress, formatEndpoint } from '../../lib/analysis/ip.js';
import type { SimSocket, World } from '../../sim/world.js';

export interface ExecRun {
  readonly stdout: string;
  readonly stderr: string;
  /** The V1Status of channel 3, or null when the socket closed without one. */
  readonly status: V1Status | null;
  /** The socket closed (after the status, or without it). */
  readonly closed: boolean;
}

/** Runs a command in a pod through client-node's Exec; resolves on the status or when the socket closes. */
export async function execIn(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
  timeoutMs = 10_000,
): Promise<ExecRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  let status: V1Status | null = null;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const ws = await new Exec(kc).exec(namespace, pod, container, command, stdout, stderr, null, false, (s) => {
    status = s;
    resolveDone();
  });
  let closed = false;
  ws.on('close', () => {
    closed = true;
    resolveDone();
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`exec ${command.join(' ')} in ${namespace}/${pod}: no status after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
  }
  // Data frames arrive before the status frame; let the streams deliver what they hold.
  await new Promise((resolve) => setImmediate(resolve));
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), status, closed };
}

/** The rejection client-node gives for a refused upgrade: ws' `Unexpected server response: 403`. */
export async function execRefusal(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  command: string[],
): Promise<string> {
  try {
    const ws = await new Exec(kc).exec(
      namespace,
      pod,
      container,
      command,
      new PassThrough(),
      new PassThrough(),
      null,
      false,
    );
    ws.close();
    return 'upgraded';
  } catch (e) {
    return e instanceof Error ? e.message : String((e as { message?: unknown }).message ?? e);
  }
}

export type CensusTool = 'netstat' | 'ss' | 'cat';

export interface ExpectedSocket {
  readonly local: string;
  readonly remote: string;
  readonly state: string;
}

const endpoint = (address: string, port: number) => formatEndpoint(canonicalAddress(address)!, port);

/** What `netstat -ptn` / `ss -tnp` / `cat /proc/net/tcp{,6}` show of a socket table, canonical, tcp before tcp6. */
export function expectedSockets(sockets: readonly SimSocket[], tool: CensusTool): ExpectedSocket[] {
  const shown = (s: SimSocket) => {
    if (tool === 'cat') return true;
    if (tool === 'netstat') return s.remotePort !== 0;
    return ['ESTABLISHED', 'SYN_SENT', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSING'].includes(s.state);
  };
  const order = (table: 'tcp' | 'tcp6') => {
    const of = sockets.filter((s) => s.table === table);
    return [...of.filter((s) => s.state === 'LISTEN'), ...of.filter((s) => s.state !== 'LISTEN')];
  };
  return [...order('tcp'), ...order('tcp6')].filter(shown).map((s) => ({
    local: endpoint(s.localAddress, s.localPort),
    remote: endpoint(s.remoteAddress, s.remotePort),
    state: s.state,
  }));
}

export function podSockets(world: World, namespace: string, name: string): readonly SimSocket[] {
  const pod = world.pod(namespace, name);
  if (!pod?.netns) throw new Error(`no sockets for ${namespace}/${name}`);
  return pod.netns.sockets;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
