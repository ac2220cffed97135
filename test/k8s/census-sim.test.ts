/**
 * The pod census through the real client against the simulated cluster: the `default` scenario's node (pods with
 * netstat, only ss, only cat, distroless, exec-forbidden, not running, hostNetwork), the concurrency bound on the
 * 250-pod `many-pods` node, and each exec fault carried through to a complete report that states what degraded (the
 * node-side census from the capture log stands in for pods that could not be exec'd).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { buildReport } from '../../lib/analysis/build-report.js';
import { emptyEvidence, podKey, UNKNOWN_SNAT } from '../../lib/analysis/evidence.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { captureEvidenceOf } from '../../lib/k8s/capture-evidence.js';
import { parseCaptureLog } from '../../lib/k8s/capture-log.js';
import {
  censusEvidence,
  censusNode,
  fillFromNodeCensus,
  type CensusPod,
  type PodCensusResult,
} from '../../lib/k8s/census.js';
import { execInPod, type ExecFn } from '../../lib/k8s/exec.js';
import { listPodsOnNode, type PodSnapshot } from '../../lib/k8s/pods.js';
import type { SocketDocument } from '../../lib/parse/sockets.js';
import { renderCaptureLog } from '../../sim/capture-log.js';
import { startSim, type RunningSim } from '../../sim/server.js';

let sim: RunningSim;
let kc: KubeConfig;
let pods: PodSnapshot[];

beforeAll(async () => {
  sim = await startSim({ scenario: 'default' });
  kc = sim.kubeConfig();
  ({ pods } = await listPodsOnNode(makeKubeClients(kc), sim.expected.node));
});
afterAll(() => sim.close());
afterEach(() => sim.setFaults({ execLatencyMs: 0, execDropMidStream: false, execForbidden: false }));

/** An exec that counts calls per pod and concurrent execs, around the real one. */
function counting(inner: ExecFn = execInPod) {
  const calls: string[] = [];
  let active = 0;
  let peak = 0;
  const exec: ExecFn = async (config, request) => {
    calls.push(`${request.namespace}/${request.pod}`);
    active++;
    peak = Math.max(peak, active);
    try {
      return await inner(config, request);
    } finally {
      active--;
    }
  };
  return { exec, calls, peak: () => peak };
}

function outcome(r: PodCensusResult): string {
  switch (r.source) {
    case 'exec':
      return `exec ${r.tool}`;
    case 'node-census':
      return `node-census (${r.execFailure.failure})`;
    case 'host-network':
      return 'host-network';
    case 'none':
      return `${r.failure} after ${r.attempts.length}`;
  }
}

const summaryOf = (r: PodCensusResult | undefined) => (r && 'document' in r ? r.document.summary : undefined);
const find = (results: readonly PodCensusResult[], name: string) => results.find((r) => r.pod.name === name);

/** Established public sockets the scenario declares for a pod (the count the census must find). */
function scenarioEstablishedTo(pod: string, prefix: string): number {
  const spec = sim.scenario.pods.find((p) => p.name === pod)!;
  return spec.sockets
    .filter((s) => s.state === 'ESTABLISHED' && s.remote?.startsWith(prefix))
    .reduce((n, s) => n + s.count, 0);
}

