import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../lib/report/escape.js';
import { CONTENT_SECURITY_POLICY, renderHtml } from '../../lib/report/html.js';
import type { Report } from '../../lib/report/model.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

const CHARTS = ['chart-pods', 'chart-destinations', 'chart-snat'] as const;

/** The `<svg id="...">...</svg>` of one chart. */
function chart(html: string, id: string): string {
  const match = new RegExp(`<svg id="${id}"[\\s\\S]*?</svg>`).exec(html);
  if (!match) throw new Error(`no chart ${id}`);
  return match[0];
}

function barValues(svg: string): number[] {
  return [...svg.matchAll(/<g class="bar" data-value="([^"]*)"/g)].map((m) => Number(m[1]));
}

/** The opening tags of the document, attribute values emptied: what a browser would treat as markup. */
function tags(html: string): string[] {
  return [...html.matchAll(/<[a-zA-Z][^>]*>/g)].map((m) => m[0].replace(/="[^"]*"/g, '=""'));
}

/** Everything but the artifacts section, where report links may point at Blob Storage. */
function withoutArtifacts(html: string): string {
  return html.replace(/<section id="artifacts">[\s\S]*?<\/section>/, '');
}

describe('renderHtml', () => {
  it('renders the culprit report (golden)', async () => {
    await expect(renderHtml(culpritReport)).toMatchFileSnapshot('../golden/report/culprit.html');
  });

  it('renders the empty, degraded report (golden)', async () => {
    await expect(renderHtml(emptyReport)).toMatchFileSnapshot('../golden/report/empty.html');
  });

  it('renders the hostile report (golden)', async () => {
    await expect(renderHtml(hostileReport)).toMatchFileSnapshot('../golden/report/hostile.html');
  });

  it.each([
    ['culprit', culpritReport],
    ['empty', emptyReport],
    ['hostile', hostileReport],
  ] as const)('%s: one self-contained document with a strict policy and no script', (_name, report) => {
    const html = renderHtml(report);
    expect(html.startsWith('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')).toBe(true);
    expect(html).toContain(
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    );
    expect(CONTENT_SECURITY_POLICY).toBe("default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    expect(html).not.toMatch(/<script/i);
    const markup = tags(html);
    expect(markup.filter((t) => /\son[a-z]+\s*=/i.test(t))).toEqual([]);
    expect(markup.filter((t) => /\ssrc\s*=/i.test(t))).toEqual([]);
    expect(markup.filter((t) => /\shref\s*=/i.test(t) && !t.startsWith('<a ') && !t.startsWith('<link '))).toEqual([]);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|form|base)\b/i);
    expect([...html.matchAll(/<link\b[^>]*>/g)].map((m) => m[0])).toEqual(['<link rel="icon" href="data:,">']);
    // Web addresses may appear as escaped text (a finding quoting one), never inside markup outside the artifacts.
    expect([...withoutArtifacts(html).matchAll(/<[a-zA-Z][^>]*>/g)].filter((m) => /https?:\/\//i.test(m[0]))).toEqual(
      [],
    );
    if (report !== hostileReport) expect(withoutArtifacts(html)).not.toMatch(/https?:\/\//i);
    expect(html.match(/<style>/g)).toHaveLength(1);
  });

  it('escapes every hostile string', () => {
    const html = renderHtml(hostileReport);
    expect(html).toContain('<h1>SNAT investigation: node <code>node-&lt;script&gt;alert(1)&lt;/script&gt;</code>');
    expect(html).toContain('<title>SNAT investigation: node-&lt;script&gt;alert(1)&lt;/script&gt; (10.0.0.9)</title>');
    expect(html).toContain('<code>Deployment/<wbr>&lt;img src=x onerror=alert(1)&gt;</code>');
    expect(html).toContain('CLI: &lt;/title&gt;&lt;script&gt;alert(&quot;trigger&quot;)&lt;/script&gt;');
    expect(html).toContain('&lt;!-- comment --&gt;');
    expect(html).toContain('<td>&lt;style&gt;body{display:none}&lt;/style&gt;</td>');
    expect(html).toContain('data-label="#1 evil|ns/&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('<em>');
  });

  it('links only web and relative artifacts, and keeps a quote inside the attribute', () => {
    const html = renderHtml(hostileReport);
    const hrefs = [...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual(['report.json', 'report.md']);
    expect(html).toContain('<li>report.html: <code>javascript:alert(document.domain)</code></li>');
    expect(html).toContain(
      '<li>raw capture: <code>https://evil.example/capture.log&quot; onmouseover=&quot;alert(1)</code></li>',
    );
    const culprit = renderHtml(culpritReport);
    expect([...culprit.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1])).toEqual([
      culpritReport.artifacts.json,
      culpritReport.artifacts.markdown,
      culpritReport.artifacts.html,
      culpritReport.artifacts.rawCapture,
    ]);
  });

  it.each([
    ['culprit', culpritReport, [882, 64, 2, 0], [870, 64, 12, 2]],
    ['hostile', hostileReport, [64, 4, 0], [64, 4]],
    ['empty', emptyReport, [], []],
    [
      'many pods',
      manyPodsReport,
      [310, 300, 290, 273, 260, 251, 242, 233, 220, 211],
      [290, 275, 260, 245, 230, 215, 200, 185, 170, 155],
    ],
  ] as const)('%s: charts with accessible names and one bar per pod/destination', (_n, report, pods, dests) => {
    const html = renderHtml(report);
    for (const id of CHARTS) {
      expect(html.match(new RegExp(`id="${id}"`, 'g'))).toHaveLength(1);
      const svg = chart(html, id);
      expect(svg).toMatch(new RegExp(`^<svg id="${id}" class="chart ${id}[^"]*" role="img" aria-label="[^"]+"`));
      expect(svg).toMatch(/<title>[^<]+<\/title>/);
    }
    expect(barValues(chart(html, 'chart-pods'))).toEqual(pods);
    expect(barValues(chart(html, 'chart-destinations'))).toEqual(dests);
  });

  it('says "no data" in every chart of the empty report', () => {
    const html = renderHtml(emptyReport);
    for (const id of CHARTS) expect(chart(html, id)).toContain('<text class="no-data"');
    expect(chart(html, 'chart-snat')).toContain('No data: the load balancer SNAT metrics were not available.');
    expect(html).toContain('<section id="verdict" class="verdict sev-warning">');
  });

  it('marks the verdict with the worst finding severity', () => {
    expect(renderHtml(culpritReport)).toContain('<section id="verdict" class="verdict sev-critical">');
    const quiet: Report = { ...culpritReport, findings: [], degraded: [] };
    expect(renderHtml(quiet)).toContain('<section id="verdict" class="verdict">');
  });

  it('draws the allocation line on the destinations chart only when it is known', () => {
    const withAllocation = chart(renderHtml(culpritReport), 'chart-destinations');
    expect(withAllocation).toContain('<g class="reference" data-value="1024">');
    expect(withAllocation).toContain(
      'aria-label="Flows to the top 10 public destinations (whole node). 20.1.2.3:443 870;',
    );
    const unknown: Report = { ...culpritReport, snat: { allocatedPorts: null, usedPorts: null, failedConnections: 5 } };
    expect(chart(renderHtml(unknown), 'chart-destinations')).not.toContain('class="reference"');
  });
});

describe('escapeHtml', () => {
  it.each([
    ['plain', 'plain'],
    [`<a href="x" title='y'>&amp;</a>`, '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;'],
    ['nul\u0000bell\u0007 tab\tnewline\n', 'nul\uFFFDbell\uFFFD tab\tnewline\n'],
    ['ünïcödé → ✓', 'ünïcödé → ✓'],
  ])('escapeHtml(%j) = %j', (input, output) => {
    expect(escapeHtml(input)).toBe(output);
  });
});
