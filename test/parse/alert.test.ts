import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ALERT_BYTES, dimensionOf, looksLikeAlert, parseAlert, snatMetricOf } from '../../lib/parse/alert.js';
import { fieldPath, parseJsonText, positionOf, scanJsonValue } from '../../lib/parse/json.js';
import type { AlertDocument, Parsed } from '../../lib/parse/types.js';

// Fixtures follow the payloads in MicrosoftDocs azure-monitor-docs `alerts-payload-samples.md` (common schema) and
// `alerts-metric-near-real-time.md` (legacy metric schema), with load balancer / NAT gateway metrics (FORMATS.md 10).
const fixtureBytes = (name: string) => readFileSync(new URL(`../fixtures/alert/${name}`, import.meta.url));
const fixture = (name: string) => fixtureBytes(name).toString('utf8');

function ok(result: Parsed<AlertDocument>): AlertDocument {
  if (!result.ok) throw new Error(`rejected: ${result.problem.message}`);
  return result.value;
}

const LB =
  '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourcegroups/mc_rg-shop_aks-shop_westeurope/providers/microsoft.network/loadbalancers/kubernetes';

describe('alert: golden documents', () => {
  it.each([
    'common-lb-used-snat-ports.json',
    'common-two-conditions.json',
    'common-snat-failed.json',
    'common-resolved.json',
    'legacy-activated.json',
    'natgw-snat-connection-count.json',
    'injection-backend-ip.json',
    'ipv6-backend.json',
    'dynamic-threshold.json',
  ])('%s', async (name) => {
    const doc = ok(parseAlert(fixtureBytes(name)));
    await expect(JSON.stringify(doc, null, 2) + '\n').toMatchFileSnapshot(`../golden/alert/${name}`);
  });
});

