/**
 * The census logic with a scripted exec (no network): which tool is tried when, what stops the fallback, how results
 * are summarised, filled from the node-side census and turned into evidence. The same paths against the simulated
 * cluster, through the real client, are in census-sim.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import {
  CENSUS_TOOLS,
  censusEvidence,
  censusNode,
  censusPod,
  fillFromNodeCensus,
  type CensusPod,
} from '../../lib/k8s/census.js';
import type { ExecFn, ExecRequest, ExecResult } from '../../lib/k8s/exec.js';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';

const fixture = (path: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', path), 'utf8');
const NETSTAT = fixture('netstat/net-tools-tnp-aks.txt');
const SS = fixture('ss/tnp-aks.txt');
const PROC = fixture('proc-net-tcp/tcp-tcp6-aks.txt');

const kc = new KubeConfig();

const pod = (name: string, extra: Partial<CensusPod> = {}): CensusPod => ({
  namespace: 'shop',
  name,
  hostNetwork: false,
  containers: [{ name: 'app', running: true }],
  ...extra,
});

const ok = (stdout: string): ExecResult => ({ ok: true, stdout, stderr: '', exitCode: 0, elapsedMs: 1 });
const fail = (failure: Exclude<ExecResult, { ok: true }>['failure'], extra: object = {}): ExecResult => ({
  ok: false,
  failure,
  message: failure,
  elapsedMs: 1,
  ...extra,
});
const missing = fail('no-such-binary', { exitCode: 127 });

/** An exec that answers per container and binary, and records every call. */
function scripted(answers: Record<string, ExecResult>) {
  const calls: ExecRequest[] = [];
  const exec: ExecFn = (_kc, request) => {
    calls.push(request);
    const key = `${request.pod}/${request.container}/${request.command[0]}`;
    return Promise.resolve(answers[key] ?? answers[`*/${request.command[0]}`] ?? missing);
  };
  return { exec, calls, tried: () => calls.map((c) => `${c.container}:${c.command[0]}`) };
}

