import { afterCreate } from '../../aws/consistency.js';
import { allPages } from '../../aws/pages.js';
import { ignoreNotFound } from '../../aws/errors.js';
import type { Route, RouteTable } from '@aws-sdk/client-ec2';
import { stackFilters, tagValue } from '../../aws/tags.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import {
  STEP,
  type IgwOutputs,
  type NatOutputs,
  type RoutesOutputs,
  type SubnetsOutputs,
  type VpcOutputs,
} from '../outputs.js';
import {
  AZ_INDEX_TAG,
  deleteRetrying,
  ec2,
  ec2sdk,
  FIX_PHASE1,
  missing,
  TIER_TAG,
  previousOutputs,
} from './ec2-lookup.js';

const DEFAULT_ROUTE = '0.0.0.0/0';

type Target = { GatewayId: string } | { NatGatewayId: string };

interface WantedTable {
  tier: 'public' | 'private';
  /** AZ index of a private table; undefined for the public one. */
  index: number | undefined;
  name: string;
  target: Target;
  subnetIds: string[];
}

function publicName(config: Config): string {
  return names.of(config, 'public-rt');
}
function privateName(config: Config, az: string): string {
  return names.of(config, `private-rt-${az}`);
}

function targetId(t: Target): string {
  return 'GatewayId' in t ? t.GatewayId : t.NatGatewayId;
}

function routeTarget(r: Route | undefined): string | undefined {
  return r?.NatGatewayId ?? r?.GatewayId ?? r?.NetworkInterfaceId ?? r?.TransitGatewayId;
}

function defaultRoute(t: RouteTable): Route | undefined {
  return t.Routes?.find((r) => r.DestinationCidrBlock === DEFAULT_ROUTE);
}

function isOurs(t: RouteTable, config: Config): boolean {
  return (
    tagValue(t.Tags, 'cloudmart:stack') === config.stack &&
    tagValue(t.Tags, 'cloudmart:step') === STEP.routes
  );
}

function pick(tables: RouteTable[], config: Config, w: Pick<WantedTable, 'tier' | 'index'>) {
  return tables.find(
    (t) =>
      isOurs(t, config) &&
      tagValue(t.Tags, TIER_TAG) === w.tier &&
      (w.index === undefined || tagValue(t.Tags, AZ_INDEX_TAG) === String(w.index)),
  );
}

/** Every table of the VPC: ours, the main one, and whichever a subnet may be associated with. */
async function vpcTables(ctx: StepContext, vpcId: string): Promise<RouteTable[]> {
  const { paginateDescribeRouteTables } = await ec2sdk();
  return allPages(
    paginateDescribeRouteTables(
      { client: await ec2(ctx) },
      { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] },
    ),
    (page) => page.RouteTables,
  );
}

async function taggedTables(ctx: StepContext): Promise<RouteTable[]> {
  const { paginateDescribeRouteTables } = await ec2sdk();
  return allPages(
    paginateDescribeRouteTables(
      { client: await ec2(ctx) },
      { Filters: stackFilters(ctx.config, STEP.routes) },
    ),
    (page) => page.RouteTables,
  );
}

