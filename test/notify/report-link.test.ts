/**
 * End to end on loopback: the report stored in Azurite, its read link on the Teams card posted to a receiver, and
 * the link from the received card opening the HTML report with plain fetch.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { locationOfReport } from '../../lib/azure/blob-paths.js';
import { BlobReportStore } from '../../lib/azure/blob-store.js';
import { notify } from '../../lib/notify/send.js';
import type { TeamsMessage } from '../../lib/notify/teams.js';
import { renderHtml } from '../../lib/report/html.js';
import { culpritReport } from '../fixtures/report/sample.js';
import { startReceiver } from './receiver.js';
import type { Receiver } from './receiver.js';
import { azuriteConnectionString } from '../../sim/azurite.js';

let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
});

describe('report link on the Teams card (Azurite + loopback receiver)', () => {
  it('opens the stored HTML report from the link the card carries', async () => {
    const store = BlobReportStore.fromConnectionString(azuriteConnectionString(inject('azuriteBlobUrl')), {
      container: 'reports-e2e',
    });
    const written = await store.output(locationOfReport(culpritReport)).writeReport(culpritReport);
    const link = await store.readLink(written.html, 3600);

    rx.script({ status: 202 });
    const [result] = await notify(culpritReport, [{ kind: 'teams', url: `${rx.origin}/invoke?sig=x` }], {
      reportUrl: link,
    });
    expect(result?.ok).toBe(true);
    const card = (JSON.parse(rx.received[0]?.body ?? '{}') as TeamsMessage).attachments[0].content;
    const action = card.actions[0] as { type: string; url: string };
    expect(action.type).toBe('Action.OpenUrl');

    const page = await fetch(action.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe(renderHtml(culpritReport));
  });
});
