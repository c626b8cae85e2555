/**
 * Concurrency: two `up` runs at once on the same state. The second stops with the lock error
 * (exit 1, naming the holder) before it reads or sends anything, and the first finishes with
 * a consistent state: nothing is corrupted.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { StateStore } from '../../src/state/store.js';
import { testConfig } from '../helpers/context.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';
import { calibrate } from './crash.js';
import { inventory, removeDir, stateProblems, tempDir } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'child-cli.ts');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

function setup() {
  const dir = tempDir();
  dirs.push(dir);
  const config = join(dir, 'cloudmart.config.yaml');
  writeFileSync(config, 'alerts:\n  email: ops@example.com\n');
  return { dir, config, state: join(dir, 'state.json'), cloudFile: join(dir, 'cloud.json') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a second "up" while a real cloudmart process runs "up" on the same state stops with the lock error', async () => {
  const { config, state, cloudFile } = setup();
  const cal = await calibrate();
  // Latency mode (1 simulated minute = 10 ms): the first run really waits for RDS, Redis…
  new FakeCloud({ mode: 'latency', msPerMinute: 10 }).saveTo(cloudFile);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('AWS_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const args = ['up', '--yes', '--to', '4', '--config', config, '--state', state];
  const first = spawn(process.execPath, ['--import', 'tsx', CHILD, cloudFile, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let firstOutput = '';
  first.stdout.on('data', (c: Buffer) => (firstOutput += c.toString()));
  first.stderr.on('data', (c: Buffer) => (firstOutput += c.toString()));
  const firstDone = new Promise<number | null>((resolve) =>
    first.on('exit', (code) => resolve(code)),
  );

  // Once the first run holds the lock and has started working, start the second.
  const deadline = Date.now() + 30_000;
  while (!(existsSync(`${state}.lock`) && existsSync(state)) && Date.now() < deadline)
    await sleep(10);
  expect(existsSync(`${state}.lock`), firstOutput).toBe(true);
  const lockBefore = readFileSync(`${state}.lock`, 'utf8');

  const cloud = await FakeCloud.loadFrom(cloudFile).install();
  let second: { code: number; text: string; calls: number };
  try {
    const io = recordingIo();
    const code = await main(['node', 'cloudmart', ...args], io);
    second = { code, text: io.text(), calls: cloud.calls.length };
  } finally {
    cloud.uninstall();
  }
  const stillRunning = first.exitCode === null;
  expect(second.code, second.text).toBe(1);
  expect(second.text).toContain(
    `Another cloudmart run holds the lock on ${state}: "up" (pid ${first.pid}`,
  );
  expect(second.calls).toBe(0);

  const code = await firstDone;
  expect(code, firstOutput.slice(-3000)).toBe(0);
  // The holder's lock was never touched by the second run, and is gone once the first ends.
  expect(JSON.parse(lockBefore).pid).toBe(first.pid);
  expect(existsSync(`${state}.lock`)).toBe(false);
  const finalCloud = FakeCloud.loadFrom(cloudFile);
  const store = new StateStore(state);
  await store.load('cloudmart', 'ap-northeast-2');
  expect(stateProblems(store, finalCloud, testConfig())).toEqual([]);
  expect(finalCloud.duplicates()).toEqual([]);
  expect(inventory(finalCloud)).toEqual(cal.inventory);
  console.log(
    `[concurrency] first "up" (pid ${first.pid}) ${stillRunning ? 'was still running' : 'had ended'} when the second started; second exit ${second.code} with the lock error, ${second.calls} AWS calls; first exit ${code}, state consistent, duplicates 0`,
  );
  expect(stillRunning).toBe(true);
}, 120_000);

it('two "up" started at the same moment in one process: one runs, the other gets the lock error', async () => {
  const { config, state } = setup();
  const cloud = await new FakeCloud({ mode: 'instant' }).install();
  try {
    const args = [
      'node',
      'cloudmart',
      'up',
      '--yes',
      '--to',
      '4',
      '--config',
      config,
      '--state',
      state,
    ];
    const ios = [recordingIo(), recordingIo()];
    const codes = await Promise.all(ios.map((io) => main(args, io)));
    const locked = codes.map(
      (c, i) => c === 1 && ios[i]!.text().includes('Another cloudmart run holds the lock'),
    );
    expect(codes.slice().sort()).toEqual([0, 1]);
    expect(locked.filter(Boolean)).toHaveLength(1);
    const store = new StateStore(state);
    await store.load('cloudmart', 'ap-northeast-2');
    expect(stateProblems(store, cloud, testConfig())).toEqual([]);
    expect(cloud.duplicates()).toEqual([]);
    expect(existsSync(`${state}.lock`)).toBe(false);
    console.log(
      `[concurrency] two in-process "up" at once: exit codes ${codes.join(' and ')}, one lock error, state consistent, duplicates 0`,
    );
  } finally {
    cloud.uninstall();
  }
}, 60_000);
