/**
 * The fuzz properties, one set for two runners: test/reliability/fuzz-short.test.ts runs each briefly in CI, and
 * `npm run fuzz` (fuzz/run.ts) runs them for minutes. Targets: every parser of lib/parse (FORMATS in
 * lib/parse/index.ts) and the alert endpoint's decision, `planAlert` (lib/intake/alert.ts, pure).
 *
 * What holds for every input (lib/parse/types.ts, STYLE.md "parsers are total"):
 * - nothing throws, on arbitrary text, arbitrary bytes, or real captures damaged at random;
 * - every line is accounted for: a record, a skipped line with a reason, or a layout line (header, banner, blank),
 *   each exactly once; the counts of a parse agree with each other;
 * - `planAlert` answers 202, 400 or 413 with a code of its contract, starts only for node IPs that are BackendIPAddress
 *   values of the body, and never starts for a body without a BackendIPAddress dimension.
 *
 * Predicates throw (node:assert), so they run under vitest and outside it alike. Line counts are computed here, not
 * with lib/parse/lines.ts, so that the splitter is checked too.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { canonicalAddress, canonicalIpLiteral } from '../../lib/analysis/ip.js';
import { loadSettings } from '../../lib/config/settings.js';
import { MAX_ALERT_BYTES, planAlert } from '../../lib/intake/alert.js';
import type { AlertPlan, AlertPlanSettings } from '../../lib/intake/alert.js';
import { parseAlert } from '../../lib/parse/alert.js';
import { parseCrictlInspectp } from '../../lib/parse/crictl.js';
import { scanLsns } from '../../lib/parse/lsns.js';
import { parseNetstat, scanNetstat } from '../../lib/parse/netstat.js';
import { parseProcNetTcp, scanProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import type { SocketDocument, SocketDocumentOptions, SocketScan } from '../../lib/parse/sockets.js';
import { parseSs, scanSs } from '../../lib/parse/ss.js';
import { parseTcptracer, parseTcptracerStream } from '../../lib/parse/tcptracer.js';
import { TCP_STATES } from '../../lib/parse/types.js';
import { damaged, linesOf } from '../helpers/text-arbitraries.js';
import type { Parsed, TcptracerCapture } from '../../lib/parse/types.js';

export interface FuzzTarget {
  readonly name: string;
  readonly about: string;
  /** A fresh property each time (a property holds the state of its run). */
  readonly property: () => fc.IRawProperty<unknown>;
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------------------------

const fixture = (path: string): string => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

/** Lines of a text as the parsers must count them: `\n` ends a line, a final unterminated line counts, a BOM does not. */
export function countLines(text: string): number {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) return 0;
  let n = 0;
  for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) n += 1;
  return body.endsWith('\n') ? n : n + 1;
}

/** Arbitrary text: any UTF-16 (lone surrogates included), graphemes, and bytes decoded as UTF-8 (U+FFFD for bad ones). */
const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('utf8')),
);

