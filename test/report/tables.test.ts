import { describe, expect, it } from 'vitest';
import { MAX_DESTINATION_ROWS, MAX_POD_ROWS } from '../../lib/report/format.js';
import { renderHtml } from '../../lib/report/html.js';
import { renderMarkdown } from '../../lib/report/markdown.js';
import type { PodRanking, Report } from '../../lib/report/model.js';
import {
  captureTable,
  dataQualityTable,
  destinationsTable,
  podsTable,
  scoreTable,
  snatTable,
} from '../../lib/report/tables.js';
import type { Cell, Table } from '../../lib/report/tables.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

/** A cell as one line: names in backticks, muted figures in braces, flags in brackets. */
function plain(cell: Cell): string {
  return cell
    .map((p) =>
      'code' in p
        ? `\`${p.code}\``
        : 'figure' in p
          ? p.muted
            ? `{${p.figure}}`
            : p.figure
          : 'flag' in p
            ? `[${p.flag}]`
            : p.text,
    )
    .join(' ');
}

const rows = (t: Table | null) => (t?.rows ?? []).map((row) => row.map(plain));
const culprit = culpritReport.pods[0] as PodRanking;

describe('snatTable', () => {
  it('gives the used ports with their share of the allocation', () => {
    expect(rows(snatTable(culpritReport))).toEqual([
      ['Allocated SNAT ports', '1,024'],
      ['Used SNAT ports', '1,019 (99.5% of allocated)'],
      ['Failed SNAT connections', '3,412'],
    ]);
  });

  it('dashes unknown metrics and leaves out a share it cannot compute', () => {
    const report: Report = { ...culpritReport, snat: { allocatedPorts: 0, usedPorts: 12, failedConnections: null } };
    expect(rows(snatTable(report)).map((r) => r[1])).toEqual(['0', '12', '–']);
  });
});

describe('podsTable', () => {
  it('has no table without pods', () => {
    expect(podsTable(emptyReport)).toBeNull();
    expect(scoreTable(emptyReport)).toBeNull();
  });

  it('writes one row per pod with the top destination and its share', () => {
    const table = podsTable(culpritReport);
    expect(table?.columns.map((c) => c.align)).toEqual([
      'right',
      'left',
      'left',
      'right',
      'right',
      'right',
      'right',
      'right',
      'left',
      'right',
    ]);
    expect(table?.highlightFirst).toBe(true);
    expect(rows(table)[0]).toEqual([
      '1',
      '`payments/checkout-api-7d9f8b6c5d-x2k4p`',
      '`Deployment/checkout-api`',
      '748',
      '751',
      '112',
      '22',
      '41.3',
      '`20.1.2.3:443` 870 {(85%)}',
      '0.91',
    ]);
  });

  it('flags host-network pods and dims what is unknown', () => {
    const [, second, third] = rows(podsTable(hostileReport));
    expect(second?.[1]).toMatch(/^`a\|b\/very-long-x+` \[hostNetwork\]$/);
    expect(third?.slice(1, 3)).toEqual(['`ns/back\\slash|pipe`', '{–}']);
    expect(third?.slice(7, 9)).toEqual(['–', '{–}']);
  });

  it('cuts the table at MAX_POD_ROWS and says how many pods it left out', () => {
    const table = podsTable(manyPodsReport);
    expect(table?.rows).toHaveLength(MAX_POD_ROWS);
    expect(table?.more).toBe('5 more pods ranked lower; see report.json.');
    expect(podsTable(culpritReport)?.more).toBeNull();
  });
});

describe('scoreTable', () => {
  it('explains the first pod under a caption naming it', () => {
    const table = scoreTable(culpritReport);
    expect(table?.caption).toEqual([
      { text: 'Why ' },
      { code: 'payments/checkout-api-7d9f8b6c5d-x2k4p' },
      { text: ' ranks first' },
    ]);
    expect(table?.rows).toHaveLength(culprit.evidence.length);
  });

  it('has no table when the first pod carries no evidence', () => {
    expect(scoreTable(manyPodsReport)).toBeNull();
  });
});

describe('destinationsTable', () => {
  it('numbers the destinations and cuts them at MAX_DESTINATION_ROWS', () => {
    const table = destinationsTable(manyPodsReport);
    expect(table?.rows).toHaveLength(MAX_DESTINATION_ROWS);
    expect(rows(table)[0]).toEqual(['1', '`20.0.0.1:443`', '290', '2', '14%']);
    expect(table?.more).toBe('3 more destinations; see report.json.');
  });

  it('has no table without destinations', () => {
    expect(destinationsTable(emptyReport)).toBeNull();
  });
});

describe('captureTable and dataQualityTable', () => {
  it('states the capture facts', () => {
    expect(rows(captureTable(hostileReport))).toEqual([
      ['Capture', 'truncated (the capture stopped early or hit its size bound)'],
      ['Tool', 'tcptracer (libbpf)'],
      ['Duration', '30 s'],
      ['Events', '900 connect, 0 accept, 850 close; 17 lost; output truncated'],
    ]);
  });

  it('lists the data-quality notes, or has no table when there are none', () => {
    expect(rows(dataQualityTable(hostileReport))).toEqual([
      ['`netstat `x``', '<style>body{display:none}</style>', '1'],
    ]);
    expect(dataQualityTable(manyPodsReport)).toBeNull();
  });
});

/** The header cells of every Markdown table, in document order. */
function markdownHeaders(md: string): string[][] {
  const lines = md.split('\n');
  return lines.flatMap((line, i) =>
    line.startsWith('| ') && !(lines[i - 1] ?? '').startsWith('|') ? [line.slice(2, -2).split(' | ')] : [],
  );
}

/** The header cells of every HTML table with a header row, in document order. */
function htmlHeaders(html: string): string[][] {
  return [...html.matchAll(/<thead><tr>(.*?)<\/tr><\/thead>/g)].map((m) =>
    [...(m[1] ?? '').matchAll(/<th [^>]*>(.*?)<\/th>/g)].map((h) => h[1] ?? ''),
  );
}

describe('both renderers', () => {
  it.each([
    ['culprit', culpritReport],
    ['empty', emptyReport],
    ['hostile', hostileReport],
    ['many pods', manyPodsReport],
  ] as const)('write the same tables with the same columns (%s)', (_name, report) => {
    const grid = [podsTable(report), scoreTable(report), destinationsTable(report), dataQualityTable(report)]
      .filter((t): t is Table => t !== null)
      .map((t) => t.columns.map((c) => c.header));
    // The SNAT table is a header-less key-value table in report.html.
    expect(markdownHeaders(renderMarkdown(report))).toEqual([snatTable(report).columns.map((c) => c.header), ...grid]);
    expect(htmlHeaders(renderHtml(report))).toEqual(grid);
  });
});
