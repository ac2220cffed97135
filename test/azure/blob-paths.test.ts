import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BlobPathError,
  MAX_SEGMENT_LENGTH,
  locationOfReport,
  reportBlobPaths,
  safeSegment,
  utcDateSegments,
} from '../../lib/azure/blob-paths.js';
import { culpritReport } from '../fixtures/report/sample.js';

describe('reportBlobPaths', () => {
  it('builds the DESIGN.md layout from the report', () => {
    expect(reportBlobPaths(locationOfReport(culpritReport))).toEqual({
      prefix: 'aks-prod-weu/aks-nodepool1-38290145-vmss000003/2024/05/14/inv-20240514-091200-7f3a',
      json: 'aks-prod-weu/aks-nodepool1-38290145-vmss000003/2024/05/14/inv-20240514-091200-7f3a/report.json',
      markdown: 'aks-prod-weu/aks-nodepool1-38290145-vmss000003/2024/05/14/inv-20240514-091200-7f3a/report.md',
      html: 'aks-prod-weu/aks-nodepool1-38290145-vmss000003/2024/05/14/inv-20240514-091200-7f3a/report.html',
      rawCapture: 'aks-prod-weu/aks-nodepool1-38290145-vmss000003/2024/05/14/inv-20240514-091200-7f3a/capture.log',
    });
  });

  it('dates folders in UTC and refuses non-ISO times', () => {
    expect(utcDateSegments('2024-05-14T23:30:00-05:00')).toEqual(['2024', '05', '15']);
    expect(utcDateSegments('2024-01-01T00:30:00+01:00')).toEqual(['2023', '12', '31']);
    expect(() => utcDateSegments('not a timestamp <i>')).toThrow(BlobPathError);
    expect(() => utcDateSegments('2024-13-45T00:00:00Z')).toThrow(BlobPathError);
  });

  it.each([
    [null, 'unknown-cluster'],
    ['', 'unknown-cluster'],
    ['aks-prod_weu.1', 'aks-prod_weu.1'],
    ['..', /^unknown-cluster-[0-9a-f]{8}$/],
    ['../../etc', /^etc-[0-9a-f]{8}$/],
    ['a/b', /^a-b-[0-9a-f]{8}$/],
    ['a..b', /^a\.b-[0-9a-f]{8}$/],
    ['x'.repeat(81), /^x{71}-[0-9a-f]{8}$/],
  ])('safeSegment(%j)', (name, expected) => {
    const seg = safeSegment(name, 'unknown-cluster');
    if (typeof expected === 'string') expect(seg).toBe(expected);
    else expect(seg).toMatch(expected);
  });

  it('keeps distinct hostile names apart', () => {
    expect(safeSegment('a/b', 'u')).not.toBe(safeSegment('a?b', 'u'));
    expect(safeSegment('é', 'u')).not.toBe(safeSegment('ü', 'u'));
  });

  it('always yields one safe, bounded segment (property)', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ unit: 'binary', maxLength: 300 })), (name) => {
        const seg = safeSegment(name, 'unknown');
        expect(seg).toMatch(/^[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?$/);
        expect(seg).not.toContain('..');
        expect(seg.length).toBeLessThanOrEqual(MAX_SEGMENT_LENGTH);
      }),
      { numRuns: 100 },
    );
  });
});
