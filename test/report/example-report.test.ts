import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateExampleReport } from '../../scripts/example-report.js';
import { tempDir } from '../helpers/engine.js';

const COMMITTED = join(process.cwd(), 'docs/example-report');

function files(root: string, dir = root): string[] {
  return readdirSync(dir)
    .flatMap((f) =>
      statSync(join(dir, f)).isDirectory()
        ? files(root, join(dir, f))
        : [relative(root, join(dir, f))],
    )
    .filter((f) => f !== 'README.md')
    .sort();
}

/**
 * docs/example-report/ is what users see before they run anything: a whole up → load → drills
 * → verify → destroy run against the fake cloud. It must be what the code makes today.
 */
describe('docs/example-report', () => {
  it('is what "npm run example-report" makes now (run it when this fails)', async () => {
    const dir = tempDir();
    await generateExampleReport(dir);
    expect(files(dir)).toEqual(files(COMMITTED));
    for (const f of files(dir))
      expect(
        readFileSync(join(dir, f)).equals(readFileSync(join(COMMITTED, f))),
        `${f} is stale`,
      ).toBe(true);
    // All twelve picture places are filled, and the score is there.
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    const model = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as {
      sections: Array<{ place?: number; pictures: unknown[] }>;
    };
    const places = model.sections.filter((s) => s.place !== undefined);
    expect(places.map((s) => s.place)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const s of places) expect(s.pictures.length, `place ${s.place}`).toBeGreaterThan(0);
    expect(md).toMatch(/\*\*Score: [\d.]+\/100 — grade [SABCF]\*\*/);
  }, 120_000);
});
