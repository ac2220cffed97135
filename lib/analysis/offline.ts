/**
 * Reads a folder of files captured by hand (the folder convention is documented at the top of cli/analyze.ts) into
 * NodeEvidence. Formats are detected from content; a file that is not what its place says, or that its parser
 * rejects, is a bad input naming the file (and line). Skipped lines are data-quality notes, never errors.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Dirent } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { badInput, usageError } from '../errors.js';
import { dimensionOf, parseAlert, snatMetricOf } from '../parse/alert.js';
import { parseJsonText } from '../parse/json.js';
import { parseCrictlInspectp } from '../parse/crictl.js';
import { HEAD_BYTES, detectFormat } from '../parse/detect.js';
import type { Format } from '../parse/index.js';
import { parseLsns } from '../parse/lsns.js';
import { parseNetstat } from '../parse/netstat.js';
import { parseProcNetTcp } from '../parse/proc-net-tcp.js';
import { parseSs } from '../parse/ss.js';
import type { SocketDocument, SocketDocumentOptions } from '../parse/sockets.js';
import { parseTcptracerStream } from '../parse/tcptracer.js';
import { describeProblem } from '../parse/types.js';
import type { AlertDocument, LsnsEntry, Parsed, SandboxInfo, TcptracerCapture } from '../parse/types.js';
import type { DataQualityNote } from '../report/model.js';
import { withPrivateCidrs } from './classifier.js';
import type { CaptureEvidence, NodeEvidence, PodCensus, PodEvidence, SocketCensus, SnatMetrics } from './evidence.js';
import { canonicalAddress, invalidCidrs } from './ip.js';
import type { AddressClassifier } from './ip.js';
import { buildNetnsMap } from './netns.js';
import { mergePods, podsFromKubectl } from './pods.js';

/** Files analyze writes itself (by default into the folder it reads) and files that are never evidence. */
const IGNORED = /^(?:\.|readme)|^report\.(?:json|md|html)$/i;
const CENSUS_FORMATS: ReadonlySet<Format> = new Set<Format>(['netstat', 'ss', 'proc-net-tcp']);
/** Whole-file reads are bounded; tcptracer captures are streamed and may be larger. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export interface OfflineOptions {
  readonly classifier: AddressClassifier;
  /** The node's allocated SNAT ports from the command line; wins over node.json and the alert. */
  readonly allocatedPorts?: number;
}

export interface OfflineFile {
  /** Path relative to the folder, with `/`. */
  readonly path: string;
  /** What the file was read as. */
  readonly role: 'node' | 'pods' | Format;
}

export interface OfflineFolder {
  readonly evidence: NodeEvidence;
  /** `offline-` + 16 hex of a hash over every evidence file's path and content: stable for the same folder. */
  readonly investigationId: string;
  readonly alert: AlertDocument | null;
  readonly files: OfflineFile[];
}

function unwrap<T>(path: string, parsed: Parsed<T>): T {
  if (!parsed.ok) throw badInput(describeProblem(path, parsed.problem));
  return parsed.value;
}

const nodeSchema = z.strictObject({
  name: z.string().min(1).optional(),
  ip: z
    .string()
    .refine((v) => canonicalAddress(v) !== null, 'not an IP address')
    .optional(),
  allocatedPorts: z.number().int().nonnegative().nullable().optional(),
  usedPorts: z.number().int().nonnegative().nullable().optional(),
  failedConnections: z.number().int().nonnegative().nullable().optional(),
  privateCidrs: z
    .array(z.string())
    .refine((list) => invalidCidrs(list).length === 0, 'not a CIDR')
    .optional(),
});
type NodeFile = z.infer<typeof nodeSchema>;

type EntryKind = 'file' | 'folder' | 'other';

