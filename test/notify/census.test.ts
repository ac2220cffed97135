/**
 * The census's one message (lib/notify/census.ts, webhook.ts `censusWebhookPayload`): the Teams card's content, its
 * size bound whatever the names and however many nodes, no cluster text in Markdown; the webhook payload's shape; which
 * (nodesToName, which picks the nodes named, is the workflow's: test/orchestrations/cluster.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CENSUS_CARD_NODE_ROWS, censusTeamsMessage, resourceName } from '../../lib/notify/census.js';
import type { CensusNotice, CensusNoticeNode } from '../../lib/notify/census.js';
import { TEAMS_MAX_BYTES } from '../../lib/notify/teams.js';
import type { TeamsMessage } from '../../lib/notify/teams.js';
import { jsonBytes } from '../../lib/notify/text.js';
import { censusWebhookPayload } from '../../lib/notify/webhook.js';

const NATGW = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/natGateways/ng-shop-egress';
const CLUSTER = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-shop';
const LINK = (id: string) => `https://st.blob.core.windows.net/reports/aks-shop/${id}/report.html?sv=2025&sp=r&sig=abc`;

type Node = Record<string, unknown>;

function elements(value: unknown, type: string, out: Node[] = []): Node[] {
  if (Array.isArray(value)) for (const v of value) elements(v, type, out);
  else if (value !== null && typeof value === 'object') {
    const node = value as Node;
    if (node.type === type) out.push(node);
    for (const v of Object.values(node)) elements(v, type, out);
  }
  return out;
}
const card = (m: TeamsMessage) => m.attachments[0].content;
const runs = (m: TeamsMessage): string[] => elements(m, 'TextRun').map((r) => r.text as string);
function markdownTexts(m: TeamsMessage): string[] {
  const facts = elements(m, 'FactSet').flatMap((f) =>
    (f.facts as Array<{ title: string; value: string }>).flatMap((x) => [x.title, x.value]),
  );
  return [...elements(m, 'TextBlock').map((t) => t.text as string), ...facts];
}
function tableRows(m: TeamsMessage, n: number): string[] {
  const t = elements(m, 'Table')[n];
  if (!t) return [];
  return (t.rows as Node[]).map((row) =>
    (row.cells as Node[])
      .map((cell) =>
        elements(cell, 'TextRun')
          .map((r) => r.text as string)
          .join(''),
      )
      .join(' | '),
  );
}
/** The URLs the card opens: its runs' select actions (in the body's order), then its actions. */
const linksOf = (m: TeamsMessage): string[] => elements(m, 'Action.OpenUrl').map((a) => a.url as string);

const node = (i: number, over: Partial<CensusNoticeNode> = {}): CensusNoticeNode => ({
  investigationId: `snat-c1-n${i}`,
  node: `aks-nodepool1-12345678-vmss00000${i}`,
  outcome: 'reported',
  reportUrl: LINK(`snat-c1-n${i}`),
  message: null,
  ...over,
});

const NOTICE: CensusNotice = {
  investigationId: 'snat-c1',
  generatedAt: '2026-11-26T10:02:00.000Z',
  trigger: { kind: 'alert', source: 'ng-shop-egress-snat-failed', alertId: 'a-1' },
  cluster: { name: 'aks-shop', resourceId: CLUSTER },
  natGateway: { name: 'ng-shop-egress', resourceId: NATGW },
  outcome: 'census',
  message: null,
  counts: { total: 4, censused: 3, reported: 2, failed: 1, notFound: 0, skippedNotReady: 1, skippedOverLimit: 0 },
  top: [
    {
      pod: 'shop/api-7d9f',
      node: 'aks-nodepool1-12345678-vmss000001',
      investigationId: 'snat-c1-n1',
      score: 870,
      publicConnections: 861,
    },
    {
      pod: 'shop/worker-1',
      node: 'aks-nodepool1-12345678-vmss000000',
      investigationId: 'snat-c1-n0',
      score: 40,
      publicConnections: 31,
    },
  ],
  nodes: [node(1), node(0), node(2, { outcome: 'failed', reportUrl: null, message: 'listPods: HTTP 500' })],
  nodesOmitted: 0,
};

