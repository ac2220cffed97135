/**
 * The capture Job's log as the simulated cluster renders it, against lib/k8s/capture-log.md and the real script
 * (lib/k8s/capture-script.ts): framing lines, the tcptracer section (the project's parser reads it with zero skipped
 * lines), the netns map and one census per namespace.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCaptureLog } from '../../lib/k8s/capture-log.js';
import { parseProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { parseTcptracer } from '../../lib/parse/tcptracer.js';
import { captureParameters, renderBadParametersLog, renderCaptureLog } from '../../sim/capture-log.js';
import { loadScenario } from '../../sim/scenario.js';
import type { Scenario } from '../../sim/scenario.js';
import { buildWorld } from '../../sim/world.js';
import type { World } from '../../sim/world.js';
import { expectedSockets } from './helpers.js';

const M = '##SNAT-RESPONDER##';
const STARTED = new Date('2026-11-26T10:00:00Z');
const STARTED_S = 1795687200;

let scenario: Scenario;
let world: World;
let node: string;

beforeAll(async () => {
  scenario = await loadScenario('default');
  world = buildWorld(scenario);
  node = scenario.expected.node;
});

interface Section {
  readonly open: string;
  readonly close: string;
  readonly body: string[];
}

/** Splits a log into its framing lines and sections (by the marker, as the format page defines). */
function sections(log: string): { begin: string; sections: Section[]; trailer: string | null } {
  const lines = log.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: Section[] = [];
  let current: { open: string; body: string[] } | null = null;
  let begin = '';
  let trailer: string | null = null;
  for (const line of lines) {
    if (!line.startsWith(`${M} `)) {
      current?.body.push(line);
      continue;
    }
    const text = line.slice(M.length + 1);
    if (text.startsWith('begin ')) begin = text;
    else if (text.startsWith('section ')) current = { open: text, body: [] };
    else if (text.startsWith('end ')) {
      out.push({ open: current!.open, close: text, body: current!.body });
      current = null;
    } else if (text.startsWith('trailer ')) trailer = text;
  }
  return { begin, sections: out, trailer };
}

