/**
 * A tcptracer capture file parsed on every core: `awk | sort` uses two, and a million-line capture is read in a
 * second. The file is split into parts at line starts; the main thread reads the first part while worker threads read
 * the others with the same aggregator, and the main thread then absorbs their partial aggregates in file order. The
 * result is the one a single sequential read gives, line numbers and bounded lists included:
 *
 * - Reading a line depends on state left by earlier lines (header layout, TIME unit, banner). Workers start from the
 *   state the head of the file leaves (a probe of its first lines: banner and header come first); a part read from
 *   another state than the one the previous parts actually end in is not absorbed but read again in the main thread,
 *   from the right state. The same for a part that dropped a newcomer from a bounded list (65th PID of a source...).
 * - Workers do not classify addresses; the main thread does, with the caller's classifier, when absorbing.
 *
 * Small files (under two parts of `minPartBytes`) and anything that is not a regular file are read in one pass.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  EVERY_ADDRESS_PUBLIC,
  LineFeeder,
  TcptracerAggregator,
  feedFileRange,
  parseTcptracerPart,
  parseTcptracerStream,
} from './tcptracer.js';
import type { TcptracerOptions, TcptracerPartTask, TcptracerPartial, TcptracerState } from './tcptracer.js';
import type { Parsed, TcptracerCapture } from './types.js';

export interface TcptracerFileOptions extends TcptracerOptions {
  /** Parts read at once, the main thread's included (default: the available cores). */
  readonly threads?: number;
  /** Smallest part worth a thread (default 8 MiB): smaller files are read in one pass. */
  readonly minPartBytes?: number;
  /** Where parts start (tests), instead of an even split; each moves forward to the next line start. */
  readonly splitAt?: readonly number[];
  /** Read the other parts in this thread, one after the other, instead of in workers (tests of the merge). */
  readonly inProcess?: boolean;
  /** How much of the head of the file is read to tell the state the parts start from (default 256 KiB; tests). */
  readonly probeBytes?: number;
  /** Told how each part after the first was merged: absorbed, or read again in the main thread (tests). */
  readonly onPart?: (part: { readonly index: number; readonly start: number; readonly absorbed: boolean }) => void;
}

export interface WorkerInput {
  readonly path: string;
  readonly tasks: Array<TcptracerPartTask & { readonly index: number }>;
}

export interface PartResult {
  readonly index: number;
  readonly partial: TcptracerPartial;
}

const DEFAULT_MIN_PART_BYTES = 8 * 1024 * 1024;
/** The main thread's part is this much larger than the others: a worker starts reading ~0.1 s after it. */
const MAIN_HEAD_START_BYTES = 8 * 1024 * 1024;
/** How much of the first part the main thread reads to guess the state the other parts start from. */
const PROBE_BYTES = 256 * 1024;

/** Parses a tcptracer capture file, in parallel parts when it is a large regular file. */
export async function parseTcptracerFile(
  path: string,
  options: TcptracerFileOptions = {},
): Promise<Parsed<TcptracerCapture>> {
  if (!(await stat(path)).isFile()) return parseTcptracerStream(createReadStream(path), options);
  const fd = openSync(path, 'r');
  try {
    const starts = partStarts(fd, fstatSync(fd).size, options);
    const ends = starts.map((_, k) => (k + 1 < starts.length ? starts[k + 1]! : null));
    const aggregator = new TcptracerAggregator(options);
    if (starts.length === 1) {
      const feeder = new LineFeeder(aggregator);
      feedFileRange(feeder, fd, 0, null);
      feeder.end();
      return aggregator.finish();
    }
    const states = probeStates(fd, starts, options.probeBytes ?? PROBE_BYTES);
    const tasks = starts.slice(1).map((start, k) => ({ index: k + 1, start, end: ends[k + 1]!, state: states[k]! }));
    const partials = options.inProcess
      ? Promise.resolve(tasks.map((task) => parseTcptracerPart(fd, task)))
      : readInWorkers(path, tasks, Math.max(1, (options.threads ?? availableParallelism()) - 1));

    const first = new LineFeeder(aggregator);
    feedFileRange(first, fd, 0, starts[1]!);
    let linesBefore = first.lines;
    const results = await partials;
    for (const [k, task] of tasks.entries()) {
      const partial = results[k];
      const absorbed = partial !== undefined && aggregator.absorb(partial, linesBefore);
      options.onPart?.({ index: task.index, start: task.start, absorbed });
      if (absorbed) {
        linesBefore += partial.lines;
        continue;
      }
      // Read from a state other than the one the previous parts end in (or its worker failed): read it here.
      const feeder = new LineFeeder(aggregator, linesBefore, false);
      feedFileRange(feeder, fd, task.start, task.end);
      if (task.end === null) feeder.end();
      linesBefore = feeder.lines;
    }
    return aggregator.finish();
  } finally {
    closeSync(fd);
  }
}

