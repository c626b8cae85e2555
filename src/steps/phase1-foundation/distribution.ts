import type {
  CloudFrontClient,
  Distribution,
  DistributionConfig,
  OriginAccessControlSummary,
} from '@aws-sdk/client-cloudfront';
import {
  awsErrorName,
  explainAwsError,
  isAccountNotVerified,
  isDependencyViolation,
  isNotFound,
} from '../../aws/errors.js';
import { firstInPages } from '../../aws/pages.js';
import {
  bucketExists,
  getBucketPolicy,
  putBucketPolicyIfChanged,
  removeBucketPolicyStatements,
} from '../../aws/s3.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import type { Config } from '../../config/schema.js';
import { defineStep, settleLater, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import {
  STEP,
  type AlbOutputs,
  type BucketOutputs,
  type CdnOutputs,
  type CertificatesOutputs,
  type WafOutputs,
} from '../outputs.js';
import { frontendBucketName } from './frontend-bucket.js';

const cfsdk = () => import('@aws-sdk/client-cloudfront');

/** AWS managed CloudFront policies (the same ids in every account). */
export const MANAGED_POLICY = {
  cachingOptimized: '658327ea-f89d-4fab-a63d-7e88639e58f6',
  cachingDisabled: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
  allViewerExceptHostHeader: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
} as const;

/** The hosted zone id every CloudFront alias record points at. */
export const CLOUDFRONT_HOSTED_ZONE_ID = 'Z2FDTNDATAQYW2';

/** The bucket-policy statement this step owns in the frontend bucket's policy. */
export const CLOUDFRONT_READ_SID = 'AllowCloudFrontServicePrincipalRead';

export const S3_ORIGIN_ID = 'frontend-s3';
export const API_ORIGIN_ID = 'api-alb';
export const API_PATH = '/api/*';

/** The comment that marks this stack's distribution (CloudFront cannot filter by tag). */
export const distributionComment = (config: Config): string => `cloudmart:${config.stack}`;
const oacName = (config: Config) => names.of(config, 'oac');
const tagName = (config: Config) => names.of(config, 'cdn');

export interface CdnInputs {
  bucket: BucketOutputs;
  waf: WafOutputs;
  alb: AlbOutputs;
  certs: CertificatesOutputs | undefined;
}

function inputs(ctx: StepContext): CdnInputs {
  return {
    bucket: ctx.outputs<BucketOutputs>(STEP.frontendBucket),
    waf: ctx.outputs<WafOutputs>(STEP.waf),
    alb: ctx.outputs<AlbOutputs>(STEP.alb),
    // Disabled without a domain: then the distribution uses CloudFront's own certificate.
    certs: ctx.maybeOutputs<CertificatesOutputs>(STEP.certificates),
  };
}

/**
 * How CloudFront reaches the ALB. With a certificate the ALB's listener serves the stack's
 * domain, which does not cover the ALB's own amazonaws.com name, so the origin is the API
 * name (edge.dns points it at the ALB) over HTTPS; without one, the ALB's DNS name over HTTP.
 */
export function apiOrigin(
  config: Config,
  alb: AlbOutputs,
  certs: CertificatesOutputs | undefined,
): { domainName: string; protocol: 'https-only' | 'http-only' } {
  if (alb.httpsEnabled && certs) {
    return { domainName: `${config.dns.apiSubdomain}.${certs.domain}`, protocol: 'https-only' };
  }
  return { domainName: alb.dnsName, protocol: 'http-only' };
}

const GET_HEAD = { Quantity: 2, Items: ['GET', 'HEAD'] as ('GET' | 'HEAD')[] };

/** The distribution the seed asks for; `Partial` because the caller reference is per create. */
export function desiredConfig(
  config: Config,
  input: CdnInputs,
  oacId: string,
): Omit<DistributionConfig, 'CallerReference'> {
  const api = apiOrigin(config, input.alb, input.certs);
  const bucketDomain =
    input.bucket.regionalDomainName ??
    `${input.bucket.bucketName}.s3.${config.region}.amazonaws.com`;
  return {
    Comment: distributionComment(config),
    Enabled: true,
    DefaultRootObject: 'index.html',
    PriceClass: config.cdn.priceClass,
    HttpVersion: 'http2and3',
    IsIPV6Enabled: true,
    WebACLId: input.waf.webAclArn,
    Aliases: input.certs ? { Quantity: 1, Items: [input.certs.domain] } : { Quantity: 0 },
    Origins: {
      Quantity: 2,
      Items: [
        {
          Id: S3_ORIGIN_ID,
          DomainName: bucketDomain,
          OriginPath: '',
          CustomHeaders: { Quantity: 0 },
          // OAC, not the legacy origin access identity: the OAI must be empty.
          S3OriginConfig: { OriginAccessIdentity: '' },
          OriginAccessControlId: oacId,
        },
        {
          Id: API_ORIGIN_ID,
          DomainName: api.domainName,
          OriginPath: '',
          CustomHeaders: { Quantity: 0 },
          CustomOriginConfig: {
            HTTPPort: 80,
            HTTPSPort: 443,
            OriginProtocolPolicy: api.protocol,
            OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] },
            OriginReadTimeout: 30,
            OriginKeepaliveTimeout: 5,
          },
        },
      ],
    },
    DefaultCacheBehavior: {
      TargetOriginId: S3_ORIGIN_ID,
      ViewerProtocolPolicy: 'redirect-to-https',
      AllowedMethods: { ...GET_HEAD, CachedMethods: GET_HEAD },
      Compress: true,
      CachePolicyId: MANAGED_POLICY.cachingOptimized,
    },
    CacheBehaviors: {
      Quantity: 1,
      Items: [
        {
          PathPattern: API_PATH,
          TargetOriginId: API_ORIGIN_ID,
          ViewerProtocolPolicy: 'redirect-to-https',
          AllowedMethods: {
            Quantity: 7,
            Items: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'POST', 'PATCH', 'DELETE'],
            CachedMethods: GET_HEAD,
          },
          Compress: true,
          CachePolicyId: MANAGED_POLICY.cachingDisabled,
          OriginRequestPolicyId: MANAGED_POLICY.allViewerExceptHostHeader,
        },
      ],
    },
    ViewerCertificate: input.certs
      ? {
          CloudFrontDefaultCertificate: false,
          ACMCertificateArn: input.certs.edgeCertificateArn,
          SSLSupportMethod: 'sni-only',
          MinimumProtocolVersion: 'TLSv1.2_2021',
        }
      : { CloudFrontDefaultCertificate: true },
    Restrictions: { GeoRestriction: { RestrictionType: 'none', Quantity: 0 } },
  };
}

