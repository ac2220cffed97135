/**
 * BlobEvidenceStore against a real Azurite (test/setup/azurite.ts) through the real @azure/storage-blob client: the
 * blob names under `_evidence/` (infra's lifecycle rule), round trips, the missing-key error, refused keys, a big
 * value, and a transient failure that stays a retryable BlobStoreError.
 */
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import {
  BlobEvidenceStore,
  EVIDENCE_PREFIX,
  MAX_EVIDENCE_KEY_LENGTH,
  isEvidenceStoreError,
} from '../../lib/azure/blob-evidence.js';
import { BlobReportStore, BlobStoreError } from '../../lib/azure/blob-store.js';
import { MemoryEvidenceStore } from '../../lib/workflow/context.js';
import { azuriteConnectionString } from '../../sim/azurite.js';

const connectionString = (): string => azuriteConnectionString(inject('azuriteBlobUrl'));

/** Each test its own container, so tests do not see each other's blobs. */
function reports(): BlobReportStore {
  return BlobReportStore.fromConnectionString(connectionString(), { container: `ev-${randomUUID().slice(0, 8)}` });
}

async function blobNames(store: BlobReportStore): Promise<string[]> {
  const container = BlobServiceClient.fromConnectionString(connectionString()).getContainerClient(store.containerName);
  const names: string[] = [];
  for await (const b of container.listBlobsFlat()) names.push(b.name);
  return names.sort();
}

const STARTED = '2026-11-26T23:59:58.000Z';

