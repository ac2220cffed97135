/**
 * The values every logger blanks out (lib/log.ts `redact`): those of the settings the catalogue marks `secret`.
 *
 * One entry per secret setting, typed against the catalogue: a setting newly marked `secret: true` does not compile
 * until it says which values of `Settings` it holds. A connection string gives its key and SAS parts on their own too
 * (an SDK error may quote the key alone); an account URL is no credential (it is the start of every report link), so
 * SNAT_REPORT_STORAGE gives nothing then.
 */
import type { SETTINGS, SettingName, Settings } from './settings.js';

type SecretSettingName = {
  [K in SettingName]: (typeof SETTINGS)[K]['secret'] extends true ? K : never;
}[SettingName];

/** The credential parts of a storage connection string (`AccountKey=...;SharedAccessSignature=...`). */
function connectionStringParts(connectionString: string): string[] {
  const parts: string[] = [];
  for (const pair of connectionString.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim().toLowerCase();
    if (name === 'accountkey' || name === 'sharedaccesssignature') parts.push(pair.slice(eq + 1).trim());
  }
  return parts;
}

const SECRET_VALUES: { readonly [K in SecretSettingName]: (settings: Settings) => readonly string[] } = {
  SNAT_REPORT_STORAGE: (s) =>
    s.reportStorage.kind === 'connectionString'
      ? [s.reportStorage.connectionString, ...connectionStringParts(s.reportStorage.connectionString)]
      : [],
  SNAT_TEAMS_WEBHOOK_URL: (s) => (s.teamsWebhookUrl !== null ? [s.teamsWebhookUrl] : []),
  SNAT_WEBHOOK_URL: (s) => (s.webhook !== null ? [s.webhook.url] : []),
  SNAT_WEBHOOK_SECRET: (s) => (s.webhook !== null ? [s.webhook.secret] : []),
  SNAT_ALERT_SECRET: (s) => (s.alertSecret !== null ? [s.alertSecret] : []),
  // As sent in a query string too (`?code=`), should a key with reserved characters reach a line that way.
  SNAT_SERVE_KEY: (s) => (s.serveKey !== null ? [...new Set([s.serveKey, encodeURIComponent(s.serveKey)])] : []),
};

/** The names of the secret settings (the catalogue's `secret: true`). */
export const SECRET_SETTING_NAMES = Object.keys(SECRET_VALUES) as SecretSettingName[];

/** Every secret value these settings hold, for a logger's `secrets`. */
export function secretValuesOf(settings: Settings): string[] {
  return SECRET_SETTING_NAMES.flatMap((name) => SECRET_VALUES[name](settings)).filter((v) => v.length > 0);
}

/**
 * The raw values of the secret settings in `env`, for when the settings do not load (a logger still has to redact
 * them): a connection string with its parts, any other secret setting as set.
 */
export function secretEnvValuesOf(env: Readonly<Record<string, string | undefined>>): string[] {
  const values: string[] = [];
  for (const name of SECRET_SETTING_NAMES) {
    const value = env[name]?.trim();
    if (value === undefined || value === '') continue;
    if (name === 'SNAT_REPORT_STORAGE' && /^https?:\/\//i.test(value)) continue;
    values.push(value, ...(name === 'SNAT_REPORT_STORAGE' ? connectionStringParts(value) : []));
  }
  return values.filter((v) => v.length > 0);
}
