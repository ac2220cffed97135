import { describe, expect, it } from 'vitest';
import { withPrivateCidrs } from '../../lib/analysis/classifier.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { mergePods, podsFromKubectl } from '../../lib/analysis/pods.js';
import type { SandboxInfo } from '../../lib/parse/types.js';

const item = (name: string, extra: Record<string, unknown> = {}, status: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, ...extra },
  spec: { nodeName: 'node-a' },
  status: { podIP: '10.224.0.21', podIPs: [{ ip: '10.224.0.21' }], ...status },
});

describe('podsFromKubectl', () => {
  it('reads IPs, owners and hostNetwork, and drops pods of other nodes', () => {
    const list = {
      kind: 'List',
      items: [
        item('api-7d9f8c6b5d-x2x4q', {
          labels: { 'pod-template-hash': '7d9f8c6b5d' },
          ownerReferences: [{ kind: 'ReplicaSet', name: 'api-7d9f8c6b5d', controller: true }],
        }),
        item('dual', {}, { podIP: '10.224.0.30', podIPs: [{ ip: '10.224.0.30' }, { ip: 'fd00:0:0:0::1e' }] }),
        { ...item('proxy'), spec: { nodeName: 'node-a', hostNetwork: true }, status: { podIP: '10.224.0.4' } },
        { ...item('elsewhere'), spec: { nodeName: 'node-b' } },
        item('odd', {}, { podIP: 'not-an-ip', podIPs: [] }),
      ],
    };
    const parsed = podsFromKubectl(list, 'node-a');
    expect(parsed).toEqual({
      ok: true,
      value: {
        pods: [
          {
            namespace: 'shop',
            name: 'api-7d9f8c6b5d-x2x4q',
            uid: 'uid-api-7d9f8c6b5d-x2x4q',
            ips: ['10.224.0.21'],
            hostNetwork: false,
            owner: 'Deployment/api',
            netns: null,
          },
          {
            namespace: 'shop',
            name: 'dual',
            uid: 'uid-dual',
            ips: ['10.224.0.30', 'fd00::1e'],
            hostNetwork: false,
            owner: null,
            netns: null,
          },
          { namespace: 'shop', name: 'proxy', uid: 'uid-proxy', ips: [], hostNetwork: true, owner: null, netns: null },
          { namespace: 'shop', name: 'odd', uid: 'uid-odd', ips: [], hostNetwork: false, owner: null, netns: null },
        ],
        otherNodes: 1,
        invalidIps: ['not-an-ip'],
      },
    });
    const all = podsFromKubectl(list, null);
    expect(all.ok ? all.value.pods.length : -1).toBe(5);
  });

  it('rejects other documents, naming the field', () => {
    expect(podsFromKubectl({ kind: 'List', items: [{ metadata: {} }] }, null)).toEqual({
      ok: false,
      problem: {
        code: 'not-kubectl-pods',
        message: 'not `kubectl get pods -o json` output: Invalid input: expected string, received undefined',
        field: 'items[0].metadata.name',
      },
    });
    expect(podsFromKubectl([], null)).toEqual({
      ok: false,
      problem: {
        code: 'not-kubectl-pods',
        message: 'not `kubectl get pods -o json` output: expected "kind": "List" or "Pod"',
        field: 'kind',
      },
    });
    const single = podsFromKubectl({ ...item('one'), spec: { hostNetwork: 'yes' } }, null);
    expect(single.ok ? null : single.problem.field).toBe('spec.hostNetwork');
    const pod = podsFromKubectl(item('one'), 'node-a');
    expect(pod.ok && pod.value.pods.map((p) => p.name)).toEqual(['one']);
  });
});

describe('mergePods', () => {
  const sandbox = (name: string, extra: Partial<SandboxInfo> = {}): SandboxInfo => ({
    id: `${name}-sandbox`,
    name,
    namespace: 'shop',
    uid: `uid-${name}`,
    ip: '10.224.0.40',
    hostNetwork: false,
    netnsPath: null,
    pid: null,
    ready: true,
    ...extra,
  });

  it('keeps kubectl metadata, fills gaps from ready sandboxes, and adds netns inodes', () => {
    const merged = mergePods(
      [
        { namespace: 'shop', name: 'b', uid: 'u-b', ips: [], hostNetwork: false, owner: 'StatefulSet/b', netns: null },
        {
          namespace: 'shop',
          name: 'a',
          uid: 'u-a',
          ips: ['10.224.0.21'],
          hostNetwork: false,
          owner: null,
          netns: null,
        },
      ],
      [
        sandbox('b', { ip: '10.224.0.99', ready: false }),
        sandbox('b', { ip: '10.224.0.22' }),
        sandbox('c', { ip: '::ffff:10.224.0.23' }),
        sandbox('a', { ip: '10.224.0.77' }),
      ],
      [{ netns: 4026532500, pid: 10, command: '/pause', owner: { kind: 'pod', namespace: 'shop', name: 'c' } }],
    );
    expect(merged).toEqual([
      { namespace: 'shop', name: 'a', uid: 'u-a', ips: ['10.224.0.21'], hostNetwork: false, owner: null, netns: null },
      {
        namespace: 'shop',
        name: 'b',
        uid: 'u-b',
        ips: ['10.224.0.22'],
        hostNetwork: false,
        owner: 'StatefulSet/b',
        netns: null,
      },
      {
        namespace: 'shop',
        name: 'c',
        uid: 'uid-c',
        ips: ['10.224.0.23'],
        hostNetwork: false,
        owner: null,
        netns: 4026532500,
      },
    ]);
  });
});

describe('withPrivateCidrs', () => {
  it('adds ranges on top of the base classifier without losing its own', () => {
    const base = new AddressClassifier({ privateCidrs: ['20.50.0.0/16'] });
    const layered = withPrivateCidrs(base, ['52.239.0.0/16']);
    expect(layered.categoryOf('20.50.60.70')).toBe('configured-private');
    expect(layered.categoryOf('52.239.170.100')).toBe('configured-private');
    expect(layered.categoryOf('10.0.0.1')).toBe('private');
    expect(layered.isPublic('13.107.42.14')).toBe(true);
    expect(withPrivateCidrs(base, [])).toBe(base);
  });
});
