/**
 * The capture script, run for real with this machine's sh (dash) and bash, with a fake `tcptracer` first on PATH
 * (eBPF cannot run here: no privileges, no kernel headers, no node) and CAPTURE_ENTER_HOST=0 (there is no node to
 * nsenter into). Everything else is real: `timeout -s INT` ending the tracer, `head -n` capping it, the netns map
 * from this machine's /proc, the census from /proc/<pid>/net/tcp{,6}, and the log read back by parseCaptureLog.
 * Not covered here: nsenter into PID 1, the node's real tcptracer, busybox's applets (the image's sh).
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTURE_FUNCTIONS, CAPTURE_SCRIPT, captureEnv, captureEnvRecord } from '../../lib/k8s/capture-script.js';
import { parseCaptureLog } from '../../lib/k8s/capture-log.js';
import { parseTcptracer } from '../../lib/parse/tcptracer.js';
import type { CaptureLog } from '../../lib/k8s/capture-log.js';
import { isKubeError } from '../../lib/k8s/errors.js';

const fixture = (name: string) => new URL(`../fixtures/tcptracer/${name}`, import.meta.url).pathname;
const dirs: string[] = [];

/** What parseTcptracer reads from a fixture file directly: the script must deliver the same. */
function fixtureEvents(name: string) {
  const result = parseTcptracer(readFileSync(fixture(name), 'utf8'));
  if (!result.ok) throw new Error(result.problem.message);
  return { events: result.value.events, lostEvents: result.value.lostEvents };
}

interface Run {
  readonly stdout: string;
  readonly code: number | null;
  readonly ms: number;
  readonly argsFile: string;
}

/** A bin dir whose `tcptracer` is `body` (sh); the fake records its arguments in `args`. */
function fakeTracer(body: string | null): { bin: string; argsFile: string } {
  const bin = mkdtempSync(join(tmpdir(), 'snat-fake-tracer-'));
  dirs.push(bin);
  const argsFile = join(bin, 'args');
  if (body !== null) {
    const path = join(bin, 'tcptracer');
    writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argsFile}'\n${body}\n`);
    chmodSync(path, 0o755);
  }
  return { bin, argsFile };
}

const BCC_HELP = `case "$*" in *--help*) echo 'usage: tcptracer [-h] [-t] [-p PID] [-N NETNS] [--cgroupmap CGROUPMAP] [-v] [-4 | -6]'; echo '  -4, --ipv4            trace IPv4 family only'; exit 0 ;; esac`;
const LIBBPF_HELP = `case "$*" in *--help*) echo 'Usage: tcptracer [OPTION...]'; echo '  -t, --timestamp            Include timestamp on output'; echo '  -v, --verbose              Verbose debug output'; exit 0 ;; esac`;
/** Waits for SIGINT (what `timeout -s INT` sends) and exits 0 on it, as bcc and libbpf-tools do. */
const UNTIL_SIGINT = `trap 'exit 0' INT\nwhile :; do sleep 0.05; done`;

const bcc = (extra = '') => fakeTracer(`${BCC_HELP}\ncat '${fixture('bcc-tv.log')}'\n${extra}\n${UNTIL_SIGINT}`);
const libbpf = () => fakeTracer(`${LIBBPF_HELP}\ncat '${fixture('libbpf-t.log')}'\n${UNTIL_SIGINT}`);

