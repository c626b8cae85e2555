/**
 * Crash anywhere, for real: a cloudmart process (`up --yes`) is killed with SIGKILL at a random
 * moment while it works against the fake cloud (mirrored to a file after every mutating call),
 * then another process resumes with the same command. Afterwards the cloud holds exactly one of
 * each resource, the state is consistent, and `destroy` leaves nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { RunResult } from '../../src/engine/engine.js';
import { StateStore } from '../../src/state/store.js';
import { testConfig } from '../helpers/context.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { calibrate } from './crash.js';
import {
  Rng,
  destroy,
  engineRun,
  errorsOf,
  inventory,
  orphans,
  removeDir,
  stateProblems,
  tempDir,
} from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'child-cli.ts');
const TRIALS = 5;

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing of the developer's AWS setup reaches the child; the fake answers every call.
    if (!k.startsWith('AWS_') && k !== 'NODE_OPTIONS' && !k.startsWith('VITEST')) env[k] = v;
  }
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  env.CI = 'true';
  return env;
}

/** The fake cloud's call counter as last saved (it is saved after every mutating call). */
function savedSeq(file: string): number {
  try {
    const m = /"seq":(\d+),"world"/.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // between the temp file and the rename
  }
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  killedAtSeq: number | undefined;
  output: string;
}

/** Run the CLI in a child; with `killAtSeq`, SIGKILL it once the cloud has seen that many calls. */
function runChild(
  cloudFile: string,
  args: string[],
  cwd: string,
  killAtSeq?: number,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, cloudFile, ...args], {
      cwd: ROOT,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    let killedAtSeq: number | undefined;
    const poll =
      killAtSeq === undefined
        ? undefined
        : setInterval(() => {
            const seq = savedSeq(cloudFile);
            if (seq >= killAtSeq && killedAtSeq === undefined) {
              killedAtSeq = seq;
              child.kill('SIGKILL');
            }
          }, 3);
    const bound = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (poll) clearInterval(poll);
      clearTimeout(bound);
      resolve({ code, signal, killedAtSeq, output });
    });
    void cwd;
  });
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

it(`SIGKILL at ${TRIALS} random moments of a real "cloudmart up --yes", resumed by another process`, async () => {
  const cal = await calibrate();
  const rng = new Rng(977);
  const config = testConfig();
  const rows: string[] = [];
  let duplicates = 0;
  let orphanCount = 0;
  let killed = 0;
  const failures: string[] = [];
  for (let n = 1; n <= TRIALS; n++) {
    const dir = tempDir();
    dirs.push(dir);
    const cloudFile = join(dir, 'cloud.json');
    const configFile = join(dir, 'cloudmart.config.yaml');
    const statePath = join(dir, 'state.json');
    writeFileSync(configFile, 'alerts:\n  email: ops@example.com\n');
    new FakeCloud({ mode: 'instant' }).saveTo(cloudFile);
    const args = ['up', '--yes', '--to', '4', '--config', configFile, '--state', statePath];

    const target = rng.between(2, Math.floor(cal.calls * 0.95));
    const first = await runChild(cloudFile, args, dir, target);
    if (first.signal === 'SIGKILL') killed++;
    // The killed process left its lock behind: the next run must take it over (its pid is dead).
    const lockLeft = existsSync(`${statePath}.lock`);

    const second = await runChild(cloudFile, args, dir);
    const cloud = FakeCloud.loadFrom(cloudFile);
    const dups = cloud.duplicates();
    const inv = inventory(cloud);
    const store = new StateStore(statePath);
    await store.load(config.stack, config.region);
    const problems = stateProblems(store, cloud, config);

    // destroy in-process through the engine, on the fake cloud's instant clock (the CLI would
    // really sleep between polls, e.g. while the log groups wait for RDS to be gone).
    await cloud.install();
    let destroyed: RunResult;
    try {
      destroyed = await destroy(await engineRun(cloud, statePath));
    } finally {
      cloud.uninstall();
    }
    const code = destroyed.ok ? 0 : 1;
    const left = orphans(cloud, config.stack).map((l) => `${l.type} ${l.name ?? l.id}`);
    duplicates += dups.length;
    orphanCount += left.length;
    const row = `#${n}: killed=${first.signal === 'SIGKILL'} at call ${first.killedAtSeq ?? '-'} (target ${target}), lock left=${lockLeft}, resumed exit ${second.code}, duplicates ${dups.length}, orphans ${left.length}, destroy exit ${code}`;
    rows.push(row);
    const bad = [
      second.code !== 0 ? `resume exited ${second.code}:\n${second.output.slice(-2000)}` : '',
      second.output.includes('Another cloudmart run holds the lock') ? 'resume hit the lock' : '',
      dups.length ? `duplicates ${JSON.stringify(dups)}` : '',
      JSON.stringify(inv) !== JSON.stringify(cal.inventory)
        ? `inventory ${JSON.stringify(inv)} != ${JSON.stringify(cal.inventory)}`
        : '',
      problems.length ? `state: ${problems.join('; ')}` : '',
      code !== 0 ? `destroy failed:\n${errorsOf(destroyed)}` : '',
      left.length ? `orphans: ${left.join(', ')}` : '',
    ].filter(Boolean);
    if (bad.length) failures.push(`${row}\n${bad.join('\n')}`);
  }
  console.log(
    `[crash sigkill] N=${TRIALS} real processes (${killed} killed by SIGKILL mid-run), each resumed by a new process: duplicates=${duplicates} orphans=${orphanCount}\n  ${rows.join('\n  ')}`,
  );
  expect(failures).toEqual([]);
  // At least most runs must really have been killed mid-way, or the test proves nothing.
  expect(killed).toBeGreaterThanOrEqual(TRIALS - 1);
}, 300_000);
