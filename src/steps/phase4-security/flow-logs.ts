import { logGroupLeftovers, roleLeftovers } from '../discover.js';
import { decodePolicy, samePolicyValue } from '../../aws/policy.js';
import { allPages } from '../../aws/pages.js';
import type { EC2Client, FlowLog } from '@aws-sdk/client-ec2';
import type { IAMClient } from '@aws-sdk/client-iam';
import {
  ignoreNotFound,
  isAlreadyExists,
  isDependencyViolation,
  isNotFound,
} from '../../aws/errors.js';
import {
  attachedRolePolicies,
  findLogGroup,
  findRole,
  inlineRolePolicyNames,
} from '../../aws/find.js';
import { STACK_TAG, STEP_TAG } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { afterCreate, justCreated } from '../../aws/consistency.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type KmsOutputs, type VpcOutputs } from '../outputs.js';
import {
  boundaryCheck,
  boundaryMember,
  convergeBoundary,
  createRoleError,
  trustCheck,
  trustDriftError,
  wantedBoundary,
  boundaryPreflight,
  boundaryPreflightChecks,
} from '../role-boundary.js';

const ec2sdk = () => import('@aws-sdk/client-ec2');
const iamSdk = () => import('@aws-sdk/client-iam');
const logsSdk = () => import('@aws-sdk/client-cloudwatch-logs');

export interface FlowLogsOutputs {
  flowLogId: string;
  logGroupName: string;
  logGroupArn: string;
  roleName: string;
  roleArn: string;
  [k: string]: unknown;
}

export const POLICY_NAME = 'flow-logs-delivery';
export const flowLogsRoleName = (config: Config): string => names.of(config, 'flow-logs-role');

export const logGroupArnOf = (
  partition: string,
  region: string,
  account: string,
  group: string,
): string => `arn:${partition}:logs:${region}:${account}:log-group:${group}`;

export function trustPolicy(
  account: string,
  partition: string,
  region: string,
): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
        Action: 'sts:AssumeRole',
        // Confused-deputy guard: only flow logs of this account may assume the role.
        Condition: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:ec2:${region}:${account}:vpc-flow-log/*` },
        },
      },
    ],
  };
}

/** Delivery rights on the one log group (and its streams), nothing else. */
export function deliveryPolicy(groupArn: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [groupArn, `${groupArn}:log-stream:*`],
      },
    ],
  };
}

/** IAM hands policy documents back URL-encoded; compare them parsed, as AWS means them. */
export function sameDocument(live: string | undefined, want: Record<string, unknown>): boolean {
  const parsed = decodePolicy(live);
  return parsed !== undefined && samePolicyValue(parsed, want);
}

async function getInlinePolicy(iam: IAMClient, role: string): Promise<string | undefined> {
  const { GetRolePolicyCommand } = await iamSdk();
  try {
    return (await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: POLICY_NAME })))
      .PolicyDocument;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** This stack's flow logs: by tag, and on the VPC when it is known. */
async function findFlowLogs(
  ctx: StepContext,
  ec2: EC2Client,
  vpcId: string | undefined,
): Promise<FlowLog[]> {
  const { paginateDescribeFlowLogs } = await ec2sdk();
  return allPages(
    paginateDescribeFlowLogs(
      { client: ec2 },
      {
        Filter: [
          ...(vpcId ? [{ Name: 'resource-id', Values: [vpcId] }] : []),
          { Name: `tag:${STACK_TAG}`, Values: [ctx.config.stack] },
          { Name: `tag:${STEP_TAG}`, Values: [STEP.flowLogs] },
        ],
      },
    ),
    (page) => page.FlowLogs,
  );
}

/** EC2 client tokens are at most 64 ASCII characters: only the stack part may be shortened. */
export const flowLogToken = (stack: string, run: number, attempt: number): string =>
  `${stack.slice(0, 32)}-flow-logs-${run}-${attempt}`;

/**
 * The id CreateFlowLogs returned is recorded only once DescribeFlowLogs lists it: an answer
 * replayed for a reused token names a flow log that no longer exists. A new flow log can take
 * a moment to appear in Describe (eventual consistency), hence the short wait.
 */
async function confirmFlowLog(
  ctx: StepContext,
  ec2: EC2Client,
  flowLogId: string,
  vpcId: string,
): Promise<void> {
  const { DescribeFlowLogsCommand } = await ec2sdk();
  try {
    await waitUntil(
      ctx,
      async () => {
        const out = await ignoreNotFound(
          ec2.send(new DescribeFlowLogsCommand({ FlowLogIds: [flowLogId] })),
        );
        const found = out?.FlowLogs?.some((f) => f.FlowLogId === flowLogId) ?? false;
        return { done: found, status: found ? 'listed' : 'not listed yet' };
      },
      { what: `flow log ${flowLogId} on ${vpcId}`, minDelayMs: 2_000, timeoutMs: 60_000 },
    );
  } catch (e) {
    if (!(e instanceof CloudmartError) || e.code !== 'TIMEOUT') throw e;
    throw new CloudmartError(
      'AWS_ERROR',
      `CreateFlowLogs on ${vpcId} answered with flow log ${flowLogId}, but EC2 does not list it: no flow log was created`,
      { hint: 'Run cloudmart up --phase 4 again; it sends a new request.', cause: e },
    );
  }
}

