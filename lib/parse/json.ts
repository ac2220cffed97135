/**
 * JSON helpers shared by the JSON-based parsers (alerts, crictl inspectp, lsns -J, analyze's node.json): syntax errors
 * with line and column (Node 20's JSON.parse often gives no position), several JSON values one after another, zod
 * issues as field paths, and input text quoted safely into one-line messages.
 */
import type { z } from 'zod';
import { accept, reject } from './types.js';
import type { InputProblem, Parsed } from './types.js';

/** Where a JSON text stops being JSON: a character offset and what was expected there. */
export interface JsonSyntaxError {
  readonly offset: number;
  readonly reason: string;
}

function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function describeChar(ch: string): string {
  return /^[\x21-\x7e]$/.test(ch) ? `'${ch}'` : JSON.stringify(ch);
}

/**
 * Scans one JSON value starting at `start` (leading whitespace allowed). Returns the offset just past the value, or
 * the first syntax error. V8's JSON.parse messages do not always carry a position (`Unexpected token '}', ...`), and
 * the CLI must name line and column, so this scanner locates errors itself. Iterative: deep nesting cannot overflow.
 */
export function scanJsonValue(text: string, start = 0): { end: number } | { error: JsonSyntaxError } {
  const n = text.length;
  const stack: Array<'{' | '['> = [];
  let i = start;
  let state: 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'after' = 'value';
  const fail = (offset: number, reason: string) => ({ error: { offset, reason } });
  for (;;) {
    while (i < n && isJsonSpace(text.charCodeAt(i))) i += 1;
    if (state === 'after' && stack.length === 0) return { end: i };
    if (i >= n) return fail(n, 'unexpected end of input');
    const ch = text.charAt(i);
    switch (state) {
      case 'value':
      case 'valueOrClose': {
        if (state === 'valueOrClose' && ch === ']') {
          stack.pop();
          i += 1;
          state = 'after';
          break;
        }
        if (ch === '{') {
          stack.push('{');
          i += 1;
          state = 'keyOrClose';
          break;
        }
        if (ch === '[') {
          stack.push('[');
          i += 1;
          state = 'valueOrClose';
          break;
        }
        if (ch === '"') {
          const s = scanString(text, i);
          if ('error' in s) return s;
          i = s.end;
          state = 'after';
          break;
        }
        if (ch === 't' || ch === 'f' || ch === 'n') {
          const literal = ch === 't' ? 'true' : ch === 'f' ? 'false' : 'null';
          for (let k = 0; k < literal.length; k += 1) {
            if (i + k >= n) return fail(n, 'unexpected end of input');
            if (text.charAt(i + k) !== literal.charAt(k)) {
              return fail(i + k, `unexpected character ${describeChar(text.charAt(i + k))} in '${literal}'`);
            }
          }
          i += literal.length;
          state = 'after';
          break;
        }
        const number = scanNumber(text, i);
        if ('error' in number) return number;
        i = number.end;
        state = 'after';
        break;
      }
      case 'key':
      case 'keyOrClose': {
        if (state === 'keyOrClose' && ch === '}') {
          stack.pop();
          i += 1;
          state = 'after';
          break;
        }
        if (ch !== '"') return fail(i, `unexpected character ${describeChar(ch)}, expected a property name in quotes`);
        const s = scanString(text, i);
        if ('error' in s) return s;
        i = s.end;
        state = 'colon';
        break;
      }
      case 'colon':
        if (ch !== ':') return fail(i, `unexpected character ${describeChar(ch)}, expected ':' after a property name`);
        i += 1;
        state = 'value';
        break;
      case 'after': {
        const top = stack[stack.length - 1];
        if (ch === ',') {
          i += 1;
          state = top === '{' ? 'key' : 'value';
          break;
        }
        if ((top === '{' && ch === '}') || (top === '[' && ch === ']')) {
          stack.pop();
          i += 1;
          break;
        }
        return fail(i, `unexpected character ${describeChar(ch)}, expected ',' or '${top === '{' ? '}' : ']'}'`);
      }
    }
  }
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** A JSON number; errors point where V8 points (the character that should have been a digit). */
function scanNumber(text: string, start: number): { end: number } | { error: JsonSyntaxError } {
  const n = text.length;
  const digitsFrom = (at: number) => {
    while (at < n && isDigit(text.charCodeAt(at))) at += 1;
    return at;
  };
  const fail = (at: number, reason: string) => ({
    error: at >= n ? { offset: n, reason: 'unexpected end of input' } : { offset: at, reason },
  });
  let i = start;
  if (text.charAt(i) === '-') i += 1;
  if (text.charAt(i) === '0') i += 1;
  else if (i < n && isDigit(text.charCodeAt(i))) i = digitsFrom(i);
  else return fail(i, `unexpected character ${describeChar(text.charAt(i))}, expected a value`);
  if (text.charAt(i) === '.') {
    i += 1;
    if (!(i < n && isDigit(text.charCodeAt(i)))) return fail(i, 'expected a digit after the decimal point');
    i = digitsFrom(i);
  }
  if (text.charAt(i) === 'e' || text.charAt(i) === 'E') {
    i += 1;
    if (text.charAt(i) === '+' || text.charAt(i) === '-') i += 1;
    if (!(i < n && isDigit(text.charCodeAt(i)))) return fail(i, 'expected a digit in the exponent');
    i = digitsFrom(i);
  }
  return { end: i };
}

function scanString(text: string, start: number): { end: number } | { error: JsonSyntaxError } {
  const n = text.length;
  let i = start + 1;
  while (i < n) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return { end: i + 1 };
    if (code === 0x0a || code === 0x0d) return { error: { offset: i, reason: 'unterminated string' } };
    if (code < 0x20) return { error: { offset: i, reason: 'control character in a string' } };
    if (code === 0x5c) {
      const next = text.charAt(i + 1);
      if (next === 'u') {
        for (let k = 2; k < 6; k += 1) {
          if (!/[0-9a-fA-F]/.test(text.charAt(i + k))) {
            return { error: { offset: Math.min(i + k, n), reason: 'bad \\u escape in a string' } };
          }
        }
        i += 6;
        continue;
      }
      if (next === '' || !'"\\/bfnrt'.includes(next)) {
        return { error: { offset: Math.min(i + 1, n), reason: 'bad escape in a string' } };
      }
      i += 2;
      continue;
    }
    i += 1;
  }
  return { error: { offset: n, reason: 'unterminated string' } };
}

