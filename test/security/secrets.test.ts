/**
 * No secret leaks from a whole alert-driven run: `serve` (the Functions app's HTTP routes with the in-process engine)
 * against the simulated cluster, reports in Azurite, a Teams card and a signed webhook to loopback receivers, every
 * setting that holds a secret set. Then every log line, every stored report file (JSON, Markdown, HTML, raw capture)
 * and every notification is searched for each secret value:
 *
 * - the storage account key, the alert secret, the webhook HMAC key, the secret parts of both webhook URLs, the kube
 *   bearer token: in none of them;
 * - read links (SAS) are meant for the notifications: there, each a read-only link to one of the report's files;
 *   never in a log or a report.
 *
 * Not the Functions host or Application Insights: the same logger and redaction, run in process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { BlobReportStore } from '../../lib/azure/blob-store.js';
import { kubeConfigFromFile, makeKubeClients } from '../../lib/k8s/access.js';
import { createLogger } from '../../lib/log.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer } from '../../lib/serve/server.js';
import { snatAlert } from '../../sim/alerts.js';
import { AZURITE_KEY, azuriteConnectionString } from '../../sim/azurite.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { startReceiver } from '../notify/receiver.js';
import type { Receiver } from '../notify/receiver.js';

const ALERT_SECRET = 'alert-secret-7c1d9e0f2a3b4c5d6e';
const WEBHOOK_SECRET = 'hmac-key-5e6f7a8b9c0d1e2f3a4b';
const TEAMS_SIG = 'teamsSig0123456789abcdefABCDEF';
const WEBHOOK_TOKEN = 'hookPathToken9876543210';

let sim: RunningSim;
let teams: Receiver;
let webhook: Receiver;
let server: RunningServer;
let store: BlobReportStore;
const logs: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'snat-secrets-'));

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  [teams, webhook] = await Promise.all([startReceiver(), startReceiver()]);
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
  const connection = azuriteConnectionString(inject('azuriteBlobUrl'));
  const container = `secrets-${randomUUID().slice(0, 8)}`;
  const { settings } = serveSettings({
    SNAT_ALERT_SECRET: ALERT_SECRET,
    SNAT_TEAMS_WEBHOOK_URL: `${teams.origin}/workflows/run?api-version=1&sp=%2Ftriggers&sig=${TEAMS_SIG}`,
    SNAT_WEBHOOK_URL: `${webhook.origin}/hooks/${WEBHOOK_TOKEN}`,
    SNAT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SNAT_REPORT_STORAGE: connection,
    SNAT_REPORT_CONTAINER: container,
  });
  store = BlobReportStore.fromConnectionString(connection, { container });
  const kc = kubeConfigFromFile(kubeconfig);
  server = await startServe({
    clients: makeKubeClients(kc, { requestTimeoutMs: 5_000 }),
    clusterName: kc.getCurrentCluster()?.name ?? 'sim',
    settings,
    classifier: new AddressClassifier(),
    blob: store,
    outDir: join(dir, 'reports'),
    captureSeconds: 1,
    run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
    // Knows no secret itself: whatever is blanked below, serve blanked.
    logger: createLogger((_level, line) => logs.push(line), {}, { level: 'debug' }),
    log: (line) => logs.push(line),
  });
});
afterAll(async () => {
  await server?.close();
  await Promise.all([teams?.close(), webhook?.close()]);
  await sim?.close();
});

interface Status {
  status: string;
  report: { links: { json: string; markdown: string; html: string } | null } | null;
}

async function untilDone(id: string): Promise<Status> {
  for (let i = 0; i < 400; i++) {
    const body = (await (await fetch(`${server.url}/api/investigations/${id}`)).json()) as Status;
    if (!['pending', 'running'].includes(body.status)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`investigation ${id} did not finish`);
}

describe('no secret in logs, reports or notifications of a whole run (serve + simulated cluster + Azurite)', () => {
  const secrets = (): Record<string, string> => ({
    'storage account key': AZURITE_KEY,
    'alert secret': ALERT_SECRET,
    'webhook HMAC key': WEBHOOK_SECRET,
    'Teams webhook signature': TEAMS_SIG,
    'webhook URL token': WEBHOOK_TOKEN,
    'kube bearer token': sim.token,
  });
  let sasSignature = '';
  let texts: Record<string, string> = {};
  let reportFiles: string[] = [];
  const notifiedSignatures: string[] = [];

  it('runs an alert to a stored, notified report', async () => {
    const alert = snatAlert({ nodeIp: sim.expected.nodeIp, firedAt: new Date() });
    const res = await fetch(`${server.url}/api/alerts`, {
      method: 'POST',
      body: JSON.stringify(alert),
      headers: { 'content-type': 'application/json', 'x-snat-alert-secret': ALERT_SECRET },
    });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { investigations: Array<{ id: string }> }).investigations[0]!.id;
    const done = await untilDone(id);
    expect(done.status).toBe('completed');
    const links = done.report!.links!;
    sasSignature = new URL(links.json).searchParams.get('sig') ?? '';
    reportFiles = Object.values(links).map((l) => {
      const u = new URL(l);
      return u.origin + u.pathname;
    });
    expect(sasSignature.length).toBeGreaterThan(10);
    expect(teams.received).toHaveLength(1);
    expect(webhook.received).toHaveLength(1);

    const report = JSON.parse(await store.read(links.json)) as { artifacts: { rawCapture: string | null } };
    texts = {
      'report.json': await store.read(links.json),
      'report.md': await store.read(links.markdown),
      'report.html': await store.read(links.html),
      'capture.log': report.artifacts.rawCapture ? await store.read(report.artifacts.rawCapture) : '',
    };
    expect(texts['capture.log']).toContain('##SNAT-RESPONDER## begin');
  });

  it('the logs hold none of the secrets, and no read link', () => {
    expect(logs.length).toBeGreaterThan(10);
    const all = logs.join('\n');
    for (const [what, value] of Object.entries(secrets())) expect(all, what).not.toContain(value);
    expect(all, 'SAS signature').not.toContain(sasSignature);
    expect(all).not.toMatch(/[?&]sig=[^&\s"[]/);
  });

  it('the stored report files hold none of the secrets, and no read link', () => {
    for (const [file, text] of Object.entries(texts)) {
      for (const [what, value] of Object.entries(secrets())) expect(text, `${what} in ${file}`).not.toContain(value);
      expect(text, `SAS in ${file}`).not.toContain(sasSignature);
    }
  });

  it('the notifications hold none of the secrets; the read link is there, as the report link only', () => {
    for (const [name, receiver] of [
      ['Teams card', teams],
      ['webhook', webhook],
    ] as const) {
      const { body, headers } = receiver.received[0]!;
      const sent = `${body}\n${JSON.stringify(headers)}`;
      for (const [what, value] of Object.entries(secrets())) expect(sent, `${what} in ${name}`).not.toContain(value);
      // The read links: at least one, each a read-only link to one of this report's files; nothing else signed.
      const signed = [...sent.matchAll(/https?:\/\/[^"\s\\]+/g)]
        .map((m) => new URL(m[0].replace(/\\u0026/g, '&')))
        .filter((u) => u.searchParams.has('sig'));
      expect(signed.length, `read link in ${name}`).toBeGreaterThan(0);
      for (const u of signed) {
        expect(reportFiles, `a link to something else in ${name}`).toContain(u.origin + u.pathname);
        expect(u.searchParams.get('sp')).toBe('r');
        notifiedSignatures.push(u.searchParams.get('sig')!);
      }
      expect(sent.split('sig=').length - 1, `a signature outside a link in ${name}`).toBe(signed.length);
    }
    // The links sent are not in the logs or the reports either.
    for (const sig of notifiedSignatures) {
      expect(logs.join('\n')).not.toContain(sig);
      for (const text of Object.values(texts)) expect(text).not.toContain(sig);
    }
    // The webhook's signature header is an HMAC of the body, not the key.
    expect(JSON.stringify(webhook.received[0]!.headers)).not.toContain(WEBHOOK_SECRET);
  });
});
