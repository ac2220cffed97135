/**
 * The Blob Storage report store: report.json, report.md, report.html and capture.log of each investigation under the
 * layout of blob-paths.ts, plus time-limited read links (SAS) for notifications.
 *
 * Two ways in: a connection string (Azurite, or an account key in production; links are account-key SAS), or an
 * account URL with a TokenCredential (managed identity; links are user-delegation SAS, signed by a key the service
 * hands out for the identity through getUserDelegationKey). Nothing here logs, and errors name the container and the
 * blob with the status, never a key, a signature or a SAS token: the SDK's own error text is not passed on.
 */
import type { TokenCredential } from '@azure/identity';
import { BlobSASPermissions, BlobServiceClient, SASProtocol, StorageSharedKeyCredential } from '@azure/storage-blob';
import type {
  ContainerClient,
  StoragePipelineOptions,
  StorageRetryOptions,
  UserDelegationKey,
} from '@azure/storage-blob';
import { renderHtml } from '../report/html.js';
import { renderJson } from '../report/json.js';
import { renderMarkdown } from '../report/markdown.js';
import type { Report } from '../report/model.js';
import type { ReportOutput } from '../workflow/context.js';
import { REPORTS_CONTAINER, reportBlobPaths } from './blob-paths.js';
import type { ReportLocation } from './blob-paths.js';

export const CONTENT_TYPES = {
  json: 'application/json; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  html: 'text/html; charset=utf-8',
  rawCapture: 'text/plain; charset=utf-8',
} as const;

/**
 * Reports are read through short-lived links and may be rewritten by a retried activity: caches keep a copy only for
 * the one reader and revalidate it (ETag) every time.
 */
export const REPORT_CACHE_CONTROL = 'private, no-cache';

/** Under the 7-day limit of a user-delegation key (kept for account-key SAS too: a link is not an archive). */
export const MAX_LINK_TTL_SECONDS = 7 * 24 * 3600 - 3600;
/** A link's start is set this far back so a reader whose clock runs behind is not refused. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The storage client's own retries, bounded. The SDK's defaults (4 tries, 0 s, 4 s then 12 s apart, up to 120 s, no
 * try timeout) hold a write ~16 s against a service that is down, and an investigation pays that twice (capture.log,
 * then the report: each tries the container again). Retries that wait longer belong to the workflow, one layer up
 * (RETRY_POLICIES.report in lib/workflow/retry.ts: Durable activity retries, seconds to a minute apart), so here
 * only a blip is smoothed over: 3 tries, the second at once, the third 200 ms later (exponential: (2^(n-1) - 1) x
 * 200 ms, at most 2 s). `tryTimeoutInMs` is the service-side limit of one try (sent as `timeout=30`); it does not
 * bound a connection attempt to an address that never answers. A `pipeline.retryOptions` given to the store
 * overrides these field by field.
 */
export const BLOB_RETRY_OPTIONS: Readonly<StorageRetryOptions> = Object.freeze({
  maxTries: 3,
  retryDelayInMs: 200,
  maxRetryDelayInMs: 2_000,
  tryTimeoutInMs: 30_000,
});

/** The caller's pipeline options, with the store's bounded retries where the caller sets none. */
function pipelineOptions(options: BlobReportStoreOptions): StoragePipelineOptions {
  const pipeline = options.pipeline ?? {};
  return { ...pipeline, retryOptions: { ...BLOB_RETRY_OPTIONS, ...pipeline.retryOptions } };
}

export type BlobStoreErrorCode =
  'BLOB_CONTAINER_FAILED' | 'BLOB_WRITE_FAILED' | 'BLOB_READ_FAILED' | 'BLOB_LINK_FAILED' | 'BLOB_CONFIG_INVALID';

export class BlobStoreError extends Error {
  constructor(
    readonly code: BlobStoreErrorCode,
    message: string,
    /** HTTP status from the service, null for network failures and local errors. */
    readonly status: number | null,
    /** Worth retrying: throttling, service errors, network failures. */
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'BlobStoreError';
  }
}

