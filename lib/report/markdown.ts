/**
 * report.md: the report as GitHub-flavoured Markdown, for incident channels, tickets and `cat`.
 *
 * Everything from the cluster (pod and owner names, program names, endpoints, finding text that quotes them) is
 * escaped: a pod named `a|b` must not add a table column, and one named `<img src=x>` must not become markup when
 * the file is rendered.
 */
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
  orDash,
  percent,
  podLabel,
  timestamp,
  triggerText,
  verdict,
  windowText,
} from './format.js';
import type { Part } from './format.js';
import type { Report } from './model.js';

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

function table(headers: readonly string[], align: readonly ('l' | 'r')[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const rule = align.map((a) => (a === 'r' ? '--:' : '---'));
  return [line(headers), line(rule), ...rows.map(line)].join('\n');
}

function header(report: Report): string[] {
  const { name, ip } = report.node;
  const node =
    name !== null ? mdCode(name) + (ip !== null ? ` (${mdCode(ip)})` : '') : ip !== null ? mdCode(ip) : 'unknown';
  const lines = [`# SNAT investigation: node ${node}`, ''];
  const cluster = report.cluster.name ?? report.cluster.resourceId;
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
  const used =
    usedPorts !== null && allocatedPorts !== null && allocatedPorts > 0
      ? `${int(usedPorts)} (${percent(usedPorts / allocatedPorts)} of allocated)`
      : orDash(usedPorts);
  return [
    '## SNAT ports',
    '',
    table(
      ['Metric (load balancer, this node)', 'Value'],
      ['l', 'r'],
      [
        ['Allocated SNAT ports', orDash(allocatedPorts)],
        ['Used SNAT ports', used],
        ['Failed SNAT connections', orDash(failedConnections)],
      ],
    ),
    ...(allocatedPorts === null && usedPorts === null && failedConnections === null
      ? ['', '_SNAT metrics were not available; flows are shown without the allocation to compare them with._']
      : []),
  ];
}

function podsSection(report: Report): string[] {
  const lines = ['## Ranked pods', ''];
  if (report.pods.length === 0) {
    lines.push('_No pods were ranked._');
    return lines;
  }
  const rows = report.pods.slice(0, MAX_POD_ROWS).map((pod) => {
    const top = pod.topDestinations[0];
    const topText = top
      ? `${mdCell(endpoint(top.ip, top.port))} ${int(top.flows)}` +
        (top.shareOfAllocated !== null ? ` (${percent(top.shareOfAllocated)})` : '')
      : '–';
    return [
      String(pod.rank),
      mdCell(podLabel(pod)) + (pod.hostNetwork ? ' (hostNetwork)' : ''),
      pod.owner === null ? '–' : mdCell(pod.owner),
      int(pod.establishedPublicOutbound),
      int(pod.establishedPublic),
      int(pod.synSentPublic),
      int(pod.closingPublic),
      orDash(pod.connectsPerSecond, (n) => decimal(n, 1)),
      topText,
      decimal(pod.score, 2),
    ];
  });
  lines.push(
    table(
      [
        '#',
        'Pod',
        'Owner',
        'Public outbound ESTABLISHED',
        'Public ESTABLISHED incl. inbound',
        'SYN_SENT public',
        'Closing public',
        'Connects/s',
        'Top destination (flows, share of allocated)',
        'Score',
      ],
      ['r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
      rows,
    ),
  );
  if (report.pods.length > MAX_POD_ROWS) {
    lines.push('', `_${report.pods.length - MAX_POD_ROWS} more pods ranked lower; see report.json._`);
  }
  const first = report.pods[0];
  if (first && first.evidence.length > 0) {
    lines.push('', `### Why ${mdCode(podLabel(first))} ranks first`, '');
    lines.push(
      table(
        ['Term', 'Value', 'Weight', 'Contribution', 'Note'],
        ['l', 'r', 'r', 'r', 'l'],
        first.evidence.map((e) => [
          mdCell(e.term),
          decimal(e.value, 2),
          decimal(e.weight, 3),
          decimal(e.contribution, 2),
          mdText(e.note),
        ]),
      ),
    );
  }
  return lines;
}

function destinationsSection(report: Report): string[] {
  const lines = ['## Top public destinations (whole node)', ''];
  if (report.destinations.length === 0) {
    lines.push('_No public destinations were seen._');
    return lines;
  }
  lines.push(
    table(
      ['#', 'Destination', 'Flows', 'Pods', 'Share of allocated'],
      ['r', 'l', 'r', 'r', 'r'],
      report.destinations
        .slice(0, MAX_DESTINATION_ROWS)
        .map((d, i) => [
          String(i + 1),
          mdCell(endpoint(d.ip, d.port)),
          int(d.flows),
          int(d.pods),
          orDash(d.shareOfAllocated, percent),
        ]),
    ),
  );
  if (report.destinations.length > MAX_DESTINATION_ROWS) {
    lines.push('', `_${report.destinations.length - MAX_DESTINATION_ROWS} more destinations; see report.json._`);
  }
  return lines;
}

function findingsSection(report: Report): string[] {
  const lines = ['## Findings', ''];
  const groups = findingsBySeverity(report.findings);
  if (groups.length === 0) {
    lines.push('_No findings._');
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
    lines.push('_No recommendations._');
    return lines;
  }
  report.recommendations.forEach((r, i) => {
    lines.push(`${i + 1}. **${mdText(r.title)}**: ${mdText(r.text)}`);
    const applies = r.appliesTo.length > 0 ? r.appliesTo.map(mdCode).join(', ') : 'the whole node';
    lines.push(`   Applies to ${applies} (${mdCode(r.id)}).`);
  });
  return lines;
}

function qualitySection(report: Report): string[] {
  const c = report.capture;
  const lines = ['## Capture and data quality', ''];
  lines.push(`- **Capture:** ${mdText(CAPTURE_STATUS_TEXT[c.status])}`);
  lines.push(
    `- **Tool:** ${c.variant === null ? 'unknown' : `tcptracer (${c.variant})`}, duration ${orDash(c.durationSeconds, (n) => `${decimal(n, 1)} s`)}`,
  );
  lines.push(
    `- **Events:** ${int(c.events.connect)} connect, ${int(c.events.accept)} accept, ${int(c.events.close)} close; ` +
      `${int(c.lostEvents)} lost${c.truncated ? '; output truncated' : ''}`,
  );
  if (report.dataQuality.length > 0) {
    lines.push(
      '',
      table(
        ['Source', 'Note', 'Count'],
        ['l', 'l', 'r'],
        report.dataQuality.map((n) => [mdCell(n.source), mdText(n.text), int(n.count)]),
      ),
    );
  } else {
    lines.push('', '_No data-quality notes: every input line was understood._');
  }
  return lines;
}

function degradedSection(report: Report): string[] {
  const lines = ['## Degraded steps', ''];
  if (report.degraded.length === 0) {
    lines.push('None: every step completed.');
    return lines;
  }
  for (const d of report.degraded) lines.push(`- **${mdText(d.step)}**: ${mdText(d.reason)}`);
  return lines;
}

function artifactsSection(report: Report): string[] {
  const items = artifactList(report);
  const lines = ['## Artifacts', ''];
  if (items.length === 0) lines.push('_No artifacts were stored._');
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
