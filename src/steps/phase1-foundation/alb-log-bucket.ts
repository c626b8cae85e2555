import {
  S3_BUCKET_ACTIONS,
  bucketExists,
  deleteBucketCompletely,
  describeBucketSecurity,
  ensureSecureBucket,
  hasHttpsOnlyDeny,
  httpsOnlyStatement,
  putBucketPolicyIfChanged,
  regionalDomainName,
  type PolicyDocument,
} from '../../aws/s3.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import type { Config } from '../../config/schema.js';
import { names } from '../names.js';
import { STEP, type BucketOutputs } from '../outputs.js';

/** Key prefix of the access logs: `alb/AWSLogs/<account>/elasticloadbalancing/<region>/…`. */
export const ALB_LOG_PREFIX = 'alb';
export const ELB_LOG_DELIVERY_SID = 'AllowElbAccessLogDelivery';
const ELB_LOG_SERVICE = 'logdelivery.elasticloadbalancing.amazonaws.com';

/**
 * The Elastic Load Balancing account that writes access logs, for the regions that opened
 * before August 2022. Newer regions only accept the log-delivery service principal.
 */
export const ELB_LOG_ACCOUNTS: Readonly<Record<string, string>> = {
  'us-east-1': '127311923021',
  'us-east-2': '033677994240',
  'us-west-1': '027434742980',
  'us-west-2': '797873946194',
  'af-south-1': '098369216593',
  'ap-east-1': '754344448648',
  'ap-south-1': '718504428378',
  'ap-northeast-1': '582318560864',
  'ap-northeast-2': '600734575887',
  'ap-northeast-3': '383597477331',
  'ap-southeast-1': '114774131450',
  'ap-southeast-2': '783225319266',
  'ap-southeast-3': '589379963580',
  'ca-central-1': '985666609251',
  'eu-central-1': '054676820928',
  'eu-west-1': '156460612806',
  'eu-west-2': '652711504416',
  'eu-west-3': '009996457667',
  'eu-south-1': '635631232127',
  'eu-north-1': '897822967062',
  'me-south-1': '076674570225',
  'sa-east-1': '507241528517',
  'us-gov-west-1': '048591011584',
  'us-gov-east-1': '190560391635',
  'cn-north-1': '638102146993',
  'cn-northwest-1': '037604701340',
};

export interface AlbLogBucketOutputs extends BucketOutputs {
  /** Prefix the ALB writes under (access_logs.s3.prefix). */
  logPrefix: string;
}

export function albLogBucketName(config: Config, account: string): string {
  return names.bucket(`${config.stack}-alb-logs`, account, config.region);
}

/** Allow the region's ELB log delivery to write only under `<prefix>/AWSLogs/<account>/`. */
export function elbLogDeliveryStatement(
  bucket: string,
  account: string,
  region: string,
  partition = 'aws',
): Record<string, unknown> {
  const elbAccount = ELB_LOG_ACCOUNTS[region];
  return {
    Sid: ELB_LOG_DELIVERY_SID,
    Effect: 'Allow',
    Principal: elbAccount
      ? { AWS: `arn:${partition}:iam::${elbAccount}:root` }
      : { Service: ELB_LOG_SERVICE },
    Action: 's3:PutObject',
    Resource: `arn:${partition}:s3:::${bucket}/${ALB_LOG_PREFIX}/AWSLogs/${account}/*`,
  };
}

function desiredPolicy(ctx: StepContext, bucket: string, account: string): PolicyDocument {
  const partition = ctx.aws.partition();
  return {
    Version: '2012-10-17',
    Statement: [
      httpsOnlyStatement(bucket, partition),
      elbLogDeliveryStatement(bucket, account, ctx.config.region, partition),
    ],
  };
}

function grantsElbDelivery(
  policy: PolicyDocument | undefined,
  wanted: Record<string, unknown>,
): boolean {
  return (policy?.Statement ?? []).some(
    (s) =>
      s.Effect === 'Allow' &&
      JSON.stringify(s.Principal) === JSON.stringify(wanted.Principal) &&
      [s.Action].flat().includes('s3:PutObject') &&
      [s.Resource].flat().includes(wanted.Resource),
  );
}

