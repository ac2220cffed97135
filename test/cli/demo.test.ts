import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('snat-responder demo (Azurite, the simulated AKS cluster and ARM, a webhook sink and serve; not Azure, not AKS)', () => {
  let out = '';
  afterEach(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('turns a posted SNAT alert into a report in Blob Storage and a signed notification, and exits 0', async () => {
    out = await mkdtemp(join(tmpdir(), 'snat-demo-test-'));
    const run = await runCli(['demo', '--out', out]);
    expect(run.stderr).toContain('demo: 202 Accepted: investigation ');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('demo: ok   the report ranks shop/checkout-7d9f8b6c5d-x2k4p first');
    expect(run.stdout).toContain('demo: ok   the webhook notification arrived and its HMAC signature verifies');
    expect(run.stdout).toContain('demo: ok   no capture Job is left in the cluster');
    expect(run.stdout).toContain(
      "demo: ok   the report carries the node's SNAT metrics from Azure Monitor (simulated): 1024 allocated, 1010 used, 60 failed connections",
    );
    expect(run.stdout).not.toContain('demo: FAIL');
    // The summary measures the culprit against the node's allocation.
    expect(run.stdout).toContain(
      'Node aks-nodepool1-12345678-vmss000000 (10.224.0.4): 1024 allocated SNAT ports, 1010 used',
    );
    expect(run.stdout).toMatch(/shop\/checkout-7d9f8b6c5d-x2k4p .* 20\.60\.1\.9:443 x\d+ \(\d+\.\d%\)/);
    expect(run.stderr).toContain('demo: simulated Azure Monitor (the ARM sim');

    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      trigger: { kind: string };
      snat: { allocatedPorts: number | null; usedPorts: number | null; failedConnections: number | null };
      degraded: Array<{ step: string }>;
      pods: Array<{
        namespace: string;
        name: string;
        topDestinations: Array<{ ip: string; port: number; flows: number; shareOfAllocated: number | null }>;
      }>;
    };
    expect(report.trigger.kind).toBe('alert');
    // From the simulated Azure Monitor (the ARM sim) over the alert's 5-minute window: 12 failed connections a minute.
    expect(report.snat).toEqual({ allocatedPorts: 1024, usedPorts: 1010, failedConnections: 60 });
    expect(report.degraded.map((d) => d.step)).not.toContain('snat metrics');
    expect(report.pods[0]?.topDestinations[0]?.shareOfAllocated).toBeCloseTo(
      (report.pods[0]?.topDestinations[0]?.flows ?? 0) / 1024,
      3,
    );
    expect(report.pods[0]).toMatchObject({ namespace: 'shop', name: 'checkout-7d9f8b6c5d-x2k4p' });
    expect(report.pods[0]?.topDestinations[0]).toMatchObject({ ip: '20.60.1.9', port: 443 });
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('<svg');

    const notification = JSON.parse(await readFile(join(out, 'notification.json'), 'utf8')) as {
      signatureValid: boolean;
      payload: { node: { ip: string }; verdict: string };
    };
    expect(notification.signatureValid).toBe(true);
    expect(notification.payload.node.ip).toBe('10.224.0.4');
    expect(notification.payload.verdict).toContain('shop/checkout-7d9f8b6c5d-x2k4p');
  });
});
