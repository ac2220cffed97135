import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('snat-responder demo (investigate against the simulated AKS cluster, not AKS)', () => {
  let out = '';
  afterEach(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('writes the report files, names the scenario culprit first and exits 0', async () => {
    out = await mkdtemp(join(tmpdir(), 'snat-demo-test-'));
    const run = await runCli(['demo', '--out', out]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "demo: the report ranks shop/checkout-7d9f8b6c5d-x2k4p first: the scenario's culprit.",
    );
    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as {
      pods: Array<{ namespace: string; name: string; topDestinations: Array<{ ip: string; port: number }> }>;
    };
    expect(report.pods[0]).toMatchObject({ namespace: 'shop', name: 'checkout-7d9f8b6c5d-x2k4p' });
    expect(report.pods[0]?.topDestinations[0]).toMatchObject({ ip: '20.60.1.9', port: 443 });
    for (const file of ['report.md', 'report.html', 'capture.log']) {
      expect((await readFile(join(out, file), 'utf8')).length).toBeGreaterThan(100);
    }
  });
});
