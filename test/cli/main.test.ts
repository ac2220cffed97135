import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { runProcess } from '../helpers/process.js';

describe('snat-responder CLI: usage and exit codes', () => {
  it('prints help and exits 0 on --help', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('parse');
    expect(run.stdout).toContain('analyze');
  });

  it('exits 2 without a command', async () => {
    const run = await runCli([]);
    expect(run.code).toBe(2);
  });

  it('exits 2 on an unknown format, naming the allowed ones', async () => {
    const run = await runCli(['parse', 'pcap', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'pcap'");
    expect(run.stderr).toContain('tcptracer');
  });

  it('exits 2 on a bad --listening-ports value, naming the option and the value', async () => {
    const run = await runCli(['parse', 'netstat', '-', '--listening-ports', '80,http']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("snat-responder: --listening-ports: 'http' is not a port number (1-65535)\n");
  });

  it('exits 2 on a bad --private-cidrs value', async () => {
    const run = await runCli(['parse', 'netstat', '-', '--private-cidrs', '10.0.0.0/8,10.1.0.0/40']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('snat-responder: --private-cidrs: not a CIDR: 10.1.0.0/40\n');
  });

  it('exits 3 when the input file does not exist', async () => {
    const run = await runCli(['parse', 'ss', '/nonexistent/ss.txt']);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe('snat-responder: /nonexistent/ss.txt: no such file\n');
  });

  it('exits 3 on an empty input, naming stdin', async () => {
    const run = await runCli(['parse', 'proc-net-tcp', '-'], '');
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^snat-responder: <stdin>.*\n$/);
    expect(run.stderr.split('\n')).toHaveLength(2);
  });

  it('reads stdin with -', async () => {
    const proc =
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
      '   0: 2500E00A:A1B2 0302010E:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 20 4 30 10 -1\n';
    const run = await runCli(['parse', 'proc-net-tcp', '-'], proc);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as { sockets: unknown[]; summary: { establishedPublicOutbound: number } };
    expect(doc.sockets).toEqual([
      {
        local: '10.224.0.37:41394',
        remote: '14.1.2.3:443',
        state: 'ESTABLISHED',
        remotePublic: true,
        direction: 'outbound',
      },
    ]);
    expect(doc.summary.establishedPublicOutbound).toBe(1);
  });

  it('refuses an alert over 256 KB before parsing it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snat-cli-'));
    const file = join(dir, 'big.json');
    await writeFile(file, JSON.stringify({ schemaId: 'azureMonitorCommonAlertSchema', pad: 'x'.repeat(300 * 1024) }));
    const run = await runCli(['parse', 'alert', file]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      `snat-responder: ${file}: alert payload is over 256 KB (Azure Monitor alerts are at most 256 KB)\n`,
    );
  });
});

describe('snat-responder as a process (bin/snat-responder.js, as `npx snat-responder` runs it)', () => {
  const bin = fileURLToPath(new URL('../../bin/snat-responder.js', import.meta.url));

  it('parses a file and exits 0', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/tcptracer/bcc-tv.log', import.meta.url));
    const run = await runProcess(process.execPath, [bin, 'parse', 'tcptracer', fixture]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ format: 'tcptracer', variant: 'bcc' });
  });

  it('exits 3 with one line on stderr for a tool error instead of a capture', async () => {
    const run = await runProcess(
      process.execPath,
      [bin, 'parse', 'tcptracer', '-'],
      "tcptracer: invalid option -- '4'\n",
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^snat-responder: <stdin>:1: .*invalid option -- '4'.*\n$/);
  });
});