/** Splits bytes into chunks of the given sizes (cycled), for the stream parsers. */
function chunked(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes.length > 0 ? Math.max(1, sizes[k % sizes.length]!) : bytes.length;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** A rejection names what is wrong; a line or column it gives lies inside the input. */
function checkRejection(parsed: Parsed<unknown>, text: string): void {
  if (parsed.ok) return;
  const { problem } = parsed;
  assert.ok(problem.message.trim().length > 0, 'a rejection has a message');
  if (problem.line !== undefined) {
    assert.ok(Number.isInteger(problem.line) && problem.line >= 1, `line ${problem.line} is a 1-based number`);
    assert.ok(problem.line <= Math.max(1, countLines(text)), `line ${problem.line} is inside the input`);
  }
  if (problem.column !== undefined) assert.ok(Number.isInteger(problem.column) && problem.column >= 1);
}

/** Parses must not hang: generous, for a loaded machine; the inputs are a few KB. */
const MAX_PARSE_MS = 3_000;
function timed<T>(what: string, run: () => T): T {
  const started = performance.now();
  const result = run();
  const ms = performance.now() - started;
  assert.ok(ms < MAX_PARSE_MS, `${what} took ${Math.round(ms)} ms`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// tcptracer
// ---------------------------------------------------------------------------------------------------------------

const TCPTRACER_CAPTURES = ['tcptracer/bcc-tv.log', 'tcptracer/libbpf-t.log', 'tcptracer/article.log'].map(fixture);
const BCC_TV = fixture('tcptracer/bcc-tv.log').split('\n');
const BCC_BANNER = BCC_TV[0]!;
const BCC_HEADER = BCC_TV[1]!;
/** The capture's rows; its lost-samples notices are left out (the generator writes its own, and counts them). */
const BCC_ROWS = BCC_TV.slice(2).filter((l) => l.length > 0 && !/lost \d+/i.test(l));

/** Lines a tcptracer parser may take as layout (banner, column header) rather than as an event or a skipped line. */
const maybeLayout = (line: string): boolean => /SADDR/i.test(line) || /^\s*Tracing TCP/i.test(line);

function checkTcptracer(text: string, parsed: Parsed<TcptracerCapture>, exact?: { layout: number; lost: number }) {
  checkRejection(parsed, text);
  if (!parsed.ok) return;
  const v = parsed.value;
  const events = v.events.connect + v.events.accept + v.events.close;
  const lines = countLines(text);
  const layoutCandidates = text
    .replace(/^\ufeff/, '')
    .split('\n')
    .slice(0, lines)
    .filter(maybeLayout).length;
  // Every line is an event, a skipped line, or a banner / header line (at most those that look like one).
  assert.ok(events + v.skippedTotal <= lines, `${events} events + ${v.skippedTotal} skipped > ${lines} lines`);
  assert.ok(events + v.skippedTotal >= lines - layoutCandidates, 'a line is neither an event nor skipped');
  if (exact) {
    assert.equal(events + v.skippedTotal + exact.layout, lines, 'events + skipped + layout = lines');
    assert.equal(v.lostEvents, exact.lost, 'lostEvents sums the lost notices');
  }
  assert.equal(v.skipped.length, Math.min(200, v.skippedTotal), 'the skipped list is bounded, its total exact');
  for (const s of v.skipped) assert.ok(s.line >= 1 && s.line <= lines && s.reason.length > 0);
  assert.equal(
    v.sources.reduce((n, s) => n + s.connects, 0),
    v.events.connect,
    'connects by source sum to the connect events',
  );
  assert.equal(
    v.publicDestinations.reduce((n, d) => n + d.connects, 0),
    v.sources.reduce((n, s) => n + s.publicConnects, 0),
    'public destinations sum to the public connects',
  );
}

/** A real banner and header, then rows (real, damaged, or noise) and lost-event notices, counted as generated. */
const tcptracerBody: fc.Arbitrary<{ text: string; layout: number; lost: number }> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...BCC_ROWS).map((text) => ({ text, lost: 0 })) },
        {
          weight: 3,
          arbitrary: fc
            .tuple(fc.constantFrom(...BCC_ROWS), fc.nat(), fc.string({ maxLength: 6 }))
            .map(([row, at, s]) => ({ text: row.slice(0, at % (row.length + 1)) + s, lost: 0 })),
        },
        {
          weight: 2,
          arbitrary: fc
            .string({
              unit: fc.constantFrom('a', 'C', 'X', 'A', ' ', '\t', '4', '6', '.', ':', '[', ']', '1', '0', '-'),
            })
            .map((text) => ({ text, lost: 0 })),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.boolean()).map(([n, bcc]) => ({
            text: bcc ? `Possibly lost ${n} samples` : `Lost ${n} events on CPU #1!`,
            lost: n,
          })),
        },
      ),
      { maxLength: 40 },
    ),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
  )
  .map(([rows, eol, terminated]) => {
    const safe = rows.filter((r) => !maybeLayout(r.text) && !r.text.includes('\n') && !r.text.includes('\r'));
    const text = [BCC_BANNER, BCC_HEADER, ...safe.map((r) => r.text)].join(eol) + (terminated ? eol : '');
    // An unterminated last line is dropped (skipped) whole: a lost notice there is not counted.
    const counted = terminated ? safe : safe.slice(0, -1);
    // So is an unterminated header, when no row follows it.
    const layout = safe.length === 0 && !terminated ? 1 : 2;
    return { text, layout, lost: counted.reduce((n, r) => n + r.lost, 0) };
  });

const tcptracerTarget: FuzzTarget = {
  name: 'tcptracer',
  about: 'parseTcptracer: never throws; every line an event, a skipped line or banner/header; sums agree',
  property: () =>
    fc.property(
      fc.oneof(
        anyText.map((text) => ({ text, exact: undefined })),
        damaged(TCPTRACER_CAPTURES).map((text) => ({ text, exact: undefined })),
        tcptracerBody.map(({ text, layout, lost }) => ({ text, exact: { layout, lost } })),
      ),
      ({ text, exact }) => {
        checkTcptracer(
          text,
          timed('parseTcptracer', () => parseTcptracer(text)),
          exact,
        );
      },
    ),
};

