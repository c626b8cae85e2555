import { canonicalPolicy, samePolicyValue } from './policy.js';
import { createHash } from 'node:crypto';
import type {
  BucketLocationConstraint,
  ListObjectVersionsCommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import type { StepContext } from '../engine/step.js';
import { CloudmartError } from '../errors.js';
import { awsErrorName } from './errors.js';
import { retryWhile } from './wait.js';

/**
 * Shared S3 helpers for every step that owns a bucket (frontend, ALB logs, audit logs). Each
 * converge call is sent only when the live setting differs, so a second run sends no mutating
 * call. The SDK package is imported lazily: loading this module loads no SDK.
 */
const s3sdk = () => import('@aws-sdk/client-s3');

/** The IAM actions the helpers below call, for the steps' `actions` lists. */
export const S3_BUCKET_ACTIONS = [
  's3:ListBucket', // HeadBucket
  's3:CreateBucket',
  's3:TagResource', // CreateBucket with tags
  's3:GetBucketTagging',
  's3:PutBucketTagging',
  's3:GetBucketPublicAccessBlock',
  's3:PutBucketPublicAccessBlock',
  's3:GetEncryptionConfiguration',
  's3:PutEncryptionConfiguration',
  's3:GetBucketOwnershipControls',
  's3:PutBucketOwnershipControls',
  's3:GetBucketVersioning',
  's3:PutBucketVersioning',
  's3:GetBucketPolicy',
  's3:GetBucketPolicyStatus',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:ListBucketVersions',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:DeleteBucket',
];

export interface PolicyDocument {
  Version: string;
  Id?: string;
  Statement: Record<string, unknown>[];
}

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

/** A missing optional bucket setting is an error in S3's API; these names mean "not set". */
function isNoSuch(e: unknown, ...names: string[]): boolean {
  return names.includes(awsErrorName(e));
}

export function bucketArn(bucket: string, partition = 'aws'): string {
  return `arn:${partition}:s3:::${bucket}`;
}

/** The regional endpoint name CloudFront origins use: `<bucket>.s3.<region>.amazonaws.com`. */
export function regionalDomainName(bucket: string, region: string): string {
  return `${bucket}.s3.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/** HeadBucket: true when it exists and is ours; false on 404/NoSuchBucket; throws on 403 (someone else's name). */
export async function bucketExists(
  ctx: StepContext,
  bucket: string,
  region?: string,
): Promise<boolean> {
  const { HeadBucketCommand } = await s3sdk();
  const s3 = await ctx.aws.get('s3', region);
  const account = await ctx.aws.accountId();
  try {
    // ExpectedBucketOwner turns "exists but belongs to another account" into a 403.
    await s3.send(new HeadBucketCommand({ Bucket: bucket, ExpectedBucketOwner: account }));
    return true;
  } catch (e) {
    if (isNoSuch(e, 'NotFound', 'NoSuchBucket') || httpStatus(e) === 404) return false;
    if (httpStatus(e) === 403 || isNoSuch(e, 'Forbidden', 'AccessDenied')) {
      throw new CloudmartError(
        'ACCESS_DENIED',
        `S3 bucket ${bucket}: the name is taken by another account, or access to it is denied`,
        {
          cause: e,
          hint: 'Bucket names are global: change the stack name in the config, or grant the operator s3:ListBucket on it.',
        },
      );
    }
    if (httpStatus(e) === 301 || isNoSuch(e, 'PermanentRedirect', '301')) {
      throw new CloudmartError(
        'AWS_ERROR',
        `S3 bucket ${bucket} exists in another region than ${region ?? ctx.aws.region}`,
        { cause: e },
      );
    }
    throw e;
  }
}

interface EncryptionSetting {
  algorithm: string;
  kmsKeyId: string | undefined;
  bucketKeyEnabled: boolean;
}

export interface BucketSecurity {
  /** The four public-access-block flags, or undefined when none is configured. */
  publicAccessBlock:
    | {
        BlockPublicAcls: boolean;
        IgnorePublicAcls: boolean;
        BlockPublicPolicy: boolean;
        RestrictPublicBuckets: boolean;
      }
    | undefined;
  allPublicAccessBlocked: boolean;
  encryption: EncryptionSetting | undefined;
  /** BucketOwnerEnforced, BucketOwnerPreferred, ObjectWriter, or undefined. */
  ownership: string | undefined;
  /** Enabled, Suspended, or undefined (never enabled). */
  versioning: string | undefined;
  policy: PolicyDocument | undefined;
  /** S3's own judgement of the bucket policy (GetBucketPolicyStatus). */
  policyIsPublic: boolean;
}

type S3 = S3Client;

async function readPublicAccessBlock(s3: S3, bucket: string) {
  const { GetPublicAccessBlockCommand } = await s3sdk();
  try {
    const out = (await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))) as {
      PublicAccessBlockConfiguration?: Record<string, boolean | undefined>;
    };
    const c = out.PublicAccessBlockConfiguration ?? {};
    return {
      BlockPublicAcls: c.BlockPublicAcls === true,
      IgnorePublicAcls: c.IgnorePublicAcls === true,
      BlockPublicPolicy: c.BlockPublicPolicy === true,
      RestrictPublicBuckets: c.RestrictPublicBuckets === true,
    };
  } catch (e) {
    if (isNoSuch(e, 'NoSuchPublicAccessBlockConfiguration')) return undefined;
    throw e;
  }
}

async function readEncryption(s3: S3, bucket: string): Promise<EncryptionSetting | undefined> {
  const { GetBucketEncryptionCommand } = await s3sdk();
  try {
    const out = (await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }))) as {
      ServerSideEncryptionConfiguration?: {
        Rules?: Array<{
          ApplyServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string };
          BucketKeyEnabled?: boolean;
        }>;
      };
    };
    const rule = out.ServerSideEncryptionConfiguration?.Rules?.[0];
    const def = rule?.ApplyServerSideEncryptionByDefault;
    if (!def?.SSEAlgorithm) return undefined;
    return {
      algorithm: def.SSEAlgorithm,
      kmsKeyId: def.KMSMasterKeyID,
      bucketKeyEnabled: rule?.BucketKeyEnabled === true,
    };
  } catch (e) {
    if (isNoSuch(e, 'ServerSideEncryptionConfigurationNotFoundError')) return undefined;
    throw e;
  }
}

async function readOwnership(s3: S3, bucket: string): Promise<string | undefined> {
  const { GetBucketOwnershipControlsCommand } = await s3sdk();
  try {
    const out = (await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: bucket }))) as {
      OwnershipControls?: { Rules?: Array<{ ObjectOwnership?: string }> };
    };
    return out.OwnershipControls?.Rules?.[0]?.ObjectOwnership;
  } catch (e) {
    if (isNoSuch(e, 'OwnershipControlsNotFoundError')) return undefined;
    throw e;
  }
}

async function readVersioning(s3: S3, bucket: string): Promise<string | undefined> {
  const { GetBucketVersioningCommand } = await s3sdk();
  const out = (await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))) as {
    Status?: string;
  };
  return out.Status;
}

async function readTags(s3: S3, bucket: string): Promise<Array<{ Key: string; Value: string }>> {
  const { GetBucketTaggingCommand } = await s3sdk();
  try {
    const out = (await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))) as {
      TagSet?: Array<{ Key?: string; Value?: string }>;
    };
    return (out.TagSet ?? []).map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
  } catch (e) {
    if (isNoSuch(e, 'NoSuchTagSet', 'NoSuchTagSetError')) return [];
    throw e;
  }
}

async function readPolicy(s3: S3, bucket: string): Promise<PolicyDocument | undefined> {
  const { GetBucketPolicyCommand } = await s3sdk();
  try {
    const out = (await s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))) as {
      Policy?: string;
    };
    if (!out.Policy) return undefined;
    const doc = JSON.parse(out.Policy) as { Version?: string; Id?: string; Statement?: unknown };
    const statements = Array.isArray(doc.Statement)
      ? (doc.Statement as Record<string, unknown>[])
      : doc.Statement
        ? [doc.Statement as Record<string, unknown>]
        : [];
    return {
      Version: doc.Version ?? '2012-10-17',
      ...(doc.Id ? { Id: doc.Id } : {}),
      Statement: statements,
    };
  } catch (e) {
    if (isNoSuch(e, 'NoSuchBucketPolicy')) return undefined;
    throw e;
  }
}

function encryptionMatches(live: EncryptionSetting | undefined, kmsKeyArn?: string): boolean {
  if (!live) return false;
  if (!kmsKeyArn) return live.algorithm === 'AES256';
  if (live.algorithm !== 'aws:kms' || !live.kmsKeyId || !live.bucketKeyEnabled) return false;
  // S3 hands back whatever form was written: the ARN, or the bare key id.
  return live.kmsKeyId === kmsKeyArn || kmsKeyArn.endsWith(`/${live.kmsKeyId}`);
}

/**
 * Create if absent (LocationConstraint unless us-east-1, tags and BucketOwnerEnforced in the
 * CreateBucket call itself), then converge: public access block all true, SSE-S3 (or aws:kms
 * with kmsKeyArn) default encryption, ObjectOwnership BucketOwnerEnforced, missing tags,
 * versioning when asked (never turned off: Phase 3 enables it on buckets that did not ask).
 * Each converge call only when the live setting differs.
 */
export async function ensureSecureBucket(
  ctx: StepContext,
  bucket: string,
  options: { name: string; versioning?: boolean; kmsKeyArn?: string; region?: string },
): Promise<{ created: boolean; bucketArn: string }> {
  const sdk = await s3sdk();
  const region = options.region ?? ctx.aws.region;
  const s3 = await ctx.aws.get('s3', region);
  let created = false;

  if (!(await bucketExists(ctx, bucket, region))) {
    ctx.progress(`S3 bucket ${bucket}: creating`);
    try {
      await s3.send(
        new sdk.CreateBucketCommand({
          Bucket: bucket,
          ObjectOwnership: 'BucketOwnerEnforced',
          CreateBucketConfiguration: {
            // us-east-1 is the default location and rejects an explicit constraint.
            ...(region === 'us-east-1'
              ? {}
              : { LocationConstraint: region as BucketLocationConstraint }),
            Tags: ctx.tags.list(options.name),
          },
        }),
      );
      created = true;
    } catch (e) {
      // A crash after CreateBucket: the next run owns it already.
      if (awsErrorName(e) === 'BucketAlreadyOwnedByYou') {
        created = false;
      } else if (awsErrorName(e) === 'BucketAlreadyExists') {
        throw new CloudmartError(
          'AWS_ERROR',
          `S3 bucket ${bucket}: the name is taken by another account`,
          {
            cause: e,
            hint: 'Bucket names are global: change the stack name in the config and run again.',
          },
        );
      } else {
        throw e;
      }
    }
  }

  // A bucket created a moment ago can still answer NoSuchBucket on some endpoints.
  const settle = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    created
      ? retryWhile(ctx, fn, {
          what: `S3 bucket ${bucket}: ${what}`,
          when: (e) => awsErrorName(e) === 'NoSuchBucket',
          timeoutMs: 60_000,
          minDelayMs: 1_000,
        })
      : fn();

  const wanted = ctx.tags.map(options.name);
  const liveTags = await settle('reading tags', () => readTags(s3, bucket));
  const liveTagMap = new Map(liveTags.map((t) => [t.Key, t.Value]));
  if (Object.entries(wanted).some(([k, v]) => liveTagMap.get(k) !== v)) {
    // PutBucketTagging replaces the whole set: keep tags others put on the bucket.
    for (const [k, v] of Object.entries(wanted)) liveTagMap.set(k, v);
    await s3.send(
      new sdk.PutBucketTaggingCommand({
        Bucket: bucket,
        Tagging: { TagSet: [...liveTagMap].map(([Key, Value]) => ({ Key, Value })) },
      }),
    );
  }

  const pab = await settle('reading the public access block', () =>
    readPublicAccessBlock(s3, bucket),
  );
  if (!pab || !Object.values(pab).every((v) => v)) {
    ctx.progress(`S3 bucket ${bucket}: blocking public access`);
    await s3.send(
      new sdk.PutPublicAccessBlockCommand({
        Bucket: bucket,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
  }

  const enc = await settle('reading default encryption', () => readEncryption(s3, bucket));
  if (!encryptionMatches(enc, options.kmsKeyArn)) {
    ctx.progress(`S3 bucket ${bucket}: setting default encryption`);
    await s3.send(
      new sdk.PutBucketEncryptionCommand({
        Bucket: bucket,
        ServerSideEncryptionConfiguration: {
          Rules: [
            options.kmsKeyArn
              ? {
                  ApplyServerSideEncryptionByDefault: {
                    SSEAlgorithm: 'aws:kms',
                    KMSMasterKeyID: options.kmsKeyArn,
                  },
                  BucketKeyEnabled: true,
                }
              : { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
          ],
        },
      }),
    );
  }

  const ownership = await settle('reading object ownership', () => readOwnership(s3, bucket));
  if (ownership !== 'BucketOwnerEnforced') {
    await s3.send(
      new sdk.PutBucketOwnershipControlsCommand({
        Bucket: bucket,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      }),
    );
  }

  if (options.versioning) {
    const status = await settle('reading versioning', () => readVersioning(s3, bucket));
    if (status !== 'Enabled') {
      await s3.send(
        new sdk.PutBucketVersioningCommand({
          Bucket: bucket,
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
    }
  }

  return { created, bucketArn: bucketArn(bucket, ctx.aws.partition()) };
}

/** The statement that denies any non-TLS request (aws:SecureTransport false). */
export function httpsOnlyStatement(bucket: string, partition = 'aws'): Record<string, unknown> {
  const arn = bucketArn(bucket, partition);
  return {
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: [arn, `${arn}/*`],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  };
}

/** The live bucket policy, or undefined when the bucket has none. */
export async function getBucketPolicy(
  ctx: StepContext,
  bucket: string,
  region?: string,
): Promise<PolicyDocument | undefined> {
  const s3 = await ctx.aws.get('s3', region);
  return readPolicy(s3, bucket);
}

async function writePolicy(
  ctx: StepContext,
  bucket: string,
  live: PolicyDocument | undefined,
  next: PolicyDocument,
  region: string | undefined,
): Promise<boolean> {
  const { PutBucketPolicyCommand, DeleteBucketPolicyCommand } = await s3sdk();
  const s3 = await ctx.aws.get('s3', region);
  if (next.Statement.length === 0) {
    if (!live) return false;
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    return true;
  }
  if (live && samePolicyValue(live, next)) return false;
  ctx.progress(`S3 bucket ${bucket}: writing the bucket policy`);
  await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(next) }));
  return true;
}

