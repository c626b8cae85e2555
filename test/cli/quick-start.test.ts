import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/engine.js';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The README's quick start is `npm ci` then `npx cloudmart plan`. npm 11's npx runs a project's
 * own bin by installing the project into its cache, which runs the "prepare" script again: a
 * full TypeScript build (15-25 s) right after `npm ci` built the same sources. prepare builds
 * only when dist/ is older than the sources, so that first npx starts at once.
 */
describe('the quick start is fast on a fresh clone', () => {
  it('the README says npm ci, then npx cloudmart plan; prepare is the build-if-stale script', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Commands'));
    expect(quick).toContain('npm ci');
    expect(quick).toContain('npx cloudmart plan');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      name: string;
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.bin).toEqual({ cloudmart: 'bin/cloudmart.js' });
    expect(pkg.scripts.prepare).toBe('node scripts/prepare.js');
  });

  it('prepare builds a clone without dist/, skips a fresh one, and rebuilds after a source changes', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'tsconfig.json'), '{}\n');
    writeFileSync(join(dir, 'tsconfig.build.json'), '{}\n');
    // A stand-in for tsc: the build writes a marker.
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'fixture',
        private: true,
        scripts: { build: "node -e \"require('fs').writeFileSync('built.txt', '')\"" },
      }),
    );
    const prepare = () => {
      rmSync(join(dir, 'built.txt'), { force: true });
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'prepare.js'), dir], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return { built: existsSync(join(dir, 'built.txt')), out: r.stdout };
    };

    expect(prepare().built).toBe(true); // no dist/: build

    const main = join(dir, 'dist', 'cli', 'main.js');
    mkdirSync(join(dir, 'dist', 'cli'), { recursive: true });
    writeFileSync(main, '');
    const t = Date.now() / 1000;
    for (const f of ['src/a.ts', 'tsconfig.json', 'tsconfig.build.json'])
      utimesSync(join(dir, f), t - 60, t - 60);
    utimesSync(main, t, t);
    const fresh = prepare();
    expect(fresh.built).toBe(false);
    expect(fresh.out).toContain('dist/ is up to date');

    utimesSync(join(dir, 'src', 'a.ts'), t + 60, t + 60); // edited after the build
    expect(prepare().built).toBe(true);
  });

  it('npm test needs no browser: the Chromium test runs only under test:browser', async () => {
    // A fresh clone has no /usr/bin/chromium; `.ci/run` installs it for test:browser alone.
    const { default: unit } = (await import(join(ROOT, 'vitest.config.ts'))) as {
      default: { test: { include: string[]; exclude: string[] } };
    };
    const { default: browser } = (await import(join(ROOT, 'vitest.browser.config.ts'))) as {
      default: { test: { include: string[] } };
    };
    expect(browser.test.include).toEqual(['test/browser/**/*.test.ts']);
    expect(unit.test.exclude).toContain('test/browser/**');
  });
});
