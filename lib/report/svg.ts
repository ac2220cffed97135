/**
 * Hand-built inline SVG charts for report.html. No library and no script: the file must open offline, under a
 * `default-src 'none'` policy, in an incident channel's preview and on paper. Colours are attributes rather than
 * page CSS so a chart copied out of the page keeps them.
 *
 * Every chart is `<svg role="img">` with a `<title>`, an `aria-label` summarising the numbers, and an `id`
 * (`chart-pods`, `chart-destinations`, `chart-snat`); each bar is a `<g class="bar" data-value="...">`.
 */
import { escapeHtml as esc } from './escape.js';
import { MAX_CHART_BARS, endpoint, int, percent, podLabel } from './format.js';
import type { Report } from './model.js';

export const COLORS = {
  established: '#2f6fd0',
  synSent: '#d0342c',
  closing: '#98a2b3',
  flows: '#2f6fd0',
  allocated: '#b42318',
  grid: '#e4e7ec',
  axis: '#667085',
  text: '#1d2939',
  ok: '#12b76a',
  warn: '#f79009',
  bad: '#d92d20',
  track: '#f2f4f7',
} as const;

const WIDTH = 960;
const LABEL_WIDTH = 340;
const VALUE_WIDTH = 80;
const PLOT_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
const ROW = 26;
const BAR = 16;
const LEGEND = 26;
const AXIS = 28;
const MAX_LABEL_CHARS = 44;
const MONO = 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const SANS = 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif';

/** Numbers in attributes: integers stay integers, others get at most 3 decimals, never exponent notation. */
function n(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
}

function truncate(label: string): string {
  const chars = [...label];
  return chars.length <= MAX_LABEL_CHARS ? label : `${chars.slice(0, MAX_LABEL_CHARS - 1).join('')}…`;
}

/** 1, 2, 5 x 10^k steps giving five to seven ticks over [0, max]. */
export function niceScale(max: number): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 1 };
  const rough = max / 6;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  const stepInt = step < 1 ? 1 : step;
  return { max: Math.ceil(max / stepInt) * stepInt, step: stepInt };
}

interface Segment {
  readonly name: string;
  readonly value: number;
  readonly color: string;
}

interface BarRow {
  readonly label: string;
  readonly segments: readonly Segment[];
}

interface BarChartSpec {
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly rows: readonly BarRow[];
  readonly legend: readonly Segment[];
  readonly reference: { value: number; label: string } | null;
  readonly unit: string;
}

function svgOpen(id: string, height: number, title: string, summary: string, extraClass = ''): string {
  return (
    `<svg id="${esc(id)}" class="chart ${esc(id)}${extraClass}" role="img" ` +
    `aria-label="${esc(summary)}" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" ` +
    `font-family="${SANS}" font-size="12" fill="${COLORS.text}">` +
    `<title>${esc(title)}</title>`
  );
}

/** The chart's box saying there is nothing to draw, with the same id, so readers and tests still find it. */
export function emptyChart(id: string, title: string, reason: string): string {
  const height = 64;
  return (
    svgOpen(id, height, title, `${title}: no data. ${reason}`, ' chart-empty') +
    `<rect x="0.5" y="0.5" width="${WIDTH - 1}" height="${height - 1}" rx="6" fill="${COLORS.track}" stroke="${COLORS.grid}"/>` +
    `<text class="no-data" x="${WIDTH / 2}" y="${height / 2 + 4}" text-anchor="middle" fill="${COLORS.axis}">` +
    `No data: ${esc(reason)}</text></svg>`
  );
}

