/**
 * One command in one container, over the Kubernetes exec WebSocket, through the real `Exec` class of
 * @kubernetes/client-node 1.4.0, with the guarantees that class does not give (PLATFORM.md section 6):
 * - `Exec.exec()` resolves when the socket opens, not when the command ends: the result is the V1Status of channel 3,
 *   awaited with a per-exec timeout that also closes the socket (in any state, the handshake included).
 * - A socket that closes without a channel-3 frame would leave the caller waiting forever: here it is `dropped`.
 * - Output is collected into bounded buffers; a command that prints more is cut off and reported.
 * - Errors before the upgrade only surface from `ws` as `Unexpected server response: 403`, without the body. The socket
 *   factory (the handler's own injection seam) reads the status code and the Status body first, so a failure says
 *   `forbidden` or `container-not-running` and quotes the API server.
 * - A malformed frame (unknown channel, status that is not JSON) makes the library throw inside a `ws` event handler,
 *   which would be an uncaught exception: the handler is wrapped and the exec fails with `error` instead.
 *
 * Commands are constant arrays from a fixed table (lib/k8s/census.ts); nothing from a pod name or a request is ever
 * placed in one. Names that go into the URL path are checked against Kubernetes' own name rules first: the library
 * puts them into the path unencoded.
 */
import pLimit from 'p-limit';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package index; the handler's socket factory is its documented injection point. The version
// is pinned exactly (package.json), and the package has no `exports` map, so this path is stable for 1.4.0.
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js';
import WebSocket from 'ws';
import { isDns1123Label, isDns1123Subdomain } from './names.js';

export type ExecFailureKind =
  /** The binary is not in the image (exit 126/127, `executable file not found`). */
  | 'no-such-binary'
  /** RBAC or admission refused `pods/exec` (HTTP 401/403 before the upgrade). */
  | 'forbidden'
  /** The pod or container is gone, not started, or finished (HTTP 400/404 before the upgrade, or on channel 3). */
  | 'container-not-running'
  /** No exit status within the per-exec timeout; the socket was closed. */
  | 'timeout'
  /** The socket closed after the upgrade without an exit status on channel 3. */
  | 'dropped'
  /** The command ran and exited with a status other than 0 (its output is kept). */
  | 'non-zero-exit'
  /** The command printed more than `maxOutputBytes` on stdout; it was cut off. */
  | 'output-too-large'
  /** The caller's signal aborted the exec. */
  | 'cancelled'
  /** Anything else: connection refused, TLS, HTTP 5xx, malformed frames. */
  | 'error';

export interface ExecSuccess {
  readonly ok: true;
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: 0;
  readonly elapsedMs: number;
}

export interface ExecFailure {
  readonly ok: false;
  readonly failure: ExecFailureKind;
  /** What went wrong, quoting the API server or the runtime where they said something. */
  readonly message: string;
  readonly exitCode?: number;
  /** HTTP status of a refused upgrade. */
  readonly httpStatus?: number;
  /** What the command printed, for `non-zero-exit` (e.g. `cat` of a missing /proc/net/tcp6 still printed tcp). */
  readonly stdout?: string;
  readonly stderr?: string;
  readonly elapsedMs: number;
}

export type ExecResult = ExecSuccess | ExecFailure;

export interface ExecRequest {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly command: readonly string[];
  /** From the start of the handshake to the exit status. */
  readonly timeoutMs: number;
  /** Bound on stdout; stderr is kept up to `STDERR_MAX_BYTES` (it only serves messages). */
  readonly maxOutputBytes: number;
  readonly signal?: AbortSignal;
}

/** The exec function's type, so callers can wrap or replace it (tests count concurrent execs through this seam). */
export type ExecFn = (kc: KubeConfig, request: ExecRequest) => Promise<ExecResult>;

/**
 * `inner` (default `execInPod`) with at most `concurrency` execs in flight (at least 1): one bound shared by every
 * census batch of an investigation, so a node is never sent more execs at once than the setting allows.
 */
