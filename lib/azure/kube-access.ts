/**
 * Kubernetes access to an AKS cluster for an unattended responder (Functions, managed identity).
 *
 * Both modes start from `managedClusters.listClusterUserCredentials` (RBAC: "Azure Kubernetes Service Cluster User
 * Role", action `Microsoft.ContainerService/managedClusters/listClusterUserCredential/action`): it is the one ARM call
 * that hands out the API server URL *and* its CA, in the shape `az aks get-credentials` writes, for public and private
 * clusters alike (the server is the private FQDN when that is what the cluster serves). `managedClusters.get` reports
 * `fqdn` but no CA, so it would not be enough on its own.
 *
 * - `entra` (AAD-enabled clusters, the usual case): the user part of that kubeconfig is an `exec: kubelogin` plugin (or
 *   the retired `auth-provider: azure`), which cannot run in Functions. We keep its cluster part (server + CA) and
 *   replace the user with a bearer token from the injected TokenCredential for the AKS server application scope
 *   `6dae42f8-4368-4678-94ff-3960e28e3630/.default` -- what kubelogin itself does -- through lib/k8s kubeConfigFromToken.
 *   The token expires (`expiresOnTimestamp`): call again for a fresh one on long runs.
 * - `local-account`: the kubeconfig is used as is (a static token or client certificate). One whose user is an exec
 *   plugin or an auth-provider is refused with a clear error: it is an Entra cluster, use mode `entra`.
 */
import type { TokenCredential } from '@azure/core-auth';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigFromToken } from '../k8s/access.js';
import { ArmError, withArmRetry } from './arm.js';
import type { ArmSession } from './arm.js';
import { MANAGED_CLUSTER_TYPE, requireType } from './resource-id.js';

/** The Entra application of every AKS API server (AKS-managed AAD); a token for it authenticates to any AKS cluster. */
export const AKS_SERVER_SCOPE = '6dae42f8-4368-4678-94ff-3960e28e3630/.default';

export type KubeAccessMode = 'entra' | 'local-account';

/** `auto`: ask ARM (`managedClusters.get`): an `aadProfile` means entra, none means local-account. One more request. */
export type KubeAccessModeOption = KubeAccessMode | 'auto';

export interface KubeAccessOptions {
  readonly session: ArmSession;
  readonly mode: KubeAccessModeOption;
  /** For the Entra token (entra mode). Default: the session's ARM credential (the same managed identity). */
  readonly credential?: TokenCredential;
  readonly abortSignal?: AbortSignal;
}

export interface KubeAccess {
  readonly kubeConfig: KubeConfig;
  /** The API server URL, for messages. */
  readonly server: string;
  readonly mode: KubeAccessMode;
  /** When the bearer token stops working (entra), else null. */
  readonly expiresOnTimestamp: number | null;
}

function decodeKubeconfig(clusterId: string, value: Uint8Array | undefined): KubeConfig {
  if (value === undefined || value.length === 0) {
    throw new ArmError('unexpected', `cluster ${clusterId}: listClusterUserCredential returned no kubeconfig`);
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromString(Buffer.from(value).toString('utf8'));
  } catch (e) {
    const message = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    throw new ArmError('unexpected', `cluster ${clusterId}: the user kubeconfig is not valid YAML (${message})`, {
      cause: e,
    });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new ArmError('unexpected', `cluster ${clusterId}: the user kubeconfig has no current cluster with a server`);
  }
  if (!cluster.server.startsWith('https://')) {
    throw new ArmError('config', `cluster ${clusterId}: API server ${cluster.server} is not https`);
  }
  if (cluster.skipTLSVerify) {
    throw new ArmError('config', `cluster ${clusterId}: the user kubeconfig turns off TLS verification`);
  }
  return kc;
}

async function userKubeconfig(clusterId: string, options: KubeAccessOptions): Promise<KubeConfig> {
  const id = requireType(clusterId, MANAGED_CLUSTER_TYPE);
  const clients = options.session.clientsFor(id.subscriptionId);
  const result = await withArmRetry(
    `list user credentials of cluster ${id.id}`,
    () =>
      clients.containerService.managedClusters.listClusterUserCredentials(id.resourceGroup, id.name, {
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      }),
    clients.retry,
  );
  return decodeKubeconfig(id.id, result.kubeconfigs?.[0]?.value);
}

/** Which mode a cluster needs: entra when it has Entra ID integration (`aadProfile`), else local-account. */
export async function kubeAccessModeOf(clusterId: string, options: KubeAccessOptions): Promise<KubeAccessMode> {
  const id = requireType(clusterId, MANAGED_CLUSTER_TYPE);
  const clients = options.session.clientsFor(id.subscriptionId);
  const mc = await withArmRetry(
    `get managed cluster ${id.id}`,
    () =>
      clients.containerService.managedClusters.get(id.resourceGroup, id.name, {
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      }),
    clients.retry,
  );
  return mc.aadProfile ? 'entra' : 'local-account';
}

/** Kube access to the cluster (`/subscriptions/.../managedClusters/<name>`), in the given mode. */
export async function kubeAccessForCluster(clusterId: string, options: KubeAccessOptions): Promise<KubeAccess> {
  const mode = options.mode === 'auto' ? await kubeAccessModeOf(clusterId, options) : options.mode;
  const kc = await userKubeconfig(clusterId, options);
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser();
  if (mode === 'local-account') {
    if (!user) throw new ArmError('config', `cluster ${clusterId}: the user kubeconfig names no user`);
    if (user.exec || user.authProvider) {
      // client-node types `exec` and `authProvider` as any: read only the names, as strings.
      const exec = user.exec as { command?: unknown } | undefined;
      const provider = user.authProvider as { name?: unknown } | undefined;
      const what = exec ? `an exec plugin (${String(exec.command)})` : `the ${String(provider?.name)} auth-provider`;
      throw new ArmError(
        'config',
        `cluster ${clusterId}: its user kubeconfig authenticates with ${what}, which cannot run in Azure Functions; ` +
          `the cluster uses Entra ID: use kube access mode "entra"`,
      );
    }
    if (!user.token && !user.certData && !user.certFile) {
      throw new ArmError('config', `cluster ${clusterId}: the user kubeconfig holds neither a token nor a certificate`);
    }
    return { kubeConfig: kc, server: cluster.server, mode: 'local-account', expiresOnTimestamp: null };
  }

  if (!cluster.caData) {
    throw new ArmError('unexpected', `cluster ${clusterId}: the user kubeconfig carries no certificate-authority-data`);
  }
  const credential = options.credential ?? options.session.connection.credential;
  let token: { token: string; expiresOnTimestamp: number } | null;
  try {
    token = await credential.getToken(AKS_SERVER_SCOPE, {
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
  } catch (e) {
    throw new ArmError(
      'unauthorized',
      `cluster ${clusterId}: no Entra token for the AKS scope ${AKS_SERVER_SCOPE} (${e instanceof Error ? e.message : String(e)})`,
      { cause: e },
    );
  }
  if (!token?.token) {
    throw new ArmError(
      'unauthorized',
      `cluster ${clusterId}: the credential returned no token for ${AKS_SERVER_SCOPE}`,
    );
  }
  try {
    return {
      kubeConfig: kubeConfigFromToken({ server: cluster.server, caData: cluster.caData, token: token.token }),
      server: cluster.server,
      mode: 'entra',
      expiresOnTimestamp: token.expiresOnTimestamp,
    };
  } catch (e) {
    throw new ArmError('config', `cluster ${clusterId}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
