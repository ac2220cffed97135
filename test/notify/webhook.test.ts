import { describe, expect, it } from 'vitest';
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  signWebhook,
  signedHeaders,
  verifyWebhookSignature,
  webhookPayload,
} from '../../lib/notify/webhook.js';
import { culpritReport, emptyReport } from '../fixtures/report/sample.js';

const SECRET = 'whsec-test-0123456789';
const NOW = Date.parse('2024-05-14T09:14:00Z');

describe('webhookPayload', () => {
  it('summarises the report: ids, verdict, SNAT, top pods, link', () => {
    const p = webhookPayload(culpritReport, { reportUrl: 'https://x.example/r?sig=s' });
    const top = culpritReport.pods[0];
    expect(p).toMatchObject({
      schemaVersion: 1,
      investigationId: 'inv-20240514-091200-7f3a',
      generatedAt: '2024-05-14T09:13:41.512Z',
      cluster: { name: 'aks-prod-weu', resourceId: culpritReport.cluster.resourceId },
      node: { name: 'aks-nodepool1-38290145-vmss000003', ip: '10.224.0.5' },
      snat: { allocatedPorts: 1024, usedPorts: 1019, failedConnections: 3412 },
      degradedSteps: culpritReport.degraded.length,
      reportUrl: 'https://x.example/r?sig=s',
    });
    expect(p.verdict).toMatch(/^Most likely culprit: /);
    expect(p.verdict).toContain('20.1.2.3:443');
    expect(p.topPods.length).toBe(Math.min(5, culpritReport.pods.length));
    expect(p.topPods[0]).toEqual({
      rank: 1,
      pod: `${top?.namespace}/${top?.name}`,
      owner: top?.owner,
      snatFlows: (top?.establishedPublicOutbound ?? 0) + (top?.synSentPublic ?? 0) + (top?.closingPublic ?? 0),
      topDestination: { ip: '20.1.2.3', port: 443, flows: top?.topDestinations[0]?.flows },
    });
    const sum = p.findings.critical + p.findings.warning + p.findings.info;
    expect(sum).toBe(culpritReport.findings.length);
    expect(webhookPayload(emptyReport, { reportUrl: null }).topPods).toEqual([]);
  });
});

describe('webhook signature', () => {
  const body = JSON.stringify(webhookPayload(culpritReport, { reportUrl: null }));
  const headers = signedHeaders(SECRET, body, NOW);
  const ts = headers[TIMESTAMP_HEADER];
  const sig = headers[SIGNATURE_HEADER];

  it('signs "<timestamp>.<body>" with HMAC-SHA256, as the docs say', async () => {
    expect(ts).toBe(String(NOW / 1000));
    const { createHmac } = await import('node:crypto');
    expect(sig).toBe(`sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`);
    expect(signWebhook(SECRET, Number(ts), Buffer.from(body))).toBe(sig);
  });

  it('verifies the genuine delivery, within the tolerance', () => {
    expect(verifyWebhookSignature(SECRET, ts, body, sig, { nowMs: NOW })).toBe(true);
    expect(verifyWebhookSignature(SECRET, ts, Buffer.from(body), sig, { nowMs: NOW + 299_000 })).toBe(true);
    expect(
      verifyWebhookSignature(SECRET, ts, body, sig?.toUpperCase().replace('SHA256=', 'sha256='), { nowMs: NOW }),
    ).toBe(true);
  });

  it.each([
    ['a tampered body', { body: body.replace('aks-prod-weu', 'aks-prod-wex') }],
    ['one more byte', { body: body + ' ' }],
    ['another timestamp', { ts: String(Number(ts) + 1) }],
    ['another secret', { secret: 'whsec-other' }],
    ['a too old delivery', { now: NOW + 301_000 }],
    ['a delivery from the future', { now: NOW - 301_000 }],
    ['a tight tolerance', { now: NOW + 11_000, tolerance: 10 }],
    ['no signature', { sig: null }],
    ['no timestamp', { ts: undefined }],
    ['a malformed timestamp', { ts: `${ts}.5` }],
    ['a truncated signature', { sig: sig?.slice(0, -2) }],
    ['another scheme', { sig: sig?.replace('sha256=', 'sha1=') }],
    ['a bare hex digest', { sig: sig?.slice('sha256='.length) }],
  ])('refuses %s', (_, change: Record<string, unknown>) => {
    const get = <T>(key: string, fallback: T): T => (key in change ? (change[key] as T) : fallback);
    expect(
      verifyWebhookSignature(
        get('secret', SECRET),
        get<string | undefined>('ts', ts),
        get('body', body),
        get<string | null | undefined>('sig', sig),
        { nowMs: get('now', NOW), toleranceSeconds: get('tolerance', 300) },
      ),
    ).toBe(false);
  });
});
