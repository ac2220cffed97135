import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSettings, SETTING_NAMES, SETTINGS } from '../../lib/config/settings.js';
import type { SettingInfo } from '../../lib/config/settings.js';

const root = new URL('../../', import.meta.url);
const sample = JSON.parse(readFileSync(new URL('local.settings.sample.json', root), 'utf8')) as {
  Values: Record<string, string>;
};
const doc = readFileSync(new URL('docs/SETTINGS.md', root), 'utf8');
/** Settings of the Functions host itself, not read by lib/config. */
const HOST_SETTINGS = ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage'];

/** Settings only `snat-responder serve` reads: they mean nothing to the Functions host whose file the sample is. */
const SERVE_ONLY = SETTING_NAMES.filter((name) => (SETTINGS[name] as SettingInfo).appliesTo === 'serve');

describe('local.settings.sample.json and docs/SETTINGS.md follow lib/config', () => {
  it('the sample holds exactly the catalogue but the serve-only settings (plus the host settings)', () => {
    const keys = Object.keys(sample.Values).filter((k) => !HOST_SETTINGS.includes(k));
    expect([...keys].sort()).toEqual(SETTING_NAMES.filter((name) => !SERVE_ONLY.includes(name)).sort());
  });

  it('the serve-only settings: SNAT_SERVE_KEY, marked "serve only" in docs/SETTINGS.md and in their description', () => {
    expect(SERVE_ONLY).toEqual(['SNAT_SERVE_KEY']);
    for (const name of SERVE_ONLY) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\``));
      expect(row, name).toContain('**serve only**');
      expect(SETTINGS[name].description, name).toMatch(/^serve only: /);
    }
  });

  it('every setting is described and documented in docs/SETTINGS.md', () => {
    for (const name of SETTING_NAMES) {
      expect(SETTINGS[name].description.length, name).toBeGreaterThan(10);
      expect(doc, name).toContain(`| \`${name}\``);
    }
  });

  it('the sample values parse', () => {
    const s = loadSettings(sample.Values);
    expect(s.taskHub).toBe(sample.Values.SNAT_TASK_HUB);
    expect(Object.keys(s.loadBalancerClusters)).toHaveLength(1);
    expect(Object.keys(s.natGatewayClusters)).toHaveLength(1);
  });

  it('host.json reads the task hub from SNAT_TASK_HUB', () => {
    const host = readFileSync(new URL('host.json', root), 'utf8');
    expect(host).toContain('%SNAT_TASK_HUB%');
  });
});
