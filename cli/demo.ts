/**
 * `snat-responder demo`: the alert-driven path end to end, on this machine, with local stand-ins for what needs Azure.
 *
 * It starts Azurite (Blob Storage), the simulated AKS cluster (default scenario; its Jobs run 20x faster than real
 * time), the simulated ARM (sim/arm.ts: Azure Monitor's SNAT metrics of the scenario's load balancer, over HTTPS with
 * the committed test certificate, taking a stub credential), a webhook sink, and `serve` (the same HTTP handlers as
 * the Functions app, with the in-process engine instead of Durable Functions, reading Azure Monitor through the real
 * @azure/arm-monitor client, and requiring a random SNAT_SERVE_KEY on every request); posts a real common-schema
 * Azure Monitor SNAT alert on that load balancer for the scenario's node; follows the investigation; reads the report
 * back through its time-limited Blob links; and writes demo-output/report.json, report.html and notification.json
 * (the signed webhook payload the sink received). It exits 0 only when the report names the scenario's culprit first,
 * carries the node's SNAT metrics as the simulated Azure Monitor gave them, the webhook signature verifies, and no
 * capture Job is left in the cluster.
 *
 * Not shown here: the Functions host and the Durable extension (they cannot run on these machines), Entra ID, Azure
 * Monitor itself, a real AKS node.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressClassifier } from '../lib/analysis/ip.js';
import { armSession } from '../lib/azure/arm.js';
import { BlobReportStore } from '../lib/azure/blob-store.js';
import { snatMetricsReader } from '../lib/azure/metrics.js';
import { secretValuesOf } from '../lib/config/secrets.js';
import { environmentError } from '../lib/errors.js';
import { listen } from '../lib/net.js';
import { kubeConfigFromFile, makeKubeClients } from '../lib/k8s/access.js';
import { FUNCTION_KEY_HEADER } from '../lib/intake/http.js';
import { createLogger, streamLogSink } from '../lib/log.js';
import { verifyWebhookSignature } from '../lib/notify/webhook.js';
import type { Report } from '../lib/report/model.js';
import { startServe } from '../lib/serve/server.js';
import { azuriteConnectionString, startAzurite } from '../sim/azurite.js';
import { snatAlert } from '../sim/alerts.js';
import { armSimDataOf, simCredential, startArmSim } from '../sim/arm.js';
import type { ArmSimData } from '../sim/arm.js';
import { startSim } from '../sim/server.js';
import type { CliIo } from './main.js';
import { serveSettings } from './serve.js';
import { summarise } from './summary.js';

export interface DemoOptions {
  readonly out: string;
  readonly scenario: string;
  readonly captureSeconds: number;
}

interface Received {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A loopback receiver for the generic webhook: keeps what it was sent. */
async function startWebhookSink(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  const port = await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${port}/snat-webhook`,
    received,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

const percent = (share: number | null | undefined): string =>
  typeof share === 'number' ? `${(share * 100).toFixed(1)}%` : 'an unknown share';

/**
 * The report's `snat` block is what the simulated Azure Monitor holds for the node (allocated; the peak of used; some
 * failed connections over the alert's window), and no step says the metrics could not be read.
 */
function snatCheck(
  report: Report,
  data: ArmSimData,
  loadBalancerId: string,
  nodeIp: string,
): { ok: boolean; text: string } {
  const lb = Object.keys(data.metrics).find((id) => id.toLowerCase() === loadBalancerId);
  const backend = lb !== undefined ? data.metrics[lb]?.[nodeIp] : undefined;
  const { allocatedPorts, usedPorts, failedConnections } = report.snat;
  const unread = report.degraded.find((d) => d.step === 'snat metrics');
  const ok =
    backend !== undefined &&
    unread === undefined &&
    allocatedPorts === backend.allocatedPorts &&
    usedPorts === backend.usedPorts &&
    failedConnections !== null &&
    failedConnections > 0;
  const top = report.pods[0]?.topDestinations[0];
  const figures =
    `${allocatedPorts ?? '?'} allocated, ${usedPorts ?? '?'} used, ${failedConnections ?? '?'} failed connections` +
    (top
      ? `; the top-ranked pod holds ${percent(top.shareOfAllocated)} of the allocated ports toward ${top.ip}:${top.port}`
      : '');
  return {
    ok,
    text: `the report carries the node's SNAT metrics from Azure Monitor (simulated): ${unread ? unread.reason : figures}`,
  };
}