describe('alert: common schema', () => {
  it('a load balancer UsedSnatPorts alert: node IP from BackendIPAddress, threshold string -> number', () => {
    expect(parseAlert(fixture('common-lb-used-snat-ports.json'))).toEqual({
      ok: true,
      value: {
        format: 'alert',
        schema: 'azureMonitorCommonAlertSchema',
        monitorCondition: 'Fired',
        severity: 'Sev2',
        alertRule: 'aks-shop-used-snat-ports',
        alertId:
          '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/providers/Microsoft.AlertsManagement/alerts/0f3c2b1a-9e8d-4c7b-a6f5-e4d3c2b1a098',
        signalType: 'Metric',
        targetResourceId: LB,
        targetKind: 'loadBalancer',
        firedAt: '2024-05-02T10:11:03.4412345Z',
        windowStart: '2024-05-02T10:05:00.000Z',
        windowEnd: '2024-05-02T10:10:00.000Z',
        windowSize: 'PT5M',
        conditions: [
          {
            metricName: 'UsedSnatPorts',
            metricNamespace: 'Microsoft.Network/loadBalancers',
            metricValue: 1012.4,
            threshold: 1000,
            operator: 'GreaterThan',
            timeAggregation: 'Average',
            dimensions: { FrontendIPAddress: '20.31.42.53', BackendIPAddress: '10.224.0.5', ProtocolType: 'TCP' },
          },
        ],
        nodeIps: ['10.224.0.5'],
        invalidDimensionValues: [],
      },
    });
  });

  it('reads every allOf entry; lower-case dimension names; node IPs de-duplicated in order', () => {
    const doc = ok(parseAlert(fixture('common-two-conditions.json')));
    expect(doc.conditions.map((c) => [c.metricName, c.metricValue, c.threshold, c.timeAggregation])).toEqual([
      ['UsedSNATPorts', 880, 800, 'Average'],
      ['SnatConnectionCount', 57, 10, 'Total'],
      ['UsedSnatPorts', 1003, 1000, 'Average'],
    ]);
    expect(doc.conditions.map((c) => snatMetricOf(c.metricName))).toEqual([
      'UsedSnatPorts',
      'SnatConnectionCount',
      'UsedSnatPorts',
    ]);
    expect(doc.nodeIps).toEqual(['10.224.0.6', '10.224.0.7']);
    expect(doc.conditions[0] && dimensionOf(doc.conditions[0], 'BackendIPAddress')).toBe('10.224.0.6');
  });

  it('SnatConnectionCount with ConnectionState failed', () => {
    const doc = ok(parseAlert(fixture('common-snat-failed.json')));
    expect(doc.severity).toBe('Sev1');
    expect(doc.conditions).toHaveLength(1);
    const [condition] = doc.conditions;
    expect(condition).toMatchObject({ metricName: 'SnatConnectionCount', metricValue: 352, threshold: 10 });
    expect(condition && dimensionOf(condition, 'connectionstate')).toBe('failed');
    expect(doc.nodeIps).toEqual(['10.224.0.5']);
  });

  it('a Resolved alert parses (the endpoint acknowledges it and starts nothing)', () => {
    const doc = ok(parseAlert(fixture('common-resolved.json')));
    expect(doc.monitorCondition).toBe('Resolved');
    expect([doc.windowStart, doc.windowEnd]).toEqual(['2024-05-02T10:35:00.000Z', '2024-05-02T10:40:00.000Z']);
    expect(doc.conditions[0]?.metricValue).toBe(410.5);
  });

  it('a NAT gateway alert has no node', () => {
    const doc = ok(parseAlert(fixture('natgw-snat-connection-count.json')));
    expect(doc.targetKind).toBe('natGateway');
    expect(doc.nodeIps).toEqual([]);
    expect(doc.invalidDimensionValues).toEqual([]);
    expect(doc.conditions[0]).toMatchObject({
      metricName: 'SNATConnectionCount',
      metricValue: 2471,
      threshold: 100,
      dimensions: { ConnectionState: 'Failed', Protocol: '6' },
    });
    expect(snatMetricOf('SNATConnectionCount')).toBe('SnatConnectionCount');
  });

  it('a dynamic-threshold condition keeps its threshold and ignores the extra fields', () => {
    const doc = ok(parseAlert(fixture('dynamic-threshold.json')));
    expect(doc.conditions).toEqual([
      {
        metricName: 'UsedSnatPorts',
        metricNamespace: 'Microsoft.Network/loadBalancers',
        metricValue: 744.25,
        threshold: 612.5,
        operator: 'GreaterThan',
        timeAggregation: 'Average',
        dimensions: { FrontendIPAddress: '20.31.42.53', BackendIPAddress: '10.224.0.8', ProtocolType: 'TCP' },
      },
    ]);
    expect(doc.nodeIps).toEqual(['10.224.0.8']);
  });

  it('non-IP BackendIPAddress values never become node IPs; each is reported with its JSON path', () => {
    const doc = ok(parseAlert(fixture('injection-backend-ip.json')));
    expect(doc.nodeIps).toEqual(['10.224.0.9']);
    expect(doc.invalidDimensionValues).toEqual([
      { field: 'data.alertContext.condition.allOf[0].dimensions[1].value', value: '10.0.0.5; rm -rf /' },
      { field: 'data.alertContext.condition.allOf[1].dimensions[1].value', value: '10.224.0.0/16' },
      { field: 'data.alertContext.condition.allOf[2].dimensions[1].value', value: '*' },
      { field: 'data.alertContext.condition.allOf[3].dimensions[1].value', value: 'aks-nodepool1-12345678-vmss000002' },
      { field: 'data.alertContext.condition.allOf[4].dimensions[0].value', value: '$(curl evil.example)' },
    ]);
  });

  it('an IP dimension must be a bare literal: a zone, brackets or spaces around an address make it invalid', () => {
    const alert = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
      data: { alertContext: { condition: { allOf: Array<{ dimensions: Array<{ name: string; value: string }> }> } } };
    };
    const values = [
      '10.224.0.4%eth0',
      '10.224.0.4%$(reboot)',
      '[10.224.0.4]',
      '[fd00::4]',
      'fe80::4%eth0',
      '10.224.0.4 ',
    ];
    const first = alert.data.alertContext.condition.allOf[0]!;
    alert.data.alertContext.condition.allOf = values.map((value) => ({
      ...first,
      dimensions: [
        { name: 'FrontendIPAddress', value: '20.31.42.53' },
        { name: 'BackendIPAddress', value },
      ],
    }));
    const doc = ok(parseAlert(JSON.stringify(alert)));
    expect(doc.nodeIps).toEqual([]);
    expect(doc.invalidDimensionValues).toEqual(
      values.map((value, i) => ({ field: `data.alertContext.condition.allOf[${i}].dimensions[1].value`, value })),
    );
  });

  it('IPv6 and IPv4-mapped backends are canonicalised and de-duplicated', () => {
    const doc = ok(parseAlert(fixture('ipv6-backend.json')));
    expect(doc.nodeIps).toEqual(['fd00:10:224::5', '10.224.0.5']);
    expect(doc.invalidDimensionValues).toEqual([]);
  });

  it('a UTF-8 BOM is stripped (bytes and string input alike)', () => {
    const bytes = fixtureBytes('bom.json');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const expected = ok(parseAlert(fixture('common-lb-used-snat-ports.json')));
    expect(ok(parseAlert(bytes))).toEqual(expected);
    expect(ok(parseAlert(new Uint8Array(bytes)))).toEqual(expected);
    expect(ok(parseAlert(bytes.toString('utf8')))).toEqual(expected);
  });

  it('extra unknown fields are tolerated everywhere, and a dimension called __proto__ stays plain data', () => {
    const alert = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
      data: {
        essentials: Record<string, unknown>;
        alertContext: { condition: { allOf: Array<Record<string, unknown>> } };
      };
      extra?: unknown;
    };
    alert.extra = { nested: [1, 2] };
    alert.data.essentials.newAzureField = 'x';
    const criterion = alert.data.alertContext.condition.allOf[0]!;
    criterion.unknownField = true;
    (criterion.dimensions as unknown[]).push({ name: '__proto__', value: 'polluted' });
    const doc = ok(parseAlert(JSON.stringify(alert)));
    const dims = doc.conditions[0]!.dimensions;
    expect(Object.getPrototypeOf(dims)).toBe(Object.prototype);
    expect(Object.keys(dims)).toEqual(['FrontendIPAddress', 'BackendIPAddress', 'ProtocolType', '__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('target kind falls back to the metric namespace when there is no target id', () => {
    const alert = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
      data: { essentials: Record<string, unknown> };
    };
    delete alert.data.essentials.alertTargetIDs;
    const doc = ok(parseAlert(JSON.stringify(alert)));
    expect([doc.targetResourceId, doc.targetKind]).toEqual([null, 'loadBalancer']);
  });
});

