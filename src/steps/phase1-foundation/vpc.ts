import type { Vpc } from '@aws-sdk/client-ec2';
import { afterCreate, pendingWhileNotFound } from '../../aws/consistency.js';
import { STACK_TAG, stackFilters, tagValue } from '../../aws/tags.js';
import {
  awsErrorName,
  ignoreNotFound,
  isDependencyViolation,
  isNotFound,
} from '../../aws/errors.js';
import { allPages } from '../../aws/pages.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type VpcOutputs } from '../outputs.js';

const ec2sdk = () => import('@aws-sdk/client-ec2');

/** AWS's default number of VPCs per region (quota L-F678F1CE), the default VPC included. */
export const DEFAULT_VPC_QUOTA = 5;

/**
 * Every VPC tagged for this stack: one, unless a lost CreateVpc answer left a spare (CreateVpc
 * has no client token, so tags are the only guard). Never the region's default VPC, whatever
 * its tags say: nothing of cloudmart may touch it.
 */
async function findVpcs(ctx: StepContext): Promise<Vpc[]> {
  const { paginateDescribeVpcs } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const all = await allPages(
    paginateDescribeVpcs({ client: ec2 }, { Filters: stackFilters(ctx.config, STEP.vpc) }),
    (page) => page.Vpcs,
  );
  return all.filter((v) => v.VpcId && v.IsDefault !== true);
}

/**
 * The VPC the state names, looked up by id: the tag filter of DescribeVpcs is eventually
 * consistent and may not list it yet (docs/aws-gotchas), so the state wins over the tags. It is
 * adopted unless it is gone (InvalidVpcID.NotFound), the default VPC, or tagged for another stack.
 */
