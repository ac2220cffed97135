/**
 * Every setting of the responder, read once from the environment (Function App settings, local.settings.json) into a
 * deep-frozen object. All problems are collected and reported together in one `SettingsError`, each naming the
 * setting and what is wrong; values of secret settings are never repeated in a message.
 *
 * An empty value counts as unset (local.settings.json and app settings often carry `""`). The catalogue below
 * (`SETTINGS`) is the single list of names: `local.settings.sample.json` and docs/SETTINGS.md are kept in sync with it
 * by test/config/sample-sync.test.ts.
 */
import { z } from 'zod';
import { invalidCidrs } from '../analysis/ip.js';
import { checkImage, DEFAULT_CAPTURE_IMAGE, DEFAULT_CAPTURE_NAMESPACE } from '../k8s/capture-job.js';
import { isDns1123Label, isDns1123Subdomain } from '../k8s/names.js';
import { SnatResponderError } from '../errors.js';
import { isAksClusterId, isLoadBalancerId, isNatGatewayId } from './resource-ids.js';

export interface SettingInfo {
  /** Holds a credential (or a URL embedding one): its value never appears in a message. */
  readonly secret: boolean;
  readonly required: boolean;
  readonly description: string;
  /**
   * Who uses it. Absent: the Functions app and `snat-responder serve` alike. `serve`: only serve; the Functions app
   * parses it like every setting but nothing there reads it, so local.settings.sample.json (the Functions host's file)
   * leaves it out and docs/SETTINGS.md marks it "serve only" (test/config/sample-sync.test.ts checks both).
   */
  readonly appliesTo?: 'serve';
}

/** The catalogue: every setting the responder reads. */
export const SETTINGS = {
  SNAT_TASK_HUB: {
    secret: false,
    required: true,
    description:
      'Durable Functions task hub name (host.json reads it): 3-45 letters and digits, starting with a letter.',
  },
  SNAT_CAPTURE_NAMESPACE: {
    secret: false,
    required: false,
    description: `Namespace of the privileged capture Jobs (DNS-1123 label). Default ${DEFAULT_CAPTURE_NAMESPACE}.`,
  },
  SNAT_CAPTURE_IMAGE: {
    secret: false,
    required: false,
    description: `Image of the capture Job (registry/path[:tag][@sha256:...]). Default ${DEFAULT_CAPTURE_IMAGE}.`,
  },
  SNAT_CAPTURE_PULL_SECRET: {
    secret: false,
    required: false,
    description: 'Name of a kubernetes.io/dockerconfigjson Secret in the capture namespace (optional).',
  },
  SNAT_CAPTURE_SECONDS_DEFAULT: {
    secret: false,
    required: false,
    description: 'Capture window when a request names none, 1..600 s, at most SNAT_CAPTURE_SECONDS_MAX. Default 30.',
  },
  SNAT_CAPTURE_SECONDS_MAX: {
    secret: false,
    required: false,
    description: 'Largest capture window a request may ask for, 1..600 s. Default 120.',
  },
  SNAT_CENSUS_CONCURRENCY: {
    secret: false,
    required: false,
    description: 'Pods whose sockets are read (exec) at the same time, 1..64. Default 8.',
  },
  SNAT_PRIVATE_CIDRS: {
    secret: false,
    required: false,
    description:
      'Comma-separated CIDRs that do not use SNAT (VNet, peerings, private endpoints), on top of the special ranges.',
  },
  SNAT_COOLDOWN_MINUTES: {
    secret: false,
    required: false,
    description:
      'A finished investigation of the same cluster + node inside this many minutes is returned, not repeated; 0..1440. Default 30.',
  },
  SNAT_MAX_NODES_PER_ALERT: {
    secret: false,
    required: false,
    description: 'Most nodes one alert may investigate (bounds the NAT gateway census), 1..100. Default 10.',
  },
  SNAT_MAX_CONCURRENT_INVESTIGATIONS: {
    secret: false,
    required: false,
    description: 'Node investigations running at the same time (privileged capture Jobs at once), 1..16. Default 4.',
  },
  SNAT_LB_CLUSTER_MAP: {
    secret: false,
    required: false,
    description:
      "JSON object: load balancer resource id -> AKS cluster resource id. Optional: unmapped load balancers are resolved through the clusters' node resource groups.",
  },
  SNAT_NATGW_CLUSTER_MAP: {
    secret: false,
    required: false,
    description:
      'JSON object: NAT gateway resource id -> AKS cluster resource id (or a list of them). A NAT gateway alert names no node; the nodes of these clusters are censused.',
  },
  SNAT_AKS_ACCESS: {
    secret: false,
    required: false,
    description: 'How the responder gets kube credentials: entra (Microsoft Entra ID) or local-account. Default entra.',
  },
  SNAT_ARM_ENDPOINT: {
    secret: false,
    required: false,
    description:
      'Azure Resource Manager endpoint override (https URL; sovereign clouds, tests). Default the public cloud.',
  },
  SNAT_REPORT_STORAGE: {
    secret: true,
    required: true,
    description:
      'Where reports are written: a Blob account URL (https://<account>.blob.core.windows.net, managed identity) or a connection string.',
  },
  SNAT_REPORT_CONTAINER: {
    secret: false,
    required: false,
    description: 'Blob container of the reports (3-63 lower-case letters, digits, hyphens). Default reports.',
  },
  SNAT_REPORT_LINK_TTL_MINUTES: {
    secret: false,
    required: false,
    description: 'Lifetime of the SAS links to a report, 1..10080 minutes (7 days). Default 1440.',
  },
  SNAT_TEAMS_WEBHOOK_URL: {
    secret: true,
    required: false,
    description: 'Teams Workflows / incoming webhook URL for the summary card (optional; the URL is a credential).',
  },
  SNAT_WEBHOOK_URL: {
    secret: true,
    required: false,
    description: 'Generic webhook receiving the signed summary (optional; requires SNAT_WEBHOOK_SECRET).',
  },
  SNAT_WEBHOOK_SECRET: {
    secret: true,
    required: false,
    description: 'HMAC-SHA256 key signing generic webhook bodies, at least 16 characters.',
  },
  SNAT_ALERT_SECRET: {
    secret: true,
    required: false,
    description:
      'Optional shared secret POST /api/alerts requires (header x-snat-alert-secret or query alertSecret), at least 16 characters; on top of the function key.',
  },
  SNAT_SERVE_KEY: {
    secret: true,
    required: false,
    appliesTo: 'serve',
    description:
      'serve only: the key every request to `snat-responder serve` must carry, as header x-functions-key or query parameter code (the function key convention), at least 16 characters. Unset: serve accepts any request (it listens on loopback only).',
  },
  SNAT_ALLOWED_CLUSTER_IDS: {
    secret: false,
    required: false,
    description:
      'Optional comma-separated AKS cluster resource ids the responder may investigate; unset means any cluster it can reach.',
  },
  SNAT_RATE_LIMIT_PER_MINUTE: {
    secret: false,
    required: false,
    description:
      'Requests per minute per caller and route on the POST routes (GET routes: ten times as many), 0..10000; 0 turns the limits off. Default 120.',
  },
} as const satisfies Record<string, SettingInfo>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

