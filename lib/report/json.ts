/**
 * report.json. The key order follows the model (through its runtime schema), whatever order the analysis built the
 * object in, so two runs over the same evidence give byte-identical files and diffs between reports stay readable.
 */
import { z } from 'zod';
import type { Report } from './model.js';
import { reportSchema } from './schema.js';

function ordered(value: unknown, schema: z.core.$ZodType): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (schema instanceof z.ZodNullable || schema instanceof z.ZodOptional) {
    return ordered(value, schema.unwrap());
  }
  if (Array.isArray(value)) {
    const element = schema instanceof z.ZodArray ? schema.element : null;
    return value.map((item: unknown) => (element ? ordered(item, element) : item));
  }
  if (schema instanceof z.ZodObject) {
    const shape = schema.shape as Record<string, z.core.$ZodType>;
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(shape)) {
      if (key in source) out[key] = ordered(source[key], child);
    }
    // Fields this version does not know (added optionally by a newer writer) are kept, after the known ones.
    for (const key of Object.keys(source)) {
      if (!(key in shape)) out[key] = source[key];
    }
    return out;
  }
  return value;
}

/** The report as 2-space JSON with a trailing newline, keys in the model's order. */
export function renderJson(report: Report): string {
  return JSON.stringify(ordered(report, reportSchema), null, 2) + '\n';
}