export const routeTablesStep = defineStep<RoutesOutputs>({
  id: STEP.routes,
  phase: 1,
  title: 'Route tables (public, private per AZ)',
  needs: [STEP.subnets, STEP.igw, STEP.nat],
  actions: [
    'ec2:DescribeRouteTables',
    'ec2:CreateRouteTable',
    'ec2:CreateTags',
    'ec2:CreateRoute',
    'ec2:ReplaceRoute',
    'ec2:AssociateRouteTable',
    'ec2:ReplaceRouteTableAssociation',
    'ec2:DisassociateRouteTable',
    'ec2:DeleteRouteTable',
  ],
  describe: (config) => [
    `Route table ${publicName(config)}: ${DEFAULT_ROUTE} → internet gateway, for both public subnets`,
    ...config.availabilityZones.map(
      (az) =>
        `Route table ${privateName(config, az)}: ${DEFAULT_ROUTE} → ${az}'s NAT gateway, for ${az}'s app and data subnets`,
    ),
  ],

  async create(ctx) {
    const {
      CreateRouteTableCommand,
      CreateRouteCommand,
      ReplaceRouteCommand,
      AssociateRouteTableCommand,
      ReplaceRouteTableAssociationCommand,
    } = await ec2sdk();
    const client = await ec2(ctx);
    const subnets = ctx.outputs<SubnetsOutputs>(STEP.subnets);
    const { internetGatewayId } = ctx.outputs<IgwOutputs>(STEP.igw);
    const nat = ctx.outputs<NatOutputs>(STEP.nat);
    // network.vpc is not in this step's needs: the subnets carry their VPC id.
    const vpcId =
      subnets.vpcId ??
      ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId ??
      (await subnetVpc(ctx, subnets.publicSubnetIds[0]!));

    const wanted: WantedTable[] = [
      {
        tier: 'public',
        index: undefined,
        name: publicName(ctx.config),
        target: { GatewayId: internetGatewayId },
        subnetIds: subnets.publicSubnetIds,
      },
      ...ctx.config.availabilityZones.map((az, i): WantedTable => ({
        tier: 'private',
        index: i,
        name: privateName(ctx.config, az),
        // Each AZ egresses through its own NAT, so losing one AZ never cuts the other's egress.
        target: { NatGatewayId: nat.natGatewayIds[i]! },
        subnetIds: [subnets.appSubnetIds[i]!, subnets.dataSubnetIds[i]!],
      })),
    ];

    const tables = await vpcTables(ctx, vpcId);
    const associationOf = (subnetId: string) =>
      tables
        .flatMap((t) => t.Associations ?? [])
        .find(
          (a) =>
            a.SubnetId === subnetId &&
            a.AssociationState?.State !== 'disassociated' &&
            a.AssociationState?.State !== 'disassociating',
        );

    // CreateRouteTable's client token is left to the SDK (it reuses one across its own retries):
    // a deterministic one would hand back a table that a partial destroy already deleted. The
    // tier/az-index tags set at creation find the table after a crash.
    const ids = await Promise.all(
      wanted.map(async (w) => {
        let table = pick(tables, ctx.config, w);
        const created = !table;
        if (!table) {
          ctx.progress(`creating route table ${w.name}`);
          const extra: Record<string, string> = { [TIER_TAG]: w.tier };
          if (w.index !== undefined) extra[AZ_INDEX_TAG] = String(w.index);
          const out = await client.send(
            new CreateRouteTableCommand({
              VpcId: vpcId,
              TagSpecifications: [
                { ResourceType: 'route-table', Tags: ctx.tags.list(w.name, extra) },
              ],
            }),
          );
          table = out.RouteTable;
          if (!table?.RouteTableId) throw new Error(`CreateRouteTable ${w.name} returned no id`);
        }
        const tableId = table.RouteTableId!;

        // Right after CreateRouteTable, calls on the table may answer
        // InvalidRouteTableID.NotFound for a moment.
        const route = defaultRoute(table);
        if (!route) {
          await afterCreate(
            ctx,
            created,
            () =>
              client.send(
                new CreateRouteCommand({
                  RouteTableId: tableId,
                  DestinationCidrBlock: DEFAULT_ROUTE,
                  ...w.target,
                }),
              ),
            { what: `${w.name}: adding ${DEFAULT_ROUTE} → ${targetId(w.target)}` },
          );
        } else if (routeTarget(route) !== targetId(w.target) || route.State === 'blackhole') {
          ctx.progress(
            `${w.name}: ${DEFAULT_ROUTE} pointed at ${routeTarget(route) ?? '?'}, replacing with ${targetId(w.target)}`,
          );
          await client.send(
            new ReplaceRouteCommand({
              RouteTableId: tableId,
              DestinationCidrBlock: DEFAULT_ROUTE,
              ...w.target,
            }),
          );
        }

        for (const subnetId of w.subnetIds) {
          const assoc = associationOf(subnetId);
          if (!assoc) {
            await afterCreate(
              ctx,
              created,
              () =>
                client.send(
                  new AssociateRouteTableCommand({ RouteTableId: tableId, SubnetId: subnetId }),
                ),
              { what: `${w.name}: associating ${subnetId}` },
            );
          } else if (assoc.RouteTableId !== tableId) {
            await afterCreate(
              ctx,
              created,
              () =>
                client.send(
                  new ReplaceRouteTableAssociationCommand({
                    AssociationId: assoc.RouteTableAssociationId!,
                    RouteTableId: tableId,
                  }),
                ),
              { what: `${w.name}: moving ${subnetId} onto it` },
            );
          }
        }
        return tableId;
      }),
    );

    return { publicRouteTableId: ids[0]!, privateRouteTableIds: ids.slice(1) };
  },

  async verify(ctx) {
    const subnets = ctx.maybeOutputs<SubnetsOutputs>(STEP.subnets);
    const vpcId = subnets?.vpcId ?? ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const tables = vpcId ? await vpcTables(ctx, vpcId) : await taggedTables(ctx);
    const igw = ctx.maybeOutputs<IgwOutputs>(STEP.igw)?.internetGatewayId;
    const nat = ctx.maybeOutputs<NatOutputs>(STEP.nat);
    const azs = ctx.config.availabilityZones;
    if (!tables.some((t) => isOurs(t, ctx.config))) {
      return [
        missing(
          'network.routes.private-per-az',
          'Each AZ routes through its own NAT gateway',
          'multi-az',
          `no route table tagged cloudmart:stack=${ctx.config.stack}`,
        ),
      ];
    }
    const tableOfSubnet = (subnetId: string) =>
      tables.find((t) => t.Associations?.some((a) => a.SubnetId === subnetId));

    // Public table.
    const pub = pick(tables, ctx.config, { tier: 'public', index: undefined });
    const pubProblems: string[] = [];
    if (!pub) pubProblems.push(`${publicName(ctx.config)} is missing`);
    else {
      const r = defaultRoute(pub);
      if (!r) pubProblems.push(`${pub.RouteTableId ?? '?'} has no ${DEFAULT_ROUTE} route`);
      else if (r.State === 'blackhole')
        pubProblems.push(`${DEFAULT_ROUTE} → ${routeTarget(r) ?? '?'} is a blackhole`);
      else if (igw ? r.GatewayId !== igw : !r.GatewayId?.startsWith('igw-'))
        pubProblems.push(
          `${DEFAULT_ROUTE} → ${routeTarget(r) ?? '?'}, expected ${igw ?? 'an internet gateway'}`,
        );
      for (const s of subnets?.publicSubnetIds ?? []) {
        if (tableOfSubnet(s)?.RouteTableId !== pub.RouteTableId)
          pubProblems.push(`public subnet ${s} is not associated with ${pub.RouteTableId ?? '?'}`);
      }
    }

    // Private tables: each AZ's default route must use that AZ's NAT, never the other AZ's.
    const privProblems: string[] = [];
    const privEvidence: string[] = [];
    azs.forEach((az, i) => {
      const t = pick(tables, ctx.config, { tier: 'private', index: i });
      if (!t) {
        privProblems.push(`${privateName(ctx.config, az)} is missing`);
        return;
      }
      const r = defaultRoute(t);
      const want = nat?.natGatewayIds[i];
      const target = routeTarget(r);
      privEvidence.push(`${az}: ${t.RouteTableId ?? '?'} ${DEFAULT_ROUTE} → ${target ?? 'none'}`);
      if (!r) privProblems.push(`${az}: ${t.RouteTableId ?? '?'} has no ${DEFAULT_ROUTE} route`);
      else if (r.State === 'blackhole')
        privProblems.push(`${az}: ${DEFAULT_ROUTE} → ${target ?? '?'} is a blackhole`);
      else if (!r.NatGatewayId)
        privProblems.push(`${az}: ${DEFAULT_ROUTE} → ${target ?? '?'} is not a NAT gateway`);
      else if (want && r.NatGatewayId !== want) {
        const otherAz = nat?.natGatewayIds.findIndex((id) => id === r.NatGatewayId) ?? -1;
        privProblems.push(
          otherAz >= 0
            ? `${az}: ${DEFAULT_ROUTE} → ${r.NatGatewayId}, the NAT gateway of ${azs[otherAz] ?? '?'}, not ${az}'s ${want}`
            : `${az}: ${DEFAULT_ROUTE} → ${r.NatGatewayId}, expected ${want}`,
        );
      }
      const own = subnets ? [subnets.appSubnetIds[i], subnets.dataSubnetIds[i]] : [];
      for (const s of own) {
        if (s && tableOfSubnet(s)?.RouteTableId !== t.RouteTableId)
          privProblems.push(`${az}: subnet ${s} is not associated with ${t.RouteTableId ?? '?'}`);
      }
    });
    if (!nat) {
      // Without the state's NAT ids, at least the two AZs must not share one NAT.
      const targets = azs.map((_, i) => {
        const t = pick(tables, ctx.config, { tier: 'private', index: i });
        return t ? defaultRoute(t)?.NatGatewayId : undefined;
      });
      if (targets[0] && targets[0] === targets[1])
        privProblems.push(`both AZs route through the same NAT gateway ${targets[0]}`);
    }

    const checks: Check[] = [
      {
        id: 'network.routes.public',
        title: 'Public subnets route to the internet gateway',
        criterion: 'other',
        status: pubProblems.length === 0 ? 'pass' : 'fail',
        evidence:
          pubProblems.length === 0
            ? `${pub?.RouteTableId ?? '?'} ${DEFAULT_ROUTE} → ${routeTarget(pub && defaultRoute(pub)) ?? '?'}`
            : pubProblems.join('; '),
        fix: FIX_PHASE1,
      },
      {
        id: 'network.routes.private-per-az',
        title: 'Each AZ routes through its own NAT gateway',
        criterion: 'multi-az',
        status: privProblems.length === 0 ? 'pass' : 'fail',
        evidence: privProblems.length === 0 ? privEvidence.join('; ') : privProblems.join('; '),
        fix: FIX_PHASE1,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const { DescribeRouteTablesCommand, DisassociateRouteTableCommand, DeleteRouteTableCommand } =
      await ec2sdk();
    const client = await ec2(ctx);
    const prev = previousOutputs<RoutesOutputs>(ctx);
    const tables = await taggedTables(ctx);
    const known = new Set(tables.map((t) => t.RouteTableId));
    for (const id of [prev?.publicRouteTableId, ...(prev?.privateRouteTableIds ?? [])]) {
      if (!id || known.has(id)) continue;
      const out = await ignoreNotFound(
        client.send(new DescribeRouteTablesCommand({ RouteTableIds: [id] })),
      );
      tables.push(...(out?.RouteTables ?? []));
    }

    await Promise.all(
      tables.map(async (t) => {
        const tableId = t.RouteTableId!;
        for (const a of t.Associations ?? []) {
          if (a.Main || !a.RouteTableAssociationId) continue;
          ctx.progress(`disassociating ${a.SubnetId ?? '?'} from ${tableId}`);
          await ignoreNotFound(
            client.send(
              new DisassociateRouteTableCommand({ AssociationId: a.RouteTableAssociationId }),
            ),
          );
        }
        // Deleting the table deletes its routes with it.
        await deleteRetrying(ctx, `deleting route table ${tableId}`, () =>
          client.send(new DeleteRouteTableCommand({ RouteTableId: tableId })),
        );
      }),
    );
  },
});

async function subnetVpc(ctx: StepContext, subnetId: string): Promise<string> {
  const { DescribeSubnetsCommand } = await ec2sdk();
  const out = await (await ec2(ctx)).send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
  const vpcId = out.Subnets?.[0]?.VpcId;
  if (!vpcId) throw new Error(`subnet ${subnetId} has no VPC`);
  return vpcId;
}