const tcptracerStreamTarget: FuzzTarget = {
  name: 'tcptracer-stream',
  about: 'parseTcptracerStream over random chunks of bytes: never throws; equals the whole-text parse',
  property: () =>
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 800 }).map((b) => ({ bytes: Buffer.from(b), text: null as string | null })),
        fc
          .oneof(
            anyText,
            damaged(TCPTRACER_CAPTURES),
            tcptracerBody.map((b) => b.text),
          )
          .map((text): { bytes: Buffer; text: string | null } => ({ bytes: Buffer.from(text, 'utf8'), text })),
      ),
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
      async ({ bytes, text }, sizes) => {
        const streamed = await parseTcptracerStream(Readable.from(chunked(bytes, sizes)));
        checkTcptracer(bytes.toString('utf8'), streamed);
        // Valid UTF-8 in, whatever the chunking (a byte order mark split across chunks included): exactly the
        // result of parsing the whole text at once.
        if (text !== null && !/[\ud800-\udfff]/.test(text)) assert.deepEqual(streamed, parseTcptracer(text));
      },
    ),
};

// ---------------------------------------------------------------------------------------------------------------
// netstat, ss, /proc/net/tcp
// ---------------------------------------------------------------------------------------------------------------

const SOCKET_TOKENS = [
  'tcp',
  'tcp6',
  'udp',
  'unix',
  '0',
  '1',
  '4096',
  'ESTAB',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN-SENT',
  'LISTEN',
  'UNCONN',
  'TIME_WAIT',
  'CLOSE_WAIT',
  '127.0.0.1:8080',
  '10.244.1.17:40312',
  '20.50.2.10:443',
  '[::1]:9090',
  '[::ffff:1.2.3.4]:443',
  '[fe80::1]%eth0:22',
  '::ffff:10.244.1.1:40500',
  '2603:1030:800:5::bfee:a418:443',
  ':::*',
  '*:*',
  '0.0.0.0:*',
  '1/java',
  '12/nginx: worker pr',
  '-',
  'users:(("java",pid=1,fd=12))',
  'users:((',
  '0100007F:1F90',
  '0000000000000000FFFF00000100007F:1B9E',
  '01',
  '02',
  '0A',
  '00000000:00000000',
  '00000000:00000000 00:00000000 00000000',
  '0:',
  '12345',
  'sl',
  'local_address',
  'rem_address',
  'st',
  'tx_queue',
  'Proto',
  'Recv-Q',
  'Send-Q',
  'Local',
  'Foreign',
  'Address',
  'Address:Port',
  'Peer',
  'Process',
  'PID/Program',
  'name',
  'State',
  'Netid',
  'Active Internet connections (w/o servers)',
  '(No info could be read for "-p": geteuid()=1000 but you should be root.)',
  'sh: netstat: not found',
  'cat: /proc/net/tcp6: No such file or directory',
  '\u0000',
  '\ufeff',
  'é',
  '\r',
];

interface SocketParser {
  readonly name: 'netstat' | 'ss' | 'proc-net-tcp';
  readonly scan: (text: string) => SocketScan;
  readonly parse: (text: string, options?: SocketDocumentOptions) => Parsed<SocketDocument>;
  readonly captures: readonly string[];
}

const SOCKET_PARSERS: readonly SocketParser[] = [
  {
    name: 'netstat',
    scan: scanNetstat,
    parse: parseNetstat,
    captures: [
      'netstat/real-net-tools-tanp.txt',
      'netstat/real-net-tools-an.txt',
      'netstat/real-busybox-tan.txt',
      'netstat/net-tools-tnp-aks.txt',
    ].map(fixture),
  },
  {
    name: 'ss',
    scan: scanSs,
    parse: parseSs,
    captures: ['ss/real-tanp.txt', 'ss/real-anp.txt', 'ss/tnp-aks.txt', 'ss/real-tnp-tty-crlf.txt'].map(fixture),
  },
  {
    name: 'proc-net-tcp',
    scan: scanProcNetTcp,
    parse: parseProcNetTcp,
    captures: ['proc-net-tcp/real-tcp-tcp6.txt', 'proc-net-tcp/tcp-tcp6-aks.txt'].map(fixture),
  },
];

const STATES = new Set<string>(TCP_STATES);

