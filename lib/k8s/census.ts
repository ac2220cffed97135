/**
 * The pod connection census (DESIGN.md, fan-out step): for each pod on the node, exec a socket listing that needs
 * nothing installed - `netstat -ptn`, else `ss -tnp`, else `cat /proc/net/tcp /proc/net/tcp6` - and parse it with the
 * project's census parsers. hostNetwork pods are not exec'd: they share the node's namespace, which is counted once,
 * as the host. Pods that cannot be exec'd (distroless, forbidden, gone) keep the reason, and the caller fills them from
 * the node-side census of their network namespace (`fillFromNodeCensus`).
 *
 * The next tool is tried only when the previous one is missing from the image, or ran but printed something its
 * parser rejects (a busybox without `-p`, an error text). Forbidden, timeout, a dropped connection or a stopped
 * container would fail the same way again, so they end the pod's census at once. A container that is not running
 * moves on to the pod's next running container (all containers share the network namespace). Within one `censusNode`,
 * a binary found missing in an image is not tried again in other pods of that image (`MissingTools`).
 */
import pLimit from 'p-limit';
import type { KubeConfig } from '@kubernetes/client-node';
import type { AddressClassifier } from '../analysis/ip.js';
import type { PodCensus, PodRef } from '../analysis/evidence.js';
import { podKey } from '../analysis/evidence.js';
import type { Degradation } from '../report/model.js';
import { parseNetstat } from '../parse/netstat.js';
import { parseProcNetTcp } from '../parse/proc-net-tcp.js';
import type { SocketDocument, SocketDocumentOptions } from '../parse/sockets.js';
import { parseSs } from '../parse/ss.js';
import type { Parsed } from '../parse/types.js';
import { execInPod } from './exec.js';
import type { ExecFailureKind, ExecFn, ExecResult } from './exec.js';

/** What the census needs to know of a pod (a subset of the pod snapshot of lib/k8s/pods.ts). */
export interface CensusPod extends PodRef {
  readonly hostNetwork: boolean;
  /** App containers in spec order; all share the pod's network namespace, so any running one will do. */
  readonly containers: ReadonlyArray<{ readonly name: string; readonly running: boolean; readonly image?: string }>;
}

export type CensusTool = 'netstat' | 'ss' | 'proc';

interface ToolEntry {
  readonly tool: CensusTool;
  /** Constant argv: nothing from a pod, a request or an alert ever goes in here. */
  readonly command: readonly string[];
  readonly parse: (text: string, options: SocketDocumentOptions) => Parsed<SocketDocument>;
}

/** The only commands the census ever runs in a pod, in the order they are tried. */
export const CENSUS_TOOLS: readonly ToolEntry[] = Object.freeze([
  Object.freeze({ tool: 'netstat', command: Object.freeze(['netstat', '-ptn']), parse: parseNetstat }),
  Object.freeze({ tool: 'ss', command: Object.freeze(['ss', '-tnp']), parse: parseSs }),
  Object.freeze({
    tool: 'proc',
    command: Object.freeze(['cat', '/proc/net/tcp', '/proc/net/tcp6']),
    parse: parseProcNetTcp,
  }),
] as const satisfies readonly ToolEntry[]);

const TOOL_BINARY: Record<CensusTool, string> = { netstat: 'netstat', ss: 'ss', proc: 'cat' };

/** `exec netstat -ptn`: the origin written next to a census (report data-quality notes). */
export const originOf = (command: readonly string[]): string => `exec ${command.join(' ')}`;

/** One exec of one tool. `rejected-output`: the command ran but its parser did not recognise what it printed. */
export interface CensusAttempt {
  readonly container: string;
  readonly tool: CensusTool;
  readonly outcome: 'ok' | 'rejected-output' | ExecFailureKind;
  readonly message?: string;
  readonly exitCode?: number;
  readonly elapsedMs: number;
}

export type CensusFailureKind = ExecFailureKind | 'rejected-output';

export interface ExecCensusResult {
  readonly pod: CensusPod;
  readonly source: 'exec';
  readonly tool: CensusTool;
  readonly container: string;
  readonly origin: string;
  readonly document: SocketDocument;
  readonly attempts: CensusAttempt[];
}

/** A hostNetwork pod: its sockets are the node's, counted once with the host census. */
export interface HostNetworkResult {
  readonly pod: CensusPod;
  readonly source: 'host-network';
}

/** Exec failed; the census was taken from the node through the pod's network namespace. */
export interface NodeCensusResult {
  readonly pod: CensusPod;
  readonly source: 'node-census';
  readonly netns: number;
  readonly origin: string;
  readonly document: SocketDocument;
  /** Why exec did not give the census (kept for the report). */
  readonly execFailure: { readonly failure: CensusFailureKind; readonly message: string };
  readonly attempts: CensusAttempt[];
}

