/**
 * Kube access from ARM: the real @azure/arm-containerservice client against the loopback ARM sim hands out the user
 * kubeconfig; the KubeConfig built from it lists the nodes of the Kubernetes sim (startSim, tls) through the real
 * @kubernetes/client-node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { armSession, isArmError } from '../../lib/azure/arm.js';
import { AKS_SERVER_SCOPE, kubeAccessForCluster } from '../../lib/azure/kube-access.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { startArmSim } from '../../sim/arm.js';
import type { ArmSimCluster, RunningArmSim } from '../../sim/arm.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { stubCredential } from '../fixtures/azure/arm/stub-credential.js';

const SUB = '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
const idOf = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`;
const noSleep = { sleep: () => Promise.resolve(), random: () => 0 };
const ENTRA_TOKEN = 'entra-token-for-aks';

describe('kubeAccessForCluster', () => {
  let kube: RunningSim;
  let arm: RunningArmSim;
  const base = { subscriptionId: SUB, location: 'westeurope' };
  const clusters: ArmSimCluster[] = [
    { ...base, resourceGroup: 'rg-shop-prod', name: 'aks-shop-prod', nodeResourceGroup: 'MC_a', aad: true },
    { ...base, resourceGroup: 'rg-local', name: 'aks-local', nodeResourceGroup: 'MC_b' },
  ];

  beforeAll(async () => {
    // The Kubernetes sim accepts exactly one bearer token: the Entra one for entra mode, the local one otherwise.
    kube = await startSim({ scenario: 'small', tls: true, token: ENTRA_TOKEN });
    arm = await startArmSim({
      clusters,
      metrics: {},
      kube: { url: kube.url, caPem: kube.caPem!, token: kube.token },
    });
  });
  afterAll(async () => {
    await arm.close();
    await kube.close();
  });

  const session = (credential = stubCredential({ [AKS_SERVER_SCOPE]: ENTRA_TOKEN })) =>
    armSession({ credential, endpoint: arm.url, caPem: arm.caPem, retry: noSleep });

  it('entra: server + CA from listClusterUserCredential, bearer token for the AKS scope, lists the sim nodes', async () => {
    arm.clearRequests();
    const credential = stubCredential({ [AKS_SERVER_SCOPE]: ENTRA_TOKEN });
    const access = await kubeAccessForCluster(idOf('rg-shop-prod', 'aks-shop-prod'), {
      session: session(credential),
      mode: 'entra',
    });
    expect(access.mode).toBe('entra');
    expect(access.server).toBe(kube.url);
    expect(access.expiresOnTimestamp).toBeGreaterThan(Date.now());
    expect(arm.requests().map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST /subscriptions/${SUB}/resourceGroups/rg-shop-prod/providers/Microsoft.ContainerService/managedClusters/aks-shop-prod/listClusterUserCredential?api-version=2026-04-01`,
    ]);
    expect(credential.scopes).toEqual(['https://management.azure.com/.default', AKS_SERVER_SCOPE]);
    const user = access.kubeConfig.getCurrentUser();
    expect(user?.token).toBe(ENTRA_TOKEN);
    expect(user?.exec).toBeUndefined();
    expect(access.kubeConfig.getCurrentCluster()?.skipTLSVerify).toBe(false);
    const nodes = await makeKubeClients(access.kubeConfig).core.listNode();
    expect(nodes.items.map((n) => n.metadata?.name).sort()).toEqual(kube.scenario.nodes.map((n) => n.name).sort());
  });

  it('entra: a credential with the wrong token for the AKS scope is refused by the API server (the token is used)', async () => {
    const access = await kubeAccessForCluster(idOf('rg-shop-prod', 'aks-shop-prod'), {
      session: session(stubCredential({}, 'someone-else')),
      mode: 'entra',
    });
    await expect(makeKubeClients(access.kubeConfig, { retry: { attempts: 1 } }).core.listNode()).rejects.toThrow(/401/);
  });

  it('entra: a credential that throws becomes an unauthorized ArmError naming the cluster and scope', async () => {
    const failing = {
      getToken: (scope: string | string[]) =>
        scope === AKS_SERVER_SCOPE || (Array.isArray(scope) && scope[0] === AKS_SERVER_SCOPE)
          ? Promise.reject(new Error('AADSTS500011: resource principal not found'))
          : Promise.resolve({ token: 'fake', expiresOnTimestamp: Date.now() + 3600e3 }),
    };
    const id = idOf('rg-shop-prod', 'aks-shop-prod');
    await expect(
      kubeAccessForCluster(id, { session: session(), credential: failing, mode: 'entra' }),
    ).rejects.toSatisfy(
      (e) => isArmError(e, 'unauthorized') && e.message.includes(id) && e.message.includes('AADSTS500011'),
    );
  });

  it('local-account: the kubeconfig is loaded into client-node as is and lists the sim nodes', async () => {
    const access = await kubeAccessForCluster(idOf('rg-local', 'aks-local'), {
      session: session(),
      mode: 'local-account',
    });
    expect(access).toMatchObject({ mode: 'local-account', server: kube.url, expiresOnTimestamp: null });
    expect(access.kubeConfig.getCurrentUser()?.name).toBe('clusterUser_rg-local_aks-local');
    const nodes = await makeKubeClients(access.kubeConfig).core.listNode();
    expect(nodes.items.length).toBe(kube.scenario.nodes.length);
  });

  it('local-account on an Entra cluster: the kubelogin exec user is refused, saying why and what to use', async () => {
    const id = idOf('rg-shop-prod', 'aks-shop-prod');
    await expect(kubeAccessForCluster(id, { session: session(), mode: 'local-account' })).rejects.toSatisfy(
      (e) =>
        isArmError(e, 'config') &&
        e.message.includes(id) &&
        e.message.includes('exec plugin (kubelogin)') &&
        e.message.includes('Azure Functions') &&
        e.message.includes('"entra"'),
    );
  });

  it('auto: managedClusters.get decides (aadProfile -> entra, none -> local-account)', async () => {
    arm.clearRequests();
    const entra = await kubeAccessForCluster(idOf('rg-shop-prod', 'aks-shop-prod'), {
      session: session(),
      mode: 'auto',
    });
    expect(entra.mode).toBe('entra');
    const local = await kubeAccessForCluster(idOf('rg-local', 'aks-local'), { session: session(), mode: 'auto' });
    expect(local.mode).toBe('local-account');
    expect(arm.requests().map((r) => `${r.method} ${r.path.split('/').slice(-2).join('/')}`)).toEqual([
      'GET managedClusters/aks-shop-prod',
      'POST aks-shop-prod/listClusterUserCredential',
      'GET managedClusters/aks-local',
      'POST aks-local/listClusterUserCredential',
    ]);
  });

  it('a cluster that does not exist: not-found with ARM code, after exactly one request', async () => {
    arm.clearRequests();
    const id = idOf('rg-shop-prod', 'aks-gone');
    await expect(kubeAccessForCluster(id, { session: session(), mode: 'entra' })).rejects.toSatisfy(
      (e) => isArmError(e, 'not-found') && e.armCode === 'ResourceNotFound' && e.message.includes(id),
    );
    expect(arm.requests()).toHaveLength(1);
  });

  it('refuses a cluster id that is not a managed cluster before any request', async () => {
    arm.clearRequests();
    await expect(
      kubeAccessForCluster(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/x`, {
        session: session(),
        mode: 'entra',
      }),
    ).rejects.toSatisfy((e) => isArmError(e, 'invalid') && e.message.includes('managedClusters'));
    expect(arm.requests()).toEqual([]);
  });
});
