/**
 * Static checks of the deployable infrastructure (infra/, azure.yaml). No Bicep compiler runs on the build machines
 * (the Azure CLI and the bicep binary cannot be downloaded here), so the .bicep files are read as text and checked
 * against what the code expects: the settings catalogue, the identity-only storage rules, the built-in role GUIDs,
 * the SNAT metric alerts, the AKS pool-size table and the azd wiring. Each check names what drifted.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS_BY_POOL_SIZE } from '../../lib/analysis/recommendations.js';
import { REPORTS_CONTAINER } from '../../lib/azure/blob-paths.js';
import { loadSettings, SETTING_NAMES, SETTINGS } from '../../lib/config/settings.js';
import type { SettingName } from '../../lib/config/settings.js';
import { ALERT_SECRET_QUERY } from '../../lib/intake/http.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** Every .bicep file under infra/, by path relative to the repository root. */
const BICEP: ReadonlyMap<string, string> = new Map(
  (readdirSync(new URL('infra/', root), { recursive: true }) as string[])
    .filter((p) => p.endsWith('.bicep'))
    .sort()
    .map((p) => [`infra/${p}`, read(`infra/${p}`)]),
);
const bicep = (path: string): string => {
  const text = BICEP.get(path);
  if (text === undefined) throw new Error(`${path} is missing`);
  return text;
};
const MAIN = 'infra/main.bicep';
const FUNCTION_APP = 'infra/modules/function-app.bicep';
const ALERTS = 'infra/modules/alerts.bicep';
const ACTION_GROUP = 'infra/modules/action-group.bicep';
const REPORT_STORAGE = 'infra/modules/report-storage.bicep';

// ---------------------------------------------------------------------------------------------------------------
// A little Bicep reading: comments out, balanced blocks, resources, parameters. Enough for these files, not a parser.
// ---------------------------------------------------------------------------------------------------------------

/** The text with // and /* *\/ comments blanked out (strings, which may hold "//" as in https://, kept). */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** From an opening { or [ at `start` to its matching closer, inclusive (brackets inside strings ignored). */
function blockAt(text: string, start: number): string {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      i++;
      while (i < text.length && text[i] !== "'") i += text[i] === '\\' ? 2 : 1;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  throw new Error(`unbalanced block at offset ${start}`);
}

interface BicepResource {
  readonly file: string;
  readonly symbol: string;
  readonly type: string;
  readonly existing: boolean;
  readonly body: string;
}

/** Every `resource` declaration of every infra file (nested child declarations too), comments removed. */
const RESOURCES: readonly BicepResource[] = [...BICEP].flatMap(([file, raw]) => {
  const text = stripComments(raw);
  const found: BicepResource[] = [];
  const re = /\bresource\s+(\w+)\s+'([^'@]+)(?:@[^']*)?'\s+(existing\s+)?=\s*(?:if\s*\([^)]*\)\s*)?\{/g;
  for (const m of text.matchAll(re)) {
    const open = m.index + m[0].length - 1;
    found.push({ file, symbol: m[1]!, type: m[2]!, existing: m[3] !== undefined, body: blockAt(text, open) });
  }
  return found;
});
const resourcesOf = (type: string): BicepResource[] => RESOURCES.filter((r) => r.type === type && !r.existing);

interface BicepParam {
  readonly name: string;
  readonly type: string;
  /** The default as written (`'entra'`, `80`, `false`), or null when the parameter has none. */
  readonly defaultText: string | null;
}

function paramsOf(path: string): BicepParam[] {
  const re = /^param\s+(\w+)\s+(\w+)(?:\s*=\s*(.+?))?\s*$/gm;
  return [...stripComments(bicep(path)).matchAll(re)].map((m) => ({
    name: m[1]!,
    type: m[2]!,
    defaultText: m[3] ?? null,
  }));
}

/** A literal default as a string ('x' -> x, 80 -> 80, false -> false); null for expressions. */
function literal(text: string | null): string | null {
  if (text === null) return null;
  const quoted = /^'([^'$]*)'$/.exec(text);
  if (quoted) return quoted[1]!;
  return /^(-?\d+|true|false)$/.test(text) ? text : null;
}

