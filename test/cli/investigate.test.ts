/**
 * `snat-responder investigate` against the simulated AKS cluster (sim/), not a real one: in-process for the outcomes
 * and exit codes, and as child processes (`snat-responder sim` + `snat-responder investigate`) for Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Progress, investigateParams } from '../../cli/investigate.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { runCli } from '../helpers/cli.js';

const BIN = fileURLToPath(new URL('../../bin/snat-responder.js', import.meta.url));

let sim: RunningSim;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), 'snat-investigate-cli-'));

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
});
afterAll(() => sim?.close());

describe('snat-responder investigate (in-process, simulated cluster)', () => {
  it('writes the report, prints the ranked summary and the paths, exits 0, leaves no Job', async () => {
    const out = join(dir, 'ok');
    const run = await runCli([
      'investigate',
      '--node',
      '10.224.0.4',
      '--kubeconfig',
      kubeconfig,
      '--duration',
      '1',
      '--out',
      out,
      '--allocated-ports',
      '1024',
    ]);
    expect(run.stderr).not.toContain('unexpected error');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe(
      'Node aks-nodepool1-12345678-vmss000000 (10.224.0.4): 1024 allocated SNAT ports; capture complete.',
    );
    // The first ranked row is the culprit.
    const header = lines.findIndex((l) => l.startsWith('#  pod'));
    expect(lines[header + 1]).toMatch(/^1 {2}shop\/checkout-7d9f8b6c5d-x2k4p +\d/);
    expect(run.stdout).toContain(`Report: ${join(out, 'report.json')}`);
    expect(run.stdout).toContain(`Capture: ${join(out, 'capture.log')}`);
    expect(run.stdout).toMatch(/\nDegraded \(3\):\n- pod census: /);
    for (const f of ['report.json', 'report.md', 'report.html', 'capture.log'])
      expect(existsSync(join(out, f))).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { trigger: unknown };
    expect(report.trigger).toEqual({ kind: 'cli', source: 'investigate --node 10.224.0.4' });
    // Progress on stderr: plain lines when stderr is not a terminal, one per change.
    expect(run.stderr).toContain('snat-responder: pod census | pods 13/13 | node aks-nodepool1-12345678-vmss000000\n');
    expect(run.stderr.split('\n').at(-2)).toBe(
      'snat-responder: done | pods 13/13 | node aks-nodepool1-12345678-vmss000000',
    );
    expect(sim.jobs()).toEqual([]);
  });

  it('by name works too', async () => {
    const run = await runCli([
      'investigate',
      '--node',
      sim.expected.node,
      '--kubeconfig',
      kubeconfig,
      '--duration',
      '1',
      '--out',
      join(dir, 'by-name'),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Node aks-nodepool1-12345678-vmss000000 (10.224.0.4)');
  });

  it.each([
    ['10.224.0.5', 'node "10.224.0.5" not found: no node has InternalIP 10.224.0.5'],
    ['aks-nodepool1-12345678-vmss000009', 'node "aks-nodepool1-12345678-vmss000009" not found: no node named'],
  ])('unknown node %s: exit 4 naming it', async (node, message) => {
    const run = await runCli(['investigate', '--node', node, '--kubeconfig', kubeconfig, '--out', join(dir, 'x')]);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`snat-responder: ${message}`);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    expect(sim.jobs()).toEqual([]);
  });

  it.each([
    [['--node', 'Node_1'], '--node: "Node_1" is neither a node name'],
    [['--node', '10.224.0.4/32'], '--node: "10.224.0.4/32" is neither'],
    [['--node', 'a;rm -rf /'], '--node: "a;rm -rf /" is neither'],
    [['--node', ''], '--node: required'],
    [[], '--node: required'],
    [['--node', 'n', '--duration', '0'], "--duration: '0' is not a whole number 1..600"],
    [['--node', 'n', '--duration', '601'], "--duration: '601' is not a whole number 1..600"],
    [['--node', 'n', '--namespace', 'Bad_NS'], '--namespace: "Bad_NS" is not a namespace name'],
    [['--node', 'n', '--image', 'x; sh'], '--image: capture image "x; sh" is not an image reference'],
    [['--node', 'n', '--concurrency', '0'], "--concurrency: '0' is not a whole number 1..256"],
    [['--node', 'n', '--private-cidrs', '10.0.0.0/33'], '--private-cidrs: not a CIDR: 10.0.0.0/33'],
  ])('bad options %j: exit 2, nothing asked of the cluster', async (args, message) => {
    const before = sim.requests();
    const run = await runCli(['investigate', ...args, '--kubeconfig', kubeconfig]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`snat-responder: ${message}`);
    expect(sim.requests()).toBe(before);
    expect(sim.jobs()).toEqual([]);
  });

  it('an unreachable cluster or a missing kubeconfig: exit 4 saying which', async () => {
    const missing = await runCli(['investigate', '--node', 'n', '--kubeconfig', join(dir, 'nope')]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(`kubeconfig ${join(dir, 'nope')}: no such file`);
    const dead = join(dir, 'dead-kubeconfig');
    // A port nothing listens on (the sim's own, once closed, would race with other tests): port 9 (discard).
    writeFileSync(dead, sim.kubeconfig.replace(/http:\/\/127\.0\.0\.1:\d+/, 'http://127.0.0.1:9'));
    const unreachable = await runCli(['investigate', '--node', '10.224.0.4', '--kubeconfig', dead]);
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(/snat-responder: list nodes: ECONNREFUSED talking to the API server/);
  });

  it('the default --out names the node and the time', () => {
    const params = investigateParams({ node: '10.224.0.4' }, new Date('2026-11-26T10:00:00.123Z'));
    expect(params.out).toBe(join(process.cwd(), 'snat-report-10.224.0.4-20261126T100000Z'));
    expect(params).toMatchObject({
      node: { ip: '10.224.0.4' },
      captureSeconds: 30,
      namespace: 'snat-responder-capture',
      concurrency: 16,
    });
  });
});

describe('the progress display', () => {
  const status = (phase: 'census' | 'done', done: number) => ({ phase, node: 'n-0', pods: { done, total: 13 } });

  it('on a terminal: one line, rewritten in place, cleared at the end', () => {
    let out = '';
    const progress = new Progress(
      (t) => (out += t),
      true,
      () => 1500,
    );
    progress.update(status('census', 8));
    progress.stop();
    expect(out).toBe('\r\x1b[2K[  0.0 s] pod census | pods 8/13 | node n-0\r\x1b[2K');
  });

  it('otherwise: one plain line per change, repeats dropped', () => {
    let out = '';
    const progress = new Progress((t) => (out += t), false);
    progress.update(status('census', 8));
    progress.update(status('census', 8));
    progress.update(status('done', 13));
    progress.stop();
    expect(out).toBe(
      'snat-responder: pod census | pods 8/13 | node n-0\nsnat-responder: done | pods 13/13 | node n-0\n',
    );
  });
});

interface Child {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  readonly stdout: () => string;
  kill(signal: NodeJS.Signals): void;
}

function spawnCli(args: string[]): Child {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { exited, stdout: () => stdout, kill: (signal) => child.kill(signal) };
}

async function until<T>(check: () => Promise<T | undefined> | T | undefined, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('snat-responder investigate as a process: Ctrl-C (simulated cluster)', () => {
  it('SIGINT while the capture runs: exit 130, the Job is deleted', async () => {
    const work = mkdtempSync(join(tmpdir(), 'snat-investigate-sigint-'));
    const kubeconfigFile = join(work, 'kubeconfig');
    const simChild = spawnCli(['sim', '--scenario', 'default', '--kubeconfig-out', kubeconfigFile]);
    try {
      const ready = await until(() => {
        const line = simChild.stdout().split('\n')[0];
        return line && simChild.stdout().includes('\n')
          ? (JSON.parse(line) as { expected: { node: string } })
          : undefined;
      }, 'the sim to be ready');
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigFile);
      const batch = kc.makeApiClient(BatchV1Api);
      const jobs = async () => (await batch.listJobForAllNamespaces()).items.map((j) => j.metadata?.name);

      const investigate = spawnCli([
        'investigate',
        '--node',
        ready.expected.node,
        '--kubeconfig',
        kubeconfigFile,
        '--duration',
        '30',
        '--out',
        join(work, 'out'),
      ]);
      const name = await until(async () => (await jobs())[0], 'the capture Job');
      expect(name).toMatch(/^snat-capture-[0-9a-f]{16}$/);
      const sent = Date.now();
      investigate.kill('SIGINT');
      const result = await investigate.exited;
      expect(result.stderr).toContain('SIGINT: cancelling; deleting the capture Job first');
      expect(result.stderr).toContain('snat-responder: cancelled; the capture Job was deleted');
      expect(result.code).toBe(130);
      expect(Date.now() - sent).toBeLessThan(10_000);
      expect(await jobs()).toEqual([]);
      expect(existsSync(join(work, 'out', 'report.json'))).toBe(false);
    } finally {
      simChild.kill('SIGINT');
      await simChild.exited;
    }
  });
});