function barChart(spec: BarChartSpec): string {
  const totals = spec.rows.map((r) => r.segments.reduce((sum, s) => sum + Math.max(0, s.value), 0));
  const scale = niceScale(Math.max(0, ...totals, spec.reference?.value ?? 0));
  const x = (v: number) => LABEL_WIDTH + (Math.max(0, v) / scale.max) * PLOT_WIDTH;
  // The reference line's label gets its own row under the legend, so the two never overlap.
  const plotTop = spec.reference ? LEGEND + 18 : LEGEND;
  const plotBottom = plotTop + spec.rows.length * ROW;
  const height = plotBottom + AXIS;
  const out: string[] = [svgOpen(spec.id, height, spec.title, spec.summary)];

  let lx = LABEL_WIDTH;
  for (const item of spec.legend) {
    out.push(
      `<g class="legend"><rect x="${lx}" y="6" width="12" height="12" rx="2" fill="${item.color}"/>` +
        `<text x="${lx + 17}" y="16">${esc(item.name)}</text></g>`,
    );
    lx += 30 + item.name.length * 6.6;
  }

  out.push(`<g class="axis" fill="${COLORS.axis}">`);
  for (let t = 0; t <= scale.max; t += scale.step) {
    const tx = n(x(t));
    out.push(
      `<line x1="${tx}" y1="${plotTop}" x2="${tx}" y2="${plotBottom}" stroke="${COLORS.grid}"/>` +
        `<text x="${tx}" y="${plotBottom + 16}" text-anchor="middle">${int(t)}</text>`,
    );
  }
  out.push(
    `<text x="${WIDTH - 4}" y="${plotBottom + 16}" text-anchor="end">${esc(spec.unit)}</text>`,
    `<line x1="${LABEL_WIDTH}" y1="${plotTop}" x2="${LABEL_WIDTH}" y2="${plotBottom}" stroke="${COLORS.axis}"/>`,
    '</g>',
  );

  spec.rows.forEach((row, i) => {
    const total = totals[i] ?? 0;
    const y = plotTop + i * ROW + (ROW - BAR) / 2;
    const tooltip = `${row.label}: ${row.segments.map((s) => `${s.name} ${int(s.value)}`).join(', ')}`;
    out.push(`<g class="bar" data-value="${n(total)}" data-label="${esc(row.label)}"><title>${esc(tooltip)}</title>`);
    out.push(
      `<text class="label" x="${LABEL_WIDTH - 8}" y="${y + BAR / 2 + 4}" text-anchor="end" font-family="${MONO}">` +
        `${esc(truncate(row.label))}</text>`,
    );
    let at = 0;
    for (const s of row.segments) {
      if (s.value <= 0) continue;
      const x0 = x(at);
      at += s.value;
      out.push(
        `<rect class="segment" data-value="${n(s.value)}" data-series="${esc(s.name)}" x="${n(x0)}" y="${y}" ` +
          `width="${n(Math.max(1, x(at) - x0))}" height="${BAR}" fill="${s.color}"/>`,
      );
    }
    out.push(`<text class="value" x="${n(x(total) + 6)}" y="${y + BAR / 2 + 4}">${int(total)}</text></g>`);
  });

  if (spec.reference) {
    const rx = x(spec.reference.value);
    const labelWidth = spec.reference.label.length * 7;
    const lx = Math.min(Math.max(rx, LABEL_WIDTH + labelWidth / 2), WIDTH - labelWidth / 2);
    out.push(
      `<g class="reference" data-value="${n(spec.reference.value)}">` +
        `<line x1="${n(rx)}" y1="${plotTop - 4}" x2="${n(rx)}" y2="${plotBottom}" stroke="${COLORS.allocated}" ` +
        `stroke-width="2" stroke-dasharray="5 3"/>` +
        `<text x="${n(lx)}" y="${plotTop - 8}" text-anchor="middle" fill="${COLORS.allocated}" font-weight="600">` +
        `${esc(spec.reference.label)}</text></g>`,
    );
  }
  out.push('</svg>');
  return out.join('');
}

function summarise(prefix: string, rows: ReadonlyArray<{ label: string; value: number }>, unit: string): string {
  const head = rows
    .slice(0, 3)
    .map((r) => `${r.label} ${int(r.value)}`)
    .join('; ');
  return `${prefix}. ${head}${rows.length > 3 ? `; and ${rows.length - 3} more` : ''} (${unit}).`;
}