describe('censusPod', () => {
  it('uses netstat when it is there, and only netstat', async () => {
    const s = scripted({ '*/netstat': ok(NETSTAT) });
    const r = await censusPod(kc, pod('a'), { exec: s.exec });
    expect(r).toMatchObject({ source: 'exec', tool: 'netstat', container: 'app', origin: 'exec netstat -ptn' });
    expect(s.tried()).toEqual(['app:netstat']);
    expect(s.calls[0]!.command).toBe(CENSUS_TOOLS[0]!.command);
  });

  it('falls back to ss, then cat, when a binary is missing', async () => {
    const s = scripted({ '*/cat': ok(PROC) });
    const r = await censusPod(kc, pod('a'), { exec: s.exec });
    expect(r).toMatchObject({ source: 'exec', tool: 'proc', origin: 'exec cat /proc/net/tcp /proc/net/tcp6' });
    expect(s.tried()).toEqual(['app:netstat', 'app:ss', 'app:cat']);
    expect(r.source === 'exec' && r.attempts.map((a) => a.outcome)).toEqual(['no-such-binary', 'no-such-binary', 'ok']);
  });

  it('falls back when the output is not what the tool prints (busybox without -p)', async () => {
    const s = scripted({
      '*/netstat': fail('non-zero-exit', {
        exitCode: 1,
        stdout: '',
        stderr: fixture('netstat/real-busybox-invalid-option-p.txt'),
      }),
      '*/ss': ok('sh: ss: not found\n'),
      '*/cat': ok(PROC),
    });
    const r = await censusPod(kc, pod('a'), { exec: s.exec });
    expect(r.source === 'exec' && r.attempts.map((a) => a.outcome)).toEqual(['non-zero-exit', 'rejected-output', 'ok']);
    expect(r.source === 'exec' && r.attempts[1]!.message).toMatch(/^not ss output but an error message/);
  });

  it('keeps the output of cat when /proc/net/tcp6 is missing (exit 1)', async () => {
    const tcpOnly = PROC.slice(0, PROC.indexOf('  sl  local_address                         remote'));
    const s = scripted({
      '*/cat': fail('non-zero-exit', {
        exitCode: 1,
        stdout: tcpOnly,
        stderr: 'cat: /proc/net/tcp6: No such file or directory\n',
      }),
    });
    const r = await censusPod(kc, pod('a'), { exec: s.exec });
    expect(r).toMatchObject({ source: 'exec', tool: 'proc' });
    expect(r.source === 'exec' && r.attempts.at(-1)).toMatchObject({ outcome: 'ok', exitCode: 1 });
    const alone = parseProcNetTcp(tcpOnly);
    expect(alone.ok).toBe(true);
    expect(r.source === 'exec' && r.document).toEqual(alone.ok && alone.value);
    expect(r.source === 'exec' && r.document.sockets.length).toBeGreaterThan(0);
  });

  it.each(['forbidden', 'timeout', 'dropped', 'output-too-large', 'error', 'cancelled'] as const)(
    'stops at %s: the next tool would fail the same way',
    async (failure) => {
      const s = scripted({ '*/netstat': fail(failure) });
      const r = await censusPod(
        kc,
        pod('a', {
          containers: [
            { name: 'app', running: true },
            { name: 'side', running: true },
          ],
        }),
        { exec: s.exec },
      );
      expect(r).toMatchObject({ source: 'none', failure });
      expect(s.tried()).toEqual(['app:netstat']);
    },
  );

  it('reports a distroless pod as no-such-binary after all three tools', async () => {
    const s = scripted({});
    const r = await censusPod(kc, pod('a'), { exec: s.exec });
    expect(r).toMatchObject({
      source: 'none',
      failure: 'no-such-binary',
      message: 'none of netstat, ss, cat is in the image (app)',
    });
    expect(s.tried()).toEqual(['app:netstat', 'app:ss', 'app:cat']);
  });

  it('tries a sidecar that has the tools the app image lacks', async () => {
    const s = scripted({ 'a/proxy/ss': ok(SS) });
    const r = await censusPod(
      kc,
      pod('a', {
        containers: [
          { name: 'app', running: true },
          { name: 'init-done', running: false },
          { name: 'proxy', running: true },
        ],
      }),
      { exec: s.exec },
    );
    expect(r).toMatchObject({ source: 'exec', tool: 'ss', container: 'proxy' });
    expect(s.tried()).toEqual(['app:netstat', 'app:ss', 'app:cat', 'proxy:netstat', 'proxy:ss']);
  });

  it('moves to the next container when one is not running any more', async () => {
    const s = scripted({ 'a/app/netstat': fail('container-not-running'), 'a/side/netstat': ok(NETSTAT) });
    const r = await censusPod(
      kc,
      pod('a', {
        containers: [
          { name: 'app', running: true },
          { name: 'side', running: true },
        ],
      }),
      { exec: s.exec },
    );
    expect(r).toMatchObject({ source: 'exec', container: 'side' });
    expect(s.tried()).toEqual(['app:netstat', 'side:netstat']);
  });

  it('does not exec into a pod without a running container, nor into a hostNetwork pod', async () => {
    const s = scripted({ '*/netstat': ok(NETSTAT) });
    expect(
      await censusPod(kc, pod('done', { containers: [{ name: 'app', running: false }] }), { exec: s.exec }),
    ).toMatchObject({
      source: 'none',
      failure: 'container-not-running',
      attempts: [],
    });
    expect(await censusPod(kc, pod('proxy', { hostNetwork: true }), { exec: s.exec })).toEqual({
      pod: pod('proxy', { hostNetwork: true }),
      source: 'host-network',
    });
    expect(s.calls).toEqual([]);
  });

  it('passes listening ports to the parser, per pod', async () => {
    const s = scripted({ '*/netstat': ok(NETSTAT) });
    const plain = await censusPod(kc, pod('a'), { exec: s.exec });
    const outbound = plain.source === 'exec' ? plain.document.summary.establishedPublicOutbound : -1;
    expect(outbound).toBeGreaterThan(0);
    // Treat every local port as listening: nothing is outbound any more.
    const ports = plain.source === 'exec' ? plain.document.sockets.map((x) => Number(x.local.split(':').at(-1))) : [];
    const seen: string[] = [];
    const all = await censusPod(kc, pod('a'), {
      exec: s.exec,
      listeningPorts: (p) => {
        seen.push(p.name);
        return ports;
      },
    });
    expect(seen).toEqual(['a']);
    expect(all.source === 'exec' && all.document.summary.establishedPublicOutbound).toBe(0);
  });
});

