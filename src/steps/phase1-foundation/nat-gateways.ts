import { createHash } from 'node:crypto';
import type { Address, NatGateway } from '@aws-sdk/client-ec2';
import { afterCreate, pendingWhileNotFound } from '../../aws/consistency.js';
import { allPages } from '../../aws/pages.js';
import {
  awsErrorName,
  ignoreNotFound,
  isDependencyViolation,
  isNotFound,
} from '../../aws/errors.js';
import { stackFilters, tagValue } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type NatOutputs, type SubnetsOutputs } from '../outputs.js';
import { AZ_INDEX_TAG, ec2, ec2sdk, FIX_PHASE1, missing, previousOutputs } from './ec2-lookup.js';

/** NAT states that still are (or will be) a working gateway; deleted/failed ones are history. */
const LIVE = ['pending', 'available'];
const GONE = new Set(['deleting', 'deleted', 'failed']);

const NAT_CREATE_TIMEOUT_MS = 15 * 60_000;
const NAT_DELETE_TIMEOUT_MS = 30 * 60_000;
/** How long ReleaseAddress waits for a deleted NAT's interface to let go of its address. */
export const EIP_RELEASE_TIMEOUT_MS = 5 * 60_000;

/**
 * What ReleaseAddress answers while the address is still held by a NAT gateway that already
 * reads "deleted": its network interface is still detaching. AWS then says InvalidIPAddress.InUse,
 * AuthFailure ("You do not have permission to access the specified resource") or
 * InvalidNetworkInterfaceID.NotFound (the interface it still maps to is half gone). None of them
 * means the address is released, nor (for AuthFailure) that the credentials are bad.
 */
export function isAddressStillHeld(e: unknown): boolean {
  const n = awsErrorName(e);
  return (
    n === 'AuthFailure' || n === 'InvalidNetworkInterfaceID.NotFound' || isDependencyViolation(e)
  );
}

/** The only answer that means the address is already released. */
function isAddressGone(e: unknown): boolean {
  return awsErrorName(e) === 'InvalidAllocationID.NotFound';
}

async function findNats(ctx: StepContext, states: string[]): Promise<NatGateway[]> {
  const { paginateDescribeNatGateways } = await ec2sdk();
  return allPages(
    paginateDescribeNatGateways(
      { client: await ec2(ctx) },
      // DescribeNatGateways calls its filters "Filter", unlike every other EC2 describe.
      { Filter: [...stackFilters(ctx.config, STEP.nat), { Name: 'state', Values: states }] },
    ),
    (page) => page.NatGateways,
  );
}

async function findEips(ctx: StepContext): Promise<Address[]> {
  const { DescribeAddressesCommand } = await ec2sdk();
  const out = await (
    await ec2(ctx)
  ).send(new DescribeAddressesCommand({ Filters: stackFilters(ctx.config, STEP.nat) }));
  return out.Addresses ?? [];
}

function atIndex<T extends { Tags?: Array<{ Key?: string; Value?: string }> }>(
  items: T[],
  index: number,
): T | undefined {
  return items.find((x) => tagValue(x.Tags, AZ_INDEX_TAG) === String(index));
}

/**
 * Deterministic per stack, AZ and Elastic IP: a crash after CreateNatGateway is answered by
 * the same NAT on the next run. The allocation id changes whenever the stack is rebuilt, so a
 * token spent on a gateway that a destroy since deleted is not reused; `spent` lists NATs the
 * token already returned dead, which moves the token on.
 */
function natClientToken(stack: string, az: string, allocationId: string, spent: string[]): string {
  return createHash('sha256')
    .update([stack, az, allocationId, ...spent].join('/'))
    .digest('hex')
    .slice(0, 64);
}

async function waitForNat(
  ctx: StepContext,
  natId: string,
  az: string,
  created: boolean,
): Promise<void> {
  const { DescribeNatGatewaysCommand } = await ec2sdk();
  const client = await ec2(ctx);
  await waitUntil(
    ctx,
    // Right after the create, DescribeNatGateways by id may answer NatGatewayNotFound.
    pendingWhileNotFound(ctx, created, async () => {
      const out = await client.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natId] }));
      const nat = out.NatGateways?.[0];
      const state = nat?.State ?? 'pending';
      if (state === 'failed' || state === 'deleting' || state === 'deleted') {
        return {
          done: false,
          failed: `${state}${nat?.FailureMessage ? `: ${nat.FailureMessage}` : ''}`,
          status: state,
        };
      }
      return { done: state === 'available', status: state };
    }),
    {
      what: `NAT gateway ${natId} in ${az}`,
      minDelayMs: 5_000,
      maxDelayMs: 15_000,
      timeoutMs: NAT_CREATE_TIMEOUT_MS,
    },
  );
}