/**
 * True when every value `want` sets is what `live` has. CloudFront returns every optional
 * field filled with its default and may reorder method lists, so lists of plain values
 * compare as sets and lists of objects element by element.
 */
export function covers(live: unknown, want: unknown): boolean {
  if (want === undefined) return true;
  if (Array.isArray(want)) {
    if (!Array.isArray(live) || live.length !== want.length) return false;
    if (want.every((w) => typeof w !== 'object' || w === null)) {
      const a = want.map(String).sort();
      const b = live.map(String).sort();
      return a.every((x, i) => x === b[i]);
    }
    return want.every((w) => live.some((l) => covers(l, w)));
  }
  if (want !== null && typeof want === 'object') {
    if (live === null || typeof live !== 'object') return false;
    return Object.entries(want).every(([k, v]) => covers((live as Record<string, unknown>)[k], v));
  }
  return live === want;
}

/** The bucket-policy statement that lets only this distribution read the frontend objects. */
export function cloudfrontReadStatement(
  bucket: string,
  distributionArn: string,
  partition = 'aws',
): Record<string, unknown> {
  return {
    Sid: CLOUDFRONT_READ_SID,
    Effect: 'Allow',
    Principal: { Service: 'cloudfront.amazonaws.com' },
    Action: 's3:GetObject',
    Resource: `arn:${partition}:s3:::${bucket}/*`,
    Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
  };
}

