/**
 * The capture Job's log (format v1, lib/k8s/capture-log.md) back into sections: the tcptracer capture (parsed with
 * `parseTcptracer`), the netns map, one socket census per network namespace (parsed with `parseProcNetTcp`) and the
 * trailer.
 *
 * Total, like every parser here: it never throws. A log without a trailer was cut (pod log size bound, Job killed at
 * its deadline, kubelet log rotation): every section read so far is kept, an unfinished one is marked
 * `complete: false`, and `cut` is set. A final line without a newline is dropped (it may be cut mid-field). Framing
 * lines with an unknown keyword or section name, lines outside any section and lines after the trailer are skipped
 * with a reason. Only input that holds no framing line at all, or declares another format version, is rejected.
 *
 * Line numbers everywhere (skipped lines of the log, of the tcptracer capture and of each census) are 1-based lines of
 * the whole log, so they point into the raw capture stored next to the report.
 */
import type { AddressClassifier } from '../analysis/ip.js';
import { parseProcNetTcp } from '../parse/proc-net-tcp.js';
import type { SocketDocument } from '../parse/sockets.js';
import { parseTcptracer } from '../parse/tcptracer.js';
import { accept, reject } from '../parse/types.js';
import type { InputProblem, Parsed, SkippedLine, TcptracerCapture } from '../parse/types.js';
import { CAPTURE_LOG_MARKER, CAPTURE_LOG_VERSION } from './capture-script.js';

export type CaptureTrailerStatus = 'ok' | 'partial' | 'no-tracer' | 'failed';

export interface CaptureLogBegin {
  readonly line: number;
  readonly version: number | null;
  /** `bcc`, `libbpf`, `none`, or a tracer this parser does not know (kept as written, e.g. `ig`). */
  readonly tracer: string | null;
  readonly captureSeconds: number | null;
  readonly maxLines: number | null;
  readonly censusMaxLines: number | null;
  /** Unix seconds, stamped by the script before the tracer started. */
  readonly startedAt: number | null;
}

export interface TcptracerSection {
  /** Line of the `section tcptracer` framing line. */
  readonly line: number;
  /** The `end tcptracer` line was seen. */
  readonly complete: boolean;
  /** Content lines read. */
  readonly lines: number;
  /** `lines=` of the end line (null when absent). */
  readonly declaredLines: number | null;
  /** More than max_lines: the rest was discarded by the script. */
  readonly truncated: boolean;
  /** The tracer's last line had no newline (it died mid-line) and the script dropped it. */
  readonly partialLine: boolean;
  /** Exit status of `timeout --preserve-status ... tcptracer`; null when no tracer ran or unknown. */
  readonly exit: number | null;
  /** Seconds the tracer ran. */
  readonly seconds: number | null;
  readonly capture: TcptracerCapture | null;
  /** Why there is no capture although a tracer ran (its error text, empty output, unknown tracer). */
  readonly problem: InputProblem | null;
}

export interface NetnsRecord {
  readonly netns: number;
  /** Lowest PID in the namespace. */
  readonly pid: number;
  /** Pod UID from the PID's cgroup path, or null. */
  readonly uid: string | null;
  /** The node's own namespace (PID 1's): hostNetwork pods live here too. */
  readonly host: boolean;
}

export interface NetnsSection {
  readonly line: number;
  readonly complete: boolean;
  readonly entries: NetnsRecord[];
}

export interface CensusSection {
  readonly line: number;
  readonly netns: number;
  readonly pid: number;
  readonly complete: boolean;
  readonly lines: number;
  readonly declaredLines: number | null;
  /** More than census_max_lines: the rest was discarded by the script. */
  readonly truncated: boolean;
  readonly document: SocketDocument | null;
  /** Why there is no document (empty: the process was gone; or not /proc/net/tcp text). */
  readonly problem: InputProblem | null;
}

export interface CaptureTrailer {
  readonly line: number;
  readonly status: CaptureTrailerStatus;
  /** A fixed word the script adds to `failed` (`bad-parameters`, `no-host-namespaces`, `no-scratch-space`). */
  readonly reason: string | null;
  readonly tcptracerLines: number | null;
  readonly truncated: boolean;
  readonly netns: number | null;
  readonly elapsedSeconds: number | null;
}

