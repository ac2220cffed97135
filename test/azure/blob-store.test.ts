/**
 * BlobReportStore against a real Azurite (test/setup/azurite.ts) through the real @azure/storage-blob client; read
 * links are checked with plain fetch, as a Teams reader would open them.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { BlobServiceClient } from '@azure/storage-blob';
import type { AccessToken, TokenCredential } from '@azure/identity';
import type { StoragePipelineOptions } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reportBlobPaths } from '../../lib/azure/blob-paths.js';
import {
  BLOB_RETRY_OPTIONS,
  BlobReportStore,
  BlobStoreError,
  CONTENT_TYPES,
  REPORT_CACHE_CONTROL,
  isBlobStoreError,
} from '../../lib/azure/blob-store.js';
import { renderJson } from '../../lib/report/json.js';
import { culpritReport } from '../fixtures/report/sample.js';
import { AZURITE_KEY, azuriteConnectionString } from '../../sim/azurite.js';

const ACCOUNT_KEY = AZURITE_KEY;

function connectionString(): string {
  const url = inject('azuriteBlobUrl');
  return azuriteConnectionString(url);
}

/** Each test its own container, so tests do not see each other's blobs. */
function store(now?: () => Date): BlobReportStore {
  return BlobReportStore.fromConnectionString(connectionString(), {
    container: `t-${randomUUID().slice(0, 8)}`,
    ...(now ? { now } : {}),
  });
}

const LOCATION = {
  cluster: culpritReport.cluster.name,
  node: culpritReport.node.name,
  investigationId: culpritReport.investigationId,
  generatedAt: culpritReport.generatedAt,
};