async function releaseAddress(ctx: StepContext, id: string): Promise<void> {
  const { ReleaseAddressCommand } = await ec2sdk();
  const client = await ec2(ctx);
  ctx.progress(`releasing Elastic IP ${id}`);
  try {
    // The NAT's interface lets go of the address a little after the NAT reads "deleted"; until
    // then AWS refuses the release (see isAddressStillHeld).
    await retryWhile(ctx, () => client.send(new ReleaseAddressCommand({ AllocationId: id })), {
      what: `releasing Elastic IP ${id}`,
      when: isAddressStillHeld,
      timeoutMs: EIP_RELEASE_TIMEOUT_MS,
    });
  } catch (e) {
    if (isAddressGone(e)) return;
    if (isAddressStillHeld(e)) {
      // A CloudmartError of its own: an AuthFailure here comes from the NAT's interface, not
      // from the credentials, and must not read "credentials are missing or expired".
      throw new CloudmartError(
        'AWS_ERROR',
        `Releasing Elastic IP ${id} failed: AWS still refuses it ${Math.round(EIP_RELEASE_TIMEOUT_MS / 60_000)} min after its NAT gateway was deleted (${awsErrorName(e)}: ${(e as Error).message})`,
        {
          cause: e,
          hint: 'The deleted NAT gateway\'s network interface still holds the address. Wait a few minutes, then run "cloudmart destroy" again.',
        },
      );
    }
    throw e;
  }
}

/** EC2's default quota of Elastic IPs per region (quota code L-0263D0A3, "EC2-VPC Elastic IPs"). */
export const DEFAULT_EIP_QUOTA = 5;

/**
 * How many Elastic IPs the account may hold in the region. EC2's account attribute
 * `vpc-max-elastic-ips` is that number, raised quotas included
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAccountAttributes.html);
 * `source` says where the number came from when the attribute could not be read.
 */
async function eipQuota(ctx: StepContext): Promise<{ quota: number; source?: string }> {
  const { DescribeAccountAttributesCommand } = await ec2sdk();
  try {
    const out = await (
      await ec2(ctx)
    ).send(
      // Without names: AttributeNames only accepts supported-platforms and default-vpc.
      new DescribeAccountAttributesCommand({}),
    );
    const value = out.AccountAttributes?.find((a) => a.AttributeName === 'vpc-max-elastic-ips')
      ?.AttributeValues?.[0]?.AttributeValue;
    const quota = Number(value);
    if (value !== undefined && Number.isInteger(quota)) return { quota };
    return { quota: DEFAULT_EIP_QUOTA, source: 'EC2 did not say; AWS default' };
  } catch (e) {
    if (awsErrorName(e) !== 'UnauthorizedOperation' && awsErrorName(e) !== 'AccessDenied') throw e;
    return {
      quota: DEFAULT_EIP_QUOTA,
      source: 'ec2:DescribeAccountAttributes denied; AWS default',
    };
  }
}

