import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  bucketExists,
  deleteBucketCompletely,
  describeBucketSecurity,
  emptyBucket,
  ensureSecureBucket,
  hasHttpsOnlyDeny,
  httpsOnlyStatement,
  md5Hex,
  putBucketPolicyIfChanged,
  putObjectIfChanged,
  removeBucketPolicyStatements,
} from '../../src/aws/s3.js';
import { ACCOUNT, awsError, strictMock, testContext } from '../helpers/context.js';
import { secureBucketSettings } from '../helpers/s3.js';

const BUCKET = 'cloudmart-frontend-123456789012-ap-northeast-2';
const ARN = `arn:aws:s3:::${BUCKET}`;

/** Every command the mock received that is not a read. */
function mutating(stub: ReturnType<typeof strictMock>): string[] {
  return stub
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => !/^(Get|Head|List)/.test(n));
}

const OUR_TAGS = [
  { Key: 'Project', Value: 'CloudMart' },
  { Key: 'Environment', Value: 'production' },
  { Key: 'Name', Value: 'cloudmart-frontend' },
  { Key: 'cloudmart:stack', Value: 'cloudmart' },
  { Key: 'cloudmart:step', Value: 'edge.frontend-bucket' },
];

/** A bucket whose every setting is what ensureSecureBucket wants. */
function converged(s3: ReturnType<typeof strictMock>) {
  s3.on(GetBucketTaggingCommand).resolves({ TagSet: OUR_TAGS });
  secureBucketSettings(s3, { versioning: 'Enabled' });
}