describe('alert: legacy metric schema', () => {
  it('Activated -> Fired, severity "2" -> Sev2, resource id in mixed case still a load balancer', () => {
    const doc = ok(parseAlert(fixture('legacy-activated.json')));
    expect(doc).toMatchObject({
      schema: 'AzureMonitorMetricAlert',
      monitorCondition: 'Fired',
      severity: 'Sev2',
      alertRule: 'aks-shop-used-snat-ports',
      signalType: 'Metric',
      targetKind: 'loadBalancer',
      firedAt: '2024-05-02T10:11:03.4412345Z',
      windowStart: null,
      windowEnd: null,
      windowSize: 'PT5M',
      nodeIps: ['10.224.0.5'],
    });
  });

  it('Resolved -> Resolved; another status is an invalid field', () => {
    const alert = JSON.parse(fixture('legacy-activated.json')) as { data: { status: string } };
    alert.data.status = 'Resolved';
    expect(ok(parseAlert(JSON.stringify(alert))).monitorCondition).toBe('Resolved');
    alert.data.status = 'Deactivated';
    expect(parseAlert(JSON.stringify(alert))).toMatchObject({
      ok: false,
      problem: { code: 'invalid-alert', field: 'data.status' },
    });
  });
});

describe('alert: rejections', () => {
  it('a Log alert is not a metric alert', () => {
    expect(parseAlert(fixture('log-alert.json'))).toEqual({
      ok: false,
      problem: {
        code: 'not-metric-alert',
        message: '"Log" alert: not a metric alert, nothing to investigate',
        field: 'data.essentials.signalType',
      },
    });
  });

  it('an Activity Log alert is not a metric alert', () => {
    expect(parseAlert(fixture('activity-log-alert.json'))).toMatchObject({
      ok: false,
      problem: {
        code: 'not-metric-alert',
        message: '"Activity Log" alert: not a metric alert, nothing to investigate',
      },
    });
  });

  it('a common-schema alert whose context is not a metric condition is not a metric alert', () => {
    const log = JSON.parse(fixture('log-alert.json')) as { data: { essentials: Record<string, unknown> } };
    delete log.data.essentials.signalType;
    expect(parseAlert(JSON.stringify(log))).toMatchObject({
      ok: false,
      problem: { code: 'not-metric-alert', field: 'data.alertContext.conditionType' },
    });
    const activity = JSON.parse(fixture('activity-log-alert.json')) as {
      data: { essentials: Record<string, unknown> };
    };
    activity.data.essentials.signalType = 'Metric';
    expect(parseAlert(JSON.stringify(activity))).toEqual({
      ok: false,
      problem: {
        code: 'not-metric-alert',
        message: 'alertContext has no metric condition (condition.allOf): not a metric alert, nothing to investigate',
        field: 'data.alertContext',
      },
    });
  });

  it('invalid JSON names line and column', () => {
    expect(parseAlert(fixtureBytes('invalid-json.json'))).toEqual({
      ok: false,
      problem: {
        code: 'invalid-json',
        message: "alert payload is not valid JSON: unexpected character '\"', expected ',' or '}'",
        line: 8,
        column: 7,
      },
    });
  });

  it('a 300 KB body is refused before parsing, counted in bytes', () => {
    const alert = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
      data: { essentials: Record<string, unknown> };
    };
    alert.data.essentials.description = 'x'.repeat(300 * 1024);
    const body = JSON.stringify(alert);
    expect(parseAlert(body)).toEqual({
      ok: false,
      problem: {
        code: 'too-large',
        message: `alert payload is ${Buffer.byteLength(body)} bytes, over the 256 KB limit (Azure Monitor alerts are at most 256 KB)`,
      },
    });
    // Not parsed at all: an invalid body of the same size gets the same answer.
    expect(parseAlert('{'.repeat(300 * 1024))).toMatchObject({ ok: false, problem: { code: 'too-large' } });
    // Bytes, not characters: 100 000 three-byte characters are 300 000 bytes.
    expect(parseAlert(`{"schemaId":"${'€'.repeat(100_000)}"}`)).toMatchObject({
      ok: false,
      problem: { code: 'too-large' },
    });
    expect(MAX_ALERT_BYTES).toBe(262_144);
    const exactly = `{"schemaId":"x","pad":"${'a'.repeat(MAX_ALERT_BYTES - 25)}"}`;
    expect(Buffer.byteLength(exactly)).toBe(MAX_ALERT_BYTES);
    expect(parseAlert(exactly)).toMatchObject({ ok: false, problem: { code: 'unknown-schema' } });
  });

  it('unknown and missing schemaId', () => {
    expect(parseAlert(fixture('unknown-schema.json'))).toEqual({
      ok: false,
      problem: {
        code: 'unknown-schema',
        message:
          'unknown alert schemaId "Microsoft.Insights/LogAlert" (expected azureMonitorCommonAlertSchema or AzureMonitorMetricAlert)',
        field: 'schemaId',
      },
    });
    expect(parseAlert('{"data":{}}')).toMatchObject({
      ok: false,
      problem: { code: 'unknown-schema', field: 'schemaId' },
    });
    expect(parseAlert('[1,2]')).toMatchObject({ ok: false, problem: { code: 'unknown-schema' } });
    expect(parseAlert('{"schemaId":"Microsoft.Insights/activityLogs","data":{}}')).toMatchObject({
      ok: false,
      problem: { code: 'not-metric-alert', field: 'schemaId' },
    });
  });

  it('zod issues become field paths', () => {
    expect(parseAlert(fixture('missing-metric-name.json'))).toEqual({
      ok: false,
      problem: {
        code: 'invalid-alert',
        message: 'invalid alert: Invalid input: expected string, received undefined',
        field: 'data.alertContext.condition.allOf[1].metricName',
      },
    });
    const alert = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
      data: {
        essentials: Record<string, unknown>;
        alertContext: { condition: { allOf: Array<Record<string, unknown>> } };
      };
    };
    alert.data.alertContext.condition.allOf[0]!.threshold = 'lots';
    expect(parseAlert(JSON.stringify(alert))).toEqual({
      ok: false,
      problem: {
        code: 'invalid-alert',
        message: 'invalid alert: expected a finite number, got "lots"',
        field: 'data.alertContext.condition.allOf[0].threshold',
      },
    });
    alert.data.alertContext.condition.allOf = [];
    alert.data.essentials.monitorCondition = 'Fired';
    expect(parseAlert(JSON.stringify(alert))).toMatchObject({
      ok: false,
      problem: { code: 'invalid-alert', field: 'data.alertContext.condition.allOf' },
    });
  });

  describe('a number that is not one says what was expected and what came (not zod\'s "Invalid input")', () => {
    type Raw = { threshold?: string; metricValue?: string; dimension?: string };
    /** The first criterion with its threshold, metricValue and BackendIPAddress value as raw JSON text (1e400). */
    const withRaw = (raw: Raw): string => {
      const json = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
        data: { alertContext: { condition: { allOf: Array<Record<string, unknown>> } } };
      };
      const first = json.data.alertContext.condition.allOf[0]!;
      first.threshold = '@threshold@';
      first.metricValue = '@metricValue@';
      first.dimensions = [{ name: 'BackendIPAddress', value: '@dimension@' }];
      return JSON.stringify(json)
        .replace('"@threshold@"', raw.threshold ?? '"1000"')
        .replace('"@metricValue@"', raw.metricValue ?? '1012')
        .replace('"@dimension@"', raw.dimension ?? '"10.224.0.5"');
    };
    const cases: Array<[Raw, string, string]> = [
      [{ threshold: '"abc"' }, 'threshold', 'expected a finite number, got "abc"'],
      [{ threshold: '"1e400"' }, 'threshold', 'expected a finite number, got "1e400"'],
      [{ threshold: 'true' }, 'threshold', 'expected a finite number, got true'],
      [{ threshold: '{}' }, 'threshold', 'expected a finite number, got an object'],
      [{ metricValue: '1e400' }, 'metricValue', 'expected a finite number, got a number beyond the range of a double'],
      [{ metricValue: '-1e400' }, 'metricValue', 'expected a finite number, got a number beyond the range of a double'],
      [{ metricValue: '[1]' }, 'metricValue', 'expected a finite number, got an array'],
      [
        { dimension: '1e400' },
        'dimensions[0].value',
        'expected a string or a finite number, got a number beyond the range of a double',
      ],
      [{ dimension: 'null' }, 'dimensions[0].value', 'expected a string or a finite number, got null'],
    ];
    it.each(cases)('%j', (raw, field, message) => {
      expect(parseAlert(withRaw(raw))).toEqual({
        ok: false,
        problem: {
          code: 'invalid-alert',
          message: `invalid alert: ${message}`,
          field: `data.alertContext.condition.allOf[0].${field}`,
        },
      });
    });

    it('numbers still come as numbers or decimal strings, dimension values as strings or numbers', () => {
      expect(ok(parseAlert(withRaw({ threshold: '" 1.5e3 "' }))).conditions[0]).toMatchObject({
        threshold: 1500,
        metricValue: 1012,
      });
      expect(ok(parseAlert(withRaw({ metricValue: '-2.5' }))).conditions[0]!.metricValue).toBe(-2.5);
      expect(ok(parseAlert(withRaw({ dimension: '42' }))).conditions[0]!.dimensions).toEqual({
        BackendIPAddress: '42',
      });
    });
  });

  it.each([
    ['', 'empty'],
    ['\ufeff  \n', 'empty'],
    ['not json', 'invalid-json'],
    ['{"schemaId": "azureMonitorCommonAlertSchema", }', 'invalid-json'],
  ])('%j -> %s', (text, code) => {
    expect(parseAlert(text)).toMatchObject({ ok: false, problem: { code } });
  });
});

