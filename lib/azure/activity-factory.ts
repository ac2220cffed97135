/**
 * The Functions app's composition of an activity's context (lib/workflow/context.ts): from the investigation's
 * `scope` (which cluster, which investigation, when it started) and the app's settings, everything the activity
 * needs, against Azure.
 *
 *   scope.clusterId, else the cluster of scope.loadBalancerId (SNAT_LB_CLUSTER_MAP, else the clusters' node resource
 *   groups: lib/azure/cluster.ts)  -> SNAT_ALLOWED_CLUSTER_IDS enforced before anything touches the cluster
 *   -> kube clients from listClusterUserCredential + an Entra token (or the local account: SNAT_AKS_ACCESS), cached per
 *      cluster and rebuilt when the token is within 5 minutes of its expiry
 *   -> exec bounded by SNAT_CENSUS_CONCURRENCY per cluster (one p-limit shared by every census batch on this instance)
 *   -> evidence store: JSON blobs under `_evidence/` (blob-evidence.ts); report output: the report folder of
 *      blob-paths.ts for the cluster, the node and the start time; SNAT metrics: Azure Monitor (metrics.ts).
 *
 * An investigation that names no cluster, or one outside the allow-list, fails the activity with an
 * `ActivityHostError` (a configuration problem, not worth retrying) naming the activity. Messages carry resource ids
 * and statuses, never a token, a key, a connection string or a SAS.
 *
 * The same module builds the app's report store from the settings (`reportStoreOf`), which the status endpoint uses
 * for its read links (`reportLinksOf`).
 */
import type { TokenCredential } from '@azure/core-auth';
import { AddressClassifier } from '../analysis/ip.js';
import { clusterAllowed } from '../config/settings.js';
import type { Settings } from '../config/settings.js';
import { makeKubeClients } from '../k8s/access.js';
import type { KubeClientOptions, KubeClients } from '../k8s/access.js';
import type { CensusTool, MissingTools } from '../k8s/census.js';
import { boundedExec } from '../k8s/exec.js';
import type { ExecFn } from '../k8s/exec.js';
import type { RetryPolicy } from '../k8s/retry.js';
import { investigationSettingsOf } from '../serve/server.js';
import type { ActivityContextFactory, ActivityInvocation } from '../workflow/activity-host.js';
import type { ActivityContext, InvestigationSettings, SnatMetricsReader } from '../workflow/context.js';
import type { InvestigationScope } from '../workflow/contracts.js';
import { armSession } from './arm.js';
import type { ArmSession } from './arm.js';
import { BlobEvidenceStore } from './blob-evidence.js';
import { BlobReportStore } from './blob-store.js';
import type { BlobReportStoreOptions } from './blob-store.js';
import { clusterLookup } from './cluster.js';
import type { ClusterLookup } from './cluster.js';
import { kubeAccessForCluster } from './kube-access.js';
import { snatMetricsReader } from './metrics.js';
import { MANAGED_CLUSTER_TYPE, requireType } from './resource-id.js';

/** Kube clients are rebuilt when their Entra token has less than this left. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** Clients without an expiry (local account) are rebuilt after this long, to pick up rotated credentials. */
export const STATIC_ACCESS_MAX_AGE_MS = 60 * 60_000;
/** Investigations whose missing-tools memory is kept on one instance. */
const MISSING_TOOLS_KEPT = 64;

export type ActivityHostErrorCode = 'NO_CLUSTER' | 'CLUSTER_NOT_ALLOWED';

/** The investigation cannot run here as given: a configuration problem, the same on every retry. */
export class ActivityHostError extends Error {
  readonly transient = false;
  constructor(
    readonly code: ActivityHostErrorCode,
    readonly activity: string,
    message: string,
  ) {
    super(`activity ${activity}: ${message}`);
    this.name = 'ActivityHostError';
  }
}

export function isActivityHostError(e: unknown, code?: ActivityHostErrorCode): e is ActivityHostError {
  return e instanceof ActivityHostError && (code === undefined || e.code === code);
}

export interface AzureActivityFactoryDeps {
  readonly settings: Settings;
  /** ARM, the Entra token for AKS, and Blob Storage when SNAT_REPORT_STORAGE is an account URL. */
  readonly credential: TokenCredential;
  /** An extra CA (PEM) trusted for ARM: the loopback ARM sim's test certificate. */
  readonly caPem?: string;
  readonly now?: () => Date;
  /** Per-request timeout and retry policy of the kube clients. */
  readonly kubeClientOptions?: KubeClientOptions;
  /** Retry policy of the ARM calls (tests: no real sleeping). */
  readonly armRetry?: Partial<RetryPolicy>;
  /** Default: `reportStoreOf(settings, credential)`. */
  readonly reportStore?: BlobReportStore;
  /** The exec under the shared limit. Default: execInPod. */
  readonly exec?: ExecFn;
}

