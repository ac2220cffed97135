import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_BUCKETS, RateLimiter, rateLimitedResult } from '../../lib/intake/rate-limit.js';

function clock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RateLimiter (token bucket per key)', () => {
  it('allows the burst, refuses the next with a Retry-After, and refills at the sustained rate', () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 5 }, c.now);
    for (let i = 0; i < 5; i++) expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    c.advance(999);
    expect(limiter.take('a').ok).toBe(false);
    c.advance(1);
    expect(limiter.take('a')).toEqual({ ok: true });
    // Another caller has its own bucket.
    expect(limiter.take('b')).toEqual({ ok: true });
  });

  it('a slow rate gives a Retry-After of the time to the next token, rounded up', () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 2, burst: 1 }, c.now);
    expect(limiter.take('k').ok).toBe(true);
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 30 });
    c.advance(10_500);
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterSeconds: 20 });
  });

  it('perMinute 0 turns the limit off; a negative rate is refused', () => {
    const limiter = new RateLimiter({ perMinute: 0 });
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(limiter.take('x').ok).toBe(true);
    expect(limiter.size).toBe(0);
    expect(() => new RateLimiter({ perMinute: -1 })).toThrow(/perMinute/);
  });

  it('never holds more than MAX_BUCKETS buckets, dropping the least recently used', () => {
    const c = clock();
    const limiter = new RateLimiter({ perMinute: 60, burst: 1 }, c.now);
    expect(limiter.take('first').ok).toBe(true);
    for (let i = 0; i < MAX_BUCKETS + 50; i++) limiter.take(`caller-${i}`);
    expect(limiter.size).toBe(MAX_BUCKETS);
    // 'first' was dropped: it starts again with a full bucket.
    expect(limiter.take('first').ok).toBe(true);
  });

  it('over any schedule, a key never gets more than burst + rate x elapsed requests through', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 300 }),
        (perMinute, burst, gaps) => {
          const c = clock();
          const limiter = new RateLimiter({ perMinute, burst }, c.now);
          let allowed = 0;
          for (const gap of gaps) {
            c.advance(gap);
            if (limiter.take('k').ok) allowed += 1;
          }
          const elapsed = c.now();
          return allowed <= burst + Math.floor((elapsed * perMinute) / 60_000) + 1;
        },
      ),
    );
  });

  it('the 429 answer names the route and carries Retry-After', () => {
    const result = rateLimitedResult({ ok: false, retryAfterSeconds: 7 }, 'POST /api/alerts');
    expect(result.status).toBe(429);
    expect(result.headers['retry-after']).toBe('7');
    expect(result.body).toEqual({
      error: { code: 'rate-limited', message: 'too many requests to POST /api/alerts; retry after 7 s' },
    });
  });
});
