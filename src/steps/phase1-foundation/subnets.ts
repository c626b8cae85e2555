import type { Subnet } from '@aws-sdk/client-ec2';
import { afterCreate, pendingWhileNotFound } from '../../aws/consistency.js';
import { allPages } from '../../aws/pages.js';
import { stackFilters, tagValue } from '../../aws/tags.js';
import { waitUntil } from '../../aws/wait.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type SubnetsOutputs, type VpcOutputs } from '../outputs.js';
import {
  AZ_INDEX_TAG,
  deleteRetrying,
  ec2,
  ec2sdk,
  eniHolders,
  FIX_PHASE1,
  missing,
  TIER_TAG,
  previousOutputs,
} from './ec2-lookup.js';

export type SubnetTier = 'public' | 'app' | 'data';
const TIERS: readonly SubnetTier[] = ['public', 'app', 'data'];

interface WantedSubnet {
  tier: SubnetTier;
  index: number;
  az: string;
  cidr: string;
  name: string;
}

/** The six subnets of the seed: per AZ one public, one private app, one private data. */
function wantedSubnets(config: Config): WantedSubnet[] {
  const cidrs: Record<SubnetTier, string[]> = {
    public: config.network.publicSubnets,
    app: config.network.appSubnets,
    data: config.network.dataSubnets,
  };
  return TIERS.flatMap((tier) =>
    config.availabilityZones.map((az, index) => ({
      tier,
      index,
      az,
      cidr: cidrs[tier][index]!,
      name: names.of(config, `${tier}-${az}`),
    })),
  );
}

/** One DescribeSubnets for all six (EC2 reads share one throttling budget per account). */
async function findSubnets(ctx: StepContext, vpcId?: string): Promise<Subnet[]> {
  const { paginateDescribeSubnets } = await ec2sdk();
  const filters = stackFilters(ctx.config, STEP.subnets);
  if (vpcId) filters.push({ Name: 'vpc-id', Values: [vpcId] });
  return allPages(
    paginateDescribeSubnets({ client: await ec2(ctx) }, { Filters: filters }),
    (page) => page.Subnets,
  );
}

function pick(subnets: Subnet[], tier: SubnetTier, index: number): Subnet | undefined {
  return subnets.find(
    (s) => tagValue(s.Tags, TIER_TAG) === tier && tagValue(s.Tags, AZ_INDEX_TAG) === String(index),
  );
}

