import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attributeSources } from '../../lib/analysis/attribute.js';
import { buildReport } from '../../lib/analysis/build-report.js';
import type { NodeEvidence } from '../../lib/analysis/evidence.js';
import { SCORE_WEIGHTS, rankPods, scoreOf } from '../../lib/analysis/rank.js';
import type { RawSocket } from '../../lib/parse/sockets.js';
import { capture, evidence, inbound, listen, pod, podCensus, rows, socketCensus, source } from './builders.js';

const rank = (ev: NodeEvidence) => rankPods(ev, attributeSources(ev).sources);

/** Paths of every NaN or infinite number in a value (JSON.stringify would silently print them as null). */
function nonFinite(value: unknown, path = '$'): string[] {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => nonFinite(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => nonFinite(v, `${path}.${k}`));
  }
  return [];
}
const summary = (ev: NodeEvidence) =>
  rank(ev).pods.map((p) => ({ pod: `${p.ranking.namespace}/${p.ranking.name}`, score: p.ranking.score }));

/** 900 flows spread over 300 destinations, 3 each. */
function spread(): RawSocket[] {
  return Array.from({ length: 300 }, (_, i) =>
    rows(3, `10.244.1.6:${40000 + i * 3}`, `52.${i % 200}.${Math.floor(i / 200)}.9:443`),
  ).flat();
}

