/**
 * POST /api/investigations (start one), GET /api/investigations/{id} (its status), GET /api/investigations (recent).
 * Thin: rate limit, parse with lib/intake/http.ts, claim / read through the Durable client, map with the same module;
 * the status of a reported investigation carries read links (SAS) to its files, signed with the app's report store.
 * Each decision is logged (lib/serve/handler-kit.ts `logDecision`); the GET routes answer without settings too (then
 * without links, and unlimited).
 */
import df from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { investigationKey } from '../lib/intake/registry.js';
import {
  checkInvestigationId,
  parseRecentQuery,
  parseStartRequest,
  recentResponse,
  startResponse,
  statusResponse,
} from '../lib/intake/http.js';
import { claimInstance, durableInstances } from '../lib/serve/durable.js';
import { answerFor, checkRateLimit, invocationLogger, originOf, settingsFor } from '../lib/serve/handler-kit.js';
import { censusLinksOf, reportLinksOf } from '../lib/azure/activity-factory.js';
import type { BlobReportStore } from '../lib/azure/blob-store.js';
import { appReportStore } from './startup.js';

/** How far back the recent list looks (Durable lists by creation time). */
const RECENT_WINDOW_MS = 7 * 24 * 3600_000;

df.app.client.http('startInvestigation', {
  route: 'investigations',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient, context: InvocationContext) => {
    const log = invocationLogger(context);
    const answer = answerFor(log, 'startInvestigation');
    const loaded = settingsFor(log);
    if (!loaded.ok) return answer(loaded.response);
    const { settings } = loaded;
    const limited = checkRateLimit(settings, 'startInvestigation', request);
    if (limited) return answer(limited);
    const parsed = parseStartRequest(new Uint8Array(await request.arrayBuffer()), settings);
    if (!parsed.ok) return answer(parsed.response);
    const { cluster, node, captureSeconds } = parsed.request;
    const claim = await claimInstance(
      durableInstances(client),
      investigationKey(cluster, node),
      // The scope names the cluster asked about: the activities act on it (lib/azure/activity-factory.ts).
      (id) => ({
        investigationId: id,
        node,
        captureSeconds,
        trigger: { kind: 'http', source: cluster },
        scope: { clusterId: cluster },
      }),
      new Date(),
      settings.cooldownMinutes * 60_000,
    );
    return answer(startResponse(claim, originOf(request.url)), [claim.id]);
  },
});

df.app.client.http('getInvestigation', {
  route: 'investigations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient, context: InvocationContext) => {
    const log = invocationLogger(context);
    const answer = answerFor(log, 'getInvestigation');
    // Without settings the status is still answered (unlimited), with its keys only.
    const loaded = settingsFor(log);
    const limited = loaded.ok ? checkRateLimit(loaded.settings, 'getInvestigation', request) : null;
    if (limited) return answer(limited);
    const id = request.params.id;
    const bad = checkInvestigationId(id);
    if (bad || id === undefined) return answer(bad ?? statusResponse(null, ''));
    const view = await durableInstances(client).getStatus(id);
    // Read links for a reported investigation.
    if (view === null || !loaded.ok) return answer(statusResponse(view, id), [id]);
    const store = (): BlobReportStore => appReportStore(loaded.settings);
    const ttl = loaded.settings.reportLinkTtlMinutes * 60;
    const warn = (m: string): void => log.warn(m, { investigationId: id });
    const links = await reportLinksOf(store, view.output, ttl, warn);
    const nodeLinks = await censusLinksOf(store, view.output, ttl, warn);
    return answer(statusResponse(view, id, links, nodeLinks), [id]);
  },
});

df.app.client.http('listInvestigations', {
  route: 'investigations',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient, context: InvocationContext) => {
    const log = invocationLogger(context);
    const answer = answerFor(log, 'listInvestigations');
    const loaded = settingsFor(log);
    const limited = loaded.ok ? checkRateLimit(loaded.settings, 'listInvestigations', request) : null;
    if (limited) return answer(limited);
    const query = parseRecentQuery(request.query);
    if (!query.ok) return answer(query.response);
    const views = await durableInstances(client).listSince(new Date(Date.now() - RECENT_WINDOW_MS), query.limit);
    return answer(recentResponse(views, query.limit, originOf(request.url)));
  },
});
