import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeCloud, LATENCY_TIMINGS as L } from '../helpers/fake-cloud/index.js';
import type { ServiceName } from '../helpers/fake-cloud/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- responses are read loosely here */
const R = 'ap-northeast-2';
const E = 'us-east-1';

function virtual() {
  const cloud = new FakeCloud({ mode: 'virtual', startAt: Date.UTC(2025, 0, 1) });
  cloud.clock.quietMs = 60_000;
  const call = (service: ServiceName, command: string, input: any = {}, region = R): Promise<any> =>
    cloud.call(service, command, input, region);
  return { cloud, call };
}

const trust = (service: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  });

describe('S3', () => {
  it('creates buckets as AWS does since 2023: public access blocked, SSE-S3, owner enforced', async () => {
    const { call } = virtual();
    await call('s3', 'CreateBucket', {
      Bucket: 'bkt',
      CreateBucketConfiguration: { LocationConstraint: R, Tags: [{ Key: 'Name', Value: 'bkt' }] },
    });
    expect(await call('s3', 'GetPublicAccessBlock', { Bucket: 'bkt' })).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    });
    expect(await call('s3', 'GetBucketEncryption', { Bucket: 'bkt' })).toMatchObject({
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    expect(await call('s3', 'GetBucketOwnershipControls', { Bucket: 'bkt' })).toMatchObject({
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
    expect((await call('s3', 'GetBucketVersioning', { Bucket: 'bkt' })).Status).toBeUndefined();
    expect((await call('s3', 'GetBucketTagging', { Bucket: 'bkt' })).TagSet).toEqual([
      { Key: 'Name', Value: 'bkt' },
    ]);
    await expect(call('s3', 'GetBucketPolicy', { Bucket: 'bkt' })).rejects.toMatchObject({
      name: 'NoSuchBucketPolicy',
    });
    await expect(
      call('s3', 'GetBucketLifecycleConfiguration', { Bucket: 'bkt' }),
    ).rejects.toMatchObject({ name: 'NoSuchLifecycleConfiguration' });
  });

  it('answers for the bucket namespace and regions as S3 does', async () => {
    const { cloud, call } = virtual();
    await call('s3', 'CreateBucket', {
      Bucket: 'bkt',
      CreateBucketConfiguration: { LocationConstraint: R },
    });
    await expect(
      call('s3', 'CreateBucket', {
        Bucket: 'bkt',
        CreateBucketConfiguration: { LocationConstraint: R },
      }),
    ).rejects.toMatchObject({
      name: 'BucketAlreadyOwnedByYou',
      $metadata: { httpStatusCode: 409 },
    });
    await expect(call('s3', 'CreateBucket', { Bucket: 'ccc' })).rejects.toMatchObject({
      name: 'IllegalLocationConstraintException',
    });
    // Another region's endpoint: 301 naming the bucket's region in x-amz-bucket-region; a
    // HEAD's 301 has no body, so no error code either.
    const redirected = (await call('s3', 'HeadBucket', { Bucket: 'bkt' }, E).catch(
      (e: unknown) => e,
    )) as { $response: { headers: Record<string, string> } };
    expect(redirected).toMatchObject({ name: 'Unknown', $metadata: { httpStatusCode: 301 } });
    expect(redirected.$response.headers['x-amz-bucket-region']).toBe('ap-northeast-2');
    const got = (await call('s3', 'GetObject', { Bucket: 'bkt', Key: 'k' }, E).catch(
      (e: unknown) => e,
    )) as { $response: { headers: Record<string, string> } };
    expect(got).toMatchObject({ name: 'PermanentRedirect', $metadata: { httpStatusCode: 301 } });
    expect(got.$response.headers['x-amz-bucket-region']).toBe('ap-northeast-2');
    await expect(call('s3', 'HeadBucket', { Bucket: 'nope' })).rejects.toMatchObject({
      name: 'NotFound',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(
      call('s3', 'HeadBucket', { Bucket: 'bkt', ExpectedBucketOwner: '999999999999' }),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    cloud.reserveBucketName('taken');
    await expect(
      call('s3', 'CreateBucket', {
        Bucket: 'taken',
        CreateBucketConfiguration: { LocationConstraint: R },
      }),
    ).rejects.toMatchObject({ name: 'BucketAlreadyExists' });
    await expect(call('s3', 'HeadBucket', { Bucket: 'taken' })).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    await call('s3', 'CreateBucket', { Bucket: 'east' }, E);
    await call('s3', 'CreateBucket', { Bucket: 'east' }, E);
  });

  it('keeps every version and delete marker: a versioned bucket must be emptied before DeleteBucket', async () => {
    const { call } = virtual();
    await call('s3', 'CreateBucket', {
      Bucket: 'ver',
      CreateBucketConfiguration: { LocationConstraint: R },
    });
    await call('s3', 'PutBucketVersioning', {
      Bucket: 'ver',
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const a = await call('s3', 'PutObject', {
      Bucket: 'ver',
      Key: 'k',
      Body: 'one',
      ContentType: 'text/plain',
      Metadata: { m: '1' },
    });
    await call('s3', 'PutObject', { Bucket: 'ver', Key: 'k', Body: 'two' });
    expect(a.ETag).toBe('"f97c5d29941bfb1b2fdab0874906ab82"');
    expect(
      await call('s3', 'HeadObject', { Bucket: 'ver', Key: 'k', VersionId: a.VersionId }),
    ).toMatchObject({ ETag: a.ETag, ContentType: 'text/plain', Metadata: { m: '1' } });
    await call('s3', 'DeleteObjects', { Bucket: 'ver', Delete: { Objects: [{ Key: 'k' }] } });
    await expect(call('s3', 'HeadObject', { Bucket: 'ver', Key: 'k' })).rejects.toMatchObject({
      name: 'NotFound',
    });
    await expect(call('s3', 'DeleteBucket', { Bucket: 'ver' })).rejects.toMatchObject({
      name: 'BucketNotEmpty',
      $metadata: { httpStatusCode: 409 },
    });
    const page1 = await call('s3', 'ListObjectVersions', { Bucket: 'ver', MaxKeys: 2 });
    expect(page1).toMatchObject({ IsTruncated: true, NextKeyMarker: 'k' });
    expect(page1.DeleteMarkers).toHaveLength(1);
    expect(page1.Versions).toHaveLength(1);
    const page2 = await call('s3', 'ListObjectVersions', {
      Bucket: 'ver',
      KeyMarker: page1.NextKeyMarker,
      VersionIdMarker: page1.NextVersionIdMarker,
    });
    expect(page2).toMatchObject({
      IsTruncated: false,
      Versions: [{ VersionId: a.VersionId, IsLatest: false }],
    });
    const all = [...page1.Versions, ...page1.DeleteMarkers, ...page2.Versions].map((v: any) => ({
      Key: v.Key,
      VersionId: v.VersionId,
    }));
    await call('s3', 'DeleteObjects', { Bucket: 'ver', Delete: { Objects: all, Quiet: true } });
    await call('s3', 'DeleteBucket', { Bucket: 'ver' });
    await expect(call('s3', 'DeleteBucket', { Bucket: 'ver' })).rejects.toMatchObject({
      name: 'NoSuchBucket',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('refuses a public bucket policy while BlockPublicPolicy is on, and judges policies', async () => {
    const { call } = virtual();
    await call('s3', 'CreateBucket', {
      Bucket: 'pub',
      CreateBucketConfiguration: { LocationConstraint: R },
    });
    const statement = (extra: any) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::pub/*',
            ...extra,
          },
        ],
      });
    await expect(
      call('s3', 'PutBucketPolicy', { Bucket: 'pub', Policy: statement({}) }),
    ).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    await call('s3', 'PutBucketPolicy', {
      Bucket: 'pub',
      Policy: statement({
        Condition: {
          StringEquals: { 'AWS:SourceArn': 'arn:aws:cloudfront::123456789012:distribution/E1' },
        },
      }),
    });
    expect(await call('s3', 'GetBucketPolicyStatus', { Bucket: 'pub' })).toMatchObject({
      PolicyStatus: { IsPublic: false },
    });
    await call('s3', 'PutPublicAccessBlock', { Bucket: 'pub', PublicAccessBlockConfiguration: {} });
    await call('s3', 'PutBucketPolicy', { Bucket: 'pub', Policy: statement({}) });
    expect(await call('s3', 'GetBucketPolicyStatus', { Bucket: 'pub' })).toMatchObject({
      PolicyStatus: { IsPublic: true },
    });
  });
});

describe('CloudFront, WAF, ACM and Route 53', () => {
  async function edge(call: ReturnType<typeof virtual>['call']) {
    const acl = (
      await call(
        'wafv2',
        'CreateWebACL',
        {
          Name: 'acl',
          Scope: 'CLOUDFRONT',
          DefaultAction: { Allow: {} },
          Rules: [],
          VisibilityConfig: {
            SampledRequestsEnabled: true,
            CloudWatchMetricsEnabled: true,
            MetricName: 'acl',
          },
        },
        E,
      )
    ).Summary;
    const oac = (
      await call('cloudfront', 'CreateOriginAccessControl', {
        OriginAccessControlConfig: {
          Name: 'oac',
          SigningProtocol: 'sigv4',
          SigningBehavior: 'always',
          OriginAccessControlOriginType: 's3',
        },
      })
    ).OriginAccessControl.Id;
    const config = {
      CallerReference: 'ref-1',
      Comment: 'cloudmart:s',
      Enabled: true,
      WebACLId: acl.ARN,
      Origins: {
        Quantity: 1,
        Items: [
          {
            Id: 's3',
            DomainName: 'b.s3.ap-northeast-2.amazonaws.com',
            OriginAccessControlId: oac,
            S3OriginConfig: { OriginAccessIdentity: '' },
          },
        ],
      },
      DefaultCacheBehavior: { TargetOriginId: 's3', ViewerProtocolPolicy: 'redirect-to-https' },
    };
    const created = await call('cloudfront', 'CreateDistributionWithTags', {
      DistributionConfigWithTags: {
        DistributionConfig: config,
        Tags: { Items: [{ Key: 'Name', Value: 'cdn' }] },
      },
    });
    return { acl, oac, config, id: created.Distribution.Id as string, created };
  }

  it('deploys a distribution, and deletes it only disabled, deployed and with the current ETag', async () => {
    const { cloud, call } = virtual();
    const { acl, oac, config, id, created } = await edge(call);
    expect(created.Distribution).toMatchObject({
      Id: expect.stringMatching(/^E[A-Z0-9]{13}$/),
      Status: 'InProgress',
      DomainName: expect.stringMatching(/^d[a-z0-9]{13}\.cloudfront\.net$/),
    });
    // The same caller reference with the same config is the same distribution.
    expect(
      (
        await call('cloudfront', 'CreateDistributionWithTags', {
          DistributionConfigWithTags: { DistributionConfig: config, Tags: { Items: [] } },
        })
      ).Distribution.Id,
    ).toBe(id);
    await expect(
      call('cloudfront', 'CreateDistributionWithTags', {
        DistributionConfigWithTags: {
          DistributionConfig: { ...config, Comment: 'x' },
          Tags: { Items: [] },
        },
      }),
    ).rejects.toMatchObject({
      name: 'DistributionAlreadyExists',
      message: expect.stringContaining(`Already exists: ${id}`),
    });
    cloud.advance(L.cloudfrontDeploy);
    const got = await call('cloudfront', 'GetDistribution', { Id: id });
    expect(got.Distribution.Status).toBe('Deployed');
    await expect(
      call('cloudfront', 'DeleteDistribution', { Id: id, IfMatch: got.ETag }),
    ).rejects.toMatchObject({
      name: 'DistributionNotDisabled',
      $metadata: { httpStatusCode: 409 },
    });
    await expect(
      call('cloudfront', 'UpdateDistribution', {
        Id: id,
        IfMatch: 'stale',
        DistributionConfig: { ...config, Enabled: false },
      }),
    ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    const disabled = await call('cloudfront', 'UpdateDistribution', {
      Id: id,
      IfMatch: got.ETag,
      DistributionConfig: { ...config, Enabled: false },
    });
    expect(disabled.Distribution.Status).toBe('InProgress');
    await expect(
      call('cloudfront', 'DeleteDistribution', { Id: id, IfMatch: disabled.ETag }),
    ).rejects.toMatchObject({ name: 'DistributionNotDisabled' });
    await expect(
      call(
        'wafv2',
        'DeleteWebACL',
        { Name: 'acl', Id: acl.Id, Scope: 'CLOUDFRONT', LockToken: acl.LockToken },
        E,
      ),
    ).rejects.toMatchObject({ name: 'WAFAssociatedItemException' });
    await expect(
      call('cloudfront', 'DeleteOriginAccessControl', {
        Id: oac,
        IfMatch: (await call('cloudfront', 'GetOriginAccessControl', { Id: oac })).ETag,
      }),
    ).rejects.toMatchObject({ name: 'OriginAccessControlInUse' });
    cloud.advance(L.cloudfrontDeploy);
    await call('cloudfront', 'DeleteDistribution', { Id: id, IfMatch: disabled.ETag });
    await expect(
      call(
        'wafv2',
        'DeleteWebACL',
        { Name: 'acl', Id: acl.Id, Scope: 'CLOUDFRONT', LockToken: 'old' },
        E,
      ),
    ).rejects.toMatchObject({ name: 'WAFOptimisticLockException' });
    await call(
      'wafv2',
      'DeleteWebACL',
      { Name: 'acl', Id: acl.Id, Scope: 'CLOUDFRONT', LockToken: acl.LockToken },
      E,
    );
    await expect(
      call('wafv2', 'GetWebACL', { Name: 'acl', Id: acl.Id, Scope: 'CLOUDFRONT' }, E),
    ).rejects.toMatchObject({ name: 'WAFNonexistentItemException' });
  });

  it('keeps CloudFront-scope web ACLs in us-east-1 and hands out a marker even on the last page', async () => {
    const { call } = virtual();
    await expect(call('wafv2', 'ListWebACLs', { Scope: 'CLOUDFRONT' })).rejects.toMatchObject({
      name: 'WAFInvalidParameterException',
    });
    await edge(call);
    const first = await call('wafv2', 'ListWebACLs', { Scope: 'CLOUDFRONT', Limit: 100 }, E);
    expect(first.WebACLs).toHaveLength(1);
    expect(first.NextMarker).toBeTruthy();
    expect(
      (await call('wafv2', 'ListWebACLs', { Scope: 'CLOUDFRONT', NextMarker: first.NextMarker }, E))
        .WebACLs,
    ).toEqual([]);
  });

  it('issues a DNS-validated certificate once its CNAME is in a hosted zone', async () => {
    const { cloud, call } = virtual();
    const zone = await call('route53', 'CreateHostedZone', {
      Name: 'example.com',
      CallerReference: 'z1',
      HostedZoneConfig: { Comment: 'c' },
    });
    const zoneId = zone.HostedZone.Id.replace('/hostedzone/', '');
    const { CertificateArn: arn } = await call('acm', 'RequestCertificate', {
      DomainName: 'shop.example.com',
      SubjectAlternativeNames: ['*.shop.example.com'],
      ValidationMethod: 'DNS',
      IdempotencyToken: 't',
    });
    expect(
      (
        await call('acm', 'RequestCertificate', {
          DomainName: 'shop.example.com',
          SubjectAlternativeNames: ['*.shop.example.com'],
          ValidationMethod: 'DNS',
          IdempotencyToken: 't',
        })
      ).CertificateArn,
    ).toBe(arn);
    const describe = async () =>
      (await call('acm', 'DescribeCertificate', { CertificateArn: arn })).Certificate;
    expect((await describe()).DomainValidationOptions[0].ResourceRecord).toBeUndefined();
    cloud.advance(L.acmRecords);
    const options = (await describe()).DomainValidationOptions;
    // The domain and its wildcard validate with the same record.
    expect(options[0].ResourceRecord).toEqual(options[1].ResourceRecord);
    const rr = options[0].ResourceRecord;
    cloud.advance(L.acmIssue);
    expect((await describe()).Status).toBe('PENDING_VALIDATION');
    const change = await call('route53', 'ChangeResourceRecordSets', {
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: rr.Name,
              Type: 'CNAME',
              TTL: 300,
              ResourceRecords: [{ Value: rr.Value }],
            },
          },
        ],
      },
    });
    expect(change.ChangeInfo.Status).toBe('PENDING');
    cloud.advance(L.route53Insync);
    expect(
      (await call('route53', 'GetChange', { Id: change.ChangeInfo.Id })).ChangeInfo.Status,
    ).toBe('INSYNC');
    cloud.advance(L.acmIssue);
    expect(await describe()).toMatchObject({ Status: 'ISSUED', NotAfter: expect.any(Date) });
    await expect(call('route53', 'DeleteHostedZone', { Id: zoneId })).rejects.toMatchObject({
      name: 'HostedZoneNotEmpty',
    });
  });

  it('keeps record sets in Route 53 order and deletes only an exact match', async () => {
    const { call } = virtual();
    const zoneId = (
      await call('route53', 'CreateHostedZone', { Name: 'example.com.', CallerReference: 'z' })
    ).HostedZone.Id;
    const upsert = (Name: string, Type: string, Value: string) => ({
      Action: 'UPSERT',
      ResourceRecordSet: { Name, Type, TTL: 60, ResourceRecords: [{ Value }] },
    });
    await call('route53', 'ChangeResourceRecordSets', {
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [
          upsert('b.example.com', 'A', '1.1.1.1'),
          upsert('a.example.com', 'CNAME', 'x.'),
          upsert('a.example.com', 'A', '2.2.2.2'),
        ],
      },
    });
    const list = await call('route53', 'ListResourceRecordSets', { HostedZoneId: zoneId });
    expect(list.ResourceRecordSets.map((r: any) => `${r.Name} ${r.Type}`)).toEqual([
      'example.com. NS',
      'example.com. SOA',
      'a.example.com. A',
      'a.example.com. CNAME',
      'b.example.com. A',
    ]);
    const one = await call('route53', 'ListResourceRecordSets', {
      HostedZoneId: zoneId,
      StartRecordName: 'a.example.com',
      StartRecordType: 'CNAME',
      MaxItems: 1,
    });
    expect(one).toMatchObject({
      ResourceRecordSets: [{ Name: 'a.example.com.', Type: 'CNAME' }],
      IsTruncated: true,
      NextRecordName: 'b.example.com.',
    });
    await expect(
      call('route53', 'ChangeResourceRecordSets', {
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: 'DELETE',
              ResourceRecordSet: {
                Name: 'b.example.com',
                Type: 'A',
                TTL: 60,
                ResourceRecords: [{ Value: '9.9.9.9' }],
              },
            },
          ],
        },
      }),
    ).rejects.toMatchObject({ name: 'InvalidChangeBatch' });
    await call('route53', 'ChangeResourceRecordSets', {
      HostedZoneId: zoneId,
      ChangeBatch: {
        Changes: [{ Action: 'DELETE', ResourceRecordSet: one.ResourceRecordSets[0] }],
      },
    });
  });

  it('refuses to delete a certificate an ALB listener uses', async () => {
    const { cloud, call } = virtual();
    const vpc = (await call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' })).Vpc.VpcId;
    const igw = (await call('ec2', 'CreateInternetGateway')).InternetGateway.InternetGatewayId;
    await call('ec2', 'AttachInternetGateway', { InternetGatewayId: igw, VpcId: vpc });
    const subnets = [];
    for (const [c, az] of [
      ['10.0.1.0/24', 'a'],
      ['10.0.2.0/24', 'c'],
    ])
      subnets.push(
        (
          await call('ec2', 'CreateSubnet', {
            VpcId: vpc,
            CidrBlock: c,
            AvailabilityZone: `${R}${az}`,
          })
        ).Subnet.SubnetId,
      );
    const lb = (await call('elbv2', 'CreateLoadBalancer', { Name: 'alb', Subnets: subnets }))
      .LoadBalancers[0].LoadBalancerArn;
    const tg = (
      await call('elbv2', 'CreateTargetGroup', {
        Name: 'tg',
        Protocol: 'HTTP',
        Port: 80,
        VpcId: vpc,
      })
    ).TargetGroups[0].TargetGroupArn;
    await call('route53', 'CreateHostedZone', { Name: 'example.com', CallerReference: 'z' });
    const { CertificateArn: cert } = await call('acm', 'RequestCertificate', {
      DomainName: 'example.com',
      ValidationMethod: 'DNS',
    });
    const https = {
      LoadBalancerArn: lb,
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: cert }],
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }],
    };
    await expect(call('elbv2', 'CreateListener', https)).rejects.toMatchObject({
      name: 'UnsupportedCertificate',
    });
    const c = cloud.resource('acm:certificate', R, cert)!;
    c.state = 'ISSUED';
    const listener = (await call('elbv2', 'CreateListener', https)).Listeners[0];
    expect(listener.DefaultActions[0]).toMatchObject({
      Type: 'forward',
      TargetGroupArn: tg,
      ForwardConfig: { TargetGroups: [{ TargetGroupArn: tg, Weight: 1 }] },
    });
    await expect(call('acm', 'DeleteCertificate', { CertificateArn: cert })).rejects.toMatchObject({
      name: 'ResourceInUseException',
    });
    await call('elbv2', 'DeleteListener', { ListenerArn: listener.ListenerArn });
    await call('acm', 'DeleteCertificate', { CertificateArn: cert });
  });
});

describe('IAM, KMS, Secrets Manager, SSM', () => {
  it('keeps a role boundary: set at CreateRole only from a managed policy that exists, read by GetRole, replaced and removed; a boundary in use cannot be deleted', async () => {
    const { cloud, call } = virtual();
    const boundary = 'arn:aws:iam::123456789012:policy/b';
    await expect(
      call('iam', 'CreateRole', {
        RoleName: 'r',
        AssumeRolePolicyDocument: trust('ec2.amazonaws.com'),
        PermissionsBoundary: boundary,
      }),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: `Scope ARN: ${boundary} does not exist or is not attachable.`,
    });
    await expect(call('iam', 'GetRole', { RoleName: 'r' })).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    const policy = (
      await call('iam', 'CreatePolicy', { PolicyName: 'b', PolicyDocument: trust('x') })
    ).Policy;
    expect(policy).toMatchObject({ Arn: boundary, DefaultVersionId: 'v1', IsAttachable: true });
    await expect(
      call('iam', 'CreatePolicy', { PolicyName: 'b', PolicyDocument: trust('x') }),
    ).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
    const created = await call('iam', 'CreateRole', {
      RoleName: 'r',
      AssumeRolePolicyDocument: trust('ec2.amazonaws.com'),
      PermissionsBoundary: boundary,
    });
    const attached = {
      PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
      PermissionsBoundaryArn: boundary,
    };
    expect(created.Role.PermissionsBoundary).toEqual(attached);
    expect((await call('iam', 'GetRole', { RoleName: 'r' })).Role.PermissionsBoundary).toEqual(
      attached,
    );
    expect(
      (await call('iam', 'GetPolicy', { PolicyArn: boundary })).Policy
        .PermissionsBoundaryUsageCount,
    ).toBe(1);
    await expect(call('iam', 'DeletePolicy', { PolicyArn: boundary })).rejects.toMatchObject({
      name: 'DeleteConflictException',
    });
    cloud.advance(L.iamVisible);
    await expect(
      call('iam', 'PutRolePermissionsBoundary', {
        RoleName: 'r',
        PermissionsBoundary: 'arn:aws:iam::123456789012:policy/nope',
      }),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    await call('iam', 'PutRolePermissionsBoundary', {
      RoleName: 'r',
      PermissionsBoundary: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
    expect(
      (await call('iam', 'GetRole', { RoleName: 'r' })).Role.PermissionsBoundary
        .PermissionsBoundaryArn,
    ).toBe('arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore');
    await call('iam', 'DeleteRolePermissionsBoundary', { RoleName: 'r' });
    expect((await call('iam', 'GetRole', { RoleName: 'r' })).Role.PermissionsBoundary).toBe(
      undefined,
    );
    await call('iam', 'DeletePolicy', { PolicyArn: boundary });
    await expect(call('iam', 'GetPolicy', { PolicyArn: boundary })).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
  });

  it("refuses a service-linked role's changes with UnmodifiableEntityException, the model's error", async () => {
    const { cloud, call } = virtual();
    const name = (
      await call('iam', 'CreateServiceLinkedRole', {
        AWSServiceName: 'elasticloadbalancing.amazonaws.com',
      })
    ).Role.RoleName;
    await call('iam', 'CreatePolicy', { PolicyName: 'b', PolicyDocument: trust('x') });
    cloud.advance(L.iamVisible);
    const refused = { name: 'UnmodifiableEntityException' };
    await expect(
      call('iam', 'PutRolePermissionsBoundary', {
        RoleName: name,
        PermissionsBoundary: 'arn:aws:iam::123456789012:policy/b',
      }),
    ).rejects.toMatchObject(refused);
    await expect(
      call('iam', 'DeleteRolePermissionsBoundary', { RoleName: name }),
    ).rejects.toMatchObject(refused);
    await expect(call('iam', 'DeleteRole', { RoleName: name })).rejects.toMatchObject(refused);
  });

  it('CreatePolicy: a path makes part of the ARN; the name and path patterns and the 6,144-character size are enforced', async () => {
    const { call } = virtual();
    const doc = trust('x');
    expect(
      (await call('iam', 'CreatePolicy', { PolicyName: 'b', Path: '/teams/', PolicyDocument: doc }))
        .Policy.Arn,
    ).toBe('arn:aws:iam::123456789012:policy/teams/b');
    for (const [PolicyName, Path] of [
      ['has space', '/'],
      ['a'.repeat(129), '/'],
      ['ok', 'teams/'],
      ['ok', '/teams'],
      ['ok', '/te ams/'],
    ])
      await expect(
        call('iam', 'CreatePolicy', { PolicyName, Path, PolicyDocument: doc }),
        `${PolicyName} ${Path}`,
      ).rejects.toMatchObject({ name: 'ValidationError' });
    const big = (n: number) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'x'.repeat(n)}` },
        ],
      });
    const base = big(0).length;
    // White space does not count.
    const fits = JSON.stringify(JSON.parse(big(6144 - base)), null, 8);
    expect(fits.length).toBeGreaterThan(6144);
    await call('iam', 'CreatePolicy', { PolicyName: 'fits', PolicyDocument: fits });
    await expect(
      call('iam', 'CreatePolicy', { PolicyName: 'over', PolicyDocument: big(6145 - base) }),
    ).rejects.toMatchObject({
      name: 'LimitExceededException',
      message: 'Cannot exceed quota for PolicySize: 6144',
    });
  });

  it('returns IAM documents URL-encoded and refuses to delete a role still in use', async () => {
    const { cloud, call } = virtual();
    const role = (
      await call('iam', 'CreateRole', {
        RoleName: 'r',
        AssumeRolePolicyDocument: trust('ec2.amazonaws.com'),
        Tags: [{ Key: 'Name', Value: 'r' }],
      })
    ).Role;
    expect(role.Arn).toBe('arn:aws:iam::123456789012:role/r');
    expect(role.AssumeRolePolicyDocument).toBe(encodeURIComponent(trust('ec2.amazonaws.com')));
    await expect(
      call('iam', 'CreateRole', { RoleName: 'r', AssumeRolePolicyDocument: trust('x') }),
    ).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
    await expect(
      call('iam', 'CreateRole', { RoleName: 'bad', AssumeRolePolicyDocument: '{' }),
    ).rejects.toMatchObject({ name: 'MalformedPolicyDocumentException' });
    // IAM is eventually consistent: a role created a moment ago is not there yet for changes.
    await expect(
      call('iam', 'AttachRolePolicy', {
        RoleName: 'r',
        PolicyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
      }),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The role with name r cannot be found.',
    });
    cloud.advance(L.iamVisible);
    await call('iam', 'AttachRolePolicy', {
      RoleName: 'r',
      PolicyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
    await expect(
      call('iam', 'AttachRolePolicy', { RoleName: 'r', PolicyArn: 'arn:aws:iam::aws:policy/Nope' }),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    await call('iam', 'PutRolePolicy', {
      RoleName: 'r',
      PolicyName: 'p',
      PolicyDocument: trust('y'),
    });
    expect(
      (await call('iam', 'GetRolePolicy', { RoleName: 'r', PolicyName: 'p' })).PolicyDocument,
    ).toBe(encodeURIComponent(trust('y')));
    await call('iam', 'CreateInstanceProfile', { InstanceProfileName: 'ip' });
    await expect(
      call('iam', 'AddRoleToInstanceProfile', { InstanceProfileName: 'ip', RoleName: 'r' }),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    cloud.advance(L.iamVisible);
    await call('iam', 'AddRoleToInstanceProfile', { InstanceProfileName: 'ip', RoleName: 'r' });
    await expect(
      call('iam', 'AddRoleToInstanceProfile', { InstanceProfileName: 'ip', RoleName: 'r' }),
    ).rejects.toMatchObject({ name: 'LimitExceededException' });
    await expect(
      call('iam', 'DeleteInstanceProfile', { InstanceProfileName: 'ip' }),
    ).rejects.toMatchObject({ name: 'DeleteConflictException' });
    await expect(call('iam', 'DeleteRole', { RoleName: 'r' })).rejects.toMatchObject({
      name: 'DeleteConflictException',
      message: 'Cannot delete entity, must detach all policies first.',
    });
    await call('iam', 'DetachRolePolicy', {
      RoleName: 'r',
      PolicyArn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
    await expect(call('iam', 'DeleteRole', { RoleName: 'r' })).rejects.toMatchObject({
      message: 'Cannot delete entity, must delete policies first.',
    });
    await call('iam', 'DeleteRolePolicy', { RoleName: 'r', PolicyName: 'p' });
    await expect(call('iam', 'DeleteRole', { RoleName: 'r' })).rejects.toMatchObject({
      message: 'Cannot delete entity, must remove roles from instance profile first.',
    });
    await call('iam', 'RemoveRoleFromInstanceProfile', {
      InstanceProfileName: 'ip',
      RoleName: 'r',
    });
    await call('iam', 'DeleteRole', { RoleName: 'r' });
    await expect(call('iam', 'GetRole', { RoleName: 'r' })).rejects.toMatchObject({
      name: 'NoSuchEntityException',
      $metadata: { httpStatusCode: 404 },
    });
  });

  it('never deletes a KMS key at once, and refuses policies naming roles IAM has not propagated', async () => {
    const { cloud, call } = virtual();
    await call('iam', 'CreateServiceLinkedRole', { AWSServiceName: 'autoscaling.amazonaws.com' });
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: {
            AWS: 'arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling',
          },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });
    await expect(call('kms', 'CreateKey', { Policy: policy })).rejects.toMatchObject({
      name: 'MalformedPolicyDocumentException',
    });
    cloud.advance(L.iamPropagation);
    const key = (
      await call('kms', 'CreateKey', { Policy: policy, Tags: [{ TagKey: 'Name', TagValue: 'k' }] })
    ).KeyMetadata;
    await call('kms', 'CreateAlias', { AliasName: 'alias/k', TargetKeyId: key.KeyId });
    expect((await call('kms', 'DescribeKey', { KeyId: 'alias/k' })).KeyMetadata).toMatchObject({
      KeyId: key.KeyId,
      KeyState: 'Enabled',
      Arn: `arn:aws:kms:${R}:123456789012:key/${key.KeyId}`,
    });
    await expect(
      call('kms', 'DescribeKey', { KeyId: 'alias/k' }, 'ap-northeast-1'),
    ).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(
      call('kms', 'ScheduleKeyDeletion', { KeyId: key.KeyId, PendingWindowInDays: 3 }),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    const scheduled = await call('kms', 'ScheduleKeyDeletion', {
      KeyId: key.KeyId,
      PendingWindowInDays: 7,
    });
    expect(scheduled).toMatchObject({ KeyId: key.Arn, KeyState: 'PendingDeletion' });
    expect(scheduled.DeletionDate.getTime() - cloud.now()).toBe(7 * 86_400_000);
    await expect(call('kms', 'EnableKey', { KeyId: key.KeyId })).rejects.toMatchObject({
      name: 'KMSInvalidStateException',
    });
    await call('kms', 'CancelKeyDeletion', { KeyId: key.KeyId });
    expect((await call('kms', 'DescribeKey', { KeyId: key.Arn })).KeyMetadata.KeyState).toBe(
      'Disabled',
    );
    await expect(call('kms', 'EnableKeyRotation', { KeyId: key.KeyId })).rejects.toMatchObject({
      name: 'KMSInvalidStateException',
    });
  });

  it('keeps a deleted secret name taken during its recovery window', async () => {
    const { call } = virtual();
    const { ARN } = await call('secretsmanager', 'CreateSecret', {
      Name: 'app/token',
      SecretString: 's3cr3t',
    });
    expect(ARN).toMatch(
      /^arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app\/token-[A-Za-z0-9]{6}$/,
    );
    await expect(
      call('secretsmanager', 'CreateSecret', { Name: 'app/token', SecretString: 'x' }),
    ).rejects.toMatchObject({ name: 'ResourceExistsException' });
    await call('secretsmanager', 'DeleteSecret', { SecretId: 'app/token' });
    expect(
      (await call('secretsmanager', 'DescribeSecret', { SecretId: ARN })).DeletedDate,
    ).toBeInstanceOf(Date);
    await expect(call('secretsmanager', 'GetSecretValue', { SecretId: ARN })).rejects.toMatchObject(
      { name: 'InvalidRequestException' },
    );
    await expect(
      call('secretsmanager', 'CreateSecret', { Name: 'app/token', SecretString: 'x' }),
    ).rejects.toMatchObject({
      name: 'InvalidRequestException',
      message: expect.stringContaining('scheduled for deletion'),
    });
    await call('secretsmanager', 'RestoreSecret', { SecretId: ARN });
    expect(
      (await call('secretsmanager', 'GetSecretValue', { SecretId: 'app/token' })).SecretString,
    ).toBe('s3cr3t');
    await call('secretsmanager', 'DeleteSecret', {
      SecretId: ARN,
      ForceDeleteWithoutRecovery: true,
    });
    await expect(call('secretsmanager', 'DescribeSecret', { SecretId: ARN })).rejects.toMatchObject(
      { name: 'ResourceNotFoundException' },
    );
  });

  it('generates random passwords as asked', async () => {
    const { call } = virtual();
    const { RandomPassword } = await call('secretsmanager', 'GetRandomPassword', {
      PasswordLength: 64,
      ExcludePunctuation: true,
      IncludeSpace: false,
      RequireEachIncludedType: true,
    });
    expect(RandomPassword).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(RandomPassword).toMatch(/[A-Z]/);
    expect(RandomPassword).toMatch(/[a-z]/);
    expect(RandomPassword).toMatch(/[0-9]/);
  });

  it('stores parameters, refuses tags with overwrite, and serves the public AMI parameters', async () => {
    const { call } = virtual();
    await call('ssm', 'PutParameter', {
      Name: '/c/a',
      Value: '1',
      Type: 'String',
      Tags: [{ Key: 'Name', Value: 'a' }],
    });
    await expect(
      call('ssm', 'PutParameter', { Name: '/c/a', Value: '2', Type: 'String' }),
    ).rejects.toMatchObject({ name: 'ParameterAlreadyExists' });
    await expect(
      call('ssm', 'PutParameter', {
        Name: '/c/a',
        Value: '2',
        Overwrite: true,
        Tags: [{ Key: 'x', Value: 'y' }],
      }),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    expect(
      await call('ssm', 'PutParameter', { Name: '/c/a', Value: '2', Overwrite: true }),
    ).toMatchObject({ Version: 2 });
    // A standard parameter holds at most 4 KB (PutParameter, Value).
    await expect(
      call('ssm', 'PutParameter', { Name: '/c/big', Value: 'x'.repeat(4097), Type: 'String' }),
    ).rejects.toMatchObject({ name: 'ValidationException', message: /4096 characters/ });
    await call('ssm', 'PutParameter', { Name: '/c/big', Value: 'x'.repeat(4096), Type: 'String' });
    await call('ssm', 'DeleteParameter', { Name: '/c/big' });
    expect(await call('ssm', 'GetParameters', { Names: ['/c/a', '/c/b'] })).toMatchObject({
      Parameters: [{ Name: '/c/a', Value: '2', Type: 'String' }],
      InvalidParameters: ['/c/b'],
    });
    const ami = (
      await call('ssm', 'GetParameter', {
        Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      })
    ).Parameter.Value;
    expect(ami).toMatch(/^ami-0[0-9a-f]{16}$/);
    expect(await call('ssm', 'DeleteParameters', { Names: ['/c/a', '/c/b'] })).toEqual(
      expect.objectContaining({ DeletedParameters: ['/c/a'], InvalidParameters: ['/c/b'] }),
    );
    await expect(call('ssm', 'DeleteParameter', { Name: '/c/a' })).rejects.toMatchObject({
      name: 'ParameterNotFound',
    });
  });
});

describe('Logs, SNS, CloudWatch, tagging', () => {
  it('accepts a KMS key for a log group only when its policy lets CloudWatch Logs use it', async () => {
    const { call } = virtual();
    const plain = (await call('kms', 'CreateKey', {})).KeyMetadata.Arn;
    await expect(
      call('logs', 'CreateLogGroup', { logGroupName: '/a', kmsKeyId: plain }),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: `logs.${R}.amazonaws.com` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });
    const key = (await call('kms', 'CreateKey', { Policy: policy })).KeyMetadata.Arn;
    await call('logs', 'CreateLogGroup', { logGroupName: '/a', kmsKeyId: key, tags: { k: 'v' } });
    await expect(call('logs', 'CreateLogGroup', { logGroupName: '/a' })).rejects.toMatchObject({
      name: 'ResourceAlreadyExistsException',
    });
    await expect(
      call('logs', 'PutRetentionPolicy', { logGroupName: '/a', retentionInDays: 2 }),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await call('logs', 'PutRetentionPolicy', { logGroupName: '/a', retentionInDays: 7 });
    const g = (await call('logs', 'DescribeLogGroups', { logGroupIdentifiers: ['/a', 'nope'] }))
      .logGroups;
    expect(g).toMatchObject([
      {
        logGroupName: '/a',
        retentionInDays: 7,
        kmsKeyId: key,
        arn: `arn:aws:logs:${R}:123456789012:log-group:/a:*`,
        logGroupArn: `arn:aws:logs:${R}:123456789012:log-group:/a`,
      },
    ]);
    expect(
      (await call('logs', 'ListTagsForResource', { resourceArn: g[0].logGroupArn })).tags,
    ).toEqual({ k: 'v' });
    await call('logs', 'DeleteLogGroup', { logGroupName: '/a' });
    await expect(call('logs', 'DeleteLogGroup', { logGroupName: '/a' })).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('leaves email subscriptions pending until confirmed, and deletes topics idempotently', async () => {
    const { cloud, call } = virtual();
    const { TopicArn } = await call('sns', 'CreateTopic', {
      Name: 't',
      Attributes: { DisplayName: 'x' },
    });
    await expect(
      call('sns', 'CreateTopic', { Name: 't', Attributes: { DisplayName: 'y' } }),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(
      (await call('sns', 'Subscribe', { TopicArn, Protocol: 'email', Endpoint: 'a@b.c' }))
        .SubscriptionArn,
    ).toBe('pending confirmation');
    const subs = async () =>
      (await call('sns', 'ListSubscriptionsByTopic', { TopicArn })).Subscriptions.map(
        (s: any) => s.SubscriptionArn,
      );
    expect(await subs()).toEqual(['PendingConfirmation']);
    expect(cloud.confirmSubscriptions()).toBe(1);
    expect((await subs())[0]).toMatch(new RegExp(`^${TopicArn}:`));
    await call('sns', 'DeleteTopic', { TopicArn });
    await call('sns', 'DeleteTopic', { TopicArn });
    await expect(call('sns', 'GetTopicAttributes', { TopicArn })).rejects.toMatchObject({
      name: 'NotFoundException',
    });
  });

  it('keeps a new account in the SMS sandbox of each region, listing the numbers verified there', async () => {
    const { cloud, call } = virtual();
    expect(await call('sns', 'GetSMSSandboxAccountStatus', {}, E)).toMatchObject({
      IsInSandbox: true,
    });
    expect((await call('sns', 'ListSMSSandboxPhoneNumbers', {}, E)).PhoneNumbers).toEqual([]);
    cloud.world.regionSettings(E).smsSandboxNumbers = [
      { PhoneNumber: '+15555550100', Status: 'Verified' },
    ];
    cloud.world.regionSettings('ap-northeast-1').smsSandbox = false;
    expect((await call('sns', 'ListSMSSandboxPhoneNumbers', {}, E)).PhoneNumbers).toEqual([
      { PhoneNumber: '+15555550100', Status: 'Verified' },
    ]);
    expect(await call('sns', 'GetSMSSandboxAccountStatus', {}, 'ap-northeast-1')).toMatchObject({
      IsInSandbox: false,
    });
    expect(await call('sns', 'GetSMSSandboxAccountStatus', {}, E)).toMatchObject({
      IsInSandbox: true,
    });
  });

  it('deletes no alarm when one of the names is unknown', async () => {
    const { call } = virtual();
    const alarm = {
      AlarmName: 'a',
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      Statistic: 'Average',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 80,
      ComparisonOperator: 'GreaterThanThreshold',
      Tags: [{ Key: 'Name', Value: 'a' }],
    };
    await call('cloudwatch', 'PutMetricAlarm', alarm);
    await expect(
      call('cloudwatch', 'DeleteAlarms', { AlarmNames: ['a', 'b'] }),
    ).rejects.toMatchObject({ name: 'ResourceNotFound' });
    expect(
      (await call('cloudwatch', 'DescribeAlarms', { AlarmNames: ['a'] })).MetricAlarms,
    ).toMatchObject([{ AlarmName: 'a', StateValue: 'INSUFFICIENT_DATA', Threshold: 80 }]);
    await call('cloudwatch', 'DeleteAlarms', { AlarmNames: ['a'] });
    await expect(call('cloudwatch', 'GetDashboard', { DashboardName: 'd' })).rejects.toMatchObject({
      name: 'ResourceNotFound',
    });
    await expect(
      call('cloudwatch', 'PutDashboard', { DashboardName: 'd', DashboardBody: '{}' }),
    ).rejects.toMatchObject({ name: 'InvalidParameterInput' });
  });

  it('refuses a dashboard body CloudWatch refuses, and takes the one cloudmart writes', async () => {
    const { call } = virtual();
    const metric = (metrics: unknown[], extra: Record<string, unknown> = {}) => ({
      type: 'metric',
      x: 0,
      y: 0,
      width: 12,
      height: 6,
      properties: { title: 't', region: R, metrics, ...extra },
    });
    const put = (widgets: unknown[]) =>
      call('cloudwatch', 'PutDashboard', {
        DashboardName: 'd',
        DashboardBody: JSON.stringify({ widgets }),
      });
    const search =
      "SEARCH('{CWAgent,AutoScalingGroupName,InstanceId} MetricName=\"mem_used_percent\"', 'Average', 300)";
    const refused = async (widgets: unknown[], message: string) => {
      const e = (await put(widgets).catch((x: unknown) => x)) as Error;
      expect(e.name).toBe('InvalidParameterInput');
      expect(e.message).toContain(message);
    };
    // A math expression shares its row with nothing, and has an id; a SEARCH also a label.
    await refused(
      [metric([['AWS/EC2', 'CPUUtilization', { expression: 'm1 * 2', id: 'e1' }]])],
      '"dataPath":"/widgets/0/properties/metrics/0","message":"Should NOT have more than 1 items"',
    );
    await refused(
      [metric([[{ expression: 'm1 * 2', label: 'x' }]])],
      '"message":"Should have required property \'id\'"',
    );
    await refused(
      [metric([[{ expression: search, id: 'mem' }]])],
      '"message":"Should have required property \'label\'"',
    );
    await refused(
      [metric([[{ expression: search, id: 'Mem', label: '' }]])],
      'Should match pattern',
    );
    await refused(
      [
        metric([
          ['AWS/EC2', 'CPUUtilization', 'AutoScalingGroupName', 'g', { id: 'a' }],
          [{ expression: 'a * 2', id: 'a', label: 'x' }],
        ]),
      ],
      'Duplicate id \\"a\\"',
    );
    await refused(
      [metric([['AWS/EC2', 'CPUUtilization', 'AutoScalingGroupName']])],
      'needs its value',
    );
    await refused([metric([['AWS/EC2']])], 'Should NOT have fewer than 2 items');
    await refused(
      [{ type: 'metric', x: 0, y: 0, width: 6, height: 6, properties: { metrics: [] } }],
      "Should have required property 'region'",
    );
    await refused([{ ...metric([]), width: 25 }], '"/widgets/0/width","message":"Should be <= 24"');
    await refused([{ type: 'alarm', properties: {} }], "Should have required property 'alarms'");

    // What cloudmart writes: metric rows, an IF() over two ids, a SEARCH with its id and label.
    await expect(
      put([
        metric([
          ['CloudMart', 'ErrorCount', { id: 'errors', stat: 'Sum', visible: false }],
          ['.', 'RequestCount', { id: 'requests', stat: 'Sum', visible: false }],
          [{ id: 'rate', expression: 'IF(requests > 0, 100 * errors / requests, 0)', label: 'r' }],
        ]),
        metric([
          [{ id: 'memPerInstance', expression: search, label: "${PROP('Dim.InstanceId')}" }],
          ['CWAgent', 'mem_used_percent', 'AutoScalingGroupName', 'g', { stat: 'Average' }],
        ]),
      ]),
    ).resolves.toMatchObject({ DashboardValidationMessages: [] });
  });

  it('draws GetMetricWidgetImage as a PNG of the requested size, with the request shaped as the CloudWatch model says', async () => {
    // AWS's own model of the operation (../shared/aws-models, never copied into the project).
    const model = JSON.parse(
      readFileSync(join(process.cwd(), '../shared/aws-models/cloudwatch/service-2.json'), 'utf8'),
    );
    const shapes = model.shapes;
    expect(shapes.GetMetricWidgetImageInput.required).toEqual(['MetricWidget']);
    expect(Object.keys(shapes.GetMetricWidgetImageInput.members).sort()).toEqual([
      'MetricWidget',
      'OutputFormat',
    ]);
    const out = shapes.GetMetricWidgetImageOutput.members.MetricWidgetImage.shape;
    expect(shapes[out].type).toBe('blob');

    const { call } = virtual();
    const widget = {
      metrics: [['AWS/EC2', 'CPUUtilization', 'AutoScalingGroupName', 'g']],
      annotations: { horizontal: [{ value: 80, label: 'threshold' }] },
      width: 320,
      height: 200,
    };
    const { MetricWidgetImage: png } = await call('cloudwatch', 'GetMetricWidgetImage', {
      MetricWidget: JSON.stringify(widget),
      OutputFormat: 'png',
    });
    expect(png).toBeInstanceOf(Uint8Array);
    const b = Buffer.from(png);
    expect(b.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]));
    expect([b.readUInt32BE(16), b.readUInt32BE(20)]).toEqual([320, 200]);
    const bad = (w: unknown) =>
      expect(
        call('cloudwatch', 'GetMetricWidgetImage', { MetricWidget: JSON.stringify(w) }),
      ).rejects.toMatchObject({ name: 'InvalidParameterInput' });
    await bad({ metrics: [] });
    await bad({ title: 'no metrics' });
    await bad({ ...widget, width: 2001 });
    await expect(
      call('cloudwatch', 'GetMetricWidgetImage', { MetricWidget: '{not json' }),
    ).rejects.toMatchObject({ name: 'InvalidParameterInput' });
  });

  it('draws the math and SEARCH expressions the MetricWidget page allows, and refuses malformed rows and another Region', async () => {
    const { call } = virtual();
    const draw = (w: Record<string, unknown>) =>
      call('cloudwatch', 'GetMetricWidgetImage', {
        MetricWidget: JSON.stringify({ width: 320, height: 200, ...w }),
        OutputFormat: 'png',
      });
    const search =
      'SEARCH(\'{CWAgent,AutoScalingGroupName,InstanceId,cpu} MetricName="cpu_usage_active" AutoScalingGroupName="g" cpu="cpu-total"\', \'Average\', 300)';
    // A dashboard's widget as the report sends it: the SEARCH row alone, with its id and label.
    await expect(
      draw({
        region: R,
        view: 'timeSeries',
        metrics: [
          [{ id: 'cpuPerInstance', expression: search, label: "${PROP('Dim.InstanceId')}" }],
        ],
      }),
    ).resolves.toMatchObject({ MetricWidgetImage: expect.any(Uint8Array) });
    // The page's own example: an expression with no id, over two metrics with ids.
    await expect(
      draw({
        metrics: [
          ['MyNamespace', 'apiLatency', 'InstanceId', 'i-1', { id: 'm1', stat: 'p50' }],
          ['.', '.', '.', '.', { id: 'm2', stat: 'Average' }],
          [{ expression: '(m1+m2)/2', id: 'e1', label: 'half way' }],
          [{ expression: 'RATE(e1)', label: 'rate' }],
        ],
      }),
    ).resolves.toMatchObject({ MetricWidgetImage: expect.any(Uint8Array) });

    const refused = async (w: Record<string, unknown>, message: string) => {
      const e = (await draw(w).catch((x: unknown) => x)) as Error;
      expect(e.name).toBe('InvalidParameterInput');
      expect(e.message).toContain(message);
    };
    await refused(
      { metrics: [['CWAgent', 'cpu_usage_active', { expression: search, id: 'e1' }]] },
      '"dataPath":"/metrics/0","message":"Should NOT have more than 1 items"',
    );
    await refused({ metrics: [[{ expression: search, id: 'Cpu' }]] }, 'Should match pattern');
    await refused({ metrics: [['AWS/EC2', 'CPUUtilization', 'InstanceId']] }, 'needs its value');
    // "region: … If you include it, it must specify the local Region."
    await refused(
      { region: 'us-east-1', metrics: [['AWS/EC2', 'CPUUtilization']] },
      'must be the local Region',
    );
  });

  it('lists tagged resources by tag, type and page, and deleted NAT gateways for a while', async () => {
    const { cloud, call } = virtual();
    const stack = [{ Key: 'cloudmart:stack', Value: 's' }];
    const vpc = (
      await call('ec2', 'CreateVpc', {
        CidrBlock: '10.0.0.0/16',
        TagSpecifications: [{ ResourceType: 'vpc', Tags: stack }],
      })
    ).Vpc.VpcId;
    await call('kms', 'CreateKey', { Tags: [{ TagKey: 'cloudmart:stack', TagValue: 's' }] });
    await call('kms', 'CreateKey', { Tags: [{ TagKey: 'cloudmart:stack', TagValue: 'other' }] });
    await call('sns', 'CreateTopic', { Name: 't', Tags: stack });
    const igw = (await call('ec2', 'CreateInternetGateway')).InternetGateway.InternetGatewayId;
    await call('ec2', 'AttachInternetGateway', { InternetGatewayId: igw, VpcId: vpc });
    const subnet = (
      await call('ec2', 'CreateSubnet', {
        VpcId: vpc,
        CidrBlock: '10.0.1.0/24',
        AvailabilityZone: `${R}a`,
      })
    ).Subnet.SubnetId;
    const eip = (await call('ec2', 'AllocateAddress', {})).AllocationId;
    const nat = (
      await call('ec2', 'CreateNatGateway', {
        SubnetId: subnet,
        AllocationId: eip,
        TagSpecifications: [{ ResourceType: 'natgateway', Tags: stack }],
      })
    ).NatGateway.NatGatewayId;
    // Every page (the fake pages like AWS: a first page alone is not the whole list).
    const get = async (input: any) => {
      const arns: string[] = [];
      let token: string | undefined;
      do {
        const out = await call('tagging', 'GetResources', { ...input, PaginationToken: token });
        arns.push(...out.ResourceTagMappingList.map((r: any) => r.ResourceARN));
        token = out.PaginationToken || undefined;
      } while (token);
      return arns.map(
        (arn) => arn.split(':')[2] + ':' + String(arn.split(':').pop()).split('/')[0],
      );
    };
    expect((await get({ TagFilters: [{ Key: 'cloudmart:stack', Values: ['s'] }] })).sort()).toEqual(
      ['ec2:natgateway', 'ec2:vpc', 'kms:key', 'sns:t'].sort(),
    );
    expect(
      await get({ TagFilters: [{ Key: 'cloudmart:stack' }], ResourceTypeFilters: ['kms:key'] }),
    ).toEqual(['kms:key', 'kms:key']);
    const page1 = await call('tagging', 'GetResources', {
      TagFilters: [{ Key: 'cloudmart:stack' }],
      ResourcesPerPage: 2,
    });
    expect(page1.ResourceTagMappingList).toHaveLength(2);
    const page2 = await call('tagging', 'GetResources', {
      TagFilters: [{ Key: 'cloudmart:stack' }],
      ResourcesPerPage: 2,
      PaginationToken: page1.PaginationToken,
    });
    expect(page2.ResourceTagMappingList).toHaveLength(2);
    const page3 = await call('tagging', 'GetResources', {
      TagFilters: [{ Key: 'cloudmart:stack' }],
      ResourcesPerPage: 2,
      PaginationToken: page2.PaginationToken,
    });
    expect(page3.ResourceTagMappingList).toHaveLength(1);
    expect(page3.PaginationToken).toBe('');
    await call('ec2', 'DeleteNatGateway', { NatGatewayId: nat });
    cloud.advance(L.natDelete);
    expect(
      await get({
        TagFilters: [{ Key: 'cloudmart:stack', Values: ['s'] }],
        ResourceTypeFilters: ['ec2:natgateway'],
      }),
    ).toEqual(['ec2:natgateway']);
    expect(cloud.leftovers('s').map((l) => l.type)).not.toContain('ec2:natgateway');
  });
});

describe('CloudTrail and AWS Backup', () => {
  it('creates a trail only with the bucket policy CloudTrail needs, and writes log files into the bucket', async () => {
    const { call } = virtual();
    await call('s3', 'CreateBucket', {
      Bucket: 'audit',
      CreateBucketConfiguration: { LocationConstraint: R },
    });
    const trail = {
      Name: 'T',
      S3BucketName: 'audit',
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
    };
    await expect(
      call('cloudtrail', 'CreateTrail', { ...trail, S3BucketName: 'nope' }),
    ).rejects.toMatchObject({ name: 'S3BucketDoesNotExistException' });
    await expect(call('cloudtrail', 'CreateTrail', trail)).rejects.toMatchObject({
      name: 'InsufficientS3BucketPolicyException',
    });
    const arn = `arn:aws:cloudtrail:${R}:123456789012:trail/T`;
    await call('s3', 'PutBucketPolicy', {
      Bucket: 'audit',
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: ['s3:GetBucketAcl', 's3:PutObject'].map((Action) => ({
          Effect: 'Allow',
          Principal: { Service: 'cloudtrail.amazonaws.com' },
          Action,
          Resource: 'arn:aws:s3:::audit/*',
          Condition: { StringEquals: { 'aws:SourceArn': arn } },
        })),
      }),
    });
    const created = await call('cloudtrail', 'CreateTrail', trail);
    expect(created).toMatchObject({
      TrailARN: arn,
      IsMultiRegionTrail: true,
      LogFileValidationEnabled: true,
    });
    // CreateTrailResponse has no HomeRegion nor selector flags (DescribeTrails has).
    expect(Object.keys(created)).not.toContain('HomeRegion');
    expect(Object.keys(created)).not.toContain('HasCustomEventSelectors');
    expect(
      (await call('cloudtrail', 'GetEventSelectors', { TrailName: 'T' })).EventSelectors,
    ).toEqual([
      {
        ReadWriteType: 'All',
        IncludeManagementEvents: true,
        DataResources: [],
        ExcludeManagementEventSources: [],
      },
    ]);
    await expect(
      call('cloudtrail', 'PutEventSelectors', {
        TrailName: 'T',
        EventSelectors: [{ DataResources: [{ Type: 'AWS::S3::Object', Values: ['audit'] }] }],
      }),
    ).rejects.toMatchObject({ name: 'InvalidEventSelectorsException' });
    // A multi-region trail answers in every region, but changes only in its home region.
    expect((await call('cloudtrail', 'GetTrail', { Name: 'T' }, E)).Trail.HomeRegion).toBe(R);
    await expect(call('cloudtrail', 'StartLogging', { Name: 'T' }, E)).rejects.toMatchObject({
      name: 'InvalidHomeRegionException',
    });
    await call('cloudtrail', 'StartLogging', { Name: 'T' });
    expect((await call('cloudtrail', 'GetTrailStatus', { Name: 'T' })).IsLogging).toBe(true);
    const keys = (await call('s3', 'ListObjectVersions', { Bucket: 'audit' })).Versions.map(
      (v: any) => v.Key,
    );
    expect(keys.some((k: string) => k.startsWith('AWSLogs/123456789012/CloudTrail/'))).toBe(true);
    expect(keys.some((k: string) => k.startsWith('AWSLogs/123456789012/CloudTrail-Digest/'))).toBe(
      true,
    );
    await call('cloudtrail', 'DeleteTrail', { Name: 'T' });
    await expect(call('cloudtrail', 'StopLogging', { Name: 'T' })).rejects.toMatchObject({
      name: 'TrailNotFoundException',
    });
  });

  it('keeps the time zone a backup rule is given, and puts a rule without one in UTC', async () => {
    const { call } = virtual();
    await call('backup', 'CreateBackupVault', { BackupVaultName: 'v' });
    const rule = (RuleName: string, zone?: string) => ({
      RuleName,
      TargetBackupVaultName: 'v',
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ...(zone ? { ScheduleExpressionTimezone: zone } : {}),
    });
    const { BackupPlanId } = await call('backup', 'CreateBackupPlan', {
      BackupPlan: { BackupPlanName: 'p', Rules: [rule('seoul', 'Asia/Seoul'), rule('plain')] },
    });
    const { BackupPlan } = await call('backup', 'GetBackupPlan', { BackupPlanId });
    expect(
      BackupPlan.Rules.map((r: any) => `${r.RuleName} ${r.ScheduleExpressionTimezone}`),
    ).toEqual(['seoul Asia/Seoul', 'plain Etc/UTC']);
  });

  it('deletes a plan only without selections and a vault only without recovery points', async () => {
    const { cloud, call } = virtual();
    await call('iam', 'CreateRole', {
      RoleName: 'backup',
      AssumeRolePolicyDocument: trust('backup.amazonaws.com'),
    });
    await call('backup', 'CreateBackupVault', {
      BackupVaultName: 'v',
      BackupVaultTags: { Name: 'v' },
    });
    const plan = await call('backup', 'CreateBackupPlan', {
      BackupPlan: {
        BackupPlanName: 'p',
        Rules: [
          {
            RuleName: 'daily',
            TargetBackupVaultName: 'v',
            ScheduleExpression: 'cron(0 2 * * ? *)',
            Lifecycle: { DeleteAfterDays: 7 },
          },
        ],
      },
      CreatorRequestId: 'r1',
    });
    expect(
      (
        await call('backup', 'CreateBackupPlan', {
          BackupPlan: {
            BackupPlanName: 'p',
            Rules: [
              {
                RuleName: 'daily',
                TargetBackupVaultName: 'v',
                ScheduleExpression: 'cron(0 2 * * ? *)',
                Lifecycle: { DeleteAfterDays: 7 },
              },
            ],
          },
          CreatorRequestId: 'r1',
        })
      ).BackupPlanId,
    ).toBe(plan.BackupPlanId);
    const selection = {
      SelectionName: 's',
      IamRoleArn: 'arn:aws:iam::123456789012:role/backup',
      Resources: ['*'],
    };
    await expect(
      call('backup', 'CreateBackupSelection', {
        BackupPlanId: plan.BackupPlanId,
        BackupSelection: selection,
      }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    cloud.advance(L.iamPropagation);
    const { SelectionId } = await call('backup', 'CreateBackupSelection', {
      BackupPlanId: plan.BackupPlanId,
      BackupSelection: selection,
    });
    await expect(
      call('backup', 'DeleteBackupPlan', { BackupPlanId: plan.BackupPlanId }),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await call('backup', 'DeleteBackupSelection', { BackupPlanId: plan.BackupPlanId, SelectionId });
    await call('backup', 'DeleteBackupPlan', { BackupPlanId: plan.BackupPlanId });
    expect((await call('backup', 'ListBackupPlans')).BackupPlansList).toEqual([]);
    expect(
      (await call('backup', 'ListBackupPlans', { IncludeDeleted: true })).BackupPlansList[0]
        .DeletionDate,
    ).toBeInstanceOf(Date);
    const point = cloud.addRecoveryPoint(R, 'v', `arn:aws:ec2:${R}:123456789012:volume/vol-1`);
    await expect(
      call('backup', 'DeleteBackupVault', { BackupVaultName: 'v' }),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    await call('backup', 'DeleteRecoveryPoint', { BackupVaultName: 'v', RecoveryPointArn: point });
    cloud.advance(L.quick);
    await call('backup', 'DeleteBackupVault', { BackupVaultName: 'v' });
  });
});