function checkSockets(parser: SocketParser, text: string): void {
  const lines = countLines(text);
  const scan = timed(`scan ${parser.name}`, () => parser.scan(text));
  const numbers = [...scan.rows.map((r) => r.line), ...scan.skipped.map((s) => s.line), ...scan.layoutLines];
  assert.equal(numbers.length, lines, 'rows + skipped + layout lines = lines');
  assert.equal(new Set(numbers).size, lines, 'no line counted twice');
  for (const n of numbers) assert.ok(n >= 1 && n <= lines, `line ${n} of ${lines}`);
  for (const s of scan.skipped) assert.ok(s.reason.length > 0, 'a skipped line has a reason');

  const parsed = timed(`parse ${parser.name}`, () => parser.parse(text, { listeningPorts: [8080] }));
  checkRejection(parsed, text);
  assert.equal(parsed.ok, scan.recognised, 'accepted exactly when the format was recognised');
  if (!parsed.ok) return;
  const d = parsed.value;
  assert.equal(d.sockets.length, scan.rows.length, 'one socket per row');
  assert.deepEqual(d.skipped, scan.skipped);
  for (const s of d.sockets) assert.ok(STATES.has(s.state), `state ${s.state} is a kernel state name`);
  const byState = Object.values(d.summary.byState).reduce((a, b) => a + b, 0);
  assert.equal(byState, d.sockets.length, 'byState counts every socket');
  assert.ok(d.summary.establishedPublicOutbound <= d.summary.establishedPublic);
  assert.ok(d.summary.establishedPublic <= d.summary.established);
  assert.equal(
    d.summary.publicDestinations.reduce((n, p) => n + p.count, 0),
    d.summary.establishedPublicOutbound,
    'public destinations count the ESTABLISHED public outbound sockets',
  );
}

const socketTargets: FuzzTarget[] = SOCKET_PARSERS.map((parser) => ({
  name: parser.name,
  about: `scan/parse ${parser.name}: never throws; rows + skipped + layout lines = lines, each once; summary sums agree`,
  property: () =>
    fc.property(fc.oneof(anyText, linesOf(SOCKET_TOKENS), damaged(parser.captures)), (text) => {
      checkSockets(parser, text);
    }),
}));

// ---------------------------------------------------------------------------------------------------------------
// lsns
// ---------------------------------------------------------------------------------------------------------------

const LSNS_CAPTURES = [
  'lsns/aks-2.31-old-columns.txt',
  'lsns/aks-2.37-nsfs.txt',
  'lsns/article-hand-edited.txt',
  'lsns/real-2.38-ascii.txt',
  'lsns/real-2.38-utf8.txt',
  'lsns/real-2.38-raw-noheadings.txt',
  'lsns/tree-nested-ascii.txt',
  'lsns/real-2.38.json',
].map(fixture);

const LSNS_TOKENS = [
  'NS',
  'TYPE',
  'NPROCS',
  'PID',
  'USER',
  'NETNSID',
  'NSFS',
  'COMMAND',
  'PPID',
  'net',
  'mnt',
  'pid',
  '4026531840',
  '4026532361',
  '0',
  '1',
  '245',
  '4120',
  'root',
  'unassigned',
  '/run/netns/cni-4c7d8b0a-1f2e-3d4c-5b6a-7980a1b2c3d4',
  '/pause',
  'java -jar app.jar',
  '|-',
  '`-',
  '├─',
  '└─',
  '│',
  'lsns: failed to open /proc/1/ns/net',
  '{',
  '}',
];

const lsnsTarget: FuzzTarget = {
  name: 'lsns',
  about: 'scanLsns: never throws; one kind per line; entries and skipped lines are exactly those kinds',
  property: () =>
    fc.property(fc.oneof(anyText, linesOf(LSNS_TOKENS), damaged(LSNS_CAPTURES)), (text) => {
      const { result, kinds } = timed('scanLsns', () => scanLsns(text));
      checkRejection(result, text);
      if (!result.ok) return;
      for (const e of result.value.entries) assert.ok(Array.isArray(e.nsfs) && Number.isFinite(e.ns));
      if (kinds.length === 0) return; // JSON input (lsns -J): no lines to account for
      assert.equal(kinds.length, countLines(text), 'one kind per line');
      const count = (k: string) => kinds.filter((x) => x === k).length;
      assert.equal(result.value.entries.length, count('entry'), 'one entry per entry line');
      assert.equal(result.value.skipped.length, count('skipped'), 'one skipped record per skipped line');
      for (const s of result.value.skipped) {
        assert.equal(kinds[s.line - 1], 'skipped', `line ${s.line} is skipped`);
        assert.ok(s.reason.length > 0);
      }
    }),
};

