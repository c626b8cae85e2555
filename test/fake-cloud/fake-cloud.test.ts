import { CreateLogGroupCommand, CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CreateTrailCommand, CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import {
  CreateVpcCommand,
  DescribeKeyPairsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type DescribeVpcsCommandOutput,
} from '@aws-sdk/client-ec2';
import {
  CreateDBSubnetGroupCommand,
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  afterMutatingCall,
  FakeCloud,
  FakeNotImplementedError,
  faults,
  randomFaults,
  type CallEvent,
} from '../helpers/fake-cloud/index.js';

const REGION = 'ap-northeast-2';
const vpcTags = (name: string, extra: Record<string, string> = {}) => [
  {
    ResourceType: 'vpc' as const,
    Tags: Object.entries({ Name: name, 'cloudmart:stack': 'cloudmart', ...extra }).map(
      ([Key, Value]) => ({ Key, Value }),
    ),
  },
];

describe('FakeCloud: installation and dispatch', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ startAt: Date.UTC(2025, 0, 1) }).install();
  });
  afterEach(() => cloud.uninstall());

  it('serves every SDK client class by command name and by the client region', async () => {
    const seoul = new EC2Client({ region: REGION, maxAttempts: 1 });
    const tokyo = new EC2Client({ region: 'ap-northeast-1', maxAttempts: 1 });
    const out = await seoul.send(
      new CreateVpcCommand({ CidrBlock: '10.0.0.0/16', TagSpecifications: vpcTags('a') }),
    );
    expect(out.Vpc?.VpcId).toMatch(/^vpc-0[0-9a-f]{16}$/);
    expect(out.Vpc?.State).toBe('pending');
    expect(out.$metadata.httpStatusCode).toBe(200);
    // Each region holds its own default VPC besides what was created there.
    const inSeoul = (await seoul.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
    const inTokyo = (await tokyo.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
    expect(inSeoul.map((v) => [v.VpcId, v.IsDefault])).toEqual([
      [expect.stringMatching(/^vpc-0/), true],
      [out.Vpc?.VpcId, false],
    ]);
    expect(inTokyo.map((v) => [v.CidrBlock, v.IsDefault])).toEqual([['172.31.0.0/16', true]]);
    expect(inTokyo[0]?.VpcId).not.toBe(inSeoul[0]?.VpcId);
    expect(cloud.calls.map((c) => `${c.region} ${c.service}.${c.command} ${c.mutating}`)).toEqual([
      `${REGION} ec2.CreateVpc true`,
      `${REGION} ec2.DescribeVpcs false`,
      'ap-northeast-1 ec2.DescribeVpcs false',
    ]);
  });

  it('stores tags from every form the APIs take them in, with ARNs of account 123456789012', async () => {
    await new EC2Client({ region: REGION }).send(
      new CreateVpcCommand({ CidrBlock: '10.0.0.0/16', TagSpecifications: vpcTags('net') }),
    );
    const vpc = cloud.resources({ type: 'ec2:vpc', system: false })[0]!;
    await new RDSClient({ region: REGION }).send(
      new CreateDBSubnetGroupCommand({
        DBSubnetGroupName: 'Grp',
        DBSubnetGroupDescription: 'd',
        SubnetIds: await twoSubnets(cloud, vpc.id),
        Tags: [{ Key: 'Name', Value: 'grp' }],
      }),
    );
    await new CloudWatchLogsClient({ region: REGION }).send(
      new CreateLogGroupCommand({ logGroupName: '/x', tags: { Name: 'logs' } }),
    );
    await cloud.call('s3', 'CreateBucket', {
      Bucket: 'trail-bucket',
      CreateBucketConfiguration: { LocationConstraint: REGION },
    });
    await cloud.call('s3', 'PutBucketPolicy', {
      Bucket: 'trail-bucket',
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: ['s3:GetBucketAcl', 's3:PutObject'].map((Action) => ({
          Effect: 'Allow',
          Principal: { Service: 'cloudtrail.amazonaws.com' },
          Action,
          Resource: 'arn:aws:s3:::trail-bucket/*',
        })),
      }),
    });
    await new CloudTrailClient({ region: REGION }).send(
      new CreateTrailCommand({
        Name: 'T',
        S3BucketName: 'trail-bucket',
        TagsList: [{ Key: 'Name', Value: 'trail' }],
      }),
    );

    const byType = Object.fromEntries(cloud.resources({ system: false }).map((r) => [r.type, r]));
    expect(byType['ec2:vpc']).toMatchObject({
      arn: `arn:aws:ec2:${REGION}:123456789012:vpc/${vpc.id}`,
      tags: { Name: 'net', 'cloudmart:stack': 'cloudmart' },
    });
    expect(byType['rds:subgrp']).toMatchObject({
      id: 'grp',
      arn: `arn:aws:rds:${REGION}:123456789012:subgrp:grp`,
      tags: { Name: 'grp' },
    });
    expect(byType['logs:log-group']?.tags).toEqual({ Name: 'logs' });
    expect(byType['cloudtrail:trail']).toMatchObject({
      arn: `arn:aws:cloudtrail:${REGION}:123456789012:trail/T`,
      tags: { Name: 'trail' },
    });
  });

  it('answers an operation it does not model with a clear error naming it', async () => {
    const ec2 = new EC2Client({ region: REGION, maxAttempts: 1 });
    const e = await ec2.send(new DescribeKeyPairsCommand({})).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FakeNotImplementedError);
    expect((e as Error).message).toBe(
      'FakeCloud does not implement ec2.DescribeKeyPairs (add a handler in test/helpers/fake-cloud/services/)',
    );
  });

  it('throws service errors shaped like the SDK: name, message, $fault, status, class', async () => {
    const rds = new RDSClient({ region: REGION, maxAttempts: 1 });
    const e = await rds
      .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nope' }))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DBInstanceNotFoundFault);
    expect(e).toMatchObject({
      name: 'DBInstanceNotFoundFault',
      message: 'DBInstance nope not found.',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, attempts: 1 },
    });
    const ec2 = await cloud
      .call('ec2', 'DescribeVpcs', { VpcIds: ['vpc-0123'] })
      .catch((x: unknown) => x);
    expect(ec2).toMatchObject({
      name: 'InvalidVpcID.NotFound',
      message: "The vpc ID 'vpc-0123' does not exist",
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('answers STS GetCallerIdentity with the fake account', async () => {
    const out = await new STSClient({ region: REGION }).send(new GetCallerIdentityCommand({}));
    expect(out.Account).toBe('123456789012');
    expect(out.Arn).toBe('arn:aws:iam::123456789012:user/cloudmart-operator');
  });

  it('gives the SDK classes their own send back on uninstall', () => {
    const stubbed = EC2Client.prototype.send as unknown as { restore?: unknown };
    expect(typeof stubbed.restore).toBe('function');
    cloud.uninstall();
    expect((EC2Client.prototype.send as unknown as { restore?: unknown }).restore).toBeUndefined();
  });
});

describe('FakeCloud: hooks, faults and the SDK retries', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud().install();
  });
  afterEach(() => cloud.uninstall());

  it('lets a before-hook fail a call without any effect', async () => {
    cloud.onCall((e: CallEvent) => {
      if (e.phase === 'before' && e.command === 'CreateVpc') throw faults.throttling('ec2');
    });
    const ec2 = new EC2Client({ region: REGION, maxAttempts: 1 });
    const e = await ec2
      .send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ name: 'RequestLimitExceeded' });
    expect(cloud.resources({ type: 'ec2:vpc', system: false })).toEqual([]);
    expect(cloud.calls[0]).toMatchObject({ command: 'CreateVpc', error: 'RequestLimitExceeded' });
  });

  it('replays the SDK retries of transient errors up to the client maxAttempts', async () => {
    let n = 0;
    cloud.onCall((e) => {
      if (e.phase !== 'before' || n >= 2) return;
      n++;
      throw n === 1 ? faults.connectionReset() : faults.serverError('ec2', 503);
    });
    const ec2 = new EC2Client({ region: REGION, maxAttempts: 3 });
    const out = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    expect(out.$metadata.attempts).toBe(3);
    expect(cloud.calls.map((c) => [c.attempt, c.error])).toEqual([
      [1, 'Error'],
      [2, 'ServiceUnavailable'],
      [3, undefined],
    ]);
    expect(cloud.resources({ type: 'ec2:vpc', system: false })).toHaveLength(1);
  });

  it('does not retry client errors', async () => {
    const ec2 = new EC2Client({ region: REGION, maxAttempts: 5 });
    await expect(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-0x'] }))).rejects.toMatchObject({
      name: 'InvalidVpcID.NotFound',
    });
    expect(cloud.calls).toHaveLength(1);
  });

  it('models a lost response: an after-hook failure leaves the change applied', async () => {
    cloud.onCall(
      afterMutatingCall(1, () => {
        throw faults.connectionReset();
      }),
    );
    const ec2 = new EC2Client({ region: REGION, maxAttempts: 1 });
    await expect(
      ec2.send(
        new CreateVpcCommand({ CidrBlock: '10.0.0.0/16', TagSpecifications: vpcTags('lost') }),
      ),
    ).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(cloud.resources({ type: 'ec2:vpc', system: false }).map((r) => r.tags.Name)).toEqual([
      'lost',
    ]);
  });

  it('injects random faults on a share of calls, reproducibly', async () => {
    const run = async (seed: number) => {
      const c = new FakeCloud();
      const hook = randomFaults({ share: 0.5, seed, kinds: ['throttling', 'reset'] });
      c.onCall(hook);
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        outcomes.push(
          await c.call('ec2', 'DescribeVpcs', {}).then(
            () => 'ok',
            (e: Error & { code?: string }) => e.code ?? e.name,
          ),
        );
      }
      return { outcomes, injected: hook.injected, total: hook.total() };
    };
    const a = await run(7);
    expect(a).toEqual(await run(7));
    expect(a.total).toBe(a.outcomes.filter((o) => o !== 'ok').length);
    expect(a.total).toBeGreaterThan(3);
    expect(a.total).toBeLessThan(17);
    expect(new Set(a.outcomes)).toEqual(new Set(['ok', 'RequestLimitExceeded', 'ECONNRESET']));
  });

  it('removes a hook with the function onCall returns', async () => {
    const seen: string[] = [];
    const off = cloud.onCall((e) => seen.push(`${e.phase} ${e.command}`));
    await cloud.call('ec2', 'DescribeVpcs');
    off();
    await cloud.call('ec2', 'DescribeVpcs');
    expect(seen).toEqual(['before DescribeVpcs', 'after DescribeVpcs']);
  });

  it('lists mutating calls since a mark', async () => {
    await cloud.call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' });
    const mark = cloud.lastSeq;
    await cloud.call('ec2', 'DescribeVpcs');
    await cloud.call('ec2', 'CreateInternetGateway');
    expect(cloud.mutatingCalls(mark).map((c) => c.command)).toEqual(['CreateInternetGateway']);
    expect(cloud.mutatingCalls().map((c) => c.command)).toEqual([
      'CreateVpc',
      'CreateInternetGateway',
    ]);
    await expect(cloud.call('ec2', 'DeleteVpc', { VpcId: 'vpc-0nope' })).rejects.toMatchObject({
      name: 'InvalidVpcID.NotFound',
    });
    expect(cloud.mutatingCalls(mark).map((c) => `${c.command} ${c.error ?? 'ok'}`)).toEqual([
      'CreateInternetGateway ok',
      'DeleteVpc InvalidVpcID.NotFound',
    ]);
    expect(cloud.mutatingCalls(mark, { succeeded: true }).map((c) => c.command)).toEqual([
      'CreateInternetGateway',
    ]);
  });
});

