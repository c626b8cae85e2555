import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateExampleReport } from '../../scripts/example-report.js';
import { anchor } from '../../src/report/render.js';

/**
 * The hand-in report in a real browser: Debian's Chromium, headless, offline. `.ci/run`
 * installs it (apt-get install chromium); locally: `apt-get install -y chromium`.
 * Run with `npm run test:browser` (kept out of `npm test`: it starts a browser).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = join(process.cwd(), 'test-results');
const SECTIONS = [
  'architecture',
  'dashboard',
  'alarms',
  'logs',
  'rds-backup',
  's3-versioning',
  'aws-backup',
  'encryption',
  'cloudtrail',
  'flow-logs',
  'load',
  'failure',
  'cleanup',
];

describe('the hand-in report in Chromium', () => {
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
    profile = mkdtempSync(join(tmpdir(), 'cloudmart-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1100, height: 1400 },
    });
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  const open = async (file: string) => {
    const page = await context.newPage();
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    // Anything that is not a file next to the report is recorded and refused.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      external.push(url);
      return route.abort();
    });
    page.on('requestfailed', (r) => errors.push(`failed: ${r.url()}`));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    return { page, errors, external };
  };

  for (const lang of ['en', 'ko'] as const) {
    it(`${lang}: every section with its pictures, no broken image, no console error, no request beyond its folder; prints to PDF`, async () => {
      const dir = join(OUT, `report-${lang}`);
      rmSync(dir, { recursive: true, force: true });
      await generateExampleReport(dir, lang);
      const { page, errors, external } = await open(join(dir, 'index.html'));

      const images = await page.$$eval('img', (imgs) =>
        imgs.map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })),
      );
      expect(images.length).toBeGreaterThan(30);
      expect(images.filter((i) => !i.ok)).toEqual([]);

      // Every section is there, and each of the twelve places shows at least one picture.
      const marks = await page.$$eval('a[id], img', (els) =>
        els.map((e) => ({ tag: e.tagName, id: e.id })),
      );
      const pictures = SECTIONS.map(anchor).map((id) => {
        const start = marks.findIndex((e) => e.id === id);
        const next = marks.findIndex((e, k) => k > start && e.tag === 'A');
        return start === -1 ? -1 : marks.slice(start + 1, next === -1 ? undefined : next).length;
      });
      SECTIONS.forEach((id, i) => expect(pictures[i], id).toBeGreaterThan(0));
      for (const id of ['criteria', 'score'])
        expect(await page.locator(`#${anchor(id)}`).count(), id).toBe(1);

      expect(errors).toEqual([]);
      expect(external).toEqual([]);

      await page.screenshot({ path: join(OUT, `report-${lang}.png`) });
      await page.locator(`#${anchor('failure')}`).scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(OUT, `report-${lang}-failure.png`) });
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      // One phase per page at least (h2 breaks the page in print).
      expect((pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length).toBeGreaterThan(
        6,
      );
      await page.close();
    }, 120_000);
  }
});