/** (a) SNAT-holding public flows of the top ranked pods, split by TCP state. */
export function podsChart(report: Report): string {
  const id = 'chart-pods';
  const title = `SNAT-holding public flows of the top ${MAX_CHART_BARS} ranked pods`;
  const pods = report.pods.slice(0, MAX_CHART_BARS);
  if (pods.length === 0) return emptyChart(id, title, 'no pods were ranked.');
  const rows = pods.map((p) => ({
    label: `#${p.rank} ${podLabel(p)}`,
    segments: [
      { name: 'ESTABLISHED', value: p.establishedPublicOutbound, color: COLORS.established },
      { name: 'SYN_SENT', value: p.synSentPublic, color: COLORS.synSent },
      { name: 'closing', value: p.closingPublic, color: COLORS.closing },
    ],
  }));
  const summaryRows = rows.map((r) => ({ label: r.label, value: r.segments.reduce((s, x) => s + x.value, 0) }));
  return barChart({
    id,
    title,
    summary: summarise(title, summaryRows, 'flows'),
    rows,
    legend: [
      { name: 'ESTABLISHED (outbound)', value: 0, color: COLORS.established },
      { name: 'SYN_SENT', value: 0, color: COLORS.synSent },
      { name: 'TIME_WAIT / closing', value: 0, color: COLORS.closing },
    ],
    reference: null,
    unit: 'flows',
  });
}

/** (b) Flows per public destination IP:port across the node, against the per-destination SNAT allocation. */
export function destinationsChart(report: Report): string {
  const id = 'chart-destinations';
  const title = `Flows to the top ${MAX_CHART_BARS} public destinations (whole node)`;
  const dests = report.destinations.slice(0, MAX_CHART_BARS);
  if (dests.length === 0) return emptyChart(id, title, 'no public destinations were seen.');
  const allocated = report.snat.allocatedPorts;
  const rows = dests.map((d) => ({
    label: endpoint(d.ip, d.port),
    segments: [{ name: 'flows', value: d.flows, color: COLORS.flows }],
  }));
  const summaryRows = dests.map((d) => ({ label: endpoint(d.ip, d.port), value: d.flows }));
  return barChart({
    id,
    title,
    summary:
      summarise(title, summaryRows, 'flows') +
      (allocated !== null ? ` Allocated SNAT ports per destination: ${int(allocated)}.` : ''),
    rows,
    legend: [{ name: 'flows (one SNAT port each)', value: 0, color: COLORS.flows }],
    reference: allocated !== null && allocated > 0 ? { value: allocated, label: `allocated ${int(allocated)}` } : null,
    unit: 'flows',
  });
}

/** (c) The node's used SNAT ports against its allocation. */
export function snatGauge(report: Report): string {
  const id = 'chart-snat';
  const title = 'Used SNAT ports of the node';
  const { allocatedPorts: allocated, usedPorts: used, failedConnections: failed } = report.snat;
  if (allocated === null || used === null || allocated <= 0) {
    return emptyChart(id, title, 'the load balancer SNAT metrics were not available.');
  }
  const ratio = used / allocated;
  const color = ratio >= 0.9 ? COLORS.bad : ratio >= 0.7 ? COLORS.warn : COLORS.ok;
  const left = 16;
  const width = WIDTH - 2 * left;
  const scaleMax = Math.max(allocated, used);
  const fill = (Math.min(used, scaleMax) / scaleMax) * width;
  const allocX = left + (allocated / scaleMax) * width;
  const height = 86;
  const caption =
    `${int(used)} of ${int(allocated)} allocated SNAT ports used (${percent(ratio)})` +
    (failed !== null ? `; ${int(failed)} failed SNAT connections` : '');
  return (
    svgOpen(id, height, title, `${title}: ${caption}.`) +
    `<text x="${left}" y="20" font-size="14" font-weight="600">${esc(caption)}</text>` +
    `<rect x="${left}" y="32" width="${width}" height="22" rx="4" fill="${COLORS.track}" stroke="${COLORS.grid}"/>` +
    `<g class="gauge-used" data-value="${n(used)}" data-max="${n(allocated)}">` +
    `<rect x="${left}" y="32" width="${n(Math.max(2, fill))}" height="22" rx="4" fill="${color}"/></g>` +
    `<line x1="${n(allocX)}" y1="28" x2="${n(allocX)}" y2="58" stroke="${COLORS.allocated}" stroke-width="2"/>` +
    `<text x="${left}" y="74" fill="${COLORS.axis}">0</text>` +
    `<text x="${n(allocX)}" y="74" text-anchor="end" fill="${COLORS.axis}">allocated ${int(allocated)}</text>` +
    '</svg>'
  );
}
