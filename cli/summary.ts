/**
 * The ranked summary a terminal shows after `analyze` and `investigate`: who, toward what, how sure; the report files
 * have the rest.
 */
import type { Report } from '../lib/report/model.js';

const SUMMARY_PODS = 5;

function cell(value: number | null): string {
  return value === null ? '-' : String(value);
}

/** The short ranked summary for a terminal: who, toward what, how sure; the report has the rest. */
export function summarise(report: Report, written: { json: string; markdown?: string; html: string }): string {
  const lines: string[] = [];
  const { name, ip } = report.node;
  const nodeText = name && ip ? `${name} (${ip})` : (name ?? ip ?? 'unknown node');
  const { allocatedPorts, usedPorts } = report.snat;
  const ports =
    allocatedPorts === null
      ? 'allocated SNAT ports unknown'
      : `${allocatedPorts} allocated SNAT ports${usedPorts === null ? '' : `, ${usedPorts} used`}`;
  lines.push(`Node ${nodeText}: ${ports}; capture ${report.capture.status}.`);
  const verdict = report.findings[0];
  if (verdict) lines.push(`Verdict: ${verdict.text}`);
  lines.push('');

  const header = ['#', 'pod', 'score', 'est.pub.out', 'syn_sent', 'closing', 'conn/s', 'top destination'];
  const rows = report.pods.slice(0, SUMMARY_PODS).map((p) => {
    const top = p.topDestinations[0];
    const destination = top
      ? `${top.ip.includes(':') ? `[${top.ip}]` : top.ip}:${top.port} x${top.flows}` +
        (top.shareOfAllocated === null ? '' : ` (${(top.shareOfAllocated * 100).toFixed(1)}%)`)
      : '-';
    return [
      String(p.rank),
      `${p.namespace}/${p.name}`,
      p.score.toFixed(1),
      String(p.establishedPublicOutbound),
      String(p.synSentPublic),
      String(p.closingPublic),
      cell(p.connectsPerSecond),
      destination,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = new Set([0, 2, 3, 4, 5, 6]);
  const format = (row: string[]) =>
    row
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  lines.push(format(header), ...rows.map(format));
  if (report.pods.length > SUMMARY_PODS) lines.push(`(${report.pods.length - SUMMARY_PODS} more in the report)`);
  if (report.pods.length === 0) lines.push('(no pods in the evidence)');
  lines.push('');
  const notes = report.dataQuality.length;
  if (notes > 0) lines.push(`${notes} data-quality note${notes === 1 ? '' : 's'}: see the report.`);
  lines.push(`Report: ${written.json}`);
  if (written.markdown) lines.push(`        ${written.markdown}`);
  lines.push(`        ${written.html}`);
  return lines.join('\n') + '\n';
}
