/**
 * Azurite's blob service as a child process, in memory, on a free loopback port (PLATFORM.md section 3): the local
 * stand-in for Blob Storage that the tests and the demo use. `port` settles once Azurite prints its "listens on" line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

/** The well-known development account of Azurite (public, documented, not a secret). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The connection string for Azurite's blob service at `http://127.0.0.1:<port>`. */
export function azuriteConnectionString(blobUrl: string): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
    `BlobEndpoint=${blobUrl}/${AZURITE_ACCOUNT};`
  );
}

const MAIN = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
const STARTUP_TIMEOUT_MS = 20_000;

/** Spawns Azurite; `port` settles once it prints its "listens on" line. */
export function startAzurite(): { child: ChildProcess; port: Promise<number> } {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = new Promise<number>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        // Keep draining the pipes so Azurite never blocks on a full one.
        child.stdout?.removeListener('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(Number(match[1]));
      }
    };
    // unref: a pending timer keeps vitest from exiting (PLATFORM.md section 3).
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite did not start within ${STARTUP_TIMEOUT_MS} ms; output: ${output.slice(0, 2000)}`));
    }, STARTUP_TIMEOUT_MS);
    timer.unref();
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code ?? signal}) before listening; output: ${output.slice(0, 2000)}`));
    });
  });
  return { child, port };
}