// ---------------------------------------------------------------------------------------------------------------
// crictl inspectp
// ---------------------------------------------------------------------------------------------------------------

const CRICTL_CAPTURES = [
  'crictl/several.json',
  'crictl/ready-pod.json',
  'crictl/host-network.json',
  'crictl/concatenated.json',
  'crictl/truncated.json',
].map(fixture);
const SANDBOX = JSON.parse(fixture('crictl/ready-pod.json')) as unknown;

type JsonPath = Array<string | number>;

/** Every path to a value in a JSON document (bounded), the root excluded. */
function pathsOf(value: unknown, limit = 400): JsonPath[] {
  const out: JsonPath[] = [];
  const walk = (v: unknown, path: JsonPath): void => {
    if (out.length >= limit || typeof v !== 'object' || v === null) return;
    const entries: Array<[string | number, unknown]> = Array.isArray(v)
      ? v.map((x, i): [number, unknown] => [i, x])
      : Object.entries(v);
    for (const [k, child] of entries) {
      out.push([...path, k]);
      walk(child, [...path, k]);
    }
  };
  walk(value, []);
  return out;
}

type JsonEdit =
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: unknown }
  | { readonly kind: 'rename'; readonly at: number; readonly name: string }
  | { readonly kind: 'wrap'; readonly at: number };

/** Applies edits to a deep copy; `at` picks a path modulo the paths the document has at that point. */
function applyEdits(doc: unknown, edits: readonly JsonEdit[]): unknown {
  const copy = structuredClone(doc);
  for (const e of edits) {
    const paths = pathsOf(copy);
    if (paths.length === 0) break;
    const path = paths[e.at % paths.length]!;
    let parent = copy as Record<string | number, unknown>;
    for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
    const key = path[path.length - 1]!;
    if (e.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (e.kind === 'set') {
      // A copy: a constant of the vocabulary must neither be shared between edits (cycles) nor changed for later runs.
      parent[key] = structuredClone(e.value);
    } else if (e.kind === 'wrap') {
      parent[key] = [parent[key]];
    } else if (!Array.isArray(parent)) {
      const value = parent[key];
      delete parent[key];
      parent[e.name] = value;
    }
  }
  return copy;
}

function jsonEdits(values: fc.Arbitrary<unknown>, names: fc.Arbitrary<string>): fc.Arbitrary<JsonEdit[]> {
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: values }),
      fc.record({ kind: fc.constant('rename' as const), at: fc.nat(), name: names }),
      fc.record({ kind: fc.constant('wrap' as const), at: fc.nat() }),
    ),
    { maxLength: 6 },
  );
}

const crictlDocuments: fc.Arbitrary<{ text: string; elements: number }> = fc
  .tuple(
    fc.array(
      fc.oneof(
        {
          weight: 3,
          arbitrary: jsonEdits(fc.jsonValue({ maxDepth: 2 }), fc.string()).map((e) => applyEdits(SANDBOX, e)),
        },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
      ),
      { minLength: 1, maxLength: 4 },
    ),
    fc.constantFrom('array', 'concatenated', 'single'),
  )
  .map(([elements, shape]) => {
    if (shape === 'array') return { text: JSON.stringify(elements, null, 2), elements: elements.length };
    const values = shape === 'single' ? elements.slice(0, 1) : elements;
    // A top-level array is spread into its elements by the parser.
    const count = values.reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 1), 0);
    return { text: values.map((v) => JSON.stringify(v, null, 2)).join('\n'), elements: count };
  });

const crictlTarget: FuzzTarget = {
  name: 'crictl-inspectp',
  about: 'parseCrictlInspectp: never throws; every sandbox element is a pod or a skipped element',
  property: () =>
    fc.property(
      fc.oneof(
        anyText.map((text) => ({ text, elements: null as number | null })),
        damaged(CRICTL_CAPTURES).map((text) => ({ text, elements: null as number | null })),
        crictlDocuments,
      ),
      ({ text, elements }) => {
        const parsed = timed('parseCrictlInspectp', () => parseCrictlInspectp(text));
        checkRejection(parsed, text);
        if (!parsed.ok) return;
        for (const s of parsed.value.skipped) assert.ok(s.reason.length > 0);
        for (const p of parsed.value.pods) assert.ok(p.ip === null || canonicalAddress(p.ip) === p.ip);
        if (elements !== null) {
          assert.equal(parsed.value.pods.length + parsed.value.skipped.length, elements, 'pods + skipped = elements');
        }
      },
    ),
};

