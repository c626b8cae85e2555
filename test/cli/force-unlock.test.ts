/**
 * Every command that takes the state lock says, when refused, to run that very command again with
 * --force-unlock, and that command accepts the flag and takes the lock with it. (drill and load
 * have theirs in test/drills/drill-command.test.ts and test/cli/load.test.ts.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../helpers/engine.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';
import { fakeStateBucket } from '../helpers/s3.js';

const BUCKET = 'team-state-bucket';
const KEY = 'shop/cloudmart.state.json';

/** A live run of another machine: its pid cannot be judged from here. */
const FOREIGN = JSON.stringify({
  pid: 1,
  host: 'laptop-2',
  user: 'bob',
  machine: 'another-machine',
  command: 'up',
  startedAt: '2026-12-07T22:00:00.000Z',
});

let cloud: FakeCloud;
beforeEach(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  await fakeStateBucket(cloud, BUCKET);
});
afterEach(() => cloud.uninstall());

function config(s3: boolean): string {
  const file = join(tempDir(), 'cloudmart.config.yaml');
  const lines = ['alerts:', '  email: ops@example.com'];
  if (s3) lines.push('state:', '  backend: s3', `  bucket: ${BUCKET}`, `  key: ${KEY}`);
  writeFileSync(file, [...lines, ''].join('\n'));
  return file;
}

async function run(file: string, ...args: string[]) {
  const io = recordingIo();
  const code = await main(['node', 'cloudmart', ...args, '--config', file], io);
  return { code, text: io.text() };
}

async function s3Text(key: string): Promise<string | undefined> {
  try {
    const out = (await cloud.call('s3', 'GetObject', { Bucket: BUCKET, Key: key })) as {
      Body: { transformToString(): Promise<string> };
    };
    return await out.Body.transformToString();
  } catch {
    return undefined;
  }
}

describe('--force-unlock is accepted by every command whose refusal names it', () => {
  for (const command of [
    ['up', '--yes', '--step', 'network.vpc'],
    ['destroy', '--yes'],
  ]) {
    it(`${command[0]} (local state file)`, async () => {
      const file = config(false);
      const state = join(file, '..', 'state.json');
      // A state first, so destroy has one to read.
      expect((await run(file, 'up', '--yes', '--step', 'network.vpc', '--state', state)).code).toBe(
        0,
      );
      writeFileSync(`${state}.lock`, FOREIGN);
      const refused = await run(file, ...command, '--state', state);
      expect(refused.code).toBe(1);
      expect(refused.text).toContain('pid 1 on laptop-2');
      expect(refused.text).toContain(`run "cloudmart ${command[0]}" again with --force-unlock`);
      expect(readFileSync(`${state}.lock`, 'utf8')).toBe(FOREIGN);
      const forced = await run(file, ...command, '--state', state, '--force-unlock');
      expect(forced.code, forced.text.slice(-1500)).toBe(0);
      expect(JSON.parse(readFileSync(state, 'utf8')).runs.at(-1)).toMatchObject({
        command: command[0],
        outcome: 'succeeded',
      });
    }, 60_000);
  }

  for (const verb of ['push', 'pull']) {
    it(`state ${verb} (S3 lock held)`, async () => {
      const file = config(true);
      const local = join(file, '..', '.cloudmart', 'cloudmart.state.json');
      // The local file and the S3 state: one up each side.
      expect((await run(file, 'up', '--yes', '--step', 'network.vpc')).code).toBe(0);
      expect((await run(file, 'up', '--yes', '--step', 'network.vpc', '--state', local)).code).toBe(
        0,
      );
      await cloud.call('s3', 'PutObject', { Bucket: BUCKET, Key: `${KEY}.lock`, Body: FOREIGN });
      const refused = await run(file, 'state', verb, '--force');
      expect(refused.code).toBe(1);
      expect(refused.text).toContain(`run "cloudmart state ${verb}" again with --force-unlock`);
      expect(await s3Text(`${KEY}.lock`)).toBe(FOREIGN);
      const forced = await run(file, 'state', verb, '--force', '--force-unlock');
      expect(forced.code, forced.text).toBe(0);
      expect(forced.text).toContain(verb === 'push' ? 'Pushed' : 'Pulled');
      expect(await s3Text(KEY)).toBe(readFileSync(local, 'utf8'));
      expect(await s3Text(`${KEY}.lock`)).toBeUndefined();
    }, 60_000);
  }
});
