/**
 * The Functions host loads package.json `main`. This builds it as `npm ci` does (`build:functions`), loads it in a
 * fresh Node process and checks that it registers every function of the app: the orchestrators, every activity and
 * the four HTTP routes. Outside the Functions host, @azure/functions runs in "test mode" and names each function it
 * skips registering; that is what is read here. Not the Functions host itself, which cannot run on these machines.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTIVITIES, ORCHESTRATIONS } from '../../lib/workflow/contracts.js';
import { runProcess } from '../helpers/process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const HTTP_FUNCTIONS = ['alerts', 'startInvestigation', 'getInvestigation', 'listInvestigations'];

describe('the Functions entry point (package.json main), built and loaded outside the host', () => {
  it('registers every orchestrator, activity and HTTP route', async () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
      main?: string;
      scripts: Record<string, string>;
    };
    expect(pkg.main, 'package.json main').toBe('dist/functions/index.js');
    const build = await runProcess('npm', ['run', '--silent', '--prefix', ROOT, 'build:functions']);
    expect(build.code, build.stderr).toBe(0);

    const entry = resolve(ROOT, pkg.main!);
    const load = await runProcess(process.execPath, [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(new URL(`file://${entry}`).href)}); console.log('loaded');`,
    ]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toContain('loaded');
    const registered = [...`${load.stdout}\n${load.stderr}`.matchAll(/register function "([^"]+)"/g)].map((m) => m[1]);
    const expected = [...Object.values(ORCHESTRATIONS), ...Object.values(ACTIVITIES), ...HTTP_FUNCTIONS];
    expect([...registered].sort()).toEqual([...new Set(expected)].sort());
  }, 60_000);
});
