import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeConfigFromFile, kubeConfigFromToken, kubeconfigPaths, makeKubeClients } from '../../lib/k8s/access.js';
import { isKubeError } from '../../lib/k8s/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'snat-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PEM =
  '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGUgZm9yIHRlc3RzMAoGCCqGSM49BAMC\n-----END CERTIFICATE-----';
const PEM_B64 = Buffer.from(PEM + '\n').toString('base64');

function kubeconfig(
  name: string,
  body: { clusters?: string[]; contexts?: Array<[string, string, string]>; users?: string[]; current?: string },
): string {
  const path = join(dir, name);
  const yaml = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    ...(body.clusters ?? []).map(
      (c) =>
        `- name: ${c}\n  cluster:\n    server: https://${c}.hcp.westeurope.azmk8s.io:443\n    certificate-authority-data: ${PEM_B64}`,
    ),
    'users:',
    ...(body.users ?? []).map((u) => `- name: ${u}\n  user:\n    token: token-of-${u}`),
    'contexts:',
    ...(body.contexts ?? []).map(([n, c, u]) => `- name: ${n}\n  context:\n    cluster: ${c}\n    user: ${u}`),
    ...(body.current ? [`current-context: ${body.current}`] : []),
    '',
  ].join('\n');
  writeFileSync(path, yaml);
  return path;
}

function error(fn: () => unknown): Error & { reason?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { reason?: string };
  }
  throw new Error('did not throw');
}

describe('kubeConfigFromFile', () => {
  const a = kubeconfig('a.yaml', {
    clusters: ['aks-prod'],
    users: ['clusterUser_rg_aks-prod'],
    contexts: [['aks-prod', 'aks-prod', 'clusterUser_rg_aks-prod']],
    current: 'aks-prod',
  });
  const b = kubeconfig('b.yaml', {
    clusters: ['aks-dev', 'aks-prod'],
    users: ['dev'],
    contexts: [['aks-dev', 'aks-dev', 'dev']],
    current: 'aks-dev',
  });

  it('loads the current context', () => {
    const kc = kubeConfigFromFile(a);
    expect(kc.getCurrentContext()).toBe('aks-prod');
    expect(kc.getCurrentCluster()!.server).toBe('https://aks-prod.hcp.westeurope.azmk8s.io:443');
    expect(kc.getCurrentUser()!.token).toBe('token-of-clusterUser_rg_aks-prod');
  });

  it('selects another context; an unknown one is named, with the known ones', () => {
    const kc = kubeConfigFromFile(undefined, 'aks-dev', { KUBECONFIG: [a, b].join(delimiter) });
    expect(kc.getCurrentCluster()!.name).toBe('aks-dev');
    const e = error(() => kubeConfigFromFile(a, 'aks-staging'));
    expect(isKubeError(e, 'config')).toBe(true);
    expect(e.message).toBe(`kubeconfig ${a}: no context named "aks-staging" (known: "aks-prod")`);
  });

  it('merges KUBECONFIG files the kubectl way: the first definition and the first current-context win', () => {
    const kc = kubeConfigFromFile(undefined, undefined, { KUBECONFIG: [a, b].join(delimiter) });
    expect(kc.getCurrentContext()).toBe('aks-prod');
    expect(kc.getClusters().map((c) => c.name)).toEqual(['aks-prod', 'aks-dev']);
  });

  it('names a missing file, an unreadable one and a broken one', () => {
    expect(error(() => kubeConfigFromFile(join(dir, 'nope.yaml'))).message).toBe(
      `kubeconfig ${join(dir, 'nope.yaml')}: no such file`,
    );
    expect(error(() => kubeConfigFromFile(dir)).message).toBe(`kubeconfig ${dir}: not a file`);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'clusters: [\n');
    expect(error(() => kubeConfigFromFile(broken)).message).toMatch(
      new RegExp(`^kubeconfig ${broken}: not a valid kubeconfig`),
    );
    if (process.getuid?.() !== 0) {
      const locked = kubeconfig('locked.yaml', { clusters: ['x'] });
      chmodSync(locked, 0);
      expect(error(() => kubeConfigFromFile(locked)).message).toMatch(/cannot read it \(EACCES\)/);
    }
  });

  it('no current context, a context naming a missing cluster or user: named', () => {
    const none = kubeconfig('none.yaml', { clusters: ['c'], users: ['u'], contexts: [['x', 'c', 'u']] });
    expect(error(() => kubeConfigFromFile(none)).message).toBe(
      `kubeconfig ${none}: no current-context is set; pass a context (known: "x")`,
    );
    const dangling = kubeconfig('dangling.yaml', {
      clusters: ['c'],
      users: ['u'],
      contexts: [
        ['x', 'gone', 'u'],
        ['y', 'c', 'ghost'],
      ],
      current: 'x',
    });
    expect(error(() => kubeConfigFromFile(dangling)).message).toBe(
      `kubeconfig ${dangling}: context "x" names cluster "gone", which is not defined or has no server`,
    );
    expect(error(() => kubeConfigFromFile(dangling, 'y')).message).toBe(
      `kubeconfig ${dangling}: context "y" names user "ghost", which is not defined`,
    );
  });

  it('default paths: explicit, KUBECONFIG entries, ~/.kube/config', () => {
    expect(kubeconfigPaths('/x', { KUBECONFIG: '/y' })).toEqual(['/x']);
    expect(kubeconfigPaths(undefined, { KUBECONFIG: `/y${delimiter}${delimiter}/z` })).toEqual(['/y', '/z']);
    expect(kubeconfigPaths(undefined, {})[0]).toMatch(/\.kube[/\\]config$/);
  });

  it('the clients bundle carries the server and refuses a context without a cluster', () => {
    const clients = makeKubeClients(kubeConfigFromFile(a));
    expect(clients.server).toBe('https://aks-prod.hcp.westeurope.azmk8s.io:443');
    expect(clients.requestTimeoutMs).toBe(30_000);
    expect(typeof clients.core.listNode).toBe('function');
    expect(typeof clients.batch.createNamespacedJob).toBe('function');
    expect(typeof clients.apps.readNamespacedReplicaSet).toBe('function');
  });
});

