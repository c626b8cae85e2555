import { afterCreate } from '../../aws/consistency.js';
import { allPages } from '../../aws/pages.js';
import { ignoreNotFound } from '../../aws/errors.js';
import type { InternetGateway } from '@aws-sdk/client-ec2';
import { stackFilters } from '../../aws/tags.js';
import { defineStep, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type IgwOutputs, type VpcOutputs } from '../outputs.js';
import { deleteRetrying, ec2, ec2sdk, FIX_PHASE1, missing } from './ec2-lookup.js';

/** This stack's gateways: one, unless a lost CreateInternetGateway answer left a second. */
async function findIgws(ctx: StepContext): Promise<InternetGateway[]> {
  const { paginateDescribeInternetGateways } = await ec2sdk();
  return allPages(
    paginateDescribeInternetGateways(
      { client: await ec2(ctx) },
      { Filters: stackFilters(ctx.config, STEP.igw) },
    ),
    (page) => page.InternetGateways,
  );
}

/** The stack's gateway: the one attached to a VPC if any, else the first. */
async function findIgw(ctx: StepContext): Promise<InternetGateway | undefined> {
  const all = await findIgws(ctx);
  return all.find((g) => (g.Attachments ?? []).length > 0) ?? all[0];
}

/** DetachInternetGateway says Gateway.NotAttached when there is nothing to detach. */
function isNotAttached(e: unknown): boolean {
  return (e as { name?: string } | null)?.name === 'Gateway.NotAttached';
}

export const internetGatewayStep = defineStep<IgwOutputs>({
  id: STEP.igw,
  phase: 1,
  title: 'Internet gateway',
  needs: [STEP.vpc],
  actions: [
    'ec2:DescribeInternetGateways',
    'ec2:CreateInternetGateway',
    'ec2:CreateTags',
    'ec2:AttachInternetGateway',
    'ec2:DetachInternetGateway',
    'ec2:DeleteInternetGateway',
  ],
  describe: (config) => [`Internet gateway ${names.of(config, 'igw')} attached to the VPC`],

  async create(ctx) {
    const { CreateInternetGatewayCommand, AttachInternetGatewayCommand } = await ec2sdk();
    const client = await ec2(ctx);
    const { vpcId } = ctx.outputs<VpcOutputs>(STEP.vpc);
    const name = names.of(ctx.config, 'igw');

    const found = await findIgws(ctx);
    let igw = found.find((g) => (g.Attachments ?? []).length > 0) ?? found[0];
    const created = !igw;
    if (!igw) {
      ctx.progress(`creating ${name}`);
      const out = await client.send(
        new CreateInternetGatewayCommand({
          TagSpecifications: [{ ResourceType: 'internet-gateway', Tags: ctx.tags.list(name) }],
        }),
      );
      igw = out.InternetGateway;
      if (!igw?.InternetGatewayId) throw new Error('CreateInternetGateway returned no id');
    }
    const igwId = igw.InternetGatewayId!;

    const attachments = igw.Attachments ?? [];
    const elsewhere = attachments.find((a) => a.VpcId && a.VpcId !== vpcId);
    if (elsewhere) {
      throw new CloudmartError(
        'AWS_ERROR',
        `Internet gateway ${igwId} is attached to ${elsewhere.VpcId}, not to the stack's VPC ${vpcId}`,
        { hint: 'Detach it in the AWS console or run "cloudmart destroy", then run up again.' },
      );
    }
    if (!attachments.some((a) => a.VpcId === vpcId)) {
      ctx.progress(`attaching ${igwId} to ${vpcId}`);
      // Right after the create, the attach may answer InvalidInternetGatewayID.NotFound.
      await afterCreate(
        ctx,
        created,
        () =>
          client.send(new AttachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId })),
        { what: `attaching ${igwId} to ${vpcId}` },
      );
    }
    // CreateInternetGateway has no client token: when its answer is lost (a 5xx or a reset after
    // AWS made it), the SDK's retry makes a second gateway with the same tags. Delete the spare.
    const { DeleteInternetGatewayCommand } = await ec2sdk();
    for (const spare of created ? await findIgws(ctx) : found) {
      if (spare.InternetGatewayId === igwId || (spare.Attachments ?? []).length > 0) continue;
      ctx.progress(`deleting ${spare.InternetGatewayId!}, a spare of ${igwId}`);
      await ignoreNotFound(
        client.send(
          new DeleteInternetGatewayCommand({ InternetGatewayId: spare.InternetGatewayId }),
        ),
      );
    }
    return { internetGatewayId: igwId };
  },

  async verify(ctx) {
    const igw = await findIgw(ctx);
    if (!igw?.InternetGatewayId) {
      return [
        missing(
          'network.igw.attached',
          'Internet gateway attached to the VPC',
          'other',
          `no internet gateway tagged cloudmart:stack=${ctx.config.stack}`,
        ),
      ];
    }
    const vpcId = ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const attached = (igw.Attachments ?? []).filter(
      (a) =>
        // IGW attachments read "available" once attached (not "attached" as for other types).
        ['available', 'attached'].includes(String(a.State)) &&
        (vpcId === undefined || a.VpcId === vpcId),
    );
    return [
      {
        id: 'network.igw.attached',
        title: 'Internet gateway attached to the VPC',
        criterion: 'other',
        status: attached.length > 0 ? 'pass' : 'fail',
        evidence: `${igw.InternetGatewayId} attachments: ${
          (igw.Attachments ?? []).map((a) => `${a.VpcId ?? '?'} ${a.State ?? '?'}`).join(', ') ||
          'none'
        }`,
        fix: FIX_PHASE1,
      },
    ];
  },

  async teardown(ctx) {
    const {
      DetachInternetGatewayCommand,
      DeleteInternetGatewayCommand,
      DescribeInternetGatewaysCommand,
    } = await ec2sdk();
    const client = await ec2(ctx);
    const igws = await findIgws(ctx);
    const previousId = ctx.previous?.internetGatewayId as string | undefined;
    if (previousId && !igws.some((g) => g.InternetGatewayId === previousId)) {
      const out = await ignoreNotFound(
        client.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: [previousId] })),
      );
      igws.push(...(out?.InternetGateways ?? []));
    }
    for (const igw of igws) {
      const igwId = igw.InternetGatewayId;
      if (!igwId) continue;
      for (const a of igw.Attachments ?? []) {
        if (!a.VpcId) continue;
        const vpcId = a.VpcId;
        // Refused with DependencyViolation while NAT EIPs or an ALB's public addresses are mapped.
        try {
          await deleteRetrying(ctx, `detaching ${igwId} from ${vpcId}`, () =>
            client.send(
              new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId }),
            ),
          );
        } catch (e) {
          if (!isNotAttached(e)) throw e;
        }
      }
      await deleteRetrying(ctx, `deleting ${igwId}`, () =>
        client.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igwId })),
      );
    }
  },
});
