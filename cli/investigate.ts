/**
 * `snat-responder investigate --node <name|ip>`: the whole workflow (capture Job, pod census, analysis) against the
 * cluster of a kubeconfig, in-process, with a progress display on stderr. Writes report.{json,md,html} (and the raw
 * capture.log) into --out, prints the ranked summary, and always deletes its capture Job, Ctrl-C included.
 *
 * Exit codes: 0 a report was written (degraded or not), 2 usage, 3 bad input, 4 environment (kubeconfig, cluster
 * unreachable, node not found), 130 cancelled by SIGINT/SIGTERM (after the cleanup).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { InvestigationStatus } from '../orchestrations/investigate.js';
import type { AddressClassifier } from '../lib/analysis/ip.js';
import { environmentError, isSnatResponderError, usageError } from '../lib/errors.js';
import { kubeConfigFromFile, makeKubeClients } from '../lib/k8s/access.js';
import type { KubeClientOptions } from '../lib/k8s/access.js';
import { DEFAULT_CAPTURE_NAMESPACE, checkImage } from '../lib/k8s/capture-job.js';
import { isDns1123Label, isDns1123Subdomain } from '../lib/k8s/names.js';
import { folderOutput } from '../lib/workflow/context.js';
import { ActivityFailedError, isWorkflowCancelled } from '../lib/workflow/driver.js';
import { runInvestigation } from '../lib/workflow/investigation.js';
import type { RunInvestigationOptions } from '../lib/workflow/investigation.js';
import type { CliIo } from './main.js';
import { summarise } from './summary.js';

export const EXIT_CANCELLED = 130;

/** The options as commander hands them over (strings), before validation. */
export interface InvestigateCliOptions {
  readonly node?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly duration?: string;
  readonly out?: string;
  readonly allocatedPorts?: string;
  readonly namespace?: string;
  readonly image?: string;
  readonly concurrency?: string;
}

export interface InvestigateParams {
  readonly node: { name: string } | { ip: string };
  readonly nodeText: string;
  readonly captureSeconds: number;
  readonly out: string;
  readonly allocatedPorts: number | null;
  readonly namespace: string;
  readonly image?: string;
  readonly concurrency: number;
}

/** Test seams: signals, clock, timers, client options, the progress line's TTY mode. */
export interface InvestigateHooks {
  /** Calls `handler` on SIGINT/SIGTERM until disposed. Default: the process' signals. */
  readonly onSignal?: (handler: (signal: string) => void) => () => void;
  readonly now?: () => Date;
  readonly clientOptions?: KubeClientOptions;
  readonly run?: Partial<Pick<RunInvestigationOptions, 'sleep' | 'onActivity' | 'input'>> & {
    readonly timing?: NonNullable<RunInvestigationOptions['input']['timing']>;
  };
}

function intOption(name: string, text: string | undefined, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,7}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usageError(`${name}: '${text}' is not a whole number ${min}..${max}`);
  }
  return Number(text);
}

/** `20261126T100000Z`: a file-name-safe UTC time. */
const stamp = (d: Date): string =>
  d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');