/** The report store of the settings: a connection string (account key), or an account URL with the credential. */
export function reportStoreOf(
  settings: Pick<Settings, 'reportStorage' | 'reportContainer'>,
  credential: TokenCredential,
  options: Omit<BlobReportStoreOptions, 'container'> = {},
): BlobReportStore {
  const storage = settings.reportStorage;
  const withContainer = { ...options, container: settings.reportContainer };
  return storage.kind === 'connectionString'
    ? BlobReportStore.fromConnectionString(storage.connectionString, withContainer)
    : BlobReportStore.fromAccountUrl(storage.url, credential, withContainer);
}

interface ClusterAccess {
  readonly clients: KubeClients;
  /** When these clients must be rebuilt (epoch ms). */
  readonly renewAt: number;
}

interface CachedAccess {
  readonly pending: Promise<ClusterAccess>;
  ready: ClusterAccess | null;
}

export interface AzureActivityFactory extends ActivityContextFactory {
  create(activity: string, invocation: ActivityInvocation, scope: InvestigationScope | null): Promise<ActivityContext>;
  /** The ARM session and the report store it uses (tests, and the status endpoint's read links). */
  readonly session: ArmSession;
  readonly reportStore: BlobReportStore;
}

export function azureActivityFactory(deps: AzureActivityFactoryDeps): AzureActivityFactory {
  const { settings } = deps;
  const now = deps.now ?? (() => new Date());
  const session = armSession({
    credential: deps.credential,
    ...(settings.armEndpoint !== null ? { endpoint: settings.armEndpoint } : {}),
    ...(deps.caPem !== undefined ? { caPem: deps.caPem } : {}),
    ...(deps.armRetry !== undefined ? { retry: deps.armRetry } : {}),
  });
  const lookup: ClusterLookup = clusterLookup({
    session,
    mapping: settings.loadBalancerClusters,
    now: () => now().getTime(),
  });
  const reportStore = deps.reportStore ?? reportStoreOf(settings, deps.credential);
  const investigationSettings: InvestigationSettings = investigationSettingsOf(settings);
  const classifier = new AddressClassifier({ privateCidrs: settings.privateCidrs });
  const inner = deps.exec;
  // Cleanup must run even when the orchestration was cancelled: nothing here ever aborts an activity.
  const never = new AbortController().signal;

  const access = new Map<string, CachedAccess>();
  const execs = new Map<string, ExecFn>();
  const missing = new Map<string, MissingTools>();

  const clusterOf = async (activity: string, scope: InvestigationScope): Promise<{ id: string; name: string }> => {
    if (scope.clusterId) {
      const id = requireType(scope.clusterId, MANAGED_CLUSTER_TYPE);
      return { id: id.id, name: id.name };
    }
    if (scope.loadBalancerId) {
      const ref = await lookup.clusterForLoadBalancer(scope.loadBalancerId);
      return { id: ref.id, name: ref.name };
    }
    throw noCluster(activity);
  };

  const accessFor = (clusterId: string): Promise<ClusterAccess> => {
    const key = clusterId.toLowerCase();
    const hit = access.get(key);
    if (hit && (hit.ready === null || now().getTime() < hit.ready.renewAt)) return hit.pending;
    const entry: CachedAccess = {
      pending: kubeAccessForCluster(clusterId, { session, mode: settings.aksAccess }).then((a) => {
        const ready: ClusterAccess = {
          clients: makeKubeClients(a.kubeConfig, deps.kubeClientOptions),
          renewAt:
            a.expiresOnTimestamp === null
              ? now().getTime() + STATIC_ACCESS_MAX_AGE_MS
              : a.expiresOnTimestamp - TOKEN_REFRESH_MARGIN_MS,
        };
        entry.ready = ready;
        return ready;
      }),
      ready: null,
    };
    // A failure is not kept: the next activity (or Durable's retry) asks again.
    entry.pending.catch(() => {
      if (access.get(key) === entry) access.delete(key);
    });
    access.set(key, entry);
    return entry.pending;
  };

  const execFor = (clusterId: string): ExecFn => {
    const key = clusterId.toLowerCase();
    let exec = execs.get(key);
    if (exec === undefined) {
      exec = boundedExec(settings.censusConcurrency, inner);
      execs.set(key, exec);
    }
    return exec;
  };

  const missingToolsOf = (investigationId: string): MissingTools => {
    let tools = missing.get(investigationId);
    if (tools === undefined) {
      tools = new Map<string, Set<CensusTool>>();
      if (missing.size >= MISSING_TOOLS_KEPT) missing.delete(missing.keys().next().value!);
    } else missing.delete(investigationId);
    missing.set(investigationId, tools);
    return tools;
  };

  const snatMetrics: SnatMetricsReader = snatMetricsReader(session);

  return {
    session,
    reportStore,
    async create(activity, _invocation, scope) {
      if (scope === null || (!scope.clusterId && !scope.loadBalancerId)) throw noCluster(activity);
      const cluster = await clusterOf(activity, scope);
      if (!clusterAllowed(settings, cluster.id)) {
        throw new ActivityHostError(
          'CLUSTER_NOT_ALLOWED',
          activity,
          `cluster ${cluster.id} is not in SNAT_ALLOWED_CLUSTER_IDS: the responder does not act on it`,
        );
      }
      const { clients } = await accessFor(cluster.id);
      const investigationId = scope.investigationId ?? 'unknown';
      return {
        clients,
        classifier,
        settings: investigationSettings,
        store: new BlobEvidenceStore(reportStore, {
          ...(scope.investigationId !== undefined ? { investigationId: scope.investigationId } : {}),
          ...(scope.startedAt !== undefined ? { startedAt: scope.startedAt } : {}),
          now,
        }),
        output: reportStore.output({
          cluster: cluster.name,
          node: scope.node ?? null,
          investigationId,
          generatedAt: scope.startedAt ?? now().toISOString(),
        }),
        signal: never,
        exec: execFor(cluster.id),
        missingTools: missingToolsOf(`${cluster.id.toLowerCase()} ${investigationId}`),
        cluster: { resourceId: cluster.id, name: cluster.name },
        snatMetrics,
      };
    },
  };
}

