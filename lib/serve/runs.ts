/**
 * The investigations `snat-responder serve` runs in process (lib/serve/server.ts composes this with the HTTP side):
 * the `MemoryRegistry` (one live investigation per cluster + node, cooldown), the runs it started and their state, the
 * concurrency limit (SNAT_MAX_CONCURRENT_INVESTIGATIONS), starting a node's investigation (`runInvestigation`) or a
 * cluster census (`investigateCluster` under the in-process driver), and what the API answers about them: the
 * Durable-like status view and the report links (Blob SAS links, or /reports/<id>/<file> under the server's origin).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { investigateCluster } from '../../orchestrations/cluster.js';
import type { ClusterInvestigationInput, ClusterInvestigationResult } from '../../orchestrations/cluster.js';
import { investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult } from '../../orchestrations/investigate.js';
import type { AddressClassifier } from '../analysis/ip.js';
import type { BlobReportStore } from '../azure/blob-store.js';
import type { Settings } from '../config/settings.js';
import type { KubeClients } from '../k8s/access.js';
import type { CensusTool } from '../k8s/census.js';
import { boundedExec } from '../k8s/exec.js';
import type { AlertPlan, LoadBalancerTarget, NatGatewayTarget } from '../intake/alert.js';
import type { ReportLinks, StartRequest } from '../intake/http.js';
import { investigationKey, MemoryRegistry } from '../intake/registry.js';
import type { InstanceView, InvestigationKey, NodeRef, RegistryEntry } from '../intake/registry.js';
import type { LogFields, Logger } from '../log.js';
import { CLEANUP_ACTIVITIES, INVESTIGATION_ACTIVITIES } from '../workflow/activities/index.js';
import { ORCHESTRATIONS } from '../workflow/contracts.js';
import type { NodeQuery } from '../workflow/contracts.js';
import { folderOutput, hasNotifyTargets, MemoryEvidenceStore } from '../workflow/context.js';
import type { ActivityContext, InvestigationSettings, ReportOutput, SnatMetricsReader } from '../workflow/context.js';
import { runWorkflow } from '../workflow/driver.js';
import type { ActivityFunction } from '../workflow/driver.js';
import { runInvestigation } from '../workflow/investigation.js';
import type { RunInvestigationOptions } from '../workflow/investigation.js';
import { investigationLog } from '../workflow/observe.js';
import type { InvestigationLog } from '../workflow/observe.js';
import { REPORT_FILE_NAMES } from '../report/files.js';
import { alertTriggerOf, nodeInputOfTarget } from './durable.js';

/** What serve's options (lib/serve/server.ts `ServeOptions`) say about the investigations. */
export interface RunsOptions {
  readonly clients: KubeClients;
  /** Stands for the cluster in registry keys (the kubeconfig's cluster name). */
  readonly clusterName: string;
  readonly settings: Settings;
  readonly classifier: AddressClassifier;
  /** Reports to Blob Storage when given; else folders under `outDir`. */
  readonly blob?: BlobReportStore | null;
  readonly outDir: string;
  /** Capture window of alert-started investigations. Default settings.capture.defaultSeconds. */
  readonly captureSeconds?: number;
  /** Test seams passed to runInvestigation. */
  readonly run?: Partial<Pick<RunInvestigationOptions, 'sleep' | 'now' | 'concurrency'>> & {
    readonly timing?: InvestigationInput['timing'];
  };
  /**
   * The node's SNAT metrics for alert-started investigations (Azure Monitor through ARM: lib/azure/metrics.ts
   * `snatMetricsReader`; the demo gives one over the simulated ARM). Default: none, and the report's `snat` block is
   * unknown.
   */
  readonly snatMetrics?: SnatMetricsReader;
}

