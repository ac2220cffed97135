/**
 * The one message of a cluster census (a NAT gateway alert, orchestrations/cluster.ts): the pods ranked across the
 * cluster's nodes, how many nodes were censused, reported, failed or skipped, and a link to each node's report. The
 * Teams card is built here; the signed webhook payload is `censusWebhookPayload` (webhook.ts), from the same
 * `CensusNotice`.
 *
 * The card keeps the node card's guarantees (teams.ts): under TEAMS_MAX_BYTES serialised, whatever the names and
 * however many nodes (it is rebuilt with fewer rows, shorter names and finally no links until it fits), and no text
 * from the cluster in Markdown (TextBlock, FactSet): names go into plain-text TextRuns after `clip`.
 */
import { int, orDash, timestamp } from '../report/format.js';
import type { ReportTrigger } from '../report/model.js';
import type { CensusTopPod } from '../workflow/contracts.js';
import { TEAMS_MAX_BYTES, adaptiveCard, fittedMessage, heading, rich, run, safeLink, table } from './teams.js';
import type { AdaptiveCard, CardElement, Run, TeamsMessage } from './teams.js';
import { clip } from './text.js';

/** Rows of node reports on the card at most (the census names at most 20 nodes: CENSUS_NODE_LINKS). */
export const CENSUS_CARD_NODE_ROWS = 20;

/** A pod ranked across the census's nodes (the workflow's `CensusTopPod`). */
export type CensusNoticeTopPod = CensusTopPod;

/** A node the message names: its outcome, and the link to its report (or the reason it has none). */
export interface CensusNoticeNode {
  readonly investigationId: string;
  readonly node: string;
  readonly outcome: 'reported' | 'target-not-found' | 'failed';
  /** A read link (SAS), else the report's path (no links from a folder); null when there is no report or no link. */
  readonly reportUrl: string | null;
  readonly message: string | null;
}

/** What a census's message says, with its links made (lib/workflow/activities/notifyCensus.ts builds it). */
export interface CensusNotice {
  readonly investigationId: string;
  readonly generatedAt: string;
  readonly trigger: ReportTrigger;
  readonly cluster: { readonly name: string | null; readonly resourceId: string | null };
  readonly natGateway: { readonly name: string | null; readonly resourceId: string };
  readonly outcome: 'census' | 'no-nodes';
  /** Why no node was censused (`no-nodes`); else null. */
  readonly message: string | null;
  readonly counts: {
    /** Nodes in the cluster. */
    readonly total: number;
    /** Nodes whose census-only investigation ran (whatever its outcome). */
    readonly censused: number;
    readonly reported: number;
    readonly failed: number;
    readonly notFound: number;
    readonly skippedNotReady: number;
    readonly skippedOverLimit: number;
  };
  /** The pods ranked across the nodes, the most likely culprit first (at most 10). */
  readonly top: readonly CensusNoticeTopPod[];
  /** The nodes the message names (at most 20): the top pods' nodes first, then in the census's order. */
  readonly nodes: readonly CensusNoticeNode[];
  /** Censused nodes the message does not name. */
  readonly nodesOmitted: number;
}

/** The last segment of an Azure resource id (its name); null when there is none. */
export function resourceName(id: string | null): string | null {
  if (id === null) return null;
  const last = id
    .split('/')
    .filter((s) => s.length > 0)
    .at(-1);
  return last ?? null;
}

interface CensusBudget {
  /** Rows of the top pods table. */
  readonly pods: number;
  /** Rows of the node reports table. */
  readonly nodes: number;
  /** Code points of one cluster-controlled name. */
  readonly name: number;
  /** Code points of one longer text (a node's failure, the summary). */
  readonly text: number;
  /** Whether links are put on the card (each may be ~4 KB). */
  readonly links: boolean;
}

const CENSUS_BUDGETS: readonly CensusBudget[] = [
  { pods: 10, nodes: CENSUS_CARD_NODE_ROWS, name: 120, text: 300, links: true },
  { pods: 10, nodes: CENSUS_CARD_NODE_ROWS, name: 60, text: 160, links: true },
  { pods: 5, nodes: 10, name: 40, text: 120, links: true },
  { pods: 5, nodes: 5, name: 24, text: 80, links: true },
  { pods: 3, nodes: 3, name: 24, text: 60, links: true },
  { pods: 1, nodes: 0, name: 16, text: 60, links: false },
  { pods: 0, nodes: 0, name: 16, text: 40, links: false },
];

const OUTCOME_TEXT: Record<CensusNoticeNode['outcome'], string> = {
  reported: 'reported',
  'target-not-found': 'not found',
  failed: 'failed',
};

const plural = (n: number, one: string, many: string = `${one}s`): string => `${int(n)} ${n === 1 ? one : many}`;

function summaryRuns(notice: CensusNotice, budget: CensusBudget): Run[] {
  const name = (text: string): Run => run(clip(text, budget.name), { fontType: 'Monospace' });
  if (notice.outcome === 'no-nodes') {
    return [run(clip(notice.message ?? 'No node was censused.', budget.text))];
  }
  const first = notice.top[0];
  if (first === undefined) {
    return [
      run(
        notice.counts.reported === 0
          ? 'No node report could be written: no pod was ranked.'
          : `No pod was ranked: the censused pods on ${plural(notice.counts.reported, 'node')} hold no connections to public destinations.`,
      ),
    ];
  }
  const numbers = [
    first.score !== null ? `score ${int(first.score)}` : null,
    first.publicConnections !== null ? `${plural(first.publicConnections, 'public connection')}` : null,
  ].filter((t): t is string => t !== null);
  return [
    run('Most likely culprit across the cluster: '),
    { ...name(first.pod), weight: 'Bolder' },
    run(' on node '),
    name(first.node),
    ...(numbers.length > 0 ? [run(` (${numbers.join(', ')})`)] : []),
  ];
}

