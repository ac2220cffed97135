/**
 * Writes the three renderings of a report side by side. Used by `analyze` (local folder) and by anything that wants
 * the files on disk; the Blob report store renders with the same functions.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderMarkdown } from './markdown.js';
import type { Report } from './model.js';

export const REPORT_FILE_NAMES = { json: 'report.json', markdown: 'report.md', html: 'report.html' } as const;

/** Renders first, then writes, so a renderer bug leaves no half-written set behind. Returns the written paths. */
export async function writeReportFiles(
  report: Report,
  outDir: string,
): Promise<{ json: string; markdown: string; html: string }> {
  const contents = { json: renderJson(report), markdown: renderMarkdown(report), html: renderHtml(report) };
  await mkdir(outDir, { recursive: true });
  const paths = {
    json: join(outDir, REPORT_FILE_NAMES.json),
    markdown: join(outDir, REPORT_FILE_NAMES.markdown),
    html: join(outDir, REPORT_FILE_NAMES.html),
  };
  await Promise.all([
    writeFile(paths.json, contents.json, 'utf8'),
    writeFile(paths.markdown, contents.markdown, 'utf8'),
    writeFile(paths.html, contents.html, 'utf8'),
  ]);
  return paths;
}