/**
 * PutBucketPolicy only when the normalized live policy differs; returns true when it wrote.
 *
 * Several steps write statements into one bucket's policy (the frontend bucket's HTTPS-only
 * deny, the CDN step's CloudFront read grant), so this MERGES rather than replaces: each
 * statement of `policy` replaces the live statement with the same `Sid` (a statement without a
 * Sid is added unless an identical one is there), and live statements with other Sids are
 * kept. A step therefore owns its statements by Sid and two steps never undo each other.
 * To take statements away use `removeBucketPolicyStatements`.
 */
export async function putBucketPolicyIfChanged(
  ctx: StepContext,
  bucket: string,
  policy: { Version: string; Statement: Record<string, unknown>[] },
  region?: string,
): Promise<boolean> {
  const s3 = await ctx.aws.get('s3', region);
  const live = await readPolicy(s3, bucket);
  const sids = new Set(
    policy.Statement.map((s) => s.Sid).filter((s): s is string => typeof s === 'string'),
  );
  const kept = (live?.Statement ?? []).filter(
    (s) =>
      !(typeof s.Sid === 'string' && sids.has(s.Sid)) &&
      !policy.Statement.some((d) => d.Sid === undefined && samePolicyValue(d, s)),
  );
  const next: PolicyDocument = {
    Version: policy.Version,
    ...(live?.Id ? { Id: live.Id } : {}),
    Statement: [...kept, ...policy.Statement],
  };
  return writePolicy(ctx, bucket, live, next, region);
}