export const albLogBucketStep = defineStep<AlbLogBucketOutputs>({
  id: STEP.albLogBucket,
  phase: 1,
  title: 'ALB access-log bucket',
  needs: [],
  actions: [...S3_BUCKET_ACTIONS, 'sts:GetCallerIdentity'],
  describe: (config) => [
    `S3 bucket ${config.stack}-alb-logs-<account>-${config.region} for ALB access logs: public access blocked, ` +
      `SSE-S3, BucketOwnerEnforced, HTTPS only, ELB log delivery allowed to ${ALB_LOG_PREFIX}/AWSLogs/<account>/`,
  ],

  async create(ctx) {
    const account = await ctx.aws.accountId();
    const bucket = albLogBucketName(ctx.config, account);
    const { bucketArn } = await ensureSecureBucket(ctx, bucket, {
      name: names.of(ctx.config, 'alb-logs'),
    });
    await putBucketPolicyIfChanged(ctx, bucket, desiredPolicy(ctx, bucket, account));
    return {
      bucketName: bucket,
      bucketArn,
      regionalDomainName: regionalDomainName(bucket, ctx.config.region),
      logPrefix: ALB_LOG_PREFIX,
    };
  },

  async verify(ctx) {
    const account = await ctx.aws.accountId();
    const bucket = albLogBucketName(ctx.config, account);
    const fix = 'cloudmart up --phase 1';
    if (!(await bucketExists(ctx, bucket))) {
      return [
        {
          id: 'app.alb-log-bucket.exists',
          title: 'ALB access-log bucket exists',
          criterion: 'audit-logs',
          status: 'fail',
          evidence: `S3 bucket ${bucket} not found`,
          fix,
        },
      ];
    }
    const live = await describeBucketSecurity(ctx, bucket);
    const delivery = elbLogDeliveryStatement(
      bucket,
      account,
      ctx.config.region,
      ctx.aws.partition(),
    );
    const checks: Check[] = [
      {
        id: 'app.alb-log-bucket.public-access',
        title: 'ALB log bucket blocks all public access',
        criterion: 'security-design',
        status: live.allPublicAccessBlocked && !live.policyIsPublic ? 'pass' : 'fail',
        evidence: `${bucket} publicAccessBlock=${JSON.stringify(live.publicAccessBlock ?? 'none')} policyIsPublic=${live.policyIsPublic}`,
        fix,
      },
      {
        id: 'app.alb-log-bucket.encryption',
        title: 'ALB log bucket encrypted at rest and HTTPS only',
        criterion: 'encryption',
        status: live.encryption && hasHttpsOnlyDeny(live.policy, bucket) ? 'pass' : 'fail',
        evidence: `${bucket} SSE=${live.encryption?.algorithm ?? 'none'} httpsOnly=${hasHttpsOnlyDeny(live.policy, bucket)}`,
        fix,
      },
      {
        id: 'app.alb-log-bucket.ownership',
        title: 'ALB log bucket enforces bucket-owner object ownership (no ACLs)',
        criterion: 'security-design',
        status: live.ownership === 'BucketOwnerEnforced' ? 'pass' : 'fail',
        evidence: `${bucket} ObjectOwnership=${live.ownership ?? 'none'}`,
        fix,
      },
      {
        id: 'app.alb-log-bucket.elb-delivery',
        title: `ELB log delivery of ${ctx.config.region} may write the access logs`,
        criterion: 'audit-logs',
        status: grantsElbDelivery(live.policy, delivery) ? 'pass' : 'fail',
        evidence: `${bucket} policy grants s3:PutObject on ${String(delivery.Resource)} to ${JSON.stringify(delivery.Principal)}: ${grantsElbDelivery(live.policy, delivery)}`,
        fix,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    // The ALB (which writes here) is deleted first: it needs this step.
    const previous = ctx.previous?.bucketName;
    const bucket =
      typeof previous === 'string'
        ? previous
        : albLogBucketName(ctx.config, await ctx.aws.accountId());
    await deleteBucketCompletely(ctx, bucket);
  },
});
