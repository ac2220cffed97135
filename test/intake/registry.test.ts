import { describe, expect, it } from 'vitest';
import { isLabelValue } from '../../lib/k8s/names.js';
import {
  bucketMsFor,
  candidateInstanceIds,
  decideFromInstances,
  instanceIdFor,
  investigationKey,
  MemoryRegistry,
} from '../../lib/intake/registry.js';
import type { InstanceView } from '../../lib/intake/registry.js';

const CLUSTER =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/AKS';
const MINUTE = 60_000;
const T0 = new Date('2026-01-01T12:00:00Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * MINUTE);

describe('investigationKey', () => {
  it('lower-cases the cluster and canonicalises the node', () => {
    expect(investigationKey(CLUSTER, { ip: '::ffff:10.224.0.5' })).toBe(`${CLUSTER.toLowerCase()}|10.224.0.5`);
    expect(investigationKey(CLUSTER.toUpperCase(), { ip: 'FD00:0:0::5' })).toBe(`${CLUSTER.toLowerCase()}|fd00::5`);
    expect(investigationKey(CLUSTER, { name: 'Aks-Nodepool1-0' })).toBe(`${CLUSTER.toLowerCase()}|aks-nodepool1-0`);
    expect(investigationKey(CLUSTER, { allNodes: true })).toBe(`${CLUSTER.toLowerCase()}|*`);
  });
});

describe('MemoryRegistry', () => {
  const key = investigationKey(CLUSTER, { ip: '10.224.0.5' });

  it('lets exactly one of 50 concurrent identical claims win', async () => {
    const registry = new MemoryRegistry({ cooldownMs: 30 * MINUTE });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => Promise.resolve().then(() => registry.claim(key, `id-${i}`, T0))),
    );
    const winners = results.filter((r) => r.claimed);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    expect(winner.claimed && winner.entry.id).toBe('id-0');
    for (const r of results.filter((x) => !x.claimed)) {
      expect(r).toMatchObject({ claimed: false, why: 'running', existing: { id: 'id-0', state: 'running' } });
    }
    expect(await registry.find(key)).toMatchObject({ id: 'id-0' });
  });

  it('returns a finished investigation inside the cooldown, and allows a new one after it', async () => {
    const registry = new MemoryRegistry({ cooldownMs: 30 * MINUTE });
    await registry.claim(key, 'first', at(0));
    await registry.finish(key, 'first', 'reported', at(2));
    expect(await registry.claim(key, 'second', at(31))).toMatchObject({
      claimed: false,
      why: 'cooldown',
      existing: { id: 'first', state: 'finished', outcome: 'reported', finishedAt: at(2) },
    });
    expect(await registry.claim(key, 'third', at(32))).toMatchObject({ claimed: true, entry: { id: 'third' } });
  });

  it('repeats at once with a zero cooldown, and keys are independent', async () => {
    const registry = new MemoryRegistry({ cooldownMs: 0 });
    await registry.claim(key, 'a', at(0));
    const other = investigationKey(CLUSTER, { ip: '10.224.0.6' });
    expect((await registry.claim(other, 'b', at(0))).claimed).toBe(true);
    await registry.finish(key, 'a', 'failed', at(1));
    expect((await registry.claim(key, 'c', at(1))).claimed).toBe(true);
  });

  it('ignores a finish from a stale claim', async () => {
    const registry = new MemoryRegistry({ cooldownMs: 0 });
    await registry.claim(key, 'old', at(0));
    await registry.finish(key, 'old', 'reported', at(1));
    await registry.claim(key, 'new', at(2));
    await registry.finish(key, 'old', 'failed', at(3));
    expect(await registry.find(key)).toMatchObject({ id: 'new', state: 'running' });
  });

  it('lists recent investigations newest first, bounded', async () => {
    const registry = new MemoryRegistry({ cooldownMs: 0 });
    for (const [i, node] of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].entries()) {
      await registry.claim(investigationKey(CLUSTER, { ip: node }), `inv-${i}`, at(i % 2 === 0 ? i : 10));
    }
    expect((await registry.recent(3)).map((e) => e.id)).toEqual(['inv-1', 'inv-3', 'inv-2']);
    expect(await registry.recent(0)).toEqual([]);
  });

  it('drops the oldest finished entries beyond its capacity, never a running one', async () => {
    const registry = new MemoryRegistry({ cooldownMs: 0, capacity: 2 });
    const k = (n: number) => investigationKey(CLUSTER, { ip: `10.0.0.${n}` });
    await registry.claim(k(1), 'one', at(0));
    await registry.claim(k(2), 'two', at(1));
    await registry.finish(k(2), 'two', 'reported', at(2));
    await registry.claim(k(3), 'three', at(3));
    expect((await registry.recent(10)).map((e) => e.id)).toEqual(['three', 'one']);
  });
});

describe('deterministic instance ids (Durable as the registry)', () => {
  const key = investigationKey(CLUSTER, { ip: '10.224.0.5' });
  const bucket = bucketMsFor(30 * MINUTE);

  it('are label values, equal inside a bucket, different across buckets and keys', () => {
    const id = instanceIdFor(key, at(0), bucket);
    expect(isLabelValue(id)).toBe(true);
    expect(id).toMatch(/^snat-[0-9a-f]{16}-[0-9a-z]+$/);
    expect(instanceIdFor(key, at(29), bucket)).toBe(id);
    expect(instanceIdFor(key, at(30), bucket)).not.toBe(id);
    expect(instanceIdFor(investigationKey(CLUSTER, { ip: '10.224.0.6' }), at(0), bucket)).not.toBe(id);
    expect(bucketMsFor(0)).toBe(MINUTE);
  });

  const view = (instanceId: string, runtimeStatus: string, created: Date, updated: Date): InstanceView => ({
    instanceId,
    runtimeStatus,
    createdTime: created,
    lastUpdatedTime: updated,
    output: { outcome: 'reported' },
  });

  it('starts this bucket id when neither candidate exists', () => {
    const ids = candidateInstanceIds(key, at(45), bucket);
    expect(decideFromInstances(key, ids, [null, null], at(45), 30 * MINUTE)).toEqual({ start: ids[0] });
  });

  it("reuses the previous bucket's running or recent instance", () => {
    const ids = candidateInstanceIds(key, at(31), bucket);
    const previous = view(ids[1], 'Running', at(28), at(30));
    expect(decideFromInstances(key, ids, [null, previous], at(31), 30 * MINUTE)).toMatchObject({
      why: 'running',
      reuse: { id: ids[1], state: 'running' },
    });
    const done = view(ids[1], 'Completed', at(28), at(29));
    expect(decideFromInstances(key, ids, [null, done], at(31), 30 * MINUTE)).toMatchObject({
      why: 'cooldown',
      reuse: { id: ids[1], outcome: 'reported' },
    });
    expect(decideFromInstances(key, ids, [null, done], at(59), 30 * MINUTE)).toEqual({ start: ids[0] });
  });

  it('never reuses an id whose instance no longer blocks (no overwritten history)', () => {
    const ids = candidateInstanceIds(key, at(0.5), bucketMsFor(0));
    const done = view(ids[0], 'Failed', at(0), at(0.2));
    const decision = decideFromInstances(key, ids, [done, null], at(0.5), 0);
    expect(decision).toEqual({ start: `${ids[0]}-${Math.floor(at(0.5).getTime() / 1000).toString(36)}` });
  });
});
