/**
 * The simulated cluster through the REAL kubectl of these machines (1.32): what an engineer sees with `kubectl get -o
 * wide`, `kubectl logs` and `kubectl exec` (WebSocket) must be what AKS shows.
 *
 * kubectl sends bearer tokens only over TLS (client-go drops credentials for http servers), so this suite runs the
 * simulated cluster on https with the committed test CA, the shape of a real AKS kubeconfig.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { renderProcNetTcp } from '../../sim/tools.js';
import { eventually } from './helpers.js';

const NODE = 'aks-nodepool1-12345678-vmss000000';

function findKubectl(): string {
  const candidates = ['/usr/bin/kubectl', ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'kubectl'))];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(
    'kubectl not found (/usr/bin/kubectl or PATH): .ci/run installs it with `apt-get install kubernetes-client`',
  );
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('the simulated cluster through the real kubectl', () => {
  let sim: RunningSim;
  let dir: string;
  let kubectlPath: string;

  function kubectl(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        kubectlPath,
        ['--kubeconfig', join(dir, 'kubeconfig'), '--cache-dir', join(dir, 'cache'), ...args],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }, timeout: 20_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Splits a kubectl table on runs of 2+ spaces... except where a cell holds single spaces (NOMINATED NODE). */
  const header = (out: string) =>
    out
      .split('\n')[0]!
      .trim()
      .split(/\s{2,}/);
  const rows = (out: string) => out.trimEnd().split('\n').slice(1);

  beforeAll(async () => {
    kubectlPath = findKubectl();
    sim = await startSim({ scenario: 'default', tls: true, timeScale: 0.01 });
    dir = await mkdtemp(join(tmpdir(), 'sim-kubectl-'));
    await writeFile(join(dir, 'kubeconfig'), sim.kubeconfig, { mode: 0o600 });
  });
  afterAll(async () => {
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("get nodes -o wide: the columns kubectl shows against AKS, and each node's InternalIP", async () => {
    const r = await kubectl('get', 'nodes', '-o', 'wide');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(header(r.stdout)).toEqual([
      'NAME',
      'STATUS',
      'ROLES',
      'AGE',
      'VERSION',
      'INTERNAL-IP',
      'EXTERNAL-IP',
      'OS-IMAGE',
      'KERNEL-VERSION',
      'CONTAINER-RUNTIME',
    ]);
    const lines = rows(r.stdout);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^aks-nodepool1-12345678-vmss000000\s+Ready\s+agent\s+20d\s+v1\.32\.7\s+10\.224\.0\.4\s+<none>\s+Ubuntu 22\.04\.5 LTS\s+5\.15\.0-1089-azure\s+containerd:\/\/1\.7\.27-1$/,
    );
    expect(lines[1]).toMatch(/^aks-nodepool1-12345678-vmss000001\s+Ready\s+agent\s+20d\s+v1\.32\.7\s+10\.224\.0\.40\s/);
  });

  it("get pods -A -o wide --field-selector spec.nodeName=<node>: that node's pods, with IPs and statuses", async () => {
    const r = await kubectl('get', 'pods', '-A', '-o', 'wide', '--field-selector', `spec.nodeName=${NODE}`);
    expect(r.code).toBe(0);
    expect(header(r.stdout)).toEqual([
      'NAMESPACE',
      'NAME',
      'READY',
      'STATUS',
      'RESTARTS',
      'AGE',
      'IP',
      'NODE',
      'NOMINATED NODE',
      'READINESS GATES',
    ]);
    const lines = rows(r.stdout);
    expect(lines).toHaveLength(13);
    expect(lines.every((l) => l.includes(` ${NODE} `))).toBe(true);
    expect(lines.find((l) => l.includes('checkout-7d9f8b6c5d-x2k4p'))).toMatch(
      /^shop\s+checkout-7d9f8b6c5d-x2k4p\s+1\/1\s+Running\s+0\s+3d\s+10\.244\.0\.12\s+aks-nodepool1-12345678-vmss000000\s+<none>\s+<none>$/,
    );
    expect(lines.find((l) => l.includes('kube-proxy-7xk9p'))).toMatch(/\s10\.224\.0\.4\s+aks-nodepool1/);
    expect(lines.find((l) => l.includes('recommendations'))).toMatch(
      /\s0\/1\s+CrashLoopBackOff\s+7 \(\d+m\d*s? ago\)\s/,
    );
    expect(lines.find((l) => l.includes('db-migrate'))).toMatch(/\s0\/1\s+Completed\s+0\s/);
  });

  it('get jobs -A, logs job/<name> and logs <pod> of a capture Job', async () => {
    const kc = sim.kubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'snat-responder' } } });
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: 'snat-responder',
      body: {
        metadata: { name: 'snat-capture-k1' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              nodeName: NODE,
              hostNetwork: true,
              hostPID: true,
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'capture',
                  image: 'mcr.microsoft.com/cbl-mariner/busybox:2.0',
                  env: [
                    { name: 'CAPTURE_SECONDS', value: '10' },
                    { name: 'CAPTURE_MAX_LINES', value: '30000' },
                    { name: 'CAPTURE_CENSUS_MAX_LINES', value: '4000' },
                  ],
                },
              ],
            },
          },
        },
      },
    });
    await eventually(
      async () => {
        const j = await batch.readNamespacedJob({ namespace: 'snat-responder', name: 'snat-capture-k1' });
        return j.status?.succeeded === 1 ? true : undefined;
      },
      5000,
      'Job Complete',
    );

    const jobs = await kubectl('get', 'jobs', '-A');
    expect(jobs.code).toBe(0);
    expect(header(jobs.stdout)).toEqual(['NAMESPACE', 'NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE']);
    expect(rows(jobs.stdout)).toHaveLength(1);
    expect(rows(jobs.stdout)[0]).toMatch(/^snat-responder\s+snat-capture-k1\s+Complete\s+1\/1\s+\d+s\s+\d+s$/);
    const wide = await kubectl('get', 'jobs', '-n', 'snat-responder', '-o', 'wide');
    expect(header(wide.stdout)).toEqual([
      'NAME',
      'STATUS',
      'COMPLETIONS',
      'DURATION',
      'AGE',
      'CONTAINERS',
      'IMAGES',
      'SELECTOR',
    ]);
    expect(rows(wide.stdout)[0]).toMatch(
      /\scapture\s+mcr\.microsoft\.com\/cbl-mariner\/busybox:2\.0\s+batch\.kubernetes\.io\/controller-uid=[0-9a-f-]{36}$/,
    );

    const logs = await kubectl('logs', 'job/snat-capture-k1', '-n', 'snat-responder');
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^##SNAT-RESPONDER## begin v=1 tracer=bcc capture_seconds=10 /);
    expect(logs.stdout).toMatch(
      /\n##SNAT-RESPONDER## trailer status=ok tcptracer_lines=\d+ truncated=0 netns=11 elapsed=11\n$/,
    );

    const pod = sim.pods().find((p) => p.namespace === 'snat-responder')!;
    const byPod = await kubectl('logs', pod.name, '-n', 'snat-responder', '--tail', '1');
    expect(byPod.stdout).toMatch(/^##SNAT-RESPONDER## trailer /);

    const deleted = await kubectl('delete', 'job', 'snat-capture-k1', '-n', 'snat-responder');
    expect(deleted.stdout).toBe('job.batch "snat-capture-k1" deleted\n');
    expect(sim.jobs()).toEqual([]);
    expect(sim.pods().filter((p) => p.namespace === 'snat-responder')).toEqual([]);
  });

  it("exec -- cat /proc/net/tcp over WebSocket: the kernel text of the pod's namespace", async () => {
    const r = await kubectl('exec', '-n', 'shop', 'checkout-7d9f8b6c5d-x2k4p', '--', 'cat', '/proc/net/tcp');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const pod = sim.world.pod('shop', 'checkout-7d9f8b6c5d-x2k4p')!;
    expect(r.stdout).toBe(renderProcNetTcp(pod.netns!.sockets, 'tcp', { podKey: pod.key, container: 'checkout' }));
    const parsed = parseProcNetTcp(r.stdout);
    expect(parsed.ok && parsed.value.summary.publicDestinations[0]).toEqual({ endpoint: '20.60.1.9:443', count: 870 });
  });

  it("exec of a binary the image lacks: kubectl prints the runtime's error", async () => {
    const r = await kubectl('exec', '-n', 'payments', 'fraud-scorer-84c6d7f9b5-t7w4r', '--', 'netstat', '-ptn');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('exec: "netstat": executable file not found in $PATH: unknown');
  });

  it('exec refused by RBAC: Error from server (Forbidden)', async () => {
    const r = await kubectl('exec', '-n', 'security', 'vault-0', '--', 'ss', '-tnp');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'Error from server (Forbidden): pods "vault-0" is forbidden: User "clusterUser_rg-shop-prod_aks-shop-prod" cannot create resource "pods/exec" in API group "" in the namespace "security"',
    );
  });
});
