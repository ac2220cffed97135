/**
 * The notify step of the whole investigation: the in-process driver against the simulated cluster (sim/, timeScale
 * 0.05, 1 s window), the report in a real Azurite through BlobReportStore, the notifications to a loopback receiver
 * (test/notify/receiver.ts) that plays Teams and a generic webhook. Not Teams itself, not a real AKS node.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { BlobReportStore } from '../../lib/azure/blob-store.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../lib/notify/webhook.js';
import type { WebhookPayload } from '../../lib/notify/webhook.js';
import type { TeamsMessage } from '../../lib/notify/teams.js';
import type { Report } from '../../lib/report/model.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { startReceiver } from '../notify/receiver.js';
import type { Receiver } from '../notify/receiver.js';
import { investigateSim } from './sim-run.js';
import { azuriteConnectionString } from '../../sim/azurite.js';

const SECRET = 'whsec-notify-sim-0123456789';

function blobStore(): BlobReportStore {
  const url = inject('azuriteBlobUrl');
  return BlobReportStore.fromConnectionString(azuriteConnectionString(url), {
    container: `n-${randomUUID().slice(0, 8)}`,
  });
}

let sim: RunningSim;
/** One receiver per target: the two are sent to in parallel, and each answers from its own script. */
let teamsRx: Receiver;
let hookRx: Receiver;
let counter = 0;

beforeAll(async () => {
  [sim, teamsRx, hookRx] = await Promise.all([
    startSim({ scenario: 'default', timeScale: 0.05 }),
    startReceiver(),
    startReceiver(),
  ]);
});
afterAll(() => Promise.all([sim.close(), teamsRx.close(), hookRx.close()]));
beforeEach(() => {
  teamsRx.reset();
  hookRx.reset();
});

/** One investigation whose report goes to a fresh Azurite container. */
async function run(notify: { teams?: boolean; webhook?: boolean }) {
  const store = blobStore();
  const investigationId = `notify-${process.pid}-${++counter}`;
  const output = store.output({
    cluster: 'sim-cluster',
    node: sim.expected.node,
    investigationId,
    generatedAt: '2026-11-26T10:00:00.000Z',
  });
  const result = await investigateSim(sim, {
    input: { investigationId },
    output,
    settings: {
      notify: {
        ...(notify.teams ? { teamsWebhookUrl: `${teamsRx.origin}/teams` } : {}),
        ...(notify.webhook ? { webhook: { url: `${hookRx.origin}/hook`, secret: SECRET } } : {}),
        linkTtlSeconds: 600,
      },
    },
  });
  const stored = JSON.parse(await store.read(output.paths().json)) as Report;
  return { ...result, store, output, stored };
}

const notifyCalls = (events: Array<{ type: string; activity: string }>) =>
  events.filter((e) => e.type === 'end' && e.activity === 'notifyReport').length;

