/**
 * `snat-responder serve`: the HTTP contract of the Functions app (DESIGN.md) on loopback with the in-process engine.
 * Requests go to the same lib/intake functions as the Functions handlers; the registry is a `MemoryRegistry` (one live
 * investigation per cluster + node, cooldown), and each started investigation runs `runInvestigation` against the
 * kubeconfig's cluster: every alert targets that cluster, its BackendIPAddress naming the node by exact InternalIP.
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
import type { InvestigationInput, InvestigationResult, InvestigationStatus } from '../../orchestrations/investigate.js';
import type { AddressClassifier } from '../analysis/ip.js';
import type { BlobReportStore } from '../azure/blob-store.js';
import type { Settings } from '../config/settings.js';
import type { KubeClients } from '../k8s/access.js';
import { MAX_ALERT_BYTES, planAlert } from '../intake/alert.js';
import type { AlertTarget } from '../intake/alert.js';
import {
  alertResponse,
  checkAlertSecret,
  checkInvestigationId,
  errorResult,
  unsupportedTargets,
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
import type { NodeQuery } from '../workflow/contracts.js';
import { folderOutput } from '../workflow/context.js';
import type { InvestigationSettings, ReportOutput } from '../workflow/context.js';
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
  status: InvestigationStatus | null;
  result: InvestigationResult | null;
  error: string | null;
  readonly controller: AbortController;
  readonly output: ReportOutput;
  readonly dir: string | null;
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

  /** Claims `key`; when it wins, queues the investigation. */
  const claim = async (
    key: InvestigationKey,
    node: NodeQuery,
    captureSeconds: number,
    trigger: InvestigationInput['trigger'],
  ): Promise<{ id: string; started: boolean; why?: 'running' | 'cooldown' }> => {
    const at = now();
    const id = `serve-${stamp(at)}-${randomBytes(3).toString('hex')}`;
    const claimed = await registry.claim(key, id, at);
    if (!claimed.claimed) return { id: claimed.existing.id, started: false, why: claimed.why };
    startedCount += 1;
    const { output, dir } = outputOf(id, node);
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
      output,
      dir,
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
      const { result } = await runInvestigation({
        clients: options.clients,
        input: {
          investigationId: id,
          node,
          captureSeconds,
          trigger,
          ...(options.run?.timing ? { timing: options.run.timing } : {}),
        },
        settings: investigationSettings,
        classifier: options.classifier,
        output,
        concurrency: options.run?.concurrency ?? settings.censusConcurrency,
        signal: run.controller.signal,
        onStatus: (s) => {
          run.status = s;
          run.updatedAt = now();
        },
        ...(options.run?.sleep ? { sleep: options.run.sleep } : {}),
        now,
      });
      run.result = result;
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

  const linksOf = async (run: Run): Promise<ReportLinks | null> => {
    if (run.result?.outcome !== 'reported') return null;
    const { json, markdown, html } = run.result.report;
    if (options.blob) {
      const ttl = settings.reportLinkTtlMinutes * 60;
      const blob = options.blob;
      const [j, m, h] = await Promise.all([json, markdown, html].map((k) => blob.readLink(k, ttl)));
      return { json: j!, markdown: m!, html: h! };
    }
    const base = `${origin}/reports/${encodeURIComponent(run.id)}/`;
    return {
      json: base + REPORT_FILE_NAMES.json,
      markdown: base + REPORT_FILE_NAMES.markdown,
      html: base + REPORT_FILE_NAMES.html,
    };
  };

  const clusterKey = (node: NodeRef): InvestigationKey => investigationKey(`kubeconfig:${options.clusterName}`, node);

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
    const unsupported = unsupportedTargets(plan);
    if (unsupported) return unsupported;
    const started: StartedTarget[] = [];
    for (const target of plan.targets as Array<Extract<AlertTarget, { nodeIp: string }>>) {
      const node = { ip: target.nodeIp };
      const result = await claim(clusterKey(node), node, options.captureSeconds ?? settings.capture.defaultSeconds, {
        kind: 'alert',
        source: plan.alertRule,
        alertId: plan.alertId,
      });
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
      await claim(clusterKey(node), node, captureSeconds, { kind: 'http', source: cluster }),
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
      return send(res, statusResponse(run ? viewOf(run) : null, id, run ? await linksOf(run) : null));
    }
    const file = /^\/reports\/([^/]+)\/([^/]+)$/.exec(path);
    if (file && method === 'GET') {
      const run = runs.get(decodeURIComponent(file[1]!));
      const name = decodeURIComponent(file[2]!);
      const known = Object.entries(REPORT_FILE_NAMES).find(([, n]) => n === name);
      if (run?.dir && known && run.result?.outcome === 'reported') {
        const type =
          { json: 'application/json', markdown: 'text/markdown', html: 'text/html' }[known[0]] ?? 'text/plain';
        res.writeHead(200, { 'content-type': `${type}; charset=utf-8` });
        createReadStream(join(run.dir, name))
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
