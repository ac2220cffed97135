/**
 * The Teams message: the body a Workflows "Post to a channel when a webhook request is received" flow accepts
 * (FORMATS.md section 11): a message with one Adaptive Card (1.5) summarising the report, with a link to it.
 *
 * Two guarantees:
 * - Size: Teams refuses messages over ~28 KB (413). The card is built, measured serialised, and rebuilt with fewer
 *   rows and shorter texts until it fits under TEAMS_MAX_BYTES; the last step keeps no row and clips every text
 *   from the cluster to a few characters, so it always fits.
 * - No markup from the cluster: TextBlock and FactSet text is read as Markdown by Teams, so text from the cluster
 *   (pod, owner, node, cluster names, endpoints) never goes there. It goes into RichTextBlock TextRuns, which the
 *   Adaptive Card schema defines as plain text, after oneLine() removed controls and direction overrides.
 *
 * The card's pieces (`run`, `rich`, `heading`, `table`, `safeLink`, `cardMessage`) are shared with the census's card
 * (census.ts), which keeps the same two guarantees.
 */
import {
  SEVERITY_ORDER,
  endpoint,
  int,
  percent,
  podLabel,
  snatHoldingFlows,
  timestamp,
  verdict,
} from '../report/format.js';
import type { Report } from '../report/model.js';
import { clip, jsonBytes, truncate } from './text.js';

/** Under Teams' ~28 KB (28,672 bytes) with room for the transport's own wrapping. */
export const TEAMS_MAX_BYTES = 28_000;
export const TEAMS_TOP_ROWS = 5;
/** A longer link is not put on the card (ours are ~400 characters; this only stops a runaway). */
const MAX_URL_LENGTH = 4096;

export interface TeamsMessageOptions {
  /** The report's read link (a SAS URL); null when the report could not be stored. */
  readonly reportUrl: string | null;
  readonly maxBytes?: number;
}

export interface TeamsMessage {
  readonly type: 'message';
  readonly attachments: [
    {
      readonly contentType: 'application/vnd.microsoft.card.adaptive';
      readonly contentUrl: null;
      readonly content: AdaptiveCard;
    },
  ];
}

export interface AdaptiveCard {
  readonly $schema: string;
  readonly type: 'AdaptiveCard';
  readonly version: '1.5';
  readonly msteams: { readonly width: 'Full' };
  readonly body: CardElement[];
  readonly actions: CardElement[];
}

/** Card elements are plain JSON; the tests walk them generically. */
export type CardElement = { readonly type: string; readonly [key: string]: unknown };

interface Budget {
  readonly rows: number;
  /** Code points of one cluster-controlled name. */
  readonly name: number;
  /** Code points of the whole verdict. */
  readonly verdict: number;
}

const BUDGETS: readonly Budget[] = [
  { rows: TEAMS_TOP_ROWS, name: 120, verdict: 800 },
  { rows: TEAMS_TOP_ROWS, name: 60, verdict: 500 },
  { rows: 3, name: 40, verdict: 300 },
  { rows: 3, name: 24, verdict: 200 },
  { rows: 1, name: 24, verdict: 160 },
  { rows: 0, name: 16, verdict: 120 },
];

/** A TextRun: plain text (never Markdown), the only place text from the cluster goes. */
export type Run = {
  type: 'TextRun';
  text: string;
  weight?: 'Bolder';
  fontType?: 'Monospace';
  size?: 'Medium' | 'Small';
  isSubtle?: boolean;
  selectAction?: { type: 'Action.OpenUrl'; url: string };
};

export const run = (text: string, style: Partial<Omit<Run, 'type' | 'text'>> = {}): Run => ({
  type: 'TextRun',
  text,
  ...style,
});

export function rich(inlines: Run[], extra: Record<string, unknown> = {}): CardElement {
  return { type: 'RichTextBlock', inlines, ...extra };
}