/** 1-based line and column of a character offset. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function syntaxProblem(text: string, error: JsonSyntaxError, what: string): InputProblem {
  // A cut-off document is named where its content stops, not on the empty line after the final newline.
  const offset = error.offset >= text.length ? text.trimEnd().length : error.offset;
  return {
    code: 'invalid-json',
    message: `${what} is not valid JSON: ${error.reason}`,
    ...positionOf(text, offset),
  };
}

/** Parses one JSON document; a syntax error becomes a rejection naming line and column (`code: 'invalid-json'`). */
export function parseJsonText(text: string, what: string): Parsed<unknown> {
  try {
    return accept(JSON.parse(text) as unknown);
  } catch {
    const scanned = scanJsonValue(text);
    if ('error' in scanned) return reject(syntaxProblem(text, scanned.error, what));
    if (scanned.end < text.length) {
      const error = { offset: scanned.end, reason: 'unexpected data after the JSON value' };
      return reject(syntaxProblem(text, error, what));
    }
    // The scanner accepted what V8 refused: report it without a position rather than guess one.
    return reject({ code: 'invalid-json', message: `${what} is not valid JSON` });
  }
}

/**
 * Parses one or more JSON values written one after another (`crictl inspectp a; crictl inspectp b > file`).
 * Values are returned with the 1-based line each starts on.
 */
export function parseJsonValues(text: string, what: string): Parsed<Array<{ value: unknown; line: number }>> {
  try {
    const value = JSON.parse(text) as unknown;
    const first = text.search(/\S/);
    return accept([{ value, line: positionOf(text, Math.max(first, 0)).line }]);
  } catch {
    // Fall through to value-by-value scanning.
  }
  const values: Array<{ value: unknown; line: number }> = [];
  let at = 0;
  for (;;) {
    while (at < text.length && isJsonSpace(text.charCodeAt(at))) at += 1;
    if (at >= text.length) break;
    const scanned = scanJsonValue(text, at);
    if ('error' in scanned) return reject(syntaxProblem(text, scanned.error, what));
    try {
      values.push({ value: JSON.parse(text.slice(at, scanned.end)) as unknown, line: positionOf(text, at).line });
    } catch {
      return reject({ code: 'invalid-json', message: `${what} is not valid JSON`, ...positionOf(text, at) });
    }
    at = scanned.end;
  }
  return accept(values);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `['data', 'allOf', 0, 'metricName']` -> `data.allOf[0].metricName`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) out += out.length === 0 ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/** The first zod issue as an InputProblem naming the field; the rest are counted, not listed (one stderr line). */
export function zodProblem(error: z.ZodError, what: string, code: string): InputProblem {
  const issue = error.issues[0];
  if (issue === undefined) return { code, message: `invalid ${what}` };
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : '';
  const field = fieldPath(issue.path);
  return { code, message: `invalid ${what}: ${issue.message}${more}`, ...(field ? { field } : {}) };
}

/** Text from the input for a one-line message: control characters blanked, length bounded. */
export function oneLine(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** A value from the input, safe to quote in a one-line message. */
export function quote(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}