/** What the runs take from the server: its loggers (secrets already blanked out) and its origin, once listening. */
export interface RunsDeps {
  /** Per investigation: its start, phases, activities, degradations and outcome (lib/workflow/observe.ts). */
  readonly logger: Logger;
  /** The deprecated plain-text log: `investigation <id> <state>: <message>` for a run that did not complete. */
  readonly log: (message: string) => void;
  /** The server's origin (`http://host:port`), for the links to report files in folders. */
  readonly origin: () => string;
}

/** A claim's answer: the run started, or the existing one returned (running, or finished inside the cooldown). */
export interface Claim {
  readonly id: string;
  readonly started: boolean;
  readonly why?: 'running' | 'cooldown';
}

/** A run as GET /api/investigations/{id} shows it. */
export interface RunStatus {
  readonly view: InstanceView;
  readonly links: ReportLinks | null;
  readonly nodeLinks: Record<string, ReportLinks>;
}

type StartPlan = Extract<AlertPlan, { kind: 'start' }>;

export interface Runs {
  /** An alert's load balancer target: one investigation of the node with that InternalIP. */
  claimNode(target: LoadBalancerTarget, plan: StartPlan): Promise<Claim>;
  /** An alert's NAT gateway target: one census of the kubeconfig's cluster. */
  claimCensus(target: NatGatewayTarget, plan: StartPlan): Promise<Claim>;
  /** POST /api/investigations: one investigation of the node the request names. */
  claimRequest(request: StartRequest): Promise<Claim>;
  /** The run's view and report links; null when serve started no run with that id. */
  statusOf(id: string): Promise<RunStatus | null>;
  /** The registry's latest entries. */
  recent(limit: number): Promise<RegistryEntry[]>;
  /** The report folder of a finished, reported investigation (a run's own, a census's node's). */
  reportDir(id: string): string | undefined;
  /** Investigations started so far (claims that won). */
  started(): number;
  /** Cancels every run (their cleanup deletes the capture Jobs) and waits for them. */
  cancelAll(): Promise<void>;
}

interface Run {
  readonly id: string;
  readonly key: InvestigationKey;
  readonly createdAt: Date;
  updatedAt: Date;
  state: 'pending' | 'running' | 'completed' | 'failed' | 'terminated';
  /** The workflow's custom status: `InvestigationStatus` (a node), `ClusterStatus` (a census). */
  status: unknown;
  result: InvestigationResult | ClusterInvestigationResult | null;
  error: string | null;
  readonly controller: AbortController;
  /** Report folders by investigation id (the run's own; a census's nodes'), when reports go to folders. */
  readonly dirs: Map<string, string>;
  done: Promise<void>;
  readonly log: InvestigationLog;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const stamp = (d: Date): string =>
  d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '')
    .toLowerCase();

/** The investigations of a result that wrote a report: the run's own, or a census's nodes'. */
function reportedIds(id: string, result: InvestigationResult | ClusterInvestigationResult): string[] {
  if (result.outcome === 'census') {
    return result.nodes.flatMap((n) => (n.outcome === 'reported' ? [n.investigationId] : []));
  }
  return result.outcome === 'reported' ? [id] : [];
}

/** The workflow's settings from the app's; notification targets pass through when any is set. */
export function investigationSettingsOf(settings: Settings): InvestigationSettings {
  return {
    namespace: settings.capture.namespace,
    image: settings.capture.image,
    ...(settings.capture.pullSecret !== null ? { pullSecret: settings.capture.pullSecret } : {}),
    allocatedPorts: null,
    privateCidrs: settings.privateCidrs,
    ...(settings.teamsWebhookUrl !== null || settings.webhook !== null
      ? {
          notify: {
            ...(settings.teamsWebhookUrl !== null ? { teamsWebhookUrl: settings.teamsWebhookUrl } : {}),
            ...(settings.webhook !== null ? { webhook: settings.webhook } : {}),
            linkTtlSeconds: settings.reportLinkTtlMinutes * 60,
          },
        }
      : {}),
  };
}

