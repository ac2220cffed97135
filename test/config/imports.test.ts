import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The ARM SDKs (@azure/arm-containerservice, @azure/arm-monitor): loading settings must not load them. */
const ARM_SDK = /^@azure\/arm-/;

/**
 * Every `input -> package` import of an ARM SDK in the module graph of `entry` (a path from the repository root), as
 * esbuild's metafile records it: every module reached counts, whether or not the bundle keeps the import.
 */
async function armSdkImports(entry: string): Promise<string[]> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  return Object.entries(result.metafile.inputs).flatMap(([input, { imports }]) =>
    imports.filter((i) => i.external === true && ARM_SDK.test(i.path)).map((i) => `${input} -> ${i.path}`),
  );
}

describe('lib/config imports', () => {
  const modules = readdirSync(new URL('../../lib/config/', import.meta.url)).filter((name) => name.endsWith('.ts'));

  it('finds the modules of lib/config', () => {
    expect(modules).toContain('settings.ts');
    expect(modules).toContain('resource-ids.ts');
  });

  it.each(modules)('lib/config/%s reaches no ARM SDK', async (name) => {
    expect(await armSdkImports(`lib/config/${name}`)).toEqual([]);
  });

  it('would see an ARM SDK import: the ARM adapter has both', async () => {
    expect(await armSdkImports('lib/azure/arm.ts')).toEqual([
      'lib/azure/arm.ts -> @azure/arm-containerservice',
      'lib/azure/arm.ts -> @azure/arm-monitor',
    ]);
  });
});
