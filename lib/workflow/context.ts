/**
 * What an activity of the investigation gets from its host (the in-process driver here, the Functions app later):
 * the cluster's clients, the settings, the evidence store and the output location. The workflow generator never sees
 * any of it: it passes names and keys.
 */
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressClassifier } from '../analysis/ip.js';
import type { KubeClients } from '../k8s/access.js';
import type { MissingTools } from '../k8s/census.js';
import type { ExecFn } from '../k8s/exec.js';
import { writeReportFiles, REPORT_FILE_NAMES } from '../report/files.js';
import type { Report } from '../report/model.js';
import type { ClusterName, SnatFigures } from './contracts.js';

/** Reads the node's SNAT metrics for resolveTarget (lib/azure/metrics.ts `readSnatMetrics` in Azure). */
export type SnatMetricsReader = (
  request: { readonly lbId: string; readonly nodeIp: string; readonly window: { start: string; end: string } },
  fallback: SnatFigures,
) => Promise<
  | { readonly ok: true; readonly snat: SnatFigures }
  | { readonly ok: false; readonly snat: SnatFigures; readonly message: string }
>;

/** Settings of one responder (CLI options here, app settings in Azure). */
export interface InvestigationSettings {
  /** The capture namespace (infra/k8s/namespace.yaml). */
  readonly namespace: string;
  readonly image?: string;
  readonly pullSecret?: string;
  /** Added to the capture window for the Job's activeDeadlineSeconds (30..1800). */
  readonly deadlineMarginSeconds?: number;
  /** The node's allocated SNAT ports when known (Azure Monitor later; `--allocated-ports` now). */
  readonly allocatedPorts: number | null;
  readonly privateCidrs: readonly string[];
  /** Per exec, handshake to exit status. */
  readonly execTimeoutMs?: number;
  readonly logLimitBytes?: number;
  /** Where the report's summary is sent once written (SNAT_TEAMS_WEBHOOK_URL, SNAT_WEBHOOK_URL + SNAT_WEBHOOK_SECRET). */
  readonly notify?: NotifySettings;
}

export interface NotifySettings {
  readonly teamsWebhookUrl?: string;
  readonly webhook?: { readonly url: string; readonly secret: string };
  /** Lifetime of the report's read link (SNAT_REPORT_LINK_TTL_MINUTES x 60); default one day. */
  readonly linkTtlSeconds?: number;
}

/** Whether the settings name any notification target (none: the workflow skips the notify step). */
export function hasNotifyTargets(notify: NotifySettings | undefined): boolean {
  return Boolean(notify?.teamsWebhookUrl) || notify?.webhook !== undefined;
}

/**
 * Bulk evidence between activities (pod snapshot, censuses, parsed capture, report), by key. In memory for the
 * in-process driver; Blob Storage for the Functions app, where activities may run on different instances.
 */
export interface EvidenceStore {
  put(key: string, value: unknown): Promise<void>;
  /** Throws when the key is unknown (a workflow bug, or an expired store). */
  get<T>(key: string): Promise<T>;
}

export class MemoryEvidenceStore implements EvidenceStore {
  private readonly values = new Map<string, unknown>();

  put(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }

  get<T>(key: string): Promise<T> {
    if (!this.values.has(key)) return Promise.reject(new Error(`evidence store: no entry ${JSON.stringify(key)}`));
    return Promise.resolve(this.values.get(key) as T);
  }

  keys(): string[] {
    return [...this.values.keys()];
  }
}

/** Where the report and the raw capture go: a folder here, Blob Storage in Azure. */
export interface ReportOutput {
  /** Where each file will be, for the report's `artifacts` (written before the files exist). */
  paths(): { json: string; markdown: string; html: string };
  writeReport(report: Report): Promise<{ json: string; markdown: string; html: string }>;
  /** Keeps a raw file next to the report (the capture log); returns where. */
  writeRaw(name: 'capture.log', text: string): Promise<string>;
  /**
   * A time-limited read link to one of the files (a path or URL `paths()` gave), for notifications. Absent where
   * there is no such thing (a local folder): the notification then names the path.
   */
  readLink?(path: string, ttlSeconds: number): Promise<string>;
}

export function folderOutput(dir: string): ReportOutput {
  return {
    paths: () => ({
      json: join(dir, REPORT_FILE_NAMES.json),
      markdown: join(dir, REPORT_FILE_NAMES.markdown),
      html: join(dir, REPORT_FILE_NAMES.html),
    }),
    writeReport: (report) => writeReportFiles(report, dir),
    async writeRaw(name, text) {
      await mkdir(dir, { recursive: true });
      const path = join(dir, name);
      await writeFile(path, text, 'utf8');
      return path;
    },
  };
}

export interface ActivityContext {
  readonly clients: KubeClients;
  readonly classifier: AddressClassifier;
  readonly settings: InvestigationSettings;
  readonly store: EvidenceStore;
  readonly output: ReportOutput;
  /** Aborts on cancellation (Ctrl-C); cleanup activities get one that does not. */
  readonly signal: AbortSignal;
  /** The exec seam, bounded for the whole investigation: every census batch shares the one limit. */
  readonly exec: ExecFn;
  /** Binaries found missing per image, shared by all census batches of the investigation. */
  readonly missingTools: MissingTools;
  /** The cluster acted on, for the report; absent where the host only has a kubeconfig. */
  readonly cluster?: ClusterName;
  /** Azure Monitor, where the host can read it (the Functions app; `serve` when given a reader). */
  readonly snatMetrics?: SnatMetricsReader;
}