function noCluster(activity: string): ActivityHostError {
  return new ActivityHostError(
    'NO_CLUSTER',
    activity,
    'the investigation names no cluster (its input has no scope with a clusterId or a loadBalancerId), and the ' +
      'Functions app serves many: the intake must pass the cluster it was asked about',
  );
}

/** The report files a finished investigation names (`InvestigationResult` of outcome `reported`), else null. */
export function reportFilesOf(output: unknown): { json: string; markdown: string; html: string } | null {
  if (typeof output !== 'object' || output === null) return null;
  const result = output as { outcome?: unknown; report?: unknown };
  if (result.outcome !== 'reported' || typeof result.report !== 'object' || result.report === null) return null;
  const { json, markdown, html } = result.report as { json?: unknown; markdown?: unknown; html?: unknown };
  return typeof json === 'string' && typeof markdown === 'string' && typeof html === 'string'
    ? { json, markdown, html }
    : null;
}

/**
 * Read links (SAS) to a finished investigation's report, for the status endpoint; null when it has no report. `store`
 * is asked for only then. A store that cannot be built or a link that cannot be signed (a URL outside the container,
 * no user-delegation key) is logged and gives null: the status is worth answering without links. The links are
 * secrets: they go to the caller, never to `log`.
 */
export async function reportLinksOf(
  store: () => BlobReportStore,
  output: unknown,
  ttlSeconds: number,
  log: (message: string) => void = () => {},
): Promise<{ json: string; markdown: string; html: string } | null> {
  const files = reportFilesOf(output);
  if (files === null) return null;
  try {
    return await store().readLinks(files, ttlSeconds);
  } catch (e) {
    log(`report read links could not be signed: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

/**
 * Read links to each node's report of a finished cluster census (`investigateCluster`'s output), by node
 * investigation id; empty for anything else. Same rules as `reportLinksOf`: a link that cannot be signed is logged and
 * left out.
 */
export async function censusLinksOf(
  store: () => BlobReportStore,
  output: unknown,
  ttlSeconds: number,
  log: (message: string) => void = () => {},
): Promise<Record<string, { json: string; markdown: string; html: string }>> {
  const links: Record<string, { json: string; markdown: string; html: string }> = {};
  if (typeof output !== 'object' || output === null) return links;
  const result = output as { outcome?: unknown; nodes?: unknown };
  if (result.outcome !== 'census' || !Array.isArray(result.nodes)) return links;
  for (const node of result.nodes as unknown[]) {
    const id = (node as { investigationId?: unknown } | null)?.investigationId;
    if (typeof id !== 'string') continue;
    const found = await reportLinksOf(store, node, ttlSeconds, log);
    if (found !== null) links[id] = found;
  }
  return links;
}