describe('the notify step against sim + Azurite + a loopback receiver', () => {
  it('Teams gets a card whose link (a SAS read link) opens the HTML report; the signed webhook verifies', async () => {
    const r = await run({ teams: true, webhook: true });
    expect(r.result).toMatchObject({
      outcome: 'reported',
      notifications: {
        targets: [
          { kind: 'teams', ok: true, status: 200, attempts: 1 },
          { kind: 'webhook', ok: true, status: 200, attempts: 1 },
        ],
        link: 'read-link',
        rewritten: false,
      },
    });
    expect(notifyCalls(r.events)).toBe(1);
    expect(r.stored.degraded.filter((d) => d.step === 'notify')).toEqual([]);

    expect(teamsRx.received.map((q) => q.url)).toEqual(['/teams']);
    expect(hookRx.received.map((q) => q.url)).toEqual(['/hook']);
    const teams = teamsRx.received[0]!;
    const hook = hookRx.received[0]!;

    // The card's one action opens the report: a SAS link (sig, read-only) to report.html, that plain fetch opens.
    const card = (JSON.parse(teams.body) as TeamsMessage).attachments[0].content;
    const actions = (card as unknown as { actions: Array<{ type: string; url: string }> }).actions;
    expect(actions).toHaveLength(1);
    const link = new URL(actions[0]!.url);
    expect(link.pathname.endsWith('/report.html')).toBe(true);
    expect(link.searchParams.get('sig')).toBeTruthy();
    expect(link.searchParams.get('sp')).toBe('r');
    expect(`${link.origin}${link.pathname}`).toBe(r.output.paths().html);
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain(r.stored.investigationId);
    expect(html).toContain(sim.expected.culprit.split('/')[1]!);
    // Without the token the blob is private.
    expect((await fetch(r.output.paths().html)).status).toBeGreaterThanOrEqual(400);

    // The webhook: the signature over the raw body verifies; the payload links to the same report.
    expect(
      verifyWebhookSignature(
        SECRET,
        hook.headers[TIMESTAMP_HEADER] as string,
        hook.body,
        hook.headers[SIGNATURE_HEADER] as string,
      ),
    ).toBe(true);
    expect(
      verifyWebhookSignature(
        'whsec-other',
        hook.headers[TIMESTAMP_HEADER] as string,
        hook.body,
        hook.headers[SIGNATURE_HEADER] as string,
      ),
    ).toBe(false);
    const payload = JSON.parse(hook.body) as WebhookPayload;
    expect(payload).toMatchObject({ investigationId: r.stored.investigationId, node: { name: sim.expected.node } });
    expect(new URL(payload.reportUrl!).pathname).toBe(link.pathname);
  });

  it('a target failing (500 every time, 413): report.json in Blob is rewritten with the notify entries; still reported', async () => {
    // Retry-After: 0 keeps notify's own retries (4 attempts) from sleeping their backoff.
    const busy = { status: 500, headers: { 'retry-after': '0' } };
    teamsRx.script(busy, busy, busy, busy);
    hookRx.script({ status: 413 });
    const r = await run({ teams: true, webhook: true });
    expect(r.result.outcome).toBe('reported');
    expect(r.result).toMatchObject({
      notifications: {
        targets: [
          { kind: 'teams', ok: false, status: 500, attempts: 4 },
          { kind: 'webhook', ok: false, status: 413, attempts: 1 },
        ],
        rewritten: true,
      },
    });
    expect(teamsRx.received).toHaveLength(4);
    expect(hookRx.received).toHaveLength(1);
    const notify = r.stored.degraded.filter((d) => d.step === 'notify');
    expect(notify).toHaveLength(2);
    expect(notify[0]!.reason).toMatch(/^teams http:\/\/127\.0\.0\.1:\d+: failed after 4 attempts: HTTP 500$/);
    expect(notify[1]!.reason).toMatch(
      /^webhook http:\/\/127\.0\.0\.1:\d+: refused the message as too large \(HTTP 413/,
    );
    // No URL path or secret in the report (the reasons name origins only).
    expect(JSON.stringify(r.stored)).not.toContain('/teams');
    expect(JSON.stringify(r.stored)).not.toContain(SECRET);
    // The report the run returns is the rewritten one, and so are the other files.
    expect(r.report!.degraded).toEqual(r.stored.degraded);
    expect(await r.store.read(r.output.paths().html)).toContain('refused the message as too large');
    // The workflow itself recorded nothing: the step completed, its failures are in the report.
    expect(r.result.outcome === 'reported' && r.result.degraded).toEqual([]);
  });

  it('no targets: the step is skipped (no notifyReport call), nothing is sent', async () => {
    const r = await run({});
    expect(r.result).toMatchObject({ outcome: 'reported', notifications: null });
    expect(notifyCalls(r.events)).toBe(0);
    expect(r.events.map((e) => e.activity).at(-1)).toBe('writeReport');
    expect([...teamsRx.received, ...hookRx.received]).toEqual([]);
    expect(r.stored.degraded.filter((d) => d.step === 'notify')).toEqual([]);
  });
});
