/**
 * notifyCensus (the census's one message, after the last wave of `investigateCluster`): the pods ranked across the
 * cluster's nodes, the counts, and a read link to the report of each node the input names (at most CENSUS_NODE_LINKS,
 * the top pods' nodes first: the workflow chose them), to the Teams and webhook targets of the settings.
 *
 * As for notifyReport: a failed delivery is an outcome, not a failure of the activity (`deliver` has already retried
 * what was worth retrying, and a throw would have Durable send again to the targets that did get the message). The
 * deliveries are kept in the evidence store under the census's id before the activity returns, so an attempt run
 * again (Durable runs activities at least once) returns them and sends nothing. The activity throws only when it cannot
 * tell whether it has sent already (the store failed transiently): then nothing has been sent by this attempt.
 */
import { censusTeamsMessage, resourceName } from '../../notify/census.js';
import type { CensusNotice, CensusNoticeNode } from '../../notify/census.js';
import { deliver, notificationDegradations } from '../../notify/send.js';
import type { NotificationResult } from '../../notify/send.js';
import { censusWebhookPayload } from '../../notify/webhook.js';
import type { Degradation } from '../../report/model.js';
import type { ActivityContext, EvidenceStore } from '../context.js';
import type { CensusNodeRef, NotifyCensusInput, NotifyCensusOutput } from '../contracts.js';
import { artifactLink, notifyTargets, outcomeOf } from './notifyReport.js';

export const censusNotificationsKey = (investigationId: string): string => `${investigationId}/census-notifications`;

interface StoredCensusDeliveries {
  readonly results: NotificationResult[];
  readonly link: NotifyCensusOutput['link'];
  readonly linked: number;
  readonly linkDegradation: Degradation | null;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The deliveries recorded by an earlier attempt; null when there are none. A transient store failure is thrown. */
async function recorded(store: EvidenceStore, key: string): Promise<StoredCensusDeliveries | null> {
  try {
    return await store.get<StoredCensusDeliveries>(key);
  } catch (e) {
    // Throttled, 5xx, network (BlobStoreError): it may be there. Throwing lets Durable retry; nothing was sent.
    if ((e as { transient?: unknown } | null)?.transient === true) throw e;
    // Not sent yet: the usual case.
    return null;
  }
}

/** Links to the named nodes' HTML reports; one that cannot be made leaves that node without a link, and says so. */
async function nodeLinks(
  ctx: ActivityContext,
  nodes: readonly CensusNodeRef[],
): Promise<{
  nodes: CensusNoticeNode[];
  link: NotifyCensusOutput['link'];
  linked: number;
  degradation: Degradation | null;
}> {
  const made = await Promise.all(
    nodes.map(
      async (n): Promise<{ node: CensusNoticeNode; link: 'read-link' | 'path' | null; error: string | null }> => {
        const base = { investigationId: n.investigationId, node: n.node, outcome: n.outcome, message: n.message };
        if (n.html === null) return { node: { ...base, reportUrl: null }, link: null, error: null };
        try {
          const { url, link } = await artifactLink(ctx, n.html);
          return { node: { ...base, reportUrl: url }, link, error: null };
        } catch (e) {
          // The store's errors name the blob and the status, never a key or a token (lib/azure/blob-store.ts).
          return { node: { ...base, reportUrl: null }, link: null, error: messageOf(e) };
        }
      },
    ),
  );
  const failures = made.flatMap((m) => (m.error !== null ? [m.error] : []));
  const kinds = new Set(made.map((m) => m.link));
  const withReport = nodes.filter((n) => n.html !== null).length;
  const degradation: Degradation | null =
    failures.length === 0
      ? null
      : {
          step: 'notify',
          reason: `no read link could be made for ${failures.length} of ${withReport} node report(s) (${failures[0]}); the census's message names them without a link`,
        };
  return {
    nodes: made.map((m) => m.node),
    link: kinds.has('read-link') ? 'read-link' : kinds.has('path') ? 'path' : 'none',
    linked: made.filter((m) => m.link !== null).length,
    degradation,
  };
}

/** What the message says: the input's counts and ranking, the named nodes with their links. */
export function censusNotice(
  input: NotifyCensusInput,
  named: readonly CensusNoticeNode[],
  hostCluster?: { readonly resourceId: string | null; readonly name: string | null },
): CensusNotice {
  const resourceId = input.cluster.resourceId ?? hostCluster?.resourceId ?? null;
  return {
    investigationId: input.investigationId,
    generatedAt: input.generatedAt,
    trigger: input.trigger,
    cluster: { name: input.cluster.name ?? hostCluster?.name ?? resourceName(resourceId), resourceId },
    natGateway: { name: resourceName(input.natGatewayId), resourceId: input.natGatewayId },
    outcome: input.outcome,
    message: input.message,
    counts: {
      total: input.total,
      ...input.counts,
      skippedNotReady: input.skipped.notReady,
      skippedOverLimit: input.skipped.overLimit,
    },
    top: input.top,
    nodes: named,
    nodesOmitted: Math.max(0, input.counts.censused - named.length),
  };
}

export async function notifyCensus(ctx: ActivityContext, input: NotifyCensusInput): Promise<NotifyCensusOutput> {
  const targets = notifyTargets(ctx.settings.notify);
  if (targets.length === 0) return { targets: [], link: 'none', linked: 0, degraded: [] };
  const key = censusNotificationsKey(input.investigationId);

  const degraded: Degradation[] = [];
  let deliveries = await recorded(ctx.store, key);
  if (deliveries === null) {
    const links = await nodeLinks(ctx, input.nodes);
    const notice = censusNotice(input, links.nodes, ctx.cluster);
    const results = await deliver(
      { teams: () => censusTeamsMessage(notice), webhook: () => censusWebhookPayload(notice) },
      targets,
      { signal: ctx.signal },
    );
    deliveries = { results, link: links.link, linked: links.linked, linkDegradation: links.degradation };
    try {
      await ctx.store.put(key, deliveries);
    } catch (e) {
      // Sent already: a throw would only have Durable send again. Said, so that a second message is explained.
      degraded.push({
        step: 'notify',
        reason: `the census's deliveries could not be recorded (${messageOf(e)}); should this step run again, it sends again`,
      });
    }
  }
  return {
    targets: deliveries.results.map(outcomeOf),
    link: deliveries.link,
    linked: deliveries.linked,
    degraded: [
      ...(deliveries.linkDegradation ? [deliveries.linkDegradation] : []),
      ...notificationDegradations(deliveries.results),
      ...degraded,
    ],
  };
}