describe('capture log of the default scenario (bcc tcptracer -tv)', () => {
  let log: string;
  beforeAll(() => {
    log = renderCaptureLog(scenario, node, { captureSeconds: 30, maxLines: 30000, startedAt: STARTED, world });
  });

  it('framing: begin, tcptracer, netns, one census per namespace, trailer; every count matches its section', () => {
    const { begin, sections: s, trailer } = sections(log);
    expect(begin).toBe(
      `begin v=1 tracer=bcc capture_seconds=30 max_lines=30000 census_max_lines=4000 started=${STARTED_S}`,
    );
    expect(log.startsWith(`${M} begin `)).toBe(true);
    expect(log.endsWith('\n')).toBe(true);
    const [tracer, netns, ...census] = s;
    expect(tracer!.open).toBe('section tcptracer');
    expect(tracer!.close).toBe(`end tcptracer lines=${tracer!.body.length} truncated=0 partial=0 exit=0 seconds=30`);
    expect(netns!.open).toBe('section netns');
    expect(netns!.close).toBe(`end netns lines=${netns!.body.length}`);
    const namespaces = [...world.netnsOf(node)].sort((a, b) => a.inode - b.inode);
    expect(netns!.body).toEqual(
      namespaces.map((n) => `netns=${n.inode} pid=${n.pid} uid=${n.podUid ?? '-'} host=${n.host ? 1 : 0}`),
    );
    expect(netns!.body[0]).toBe('netns=4026531840 pid=1 uid=- host=1');
    expect(census.map((c) => c.open)).toEqual(namespaces.map((n) => `section census netns=${n.inode} pid=${n.pid}`));
    for (const c of census) expect(c.close).toBe(`end census lines=${c.body.length} truncated=0`);
    expect(trailer).toBe(
      `trailer status=ok tcptracer_lines=${tracer!.body.length} truncated=0 netns=${namespaces.length} elapsed=31`,
    );
  });

  it("the netns map names each pod by UID and the node by host=1; hostNetwork pods are in the node's", () => {
    const { sections: s } = sections(log);
    const culprit = world.pod('shop', 'checkout-7d9f8b6c5d-x2k4p')!;
    expect(s[1]!.body).toContain(`netns=${culprit.netns!.inode} pid=${culprit.hostPid} uid=${culprit.uid} host=0`);
    const proxy = world.pod('kube-system', 'kube-proxy-7xk9p')!;
    expect(proxy.netns!.host).toBe(true);
    // A completed pod has no sandbox left, so no namespace.
    expect(world.pod('shop', 'db-migrate-20251126')!.netns).toBeNull();
    expect(s[1]!.body).toHaveLength(11);
  });

  it('the tcptracer section: bcc -tv output the project parser reads with zero skipped lines', () => {
    const { sections: s } = sections(log);
    const body = s[0]!.body;
    expect(body[0]).toBe('Tracing TCP established connections. Ctrl-C to end.');
    expect(body[1]).toBe(
      'TIME(ns)      TYPE         PID    COMM             IP SADDR            DADDR            SPORT  DPORT  NETNS   ',
    );
    expect(body[2]).toMatch(/^0 {13}\w/);
    expect(
      body.some((l) =>
        / OkHttp Dispatch {2}4 {2}10\.244\.0\.12 {6}20\.60\.1\.9 {8}\d{5} {2}443 {4}4026532200$/.test(l),
      ),
    ).toBe(true);
    expect(body.some((l) => l.includes(' [::ffff:10.244.0.23] [::ffff:40.112.72.205] '))).toBe(true);
    const parsed = parseTcptracer(body.join('\n') + '\n');
    if (!parsed.ok) throw new Error(parsed.problem.message);
    const capture = parsed.value;
    expect(capture.skipped).toEqual([]);
    expect(capture.skippedTotal).toBe(0);
    expect(capture.variant).toBe('bcc');
    expect(capture.timeUnit).toBe('ns');
    expect(capture.events.connect + capture.events.accept + capture.events.close).toBe(body.length - 2);
    const culprit = capture.sources.find((x) => x.saddr === '10.244.0.12' && x.netns === 4026532200)!;
    expect(culprit.publicDestinations[0]!.endpoint).toBe('20.60.1.9:443');
    expect(culprit.publicDestinations[0]!.connects).toBeGreaterThan(800);
    expect(culprit.comms).toContain('OkHttp Dispatch');
    expect(capture.publicDestinations[0]!.endpoint).toBe('20.60.1.9:443');
  });

  it("every census is the namespace's /proc/net/tcp + tcp6, parsed back into exactly its sockets", () => {
    const { sections: s } = sections(log);
    const namespaces = [...world.netnsOf(node)].sort((a, b) => a.inode - b.inode);
    s.slice(2).forEach((c, i) => {
      const parsed = parseProcNetTcp(c.body.join('\n') + '\n');
      if (!parsed.ok) throw new Error(parsed.problem.message);
      expect(parsed.value.skipped).toEqual([]);
      expect(parsed.value.sockets.map((x) => ({ local: x.local, remote: x.remote, state: x.state }))).toEqual(
        expectedSockets(namespaces[i]!.sockets, 'cat'),
      );
      // Read from the node by a privileged container: kernel pointers are visible.
      for (const row of c.body.filter((l) => /^\s*\d+:/.test(l))) expect(row).toMatch(/ [13] ffff[0-9a-f]{12}(?: |$)/);
    });
  });

  it("the responder's capture-log parser reads it whole: no skipped lines, not cut", () => {
    const parsed = parseCaptureLog(log);
    if (!parsed.ok) throw new Error(parsed.problem.message);
    const v = parsed.value;
    expect(v.cut).toBe(false);
    expect(v.skipped).toEqual([]);
    expect(v.trailer).toMatchObject({ status: 'ok', truncated: false, netns: 11, elapsedSeconds: 31 });
    expect(v.tcptracer).toMatchObject({ complete: true, truncated: false, exit: 0, seconds: 30, problem: null });
    expect(v.netns?.entries).toHaveLength(11);
    expect(v.censuses).toHaveLength(11);
    expect(v.censuses.every((c) => c.complete && c.problem === null)).toBe(true);
  });

  it('is deterministic for a scenario, a node and a window', () => {
    expect(renderCaptureLog(scenario, node, { captureSeconds: 30, maxLines: 30000, startedAt: STARTED })).toBe(log);
  });
});

