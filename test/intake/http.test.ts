import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/settings.js';
import {
  ALERT_SECRET_HEADER,
  alertResponse,
  checkAlertSecret,
  checkInvestigationId,
  checkServeKey,
  FUNCTION_KEY_HEADER,
  FUNCTION_KEY_QUERY,
  parseRecentQuery,
  parseStartRequest,
  recentResponse,
  secretsEqual,
  startResponse,
  statusResponse,
} from '../../lib/intake/http.js';
import type { AlertPlan } from '../../lib/intake/alert.js';
import type { InstanceView } from '../../lib/intake/registry.js';

const CLUSTER =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-a/providers/Microsoft.ContainerService/managedClusters/aks-a';
const ORIGIN = 'https://snat.azurewebsites.net/';
const SECRET = 'a-shared-alert-secret';
const SETTINGS = loadSettings({
  SNAT_TASK_HUB: 'snathub',
  SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true',
  SNAT_CAPTURE_SECONDS_MAX: '300',
  SNAT_ALERT_SECRET: SECRET,
});
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };
const body = (value: unknown): string => JSON.stringify(value);
const error = (status: number, code: string, message: string, field?: string) => ({
  ok: false,
  response: { status, headers: JSON_TYPE, body: { error: { code, message, ...(field ? { field } : {}) } } },
});

