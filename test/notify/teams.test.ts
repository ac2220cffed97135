import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PodRanking, Report } from '../../lib/report/model.js';
import { TEAMS_MAX_BYTES, teamsMessage } from '../../lib/notify/teams.js';
import type { TeamsMessage } from '../../lib/notify/teams.js';
import { jsonBytes } from '../../lib/notify/text.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

const LINK = 'https://stsnat.blob.core.windows.net/reports/c/n/2024/05/14/i/report.html?sv=2025&sp=r&sig=abc';

type Node = Record<string, unknown>;

/** Every object in the card with the given type. */
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
/** Text Teams reads as Markdown: TextBlocks and FactSet titles and values. */
function markdownTexts(m: TeamsMessage): string[] {
  const facts = elements(m, 'FactSet').flatMap((f) =>
    (f.facts as Array<{ title: string; value: string }>).flatMap((x) => [x.title, x.value]),
  );
  return [...elements(m, 'TextBlock').map((t) => t.text as string), ...facts];
}
/** The text of each row of the n-th table, cells joined by ` | `. */
function tableRows(m: TeamsMessage, n: number): string[] {
  const table = elements(m, 'Table')[n];
  if (!table) return [];
  return (table.rows as Node[]).map((row) =>
    (row.cells as Node[])
      .map((cell) =>
        elements(cell, 'TextRun')
          .map((r) => r.text as string)
          .join(''),
      )
      .join(' | '),
  );
}