describe('BlobEvidenceStore (Azurite)', () => {
  it('round-trips JSON values under _evidence/<yyyy>/<mm>/<dd>/<investigationId>/<rest of the key>.json', async () => {
    const blob = reports();
    const store = new BlobEvidenceStore(blob, { investigationId: 'inv-1', startedAt: STARTED });
    const pods = { pods: [{ namespace: 'shop', name: 'checkout-7d9f', ips: ['10.244.0.7'] }], notes: [] };
    await store.put('inv-1/pods', pods);
    await store.put('inv-1/census/0', [{ pod: 'a' }, { pod: 'b' }]);
    await store.put('inv-1/census/8', []);
    await store.put('inv-1/report', { schemaVersion: 1, text: 'ünïcode ✓', n: null });
    expect(await store.get('inv-1/pods')).toEqual(pods);
    expect(await store.get('inv-1/census/0')).toEqual([{ pod: 'a' }, { pod: 'b' }]);
    expect(await store.get('inv-1/report')).toEqual({ schemaVersion: 1, text: 'ünïcode ✓', n: null });
    expect(await blobNames(blob)).toEqual([
      '_evidence/2026/11/26/inv-1/census/0.json',
      '_evidence/2026/11/26/inv-1/census/8.json',
      '_evidence/2026/11/26/inv-1/pods.json',
      '_evidence/2026/11/26/inv-1/report.json',
    ]);
    expect(EVIDENCE_PREFIX).toBe('_evidence/');

    // Another activity of the same investigation, later (past midnight) and on another instance: same blobs.
    const later = new BlobEvidenceStore(reportsLike(blob), {
      investigationId: 'inv-1',
      startedAt: STARTED,
      now: () => new Date('2026-11-27T00:10:00.000Z'),
    });
    expect(await later.get('inv-1/pods')).toEqual(pods);
    // A put replaces the earlier value (a retried activity).
    await later.put('inv-1/pods', { pods: [], notes: ['again'] });
    expect(await store.get('inv-1/pods')).toEqual({ pods: [], notes: ['again'] });
  });

  it('without a start time, the date is the clock at construction', async () => {
    const blob = reports();
    const store = new BlobEvidenceStore(blob, { now: () => new Date('2025-02-03T04:05:06.000Z') });
    expect(store.blobName('inv-9/capture')).toBe('_evidence/2025/02/03/inv-9/capture.json');
    await store.put('inv-9/capture', { ok: true });
    expect(await blobNames(blob)).toEqual(['_evidence/2025/02/03/inv-9/capture.json']);
  });

  it('a missing key throws `evidence store: no entry "<key>"`, as MemoryEvidenceStore does; so does a missing container', async () => {
    const blob = reports();
    const store = new BlobEvidenceStore(blob, { investigationId: 'inv-2', startedAt: STARTED });
    const memory = (await new MemoryEvidenceStore().get('inv-2/pods').catch((e: unknown) => e)) as Error;
    // The container does not exist yet: 404 all the same.
    const noContainer = await store.get('inv-2/pods').catch((e: unknown) => e);
    expect(isEvidenceStoreError(noContainer, 'EVIDENCE_MISSING')).toBe(true);
    expect((noContainer as Error).message).toBe(memory.message);
    expect((noContainer as Error).message).toBe('evidence store: no entry "inv-2/pods"');
    await store.put('inv-2/census/0', []);
    const missing = await store.get('inv-2/census/8').catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'EVIDENCE_MISSING', transient: false });
    expect((missing as Error).message).toBe('evidence store: no entry "inv-2/census/8"');
  });

  it('refuses unsafe keys before any request: "..", empty, over-long, not <investigationId>/<name>, odd characters, another investigation', async () => {
    const blob = reports();
    const store = new BlobEvidenceStore(blob, { investigationId: 'inv-3', startedAt: STARTED });
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      ['inv-3', /is not <investigationId>\/<name>/],
      ['inv-3/../inv-4/pods', /contains "\.\."/],
      ['inv-3/..', /contains "\.\."/],
      ['inv-3/a..b', /contains "\.\."/],
      ['inv-3//pods', /empty segment/],
      ['/inv-3/pods', /empty segment/],
      ['inv-3/pods/', /empty segment/],
      ['inv-3/.hidden', /only ASCII letters/],
      ['inv-3/po ds', /only ASCII letters/],
      ['inv-3/pods?comp=list', /only ASCII letters/],
      ['inv-3/p%2e%2e', /only ASCII letters/],
      ['inv-3/a\\..\\b', /contains "\.\."/],
      [`inv-3/${'x'.repeat(MAX_EVIDENCE_KEY_LENGTH)}`, /over 256 characters/],
      ['inv-3/a/b/c/d/e/f/g/h', /over 8 segments/],
      ['inv-4/pods', /another investigation than "inv-3"/],
    ];
    for (const [key, why] of cases) {
      const put = await store.put(key, {}).catch((e: unknown) => e);
      expect(isEvidenceStoreError(put, 'EVIDENCE_KEY_INVALID'), key).toBe(true);
      expect((put as Error).message, key).toMatch(why);
      const get = await store.get(key).catch((e: unknown) => e);
      expect(isEvidenceStoreError(get, 'EVIDENCE_KEY_INVALID'), key).toBe(true);
    }
    // Values JSON cannot hold are refused too.
    await expect(store.put('inv-3/x', undefined)).rejects.toThrow(/not JSON/);
    await expect(store.put('inv-3/x', { n: 1n })).rejects.toThrow(/not JSON/);
    // Nothing reached the service: the container was never even created.
    await expect(blobNames(blob)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('keeps a ~2 MB value (a large pod snapshot) intact', async () => {
    const blob = reports();
    const store = new BlobEvidenceStore(blob, { investigationId: 'inv-big', startedAt: STARTED });
    const pods = Array.from({ length: 6000 }, (_, i) => ({
      namespace: `ns-${i % 40}`,
      name: `pod-${i}-${'x'.repeat(200)}`,
      ips: [`10.244.${Math.floor(i / 250)}.${i % 250}`],
      labels: { app: `app-${i % 97}`, 'pod-template-hash': randomUUID() },
    }));
    const size = Buffer.byteLength(JSON.stringify(pods), 'utf8');
    expect(size).toBeGreaterThan(2_000_000);
    await store.put('inv-big/pods', pods);
    expect(await store.get('inv-big/pods')).toEqual(pods);
  });

  it('a failure other than 404 keeps the Blob store error, transient for a service that does not answer', async () => {
    const { closedPort } = await import('../notify/receiver.js');
    const port = await closedPort();
    const down = BlobReportStore.fromConnectionString(
      connectionString().replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`),
      { container: 'reports', pipeline: { retryOptions: { maxTries: 1 } } },
    );
    const store = new BlobEvidenceStore(down, { investigationId: 'inv-5', startedAt: STARTED });
    const read = await store.get('inv-5/pods').catch((e: unknown) => e);
    expect(read).toBeInstanceOf(BlobStoreError);
    expect(read).toMatchObject({ code: 'BLOB_READ_FAILED', status: null, transient: true });
    expect((read as Error).message).toBe(
      'could not read reports/_evidence/2026/11/26/inv-5/pods.json: no response ECONNREFUSED',
    );
    expect((read as Error).message).not.toMatch(/no entry/);
    const write = await store.put('inv-5/pods', {}).catch((e: unknown) => e);
    expect(write).toMatchObject({ transient: true });
    expect((write as Error).message).not.toContain('AccountKey');
  });
});

/** A second store over the same container, as another Functions instance would build it. */
function reportsLike(blob: BlobReportStore): BlobReportStore {
  return BlobReportStore.fromConnectionString(connectionString(), { container: blob.containerName });
}
