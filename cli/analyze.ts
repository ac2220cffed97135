/**
 * `snat-responder analyze <dir>`: rank the pods of one node from files captured by hand with the article's commands.
 *
 * analyze: the folder convention
 * ------------------------------
 *   <dir>/node.json                     optional. What you know about the node:
 *                                       {"name": "aks-nodepool1-12345678-vmss000002", "ip": "10.224.0.4",
 *                                        "allocatedPorts": 1024, "usedPorts": 1000, "failedConnections": 37,
 *                                        "privateCidrs": ["10.0.0.0/8"]}
 *                                       (every key optional, no others; privateCidrs add to --private-cidrs;
 *                                       --allocated-ports wins over allocatedPorts).
 *   <dir>/pods.json                     optional. `kubectl get pods -A -o json --field-selector spec.nodeName=<node>`:
 *                                       maps pod IPs to pods and gives owners (Deployment/api) and hostNetwork.
 *                                       Pods of other nodes are dropped when node.json names the node.
 *   <dir>/<any name>                    optional, any of these, recognised by content (not by name):
 *                                         tcptracer output, bcc (`tcptracer -t4v`) or libbpf-tools; at most one;
 *                                         `lsns -t net` output (any columns, or -J);
 *                                         `crictl inspectp <pod ids...>` JSON (one or more files);
 *                                         the Azure Monitor alert payload (node IP and SNAT metrics when
 *                                         node.json does not give them).
 *   <dir>/host.<ext>                    optional. The node's own census (`netstat -tanp`, `ss -tanp`,
 *                                       `cat /proc/net/tcp /proc/net/tcp6` on the node): hostNetwork pods' sockets.
 *                                       host.tcp + host.tcp6 (any names starting with `host.`) are read together.
 *   <dir>/pods/<namespace>/<pod>.<ext>  the census of one pod: `netstat -ptn` (better `netstat -ptnW`), `ss -tnp`,
 *                                       or `cat /proc/net/tcp /proc/net/tcp6` (from the node:
 *                                       `cat /proc/<pid>/net/tcp{,6}`, no tool needed in the pod). The pod name is
 *                                       the file name up to its last dot, so `api-1.tcp` and `api-1.tcp6` are one pod.
 *
 * Ignored: hidden files, README*, report.{json,md,html} (analyze writes these, into the folder unless --out), and
 * folders other than pods/. Every other file must be recognised and accepted by its parser: otherwise exit 3 with
 * the file (and line). Lines a parser skips become data-quality notes in the report.
 *
 * Writes report.json, report.md and report.html into --out and prints a ranked summary (or the report JSON with
 * --json). The investigation id is derived from the folder's content, so the same folder gives the same report;
 * generatedAt is the clock's time (SNAT_RESPONDER_NOW=<ISO 8601> pins it, for reproducible reports and tests).
 */
import { basename, resolve } from 'node:path';
import { buildReport } from '../lib/analysis/build-report.js';
import type { AddressClassifier } from '../lib/analysis/ip.js';
import { readEvidenceFolder } from '../lib/analysis/offline.js';
import { usageError } from '../lib/errors.js';
import { writeReportFiles } from '../lib/report/files.js';
import { renderJson } from '../lib/report/json.js';
import type { CliIo } from './main.js';
import { summarise } from './summary.js';

export interface AnalyzeOptions {
  readonly dir: string;
  readonly out: string;
  readonly classifier: AddressClassifier;
  readonly allocatedPorts?: number;
  readonly json: boolean;
  /** The clock; defaults to SNAT_RESPONDER_NOW when set, else the current time. */
  readonly now?: () => Date;
}

export const NOW_VARIABLE = 'SNAT_RESPONDER_NOW';

function clockFromEnvironment(): () => Date {
  const pinned = process.env[NOW_VARIABLE];
  if (pinned === undefined || pinned === '') return () => new Date();
  const time = Date.parse(pinned);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(pinned) || Number.isNaN(time)) {
    throw usageError(`${NOW_VARIABLE}: '${pinned}' is not an ISO 8601 time (e.g. 2025-01-31T12:00:00Z)`);
  }
  return () => new Date(time);
}

export async function runAnalyze(opts: AnalyzeOptions, io: CliIo): Promise<void> {
  const now = opts.now ?? clockFromEnvironment();
  const folder = await readEvidenceFolder(opts.dir, {
    classifier: opts.classifier,
    ...(opts.allocatedPorts !== undefined ? { allocatedPorts: opts.allocatedPorts } : {}),
  });
  const report = buildReport(folder.evidence, {
    investigationId: folder.investigationId,
    generatedAt: now().toISOString(),
    // The folder's name, not its path: the same captures give the same report wherever they sit.
    trigger: {
      kind: 'offline',
      source: basename(resolve(opts.dir)),
      ...(folder.alert ? { alertId: folder.alert.alertId } : {}),
    },
  });
  const written = await writeReportFiles(report, opts.out);
  io.stdout(opts.json ? renderJson(report) : summarise(report, written));
}