/** Symbolic links are followed (captures are often linked in); a dangling one is a file that cannot be read. */
async function kindOf(dir: string, entry: Dirent): Promise<EntryKind> {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'folder';
  if (!entry.isSymbolicLink()) return 'other';
  try {
    const target = await stat(join(dir, entry.name));
    return target.isFile() ? 'file' : target.isDirectory() ? 'folder' : 'other';
  } catch {
    return 'file';
  }
}

async function entries(dir: string, rel: string): Promise<Array<{ name: string; kind: EntryKind }>> {
  let list: Dirent[];
  try {
    list = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    return failure(rel, e);
  }
  const out: Array<{ name: string; kind: EntryKind }> = [];
  for (const entry of list) {
    if (!IGNORED.test(entry.name)) out.push({ name: entry.name, kind: await kindOf(dir, entry) });
  }
  return out;
}

async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await entries(dir, '.')) {
    if (entry.kind === 'file') files.push(entry.name);
    else if (entry.kind === 'folder' && entry.name === 'pods') {
      for (const ns of await entries(join(dir, 'pods'), 'pods')) {
        if (ns.kind === 'file') throw badInput(`pods/${ns.name}: pod censuses go in pods/<namespace>/<pod>.txt`);
        if (ns.kind !== 'folder') continue;
        for (const file of await entries(join(dir, 'pods', ns.name), `pods/${ns.name}`)) {
          if (file.kind === 'file') files.push(`pods/${ns.name}/${file.name}`);
        }
      }
    }
  }
  return files.sort();
}

function failure(path: string, e: unknown): never {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  throw badInput(`${path}: cannot read${code ? ` (${code})` : ''}`);
}

async function sha256OfFile(path: string, rel: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (e) {
    failure(rel, e);
  }
  return hash.digest('hex');
}

async function readHead(path: string, rel: string): Promise<string> {
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    return failure(rel, e);
  }
}

async function readText(path: string, rel: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    return failure(rel, e);
  }
  if (info.size > MAX_FILE_BYTES) throw badInput(`${rel}: over ${MAX_FILE_BYTES / 1024 / 1024} MB`);
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    return failure(rel, e);
  }
}

function readJson(rel: string, text: string): unknown {
  return unwrap(rel, parseJsonText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, rel));
}

function parseNode(rel: string, text: string): NodeFile {
  const parsed = nodeSchema.safeParse(readJson(rel, text));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw badInput(`${rel}: ${issue?.message ?? 'invalid'}${field ? ` (field ${field})` : ''}`);
}

function parseCensus(format: Format, text: string, options: SocketDocumentOptions): Parsed<SocketDocument> {
  if (format === 'ss') return parseSs(text, options);
  if (format === 'proc-net-tcp') return parseProcNetTcp(text, options);
  return parseNetstat(text, options);
}

/** The pod a census file belongs to: `pods/<namespace>/<pod>.<ext>` (the name up to the last dot). */
function podOfFile(rel: string): { namespace: string; name: string } {
  const [, namespace = '', file = ''] = rel.split('/');
  const dot = file.lastIndexOf('.');
  return { namespace, name: dot > 0 ? file.slice(0, dot) : file };
}

const notesOfSkipped = (
  source: string,
  skipped: ReadonlyArray<{ line: number; reason: string }>,
): DataQualityNote[] => {
  const first = skipped[0];
  return first
    ? [{ source, text: `lines skipped (first: line ${first.line}: ${first.reason})`, count: skipped.length }]
    : [];
};

/** SNAT metric values the alert carries for this node, to fill what node.json does not say. */
function snatFromAlert(alert: AlertDocument, nodeIp: string | null): Partial<Record<keyof SnatMetrics, number>> {
  const found: Partial<Record<keyof SnatMetrics, number>> = {};
  for (const condition of alert.conditions) {
    const metric = snatMetricOf(condition.metricName);
    const backend = dimensionOf(condition, 'BackendIPAddress');
    if (metric === null || condition.metricValue === null) continue;
    if (backend !== undefined && nodeIp !== null && canonicalAddress(backend) !== nodeIp) continue;
    const value = Math.round(condition.metricValue);
    if (metric === 'AllocatedSnatPorts') found.allocatedPorts ??= value;
    else if (metric === 'UsedSnatPorts') found.usedPorts ??= value;
    else if (dimensionOf(condition, 'ConnectionState')?.toLowerCase() === 'failed') found.failedConnections ??= value;
  }
  return found;
}

