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
 *
 * Layout: lib/serve/runs.ts holds the registry and the runs (starting them, their views and report links),
 * lib/serve/routes.ts the API routes' handlers; this file composes them behind the HTTP plumbing (routing, the limits,
 * the key, report files, the log line of each answer) and owns the listening server.
 */
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { canonicalAddress } from '../analysis/ip.js';
import { secretValuesOf } from '../config/secrets.js';
import { checkServeKey, errorResult } from '../intake/http.js';
import type { HttpResult } from '../intake/http.js';
import { rateLimitedResult, RateLimiter, READ_ROUTE_FACTOR, RouteLimits } from '../intake/rate-limit.js';
import type { RouteName } from '../intake/rate-limit.js';
import { redact, silentLogger, withSecrets } from '../log.js';
import type { Logger } from '../log.js';
import { REPORT_FILE_NAMES } from '../report/files.js';
import { logDecision } from './handler-kit.js';
import { createRoutes } from './routes.js';
import type { Answer } from './routes.js';
import { createRuns } from './runs.js';
import type { RunsOptions } from './runs.js';
import { listen } from '../net.js';

export { investigationSettingsOf } from './runs.js';

/** The investigations' options (clients, cluster, settings, reports, seams: lib/serve/runs.ts) and the server's. */
export interface ServeOptions extends RunsOptions {
  readonly port?: number;
  readonly host?: string;
  /** Structured lines (requests, investigations). Default: none. */
  readonly logger?: Logger;
  /**
   * @deprecated Use `logger`. Plain text, only for a failed investigation (`investigation <id> failed: <message>`) and
   * a request that failed (500); kept for callers that read those lines.
   */
  readonly log?: (message: string) => void;
}

export interface RunningServer {
  readonly url: string;
  /** Investigations started so far (claims that won). */
  started(): number;
  /** Stops accepting, cancels running investigations (their cleanup deletes the capture Jobs), waits for them. */
  close(): Promise<void>;
}

function send(res: ServerResponse, result: HttpResult): void {
  const text = JSON.stringify(result.body);
  res.writeHead(result.status, { ...result.headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function startServe(options: ServeOptions): Promise<RunningServer> {
  const { settings } = options;
  const secrets = secretValuesOf(settings);
  const log = (message: string): void => options.log?.(redact(message, secrets));
  const logger = withSecrets(options.logger ?? silentLogger, secrets);
  const limits = new RouteLimits(settings.rateLimitPerMinute);
  // Report files and unknown paths, only when SNAT_SERVE_KEY is set: the read routes' budget, so that the key is no
  // cheaper to guess there than on the API.
  const otherLimit = new RateLimiter({ perMinute: settings.rateLimitPerMinute * READ_ROUTE_FACTOR });
  let closing = false;
  let origin = '';
  const runs = createRuns(options, { logger, log, origin: () => origin });
  const routes = createRoutes(settings, runs, () => origin);

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
        return routes.alerts(req, url);
      case 'startInvestigation':
        return routes.startInvestigation(req);
      case 'listInvestigations':
        return routes.recent(url);
      case 'getInvestigation':
        return routes.status(decodeURIComponent(path.slice('/api/investigations/'.length)));
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
      const dir = runs.reportDir(decodeURIComponent(file[1]!));
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
  const port = await listen(server, options.port ?? 0, host);
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: origin,
    started: () => runs.started(),
    async close() {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await runs.cancelAll();
      server.closeAllConnections();
      await stopped;
    },
  };
}
