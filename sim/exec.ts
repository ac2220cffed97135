/**
 * Exec over WebSocket, as the API server speaks it to client-node and kubectl 1.32: `v5.channel.k8s.io` or
 * `v4.channel.k8s.io`, binary frames `[channel] + data` (1 stdout, 2 stderr, 3 the V1Status as JSON), then a close.
 *
 * Failure shapes (sim/README.md, "Exec"):
 * - before the upgrade, as an HTTP error with a Status body: 404 no such pod; 400 container not given/not valid, pod
 *   completed, container not running; 403 exec forbidden (RBAC);
 * - after the upgrade, on channel 3: a binary the image lacks is the containerd/runc error the API server wraps as an
 *   InternalError (what `kubectl exec` prints as `error: Internal error occurred: error executing command in
 *   container: ... exec: "netstat": executable file not found in $PATH: unknown`); a command that ran and failed is
 *   NonZeroExitCode with the exit code in details.causes.
 * SPDY upgrades (kubectl's fallback) are answered with the same checks, and 400 when they pass: WebSocket only.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ApiContext } from './api.js';
import { admit, sleep } from './api.js';
import type { Json } from './cluster.js';
import type { KObject } from './objects.js';
import type { SimTcpState } from './scenario.js';
import { ApiError, badRequest, forbidden, notFound, pathNotFound, RESOURCES } from './status.js';
import { renderNetstat, renderProcNetTcp, renderSs, SS_STATE_FILTERS } from './tools.js';
import type { Viewer } from './tools.js';
import type { SimSocket } from './world.js';

export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
const FRAME_BYTES = 32 * 1024;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** What a command did: it ran (output + exit code), or the runtime could not start it. */
export type ExecOutcome =
  | { readonly kind: 'ran'; readonly stdout: string; readonly stderr: string; readonly exitCode: number }
  | { readonly kind: 'not-found'; readonly message: string };

type Tool = 'netstat' | 'ss' | 'cat';
const TOOL_PATHS: Record<Tool, readonly string[]> = {
  netstat: ['/bin/netstat', '/usr/bin/netstat', '/sbin/netstat', '/usr/sbin/netstat'],
  ss: ['/bin/ss', '/usr/bin/ss', '/sbin/ss', '/usr/sbin/ss'],
  cat: ['/bin/cat', '/usr/bin/cat'],
};

export interface ExecTarget {
  /** Tools in the container's image. */
  readonly tools: readonly Tool[];
  /** The network namespace's sockets (the node's for hostNetwork pods). */
  readonly sockets: readonly SimSocket[];
  readonly viewer: Viewer;
}

/** containerd + runc's message for a binary that is not in the image, as the API server relays it. */
function notFoundMessage(binary: string): string {
  const execId = randomBytes(32).toString('hex');
  const why = binary.includes('/')
    ? `exec: "${binary}": stat ${binary}: no such file or directory: unknown`
    : `exec: "${binary}": executable file not found in $PATH: unknown`;
  return `error executing command in container: failed to exec in container: failed to start exec "${execId}": OCI runtime exec failed: exec failed: unable to start container process: ${why}`;
}

function toolOf(binary: string, tools: readonly Tool[]): Tool | null {
  for (const tool of tools) {
    if (binary === tool || TOOL_PATHS[tool].includes(binary)) return tool;
  }
  return null;
}

/** Short options (`-ptn`, `-t -n`) and a few long ones; anything else is an error in the tool's own words. */
function flagsOf(
  args: readonly string[],
  allowed: string,
  long: Record<string, string>,
): { flags: Set<string>; rest: string[] } | { bad: string } {
  const flags = new Set<string>();
  const rest: string[] = [];
  for (const a of args) {
    if (a.startsWith('--')) {
      const f = long[a];
      if (f === undefined) return { bad: a };
      flags.add(f);
    } else if (a.startsWith('-') && a.length > 1) {
      for (const ch of a.slice(1)) {
        if (!allowed.includes(ch)) return { bad: `-${ch}` };
        flags.add(ch);
      }
    } else {
      rest.push(a);
    }
  }
  return { flags, rest };
}

