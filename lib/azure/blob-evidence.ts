/**
 * The evidence store of the Functions app: the bulk evidence the investigation's activities pass each other by key
 * (pod snapshot, census batches, parsed capture, report) as JSON blobs in the reports container, because two
 * activities of one investigation may run on different instances.
 *
 * Blob name: `_evidence/<yyyy>/<mm>/<dd>/<investigationId>/<rest of the key>.json`. A key is
 * `<investigationId>/<name>[/<name>...]` (`inv-1/pods`, `inv-1/census/8`, `inv-1/report`): its first segment names
 * the investigation's folder and the rest names the blob in it, unchanged, so two keys never share a blob. The
 * `_evidence/` prefix is a contract with infra/modules/report-storage.bicep, whose lifecycle rule deletes it after 7
 * days: keep it exactly. Report folders start with a cluster name, which never starts with `_` (AKS names start with
 * a letter or digit), so the two never meet.
 *
 * The date comes from the investigation's start (the scope's `startedAt`, the same for every activity once the target
 * is resolved) or, without one, from the clock when the store is built; never from the time of each call, so that a
 * put and a get of one investigation find the same blob across midnight.
 *
 * Keys come from our own activities, and are still checked: one to eight segments of ASCII letters, digits, `.`, `_`
 * and `-`, none empty, none `.` or containing `..`, 256 characters at most. An unknown key is an `EvidenceStoreError`
 * saying `evidence store: no entry "<key>"` (MemoryEvidenceStore's words); any other failure keeps the Blob store's
 * error (`BlobStoreError`, `transient` for throttling, 5xx and network failures), whose message names the blob and the
 * status but never a key or a token.
 */
import type { EvidenceStore } from '../workflow/context.js';
import { utcDateSegments } from './blob-paths.js';
import { CONTENT_TYPES, isBlobStoreError } from './blob-store.js';
import type { BlobReportStore } from './blob-store.js';

/** The blob name prefix of all evidence (infra's lifecycle rule deletes it after 7 days). */
export const EVIDENCE_PREFIX = '_evidence/';

export const MAX_EVIDENCE_KEY_LENGTH = 256;
const MAX_KEY_SEGMENTS = 8;
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export type EvidenceStoreErrorCode = 'EVIDENCE_MISSING' | 'EVIDENCE_KEY_INVALID' | 'EVIDENCE_VALUE_INVALID';

export class EvidenceStoreError extends Error {
  /** Nothing here is worth retrying: a missing entry or a bad key stays so. */
  readonly transient = false;

  constructor(
    readonly code: EvidenceStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EvidenceStoreError';
  }
}

export function isEvidenceStoreError(e: unknown, code?: EvidenceStoreErrorCode): e is EvidenceStoreError {
  return e instanceof EvidenceStoreError && (code === undefined || e.code === code);
}

const quoted = (key: string): string => JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key);

/** The key's segments, or an error saying what is wrong with it. */
function checkKey(key: unknown, investigationId: string | undefined): string[] {
  const bad = (why: string): never => {
    throw new EvidenceStoreError(
      'EVIDENCE_KEY_INVALID',
      `evidence store: key ${typeof key === 'string' ? quoted(key) : String(typeof key)} ${why}`,
    );
  };
  if (typeof key !== 'string') return bad('is not a string');
  if (key.length === 0) return bad('is empty');
  if (key.length > MAX_EVIDENCE_KEY_LENGTH) return bad(`is over ${MAX_EVIDENCE_KEY_LENGTH} characters`);
  const segments = key.split('/');
  if (segments.length < 2) return bad('is not <investigationId>/<name>');
  if (segments.length > MAX_KEY_SEGMENTS) return bad(`has over ${MAX_KEY_SEGMENTS} segments`);
  for (const s of segments) {
    if (s.length === 0) return bad('has an empty segment');
    if (s.includes('..')) return bad('contains ".."');
    if (!SEGMENT.test(s)) return bad('may hold only ASCII letters, digits, ".", "_" and "-" between its "/"');
  }
  if (investigationId !== undefined && segments[0] !== investigationId) {
    return bad(`belongs to another investigation than ${quoted(investigationId)}`);
  }
  return segments;
}

export interface BlobEvidenceStoreOptions {
  /** The investigation the store serves: keys of any other are refused. Unset: any investigation's keys. */
  readonly investigationId?: string;
  /** The investigation's start (ISO 8601): its UTC date names the day folders. */
  readonly startedAt?: string;
  /** Without `startedAt`, read once at construction for the date. Default the system clock. */
  readonly now?: () => Date;
}

/** The blob name of a key under a date (`yyyy/mm/dd`), or an `EvidenceStoreError` for an unsafe key. */
export function evidenceBlobName(
  key: string,
  day: readonly [string, string, string],
  investigationId?: string,
): string {
  const [folder, ...rest] = checkKey(key, investigationId);
  return `${EVIDENCE_PREFIX}${day.join('/')}/${folder!}/${rest.join('/')}.json`;
}

export class BlobEvidenceStore implements EvidenceStore {
  private readonly day: readonly [string, string, string];
  private readonly investigationId: string | undefined;

  constructor(
    private readonly blob: BlobReportStore,
    options: BlobEvidenceStoreOptions = {},
  ) {
    this.day = utcDateSegments(options.startedAt ?? (options.now ?? (() => new Date()))().toISOString());
    this.investigationId = options.investigationId;
  }

  /** Where a key's value is (a blob name inside the reports container). */
  blobName(key: string): string {
    return evidenceBlobName(key, this.day, this.investigationId);
  }

  async put(key: string, value: unknown): Promise<void> {
    const name = this.blobName(key);
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new EvidenceStoreError(
        'EVIDENCE_VALUE_INVALID',
        `evidence store: the value of ${quoted(key)} is not JSON (${e instanceof Error ? e.message : String(e)})`,
        { cause: e },
      );
    }
    if (text === undefined) {
      throw new EvidenceStoreError('EVIDENCE_VALUE_INVALID', `evidence store: the value of ${quoted(key)} is not JSON`);
    }
    await this.blob.put(name, text, CONTENT_TYPES.json);
  }

  async get<T>(key: string): Promise<T> {
    const name = this.blobName(key);
    let text: string;
    try {
      text = await this.blob.read(name);
    } catch (e) {
      // 404: the blob or the whole container is not there. Anything else (429, 5xx, network) stays as it is:
      // a BlobStoreError that says whether it is worth retrying.
      if (isBlobStoreError(e) && e.status === 404) {
        throw new EvidenceStoreError('EVIDENCE_MISSING', `evidence store: no entry ${JSON.stringify(key)}`, {
          cause: e,
        });
      }
      throw e;
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new EvidenceStoreError(
        'EVIDENCE_VALUE_INVALID',
        `evidence store: the entry ${quoted(key)} (${this.blob.containerName}/${name}) is not JSON`,
        { cause: e },
      );
    }
  }
}
