/**
 * The notifyCensus activity on its own: an in-memory store and output (the wire adds nothing between them: the whole
 * census against the simulated cluster is in test/serve/serve-census.test.ts), loopback receivers playing Teams and a
 * generic webhook as the targets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TEAMS_MAX_BYTES } from '../../lib/notify/teams.js';
import type { TeamsMessage } from '../../lib/notify/teams.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from '../../lib/notify/webhook.js';
import type { CensusWebhookPayload } from '../../lib/notify/webhook.js';
import { censusNotificationsKey, notifyCensus } from '../../lib/workflow/activities/notifyCensus.js';
import { MemoryEvidenceStore } from '../../lib/workflow/context.js';
import type { ActivityContext, EvidenceStore, NotifySettings, ReportOutput } from '../../lib/workflow/context.js';
import type { CensusNodeRef, NotifyCensusInput } from '../../lib/workflow/contracts.js';
import { nodesToName } from '../../orchestrations/cluster.js';
import { startReceiver } from '../notify/receiver.js';
import type { Receiver } from '../notify/receiver.js';

const SECRET = 'whsec-census-0123456789';
const NATGW = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/natGateways/ng-shop-egress';
const CLUSTER = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-shop';

let teamsRx: Receiver;
let hookRx: Receiver;
beforeAll(async () => {
  [teamsRx, hookRx] = await Promise.all([startReceiver(), startReceiver()]);
});
afterAll(() => Promise.all([teamsRx.close(), hookRx.close()]));
beforeEach(() => {
  teamsRx.reset();
  hookRx.reset();
});

interface Harness {
  readonly ctx: ActivityContext;
  readonly store: MemoryEvidenceStore;
  readonly links: Array<[string, number]>;
}

function harness(
  notify: NotifySettings | undefined,
  options: { readLink?: ReportOutput['readLink'] | null; store?: EvidenceStore } = {},
): Harness {
  const store = new MemoryEvidenceStore();
  const links: Array<[string, number]> = [];
  const readLink =
    options.readLink === undefined
      ? (path: string) => Promise.resolve(`https://st.blob.example/${path}?sp=r&sig=abc`)
      : options.readLink;
  const output: ReportOutput = {
    paths: () => ({ json: 'r.json', markdown: 'r.md', html: 'r.html' }),
    writeReport: () => Promise.reject(new Error('notifyCensus writes no report')),
    writeRaw: () => Promise.reject(new Error('notifyCensus writes nothing')),
    ...(readLink
      ? {
          readLink: (path: string, ttl: number) => {
            links.push([path, ttl]);
            return readLink(path, ttl);
          },
        }
      : {}),
  };
  const ctx = {
    settings: { namespace: 'ns', allocatedPorts: null, privateCidrs: [], ...(notify ? { notify } : {}) },
    store: options.store ?? store,
    output,
    signal: new AbortController().signal,
  } as unknown as ActivityContext;
  return { ctx, store, links };
}

const both = (): NotifySettings => ({
  teamsWebhookUrl: `${teamsRx.origin}/teams?sig=secret-token`,
  webhook: { url: `${hookRx.origin}/hook`, secret: SECRET },
  linkTtlSeconds: 900,
});

const nodeRef = (i: number, name = `aks-nodepool1-12345678-vmss00000${i}`): CensusNodeRef => ({
  investigationId: `snat-c1-n${i}`,
  node: name,
  outcome: 'reported',
  html: `reports/aks-shop/${name}/2026/11/26/snat-c1-n${i}/report.html`,
  message: null,
});

const INPUT: NotifyCensusInput = {
  investigationId: 'snat-c1',
  generatedAt: '2026-11-26T10:02:00.000Z',
  trigger: { kind: 'alert', source: 'ng-shop-egress-snat-failed', alertId: 'a-1' },
  cluster: { resourceId: CLUSTER, name: 'aks-shop' },
  natGatewayId: NATGW,
  outcome: 'census',
  message: null,
  total: 3,
  skipped: { notReady: 0, overLimit: 0 },
  counts: { censused: 3, reported: 2, failed: 1, notFound: 0 },
  top: [
    {
      pod: 'shop/api-7d9f',
      node: 'aks-nodepool1-12345678-vmss000001',
      investigationId: 'snat-c1-n1',
      score: 870,
      publicConnections: 861,
    },
  ],
  // As the workflow names them: the top pod's node first.
  nodes: [
    nodeRef(1),
    nodeRef(0),
    {
      investigationId: 'snat-c1-n2',
      node: 'aks-nodepool1-12345678-vmss000002',
      outcome: 'failed',
      html: null,
      message: 'listPods: HTTP 500',
    },
  ],
  scope: { clusterId: CLUSTER, investigationId: 'snat-c1' },
};

const teamsCard = (rx: Receiver) => (JSON.parse(rx.received[0]!.body) as TeamsMessage).attachments[0].content;

describe('notifyCensus', () => {
  it('no targets: nothing read, nothing sent', async () => {
    const h = harness(undefined);
    expect(await notifyCensus(h.ctx, INPUT)).toEqual({ targets: [], link: 'none', linked: 0, degraded: [] });
    expect(h.links).toEqual([]);
    expect(h.store.keys()).toEqual([]);
  });

  it('one Teams card and one signed webhook for the census, each node report linked with the settings TTL', async () => {
    const h = harness(both());
    const out = await notifyCensus(h.ctx, INPUT);
    expect(out).toEqual({
      targets: [
        { target: `teams ${teamsRx.origin}`, kind: 'teams', ok: true, status: 200, attempts: 1 },
        { target: `webhook ${hookRx.origin}`, kind: 'webhook', ok: true, status: 200, attempts: 1 },
      ],
      link: 'read-link',
      linked: 2,
      degraded: [],
    });
    expect(teamsRx.received).toHaveLength(1);
    expect(hookRx.received).toHaveLength(1);
    // The failed node has no report to link.
    expect(h.links).toEqual([
      [INPUT.nodes[0]!.html, 900],
      [INPUT.nodes[1]!.html, 900],
    ]);

    const hook = hookRx.received[0]!;
    expect(
      verifyWebhookSignature(
        SECRET,
        hook.headers[TIMESTAMP_HEADER] as string,
        hook.body,
        hook.headers[SIGNATURE_HEADER] as string,
      ),
    ).toBe(true);
    const payload = JSON.parse(hook.body) as CensusWebhookPayload;
    expect(payload).toMatchObject({
      schemaVersion: 1,
      kind: 'census',
      investigationId: 'snat-c1',
      cluster: { name: 'aks-shop', resourceId: CLUSTER },
      natGateway: { name: 'ng-shop-egress', resourceId: NATGW },
      outcome: 'census',
      counts: { total: 3, censused: 3, reported: 2, failed: 1, notFound: 0, skippedNotReady: 0, skippedOverLimit: 0 },
      topPods: [{ rank: 1, pod: 'shop/api-7d9f', node: 'aks-nodepool1-12345678-vmss000001', score: 870 }],
      nodeReportsOmitted: 0,
    });
    expect(payload.nodeReports.map((n) => [n.investigationId, n.outcome, n.reportUrl])).toEqual([
      ['snat-c1-n1', 'reported', `https://st.blob.example/${INPUT.nodes[0]!.html}?sp=r&sig=abc`],
      ['snat-c1-n0', 'reported', `https://st.blob.example/${INPUT.nodes[1]!.html}?sp=r&sig=abc`],
      ['snat-c1-n2', 'failed', null],
    ]);

    const card = teamsCard(teamsRx);
    const text = JSON.stringify(card);
    expect(text).toContain('SNAT census of ');
    expect(text).toContain(`https://st.blob.example/${INPUT.nodes[1]!.html}?sp=r&sig=abc`);
    expect(text).toContain(`https://st.blob.example/${INPUT.nodes[0]!.html}?sp=r&sig=abc`);
    expect(h.store.keys()).toEqual([censusNotificationsKey('snat-c1')]);
  });

  it('run again (at-least-once): the recorded deliveries are returned, nothing is sent twice', async () => {
    const h = harness(both());
    teamsRx.script({ status: 400 });
    const first = await notifyCensus(h.ctx, INPUT);
    expect(first.targets.map((t) => t.ok)).toEqual([false, true]);
    expect(first.degraded).toEqual([
      { step: 'notify', reason: `teams ${teamsRx.origin}: answered HTTP 400; not retried` },
    ]);
    const again = await notifyCensus(h.ctx, INPUT);
    expect(again).toEqual(first);
    expect(teamsRx.received).toHaveLength(1);
    expect(hookRx.received).toHaveLength(1);
    expect(h.links).toHaveLength(2);
  });

  it('a store that cannot say whether it was sent (transient): throws before sending anything', async () => {
    const busy = Object.assign(new Error('blob: HTTP 503 ServerBusy'), { transient: true });
    const store: EvidenceStore = { get: () => Promise.reject(busy), put: () => Promise.resolve() };
    const h = harness(both(), { store });
    await expect(notifyCensus(h.ctx, INPUT)).rejects.toThrow('blob: HTTP 503 ServerBusy');
    expect(teamsRx.received).toEqual([]);
    expect(hookRx.received).toEqual([]);
  });

  it('deliveries that cannot be recorded: sent once all the same, and said (a throw would send again)', async () => {
    const store: EvidenceStore = {
      get: (key) => Promise.reject(new Error(`evidence store: no entry ${JSON.stringify(key)}`)),
      put: () => Promise.reject(new Error('blob: HTTP 403 AuthorizationFailure')),
    };
    const out = await notifyCensus(harness(both(), { store }).ctx, INPUT);
    expect(out.targets.map((t) => t.ok)).toEqual([true, true]);
    expect(out.degraded).toEqual([
      {
        step: 'notify',
        reason:
          "the census's deliveries could not be recorded (blob: HTTP 403 AuthorizationFailure); should this step run again, it sends again",
      },
    ]);
  });

  it('a read link that cannot be made: that node is named without a link, and the result says so', async () => {
    const h = harness(both(), {
      readLink: (path) =>
        path.includes('vmss000000')
          ? Promise.reject(new Error('could not sign a read link for reports/x: HTTP 403'))
          : Promise.resolve(`https://st.blob.example/${path}?sig=abc`),
    });
    const out = await notifyCensus(h.ctx, INPUT);
    expect(out).toMatchObject({ link: 'read-link', linked: 1, targets: [{ ok: true }, { ok: true }] });
    expect(out.degraded).toEqual([
      {
        step: 'notify',
        reason:
          "no read link could be made for 1 of 2 node report(s) (could not sign a read link for reports/x: HTTP 403); the census's message names them without a link",
      },
    ]);
    const payload = JSON.parse(hookRx.received[0]!.body) as CensusWebhookPayload;
    expect(payload.nodeReports.map((n) => n.reportUrl === null)).toEqual([false, true, true]);
    expect(payload.nodeReports[1]).toMatchObject({ investigationId: 'snat-c1-n0', reportUrl: null });
  });

  it('reports in a folder (no read links): the messages name each report by its path', async () => {
    const h = harness({ webhook: { url: `${hookRx.origin}/hook`, secret: SECRET } }, { readLink: null });
    const out = await notifyCensus(h.ctx, INPUT);
    expect(out).toMatchObject({ link: 'path', linked: 2, degraded: [] });
    const payload = JSON.parse(hookRx.received[0]!.body) as CensusWebhookPayload;
    expect(payload.nodeReports[0]!.reportUrl).toBe(INPUT.nodes[0]!.html);
  });

  it('no node censused: one short message saying why', async () => {
    const h = harness(both());
    const message = 'no node to census: none of its 2 node(s) is Ready (2 not Ready); no node was investigated';
    const out = await notifyCensus(h.ctx, {
      ...INPUT,
      outcome: 'no-nodes',
      message,
      total: 2,
      skipped: { notReady: 2, overLimit: 0 },
      counts: { censused: 0, reported: 0, failed: 0, notFound: 0 },
      top: [],
      nodes: [],
    });
    expect(out).toEqual({
      targets: [expect.objectContaining({ ok: true }), expect.objectContaining({ ok: true })],
      link: 'none',
      linked: 0,
      degraded: [],
    });
    expect(JSON.parse(hookRx.received[0]!.body)).toMatchObject({ outcome: 'no-nodes', message, nodeReports: [] });
    expect(JSON.stringify(teamsCard(teamsRx))).toContain(message);
  });

  it('100 nodes with long names: one card under 28 KB linking the first 20 (the culprit’s first), "and 80 more"', async () => {
    const long = (i: number) => `aks-${'pool-with-a-rather-long-name-'.repeat(8)}vmss${String(i).padStart(6, '0')}`;
    const nodes = Array.from({ length: 100 }, (_, i) => nodeRef(i, long(i)));
    const top = Array.from({ length: 10 }, (_, k) => {
      const i = 99 - k * 7;
      return {
        pod: `namespace-${'x'.repeat(50)}/pod-${'y'.repeat(200)}-${i}`,
        node: long(i),
        investigationId: `snat-c1-n${i}`,
        score: 1000 - k,
        publicConnections: 900 - k,
      };
    });
    const input: NotifyCensusInput = {
      ...INPUT,
      total: 100,
      counts: { censused: 100, reported: 100, failed: 0, notFound: 0 },
      top,
      // What the workflow passes: the nodes it names, not all 100.
      nodes: nodesToName(nodes, top),
    };
    // Small JSON in Durable's history, whatever the cluster.
    expect(JSON.stringify(input).length).toBeLessThan(32 * 1024);
    const h = harness(both(), {
      // A user-delegation SAS is long: make every link so.
      readLink: (path) => Promise.resolve(`https://st.blob.example/${path}?${'skoid=x&'.repeat(60)}sig=abc`),
    });
    const out = await notifyCensus(h.ctx, input);
    expect(out).toMatchObject({ linked: 20, targets: [{ ok: true }, { ok: true }] });
    expect(h.links).toHaveLength(20);
    expect(h.links[0]![0]).toBe(nodes[99]!.html);
    expect(Buffer.byteLength(teamsRx.received[0]!.body, 'utf8')).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(teamsRx.received[0]!.body).toContain('…and ');
    const payload = JSON.parse(hookRx.received[0]!.body) as CensusWebhookPayload;
    expect(payload.nodeReports).toHaveLength(20);
    expect(payload.nodeReportsOmitted).toBe(80);
    expect(payload.counts).toMatchObject({ censused: 100, reported: 100 });
    expect(payload.topPods).toHaveLength(10);
  });
});
