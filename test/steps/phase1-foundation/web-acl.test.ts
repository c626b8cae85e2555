import { CloudFrontClient, ListDistributionsByWebACLIdCommand } from '@aws-sdk/client-cloudfront';
import {
  CreateWebACLCommand,
  DeleteWebACLCommand,
  GetWebACLCommand,
  ListWebACLsCommand,
  UpdateWebACLCommand,
  WAFV2Client,
} from '@aws-sdk/client-wafv2';
import { beforeEach, describe, expect, it } from 'vitest';
import { desiredRules, webAclStep } from '../../../src/steps/phase1-foundation/web-acl.js';
import { awsError, testConfig, testContext } from '../../helpers/context.js';
import { looseMock, type LooseStub } from './edge-test-utils.js';

const ARN = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/cloudmart-web-acl/acl-1';
/** WAF ids and lock tokens are UUIDs (EntityId, LockToken patterns in AWS's model). */
const ACL_ID = '0b7e5d2c-1f3a-4c8e-9d6b-2a4f6e8c0b1d';
const SUMMARY = {
  Name: 'cloudmart-web-acl',
  Id: ACL_ID,
  ARN,
  LockToken: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
};

const managed = (name: string, priority: number) => ({
  Name: `AWS-${name}`,
  Priority: priority,
  Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: name } },
  OverrideAction: { None: {} },
  VisibilityConfig: {
    SampledRequestsEnabled: true,
    CloudWatchMetricsEnabled: true,
    MetricName: `AWS-${name}`,
  },
});
const rate = (limit: number) => ({
  Name: 'RateLimitPerIp',
  Priority: 3,
  Statement: {
    RateBasedStatement: { Limit: limit, AggregateKeyType: 'IP', EvaluationWindowSec: 300 },
  },
  Action: { Block: {} },
  VisibilityConfig: {
    SampledRequestsEnabled: true,
    CloudWatchMetricsEnabled: true,
    MetricName: 'RateLimitPerIp',
  },
});
const SEED_RULES = [
  managed('AWSManagedRulesCommonRuleSet', 0),
  managed('AWSManagedRulesKnownBadInputsRuleSet', 1),
  managed('AWSManagedRulesAmazonIpReputationList', 2),
  rate(2000),
];

/** A web ACL as GetWebACL returns it: the rules plus what AWS fills in. */
function liveAcl(rules = SEED_RULES) {
  return {
    Name: 'cloudmart-web-acl',
    Id: ACL_ID,
    ARN,
    DefaultAction: { Allow: {} },
    Rules: rules,
    VisibilityConfig: {
      SampledRequestsEnabled: true,
      CloudWatchMetricsEnabled: true,
      MetricName: 'cloudmart-web-acl',
    },
    Capacity: 1027,
    LabelNamespace: 'awswaf:123456789012:webacl:cloudmart-web-acl:',
  };
}

