import {
  CloudFrontClient,
  CreateDistributionWithTagsCommand,
  CreateOriginAccessControlCommand,
  DeleteDistributionCommand,
  DeleteOriginAccessControlCommand,
  GetDistributionCommand,
  GetOriginAccessControlCommand,
  UpdateOriginAccessControlCommand,
  ListDistributionsCommand,
  ListOriginAccessControlsCommand,
  UpdateDistributionCommand,
  type DistributionConfig,
} from '@aws-sdk/client-cloudfront';
import {
  GetBucketPolicyCommand,
  HeadBucketCommand,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Outputs } from '../../../src/engine/step.js';
import {
  type CdnInputs,
  covers,
  desiredConfig,
  distributionStep,
} from '../../../src/steps/phase1-foundation/distribution.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, testConfig, testContext } from '../../helpers/context.js';
import { looseMock, mutating, type LooseStub } from './edge-test-utils.js';

const BUCKET = 'cloudmart-frontend-123456789012-ap-northeast-2';
const BUCKET_DOMAIN = `${BUCKET}.s3.ap-northeast-2.amazonaws.com`;
const WAF_ARN = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/cloudmart-web-acl/acl-1';
const DIST_ARN = 'arn:aws:cloudfront::123456789012:distribution/E1';
const ALB_DNS = 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com';
const EDGE_CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/edge';
const HTTPS_DENY = {
  Sid: 'DenyInsecureTransport',
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
};
const CLOUDFRONT_READ = {
  Sid: 'AllowCloudFrontServicePrincipalRead',
  Effect: 'Allow',
  Principal: { Service: 'cloudfront.amazonaws.com' },
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${BUCKET}/*`,
  Condition: { StringEquals: { 'AWS:SourceArn': DIST_ARN } },
};
const OAC = {
  Id: 'oac-1',
  Name: 'cloudmart-oac',
  Description: 'x',
  SigningProtocol: 'sigv4',
  SigningBehavior: 'always',
  OriginAccessControlOriginType: 's3',
};

function needs(domain = false): Record<string, Outputs> {
  return {
    [STEP.frontendBucket]: {
      bucketName: BUCKET,
      bucketArn: `arn:aws:s3:::${BUCKET}`,
      regionalDomainName: BUCKET_DOMAIN,
    },
    [STEP.waf]: { webAclArn: WAF_ARN, webAclId: 'acl-1', webAclName: 'cloudmart-web-acl' },
    [STEP.alb]: {
      loadBalancerArn: 'arn:alb',
      loadBalancerDimension: 'app/cloudmart-alb/1',
      dnsName: ALB_DNS,
      canonicalHostedZoneId: 'ZWKZPGTI48KDX',
      targetGroupArn: 'arn:tg',
      targetGroupDimension: 'targetgroup/tg/1',
      listenerArns: [],
      httpsEnabled: domain,
    },
    ...(domain
      ? {
          [STEP.certificates]: {
            hostedZoneId: 'Z1',
            domain: 'shop.example.com',
            regionalCertificateArn: 'arn:aws:acm:ap-northeast-2:123456789012:certificate/r',
            edgeCertificateArn: EDGE_CERT,
          },
        }
      : {}),
  };
}

function inputs(domain = false): CdnInputs {
  const n = needs(domain);
  return {
    bucket: n[STEP.frontendBucket] as CdnInputs['bucket'],
    waf: n[STEP.waf] as CdnInputs['waf'],
    alb: n[STEP.alb] as CdnInputs['alb'],
    certs: n[STEP.certificates] as CdnInputs['certs'],
  };
}

/** What GetDistribution returns for a config: every optional field filled, methods reordered. */
function live(config: Omit<DistributionConfig, 'CallerReference'>): DistributionConfig {
  const c = structuredClone(config) as DistributionConfig;
  c.CallerReference = 'cloudmart-cloudmart-oac-1';
  c.Logging = { Enabled: false, IncludeCookies: false, Bucket: '', Prefix: '' };
  c.CustomErrorResponses = { Quantity: 0 };
  c.OriginGroups = { Quantity: 0 };
  c.Staging = false;
  for (const o of c.Origins!.Items!) {
    o.ConnectionAttempts = 3;
    o.ConnectionTimeout = 10;
    o.OriginShield = { Enabled: false };
  }
  c.DefaultCacheBehavior!.SmoothStreaming = false;
  c.DefaultCacheBehavior!.FieldLevelEncryptionId = '';
  c.DefaultCacheBehavior!.LambdaFunctionAssociations = { Quantity: 0 };
  const api = c.CacheBehaviors!.Items![0]!;
  api.AllowedMethods!.Items = ['HEAD', 'DELETE', 'POST', 'GET', 'OPTIONS', 'PUT', 'PATCH'];
  api.FieldLevelEncryptionId = '';
  c.ViewerCertificate = {
    ...c.ViewerCertificate,
    ...(c.ViewerCertificate?.CloudFrontDefaultCertificate
      ? {
          SSLSupportMethod: 'vip',
          MinimumProtocolVersion: 'TLSv1',
          CertificateSource: 'cloudfront',
        }
      : {}),
  };
  return c;
}

function distribution(config: DistributionConfig, status = 'Deployed') {
  return {
    Id: 'E1',
    ARN: DIST_ARN,
    Status: status,
    DomainName: 'd111.cloudfront.net',
    DistributionConfig: config,
  };
}

describe('edge.cdn', () => {
  let cf: LooseStub;
  let s3: LooseStub;
  beforeEach(() => {
    cf = looseMock(CloudFrontClient);
    s3 = looseMock(S3Client);
  });
  const ctx = (
    options: { domain?: boolean; previous?: Outputs; outputs?: Record<string, Outputs> } = {},
  ) =>
    testContext({
      stepId: distributionStep.id,
      config: options.domain
        ? testConfig({ dns: { domain: 'shop.example.com', hostedZoneId: 'Z1' } })
        : testConfig(),
      outputs: options.outputs ?? needs(options.domain),
      ...(options.previous ? { previous: options.previous } : {}),
    });

  it('creates the OAC and the distribution tagged at creation, grants it read, and waits until Deployed', async () => {
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [] } });
    cf.on(CreateOriginAccessControlCommand).resolves({ OriginAccessControl: { Id: 'oac-1' } });
    cf.on(ListDistributionsCommand).resolves({ DistributionList: { Items: [] } });
    cf.on(CreateDistributionWithTagsCommand).resolves({
      Distribution: { Id: 'E1', ARN: DIST_ARN, Status: 'InProgress' },
      ETag: 'E-1',
    });
    const created = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    cf.on(GetDistributionCommand)
      .resolvesOnce({ Distribution: distribution(created, 'InProgress'), ETag: 'E-1' })
      .resolvesOnce({ Distribution: distribution(created, 'InProgress'), ETag: 'E-1' })
      .resolves({ Distribution: distribution(created), ETag: 'E-1' });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY] }),
    });
    s3.on(PutBucketPolicyCommand).resolves({});
    const c = ctx();

    const out = await distributionStep.create(c);

    expect(out).toEqual({
      distributionId: 'E1',
      distributionArn: DIST_ARN,
      domainName: 'd111.cloudfront.net',
      originAccessControlId: 'oac-1',
    });
    expect(cf.commandCalls(CreateOriginAccessControlCommand)[0]!.args[0].input).toEqual({
      OriginAccessControlConfig: {
        Name: 'cloudmart-oac',
        Description: expect.any(String),
        SigningProtocol: 'sigv4',
        SigningBehavior: 'always',
        OriginAccessControlOriginType: 's3',
      },
    });
    const input = cf.commandCalls(CreateDistributionWithTagsCommand)[0]!.args[0].input;
    expect(input.DistributionConfigWithTags!.Tags!.Items).toEqual(
      expect.arrayContaining([
        { Key: 'Name', Value: 'cloudmart-cdn' },
        { Key: 'cloudmart:stack', Value: 'cloudmart' },
        { Key: 'cloudmart:step', Value: 'edge.cdn' },
      ]),
    );
    expect(input.DistributionConfigWithTags!.DistributionConfig).toEqual({
      CallerReference: 'cloudmart-cloudmart-oac-1',
      Comment: 'cloudmart:cloudmart',
      Enabled: true,
      DefaultRootObject: 'index.html',
      PriceClass: 'PriceClass_200',
      HttpVersion: 'http2and3',
      IsIPV6Enabled: true,
      WebACLId: WAF_ARN,
      Aliases: { Quantity: 0 },
      Origins: {
        Quantity: 2,
        Items: [
          {
            Id: 'frontend-s3',
            DomainName: BUCKET_DOMAIN,
            OriginPath: '',
            CustomHeaders: { Quantity: 0 },
            S3OriginConfig: { OriginAccessIdentity: '' },
            OriginAccessControlId: 'oac-1',
          },
          {
            Id: 'api-alb',
            DomainName: ALB_DNS,
            OriginPath: '',
            CustomHeaders: { Quantity: 0 },
            CustomOriginConfig: {
              HTTPPort: 80,
              HTTPSPort: 443,
              OriginProtocolPolicy: 'http-only',
              OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] },
              OriginReadTimeout: 30,
              OriginKeepaliveTimeout: 5,
            },
          },
        ],
      },
      DefaultCacheBehavior: {
        TargetOriginId: 'frontend-s3',
        ViewerProtocolPolicy: 'redirect-to-https',
        AllowedMethods: {
          Quantity: 2,
          Items: ['GET', 'HEAD'],
          CachedMethods: { Quantity: 2, Items: ['GET', 'HEAD'] },
        },
        Compress: true,
        CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6',
      },
      CacheBehaviors: {
        Quantity: 1,
        Items: [
          {
            PathPattern: '/api/*',
            TargetOriginId: 'api-alb',
            ViewerProtocolPolicy: 'redirect-to-https',
            AllowedMethods: {
              Quantity: 7,
              Items: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'POST', 'PATCH', 'DELETE'],
              CachedMethods: { Quantity: 2, Items: ['GET', 'HEAD'] },
            },
            Compress: true,
            CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
            OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
          },
        ],
      },
      ViewerCertificate: { CloudFrontDefaultCertificate: true },
      Restrictions: { GeoRestriction: { RestrictionType: 'none', Quantity: 0 } },
    });
    // The read grant merges with the frontend step's HTTPS deny.
    const policy = JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy);
    expect(policy.Statement).toEqual([HTTPS_DENY, CLOUDFRONT_READ]);
    expect(c.progressLog.some((l) => /to be Deployed: InProgress/.test(l))).toBe(true);
  });

  it('with a domain: the alias, the us-east-1 certificate (SNI, TLSv1.2_2021) and the ALB over HTTPS by its API name', async () => {
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [OAC] } });
    cf.on(ListDistributionsCommand).resolves({ DistributionList: { Items: [] } });
    cf.on(CreateDistributionWithTagsCommand).resolves({ Distribution: { Id: 'E1' } });
    const cfg = live(
      desiredConfig(
        testConfig({ dns: { domain: 'shop.example.com', hostedZoneId: 'Z1' } }),
        inputs(true),
        'oac-1',
      ),
    );
    cf.on(GetDistributionCommand).resolves({ Distribution: distribution(cfg), ETag: 'E-1' });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });

    await distributionStep.create(ctx({ domain: true }));

    expect(cf.commandCalls(CreateOriginAccessControlCommand)).toHaveLength(0);
    const config = cf.commandCalls(CreateDistributionWithTagsCommand)[0]!.args[0].input
      .DistributionConfigWithTags!.DistributionConfig!;
    expect(config.Aliases).toEqual({ Quantity: 1, Items: ['shop.example.com'] });
    expect(config.ViewerCertificate).toEqual({
      CloudFrontDefaultCertificate: false,
      ACMCertificateArn: EDGE_CERT,
      SSLSupportMethod: 'sni-only',
      MinimumProtocolVersion: 'TLSv1.2_2021',
    });
    expect(config.Origins!.Items![1]).toMatchObject({
      DomainName: 'api.shop.example.com',
      CustomOriginConfig: { OriginProtocolPolicy: 'https-only' },
    });
  });

  it('adopts the deployed distribution and sends no mutating call when nothing drifted', async () => {
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [OAC] } });
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: {
        Items: [
          { Id: 'E0', Comment: 'other' },
          { Id: 'E1', Comment: 'cloudmart:cloudmart' },
        ],
      },
    });
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    cf.on(GetDistributionCommand, { Id: 'E1' }).resolves({
      Distribution: distribution(cfg),
      ETag: 'E-1',
    });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });

    const c = ctx();
    const out = await distributionStep.create(c);

    expect(out.distributionId).toBe('E1');
    expect(mutating(cf)).toEqual([]);
    expect(mutating(s3)).toEqual([]);
    expect(c.slept()).toBe(0);
  });

  it('converges an origin access control whose signing was edited, with its current ETag', async () => {
    cf.on(ListOriginAccessControlsCommand).resolves({
      OriginAccessControlList: { Items: [{ ...OAC, SigningBehavior: 'never' }] },
    });
    cf.on(GetOriginAccessControlCommand).resolves({ ETag: 'O-7' });
    cf.on(UpdateOriginAccessControlCommand).resolves({});
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: { Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart' }] },
    });
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    cf.on(GetDistributionCommand, { Id: 'E1' }).resolves({
      Distribution: distribution(cfg),
      ETag: 'E-1',
    });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });

    await distributionStep.create(ctx());

    expect(cf.commandCalls(UpdateOriginAccessControlCommand).map((x) => x.args[0].input)).toEqual([
      {
        Id: 'oac-1',
        IfMatch: 'O-7',
        OriginAccessControlConfig: expect.objectContaining({ SigningBehavior: 'always' }),
      },
    ]);
  });

  it('re-attaches a detached WAF with UpdateDistribution and the current ETag, then waits', async () => {
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [OAC] } });
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: { Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart' }] },
    });
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    const detached = { ...cfg, WebACLId: '' };
    cf.on(GetDistributionCommand)
      .resolvesOnce({ Distribution: distribution(detached), ETag: 'E-7' })
      .resolvesOnce({ Distribution: distribution(cfg, 'InProgress'), ETag: 'E-8' })
      .resolves({ Distribution: distribution(cfg), ETag: 'E-8' });
    cf.on(UpdateDistributionCommand).resolves({ ETag: 'E-8' });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });

    await distributionStep.create(ctx());

    const update = cf.commandCalls(UpdateDistributionCommand)[0]!.args[0].input;
    expect(update.Id).toBe('E1');
    expect(update.IfMatch).toBe('E-7');
    expect(update.DistributionConfig!.WebACLId).toBe(WAF_ARN);
    // Everything else is carried over, including the original caller reference.
    expect(update.DistributionConfig!.CallerReference).toBe('cloudmart-cloudmart-oac-1');
    expect(update.DistributionConfig!.Logging).toEqual(cfg.Logging);
    expect(cf.commandCalls(CreateDistributionWithTagsCommand)).toHaveLength(0);
    expect(cf.commandCalls(GetDistributionCommand).length).toBeGreaterThanOrEqual(3);
  });

  it('adopts the distribution a crashed run created (DistributionAlreadyExists names it)', async () => {
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [OAC] } });
    cf.on(ListDistributionsCommand).resolves({ DistributionList: { Items: [] } });
    cf.on(CreateDistributionWithTagsCommand).rejects(
      awsError(
        'DistributionAlreadyExists',
        'The caller reference that you are using to create a distribution is associated with another distribution. Already exists: E1',
        409,
      ),
    );
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    cf.on(GetDistributionCommand, { Id: 'E1' }).resolves({
      Distribution: distribution(cfg),
      ETag: 'E-1',
    });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });
    const out = await distributionStep.create(ctx());
    expect(out.distributionId).toBe('E1');
    expect(cf.commandCalls(CreateDistributionWithTagsCommand)).toHaveLength(1);
  });

  it('covers() ignores AWS defaults and method order but sees a changed value', () => {
    const want = desiredConfig(testConfig(), inputs(), 'oac-1');
    expect(covers(live(want), want)).toBe(true);
    expect(covers({ ...live(want), WebACLId: '' }, want)).toBe(false);
    expect(covers({ ...live(want), PriceClass: 'PriceClass_All' }, want)).toBe(false);
  });

  it('verify reports the WAF detached and HTTP allowed', async () => {
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: { Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart' }] },
    });
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    cfg.WebACLId = '';
    cfg.DefaultCacheBehavior!.ViewerProtocolPolicy = 'allow-all';
    cf.on(GetDistributionCommand).resolves({ Distribution: distribution(cfg), ETag: 'E-1' });
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });

    const checks = await distributionStep.verify(ctx());
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['edge.cdn.waf']).toMatchObject({
      status: 'fail',
      criterion: 'security-design',
      evidence: 'no web ACL attached',
    });
    expect(byId['edge.cdn.https']!.status).toBe('fail');
    expect(byId['edge.cdn.oac']!.status).toBe('pass');
    expect(byId['edge.cdn.api']!.status).toBe('pass');
    expect(byId['edge.cdn.deployed']!.status).toBe('pass');
  });

  it('verify fails a disabled distribution and only warns while a change is in progress', async () => {
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: { Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart' }] },
    });
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });
    const deployed = async () =>
      (await distributionStep.verify(ctx())).find((c) => c.id === 'edge.cdn.deployed')!;

    cf.on(GetDistributionCommand).resolves({
      Distribution: distribution({ ...cfg, Enabled: false }),
      ETag: 'E-1',
    });
    expect(await deployed()).toMatchObject({
      status: 'fail',
      evidence: expect.stringContaining('Enabled=false Status=Deployed'),
      fix: 'cloudmart up --phase 1',
    });

    cf.on(GetDistributionCommand).resolves({
      Distribution: distribution(cfg, 'InProgress'),
      ETag: 'E-1',
    });
    expect(await deployed()).toMatchObject({
      status: 'warn',
      evidence: expect.stringContaining('Enabled=true Status=InProgress'),
    });
  });

  it('teardown disables, waits until Deployed, deletes with the new ETag, then the OAC and the grant', async () => {
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: { Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart' }] },
    });
    const cfg = live(desiredConfig(testConfig(), inputs(), 'oac-1'));
    const disabled = { ...cfg, Enabled: false };
    cf.on(GetDistributionCommand)
      .resolvesOnce({ Distribution: distribution(cfg), ETag: 'E-1' })
      .resolvesOnce({ Distribution: distribution(disabled, 'InProgress'), ETag: 'E-2' })
      .resolves({ Distribution: distribution(disabled), ETag: 'E-2' });
    cf.on(UpdateDistributionCommand).resolves({
      Distribution: distribution(disabled, 'InProgress'),
      ETag: 'E-2',
    });
    cf.on(DeleteDistributionCommand).resolves({});
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [OAC] } });
    cf.on(GetOriginAccessControlCommand).resolves({ ETag: 'O-1' });
    cf.on(DeleteOriginAccessControlCommand)
      .rejectsOnce(awsError('OriginAccessControlInUse', 'in use', 409))
      .resolves({});
    s3.on(HeadBucketCommand).resolves({});
    s3.on(GetBucketPolicyCommand).resolves({
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [HTTPS_DENY, CLOUDFRONT_READ] }),
    });
    s3.on(PutBucketPolicyCommand).resolves({});

    await distributionStep.teardown(ctx({ outputs: {} }));

    expect(mutating(cf)).toEqual([
      'UpdateDistributionCommand',
      'DeleteDistributionCommand',
      'DeleteOriginAccessControlCommand',
      'DeleteOriginAccessControlCommand',
    ]);
    const update = cf.commandCalls(UpdateDistributionCommand)[0]!.args[0].input;
    expect(update).toMatchObject({ Id: 'E1', IfMatch: 'E-1' });
    expect(update.DistributionConfig).toEqual({ ...cfg, Enabled: false });
    expect(cf.commandCalls(DeleteDistributionCommand)[0]!.args[0].input).toEqual({
      Id: 'E1',
      IfMatch: 'E-2',
    });
    expect(cf.commandCalls(DeleteOriginAccessControlCommand)[0]!.args[0].input).toEqual({
      Id: 'oac-1',
      IfMatch: 'O-1',
    });
    // The deny stays for the frontend step; only this step's grant goes.
    expect(
      JSON.parse(s3.commandCalls(PutBucketPolicyCommand)[0]!.args[0].input.Policy).Statement,
    ).toEqual([HTTPS_DENY]);
    // Deleted only after the disabled distribution was deployed.
    const order = cf.calls().map((c) => (c.args[0] as object).constructor.name);
    const deployedPoll = order.lastIndexOf('GetDistributionCommand');
    expect(order.indexOf('DeleteDistributionCommand')).toBeGreaterThan(deployedPoll);
  });

  it('teardown retries DistributionNotDisabled until CloudFront catches up', async () => {
    cf.on(ListDistributionsCommand).resolves({
      DistributionList: { Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart' }] },
    });
    const cfg = { ...live(desiredConfig(testConfig(), inputs(), 'oac-1')), Enabled: false };
    cf.on(GetDistributionCommand).resolves({ Distribution: distribution(cfg), ETag: 'E-3' });
    cf.on(DeleteDistributionCommand)
      .rejectsOnce(awsError('DistributionNotDisabled', 'not disabled', 409))
      .resolves({});
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [] } });
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));

    await distributionStep.teardown(ctx({ outputs: {} }));

    expect(cf.commandCalls(UpdateDistributionCommand)).toHaveLength(0);
    expect(cf.commandCalls(DeleteDistributionCommand).map((c) => c.args[0].input)).toEqual([
      { Id: 'E1', IfMatch: 'E-3' },
      { Id: 'E1', IfMatch: 'E-3' },
    ]);
  });

  it('teardown succeeds when the distribution, the OAC and the bucket are already gone', async () => {
    cf.on(ListDistributionsCommand).resolves({ DistributionList: { Items: [] } });
    cf.on(ListOriginAccessControlsCommand).resolves({ OriginAccessControlList: { Items: [] } });
    s3.on(HeadBucketCommand).rejects(awsError('NotFound', 'Not Found', 404));
    await expect(distributionStep.teardown(ctx({ outputs: {} }))).resolves.toBeUndefined();
    expect(mutating(cf)).toEqual([]);
    expect(mutating(s3)).toEqual([]);

    // Recorded in the state but deleted by hand: NoSuchDistribution is done.
    cf.on(GetDistributionCommand).rejects(awsError('NoSuchDistribution', 'gone', 404));
    await expect(
      distributionStep.teardown(ctx({ outputs: {}, previous: { distributionId: 'E1' } })),
    ).resolves.toBeUndefined();
    expect(mutating(cf)).toEqual([]);
  });
});
