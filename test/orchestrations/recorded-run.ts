/**
 * One real in-process investigation against the simulated cluster (sim/, default scenario, timeScale 0.05), its
 * activities' inputs and outputs recorded with the driver's onActivity hook: the realistic answers the replay tests
 * give the Durable orchestrator.
 */
import type { InvestigationInput } from '../../orchestrations/investigate.js';
import type { ActivityEvent } from '../../lib/workflow/driver.js';
import { startSim } from '../../sim/server.js';
import { investigateSim } from '../workflow/sim-run.js';
import type { SimRun } from '../workflow/sim-run.js';
import type { Answer } from './replay-drive.js';
import type { Scheduled } from '../helpers/df-harness.js';
import { startReceiver } from '../notify/receiver.js';

export type Ended = Extract<ActivityEvent, { type: 'end' }>;

export interface RecordedRun {
  readonly input: InvestigationInput;
  readonly run: SimRun;
  /** Activity ends, in order. */
  readonly calls: Ended[];
  /** The workflow's start: the `now` given to startCapture (the window's start). */
  readonly windowStart: Date;
}

/** With a Teams target on a loopback receiver: the recording includes the notify step (linking to a local path). */
export async function recordRun(investigationId = 'replay-rec-1'): Promise<RecordedRun> {
  const sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  const receiver = await startReceiver();
  try {
    const input: InvestigationInput = {
      investigationId,
      node: { ip: sim.expected.nodeIp },
      captureSeconds: 1,
      trigger: { kind: 'cli', source: 'test' },
      timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 },
    };
    const run = await investigateSim(sim, {
      input,
      settings: { notify: { teamsWebhookUrl: `${receiver.origin}/teams` } },
    });
    if (receiver.received.length !== 1) throw new Error('the recorded run did not notify the receiver');
    const calls = run.events.filter((e): e is Ended => e.type === 'end');
    const start = calls.find((c) => c.activity === 'startCapture');
    if (!start) throw new Error('the recorded run did not start a capture');
    return { input, run, calls, windowStart: new Date((start.input as { now: string }).now) };
  } finally {
    await Promise.all([sim.close(), receiver.close()]);
  }
}

/**
 * Answers from the recording: by activity name; censusPods by its batch start; checkCapture's polls in order (the last
 * one repeated). Input fields that carry the workflow's clock are not compared.
 */
export function recordedResponder(rec: RecordedRun): (s: Scheduled) => Answer {
  const polls = rec.calls.filter((c) => c.activity === 'checkCapture');
  let poll = 0;
  return (s) => {
    let call: Ended | undefined;
    if (s.name === 'checkCapture') call = polls[Math.min(poll++, polls.length - 1)];
    else if (s.name === 'censusPods') {
      const start = (s.input as { start: number }).start;
      call = rec.calls.find((c) => c.activity === 'censusPods' && (c.input as { start: number }).start === start);
    } else call = rec.calls.find((c) => c.activity === s.name);
    if (!call) throw new Error(`nothing recorded for ${s.name} ${JSON.stringify(s.input)}`);
    return call.error === undefined ? { ok: true, value: call.output } : { ok: false, reason: call.error };
  };
}

/** An activity input without the fields that carry the workflow's clock. */
export function timeless(input: unknown): unknown {
  if (input === null || typeof input !== 'object') return input;
  const { now: _now, generatedAt: _generatedAt, window: _window, ...rest } = input as Record<string, unknown>;
  return rest;
}
