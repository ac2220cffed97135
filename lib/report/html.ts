/**
 * report.html: one self-contained HTML5 file. Inline CSS and hand-built SVG only: no script, no external asset, no
 * web font, and a Content-Security-Policy that forbids loading anything, so the file reads the same offline, from
 * Blob Storage, in a mail attachment or printed. Every string from the cluster is entity-escaped.
 */
import { CSS } from './css.js';
import { escapeHtml as esc } from './escape.js';
import {
  NOTHING,
  appliesTo,
  artifactList,
  clusterLabel,
  evidenceValue,
  findingsBySeverity,
  isLinkable,
  labelled,
  nodeLabel,
  timestamp,
  triggerText,
  verdict,
  windowText,
  worstSeverity,
} from './format.js';
import type { Part } from './format.js';
import type { Report } from './model.js';
import { destinationsChart, podsChart, snatGauge } from './svg.js';
import { captureTable, dataQualityTable, destinationsTable, podsTable, scoreTable, snatTable } from './tables.js';
import type { Column, Flag, Inline, Table } from './tables.js';

export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

function parts(ps: readonly Part[]): string {
  return ps
    .map((p) =>
      'code' in p ? `<code>${esc(p.code)}</code>` : 'strong' in p ? `<strong>${esc(p.strong)}</strong>` : esc(p.text),
    )
    .join('');
}

const code = (s: string) => `<code>${esc(s)}</code>`;
const none = (text: string) => `<p class="none">${esc(text)}</p>`;

const FLAG_CLASS: Record<Flag, string> = { hostNetwork: 'host' };

function inline(piece: Inline): string {
  // Names in narrow columns may wrap after a `/` (`namespace/<wbr>pod`, `Deployment/<wbr>name`).
  if ('code' in piece)
    return piece.wrap ? `<code>${esc(piece.code).replace(/\//g, '/<wbr>')}</code>` : code(piece.code);
  if ('figure' in piece) return piece.muted ? `<span class="muted">${esc(piece.figure)}</span>` : esc(piece.figure);
  if ('flag' in piece) return `<span class="badge ${FLAG_CLASS[piece.flag]}">${esc(piece.flag)}</span>`;
  return esc(piece.text);
}

function cellClass(c: Column | undefined): string {
  const names = [c?.align === 'right' ? 'num' : '', c?.holds ?? ''].filter((x) => x.length > 0);
  return names.length > 0 ? ` class="${names.join(' ')}"` : '';
}

const cell = (pieces: readonly Inline[]) => pieces.map(inline).join(' ');