describe('censusTeamsMessage', () => {
  it('one Adaptive Card: the cluster and gateway, the culprit across nodes, the counts, the top pods, each node report', () => {
    const m = censusTeamsMessage(NOTICE);
    expect(m.type).toBe('message');
    expect(m.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card(m).version).toBe('1.5');
    const all = runs(m).join('');
    expect(all).toContain('SNAT census of aks-shop (NAT gateway ng-shop-egress)');
    expect(all).toContain(
      'Most likely culprit across the cluster: shop/api-7d9f on node aks-nodepool1-12345678-vmss000001 (score 870, 861 public connections)',
    );
    expect(all).toContain('Alert ng-shop-egress-snat-failed');
    const facts = Object.fromEntries(
      (elements(m, 'FactSet')[0]?.facts as Array<{ title: string; value: string }>).map((f) => [f.title, f.value]),
    );
    expect(facts).toEqual({
      'Nodes in the cluster': '4',
      Censused: '3',
      Reported: '2',
      'Failed or not found': '1',
      'Skipped: not Ready': '1',
      'Skipped: over the node limit': '0',
    });
    expect(markdownTexts(m)).toContain('Top 2 pods across 2 nodes');
    expect(tableRows(m, 0)).toEqual([
      '# | Pod | Node | Score | Public connections',
      '1 | shop/api-7d9f | aks-nodepool1-12345678-vmss000001 | 870 | 861',
      '2 | shop/worker-1 | aks-nodepool1-12345678-vmss000000 | 40 | 31',
    ]);
    expect(markdownTexts(m)).toContain('Node reports (3 of 3)');
    expect(tableRows(m, 1)).toEqual([
      'Node | Outcome | Report',
      'aks-nodepool1-12345678-vmss000001 | reported | Open report',
      'aks-nodepool1-12345678-vmss000000 | reported | Open report',
      'aks-nodepool1-12345678-vmss000002 | failed: listPods: HTTP 500 | –',
    ]);
    expect(linksOf(m)).toEqual([LINK('snat-c1-n1'), LINK('snat-c1-n0'), LINK('snat-c1-n1')]);
    expect(card(m).actions).toEqual([
      { type: 'Action.OpenUrl', title: "Open the top pod's node report", url: LINK('snat-c1-n1') },
    ]);
    expect(jsonBytes(m)).toBeLessThan(TEAMS_MAX_BYTES);
  });

  it('says "and N more" for the nodes it does not name; a report path (no links) is shown as text', () => {
    const m = censusTeamsMessage({
      ...NOTICE,
      counts: { ...NOTICE.counts, censused: 25 },
      nodes: [node(0, { reportUrl: '/tmp/reports/snat-c1-n0/report.html' })],
      nodesOmitted: 24,
    });
    expect(markdownTexts(m)).toContain("…and 24 more nodes: the census's status lists every node and its report.");
    expect(tableRows(m, 1)[1]).toBe(
      'aks-nodepool1-12345678-vmss000000 | reported | /tmp/reports/snat-c1-n0/report.html',
    );
    expect(card(m).actions).toEqual([]);
  });

  it('no node censused: a short message that says why', () => {
    const m = censusTeamsMessage({
      ...NOTICE,
      outcome: 'no-nodes',
      message: 'no node to census: none of its 2 node(s) is Ready (2 not Ready); no node was investigated',
      counts: { total: 2, censused: 0, reported: 0, failed: 0, notFound: 0, skippedNotReady: 2, skippedOverLimit: 0 },
      top: [],
      nodes: [],
    });
    expect(runs(m).join('')).toContain('no node to census: none of its 2 node(s) is Ready');
    expect(elements(m, 'Table')).toEqual([]);
    expect(card(m).actions).toEqual([]);
    expect(markdownTexts(m).filter((t) => t.includes('more node'))).toEqual([]);
  });

  it('keeps cluster-controlled text out of Markdown and strips controls and direction overrides', () => {
    const evil = '**x** [c](https://evil.example)\u202Egnp.exe\n# h_';
    const m = censusTeamsMessage({
      ...NOTICE,
      cluster: { name: evil, resourceId: null },
      natGateway: { name: evil, resourceId: NATGW },
      trigger: { kind: 'alert', source: evil },
      investigationId: evil,
      top: NOTICE.top.map((t) => ({ ...t, pod: evil, node: evil })),
      nodes: NOTICE.nodes.map((n) => ({ ...n, node: evil, message: n.message === null ? null : evil })),
    });
    for (const text of markdownTexts(m))
      for (const bad of ['evil.example', '**x**', 'gnp']) expect(text).not.toContain(bad);
    expect(runs(m).join('\n')).toContain('**x** [c](https://evil.example) gnp.exe # h_');
    // eslint-disable-next-line no-control-regex
    for (const text of runs(m)) expect(text).not.toMatch(/[\u0000-\u001f\u202e]/);
    // A link that is no http(s) URL is never put on the card.
    const bad = censusTeamsMessage({ ...NOTICE, nodes: [node(1, { reportUrl: 'javascript:alert(1)' })] });
    expect(linksOf(bad)).toEqual([]);
  });

  it('fits 100 nodes with long names and 4 KB links under 28 KB, still naming the culprit', () => {
    const long = 'aks-' + 'nodepool-with-a-very-long-name-'.repeat(8);
    const nodes = Array.from({ length: 100 }, (_, i) =>
      node(i, { node: `${long}${i}`, reportUrl: `${LINK(`snat-c1-n${i}`)}&x=${'a'.repeat(3800)}` }),
    );
    const m = censusTeamsMessage({
      ...NOTICE,
      counts: { ...NOTICE.counts, censused: 100, reported: 100, failed: 0 },
      top: Array.from({ length: 10 }, (_, i) => ({
        pod: `${'ns-'.repeat(20)}/${'pod-'.repeat(60)}${i}`,
        node: `${long}${i}`,
        investigationId: `snat-c1-n${i}`,
        score: 1000 - i,
        publicConnections: 900 - i,
      })),
      nodes: nodes.slice(0, CENSUS_CARD_NODE_ROWS),
      nodesOmitted: 80,
    });
    expect(jsonBytes(m)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(runs(m).join('')).toContain('Most likely culprit across the cluster: ');
    expect(linksOf(m).length).toBeGreaterThan(0);
    expect(markdownTexts(m).some((t) => /^…and \d+ more nodes/.test(t))).toBe(true);
  });

  it('shrinks to any smaller budget, down to a bare card', () => {
    const full = jsonBytes(censusTeamsMessage(NOTICE));
    const smaller = censusTeamsMessage(NOTICE, { maxBytes: full - 1 });
    expect(jsonBytes(smaller)).toBeLessThan(full);
    const bare = censusTeamsMessage(NOTICE, { maxBytes: 100 });
    expect(markdownTexts(bare)).toEqual(['SNAT census of a cluster done: see its status.']);
  });

  it('is always under 28 KB, whatever the census holds (property)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.string({ unit: 'grapheme', maxLength: 32 }).map((s) => s.repeat(400)),
      fc.constantFrom('', '\\"'.repeat(5000), '\u202E'.repeat(3000), '🙂'.repeat(3000), '\ud800'.repeat(2000)),
    );
    const url = fc.option(
      fc.oneof(
        fc.webUrl(),
        text.map((t) => `https://x.example/${t}`),
        fc.constant(`https://x.example/${'a'.repeat(4000)}`),
        text,
      ),
    );
    const outcome = fc.constantFrom('reported' as const, 'failed' as const, 'target-not-found' as const);
    const noticeArb = fc
      .record({
        names: fc.array(fc.record({ node: text, pod: text, url, message: fc.option(text), outcome }), {
          minLength: 1,
          maxLength: 5,
        }),
        count: fc.integer({ min: 0, max: 100 }),
        cluster: fc.option(text),
        gateway: fc.option(text),
        source: fc.option(text),
        id: text,
        message: fc.option(text),
        noNodes: fc.boolean(),
        score: fc.option(fc.double()),
      })
      .map(({ names, count, cluster, gateway, source, id, message, noNodes, score }): CensusNotice => {
        const pick = (i: number) => names[i % names.length]!;
        const nodes = Array.from({ length: count }, (_, i): CensusNoticeNode => ({
          investigationId: `${id}-n${i}`,
          node: pick(i).node,
          outcome: pick(i).outcome,
          reportUrl: pick(i).url,
          message: pick(i).message,
        }));
        return {
          ...NOTICE,
          investigationId: id,
          trigger: { kind: 'alert', source },
          cluster: { name: cluster, resourceId: null },
          natGateway: { name: gateway, resourceId: NATGW },
          outcome: noNodes ? 'no-nodes' : 'census',
          message,
          counts: { ...NOTICE.counts, censused: count },
          top: Array.from({ length: Math.min(10, count) }, (_, i) => ({
            pod: pick(i).pod,
            node: pick(i).node,
            investigationId: `${id}-n${i}`,
            score,
            publicConnections: score,
          })),
          nodes: nodes.slice(0, CENSUS_CARD_NODE_ROWS),
          nodesOmitted: Math.max(0, count - CENSUS_CARD_NODE_ROWS),
        };
      });
    fc.assert(
      fc.property(noticeArb, (notice) => {
        const m = censusTeamsMessage(notice);
        expect(jsonBytes(m)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
        expect(JSON.parse(JSON.stringify(m))).toEqual(m);
        expect(JSON.stringify(m)).not.toMatch(/\\ud[89a-f]/i);
        for (const link of linksOf(m)) expect(link).toMatch(/^https?:\/\//);
      }),
      { numRuns: 40 },
    );
  });
});

describe('censusWebhookPayload', () => {
  it('kind census: the counts, the ranked pods with their nodes, the node reports with their links', () => {
    const p = censusWebhookPayload({ ...NOTICE, nodesOmitted: 7 });
    expect(p).toEqual({
      schemaVersion: 1,
      kind: 'census',
      investigationId: 'snat-c1',
      generatedAt: '2026-11-26T10:02:00.000Z',
      alertRule: 'ng-shop-egress-snat-failed',
      cluster: { name: 'aks-shop', resourceId: CLUSTER },
      natGateway: { name: 'ng-shop-egress', resourceId: NATGW },
      outcome: 'census',
      message: null,
      counts: NOTICE.counts,
      topPods: [
        { rank: 1, ...NOTICE.top[0] },
        { rank: 2, ...NOTICE.top[1] },
      ],
      nodeReports: [
        {
          investigationId: 'snat-c1-n1',
          node: 'aks-nodepool1-12345678-vmss000001',
          outcome: 'reported',
          reportUrl: LINK('snat-c1-n1'),
          message: null,
        },
        {
          investigationId: 'snat-c1-n0',
          node: 'aks-nodepool1-12345678-vmss000000',
          outcome: 'reported',
          reportUrl: LINK('snat-c1-n0'),
          message: null,
        },
        {
          investigationId: 'snat-c1-n2',
          node: 'aks-nodepool1-12345678-vmss000002',
          outcome: 'failed',
          reportUrl: null,
          message: 'listPods: HTTP 500',
        },
      ],
      nodeReportsOmitted: 7,
    });
  });
});

describe('resourceName', () => {
  it('the name of a resource id is its last segment', () => {
    expect(resourceName(NATGW)).toBe('ng-shop-egress');
    expect(resourceName(`${NATGW}/`)).toBe('ng-shop-egress');
    expect(resourceName('')).toBeNull();
    expect(resourceName(null)).toBeNull();
  });
});
