/**
 * Kubernetes' own name rules (apimachinery `validation.IsDNS1123Subdomain`, `IsDNS1123Label`, label values), checked
 * before a name goes into a URL path or a field selector: client-node does not encode path segments, and a field
 * selector value holding `,` would add a selector term.
 */
import { invalidValue } from './errors.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const isDns1123Label = (s: string): boolean => s.length <= 63 && DNS1123_LABEL.test(s);
export const isDns1123Subdomain = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
export const isLabelValue = (s: string): boolean => s.length <= 63 && LABEL_VALUE.test(s);

/** Quotes a value for an error message: JSON escapes show control characters; long values are cut. */
export function quoteValue(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}

export function checkSubdomain(what: string, value: string): string {
  if (typeof value !== 'string' || !isDns1123Subdomain(value)) {
    throw invalidValue(`${what} ${quoteValue(value)} is not a valid Kubernetes name (DNS-1123 subdomain)`);
  }
  return value;
}

export function checkLabel(what: string, value: string): string {
  if (typeof value !== 'string' || !isDns1123Label(value)) {
    throw invalidValue(`${what} ${quoteValue(value)} is not a valid Kubernetes name (DNS-1123 label)`);
  }
  return value;
}