/**
 * Remove the statements with these Sids from the bucket policy (deleting the policy when
 * nothing is left); returns true when it wrote. A missing bucket or policy is nothing to do.
 */
export async function removeBucketPolicyStatements(
  ctx: StepContext,
  bucket: string,
  sids: string[],
  region?: string,
): Promise<boolean> {
  const s3 = await ctx.aws.get('s3', region);
  let live: PolicyDocument | undefined;
  try {
    live = await readPolicy(s3, bucket);
  } catch (e) {
    if (isNoSuch(e, 'NoSuchBucket')) return false;
    throw e;
  }
  if (!live) return false;
  const next = {
    ...live,
    Statement: live.Statement.filter((s) => !(typeof s.Sid === 'string' && sids.includes(s.Sid))),
  };
  if (next.Statement.length === live.Statement.length) return false;
  return writePolicy(ctx, bucket, live, next, region);
}

/** Read-only: every security-relevant setting of a bucket, for `verify`. */
export async function describeBucketSecurity(
  ctx: StepContext,
  bucket: string,
  region?: string,
): Promise<BucketSecurity> {
  const { GetBucketPolicyStatusCommand } = await s3sdk();
  const s3 = await ctx.aws.get('s3', region);
  const [publicAccessBlock, encryption, ownership, versioning, policy, policyIsPublic] =
    await Promise.all([
      readPublicAccessBlock(s3, bucket),
      readEncryption(s3, bucket),
      readOwnership(s3, bucket),
      readVersioning(s3, bucket),
      readPolicy(s3, bucket),
      s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket })).then(
        (out) => (out as { PolicyStatus?: { IsPublic?: boolean } }).PolicyStatus?.IsPublic === true,
        (e: unknown) => {
          if (isNoSuch(e, 'NoSuchBucketPolicy')) return false;
          throw e;
        },
      ),
    ]);
  return {
    publicAccessBlock,
    allPublicAccessBlocked: !!publicAccessBlock && Object.values(publicAccessBlock).every((v) => v),
    encryption,
    ownership,
    versioning,
    policy,
    policyIsPublic,
  };
}

