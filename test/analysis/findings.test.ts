import { describe, expect, it } from 'vitest';
import { attributeSources } from '../../lib/analysis/attribute.js';
import type { NodeEvidence } from '../../lib/analysis/evidence.js';
import { buildFindings, dataQualityNotes, signalsOf } from '../../lib/analysis/findings.js';
import { rankPods } from '../../lib/analysis/rank.js';
import {
  buildRecommendations,
  defaultOutboundPorts,
  maxOutboundPortsPerNode,
  poolSizeForDefault,
} from '../../lib/analysis/recommendations.js';
import { buildSocketDocument } from '../../lib/parse/sockets.js';
import { capture, classifier, evidence, inbound, listen, pod, podCensus, rows, source } from './builders.js';

function analyse(ev: NodeEvidence) {
  const attribution = attributeSources(ev);
  const ranking = rankPods(ev, attribution.sources);
  const signals = signalsOf(ev, ranking);
  return {
    findings: buildFindings(ev, ranking, signals),
    recommendations: buildRecommendations(signals),
    notes: dataQualityNotes(ev, ranking, attribution),
    signals,
  };
}

const culpritEvidence = (allocatedPorts: number | null) =>
  evidence({
    snat: { allocatedPorts, usedPorts: allocatedPorts === null ? null : 1000, failedConnections: 37 },
    pods: [
      pod('shop', 'checkout-7d9f8c6b5d-x2x4q', { ips: ['10.224.0.21'], owner: 'Deployment/checkout' }),
      pod('shop', 'web-1', { ips: ['10.224.0.22'] }),
    ],
    censuses: [
      podCensus('shop', 'checkout-7d9f8c6b5d-x2x4q', [
        ...rows(860, '10.224.0.21:40000', '20.50.60.70:443'),
        ...rows(10, '10.224.0.21:41000', '20.50.60.70:443', 'SYN_SENT'),
      ]),
      podCensus('shop', 'web-1', [listen('0.0.0.0:8080'), ...inbound(3, '10.224.0.22:8080', '81.2.69.160:50000')]),
    ],
  });