async function stateVpc(ctx: StepContext): Promise<Vpc | undefined> {
  const recorded = ctx.previous?.vpcId as string | undefined;
  if (!recorded) return undefined;
  const { DescribeVpcsCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const out = await ignoreNotFound(ec2.send(new DescribeVpcsCommand({ VpcIds: [recorded] })));
  const vpc = out?.Vpcs?.find((v) => v.VpcId === recorded);
  if (!vpc || vpc.IsDefault === true) return undefined;
  const stack = tagValue(vpc.Tags, STACK_TAG);
  return stack === undefined || stack === ctx.config.stack ? vpc : undefined;
}

/**
 * The stack's VPC: the one in the state (looked up by id), else among its tagged ones the one
 * that holds subnets (a run without the state built on it), else the smallest id. DescribeVpcs
 * gives no creation time and lists in no promised order, so the id is what makes two runs keep
 * the same one. The others are spares.
 */
async function pickVpc(ctx: StepContext, vpcs: Vpc[]): Promise<Vpc | undefined> {
  const inState = await stateVpc(ctx);
  if (inState) return inState;
  if (vpcs.length <= 1) return vpcs[0];
  const { paginateDescribeSubnets } = await ec2sdk();
  const subnets = await allPages(
    paginateDescribeSubnets(
      { client: await ctx.aws.get('ec2') },
      { Filters: [{ Name: 'vpc-id', Values: vpcs.map((v) => v.VpcId!) }] },
    ),
    (page) => page.Subnets,
  );
  const sorted = [...vpcs].sort((a, b) => (a.VpcId! < b.VpcId! ? -1 : 1));
  return sorted.find((v) => subnets.some((s) => s.VpcId === v.VpcId)) ?? sorted[0];
}

/**
 * Delete the stack's other VPCs, the spares a lost CreateVpc answer left (on this run or an
 * earlier, interrupted one), when they are empty; never the one the state names. DeleteVpc is
 * its own emptiness check: AWS refuses it with DependencyViolation while anything but the
 * default security group, network ACL and main route table is left in the VPC
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVpc.html), so one that
 * holds resources is kept, with a warning, and never waited for.
 */
async function deleteSpares(ctx: StepContext, vpcs: Vpc[], vpcId: string): Promise<void> {
  const { DeleteVpcCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const keep = new Set([vpcId, ctx.previous?.vpcId as string | undefined]);
  for (const spare of vpcs) {
    if (keep.has(spare.VpcId)) continue;
    ctx.progress(`deleting ${spare.VpcId!}, a spare of ${vpcId}`);
    try {
      await ignoreNotFound(ec2.send(new DeleteVpcCommand({ VpcId: spare.VpcId })));
    } catch (e) {
      if (!isDependencyViolation(e)) throw e;
      ctx.warn(
        `${spare.VpcId!} is tagged as this stack's VPC besides ${vpcId} and still holds resources (DependencyViolation): left as it is. "cloudmart destroy" removes it only once what it holds is gone: remove those resources (EC2 console, VPC ${spare.VpcId!}, "Resource map"), then run "cloudmart up" or delete the VPC by hand.`,
      );
    }
  }
}

async function dnsAttributes(
  ctx: StepContext,
  vpcId: string,
): Promise<{ support: boolean; hostnames: boolean }> {
  const { DescribeVpcAttributeCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const [support, hostnames] = await Promise.all([
    ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsSupport' })),
    ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' })),
  ]);
  return {
    support: support.EnableDnsSupport?.Value === true,
    hostnames: hostnames.EnableDnsHostnames?.Value === true,
  };
}

export const vpcStep = defineStep<VpcOutputs>({
  id: STEP.vpc,
  phase: 1,
  title: 'VPC',
  needs: [],
  actions: [
    'ec2:DescribeVpcs',
    'ec2:DescribeSubnets', // which of two tagged VPCs holds the stack's subnets
    'ec2:CreateVpc',
    'ec2:CreateTags',
    'ec2:DescribeVpcAttribute',
    'ec2:ModifyVpcAttribute',
    'ec2:DeleteVpc',
  ],
  describe: (config) => [
    `VPC ${names.of(config, 'vpc')} ${config.network.vpcCidr} with DNS support and DNS hostnames`,
  ],

  // A class sharing one account runs out of VPCs before anything else: AWS allows 5 per region
  // ("VPCs per Region", L-F678F1CE; the default VPC counts). Reading a raised quota takes the
  // Service Quotas API, which cloudmart does not call, so a full region is a warning, not a
  // refusal: with the default quota, CreateVpc will answer VpcLimitExceeded.
  preflightChecks: (config) => [
    `VPCs: room in ${config.region} for 1 more (AWS's default quota "VPCs per Region", L-F678F1CE, is ${DEFAULT_VPC_QUOTA}; a raised quota cannot be read without Service Quotas, so a full region is only a warning)`,
  ],
  async preflight(ctx) {
    if ((await findVpcs(ctx)).length > 0) return;
    const { paginateDescribeVpcs } = await ec2sdk();
    // Only this account's VPCs count toward its quota: DescribeVpcs also lists the VPCs other
    // accounts share with it (AWS RAM), which the owner-id filter leaves out.
    const all = await allPages(
      paginateDescribeVpcs(
        { client: await ctx.aws.get('ec2') },
        { Filters: [{ Name: 'owner-id', Values: [await ctx.aws.accountId()] }] },
      ),
      (page) => page.Vpcs,
    );
    if (all.length < DEFAULT_VPC_QUOTA) return;
    // The default VPC counts toward the quota like any other (it is a VPC of the account).
    const withDefault = all.some((v) => v.IsDefault === true) ? ' (the default VPC included)' : '';
    ctx.warn(
      `${ctx.config.region} already has ${all.length} VPCs${withDefault}, AWS's default quota ("VPCs per Region", L-F678F1CE): unless this account's quota was raised, up will stop at the VPC (VpcLimitExceeded). Delete a VPC you no longer need, or request an increase in Service Quotas.`,
    );
  },

  discover: {
    what: 'VPC',
    // A VPC the Tagging API lists after destroy is checked by id: a spare that held something
    // not the stack's survives teardown, and must be said to remain, not taken for tagging lag.
    confirm: async (aws, config, listed) => {
      if (listed.type !== 'ec2:vpc') return undefined;
      const { DescribeVpcsCommand } = await ec2sdk();
      const ec2 = await aws.get('ec2', listed.region);
      const id = listed.arn.replace(/^.*:vpc\//, '');
      const out = await ec2.send(new DescribeVpcsCommand({ VpcIds: [id] }));
      const vpc = out.Vpcs?.find((v) => v.VpcId === id);
      if (!vpc) return false;
      if (vpc.IsDefault === true) {
        return {
          ...listed,
          kept: true,
          note: `the region's default VPC, which cloudmart never deletes; it carries the tag ${STACK_TAG}=${config.stack}, which you can remove ("aws ec2 delete-tags --resources ${id} --tags Key=${STACK_TAG} --region ${listed.region}")`,
        };
      }
      return {
        ...listed,
        note: `${vpc.State ?? 'live'}; DeleteVpc is refused while it holds resources: remove them (EC2 console, VPC ${id}, "Resource map"), then delete it`,
      };
    },
  },

  async create(ctx) {
    const { CreateVpcCommand, ModifyVpcAttributeCommand, DescribeVpcsCommand } = await ec2sdk();
    const ec2 = await ctx.aws.get('ec2');
    const name = names.of(ctx.config, 'vpc');

    const found = await findVpcs(ctx);
    let vpc = await pickVpc(ctx, found);
    const created = !vpc;
    if (!vpc) {
      ctx.progress(`creating ${name} ${ctx.config.network.vpcCidr}`);
      const out = await ec2
        .send(
          new CreateVpcCommand({
            CidrBlock: ctx.config.network.vpcCidr,
            TagSpecifications: [{ ResourceType: 'vpc', Tags: ctx.tags.list(name) }],
          }),
        )
        .catch((e: unknown) => {
          if (awsErrorName(e) !== 'VpcLimitExceeded') throw e;
          throw new CloudmartError(
            'QUOTA',
            `Creating ${name} failed: ${ctx.config.region} already holds as many VPCs as the account may have (VpcLimitExceeded)`,
            {
              cause: e,
              hint: 'Delete a VPC you no longer need (another stack\'s "cloudmart destroy" removes its own), or request an increase of "VPCs per Region" (L-F678F1CE) in Service Quotas; then run "cloudmart up" again (it resumes).',
            },
          );
        });
      vpc = out.Vpc;
      if (!vpc?.VpcId) throw new Error('CreateVpc returned no VPC id');
    }
    const vpcId = vpc.VpcId!;

    // CreateVpc has no client token: when its answer is lost (a 5xx or a reset after AWS made
    // the VPC), the SDK's retry makes a second one with the same tags. Every run looks for such
    // spares, so one that an interrupted run or a failed delete left is removed by the next.
    await deleteSpares(ctx, created ? await findVpcs(ctx) : found, vpcId);

    if (vpc.State !== 'available') {
      // Right after CreateVpc, DescribeVpcs by id may still answer InvalidVpcID.NotFound.
      await waitUntil(
        ctx,
        pendingWhileNotFound(ctx, created, async () => {
          const out = await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
          const state = out.Vpcs?.[0]?.State ?? 'pending';
          return { done: state === 'available', status: state };
        }),
        { what: `VPC ${name}`, minDelayMs: 1_000, timeoutMs: 120_000 },
      );
    }

    // DNS support is on by default, hostnames are not; RDS and interface endpoints need both.
    const dns = await afterCreate(ctx, created, () => dnsAttributes(ctx, vpcId), {
      what: `reading the DNS attributes of ${vpcId}`,
    });
    if (!dns.support) {
      await afterCreate(
        ctx,
        created,
        () =>
          ec2.send(
            new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: true } }),
          ),
        { what: `enabling DNS support on ${vpcId}` },
      );
    }
    if (!dns.hostnames) {
      await afterCreate(
        ctx,
        created,
        () =>
          ec2.send(
            new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }),
          ),
        { what: `enabling DNS hostnames on ${vpcId}` },
      );
    }
    return { vpcId, cidr: vpc.CidrBlock ?? ctx.config.network.vpcCidr };
  },

  async verify(ctx) {
    // Read-only, as every verify: a spare is reported here and deleted by the next "up".
    const found = await findVpcs(ctx);
    const vpc = await pickVpc(ctx, found);
    if (!vpc?.VpcId) {
      return [
        {
          id: 'network.vpc.exists',
          title: 'VPC exists',
          criterion: 'multi-az',
          status: 'fail',
          evidence: `no VPC tagged cloudmart:stack=${ctx.config.stack}`,
          fix: 'cloudmart up --phase 1',
        },
      ];
    }
    const dns = await dnsAttributes(ctx, vpc.VpcId);
    const checks: Check[] = [
      {
        id: 'network.vpc.cidr',
        title: `VPC CIDR is ${ctx.config.network.vpcCidr}`,
        criterion: 'security-design',
        status: vpc.CidrBlock === ctx.config.network.vpcCidr ? 'pass' : 'fail',
        evidence: `${vpc.VpcId} ${vpc.CidrBlock ?? '?'}`,
      },
      {
        id: 'network.vpc.dns',
        title: 'VPC DNS support and hostnames on',
        criterion: 'other',
        status: dns.support && dns.hostnames ? 'pass' : 'fail',
        evidence: `enableDnsSupport=${dns.support} enableDnsHostnames=${dns.hostnames}`,
        fix: 'cloudmart up --phase 1',
      },
    ];
    const spares = found.filter((v) => v.VpcId !== vpc.VpcId).map((v) => v.VpcId!);
    if (spares.length > 0) {
      checks.push({
        id: 'network.vpc.spares',
        title: 'No spare VPC tagged for the stack',
        criterion: 'other',
        status: 'warn',
        evidence: `${vpc.VpcId} is the stack's VPC; also tagged for it: ${spares.join(', ')} (left by a lost CreateVpc answer; each counts toward the VPC quota)`,
        fix: `cloudmart up --phase 1 deletes a spare that holds nothing; one that holds resources stays until they are removed by hand (EC2 console, VPC ${spares[0]!}, "Resource map"), then delete it or run up again`,
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteVpcCommand, DescribeVpcsCommand } = await ec2sdk();
    const ec2 = await ctx.aws.get('ec2');
    // Every VPC of the stack (a spare a lost CreateVpc answer left included), and the one the
    // state names when the tag lookup does not list it yet; never the default VPC or another
    // stack's. One the state names without the stack tag is left with a warning: the operator
    // policy allows ec2:DeleteVpc only on aws:ResourceTag/cloudmart:stack, so AWS would refuse it.
    const vpcs = await findVpcs(ctx);
    const previousId = ctx.previous?.vpcId as string | undefined;
    if (previousId && !vpcs.some((v) => v.VpcId === previousId)) {
      const out = await ignoreNotFound(ec2.send(new DescribeVpcsCommand({ VpcIds: [previousId] })));
      for (const v of out?.Vpcs ?? []) {
        if (v.VpcId !== previousId || v.IsDefault === true) continue;
        const stack = tagValue(v.Tags, STACK_TAG);
        if (stack === ctx.config.stack) vpcs.push(v);
        else if (stack === undefined) {
          ctx.warn(
            `${previousId}, the VPC in the state, no longer has the tag ${STACK_TAG}=${ctx.config.stack}, and cloudmart may delete only VPCs that carry it: left as it is. Delete it by hand once empty (EC2 console > VPCs, or "aws ec2 delete-vpc --vpc-id ${previousId} --region ${ctx.config.region}").`,
          );
        }
      }
    }
    for (const { VpcId: vpcId } of vpcs) {
      try {
        // ENIs of a deleted ALB, RDS or Redis hold the VPC for minutes after their owner is gone.
        await retryWhile(ctx, () => ec2.send(new DeleteVpcCommand({ VpcId: vpcId })), {
          what: `deleting VPC ${vpcId!}`,
          timeoutMs: 15 * 60_000,
        });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  },
});
