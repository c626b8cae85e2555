import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  albLogBucketStep,
  elbLogDeliveryStatement,
} from '../../../src/steps/phase1-foundation/alb-log-bucket.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { secureBucketSettings } from '../../helpers/s3.js';

const BUCKET = `cloudmart-alb-logs-${ACCOUNT}-ap-northeast-2`;
const ARN = `arn:aws:s3:::${BUCKET}`;

const TAGS = [
  { Key: 'Project', Value: 'CloudMart' },
  { Key: 'Environment', Value: 'production' },
  { Key: 'Name', Value: 'cloudmart-alb-logs' },
  { Key: 'cloudmart:stack', Value: 'cloudmart' },
  { Key: 'cloudmart:step', Value: 'app.alb-log-bucket' },
];

const HTTPS_ONLY = {
  Sid: 'DenyInsecureTransport',
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [ARN, `${ARN}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const ELB_DELIVERY = {
  Sid: 'AllowElbAccessLogDelivery',
  Effect: 'Allow',
  Principal: { AWS: 'arn:aws:iam::600734575887:root' },
  Action: 's3:PutObject',
  Resource: `${ARN}/alb/AWSLogs/${ACCOUNT}/*`,
};

function mutating(stub: ReturnType<typeof strictMock>): string[] {
  return stub
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => !/^(Get|Head|List)/.test(n));
}

/** Every setting already what the step wants. */
function converged(
  s3: ReturnType<typeof strictMock>,
  statements: unknown[] = [HTTPS_ONLY, ELB_DELIVERY],
) {
  s3.on(HeadBucketCommand).resolves({});
  s3.on(GetBucketTaggingCommand).resolves({ TagSet: TAGS });
  secureBucketSettings(s3);
  s3.on(GetBucketPolicyCommand).resolves({
    Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }),
  });
  s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
}