function countFacts(notice: CensusNotice): Array<{ title: string; value: string }> {
  const c = notice.counts;
  return [
    { title: 'Nodes in the cluster', value: int(c.total) },
    { title: 'Censused', value: int(c.censused) },
    { title: 'Reported', value: int(c.reported) },
    { title: 'Failed or not found', value: int(c.failed + c.notFound) },
    { title: 'Skipped: not Ready', value: int(c.skippedNotReady) },
    { title: 'Skipped: over the node limit', value: int(c.skippedOverLimit) },
  ];
}

/** A node's report cell: an "Open report" run linking to it, its path as text, or a dash. */
function reportCell(node: CensusNoticeNode, budget: CensusBudget): Run[] {
  if (node.reportUrl === null) return [run('–')];
  const link = budget.links ? safeLink(node.reportUrl) : null;
  if (link !== null) return [run('Open report', { selectAction: { type: 'Action.OpenUrl', url: link } })];
  // A report on a local folder (no links there), or a link too long for the card.
  if (!budget.links || /^https?:/i.test(node.reportUrl)) return [run('link not shown', { isSubtle: true })];
  return [run(clip(node.reportUrl, budget.text), { fontType: 'Monospace' })];
}

function censusCard(notice: CensusNotice, budget: CensusBudget): AdaptiveCard {
  const name = (text: string | null, fallback: string): Run =>
    text === null ? run(fallback) : run(clip(text, budget.name), { fontType: 'Monospace' });
  const title = { weight: 'Bolder', size: 'Medium' } as const;
  const small = { size: 'Small' } as const;
  const body: CardElement[] = [
    rich(
      [
        run('SNAT census of ', title),
        { ...name(notice.cluster.name ?? resourceName(notice.cluster.resourceId), 'an unknown cluster'), ...title },
        run(' (NAT gateway ', title),
        { ...name(notice.natGateway.name, 'unknown'), ...title },
        run(')', title),
      ],
      { spacing: 'None' },
    ),
    rich([
      ...(notice.trigger.source !== null
        ? [run('Alert ', small), { ...name(notice.trigger.source, 'unknown'), ...small }, run(' · ', small)]
        : []),
      run(`${clip(timestamp(notice.generatedAt), 40)} · `, small),
      { ...name(notice.investigationId, 'no id'), ...small },
    ]),
    rich(summaryRuns(notice, budget), { spacing: 'Medium' }),
    { type: 'FactSet', facts: countFacts(notice) },
  ];

  const pods = notice.top.slice(0, budget.pods);
  if (pods.length > 0) {
    body.push(heading(`Top ${pods.length} pods across ${plural(notice.counts.reported, 'node')}`));
    body.push(
      table(
        ['#', 'Pod', 'Node', 'Score', 'Public connections'],
        [1, 6, 5, 2, 3],
        pods.map((p, i) => [
          [run(int(i + 1))],
          [run(clip(p.pod, budget.name), { fontType: 'Monospace' })],
          [run(clip(p.node, budget.name), { fontType: 'Monospace' })],
          [run(orDash(p.score))],
          [run(orDash(p.publicConnections))],
        ]),
      ),
    );
  }

  const nodes = notice.nodes.slice(0, budget.nodes);
  if (nodes.length > 0) {
    body.push(heading(`Node reports (${int(nodes.length)} of ${int(notice.counts.censused)})`));
    body.push(
      table(
        ['Node', 'Outcome', 'Report'],
        [5, 5, 3],
        nodes.map((n) => [
          [run(clip(n.node, budget.name), { fontType: 'Monospace' })],
          [
            run(OUTCOME_TEXT[n.outcome]),
            ...(n.message !== null ? [run(`: ${clip(n.message, budget.text)}`, { isSubtle: true })] : []),
          ],
          reportCell(n, budget),
        ]),
      ),
    );
  }
  const more = notice.counts.censused - nodes.length;
  if (notice.outcome === 'census' && more > 0) {
    body.push({
      type: 'TextBlock',
      text: `…and ${plural(more, 'more node')}: the census's status lists every node and its report.`,
      isSubtle: true,
      wrap: true,
    });
  }

  // The top pod's node report, when the card links it.
  const firstNode = notice.top[0]?.investigationId;
  const topNode = notice.nodes.find((n) => n.investigationId === firstNode);
  const topLink = budget.links && topNode !== undefined ? safeLink(topNode.reportUrl) : null;
  return adaptiveCard(body, topLink !== null ? { title: "Open the top pod's node report", url: topLink } : null);
}

/**
 * The Workflows webhook body for a census, always under `maxBytes` serialised (TEAMS_MAX_BYTES by default): the
 * richest card that fits.
 */
export function censusTeamsMessage(notice: CensusNotice, options: { readonly maxBytes?: number } = {}): TeamsMessage {
  const cards = (function* () {
    for (const budget of CENSUS_BUDGETS) yield censusCard(notice, budget);
  })();
  return fittedMessage(cards, 'SNAT census of a cluster done: see its status.', options.maxBytes ?? TEAMS_MAX_BYTES);
}