export type ReportStorage =
  | { readonly kind: 'accountUrl'; readonly url: string }
  | { readonly kind: 'connectionString'; readonly connectionString: string };

export interface Settings {
  readonly taskHub: string;
  readonly capture: {
    readonly namespace: string;
    readonly image: string;
    readonly pullSecret: string | null;
    readonly defaultSeconds: number;
    readonly maxSeconds: number;
  };
  readonly censusConcurrency: number;
  readonly privateCidrs: readonly string[];
  readonly cooldownMinutes: number;
  readonly maxNodesPerAlert: number;
  readonly maxConcurrentInvestigations: number;
  /** Keys lower-cased (ARM ids are case-insensitive; alerts send them lower-cased). */
  readonly loadBalancerClusters: Readonly<Record<string, string>>;
  readonly natGatewayClusters: Readonly<Record<string, readonly string[]>>;
  readonly aksAccess: 'entra' | 'local-account';
  readonly armEndpoint: string | null;
  readonly reportStorage: ReportStorage;
  readonly reportContainer: string;
  readonly reportLinkTtlMinutes: number;
  readonly teamsWebhookUrl: string | null;
  readonly webhook: { readonly url: string; readonly secret: string } | null;
  readonly alertSecret: string | null;
  /** `snat-responder serve` only: the key its routes require (SNAT_SERVE_KEY); null = none. */
  readonly serveKey: string | null;
  /** Lower-cased cluster ids; null = no allow-list. */
  readonly allowedClusterIds: readonly string[] | null;
  /** Requests per minute per caller and route on the routes that start work; 0 = no limit (lib/intake/rate-limit.ts). */
  readonly rateLimitPerMinute: number;
}