describe('parseStartRequest', () => {
  it('accepts a node name or a node IP, with the default window', () => {
    expect(parseStartRequest(body({ cluster: CLUSTER, node: 'aks-nodepool1-0' }), SETTINGS)).toEqual({
      ok: true,
      request: { cluster: CLUSTER, node: { name: 'aks-nodepool1-0' }, captureSeconds: 30 },
    });
    expect(
      parseStartRequest(
        new TextEncoder().encode(body({ cluster: CLUSTER, nodeIp: '::ffff:10.224.0.5', captureSeconds: 300 })),
        SETTINGS,
      ),
    ).toEqual({ ok: true, request: { cluster: CLUSTER, node: { ip: '10.224.0.5' }, captureSeconds: 300 } });
  });

  const cases: Array<[string, string, ReturnType<typeof error>]> = [
    [
      'an empty body',
      '',
      error(400, 'invalid-request', 'empty body: expected {"cluster": ..., "node" | "nodeIp": ...}'),
    ],
    [
      'not JSON',
      '{"cluster":',
      error(400, 'invalid-request', 'request body is not valid JSON: unexpected end of input'),
    ],
    [
      'an array',
      '[]',
      error(400, 'invalid-request', 'expected a JSON object {"cluster": ..., "node" | "nodeIp": ...}'),
    ],
    [
      'a cluster that is not an AKS id',
      body({ cluster: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm', node: 'n' }),
      error(
        400,
        'invalid-request',
        'cluster: not an AKS cluster resource id (/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>)',
        'cluster',
      ),
    ],
    ['no cluster', body({ node: 'n' }), error(400, 'invalid-request', 'cluster: expected a string', 'cluster')],
    [
      'a node name with a shell metacharacter',
      body({ cluster: CLUSTER, node: 'node;reboot' }),
      error(400, 'invalid-request', 'node: not a Kubernetes node name (DNS-1123 subdomain)', 'node'),
    ],
    [
      'a node IP that is a CIDR',
      body({ cluster: CLUSTER, nodeIp: '10.224.0.0/16' }),
      error(400, 'invalid-request', 'nodeIp: not an IP address literal', 'nodeIp'),
    ],
    [
      'both node and nodeIp',
      body({ cluster: CLUSTER, node: 'n', nodeIp: '10.0.0.1' }),
      error(400, 'invalid-request', 'give exactly one of node (a node name) and nodeIp (its InternalIP)', 'nodeIp'),
    ],
    [
      'neither node nor nodeIp',
      body({ cluster: CLUSTER }),
      error(400, 'invalid-request', 'give exactly one of node (a node name) and nodeIp (its InternalIP)', 'node'),
    ],
    [
      'a window over the maximum',
      body({ cluster: CLUSTER, node: 'n', captureSeconds: 301 }),
      error(
        400,
        'invalid-request',
        'captureSeconds: expected 1..300 (SNAT_CAPTURE_SECONDS_MAX), got 301',
        'captureSeconds',
      ),
    ],
    [
      'a zero window',
      body({ cluster: CLUSTER, node: 'n', captureSeconds: 0 }),
      error(
        400,
        'invalid-request',
        'captureSeconds: expected 1..300 (SNAT_CAPTURE_SECONDS_MAX), got 0',
        'captureSeconds',
      ),
    ],
    [
      'a window as a string',
      body({ cluster: CLUSTER, node: 'n', captureSeconds: '30' }),
      error(400, 'invalid-request', 'captureSeconds: expected a number', 'captureSeconds'),
    ],
    [
      'a fractional window',
      body({ cluster: CLUSTER, node: 'n', captureSeconds: 1.5 }),
      error(400, 'invalid-request', 'captureSeconds: expected a whole number of seconds', 'captureSeconds'),
    ],
    [
      'an unknown field (a typo)',
      body({ cluster: CLUSTER, nodeip: '10.0.0.1' }),
      error(
        400,
        'invalid-request',
        'unknown field(s) "nodeip" (expected cluster, node | nodeIp, captureSeconds)',
        'nodeip',
      ),
    ],
    ['a body over 16 KB', ' '.repeat(16 * 1024 + 1), error(413, 'too-large', 'request body is over 16384 bytes')],
  ];

  it.each(cases)('refuses %s', (_name, input, expected) => {
    expect(parseStartRequest(input, SETTINGS)).toEqual(expected);
  });

  it('refuses a cluster outside the allow-list', () => {
    const settings = loadSettings({
      SNAT_TASK_HUB: 'snathub',
      SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true',
      SNAT_ALLOWED_CLUSTER_IDS: CLUSTER.replace('aks-a', 'aks-b'),
    });
    expect(parseStartRequest(body({ cluster: CLUSTER, node: 'n' }), settings)).toEqual(
      error(400, 'invalid-request', 'cluster: not in SNAT_ALLOWED_CLUSTER_IDS', 'cluster'),
    );
  });
});

describe('startResponse', () => {
  it('answers 202 with the status URL, and says why an investigation was reused', () => {
    const url = 'https://snat.azurewebsites.net/api/investigations/snat-abc-1';
    expect(startResponse({ id: 'snat-abc-1', started: true }, ORIGIN)).toEqual({
      status: 202,
      body: { id: 'snat-abc-1', started: true, statusUrl: url },
      headers: { ...JSON_TYPE, location: url, 'retry-after': '10' },
    });
    expect(startResponse({ id: 'snat-abc-1', started: false, why: 'cooldown' }, ORIGIN).body).toEqual({
      id: 'snat-abc-1',
      started: false,
      reusedBecause: 'cooldown',
      statusUrl: url,
    });
  });
});

describe('checkAlertSecret', () => {
  const query = (params: string) => new URLSearchParams(params);

  it('passes the right secret in the header or the query, and anything when none is configured', () => {
    expect(checkAlertSecret({ headers: { 'X-SNAT-Alert-Secret': SECRET } }, SETTINGS)).toBeNull();
    expect(checkAlertSecret({ headers: new Headers(), query: query(`alertSecret=${SECRET}`) }, SETTINGS)).toBeNull();
    expect(checkAlertSecret({ headers: {} }, { alertSecret: null })).toBeNull();
  });

  it('refuses a missing or wrong secret with 401, echoing nothing', () => {
    const expected = {
      status: 401,
      headers: JSON_TYPE,
      body: {
        error: {
          code: 'unauthorized',
          message: 'missing or wrong alert secret (header x-snat-alert-secret or query parameter alertSecret)',
        },
      },
    };
    expect(checkAlertSecret({ headers: {} }, SETTINGS)).toEqual(expected);
    expect(checkAlertSecret({ headers: { [ALERT_SECRET_HEADER]: `${SECRET}x` } }, SETTINGS)).toEqual(expected);
    expect(checkAlertSecret({ headers: new Headers({ [ALERT_SECRET_HEADER]: '' }) }, SETTINGS)).toEqual(expected);
  });

  it('compares secrets of any length', () => {
    expect(secretsEqual('a', 'a')).toBe(true);
    expect(secretsEqual('a', 'ab')).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
  });
});

describe('checkServeKey (SNAT_SERVE_KEY, snat-responder serve only)', () => {
  const KEY = 'serve-key-0123456789';
  const settings = { serveKey: KEY };
  const refused = {
    status: 401,
    headers: JSON_TYPE,
    body: {
      error: { code: 'unauthorized', message: 'missing or wrong key (header x-functions-key or query parameter code)' },
    },
  };

  it('where the Functions host takes a function key: header x-functions-key, query parameter code', () => {
    expect([FUNCTION_KEY_HEADER, FUNCTION_KEY_QUERY]).toEqual(['x-functions-key', 'code']);
    expect(checkServeKey({ headers: { 'X-Functions-Key': KEY } }, settings)).toBeNull();
    expect(checkServeKey({ headers: new Headers({ 'x-functions-key': KEY }) }, settings)).toBeNull();
    expect(checkServeKey({ headers: {}, query: new URLSearchParams(`code=${KEY}`) }, settings)).toBeNull();
  });

  it('no key configured: anything passes', () => {
    expect(checkServeKey({ headers: {} }, { serveKey: null })).toBeNull();
    expect(checkServeKey({ headers: { 'x-functions-key': 'whatever' } }, { serveKey: null })).toBeNull();
  });

  it('missing, wrong, empty, or a wrong header with the right query: 401, echoing nothing', () => {
    expect(checkServeKey({ headers: {} }, settings)).toEqual(refused);
    expect(checkServeKey({ headers: { 'x-functions-key': `${KEY}x` } }, settings)).toEqual(refused);
    expect(checkServeKey({ headers: { 'x-functions-key': '' } }, settings)).toEqual(refused);
    expect(checkServeKey({ headers: {}, query: new URLSearchParams(`code=${KEY.toUpperCase()}`) }, settings)).toEqual(
      refused,
    );
    expect(
      checkServeKey({ headers: { 'x-functions-key': 'wrong' }, query: new URLSearchParams(`code=${KEY}`) }, settings),
    ).toEqual(refused);
    // The alert secret is not the key.
    expect(checkServeKey({ headers: { [ALERT_SECRET_HEADER]: KEY } }, settings)).toEqual(refused);
  });
});

describe('alertResponse', () => {
  it('maps ignore, reject and start plans', () => {
    expect(
      alertResponse({ kind: 'ignore', status: 202, code: 'resolved', reason: 'alert "r" is Resolved' }, [], ORIGIN),
    ).toEqual({
      status: 202,
      headers: JSON_TYPE,
      body: { accepted: true, started: [], ignored: { code: 'resolved', reason: 'alert "r" is Resolved' } },
    });
    expect(alertResponse({ kind: 'reject', status: 413, code: 'too-large', reason: 'too big' }, [], ORIGIN)).toEqual({
      status: 413,
      headers: JSON_TYPE,
      body: { error: { code: 'too-large', message: 'too big' } },
    });
    const target = { loadBalancerId: '/lb', nodeIp: '10.0.0.1' };
    const plan: AlertPlan = {
      kind: 'start',
      status: 202,
      targets: [target],
      window: { start: null, end: null },
      alertId: null,
      alertRule: 'rule',
      severity: null,
      metrics: ['UsedSnatPorts'],
      omittedNodeIps: ['10.0.0.9'],
    };
    expect(alertResponse(plan, [{ target, id: 'snat-1', started: false, why: 'running' }], ORIGIN).body).toEqual({
      accepted: true,
      alertRule: 'rule',
      investigations: [
        {
          id: 'snat-1',
          started: false,
          reusedBecause: 'running',
          target,
          statusUrl: 'https://snat.azurewebsites.net/api/investigations/snat-1',
        },
      ],
      omittedNodeIps: ['10.0.0.9'],
      note: 'over SNAT_MAX_NODES_PER_ALERT: not investigated',
    });
  });
});

describe('status and recent', () => {
  const created = new Date('2026-01-01T12:00:00Z');
  const updated = new Date('2026-01-01T12:01:30Z');
  const view = (over: Partial<InstanceView>): InstanceView => ({
    instanceId: 'snat-1',
    runtimeStatus: 'Running',
    createdTime: created,
    lastUpdatedTime: updated,
    ...over,
  });

  it('checks the id before any lookup', () => {
    expect(checkInvestigationId('snat-1')).toBeNull();
    expect(checkInvestigationId('../x')).toMatchObject({ status: 400, body: { error: { field: 'id' } } });
    expect(checkInvestigationId(undefined)).toMatchObject({ status: 400 });
  });

  it('404s an unknown id', () => {
    expect(statusResponse(null, 'snat-9')).toEqual({
      status: 404,
      headers: JSON_TYPE,
      body: { error: { code: 'not-found', message: 'no investigation "snat-9"', field: 'id' } },
    });
  });

  it('shows phase and progress while running', () => {
    const custom = { phase: 'census', node: 'aks-nodepool1-0', pods: { done: 8, total: 20 } };
    expect(statusResponse(view({ customStatus: custom }), 'snat-1').body).toEqual({
      id: 'snat-1',
      status: 'running',
      createdAt: '2026-01-01T12:00:00.000Z',
      updatedAt: '2026-01-01T12:01:30.000Z',
      phase: 'census',
      node: 'aks-nodepool1-0',
      progress: { podsDone: 8, podsTotal: 20 },
      outcome: null,
      summary: null,
      message: null,
      report: null,
      census: null,
    });
  });

  it("a cluster census (NAT gateway alert): nodes' progress while running; when done, each node's report and the pods ranked across nodes", () => {
    const running = { phase: 'census', nodes: { done: 2, total: 3 }, wave: 2, waves: 2 };
    expect(statusResponse(view({ customStatus: running }), 'snat-1').body).toMatchObject({
      status: 'running',
      phase: 'census',
      node: null,
      progress: { nodesDone: 2, nodesTotal: 3 },
      outcome: null,
      census: null,
    });
    const report = (n: number) => ({
      json: `k${n}/report.json`,
      markdown: `k${n}/report.md`,
      html: `k${n}/report.html`,
      reportRef: `r${n}`,
      pods: 4,
      top: `shop/p${n}`,
      degraded: n,
    });
    const output = {
      outcome: 'census',
      investigationId: 'snat-1',
      natGatewayId: 'ng',
      cluster: { resourceId: 'aks', name: null },
      total: 5,
      skipped: { notReady: 1, overLimit: 1 },
      nodes: [
        {
          investigationId: 'snat-1-n0',
          node: { name: 'node-0' },
          outcome: 'reported',
          nodeName: 'node-0',
          report: report(0),
        },
        { investigationId: 'snat-1-n1', node: { name: 'node-1' }, outcome: 'failed', message: 'boom' },
        {
          investigationId: 'snat-1-n2',
          node: { name: 'node-2' },
          outcome: 'reported',
          nodeName: 'node-2',
          report: report(2),
        },
      ],
      top: [
        { pod: 'shop/p2', node: 'node-2', investigationId: 'snat-1-n2', score: 900, publicConnections: 870 },
        { pod: 'shop/p0', node: 'node-0', investigationId: 'snat-1-n0', score: 12, publicConnections: 10 },
      ],
    };
    const links = { json: 'L/report.json', markdown: 'L/report.md', html: 'L/report.html' };
    const body = statusResponse(view({ runtimeStatus: 'Completed', output }), 'snat-1', null, {
      'snat-1-n2': links,
    }).body;
    expect(body).toMatchObject({
      status: 'completed',
      phase: 'done',
      outcome: 'census',
      summary: { topPod: 'shop/p2', pods: 8, degraded: 2 },
      message: null,
      report: null,
      census: {
        natGatewayId: 'ng',
        cluster: { resourceId: 'aks', name: null },
        total: 5,
        skipped: { notReady: 1, overLimit: 1 },
        top: output.top,
        // A result without a notification step (older outputs): nothing sent, nothing degraded.
        notifications: null,
        degraded: [],
      },
    });
    // The census's one message: each target's delivery, and what it could not do.
    const notified = {
      ...output,
      notifications: {
        targets: [
          { target: 'webhook https://hooks.example.net', kind: 'webhook', ok: false, status: 500, attempts: 4 },
        ],
        link: 'read-link',
      },
      degraded: [{ step: 'notify', reason: 'webhook https://hooks.example.net: failed after 4 attempts: HTTP 500' }],
    };
    expect(statusResponse(view({ runtimeStatus: 'Completed', output: notified }), 'snat-1').body).toMatchObject({
      census: {
        notifications: [{ target: 'webhook https://hooks.example.net', kind: 'webhook', ok: false, status: 500 }],
        degraded: [{ step: 'notify' }],
      },
    });
    expect((body as { census: { nodes: unknown[] } }).census.nodes).toEqual([
      {
        id: 'snat-1-n0',
        node: 'node-0',
        outcome: 'reported',
        summary: { topPod: 'shop/p0', pods: 4, degraded: 0 },
        message: null,
        report: { links: null, keys: { json: 'k0/report.json', markdown: 'k0/report.md', html: 'k0/report.html' } },
      },
      { id: 'snat-1-n1', node: 'node-1', outcome: 'failed', summary: null, message: 'boom', report: null },
      {
        id: 'snat-1-n2',
        node: 'node-2',
        outcome: 'reported',
        summary: { topPod: 'shop/p2', pods: 4, degraded: 2 },
        message: null,
        report: { links, keys: { json: 'k2/report.json', markdown: 'k2/report.md', html: 'k2/report.html' } },
      },
    ]);
    const none = { ...output, outcome: 'no-nodes', message: 'no node to census: the cluster has no nodes' };
    expect(statusResponse(view({ runtimeStatus: 'Completed', output: none }), 'snat-1').body).toMatchObject({
      outcome: 'no-nodes',
      message: 'no node to census: the cluster has no nodes',
      summary: null,
      census: { nodes: [], top: [], total: 5 },
    });
  });

  it('shows the outcome and report of a finished one', () => {
    const report = {
      json: 'k/report.json',
      markdown: 'k/report.md',
      html: 'k/report.html',
      reportRef: 'r',
      pods: 12,
      top: 'shop/cart-1',
      degraded: 1,
    };
    const output = {
      outcome: 'reported',
      node: { name: 'aks-nodepool1-0', ip: '10.224.0.5' },
      report,
      rawCapture: null,
      degraded: [],
      cleanup: 'deleted',
    };
    const links = {
      json: 'https://x/report.json?sas',
      markdown: 'https://x/report.md?sas',
      html: 'https://x/report.html?sas',
    };
    expect(statusResponse(view({ runtimeStatus: 'Completed', output }), 'snat-1', links).body).toMatchObject({
      status: 'completed',
      phase: 'done',
      node: 'aks-nodepool1-0',
      outcome: 'reported',
      summary: { topPod: 'shop/cart-1', pods: 12, degraded: 1 },
      report: { links, keys: { json: 'k/report.json', markdown: 'k/report.md', html: 'k/report.html' } },
    });
    const notFound = { outcome: 'target-not-found', reason: 'not-found', message: 'no node has InternalIP 10.0.0.9' };
    expect(statusResponse(view({ runtimeStatus: 'Completed', output: notFound }), 'snat-1').body).toMatchObject({
      outcome: 'target-not-found',
      message: 'no node has InternalIP 10.0.0.9',
      report: null,
    });
    // A failure names its reason: the first line of the error Durable (or serve) kept, never the stack below it.
    const durableFailure = "Orchestrator function 'investigateSnat' failed: list nodes: HTTP 500\n    at step (x.js:1)";
    expect(statusResponse(view({ runtimeStatus: 'Failed', output: durableFailure }), 'snat-1').body).toMatchObject({
      status: 'failed',
      outcome: 'failed',
      message: "Orchestrator function 'investigateSnat' failed: list nodes: HTTP 500",
    });
    expect(statusResponse(view({ runtimeStatus: 'Failed', output: 'x'.repeat(2000) }), 'snat-1').body).toMatchObject({
      message: `${'x'.repeat(497)}...`,
    });
    expect(statusResponse(view({ runtimeStatus: 'Failed', output: null }), 'snat-1').body).toMatchObject({
      outcome: 'failed',
      message: null,
    });
  });

  it('parses the recent limit', () => {
    expect(parseRecentQuery(new URLSearchParams(''))).toEqual({ ok: true, limit: 20 });
    expect(parseRecentQuery(new URLSearchParams('limit=5'))).toEqual({ ok: true, limit: 5 });
    expect(parseRecentQuery(new URLSearchParams('limit=500'))).toEqual(
      error(400, 'invalid-request', 'limit: expected 1..100, got "500"', 'limit'),
    );
  });

  it('lists recent investigations newest first with status URLs', () => {
    const items = [
      view({ instanceId: 'a', createdTime: new Date('2026-01-01T10:00:00Z') }),
      {
        key: 'k',
        id: 'b',
        startedAt: new Date('2026-01-01T11:00:00Z'),
        state: 'finished',
        finishedAt: null,
        outcome: 'reported',
      } as never,
      view({ instanceId: 'c', runtimeStatus: 'Completed', createdTime: new Date('2026-01-01T09:00:00Z') }),
    ];
    expect(recentResponse(items, 2, ORIGIN).body).toEqual({
      investigations: [
        {
          id: 'b',
          status: 'finished',
          createdAt: '2026-01-01T11:00:00.000Z',
          statusUrl: 'https://snat.azurewebsites.net/api/investigations/b',
        },
        {
          id: 'a',
          status: 'running',
          createdAt: '2026-01-01T10:00:00.000Z',
          statusUrl: 'https://snat.azurewebsites.net/api/investigations/a',
        },
      ],
    });
  });
});
