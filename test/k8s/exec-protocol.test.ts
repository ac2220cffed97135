/**
 * execInPod against a minimal loopback exec endpoint that misbehaves on purpose, through the real client-node `Exec`.
 * The simulated cluster (sim/) covers the scenario-level faults; this file pins the protocol edges the sim has no
 * reason to produce: refused upgrades with Status bodies, unknown channels, unparsable status frames, a handshake that
 * never completes, a server that ignores the close handshake.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig, type V1Status } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { classifyRefusedUpgrade, classifyStatus, execInPod, type ExecRequest } from '../../lib/k8s/exec.js';

const frame = (channel: number, payload: string | Buffer): Buffer =>
  Buffer.concat([Buffer.from([channel]), typeof payload === 'string' ? Buffer.from(payload) : payload]);
const success = JSON.stringify({ metadata: {}, status: 'Success' });
const exitStatus = (code: number) =>
  JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
const statusBody = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

interface Seen {
  readonly pod: string;
  readonly query: URLSearchParams;
  readonly protocol: string;
}

/** Behaviour per pod name. */
const refusals: Record<string, [number, string]> = {
  forbidden: [
    403,
    statusBody(
      403,
      'Forbidden',
      'pods "forbidden" is forbidden: User "system:serviceaccount:snat:responder" cannot create resource "pods/exec" in API group "" in the namespace "shop"',
    ),
  ],
  gone: [400, statusBody(400, 'BadRequest', 'container not found ("web")')],
  completed: [
    400,
    statusBody(400, 'BadRequest', 'cannot exec into a container in a completed pod; current phase is Succeeded'),
  ],
  deleted: [404, statusBody(404, 'NotFound', 'pods "deleted" not found')],
  broken: [500, 'upstream connect error'],
  unauthorized: [401, ''],
};

let server: Server;
let kc: KubeConfig;
const seen: Seen[] = [];
const openSockets = new Set<WebSocket>();
const rawSockets = new Set<Duplex>();
const deafSockets = new Set<Duplex>();

function behave(pod: string, ws: WebSocket): void {
  const send = (channel: number, payload: string | Buffer) => ws.send(frame(channel, payload));
  switch (pod) {
    case 'ok':
      send(1, 'hello ');
      send(2, 'a warning\n');
      send(1, 'world\n');
      send(3, success);
      break;
    case 'exit2':
      send(1, 'partial\n');
      send(2, 'cat: /proc/net/tcp6: No such file or directory\n');
      send(3, exitStatus(2));
      break;
    case 'exit127':
      send(2, 'sh: netstat: not found\n');
      send(3, exitStatus(127));
      break;
    case 'missing':
      send(
        3,
        JSON.stringify({
          metadata: {},
          status: 'Failure',
          message:
            'OCI runtime exec failed: exec failed: unable to start container process: exec: "netstat": executable file not found in $PATH: unknown',
          reason: 'InternalError',
        }),
      );
      break;
    case 'stopped':
      send(3, JSON.stringify({ metadata: {}, status: 'Failure', message: 'container not running (web)' }));
      break;
    case 'drop':
      send(1, 'Active Internet connections (w/o servers)\n');
      setTimeout(() => ws.terminate(), 20);
      break;
    case 'drop-clean':
      ws.close(1000);
      break;
    case 'silent':
      break; // upgraded, never says anything
    case 'big':
      for (let i = 0; i < 64; i++) send(1, Buffer.alloc(16 * 1024, 0x41));
      send(3, success);
      break;
    case 'bad-channel':
      send(7, 'what is this');
      break;
    case 'bad-status':
      send(3, '{not json');
      break;
    case 'null-status':
      send(3, 'null'); // the library ignores it (status == null) and keeps waiting
      break;
    case 'string-status':
      send(3, '"done"');
      break;
    case 'deaf':
      // Exit status, then ignores the client's close frame (the client must not wait on it).
      send(1, 'x');
      send(3, success);
      break;
    default:
      send(3, exitStatus(1));
  }
}

/**
 * A hand-written server that upgrades, sends output and an exit status, and then never answers (nor reads as a close)
 * the client's close frame: `ws` would answer it by itself, so this one is raw.
 */
