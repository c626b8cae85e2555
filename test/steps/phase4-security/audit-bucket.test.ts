import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { tagSet } from '../../../src/aws/tags.js';
import {
  auditBucketPolicy,
  auditBucketStep,
} from '../../../src/steps/phase4-security/audit-bucket.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { mutatingCalls, seq } from '../phase3-backup/helpers.js';
import { secureBucketSettings } from '../../helpers/s3.js';

const BUCKET = `cloudmart-audit-logs-${ACCOUNT}-ap-northeast-2`;
const TRAIL_ARN = `arn:aws:cloudtrail:ap-northeast-2:${ACCOUNT}:trail/CloudMart-Audit-Trail`;

/** A bucket whose every setting is already as ensureSecureBucket wants it. */
function convergedBucket(s3: ReturnType<typeof strictMock>) {
  s3.on(HeadBucketCommand).resolves({});
  s3.on(GetBucketTaggingCommand).resolves({
    TagSet: tagSet(testConfig(), 'security.audit-bucket').list(BUCKET),
  });
  secureBucketSettings(s3, { versioning: 'Enabled' });
  s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
}

describe('security.audit-bucket', () => {
  let s3: ReturnType<typeof strictMock>;
  beforeEach(() => {
    s3 = strictMock(S3Client);
  });

  const ctx = (previous?: Record<string, unknown>) =>
    testContext({ stepId: auditBucketStep.id, ...(previous ? { previous } : {}) });

  it('creates the versioned bucket and writes the CloudTrail policy conditioned on the trail ARN', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'not found', 404));
    s3.on(CreateBucketCommand).resolves({});
    s3.on(GetBucketTaggingCommand).rejects(awsError('NoSuchTagSet'));
    s3.on(PutBucketTaggingCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(awsError('NoSuchPublicAccessBlockConfiguration'));
    s3.on(PutPublicAccessBlockCommand).resolves({});
    s3.on(GetBucketEncryptionCommand).rejects(
      awsError('ServerSideEncryptionConfigurationNotFoundError'),
    );
    s3.on(PutBucketEncryptionCommand).resolves({});
    s3.on(GetBucketOwnershipControlsCommand).resolves({
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    s3.on(PutBucketOwnershipControlsCommand).resolves({});
    s3.on(GetBucketVersioningCommand).resolves({});
    s3.on(PutBucketVersioningCommand).resolves({});
    s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy'));
    s3.on(PutBucketPolicyCommand).resolves({});

    const out = await auditBucketStep.create(ctx());

    expect(s3.commandCalls(CreateBucketCommand)[0]!.args[0].input.Bucket).toBe(BUCKET);
    expect(s3.commandCalls(PutBucketVersioningCommand)[0]!.args[0].input).toEqual({
      Bucket: BUCKET,
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DenyInsecureTransport',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
        {
          Sid: 'AWSCloudTrailAclCheck',
          Effect: 'Allow',
          Principal: { Service: 'cloudtrail.amazonaws.com' },
          Action: 's3:GetBucketAcl',
          Resource: `arn:aws:s3:::${BUCKET}`,
          Condition: { StringEquals: { 'aws:SourceArn': TRAIL_ARN } },
        },
        {
          Sid: 'AWSCloudTrailWrite',
          Effect: 'Allow',
          Principal: { Service: 'cloudtrail.amazonaws.com' },
          Action: 's3:PutObject',
          Resource: `arn:aws:s3:::${BUCKET}/AWSLogs/${ACCOUNT}/*`,
          Condition: {
            StringEquals: {
              's3:x-amz-acl': 'bucket-owner-full-control',
              'aws:SourceArn': TRAIL_ARN,
            },
          },
        },
      ],
    });
    expect(out).toEqual({
      bucketName: BUCKET,
      bucketArn: `arn:aws:s3:::${BUCKET}`,
      regionalDomainName: `${BUCKET}.s3.ap-northeast-2.amazonaws.com`,
      trailArn: TRAIL_ARN,
    });
  });

  it('adopts the converged bucket and policy and sends no mutating call', async () => {
    convergedBucket(s3);
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify(auditBucketPolicy(BUCKET, ACCOUNT, 'aws', TRAIL_ARN)),
    });
    await auditBucketStep.create(ctx());
    expect(mutatingCalls(s3)).toEqual([]);
  });

  it('verify passes a compliant bucket and reports suspended versioning and an unconditioned grant', async () => {
    convergedBucket(s3);
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify(auditBucketPolicy(BUCKET, ACCOUNT, 'aws', TRAIL_ARN)),
    });
    const ok = await auditBucketStep.verify(ctx());
    expect(ok.every((c) => c.status === 'pass')).toBe(true);
    expect(ok.map((c) => c.id)).toEqual([
      'security.audit-bucket.versioning',
      'security.audit-bucket.encryption',
      'security.audit-bucket.public-access',
      'security.audit-bucket.policy',
    ]);

    const loose = auditBucketPolicy(BUCKET, ACCOUNT, 'aws', TRAIL_ARN);
    delete (loose.Statement[2] as { Condition?: unknown }).Condition;
    s3.on(GetBucketVersioningCommand).resolves({ Status: 'Suspended' });
    s3.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(loose) });
    const drift = await auditBucketStep.verify(ctx());
    const byId = Object.fromEntries(drift.map((c) => [c.id, c]));
    expect(byId['security.audit-bucket.versioning']?.status).toBe('fail');
    expect(byId['security.audit-bucket.policy']).toMatchObject({
      status: 'fail',
      criterion: 'audit-logs',
    });
    expect(byId['security.audit-bucket.policy']?.evidence).toContain('AWSCloudTrailWrite');
  });

  it('verify fails when the bucket does not exist', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'not found', 404));
    const checks = await auditBucketStep.verify(ctx());
    expect(checks).toEqual([
      expect.objectContaining({ id: 'security.audit-bucket.exists', status: 'fail' }),
    ]);
  });

  it('teardown deletes every object version and delete marker, then the bucket', async () => {
    s3.on(HeadBucketCommand).resolves({});
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        Versions: [
          { Key: 'AWSLogs/a.json.gz', VersionId: 'v1' },
          { Key: 'AWSLogs/a.json.gz', VersionId: 'v2' },
        ],
        DeleteMarkers: [{ Key: 'AWSLogs/b.json.gz', VersionId: 'd1' }],
        IsTruncated: true,
        NextKeyMarker: 'k',
        NextVersionIdMarker: 'vm',
      })
      .resolves({ Versions: [{ Key: 'AWSLogs/c.json.gz', VersionId: 'v3' }], IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteBucketCommand).resolves({});

    await auditBucketStep.teardown(ctx({ bucketName: BUCKET }));

    const deleted = s3
      .commandCalls(DeleteObjectsCommand)
      .flatMap((c) => c.args[0].input.Delete!.Objects);
    expect(deleted).toEqual([
      { Key: 'AWSLogs/a.json.gz', VersionId: 'v1' },
      { Key: 'AWSLogs/a.json.gz', VersionId: 'v2' },
      { Key: 'AWSLogs/b.json.gz', VersionId: 'd1' },
      { Key: 'AWSLogs/c.json.gz', VersionId: 'v3' },
    ]);
    const del = s3.commandCalls(DeleteBucketCommand);
    expect(del[0]!.args[0].input).toEqual({ Bucket: BUCKET });
    expect(seq(del[0])).toBeGreaterThan(seq(s3.commandCalls(DeleteObjectsCommand)[1]));
  });

  it('teardown finds the bucket by its deterministic name without state, and succeeds when it is gone', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'not found', 404));
    await expect(auditBucketStep.teardown(ctx())).resolves.toBeUndefined();
    expect(s3.commandCalls(HeadBucketCommand)[0]!.args[0].input.Bucket).toBe(BUCKET);
    expect(s3.commandCalls(DeleteBucketCommand)).toHaveLength(0);
  });
});