export function boundedExec(concurrency: number, inner?: ExecFn): ExecFn {
  const limit = pLimit(Math.max(1, Math.floor(concurrency)));
  const run = inner ?? execInPod;
  return (kc, request) => limit(() => run(kc, request));
}

export const STDERR_MAX_BYTES = 64 * 1024;
/** How much of a refused upgrade's body is read for its message. */
const ERROR_BODY_MAX_BYTES = 16 * 1024;
/** After the exit status the library closes the socket politely; a server that never answers is cut after this. */
const CLOSE_GRACE_MS = 1_000;

function invalidRequest(request: ExecRequest): string | null {
  // What the API server accepts: namespaces and containers are DNS-1123 labels, pods DNS-1123 subdomains.
  if (!isDns1123Label(request.namespace)) {
    return `invalid namespace name ${JSON.stringify(request.namespace)}`;
  }
  if (!isDns1123Subdomain(request.pod)) {
    return `invalid pod name ${JSON.stringify(request.pod)}`;
  }
  if (!isDns1123Label(request.container)) {
    return `invalid container name ${JSON.stringify(request.container)}`;
  }
  if (request.command.length === 0 || request.command.some((part) => typeof part !== 'string' || part.length === 0)) {
    return 'empty command';
  }
  if (!(request.timeoutMs > 0) || !Number.isFinite(request.timeoutMs)) return `invalid timeout ${request.timeoutMs}`;
  if (!(request.maxOutputBytes > 0)) return `invalid output bound ${request.maxOutputBytes}`;
  return null;
}

/** A Writable that keeps at most `limit` bytes and reports the first byte past it. */
class BoundedCollector extends Writable {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  overflowed = false;

  constructor(
    private readonly limit: number,
    private readonly onOverflow: () => void,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.overflowed) {
      const room = this.limit - this.bytes;
      if (chunk.length > room) {
        if (room > 0) this.chunks.push(Buffer.from(chunk.subarray(0, room)));
        this.bytes = this.limit;
        this.overflowed = true;
        this.onOverflow();
      } else {
        this.chunks.push(Buffer.from(chunk));
        this.bytes += chunk.length;
      }
    }
    callback();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Cuts a server-supplied message to something a report line can hold. The runtime puts the cause at the end of a long
 * chain (`error executing command in container: ... OCI runtime exec failed: ... exec: "netstat": executable file not
 * found in $PATH`), so a long message keeps its head and its tail; 64-hex exec ids are noise and go.
 */
function clip(text: string, max = 300): string {
  const oneLine = text
    .replace(/\s+/g, ' ')
    .replace(/ ?"?[0-9a-f]{64}"?:?/g, '')
    .trim();
  if (oneLine.length <= max) return oneLine;
  const head = Math.floor(max / 3);
  return `${oneLine.slice(0, head)}...${oneLine.slice(oneLine.length - (max - head - 3))}`;
}

function exitCodeOf(status: V1Status): number | undefined {
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message === undefined || !/^\d+$/.test(cause.message)) return undefined;
  return Number(cause.message);
}

const CONTAINER_NOT_RUNNING =
  /container not found|is not running|not running|completed pod|current phase is|ContainerCreating|is waiting to start|is not valid for pod|container .* is terminated|no container/i;
const NO_SUCH_BINARY = /executable file not found|no such file or directory|not found/i;

/**
 * The exit status on channel 3. Container errors are checked before binary errors: `container not found` must not be
 * read as a missing executable.
 */
export function classifyStatus(status: V1Status): { kind: ExecFailureKind | 'ok'; message: string; exitCode?: number } {
  if (status.status === 'Success') return { kind: 'ok', message: 'exit status 0', exitCode: 0 };
  const exitCode = exitCodeOf(status);
  const message = clip(status.message ?? status.reason ?? 'exec failed without a message');
  const withCode = exitCode !== undefined ? { exitCode } : {};
  if (CONTAINER_NOT_RUNNING.test(message)) return { kind: 'container-not-running', message, ...withCode };
  if (exitCode === 126 || exitCode === 127 || NO_SUCH_BINARY.test(message)) {
    return { kind: 'no-such-binary', message, ...withCode };
  }
  if (status.reason === 'Forbidden' || status.code === 403 || /\bforbidden\b/i.test(message)) {
    return { kind: 'forbidden', message, ...withCode };
  }
  if (exitCode !== undefined) return { kind: 'non-zero-exit', message, exitCode };
  return { kind: 'error', message };
}

