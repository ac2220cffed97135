/** An `ActivityContextFactory` against the simulated cluster (sim/), as the production one will be against AKS. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { DEFAULT_CAPTURE_NAMESPACE } from '../../lib/k8s/capture-job.js';
import type { CensusTool, MissingTools } from '../../lib/k8s/census.js';
import { execInPod } from '../../lib/k8s/exec.js';
import type { ActivityContextFactory } from '../../lib/workflow/activity-host.js';
import { folderOutput } from '../../lib/workflow/context.js';
import type { EvidenceStore } from '../../lib/workflow/context.js';
import type { RunningSim } from '../../sim/server.js';

export function simContextFactory(sim: RunningSim, store: EvidenceStore): ActivityContextFactory {
  const clients = makeKubeClients(sim.kubeConfig(), {
    requestTimeoutMs: 5_000,
    retry: { sleep: () => Promise.resolve(), random: () => 0 },
  });
  const output = folderOutput(mkdtempSync(join(tmpdir(), 'snat-df-')));
  const missingTools: MissingTools = new Map<string, Set<CensusTool>>();
  return {
    create: () => ({
      clients,
      classifier: new AddressClassifier(),
      settings: { namespace: DEFAULT_CAPTURE_NAMESPACE, allocatedPorts: 1024, privateCidrs: [] },
      store,
      output,
      signal: new AbortController().signal,
      exec: execInPod,
      missingTools,
    }),
  };
}
