/**
 * `snat-responder serve`: the HTTP routes of the Functions app on loopback with the in-process engine (lib/serve).
 * Once it listens it prints exactly one JSON line on stdout, `{"url":"http://127.0.0.1:<port>"}`; on SIGINT/SIGTERM it
 * stops accepting, cancels running investigations (their capture Jobs are deleted by the workflow's cleanup) and
 * exits 0.
 *
 * Settings come from the environment like the Functions app's (lib/config), except that SNAT_TASK_HUB and
 * SNAT_REPORT_STORAGE are optional here: without SNAT_REPORT_STORAGE, reports go to a folder per investigation under
 * --out. Exit codes: 2 usage, 4 environment (settings, kubeconfig, port in use).
 *
 * Azure Monitor: with SNAT_ARM_ENDPOINT set or `--azure-monitor`, alert-started investigations read the node's SNAT
 * metrics (AllocatedSnatPorts, UsedSnatPorts, failed SnatConnectionCount) of the alert's load balancer over the alert's
 * window, through ARM (SNAT_ARM_ENDPOINT, default the public cloud) as `DefaultAzureCredential` (after `az login` on a
 * laptop); a read that fails is a degradation the report states. Without either, no metrics (the report says the
 * allocation is unknown). The ARM SDKs and @azure/identity are loaded only then.
 *
 * SNAT_SERVE_KEY (optional): every request must carry it (header x-functions-key or query code), else 401.
 *
 * Logs: JSON lines on stderr (lib/log.ts: requests, each investigation's phases, activities and outcome), the values
 * of the secret settings blanked out.
 */
import { resolve } from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
import { usageError } from '../lib/errors.js';
import type { AddressClassifier } from '../lib/analysis/ip.js';
import { secretValuesOf } from '../lib/config/secrets.js';
import { loadSettings } from '../lib/config/settings.js';
import type { Settings } from '../lib/config/settings.js';
import { createLogger, streamLogSink } from '../lib/log.js';
import type { SnatMetricsReader } from '../lib/workflow/context.js';
import type { CliIo } from './main.js';
import { untilSignal } from './sim.js';
import type { StopSignal } from './sim.js';
import { listenFailure } from '../lib/net.js';

export interface ServeCliOptions {
  readonly port?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly captureSeconds?: string;
  readonly out?: string;
  /** Read Azure Monitor even when SNAT_ARM_ENDPOINT is unset (the public cloud). */
  readonly azureMonitor?: boolean;
}

/** Test seams of the Azure Monitor reader: never DefaultAzureCredential in tests (it probes IMDS). */
export interface AzureMonitorSeams {
  readonly credential?: () => TokenCredential;
  /** An extra CA (PEM) trusted for ARM: the ARM sim's test certificate. */
  readonly caPem?: string;
}

/** Azure Monitor for serve when SNAT_ARM_ENDPOINT is set or `wanted`: the reader and the ARM endpoint; else null. */
export async function azureMonitorReader(
  settings: Pick<Settings, 'armEndpoint'>,
  wanted: boolean,
  seams: AzureMonitorSeams = {},
): Promise<{ readonly read: SnatMetricsReader; readonly endpoint: string } | null> {
  if (!wanted && settings.armEndpoint === null) return null;
  // Loaded on use: the ARM SDKs and @azure/identity take longer to load than the rest of the command.
  const [{ armSession, PUBLIC_ARM_ENDPOINT }, { snatMetricsReader }] = await Promise.all([
    import('../lib/azure/arm.js'),
    import('../lib/azure/metrics.js'),
  ]);
  const credential = seams.credential?.() ?? new (await import('@azure/identity')).DefaultAzureCredential();
  const endpoint = settings.armEndpoint ?? PUBLIC_ARM_ENDPOINT;
  const session = armSession({ credential, endpoint, ...(seams.caPem !== undefined ? { caPem: seams.caPem } : {}) });
  return { read: snatMetricsReader(session), endpoint };
}

function intOption(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,6}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usageError(`${name}: '${text}' is not a whole number ${min}..${max}`);
  }
  return Number(text);
}

/** The Functions app's settings, with the two that only Azure needs made optional. */
export function serveSettings(env: NodeJS.ProcessEnv): { settings: Settings; blob: boolean } {
  const has = (name: string) => (env[name] ?? '').trim() !== '';
  return {
    settings: loadSettings({
      ...env,
      SNAT_TASK_HUB: has('SNAT_TASK_HUB') ? env.SNAT_TASK_HUB : 'serve',
      // A placeholder that passes validation; unused when `blob` is false.
      SNAT_REPORT_STORAGE: has('SNAT_REPORT_STORAGE') ? env.SNAT_REPORT_STORAGE : 'UseDevelopmentStorage=true',
    }),
    blob: has('SNAT_REPORT_STORAGE'),
  };
}

export async function runServe(
  options: ServeCliOptions,
  classifier: AddressClassifier,
  io: CliIo,
  until: () => StopSignal = untilSignal,
  env: NodeJS.ProcessEnv = process.env,
  azure: AzureMonitorSeams = {},
): Promise<number> {
  const port = intOption('--port', options.port, 0, 65535) ?? 0;
  const { settings, blob } = serveSettings(env);
  const captureSeconds = intOption('--capture-seconds', options.captureSeconds, 1, settings.capture.maxSeconds);
  const { kubeConfigFromFile, makeKubeClients } = await import('../lib/k8s/access.js');
  const kubeConfig = kubeConfigFromFile(options.kubeconfig, options.context);
  const clusterName = kubeConfig.getCurrentCluster()?.name ?? kubeConfig.getCurrentContext();
  let store = null;
  if (blob) {
    const { BlobReportStore } = await import('../lib/azure/blob-store.js');
    const storage = settings.reportStorage;
    if (storage.kind === 'connectionString') {
      store = BlobReportStore.fromConnectionString(storage.connectionString, { container: settings.reportContainer });
    } else {
      const { DefaultAzureCredential } = await import('@azure/identity');
      store = BlobReportStore.fromAccountUrl(storage.url, new DefaultAzureCredential(), {
        container: settings.reportContainer,
      });
    }
  }
  const monitor = await azureMonitorReader(settings, options.azureMonitor === true, azure);
  const logger = createLogger(streamLogSink({ write: io.stderr }), {}, { secrets: secretValuesOf(settings) });
  const stop = until();
  const { startServe } = await import('../lib/serve/server.js');
  let server;
  try {
    server = await startServe({
      clients: makeKubeClients(kubeConfig),
      clusterName,
      settings,
      classifier: classifier,
      blob: store,
      outDir: resolve(options.out ?? 'snat-reports'),
      ...(captureSeconds !== undefined ? { captureSeconds } : {}),
      port,
      logger,
      ...(monitor !== null ? { snatMetrics: monitor.read } : {}),
    });
  } catch (e) {
    stop.dispose();
    throw listenFailure(e, `127.0.0.1:${port}`);
  }
  try {
    io.stdout(JSON.stringify({ url: server.url }) + '\n');
    logger.info('serve listening', {
      url: server.url,
      azureMonitor: monitor?.endpoint ?? null,
      keyRequired: settings.serveKey !== null,
    });
    const signal = await stop.stopped;
    logger.info('serve stopping: cancelling running investigations', { signal: String(signal) });
  } finally {
    stop.dispose();
    await server.close();
  }
  return 0;
}
