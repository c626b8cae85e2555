import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Assets, HandIn } from './model.js';
import { renderHtml, renderMarkdown } from './render.js';

/** The files of a report folder. */
export const REPORT_FILES = {
  html: 'index.html',
  markdown: 'report.md',
  model: 'report.json',
  images: 'images',
} as const;

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/**
 * Write index.html, report.md, report.json and images/ into `dir`. Pictures of an earlier
 * report in the folder that this one does not draw are removed, so nothing stale is shown.
 */
export async function writeHandIn(
  dir: string,
  model: HandIn,
  assets: Assets,
  keep: string[] = [],
): Promise<void> {
  const images = join(dir, REPORT_FILES.images);
  await mkdir(images, { recursive: true });
  const wanted = new Set([
    ...model.sections.flatMap((s) => s.pictures.map((p) => p.file)),
    ...keep,
  ]);
  const { readdir } = await import('node:fs/promises');
  for (const f of await readdir(images))
    if (!wanted.has(f)) await rm(join(images, f), { force: true });
  for (const [name, data] of assets) await writeAtomic(join(images, name), data);
  const markdown = renderMarkdown(model);
  await writeAtomic(join(dir, REPORT_FILES.markdown), markdown);
  await writeAtomic(join(dir, REPORT_FILES.html), await renderHtml(model, markdown));
  await writeAtomic(join(dir, REPORT_FILES.model), JSON.stringify(model, null, 2) + '\n');
}

/** The model of the report in `dir`, if one was written there. */
export async function readHandIn(dir: string): Promise<HandIn | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, REPORT_FILES.model), 'utf8')) as HandIn;
    return m.version === 1 ? m : undefined;
  } catch {
    return undefined;
  }
}
