/**
 * `npm run bench`: benchmarks, not timed tests. Each benchmark prepares its input, then runs its contenders side by
 * side (interleaved, after one warm-up each, so the page cache and CPU frequency treat them alike), measuring wall time
 * and peak RSS of each run through GNU time (`%M`: the largest resident set of the process and its waited-for
 * children, i.e. the largest process of a shell pipeline). Prints medians and checks each benchmark's targets.
 *
 * Add a benchmark: append an entry to BENCHMARKS. `node bench/run.ts <name>` (via tsx) runs only the named ones.
 */
import { spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { generateTcptracerCapture, emptyTruth } from './tcptracer-capture.js';
import { CENSUS_TARGET_SECONDS, verdict, type CensusRun } from './census.js';
import { E2E_CAPTURE_SECONDS, E2E_TARGET_SECONDS, type E2eRun } from './e2e.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(ROOT, 'bench', '.data');
const MIB = 1024 * 1024;

interface Contender {
  readonly name: string;
  /** Run without a shell unless the contender is a shell pipeline by nature. */
  readonly command: readonly string[];
}

interface Measurement {
  readonly seconds: number;
  readonly peakRssBytes: number;
}

interface ContenderResult {
  readonly contender: Contender;
  readonly runs: Measurement[];
  readonly medianSeconds: number;
  readonly peakRssBytes: number;
}

interface Check {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

interface Benchmark {
  readonly name: string;
  readonly description: string;
  readonly runs: number;
  /** Creates (or reuses) the input and returns the contenders to run against it. */
  prepare(): Promise<Contender[]>;
  targets(results: readonly ContenderResult[]): Check[];
}

/** Writes a generated file once; reuses it while the parameters and the size on disk still match. */
async function cachedInput(name: string, params: Record<string, unknown>, write: (path: string) => Promise<void>) {
  mkdirSync(DATA, { recursive: true });
  const path = join(DATA, name);
  const metaPath = `${path}.meta.json`;
  const wanted = JSON.stringify(params);
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { params: string; bytes: number };
    if (meta.params === wanted && statSync(path).size === meta.bytes) return path;
  }
  process.stdout.write(`generating ${path} ...\n`);
  await write(path);
  writeFileSync(metaPath, JSON.stringify({ params: wanted, bytes: statSync(path).size }) + '\n');
  return path;
}

async function writeChunks(path: string, chunks: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  for (const chunk of chunks) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function measure(command: readonly string[]): Promise<Measurement> {
  const dir = await mkdtemp(join(tmpdir(), 'snat-bench-'));
  const timeFile = join(dir, 'time');
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, ...command], {
      cwd: ROOT,
      stdio: ['ignore', devNull, 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const [code] = (await once(child, 'close')) as [number | null];
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}: ${stderr.trim()}`);
    const kib = Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop());
    return { seconds, peakRssBytes: kib * 1024 };
  } finally {
    closeSync(devNull);
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function runBenchmark(benchmark: Benchmark): Promise<{ results: ContenderResult[]; checks: Check[] }> {
  const contenders = await benchmark.prepare();
  for (const c of contenders) await measure(c.command); // warm-up
  const runs = contenders.map(() => [] as Measurement[]);
  for (let i = 0; i < benchmark.runs; i++) {
    for (const [k, c] of contenders.entries()) runs[k]!.push(await measure(c.command));
  }
  const results = contenders.map((contender, k) => ({
    contender,
    runs: runs[k]!,
    medianSeconds: median(runs[k]!.map((r) => r.seconds)),
    peakRssBytes: Math.max(...runs[k]!.map((r) => r.peakRssBytes)),
  }));
  return { results, checks: benchmark.targets(results) };
}

const TCPTRACER_LINES = 1_000_000;
const CENSUS_RUNS = join(DATA, 'census-runs.jsonl');
const E2E_RUNS = join(DATA, 'e2e-runs.jsonl');

const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'parse-tcptracer-1m',
    description: `CLI \`parse tcptracer\` vs the article's awk|sort|uniq pipeline on a ${TCPTRACER_LINES}-line bcc -tv capture`,
    runs: 5,
    async prepare() {
      const params = { generator: 'tcptracer-capture@1', lines: TCPTRACER_LINES, seed: 20240917, pods: 80 };
      const file = await cachedInput('tcptracer-1m.log', params, (path) =>
        writeChunks(
          path,
          generateTcptracerCapture({ lines: params.lines, seed: params.seed, pods: params.pods }, emptyTruth()),
        ),
      );
      const startupInput = join(DATA, 'tcptracer-header-only.log');
      writeFileSync(startupInput, 'Tracing TCP established connections. Ctrl-C to end.\n');
      const size = statSync(file).size;
      process.stdout.write(`input: ${file} (${(size / MIB).toFixed(1)} MiB, ${TCPTRACER_LINES} lines)\n`);
      return [
        { name: 'node CLI parse tcptracer', command: ['node', 'bin/snat-responder.js', 'parse', 'tcptracer', file] },
        {
          name: 'awk | sort | uniq -c | sort -nr',
          command: ['bash', '-c', `awk '{print $6,$10}' '${file}' | sort | uniq -c | sort -nr`],
        },
        // Not a target: shows how much of the CLI's time is start-up (tsx, module loading) rather than parsing.
        {
          name: '(node CLI start-up only)',
          command: ['node', 'bin/snat-responder.js', 'parse', 'tcptracer', startupInput],
        },
      ];
    },
    targets([node, awk]) {
      const ratio = node!.medianSeconds / awk!.medianSeconds;
      const rss = node!.peakRssBytes / MIB;
      return [
        { name: 'no slower than awk', pass: ratio <= 1, detail: `node/awk = ${ratio.toFixed(2)}` },
        { name: 'peak RSS <= 200 MiB', pass: rss <= 200, detail: `${rss.toFixed(1)} MiB` },
      ];
    },
  },
  {
    name: 'census-250-pods',
    description:
      'censusNode over the sim exec WebSocket (many-pods: 250 pods, 50 ms exec latency, sim in its own process): default concurrency vs sequential',
    runs: 3,
    prepare() {
      mkdirSync(DATA, { recursive: true });
      // Each contender process appends its in-process census figures here (bench/census.ts --out).
      writeFileSync(CENSUS_RUNS, '');
      const contender = (name: string, concurrency: string): Contender => ({
        name,
        command: ['node', '--import', 'tsx', 'bench/census.ts', '--concurrency', concurrency, '--out', CENSUS_RUNS],
      });
      return Promise.resolve([
        contender('censusNode, default concurrency', 'default'),
        contender('censusNode, sequential', '1'),
      ]);
    },
    targets([parallelProcess, sequentialProcess]) {
      const runs = readFileSync(CENSUS_RUNS, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line) as CensusRun);
      // The first run of each contender is the runner's warm-up.
      const measured = (sequential: boolean) => runs.filter((r) => (r.concurrency === 1) === sequential).slice(1);
      const medianRun = (list: CensusRun[]): CensusRun => {
        const seconds = median(list.map((r) => r.censusSeconds));
        return { ...list[0]!, censusSeconds: seconds };
      };
      const parallel = medianRun(measured(false));
      const sequential = medianRun(measured(true));
      const { pass, ratio } = verdict(parallel, sequential);
      const processRatio = sequentialProcess!.medianSeconds / parallelProcess!.medianSeconds;
      return [
        {
          name: `census of ${parallel.pods} pods <= ${CENSUS_TARGET_SECONDS} s wall (median, in process)`,
          pass,
          detail: `concurrency ${parallel.concurrency}: ${parallel.censusSeconds.toFixed(3)} s; sequential: ${sequential.censusSeconds.toFixed(3)} s; ratio ${ratio.toFixed(1)}x; whole processes ${processRatio.toFixed(1)}x`,
        },
      ];
    },
  },
  {
    name: 'e2e-50-pods',
    description: `one whole investigation in process against the sim's fifty-pods scenario (${E2E_CAPTURE_SECONDS} s capture window, production poll timing, report to a folder): time beyond the window`,
    runs: 3,
    prepare() {
      mkdirSync(DATA, { recursive: true });
      writeFileSync(E2E_RUNS, '');
      return Promise.resolve([
        { name: 'investigate, 50 pods', command: ['node', '--import', 'tsx', 'bench/e2e.ts', '--out', E2E_RUNS] },
      ]);
    },
    targets() {
      const runs = readFileSync(E2E_RUNS, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line) as E2eRun);
      const beyond = median(runs.map((r) => r.beyondSeconds));
      const pods = runs[0]?.pods ?? 0;
      return [
        {
          name: `end to end beyond the capture window <= ${E2E_TARGET_SECONDS} s (median, ${pods} pods)`,
          pass: beyond <= E2E_TARGET_SECONDS && runs.every((r) => r.culpritFirst),
          detail: `${beyond.toFixed(3)} s beyond a ${E2E_CAPTURE_SECONDS} s window over ${runs.length} runs; culprit first in every run: ${runs.every((r) => r.culpritFirst)}`,
        },
      ];
    },
  },
];

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

async function main(names: readonly string[]): Promise<number> {
  const selected = names.length > 0 ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  if (selected.length === 0) {
    process.stderr.write(`unknown benchmark; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  let failed = 0;
  for (const benchmark of selected) {
    process.stdout.write(`\n== ${benchmark.name}: ${benchmark.description}\n`);
    const { results, checks } = await runBenchmark(benchmark);
    process.stdout.write(
      table([
        ['contender', 'median s', 'min s', 'max s', 'peak RSS MiB', 'runs'],
        ...results.map((r) => [
          r.contender.name,
          r.medianSeconds.toFixed(3),
          Math.min(...r.runs.map((m) => m.seconds)).toFixed(3),
          Math.max(...r.runs.map((m) => m.seconds)).toFixed(3),
          (r.peakRssBytes / MIB).toFixed(1),
          String(r.runs.length),
        ]),
      ]),
    );
    for (const check of checks) {
      if (!check.pass) failed++;
      process.stdout.write(`${check.pass ? 'PASS' : 'FAIL'}  ${check.name} (${check.detail})\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