describe('edge.waf', () => {
  let waf: LooseStub;
  let cf: LooseStub;
  beforeEach(() => {
    waf = looseMock(WAFV2Client);
    cf = looseMock(CloudFrontClient);
  });
  const ctx = (options: { previous?: Record<string, unknown>; rateLimit?: number } = {}) =>
    testContext({
      stepId: webAclStep.id,
      ...(options.rateLimit
        ? { config: testConfig({ cdn: { wafRateLimit: options.rateLimit } }) }
        : {}),
      ...(options.previous ? { previous: options.previous } : {}),
    });

  it('creates the web ACL in us-east-1 with scope CLOUDFRONT, the managed groups and the rate rule', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [] });
    waf.on(CreateWebACLCommand).resolves({ Summary: SUMMARY });

    const out = await webAclStep.create(ctx());

    expect(out).toEqual({ webAclArn: ARN, webAclId: ACL_ID, webAclName: 'cloudmart-web-acl' });
    expect(waf.commandCalls(ListWebACLsCommand)[0]!.args[0].input).toMatchObject({
      Scope: 'CLOUDFRONT',
    });
    const input = waf.commandCalls(CreateWebACLCommand)[0]!.args[0].input;
    expect(input).toEqual({
      Name: 'cloudmart-web-acl',
      Scope: 'CLOUDFRONT',
      Description: expect.any(String),
      DefaultAction: { Allow: {} },
      Rules: SEED_RULES,
      VisibilityConfig: {
        SampledRequestsEnabled: true,
        CloudWatchMetricsEnabled: true,
        MetricName: 'cloudmart-web-acl',
      },
      Tags: expect.arrayContaining([
        { Key: 'Name', Value: 'cloudmart-web-acl' },
        { Key: 'cloudmart:stack', Value: 'cloudmart' },
        { Key: 'cloudmart:step', Value: 'edge.waf' },
      ]),
    });
    // CloudFront web ACLs only exist in us-east-1, whatever the stack's region.
    const client = waf.send.getCall(0).thisValue as WAFV2Client;
    await expect(client.config.region()).resolves.toBe('us-east-1');
  });

  it('takes the rate limit from the config', async () => {
    expect(desiredRules(testConfig({ cdn: { wafRateLimit: 500 } }))[3]).toEqual(rate(500));
  });

  it('adopts the existing web ACL and sends nothing when its rules match', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    waf
      .on(GetWebACLCommand)
      .resolves({ WebACL: liveAcl(), LockToken: '11111111-1111-4111-8111-111111111111' });

    const out = await webAclStep.create(ctx());

    expect(out.webAclArn).toBe(ARN);
    expect(waf.commandCalls(CreateWebACLCommand)).toHaveLength(0);
    expect(waf.commandCalls(UpdateWebACLCommand)).toHaveLength(0);
  });

  it('updates the rules with the lock token when they drifted', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    // Someone removed the IP reputation list and raised the rate limit.
    waf.on(GetWebACLCommand).resolves({
      WebACL: liveAcl([SEED_RULES[0]!, SEED_RULES[1]!, rate(10000)]),
      LockToken: '11111111-1111-4111-8111-111111111111',
    });
    waf.on(UpdateWebACLCommand).resolves({ NextLockToken: '22222222-2222-4222-8222-222222222222' });

    await webAclStep.create(ctx());

    expect(waf.commandCalls(UpdateWebACLCommand)[0]!.args[0].input).toMatchObject({
      Name: 'cloudmart-web-acl',
      Scope: 'CLOUDFRONT',
      Id: ACL_ID,
      LockToken: '11111111-1111-4111-8111-111111111111',
      DefaultAction: { Allow: {} },
      Rules: SEED_RULES,
    });
    expect(waf.commandCalls(CreateWebACLCommand)).toHaveLength(0);
  });

  it('re-reads the lock token when another writer got there first', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    waf
      .on(GetWebACLCommand)
      .resolvesOnce({
        WebACL: liveAcl([rate(1)]),
        LockToken: '55555555-5555-4555-8555-555555555555',
      })
      .resolves({ WebACL: liveAcl([rate(1)]), LockToken: '66666666-6666-4666-8666-666666666666' });
    waf
      .on(UpdateWebACLCommand)
      .rejectsOnce(awsError('WAFOptimisticLockException'))
      .resolves({ NextLockToken: '77777777-7777-4777-8777-777777777777' });

    await webAclStep.create(ctx());

    expect(
      waf.commandCalls(UpdateWebACLCommand).map((c) => c.args[0].input.LockToken as string),
    ).toEqual(['55555555-5555-4555-8555-555555555555', '66666666-6666-4666-8666-666666666666']);
  });

  it('adopts a web ACL created by a crashed run (WAFDuplicateItemException)', async () => {
    waf
      .on(ListWebACLsCommand)
      .resolvesOnce({ WebACLs: [] })
      .resolves({ WebACLs: [SUMMARY] });
    waf.on(CreateWebACLCommand).rejects(awsError('WAFDuplicateItemException'));
    const out = await webAclStep.create(ctx());
    expect(out.webAclId).toBe(ACL_ID);
  });

  it('verify passes when the rules are there and the distribution uses the ACL', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    waf
      .on(GetWebACLCommand)
      .resolves({ WebACL: liveAcl(), LockToken: '44444444-4444-4444-8444-444444444444' });
    cf.on(ListDistributionsByWebACLIdCommand, { WebACLId: ARN }).resolves({
      DistributionList: {
        Items: [{ Id: 'E1', Comment: 'cloudmart:cloudmart', DomainName: 'd1.cloudfront.net' }],
      },
    });
    const checks = await webAclStep.verify(ctx());
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['edge.waf.rules', 'pass'],
      ['edge.waf.attached', 'pass'],
    ]);
  });

  it('verify reports the WAF detached from the distribution and a missing rule group', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    waf.on(GetWebACLCommand).resolves({
      WebACL: liveAcl(SEED_RULES.filter((r) => r.Priority !== 1)),
      LockToken: '44444444-4444-4444-8444-444444444444',
    });
    cf.on(ListDistributionsByWebACLIdCommand).resolves({ DistributionList: { Items: [] } });

    const checks = await webAclStep.verify(ctx());
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['edge.waf.attached']).toMatchObject({
      status: 'fail',
      criterion: 'security-design',
    });
    expect(byId['edge.waf.rules']!.status).toBe('fail');
    expect(byId['edge.waf.rules']!.evidence).toContain('AWSManagedRulesKnownBadInputsRuleSet');
  });

  it('teardown retries WAFAssociatedItemException with a fresh lock token until the distribution lets go', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    waf
      .on(GetWebACLCommand)
      .resolvesOnce({ WebACL: liveAcl(), LockToken: '11111111-1111-4111-8111-111111111111' })
      .resolvesOnce({ WebACL: liveAcl(), LockToken: '22222222-2222-4222-8222-222222222222' })
      .resolves({ WebACL: liveAcl(), LockToken: '33333333-3333-4333-8333-333333333333' });
    waf
      .on(DeleteWebACLCommand)
      .rejectsOnce(awsError('WAFAssociatedItemException'))
      .rejectsOnce(awsError('WAFAssociatedItemException'))
      .resolves({});
    const c = ctx();

    await webAclStep.teardown(c);

    expect(waf.commandCalls(DeleteWebACLCommand).map((x) => x.args[0].input)).toEqual([
      {
        Name: 'cloudmart-web-acl',
        Id: ACL_ID,
        Scope: 'CLOUDFRONT',
        LockToken: '11111111-1111-4111-8111-111111111111',
      },
      {
        Name: 'cloudmart-web-acl',
        Id: ACL_ID,
        Scope: 'CLOUDFRONT',
        LockToken: '22222222-2222-4222-8222-222222222222',
      },
      {
        Name: 'cloudmart-web-acl',
        Id: ACL_ID,
        Scope: 'CLOUDFRONT',
        LockToken: '33333333-3333-4333-8333-333333333333',
      },
    ]);
    expect(c.progressLog.some((l) => l.includes('WAFAssociatedItemException'))).toBe(true);
  });

  it('teardown gives up after its bound while the ACL stays associated', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [SUMMARY] });
    waf
      .on(GetWebACLCommand)
      .resolves({ WebACL: liveAcl(), LockToken: '44444444-4444-4444-8444-444444444444' });
    waf.on(DeleteWebACLCommand).rejects(awsError('WAFAssociatedItemException'));
    await expect(webAclStep.teardown(ctx())).rejects.toThrow(/WAFAssociatedItemException/);
  });

  it('teardown succeeds when the web ACL is already gone', async () => {
    waf.on(ListWebACLsCommand).resolves({ WebACLs: [] });
    await expect(webAclStep.teardown(ctx())).resolves.toBeUndefined();
    expect(waf.commandCalls(DeleteWebACLCommand)).toHaveLength(0);

    // Listed away but still recorded in the state: NotFound on read is done too.
    waf.on(GetWebACLCommand).rejects(awsError('WAFNonexistentItemException'));
    await expect(
      webAclStep.teardown(ctx({ previous: { webAclId: ACL_ID } })),
    ).resolves.toBeUndefined();
    expect(waf.commandCalls(DeleteWebACLCommand)).toHaveLength(0);
  });
});
