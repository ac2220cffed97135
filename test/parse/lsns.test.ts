import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksLikeLsns, parseLsns, scanLsns, stripTreePrefix } from '../../lib/parse/lsns.js';
import { splitLines } from '../../lib/parse/lines.js';
import type { LsnsDocument, LsnsEntry, Parsed } from '../../lib/parse/types.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/lsns/${name}`, import.meta.url), 'utf8');

function ok(result: Parsed<LsnsDocument>): LsnsDocument {
  if (!result.ok) throw new Error(`rejected: ${result.problem.message}`);
  return result.value;
}

const golden = (doc: unknown) => JSON.stringify(doc, null, 2) + '\n';

// Captured on this machine (util-linux 2.38.1) with `ip netns add`, a second bind mount of one netns, `ip netns set
// ... 7` (NETNSID), and nested `unshare -n` processes (tree prefixes). The JSON forms were captured at the same time;
// NPROCS of the root namespace differs between captures (other processes came and went).
const REAL_TABLES = [
  'real-2.38-ascii.txt',
  'real-2.38-utf8.txt',
  'real-2.38-nowrap.txt',
  'real-2.38-raw-noheadings.txt',
];

describe('lsns: real captures (util-linux 2.38.1)', () => {
  it.each([...REAL_TABLES, 'real-2.38.json', 'real-2.38-old-columns.txt', 'real-2.38-ns-pid-nsfs.json'])(
    '%s matches its golden document',
    async (name) => {
      const doc = ok(parseLsns(fixture(name)));
      await expect(golden(doc)).toMatchFileSnapshot(`../golden/lsns/${name.replace(/\.(txt|json)$/, '')}.json`);
    },
  );

  it('reads the multi-line NSFS cell, NETNSID 7 and unassigned, and commands with spaces', () => {
    const doc = ok(parseLsns(fixture('real-2.38-ascii.txt')));
    expect(doc.skipped).toEqual([]);
    expect(doc.entries).toHaveLength(11);
    expect(doc.entries[0]).toEqual({
      ns: 4026531833,
      type: 'net',
      nprocs: 80,
      pid: 2,
      user: 'root',
      command: 'kthreadd',
      netnsid: null,
      nsfs: [],
    });
    expect(doc.entries[1]?.nsfs).toEqual([
      '/run/netns/cni-5d0c8a1e-3f2b-4c9e-9a7d-1b2c3d4e5f60',
      '/run/netns/cni-extra-mount',
    ]);
    expect(doc.entries[2]).toMatchObject({
      ns: 4026532246,
      pid: 5058,
      netnsid: 7,
      command: 'bash -c sleep 900 & sleep 901 & wait',
      nsfs: ['/run/netns/cni-aa11bb22-cc33-dd44-ee55-ff6677889900'],
    });
  });

  it('strips ASCII and UTF-8 tree prefixes from COMMAND', () => {
    for (const name of ['real-2.38-ascii.txt', 'real-2.38-utf8.txt']) {
      const commands = ok(parseLsns(fixture(name)))
        .entries.slice(-5)
        .map((e) => [e.pid, e.command]);
      expect(commands).toEqual([
        [5410, 'sleep 905'],
        [5537, 'bash -c unshare -n bash -c "unshare -n sleep 907 & wait" & unshare -n sleep 906 & wait'],
        [5539, 'bash -c unshare -n sleep 907 & wait'],
        [5541, 'sleep 907'],
        [5540, 'sleep 906'],
      ]);
    }
  });

  it('every form of the same capture gives the same namespaces', () => {
    const key = (e: LsnsEntry) => ({ ns: e.ns, pid: e.pid, command: e.command, nsfs: e.nsfs, netnsid: e.netnsid });
    const reference = ok(parseLsns(fixture('real-2.38.json'))).entries.map(key);
    expect(reference).toHaveLength(11);
    for (const name of REAL_TABLES) {
      expect(ok(parseLsns(fixture(name))).entries.map(key), name).toEqual(reference);
    }
    // `-o NS,PID,NSFS -J` prints the flat list sorted by NS; the default prints tree order.
    const byNs = (a: { ns: number }, b: { ns: number }) => a.ns - b.ns;
    const slim = ok(parseLsns(fixture('real-2.38-ns-pid-nsfs.json'))).entries.map((e) => ({
      ns: e.ns,
      pid: e.pid,
      nsfs: e.nsfs,
    }));
    expect(slim).toEqual(reference.map((e) => ({ ns: e.ns, pid: e.pid, nsfs: e.nsfs })).sort(byNs));
  });

  it('the JSON tree (children) is flattened in print order', () => {
    const doc = ok(parseLsns(fixture('real-2.38.json')));
    expect(doc.entries.map((e) => e.pid)).toEqual([2, 5057, 5058, 5059, 5230, 5409, 5410, 5537, 5539, 5541, 5540]);
  });

  it('the old column set has no netnsid key at all', () => {
    const doc = ok(parseLsns(fixture('real-2.38-old-columns.txt')));
    expect(doc.entries).toHaveLength(11);
    expect(doc.entries.every((e) => !('netnsid' in e))).toBe(true);
    expect(doc.entries[10]).toEqual({
      ns: 4026532773,
      type: 'net',
      nprocs: 1,
      pid: 5540,
      user: 'root',
      command: 'sleep 906',
      nsfs: [],
    });
  });
});

