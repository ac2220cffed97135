import { describe, expect, it } from 'vitest';
import { renderJson } from '../../lib/report/json.js';
import type { Report } from '../../lib/report/model.js';
import { culpritReport, emptyReport } from '../fixtures/report/sample.js';

/**
 * The same value with every object's keys in reverse order, as another producer might build it. A finding's evidence
 * is a free-form record whose order is the analysis's to choose, so it is left alone.
 */
function reversedKeys(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => reversedKeys(v));
  if (value === null || typeof value !== 'object' || key === 'evidence') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversedKeys(v, k)]),
  );
}

describe('renderJson', () => {
  it('writes the culprit report (golden)', async () => {
    await expect(renderJson(culpritReport)).toMatchFileSnapshot('../golden/report/culprit.json');
  });

  it('writes the empty report (golden)', async () => {
    await expect(renderJson(emptyReport)).toMatchFileSnapshot('../golden/report/empty.json');
  });

  it('uses 2-space indentation and ends with one newline', () => {
    const text = renderJson(emptyReport);
    expect(text.startsWith('{\n  "schemaVersion": 1,\n  "investigationId": "inv-20240514-101500-0c1d",\n')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.endsWith('}\n\n')).toBe(false);
  });

  it("keys follow the model's order whatever order the object was built in", () => {
    const scrambled = reversedKeys(culpritReport) as Report;
    expect(Object.keys(scrambled)[0]).toBe('artifacts');
    expect(renderJson(scrambled)).toBe(renderJson(culpritReport));
    const top = Object.keys(JSON.parse(renderJson(scrambled)) as object);
    expect(top).toEqual([
      'schemaVersion',
      'investigationId',
      'generatedAt',
      'trigger',
      'cluster',
      'node',
      'window',
      'snat',
      'capture',
      'pods',
      'destinations',
      'findings',
      'recommendations',
      'degraded',
      'dataQuality',
      'artifacts',
    ]);
  });

  it('keeps fields it does not know, after the known ones', () => {
    const extended = { futureField: 'x', ...culpritReport, node: { zone: '2', ...culpritReport.node } } as Report;
    const parsed = JSON.parse(renderJson(extended)) as Record<string, unknown>;
    expect(Object.keys(parsed).at(-1)).toBe('futureField');
    expect(Object.keys(parsed.node as object)).toEqual(['name', 'ip', 'zone']);
  });

  it('keeps finding evidence keys as the analysis wrote them', () => {
    const parsed = JSON.parse(renderJson(culpritReport)) as Report;
    expect(Object.keys(parsed.findings[1]?.evidence ?? {})).toEqual(['pod', 'destination', 'flows', 'allocatedPorts']);
  });
});
