import type {
  Action,
  Listener,
  LoadBalancer,
  TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { isAlreadyExists, isNotFound } from '../../aws/errors.js';
import { allPages } from '../../aws/pages.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import type { Config } from '../../config/schema.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import {
  STEP,
  type AlbOutputs,
  type CertificatesOutputs,
  type SecurityGroupsOutputs,
  type SubnetsOutputs,
} from '../outputs.js';
import { ALB_LOG_PREFIX, type AlbLogBucketOutputs } from './alb-log-bucket.js';
import { albSecurityGroupIds } from './security-groups.js';

const elbsdk = () => import('@aws-sdk/client-elastic-load-balancing-v2');
const ec2sdk = () => import('@aws-sdk/client-ec2');

/** TLS 1.3 with TLS 1.2 fallback, forward secrecy only. */
export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
/** Two failed checks 15 s apart take an instance out in ~30 s (the instance-loss drill). */
export const HEALTH_CHECK = { intervalSeconds: 15, timeoutSeconds: 5, healthy: 2, unhealthy: 2 };
export const DEREGISTRATION_DELAY_SECONDS = 30;

export const albName = (config: Config): string => names.of(config, 'alb');
export const targetGroupName = (config: Config): string => names.of(config, 'tg');

/** CloudWatch dimension of an ELB ARN: `app/<name>/<id>` or `targetgroup/<name>/<id>`. */
export function dimensionOf(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  return resource.startsWith('loadbalancer/') ? resource.slice('loadbalancer/'.length) : resource;
}

async function findLoadBalancer(ctx: StepContext): Promise<LoadBalancer | undefined> {
  const { DescribeLoadBalancersCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  try {
    const out = await elb.send(new DescribeLoadBalancersCommand({ Names: [albName(ctx.config)] }));
    return out.LoadBalancers?.[0];
  } catch (e) {
    if (isNotFound(e)) return undefined; // LoadBalancerNotFound
    throw e;
  }
}

async function findTargetGroup(ctx: StepContext): Promise<TargetGroup | undefined> {
  const { DescribeTargetGroupsCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  try {
    const out = await elb.send(
      new DescribeTargetGroupsCommand({ Names: [targetGroupName(ctx.config)] }),
    );
    return out.TargetGroups?.[0];
  } catch (e) {
    if (isNotFound(e)) return undefined; // TargetGroupNotFound
    throw e;
  }
}

async function vpcOf(ctx: StepContext, subnets: SubnetsOutputs): Promise<string> {
  if (subnets.vpcId) return subnets.vpcId;
  const { DescribeSubnetsCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const out = await ec2.send(
    new DescribeSubnetsCommand({ SubnetIds: [subnets.publicSubnetIds[0]!] }),
  );
  const vpcId = out.Subnets?.[0]?.VpcId;
  if (!vpcId) throw new Error(`subnet ${subnets.publicSubnetIds[0]} has no VPC`);
  return vpcId;
}

function healthCheckSettings(config: Config) {
  return {
    HealthCheckEnabled: true,
    HealthCheckProtocol: 'HTTP' as const,
    HealthCheckPort: 'traffic-port',
    HealthCheckPath: config.app.healthCheckPath,
    HealthCheckIntervalSeconds: HEALTH_CHECK.intervalSeconds,
    HealthCheckTimeoutSeconds: HEALTH_CHECK.timeoutSeconds,
    HealthyThresholdCount: HEALTH_CHECK.healthy,
    UnhealthyThresholdCount: HEALTH_CHECK.unhealthy,
    Matcher: { HttpCode: '200' },
  };
}

async function ensureTargetGroup(ctx: StepContext, vpcId: string): Promise<string> {
  const {
    CreateTargetGroupCommand,
    ModifyTargetGroupCommand,
    DescribeTargetGroupAttributesCommand,
    ModifyTargetGroupAttributesCommand,
  } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  const { config } = ctx;
  const name = targetGroupName(config);
  const health = healthCheckSettings(config);

  let tg = await findTargetGroup(ctx);
  if (!tg) {
    ctx.progress(
      `creating target group ${name} (HTTP ${config.app.port}, ${config.app.healthCheckPath})`,
    );
    const out = await elb.send(
      new CreateTargetGroupCommand({
        Name: name,
        Protocol: 'HTTP',
        ProtocolVersion: 'HTTP1',
        Port: config.app.port,
        VpcId: vpcId,
        TargetType: 'instance',
        ...health,
        Tags: ctx.tags.list(name),
      }),
    );
    tg = out.TargetGroups?.[0];
    if (!tg?.TargetGroupArn) throw new Error('CreateTargetGroup returned no target group');
  } else {
    // Port, protocol, VPC and target type cannot change in place.
    if (
      tg.Port !== config.app.port ||
      tg.Protocol !== 'HTTP' ||
      tg.VpcId !== vpcId ||
      tg.TargetType !== 'instance'
    ) {
      throw new CloudmartError(
        'AWS_ERROR',
        `Target group ${name} exists with ${tg.Protocol} ${tg.Port} (${tg.TargetType}) in ${tg.VpcId}, but the stack needs HTTP ${config.app.port} (instance) in ${vpcId}`,
        {
          hint: 'These settings cannot change in place: run "cloudmart destroy" and "cloudmart up" again, or restore app.port.',
        },
      );
    }
    const drift = (Object.keys(health) as Array<keyof typeof health>).some((k) =>
      k === 'Matcher' ? tg!.Matcher?.HttpCode !== health.Matcher.HttpCode : tg![k] !== health[k],
    );
    if (drift) {
      ctx.progress(`target group ${name}: updating the health check`);
      await elb.send(
        new ModifyTargetGroupCommand({ TargetGroupArn: tg.TargetGroupArn, ...health }),
      );
    }
  }
  const arn = tg.TargetGroupArn!;
  const attrs = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
  const delay = attrs.Attributes?.find(
    (a) => a.Key === 'deregistration_delay.timeout_seconds',
  )?.Value;
  if (delay !== String(DEREGISTRATION_DELAY_SECONDS)) {
    await elb.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: arn,
        Attributes: [
          {
            Key: 'deregistration_delay.timeout_seconds',
            Value: String(DEREGISTRATION_DELAY_SECONDS),
          },
        ],
      }),
    );
  }
  return arn;
}

async function ensureLoadBalancer(
  ctx: StepContext,
  subnetIds: string[],
  securityGroupIds: string[],
): Promise<LoadBalancer> {
  const { CreateLoadBalancerCommand, SetSubnetsCommand, SetSecurityGroupsCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  const name = albName(ctx.config);
  let lb = await findLoadBalancer(ctx);
  if (!lb) {
    ctx.progress(`creating ${name} (internet-facing, ${subnetIds.length} public subnets)`);
    try {
      const out = await elb.send(
        new CreateLoadBalancerCommand({
          Name: name,
          Type: 'application',
          Scheme: 'internet-facing',
          IpAddressType: 'ipv4',
          Subnets: subnetIds,
          SecurityGroups: securityGroupIds,
          Tags: ctx.tags.list(name),
        }),
      );
      lb = out.LoadBalancers?.[0];
    } catch (e) {
      if (!isAlreadyExists(e)) throw e; // DuplicateLoadBalancerName: a concurrent run made it
      lb = await findLoadBalancer(ctx);
    }
    if (!lb?.LoadBalancerArn) throw new Error('CreateLoadBalancer returned no load balancer');
    return lb;
  }
  if (lb.Scheme !== 'internet-facing' || lb.Type !== 'application') {
    throw new CloudmartError(
      'AWS_ERROR',
      `Load balancer ${name} exists as ${lb.Scheme} ${lb.Type}, but the stack needs an internet-facing application load balancer`,
      { hint: 'Delete it (cloudmart destroy) and run "cloudmart up --phase 1" again.' },
    );
  }
  const liveSubnets = (lb.AvailabilityZones ?? []).map((z) => z.SubnetId ?? '').sort();
  if (JSON.stringify(liveSubnets) !== JSON.stringify([...subnetIds].sort())) {
    ctx.progress(`${name}: moving to the stack's public subnets`);
    await elb.send(
      new SetSubnetsCommand({ LoadBalancerArn: lb.LoadBalancerArn, Subnets: subnetIds }),
    );
  }
  if (
    JSON.stringify([...(lb.SecurityGroups ?? [])].sort()) !==
    JSON.stringify([...securityGroupIds].sort())
  ) {
    ctx.progress(`${name}: setting the security groups`);
    await elb.send(
      new SetSecurityGroupsCommand({
        LoadBalancerArn: lb.LoadBalancerArn,
        SecurityGroups: securityGroupIds,
      }),
    );
  }
  return lb;
}

export function desiredAttributes(bucket: string): Record<string, string> {
  return {
    // Off so that destroy works; the seed's stack is short-lived.
    'deletion_protection.enabled': 'false',
    'routing.http2.enabled': 'true',
    'routing.http.drop_invalid_header_fields.enabled': 'true',
    'access_logs.s3.enabled': 'true',
    'access_logs.s3.bucket': bucket,
    'access_logs.s3.prefix': ALB_LOG_PREFIX,
  };
}

async function liveAttributes(ctx: StepContext, arn: string): Promise<Record<string, string>> {
  const { DescribeLoadBalancerAttributesCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  const out = await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }));
  return Object.fromEntries((out.Attributes ?? []).map((a) => [a.Key ?? '', a.Value ?? '']));
}

