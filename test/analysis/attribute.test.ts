import { describe, expect, it } from 'vitest';
import { attributeSources } from '../../lib/analysis/attribute.js';
import { ownerOf } from '../../lib/analysis/evidence.js';
import { buildNetnsMap, netnsOfPod } from '../../lib/analysis/netns.js';
import type { LsnsEntry, SandboxInfo } from '../../lib/parse/types.js';
import { capture, evidence, pod, source } from './builders.js';

const lsnsEntry = (ns: number, pid: number, nsfs: string[] = [], command = '/pause'): LsnsEntry => ({
  ns,
  type: 'net',
  nprocs: 2,
  pid,
  user: '65535',
  command,
  nsfs,
});

const sandbox = (name: string, extra: Partial<SandboxInfo> = {}): SandboxInfo => ({
  id: `${name}-id`,
  name,
  namespace: 'shop',
  uid: `${name}-uid`,
  ip: null,
  hostNetwork: false,
  netnsPath: null,
  pid: null,
  ready: true,
  ...extra,
});

describe('attributeSources', () => {
  it('matches source addresses exactly: 10.224.0.5 is not 10.224.0.50', () => {
    const ev = evidence({
      pods: [pod('shop', 'a', { ips: ['10.224.0.5'] }), pod('shop', 'b', { ips: ['10.224.0.50'] })],
      capture: {
        status: 'complete',
        capture: capture(
          [source('10.224.0.50', null, 7), source('10.224.0.5', null, 3), source('10.224.0.55', null, 2)],
          10,
        ),
        durationSeconds: null,
        origin: 'tcptracer.log',
      },
    });
    const result = attributeSources(ev);
    expect(result.sources.map((s) => s.attribution)).toEqual([
      { kind: 'pod', namespace: 'shop', name: 'b', by: 'saddr' },
      { kind: 'pod', namespace: 'shop', name: 'a', by: 'saddr' },
      { kind: 'unattributed' },
    ]);
    expect(result.notes).toEqual([
      {
        source: 'attribution',
        text:
          'capture sources matching no pod IP, netns or the node IP (listed as unattributed): 10.224.0.55 netns -; ' +
          'pods that ended before the pod list was taken, or missing from it (pods.json, crictl inspectp, lsns)',
        count: 1,
      },
    ]);
  });

  it('matches an IPv6 pod address in any spelling', () => {
    const ev = evidence({
      pods: [pod('shop', 'v6', { ips: ['fd00:10:244::5'] })],
      capture: {
        status: 'complete',
        capture: capture([source('fd00:10:244:0:0:0:0:5', null, 1)], 1),
        durationSeconds: null,
        origin: null,
      },
    });
    expect(attributeSources(ev).sources[0]?.attribution).toEqual({
      kind: 'pod',
      namespace: 'shop',
      name: 'v6',
      by: 'saddr',
    });
  });

  it('prefers the netns inode over the address and notes the disagreement', () => {
    const ev = evidence({
      pods: [pod('shop', 'a', { ips: ['10.244.1.5'] }), pod('shop', 'b', { ips: ['10.244.1.6'] })],
      netns: [
        { netns: 4026532500, pid: 9000, command: '/pause', owner: { kind: 'pod', namespace: 'shop', name: 'b' } },
      ],
      capture: {
        status: 'complete',
        capture: capture([source('10.244.1.5', 4026532500, 4)], 2),
        durationSeconds: null,
        origin: null,
      },
    });
    const result = attributeSources(ev);
    expect(result.sources[0]?.attribution).toEqual({ kind: 'pod', namespace: 'shop', name: 'b', by: 'netns' });
    expect(result.notes).toEqual([
      {
        source: 'attribution',
        text: 'netns and source address disagree (netns used): 10.244.1.5 netns 4026532500: netns says shop/b, address says shop/a',
        count: 1,
      },
    ]);
  });

  it('maps loopback sources through the netns, and the node IP or host netns to the host', () => {
    const ev = evidence({
      pods: [
        pod('shop', 'a', { ips: ['10.244.1.5'], netns: 4026532600 }),
        pod('kube-system', 'kube-proxy-x', { hostNetwork: true, ips: ['10.224.0.4'] }),
      ],
      netns: [{ netns: 4026531840, pid: 1, command: '/sbin/init', owner: { kind: 'host' } }],
      capture: {
        status: 'complete',
        capture: capture(
          [source('127.0.0.1', 4026532600, 0), source('10.224.0.4', null, 5), source('10.224.0.4', 4026531840, 6)],
          2,
        ),
        durationSeconds: null,
        origin: null,
      },
    });
    expect(attributeSources(ev).sources.map((s) => s.attribution)).toEqual([
      { kind: 'pod', namespace: 'shop', name: 'a', by: 'netns' },
      { kind: 'host', by: 'node-ip' },
      { kind: 'host', by: 'netns' },
    ]);
  });

  it('resolves a pod IP claimed by two pods the same way whatever the pod order, and says so', () => {
    const pods = [pod('shop', 'z', { ips: ['10.244.1.9'] }), pod('shop', 'm', { ips: ['10.244.1.9'] })];
    const run = (list: typeof pods) =>
      attributeSources(
        evidence({
          pods: list,
          capture: {
            status: 'complete',
            capture: capture([source('10.244.1.9', null, 1)], 1),
            durationSeconds: null,
            origin: null,
          },
        }),
      );
    const forward = run(pods);
    expect(forward).toEqual(run([...pods].reverse()));
    expect(forward.sources[0]?.attribution).toEqual({ kind: 'pod', namespace: 'shop', name: 'm', by: 'saddr' });
    expect(forward.notes[0]?.text).toBe(
      'pod IPs held by several pods (the first by name was used): 10.244.1.9 (shop/m, shop/z)',
    );
  });

  it('returns nothing without a capture', () => {
    expect(attributeSources(evidence())).toEqual({ sources: [], notes: [] });
  });
});