export interface SettingProblem {
  readonly setting: SettingName;
  readonly message: string;
}

export class SettingsError extends SnatResponderError {
  readonly problems: readonly SettingProblem[];
  constructor(problems: readonly SettingProblem[]) {
    const list = problems.map((p) => `  ${p.setting}: ${p.message}`).join('\n');
    super('ENVIRONMENT', `${problems.length} setting problem(s):\n${list}`);
    this.name = 'SettingsError';
    this.problems = Object.freeze([...problems]);
  }
}

export function isSettingsError(e: unknown): e is SettingsError {
  return e instanceof SettingsError;
}

// ---------------------------------------------------------------------------------------------------------------
// Field schemas: each a zod transform from `string | undefined` that adds its own issue (message without the value
// for secrets) and returns z.NEVER on failure.
// ---------------------------------------------------------------------------------------------------------------

type Ctx = z.RefinementCtx;
const raw = z.string().optional();
const show = (value: string): string => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);

function fail(ctx: Ctx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

function missing(name: SettingName, ctx: Ctx): never {
  return fail(ctx, `required, not set (${SETTINGS[name].description})`);
}

const integer = (min: number, max: number, fallback: number) =>
  raw.transform((v, ctx) => {
    if (v === undefined) return fallback;
    const n = /^\s*\d{1,9}\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      return fail(ctx, `expected a whole number from ${min} to ${max}, got ${show(v)}`);
    }
    return n;
  });

const commaList = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https, or http to a loopback host (local runs and tests). */
function checkUrl(v: string): string | null {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return 'not a URL';
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return null;
  return 'must be an https URL (http only to localhost)';
}

const url = (secret: boolean) =>
  raw.transform((v, ctx) => {
    if (v === undefined) return null;
    const problem = checkUrl(v);
    return problem === null ? v : fail(ctx, secret ? problem : `${problem}: ${show(v)}`);
  });

const TASK_HUB = /^[A-Za-z][A-Za-z0-9]{2,44}$/;
const CONTAINER = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

