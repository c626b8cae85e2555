/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import { gunzipSync } from 'node:zlib';
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, page, statements, tagMap } from '../util.js';
import { bucketByName, writeObject } from './s3.js';
import type { World } from '../world.js';
import { createEni, EC2_TYPES, releaseEnis } from './ec2.js';
import { RDS_TYPES } from './rds.js';
import { PARAMETER } from './small.js';
import { date, tags } from './shared.js';

/**
 * Elastic Load Balancing v2: application load balancers (provisioning → active, network
 * interfaces per subnet that outlive the ALB), target groups with target health, listeners,
 * attributes (access logs are checked against the bucket policy and write ELB's test file).
 */

const T = {
  lb: 'elasticloadbalancing:loadbalancer',
  tg: 'elasticloadbalancing:targetgroup',
  listener: 'elasticloadbalancing:listener',
} as const;
export const ELB_TYPES = T;

/** Canonical hosted zone ids of ALBs per region (the ones AWS publishes). */
const ALB_ZONES: Record<string, string> = {
  'ap-northeast-2': 'ZWKZPGTI48KDX',
  'ap-northeast-1': 'Z14GRHDCWA56QT',
  'us-east-1': 'Z35SXDOTRQ7X7K',
  'us-west-2': 'Z1H1FL5HABSF5',
  'eu-west-1': 'Z32O12XQLNTSW2',
};

const LB_DEFAULT_ATTRIBUTES: Record<string, string> = {
  'access_logs.s3.enabled': 'false',
  'access_logs.s3.bucket': '',
  'access_logs.s3.prefix': '',
  'idle_timeout.timeout_seconds': '60',
  'deletion_protection.enabled': 'false',
  'routing.http2.enabled': 'true',
  'routing.http.drop_invalid_header_fields.enabled': 'false',
  'routing.http.xff_client_port.enabled': 'false',
  'routing.http.preserve_host_header.enabled': 'false',
  'routing.http.xff_header_processing.mode': 'append',
  'routing.http.desync_mitigation_mode': 'defensive',
  'routing.http.x_amzn_tls_version_and_cipher_suite.enabled': 'false',
  'waf.fail_open.enabled': 'false',
  'load_balancing.cross_zone.enabled': 'true',
  'client_keep_alive.seconds': '3600',
  'connection_logs.s3.enabled': 'false',
  'connection_logs.s3.bucket': '',
  'connection_logs.s3.prefix': '',
  'zonal_shift.config.enabled': 'false',
};

const TG_DEFAULT_ATTRIBUTES: Record<string, string> = {
  'deregistration_delay.timeout_seconds': '300',
  'stickiness.enabled': 'false',
  'stickiness.type': 'lb_cookie',
  'stickiness.lb_cookie.duration_seconds': '86400',
  'slow_start.duration_seconds': '0',
  'load_balancing.algorithm.type': 'round_robin',
  'load_balancing.cross_zone.enabled': 'use_load_balancer_configuration',
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': '1',
};