// ---------------------------------------------------------------------------------------------------------------
// Alerts: parseAlert and planAlert
// ---------------------------------------------------------------------------------------------------------------

const SUBSCRIPTION = '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-shop-prod/providers/Microsoft.ContainerService/managedClusters/aks-shop-prod`;
const LB = `/subscriptions/${SUBSCRIPTION}/resourcegroups/mc_rg-shop-prod_aks-shop-prod_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const NATGW = `/subscriptions/${SUBSCRIPTION}/resourcegroups/rg-shop-prod/providers/microsoft.network/natgateways/natgw-shop-prod`;

const corpus = (file: string): unknown =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/alerts-corpus/${file}`, import.meta.url), 'utf8').replace(/^\ufeff/, ''),
  );

/** Valid alerts that would start an investigation (common and legacy schema), and two that are node-less already. */
const ALERT_TEMPLATES: readonly unknown[] = [
  // The corpus' one-good-one-bad case with the bad value repaired: two criteria, two nodes.
  JSON.parse(
    JSON.stringify(corpus('400-invalid-dimension--one-good-one-bad-condition.json')).replace(
      '10.224.0.40.1',
      '10.224.0.40',
    ),
  ),
  corpus('400-no-node-dimension--legacy-without-backend-ip.json'),
  corpus('400-no-node-dimension--split-by-frontend-only.json'),
  corpus('202-resolved--legacy-resolved.json'),
  corpus('400-unmapped-nat-gateway--snat-connection-count.json'),
  JSON.parse(fixture('alert/common-two-conditions.json').replace(/^\ufeff/, '')),
  JSON.parse(fixture('alert/legacy-activated.json').replace(/^\ufeff/, '')),
  JSON.parse(fixture('alert/ipv6-backend.json').replace(/^\ufeff/, '')),
];

/** Values an edit may write: the words alerts are made of, IPs good and bad, odd numbers, any JSON. */
const alertValues: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    '',
    ' ',
    'Fired',
    'Resolved',
    'Activated',
    'Metric',
    'Log',
    'Activity Log',
    'azureMonitorCommonAlertSchema',
    'AzureMonitorMetricAlert',
    'Microsoft.Insights/activityLogs',
    'UsedSnatPorts',
    'USEDSNATPORTS',
    'AllocatedSnatPorts',
    'SnatConnectionCount',
    'SNATConnectionCount',
    'Microsoft.Network/loadBalancers',
    'Microsoft.Network/natGateways',
    '10.224.0.4',
    '10.224.0.40',
    '::ffff:10.224.0.4',
    'fd00:e0::4',
    '[fd00:e0::4]',
    'fe80::4%eth0',
    '10.224.0.4%eth0',
    '[10.224.0.4]',
    '010.224.0.4',
    '10.224.0.4/32',
    '10.224.0.4;reboot',
    '1e400',
    1e308,
    -1,
    0,
    LB,
    LB.toUpperCase(),
    NATGW,
    [LB],
    [NATGW],
    [],
    {},
    [{ name: 'FrontendIPAddress', value: '20.31.42.53' }],
    [{ name: 'ProtocolType', value: 'TCP' }],
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Names a rename may give: near misses of BackendIPAddress (none of which is one), and the alert's own keys. */
const NEAR_MISSES = [
  'BackendIPAddress ',
  ' BackendIPAddress',
  'Backend IP Address',
  'BackendIPAddresses',
  'backend_ip_address',
  'BackendIPAddress\u200b',
  '\u0412ackendIPAddress',
  'DestinationIPAddress',
  'FrontendIPAddress',
];
const alertNames = fc.constantFrom(
  ...NEAR_MISSES,
  'name',
  'value',
  'dimensions',
  'allOf',
  'condition',
  'essentials',
  'alertContext',
  'context',
  'schemaId',
  'monitorCondition',
  'status',
  'alertTargetIDs',
  'resourceId',
  'metricName',
  'metricNamespace',
  '__proto__',
  'constructor',
);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The canonical IPs of every `{name, value}` anywhere in the document whose name is BackendIPAddress, compared as
 * Azure does (case-insensitively): an oracle that knows nothing of the schema. Values must be bare IP literals
 * (FORMATS.md section 10): `10.224.0.4%$(reboot)` is not 10.224.0.4. null: not JSON.
 */
