import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSnatResponderError } from '../../lib/errors.js';
import { builtInScenarios, loadScenario, parseScenario, SCENARIO_DIR } from '../../sim/scenario.js';
import { buildWorld } from '../../sim/world.js';

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(isSnatResponderError(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

async function scenarioFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-scenario-'));
  const file = join(dir, 'bad.json');
  await writeFile(file, content);
  return file;
}

async function defaultJson(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(SCENARIO_DIR, 'default.json'), 'utf8')) as Record<string, unknown>;
}

describe('scenarios: built-in', () => {
  it('lists the built-in scenarios', async () => {
    expect(await builtInScenarios()).toEqual(['default', 'fifty-pods', 'many-pods', 'small', 'small-libbpf']);
  });

  it('loads every built-in scenario, and each names a culprit on its expected node', async () => {
    for (const name of await builtInScenarios()) {
      const s = await loadScenario(name);
      expect(s.name).toBe(name);
      const world = buildWorld(s);
      const [namespace, pod] = s.expected.culprit.split('/') as [string, string];
      expect(world.pod(namespace, pod)?.nodeName).toBe(s.expected.node);
      expect(world.node(s.expected.node)?.ip).toBe(s.expected.nodeIp);
    }
  });

  it("default: a second node whose IP starts with the first one's (exact matching matters)", async () => {
    const s = await loadScenario('default');
    const ips = s.nodes.map((n) => n.internalIP);
    expect(ips).toContain('10.224.0.4');
    expect(ips).toContain('10.224.0.40');
    expect(s.expected).toEqual({
      node: 'aks-nodepool1-12345678-vmss000000',
      nodeIp: '10.224.0.4',
      culprit: 'shop/checkout-7d9f8b6c5d-x2k4p',
    });
  });

  it('default: the culprit holds ~870 established flows plus SYN_SENT ones to one public IP:443', async () => {
    const world = buildWorld(await loadScenario('default'));
    const sockets = world.pod('shop', 'checkout-7d9f8b6c5d-x2k4p')!.netns!.sockets;
    const to = (state: string) =>
      sockets.filter((x) => x.state === state && x.remoteAddress === '20.60.1.9' && x.remotePort === 443).length;
    expect(to('ESTABLISHED')).toBe(870);
    expect(to('SYN_SENT')).toBe(64);
    // Distinct local ports for outbound flows: one SNAT port per flow (inbound ones share the listening port).
    const est = sockets.filter((x) => x.state !== 'LISTEN' && x.state !== 'TIME_WAIT' && x.localPort !== 8080);
    expect(new Set(est.map((x) => x.localPort)).size).toBe(est.length);
  });

  it('many-pods: 250 pods on the expected node, every one with a tool to exec or on the host network', async () => {
    const s = await loadScenario('many-pods');
    const world = buildWorld(s);
    const pods = world.node(s.expected.node)!.pods;
    expect(pods).toHaveLength(250);
    for (const p of pods) {
      if (p.hostNetwork) continue;
      expect(p.containers[0]!.tools).not.toEqual('none');
      expect(p.containers[0]!.tools).not.toEqual([]);
    }
    expect(new Set(pods.map((p) => p.name)).size).toBe(250);
    expect(new Set(pods.filter((p) => !p.hostNetwork).map((p) => p.ips[0])).size).toBe(
      pods.filter((p) => !p.hostNetwork).length,
    );
    expect(new Set(pods.filter((p) => !p.hostNetwork).map((p) => p.netns!.inode)).size).toBe(
      pods.filter((p) => !p.hostNetwork).length,
    );
  });

  it('expands replicas with consecutive IPs and owner labels from the ReplicaSet', async () => {
    const world = buildWorld(await loadScenario('many-pods'));
    const web = world.pods.filter((p) => p.name.startsWith('web-5c7d8f9b6-') && p.nodeName.endsWith('000000'));
    expect(web).toHaveLength(200);
    expect(web[0]!.ips).toEqual(['10.224.1.10']);
    expect(web[199]!.ips).toEqual(['10.224.1.209']);
    expect(web[0]!.owner).toMatchObject({
      kind: 'ReplicaSet',
      name: 'web-5c7d8f9b6',
      parent: { kind: 'Deployment', name: 'web' },
    });
    expect(web[0]!.labels['pod-template-hash']).toBe('5c7d8f9b6');
    expect(web[0]!.name).toMatch(/^web-5c7d8f9b6-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('is deterministic: the same scenario builds the same uids, inodes and ports', async () => {
    const s = await loadScenario('default');
    const a = buildWorld(s, new Date(0));
    const b = buildWorld(s, new Date(0));
    expect(a.pods.map((p) => p.uid)).toEqual(b.pods.map((p) => p.uid));
    expect(a.netnsOf(s.expected.node).flatMap((n) => n.sockets.map((x) => `${x.inode}:${x.localPort}`))).toEqual(
      b.netnsOf(s.expected.node).flatMap((n) => n.sockets.map((x) => `${x.inode}:${x.localPort}`)),
    );
  });
});

describe('scenarios: errors name the file and the JSON field', () => {
  it('an unknown built-in name lists the known ones', async () => {
    expect(await errorOf(loadScenario('nope'))).toBe(
      "unknown scenario 'nope' (built in: default, fifty-pods, many-pods, small, small-libbpf; or give a .json file path)",
    );
  });

  it('a missing file', async () => {
    expect(await errorOf(loadScenario('/nonexistent/x.json'))).toBe('/nonexistent/x.json: no such file');
  });

  it('JSON syntax errors carry line and column', async () => {
    const file = await scenarioFile('{\n  "name": "x",\n  "nodes": [,]\n}\n');
    expect(await errorOf(loadScenario(file))).toMatch(new RegExp(`^${file}:3:13: the scenario is not valid JSON: `));
  });

  it('a field of the wrong shape', async () => {
    const json = await defaultJson();
    ((json.pods as Array<Record<string, unknown>>)[2]!.sockets as Array<Record<string, unknown>>)[2]!.remote =
      '52.168.10.1';
    const file = await scenarioFile(JSON.stringify(json));
    expect(await errorOf(loadScenario(file))).toBe(
      `${file}: field pods[2].sockets[2].remote: expected "a.b.c.d:port" or "[ipv6]:port" with a port 0-65535`,
    );
  });

  it('an unknown field (typos do not pass silently)', async () => {
    const json = await defaultJson();
    (json.nodes as Array<Record<string, unknown>>)[0]!.internalIp = '10.224.0.4';
    const file = await scenarioFile(JSON.stringify(json));
    expect(await errorOf(loadScenario(file))).toMatch(new RegExp(`^${file}: field nodes\\[0\\]: .*internalIp`));
  });

  it('references between fields: a pod on a node that does not exist', async () => {
    const json = await defaultJson();
    (json.pods as Array<Record<string, unknown>>)[4]!.nodeName = 'aks-nodepool1-12345678-vmss000009';
    const file = await scenarioFile(JSON.stringify(json));
    expect(await errorOf(loadScenario(file))).toBe(
      `${file}: field pods[4].nodeName: no node named aks-nodepool1-12345678-vmss000009 in "nodes"`,
    );
  });

  it("expected.nodeIp must be the node's InternalIP", async () => {
    const json = await defaultJson();
    (json.expected as Record<string, unknown>).nodeIp = '10.224.0.40';
    const file = await scenarioFile(JSON.stringify(json));
    expect(await errorOf(loadScenario(file))).toBe(
      `${file}: field expected.nodeIp: node aks-nodepool1-12345678-vmss000000 has InternalIP 10.224.0.4, not 10.224.0.40`,
    );
  });

  it('what only the expansion shows: a socket to an IPv6 peer from a pod without an IPv6 address', async () => {
    const json = await defaultJson();
    ((json.pods as Array<Record<string, unknown>>)[0]!.sockets as Array<Record<string, unknown>>)[1]!.remote =
      '[2603:1030:800:5::bfee:a418]:443';
    expect(() => parseScenario(json, 'x.json')).toThrow(
      'x.json: field pods[0].sockets[1]: no IPv6 address to connect from (set "local" or podIPs)',
    );
  });

  it('a socket owned by a process the pod does not have', async () => {
    const json = await defaultJson();
    ((json.pods as Array<Record<string, unknown>>)[0]!.sockets as Array<Record<string, unknown>>)[1]!.pid = 99;
    expect(() => parseScenario(json, 'x.json')).toThrow(
      'x.json: field pods[0].sockets[1].pid: no process with pid 99 in processes',
    );
  });
});