describe('BlobReportStore (Azurite)', () => {
  it('writes the report files and the capture log under the DESIGN.md layout, with content types', async () => {
    const s = store();
    const output = s.output(LOCATION);
    const base = `${inject('azuriteBlobUrl')}/devstoreaccount1/${s.containerName}`;
    const folder = 'aks-prod-weu/aks-nodepool1-38290145-vmss000003/2024/05/14/inv-20240514-091200-7f3a';
    expect(output.paths()).toEqual({
      json: `${base}/${folder}/report.json`,
      markdown: `${base}/${folder}/report.md`,
      html: `${base}/${folder}/report.html`,
    });

    const written = await output.writeReport(culpritReport);
    expect(written).toEqual(output.paths());
    expect(await output.writeRaw('capture.log', 'raw\nlog\n')).toBe(`${base}/${folder}/capture.log`);

    const client = BlobServiceClient.fromConnectionString(connectionString()).getContainerClient(s.containerName);
    const names: string[] = [];
    for await (const b of client.listBlobsFlat()) names.push(b.name);
    expect(names.sort()).toEqual(
      ['capture.log', 'report.html', 'report.json', 'report.md'].map((f) => `${folder}/${f}`),
    );

    const expected = {
      'report.json': CONTENT_TYPES.json,
      'report.md': CONTENT_TYPES.markdown,
      'report.html': CONTENT_TYPES.html,
      'capture.log': CONTENT_TYPES.rawCapture,
    };
    for (const [file, type] of Object.entries(expected)) {
      const props = await client.getBlobClient(`${folder}/${file}`).getProperties();
      expect(props.contentType).toBe(type);
      expect(props.cacheControl).toBe(REPORT_CACHE_CONTROL);
    }
    expect(await s.read(written.json)).toBe(renderJson(culpritReport));
    expect(await s.read(`${folder}/capture.log`)).toBe('raw\nlog\n');
  });

  it('gives a read-only link that plain fetch can open, that refuses writes, and that expires', async () => {
    let clock = Date.now();
    const s = store(() => new Date(clock));
    const url = await s.writeRaw(LOCATION, 'capture.log', 'hello capture');

    const link = await s.readLink(url, 60);
    expect(new URL(link).searchParams.get('sp')).toBe('r');
    const ok = await fetch(link);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe(CONTENT_TYPES.rawCapture);
    expect(await ok.text()).toBe('hello capture');

    const write = await fetch(link, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'overwritten' });
    expect(write.status).toBe(403);
    await write.arrayBuffer();
    expect(await s.read(url)).toBe('hello capture');

    const bare = await fetch(url);
    expect([401, 403, 404]).toContain(bare.status);
    await bare.arrayBuffer();

    // A link signed "two seconds ago" with a one-second life has already expired; no waiting needed.
    clock = Date.now() - 2000;
    const stillValid = await fetch(await s.readLink(url, 60));
    expect(stillValid.status).toBe(200);
    await stillValid.arrayBuffer();
    const expired = await s.readLink(url, 1);
    const refused = await fetch(expired);
    expect(refused.status).toBe(403);
    await refused.arrayBuffer();
  });

  it('accepts a blob name or its URL for links, and rejects bad lifetimes and foreign URLs without secrets', async () => {
    const s = store();
    const paths = reportBlobPaths(LOCATION);
    const link = await s.readLink(paths.rawCapture, 300);
    expect(link.startsWith(s.blobUrl(paths.rawCapture) + '?')).toBe(true);

    for (const ttl of [0, -1, Number.NaN, 8 * 24 * 3600]) {
      await expect(s.readLink(paths.rawCapture, ttl)).rejects.toMatchObject({ code: 'BLOB_LINK_FAILED' });
    }
    await expect(s.readLink(`${s.blobUrl('a')}/%E0%A4%A`, 60)).rejects.toMatchObject({ code: 'BLOB_LINK_FAILED' });
    const foreign = s.readLink('https://evil.example/devstoreaccount1/other/x?sig=abc', 60);
    await expect(foreign).rejects.toThrow(BlobStoreError);
    await expect(foreign).rejects.not.toThrow(/sig=|abc/);
  });

  it('keeps hostile cluster and node names inside their folder', async () => {
    const s = store();
    const hostile = {
      cluster: '../../etc/passwd',
      node: 'node/../../x?y#z%2F' + 'é'.repeat(300),
      investigationId: 'inv/../1',
      generatedAt: '2024-12-31T23:59:59.999-02:00',
    };
    const output = s.output(hostile);
    const written = await output.writeReport(culpritReport);
    const paths = reportBlobPaths(hostile);
    const segments = paths.json.split('/');
    expect(segments).toHaveLength(7);
    expect(segments.slice(2, 5)).toEqual(['2025', '01', '01']);
    for (const seg of segments) {
      expect(seg).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
      expect(seg).not.toContain('..');
      expect(seg.length).toBeLessThanOrEqual(80);
    }
    expect(written.json).toBe(s.blobUrl(paths.json));
    expect(await s.read(paths.json)).toBe(renderJson(culpritReport));
  });

  it('names the container and blob in errors, never the key', async () => {
    const wrongKey = Buffer.from('not the key of this account, 64 bytes long...........').toString('base64');
    const bad = BlobReportStore.fromConnectionString(connectionString().replace(ACCOUNT_KEY, wrongKey), {
      container: 'reports-denied',
    });
    const error = await bad.writeRaw(LOCATION, 'capture.log', 'x').catch((e: unknown) => e);
    expect(isBlobStoreError(error)).toBe(true);
    const e = error as BlobStoreError;
    expect(e.code).toBe('BLOB_CONTAINER_FAILED');
    expect(e.message).toContain('reports-denied');
    expect(e.status).toBe(403);
    for (const secret of [wrongKey, ACCOUNT_KEY]) expect(e.message).not.toContain(secret);
    expect(JSON.stringify(e)).not.toContain(wrongKey);

    expect(() => BlobReportStore.fromConnectionString(`AccountKey=${ACCOUNT_KEY};garbage`)).toThrow(BlobStoreError);
    try {
      BlobReportStore.fromConnectionString(`AccountKey=${ACCOUNT_KEY};garbage`);
    } catch (x) {
      expect(String(x)).not.toContain(ACCOUNT_KEY);
    }
  });

  it('reports an unreachable service as a transient error naming the blob', async () => {
    const { closedPort } = await import('../notify/receiver.js');
    const port = await closedPort();
    const down = BlobReportStore.fromConnectionString(
      connectionString().replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`),
      { container: 'reports', pipeline: { retryOptions: { maxTries: 1 } } },
    );
    const error = (await down.read('a/b/report.json').catch((e: unknown) => e)) as BlobStoreError;
    expect(error).toBeInstanceOf(BlobStoreError);
    expect(error).toMatchObject({ code: 'BLOB_READ_FAILED', status: null, transient: true });
    expect(error.message).toBe('could not read reports/a/b/report.json: no response ECONNREFUSED');
  });

  it('a write to a service that is down fails fast and transient (bounded client retries, not the SDK ~16 s)', async () => {
    const { closedPort } = await import('../notify/receiver.js');
    const port = await closedPort();
    // No pipeline option: the store's own retry options (BLOB_RETRY_OPTIONS) apply.
    const down = BlobReportStore.fromConnectionString(
      connectionString().replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`),
      { container: 'reports' },
    );
    const started = performance.now();
    const error = (await down
      .output(LOCATION)
      .writeReport(culpritReport)
      .catch((e: unknown) => e)) as BlobStoreError;
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(BlobStoreError);
    // The container comes first; its failure is the write's, and says which container and why.
    expect(error).toMatchObject({ code: 'BLOB_CONTAINER_FAILED', status: null, transient: true });
    expect(error.message).toBe('could not create container reports: no response ECONNREFUSED');
    // ~0.2 s measured (3 tries, 0 + 200 ms apart); the SDK's defaults took 16 s. Generous for 2 shared cores.
    expect(ms).toBeLessThan(10_000);
  });

  describe('retries of the storage client, counted at a service that resets every connection', () => {
    let server: ReturnType<typeof createServer>;
    let connections = 0;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      server.on('connection', (socket) => sockets.add(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const storeAt = (pipeline?: StoragePipelineOptions): BlobReportStore => {
      const { port } = server.address() as AddressInfo;
      return BlobReportStore.fromConnectionString(
        connectionString().replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1`),
        { container: 'reports', ...(pipeline ? { pipeline } : {}) },
      );
    };
    const triesOf = async (store: BlobReportStore): Promise<number> => {
      const before = connections;
      const error = await store.read('a/b/report.json').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'BLOB_READ_FAILED', status: null, transient: true });
      return connections - before;
    };

    it('three tries by default (BLOB_RETRY_OPTIONS)', async () => {
      expect(BLOB_RETRY_OPTIONS).toEqual({
        maxTries: 3,
        retryDelayInMs: 200,
        maxRetryDelayInMs: 2_000,
        tryTimeoutInMs: 30_000,
      });
      expect(await triesOf(storeAt())).toBe(3);
    });

    it("the caller's pipeline retry options win, field by field", async () => {
      expect(await triesOf(storeAt({ retryOptions: { maxTries: 1 } }))).toBe(1);
      expect(await triesOf(storeAt({ retryOptions: { maxTries: 5, retryDelayInMs: 1 } }))).toBe(5);
      // Other pipeline options leave the store's retry options in place.
      expect(await triesOf(storeAt({ userAgentOptions: { userAgentPrefix: 'snat-test' } }))).toBe(3);
    });
  });

  it('signs links for an identity with a user-delegation key (service answer stubbed: Azurite needs OAuth over https)', async () => {
    const credential: TokenCredential = {
      getToken: (): Promise<AccessToken> =>
        Promise.resolve({ token: 'unused', expiresOnTimestamp: Date.now() + 3600_000 }),
    };
    const s = BlobReportStore.fromAccountUrl('https://stsnat.blob.core.windows.net', credential);
    const calls: Array<[Date, Date]> = [];
    // The one network call of the identity path; the signing itself is the SDK's.
    const service = (s as unknown as { signer: { service: BlobServiceClient } }).signer.service;
    service.getUserDelegationKey = ((startsOn: Date, expiresOn: Date) => {
      calls.push([startsOn, expiresOn]);
      return Promise.resolve({
        signedObjectId: '00000000-0000-0000-0000-000000000001',
        signedTenantId: '00000000-0000-0000-0000-000000000002',
        signedStartsOn: startsOn,
        signedExpiresOn: expiresOn,
        signedService: 'b',
        signedVersion: '2025-01-05',
        value: Buffer.from('delegation-key-secret').toString('base64'),
      });
    }) as unknown as BlobServiceClient['getUserDelegationKey'];

    const link = new URL(await s.readLink('c/n/2024/05/14/i/report.html', 3600));
    expect(link.origin + link.pathname).toBe(
      'https://stsnat.blob.core.windows.net/reports/c/n/2024/05/14/i/report.html',
    );
    expect(link.searchParams.get('sp')).toBe('r');
    expect(link.searchParams.get('spr')).toBe('https');
    expect(link.searchParams.get('skoid')).toBe('00000000-0000-0000-0000-000000000001');
    await s.readLink('c/n/2024/05/14/i/report.json', 600);
    expect(calls).toHaveLength(1);

    expect(() =>
      BlobReportStore.fromAccountUrl('https://x.blob.core.windows.net/?sv=1&sig=SECRET', credential),
    ).toThrow(/must not carry a query/);
    try {
      BlobReportStore.fromAccountUrl('https://x.blob.core.windows.net/?sv=1&sig=SECRET', credential);
    } catch (e) {
      expect(String(e)).not.toContain('SECRET');
    }
  });
});