export interface FailedCensusResult {
  readonly pod: CensusPod;
  readonly source: 'none';
  readonly failure: CensusFailureKind;
  readonly message: string;
  readonly attempts: CensusAttempt[];
}

export type PodCensusResult = ExecCensusResult | HostNetworkResult | NodeCensusResult | FailedCensusResult;

export interface CensusPodOptions {
  /** Per exec, handshake to exit status. */
  readonly timeoutMs?: number;
  /** Bound on one exec's stdout. */
  readonly maxOutputBytes?: number;
  readonly classifier?: AddressClassifier;
  /** Ports the pod listens on (e.g. its containerPorts): `netstat -ptn`/`ss -tnp` print no LISTEN rows. */
  readonly listeningPorts?: readonly number[] | ((pod: CensusPod) => readonly number[]);
  readonly signal?: AbortSignal;
  /** The exec seam; `execInPod` unless a caller wraps it (tests count concurrent execs through it). */
  readonly exec?: ExecFn;
  /** Tools known to be missing per image, shared by the pods of one census (`censusNode` makes one). */
  readonly missingTools?: MissingTools;
}

/**
 * Binaries an image was found to lack, by image reference. The replicas of a Deployment share their image, so once one
 * pod has shown that its image has no netstat, the others start at ss: on a node under SNAT pressure every exec is a
 * process start for the kubelet and the runtime, and a 250-pod node has many replicas. Only `no-such-binary` outcomes
 * are recorded; a tool that turns out to be missing anyway is still followed by the next one.
 */
export type MissingTools = Map<string, Set<CensusTool>>;

export interface CensusNodeOptions extends CensusPodOptions {
  /** Pods whose census runs at the same time. */
  readonly concurrency?: number;
}

export const DEFAULT_CENSUS_TIMEOUT_MS = 10_000;
/** 16 MiB: about 100 000 netstat rows, far beyond the 64 512 ports one destination can hold. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CENSUS_CONCURRENCY = 16;

/** Failures after which another tool is worth trying (the command can run, it just gave nothing usable). */
const TRY_NEXT_TOOL = new Set<CensusAttempt['outcome']>(['no-such-binary', 'rejected-output', 'non-zero-exit']);

function listeningPortsOf(pod: CensusPod, options: CensusPodOptions): readonly number[] | undefined {
  const ports = options.listeningPorts;
  return typeof ports === 'function' ? ports(pod) : ports;
}

function parseOptions(pod: CensusPod, options: CensusPodOptions): SocketDocumentOptions {
  const listeningPorts = listeningPortsOf(pod, options);
  return {
    ...(options.classifier ? { classifier: options.classifier } : {}),
    ...(listeningPorts ? { listeningPorts } : {}),
  };
}

/**
 * Reads one exec's output with the tool's parser. A non-zero exit still counts when the output parses: `cat` exits 1
 * on a node without IPv6 (/proc/net/tcp6 missing) after printing /proc/net/tcp in full.
 */
function readOutput(
  entry: ToolEntry,
  result: ExecResult,
  options: SocketDocumentOptions,
): { document: SocketDocument } | { rejected: string } | null {
  const stdout = result.ok ? result.stdout : result.failure === 'non-zero-exit' ? result.stdout : undefined;
  if (stdout === undefined) return null;
  const parsed = entry.parse(stdout, options);
  if (parsed.ok) return { document: parsed.value };
  return result.ok ? { rejected: parsed.problem.message } : null;
}

/** The failure that describes a pod whose attempts all failed. */
function overallFailure(attempts: readonly CensusAttempt[]): { failure: CensusFailureKind; message: string } {
  const last = attempts[attempts.length - 1];
  if (!last || last.outcome === 'ok') return { failure: 'error', message: 'no exec attempted' };
  if (attempts.every((a) => a.outcome === 'no-such-binary')) {
    const binaries = [...new Set(attempts.map((a) => TOOL_BINARY[a.tool]))].join(', ');
    const containers = [...new Set(attempts.map((a) => a.container))].join(', ');
    return { failure: 'no-such-binary', message: `none of ${binaries} is in the image (${containers})` };
  }
  // Prefer the most telling failure: a stop (forbidden, timeout...) or a tool that ran over a missing binary.
  const telling = [...attempts].reverse().find((a) => a.outcome !== 'no-such-binary') ?? last;
  return {
    failure: telling.outcome as CensusFailureKind,
    message: `${telling.tool} in ${telling.container}: ${telling.message ?? telling.outcome}`,
  };
}

/**
 * The census of one pod: each running container in turn (all share the network namespace; a sidecar may hold a tool
 * the app image lacks), each tool in turn, until one gives a document or a failure that would only repeat.
 */
