/**
 * "One live investigation per cluster + node": a small port, an in-memory implementation, and the pieces of the
 * production design on Durable Functions.
 *
 * Rule: a claim for a key wins unless an investigation of that key is running (it is returned and reused) or finished
 * less than the cooldown ago (it is returned, not repeated). Claims are atomic: the in-memory registry decides
 * synchronously, with no await between the read and the write, so concurrent claims for one key see one winner.
 *
 * Production (proposed, see `DurableInstances`): Durable's instance store is the registry. Instance ids are
 * deterministic, derived from the key and a time bucket as wide as the cooldown (`instanceIdFor`), so two alerts for
 * the same node in the same bucket name the same instance and `startNew` cannot start it twice; the claim reads
 * the current and the previous bucket's instances (`getStatus`) and decides with `decideFromInstances`.
 */
import { createHash } from 'node:crypto';
import { canonicalAddress } from '../analysis/ip.js';

/** What a registry key names: a node by IP or name, or every node (a NAT gateway census). */
export type NodeRef = { readonly ip: string } | { readonly name: string } | { readonly allNodes: true };

/** `<lower-cased cluster id>|<canonical node IP | lower-cased node name | *>`. */
export type InvestigationKey = string & { readonly __brand: 'InvestigationKey' };

export function investigationKey(clusterId: string, node: NodeRef): InvestigationKey {
  let nodePart: string;
  if ('ip' in node) nodePart = canonicalAddress(node.ip) ?? node.ip.trim().toLowerCase();
  else if ('name' in node) nodePart = node.name.trim().toLowerCase();
  else nodePart = '*';
  return `${clusterId.trim().toLowerCase()}|${nodePart}` as InvestigationKey;
}

/** How an investigation ended: one node's (`reported`, `target-not-found`), a cluster census's (`census`, `no-nodes`). */
export type Outcome = 'reported' | 'target-not-found' | 'census' | 'no-nodes' | 'failed';

const OUTCOMES: ReadonlySet<unknown> = new Set<Outcome>(['reported', 'target-not-found', 'census', 'no-nodes']);

export interface RegistryEntry {
  readonly key: InvestigationKey;
  readonly id: string;
  readonly startedAt: Date;
  readonly state: 'running' | 'finished';
  readonly finishedAt: Date | null;
  readonly outcome: Outcome | null;
}

export type ClaimResult =
  | { readonly claimed: true; readonly entry: RegistryEntry }
  | { readonly claimed: false; readonly why: 'running' | 'cooldown'; readonly existing: RegistryEntry };

export interface InvestigationRegistry {
  find(key: InvestigationKey): Promise<RegistryEntry | null>;
  claim(key: InvestigationKey, id: string, now: Date): Promise<ClaimResult>;
  /** Marks the claim `id` of `key` finished; a stale id (the key was claimed again since) is ignored. */
  finish(key: InvestigationKey, id: string, outcome: Outcome, now: Date): Promise<void>;
  /** The most recent first (by start time, then id), at most `limit`. */
  recent(limit: number): Promise<RegistryEntry[]>;
}

/** Whether `existing` blocks a new investigation of its key at `now`. */
export function blocking(existing: RegistryEntry, now: Date, cooldownMs: number): 'running' | 'cooldown' | null {
  if (existing.state === 'running') return 'running';
  const finished = existing.finishedAt?.getTime() ?? existing.startedAt.getTime();
  return now.getTime() - finished < cooldownMs ? 'cooldown' : null;
}

export interface MemoryRegistryOptions {
  readonly cooldownMs: number;
  /** Entries kept (latest per key); the oldest finished ones are dropped first. Default 1000. */
  readonly capacity?: number;
}

export class MemoryRegistry implements InvestigationRegistry {
  private readonly entries = new Map<InvestigationKey, RegistryEntry>();
  private readonly cooldownMs: number;
  private readonly capacity: number;

  constructor(options: MemoryRegistryOptions) {
    this.cooldownMs = Math.max(0, options.cooldownMs);
    this.capacity = Math.max(1, options.capacity ?? 1000);
  }

  find(key: InvestigationKey): Promise<RegistryEntry | null> {
    return Promise.resolve(this.entries.get(key) ?? null);
  }