/** `var <name> = { ... }` (or [ ... ]) of a file. */
function varBlock(path: string, name: string): string {
  const text = stripComments(bicep(path));
  const m = new RegExp(`^var\\s+${name}\\s*=\\s*[{[]`, 'm').exec(text);
  if (!m) throw new Error(`${path}: no var ${name} = { ... }`);
  return blockAt(text, m.index + m[0].length - 1);
}

/** The top-level `key: value` lines of an object block (values kept as written, one line each). */
function entries(block: string): Map<string, string> {
  const inner = block.slice(1, -1);
  const out = new Map<string, string>();
  for (const m of inner.matchAll(/^\s*(?:'([^']+)'|([A-Za-z_][\w-]*))\s*:\s*(.+?)\s*$/gm)) {
    out.set(m[1] ?? m[2]!, m[3]!);
  }
  return out;
}

/** The argument block of `module <symbol> '<path>' = ... { ... }` in main.bicep. */
function moduleBlock(symbol: string): string {
  const text = stripComments(bicep(MAIN));
  const m = new RegExp(`^module\\s+${symbol}\\s+'[^']+'\\s*=\\s*(?:if\\s*\\([^)]*\\)\\s*)?\\{`, 'm').exec(text);
  if (!m) throw new Error(`main.bicep: no module ${symbol}`);
  return blockAt(text, m.index + m[0].length - 1);
}