export interface CaptureLog {
  readonly begin: CaptureLogBegin | null;
  readonly tcptracer: TcptracerSection | null;
  readonly netns: NetnsSection | null;
  readonly censuses: CensusSection[];
  readonly trailer: CaptureTrailer | null;
  /** No trailer: the log was cut. */
  readonly cut: boolean;
  /** Lines before `begin` (container runtime noise). */
  readonly preambleLines: number;
  readonly totalLines: number;
  readonly skipped: SkippedLine[];
}

export interface CaptureLogOptions {
  readonly classifier?: AddressClassifier;
}

const MAX_SKIPPED_LISTED = 200;
const TOKEN_VALUE = /^[a-z0-9][a-z0-9-]{0,31}$/;
const UINT = /^\d{1,15}$/;
const POD_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATUSES: readonly CaptureTrailerStatus[] = ['ok', 'partial', 'no-tracer', 'failed'];
const KNOWN_TRACERS = new Set(['bcc', 'libbpf']);
const PREFIX = `${CAPTURE_LOG_MARKER} `;

interface Framing {
  readonly keyword: string;
  /** `section`/`end`: the section name. */
  readonly name: string | null;
  readonly values: ReadonlyMap<string, string>;
}

/** A framing line's tokens. Values are numbers or fixed lower-case words; anything else is left out. */
function framingOf(text: string): Framing {
  const tokens = text.slice(PREFIX.length).trim().split(/\s+/);
  const keyword = tokens.shift() ?? '';
  let name: string | null = null;
  if ((keyword === 'section' || keyword === 'end') && tokens[0] !== undefined && !tokens[0].includes('=')) {
    name = tokens.shift() ?? null;
  }
  const values = new Map<string, string>();
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq <= 0) continue;
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (/^[a-z_]{1,32}$/.test(key) && TOKEN_VALUE.test(value) && !values.has(key)) values.set(key, value);
  }
  return { keyword, name, values };
}

const uintOf = (values: ReadonlyMap<string, string>, key: string): number | null => {
  const v = values.get(key);
  return v !== undefined && UINT.test(v) ? Number(v) : null;
};
const flagOf = (values: ReadonlyMap<string, string>, key: string): boolean => values.get(key) === '1';

interface LineRef {
  readonly number: number;
  readonly start: number;
  /** Just past the line's newline. */
  readonly next: number;
}

interface OpenSection {
  readonly kind: 'tcptracer' | 'netns' | 'census' | 'unknown';
  readonly line: number;
  readonly name: string;
  readonly framing: Framing;
  first: LineRef | null;
  last: LineRef | null;
  count: number;
}

function shiftSkipped(skipped: readonly SkippedLine[], firstLine: number): SkippedLine[] {
  return skipped.map((s) => ({ line: s.line + firstLine - 1, reason: s.reason }));
}

function shiftProblem(problem: InputProblem, firstLine: number | null): InputProblem {
  return problem.line !== undefined && firstLine !== null
    ? { ...problem, line: problem.line + firstLine - 1 }
    : problem;
}