describe('capture log variants', () => {
  it('libbpf-tools tcptracer -t: its header, no NETNS column, COMM cut to 12, IPv6 unbracketed', async () => {
    const s = await loadScenario('small-libbpf');
    const log = renderCaptureLog(s, s.expected.node, { captureSeconds: 10, maxLines: 30000, startedAt: STARTED });
    const body = sections(log).sections[0]!.body;
    expect(sections(log).begin).toContain('tracer=libbpf');
    expect(body[0]).toBe('TIME(s)  T PID    COMM         IP SADDR            DADDR            SPORT DPORT');
    expect(body[1]).toMatch(/^0\.000 {4}[CAX] /);
    expect(body.some((l) => l.includes(' OkHttp Dispa 4  10.244.0.12      20.60.1.9        '))).toBe(true);
    expect(body.some((l) => l.includes(' .NET ThreadP 6  ::ffff:10.244.0.23 ::ffff:40.112.72.205 '))).toBe(true);
    const parsed = parseTcptracer(body.join('\n') + '\n');
    if (!parsed.ok) throw new Error(parsed.problem.message);
    expect(parsed.value.variant).toBe('libbpf');
    expect(parsed.value.skipped).toEqual([]);
    expect(parsed.value.sources.every((x) => x.netns === null)).toBe(true);
  });

  it('no tracer on the node: an empty tcptracer section, exit=none, status=no-tracer; netns and census still written', async () => {
    const s = await loadScenario('small');
    const none: Scenario = { ...s, nodes: s.nodes.map((n) => ({ ...n, tracer: 'none' as const })) };
    const log = renderCaptureLog(none, s.expected.node, { captureSeconds: 10, maxLines: 100, startedAt: STARTED });
    const parts = sections(log);
    expect(parts.begin).toBe(
      `begin v=1 tracer=none capture_seconds=10 max_lines=100 census_max_lines=4000 started=${STARTED_S}`,
    );
    expect(parts.sections[0]).toEqual({
      open: 'section tcptracer',
      close: 'end tcptracer lines=0 truncated=0 partial=0 exit=none seconds=0',
      body: [],
    });
    expect(parts.sections).toHaveLength(2 + 3);
    expect(parts.trailer).toBe('trailer status=no-tracer tcptracer_lines=0 truncated=0 netns=3 elapsed=11');
  });

  it('more tracer lines than max_lines: the first max_lines kept, truncated=1 (bcc runs the window, libbpf dies of SIGPIPE)', async () => {
    const bcc = renderCaptureLog(scenario, scenario.expected.node, {
      captureSeconds: 30,
      maxLines: 100,
      startedAt: STARTED,
    });
    const b = sections(bcc);
    expect(b.sections[0]!.body).toHaveLength(100);
    expect(b.sections[0]!.close).toBe('end tcptracer lines=100 truncated=1 partial=0 exit=0 seconds=30');
    expect(b.trailer).toBe('trailer status=ok tcptracer_lines=100 truncated=1 netns=11 elapsed=31');

    const s = await loadScenario('small-libbpf');
    const lib = sections(
      renderCaptureLog(s, s.expected.node, { captureSeconds: 30, maxLines: 50, startedAt: STARTED }),
    );
    expect(lib.sections[0]!.close).toMatch(/^end tcptracer lines=50 truncated=1 partial=0 exit=141 seconds=\d$/);
    expect(lib.trailer).toBe('trailer status=ok tcptracer_lines=50 truncated=1 netns=3 elapsed=31');
  });

  it('a namespace with more census lines than census_max_lines is cut and says so', () => {
    const log = renderCaptureLog(scenario, scenario.expected.node, {
      captureSeconds: 30,
      maxLines: 30000,
      censusMaxLines: 50,
      startedAt: STARTED,
    });
    const culprit = sections(log).sections.find((c) => c.open === 'section census netns=4026532200 pid=4000')!;
    expect(culprit.body).toHaveLength(50);
    expect(culprit.close).toBe('end census lines=50 truncated=1');
    expect(sections(log).begin).toContain(' census_max_lines=50 ');
  });

  it('cut short: no trailer and a last line without its newline', () => {
    const log = renderCaptureLog(scenario, scenario.expected.node, {
      captureSeconds: 30,
      maxLines: 30000,
      startedAt: STARTED,
      cutShort: true,
    });
    expect(log.endsWith('\n')).toBe(false);
    expect(log).not.toContain(`${M} trailer`);
    const parsed = parseCaptureLog(log);
    expect(parsed.ok && parsed.value.cut).toBe(true);
  });

  it('a running capture: what the script has written so far (begin, the tracer lines up to now)', () => {
    const log = renderCaptureLog(scenario, scenario.expected.node, {
      captureSeconds: 30,
      maxLines: 30000,
      startedAt: STARTED,
      untilSecond: 3,
    });
    const lines = log.trimEnd().split('\n');
    expect(lines[1]).toBe(`${M} section tcptracer`);
    expect(lines.filter((l) => l.startsWith(M))).toHaveLength(2);
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.length).toBeLessThan(400);
  });

  it("bad parameters: the script's two lines, as it writes them before exiting 2", () => {
    expect(renderBadParametersLog(STARTED)).toBe(
      `${M} begin v=1 tracer=none capture_seconds=0 max_lines=0 census_max_lines=0 started=${STARTED_S}\n` +
        `${M} trailer status=failed reason=bad-parameters tcptracer_lines=0 truncated=0 netns=0 elapsed=0\n`,
    );
  });

  it('parameters are validated as the script does: decimal, no leading zero, within bounds, all present', () => {
    const env = (o: Record<string, string>) =>
      new Map(
        Object.entries({ CAPTURE_SECONDS: '30', CAPTURE_MAX_LINES: '30000', CAPTURE_CENSUS_MAX_LINES: '4000', ...o }),
      );
    expect(captureParameters(env({}))).toEqual({ captureSeconds: 30, maxLines: 30000, censusMaxLines: 4000 });
    expect(captureParameters(env({ CAPTURE_SECONDS: '030' }))).toBeNull();
    expect(captureParameters(env({ CAPTURE_SECONDS: '601' }))).toBeNull();
    expect(captureParameters(env({ CAPTURE_SECONDS: '30; rm -rf /' }))).toBeNull();
    expect(captureParameters(env({ CAPTURE_ENTER_HOST: '2' }))).toBeNull();
    const missing = env({});
    missing.delete('CAPTURE_MAX_LINES');
    expect(captureParameters(missing)).toBeNull();
  });
});
