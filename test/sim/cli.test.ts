/**
 * `snat-responder sim` as a child process, the way an engineer or the demo runs it: one JSON line once ready, the API
 * reachable with the kubeconfig it names, a clean exit 0 on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/snat-responder.js', import.meta.url));

interface Ready {
  readonly kubeconfig: string;
  readonly apiServer: string;
  readonly scenario: string;
  readonly expected: { node: string; nodeIp: string; culprit: string };
}

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** The first stdout line, parsed. */
  readonly ready: Promise<Ready>;
}

function runSim(args: string[]): Child {
  const child = spawn(process.execPath, [BIN, 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let resolveReady: (r: Ready) => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const ready = new Promise<Ready>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    const nl = stdout.indexOf('\n');
    if (nl >= 0) resolveReady(JSON.parse(stdout.slice(0, nl)) as Ready);
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        rejectReady(new Error(`sim exited before it was ready: ${stderr}`));
        resolve({ code, signal, stdout, stderr });
      });
    },
  );
  // Failing runs never become ready; those tests await `exited` only.
  ready.catch(() => {});
  return { process: child, exited, ready };
}

describe('snat-responder sim (child process)', () => {
  it('prints one JSON line once ready, serves the API with that kubeconfig, exits 0 on SIGINT and removes it', async () => {
    const child = runSim(['--scenario', 'default']);
    try {
      const ready = await child.ready;
      expect(Object.keys(ready)).toEqual(['kubeconfig', 'apiServer', 'scenario', 'expected']);
      expect(ready.apiServer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(ready.scenario).toBe('default');
      expect(ready.expected).toEqual({
        node: 'aks-nodepool1-12345678-vmss000000',
        nodeIp: '10.224.0.4',
        culprit: 'shop/checkout-7d9f8b6c5d-x2k4p',
      });
      const kc = new KubeConfig();
      kc.loadFromFile(ready.kubeconfig);
      const nodes = await kc.makeApiClient(CoreV1Api).listNode();
      expect(nodes.items.map((n) => n.status?.addresses?.[0]?.address)).toEqual(['10.224.0.4', '10.224.0.40']);
      child.process.kill('SIGINT');
      const exit = await child.exited;
      expect(exit).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(exit.stdout.split('\n')).toHaveLength(2);
      expect(existsSync(ready.kubeconfig)).toBe(false);
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it('--tls --kubeconfig-out FILE --port N: https on that port, the kubeconfig kept; SIGTERM ends it with 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const out = join(dir, 'kubeconfig.yaml');
    const port = await freePort();
    const child = runSim(['--scenario', 'small', '--tls', '--kubeconfig-out', out, '--port', String(port)]);
    try {
      const ready = await child.ready;
      expect(ready.kubeconfig).toBe(out);
      expect(ready.apiServer).toBe(`https://127.0.0.1:${port}`);
      expect(await readFile(out, 'utf8')).toContain('certificate-authority-data: ');
      const kc = new KubeConfig();
      kc.loadFromFile(out);
      const pods = await kc
        .makeApiClient(CoreV1Api)
        .listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=aks-nodepool1-12345678-vmss000000' });
      expect(pods.items).toHaveLength(3);
      child.process.kill('SIGTERM');
      expect((await child.exited).code).toBe(0);
      expect(existsSync(out)).toBe(true);
    } finally {
      child.process.kill('SIGKILL');
    }
  });

  it('a bad scenario file: exit 3, one stderr line naming the file and the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-cli-'));
    const file = join(dir, 'broken.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'broken',
        nodes: [{ name: 'n1', internalIP: '10.0.0.300' }],
        expected: { node: 'n1', nodeIp: '10.0.0.3', culprit: 'a/b' },
      }),
    );
    const exit = await runSim(['--scenario', file]).exited;
    expect(exit.code).toBe(3);
    expect(exit.stdout).toBe('');
    expect(exit.stderr).toBe(
      `snat-responder: ${file}: field nodes[0].internalIP: expected an IPv4 address (a.b.c.d)\n`,
    );
  });

  it('an unknown scenario name is exit 3; a bad --port is a usage error (2); a port in use is exit 4', async () => {
    const unknown = await runSim(['--scenario', 'nope']).exited;
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain("unknown scenario 'nope'");
    const usage = await runSim(['--port', 'http']).exited;
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe("snat-responder: --port: 'http' is not a port number (0-65535)\n");
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as { port: number }).port;
      const inUse = await runSim(['--port', String(port)]).exited;
      expect(inUse.code).toBe(4);
      expect(inUse.stderr).toBe(`snat-responder: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
    } finally {
      busy.close();
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