/** CreateFlowLogs reports per-resource failures in the response, not as an error. */
class FlowLogCreateError extends Error {
  constructor(code: string, message: string) {
    super(message);
    this.name = code;
  }
}

/** The role was created seconds ago and the flow-logs service cannot assume it yet. */
const isIamPropagation = (e: unknown): boolean =>
  /assume|IAM role|propagat|DeliverLogsPermission/i.test((e as Error).message ?? '');

export const flowLogsStep = defineStep<FlowLogsOutputs>({
  id: STEP.flowLogs,
  phase: 4,
  title: 'VPC Flow Logs',
  needs: [STEP.vpc, STEP.kms],
  actions: [
    'logs:DescribeLogGroups',
    'logs:CreateLogGroup',
    'logs:TagResource',
    'logs:PutRetentionPolicy',
    'logs:AssociateKmsKey',
    'logs:DeleteLogGroup',
    'iam:GetRole',
    'iam:GetPolicy',
    'iam:CreateRole',
    'iam:TagRole',
    'iam:UpdateAssumeRolePolicy',
    'iam:PutRolePermissionsBoundary',
    'iam:GetRolePolicy',
    'iam:PutRolePolicy',
    'iam:ListRolePolicies',
    'iam:DeleteRolePolicy',
    'iam:ListAttachedRolePolicies',
    'iam:DetachRolePolicy',
    'iam:DeleteRole',
    'iam:PassRole',
    'ec2:DescribeFlowLogs',
    'ec2:CreateFlowLogs',
    'ec2:CreateTags',
    'ec2:DeleteFlowLogs',
  ],
  describe: (config) => [
    `Log group ${config.network.flowLogs.logGroup} (${config.network.flowLogs.retentionDays} d, stack KMS key)`,
    `IAM role ${flowLogsRoleName(config)} for vpc-flow-logs.amazonaws.com, writing only to that log group`,
    `VPC flow log (${config.network.flowLogs.trafficType} traffic) to CloudWatch Logs`,
  ],

  discover: {
    what: 'IAM role and log group of the flow logs',
    find: async (aws, config) => [
      ...(await roleLeftovers(aws, [flowLogsRoleName(config)])),
      ...(await logGroupLeftovers(aws, config, config.network.flowLogs.logGroup)),
    ],
  },
  // Before anything bills: the configured permissions boundary exists (src/steps/role-boundary.ts).
  preflightChecks: boundaryPreflightChecks,
  preflight: boundaryPreflight,

  async create(ctx) {
    const { AssociateKmsKeyCommand, CreateLogGroupCommand, PutRetentionPolicyCommand } =
      await logsSdk();
    const { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } =
      await iamSdk();
    const { CreateFlowLogsCommand } = await ec2sdk();
    const { logGroup: groupName, retentionDays, trafficType } = ctx.config.network.flowLogs;
    const { vpcId } = ctx.outputs<VpcOutputs>(STEP.vpc);
    const { keyArn } = ctx.outputs<KmsOutputs>(STEP.kms);
    const account = await ctx.aws.accountId();
    const partition = ctx.aws.partition();
    const groupArn = logGroupArnOf(partition, ctx.config.region, account, groupName);

    // 1. The log group, encrypted with the stack key, 7-day retention.
    const logs = await ctx.aws.get('logs');
    let group = await findLogGroup(logs, groupName);
    if (!group) {
      ctx.progress(`creating log group ${groupName}`);
      try {
        await logs.send(
          new CreateLogGroupCommand({
            logGroupName: groupName,
            kmsKeyId: keyArn,
            tags: ctx.tags.map(groupName),
          }),
        );
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      group = { logGroupName: groupName, kmsKeyId: keyArn };
    }
    if (group.retentionInDays !== retentionDays) {
      await logs.send(
        new PutRetentionPolicyCommand({ logGroupName: groupName, retentionInDays: retentionDays }),
      );
    }
    if (group.kmsKeyId !== keyArn) {
      await logs.send(new AssociateKmsKeyCommand({ logGroupName: groupName, kmsKeyId: keyArn }));
    }

    // 2. The delivery role, limited to that log group.
    const iam = await ctx.aws.get('iam');
    const roleName = flowLogsRoleName(ctx.config);
    const trust = trustPolicy(account, partition, ctx.config.region);
    const boundary = await wantedBoundary(ctx);
    let role = await findRole(iam, roleName);
    let roleIsNew = false;
    if (!role) {
      ctx.progress(`creating IAM role ${roleName}`);
      try {
        role = (
          await iam.send(
            new CreateRoleCommand({
              RoleName: roleName,
              AssumeRolePolicyDocument: JSON.stringify(trust),
              Description: `VPC Flow Logs delivery to ${groupName} (cloudmart ${ctx.config.stack})`,
              ...boundaryMember(boundary),
              Tags: ctx.tags.list(roleName),
            }),
          )
        ).Role;
        roleIsNew = true;
      } catch (e) {
        if (!isAlreadyExists(e)) throw createRoleError(e, roleName, boundary, ctx.config);
        role = await findRole(iam, roleName);
      }
      if (!role?.Arn) throw new Error(`IAM CreateRole ${roleName} returned no role`);
    } else if (!sameDocument(role.AssumeRolePolicyDocument, trust)) {
      // With a boundary the operator policy denies UpdateAssumeRolePolicy: an administrator fixes it.
      if (boundary) throw trustDriftError(roleName, trust);
      await iam.send(
        new UpdateAssumeRolePolicyCommand({
          RoleName: roleName,
          PolicyDocument: JSON.stringify(trust),
        }),
      );
    }
    // Before the policy is written: the operator policy allows that only on a role with the boundary.
    if (!roleIsNew) await convergeBoundary(ctx, iam, role, justCreated(ctx, role.CreateDate));
    const policy = deliveryPolicy(groupArn);
    // A role created a moment ago has no policy yet, and IAM may answer NoSuchEntity for it
    // while it propagates (terraform-provider-aws PR #6079).
    const inline = roleIsNew ? undefined : await getInlinePolicy(iam, roleName);
    if (!sameDocument(inline, policy)) {
      await afterCreate(
        ctx,
        roleIsNew || justCreated(ctx, role.CreateDate),
        () =>
          iam.send(
            new PutRolePolicyCommand({
              RoleName: roleName,
              PolicyName: POLICY_NAME,
              PolicyDocument: JSON.stringify(policy),
            }),
          ),
        { what: `writing the delivery policy of ${roleName}` },
      );
    }
    const roleArn = role.Arn!;

    // 3. The flow log on the VPC, adopted by tag.
    const ec2 = await ctx.aws.get('ec2');
    let flowLogId = (await findFlowLogs(ctx, ec2, vpcId))[0]?.FlowLogId;
    if (!flowLogId) {
      ctx.progress(`creating flow log on ${vpcId}`);
      // EC2 answers a reused token with the first answer it gave: the id of a flow log that
      // has since been deleted, or an old failure. The token is therefore unique per run and
      // per attempt (the SDK's own retries of one attempt still share it); across runs the
      // find-by-tag lookup above is what keeps a second flow log from being made.
      const run = ctx.now();
      let attempt = 0;
      flowLogId = await retryWhile(
        ctx,
        async () => {
          attempt += 1;
          const out = await ec2.send(
            new CreateFlowLogsCommand({
              ResourceIds: [vpcId],
              ResourceType: 'VPC',
              TrafficType: trafficType,
              LogDestinationType: 'cloud-watch-logs',
              LogGroupName: groupName,
              DeliverLogsPermissionArn: roleArn,
              TagSpecifications: [
                {
                  ResourceType: 'vpc-flow-log',
                  Tags: ctx.tags.list(names.of(ctx.config, 'flow-log')),
                },
              ],
              ClientToken: flowLogToken(ctx.config.stack, run, attempt),
            }),
          );
          const failure = out.Unsuccessful?.[0]?.Error;
          if (failure) {
            throw new FlowLogCreateError(
              failure.Code ?? 'FlowLogCreateFailed',
              `CreateFlowLogs on ${vpcId}: ${failure.Message ?? failure.Code ?? 'failed'}`,
            );
          }
          const id = out.FlowLogIds?.[0];
          if (!id) throw new Error(`CreateFlowLogs on ${vpcId} returned no flow log id`);
          return id;
        },
        {
          what: `flow log on ${vpcId} (IAM role propagation)`,
          when: (e) => roleIsNew && isIamPropagation(e),
          timeoutMs: 2 * 60_000,
        },
      );
      await confirmFlowLog(ctx, ec2, flowLogId, vpcId);
    }

    return { flowLogId, logGroupName: groupName, logGroupArn: groupArn, roleName, roleArn };
  },

  async verify(ctx) {
    const { logGroup: groupName, retentionDays, trafficType } = ctx.config.network.flowLogs;
    const vpcId = ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const keyArn = ctx.maybeOutputs<KmsOutputs>(STEP.kms)?.keyArn;
    const fix = 'cloudmart up --phase 4';
    const flow = (await findFlowLogs(ctx, await ctx.aws.get('ec2'), vpcId))[0];
    const group = await findLogGroup(await ctx.aws.get('logs'), groupName);
    const checks: Check[] = [
      {
        id: 'security.flow-logs.active',
        title: `VPC flow log (${trafficType}) delivering to ${groupName}`,
        criterion: 'audit-logs',
        status: !flow
          ? 'fail'
          : flow.FlowLogStatus === 'ACTIVE' &&
              flow.TrafficType === trafficType &&
              flow.LogGroupName === groupName &&
              (flow.DeliverLogsStatus ?? 'SUCCESS') === 'SUCCESS'
            ? 'pass'
            : 'fail',
        evidence: flow
          ? `${flow.FlowLogId ?? '?'} on ${flow.ResourceId ?? '?'}: ${flow.FlowLogStatus ?? '?'}, ${flow.TrafficType ?? '?'} → ${flow.LogGroupName ?? flow.LogDestination ?? '?'}, delivery ${flow.DeliverLogsStatus ?? '?'}${flow.DeliverLogsErrorMessage ? ` (${flow.DeliverLogsErrorMessage})` : ''}`
          : `no flow log tagged ${STACK_TAG}=${ctx.config.stack}${vpcId ? ` on ${vpcId}` : ''}`,
        fix,
      },
      {
        id: 'security.flow-logs.log-group',
        title: `Log group ${groupName}: ${retentionDays}-day retention, KMS-encrypted`,
        criterion: 'encryption',
        status:
          group &&
          group.retentionInDays === retentionDays &&
          group.kmsKeyId &&
          (!keyArn || group.kmsKeyId === keyArn)
            ? 'pass'
            : 'fail',
        evidence: group
          ? `retention ${group.retentionInDays ?? 'never expires'}, kmsKeyId ${group.kmsKeyId ?? 'none'}`
          : `no log group ${groupName}`,
        fix,
      },
    ];
    // The delivery role's boundary, when one is configured.
    const role = (await wantedBoundary(ctx))
      ? await findRole(await ctx.aws.get('iam'), flowLogsRoleName(ctx.config))
      : undefined;
    if (role) {
      checks.push(...(await boundaryCheck(ctx, 'security.flow-logs.boundary', role, 'iam', fix)));
      const trust = trustPolicy(await ctx.aws.accountId(), ctx.aws.partition(), ctx.config.region);
      checks.push(
        ...(await trustCheck(
          ctx,
          'security.flow-logs.trust',
          role,
          sameDocument(role.AssumeRolePolicyDocument, trust),
          trust,
        )),
      );
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteFlowLogsCommand } = await ec2sdk();
    const { DeleteRoleCommand, DeleteRolePolicyCommand, DetachRolePolicyCommand } = await iamSdk();
    const { DeleteLogGroupCommand } = await logsSdk();

    // 1. The flow log (found by tag: the VPC may already be unknown).
    const ec2 = await ctx.aws.get('ec2');
    const vpcId = ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const ids = (await findFlowLogs(ctx, ec2, vpcId)).map((f) => f.FlowLogId!).filter(Boolean);
    const previousId = ctx.previous?.flowLogId as string | undefined;
    if (previousId && !ids.includes(previousId)) ids.push(previousId);
    if (ids.length > 0) {
      const out = await ec2.send(new DeleteFlowLogsCommand({ FlowLogIds: ids }));
      const failed = (out.Unsuccessful ?? []).filter((u) => !/NotFound/i.test(u.Error?.Code ?? ''));
      if (failed.length > 0) {
        const f = failed[0]!;
        throw new Error(
          `DeleteFlowLogs ${f.ResourceId ?? '?'}: ${f.Error?.Code ?? 'Error'} ${f.Error?.Message ?? ''}`.trim(),
        );
      }
    }

    // 2. The role: inline and attached policies first, IAM refuses to delete it otherwise.
    const iam = await ctx.aws.get('iam');
    const roleName = flowLogsRoleName(ctx.config);
    try {
      for (const p of await inlineRolePolicyNames(iam, roleName)) {
        await iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: p }));
      }
      for (const p of await attachedRolePolicies(iam, roleName)) {
        await iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: p.PolicyArn }));
      }
      await retryWhile(ctx, () => iam.send(new DeleteRoleCommand({ RoleName: roleName })), {
        what: `deleting IAM role ${roleName}`,
        when: isDependencyViolation,
        timeoutMs: 2 * 60_000,
      });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }

    // 3. The log group, last: the flow log no longer writes into it.
    const logs = await ctx.aws.get('logs');
    try {
      await logs.send(
        new DeleteLogGroupCommand({ logGroupName: ctx.config.network.flowLogs.logGroup }),
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
});
