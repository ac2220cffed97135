/**
 * What Durable Functions does to every activity input and output: JSON.stringify into the history, JSON.parse out of
 * it. `JSON.stringify` is lenient (a Map becomes `{}`, a Date a string, a function disappears, NaN becomes null), so a
 * value that only works in-process would silently change under Durable. `checkJsonable` refuses such values first,
 * naming where they sit.
 */

export class NotSerialisableError extends Error {
  constructor(
    readonly where: string,
    readonly path: string,
    what: string,
  ) {
    super(`${where} is not plain JSON at ${path}: ${what}`);
    this.name = 'NotSerialisableError';
  }
}

function describe(value: unknown): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `the number ${String(value)}`;
    case 'bigint':
      return 'a bigint';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'undefined':
      return 'undefined';
    case 'object': {
      if (value === null || Array.isArray(value)) return null;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto === Object.prototype || proto === null) return null;
      const name = (value as { constructor?: { name?: string } }).constructor?.name;
      return `an instance of ${name ?? 'a class'} (only plain objects and arrays survive JSON)`;
    }
  }
  return `a ${typeof value}`;
}

/** Throws `NotSerialisableError` for anything that would not come back from JSON as it went in. */
export function checkJsonable(value: unknown, where: string): void {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string, inObject: boolean): void => {
    // An undefined property is dropped by JSON, as Durable drops it: that is the same value to the reader.
    if (v === undefined && inObject) return;
    const problem = describe(v);
    if (problem !== null) throw new NotSerialisableError(where, path, problem);
    if (typeof v !== 'object' || v === null) return;
    if (seen.has(v)) throw new NotSerialisableError(where, path, 'a circular reference');
    seen.add(v);
    if (Array.isArray(v)) v.forEach((item, i) => visit(item, `${path}[${i}]`, false));
    else for (const [key, item] of Object.entries(v)) visit(item, `${path}.${key}`, true);
    seen.delete(v);
  };
  visit(value, '$', false);
}

/** Checks, then round-trips through JSON text; returns the copy and its size in bytes. */
export function roundTrip<T>(value: T, where: string): { value: T; bytes: number } {
  if (value === undefined) return { value, bytes: 0 };
  checkJsonable(value, where);
  const text = JSON.stringify(value);
  return { value: JSON.parse(text) as T, bytes: Buffer.byteLength(text, 'utf8') };
}
