import { describe, expect, it } from 'vitest';
import {
  appliesTo,
  captureFacts,
  clusterLabel,
  decimal,
  endpoint,
  int,
  isLinkable,
  labelled,
  percent,
  timestamp,
  verdict,
  windowText,
  worstSeverity,
} from '../../lib/report/format.js';
import type { Part } from '../../lib/report/format.js';
import type { PodRanking, Report } from '../../lib/report/model.js';
import { culpritReport, emptyReport } from '../fixtures/report/sample.js';

/** Verdict parts as one line, code parts in backticks, so the wording can be asserted exactly. */
function plain(parts: Part[]): string {
  return parts.map((p) => ('code' in p ? `\`${p.code}\`` : 'strong' in p ? p.strong : p.text)).join('');
}

const culprit = culpritReport.pods[0] as PodRanking;

function withTop(pod: Partial<PodRanking>, extra: Partial<Report> = {}): Report {
  return { ...culpritReport, pods: [{ ...culprit, ...pod }], ...extra };
}

describe('verdict', () => {
  it('names the culprit, its owner, the destination and the share of allocated ports', () => {
    expect(plain(verdict(culpritReport))).toBe(
      'Most likely culprit: `payments/checkout-api-7d9f8b6c5d-x2k4p` (`Deployment/checkout-api`) holds 870 of 1,024 ' +
        'allocated SNAT ports toward `20.1.2.3:443` (85%), with 112 connects stuck in SYN_SENT and 41.3 public ' +
        'connects/s. Next: `batch/report-export-28790412-qv7mt` with 64 flows. The node uses 1,019 of 1,024 allocated ' +
        'SNAT ports (99.5%). 3,412 SNAT connections failed in the window.',
    );
  });

  it('says the allocation is unknown when the metrics are missing', () => {
    const report = withTop(
      {
        owner: null,
        hostNetwork: true,
        synSentPublic: 0,
        connectsPerSecond: null,
        topDestinations: [{ ip: '2603:1030::5', port: 443, flows: 12, shareOfAllocated: null }],
      },
      { snat: { allocatedPorts: null, usedPorts: null, failedConnections: null } },
    );
    expect(plain(verdict(report))).toBe(
      'Most likely culprit: `payments/checkout-api-7d9f8b6c5d-x2k4p` (hostNetwork) holds 12 concurrent flows toward ' +
        '`[2603:1030::5]:443` (allocated SNAT ports unknown).',
    );
  });

  it('adds hostNetwork after the owner', () => {
    expect(plain(verdict(withTop({ hostNetwork: true }))).slice(0, 110)).toBe(
      'Most likely culprit: `payments/checkout-api-7d9f8b6c5d-x2k4p` (`Deployment/checkout-api`, hostNetwork) holds 8',
    );
  });

  it('falls back to the pod total when no destination is known', () => {
    const report = withTop({ topDestinations: [], synSentPublic: 0, connectsPerSecond: null });
    expect(plain(verdict(report))).toBe(
      'Most likely culprit: `payments/checkout-api-7d9f8b6c5d-x2k4p` (`Deployment/checkout-api`) holds 770 ' +
        'SNAT-holding public flows. The node uses 1,019 of 1,024 allocated SNAT ports (99.5%). 3,412 SNAT connections ' +
        'failed in the window.',
    );
  });

  it('does not accuse a pod that holds nothing', () => {
    const report = withTop(
      {
        establishedPublicOutbound: 0,
        synSentPublic: 0,
        closingPublic: 0,
        publicConnects: 0,
        topDestinations: [],
      },
      { snat: { allocatedPorts: 1024, usedPorts: 10, failedConnections: 0 } },
    );
    expect(plain(verdict(report))).toBe(
      'No pod holds SNAT-relevant flows to public destinations in the evidence collected. The node uses 10 of 1,024 ' +
        'allocated SNAT ports (1%).',
    );
  });

  it('says why nothing was ranked', () => {
    expect(plain(verdict(emptyReport))).toBe('No pod could be ranked. 3 steps degraded; see "Degraded steps".');
    expect(plain(verdict({ ...emptyReport, degraded: [] }))).toBe(
      'No pod could be ranked. The evidence holds no pod on this node.',
    );
  });
});

