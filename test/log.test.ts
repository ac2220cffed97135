import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { REDACTED, createLogger, functionsLogSink, redact, silentLogger } from '../lib/log.js';
import type { LogLevel } from '../lib/log.js';

/** Characters of keys and tokens (base64 and friends); none of them in REDACTED, so a replacement cannot rebuild one. */
const SECRET_CHAR = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=-_');
const fixed = (): Date => new Date('2026-11-26T10:00:00.000Z');

function capture(): {
  lines: Array<{ level: LogLevel; record: Record<string, unknown> }>;
  sink: (l: LogLevel, s: string) => void;
} {
  const lines: Array<{ level: LogLevel; record: Record<string, unknown> }> = [];
  return { lines, sink: (level, line) => lines.push({ level, record: JSON.parse(line) as Record<string, unknown> }) };
}

describe('structured logger', () => {
  it('writes one JSON object per line with time, level, msg and the context of the logger and its children', () => {
    const { lines, sink } = capture();
    const log = createLogger(sink, { investigationId: 'inv-1' }, { now: fixed });
    log.child({ phase: 'census', node: 'aks-nodepool1-0' }).info('census wave done', { pods: 8 });
    log.warn('capture degraded', { phase: 'capturing', reason: 'unschedulable' });
    expect(lines).toEqual([
      {
        level: 'info',
        record: {
          time: '2026-11-26T10:00:00.000Z',
          level: 'info',
          msg: 'census wave done',
          investigationId: 'inv-1',
          phase: 'census',
          node: 'aks-nodepool1-0',
          pods: 8,
        },
      },
      {
        level: 'warn',
        record: {
          time: '2026-11-26T10:00:00.000Z',
          level: 'warn',
          msg: 'capture degraded',
          investigationId: 'inv-1',
          phase: 'capturing',
          reason: 'unschedulable',
        },
      },
    ]);
  });

  it('a field cannot overwrite time, level or msg; undefined fields are left out; debug is off by default', () => {
    const { lines, sink } = capture();
    const log = createLogger(sink, {}, { now: fixed });
    log.debug('hidden');
    log.info('shown', { msg: 'forged', level: 'error', extra: undefined });
    expect(lines.map((l) => l.record)).toEqual([{ time: '2026-11-26T10:00:00.000Z', level: 'info', msg: 'shown' }]);
    const all = capture();
    createLogger(all.sink, {}, { level: 'debug' }).debug('now shown');
    expect(all.lines).toHaveLength(1);
  });

  it('blanks out secret values and credential shapes before the line is written', () => {
    const { lines, sink } = capture();
    const secret = 'webhook-secret-of-enough-length';
    const log = createLogger(sink, {}, { secrets: [secret] });
    log.error('notify failed', {
      detail: `signed with ${secret}`,
      link: 'https://acct.blob.core.windows.net/reports/a/report.html?sv=2025-01-05&se=2026-11-27&sr=b&sp=r&sig=AbC%2Bdef%3D',
      conn: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5PT0=;EndpointSuffix=core.windows.net',
      auth: 'Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      url: 'https://user:hunter2@hooks.example.com/path',
      key: 'https://app.azurewebsites.net/api/alerts?code=abcDEF123==&x=1',
    });
    const text = JSON.stringify(lines[0]!.record);
    for (const leaked of [secret, 'AbC%2Bdef%3D', 'c2VjcmV0a2V5PT0=', 'eyJhbGciOiJSUzI1NiJ9', 'hunter2', 'abcDEF123']) {
      expect(text).not.toContain(leaked);
    }
    expect(text).toContain(`sig=${REDACTED}`);
    expect(text).toContain(`AccountKey=${REDACTED}`);
    expect(text).toContain('AccountName=acct');
    expect(text).toContain(`code=${REDACTED}&x=1`);
  });

  it('redact removes any secret of 4+ characters wherever it appears in any text', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 4, unit: SECRET_CHAR }), fc.string(), (before, secret, after) => {
        return !redact(`${before}${secret}${after}${secret}`, [secret]).includes(secret);
      }),
    );
  });

  it('functionsLogSink calls the invocation logger of the level; silentLogger writes nothing', () => {
    const calls: string[] = [];
    const context = {
      debug: (m: unknown) => calls.push(`debug ${String(m)}`),
      info: (m: unknown) => calls.push(`info ${String(m)}`),
      warn: (m: unknown) => calls.push(`warn ${String(m)}`),
      error: (m: unknown) => calls.push(`error ${String(m)}`),
    };
    const log = createLogger(functionsLogSink(context), { investigationId: 'x' }, { now: fixed });
    log.warn('w');
    log.error('e');
    expect(calls.map((c) => c.split(' ')[0])).toEqual(['warn', 'error']);
    expect(calls[0]).toContain('"investigationId":"x"');
    silentLogger.error('nothing');
  });
});
