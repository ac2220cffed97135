/**
 * notifyReport (the notify step, after writeReport): the report's summary to the Teams and webhook targets of the
 * settings, with a read link to its HTML; failed deliveries recorded in the report, which is written again.
 *
 * A failed delivery is an outcome, not a failure of the activity: `notify` has already retried what was worth
 * retrying, and a throw here would have Durable send again to the targets that did get the message. The activity
 * throws only when the report cannot be read back or rewritten (storage). The deliveries are kept in the evidence
 * store before the rewrite, so an attempt retried after a failed rewrite only rewrites: nobody is notified twice.
 */
import { notificationDegradations, notify } from '../../notify/send.js';
import type { NotificationResult, NotifyTarget } from '../../notify/send.js';
import type { Degradation, Report } from '../../report/model.js';
import type { ActivityContext, NotifySettings } from '../context.js';
import type { NotificationOutcome, NotifyReportInput, NotifyReportOutput } from '../contracts.js';

/** One day, the default of SNAT_REPORT_LINK_TTL_MINUTES. */
export const DEFAULT_LINK_TTL_SECONDS = 24 * 3600;

export const notificationsKey = (investigationId: string): string => `${investigationId}/notifications`;

interface StoredDeliveries {
  readonly results: NotificationResult[];
  readonly link: NotifyReportOutput['link'];
  readonly linkDegradation: Degradation | null;
}

/** The targets the settings name, Teams first. */
export function notifyTargets(settings: NotifySettings | undefined): NotifyTarget[] {
  const targets: NotifyTarget[] = [];
  if (settings?.teamsWebhookUrl) targets.push({ kind: 'teams', url: settings.teamsWebhookUrl });
  if (settings?.webhook) targets.push({ kind: 'webhook', url: settings.webhook.url, secret: settings.webhook.secret });
  return targets;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A read link (the settings' TTL) to a file the output wrote, given as its path or URL; the path itself where the
 * output has no links (a local folder). Throws what `readLink` throws (its errors name the blob, never a token). Shared
 * with notifyCensus, which links each node's report.
 */
export async function artifactLink(
  ctx: ActivityContext,
  path: string,
): Promise<{ url: string; link: 'read-link' | 'path' }> {
  if (ctx.output.readLink === undefined) return { url: path, link: 'path' };
  const ttl = ctx.settings.notify?.linkTtlSeconds ?? DEFAULT_LINK_TTL_SECONDS;
  return { url: await ctx.output.readLink(path, ttl), link: 'read-link' };
}

/** The read link to the HTML report; the artifact's path where the output has no links. */
async function reportLink(
  ctx: ActivityContext,
  report: Report,
): Promise<{ url: string | null; link: NotifyReportOutput['link']; degradation: Degradation | null }> {
  const html = report.artifacts.html;
  if (html === null) return { url: null, link: 'none', degradation: null };
  try {
    return { ...(await artifactLink(ctx, html)), degradation: null };
  } catch (e) {
    // The store's errors name the blob and the status, never a key or a token (lib/azure/blob-store.ts).
    return {
      url: null,
      link: 'none',
      degradation: {
        step: 'notify',
        reason: `no read link could be made for the report (${messageOf(e)}); the notifications carry no link`,
      },
    };
  }
}

/** A delivery as the workflow records it (no bytes, no degradation: those stay with the activity). */
export function outcomeOf(r: NotificationResult): NotificationOutcome {
  return {
    target: r.target,
    kind: r.kind,
    ok: r.ok,
    ...(r.status !== null ? { status: r.status } : {}),
    attempts: r.attempts,
  };
}

export async function notifyReport(ctx: ActivityContext, input: NotifyReportInput): Promise<NotifyReportOutput> {
  const targets = notifyTargets(ctx.settings.notify);
  if (targets.length === 0) return { targets: [], link: 'none', rewritten: false };
  const report = await ctx.store.get<Report>(input.reportRef);
  const key = notificationsKey(input.investigationId);

  let deliveries: StoredDeliveries | null = null;
  try {
    deliveries = await ctx.store.get<StoredDeliveries>(key);
  } catch {
    // Not sent yet: the usual case.
  }
  if (deliveries === null) {
    const link = await reportLink(ctx, report);
    const results = await notify(report, targets, { reportUrl: link.url, signal: ctx.signal });
    deliveries = { results, link: link.link, linkDegradation: link.degradation };
    await ctx.store.put(key, deliveries);
  }

  // An attempt run again after it had completed (Durable runs activities at least once) finds them recorded already.
  const recorded = new Set(report.degraded.map((d) => `${d.step}\n${d.reason}`));
  const added = [
    ...(deliveries.linkDegradation ? [deliveries.linkDegradation] : []),
    ...notificationDegradations(deliveries.results),
  ].filter((d) => !recorded.has(`${d.step}\n${d.reason}`));
  const rewritten = added.length > 0;
  const degraded = [...report.degraded, ...added];
  if (rewritten) {
    const updated: Report = { ...report, degraded };
    await ctx.output.writeReport(updated);
    await ctx.store.put(input.reportRef, updated);
  }
  return { targets: deliveries.results.map(outcomeOf), link: deliveries.link, rewritten, degraded: degraded.length };
}
