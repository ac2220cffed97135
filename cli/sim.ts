/**
 * `snat-responder sim`: serves the simulated AKS cluster (sim/) until SIGINT or SIGTERM. Once it listens it prints
 * exactly one JSON line on stdout:
 *
 *   {"kubeconfig":"/tmp/snat-sim-x/kubeconfig","apiServer":"https://127.0.0.1:41234","scenario":"default",
 *    "expected":{"node":"aks-...-vmss000000","nodeIp":"10.224.0.4","culprit":"shop/checkout-..."}}
 *
 * A bad scenario is exit 3 naming the file and the JSON field; a port in use is exit 4.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentError, usageError } from '../lib/errors.js';
import type { CliIo } from './main.js';
import { listenFailure } from '../lib/net.js';

export interface SimCliOptions {
  readonly scenario?: string;
  readonly port?: string;
  readonly kubeconfigOut?: string;
  readonly tls?: boolean;
  readonly timeScale?: string;
}

export interface StopSignal {
  readonly stopped: Promise<unknown>;
  dispose(): void;
}

/** Resolves on the first SIGINT or SIGTERM; `dispose` gives the signals back to their defaults. */
export function untilSignal(): StopSignal {
  let dispose = () => {};
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      dispose();
      resolve(signal);
    };
    dispose = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  return { stopped, dispose };
}

function portOf(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535)
    throw usageError(`--port: '${text}' is not a port number (0-65535)`);
  return Number(text);
}

function timeScaleOf(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > 1000) {
    throw usageError(`--time-scale: '${text}' is not a positive number (1 = real time, 0.01 = 100x faster)`);
  }
  return n;
}

export async function runSim(options: SimCliOptions, io: CliIo, until: () => StopSignal = untilSignal): Promise<void> {
  const port = portOf(options.port);
  const timeScale = timeScaleOf(options.timeScale);
  // The signal handlers go in before the (slow) start, so a SIGINT during start-up still ends the run cleanly.
  const stop = until();
  const { startSim } = await import('../sim/server.js');
  let sim;
  try {
    sim = await startSim({ scenario: options.scenario ?? 'default', port, tls: options.tls === true, timeScale });
  } catch (e) {
    stop.dispose();
    throw listenFailure(e, `127.0.0.1:${port}`);
  }
  let tempDir: string | null = null;
  try {
    let path = options.kubeconfigOut;
    if (path === undefined) {
      tempDir = await mkdtemp(join(tmpdir(), 'snat-sim-'));
      path = join(tempDir, 'kubeconfig');
    }
    try {
      await writeFile(path, sim.kubeconfig, { mode: 0o600 });
      await chmod(path, 0o600);
    } catch (e) {
      throw environmentError(
        `cannot write the kubeconfig to ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        e,
      );
    }
    io.stdout(
      JSON.stringify({ kubeconfig: path, apiServer: sim.url, scenario: sim.scenario.name, expected: sim.expected }) +
        '\n',
    );
    await stop.stopped;
  } finally {
    stop.dispose();
    await sim.close();
    if (tempDir !== null) await rm(tempDir, { recursive: true, force: true });
  }
}