/** Validates every option before anything touches the cluster. */
export function investigateParams(opts: InvestigateCliOptions, now: Date): InvestigateParams {
  const nodeText = opts.node;
  if (nodeText === undefined || nodeText.length === 0) throw usageError('--node: required (a node name or IP)');
  let node: InvestigateParams['node'];
  if (isIP(nodeText) !== 0) node = { ip: nodeText };
  else if (isDns1123Subdomain(nodeText)) node = { name: nodeText };
  else {
    throw usageError(
      `--node: ${JSON.stringify(nodeText.slice(0, 80))} is neither a node name (DNS-1123, e.g. aks-nodepool1-12345678-vmss000000) nor an IP address`,
    );
  }
  const namespace = opts.namespace ?? DEFAULT_CAPTURE_NAMESPACE;
  if (!isDns1123Label(namespace)) {
    throw usageError(`--namespace: ${JSON.stringify(namespace.slice(0, 80))} is not a namespace name (DNS-1123 label)`);
  }
  let image: string | undefined;
  if (opts.image !== undefined) {
    try {
      image = checkImage(opts.image);
    } catch (e) {
      throw usageError(`--image: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const allocatedPorts =
    opts.allocatedPorts === undefined ? null : intOption('--allocated-ports', opts.allocatedPorts, 1, 1_000_000, 0);
  return {
    node,
    nodeText,
    captureSeconds: intOption('--duration', opts.duration, 1, 600, 30),
    out: resolve(opts.out ?? `snat-report-${nodeText.replace(/[^A-Za-z0-9.-]/g, '-')}-${stamp(now)}`),
    allocatedPorts,
    namespace,
    ...(image !== undefined ? { image } : {}),
    concurrency: intOption('--concurrency', opts.concurrency, 1, 256, 16),
  };
}

function processSignals(handler: (signal: string) => void): () => void {
  const on = (signal: NodeJS.Signals) => handler(signal);
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return () => {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  };
}

const PHASE_WORDS: Record<InvestigationStatus['phase'], string> = {
  resolving: 'finding the node',
  'starting capture': 'starting the capture Job',
  'listing pods': 'listing the pods on the node',
  census: 'pod census',
  capturing: 'capturing',
  collecting: 'reading the capture',
  'cleaning up': 'deleting the capture Job',
  reporting: 'writing the report',
  done: 'done',
};

/** The progress display: one updating line on a TTY, plain lines (one per change) otherwise. */
export class Progress {
  private status: InvestigationStatus | null = null;
  private lastPlain = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly started: number;

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.started = clock();
    if (tty) {
      this.timer = setInterval(() => this.draw(), 250);
      this.timer.unref();
    }
  }

  update(status: InvestigationStatus): void {
    this.status = status;
    this.draw();
  }

  note(text: string): void {
    if (this.tty) this.write('\r\x1b[2K');
    this.write(`${text}\n`);
    this.draw();
  }

  private line(): string {
    const s = this.status;
    if (!s) return '';
    const parts = [`${PHASE_WORDS[s.phase]}`];
    if (s.pods.total > 0) parts.push(`pods ${s.pods.done}/${s.pods.total}`);
    if (s.node) parts.push(`node ${s.node}`);
    return parts.join(' | ');
  }

  private draw(): void {
    const line = this.line();
    if (!line) return;
    if (this.tty) {
      const seconds = ((this.clock() - this.started) / 1000).toFixed(1);
      this.write(`\r\x1b[2K[${seconds.padStart(5)} s] ${line}`);
    } else if (line !== this.lastPlain) {
      this.lastPlain = line;
      this.write(`snat-responder: ${line}\n`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.tty && this.status) this.write('\r\x1b[2K');
  }
}

/** Runs the investigation; returns the exit code (0, or 130 when cancelled). Errors are typed for main's mapping. */
export async function runInvestigate(
  opts: InvestigateCliOptions,
  classifier: AddressClassifier,
  privateCidrs: readonly string[],
  io: CliIo,
  hooks: InvestigateHooks = {},
): Promise<number> {
  const now = hooks.now ?? (() => new Date());
  const params = investigateParams(opts, now());
  const kubeConfig = kubeConfigFromFile(opts.kubeconfig, opts.context);
  const clients = makeKubeClients(kubeConfig, hooks.clientOptions ?? {});
  const investigationId = `cli-${stamp(now()).toLowerCase()}-${randomBytes(3).toString('hex')}`;

  const progress = new Progress(io.stderr, io.stderrIsTty?.() === true);
  // An object: changed in a callback, read after the await (a plain let would stay narrowed to 'none').
  const cleanup: { state: 'none' | 'deleted' | 'failed' } = { state: 'none' };
  const onActivity: NonNullable<RunInvestigationOptions['onActivity']> = (event) => {
    if (event.type === 'end' && event.activity === 'deleteCapture') cleanup.state = event.error ? 'failed' : 'deleted';
    hooks.run?.onActivity?.(event);
  };
  const controller = new AbortController();
  let signals = 0;
  const dispose = (hooks.onSignal ?? processSignals)((signal) => {
    signals += 1;
    if (signals === 1) {
      progress.note(`snat-responder: ${signal}: cancelling; deleting the capture Job first (again to quit at once)`);
      controller.abort();
    } else {
      progress.stop();
      io.stderr(`snat-responder: ${signal} again: quitting without cleanup; the Job ends at its deadline\n`);
      process.exit(EXIT_CANCELLED);
    }
  });

  try {
    const { result, report } = await runInvestigation({
      clients,
      input: {
        investigationId,
        node: params.node,
        captureSeconds: params.captureSeconds,
        trigger: { kind: 'cli', source: `investigate --node ${params.nodeText}` },
        ...(hooks.run?.timing ? { timing: hooks.run.timing } : {}),
        ...hooks.run?.input,
      },
      settings: {
        namespace: params.namespace,
        ...(params.image !== undefined ? { image: params.image } : {}),
        allocatedPorts: params.allocatedPorts,
        privateCidrs,
      },
      classifier,
      output: folderOutput(params.out),
      concurrency: params.concurrency,
      signal: controller.signal,
      onStatus: (s) => progress.update(s),
      ...(hooks.run?.sleep ? { sleep: hooks.run.sleep } : {}),
      onActivity,
      now,
    });
    progress.stop();
    if (result.outcome === 'target-not-found') {
      if (result.reason === 'invalid') throw usageError(`--node: ${result.message}`);
      throw environmentError(`node ${JSON.stringify(params.nodeText)} not found: ${result.message}`);
    }
    if (report === null) throw new Error('the workflow reported no report');
    io.stdout(summarise(report, result.report));
    if (result.rawCapture) io.stdout(`Capture: ${result.rawCapture}\n`);
    if (report.degraded.length > 0) {
      io.stdout(`\nDegraded (${report.degraded.length}):\n`);
      for (const d of report.degraded) io.stdout(`- ${d.step}: ${d.reason}\n`);
    }
    return signals > 0 ? EXIT_CANCELLED : 0;
  } catch (e) {
    progress.stop();
    if (isWorkflowCancelled(e)) {
      io.stderr(
        cleanup.state === 'failed'
          ? 'snat-responder: cancelled; the capture Job could not be deleted: Kubernetes ends it at its deadline\n'
          : cleanup.state === 'deleted'
            ? 'snat-responder: cancelled; the capture Job was deleted\n'
            : 'snat-responder: cancelled\n',
      );
      return EXIT_CANCELLED;
    }
    // An activity's failure carries the typed error (exit code) in its cause.
    const cause = e instanceof ActivityFailedError ? e.cause : e;
    if (isSnatResponderError(cause)) throw cause;
    throw e;
  } finally {
    dispose();
  }
}
