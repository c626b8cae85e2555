/**
 * `state push` / `state pull` decide by the work each state holds (runs, load test, drills) and
 * by what the last push or pull left the same on both sides, never by clocks: two machines'
 * clocks may disagree, and a teammate's run after a pull has an earlier time than one's own.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { StateFile } from '../../src/state/store.js';
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

/** A config using the S3 state, and the path of its local state file. */
function setup(): { file: string; local: string } {
  const file = join(tempDir(), 'cloudmart.config.yaml');
  writeFileSync(
    file,
    ['alerts:', '  email: ops@example.com', 'state:', '  backend: s3', `  bucket: ${BUCKET}`]
      .concat([`  key: ${KEY}`, ''])
      .join('\n'),
  );
  return { file, local: join(file, '..', '.cloudmart', 'cloudmart.state.json') };
}

async function run(file: string, ...args: string[]) {
  const io = recordingIo();
  const code = await main(['node', 'cloudmart', ...args, '--config', file], io);
  return { code, text: io.text() };
}

async function remote(): Promise<string> {
  const out = (await cloud.call('s3', 'GetObject', { Bucket: BUCKET, Key: KEY })) as {
    Body: { transformToString(): Promise<string> };
  };
  return out.Body.transformToString();
}

/** Rewrite the S3 state as another machine would have written it. */
async function editRemote(change: (s: StateFile) => void): Promise<void> {
  const state = JSON.parse(await remote()) as StateFile;
  change(state);
  await cloud.call('s3', 'PutObject', {
    Bucket: BUCKET,
    Key: KEY,
    Body: JSON.stringify(state, null, 2) + '\n',
  });
}

function editLocal(local: string, change: (s: StateFile) => void): void {
  const state = JSON.parse(readFileSync(local, 'utf8')) as StateFile;
  change(state);
  writeFileSync(local, JSON.stringify(state, null, 2) + '\n');
}

const up = (file: string, step: string, ...more: string[]) =>
  run(file, 'up', '--yes', '--step', step, ...more);

describe('state push', () => {
  it("refuses, without --force, a push that would drop a teammate's run made after the pull, though the local state was updated later", async () => {
    const { file, local } = setup();
    expect((await up(file, 'network.vpc')).code).toBe(0);
    expect((await run(file, 'state', 'pull')).code).toBe(0);
    // A teammate runs on the S3 state; then a local run (its updatedAt is the latest of all).
    expect((await up(file, 'network.igw')).code).toBe(0);
    expect((await up(file, 'network.vpc', '--state', local)).code).toBe(0);
    const s3Before = await remote();
    expect(Date.parse(JSON.parse(readFileSync(local, 'utf8')).updatedAt)).toBeGreaterThan(
      Date.parse(JSON.parse(s3Before).updatedAt),
    );
    const refused = await run(file, 'state', 'push');
    expect(refused.code).toBe(1);
    expect(refused.text).toContain(
      `s3://${BUCKET}/${KEY} holds work that ${local} does not (the up run of `,
    );
    expect(refused.text).toContain('cloudmart state pull');
    expect(await remote()).toBe(s3Before);
    expect((await run(file, 'state', 'push', '--force')).code).toBe(0);
  }, 60_000);

  it('refuses a push that would drop a load test a teammate recorded after the pull', async () => {
    const { file, local } = setup();
    expect((await up(file, 'network.vpc')).code).toBe(0);
    expect((await run(file, 'state', 'pull')).code).toBe(0);
    await editRemote((s) => (s.results.load = { at: '2026-12-08T00:00:00.000Z', requests: 1000 }));
    expect((await up(file, 'network.igw', '--state', local)).code).toBe(0);
    const refused = await run(file, 'state', 'push');
    expect(refused.code).toBe(1);
    expect(refused.text).toContain('the load test of 2026-12-08T00:00:00.000Z');
  }, 60_000);

  it('accepts a push after a pull and a local run, even when the S3 state was written by a machine whose clock is ahead', async () => {
    const { file, local } = setup();
    expect((await up(file, 'network.vpc')).code).toBe(0);
    await editRemote((s) => (s.updatedAt = '2099-01-01T00:00:00.000Z'));
    expect((await run(file, 'state', 'pull')).code).toBe(0);
    expect((await up(file, 'network.igw', '--state', local)).code).toBe(0);
    const push = await run(file, 'state', 'push');
    expect(push.code, push.text).toBe(0);
    expect(await remote()).toBe(readFileSync(local, 'utf8'));
  }, 60_000);

  it("accepts a push that replaces the S3 state's load test with a newer local one, when nobody wrote the S3 state since the pull", async () => {
    const { file, local } = setup();
    expect((await up(file, 'network.vpc')).code).toBe(0);
    await editRemote((s) => (s.results.load = { at: '2026-12-08T00:00:00.000Z', requests: 10 }));
    expect((await run(file, 'state', 'pull')).code).toBe(0);
    editLocal(local, (s) => (s.results.load = { at: '2026-12-08T01:00:00.000Z', requests: 1000 }));
    const push = await run(file, 'state', 'push');
    expect(push.code, push.text).toBe(0);
    expect(JSON.parse(await remote()).results.load.requests).toBe(1000);
  }, 60_000);
});

describe('state pull', () => {
  it('refuses to drop a local run that was never pushed, and accepts once the local file is unchanged since the push', async () => {
    const { file, local } = setup();
    expect((await up(file, 'network.vpc')).code).toBe(0);
    expect((await run(file, 'state', 'pull')).code).toBe(0);
    expect((await up(file, 'network.igw', '--state', local)).code).toBe(0);
    // The S3 state's machine clock is ahead: by time it looks newer, yet the local run is lost.
    await editRemote((s) => (s.updatedAt = '2099-01-01T00:00:00.000Z'));
    const refused = await run(file, 'state', 'pull');
    expect(refused.code).toBe(1);
    expect(refused.text).toContain(`${local} holds work that s3://${BUCKET}/${KEY} does not`);
    expect((await run(file, 'state', 'push', '--force')).code).toBe(0);
    // A teammate's run on S3; the local file is as pushed: the pull takes it.
    expect((await up(file, 'network.vpc')).code).toBe(0);
    const pull = await run(file, 'state', 'pull');
    expect(pull.code, pull.text).toBe(0);
    expect(readFileSync(local, 'utf8')).toBe(await remote());
  }, 60_000);
});
