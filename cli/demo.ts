/**
 * `snat-responder demo`: the whole investigation against the simulated AKS cluster, on this machine. Starts the sim
 * with its default scenario (Jobs run 20x faster than real time), runs `investigate` on the scenario's node exactly
 * as against a real cluster (capture Job, pod census over exec, analysis, report files), checks the verdict against
 * the scenario's expected culprit, and stops the sim.
 *
 * What it does not show (no Azure here): the alert trigger, Durable Functions, Blob Storage and the Teams card.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim } from '../sim/server.js';
import type { AddressClassifier } from '../lib/analysis/ip.js';
import { runInvestigate } from './investigate.js';
import type { CliIo } from './main.js';

export interface DemoOptions {
  readonly out: string;
  readonly scenario: string;
  readonly duration: number;
}

/** Returns the exit code: 0 when the report names the scenario's culprit first, 1 when it does not. */
export async function runDemo(options: DemoOptions, classifier: AddressClassifier, io: CliIo): Promise<number> {
  const sim = await startSim({ scenario: options.scenario, timeScale: 0.05 });
  const dir = await mkdtemp(join(tmpdir(), 'snat-demo-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, sim.kubeconfig, { mode: 0o600 });
    const node = sim.scenario.nodes.find((n) => n.name === sim.expected.node);
    io.stderr(
      `demo: simulated AKS cluster at ${sim.url} (scenario ${options.scenario}); investigating node ` +
        `${sim.expected.node} (${sim.expected.nodeIp}) with a ${options.duration} s capture\n`,
    );
    const code = await runInvestigate(
      {
        node: sim.expected.nodeIp,
        kubeconfig,
        duration: String(options.duration),
        out: options.out,
        ...(node?.snat ? { allocatedPorts: String(node.snat.allocatedPorts) } : {}),
      },
      classifier,
      [],
      io,
    );
    if (code !== 0) return code;
    const report = JSON.parse(await readFile(join(options.out, 'report.json'), 'utf8')) as {
      pods: Array<{ namespace: string; name: string }>;
    };
    const first = report.pods[0];
    const named = first ? `${first.namespace}/${first.name}` : '(none)';
    const culpritFirst = named === sim.expected.culprit;
    io.stdout(
      culpritFirst
        ? `\ndemo: the report ranks ${named} first: the scenario's culprit.\n`
        : `\ndemo: the report ranks ${named} first, but the scenario's culprit is ${sim.expected.culprit}.\n`,
    );
    if (sim.jobs().length > 0) {
      io.stderr(`demo: capture Jobs left in the cluster: ${JSON.stringify(sim.jobs())}\n`);
      return 1;
    }
    return culpritFirst ? 0 : 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await sim.close();
  }
}