export const natGatewaysStep = defineStep<NatOutputs>({
  id: STEP.nat,
  phase: 1,
  title: 'NAT gateways (one per AZ)',
  needs: [STEP.subnets, STEP.igw],
  actions: [
    'ec2:DescribeNatGateways',
    'ec2:DescribeAddresses',
    'ec2:DescribeAccountAttributes', // the Elastic IP quota, before anything bills
    'ec2:AllocateAddress',
    'ec2:CreateNatGateway',
    'ec2:CreateTags',
    'ec2:DeleteNatGateway',
    'ec2:ReleaseAddress',
  ],
  describe: (config) =>
    config.availabilityZones.map(
      (az) =>
        `NAT gateway ${names.of(config, `nat-${az}`)} with its own Elastic IP in ${az}'s public subnet`,
    ),

  // Before anything bills: one Elastic IP per AZ must fit under the region's quota (5 by default),
  // which a class sharing one account reaches with its third stack. AllocateAddress would
  // otherwise answer AddressLimitExceeded after the KMS key, the VPC and the subnets exist.
  preflightChecks: (config) => [
    `Elastic IPs: room in ${config.region} for ${config.availabilityZones.length} more (the quota "EC2-VPC Elastic IPs", L-0263D0A3, is 5 per region unless raised)`,
  ],
  async preflight(ctx) {
    const { DescribeAddressesCommand } = await ec2sdk();
    const [nats, own] = await Promise.all([findNats(ctx, LIVE), findEips(ctx)]);
    const needed = ctx.config.availabilityZones.filter(
      (_, i) => !atIndex(nats, i) && !atIndex(own, i),
    ).length;
    if (needed === 0) return;
    // DescribeAddresses does not page: it answers every address of the region at once.
    const [{ Addresses: all = [] }, { quota, source }] = await Promise.all([
      (await ec2(ctx)).send(new DescribeAddressesCommand({})),
      eipQuota(ctx),
    ]);
    if (all.length + needed <= quota) return;
    throw new CloudmartError(
      'QUOTA',
      `Elastic IPs: ${ctx.config.region} holds ${all.length} of the account's ${quota} (${source ?? 'vpc-max-elastic-ips'}) and the NAT gateways need ${needed} more: up would stop at the NAT gateways after the VPC is built`,
      {
        exitCode: 2,
        hint: `Release Elastic IPs you no longer need (EC2 console → Elastic IPs, or "aws ec2 release-address --allocation-id …"; another stack's "cloudmart destroy" releases its own), or request an increase of the quota "EC2-VPC Elastic IPs" (code L-0263D0A3) in Service Quotas; then run the command again.`,
      },
    );
  },

  async create(ctx) {
    const { AllocateAddressCommand, CreateNatGatewayCommand } = await ec2sdk();
    const client = await ec2(ctx);
    const subnets = ctx.outputs<SubnetsOutputs>(STEP.subnets);
    const azs = ctx.config.availabilityZones;
    const [nats, eips] = await Promise.all([findNats(ctx, LIVE), findEips(ctx)]);

    // Every AZ runs to its end before a failure is thrown: an AZ still allocating when the other
    // failed would otherwise outlive this call and race the engine's retry of the step (a second
    // address and gateway for that AZ, or the retry's stray release taking its address).
    const perAz = await settleAll(
      azs.map(async (az, i) => {
        const name = names.of(ctx.config, `nat-${az}`);
        const subnetId = subnets.publicSubnetIds[i]!;
        const tags = ctx.tags.list(name, { [AZ_INDEX_TAG]: String(i) });
        let nat = atIndex(nats, i);
        let eip = atIndex(eips, i);
        let allocated = false;
        let natCreated = false;

        if (nat && nat.SubnetId !== subnetId) {
          throw new CloudmartError(
            'AWS_ERROR',
            `NAT gateway ${nat.NatGatewayId ?? '?'} for ${az} is in ${nat.SubnetId ?? '?'}, not in the public subnet ${subnetId}`,
            { hint: 'Run "cloudmart destroy" and then "cloudmart up" to rebuild the network.' },
          );
        }
        if (!nat) {
          // AllocateAddress has no client token: the az-index tag set at allocation is the guard.
          if (!eip) {
            ctx.progress(`allocating an Elastic IP for ${name}`);
            const out = await client.send(
              new AllocateAddressCommand({
                Domain: 'vpc',
                TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: tags }],
              }),
            );
            if (!out.AllocationId) throw new Error('AllocateAddress returned no allocation id');
            eip = { AllocationId: out.AllocationId, PublicIp: out.PublicIp };
            allocated = true;
          }
          const allocationId = eip.AllocationId!;
          const spent: string[] = [];
          while (!nat) {
            ctx.progress(`creating ${name} in ${subnetId}`);
            const input = {
              SubnetId: subnetId,
              AllocationId: allocationId,
              ConnectivityType: 'public' as const,
              ClientToken: natClientToken(ctx.config.stack, az, allocationId, spent),
              TagSpecifications: [{ ResourceType: 'natgateway' as const, Tags: tags }],
            };
            // An address allocated moments ago may still read InvalidAllocationID.NotFound; the
            // client token makes the retry safe.
            const out = await afterCreate(
              ctx,
              allocated,
              () => client.send(new CreateNatGatewayCommand(input)),
              { what: `creating ${name} with ${allocationId}` },
            );
            const created = out.NatGateway;
            if (!created?.NatGatewayId) throw new Error('CreateNatGateway returned no id');
            if (GONE.has(created.State ?? '')) {
              if (spent.length >= 2) {
                throw new CloudmartError(
                  'AWS_ERROR',
                  `NAT gateway for ${az}: AWS keeps answering with gateways that are ${created.State}`,
                );
              }
              spent.push(created.NatGatewayId);
              continue;
            }
            nat = created;
            natCreated = true;
          }
        }
        const address = nat.NatGatewayAddresses?.[0];
        return {
          az,
          nat,
          natCreated,
          allocationId: address?.AllocationId ?? eip?.AllocationId ?? '',
          publicIp: address?.PublicIp ?? eip?.PublicIp ?? '',
        };
      }),
    );

    // AllocateAddress has no client token: when its answer is lost (a 5xx or a reset after AWS
    // allocated), the SDK's retry allocates a second address with the same tags. Release every
    // address of this stack that no gateway uses, so no stray address bills ($0.005 an hour).
    const used = new Set(
      perAz.flatMap((r) => [
        r.allocationId,
        ...(r.nat.NatGatewayAddresses ?? []).map((x) => x.AllocationId),
      ]),
    );
    const strays = (await findEips(ctx)).filter(
      (a) => a.AllocationId && !used.has(a.AllocationId) && !a.AssociationId,
    );
    for (const a of strays) await releaseAddress(ctx, a.AllocationId!);

    // Both gateways take ~2 minutes: wait for them side by side, not one after the other.
    await Promise.all(
      perAz
        .filter((r) => r.nat.State !== 'available')
        .map((r) => waitForNat(ctx, r.nat.NatGatewayId!, r.az, r.natCreated)),
    );

    return {
      natGatewayIds: perAz.map((r) => r.nat.NatGatewayId!),
      allocationIds: perAz.map((r) => r.allocationId),
      publicIps: perAz.map((r) => r.publicIp),
    };
  },

  async verify(ctx) {
    const nats = await findNats(ctx, [...LIVE, 'failed', 'deleting']);
    const subnets = ctx.maybeOutputs<SubnetsOutputs>(STEP.subnets);
    const azs = ctx.config.availabilityZones;
    if (nats.length === 0) {
      return [
        missing(
          'network.nat.per-az',
          'One available NAT gateway in each AZ',
          'multi-az',
          `no NAT gateway tagged cloudmart:stack=${ctx.config.stack}`,
        ),
      ];
    }
    const lines = azs.map((az, i) => {
      const subnetId = subnets?.publicSubnetIds[i];
      const ok = nats.find(
        (n) =>
          n.State === 'available' &&
          (subnetId ? n.SubnetId === subnetId : tagValue(n.Tags, AZ_INDEX_TAG) === String(i)),
      );
      const other = nats.find((n) => tagValue(n.Tags, AZ_INDEX_TAG) === String(i));
      const evidence = ok
        ? `${az}: ${ok.NatGatewayId ?? '?'} available in ${ok.SubnetId ?? '?'}`
        : other
          ? `${az}: ${other.NatGatewayId ?? '?'} is ${other.State ?? '?'} in ${other.SubnetId ?? '?'}${subnetId ? ` (public subnet ${subnetId})` : ''}`
          : `${az}: no NAT gateway${subnetId ? ` in ${subnetId}` : ''}`;
      return { ok: ok !== undefined, evidence };
    });
    return [
      {
        id: 'network.nat.per-az',
        title: 'One available NAT gateway in each AZ',
        criterion: 'multi-az',
        status: lines.every((l) => l.ok) ? 'pass' : 'fail',
        evidence: lines.map((l) => l.evidence).join('; '),
        fix: FIX_PHASE1,
      },
    ];
  },

  async teardown(ctx) {
    const { DeleteNatGatewayCommand, DescribeNatGatewaysCommand } = await ec2sdk();
    const client = await ec2(ctx);
    const prev = previousOutputs<NatOutputs>(ctx);

    const found = await findNats(ctx, [...LIVE, 'deleting']);
    const natIds = new Set<string>([
      ...found.map((n) => n.NatGatewayId!).filter(Boolean),
      ...(prev?.natGatewayIds ?? []),
    ]);
    const alreadyDeleting = new Set(
      found.filter((n) => n.State === 'deleting').map((n) => n.NatGatewayId),
    );
    for (const id of natIds) {
      if (alreadyDeleting.has(id)) continue;
      ctx.progress(`deleting NAT gateway ${id}`);
      await ignoreNotFound(client.send(new DeleteNatGatewayCommand({ NatGatewayId: id })));
    }

    // Deleting a NAT releases neither its EIP nor the IGW's mapped addresses until it is gone.
    await Promise.all(
      [...natIds].map((id) =>
        waitUntil(
          ctx,
          async () => {
            try {
              const out = await client.send(
                new DescribeNatGatewaysCommand({ NatGatewayIds: [id] }),
              );
              const state = out.NatGateways?.[0]?.State ?? 'deleted';
              return { done: state === 'deleted' || state === 'failed', status: state };
            } catch (e) {
              if (isNotFound(e)) return { done: true, status: 'deleted' };
              throw e;
            }
          },
          {
            what: `NAT gateway ${id} to be deleted`,
            minDelayMs: 5_000,
            maxDelayMs: 15_000,
            timeoutMs: NAT_DELETE_TIMEOUT_MS,
          },
        ),
      ),
    );

    // Found by tag too, so a lost state file still releases the addresses (they bill when idle).
    const allocationIds = new Set<string>([
      ...(await findEips(ctx)).map((a) => a.AllocationId!).filter(Boolean),
      ...(prev?.allocationIds ?? []).filter(Boolean),
    ]);
    // Side by side: each may wait minutes for its NAT's interface, and one failing must not
    // leave the other address allocated (an idle EIP bills).
    await settleAll([...allocationIds].map((id) => releaseAddress(ctx, id)));
  },
});

/** Like Promise.all, but throws the first failure only once every promise has settled. */
async function settleAll<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
