/**
 * The in-process driver (lib/workflow/driver.ts) on small generators: Durable's behaviour where it differs from plain
 * promises (Task.all([]), JSON round trips, error classes lost at the activity boundary), progress callbacks,
 * cancellation with cleanup.
 */
import { describe, expect, it } from 'vitest';
import type { Ops } from '../../orchestrations/investigate.js';
import {
  EMPTY_ALL_MESSAGE,
  localOps,
  runWorkflow,
  type ActivityEvent,
  type DriverOptions,
} from '../../lib/workflow/driver.js';

type Fn = (ctx: { signal: AbortSignal }, input: never) => Promise<unknown>;

const options = (activities: Record<string, Fn>, extra: Partial<DriverOptions<{ signal: AbortSignal }>> = {}) => ({
  activities,
  context: (_activity: string, signal: AbortSignal) => ({ signal }),
  sleep: () => Promise.resolve(),
  ...extra,
});

describe('Task.all([]) fails as in durable-functions', () => {
  it('localOps.all([]) throws the exact durable-functions text when built', () => {
    const ops = localOps(() => new Date(0));
    expect(() => ops.all([])).toThrow(
      new Error(
        'When constructing a CompoundTask (such as Task.all() or Task.any()), you must specify at least one Task.',
      ),
    );
    expect(EMPTY_ALL_MESSAGE).toBe(
      'When constructing a CompoundTask (such as Task.all() or Task.any()), you must specify at least one Task.',
    );
  });

  it('an unguarded empty fan-out fails the workflow run', async () => {
    function* unguarded<H>(_input: null, ops: Ops<H>): Generator<H, unknown, unknown> {
      return yield ops.all([]);
    }
    await expect(runWorkflow(unguarded, null, options({}))).rejects.toThrow(EMPTY_ALL_MESSAGE);
  });

  it('a non-empty fan-out runs every call and returns results in order', async () => {
    function* fan<H>(input: number[], ops: Ops<H>): Generator<H, number[], unknown> {
      return (yield ops.all(input.map((n) => ops.call('double', n)))) as number[];
    }
    const double = async (_ctx: unknown, n: number): Promise<number> => {
      await new Promise((r) => setTimeout(r, (5 - n) * 5));
      return n * 2;
    };
    expect(await runWorkflow(fan, [1, 2, 3], options({ double }))).toEqual([2, 4, 6]);
  });
});

describe('JSON round trips, as Durable history does', () => {
  function* one<H>(input: unknown, ops: Ops<H>): Generator<H, unknown, unknown> {
    return yield ops.call('act', input);
  }

  it.each([
    ['a Map', () => new Map([[1, 2]]), /output of activity act is not plain JSON at \$\.m: an instance of Map/],
    ['a Date', () => new Date(0), /output of activity act is not plain JSON at \$\.m: an instance of Date/],
    ['a function', () => () => 1, /at \$\.m: a function/],
    ['NaN', () => Number.NaN, /at \$\.m: the number NaN/],
    ['undefined in an array', () => [1, undefined], /at \$\.m\[1\]: undefined/],
  ])('catches %s in an output', async (_name, make, message) => {
    const act: Fn = () => Promise.resolve({ m: make() });
    await expect(runWorkflow(one, null, options({ act }))).rejects.toThrow(message);
  });

  it('catches a circular output and a non-serialisable input', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(runWorkflow(one, null, options({ act: () => Promise.resolve(circular) }))).rejects.toThrow(
      /at \$\.self: a circular reference/,
    );
    function* badInput<H>(_: null, ops: Ops<H>): Generator<H, unknown, unknown> {
      return yield ops.call('act', { when: new Date(0) });
    }
    await expect(runWorkflow(badInput, null, options({ act: () => Promise.resolve(1) }))).rejects.toThrow(
      /input of activity act is not plain JSON at \$\.when: an instance of Date/,
    );
  });

  it('hands the activity a copy, not the generator object; refuses payloads over the bound', async () => {
    const sent = { list: [1, 2] };
    let received: unknown;
    function* send<H>(_: null, ops: Ops<H>): Generator<H, unknown, unknown> {
      return yield ops.call('act', sent);
    }
    await runWorkflow(
      send,
      null,
      options({ act: (_c: unknown, input: unknown) => Promise.resolve((received = input)) }),
    );
    expect(received).toEqual(sent);
    expect(received).not.toBe(sent);
    const big: Fn = () => Promise.resolve('x'.repeat(100));
    await expect(runWorkflow(one, null, options({ act: big }, { maxPayloadBytes: 50 }))).rejects.toThrow(
      /102 bytes of JSON, over the 50-byte bound/,
    );
  });

  it('an activity error reaches the generator as a plain error with its message; the original is the cause', async () => {
    class Typed extends Error {}
    const original = new Typed('list nodes: HTTP 500');
    let seen: unknown;
    function* catching<H>(_: null, ops: Ops<H>): Generator<H, string, unknown> {
      try {
        yield ops.call('act');
        return 'no';
      } catch (e) {
        seen = e;
        return (e as Error).message;
      }
    }
    expect(await runWorkflow(catching, null, options({ act: () => Promise.reject(original) }))).toBe(
      'list nodes: HTTP 500',
    );
    expect(seen).not.toBeInstanceOf(Typed);
    expect((seen as Error).cause).toBe(original);
  });
});