describe('alert: JSON helpers', () => {
  it.each([
    ['{"a":}', 1, 6],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3],
    ['[1, 2,\n]', 2, 1],
    ['{"a":"x\\q"}', 1, 9],
    ['{"a":tru}', 1, 9],
    ['{"a":1', 1, 7],
  ])('%j fails at line %i column %i', (text, line, column) => {
    expect(parseJsonText(text, 'input')).toMatchObject({ ok: false, problem: { code: 'invalid-json', line, column } });
  });

  it('positionOf counts lines and columns from 1', () => {
    expect(positionOf('ab\ncd\n', 0)).toEqual({ line: 1, column: 1 });
    expect(positionOf('ab\ncd\n', 4)).toEqual({ line: 2, column: 2 });
  });

  it('fieldPath writes dotted paths with [index] and quoted odd keys', () => {
    expect(fieldPath(['data', 'alertContext', 'condition', 'allOf', 0, 'metricName'])).toBe(
      'data.alertContext.condition.allOf[0].metricName',
    );
    expect(fieldPath(['a', 'odd key', 2])).toBe('a["odd key"][2]');
  });

  it('the scanner agrees with V8: same validity, and the same offset wherever V8 gives one', () => {
    const mutated = fc
      .tuple(fc.json(), fc.nat(), fc.nat(3), fc.string({ maxLength: 3 }))
      .map(([json, at, del, ins]) => {
        const cut = at % (json.length + 1);
        return json.slice(0, cut) + ins + json.slice(cut + del);
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ maxLength: 20 })), (text) => {
        let v8: string | null = null;
        try {
          JSON.parse(text);
        } catch (e) {
          v8 = (e as Error).message;
        }
        const scanned = scanJsonValue(text);
        const valid = !('error' in scanned) && text.slice(scanned.end).trim() === '';
        expect(valid).toBe(v8 === null);
        const position = v8?.match(/at position (\d+)/)?.[1];
        if (position !== undefined) {
          expect('error' in scanned ? scanned.error.offset : scanned.end).toBe(Number(position));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('deep nesting neither throws nor overflows the stack', () => {
    expect(scanJsonValue('['.repeat(200_000))).toEqual({
      error: { offset: 200_000, reason: 'unexpected end of input' },
    });
    expect(parseAlert('['.repeat(100_000) + ']'.repeat(100_000))).toMatchObject({ ok: false });
  });
});

describe('looksLikeAlert', () => {
  it.each([
    ['common-lb-used-snat-ports.json', true],
    ['legacy-activated.json', true],
    ['bom.json', true],
    ['log-alert.json', true],
  ])('%s -> %s', (name, expected) => {
    expect(looksLikeAlert(fixture(name).slice(0, 4096))).toBe(expected);
  });

  it.each([
    ['{"namespaces":[]}', false],
    ['{"info":{},"status":{}}', false],
    ['        NS TYPE NPROCS PID USER COMMAND', false],
    ['', false],
  ])('%j -> %s', (head, expected) => {
    expect(looksLikeAlert(head)).toBe(expected);
  });
});

describe('alert: properties', () => {
  it('arbitrary text, bytes and JSON values never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), fc.json(), (text, bytes, json) => {
        expect(() => parseAlert(text)).not.toThrow();
        expect(() => parseAlert(bytes)).not.toThrow();
        expect(() => parseAlert(json)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary values in any field of a real alert never throw, and IP rules hold', () => {
    const base = JSON.parse(fixture('common-two-conditions.json')) as Record<string, unknown>;
    const paths: string[][] = [
      ['data'],
      ['data', 'essentials'],
      ['data', 'essentials', 'monitorCondition'],
      ['data', 'essentials', 'signalType'],
      ['data', 'essentials', 'alertTargetIDs'],
      ['data', 'alertContext'],
      ['data', 'alertContext', 'condition'],
      ['data', 'alertContext', 'condition', 'allOf'],
      ['data', 'alertContext', 'condition', 'allOf', '0'],
      ['data', 'alertContext', 'condition', 'allOf', '0', 'dimensions'],
      ['data', 'alertContext', 'condition', 'allOf', '1', 'dimensions', '1', 'value'],
      ['data', 'alertContext', 'condition', 'allOf', '1', 'threshold'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.anything(), (path, value) => {
        const alert = structuredClone(base);
        let node = alert;
        for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
        node[path[path.length - 1]!] = value;
        const result = parseAlert(JSON.stringify(alert));
        if (result.ok) {
          for (const ip of result.value.nodeIps) expect(ip).toMatch(/^[0-9a-f.:]+$/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('any string as BackendIPAddress is either a canonical IP in nodeIps or reported as invalid', () => {
    const base = JSON.parse(fixture('common-lb-used-snat-ports.json')) as {
      data: { alertContext: { condition: { allOf: Array<{ dimensions: Array<{ name: string; value: string }> }> } } };
    };
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()), (value) => {
        const alert = structuredClone(base);
        alert.data.alertContext.condition.allOf[0]!.dimensions[1]!.value = value;
        const doc = ok(parseAlert(JSON.stringify(alert)));
        expect(doc.nodeIps.length + doc.invalidDimensionValues.length).toBe(1);
        if (doc.nodeIps.length === 1) expect(doc.nodeIps[0]).toMatch(/^[0-9a-f.:]+$/);
        else expect(doc.invalidDimensionValues[0]?.value).toBe(value);
      }),
      { numRuns: 500 },
    );
  });

  it('mutations of real payloads never throw', () => {
    const sources = ['common-two-conditions.json', 'legacy-activated.json', 'log-alert.json'].map(fixture);
    fc.assert(
      fc.property(
        fc.constantFrom(...sources),
        fc.nat(),
        fc.nat(20),
        fc.string({ maxLength: 4 }),
        (src, at, del, ins) => {
          const cut = at % (src.length + 1);
          expect(() => parseAlert(src.slice(0, cut) + ins + src.slice(cut + del))).not.toThrow();
        },
      ),
      { numRuns: 500 },
    );
  });
});
