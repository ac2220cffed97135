/**
 * Wording and number formats shared by the Markdown and HTML renderers, so both say the same thing. Output is
 * deterministic (no locale, no clock): golden files pin it. Nothing here escapes; each renderer escapes the parts.
 */
import type { Finding, PodRanking, Recommendation, Report, Severity } from './model.js';

/** A piece of prose: `code` parts come from the cluster (names, endpoints) and are shown as literals. */
export type Part = { readonly text: string } | { readonly code: string } | { readonly strong: string };

export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'warning', 'info'];

/** How many ranked pods the tables and charts show; report.json keeps them all. */
export const MAX_POD_ROWS = 25;
export const MAX_CHART_BARS = 10;
export const MAX_DESTINATION_ROWS = 15;

export function int(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.round(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Up to `digits` decimals, trailing zeros dropped: 41.25 -> `41.3`, 12 -> `12`. */
export function decimal(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return String(n);
  const fixed = n.toFixed(digits);
  const trimmed = fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
  return trimmed === '-0' ? '0' : trimmed;
}

/**
 * 0.8496 -> `85%`, 0.043 -> `4.3%`: small shares keep a decimal so they do not all read `0%`, and shares just under
 * 100% keep one so 1019 of 1024 does not read as full.
 */
export function percent(share: number): string {
  const p = share * 100;
  if (p === 0 || !Number.isFinite(p)) return `${decimal(p, 0)}%`;
  if (Math.abs(p) < 10) return `${decimal(p, 1)}%`;
  if (p >= 99.5 && p < 100) return `${decimal(Math.floor(p * 10) / 10, 1)}%`;
  return `${Math.round(p)}%`;
}

export function orDash(value: number | null, format: (n: number) => string = int): string {
  return value === null ? '–' : format(value);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** ISO timestamps as `2024-05-14 09:12:00 UTC`; anything else as given. */
export function timestamp(text: string): string {
  if (!ISO.test(text)) return text;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function windowText(report: Report): string {
  const { start, end } = report.window;
  if (start === null && end === null) return 'unknown';
  const from = start === null ? '?' : timestamp(start);
  const to = end === null ? '?' : timestamp(end);
  let text = `${from} → ${to}`;
  if (start !== null && end !== null) {
    const seconds = (Date.parse(end) - Date.parse(start)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) text += ` (${decimal(seconds, 0)} s)`;
  }
  return text;
}

export function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function podLabel(pod: Pick<PodRanking, 'namespace' | 'name'>): string {
  return pod.namespace.length > 0 ? `${pod.namespace}/${pod.name}` : pod.name;
}

/** Flows that hold a SNAT port right now: ESTABLISHED outbound, SYN_SENT and closing states, to public addresses. */
export function snatHoldingFlows(pod: PodRanking): number {
  return pod.establishedPublicOutbound + pod.synSentPublic + pod.closingPublic;
}

/** The cluster's name, else its resource id; null when neither is known. */
export function clusterLabel(report: Report): string | null {
  return report.cluster.name ?? report.cluster.resourceId;
}

export function nodeLabel(report: Report): string {
  const { name, ip } = report.node;
  if (name !== null && ip !== null) return `${name} (${ip})`;
  return name ?? ip ?? 'unknown node';
}

export function worstSeverity(findings: readonly Finding[]): Severity | null {
  for (const s of SEVERITY_ORDER) if (findings.some((f) => f.severity === s)) return s;
  return null;
}

export function findingsBySeverity(findings: readonly Finding[]): Array<{ severity: Severity; items: Finding[] }> {
  return SEVERITY_ORDER.map((severity) => ({
    severity,
    items: findings.filter((f) => f.severity === severity),
  })).filter((g) => g.items.length > 0);
}

export function evidenceValue(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : decimal(value, 3);
  return String(value);
}

export function triggerText(report: Report): string {
  const { kind, source } = report.trigger;
  const names = {
    alert: 'Azure Monitor alert',
    http: 'HTTP request',
    cli: 'CLI',
    offline: 'offline analysis',
  } as const;
  return source === null ? names[kind] : `${names[kind]}: ${source}`;
}

export const CAPTURE_STATUS_TEXT: Record<Report['capture']['status'], string> = {
  complete: 'complete',
  truncated: 'truncated (the capture stopped early or hit its size bound)',
  missing: 'missing (no tcptracer capture: connect rates are unknown)',
  failed: 'failed (no tcptracer capture: connect rates are unknown)',
};

/** The capture's facts, worded once for the Markdown list and the HTML table. */
export function captureFacts(report: Report): { status: string; tool: string; duration: string; events: string } {
  const c = report.capture;
  return {
    status: CAPTURE_STATUS_TEXT[c.status],
    tool: c.variant === null ? 'unknown' : `tcptracer (${c.variant})`,
    duration: orDash(c.durationSeconds, (n) => `${decimal(n, 1)} s`),
    events:
      `${int(c.events.connect)} connect, ${int(c.events.accept)} accept, ${int(c.events.close)} close; ` +
      `${int(c.lostEvents)} lost${c.truncated ? '; output truncated' : ''}`,
  };
}

/** What a section says when it has nothing to show. */
export const NOTHING = {
  findings: 'No findings.',
  recommendations: 'No recommendations.',
  dataQuality: 'No data-quality notes: every input line was understood.',
  degraded: 'None: every step completed.',
  artifacts: 'No artifacts were stored.',
} as const;

/** A list item's bold label and its prose: a degraded step and its reason, a recommendation and its text. */
export function labelled(label: string, text: string): Part[] {
  return [{ strong: label }, { text: ': ' }, { text }];
}

/** `Applies to` the pods a recommendation is for (or the whole node), and its id. */
export function appliesTo(r: Recommendation): Part[] {
  const targets: Part[] =
    r.appliesTo.length > 0
      ? r.appliesTo.flatMap((pod, i): Part[] => (i === 0 ? [{ code: pod }] : [{ text: ', ' }, { code: pod }]))
      : [{ text: 'the whole node' }];
  return [{ text: 'Applies to ' }, ...targets, { text: ' (' }, { code: r.id }, { text: ')' }];
}

/** The one-paragraph answer at the top of the report. */
export function verdict(report: Report): Part[] {
  const parts: Part[] = [];
  const top = report.pods[0];
  const allocated = report.snat.allocatedPorts;
  const holding = top ? snatHoldingFlows(top) : 0;
  const dest = top?.topDestinations[0];

  if (!top) {
    parts.push({ strong: 'No pod could be ranked.' });
    parts.push({
      text:
        report.degraded.length > 0
          ? ` ${report.degraded.length} step${report.degraded.length === 1 ? '' : 's'} degraded; see "Degraded steps".`
          : ' The evidence holds no pod on this node.',
    });
  } else if (holding === 0 && (!dest || dest.flows === 0) && top.publicConnects === 0) {
    parts.push({ strong: 'No pod holds SNAT-relevant flows' });
    parts.push({ text: ' to public destinations in the evidence collected.' });
  } else {
    parts.push({ strong: 'Most likely culprit:' }, { text: ' ' }, { code: podLabel(top) });
    const qualifiers: Part[] = [];
    if (top.owner !== null) qualifiers.push({ code: top.owner });
    if (top.hostNetwork) qualifiers.push({ text: qualifiers.length > 0 ? ', hostNetwork' : 'hostNetwork' });
    if (qualifiers.length > 0) parts.push({ text: ' (' }, ...qualifiers, { text: ')' });
    if (dest && dest.flows > 0) {
      const share = dest.shareOfAllocated ?? (allocated ? dest.flows / allocated : null);
      parts.push({
        text:
          allocated !== null
            ? ` holds ${int(dest.flows)} of ${int(allocated)} allocated SNAT ports toward `
            : ` holds ${int(dest.flows)} concurrent flows toward `,
      });
      parts.push({ code: endpoint(dest.ip, dest.port) });
      parts.push({
        text: share !== null ? ` (${percent(share)})` : allocated === null ? ' (allocated SNAT ports unknown)' : '',
      });
    } else {
      parts.push({ text: ` holds ${int(holding)} SNAT-holding public flows` });
    }
    const extra: string[] = [];
    if (top.synSentPublic > 0) extra.push(`${int(top.synSentPublic)} connects stuck in SYN_SENT`);
    if (top.connectsPerSecond !== null) extra.push(`${decimal(top.connectsPerSecond, 1)} public connects/s`);
    parts.push({ text: extra.length > 0 ? `, with ${extra.join(' and ')}.` : '.' });
    const next = report.pods[1];
    if (next && snatHoldingFlows(next) > 0) {
      parts.push(
        { text: ' Next: ' },
        { code: podLabel(next) },
        { text: ` with ${int(snatHoldingFlows(next))} flows.` },
      );
    }
  }

  const { usedPorts, failedConnections } = report.snat;
  if (usedPorts !== null && allocated !== null && allocated > 0) {
    parts.push({
      text: ` The node uses ${int(usedPorts)} of ${int(allocated)} allocated SNAT ports (${percent(usedPorts / allocated)}).`,
    });
  } else if (usedPorts !== null) {
    parts.push({ text: ` The node uses ${int(usedPorts)} SNAT ports (allocation unknown).` });
  }
  if (failedConnections !== null && failedConnections > 0) {
    parts.push({ text: ` ${int(failedConnections)} SNAT connections failed in the window.` });
  }
  return parts;
}

/** The stored artifacts that exist, with the label both renderers show. */
export function artifactList(report: Report): Array<{ label: string; target: string }> {
  const a = report.artifacts;
  const all: Array<{ label: string; target: string | null }> = [
    { label: 'report.json', target: a.json },
    { label: 'report.md', target: a.markdown },
    { label: 'report.html', target: a.html },
    { label: 'raw capture', target: a.rawCapture },
  ];
  return all.filter((i): i is { label: string; target: string } => i.target !== null);
}

/** Web addresses and relative paths are linked; any other scheme (`javascript:`, `file:`) is only shown. */
export function isLinkable(target: string): boolean {
  return (/^https?:\/\//i.test(target) || !/^[a-z][a-z0-9+.-]*:/i.test(target)) && !/[\s<>"'`]/.test(target);
}
