/**
 * `snat-responder serve`: the HTTP contract of the Functions app (DESIGN.md) on loopback with the in-process engine.
 * Requests go to the same lib/intake functions as the Functions handlers; the registry is a `MemoryRegistry` (one live
 * investigation per cluster + node, cooldown), and each started investigation runs `runInvestigation` against the
 * kubeconfig's cluster: every alert targets that cluster, its BackendIPAddress naming the node by exact InternalIP.
 *
 * A NAT gateway alert names no node: it starts one census of the kubeconfig's cluster (one live census per cluster,
 * cooldown; the cluster id SNAT_NATGW_CLUSTER_MAP gives is only its label here, and a gateway mapped to several
 * clusters still gets the one census: serve has one cluster). The census is `investigateCluster` run by the in-process
 * driver with `investigateSnat` as its sub-workflow, as Durable runs it: listNodes, then one census-only investigation
 * per node (no capture Job), in bounded waves. Its status shows the nodes' report links.
 *
 * Function keys do not exist here. Without SNAT_SERVE_KEY any request from loopback is accepted (the server only
 * listens there); with it, every request (the /api routes, the report files, unknown paths) must carry that key where
 * the Functions host takes a function key, header `x-functions-key` or query parameter `code` (lib/intake/http.ts
 * `checkServeKey`, constant time), else 401 `unauthorized`, before a body is read or anything started. Links and
 * status URLs in answers never carry the key: clients add it, as they add a function key. SNAT_ALERT_SECRET is
 * enforced on top when set. Reports go to Blob Storage when a store is given (SNAT_REPORT_STORAGE), else to a folder
 * per investigation under `outDir`, served back under /reports/<id>/<file>.
 *
 * Alert-started investigations name the alert's load balancer (`scope`) and window (lib/serve/durable.ts
 * `nodeInputOfTarget`, as the Functions intake does): with a `snatMetrics` reader (Azure Monitor), resolveTarget reads
 * the node's SNAT metrics for the report. The scope changes nothing else here: the report's location and the
 * registry key still come from the node and the kubeconfig's cluster (a mapped cluster id, SNAT_LB_CLUSTER_MAP, only
 * labels the activities' log lines).
 *
 * Order of the checks on an API request: shutting down (503), the rate limit (SNAT_RATE_LIMIT_PER_MINUTE,
 * lib/intake/rate-limit.ts `RouteLimits`, per route and remote address, as in the Functions app), the key, then the
 * route (the alert secret, the body). The limit comes first so that a guessed key costs a token like any request.
 * Report files are not limited, unless a key is set: then they and unknown paths share one limit of the GET routes'
 * size, checked before the key, so the key is no cheaper to guess there.
 *
 * Logs (`logger`, lib/log.ts): one line per API request's decision (never a body or a header), and per investigation
 * its start, each phase change, each activity's end with its duration, its degradations and its outcome
 * (lib/workflow/observe.ts). The values of the secret settings are blanked out of every line, whatever logger is given.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { investigateCluster } from '../../orchestrations/cluster.js';
import type { ClusterInvestigationInput, ClusterInvestigationResult } from '../../orchestrations/cluster.js';
import { investigateSnat } from '../../orchestrations/investigate.js';
import type { InvestigationInput, InvestigationResult } from '../../orchestrations/investigate.js';
import { canonicalAddress } from '../analysis/ip.js';
import type { AddressClassifier } from '../analysis/ip.js';
import type { BlobReportStore } from '../azure/blob-store.js';
import { secretValuesOf } from '../config/secrets.js';
import type { Settings } from '../config/settings.js';
import type { KubeClients } from '../k8s/access.js';
import type { CensusTool } from '../k8s/census.js';
import { execInPod } from '../k8s/exec.js';
import type { ExecFn } from '../k8s/exec.js';
import { MAX_ALERT_BYTES, planAlert } from '../intake/alert.js';
import type { AlertPlan, LoadBalancerTarget, NatGatewayTarget } from '../intake/alert.js';
import {
  alertResponse,
  checkAlertSecret,
  checkInvestigationId,
  checkServeKey,
  errorResult,
  MAX_START_BODY_BYTES,
  parseRecentQuery,
  parseStartRequest,
  recentResponse,
  startResponse,
  statusResponse,
} from '../intake/http.js';
import type { HttpResult, ReportLinks, StartedTarget } from '../intake/http.js';
import { rateLimitedResult, RateLimiter, READ_ROUTE_FACTOR, RouteLimits } from '../intake/rate-limit.js';
import type { RouteName } from '../intake/rate-limit.js';
import { investigationKey, MemoryRegistry } from '../intake/registry.js';
import { redact, silentLogger, withSecrets } from '../log.js';
import type { LogFields, Logger } from '../log.js';
import type { InstanceView, InvestigationKey, NodeRef } from '../intake/registry.js';
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
import { logDecision } from './handler-kit.js';

export interface ServeOptions {
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
  readonly port?: number;
  readonly host?: string;
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
  /** Structured lines (requests, investigations). Default: none. */
  readonly logger?: Logger;
  /**
   * @deprecated Use `logger`. Plain text, only for a failed investigation (`investigation <id> failed: <message>`) and
   * a request that failed (500); kept for callers that read those lines.
   */
  readonly log?: (message: string) => void;
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