describe('number and text formats', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [1024, '1,024'],
    [64512, '64,512'],
    [1234567, '1,234,567'],
    [-3412, '-3,412'],
    [2.6, '3'],
  ])('int(%d) = %s', (n, text) => expect(int(n)).toBe(text));

  it.each([
    [41.25, 1, '41.3'],
    [12, 1, '12'],
    [0.9134, 2, '0.91'],
    [0.0043, 3, '0.004'],
    [-0.001, 1, '0'],
    [60, 0, '60'],
  ])('decimal(%d, %d) = %s', (n, d, text) => expect(decimal(n, d)).toBe(text));

  it.each([
    [870 / 1024, '85%'],
    [64 / 1024, '6.3%'],
    [2 / 1024, '0.2%'],
    [0, '0%'],
    [1019 / 1024, '99.5%'],
    [1023.9 / 1024, '99.9%'],
    [1, '100%'],
    [1.25, '125%'],
  ])('percent(%d) = %s', (share, text) => expect(percent(share)).toBe(text));

  it.each([
    ['2024-05-14T09:12:00Z', '2024-05-14 09:12:00 UTC'],
    ['2024-05-14T09:12:00.999Z', '2024-05-14 09:12:00 UTC'],
    ['2024-05-14T11:12:00+02:00', '2024-05-14 09:12:00 UTC'],
    ['yesterday', 'yesterday'],
    ['2024-13-45T99:00:00Z', '2024-13-45T99:00:00Z'],
  ])('timestamp(%s) = %s', (iso, text) => expect(timestamp(iso)).toBe(text));

  it('writes the window with its length, or what is unknown', () => {
    expect(windowText(culpritReport)).toBe('2024-05-14 09:12:00 UTC → 2024-05-14 09:13:00 UTC (60 s)');
    expect(windowText(emptyReport)).toBe('unknown');
    expect(windowText({ ...emptyReport, window: { start: '2024-05-14T09:12:00Z', end: null } })).toBe(
      '2024-05-14 09:12:00 UTC → ?',
    );
  });

  it('brackets IPv6 endpoints', () => {
    expect(endpoint('20.1.2.3', 443)).toBe('20.1.2.3:443');
    expect(endpoint('2603:1030::5', 443)).toBe('[2603:1030::5]:443');
  });

  it('takes the worst severity', () => {
    expect(worstSeverity(culpritReport.findings)).toBe('critical');
    expect(worstSeverity([{ severity: 'info', text: '', evidence: {} }])).toBe('info');
    expect(worstSeverity([])).toBeNull();
  });

  it.each([
    ['https://x.blob.core.windows.net/r/report.json', true],
    ['http://127.0.0.1:10000/devstoreaccount1/r.json', true],
    ['report.json', true],
    ['out/report.md', true],
    ['javascript:alert(1)', false],
    ['JavaScript:alert(1)', false],
    ['data:text/html,<b>', false],
    ['file:///etc/passwd', false],
    ['https://x/" onmouseover="a', false],
    ['report name.json', false],
  ])('isLinkable(%s) = %s', (target, linkable) => expect(isLinkable(target)).toBe(linkable));
});

describe('shared wording', () => {
  it('says which pods a recommendation is for, or that it is node-wide', () => {
    const rec = { id: 'r1', title: 'T', text: 'x', appliesTo: ['ns/a', 'ns/b'] };
    expect(plain(appliesTo(rec))).toBe('Applies to `ns/a`, `ns/b` (`r1`)');
    expect(plain(appliesTo({ ...rec, appliesTo: [] }))).toBe('Applies to the whole node (`r1`)');
  });

  it('keeps a label and its prose apart, so each is escaped on its own', () => {
    expect(labelled('step', '# reason')).toEqual([{ strong: 'step' }, { text: ': ' }, { text: '# reason' }]);
  });

  it('states the capture facts, dashing an unknown duration', () => {
    expect(captureFacts(culpritReport)).toEqual({
      status: 'complete',
      tool: 'tcptracer (bcc)',
      duration: '60 s',
      events: '5,220 connect, 310 accept, 4,980 close; 0 lost',
    });
    const missing: Report = {
      ...emptyReport,
      capture: { ...emptyReport.capture, variant: null, durationSeconds: null },
    };
    expect(captureFacts(missing)).toMatchObject({ tool: 'unknown', duration: '–' });
  });

  it('names the cluster, else gives its resource id', () => {
    expect(clusterLabel(culpritReport)).toBe('aks-prod-weu');
    expect(clusterLabel({ ...culpritReport, cluster: { name: null, resourceId: '/subscriptions/x' } })).toBe(
      '/subscriptions/x',
    );
    expect(clusterLabel({ ...culpritReport, cluster: { name: null, resourceId: null } })).toBeNull();
  });
});
