/**
 * Exec over WebSocket through the real client-node `Exec`: the tools' outputs parse with the project's own parsers
 * into exactly the scenario's sockets, and every failure has the shape the API server gives it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNetstat } from '../../lib/parse/netstat.js';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { parseSs } from '../../lib/parse/ss.js';
import type { SocketDocument } from '../../lib/parse/sockets.js';
import type { Parsed } from '../../lib/parse/types.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { execIn, execRefusal, expectedSockets, podSockets } from './helpers.js';
import type { CensusTool } from './helpers.js';

const COMMANDS: Record<CensusTool, { command: string[]; parse: (text: string) => Parsed<SocketDocument> }> = {
  netstat: { command: ['netstat', '-ptn'], parse: (t) => parseNetstat(t) },
  ss: { command: ['ss', '-tnp'], parse: (t) => parseSs(t) },
  cat: { command: ['cat', '/proc/net/tcp', '/proc/net/tcp6'], parse: (t) => parseProcNetTcp(t) },
};

function sockets(doc: Parsed<SocketDocument>) {
  if (!doc.ok) throw new Error(doc.problem.message);
  expect(doc.value.skipped.filter((s) => !/note/.test(s.reason))).toEqual([]);
  return doc.value.sockets.map((s) => ({ local: s.local, remote: s.remote, state: s.state }));
}

describe.each([
  ['http', false],
  ['https', true],
])('exec in the simulated cluster through client-node (%s)', (_label, tls) => {
  let sim: RunningSim;
  let kc: KubeConfig;

  beforeAll(async () => {
    sim = await startSim({ scenario: 'default', tls });
    kc = sim.kubeConfig();
  });
  afterAll(async () => {
    await sim?.close();
  });

  const cases: Array<[string, string, string, CensusTool]> = [
    ['shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', 'netstat'],
    ['shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', 'ss'],
    ['shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', 'cat'],
    ['shop', 'catalog-5f8d9c7b6-m4n7q', 'catalog', 'ss'],
    ['ingress-nginx', 'ingress-nginx-controller-6c5d9f7b8-q8z2x', 'controller', 'netstat'],
    ['shop', 'cart-6d9c8b7f5-h2j9k', 'cart', 'cat'],
  ];
  it.each(cases)(
    '%s/%s: %s output parses into exactly the scenario sockets (%s)',
    async (namespace, pod, container, tool) => {
      const run = await execIn(kc, namespace, pod, container, COMMANDS[tool].command);
      expect(run.status).toEqual({ metadata: {}, status: 'Success' });
      expect(run.stderr).toBe('');
      expect(sockets(COMMANDS[tool].parse(run.stdout))).toEqual(
        expectedSockets(podSockets(sim.world, namespace, pod), tool),
      );
    },
  );

  it("the culprit's census counts its 870 established flows and 64 SYN_SENT to 20.60.1.9:443", async () => {
    const run = await execIn(kc, 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', ['netstat', '-ptn']);
    const doc = parseNetstat(run.stdout);
    expect(doc.ok && doc.value.summary.publicDestinations[0]).toEqual({ endpoint: '20.60.1.9:443', count: 870 });
    expect(doc.ok && doc.value.summary.byState.SYN_SENT).toBe(64);
    expect(doc.ok && doc.value.sockets.find((s) => s.state === 'ESTABLISHED')).toMatchObject({
      pid: 1,
      program: 'java',
    });
    expect(doc.ok && doc.value.sockets.find((s) => s.state === 'TIME_WAIT')?.pid).toBeUndefined();
  });

  it('owners as each tool names them: netstat argv0 cut to 19, ss the comm', async () => {
    const netstat = await execIn(kc, 'ingress-nginx', 'ingress-nginx-controller-6c5d9f7b8-q8z2x', 'controller', [
      'netstat',
      '-tnp',
    ]);
    expect(netstat.stdout).toContain(' 25/nginx: worker pr \n');
    const ss = await execIn(kc, 'shop', 'catalog-5f8d9c7b6-m4n7q', 'catalog', ['ss', '-tnp']);
    expect(ss.stdout).toContain(' users:(("node",pid=1,fd=');
  });

  it("a hostNetwork pod sees the node's namespace: node sockets and other hostNetwork pods' (owners hidden)", async () => {
    const run = await execIn(kc, 'kube-system', 'azure-ip-masq-agent-x5zqv', 'azure-ip-masq-agent', [
      'cat',
      '/proc/net/tcp',
      '/proc/net/tcp6',
    ]);
    const node = sim.world.node('aks-nodepool1-12345678-vmss000000')!;
    expect(sockets(parseProcNetTcp(run.stdout))).toEqual(expectedSockets(node.hostNetns.sockets, 'cat'));
    // kube-proxy's 127.0.0.1:10249 listener is there, though kube-proxy is another pod.
    expect(run.stdout).toContain(': 0100007F:2809 00000000:0000 0A ');
  });

  it('a binary the image lacks: the containerd error on channel 3, as an InternalError', async () => {
    const run = await execIn(kc, 'payments', 'fraud-scorer-84c6d7f9b5-t7w4r', 'scorer', ['netstat', '-ptn']);
    expect(run.stdout).toBe('');
    expect(run.status).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
    expect(run.status?.message).toMatch(
      /^Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "netstat": executable file not found in \$PATH: unknown$/,
    );
    const byPath = await execIn(kc, 'shop', 'catalog-5f8d9c7b6-m4n7q', 'catalog', ['/bin/netstat', '-ptn']);
    expect(byPath.status?.message).toContain(
      'exec: "/bin/netstat": stat /bin/netstat: no such file or directory: unknown',
    );
  });

  it('no shell anywhere: sh -c is a missing binary too', async () => {
    const run = await execIn(kc, 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'checkout', ['sh', '-c', 'netstat -ptn']);
    expect(run.status?.message).toContain('exec: "sh": executable file not found in $PATH: unknown');
  });

  it('a command that runs and fails: NonZeroExitCode with the exit code, output kept', async () => {
    const run = await execIn(kc, 'shop', 'cart-6d9c8b7f5-h2j9k', 'cart', ['cat', '/proc/net/tcp', '/proc/net/udp']);
    expect(run.status).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 1',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '1' }] },
    });
    expect(run.stdout).toMatch(/^ {2}sl {2}local_address/);
    expect(run.stderr).toBe('cat: /proc/net/udp: No such file or directory\n');
  });

  it('refused before the upgrade: 403 forbidden, 400 container not running or pod completed, 404 no pod', async () => {
    expect(await execRefusal(kc, 'security', 'vault-0', 'vault', ['ss', '-tnp'])).toBe(
      'Unexpected server response: 403',
    );
    expect(await execRefusal(kc, 'shop', 'recommendations-7b4f9d8c6-p5l2m', 'recommendations', ['ss', '-tnp'])).toBe(
      'Unexpected server response: 400',
    );
    expect(await execRefusal(kc, 'shop', 'db-migrate-20251126', 'migrate', ['cat', '/proc/net/tcp'])).toBe(
      'Unexpected server response: 400',
    );
    expect(await execRefusal(kc, 'shop', 'nope', 'x', ['cat', '/proc/net/tcp'])).toBe(
      'Unexpected server response: 404',
    );
    expect(await execRefusal(kc, 'shop', 'checkout-7d9f8b6c5d-x2k4p', 'sidecar', ['cat', '/proc/net/tcp'])).toBe(
      'Unexpected server response: 400',
    );
  });
});

describe('exec protocol details', () => {
  let sim: RunningSim;
  beforeAll(async () => {
    sim = await startSim({ scenario: 'small' });
  });
  afterAll(async () => {
    await sim?.close();
  });

  /** A raw WebSocket exec offering the given subprotocols; collects frames until the server closes. */
  function rawExec(
    protocols: string[],
    query: string,
  ): Promise<{ protocol: string; frames: Buffer[]; closeCode: number }> {
    return new Promise((resolve, reject) => {
      const url = `${sim.url.replace(/^http/, 'ws')}/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2k4p/exec?${query}`;
      const ws = new WebSocket(url, protocols, { headers: { Authorization: `Bearer ${sim.token}` } });
      const frames: Buffer[] = [];
      ws.on('message', (data: Buffer) => frames.push(data));
      ws.on('close', (code) => resolve({ protocol: ws.protocol, frames, closeCode: code }));
      ws.on('error', reject);
    });
  }

  it('negotiates v4.channel.k8s.io when v5 is not offered; frames are [channel] + data, status last, then a close', async () => {
    const r = await rawExec(['v4.channel.k8s.io'], 'command=ss&command=-tn&stdout=true&stderr=true&container=checkout');
    expect(r.protocol).toBe('v4.channel.k8s.io');
    expect(r.closeCode).toBe(1000);
    const last = r.frames.at(-1)!;
    expect(last[0]).toBe(3);
    expect(JSON.parse(last.subarray(1).toString())).toEqual({ metadata: {}, status: 'Success' });
    expect(r.frames.slice(0, -1).every((f) => f[0] === 1)).toBe(true);
    const stdout = Buffer.concat(r.frames.slice(0, -1).map((f) => f.subarray(1))).toString();
    expect(stdout).toMatch(/^State +Recv-Q Send-Q +Local Address:Port +Peer Address:Port *Process\n/);
  });

  it('prefers v5.channel.k8s.io', async () => {
    const r = await rawExec(
      ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'],
      'command=cat&command=/proc/net/tcp&stdout=true&container=checkout',
    );
    expect(r.protocol).toBe('v5.channel.k8s.io');
  });

  it('an upgrade offering neither is refused with 400', async () => {
    await expect(rawExec(['channel.k8s.io'], 'command=cat&command=/proc/net/tcp&container=checkout')).rejects.toThrow(
      'Unexpected server response: 400',
    );
  });

  it('an exec without a token is 401 before the upgrade', async () => {
    const url = `${sim.url.replace(/^http/, 'ws')}/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2k4p/exec?command=ls`;
    const ws = new WebSocket(url, ['v5.channel.k8s.io']);
    await expect(new Promise((_, reject) => ws.on('error', reject))).rejects.toThrow('Unexpected server response: 401');
  });

  it('a plain GET on exec (no upgrade) is 400 Upgrade request required', async () => {
    const res = await fetch(`${sim.url}/api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-x2k4p/exec?command=ls`, {
      headers: { Authorization: `Bearer ${sim.token}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe('Upgrade request required');
  });
});