export function isBlobStoreError(e: unknown): e is BlobStoreError {
  return e instanceof BlobStoreError;
}

/** The status and the service's error code of an SDK error; its message is dropped on purpose (see the header). */
function describeFailure(e: unknown): { status: number | null; detail: string; transient: boolean } {
  const err = e as { statusCode?: unknown; code?: unknown; name?: unknown };
  const status = typeof err.statusCode === 'number' ? err.statusCode : null;
  const code = typeof err.code === 'string' && /^[A-Za-z_]{1,64}$/.test(err.code) ? err.code : null;
  const transient = status === null || status === 408 || status === 429 || status >= 500;
  const parts = [status !== null ? `HTTP ${status}` : 'no response', code].filter((p): p is string => p !== null);
  if (err.name === 'AbortError') return { status, detail: 'aborted', transient: false };
  return { status, detail: parts.join(' '), transient };
}

export interface BlobReportStoreOptions {
  /** Defaults to `reports` (DESIGN.md). */
  readonly container?: string;
  /** The clock for link start and expiry. */
  readonly now?: () => Date;
  /** The storage client's options; `retryOptions` defaults to BLOB_RETRY_OPTIONS (field by field). */
  readonly pipeline?: StoragePipelineOptions;
}

type Signer = { kind: 'account-key' } | { kind: 'user-delegation'; service: BlobServiceClient };

export class BlobReportStore {
  readonly containerName: string;
  private readonly container: ContainerClient;
  private readonly signer: Signer;
  private readonly now: () => Date;
  private containerReady: Promise<void> | null = null;
  private delegationKey: UserDelegationKey | null = null;