describe('FakeCloud: inventory', () => {
  it('counts live resources per type and leaves out what AWS owns', async () => {
    const cloud = new FakeCloud();
    await cloud.call('ec2', 'CreateVpc', {
      CidrBlock: '10.0.0.0/16',
      TagSpecifications: vpcTags('v'),
    });
    await cloud.call('iam', 'CreateServiceLinkedRole', {
      AWSServiceName: 'autoscaling.amazonaws.com',
    });
    // The VPC's default security group and main route table come with it.
    expect(cloud.countByType()).toEqual({
      'ec2:vpc': 1,
      'ec2:security-group': 1,
      'ec2:route-table': 1,
    });
  });

  it('finds duplicates: same type, region and Name tag twice', async () => {
    const cloud = new FakeCloud();
    for (const name of ['a', 'a', 'b']) {
      await cloud.call('ec2', 'CreateVpc', {
        CidrBlock: '10.0.0.0/16',
        TagSpecifications: vpcTags(name),
      });
    }
    const [dup, ...rest] = cloud.duplicates();
    expect(rest).toEqual([]);
    expect(dup).toMatchObject({ type: 'ec2:vpc', region: REGION, name: 'a' });
    expect(dup?.ids).toHaveLength(2);
  });

  it('reports leftovers of a stack, keys pending deletion and their aliases as kept', async () => {
    const cloud = new FakeCloud();
    await cloud.call('ec2', 'CreateVpc', {
      CidrBlock: '10.0.0.0/16',
      TagSpecifications: vpcTags('mine'),
    });
    await cloud.call('ec2', 'CreateVpc', {
      CidrBlock: '10.0.0.0/16',
      TagSpecifications: vpcTags('theirs', { 'cloudmart:stack': 'other' }),
    });
    const key = (await cloud.call('kms', 'CreateKey', {
      Tags: [{ TagKey: 'cloudmart:stack', TagValue: 'cloudmart' }],
    })) as { KeyMetadata: { KeyId: string } };
    await cloud.call('kms', 'CreateAlias', {
      AliasName: 'alias/x',
      TargetKeyId: key.KeyMetadata.KeyId,
    });
    await cloud.call('kms', 'ScheduleKeyDeletion', {
      KeyId: key.KeyMetadata.KeyId,
      PendingWindowInDays: 7,
    });

    const mine = cloud
      .resources({ type: 'ec2:vpc', system: false })
      .find((r) => r.tags.Name === 'mine')!;
    const left = cloud
      .leftovers('cloudmart')
      .map((l) => `${l.type} ${l.tags.Name ?? l.owner ?? l.id} kept=${l.kept}`);
    // The VPC's default security group and main route table are untagged: they belong to it.
    expect(left.sort()).toEqual(
      [
        'ec2:vpc mine kept=false',
        `ec2:security-group ${mine.id} kept=false`,
        `ec2:route-table ${mine.id} kept=false`,
        `kms:key ${key.KeyMetadata.KeyId} kept=true`,
        `kms:alias ${key.KeyMetadata.KeyId} kept=true`,
      ].sort(),
    );
    expect(left.some((l) => l.includes('theirs'))).toBe(false);
  });
});

async function twoSubnets(cloud: FakeCloud, vpcId: string): Promise<string[]> {
  const ids: string[] = [];
  for (const [cidr, az] of [
    ['10.0.1.0/24', `${REGION}a`],
    ['10.0.2.0/24', `${REGION}c`],
  ] as const) {
    const out = (await cloud.call('ec2', 'CreateSubnet', {
      VpcId: vpcId,
      CidrBlock: cidr,
      AvailabilityZone: az,
    })) as { Subnet: { SubnetId: string } };
    ids.push(out.Subnet.SubnetId);
  }
  return ids;
}

export type { DescribeVpcsCommandOutput };
