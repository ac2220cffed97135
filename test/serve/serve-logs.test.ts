/**
 * `snat-responder serve`'s structured logs (lib/log.ts through lib/serve/server.ts and lib/workflow/observe.ts): one
 * investigation run against the simulated AKS cluster (sim/) with a capturing logger that knows no secret itself, so
 * that the redaction checked here is serve's own. Not the Functions host, not Application Insights.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveSettings } from '../../cli/serve.js';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import { kubeConfigFromFile, makeKubeClients } from '../../lib/k8s/access.js';
import { createLogger, REDACTED } from '../../lib/log.js';
import type { LogLevel } from '../../lib/log.js';
import { startServe } from '../../lib/serve/server.js';
import type { RunningServer } from '../../lib/serve/server.js';
import { snatAlert } from '../../sim/alerts.js';
import { startSim } from '../../sim/server.js';
import type { RunningSim } from '../../sim/server.js';
import { startReceiver } from '../notify/receiver.js';
import type { Receiver } from '../notify/receiver.js';

const ALERT_SECRET = 'alert-secret-9f8e7d6c5b4a39281706';
const WEBHOOK_SECRET = 'webhook-hmac-secret-0a1b2c3d4e5f6071';
const ACCOUNT_KEY = 'U2VydmVMb2dzVGVzdEFjY291bnRLZXlOb3RSZWFsMDAwMDAwMDA=';
const CONNECTION_STRING = `DefaultEndpointsProtocol=http;AccountName=logsacct;AccountKey=${ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:9/logsacct`;

interface Line {
  readonly level: LogLevel;
  readonly text: string;
  readonly record: Record<string, unknown>;
}

let sim: RunningSim;
let receiver: Receiver;
let server: RunningServer;
const lines: Line[] = [];
const dir = mkdtempSync(join(tmpdir(), 'snat-serve-logs-'));

beforeAll(async () => {
  sim = await startSim({ scenario: 'default', timeScale: 0.05 });
  receiver = await startReceiver();
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, sim.kubeconfig, { mode: 0o600 });
  const { settings } = serveSettings({
    SNAT_ALERT_SECRET: ALERT_SECRET,
    SNAT_WEBHOOK_URL: `${receiver.origin}/hook`,
    SNAT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SNAT_REPORT_STORAGE: CONNECTION_STRING,
  });
  const kc = kubeConfigFromFile(kubeconfig);
  server = await startServe({
    clients: makeKubeClients(kc, { requestTimeoutMs: 5_000 }),
    clusterName: kc.getCurrentCluster()?.name ?? 'sim',
    settings,
    classifier: new AddressClassifier(),
    // Reports to a folder: the connection string is only a setting here, a secret that must not reach a line.
    blob: null,
    outDir: join(dir, 'reports'),
    captureSeconds: 1,
    run: { timing: { pollIntervalMs: 100, maxPollIntervalMs: 200, stuckGraceMs: 300 } },
    // No secrets given to this logger: what is redacted below, serve redacted.
    logger: createLogger(
      (level, text) => lines.push({ level, text, record: JSON.parse(text) as Record<string, unknown> }),
      {},
      { level: 'debug' },
    ),
  });
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
  await sim?.close();
});

async function untilDone(id: string): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const body = (await (await fetch(`${server.url}/api/investigations/${id}`)).json()) as { status: string };
    if (!['pending', 'running'].includes(body.status)) return body.status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`investigation ${id} did not finish`);
}

describe('serve logs one investigation as JSON lines (simulated cluster, in-process engine)', () => {
  let id = '';
  const ofInvestigation = (): Line[] => lines.filter((l) => l.record.investigationId === id);

  it('runs an alert whose rule name quotes every secret, after a refused one', async () => {
    const alert = snatAlert({ nodeIp: sim.expected.nodeIp, firedAt: new Date() });
    // Free text from the payload that reaches a log line (the trigger's source): the secrets in it must be blanked.
    alert.data.essentials.alertRule = `snat-${ALERT_SECRET}-${WEBHOOK_SECRET}-${ACCOUNT_KEY}`;
    const body = JSON.stringify(alert);
    const refused = await fetch(`${server.url}/api/alerts`, { method: 'POST', body });
    expect(refused.status).toBe(401);
    const res = await fetch(`${server.url}/api/alerts?alertSecret=${ALERT_SECRET}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-snat-alert-secret': ALERT_SECRET },
    });
    expect(res.status).toBe(202);
    id = ((await res.json()) as { investigations: Array<{ id: string }> }).investigations[0]!.id;
    expect(await untilDone(id)).toBe('completed');
    expect(receiver.received).toHaveLength(1);
  });

  it('every line is one JSON object with time, level and msg', () => {
    if (process.env.SHOW_LOGS) console.log(lines.map((l) => l.text).join('\n'));
    expect(lines.length).toBeGreaterThan(20);
    for (const { level, text, record } of lines) {
      expect(text).not.toContain('\n');
      expect(new Date(String(record.time)).toISOString()).toBe(record.time);
      expect(record.level).toBe(level);
      expect(['debug', 'info', 'warn', 'error']).toContain(record.level);
      expect(typeof record.msg).toBe('string');
    }
  });

  it('the requests: refused with its code and no id; accepted with the investigation id; never a body or a header', () => {
    const requests = lines.filter((l) => String(l.record.msg).startsWith('request '));
    expect(requests[0]?.record).toMatchObject({
      level: 'info',
      msg: 'request refused',
      route: 'alerts',
      status: 401,
      code: 'unauthorized',
    });
    expect(requests[0]?.record.investigationId).toBeUndefined();
    expect(requests.find((l) => l.record.msg === 'request accepted')?.record).toMatchObject({
      route: 'alerts',
      status: 202,
      investigationId: id,
      investigationIds: id,
    });
    // The status polls, at debug.
    expect(requests.some((l) => l.record.route === 'getInvestigation' && l.level === 'debug')).toBe(true);
    for (const l of requests) {
      expect(l.text).not.toContain('BackendIPAddress');
      expect(l.text).not.toContain('x-snat-alert-secret');
    }
  });

  it("the investigation's lines carry its id; from resolution on, its node", () => {
    const own = ofInvestigation();
    for (const msg of ['investigation started', 'phase changed', 'activity done', 'investigation finished']) {
      expect(
        own.some((l) => l.record.msg === msg),
        msg,
      ).toBe(true);
      // None of the investigation's kinds of line without the id.
      expect(lines.filter((l) => l.record.msg === msg && l.record.investigationId !== id)).toEqual([]);
    }
    expect(own.find((l) => l.record.msg === 'investigation started')?.record).toMatchObject({
      trigger: 'alert',
      nodeIp: sim.expected.nodeIp,
    });
    const afterResolve = own.filter(
      (l) =>
        l.record.msg === 'activity done' &&
        ['listPods', 'writeReport', 'deleteCapture'].includes(String(l.record.activity)),
    );
    expect(afterResolve.length).toBeGreaterThanOrEqual(3);
    for (const l of afterResolve) expect(l.record.node).toBe(sim.expected.node);
    const finished = own.filter((l) => l.record.msg === 'investigation finished');
    expect(finished).toHaveLength(1);
    expect(finished[0]?.record).toMatchObject({
      outcome: 'reported',
      phase: 'done',
      node: sim.expected.node,
      topPod: sim.expected.culprit,
      cleanup: 'deleted',
      notified: 1,
    });
  });

  it("each of the report's degradations is one warning, before the outcome that counts them", () => {
    const own = ofInvestigation();
    const finished = own.find((l) => l.record.msg === 'investigation finished');
    const degraded = own.filter((l) => l.record.msg === 'step degraded');
    expect(degraded.length).toBe(finished?.record.degraded);
    expect(degraded.length).toBeGreaterThan(0);
    for (const l of degraded) {
      expect(l.level).toBe('warn');
      expect(typeof l.record.step).toBe('string');
      expect(typeof l.record.reason).toBe('string');
      expect(own.indexOf(l)).toBeLessThan(own.indexOf(finished!));
    }
  });

  it('the phases, in order, once each: resolving first, done last, nothing logged for progress ticks', () => {
    const phases = ofInvestigation()
      .filter((l) => l.record.msg === 'phase changed')
      .map((l) => String(l.record.phase));
    expect(phases[0]).toBe('resolving');
    expect(phases.at(-1)).toBe('done');
    expect(new Set(phases).size).toBe(phases.length);
    const order = ['resolving', 'listing pods', 'census', 'reporting', 'done'];
    expect(phases.filter((p) => order.includes(p))).toEqual(order);
    expect(phases).toContain('capturing');
    // Each phase line says where it came from.
    const changes = ofInvestigation().filter((l) => l.record.msg === 'phase changed');
    expect(changes[0]?.record.previousPhase).toBeNull();
    for (let i = 1; i < changes.length; i++) expect(changes[i]?.record.previousPhase).toBe(phases[i - 1]);
  });

  it('one end line per activity run, with its duration and outcome', () => {
    const own = ofInvestigation();
    const starts = own.filter((l) => l.record.msg === 'activity started');
    const ends = own.filter((l) => l.record.msg === 'activity done' || l.record.msg === 'activity failed');
    expect(ends.length).toBe(starts.length);
    const count = (ls: Line[]) =>
      ls.reduce<Record<string, number>>(
        (m, l) => ({ ...m, [String(l.record.activity)]: (m[String(l.record.activity)] ?? 0) + 1 }),
        {},
      );
    expect(count(ends)).toEqual(count(starts));
    for (const name of [
      'resolveTarget',
      'startCapture',
      'listPods',
      'censusPods',
      'checkCapture',
      'collectCapture',
      'writeReport',
      'notifyReport',
      'deleteCapture',
    ]) {
      expect(count(ends)[name], name).toBeGreaterThanOrEqual(1);
    }
    for (const l of ends) {
      expect(Number.isInteger(l.record.durationMs) && (l.record.durationMs as number) >= 0, l.text).toBe(true);
      expect(l.record.outcome).toBe(l.record.msg === 'activity done' ? 'ok' : 'failed');
      expect(typeof l.record.phase).toBe('string');
    }
  });

  it('no line holds the webhook secret, the alert secret or the AccountKey; the rule name shows where they were', () => {
    const all = lines.map((l) => l.text).join('\n');
    for (const secret of [ALERT_SECRET, WEBHOOK_SECRET, ACCOUNT_KEY, `${receiver.origin}/hook`]) {
      expect(all).not.toContain(secret);
    }
    const started = ofInvestigation().find((l) => l.record.msg === 'investigation started');
    expect(started?.record.source).toBe(`snat-${REDACTED}-${REDACTED}-${REDACTED}`);
  });
});