describe('lsns: hand-written fixtures', () => {
  it.each(['aks-2.31-old-columns.txt', 'aks-2.37-nsfs.txt', 'tree-nested-ascii.txt', 'article-hand-edited.txt'])(
    '%s matches its golden document',
    async (name) => {
      await expect(golden(ok(parseLsns(fixture(name))))).toMatchFileSnapshot(
        `../golden/lsns/${name.replace(/\.txt$/, '')}.json`,
      );
    },
  );

  it('2.31 column set: pause PIDs, uid 65535 shown as a number, azureuser, commands with spaces', () => {
    const doc = ok(parseLsns(fixture('aks-2.31-old-columns.txt')));
    expect(doc.entries.map((e) => [e.ns, e.nprocs, e.pid, e.user, e.command])).toEqual([
      [4026531992, 214, 1, 'root', '/sbin/init'],
      [4026532271, 2, 5120, '65535', '/pause'],
      [4026532337, 4, 5387, '65535', '/pause'],
      [4026532406, 7, 6012, 'azureuser', 'dotnet Contoso.Orders.Api.dll --urls http://0.0.0.0:8080'],
      [4026532473, 3, 9, 'root', 'java -Xmx512m -jar /app/payments.jar'],
    ]);
  });

  it('2.37 column set: NSFS continuation lines attach to the previous entry; empty NSFS before a /path command', () => {
    const { entries, skipped } = ok(parseLsns(fixture('aks-2.37-nsfs.txt')));
    expect(skipped).toEqual([]);
    expect(entries.map((e) => [e.ns, e.netnsid, e.nsfs, e.command])).toEqual([
      [4026531840, null, [], '/sbin/init'],
      [4026532271, 0, ['/run/netns/cni-6f3b5c2e-1d4a-4b7e-9c1f-2a3b4c5d6e7f'], '/pause'],
      [
        4026532337,
        1,
        [
          '/run/netns/cni-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
          '/var/run/netns/cni-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
        ],
        '/pause',
      ],
      [
        4026532406,
        2,
        ['/run/netns/cni-9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a'],
        'dotnet Contoso.Orders.Api.dll --urls http://0.0.0.0:8080',
      ],
      [4026532473, null, [], '/pause'],
    ]);
  });

  it('nested tree prefixes (`|-`, `| `-`, two-space indent) are stripped', () => {
    const doc = ok(parseLsns(fixture('tree-nested-ascii.txt')));
    expect(doc.entries.map((e) => e.command)).toEqual([
      '/sbin/init',
      '/pause',
      'runner --sandbox',
      'runner --child a',
      'worker 1',
      'runner --child b',
      'worker 2',
    ]);
  });

  it('a hand-edited copy whose columns do not line up with its header is read by position', () => {
    const doc = ok(parseLsns(fixture('article-hand-edited.txt')));
    expect(doc.skipped).toEqual([]);
    expect(doc.entries.map((e) => [e.ns, e.pid, e.user, e.command])).toEqual([
      [4026531840, 1, 'root', '/sbin/init'],
      [4026532240, 5372, '65535', '/pause'],
      [4026532315, 8810, '65535', '/pause'],
      [4026532399, 9120, '1000', 'node /app/server.js --port 3000'],
    ]);
  });
});

