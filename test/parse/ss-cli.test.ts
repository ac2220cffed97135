/** `snat-responder parse ss` in-process: the public contract of the CLI for this format. */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/ss/${name}`, import.meta.url));

async function cli(argv: string[], stdin = '') {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    stdin: () => Readable.from([Buffer.from(stdin)]),
  });
  return { code, stdout, stderr };
}

describe('snat-responder parse ss', () => {
  it('prints the document with --listening-ports applied (exit 0)', async () => {
    const run = await cli(['parse', 'ss', fixture('tnp-aks.txt'), '--listening-ports', '8080']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    await expect(run.stdout).toMatchFileSnapshot('../golden/ss/cli-tnp-aks-listening-8080.json');
  });

  it('reads stdin for - and prints the same document', async () => {
    const fromFile = await cli(['parse', 'ss', fixture('tnp-aks.txt'), '--listening-ports', '8080']);
    const fromStdin = await cli(
      ['parse', 'ss', '-', '--listening-ports', '8080'],
      readFileSync(fixture('tnp-aks.txt'), 'utf8'),
    );
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
  });

  it('exits 3 on a tool error message, with one stderr line naming the file and line', async () => {
    const file = fixture('command-not-found.txt');
    const run = await cli(['parse', 'ss', file]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `snat-responder: ${file}:1: not ss output but an error message: "bash: ss: command not found"\n`,
    );
  });

  it('exits 3 on empty stdin', async () => {
    const run = await cli(['parse', 'ss', '-']);
    expect(run.code).toBe(3);
    expect(run.stderr.split('\n')).toHaveLength(2);
    expect(run.stderr).toMatch(/^snat-responder: <stdin>: empty input: expected .+ output\n$/);
  });
});
