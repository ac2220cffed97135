/**
 * report.md: the report as GitHub-flavoured Markdown, for incident channels, tickets and `cat`.
 *
 * Everything from the cluster (pod and owner names, program names, endpoints, finding text that quotes them) is
 * escaped: a pod named `a|b` must not add a table column, and one named `<img src=x>` must not become markup when
 * the file is rendered.
 */
import {
  NOTHING,
  appliesTo,
  artifactList,
  clusterLabel,
  captureFacts,
  evidenceValue,
  findingsBySeverity,
  isLinkable,
  labelled,
  timestamp,
  triggerText,
  verdict,
  windowText,
} from './format.js';
import type { Part } from './format.js';
import type { Report } from './model.js';
import { dataQualityTable, destinationsTable, podsTable, scoreTable, snatTable } from './tables.js';
import type { Inline, Table } from './tables.js';

// Control characters (newlines included) would end a table row or a list item early.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function oneLine(s: string): string {
  return s.replace(CONTROL, ' ');
}

/**
 * Plain text with every character Markdown could read as syntax backslash-escaped (CommonMark allows escaping any
 * ASCII punctuation), plus block markers at the start and the starts of GFM autolinks, so a hostile name stays
 * literal text wherever it lands. An underscore between two letters or digits is left alone: it can neither open
 * nor close emphasis, and `SYN_SENT` reads better unescaped.
 */
