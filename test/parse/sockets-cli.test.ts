/** `snat-responder parse netstat|ss|proc-net-tcp` in-process: the public contract of the CLI for the census formats. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const cases = [
  {
    format: 'netstat',
    capture: 'net-tools-tnp-aks.txt',
    golden: 'cli-net-tools-tnp-aks-listening-8080.json',
    toolError: 'sh-not-found.txt',
    message: 'not netstat output but an error message: "sh: netstat: not found"',
  },
  {
    format: 'ss',
    capture: 'tnp-aks.txt',
    golden: 'cli-tnp-aks-listening-8080.json',
    toolError: 'command-not-found.txt',
    message: 'not ss output but an error message: "bash: ss: command not found"',
  },
  {
    format: 'proc-net-tcp',
    capture: 'tcp-tcp6-aks.txt',
    golden: 'cli-tcp-tcp6-aks-listening-8080.json',
    toolError: 'cat-no-such-file.txt',
    message: 'not /proc/net/tcp output but an error message: "cat: /proc/net/tcp: No such file or directory"',
  },
] as const;

describe.each(cases)('snat-responder parse $format', ({ format, capture, golden, toolError, message }) => {
  const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${format}/${name}`, import.meta.url));

  it('prints the document with --listening-ports applied (exit 0)', async () => {
    const run = await runCli(['parse', format, fixture(capture), '--listening-ports', '8080']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await expect(run.stdout).toMatchFileSnapshot(`../golden/${format}/${golden}`);
  });

  it('reads stdin for - and prints the same document', async () => {
    const fromFile = await runCli(['parse', format, fixture(capture), '--listening-ports', '8080']);
    const fromStdin = await runCli(
      ['parse', format, '-', '--listening-ports', '8080'],
      readFileSync(fixture(capture), 'utf8'),
    );
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
  });

  it('exits 3 on a tool error message, with one stderr line naming the file and line', async () => {
    const file = fixture(toolError);
    const run = await runCli(['parse', format, file]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`snat-responder: ${file}:1: ${message}\n`);
  });

  it('exits 3 on empty stdin', async () => {
    const run = await runCli(['parse', format, '-']);
    expect(run.code).toBe(3);
    expect(run.stderr.split('\n')).toHaveLength(2);
    expect(run.stderr).toMatch(/^snat-responder: <stdin>: empty input: expected .+ output\n$/);
  });
});