function backendIpsAnywhere(bytes: Uint8Array): Set<string> | null {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8').decode(bytes)) as unknown;
  } catch {
    return null;
  }
  const ips = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 200 || typeof v !== 'object' || v === null) return;
    if (isRecord(v) && typeof v.name === 'string' && v.name.toLowerCase() === 'backendipaddress') {
      const ip =
        typeof v.value === 'string' || typeof v.value === 'number' ? canonicalIpLiteral(String(v.value)) : null;
      if (ip !== null) ips.add(ip);
    }
    for (const child of Object.values(v)) walk(child, depth + 1);
  };
  walk(doc, 0);
  return ips;
}

/** Removes every BackendIPAddress dimension (the node) from a document. */
function withoutNode(doc: unknown): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      return v
        .filter((x) => !(isRecord(x) && typeof x.name === 'string' && x.name.toLowerCase() === 'backendipaddress'))
        .map(strip);
    }
    if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  return strip(doc);
}

const SETTINGS: readonly AlertPlanSettings[] = [
  loadSettings({ SNAT_TASK_HUB: 'fuzz', SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true' }),
  loadSettings({
    SNAT_TASK_HUB: 'fuzz',
    SNAT_REPORT_STORAGE: 'UseDevelopmentStorage=true',
    SNAT_ALLOWED_CLUSTER_IDS: CLUSTER,
    SNAT_LB_CLUSTER_MAP: JSON.stringify({ [LB]: CLUSTER }),
    SNAT_MAX_NODES_PER_ALERT: '1',
  }),
];

const encode = (doc: unknown, pretty: boolean): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(doc, null, pretty ? 2 : undefined) ?? 'null');

/** Byte-level damage of a serialized alert: flips, cuts, insertions (mostly invalid JSON, some valid). */
const byteEdits = fc.array(
  fc.record({ kind: fc.constantFrom('flip', 'cut', 'insert', 'delete'), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  { maxLength: 4 },
);
function applyByteEdits(
  bytes: Uint8Array,
  edits: ReadonlyArray<{ kind: string; at: number; byte: number }>,
): Uint8Array {
  let out = Buffer.from(bytes);
  for (const e of edits) {
    if (out.length === 0) break;
    const i = e.at % out.length;
    if (e.kind === 'flip') out[i] = e.byte;
    else if (e.kind === 'cut') out = out.subarray(0, i);
    else if (e.kind === 'insert') out = Buffer.concat([out.subarray(0, i), Buffer.from([e.byte]), out.subarray(i)]);
    else out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
  }
  return new Uint8Array(out);
}

/** Alert bodies: arbitrary bytes and text, valid alerts edited as JSON and as bytes, and bodies over 256 KB. */
const alertBodies: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
  { weight: 1, arbitrary: anyText.map((t) => new TextEncoder().encode(t)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...ALERT_TEMPLATES), jsonEdits(alertValues, alertNames), fc.boolean())
      .map(([doc, edits, pretty]) => encode(applyEdits(doc, edits), pretty)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...ALERT_TEMPLATES), byteEdits)
      .map(([doc, edits]) => applyByteEdits(encode(doc, true), edits)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...ALERT_TEMPLATES), fc.integer({ min: 1, max: 4096 }), fc.constantFrom(0x20, 0x7b, 0x00))
      .map(([doc, over, fill]) => {
        const body = Buffer.from(encode(doc, true));
        return new Uint8Array(Buffer.concat([body, Buffer.alloc(MAX_ALERT_BYTES - body.length + over, fill)]));
      }),
  },
);

const PARSE_CODES = new Set([
  'too-large',
  'empty',
  'invalid-json',
  'unknown-schema',
  'not-metric-alert',
  'invalid-alert',
]);
const IGNORE_CODES = new Set(['resolved', 'not-metric-alert', 'not-snat-metric']);
const REJECT_CODES = new Set([
  'too-large',
  'empty',
  'invalid-json',
  'unknown-schema',
  'invalid-alert',
  'invalid-dimension',
  'no-node-dimension',
  'unsupported-target',
  'unmapped-nat-gateway',
  'cluster-not-allowed',
]);

