import {
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHealthCheckCommand,
  DeleteHealthCheckCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  GetHealthCheckStatusCommand,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  ListTagsForResourceCommand,
  Route53Client,
  UpdateHealthCheckCommand,
} from '@aws-sdk/client-route-53';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Outputs } from '../../../src/engine/step.js';
import {
  dnsRecordsStep,
  healthCheckReference,
} from '../../../src/steps/phase1-foundation/dns-records.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, testConfig, testContext } from '../../helpers/context.js';
import { looseMock, mutating, type LooseStub } from './edge-test-utils.js';

const DOMAIN = 'shop.example.com';
const API = 'api.shop.example.com';
const CF = 'd111.cloudfront.net';
const ALB_DNS = 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com';
const ALB_ZONE = 'ZWKZPGTI48KDX';

function needs(https = true): Record<string, Outputs> {
  return {
    [STEP.certificates]: {
      hostedZoneId: 'Z1',
      domain: DOMAIN,
      regionalCertificateArn: 'arn:r',
      edgeCertificateArn: 'arn:e',
    },
    [STEP.cdn]: {
      distributionId: 'E1',
      distributionArn: 'arn:cf',
      domainName: CF,
      originAccessControlId: 'oac-1',
    },
    [STEP.alb]: {
      loadBalancerArn: 'arn:alb',
      loadBalancerDimension: 'app/x/1',
      dnsName: ALB_DNS,
      canonicalHostedZoneId: ALB_ZONE,
      targetGroupArn: 'arn:tg',
      targetGroupDimension: 'targetgroup/x/1',
      listenerArns: [],
      httpsEnabled: https,
    },
  };
}

const alias = (name: string, type: string, zone: string, dns: string, health: boolean) => ({
  Name: name,
  Type: type,
  AliasTarget: { HostedZoneId: zone, DNSName: dns, EvaluateTargetHealth: health },
});
/** As Route 53 returns them: trailing dots, lower case. */
const LIVE = {
  siteA: alias(`${DOMAIN}.`, 'A', 'Z2FDTNDATAQYW2', `${CF}.`, false),
  siteAAAA: alias(`${DOMAIN}.`, 'AAAA', 'Z2FDTNDATAQYW2', `${CF}.`, false),
  apiA: alias(`${API}.`, 'A', ALB_ZONE, `${ALB_DNS}.`, true),
};

const HC = {
  Id: 'hc-1',
  CallerReference: 'cloudmart-cloudmart-hc-abc',
  HealthCheckVersion: 1,
  HealthCheckConfig: {
    Type: 'HTTPS',
    FullyQualifiedDomainName: API,
    Port: 443,
    ResourcePath: '/health',
    RequestInterval: 30,
    FailureThreshold: 3,
    EnableSNI: true,
  },
};
const HC_TAGS = [
  { Key: 'Name', Value: 'cloudmart-api-health' },
  { Key: 'cloudmart:stack', Value: 'cloudmart' },
  { Key: 'cloudmart:step', Value: 'edge.dns' },
  { Key: 'Project', Value: 'CloudMart' },
  { Key: 'Environment', Value: 'production' },
];