/** True when the policy holds the HTTPS-only deny for this bucket (any Sid). */
export function hasHttpsOnlyDeny(policy: PolicyDocument | undefined, bucket: string): boolean {
  const want = httpsOnlyStatement(bucket);
  return (policy?.Statement ?? []).some((s) => {
    const cond = s.Condition as { Bool?: Record<string, unknown> } | undefined;
    const resources = canonicalPolicy(s.Resource);
    const list = Array.isArray(resources) ? resources : [resources];
    return (
      s.Effect === 'Deny' &&
      samePolicyValue(s.Principal, '*') &&
      samePolicyValue(s.Action, 's3:*') &&
      String(cond?.Bool?.['aws:SecureTransport']) === 'false' &&
      (want.Resource as string[]).every((r) =>
        list.some((l) => typeof l === 'string' && l.endsWith(r.slice(r.indexOf(':::')))),
      )
    );
  });
}

/** Hex MD5 of a body: S3's ETag for a single-part upload without SSE-KMS. */
export function md5Hex(body: string | Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}

/**
 * PutObject only when the object is missing or its content or content type differ; returns
 * true when it wrote. The MD5 is kept in the object's metadata too, because the ETag is not
 * an MD5 under SSE-KMS.
 */
export async function putObjectIfChanged(
  ctx: StepContext,
  bucket: string,
  key: string,
  body: string,
  options: { contentType: string; cacheControl?: string; region?: string },
): Promise<boolean> {
  const { HeadObjectCommand, PutObjectCommand } = await s3sdk();
  const s3 = await ctx.aws.get('s3', options.region);
  const md5 = md5Hex(body);
  try {
    const head = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))) as {
      ETag?: string;
      ContentType?: string;
      Metadata?: Record<string, string>;
    };
    const sameBody = head.ETag?.replace(/"/g, '') === md5 || head.Metadata?.['content-md5'] === md5;
    if (sameBody && head.ContentType === options.contentType) return false;
  } catch (e) {
    if (!(isNoSuch(e, 'NotFound', 'NoSuchKey') || httpStatus(e) === 404)) throw e;
  }
  ctx.progress(`S3 bucket ${bucket}: uploading ${key}`);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: options.contentType,
      ...(options.cacheControl ? { CacheControl: options.cacheControl } : {}),
      Metadata: { 'content-md5': md5 },
    }),
  );
  return true;
}

