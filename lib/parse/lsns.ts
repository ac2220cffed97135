/**
 * util-linux `lsns -t net` (FORMATS.md section 7): network namespace inode -> lowest PID, command and bind mounts.
 *
 * Reads every form lsns prints:
 * - the table, any column set (<= 2.31 `NS TYPE NPROCS PID USER COMMAND`; >= 2.32 adds `NETNSID NSFS`), located by
 *   the header's column names: right-aligned columns (NS, NPROCS, PID, NETNSID...) end where their header ends,
 *   left-aligned ones (TYPE, USER, NSFS, COMMAND) start where their header starts. Rows that do not line up with
 *   the header (hand-edited copies) are read by position instead;
 * - multi-line NSFS cells (a continuation line holds only a path) and `--nowrap` comma-joined NSFS;
 * - 2.38+ process-tree prefixes in COMMAND (`|-`, `` `- ``, `| `, and the UTF-8 `├─ └─ │`), stripped;
 * - `--raw` (with or without `--noheadings`): single-space separated, `\xHH` escapes;
 * - `lsns -J` JSON `{"namespaces":[...]}`, including nested `children` (tree mode) and the all-strings values of old
 *   releases. JSON entries that cannot be read are skipped with `line` = their 1-based position in the flattened list.
 */
import { z } from 'zod';
import { oneLine, parseJsonText, quote } from './json.js';
import { splitLines } from './lines.js';
import { accept, reject } from './types.js';
import type { LsnsDocument, LsnsEntry, Parsed, SkippedLine } from './types.js';

type Align = 'left' | 'right' | 'either';

/** lsns column names and how libsmartcols aligns them (numbers right, text left). */
const KNOWN_COLUMNS = new Map<string, Align>([
  ['NS', 'right'],
  ['TYPE', 'left'],
  ['PATH', 'left'],
  ['NPROCS', 'right'],
  ['PID', 'right'],
  ['PPID', 'right'],
  ['COMMAND', 'left'],
  ['UID', 'right'],
  ['USER', 'left'],
  ['NETNSID', 'right'],
  ['NSFS', 'left'],
  ['PNS', 'right'],
  ['ONS', 'right'],
]);