describe('buildNetnsMap', () => {
  it('joins lsns and crictl by bind-mount path (/var/run = /run), by pause pid, and marks PID 1 as the host', () => {
    const map = buildNetnsMap(
      [
        lsnsEntry(4026531840, 1, [], '/sbin/init'),
        lsnsEntry(4026532700, 4100, ['/run/netns/cni-aaaa']),
        lsnsEntry(4026532800, 4200),
        lsnsEntry(4026532900, 4300),
        { ...lsnsEntry(4026532999, 4400), type: 'mnt' },
      ],
      [
        sandbox('api', { netnsPath: '/var/run/netns/cni-aaaa', pid: 999 }),
        sandbox('worker-old', { pid: 4200, ready: false, name: 'worker' }),
        sandbox('worker', { pid: 4200, id: 'zzz' }),
        sandbox('ingress', { pid: 4300, hostNetwork: true }),
      ],
    );
    expect(map).toEqual([
      { netns: 4026531840, pid: 1, command: '/sbin/init', owner: { kind: 'host' } },
      { netns: 4026532700, pid: 4100, command: '/pause', owner: { kind: 'pod', namespace: 'shop', name: 'api' } },
      { netns: 4026532800, pid: 4200, command: '/pause', owner: { kind: 'pod', namespace: 'shop', name: 'worker' } },
      { netns: 4026532900, pid: 4300, command: '/pause', owner: { kind: 'host' } },
    ]);
    expect(netnsOfPod(map, 'shop', 'api')).toBe(4026532700);
    expect(netnsOfPod(map, 'shop', 'nope')).toBeNull();
  });

  it('leaves a namespace nobody claims unknown', () => {
    expect(buildNetnsMap([lsnsEntry(4026533000, 5000)], [])).toEqual([
      { netns: 4026533000, pid: 5000, command: '/pause', owner: { kind: 'unknown' } },
    ]);
  });
});

describe('ownerOf', () => {
  it('names the Deployment behind a ReplicaSet with the pod-template-hash', () => {
    expect(
      ownerOf([{ kind: 'ReplicaSet', name: 'checkout-7d9f8c6b5d', controller: true }], {
        'pod-template-hash': '7d9f8c6b5d',
      }),
    ).toBe('Deployment/checkout');
  });
  it('keeps other controllers and a ReplicaSet without the hash as they are', () => {
    expect(ownerOf([{ kind: 'StatefulSet', name: 'db', controller: true }], {})).toBe('StatefulSet/db');
    expect(ownerOf([{ kind: 'ReplicaSet', name: 'legacy-rs' }], { 'pod-template-hash': 'abc' })).toBe(
      'ReplicaSet/legacy-rs',
    );
    expect(ownerOf(undefined, undefined)).toBeNull();
    expect(ownerOf([{ kind: 'Node' }], undefined)).toBeNull();
  });
});
