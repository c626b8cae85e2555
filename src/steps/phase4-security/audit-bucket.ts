import {
  S3_BUCKET_ACTIONS,
  bucketArn,
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
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import { STEP, type BucketOutputs } from '../outputs.js';

export interface AuditBucketOutputs extends BucketOutputs {
  /** The trail the bucket policy admits (aws:SourceArn). */
  trailArn: string;
}

export const TRAIL_ACL_SID = 'AWSCloudTrailAclCheck';
export const TRAIL_WRITE_SID = 'AWSCloudTrailWrite';

export const auditBucketName = (config: Config, account: string): string =>
  names.bucket(config.security.auditBucketPrefix, account, config.region);

export const trailArnOf = (config: Config, partition: string, account: string): string =>
  `arn:${partition}:cloudtrail:${config.region}:${account}:trail/${config.security.trailName}`;

/**
 * CloudTrail's bucket policy: ACL check on the bucket and PutObject under AWSLogs/<account>/,
 * both only for this stack's trail (aws:SourceArn), so no other trail can write here.
 */
export function auditBucketPolicy(
  bucket: string,
  account: string,
  partition: string,
  trailArn: string,
): PolicyDocument {
  const arn = bucketArn(bucket, partition);
  return {
    Version: '2012-10-17',
    Statement: [
      httpsOnlyStatement(bucket, partition),
      {
        Sid: TRAIL_ACL_SID,
        Effect: 'Allow',
        Principal: { Service: 'cloudtrail.amazonaws.com' },
        Action: 's3:GetBucketAcl',
        Resource: arn,
        Condition: { StringEquals: { 'aws:SourceArn': trailArn } },
      },
      {
        Sid: TRAIL_WRITE_SID,
        Effect: 'Allow',
        Principal: { Service: 'cloudtrail.amazonaws.com' },
        Action: 's3:PutObject',
        Resource: `${arn}/AWSLogs/${account}/*`,
        Condition: {
          StringEquals: {
            's3:x-amz-acl': 'bucket-owner-full-control',
            'aws:SourceArn': trailArn,
          },
        },
      },
    ],
  };
}

/** A live CloudTrail grant admits only this trail: aws:SourceArn equals its ARN. */
function grantsOnlyTrail(statement: Record<string, unknown>, trailArn: string): boolean {
  const cond = statement.Condition as { StringEquals?: Record<string, unknown> } | undefined;
  const source = cond?.StringEquals?.['aws:SourceArn'];
  const values = Array.isArray(source) ? source : [source];
  return statement.Effect === 'Allow' && values.length === 1 && values[0] === trailArn;
}

async function bucketName(ctx: StepContext): Promise<string> {
  return (
    (ctx.previous?.bucketName as string | undefined) ??
    auditBucketName(ctx.config, await ctx.aws.accountId())
  );
}

export const auditBucketStep = defineStep<AuditBucketOutputs>({
  id: STEP.auditBucket,
  phase: 4,
  title: 'CloudTrail audit log bucket',
  needs: [],
  actions: [...S3_BUCKET_ACTIONS],
  describe: (config) => [
    `S3 bucket ${config.security.auditBucketPrefix}-<account>-${config.region}: versioned, SSE-S3, public access blocked, HTTPS only`,
    `Bucket policy letting only the trail ${config.security.trailName} (aws:SourceArn) check the ACL and write AWSLogs/<account>/*`,
  ],

  async create(ctx) {
    const account = await ctx.aws.accountId();
    const partition = ctx.aws.partition();
    const bucket = auditBucketName(ctx.config, account);
    const { bucketArn: arn } = await ensureSecureBucket(ctx, bucket, {
      name: bucket,
      versioning: true,
    });
    const trailArn = trailArnOf(ctx.config, partition, account);
    // Written before the trail exists: CreateTrail checks it (InsufficientS3BucketPolicyException).
    await putBucketPolicyIfChanged(
      ctx,
      bucket,
      auditBucketPolicy(bucket, account, partition, trailArn),
    );
    return {
      bucketName: bucket,
      bucketArn: arn,
      regionalDomainName: regionalDomainName(bucket, ctx.config.region),
      trailArn,
    };
  },

  async verify(ctx) {
    const account = await ctx.aws.accountId();
    const partition = ctx.aws.partition();
    const bucket = await bucketName(ctx);
    const fix = 'cloudmart up --phase 4';
    if (!(await bucketExists(ctx, bucket))) {
      return [
        {
          id: 'security.audit-bucket.exists',
          title: 'Audit log bucket exists',
          criterion: 'audit-logs',
          status: 'fail',
          evidence: `no bucket ${bucket}`,
          fix,
        },
      ];
    }
    const sec = await describeBucketSecurity(ctx, bucket);
    const trailArn = trailArnOf(ctx.config, partition, account);
    const grants = [TRAIL_ACL_SID, TRAIL_WRITE_SID].filter(
      (sid) => !sec.policy?.Statement.some((s) => s.Sid === sid && grantsOnlyTrail(s, trailArn)),
    );
    const checks: Check[] = [
      {
        id: 'security.audit-bucket.versioning',
        title: 'Audit log bucket versioned',
        criterion: 'audit-logs',
        status: sec.versioning === 'Enabled' ? 'pass' : 'fail',
        evidence: `${bucket}: versioning ${sec.versioning ?? 'never enabled'}`,
        fix,
      },
      {
        id: 'security.audit-bucket.encryption',
        title: 'Audit log bucket encrypted by default',
        criterion: 'encryption',
        status: sec.encryption ? 'pass' : 'fail',
        evidence: `${bucket}: ${sec.encryption?.algorithm ?? 'no default encryption'}`,
        fix,
      },
      {
        id: 'security.audit-bucket.public-access',
        title: 'Audit log bucket blocks all public access',
        criterion: 'security-design',
        status: sec.allPublicAccessBlocked && !sec.policyIsPublic ? 'pass' : 'fail',
        evidence: `${bucket}: public access block ${sec.allPublicAccessBlocked ? 'all on' : 'incomplete'}, policy ${sec.policyIsPublic ? 'public' : 'not public'}`,
        fix,
      },
      {
        id: 'security.audit-bucket.policy',
        title: 'Audit log bucket: HTTPS only, CloudTrail grants limited to the stack trail',
        criterion: 'audit-logs',
        status: hasHttpsOnlyDeny(sec.policy, bucket) && grants.length === 0 ? 'pass' : 'fail',
        evidence:
          `${bucket}: HTTPS-only deny ${hasHttpsOnlyDeny(sec.policy, bucket) ? 'present' : 'missing'}` +
          (grants.length
            ? `; missing or unconditioned: ${grants.join(', ')}`
            : '; CloudTrail grants conditioned on aws:SourceArn'),
        fix,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    // The trail (cleanup rank 1) is gone by now, so nothing writes into the bucket any more.
    await deleteBucketCompletely(ctx, await bucketName(ctx));
  },
});
