/**
 * End-to-end time beyond the capture window (issue target: at most 5 s for a 50-pod node): one whole investigation,
 * in-process, against the simulated cluster's `fifty-pods` scenario through the real Kubernetes client, with the
 * workflow's production timing (its polls included) and the report written to a folder. The sim's Job timeline runs
 * at 1/20 of real time, so what is measured beyond the window is the responder's own work: starting the Job, the
 * census of 50 pods (during the window), polling, reading and parsing the capture, analysis, the report, the cleanup.
 *
 * Usage: tsx bench/e2e.ts [--out FILE]  (appends one JSON line {pods, captureSeconds, totalSeconds, beyondSeconds}).
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressClassifier } from '../lib/analysis/ip.js';
import { makeKubeClients } from '../lib/k8s/access.js';
import { DEFAULT_CAPTURE_NAMESPACE } from '../lib/k8s/capture-job.js';
import { folderOutput } from '../lib/workflow/context.js';
import { runInvestigation } from '../lib/workflow/investigation.js';
import { startSim } from '../sim/server.js';

export const E2E_TARGET_SECONDS = 5;
export const E2E_CAPTURE_SECONDS = 2;

export interface E2eRun {
  readonly pods: number;
  readonly captureSeconds: number;
  readonly totalSeconds: number;
  readonly beyondSeconds: number;
  readonly culpritFirst: boolean;
}

async function once(): Promise<E2eRun> {
  const sim = await startSim({ scenario: 'fifty-pods', timeScale: 0.05 });
  const out = mkdtempSync(join(tmpdir(), 'snat-e2e-'));
  try {
    const started = performance.now();
    const { report } = await runInvestigation({
      clients: makeKubeClients(sim.kubeConfig()),
      input: {
        investigationId: `bench-e2e-${process.pid}`,
        node: { ip: sim.expected.nodeIp },
        captureSeconds: E2E_CAPTURE_SECONDS,
        trigger: { kind: 'cli', source: 'bench' },
      },
      settings: { namespace: DEFAULT_CAPTURE_NAMESPACE, allocatedPorts: 1024, privateCidrs: [] },
      classifier: new AddressClassifier(),
      output: folderOutput(out),
    });
    const totalSeconds = (performance.now() - started) / 1000;
    const first = report?.pods[0];
    return {
      pods: sim.pods().length,
      captureSeconds: E2E_CAPTURE_SECONDS,
      totalSeconds,
      beyondSeconds: totalSeconds - E2E_CAPTURE_SECONDS,
      culpritFirst: first !== undefined && `${first.namespace}/${first.name}` === sim.expected.culprit,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
    await sim.close();
  }
}

if (process.argv[1]?.endsWith('e2e.ts')) {
  const outIndex = process.argv.indexOf('--out');
  const run = await once();
  const line = JSON.stringify(run);
  if (outIndex > 0 && process.argv[outIndex + 1]) appendFileSync(process.argv[outIndex + 1]!, line + '\n');
  process.stdout.write(line + '\n');
}