describe('kubeConfigFromToken: endpoint + CA + Entra token', () => {
  const access = {
    server: 'https://aks-prod-dns-1a2b3c4d.hcp.westeurope.azmk8s.io:443',
    caData: PEM_B64,
    token: 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.e30.sig',
  };

  it('builds a verified-TLS config with a bearer token', () => {
    const kc = kubeConfigFromToken(access);
    expect(kc.getCurrentCluster()).toMatchObject({ server: access.server, caData: PEM_B64, skipTLSVerify: false });
    expect(kc.getCurrentUser()!.token).toBe(access.token);
  });

  it('accepts the CA as PEM too', () => {
    expect(kubeConfigFromToken({ ...access, caData: PEM }).getCurrentCluster()!.caData).toBe(PEM_B64);
  });

  it.each([
    [{ server: 'http://aks.example:443' }, 'only https is accepted with a bearer token'],
    [{ server: 'aks.example' }, 'not a URL'],
    [{ server: 'https://user:pw@aks.example' }, 'no credentials, query or fragment'],
    [{ caData: 'not a cert' }, 'cluster CA: not a PEM certificate, nor base64 of one'],
    [{ caData: Buffer.from('hello').toString('base64') }, 'cluster CA: not a PEM certificate'],
    [{ token: '' }, 'bearer token: empty'],
    [{ token: 'abc\r\nX-Injected: 1' }, 'bearer token: empty, too long, or holds whitespace or control characters'],
    [{ token: 'a b' }, 'bearer token'],
  ])('%j is refused: %s', (change, message) => {
    const e = error(() => kubeConfigFromToken({ ...access, ...change }));
    expect(isKubeError(e, 'config')).toBe(true);
    expect(e.message).toContain(message);
  });
});