/** Parses a capture log held in memory (the pod log API returns one string). */
export function parseCaptureLog(text: string, options: CaptureLogOptions = {}): Parsed<CaptureLog> {
  const skipped: SkippedLine[] = [];
  let skippedTotal = 0;
  const skip = (line: number, reason: string) => {
    skippedTotal += 1;
    if (skipped.length < MAX_SKIPPED_LISTED) skipped.push({ line, reason });
  };

  let begin: CaptureLogBegin | null = null;
  let tcptracer: TcptracerSection | null = null;
  let netns: NetnsSection | null = null;
  const censuses: CensusSection[] = [];
  let trailer: CaptureTrailer | null = null;
  let preambleLines = 0;
  let framingLines = 0;
  let firstNonBlank: { line: number; text: string } | null = null;
  const state: { open: OpenSection | null } = { open: null };
  let netnsEntries: NetnsRecord[] = [];
  let unterminated = false;

  const sectionText = (s: OpenSection): string => (s.first && s.last ? text.slice(s.first.start, s.last.next) : '');

  const close = (s: OpenSection, end: Framing | null, endLine: number | null): void => {
    const complete = end !== null;
    if (!complete) {
      skip(endLine ?? s.line, `section ${s.name} (line ${s.line}) has no end line: the log was cut or is malformed`);
    }
    const declared = end ? uintOf(end.values, 'lines') : null;
    if (end && declared !== null && declared !== s.count) {
      skip(endLine ?? s.line, `end ${s.name} says lines=${declared} but the section holds ${s.count} line(s)`);
    }
    const firstLine = s.first?.number ?? null;
    if (s.kind === 'tcptracer') {
      const tracer = begin?.tracer ?? null;
      let capture: TcptracerCapture | null = null;
      let problem: InputProblem | null = null;
      if (tracer !== null && KNOWN_TRACERS.has(tracer)) {
        const parsed = parseTcptracer(sectionText(s), options.classifier ? { classifier: options.classifier } : {});
        if (parsed.ok) {
          capture =
            firstLine === null
              ? parsed.value
              : { ...parsed.value, skipped: shiftSkipped(parsed.value.skipped, firstLine) };
        } else {
          problem = shiftProblem(parsed.problem, firstLine);
        }
      } else if (tracer !== null && tracer !== 'none') {
        problem = {
          code: 'unsupported-tracer',
          message: `tracer ${JSON.stringify(tracer)} is not one this version reads`,
        };
      } else if (s.count > 0) {
        problem = { code: 'no-tracer', message: 'lines in the tcptracer section although no tracer ran' };
      }
      const exitText = end?.values.get('exit');
      tcptracer = {
        line: s.line,
        complete,
        lines: s.count,
        declaredLines: declared,
        truncated: end ? flagOf(end.values, 'truncated') : false,
        partialLine: end ? flagOf(end.values, 'partial') : false,
        exit: exitText !== undefined && UINT.test(exitText) ? Number(exitText) : null,
        seconds: end ? uintOf(end.values, 'seconds') : null,
        capture,
        problem,
      };
    } else if (s.kind === 'netns') {
      netns = { line: s.line, complete, entries: netnsEntries };
    } else if (s.kind === 'census') {
      const parsed = parseProcNetTcp(sectionText(s), options.classifier ? { classifier: options.classifier } : {});
      const document = parsed.ok
        ? firstLine === null
          ? parsed.value
          : { ...parsed.value, skipped: shiftSkipped(parsed.value.skipped, firstLine) }
        : null;
      censuses.push({
        line: s.line,
        netns: uintOf(s.framing.values, 'netns') ?? 0,
        pid: uintOf(s.framing.values, 'pid') ?? 0,
        complete,
        lines: s.count,
        declaredLines: declared,
        truncated: end ? flagOf(end.values, 'truncated') : false,
        document,
        problem: parsed.ok ? null : shiftProblem(parsed.problem, firstLine),
      });
    }
  };

  const netnsLine = (ref: LineRef, line: string): void => {
    const values = new Map<string, string>();
    for (const token of line.trim().split(/\s+/)) {
      const eq = token.indexOf('=');
      if (eq > 0) values.set(token.slice(0, eq), token.slice(eq + 1));
    }
    const ns = uintOf(values, 'netns');
    const pid = uintOf(values, 'pid');
    const uid = values.get('uid');
    const host = values.get('host');
    if (ns === null || pid === null || uid === undefined || (host !== '0' && host !== '1')) {
      skip(ref.number, 'not a netns line (netns=<inode> pid=<pid> uid=<uid|-> host=0|1)');
      return;
    }
    if (uid !== '-' && !POD_UID.test(uid)) {
      skip(ref.number, 'netns line with a uid that is not a pod UID');
      return;
    }
    if (netnsEntries.some((e) => e.netns === ns)) {
      skip(ref.number, `netns ${ns} listed twice; the first line is kept`);
      return;
    }
    netnsEntries.push({ netns: ns, pid, uid: uid === '-' ? null : uid, host: host === '1' });
  };

  const framing = (ref: LineRef, line: string): void => {
    framingLines += 1;
    const f = framingOf(line);
    if (trailer !== null) {
      skip(ref.number, 'framing line after the trailer');
      return;
    }
    if (f.keyword === 'end') {
      if (state.open && f.name === state.open.name) {
        close(state.open, f, ref.number);
        state.open = null;
      } else {
        skip(ref.number, `end ${f.name ?? '?'} without a matching section`);
      }
      return;
    }
    if (state.open) {
      close(state.open, null, ref.number);
      state.open = null;
    }
    switch (f.keyword) {
      case 'begin': {
        if (begin !== null) {
          skip(ref.number, 'a second begin line');
          return;
        }
        const tracer = f.values.get('tracer') ?? null;
        begin = {
          line: ref.number,
          version: uintOf(f.values, 'v'),
          tracer,
          captureSeconds: uintOf(f.values, 'capture_seconds'),
          maxLines: uintOf(f.values, 'max_lines'),
          censusMaxLines: uintOf(f.values, 'census_max_lines'),
          startedAt: uintOf(f.values, 'started'),
        };
        return;
      }
      case 'section': {
        const kind =
          f.name === 'tcptracer' || f.name === 'netns' || f.name === 'census' ? f.name : ('unknown' as const);
        if (kind === 'unknown')
          skip(ref.number, `unknown section ${JSON.stringify(f.name ?? '')}: its lines are skipped`);
        if (kind === 'tcptracer' && tcptracer !== null) skip(ref.number, 'a second tcptracer section: ignored');
        if (kind === 'netns' && netns !== null) skip(ref.number, 'a second netns section: ignored');
        if (kind === 'census' && (uintOf(f.values, 'netns') === null || uintOf(f.values, 'pid') === null)) {
          skip(ref.number, 'census section without netns= and pid=: ignored');
          state.open = {
            kind: 'unknown',
            line: ref.number,
            name: 'census',
            framing: f,
            first: null,
            last: null,
            count: 0,
          };
          return;
        }
        const duplicate = (kind === 'tcptracer' && tcptracer !== null) || (kind === 'netns' && netns !== null);
        if (kind === 'netns' && !duplicate) netnsEntries = [];
        state.open = {
          kind: duplicate ? 'unknown' : kind,
          line: ref.number,
          name: f.name ?? '',
          framing: f,
          first: null,
          last: null,
          count: 0,
        };
        return;
      }
      case 'trailer': {
        const status = f.values.get('status');
        if (status === undefined || !(STATUSES as readonly string[]).includes(status)) {
          skip(ref.number, 'trailer without a known status');
          return;
        }
        trailer = {
          line: ref.number,
          status: status as CaptureTrailerStatus,
          reason: f.values.get('reason') ?? null,
          tcptracerLines: uintOf(f.values, 'tcptracer_lines'),
          truncated: flagOf(f.values, 'truncated'),
          netns: uintOf(f.values, 'netns'),
          elapsedSeconds: uintOf(f.values, 'elapsed'),
        };
        return;
      }
      default:
        skip(ref.number, `unknown framing keyword ${JSON.stringify(f.keyword.slice(0, 32))}`);
    }
  };

  // Walk the lines by offsets, so section text is sliced from the input instead of copied line by line.
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let number = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    const terminated = end !== -1;
    if (!terminated) end = text.length;
    number += 1;
    const contentEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const ref: LineRef = { number, start, next: end + 1 };
    const line = text.slice(start, contentEnd);
    start = end + 1;
    if (firstNonBlank === null && line.trim().length > 0) firstNonBlank = { line: number, text: line };
    if (!terminated) {
      unterminated = true;
      skip(number, 'the log ends mid-line (cut): the partial line is dropped');
      break;
    }
    if (line.startsWith(PREFIX)) {
      framing(ref, line);
      continue;
    }
    if (trailer !== null) {
      if (line.trim().length > 0) skip(number, 'after the trailer');
      continue;
    }
    const current = state.open;
    if (current !== null) {
      current.first ??= ref;
      current.last = ref;
      current.count += 1;
      if (current.kind === 'netns') netnsLine(ref, line);
      continue;
    }
    if (begin === null && framingLines === 0) {
      preambleLines += 1;
      continue;
    }
    if (line.trim().length > 0) skip(number, 'outside any section');
  }
  if (state.open !== null) close(state.open, null, number);

  if (framingLines === 0) {
    if (firstNonBlank === null) return reject({ code: 'empty', message: 'empty capture log' });
    const shown = firstNonBlank.text.length > 120 ? `${firstNonBlank.text.slice(0, 120)}...` : firstNonBlank.text;
    return reject({
      code: 'not-capture-log',
      line: firstNonBlank.line,
      message: `not a capture log: no ${CAPTURE_LOG_MARKER} line (first line: ${JSON.stringify(shown)})`,
    });
  }
  const b = begin as CaptureLogBegin | null;
  if (b !== null && b.version !== CAPTURE_LOG_VERSION) {
    return reject({
      code: 'unsupported-version',
      line: b.line,
      message: `capture log format v=${b.version ?? '?'}; this version reads v=${CAPTURE_LOG_VERSION}`,
    });
  }
  if (skippedTotal > skipped.length) {
    skipped.push({ line: number, reason: `${skippedTotal - skipped.length} more skipped line(s) not listed` });
  }
  return accept({
    begin: b,
    tcptracer,
    netns,
    censuses,
    trailer,
    cut: trailer === null || unterminated,
    preambleLines,
    totalLines: number,
    skipped,
  });
}
