/**
 * The census of a 250-pod node (`many-pods` scenario) over the simulated cluster's exec WebSocket, with 50 ms of
 * injected exec latency, through the real client: `censusNode` with its default concurrency against a sequential
 * census (concurrency 1). Target: the concurrent census takes at most 2 s wall.
 *
 * The simulated API server runs in a child process, as a real one runs on other machines: in the same process it
 * would take the client's CPU for the work of the API server, the kubelet and the container runtime (about 2 ms per
 * exec here). `--sim in-process` measures that variant too, for comparison.
 *
 *   npx tsx bench/census.ts                     both contenders, wall times, ratio, PASS/FAIL (exit 1 on FAIL)
 *   npx tsx bench/census.ts --concurrency N|default [--out FILE] [--sim process|in-process]
 *                                               one census in a fresh process; its figures as a JSON line (on
 *                                               stdout, and appended to FILE): how bench/run.ts runs it
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const CENSUS_SCENARIO = 'many-pods';
export const CENSUS_EXEC_LATENCY_MS = 50;
export const CENSUS_TARGET_SECONDS = 2;

export type SimPlacement = 'process' | 'in-process';

export interface CensusRun {
  readonly concurrency: number;
  readonly sim: SimPlacement;
  readonly pods: number;
  /** Pods exec'd (hostNetwork pods are not). */
  readonly execPods: number;
  readonly execs: number;
  readonly ok: number;
  readonly failed: number;
  /** censusNode alone: from the first exec to the last result (not process start, sim start or the pod list). */
  readonly censusSeconds: number;
}

interface SimHandle {
  readonly kubeconfig: string;
  readonly node: string;
  close(): Promise<void>;
}

/** `--serve-sim`: the child side. One JSON line with the kubeconfig once listening; stops when stdin ends. */
async function serveSim(): Promise<void> {
  const { startSim } = await import('../sim/server.js');
  const sim = await startSim({ scenario: CENSUS_SCENARIO, faults: { execLatencyMs: CENSUS_EXEC_LATENCY_MS } });
  process.stdout.write(`${JSON.stringify({ kubeconfig: sim.kubeconfig, node: sim.expected.node })}\n`);
  process.stdin.resume();
  await new Promise<void>((done) => process.stdin.once('end', done));
  await sim.close();
}

async function simInChildProcess(): Promise<SimHandle> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve-sim'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const line = await new Promise<string>((ready, fail) => {
    createInterface({ input: child.stdout }).once('line', ready);
    child.once('exit', (code) => fail(new Error(`the simulated cluster exited (${code}) before it was ready`)));
  });
  const { kubeconfig, node } = JSON.parse(line) as { kubeconfig: string; node: string };
  return {
    kubeconfig,
    node,
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}

async function simInProcess(): Promise<SimHandle> {
  const { startSim } = await import('../sim/server.js');
  const sim = await startSim({ scenario: CENSUS_SCENARIO, faults: { execLatencyMs: CENSUS_EXEC_LATENCY_MS } });
  return { kubeconfig: sim.kubeconfig, node: sim.expected.node, close: () => sim.close() };
}

/** One census against a fresh simulated cluster. Fails unless every pod that should have been exec'd was. */
async function runCensus(concurrency: number, placement: SimPlacement): Promise<CensusRun> {
  // Loaded here, not at the top: bench/run.ts imports `verdict` without pulling in the client and the sim.
  const [{ censusNode }, { makeKubeClients, KubeConfig }, { listPodsOnNode }] = await Promise.all([
    import('../lib/k8s/census.js'),
    import('../lib/k8s/access.js'),
    import('../lib/k8s/pods.js'),
  ]);
  const sim = placement === 'process' ? await simInChildProcess() : await simInProcess();
  try {
    const kc = new KubeConfig();
    kc.loadFromString(sim.kubeconfig);
    const { pods } = await listPodsOnNode(makeKubeClients(kc), sim.node);
    const { summary } = await censusNode(kc, pods, { concurrency, timeoutMs: 10_000 });
    const execPods = pods.length - summary.hostNetwork;
    if (summary.exec !== execPods) {
      throw new Error(
        `census incomplete: ${summary.exec} of ${execPods} pods by exec (failures: ${JSON.stringify(summary.execFailures)})`,
      );
    }
    return {
      concurrency,
      sim: placement,
      pods: pods.length,
      execPods,
      execs: summary.execs,
      ok: summary.exec,
      failed: summary.failed,
      censusSeconds: summary.elapsedMs / 1000,
    };
  } finally {
    await sim.close();
  }
}

export function verdict(parallel: CensusRun, sequential: CensusRun): { pass: boolean; ratio: number; lines: string[] } {
  const ratio = sequential.censusSeconds / parallel.censusSeconds;
  const pass = parallel.censusSeconds <= CENSUS_TARGET_SECONDS;
  return {
    pass,
    ratio,
    lines: [
      `pods: ${parallel.pods} (${parallel.execPods} exec'd, ${parallel.pods - parallel.execPods} hostNetwork), ` +
        `execs per census: ${parallel.execs}, exec latency: ${CENSUS_EXEC_LATENCY_MS} ms, simulated API server: ${parallel.sim === 'process' ? 'separate process' : 'same process'}`,
      `concurrency ${parallel.concurrency}: ${parallel.censusSeconds.toFixed(3)} s`,
      `sequential (concurrency 1): ${sequential.censusSeconds.toFixed(3)} s`,
      `ratio sequential/concurrent: ${ratio.toFixed(1)}x`,
      `${pass ? 'PASS' : 'FAIL'}  census of ${parallel.pods} pods <= ${CENSUS_TARGET_SECONDS} s (${parallel.censusSeconds.toFixed(3)} s)`,
    ],
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      concurrency: { type: 'string' },
      out: { type: 'string' },
      sim: { type: 'string', default: 'process' },
      'serve-sim': { type: 'boolean' },
    },
  });
  if (values['serve-sim']) {
    await serveSim();
    return 0;
  }
  if (values.sim !== 'process' && values.sim !== 'in-process') {
    process.stderr.write(`--sim: expected "process" or "in-process", got ${values.sim}\n`);
    return 2;
  }
  const placement: SimPlacement = values.sim;
  const { DEFAULT_CENSUS_CONCURRENCY } = await import('../lib/k8s/census.js');
  if (values.concurrency !== undefined) {
    const concurrency = values.concurrency === 'default' ? DEFAULT_CENSUS_CONCURRENCY : Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      process.stderr.write(`--concurrency: expected a whole number >= 1 or "default", got ${values.concurrency}\n`);
      return 2;
    }
    const run = await runCensus(concurrency, placement);
    if (values.out) appendFileSync(values.out, JSON.stringify(run) + '\n');
    process.stdout.write(`${JSON.stringify(run)}\n`);
    return 0;
  }
  // Standalone: the first census of a process pays for module loading and JIT; report it, then the median of three.
  const runs: CensusRun[] = [];
  for (let i = 0; i < 4; i++) runs.push(await runCensus(DEFAULT_CENSUS_CONCURRENCY, placement));
  const parallel = { ...runs[1]!, censusSeconds: median(runs.slice(1).map((r) => r.censusSeconds)) };
  const sequential = await runCensus(1, placement);
  const { pass, lines } = verdict(parallel, sequential);
  process.stdout.write(
    `first census of the process (cold): ${runs[0]!.censusSeconds.toFixed(3)} s; ` +
      `then: ${runs
        .slice(1)
        .map((r) => r.censusSeconds.toFixed(3))
        .join(', ')} s (median below)\n`,
  );
  process.stdout.write(lines.join('\n') + '\n');
  return pass ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
