import { describe, expect, it } from 'vitest';
import { AddressClassifier } from '../../lib/analysis/ip.js';
import {
  buildSocketDocument,
  directionOf,
  documentFromScan,
  fieldsOf,
  looksLikeToolError,
  splitEndpoint,
} from '../../lib/parse/sockets.js';
import { quote } from '../../lib/parse/json.js';
import type { RawSocket } from '../../lib/parse/sockets.js';

const raw = (over: Partial<RawSocket>): RawSocket => ({
  localAddress: '10.244.1.17',
  localPort: 40000,
  remoteAddress: '20.50.2.10',
  remotePort: 443,
  state: 'ESTABLISHED',
  line: 1,
  ...over,
});

describe('directionOf', () => {
  it.each([
    [40000, 443, [], false, 'outbound'],
    [8080, 50000, [], false, 'inbound'],
    [8080, 3000, [], false, 'unknown'],
    [40000, 50000, [], false, 'unknown'],
    [8080, 3000, [8080], false, 'inbound'],
    [8080, 3000, [8080], true, 'inbound'],
    [5000, 443, [8080], true, 'outbound'],
    [5000, 443, [8080], false, 'unknown'],
    [40000, 50000, [8080], true, 'outbound'],
    // --listening-ports 8080 alone does not make an ssh session on port 22 outbound.
    [22, 51000, [8080], false, 'inbound'],
  ] as const)(
    'local %i remote %i listening %j (complete: %s) -> %s',
    (local, remote, listening, complete, expected) => {
      expect(directionOf(local, remote, new Set(listening), complete)).toBe(expected);
    },
  );
});

describe('splitEndpoint', () => {
  it.each([
    ['1.2.3.4:443', { host: '1.2.3.4', port: 443 }],
    ['0.0.0.0:*', { host: '0.0.0.0', port: 0 }],
    [':::*', { host: '::', port: 0 }],
    [':::7070', { host: '::', port: 7070 }],
    ['[::1]:9090', { host: '[::1]', port: 9090 }],
    ['[fe80::1]%eth0:22', { host: '[fe80::1]%eth0', port: 22 }],
    ['::ffff:192.168.100:6379', { host: '::ffff:192.168.100', port: 6379 }],
    ['*:*', { host: '*', port: 0 }],
    ['1.2.3.4:https', null],
    ['1.2.3.4:65536', null],
    [':*', null],
    ['*', null],
    ['', null],
  ])('%j', (text, expected) => {
    expect(splitEndpoint(text)).toEqual(expected);
  });
});

describe('fieldsOf', () => {
  it('keeps start offsets so a free-text tail can be cut from the line', () => {
    const line = 'tcp   0 0  a:1 b:2 ESTABLISHED 12/nginx: worker pr ';
    const fields = fieldsOf(line);
    expect(fields.map((f) => f.text)).toEqual([
      'tcp',
      '0',
      '0',
      'a:1',
      'b:2',
      'ESTABLISHED',
      '12/nginx:',
      'worker',
      'pr',
    ]);
    expect(line.slice(fields[6]!.start).trimEnd()).toBe('12/nginx: worker pr');
    expect(fieldsOf('  \t ')).toEqual([]);
  });
});

describe('looksLikeToolError / quote', () => {
  it.each([
    'sh: netstat: not found',
    'sh: 1: ss: not found',
    'bash: ss: command not found',
    'OCI runtime exec failed: exec failed: unable to start container process',
    'cat: /proc/net/tcp: No such file or directory',
    '(No info could be read for "-p": geteuid()=1000 but you should be root.)',
    'error: unable to upgrade connection: container not found ("app")',
    'Error from server (NotFound): pods "x" not found',
    "netstat: invalid option -- 'p'",
    'RTNETLINK answers: Invalid argument',
  ])('%j is a tool error', (line) => {
    expect(looksLikeToolError(line)).toBe(true);
  });

  it.each(['tcp 0 0 1.2.3.4:5 6.7.8.9:443 ESTABLISHED 1/java', 'ESTAB 0 0 1.2.3.4:5 6.7.8.9:443', ''])(
    '%j is not',
    (line) => {
      expect(looksLikeToolError(line)).toBe(false);
    },
  );

  it('quotes with JSON escapes and cuts long lines', () => {
    expect(quote('a"b\u0000')).toBe('"a\\"b\\u0000"');
    expect(quote('x'.repeat(100), 10)).toBe(`"${'x'.repeat(10)}..."`);
  });
});

describe('documentFromScan', () => {
  const scan = { variant: 'ss' as const, rows: [], skipped: [], layoutLines: [], recognised: false };
  it('rejects an unrecognised input, naming the first non-blank line', () => {
    expect(documentFromScan('ss', 'ss', '\n\n  hello\n', scan)).toEqual({
      ok: false,
      problem: { code: 'not-ss', line: 3, message: 'not ss output: no header and no TCP row (first line: "  hello")' },
    });
    expect(documentFromScan('ss', 'ss', '\n \n', scan)).toEqual({
      ok: false,
      problem: { code: 'empty', message: 'empty input: expected ss output' },
    });
  });

  it('accepts a recognised scan with zero rows', () => {
    const parsed = documentFromScan('ss', 'ss', 'x', {
      ...scan,
      recognised: true,
      skipped: [{ line: 1, reason: 'r' }],
    });
    expect(parsed.ok && parsed.value.skipped).toEqual([{ line: 1, reason: 'r' }]);
  });
});

describe('buildSocketDocument', () => {
  it('a configured private CIDR makes a public-looking destination not public', () => {
    const classifier = new AddressClassifier({ privateCidrs: ['20.50.0.0/16'] });
    const d = buildSocketDocument('ss', 'ss', [raw({}), raw({ remoteAddress: '13.107.42.14', localPort: 40001 })], [], {
      classifier,
    });
    expect(d.sockets.map((s) => s.remotePublic)).toEqual([false, true]);
    expect(d.summary.publicDestinations).toEqual([{ endpoint: '13.107.42.14:443', count: 1 }]);
  });

  it('counts only ESTABLISHED in the public numbers; SYN_SENT to public stays visible in byState', () => {
    const d = buildSocketDocument(
      'netstat',
      'net-tools',
      [raw({}), raw({ state: 'SYN_SENT', localPort: 40001 }), raw({ state: 'TIME_WAIT', localPort: 40002 })],
      [],
    );
    expect(d.summary).toEqual({
      byState: { ESTABLISHED: 1, SYN_SENT: 1, TIME_WAIT: 1 },
      established: 1,
      establishedPublic: 1,
      establishedPublicOutbound: 1,
      publicDestinations: [{ endpoint: '20.50.2.10:443', count: 1 }],
    });
    expect(d.sockets.map((s) => s.remotePublic)).toEqual([true, true, true]);
  });

  it('an unparseable (truncated) address keeps its text and is never public', () => {
    const d = buildSocketDocument(
      'netstat',
      'net-tools',
      [raw({ remoteAddress: '::ffff:192.168.100', suspect: 'truncated-address' })],
      [],
    );
    expect(d.sockets[0]).toMatchObject({ remote: '[::ffff:192.168.100]:443', remotePublic: false });
    expect(d.summary.establishedPublic).toBe(0);
  });
});
