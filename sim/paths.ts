/**
 * Where the simulated cluster's data files are (sim/scenarios, sim/tls). Found from this module's URL by walking up,
 * because the code also runs bundled (dist/cli/*.js, `npm run build`), where `import.meta.url` is no longer in sim/.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findSimDir(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start, i = 0; i < 6; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'scenarios')) && existsSync(join(dir, 'tls'))) return dir;
    if (existsSync(join(dir, 'sim', 'scenarios'))) return join(dir, 'sim');
  }
  throw new Error(`cannot find the simulated cluster's data (sim/scenarios) above ${start}`);
}

export const SIM_DIR = findSimDir();
export const SCENARIO_DIR = join(SIM_DIR, 'scenarios');
export const TLS_DIR = join(SIM_DIR, 'tls');
