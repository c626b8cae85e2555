import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/engine.js';
import { FakeCloud, type FakeCloudJSON } from '../helpers/fake-cloud/index.js';

const CHILD = join(import.meta.dirname, 'fixtures', 'child.ts');

function runChild(file: string, mode?: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', CHILD, file, ...(mode ? [mode] : [])], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
}

async function someResources(cloud: FakeCloud) {
  const vpc = (await cloud.call('ec2', 'CreateVpc', {
    CidrBlock: '10.0.0.0/16',
    TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'v' }] }],
  })) as { Vpc: { VpcId: string } };
  await cloud.call('s3', 'CreateBucket', {
    Bucket: 'b-1',
    CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-2' },
  });
  await cloud.call('s3', 'PutObject', { Bucket: 'b-1', Key: 'k', Body: 'hello' });
  await cloud.call('secretsmanager', 'CreateSecret', { Name: 's', SecretString: 'value' });
  return vpc.Vpc.VpcId;
}

describe('FakeCloud: JSON and files', () => {
  it('round-trips through JSON with resources, timelines, tokens and the clock', async () => {
    const cloud = new FakeCloud({ mode: 'virtual', startAt: Date.UTC(2025, 0, 1) });
    const vpcId = await someResources(cloud);
    const json = JSON.parse(JSON.stringify(cloud.toJSON())) as FakeCloudJSON;
    const copy = FakeCloud.fromJSON(json);

    expect(copy.mode).toBe('virtual');
    expect(copy.now()).toBe(cloud.now());
    expect(copy.resources()).toEqual(cloud.resources());
    // The VPC was pending (2 simulated seconds in virtual mode): the copy finishes the job.
    expect(copy.resource('ec2:vpc', 'ap-northeast-2', vpcId)?.state).toBe('pending');
    copy.advance(2_000);
    expect(copy.resource('ec2:vpc', 'ap-northeast-2', vpcId)?.state).toBe('available');
    expect(await copy.call('secretsmanager', 'GetSecretValue', { SecretId: 's' })).toMatchObject({
      SecretString: 'value',
    });
    // The id generator carries on where it stopped: no id is handed out twice.
    const next = (await copy.call('ec2', 'CreateVpc', { CidrBlock: '10.1.0.0/16' })) as {
      Vpc: { VpcId: string };
    };
    const again = (await cloud.call('ec2', 'CreateVpc', { CidrBlock: '10.1.0.0/16' })) as {
      Vpc: { VpcId: string };
    };
    expect(next.Vpc.VpcId).toBe(again.Vpc.VpcId);
    expect(next.Vpc.VpcId).not.toBe(vpcId);
  });

  it('refuses JSON of an unknown version', () => {
    expect(() => FakeCloud.fromJSON({ version: 2 } as unknown as FakeCloudJSON)).toThrow(
      'fake cloud JSON: unknown version 2',
    );
  });

  it('mirrors into its file after every mutating call, atomically', async () => {
    const file = join(tempDir(), 'cloud.json');
    const cloud = new FakeCloud();
    cloud.saveTo(file);
    const read = () => JSON.parse(readFileSync(file, 'utf8')) as FakeCloudJSON;
    expect(read().world.resources).toEqual([]);

    await cloud.call('ec2', 'DescribeVpcs');
    expect(read().seq).toBe(0);
    await cloud.call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' });
    // The VPC with its default group and main table, beside the region's default VPC.
    expect(
      read()
        .world.resources.filter((r) => !r.system)
        .map((r) => r.type)
        .sort(),
    ).toEqual(['ec2:route-table', 'ec2:security-group', 'ec2:vpc']);
    // Only the file itself is left: the temp file was renamed over it.
    expect(readdirSync(join(file, '..'))).toEqual(['cloud.json']);

    const loaded = FakeCloud.loadFrom(file);
    expect(loaded.resources()).toEqual(cloud.resources());
    await loaded.call('ec2', 'CreateInternetGateway');
    expect(read().world.resources.map((r) => r.type)).toContain('ec2:internet-gateway');
  });

  it('is shared with a child process that loads it, uses it through the SDK and exits', async () => {
    const file = join(tempDir(), 'cloud.json');
    const cloud = new FakeCloud();
    cloud.saveTo(file);
    const child = runChild(file);
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const vpcId = child.stdout.trim();
    expect(vpcId).toMatch(/^vpc-0[0-9a-f]{16}$/);
    const after = FakeCloud.loadFrom(file);
    expect(after.resources({ type: 'ec2:vpc', system: false })).toMatchObject([
      { id: vpcId, tags: { Name: 'child-ok' } },
    ]);
  });

  it('keeps what a child killed with SIGKILL right after a create had already done', () => {
    const file = join(tempDir(), 'cloud.json');
    new FakeCloud().saveTo(file);
    const child = runChild(file, 'kill');
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).toBe('');
    expect(existsSync(file)).toBe(true);
    const after = FakeCloud.loadFrom(file);
    // The VPC exists although the child never saw the answer: the next run must find it by tag.
    expect(after.resources({ type: 'ec2:vpc', system: false })).toMatchObject([
      { tags: { Name: 'child-kill' } },
    ]);
    expect(after.calls).toEqual([]);
  });
});