/** The `params: { ... }` of a module call in main.bicep. */
function moduleParams(symbol: string): Map<string, string> {
  const block = moduleBlock(symbol);
  const m = /\bparams:\s*\{/.exec(block);
  if (!m) throw new Error(`main.bicep: module ${symbol} has no params`);
  return entries(blockAt(block, m.index + m[0].length - 1));
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

// ---------------------------------------------------------------------------------------------------------------

describe('infra: the Function App settings follow lib/config/settings.ts', () => {
  const settings = entries(varBlock(FUNCTION_APP, 'appSettings'));

  it('sets every required setting', () => {
    const required = SETTING_NAMES.filter((name) => SETTINGS[name].required);
    expect(required.length, 'SETTINGS lists no required setting: is this the right catalogue?').toBeGreaterThan(0);
    for (const name of required) {
      expect(settings.has(name), `${FUNCTION_APP} appSettings does not set the required setting ${name}`).toBe(true);
      expect(settings.get(name), `${FUNCTION_APP} sets the required setting ${name} to an empty string`).not.toBe("''");
    }
  });

  it('names only settings the code reads (no typos, no stale names) anywhere in infra', () => {
    const files = [...BICEP, ['infra/main.parameters.json', read('infra/main.parameters.json')] as const];
    for (const [file, text] of files) {
      for (const [name] of text.matchAll(/\bSNAT_[A-Z0-9_]+\b/g)) {
        expect(
          SETTING_NAMES as string[],
          `${file} names ${name}, which lib/config/settings.ts does not read`,
        ).toContain(name);
      }
    }
  });

  it('gives the host its storage through the user-assigned identity, never a connection string', () => {
    expect(settings.get('AzureWebJobsStorage__accountName'), 'AzureWebJobsStorage__accountName').toBe(
      'hostStorageAccountName',
    );
    expect(settings.get('AzureWebJobsStorage__credential'), 'AzureWebJobsStorage__credential').toBe(
      "'managedidentity'",
    );
    expect(settings.get('AzureWebJobsStorage__clientId'), 'AzureWebJobsStorage__clientId').toBe('identityClientId');
    expect(settings.has('AzureWebJobsStorage'), 'a plain AzureWebJobsStorage (connection string) is set').toBe(false);
    expect(settings.get('AZURE_CLIENT_ID'), 'AZURE_CLIENT_ID must name the user-assigned identity').toBe(
      'identityClientId',
    );
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING'), 'App Insights Entra auth string').toBe(
      "'ClientId=${identityClientId};Authorization=AAD'",
    );
    expect(settings.get('SNAT_REPORT_STORAGE'), 'SNAT_REPORT_STORAGE must be the Blob account URL').toBe(
      "'https://${reportsStorageAccountName}.blob.${environment().suffixes.storage}'",
    );
  });

  it('leaves out the settings Flex Consumption refuses', () => {
    for (const name of ['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_CONTENTSHARE']) {
      expect(settings.has(name), `${FUNCTION_APP} sets ${name}; Flex Consumption rejects it`).toBe(false);
    }
  });

  it('produces values that lib/config accepts, with the template defaults', () => {
    const sub = '/subscriptions/00000000-0000-0000-0000-000000000000';
    const cluster = `${sub}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod`;
    const lb = `${sub}/resourceGroups/MC_rg-aks_aks-prod_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes`;
    // main.bicep passes these to the function-app module under the same names: take their defaults from main.bicep.
    const passedThrough = [
      'taskHubName',
      'aksAccess',
      'captureNamespace',
      'captureImage',
      'privateCidrs',
      'teamsWebhookUrl',
      'webhookUrl',
      'webhookSecret',
      'alertSecret',
    ];
    const args = moduleParams('functionApp');
    const mainParams = new Map(paramsOf(MAIN).map((p) => [p.name, p]));
    const scope = new Map<string, string>([
      ['aksClusterId', cluster],
      ['loadBalancerId', lb],
      ['reportsStorageAccountName', 'stsnatrptabc'],
      ['reportsContainerName', REPORTS_CONTAINER],
      ['environment().suffixes.storage', 'core.windows.net'],
    ]);
    for (const name of passedThrough) {
      expect(args.get(name), `main.bicep should pass ${name}: ${name} to the function-app module`).toBe(name);
      const value = literal(mainParams.get(name)?.defaultText ?? null);
      expect(value, `main.bicep param ${name} needs a literal default`).not.toBeNull();
      scope.set(name, value ?? '');
    }
    const evaluate = (name: string, expr: string): string => {
      if (expr === 'string(lbClusterMap)') {
        const map = entries(varBlock(FUNCTION_APP, 'lbClusterMap'));
        expect([...map], 'lbClusterMap must map the load balancer id to the cluster id').toEqual([
          ['${loadBalancerId}', 'aksClusterId'],
        ]);
        return JSON.stringify({ [lb]: cluster });
      }
      const direct = scope.get(expr);
      if (direct !== undefined) return direct;
      const quoted = /^'(.*)'$/.exec(expr);
      if (quoted) {
        return quoted[1]!.replace(/\$\{([^}]+)\}/g, (_, inner: string) => {
          const v = scope.get(inner);
          if (v === undefined) throw new Error(`${name}: cannot evaluate \${${inner}} (extend this test)`);
          return v;
        });
      }
      throw new Error(`${name}: cannot evaluate ${expr} (extend this test)`);
    };
    const env: Record<string, string> = {};
    for (const [name, expr] of settings) if (name.startsWith('SNAT_')) env[name] = evaluate(name, expr);

    const s = loadSettings(env);
    expect(s.taskHub).toBe('snatresponder');
    expect(s.reportStorage).toEqual({ kind: 'accountUrl', url: 'https://stsnatrptabc.blob.core.windows.net' });
    expect(s.reportContainer).toBe(REPORTS_CONTAINER);
    expect(s.loadBalancerClusters).toEqual({ [lb.toLowerCase()]: cluster });
    expect(s.allowedClusterIds).toEqual([cluster.toLowerCase()]);
    expect(s.aksAccess).toBe('entra');
    expect(s.alertSecret, 'an empty secret parameter must mean "unset"').toBeNull();
  });

  it('host.json takes the task hub from SNAT_TASK_HUB, which the template sets', () => {
    expect(read('host.json'), 'host.json durableTask.hubName').toContain('"hubName": "%SNAT_TASK_HUB%"');
    expect(settings.get('SNAT_TASK_HUB')).toBe('taskHubName');
  });
});