const parseAlertTarget: FuzzTarget = {
  name: 'alert',
  about: 'parseAlert: never throws; node IPs are canonical IP literals; rejections carry a known code',
  property: () =>
    fc.property(alertBodies, (bytes) => {
      const parsed = timed('parseAlert', () => parseAlert(bytes));
      const text = new TextDecoder('utf-8').decode(bytes);
      checkRejection(parsed, text);
      if (!parsed.ok) {
        assert.ok(PARSE_CODES.has(parsed.problem.code ?? ''), `code ${parsed.problem.code}`);
        if (bytes.byteLength > MAX_ALERT_BYTES) assert.equal(parsed.problem.code, 'too-large');
        return;
      }
      const v = parsed.value;
      assert.ok(bytes.byteLength <= MAX_ALERT_BYTES);
      assert.equal(new Set(v.nodeIps).size, v.nodeIps.length, 'node IPs are de-duplicated');
      for (const ip of v.nodeIps) assert.equal(canonicalAddress(ip), ip, `node IP ${ip} is canonical`);
      for (const d of v.invalidDimensionValues) {
        assert.equal(canonicalIpLiteral(d.value), null, `${d.value} is not a bare IP literal`);
        assert.ok(d.field.length > 0);
      }
      const anywhere = backendIpsAnywhere(bytes);
      for (const ip of v.nodeIps) assert.ok(anywhere?.has(ip), `node IP ${ip} is a BackendIPAddress of the body`);
    }),
};

function checkPlan(plan: AlertPlan, bytes: Uint8Array): void {
  switch (plan.kind) {
    case 'ignore':
      assert.equal(plan.status, 202);
      assert.ok(IGNORE_CODES.has(plan.code), `ignore code ${plan.code}`);
      assert.ok(plan.reason.length > 0);
      break;
    case 'reject':
      assert.ok(REJECT_CODES.has(plan.code), `reject code ${plan.code}`);
      assert.equal(plan.status, plan.code === 'too-large' ? 413 : 400);
      assert.ok(plan.reason.length > 0);
      break;
    case 'start': {
      assert.equal(plan.status, 202);
      assert.ok(plan.targets.length > 0, 'a start has targets');
      assert.ok(bytes.byteLength <= MAX_ALERT_BYTES);
      const anywhere = backendIpsAnywhere(bytes);
      for (const t of plan.targets) {
        assert.ok('nodeIp' in t, 'no NAT gateway is mapped: only load balancer targets may start');
        assert.equal(canonicalAddress(t.nodeIp), t.nodeIp, `target ${t.nodeIp} is canonical`);
        assert.ok(anywhere?.has(t.nodeIp), `target ${t.nodeIp} is a BackendIPAddress value of the body`);
      }
      break;
    }
    default:
      assert.fail(`unknown plan ${JSON.stringify(plan)}`);
  }
  if (bytes.byteLength > MAX_ALERT_BYTES) assert.deepEqual([plan.status, plan.kind], [413, 'reject']);
}

const planAlertTarget: FuzzTarget = {
  name: 'plan-alert',
  about: 'planAlert: never throws; 202/400/413 with a contract code; starts only for BackendIPAddress values',
  property: () =>
    fc.property(alertBodies, fc.constantFrom(...SETTINGS), (bytes, settings) => {
      checkPlan(
        timed('planAlert', () => planAlert(bytes, settings)),
        bytes,
      );
    }),
};

const planAlertNodeLessTarget: FuzzTarget = {
  name: 'plan-alert-node-less',
  about: 'planAlert on alerts stripped of BackendIPAddress, then edited (near-miss names, IPs elsewhere): never starts',
  property: () =>
    fc.property(
      fc.constantFrom(...ALERT_TEMPLATES),
      jsonEdits(alertValues, alertNames),
      fc.boolean(),
      fc.constantFrom(...SETTINGS),
      (doc, edits, pretty, settings) => {
        const bytes = encode(applyEdits(withoutNode(doc), edits), pretty);
        // Edits never write a BackendIPAddress name; should one appear all the same, the case says nothing.
        fc.pre((backendIpsAnywhere(bytes)?.size ?? 0) === 0);
        const plan = timed('planAlert', () => planAlert(bytes, settings));
        checkPlan(plan, bytes);
        assert.notEqual(plan.kind, 'start', `started without a node: ${JSON.stringify(plan)}`);
      },
    ),
};

/** Every target, in the order `npm run fuzz` runs them. */
export const TARGETS: readonly FuzzTarget[] = [
  tcptracerTarget,
  tcptracerStreamTarget,
  ...socketTargets,
  lsnsTarget,
  crictlTarget,
  parseAlertTarget,
  planAlertTarget,
  planAlertNodeLessTarget,
];
