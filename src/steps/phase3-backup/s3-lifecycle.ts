import type { LifecycleRule, S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { STEP, type BucketOutputs } from '../outputs.js';

const s3sdk = () => import('@aws-sdk/client-s3');

export interface S3LifecycleOutputs {
  buckets: string[];
  [k: string]: unknown;
}

/** Our rules carry these ids; rules with other ids (the log bucket's own expiry) are kept. */
export const NONCURRENT_RULE_ID = 'cloudmart-noncurrent-versions';
export const MULTIPART_RULE_ID = 'cloudmart-abort-incomplete-multipart';

/** The two buckets this step manages, by a stable role used in check ids. */
const TARGETS = [
  { role: 'frontend', step: STEP.frontendBucket, label: 'frontend bucket' },
  { role: 'alb-logs', step: STEP.albLogBucket, label: 'ALB log bucket' },
] as const;

export function desiredRules(config: Config): LifecycleRule[] {
  const s3 = config.backup.s3;
  return [
    {
      ID: NONCURRENT_RULE_ID,
      Status: 'Enabled',
      Filter: { Prefix: '' },
      NoncurrentVersionTransitions: [
        { NoncurrentDays: s3.noncurrentToGlacierDays, StorageClass: 'GLACIER' },
      ],
      NoncurrentVersionExpiration: { NoncurrentDays: s3.noncurrentExpireDays },
    },
    {
      ID: MULTIPART_RULE_ID,
      Status: 'Enabled',
      Filter: { Prefix: '' },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: s3.abortMultipartDays },
    },
  ];
}

/** The parts of a rule that matter for comparison, in a fixed shape (AWS echoes extra fields). */
function canonical(rule: LifecycleRule): string {
  return JSON.stringify({
    id: rule.ID,
    status: rule.Status,
    prefix: rule.Filter?.Prefix ?? rule.Prefix ?? '',
    filterOther: Object.entries(rule.Filter ?? {})
      .filter(([k, v]) => k !== 'Prefix' && v !== undefined)
      .map(([k]) => k)
      .sort(),
    transitions: (rule.Transitions ?? []).map((t) => [t.Days, t.StorageClass]),
    expiration: rule.Expiration ? [rule.Expiration.Days, rule.Expiration.Date] : null,
    noncurrentTransitions: (rule.NoncurrentVersionTransitions ?? []).map((t) => [
      t.NoncurrentDays,
      t.StorageClass,
    ]),
    noncurrentExpiration: rule.NoncurrentVersionExpiration?.NoncurrentDays ?? null,
    abort: rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation ?? null,
  });
}

async function liveRules(s3: S3Client, bucket: string): Promise<LifecycleRule[]> {
  const { GetBucketLifecycleConfigurationCommand } = await s3sdk();
  try {
    const out = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    return out.Rules ?? [];
  } catch (e) {
    if ((e as Error).name === 'NoSuchLifecycleConfiguration') return [];
    throw e;
  }
}

async function versioningStatus(s3: S3Client, bucket: string): Promise<string> {
  const { GetBucketVersioningCommand } = await s3sdk();
  const out = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  return out.Status ?? 'Disabled';
}

/** What is missing from a bucket's lifecycle, in words; empty when everything is there. */
function missingParts(config: Config, rules: LifecycleRule[]): string[] {
  const s3 = config.backup.s3;
  const enabled = rules.filter(
    (r) => r.Status === 'Enabled' && (r.Filter?.Prefix ?? r.Prefix ?? '') === '',
  );
  const missing: string[] = [];
  if (
    !enabled.some((r) =>
      r.NoncurrentVersionTransitions?.some(
        (t) => t.StorageClass === 'GLACIER' && t.NoncurrentDays === s3.noncurrentToGlacierDays,
      ),
    )
  )
    missing.push(`noncurrent → GLACIER after ${s3.noncurrentToGlacierDays} d`);
  if (
    !enabled.some((r) => r.NoncurrentVersionExpiration?.NoncurrentDays === s3.noncurrentExpireDays)
  )
    missing.push(`noncurrent expiry after ${s3.noncurrentExpireDays} d`);
  if (
    !enabled.some(
      (r) => r.AbortIncompleteMultipartUpload?.DaysAfterInitiation === s3.abortMultipartDays,
    )
  )
    missing.push(`abort incomplete multipart uploads after ${s3.abortMultipartDays} d`);
  return missing;
}

