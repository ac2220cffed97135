#!/usr/bin/env node
// Runs the bundled CLI (dist/, built by `npm run build`, which `npm ci` runs through `prepare`). When the bundle is
// missing or older than a source file, runs the TypeScript sources through tsx instead, so the command is never stale.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'cli', 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    return ['cli', 'lib', 'sim', 'orchestrations'].every((dir) => {
      try {
        return newestSource(join(root, dir)) <= built;
      } catch {
        return true;
      }
    });
  } catch {
    return false;
  }
}

let entry = bundle;
if (!bundleIsFresh()) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = join(root, 'cli', 'main.ts');
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
