/**
 * HTML entity escaping for text and attribute values. Everything from the cluster (pod names, owners, endpoints,
 * finding text that quotes them) passes through here before it reaches report.html.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// C0/C1 controls other than tab and newlines are not allowed in HTML text; a name carrying them is shown with U+FFFD.
// eslint-disable-next-line no-control-regex
const DISALLOWED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;

/** Safe in text content and in double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(DISALLOWED, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}
