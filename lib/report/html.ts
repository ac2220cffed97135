/**
 * report.html: one self-contained HTML5 file. Inline CSS and hand-built SVG only: no script, no external asset, no
 * web font, and a Content-Security-Policy that forbids loading anything, so the file reads the same offline, from
 * Blob Storage, in a mail attachment or printed. Every string from the cluster is entity-escaped.
 */
import { escapeHtml as esc } from './escape.js';
import {
  CAPTURE_STATUS_TEXT,
  artifactList,
  isLinkable,
  MAX_DESTINATION_ROWS,
  MAX_POD_ROWS,
  decimal,
  endpoint,
  evidenceValue,
  findingsBySeverity,
  int,
  nodeLabel,
  orDash,
  percent,
  podLabel,
  timestamp,
  triggerText,
  verdict,
  windowText,
  worstSeverity,
} from './format.js';
import type { Part } from './format.js';
import type { Report } from './model.js';
import { destinationsChart, podsChart, snatGauge } from './svg.js';

export const CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS = `
:root{--text:#1d2939;--muted:#667085;--line:#e4e7ec;--bg:#ffffff;--panel:#f9fafb;--accent:#2f6fd0;
--crit:#b42318;--crit-bg:#fef3f2;--crit-line:#fda29b;--warn:#b54708;--warn-bg:#fffaeb;--warn-line:#fec84b;
--info:#175cd3;--info-bg:#eff8ff;--info-line:#b2ddff;--ok:#067647;--ok-bg:#ecfdf3;--ok-line:#abefc6;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
--sans:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--text);font:15px/1.5 var(--sans);-webkit-text-size-adjust:100%}
body{margin:0}
main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}
header{border-bottom:1px solid var(--line);padding-bottom:14px;margin-bottom:20px}
.eyebrow{margin:0;color:var(--muted);font-size:13px;letter-spacing:.04em;text-transform:uppercase}
h1{font-size:26px;line-height:1.25;margin:4px 0 12px;overflow-wrap:anywhere}
h2{font-size:19px;margin:0 0 12px}
h3{font-size:15px;margin:18px 0 8px}
section{margin:0 0 28px}
code,.mono{font-family:var(--mono);font-size:.92em;overflow-wrap:anywhere;word-break:break-word}
h1 code{font-size:.9em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;font-size:14px}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;overflow-wrap:anywhere}
.verdict{border:1px solid var(--line);border-left:6px solid var(--accent);background:var(--panel);border-radius:8px;
padding:14px 18px}
.verdict p{margin:0;font-size:16px}
.verdict.sev-critical{border-left-color:var(--crit);background:var(--crit-bg)}
.verdict.sev-warning{border-left-color:var(--warn);background:var(--warn-bg)}
.verdict.sev-info{border-left-color:var(--info);background:var(--info-bg)}
.verdict code{background:rgba(255,255,255,.7);padding:1px 4px;border-radius:4px}
.figure{margin:6px 0 14px}
svg.chart{display:block;width:100%;max-width:960px;height:auto}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;color:#344054;font-size:12.5px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
td.pod{min-width:15em}
td.owner{min-width:10em}
td.dest{min-width:11em}
td code{font-size:12.5px}
tr.top td{background:#fff8f6}
table.kv{width:auto;min-width:360px}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid var(--line);white-space:nowrap}
.badge.critical{color:var(--crit);background:var(--crit-bg);border-color:var(--crit-line)}
.badge.warning{color:var(--warn);background:var(--warn-bg);border-color:var(--warn-line)}
.badge.info{color:var(--info);background:var(--info-bg);border-color:var(--info-line)}
.badge.host{color:var(--muted);font-weight:500}
ul.findings{list-style:none;padding:0;margin:0}
ul.findings li{border:1px solid var(--line);border-left-width:4px;border-radius:6px;padding:8px 12px;margin:0 0 8px}
ul.findings li.critical{border-left-color:var(--crit)}
ul.findings li.warning{border-left-color:var(--warn)}
ul.findings li.info{border-left-color:var(--info)}
.evidence{margin:4px 0 0;color:var(--muted);font-size:13px}
.evidence code{color:var(--text)}
ol.recs{padding-left:22px;margin:0}
ol.recs li{margin:0 0 10px}
ol.recs .applies{color:var(--muted);font-size:13px}
.muted{color:var(--muted)}
.none{color:var(--muted);font-style:italic;margin:8px 0 0}
ul.degraded li{margin:0 0 4px}
footer{border-top:1px solid var(--line);padding-top:10px;color:var(--muted);font-size:12.5px}
@media print{
html{font-size:12px}
main{max-width:none;padding:0}
section,figure,.verdict,ul.findings li,tr{break-inside:avoid}
.table-wrap{overflow:visible}
.verdict,.badge,th,tr.top td{-webkit-print-color-adjust:exact;print-color-adjust:exact}
a{color:inherit}
}
`
  .trim()
  .replace(/\n/g, '');

