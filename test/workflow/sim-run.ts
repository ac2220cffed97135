/**
 * Runs one investigation in-process against a simulated cluster (sim/) through the real client: short capture window,
 * fast polls, retry waits recorded instead of slept (Retry-After: 1 would otherwise cost a second per retry).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InvestigationInput, InvestigationStatus } from '../../orchestrations/investigate.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { DEFAULT_CAPTURE_NAMESPACE } from '../../lib/k8s/capture-job.js';
import type { RetryInfo } from '../../lib/k8s/retry.js';
import { folderOutput } from '../../lib/workflow/context.js';
import type { InvestigationSettings, ReportOutput } from '../../lib/workflow/context.js';
import type { ActivityEvent } from '../../lib/workflow/driver.js';
import { runInvestigation } from '../../lib/workflow/investigation.js';
import type { InvestigationRun } from '../../lib/workflow/investigation.js';
import type { RunningSim } from '../../sim/server.js';

export interface SimRun extends InvestigationRun {
  readonly out: string;
  readonly statuses: InvestigationStatus[];
  readonly events: ActivityEvent[];
  readonly retries: RetryInfo[];
  readonly ms: number;
}

let counter = 0;

export async function investigateSim(
  sim: RunningSim,
  options: {
    node?: InvestigationInput['node'];
    captureSeconds?: number;
    onActivity?: (event: ActivityEvent) => void;
    input?: Partial<InvestigationInput>;
    signal?: AbortSignal;
    /** Added to the default settings (notification targets, say). */
    settings?: Partial<InvestigationSettings>;
    /** Instead of a fresh temporary folder (`out` is then that folder all the same, left empty). */
    output?: ReportOutput;
  } = {},
): Promise<SimRun> {
  const out = mkdtempSync(join(tmpdir(), 'snat-investigate-'));
  const statuses: InvestigationStatus[] = [];
  const events: ActivityEvent[] = [];
  const retries: RetryInfo[] = [];
  const clients = makeKubeClients(sim.kubeConfig(), {
    requestTimeoutMs: 5_000,
    retry: { sleep: () => Promise.resolve(), random: () => 0, onRetry: (info) => retries.push(info) },
  });
  const started = performance.now();
  const run = await runInvestigation({
    clients,
    input: {
      investigationId: `wf-${process.pid}-${++counter}`,
      node: options.node ?? { ip: sim.expected.nodeIp },
      captureSeconds: options.captureSeconds ?? 1,
      trigger: { kind: 'cli', source: 'test' },
      timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 },
      ...options.input,
    },
    settings: { namespace: DEFAULT_CAPTURE_NAMESPACE, allocatedPorts: 1024, privateCidrs: [], ...options.settings },
    classifier: new AddressClassifier(),
    output: options.output ?? folderOutput(out),
    ...(options.signal ? { signal: options.signal } : {}),
    onStatus: (s) => statuses.push(s),
    onActivity: (e) => {
      events.push(e);
      options.onActivity?.(e);
    },
  });
  return { ...run, out, statuses, events, retries, ms: performance.now() - started };
}
