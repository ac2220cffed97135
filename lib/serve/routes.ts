/**
 * The handlers of serve's four API routes (lib/serve/server.ts routes to them after its rate limit and key check):
 * POST /api/alerts and POST /api/investigations (the alert secret, the body, then claims through lib/serve/runs.ts),
 * GET /api/investigations/{id} and GET /api/investigations. Each answers with lib/intake/http.ts's result and the
 * investigations it names, for the request's log line; none writes the response itself.
 */
import type { IncomingMessage } from 'node:http';
import type { Settings } from '../config/settings.js';
import { MAX_ALERT_BYTES, planAlert } from '../intake/alert.js';
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
import type { HttpResult, StartedTarget } from '../intake/http.js';
import type { Runs } from './runs.js';

/** An answer and the investigations it names (started or reused), for the request's log line. */
export type Answer = { readonly result: HttpResult; readonly ids?: readonly string[] };

export interface Routes {
  alerts(req: IncomingMessage, url: URL): Promise<Answer>;
  startInvestigation(req: IncomingMessage): Promise<Answer>;
  status(id: string): Promise<Answer>;
  recent(url: URL): Promise<Answer>;
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

/** `origin`: the server's (`http://host:port`), for the status URLs in answers. */
export function createRoutes(settings: Settings, runs: Runs, origin: () => string): Routes {
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
    if (plan.kind !== 'start') return { result: alertResponse(plan, [], origin()) };
    const started: StartedTarget[] = [];
    for (const target of plan.targets) {
      const result = 'nodeIp' in target ? await runs.claimNode(target, plan) : await runs.claimCensus(target, plan);
      started.push({ target, ...result });
    }
    return { result: alertResponse(plan, started, origin()), ids: started.map((s) => s.id) };
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
    const claimed = await runs.claimRequest(parsed.request);
    return { result: startResponse(claimed, origin()), ids: [claimed.id] };
  };

  const status = async (id: string): Promise<Answer> => {
    const bad = checkInvestigationId(id);
    if (bad) return { result: bad };
    const run = await runs.statusOf(id);
    if (!run) return { result: statusResponse(null, id), ids: [id] };
    return { result: statusResponse(run.view, id, run.links, run.nodeLinks), ids: [id] };
  };

  const recent = async (url: URL): Promise<Answer> => {
    const query = parseRecentQuery(url.searchParams);
    if (!query.ok) return { result: query.response };
    return { result: recentResponse(await runs.recent(query.limit), query.limit, origin()) };
  };

  return { alerts, startInvestigation, status, recent };
}
