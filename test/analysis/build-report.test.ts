import { describe, expect, it } from 'vitest';
import { buildReport } from '../../lib/analysis/build-report.js';
import type { NodeEvidence } from '../../lib/analysis/evidence.js';
import { capture, evidence, inbound, listen, pod, podCensus, rows, socketCensus, source } from './builders.js';

const OPTIONS = {
  investigationId: 'inv-0001',
  generatedAt: '2025-01-31T12:00:00.000Z',
  trigger: { kind: 'alert' as const, source: 'snat-used-ports-high', alertId: '/subscriptions/x/alerts/1' },
  cluster: {
    resourceId: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1',
    name: 'c1',
  },
};

/** Four pods share the pressure on one destination; no capture; one pod's census could not be taken. */
function nodeWide(): NodeEvidence {
  return evidence({
    window: { start: '2025-01-31T11:50:00Z', end: '2025-01-31T11:55:00Z' },
    snat: { allocatedPorts: 512, usedPorts: 480, failedConnections: 0 },
    pods: [
      pod('shop', 'api-1', { ips: ['10.244.1.10'], owner: 'Deployment/api' }),
      pod('shop', 'api-2', { ips: ['10.244.1.11'], owner: 'Deployment/api' }),
      pod('shop', 'worker-0', { ips: ['10.244.1.12'], owner: 'StatefulSet/worker' }),
      pod('ingress', 'nginx-abc', { ips: ['10.244.1.13'], owner: 'Deployment/nginx' }),
      pod('shop', 'distroless-1', { ips: ['10.244.1.14'] }),
      pod('kube-system', 'kube-proxy-x', { hostNetwork: true }),
    ],
    censuses: [
      podCensus('shop', 'api-1', rows(70, '10.244.1.10:40000', '20.60.1.1:443')),
      podCensus('shop', 'api-2', rows(65, '10.244.1.11:40000', '20.60.1.1:443')),
      podCensus('shop', 'worker-0', [
        ...rows(60, '10.244.1.12:40000', '20.60.1.1:443'),
        ...rows(6, '10.244.1.12:41000', '20.60.1.1:443', 'SYN_SENT'),
      ]),
      podCensus('ingress', 'nginx-abc', [
        listen('0.0.0.0:443'),
        ...inbound(120, '10.244.1.13:443', '81.2.69.160:50000'),
        ...rows(3, '10.244.1.13:42000', '20.60.1.1:443'),
      ]),
    ],
    hostCensuses: [socketCensus('host.txt', rows(2, '10.224.0.4:38000', '13.66.141.155:443'))],
    degraded: [{ step: 'collectPodConnections', reason: 'shop/distroless-1: exec failed and node census timed out' }],
  });
}

describe('buildReport', () => {
  it('builds the node-wide pressure report', async () => {
    const report = buildReport(nodeWide(), OPTIONS);
    await expect(JSON.stringify(report, null, 2) + '\n').toMatchFileSnapshot(
      '../golden/analysis/node-wide.report.json',
    );
    expect(report.pods.map((p) => `${p.rank} ${p.namespace}/${p.name} ${p.score}`)).toEqual([
      '1 shop/worker-0 84.6',
      '2 shop/api-1 77',
      '3 shop/api-2 71.5',
      '4 ingress/nginx-abc 3.3',
      '5 (node)/host network 2.2',
      '6 shop/distroless-1 0',
    ]);
  });

  it('is deterministic: same evidence in any order gives the same report', () => {
    const ev = nodeWide();
    const shuffled: NodeEvidence = { ...ev, pods: [...ev.pods].reverse(), censuses: [...ev.censuses].reverse() };
    expect(JSON.stringify(buildReport(shuffled, OPTIONS))).toBe(JSON.stringify(buildReport(ev, OPTIONS)));
  });

  it('reports the capture block from the capture', () => {
    const ev = evidence({
      pods: [pod('shop', 'a', { ips: ['10.244.1.5'] })],
      capture: {
        status: 'complete',
        capture: { ...capture([source('10.244.1.5', null, 40)], 20), cutLastLine: true, lostEvents: 2 },
        durationSeconds: null,
        origin: 'tcptracer.log',
      },
    });
    const report = buildReport(ev, OPTIONS);
    expect(report.capture).toEqual({
      status: 'complete',
      variant: 'bcc',
      durationSeconds: 20,
      events: { connect: 40, accept: 0, close: 0 },
      lostEvents: 2,
      truncated: true,
    });
    expect(report.pods[0]?.connectsPerSecond).toBe(2);
    expect(buildReport(evidence(), OPTIONS).capture).toEqual({
      status: 'missing',
      variant: null,
      durationSeconds: null,
      events: { connect: 0, accept: 0, close: 0 },
      lostEvents: 0,
      truncated: false,
    });
  });
});