async function findOac(ctx: StepContext): Promise<OriginAccessControlSummary | undefined> {
  const { paginateListOriginAccessControls } = await cfsdk();
  const cf = await ctx.aws.get('cloudfront');
  const name = oacName(ctx.config);
  return firstInPages(
    paginateListOriginAccessControls({ client: cf }, { MaxItems: 100 }),
    (page) => page.OriginAccessControlList?.Items,
    (o) => o.Name === name,
  );
}

const OAC_CONFIG = (config: Config) => ({
  Name: oacName(config),
  Description: `CloudMart ${config.stack}: CloudFront reads the frontend bucket`,
  SigningProtocol: 'sigv4' as const,
  SigningBehavior: 'always' as const,
  OriginAccessControlOriginType: 's3' as const,
});

/** The origin access control, found by name (it has no tags) or created; converged if edited. */
async function ensureOac(ctx: StepContext): Promise<string> {
  const sdk = await cfsdk();
  const cf = await ctx.aws.get('cloudfront');
  const want = OAC_CONFIG(ctx.config);
  const found = await findOac(ctx);
  if (found?.Id) {
    if (
      found.SigningBehavior !== want.SigningBehavior ||
      found.SigningProtocol !== want.SigningProtocol ||
      found.OriginAccessControlOriginType !== want.OriginAccessControlOriginType
    ) {
      const cur = await cf.send(new sdk.GetOriginAccessControlCommand({ Id: found.Id }));
      await cf.send(
        new sdk.UpdateOriginAccessControlCommand({
          Id: found.Id,
          IfMatch: cur.ETag,
          OriginAccessControlConfig: want,
        }),
      );
    }
    return found.Id;
  }
  ctx.progress(`CloudFront origin access control ${want.Name}: creating`);
  try {
    const out = await cf.send(
      new sdk.CreateOriginAccessControlCommand({ OriginAccessControlConfig: want }),
    );
    const id = out.OriginAccessControl?.Id;
    if (!id) throw new Error('CreateOriginAccessControl returned no id');
    return id;
  } catch (e) {
    if ((e as Error).name !== 'OriginAccessControlAlreadyExists') throw e;
    const again = await findOac(ctx);
    if (!again?.Id) throw e;
    return again.Id;
  }
}

/** This stack's distribution, by its comment marker. */
async function findDistributionId(ctx: StepContext): Promise<string | undefined> {
  const { paginateListDistributions } = await cfsdk();
  const cf = await ctx.aws.get('cloudfront');
  const comment = distributionComment(ctx.config);
  const hit = await firstInPages(
    paginateListDistributions({ client: cf }, { MaxItems: 100 }),
    (page) => page.DistributionList?.Items,
    (d) => d.Comment === comment && d.Id !== undefined,
  );
  return hit?.Id;
}

async function getDistribution(
  cf: CloudFrontClient,
  id: string,
): Promise<{ distribution: Distribution; etag: string }> {
  const { GetDistributionCommand } = await cfsdk();
  const out = await cf.send(new GetDistributionCommand({ Id: id }));
  if (!out.Distribution || !out.ETag) throw new Error(`GetDistribution ${id} returned nothing`);
  return { distribution: out.Distribution, etag: out.ETag };
}

async function waitDeployed(
  ctx: StepContext,
  cf: CloudFrontClient,
  id: string,
  onEtag?: (etag: string) => void,
): Promise<void> {
  await waitUntil(
    ctx,
    async () => {
      const { distribution, etag } = await getDistribution(cf, id);
      onEtag?.(etag);
      const status = distribution.Status ?? 'InProgress';
      return { done: status === 'Deployed', status };
    },
    { what: `CloudFront distribution ${id} to be Deployed`, timeoutMs: 45 * 60_000 },
  );
}