/** Part start offsets, the first being 0: each at a line start, in increasing order, none at the end of the file. */
function partStarts(fd: number, size: number, options: TcptracerFileOptions): number[] {
  let targets = options.splitAt;
  if (targets === undefined) {
    const parts = Math.min(
      options.threads ?? availableParallelism(),
      Math.floor(size / (options.minPartBytes ?? DEFAULT_MIN_PART_BYTES)),
    );
    const headStart = Math.min(MAIN_HEAD_START_BYTES, size / parts / 4);
    const partBytes = (size - headStart) / parts;
    targets = Array.from({ length: Math.max(0, parts - 1) }, (_, k) => Math.round(headStart + (k + 1) * partBytes));
  }
  const starts = [0];
  for (const target of [...targets].sort((a, b) => a - b)) {
    const start = lineStartAtOrAfter(fd, Math.max(1, target));
    if (start > starts[starts.length - 1]! && start < size) starts.push(start);
  }
  return starts;
}

/** The first offset >= `at` (> 0) that starts a line, i.e. follows a newline; the file size when there is none. */
function lineStartAtOrAfter(fd: number, at: number): number {
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let position = at - 1; ; position += buf.length) {
    const n = readSync(fd, buf, 0, buf.length, position);
    if (n === 0) return position;
    const newline = buf.subarray(0, n).indexOf(10);
    if (newline >= 0) return position + newline + 1;
  }
}

/**
 * The state each part after the first starts from, as far as the first `probeBytes` of the file tell: exact for a
 * part that starts within them, else the state they end in (banner and header come first; later lines rarely change
 * it).
 */
function probeStates(fd: number, starts: readonly number[], probeBytes: number): TcptracerState[] {
  const probe = new TcptracerAggregator({ classifier: EVERY_ADDRESS_PUBLIC });
  const feeder = new LineFeeder(probe);
  let probed = 0;
  return starts.slice(1).map((start) => {
    const until = Math.min(start, probeBytes);
    if (until > probed) {
      feedFileRange(feeder, fd, probed, until);
      probed = until;
    }
    return probe.state();
  });
}

/**
 * Reads the tasks in up to `count` workers; resolves with the partials by task, undefined where a worker failed
 * (that part is then read in the main thread).
 */
function readInWorkers(
  path: string,
  tasks: WorkerInput['tasks'],
  count: number,
): Promise<Array<TcptracerPartial | undefined>> {
  const results: Array<TcptracerPartial | undefined> = tasks.map(() => undefined);
  const workers = Math.min(count, tasks.length);
  const running: Array<Promise<void>> = [];
  for (let w = 0; w < workers; w++) {
    const input: WorkerInput = { path, tasks: tasks.filter((_, k) => k % workers === w) };
    running.push(
      new Promise<void>((resolve) => {
        let worker: Worker;
        try {
          worker = startWorker(input);
        } catch {
          resolve();
          return;
        }
        worker.on('message', (result: PartResult) => (results[result.index - 1] = result.partial));
        worker.on('error', () => resolve());
        worker.on('exit', () => resolve());
      }),
    );
  }
  return Promise.all(running).then(() => results);
}

/** The worker entry next to this module: the bundle's (dist/cli), or the TypeScript source run through tsx. */
function startWorker(input: WorkerInput): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./tcptracer-worker.js', here), { workerData: input });
  // Sources (vitest, tsx): a worker does not inherit the TypeScript loader; it registers tsx as bin/ does.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./tcptracer-worker.ts', here).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData: input });
}