describe('lsns: column alignment', () => {
  const header = '        NS TYPE NPROCS   PID USER    NETNSID NSFS                       COMMAND';
  const RIGHT = new Set(['NS', 'NPROCS', 'PID', 'NETNSID']);
  /** A row laid out on the header's anchors, as libsmartcols does: numbers end under their header, text starts there. */
  function row(cells: Record<string, string>): string {
    let line = ' '.repeat(header.length);
    for (const [name, value] of Object.entries(cells)) {
      const start = header.indexOf(name === 'NS' ? 'NS ' : name);
      const at = RIGHT.has(name) ? start + name.length - value.length : start;
      line = line.slice(0, at) + value + line.slice(at + value.length);
    }
    return line;
  }

  it('an empty NSFS cell before a command that looks like a netns path stays empty', () => {
    const cells = { NS: '4026532001', TYPE: 'net', NPROCS: '1', PID: '100', USER: 'root', NETNSID: 'unassigned' };
    const text = `${header}\n${row({ ...cells, COMMAND: '/run/netns/helper --x' })}\n`;
    const [entry] = ok(parseLsns(text)).entries;
    expect(entry).toMatchObject({ nsfs: [], command: '/run/netns/helper --x', netnsid: null });
    // Read by word order instead, the command would have been taken for the NSFS cell.
    expect(ok(parseLsns(text.replace(header, header.replace('        NS', 'NS')))).entries[0]).toMatchObject({
      nsfs: ['/run/netns/helper'],
      command: '--x',
    });
  });

  it('empty PID and USER cells (a namespace held only by a bind mount) are null', () => {
    const line = row({
      NS: '4026532002',
      TYPE: 'net',
      NPROCS: '0',
      NETNSID: 'unassigned',
      NSFS: '/run/netns/cni-empty',
    });
    const text = `${header}\n${line}\n`;
    const [entry] = ok(parseLsns(text)).entries;
    expect(entry).toEqual({
      ns: 4026532002,
      type: 'net',
      nprocs: 0,
      pid: null,
      user: null,
      command: '',
      netnsid: null,
      nsfs: ['/run/netns/cni-empty'],
    });
  });

  it('--raw with a header: single spaces, empty cells, \\x escapes (UTF-8 included)', () => {
    const text =
      'NS TYPE NPROCS PID USER NETNSID NSFS COMMAND\n' +
      '4026532594 net 1 5410 root unassigned  \\xe2\\x94\\x94\\xe2\\x94\\x80sleep\\x20905\n' +
      '4026532177 net 3 5057 root 3 /run/netns/a,/run/netns/b sleep\\x20900\n';
    expect(ok(parseLsns(text)).entries).toEqual([
      {
        ns: 4026532594,
        type: 'net',
        nprocs: 1,
        pid: 5410,
        user: 'root',
        command: 'sleep 905',
        netnsid: null,
        nsfs: [],
      },
      {
        ns: 4026532177,
        type: 'net',
        nprocs: 3,
        pid: 5057,
        user: 'root',
        command: 'sleep 900',
        netnsid: 3,
        nsfs: ['/run/netns/a', '/run/netns/b'],
      },
    ]);
  });

  it('table --noheadings (no raw escapes) is read by position with the default column sets', () => {
    const text =
      '4026531833 net      74     2 root unassigned                                                     kthreadd\n' +
      '4026532177 net       3  5057 root          4 /run/netns/cni-5d0c8a1e-3f2b-4c9e-9a7d-1b2c3d4e5f60 sleep 900\n' +
      '                                             /run/netns/cni-extra-mount\n' +
      '4026532315 net       1  5059 65535 /pause --v=2\n';
    expect(ok(parseLsns(text)).entries.map((e) => [e.ns, e.netnsid, e.nsfs, e.command])).toEqual([
      [4026531833, null, [], 'kthreadd'],
      [
        4026532177,
        4,
        ['/run/netns/cni-5d0c8a1e-3f2b-4c9e-9a7d-1b2c3d4e5f60', '/run/netns/cni-extra-mount'],
        'sleep 900',
      ],
      [4026532315, undefined, [], '/pause --v=2'],
    ]);
  });

  it('CRLF line ends and a BOM are tolerated', () => {
    const text = '\ufeff' + fixture('aks-2.37-nsfs.txt').replace(/\n/g, '\r\n');
    expect(ok(parseLsns(text))).toEqual(ok(parseLsns(fixture('aks-2.37-nsfs.txt'))));
  });

  it.each([
    ['|-sleep 1', 'sleep 1'],
    ['`-sleep 1', 'sleep 1'],
    ['| `-sleep 1', 'sleep 1'],
    ['  `-sleep 1', 'sleep 1'],
    ['│ └─sleep 1', 'sleep 1'],
    ['├─sleep 1', 'sleep 1'],
    ['sleep |-1', 'sleep |-1'],
    ['/pause', '/pause'],
  ])('stripTreePrefix(%j) = %j', (input, expected) => {
    expect(stripTreePrefix(input)).toBe(expected);
  });
});