describe('aws/s3', () => {
  let s3: ReturnType<typeof strictMock>;
  beforeEach(() => {
    s3 = strictMock(S3Client);
  });
  const ctx = () => testContext({ stepId: 'edge.frontend-bucket' });

  describe('bucketExists', () => {
    it('is true for our bucket and asks S3 to check the owner', async () => {
      s3.on(HeadBucketCommand).resolves({});
      await expect(bucketExists(ctx(), BUCKET)).resolves.toBe(true);
      expect(s3.commandCalls(HeadBucketCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        ExpectedBucketOwner: ACCOUNT,
      });
    });

    it('is false on 404', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      await expect(bucketExists(ctx(), BUCKET)).resolves.toBe(false);
    });

    it("throws on 403: the name is someone else's", async () => {
      s3.on(HeadBucketCommand).rejects(awsError('Forbidden', 'Forbidden', 403));
      await expect(bucketExists(ctx(), BUCKET)).rejects.toThrow(/taken by another account/);
    });
  });

  describe('ensureSecureBucket', () => {
    it('creates the bucket in the stack region with its tags and ownership in the one call', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      s3.on(CreateBucketCommand).resolves({});
      converged(s3);

      const c = ctx();
      const out = await ensureSecureBucket(c, BUCKET, { name: 'cloudmart-frontend' });

      expect(out).toEqual({ created: true, bucketArn: ARN });
      expect(s3.commandCalls(CreateBucketCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        ObjectOwnership: 'BucketOwnerEnforced',
        CreateBucketConfiguration: {
          LocationConstraint: 'ap-northeast-2',
          Tags: expect.arrayContaining(OUR_TAGS),
        },
      });
      // New buckets already block public access, use SSE-S3 and enforce ownership.
      expect(mutating(s3)).toEqual(['CreateBucketCommand']);
      // Versioning is not this bucket's business unless asked.
      expect(s3.commandCalls(GetBucketVersioningCommand)).toHaveLength(0);
    });

    it('sends no LocationConstraint in us-east-1', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      s3.on(CreateBucketCommand).resolves({});
      converged(s3);
      await ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend', region: 'us-east-1' });
      expect(
        s3.commandCalls(CreateBucketCommand)[0]!.args[0].input.CreateBucketConfiguration,
      ).toEqual({ Tags: expect.any(Array) });
    });

    it('adopts a converged bucket without a single mutating call', async () => {
      s3.on(HeadBucketCommand).resolves({});
      converged(s3);
      const out = await ensureSecureBucket(ctx(), BUCKET, {
        name: 'cloudmart-frontend',
        versioning: true,
      });
      expect(out.created).toBe(false);
      expect(mutating(s3)).toEqual([]);
    });

    it('converges every drifted setting, keeping tags others added', async () => {
      s3.on(HeadBucketCommand).resolves({});
      s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'Owner', Value: 'ops' }] });
      s3.on(GetPublicAccessBlockCommand).rejects(
        awsError('NoSuchPublicAccessBlockConfiguration', 'none', 404),
      );
      s3.on(GetBucketEncryptionCommand).rejects(
        awsError('ServerSideEncryptionConfigurationNotFoundError', 'none', 404),
      );
      s3.on(GetBucketOwnershipControlsCommand).resolves({
        OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] },
      });
      s3.on(GetBucketVersioningCommand).resolves({ Status: 'Suspended' });
      s3.on(PutBucketTaggingCommand).resolves({});
      s3.on(PutPublicAccessBlockCommand).resolves({});
      s3.on(PutBucketEncryptionCommand).resolves({});
      s3.on(PutBucketOwnershipControlsCommand).resolves({});
      s3.on(PutBucketVersioningCommand).resolves({});

      await ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend', versioning: true });

      expect(s3.commandCalls(CreateBucketCommand)).toHaveLength(0);
      expect(s3.commandCalls(PutBucketTaggingCommand)[0]!.args[0].input.Tagging!.TagSet).toEqual(
        expect.arrayContaining([{ Key: 'Owner', Value: 'ops' }, ...OUR_TAGS]),
      );
      expect(s3.commandCalls(PutPublicAccessBlockCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      });
      expect(s3.commandCalls(PutBucketEncryptionCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      });
      expect(s3.commandCalls(PutBucketOwnershipControlsCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
      expect(s3.commandCalls(PutBucketVersioningCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        VersioningConfiguration: { Status: 'Enabled' },
      });
    });

    it('turns public access blocking back on when one flag was switched off', async () => {
      s3.on(HeadBucketCommand).resolves({});
      converged(s3);
      s3.on(GetPublicAccessBlockCommand).resolves({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: false,
          RestrictPublicBuckets: true,
        },
      });
      s3.on(PutPublicAccessBlockCommand).resolves({});
      await ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend' });
      expect(mutating(s3)).toEqual(['PutPublicAccessBlockCommand']);
    });

    it('uses the KMS key with a bucket key when given one, and accepts the bare key id back', async () => {
      const key = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/abcd-1234`;
      s3.on(HeadBucketCommand).resolves({});
      converged(s3);
      s3.on(PutBucketEncryptionCommand).resolves({});
      await ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend', kmsKeyArn: key });
      expect(s3.commandCalls(PutBucketEncryptionCommand)[0]!.args[0].input).toEqual({
        Bucket: BUCKET,
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key },
              BucketKeyEnabled: true,
            },
          ],
        },
      });

      s3 = strictMock(S3Client);
      s3.on(HeadBucketCommand).resolves({});
      converged(s3);
      s3.on(GetBucketEncryptionCommand).resolves({
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: {
                SSEAlgorithm: 'aws:kms',
                KMSMasterKeyID: 'abcd-1234',
              },
              BucketKeyEnabled: true,
            },
          ],
        },
      });
      await ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend', kmsKeyArn: key });
      expect(mutating(s3)).toEqual([]);
    });

    it('adopts its own bucket after a crash (BucketAlreadyOwnedByYou)', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      s3.on(CreateBucketCommand).rejects(awsError('BucketAlreadyOwnedByYou', 'yours', 409));
      converged(s3);
      const out = await ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend' });
      expect(out.created).toBe(false);
    });

    it('fails clearly when another account owns the name', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      s3.on(CreateBucketCommand).rejects(awsError('BucketAlreadyExists', 'taken', 409));
      await expect(
        ensureSecureBucket(ctx(), BUCKET, { name: 'cloudmart-frontend' }),
      ).rejects.toThrow(/taken by another account/);
    });

    it('waits out NoSuchBucket right after creating the bucket', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      s3.on(CreateBucketCommand).resolves({});
      converged(s3);
      s3.on(GetBucketTaggingCommand)
        .rejectsOnce(awsError('NoSuchBucket', 'gone', 404))
        .resolves({ TagSet: OUR_TAGS });
      const c = ctx();
      await ensureSecureBucket(c, BUCKET, { name: 'cloudmart-frontend' });
      expect(s3.commandCalls(GetBucketTaggingCommand)).toHaveLength(2);
      expect(c.slept()).toBeGreaterThan(0);
    });
  });

  describe('bucket policy', () => {
    const cloudfrontRead = {
      Sid: 'AllowCloudFrontRead',
      Effect: 'Allow',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Action: 's3:GetObject',
      Resource: `${ARN}/*`,
      Condition: { StringEquals: { 'AWS:SourceArn': 'arn:aws:cloudfront::1:distribution/E1' } },
    };

    it('httpsOnlyStatement denies every non-TLS request to the bucket and its objects', () => {
      expect(httpsOnlyStatement(BUCKET)).toEqual({
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [ARN, `${ARN}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
      expect(httpsOnlyStatement(BUCKET, 'aws-cn').Resource).toEqual([
        `arn:aws-cn:s3:::${BUCKET}`,
        `arn:aws-cn:s3:::${BUCKET}/*`,
      ]);
    });

    it('writes the policy when the bucket has none', async () => {
      s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy', 'none', 404));
      s3.on(PutBucketPolicyCommand).resolves({});
      const wrote = await putBucketPolicyIfChanged(ctx(), BUCKET, {
        Version: '2012-10-17',
        Statement: [httpsOnlyStatement(BUCKET)],
      });
      expect(wrote).toBe(true);
      const input = s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input;
      expect(input.Bucket).toBe(BUCKET);
      expect(JSON.parse(input.Policy!)).toEqual({
        Version: '2012-10-17',
        Statement: [httpsOnlyStatement(BUCKET)],
      });
    });

    it('does not write when the live policy means the same (reordered, reformatted)', async () => {
      const live = {
        Statement: {
          Condition: { Bool: { 'aws:SecureTransport': false } },
          Resource: [`${ARN}/*`, ARN],
          Action: ['s3:*'],
          Principal: '*',
          Effect: 'Deny',
          Sid: 'DenyInsecureTransport',
        },
        Version: '2012-10-17',
      };
      s3.on(GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(live) });
      const wrote = await putBucketPolicyIfChanged(ctx(), BUCKET, {
        Version: '2012-10-17',
        Statement: [httpsOnlyStatement(BUCKET)],
      });
      expect(wrote).toBe(false);
      expect(mutating(s3)).toEqual([]);
    });

    it("merges by Sid: keeps another step's statement, replaces its own", async () => {
      const oldDeny = { ...httpsOnlyStatement(BUCKET), Resource: `${ARN}/*` };
      s3.on(GetBucketPolicyCommand).resolves({
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [oldDeny, cloudfrontRead] }),
      });
      s3.on(PutBucketPolicyCommand).resolves({});
      await putBucketPolicyIfChanged(ctx(), BUCKET, {
        Version: '2012-10-17',
        Statement: [httpsOnlyStatement(BUCKET)],
      });
      const written = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
      expect(written.Statement).toHaveLength(2);
      expect(written.Statement).toEqual(
        expect.arrayContaining([cloudfrontRead, httpsOnlyStatement(BUCKET)]),
      );
    });

    it('removes statements by Sid, and the policy itself when nothing is left', async () => {
      s3.on(GetBucketPolicyCommand).resolves({
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [httpsOnlyStatement(BUCKET), cloudfrontRead],
        }),
      });
      s3.on(PutBucketPolicyCommand).resolves({});
      await expect(
        removeBucketPolicyStatements(ctx(), BUCKET, ['AllowCloudFrontRead']),
      ).resolves.toBe(true);
      expect(
        JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!).Statement,
      ).toEqual([httpsOnlyStatement(BUCKET)]);

      s3 = strictMock(S3Client);
      s3.on(GetBucketPolicyCommand).resolves({
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [cloudfrontRead] }),
      });
      s3.on(DeleteBucketPolicyCommand).resolves({});
      await removeBucketPolicyStatements(ctx(), BUCKET, ['AllowCloudFrontRead']);
      expect(s3.commandCalls(DeleteBucketPolicyCommand)).toHaveLength(1);
    });

    it('removing from a missing policy or bucket is nothing to do', async () => {
      s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy', 'none', 404));
      await expect(removeBucketPolicyStatements(ctx(), BUCKET, ['X'])).resolves.toBe(false);
      s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucket', 'none', 404));
      await expect(removeBucketPolicyStatements(ctx(), BUCKET, ['X'])).resolves.toBe(false);
      expect(mutating(s3)).toEqual([]);
    });

    it('hasHttpsOnlyDeny recognises the deny and rejects a policy without it', () => {
      expect(
        hasHttpsOnlyDeny(
          { Version: '2012-10-17', Statement: [httpsOnlyStatement(BUCKET)] },
          BUCKET,
        ),
      ).toBe(true);
      expect(hasHttpsOnlyDeny({ Version: '2012-10-17', Statement: [cloudfrontRead] }, BUCKET)).toBe(
        false,
      );
      expect(hasHttpsOnlyDeny(undefined, BUCKET)).toBe(false);
    });
  });

  describe('describeBucketSecurity', () => {
    it('reports a public bucket', async () => {
      converged(s3);
      s3.on(GetPublicAccessBlockCommand).rejects(
        awsError('NoSuchPublicAccessBlockConfiguration', 'none', 404),
      );
      s3.on(GetBucketPolicyCommand).resolves({
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: ARN }],
        }),
      });
      s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: true } });
      const sec = await describeBucketSecurity(ctx(), BUCKET);
      expect(sec).toMatchObject({
        publicAccessBlock: undefined,
        allPublicAccessBlocked: false,
        policyIsPublic: true,
        ownership: 'BucketOwnerEnforced',
        encryption: { algorithm: 'AES256' },
      });
    });
  });

  describe('putObjectIfChanged', () => {
    const body = '<html>hi</html>';

    it('uploads a missing object with its content type', async () => {
      s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
      s3.on(PutObjectCommand).resolves({});
      await expect(
        putObjectIfChanged(ctx(), BUCKET, 'index.html', body, {
          contentType: 'text/html; charset=utf-8',
        }),
      ).resolves.toBe(true);
      expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
        Bucket: BUCKET,
        Key: 'index.html',
        Body: body,
        ContentType: 'text/html; charset=utf-8',
        Metadata: { 'content-md5': md5Hex(body) },
      });
    });

    it('skips the upload when the ETag matches the content', async () => {
      s3.on(HeadObjectCommand).resolves({
        ETag: `"${md5Hex(body)}"`,
        ContentType: 'text/html; charset=utf-8',
      });
      await expect(
        putObjectIfChanged(ctx(), BUCKET, 'index.html', body, {
          contentType: 'text/html; charset=utf-8',
        }),
      ).resolves.toBe(false);
      expect(mutating(s3)).toEqual([]);
    });

    it('uploads again when the content changed', async () => {
      s3.on(HeadObjectCommand).resolves({
        ETag: `"${md5Hex('old')}"`,
        ContentType: 'text/html; charset=utf-8',
      });
      s3.on(PutObjectCommand).resolves({});
      await putObjectIfChanged(ctx(), BUCKET, 'index.html', body, {
        contentType: 'text/html; charset=utf-8',
      });
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    });
  });

  describe('emptyBucket / deleteBucketCompletely', () => {
    it('deletes every version and delete marker across pages, passing the markers on', async () => {
      s3.on(ListObjectVersionsCommand, { Bucket: BUCKET, MaxKeys: 1000 })
        .resolvesOnce({
          IsTruncated: true,
          NextKeyMarker: 'k2',
          NextVersionIdMarker: 'v2',
          Versions: [
            { Key: 'index.html', VersionId: 'v1' },
            { Key: 'index.html', VersionId: 'v0' },
          ],
          DeleteMarkers: [{ Key: 'old.html', VersionId: 'd1' }],
        })
        .resolvesOnce({ IsTruncated: false, Versions: [{ Key: 'k2', VersionId: 'v2' }] });
      s3.on(DeleteObjectsCommand).resolves({});

      await expect(emptyBucket(ctx(), BUCKET)).resolves.toBe(4);

      const lists = s3.commandCalls(ListObjectVersionsCommand).map((c) => c.args[0].input);
      expect(lists).toEqual([
        { Bucket: BUCKET, MaxKeys: 1000 },
        { Bucket: BUCKET, MaxKeys: 1000, KeyMarker: 'k2', VersionIdMarker: 'v2' },
      ]);
      const deletes = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
      expect(deletes[0]).toEqual({
        Bucket: BUCKET,
        Delete: {
          Quiet: true,
          Objects: [
            { Key: 'index.html', VersionId: 'v1' },
            { Key: 'index.html', VersionId: 'v0' },
            { Key: 'old.html', VersionId: 'd1' },
          ],
        },
      });
      expect(deletes[1]!.Delete!.Objects).toEqual([{ Key: 'k2', VersionId: 'v2' }]);
    });

    it('never sends more than 1000 keys in one DeleteObjects', async () => {
      const versions = Array.from({ length: 1500 }, (_, i) => ({ Key: `k${i}`, VersionId: 'v' }));
      s3.on(ListObjectVersionsCommand).resolves({ IsTruncated: false, Versions: versions });
      s3.on(DeleteObjectsCommand).resolves({});
      await expect(emptyBucket(ctx(), BUCKET)).resolves.toBe(1500);
      expect(
        s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete!.Objects!.length),
      ).toEqual([1000, 500]);
    });

    it('fails when S3 reports per-object errors', async () => {
      s3.on(ListObjectVersionsCommand).resolves({ Versions: [{ Key: 'a', VersionId: '1' }] });
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [{ Key: 'a', Code: 'AccessDenied', Message: 'no' }],
      });
      await expect(emptyBucket(ctx(), BUCKET)).rejects.toThrow(/could not be deleted/);
    });

    it('empties the bucket before deleting it', async () => {
      s3.on(HeadBucketCommand).resolves({});
      s3.on(ListObjectVersionsCommand).resolves({
        Versions: [{ Key: 'a', VersionId: '1' }],
        DeleteMarkers: [{ Key: 'b', VersionId: '2' }],
      });
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(DeleteBucketCommand).resolves({});
      await deleteBucketCompletely(ctx(), BUCKET);
      expect(mutating(s3)).toEqual(['DeleteObjectsCommand', 'DeleteBucketCommand']);
    });

    it('empties again when something wrote into the bucket meanwhile (BucketNotEmpty)', async () => {
      s3.on(HeadBucketCommand).resolves({});
      s3.on(ListObjectVersionsCommand)
        .resolvesOnce({ Versions: [{ Key: 'a', VersionId: '1' }] })
        .resolvesOnce({ Versions: [{ Key: 'late-log', VersionId: '1' }] });
      s3.on(DeleteObjectsCommand).resolves({});
      s3.on(DeleteBucketCommand)
        .rejectsOnce(awsError('BucketNotEmpty', 'not empty', 409))
        .resolves({});
      await deleteBucketCompletely(ctx(), BUCKET);
      expect(mutating(s3)).toEqual([
        'DeleteObjectsCommand',
        'DeleteBucketCommand',
        'DeleteObjectsCommand',
        'DeleteBucketCommand',
      ]);
    });

    it('is done at once when the bucket is already gone', async () => {
      s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
      await expect(deleteBucketCompletely(ctx(), BUCKET)).resolves.toBeUndefined();
      expect(mutating(s3)).toEqual([]);
      expect(s3.commandCalls(ListObjectVersionsCommand)).toHaveLength(0);
    });
  });
});
