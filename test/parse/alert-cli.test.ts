import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CliIo } from '../../cli/main.js';
import { parseAlert } from '../../lib/parse/alert.js';
import { parseCrictlInspectp } from '../../lib/parse/crictl.js';
import { parseLsns } from '../../lib/parse/lsns.js';

// `snat-responder parse alert|lsns|crictl-inspectp <file>` run in-process through the real CLI entry point.
const path = (area: string, name: string) => fileURLToPath(new URL(`../fixtures/${area}/${name}`, import.meta.url));

async function run(argv: string[], stdin: Buffer = Buffer.alloc(0)) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    stdin: () => Readable.from([stdin]),
  };
  const code = await main(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function value<T>(parsed: { ok: true; value: T } | { ok: false }): T {
  if (!parsed.ok) throw new Error('expected a parsed document');
  return parsed.value;
}

describe('snat-responder parse alert', () => {
  it('prints the alert document and exits 0', async () => {
    const file = path('alert', 'common-two-conditions.json');
    const result = await run(['parse', 'alert', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(value(parseAlert(readFileSync(file))));
    expect((JSON.parse(result.stdout) as { nodeIps: string[] }).nodeIps).toEqual(['10.224.0.6', '10.224.0.7']);
  });

  it('reads stdin with -', async () => {
    const bytes = readFileSync(path('alert', 'bom.json'));
    const result = await run(['parse', 'alert', '-'], bytes);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { nodeIps: string[] }).nodeIps).toEqual(['10.224.0.5']);
  });

  it('malformed JSON: exit 3 and one stderr line naming file, line and column', async () => {
    const file = path('alert', 'invalid-json.json');
    const result = await run(['parse', 'alert', file]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `snat-responder: ${file}:8:7: alert payload is not valid JSON: unexpected character '"', expected ',' or '}'\n`,
    );
  });

  it('a missing field: exit 3 naming the field', async () => {
    const file = path('alert', 'missing-metric-name.json');
    const result = await run(['parse', 'alert', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `snat-responder: ${file}: invalid alert: Invalid input: expected string, received undefined ` +
        '(field data.alertContext.condition.allOf[1].metricName)\n',
    );
  });

  it('a Log alert: exit 3, says it is not a metric alert', async () => {
    const result = await run(['parse', 'alert', path('alert', 'log-alert.json')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/log-alert\.json: "Log" alert: not a metric alert, nothing to investigate/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('a 300 KB body: exit 3, too large', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snat-alert-'));
    const file = join(dir, 'big.json');
    writeFileSync(file, `{"schemaId":"azureMonitorCommonAlertSchema","pad":"${'x'.repeat(300 * 1024)}"}`);
    const result = await run(['parse', 'alert', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `snat-responder: ${file}: alert payload is over 256 KB (Azure Monitor alerts are at most 256 KB)\n`,
    );
  });

  it('an empty stdin: exit 3', async () => {
    const result = await run(['parse', 'alert', '-']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('snat-responder: <stdin>: empty input: expected an alert payload\n');
  });
});

describe('snat-responder parse lsns / crictl-inspectp', () => {
  it('lsns: prints the document and exits 0', async () => {
    const file = path('lsns', 'real-2.38-ascii.txt');
    const result = await run(['parse', 'lsns', file]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(value(parseLsns(readFileSync(file, 'utf8'))));
  });

  it('lsns: its own error message instead of output -> exit 3 naming file and line', async () => {
    const file = path('lsns', 'error-failed.txt');
    const result = await run(['parse', 'lsns', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `snat-responder: ${file}:1: lsns failed: lsns: failed to open /proc/1/ns/net: Permission denied\n`,
    );
  });

  it('crictl-inspectp: prints the document and exits 0', async () => {
    const file = path('crictl', 'several.json');
    const result = await run(['parse', 'crictl-inspectp', file]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(value(parseCrictlInspectp(readFileSync(file, 'utf8'))));
  });

  it('crictl-inspectp: truncated JSON -> exit 3 naming line and column', async () => {
    const file = path('crictl', 'truncated.json');
    const result = await run(['parse', 'crictl-inspectp', file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `snat-responder: ${file}:84:108: crictl inspectp output is not valid JSON: unexpected end of input\n`,
    );
  });
});