/** ELB checks the bucket policy when logging is switched on; a fresh policy can take a moment. */
function isLogBucketNotReady(e: unknown): boolean {
  const err = e as { name?: string; message?: string } | null;
  return (
    /InvalidConfigurationRequest/.test(err?.name ?? '') &&
    /access denied|bucket/i.test(err?.message ?? '')
  );
}

async function ensureAttributes(ctx: StepContext, arn: string, bucket: string): Promise<void> {
  const { ModifyLoadBalancerAttributesCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  const live = await liveAttributes(ctx, arn);
  const changes = Object.entries(desiredAttributes(bucket))
    .filter(([k, v]) => live[k] !== v)
    .map(([Key, Value]) => ({ Key, Value }));
  if (changes.length === 0) return;
  ctx.progress(`${albName(ctx.config)}: setting ${changes.map((c) => c.Key).join(', ')}`);
  await retryWhile(
    ctx,
    () =>
      elb.send(
        new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: arn, Attributes: changes }),
      ),
    {
      what: `${albName(ctx.config)}: access logs to ${bucket}`,
      when: isLogBucketNotReady,
      timeoutMs: 120_000,
    },
  );
}

interface ListenerSpec {
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  sslPolicy?: string;
  certificateArn?: string;
  action: Action;
}

export function desiredListeners(targetGroupArn: string, certificateArn?: string): ListenerSpec[] {
  const forward: Action = { Type: 'forward', TargetGroupArn: targetGroupArn };
  if (!certificateArn) return [{ port: 80, protocol: 'HTTP', action: forward }];
  return [
    { port: 443, protocol: 'HTTPS', sslPolicy: TLS_POLICY, certificateArn, action: forward },
    {
      port: 80,
      protocol: 'HTTP',
      action: {
        Type: 'redirect',
        RedirectConfig: {
          Protocol: 'HTTPS',
          Port: '443',
          Host: '#{host}',
          Path: '/#{path}',
          Query: '#{query}',
          StatusCode: 'HTTP_301',
        },
      },
    },
  ];
}

