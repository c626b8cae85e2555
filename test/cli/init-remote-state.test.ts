/* eslint-disable @typescript-eslint/no-explicit-any -- SDK-shaped answers */
/**
 * `init --remote-state` and `state push` / `state pull` against the fake cloud: the state
 * bucket is made the careful way and is not part of the stack (destroy keeps it, the sweep does
 * not report it); the moves refuse to replace a newer state.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/engine.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';

const BUCKET = 'cloudmart-state-123456789012-ap-northeast-2';
const KEY = 'cloudmart/cloudmart.state.json';

let cloud: FakeCloud;
beforeEach(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
});
afterEach(() => cloud.uninstall());

function configFile(): string {
  const config = join(tempDir(), 'cloudmart.config.yaml');
  writeFileSync(config, '# our team\nalerts:\n  email: ops@example.com # the on-call\n');
  return config;
}

async function run(config: string, ...args: string[]) {
  const io = recordingIo();
  const code = await main(['node', 'cloudmart', ...args, '--config', config], io);
  return { code, text: io.text() };
}

const s3 = (command: string, input: Record<string, unknown> = {}) =>
  cloud.call('s3', command, { Bucket: BUCKET, ...input }) as Promise<Record<string, any>>;

describe('init --remote-state', () => {
  it('creates the state bucket versioned, encrypted, private and HTTPS-only, tagged but not as the stack, and writes the state: block; a second run changes nothing', async () => {
    const config = configFile();
    const first = await run(config, 'init', '--remote-state');
    expect(first.code, first.text).toBe(0);
    expect(first.text).toContain(`Created s3://${BUCKET}`);
    expect((await s3('GetBucketVersioning')).Status).toBe('Enabled');
    expect(
      (await s3('GetBucketEncryption')).ServerSideEncryptionConfiguration.Rules[0]
        .ApplyServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe('AES256');
    expect((await s3('GetPublicAccessBlock')).PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    const policy = JSON.parse((await s3('GetBucketPolicy')).Policy as string);
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Principal: '*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const tags = Object.fromEntries(
      ((await s3('GetBucketTagging')).TagSet as Array<{ Key: string; Value: string }>).map((t) => [
        t.Key,
        t.Value,
      ]),
    );
    expect(tags).toMatchObject({ 'cloudmart:state-of': 'cloudmart', Name: BUCKET });
    expect(tags).not.toHaveProperty('cloudmart:stack');
    // The config keeps its comments and gains the block, which the schema accepts.
    const text = readFileSync(config, 'utf8');
    expect(text).toContain('# the on-call');
    const parsed = await loadConfig(config);
    expect(parsed.state).toEqual({
      backend: 's3',
      bucket: BUCKET,
      key: KEY,
      region: 'ap-northeast-2',
    });
    const mark = cloud.lastSeq;
    const again = await run(config, 'init', '--remote-state');
    expect(again.code, again.text).toBe(0);
    expect(cloud.mutatingCalls(mark)).toEqual([]);
    expect(readFileSync(config, 'utf8')).toBe(text);
  });

  it('destroy never deletes the state bucket and its sweep does not report it', async () => {
    const config = configFile();
    expect((await run(config, 'init', '--remote-state')).code).toBe(0);
    const up = await run(config, 'up', '--yes', '--to', '1');
    expect(up.code, up.text.slice(-2000)).toBe(0);
    const destroy = await run(config, 'destroy', '--yes');
    expect(destroy.code, destroy.text.slice(-2000)).toBe(0);
    expect(destroy.text).not.toContain(BUCKET);
    expect(cloud.resources({ type: 's3:bucket', live: true }).map((r) => r.id)).toEqual([BUCKET]);
    // The fake counts every untagged resource as a possible leftover: all but the state bucket
    // are gone.
    expect(cloud.leftovers('cloudmart').filter((l) => !l.kept && l.id !== BUCKET)).toEqual([]);
    expect(
      cloud.calls.filter(
        (c) =>
          (c.input as { Bucket?: string }).Bucket === BUCKET &&
          /^Delete(Bucket|Objects)/.test(c.command),
      ),
    ).toEqual([]);
    // The state of both runs is in the bucket.
    const state = JSON.parse(await (await s3('GetObject', { Key: KEY })).Body.transformToString());
    expect(state.runs.map((r: { command: string }) => r.command)).toEqual(['up', 'destroy']);
  }, 120_000);
});

describe('state push / pull', () => {
  it("push moves a local state to S3, refuses to drop a teammate's run in S3 without --force; pull brings it back", async () => {
    const config = configFile();
    const dir = join(config, '..');
    const local = join(dir, '.cloudmart', 'cloudmart.state.json');
    // A local state first (no state: block yet), then the bucket and the block.
    expect((await run(config, 'up', '--yes', '--step', 'network.vpc')).code).toBe(0);
    const localText = readFileSync(local, 'utf8');
    expect((await run(config, 'init', '--remote-state')).code).toBe(0);
    const push = await run(config, 'state', 'push');
    expect(push.code, push.text).toBe(0);
    expect(push.text).toContain(`Pushed ${local} (1 step done, 1 run`);
    expect(await (await s3('GetObject', { Key: KEY })).Body.transformToString()).toBe(localText);
    expect((await run(config, 'state', 'push')).text).toContain('nothing written');
    // A teammate runs on the S3 state: it now holds a run the local file does not.
    expect((await run(config, 'up', '--yes', '--step', 'network.igw')).code).toBe(0);
    const remoteText = await (await s3('GetObject', { Key: KEY })).Body.transformToString();
    const refused = await run(config, 'state', 'push');
    expect(refused.code).toBe(1);
    expect(refused.text).toContain(`s3://${BUCKET}/${KEY} holds work that ${local} does not`);
    expect(await (await s3('GetObject', { Key: KEY })).Body.transformToString()).toBe(remoteText);
    // Pull brings the newer one home; the locks are released.
    const pull = await run(config, 'state', 'pull');
    expect(pull.code, pull.text).toBe(0);
    expect(pull.text).toContain(`Pulled s3://${BUCKET}/${KEY} (2 steps done, 2 runs`);
    expect(pull.text).toContain(`to ${local}, replacing a state with 1 step done`);
    expect(readFileSync(local, 'utf8')).toBe(remoteText);
    await expect(s3('GetObject', { Key: `${KEY}.lock` })).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
    // --force replaces a newer S3 state with the older local one (the bucket keeps versions).
    writeFileSync(local, localText);
    const forced = await run(config, 'state', 'push', '--force');
    expect(forced.code, forced.text).toBe(0);
    const versions = (await cloud.callAll('s3', 'ListObjectVersions', {
      Bucket: BUCKET,
      Prefix: KEY,
    })) as Record<string, any>;
    expect(
      versions.Versions.filter((v: { Key: string }) => v.Key === KEY).length,
    ).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('without an S3 state configured: a usage error naming init --remote-state', async () => {
    const config = configFile();
    const r = await run(config, 'state', 'push');
    expect(r.code).toBe(2);
    expect(r.text).toContain('cloudmart init --remote-state');
  });
});