export function createRuns(options: RunsOptions, deps: RunsDeps): Runs {
  const { settings } = options;
  const { logger, log, origin } = deps;
  const now = options.run?.now ?? (() => new Date());
  const registry = new MemoryRegistry({ cooldownMs: settings.cooldownMinutes * 60_000 });
  const runs = new Map<string, Run>();
  const limit = pLimit(settings.maxConcurrentInvestigations);
  const investigationSettings = investigationSettingsOf(settings);
  let startedCount = 0;

  const outputOf = (id: string, node: NodeQuery): { output: ReportOutput; dir: string | null } => {
    if (options.blob) {
      const nodePart = 'ip' in node ? node.ip : node.name;
      return {
        output: options.blob.output({
          cluster: options.clusterName,
          node: nodePart,
          investigationId: id,
          generatedAt: now().toISOString(),
        }),
        dir: null,
      };
    }
    const dir = join(options.outDir, id);
    return { output: folderOutput(dir), dir };
  };

  /** Report folders of finished, reported investigations (a run's own, a census's nodes'), by investigation id. */
  const reportDirs = new Map<string, string>();

  const timing = options.run?.timing ? { timing: options.run.timing } : {};
  const driverSeams = {
    ...(options.run?.sleep ? { sleep: options.run.sleep } : {}),
    now,
  };

  /** A run's status as the workflow reports it: kept for the status route, and logged when its phase changes. */
  const tracked =
    (run: Run) =>
    (s: unknown): void => {
      run.status = s;
      run.updatedAt = now();
      run.log.onStatus(s);
    };

  /**
   * One node's investigation: `investigateSnat` through `runInvestigation`, its input made for the run's id. An alert's
   * input names the load balancer (`scope`) and the alert's window, so resolveTarget reads the node's SNAT metrics when
   * serve has a reader (`options.snatMetrics`). The report's folder or blob path and the registry key come from the
   * node and the kubeconfig's cluster, never from that scope.
   */
  const runNode =
    (inputFor: (id: string) => InvestigationInput) =>
    async (run: Run): Promise<InvestigationResult> => {
      const input: InvestigationInput = { ...inputFor(run.id), ...timing };
      const { output, dir } = outputOf(run.id, input.node);
      if (dir !== null) run.dirs.set(run.id, dir);
      const { result, report } = await runInvestigation({
        clients: options.clients,
        input,
        settings: investigationSettings,
        classifier: options.classifier,
        output,
        concurrency: options.run?.concurrency ?? settings.censusConcurrency,
        signal: run.controller.signal,
        onStatus: tracked(run),
        onActivity: run.log.onActivity,
        ...(options.snatMetrics ? { snatMetrics: options.snatMetrics } : {}),
        ...driverSeams,
      });
      // Everything the report says was degraded (the workflow's own and what the activities found).
      if (report !== null) run.log.degraded(report.degraded);
      return result;
    };

  /**
   * A NAT gateway alert's census of the kubeconfig's cluster: `investigateCluster` under the in-process driver, its
   * nodes' census-only `investigateSnat` as sub-workflows. The activities share one evidence store and one exec bound;
   * each investigation (the census's own, each node's) writes to its own output, chosen from the activity's input.
   */
  const runCensus =
    (input: ClusterInvestigationInput) =>
    async (run: Run): Promise<ClusterInvestigationResult> => {
      const store = new MemoryEvidenceStore();
      const exec = boundedExec(options.run?.concurrency ?? settings.censusConcurrency);
      const missingTools = new Map<string, Set<CensusTool>>();
      const outputs = new Map<string, ReportOutput>();
      const outputFor = (id: string, node: string | null): ReportOutput => {
        let output = outputs.get(id);
        if (output === undefined) {
          const made = outputOf(id, { name: node ?? 'cluster' });
          output = made.output;
          outputs.set(id, output);
          if (made.dir !== null) run.dirs.set(id, made.dir);
        }
        return output;
      };
      // The driver's context is only the signal: each activity's context is built from its input (whose output).
      const contextOf = (activityInput: unknown, signal: AbortSignal): ActivityContext => {
        const i = (activityInput ?? {}) as { investigationId?: unknown; nodeName?: unknown; node?: { name?: unknown } };
        const id = typeof i.investigationId === 'string' ? i.investigationId : run.id;
        const node =
          typeof i.nodeName === 'string' ? i.nodeName : typeof i.node?.name === 'string' ? i.node.name : null;
        return {
          clients: options.clients,
          classifier: options.classifier,
          settings: investigationSettings,
          store,
          output: outputFor(id, node),
          signal,
          exec,
          missingTools,
        };
      };
      const activities: Record<string, ActivityFunction<AbortSignal>> = {};
      for (const [name, fn] of Object.entries(INVESTIGATION_ACTIVITIES)) {
        activities[name] = (signal, activityInput) => fn(contextOf(activityInput, signal), activityInput);
      }
      return runWorkflow(investigateCluster, input, {
        activities,
        context: (_activity, signal) => signal,
        orchestrators: { [ORCHESTRATIONS.investigateSnat]: investigateSnat },
        cleanupActivities: CLEANUP_ACTIVITIES,
        signal: run.controller.signal,
        onStatus: tracked(run),
        onActivity: run.log.onActivity,
        ...driverSeams,
      });
    };

  /** Claims `key`; when it wins, queues the investigation (`execute`); `about` describes it in its first log line. */
  const claim = async (
    key: InvestigationKey,
    execute: (run: Run) => Promise<InvestigationResult | ClusterInvestigationResult>,
    about: LogFields,
  ): Promise<Claim> => {
    const at = now();
    const id = `serve-${stamp(at)}-${randomBytes(3).toString('hex')}`;
    const claimed = await registry.claim(key, id, at);
    if (!claimed.claimed) return { id: claimed.existing.id, started: false, why: claimed.why };
    startedCount += 1;
    const run: Run = {
      id,
      key,
      createdAt: at,
      updatedAt: at,
      state: 'pending',
      status: null,
      result: null,
      error: null,
      controller: new AbortController(),
      dirs: new Map(),
      done: Promise.resolve(),
      log: investigationLog(logger, id),
    };
    runs.set(id, run);
    run.done = limit(async () => {
      if (run.controller.signal.aborted) {
        run.state = 'terminated';
        run.log.ended('terminated', 'cancelled before it started');
        return;
      }
      run.state = 'running';
      run.updatedAt = now();
      run.log.current().info('investigation started', about);
      run.result = await execute(run);
      run.log.finished(run.result);
      for (const reported of reportedIds(run.id, run.result)) {
        const dir = run.dirs.get(reported);
        if (dir !== undefined) reportDirs.set(reported, dir);
      }
      run.state = 'completed';
    })
      .catch((e: unknown) => {
        run.state = run.controller.signal.aborted ? 'terminated' : 'failed';
        run.error = messageOf(e);
        log(`investigation ${id} ${run.state}: ${run.error}`);
        run.log.ended(run.state, run.error);
      })
      .finally(() => {
        run.updatedAt = now();
        const outcome = run.result?.outcome ?? 'failed';
        void registry.finish(key, id, outcome, now());
      });
    return { id, started: true };
  };

  const viewOf = (run: Run): InstanceView => ({
    instanceId: run.id,
    runtimeStatus: run.state === 'pending' ? 'Pending' : run.state[0]!.toUpperCase() + run.state.slice(1),
    createdTime: run.createdAt,
    lastUpdatedTime: run.updatedAt,
    customStatus: run.status,
    // A failed run's output is its error, as Durable keeps it.
    output: run.state === 'failed' ? run.error : run.result,
  });

  const linksTo = async (id: string, keys: ReportLinks): Promise<ReportLinks> => {
    if (options.blob) {
      const ttl = settings.reportLinkTtlMinutes * 60;
      const blob = options.blob;
      const [j, m, h] = await Promise.all([keys.json, keys.markdown, keys.html].map((k) => blob.readLink(k, ttl)));
      return { json: j!, markdown: m!, html: h! };
    }
    const base = `${origin()}/reports/${encodeURIComponent(id)}/`;
    return {
      json: base + REPORT_FILE_NAMES.json,
      markdown: base + REPORT_FILE_NAMES.markdown,
      html: base + REPORT_FILE_NAMES.html,
    };
  };

  /** The run's report links, and a census's per-node ones. */
  const linksOf = async (run: Run): Promise<{ links: ReportLinks | null; nodeLinks: Record<string, ReportLinks> }> => {
    const result = run.result;
    if (result?.outcome === 'reported') return { links: await linksTo(run.id, result.report), nodeLinks: {} };
    const nodeLinks: Record<string, ReportLinks> = {};
    if (result?.outcome === 'census') {
      for (const n of result.nodes) {
        if (n.outcome === 'reported') nodeLinks[n.investigationId] = await linksTo(n.investigationId, n.report);
      }
    }
    return { links: null, nodeLinks };
  };

  const clusterKey = (node: NodeRef): InvestigationKey => investigationKey(`kubeconfig:${options.clusterName}`, node);

  /** What the first line of a node's investigation says about it. */
  const aboutNode = (node: NodeQuery, captureSeconds: number, trigger: InvestigationInput['trigger']): LogFields => ({
    trigger: trigger.kind,
    source: trigger.source,
    ...('ip' in node ? { nodeIp: node.ip } : { nodeName: node.name }),
    captureSeconds,
  });

  const claimNode = (target: LoadBalancerTarget, plan: StartPlan): Promise<Claim> => {
    const node = { ip: target.nodeIp };
    const seconds = options.captureSeconds ?? settings.capture.defaultSeconds;
    return claim(
      clusterKey(node),
      runNode((id) => nodeInputOfTarget(target, id, plan, { captureSeconds: seconds })),
      aboutNode(node, seconds, alertTriggerOf(plan)),
    );
  };

  /** One live census of the kubeconfig's cluster, whichever gateway (or mapped cluster id) the alert names. */
  const claimCensus = (target: NatGatewayTarget, plan: StartPlan): Promise<Claim> =>
    claim(
      clusterKey({ allNodes: true }),
      (run) =>
        runCensus({
          investigationId: run.id,
          clusterId: target.clusterHint,
          natGatewayId: target.natGatewayId,
          maxNodes: target.allNodes.maxNodes,
          maxParallel: settings.maxConcurrentInvestigations,
          trigger: alertTriggerOf(plan),
          notify: hasNotifyTargets(investigationSettings.notify),
          ...timing,
        })(run),
      { trigger: 'alert', source: plan.alertRule, census: true, maxNodes: target.allNodes.maxNodes },
    );

  const claimRequest = (request: StartRequest): Promise<Claim> => {
    const { node, captureSeconds, cluster } = request;
    const trigger: InvestigationInput['trigger'] = { kind: 'http', source: cluster };
    return claim(
      clusterKey(node),
      runNode((id) => ({ investigationId: id, node, captureSeconds, trigger })),
      aboutNode(node, captureSeconds, trigger),
    );
  };

  return {
    claimNode,
    claimCensus,
    claimRequest,
    async statusOf(id) {
      const run = runs.get(id);
      if (!run) return null;
      const { links, nodeLinks } = await linksOf(run);
      return { view: viewOf(run), links, nodeLinks };
    },
    recent: (count) => registry.recent(count),
    reportDir: (id) => reportDirs.get(id),
    started: () => startedCount,
    async cancelAll() {
      for (const run of runs.values()) run.controller.abort();
      await Promise.all([...runs.values()].map((r) => r.done));
    },
  };
}
