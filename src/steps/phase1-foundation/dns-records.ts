import { createHash } from 'node:crypto';
import type { HealthCheck, HealthCheckConfig, ResourceRecordSet } from '@aws-sdk/client-route-53';
import { isDependencyViolation, isNotFound } from '../../aws/errors.js';
import { firstInPages } from '../../aws/pages.js';
import { retryWhile } from '../../aws/wait.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import {
  STEP,
  type AlbOutputs,
  type CdnOutputs,
  type CertificatesOutputs,
  type DnsOutputs,
} from '../outputs.js';
import { findHostedZone, fqdn, readRecord, waitInsync } from './certificates.js';
import { CLOUDFRONT_HOSTED_ZONE_ID } from './distribution.js';

const r53sdk = () => import('@aws-sdk/client-route-53');

/**
 * The backend's deep health check (database and Redis reachable). The ALB checks the liveness
 * path (`app.healthCheckPath`) so a failover does not cycle the fleet; Route 53 watches the
 * whole API from outside, so it uses the deep one.
 */
export const API_HEALTH_PATH = '/health';

const apiName = (config: Config, domain: string) => `${config.dns.apiSubdomain}.${domain}`;

/** Health checks carry no tags at creation; this caller-reference prefix marks ours. */
const callerPrefix = (config: Config) => `cloudmart-${config.stack}-hc-`;

/**
 * The health check's CallerReference (Route 53: at most 64 characters). It differs per create
 * (`nonce`): Route 53 refuses a reference that belonged to a deleted health check, so one
 * derived from the ALB alone could never be recreated after the check was deleted. A crash
 * between the create and the state write makes no second check: the next run finds this one
 * by its prefix and domain before creating.
 */
export function healthCheckReference(
  config: Config,
  albDnsName: string,
  type: string,
  nonce: string | number,
): string {
  const ref = createHash('sha256')
    .update(`${albDnsName}|${type}|${nonce}`)
    .digest('hex')
    .slice(0, 16);
  return `${callerPrefix(config)}${ref}`;
}

interface WantedRecord {
  Name: string;
  Type: 'A' | 'AAAA';
  AliasTarget: { HostedZoneId: string; DNSName: string; EvaluateTargetHealth: boolean };
}

/** The site (apex → CloudFront, IPv4 and IPv6) and the API (→ the ALB) alias records. */
export function wantedRecords(
  config: Config,
  domain: string,
  cdn: CdnOutputs,
  alb: AlbOutputs,
): WantedRecord[] {
  const toCdn = {
    HostedZoneId: CLOUDFRONT_HOSTED_ZONE_ID,
    DNSName: cdn.domainName,
    EvaluateTargetHealth: false,
  };
  return [
    { Name: domain, Type: 'A', AliasTarget: toCdn },
    { Name: domain, Type: 'AAAA', AliasTarget: toCdn },
    {
      Name: apiName(config, domain),
      Type: 'A',
      AliasTarget: {
        HostedZoneId: alb.canonicalHostedZoneId,
        DNSName: alb.dnsName,
        EvaluateTargetHealth: true,
      },
    },
  ];
}

function aliasMatches(live: ResourceRecordSet | undefined, want: WantedRecord): boolean {
  const a = live?.AliasTarget;
  return (
    !!a &&
    a.HostedZoneId === want.AliasTarget.HostedZoneId &&
    fqdn(a.DNSName ?? '') === fqdn(want.AliasTarget.DNSName) &&
    a.EvaluateTargetHealth === want.AliasTarget.EvaluateTargetHealth
  );
}

/** HTTPS on /health through the API name when the ALB serves TLS, else HTTP. */
export function wantedHealthCheck(
  config: Config,
  domain: string,
  https: boolean,
): HealthCheckConfig {
  return {
    Type: https ? 'HTTPS' : 'HTTP',
    FullyQualifiedDomainName: apiName(config, domain),
    Port: https ? 443 : 80,
    ResourcePath: API_HEALTH_PATH,
    RequestInterval: 30,
    FailureThreshold: 3,
    ...(https ? { EnableSNI: true } : {}),
  };
}

/** This stack's health check on the API name: marked by its caller reference. */
async function findHealthCheck(ctx: StepContext, domain: string): Promise<HealthCheck | undefined> {
  const { paginateListHealthChecks } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  const host = fqdn(apiName(ctx.config, domain));
  return firstInPages(
    paginateListHealthChecks({ client: r53 }, { MaxItems: 100 }),
    (page) => page.HealthChecks,
    (h) =>
      h.CallerReference?.startsWith(callerPrefix(ctx.config)) === true &&
      fqdn(h.HealthCheckConfig?.FullyQualifiedDomainName ?? '') === host,
  );
}