/** A JSON object of resource id -> cluster id(s), keys lower-cased; every bad entry named. */
function resourceMap(
  keyOk: (id: string) => boolean,
  keyWhat: string,
  allowLists: boolean,
): z.ZodType<Record<string, string[]>, string | undefined> {
  return raw.transform((v, ctx) => {
    if (v === undefined) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      return fail(ctx, `not valid JSON (expected {"<${keyWhat} id>": "<AKS cluster id>"})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return fail(ctx, `expected a JSON object {"<${keyWhat} id>": "<AKS cluster id>"}`);
    }
    const out = new Map<string, string[]>();
    let ok = true;
    for (const [key, value] of Object.entries(parsed)) {
      if (!keyOk(key)) {
        ok = false;
        ctx.addIssue({ code: 'custom', message: `key ${show(key)} is not a ${keyWhat} resource id` });
      }
      const values = allowLists && Array.isArray(value) ? (value as unknown[]) : [value];
      if (values.length === 0 || !values.every((c) => typeof c === 'string' && isAksClusterId(c))) {
        ok = false;
        ctx.addIssue({
          code: 'custom',
          message: `value of ${show(key)} is not an AKS cluster resource id${allowLists ? ' (or a non-empty list of them)' : ''}`,
        });
        continue;
      }
      out.set(key.toLowerCase(), values as string[]);
    }
    return ok ? Object.fromEntries(out) : z.NEVER;
  });
}

const FIELDS = {
  SNAT_TASK_HUB: raw.transform((v, ctx) => {
    if (v === undefined) return missing('SNAT_TASK_HUB', ctx);
    return TASK_HUB.test(v) ? v : fail(ctx, `expected 3-45 letters and digits starting with a letter, got ${show(v)}`);
  }),
  SNAT_CAPTURE_NAMESPACE: raw.transform((v, ctx) => {
    const s = v ?? DEFAULT_CAPTURE_NAMESPACE;
    return isDns1123Label(s) ? s : fail(ctx, `not a Kubernetes namespace name (DNS-1123 label): ${show(s)}`);
  }),
  SNAT_CAPTURE_IMAGE: raw.transform((v, ctx) => {
    const s = v ?? DEFAULT_CAPTURE_IMAGE;
    try {
      return checkImage(s);
    } catch {
      return fail(ctx, `not an image reference (registry/path[:tag][@sha256:...]): ${show(s)}`);
    }
  }),
  SNAT_CAPTURE_PULL_SECRET: raw.transform((v, ctx) => {
    if (v === undefined) return null;
    return isDns1123Subdomain(v) ? v : fail(ctx, `not a Kubernetes Secret name (DNS-1123 subdomain): ${show(v)}`);
  }),
  SNAT_CAPTURE_SECONDS_DEFAULT: integer(1, 600, 30),
  SNAT_CAPTURE_SECONDS_MAX: integer(1, 600, 120),
  SNAT_CENSUS_CONCURRENCY: integer(1, 64, 8),
  SNAT_PRIVATE_CIDRS: raw.transform((v, ctx) => {
    const cidrs = commaList(v);
    const bad = invalidCidrs(cidrs);
    return bad.length === 0 ? cidrs : fail(ctx, `not CIDRs: ${bad.map(show).join(', ')}`);
  }),
  SNAT_COOLDOWN_MINUTES: integer(0, 1440, 30),
  SNAT_MAX_NODES_PER_ALERT: integer(1, 100, 10),
  SNAT_MAX_CONCURRENT_INVESTIGATIONS: integer(1, 16, 4),
  SNAT_LB_CLUSTER_MAP: resourceMap(isLoadBalancerId, 'load balancer', false),
  SNAT_NATGW_CLUSTER_MAP: resourceMap(isNatGatewayId, 'NAT gateway', true),
  SNAT_AKS_ACCESS: raw.transform((v, ctx) => {
    const s = v ?? 'entra';
    return s === 'entra' || s === 'local-account' ? s : fail(ctx, `expected entra or local-account, got ${show(s)}`);
  }),
  SNAT_ARM_ENDPOINT: url(false),
  SNAT_REPORT_STORAGE: raw.transform((v, ctx): ReportStorage => {
    if (v === undefined) return missing('SNAT_REPORT_STORAGE', ctx);
    const s = v;
    if (/^https?:\/\//i.test(s)) {
      const problem = checkUrl(s);
      return problem === null ? { kind: 'accountUrl', url: s.replace(/\/+$/, '') } : fail(ctx, problem);
    }
    if (/^UseDevelopmentStorage=true$/i.test(s) || /(^|;)\s*(AccountName|BlobEndpoint)=/i.test(s)) {
      return { kind: 'connectionString', connectionString: s };
    }
    return fail(ctx, 'expected a Blob account URL (https://...) or a storage connection string (AccountName=...)');
  }),
  SNAT_REPORT_CONTAINER: raw.transform((v, ctx) => {
    const s = v ?? 'reports';
    return CONTAINER.test(s)
      ? s
      : fail(ctx, `not a Blob container name (3-63 lower-case letters, digits, single hyphens): ${show(s)}`);
  }),
  SNAT_REPORT_LINK_TTL_MINUTES: integer(1, 10080, 1440),
  SNAT_TEAMS_WEBHOOK_URL: url(true),
  SNAT_WEBHOOK_URL: url(true),
  SNAT_WEBHOOK_SECRET: raw.transform((v, ctx) => {
    if (v === undefined) return null;
    return v.length >= 16 ? v : fail(ctx, `too short: at least 16 characters (value not shown)`);
  }),
  SNAT_ALERT_SECRET: raw.transform((v, ctx) => {
    if (v === undefined) return null;
    return v.length >= 16 ? v : fail(ctx, `too short: at least 16 characters (value not shown)`);
  }),
  SNAT_SERVE_KEY: raw.transform((v, ctx) => {
    if (v === undefined) return null;
    return v.length >= 16 ? v : fail(ctx, `too short: at least 16 characters (value not shown)`);
  }),
  SNAT_ALLOWED_CLUSTER_IDS: raw.transform((v, ctx) => {
    if (v === undefined) return null;
    const ids = commaList(v);
    const bad = ids.filter((id) => !isAksClusterId(id));
    if (ids.length === 0) return fail(ctx, 'set but lists no cluster id (unset it to allow any cluster)');
    if (bad.length > 0) return fail(ctx, `not AKS cluster resource ids: ${bad.map(show).join(', ')}`);
    return [...new Set(ids.map((id) => id.toLowerCase()))];
  }),
  SNAT_RATE_LIMIT_PER_MINUTE: integer(0, 10_000, 120),
} satisfies Record<SettingName, z.ZodType<unknown, string | undefined>>;

type Parsed = { [K in SettingName]: z.output<(typeof FIELDS)[K]> };

/** Rules between settings, checked on the fields that parsed, so they are reported with the field problems. */
function crossProblems(s: Partial<Parsed>): SettingProblem[] {
  const problems: SettingProblem[] = [];
  const { SNAT_CAPTURE_SECONDS_DEFAULT: def, SNAT_CAPTURE_SECONDS_MAX: max } = s;
  if (def !== undefined && max !== undefined && def > max) {
    problems.push({
      setting: 'SNAT_CAPTURE_SECONDS_DEFAULT',
      message: `${def} is over SNAT_CAPTURE_SECONDS_MAX (${max})`,
    });
  }
  if (s.SNAT_WEBHOOK_URL && s.SNAT_WEBHOOK_SECRET === null) {
    problems.push({ setting: 'SNAT_WEBHOOK_SECRET', message: 'required when SNAT_WEBHOOK_URL is set' });
  }
  if (s.SNAT_WEBHOOK_SECRET && s.SNAT_WEBHOOK_URL === null) {
    problems.push({ setting: 'SNAT_WEBHOOK_URL', message: 'required when SNAT_WEBHOOK_SECRET is set' });
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Reads every setting from `env` (default `process.env`). Throws one `SettingsError` listing every problem. Only the
 * SNAT_ settings of the catalogue are read; anything else in `env` is ignored.
 */
export function loadSettings(env: Readonly<Record<string, string | undefined>> = process.env): Settings {
  const values: Partial<Record<SettingName, unknown>> = {};
  const problems: SettingProblem[] = [];
  for (const name of SETTING_NAMES) {
    const value = env[name];
    const result = FIELDS[name].safeParse(value === undefined || value.trim() === '' ? undefined : value.trim());
    if (result.success) values[name] = result.data;
    else for (const issue of result.error.issues) problems.push({ setting: name, message: issue.message });
  }
  problems.push(...crossProblems(values as Partial<Parsed>));
  if (problems.length > 0) throw new SettingsError(problems);
  const s = values as Parsed;
  const settings: Settings = {
    taskHub: s.SNAT_TASK_HUB,
    capture: {
      namespace: s.SNAT_CAPTURE_NAMESPACE,
      image: s.SNAT_CAPTURE_IMAGE,
      pullSecret: s.SNAT_CAPTURE_PULL_SECRET,
      defaultSeconds: s.SNAT_CAPTURE_SECONDS_DEFAULT,
      maxSeconds: s.SNAT_CAPTURE_SECONDS_MAX,
    },
    censusConcurrency: s.SNAT_CENSUS_CONCURRENCY,
    privateCidrs: s.SNAT_PRIVATE_CIDRS,
    cooldownMinutes: s.SNAT_COOLDOWN_MINUTES,
    maxNodesPerAlert: s.SNAT_MAX_NODES_PER_ALERT,
    maxConcurrentInvestigations: s.SNAT_MAX_CONCURRENT_INVESTIGATIONS,
    loadBalancerClusters: Object.fromEntries(
      Object.entries(s.SNAT_LB_CLUSTER_MAP).map(([lb, clusters]) => [lb, clusters[0] ?? '']),
    ),
    natGatewayClusters: s.SNAT_NATGW_CLUSTER_MAP,
    aksAccess: s.SNAT_AKS_ACCESS,
    armEndpoint: s.SNAT_ARM_ENDPOINT,
    reportStorage: s.SNAT_REPORT_STORAGE,
    reportContainer: s.SNAT_REPORT_CONTAINER,
    reportLinkTtlMinutes: s.SNAT_REPORT_LINK_TTL_MINUTES,
    teamsWebhookUrl: s.SNAT_TEAMS_WEBHOOK_URL,
    webhook:
      s.SNAT_WEBHOOK_URL !== null && s.SNAT_WEBHOOK_SECRET !== null
        ? { url: s.SNAT_WEBHOOK_URL, secret: s.SNAT_WEBHOOK_SECRET }
        : null,
    alertSecret: s.SNAT_ALERT_SECRET,
    serveKey: s.SNAT_SERVE_KEY,
    allowedClusterIds: s.SNAT_ALLOWED_CLUSTER_IDS,
    rateLimitPerMinute: s.SNAT_RATE_LIMIT_PER_MINUTE,
  };
  return deepFreeze(settings);
}

/** Whether a cluster may be investigated under the allow-list (no list: any). */
export function clusterAllowed(settings: Pick<Settings, 'allowedClusterIds'>, clusterId: string): boolean {
  return settings.allowedClusterIds === null || settings.allowedClusterIds.includes(clusterId.toLowerCase());
}