describe('findings', () => {
  it('states the culprit with its share of the allocated ports', () => {
    const { findings } = analyse(culpritEvidence(1024));
    expect(findings[0]).toEqual({
      severity: 'critical',
      text:
        'Pod shop/checkout-7d9f8c6b5d-x2x4q (Deployment/checkout) holds 870 of 1024 allocated SNAT ports toward ' +
        '20.50.60.70:443 (85.0%); 10 of its public connects are stuck in SYN_SENT.',
      evidence: {
        pod: 'shop/checkout-7d9f8c6b5d-x2x4q',
        owner: 'Deployment/checkout',
        destination: '20.50.60.70:443',
        flows: 870,
        allocatedPorts: 1024,
        shareOfAllocated: 0.8496,
        synSentPublic: 10,
        score: 977, // 870 + 10 x 2 + 870 x 0.1
      },
    });
    expect(findings.slice(1).map((f) => [f.severity, f.text])).toEqual([
      ['critical', 'Azure Load Balancer counted 37 failed SNAT connections for this node: it is out of ports now.'],
      ['critical', 'The node uses 1000 of its 1024 allocated SNAT ports (97.7%).'],
      [
        'warning',
        '10 connects from shop/checkout-7d9f8c6b5d-x2x4q to public destinations are stuck in SYN_SENT: they wait for a ' +
          'SNAT port or an answer, the mark of exhaustion (tcptracer never shows these: it only sees connects that succeed).',
      ],
      [
        'info',
        "The article's rule (ESTABLISHED to a public IP) counts 863 connections on this node; 3 of them (0.3%) are " +
          'inbound (clients connecting to listening ports), use no SNAT port and were excluded. Inbound only: shop/web-1 (3).',
      ],
      ['info', 'No tcptracer capture: the ranking rests on socket censuses only (no connect rates).'],
    ]);
  });

  it('says how to get the share when the allocation is unknown', () => {
    const { findings } = analyse(culpritEvidence(null));
    expect(findings[0]?.severity).toBe('warning');
    expect(findings[0]?.text).toBe(
      'Pod shop/checkout-7d9f8c6b5d-x2x4q (Deployment/checkout) holds 870 SNAT ports toward 20.50.60.70:443 ' +
        '(allocated ports unknown: put allocatedPorts in node.json or pass --allocated-ports); 10 of its public ' +
        'connects are stuck in SYN_SENT.',
    );
  });

  it('names the pod the article would have picked when inbound traffic misleads it', () => {
    const ev = evidence({
      pods: [pod('ingress', 'nginx', { ips: ['10.244.1.7'] }), pod('shop', 'api', { ips: ['10.244.1.8'] })],
      censuses: [
        podCensus('ingress', 'nginx', [listen('0.0.0.0:443'), ...inbound(400, '10.244.1.7:443', '81.2.69.160:50000')]),
        podCensus('shop', 'api', rows(120, '10.244.1.8:40000', '20.1.2.3:443')),
      ],
    });
    const { findings, signals } = analyse(ev);
    expect(signals.culprit?.ranking.name).toBe('api');
    expect(findings.find((f) => f.text.startsWith("The article's rule"))?.text).toBe(
      "The article's rule (ESTABLISHED to a public IP) counts 520 connections on this node; 400 of them (76.9%) are " +
        'inbound (clients connecting to listening ports), use no SNAT port and were excluded. Inbound only: ' +
        "ingress/nginx (400). The article's rule would have named ingress/nginx (400 ESTABLISHED public, 0 outbound).",
    );
  });

  it('flags connect churn with low concurrency (no keep-alive) from capture and census', () => {
    const ev = evidence({
      pods: [pod('shop', 'poller', { ips: ['10.244.1.9'] })],
      censuses: [
        podCensus('shop', 'poller', [
          ...rows(4, '10.244.1.9:40000', '52.1.1.1:443'),
          ...rows(30, '10.244.1.9:41000', '52.1.1.1:443', 'TIME_WAIT'),
        ]),
      ],
      capture: {
        status: 'complete',
        capture: capture([source('10.244.1.9', null, 1200)], 60),
        durationSeconds: null,
        origin: 't.log',
      },
    });
    const { findings, recommendations } = analyse(ev);
    expect(findings.find((f) => f.text.startsWith('shop/poller opens'))).toEqual({
      severity: 'warning',
      text:
        'shop/poller opens 20 public connects/s but holds only 4 established public connections: each lives about ' +
        "0.2 s (Little's law), a sign of no keep-alive or no connection pooling; 30 closed ones still hold ports " +
        '(TIME_WAIT and friends).',
      evidence: {
        pod: 'shop/poller',
        connectsPerSecond: 20,
        publicConnects: 1200,
        establishedPublicOutbound: 4,
        averageLifetimeSeconds: 0.2,
        closingPublic: 30,
      },
    });
    expect(recommendations.map((r) => [r.id, r.appliesTo])).toEqual([
      ['connection-reuse', ['shop/poller']],
      ['private-endpoint', ['shop/poller']],
    ]);
  });

  it('reports node-wide pressure and a destination shared by many pods', () => {
    const names = ['a', 'b', 'c', 'd'];
    const ev = evidence({
      snat: { allocatedPorts: 512, usedPorts: 480, failedConnections: null },
      pods: names.map((n, i) => pod('shop', n, { ips: [`10.244.1.${i + 10}`] })),
      censuses: names.map((n, i) => podCensus('shop', n, rows(60, `10.244.1.${i + 10}:40000`, '20.60.1.1:443'))),
    });
    const { findings, recommendations } = analyse(ev);
    expect(findings.map((f) => [f.severity, f.text])).toEqual([
      ['warning', 'Pod shop/a holds 60 of 512 allocated SNAT ports toward 20.60.1.1:443 (11.7%).'],
      ['critical', 'The node uses 480 of its 512 allocated SNAT ports (93.8%).'],
      [
        'critical',
        'Pressure is spread over the node: 4 pods hold 240 outbound public flows, the largest only 25.0% of them; ' +
          'fixing one pod will not be enough.',
      ],
      [
        'warning',
        '20.60.1.1:443 receives 240 flows from 4 pods (46.9% of 512 allocated): ports are counted per destination, so ' +
          'together they can exhaust it even when no single pod does.',
      ],
      ['info', 'No tcptracer capture: the ranking rests on socket censuses only (no connect rates).'],
    ]);
    expect(recommendations.map((r) => [r.id, r.appliesTo])).toEqual([
      ['connection-reuse', ['shop/a', 'shop/b', 'shop/c', 'shop/d']],
      ['outbound-ports', []],
      ['nat-gateway', []],
      ['private-endpoint', ['shop/a', 'shop/b', 'shop/c', 'shop/d']],
    ]);
    expect(recommendations[1]?.text).toContain(
      'This node has 512 allocated ports (the default for a pool of 51-100 nodes: growing the pool shrinks it).',
    );
    expect(recommendations[1]?.text).toContain(
      '1-50 nodes: 1024, 51-100 nodes: 512, 101-200 nodes: 256, 201-400 nodes: 128, 401-800 nodes: 64, 801-1000 nodes: 32',
    );
    expect(recommendations[1]?.text).toContain('2 IPs for 20 nodes allow up to 6400 ports per node');
  });

  it('says plainly when nothing uses SNAT ports, and recommends nothing', () => {
    const { findings, recommendations } = analyse(evidence({ pods: [pod('shop', 'quiet')] }));
    expect(findings[0]).toEqual({
      severity: 'info',
      text:
        'No pod holds outbound public flows or made public connects in this evidence: nothing on this node was using ' +
        'SNAT ports when it was captured (the pressure may have passed; capture again while the alert fires).',
      evidence: { pods: 0 },
    });
    expect(recommendations).toEqual([]);
  });

  it('recommends a lower idle timeout for pods holding closing flows under pressure', () => {
    const ev = evidence({
      snat: { allocatedPorts: 1024, usedPorts: 900, failedConnections: null },
      pods: [pod('shop', 'api', { ips: ['10.244.1.8'] })],
      censuses: [podCensus('shop', 'api', rows(50, '10.244.1.8:40000', '20.1.2.3:443', 'CLOSE_WAIT'))],
    });
    const idle = analyse(ev).recommendations.find((r) => r.id === 'idle-timeout');
    expect(idle?.appliesTo).toEqual(['shop/api']);
    expect(idle?.text).toContain('--load-balancer-idle-timeout');
    expect(idle?.text).toContain('AKS default 30');
  });
});

