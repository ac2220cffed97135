import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const CULPRIT = fileURLToPath(new URL('../fixtures/analyze/culprit', import.meta.url));
const NOW = '2025-01-31T12:00:00.000Z';

let previousNow: string | undefined;
const temporary: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'snat-analyze-'));
  temporary.push(dir);
  return dir;
}

/** A folder with the given files (path -> content). */
async function folder(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

beforeAll(() => {
  previousNow = process.env.SNAT_RESPONDER_NOW;
  process.env.SNAT_RESPONDER_NOW = NOW;
});

afterAll(async () => {
  if (previousNow === undefined) delete process.env.SNAT_RESPONDER_NOW;
  else process.env.SNAT_RESPONDER_NOW = previousNow;
  await Promise.all(temporary.map((d) => rm(d, { recursive: true, force: true })));
});

const NETSTAT = [
  'Active Internet connections (w/o servers)',
  'Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    ',
  'tcp        0      0 10.244.1.5:40000        20.50.60.70:443         ESTABLISHED 1/java              ',
  '',
].join('\n');

describe('analyze <dir>: a hand-captured folder with a clear culprit', () => {
  it('writes report.json, report.md and report.html and prints the ranked summary', async () => {
    const out = await tempDir();
    const run = await runCli(['analyze', CULPRIT, '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    const json = await readFile(join(out, 'report.json'), 'utf8');
    await expect(json).toMatchFileSnapshot('../golden/analyze/culprit.report.json');
    await expect(await readFile(join(out, 'report.md'), 'utf8')).toMatchFileSnapshot(
      '../golden/analyze/culprit.report.md',
    );
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('checkout-7d9f8c6b5d-x2x4q');

    expect(run.stdout.replaceAll(out, '<out>')).toBe(
      [
        'Node aks-nodepool1-12345678-vmss000002 (10.224.0.4): 1024 allocated SNAT ports, 1001 used; capture complete.',
        'Verdict: Pod shop/checkout-7d9f8c6b5d-x2x4q (Deployment/checkout) holds 870 of 1024 allocated SNAT ports toward ' +
          '20.50.60.70:443 (85.0%); 10 of its public connects are stuck in SYN_SENT; it opens 2 public connects/s.',
        '',
        '#  pod                             score  est.pub.out  syn_sent  closing  conn/s  top destination',
        '1  shop/checkout-7d9f8c6b5d-x2x4q  985.4          861        10        3       2  20.50.60.70:443 x870 (85.0%)',
        '2  batch/reports-28975320-q7w2z     69.7            2         0       25      10  20.60.1.1:443 x27 (2.6%)',
        '3  shop/cart-0                      13.2           12         0        0       0  52.239.170.1:443 x12 (1.2%)',
        '4  (node)/host network               7.4            6         0        0     0.2  13.66.141.155:443 x6 (0.6%)',
        '5  shop/web-5c7b9d4f8-abcde          2.3            2         0        0    0.03  13.107.42.14:443 x2 (0.2%)',
        '(1 more in the report)',
        '',
        '4 data-quality notes: see the report.',
        'Report: <out>/report.json',
        '        <out>/report.md',
        '        <out>/report.html',
        '',
      ].join('\n'),
    );
  });

  it('prints the report JSON with --json, identical to report.json and stable across runs', async () => {
    const out = await tempDir();
    const run = await runCli(['analyze', CULPRIT, '--out', out, '--json']);
    expect(run.code).toBe(0);
    const written = await readFile(join(out, 'report.json'), 'utf8');
    expect(run.stdout).toBe(written);
    const report = JSON.parse(written) as { investigationId: string; generatedAt: string; trigger: unknown };
    expect(report.investigationId).toMatch(/^offline-[0-9a-f]{16}$/);
    expect(report.generatedAt).toBe(NOW);
    expect(report.trigger).toEqual({ kind: 'offline', source: 'culprit' });

    const again = await tempDir();
    await runCli(['analyze', CULPRIT, '--out', again]);
    expect(await readFile(join(again, 'report.json'), 'utf8')).toBe(written);
  });

  it('lets --allocated-ports override node.json and says so', async () => {
    const out = await tempDir();
    const run = await runCli(['analyze', CULPRIT, '--out', out, '--json', '--allocated-ports', '2048']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      snat: { allocatedPorts: number };
      findings: Array<{ text: string }>;
      dataQuality: Array<{ source: string; text: string }>;
    };
    expect(report.snat.allocatedPorts).toBe(2048);
    expect(report.findings[0]?.text).toContain('holds 870 of 2048 allocated SNAT ports toward 20.50.60.70:443 (42.5%)');
    expect(report.dataQuality).toContainEqual({
      source: 'node.json',
      text: 'allocatedPorts 1024 overridden by --allocated-ports 2048',
      count: 1,
    });
  });

  it('writes into the folder by default and ignores its own report files on the next run', async () => {
    const dir = await tempDir();
    await cp(CULPRIT, dir, { recursive: true });
    const first = await runCli(['analyze', dir, '--json']);
    expect(first.code).toBe(0);
    const second = await runCli(['analyze', dir, '--json']);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });
});

describe('analyze <dir>: bad folders', () => {
  it('exits 2 when the folder does not exist', async () => {
    const run = await runCli(['analyze', '/nonexistent/captures']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('snat-responder: /nonexistent/captures: no such folder\n');
  });

  it('exits 2 when the path is a file', async () => {
    const dir = await folder({ 'x.txt': 'x' });
    const run = await runCli(['analyze', join(dir, 'x.txt')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`snat-responder: ${join(dir, 'x.txt')}: not a folder\n`);
  });

  it('exits 3 naming a file whose format cannot be recognised', async () => {
    const dir = await folder({ 'notes.txt': 'captured at 10:42, node 2\n', 'pods/shop/a.txt': NETSTAT });
    const run = await runCli(['analyze', dir, '--out', join(dir, 'out')]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      'snat-responder: notes.txt: format not recognised; expected tcptracer, lsns, crictl inspectp or alert output, ' +
        'or a census named host.*\n',
    );
  });

  it('exits 3 naming a pod file that holds a tool error instead of a census', async () => {
    const dir = await folder({ 'pods/shop/api.txt': 'sh: netstat: not found\n' });
    const run = await runCli(['analyze', dir]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      'snat-responder: pods/shop/api.txt: format not recognised; expected netstat, ss or /proc/net/tcp output of the pod\n',
    );
  });

  it('exits 3 naming a file that cannot be read', async () => {
    const dir = await folder({ 'pods/shop/a.txt': NETSTAT });
    await symlink(join(dir, 'gone.log'), join(dir, 'tcptracer.log'));
    const run = await runCli(['analyze', dir]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('snat-responder: tcptracer.log: cannot read (ENOENT)\n');
  });

  it('exits 3 with file, line and column for invalid JSON, and names the field of a wrong value', async () => {
    const broken = await runCli(['analyze', await folder({ 'node.json': '{\n  "name": "n1",\n  "ip": \n}\n' })]);
    expect(broken.code).toBe(3);
    expect(broken.stderr).toMatch(/^snat-responder: node\.json:4:1: node\.json is not valid JSON: .+\n$/);

    const wrong = await runCli(['analyze', await folder({ 'node.json': '{"ip": "10.224.0.5/32"}' })]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toBe('snat-responder: node.json: not an IP address (field ip)\n');
  });

  it('exits 3 for a census at the top of the folder that is not host.*, and for two captures', async () => {
    const stray = await runCli(['analyze', await folder({ 'checkout.txt': NETSTAT })]);
    expect(stray.code).toBe(3);
    expect(stray.stderr).toBe(
      "snat-responder: checkout.txt: netstat output at the top of the folder: name the node's census host.txt, put a " +
        "pod's in pods/<namespace>/<pod>.txt\n",
    );
    const capture = await readFile(join(CULPRIT, 'tcptracer.log'), 'utf8');
    const two = await runCli(['analyze', await folder({ 'a.log': capture, 'b.log': capture })]);
    expect(two.code).toBe(3);
    expect(two.stderr).toBe(
      'snat-responder: b.log: a second tcptracer capture (the first is a.log); keep one per node\n',
    );
  });

  it('exits 2 when SNAT_RESPONDER_NOW is not a time', async () => {
    process.env.SNAT_RESPONDER_NOW = 'yesterday';
    try {
      const run = await runCli(['analyze', CULPRIT]);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        "snat-responder: SNAT_RESPONDER_NOW: 'yesterday' is not an ISO 8601 time (e.g. 2025-01-31T12:00:00Z)\n",
      );
    } finally {
      process.env.SNAT_RESPONDER_NOW = NOW;
    }
  });
});