/** A table with a header row, under its caption as an `<h3>`, with the note on hidden rows after it. */
function table(t: Table): string {
  const head = t.columns.map((c) => `<th scope="col"${cellClass(c)}>${esc(c.header)}</th>`).join('');
  const body = t.rows
    .map((row, i) => {
      const top = t.highlightFirst && i === 0 ? ' class="top"' : '';
      return `<tr${top}>${row.map((c, j) => `<td${cellClass(t.columns[j])}>${cell(c)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return [
    ...(t.caption === null ? [] : [`<h3>${parts(t.caption)}</h3>`]),
    `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`,
    ...(t.more === null ? [] : [`<p class="muted">${esc(t.more)}</p>`]),
  ].join('\n');
}

/** A short two-column table read row by row: each row's first cell heads it, and there is no header row. */
function keyValueTable(t: Table): string {
  const rows = t.rows.map((row) => {
    const [key = [], ...values] = row;
    const tds = values.map((c, j) => `<td${cellClass(t.columns[j + 1])}>${cell(c)}</td>`).join('');
    return `<tr><th scope="row"${cellClass(t.columns[0])}>${cell(key)}</th>${tds}</tr>`;
  });
  return `<div class="table-wrap"><table class="kv"><tbody>${rows.join('')}</tbody></table></div>`;
}

function headerHtml(report: Report): string {
  const { name, ip } = report.node;
  const nodeHtml =
    name !== null
      ? code(name) + (ip !== null ? ` <span class="muted">(${code(ip)})</span>` : '')
      : ip !== null
        ? code(ip)
        : 'unknown';
  const cluster = clusterLabel(report);
  const meta: Array<[string, string]> = [
    ['Cluster', cluster === null ? 'unknown' : code(cluster)],
    ['Window', esc(windowText(report))],
    ['Trigger', esc(triggerText(report))],
    ['Investigation', code(report.investigationId)],
    ['Generated', esc(timestamp(report.generatedAt))],
  ];
  return (
    '<header>\n<p class="eyebrow">snat-responder · SNAT port exhaustion report</p>\n' +
    `<h1>SNAT investigation: node ${nodeHtml}</h1>\n<dl class="meta">` +
    meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('') +
    '</dl>\n</header>'
  );
}

function verdictHtml(report: Report): string {
  // With no findings, a report that lost steps still deserves attention.
  const sev = worstSeverity(report.findings) ?? (report.degraded.length > 0 ? 'warning' : null);
  return (
    `<section id="verdict" class="verdict${sev ? ` sev-${sev}` : ''}">\n<h2>Verdict</h2>\n` +
    `<p>${parts(verdict(report))}</p>\n</section>`
  );
}

function snatHtml(report: Report): string {
  return (
    '<section id="snat">\n<h2>SNAT ports</h2>\n' +
    `<figure class="figure">${snatGauge(report)}</figure>\n` +
    `${keyValueTable(snatTable(report))}\n</section>`
  );
}

function podsHtml(report: Report): string {
  const out = ['<section id="pods">', '<h2>Ranked pods</h2>', `<figure class="figure">${podsChart(report)}</figure>`];
  // Without pods the chart already says there is no data.
  const pods = podsTable(report);
  const score = scoreTable(report);
  if (pods !== null) out.push(table(pods));
  if (score !== null) out.push(table(score));
  out.push('</section>');
  return out.join('\n');
}

function destinationsHtml(report: Report): string {
  const out = [
    '<section id="destinations">',
    '<h2>Top public destinations (whole node)</h2>',
    `<figure class="figure">${destinationsChart(report)}</figure>`,
  ];
  const destinations = destinationsTable(report);
  if (destinations !== null) out.push(table(destinations));
  out.push('</section>');
  return out.join('\n');
}

function findingsHtml(report: Report): string {
  const groups = findingsBySeverity(report.findings);
  if (groups.length === 0) return `<section id="findings">\n<h2>Findings</h2>\n${none(NOTHING.findings)}\n</section>`;
  const items = groups.flatMap((g) =>
    g.items.map((f) => {
      const evidence = Object.entries(f.evidence);
      const ev =
        evidence.length > 0
          ? `<p class="evidence">Evidence: ${evidence.map(([k, v]) => `${code(k)} = ${code(evidenceValue(v))}`).join(', ')}</p>`
          : '';
      return `<li class="${f.severity}"><span class="badge ${f.severity}">${f.severity}</span> ${esc(f.text)}${ev}</li>`;
    }),
  );
  return `<section id="findings">\n<h2>Findings</h2>\n<ul class="findings">\n${items.join('\n')}\n</ul>\n</section>`;
}

function recommendationsHtml(report: Report): string {
  if (report.recommendations.length === 0) {
    return `<section id="recommendations">\n<h2>Recommendations</h2>\n${none(NOTHING.recommendations)}\n</section>`;
  }
  const items = report.recommendations.map(
    (r) => `<li>${parts(labelled(r.title, r.text))}<br><span class="applies">${parts(appliesTo(r))}</span></li>`,
  );
  return `<section id="recommendations">\n<h2>Recommendations</h2>\n<ol class="recs">\n${items.join('\n')}\n</ol>\n</section>`;
}

function qualityHtml(report: Report): string {
  const notes = dataQualityTable(report);
  return [
    '<section id="data-quality">',
    '<h2>Capture and data quality</h2>',
    keyValueTable(captureTable(report)),
    notes === null ? none(NOTHING.dataQuality) : table(notes),
    '</section>',
  ].join('\n');
}

function degradedHtml(report: Report): string {
  if (report.degraded.length === 0) {
    return `<section id="degraded">\n<h2>Degraded steps</h2>\n<p>${NOTHING.degraded}</p>\n</section>`;
  }
  const items = report.degraded.map((d) => `<li>${parts(labelled(d.step, d.reason))}</li>`);
  return `<section id="degraded">\n<h2>Degraded steps</h2>\n<ul class="degraded">\n${items.join('\n')}\n</ul>\n</section>`;
}

function artifactsHtml(report: Report): string {
  const items = artifactList(report);
  if (items.length === 0) {
    return `<section id="artifacts">\n<h2>Artifacts</h2>\n${none(NOTHING.artifacts)}\n</section>`;
  }
  const lis = items.map(({ label, target }) =>
    isLinkable(target)
      ? `<li><a href="${esc(target)}" rel="noopener noreferrer">${esc(label)}</a> <code class="muted">${esc(target)}</code></li>`
      : `<li>${esc(label)}: ${code(target)}</li>`,
  );
  return `<section id="artifacts">\n<h2>Artifacts</h2>\n<ul>\n${lis.join('\n')}\n</ul>\n</section>`;
}

/** The whole report as one self-contained HTML5 document. */
export function renderHtml(report: Report): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<meta name="color-scheme" content="light">',
    // Without an explicit icon the browser asks the server for /favicon.ico, which the policy would block.
    '<link rel="icon" href="data:,">',
    `<title>SNAT investigation: ${esc(nodeLabel(report))}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    headerHtml(report),
    verdictHtml(report),
    snatHtml(report),
    podsHtml(report),
    destinationsHtml(report),
    findingsHtml(report),
    recommendationsHtml(report),
    qualityHtml(report),
    degradedHtml(report),
    artifactsHtml(report),
    `<footer>snat-responder report, schema v${report.schemaVersion}, investigation ${code(report.investigationId)}</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