/** `app/<name>/<id>` (the CloudWatch dimension and the ENI description suffix). */
function dimension(arn: string): string {
  return arn
    .split(':')
    .slice(5)
    .join(':')
    .replace(/^loadbalancer\//, '');
}

/** Register instances in a target group (Auto Scaling does this for InService instances). */
export function registerTargets(
  w: World,
  region: string,
  tgArn: string,
  ids: string[],
  port?: number,
): void {
  const tg = w.live(T.tg, region, tgArn);
  if (!tg) return;
  const targets = tg.data.targets as In[];
  for (const id of ids) {
    if (targets.some((t) => t.id === id && !t.drainingUntil)) continue;
    tg.data.targets = targets.filter((t) => t.id !== id);
    (tg.data.targets as In[]).push({ id, port: port ?? tg.data.port, registeredAt: w.now() });
  }
}

export function deregisterTargets(w: World, region: string, tgArn: string, ids: string[]): void {
  const tg = w.get(T.tg, region, tgArn);
  if (!tg) return;
  const delay =
    Number(
      (tg.data.attributes as Record<string, string>)['deregistration_delay.timeout_seconds'] ?? 300,
    ) * 1000;
  for (const t of tg.data.targets as In[]) {
    if (ids.includes(t.id as string) && !t.drainingUntil)
      t.drainingUntil = w.now() + (w.t('quick') === 0 ? 0 : delay);
  }
}

export function elbv2Service(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('elbv2', code, message);

  const lbByArn = (region: string, arn: string) => {
    const r = w.live(T.lb, region, arn);
    if (!r) throw err('LoadBalancerNotFoundException', `Load balancers '[${arn}]' not found`);
    return r;
  };
  const tgByArn = (region: string, arn: string) => {
    const r = w.live(T.tg, region, arn);
    if (!r) throw err('TargetGroupNotFoundException', `Target groups '[${arn}]' not found`);
    return r;
  };

  function lbShape(r: Resource): In {
    const d = r.data;
    return {
      LoadBalancerArn: r.id,
      DNSName: d.dnsName,
      CanonicalHostedZoneId: d.zoneId,
      CreatedTime: date(r.createdAt),
      LoadBalancerName: r.name,
      Scheme: d.scheme,
      VpcId: d.vpcId,
      State: {
        Code: r.state === 'deleting' ? (d.stateBeforeDelete ?? 'active') : r.state,
        ...(d.reason ? { Reason: d.reason } : {}),
      },
      Type: d.type,
      AvailabilityZones: (d.subnets as string[]).map((s) => ({
        ZoneName: w.get(EC2_TYPES.subnet, r.region, s)?.data.az,
        SubnetId: s,
        LoadBalancerAddresses: [],
      })),
      SecurityGroups: [...(d.securityGroups as string[])],
      IpAddressType: d.ipAddressType,
    };
  }

  function tgShape(r: Resource): In {
    const d = r.data;
    return {
      TargetGroupArn: r.id,
      TargetGroupName: r.name,
      Protocol: d.protocol,
      ProtocolVersion: d.protocolVersion,
      Port: d.port,
      VpcId: d.vpcId,
      TargetType: d.targetType,
      IpAddressType: 'ipv4',
      ...clone(d.health),
      LoadBalancerArns: listenersUsing(r.region, r.id),
    };
  }

  function actions(input: In[] | undefined): In[] {
    return (input ?? []).map((a, i) => {
      if (a.Type === 'forward') {
        const arn = a.TargetGroupArn ?? a.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
        return {
          Type: 'forward',
          TargetGroupArn: arn,
          Order: a.Order ?? i + 1,
          ForwardConfig: {
            TargetGroups: [{ TargetGroupArn: arn, Weight: 1 }],
            TargetGroupStickinessConfig: { Enabled: false },
          },
        };
      }
      return { ...clone(a), Order: a.Order ?? i + 1 };
    });
  }

  function listenerShape(r: Resource): In {
    const d = r.data;
    return {
      ListenerArn: r.id,
      LoadBalancerArn: d.lbArn,
      Port: d.port,
      Protocol: d.protocol,
      ...(d.certificates ? { Certificates: clone(d.certificates) } : {}),
      ...(d.sslPolicy ? { SslPolicy: d.sslPolicy } : {}),
      DefaultActions: clone(d.actions),
    };
  }

  /** LB ARNs whose listeners forward to a target group. */
  function listenersUsing(region: string, tgArn: string): string[] {
    const lbs = new Set<string>();
    for (const l of w.find(T.listener, region)) {
      if ((l.data.actions as In[]).some((a) => a.TargetGroupArn === tgArn))
        lbs.add(l.data.lbArn as string);
    }
    return [...lbs];
  }

  function certificateUse(
    region: string,
    listenerArn: string,
    certs: In[] | undefined,
    add: boolean,
  ): void {
    for (const c of certs ?? []) {
      const cert = w.live('acm:certificate', region, c.CertificateArn as string);
      if (!cert) continue;
      const inUse = new Set(cert.data.inUseBy as string[]);
      if (add) inUse.add(listenerArn);
      else inUse.delete(listenerArn);
      cert.data.inUseBy = [...inUse];
    }
  }

  function checkListener(region: string, lb: Resource, input: In): void {
    for (const a of input.DefaultActions ?? []) {
      const arn = a.TargetGroupArn ?? a.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
      if (a.Type === 'forward') tgByArn(region, arn as string);
    }
    if (input.Protocol === 'HTTPS') {
      const certs = (input.Certificates ?? []) as In[];
      if (certs.length === 0)
        throw err(
          'CertificateNotFoundException',
          'A certificate must be specified for HTTPS listeners',
        );
      for (const c of certs) {
        const cert = w.live('acm:certificate', region, c.CertificateArn as string);
        // ELB learns of a certificate ACM has just issued only after a while: until then it
        // answers CertificateNotFound, as for one that does not exist.
        const issuedAt = cert?.data.issuedAt as number | undefined;
        if (!cert || (issuedAt !== undefined && w.now() - issuedAt < w.t('acmToElb')))
          throw err(
            'CertificateNotFoundException',
            `Certificate '${String(c.CertificateArn)}' not found`,
          );
        if (cert.state !== 'ISSUED') {
          throw err(
            'UnsupportedCertificate',
            `The certificate '${String(c.CertificateArn)}' must have a fully-qualified domain name, a supported signature, and a supported key size.`,
          );
        }
      }
    }
    void lb;
  }

  /** ELB checks that its log delivery may write the access logs before switching them on. */
  function checkLogBucket(region: string, bucket: string, prefix: string): void {
    const b = bucketByName(w, bucket);
    const denied = () =>
      err(
        'InvalidConfigurationRequestException',
        `Access Denied for bucket: ${bucket}. Please check S3bucket permission`,
      );
    if (!b || b.region !== region) throw denied();
    const resource = `arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}AWSLogs/${w.account}/`;
    const ok = statements(b.data.policy).some((s) => {
      const principal = JSON.stringify(s.Principal ?? '');
      const actionsList = [s.Action].flat() as string[];
      const resources = [s.Resource].flat() as string[];
      return (
        s.Effect === 'Allow' &&
        /elasticloadbalancing|logdelivery|:root/.test(principal) &&
        actionsList.some((a) => a === 's3:PutObject' || a === 's3:*') &&
        resources.some(
          (r) =>
            resource.startsWith(r.replace(/\*$/, '')) || r.replace(/\*$/, '').startsWith(resource),
        )
      );
    });
    if (!ok) throw denied();
  }

  w.onEvent('elbv2.lb.active', (lb) => {
    lb.data.activeAt = w.now();
  });

  /**
   * When cloudmart's reference backend on `instance` can answer its health check (simulated ms),
   * or undefined while it cannot: its service reads the stack's settings from SSM at every
   * start (user-data.ts, PREFIX in the env writer) and listens once its database answers. So it
   * is up only once `<prefix>/db/endpoint` and `<prefix>/redis/endpoint` exist and the first
   * names an RDS instance past `creating`. Instances that do not run the reference backend
   * (another user data, a container image) are not held back.
   */
  function appReadyAt(instance: Resource): number | undefined {
    const userData = instance.data.userData as string | undefined;
    if (!userData) return 0;
    // cloud-init runs gzip user data uncompressed (cloudmart sends it gzipped).
    const raw = Buffer.from(userData, 'base64');
    const script = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
    const prefix = /^PREFIX = "([^"]+)"$/m.exec(script)?.[1];
    if (!prefix || !script.includes('/usr/local/libexec/cloudmart-env')) return 0;
    const db = w.live(PARAMETER, instance.region, `${prefix}/db/endpoint`);
    const cache = w.live(PARAMETER, instance.region, `${prefix}/redis/endpoint`);
    if (!db || !cache) return undefined;
    const rds = w.find(RDS_TYPES.db, instance.region, (r) => r.data.endpoint === db.data.value)[0];
    if (!rds || rds.gone || ['creating', 'deleting'].includes(rds.state)) return undefined;
    const written = (p: Resource) => (p.data.modifiedAt as number | undefined) ?? p.createdAt;
    return Math.max(written(db), written(cache)) + w.t('appStart');
  }

  /** A target group's live targets and their health, from the instances and the listeners. */
  function targetHealth(tg: Resource): In[] {
    const lbs = listenersUsing(tg.region, tg.id)
      .map((arn) => w.live(T.lb, tg.region, arn))
      .filter(Boolean) as Resource[];
    const activeLb = lbs.find((lb) => lb.state === 'active');
    const now = w.now();
    tg.data.targets = (tg.data.targets as In[]).filter(
      (t) => !(t.drainingUntil !== undefined && t.drainingUntil <= now),
    );
    return (tg.data.targets as In[]).map((t) => {
      const instance = w.get(EC2_TYPES.instance, tg.region, t.id as string);
      let state: string;
      let reason: string | undefined;
      if (t.drainingUntil !== undefined) {
        state = 'draining';
        reason = 'Target.DeregistrationInProgress';
      } else if (lbs.length === 0) {
        state = 'unused';
        reason = 'Target.NotInUse';
      } else if (!instance || instance.gone || instance.state !== 'running') {
        state = instance && instance.state === 'pending' ? 'initial' : 'unhealthy';
        reason = state === 'initial' ? 'Elb.RegistrationInProgress' : 'Target.NotRegistered';
      } else if (instance.data.unhealthy === true) {
        state = 'unhealthy';
        reason = 'Target.FailedHealthChecks';
      } else if (!activeLb) {
        state = 'initial';
        reason = 'Elb.RegistrationInProgress';
      } else {
        // Once up, the app stays up (the ALB checks a liveness path; an RDS failover does not
        // take it down): its start is judged once.
        t.appReadyAt ??= appReadyAt(instance);
        const booted = (t.registeredAt as number) + w.t('targetHealthy');
        const healthyAt = Math.max(
          booted,
          (activeLb.data.activeAt as number | undefined) ?? activeLb.createdAt,
          (t.appReadyAt as number | undefined) ?? Infinity,
        );
        if (now >= healthyAt) state = 'healthy';
        else if (t.appReadyAt === undefined && now >= booted) {
          // Booted, but the app never started: its health checks fail.
          state = 'unhealthy';
          reason = 'Target.FailedHealthChecks';
        } else {
          state = 'initial';
          reason = 'Elb.InitialHealthChecking';
        }
      }
      return {
        Target: { Id: t.id, Port: t.port },
        HealthCheckPort: String(t.port),
        TargetHealth: { State: state, ...(reason ? { Reason: reason } : {}) },
      };
    });
  }

  const handlers: ServiceModule['handlers'] = {
    CreateLoadBalancer(ctx, input) {
      const name = input.Name as string;
      const subnets = (input.Subnets ??
        (input.SubnetMappings ?? []).map((m: In) => m.SubnetId)) as string[];
      const scheme = (input.Scheme as string | undefined) ?? 'internet-facing';
      const type = (input.Type as string | undefined) ?? 'application';
      const existing = w.find(T.lb, ctx.region, (r) => r.name === name)[0];
      if (existing) {
        const same =
          existing.data.scheme === scheme &&
          existing.data.type === type &&
          JSON.stringify([...(existing.data.subnets as string[])].sort()) ===
            JSON.stringify([...subnets].sort());
        if (same) return { LoadBalancers: [lbShape(existing)] };
        throw err(
          'DuplicateLoadBalancerNameException',
          'A load balancer with the same name exists, but with different settings',
        );
      }
      const subs = subnets.map((s) => {
        const sub = w.live(EC2_TYPES.subnet, ctx.region, s);
        if (!sub) throw err('SubnetNotFoundException', `The subnet ID '${s}' is not valid`);
        return sub;
      });
      if (new Set(subs.map((s) => s.data.az)).size < 2) {
        throw err(
          'InvalidConfigurationRequestException',
          'At least two subnets in two different Availability Zones must be specified',
        );
      }
      const vpcId = subs[0]!.data.vpcId as string;
      if (scheme === 'internet-facing') {
        const igw = w.find(EC2_TYPES.igw, ctx.region, (g) =>
          (g.data.attachments as In[]).some((a) => a.vpcId === vpcId),
        );
        if (igw.length === 0)
          throw err('InvalidSubnetException', `VPC ${vpcId} has no internet gateway`);
      }
      const groups = (input.SecurityGroups ?? []) as string[];
      for (const g of groups) {
        if (!w.live(EC2_TYPES.sg, ctx.region, g))
          throw err('InvalidSecurityGroupException', `Security group '${g}' does not exist`);
      }
      const lbId = w.rng.hex(16);
      const arn = w.arn('elasticloadbalancing', ctx.region, `loadbalancer/app/${name}/${lbId}`);
      const dns = `${scheme === 'internal' ? 'internal-' : ''}${name}-${1_000_000_000 + w.rng.int(999_999_999)}.${ctx.region}.elb.amazonaws.com`;
      const r = w.add({
        service: 'elbv2',
        type: T.lb,
        region: ctx.region,
        id: arn,
        arn,
        name,
        tags: tagMap(input.Tags),
        state: 'provisioning',
        data: {
          dnsName: dns,
          zoneId: ALB_ZONES[ctx.region] ?? 'Z3DZXE0Q79N41H',
          scheme,
          type,
          vpcId,
          subnets,
          securityGroups: groups,
          ipAddressType: input.IpAddressType ?? 'ipv4',
          attributes: { ...LB_DEFAULT_ATTRIBUTES },
        },
      });
      for (const s of subs) {
        createEni(w, {
          region: ctx.region,
          subnetId: s.id,
          groups,
          description: `ELB ${dimension(arn)}`,
          interfaceType: 'interface',
          requesterId: 'amazon-elb',
          owner: arn,
          ...(scheme === 'internet-facing'
            ? {
                publicIp: `${15 + w.rng.int(40)}.${w.rng.int(255)}.${w.rng.int(255)}.${1 + w.rng.int(250)}`,
              }
            : {}),
        });
      }
      w.schedule(r, w.t('albActive'), { state: 'active', event: 'elbv2.lb.active' });
      return { LoadBalancers: [lbShape(r)] };
    },
    DescribeLoadBalancers(ctx, input) {
      let list: Resource[];
      if (input.LoadBalancerArns?.length) {
        list = (input.LoadBalancerArns as string[]).map((arn) => lbByArn(ctx.region, arn));
      } else if (input.Names?.length) {
        list = (input.Names as string[]).map((n) => {
          const r = w.find(T.lb, ctx.region, (x) => x.name === n)[0];
          if (!r) throw err('LoadBalancerNotFoundException', `Load balancers '[${n}]' not found`);
          return r;
        });
      } else list = w.find(T.lb, ctx.region);
      const p = page(
        list,
        input.Marker as string | undefined,
        input.PageSize as number | undefined,
        400,
      );
      return { LoadBalancers: p.items.map(lbShape), ...(p.next ? { NextMarker: p.next } : {}) };
    },
    DescribeLoadBalancerAttributes(ctx, input) {
      const r = lbByArn(ctx.region, input.LoadBalancerArn as string);
      return {
        Attributes: Object.entries(r.data.attributes as Record<string, string>).map(
          ([Key, Value]) => ({ Key, Value }),
        ),
      };
    },
    ModifyLoadBalancerAttributes(ctx, input) {
      const r = lbByArn(ctx.region, input.LoadBalancerArn as string);
      const attrs = r.data.attributes as Record<string, string>;
      const next = { ...attrs };
      for (const a of (input.Attributes ?? []) as In[]) {
        if (!(a.Key in LB_DEFAULT_ATTRIBUTES)) {
          throw err('InvalidConfigurationRequestException', `Key ${String(a.Key)} not valid`);
        }
        next[a.Key as string] = String(a.Value);
      }
      if (
        next['access_logs.s3.enabled'] === 'true' &&
        (attrs['access_logs.s3.enabled'] !== 'true' ||
          next['access_logs.s3.bucket'] !== attrs['access_logs.s3.bucket'])
      ) {
        const bucket = next['access_logs.s3.bucket'] ?? '';
        const prefix = next['access_logs.s3.prefix'] ?? '';
        checkLogBucket(ctx.region, bucket, prefix);
        // ELB proves it can write by leaving a test object behind.
        const b = bucketByName(w, bucket)!;
        writeObject(
          w,
          b,
          `${prefix ? `${prefix}/` : ''}AWSLogs/${w.account}/ELBAccessLogTestFile`,
          'Enable AccessLog for ELB: ' + r.name,
        );
      }
      r.data.attributes = next;
      return { Attributes: Object.entries(next).map(([Key, Value]) => ({ Key, Value })) };
    },
    SetSubnets(ctx, input) {
      const r = lbByArn(ctx.region, input.LoadBalancerArn as string);
      const subnets = input.Subnets as string[];
      for (const s of subnets)
        if (!w.live(EC2_TYPES.subnet, ctx.region, s))
          throw err('SubnetNotFoundException', `The subnet ID '${s}' is not valid`);
      releaseEnis(w, ctx.region, r.id, 0);
      r.data.subnets = subnets;
      for (const s of subnets) {
        createEni(w, {
          region: ctx.region,
          subnetId: s,
          groups: r.data.securityGroups as string[],
          description: `ELB ${dimension(r.id)}`,
          interfaceType: 'interface',
          requesterId: 'amazon-elb',
          owner: r.id,
        });
      }
      return { AvailabilityZones: lbShape(r).AvailabilityZones };
    },
    SetSecurityGroups(ctx, input) {
      const r = lbByArn(ctx.region, input.LoadBalancerArn as string);
      const groups = input.SecurityGroups as string[];
      for (const g of groups)
        if (!w.live(EC2_TYPES.sg, ctx.region, g))
          throw err('InvalidSecurityGroupException', `Security group '${g}' does not exist`);
      r.data.securityGroups = groups;
      for (const e of w.find(EC2_TYPES.eni, ctx.region, (x) => x.owner === r.id))
        e.data.groups = [...groups];
      return { SecurityGroupIds: groups };
    },
    DeleteLoadBalancer(ctx, input) {
      const r = w.live(T.lb, ctx.region, input.LoadBalancerArn as string);
      if (!r) return {};
      if ((r.data.attributes as Record<string, string>)['deletion_protection.enabled'] === 'true') {
        throw err(
          'OperationNotPermittedException',
          `Load balancer '${r.id}' cannot be deleted because deletion protection is enabled`,
        );
      }
      for (const l of w.find(T.listener, ctx.region, (x) => x.data.lbArn === r.id)) {
        certificateUse(ctx.region, l.id, l.data.certificates as In[], false);
        w.remove(l);
      }
      w.cancel(r);
      // Kept for the fake's own bookkeeping; DescribeLoadBalancers shows the last real state
      // (LoadBalancerStateEnum has no "deleting") until the load balancer is gone.
      r.data.stateBeforeDelete = r.state;
      r.state = 'deleting';
      w.schedule(r, w.t('albDelete'), { remove: true });
      // The interfaces outlive the load balancer and keep its subnets and security group busy.
      releaseEnis(w, ctx.region, r.id, w.t('eniRelease'));
      return {};
    },

    CreateTargetGroup(ctx, input) {
      const name = input.Name as string;
      const health = {
        HealthCheckEnabled: input.HealthCheckEnabled ?? true,
        HealthCheckProtocol: input.HealthCheckProtocol ?? input.Protocol ?? 'HTTP',
        HealthCheckPort: input.HealthCheckPort ?? 'traffic-port',
        HealthCheckPath: input.HealthCheckPath ?? '/',
        HealthCheckIntervalSeconds: input.HealthCheckIntervalSeconds ?? 30,
        HealthCheckTimeoutSeconds: input.HealthCheckTimeoutSeconds ?? 5,
        HealthyThresholdCount: input.HealthyThresholdCount ?? 5,
        UnhealthyThresholdCount: input.UnhealthyThresholdCount ?? 2,
        Matcher: input.Matcher ?? { HttpCode: '200' },
      };
      const existing = w.find(T.tg, ctx.region, (r) => r.name === name)[0];
      if (existing) {
        const same =
          existing.data.port === input.Port &&
          existing.data.protocol === input.Protocol &&
          existing.data.vpcId === input.VpcId;
        if (same) return { TargetGroups: [tgShape(existing)] };
        throw err(
          'DuplicateTargetGroupNameException',
          'A target group with the same name exists, but with different settings',
        );
      }
      if (!w.live(EC2_TYPES.vpc, ctx.region, input.VpcId as string)) {
        throw err('ValidationError', `The VPC ID '${String(input.VpcId)}' is not found`);
      }
      const arn = w.arn('elasticloadbalancing', ctx.region, `targetgroup/${name}/${w.rng.hex(16)}`);
      const r = w.add({
        service: 'elbv2',
        type: T.tg,
        region: ctx.region,
        id: arn,
        arn,
        name,
        tags: tagMap(input.Tags),
        state: 'active',
        data: {
          protocol: input.Protocol,
          protocolVersion: input.ProtocolVersion ?? 'HTTP1',
          port: input.Port,
          vpcId: input.VpcId,
          targetType: input.TargetType ?? 'instance',
          health,
          attributes: { ...TG_DEFAULT_ATTRIBUTES },
          targets: [],
        },
      });
      return { TargetGroups: [tgShape(r)] };
    },
    DescribeTargetGroups(ctx, input) {
      let list: Resource[];
      if (input.TargetGroupArns?.length)
        list = (input.TargetGroupArns as string[]).map((a) => tgByArn(ctx.region, a));
      else if (input.Names?.length) {
        list = (input.Names as string[]).map((n) => {
          const r = w.find(T.tg, ctx.region, (x) => x.name === n)[0];
          if (!r) throw err('TargetGroupNotFoundException', `One or more target groups not found`);
          return r;
        });
      } else if (input.LoadBalancerArn) {
        lbByArn(ctx.region, input.LoadBalancerArn as string);
        list = w.find(T.tg, ctx.region, (t) =>
          listenersUsing(ctx.region, t.id).includes(input.LoadBalancerArn as string),
        );
      } else list = w.find(T.tg, ctx.region);
      return { TargetGroups: list.map(tgShape) };
    },
    ModifyTargetGroup(ctx, input) {
      const r = tgByArn(ctx.region, input.TargetGroupArn as string);
      for (const k of Object.keys(r.data.health as object)) {
        if (input[k] !== undefined) r.data.health[k] = clone(input[k]);
      }
      return { TargetGroups: [tgShape(r)] };
    },
    DescribeTargetGroupAttributes(ctx, input) {
      const r = tgByArn(ctx.region, input.TargetGroupArn as string);
      return {
        Attributes: Object.entries(r.data.attributes as Record<string, string>).map(
          ([Key, Value]) => ({ Key, Value }),
        ),
      };
    },
    ModifyTargetGroupAttributes(ctx, input) {
      const r = tgByArn(ctx.region, input.TargetGroupArn as string);
      for (const a of (input.Attributes ?? []) as In[]) {
        if (!(a.Key in TG_DEFAULT_ATTRIBUTES))
          throw err('InvalidConfigurationRequestException', `Key ${String(a.Key)} not valid`);
        (r.data.attributes as Record<string, string>)[a.Key as string] = String(a.Value);
      }
      return {
        Attributes: Object.entries(r.data.attributes as Record<string, string>).map(
          ([Key, Value]) => ({ Key, Value }),
        ),
      };
    },
    DeleteTargetGroup(ctx, input) {
      const r = w.live(T.tg, ctx.region, input.TargetGroupArn as string);
      if (!r) return {};
      if (listenersUsing(ctx.region, r.id).length > 0) {
        throw err(
          'ResourceInUseException',
          `Target group '${r.id}' is currently in use by a listener or a rule`,
        );
      }
      w.remove(r);
      return {};
    },
    RegisterTargets(ctx, input) {
      const r = tgByArn(ctx.region, input.TargetGroupArn as string);
      for (const t of (input.Targets ?? []) as In[]) {
        if (!w.live(EC2_TYPES.instance, ctx.region, t.Id as string))
          throw err(
            'InvalidTargetException',
            `The following targets are not in a running state and cannot be registered: '${String(t.Id)}'`,
          );
      }
      registerTargets(
        w,
        ctx.region,
        r.id,
        (input.Targets as In[]).map((t) => t.Id as string),
      );
      return {};
    },
    DeregisterTargets(ctx, input) {
      const r = tgByArn(ctx.region, input.TargetGroupArn as string);
      deregisterTargets(
        w,
        ctx.region,
        r.id,
        (input.Targets as In[]).map((t) => t.Id as string),
      );
      return {};
    },
    DescribeTargetHealth(ctx, input) {
      const r = tgByArn(ctx.region, input.TargetGroupArn as string);
      const all = targetHealth(r);
      const want = (input.Targets ?? []) as In[];
      return {
        TargetHealthDescriptions: want.length
          ? all.filter((t) => want.some((x) => x.Id === t.Target.Id))
          : all,
      };
    },

    CreateListener(ctx, input) {
      const lb = lbByArn(ctx.region, input.LoadBalancerArn as string);
      if (
        w.find(T.listener, ctx.region, (l) => l.data.lbArn === lb.id && l.data.port === input.Port)
          .length > 0
      ) {
        throw err(
          'DuplicateListenerException',
          'A listener already exists on this port for this load balancer',
        );
      }
      checkListener(ctx.region, lb, input);
      const arn = w.arn(
        'elasticloadbalancing',
        ctx.region,
        `listener/${dimension(lb.id)}/${w.rng.hex(16)}`,
      );
      const r = w.add({
        service: 'elbv2',
        type: T.listener,
        region: ctx.region,
        id: arn,
        arn,
        tags: tagMap(input.Tags),
        state: 'active',
        owner: lb.id,
        data: {
          lbArn: lb.id,
          port: input.Port,
          protocol: input.Protocol,
          ...(input.Certificates ? { certificates: clone(input.Certificates) } : {}),
          ...(input.Protocol === 'HTTPS'
            ? { sslPolicy: input.SslPolicy ?? 'ELBSecurityPolicy-2016-08' }
            : {}),
          actions: actions(input.DefaultActions as In[]),
        },
      });
      certificateUse(ctx.region, arn, input.Certificates as In[], true);
      return { Listeners: [listenerShape(r)] };
    },
    DescribeListeners(ctx, input) {
      let list: Resource[];
      if (input.ListenerArns?.length) {
        list = (input.ListenerArns as string[]).map((a) => {
          const r = w.live(T.listener, ctx.region, a);
          if (!r) throw err('ListenerNotFoundException', `One or more listeners not found`);
          return r;
        });
      } else {
        const lb = lbByArn(ctx.region, input.LoadBalancerArn as string);
        list = w.find(T.listener, ctx.region, (l) => l.data.lbArn === lb.id);
      }
      return { Listeners: list.map(listenerShape) };
    },
    ModifyListener(ctx, input) {
      const r = w.live(T.listener, ctx.region, input.ListenerArn as string);
      if (!r) throw err('ListenerNotFoundException', `One or more listeners not found`);
      const lb = lbByArn(ctx.region, r.data.lbArn as string);
      const merged = {
        Protocol: r.data.protocol,
        Certificates: r.data.certificates,
        DefaultActions: r.data.actions,
        ...input,
      };
      checkListener(ctx.region, lb, merged);
      certificateUse(ctx.region, r.id, r.data.certificates as In[], false);
      if (input.Port !== undefined) r.data.port = input.Port;
      if (input.Protocol !== undefined) r.data.protocol = input.Protocol;
      if (input.Certificates !== undefined) r.data.certificates = clone(input.Certificates);
      if (r.data.protocol !== 'HTTPS') {
        delete r.data.certificates;
        delete r.data.sslPolicy;
      } else if (input.SslPolicy !== undefined) r.data.sslPolicy = input.SslPolicy;
      if (input.DefaultActions !== undefined)
        r.data.actions = actions(input.DefaultActions as In[]);
      certificateUse(ctx.region, r.id, r.data.certificates as In[], true);
      return { Listeners: [listenerShape(r)] };
    },
    DeleteListener(ctx, input) {
      const r = w.live(T.listener, ctx.region, input.ListenerArn as string);
      if (!r) throw err('ListenerNotFoundException', `One or more listeners not found`);
      certificateUse(ctx.region, r.id, r.data.certificates as In[], false);
      w.remove(r);
      return {};
    },
    DescribeTags(ctx, input) {
      return {
        TagDescriptions: ((input.ResourceArns ?? []) as string[]).map((arn) => {
          const r = w.byArn(arn);
          return { ResourceArn: arn, Tags: r ? tags(r) : [] };
        }),
      };
    },
  };
  return { service: 'elbv2', handlers };
}
