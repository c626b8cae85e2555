// `npm ci` and `npm install` run this (the "prepare" script): build dist/ unless it is already
// newer than every source file. npx runs "prepare" again each time it copies this package into
// its cache (the first `npx cloudmart` on a clone): a full TypeScript build there took 15-25 s
// for nothing, since `npm ci` had just built the same sources.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// import.meta.dirname needs Node 20.11; package.json promises any Node 20.
const root = resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));

/** Newest modification time (ms) of the files under `dir`, or of `dir` itself if a file. */
function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

const built = newest(join(root, 'dist', 'cli', 'main.js'));
const sources = Math.max(
  newest(join(root, 'src')),
  newest(join(root, 'tsconfig.json')),
  newest(join(root, 'tsconfig.build.json')),
);
if (built > 0 && built >= sources) {
  // eslint-disable-next-line no-console -- npm shows a script's output
  console.log('dist/ is up to date with src/: not rebuilding ("npm run build" forces it).');
} else {
  const npm = process.env.npm_execpath;
  const run = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], {
        cwd: root,
        stdio: 'inherit',
        shell: process.platform === 'win32',
      });
  process.exitCode = run.status ?? 1;
}
