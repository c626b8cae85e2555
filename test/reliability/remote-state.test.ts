/**
 * Team use: real cloudmart processes ("machines": separate folders and configs) on one S3 state,
 * in one shared fake cloud (shared-cloud.ts). Two `up` started together, `destroy` started while
 * `up` runs, and a writer killed between taking the lock and its first write: one run holds the
 * lock, the other is refused naming it, nothing is lost or duplicated, and the next run recovers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { StateStore } from '../../src/state/store.js';
import { testConfig } from '../helpers/context.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { calibrate } from './crash.js';
import { inventory, orphans, removeDir, stateProblems, tempDir } from './harness.js';
import { serveCloud, type SharedCloud } from './shared-cloud.js';
import { fakeStateBucket } from '../helpers/s3.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'child-shared-cli.ts');
const BUCKET = 'team-state-bucket';
const KEY = 'cloudmart/cloudmart.state.json';
const LOCK = `${KEY}.lock`;

const dirs: string[] = [];
const children: ChildProcess[] = [];
let shared: SharedCloud | undefined;
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await shared?.close();
  shared = undefined;
  for (const d of dirs.splice(0)) removeDir(d);
});

/** A cloud in latency mode (1 simulated minute = `msPerMinute` ms) holding the state bucket. */
async function sharedCloud(msPerMinute = 10): Promise<FakeCloud> {
  const cloud = new FakeCloud({ mode: 'latency', msPerMinute });
  await fakeStateBucket(cloud, BUCKET);
  shared = await serveCloud(cloud);
  return cloud;
}

/** A "machine": its own folder and config, the same `state:` block. */
function machine(name: string): string {
  const dir = tempDir();
  dirs.push(dir);
  mkdirSync(join(dir, name));
  const config = join(dir, name, 'cloudmart.config.yaml');
  writeFileSync(
    config,
    `alerts:\n  email: ops@example.com\nstate:\n  backend: s3\n  bucket: ${BUCKET}\n  key: ${KEY}\n  region: ap-northeast-2\n`,
  );
  return config;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  done: Promise<number | null>;
}

function start(config: string, ...args: string[]): Proc {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('AWS_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, shared!.url, ...args, '--config', config],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let text = '';
  child.stdout.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr.on('data', (c: Buffer) => (text += c.toString()));
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, done };
}

async function objectText(cloud: FakeCloud, key: string): Promise<string | undefined> {
  try {
    const out = (await cloud.call('s3', 'GetObject', { Bucket: BUCKET, Key: key })) as {
      Body: { transformToString(): Promise<string> };
    };
    return await out.Body.transformToString();
  } catch {
    return undefined;
  }
}

/** The S3 state, loaded as the CLI loads it (through a local copy of the object). */
async function remoteStore(cloud: FakeCloud): Promise<StateStore> {
  const dir = tempDir();
  dirs.push(dir);
  const file = join(dir, 'copy.json');
  writeFileSync(file, (await objectText(cloud, KEY)) ?? '');
  const store = new StateStore(file);
  await store.load('cloudmart', 'ap-northeast-2');
  return store;
}

/** Versions of the state object ever written: every write is kept in the versioned bucket. */
async function stateVersions(cloud: FakeCloud): Promise<number> {
  const out = (await cloud.callAll('s3', 'ListObjectVersions', {
    Bucket: BUCKET,
    Prefix: KEY,
  })) as {
    Versions?: Array<{ Key: string }>;
  };
  return (out.Versions ?? []).filter((v) => v.Key === KEY).length;
}

