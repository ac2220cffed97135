/**
 * infra/k8s/rbac.yaml grants exactly what lib/k8s calls: every client call in lib/k8s is a row of API_CALLS, every
 * row is called somewhere, and the YAML (parsed with client-node's own YAML loader) holds exactly the required grants.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadAllYaml } from '@kubernetes/client-node';
import type { V1ClusterRole, V1ClusterRoleBinding, V1Namespace, V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CAPTURE_NAMESPACE_LABELS } from '../../lib/k8s/capture-lifecycle.js';
import { DEFAULT_CAPTURE_NAMESPACE } from '../../lib/k8s/capture-job.js';
import { API_CALLS, RBAC_CAPTURE_NAMESPACE, requiredGrants } from '../../lib/k8s/permissions.js';
import type { Grant } from '../../lib/k8s/permissions.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
type Doc = { kind?: string; metadata?: { name?: string; namespace?: string } };
const docs = loadAllYaml(read('infra/k8s/rbac.yaml')) as Doc[];
const of = <T>(kind: string): T[] => docs.filter((d) => d.kind === kind) as T[];

function grantsOf(rules: V1Role['rules'], scope: Grant['scope']): Grant[] {
  const grants: Grant[] = [];
  for (const rule of rules ?? []) {
    for (const apiGroup of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) {
          for (const resourceName of rule.resourceNames ?? [null])
            grants.push({ apiGroup, resource, verb, scope, resourceName });
        }
      }
    }
  }
  return grants;
}
const key = (g: Grant) => `${g.scope}|${g.apiGroup}|${g.resource}|${g.verb}|${g.resourceName ?? ''}`;

describe('infra/k8s/rbac.yaml', () => {
  it('holds one ClusterRole, one Role in the capture namespace, and a binding for each', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata?.name}`)).toEqual([
      'ClusterRole/snat-responder',
      'ClusterRoleBinding/snat-responder',
      'Role/snat-responder-capture',
      'RoleBinding/snat-responder-capture',
    ]);
    const role = of<V1Role>('Role')[0]!;
    const binding = of<V1RoleBinding>('RoleBinding')[0]!;
    expect(role.metadata!.namespace).toBe(RBAC_CAPTURE_NAMESPACE);
    expect(binding.metadata!.namespace).toBe(RBAC_CAPTURE_NAMESPACE);
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'snat-responder-capture',
    });
    const crb = of<V1ClusterRoleBinding>('ClusterRoleBinding')[0]!;
    expect(crb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'snat-responder' });
    // Both bind the same identity.
    expect(crb.subjects).toEqual(binding.subjects);
    expect(crb.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: '00000000-0000-0000-0000-000000000000' },
    ]);
  });

  it('grants exactly the required permissions: no more, no less', () => {
    const granted = [
      ...grantsOf(of<V1ClusterRole>('ClusterRole')[0]!.rules, 'cluster'),
      ...grantsOf(of<V1Role>('Role')[0]!.rules, 'capture-namespace'),
    ];
    expect(granted.map(key).sort()).toEqual(requiredGrants().map(key));
  });

  it('the required set, spelled out (a change here is a change to what the responder may do)', () => {
    expect(requiredGrants().map(key)).toEqual([
      'capture-namespace|batch|jobs|create|',
      'capture-namespace|batch|jobs|delete|',
      'capture-namespace|batch|jobs|get|',
      'capture-namespace|batch|jobs|list|',
      'capture-namespace||events|list|',
      'capture-namespace||pods/log|get|',
      'cluster|apps|replicasets|get|',
      'cluster||namespaces|get|snat-responder-capture',
      'cluster||nodes|get|',
      'cluster||nodes|list|',
      'cluster||pods/exec|create|',
      'cluster||pods/exec|get|',
      'cluster||pods|list|',
    ]);
  });

  it('grants no wildcard, no secrets, no write outside Jobs', () => {
    const granted = [
      ...grantsOf(of<V1ClusterRole>('ClusterRole')[0]!.rules, 'cluster'),
      ...grantsOf(of<V1Role>('Role')[0]!.rules, 'capture-namespace'),
    ];
    for (const grant of granted) {
      expect([grant.apiGroup, grant.resource, grant.verb]).not.toContain('*');
      expect(grant.resource).not.toBe('secrets');
    }
    for (const grant of granted) {
      if (['create', 'delete', 'update', 'patch'].includes(grant.verb)) {
        expect(['jobs', 'pods/exec']).toContain(grant.resource);
      }
    }
  });
});

describe('API_CALLS is what lib/k8s calls', () => {
  const sources = readdirSync(new URL('lib/k8s/', root))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: f, text: read(`lib/k8s/${f}`) }));
  const called = new Map<string, string[]>();
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/\bclients\.(?:core|apps|batch)\.(\w+)\(/g))
      called.set(m[1]!, [...(called.get(m[1]!) ?? []), file]);
    if (/\bnew Exec\(/.test(text)) called.set('Exec', [...(called.get('Exec') ?? []), file]);
  }

  it('every call in the source has a row', () => {
    const rows = new Set(API_CALLS.map((c) => c.method));
    const missing = [...called.keys()].filter((m) => !rows.has(m));
    expect(missing, `calls without a row in lib/k8s/permissions.ts: ${missing.join(', ')}`).toEqual([]);
  });

  it('every row is called somewhere', () => {
    const stale = API_CALLS.map((c) => c.method).filter((m) => !called.has(m));
    expect(stale).toEqual([]);
  });
});

describe('infra/k8s/namespace.yaml', () => {
  const [namespace] = loadAllYaml(read('infra/k8s/namespace.yaml')) as [V1Namespace];

  it('is the capture namespace, privileged only there, with the labels ensureCaptureNamespace creates', () => {
    expect(namespace.metadata!.name).toBe(DEFAULT_CAPTURE_NAMESPACE);
    expect(namespace.metadata!.name).toBe(RBAC_CAPTURE_NAMESPACE);
    expect(namespace.metadata!.labels).toEqual(CAPTURE_NAMESPACE_LABELS);
  });
});