describe('edge.dns', () => {
  let r53: LooseStub;
  beforeEach(() => {
    r53 = looseMock(Route53Client);
  });
  const ctx = (
    options: { https?: boolean; previous?: Outputs; outputs?: Record<string, Outputs> } = {},
  ) =>
    testContext({
      stepId: dnsRecordsStep.id,
      config: testConfig({ dns: { domain: DOMAIN, hostedZoneId: 'Z1' } }),
      outputs: options.outputs ?? needs(options.https ?? true),
      ...(options.previous ? { previous: options.previous } : {}),
    });

  /** Route 53 lists from the start name on: answer with what is at or after it. */
  function records(present: Array<ReturnType<typeof alias> | Record<string, unknown>>) {
    r53.on(ListResourceRecordSetsCommand).callsFake(async (input) => {
      const hit = present.find(
        (r) => r.Name === `${input.StartRecordName}.` && r.Type === input.StartRecordType,
      );
      return {
        ResourceRecordSets: hit ? [hit] : [{ Name: 'zzz.shop.example.com.', Type: 'TXT' }],
      };
    });
  }

  it('is enabled only with a domain', () => {
    expect(dnsRecordsStep.enabled!(testConfig())).toBe(false);
    expect(dnsRecordsStep.needs).toEqual([STEP.cdn, STEP.alb, STEP.certificates]);
  });

  it('creates the alias records and the HTTPS health check, waits for INSYNC', async () => {
    records([]);
    r53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } });
    r53
      .on(GetChangeCommand)
      .resolvesOnce({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } })
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC' } });
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [] });
    r53.on(CreateHealthCheckCommand).resolves({ HealthCheck: { ...HC, Id: 'hc-new' } });
    r53.on(ListTagsForResourceCommand).resolves({ ResourceTagSet: { Tags: [] } });
    r53.on(ChangeTagsForResourceCommand).resolves({});

    const c = ctx();
    const out = await dnsRecordsStep.create(c);

    expect(out).toEqual({
      siteRecord: DOMAIN,
      apiRecord: API,
      healthCheckId: 'hc-new',
      hostedZoneId: 'Z1',
    });
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input).toEqual({
      HostedZoneId: 'Z1',
      ChangeBatch: {
        Comment: expect.any(String),
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: alias(DOMAIN, 'A', 'Z2FDTNDATAQYW2', CF, false),
          },
          {
            Action: 'UPSERT',
            ResourceRecordSet: alias(DOMAIN, 'AAAA', 'Z2FDTNDATAQYW2', CF, false),
          },
          { Action: 'UPSERT', ResourceRecordSet: alias(API, 'A', ALB_ZONE, ALB_DNS, true) },
        ],
      },
    });
    expect(r53.commandCalls(GetChangeCommand)).toHaveLength(2);
    expect(r53.commandCalls(CreateHealthCheckCommand)[0]!.args[0].input).toEqual({
      CallerReference: expect.stringMatching(/^cloudmart-cloudmart-hc-[0-9a-f]{16}$/),
      HealthCheckConfig: {
        Type: 'HTTPS',
        FullyQualifiedDomainName: API,
        Port: 443,
        ResourcePath: '/health',
        RequestInterval: 30,
        FailureThreshold: 3,
        EnableSNI: true,
      },
    });
    // Route 53 refuses a reference that belonged to a deleted check: a later create (the
    // check deleted by hand, the same ALB) must not reuse this one.
    const ref = (
      r53.commandCalls(CreateHealthCheckCommand)[0]!.args[0].input as {
        CallerReference: string;
      }
    ).CallerReference;
    expect(ref).toBe(healthCheckReference(c.config, ALB_DNS, 'HTTPS', c.now()));
    expect(healthCheckReference(c.config, ALB_DNS, 'HTTPS', c.now() + 1)).not.toBe(ref);
    expect(r53.commandCalls(ChangeTagsForResourceCommand)[0]!.args[0].input).toEqual({
      ResourceType: 'healthcheck',
      ResourceId: 'hc-new',
      AddTags: expect.arrayContaining(HC_TAGS),
    });
  });

  it('checks HTTP on port 80 when the ALB has no certificate', async () => {
    records([LIVE.siteA, LIVE.siteAAAA, LIVE.apiA]);
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [] });
    r53.on(CreateHealthCheckCommand).resolves({ HealthCheck: { Id: 'hc-new' } });
    r53.on(ListTagsForResourceCommand).resolves({ ResourceTagSet: { Tags: HC_TAGS } });
    await dnsRecordsStep.create(ctx({ https: false }));
    expect(r53.commandCalls(CreateHealthCheckCommand)[0]!.args[0].input.HealthCheckConfig).toEqual({
      Type: 'HTTP',
      FullyQualifiedDomainName: API,
      Port: 80,
      ResourcePath: '/health',
      RequestInterval: 30,
      FailureThreshold: 3,
    });
  });

  it('adopts matching records and the tagged health check without a mutating call', async () => {
    records([LIVE.siteA, LIVE.siteAAAA, LIVE.apiA]);
    r53.on(ListHealthChecksCommand).resolves({
      HealthChecks: [
        // Someone else's check on the same name is not ours.
        { ...HC, Id: 'hc-foreign', CallerReference: 'console-123' },
        HC,
      ],
    });
    r53.on(ListTagsForResourceCommand).resolves({ ResourceTagSet: { Tags: HC_TAGS } });

    const out = await dnsRecordsStep.create(ctx());

    expect(out.healthCheckId).toBe('hc-1');
    expect(mutating(r53)).toEqual([]);
  });

  it('repoints a drifted record and leaves the others alone', async () => {
    records([
      alias(`${DOMAIN}.`, 'A', 'Z2FDTNDATAQYW2', 'dOLD.cloudfront.net.', false),
      LIVE.siteAAAA,
      LIVE.apiA,
    ]);
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C2' } });
    r53.on(GetChangeCommand).resolves({ ChangeInfo: { Status: 'INSYNC' } });
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [HC] });
    r53.on(ListTagsForResourceCommand).resolves({ ResourceTagSet: { Tags: HC_TAGS } });

    await dnsRecordsStep.create(ctx());

    expect(
      r53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes,
    ).toEqual([
      { Action: 'UPSERT', ResourceRecordSet: alias(DOMAIN, 'A', 'Z2FDTNDATAQYW2', CF, false) },
    ]);
    expect(mutating(r53)).toEqual(['ChangeResourceRecordSetsCommand']);
  });

  it('replaces the health check when the ALB lost HTTPS (the type cannot change in place)', async () => {
    records([LIVE.siteA, LIVE.siteAAAA, LIVE.apiA]);
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [HC] });
    r53.on(DeleteHealthCheckCommand).resolves({});
    r53.on(CreateHealthCheckCommand).resolves({ HealthCheck: { Id: 'hc-http' } });
    r53.on(ListTagsForResourceCommand).resolves({ ResourceTagSet: { Tags: HC_TAGS } });
    const out = await dnsRecordsStep.create(ctx({ https: false }));
    expect(mutating(r53)).toEqual(['DeleteHealthCheckCommand', 'CreateHealthCheckCommand']);
    expect(out.healthCheckId).toBe('hc-http');
  });

  it('updates the health check path in place', async () => {
    records([LIVE.siteA, LIVE.siteAAAA, LIVE.apiA]);
    r53.on(ListHealthChecksCommand).resolves({
      HealthChecks: [
        {
          ...HC,
          HealthCheckVersion: 4,
          HealthCheckConfig: { ...HC.HealthCheckConfig, ResourcePath: '/' },
        },
      ],
    });
    r53.on(UpdateHealthCheckCommand).resolves({});
    r53.on(ListTagsForResourceCommand).resolves({ ResourceTagSet: { Tags: HC_TAGS } });
    await dnsRecordsStep.create(ctx());
    expect(r53.commandCalls(UpdateHealthCheckCommand)[0]!.args[0].input).toMatchObject({
      HealthCheckId: 'hc-1',
      HealthCheckVersion: 4,
      ResourcePath: '/health',
    });
  });

  it('verify reports the API record missing and the health check state', async () => {
    records([LIVE.siteA, LIVE.siteAAAA]);
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [HC] });
    r53.on(GetHealthCheckStatusCommand).resolves({
      HealthCheckObservations: [
        { StatusReport: { Status: 'Success: HTTP Status Code 200, OK' } },
        { StatusReport: { Status: 'Success: HTTP Status Code 200, OK' } },
        { StatusReport: { Status: 'Failure: Connection timed out.' } },
      ],
    });
    const checks = await dnsRecordsStep.verify(ctx());
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['edge.dns.site']!.status).toBe('pass');
    expect(byId['edge.dns.api']!.status).toBe('fail');
    expect(byId['edge.dns.health-check']).toMatchObject({ status: 'pass' });
    expect(byId['edge.dns.health-check']!.evidence).toContain('2/3 checkers healthy');
  });

  it('teardown deletes the records exactly as they are, keeps a record it did not make, and deletes the health check', async () => {
    const manual = {
      Name: `${API}.`,
      Type: 'A',
      TTL: 300,
      ResourceRecords: [{ Value: '203.0.113.10' }],
    };
    records([LIVE.siteA, LIVE.siteAAAA, manual]);
    // No outputs of edge.certificates in the state: the zone is found from the config.
    r53.on(GetHostedZoneCommand).resolves({
      HostedZone: { Id: '/hostedzone/Z1', Name: 'example.com.', CallerReference: 'x' },
    });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C' } });
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [HC] });
    r53
      .on(DeleteHealthCheckCommand)
      .rejectsOnce(awsError('HealthCheckInUse', 'in use'))
      .resolves({});
    const c = ctx({ outputs: {} });

    await dnsRecordsStep.teardown(c);

    expect(
      r53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch!.Changes,
    ).toEqual([
      { Action: 'DELETE', ResourceRecordSet: LIVE.siteA },
      { Action: 'DELETE', ResourceRecordSet: LIVE.siteAAAA },
    ]);
    expect(c.warnings.join()).toMatch(/api\.shop\.example\.com A is not an alias/);
    expect(r53.commandCalls(DeleteHealthCheckCommand).map((x) => x.args[0].input)).toEqual([
      { HealthCheckId: 'hc-1' },
      { HealthCheckId: 'hc-1' },
    ]);
  });

  it('teardown succeeds when the records and the health check are already gone', async () => {
    records([]);
    r53.on(GetHostedZoneCommand).rejects(awsError('NoSuchHostedZone', 'gone', 404));
    r53.on(ListHealthChecksCommand).resolves({ HealthChecks: [] });
    await expect(dnsRecordsStep.teardown(ctx({ outputs: {} }))).resolves.toBeUndefined();
    expect(mutating(r53)).toEqual([]);

    r53.on(DeleteHealthCheckCommand).rejects(awsError('NoSuchHealthCheck', 'gone', 404));
    await expect(
      dnsRecordsStep.teardown(
        ctx({ outputs: {}, previous: { healthCheckId: 'hc-old', hostedZoneId: 'Z1' } }),
      ),
    ).resolves.toBeUndefined();
  });
});