describe('data-quality notes', () => {
  it('lists skipped lines, cut addresses, missing censuses and the missing capture', () => {
    const document = buildSocketDocument(
      'netstat',
      'net-tools',
      [
        {
          localAddress: '::ffff:10.244.1.5',
          localPort: 40000,
          remoteAddress: '::ffff:52.239.170.1',
          remotePort: 443,
          state: 'ESTABLISHED',
          line: 3,
          suspect: 'truncated-address',
        },
      ],
      [{ line: 5, reason: 'not a socket row' }],
      { classifier },
    );
    const ev = evidence({
      pods: [
        pod('shop', 'a', { ips: ['10.244.1.5'] }),
        pod('shop', 'b'),
        pod('kube-system', 'proxy', { hostNetwork: true }),
      ],
      censuses: [{ namespace: 'shop', name: 'a', source: 'file', origin: 'pods/shop/a.txt', document }],
    });
    const { notes, findings } = analyse(ev);
    expect(notes).toEqual([
      { source: 'pods/shop/a.txt', text: 'lines skipped (first: line 5: not a socket row)', count: 1 },
      {
        source: 'pods/shop/a.txt',
        text:
          'addresses possibly cut by net-tools netstat without -W (23-character tcp6 fields): rerun with `netstat -W`, ' +
          '`ss -tnp` or read /proc/net/tcp6',
        count: 1,
      },
      {
        source: 'tcptracer',
        text: 'no tcptracer capture: ranking from socket censuses only, no connect rates',
        count: 0,
      },
      {
        source: 'census',
        text: 'pods without a socket census (ranked from the capture only, or not at all): shop/b',
        count: 1,
      },
      {
        source: 'census',
        text: "no census of the node's own namespace (host.txt): hostNetwork pods' sockets are not counted",
        count: 1,
      },
    ]);
    expect(findings.at(-1)?.text).toBe(
      '1 address in the census of shop/a may be cut: net-tools netstat without -W prints at most 23 characters ' +
        '(::ffff:52.239.170.100:443 shows as ::ffff:52.239.170.1:443); rerun with `netstat -W`, `ss -tnp` or ' +
        '`cat /proc/net/tcp6` before trusting those destinations.',
    );
  });

  it('reports a cut capture, lost events and skipped capture lines', () => {
    const cut = { ...capture([source('10.244.1.5', null, 3)], 10), cutLastLine: true, lostEvents: 12, skippedTotal: 4 };
    const ev = evidence({
      pods: [pod('shop', 'a', { ips: ['10.244.1.5'] })],
      capture: {
        status: 'truncated',
        capture: { ...cut, skipped: [{ line: 9, reason: 'Possibly lost 12 samples' }] },
        durationSeconds: null,
        origin: 'tcptracer.log',
      },
    });
    const { notes, findings } = analyse(ev);
    expect(notes.filter((n) => n.source === 'tcptracer.log')).toEqual([
      { source: 'tcptracer.log', text: 'lines skipped (first: line 9: Possibly lost 12 samples)', count: 4 },
      { source: 'tcptracer.log', text: 'last line had no newline (writer killed mid-line) and was dropped', count: 1 },
      { source: 'tcptracer.log', text: 'events lost by tcptracer (perf buffer overrun)', count: 12 },
    ]);
    expect(findings.at(-1)?.text).toBe(
      'The tcptracer capture is incomplete (it stopped early, 12 events lost): connect rates are a floor.',
    );
  });
});

