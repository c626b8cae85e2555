/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, dnsOrderKey, fqdn, page, sha, tagMap } from '../util.js';
import type { World } from '../world.js';
import { date } from './shared.js';

/**
 * The edge services: CloudFront (distributions InProgress → Deployed, ETags, disable before
 * delete, origin access controls), WAFv2 (CLOUDFRONT scope in us-east-1, lock tokens, no
 * delete while associated), ACM (DNS validation against the fake Route 53, in use by
 * listeners and distributions) and Route 53 (zones, ordered record sets, changes that go
 * INSYNC, health checks).
 */

const T = {
  distribution: 'cloudfront:distribution',
  oac: 'cloudfront:origin-access-control',
  webAcl: 'wafv2:webacl',
  cert: 'acm:certificate',
  zone: 'route53:hostedzone',
  healthCheck: 'route53:healthcheck',
} as const;
export const EDGE_TYPES = T;

const GLOBAL = 'us-east-1';

// ---------------------------------------------------------------------------------------------
// CloudFront
// ---------------------------------------------------------------------------------------------

export function cloudfrontService(w: World): ServiceModule {
  const err = (code: string, message: string, status = 400) =>
    w.error('cloudfront', code, message, status);

  const distribution = (id: string): Resource => {
    const r = w.live(T.distribution, GLOBAL, id);
    if (!r) throw err('NoSuchDistribution', 'The specified distribution does not exist.', 404);
    return r;
  };
  const oac = (id: string): Resource => {
    const r = w.live(T.oac, GLOBAL, id);
    if (!r)
      throw err(
        'NoSuchOriginAccessControl',
        'The specified origin access control does not exist.',
        404,
      );
    return r;
  };
  const etag = () => 'E' + w.rng.chars(13, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');

  function summary(r: Resource): In {
    const c = r.data.config;
    return {
      Id: r.id,
      ARN: r.arn,
      Status: r.state,
      LastModifiedTime: date(r.data.modifiedAt as number),
      DomainName: r.data.domainName,
      Aliases: c.Aliases ?? { Quantity: 0 },
      Origins: clone(c.Origins),
      DefaultCacheBehavior: clone(c.DefaultCacheBehavior),
      CacheBehaviors: clone(c.CacheBehaviors ?? { Quantity: 0 }),
      Comment: c.Comment ?? '',
      PriceClass: c.PriceClass ?? 'PriceClass_All',
      Enabled: c.Enabled === true,
      ViewerCertificate: clone(c.ViewerCertificate),
      Restrictions: clone(c.Restrictions),
      WebACLId: c.WebACLId ?? '',
      HttpVersion: c.HttpVersion ?? 'http2',
      IsIPV6Enabled: c.IsIPV6Enabled === true,
      Staging: false,
    };
  }

  function shape(r: Resource): In {
    return {
      Id: r.id,
      ARN: r.arn,
      Status: r.state,
      LastModifiedTime: date(r.data.modifiedAt as number),
      InProgressInvalidationBatches: 0,
      DomainName: r.data.domainName,
      DistributionConfig: clone(r.data.config),
    };
  }

  /** The web ACL, viewer certificate and origin access controls a config refers to must exist. */
  function validate(config: In): void {
    if (config.WebACLId) {
      const acl = w.find(T.webAcl, GLOBAL, (a) => a.arn === config.WebACLId)[0];
      if (!acl || acl.data.scope !== 'CLOUDFRONT') {
        throw err(
          'InvalidWebACLId',
          `Web ACL is not accessible by the requester, or the web ACL is not in scope CLOUDFRONT: ${String(config.WebACLId)}`,
        );
      }
    }
    const cert = config.ViewerCertificate?.ACMCertificateArn as string | undefined;
    if (cert) {
      const c = w.live(T.cert, GLOBAL, cert);
      if (!c || c.state !== 'ISSUED') {
        throw err(
          'InvalidViewerCertificate',
          "The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain.",
        );
      }
    }
    for (const o of (config.Origins?.Items ?? []) as In[]) {
      if (o.OriginAccessControlId && !w.live(T.oac, GLOBAL, o.OriginAccessControlId as string)) {
        throw err(
          'NoSuchOriginAccessControl',
          'The specified origin access control does not exist.',
          404,
        );
      }
    }
    if (!config.DefaultCacheBehavior?.TargetOriginId)
      throw err('InvalidArgument', 'The parameter DefaultCacheBehavior is required.');
  }

  /** Keep WAF associations and certificate use in step with a distribution's config. */
  function link(r: Resource, config: In): void {
    for (const a of w.find(T.webAcl, GLOBAL))
      a.data.associations = (a.data.associations as string[]).filter((x) => x !== r.arn);
    for (const c of w.find(T.cert, GLOBAL))
      c.data.inUseBy = (c.data.inUseBy as string[]).filter((x) => x !== r.arn);
    if (!config) return;
    const acl = w.find(T.webAcl, GLOBAL, (a) => a.arn === config.WebACLId)[0];
    if (acl) (acl.data.associations as string[]).push(r.arn!);
    const cert = config.ViewerCertificate?.ACMCertificateArn as string | undefined;
    const c = cert ? w.live(T.cert, GLOBAL, cert) : undefined;
    if (c) (c.data.inUseBy as string[]).push(r.arn!);
  }

  function deploy(r: Resource): void {
    w.cancel(r);
    r.state = 'InProgress';
    r.data.modifiedAt = w.now();
    w.schedule(r, w.t('cloudfrontDeploy'), { state: 'Deployed' });
  }

  function list(items: Resource[], input: In, map: (r: Resource) => In): In {
    const p = page(items, input.Marker as string | undefined, Number(input.MaxItems ?? 100), 1000);
    return {
      Marker: input.Marker ?? '',
      MaxItems: Number(input.MaxItems ?? 100),
      IsTruncated: p.next !== undefined,
      Quantity: p.items.length,
      Items: p.items.map(map),
      ...(p.next ? { NextMarker: p.next } : {}),
    };
  }

  function createDistribution(config: In, tags: Record<string, string>): In {
    // A new account AWS has not verified yet may create no CloudFront resource (set
    // `cloud.world.regionSettings('us-east-1').cloudfrontUnverified = true` to play one).
    if (w.regionSettings(GLOBAL).cloudfrontUnverified === true) {
      throw w.error(
        'cloudfront',
        'AccessDenied',
        'Your account must be verified before you can add new CloudFront resources. To verify your account, please contact AWS Support (https://console.aws.amazon.com/support/home#/) and include this error message.',
        403,
      );
    }
    validate(config);
    const ref = config.CallerReference as string;
    const prior = w.all(T.distribution, GLOBAL).find((d) => d.data.config.CallerReference === ref);
    if (prior) {
      if (JSON.stringify(prior.data.createdWith) === JSON.stringify(config)) {
        return {
          Distribution: shape(prior),
          ETag: prior.data.etag,
          Location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${prior.id}`,
        };
      }
      throw err(
        'DistributionAlreadyExists',
        `The caller reference that you are using to create a distribution is associated with another distribution. Already exists: ${prior.id}`,
        409,
      );
    }
    const id = 'E' + w.rng.chars(13, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
    const r = w.add({
      service: 'cloudfront',
      type: T.distribution,
      region: GLOBAL,
      id,
      arn: `arn:aws:cloudfront::${w.account}:distribution/${id}`,
      tags,
      state: 'InProgress',
      data: {
        config: clone(config),
        createdWith: clone(config),
        domainName: `d${w.rng.chars(13, 'abcdefghijklmnopqrstuvwxyz0123456789')}.cloudfront.net`,
        etag: etag(),
        modifiedAt: w.now(),
      },
    });
    link(r, config);
    w.schedule(r, w.t('cloudfrontDeploy'), { state: 'Deployed' });
    return {
      Distribution: shape(r),
      ETag: r.data.etag,
      Location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${id}`,
    };
  }

  return {
    service: 'cloudfront',
    handlers: {
      CreateDistribution: (_ctx, input) => createDistribution(input.DistributionConfig, {}),
      CreateDistributionWithTags(_ctx, input) {
        const c = input.DistributionConfigWithTags ?? {};
        return createDistribution(c.DistributionConfig, tagMap(c.Tags?.Items));
      },
      GetDistribution(_ctx, input) {
        const r = distribution(input.Id as string);
        return { Distribution: shape(r), ETag: r.data.etag };
      },
      GetDistributionConfig(_ctx, input) {
        const r = distribution(input.Id as string);
        return { DistributionConfig: clone(r.data.config), ETag: r.data.etag };
      },
      ListDistributions(_ctx, input) {
        return { DistributionList: list(w.find(T.distribution, GLOBAL), input, summary) };
      },
      ListDistributionsByWebACLId(_ctx, input) {
        const acl = input.WebACLId as string;
        return {
          DistributionList: list(
            w.find(T.distribution, GLOBAL, (d) => d.data.config.WebACLId === acl),
            input,
            summary,
          ),
        };
      },
      UpdateDistribution(_ctx, input) {
        const r = distribution(input.Id as string);
        if (!input.IfMatch)
          throw err(
            'InvalidIfMatchVersion',
            'The If-Match version is missing or not valid for the resource.',
          );
        if (input.IfMatch !== r.data.etag)
          throw err(
            'PreconditionFailed',
            'The precondition given in one or more of the request-header fields evaluated to false.',
            412,
          );
        const config = input.DistributionConfig;
        if (config.CallerReference !== r.data.config.CallerReference) {
          throw err(
            'IllegalUpdate',
            'The update contains modifications that are not allowed: CallerReference',
          );
        }
        validate(config);
        r.data.config = clone(config);
        r.data.etag = etag();
        link(r, config);
        deploy(r);
        return { Distribution: shape(r), ETag: r.data.etag };
      },
      DeleteDistribution(_ctx, input) {
        const r = distribution(input.Id as string);
        if (!input.IfMatch)
          throw err(
            'InvalidIfMatchVersion',
            'The If-Match version is missing or not valid for the resource.',
          );
        if (input.IfMatch !== r.data.etag)
          throw err(
            'PreconditionFailed',
            'The precondition given in one or more of the request-header fields evaluated to false.',
            412,
          );
        if (r.data.config.Enabled || r.state !== 'Deployed') {
          throw err(
            'DistributionNotDisabled',
            'The distribution you are trying to delete has not been disabled.',
            409,
          );
        }
        link(r, undefined);
        w.remove(r);
        return {};
      },
      CreateOriginAccessControl(_ctx, input) {
        const c = input.OriginAccessControlConfig ?? {};
        if (w.find(T.oac, GLOBAL, (o) => o.data.config.Name === c.Name).length > 0) {
          throw err(
            'OriginAccessControlAlreadyExists',
            `An origin access control with the same name ${String(c.Name)} already exists.`,
            409,
          );
        }
        const id = 'E' + w.rng.chars(13, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
        const r = w.add({
          service: 'cloudfront',
          type: T.oac,
          region: GLOBAL,
          id,
          arn: `arn:aws:cloudfront::${w.account}:origin-access-control/${id}`,
          name: c.Name,
          state: 'available',
          data: { config: clone(c), etag: etag() },
        });
        return {
          OriginAccessControl: { Id: id, OriginAccessControlConfig: clone(c) },
          ETag: r.data.etag,
          Location: `https://cloudfront.amazonaws.com/2020-05-31/origin-access-control/${id}`,
        };
      },
      GetOriginAccessControl(_ctx, input) {
        const r = oac(input.Id as string);
        return {
          OriginAccessControl: { Id: r.id, OriginAccessControlConfig: clone(r.data.config) },
          ETag: r.data.etag,
        };
      },
      ListOriginAccessControls(_ctx, input) {
        return {
          OriginAccessControlList: list(w.find(T.oac, GLOBAL), input, (r) => ({
            Id: r.id,
            Description: r.data.config.Description ?? '',
            Name: r.data.config.Name,
            SigningProtocol: r.data.config.SigningProtocol,
            SigningBehavior: r.data.config.SigningBehavior,
            OriginAccessControlOriginType: r.data.config.OriginAccessControlOriginType,
          })),
        };
      },
      UpdateOriginAccessControl(_ctx, input) {
        const r = oac(input.Id as string);
        if (input.IfMatch !== r.data.etag)
          throw err(
            'PreconditionFailed',
            'The precondition given in one or more of the request-header fields evaluated to false.',
            412,
          );
        r.data.config = clone(input.OriginAccessControlConfig);
        r.data.etag = etag();
        return {
          OriginAccessControl: { Id: r.id, OriginAccessControlConfig: clone(r.data.config) },
          ETag: r.data.etag,
        };
      },
      DeleteOriginAccessControl(_ctx, input) {
        const r = oac(input.Id as string);
        if (input.IfMatch !== r.data.etag)
          throw err(
            'PreconditionFailed',
            'The precondition given in one or more of the request-header fields evaluated to false.',
            412,
          );
        const users = w.find(T.distribution, GLOBAL, (d) =>
          (d.data.config.Origins?.Items ?? []).some((o: In) => o.OriginAccessControlId === r.id),
        );
        if (users.length > 0)
          throw err(
            'OriginAccessControlInUse',
            "Cannot delete this origin access control because it's in use by one or more origins.",
            409,
          );
        w.remove(r);
        return {};
      },
      ListTagsForResource(_ctx, input) {
        const r = w.byArn(input.Resource as string);
        if (!r) throw err('NoSuchResource', 'The specified resource does not exist.', 404);
        return { Tags: { Items: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) } };
      },
      TagResource(_ctx, input) {
        const r = w.byArn(input.Resource as string);
        if (!r) throw err('NoSuchResource', 'The specified resource does not exist.', 404);
        Object.assign(r.tags, tagMap(input.Tags?.Items));
        return {};
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// WAFv2
// ---------------------------------------------------------------------------------------------

export function wafv2Service(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('wafv2', code, message);

  function scopeRegion(region: string, scope: string): string {
    if (scope === 'CLOUDFRONT' && region !== GLOBAL) {
      throw err(
        'WAFInvalidParameterException',
        'Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: CLOUDFRONT',
      );
    }
    return region;
  }

  function acl(region: string, input: In): Resource {
    scopeRegion(region, input.Scope as string);
    const r = w.find(
      T.webAcl,
      region,
      (a) =>
        a.data.scope === input.Scope && (a.id === input.Id || (!input.Id && a.name === input.Name)),
    )[0];
    if (!r || (input.Name && r.name !== input.Name)) {
      throw err(
        'WAFNonexistentItemException',
        'AWS WAF couldn’t perform the operation because your resource doesn’t exist.',
      );
    }
    return r;
  }

  function lock(r: Resource, token: unknown): void {
    if (token !== r.data.lockToken) {
      throw err(
        'WAFOptimisticLockException',
        'AWS WAF couldn’t save your changes because someone changed the resource after you started to edit it. Reapply your changes.',
      );
    }
  }

  return {
    service: 'wafv2',
    handlers: {
      CreateWebACL(ctx, input) {
        scopeRegion(ctx.region, input.Scope as string);
        const name = input.Name as string;
        if (
          w.find(T.webAcl, ctx.region, (a) => a.name === name && a.data.scope === input.Scope)
            .length > 0
        ) {
          throw err(
            'WAFDuplicateItemException',
            'AWS WAF couldn’t perform the operation because some resource in your request is a duplicate of an existing one.',
          );
        }
        const id = w.rng.uuid();
        const arn =
          input.Scope === 'CLOUDFRONT'
            ? `arn:aws:wafv2:us-east-1:${w.account}:global/webacl/${name}/${id}`
            : w.arn('wafv2', ctx.region, `regional/webacl/${name}/${id}`);
        const r = w.add({
          service: 'wafv2',
          type: T.webAcl,
          region: ctx.region,
          id,
          arn,
          name,
          tags: tagMap(input.Tags),
          state: 'available',
          data: {
            scope: input.Scope,
            description: input.Description,
            defaultAction: clone(input.DefaultAction),
            rules: clone(input.Rules ?? []),
            visibility: clone(input.VisibilityConfig),
            lockToken: w.rng.uuid(),
            associations: [],
          },
        });
        return {
          Summary: {
            Name: name,
            Id: id,
            Description: input.Description,
            LockToken: r.data.lockToken,
            ARN: arn,
          },
        };
      },
      ListWebACLs(ctx, input) {
        scopeRegion(ctx.region, input.Scope as string);
        const list = w.find(T.webAcl, ctx.region, (a) => a.data.scope === input.Scope);
        const p = page(
          list,
          input.NextMarker as string | undefined,
          (input.Limit as number | undefined) ?? 100,
          100,
        );
        // WAF hands back a marker even on the last page; the page after it is empty.
        return {
          NextMarker: p.next ?? Buffer.from(String(list.length), 'utf8').toString('base64url'),
          WebACLs: p.items.map((a) => ({
            Name: a.name,
            Id: a.id,
            Description: a.data.description,
            LockToken: a.data.lockToken,
            ARN: a.arn,
          })),
        };
      },
      GetWebACL(ctx, input) {
        const r = acl(ctx.region, input);
        return {
          WebACL: {
            Name: r.name,
            Id: r.id,
            ARN: r.arn,
            DefaultAction: clone(r.data.defaultAction),
            Description: r.data.description,
            Rules: clone(r.data.rules),
            VisibilityConfig: clone(r.data.visibility),
            Capacity: 700 + (r.data.rules as In[]).length * 2,
            ManagedByFirewallManager: false,
            LabelNamespace: `awswaf:${w.account}:webacl:${r.name!}:`,
          },
          LockToken: r.data.lockToken,
        };
      },
      UpdateWebACL(ctx, input) {
        const r = acl(ctx.region, input);
        lock(r, input.LockToken);
        r.data.description = input.Description;
        r.data.defaultAction = clone(input.DefaultAction);
        r.data.rules = clone(input.Rules ?? []);
        r.data.visibility = clone(input.VisibilityConfig);
        r.data.lockToken = w.rng.uuid();
        return { NextLockToken: r.data.lockToken };
      },
      DeleteWebACL(ctx, input) {
        const r = acl(ctx.region, input);
        lock(r, input.LockToken);
        if ((r.data.associations as string[]).length > 0) {
          throw err(
            'WAFAssociatedItemException',
            'AWS WAF couldn’t perform the operation because your resource is being used by another resource or it’s associated with another resource.',
          );
        }
        w.remove(r);
        return {};
      },
      ListTagsForResource(_ctx, input) {
        const r = w.byArn(input.ResourceARN as string);
        if (!r)
          throw err(
            'WAFNonexistentItemException',
            'AWS WAF couldn’t perform the operation because your resource doesn’t exist.',
          );
        return {
          TagInfoForResource: {
            ResourceARN: r.arn,
            TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          },
        };
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ACM
// ---------------------------------------------------------------------------------------------

export function acmService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('acm', code, message);

  const cert = (region: string, arn: string): Resource => {
    const r = w.live(T.cert, region, arn);
    if (!r) throw err('ResourceNotFoundException', `Could not find certificate ${arn}.`);
    return r;
  };

  /** The CNAME ACM asks for, the same for a domain and its wildcard. */
  function record(domain: string): { Name: string; Type: string; Value: string } {
    const base = domain.replace(/^\*\./, '');
    const h = sha(`${w.account}|${base}`);
    return {
      Name: `_${h.slice(0, 32)}.${base}.`,
      Type: 'CNAME',
      Value: `_${h.slice(32, 64)}.${h.slice(0, 10)}.acm-validations.aws.`,
    };
  }

  function recordInRoute53(rec: { Name: string; Value: string }): boolean {
    return w
      .find(T.zone, GLOBAL)
      .some((z) =>
        (z.data.records as In[]).some(
          (r) =>
            r.Type === 'CNAME' &&
            fqdn(r.Name as string) === fqdn(rec.Name) &&
            (r.ResourceRecords ?? []).some((v: In) => fqdn(String(v.Value)) === fqdn(rec.Value)),
        ),
      );
  }

  // Pending certificates are issued once their validation records resolve.
  w.onTick(() => {
    const now = w.now();
    for (const c of w.find(T.cert, undefined, (x) => x.state === 'PENDING_VALIDATION')) {
      if (now < (c.data.recordsAt as number)) continue;
      const all = (c.data.domains as string[]).every((d) => recordInRoute53(record(d)));
      if (!all) {
        delete c.data.validSince;
        continue;
      }
      c.data.validSince ??= now;
      if (now - (c.data.validSince as number) >= w.t('acmIssue')) {
        c.state = 'ISSUED';
        c.data.issuedAt = now;
      }
    }
  });

  function detail(r: Resource): In {
    const d = r.data;
    const ready = w.now() >= (d.recordsAt as number);
    return {
      CertificateArn: r.id,
      DomainName: d.domain,
      SubjectAlternativeNames: clone(d.domains),
      DomainValidationOptions: (d.domains as string[]).map((name) => ({
        DomainName: name,
        ValidationDomain: name.replace(/^\*\./, ''),
        ValidationStatus: r.state === 'ISSUED' ? 'SUCCESS' : 'PENDING_VALIDATION',
        ValidationMethod: 'DNS',
        ...(ready ? { ResourceRecord: record(name) } : {}),
      })),
      Status: r.state,
      Type: 'AMAZON_ISSUED',
      InUseBy: clone(d.inUseBy),
      CreatedAt: date(r.createdAt),
      ...(d.issuedAt
        ? {
            IssuedAt: date(d.issuedAt as number),
            NotBefore: date(d.issuedAt as number),
            NotAfter: date((d.issuedAt as number) + 395 * 86_400_000),
          }
        : {}),
      KeyAlgorithm: 'RSA_2048',
      SignatureAlgorithm: 'SHA256WITHRSA',
      RenewalEligibility: 'INELIGIBLE',
    };
  }

  return {
    service: 'acm',
    handlers: {
      RequestCertificate(ctx, input) {
        const domain = String(input.DomainName).toLowerCase();
        if (!/^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/.test(domain))
          throw err(
            'InvalidDomainValidationOptionsException',
            `Domain name ${domain} is not valid`,
          );
        const scope = `acm:${ctx.region}`;
        const params = { d: domain, s: input.SubjectAlternativeNames };
        const again = w.idempotent(
          scope,
          input.IdempotencyToken as string | undefined,
          params,
          () => err('InvalidParameterException', 'Idempotency token reused with other parameters'),
        );
        if (again && w.live(T.cert, ctx.region, again)) return { CertificateArn: again };
        const arn = w.arn('acm', ctx.region, `certificate/${w.rng.uuid()}`);
        w.add({
          service: 'acm',
          type: T.cert,
          region: ctx.region,
          id: arn,
          arn,
          name: domain,
          tags: tagMap(input.Tags),
          state: 'PENDING_VALIDATION',
          data: {
            domain,
            domains: [
              ...new Set([
                domain,
                ...((input.SubjectAlternativeNames ?? []) as string[]).map((x) => x.toLowerCase()),
              ]),
            ],
            inUseBy: [],
            recordsAt: w.now() + w.t('acmRecords'),
          },
        });
        w.rememberToken(scope, input.IdempotencyToken as string | undefined, params, arn);
        return { CertificateArn: arn };
      },
      DescribeCertificate(ctx, input) {
        return { Certificate: detail(cert(ctx.region, input.CertificateArn as string)) };
      },
      ListCertificates(ctx, input) {
        const statuses = input.CertificateStatuses as string[] | undefined;
        const list = w.find(
          T.cert,
          ctx.region,
          (c) => !statuses?.length || statuses.includes(c.state),
        );
        const p = page(
          list,
          input.NextToken as string | undefined,
          input.MaxItems as number | undefined,
          1000,
        );
        return {
          CertificateSummaryList: p.items.map((c) => ({
            CertificateArn: c.id,
            DomainName: c.data.domain,
            SubjectAlternativeNameSummaries: clone(c.data.domains),
            Status: c.state,
            Type: 'AMAZON_ISSUED',
            InUse: (c.data.inUseBy as string[]).length > 0,
            CreatedAt: date(c.createdAt),
          })),
          ...(p.next ? { NextToken: p.next } : {}),
        };
      },
      ListTagsForCertificate(ctx, input) {
        const r = cert(ctx.region, input.CertificateArn as string);
        return { Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
      },
      AddTagsToCertificate(ctx, input) {
        Object.assign(cert(ctx.region, input.CertificateArn as string).tags, tagMap(input.Tags));
        return {};
      },
      DeleteCertificate(ctx, input) {
        const r = cert(ctx.region, input.CertificateArn as string);
        if ((r.data.inUseBy as string[]).length > 0) {
          throw err(
            'ResourceInUseException',
            `Certificate ${r.id} in account ${w.account} is in use.`,
          );
        }
        w.remove(r);
        return {};
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Route 53
// ---------------------------------------------------------------------------------------------

export function route53Service(w: World): ServiceModule {
  const err = (code: string, message: string, status = 400) =>
    w.error('route53', code, message, status);
  const zoneId = (id: string) => String(id).replace(/^\/hostedzone\//, '');

  const zone = (id: string): Resource => {
    const r = w.live(T.zone, GLOBAL, zoneId(id));
    if (!r) throw err('NoSuchHostedZone', `No hosted zone found with ID: ${zoneId(id)}`, 404);
    return r;
  };

  function zoneShape(r: Resource): In {
    return {
      Id: `/hostedzone/${r.id}`,
      Name: r.name,
      CallerReference: r.data.callerReference,
      Config: clone(r.data.config),
      ResourceRecordSetCount: (r.data.records as In[]).length,
    };
  }

  function change(): In {
    const id = 'C' + w.rng.chars(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
    const changes = ((w.settings.global ??= {}).route53Changes ??= {}) as Record<string, number>;
    changes[id] = w.now() + w.t('route53Insync');
    return {
      Id: `/change/${id}`,
      Status: w.t('route53Insync') === 0 ? 'INSYNC' : 'PENDING',
      SubmittedAt: date(w.now()),
    };
  }

  const sortRecords = (records: In[]) =>
    records.sort((a, b) => {
      const ka = dnsOrderKey(a.Name as string);
      const kb = dnsOrderKey(b.Name as string);
      return ka < kb
        ? -1
        : ka > kb
          ? 1
          : String(a.Type) < String(b.Type)
            ? -1
            : String(a.Type) > String(b.Type)
              ? 1
              : 0;
    });

  function normalizeRecord(rr: In): In {
    const out = clone(rr);
    out.Name = fqdn(rr.Name as string);
    if (out.AliasTarget) out.AliasTarget.DNSName = fqdn(out.AliasTarget.DNSName as string);
    return out;
  }

  function healthShape(r: Resource): In {
    return {
      Id: r.id,
      CallerReference: r.data.callerReference,
      HealthCheckConfig: clone(r.data.config),
      HealthCheckVersion: r.data.version,
    };
  }

  return {
    service: 'route53',
    handlers: {
      CreateHostedZone(_ctx, input) {
        const ref = input.CallerReference as string;
        if (
          w.all(T.zone, GLOBAL).some((z) => z.data.callerReference === ref) ||
          (((w.settings.global ?? {}).zoneRefs ?? []) as string[]).includes(ref)
        ) {
          throw err(
            'HostedZoneAlreadyExists',
            `A hosted zone has already been created with the specified caller reference.`,
            409,
          );
        }
        const name = fqdn(input.Name as string);
        const id = 'Z' + w.rng.chars(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
        const ns = [1, 2, 3, 4].map(
          (i) =>
            `ns-${100 * i + w.rng.int(99)}.awsdns-${10 + i}.${['com', 'net', 'org', 'co.uk'][i - 1]}`,
        );
        const r = w.add({
          service: 'route53',
          type: T.zone,
          region: GLOBAL,
          id,
          arn: `arn:aws:route53:::hostedzone/${id}`,
          name,
          state: 'available',
          data: {
            callerReference: ref,
            config: {
              Comment: input.HostedZoneConfig?.Comment,
              PrivateZone: input.HostedZoneConfig?.PrivateZone === true,
            },
            nameServers: ns,
            records: [
              {
                Name: name,
                Type: 'NS',
                TTL: 172800,
                ResourceRecords: ns.map((n) => ({ Value: `${n}.` })),
              },
              {
                Name: name,
                Type: 'SOA',
                TTL: 900,
                ResourceRecords: [
                  { Value: `${ns[0]!}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400` },
                ],
              },
            ],
          },
        });
        const g = (w.settings.global ??= {});
        g.zoneRefs = [...((g.zoneRefs ?? []) as string[]), ref];
        return {
          HostedZone: zoneShape(r),
          ChangeInfo: change(),
          DelegationSet: { NameServers: ns },
          Location: `https://route53.amazonaws.com/2013-04-01/hostedzone/${id}`,
        };
      },
      GetHostedZone(_ctx, input) {
        const r = zone(input.Id as string);
        return {
          HostedZone: zoneShape(r),
          DelegationSet: { NameServers: clone(r.data.nameServers) },
        };
      },
      ListHostedZonesByName(_ctx, input) {
        const start = input.DNSName ? dnsOrderKey(input.DNSName as string) : '';
        const zones = w
          .find(T.zone, GLOBAL)
          .sort((a, b) => (dnsOrderKey(a.name!) < dnsOrderKey(b.name!) ? -1 : 1))
          .filter((z) => dnsOrderKey(z.name!) >= start);
        const max = Number(input.MaxItems ?? 100);
        const items = zones.slice(0, max);
        return {
          HostedZones: items.map(zoneShape),
          IsTruncated: zones.length > items.length,
          MaxItems: max,
          ...(input.DNSName ? { DNSName: input.DNSName } : {}),
          ...(zones[max] ? { NextDNSName: zones[max].name, NextHostedZoneId: zones[max].id } : {}),
        };
      },
      DeleteHostedZone(_ctx, input) {
        const r = zone(input.Id as string);
        if (
          (r.data.records as In[]).some(
            (x) => !(['NS', 'SOA'].includes(x.Type as string) && fqdn(x.Name as string) === r.name),
          )
        ) {
          throw err(
            'HostedZoneNotEmpty',
            'The specified hosted zone contains non-required resource record sets and so cannot be deleted.',
          );
        }
        w.remove(r);
        return { ChangeInfo: change() };
      },
      ChangeResourceRecordSets(_ctx, input) {
        const r = zone(input.HostedZoneId as string);
        const records = clone(r.data.records as In[]);
        for (const c of (input.ChangeBatch?.Changes ?? []) as In[]) {
          const rr = normalizeRecord(c.ResourceRecordSet);
          if (!rr.Name.endsWith(r.name!)) {
            throw err(
              'InvalidChangeBatch',
              `[RRSet with DNS name ${String(rr.Name)} is not permitted in zone ${r.name!}]`,
            );
          }
          const i = records.findIndex((x) => x.Name === rr.Name && x.Type === rr.Type);
          if (c.Action === 'CREATE') {
            if (i >= 0)
              throw err(
                'InvalidChangeBatch',
                `[Tried to create resource record set [name='${String(rr.Name)}', type='${String(rr.Type)}'] but it already exists]`,
              );
            records.push(rr);
          } else if (c.Action === 'UPSERT') {
            if (i >= 0) records[i] = rr;
            else records.push(rr);
          } else if (c.Action === 'DELETE') {
            if (i < 0 || JSON.stringify(sortKeys(records[i])) !== JSON.stringify(sortKeys(rr))) {
              throw err(
                'InvalidChangeBatch',
                `[Tried to delete resource record set [name='${String(rr.Name)}', type='${String(rr.Type)}'] but ${i < 0 ? 'it was not found' : 'the values provided do not match the current values'}]`,
              );
            }
            records.splice(i, 1);
          } else throw err('InvalidInput', `Invalid action ${String(c.Action)}`);
        }
        r.data.records = sortRecords(records);
        return { ChangeInfo: { ...change(), Comment: input.ChangeBatch?.Comment } };
      },
      ListResourceRecordSets(_ctx, input) {
        const r = zone(input.HostedZoneId as string);
        let records = sortRecords([...(r.data.records as In[])]);
        if (input.StartRecordName) {
          const key = dnsOrderKey(input.StartRecordName as string);
          const type = input.StartRecordType as string | undefined;
          records = records.filter((x) => {
            const k = dnsOrderKey(x.Name as string);
            return k > key || (k === key && (!type || String(x.Type) >= type));
          });
        }
        const max = Number(input.MaxItems ?? 300);
        const items = records.slice(0, max);
        const next = records[max];
        return {
          ResourceRecordSets: clone(items),
          IsTruncated: next !== undefined,
          MaxItems: max,
          ...(next ? { NextRecordName: next.Name, NextRecordType: next.Type } : {}),
        };
      },
      GetChange(_ctx, input) {
        const id = String(input.Id).replace(/^\/change\//, '');
        const changes = ((w.settings.global ?? {}).route53Changes ?? {}) as Record<string, number>;
        if (!(id in changes))
          throw err('NoSuchChange', `A change with the specified change ID does not exist.`, 404);
        return {
          ChangeInfo: {
            Id: `/change/${id}`,
            Status: w.now() >= changes[id]! ? 'INSYNC' : 'PENDING',
            SubmittedAt: date(changes[id]! - w.t('route53Insync')),
          },
        };
      },
      CreateHealthCheck(_ctx, input) {
        const ref = input.CallerReference as string;
        const prior = w.all(T.healthCheck, GLOBAL).find((h) => h.data.callerReference === ref);
        if (prior) {
          if (JSON.stringify(prior.data.requested) === JSON.stringify(input.HealthCheckConfig))
            return { HealthCheck: healthShape(prior), Location: '' };
          throw err(
            'HealthCheckAlreadyExists',
            'A health check with the specified caller reference already exists with a different configuration.',
            409,
          );
        }
        const id = w.rng.uuid();
        const config = {
          Inverted: false,
          Disabled: false,
          MeasureLatency: false,
          EnableSNI: false,
          ...clone(input.HealthCheckConfig),
        };
        const r = w.add({
          service: 'route53',
          type: T.healthCheck,
          region: GLOBAL,
          id,
          arn: `arn:aws:route53:::healthcheck/${id}`,
          state: 'available',
          data: {
            callerReference: ref,
            config,
            requested: clone(input.HealthCheckConfig),
            version: 1,
          },
        });
        return {
          HealthCheck: healthShape(r),
          Location: `https://route53.amazonaws.com/2013-04-01/healthcheck/${id}`,
        };
      },
      UpdateHealthCheck(_ctx, input) {
        const r = w.live(T.healthCheck, GLOBAL, input.HealthCheckId as string);
        if (!r)
          throw err(
            'NoSuchHealthCheck',
            `No health check exists with the specified ID ${String(input.HealthCheckId)}.`,
            404,
          );
        if (input.HealthCheckVersion !== undefined && input.HealthCheckVersion !== r.data.version) {
          throw err(
            'HealthCheckVersionMismatch',
            "The value of HealthCheckVersion in the request doesn't match the value of HealthCheckVersion in the health check.",
            409,
          );
        }
        for (const k of [
          'Port',
          'ResourcePath',
          'FullyQualifiedDomainName',
          'FailureThreshold',
          'EnableSNI',
          'IPAddress',
          'Inverted',
          'Disabled',
        ]) {
          if (input[k] !== undefined) r.data.config[k] = input[k];
        }
        r.data.version = (r.data.version as number) + 1;
        return { HealthCheck: healthShape(r) };
      },
      ListHealthChecks(_ctx, input) {
        const p = page(
          w.find(T.healthCheck, GLOBAL),
          input.Marker as string | undefined,
          Number(input.MaxItems ?? 100),
          1000,
        );
        return {
          HealthChecks: p.items.map(healthShape),
          IsTruncated: p.next !== undefined,
          MaxItems: Number(input.MaxItems ?? 100),
          Marker: input.Marker ?? '',
          ...(p.next ? { NextMarker: p.next } : {}),
        };
      },
      GetHealthCheckStatus(_ctx, input) {
        const r = w.live(T.healthCheck, GLOBAL, input.HealthCheckId as string);
        if (!r)
          throw err(
            'NoSuchHealthCheck',
            `No health check exists with the specified ID ${String(input.HealthCheckId)}.`,
            404,
          );
        const healthy =
          w.find('elasticloadbalancing:loadbalancer', undefined, (lb) => lb.state === 'active')
            .length > 0;
        return {
          HealthCheckObservations: ['us-east-1', 'eu-west-1', 'ap-southeast-1'].map((region) => ({
            Region: region,
            IPAddress: `54.${w.rng.int(255)}.${w.rng.int(255)}.${w.rng.int(255)}`,
            StatusReport: {
              Status: healthy
                ? 'Success: HTTP Status Code 200, OK'
                : 'Failure: Connection timed out.',
              CheckedTime: date(w.now()),
            },
          })),
        };
      },
      DeleteHealthCheck(_ctx, input) {
        const r = w.live(T.healthCheck, GLOBAL, input.HealthCheckId as string);
        if (!r)
          throw err(
            'NoSuchHealthCheck',
            `No health check exists with the specified ID ${String(input.HealthCheckId)}.`,
            404,
          );
        const used = w
          .find(T.zone, GLOBAL)
          .some((z) => (z.data.records as In[]).some((x) => x.HealthCheckId === r.id));
        if (used)
          throw err(
            'HealthCheckInUse',
            "This health check can't be deleted because it's associated with one or more record sets.",
          );
        w.remove(r);
        return {};
      },
      ChangeTagsForResource(_ctx, input) {
        const r =
          input.ResourceType === 'hostedzone'
            ? zone(input.ResourceId as string)
            : w.live(T.healthCheck, GLOBAL, input.ResourceId as string);
        if (!r)
          throw err(
            'NoSuchHealthCheck',
            `No health check exists with the specified ID ${String(input.ResourceId)}.`,
            404,
          );
        Object.assign(r.tags, tagMap(input.AddTags));
        for (const k of (input.RemoveTagKeys ?? []) as string[]) delete r.tags[k];
        return {};
      },
      ListTagsForResource(_ctx, input) {
        const r =
          input.ResourceType === 'hostedzone'
            ? zone(input.ResourceId as string)
            : w.live(T.healthCheck, GLOBAL, input.ResourceId as string);
        if (!r)
          throw err(
            'NoSuchHealthCheck',
            `No health check exists with the specified ID ${String(input.ResourceId)}.`,
            404,
          );
        return {
          ResourceTagSet: {
            ResourceType: input.ResourceType,
            ResourceId: r.id,
            Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          },
        };
      },
    },
  };
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