export function mdText(s: string): string {
  return oneLine(s)
    .replace(/[\\`*[\]<>|~&@]/g, (c) => `\\${c}`)
    .replace(/_/g, (c, at: number, all: string) =>
      /[A-Za-z0-9]/.test(all[at - 1] ?? '') && /[A-Za-z0-9]/.test(all[at + 1] ?? '') ? c : `\\${c}`,
    )
    .replace(/^(\s*)([#+=-])/, '$1\\$2')
    .replace(/^(\s*\d+)([.)])/, '$1\\$2')
    .replace(/:\/\//g, '\\://')
    .replace(/(w{3})\./gi, '$1\\.');
}

/** A code span, fenced with more backticks than the text holds so a backtick in a name cannot close it early. */
export function mdCode(s: string): string {
  const text = oneLine(s);
  if (text.trim().length === 0) return '(empty)';
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || (text.startsWith(' ') && text.endsWith(' ')) ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * A literal in a table cell. GFM splits cells before it parses code spans, and `\|` is the only way to keep a pipe
 * in a cell; inside a code span a backslash before it would be literal, so names holding a pipe become escaped text.
 */
export function mdCell(s: string): string {
  return s.includes('|') ? mdText(s) : mdCode(s);
}

function parts(ps: readonly Part[]): string {
  return ps
    .map((p) => ('code' in p ? mdCode(p.code) : 'strong' in p ? `**${mdText(p.strong)}**` : mdText(p.text)))
    .join('');
}

function inline(piece: Inline): string {
  if ('code' in piece) return mdCell(piece.code);
  if ('figure' in piece) return piece.figure;
  if ('flag' in piece) return `(${piece.flag})`;
  return mdText(piece.text);
}

/** A GFM table, under its caption as a third-level heading, with the note on hidden rows after it. */
function table(t: Table): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const out = t.caption === null ? [] : [`### ${parts(t.caption)}`, ''];
  out.push(
    line(t.columns.map((c) => c.header)),
    line(t.columns.map((c) => (c.align === 'right' ? '--:' : '---'))),
    ...t.rows.map((row) => line(row.map((cell) => cell.map(inline).join(' ')))),
  );
  if (t.more !== null) out.push('', `_${mdText(t.more)}_`);
  return out.join('\n');
}

function header(report: Report): string[] {
  const { name, ip } = report.node;
  const node =
    name !== null ? mdCode(name) + (ip !== null ? ` (${mdCode(ip)})` : '') : ip !== null ? mdCode(ip) : 'unknown';
  const lines = [`# SNAT investigation: node ${node}`, ''];
  const cluster = clusterLabel(report);
  lines.push(`- **Cluster:** ${cluster === null ? 'unknown' : mdCode(cluster)}`);
  lines.push(`- **Window:** ${mdText(windowText(report))}`);
  lines.push(`- **Trigger:** ${mdText(triggerText(report))}`);
  lines.push(
    `- **Investigation:** ${mdCode(report.investigationId)}, generated ${mdText(timestamp(report.generatedAt))}`,
  );
  return lines;
}

function snatSection(report: Report): string[] {
  const { allocatedPorts, usedPorts, failedConnections } = report.snat;
  return [
    '## SNAT ports',
    '',
    table(snatTable(report)),
    ...(allocatedPorts === null && usedPorts === null && failedConnections === null
      ? ['', '_SNAT metrics were not available; flows are shown without the allocation to compare them with._']
      : []),
  ];
}

function podsSection(report: Report): string[] {
  const pods = podsTable(report);
  if (pods === null) return ['## Ranked pods', '', '_No pods were ranked._'];
  const score = scoreTable(report);
  return ['## Ranked pods', '', table(pods), ...(score === null ? [] : ['', table(score)])];
}

function destinationsSection(report: Report): string[] {
  const destinations = destinationsTable(report);
  return [
    '## Top public destinations (whole node)',
    '',
    destinations === null ? '_No public destinations were seen._' : table(destinations),
  ];
}

function findingsSection(report: Report): string[] {
  const lines = ['## Findings', ''];
  const groups = findingsBySeverity(report.findings);
  if (groups.length === 0) {
    lines.push(`_${NOTHING.findings}_`);
    return lines;
  }
  const titles = { critical: 'Critical', warning: 'Warning', info: 'Info' } as const;
  for (const group of groups) {
    lines.push(`### ${titles[group.severity]} (${group.items.length})`, '');
    for (const finding of group.items) {
      lines.push(`- ${mdText(finding.text)}`);
      const evidence = Object.entries(finding.evidence);
      if (evidence.length > 0) {
        lines.push(
          `  - Evidence: ${evidence.map(([k, v]) => `${mdCode(k)} = ${mdCode(evidenceValue(v))}`).join(', ')}`,
        );
      }
    }
    lines.push('');
  }
  lines.pop();
  return lines;
}

function recommendationsSection(report: Report): string[] {
  const lines = ['## Recommendations', ''];
  if (report.recommendations.length === 0) {
    lines.push(`_${NOTHING.recommendations}_`);
    return lines;
  }
  report.recommendations.forEach((r, i) => {
    lines.push(`${i + 1}. ${parts(labelled(r.title, r.text))}`, `   ${parts(appliesTo(r))}.`);
  });
  return lines;
}

function qualitySection(report: Report): string[] {
  const facts = captureFacts(report);
  const notes = dataQualityTable(report);
  return [
    '## Capture and data quality',
    '',
    `- **Capture:** ${mdText(facts.status)}`,
    `- **Tool:** ${facts.tool}, duration ${facts.duration}`,
    `- **Events:** ${facts.events}`,
    '',
    // Unlike report.html, report.md has no sub-heading over these notes; the golden files pin both as they are.
    notes === null ? `_${NOTHING.dataQuality}_` : table({ ...notes, caption: null }),
  ];
}

function degradedSection(report: Report): string[] {
  const lines = ['## Degraded steps', ''];
  if (report.degraded.length === 0) {
    lines.push(NOTHING.degraded);
    return lines;
  }
  for (const d of report.degraded) lines.push(`- ${parts(labelled(d.step, d.reason))}`);
  return lines;
}

function artifactsSection(report: Report): string[] {
  const items = artifactList(report);
  const lines = ['## Artifacts', ''];
  if (items.length === 0) lines.push(`_${NOTHING.artifacts}_`);
  for (const { label, target } of items) {
    lines.push(`- ${isLinkable(target) ? `[${mdText(label)}](<${target}>)` : `${mdText(label)}: ${mdCode(target)}`}`);
  }
  return lines;
}

/** The whole report as Markdown, ending with a newline. */
export function renderMarkdown(report: Report): string {
  const sections = [
    header(report),
    ['## Verdict', '', parts(verdict(report))],
    snatSection(report),
    podsSection(report),
    destinationsSection(report),
    findingsSection(report),
    recommendationsSection(report),
    qualitySection(report),
    degradedSection(report),
    artifactsSection(report),
  ];
  return sections.map((s) => s.join('\n')).join('\n\n') + '\n';
}