  private constructor(service: BlobServiceClient, signer: Signer, options: BlobReportStoreOptions) {
    this.containerName = options.container ?? REPORTS_CONTAINER;
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(this.containerName)) {
      throw new BlobStoreError(
        'BLOB_CONFIG_INVALID',
        `container name ${JSON.stringify(this.containerName)} is not valid (3-63 lowercase letters, digits, single dashes)`,
        null,
        false,
      );
    }
    this.container = service.getContainerClient(this.containerName);
    this.signer = signer;
    this.now = options.now ?? (() => new Date());
  }

  /** Account-key access: Azurite's development connection string, or a storage account's. */
  static fromConnectionString(connectionString: string, options: BlobReportStoreOptions = {}): BlobReportStore {
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(connectionString, pipelineOptions(options));
    } catch {
      // The SDK's message may quote the string, key included.
      throw new BlobStoreError('BLOB_CONFIG_INVALID', 'the storage connection string is not valid', null, false);
    }
    if (!(service.credential instanceof StorageSharedKeyCredential)) {
      throw new BlobStoreError(
        'BLOB_CONFIG_INVALID',
        'the storage connection string has no account key (a SAS connection string cannot sign read links)',
        null,
        false,
      );
    }
    return new BlobReportStore(service, { kind: 'account-key' }, options);
  }

  /** Identity-based access (managed identity, workload identity, Azure CLI): `https://<account>.blob.core.windows.net`. */
  static fromAccountUrl(
    accountUrl: string,
    credential: TokenCredential,
    options: BlobReportStoreOptions = {},
  ): BlobReportStore {
    let url: URL;
    try {
      url = new URL(accountUrl);
    } catch {
      throw new BlobStoreError('BLOB_CONFIG_INVALID', 'the storage account URL is not a URL', null, false);
    }
    if (url.search !== '' || url.username !== '' || url.password !== '') {
      throw new BlobStoreError(
        'BLOB_CONFIG_INVALID',
        `the storage account URL of ${url.host} must not carry a query or credentials (identity access needs none)`,
        null,
        false,
      );
    }
    const service = new BlobServiceClient(url.toString().replace(/\/$/, ''), credential, pipelineOptions(options));
    return new BlobReportStore(service, { kind: 'user-delegation', service }, options);
  }

  /** Creates the container (private) on first use; later calls share the one request. */
  ensureContainer(): Promise<void> {
    this.containerReady ??= this.container.createIfNotExists().then(
      () => undefined,
      (e: unknown) => {
        this.containerReady = null;
        const f = describeFailure(e);
        throw new BlobStoreError(
          'BLOB_CONTAINER_FAILED',
          `could not create container ${this.containerName}: ${f.detail}`,
          f.status,
          f.transient,
        );
      },
    );
    return this.containerReady;
  }

  /** The blob's URL without any token (what the report's `artifacts` hold). `path` is a blob name. */
  blobUrl(path: string): string {
    return this.container.getBlockBlobClient(path).url;
  }

  /** Uploads one blob, replacing any earlier version; returns its URL. */
  async put(path: string, text: string, contentType: string, signal?: AbortSignal): Promise<string> {
    await this.ensureContainer();
    const blob = this.container.getBlockBlobClient(path);
    try {
      await blob.upload(text, Buffer.byteLength(text, 'utf8'), {
        blobHTTPHeaders: { blobContentType: contentType, blobCacheControl: REPORT_CACHE_CONTROL },
        abortSignal: signal,
      });
    } catch (e) {
      const f = describeFailure(e);
      throw new BlobStoreError(
        'BLOB_WRITE_FAILED',
        `could not write ${this.containerName}/${path}: ${f.detail}`,
        f.status,
        f.transient,
      );
    }
    return blob.url;
  }

  /** A blob's text (the status endpoint and the tests read reports back). */
  async read(pathOrUrl: string): Promise<string> {
    const path = this.blobName(pathOrUrl);
    try {
      const buffer = await this.container.getBlockBlobClient(path).downloadToBuffer();
      return buffer.toString('utf8');
    } catch (e) {
      const f = describeFailure(e);
      throw new BlobStoreError(
        'BLOB_READ_FAILED',
        `could not read ${this.containerName}/${path}: ${f.detail}`,
        f.status,
        f.transient,
      );
    }
  }

  /** Renders the three files first (a renderer bug leaves nothing half-written), then uploads them side by side. */
  async writeReport(
    location: ReportLocation,
    report: Report,
    signal?: AbortSignal,
  ): Promise<{ json: string; markdown: string; html: string }> {
    const paths = reportBlobPaths(location);
    const contents = { json: renderJson(report), markdown: renderMarkdown(report), html: renderHtml(report) };
    const [json, markdown, html] = await Promise.all([
      this.put(paths.json, contents.json, CONTENT_TYPES.json, signal),
      this.put(paths.markdown, contents.markdown, CONTENT_TYPES.markdown, signal),
      this.put(paths.html, contents.html, CONTENT_TYPES.html, signal),
    ]);
    return { json, markdown, html };
  }

  /** Keeps the raw capture log next to the report; returns its URL. */
  writeRaw(location: ReportLocation, name: 'capture.log', text: string, signal?: AbortSignal): Promise<string> {
    const paths = reportBlobPaths(location);
    if (name !== 'capture.log') throw new Error(`unknown raw file ${JSON.stringify(name)}`);
    return this.put(paths.rawCapture, text, CONTENT_TYPES.rawCapture, signal);
  }

  /** The workflow's output seam for one investigation. */
  output(location: ReportLocation): ReportOutput {
    const paths = reportBlobPaths(location);
    return {
      paths: () => ({
        json: this.blobUrl(paths.json),
        markdown: this.blobUrl(paths.markdown),
        html: this.blobUrl(paths.html),
      }),
      writeReport: (report) => this.writeReport(location, report),
      writeRaw: (name, text) => this.writeRaw(location, name, text),
      readLink: (path, ttlSeconds) => this.readLink(path, ttlSeconds),
    };
  }

  /**
   * A read-only link to one blob that expires after `ttlSeconds` (1 s .. 7 days). `pathOrUrl` is a blob name or the
   * blob URL this store returned. Account-key SAS with a connection string, user-delegation SAS with an identity.
   * The link is a secret: hand it to the notification, never to a log.
   */
  async readLink(pathOrUrl: string, ttlSeconds: number): Promise<string> {
    const path = this.blobName(pathOrUrl);
    if (!Number.isFinite(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LINK_TTL_SECONDS) {
      throw new BlobStoreError(
        'BLOB_LINK_FAILED',
        `link lifetime ${ttlSeconds} s for ${this.containerName}/${path} is outside 1..${MAX_LINK_TTL_SECONDS} s`,
        null,
        false,
      );
    }
    const now = this.now();
    const startsOn = new Date(now.getTime() - CLOCK_SKEW_MS);
    const expiresOn = new Date(now.getTime() + Math.round(ttlSeconds * 1000));
    const blob = this.container.getBlobClient(path);
    const sas = {
      permissions: BlobSASPermissions.parse('r'),
      startsOn,
      expiresOn,
      // Plain http only where the endpoint itself is http (Azurite); Azure is reached over https only.
      protocol: blob.url.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
    };
    try {
      if (this.signer.kind === 'account-key') return await blob.generateSasUrl(sas);
      const key = await this.userDelegationKey(this.signer.service, startsOn, expiresOn);
      return await blob.generateUserDelegationSasUrl(sas, key);
    } catch (e) {
      const f = describeFailure(e);
      throw new BlobStoreError(
        'BLOB_LINK_FAILED',
        `could not sign a read link for ${this.containerName}/${path}: ${f.detail}`,
        f.status,
        f.transient,
      );
    }
  }

  /** Read links to a report's three files (the URLs `writeReport` returned, or blob names), one lifetime for all. */
  async readLinks(
    files: { readonly json: string; readonly markdown: string; readonly html: string },
    ttlSeconds: number,
  ): Promise<{ json: string; markdown: string; html: string }> {
    const [json, markdown, html] = await Promise.all([
      this.readLink(files.json, ttlSeconds),
      this.readLink(files.markdown, ttlSeconds),
      this.readLink(files.html, ttlSeconds),
    ]);
    return { json, markdown, html };
  }

  /** One delegation key serves every link it covers; a new one is asked for when a link would outlive it. */
  private async userDelegationKey(
    service: BlobServiceClient,
    startsOn: Date,
    expiresOn: Date,
  ): Promise<UserDelegationKey> {
    const cached = this.delegationKey;
    if (
      cached !== null &&
      new Date(cached.signedStartsOn).getTime() <= startsOn.getTime() &&
      new Date(cached.signedExpiresOn).getTime() >= expiresOn.getTime()
    ) {
      return cached;
    }
    // At least six hours, so a burst of notifications shares one key; never past the service's 7-day limit.
    const now = this.now().getTime();
    const keyExpiry = new Date(
      Math.min(Math.max(expiresOn.getTime(), now + 6 * 3600_000), now + MAX_LINK_TTL_SECONDS * 1000),
    );
    const key = await service.getUserDelegationKey(startsOn, keyExpiry);
    this.delegationKey = key;
    return key;
  }

  /** A blob name from a name or from one of this container's blob URLs. */
  private blobName(pathOrUrl: string): string {
    const base = this.container.url.replace(/\/$/, '') + '/';
    if (!/^https?:\/\//i.test(pathOrUrl)) return pathOrUrl;
    const bare = pathOrUrl.split('?')[0] ?? pathOrUrl;
    if (!bare.startsWith(base)) {
      throw new BlobStoreError(
        'BLOB_LINK_FAILED',
        `a URL outside container ${this.containerName} was given`,
        null,
        false,
      );
    }
    try {
      return bare
        .slice(base.length)
        .split('/')
        .map((s) => decodeURIComponent(s))
        .join('/');
    } catch {
      throw new BlobStoreError(
        'BLOB_LINK_FAILED',
        `a malformed blob URL in ${this.containerName} was given`,
        null,
        false,
      );
    }
  }
}