describe('censusNode', () => {
  it('keeps pod order, honours the concurrency bound and summarises', async () => {
    let active = 0;
    let peak = 0;
    const pods = Array.from({ length: 40 }, (_, i) =>
      pod(`p${String(i).padStart(2, '0')}`, { hostNetwork: i % 10 === 0 }),
    );
    const exec: ExecFn = async (_kc, request) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5 + (request.pod.charCodeAt(2) % 3) * 5));
      active--;
      if (request.pod === 'p13') return fail('forbidden');
      if (request.pod === 'p17') return request.command[0] === 'cat' ? ok(PROC) : missing;
      return request.command[0] === 'netstat' ? ok(NETSTAT) : missing;
    };
    const { results, summary } = await censusNode(kc, pods, { exec, concurrency: 4 });
    expect(peak).toBe(4);
    expect(results.map((r) => r.pod.name)).toEqual(pods.map((p) => p.name));
    expect(summary).toMatchObject({
      pods: 40,
      exec: 35,
      hostNetwork: 4,
      failed: 1,
      nodeCensus: 0,
      execFailures: { forbidden: 1 },
      execs: 35 + 2 + 1,
      concurrency: 4,
    });
    expect(results.find((r) => r.pod.name === 'p17')).toMatchObject({ tool: 'proc' });
  });

  it('skips the tools an image was found to lack for the other pods of that image', async () => {
    const s = scripted({ '*/cat': ok(PROC) });
    const withImage = (name: string, image: string) =>
      pod(name, { containers: [{ name: 'app', running: true, image }] });
    const pods = [
      withImage('r1', 'shop/cart:1.4'),
      withImage('r2', 'shop/cart:1.4'),
      withImage('r3', 'shop/cart:1.4'),
      withImage('other', 'shop/api:2.0'),
      pod('no-image'),
    ];
    const { results, summary } = await censusNode(kc, pods, { exec: s.exec, concurrency: 1 });
    expect(results.map((r) => r.source === 'exec' && r.tool)).toEqual(['proc', 'proc', 'proc', 'proc', 'proc']);
    expect(s.calls.map((c) => `${c.pod}:${c.command[0]}`)).toEqual([
      'r1:netstat',
      'r1:ss',
      'r1:cat',
      'r2:cat',
      'r3:cat',
      'other:netstat',
      'other:ss',
      'other:cat',
      'no-image:netstat',
      'no-image:ss',
      'no-image:cat',
    ]);
    expect(summary.execs).toBe(11);
  });

  it('does not exec a distroless image again once one of its pods showed it has no tools', async () => {
    const s = scripted({});
    const distroless = (name: string) =>
      pod(name, { containers: [{ name: 'app', running: true, image: 'gcr.io/distroless/base' }] });
    const { results } = await censusNode(kc, [distroless('d1'), distroless('d2')], { exec: s.exec, concurrency: 1 });
    expect(s.calls.map((c) => c.pod)).toEqual(['d1', 'd1', 'd1']);
    expect(results[1]).toMatchObject({
      source: 'none',
      failure: 'no-such-binary',
      message: 'none of netstat, ss, cat is in the image (app; known from other pods of the same image)',
      attempts: [],
    });
  });

  it('does not learn from failures other than a missing binary', async () => {
    const s = scripted({ 'f1/app/netstat': fail('forbidden'), '*/netstat': ok(NETSTAT) });
    const withImage = (name: string) => pod(name, { containers: [{ name: 'app', running: true, image: 'img' }] });
    const { results } = await censusNode(kc, [withImage('f1'), withImage('f2')], { exec: s.exec, concurrency: 1 });
    expect(results.map((r) => r.source)).toEqual(['none', 'exec']);
    expect(s.calls.map((c) => `${c.pod}:${c.command[0]}`)).toEqual(['f1:netstat', 'f2:netstat']);
  });

  it('ends the remaining pods as cancelled when the signal fires, without exec', async () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const exec: ExecFn = async (_kc, request) => {
      calls.push(request.pod);
      if (calls.length === 2) controller.abort();
      await Promise.resolve();
      return request.signal?.aborted ? fail('cancelled') : ok(NETSTAT);
    };
    const pods = Array.from({ length: 6 }, (_, i) => pod(`p${i}`));
    const { results, summary } = await censusNode(kc, pods, { exec, concurrency: 1, signal: controller.signal });
    expect(calls).toEqual(['p0', 'p1']);
    expect(results.map((r) => (r.source === 'none' ? r.failure : r.source))).toEqual([
      'exec',
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect(summary.execFailures).toEqual({ cancelled: 5 });
  });

  it('never loses a pod to a throwing exec', async () => {
    const exec: ExecFn = (_kc, request) =>
      request.pod === 'bad' ? Promise.reject(new Error('boom')) : Promise.resolve(ok(NETSTAT));
    const { results } = await censusNode(kc, [pod('bad'), pod('good')], { exec });
    expect(results.map((r) => r.source)).toEqual(['none', 'exec']);
    expect(results[0]).toMatchObject({ failure: 'error', message: 'boom' });
  });
});