describe('rankPods', () => {
  it('ranks a pod with 870 flows to one IP:port above a pod with 900 flows over 300 destinations', () => {
    const ev = evidence({
      snat: { allocatedPorts: 1024, usedPorts: 990, failedConnections: null },
      pods: [pod('shop', 'spread', { ips: ['10.244.1.6'] }), pod('shop', 'focused', { ips: ['10.244.1.5'] })],
      censuses: [
        podCensus('shop', 'spread', spread()),
        podCensus('shop', 'focused', rows(870, '10.244.1.5:40000', '20.50.60.70:443')),
      ],
    });
    const result = rank(ev);
    const [first, second] = result.pods;
    expect(first?.ranking.name).toBe('focused');
    expect(first?.ranking.score).toBe(957); // 870 x 1 + 870 x 0.1
    expect(first?.ranking.topDestinations).toEqual([
      { ip: '20.50.60.70', port: 443, flows: 870, shareOfAllocated: 0.8496 },
    ]);
    expect(first?.ranking.evidence[0]).toEqual({
      term: 'peakDestinationFlows',
      value: 870,
      weight: 1,
      contribution: 870,
      note: '870 flows to 20.50.60.70:443 = 85.0% of 1024 allocated ports',
    });
    expect(second?.ranking.name).toBe('spread');
    expect(second?.ranking.score).toBe(93); // 3 x 1 + 900 x 0.1
    expect(second?.ranking.establishedPublicOutbound).toBe(900);
    expect(second?.ranking.topDestinations).toHaveLength(5);
    expect(result.destinations[0]).toEqual({
      ip: '20.50.60.70',
      port: 443,
      flows: 870,
      pods: 1,
      shareOfAllocated: 0.8496,
    });
    expect(result.destinations).toHaveLength(20);
  });

  it('never counts inbound connections: the article number keeps them, the score does not', () => {
    const ev = evidence({
      pods: [pod('ingress', 'nginx', { ips: ['10.244.1.7'] })],
      censuses: [
        podCensus('ingress', 'nginx', [
          listen('0.0.0.0:443'),
          ...inbound(50, '10.244.1.7:443', '81.2.69.160:51000'),
          ...rows(2, '10.244.1.7:41000', '10.0.5.4:5432'),
        ]),
      ],
    });
    const [only] = rank(ev).pods;
    expect(only?.ranking).toMatchObject({
      established: 52,
      establishedPublic: 50,
      establishedPublicOutbound: 0,
      synSentPublic: 0,
      closingPublic: 0,
      topDestinations: [],
      score: 0,
      source: 'file',
    });
  });

  it('counts SYN_SENT and closing states to public destinations as SNAT-holding flows', () => {
    const ev = evidence({
      pods: [pod('shop', 'a', { ips: ['10.244.1.5'] })],
      censuses: [
        podCensus('shop', 'a', [
          ...rows(10, '10.244.1.5:40000', '20.1.2.3:443', 'SYN_SENT'),
          ...rows(4, '10.244.1.5:41000', '20.1.2.3:443', 'TIME_WAIT'),
          ...rows(2, '10.244.1.5:42000', '20.1.2.3:443', 'CLOSE_WAIT'),
          ...rows(3, '10.244.1.5:43000', '20.1.2.3:443', 'ESTABLISHED'),
          ...rows(5, '10.244.1.5:44000', '10.0.0.9:443', 'SYN_SENT'),
        ]),
      ],
    });
    const [only] = rank(ev).pods;
    expect(only?.ranking).toMatchObject({
      established: 3,
      establishedPublic: 3,
      establishedPublicOutbound: 3,
      synSentPublic: 10,
      closingPublic: 6,
      topDestinations: [{ ip: '20.1.2.3', port: 443, flows: 19, shareOfAllocated: null }],
      // 19 x 1 + 10 x 2 + 19 x 0.1
      score: 40.9,
    });
    expect(only?.ranking.evidence.map((t) => [t.term, t.value, t.contribution])).toEqual([
      ['peakDestinationFlows', 19, 19],
      ['synSentPublic', 10, 20],
      ['connectsPerSecond', 0, 0],
      ['publicOutboundFlows', 19, 1.9],
    ]);
  });

  it('computes connects per second over the capture span and scores them', () => {
    const ev = evidence({
      pods: [pod('shop', 'churn', { ips: ['10.244.1.8'] }), pod('shop', 'idle', { ips: ['10.244.1.9'] })],
      capture: {
        status: 'complete',
        capture: capture([source('10.244.1.8', null, 300)], 60),
        durationSeconds: null,
        origin: 'tcptracer.log',
      },
    });
    const [churn, idle] = rank(ev).pods;
    expect(churn?.ranking).toMatchObject({
      name: 'churn',
      source: 'capture-only',
      publicConnects: 300,
      connectsPerSecond: 5,
      score: 20,
    });
    expect(idle?.ranking).toMatchObject({
      name: 'idle',
      source: 'none',
      publicConnects: 0,
      connectsPerSecond: null,
      score: 0,
    });
  });

  it('uses the configured capture duration over the events span when it is known', () => {
    const ev = evidence({
      pods: [pod('shop', 'churn', { ips: ['10.244.1.8'] })],
      capture: {
        status: 'complete',
        capture: capture([source('10.244.1.8', null, 300)], 50),
        durationSeconds: 120,
        origin: null,
      },
    });
    expect(rank(ev).pods[0]?.ranking.connectsPerSecond).toBe(2.5);
  });

  it('breaks score ties by namespace then name, whatever the input order', () => {
    const pods = [pod('b', 'x'), pod('a', 'y'), pod('a', 'x')];
    expect(summary(evidence({ pods }))).toEqual([
      { pod: 'a/x', score: 0 },
      { pod: 'a/y', score: 0 },
      { pod: 'b/x', score: 0 },
    ]);
  });

  it('counts the host namespace once, not once per hostNetwork pod', () => {
    const hostRows = rows(100, '10.224.0.4:40000', '13.107.42.14:443');
    const ev = evidence({
      pods: [
        pod('kube-system', 'kube-proxy-abc', { hostNetwork: true, ips: ['10.224.0.4'] }),
        pod('monitoring', 'node-exporter-x', { hostNetwork: true, ips: ['10.224.0.4'] }),
      ],
      censuses: [
        podCensus('kube-system', 'kube-proxy-abc', hostRows),
        podCensus('monitoring', 'node-exporter-x', hostRows),
      ],
    });
    const result = rank(ev);
    expect(result.pods.map((p) => p.ranking.name)).toEqual(['host network']);
    expect(result.pods[0]?.ranking).toMatchObject({
      namespace: '(node)',
      hostNetwork: true,
      establishedPublicOutbound: 100,
      score: 110,
      owner:
        "the node's own network namespace; hostNetwork pods kube-system/kube-proxy-abc, monitoring/node-exporter-x",
    });
    expect(result.destinations).toEqual([
      { ip: '13.107.42.14', port: 443, flows: 100, pods: 1, shareOfAllocated: null },
    ]);
    expect(result.notes).toEqual([
      {
        source: 'ranking',
        text: "censuses of hostNetwork pods show the node's own namespace and were not counted again: pods/monitoring/node-exporter-x.txt",
        count: 1,
      },
    ]);
  });

  it('prefers an explicit host census and lists host capture pids and comms', () => {
    const ev = evidence({
      hostCensuses: [socketCensus('host.txt', rows(3, '10.224.0.4:40000', '13.107.42.14:443'))],
      capture: {
        status: 'complete',
        capture: capture([source('10.224.0.4', null, 10, { pids: [812, 77], comms: ['kubelet', 'curl'] })], 10),
        durationSeconds: null,
        origin: null,
      },
    });
    const [host] = rank(ev).pods;
    expect(host?.ranking).toMatchObject({
      name: 'host network',
      source: 'file',
      connectsPerSecond: 1,
      owner: "the node's own network namespace; pids 77, 812; comms curl, kubelet",
      score: 7.3,
    });
  });

  it('keeps unattributed capture sources as pseudo-entries', () => {
    const ev = evidence({
      capture: {
        status: 'complete',
        capture: capture([source('10.244.9.9', 4026532999, 40, { pids: [4242], comms: ['python3'] })], 20),
        durationSeconds: null,
        origin: null,
      },
    });
    expect(rank(ev).pods.map((p) => p.ranking)).toEqual([
      expect.objectContaining({
        namespace: '(node)',
        name: 'unattributed 10.244.9.9 netns 4026532999',
        owner: 'no pod matches this capture source; pids 4242; comms python3',
        source: 'capture-only',
        ips: ['10.244.9.9'],
        netns: 4026532999,
        connectsPerSecond: 2,
        score: 8,
      }),
    ]);
  });

  it('documents every weight in one object', () => {
    expect(SCORE_WEIGHTS).toEqual({
      peakDestinationFlows: 1,
      synSentPublic: 2,
      connectsPerSecond: 4,
      publicOutboundFlows: 0.1,
    });
  });

  it('scores an empty pod zero', () => {
    expect(
      scoreOf(
        {
          established: 0,
          establishedPublic: 0,
          establishedPublicOutbound: 0,
          synSentPublic: 0,
          closingPublic: 0,
          publicOutboundFlows: 0,
          destinations: [],
          suspectSockets: 0,
          publicConnects: 0,
          connectsPerSecond: null,
        },
        0,
      ).score,
    ).toBe(0);
  });
});

