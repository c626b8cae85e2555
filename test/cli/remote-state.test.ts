/**
 * The S3 state through the CLI, in one process against the fake cloud: two "machines" (two
 * folders, two configs with the same `state:` block) share one state and one lock.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../helpers/engine.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';
import { fakeStateBucket } from '../helpers/s3.js';

const BUCKET = 'team-state-bucket';
const KEY = 'shop/cloudmart.state.json';

let cloud: FakeCloud;
beforeEach(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  await fakeStateBucket(cloud, BUCKET);
});
afterEach(() => cloud.uninstall());

/** A folder with a config using the shared S3 state. */
function machine(name: string): string {
  const dir = join(tempDir(), name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'cloudmart.config.yaml');
  writeFileSync(
    config,
    [
      'alerts:',
      '  email: ops@example.com',
      'state:',
      '  backend: s3',
      `  bucket: ${BUCKET}`,
      `  key: ${KEY}`,
      '  region: ap-northeast-2',
      '',
    ].join('\n'),
  );
  return config;
}

async function run(config: string, ...args: string[]) {
  const io = recordingIo();
  const code = await main(['node', 'cloudmart', ...args, '--config', config], io);
  return { code, text: io.text(), io };
}

async function stateObject(): Promise<Record<string, unknown>> {
  const out = (await cloud.call('s3', 'GetObject', { Bucket: BUCKET, Key: KEY })) as {
    Body: { transformToString(): Promise<string> };
  };
  return JSON.parse(await out.Body.transformToString()) as Record<string, unknown>;
}

it('status on a second machine shows the runs and steps the first machine recorded in S3', async () => {
  const first = machine('laptop-1');
  const second = machine('laptop-2');
  const up = await run(first, 'up', '--yes', '--step', 'network.vpc');
  expect(up.code, up.text).toBe(0);
  // Nothing local on either machine: the state is the S3 object.
  expect(existsSync(join(first, '..', '.cloudmart'))).toBe(false);
  const state = await stateObject();
  expect(state).toMatchObject({ stack: 'cloudmart', steps: { 'network.vpc': { status: 'done' } } });
  const status = await run(second, 'status', '--offline');
  expect(status.code, status.text).toBe(0);
  expect(status.text).toContain(`state s3://${BUCKET}/${KEY}`);
  expect(status.text).toMatch(
    new RegExp(`up succeeded \\([^)]+ by .+ on ${hostname().replace(/[.]/g, '\\.')}\\)`),
  );
  expect(status.text).toMatch(/network\.vpc\s+P1\s+done/);
  const json = JSON.parse(
    (await run(second, 'status', '--offline', '--json')).io.stdout.join('\n'),
  );
  expect(json.stateFile).toBe(`s3://${BUCKET}/${KEY}`);
  expect(json.runs).toHaveLength(1);
  // The lock was released: the object is gone.
  await expect(
    cloud.call('s3', 'GetObject', { Bucket: BUCKET, Key: `${KEY}.lock` }),
  ).rejects.toMatchObject({ name: 'NoSuchKey' });
}, 60_000);

it('a run on another machine holding the S3 lock: up is refused (exit 1) naming it, before any stack call; --force-unlock takes it', async () => {
  const config = machine('laptop-2');
  const holder = {
    pid: 4242,
    host: 'laptop-1',
    user: 'alice',
    command: 'destroy',
    startedAt: '2026-12-07T22:00:00.000Z',
  };
  await cloud.call('s3', 'PutObject', {
    Bucket: BUCKET,
    Key: `${KEY}.lock`,
    Body: JSON.stringify(holder),
  });
  const mark = cloud.lastSeq;
  const refused = await run(config, 'up', '--yes', '--step', 'network.vpc');
  expect(refused.code).toBe(1);
  expect(refused.text).toContain(
    `Another cloudmart run holds the lock on s3://${BUCKET}/${KEY}: "destroy" (pid 4242 on laptop-1, user alice, since 2026-12-07T22:00:00.000Z)`,
  );
  expect(refused.text).toContain('--force-unlock');
  // Only the lock was tried and read: no stack call, no state written.
  const after = cloud.calls.filter((c) => c.seq > mark);
  expect(after.map((c) => `${c.command} ${(c.input as { Key?: string }).Key}`)).toEqual([
    `PutObject ${KEY}.lock`,
    `GetObject ${KEY}.lock`,
  ]);
  const forced = await run(config, 'up', '--yes', '--step', 'network.vpc', '--force-unlock');
  expect(forced.code, forced.text).toBe(0);
  expect((await stateObject()).steps).toMatchObject({ 'network.vpc': { status: 'done' } });
}, 60_000);

it('--state s3://bucket/key beats the config; a key ending in .lock is a usage error', async () => {
  const dir = tempDir();
  const config = join(dir, 'cloudmart.config.yaml');
  writeFileSync(config, 'alerts:\n  email: ops@example.com\n');
  const url = `s3://${BUCKET}/other/cloudmart.state.json`;
  const up = await run(config, 'up', '--yes', '--step', 'network.vpc', '--state', url);
  expect(up.code, up.text).toBe(0);
  const status = await run(config, 'status', '--offline', '--state', url);
  expect(status.text).toContain(`state ${url}`);
  expect(existsSync(join(dir, '.cloudmart'))).toBe(false);
  const bad = await run(config, 'status', '--state', `s3://${BUCKET}/x.lock`);
  expect(bad.code).toBe(2);
  expect(bad.text).toContain('must not end in ".lock"');
}, 60_000);

it("--state s3://… naming a bucket of another region: cloudmart follows S3's redirect there and says which region to configure", async () => {
  await fakeStateBucket(cloud, 'team-state-oregon', 'us-west-2');
  const config = machine('laptop-4');
  const url = 's3://team-state-oregon/shop/cloudmart.state.json';
  const up = await run(config, 'up', '--yes', '--step', 'network.vpc', '--state', url);
  expect(up.code, up.text).toBe(0);
  expect(up.text).toContain(
    "! The state bucket team-state-oregon is in us-west-2, not ap-northeast-2: cloudmart follows S3's redirect there. Set region: us-west-2 in the config's state: block to go there directly.",
  );
  const status = await run(config, 'status', '--offline', '--state', url);
  expect(status.code, status.text).toBe(0);
  expect(status.text).toMatch(/network\.vpc\s+P1\s+done/);
  // Only the first call of each run went to the configured region.
  const wrong = cloud.calls.filter(
    (c) =>
      (c.input as { Bucket?: string }).Bucket === 'team-state-oregon' && c.region !== 'us-west-2',
  );
  expect(wrong.map((c) => c.error)).toEqual(['PermanentRedirect', 'PermanentRedirect']);
}, 60_000);

it('plan still shows the plan when the S3 state cannot be read, and says so', async () => {
  const config = machine('laptop-3');
  const { code, text } = await run(config, 'plan', '--state', 's3://no-such-state-bucket/k.json');
  expect(code).toBe(0);
  expect(text).toMatch(/Could not read the state at s3:\/\/no-such-state-bucket\/k\.json/);
  expect(text).toMatch(/plan shows every step as not done yet/);
  expect(text).toMatch(/plan sends nothing to AWS but the read of its state in S3/);
});