export const subnetsStep = defineStep<SubnetsOutputs>({
  id: STEP.subnets,
  phase: 1,
  title: 'Subnets (public, app, data per AZ)',
  needs: [STEP.vpc],
  actions: [
    'ec2:DescribeSubnets',
    'ec2:CreateSubnet',
    'ec2:CreateTags',
    'ec2:ModifySubnetAttribute',
    'ec2:DeleteSubnet',
    'ec2:DescribeNetworkInterfaces',
  ],
  describe: (config) =>
    wantedSubnets(config).map(
      (w) =>
        `Subnet ${w.name} ${w.cidr} in ${w.az} (${w.tier === 'public' ? 'public, public IPs on launch' : `private ${w.tier}`})`,
    ),

  async create(ctx) {
    const { CreateSubnetCommand, DescribeSubnetsCommand, ModifySubnetAttributeCommand } =
      await ec2sdk();
    const client = await ec2(ctx);
    const { vpcId } = ctx.outputs<VpcOutputs>(STEP.vpc);
    const wanted = wantedSubnets(ctx.config);
    const existing = await findSubnets(ctx, vpcId);
    const created = new Set<string>();

    // CreateSubnet has no client token: the tier/az-index tags set at creation are the guard.
    const subnets = await Promise.all(
      wanted.map(async (w): Promise<Subnet> => {
        const found = pick(existing, w.tier, w.index);
        if (found) {
          if (found.CidrBlock !== w.cidr || found.AvailabilityZone !== w.az) {
            throw new CloudmartError(
              'USAGE',
              `Subnet ${w.name} (${found.SubnetId ?? '?'}) is ${found.CidrBlock ?? '?'} in ${found.AvailabilityZone ?? '?'}, but the config asks for ${w.cidr} in ${w.az}: a subnet's range and AZ cannot be changed in place`,
              {
                hint: 'Put the old value back in the config, or run "cloudmart destroy" and then "cloudmart up".',
              },
            );
          }
          return found;
        }
        ctx.progress(`creating subnet ${w.name} ${w.cidr} in ${w.az}`);
        const out = await client.send(
          new CreateSubnetCommand({
            VpcId: vpcId,
            AvailabilityZone: w.az,
            CidrBlock: w.cidr,
            TagSpecifications: [
              {
                ResourceType: 'subnet',
                Tags: ctx.tags.list(w.name, {
                  [TIER_TAG]: w.tier,
                  [AZ_INDEX_TAG]: String(w.index),
                }),
              },
            ],
          }),
        );
        if (!out.Subnet?.SubnetId) throw new Error(`CreateSubnet ${w.name} returned no subnet id`);
        created.add(out.Subnet.SubnetId);
        return out.Subnet;
      }),
    );

    const pending = subnets.filter((s) => s.State !== 'available').map((s) => s.SubnetId!);
    if (pending.length > 0) {
      // Right after CreateSubnet, DescribeSubnets by id may answer InvalidSubnetID.NotFound.
      await waitUntil(
        ctx,
        pendingWhileNotFound(
          ctx,
          pending.some((id) => created.has(id)),
          async () => {
            const out = await client.send(new DescribeSubnetsCommand({ SubnetIds: pending }));
            const ready = (out.Subnets ?? []).filter(
              (s) => pending.includes(s.SubnetId!) && s.State === 'available',
            ).length;
            return {
              done: ready === pending.length,
              status: `${ready}/${pending.length} available`,
            };
          },
        ),
        { what: 'subnets', minDelayMs: 1_000, timeoutMs: 120_000 },
      );
    }

    // Only the public subnets hand out public IPs (NAT gateways and the ALB live there).
    for (const [i, w] of wanted.entries()) {
      const s = subnets[i]!;
      const want = w.tier === 'public';
      if ((s.MapPublicIpOnLaunch === true) !== want) {
        await afterCreate(
          ctx,
          created.has(s.SubnetId!),
          () =>
            client.send(
              new ModifySubnetAttributeCommand({
                SubnetId: s.SubnetId!,
                MapPublicIpOnLaunch: { Value: want },
              }),
            ),
          { what: `turning public IPs on launch ${want ? 'on' : 'off'} for ${s.SubnetId!}` },
        );
      }
    }

    const ids = (tier: SubnetTier) =>
      wanted.flatMap((w, i) => (w.tier === tier ? [subnets[i]!.SubnetId!] : []));
    return {
      azs: [...ctx.config.availabilityZones],
      vpcId,
      publicSubnetIds: ids('public'),
      appSubnetIds: ids('app'),
      dataSubnetIds: ids('data'),
    };
  },

  async verify(ctx) {
    const vpcId = ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const found = await findSubnets(ctx, vpcId);
    const wanted = wantedSubnets(ctx.config);
    const pairs = wanted.map((w) => ({ w, s: pick(found, w.tier, w.index) }));
    const absent = pairs.filter((p) => !p.s).map((p) => p.w.name);
    if (absent.length === wanted.length) {
      return [
        missing(
          'network.subnets.exists',
          'Subnets exist',
          'multi-az',
          `no subnet tagged cloudmart:stack=${ctx.config.stack}`,
        ),
      ];
    }
    const present = pairs.filter((p): p is { w: WantedSubnet; s: Subnet } => p.s !== undefined);

    const azsOf = (tier: SubnetTier) =>
      new Set(present.filter((p) => p.w.tier === tier).map((p) => p.s.AvailabilityZone));
    const multiAz = TIERS.every((t) => azsOf(t).size >= 2);
    const wrongCidr = present.filter(
      (p) => p.s.CidrBlock !== p.w.cidr || p.s.AvailabilityZone !== p.w.az,
    );
    const wrongIp = present.filter(
      (p) => (p.s.MapPublicIpOnLaunch === true) !== (p.w.tier === 'public'),
    );

    const checks: Check[] = [
      {
        id: 'network.subnets.exists',
        title: 'All six subnets exist',
        criterion: 'multi-az',
        status: absent.length === 0 ? 'pass' : 'fail',
        evidence:
          absent.length === 0
            ? present.map((p) => `${p.w.name}=${p.s.SubnetId ?? '?'}`).join(', ')
            : `missing: ${absent.join(', ')}`,
        fix: FIX_PHASE1,
      },
      {
        id: 'network.subnets.multi-az',
        title: 'Public, app and data subnets each span two availability zones',
        criterion: 'multi-az',
        status: multiAz ? 'pass' : 'fail',
        evidence: TIERS.map((t) => `${t}: ${[...azsOf(t)].join(', ') || 'none'}`).join('; '),
        fix: FIX_PHASE1,
      },
      {
        id: 'network.subnets.cidrs',
        title: 'Subnet ranges and AZs match the config',
        criterion: 'security-design',
        status: wrongCidr.length === 0 ? 'pass' : 'fail',
        evidence:
          wrongCidr.length === 0
            ? present.map((p) => `${p.w.name} ${p.s.CidrBlock ?? '?'}`).join(', ')
            : wrongCidr
                .map(
                  (p) =>
                    `${p.w.name} is ${p.s.CidrBlock ?? '?'} in ${p.s.AvailabilityZone ?? '?'}, config ${p.w.cidr} in ${p.w.az}`,
                )
                .join('; '),
        fix: 'Put the config back, or run "cloudmart destroy" then "cloudmart up"',
      },
      {
        id: 'network.subnets.public-ip',
        title: 'Only public subnets assign public IPs on launch',
        criterion: 'security-design',
        status: wrongIp.length === 0 ? 'pass' : 'fail',
        evidence:
          wrongIp.length === 0
            ? 'MapPublicIpOnLaunch on the public subnets only'
            : wrongIp
                .map((p) => `${p.w.name} MapPublicIpOnLaunch=${p.s.MapPublicIpOnLaunch === true}`)
                .join('; '),
        fix: FIX_PHASE1,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const { DeleteSubnetCommand } = await ec2sdk();
    const client = await ec2(ctx);
    const prev = previousOutputs<SubnetsOutputs>(ctx);
    const ids = new Set<string>([
      ...(await findSubnets(ctx)).map((s) => s.SubnetId!).filter(Boolean),
      ...(prev?.publicSubnetIds ?? []),
      ...(prev?.appSubnetIds ?? []),
      ...(prev?.dataSubnetIds ?? []),
    ]);
    // ENIs of a deleted ALB, RDS or Redis keep a subnet busy for minutes after their owner is gone.
    await Promise.all(
      [...ids].map((id) =>
        deleteRetrying(
          ctx,
          `deleting subnet ${id}`,
          () => client.send(new DeleteSubnetCommand({ SubnetId: id })),
          () => eniHolders(ctx, 'subnet-id', id),
        ),
      ),
    );
  },
});
