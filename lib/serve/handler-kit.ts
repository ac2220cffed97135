/**
 * What both HTTP front ends (the Functions handlers, `snat-responder serve`) share around lib/intake: the settings read
 * once (a settings error becomes a generic 500, its details logged without secret values: SettingsError never holds
 * them), and `HttpResult` -> response.
 */
import { loadSettings, isSettingsError } from '../config/settings.js';
import type { Settings } from '../config/settings.js';
import { errorResult } from '../intake/http.js';
import type { HttpResult } from '../intake/http.js';

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
