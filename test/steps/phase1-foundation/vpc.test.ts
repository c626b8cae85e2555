import {
  CreateVpcCommand,
  DeleteVpcCommand,
  DescribeVpcAttributeCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { vpcStep } from '../../../src/steps/phase1-foundation/vpc.js';
import { ACCOUNT, awsError, strictMock, testContext } from '../../helpers/context.js';

const TAG_FILTERS = [
  { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
  { Name: 'tag:cloudmart:step', Values: ['network.vpc'] },
];

describe('network.vpc', () => {
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({ stepId: vpcStep.id, ...over });
  const ours = (id: string, extra: object = {}) => ({
    VpcId: id,
    State: 'available' as const,
    CidrBlock: '10.0.0.0/16',
    Tags: [
      { Key: 'cloudmart:stack', Value: 'cloudmart' },
      { Key: 'cloudmart:step', Value: 'network.vpc' },
    ],
    ...extra,
  });
  const dnsOn = () => {
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsSupport' })
      .resolves({ EnableDnsSupport: { Value: true } });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsHostnames' })
      .resolves({ EnableDnsHostnames: { Value: true } });
  };

  it('creates the VPC with the seed CIDR, tagged at creation, and turns DNS hostnames on', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    ec2
      .on(CreateVpcCommand)
      .resolves({ Vpc: { VpcId: 'vpc-1', State: 'available', CidrBlock: '10.0.0.0/16' } });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsSupport' })
      .resolves({ EnableDnsSupport: { Value: true } });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsHostnames' })
      .resolves({ EnableDnsHostnames: { Value: false } });
    ec2.on(ModifyVpcAttributeCommand).resolves({});

    const out = await vpcStep.create(ctx());

    expect(out).toEqual({ vpcId: 'vpc-1', cidr: '10.0.0.0/16' });
    const create = ec2.commandCalls(CreateVpcCommand);
    expect(create).toHaveLength(1);
    expect(create[0]!.args[0].input).toEqual({
      CidrBlock: '10.0.0.0/16',
      TagSpecifications: [
        {
          ResourceType: 'vpc',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-vpc' },
            { Key: 'cloudmart:stack', Value: 'cloudmart' },
            { Key: 'cloudmart:step', Value: 'network.vpc' },
            { Key: 'Project', Value: 'CloudMart' },
          ]),
        },
      ],
    });
    expect(ec2.commandCalls(ModifyVpcAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { VpcId: 'vpc-1', EnableDnsHostnames: { Value: true } },
    ]);
  });

  it('right after CreateVpc, waits out InvalidVpcID.NotFound on the describe, the attribute reads and ModifyVpcAttribute', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    ec2.on(CreateVpcCommand).resolves({ Vpc: { VpcId: 'vpc-1', State: 'pending' } });
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-1'] })
      .rejectsOnce(awsError('InvalidVpcID.NotFound'))
      .resolves({ Vpcs: [{ VpcId: 'vpc-1', State: 'available' }] });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsSupport' })
      .rejectsOnce(awsError('InvalidVpcID.NotFound'))
      .resolves({ EnableDnsSupport: { Value: true } });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsHostnames' })
      .resolves({ EnableDnsHostnames: { Value: false } });
    ec2.on(ModifyVpcAttributeCommand).rejectsOnce(awsError('InvalidVpcID.NotFound')).resolves({});
    const c = ctx();

    await expect(vpcStep.create(c)).resolves.toEqual({ vpcId: 'vpc-1', cidr: '10.0.0.0/16' });

    expect(ec2.commandCalls(CreateVpcCommand)).toHaveLength(1);
    expect(ec2.commandCalls(ModifyVpcAttributeCommand).map((x) => x.args[0].input)).toEqual([
      { VpcId: 'vpc-1', EnableDnsHostnames: { Value: true } },
      { VpcId: 'vpc-1', EnableDnsHostnames: { Value: true } },
    ]);
    expect(c.progressLog).toContain(
      'VPC cloudmart-vpc: not visible yet (InvalidVpcID.NotFound) (0s)',
    );
    expect(
      c.progressLog.some((l) =>
        l.startsWith(
          'enabling DNS hostnames on vpc-1 (just created; AWS may not show it yet): waiting (InvalidVpcID.NotFound)',
        ),
      ),
    ).toBe(true);
  });

  it('gives up on NotFound after a bounded time even right after the create', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    ec2.on(CreateVpcCommand).resolves({ Vpc: { VpcId: 'vpc-1', State: 'available' } });
    ec2.on(DescribeVpcAttributeCommand).rejects(awsError('InvalidVpcID.NotFound'));
    const c = ctx();

    await expect(vpcStep.create(c)).rejects.toThrow('InvalidVpcID.NotFound');
    expect(c.slept()).toBeGreaterThanOrEqual(120_000);
    expect(c.slept()).toBeLessThan(130_000);
  });

  it('does not retry NotFound on a VPC it adopted', async () => {
    ec2
      .on(DescribeVpcsCommand)
      .resolves({ Vpcs: [{ VpcId: 'vpc-9', State: 'available', CidrBlock: '10.0.0.0/16' }] });
    ec2.on(DescribeVpcAttributeCommand).rejects(awsError('InvalidVpcID.NotFound'));
    const c = ctx();

    await expect(vpcStep.create(c)).rejects.toThrow('InvalidVpcID.NotFound');
    expect(c.slept()).toBe(0);
  });

  it('adopts the tagged VPC and sends no create when it already exists', async () => {
    ec2
      .on(DescribeVpcsCommand)
      .resolves({ Vpcs: [{ VpcId: 'vpc-9', State: 'available', CidrBlock: '10.0.0.0/16' }] });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsSupport' })
      .resolves({ EnableDnsSupport: { Value: true } });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsHostnames' })
      .resolves({ EnableDnsHostnames: { Value: true } });

    const out = await vpcStep.create(ctx());

    expect(out.vpcId).toBe('vpc-9');
    expect(ec2.commandCalls(CreateVpcCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyVpcAttributeCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DescribeVpcsCommand)[0]!.args[0].input.Filters).toEqual([
      { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
      { Name: 'tag:cloudmart:step', Values: ['network.vpc'] },
    ]);
  });

  it('verify reports DNS hostnames turned off', async () => {
    ec2
      .on(DescribeVpcsCommand)
      .resolves({ Vpcs: [{ VpcId: 'vpc-9', State: 'available', CidrBlock: '10.0.0.0/16' }] });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsSupport' })
      .resolves({ EnableDnsSupport: { Value: true } });
    ec2
      .on(DescribeVpcAttributeCommand, { Attribute: 'enableDnsHostnames' })
      .resolves({ EnableDnsHostnames: { Value: false } });

    const checks = await vpcStep.verify(ctx());
    expect(checks.find((c) => c.id === 'network.vpc.dns')?.status).toBe('fail');
    expect(checks.find((c) => c.id === 'network.vpc.cidr')?.status).toBe('pass');
  });

  it('adopts the VPC in the state and deletes an empty spare of the stack, on a run that creates nothing', async () => {
    // The spare a lost CreateVpc answer left on an earlier run, listed first.
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [ours('vpc-spare'), ours('vpc-1')] });
    ec2.on(DeleteVpcCommand).resolves({});
    dnsOn();
    const c = ctx({ previous: { vpcId: 'vpc-1', cidr: '10.0.0.0/16' } });

    await expect(vpcStep.create(c)).resolves.toEqual({ vpcId: 'vpc-1', cidr: '10.0.0.0/16' });

    expect(ec2.commandCalls(CreateVpcCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteVpcCommand).map((x) => x.args[0].input)).toEqual([
      { VpcId: 'vpc-spare' },
    ]);
    expect(c.progressLog).toContain('deleting vpc-spare, a spare of vpc-1');
  });

  it('keeps a spare that holds resources: AWS refuses DeleteVpc with DependencyViolation, once, and up warns', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [ours('vpc-1'), ours('vpc-busy')] });
    ec2.on(DeleteVpcCommand).rejects(awsError('DependencyViolation'));
    dnsOn();
    const c = ctx({ previous: { vpcId: 'vpc-1', cidr: '10.0.0.0/16' } });

    await expect(vpcStep.create(c)).resolves.toEqual({ vpcId: 'vpc-1', cidr: '10.0.0.0/16' });

    expect(ec2.commandCalls(DeleteVpcCommand).map((x) => x.args[0].input)).toEqual([
      { VpcId: 'vpc-busy' },
    ]);
    expect(c.slept()).toBe(0);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toContain('vpc-busy');
    expect(c.warnings[0]).toContain('DependencyViolation');
  });

  it('without a state, adopts the tagged VPC that holds subnets and deletes the empty one', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [ours('vpc-empty'), ours('vpc-2')] });
    ec2
      .on(DescribeSubnetsCommand, {
        Filters: [{ Name: 'vpc-id', Values: ['vpc-empty', 'vpc-2'] }],
      })
      .resolves({ Subnets: [{ SubnetId: 'subnet-1', VpcId: 'vpc-2' }] });
    ec2.on(DeleteVpcCommand).resolves({});
    dnsOn();

    await expect(vpcStep.create(ctx())).resolves.toMatchObject({ vpcId: 'vpc-2' });
    expect(ec2.commandCalls(DeleteVpcCommand).map((x) => x.args[0].input)).toEqual([
      { VpcId: 'vpc-empty' },
    ]);
  });

  it('adopts the VPC the state names, looked up by id, when the tag lookup lags; deletes neither after a create', async () => {
    // DescribeVpcs by tag is eventually consistent: it lists nothing yet, then X and another.
    ec2
      .on(DescribeVpcsCommand, { Filters: TAG_FILTERS })
      .resolvesOnce({ Vpcs: [] })
      .resolves({ Vpcs: [ours('vpc-X'), ours('vpc-N')] });
    ec2.on(DescribeVpcsCommand, { VpcIds: ['vpc-X'] }).resolves({ Vpcs: [ours('vpc-X')] });
    ec2.on(CreateVpcCommand).resolves({ Vpc: ours('vpc-N') });
    ec2.on(DeleteVpcCommand).resolves({});
    dnsOn();

    await expect(
      vpcStep.create(ctx({ previous: { vpcId: 'vpc-X', cidr: '10.0.0.0/16' } })),
    ).resolves.toMatchObject({ vpcId: 'vpc-X' });
    expect(ec2.commandCalls(CreateVpcCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
  });

  it('the state wins over the tags: adopts the state VPC (tags gone) over another tagged one', async () => {
    ec2.on(DescribeVpcsCommand, { Filters: TAG_FILTERS }).resolves({ Vpcs: [ours('vpc-Y')] });
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-X'] })
      .resolves({ Vpcs: [{ ...ours('vpc-X'), Tags: [] }] });
    ec2.on(DeleteVpcCommand).resolves({});
    dnsOn();

    await expect(
      vpcStep.create(ctx({ previous: { vpcId: 'vpc-X', cidr: '10.0.0.0/16' } })),
    ).resolves.toMatchObject({ vpcId: 'vpc-X' });
    expect(ec2.commandCalls(DeleteVpcCommand).map((x) => x.args[0].input)).toEqual([
      { VpcId: 'vpc-Y' },
    ]);
  });

  it('never deletes the state VPC after a create, even one not adopted (gone by id, still listed by tag)', async () => {
    ec2
      .on(DescribeVpcsCommand, { Filters: TAG_FILTERS })
      .resolvesOnce({ Vpcs: [] })
      .resolves({ Vpcs: [ours('vpc-X'), ours('vpc-N')] });
    ec2.on(DescribeVpcsCommand, { VpcIds: ['vpc-X'] }).rejects(awsError('InvalidVpcID.NotFound'));
    ec2.on(CreateVpcCommand).resolves({ Vpc: ours('vpc-N') });
    ec2.on(DeleteVpcCommand).resolves({});
    dnsOn();

    await expect(
      vpcStep.create(ctx({ previous: { vpcId: 'vpc-X', cidr: '10.0.0.0/16' } })),
    ).resolves.toMatchObject({ vpcId: 'vpc-N' });
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
  });

  it.each([[['vpc-b', 'vpc-a']], [['vpc-a', 'vpc-b']]])(
    'without a state, two empty tagged VPCs listed as %j: keeps the smallest id',
    async (order) => {
      ec2.on(DescribeVpcsCommand).resolves({ Vpcs: order.map((id) => ours(id)) });
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [] });
      ec2.on(DeleteVpcCommand).resolves({});
      dnsOn();

      await expect(vpcStep.create(ctx())).resolves.toMatchObject({ vpcId: 'vpc-a' });
      expect(ec2.commandCalls(DeleteVpcCommand).map((x) => x.args[0].input)).toEqual([
        { VpcId: 'vpc-b' },
      ]);
    },
  );

  it("preflight counts only this account's VPCs toward the quota, not those shared with it (RAM)", async () => {
    const mine = ['vpc-default', 'vpc-a', 'vpc-b', 'vpc-c'].map((id) => ({ VpcId: id }));
    const shared = { VpcId: 'vpc-shared', OwnerId: '999999999999' };
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [...mine, shared] });
    ec2.on(DescribeVpcsCommand, { Filters: TAG_FILTERS }).resolves({ Vpcs: [] });
    ec2
      .on(DescribeVpcsCommand, { Filters: [{ Name: 'owner-id', Values: [ACCOUNT] }] })
      .resolves({ Vpcs: mine });
    const c = ctx();

    await vpcStep.preflight!(c);

    expect(c.warnings).toEqual([]);
  });

  it('never adopts or deletes a default VPC, even one carrying the stack tags', async () => {
    ec2
      .on(DescribeVpcsCommand)
      .resolves({ Vpcs: [ours('vpc-default', { IsDefault: true }), ours('vpc-1')] });
    dnsOn();

    await expect(vpcStep.create(ctx())).resolves.toMatchObject({ vpcId: 'vpc-1' });
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
  });

  it('verify reports a spare as a warning and deletes nothing (verify is read-only)', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [ours('vpc-spare'), ours('vpc-1')] });
    dnsOn();

    const checks = await vpcStep.verify(ctx({ previous: { vpcId: 'vpc-1' } }));

    expect(checks.find((x) => x.id === 'network.vpc.cidr')?.evidence).toContain('vpc-1');
    const spares = checks.find((x) => x.id === 'network.vpc.spares');
    expect(spares).toMatchObject({ status: 'warn', criterion: 'other' });
    expect(spares?.evidence).toContain('vpc-spare');
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
  });

  it('verify of a single VPC has no spares check', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [ours('vpc-1')] });
    dnsOn();
    const checks = await vpcStep.verify(ctx());
    expect(checks.map((x) => x.id)).toEqual(['network.vpc.cidr', 'network.vpc.dns']);
  });

  it('teardown deletes every VPC tagged for the stack, and the state one the tag lookup does not list yet', async () => {
    ec2
      .on(DescribeVpcsCommand, { Filters: TAG_FILTERS })
      .resolves({ Vpcs: [ours('vpc-1'), ours('vpc-spare')] });
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-lagging'] })
      .resolves({ Vpcs: [ours('vpc-lagging')] });
    ec2.on(DeleteVpcCommand).resolves({});

    await vpcStep.teardown(ctx({ previous: { vpcId: 'vpc-lagging' } }));

    expect(ec2.commandCalls(DeleteVpcCommand).map((x) => x.args[0].input)).toEqual([
      { VpcId: 'vpc-1' },
      { VpcId: 'vpc-spare' },
      { VpcId: 'vpc-lagging' },
    ]);
  });

  it('teardown leaves a state VPC without the stack tag with instructions: the operator policy denies DeleteVpc on it', async () => {
    ec2.on(DescribeVpcsCommand, { Filters: TAG_FILTERS }).resolves({ Vpcs: [] });
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-untagged-now'] })
      .resolves({ Vpcs: [{ VpcId: 'vpc-untagged-now', IsDefault: false }] });
    const c = ctx({ previous: { vpcId: 'vpc-untagged-now' } });

    await vpcStep.teardown(c);

    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
    expect(c.warnings.join('\n')).toContain('aws ec2 delete-vpc --vpc-id vpc-untagged-now');
  });

  it.each([
    ['the default VPC', { IsDefault: true }],
    ["another stack's VPC", { Tags: [{ Key: 'cloudmart:stack', Value: 'team2' }] }],
  ])('teardown never deletes %s, even when the state names it', async (_what, vpc) => {
    ec2.on(DescribeVpcsCommand, { Filters: TAG_FILTERS }).resolves({ Vpcs: [] });
    ec2
      .on(DescribeVpcsCommand, { VpcIds: ['vpc-x'] })
      .resolves({ Vpcs: [{ VpcId: 'vpc-x', ...vpc }] });

    await vpcStep.teardown(ctx({ previous: { vpcId: 'vpc-x' } }));
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
  });

  it('teardown retries DependencyViolation until the ENIs are gone', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-9' }] });
    ec2
      .on(DeleteVpcCommand)
      .rejectsOnce(awsError('DependencyViolation'))
      .rejectsOnce(awsError('DependencyViolation'))
      .resolves({});
    const c = ctx();
    await vpcStep.teardown(c);
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(3);
    expect(c.progressLog.some((l) => l.includes('DependencyViolation'))).toBe(true);
  });

  it('teardown succeeds when the VPC is already gone', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    await expect(vpcStep.teardown(ctx())).resolves.toBeUndefined();
    expect(ec2.commandCalls(DeleteVpcCommand)).toHaveLength(0);
  });
});