describe('infra: storage is identity-only', () => {
  const accounts = resourcesOf('Microsoft.Storage/storageAccounts');

  it('declares the host and the reports account', () => {
    expect(
      accounts.map((a) => a.file),
      'expected one storage account in host-storage.bicep and one in report-storage.bicep',
    ).toEqual(['infra/modules/host-storage.bicep', 'infra/modules/report-storage.bicep']);
  });

  it('turns off shared keys and public blob access and requires TLS 1.2 on every account', () => {
    for (const a of accounts) {
      expect(a.body, `${a.file} ${a.symbol}: allowSharedKeyAccess must be false`).toMatch(
        /\ballowSharedKeyAccess:\s*false\b/,
      );
      expect(a.body, `${a.file} ${a.symbol}: allowBlobPublicAccess must be false`).toMatch(
        /\ballowBlobPublicAccess:\s*false\b/,
      );
      expect(a.body, `${a.file} ${a.symbol}: minimumTlsVersion must be TLS1_2`).toMatch(
        /\bminimumTlsVersion:\s*'TLS1_2'/,
      );
    }
  });

  it('never reads an account key or builds a key-based connection string', () => {
    const files = [
      ...BICEP,
      ['infra/main.parameters.json', read('infra/main.parameters.json')] as const,
      ['infra/scripts/postdeploy.sh', read('infra/scripts/postdeploy.sh')] as const,
    ];
    for (const [file, raw] of files) {
      const text = stripComments(raw);
      expect(text, `${file}: AccountKey= connection string`).not.toMatch(/AccountKey=/i);
      expect(text, `${file}: storage connection string`).not.toMatch(/DefaultEndpointsProtocol=/i);
      expect(text, `${file}: account-key SAS`).not.toMatch(/list(Account|Service)Sas\s*\(/i);
      for (const m of text.matchAll(/listKeys\s*\(([^)]*)\)/g)) {
        expect(m[1], `${file}: listKeys(${m[1]}) is not the Function App host keys`).toMatch(/\/host\/default'/);
      }
    }
  });

  it('deletes the evidence under reports/_evidence/ after 7 days', () => {
    const text = stripComments(bicep(REPORT_STORAGE));
    const rule = varBlock(REPORT_STORAGE, 'evidenceRule');
    expect(rule, 'the evidence rule must match "<container>/_evidence/"').toContain("'${containerName}/_evidence/'");
    expect(rule, 'the evidence rule must delete by age').toMatch(
      /daysAfterModificationGreaterThan:\s*evidenceRetentionDays/,
    );
    expect(text, 'evidence is kept 7 days').toMatch(/^var evidenceRetentionDays = 7$/m);
    const container = paramsOf(REPORT_STORAGE).find((p) => p.name === 'containerName');
    expect(literal(container?.defaultText ?? null), 'report-storage containerName default').toBe(REPORTS_CONTAINER);
    expect(stripComments(bicep(MAIN)), 'main.bicep reports container').toMatch(
      new RegExp(`^var reportsContainerName = '${REPORTS_CONTAINER}'$`, 'm'),
    );
    const policies = resourcesOf('Microsoft.Storage/storageAccounts/managementPolicies');
    expect(
      policies.map((p) => p.file),
      'one lifecycle policy, on the reports account',
    ).toEqual([REPORT_STORAGE]);
    expect(policies[0]?.body, 'the policy must include the evidence rule').toMatch(/\[evidenceRule\]/);
  });
});

describe('infra: least-privilege built-in roles', () => {
  // Verified against the Azure built-in roles reference (MicrosoftDocs azure-docs
  // articles/role-based-access-control/built-in-roles). Note the AKS Cluster User Role ends in ...2d3f1bd2253f.
  const EXPECTED_ROLES: Readonly<Record<string, string>> = {
    'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    'Storage Blob Delegator': 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
    'Monitoring Reader': '43d0d8ad-25c7-4714-9337-8ba259a9fe05',
    'Azure Kubernetes Service Cluster User Role': '4abbcc35-e782-43d8-92c5-2d3f1bd2253f',
    'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  };
  const FORBIDDEN_ROLES: Readonly<Record<string, string>> = {
    Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
    'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    'Role Based Access Control Administrator': 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  };
  const nameOf = new Map(Object.entries(EXPECTED_ROLES).map(([name, guid]) => [guid, name]));

  /** Every `var <x> = '<guid>' // <role name>` of infra: variable -> { guid, comment, file }. */
  const roleVars = new Map<string, { guid: string; comment: string; file: string }>();
  for (const [file, text] of BICEP) {
    for (const m of text.matchAll(/^var\s+(\w+)\s*=\s*'([0-9a-f-]{36})'\s*\/\/\s*(.+?)\s*$/gim)) {
      roleVars.set(m[1]!, { guid: m[2]!.toLowerCase(), comment: m[3]!, file });
    }
  }

  it('uses exactly the expected built-in role GUIDs', () => {
    const used = new Set<string>();
    for (const [file, text] of BICEP) {
      for (const [guid] of text.matchAll(GUID)) {
        const g = guid.toLowerCase();
        used.add(g);
        expect(nameOf.has(g), `${file}: ${g} is not one of the expected built-in roles`).toBe(true);
      }
    }
    expect([...used].sort(), 'every expected role should be assigned').toEqual(Object.values(EXPECTED_ROLES).sort());
  });

  it('declares each GUID as a named variable whose comment names the role', () => {
    for (const [name, guid] of Object.entries(EXPECTED_ROLES)) {
      const decl = [...roleVars.values()].find((v) => v.guid === guid);
      expect(decl, `no "var <x> = '${guid}' // ${name}" in infra`).toBeDefined();
      expect(decl?.comment, `${decl?.file ?? 'infra'}: the comment of ${guid} must name "${name}"`).toBe(name);
    }
  });

  it('assigns no Owner, Contributor or access-administration role', () => {
    for (const [file, text] of BICEP) {
      for (const [name, guid] of Object.entries(FORBIDDEN_ROLES)) {
        expect(text.toLowerCase(), `${file} assigns ${name}`).not.toContain(guid);
      }
    }
  });

  it('assigns each role on the one resource it is for, to the service principal of the identity', () => {
    const assignments = resourcesOf('Microsoft.Authorization/roleAssignments').map((r) => {
      const role =
        /roleDefinitionId:\s*subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions',\s*(\w+)\)/.exec(
          r.body,
        );
      const scope = /\bscope:\s*(\S+)/.exec(r.body);
      expect(
        role,
        `${r.file} ${r.symbol}: roleDefinitionId must be subscriptionResourceId(..., <role var>)`,
      ).not.toBeNull();
      expect(r.body, `${r.file} ${r.symbol}: principalType`).toMatch(/principalType:\s*'ServicePrincipal'/);
      expect(r.body, `${r.file} ${r.symbol}: principalId`).toMatch(/principalId:\s*principalId\b/);
      const roleVar = roleVars.get(role?.[1] ?? '');
      return `${nameOf.get(roleVar?.guid ?? '') ?? role?.[1] ?? r.symbol} -> ${scope?.[1] ?? '(no scope)'}`;
    });
    expect(assignments.sort()).toEqual(
      [
        'Storage Blob Data Owner -> hostStorage',
        'Storage Queue Data Contributor -> hostStorage',
        'Storage Table Data Contributor -> hostStorage',
        'Storage Blob Data Contributor -> reportsStorage::blobService::container',
        'Storage Blob Delegator -> reportsStorage',
        'Monitoring Metrics Publisher -> applicationInsights',
        'Monitoring Reader -> loadBalancer',
        'Azure Kubernetes Service Cluster User Role -> cluster',
      ].sort(),
    );
  });

  it('deploys the load balancer and AKS assignments into the resource groups named by their ids', () => {
    const main = stripComments(bicep(MAIN));
    expect(moduleBlock('loadBalancerRoles'), 'loadBalancerRoles scope').toMatch(
      /scope:\s*resourceGroup\(loadBalancerIdParts\[2\],\s*loadBalancerIdParts\[4\]\)/,
    );
    expect(moduleBlock('aksRoles'), 'aksRoles scope').toMatch(
      /scope:\s*resourceGroup\(clusterIdParts\[2\],\s*clusterIdParts\[4\]\)/,
    );
    expect(main).toMatch(/^var loadBalancerIdParts = split\(loadBalancerId, '\/'\)$/m);
    expect(main).toMatch(/^var clusterIdParts = split\(aksClusterId, '\/'\)$/m);
  });
});

describe('infra: SNAT metric alerts and the action group', () => {
  const alerts = resourcesOf('Microsoft.Insights/metricAlerts');
  const byMetric = new Map(alerts.map((a) => [/metricName:\s*'(\w+)'/.exec(a.body)?.[1] ?? a.symbol, a.body]));
  const backendSplit = /name:\s*'BackendIPAddress'\s*operator:\s*'Include'\s*values:\s*\[\s*'\*'\s*\]/;

  it('alerts on UsedSnatPorts and on SnatConnectionCount', () => {
    expect([...byMetric.keys()].sort(), 'metric alerts by metricName').toEqual([
      'SnatConnectionCount',
      'UsedSnatPorts',
    ]);
  });

  it('evaluates each node separately, every minute over 5 minutes, and resolves itself', () => {
    for (const [metric, body] of byMetric) {
      expect(body, `${metric}: split by BackendIPAddress (Include *)`).toMatch(backendSplit);
      expect(body, `${metric}: criteria odata.type`).toContain(
        "'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'",
      );
      expect(body, `${metric}: evaluationFrequency`).toMatch(/evaluationFrequency:\s*'PT1M'/);
      expect(body, `${metric}: windowSize`).toMatch(/windowSize:\s*'PT5M'/);
      expect(body, `${metric}: autoMitigate`).toMatch(/autoMitigate:\s*true/);
      expect(body, `${metric}: metric namespace`).toMatch(/metricNamespace:\s*'Microsoft\.Network\/loadBalancers'/);
      expect(body, `${metric}: scope`).toMatch(/scopes:\s*\[\s*loadBalancerId\s*\]/);
      expect(body, `${metric}: actions`).toMatch(/actions:\s*actions\b/);
    }
  });

  it('counts failed connections only, and measures used ports against the allocation', () => {
    const failed = byMetric.get('SnatConnectionCount') ?? '';
    expect(failed, 'SnatConnectionCount: ConnectionState = failed').toMatch(
      /name:\s*'ConnectionState'\s*operator:\s*'Include'\s*values:\s*\[\s*'failed'\s*\]/,
    );
    expect(failed, 'SnatConnectionCount aggregation').toMatch(/timeAggregation:\s*'Total'/);
    expect(failed).toMatch(/threshold:\s*failedConnectionsThreshold\b/);
    const used = byMetric.get('UsedSnatPorts') ?? '';
    expect(used).toMatch(/timeAggregation:\s*'(Average|Maximum)'/);
    expect(used, 'UsedSnatPorts: TCP ports only').toMatch(
      /name:\s*'ProtocolType'\s*operator:\s*'Include'\s*values:\s*\[\s*'TCP'\s*\]/,
    );
    expect(used).toMatch(/threshold:\s*usedSnatPortsThreshold\b/);
    const text = stripComments(bicep(ALERTS));
    expect(text).toMatch(
      /^var allocatedPorts = allocatedOutboundPorts > 0 \? allocatedOutboundPorts : defaultAllocatedPorts$/m,
    );
    expect(text).toMatch(/^var usedSnatPortsThreshold = max\(1, allocatedPorts \* usedSnatPortsPercent \/ 100\)$/m);
    const percent = paramsOf(MAIN).find((p) => p.name === 'usedSnatPortsPercent');
    expect(literal(percent?.defaultText ?? null), 'usedSnatPortsPercent default').toBe('80');
  });

  it('calls POST /api/alerts with the common alert schema and the function key', () => {
    const groups = resourcesOf('Microsoft.Insights/actionGroups');
    expect(
      groups.map((g) => g.file),
      'one action group',
    ).toEqual([ACTION_GROUP]);
    const body = groups[0]?.body ?? '';
    expect(body, 'webhook receiver useCommonAlertSchema').toMatch(/useCommonAlertSchema:\s*true/);
    const uri = /serviceUri:\s*'([^\n]*)'/.exec(body)?.[1] ?? '';
    expect(uri, 'webhook URL: https://<app host>/api/alerts?code=<function key>').toMatch(
      /^https:\/\/\$\{functionApp\.properties\.defaultHostName\}\/api\/alerts\?code=\$\{uriComponent\(listKeys\('\$\{functionApp\.id\}\/host\/default', '[\d-]+'\)\.functionKeys\.default\)\}/,
    );
    expect(stripComments(bicep(ACTION_GROUP)), 'alert secret query parameter name').toContain(
      `'&${ALERT_SECRET_QUERY}=\${uriComponent(alertSecret)}'`,
    );
    // The route the URL names is the one the code registers (default route prefix "api").
    expect(read('functions/http-alerts.ts'), 'functions/http-alerts.ts route').toMatch(/route:\s*'alerts'/);
    expect(read('host.json'), 'host.json must not change the route prefix').not.toContain('routePrefix');
  });

  it('creates the action group only when asked, and wires the alerts to it', () => {
    const main = stripComments(bicep(MAIN));
    expect(main, 'action group module condition').toMatch(
      /^module actionGroup 'modules\/action-group\.bicep' = if \(alertWebhookEnabled\) \{/m,
    );
    expect(moduleParams('alerts').get('actionGroupId'), 'alerts actionGroupId').toBe(
      "alertWebhookEnabled ? '${rg.id}/providers/Microsoft.Insights/actionGroups/${actionGroupName}' : ''",
    );
    const enabled = paramsOf(MAIN).find((p) => p.name === 'alertWebhookEnabled');
    expect(literal(enabled?.defaultText ?? null), 'alertWebhookEnabled must default to false (no key yet)').toBe(
      'false',
    );
  });
});

describe('infra: the allocated-ports table is the one the code uses', () => {
  it('equals DEFAULT_PORTS_BY_POOL_SIZE of lib/analysis/recommendations.ts', () => {
    const block = varBlock(ALERTS, 'defaultPortsByPoolSize');
    const rows = [...block.matchAll(/\{\s*maxNodes:\s*(\d+)\s*ports:\s*(\d+)\s*\}/g)].map((m) => ({
      maxNodes: Number(m[1]),
      ports: Number(m[2]),
    }));
    expect(rows, `${ALERTS} defaultPortsByPoolSize`).toEqual(DEFAULT_PORTS_BY_POOL_SIZE);
  });

  it('bounds the node count by the last row of the table', () => {
    const last = DEFAULT_PORTS_BY_POOL_SIZE[DEFAULT_PORTS_BY_POOL_SIZE.length - 1];
    for (const path of [MAIN, ALERTS]) {
      expect(stripComments(bicep(path)), `${path} aksNodeCount @maxValue`).toMatch(
        new RegExp(`@maxValue\\(${String(last?.maxNodes)}\\)\\s*param aksNodeCount int\\b`),
      );
    }
  });
});

describe('infra: main.parameters.json matches main.bicep', () => {
  const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> };
  const params = paramsOf(MAIN);
  const declared = new Map(params.map((p) => [p.name, p]));

  it('names only declared parameters, and every parameter without a default', () => {
    for (const name of Object.keys(file.parameters)) {
      expect(declared.has(name), `main.parameters.json sets ${name}, which main.bicep does not declare`).toBe(true);
    }
    for (const p of params.filter((q) => q.defaultText === null)) {
      expect(Object.keys(file.parameters), `main.bicep param ${p.name} has no default and no value`).toContain(p.name);
    }
    expect(file.parameters.environmentName?.value).toBe('${AZURE_ENV_NAME}');
    expect(file.parameters.location?.value).toBe('${AZURE_LOCATION}');
  });

  it('fills each from an azd environment variable, with the same default as main.bicep', () => {
    for (const [name, { value }] of Object.entries(file.parameters)) {
      const m = /^\$\{([A-Z][A-Z0-9_]*)(?:=([^}]*))?\}$/.exec(String(value));
      expect(
        m,
        `main.parameters.json ${name}: expected "\${VAR}" or "\${VAR=default}", got ${String(value)}`,
      ).not.toBeNull();
      const [, variable, fileDefault] = m ?? [];
      if (variable?.startsWith('SNAT_')) {
        expect(SETTING_NAMES as string[], `${name} reads ${variable}, not a setting name`).toContain(variable);
      }
      const bicepDefault = literal(declared.get(name)?.defaultText ?? null);
      if (fileDefault !== undefined && bicepDefault !== null) {
        expect(fileDefault, `${name}: default in main.parameters.json vs main.bicep`).toBe(bicepDefault);
      }
    }
  });

  it('maps each SNAT_* variable to the parameter that sets that setting', () => {
    const args = moduleParams('functionApp');
    const settings = entries(varBlock(FUNCTION_APP, 'appSettings'));
    for (const [name, { value }] of Object.entries(file.parameters)) {
      const variable = /^\$\{(SNAT_[A-Z0-9_]+)/.exec(String(value))?.[1] as SettingName | undefined;
      if (variable === undefined) continue;
      // parameters.json name -> main.bicep passes it as <arg> -> function-app.bicep sets SNAT_X: <arg>
      const arg = [...args].find(([, v]) => v === name)?.[0];
      expect(arg, `main.bicep does not pass ${name} to the function-app module`).toBeDefined();
      expect(settings.get(variable), `${variable} (from ${name}) should be set from ${arg ?? '?'}`).toBe(arg);
      if (SETTINGS[variable].secret) {
        expect(declared.get(name)?.type, `${name} holds a secret`).toBe('string');
        expect(bicep(MAIN), `${name} holds a secret: @secure()`).toMatch(
          new RegExp(`@secure\\(\\)\\s*(@description\\('[^\\n]*'\\)\\s*)?param ${name} string`),
        );
      }
    }
  });
});

describe('infra: azd wiring and the Flex Consumption runtime', () => {
  const yaml = read('azure.yaml');

  it('azure.yaml names the infra folder and a function-hosted service', () => {
    expect(yaml, 'azure.yaml name').toMatch(/^name:\s*snat-responder\s*$/m);
    expect(yaml, 'azure.yaml infra.path').toMatch(/^infra:\s*\n(?:[ \t]+\S.*\n)*?[ \t]+path:\s*\.?\/?infra\s*$/m);
    expect(yaml, 'azure.yaml service responder').toMatch(
      /^services:\s*\n[ \t]+responder:\s*\n(?:[ \t]{4,}\S.*\n)*?[ \t]{4,}host:\s*function\s*$/m,
    );
    expect(yaml, 'azure.yaml project').toMatch(/^[ \t]{4,}project:\s*\.\/?\s*$/m);
    expect(yaml, 'azure.yaml language').toMatch(/^[ \t]{4,}language:\s*js\s*$/m);
  });

  it('the hook script exists, is POSIX sh and prints no secret setting', () => {
    const run = /^[ \t]+run:\s*(\S+)\s*$/m.exec(yaml)?.[1];
    expect(run, 'azure.yaml hook run').toBe('./infra/scripts/postdeploy.sh');
    expect(existsSync(new URL(run ?? '', root)), `${run ?? 'the hook script'} is missing`).toBe(true);
    const script = read('infra/scripts/postdeploy.sh');
    expect(script.startsWith('#!/bin/sh\n'), 'postdeploy.sh shebang').toBe(true);
    expect(script).toMatch(/^set -eu$/m);
    for (const name of SETTING_NAMES.filter((n) => SETTINGS[n].secret)) {
      expect(script, `postdeploy.sh must not touch the secret ${name}`).not.toContain(name);
    }
  });

  it('tags the Function App with the azd service name', () => {
    const service = /^services:\s*\n[ \t]+(\w[\w-]*):/m.exec(yaml)?.[1];
    expect(moduleParams('functionApp').get('serviceName'), 'main.bicep serviceName').toBe(`'${service}'`);
    expect(stripComments(bicep(FUNCTION_APP))).toMatch(/'azd-service-name':\s*serviceName/);
  });

  it('runs Node 20 on the Flex Consumption plan (FC1)', () => {
    const [plan] = resourcesOf('Microsoft.Web/serverfarms');
    expect(plan?.body, 'plan sku FC1').toMatch(/name:\s*'FC1'/);
    expect(plan?.body, 'plan tier FlexConsumption').toMatch(/tier:\s*'FlexConsumption'/);
    const [site] = resourcesOf('Microsoft.Web/sites');
    expect(site?.body, 'functionAppConfig.runtime').toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'20'\s*\}/);
    expect(site?.body, 'deployment storage authenticated by the user-assigned identity').toMatch(
      /authentication:\s*\{\s*type:\s*'UserAssignedIdentity'\s*userAssignedIdentityResourceId:\s*identityId\s*\}/,
    );
    expect(site?.body, 'identity').toMatch(/type:\s*'UserAssigned'/);
    expect(site?.body, 'httpsOnly').toMatch(/httpsOnly:\s*true/);
  });
});
