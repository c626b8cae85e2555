import {
  CreateSubnetCommand,
  DeleteSubnetCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  EC2Client,
  ModifySubnetAttributeCommand,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import { subnetsStep } from '../../../src/steps/phase1-foundation/subnets.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const AZS = ['ap-northeast-2a', 'ap-northeast-2c'];
const WANTED = [
  { tier: 'public', index: 0, cidr: '10.0.1.0/24' },
  { tier: 'public', index: 1, cidr: '10.0.2.0/24' },
  { tier: 'app', index: 0, cidr: '10.0.11.0/24' },
  { tier: 'app', index: 1, cidr: '10.0.12.0/24' },
  { tier: 'data', index: 0, cidr: '10.0.21.0/24' },
  { tier: 'data', index: 1, cidr: '10.0.22.0/24' },
] as const;

function subnet(tier: string, index: number, over: Partial<Subnet> = {}): Subnet {
  return {
    SubnetId: `subnet-${tier}-${index}`,
    VpcId: 'vpc-1',
    AvailabilityZone: AZS[index],
    CidrBlock: WANTED.find((w) => w.tier === tier && w.index === index)!.cidr,
    State: 'available',
    MapPublicIpOnLaunch: tier === 'public',
    Tags: [
      { Key: 'cloudmart:stack', Value: 'cloudmart' },
      { Key: 'cloudmart:step', Value: 'network.subnets' },
      { Key: 'cloudmart:tier', Value: tier },
      { Key: 'cloudmart:az-index', Value: String(index) },
    ],
    ...over,
  };
}
const allSubnets = () => WANTED.map((w) => subnet(w.tier, w.index));

const mutating = (stub: ReturnType<typeof strictMock>) =>
  stub
    .calls()
    .map((c) => (c.args[0] as object).constructor.name)
    .filter((n) => !/^(Describe|Get|List)/.test(n));

/** A tiny EC2 that remembers the subnets it created, as AWS would across two runs. */
function statefulEc2(ec2: ReturnType<typeof strictMock>, failOnCreate?: number) {
  const created: Subnet[] = [];
  let creates = 0;
  ec2.on(DescribeSubnetsCommand).callsFake((input: { SubnetIds?: string[] }) => ({
    Subnets: created.filter((s) => !input.SubnetIds || input.SubnetIds.includes(s.SubnetId!)),
  }));
  ec2.on(CreateSubnetCommand).callsFake((input) => {
    creates += 1;
    if (creates === failOnCreate) throw new Error('process killed');
    const tags = input.TagSpecifications[0].Tags as Array<{ Key: string; Value: string }>;
    const tier = tags.find((t) => t.Key === 'cloudmart:tier')!.Value;
    const index = Number(tags.find((t) => t.Key === 'cloudmart:az-index')!.Value);
    const s: Subnet = {
      ...subnet(tier, index),
      MapPublicIpOnLaunch: false,
      State: 'pending',
      Tags: tags,
    };
    created.push({ ...s, State: 'available' });
    return { Subnet: s };
  });
  ec2.on(ModifySubnetAttributeCommand).callsFake((input) => {
    const s = created.find((x) => x.SubnetId === input.SubnetId)!;
    s.MapPublicIpOnLaunch = input.MapPublicIpOnLaunch.Value;
    return {};
  });
  return created;
}

describe('network.subnets', () => {
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({
      stepId: subnetsStep.id,
      outputs: { [STEP.vpc]: { vpcId: 'vpc-1', cidr: '10.0.0.0/16' } },
      ...over,
    });

  it('right after CreateSubnet, waits out InvalidSubnetID.NotFound on the describe and ModifySubnetAttribute', async () => {
    const created = statefulEc2(ec2);
    let hidden = true;
    ec2.on(DescribeSubnetsCommand).callsFake((input: { SubnetIds?: string[] }) => {
      if (input.SubnetIds && hidden) {
        hidden = false;
        throw awsError(
          'InvalidSubnetID.NotFound',
          `The subnet ID '${input.SubnetIds[0]}' does not exist`,
        );
      }
      return {
        Subnets: created.filter((x) => !input.SubnetIds || input.SubnetIds.includes(x.SubnetId!)),
      };
    });
    ec2
      .on(ModifySubnetAttributeCommand, { SubnetId: 'subnet-public-1' })
      .rejectsOnce(awsError('InvalidSubnetID.NotFound'))
      .resolves({});
    const c = ctx();

    const out = await subnetsStep.create(c);

    expect(out.publicSubnetIds).toEqual(['subnet-public-0', 'subnet-public-1']);
    expect(ec2.commandCalls(CreateSubnetCommand)).toHaveLength(6);
    expect(
      ec2.commandCalls(ModifySubnetAttributeCommand, { SubnetId: 'subnet-public-1' }),
    ).toHaveLength(2);
    expect(c.progressLog).toContain('subnets: not visible yet (InvalidSubnetID.NotFound) (0s)');
  });

  it('does not retry NotFound on ModifySubnetAttribute for an adopted subnet', async () => {
    ec2.on(DescribeSubnetsCommand).resolves({
      Subnets: [...allSubnets().slice(0, 5), subnet('data', 1, { MapPublicIpOnLaunch: true })],
    });
    ec2.on(ModifySubnetAttributeCommand).rejects(awsError('InvalidSubnetID.NotFound'));
    const c = ctx();

    await expect(subnetsStep.create(c)).rejects.toThrow('InvalidSubnetID.NotFound');
    expect(ec2.commandCalls(ModifySubnetAttributeCommand)).toHaveLength(1);
    expect(c.slept()).toBe(0);
  });

  it('creates a public, an app and a data subnet per AZ with the config CIDRs, tagged at creation', async () => {
    statefulEc2(ec2);

    const out = await subnetsStep.create(ctx());

    expect(ec2.commandCalls(DescribeSubnetsCommand)[0]!.args[0].input).toEqual({
      Filters: [
        { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
        { Name: 'tag:cloudmart:step', Values: ['network.subnets'] },
        { Name: 'vpc-id', Values: ['vpc-1'] },
      ],
    });
    const creates = ec2.commandCalls(CreateSubnetCommand).map((c) => c.args[0].input);
    expect(creates).toHaveLength(6);
    for (const w of WANTED) {
      const az = AZS[w.index]!;
      expect(creates).toContainEqual({
        VpcId: 'vpc-1',
        AvailabilityZone: az,
        CidrBlock: w.cidr,
        TagSpecifications: [
          {
            ResourceType: 'subnet',
            Tags: expect.arrayContaining([
              { Key: 'Name', Value: `cloudmart-${w.tier}-${az}` },
              { Key: 'cloudmart:stack', Value: 'cloudmart' },
              { Key: 'cloudmart:step', Value: 'network.subnets' },
              { Key: 'cloudmart:tier', Value: w.tier },
              { Key: 'cloudmart:az-index', Value: String(w.index) },
              { Key: 'Project', Value: 'CloudMart' },
            ]),
          },
        ],
      });
    }
    // Public IPs on launch for the public subnets only (the private ones are off by default).
    expect(ec2.commandCalls(ModifySubnetAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { SubnetId: 'subnet-public-0', MapPublicIpOnLaunch: { Value: true } },
      { SubnetId: 'subnet-public-1', MapPublicIpOnLaunch: { Value: true } },
    ]);
    expect(out).toEqual({
      azs: AZS,
      vpcId: 'vpc-1',
      publicSubnetIds: ['subnet-public-0', 'subnet-public-1'],
      appSubnetIds: ['subnet-app-0', 'subnet-app-1'],
      dataSubnetIds: ['subnet-data-0', 'subnet-data-1'],
    });
  });

  it('adopts the six tagged subnets and sends no mutating call', async () => {
    ec2.on(DescribeSubnetsCommand).resolves({ Subnets: allSubnets().reverse() });

    const out = await subnetsStep.create(ctx());

    expect(mutating(ec2)).toEqual([]);
    expect(out.appSubnetIds).toEqual(['subnet-app-0', 'subnet-app-1']);
  });

  it('a crash after the creates (state never written) makes the next run adopt, not duplicate', async () => {
    const created = statefulEc2(ec2);
    const first = await subnetsStep.create(ctx());
    // The state write "never happens": the next run starts with no previous outputs.
    const second = await subnetsStep.create(ctx({ previous: undefined }));

    expect(ec2.commandCalls(CreateSubnetCommand)).toHaveLength(6);
    expect(created).toHaveLength(6);
    expect(second).toEqual(first);
  });

  it('a crash in the middle of the creates makes the next run create only the missing subnets', async () => {
    statefulEc2(ec2, 4);
    await expect(subnetsStep.create(ctx())).rejects.toThrow('process killed');
    const madeBefore = ec2.commandCalls(CreateSubnetCommand).length;

    const out = await subnetsStep.create(ctx());

    // 5 of 6 got made before the kill; the rerun makes exactly the one that is missing.
    expect(ec2.commandCalls(CreateSubnetCommand)).toHaveLength(madeBefore + 1);
    expect(new Set([...out.publicSubnetIds, ...out.appSubnetIds, ...out.dataSubnetIds]).size).toBe(
      6,
    );
  });

  it('turns public IPs off on a private subnet that has them on, and on for a public one', async () => {
    const subnets = allSubnets();
    subnets[0]!.MapPublicIpOnLaunch = false;
    subnets[4]!.MapPublicIpOnLaunch = true; // data-0
    ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets });
    ec2.on(ModifySubnetAttributeCommand).resolves({});

    await subnetsStep.create(ctx());

    expect(ec2.commandCalls(ModifySubnetAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { SubnetId: 'subnet-public-0', MapPublicIpOnLaunch: { Value: true } },
      { SubnetId: 'subnet-data-0', MapPublicIpOnLaunch: { Value: false } },
    ]);
  });

  it('refuses to adopt a subnet whose CIDR no longer matches the config', async () => {
    const subnets = allSubnets();
    subnets[2] = subnet('app', 0, { CidrBlock: '10.0.99.0/24' });
    ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets });

    const err = await subnetsStep.create(ctx()).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(CloudmartError);
    expect((err as Error).message).toContain('10.0.99.0/24');
    expect((err as Error).message).toContain('10.0.11.0/24');
    expect(mutating(ec2)).toEqual([]);
  });

  it('honours CIDRs and AZs from the config', async () => {
    statefulEc2(ec2);
    const config = testConfig({
      region: 'eu-west-1',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      network: {
        vpcCidr: '10.8.0.0/16',
        publicSubnets: ['10.8.0.0/24', '10.8.1.0/24'],
        appSubnets: ['10.8.10.0/24', '10.8.11.0/24'],
        dataSubnets: ['10.8.20.0/24', '10.8.21.0/24'],
      },
    });
    await subnetsStep.create(ctx({ config }));
    const creates = ec2.commandCalls(CreateSubnetCommand).map((c) => c.args[0].input);
    expect(creates.map((c) => `${c.AvailabilityZone} ${c.CidrBlock}`).sort()).toEqual([
      'eu-west-1a 10.8.0.0/24',
      'eu-west-1a 10.8.10.0/24',
      'eu-west-1a 10.8.20.0/24',
      'eu-west-1b 10.8.1.0/24',
      'eu-west-1b 10.8.11.0/24',
      'eu-west-1b 10.8.21.0/24',
    ]);
  });

  describe('verify', () => {
    it('passes on the seed layout', async () => {
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: allSubnets() });
      const checks = await subnetsStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['network.subnets.exists', 'pass'],
        ['network.subnets.multi-az', 'pass'],
        ['network.subnets.cidrs', 'pass'],
        ['network.subnets.public-ip', 'pass'],
      ]);
      expect(checks.find((c) => c.id === 'network.subnets.multi-az')?.criterion).toBe('multi-az');
    });

    it('reports public IPs on a private subnet, a changed CIDR and a missing AZ', async () => {
      const subnets = allSubnets().filter((s) => s.SubnetId !== 'subnet-data-1');
      subnets.find((s) => s.SubnetId === 'subnet-app-0')!.MapPublicIpOnLaunch = true;
      subnets.find((s) => s.SubnetId === 'subnet-public-1')!.CidrBlock = '10.0.3.0/24';
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: subnets });

      const checks = await subnetsStep.verify(ctx());
      const by = (id: string) => checks.find((c) => c.id === id)!;

      expect(by('network.subnets.exists').status).toBe('fail');
      expect(by('network.subnets.exists').evidence).toContain('cloudmart-data-ap-northeast-2c');
      expect(by('network.subnets.multi-az').status).toBe('fail');
      expect(by('network.subnets.multi-az').evidence).toMatch(/; data: ap-northeast-2a$/);
      expect(by('network.subnets.cidrs').status).toBe('fail');
      expect(by('network.subnets.cidrs').evidence).toContain('10.0.3.0/24');
      expect(by('network.subnets.public-ip').status).toBe('fail');
      expect(by('network.subnets.public-ip').evidence).toBe(
        'cloudmart-app-ap-northeast-2a MapPublicIpOnLaunch=true',
      );
    });

    it('fails with a fix when there are no subnets at all', async () => {
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [] });
      const checks = await subnetsStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({
          id: 'network.subnets.exists',
          status: 'fail',
          fix: 'cloudmart up --phase 1',
        }),
      ]);
    });
  });

  describe('teardown', () => {
    it('deletes every tagged subnet, retrying while ENIs still hold one', async () => {
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: allSubnets() });
      ec2.on(DeleteSubnetCommand).resolves({});
      ec2
        .on(DeleteSubnetCommand, { SubnetId: 'subnet-data-0' })
        .rejectsOnce(awsError('DependencyViolation'))
        .rejectsOnce(awsError('DependencyViolation'))
        .resolves({});
      const c = ctx();

      await subnetsStep.teardown(c);

      const deletes = ec2.commandCalls(DeleteSubnetCommand).map((x) => x.args[0].input.SubnetId);
      expect(new Set(deletes)).toEqual(new Set(allSubnets().map((s) => s.SubnetId)));
      expect(deletes.filter((id) => id === 'subnet-data-0')).toHaveLength(3);
      expect(
        c.progressLog.some((l) => l.includes('subnet-data-0') && l.includes('DependencyViolation')),
      ).toBe(true);
      // Teardown looks up by tag only: the VPC's outputs may be gone with a lost state.
      expect(ec2.commandCalls(DescribeSubnetsCommand)[0]!.args[0].input.Filters).toHaveLength(2);
    });

    it('gives up after the bound and names the ENIs that still hold the subnet', async () => {
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('data', 0)] });
      ec2.on(DeleteSubnetCommand).rejects(awsError('DependencyViolation'));
      ec2.on(DescribeNetworkInterfacesCommand).resolves({
        NetworkInterfaces: [{ NetworkInterfaceId: 'eni-9', Description: 'RDSNetworkInterface' }],
      });
      const c = ctx();

      const err = await subnetsStep.teardown(c).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(CloudmartError);
      expect((err as Error).message).toContain('eni-9 (RDSNetworkInterface)');
      expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input).toEqual({
        Filters: [{ Name: 'subnet-id', Values: ['subnet-data-0'] }],
      });
      expect(c.slept()).toBeGreaterThanOrEqual(15 * 60_000);
      expect(c.slept()).toBeLessThan(20 * 60_000);
    });

    it('succeeds when the subnets are already gone, also for ids only the state remembers', async () => {
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [] });
      ec2.on(DeleteSubnetCommand).rejects(awsError('InvalidSubnetID.NotFound'));

      await expect(
        subnetsStep.teardown(
          ctx({
            previous: {
              azs: AZS,
              publicSubnetIds: ['subnet-old'],
              appSubnetIds: [],
              dataSubnetIds: [],
            },
          }),
        ),
      ).resolves.toBeUndefined();
      expect(ec2.commandCalls(DeleteSubnetCommand)).toHaveLength(1);
    });

    it('sends no delete when nothing is there and no state is left', async () => {
      ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [] });
      await subnetsStep.teardown(ctx());
      expect(ec2.commandCalls(DeleteSubnetCommand)).toHaveLength(0);
    });
  });
});