describe('lsns: skipped lines and rejections', () => {
  it('keeps going past noise, naming each skipped line', () => {
    const text = [
      '        NS TYPE NPROCS   PID USER COMMAND',
      '4026531840 net     188     1 root /sbin/init',
      'lsns: cannot open /proc/4242/ns/net: No such file or directory',
      '',
      'garbage here',
      'NOTANUMBER net       2  5120 65535 /pause',
      '4026532271 net       2  5120 65535 /pause',
    ].join('\n');
    const doc = ok(parseLsns(text));
    expect(doc.entries.map((e) => e.ns)).toEqual([4026531840, 4026532271]);
    expect(doc.skipped).toEqual([
      { line: 3, reason: 'lsns error message' },
      { line: 4, reason: 'blank line' },
      { line: 5, reason: 'row does not match the header (NS TYPE NPROCS PID USER COMMAND)' },
      { line: 6, reason: 'NS "NOTANUMBER" is not a namespace inode number' },
    ]);
  });

  it('a continuation line before any entry is skipped, not attached', () => {
    const text =
      '        NS TYPE NPROCS   PID USER    NETNSID NSFS        COMMAND\n                                             /run/netns/x\n';
    expect(ok(parseLsns(text)).skipped).toEqual([
      { line: 2, reason: 'NSFS continuation line with no entry before it' },
    ]);
  });

  it.each([
    ['', 'empty', undefined],
    ['\n \n\t\n', 'empty', undefined],
    ['lsns: failed to read /proc: Permission denied\n', 'tool-error', 1],
    ['\nlsns: unknown namespace type: bogus\n', 'tool-error', 2],
    ['Active Internet connections (w/o servers)\ntcp 0 0 10.0.0.1:1 1.1.1.1:443 ESTABLISHED\n', 'not-lsns', 1],
  ])('rejects %j (%s)', (text, code, line) => {
    const result = parseLsns(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problem.code).toBe(code);
    expect(result.problem.line).toBe(line);
  });

  it('names the tool error in the message', () => {
    const result = parseLsns(fixture('error-failed.txt'));
    expect(result).toEqual({
      ok: false,
      problem: {
        code: 'tool-error',
        message: 'lsns failed: lsns: failed to open /proc/1/ns/net: Permission denied',
        line: 1,
      },
    });
  });

  it('JSON: invalid JSON is rejected with line and column; wrong shapes are rejected or skipped', () => {
    expect(parseLsns('{\n  "namespaces": [\n    {"ns": 1,}\n  ]\n}\n')).toEqual({
      ok: false,
      problem: {
        code: 'invalid-json',
        message: "lsns JSON is not valid JSON: unexpected character '}', expected a property name in quotes",
        line: 3,
        column: 14,
      },
    });
    expect(parseLsns('{"filesystems": []}')).toMatchObject({ ok: false, problem: { code: 'not-lsns' } });
    const doc = ok(
      parseLsns(
        '{"namespaces":[{"ns":"4026531836","type":"net","nprocs":"12","pid":"1","user":"root","command":"/sbin/init"},' +
          '{"ns":"x","type":"net"},{"ns":4026532001,"netnsid":-1,"nsfs":["/run/netns/a"]}]}',
      ),
    );
    expect(doc.entries).toEqual([
      { ns: 4026531836, type: 'net', nprocs: 12, pid: 1, user: 'root', command: '/sbin/init', nsfs: [] },
      {
        ns: 4026532001,
        type: 'net',
        nprocs: null,
        pid: null,
        user: null,
        command: '',
        netnsid: null,
        nsfs: ['/run/netns/a'],
      },
    ]);
    expect(doc.skipped).toHaveLength(1);
    expect(doc.skipped[0]?.line).toBe(2);
    expect(doc.skipped[0]?.reason).toMatch(/^namespace 2: ns: /);
  });
});

