/**
 * Text from the cluster (pod, owner, node names) made safe to show in a notification: one line, no invisible or
 * direction-changing characters, no lone surrogates, and bounded.
 */

// C0/C1 controls, line and paragraph separators, zero-width characters, bidi embeddings/overrides/isolates, BOM.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** One visible line: controls become a space, lone surrogates U+FFFD (they would serialise as `\udXXX`). */
export function oneLine(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD').replace(INVISIBLE, ' ');
}

/** At most `max` code points (a surrogate pair is never split); a cut text ends with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  return max <= 0 ? '' : points.slice(0, max - 1).join('') + '…';
}

/** oneLine, then truncate. */
export function clip(text: string, max: number): string {
  return truncate(oneLine(text), max);
}

/** Serialised size in UTF-8 bytes, as sent on the wire. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
