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
 * Function keys do not exist here: any request from loopback is accepted (the server only listens there), but
 * SNAT_ALERT_SECRET is still enforced when set. Reports go to Blob Storage when a store is given (SNAT_REPORT_STORAGE),
 * else to a folder per investigation under `outDir`, served back under /reports/<id>/<file>.
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
import type { AddressClassifier } from '../analysis/ip.js';
import type { BlobReportStore } from '../azure/blob-store.js';
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
  errorResult,
  MAX_START_BODY_BYTES,
  parseRecentQuery,
  parseStartRequest,
  recentResponse,
  startResponse,
  statusResponse,
} from '../intake/http.js';
import type { HttpResult, ReportLinks, StartedTarget } from '../intake/http.js';
import { investigationKey, MemoryRegistry } from '../intake/registry.js';
import type { InstanceView, InvestigationKey, NodeRef } from '../intake/registry.js';
import { CLEANUP_ACTIVITIES, INVESTIGATION_ACTIVITIES } from '../workflow/activities/index.js';
import { ORCHESTRATIONS } from '../workflow/contracts.js';
import type { NodeQuery } from '../workflow/contracts.js';
import { folderOutput, hasNotifyTargets, MemoryEvidenceStore } from '../workflow/context.js';
import type { ActivityContext, InvestigationSettings, ReportOutput } from '../workflow/context.js';
import { runWorkflow } from '../workflow/driver.js';
import type { ActivityFunction } from '../workflow/driver.js';
import { runInvestigation } from '../workflow/investigation.js';
import type { RunInvestigationOptions } from '../workflow/investigation.js';
import { REPORT_FILE_NAMES } from '../report/files.js';

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
  const log = options.log ?? (() => {});
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

  /** One node's investigation: `investigateSnat` through `runInvestigation`. */
  const runNode =
    (node: NodeQuery, captureSeconds: number, trigger: InvestigationInput['trigger']) =>
    async (run: Run): Promise<InvestigationResult> => {
      const { output, dir } = outputOf(run.id, node);
      if (dir !== null) run.dirs.set(run.id, dir);
      const { result } = await runInvestigation({
        clients: options.clients,
        input: { investigationId: run.id, node, captureSeconds, trigger, ...timing },
        settings: investigationSettings,
        classifier: options.classifier,
        output,
        concurrency: options.run?.concurrency ?? settings.censusConcurrency,
        signal: run.controller.signal,
        onStatus: (s) => {
          run.status = s;
          run.updatedAt = now();
        },
        ...driverSeams,
      });
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
        },
        ...driverSeams,
      });
    };

  /** Claims `key`; when it wins, queues the investigation (`execute`). */
  const claim = async (
    key: InvestigationKey,
    execute: (run: Run) => Promise<InvestigationResult | ClusterInvestigationResult>,
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
    };
    runs.set(id, run);
    run.done = limit(async () => {
      if (run.controller.signal.aborted) {
        run.state = 'terminated';
        return;
      }
      run.state = 'running';
      run.updatedAt = now();
      run.result = await execute(run);
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
    output: run.result,
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

  const alertTrigger = (plan: Extract<AlertPlan, { kind: 'start' }>): InvestigationInput['trigger'] => ({
    kind: 'alert',
    source: plan.alertRule,
    alertId: plan.alertId,
  });

  const claimNode = (target: LoadBalancerTarget, plan: Extract<AlertPlan, { kind: 'start' }>) => {
    const node = { ip: target.nodeIp };
    const seconds = options.captureSeconds ?? settings.capture.defaultSeconds;
    return claim(clusterKey(node), runNode(node, seconds, alertTrigger(plan)));
  };

  /** One live census of the kubeconfig's cluster, whichever gateway (or mapped cluster id) the alert names. */
  const claimCensus = (target: NatGatewayTarget, plan: Extract<AlertPlan, { kind: 'start' }>) =>
    claim(clusterKey({ allNodes: true }), (run) =>
      runCensus({
        investigationId: run.id,
        clusterId: target.clusterHint,
        natGatewayId: target.natGatewayId,
        maxNodes: target.allNodes.maxNodes,
        maxParallel: settings.maxConcurrentInvestigations,
        trigger: alertTrigger(plan),
        notify: hasNotifyTargets(investigationSettings.notify),
        ...timing,
      })(run),
    );

  const alerts = async (req: IncomingMessage, url: URL): Promise<HttpResult> => {
    const denied = checkAlertSecret(
      { headers: req.headers as Record<string, string>, query: url.searchParams },
      settings,
    );
    if (denied) return denied;
    let body: Uint8Array;
    try {
      body = await readBody(req, MAX_ALERT_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge) return planAlertTooLarge();
      throw e;
    }
    const plan = planAlert(body, settings);
    if (plan.kind !== 'start') return alertResponse(plan, [], origin);
    const started: StartedTarget[] = [];
    for (const target of plan.targets) {
      const result = 'nodeIp' in target ? await claimNode(target, plan) : await claimCensus(target, plan);
      started.push({ target, ...result });
    }
    return alertResponse(plan, started, origin);
  };

  const planAlertTooLarge = (): HttpResult =>
    errorResult(413, 'too-large', `alert body is over the 256 KB limit of Azure Monitor alerts; not parsed`);

  const startInvestigation = async (req: IncomingMessage): Promise<HttpResult> => {
    let body: Uint8Array;
    try {
      body = await readBody(req, MAX_START_BODY_BYTES);
    } catch (e) {
      if (e instanceof BodyTooLarge)
        return errorResult(413, 'too-large', `request body is over ${MAX_START_BODY_BYTES} bytes`);
      throw e;
    }
    const parsed = parseStartRequest(body, settings);
    if (!parsed.ok) return parsed.response;
    const { node, captureSeconds, cluster } = parsed.request;
    return startResponse(
      await claim(clusterKey(node), runNode(node, captureSeconds, { kind: 'http', source: cluster })),
      origin,
    );
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    if (closing) return send(res, errorResult(503, 'shutting-down', 'the server is shutting down'));
    if (path === '/api/alerts' && method === 'POST') return send(res, await alerts(req, url));
    if (path === '/api/investigations' && method === 'POST') return send(res, await startInvestigation(req));
    if (path === '/api/investigations' && method === 'GET') {
      const query = parseRecentQuery(url.searchParams);
      if (!query.ok) return send(res, query.response);
      return send(res, recentResponse(await registry.recent(query.limit), query.limit, origin));
    }
    const status = /^\/api\/investigations\/([^/]+)$/.exec(path);
    if (status && method === 'GET') {
      const id = decodeURIComponent(status[1]!);
      const bad = checkInvestigationId(id);
      if (bad) return send(res, bad);
      const run = runs.get(id);
      if (!run) return send(res, statusResponse(null, id));
      const { links, nodeLinks } = await linksOf(run);
      return send(res, statusResponse(viewOf(run), id, links, nodeLinks));
    }
    const file = /^\/reports\/([^/]+)\/([^/]+)$/.exec(path);
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
    const known = ['/api/alerts', '/api/investigations'].includes(path) || status !== null;
    return send(res, errorResult(known ? 405 : 404, known ? 'method-not-allowed' : 'not-found', `${method} ${path}`));
  };

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      log(`${req.method} ${req.url}: ${messageOf(e)}`);
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