/** Delete every object version and delete marker (paginated, DeleteObjects ≤1000 per call); returns how many. */
export async function emptyBucket(
  ctx: StepContext,
  bucket: string,
  region?: string,
): Promise<number> {
  const { ListObjectVersionsCommand, DeleteObjectsCommand } = await s3sdk();
  const s3 = await ctx.aws.get('s3', region);
  let deleted = 0;
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    let page: ListObjectVersionsCommandOutput;
    try {
      page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          MaxKeys: 1000,
          ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
          ...(versionIdMarker !== undefined ? { VersionIdMarker: versionIdMarker } : {}),
        }),
      );
    } catch (e) {
      if (isNoSuch(e, 'NoSuchBucket')) return deleted;
      throw e;
    }
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
      .filter((v) => v.Key !== undefined)
      .map((v) => ({ Key: v.Key!, ...(v.VersionId ? { VersionId: v.VersionId } : {}) }));
    for (let i = 0; i < objects.length; i += 1000) {
      const chunk = objects.slice(i, i + 1000);
      const out = (await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk, Quiet: true } }),
      )) as { Errors?: Array<{ Key?: string; Code?: string; Message?: string }> };
      if (out.Errors && out.Errors.length > 0) {
        const first = out.Errors[0]!;
        throw new CloudmartError(
          'AWS_ERROR',
          `S3 bucket ${bucket}: ${out.Errors.length} object(s) could not be deleted (${first.Key ?? '?'}: ${first.Code ?? 'Error'} ${first.Message ?? ''})`.trim(),
        );
      }
      deleted += chunk.length;
    }
    if (objects.length > 0) ctx.progress(`S3 bucket ${bucket}: ${deleted} object versions deleted`);
    if (!page.IsTruncated) return deleted;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
}

/** emptyBucket then DeleteBucket; NoSuchBucket is success. */
export async function deleteBucketCompletely(
  ctx: StepContext,
  bucket: string,
  region?: string,
): Promise<void> {
  const { DeleteBucketCommand } = await s3sdk();
  const s3 = await ctx.aws.get('s3', region);
  if (!(await bucketExists(ctx, bucket, region))) return;
  // Something may still write into it (a trail, ALB access logs winding down): empty again.
  await retryWhile(
    ctx,
    async () => {
      await emptyBucket(ctx, bucket, region);
      try {
        await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch (e) {
        if (isNoSuch(e, 'NoSuchBucket')) return;
        throw e;
      }
    },
    {
      what: `deleting S3 bucket ${bucket}`,
      when: (e) => awsErrorName(e) === 'BucketNotEmpty',
      timeoutMs: 5 * 60_000,
    },
  );
  ctx.progress(`S3 bucket ${bucket}: deleted`);
}