describe('AKS outbound port arithmetic', () => {
  it('follows the default allocation table at every boundary', () => {
    const table = [1, 50, 51, 100, 101, 200, 201, 400, 401, 800, 801, 1000].map((n) => [n, defaultOutboundPorts(n)]);
    expect(table).toEqual([
      [1, 1024],
      [50, 1024],
      [51, 512],
      [100, 512],
      [101, 256],
      [200, 256],
      [201, 128],
      [400, 128],
      [401, 64],
      [800, 64],
      [801, 32],
      [1000, 32],
    ]);
    expect(defaultOutboundPorts(0)).toBeNull();
    expect(defaultOutboundPorts(1001)).toBeNull();
    expect(defaultOutboundPorts(2.5)).toBeNull();
  });

  it('names the pool size behind a default allocation', () => {
    expect(poolSizeForDefault(1024)).toBe('1-50 nodes');
    expect(poolSizeForDefault(32)).toBe('801-1000 nodes');
    expect(poolSizeForDefault(4000)).toBeNull();
  });

  it('fits ports x nodes into 64,000 per IP, in multiples of 8', () => {
    expect(maxOutboundPortsPerNode(1, 3)).toBe(21328);
    expect(maxOutboundPortsPerNode(2, 20)).toBe(6400);
    expect(maxOutboundPortsPerNode(4, 1)).toBe(64000);
    expect(maxOutboundPortsPerNode(0, 5)).toBe(0);
  });
});
