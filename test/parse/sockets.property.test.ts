/**
 * Properties of the three census parsers: no input throws, and every input line ends up as exactly one of a socket,
 * a skipped line (with a reason) or a layout line (header, banner, blank).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitLines } from '../../lib/parse/lines.js';
import { parseNetstat, scanNetstat } from '../../lib/parse/netstat.js';
import { parseProcNetTcp, scanProcNetTcp } from '../../lib/parse/proc-net-tcp.js';
import { parseSs, scanSs } from '../../lib/parse/ss.js';
import type { SocketDocument, SocketDocumentOptions, SocketScan } from '../../lib/parse/sockets.js';
import { TCP_STATES } from '../../lib/parse/types.js';
import type { Parsed } from '../../lib/parse/types.js';
import { damaged, linesOf } from '../helpers/text-arbitraries.js';

interface Parser {
  readonly name: string;
  readonly scan: (text: string) => SocketScan;
  readonly parse: (text: string, options?: SocketDocumentOptions) => Parsed<SocketDocument>;
  readonly captures: string[];
}

const read = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8');

const PARSERS: readonly Parser[] = [
  {
    name: 'netstat',
    scan: scanNetstat,
    parse: parseNetstat,
    captures: [
      'netstat/real-net-tools-tanp.txt',
      'netstat/real-net-tools-an.txt',
      'netstat/real-busybox-tan.txt',
      'netstat/net-tools-tnp-aks.txt',
    ].map(read),
  },
  {
    name: 'ss',
    scan: scanSs,
    parse: parseSs,
    captures: ['ss/real-tanp.txt', 'ss/real-anp.txt', 'ss/tnp-aks.txt', 'ss/real-tnp-tty-crlf.txt'].map(read),
  },
  {
    name: 'proc-net-tcp',
    scan: scanProcNetTcp,
    parse: parseProcNetTcp,
    captures: ['proc-net-tcp/real-tcp-tcp6.txt', 'proc-net-tcp/tcp-tcp6-aks.txt'].map(read),
  },
];

const STATES = new Set<string>(TCP_STATES);

/** Every line is in exactly one list; the parse result agrees with the scan. */
function checkAccounting(parser: Parser, text: string): void {
  const lineCount = [...splitLines(text)].length;
  const scan = parser.scan(text);
  const numbers = [...scan.rows.map((r) => r.line), ...scan.skipped.map((s) => s.line), ...scan.layoutLines];
  expect(numbers.length).toBe(lineCount);
  expect(new Set(numbers).size).toBe(lineCount);
  for (const n of numbers) expect(n >= 1 && n <= lineCount).toBe(true);
  for (const s of scan.skipped) expect(s.reason.length).toBeGreaterThan(0);

  const parsed = parser.parse(text, { listeningPorts: [8080] });
  expect(parsed.ok).toBe(scan.recognised);
  if (parsed.ok) {
    const d = parsed.value;
    expect(d.sockets).toHaveLength(scan.rows.length);
    expect(d.skipped).toEqual(scan.skipped);
    for (const s of d.sockets) {
      expect(STATES.has(s.state)).toBe(true);
      expect(typeof s.local).toBe('string');
      expect(typeof s.remotePublic).toBe('boolean');
    }
    const byStateTotal = Object.values(d.summary.byState).reduce((a, b) => a + b, 0);
    expect(byStateTotal).toBe(d.sockets.length);
    expect(d.summary.establishedPublicOutbound).toBeLessThanOrEqual(d.summary.establishedPublic);
    expect(d.summary.establishedPublic).toBeLessThanOrEqual(d.summary.established);
  } else {
    expect(parsed.problem.message.length).toBeGreaterThan(0);
  }
}

/** Words the three formats are made of, so random lines often come close to real rows. */
const TOKENS = [
  'tcp',
  'tcp6',
  'udp',
  'unix',
  'nl',
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
  '127.0.0.1:8080',
  '10.244.1.17:40312',
  '20.50.2.10:443',
  '[::1]:9090',
  '[::ffff:1.2.3.4]:443',
  '[fe80::1]%eth0:22',
  '::ffff:192.168.100:6379',
  '::ffff:10.244.1.1:40500',
  ':::*',
  '*:*',
  '0.0.0.0:*',
  '*:22',
  '1/java',
  '12/nginx:',
  'worker',
  '-',
  'users:(("a,b",pid=1,fd=2))',
  'users:((',
  '0100007F:1F90',
  '0000000000000000FFFF00000100007F:1B9E',
  '01',
  '0A',
  '00000000:00000000',
  '0:',
  'sl',
  'local_address',
  'rem_address',
  'st',
  'Proto',
  'Recv-Q',
  'Send-Q',
  'Local',
  'Address:Port',
  'Peer',
  'Process',
  'State',
  'Netid',
  'Active',
  'Internet',
  'connections',
  '(No info could be read for "-p":',
  'sh:',
  'not found',
  '\u0000',
  '\ufeff',
  '\u00ff',
  'é',
  '\r',
];

const text = linesOf(TOKENS);

describe.each(PARSERS)('$name parser properties', (parser) => {
  it('random text never throws, and every line is a socket, a skipped line or a layout line', () => {
    fc.assert(
      fc.property(text, (t) => {
        checkAccounting(parser, t);
      }),
      { numRuns: 400 },
    );
  });

  it('mutations of real captures never throw and keep the accounting', () => {
    fc.assert(
      fc.property(damaged(parser.captures), (t) => {
        checkAccounting(parser, t);
      }),
      { numRuns: 300 },
    );
  });

  it('every other parser reads this format without throwing', () => {
    for (const other of PARSERS) for (const capture of parser.captures) checkAccounting(other, capture);
  });

  it('a big input (a capture repeated to 100k+ lines) is read completely', () => {
    const capture = parser.captures[0]!;
    const single = parser.scan(capture);
    const copies = Math.ceil(100_000 / [...splitLines(capture)].length);
    const big = capture.repeat(copies);
    const parsed = parser.parse(big);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.value.sockets).toHaveLength(single.rows.length * copies);
      expect(parsed.value.skipped).toHaveLength(single.skipped.length * copies);
    }
  });
});
