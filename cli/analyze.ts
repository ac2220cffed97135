/**
 * `snat-responder analyze <dir>`: rank the pods of one node from files captured by hand. (Work in progress.)
 */
import type { AddressClassifier } from '../lib/analysis/ip.js';
import type { CliIo } from './main.js';

export interface AnalyzeOptions {
  readonly dir: string;
  readonly out: string;
  readonly classifier: AddressClassifier;
  readonly allocatedPorts?: number;
  readonly json: boolean;
}

export async function runAnalyze(_opts: AnalyzeOptions, _io: CliIo): Promise<void> {
  await Promise.resolve();
  throw new Error('analyze: not implemented yet');
}
