/**
 * The notifyReport activity on its own: an in-memory store and output (the wire adds nothing here: the Blob and the
 * whole-run paths are in notify-sim.test.ts), a loopback receiver as the target.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report/model.js';
import { notifyReport, notifyTargets } from '../../lib/workflow/activities/notifyReport.js';
import { MemoryEvidenceStore } from '../../lib/workflow/context.js';
import type { ActivityContext, NotifySettings, ReportOutput } from '../../lib/workflow/context.js';
import { culpritReport } from '../fixtures/report/sample.js';
import { startReceiver } from '../notify/receiver.js';
import type { Receiver } from '../notify/receiver.js';

let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(() => rx.close());
beforeEach(() => rx.reset());

interface Harness {
  readonly ctx: ActivityContext;
  readonly store: MemoryEvidenceStore;
  readonly written: Report[];
  readonly links: Array<[string, number]>;
}

function harness(
  notify: NotifySettings | undefined,
  options: { readLink?: ReportOutput['readLink']; failWrites?: number } = {},
): Harness {
  const store = new MemoryEvidenceStore();
  const written: Report[] = [];
  const links: Array<[string, number]> = [];
  let failWrites = options.failWrites ?? 0;
  const output: ReportOutput = {
    paths: () => ({ json: 'r.json', markdown: 'r.md', html: 'r.html' }),
    writeReport: (report) => {
      if (failWrites-- > 0) return Promise.reject(new Error('blob: 503 ServerBusy'));
      written.push(report);
      return Promise.resolve({ json: 'r.json', markdown: 'r.md', html: 'r.html' });
    },
    writeRaw: () => Promise.resolve('capture.log'),
    ...(options.readLink
      ? {
          readLink: (path: string, ttl: number) => {
            links.push([path, ttl]);
            return options.readLink!(path, ttl);
          },
        }
      : {}),
  };
  const ctx = {
    settings: { namespace: 'ns', allocatedPorts: 1024, privateCidrs: [], ...(notify ? { notify } : {}) },
    store,
    output,
    signal: new AbortController().signal,
  } as unknown as ActivityContext;
  return { ctx, store, written, links };
}

const INPUT = { investigationId: 'inv-1', reportRef: 'inv-1/report' };
const teamsOnly = (): NotifySettings => ({ teamsWebhookUrl: `${rx.origin}/teams`, linkTtlSeconds: 900 });

describe('notifyReport', () => {
  it('the targets of the settings, Teams first; none without settings', () => {
    expect(notifyTargets(undefined)).toEqual([]);
    expect(notifyTargets({ linkTtlSeconds: 60 })).toEqual([]);
    expect(notifyTargets({ teamsWebhookUrl: 'https://t', webhook: { url: 'https://w', secret: 's' } })).toEqual([
      { kind: 'teams', url: 'https://t' },
      { kind: 'webhook', url: 'https://w', secret: 's' },
    ]);
  });

  it('no targets: nothing read, nothing sent', async () => {
    const h = harness(undefined);
    expect(await notifyReport(h.ctx, INPUT)).toEqual({ targets: [], link: 'none', rewritten: false });
    expect(rx.received).toEqual([]);
  });

  it('links the HTML through readLink with the settings TTL; all delivered: the report is not rewritten', async () => {
    const h = harness(teamsOnly(), { readLink: (p) => Promise.resolve(`https://blob.example/${p}?sig=abc`) });
    await h.store.put(INPUT.reportRef, culpritReport);
    const out = await notifyReport(h.ctx, INPUT);
    expect(out).toEqual({
      targets: [{ target: `teams ${rx.origin}`, kind: 'teams', ok: true, status: 200, attempts: 1 }],
      link: 'read-link',
      rewritten: false,
      degraded: culpritReport.degraded.length,
    });
    expect(h.links).toEqual([[culpritReport.artifacts.html, 900]]);
    expect(rx.received[0]!.body).toContain(`https://blob.example/${culpritReport.artifacts.html}?sig=abc`);
    expect(h.written).toEqual([]);
  });

  it('readLink failing: sent without a link, and the report says so', async () => {
    const h = harness(teamsOnly(), {
      readLink: () => Promise.reject(new Error('could not sign a read link for reports/x: HTTP 403')),
    });
    await h.store.put(INPUT.reportRef, culpritReport);
    const out = await notifyReport(h.ctx, INPUT);
    expect(out).toMatchObject({ link: 'none', rewritten: true, targets: [{ ok: true }] });
    expect(rx.received).toHaveLength(1);
    expect(h.written).toHaveLength(1);
    // The count the investigation's summary shows: the rewritten report's.
    expect(out.degraded).toBe(culpritReport.degraded.length + 1);
    expect(out.degraded).toBe(h.written[0]!.degraded.length);
    expect(h.written[0]!.degraded.at(-1)).toEqual({
      step: 'notify',
      reason:
        'no read link could be made for the report (could not sign a read link for reports/x: HTTP 403); the notifications carry no link',
    });
  });

  it('a rewrite that fails throws (retryable); the retried attempt only rewrites: nobody is notified twice', async () => {
    const h = harness(teamsOnly(), { failWrites: 1 });
    await h.store.put(INPUT.reportRef, culpritReport);
    rx.script({ status: 400 });
    await expect(notifyReport(h.ctx, INPUT)).rejects.toThrow('blob: 503 ServerBusy');
    expect(rx.received).toHaveLength(1);
    const out = await notifyReport(h.ctx, INPUT);
    expect(rx.received).toHaveLength(1);
    expect(out).toMatchObject({ rewritten: true, link: 'path', targets: [{ ok: false, status: 400, attempts: 1 }] });
    const degraded = h.written[0]!.degraded.filter((d) => d.step === 'notify');
    expect(degraded).toEqual([{ step: 'notify', reason: `teams ${rx.origin}: answered HTTP 400; not retried` }]);
    expect(await h.store.get<Report>(INPUT.reportRef)).toEqual(h.written[0]);
    // Run once more after it completed (at-least-once delivery): the entry is not added twice.
    const again = await notifyReport(h.ctx, INPUT);
    expect(again.rewritten).toBe(false);
    expect(rx.received).toHaveLength(1);
  });
});