describe('looksLikeLsns', () => {
  it.each([
    ['real-2.38-ascii.txt', true],
    ['real-2.38.json', true],
    ['real-2.38-raw-noheadings.txt', true],
    ['aks-2.31-old-columns.txt', true],
    ['article-hand-edited.txt', true],
    ['error-failed.txt', false],
  ])('%s -> %s', (name, expected) => {
    expect(looksLikeLsns(fixture(name).slice(0, 4096))).toBe(expected);
  });

  it.each([
    ['Active Internet connections (w/o servers)\n', false],
    ['{"schemaId":"azureMonitorCommonAlertSchema"}', false],
    ['', false],
    ['  sl  local_address rem_address   st tx_queue\n', false],
  ])('%j -> %s', (head, expected) => {
    expect(looksLikeLsns(head)).toBe(expected);
  });
});

describe('lsns: properties', () => {
  const lineCount = (text: string) => [...splitLines(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)].length;

  function checkAccounting(text: string): void {
    const { result, kinds } = scanLsns(text);
    if (!result.ok || /^\s*\{/.test(text)) return;
    // Every line is an entry, a header, a continuation or a skipped line - exactly once.
    expect(kinds).toHaveLength(lineCount(text));
    expect(kinds.filter((k) => k === 'entry')).toHaveLength(result.value.entries.length);
    expect(kinds.filter((k) => k === 'skipped')).toHaveLength(result.value.skipped.length);
  }

  it('arbitrary text never throws, and every line is accounted for', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        expect(() => parseLsns(text)).not.toThrow();
        checkAccounting(text);
      }),
      { numRuns: 400 },
    );
  });

  it('lines built from lsns-like pieces never throw and are all accounted for', () => {
    const piece = fc.constantFrom(
      '        NS TYPE NPROCS   PID USER    NETNSID NSFS                     COMMAND',
      '4026531833 net      74     2 root unassigned                          kthreadd',
      '4026532177 net       3  5057 root          7 /run/netns/cni-a         sleep 900',
      '                                             /run/netns/cni-b         ',
      'NS TYPE NPROCS PID USER COMMAND',
      '4026532594 net 1 5410 root unassigned  \\xe2\\x94\\x94sleep',
      '`-sleep',
      'lsns: oops',
      '',
      '   ',
    );
    const mutated = fc
      .tuple(fc.array(piece, { maxLength: 12 }), fc.nat(), fc.string({ maxLength: 6 }))
      .map(([lines, at, junk]) => {
        const text = lines.join('\n');
        const cut = lines.length === 0 ? 0 : at % (text.length + 1);
        return text.slice(0, cut) + junk + text.slice(cut);
      });
    fc.assert(
      fc.property(mutated, (text) => {
        expect(() => parseLsns(text)).not.toThrow();
        checkAccounting(text);
      }),
      { numRuns: 400 },
    );
  });

  it('mutations of the real captures never throw', () => {
    const sources = [...REAL_TABLES, 'real-2.38.json', 'aks-2.37-nsfs.txt'].map(fixture);
    fc.assert(
      fc.property(
        fc.constantFrom(...sources),
        fc.nat(),
        fc.nat(20),
        fc.string({ maxLength: 4 }),
        (src, at, del, ins) => {
          const cut = at % (src.length + 1);
          const text = src.slice(0, cut) + ins + src.slice(cut + del);
          expect(() => parseLsns(text)).not.toThrow();
          checkAccounting(text);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('arbitrary JSON values never throw', () => {
    fc.assert(
      fc.property(fc.json(), fc.anything(), (json, value) => {
        expect(() => parseLsns(json)).not.toThrow();
        expect(() => parseLsns(JSON.stringify({ namespaces: [value, { children: [value] }] }) ?? '')).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('a 50 000-namespace table is read completely', () => {
    const lines = ['        NS TYPE NPROCS    PID USER    NETNSID NSFS                COMMAND'];
    for (let i = 0; i < 50_000; i += 1) {
      lines.push(
        `${String(4026532000 + i)} net   ${String(i % 100).padStart(4)} ${String(10_000 + i).padStart(6)} 65535 ${String(i).padStart(10)} /run/netns/cni-${String(i).padStart(5, '0')} /pause`,
      );
    }
    const doc = ok(parseLsns(lines.join('\n') + '\n'));
    expect(doc.entries).toHaveLength(50_000);
    expect(doc.skipped).toEqual([]);
    expect(doc.entries[49_999]).toMatchObject({ ns: 4026581999, pid: 59_999, netnsid: 49_999, command: '/pause' });
  });
});
