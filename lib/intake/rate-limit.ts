/**
 * Request rate limits of the HTTP front ends: a token bucket per route and caller, refilled continuously. An alert
 * storm or a runaway script gets 429 with `Retry-After` instead of work: the registry already makes repeated alerts
 * cheap (one investigation per cluster + node), this bounds the cost of parsing and answering them.
 *
 * In memory, per process: `serve` has one process; a Functions app has one bucket set per instance, so the limit there
 * is per instance (the platform's own scale-out and the registry bound the rest). Pure apart from the clock it is given.
 */
import { canonicalAddress } from '../analysis/ip.js';
import { errorResult } from './http.js';
import type { HttpResult } from './http.js';

export interface RateLimitPolicy {
  /** Requests per minute, sustained. 0 turns the limit off. */
  readonly perMinute: number;
  /** Requests allowed at once on top of an empty history (the bucket's size). Default: perMinute. */
  readonly burst?: number;
}

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets beyond this many are dropped oldest first (a flood of distinct callers must not grow memory). */
export const MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;
  private readonly burst: number;

  constructor(
    policy: RateLimitPolicy,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isFinite(policy.perMinute) || policy.perMinute < 0) {
      throw new RangeError(`rate limit: perMinute must be 0 or more, got ${policy.perMinute}`);
    }
    this.ratePerMs = policy.perMinute / 60_000;
    this.burst = Math.max(1, Math.floor(policy.burst ?? policy.perMinute));
  }

  get enabled(): boolean {
    return this.ratePerMs > 0;
  }

  /** Takes one request's token from `key`'s bucket, or says how long until one is there. */
  take(key: string): RateDecision {
    if (!this.enabled) return { ok: true };
    const t = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: t };
      if (this.buckets.size >= MAX_BUCKETS) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    } else {
      this.buckets.delete(key); // re-inserted below: the map's order is least recently used first
      bucket.tokens = Math.min(this.burst, bucket.tokens + Math.max(0, t - bucket.at) * this.ratePerMs);
      bucket.at = t;
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerMs / 1000)) };
  }

  /** Buckets held (tests). */
  get size(): number {
    return this.buckets.size;
  }
}

/** The 429 answer of a refused request. */
export function rateLimitedResult(decision: Extract<RateDecision, { ok: false }>, route: string): HttpResult {
  const result = errorResult(
    429,
    'rate-limited',
    `too many requests to ${route}; retry after ${decision.retryAfterSeconds} s`,
  );
  return { ...result, headers: { ...result.headers, 'retry-after': String(decision.retryAfterSeconds) } };
}

// ---------------------------------------------------------------------------------------------------------------
// The limits of the HTTP contract's routes (both front ends: the Functions handlers and `snat-responder serve`)
// ---------------------------------------------------------------------------------------------------------------

/** The routes of the HTTP contract, named as the Functions app registers them. */
export const ROUTES = {
  alerts: { path: 'POST /api/alerts', kind: 'write' },
  startInvestigation: { path: 'POST /api/investigations', kind: 'write' },
  getInvestigation: { path: 'GET /api/investigations/{id}', kind: 'read' },
  listInvestigations: { path: 'GET /api/investigations', kind: 'read' },
} as const satisfies Record<string, { readonly path: string; readonly kind: 'write' | 'read' }>;

export type RouteName = keyof typeof ROUTES;

/**
 * The GET routes get this many times SNAT_RATE_LIMIT_PER_MINUTE: status URLs are meant to be polled (the demo polls
 * four times a second), and a read parses no body and starts nothing. The routes that start work get the setting.
 */
export const READ_ROUTE_FACTOR = 10;

/**
 * One `RateLimiter` per route, its buckets keyed by caller: SNAT_RATE_LIMIT_PER_MINUTE for the routes that start work
 * (alerts, start), `READ_ROUTE_FACTOR` times as many for the reads; 0 turns them all off. Checked before a body is
 * read or a secret compared.
 */
export class RouteLimits {
  private readonly limiters: ReadonlyMap<RouteName, RateLimiter>;

  constructor(
    readonly perMinute: number,
    now: () => number = Date.now,
  ) {
    const limiters = new Map<RouteName, RateLimiter>();
    for (const [route, { kind }] of Object.entries(ROUTES) as Array<[RouteName, (typeof ROUTES)[RouteName]]>) {
      limiters.set(
        route,
        new RateLimiter({ perMinute: kind === 'read' ? perMinute * READ_ROUTE_FACTOR : perMinute }, now),
      );
    }
    this.limiters = limiters;
  }

  /** null when `caller` may go on with `route`; else the 429 answer (with `retry-after`). */
  check(route: RouteName, caller: string): HttpResult | null {
    const decision = this.limiters.get(route)?.take(caller) ?? { ok: true };
    return decision.ok ? null : rateLimitedResult(decision, ROUTES[route].path);
  }
}

/**
 * The caller of a Functions request: the first entry of `x-forwarded-for` (the platform's front end puts the client
 * there, sometimes with its port: `203.0.113.7:51234`, `[2001:db8::1]:443`), as a canonical address; anything else
 * is `unknown` (one shared bucket: a caller cannot get a fresh one by sending garbage).
 */
export function callerOf(forwardedFor: string | null | undefined): string {
  const first = (forwardedFor ?? '').split(',', 1)[0]?.trim() ?? '';
  if (first === '') return 'unknown';
  const direct = canonicalAddress(first);
  if (direct !== null) return direct;
  const withPort = /^(\[[^\]]+\]|[^:]+):\d{1,5}$/.exec(first);
  return (withPort?.[1] !== undefined ? canonicalAddress(withPort[1]) : null) ?? 'unknown';
}