describe('censusNode on the default scenario', () => {
  it('takes each pod through the right tool, and says why for the others', async () => {
    const counter = counting();
    const { results, summary } = await censusNode(kc, pods, { exec: counter.exec, timeoutMs: 5_000 });
    expect(Object.fromEntries(results.map((r) => [podKey(r.pod), outcome(r)]))).toEqual({
      'ingress-nginx/ingress-nginx-controller-6c5d9f7b8-q8z2x': 'exec netstat',
      'kube-system/azure-ip-masq-agent-x5zqv': 'host-network',
      'kube-system/coredns-6f8f6b7d9-4kq2w': 'no-such-binary after 3',
      'kube-system/konnectivity-agent-7d5b8c9f4-wq2tz': 'no-such-binary after 3',
      'kube-system/kube-proxy-7xk9p': 'host-network',
      'kube-system/metrics-server-5dfc9b8c7-2nwsx': 'no-such-binary after 3',
      'payments/fraud-scorer-84c6d7f9b5-t7w4r': 'no-such-binary after 3',
      'security/vault-0': 'forbidden after 1',
      'shop/cart-6d9c8b7f5-h2j9k': 'exec proc',
      'shop/catalog-5f8d9c7b6-m4n7q': 'exec ss',
      'shop/checkout-7d9f8b6c5d-x2k4p': 'exec netstat',
      'shop/db-migrate-20251126': 'container-not-running after 0',
      'shop/recommendations-7b4f9d8c6-p5l2m': 'container-not-running after 0',
    });
    expect(summary).toMatchObject({
      pods: 13,
      exec: 4,
      hostNetwork: 2,
      failed: 7,
      nodeCensus: 0,
      execFailures: { 'no-such-binary': 4, forbidden: 1, 'container-not-running': 2 },
      execs: 1 + 3 + 2 + 1 + 4 * 3 + 1,
    });
    expect(counter.calls.length).toBe(summary.execs);
  });

  it('finds the scenario numbers in each census', async () => {
    const { results } = await censusNode(kc, pods);
    const culprit = find(results, sim.expected.culprit.split('/')[1]!);
    expect(scenarioEstablishedTo('checkout-7d9f8b6c5d-x2k4p', '20.60.1.9:')).toBe(870);
    expect(summaryOf(culprit)).toMatchObject({
      established: 886,
      establishedPublic: 870,
      establishedPublicOutbound: 870,
      byState: { ESTABLISHED: 886, SYN_SENT: 64, TIME_WAIT: 40 },
      publicDestinations: [{ endpoint: '20.60.1.9:443', count: 870 }],
    });
    // catalog: 300 flows spread over 60 destinations plus 40 over 8, through ss.
    expect(summaryOf(find(results, 'catalog-5f8d9c7b6-m4n7q'))).toMatchObject({ establishedPublicOutbound: 340 });
    expect(summaryOf(find(results, 'catalog-5f8d9c7b6-m4n7q'))!.publicDestinations).toHaveLength(68);
    // cart: /proc/net/tcp{,6} only.
    expect(summaryOf(find(results, 'cart-6d9c8b7f5-h2j9k'))).toMatchObject({
      established: 45,
      establishedPublicOutbound: 25,
    });
    // ingress: 450 public connections, all inbound (netstat -ptn shows no LISTEN rows; the port rule tells).
    expect(summaryOf(find(results, 'ingress-nginx-controller-6c5d9f7b8-q8z2x'))).toMatchObject({
      establishedPublic: 450,
      establishedPublicOutbound: 0,
    });
  });

  it('does not exec into hostNetwork pods: the node namespace is counted once, as the host', async () => {
    const counter = counting();
    const { results, summary } = await censusNode(kc, pods, { exec: counter.exec });
    const hostPods = pods.filter((p) => p.hostNetwork).map(podKey);
    expect(hostPods).toEqual(['kube-system/azure-ip-masq-agent-x5zqv', 'kube-system/kube-proxy-7xk9p']);
    expect(counter.calls.filter((c) => hostPods.includes(c))).toEqual([]);
    expect(summary.hostNetwork).toBe(2);
    expect(censusEvidence(results).censuses.some((c) => hostPods.includes(podKey(c)))).toBe(false);
  });

  it('reads a container that stopped after the pods were listed from the API answer', async () => {
    const stale: CensusPod = {
      namespace: 'shop',
      name: 'recommendations-7b4f9d8c6-p5l2m',
      hostNetwork: false,
      containers: [{ name: 'recommendations', running: true }],
    };
    const { results } = await censusNode(kc, [stale]);
    expect(results[0]).toMatchObject({
      source: 'none',
      failure: 'container-not-running',
      message: 'netstat in recommendations: HTTP 400: container not found ("recommendations")',
    });
  });
});

describe('censusNode on the 250-pod node', () => {
  it('never runs more execs at once than the concurrency bound, and uses all of it', async () => {
    const many = await startSim({ scenario: 'many-pods' });
    try {
      many.setFaults({ execLatencyMs: 30 });
      const manyKc = many.kubeConfig();
      const { pods: manyPods } = await listPodsOnNode(makeKubeClients(manyKc), many.expected.node);
      expect(manyPods.length).toBe(250);
      const counter = counting();
      const { summary } = await censusNode(manyKc, manyPods, { exec: counter.exec, concurrency: 8 });
      expect(counter.peak()).toBe(8);
      expect(summary.exec + summary.hostNetwork).toBe(250);
      expect(summary.concurrency).toBe(8);
    } finally {
      await many.close();
    }
  });
});

