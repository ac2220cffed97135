import { describe, expect, it } from 'vitest';
import { callerOf, READ_ROUTE_FACTOR, ROUTES, RouteLimits } from '../../lib/intake/rate-limit.js';
import type { RouteName } from '../../lib/intake/rate-limit.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const drain = (limits: RouteLimits, route: RouteName, caller: string): number => {
  let n = 0;
  while (limits.check(route, caller) === null) n++;
  return n;
};

describe('RouteLimits: one limiter per route, buckets per caller', () => {
  it('the routes that start work get the setting; the reads ten times as much', () => {
    const c = clock();
    const limits = new RouteLimits(5, c.now);
    expect(drain(limits, 'alerts', 'a')).toBe(5);
    expect(drain(limits, 'startInvestigation', 'a')).toBe(5);
    expect(drain(limits, 'getInvestigation', 'a')).toBe(5 * READ_ROUTE_FACTOR);
    expect(drain(limits, 'listInvestigations', 'a')).toBe(5 * READ_ROUTE_FACTOR);
    // Another caller: full buckets.
    expect(drain(limits, 'alerts', 'b')).toBe(5);
    // A token back every 12 s.
    c.advance(12_000);
    expect(limits.check('alerts', 'a')).toBeNull();
    expect(limits.check('alerts', 'a')).not.toBeNull();
  });

  it('the refusal: 429, rate-limited, Retry-After in whole seconds, naming the route', () => {
    const limits = new RouteLimits(1, clock().now);
    expect(limits.check('startInvestigation', 'a')).toBeNull();
    const refused = limits.check('startInvestigation', 'a');
    expect(refused).toMatchObject({
      status: 429,
      headers: { 'retry-after': '60' },
      body: { error: { code: 'rate-limited' } },
    });
    expect(JSON.stringify(refused?.body)).toContain(ROUTES.startInvestigation.path);
  });

  it('0 turns every route off', () => {
    const limits = new RouteLimits(0, clock().now);
    for (const route of Object.keys(ROUTES) as RouteName[]) {
      for (let i = 0; i < 1000; i++) expect(limits.check(route, 'a')).toBeNull();
    }
  });
});

describe('callerOf (x-forwarded-for)', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['203.0.113.7:51234', '203.0.113.7'],
    [' 203.0.113.7:51234 , 10.0.0.4', '203.0.113.7'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['2001:DB8:0::1', '2001:db8::1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['', 'unknown'],
    [null, 'unknown'],
    [undefined, 'unknown'],
    ['not-an-address', 'unknown'],
    ['evil.example:80', 'unknown'],
    ['999.1.1.1', 'unknown'],
  ])('%j -> %s', (header, caller) => {
    expect(callerOf(header)).toBe(caller);
  });
});
