import { join } from 'node:path';
import { CreateSubnetCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { checkRequest, stats, takeExpected } from '../helpers/aws-models/check.js';
import { documentedStates, validate } from '../helpers/aws-models/models.js';
import { strictMock, TestAws } from '../helpers/context.js';

/** The validator itself: AWS's own models (../shared/aws-models) must refuse what AWS refuses. */
const input = (service: string, shape: string, value: unknown) =>
  validate(service, shape, value, 'input').map((v) => `${v.path}: ${v.message}`);
const output = (service: string, shape: string, value: unknown) =>
  validate(service, shape, value, 'output').map((v) => `${v.path}: ${v.message}`);

describe('AWS model validator: requests', () => {
  it('names a missing required member', () => {
    expect(input('ec2', 'CreateSubnetRequest', { CidrBlock: '10.0.0.0/24' })).toEqual([
      expect.stringMatching(/^VpcId: is required/),
    ]);
  });

  it('names a member the model does not have', () => {
    expect(input('ec2', 'DescribeVpcsRequest', { VpcId: 'vpc-1' })).toEqual([
      expect.stringMatching(/^VpcId: is not a member of DescribeVpcsRequest/),
    ]);
  });

  it('checks enums, also deep inside lists of structures', () => {
    expect(
      input('ec2', 'CreateVpcRequest', {
        CidrBlock: '10.0.0.0/16',
        TagSpecifications: [{ ResourceType: 'vpcs', Tags: [{ Key: 'a', Value: 'b' }] }],
      }),
    ).toEqual([
      expect.stringMatching(
        /^TagSpecifications\[0\]\.ResourceType: the string "vpcs" is not one of ResourceType/,
      ),
    ]);
  });

  it('checks string length and pattern', () => {
    expect(input('iam', 'GetRoleRequest', { RoleName: 'r'.repeat(65) })).toEqual([
      expect.stringMatching(/^RoleName: is 65 characters; AWS allows at most 64/),
    ]);
    expect(input('iam', 'GetRoleRequest', { RoleName: 'no spaces' })).toEqual([
      expect.stringMatching(/^RoleName: .* does not match/),
    ]);
  });

  it('checks number ranges and list lengths', () => {
    expect(input('ec2', 'DescribeVpcsRequest', { MaxResults: 1 })).toEqual([
      expect.stringMatching(/^MaxResults: is 1; AWS requires ≥ 5/),
    ]);
    const names = Array.from({ length: 101 }, (_, i) => `alarm-${i}`);
    expect(input('cloudwatch', 'DescribeAlarmsInput', { AlarmNames: names })).toEqual([
      expect.stringMatching(/^AlarmNames: has 101 items; AWS allows at most 100/),
    ]);
  });

  it('takes timestamps as Date and bytes as Uint8Array or string, as the SDK does', () => {
    const query = [{ Id: 'q', Expression: 'SELECT 1' }];
    expect(
      input('cloudwatch', 'GetMetricDataInput', {
        MetricDataQueries: query,
        StartTime: new Date(0),
        EndTime: new Date(1),
      }),
    ).toEqual([]);
    expect(
      input('cloudwatch', 'GetMetricDataInput', {
        MetricDataQueries: query,
        StartTime: '2024-01-01T00:00:00Z',
        EndTime: new Date(1),
      }),
    ).toEqual([expect.stringMatching(/^StartTime: expected a Date/)]);
    expect(
      input('kms', 'EncryptRequest', { KeyId: 'alias/x', Plaintext: new Uint8Array([1]) }),
    ).toEqual([]);
  });

  it('reads Route 53 ids the way the SDK sends them (without /hostedzone/)', () => {
    expect(
      input('route53', 'GetHostedZoneRequest', { Id: '/hostedzone/Z0123456789ABCDEFGHIJ' }),
    ).toEqual([]);
  });
});

describe('AWS model validator: answers', () => {
  it('refuses members AWS does not send and wrong types, accepts what the SDK hands back', () => {
    expect(
      output('ec2', 'DescribeVpcsResult', { Vpcs: [{ VpcId: 'vpc-1', State: 'available' }] }),
    ).toEqual([]);
    expect(output('ec2', 'DescribeVpcsResult', { Vpcs: [{ VpcID: 'vpc-1' }] })).toEqual([
      expect.stringMatching(/^Vpcs\[0\]\.VpcID: is not a member AWS sends/),
    ]);
    expect(output('ec2', 'DescribeVpcsResult', { Vpcs: [{ IsDefault: 'false' }] })).toEqual([
      expect.stringMatching(/^Vpcs\[0\]\.IsDefault: expected a boolean/),
    ]);
    expect(output('ec2', 'DescribeVpcsResult', { Vpcs: [{ State: 'ready' }] })).toEqual([
      expect.stringMatching(/is not one of VpcState/),
    ]);
  });

  it('accepts a state the member documentation names although the enum lacks it', () => {
    expect(
      output('ec2', 'DescribeInternetGatewaysResult', {
        InternetGateways: [{ Attachments: [{ State: 'available', VpcId: 'vpc-1' }] }],
      }),
    ).toEqual([]);
  });
});

describe('AWS model states', () => {
  it('collects enum values and waiter acceptors', () => {
    expect(documentedStates('rds', 'DBInstanceStatus')).toContain('available');
    expect(documentedStates('ec2', 'State')).toContain('available');
    expect(documentedStates('cloudfront', 'Status')).toContain('Deployed');
  });
});

describe('the hook', () => {
  it('checks every command a strict mock receives, naming where it was sent from', async () => {
    const ec2 = strictMock(EC2Client);
    ec2.on(CreateSubnetCommand).resolves({});
    ec2.on(DescribeVpcsCommand).resolves({});
    const before = stats().requests;
    const client = await new TestAws().get('ec2');
    await client.send(new CreateSubnetCommand({ CidrBlock: '10.0.0.0/24' } as never));
    await client.send(new DescribeVpcsCommand({ VpcIds: ['vpc-1'] }));
    const found = takeExpected();
    expect(stats().requests - before).toBe(2);
    expect(found).toEqual([
      expect.objectContaining({
        kind: 'request',
        service: 'ec2',
        operation: 'CreateSubnet',
        path: 'VpcId',
        where: expect.stringMatching(/^test\/aws-models\/validator\.test\.ts:\d+$/),
      }),
    ]);
  });

  it('counts a paginated list src/ reads without its paginator', () => {
    const step = join(
      import.meta.dirname,
      '..',
      '..',
      'src',
      'steps',
      'phase1-foundation',
      'vpc.ts',
    );
    const stack = `Error\n    at findVpc (${step}:16:3)`;
    const found = checkRequest('ec2', 'DescribeVpcsCommand', { Filters: [] }, stack);
    takeExpected();
    expect(found.map((f) => f.kind)).toEqual(['unpaginated']);
    expect(found[0]?.where).toBe('src/steps/phase1-foundation/vpc.ts:16');
    expect(checkRequest('ec2', 'DescribeVpcsCommand', { VpcIds: ['vpc-1'] }, stack)).toEqual([]);
  });
});