describe('progress, clock and cancellation', () => {
  it('reports custom status and activity events; time comes from the injected clock; sleeps are injected', async () => {
    function* flow<H>(_: null, ops: Ops<H>): Generator<H, string, unknown> {
      ops.status?.({ phase: 'a' });
      yield ops.sleep(1234);
      yield ops.call('act', { n: 1 });
      ops.status?.({ phase: 'b' });
      return ops.now().toISOString();
    }
    const statuses: unknown[] = [];
    const events: ActivityEvent[] = [];
    const sleeps: number[] = [];
    const result = await runWorkflow(
      flow,
      null,
      options(
        { act: () => Promise.resolve({ ok: true }) },
        {
          now: () => new Date('2026-11-26T10:00:00Z'),
          sleep: (ms) => {
            sleeps.push(ms);
            return Promise.resolve();
          },
          onStatus: (s) => statuses.push(s),
          onActivity: (e) => events.push(e),
        },
      ),
    );
    expect(result).toBe('2026-11-26T10:00:00.000Z');
    expect(statuses).toEqual([{ phase: 'a' }, { phase: 'b' }]);
    expect(sleeps).toEqual([1234]);
    expect(events.map((e) => [e.type, e.activity])).toEqual([
      ['start', 'act'],
      ['end', 'act'],
    ]);
    expect(events[1]).toMatchObject({ output: { ok: true }, outputBytes: 11 });
  });

  it('abort ends a sleep at once; only cleanup activities still run, with a live signal; the run rejects', async () => {
    const calls: string[] = [];
    function* flow<H>(_: null, ops: Ops<H>): Generator<H, string, unknown> {
      try {
        yield ops.call('create');
        yield ops.sleep(60_000);
        return 'finished';
      } finally {
        try {
          yield ops.call('other');
        } catch {
          calls.push('other refused');
        }
        yield ops.call('cleanup');
      }
    }
    const controller = new AbortController();
    const started = Date.now();
    const run = runWorkflow(flow, null, {
      activities: {
        create: () => {
          calls.push('create');
          setTimeout(() => controller.abort(), 10);
          return Promise.resolve(null);
        },
        other: () => Promise.resolve(calls.push('other')),
        cleanup: (ctx: { signal: AbortSignal }) => Promise.resolve(calls.push(`cleanup aborted=${ctx.signal.aborted}`)),
      },
      context: (_a: string, signal: AbortSignal) => ({ signal }),
      cleanupActivities: ['cleanup'],
      signal: controller.signal,
    });
    await expect(run).rejects.toMatchObject({ name: 'WorkflowCancelledError' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toEqual(['create', 'other refused', 'cleanup aborted=false']);
  });

  it('waits for a running activity to settle before the generator moves on after an abort', async () => {
    const order: string[] = [];
    function* flow<H>(_: null, ops: Ops<H>): Generator<H, void, unknown> {
      try {
        yield ops.call('slow');
      } finally {
        yield ops.call('cleanup');
      }
    }
    const controller = new AbortController();
    const run = runWorkflow(flow, null, {
      activities: {
        slow: async () => {
          controller.abort();
          await new Promise((r) => setTimeout(r, 50));
          order.push('slow settled');
        },
        cleanup: () => Promise.resolve(order.push('cleanup')),
      },
      context: () => ({}),
      cleanupActivities: ['cleanup'],
      signal: controller.signal,
    });
    await expect(run).rejects.toMatchObject({ name: 'WorkflowCancelledError' });
    expect(order).toEqual(['slow settled', 'cleanup']);
  });
});
