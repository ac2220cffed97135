/**
 * The whole investigation (orchestrations/investigate.ts under the in-process driver) against the simulated AKS
 * cluster (sim/), through the real @kubernetes/client-node: not a real AKS node, no real tcptracer. Each test starts
 * its own sim (faults are per sim) with a 1 s capture window and the sim's Job timeline at 1/20 of real time.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../lib/report/model.js';
import { startSim } from '../../sim/server.js';
import type { Faults, RunningSim } from '../../sim/server.js';
import { investigateSim } from './sim-run.js';
import type { SimRun } from './sim-run.js';

async function withSim<T>(
  scenario: string,
  faults: Partial<Faults>,
  body: (sim: RunningSim) => Promise<T>,
): Promise<T> {
  const sim = await startSim({ scenario, timeScale: 0.05, faults });
  try {
    return await body(sim);
  } finally {
    await sim.close();
  }
}

function reportOf(run: SimRun): Report {
  expect(run.result.outcome).toBe('reported');
  expect(run.report).not.toBeNull();
  return run.report!;
}

/** A complete report: the three files on disk, the JSON on disk equal to the report returned, the schema's parts. */
function expectComplete(run: SimRun): Report {
  const report = reportOf(run);
  for (const file of ['report.json', 'report.md', 'report.html']) expect(existsSync(join(run.out, file))).toBe(true);
  expect(JSON.parse(readFileSync(join(run.out, 'report.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
  expect(report.artifacts.json).toBe(join(run.out, 'report.json'));
  expect(report.node.name).toBe('aks-nodepool1-12345678-vmss000000');
  expect(report.findings.length).toBeGreaterThan(0);
  return report;
}

const key = (p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`;
const steps = (report: Report) => [...new Set(report.degraded.map((d) => d.step))].sort();

describe('investigate against the simulated cluster (default scenario)', () => {
  it('ranks the expected culprit first, attributes every tcptracer source, writes the files, leaves no Job', async () => {
    await withSim('default', {}, async (sim) => {
      const run = await investigateSim(sim);
      const report = expectComplete(run);
      expect(key(report.pods[0]!)).toBe(sim.expected.culprit);
      expect(report.pods[0]).toMatchObject({ source: 'exec', establishedPublicOutbound: 870, synSentPublic: 64 });
      expect(report.pods[0]!.topDestinations[0]).toMatchObject({ ip: '20.60.1.9', port: 443 });
      expect(report.capture).toMatchObject({ status: 'complete', variant: 'bcc', durationSeconds: 1 });
      expect(report.capture.events.connect).toBeGreaterThan(0);
      // Sources by netns and by IP: nothing unattributed (the default scenario plants no unknown source).
      expect(report.dataQuality.filter((n) => n.source === 'attribution')).toEqual([]);
      expect(report.pods.some((p) => p.source === 'capture-only' && p.owner?.includes('unattributed'))).toBe(false);
      // The culprit's connects were seen by tcptracer, and matched to it.
      expect(report.pods[0]!.connectsPerSecond).toBeGreaterThan(0);
      // Only the scenario's own census limits are stated; the capture itself did not degrade.
      expect(steps(report)).toEqual(['pod census']);
      // The capture pod itself is not a workload of the node.
      expect(report.pods.some((p) => p.namespace === 'snat-responder-capture')).toBe(false);
      expect(existsSync(join(run.out, 'capture.log'))).toBe(true);
      expect(report.artifacts.rawCapture).toBe(join(run.out, 'capture.log'));
      expect(run.result).toMatchObject({ cleanup: 'deleted', degraded: [] });
      expect(sim.jobs()).toEqual([]);

      // Progress: phases in order, census progress up to all pods.
      const phases = [...new Set(run.statuses.map((s) => s.phase))];
      expect(phases).toEqual([
        'resolving',
        'starting capture',
        'listing pods',
        'census',
        'capturing',
        'collecting',
        'cleaning up',
        'reporting',
        'done',
      ]);
      expect(run.statuses.at(-1)!.pods).toEqual({ done: 13, total: 13 });
      // Every activity payload is small JSON (bulk evidence stays in the store).
      for (const e of run.events) if (e.type === 'end') expect(e.outputBytes ?? 0).toBeLessThan(2_000);
      // Beyond the 1 s window, the rest takes well under two seconds here.
      expect(run.ms).toBeLessThan(1_000 + 2_000);
    });
  });

  it('finds the node by exact IP (10.224.0.4 is not 10.224.0.40) and by name', async () => {
    await withSim('default', {}, async (sim) => {
      const by40 = await investigateSim(sim, { node: { ip: '10.224.0.40' } });
      expect(reportOf(by40).node).toEqual({ name: 'aks-nodepool1-12345678-vmss000001', ip: '10.224.0.40' });
      const byName = await investigateSim(sim, { node: { name: sim.expected.node } });
      expect(reportOf(byName).node).toEqual({ name: sim.expected.node, ip: '10.224.0.4' });
      expect(key(byName.report!.pods[0]!)).toBe(sim.expected.culprit);
      expect(sim.jobs()).toEqual([]);
    });
  });

  it('an unknown node is a value naming it; nothing is created', async () => {
    await withSim('default', {}, async (sim) => {
      const run = await investigateSim(sim, { node: { ip: '10.224.0.5' } });
      expect(run.result).toMatchObject({ outcome: 'target-not-found', reason: 'not-found' });
      expect(run.result.outcome === 'target-not-found' && run.result.message).toContain('10.224.0.5');
      expect(run.events.filter((e) => e.type === 'start').map((e) => e.activity)).toEqual(['resolveTarget']);
      expect(sim.jobs()).toEqual([]);
    });
  });

  it('a node with no pods: the census fan-out is skipped (no empty all), the report is complete', async () => {
    await withSim('small', {}, async (sim) => {
      const run = await investigateSim(sim, { node: { name: 'aks-nodepool1-12345678-vmss000001' } });
      const report = reportOf(run);
      // Only the node's own network namespace (the host) remains; no pod.
      expect(report.pods.map((p) => p.namespace)).toEqual(['(node)']);
      expect(run.events.some((e) => e.activity === 'censusPods')).toBe(false);
      expect(report.capture.status).toBe('complete');
      expect(sim.jobs()).toEqual([]);
    });
  });
});

describe('every injected fault ends in a complete report that states what degraded, and no Job left', () => {
  it.concurrent.each([
    ['jobUnschedulable', { jobUnschedulable: true }, 'capture', /was never scheduled on the node \(unschedulable/],
    ['jobImagePullFailure', { jobImagePullFailure: true }, 'capture', /its image could not be pulled \(image-pull/],
    ['logCutShort', { logCutShort: true }, 'capture', /capture log has no trailer \(cut short/],
    [
      'execForbidden',
      { execForbidden: true },
      'pod census',
      /^exec forbidden for 9 pods .*; 9 taken from the node-side census instead$/,
    ],
    [
      'execDropMidStream',
      { execDropMidStream: true },
      'pod census',
      /^exec connection dropped for 8 pods .*node-side census instead$/,
    ],
  ] as const)('%s', async (_name, faults, step, reason) => {
    await withSim('default', faults, async (sim) => {
      const run = await investigateSim(sim);
      const report = expectComplete(run);
      expect(report.degraded.filter((d) => d.step === step).some((d) => reason.test(d.reason))).toBe(true);
      // The rest still speaks: the culprit is first, from exec or from the node-side census.
      expect(key(report.pods[0]!)).toBe(sim.expected.culprit);
      expect(report.pods[0]!.establishedPublicOutbound).toBe(870);
      if (step === 'capture' && _name !== 'logCutShort') {
        expect(report.capture.status).toBe('failed');
        expect(report.pods[0]!.source).toBe('exec');
      }
      if (_name === 'logCutShort') expect(report.capture.truncated).toBe(true);
      if (step === 'pod census') expect(report.pods[0]!.source).toBe('node-census');
      expect(sim.jobs()).toEqual([]);
    });
  });

  it.concurrent('latency (150 ms on every API request): slower, but nothing beyond the scenario degrades', async () => {
    await withSim('default', { latencyMs: 150 }, async (sim) => {
      const run = await investigateSim(sim);
      const report = expectComplete(run);
      // The default scenario's own pod census degradations (a forbidden pod, distroless images) and nothing else.
      expect(steps(report)).toEqual(['pod census']);
      expect(report.capture.status).toBe('complete');
      expect(key(report.pods[0]!)).toBe(sim.expected.culprit);
      expect(sim.jobs()).toEqual([]);
    });
  });

  it.concurrent('rateLimit (429) that the retries absorb: no degradation, retries honoured Retry-After', async () => {
    await withSim('default', { rateLimit: 3 }, async (sim) => {
      const run = await investigateSim(sim);
      const report = expectComplete(run);
      expect(run.retries.map((r) => r.retryAfterMs)).toEqual([1000, 1000, 1000]);
      expect(steps(report)).toEqual(['pod census']);
      expect(key(report.pods[0]!)).toBe(sim.expected.culprit);
      expect(sim.jobs()).toEqual([]);
    });
  });

  it.concurrent('rateLimit (429) that outlasts the retries of the pod list: "pod list" degraded', async () => {
    await withSim('default', {}, async (sim) => {
      const run = await investigateSim(sim, {
        onActivity: (e) => {
          if (e.type === 'start' && e.activity === 'listPods') sim.setFaults({ rateLimit: 4 });
        },
      });
      const report = expectComplete(run);
      const listed = report.degraded.find((d) => d.step === 'pod list');
      expect(listed?.reason).toMatch(/^the pods on the node could not be listed \(list pods on node .*HTTP 429/);
      expect(report.capture.status).toBe('complete');
      expect(sim.jobs()).toEqual([]);
    });
  });

  it.concurrent('serverErrors (500) that the retries absorb, and ones that outlast them on the log read', async () => {
    await withSim('default', { serverErrors: 2 }, async (sim) => {
      const run = await investigateSim(sim, {
        onActivity: (e) => {
          if (e.type === 'start' && e.activity === 'collectCapture') sim.setFaults({ serverErrors: 4 });
        },
      });
      const report = expectComplete(run);
      expect(run.retries.filter((r) => (r.error as { code?: number }).code === 500).length).toBe(2 + 3);
      const capture = report.degraded.find((d) => d.step === 'capture');
      expect(capture?.reason).toMatch(
        /^the capture log of snat-responder-capture\/snat-capture-.* could not be read \(read log of pod .*HTTP 500/,
      );
      expect(report.capture.status).toBe('failed');
      expect(key(report.pods[0]!)).toBe(sim.expected.culprit);
      expect(sim.jobs()).toEqual([]);
    });
  });
});

describe('cancellation', () => {
  it('aborting during the capture still deletes the Job and rejects as cancelled', async () => {
    await withSim('default', {}, async (sim) => {
      const controller = new AbortController();
      const run = investigateSim(sim, {
        captureSeconds: 30,
        signal: controller.signal,
        onActivity: (e) => {
          if (e.type === 'end' && e.activity === 'censusPods') controller.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: 'WorkflowCancelledError' });
      expect(sim.jobs()).toEqual([]);
    });
  });
});
