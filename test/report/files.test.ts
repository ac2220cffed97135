import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeReportFiles } from '../../lib/report/files.js';
import { renderHtml } from '../../lib/report/html.js';
import { renderJson } from '../../lib/report/json.js';
import { renderMarkdown } from '../../lib/report/markdown.js';
import { validateReport } from '../../lib/report/schema.js';
import { culpritReport } from '../fixtures/report/sample.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'snat-report-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeReportFiles', () => {
  it('creates the folder and writes the three renderings, returning their paths', async () => {
    const out = join(root, 'a', 'b', 'c');
    const paths = await writeReportFiles(culpritReport, out);
    expect(paths).toEqual({
      json: join(out, 'report.json'),
      markdown: join(out, 'report.md'),
      html: join(out, 'report.html'),
    });
    expect((await readdir(out)).sort()).toEqual(['report.html', 'report.json', 'report.md']);
    expect(await readFile(paths.json, 'utf8')).toBe(renderJson(culpritReport));
    expect(await readFile(paths.markdown, 'utf8')).toBe(renderMarkdown(culpritReport));
    expect(await readFile(paths.html, 'utf8')).toBe(renderHtml(culpritReport));
    const reread = validateReport(JSON.parse(await readFile(paths.json, 'utf8')));
    expect(reread.ok && reread.value.pods[0]?.name).toBe('checkout-api-7d9f8b6c5d-x2k4p');
  });

  it('overwrites an earlier report in the same folder', async () => {
    await writeReportFiles({ ...culpritReport, investigationId: 'first' }, root);
    const paths = await writeReportFiles(culpritReport, root);
    expect(await readFile(paths.json, 'utf8')).toContain('"investigationId": "inv-20240514-091200-7f3a"');
  });

  it('fails when the folder cannot be created (a file is in the way)', async () => {
    await writeReportFiles(culpritReport, root);
    await expect(writeReportFiles(culpritReport, join(root, 'report.json', 'sub'))).rejects.toThrow(/ENOTDIR|EEXIST/);
  });
});