/** The stack's resources: the inventory without the state bucket (not part of the stack). */
function stackInventory(cloud: FakeCloud): Record<string, number> {
  const inv = inventory(cloud);
  inv['s3:bucket'] = (inv['s3:bucket'] ?? 0) - 1;
  return inv;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stackCalls = (calls: Array<{ service: string; input: Record<string, unknown> }>) =>
  calls.filter((c) => !(c.service === 's3' && c.input.Bucket === BUCKET) && c.service !== 'sts');

it('two "up" started at once on two machines: one builds, the other is refused naming it; nothing duplicated, the state complete; a third machine\'s status shows the run', async () => {
  const cal = await calibrate();
  const cloud = await sharedCloud();
  const a = start(machine('laptop-a'), 'up', '--yes', '--to', '4');
  const b = start(machine('laptop-b'), 'up', '--yes', '--to', '4');
  const codes = await Promise.all([a.done, b.done]);
  const [winner, loser] = codes[0] === 0 ? [a, b] : [b, a];
  expect(
    codes.slice().sort(),
    `${a.output().slice(-1500)}\n---\n${b.output().slice(-1500)}`,
  ).toEqual([0, 1]);
  expect(loser.output()).toContain(
    `Another cloudmart run holds the lock on s3://${BUCKET}/${KEY}: "up" (pid ${winner.child.pid} on ${hostname()}`,
  );
  // The loser sent nothing to the stack: only its lock attempt (and the credentials check).
  const loserCalls = shared!.callsBy.get(loser.child.pid!) ?? [];
  expect(stackCalls(loserCalls).map((c) => c.input)).toEqual([]);
  expect(loserCalls.filter((c) => c.command === 'PutObject' && c.input.Key === KEY)).toEqual([]);
  // The winner's state is complete and matches the cloud; one of each resource.
  const store = await remoteStore(cloud);
  expect(stateProblems(store, cloud, testConfig())).toEqual([]);
  expect(cloud.duplicates()).toEqual([]);
  expect(stackInventory(cloud)).toEqual(cal.inventory);
  expect(await objectText(cloud, LOCK)).toBeUndefined();
  // A third machine (its own folder, no local state) sees the first machine's run.
  const c = start(machine('laptop-c'), 'status', '--offline', '--json');
  expect(await c.done, c.output()).toBe(0);
  const status = JSON.parse(c.output().slice(c.output().indexOf('{'))) as {
    stateFile: string;
    runs: Array<{ command: string; outcome: string; host: string }>;
    steps: Array<{ id: string; status: string }>;
  };
  expect(status.stateFile).toBe(`s3://${BUCKET}/${KEY}`);
  expect(status.runs).toMatchObject([{ command: 'up', outcome: 'succeeded', host: hostname() }]);
  expect(status.steps.find((s) => s.id === 'network.vpc')?.status).toBe('done');
  console.log(
    `[remote-state] two "up" at once: exit codes ${codes.join(' and ')}; the loser (pid ${loser.child.pid}) sent ${loserCalls.length} calls, ${stackCalls(loserCalls).length} to the stack; ${await stateVersions(cloud)} state versions written by the winner; duplicates 0; a third machine's status shows 1 run`,
  );
}, 180_000);

it('"destroy" on a second machine while "up" runs: refused naming the "up", which finishes; destroy afterwards removes the stack and keeps the state bucket', async () => {
  const cloud = await sharedCloud();
  const up = start(machine('laptop-a'), 'up', '--yes', '--to', '4');
  // Start the destroy once the up holds the lock and has written the state.
  const deadline = Date.now() + 60_000;
  while (
    !((await objectText(cloud, LOCK)) && (await objectText(cloud, KEY))) &&
    up.child.exitCode === null &&
    Date.now() < deadline
  )
    await sleep(20);
  // Hold every call of the up but the state's (S3) and identity (STS) ones until the destroy
  // has been refused: otherwise the up can finish before the second process is even started
  // (seen in a clean-clone CI run), and the destroy then runs instead of being refused.
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const send = cloud.send.bind(cloud);
  cloud.send = async (service, ...rest) => {
    if (service !== 's3' && service !== 'sts') await gate;
    return send(service, ...rest);
  };
  const destroyer = machine('laptop-b');
  const refused = start(destroyer, 'destroy', '--yes');
  const refusedCode = await refused.done;
  release();
  expect(refusedCode, refused.output()).toBe(1);
  // Read after the refusal has exited, so only a report: the refusal naming up's pid (below)
  // is what proves up held the lock then; up may well have finished since (a busy machine).
  const stillRunning = up.child.exitCode === null;
  expect(refused.output()).toContain(`"up" (pid ${up.child.pid} on ${hostname()}`);
  expect(stackCalls(shared!.callsBy.get(refused.child.pid!) ?? [])).toEqual([]);
  expect(await up.done, up.output().slice(-2000)).toBe(0);
  const versionsAfterUp = await stateVersions(cloud);
  const store = await remoteStore(cloud);
  expect(stateProblems(store, cloud, testConfig())).toEqual([]);
  expect(cloud.duplicates()).toEqual([]);
  // Now the destroy runs, from the second machine, on the first machine's state.
  const destroy = start(destroyer, 'destroy', '--yes');
  expect(await destroy.done, destroy.output().slice(-2000)).toBe(0);
  // The fake counts every untagged resource as a possible leftover: all but the state bucket.
  expect(orphans(cloud, 'cloudmart').filter((o) => o.id !== BUCKET)).toEqual([]);
  // The state bucket is not the stack's: destroy leaves it and the sweep does not report it.
  expect(cloud.resources({ type: 's3:bucket', live: true }).map((r) => r.id)).toEqual([BUCKET]);
  expect(destroy.output()).not.toContain(BUCKET);
  const after = await remoteStore(cloud);
  expect(after.current.runs.map((r) => `${r.command} ${r.outcome}`)).toEqual([
    'up succeeded',
    'destroy succeeded',
  ]);
  console.log(
    `[remote-state] destroy during up: ${stillRunning ? 'up was still running' : 'up had ended'} when the destroy was refused (exit 1, 0 stack calls); up exit 0 (${versionsAfterUp} state versions); destroy afterwards exit 0, orphans 0, state bucket kept`,
  );
}, 180_000);

it('a writer killed between taking the lock and its first write: the next run takes over the stale lock and builds the stack once', async () => {
  const cal = await calibrate();
  const cloud = await sharedCloud();
  let killed: number | undefined;
  const box: { first?: Proc } = {};
  // Right after S3 stored the lock (the answer not yet delivered), SIGKILL the process.
  cloud.onCall((e) => {
    const input = e.input as { Key?: string; IfNoneMatch?: string };
    if (
      e.phase === 'after' &&
      e.command === 'PutObject' &&
      input.Key === LOCK &&
      box.first?.child.pid !== undefined &&
      killed === undefined
    ) {
      killed = box.first.child.pid;
      box.first.child.kill('SIGKILL');
    }
  });
  const config = machine('laptop-a');
  const first = (box.first = start(config, 'up', '--yes', '--to', '4'));
  await first.done;
  expect(killed).toBe(first.child.pid);
  const lockLeft = JSON.parse((await objectText(cloud, LOCK))!) as { pid: number };
  expect(lockLeft.pid).toBe(killed);
  expect(await objectText(cloud, KEY)).toBeUndefined();
  const stackCallsOfKilled = stackCalls(shared!.callsBy.get(killed!) ?? []).length;
  const next = start(config, 'up', '--yes', '--to', '4');
  expect(await next.done, next.output().slice(-2000)).toBe(0);
  expect(next.output()).toContain(
    `Taking over a stale lock of "up" (pid ${killed} is not running)`,
  );
  const store = await remoteStore(cloud);
  expect(stateProblems(store, cloud, testConfig())).toEqual([]);
  expect(cloud.duplicates()).toEqual([]);
  expect(stackInventory(cloud)).toEqual(cal.inventory);
  expect(await objectText(cloud, LOCK)).toBeUndefined();
  console.log(
    `[remote-state] killed pid ${killed} right after it took the S3 lock (${stackCallsOfKilled} stack calls, no state written); the next run took over the stale lock, exit 0, state consistent, duplicates 0`,
  );
}, 180_000);
