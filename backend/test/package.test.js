import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const read = (path) => readFileSync(new URL(path, root));
const sources = readdirSync(new URL('src/', root)).filter((f) => f.endsWith('.js'));

describe('the shipped backend', () => {
  it('fits the user data budget: src/*.js and package.json at most 7 KB gzipped, file by file', () => {
    // The launch template gzips each file (level 9) into the user data, which EC2 caps at 16 KB.
    // 7 KB since the backend reads the RDS-managed password again when RDS rotates it (6.9 KB
    // then, 13.6 KB of user data in all, 2.8 KB under EC2's limit; the 16 KB limit itself is
    // tested on the rendered script in test/steps/phase1-foundation/user-data.test.ts).
    const sizes = [...sources.map((f) => `src/${f}`), 'package.json'].map(
      (path) => gzipSync(read(path), { level: 9 }).length,
    );
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(7 * 1024);
  });

  it('has the agreed package.json', () => {
    const pkg = JSON.parse(read('package.json').toString());
    expect(pkg).toMatchObject({
      name: 'cloudmart-backend',
      private: true,
      type: 'module',
      engines: { node: '>=20' },
      scripts: { start: 'node src/server.js' },
    });
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['mysql2', 'pg', 'redis']);
    // No lock file ships to the instances: pin exact versions so every boot installs the same.
    for (const version of Object.values(pkg.dependencies))
      expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.dependencies.redis).toMatch(/^[45]\./);
  });

  it('has src/server.js as its entry point', () => {
    expect(sources).toContain('server.js');
  });

  it('imports drivers only lazily, in adapters.js, so the app and its tests load without them', () => {
    for (const file of sources) {
      const text = read(`src/${file}`).toString();
      for (const [, spec] of text.matchAll(/^import .* from '([^']+)';$/gm)) {
        const ok = spec.startsWith('./') || builtinModules.includes(spec.replace(/^node:/, ''));
        expect(ok, `${file} imports ${spec} at load time`).toBe(true);
      }
      const dynamic = [...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]);
      expect(dynamic).toEqual(file === 'adapters.js' ? ['mysql2/promise', 'pg', 'redis'] : []);
    }
  });

  it('never prints or logs a secret-bearing setting', () => {
    for (const file of sources) {
      const text = read(`src/${file}`).toString();
      expect(text).not.toMatch(/console\./);
      expect(text).not.toMatch(/log\w*\([^)]*(password|AUTH_TOKEN|settings\b)/i);
    }
  });
});