export async function censusPod(
  kc: KubeConfig,
  pod: CensusPod,
  options: CensusPodOptions = {},
): Promise<PodCensusResult> {
  if (pod.hostNetwork) return { pod, source: 'host-network' };
  const running = pod.containers.filter((c) => c.running);
  if (running.length === 0) {
    return {
      pod,
      source: 'none',
      failure: 'container-not-running',
      message: pod.containers.length === 0 ? 'the pod has no containers' : 'no container of the pod is running',
      attempts: [],
    };
  }
  const exec = options.exec ?? execInPod;
  const parseWith = parseOptions(pod, options);
  const attempts: CensusAttempt[] = [];
  const missing = options.missingTools;
  let skippedByImage = false;
  for (const container of running) {
    const known = container.image ? missing?.get(container.image) : undefined;
    for (const entry of CENSUS_TOOLS) {
      if (known?.has(entry.tool)) {
        skippedByImage = true;
        continue;
      }
      const result = await exec(kc, {
        namespace: pod.namespace,
        pod: pod.name,
        container: container.name,
        command: entry.command,
        timeoutMs: options.timeoutMs ?? DEFAULT_CENSUS_TIMEOUT_MS,
        maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const read = readOutput(entry, result, parseWith);
      if (read && 'document' in read) {
        attempts.push({
          container: container.name,
          tool: entry.tool,
          outcome: 'ok',
          ...(result.ok
            ? {}
            : { message: result.message, ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}) }),
          elapsedMs: result.elapsedMs,
        });
        return {
          pod,
          source: 'exec',
          tool: entry.tool,
          container: container.name,
          origin: originOf(entry.command),
          document: read.document,
          attempts,
        };
      }
      const attempt: CensusAttempt = result.ok
        ? {
            container: container.name,
            tool: entry.tool,
            outcome: 'rejected-output',
            message: read && 'rejected' in read ? read.rejected : 'output rejected',
            elapsedMs: result.elapsedMs,
          }
        : {
            container: container.name,
            tool: entry.tool,
            outcome: result.failure,
            message: result.message,
            ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
            elapsedMs: result.elapsedMs,
          };
      attempts.push(attempt);
      if (attempt.outcome === 'no-such-binary' && container.image && missing) {
        const set = missing.get(container.image) ?? new Set<CensusTool>();
        set.add(entry.tool);
        missing.set(container.image, set);
      }
      // This container stopped (or was never started) since the pods were listed: another one may still run.
      if (attempt.outcome === 'container-not-running') break;
      if (!TRY_NEXT_TOOL.has(attempt.outcome)) return { pod, source: 'none', ...overallFailure(attempts), attempts };
    }
  }
  if (skippedByImage && attempts.every((a) => a.outcome === 'no-such-binary')) {
    const containers = running.map((c) => c.name).join(', ');
    return {
      pod,
      source: 'none',
      failure: 'no-such-binary',
      message: `none of netstat, ss, cat is in the image (${containers}; known from other pods of the same image)`,
      attempts,
    };
  }
  return { pod, source: 'none', ...overallFailure(attempts), attempts };
}

export interface CensusSummary {
  readonly pods: number;
  /** Pods whose census came from exec. */
  readonly exec: number;
  /** Pods filled from the node-side census of their network namespace. */
  readonly nodeCensus: number;
  /** hostNetwork pods: not exec'd, their sockets are the host's (counted once). */
  readonly hostNetwork: number;
  /** Pods without any census. */
  readonly failed: number;
  /** Why exec did not give a census, for every pod where it did not (filled or not). */
  readonly execFailures: Partial<Record<CensusFailureKind, number>>;
  /** Execs run, all attempts of all pods. */
  readonly execs: number;
  readonly elapsedMs: number;
  readonly concurrency: number;
}

export function summarizeCensus(
  results: readonly PodCensusResult[],
  elapsedMs: number,
  concurrency: number,
): CensusSummary {
  const execFailures: Partial<Record<CensusFailureKind, number>> = {};
  let exec = 0;
  let nodeCensus = 0;
  let hostNetwork = 0;
  let failed = 0;
  let execs = 0;
  for (const r of results) {
    if (r.source !== 'host-network') execs += r.attempts.length;
    switch (r.source) {
      case 'exec':
        exec++;
        break;
      case 'host-network':
        hostNetwork++;
        break;
      case 'node-census':
        nodeCensus++;
        execFailures[r.execFailure.failure] = (execFailures[r.execFailure.failure] ?? 0) + 1;
        break;
      case 'none':
        failed++;
        execFailures[r.failure] = (execFailures[r.failure] ?? 0) + 1;
        break;
    }
  }
  return { pods: results.length, exec, nodeCensus, hostNetwork, failed, execFailures, execs, elapsedMs, concurrency };
}

