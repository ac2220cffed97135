/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- these tests break the typed report on purpose */
import { describe, expect, it } from 'vitest';
import { renderJson } from '../../lib/report/json.js';
import type { Report } from '../../lib/report/model.js';
import { jsonPath, validateReport } from '../../lib/report/schema.js';
import { culpritReport, emptyReport, hostileReport, manyPodsReport } from '../fixtures/report/sample.js';

/** A deep, mutable copy of a sample to break on purpose. */
function copy(report: Report): Record<string, any> {
  return JSON.parse(JSON.stringify(report)) as Record<string, any>;
}

describe('validateReport', () => {
  it.each([
    ['culprit', culpritReport],
    ['empty', emptyReport],
    ['hostile', hostileReport],
    ['many pods', manyPodsReport],
  ])('accepts the %s sample, and its report.json round-trips unchanged', (_name, report) => {
    const parsed = validateReport(JSON.parse(renderJson(report)));
    expect(parsed).toEqual({ ok: true, value: JSON.parse(JSON.stringify(report)) });
  });

  const mutations: Array<[string, (r: Record<string, any>) => void, string]> = [
    ['a missing field', (r) => delete r.node.ip, 'node.ip'],
    ['a missing section', (r) => delete r.artifacts, 'artifacts'],
    ['a port given as text', (r) => (r.pods[0].topDestinations[0].port = '443'), 'pods[0].topDestinations[0].port'],
    ['a port out of range', (r) => (r.destinations[2].port = 70000), 'destinations[2].port'],
    ['an unknown evidence source', (r) => (r.pods[1].source = 'kubectl'), 'pods[1].source'],
    ['a negative port count', (r) => (r.snat.allocatedPorts = -1), 'snat.allocatedPorts'],
    ['a fractional event count', (r) => (r.capture.events.connect = 1.5), 'capture.events.connect'],
    ['an unknown severity', (r) => (r.findings[1].severity = 'fatal'), 'findings[1].severity'],
    ['an object as evidence value', (r) => (r.findings[0].evidence.pod = { a: 1 }), 'findings[0].evidence.pod'],
    ['an odd evidence key', (r) => (r.findings[0].evidence['a b'] = []), 'findings[0].evidence["a b"]'],
    ['a null list', (r) => (r.pods = null), 'pods'],
    ['rank 0', (r) => (r.pods[3].rank = 0), 'pods[3].rank'],
    ['a numeric trigger source', (r) => (r.trigger.source = 7), 'trigger.source'],
    ['an alertId of the wrong type', (r) => (r.trigger.alertId = 5), 'trigger.alertId'],
    ['an empty investigation id', (r) => (r.investigationId = ''), 'investigationId'],
    ['appliesTo as a string', (r) => (r.recommendations[0].appliesTo = 'payments/x'), 'recommendations[0].appliesTo'],
    ['a string evidence weight', (r) => (r.pods[0].evidence[2].weight = '1'), 'pods[0].evidence[2].weight'],
  ];

  it.each(mutations)('rejects %s, naming the field', (_what, mutate, field) => {
    const report = copy(culpritReport);
    mutate(report);
    const parsed = validateReport(report);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problem.field).toBe(field);
    expect(parsed.problem.code).toBe('invalid-report');
    expect(parsed.problem.message).toMatch(/^not a schema v1 report: /);
  });

  it('counts the other problems in the message', () => {
    const report = copy(culpritReport);
    delete report.node.ip;
    report.pods[0].rank = 'one';
    report.capture.status = 'done';
    const parsed = validateReport(report);
    expect(parsed.ok ? null : parsed.problem).toEqual({
      message: 'not a schema v1 report: Invalid input: expected string, received undefined (and 2 more problems)',
      code: 'invalid-report',
      field: 'node.ip',
    });
  });

  it('rejects another schema version before anything else', () => {
    const report = copy(culpritReport);
    report.schemaVersion = 2;
    delete report.pods;
    expect(validateReport(report)).toEqual({
      ok: false,
      problem: {
        message: 'unsupported report schemaVersion 2 (this reader understands 1)',
        code: 'unsupported-schema-version',
        field: 'schemaVersion',
      },
    });
  });

  it.each([
    [null, '$'],
    ['report', '$'],
    [[], '$'],
    [{}, 'schemaVersion'],
  ])('rejects %j as a whole (field %s)', (value, field) => {
    const parsed = validateReport(value);
    expect(parsed.ok ? null : parsed.problem.field).toBe(field);
  });

  it('accepts unknown extra fields (a newer writer) and drops them', () => {
    const report = copy(culpritReport);
    report.futureField = { x: 1 };
    report.pods[0].futureScoreTerm = 3;
    const parsed = validateReport(report);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).not.toHaveProperty('futureField');
    expect(parsed.value.pods[0]).not.toHaveProperty('futureScoreTerm');
    expect(parsed.value.pods[0]?.score).toBe(0.9134);
  });

  it('accepts a trigger without alertId (optional in the model)', () => {
    const report = copy(culpritReport);
    delete report.trigger.alertId;
    expect(validateReport(report).ok).toBe(true);
  });
});

describe('jsonPath', () => {
  it.each([
    [[], '$'],
    [['pods', 0, 'topDestinations', 1, 'port'], 'pods[0].topDestinations[1].port'],
    [['findings', 2, 'evidence', 'key|with|pipes'], 'findings[2].evidence["key|with|pipes"]'],
    [[3], '[3]'],
    [['$ok', '_x'], '$ok._x'],
  ] as const)('%j -> %s', (path, text) => {
    expect(jsonPath(path)).toBe(text);
  });
});
