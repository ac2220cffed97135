/**
 * vitest globalSetup: one Azurite blob service for the whole run, in memory, on a free loopback port
 * (PLATFORM.md section 3). Tests read its URL with `inject('azuriteBlobUrl')`.
 *
 * Azurite takes 0.5 s to start on a quiet machine and over 2 s on a busy one; the suite must not wait for it before
 * running anything. So the URL provided is that of a small loopback TCP relay that listens at once: Azurite starts
 * in the background (`--blobPort 0`, its "listens on" line read for the real port), and connections that arrive
 * before that wait in the relay, then are passed through. Only the tests that use Blob Storage ever wait.
 */
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startAzurite } from '../../sim/azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `http://127.0.0.1:<port>` of the run's Azurite blob service (account path `/devstoreaccount1`). */
    azuriteBlobUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { child, port } = startAzurite();
  // Should vitest die without running the teardown, Azurite must not outlive it.
  const killOnExit = (): void => {
    child.kill();
  };
  process.once('exit', killOnExit);

  const sockets = new Set<Socket>();
  let upstreamPort: number | null = null;
  let failure: Error | null = null;
  const waiting: Socket[] = [];
  const relay = (socket: Socket): void => {
    if (failure !== null || upstreamPort === null) {
      socket.destroy();
      return;
    }
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
  };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Until Azurite listens, the socket stays paused and buffers what the client sends.
    if (upstreamPort === null && failure === null) waiting.push(socket);
    else relay(socket);
  });
  port.then(
    (p) => {
      upstreamPort = p;
      for (const s of waiting.splice(0)) relay(s);
    },
    (e: unknown) => {
      failure = e instanceof Error ? e : new Error(String(e));
      console.error(`test/setup/azurite.ts: ${failure.message}`);
      for (const s of waiting.splice(0)) s.destroy();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The relay must not keep vitest alive on its own; the teardown closes it.
  server.unref();
  const { port: relayPort } = server.address() as AddressInfo;
  project.provide('azuriteBlobUrl', `http://127.0.0.1:${relayPort}`);

  return async () => {
    process.removeListener('exit', killOnExit);
    await new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    timer.unref();
    await exited;
    clearTimeout(timer);
  };
}