  claim(key: InvestigationKey, id: string, now: Date): Promise<ClaimResult> {
    // Read and write in one synchronous step: that is what makes the claim atomic.
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      const why = blocking(existing, now, this.cooldownMs);
      if (why !== null) return Promise.resolve({ claimed: false, why, existing });
    }
    const entry: RegistryEntry = Object.freeze({
      key,
      id,
      startedAt: new Date(now.getTime()),
      state: 'running',
      finishedAt: null,
      outcome: null,
    });
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.evict();
    return Promise.resolve({ claimed: true, entry });
  }

  finish(key: InvestigationKey, id: string, outcome: Outcome, now: Date): Promise<void> {
    const existing = this.entries.get(key);
    if (existing?.id === id && existing.state === 'running') {
      this.entries.set(
        key,
        Object.freeze({ ...existing, state: 'finished', finishedAt: new Date(now.getTime()), outcome }),
      );
    }
    return Promise.resolve();
  }

  recent(limit: number): Promise<RegistryEntry[]> {
    const sorted = [...this.entries.values()].sort(byRecency);
    return Promise.resolve(sorted.slice(0, Math.max(0, Math.floor(limit))));
  }

  private evict(): void {
    if (this.entries.size <= this.capacity) return;
    const finished = [...this.entries.values()].filter((e) => e.state === 'finished').sort(byRecency);
    while (this.entries.size > this.capacity && finished.length > 0) {
      const oldest = finished.pop();
      if (oldest) this.entries.delete(oldest.key);
    }
  }
}

export function byRecency(a: RegistryEntry, b: RegistryEntry): number {
  return b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Deterministic instance ids and the Durable-backed registry (interface only; the adapter is Durable's engineer's).
// ---------------------------------------------------------------------------------------------------------------

/** Bucket width: the cooldown, at least a minute. */
export const bucketMsFor = (cooldownMs: number): number => Math.max(60_000, cooldownMs);

/**
 * `snat-<16 hex of sha256(key)>-<bucket in base 36>`: a Kubernetes label value (what InvestigationInput requires),
 * the same for every claim of one key inside one bucket.
 */
export function instanceIdFor(key: InvestigationKey, now: Date, bucketMs: number): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  const bucket = Math.floor(now.getTime() / bucketMs);
  return `snat-${hash}-${bucket.toString(36)}`;
}

/** The ids a claim must look at: this bucket's and the previous one's (a cooldown can straddle a boundary). */
export function candidateInstanceIds(key: InvestigationKey, now: Date, bucketMs: number): [string, string] {
  return [instanceIdFor(key, now, bucketMs), instanceIdFor(key, new Date(now.getTime() - bucketMs), bucketMs)];
}

/** What Durable's getStatus says about an instance, reduced to what the registry rule needs. */
export interface InstanceView {
  readonly instanceId: string;
  /** Durable's OrchestrationRuntimeStatus: Pending, Running, Completed, Failed, Terminated, ContinuedAsNew, Suspended. */
  readonly runtimeStatus: string;
  readonly createdTime: Date;
  readonly lastUpdatedTime: Date;
  readonly customStatus?: unknown;
  readonly output?: unknown;
  readonly input?: unknown;
}

/**
 * The port a Durable adapter implements (durable-functions' DurableClient offers each): `getStatus(id)` with
 * `showInput: false`, `startNew(orchestrator, { instanceId, input })`, and `getStatusBy` for the recent list.
 */
export interface DurableInstances {
  getStatus(instanceId: string): Promise<InstanceView | null>;
  /** Starts `orchestrator` (default `investigateSnat`: callers written before the census still start that). */
  startNew(instanceId: string, input: unknown, orchestrator?: string): Promise<void>;
  listSince(createdFrom: Date, limit: number): Promise<InstanceView[]>;
}

const RUNNING = new Set(['pending', 'running', 'continuedasnew', 'suspended']);

export function entryOfInstance(key: InvestigationKey, view: InstanceView): RegistryEntry {
  const status = view.runtimeStatus.toLowerCase();
  const running = RUNNING.has(status);
  return {
    key,
    id: view.instanceId,
    startedAt: view.createdTime,
    state: running ? 'running' : 'finished',
    finishedAt: running ? null : view.lastUpdatedTime,
    outcome: running ? null : status === 'completed' ? outcomeOf(view.output) : 'failed',
  };
}

function outcomeOf(output: unknown): Outcome {
  const o = (output as { outcome?: unknown } | null | undefined)?.outcome;
  return OUTCOMES.has(o) ? (o as Outcome) : 'failed';
}

/**
 * The claim decision over Durable's instances: `views` are getStatus results for `candidateInstanceIds` (null when
 * absent). Returns the instance to reuse, or the id to start. When this bucket's id is taken by an instance that no
 * longer blocks (cooldown shorter than the bucket), the new id carries a suffix so history is not overwritten.
 */
export function decideFromInstances(
  key: InvestigationKey,
  candidates: readonly [string, string],
  views: readonly [InstanceView | null, InstanceView | null],
  now: Date,
  cooldownMs: number,
): { readonly start: string } | { readonly reuse: RegistryEntry; readonly why: 'running' | 'cooldown' } {
  for (const view of views) {
    if (view === null) continue;
    const entry = entryOfInstance(key, view);
    const why = blocking(entry, now, cooldownMs);
    if (why !== null) return { reuse: entry, why };
  }
  const [current] = candidates;
  if (views[0] === null) return { start: current };
  return { start: `${current}-${Math.floor(now.getTime() / 1000).toString(36)}` };
}