/** What a default action does, however AWS spells it back (ForwardConfig vs TargetGroupArn). */
function actionKey(actions: Action[] | undefined): string {
  const a = actions?.[0];
  const r = a?.RedirectConfig;
  return JSON.stringify({
    type: a?.Type,
    tg: a?.TargetGroupArn ?? a?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn,
    redirect: r
      ? [r.Protocol, r.Port, r.Host, r.Path, r.Query, r.StatusCode].map((x) => x ?? '').join('|')
      : undefined,
  });
}

function listenerMatches(l: Listener, spec: ListenerSpec): boolean {
  return (
    l.Protocol === spec.protocol &&
    (spec.sslPolicy === undefined || l.SslPolicy === spec.sslPolicy) &&
    (spec.certificateArn === undefined ||
      l.Certificates?.[0]?.CertificateArn === spec.certificateArn) &&
    actionKey(l.DefaultActions) === actionKey([spec.action])
  );
}

async function listListeners(ctx: StepContext, lbArn: string): Promise<Listener[]> {
  const { paginateDescribeListeners } = await elbsdk();
  return allPages(
    paginateDescribeListeners({ client: await ctx.aws.get('elbv2') }, { LoadBalancerArn: lbArn }),
    (page) => page.Listeners,
  );
}

async function ensureListeners(
  ctx: StepContext,
  lbArn: string,
  specs: ListenerSpec[],
): Promise<string[]> {
  const { CreateListenerCommand, ModifyListenerCommand, DeleteListenerCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  const live = await listListeners(ctx, lbArn);
  const arns: string[] = [];
  for (const spec of specs) {
    const tls =
      spec.protocol === 'HTTPS'
        ? { SslPolicy: spec.sslPolicy, Certificates: [{ CertificateArn: spec.certificateArn }] }
        : {};
    const existing = live.find((l) => l.Port === spec.port);
    // ELB learns of a certificate ACM has just issued only after a while and answers
    // CertificateNotFound until then: retried within a bound, for an HTTPS listener only.
    const withCertificate = <T>(what: string, send: () => Promise<T>) =>
      spec.protocol === 'HTTPS'
        ? retryWhile(ctx, send, {
            what: `${albName(ctx.config)}: ${what} (the certificate was just issued)`,
            when: (e) => /CertificateNotFound/.test((e as Error).name),
            timeoutMs: 2 * 60_000,
            minDelayMs: 2_000,
            maxDelayMs: 10_000,
          })
        : send();
    if (!existing) {
      ctx.progress(`${albName(ctx.config)}: adding the ${spec.protocol} ${spec.port} listener`);
      const out = await withCertificate(`the ${spec.port} listener`, () =>
        elb.send(
          new CreateListenerCommand({
            LoadBalancerArn: lbArn,
            Port: spec.port,
            Protocol: spec.protocol,
            ...tls,
            DefaultActions: [spec.action],
            Tags: ctx.tags.list(`${albName(ctx.config)}-${spec.port}`),
          }),
        ),
      );
      arns.push(out.Listeners?.[0]?.ListenerArn ?? '');
    } else {
      if (!listenerMatches(existing, spec)) {
        ctx.progress(
          `${albName(ctx.config)}: updating the ${spec.port} listener to ${spec.protocol}`,
        );
        await withCertificate(`the ${spec.port} listener`, () =>
          elb.send(
            new ModifyListenerCommand({
              ListenerArn: existing.ListenerArn,
              Port: spec.port,
              Protocol: spec.protocol,
              ...tls,
              DefaultActions: [spec.action],
            }),
          ),
        );
      }
      arns.push(existing.ListenerArn!);
    }
  }
  // A 443 listener left from a run with a domain, now removed: plain HTTP only.
  for (const l of live) {
    if ((l.Port === 80 || l.Port === 443) && !specs.some((s) => s.port === l.Port)) {
      ctx.progress(`${albName(ctx.config)}: removing the ${l.Protocol} ${l.Port} listener`);
      await elb.send(new DeleteListenerCommand({ ListenerArn: l.ListenerArn }));
    }
  }
  return arns;
}

async function waitActive(ctx: StepContext, lb: LoadBalancer): Promise<LoadBalancer> {
  if (lb.State?.Code === 'active') return lb;
  const { DescribeLoadBalancersCommand } = await elbsdk();
  const elb = await ctx.aws.get('elbv2');
  let current = lb;
  await waitUntil(
    ctx,
    async () => {
      const out = await elb.send(
        new DescribeLoadBalancersCommand({ LoadBalancerArns: [lb.LoadBalancerArn!] }),
      );
      current = out.LoadBalancers?.[0] ?? current;
      const state = current.State?.Code ?? 'provisioning';
      return state === 'failed'
        ? {
            done: false,
            failed: `failed (${current.State?.Reason ?? 'no reason given'})`,
            status: state,
          }
        : { done: state === 'active', status: state };
    },
    {
      what: `ALB ${albName(ctx.config)} to be active`,
      minDelayMs: 5_000,
      maxDelayMs: 15_000,
      timeoutMs: 10 * 60_000,
    },
  );
  return current;
}

export const loadBalancerStep = defineStep<AlbOutputs>({
  id: STEP.alb,
  phase: 1,
  title: 'Application load balancer',
  // The IGW: AWS refuses an internet-facing ALB in a VPC without one, and on destroy the IGW
  // cannot be detached while the ALB's public addresses are mapped.
  needs: [STEP.subnets, STEP.igw, STEP.securityGroups, STEP.albLogBucket, STEP.certificates],
  actions: [
    'elasticloadbalancing:DescribeLoadBalancers',
    'elasticloadbalancing:DescribeLoadBalancerAttributes',
    'elasticloadbalancing:DescribeTargetGroups',
    'elasticloadbalancing:DescribeTargetGroupAttributes',
    'elasticloadbalancing:DescribeListeners',
    'elasticloadbalancing:CreateLoadBalancer',
    'elasticloadbalancing:CreateTargetGroup',
    'elasticloadbalancing:CreateListener',
    'elasticloadbalancing:AddTags',
    'elasticloadbalancing:ModifyLoadBalancerAttributes',
    'elasticloadbalancing:ModifyTargetGroup',
    'elasticloadbalancing:ModifyTargetGroupAttributes',
    'elasticloadbalancing:ModifyListener',
    'elasticloadbalancing:SetSubnets',
    'elasticloadbalancing:SetSecurityGroups',
    'elasticloadbalancing:DeleteListener',
    'elasticloadbalancing:DeleteLoadBalancer',
    'elasticloadbalancing:DeleteTargetGroup',
    'ec2:DescribeSubnets',
    'ec2:DescribeNetworkInterfaces',
    // What ELB itself checks with the caller's permissions on CreateLoadBalancer, CreateTargetGroup,
    // SetSubnets and SetSecurityGroups ("Elastic Load Balancing API permissions",
    // https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-permissions.html);
    // without them the ALB is denied although elasticloadbalancing:* is allowed.
    'ec2:DescribeAccountAttributes',
    'ec2:DescribeAddresses',
    'ec2:DescribeInternetGateways',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeVpcs',
    // The first load balancer of an account creates AWSServiceRoleForElasticLoadBalancing.
    'iam:CreateServiceLinkedRole',
  ],
  describe: (config) => [
    `ALB ${albName(config)}: internet-facing in both public subnets, HTTP/2, deletion protection off, access logs to the ALB log bucket`,
    `Target group ${targetGroupName(config)}: HTTP ${config.app.port}, health check ${config.app.healthCheckPath} (200, every ${HEALTH_CHECK.intervalSeconds} s), deregistration delay ${DEREGISTRATION_DELAY_SECONDS} s`,
    config.dns.domain
      ? `Listeners: HTTPS 443 (${TLS_POLICY}, ACM certificate for ${config.dns.domain}) and HTTP 80 → 301 to HTTPS`
      : 'Listener: HTTP 80 only (no dns.domain configured, so no TLS certificate)',
  ],

  async create(ctx) {
    const subnets = ctx.outputs<SubnetsOutputs>(STEP.subnets);
    const sg = ctx.outputs<SecurityGroupsOutputs>(STEP.securityGroups);
    const logs = ctx.outputs<AlbLogBucketOutputs>(STEP.albLogBucket);
    const certificateArn = ctx.maybeOutputs<CertificatesOutputs>(
      STEP.certificates,
    )?.regionalCertificateArn;

    const targetGroupArn = await ensureTargetGroup(ctx, await vpcOf(ctx, subnets));
    let lb = await ensureLoadBalancer(ctx, subnets.publicSubnetIds, albSecurityGroupIds(sg));
    const lbArn = lb.LoadBalancerArn!;
    await ensureAttributes(ctx, lbArn, logs.bucketName);
    const listenerArns = await ensureListeners(
      ctx,
      lbArn,
      desiredListeners(targetGroupArn, certificateArn),
    );
    lb = await waitActive(ctx, lb);

    return {
      loadBalancerArn: lbArn,
      loadBalancerName: albName(ctx.config),
      loadBalancerDimension: dimensionOf(lbArn),
      dnsName: lb.DNSName ?? '',
      canonicalHostedZoneId: lb.CanonicalHostedZoneId ?? '',
      targetGroupArn,
      targetGroupName: targetGroupName(ctx.config),
      targetGroupDimension: dimensionOf(targetGroupArn),
      listenerArns,
      httpsEnabled: certificateArn !== undefined,
    };
  },

  async verify(ctx) {
    const name = albName(ctx.config);
    const fix = 'cloudmart up --phase 1';
    const lb = await findLoadBalancer(ctx);
    if (!lb?.LoadBalancerArn) {
      return [
        {
          id: 'app.alb.exists',
          title: 'Application load balancer exists',
          criterion: 'scalability',
          status: 'fail',
          evidence: `no load balancer named ${name}`,
          fix,
        },
      ];
    }
    const [attrs, listeners, tg] = await Promise.all([
      liveAttributes(ctx, lb.LoadBalancerArn),
      listListeners(ctx, lb.LoadBalancerArn),
      findTargetGroup(ctx),
    ]);
    const azs = (lb.AvailabilityZones ?? []).map((z) => z.ZoneName ?? '?');
    const https = listeners.find((l) => l.Protocol === 'HTTPS' && l.Port === 443);
    const http = listeners.find((l) => l.Port === 80);
    const domain = ctx.config.dns.domain;
    const redirect = http?.DefaultActions?.[0]?.RedirectConfig;

    const checks: Check[] = [
      {
        id: 'app.alb.active',
        title: 'ALB is active and internet-facing',
        criterion: 'scalability',
        status: lb.State?.Code === 'active' && lb.Scheme === 'internet-facing' ? 'pass' : 'fail',
        evidence: `${name} state=${lb.State?.Code ?? '?'} scheme=${lb.Scheme ?? '?'} dns=${lb.DNSName ?? '?'}`,
        fix,
      },
      {
        id: 'app.alb.multi-az',
        title: 'ALB spans two Availability Zones',
        criterion: 'multi-az',
        status: new Set(azs).size >= 2 ? 'pass' : 'fail',
        evidence: `${name} in ${azs.join(', ') || 'no zones'}`,
        fix,
      },
      https
        ? {
            id: 'app.alb.tls',
            title: 'ALB terminates TLS with a modern policy',
            criterion: 'encryption',
            status: https.SslPolicy === TLS_POLICY ? 'pass' : 'warn',
            evidence: `HTTPS 443 listener, policy ${https.SslPolicy ?? '?'}, certificate ${https.Certificates?.[0]?.CertificateArn ?? '?'}`,
            fix,
          }
        : {
            id: 'app.alb.tls',
            title: 'ALB terminates TLS with a modern policy',
            criterion: 'encryption',
            // Without a domain there can be no certificate: say so plainly rather than pass.
            status: domain ? 'fail' : 'warn',
            evidence: domain
              ? `dns.domain is ${domain} but ${name} has no HTTPS 443 listener`
              : `no dns.domain configured: ${name} serves plain HTTP on port 80 (traffic between clients and the ALB is not encrypted)`,
            fix: domain
              ? fix
              : 'set dns.domain in cloudmart.config.yaml, then cloudmart up --phase 1',
          },
    ];
    if (https || domain) {
      checks.push({
        id: 'app.alb.http-redirect',
        title: 'HTTP 80 redirects to HTTPS (301)',
        criterion: 'encryption',
        status:
          redirect?.Protocol === 'HTTPS' && redirect.StatusCode === 'HTTP_301' ? 'pass' : 'fail',
        evidence: http
          ? `HTTP 80 default action ${http.DefaultActions?.[0]?.Type ?? '?'}${redirect ? ` → ${redirect.Protocol ?? '?'} ${redirect.StatusCode ?? '?'}` : ''}`
          : 'no HTTP 80 listener',
        fix,
      });
    }
    checks.push(
      {
        id: 'app.alb.access-logs',
        title: 'ALB access logs are delivered to S3',
        criterion: 'audit-logs',
        status: attrs['access_logs.s3.enabled'] === 'true' ? 'pass' : 'fail',
        evidence: `access_logs.s3.enabled=${attrs['access_logs.s3.enabled'] ?? '?'} bucket=${attrs['access_logs.s3.bucket'] || '(none)'} prefix=${attrs['access_logs.s3.prefix'] || '(none)'}`,
        fix,
      },
      {
        id: 'app.alb.deletion-protection',
        title: 'ALB deletion protection off (so destroy can remove it)',
        criterion: 'other',
        status: attrs['deletion_protection.enabled'] === 'false' ? 'pass' : 'warn',
        evidence: `deletion_protection.enabled=${attrs['deletion_protection.enabled'] ?? '?'}, routing.http2.enabled=${attrs['routing.http2.enabled'] ?? '?'}`,
        fix,
      },
      {
        id: 'app.alb.health-check',
        title: `Target group health check on ${ctx.config.app.healthCheckPath}`,
        criterion: 'auto-scaling',
        status:
          tg?.HealthCheckPath === ctx.config.app.healthCheckPath && tg.Matcher?.HttpCode === '200'
            ? 'pass'
            : 'fail',
        evidence: tg
          ? `${tg.TargetGroupName ?? '?'} ${tg.Protocol ?? '?'} ${tg.Port ?? '?'} health ${tg.HealthCheckPath ?? '?'} matcher ${tg.Matcher?.HttpCode ?? '?'} every ${tg.HealthCheckIntervalSeconds ?? '?'} s`
          : `no target group named ${targetGroupName(ctx.config)}`,
        fix,
      },
    );
    return checks;
  },

  async teardown(ctx) {
    const {
      DeleteListenerCommand,
      DeleteLoadBalancerCommand,
      DeleteTargetGroupCommand,
      DescribeLoadBalancersCommand,
      ModifyLoadBalancerAttributesCommand,
    } = await elbsdk();
    const elb = await ctx.aws.get('elbv2');
    const name = albName(ctx.config);

    const lb = await findLoadBalancer(ctx);
    if (lb?.LoadBalancerArn) {
      const arn = lb.LoadBalancerArn;
      // Listeners first: they hold the target group and the certificate.
      for (const l of await listListeners(ctx, arn).catch((e: unknown) => {
        if (isNotFound(e)) return [];
        throw e;
      })) {
        try {
          await elb.send(new DeleteListenerCommand({ ListenerArn: l.ListenerArn }));
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      ctx.progress(`deleting ${name}`);
      try {
        await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }));
      } catch (e) {
        if (isNotFound(e)) {
          // already gone
        } else if ((e as Error).name === 'OperationNotPermittedException') {
          // Someone turned deletion protection on: turn it off, then delete.
          ctx.warn(`${name} had deletion protection on; turning it off to delete it`);
          await elb.send(
            new ModifyLoadBalancerAttributesCommand({
              LoadBalancerArn: arn,
              Attributes: [{ Key: 'deletion_protection.enabled', Value: 'false' }],
            }),
          );
          await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }));
        } else {
          throw e;
        }
      }
      await waitUntil(
        ctx,
        async () => {
          try {
            const out = await elb.send(
              new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }),
            );
            return { done: (out.LoadBalancers ?? []).length === 0, status: 'deleting' };
          } catch (e) {
            if (isNotFound(e)) return { done: true, status: 'deleted' };
            throw e;
          }
        },
        {
          what: `ALB ${name} to be deleted`,
          minDelayMs: 3_000,
          maxDelayMs: 15_000,
          timeoutMs: 10 * 60_000,
        },
      );
      await waitForEnis(ctx, `ELB ${dimensionOf(arn)}`);
    }

    const tg = await findTargetGroup(ctx);
    if (tg?.TargetGroupArn) {
      ctx.progress(`deleting target group ${tg.TargetGroupName ?? targetGroupName(ctx.config)}`);
      try {
        // ResourceInUse while a listener or the Auto Scaling group still lets go of it.
        await retryWhile(
          ctx,
          () => elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: tg.TargetGroupArn })),
          {
            what: `deleting target group ${tg.TargetGroupName ?? ''}`,
            timeoutMs: 5 * 60_000,
          },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  },
});

/**
 * The ALB's network interfaces outlive it by a minute or two and keep its subnets and security
 * group busy: wait until they are released, so the network teardown does not fight them.
 */
async function waitForEnis(ctx: StepContext, description: string): Promise<void> {
  const { paginateDescribeNetworkInterfaces } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  try {
    await waitUntil(
      ctx,
      async () => {
        const left = (
          await allPages(
            paginateDescribeNetworkInterfaces(
              { client: ec2 },
              { Filters: [{ Name: 'description', Values: [description] }] },
            ),
            (page) => page.NetworkInterfaces,
          )
        ).length;
        return { done: left === 0, status: `${left} network interface(s) still attached` };
      },
      {
        what: `network interfaces of ${description}`,
        minDelayMs: 5_000,
        maxDelayMs: 15_000,
        timeoutMs: 10 * 60_000,
      },
    );
  } catch (e) {
    // The ALB itself is gone; the network steps retry on whatever the ENIs still hold.
    if (!(e instanceof CloudmartError && e.code === 'TIMEOUT')) throw e;
    ctx.warn(
      `${description}: network interfaces still present after 10 minutes; the subnet and security group deletes will keep retrying`,
    );
  }
}