/** A refused upgrade: the HTTP status and the body (a Status JSON from a real API server, or plain text). */
export function classifyRefusedUpgrade(httpStatus: number, body: string): { kind: ExecFailureKind; message: string } {
  let text = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') text = parsed.message;
  } catch {
    // plain-text body
  }
  const message = clip(`HTTP ${httpStatus}${text.trim() ? `: ${text}` : ''}`);
  if (httpStatus === 401 || httpStatus === 403) return { kind: 'forbidden', message };
  // The API server answers 400 for a container that does not exist, has not started or has finished, and for a
  // completed pod; 404 for a pod deleted since it was listed.
  if (httpStatus === 400 || httpStatus === 404) return { kind: 'container-not-running', message };
  return { kind: 'error', message };
}

interface RefusedUpgrade {
  readonly httpStatus: number;
  readonly body: string;
}

/**
 * Wraps whatever the library assigns to `onmessage` so that a throw (unknown channel, unparsable status) ends this
 * exec instead of escaping from a `ws` event handler as an uncaught exception. The own accessor forwards to the
 * prototype's (`Reflect` with the socket as receiver), so `ws` keeps its own bookkeeping of the attribute handler.
 */
function guardOnMessage(ws: WebSocket, onThrow: (error: unknown) => void): void {
  const proto = WebSocket.prototype;
  Object.defineProperty(ws, 'onmessage', {
    configurable: true,
    get(): unknown {
      return Reflect.get(proto, 'onmessage', ws);
    },
    set(handler: ((event: WebSocket.MessageEvent) => void) | null) {
      const guarded =
        handler === null
          ? null
          : (event: WebSocket.MessageEvent) => {
              try {
                handler(event);
              } catch (error) {
                onThrow(error);
              }
            };
      Reflect.set(proto, 'onmessage', guarded, ws);
    },
  });
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  // `ws` rejects the library's connect with an ErrorEvent: { type, message, error }.
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

export const execInPod: ExecFn = (kc, request) => {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const invalid = invalidRequest(request);
  if (invalid !== null) return Promise.resolve({ ok: false, failure: 'error', message: invalid, elapsedMs: 0 });
  if (request.signal?.aborted) {
    return Promise.resolve({
      ok: false,
      failure: 'cancelled',
      message: 'cancelled before the exec started',
      elapsedMs: 0,
    });
  }

  return new Promise<ExecResult>((resolve) => {
    let settled = false;
    let socket: WebSocket | undefined;
    let opened = false;
    let statusReceived = false;
    let refused: RefusedUpgrade | undefined;

    const stdout = new BoundedCollector(request.maxOutputBytes, () =>
      settle({
        ok: false,
        failure: 'output-too-large',
        message: `stdout exceeded ${request.maxOutputBytes} bytes; the exec was cut off`,
        elapsedMs: elapsed(),
      }),
    );
    const stderr = new BoundedCollector(STDERR_MAX_BYTES, () => undefined);

    const onAbort = () =>
      settle({
        ok: false,
        failure: 'cancelled',
        message: 'cancelled while the exec was running',
        elapsedMs: elapsed(),
      });
    const timer = setTimeout(
      () =>
        settle({
          ok: false,
          failure: 'timeout',
          message: opened
            ? `no exit status within ${request.timeoutMs} ms`
            : `no exec connection within ${request.timeoutMs} ms`,
          elapsedMs: elapsed(),
        }),
      request.timeoutMs,
    );
    request.signal?.addEventListener('abort', onAbort, { once: true });

    function settle(result: ExecResult, politeClose = false): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      if (socket && socket.readyState !== WebSocket.CLOSED) {
        if (politeClose) {
          // The library already sent a close frame after the status; do not keep a socket for a silent server.
          const ws = socket;
          setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
        } else {
          socket.terminate();
        }
      }
      resolve(result);
    }

    const factory = (uri: string, protocols: string[], options: WebSocket.ClientOptions): WebSocket => {
      const ws = new WebSocket(uri, protocols, options);
      socket = ws;
      if (settled) {
        // Timed out or cancelled while the library was still preparing the connection.
        queueMicrotask(() => ws.terminate());
      }
      ws.on('open', () => (opened = true));
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < ERROR_BODY_MAX_BYTES) chunks.push(chunk.subarray(0, ERROR_BODY_MAX_BYTES - size));
          size += chunk.length;
        });
        const done = () => {
          if (refused) return;
          refused = { httpStatus: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
          // Ends the handshake: `ws` emits error + close, and the library's connect() rejects.
          ws.terminate();
        };
        res.on('end', done);
        res.on('error', done);
        res.on('aborted', done);
      });
      ws.on('close', () => {
        // Before the upgrade, the library's rejected connect() carries the outcome; after it, a close without a
        // status is a drop (the status callback runs synchronously in the message handler, before any close).
        if (opened && !statusReceived) {
          settle({
            ok: false,
            failure: 'dropped',
            message: 'the exec connection closed without an exit status',
            ...(stdout.text().length > 0 ? { stdout: stdout.text() } : {}),
            elapsedMs: elapsed(),
          });
        }
      });
      guardOnMessage(ws, (error) =>
        settle({
          ok: false,
          failure: 'error',
          message: `malformed exec frame: ${clip(errorMessage(error))}`,
          elapsedMs: elapsed(),
        }),
      );
      return ws;
    };

    const onStatus = (status: V1Status | null) => {
      statusReceived = true;
      if (typeof status !== 'object' || status === null || Array.isArray(status)) {
        settle({
          ok: false,
          failure: 'error',
          message: `malformed exec frame: the exit status is ${JSON.stringify(status)}, not a Status object`,
          elapsedMs: elapsed(),
        });
        return;
      }
      // The library ended both collectors before calling back; wait until they have taken every chunk.
      void Promise.all([finished(stdout), finished(stderr)]).then(
        () => {
          if (stdout.overflowed) return; // already settled as output-too-large
          const verdict = classifyStatus(status);
          const out = stdout.text();
          const err = stderr.text();
          if (verdict.kind === 'ok') {
            settle({ ok: true, stdout: out, stderr: err, exitCode: 0, elapsedMs: elapsed() }, true);
            return;
          }
          settle(
            {
              ok: false,
              failure: verdict.kind,
              message: verdict.message,
              ...(verdict.exitCode !== undefined ? { exitCode: verdict.exitCode } : {}),
              ...(verdict.kind === 'non-zero-exit' ? { stdout: out, stderr: err } : {}),
              ...(verdict.kind !== 'non-zero-exit' && err.trim() ? { stderr: err } : {}),
              elapsedMs: elapsed(),
            },
            true,
          );
        },
        (error: unknown) =>
          settle({
            ok: false,
            failure: 'error',
            message: `output stream: ${errorMessage(error)}`,
            elapsedMs: elapsed(),
          }),
      );
    };

    const exec = new Exec(kc, new WebSocketHandler(kc, factory));
    exec
      .exec(
        request.namespace,
        request.pod,
        request.container,
        [...request.command],
        stdout,
        stderr,
        null,
        false,
        onStatus,
      )
      .then(
        () => undefined,
        (error: unknown) => {
          if (refused) {
            const verdict = classifyRefusedUpgrade(refused.httpStatus, refused.body);
            settle({
              ok: false,
              failure: verdict.kind,
              message: verdict.message,
              httpStatus: refused.httpStatus,
              elapsedMs: elapsed(),
            });
            return;
          }
          settle({
            ok: false,
            failure: 'error',
            message: `exec connection failed: ${clip(errorMessage(error))}`,
            elapsedMs: elapsed(),
          });
        },
      );
  });
};