/** Static headings only: TextBlock text is Markdown, so nothing from the cluster may reach it. */
export function heading(text: string): CardElement {
  return { type: 'TextBlock', text, weight: 'Bolder', spacing: 'Medium', wrap: true };
}

export function table(headers: string[], widths: number[], rows: Run[][][]): CardElement {
  const cell = (inlines: Run[]): CardElement => ({ type: 'TableCell', items: [rich(inlines)] });
  return {
    type: 'Table',
    firstRowAsHeaders: true,
    showGridLines: false,
    columns: widths.map((width) => ({ width })),
    rows: [
      { type: 'TableRow', cells: headers.map((h) => cell([run(h, { weight: 'Bolder' })])) },
      ...rows.map((cells) => ({ type: 'TableRow', cells: cells.map(cell) })),
    ],
  };
}

function verdictRuns(report: Report, budget: Budget): Run[] {
  const runs: Run[] = [];
  let left = budget.verdict;
  for (const part of verdict(report)) {
    if (left <= 0) break;
    const [raw, style]: [string, Partial<Run>] =
      'code' in part
        ? [clip(part.code, budget.name), { fontType: 'Monospace' }]
        : 'strong' in part
          ? [part.strong, { weight: 'Bolder' }]
          : [part.text, {}];
    const text = truncate(clip(raw, left), left);
    left -= Array.from(text).length;
    if (text.length > 0) runs.push(run(text, style));
  }
  return runs;
}

function snatFacts(report: Report): Array<{ title: string; value: string }> {
  const { allocatedPorts, usedPorts, failedConnections } = report.snat;
  const used =
    usedPorts !== null && allocatedPorts !== null && allocatedPorts > 0
      ? `${int(usedPorts)} of ${int(allocatedPorts)} (${percent(usedPorts / allocatedPorts)})`
      : usedPorts !== null
        ? `${int(usedPorts)} (allocation unknown)`
        : allocatedPorts !== null
          ? `unknown of ${int(allocatedPorts)}`
          : 'unknown';
  const counts = SEVERITY_ORDER.map((s) => ({ s, n: report.findings.filter((f) => f.severity === s).length }));
  return [
    { title: 'SNAT ports used', value: used },
    { title: 'Failed SNAT connections', value: failedConnections === null ? 'unknown' : int(failedConnections) },
    {
      title: 'Findings',
      value: report.findings.length === 0 ? 'none' : counts.map(({ s, n }) => `${int(n)} ${s}`).join(', '),
    },
    { title: 'Degraded steps', value: int(report.degraded.length) },
    { title: 'Pods ranked', value: int(report.pods.length) },
    { title: 'Capture', value: report.capture.status },
  ];
}