function bucketsOf(ctx: StepContext): Array<{ role: string; label: string; bucket?: string }> {
  return TARGETS.map((t) => ({
    role: t.role,
    label: t.label,
    bucket: ctx.maybeOutputs<BucketOutputs>(t.step)?.bucketName,
  }));
}

export const s3LifecycleStep = defineStep<S3LifecycleOutputs>({
  id: STEP.s3Lifecycle,
  phase: 3,
  title: 'S3 versioning and lifecycle',
  needs: [STEP.frontendBucket, STEP.albLogBucket],
  teardownKeeps: [],
  actions: [
    's3:GetBucketVersioning',
    's3:PutBucketVersioning',
    's3:GetLifecycleConfiguration',
    's3:PutLifecycleConfiguration',
  ],
  describe: (config) => [
    `Versioning on the frontend and ALB log buckets; lifecycle: noncurrent versions → GLACIER after ${config.backup.s3.noncurrentToGlacierDays} d, expired after ${config.backup.s3.noncurrentExpireDays} d; incomplete multipart uploads aborted after ${config.backup.s3.abortMultipartDays} d`,
  ],

  async create(ctx) {
    const { PutBucketLifecycleConfigurationCommand, PutBucketVersioningCommand } = await s3sdk();
    const s3 = await ctx.aws.get('s3');
    const wanted = desiredRules(ctx.config);
    const buckets: string[] = [];
    for (const t of TARGETS) {
      const bucket = ctx.outputs<BucketOutputs>(t.step).bucketName;
      buckets.push(bucket);

      // Versioning first: noncurrent-version rules mean nothing on an unversioned bucket.
      if ((await versioningStatus(s3, bucket)) !== 'Enabled') {
        ctx.progress(`${t.label} ${bucket}: turning versioning on`);
        await s3.send(
          new PutBucketVersioningCommand({
            Bucket: bucket,
            VersioningConfiguration: { Status: 'Enabled' },
          }),
        );
      }

      // PutBucketLifecycleConfiguration replaces the whole configuration: keep every rule that
      // is not ours (e.g. the log bucket's own expiry) and write only when ours differ.
      const live = await liveRules(s3, bucket);
      const ours = new Set(wanted.map((r) => r.ID));
      const others = live.filter((r) => !ours.has(r.ID));
      const current = wanted.map((w) => live.find((r) => r.ID === w.ID));
      const same = wanted.every((w, i) => current[i] && canonical(current[i]) === canonical(w));
      if (!same) {
        ctx.progress(`${t.label} ${bucket}: writing lifecycle rules`);
        await s3.send(
          new PutBucketLifecycleConfigurationCommand({
            Bucket: bucket,
            LifecycleConfiguration: { Rules: [...others, ...wanted] },
          }),
        );
      }
    }
    return { buckets };
  },

  async verify(ctx) {
    const s3 = await ctx.aws.get('s3');
    const checks: Check[] = [];
    for (const { role, label, bucket } of bucketsOf(ctx)) {
      if (!bucket) {
        checks.push({
          id: `backup.s3.${role}.versioning`,
          title: `${label} versioned with lifecycle rules`,
          criterion: 'backup',
          status: 'unknown',
          evidence: `the ${label} has not been created`,
          fix: 'cloudmart up --phase 1',
        });
        continue;
      }
      const status = await versioningStatus(s3, bucket);
      checks.push({
        id: `backup.s3.${role}.versioning`,
        title: `${label} versioning enabled`,
        criterion: 'backup',
        status: status === 'Enabled' ? 'pass' : 'fail',
        evidence: `${bucket}: versioning ${status}`,
        fix: 'cloudmart up --phase 3',
      });
      const missing = missingParts(ctx.config, await liveRules(s3, bucket));
      checks.push({
        id: `backup.s3.${role}.lifecycle`,
        title: `${label} lifecycle: noncurrent → GLACIER, expiry, multipart abort`,
        criterion: 'backup',
        status: missing.length === 0 ? 'pass' : 'fail',
        evidence:
          missing.length === 0
            ? `${bucket}: all lifecycle rules present`
            : `${bucket}: missing ${missing.join('; ')}`,
        fix: 'cloudmart up --phase 3',
      });
    }
    return checks;
  },

  /**
   * Nothing to delete: versioning and lifecycle are settings of buckets whose own steps delete
   * them (emptying every version first). Suspending versioning here would only slow that down.
   */
  teardown() {
    return Promise.resolve();
  },
});
