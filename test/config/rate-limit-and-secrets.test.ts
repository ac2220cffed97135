import { describe, expect, it } from 'vitest';
import { SECRET_SETTING_NAMES, secretEnvValuesOf, secretValuesOf } from '../../lib/config/secrets.js';
import { isSettingsError, loadSettings, SETTING_NAMES, SETTINGS } from '../../lib/config/settings.js';

const MINIMAL = { SNAT_TASK_HUB: 'snathub', SNAT_REPORT_STORAGE: 'https://acct.blob.core.windows.net/' };
const KEY = 'c2VjcmV0LWFjY291bnQta2V5LWZvci10ZXN0cw==';
const CONNECTION = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`;

function problemOf(value: string): string {
  try {
    loadSettings({ ...MINIMAL, SNAT_RATE_LIMIT_PER_MINUTE: value });
  } catch (e) {
    if (!isSettingsError(e)) throw e;
    expect(e.problems.map((p) => p.setting)).toEqual(['SNAT_RATE_LIMIT_PER_MINUTE']);
    return e.problems[0]!.message;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('SNAT_RATE_LIMIT_PER_MINUTE', () => {
  it('defaults to 120; unset and empty are the default', () => {
    expect(loadSettings(MINIMAL).rateLimitPerMinute).toBe(120);
    expect(loadSettings({ ...MINIMAL, SNAT_RATE_LIMIT_PER_MINUTE: '  ' }).rateLimitPerMinute).toBe(120);
  });

  it.each([
    ['0', 0],
    ['1', 1],
    [' 5 ', 5],
    ['10000', 10_000],
  ])('%j -> %d', (text, value) => {
    expect(loadSettings({ ...MINIMAL, SNAT_RATE_LIMIT_PER_MINUTE: text }).rateLimitPerMinute).toBe(value);
  });

  it.each(['10001', '-1', '1.5', 'ten', '1e3', '0x10'])('%j is refused, naming the bounds and the value', (text) => {
    expect(problemOf(text)).toBe(`expected a whole number from 0 to 10000, got ${JSON.stringify(text)}`);
  });

  it('is a documented, non-secret, optional setting of the catalogue', () => {
    expect(SETTING_NAMES).toContain('SNAT_RATE_LIMIT_PER_MINUTE');
    expect(SETTINGS.SNAT_RATE_LIMIT_PER_MINUTE).toMatchObject({ secret: false, required: false });
    expect(SETTINGS.SNAT_RATE_LIMIT_PER_MINUTE.description).toMatch(/0 turns the limits off\. Default 120\./);
  });
});

describe('secretValuesOf: what every logger blanks out', () => {
  it('names exactly the settings the catalogue marks secret', () => {
    expect([...SECRET_SETTING_NAMES].sort()).toEqual(SETTING_NAMES.filter((n) => SETTINGS[n].secret).sort());
  });

  it('every secret value set, with the key of a connection string on its own too', () => {
    const settings = loadSettings({
      ...MINIMAL,
      SNAT_REPORT_STORAGE: CONNECTION,
      SNAT_TEAMS_WEBHOOK_URL: 'https://teams.example.net/workflows/abc?sig=teams-signature-value',
      SNAT_WEBHOOK_URL: 'https://hooks.example.net/snat',
      SNAT_WEBHOOK_SECRET: 'webhook-secret-of-enough-length',
      SNAT_ALERT_SECRET: 'alert-secret-of-enough-length',
    });
    expect(secretValuesOf(settings).sort()).toEqual(
      [
        CONNECTION,
        KEY,
        'https://teams.example.net/workflows/abc?sig=teams-signature-value',
        'https://hooks.example.net/snat',
        'webhook-secret-of-enough-length',
        'alert-secret-of-enough-length',
      ].sort(),
    );
  });

  it("serve's key, and its percent-encoded form when that differs (a query string may carry it so)", () => {
    expect(secretValuesOf(loadSettings({ ...MINIMAL, SNAT_SERVE_KEY: 'serve-key-0123456789' }))).toEqual([
      'serve-key-0123456789',
    ]);
    expect(secretValuesOf(loadSettings({ ...MINIMAL, SNAT_SERVE_KEY: 'serve key+/=0123456789' }))).toEqual([
      'serve key+/=0123456789',
      'serve%20key%2B%2F%3D0123456789',
    ]);
  });

  it('nothing when no secret is set: an account URL is no credential (it starts every report link)', () => {
    expect(secretValuesOf(loadSettings(MINIMAL))).toEqual([]);
  });

  it('from the raw environment when the settings do not load', () => {
    const env = { SNAT_REPORT_STORAGE: CONNECTION, SNAT_WEBHOOK_SECRET: 'short', SNAT_TASK_HUB: 'x', OTHER: 'y' };
    expect(secretEnvValuesOf(env).sort()).toEqual([CONNECTION, KEY, 'short'].sort());
    expect(
      secretEnvValuesOf({ SNAT_REPORT_STORAGE: 'https://acct.blob.core.windows.net', SNAT_ALERT_SECRET: ' ' }),
    ).toEqual([]);
  });
});