function card(report: Report, reportUrl: string | null, budget: Budget): AdaptiveCard {
  const name = (text: string | null, fallback: string): Run =>
    text === null ? run(fallback) : run(clip(text, budget.name), { fontType: 'Monospace' });
  const body: CardElement[] = [
    rich(
      [
        run('SNAT port exhaustion on ', { weight: 'Bolder', size: 'Medium' }),
        { ...name(report.node.name ?? report.node.ip, 'an unknown node'), weight: 'Bolder', size: 'Medium' },
      ],
      { spacing: 'None' },
    ),
    rich([
      run('Cluster ', { size: 'Small' }),
      { ...name(report.cluster.name, 'unknown'), size: 'Small' },
      run(` · ${clip(timestamp(report.generatedAt), 40)} · `, { size: 'Small' }),
      { ...name(report.investigationId, 'no id'), size: 'Small' },
    ]),
    rich(verdictRuns(report, budget), { spacing: 'Medium' }),
    { type: 'FactSet', facts: snatFacts(report) },
  ];

  const pods = report.pods.slice(0, budget.rows);
  if (pods.length > 0) {
    body.push(heading(`Top ${pods.length} of ${int(report.pods.length)} pods`));
    body.push(
      table(
        ['#', 'Pod', 'SNAT flows', 'Top destination'],
        [1, 6, 2, 5],
        pods.map((p) => {
          const dest = p.topDestinations[0];
          return [
            [run(int(p.rank))],
            [run(clip(podLabel(p), budget.name), { fontType: 'Monospace' })],
            [run(int(snatHoldingFlows(p)))],
            dest
              ? [
                  run(clip(endpoint(dest.ip, dest.port), budget.name), { fontType: 'Monospace' }),
                  run(` (${int(dest.flows)})`),
                ]
              : [run('–')],
          ];
        }),
      ),
    );
  }
  const dests = report.destinations.slice(0, budget.rows);
  if (dests.length > 0) {
    body.push(heading(`Top ${dests.length} of ${int(report.destinations.length)} destinations`));
    body.push(
      table(
        ['Destination', 'Flows', 'Pods', 'Share of SNAT ports'],
        [5, 2, 2, 3],
        dests.map((d) => [
          [run(clip(endpoint(d.ip, d.port), budget.name), { fontType: 'Monospace' })],
          [run(int(d.flows))],
          [run(int(d.pods))],
          [run(d.shareOfAllocated === null ? '–' : percent(d.shareOfAllocated))],
        ]),
      ),
    );
  }
  if (pods.length < report.pods.length || dests.length < report.destinations.length) {
    body.push({ type: 'TextBlock', text: 'The full ranking is in the report.', isSubtle: true, wrap: true });
  }

  const link = safeLink(reportUrl);
  if (link === null) {
    body.push({
      type: 'TextBlock',
      text: reportUrl === null ? 'The report could not be stored; no link.' : 'The report link could not be shown.',
      isSubtle: true,
      wrap: true,
    });
  }
  return adaptiveCard(body, link !== null ? { title: 'Open report', url: link } : null);
}

/** A full-width Adaptive Card 1.5 of `body`, with one link button when `open` is given. */
export function adaptiveCard(body: CardElement[], open: { title: string; url: string } | null = null): AdaptiveCard {
  return {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.5',
    msteams: { width: 'Full' },
    body,
    actions: open !== null ? [{ type: 'Action.OpenUrl', title: open.title, url: open.url }] : [],
  };
}

/** The link as a normalised http(s) URL (percent-encoded, so plain ASCII), or null when it is none or too long. */
export function safeLink(url: string | null): string | null {
  if (url === null) return null;
  try {
    const href = new URL(url).href;
    return /^https?:\/\//.test(href) && href.length <= MAX_URL_LENGTH ? href : null;
  } catch {
    return null;
  }
}

/** The Workflows message around one card. */
export function cardMessage(content: AdaptiveCard): TeamsMessage {
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  };
}

/**
 * The richest of `cards` (richest first, built lazily) whose Workflows webhook body stays under `maxBytes`
 * serialised; when none does (only with a `maxBytes` far below Teams' limit), a bare card of `fallback` alone, with
 * nothing from the cluster in it.
 */
export function fittedMessage(cards: Iterable<AdaptiveCard>, fallback: string, maxBytes: number): TeamsMessage {
  for (const content of cards) {
    const candidate = cardMessage(content);
    if (jsonBytes(candidate) <= maxBytes) return candidate;
  }
  return cardMessage(adaptiveCard([heading(fallback)]));
}

/**
 * The Workflows webhook body for a report, always under `maxBytes` serialised (TEAMS_MAX_BYTES by default): the
 * richest card that fits.
 */
export function teamsMessage(report: Report, options: TeamsMessageOptions): TeamsMessage {
  const cards = (function* () {
    for (const budget of BUDGETS) yield card(report, options.reportUrl, budget);
  })();
  return fittedMessage(
    cards,
    'SNAT port exhaustion investigated: see the report.',
    options.maxBytes ?? TEAMS_MAX_BYTES,
  );
}
