/**
 * `npm run fuzz`: the fuzz properties of test/reliability/properties.ts (the set the test suite runs briefly, in
 * fuzz-short.test.ts) run for a long time: every parser of lib/parse, and planAlert.
 *
 *   npm run fuzz                                   60 s per target, a random seed (printed)
 *   npm run fuzz -- --seconds 20 --target alert    one target (repeat --target for several)
 *   npm run fuzz -- --seed 42 --target alert --path "12:3:0"   replay a counterexample as printed
 *   npm run fuzz -- --list
 *
 * Exit code: 0 when every property held, 1 when one failed (each failure printed with its seed, path and
 * counterexample), 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { TARGETS } from '../test/reliability/properties.js';
import type { FuzzTarget } from '../test/reliability/properties.js';

const USAGE = 'usage: npm run fuzz -- [--seconds N] [--seed N] [--target NAME]... [--path PATH] [--list]';

interface Options {
  readonly seconds: number;
  readonly seed: number;
  readonly targets: readonly FuzzTarget[];
  readonly path: string | null;
}

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function options(argv: string[]): Options | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seconds: { type: 'string' },
        seed: { type: 'string' },
        target: { type: 'string', multiple: true },
        path: { type: 'string' },
        list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return null;
  }
  if (values.list) {
    for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(22)} ${t.about}\n`);
    return null;
  }
  const seconds = values.seconds === undefined ? 60 : Number(values.seconds);
  if (!(seconds > 0) || !Number.isFinite(seconds)) usage(`--seconds: not a positive number: ${values.seconds}`);
  const seed = values.seed === undefined ? (Math.random() * 2 ** 31) | 0 : Number(values.seed);
  if (!Number.isInteger(seed)) usage(`--seed: not an integer: ${values.seed}`);
  const names = values.target ?? [];
  const unknown = names.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length > 0) usage(`unknown target(s) ${unknown.join(', ')}; --list shows them`);
  const targets = names.length === 0 ? TARGETS : TARGETS.filter((t) => names.includes(t.name));
  if (values.path !== undefined && targets.length !== 1) usage('--path replays one target: give one --target');
  return { seconds, seed, targets, path: values.path ?? null };
}

interface Outcome {
  readonly target: string;
  readonly runs: number;
  readonly ms: number;
  readonly failure: { readonly path: string | null; readonly counterexample: string; readonly error: string } | null;
}

const clip = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;

function errorText(e: unknown): string {
  if (e instanceof Error) return (e.stack ?? e.message).split('\n').slice(0, 6).join('\n      ');
  return String(e);
}

async function fuzz(target: FuzzTarget, o: Options): Promise<Outcome> {
  const started = performance.now();
  let details;
  try {
    details = await fc.check(target.property(), {
      seed: o.seed,
      ...(o.path !== null
        ? { path: o.path, numRuns: 1, endOnFailure: true }
        : {
            numRuns: Number.MAX_SAFE_INTEGER,
            interruptAfterTimeLimit: o.seconds * 1000,
            markInterruptAsFailure: false,
          }),
    });
  } catch (e) {
    // Not a property failure: the generators themselves threw. Still one target's outcome, not a crash of the run.
    const ms = performance.now() - started;
    return { target: target.name, runs: 0, ms, failure: { path: null, counterexample: '(none)', error: errorText(e) } };
  }
  const ms = performance.now() - started;
  if (!details.failed) return { target: target.name, runs: details.numRuns, ms, failure: null };
  return {
    target: target.name,
    runs: details.numRuns,
    ms,
    failure: {
      path: details.counterexamplePath,
      counterexample: details.counterexample === null ? '(none)' : clip(fc.stringify(details.counterexample), 2000),
      error:
        details.errorInstance !== null
          ? errorText(details.errorInstance)
          : details.interrupted
            ? 'interrupted'
            : `too many skipped runs (${details.numSkips})`,
    },
  };
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  if (o === null) return 0;
  const each = o.path !== null ? 'replay' : `${o.seconds} s each`;
  process.stdout.write(`fuzz: ${o.targets.length} target(s), ${each}, seed ${o.seed}\n`);
  const outcomes: Outcome[] = [];
  for (const target of o.targets) {
    process.stdout.write(`  ${target.name.padEnd(22)} `);
    const outcome = await fuzz(target, o);
    outcomes.push(outcome);
    const time = `${(outcome.ms / 1000).toFixed(1)} s`.padStart(8);
    const runs = `${outcome.runs} runs`.padStart(14);
    process.stdout.write(`${runs} ${time}  ${outcome.failure ? 'FAILED' : 'ok'}\n`);
    if (outcome.failure) {
      const f = outcome.failure;
      process.stdout.write(`      counterexample: ${f.counterexample}\n      error: ${f.error}\n`);
      const path = f.path !== null ? ` --path "${f.path}"` : '';
      process.stdout.write(`      replay: npm run fuzz -- --target ${target.name} --seed ${o.seed}${path}\n`);
    }
  }
  const failed = outcomes.filter((x) => x.failure !== null);
  const runs = outcomes.reduce((n, x) => n + x.runs, 0);
  process.stdout.write(
    `summary: ${outcomes.length} target(s), ${runs} runs, ${failed.length} failure(s)` +
      (failed.length > 0 ? `: ${failed.map((x) => x.target).join(', ')}` : '') +
      ` (seed ${o.seed})\n`,
  );
  return failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
