/**
 * One investigation, in-process: `investigateSnat` (orchestrations/investigate.ts) run by the local driver with the
 * activities of lib/workflow/activities, against one cluster. Used by `snat-responder investigate`, the demo and the
 * tests; the Functions app runs the same generator and activities under Durable Functions.
 */
import { investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult, InvestigationStatus } from '../../orchestrations/investigate.js';
import type { AddressClassifier } from '../analysis/ip.js';
import type { KubeClients } from '../k8s/access.js';
import { DEFAULT_CENSUS_CONCURRENCY } from '../k8s/census.js';
import type { CensusTool } from '../k8s/census.js';
import { boundedExec } from '../k8s/exec.js';
import type { ExecFn } from '../k8s/exec.js';
import type { Report } from '../report/model.js';
import { CLEANUP_ACTIVITIES, INVESTIGATION_ACTIVITIES } from './activities/index.js';
import { MemoryEvidenceStore, hasNotifyTargets } from './context.js';
import type {
  ActivityContext,
  EvidenceStore,
  InvestigationSettings,
  ReportOutput,
  SnatMetricsReader,
} from './context.js';
import { runWorkflow } from './driver.js';
import type { ActivityEvent } from './driver.js';

export interface RunInvestigationOptions {
  readonly clients: KubeClients;
  readonly input: InvestigationInput;
  readonly settings: InvestigationSettings;
  readonly classifier: AddressClassifier;
  readonly output: ReportOutput;
  /** Execs at once across the whole census. Default 16. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onStatus?: (status: InvestigationStatus) => void;
  readonly onActivity?: (event: ActivityEvent) => void;
  /** The driver's timer and clock (tests shorten or pin them). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly now?: () => Date;
  /** The exec seam under the shared limit (tests count execs through it). */
  readonly exec?: ExecFn;
  readonly store?: EvidenceStore;
  /**
   * The node's SNAT metrics (Azure Monitor: lib/azure/metrics.ts `snatMetricsReader`), read by resolveTarget when the
   * input names the load balancer (`scope.loadBalancerId`) and the alert's window (`alertWindow`). Absent: the
   * configured allocation (`settings.allocatedPorts`) only.
   */
  readonly snatMetrics?: SnatMetricsReader;
}

export interface InvestigationRun {
  readonly result: InvestigationResult;
  /** The report written, when there is one. */
  readonly report: Report | null;
}

export async function runInvestigation(options: RunInvestigationOptions): Promise<InvestigationRun> {
  const store = options.store ?? new MemoryEvidenceStore();
  const exec = boundedExec(options.concurrency ?? DEFAULT_CENSUS_CONCURRENCY, options.exec);
  const missingTools = new Map<string, Set<CensusTool>>();
  const context = (_activity: string, signal: AbortSignal): ActivityContext => ({
    clients: options.clients,
    classifier: options.classifier,
    settings: options.settings,
    store,
    output: options.output,
    signal,
    exec,
    missingTools,
    ...(options.snatMetrics ? { snatMetrics: options.snatMetrics } : {}),
  });
  // No target: the workflow skips the notify step rather than call an activity that would send nothing.
  const input: InvestigationInput = {
    ...options.input,
    notify: options.input.notify ?? hasNotifyTargets(options.settings.notify),
  };
  const result = await runWorkflow(investigateSnat, input, {
    activities: INVESTIGATION_ACTIVITIES,
    context,
    cleanupActivities: CLEANUP_ACTIVITIES,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.onStatus ? { onStatus: (s: unknown) => options.onStatus?.(s as InvestigationStatus) } : {}),
    ...(options.onActivity ? { onActivity: options.onActivity } : {}),
  });
  const report = result.outcome === 'reported' ? await store.get<Report>(result.report.reportRef) : null;
  return { result, report };
}