export interface RunningServer {
  readonly url: string;
  /** Investigations started so far (claims that won). */
  started(): number;
  /** Stops accepting, cancels running investigations (their cleanup deletes the capture Jobs), waits for them. */
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, result: HttpResult): void {
  const text = JSON.stringify(result.body);
  res.writeHead(result.status, { ...result.headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
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

export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const { settings } = options;
  const secrets = secretValuesOf(settings);
  const log = (message: string): void => options.log?.(redact(message, secrets));
  const logger = withSecrets(options.logger ?? silentLogger, secrets);
  const limits = new RouteLimits(settings.rateLimitPerMinute);
  // Report files and unknown paths, only when SNAT_SERVE_KEY is set: the read routes' budget, so that the key is no
  // cheaper to guess there than on the API.
  const otherLimit = new RateLimiter({ perMinute: settings.rateLimitPerMinute * READ_ROUTE_FACTOR });
  const now = options.run?.now ?? (() => new Date());
  const registry = new MemoryRegistry({ cooldownMs: settings.cooldownMinutes * 60_000 });
  const runs = new Map<string, Run>();
  const limit = pLimit(settings.maxConcurrentInvestigations);
  const investigationSettings = investigationSettingsOf(settings);
  let closing = false;
  let startedCount = 0;
  let origin = '';

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
        onStatus: (s) => {
          run.status = s;
          run.updatedAt = now();
          run.log.onStatus(s);
        },
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
      const bound = pLimit(Math.max(1, Math.floor(options.run?.concurrency ?? settings.censusConcurrency)));
      const exec: ExecFn = (kc, request) => bound(() => execInPod(kc, request));
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
        onStatus: (s) => {
          run.status = s;
          run.updatedAt = now();
          run.log.onStatus(s);
        },
        onActivity: run.log.onActivity,
        ...driverSeams,
      });
    };

  /** Claims `key`; when it wins, queues the investigation (`execute`); `about` describes it in its first log line. */
  const claim = async (
    key: InvestigationKey,
    execute: (run: Run) => Promise<InvestigationResult | ClusterInvestigationResult>,
    about: LogFields,
  ): Promise<{ id: string; started: boolean; why?: 'running' | 'cooldown' }> => {
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
    const base = `${origin}/reports/${encodeURIComponent(id)}/`;
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

  const claimNode = (target: LoadBalancerTarget, plan: Extract<AlertPlan, { kind: 'start' }>) => {
    const node = { ip: target.nodeIp };
    const seconds = options.captureSeconds ?? settings.capture.defaultSeconds;
    return claim(
      clusterKey(node),
      runNode((id) => nodeInputOfTarget(target, id, plan, { captureSeconds: seconds })),
      aboutNode(node, seconds, alertTriggerOf(plan)),
    );
  };

  /** One live census of the kubeconfig's cluster, whichever gateway (or mapped cluster id) the alert names. */
  const claimCensus = (target: NatGatewayTarget, plan: Extract<AlertPlan, { kind: 'start' }>) =>
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

  /** An answer and the investigations it names (started or reused), for the request's log line. */
  type Answer = { readonly result: HttpResult; readonly ids?: readonly string[] };

  const alerts = async (req: IncomingMessage, url: URL): Promise<Answer> => {
    const denied = checkAlertSecret(
      { headers: req.headers as Record<string, string>, query: url.searchParams },
      settings,
    );
    if (denied) return { result: denied };
    let body: Uint8Array;
    try {
      body = await readBody(req, MAX_ALERT_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) return { result: planAlertTooLarge() };
      throw e;
    }
    const plan = planAlert(body, settings);
    if (plan.kind !== 'start') return { result: alertResponse(plan, [], origin) };
    const started: StartedTarget[] = [];
    for (const target of plan.targets) {
      const result = 'nodeIp' in target ? await claimNode(target, plan) : await claimCensus(target, plan);
      started.push({ target, ...result });
    }
    return { result: alertResponse(plan, started, origin), ids: started.map((s) => s.id) };
  };

  const planAlertTooLarge = (): HttpResult =>
    errorResult(413, 'too-large', `alert body is over the 256 KB limit of Azure Monitor alerts; not parsed`);

  const startInvestigation = async (req: IncomingMessage): Promise<Answer> => {
    let body: Uint8Array;
    try {
      body = await readBody(req, MAX_START_BODY_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        return { result: errorResult(413, 'too-large', `request body is over ${MAX_START_BODY_BYTES} bytes`) };
      }
      throw e;
    }
    const parsed = parseStartRequest(body, settings);
    if (!parsed.ok) return { result: parsed.response };
    const { node, captureSeconds, cluster } = parsed.request;
    const trigger: InvestigationInput['trigger'] = { kind: 'http', source: cluster };
    const claimed = await claim(
      clusterKey(node),
      runNode((id) => ({ investigationId: id, node, captureSeconds, trigger })),
      aboutNode(node, captureSeconds, trigger),
    );
    return { result: startResponse(claimed, origin), ids: [claimed.id] };
  };

  const status = async (id: string): Promise<Answer> => {
    const bad = checkInvestigationId(id);
    if (bad) return { result: bad };
    const run = runs.get(id);
    if (!run) return { result: statusResponse(null, id), ids: [id] };
    const { links, nodeLinks } = await linksOf(run);
    return { result: statusResponse(viewOf(run), id, links, nodeLinks), ids: [id] };
  };

  const recent = async (url: URL): Promise<Answer> => {
    const query = parseRecentQuery(url.searchParams);
    if (!query.ok) return { result: query.response };
    return { result: recentResponse(await registry.recent(query.limit), query.limit, origin) };
  };

  /** The API route of a request, or null (report files, unknown paths). */
  const routeOf = (method: string, path: string): RouteName | null => {
    if (path === '/api/alerts' && method === 'POST') return 'alerts';
    if (path === '/api/investigations' && method === 'POST') return 'startInvestigation';
    if (path === '/api/investigations' && method === 'GET') return 'listInvestigations';
    if (/^\/api\/investigations\/[^/]+$/.test(path) && method === 'GET') return 'getInvestigation';
    return null;
  };

  const callerOf = (req: IncomingMessage): string => canonicalAddress(req.socket.remoteAddress ?? '') ?? 'unknown';
  const keyOf = (req: IncomingMessage, url: URL) =>
    checkServeKey({ headers: req.headers as Record<string, string>, query: url.searchParams }, settings);

  /**
   * An API request: rate limit (route + remote address) first, then the key (SNAT_SERVE_KEY, when set), then the
   * route's handler; its decision is logged. The limit comes first so that guessing the key costs the same budget as
   * any request (a refused guess takes a token); the price is that callers sharing an address (on loopback, all of
   * them) share that budget with whoever guesses.
   */
  const api = async (name: RouteName, req: IncomingMessage, url: URL, path: string): Promise<Answer> => {
    const limited = limits.check(name, callerOf(req));
    if (limited) return { result: limited };
    const denied = keyOf(req, url);
    if (denied) return { result: denied };
    switch (name) {
      case 'alerts':
        return alerts(req, url);
      case 'startInvestigation':
        return startInvestigation(req);
      case 'listInvestigations':
        return recent(url);
      case 'getInvestigation':
        return status(decodeURIComponent(path.slice('/api/investigations/'.length)));
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    if (closing) return send(res, errorResult(503, 'shutting-down', 'the server is shutting down'));
    const name = routeOf(method, path);
    if (name !== null) {
      const { result, ids } = await api(name, req, url, path);
      logDecision(logger, name, result, ids);
      return send(res, result);
    }
    const file = /^\/reports\/([^/]+)\/([^/]+)$/.exec(path);
    // With a key, every other request (report files, unknown paths) needs it too, after a limit of its own.
    if (settings.serveKey !== null) {
      const what = file ? 'GET /reports/{id}/{file}' : 'paths outside the API';
      const decision = otherLimit.take(callerOf(req));
      const refused = decision.ok ? keyOf(req, url) : rateLimitedResult(decision, what);
      if (refused) {
        const retryAfter = refused.headers['retry-after'];
        logger.info('request refused', {
          route: file ? 'reportFile' : 'other',
          status: refused.status,
          code: retryAfter !== undefined ? 'rate-limited' : 'unauthorized',
          ...(retryAfter !== undefined ? { retryAfterSeconds: Number(retryAfter) } : {}),
        });
        return send(res, refused);
      }
    }
    if (file && method === 'GET') {
      const dir = reportDirs.get(decodeURIComponent(file[1]!));
      const name = decodeURIComponent(file[2]!);
      const known = Object.entries(REPORT_FILE_NAMES).find(([, n]) => n === name);
      if (dir !== undefined && known) {
        const type =
          { json: 'application/json', markdown: 'text/markdown', html: 'text/html' }[known[0]] ?? 'text/plain';
        res.writeHead(200, { 'content-type': `${type}; charset=utf-8` });
        createReadStream(join(dir, name))
          .on('error', () => res.destroy())
          .pipe(res);
        return;
      }
      return send(res, errorResult(404, 'not-found', 'no such report file'));
    }
    const known = ['/api/alerts', '/api/investigations'].includes(path) || /^\/api\/investigations\/[^/]+$/.test(path);
    return send(res, errorResult(known ? 405 : 404, known ? 'method-not-allowed' : 'not-found', `${method} ${path}`));
  };

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      // The path only: a query may carry the key (`code`) or the alert secret.
      log(`${req.method} ${(req.url ?? '').split('?', 1)[0]}: ${messageOf(e)}`);
      logger.error('request failed', { method: req.method ?? null, status: 500, error: messageOf(e) });
      if (!res.headersSent) send(res, errorResult(500, 'internal', 'internal error; see the server log'));
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  return {
    url: origin,
    started: () => startedCount,
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const run of runs.values()) run.controller.abort();
      await Promise.all([...runs.values()].map((r) => r.done));
      server.closeAllConnections();
      await stopped;
    },
  };
}