/** Runs a command the way the container would: only its image's tools exist, and no shell. */
export function runCommand(command: readonly string[], target: ExecTarget): ExecOutcome {
  const [binary = '', ...args] = command;
  const tool = toolOf(binary, target.tools);
  if (tool === null) return { kind: 'not-found', message: notFoundMessage(binary) };
  switch (tool) {
    case 'netstat': {
      const parsed = flagsOf(args, 'tnpalW46e', {
        '--tcp': 't',
        '--numeric': 'n',
        '--program': 'p',
        '--programs': 'p',
        '--all': 'a',
        '--listening': 'l',
        '--wide': 'W',
      });
      if ('bad' in parsed) {
        const opt = parsed.bad.startsWith('--')
          ? `unrecognized option '${parsed.bad}'`
          : `invalid option -- '${parsed.bad.slice(1)}'`;
        return {
          kind: 'ran',
          stdout: '',
          stderr: `netstat: ${opt}\nusage: netstat [-vWeenNcCF] [<Af>] -r         netstat {-V|--version|-h|--help}\n`,
          exitCode: 1,
        };
      }
      const f = parsed.flags;
      const stdout = renderNetstat(
        target.sockets,
        { all: f.has('a'), listening: f.has('l'), programs: f.has('p'), wide: f.has('W') },
        target.viewer,
      );
      return { kind: 'ran', stdout, stderr: '', exitCode: 0 };
    }
    case 'ss': {
      const parsed = flagsOf(args, 'tnpalHe46', {
        '--tcp': 't',
        '--numeric': 'n',
        '--processes': 'p',
        '--all': 'a',
        '--listening': 'l',
        '--no-header': 'H',
      });
      if ('bad' in parsed) {
        return {
          kind: 'ran',
          stdout: '',
          stderr: `ss: invalid option -- '${parsed.bad.replace(/^-+/, '')}'\nUsage: ss [ OPTIONS ]\n`,
          exitCode: 255,
        };
      }
      let state: SimTcpState | undefined;
      const rest = parsed.rest;
      if (rest.length > 0) {
        const wanted = rest[0] === 'state' && rest.length === 2 ? SS_STATE_FILTERS[rest[1]!] : undefined;
        if (wanted === undefined)
          return { kind: 'ran', stdout: '', stderr: `ss: wrong state name: ${rest.join(' ')}\n`, exitCode: 255 };
        state = wanted;
      }
      const f = parsed.flags;
      const stdout = renderSs(
        target.sockets,
        {
          all: f.has('a'),
          listening: f.has('l'),
          processes: f.has('p'),
          header: !f.has('H'),
          ...(state ? { state } : {}),
        },
        target.viewer,
      );
      return { kind: 'ran', stdout, stderr: '', exitCode: 0 };
    }
    case 'cat': {
      let stdout = '';
      let stderr = '';
      let exitCode = 0;
      for (const file of args) {
        const m = /^\/proc\/(?:net|self\/net|thread-self\/net|\d+\/net)\/(tcp6?)$/.exec(file);
        if (m) {
          stdout += renderProcNetTcp(target.sockets, m[1] as 'tcp' | 'tcp6', target.viewer);
        } else {
          stderr += `cat: ${file}: No such file or directory\n`;
          exitCode = 1;
        }
      }
      return { kind: 'ran', stdout, stderr, exitCode };
    }
  }
}

// ----------------------------------------------------------------------------------------------------------------
// The upgrade