const NEW_COLUMNS = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND'];
const OLD_COLUMNS = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'];
const NAMESPACE_TYPES = new Set(['net', 'mnt', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time']);

interface Column {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly align: Align;
}

interface Header {
  readonly columns: readonly Column[];
  /** `--raw` header: single spaces, NS not right-aligned. Rows are tried as raw first. */
  readonly raw: boolean;
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** What each input line turned out to be; `parseLsns` keeps only entries and skipped lines. */
export type LsnsLineKind = 'header' | 'entry' | 'continuation' | 'skipped';

export interface LsnsScan {
  readonly result: Parsed<LsnsDocument>;
  /** One kind per input line (tables only; empty for JSON and for rejected input). */
  readonly kinds: LsnsLineKind[];
}

function spansOf(line: string): Span[] {
  const spans: Span[] = [];
  for (const m of line.matchAll(/\S+/g)) spans.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
  return spans;
}

function headerOf(line: string): Header | null {
  const spans = spansOf(line);
  if (spans.length < 2 || spans[0]?.text !== 'NS') return null;
  if (!spans.every((s) => /^[A-Z][A-Z0-9_-]*$/.test(s.text))) return null;
  if (!spans.some((s) => s.text !== 'NS' && KNOWN_COLUMNS.has(s.text))) return null;
  const columns = spans.map((s) => ({
    name: s.text,
    start: s.start,
    end: s.end,
    align: KNOWN_COLUMNS.get(s.text) ?? 'either',
  }));
  return { columns, raw: line.startsWith('NS ') && line === spans.map((s) => s.text).join(' ') };
}

/** Tree prefixes lsns 2.38+ puts before COMMAND: `|-`, `` `- ``, nested under `| ` or two spaces (ASCII or UTF-8). */
const TREE_PREFIX = /^(?:(?:[|│] | {2})*)[|`├└][-─]/;

export function stripTreePrefix(command: string): string {
  return command.replace(TREE_PREFIX, '');
}

function unescapeRaw(field: string): string {
  if (!field.includes('\\x')) return field;
  return field.replace(/(?:\\x[0-9a-fA-F]{2})+/g, (run) =>
    Buffer.from(run.replace(/\\x/g, ''), 'hex').toString('utf8'),
  );
}

function splitNsfs(cell: string | undefined): string[] {
  if (!cell) return [];
  return cell
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

function looksLikeNsfs(token: string): boolean {
  return token.startsWith('/') && token.includes('/netns/');
}

function anchored(column: Column, span: Span): boolean {
  if (column.align === 'left') return span.start === column.start;
  if (column.align === 'right') return span.end === column.end;
  return span.start === column.start || span.end === column.end;
}

/**
 * Assigns a row's words to columns by the header's alignment anchors. COMMAND (free text) takes every word from its
 * start up to the next anchored column. Null when a word lines up with nothing: the row is read by position instead.
 */
function alignedCells(line: string, columns: readonly Column[]): Map<string, string> | null {
  const cells = new Map<string, string>();
  const commandIndex = columns.findIndex((c) => c.name === 'COMMAND');
  const command = columns[commandIndex];
  let commandFrom = -1;
  let commandTo = -1;
  let commandClosed = false;
  for (const span of spansOf(line)) {
    const index = columns.findIndex((c, i) => i !== commandIndex && !cells.has(c.name) && anchored(c, span));
    if (index >= 0 && !(commandFrom >= 0 && index < commandIndex)) {
      cells.set(columns[index]!.name, span.text);
      if (commandFrom >= 0) commandClosed = true;
      continue;
    }
    if (command && !commandClosed && (commandFrom >= 0 || span.start === command.start)) {
      if (commandFrom < 0) commandFrom = span.start;
      commandTo = span.end;
      continue;
    }
    return null;
  }
  if (commandFrom >= 0) cells.set('COMMAND', line.slice(commandFrom, commandTo));
  return cells;
}

/** Reads a row by word order: every column one word, NSFS only when the word is a netns path, COMMAND the rest. */
function positionalCells(line: string, names: readonly string[]): Map<string, string> | null {
  const spans = spansOf(line);
  const cells = new Map<string, string>();
  const commandIndex = names.indexOf('COMMAND');
  if (commandIndex >= 0 && commandIndex !== names.length - 1) return null;
  let k = 0;
  for (const name of names) {
    if (name === 'COMMAND') break;
    const span = spans[k];
    if (name === 'NSFS') {
      if (span && looksLikeNsfs(span.text)) {
        cells.set(name, span.text);
        k += 1;
      }
      continue;
    }
    if (!span) return null;
    cells.set(name, span.text);
    k += 1;
  }
  const rest = spans[k];
  if (rest && commandIndex < 0) return null;
  cells.set('COMMAND', rest ? line.slice(rest.start).trimEnd() : '');
  return cells;
}

function rawCells(line: string, names: readonly string[]): Map<string, string> | null {
  const fields = line.split(' ');
  if (fields.length !== names.length) return null;
  return new Map(names.map((name, i) => [name, unescapeRaw(fields[i] ?? '')]));
}

const DIGITS = /^\d{1,15}$/;

function optionalCount(cells: Map<string, string>, name: string): number | null | string {
  const value = cells.get(name);
  if (value === undefined || value === '') return null;
  return DIGITS.test(value) ? Number(value) : `${name} ${quote(value)} is not a number`;
}

/** An entry from a row's cells, or the reason it cannot be one. */
function entryOf(cells: Map<string, string>, hasNetnsid: boolean): LsnsEntry | string {
  const ns = cells.get('NS') ?? '';
  if (!DIGITS.test(ns)) return `NS ${quote(ns)} is not a namespace inode number`;
  const nprocs = optionalCount(cells, 'NPROCS');
  if (typeof nprocs === 'string') return nprocs;
  const pid = optionalCount(cells, 'PID');
  if (typeof pid === 'string') return pid;
  let netnsid: number | null = null;
  if (hasNetnsid) {
    const value = cells.get('NETNSID') ?? '';
    if (DIGITS.test(value)) netnsid = Number(value);
    else if (value !== '' && value !== 'unassigned')
      return `NETNSID ${quote(value)} is neither a number nor unassigned`;
  }
  const user = cells.get('USER');
  return {
    ns: Number(ns),
    // The parser reads `lsns -t net`; a column set without TYPE (`-o NS,PID,NSFS`) lists net namespaces.
    type: cells.get('TYPE') || 'net',
    nprocs,
    pid,
    user: user ? user : null,
    command: stripTreePrefix(cells.get('COMMAND') ?? ''),
    ...(hasNetnsid ? { netnsid } : {}),
    nsfs: splitNsfs(cells.get('NSFS')),
  };
}

type RowOutcome =
  | { kind: 'entry'; cells: Map<string, string> }
  | { kind: 'continuation'; path: string }
  | { kind: 'skipped'; reason: string };

function isContinuation(line: string, spans: Span[]): boolean {
  return spans.length === 1 && /^\s/.test(line) && (spans[0]?.text.startsWith('/') ?? false);
}

function tableRow(line: string, header: Header): RowOutcome {
  const names = header.columns.map((c) => c.name);
  if (header.raw) {
    const cells = rawCells(line, names);
    if (cells) return { kind: 'entry', cells };
  }
  const aligned = alignedCells(line, header.columns);
  if (aligned) {
    if (aligned.has('NS')) return { kind: 'entry', cells: aligned };
    const nsfs = aligned.get('NSFS');
    if (nsfs !== undefined && aligned.size === 1) return { kind: 'continuation', path: nsfs };
  }
  const spans = spansOf(line);
  if (isContinuation(line, spans)) {
    if (!names.includes('NSFS'))
      return { kind: 'skipped', reason: 'a path alone on a line, but there is no NSFS column' };
    return { kind: 'continuation', path: spans[0]!.text };
  }
  const positional = positionalCells(line, names);
  if (positional) return { kind: 'entry', cells: positional };
  return { kind: 'skipped', reason: `row does not match the header (${names.join(' ')})` };
}

/** Rows of `--noheadings` output: raw when the fields count exactly, else the default column sets by position. */
function headerlessRow(line: string): { outcome: RowOutcome; hasNetnsid: boolean } {
  const spans = spansOf(line);
  if (isContinuation(line, spans))
    return { outcome: { kind: 'continuation', path: spans[0]!.text }, hasNetnsid: false };
  const isNetnsid = (v: string | undefined) => v !== undefined && /^(?:\d+|unassigned)$/.test(v);
  const fields = line.split(' ');
  let cells: Map<string, string> | null;
  let hasNetnsid = false;
  if (fields.length === NEW_COLUMNS.length && isNetnsid(fields[5])) {
    cells = rawCells(line, NEW_COLUMNS);
    hasNetnsid = true;
  } else if (fields.length === OLD_COLUMNS.length) {
    cells = rawCells(line, OLD_COLUMNS);
  } else if (spans.length >= 6 && isNetnsid(spans[5]?.text)) {
    cells = positionalCells(line, NEW_COLUMNS);
    hasNetnsid = true;
  } else {
    cells = positionalCells(line, OLD_COLUMNS);
  }
  // Without a header, only a namespace type in the second word says this is lsns at all.
  if (!cells || !NAMESPACE_TYPES.has(cells.get('TYPE') ?? '')) {
    return {
      outcome: { kind: 'skipped', reason: 'not an lsns row (no header, and no NS TYPE ... fields)' },
      hasNetnsid,
    };
  }
  return { outcome: { kind: 'entry', cells }, hasNetnsid };
}

function scanTable(text: string): LsnsScan {
  const entries: LsnsEntry[] = [];
  const skipped: SkippedLine[] = [];
  const kinds: LsnsLineKind[] = [];
  let header: Header | null = null;
  let sawHeader = false;
  let firstContent: number | null = null;
  const skip = (line: number, reason: string) => {
    skipped.push({ line, reason });
    kinds.push('skipped');
  };

  for (const { text: line, number } of splitLines(text)) {
    if (line.trim().length === 0) {
      skip(number, 'blank line');
      continue;
    }
    firstContent ??= number;
    if (/^\s*lsns: /.test(line)) {
      if (number === firstContent) {
        return {
          result: reject({ code: 'tool-error', message: `lsns failed: ${oneLine(line)}`, line: number }),
          kinds: [],
        };
      }
      skip(number, 'lsns error message');
      continue;
    }
    const maybeHeader = headerOf(line);
    if (maybeHeader) {
      header = maybeHeader;
      sawHeader = true;
      kinds.push('header');
      continue;
    }
    let outcome: RowOutcome;
    let hasNetnsid: boolean;
    if (header) {
      outcome = tableRow(line, header);
      hasNetnsid = header.columns.some((c) => c.name === 'NETNSID');
    } else {
      ({ outcome, hasNetnsid } = headerlessRow(line));
    }
    if (outcome.kind === 'continuation') {
      const previous = entries[entries.length - 1];
      if (!previous) {
        skip(number, 'NSFS continuation line with no entry before it');
        continue;
      }
      previous.nsfs.push(...splitNsfs(outcome.path));
      kinds.push('continuation');
      continue;
    }
    if (outcome.kind === 'skipped') {
      skip(number, outcome.reason);
      continue;
    }
    const entry = entryOf(outcome.cells, hasNetnsid);
    if (typeof entry === 'string') {
      skip(number, entry);
      continue;
    }
    entries.push(entry);
    kinds.push('entry');
  }

  if (firstContent === null) {
    return { result: reject({ code: 'empty', message: 'empty input: expected `lsns -t net` output' }), kinds: [] };
  }
  if (!sawHeader && entries.length === 0) {
    return {
      result: reject({
        code: 'not-lsns',
        message: 'not lsns output: no header (NS TYPE NPROCS PID USER ...) and no namespace rows',
        line: firstContent,
      }),
      kinds: [],
    };
  }
  return { result: accept({ format: 'lsns', entries, skipped }), kinds };
}

// lsns -J: numbers in 2.32+, strings in older releases, null for empty cells.
const count = z
  .union([
    z.number().int().nonnegative(),
    z
      .string()
      .regex(/^\d{1,15}$/)
      .transform(Number),
  ])
  .nullish();
const jsonEntrySchema = z.object({
  ns: z.union([
    z.number().int().positive(),
    z
      .string()
      .regex(/^\d{1,15}$/)
      .transform(Number),
  ]),
  type: z.string().nullish(),
  nprocs: count,
  pid: count,
  user: z.union([z.string(), z.number().transform(String)]).nullish(),
  netnsid: z.union([z.number(), z.string()]).nullish(),
  nsfs: z.union([z.string(), z.array(z.string())]).nullish(),
  command: z.string().nullish(),
});

function parseJson(text: string): Parsed<LsnsDocument> {
  const json = parseJsonText(text, 'lsns JSON');
  if (!json.ok) return json;
  const root = json.value;
  if (typeof root !== 'object' || root === null || !Array.isArray((root as { namespaces?: unknown }).namespaces)) {
    return reject({ code: 'not-lsns', message: 'not lsns -J output: expected {"namespaces": [...]}', line: 1 });
  }
  // Tree mode nests namespaces under `children`; flatten depth-first, in print order, without recursion.
  const flat: unknown[] = [];
  const stack: unknown[] = [...(root as { namespaces: unknown[] }).namespaces].reverse();
  while (stack.length > 0) {
    const item = stack.pop();
    flat.push(item);
    const children = typeof item === 'object' && item !== null ? (item as { children?: unknown }).children : undefined;
    if (Array.isArray(children)) for (let i = children.length - 1; i >= 0; i -= 1) stack.push(children[i]);
  }
  const entries: LsnsEntry[] = [];
  const skipped: SkippedLine[] = [];
  flat.forEach((item, index) => {
    const parsed = jsonEntrySchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      skipped.push({ line: index + 1, reason: `namespace ${index + 1}: ${field}${issue?.message ?? 'invalid'}` });
      return;
    }
    const e = parsed.data;
    const hasNetnsid = typeof item === 'object' && item !== null && 'netnsid' in item;
    let netnsid: number | null = null;
    if (typeof e.netnsid === 'number') netnsid = e.netnsid >= 0 ? e.netnsid : null;
    else if (typeof e.netnsid === 'string' && DIGITS.test(e.netnsid)) netnsid = Number(e.netnsid);
    entries.push({
      ns: e.ns,
      type: e.type || 'net',
      nprocs: e.nprocs ?? null,
      pid: e.pid ?? null,
      user: e.user ? e.user : null,
      command: stripTreePrefix(e.command ?? ''),
      ...(hasNetnsid ? { netnsid } : {}),
      nsfs: Array.isArray(e.nsfs) ? e.nsfs.flatMap((p) => splitNsfs(p)) : splitNsfs(e.nsfs ?? undefined),
    });
  });
  return accept({ format: 'lsns', entries, skipped });
}

/** Parses `lsns -t net` output (any form above) and reports, per line, what each line was. */
export function scanLsns(text: string): LsnsScan {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (/^\s*\{/.test(body)) return { result: parseJson(body), kinds: [] };
  return scanTable(body);
}

/** Parses `lsns -t net` output: table (any column set, tree or not), `--raw`, or `-J` JSON. */
export function parseLsns(text: string): Parsed<LsnsDocument> {
  return scanLsns(text).result;
}

/** Sniffer for `analyze`: an lsns header, a raw row, or lsns JSON in the first few KB. */
export function looksLikeLsns(head: string): boolean {
  const text = head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
  if (/^\s*\{/.test(text)) return /^\s*\{\s*"namespaces"\s*:/.test(text);
  const first = text.split('\n').find((l) => l.trim().length > 0);
  if (first === undefined) return false;
  if (headerOf(first.replace(/\r$/, '')) !== null) return true;
  return /^\d{6,15} +(?:net|mnt|pid|uts|ipc|user|cgroup|time) +\d/.test(first);
}
