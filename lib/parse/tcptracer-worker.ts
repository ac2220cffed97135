/**
 * Worker thread entry of the parallel tcptracer parse (tcptracer-parallel.ts): reads the parts of the file it was
 * given, posting one partial aggregate per part.
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseTcptracerPart } from './tcptracer.js';
import type { PartResult, WorkerInput } from './tcptracer-parallel.js';

const input = workerData as WorkerInput;
const fd = openSync(input.path, 'r');
try {
  for (const task of input.tasks) {
    const result: PartResult = { index: task.index, partial: parseTcptracerPart(fd, task) };
    parentPort!.postMessage(result);
  }
} finally {
  closeSync(fd);
}
