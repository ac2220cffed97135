/**
 * `crictl inspectp <id>...` (FORMATS.md section 9): the pod sandbox behind a network namespace. One ID prints a JSON
 * object `{"info":{...},"status":{...}}`, several IDs print an array of them, and `crictl inspectp a; crictl inspectp b`
 * writes objects one after another; all three are read.
 *
 * Sandboxes are numbered 1, 2, ... in input order (array elements flattened); a `skipped` entry's `line` is that
 * 1-based sandbox number, not a text line, because one sandbox spans dozens of lines.
 */
import { z } from 'zod';
import { canonicalAddress } from '../analysis/ip.js';
import { fieldPath, oneLine, parseJsonValues, quote } from './json.js';
import { accept, reject } from './types.js';
import type { CrictlDocument, Parsed, SandboxInfo, SkippedLine } from './types.js';

/** CRI NamespaceMode: protobuf JSON prints names, but a numeric enum (NODE = 2) is the same thing. */
const namespaceMode = z.union([z.string(), z.number()]);

const sandboxSchema = z.object({
  status: z.object({
    id: z.string().min(1),
    metadata: z.object({ name: z.string(), namespace: z.string(), uid: z.string() }),
    state: z.string(),
    network: z.object({ ip: z.string().nullish() }).nullish(),
    linux: z
      .object({
        namespaces: z.object({ options: z.object({ network: namespaceMode.nullish() }).nullish() }).nullish(),
      })
      .nullish(),
  }),
  info: z
    .object({
      pid: z.number().int().nullish(),
      netNamespaceClosed: z.boolean().nullish(),
      runtimeSpec: z
        .object({
          linux: z
            .object({ namespaces: z.array(z.object({ type: z.string(), path: z.string().nullish() })).nullish() })
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
});

const FAILURE = /^(?:(?:FATA|ERRO)\[\d+\]|time="[^"]*"\s+level=(?:fatal|error)|level=(?:fatal|error)\b|E\d{4} )/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  const line = text.trimStart().split('\n', 1)[0] ?? '';
  return line.replace(/\r$/, '');
}

type Outcome = { pod: SandboxInfo } | { reason: string };

function readSandbox(element: unknown): Outcome {
  const parsed = sandboxSchema.safeParse(element);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? fieldPath(issue.path) : '';
    return { reason: `not a pod sandbox: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}` };
  }
  const { status, info } = parsed.data;
  const label = `sandbox ${status.id} (${status.metadata.namespace}/${status.metadata.name})`;
  if (info?.netNamespaceClosed === true) return { reason: `${label}: network namespace closed (stopped sandbox)` };
  const mode = status.linux?.namespaces?.options?.network;
  const hostNetwork = mode === 'NODE' || mode === 2;
  const rawIp = status.network?.ip ?? '';
  let ip: string | null = null;
  if (rawIp !== '') {
    ip = canonicalAddress(rawIp);
    if (ip === null) return { reason: `${label}: status.network.ip ${quote(rawIp)} is not an IP address` };
  }
  const netns = info?.runtimeSpec?.linux?.namespaces?.find((ns) => ns.type === 'network')?.path;
  return {
    pod: {
      id: status.id,
      name: status.metadata.name,
      namespace: status.metadata.namespace,
      uid: status.metadata.uid,
      ip,
      hostNetwork,
      // Host-network sandboxes share the node's namespace: there is no pod netns file to map.
      netnsPath: hostNetwork || !netns ? null : netns,
      pid: info?.pid !== undefined && info.pid !== null && info.pid > 0 ? info.pid : null,
      ready: status.state === 'SANDBOX_READY',
    },
  };
}

/** Parses `crictl inspectp` JSON output. Rejects empty input, crictl's own error messages and invalid JSON. */
export function parseCrictlInspectp(text: string): Parsed<CrictlDocument> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim().length === 0) return reject({ code: 'empty', message: 'empty input: expected crictl inspectp JSON' });
  const head = firstLine(body);
  if (!/^[[{]/.test(head)) {
    const line = body.slice(0, body.indexOf(head)).split('\n').length;
    if (FAILURE.test(head)) {
      return reject({
        code: 'tool-error',
        message: `crictl failed instead of printing JSON: ${oneLine(head)}`,
        line,
      });
    }
    return reject({ code: 'not-crictl', message: `not crictl inspectp JSON: starts with ${quote(head)}`, line });
  }
  const values = parseJsonValues(body, 'crictl inspectp output');
  if (!values.ok) return values;

  const elements: unknown[] = [];
  for (const { value } of values.value) {
    if (Array.isArray(value)) elements.push(...(value as unknown[]));
    else elements.push(value);
  }
  if (elements.length > 0 && !elements.some((e) => isRecord(e) && isRecord(e.status))) {
    return reject({
      code: 'not-crictl',
      message: 'not crictl inspectp output: no element has a "status" object',
      line: values.value[0]?.line ?? 1,
    });
  }
  const pods: SandboxInfo[] = [];
  const skipped: SkippedLine[] = [];
  elements.forEach((element, index) => {
    const outcome = readSandbox(element);
    if ('pod' in outcome) pods.push(outcome.pod);
    else skipped.push({ line: index + 1, reason: outcome.reason });
  });
  return accept({ format: 'crictl-inspectp', pods, skipped });
}

/** Sniffer for `analyze`: sandbox JSON, not container JSON (`crictl inspect`) or another document. */
export function looksLikeCrictlInspectp(head: string): boolean {
  const text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  if (!/^\s*[[{]/.test(text)) return false;
  if (/"(?:sandboxID|CONTAINER_[A-Z]+)"/.test(text) || /"schemaId"\s*:/.test(text)) return false;
  // `info` sorts first and can fill the head: its PodSandboxConfig keys (log_directory, dns_config) count too.
  return /"(?:SANDBOX_READY|SANDBOX_NOTREADY|netNamespaceClosed|cniResult|log_directory|dns_config)"/.test(text);
}