export const distributionStep = defineStep<CdnOutputs>({
  id: STEP.cdn,
  phase: 1,
  title: 'CloudFront distribution',
  needs: [STEP.frontendBucket, STEP.waf, STEP.alb, STEP.certificates],
  actions: [
    'cloudfront:ListOriginAccessControls',
    'cloudfront:GetOriginAccessControl',
    'cloudfront:CreateOriginAccessControl',
    'cloudfront:UpdateOriginAccessControl',
    'cloudfront:DeleteOriginAccessControl',
    'cloudfront:ListDistributions',
    'cloudfront:GetDistribution',
    // CreateDistributionWithTags is authorized as CreateDistribution plus TagResource.
    'cloudfront:CreateDistribution',
    'cloudfront:TagResource',
    'cloudfront:UpdateDistribution',
    'cloudfront:DeleteDistribution',
    'wafv2:GetWebACL', // CloudFront checks the web ACL it is given
    'acm:DescribeCertificate',
    's3:ListBucket',
    's3:GetBucketPolicy',
    's3:PutBucketPolicy',
    's3:DeleteBucketPolicy',
  ],
  describe: (config) => [
    `CloudFront distribution (${config.cdn.priceClass}, HTTP/2 and HTTP/3, IPv6) with WAF web ACL ${names.of(config, 'web-acl')}`,
    `origin access control ${oacName(config)} (sigv4, always) for the S3 frontend bucket; default root object index.html, HTTP redirected to HTTPS, CachingOptimized`,
    `${API_PATH} → the ALB (CachingDisabled, AllViewerExceptHostHeader, all methods)`,
    config.dns.domain
      ? `alias ${config.dns.domain} with the us-east-1 ACM certificate (SNI, TLSv1.2_2021); ALB origin over HTTPS as ${config.dns.apiSubdomain}.${config.dns.domain}`
      : 'default *.cloudfront.net certificate; ALB origin over HTTP',
    'bucket policy: s3:GetObject for cloudfront.amazonaws.com only from this distribution',
  ],

  // AWS verifies new accounts before they may create CloudFront distributions, and says so only
  // when CreateDistribution is sent ("Your account must be verified before you can add new
  // CloudFront resources", HTTP 403, no IAM policy changes it: a support case does). No read
  // answers it, and the reports of it all come from CreateDistribution (e.g.
  // https://github.com/aws-samples/aws-cdk-examples/issues/279,
  // https://github.com/hashicorp/terraform-provider-aws/pull/36663), so a free resource such as
  // an origin access control is no probe. The distribution itself is: up creates this stack's
  // distribution first, disabled (a disabled distribution serves nothing and costs nothing,
  // https://aws.amazon.com/cloudfront/pricing/), before anything that bills; create() below
  // adopts it by its comment and turns it into the real one, destroy deletes it like the real one.
  preflightCreates: true,
  preflightChecks: () => [
    "CloudFront: the account may create distributions (AWS verifies new accounts first). up finds out by creating this stack's distribution early, disabled (it costs nothing), before anything that bills",
  ],
  async preflight(ctx) {
    if (await findDistributionId(ctx)) return;
    const { CreateDistributionWithTagsCommand } = await cfsdk();
    const cf = await ctx.aws.get('cloudfront');
    const placeholder = 'reserved';
    // Any well-formed origin will do: nothing is served while the distribution is disabled.
    const domain = `${await frontendBucketName(ctx)}.s3.${ctx.config.region}.amazonaws.com`;
    ctx.progress('CloudFront distribution: creating it disabled, to learn the account may');
    try {
      await cf.send(
        new CreateDistributionWithTagsCommand({
          DistributionConfigWithTags: {
            DistributionConfig: {
              // New each time, so a stack built again after a destroy never meets the reference
              // of its deleted reservation; a retry after a crash finds the first reservation
              // by its comment (above) and sends nothing.
              CallerReference: `cloudmart-${ctx.config.stack}-reserved-${ctx.now().toString(36)}`,
              Comment: distributionComment(ctx.config),
              Enabled: false,
              PriceClass: ctx.config.cdn.priceClass,
              Origins: {
                Quantity: 1,
                Items: [
                  {
                    Id: placeholder,
                    DomainName: domain,
                    CustomOriginConfig: {
                      HTTPPort: 80,
                      HTTPSPort: 443,
                      OriginProtocolPolicy: 'https-only',
                    },
                  },
                ],
              },
              DefaultCacheBehavior: {
                TargetOriginId: placeholder,
                ViewerProtocolPolicy: 'redirect-to-https',
                CachePolicyId: MANAGED_POLICY.cachingOptimized,
              },
            },
            Tags: { Items: ctx.tags.list(tagName(ctx.config)) },
          },
        }),
      );
    } catch (e) {
      if (awsErrorName(e) === 'DistributionAlreadyExists') return;
      if (!isAccountNotVerified(e)) throw e;
      const explained = explainAwsError(e, 'Creating the CloudFront distribution');
      throw new CloudmartError(
        'ACCOUNT_NOT_VERIFIED',
        'This AWS account is not yet verified for CloudFront: up would stop at the distribution, with the NAT gateways, the database and the load balancer built and billing, so it stops before them',
        { exitCode: 2, cause: e, hint: explained.hint },
      );
    }
  },

  async create(ctx) {
    const sdk = await cfsdk();
    const cf = await ctx.aws.get('cloudfront');
    const input = inputs(ctx);
    const oacId = await ensureOac(ctx);
    const want = desiredConfig(ctx.config, input, oacId);

    let id = await findDistributionId(ctx);
    let changed = false;
    if (!id) {
      // Deterministic per stack and OAC: a retry after a crash replays the same request, and
      // a stack destroyed and created again (new OAC) never collides with the old reference.
      const callerReference = `cloudmart-${ctx.config.stack}-${oacId}`;
      ctx.progress('CloudFront distribution: creating');
      try {
        const out = await retryWhile(
          ctx,
          () =>
            cf.send(
              new sdk.CreateDistributionWithTagsCommand({
                DistributionConfigWithTags: {
                  DistributionConfig: { ...want, CallerReference: callerReference },
                  Tags: { Items: ctx.tags.list(tagName(ctx.config)) },
                },
              }),
            ),
          {
            what: 'creating the CloudFront distribution',
            // A web ACL created seconds ago is not yet visible to CloudFront.
            when: (e) => awsErrorName(e) === 'InvalidWebACLId',
            timeoutMs: 2 * 60_000,
          },
        );
        id = out.Distribution?.Id;
      } catch (e) {
        if (awsErrorName(e) !== 'DistributionAlreadyExists') throw e;
        // "…associated with another distribution. Already exists: E1ABC…"
        id = /Already exists:\s*([A-Z0-9]+)/.exec((e as Error).message)?.[1];
        id ??= await findDistributionId(ctx);
        if (!id) throw e;
      }
      if (!id) throw new Error('CreateDistributionWithTags returned no id');
      changed = true;
    } else {
      await retryWhile(
        ctx,
        async () => {
          const { distribution, etag } = await getDistribution(cf, id!);
          const live = distribution.DistributionConfig;
          if (live && covers(live, want)) return;
          ctx.progress(`CloudFront distribution ${id}: updating drifted settings`);
          await cf.send(
            new sdk.UpdateDistributionCommand({
              Id: id,
              IfMatch: etag,
              DistributionConfig: {
                ...live,
                ...want,
                CallerReference: live?.CallerReference ?? `cloudmart-${ctx.config.stack}-${oacId}`,
              },
            }),
          );
          changed = true;
        },
        {
          what: `updating CloudFront distribution ${id}`,
          when: (e) => awsErrorName(e) === 'PreconditionFailed',
          timeoutMs: 60_000,
        },
      );
    }

    const { distribution } = await getDistribution(cf, id);
    const arn =
      distribution.ARN ??
      `arn:${ctx.aws.partition()}:cloudfront::${await ctx.aws.accountId()}:distribution/${id}`;

    // Grant the read before the long wait so the site answers as soon as it is deployed.
    await putBucketPolicyIfChanged(ctx, input.bucket.bucketName, {
      Version: '2012-10-17',
      Statement: [cloudfrontReadStatement(input.bucket.bucketName, arn, ctx.aws.partition())],
    });

    // Nothing later needs the distribution Deployed (the DNS alias only needs its domain
    // name): the wait runs off the critical path and verify scores it.
    if (changed || distribution.Status !== 'Deployed') {
      await settleLater(ctx, `CloudFront distribution ${id} to be Deployed`, () =>
        waitDeployed(ctx, cf, id),
      );
    }
    return {
      distributionId: id,
      distributionArn: arn,
      domainName: distribution.DomainName ?? '',
      originAccessControlId: oacId,
    };
  },

  async verify(ctx) {
    const fix = 'cloudmart up --phase 1';
    const cf = await ctx.aws.get('cloudfront');
    const id = await findDistributionId(ctx);
    if (!id) {
      return [
        {
          id: 'edge.cdn.exists',
          title: 'CloudFront distribution exists',
          criterion: 'scalability',
          status: 'fail',
          evidence: `no distribution with comment ${distributionComment(ctx.config)}`,
          fix,
        },
      ];
    }
    const { distribution } = await getDistribution(cf, id);
    const cfg = distribution.DistributionConfig ?? ({} as DistributionConfig);
    const waf = ctx.maybeOutputs<WafOutputs>(STEP.waf);
    const s3Origin = cfg.Origins?.Items?.find((o) => o.Id === S3_ORIGIN_ID);
    const apiBehaviour = cfg.CacheBehaviors?.Items?.find((b) => b.PathPattern === API_PATH);
    const viewerPolicies = [
      cfg.DefaultCacheBehavior?.ViewerProtocolPolicy,
      ...(cfg.CacheBehaviors?.Items ?? []).map((b) => b.ViewerProtocolPolicy),
    ];
    const bucket =
      ctx.maybeOutputs<BucketOutputs>(STEP.frontendBucket)?.bucketName ??
      (await frontendBucketName(ctx));
    const policy = await getBucketPolicy(ctx, bucket).catch(() => undefined);
    const grant = policy?.Statement.find((s) => s.Sid === CLOUDFRONT_READ_SID);
    const grantArn = (grant?.Condition as { StringEquals?: Record<string, string> } | undefined)
      ?.StringEquals?.['AWS:SourceArn'];

    const checks: Check[] = [
      {
        id: 'edge.cdn.deployed',
        title: 'CloudFront distribution enabled and deployed',
        criterion: 'scalability',
        // Disabled serves nothing (fail); InProgress is a change still rolling out (warn).
        status: !cfg.Enabled ? 'fail' : distribution.Status === 'Deployed' ? 'pass' : 'warn',
        evidence: `${id} ${distribution.DomainName ?? ''} Enabled=${cfg.Enabled} Status=${distribution.Status}`,
        fix,
      },
      {
        id: 'edge.cdn.waf',
        title: 'WAF web ACL attached to the distribution',
        criterion: 'security-design',
        status: cfg.WebACLId && (!waf || cfg.WebACLId === waf.webAclArn) ? 'pass' : 'fail',
        evidence: cfg.WebACLId ? `WebACLId=${cfg.WebACLId}` : 'no web ACL attached',
        fix,
      },
      {
        id: 'edge.cdn.https',
        title: 'Viewers are redirected to HTTPS',
        criterion: 'encryption',
        status: viewerPolicies.every((p) => p === 'redirect-to-https' || p === 'https-only')
          ? 'pass'
          : 'fail',
        evidence: `ViewerProtocolPolicy: ${viewerPolicies.join(', ')}`,
        fix,
      },
      {
        id: 'edge.cdn.oac',
        title: 'S3 origin read through origin access control only',
        criterion: 'security-design',
        status: s3Origin?.OriginAccessControlId && grantArn === distribution.ARN ? 'pass' : 'fail',
        evidence: `OAC=${s3Origin?.OriginAccessControlId || 'none'}; bucket policy grant for ${grantArn ?? 'nobody'}`,
        fix,
      },
      {
        id: 'edge.cdn.api',
        title: `${API_PATH} goes to the ALB uncached`,
        criterion: 'other',
        status:
          apiBehaviour?.TargetOriginId === API_ORIGIN_ID &&
          apiBehaviour.CachePolicyId === MANAGED_POLICY.cachingDisabled
            ? 'pass'
            : 'fail',
        evidence: apiBehaviour
          ? `${API_PATH} → ${apiBehaviour.TargetOriginId}, cache policy ${apiBehaviour.CachePolicyId}`
          : `no ${API_PATH} behaviour`,
        fix,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const sdk = await cfsdk();
    const cf = await ctx.aws.get('cloudfront');
    const id =
      (await findDistributionId(ctx)) ?? (ctx.previous?.distributionId as string | undefined);
    if (id) {
      try {
        let { distribution, etag } = await getDistribution(cf, id);
        // CloudFront refuses to delete an enabled distribution (DistributionNotDisabled).
        if (distribution.DistributionConfig?.Enabled) {
          ctx.progress(`CloudFront distribution ${id}: disabling`);
          const out = await cf.send(
            new sdk.UpdateDistributionCommand({
              Id: id,
              IfMatch: etag,
              DistributionConfig: { ...distribution.DistributionConfig, Enabled: false },
            }),
          );
          etag = out.ETag ?? etag;
          distribution = out.Distribution ?? { ...distribution, Status: 'InProgress' };
        }
        if (distribution.Status !== 'Deployed') {
          await waitDeployed(ctx, cf, id, (e) => (etag = e));
        }
        ctx.progress(`CloudFront distribution ${id}: deleting`);
        await retryWhile(
          ctx,
          async () => {
            try {
              await cf.send(new sdk.DeleteDistributionCommand({ Id: id, IfMatch: etag }));
            } catch (e) {
              if (awsErrorName(e) === 'PreconditionFailed')
                etag = (await getDistribution(cf, id)).etag;
              throw e;
            }
          },
          {
            what: `deleting CloudFront distribution ${id}`,
            when: (e) => isDependencyViolation(e) || awsErrorName(e) === 'PreconditionFailed',
            timeoutMs: 15 * 60_000,
          },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    const oacId =
      (await findOac(ctx))?.Id ?? (ctx.previous?.originAccessControlId as string | undefined);
    if (oacId) {
      try {
        // The OAC stays "in use" until CloudFront has fully let go of the deleted distribution.
        await retryWhile(
          ctx,
          async () => {
            const cur = await cf.send(new sdk.GetOriginAccessControlCommand({ Id: oacId }));
            await cf.send(
              new sdk.DeleteOriginAccessControlCommand({ Id: oacId, IfMatch: cur.ETag }),
            );
          },
          { what: `deleting origin access control ${oacId}`, timeoutMs: 10 * 60_000 },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    const bucket =
      ctx.maybeOutputs<BucketOutputs>(STEP.frontendBucket)?.bucketName ??
      (await frontendBucketName(ctx));
    if (await bucketExists(ctx, bucket)) {
      await removeBucketPolicyStatements(ctx, bucket, [CLOUDFRONT_READ_SID]);
    }
  },
});
