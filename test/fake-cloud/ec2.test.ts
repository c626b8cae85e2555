import { describe, expect, it } from 'vitest';
import { FakeCloud, LATENCY_TIMINGS } from '../helpers/fake-cloud/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- responses are read loosely here */
const R = 'ap-northeast-2';
const tag = (type: string, tags: Record<string, string>) => [
  { ResourceType: type, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
];

/** A cloud in virtual mode (latency timings, time moves only with advance()). */
function virtual() {
  const cloud = new FakeCloud({ mode: 'virtual', startAt: Date.UTC(2025, 0, 1) });
  cloud.clock.quietMs = 60_000;
  const ec2 = (command: string, input: any = {}): Promise<any> =>
    cloud.call('ec2', command, input, R);
  return { cloud, ec2 };
}

async function network(ec2: (c: string, i?: any) => Promise<any>) {
  const vpc = (
    await ec2('CreateVpc', {
      CidrBlock: '10.0.0.0/16',
      TagSpecifications: tag('vpc', { Name: 'v', 'cloudmart:stack': 's' }),
    })
  ).Vpc.VpcId;
  const subnet = async (cidr: string, az: string, tags: Record<string, string> = {}) =>
    (
      await ec2('CreateSubnet', {
        VpcId: vpc,
        CidrBlock: cidr,
        AvailabilityZone: az,
        TagSpecifications: tag('subnet', tags),
      })
    ).Subnet.SubnetId as string;
  const pub = await subnet('10.0.1.0/24', `${R}a`, { tier: 'public' });
  const priv = await subnet('10.0.11.0/24', `${R}c`, { tier: 'app' });
  const igw = (await ec2('CreateInternetGateway')).InternetGateway.InternetGatewayId as string;
  await ec2('AttachInternetGateway', { InternetGatewayId: igw, VpcId: vpc });
  return { vpc, pub, priv, igw };
}

describe('EC2: VPCs, subnets and filters', () => {
  it('creates a VPC pending, with a default security group and a main route table', async () => {
    const { cloud, ec2 } = virtual();
    const { Vpc } = await ec2('CreateVpc', { CidrBlock: '10.0.0.0/16' });
    expect(Vpc).toMatchObject({
      State: 'pending',
      CidrBlock: '10.0.0.0/16',
      IsDefault: false,
      OwnerId: '123456789012',
    });
    cloud.advance(LATENCY_TIMINGS.ec2Basic);
    expect((await ec2('DescribeVpcs', { VpcIds: [Vpc.VpcId] })).Vpcs[0].State).toBe('available');
    const groups = (
      await ec2('DescribeSecurityGroups', { Filters: [{ Name: 'vpc-id', Values: [Vpc.VpcId] }] })
    ).SecurityGroups;
    expect(groups).toMatchObject([
      {
        GroupName: 'default',
        IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      },
    ]);
    const tables = (
      await ec2('DescribeRouteTables', { Filters: [{ Name: 'vpc-id', Values: [Vpc.VpcId] }] })
    ).RouteTables;
    expect(tables).toMatchObject([
      {
        Associations: [{ Main: true }],
        Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' }],
      },
    ]);
    expect(
      await ec2('DescribeVpcAttribute', { VpcId: Vpc.VpcId, Attribute: 'enableDnsHostnames' }),
    ).toMatchObject({ EnableDnsHostnames: { Value: false } });
    expect(
      await ec2('DescribeVpcAttribute', { VpcId: Vpc.VpcId, Attribute: 'enableDnsSupport' }),
    ).toMatchObject({ EnableDnsSupport: { Value: true } });
  });

  it('honours tag:, vpc-id and globs, and refuses a filter it does not know', async () => {
    const { ec2 } = virtual();
    const a = await network(ec2);
    const b = (
      await ec2('CreateVpc', {
        CidrBlock: '10.9.0.0/16',
        TagSpecifications: tag('vpc', { Name: 'w', 'cloudmart:stack': 'other' }),
      })
    ).Vpc.VpcId;
    const ids = async (filters: any[]) =>
      (await ec2('DescribeVpcs', { Filters: filters })).Vpcs.map((v: any) => v.VpcId);
    expect(await ids([{ Name: 'tag:cloudmart:stack', Values: ['s'] }])).toEqual([a.vpc]);
    expect(await ids([{ Name: 'tag:Name', Values: ['v', 'w'] }])).toEqual([a.vpc, b]);
    expect(
      await ids([
        { Name: 'tag:Name', Values: ['*'] },
        { Name: 'cidr-block', Values: ['10.9.*'] },
      ]),
    ).toEqual([b]);
    expect(await ids([{ Name: 'tag-key', Values: ['Name'] }])).toHaveLength(2);
    const subnets = (
      await ec2('DescribeSubnets', {
        Filters: [
          { Name: 'vpc-id', Values: [a.vpc] },
          { Name: 'tag:tier', Values: ['app'] },
        ],
      })
    ).Subnets;
    expect(subnets.map((s: any) => s.SubnetId)).toEqual([a.priv]);
    await expect(
      ec2('DescribeVpcs', { Filters: [{ Name: 'vpcid', Values: [a.vpc] }] }),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: "The filter 'vpcid' is invalid",
    });
  });

  it('refuses subnets outside the VPC range or overlapping another', async () => {
    const { ec2 } = virtual();
    const { vpc } = await network(ec2);
    await expect(
      ec2('CreateSubnet', { VpcId: vpc, CidrBlock: '10.1.0.0/24', AvailabilityZone: `${R}a` }),
    ).rejects.toMatchObject({ name: 'InvalidSubnet.Range' });
    await expect(
      ec2('CreateSubnet', { VpcId: vpc, CidrBlock: '10.0.1.128/25', AvailabilityZone: `${R}a` }),
    ).rejects.toMatchObject({ name: 'InvalidSubnet.Conflict' });
    await expect(
      ec2('CreateSubnet', { VpcId: vpc, CidrBlock: '10.0.5.0/24', AvailabilityZone: 'us-east-1a' }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('refuses to delete a VPC while anything is left in it', async () => {
    const { ec2 } = virtual();
    const n = await network(ec2);
    const dependency = {
      name: 'DependencyViolation',
      message: `The vpc '${n.vpc}' has dependencies and cannot be deleted.`,
    };
    await expect(ec2('DeleteVpc', { VpcId: n.vpc })).rejects.toMatchObject(dependency);
    await ec2('DeleteSubnet', { SubnetId: n.pub });
    await ec2('DeleteSubnet', { SubnetId: n.priv });
    await expect(ec2('DeleteVpc', { VpcId: n.vpc })).rejects.toMatchObject(dependency);
    await expect(ec2('DeleteInternetGateway', { InternetGatewayId: n.igw })).rejects.toMatchObject({
      name: 'DependencyViolation',
    });
    await ec2('DetachInternetGateway', { InternetGatewayId: n.igw, VpcId: n.vpc });
    await expect(
      ec2('DetachInternetGateway', { InternetGatewayId: n.igw, VpcId: n.vpc }),
    ).rejects.toMatchObject({ name: 'Gateway.NotAttached' });
    await ec2('DeleteVpc', { VpcId: n.vpc });
    await expect(ec2('DescribeVpcs', { VpcIds: [n.vpc] })).rejects.toMatchObject({
      name: 'InvalidVpcID.NotFound',
    });
  });
});

describe('EC2: the default VPC of every region', () => {
  it('answers the default VPC AWS gives every region: 172.31.0.0/16, a public subnet per AZ, its gateway, main table and group', async () => {
    const { cloud, ec2 } = virtual();
    const all = (command: string, input: any = {}): Promise<any> =>
      cloud.callAll('ec2', command, input, R);
    const vpcs = (
      await ec2('DescribeVpcs', { Filters: [{ Name: 'is-default', Values: ['true'] }] })
    ).Vpcs;
    expect(vpcs).toMatchObject([
      { CidrBlock: '172.31.0.0/16', IsDefault: true, State: 'available' },
    ]);
    const vpcId = vpcs[0].VpcId as string;
    expect(vpcs[0].Tags ?? []).toEqual([]);
    expect(
      await ec2('DescribeVpcAttribute', { VpcId: vpcId, Attribute: 'enableDnsHostnames' }),
    ).toMatchObject({ EnableDnsHostnames: { Value: true } });
    const subnets = (
      await all('DescribeSubnets', { Filters: [{ Name: 'default-for-az', Values: ['true'] }] })
    ).Subnets;
    expect(
      subnets.map((s: any) => [
        s.AvailabilityZone,
        s.CidrBlock,
        s.DefaultForAz,
        s.MapPublicIpOnLaunch,
        s.VpcId,
      ]),
    ).toEqual([
      [`${R}a`, '172.31.0.0/20', true, true, vpcId],
      [`${R}b`, '172.31.16.0/20', true, true, vpcId],
      [`${R}c`, '172.31.32.0/20', true, true, vpcId],
      [`${R}d`, '172.31.48.0/20', true, true, vpcId],
    ]);
    const igws = (
      await ec2('DescribeInternetGateways', {
        Filters: [{ Name: 'attachment.vpc-id', Values: [vpcId] }],
      })
    ).InternetGateways;
    expect(igws).toHaveLength(1);
    const tables = (
      await ec2('DescribeRouteTables', { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })
    ).RouteTables;
    expect(tables).toMatchObject([
      {
        Associations: [{ Main: true }],
        Routes: [
          { DestinationCidrBlock: '172.31.0.0/16', GatewayId: 'local', State: 'active' },
          {
            DestinationCidrBlock: '0.0.0.0/0',
            GatewayId: igws[0].InternetGatewayId,
            State: 'active',
          },
        ],
      },
    ]);
    const groups = (
      await ec2('DescribeSecurityGroups', { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })
    ).SecurityGroups;
    expect(groups).toMatchObject([{ GroupName: 'default' }]);
    expect(
      (await ec2('DescribeAccountAttributes', { AttributeNames: ['default-vpc'] }))
        .AccountAttributes,
    ).toEqual([{ AttributeName: 'default-vpc', AttributeValues: [{ AttributeValue: vpcId }] }]);
    // The account's own, no stack's: never a leftover, a duplicate or a counted resource.
    expect(cloud.resources({ live: true }).every((r) => r.system)).toBe(true);
    expect(cloud.leftovers('s')).toEqual([]);
    expect(cloud.countByType()).toEqual({});
  });

  it('counts toward the VPC quota: a fresh region has room for 4 more, as in AWS', async () => {
    const { ec2 } = virtual();
    for (let i = 0; i < 4; i++) await ec2('CreateVpc', { CidrBlock: `10.${i}.0.0/16` });
    await expect(ec2('CreateVpc', { CidrBlock: '10.9.0.0/16' })).rejects.toMatchObject({
      name: 'VpcLimitExceeded',
    });
  });

  it('keeps its ids across a reload, and stays deleted once its subnets and gateway are gone', async () => {
    const { cloud, ec2 } = virtual();
    const all = (command: string, input: any = {}): Promise<any> =>
      cloud.callAll('ec2', command, input, R);
    const vpcId = (await ec2('DescribeVpcs')).Vpcs[0].VpcId as string;
    const copy = FakeCloud.fromJSON(cloud.toJSON());
    expect(((await copy.call('ec2', 'DescribeVpcs', {}, R)) as any).Vpcs).toMatchObject([
      { VpcId: vpcId },
    ]);
    await expect(ec2('DeleteVpc', { VpcId: vpcId })).rejects.toMatchObject({
      name: 'DependencyViolation',
    });
    for (const s of (await all('DescribeSubnets')).Subnets)
      await ec2('DeleteSubnet', { SubnetId: s.SubnetId });
    const igw = (await ec2('DescribeInternetGateways')).InternetGateways[0].InternetGatewayId;
    await ec2('DetachInternetGateway', { InternetGatewayId: igw, VpcId: vpcId });
    await ec2('DeleteInternetGateway', { InternetGatewayId: igw });
    await ec2('DeleteVpc', { VpcId: vpcId });
    expect((await ec2('DescribeVpcs')).Vpcs).toEqual([]);
    expect(
      (await ec2('DescribeAccountAttributes', { AttributeNames: ['default-vpc'] }))
        .AccountAttributes[0].AttributeValues,
    ).toEqual([{ AttributeValue: 'none' }]);
    expect(
      ((await FakeCloud.fromJSON(cloud.toJSON()).call('ec2', 'DescribeVpcs', {}, R)) as any).Vpcs,
    ).toEqual([]);
  });
});

describe('EC2: NAT gateways and Elastic IPs', () => {
  it('moves a NAT pending → available → deleting → deleted, and holds its EIP and the IGW until released', async () => {
    const { cloud, ec2 } = virtual();
    const n = await network(ec2);
    const eip = await ec2('AllocateAddress', {
      Domain: 'vpc',
      TagSpecifications: tag('elastic-ip', { Name: 'e' }),
    });
    const created = await ec2('CreateNatGateway', {
      SubnetId: n.pub,
      AllocationId: eip.AllocationId,
      ClientToken: 't1',
      TagSpecifications: tag('natgateway', { Name: 'nat' }),
    });
    const id = created.NatGateway.NatGatewayId;
    expect(id).toMatch(/^nat-0[0-9a-f]{16}$/);
    expect(created.NatGateway).toMatchObject({
      State: 'pending',
      NatGatewayAddresses: [{ AllocationId: eip.AllocationId, PublicIp: eip.PublicIp }],
    });
    const state = async () =>
      (await ec2('DescribeNatGateways', { NatGatewayIds: [id] })).NatGateways[0].State;

    cloud.advance(LATENCY_TIMINGS.natCreate - 1);
    expect(await state()).toBe('pending');
    cloud.advance(1);
    expect(await state()).toBe('available');
    // NatGatewayAddressStatus names the association's progress, nothing else.
    expect(
      (await ec2('DescribeNatGateways', { NatGatewayIds: [id] })).NatGateways[0]
        .NatGatewayAddresses[0].Status,
    ).toBe('succeeded');
    // The same token answers with the same gateway; other parameters with it are an error.
    expect(
      (
        await ec2('CreateNatGateway', {
          SubnetId: n.pub,
          AllocationId: eip.AllocationId,
          ClientToken: 't1',
          TagSpecifications: tag('natgateway', { Name: 'nat' }),
        })
      ).NatGateway.NatGatewayId,
    ).toBe(id);
    await expect(
      ec2('CreateNatGateway', {
        SubnetId: n.priv,
        AllocationId: eip.AllocationId,
        ClientToken: 't1',
      }),
    ).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });

    await ec2('DeleteNatGateway', { NatGatewayId: id });
    expect(await state()).toBe('deleting');
    expect(
      (await ec2('DescribeNatGateways', { NatGatewayIds: [id] })).NatGateways[0]
        .NatGatewayAddresses[0].Status,
    ).toBe('disassociating');
    await expect(ec2('ReleaseAddress', { AllocationId: eip.AllocationId })).rejects.toMatchObject({
      name: 'InvalidIPAddress.InUse',
    });
    await expect(
      ec2('DetachInternetGateway', { InternetGatewayId: n.igw, VpcId: n.vpc }),
    ).rejects.toMatchObject({
      name: 'DependencyViolation',
      message: `Network ${n.vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
    });
    cloud.advance(LATENCY_TIMINGS.natDelete);
    expect(await state()).toBe('deleted');
    // A deleted NAT no longer matches a state filter for live gateways, but still describes.
    expect(
      (
        await ec2('DescribeNatGateways', {
          Filter: [{ Name: 'state', Values: ['pending', 'available'] }],
        })
      ).NatGateways,
    ).toEqual([]);
    await expect(ec2('ReleaseAddress', { AllocationId: eip.AllocationId })).rejects.toMatchObject({
      name: 'InvalidIPAddress.InUse',
    });
    cloud.advance(LATENCY_TIMINGS.natEniRelease);
    await ec2('ReleaseAddress', { AllocationId: eip.AllocationId });
    await ec2('DetachInternetGateway', { InternetGatewayId: n.igw, VpcId: n.vpc });
  });

  it('reads DescribeNatGateways filters from `Filter`, as the API names them', async () => {
    const { cloud, ec2 } = virtual();
    const n = await network(ec2);
    const eip = await ec2('AllocateAddress', { Domain: 'vpc' });
    await ec2('CreateNatGateway', {
      SubnetId: n.pub,
      AllocationId: eip.AllocationId,
      TagSpecifications: tag('natgateway', { Name: 'nat' }),
    });
    cloud.advance(LATENCY_TIMINGS.natCreate);
    const count = async (input: any) =>
      (await ec2('DescribeNatGateways', input)).NatGateways.length;
    expect(await count({ Filter: [{ Name: 'tag:Name', Values: ['other'] }] })).toBe(0);
    // `Filters` is not a field of this API: the SDK drops it, so everything comes back.
    expect(await count({ Filters: [{ Name: 'tag:Name', Values: ['other'] }] })).toBe(1);
  });

  it('fails a public NAT gateway in a VPC without an internet gateway', async () => {
    const { cloud, ec2 } = virtual();
    const vpc = (await ec2('CreateVpc', { CidrBlock: '10.0.0.0/16' })).Vpc.VpcId;
    const subnet = (
      await ec2('CreateSubnet', { VpcId: vpc, CidrBlock: '10.0.1.0/24', AvailabilityZone: `${R}a` })
    ).Subnet.SubnetId;
    const eip = await ec2('AllocateAddress', { Domain: 'vpc' });
    const id = (await ec2('CreateNatGateway', { SubnetId: subnet, AllocationId: eip.AllocationId }))
      .NatGateway.NatGatewayId;
    cloud.advance(LATENCY_TIMINGS.natCreate);
    expect(
      (await ec2('DescribeNatGateways', { NatGatewayIds: [id] })).NatGateways[0],
    ).toMatchObject({ State: 'failed', FailureCode: 'Gateway.NotAttached' });
    await ec2('ReleaseAddress', { AllocationId: eip.AllocationId });
  });
});

describe('EC2: route tables and security groups', () => {
  it('turns a route blackhole when its NAT gateway is gone, and refuses to delete an associated table', async () => {
    const { cloud, ec2 } = virtual();
    const n = await network(ec2);
    const eip = await ec2('AllocateAddress', { Domain: 'vpc' });
    const nat = (await ec2('CreateNatGateway', { SubnetId: n.pub, AllocationId: eip.AllocationId }))
      .NatGateway.NatGatewayId;
    cloud.advance(LATENCY_TIMINGS.natCreate);
    const rtb = (await ec2('CreateRouteTable', { VpcId: n.vpc })).RouteTable.RouteTableId;
    await ec2('CreateRoute', {
      RouteTableId: rtb,
      DestinationCidrBlock: '0.0.0.0/0',
      NatGatewayId: nat,
    });
    await expect(
      ec2('CreateRoute', {
        RouteTableId: rtb,
        DestinationCidrBlock: '0.0.0.0/0',
        GatewayId: n.igw,
      }),
    ).rejects.toMatchObject({ name: 'RouteAlreadyExists' });
    const assoc = await ec2('AssociateRouteTable', { RouteTableId: rtb, SubnetId: n.priv });
    await expect(
      ec2('AssociateRouteTable', { RouteTableId: rtb, SubnetId: n.priv }),
    ).rejects.toMatchObject({ name: 'Resource.AlreadyAssociated' });
    const route = async () =>
      (await ec2('DescribeRouteTables', { RouteTableIds: [rtb] })).RouteTables[0].Routes.find(
        (r: any) => r.DestinationCidrBlock === '0.0.0.0/0',
      );
    expect(await route()).toMatchObject({
      NatGatewayId: nat,
      State: 'active',
      Origin: 'CreateRoute',
    });
    await ec2('DeleteNatGateway', { NatGatewayId: nat });
    expect((await route()).State).toBe('blackhole');
    await expect(ec2('DeleteRouteTable', { RouteTableId: rtb })).rejects.toMatchObject({
      name: 'DependencyViolation',
    });
    await ec2('DisassociateRouteTable', { AssociationId: assoc.AssociationId });
    await ec2('DeleteRouteTable', { RouteTableId: rtb });
  });

  it('gives a new group AWS default egress, refuses duplicate rules and groups still referenced', async () => {
    const { ec2 } = virtual();
    const n = await network(ec2);
    const app = (
      await ec2('CreateSecurityGroup', { GroupName: 'app', Description: 'a', VpcId: n.vpc })
    ).GroupId;
    const db = (
      await ec2('CreateSecurityGroup', { GroupName: 'db', Description: 'd', VpcId: n.vpc })
    ).GroupId;
    await expect(
      ec2('CreateSecurityGroup', { GroupName: 'app', Description: 'a', VpcId: n.vpc }),
    ).rejects.toMatchObject({ name: 'InvalidGroup.Duplicate' });
    const rules = async (g: string) =>
      (await ec2('DescribeSecurityGroupRules', { Filters: [{ Name: 'group-id', Values: [g] }] }))
        .SecurityGroupRules;
    expect(await rules(db)).toMatchObject([
      { IsEgress: true, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv4: '0.0.0.0/0' },
    ]);
    expect((await rules(db))[0].Description).toBeUndefined();

    const perm = {
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
      UserIdGroupPairs: [{ GroupId: app, Description: 'pg' }],
    };
    const added = await ec2('AuthorizeSecurityGroupIngress', {
      GroupId: db,
      IpPermissions: [perm],
    });
    expect(added.SecurityGroupRules[0]).toMatchObject({
      SecurityGroupRuleId: expect.stringMatching(/^sgr-0/),
      ReferencedGroupInfo: { GroupId: app },
    });
    await expect(
      ec2('AuthorizeSecurityGroupIngress', { GroupId: db, IpPermissions: [perm] }),
    ).rejects.toMatchObject({ name: 'InvalidPermission.Duplicate' });
    await expect(ec2('DeleteSecurityGroup', { GroupId: app })).rejects.toMatchObject({
      name: 'DependencyViolation',
      message: `resource ${app} has a dependent object`,
    });
    await ec2('RevokeSecurityGroupIngress', {
      GroupId: db,
      SecurityGroupRuleIds: [added.SecurityGroupRules[0].SecurityGroupRuleId],
    });
    await ec2('DeleteSecurityGroup', { GroupId: app });
    const def = (
      await ec2('DescribeSecurityGroups', {
        Filters: [{ Name: 'group-name', Values: ['default'] }],
      })
    ).SecurityGroups[0].GroupId;
    await expect(ec2('DeleteSecurityGroup', { GroupId: def })).rejects.toMatchObject({
      name: 'CannotDelete',
    });
  });

  it('answers the AWS-managed prefix lists and takes them as rule peers', async () => {
    const { ec2 } = virtual();
    const n = await network(ec2);
    const name = 'com.amazonaws.global.cloudfront.origin-facing';
    const lists = (
      await ec2('DescribeManagedPrefixLists', {
        Filters: [{ Name: 'prefix-list-name', Values: [name] }],
      })
    ).PrefixLists;
    expect(lists).toMatchObject([
      {
        PrefixListName: name,
        OwnerId: 'AWS',
        PrefixListId: expect.stringMatching(/^pl-[0-9a-f]{8}$/),
      },
    ]);
    const other = await new FakeCloud().call('ec2', 'DescribeManagedPrefixLists', {}, 'us-east-1');
    expect((other as any).PrefixLists[0].PrefixListId).not.toBe(lists[0].PrefixListId);
    const sg = (
      await ec2('CreateSecurityGroup', { GroupName: 'alb', Description: 'a', VpcId: n.vpc })
    ).GroupId;
    const perm = (id: string) => ({
      IpProtocol: 'tcp',
      FromPort: 80,
      ToPort: 80,
      PrefixListIds: [{ PrefixListId: id, Description: 'cf' }],
    });
    await expect(
      ec2('AuthorizeSecurityGroupIngress', { GroupId: sg, IpPermissions: [perm('pl-00000000')] }),
    ).rejects.toMatchObject({ name: 'InvalidPrefixListID.NotFound' });
    await ec2('AuthorizeSecurityGroupIngress', {
      GroupId: sg,
      IpPermissions: [perm(lists[0].PrefixListId)],
    });
    const rules = (
      await ec2('DescribeSecurityGroupRules', { Filters: [{ Name: 'group-id', Values: [sg] }] })
    ).SecurityGroupRules;
    expect(rules.find((r: any) => !r.IsEgress)).toMatchObject({
      PrefixListId: lists[0].PrefixListId,
      FromPort: 80,
      Description: 'cf',
    });
  });

  it('keeps subnets and groups busy while the network interfaces of a deleted ALB linger', async () => {
    const { cloud, ec2 } = virtual();
    const n = await network(ec2);
    const pub2 = (
      await ec2('CreateSubnet', {
        VpcId: n.vpc,
        CidrBlock: '10.0.2.0/24',
        AvailabilityZone: `${R}c`,
      })
    ).Subnet.SubnetId;
    const sg = (
      await ec2('CreateSecurityGroup', { GroupName: 'alb', Description: 'a', VpcId: n.vpc })
    ).GroupId;
    const lb = (await cloud.call(
      'elbv2',
      'CreateLoadBalancer',
      { Name: 'alb', Subnets: [n.pub, pub2], SecurityGroups: [sg] },
      R,
    )) as any;
    const arn = lb.LoadBalancers[0].LoadBalancerArn;
    const enis = async () =>
      (
        await ec2('DescribeNetworkInterfaces', {
          Filters: [
            { Name: 'description', Values: [`ELB app/alb/${String(arn).split('/').pop()}`] },
          ],
        })
      ).NetworkInterfaces;
    expect(await enis()).toHaveLength(2);
    await cloud.call('elbv2', 'DeleteLoadBalancer', { LoadBalancerArn: arn }, R);
    // Until it is gone it shows its last state: LoadBalancerStateEnum has no "deleting".
    expect(
      (await cloud.call('elbv2', 'DescribeLoadBalancers', { LoadBalancerArns: [arn] }, R)) as any,
    ).toMatchObject({ LoadBalancers: [{ State: { Code: 'provisioning' } }] });
    cloud.advance(LATENCY_TIMINGS.albDelete);
    await expect(
      cloud.call('elbv2', 'DescribeLoadBalancers', { LoadBalancerArns: [arn] }, R),
    ).rejects.toMatchObject({ name: 'LoadBalancerNotFoundException' });
    await expect(ec2('DeleteSubnet', { SubnetId: n.pub })).rejects.toMatchObject({
      name: 'DependencyViolation',
      message: `The subnet '${n.pub}' has dependencies and cannot be deleted.`,
    });
    await expect(ec2('DeleteSecurityGroup', { GroupId: sg })).rejects.toMatchObject({
      name: 'DependencyViolation',
    });
    await expect(
      ec2('DetachInternetGateway', { InternetGatewayId: n.igw, VpcId: n.vpc }),
    ).rejects.toMatchObject({ name: 'DependencyViolation' });
    cloud.advance(LATENCY_TIMINGS.eniRelease);
    expect(await enis()).toEqual([]);
    await ec2('DeleteSubnet', { SubnetId: n.pub });
    await ec2('DeleteSecurityGroup', { GroupId: sg });
  });
});

describe('EC2: launch templates and EBS defaults', () => {
  it('versions launch templates and answers $Latest / $Default', async () => {
    const { ec2 } = virtual();
    const data = { ImageId: 'ami-0123456789abcdef0', InstanceType: 't3.micro' };
    const lt = (
      await ec2('CreateLaunchTemplate', {
        LaunchTemplateName: 'lt',
        LaunchTemplateData: data,
        ClientToken: 'c1',
      })
    ).LaunchTemplate;
    expect(lt).toMatchObject({
      LaunchTemplateId: expect.stringMatching(/^lt-0/),
      DefaultVersionNumber: 1,
      LatestVersionNumber: 1,
    });
    expect(
      (
        await ec2('CreateLaunchTemplate', {
          LaunchTemplateName: 'lt',
          LaunchTemplateData: data,
          ClientToken: 'c1',
        })
      ).LaunchTemplate.LaunchTemplateId,
    ).toBe(lt.LaunchTemplateId);
    await expect(
      ec2('CreateLaunchTemplate', { LaunchTemplateName: 'lt', LaunchTemplateData: data }),
    ).rejects.toMatchObject({ name: 'InvalidLaunchTemplateName.AlreadyExistsException' });
    await ec2('CreateLaunchTemplateVersion', {
      LaunchTemplateId: lt.LaunchTemplateId,
      LaunchTemplateData: { ...data, InstanceType: 't3.small' },
    });
    const version = async (v: string) =>
      (
        await ec2('DescribeLaunchTemplateVersions', {
          LaunchTemplateId: lt.LaunchTemplateId,
          Versions: [v],
        })
      ).LaunchTemplateVersions[0];
    expect(await version('$Latest')).toMatchObject({
      VersionNumber: 2,
      LaunchTemplateData: { InstanceType: 't3.small' },
    });
    expect(await version('$Default')).toMatchObject({ VersionNumber: 1 });
    await expect(
      ec2('DescribeLaunchTemplates', { LaunchTemplateNames: ['nope'] }),
    ).rejects.toMatchObject({ name: 'InvalidLaunchTemplateName.NotFoundException' });
  });

  it('keeps EBS encryption by default per region', async () => {
    const { cloud, ec2 } = virtual();
    expect(await ec2('GetEbsEncryptionByDefault')).toMatchObject({ EbsEncryptionByDefault: false });
    expect((await ec2('GetEbsDefaultKmsKeyId')).KmsKeyId).toBe(
      `arn:aws:kms:${R}:123456789012:alias/aws/ebs`,
    );
    const key = (await cloud.call('kms', 'CreateKey', {}, R)) as any;
    await ec2('EnableEbsEncryptionByDefault');
    await ec2('ModifyEbsDefaultKmsKeyId', { KmsKeyId: key.KeyMetadata.KeyId });
    expect((await ec2('GetEbsDefaultKmsKeyId')).KmsKeyId).toBe(key.KeyMetadata.Arn);
    expect(
      await cloud.call('ec2', 'GetEbsEncryptionByDefault', {}, 'ap-northeast-1'),
    ).toMatchObject({ EbsEncryptionByDefault: false });
    await ec2('ResetEbsDefaultKmsKeyId');
    expect((await ec2('GetEbsDefaultKmsKeyId')).KmsKeyId).toMatch(/alias\/aws\/ebs$/);
  });
});
