import {
  AssociateRouteTableCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  DeleteRouteTableCommand,
  DescribeRouteTablesCommand,
  DisassociateRouteTableCommand,
  EC2Client,
  ReplaceRouteCommand,
  ReplaceRouteTableAssociationCommand,
  type RouteTable,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { routeTablesStep } from '../../../src/steps/phase1-foundation/route-tables.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testContext } from '../../helpers/context.js';

const SUBNETS = {
  azs: ['ap-northeast-2a', 'ap-northeast-2c'],
  vpcId: 'vpc-1',
  publicSubnetIds: ['subnet-pub-a', 'subnet-pub-c'],
  appSubnetIds: ['subnet-app-a', 'subnet-app-c'],
  dataSubnetIds: ['subnet-data-a', 'subnet-data-c'],
};
const NAT = {
  natGatewayIds: ['nat-a', 'nat-c'],
  allocationIds: ['eipalloc-a', 'eipalloc-c'],
  publicIps: ['3.0.0.1', '3.0.0.2'],
};

const MAIN: RouteTable = {
  RouteTableId: 'rtb-main',
  VpcId: 'vpc-1',
  Associations: [
    { Main: true, RouteTableAssociationId: 'rtbassoc-main', RouteTableId: 'rtb-main' },
  ],
  Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' }],
  Tags: [],
};

function table(
  id: string,
  tier: 'public' | 'private',
  index: number | undefined,
  target: { GatewayId: string } | { NatGatewayId: string } | undefined,
  subnets: string[],
): RouteTable {
  return {
    RouteTableId: id,
    VpcId: 'vpc-1',
    Associations: subnets.map((s) => ({
      RouteTableAssociationId: `rtbassoc-${s}`,
      RouteTableId: id,
      SubnetId: s,
      Main: false,
      AssociationState: { State: 'associated' },
    })),
    Routes: [
      { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' },
      ...(target
        ? [{ DestinationCidrBlock: '0.0.0.0/0', State: 'active' as const, ...target }]
        : []),
    ],
    Tags: [
      { Key: 'cloudmart:stack', Value: 'cloudmart' },
      { Key: 'cloudmart:step', Value: 'network.routes' },
      { Key: 'cloudmart:tier', Value: tier },
      ...(index === undefined ? [] : [{ Key: 'cloudmart:az-index', Value: String(index) }]),
    ],
  };
}
const converged = () => [
  MAIN,
  table('rtb-pub', 'public', undefined, { GatewayId: 'igw-1' }, ['subnet-pub-a', 'subnet-pub-c']),
  table('rtb-priv-a', 'private', 0, { NatGatewayId: 'nat-a' }, ['subnet-app-a', 'subnet-data-a']),
  table('rtb-priv-c', 'private', 1, { NatGatewayId: 'nat-c' }, ['subnet-app-c', 'subnet-data-c']),
];

const mutating = (stub: ReturnType<typeof strictMock>) =>
  stub
    .calls()
    .map((c) => (c.args[0] as object).constructor.name)
    .filter((n) => !/^(Describe|Get|List)/.test(n));

describe('network.routes', () => {
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({
      stepId: routeTablesStep.id,
      outputs: {
        [STEP.subnets]: SUBNETS,
        [STEP.igw]: { internetGatewayId: 'igw-1' },
        [STEP.nat]: NAT,
      },
      ...over,
    });

  it('retries CreateRoute and AssociateRouteTable while a table it just created reads InvalidRouteTableID.NotFound', async () => {
    ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [MAIN] });
    ec2.on(CreateRouteTableCommand).callsFake((input) => {
      const tags = input.TagSpecifications[0].Tags as Array<{ Key: string; Value: string }>;
      const tier = tags.find((t) => t.Key === 'cloudmart:tier')!.Value;
      const index = tags.find((t) => t.Key === 'cloudmart:az-index')?.Value;
      return {
        RouteTable: {
          RouteTableId: tier === 'public' ? 'rtb-pub' : `rtb-priv-${index}`,
          Routes: [],
          Associations: [],
        },
      };
    });
    ec2.on(CreateRouteCommand).resolves({ Return: true });
    ec2
      .on(CreateRouteCommand, { RouteTableId: 'rtb-pub' })
      .rejectsOnce(awsError('InvalidRouteTableID.NotFound'))
      .resolves({ Return: true });
    ec2.on(AssociateRouteTableCommand).resolves({});
    ec2
      .on(AssociateRouteTableCommand, { RouteTableId: 'rtb-priv-1', SubnetId: 'subnet-data-c' })
      .rejectsOnce(awsError('InvalidRouteTableID.NotFound'))
      .resolves({});
    const c = ctx();

    await routeTablesStep.create(c);

    expect(ec2.commandCalls(CreateRouteTableCommand)).toHaveLength(3);
    expect(ec2.commandCalls(CreateRouteCommand, { RouteTableId: 'rtb-pub' })).toHaveLength(2);
    expect(
      ec2.commandCalls(AssociateRouteTableCommand, {
        RouteTableId: 'rtb-priv-1',
        SubnetId: 'subnet-data-c',
      }),
    ).toHaveLength(2);
    expect(ec2.commandCalls(AssociateRouteTableCommand)).toHaveLength(7);
    expect(
      c.progressLog.filter((l) => l.includes('waiting (InvalidRouteTableID.NotFound)')),
    ).toHaveLength(2);
  });

  it('does not retry NotFound on a table it adopted', async () => {
    const tables = converged();
    tables[1] = table('rtb-pub', 'public', undefined, undefined, ['subnet-pub-a', 'subnet-pub-c']);
    ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
    ec2.on(CreateRouteCommand).rejects(awsError('InvalidRouteTableID.NotFound'));

    await expect(routeTablesStep.create(ctx())).rejects.toThrow('InvalidRouteTableID.NotFound');
    expect(ec2.commandCalls(CreateRouteCommand)).toHaveLength(1);
  });

  it('creates a public table to the IGW and one private table per AZ to that AZ NAT, with their associations', async () => {
    ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [MAIN] });
    ec2.on(CreateRouteTableCommand).callsFake((input) => {
      const tags = input.TagSpecifications[0].Tags as Array<{ Key: string; Value: string }>;
      const tier = tags.find((t) => t.Key === 'cloudmart:tier')!.Value;
      const index = tags.find((t) => t.Key === 'cloudmart:az-index')?.Value;
      return {
        RouteTable: {
          RouteTableId: tier === 'public' ? 'rtb-pub' : `rtb-priv-${index}`,
          Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }],
          Associations: [],
        },
      };
    });
    ec2.on(CreateRouteCommand).resolves({ Return: true });
    ec2.on(AssociateRouteTableCommand).resolves({});

    const out = await routeTablesStep.create(ctx());

    expect(out).toEqual({
      publicRouteTableId: 'rtb-pub',
      privateRouteTableIds: ['rtb-priv-0', 'rtb-priv-1'],
    });
    expect(ec2.commandCalls(DescribeRouteTablesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'vpc-id', Values: ['vpc-1'] }],
    });
    const creates = ec2.commandCalls(CreateRouteTableCommand).map((c) => c.args[0].input);
    expect(creates).toContainEqual({
      VpcId: 'vpc-1',
      TagSpecifications: [
        {
          ResourceType: 'route-table',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-private-rt-ap-northeast-2c' },
            { Key: 'cloudmart:step', Value: 'network.routes' },
            { Key: 'cloudmart:tier', Value: 'private' },
            { Key: 'cloudmart:az-index', Value: '1' },
          ]),
        },
      ],
    });
    expect(creates).toContainEqual({
      VpcId: 'vpc-1',
      TagSpecifications: [
        {
          ResourceType: 'route-table',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-public-rt' },
            { Key: 'cloudmart:tier', Value: 'public' },
          ]),
        },
      ],
    });
    const routes = ec2.commandCalls(CreateRouteCommand).map((c) => c.args[0].input);
    expect(routes).toHaveLength(3);
    expect(routes).toEqual(
      expect.arrayContaining([
        { RouteTableId: 'rtb-pub', DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1' },
        { RouteTableId: 'rtb-priv-0', DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-a' },
        { RouteTableId: 'rtb-priv-1', DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-c' },
      ]),
    );
    const assocs = ec2
      .commandCalls(AssociateRouteTableCommand)
      .map((c) => `${c.args[0].input.RouteTableId} ${c.args[0].input.SubnetId}`)
      .sort();
    expect(assocs).toEqual([
      'rtb-priv-0 subnet-app-a',
      'rtb-priv-0 subnet-data-a',
      'rtb-priv-1 subnet-app-c',
      'rtb-priv-1 subnet-data-c',
      'rtb-pub subnet-pub-a',
      'rtb-pub subnet-pub-c',
    ]);
  });

  it('adopts converged tables and sends no mutating call', async () => {
    ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: converged() });
    const out = await routeTablesStep.create(ctx());
    expect(mutating(ec2)).toEqual([]);
    expect(out.privateRouteTableIds).toEqual(['rtb-priv-a', 'rtb-priv-c']);
  });

  it('replaces a private route that points at the other AZ NAT and moves a stray association', async () => {
    const tables = converged();
    // AZ a egresses through AZ c's NAT, and subnet-data-a is associated with a stray table.
    tables[2] = table('rtb-priv-a', 'private', 0, { NatGatewayId: 'nat-c' }, ['subnet-app-a']);
    tables.push({
      RouteTableId: 'rtb-stray',
      VpcId: 'vpc-1',
      Associations: [
        {
          RouteTableAssociationId: 'rtbassoc-stray',
          RouteTableId: 'rtb-stray',
          SubnetId: 'subnet-data-a',
          AssociationState: { State: 'associated' },
        },
      ],
      Routes: [],
      Tags: [],
    });
    ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
    ec2.on(ReplaceRouteCommand).resolves({});
    ec2.on(ReplaceRouteTableAssociationCommand).resolves({});
    const c = ctx();

    await routeTablesStep.create(c);

    expect(ec2.commandCalls(ReplaceRouteCommand).map((x) => x.args[0].input)).toEqual([
      { RouteTableId: 'rtb-priv-a', DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-a' },
    ]);
    expect(
      ec2.commandCalls(ReplaceRouteTableAssociationCommand).map((x) => x.args[0].input),
    ).toEqual([{ AssociationId: 'rtbassoc-stray', RouteTableId: 'rtb-priv-a' }]);
    expect(ec2.commandCalls(CreateRouteTableCommand)).toHaveLength(0);
    expect(ec2.commandCalls(CreateRouteCommand)).toHaveLength(0);
    expect(c.progressLog.some((l) => l.includes('pointed at nat-c'))).toBe(true);
  });

  it('replaces a blackhole default route (its NAT was deleted and recreated)', async () => {
    const tables = converged();
    tables[3]!.Routes![1]!.State = 'blackhole';
    ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
    ec2.on(ReplaceRouteCommand).resolves({});
    await routeTablesStep.create(ctx());
    expect(ec2.commandCalls(ReplaceRouteCommand)).toHaveLength(1);
  });

  describe('verify', () => {
    it('passes on converged tables', async () => {
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: converged() });
      const checks = await routeTablesStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['network.routes.public', 'pass'],
        ['network.routes.private-per-az', 'pass'],
      ]);
    });

    it('flags a private route pointing at the other AZ NAT', async () => {
      const tables = converged();
      tables[3] = table('rtb-priv-c', 'private', 1, { NatGatewayId: 'nat-a' }, [
        'subnet-app-c',
        'subnet-data-c',
      ]);
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });

      const checks = await routeTablesStep.verify(ctx());
      const check = checks.find((c) => c.id === 'network.routes.private-per-az')!;

      expect(check.status).toBe('fail');
      expect(check.criterion).toBe('multi-az');
      expect(check.evidence).toBe(
        "ap-northeast-2c: 0.0.0.0/0 → nat-a, the NAT gateway of ap-northeast-2a, not ap-northeast-2c's nat-c",
      );
    });

    it('flags a missing default route and a missing public association', async () => {
      const tables = converged();
      tables[2] = table('rtb-priv-a', 'private', 0, undefined, ['subnet-app-a', 'subnet-data-a']);
      tables[1] = table('rtb-pub', 'public', undefined, { GatewayId: 'igw-1' }, ['subnet-pub-a']);
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });

      const checks = await routeTablesStep.verify(ctx());

      expect(checks.find((c) => c.id === 'network.routes.private-per-az')!.evidence).toBe(
        'ap-northeast-2a: rtb-priv-a has no 0.0.0.0/0 route',
      );
      expect(checks.find((c) => c.id === 'network.routes.public')!.evidence).toBe(
        'public subnet subnet-pub-c is not associated with rtb-pub',
      );
    });

    it('without recorded NAT ids, still flags both AZs sharing one NAT', async () => {
      const tables = converged();
      tables[3] = table('rtb-priv-c', 'private', 1, { NatGatewayId: 'nat-a' }, ['subnet-app-c']);
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: tables });
      const c = testContext({ stepId: routeTablesStep.id, outputs: {} });

      const checks = await routeTablesStep.verify(c);

      const check = checks.find((x) => x.id === 'network.routes.private-per-az')!;
      expect(check.status).toBe('fail');
      expect(check.evidence).toContain('both AZs route through the same NAT gateway nat-a');
      // No VPC id known: the lookup is by tag.
      expect(ec2.commandCalls(DescribeRouteTablesCommand)[0]!.args[0].input.Filters).toEqual([
        { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
        { Name: 'tag:cloudmart:step', Values: ['network.routes'] },
      ]);
    });
  });

  describe('teardown', () => {
    it('disassociates the subnets, then deletes each table (retrying DependencyViolation)', async () => {
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: converged().slice(1) });
      ec2.on(DisassociateRouteTableCommand).resolves({});
      ec2.on(DeleteRouteTableCommand).resolves({});
      ec2
        .on(DeleteRouteTableCommand, { RouteTableId: 'rtb-pub' })
        .rejectsOnce(awsError('DependencyViolation'))
        .resolves({});

      await routeTablesStep.teardown(ctx());

      expect(ec2.commandCalls(DisassociateRouteTableCommand)).toHaveLength(6);
      const deletes = ec2
        .commandCalls(DeleteRouteTableCommand)
        .map((c) => c.args[0].input.RouteTableId);
      expect(deletes.sort()).toEqual(['rtb-priv-a', 'rtb-priv-c', 'rtb-pub', 'rtb-pub']);
      // Every disassociation of a table happens before that table's delete.
      const sent = ec2.calls().map((c) => ({
        name: (c.args[0] as object).constructor.name,
        input: (c.args[0] as { input: Record<string, string | undefined> }).input,
      }));
      const lastDisassoc = sent.findLastIndex(
        (x) =>
          x.name === 'DisassociateRouteTableCommand' &&
          x.input.AssociationId === 'rtbassoc-subnet-pub-c',
      );
      const firstPubDelete = sent.findIndex(
        (x) => x.name === 'DeleteRouteTableCommand' && x.input.RouteTableId === 'rtb-pub',
      );
      expect(lastDisassoc).toBeLessThan(firstPubDelete);
      expect(ec2.commandCalls(DescribeRouteTablesCommand)[0]!.args[0].input.Filters).toHaveLength(
        2,
      );
    });

    it('never touches the main table association', async () => {
      const withMain = table('rtb-pub', 'public', undefined, { GatewayId: 'igw-1' }, []);
      withMain.Associations = [{ Main: true, RouteTableAssociationId: 'rtbassoc-main' }];
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [withMain] });
      ec2.on(DeleteRouteTableCommand).resolves({});
      await routeTablesStep.teardown(ctx());
      expect(ec2.commandCalls(DisassociateRouteTableCommand)).toHaveLength(0);
    });

    it('succeeds when the tables are already gone, also for ids only the state remembers', async () => {
      ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] });
      ec2
        .on(DescribeRouteTablesCommand, { RouteTableIds: ['rtb-old'] })
        .rejects(awsError('InvalidRouteTableID.NotFound'));
      await expect(
        routeTablesStep.teardown(
          ctx({ previous: { publicRouteTableId: 'rtb-old', privateRouteTableIds: [] } }),
        ),
      ).resolves.toBeUndefined();
      expect(ec2.commandCalls(DeleteRouteTableCommand)).toHaveLength(0);
    });
  });
});