describe('app.alb-log-bucket', () => {
  let s3: ReturnType<typeof strictMock>;
  beforeEach(() => {
    s3 = strictMock(S3Client);
  });

  const ctx = (options: Parameters<typeof testContext>[0] = {}) =>
    testContext({ stepId: albLogBucketStep.id, ...options });

  it('creates a locked-down bucket whose policy lets only ap-northeast-2 ELB write the logs', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    s3.on(CreateBucketCommand).resolves({});
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: TAGS });
    s3.on(GetPublicAccessBlockCommand).rejects(awsError('NoSuchPublicAccessBlockConfiguration'));
    s3.on(GetBucketEncryptionCommand).rejects(
      awsError('ServerSideEncryptionConfigurationNotFoundError'),
    );
    s3.on(GetBucketOwnershipControlsCommand).resolves({
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    s3.on(PutBucketEncryptionCommand).resolves({});
    s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy'));
    s3.on(PutBucketPolicyCommand).resolves({});

    const out = await albLogBucketStep.create(ctx());

    expect(out).toEqual({
      bucketName: BUCKET,
      bucketArn: ARN,
      regionalDomainName: `${BUCKET}.s3.ap-northeast-2.amazonaws.com`,
      logPrefix: 'alb',
    });
    const create = s3.commandCalls(CreateBucketCommand)[0]!.args[0].input;
    expect(create.Bucket).toBe(BUCKET);
    expect(create.ObjectOwnership).toBe('BucketOwnerEnforced');
    expect(create.CreateBucketConfiguration?.LocationConstraint).toBe('ap-northeast-2');
    expect(s3.commandCalls(PutBucketEncryptionCommand)[0]!.args[0].input).toMatchObject({
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
    expect(policy).toEqual({ Version: '2012-10-17', Statement: [HTTPS_ONLY, ELB_DELIVERY] });
  });

  it('adopts a converged bucket with no create and no mutating call', async () => {
    converged(s3);
    const out = await albLogBucketStep.create(ctx());
    expect(out.bucketName).toBe(BUCKET);
    expect(mutating(s3)).toEqual([]);
  });

  it('rewrites only the policy when the ELB grant is missing, keeping other statements', async () => {
    const other = {
      Sid: 'Someone',
      Effect: 'Allow',
      Principal: { AWS: ACCOUNT },
      Action: 's3:GetObject',
      Resource: `${ARN}/*`,
    };
    converged(s3, [HTTPS_ONLY, other]);
    s3.on(PutBucketPolicyCommand).resolves({});
    await albLogBucketStep.create(ctx());
    expect(mutating(s3)).toEqual(['PutBucketPolicyCommand']);
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
    expect(policy.Statement).toEqual([other, HTTPS_ONLY, ELB_DELIVERY]);
  });

  it('uses the log-delivery service principal in regions without an ELB account', () => {
    expect(elbLogDeliveryStatement('b', ACCOUNT, 'ap-southeast-7')).toEqual({
      Sid: 'AllowElbAccessLogDelivery',
      Effect: 'Allow',
      Principal: { Service: 'logdelivery.elasticloadbalancing.amazonaws.com' },
      Action: 's3:PutObject',
      Resource: `arn:aws:s3:::b/alb/AWSLogs/${ACCOUNT}/*`,
    });
    expect(elbLogDeliveryStatement('b', ACCOUNT, 'ap-northeast-1').Principal).toEqual({
      AWS: 'arn:aws:iam::582318560864:root',
    });
    expect(elbLogDeliveryStatement('b', ACCOUNT, 'us-east-1').Principal).toEqual({
      AWS: 'arn:aws:iam::127311923021:root',
    });
  });

  it('verify passes on a converged bucket and fails when ELB cannot deliver', async () => {
    converged(s3);
    const ok = await albLogBucketStep.verify(ctx());
    expect(ok.map((c) => [c.id, c.status])).toEqual([
      ['app.alb-log-bucket.public-access', 'pass'],
      ['app.alb-log-bucket.encryption', 'pass'],
      ['app.alb-log-bucket.ownership', 'pass'],
      ['app.alb-log-bucket.elb-delivery', 'pass'],
    ]);

    s3 = strictMock(S3Client);
    converged(s3, [
      HTTPS_ONLY,
      { ...ELB_DELIVERY, Principal: { AWS: 'arn:aws:iam::127311923021:root' } },
    ]);
    s3.on(GetBucketEncryptionCommand).rejects(
      awsError('ServerSideEncryptionConfigurationNotFoundError'),
    );
    const drift = await albLogBucketStep.verify(ctx());
    expect(drift.find((c) => c.id === 'app.alb-log-bucket.elb-delivery')?.status).toBe('fail');
    expect(drift.find((c) => c.id === 'app.alb-log-bucket.encryption')?.status).toBe('fail');
    expect(drift.find((c) => c.id === 'app.alb-log-bucket.encryption')?.evidence).toContain(
      'SSE=none',
    );
  });

  it('verify fails when the bucket is missing', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    const checks = await albLogBucketStep.verify(ctx());
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ id: 'app.alb-log-bucket.exists', status: 'fail' });
  });

  it('teardown empties every version and delete marker, page by page, then deletes', async () => {
    s3.on(HeadBucketCommand).resolves({});
    s3.on(ListObjectVersionsCommand)
      .resolvesOnce({
        IsTruncated: true,
        NextKeyMarker: 'k2',
        NextVersionIdMarker: 'v2',
        Versions: [{ Key: 'alb/AWSLogs/a.gz', VersionId: 'v1' }],
        DeleteMarkers: [{ Key: 'alb/AWSLogs/b.gz', VersionId: 'm1' }],
      })
      .resolvesOnce({
        IsTruncated: false,
        Versions: [{ Key: 'alb/AWSLogs/c.gz', VersionId: 'v3' }],
      })
      .resolves({ IsTruncated: false });
    s3.on(DeleteObjectsCommand).resolves({});
    s3.on(DeleteBucketCommand).resolves({});

    // No state: the name is derived from the stack, the account and the region.
    await albLogBucketStep.teardown(ctx());

    const deletes = s3
      .commandCalls(DeleteObjectsCommand)
      .map((c) => c.args[0].input.Delete?.Objects);
    expect(deletes).toEqual([
      [
        { Key: 'alb/AWSLogs/a.gz', VersionId: 'v1' },
        { Key: 'alb/AWSLogs/b.gz', VersionId: 'm1' },
      ],
      [{ Key: 'alb/AWSLogs/c.gz', VersionId: 'v3' }],
    ]);
    expect(s3.commandCalls(ListObjectVersionsCommand)[1]!.args[0].input).toMatchObject({
      KeyMarker: 'k2',
      VersionIdMarker: 'v2',
    });
    expect(s3.commandCalls(DeleteBucketCommand)[0]!.args[0].input).toEqual({ Bucket: BUCKET });
  });

  it('teardown uses the recorded bucket name and succeeds when it is already gone', async () => {
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    await expect(
      albLogBucketStep.teardown(ctx({ previous: { bucketName: 'recorded-bucket' } })),
    ).resolves.toBeUndefined();
    expect(s3.commandCalls(HeadBucketCommand)[0]!.args[0].input.Bucket).toBe('recorded-bucket');
    expect(s3.commandCalls(DeleteBucketCommand)).toHaveLength(0);
  });

  it("puts the bucket in the configured region with that region's ELB account", async () => {
    const config = testConfig({
      region: 'ap-northeast-1',
      drRegion: 'ap-northeast-2',
      availabilityZones: ['ap-northeast-1a', 'ap-northeast-1c'],
    });
    const bucket = `cloudmart-alb-logs-${ACCOUNT}-ap-northeast-1`;
    s3.on(HeadBucketCommand).resolves({});
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: TAGS });
    s3.on(GetPublicAccessBlockCommand).resolves({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    });
    s3.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    s3.on(GetBucketOwnershipControlsCommand).rejects(awsError('OwnershipControlsNotFoundError'));
    s3.on(PutBucketOwnershipControlsCommand).resolves({});
    s3.on(PutBucketTaggingCommand).resolves({});
    s3.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy'));
    s3.on(PutBucketPolicyCommand).resolves({});
    const out = await albLogBucketStep.create(ctx({ config }));
    expect(out.bucketName).toBe(bucket);
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy!);
    expect(policy.Statement[1]).toEqual({
      ...ELB_DELIVERY,
      Principal: { AWS: 'arn:aws:iam::582318560864:root' },
      Resource: `arn:aws:s3:::${bucket}/alb/AWSLogs/${ACCOUNT}/*`,
    });
    expect(s3.commandCalls(PutBucketOwnershipControlsCommand)).toHaveLength(1);
  });
});