/**
 * The census of every pod, at most `concurrency` pods at a time, results in pod order. Never throws for a pod: every
 * pod ends as exec, host-network or a failure with its reason. An aborted signal ends the remaining pods as
 * `cancelled` without exec'ing them.
 */
export async function censusNode(
  kc: KubeConfig,
  pods: readonly CensusPod[],
  options: CensusNodeOptions = {},
): Promise<{ results: PodCensusResult[]; summary: CensusSummary }> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CENSUS_CONCURRENCY));
  const limit = pLimit(concurrency);
  const missingTools: MissingTools = options.missingTools ?? new Map<string, Set<CensusTool>>();
  const started = performance.now();
  const results = await Promise.all(
    pods.map((pod) =>
      limit(async (): Promise<PodCensusResult> => {
        if (options.signal?.aborted && !pod.hostNetwork) {
          return {
            pod,
            source: 'none',
            failure: 'cancelled',
            message: 'cancelled before the census started',
            attempts: [],
          };
        }
        try {
          return await censusPod(kc, pod, { ...options, missingTools });
        } catch (error) {
          // censusPod does not throw by design; a bug in a seam must not lose the other pods.
          return {
            pod,
            source: 'none',
            failure: 'error',
            message: error instanceof Error ? error.message : String(error),
            attempts: [],
          };
        }
      }),
    ),
  );
  return { results, summary: summarizeCensus(results, Math.round(performance.now() - started), concurrency) };
}

/**
 * Turns pods without a census into `node-census` entries where the node-side census (the capture log's per-netns
 * sections) has their network namespace; the others keep their failure for the report.
 */
export function fillFromNodeCensus(
  results: readonly PodCensusResult[],
  netnsOfPod: (pod: CensusPod) => number | null,
  nodeCensus: ReadonlyMap<number, SocketDocument>,
): PodCensusResult[] {
  return results.map((r): PodCensusResult => {
    if (r.source !== 'none') return r;
    const netns = netnsOfPod(r.pod);
    const document = netns === null ? undefined : nodeCensus.get(netns);
    if (netns === null || document === undefined) return r;
    return {
      pod: r.pod,
      source: 'node-census',
      netns,
      origin: `node census of netns ${netns}`,
      document,
      execFailure: { failure: r.failure, message: r.message },
      attempts: r.attempts,
    };
  });
}

const FAILURE_WORDS: Record<CensusFailureKind, string> = {
  'no-such-binary': 'no netstat, ss or cat in the image',
  forbidden: 'exec forbidden',
  'container-not-running': 'container not running',
  timeout: 'exec timed out',
  dropped: 'exec connection dropped',
  'non-zero-exit': 'census command failed',
  'output-too-large': 'census output over the size bound',
  cancelled: 'cancelled',
  error: 'exec error',
  'rejected-output': 'census output not recognised',
};

function listPods(pods: readonly CensusPod[], max = 5): string {
  const names = pods.slice(0, max).map(podKey);
  return pods.length > max ? `${names.join(', ')} and ${pods.length - max} more` : names.join(', ');
}

/**
 * The census as analysis evidence: one census per pod that has one, and one degradation line per failure kind that
 * says which pods were affected and whether the node-side census stood in for them.
 */
export function censusEvidence(results: readonly PodCensusResult[]): {
  censuses: PodCensus[];
  degraded: Degradation[];
} {
  const censuses: PodCensus[] = [];
  const byKind = new Map<CensusFailureKind, { pods: CensusPod[]; filled: number; example: string }>();
  for (const r of results) {
    if (r.source === 'exec' || r.source === 'node-census') {
      censuses.push({
        namespace: r.pod.namespace,
        name: r.pod.name,
        source: r.source === 'exec' ? 'exec' : 'node-census',
        origin: r.origin,
        document: r.document,
      });
    }
    if (r.source === 'node-census' || r.source === 'none') {
      const kind = r.source === 'none' ? r.failure : r.execFailure.failure;
      const message = r.source === 'none' ? r.message : r.execFailure.message;
      const entry = byKind.get(kind) ?? { pods: [], filled: 0, example: message };
      entry.pods.push(r.pod);
      if (r.source === 'node-census') entry.filled += 1;
      byKind.set(kind, entry);
    }
  }
  const degraded: Degradation[] = [];
  for (const [kind, { pods, filled, example }] of [...byKind].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const count = pods.length;
    const parts = [`${FAILURE_WORDS[kind]} for ${count} pod${count === 1 ? '' : 's'} (${listPods(pods)}): ${example}`];
    if (filled > 0) parts.push(`${filled} taken from the node-side census instead`);
    if (count - filled > 0) parts.push(`${count - filled} without any census`);
    degraded.push({ step: 'pod census', reason: parts.join('; ') });
  }
  return { censuses, degraded };
}
