/**
 * execInPod through the real client-node `Exec` against the simulated cluster (sim/, `default` scenario): each tool
 * an image may or may not have, RBAC, containers that are not running, and the exec faults the sim injects.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { execInPod, type ExecRequest } from '../../lib/k8s/exec.js';
import { parseNetstat } from '../../lib/parse/netstat.js';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { parseSs } from '../../lib/parse/ss.js';
import { startSim, type RunningSim } from '../../sim/server.js';

let sim: RunningSim;
let kc: KubeConfig;

beforeAll(async () => {
  sim = await startSim({ scenario: 'default' });
  kc = sim.kubeConfig();
});
afterAll(() => sim.close());
afterEach(() => sim.setFaults({ execLatencyMs: 0, execDropMidStream: false, execForbidden: false, latencyMs: 0 }));

const CHECKOUT = { namespace: 'shop', pod: 'checkout-7d9f8b6c5d-x2k4p', container: 'checkout' };
const CATALOG = { namespace: 'shop', pod: 'catalog-5f8d9c7b6-m4n7q', container: 'catalog' }; // ss and cat
const CART = { namespace: 'shop', pod: 'cart-6d9c8b7f5-h2j9k', container: 'cart' }; // cat only
const DISTROLESS = { namespace: 'payments', pod: 'fraud-scorer-84c6d7f9b5-t7w4r', container: 'scorer' };

const NETSTAT = ['netstat', '-ptn'] as const;
const SS = ['ss', '-tnp'] as const;
const CAT = ['cat', '/proc/net/tcp', '/proc/net/tcp6'] as const;

const request = (
  target: typeof CHECKOUT,
  command: readonly string[],
  extra: Partial<ExecRequest> = {},
): ExecRequest => ({
  ...target,
  command,
  timeoutMs: 5_000,
  maxOutputBytes: 4 * 1024 * 1024,
  ...extra,
});

describe('execInPod against the simulated cluster', () => {
  it('runs netstat in the culprit pod: its output parses to the scenario numbers', async () => {
    const result = await execInPod(kc, request(CHECKOUT, NETSTAT));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const parsed = parseNetstat(result.stdout);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.variant).toBe('net-tools');
    expect(parsed.value.summary.establishedPublicOutbound).toBe(870);
    expect(parsed.value.summary.publicDestinations[0]).toEqual({ endpoint: '20.60.1.9:443', count: 870 });
    expect(parsed.value.summary.byState.SYN_SENT).toBe(64);
  });

  it('runs ss where there is no netstat, and says so for netstat', async () => {
    const missing = await execInPod(kc, request(CATALOG, NETSTAT));
    expect(missing).toMatchObject({ ok: false, failure: 'no-such-binary' });
    expect(missing.ok ? '' : missing.message).toContain('exec: "netstat": executable file not found in $PATH');
    const result = await execInPod(kc, request(CATALOG, SS));
    expect(result.ok).toBe(true);
    const parsed = parseSs(result.ok ? result.stdout : '');
    expect(parsed.ok && parsed.value.summary.establishedPublicOutbound).toBe(340);
  });

  it('runs cat where there is neither netstat nor ss', async () => {
    expect(await execInPod(kc, request(CART, NETSTAT))).toMatchObject({ ok: false, failure: 'no-such-binary' });
    expect(await execInPod(kc, request(CART, SS))).toMatchObject({ ok: false, failure: 'no-such-binary' });
    const result = await execInPod(kc, request(CART, CAT));
    expect(result.ok).toBe(true);
    const parsed = parseProcNetTcp(result.ok ? result.stdout : '');
    expect(parsed.ok && parsed.value.summary.establishedPublicOutbound).toBe(25);
  });

  it('finds none of the three in a distroless image', async () => {
    for (const command of [NETSTAT, SS, CAT]) {
      const result = await execInPod(kc, request(DISTROLESS, command));
      expect(result).toMatchObject({ ok: false, failure: 'no-such-binary' });
      expect(result.ok ? '' : result.message).toContain(`exec: "${command[0]}": executable file not found in $PATH`);
    }
  });

  it('reports RBAC refusal as forbidden, per pod and cluster-wide', async () => {
    const vault = await execInPod(kc, request({ namespace: 'security', pod: 'vault-0', container: 'vault' }, SS));
    expect(vault).toMatchObject({ ok: false, failure: 'forbidden', httpStatus: 403 });
    expect(vault.ok ? '' : vault.message).toContain('cannot create resource "pods/exec"');
    sim.setFaults({ execForbidden: true });
    expect(await execInPod(kc, request(CHECKOUT, NETSTAT))).toMatchObject({ ok: false, failure: 'forbidden' });
  });

  it.each([
    [
      'a waiting container',
      { namespace: 'shop', pod: 'recommendations-7b4f9d8c6-p5l2m', container: 'recommendations' },
      400,
      'container not found ("recommendations")',
    ],
    [
      'a completed pod',
      { namespace: 'shop', pod: 'db-migrate-20251126', container: 'migrate' },
      400,
      'completed pod; current phase is Succeeded',
    ],
    [
      'a container the pod does not have',
      { ...CHECKOUT, container: 'sidecar' },
      400,
      'container sidecar is not valid for pod',
    ],
    ['a deleted pod', { ...CHECKOUT, pod: 'checkout-7d9f8b6c5d-gone1' }, 404, 'not found'],
  ])('reports %s as container-not-running', async (_what, target, httpStatus, text) => {
    const result = await execInPod(kc, request(target, NETSTAT));
    expect(result).toMatchObject({ ok: false, failure: 'container-not-running', httpStatus });
    expect(result.ok ? '' : result.message).toContain(text);
  });

  it('times out when the exec is slower than the timeout, and closes the socket', async () => {
    sim.setFaults({ execLatencyMs: 1_000 });
    const started = Date.now();
    const result = await execInPod(kc, request(CHECKOUT, NETSTAT, { timeoutMs: 150 }));
    expect(result).toMatchObject({ ok: false, failure: 'timeout', message: 'no exit status within 150 ms' });
    expect(Date.now() - started).toBeLessThan(600);
  });

  it('times out a handshake held up by API latency', async () => {
    sim.setFaults({ latencyMs: 1_000 });
    const result = await execInPod(kc, request(CHECKOUT, NETSTAT, { timeoutMs: 150 }));
    expect(result).toMatchObject({ ok: false, failure: 'timeout', message: 'no exec connection within 150 ms' });
  });

  it('reports a connection dropped mid-stream as dropped, without waiting for the timeout', async () => {
    sim.setFaults({ execDropMidStream: true });
    const started = Date.now();
    const result = await execInPod(kc, request(CHECKOUT, NETSTAT, { timeoutMs: 10_000 }));
    expect(result).toMatchObject({ ok: false, failure: 'dropped' });
    expect(Date.now() - started).toBeLessThan(1_000);
    // Half of stdout arrived before the drop; it is kept for diagnosis, never used as a census.
    expect(result.ok ? '' : result.stdout).toMatch(/^Active Internet connections/);
  });

  it('cuts stdout at the byte bound', async () => {
    const result = await execInPod(kc, request(CHECKOUT, NETSTAT, { maxOutputBytes: 10_000 }));
    expect(result).toMatchObject({ ok: false, failure: 'output-too-large' });
    expect(result.ok ? '' : result.message).toBe('stdout exceeded 10000 bytes; the exec was cut off');
  });

  it('works over https with the cluster CA (wss)', async () => {
    const tls = await startSim({ scenario: 'default', tls: true });
    try {
      expect(tls.url).toMatch(/^https:/);
      const result = await execInPod(tls.kubeConfig(), request(CART, CAT));
      expect(result).toMatchObject({ ok: true, exitCode: 0 });
    } finally {
      await tls.close();
    }
  });
});