describe('teamsMessage', () => {
  it('is a Workflows message with one Adaptive Card 1.5 summarising the report', () => {
    const m = teamsMessage(culpritReport, { reportUrl: LINK });
    expect(m.type).toBe('message');
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(m.attachments[0].contentUrl).toBeNull();
    const c = card(m);
    expect(c.type).toBe('AdaptiveCard');
    expect(c.version).toBe('1.5');
    expect(c.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Open report', url: LINK }]);

    const facts = Object.fromEntries(
      (elements(m, 'FactSet')[0]?.facts as Array<{ title: string; value: string }>).map((f) => [f.title, f.value]),
    );
    expect(facts['SNAT ports used']).toBe('1,019 of 1,024 (99.5%)');
    expect(facts['Failed SNAT connections']).toBe('3,412');
    const critical = culpritReport.findings.filter((f) => f.severity === 'critical').length;
    expect(facts['Findings']).toContain(`${critical} critical`);
    expect(facts['Degraded steps']).toBe(String(culpritReport.degraded.length));

    const top = culpritReport.pods[0];
    expect(runs(m).join('')).toContain('Most likely culprit:');
    expect(tableRows(m, 0)[0]).toBe('# | Pod | SNAT flows | Top destination');
    expect(tableRows(m, 0)[1]).toContain(`${top?.namespace}/${top?.name}`);
    expect(tableRows(m, 1)[1]).toContain('20.1.2.3:443');
    expect(jsonBytes(m)).toBeLessThan(TEAMS_MAX_BYTES);
  });

  it('shows the top 5 pods and destinations of a larger report', () => {
    const m = teamsMessage(manyPodsReport, { reportUrl: LINK });
    expect(tableRows(m, 0)).toHaveLength(6);
    expect(tableRows(m, 1)).toHaveLength(6);
    expect(tableRows(m, 0)[5]).toMatch(/^5 \| team-e\/worker-5 \|/);
    expect(markdownTexts(m)).toContain('Top 5 of 30 pods');
    expect(markdownTexts(m)).toContain('The full ranking is in the report.');
  });

  it('says so when there is no link, and has no action', () => {
    const m = teamsMessage(emptyReport, { reportUrl: null });
    expect(card(m).actions).toEqual([]);
    expect(markdownTexts(m)).toContain('The report could not be stored; no link.');
    expect(card(m).actions).toEqual(
      teamsMessage(emptyReport, { reportUrl: 'javascript:alert(1)' }).attachments[0].content.actions,
    );
  });

  it('keeps cluster-controlled text out of Markdown (TextBlock, FactSet) and strips controls and overrides', () => {
    const evil: Report = {
      ...hostileReport,
      node: { name: '**bold** [x](https://evil.example)\u202Egnp.exe\n# h', ip: null },
      pods: hostileReport.pods.map((p, i) =>
        i === 0 ? { ...p, name: '[click](https://evil.example)\u0000\u200b_x_' } : p,
      ),
    };
    const m = teamsMessage(evil, { reportUrl: LINK });
    const clusterTexts = ['evil.example', '<script>', 'evil|ns', 'prod`cluster', 'inv-<b>hostile', '**bold**'];
    for (const text of markdownTexts(m)) for (const bad of clusterTexts) expect(text).not.toContain(bad);
    const all = runs(m).join('\n');
    expect(all).toContain('[click](https://evil.example) _x_');
    expect(all).toContain('**bold** [x](https://evil.example) gnp.exe # h');
    // eslint-disable-next-line no-control-regex
    for (const text of runs(m)) expect(text).not.toMatch(/[\u0000-\u001f\u200b\u202e]/);
  });

  it('fits a huge report: 5,000 pods with 10 KB unicode names', () => {
    const big = 'ü🙂<*_'.repeat(2000);
    const pod = (i: number): PodRanking => ({
      ...(manyPodsReport.pods[0] as PodRanking),
      rank: i + 1,
      namespace: big,
      name: `${big}-${i}`,
      owner: big,
      topDestinations: [{ ip: big, port: 443, flows: 10, shareOfAllocated: 0.01 }],
    });
    const huge: Report = {
      ...manyPodsReport,
      cluster: { name: big, resourceId: big },
      node: { name: big, ip: big },
      investigationId: big,
      pods: Array.from({ length: 5000 }, (_, i) => pod(i)),
      destinations: Array.from({ length: 5000 }, (_, i) => ({
        ip: big,
        port: i,
        flows: 1,
        pods: 1,
        shareOfAllocated: null,
      })),
      findings: Array.from({ length: 3000 }, () => ({ severity: 'critical' as const, text: big, evidence: {} })),
      degraded: Array.from({ length: 1000 }, () => ({ step: big, reason: big })),
    };
    const m = teamsMessage(huge, { reportUrl: LINK });
    expect(jsonBytes(m)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(tableRows(m, 0).length).toBeGreaterThan(1);
    expect(card(m).actions).toHaveLength(1);
    for (const text of runs(m)) expect(Array.from(text).length).toBeLessThanOrEqual(800);
  });

  it('shrinks to any smaller budget, down to a bare card', () => {
    const full = jsonBytes(teamsMessage(manyPodsReport, { reportUrl: LINK }));
    const smaller = teamsMessage(manyPodsReport, { reportUrl: LINK, maxBytes: full - 1 });
    expect(jsonBytes(smaller)).toBeLessThan(full);
    expect(tableRows(smaller, 0).length).toBeLessThan(6);
    const bare = teamsMessage(manyPodsReport, { reportUrl: LINK, maxBytes: 100 });
    expect(markdownTexts(bare)).toEqual(['SNAT port exhaustion investigated: see the report.']);
  });

  it('is always under 28 KB, whatever the report holds (property)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.string({ unit: 'grapheme', maxLength: 32 }).map((s) => s.repeat(400)),
      fc.constantFrom('', '\\"'.repeat(5000), '\u202E'.repeat(3000), '🙂'.repeat(3000), '\ud800'.repeat(2000)),
    );
    const podArb = fc.record({ ns: text, name: text, owner: fc.option(text), ip: text });
    const reportArb = fc
      .record({
        pods: fc.array(podArb, { maxLength: 6 }),
        copies: fc.integer({ min: 1, max: 2000 }),
        node: fc.option(text),
        cluster: fc.option(text),
        id: text,
        url: fc.option(
          fc.oneof(
            fc.webUrl(),
            text.map((t) => `https://x.example/${t}`),
          ),
        ),
      })
      .map(({ pods, copies, node, cluster, id, url }): [Report, string | null] => {
        const ranked = Array.from({ length: pods.length * copies }, (_, i): PodRanking => {
          const p = pods[i % pods.length] as (typeof pods)[number];
          return {
            ...(manyPodsReport.pods[0] as PodRanking),
            rank: i + 1,
            namespace: p.ns,
            name: p.name,
            owner: p.owner,
            topDestinations: [{ ip: p.ip, port: 443, flows: 100_000 + i, shareOfAllocated: 97.3 }],
          };
        });
        return [
          {
            ...manyPodsReport,
            investigationId: id,
            node: { name: node, ip: null },
            cluster: { name: cluster, resourceId: null },
            pods: ranked,
            destinations: ranked.map((p) => ({ ip: p.name, port: 1, flows: 9, pods: 9, shareOfAllocated: null })),
          },
          url,
        ];
      });
    fc.assert(
      fc.property(reportArb, ([report, url]) => {
        const m = teamsMessage(report, { reportUrl: url });
        const bytes = jsonBytes(m);
        expect(bytes).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
        expect(JSON.parse(JSON.stringify(m))).toEqual(m);
        expect(JSON.stringify(m)).not.toMatch(/\\ud[89a-f]/i);
      }),
      { numRuns: 40 },
    );
  });
});