describe('fillFromNodeCensus and censusEvidence', () => {
  const nodeDoc = parseProcNetTcp(PROC);
  if (!nodeDoc.ok) throw new Error('fixture');

  it('fills failed pods that have a netns census and keeps the reason of the others', async () => {
    const pods = [
      pod('netstat-pod'),
      pod('distroless'),
      pod('forbidden'),
      pod('host', { hostNetwork: true }),
      pod('gone'),
    ];
    const exec: ExecFn = (_kc, request) =>
      Promise.resolve(
        request.pod === 'netstat-pod' && request.command[0] === 'netstat'
          ? ok(NETSTAT)
          : request.pod === 'forbidden'
            ? fail('forbidden', { message: 'HTTP 403: pods/exec is forbidden' })
            : request.pod === 'gone'
              ? fail('container-not-running', { message: 'HTTP 404: pods "gone" not found' })
              : missing,
      );
    const { results } = await censusNode(kc, pods, { exec });
    const netns = new Map([
      ['distroless', 4026532301],
      ['forbidden', 4026532302],
      ['netstat-pod', 4026532300],
    ]);
    const filled = fillFromNodeCensus(
      results,
      (p) => netns.get(p.name) ?? null,
      new Map([
        [4026532301, nodeDoc.value],
        [4026532302, nodeDoc.value],
        [4026532300, nodeDoc.value],
      ]),
    );
    expect(filled.map((r) => r.source)).toEqual(['exec', 'node-census', 'node-census', 'host-network', 'none']);
    expect(filled[1]).toMatchObject({
      netns: 4026532301,
      origin: 'node census of netns 4026532301',
      execFailure: { failure: 'no-such-binary' },
    });
    expect(filled[2]).toMatchObject({
      execFailure: { failure: 'forbidden', message: 'netstat in app: HTTP 403: pods/exec is forbidden' },
    });
    expect(filled[0]).toBe(results[0]);

    const { censuses, degraded } = censusEvidence(filled);
    expect(censuses.map((c) => [c.name, c.source, c.origin])).toEqual([
      ['netstat-pod', 'exec', 'exec netstat -ptn'],
      ['distroless', 'node-census', 'node census of netns 4026532301'],
      ['forbidden', 'node-census', 'node census of netns 4026532302'],
    ]);
    expect(degraded).toEqual([
      {
        step: 'pod census',
        reason:
          'container not running for 1 pod (shop/gone): netstat in app: HTTP 404: pods "gone" not found; 1 without any census',
      },
      {
        step: 'pod census',
        reason:
          'exec forbidden for 1 pod (shop/forbidden): netstat in app: HTTP 403: pods/exec is forbidden; 1 taken from the node-side census instead',
      },
      {
        step: 'pod census',
        reason:
          'no netstat, ss or cat in the image for 1 pod (shop/distroless): none of netstat, ss, cat is in the image (app); 1 taken from the node-side census instead',
      },
    ]);
  });

  it('leaves a failure without a netns or without its census as it is', () => {
    const failed = {
      pod: pod('x'),
      source: 'none' as const,
      failure: 'timeout' as const,
      message: 'slow',
      attempts: [],
    };
    expect(fillFromNodeCensus([failed], () => null, new Map([[1, nodeDoc.value]]))[0]).toBe(failed);
    expect(fillFromNodeCensus([failed], () => 2, new Map([[1, nodeDoc.value]]))[0]).toBe(failed);
  });
});