describe('exec faults end in a complete report that states what degraded', () => {
  /** The capture Job's log for the node, as the sim writes it, parsed into evidence pieces and per-netns censuses. */
  function capturePieces() {
    const text = renderCaptureLog(sim.scenario, sim.expected.node, {
      captureSeconds: 30,
      maxLines: 100_000,
      startedAt: new Date('2026-11-26T10:00:00Z'),
      world: sim.world,
    });
    const log = parseCaptureLog(text);
    if (!log.ok) throw new Error(log.problem.message);
    const pieces = captureEvidenceOf(log.value, pods, { origin: 'sim capture' });
    const byNetns = new Map<number, SocketDocument>();
    for (const section of log.value.censuses) if (section.document) byNetns.set(section.netns, section.document);
    const netnsOf = new Map(pieces.pods.map((p) => [podKey(p), p.netns]));
    return { pieces, byNetns, netnsOf: (pod: CensusPod) => netnsOf.get(podKey(pod)) ?? null };
  }

  async function reportWith(options: Parameters<typeof censusNode>[2]) {
    const started = Date.now();
    const { results, summary } = await censusNode(kc, pods, options);
    const wall = Date.now() - started;
    const { pieces, byNetns, netnsOf } = capturePieces();
    const filled = fillFromNodeCensus(results, netnsOf, byNetns);
    const census = censusEvidence(filled);
    const report = buildReport(
      {
        ...emptyEvidence(),
        node: { name: sim.expected.node, ip: sim.expected.nodeIp },
        pods: pieces.pods,
        censuses: census.censuses,
        hostCensuses: pieces.hostCensuses,
        capture: pieces.capture,
        netns: pieces.netns,
        snat: UNKNOWN_SNAT,
        degraded: [...pieces.degraded, ...census.degraded],
        notes: pieces.notes,
      },
      {
        investigationId: 'inv-test',
        generatedAt: '2026-11-26T10:01:00Z',
        trigger: { kind: 'cli', source: 'test' },
      },
    );
    return { results, filled, summary, report, wall };
  }

  const culpritFirst = (report: ReturnType<typeof buildReport>) => {
    const top = report.pods[0]!;
    expect(`${top.namespace}/${top.name}`).toBe(sim.expected.culprit);
    expect(top.establishedPublicOutbound).toBe(870);
  };

  it('without faults: distroless and forbidden pods come from the node-side census', async () => {
    const { filled, report } = await reportWith({});
    culpritFirst(report);
    expect(report.pods[0]!.source).toBe('exec');
    expect(find(filled, 'fraud-scorer-84c6d7f9b5-t7w4r')).toMatchObject({
      source: 'node-census',
      execFailure: { failure: 'no-such-binary' },
    });
    expect(summaryOf(find(filled, 'fraud-scorer-84c6d7f9b5-t7w4r'))).toMatchObject({ establishedPublicOutbound: 48 });
    expect(report.degraded.filter((d) => d.step === 'pod census').map((d) => d.reason)).toEqual([
      // recommendations is crash-looping: its sandbox (and netns) lives on; db-migrate's is gone.
      'container not running for 2 pods (shop/db-migrate-20251126, shop/recommendations-7b4f9d8c6-p5l2m): no container of the pod is running; 1 taken from the node-side census instead; 1 without any census',
      'exec forbidden for 1 pod (security/vault-0): netstat in vault: HTTP 403: pods "vault-0" is forbidden: User "clusterUser_rg-shop-prod_aks-shop-prod" cannot create resource "pods/exec" in API group "" in the namespace "security"; 1 taken from the node-side census instead',
      'no netstat, ss or cat in the image for 4 pods (kube-system/coredns-6f8f6b7d9-4kq2w, kube-system/konnectivity-agent-7d5b8c9f4-wq2tz, kube-system/metrics-server-5dfc9b8c7-2nwsx, payments/fraud-scorer-84c6d7f9b5-t7w4r): none of netstat, ss, cat is in the image (coredns); 4 taken from the node-side census instead',
    ]);
  });

  // vault-0 is refused exec by RBAC whatever the fault: 8 pods meet the fault, 9 with it for execForbidden.
  it.each([
    ['execForbidden', { execForbidden: true }, {}, 'forbidden', 9, 'exec forbidden for 9 pods'],
    ['execDropMidStream', { execDropMidStream: true }, {}, 'dropped', 8, 'exec connection dropped for 8 pods'],
    [
      'execLatencyMs > timeoutMs',
      { execLatencyMs: 2_000 },
      { timeoutMs: 150 },
      'timeout',
      8,
      'exec timed out for 8 pods',
    ],
  ] as const)('%s', async (_name, faults, options, failure, count, reason) => {
    sim.setFaults(faults);
    const { results, summary, report, wall } = await reportWith(options);
    // Every pod that was exec'd failed with this fault after one attempt (the next tool would fail the same way).
    const execd = results.filter((r) => r.source === 'none' && r.attempts.length > 0 && r.pod.name !== 'vault-0');
    expect(execd).toHaveLength(8);
    for (const r of execd) expect(r).toMatchObject({ failure, attempts: [{ outcome: failure }] });
    expect(summary.execFailures).toEqual({ forbidden: 1, [failure]: count, 'container-not-running': 2 });
    expect(wall).toBeLessThan(2_000); // no hang: one bounded round of execs
    // The report is complete: the culprit is still first, from the node-side census, and the report says why.
    culpritFirst(report);
    expect(report.pods[0]!.source).toBe('node-census');
    const lines = report.degraded.filter((d) => d.step === 'pod census').map((d) => d.reason);
    expect(
      lines.some((l) => l.startsWith(reason) && l.endsWith(`; ${count} taken from the node-side census instead`)),
    ).toBe(true);
  });
});