/** Returns the exit code: 0 when every check passes, 1 otherwise. */
export async function runDemo(options: DemoOptions, classifier: AddressClassifier, io: CliIo): Promise<number> {
  const say = (text: string) => io.stderr(`demo: ${text}\n`);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const azurite = startAzurite();
    cleanups.push(async () => {
      azurite.child.kill();
      await Promise.resolve();
    });
    const sim = await startSim({ scenario: options.scenario, timeScale: 0.05 });
    cleanups.push(() => sim.close());
    const armData = armSimDataOf(sim.scenario);
    const arm = await startArmSim(armData);
    cleanups.push(() => arm.close());
    const sink = await startWebhookSink();
    cleanups.push(() => sink.close());
    const blobUrl = `http://127.0.0.1:${await azurite.port}`;
    say(`Azurite (Blob Storage) at ${blobUrl}; simulated AKS cluster at ${sim.url} (scenario ${options.scenario})`);
    say(
      `simulated Azure Monitor (the ARM sim, HTTPS with the committed test certificate, a stub credential: not Azure) at ${arm.url}: SNAT metrics of ${arm.ids.loadBalancerId}`,
    );

    const dir = await mkdtemp(join(tmpdir(), 'snat-demo-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, sim.kubeconfig, { mode: 0o600 });

    const secret = randomBytes(24).toString('hex');
    // serve's key, random per run: every request below carries it, as a client of the Function App carries its key.
    const key = randomBytes(24).toString('hex');
    const withKey = { [FUNCTION_KEY_HEADER]: key };
    const { settings } = serveSettings({
      SNAT_REPORT_STORAGE: azuriteConnectionString(blobUrl),
      SNAT_WEBHOOK_URL: sink.url,
      SNAT_WEBHOOK_SECRET: secret,
      SNAT_SERVE_KEY: key,
    });
    const kc = kubeConfigFromFile(kubeconfig);
    const server = await startServe({
      clients: makeKubeClients(kc),
      clusterName: kc.getCurrentCluster()?.name ?? 'sim',
      settings,
      classifier,
      blob: BlobReportStore.fromConnectionString(azuriteConnectionString(blobUrl), {
        container: settings.reportContainer,
      }),
      outDir: join(dir, 'reports'),
      captureSeconds: options.captureSeconds,
      // The real @azure/arm-monitor client against the ARM sim; a stub credential, since the sim is not Entra ID.
      snatMetrics: snatMetricsReader(armSession({ credential: simCredential(), endpoint: arm.url, caPem: arm.caPem })),
      // Only failures, as JSON lines: the demo's own lines tell the story (the report states every degradation).
      logger: createLogger(
        streamLogSink({ write: io.stderr }),
        {},
        { secrets: secretValuesOf(settings), level: 'error' },
      ),
    });
    cleanups.push(() => server.close());
    say(
      `serve (the Functions app's HTTP routes, in-process engine, Azure Monitor through the ARM sim) at ${server.url}; every request carries its key (SNAT_SERVE_KEY, random for this run, header ${FUNCTION_KEY_HEADER})`,
    );

    // On the load balancer the ARM sim knows: the investigation reads that load balancer's metrics for the node.
    const alert = snatAlert({
      nodeIp: sim.expected.nodeIp,
      firedAt: new Date(),
      subscriptionId: arm.ids.subscriptionId,
      nodeResourceGroup: arm.ids.nodeResourceGroup,
    });
    say(
      `POST /api/alerts: Azure Monitor alert "${alert.data.essentials.alertRule}" (UsedSnatPorts, BackendIPAddress ${sim.expected.nodeIp})`,
    );
    const posted = await fetch(`${server.url}/api/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...withKey },
      body: JSON.stringify(alert),
    });
    const accepted = (await posted.json()) as { investigations?: Array<{ id: string; statusUrl: string }> };
    const started = accepted.investigations?.[0];
    if (posted.status !== 202 || !started) {
      throw environmentError(`the alert was not accepted: HTTP ${posted.status} ${JSON.stringify(accepted)}`);
    }
    say(`202 Accepted: investigation ${started.id}`);

    let status: {
      status: string;
      phase: string | null;
      progress: { podsDone: number; podsTotal: number } | null;
      report: { links: { json: string; html: string } | null } | null;
    };
    let last = '';
    for (;;) {
      status = (await getJson(started.statusUrl, withKey)).body as typeof status;
      const line = `${status.phase ?? status.status}${status.progress ? ` | pods ${status.progress.podsDone}/${status.progress.podsTotal}` : ''}`;
      if (line !== last) say(`GET /api/investigations/${started.id}: ${line}`);
      last = line;
      if (['completed', 'failed', 'terminated'].includes(status.status)) break;
      await sleep(250);
    }
    const links = status.report?.links;
    if (status.status !== 'completed' || !links) throw environmentError(`the investigation ended ${status.status}`);

    const report = (await getJson(links.json)).body as Report;
    const html = await (await fetch(links.html)).text();
    const out = resolve(options.out);
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(join(out, 'report.html'), html);

    const delivery = sink.received[0];
    const signatureValid =
      delivery !== undefined &&
      verifyWebhookSignature(
        secret,
        String(delivery.headers['x-snat-responder-timestamp']),
        delivery.body,
        String(delivery.headers['x-snat-responder-signature']),
      );
    await writeFile(
      join(out, 'notification.json'),
      JSON.stringify(
        delivery
          ? {
              headers: {
                'x-snat-responder-timestamp': delivery.headers['x-snat-responder-timestamp'],
                'x-snat-responder-signature': delivery.headers['x-snat-responder-signature'],
              },
              signatureValid,
              payload: JSON.parse(delivery.body) as unknown,
            }
          : { received: false },
        null,
        2,
      ) + '\n',
    );

    io.stdout(summarise(report, { json: join(out, 'report.json'), html: join(out, 'report.html') }));
    io.stdout(`        ${join(out, 'notification.json')}\n`);
    const first = report.pods[0];
    const named = first ? `${first.namespace}/${first.name}` : '(none)';
    const checks = [
      {
        ok: named === sim.expected.culprit,
        text: `the report ranks ${named} first (scenario culprit: ${sim.expected.culprit})`,
      },
      snatCheck(report, armData, arm.ids.loadBalancerId, sim.expected.nodeIp),
      { ok: signatureValid, text: 'the webhook notification arrived and its HMAC signature verifies' },
      { ok: sim.jobs().length === 0, text: 'no capture Job is left in the cluster' },
    ];
    io.stdout('\n');
    for (const c of checks) io.stdout(`demo: ${c.ok ? 'ok  ' : 'FAIL'} ${c.text}\n`);
    return checks.every((c) => c.ok) ? 0 : 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}
