import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report/model.js';
import { COLORS, destinationsChart, emptyChart, niceScale, podsChart, snatGauge } from '../../lib/report/svg.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

function attr(svg: string, selector: RegExp): string[] {
  return [...svg.matchAll(selector)].map((m) => m[1] ?? '');
}

describe('niceScale', () => {
  it.each([
    [0, { max: 1, step: 1 }],
    [-5, { max: 1, step: 1 }],
    [Number.NaN, { max: 1, step: 1 }],
    [1, { max: 1, step: 1 }],
    [2, { max: 2, step: 1 }],
    [64, { max: 80, step: 20 }],
    [882, { max: 1000, step: 200 }],
    [1024, { max: 1200, step: 200 }],
    [64512, { max: 80000, step: 20000 }],
  ])('niceScale(%d) = %j', (max, scale) => {
    expect(niceScale(max)).toEqual(scale);
  });
});

describe('podsChart', () => {
  it('stacks ESTABLISHED, SYN_SENT and closing flows per pod, in rank order', () => {
    const svg = podsChart(culpritReport);
    expect(attr(svg, /<g class="bar" data-value="(\d+)"/g)).toEqual(['882', '64', '2', '0']);
    expect(attr(svg, /data-label="([^"]*)"/g)).toEqual([
      '#1 payments/checkout-api-7d9f8b6c5d-x2k4p',
      '#2 batch/report-export-28790412-qv7mt',
      '#3 ingress-nginx/ingress-nginx-controller-5c8d66c76d-9pq2w',
      '#4 kube-system/kube-proxy-7xk2m',
    ]);
    // Zero-width segments are left out; the culprit's bar shows all three states.
    expect(attr(svg, /<rect class="segment" data-value="(\d+)" data-series="[^"]*"/g)).toEqual([
      '748',
      '112',
      '22',
      '58',
      '6',
      '2',
    ]);
    expect(svg).toContain(`data-series="SYN_SENT" x="`);
    expect(svg).toContain(`fill="${COLORS.synSent}"/>`);
  });

  it('truncates long labels and keeps the full name in the tooltip', () => {
    const svg = podsChart(hostileReport);
    expect(svg).toContain(`>#2 a|b/very-long-${'x'.repeat(26)}…</text>`);
    expect(svg).toContain(`<title>#2 a|b/very-long-${'x'.repeat(180)}: ESTABLISHED 3, SYN_SENT 0, closing 1</title>`);
  });

  it('draws the top 10 of a longer ranking', () => {
    expect(attr(podsChart(manyPodsReport), /<g class="bar" data-value="(\d+)"/g)).toHaveLength(10);
  });

  it('says no data without pods', () => {
    const svg = podsChart(emptyReport);
    expect(svg).toContain('class="chart chart-pods chart-empty" role="img"');
    expect(svg).toContain('>No data: no pods were ranked.</text>');
    expect(svg).not.toContain('class="bar"');
  });
});

describe('destinationsChart', () => {
  it('draws one bar per destination and the allocation line', () => {
    const svg = destinationsChart(culpritReport);
    expect(attr(svg, /<g class="bar" data-value="(\d+)"/g)).toEqual(['870', '64', '12', '2']);
    expect(svg).toContain('<g class="reference" data-value="1024">');
    expect(svg).toContain('>allocated 1,024</text>');
  });

  it('scales bars to the axis: the allocation line sits at 1024 / 1200 of the plot', () => {
    const svg = destinationsChart(culpritReport);
    // Plot from x=340, 540 wide (960 - 340 label - 80 value columns).
    expect(svg).toContain(`<line x1="${340 + (1024 / 1200) * 540}" y1="40"`);
    expect(svg).toContain('<rect class="segment" data-value="870" data-series="flows" x="340" y="49" width="391.5"');
  });

  it('leaves the line out when the allocation is unknown', () => {
    const report: Report = {
      ...culpritReport,
      snat: { allocatedPorts: null, usedPorts: null, failedConnections: null },
    };
    const svg = destinationsChart(report);
    expect(svg).not.toContain('class="reference"');
    expect(svg).not.toContain('Allocated SNAT ports per destination');
  });

  it('writes IPv6 destinations with brackets', () => {
    expect(destinationsChart(hostileReport)).toContain('data-label="[2603:1030:20c::5]:443"');
  });
});

describe('snatGauge', () => {
  it.each([
    [1019, 1024, COLORS.bad, '1,019 of 1,024 allocated SNAT ports used (99.5%); 3,412 failed SNAT connections'],
    [800, 1024, COLORS.warn, '800 of 1,024 allocated SNAT ports used (78%); 3,412 failed SNAT connections'],
    [100, 1024, COLORS.ok, '100 of 1,024 allocated SNAT ports used (9.8%); 3,412 failed SNAT connections'],
  ])('%d of %d is drawn in %s', (used, allocated, color, caption) => {
    const report: Report = {
      ...culpritReport,
      snat: { allocatedPorts: allocated, usedPorts: used, failedConnections: 3412 },
    };
    const svg = snatGauge(report);
    expect(svg).toContain(`<g class="gauge-used" data-value="${used}" data-max="${allocated}"><rect x="16" y="32"`);
    expect(svg).toContain(`fill="${color}"/></g>`);
    expect(svg).toContain(`>${caption}</text>`);
  });

  it('says no data without metrics', () => {
    expect(snatGauge(emptyReport)).toContain('>No data: the load balancer SNAT metrics were not available.</text>');
  });
});

describe('emptyChart', () => {
  it('escapes the reason and keeps the accessible name', () => {
    expect(emptyChart('chart-x', 'T <1>', 'a "b" <c>')).toBe(
      '<svg id="chart-x" class="chart chart-x chart-empty" role="img" aria-label="T &lt;1&gt;: no data. a &quot;b&quot; &lt;c&gt;" ' +
        'viewBox="0 0 960 64" width="960" height="64" font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" ' +
        'font-size="12" fill="#1d2939"><title>T &lt;1&gt;</title><rect x="0.5" y="0.5" width="959" height="63" rx="6" ' +
        'fill="#f2f4f7" stroke="#e4e7ec"/><text class="no-data" x="480" y="36" text-anchor="middle" fill="#667085">' +
        'No data: a &quot;b&quot; &lt;c&gt;</text></svg>',
    );
  });
});