async function deleteHealthCheck(ctx: StepContext, id: string): Promise<void> {
  const { DeleteHealthCheckCommand } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  try {
    await retryWhile(ctx, () => r53.send(new DeleteHealthCheckCommand({ HealthCheckId: id })), {
      what: `deleting Route 53 health check ${id}`,
      when: isDependencyViolation, // HealthCheckInUse while a record still references it
      timeoutMs: 5 * 60_000,
    });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

async function ensureHealthCheck(
  ctx: StepContext,
  domain: string,
  alb: AlbOutputs,
): Promise<string> {
  const sdk = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  const want = wantedHealthCheck(ctx.config, domain, alb.httpsEnabled);
  let found = await findHealthCheck(ctx, domain);
  // The type cannot be changed in place (the ALB gained or lost its certificate): replace it.
  if (found?.Id && found.HealthCheckConfig?.Type !== want.Type) {
    ctx.progress(`Route 53 health check ${found.Id}: replacing (${want.Type})`);
    await deleteHealthCheck(ctx, found.Id);
    found = undefined;
  }
  let id = found?.Id;
  if (!id) {
    ctx.progress(
      `Route 53 health check ${want.Type} ${want.FullyQualifiedDomainName}${want.ResourcePath}: creating`,
    );
    const out = await r53.send(
      new sdk.CreateHealthCheckCommand({
        CallerReference: healthCheckReference(ctx.config, alb.dnsName, want.Type ?? '', ctx.now()),
        HealthCheckConfig: want,
      }),
    );
    id = out.HealthCheck?.Id;
    if (!id) throw new Error('CreateHealthCheck returned no id');
  } else {
    const live = found!.HealthCheckConfig ?? ({} as HealthCheckConfig);
    if (
      live.Port !== want.Port ||
      live.ResourcePath !== want.ResourcePath ||
      live.FailureThreshold !== want.FailureThreshold ||
      (want.EnableSNI ?? false) !== (live.EnableSNI ?? false)
    ) {
      await r53.send(
        new sdk.UpdateHealthCheckCommand({
          HealthCheckId: id,
          HealthCheckVersion: found!.HealthCheckVersion,
          Port: want.Port,
          ResourcePath: want.ResourcePath,
          FullyQualifiedDomainName: want.FullyQualifiedDomainName,
          FailureThreshold: want.FailureThreshold,
          ...(want.EnableSNI !== undefined ? { EnableSNI: want.EnableSNI } : {}),
        }),
      );
    }
  }

  // CreateHealthCheck takes no tags: add them, and again if a crash came in between.
  const tagged = await r53.send(
    new sdk.ListTagsForResourceCommand({ ResourceType: 'healthcheck', ResourceId: id }),
  );
  const want_tags = ctx.tags.list(names.of(ctx.config, 'api-health'));
  const live = new Map((tagged.ResourceTagSet?.Tags ?? []).map((t) => [t.Key, t.Value]));
  if (want_tags.some((t) => live.get(t.Key) !== t.Value)) {
    await r53.send(
      new sdk.ChangeTagsForResourceCommand({
        ResourceType: 'healthcheck',
        ResourceId: id,
        AddTags: want_tags,
      }),
    );
  }
  return id;
}

export const dnsRecordsStep = defineStep<DnsOutputs>({
  id: STEP.dns,
  phase: 1,
  title: 'Route 53 records and health check',
  needs: [STEP.cdn, STEP.alb, STEP.certificates],
  enabled: (config) => config.dns.domain !== null,
  actions: [
    'route53:ListResourceRecordSets',
    'route53:ChangeResourceRecordSets',
    'route53:GetChange',
    'route53:GetHostedZone',
    'route53:ListHostedZonesByName',
    'route53:ListHealthChecks',
    'route53:CreateHealthCheck',
    'route53:UpdateHealthCheck',
    'route53:DeleteHealthCheck',
    'route53:GetHealthCheckStatus',
    'route53:ListTagsForResource',
    'route53:ChangeTagsForResource',
  ],
  describe: (config) => {
    const domain = config.dns.domain ?? '<domain>';
    return [
      `alias A/AAAA ${domain} → the CloudFront distribution`,
      `alias A ${apiName(config, domain)} → the ALB`,
      `Route 53 health check on ${apiName(config, domain)}${API_HEALTH_PATH} (HTTPS when the ALB has a certificate)`,
    ];
  },

  async create(ctx) {
    const { ChangeResourceRecordSetsCommand } = await r53sdk();
    const r53 = await ctx.aws.get('route53');
    const certs = ctx.outputs<CertificatesOutputs>(STEP.certificates);
    const cdn = ctx.outputs<CdnOutputs>(STEP.cdn);
    const alb = ctx.outputs<AlbOutputs>(STEP.alb);
    const zoneId = certs.hostedZoneId;

    const changes = [];
    for (const want of wantedRecords(ctx.config, certs.domain, cdn, alb)) {
      const live = await readRecord(ctx, zoneId, want.Name, want.Type);
      if (!aliasMatches(live, want)) {
        changes.push({ Action: 'UPSERT' as const, ResourceRecordSet: want });
      }
    }
    if (changes.length > 0) {
      ctx.progress(`Route 53: writing ${changes.length} alias record(s)`);
      const out = await r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: { Comment: `cloudmart ${ctx.config.stack}: site and API`, Changes: changes },
        }),
      );
      if (out.ChangeInfo?.Id) await waitInsync(ctx, out.ChangeInfo.Id);
    }

    const healthCheckId = await ensureHealthCheck(ctx, certs.domain, alb);
    return {
      siteRecord: certs.domain,
      apiRecord: apiName(ctx.config, certs.domain),
      healthCheckId,
      hostedZoneId: zoneId,
    };
  },

  async verify(ctx) {
    const fix = 'cloudmart up --phase 1';
    const domain = ctx.config.dns.domain!;
    const certs = ctx.maybeOutputs<CertificatesOutputs>(STEP.certificates);
    const zoneId = certs?.hostedZoneId ?? (await findHostedZone(ctx))?.id;
    if (!zoneId) {
      return [
        {
          id: 'edge.dns.records',
          title: 'Site and API records',
          criterion: 'other',
          status: 'fail',
          evidence: `no hosted zone for ${domain}`,
          fix,
        },
      ];
    }
    const cdn = ctx.maybeOutputs<CdnOutputs>(STEP.cdn);
    const alb = ctx.maybeOutputs<AlbOutputs>(STEP.alb);
    const site = await readRecord(ctx, zoneId, domain, 'A');
    const api = await readRecord(ctx, zoneId, apiName(ctx.config, domain), 'A');
    const checks: Check[] = [
      {
        id: 'edge.dns.site',
        title: `${domain} points at CloudFront`,
        criterion: 'other',
        status:
          site?.AliasTarget?.HostedZoneId === CLOUDFRONT_HOSTED_ZONE_ID &&
          (!cdn || fqdn(site.AliasTarget.DNSName ?? '') === fqdn(cdn.domainName))
            ? 'pass'
            : 'fail',
        evidence: site?.AliasTarget
          ? `alias → ${site.AliasTarget.DNSName}`
          : `no alias A record ${domain}`,
        fix,
      },
      {
        id: 'edge.dns.api',
        title: `${apiName(ctx.config, domain)} points at the ALB`,
        criterion: 'other',
        status:
          api?.AliasTarget && (!alb || fqdn(api.AliasTarget.DNSName ?? '') === fqdn(alb.dnsName))
            ? 'pass'
            : 'fail',
        evidence: api?.AliasTarget
          ? `alias → ${api.AliasTarget.DNSName}`
          : `no alias A record ${apiName(ctx.config, domain)}`,
        fix,
      },
    ];
    const hc = await findHealthCheck(ctx, domain);
    if (!hc?.Id) {
      checks.push({
        id: 'edge.dns.health-check',
        title: 'Route 53 health check on the API',
        criterion: 'multi-az',
        status: 'fail',
        evidence: `no health check on ${apiName(ctx.config, domain)}`,
        fix,
      });
    } else {
      const { GetHealthCheckStatusCommand } = await r53sdk();
      const r53 = await ctx.aws.get('route53');
      const status = await r53.send(new GetHealthCheckStatusCommand({ HealthCheckId: hc.Id }));
      const obs = status.HealthCheckObservations ?? [];
      const healthy = obs.filter((o) => o.StatusReport?.Status?.startsWith('Success')).length;
      checks.push({
        id: 'edge.dns.health-check',
        title: 'Route 53 health check on the API reports healthy',
        criterion: 'multi-az',
        status: obs.length > 0 && healthy * 2 > obs.length ? 'pass' : 'warn',
        evidence: `${hc.Id} ${hc.HealthCheckConfig?.Type} ${hc.HealthCheckConfig?.ResourcePath}: ${healthy}/${obs.length} checkers healthy`,
        fix,
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const { ChangeResourceRecordSetsCommand } = await r53sdk();
    const r53 = await ctx.aws.get('route53');
    const domain = ctx.config.dns.domain;
    if (!domain) return;
    const zoneId =
      ctx.maybeOutputs<CertificatesOutputs>(STEP.certificates)?.hostedZoneId ??
      (ctx.previous?.hostedZoneId as string | undefined) ??
      (await findHostedZone(ctx))?.id;

    if (zoneId) {
      const deletes = [];
      for (const [name, type] of [
        [domain, 'A'],
        [domain, 'AAAA'],
        [apiName(ctx.config, domain), 'A'],
      ] as const) {
        // DELETE must repeat the record exactly as it is now.
        const live = await readRecord(ctx, zoneId, name, type);
        if (!live) continue;
        if (!live.AliasTarget) {
          ctx.warn(`Route 53 record ${name} ${type} is not an alias cloudmart made; it was kept.`);
          continue;
        }
        deletes.push({ Action: 'DELETE' as const, ResourceRecordSet: live });
      }
      if (deletes.length > 0) {
        try {
          await r53.send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: zoneId,
              ChangeBatch: { Comment: `cloudmart ${ctx.config.stack}: teardown`, Changes: deletes },
            }),
          );
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }

    const id =
      (await findHealthCheck(ctx, domain))?.Id ??
      (ctx.previous?.healthCheckId as string | undefined);
    if (id) await deleteHealthCheck(ctx, id);
  },
});
