/** Listening on a port, for every loopback server of the project (`serve`, the simulated cluster and ARM endpoint). */
import type { Server } from 'node:net';
import { environmentError, isSnatResponderError } from './errors.js';

/** Starts `server` listening on `host:port` (0: any free port); resolves with the port, rejects with the listen error. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${host}:${port}: not a TCP server`);
  return address.port;
}

/**
 * A start-up failure as the CLI reports it: a port in use or not allowed becomes an environment error naming the
 * address; the project's own errors and anything else pass through unchanged.
 */
export function listenFailure(e: unknown, address: string): unknown {
  if (isSnatResponderError(e)) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES') return environmentError(`cannot listen on ${address}: ${code}`, e);
  return e;
}
