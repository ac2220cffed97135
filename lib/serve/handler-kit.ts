/**
 * What both HTTP front ends (the Functions handlers, `snat-responder serve`) share around lib/intake: the settings read
 * once (a settings error becomes a generic 500, its details logged without secret values: SettingsError never holds
 * them), the request rate limits built from them, the log line of each request's decision, and `HttpResult` ->
 * response.
 */
import { secretEnvValuesOf, secretValuesOf } from '../config/secrets.js';
import { loadSettings, isSettingsError } from '../config/settings.js';
import type { Settings } from '../config/settings.js';
import { errorResult } from '../intake/http.js';
import type { HttpResult } from '../intake/http.js';
import { callerOf, ROUTES, RouteLimits } from '../intake/rate-limit.js';
import type { RouteName } from '../intake/rate-limit.js';
import { createLogger, functionsLogSink } from '../log.js';
import type { LogFields, Logger } from '../log.js';

export type SettingsOutcome =
  { readonly ok: true; readonly settings: Settings } | { readonly ok: false; readonly response: HttpResult };

let cached: SettingsOutcome | null = null;

/** `loadSettings` once per process; `log` gets the problem list the first time it fails. */
export function settingsOnce(log: (message: string) => void, env: NodeJS.ProcessEnv = process.env): SettingsOutcome {
  if (cached?.ok) return cached;
  try {
    cached = { ok: true, settings: loadSettings(env) };
  } catch (e) {
    log(isSettingsError(e) ? e.message : `settings could not be read: ${e instanceof Error ? e.name : 'error'}`);
    // Not cached: a fixed app setting takes effect on the next request without a restart.
    return {
      ok: false,
      response: errorResult(500, 'configuration', 'the responder is not configured correctly; see its logs'),
    };
  }
  return cached;
}

/** `settingsOnce` for a handler: the problem list (names and reasons, never values) as one error line of `log`. */
export function settingsFor(log: Logger, env: NodeJS.ProcessEnv = process.env): SettingsOutcome {
  return settingsOnce((message) => log.error('settings could not be read', { error: message }), env);
}

/** Forgets the cached settings (tests that change the environment). */
export function resetSettingsCache(): void {
  cached = null;
}

/** `https://host` of a request URL. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** The Functions response init of a result. */
export function responseInit(result: HttpResult): {
  status: number;
  jsonBody: unknown;
  headers: Record<string, string>;
} {
  return { status: result.status, jsonBody: result.body, headers: { ...result.headers } };
}

const limits = new WeakMap<Settings, RouteLimits>();

/**
 * The route limits of these settings (SNAT_RATE_LIMIT_PER_MINUTE), built on first use: one `RateLimiter` per route per
 * process, as the settings are read once per process (settings read again, in tests, get limits of their own).
 */
export function routeLimitsOf(settings: Settings): RouteLimits {
  let built = limits.get(settings);
  if (built === undefined) {
    built = new RouteLimits(settings.rateLimitPerMinute);
    limits.set(settings, built);
  }
  return built;
}

/** A Functions request's 429, or null: its caller is the first `x-forwarded-for` entry (else `unknown`). */
export function checkRateLimit(
  settings: Settings,
  route: RouteName,
  request: { readonly headers: { get(name: string): string | null } },
): HttpResult | null {
  return routeLimitsOf(settings).check(route, callerOf(request.headers.get('x-forwarded-for')));
}

/**
 * The values every logger of the app blanks out: those of the secret settings, from the loaded settings, or straight
 * from the environment when they do not load (a log line must not leak what a broken setting holds either).
 */
export function appSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  const loaded = settingsOnce(() => {}, env);
  return loaded.ok ? secretValuesOf(loaded.settings) : secretEnvValuesOf(env);
}

/**
 * The structured logger of a Functions invocation (Application Insights traces), redacting the app's secrets. Every
 * level is passed on: host.json's `logging.logLevel` decides what is kept (Information by default).
 */
export function invocationLogger(
  context: {
    debug(...args: unknown[]): void;
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
  },
  fields: LogFields = {},
  env: NodeJS.ProcessEnv = process.env,
): Logger {
  return createLogger(functionsLogSink(context), fields, { secrets: appSecrets(env), level: 'debug' });
}

/** The `code` of an error body (`{error: {code}}`) or of an ignored alert (`{ignored: {code}}`). */
function codeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  for (const key of ['error', 'ignored']) {
    const part = (body as Record<string, unknown>)[key];
    if (typeof part === 'object' && part !== null) {
      const code = (part as Record<string, unknown>).code;
      if (typeof code === 'string') return code;
    }
  }
  return undefined;
}

/**
 * One line per request: what was decided (route, status, code, the investigations it started or reused), never the
 * body or a header. Accepted -> info (a read: debug, status URLs are polled); an alert acknowledged but ignored ->
 * info with its code; refused (4xx) -> info with the code; a failure (5xx) -> error.
 */
/** `answer(result, ids)`: logs the decision (`logDecision`), then maps it to the Functions response. */
export function answerFor(
  log: Logger,
  route: RouteName,
): (result: HttpResult, ids?: readonly string[]) => ReturnType<typeof responseInit> {
  return (result, ids = []) => {
    logDecision(log, route, result, ids);
    return responseInit(result);
  };
}

export function logDecision(log: Logger, route: RouteName, result: HttpResult, ids: readonly string[] = []): void {
  const code = codeOf(result.body);
  const retryAfter = result.headers['retry-after'];
  const fields: LogFields = {
    route,
    status: result.status,
    ...(code !== undefined ? { code } : {}),
    ...(retryAfter !== undefined ? { retryAfterSeconds: Number(retryAfter) } : {}),
    ...(ids.length === 1 ? { investigationId: ids[0] } : {}),
    ...(ids.length > 0 ? { investigationIds: ids.join(',') } : {}),
  };
  if (result.status >= 500) log.error('request failed', fields);
  else if (result.status >= 400) log.info('request refused', fields);
  else if (code !== undefined) log.info('request ignored', fields);
  else if (ROUTES[route].kind === 'read') log.debug('request answered', fields);
  else log.info('request accepted', fields);
}
