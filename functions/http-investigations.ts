/**
 * POST /api/investigations (start one), GET /api/investigations/{id} (its status), GET /api/investigations (recent).
 * Thin: parse with lib/intake/http.ts, claim / read through the Durable client, map with the same module; the
 * status of a reported investigation carries read links (SAS) to its files, signed with the app's report store.
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
import { originOf, responseInit, settingsOnce } from '../lib/serve/handler-kit.js';
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
    const loaded = settingsOnce((m) => context.error(m));
    if (!loaded.ok) return responseInit(loaded.response);
    const { settings } = loaded;
    const parsed = parseStartRequest(new Uint8Array(await request.arrayBuffer()), settings);
    if (!parsed.ok) return responseInit(parsed.response);
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
    return responseInit(startResponse(claim, originOf(request.url)));
  },
});

df.app.client.http('getInvestigation', {
  route: 'investigations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient, context: InvocationContext) => {
    const id = request.params.id;
    const bad = checkInvestigationId(id);
    if (bad || id === undefined) return responseInit(bad ?? statusResponse(null, ''));
    const view = await durableInstances(client).getStatus(id);
    // Read links for a reported investigation; without settings the status is still answered, with its keys only.
    const loaded = view === null ? null : settingsOnce((m) => context.error(m));
    if (!loaded?.ok) return responseInit(statusResponse(view, id));
    const store = (): BlobReportStore => appReportStore(loaded.settings);
    const ttl = loaded.settings.reportLinkTtlMinutes * 60;
    const warn = (m: string): void => context.warn(m);
    const links = await reportLinksOf(store, view?.output, ttl, warn);
    const nodeLinks = await censusLinksOf(store, view?.output, ttl, warn);
    return responseInit(statusResponse(view, id, links, nodeLinks));
  },
});

df.app.client.http('listInvestigations', {
  route: 'investigations',
  methods: ['GET'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient) => {
    const query = parseRecentQuery(request.query);
    if (!query.ok) return responseInit(query.response);
    const views = await durableInstances(client).listSince(new Date(Date.now() - RECENT_WINDOW_MS), query.limit);
    return responseInit(recentResponse(views, query.limit, originOf(request.url)));
  },
});
