import { describe, expect, it } from 'vitest';
import { isSnatResponderError } from '../../lib/errors.js';
import { clusterAllowed, isSettingsError, loadSettings, SettingsError } from '../../lib/config/settings.js';

const SUB = '/subscriptions/00000000-0000-0000-0000-000000000000';
const CLUSTER = `${SUB}/resourceGroups/rg-a/providers/Microsoft.ContainerService/managedClusters/aks-a`;
const LB = `${SUB}/resourceGroups/MC_rg-a_aks-a_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes`;
const NATGW = `${SUB}/resourceGroups/rg-egress/providers/Microsoft.Network/natGateways/ng-a`;
const MINIMAL = { SNAT_TASK_HUB: 'snathub', SNAT_REPORT_STORAGE: 'https://acct.blob.core.windows.net/' };

function problemsOf(env: Record<string, string>): Array<[string, string]> {
  try {
    loadSettings(env);
  } catch (e) {
    if (!isSettingsError(e)) throw e;
    return e.problems.map((p) => [p.setting, p.message]);
  }
  throw new Error('expected a SettingsError');
}

describe('loadSettings', () => {
  it('applies defaults around the two required settings', () => {
    const s = loadSettings(MINIMAL);
    expect(s).toEqual({
      taskHub: 'snathub',
      capture: {
        namespace: 'snat-responder-capture',
        image: 'mcr.microsoft.com/azurelinux/busybox:1.36',
        pullSecret: null,
        defaultSeconds: 30,
        maxSeconds: 120,
      },
      censusConcurrency: 8,
      privateCidrs: [],
      cooldownMinutes: 30,
      maxNodesPerAlert: 10,
      maxConcurrentInvestigations: 4,
      loadBalancerClusters: {},
      natGatewayClusters: {},
      aksAccess: 'entra',
      armEndpoint: null,
      reportStorage: { kind: 'accountUrl', url: 'https://acct.blob.core.windows.net' },
      reportContainer: 'reports',
      reportLinkTtlMinutes: 1440,
      teamsWebhookUrl: null,
      webhook: null,
      alertSecret: null,
      serveKey: null,
      allowedClusterIds: null,
      rateLimitPerMinute: 120,
    });
  });

  it('parses every setting, maps with lower-cased keys, lists as arrays', () => {
    const s = loadSettings({
      ...MINIMAL,
      SNAT_CAPTURE_PULL_SECRET: 'acr-pull',
      SNAT_CAPTURE_SECONDS_DEFAULT: ' 45 ',
      SNAT_CAPTURE_SECONDS_MAX: '300',
      SNAT_PRIVATE_CIDRS: '10.0.0.0/8, fd00::/8,,',
      SNAT_COOLDOWN_MINUTES: '0',
      SNAT_LB_CLUSTER_MAP: JSON.stringify({ [LB]: CLUSTER }),
      SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: [CLUSTER] }),
      SNAT_AKS_ACCESS: 'local-account',
      SNAT_ARM_ENDPOINT: 'https://127.0.0.1:8443',
      SNAT_REPORT_STORAGE: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;',
      SNAT_WEBHOOK_URL: 'http://localhost:9000/hook',
      SNAT_WEBHOOK_SECRET: 'a-long-enough-secret',
      SNAT_ALLOWED_CLUSTER_IDS: `${CLUSTER},${CLUSTER.toUpperCase()}`,
    });
    expect(s.capture).toMatchObject({ pullSecret: 'acr-pull', defaultSeconds: 45, maxSeconds: 300 });
    expect(s.privateCidrs).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(s.cooldownMinutes).toBe(0);
    expect(s.loadBalancerClusters).toEqual({ [LB.toLowerCase()]: CLUSTER });
    expect(s.natGatewayClusters).toEqual({ [NATGW.toLowerCase()]: [CLUSTER] });
    expect(s.reportStorage.kind).toBe('connectionString');
    expect(s.webhook).toEqual({ url: 'http://localhost:9000/hook', secret: 'a-long-enough-secret' });
    expect(s.allowedClusterIds).toEqual([CLUSTER.toLowerCase()]);
    expect(clusterAllowed(s, CLUSTER.toUpperCase())).toBe(true);
    expect(clusterAllowed(s, CLUSTER.replace('aks-a', 'aks-b'))).toBe(false);
  });

  it('treats empty values as unset', () => {
    expect(loadSettings({ ...MINIMAL, SNAT_CAPTURE_PULL_SECRET: '', SNAT_COOLDOWN_MINUTES: '  ' })).toMatchObject({
      capture: { pullSecret: null },
      cooldownMinutes: 30,
    });
  });

  it('reports every problem at once, each naming its setting', () => {
    const problems = problemsOf({
      SNAT_CAPTURE_NAMESPACE: 'Bad_NS',
      SNAT_CAPTURE_IMAGE: 'busybox; rm -rf /',
      SNAT_CAPTURE_SECONDS_MAX: '601',
      SNAT_CENSUS_CONCURRENCY: 'eight',
      SNAT_PRIVATE_CIDRS: '10.0.0.0/8,10.300.0.0/16',
      SNAT_LB_CLUSTER_MAP: '{"lb": 42}',
      SNAT_NATGW_CLUSTER_MAP: '[',
      SNAT_AKS_ACCESS: 'kubeconfig',
      SNAT_ARM_ENDPOINT: 'http://management.example.com',
      SNAT_REPORT_CONTAINER: 'Reports',
      SNAT_ALLOWED_CLUSTER_IDS: 'aks-a',
    });
    expect(problems).toEqual([
      ['SNAT_TASK_HUB', expect.stringMatching(/^required, not set/) as string],
      ['SNAT_CAPTURE_NAMESPACE', 'not a Kubernetes namespace name (DNS-1123 label): "Bad_NS"'],
      ['SNAT_CAPTURE_IMAGE', 'not an image reference (registry/path[:tag][@sha256:...]): "busybox; rm -rf /"'],
      ['SNAT_CAPTURE_SECONDS_MAX', 'expected a whole number from 1 to 600, got "601"'],
      ['SNAT_CENSUS_CONCURRENCY', 'expected a whole number from 1 to 64, got "eight"'],
      ['SNAT_PRIVATE_CIDRS', 'not CIDRs: "10.300.0.0/16"'],
      ['SNAT_LB_CLUSTER_MAP', 'key "lb" is not a load balancer resource id'],
      ['SNAT_LB_CLUSTER_MAP', 'value of "lb" is not an AKS cluster resource id'],
      ['SNAT_NATGW_CLUSTER_MAP', 'not valid JSON (expected {"<NAT gateway id>": "<AKS cluster id>"})'],
      ['SNAT_AKS_ACCESS', 'expected entra or local-account, got "kubeconfig"'],
      ['SNAT_ARM_ENDPOINT', 'must be an https URL (http only to localhost): "http://management.example.com"'],
      ['SNAT_REPORT_STORAGE', expect.stringMatching(/^required, not set/) as string],
      [
        'SNAT_REPORT_CONTAINER',
        'not a Blob container name (3-63 lower-case letters, digits, single hyphens): "Reports"',
      ],
      ['SNAT_ALLOWED_CLUSTER_IDS', 'not AKS cluster resource ids: "aks-a"'],
    ]);
  });

  it('reports cross-setting rules together with field problems', () => {
    expect(
      problemsOf({
        ...MINIMAL,
        SNAT_TASK_HUB: 'x',
        SNAT_CAPTURE_SECONDS_DEFAULT: '200',
        SNAT_WEBHOOK_URL: 'https://hooks.example.com/a',
      }),
    ).toEqual([
      ['SNAT_TASK_HUB', 'expected 3-45 letters and digits starting with a letter, got "x"'],
      ['SNAT_CAPTURE_SECONDS_DEFAULT', '200 is over SNAT_CAPTURE_SECONDS_MAX (120)'],
      ['SNAT_WEBHOOK_SECRET', 'required when SNAT_WEBHOOK_URL is set'],
    ]);
  });

  it('never echoes secret values', () => {
    const secrets = {
      SNAT_REPORT_STORAGE: 'AccountKey=TOPSECRET-storage-key',
      SNAT_TEAMS_WEBHOOK_URL: 'http://teams.example.com/TOPSECRET-sig',
      SNAT_WEBHOOK_URL: 'ftp://TOPSECRET-hook',
      SNAT_WEBHOOK_SECRET: 'TOPSECRET',
      SNAT_ALERT_SECRET: 'TOPSECRET-short',
      SNAT_SERVE_KEY: 'TOPSECRET-key',
    };
    let error: unknown;
    try {
      loadSettings({ SNAT_TASK_HUB: 'hub001', ...secrets });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const e = error as SettingsError;
    expect(e.problems.map((p) => p.setting)).toEqual([
      'SNAT_REPORT_STORAGE',
      'SNAT_TEAMS_WEBHOOK_URL',
      'SNAT_WEBHOOK_URL',
      'SNAT_WEBHOOK_SECRET',
      'SNAT_ALERT_SECRET',
      'SNAT_SERVE_KEY',
    ]);
    expect(e.message).not.toContain('TOPSECRET');
    expect(JSON.stringify(e.problems)).not.toContain('TOPSECRET');
    expect(isSnatResponderError(e)).toBe(true);
    expect(e.code).toBe('ENVIRONMENT');
    expect(e.message).toMatch(/^6 setting problem\(s\):\n {2}SNAT_REPORT_STORAGE: /);
  });

  it('returns a deep-frozen object', () => {
    const s = loadSettings({
      ...MINIMAL,
      SNAT_NATGW_CLUSTER_MAP: JSON.stringify({ [NATGW]: [CLUSTER] }),
      SNAT_PRIVATE_CIDRS: '10.0.0.0/8',
    });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.capture)).toBe(true);
    expect(Object.isFrozen(s.privateCidrs)).toBe(true);
    expect(Object.isFrozen(s.natGatewayClusters[NATGW.toLowerCase()])).toBe(true);
    expect(() => {
      (s.capture as { maxSeconds: number }).maxSeconds = 600;
    }).toThrow(TypeError);
  });

  it('SNAT_SERVE_KEY (serve only): unset is null, 16 characters or more is the key, shorter is refused unseen', () => {
    expect(loadSettings(MINIMAL).serveKey).toBeNull();
    expect(loadSettings({ ...MINIMAL, SNAT_SERVE_KEY: ' ' }).serveKey).toBeNull();
    expect(loadSettings({ ...MINIMAL, SNAT_SERVE_KEY: 'k'.repeat(16) }).serveKey).toBe('k'.repeat(16));
    expect(problemsOf({ ...MINIMAL, SNAT_SERVE_KEY: 'fifteen-chars-k' })).toEqual([
      ['SNAT_SERVE_KEY', 'too short: at least 16 characters (value not shown)'],
    ]);
  });

  it('ignores settings outside the catalogue', () => {
    expect(() => loadSettings({ ...MINIMAL, SNAT_UNKNOWN: 'x', PATH: '/bin' })).not.toThrow();
  });
});
