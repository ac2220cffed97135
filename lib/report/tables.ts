/**
 * The report's tables, built once from the Report so report.md and report.html show the same columns, rows, order,
 * row limits and number formats. A table says what each cell holds (prose, a name, a figure); the Markdown and HTML
 * table writers only escape and mark it up. Section headings, charts and lists stay in the renderers.
 */
import {
  MAX_DESTINATION_ROWS,
  MAX_POD_ROWS,
  captureFacts,
  decimal,
  endpoint,
  int,
  orDash,
  percent,
  podLabel,
} from './format.js';
import type { Part } from './format.js';
import type { Report } from './model.js';

export type Flag = 'hostNetwork';

/** One piece of a cell. Nothing here is escaped: each writer escapes `text` and `code` for its format. */
export type Inline =
  /** Prose, often from the cluster (a note, a metric's name). */
  | { readonly text: string }
  /** A name or endpoint from the cluster, shown as a literal. `wrap`: a narrow column may break it after a `/`. */
  | { readonly code: string; readonly wrap?: boolean }
  /** A number formatted by format.ts (or `–` for unknown), written as is. `muted`: secondary, shown dimmer. */
  | { readonly figure: string; readonly muted?: boolean }
  /** A property of the row's subject, such as a pod on the host network. */
  | { readonly flag: Flag };

/** A cell's pieces, written one space apart. */
export type Cell = readonly Inline[];

export interface Column {
  readonly header: string;
  readonly align: 'left' | 'right';
  /** Columns of names and endpoints, which a writer may keep from getting too narrow. */
  readonly holds?: 'pod' | 'owner' | 'dest';
}

export interface Table {
  /** The table's own sub-heading; null for a table that the section heading already names. */
  readonly caption: readonly Part[] | null;
  readonly columns: readonly Column[];
  readonly rows: ReadonlyArray<readonly Cell[]>;
  /** The first row is the one the report is about (the most likely culprit). */
  readonly highlightFirst: boolean;
  /** Said under the table when it shows fewer rows than the report holds. */
  readonly more: string | null;
}

const left = (header: string, holds?: Column['holds']): Column =>
  holds === undefined ? { header, align: 'left' } : { header, align: 'left', holds };
const right = (header: string): Column => ({ header, align: 'right' });
const text = (s: string): Cell => [{ text: s }];
const name = (s: string, wrap = false): Cell => [wrap ? { code: s, wrap } : { code: s }];
const figure = (s: string): Cell => [{ figure: s }];
const unknown: Cell = [{ figure: '–', muted: true }];

function table(
  columns: readonly Column[],
  rows: ReadonlyArray<readonly Cell[]>,
  extra: Partial<Pick<Table, 'caption' | 'highlightFirst' | 'more'>> = {},
): Table {
  return { caption: null, highlightFirst: false, more: null, ...extra, columns, rows };
}

/** The load balancer's SNAT metrics for this node. */
export function snatTable(report: Report): Table {
  const { allocatedPorts, usedPorts, failedConnections } = report.snat;
  const used =
    usedPorts !== null && allocatedPorts !== null && allocatedPorts > 0
      ? `${int(usedPorts)} (${percent(usedPorts / allocatedPorts)} of allocated)`
      : orDash(usedPorts);
  return table(
    [left('Metric (load balancer, this node)'), right('Value')],
    [
      [text('Allocated SNAT ports'), figure(orDash(allocatedPorts))],
      [text('Used SNAT ports'), figure(used)],
      [text('Failed SNAT connections'), figure(orDash(failedConnections))],
    ],
  );
}

/** How the capture went. report.md lists the same facts, two of them on one line. */
export function captureTable(report: Report): Table {
  const facts = captureFacts(report);
  return table(
    [left('Capture'), left('Value')],
    [
      [text('Capture'), text(facts.status)],
      [text('Tool'), text(facts.tool)],
      [text('Duration'), figure(facts.duration)],
      [text('Events'), figure(facts.events)],
    ],
  );
}

/** The ranked pods, top MAX_POD_ROWS; null when no pod was ranked. */
export function podsTable(report: Report): Table | null {
  if (report.pods.length === 0) return null;
  const rows = report.pods.slice(0, MAX_POD_ROWS).map((pod): Cell[] => {
    const top = pod.topDestinations[0];
    const topCell: Cell = top
      ? [
          { code: endpoint(top.ip, top.port) },
          { figure: int(top.flows) },
          ...(top.shareOfAllocated !== null ? [{ figure: `(${percent(top.shareOfAllocated)})`, muted: true }] : []),
        ]
      : unknown;
    return [
      figure(String(pod.rank)),
      [{ code: podLabel(pod), wrap: true }, ...(pod.hostNetwork ? [{ flag: 'hostNetwork' as const }] : [])],
      pod.owner === null ? unknown : name(pod.owner, true),
      figure(int(pod.establishedPublicOutbound)),
      figure(int(pod.establishedPublic)),
      figure(int(pod.synSentPublic)),
      figure(int(pod.closingPublic)),
      figure(orDash(pod.connectsPerSecond, (n) => decimal(n, 1))),
      topCell,
      figure(decimal(pod.score, 2)),
    ];
  });
  const hidden = report.pods.length - MAX_POD_ROWS;
  return table(
    [
      right('#'),
      left('Pod', 'pod'),
      left('Owner', 'owner'),
      right('Public outbound ESTABLISHED'),
      right('Public ESTABLISHED incl. inbound'),
      right('SYN_SENT public'),
      right('Closing public'),
      right('Connects/s'),
      left('Top destination (flows, share of allocated)', 'dest'),
      right('Score'),
    ],
    rows,
    { highlightFirst: true, more: hidden > 0 ? `${hidden} more pods ranked lower; see report.json.` : null },
  );
}

/** The score terms of the top-ranked pod; null when there is none or it carries no evidence. */
export function scoreTable(report: Report): Table | null {
  const first = report.pods[0];
  if (!first || first.evidence.length === 0) return null;
  return table(
    [left('Term'), right('Value'), right('Weight'), right('Contribution'), left('Note')],
    first.evidence.map((e) => [
      name(e.term),
      figure(decimal(e.value, 2)),
      figure(decimal(e.weight, 3)),
      figure(decimal(e.contribution, 2)),
      text(e.note),
    ]),
    { caption: [{ text: 'Why ' }, { code: podLabel(first) }, { text: ' ranks first' }] },
  );
}

/** Public destinations across the node, top MAX_DESTINATION_ROWS; null when none was seen. */
export function destinationsTable(report: Report): Table | null {
  if (report.destinations.length === 0) return null;
  const hidden = report.destinations.length - MAX_DESTINATION_ROWS;
  return table(
    [right('#'), left('Destination', 'dest'), right('Flows'), right('Pods'), right('Share of allocated')],
    report.destinations
      .slice(0, MAX_DESTINATION_ROWS)
      .map((d, i) => [
        figure(String(i + 1)),
        name(endpoint(d.ip, d.port)),
        figure(int(d.flows)),
        figure(int(d.pods)),
        figure(orDash(d.shareOfAllocated, percent)),
      ]),
    { more: hidden > 0 ? `${hidden} more destinations; see report.json.` : null },
  );
}

/** What the parsers skipped or doubted; null when every input line was understood. */
export function dataQualityTable(report: Report): Table | null {
  if (report.dataQuality.length === 0) return null;
  return table(
    [left('Source'), left('Note'), right('Count')],
    report.dataQuality.map((q) => [name(q.source), text(q.text), figure(int(q.count))]),
    { caption: [{ text: 'Data-quality notes' }] },
  );
}