export async function readEvidenceFolder(dir: string, options: OfflineOptions): Promise<OfflineFolder> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw usageError(`${dir}: no such folder`);
  }
  if (!info.isDirectory()) throw usageError(`${dir}: not a folder`);

  const paths = await listFiles(dir);
  const hash = createHash('sha256');
  const files: OfflineFile[] = [];
  const notes: DataQualityNote[] = [];

  let node: NodeFile = {};
  if (paths.includes('node.json')) {
    node = parseNode('node.json', await readText(join(dir, 'node.json'), 'node.json'));
  }
  const classifier = withPrivateCidrs(options.classifier, node.privateCidrs ?? []);
  const nodeIp = node.ip === undefined ? null : canonicalAddress(node.ip);

  let kubectlPods: PodEvidence[] = [];
  const lsns: LsnsEntry[] = [];
  const sandboxes: SandboxInfo[] = [];
  let alert: AlertDocument | null = null;
  let capture: { rel: string; value: TcptracerCapture } | null = null;
  const hostFiles: Array<{ rel: string; format: Format; text: string }> = [];
  const podFiles: Array<{ rel: string; format: Format; text: string }> = [];

  for (const rel of paths) {
    const full = join(dir, rel);
    hash.update(`${rel}\0${await sha256OfFile(full, rel)}\n`);
    if (rel === 'node.json') {
      files.push({ path: rel, role: 'node' });
      continue;
    }
    if (rel === 'pods.json') {
      const read = unwrap(rel, podsFromKubectl(readJson(rel, await readText(full, rel)), node.name ?? null));
      kubectlPods = read.pods;
      if (read.invalidIps.length > 0) {
        notes.push({
          source: rel,
          text: `pod IPs that are not IP addresses (ignored): ${read.invalidIps.join(', ')}`,
          count: read.invalidIps.length,
        });
      }
      files.push({ path: rel, role: 'pods' });
      continue;
    }
    const format = detectFormat(await readHead(full, rel), rel);
    if (rel.startsWith('pods/')) {
      if (format === null || !CENSUS_FORMATS.has(format)) {
        throw badInput(
          `${rel}: ${format === null ? 'format not recognised' : `is ${format} output`}; expected netstat, ss or /proc/net/tcp output of the pod`,
        );
      }
      podFiles.push({ rel, format, text: await readText(full, rel) });
      files.push({ path: rel, role: format });
      continue;
    }
    if (format === null) {
      throw badInput(
        `${rel}: format not recognised; expected tcptracer, lsns, crictl inspectp or alert output, or a census named host.*`,
      );
    }
    files.push({ path: rel, role: format });
    if (CENSUS_FORMATS.has(format)) {
      if (!/^host(?:\.|$)/.test(rel)) {
        throw badInput(
          `${rel}: ${format} output at the top of the folder: name the node's census host.txt, put a pod's in pods/<namespace>/<pod>.txt`,
        );
      }
      hostFiles.push({ rel, format, text: await readText(full, rel) });
    } else if (format === 'tcptracer') {
      if (capture)
        throw badInput(`${rel}: a second tcptracer capture (the first is ${capture.rel}); keep one per node`);
      const parsed = await parseTcptracerStream(createReadStream(full), { classifier });
      capture = { rel, value: unwrap(rel, parsed) };
    } else if (format === 'lsns') {
      const doc = unwrap(rel, parseLsns(await readText(full, rel)));
      lsns.push(...doc.entries);
      notes.push(...notesOfSkipped(rel, doc.skipped));
    } else if (format === 'crictl-inspectp') {
      const doc = unwrap(rel, parseCrictlInspectp(await readText(full, rel)));
      sandboxes.push(...doc.pods);
      notes.push(...notesOfSkipped(rel, doc.skipped));
    } else {
      if (alert) throw badInput(`${rel}: a second alert payload; keep one`);
      alert = unwrap(rel, parseAlert(await readFile(full)));
    }
  }

  const censusOf = (file: { rel: string; format: Format; text: string }, listeningPorts: number[]): SocketCensus => ({
    source: 'file',
    origin: file.rel,
    document: unwrap(file.rel, parseCensus(file.format, file.text, { classifier, listeningPorts })),
  });
  // tcp and tcp6 of one pod in two files: LISTEN rows of one tell the direction of the other's connections.
  const censusesOfGroup = (group: Array<{ rel: string; format: Format; text: string }>): SocketCensus[] => {
    const first = group.map((f) => censusOf(f, []));
    if (first.length < 2) return first;
    const listening = new Set<number>();
    for (const c of first) {
      for (const s of c.document.sockets) {
        if (s.state === 'LISTEN') listening.add(Number(s.local.slice(s.local.lastIndexOf(':') + 1)));
      }
    }
    return listening.size === 0
      ? first
      : group.map((f) =>
          censusOf(
            f,
            [...listening].sort((a, b) => a - b),
          ),
        );
  };
  const byPod = new Map<string, Array<{ rel: string; format: Format; text: string }>>();
  for (const file of podFiles) {
    const { namespace, name } = podOfFile(file.rel);
    const key = `${namespace}/${name}`;
    byPod.set(key, [...(byPod.get(key) ?? []), file]);
  }
  const censuses: PodCensus[] = [];
  for (const group of byPod.values()) {
    const { namespace, name } = podOfFile(group[0]?.rel ?? '');
    for (const census of censusesOfGroup(group)) censuses.push({ namespace, name, ...census });
  }
  const hostCensuses = censusesOfGroup(hostFiles);

  const netns = buildNetnsMap(lsns, sandboxes);
  const pods = mergePods(kubectlPods, sandboxes, netns);

  const ip = nodeIp ?? (alert?.nodeIps.length === 1 ? (alert.nodeIps[0] ?? null) : null);
  const fromAlert = alert ? snatFromAlert(alert, ip) : {};
  if (
    options.allocatedPorts !== undefined &&
    typeof node.allocatedPorts === 'number' &&
    node.allocatedPorts !== options.allocatedPorts
  ) {
    notes.push({
      source: 'node.json',
      text: `allocatedPorts ${node.allocatedPorts} overridden by --allocated-ports ${options.allocatedPorts}`,
      count: 1,
    });
  }
  const snat: SnatMetrics = {
    allocatedPorts: options.allocatedPorts ?? node.allocatedPorts ?? fromAlert.allocatedPorts ?? null,
    usedPorts: node.usedPorts ?? fromAlert.usedPorts ?? null,
    failedConnections: node.failedConnections ?? fromAlert.failedConnections ?? null,
  };

  let captureEvidence: CaptureEvidence = { status: 'missing', capture: null, durationSeconds: null, origin: null };
  if (capture) {
    const value: TcptracerCapture = capture.value;
    captureEvidence = {
      // Offline nothing says the capture stopped early: a cut last line is how `timeout` ends every capture, and lost
      // events are counted on their own.
      status: 'complete',
      capture: value,
      durationSeconds: null,
      origin: capture.rel,
    };
  }

  const evidence: NodeEvidence = {
    node: { name: node.name ?? null, ip },
    // When the files were captured is not in them (the alert's window is when the metric fired, not the capture).
    window: { start: null, end: null },
    pods,
    censuses,
    hostCensuses,
    capture: captureEvidence,
    netns,
    snat,
    privateCidrs: node.privateCidrs ?? [],
    degraded: [],
    notes,
  };
  return { evidence, investigationId: `offline-${hash.digest('hex').slice(0, 16)}`, alert, files };
}