interface Prepared {
  readonly target: ExecTarget;
  readonly command: string[];
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** The API server's checks before it upgrades an exec request; throws the error it would answer with. */
function prepare(ctx: ApiContext, namespace: string, name: string, query: URLSearchParams): Prepared {
  const c = ctx.cluster;
  const pod: KObject | undefined = c.pods.get(`${namespace}/${name}`);
  if (!pod) throw notFound(RESOURCES.pods, name);
  const command = query.getAll('command');
  if (command.length === 0) throw badRequest('you must specify at least 1 command');
  const containers = arr(obj(pod.spec).containers).map((x) => str(x.name));
  let container = query.get('container') ?? '';
  if (container === '') {
    if (containers.length !== 1) {
      throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    }
    container = containers[0]!;
  } else if (!containers.includes(container)) {
    throw badRequest(`container ${container} is not valid for pod ${name}`);
  }
  const spec = c.world.pod(namespace, name);
  if (ctx.faults.current.execForbidden || spec?.spec.execForbidden === true) {
    const scenario = c.world.scenario.cluster;
    throw forbidden(
      RESOURCES.pods,
      'exec',
      name,
      namespace,
      `clusterUser_${scenario.resourceGroup}_${scenario.name}`,
      'create',
    );
  }
  if (str(obj(pod.spec).nodeName) === '') throw badRequest(`pod ${name} does not have a host assigned`);
  const phase = str(obj(pod.status).phase);
  if (phase === 'Succeeded' || phase === 'Failed') {
    throw badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
  }
  const status = arr(obj(pod.status).containerStatuses).find((x) => x.name === container);
  if (!status || obj(status.state).running === undefined) throw badRequest(`container not found ("${container}")`);

  let tools: readonly Tool[];
  let sockets: readonly SimSocket[];
  if (spec) {
    const declared = spec.containers.find((x) => x.name === container)?.tools ?? [];
    tools = declared === 'none' ? [] : declared;
    sockets = spec.netns?.sockets ?? [];
  } else {
    // A pod the scenario does not know (a capture Job's): hostNetwork, busybox-like image with cat.
    tools = ['cat'];
    const node = c.world.node(str(obj(pod.spec).nodeName));
    sockets = obj(pod.spec).hostNetwork === true && node ? node.hostNetns.sockets : [];
  }
  return {
    target: { tools, sockets, viewer: { podKey: `${namespace}/${name}`, container } },
    command,
    stdout: query.get('stdout') !== 'false',
    stderr: query.get('stderr') !== 'false',
  };
}

/** Writes an HTTP error on a socket that asked for an upgrade, and closes it. */
function refuse(socket: Duplex, error: ApiError): void {
  const body = JSON.stringify(error.body());
  const headers = [
    `HTTP/1.1 ${error.code} ${STATUS_CODES[error.code] ?? 'Error'}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-cache, private',
    ...Object.entries(error.headers).map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

function frame(channel: number, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([Buffer.from([channel]), payload]);
}

function sendStream(ws: WebSocket, channel: number, text: string, limitBytes = Infinity): number {
  const bytes = Buffer.from(text, 'utf8');
  const end = Math.min(bytes.length, limitBytes);
  for (let i = 0; i < end; i += FRAME_BYTES) ws.send(frame(channel, bytes.subarray(i, Math.min(end, i + FRAME_BYTES))));
  return end;
}

export function statusFor(outcome: ExecOutcome): Json {
  if (outcome.kind === 'not-found') {
    return {
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${outcome.message}`,
      reason: 'InternalError',
      details: { causes: [{ message: outcome.message }] },
      code: 500,
    };
  }
  if (outcome.exitCode === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${outcome.exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(outcome.exitCode) }] },
  };
}

/** Handles an `upgrade` event of the HTTP server. */
export async function handleUpgrade(
  ctx: ApiContext,
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url ?? '/', 'http://sim');
  try {
    const refused = await admit(ctx, req, url.pathname);
    if (refused) throw refused;
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/.exec(url.pathname);
    if (!m) throw pathNotFound();
    if (m[3] === 'attach') throw badRequest('attach is not supported by the simulated cluster');
    const prepared = prepare(ctx, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), url.searchParams);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      throw badRequest(
        'the simulated cluster serves exec over WebSocket only (v5.channel.k8s.io, v4.channel.k8s.io), not SPDY',
      );
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!EXEC_PROTOCOLS.some((p) => offered.includes(p))) {
      throw badRequest(
        `unable to upgrade: none of the offered subprotocols [${offered.join(' ')}] is supported (${EXEC_PROTOCOLS.join(', ')})`,
      );
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      void runExec(ctx, ws, prepared);
    });
  } catch (e) {
    const error =
      e instanceof ApiError ? e : new ApiError(500, 'InternalError', e instanceof Error ? e.message : String(e));
    refuse(socket, error);
  }
}

async function runExec(ctx: ApiContext, ws: WebSocket, prepared: Prepared): Promise<void> {
  ws.on('error', () => ws.terminate());
  const faults = ctx.faults.current;
  if (faults.execLatencyMs > 0) await sleep(faults.execLatencyMs);
  if (ws.readyState !== ws.OPEN) return;
  const outcome = runCommand(prepared.command, prepared.target);
  if (ctx.faults.current.execDropMidStream) {
    // Some stdout, then the connection is gone: no status on channel 3, no close frame.
    if (outcome.kind === 'ran' && prepared.stdout) {
      const half = Math.max(1, Math.floor(Buffer.byteLength(outcome.stdout) / 2));
      sendStream(ws, 1, outcome.stdout, half);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
    ws.terminate();
    return;
  }
  if (outcome.kind === 'ran') {
    if (prepared.stdout) sendStream(ws, 1, outcome.stdout);
    if (prepared.stderr) sendStream(ws, 2, outcome.stderr);
  }
  ws.send(frame(3, JSON.stringify(statusFor(outcome))));
  ws.close(1000);
}
