/**
 * Access to a cluster: a KubeConfig from a kubeconfig file (laptop, CLI) or from an API endpoint + CA + bearer token
 * (what Azure hands the responder: the AKS server URL and CA from the cluster, an Entra token from the managed
 * identity), and the bundle of API clients every lib/k8s function takes.
 *
 * Every request made through `KubeClients` carries a timeout (an AbortSignal set by a middleware, so a hung API
 * server surfaces as a transient `timeout` instead of a stuck investigation); retries live in `withRetry`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  ServerConfiguration,
  createConfiguration,
} from '@kubernetes/client-node';
import type { Cluster, Context, User } from '@kubernetes/client-node';
import { configError } from './errors.js';
import { DEFAULT_RETRY } from './retry.js';
import type { RetryPolicy } from './retry.js';

export { KubeConfig };

/** The API clients of one cluster, plus what exec and retries need. Passed to every lib/k8s function. */
export interface KubeClients {
  /** For `Exec` (pods/exec over WebSocket) and anything else that needs the raw config. */
  readonly kubeConfig: KubeConfig;
  /** The API server URL, for messages. */
  readonly server: string;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly batch: BatchV1Api;
  readonly retry: RetryPolicy;
  /** Per-request timeout of the REST clients (exec streams set their own). */
  readonly requestTimeoutMs: number;
}

export interface KubeClientOptions {
  readonly requestTimeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Builds the clients. The KubeConfig must have a current context with a cluster (checked here, with its name). */
export function makeKubeClients(kubeConfig: KubeConfig, options: KubeClientOptions = {}): KubeClients {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw configError(`kubeconfig context ${JSON.stringify(kubeConfig.getCurrentContext())} names no known cluster`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < 100 || requestTimeoutMs > 600_000) {
    throw configError(`request timeout must be 100..600000 ms, got ${requestTimeoutMs}`);
  }
  // Same as KubeConfig.makeApiClient, plus a middleware that bounds every request.
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [
      {
        pre: (context) => {
          context.setSignal(AbortSignal.timeout(requestTimeoutMs));
          return Promise.resolve(context);
        },
        post: (context) => Promise.resolve(context),
      },
    ],
  });
  return {
    kubeConfig,
    server: cluster.server,
    core: new CoreV1Api(configuration),
    apps: new AppsV1Api(configuration),
    batch: new BatchV1Api(configuration),
    retry: { ...DEFAULT_RETRY, ...options.retry },
    requestTimeoutMs,
  };
}

/** The kubeconfig files to read, kubectl's way: the explicit path, else every entry of KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPaths(path?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (path !== undefined && path.length > 0) return [path];
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p.length > 0);
  if (fromEnv.length > 0) return fromEnv;
  return [join(homedir(), '.kube', 'config')];
}

function loadOne(file: string): KubeConfig {
  if (!existsSync(file)) throw configError(`kubeconfig ${file}: no such file`);
  try {
    if (!statSync(file).isFile()) throw configError(`kubeconfig ${file}: not a file`);
    // Read here first, so an unreadable file is reported as such and not as a YAML problem.
    readFileSync(file);
  } catch (e) {
    if (e instanceof Error && e.name === 'KubeError') throw e;
    throw configError(`kubeconfig ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, e);
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw configError(`kubeconfig ${file}: not a valid kubeconfig (${message})`, e);
  }
  return kc;
}

/**
 * Loads a kubeconfig and selects a context. Several files (KUBECONFIG=a:b) merge as kubectl merges them: the first
 * file that defines a name wins, and the first current-context set wins. Errors name the file(s) and the context.
 */
export function kubeConfigFromFile(path?: string, context?: string, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const files = kubeconfigPaths(path, env);
  const where = files.length === 1 ? `kubeconfig ${files[0]}` : `kubeconfig ${files.join(delimiter)}`;
  const clusters = new Map<string, Cluster>();
  const users = new Map<string, User>();
  const contexts = new Map<string, Context>();
  let currentContext = '';
  for (const file of files) {
    const kc = loadOne(file);
    for (const c of kc.getClusters()) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of kc.getUsers()) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of kc.getContexts()) if (!contexts.has(c.name)) contexts.set(c.name, c);
    if (!currentContext && kc.getCurrentContext()) currentContext = kc.getCurrentContext();
  }
  const chosen = context !== undefined && context.length > 0 ? context : currentContext;
  if (!chosen) {
    throw configError(`${where}: no current-context is set; pass a context (known: ${namesOf(contexts)})`);
  }
  const ctx = contexts.get(chosen);
  if (!ctx) {
    throw configError(`${where}: no context named ${JSON.stringify(chosen)} (known: ${namesOf(contexts)})`);
  }
  const cluster = clusters.get(ctx.cluster);
  if (!cluster?.server) {
    throw configError(
      `${where}: context ${JSON.stringify(chosen)} names cluster ${JSON.stringify(ctx.cluster)}, which is not defined or has no server`,
    );
  }
  if (!users.has(ctx.user)) {
    throw configError(
      `${where}: context ${JSON.stringify(chosen)} names user ${JSON.stringify(ctx.user)}, which is not defined`,
    );
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext: chosen,
  });
  return kc;
}

function namesOf(map: ReadonlyMap<string, unknown>): string {
  const names = [...map.keys()].sort();
  if (names.length === 0) return 'none';
  return names.map((n) => JSON.stringify(n)).join(', ');
}

export interface TokenAccess {
  /** The API server URL, `https://<fqdn>:443` as the AKS resource reports it. */
  readonly server: string;
  /** The cluster CA, base64 of the PEM (kubeconfig `certificate-authority-data`), or the PEM itself. */
  readonly caData: string;
  /** A bearer token: for AAD-enabled AKS, an Entra token for scope `6dae42f8-4368-4678-94ff-3960e28e3630/.default`. */
  readonly token: string;
}

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

/** Normalises CA data to base64 of a PEM bundle, the shape KubeConfig's `caData` expects. */
function caDataOf(caData: string): string {
  const text = caData.trim();
  if (text.includes('-----BEGIN CERTIFICATE-----')) return Buffer.from(text + '\n').toString('base64');
  if (text.length > 0 && BASE64.test(text)) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    if (decoded.includes('-----BEGIN CERTIFICATE-----')) return text.replace(/\s+/g, '');
  }
  throw configError('cluster CA: not a PEM certificate, nor base64 of one');
}

/**
 * A KubeConfig from an endpoint, a CA and a bearer token. Only https is accepted: the token must never cross the
 * network in clear, and the CA is always verified (no skipTLSVerify on this path).
 */
export function kubeConfigFromToken(access: TokenAccess): KubeConfig {
  let url: URL;
  try {
    url = new URL(access.server);
  } catch {
    throw configError(`API server ${JSON.stringify(access.server)}: not a URL`);
  }
  if (url.protocol !== 'https:') {
    throw configError(`API server ${JSON.stringify(access.server)}: only https is accepted with a bearer token`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw configError(`API server ${JSON.stringify(url.origin)}: no credentials, query or fragment allowed in the URL`);
  }
  // A header value: no whitespace or control characters (a newline would inject a header).
  if (!/^[\x21-\x7e]{1,16384}$/.test(access.token)) {
    throw configError('bearer token: empty, too long, or holds whitespace or control characters');
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'aks',
        server: access.server.trim().replace(/\/+$/, ''),
        caData: caDataOf(access.caData),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'responder', token: access.token }],
    contexts: [{ name: 'responder@aks', cluster: 'aks', user: 'responder' }],
    currentContext: 'responder@aks',
  });
  return kc;
}