function parts(ps: readonly Part[]): string {
  return ps
    .map((p) =>
      'code' in p ? `<code>${esc(p.code)}</code>` : 'strong' in p ? `<strong>${esc(p.strong)}</strong>` : esc(p.text),
    )
    .join('');
}

const code = (s: string) => `<code>${esc(s)}</code>`;
/** Names in narrow table columns may wrap after a `/` (`namespace/<wbr>pod`, `Deployment/<wbr>name`). */
const wrappable = (s: string) => `<code>${esc(s).replace(/\//g, '/<wbr>')}</code>`;
const none = (text: string) => `<p class="none">${esc(text)}</p>`;

interface Column {
  readonly head: string;
  readonly num?: boolean;
  readonly cls?: string;
}

/** Cells are HTML already (each caller escapes); headers are plain text. */
function table(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>, rowClass?: (i: number) => string) {
  const cls = (c: Column | undefined) => {
    const names = [c?.num ? 'num' : '', c?.cls ?? ''].filter((x) => x.length > 0);
    return names.length > 0 ? ` class="${names.join(' ')}"` : '';
  };
  const head = columns.map((c) => `<th scope="col"${cls(c)}>${esc(c.head)}</th>`).join('');
  const body = rows
    .map((row, i) => {
      const rc = rowClass?.(i) ?? '';
      return `<tr${rc ? ` class="${rc}"` : ''}>${row.map((cell, j) => `<td${cls(columns[j])}>${cell}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function headerHtml(report: Report): string {
  const { name, ip } = report.node;
  const nodeHtml =
    name !== null
      ? code(name) + (ip !== null ? ` <span class="muted">(${code(ip)})</span>` : '')
      : ip !== null
        ? code(ip)
        : 'unknown';
  const cluster = report.cluster.name ?? report.cluster.resourceId;
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
  const { allocatedPorts, usedPorts, failedConnections } = report.snat;
  const used =
    usedPorts !== null && allocatedPorts !== null && allocatedPorts > 0
      ? `${int(usedPorts)} (${percent(usedPorts / allocatedPorts)} of allocated)`
      : orDash(usedPorts);
  const rows = [
    ['Allocated SNAT ports', orDash(allocatedPorts)],
    ['Used SNAT ports', used],
    ['Failed SNAT connections', orDash(failedConnections)],
  ];
  return (
    '<section id="snat">\n<h2>SNAT ports</h2>\n' +
    `<figure class="figure">${snatGauge(report)}</figure>\n` +
    '<div class="table-wrap"><table class="kv"><tbody>' +
    rows.map(([k, v]) => `<tr><th scope="row">${esc(k ?? '')}</th><td class="num">${esc(v ?? '')}</td></tr>`).join('') +
    '</tbody></table></div>\n</section>'
  );
}

function podsHtml(report: Report): string {
  const out = ['<section id="pods">', '<h2>Ranked pods</h2>', `<figure class="figure">${podsChart(report)}</figure>`];
  if (report.pods.length === 0) {
    // The chart already says there is no data.
    out.push('</section>');
    return out.join('\n');
  }
  const rows = report.pods.slice(0, MAX_POD_ROWS).map((pod) => {
    const top = pod.topDestinations[0];
    return [
      String(pod.rank),
      wrappable(podLabel(pod)) + (pod.hostNetwork ? ' <span class="badge host">hostNetwork</span>' : ''),
      pod.owner === null ? '<span class="muted">–</span>' : wrappable(pod.owner),
      int(pod.establishedPublicOutbound),
      int(pod.establishedPublic),
      int(pod.synSentPublic),
      int(pod.closingPublic),
      orDash(pod.connectsPerSecond, (n) => decimal(n, 1)),
      top
        ? `${code(endpoint(top.ip, top.port))} ${int(top.flows)}` +
          (top.shareOfAllocated !== null ? ` <span class="muted">(${percent(top.shareOfAllocated)})</span>` : '')
        : '<span class="muted">–</span>',
      decimal(pod.score, 2),
    ];
  });
  out.push(
    table(
      [
        { head: '#', num: true },
        { head: 'Pod', cls: 'pod' },
        { head: 'Owner', cls: 'owner' },
        { head: 'Public outbound ESTABLISHED', num: true },
        { head: 'Public ESTABLISHED incl. inbound', num: true },
        { head: 'SYN_SENT public', num: true },
        { head: 'Closing public', num: true },
        { head: 'Connects/s', num: true },
        { head: 'Top destination (flows, share of allocated)', cls: 'dest' },
        { head: 'Score', num: true },
      ],
      rows,
      (i) => (i === 0 ? 'top' : ''),
    ),
  );
  if (report.pods.length > MAX_POD_ROWS) {
    out.push(`<p class="muted">${report.pods.length - MAX_POD_ROWS} more pods ranked lower; see report.json.</p>`);
  }
  const first = report.pods[0];
  if (first && first.evidence.length > 0) {
    out.push(`<h3>Why ${code(podLabel(first))} ranks first</h3>`);
    out.push(
      table(
        [
          { head: 'Term' },
          { head: 'Value', num: true },
          { head: 'Weight', num: true },
          { head: 'Contribution', num: true },
          { head: 'Note' },
        ],
        first.evidence.map((e) => [
          code(e.term),
          decimal(e.value, 2),
          decimal(e.weight, 3),
          decimal(e.contribution, 2),
          esc(e.note),
        ]),
      ),
    );
  }
  out.push('</section>');
  return out.join('\n');
}

function destinationsHtml(report: Report): string {
  const out = [
    '<section id="destinations">',
    '<h2>Top public destinations (whole node)</h2>',
    `<figure class="figure">${destinationsChart(report)}</figure>`,
  ];
  if (report.destinations.length === 0) {
    out.push('</section>');
    return out.join('\n');
  }
  out.push(
    table(
      [
        { head: '#', num: true },
        { head: 'Destination', cls: 'dest' },
        { head: 'Flows', num: true },
        { head: 'Pods', num: true },
        { head: 'Share of allocated', num: true },
      ],
      report.destinations
        .slice(0, MAX_DESTINATION_ROWS)
        .map((d, i) => [
          String(i + 1),
          code(endpoint(d.ip, d.port)),
          int(d.flows),
          int(d.pods),
          orDash(d.shareOfAllocated, percent),
        ]),
    ),
  );
  if (report.destinations.length > MAX_DESTINATION_ROWS) {
    out.push(
      `<p class="muted">${report.destinations.length - MAX_DESTINATION_ROWS} more destinations; see report.json.</p>`,
    );
  }
  out.push('</section>');
  return out.join('\n');
}

function findingsHtml(report: Report): string {
  const groups = findingsBySeverity(report.findings);
  if (groups.length === 0) return `<section id="findings">\n<h2>Findings</h2>\n${none('No findings.')}\n</section>`;
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
    return `<section id="recommendations">\n<h2>Recommendations</h2>\n${none('No recommendations.')}\n</section>`;
  }
  const items = report.recommendations.map((r) => {
    const applies = r.appliesTo.length > 0 ? r.appliesTo.map(code).join(', ') : 'the whole node';
    return (
      `<li><strong>${esc(r.title)}</strong>: ${esc(r.text)}<br>` +
      `<span class="applies">Applies to ${applies} (${code(r.id)})</span></li>`
    );
  });
  return `<section id="recommendations">\n<h2>Recommendations</h2>\n<ol class="recs">\n${items.join('\n')}\n</ol>\n</section>`;
}

function qualityHtml(report: Report): string {
  const c = report.capture;
  const rows: Array<[string, string]> = [
    ['Capture', esc(CAPTURE_STATUS_TEXT[c.status])],
    ['Tool', c.variant === null ? 'unknown' : `tcptracer (${esc(c.variant)})`],
    ['Duration', orDash(c.durationSeconds, (n) => `${decimal(n, 1)} s`)],
    [
      'Events',
      `${int(c.events.connect)} connect, ${int(c.events.accept)} accept, ${int(c.events.close)} close; ` +
        `${int(c.lostEvents)} lost${c.truncated ? '; output truncated' : ''}`,
    ],
  ];
  const out = [
    '<section id="data-quality">',
    '<h2>Capture and data quality</h2>',
    '<div class="table-wrap"><table class="kv"><tbody>' +
      rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join('') +
      '</tbody></table></div>',
  ];
  if (report.dataQuality.length > 0) {
    out.push(
      '<h3>Data-quality notes</h3>',
      table(
        [{ head: 'Source' }, { head: 'Note' }, { head: 'Count', num: true }],
        report.dataQuality.map((q) => [code(q.source), esc(q.text), int(q.count)]),
      ),
    );
  } else {
    out.push(none('No data-quality notes: every input line was understood.'));
  }
  out.push('</section>');
  return out.join('\n');
}

function degradedHtml(report: Report): string {
  if (report.degraded.length === 0) {
    return '<section id="degraded">\n<h2>Degraded steps</h2>\n<p>None: every step completed.</p>\n</section>';
  }
  const items = report.degraded.map((d) => `<li><strong>${esc(d.step)}</strong>: ${esc(d.reason)}</li>`);
  return `<section id="degraded">\n<h2>Degraded steps</h2>\n<ul class="degraded">\n${items.join('\n')}\n</ul>\n</section>`;
}

function artifactsHtml(report: Report): string {
  const items = artifactList(report);
  if (items.length === 0) {
    return `<section id="artifacts">\n<h2>Artifacts</h2>\n${none('No artifacts were stored.')}\n</section>`;
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
