/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access --
   the JSON bodies of the HTTP contract are read loosely; their shapes are what each case asserts */
/**
 * `snat-responder serve`'s server (lib/serve/server.ts) against the simulated AKS cluster: reports to Blob Storage
 * (Azurite, real) when a store is given, and shutdown cancelling a running investigation (its capture Job deleted).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { BlobReportStore } from '../../lib/azure/blob-store.js';
import { makeKubeClients } from '../../lib/k8s/access.js';
import { investigationSettingsOf, startServe } from '../../lib/serve/server.js';
import type { ServeOptions } from '../../lib/serve/server.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { azuriteConnectionString } from '../../sim/azurite.js';

// Azurite's well-known development key (public, documented).

let sim: RunningSim;
beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
});
afterAll(() => sim?.close());

const alert = JSON.stringify({
  schemaId: 'azureMonitorCommonAlertSchema',
  data: {
    essentials: {
      alertId: '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/providers/Microsoft.AlertsManagement/alerts/a1',
      alertRule: 'used-snat-ports',
      severity: 'Sev2',
      signalType: 'Metric',
      monitorCondition: 'Fired',
      alertTargetIDs: [
        '/subscriptions/6f1d2c3b-4a59-4e8f-9a7b-0c1d2e3f4a5b/resourcegroups/mc_rg_aks_westeurope/providers/microsoft.network/loadbalancers/kubernetes',
      ],
      firedDateTime: '2024-05-02T10:11:03Z',
    },
    alertContext: {
      conditionType: 'SingleResourceMultipleMetricCriteria',
      condition: {
        windowSize: 'PT5M',
        allOf: [
          {
            metricName: 'UsedSnatPorts',
            operator: 'GreaterThan',
            threshold: '1000',
            timeAggregation: 'Average',
            dimensions: [{ name: 'BackendIPAddress', value: '10.224.0.4' }],
            metricValue: 1012,
          },
        ],
      },
    },
  },
});

function options(extra: Partial<ServeOptions>): ServeOptions {
  return {
    clients: makeKubeClients(sim.kubeConfig(), { requestTimeoutMs: 5_000 }),
    clusterName: 'aks-sim',
    settings: serveSettings({}).settings,
    classifier: new AddressClassifier(),
    outDir: mkdtempSync(join(tmpdir(), 'snat-serve-lc-')),
    captureSeconds: 1,
    run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
    ...extra,
  };
}

async function status(url: string, id: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}/api/investigations/${id}`)).json()) as Record<string, any>;
}

describe('serve: Blob output and shutdown (simulated cluster, Azurite)', () => {
  it('with a Blob store, the report goes to Blob and the status carries read links (SAS)', async () => {
    const cs = azuriteConnectionString(inject('azuriteBlobUrl'));
    const blob = BlobReportStore.fromConnectionString(cs, { container: 'serve-reports' });
    const server = await startServe(options({ blob }));
    try {
      const res = await fetch(`${server.url}/api/alerts`, { method: 'POST', body: alert });
      const { investigations } = (await res.json()) as { investigations: Array<{ id: string }> };
      const id = investigations[0]!.id;
      let body = await status(server.url, id);
      for (let i = 0; i < 300 && ['pending', 'running'].includes(String(body.status)); i++) {
        await new Promise((r) => setTimeout(r, 50));
        body = await status(server.url, id);
      }
      expect(body).toMatchObject({ status: 'completed', outcome: 'reported' });
      expect(String(body.report.keys.json)).toMatch(/\/serve-reports\/aks-sim\/.+\/report\.json$/);
      expect(String(body.report.links.json)).toMatch(/\?.*sig=/);
      const report = (await (await fetch(String(body.report.links.json))).json()) as {
        pods: Array<{ namespace: string; name: string }>;
      };
      expect(`${report.pods[0]!.namespace}/${report.pods[0]!.name}`).toBe(sim.expected.culprit);
    } finally {
      await server.close();
    }
  });

  it('close() cancels a running investigation; its capture Job is deleted', async () => {
    const server = await startServe(options({ captureSeconds: 60 }));
    const res = await fetch(`${server.url}/api/alerts`, { method: 'POST', body: alert });
    const id = ((await res.json()) as { investigations: Array<{ id: string }> }).investigations[0]!.id;
    for (let i = 0; i < 200 && sim.jobs().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(sim.jobs()).toHaveLength(1);
    expect((await status(server.url, id)).status).toBe('running');
    await server.close();
    expect(sim.jobs()).toEqual([]);
    await expect(fetch(`${server.url}/api/investigations`)).rejects.toThrow();
  });
});

describe('serve: settings handed to the workflow', () => {
  it('passes notification targets through when set, and none otherwise', () => {
    expect(investigationSettingsOf(serveSettings({}).settings).notify).toBeUndefined();
    const withTargets = serveSettings({
      SNAT_TEAMS_WEBHOOK_URL: 'https://example.webhook.office.com/workflows/abc',
      SNAT_WEBHOOK_URL: 'https://hooks.example.net/snat',
      SNAT_WEBHOOK_SECRET: 'a-webhook-secret-long-enough',
      SNAT_REPORT_LINK_TTL_MINUTES: '60',
    }).settings;
    expect(investigationSettingsOf(withTargets).notify).toEqual({
      teamsWebhookUrl: 'https://example.webhook.office.com/workflows/abc',
      webhook: { url: 'https://hooks.example.net/snat', secret: 'a-webhook-secret-long-enough' },
      linkTtlSeconds: 3600,
    });
  });
});