function run(
  tracer: { bin: string; argsFile: string },
  env: Record<string, string>,
  shell = 'sh',
  timeoutMs = 25_000,
): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(shell, ['-c', CAPTURE_SCRIPT], {
      env: { PATH: `${tracer.bin}:/usr/bin:/bin`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stdout += `[stderr] ${d}`));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`capture script did not end in ${timeoutMs} ms; output so far:\n${stdout}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, code, ms: Date.now() - started, argsFile: tracer.argsFile });
    });
  });
}

const env = (captureSeconds: number, extra: { maxLines?: number; censusMaxLines?: number } = {}) =>
  captureEnvRecord({ captureSeconds, enterHostNamespaces: false, ...extra });

function parsed(text: string): CaptureLog {
  const result = parseCaptureLog(text);
  if (!result.ok) throw new Error(`rejected: ${result.problem.message}\n${text}`);
  return result.value;
}

/** The lowest PID in each network namespace this process can see, as the script should find it. */
function lowestPidByNetns(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const inode = statSync(`/proc/${entry}/ns/net`).ino;
      const pid = Number(entry);
      if (!map.has(inode) || pid < map.get(inode)!) map.set(inode, pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return map;
}

// A real listening socket and a real connection in this process's network namespace, for the census to find.
let server: net.Server;
let client: net.Socket;
let port = 0;
beforeAll(async () => {
  server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  client = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
});
afterAll(() => {
  client?.destroy();
  server?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('capture script on this machine with a fake tcptracer; eBPF cannot run here', () => {
  it('is valid POSIX sh and bash syntax', async () => {
    for (const shell of ['sh', 'bash']) {
      const check = await new Promise<number | null>((resolve) => {
        const child = spawn(shell, ['-n', '-c', CAPTURE_SCRIPT], { stdio: 'ignore' });
        child.on('close', resolve);
      });
      expect(check, shell).toBe(0);
    }
  });

  it('bcc flavour: detected by --help, run with -t -v (both families), ended by SIGINT at the window, parsed back', async () => {
    const result = await run(bcc(), env(1));
    expect(result.code).toBe(0);
    // Ended by `timeout -s INT 1`, not by the test's own timeout.
    expect(result.ms).toBeLessThan(6000);
    // The fake was asked for --help once (detection), then run with bcc's arguments: never -4.
    expect(readFileSync(result.argsFile, 'utf8').trim().split('\n')).toEqual(['--help', '-t -v']);
    const log = parsed(result.stdout);
    expect(log.begin).toMatchObject({
      version: 1,
      tracer: 'bcc',
      captureSeconds: 1,
      maxLines: 30_000,
      censusMaxLines: 4_000,
    });
    expect(log.tcptracer).toMatchObject({ complete: true, truncated: false, partialLine: false, exit: 0 });
    const fixtureLines = readFileSync(fixture('bcc-tv.log'), 'utf8').split('\n').length - 1;
    expect(log.tcptracer!.lines).toBe(fixtureLines);
    // The fixture's events, exactly as parseTcptracer reads the file itself.
    expect(log.tcptracer!.capture!.events).toEqual(fixtureEvents('bcc-tv.log').events);
    expect(log.tcptracer!.capture!.lostEvents).toBe(fixtureEvents('bcc-tv.log').lostEvents);
    expect(log.tcptracer!.capture!.events.connect).toBeGreaterThan(0);
    expect(log.tcptracer!.capture!.variant).toBe('bcc');
    expect(log.trailer).toMatchObject({ status: 'ok', truncated: false, tcptracerLines: fixtureLines });
    expect(log.cut).toBe(false);
    expect(log.skipped).toEqual([]);
  });

  it('netns map and census come from this machine /proc: own namespace, lowest PID, a real listening socket', async () => {
    const result = await run(bcc(), env(1));
    const log = parsed(result.stdout);
    const own = statSync('/proc/self/ns/net').ino;
    const expected = lowestPidByNetns();
    const entries = log.netns!.entries;
    expect(log.netns!.complete).toBe(true);
    expect(entries.length).toBeGreaterThan(0);
    expect(log.trailer!.netns).toBe(entries.length);
    const mine = entries.find((e) => e.netns === own);
    expect(mine, `own netns ${own} in ${JSON.stringify(entries)}`).toBeDefined();
    expect(mine!.pid).toBe(expected.get(own));
    // Not a Kubernetes node: no process here sits in a kubepods cgroup.
    expect(entries.every((e) => e.uid === null)).toBe(true);
    // host=1 only for PID 1's namespace, and only when PID 1 is readable here.
    let pid1: number | null;
    try {
      pid1 = statSync('/proc/1/ns/net').ino;
    } catch {
      pid1 = null;
    }
    expect(entries.filter((e) => e.host).map((e) => e.netns)).toEqual(pid1 === null ? [] : [pid1]);

    // One census per namespace, and ours holds the test's LISTEN socket and both ends of its connection.
    expect(log.censuses.map((c) => c.netns).sort()).toEqual(entries.map((e) => e.netns).sort());
    const census = log.censuses.find((c) => c.netns === own)!;
    expect(census.complete).toBe(true);
    expect(census.document).not.toBeNull();
    const sockets = census.document!.sockets;
    expect(sockets).toContainEqual(expect.objectContaining({ local: `127.0.0.1:${port}`, state: 'LISTEN' }));
    const local = `${client.localAddress}:${client.localPort}`;
    expect(sockets).toContainEqual(
      expect.objectContaining({ local, remote: `127.0.0.1:${port}`, state: 'ESTABLISHED' }),
    );
    expect(sockets).toContainEqual(
      expect.objectContaining({ local: `127.0.0.1:${port}`, remote: local, state: 'ESTABLISHED' }),
    );
  });

  it('libbpf-tools flavour: detected by --help without --ipv4, run with -t only', async () => {
    const result = await run(libbpf(), env(1));
    expect(readFileSync(result.argsFile, 'utf8').trim().split('\n')).toEqual(['--help', '-t']);
    const log = parsed(result.stdout);
    expect(log.begin!.tracer).toBe('libbpf');
    expect(log.tcptracer!.capture!.variant).toBe('libbpf');
    expect(log.tcptracer!.capture!.events).toEqual(fixtureEvents('libbpf-t.log').events);
    expect(log.trailer!.status).toBe('ok');
  });

  it('also runs under bash', async () => {
    const log = parsed((await run(bcc(), env(1), 'bash')).stdout);
    expect(log.trailer!.status).toBe('ok');
    expect(log.tcptracer!.capture!.events).toEqual(fixtureEvents('bcc-tv.log').events);
  });

  it.skipIf(existsSync('/usr/share/bcc/tools/tcptracer'))(
    'no tracer: tracer=none, empty section, census still written',
    async () => {
      const result = await run(fakeTracer(null), env(1));
      const log = parsed(result.stdout);
      expect(log.begin!.tracer).toBe('none');
      expect(log.tcptracer).toMatchObject({ lines: 0, exit: null, capture: null, problem: null });
      expect(result.stdout).toContain('end tcptracer lines=0 truncated=0 partial=0 exit=none seconds=0');
      expect(log.trailer!.status).toBe('no-tracer');
      expect(log.censuses.length).toBeGreaterThan(0);
      // Nothing waited for the window: no tracer, nothing to time.
      expect(result.ms).toBeLessThan(3000);
    },
  );

  it('caps the tracer at max_lines and says so; the census at census_max_lines', async () => {
    const line =
      '1200000       connect      4120   OkHttp Dispatch  4  10.244.1.23      20.50.2.10       41236  443    4026532361';
    const flood = fakeTracer(
      `${BCC_HELP}\ntrap 'exit 0' INT\necho 'Tracing TCP established connections. Ctrl-C to end.'\nwhile :; do echo '${line}'; done`,
    );
    const result = await run(flood, env(3, { maxLines: 500, censusMaxLines: 1 }));
    const log = parsed(result.stdout);
    expect(log.tcptracer).toMatchObject({ lines: 500, declaredLines: 500, truncated: true });
    expect(log.tcptracer!.capture!.events.connect).toBe(499);
    expect(log.trailer).toMatchObject({ status: 'ok', truncated: true, tcptracerLines: 500 });
    // head stopped reading and the tracer died of SIGPIPE well before the 3 s window.
    expect(result.ms).toBeLessThan(3000);
    // census_max_lines=1 keeps the header line only: every namespace has at least a header, so each is capped.
    expect(log.censuses.every((c) => c.lines === 1 && c.truncated)).toBe(true);
  });

  it('drops a last line the tracer left unterminated, and flags it', async () => {
    const cutter = fakeTracer(
      `${BCC_HELP}\ncat '${fixture('bcc-tv.log')}'\ntrap 'printf "9900000       connect      4120   OkHttp Dispatch  4  10.244.1.23      20.50.2.10       4"; exit 0' INT\nwhile :; do sleep 0.05; done`,
    );
    const log = parsed((await run(cutter, env(1))).stdout);
    expect(log.tcptracer).toMatchObject({ partialLine: true, truncated: false });
    expect(log.tcptracer!.capture!.events).toEqual(fixtureEvents('bcc-tv.log').events);
    expect(log.tcptracer!.capture!.cutLastLine).toBe(false);
  });

  it('a tracer that fails to attach: its error is in the section, status partial, parser says why', async () => {
    const failing = fakeTracer(
      `${BCC_HELP}\necho 'Failed to attach BPF program b"trace_connect_v4_entry" to kprobe b"tcp_v4_connect"' >&2\nexit 1`,
    );
    const log = parsed((await run(failing, env(2))).stdout);
    expect(log.tcptracer).toMatchObject({ exit: 1, capture: null });
    expect(log.tcptracer!.problem).toMatchObject({ code: 'tool-error' });
    expect(log.trailer!.status).toBe('partial');
  });

  it('a tracer that ignores SIGINT is killed 10 s later (exit 137), status partial', async () => {
    const stubborn = fakeTracer(
      `${BCC_HELP}\ncat '${fixture('bcc-tv.log')}'\ntrap '' INT\nwhile :; do sleep 0.05; done`,
    );
    const result = await run(stubborn, env(1));
    const log = parsed(result.stdout);
    expect(log.tcptracer!.exit).toBe(137);
    expect(log.tcptracer!.capture!.events).toEqual(fixtureEvents('bcc-tv.log').events);
    expect(log.trailer!.status).toBe('partial');
    expect(result.ms).toBeGreaterThanOrEqual(10_000);
  }, 30_000);

  describe('re-validates its parameters itself (a Job edited by hand gets the same checks)', () => {
    const good = {
      CAPTURE_SECONDS: '1',
      CAPTURE_MAX_LINES: '10',
      CAPTURE_CENSUS_MAX_LINES: '10',
      CAPTURE_ENTER_HOST: '0',
    };
    it.each([
      ['CAPTURE_SECONDS', ''],
      ['CAPTURE_SECONDS', '0'],
      ['CAPTURE_SECONDS', '601'],
      ['CAPTURE_SECONDS', '05'],
      ['CAPTURE_SECONDS', '1; touch /tmp/pwned'],
      ['CAPTURE_SECONDS', '$(id)'],
      ['CAPTURE_SECONDS', '-1'],
      ['CAPTURE_SECONDS', '1e2'],
      ['CAPTURE_MAX_LINES', '9999999'],
      ['CAPTURE_CENSUS_MAX_LINES', ' 10'],
      ['CAPTURE_ENTER_HOST', '2'],
      ['CAPTURE_ENTER_HOST', 'yes'],
    ])('%s=%j -> failed/bad-parameters, nothing run', async (name, value) => {
      const tracer = bcc();
      const result = await run(tracer, { ...good, [name]: value });
      expect(result.code).toBe(2);
      const log = parsed(result.stdout);
      expect(log.trailer).toMatchObject({ status: 'failed', reason: 'bad-parameters' });
      expect(log.tcptracer).toBeNull();
      expect(existsSync(tracer.argsFile)).toBe(false);
    });

    it('a missing variable is refused too', async () => {
      const { CAPTURE_SECONDS: _omit, ...rest } = good;
      const result = await run(bcc(), rest);
      expect(result.code).toBe(2);
      expect(parsed(result.stdout).trailer!.reason).toBe('bad-parameters');
    });
  });

  describe('pod_uid_of: the pod UID from a cgroup file', () => {
    const uid = 'd6f5b1a2-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
    it.each([
      [
        'cgroup v2, systemd driver (AKS)',
        `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice/cri-containerd-4f1e2d3c4b5a69788796a5b4c3d2e1f04f1e2d3c4b5a69788796a5b4c3d2e1f0.scope\n`,
        uid,
      ],
      [
        'cgroup v2 seen from a private cgroup namespace',
        `0::/../../kubepods-besteffort-pod${uid.replaceAll('-', '_')}.slice/cri-containerd-abc.scope\n`,
        uid,
      ],
      [
        'cgroup v1, cgroupfs driver',
        `12:pids:/kubepods/burstable/pod${uid}/0123abcd\n11:memory:/kubepods/burstable/pod${uid}/0123abcd\n`,
        uid,
      ],
      [
        'guaranteed QoS (no QoS slice)',
        `0::/kubepods.slice/kubepods-pod${uid.replaceAll('-', '_')}.slice/cri-containerd-ab.scope\n`,
        uid,
      ],
      ['a node process', '0::/system.slice/containerd.service\n', '-'],
      [
        'not a UID after pod',
        '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podnot_a_uid.slice/x.scope\n',
        '-',
      ],
      ['kubepods slice without a pod', '0::/kubepods.slice/kubepods-burstable.slice\n', '-'],
      ['hostile text', `0::/kubepods/pod$(touch /tmp/x)/\n`, '-'],
    ])('%s', async (_name, content, want) => {
      const dir = mkdtempSync(join(tmpdir(), 'snat-cgroup-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'cgroup'), content);
      const out = await new Promise<string>((resolve) => {
        let text = '';
        const child = spawn('sh', ['-c', `${CAPTURE_FUNCTIONS}\npod_uid_of "$1"`, 'sh', join(dir, 'cgroup')]);
        child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
        child.on('close', () => resolve(text));
      });
      expect(out).toBe(`${want}\n`);
    });

    it('a missing file gives "-"', async () => {
      const out = await new Promise<string>((resolve) => {
        let text = '';
        const child = spawn('sh', ['-c', `${CAPTURE_FUNCTIONS}\npod_uid_of /nonexistent/cgroup`]);
        child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
        child.on('close', () => resolve(text));
      });
      expect(out).toBe('-\n');
    });
  });
});

describe('captureEnv: numeric parameters only', () => {
  it('emits the validated integers, and enters the host by default', () => {
    expect(captureEnv({ captureSeconds: 30 })).toEqual([
      { name: 'CAPTURE_SECONDS', value: '30' },
      { name: 'CAPTURE_MAX_LINES', value: '30000' },
      { name: 'CAPTURE_CENSUS_MAX_LINES', value: '4000' },
      { name: 'CAPTURE_ENTER_HOST', value: '1' },
    ]);
    expect(
      captureEnvRecord({ captureSeconds: 600, maxLines: 1, censusMaxLines: 100_000, enterHostNamespaces: false }),
    ).toEqual({
      CAPTURE_SECONDS: '600',
      CAPTURE_MAX_LINES: '1',
      CAPTURE_CENSUS_MAX_LINES: '100000',
      CAPTURE_ENTER_HOST: '0',
    });
  });

  it.each([
    [{ captureSeconds: 0 }],
    [{ captureSeconds: 601 }],
    [{ captureSeconds: 1.5 }],
    [{ captureSeconds: Number.NaN }],
    [{ captureSeconds: Infinity }],
    [{ captureSeconds: '30' as unknown as number }],
    [{ captureSeconds: 30, maxLines: 0 }],
    [{ captureSeconds: 30, maxLines: 200_001 }],
    [{ captureSeconds: 30, censusMaxLines: -1 }],
    [{ captureSeconds: 30, enterHostNamespaces: 'no' as unknown as boolean }],
  ])('rejects %j with a typed error naming the field', (params) => {
    let error: unknown;
    try {
      captureEnv(params);
    } catch (e) {
      error = e;
    }
    expect(isKubeError(error, 'invalid')).toBe(true);
    expect((error as Error).message).toMatch(
      /capture parameter (captureSeconds|maxLines|censusMaxLines|enterHostNamespaces)/,
    );
  });

  it('the script reads no other variable than the four', () => {
    // Variables the script sets itself: assignments, and `read -r a b` targets.
    const assigned = new Set([...CAPTURE_SCRIPT.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]));
    for (const m of CAPTURE_SCRIPT.matchAll(/\bread -r ([a-z_ ]+)/g))
      for (const n of m[1]!.trim().split(/\s+/)) assigned.add(n);
    const read = new Set([...CAPTURE_SCRIPT.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
    const names = [...read].filter((n) => !assigned.has(n));
    expect(names.sort()).toEqual([
      'CAPTURE_CENSUS_MAX_LINES',
      'CAPTURE_ENTER_HOST',
      'CAPTURE_MAX_LINES',
      'CAPTURE_SECONDS',
    ]);
  });
});
