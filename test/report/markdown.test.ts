import { describe, expect, it } from 'vitest';
import { mdCell, mdCode, mdText, renderMarkdown } from '../../lib/report/markdown.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

/** GFM's cell split: a pipe ends a cell unless a backslash escapes it (code spans do not protect it). */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = '';
  for (let i = 0; i < row.length; i++) {
    const c = row[i];
    if (c === '\\' && i + 1 < row.length) {
      cell += c + row[i + 1];
      i++;
    } else if (c === '|') {
      out.push(cell);
      cell = '';
    } else {
      cell += c;
    }
  }
  out.push(cell);
  return out.slice(1, -1);
}

/** Every table in the document: its rows split into cells. */
function tables(md: string): string[][][] {
  const found: string[][][] = [];
  let current: string[][] | null = null;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      current ??= [];
      current.push(cells(line));
    } else if (current) {
      found.push(current);
      current = null;
    }
  }
  if (current) found.push(current);
  return found;
}

/** Text outside code spans (CommonMark: a run of N backticks closes at the next run of exactly N). */
function outsideCode(md: string): string {
  return md.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, '');
}

describe('renderMarkdown', () => {
  it('renders the culprit report (golden)', async () => {
    await expect(renderMarkdown(culpritReport)).toMatchFileSnapshot('../golden/report/culprit.md');
  });

  it('renders the empty, degraded report (golden)', async () => {
    await expect(renderMarkdown(emptyReport)).toMatchFileSnapshot('../golden/report/empty.md');
  });

  it('renders the hostile report (golden)', async () => {
    await expect(renderMarkdown(hostileReport)).toMatchFileSnapshot('../golden/report/hostile.md');
  });

  it('opens with the verdict the design asks for', () => {
    const md = renderMarkdown(culpritReport);
    expect(md.split('\n')[0]).toBe('# SNAT investigation: node `aks-nodepool1-38290145-vmss000003` (`10.224.0.5`)');
    expect(md).toContain(
      '**Most likely culprit:** `payments/checkout-api-7d9f8b6c5d-x2k4p` (`Deployment/checkout-api`) holds 870 of 1,024 allocated SNAT ports toward `20.1.2.3:443` (85%), with 112 connects stuck in SYN_SENT and 41.3 public connects/s.',
    );
    expect(md).toContain(
      '| 1 | `payments/checkout-api-7d9f8b6c5d-x2k4p` | `Deployment/checkout-api` | 748 | 751 | 112 | 22 | 41.3 | `20.1.2.3:443` 870 (85%) | 0.91 |',
    );
  });

  it('orders findings by severity, keeping the analysis order within one', () => {
    const md = renderMarkdown(culpritReport);
    const headings = md.split('\n').filter((l) => l.startsWith('### ') && !l.startsWith('### Why'));
    expect(headings).toEqual(['### Critical (2)', '### Warning (1)', '### Info (1)']);
    expect(md.indexOf('holds 870 of 1024')).toBeLessThan(md.indexOf('112 connects from'));
  });

  it.each([
    ['culprit', culpritReport, [2, 10, 5, 5, 3]],
    ['hostile', hostileReport, [2, 10, 5, 5, 3]],
    ['empty', emptyReport, [2]],
  ] as const)('keeps every table of the %s report rectangular', (_name, report, widths) => {
    const found = tables(renderMarkdown(report));
    expect(found.map((t) => t[0]?.length)).toEqual(widths);
    for (const table of found) {
      for (const row of table) expect(row).toHaveLength(table[0]?.length ?? -1);
    }
  });

  it('puts the hostile pod names in their own cells', () => {
    const podsTable = tables(renderMarkdown(hostileReport))[1] ?? [];
    expect(podsTable.map((row) => row[1]?.trim())).toEqual([
      'Pod',
      '---',
      'evil\\|ns/\\<script\\>alert(1)\\</script\\>',
      `a\\|b/very-long-${'x'.repeat(180)} (hostNetwork)`,
      'ns/back\\\\slash\\|pipe',
    ]);
  });

  it('leaves no raw HTML, link or emphasis from the cluster outside code spans', () => {
    // Our own markup (bold labels, the artifact links) is taken out first; what remains came from the report.
    const text = outsideCode(renderMarkdown(hostileReport))
      .replace(/\*\*/g, '')
      .split('\n')
      .filter((line) => !/^- \[report\.(json|md)\]\(<report\.(json|md)>\)$/.test(line))
      .join('\n');
    expect(text).not.toMatch(/(^|[^\\])</);
    expect(text).not.toMatch(/(^|[^\\])\[/);
    expect(text).not.toMatch(/(^|[^\\])\*(?!\*)/m);
    expect(text).not.toMatch(/https?:\/\//);
    expect(text).not.toContain('](javascript');
  });

  it('keeps a newline inside a name from starting a new line', () => {
    const md = renderMarkdown(hostileReport);
    expect(md).toContain('- **collectCapture\\<script\\>**: line one line two \\| with pipe');
    expect(md).toContain('- \\# heading? \\| injected \\| row \\|');
  });

  it('links only web and relative artifacts', () => {
    const md = renderMarkdown(hostileReport);
    expect(md).toContain('- [report.json](<report.json>)');
    expect(md).toContain('- report.html: `javascript:alert(document.domain)`');
    expect(md).toContain('- raw capture: `https://evil.example/capture.log" onmouseover="alert(1)`');
  });

  it('shows 25 pods and says how many more there are', () => {
    const md = renderMarkdown(manyPodsReport);
    expect((tables(md)[1] ?? []).length).toBe(2 + 25);
    expect(md).toContain('_5 more pods ranked lower; see report.json._');
    expect(md).toContain('_3 more destinations; see report.json._');
  });
});

describe('markdown escaping', () => {
  it.each([
    ['plain-name-1', 'plain-name-1'],
    ['a|b', 'a\\|b'],
    ['<script>', '\\<script\\>'],
    ['*x* _y_ `z`', '\\*x\\* \\_y\\_ \\`z\\`'],
    ['SYN_SENT', 'SYN_SENT'],
    ['[l](u)', '\\[l\\](u)'],
    ['# h', '\\# h'],
    ['1. item', '1\\. item'],
    ['- item', '\\- item'],
    ['&amp;', '\\&amp;'],
    ['a\\b', 'a\\\\b'],
    ['x\ny\rz', 'x y z'],
    ['see http://x and www.y.z', 'see http\\://x and www\\.y.z'],
  ])('mdText(%j) = %j', (input, output) => {
    expect(mdText(input)).toBe(output);
  });

  it.each([
    ['ns/pod', '`ns/pod`'],
    ['a`b', '``a`b``'],
    ['`x`', '`` `x` ``'],
    ['a``b', '```a``b```'],
    ['', '(empty)'],
    ['two\nlines', '`two lines`'],
  ])('mdCode(%j) = %j', (input, output) => {
    expect(mdCode(input)).toBe(output);
  });

  it('mdCell uses escaped text for names holding a pipe', () => {
    expect(mdCell('ns/pod')).toBe('`ns/pod`');
    expect(mdCell('a\\|b')).toBe('a\\\\\\|b');
  });
});