describe('rankPods properties', () => {
  const destination = fc.record({
    ip: fc.constantFrom('20.50.60.70', '52.239.170.100', '10.0.0.5', '13.107.42.14', '2603:1030::1'),
    port: fc.constantFrom(443, 5432, 80),
    state: fc.constantFrom('ESTABLISHED', 'SYN_SENT', 'TIME_WAIT', 'CLOSE_WAIT', 'SYN_RECV' as const),
    count: fc.integer({ min: 0, max: 20 }),
  });
  const podArb = fc.record({
    namespace: fc.constantFrom('a', 'b', 'shop'),
    name: fc.string({ minLength: 1, maxLength: 6 }),
    octet: fc.integer({ min: 1, max: 60 }),
    flows: fc.array(destination, { maxLength: 4 }),
    connects: fc.integer({ min: 0, max: 1000 }),
  });

  it('gives the same ranking for any pod order and never produces NaN or Infinity', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(podArb, { selector: (p) => `${p.namespace}/${p.name}`, maxLength: 8 }),
        fc.option(fc.integer({ min: 0, max: 4096 }), { nil: null }),
        fc.option(fc.double({ min: 0, max: 600, noNaN: true }), { nil: null }),
        fc.integer({ min: 0, max: 1000 }),
        (specs, allocatedPorts, span, seed) => {
          const pods = specs.map((s) => pod(s.namespace, s.name, { ips: [`10.244.1.${s.octet}`] }));
          const censuses = specs.map((s) =>
            podCensus(
              s.namespace,
              s.name,
              s.flows.flatMap((f, i) =>
                rows(
                  f.count,
                  `10.244.1.${s.octet}:${40000 + i * 100}`,
                  `${f.ip.includes(':') ? `[${f.ip}]` : f.ip}:${f.port}`,
                  f.state,
                ),
              ),
            ),
          );
          const sources = specs.map((s) => source(`10.244.1.${s.octet}`, null, s.connects));
          const build = (order: <T>(list: T[]) => T[]) =>
            evidence({
              snat: { allocatedPorts, usedPorts: null, failedConnections: null },
              pods: order(pods),
              censuses: order(censuses),
              capture: { status: 'complete', capture: capture(sources, span), durationSeconds: null, origin: null },
            });
          const rotate = <T>(list: T[]): T[] => {
            const k = list.length === 0 ? 0 : seed % list.length;
            return [...list.slice(k), ...list.slice(0, k)].reverse();
          };
          const a = rank(build((l) => l));
          const b = rank(build(rotate));
          expect(b).toEqual(a);
          // The whole report too: findings and recommendations divide by the same numbers.
          const report = buildReport(
            build((l) => l),
            {
              investigationId: 'p',
              generatedAt: '2025-01-31T12:00:00.000Z',
              trigger: { kind: 'cli', source: null },
            },
          );
          expect(nonFinite(a)).toEqual([]);
          expect(nonFinite(report)).toEqual([]);
          expect(JSON.stringify(report)).not.toMatch(/NaN|Infinity/);
          for (const p of a.pods) {
            expect(Number.isFinite(p.ranking.score)).toBe(true);
            for (const t of p.ranking.evidence) expect(Number.isFinite(t.contribution)).toBe(true);
          }
          for (let i = 1; i < a.pods.length; i++) {
            expect(a.pods[i - 1]!.ranking.score).toBeGreaterThanOrEqual(a.pods[i]!.ranking.score);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
