import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { md5Hex } from '../../../src/aws/s3.js';
import {
  frontendBucketStep,
  INDEX_CONTENT_TYPE,
  INDEX_HTML,
} from '../../../src/steps/phase1-foundation/frontend-bucket.js';
import { awsError, strictMock, testContext } from '../../helpers/context.js';
import { secureBucketSettings } from '../../helpers/s3.js';

const BUCKET = 'cloudmart-frontend-123456789012-ap-northeast-2';
const ARN = `arn:aws:s3:::${BUCKET}`;
const HTTPS_DENY = {
  Sid: 'DenyInsecureTransport',
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [ARN, `${ARN}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const CLOUDFRONT_READ = {
  Sid: 'AllowCloudFrontServicePrincipalRead',
  Effect: 'Allow',
  Principal: { Service: 'cloudfront.amazonaws.com' },
  Action: 's3:GetObject',
  Resource: `${ARN}/*`,
  Condition: {
    StringEquals: { 'AWS:SourceArn': 'arn:aws:cloudfront::123456789012:distribution/E1' },
  },
};

function mutating(stub: ReturnType<typeof strictMock>): string[] {
  return stub
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => !/^(Get|Head|List)/.test(n));
}

function secureSettings(s3: ReturnType<typeof strictMock>) {
  s3.on(GetBucketTaggingCommand).resolves({
    TagSet: [
      { Key: 'Project', Value: 'CloudMart' },
      { Key: 'Environment', Value: 'production' },
      { Key: 'Name', Value: 'cloudmart-frontend' },
      { Key: 'cloudmart:stack', Value: 'cloudmart' },
      { Key: 'cloudmart:step', Value: 'edge.frontend-bucket' },
    ],
  });
  secureBucketSettings(s3);
}

describe('edge.frontend-bucket', () => {
  let s3: ReturnType<typeof strictMock>;
  beforeEach(() => {
    s3 = strictMock(S3Client);
  });
  const ctx = (previous?: Record<string, unknown>) =>
    testContext({ stepId: frontendBucketStep.id, ...(previous ? { previous } : {}) });

  it('creates the bucket secured, with the HTTPS-only policy and index.html', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    s3.on(CreateBucketCommand).resolves({});
    secureSettings(s3);
    s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy', 'none', 404));
    s3.on(PutBucketPolicyCommand).resolves({});
    s3.on(HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
    s3.on(PutObjectCommand).resolves({});

    const out = await frontendBucketStep.create(ctx());

    expect(out).toEqual({
      bucketName: BUCKET,
      bucketArn: ARN,
      regionalDomainName: `${BUCKET}.s3.ap-northeast-2.amazonaws.com`,
    });
    expect(s3.commandCalls(CreateBucketCommand)[0]!.args[0].input).toMatchObject({
      Bucket: BUCKET,
      ObjectOwnership: 'BucketOwnerEnforced',
      CreateBucketConfiguration: { LocationConstraint: 'ap-northeast-2' },
    });
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
    expect(policy).toEqual({ Version: '2012-10-17', Statement: [HTTPS_DENY] });
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: BUCKET,
      Key: 'index.html',
      Body: INDEX_HTML,
      ContentType: 'text/html; charset=utf-8',
    });
    // Versioning is Phase 3's job.
    expect(mutating(s3)).not.toContain('PutBucketVersioningCommand');
  });

  it('serves a page that calls the API through the same origin', () => {
    expect(INDEX_HTML).toContain("fetch('/api/products'");
    expect(INDEX_CONTENT_TYPE).toBe('text/html; charset=utf-8');
  });

  it("adopts the converged bucket with no mutating call, keeping edge.cdn's statement", async () => {
    s3.on(HeadBucketCommand).resolves({});
    secureSettings(s3);
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });
    s3.on(HeadObjectCommand).resolves({
      ETag: `"${md5Hex(INDEX_HTML)}"`,
      ContentType: INDEX_CONTENT_TYPE,
    });

    const out = await frontendBucketStep.create(ctx());

    expect(out.bucketName).toBe(BUCKET);
    expect(s3.commandCalls(CreateBucketCommand)).toHaveLength(0);
    expect(mutating(s3)).toEqual([]);
  });

  it('puts the HTTPS deny back next to the CloudFront grant when someone removed it', async () => {
    s3.on(HeadBucketCommand).resolves({});
    secureSettings(s3);
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [CLOUDFRONT_READ] }),
    });
    s3.on(PutBucketPolicyCommand).resolves({});
    s3.on(HeadObjectCommand).resolves({
      ETag: `"${md5Hex(INDEX_HTML)}"`,
      ContentType: INDEX_CONTENT_TYPE,
    });
    await frontendBucketStep.create(ctx());
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
    expect(policy.Statement).toEqual([CLOUDFRONT_READ, HTTPS_DENY]);
  });

  it('verify reports a public bucket', async () => {
    s3.on(HeadBucketCommand).resolves({});
    secureSettings(s3);
    s3.on(GetPublicAccessBlockCommand).resolves({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: false,
        IgnorePublicAcls: false,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: false,
      },
    });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          HTTPS_DENY,
          { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${ARN}/*` },
        ],
      }),
    });
    s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: true } });

    const checks = await frontendBucketStep.verify(ctx());
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['edge.frontend-bucket.not-public']).toMatchObject({
      status: 'fail',
      criterion: 'security-design',
    });
    expect(byId['edge.frontend-bucket.not-public']!.evidence).toContain('policy public=true');
    expect(byId['edge.frontend-bucket.https-only']!.status).toBe('pass');
    expect(byId['edge.frontend-bucket.encryption']!.status).toBe('pass');
  });

  it('verify reports a policy without the HTTPS-only deny and missing encryption', async () => {
    s3.on(HeadBucketCommand).resolves({});
    secureSettings(s3);
    s3.on(GetBucketEncryptionCommand).rejects(
      awsError('ServerSideEncryptionConfigurationNotFoundError', 'none', 404),
    );
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [CLOUDFRONT_READ] }),
    });
    s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
    const checks = await frontendBucketStep.verify(ctx());
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['edge.frontend-bucket.https-only']!.status).toBe('fail');
    expect(byId['edge.frontend-bucket.encryption']!.status).toBe('fail');
    expect(byId['edge.frontend-bucket.not-public']!.status).toBe('pass');
  });

  it('verify fails when the bucket is missing', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    const checks = await frontendBucketStep.verify(ctx());
    expect(checks).toEqual([
      expect.objectContaining({ id: 'edge.frontend-bucket.exists', status: 'fail' }),
    ]);
  });

  it('teardown deletes every version and delete marker, page by page, then the bucket', async () => {
    s3.on(HeadBucketCommand).resolves({});
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: 'index.html',
        NextVersionIdMarker: 'v1',
        Versions: [{ Key: 'index.html', VersionId: 'v2' }],
        DeleteMarkers: [{ Key: 'old.js', VersionId: 'dm1' }],
      })
      .resolvesOnce({ IsTruncated: false, Versions: [{ Key: 'index.html', VersionId: 'v1' }] });
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteBucketCommand).resolves({});

    await frontendBucketStep.teardown(ctx({ bucketName: BUCKET }));

    expect(mutating(s3)).toEqual([
      'DeleteObjectsCommand',
      'DeleteObjectsCommand',
      'DeleteBucketCommand',
    ]);
    const deleted = s3
      .commandCalls(DeleteObjectsCommand)
      .flatMap((c) => c.args[0].input.Delete!.Objects!);
    expect(deleted).toEqual([
      { Key: 'index.html', VersionId: 'v2' },
      { Key: 'old.js', VersionId: 'dm1' },
      { Key: 'index.html', VersionId: 'v1' },
    ]);
    expect(s3.commandCalls(DeleteBucketCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET });
  });

  it('teardown succeeds when the bucket is already gone (no state)', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    await expect(frontendBucketStep.teardown(ctx())).resolves.toBeUndefined();
    expect(mutating(s3)).toEqual([]);
    expect(s3.commandCalls(HeadBucketCommand)[0]!.args[0].input.Bucket).toBe(BUCKET);
  });
});