function deafUpgrade(req: IncomingMessage, socket: Duplex): void {
  const accept = createHash('sha1')
    .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  const unmasked = (payload: Buffer) => Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`,
  );
  socket.write(unmasked(frame(1, 'x')));
  socket.write(unmasked(frame(3, success)));
  deafSockets.add(socket);
  socket.on('data', () => undefined); // reads and ignores everything, the close frame included
  socket.on('end', () => {
    deafSockets.delete(socket);
    socket.destroy();
  });
}

beforeAll(async () => {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => ['v5.channel.k8s.io', 'v4.channel.k8s.io'].find((p) => offered.has(p)) ?? false,
  });
  server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const pod = /\/pods\/([^/]+)\/exec$/.exec(url.pathname)?.[1] ?? '';
    const refusal = refusals[pod];
    if (refusal) {
      const [code, body] = refusal;
      socket.end(
        `HTTP/1.1 ${code} Refused\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    if (pod === 'no-handshake') return; // never answers the upgrade request
    if (pod === 'deaf') {
      deafUpgrade(req, socket);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      openSockets.add(ws);
      ws.on('close', () => openSockets.delete(ws));
      seen.push({ pod, query: url.searchParams, protocol: ws.protocol });
      behave(pod, ws);
    });
  });
  server.on('connection', (socket: Duplex) => {
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'tok' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(async () => {
  for (const ws of openSockets) ws.terminate();
  for (const socket of rawSockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const request = (pod: string, extra: Partial<ExecRequest> = {}): ExecRequest => ({
  namespace: 'shop',
  pod,
  container: 'web',
  command: ['cat', '/proc/net/tcp', '/proc/net/tcp6'],
  timeoutMs: 2_000,
  maxOutputBytes: 1024 * 1024,
  ...extra,
});

describe('execInPod over the exec WebSocket', () => {
  it('collects stdout and stderr until the exit status, and sends the command as separate arguments', async () => {
    const result = await execInPod(kc, request('ok'));
    expect(result).toMatchObject({ ok: true, stdout: 'hello world\n', stderr: 'a warning\n', exitCode: 0 });
    const call = seen.find((s) => s.pod === 'ok')!;
    expect(call.query.getAll('command')).toEqual(['cat', '/proc/net/tcp', '/proc/net/tcp6']);
    expect(call.query.get('container')).toBe('web');
    expect(call.query.get('stdin')).toBe('false');
    expect(call.query.get('tty')).toBe('false');
    expect(call.protocol).toBe('v5.channel.k8s.io');
  });

  it('keeps the output of a non-zero exit with its code', async () => {
    const result = await execInPod(kc, request('exit2'));
    expect(result).toMatchObject({
      ok: false,
      failure: 'non-zero-exit',
      exitCode: 2,
      stdout: 'partial\n',
      stderr: 'cat: /proc/net/tcp6: No such file or directory\n',
    });
  });

  it.each([
    ['exit127', 'no-such-binary', 127],
    ['missing', 'no-such-binary', undefined],
    ['stopped', 'container-not-running', undefined],
  ])('classifies the channel-3 status of %s as %s', async (pod, failure, exitCode) => {
    const result = await execInPod(kc, request(pod));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toBe(failure);
    expect(result.exitCode).toBe(exitCode);
  });

  it.each([
    ['forbidden', 'forbidden', 403, 'cannot create resource "pods/exec"'],
    ['unauthorized', 'forbidden', 401, 'HTTP 401'],
    ['gone', 'container-not-running', 400, 'container not found ("web")'],
    ['completed', 'container-not-running', 400, 'completed pod'],
    ['deleted', 'container-not-running', 404, 'pods "deleted" not found'],
    ['broken', 'error', 500, 'upstream connect error'],
  ])('classifies a refused upgrade for %s as %s and quotes the server', async (pod, failure, httpStatus, text) => {
    const result = await execInPod(kc, request(pod));
    expect(result).toMatchObject({ ok: false, failure, httpStatus });
    expect(result.ok ? '' : result.message).toContain(text);
  });

  it('reports a socket closed without an exit status as dropped, at once', async () => {
    for (const pod of ['drop', 'drop-clean']) {
      const started = Date.now();
      const result = await execInPod(kc, request(pod, { timeoutMs: 5_000 }));
      expect(result).toMatchObject({ ok: false, failure: 'dropped' });
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it('times out a silent exec and closes its socket', async () => {
    const before = openSockets.size;
    const result = await execInPod(kc, request('silent', { timeoutMs: 150 }));
    expect(result).toMatchObject({ ok: false, failure: 'timeout', message: 'no exit status within 150 ms' });
    await expect.poll(() => openSockets.size, { timeout: 1_000 }).toBe(before);
  });

  it('times out a handshake the server never answers', async () => {
    const result = await execInPod(kc, request('no-handshake', { timeoutMs: 150 }));
    expect(result).toMatchObject({ ok: false, failure: 'timeout', message: 'no exec connection within 150 ms' });
  });

  it('cuts stdout at the byte bound', async () => {
    const result = await execInPod(kc, request('big', { maxOutputBytes: 100_000 }));
    expect(result).toMatchObject({ ok: false, failure: 'output-too-large' });
    const within = await execInPod(kc, request('big', { maxOutputBytes: 1024 * 1024 }));
    expect(within.ok && within.stdout.length).toBe(64 * 16 * 1024);
  });

  it('turns frames the library throws on into an error instead of an uncaught exception', async () => {
    expect(await execInPod(kc, request('bad-channel'))).toMatchObject({
      ok: false,
      failure: 'error',
      message: 'malformed exec frame: Unknown stream: 7',
    });
    const badStatus = await execInPod(kc, request('bad-status'));
    expect(badStatus).toMatchObject({ ok: false, failure: 'error' });
    expect(badStatus.ok ? '' : badStatus.message).toMatch(/^malformed exec frame: .*JSON/);
    expect(await execInPod(kc, request('string-status'))).toMatchObject({
      ok: false,
      failure: 'error',
      message: 'malformed exec frame: the exit status is "done", not a Status object',
    });
    expect(await execInPod(kc, request('null-status', { timeoutMs: 100 }))).toMatchObject({
      ok: false,
      failure: 'timeout',
    });
  });

  it('does not wait for, nor keep a socket to, a server that ignores the close handshake', async () => {
    const started = Date.now();
    const deaf = await execInPod(kc, request('deaf'));
    expect(deaf).toMatchObject({ ok: true, stdout: 'x' });
    expect(Date.now() - started).toBeLessThan(500);
    // `ws` would hold the socket for its 30 s close timeout; the client cuts it after a short grace.
    await expect.poll(() => deafSockets.size, { timeout: 3_000, interval: 100 }).toBe(0);
  });

  it('stops on the caller signal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await execInPod(kc, request('silent', { signal: controller.signal, timeoutMs: 5_000 }));
    expect(result).toMatchObject({ ok: false, failure: 'cancelled' });
    expect(await execInPod(kc, request('ok', { signal: controller.signal }))).toMatchObject({ failure: 'cancelled' });
  });

  it('refuses names that would change the request path, without connecting', async () => {
    const count = seen.length;
    for (const bad of [{ pod: '../nodes/x' }, { pod: 'ok?command=sh' }, { namespace: 'Shop' }, { container: 'a/b' }]) {
      const result = await execInPod(kc, { ...request('ok'), ...bad });
      expect(result).toMatchObject({ ok: false, failure: 'error' });
      expect(result.ok ? '' : result.message).toMatch(/^invalid (pod|namespace|container) name/);
    }
    expect(await execInPod(kc, request('ok', { command: [] }))).toMatchObject({
      failure: 'error',
      message: 'empty command',
    });
    expect(seen.length).toBe(count);
  });

  it('reports a refused connection as an error', async () => {
    const dead = new KubeConfig();
    dead.loadFromOptions({
      clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 'tok' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const result = await execInPod(dead, request('ok'));
    expect(result).toMatchObject({ ok: false, failure: 'error' });
    expect(result.ok ? '' : result.message).toMatch(/^exec connection failed: .*ECONNREFUSED/);
  });
});

describe('status classification', () => {
  it('reads the exit code from the ExitCode cause only', () => {
    expect(classifyStatus({ status: 'Success' })).toEqual({ kind: 'ok', message: 'exit status 0', exitCode: 0 });
    expect(classifyStatus(JSON.parse(exitStatus(3)) as V1Status)).toMatchObject({ kind: 'non-zero-exit', exitCode: 3 });
    expect(classifyStatus(JSON.parse(exitStatus(126)) as V1Status)).toMatchObject({
      kind: 'no-such-binary',
      exitCode: 126,
    });
    expect(
      classifyStatus({ status: 'Failure', details: { causes: [{ reason: 'Other', message: '127' }] } }),
    ).toMatchObject({ kind: 'error' });
  });

  it('does not read "container not found" as a missing binary', () => {
    expect(classifyStatus({ status: 'Failure', message: 'container not found ("web")' }).kind).toBe(
      'container-not-running',
    );
    expect(classifyStatus({ status: 'Failure', message: 'exec: "ss": executable file not found in $PATH' }).kind).toBe(
      'no-such-binary',
    );
  });

  it('takes the message of a Status body and falls back to plain text', () => {
    expect(classifyRefusedUpgrade(403, statusBody(403, 'Forbidden', 'no exec for you'))).toEqual({
      kind: 'forbidden',
      message: 'HTTP 403: no exec for you',
    });
    expect(classifyRefusedUpgrade(503, 'busy\n')).toEqual({ kind: 'error', message: 'HTTP 503: busy' });
  });
});
