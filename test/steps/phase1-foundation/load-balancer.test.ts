import {
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeleteLoadBalancerCommand,
  DeleteTargetGroupCommand,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  SetSecurityGroupsCommand,
  SetSubnetsCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  type Listener,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import {
  TLS_POLICY,
  loadBalancerStep,
} from '../../../src/steps/phase1-foundation/load-balancer.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

const TG_ARN =
  'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/cloudmart-tg/73e2d6bc24d8a067';
const LB_ARN =
  'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/cloudmart-alb/50dc6c495c0c9188';
const CERT = 'arn:aws:acm:ap-northeast-2:123456789012:certificate/0f2b';
const L80 = `${LB_ARN.replace(':loadbalancer/', ':listener/')}/80aa`;
const L443 = `${LB_ARN.replace(':loadbalancer/', ':listener/')}/443bb`;

const SUBNETS = {
  azs: ['ap-northeast-2a', 'ap-northeast-2c'],
  publicSubnetIds: ['subnet-pub-a', 'subnet-pub-c'],
  appSubnetIds: ['subnet-app-a', 'subnet-app-c'],
  dataSubnetIds: ['subnet-data-a', 'subnet-data-c'],
  vpcId: 'vpc-1',
};
function outputs(options: { cert?: boolean; vpcId?: boolean } = {}) {
  const { vpcId: _omit, ...noVpc } = SUBNETS;
  return {
    [STEP.subnets]: options.vpcId === false ? noVpc : SUBNETS,
    [STEP.securityGroups]: {
      albSgId: 'sg-alb',
      appSgId: 'sg-app',
      dbSgId: 'sg-db',
      redisSgId: 'sg-redis',
    },
    [STEP.albLogBucket]: {
      bucketName: 'alb-logs-bucket',
      bucketArn: 'arn:aws:s3:::alb-logs-bucket',
      logPrefix: 'alb',
    },
    ...(options.cert
      ? {
          [STEP.certificates]: {
            hostedZoneId: 'Z1',
            domain: 'shop.example.com',
            regionalCertificateArn: CERT,
            edgeCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/edge',
          },
        }
      : {}),
  };
}

const TG = {
  TargetGroupArn: TG_ARN,
  TargetGroupName: 'cloudmart-tg',
  Protocol: 'HTTP' as const,
  Port: 8080,
  VpcId: 'vpc-1',
  TargetType: 'instance' as const,
  HealthCheckEnabled: true,
  HealthCheckProtocol: 'HTTP' as const,
  HealthCheckPort: 'traffic-port',
  HealthCheckPath: '/health/live',
  HealthCheckIntervalSeconds: 15,
  HealthCheckTimeoutSeconds: 5,
  HealthyThresholdCount: 2,
  UnhealthyThresholdCount: 2,
  Matcher: { HttpCode: '200' },
};
const lb = (state = 'active') => ({
  LoadBalancerArn: LB_ARN,
  LoadBalancerName: 'cloudmart-alb',
  DNSName: 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com',
  CanonicalHostedZoneId: 'ZWKZPGTI48KDX',
  Scheme: 'internet-facing' as const,
  Type: 'application' as const,
  State: { Code: state as 'active' },
  AvailabilityZones: [
    { ZoneName: 'ap-northeast-2a', SubnetId: 'subnet-pub-a' },
    { ZoneName: 'ap-northeast-2c', SubnetId: 'subnet-pub-c' },
  ],
  SecurityGroups: ['sg-alb'],
});
const attrs = (over: Record<string, string> = {}) =>
  Object.entries({
    'deletion_protection.enabled': 'false',
    'routing.http2.enabled': 'true',
    'routing.http.drop_invalid_header_fields.enabled': 'true',
    'access_logs.s3.enabled': 'true',
    'access_logs.s3.bucket': 'alb-logs-bucket',
    'access_logs.s3.prefix': 'alb',
    'idle_timeout.timeout_seconds': '60',
    ...over,
  }).map(([Key, Value]) => ({ Key, Value }));

/** As DescribeListeners echoes them (forward actions come back with a ForwardConfig). */
const httpsListener: Listener = {
  ListenerArn: L443,
  Port: 443,
  Protocol: 'HTTPS',
  SslPolicy: TLS_POLICY,
  Certificates: [{ CertificateArn: CERT }],
  DefaultActions: [
    {
      Type: 'forward',
      TargetGroupArn: TG_ARN,
      ForwardConfig: { TargetGroups: [{ TargetGroupArn: TG_ARN, Weight: 1 }] },
    },
  ],
};
const redirectListener: Listener = {
  ListenerArn: L80,
  Port: 80,
  Protocol: 'HTTP',
  DefaultActions: [
    {
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
  ],
};
const forwardListener: Listener = {
  ListenerArn: L80,
  Port: 80,
  Protocol: 'HTTP',
  DefaultActions: [{ Type: 'forward', TargetGroupArn: TG_ARN }],
};

const TAG = (k: string, v: string) => ({ Key: k, Value: v });

function names(stub: ReturnType<typeof strictMock>): string[] {
  return stub.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name);
}
const mutating = (stub: ReturnType<typeof strictMock>) =>
  names(stub).filter((n) => !/^Describe/.test(n));

describe('app.alb', () => {
  let elb: ReturnType<typeof strictMock>;
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    elb = strictMock(ElasticLoadBalancingV2Client);
    ec2 = strictMock(EC2Client);
  });

  const ctx = (options: { cert?: boolean; vpcId?: boolean; domain?: boolean } = {}) =>
    testContext({
      stepId: loadBalancerStep.id,
      outputs: outputs(options),
      config:
        options.domain || options.cert
          ? testConfig({ dns: { domain: 'shop.example.com' } })
          : testConfig(),
    });

  /** A converged ALB and target group; listeners as given. */
  function live(listeners: Listener[]) {
    elb.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [TG] });
    elb.on(DescribeTargetGroupAttributesCommand).resolves({
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
    });
    elb.on(DescribeLoadBalancersCommand).resolves({ LoadBalancers: [lb()] });
    elb.on(DescribeLoadBalancerAttributesCommand).resolves({ Attributes: attrs() });
    elb.on(DescribeListenersCommand).resolves({ Listeners: listeners });
  }

  it('creates the target group, an internet-facing ALB with logs, and an HTTP listener without a domain', async () => {
    elb
      .on(DescribeTargetGroupsCommand)
      .rejects(awsError('TargetGroupNotFoundException', 'not found'));
    elb.on(CreateTargetGroupCommand).resolves({ TargetGroups: [TG] });
    elb.on(DescribeTargetGroupAttributesCommand).resolves({
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '300' }],
    });
    elb.on(ModifyTargetGroupAttributesCommand).resolves({});
    elb
      .on(DescribeLoadBalancersCommand, { Names: ['cloudmart-alb'] })
      .rejects(awsError('LoadBalancerNotFoundException', 'not found'));
    elb.on(CreateLoadBalancerCommand).resolves({ LoadBalancers: [lb('provisioning')] });
    elb.on(DescribeLoadBalancerAttributesCommand).resolves({
      Attributes: attrs({
        'routing.http.drop_invalid_header_fields.enabled': 'false',
        'access_logs.s3.enabled': 'false',
        'access_logs.s3.bucket': '',
        'access_logs.s3.prefix': '',
      }),
    });
    elb.on(ModifyLoadBalancerAttributesCommand).resolves({});
    elb.on(DescribeListenersCommand).resolves({ Listeners: [] });
    elb.on(CreateListenerCommand).resolves({ Listeners: [{ ListenerArn: L80 }] });
    elb
      .on(DescribeLoadBalancersCommand, { LoadBalancerArns: [LB_ARN] })
      .resolvesOnce({ LoadBalancers: [lb('provisioning')] })
      .resolves({ LoadBalancers: [lb('active')] });

    const c = ctx();
    const out = await loadBalancerStep.create(c);

    expect(elb.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input).toEqual({
      Name: 'cloudmart-tg',
      Protocol: 'HTTP',
      ProtocolVersion: 'HTTP1',
      Port: 8080,
      VpcId: 'vpc-1',
      TargetType: 'instance',
      HealthCheckEnabled: true,
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: 'traffic-port',
      HealthCheckPath: '/health/live',
      HealthCheckIntervalSeconds: 15,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      Matcher: { HttpCode: '200' },
      Tags: expect.arrayContaining([TAG('Name', 'cloudmart-tg'), TAG('cloudmart:step', 'app.alb')]),
    });
    expect(elb.commandCalls(ModifyTargetGroupAttributesCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG_ARN,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
    });
    expect(elb.commandCalls(CreateLoadBalancerCommand)[0]!.args[0].input).toEqual({
      Name: 'cloudmart-alb',
      Type: 'application',
      Scheme: 'internet-facing',
      IpAddressType: 'ipv4',
      Subnets: ['subnet-pub-a', 'subnet-pub-c'],
      SecurityGroups: ['sg-alb'],
      Tags: expect.arrayContaining([
        TAG('Name', 'cloudmart-alb'),
        TAG('cloudmart:stack', 'cloudmart'),
        TAG('Project', 'CloudMart'),
      ]),
    });
    // Only the settings that differ, deletion protection and HTTP/2 already as wanted.
    expect(elb.commandCalls(ModifyLoadBalancerAttributesCommand)[0]!.args[0].input).toEqual({
      LoadBalancerArn: LB_ARN,
      Attributes: [
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: 'alb-logs-bucket' },
        { Key: 'access_logs.s3.prefix', Value: 'alb' },
      ],
    });
    expect(elb.commandCalls(CreateListenerCommand).map((x) => x.args[0].input)).toEqual([
      {
        LoadBalancerArn: LB_ARN,
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [{ Type: 'forward', TargetGroupArn: TG_ARN }],
        Tags: expect.arrayContaining([TAG('Name', 'cloudmart-alb-80')]),
      },
    ]);
    expect(c.progressLog).toContain('ALB cloudmart-alb to be active: provisioning (0s)');
    expect(out).toEqual({
      loadBalancerArn: LB_ARN,
      loadBalancerName: 'cloudmart-alb',
      loadBalancerDimension: 'app/cloudmart-alb/50dc6c495c0c9188',
      dnsName: 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com',
      canonicalHostedZoneId: 'ZWKZPGTI48KDX',
      targetGroupArn: TG_ARN,
      targetGroupName: 'cloudmart-tg',
      targetGroupDimension: 'targetgroup/cloudmart-tg/73e2d6bc24d8a067',
      listenerArns: [L80],
      httpsEnabled: false,
    });
  });

  it('with a certificate listens on HTTPS 443 (TLS 1.3 policy) and redirects HTTP 80 with a 301', async () => {
    live([]);
    elb
      .on(CreateListenerCommand, { Port: 443 })
      .resolves({ Listeners: [{ ListenerArn: L443 }] })
      .on(CreateListenerCommand, { Port: 80 })
      .resolves({ Listeners: [{ ListenerArn: L80 }] });

    const out = await loadBalancerStep.create(ctx({ cert: true }));

    expect(elb.commandCalls(CreateListenerCommand).map((x) => x.args[0].input)).toEqual([
      {
        LoadBalancerArn: LB_ARN,
        Port: 443,
        Protocol: 'HTTPS',
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        Certificates: [{ CertificateArn: CERT }],
        DefaultActions: [{ Type: 'forward', TargetGroupArn: TG_ARN }],
        Tags: expect.any(Array),
      },
      {
        LoadBalancerArn: LB_ARN,
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [redirectListener.DefaultActions![0]],
        Tags: expect.any(Array),
      },
    ]);
    expect(out.httpsEnabled).toBe(true);
    expect(out.listenerArns).toEqual([L443, L80]);
  });

  it('adopts a converged ALB: no create and no mutating call', async () => {
    live([httpsListener, redirectListener]);
    const out = await loadBalancerStep.create(ctx({ cert: true }));
    expect(mutating(elb)).toEqual([]);
    expect(ec2.calls()).toHaveLength(0);
    expect(out.listenerArns).toEqual([L443, L80]);
  });

  it("moves an ALB found in other subnets onto the stack's public subnets", async () => {
    live([httpsListener, redirectListener]);
    elb.on(DescribeLoadBalancersCommand).resolves({
      LoadBalancers: [
        {
          ...lb(),
          AvailabilityZones: [
            { ZoneName: 'ap-northeast-2a', SubnetId: 'subnet-old-a' },
            { ZoneName: 'ap-northeast-2c', SubnetId: 'subnet-pub-c' },
          ],
        },
      ],
    });
    elb.on(SetSubnetsCommand).resolves({});
    await loadBalancerStep.create(ctx({ cert: true }));
    expect(elb.commandCalls(SetSubnetsCommand).map((x) => x.args[0].input)).toEqual([
      { LoadBalancerArn: LB_ARN, Subnets: ['subnet-pub-a', 'subnet-pub-c'] },
    ]);
  });

  it('attaches the Route 53 health-check security group next to the ALB group when there is one', async () => {
    live([httpsListener, redirectListener]);
    elb.on(SetSecurityGroupsCommand).resolves({ SecurityGroupIds: ['sg-alb', 'sg-alb-health'] });
    const c = testContext({
      stepId: loadBalancerStep.id,
      outputs: {
        ...outputs({ cert: true }),
        [STEP.securityGroups]: {
          albSgId: 'sg-alb',
          albHealthCheckSgId: 'sg-alb-health',
          appSgId: 'sg-app',
          dbSgId: 'sg-db',
          redisSgId: 'sg-redis',
        },
      },
      config: testConfig({ dns: { domain: 'shop.example.com' } }),
    });
    await loadBalancerStep.create(c);
    expect(elb.commandCalls(SetSecurityGroupsCommand).map((x) => x.args[0].input)).toEqual([
      { LoadBalancerArn: LB_ARN, SecurityGroups: ['sg-alb', 'sg-alb-health'] },
    ]);
  });

  it('adds HTTPS and turns port 80 into a redirect when a domain is added later', async () => {
    live([forwardListener]);
    elb.on(CreateListenerCommand).resolves({ Listeners: [{ ListenerArn: L443 }] });
    elb.on(ModifyListenerCommand).resolves({});
    await loadBalancerStep.create(ctx({ cert: true }));
    expect(mutating(elb)).toEqual(['CreateListenerCommand', 'ModifyListenerCommand']);
    expect(elb.commandCalls(ModifyListenerCommand)[0]!.args[0].input).toEqual({
      ListenerArn: L80,
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: redirectListener.DefaultActions,
    });
  });

  it('drops the HTTPS listener and forwards on 80 when the domain is removed', async () => {
    live([httpsListener, redirectListener]);
    elb.on(ModifyListenerCommand).resolves({});
    elb.on(DeleteListenerCommand).resolves({});
    const out = await loadBalancerStep.create(ctx());
    expect(elb.commandCalls(ModifyListenerCommand)[0]!.args[0].input.DefaultActions).toEqual([
      { Type: 'forward', TargetGroupArn: TG_ARN },
    ]);
    expect(elb.commandCalls(DeleteListenerCommand)[0]!.args[0].input).toEqual({
      ListenerArn: L443,
    });
    expect(out.httpsEnabled).toBe(false);
  });

  it('converges a drifted health check and attributes, nothing else', async () => {
    live([forwardListener]);
    elb.on(DescribeTargetGroupsCommand).resolves({
      TargetGroups: [{ ...TG, HealthCheckPath: '/', Matcher: { HttpCode: '200-399' } }],
    });
    elb.on(DescribeLoadBalancerAttributesCommand).resolves({
      Attributes: attrs({
        'deletion_protection.enabled': 'true',
        'routing.http2.enabled': 'false',
      }),
    });
    elb.on(ModifyTargetGroupCommand).resolves({});
    elb.on(ModifyLoadBalancerAttributesCommand).resolves({});
    await loadBalancerStep.create(ctx());
    expect(mutating(elb)).toEqual([
      'ModifyTargetGroupCommand',
      'ModifyLoadBalancerAttributesCommand',
    ]);
    expect(elb.commandCalls(ModifyTargetGroupCommand)[0]!.args[0].input).toMatchObject({
      TargetGroupArn: TG_ARN,
      HealthCheckPath: '/health/live',
      Matcher: { HttpCode: '200' },
    });
    expect(
      elb.commandCalls(ModifyLoadBalancerAttributesCommand)[0]!.args[0].input.Attributes,
    ).toEqual([
      { Key: 'deletion_protection.enabled', Value: 'false' },
      { Key: 'routing.http2.enabled', Value: 'true' },
    ]);
  });

  it('retries switching access logs on while the bucket policy propagates', async () => {
    live([forwardListener]);
    elb.on(DescribeLoadBalancerAttributesCommand).resolves({
      Attributes: attrs({ 'access_logs.s3.enabled': 'false' }),
    });
    elb
      .on(ModifyLoadBalancerAttributesCommand)
      .rejectsOnce(
        awsError(
          'InvalidConfigurationRequestException',
          'Access Denied for bucket: alb-logs-bucket. Please check S3bucket permission',
        ),
      )
      .resolves({});
    const c = ctx();
    await loadBalancerStep.create(c);
    expect(elb.commandCalls(ModifyLoadBalancerAttributesCommand)).toHaveLength(2);
    expect(c.slept()).toBeGreaterThan(0);
  });

  it('refuses to adopt a target group whose immutable settings differ', async () => {
    elb.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ ...TG, Port: 3000 }] });
    await expect(loadBalancerStep.create(ctx())).rejects.toThrow(CloudmartError);
    expect(mutating(elb)).toEqual([]);
  });

  it('reads the VPC from a public subnet when the subnet outputs do not carry it', async () => {
    live([forwardListener]);
    ec2
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [{ SubnetId: 'subnet-pub-a', VpcId: 'vpc-1' }] });
    await loadBalancerStep.create(ctx({ vpcId: false }));
    expect(ec2.commandCalls(DescribeSubnetsCommand)[0]!.args[0].input).toEqual({
      SubnetIds: ['subnet-pub-a'],
    });
    expect(mutating(elb)).toEqual([]);
  });

  it('verify warns honestly about plain HTTP when no domain is configured', async () => {
    live([forwardListener]);
    const checks = await loadBalancerStep.verify(ctx());
    const tls = checks.find((c) => c.id === 'app.alb.tls')!;
    expect(tls.status).toBe('warn');
    expect(tls.criterion).toBe('encryption');
    expect(tls.evidence).toMatch(/no dns\.domain configured: cloudmart-alb serves plain HTTP/);
    expect(checks.find((c) => c.id === 'app.alb.http-redirect')).toBeUndefined();
    expect(checks.filter((c) => c.id !== 'app.alb.tls').every((c) => c.status === 'pass')).toBe(
      true,
    );
  });

  it('verify fails TLS when a domain is configured but there is no HTTPS listener, and reports log drift', async () => {
    live([forwardListener]);
    elb.on(DescribeLoadBalancerAttributesCommand).resolves({
      Attributes: attrs({ 'access_logs.s3.enabled': 'false' }),
    });
    const checks = await loadBalancerStep.verify(ctx({ domain: true }));
    const status = Object.fromEntries(checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({
      'app.alb.tls': 'fail',
      'app.alb.http-redirect': 'fail',
      'app.alb.access-logs': 'fail',
      'app.alb.multi-az': 'pass',
      'app.alb.active': 'pass',
    });
  });

  it('verify passes TLS and the redirect with a certificate', async () => {
    live([httpsListener, redirectListener]);
    const checks = await loadBalancerStep.verify(ctx({ cert: true }));
    expect(checks.every((c) => c.status === 'pass')).toBe(true);
    expect(checks.find((c) => c.id === 'app.alb.tls')?.evidence).toContain(TLS_POLICY);
  });

  it('teardown deletes listeners, then the ALB (waiting until it and its ENIs are gone), then the target group', async () => {
    elb
      .on(DescribeLoadBalancersCommand, { Names: ['cloudmart-alb'] })
      .resolves({ LoadBalancers: [lb()] });
    elb.on(DescribeListenersCommand).resolves({ Listeners: [httpsListener, redirectListener] });
    elb.on(DeleteListenerCommand).resolves({});
    elb.on(DeleteLoadBalancerCommand).resolves({});
    elb
      .on(DescribeLoadBalancersCommand, { LoadBalancerArns: [LB_ARN] })
      .resolvesOnce({ LoadBalancers: [lb()] })
      .rejects(awsError('LoadBalancerNotFoundException', 'not found'));
    ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [{ NetworkInterfaceId: 'eni-1' }] })
      .resolves({ NetworkInterfaces: [] });
    elb.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [TG] });
    elb
      .on(DeleteTargetGroupCommand)
      .rejectsOnce(awsError('ResourceInUseException', 'in use by a listener or a rule'))
      .resolves({});

    const c = testContext({ stepId: loadBalancerStep.id });
    await loadBalancerStep.teardown(c);

    expect(names(elb)).toEqual([
      'DescribeLoadBalancersCommand',
      'DescribeListenersCommand',
      'DeleteListenerCommand',
      'DeleteListenerCommand',
      'DeleteLoadBalancerCommand',
      'DescribeLoadBalancersCommand',
      'DescribeLoadBalancersCommand',
      'DescribeTargetGroupsCommand',
      'DeleteTargetGroupCommand',
      'DeleteTargetGroupCommand',
    ]);
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input).toEqual({
      Filters: [{ Name: 'description', Values: ['ELB app/cloudmart-alb/50dc6c495c0c9188'] }],
    });
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(2);
    expect(c.progressLog.some((l) => l.includes('ResourceInUseException'))).toBe(true);
  });

  it('teardown turns deletion protection off when someone turned it on', async () => {
    elb
      .on(DescribeLoadBalancersCommand, { Names: ['cloudmart-alb'] })
      .resolves({ LoadBalancers: [lb()] });
    elb.on(DescribeListenersCommand).resolves({ Listeners: [] });
    elb
      .on(DeleteLoadBalancerCommand)
      .rejectsOnce(awsError('OperationNotPermittedException', 'deletion protection is enabled'))
      .resolves({});
    elb.on(ModifyLoadBalancerAttributesCommand).resolves({});
    elb
      .on(DescribeLoadBalancersCommand, { LoadBalancerArns: [LB_ARN] })
      .rejects(awsError('LoadBalancerNotFoundException', 'not found'));
    ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [] });
    elb
      .on(DescribeTargetGroupsCommand)
      .rejects(awsError('TargetGroupNotFoundException', 'not found'));

    const c = testContext({ stepId: loadBalancerStep.id });
    await loadBalancerStep.teardown(c);
    expect(
      elb.commandCalls(ModifyLoadBalancerAttributesCommand)[0]!.args[0].input.Attributes,
    ).toEqual([{ Key: 'deletion_protection.enabled', Value: 'false' }]);
    expect(elb.commandCalls(DeleteLoadBalancerCommand)).toHaveLength(2);
    expect(c.warnings[0]).toMatch(/deletion protection/);
  });

  it('teardown succeeds when everything is already gone', async () => {
    elb
      .on(DescribeLoadBalancersCommand)
      .rejects(awsError('LoadBalancerNotFoundException', 'not found'));
    elb
      .on(DescribeTargetGroupsCommand)
      .rejects(awsError('TargetGroupNotFoundException', 'not found'));
    await expect(
      loadBalancerStep.teardown(testContext({ stepId: loadBalancerStep.id })),
    ).resolves.toBeUndefined();
    expect(mutating(elb)).toEqual([]);
    expect(ec2.calls()).toHaveLength(0);
  });
});
