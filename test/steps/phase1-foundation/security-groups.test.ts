import {
  DescribeManagedPrefixListsCommand,
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  ModifySecurityGroupRulesCommand,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type AuthorizeSecurityGroupIngressCommandInput,
  type RevokeSecurityGroupIngressCommandInput,
  type SecurityGroup,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import {
  albSecurityGroupIds,
  securityGroupsStep,
} from '../../../src/steps/phase1-foundation/security-groups.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

type Stub = ReturnType<typeof strictMock>;

const mutating = (stub: Stub) =>
  stub
    .calls()
    .map((c) => (c.args[0] as object).constructor.name)
    .filter((n) => !/^(Describe|Get|List)/.test(n));

/**
 * A small in-memory EC2 security-group API: groups get AWS's default egress rule on creation,
 * authorize rejects duplicates, revoke and modify work on rule ids. It outlives one create, as
 * AWS does, so a second run sees what the first one made.
 */
function fakeSecurityGroups(ec2: Stub) {
  const groups: SecurityGroup[] = [];
  const rules: SecurityGroupRule[] = [];
  let next = 0;
  const ruleId = () => `sgr-${++next}`;
  const sameRule = (a: SecurityGroupRule, b: SecurityGroupRule) =>
    a.GroupId === b.GroupId &&
    a.IsEgress === b.IsEgress &&
    a.IpProtocol === b.IpProtocol &&
    a.FromPort === b.FromPort &&
    a.ToPort === b.ToPort &&
    a.CidrIpv4 === b.CidrIpv4 &&
    a.PrefixListId === b.PrefixListId &&
    a.ReferencedGroupInfo?.GroupId === b.ReferencedGroupInfo?.GroupId;

  ec2.on(DescribeSecurityGroupsCommand).callsFake(() => ({ SecurityGroups: [...groups] }));
  ec2.on(CreateSecurityGroupCommand).callsFake((input) => {
    const id = `sg-${String(input.GroupName)
      .replace(/^cloudmart-/, '')
      .replace(/-sg$/, '')}`;
    groups.push({
      GroupId: id,
      GroupName: input.GroupName,
      VpcId: input.VpcId,
      Tags: input.TagSpecifications[0].Tags,
    });
    rules.push({
      SecurityGroupRuleId: ruleId(),
      GroupId: id,
      IsEgress: true,
      IpProtocol: '-1',
      FromPort: -1,
      ToPort: -1,
      CidrIpv4: '0.0.0.0/0',
    });
    return { GroupId: id };
  });
  ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input) => {
    const ids = input.Filters[0].Values as string[];
    return { SecurityGroupRules: rules.filter((r) => ids.includes(r.GroupId!)) };
  });
  const authorize = (egress: boolean) => (input: AuthorizeSecurityGroupIngressCommandInput) => {
    const add: SecurityGroupRule[] = [];
    for (const p of input.IpPermissions ?? []) {
      const base = {
        GroupId: input.GroupId,
        IsEgress: egress,
        IpProtocol: p.IpProtocol,
        FromPort: p.FromPort ?? -1,
        ToPort: p.ToPort ?? -1,
      };
      for (const r of p.IpRanges ?? [])
        add.push({ ...base, CidrIpv4: r.CidrIp, Description: r.Description });
      for (const l of p.PrefixListIds ?? [])
        add.push({ ...base, PrefixListId: l.PrefixListId, Description: l.Description });
      for (const g of p.UserIdGroupPairs ?? [])
        add.push({
          ...base,
          ReferencedGroupInfo: { GroupId: g.GroupId },
          Description: g.Description,
        });
    }
    if (add.some((a) => rules.some((r) => sameRule(a, r))))
      throw awsError('InvalidPermission.Duplicate');
    rules.push(...add.map((a) => ({ ...a, SecurityGroupRuleId: ruleId() })));
    return { Return: true };
  };
  ec2.on(AuthorizeSecurityGroupIngressCommand).callsFake(authorize(false));
  ec2.on(AuthorizeSecurityGroupEgressCommand).callsFake(authorize(true));
  const revoke = (input: RevokeSecurityGroupIngressCommandInput) => {
    for (const id of input.SecurityGroupRuleIds as string[]) {
      const i = rules.findIndex((r) => r.SecurityGroupRuleId === id);
      if (i >= 0) rules.splice(i, 1);
    }
    return { Return: true };
  };
  ec2.on(RevokeSecurityGroupIngressCommand).callsFake(revoke);
  ec2.on(RevokeSecurityGroupEgressCommand).callsFake(revoke);
  ec2.on(ModifySecurityGroupRulesCommand).callsFake((input) => {
    for (const m of input.SecurityGroupRules) {
      const r = rules.find((x) => x.SecurityGroupRuleId === m.SecurityGroupRuleId)!;
      r.Description = m.SecurityGroupRule.Description;
    }
    return { Return: true };
  });
  return { groups, rules };
}

const show = (r: SecurityGroupRule) =>
  `${r.GroupId} ${r.IsEgress ? 'out' : 'in'} ${r.IpProtocol} ${r.FromPort}-${r.ToPort} ${
    r.CidrIpv4 ?? r.PrefixListId ?? r.ReferencedGroupInfo?.GroupId
  }`;

describe('network.security-groups', () => {
  let ec2: Stub;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({
      stepId: securityGroupsStep.id,
      outputs: { [STEP.vpc]: { vpcId: 'vpc-1', cidr: '10.0.0.0/16' } },
      ...over,
    });

  it('creates the four groups tagged at creation, with least-privilege rules that carry descriptions', async () => {
    const api = fakeSecurityGroups(ec2);

    const out = await securityGroupsStep.create(ctx());

    expect(out).toEqual({
      albSgId: 'sg-alb',
      appSgId: 'sg-app',
      dbSgId: 'sg-db',
      redisSgId: 'sg-redis',
    });
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)[0]!.args[0].input).toEqual({
      Filters: [
        { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
        { Name: 'tag:cloudmart:step', Values: ['network.security-groups'] },
        { Name: 'vpc-id', Values: ['vpc-1'] },
      ],
    });
    const creates = ec2.commandCalls(CreateSecurityGroupCommand).map((c) => c.args[0].input);
    expect(creates.map((c) => c.GroupName)).toEqual([
      'cloudmart-alb-sg',
      'cloudmart-app-sg',
      'cloudmart-db-sg',
      'cloudmart-redis-sg',
    ]);
    expect(creates[2]).toEqual({
      GroupName: 'cloudmart-db-sg',
      Description: expect.any(String),
      VpcId: 'vpc-1',
      TagSpecifications: [
        {
          ResourceType: 'security-group',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-db-sg' },
            { Key: 'cloudmart:stack', Value: 'cloudmart' },
            { Key: 'cloudmart:step', Value: 'network.security-groups' },
          ]),
        },
      ],
    });

    const ingress = ec2
      .commandCalls(AuthorizeSecurityGroupIngressCommand)
      .map((c) => c.args[0].input);
    const ruleTags = (group: string) => [
      {
        ResourceType: 'security-group-rule',
        Tags: expect.arrayContaining([
          { Key: 'Name', Value: group },
          { Key: 'cloudmart:stack', Value: 'cloudmart' },
        ]),
      },
    ];
    expect(ingress).toEqual([
      {
        GroupId: 'sg-alb',
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 80,
            ToPort: 80,
            IpRanges: [{ CidrIp: '0.0.0.0/0', Description: expect.stringContaining('HTTP from') }],
          },
        ],
        TagSpecifications: ruleTags('cloudmart-alb-sg'),
      },
      {
        GroupId: 'sg-alb',
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            IpRanges: [{ CidrIp: '0.0.0.0/0', Description: expect.stringContaining('HTTPS from') }],
          },
        ],
        TagSpecifications: ruleTags('cloudmart-alb-sg'),
      },
      {
        GroupId: 'sg-app',
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 8080,
            ToPort: 8080,
            UserIdGroupPairs: [
              { GroupId: 'sg-alb', Description: 'App port 8080 from the ALB only' },
            ],
          },
        ],
        TagSpecifications: ruleTags('cloudmart-app-sg'),
      },
      {
        GroupId: 'sg-db',
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 5432,
            ToPort: 5432,
            UserIdGroupPairs: [
              { GroupId: 'sg-app', Description: 'PostgreSQL from the app instances only' },
            ],
          },
        ],
        TagSpecifications: ruleTags('cloudmart-db-sg'),
      },
      {
        GroupId: 'sg-redis',
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 6379,
            ToPort: 6379,
            UserIdGroupPairs: [
              { GroupId: 'sg-app', Description: 'Redis from the app instances only' },
            ],
          },
        ],
        TagSpecifications: ruleTags('cloudmart-redis-sg'),
      },
    ]);
    // AWS's default egress stays on the ALB and app groups (described), goes from DB and Redis.
    expect(ec2.commandCalls(AuthorizeSecurityGroupEgressCommand)).toHaveLength(0);
    expect(
      ec2.commandCalls(RevokeSecurityGroupEgressCommand).map((c) => c.args[0].input.GroupId),
    ).toEqual(['sg-db', 'sg-redis']);
    expect(
      ec2.commandCalls(ModifySecurityGroupRulesCommand).map((c) => c.args[0].input.GroupId),
    ).toEqual(['sg-alb', 'sg-app']);

    expect(api.rules.map(show).sort()).toEqual([
      'sg-alb in tcp 443-443 0.0.0.0/0',
      'sg-alb in tcp 80-80 0.0.0.0/0',
      'sg-alb out -1 -1--1 0.0.0.0/0',
      'sg-app in tcp 8080-8080 sg-alb',
      'sg-app out -1 -1--1 0.0.0.0/0',
      'sg-db in tcp 5432-5432 sg-app',
      'sg-redis in tcp 6379-6379 sg-app',
    ]);
    expect(api.rules.every((r) => r.Description)).toBe(true);
    expect(api.rules.some((r) => r.FromPort! <= 22 && r.ToPort! >= 22)).toBe(false);
  });

  it('a crash after the create (state never written) makes the next run adopt everything and send no mutating call', async () => {
    fakeSecurityGroups(ec2);
    const first = await securityGroupsStep.create(ctx());
    ec2.resetHistory();

    const second = await securityGroupsStep.create(ctx({ previous: undefined }));

    expect(second).toEqual(first);
    expect(mutating(ec2)).toEqual([]);
  });

  it('opens the ALB to each allowed CIDR only (and to CloudFront for /api/*), and the DB port follows the engine', async () => {
    const api = fakeSecurityGroups(ec2);
    ec2
      .on(DescribeManagedPrefixListsCommand, {
        Filters: [
          { Name: 'prefix-list-name', Values: ['com.amazonaws.global.cloudfront.origin-facing'] },
        ],
      })
      .resolves({
        PrefixLists: [
          {
            PrefixListId: 'pl-22a6434b',
            PrefixListName: 'com.amazonaws.global.cloudfront.origin-facing',
          },
        ],
      });
    const config = testConfig({
      network: { allowedCidrs: ['203.0.113.0/24', '198.51.100.7/32'] },
      database: { engine: 'mysql' },
      app: { port: 3000 },
    });

    await securityGroupsStep.create(ctx({ config }));

    expect(
      api.rules
        .filter((r) => !r.IsEgress)
        .map(show)
        .sort(),
    ).toEqual([
      'sg-alb in tcp 443-443 198.51.100.7/32',
      'sg-alb in tcp 443-443 203.0.113.0/24',
      'sg-alb in tcp 80-80 198.51.100.7/32',
      'sg-alb in tcp 80-80 203.0.113.0/24',
      'sg-alb in tcp 80-80 pl-22a6434b',
      'sg-app in tcp 3000-3000 sg-alb',
      'sg-db in tcp 3306-3306 sg-app',
      'sg-redis in tcp 6379-6379 sg-app',
    ]);
    // Converged, including the prefix-list rule: a second run changes nothing.
    ec2.resetHistory();
    await securityGroupsStep.create(ctx({ config }));
    expect(mutating(ec2)).toEqual([]);
    const checks = await securityGroupsStep.verify(ctx({ config }));
    expect(checks.find((c) => c.id === 'network.sg.rules-match-config')?.status).toBe('pass');
  });

  describe('right after the create (EC2 eventual consistency)', () => {
    it('retries calls on the new groups while they read InvalidGroup.NotFound, and waits until their rules show', async () => {
      const api = fakeSecurityGroups(ec2);
      // The first two rules reads after the creates show nothing yet (not even the default egress).
      let rulesReads = 0;
      ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input) => {
        rulesReads += 1;
        const ids = input.Filters[0].Values as string[];
        return {
          SecurityGroupRules:
            rulesReads <= 2 ? [] : api.rules.filter((r) => ids.includes(r.GroupId!)),
        };
      });
      let refusedIngress = 0;
      ec2.on(AuthorizeSecurityGroupIngressCommand, { GroupId: 'sg-db' }).callsFake(() => {
        refusedIngress += 1;
        if (refusedIngress === 1)
          throw awsError('InvalidGroup.NotFound', "The security group 'sg-db' does not exist");
        api.rules.push({
          SecurityGroupRuleId: 'sgr-db-in',
          GroupId: 'sg-db',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          ReferencedGroupInfo: { GroupId: 'sg-app' },
          Description: 'PostgreSQL from the app instances only',
        });
        return { Return: true };
      });
      ec2
        .on(ModifySecurityGroupRulesCommand, { GroupId: 'sg-alb' })
        .rejectsOnce(awsError('InvalidGroup.NotFound'))
        .callsFake((input) => {
          for (const m of input.SecurityGroupRules) {
            api.rules.find((x) => x.SecurityGroupRuleId === m.SecurityGroupRuleId)!.Description =
              m.SecurityGroupRule.Description;
          }
          return { Return: true };
        });
      const c = ctx();

      await securityGroupsStep.create(c);

      expect(rulesReads).toBe(3);
      expect(
        c.progressLog.some((l) =>
          l.startsWith(
            'new security groups: rules of sg-alb, sg-app, sg-db, sg-redis not visible yet',
          ),
        ),
      ).toBe(true);
      expect(
        ec2.commandCalls(AuthorizeSecurityGroupIngressCommand, { GroupId: 'sg-db' }),
      ).toHaveLength(2);
      expect(ec2.commandCalls(ModifySecurityGroupRulesCommand, { GroupId: 'sg-alb' })).toHaveLength(
        2,
      );
      // The default egress of the DB and Redis groups went, though the first read missed it.
      expect(
        api.rules
          .filter((r) => r.IsEgress)
          .map((r) => r.GroupId)
          .sort(),
      ).toEqual(['sg-alb', 'sg-app']);
      expect(c.progressLog.some((l) => l.includes('waiting (InvalidGroup.NotFound)'))).toBe(true);
    });

    it('does not retry NotFound on a group it adopted', async () => {
      const api = fakeSecurityGroups(ec2);
      await securityGroupsStep.create(ctx());
      api.rules.splice(
        api.rules.findIndex((r) => r.GroupId === 'sg-redis' && !r.IsEgress),
        1,
      );
      ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidGroup.NotFound'));
      ec2.resetHistory();
      const c = ctx();

      await expect(securityGroupsStep.create(c)).rejects.toThrow('InvalidGroup.NotFound');
      expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
      expect(c.slept()).toBe(0);
    });
  });

  describe('a domain with a narrowed allow-list: the Route 53 health checkers', () => {
    const CF = 'com.amazonaws.global.cloudfront.origin-facing';
    const R53 = 'com.amazonaws.ap-northeast-2.route53-healthchecks';
    const narrowed = () =>
      testConfig({
        network: { allowedCidrs: ['203.0.113.0/24'] },
        dns: { domain: 'shop.example.com' },
      });
    const prefixLists = () =>
      ec2.on(DescribeManagedPrefixListsCommand).resolves({
        PrefixLists: [
          { PrefixListId: 'pl-cf', PrefixListName: CF },
          { PrefixListId: 'pl-r53', PrefixListName: R53 },
        ],
      });

    it('gives the ALB a second group that lets only them in on 443 (prefix-list weights: 55 + 25 > 60 rules)', async () => {
      const api = fakeSecurityGroups(ec2);
      prefixLists();
      const config = narrowed();

      const out = await securityGroupsStep.create(ctx({ config }));

      expect(out).toEqual({
        albSgId: 'sg-alb',
        appSgId: 'sg-app',
        dbSgId: 'sg-db',
        redisSgId: 'sg-redis',
        albHealthCheckSgId: 'sg-alb-health',
      });
      expect(albSecurityGroupIds(out)).toEqual(['sg-alb', 'sg-alb-health']);
      expect(ec2.commandCalls(DescribeManagedPrefixListsCommand)[0]!.args[0].input).toEqual({
        Filters: [{ Name: 'prefix-list-name', Values: [CF, R53] }],
      });
      expect(
        ec2.commandCalls(CreateSecurityGroupCommand, { GroupName: 'cloudmart-alb-health-sg' })[0]!
          .args[0].input,
      ).toEqual({
        GroupName: 'cloudmart-alb-health-sg',
        Description: 'CloudMart ALB: HTTPS from the Route 53 health checkers only',
        VpcId: 'vpc-1',
        TagSpecifications: [
          {
            ResourceType: 'security-group',
            Tags: expect.arrayContaining([
              { Key: 'Name', Value: 'cloudmart-alb-health-sg' },
              { Key: 'cloudmart:stack', Value: 'cloudmart' },
              { Key: 'cloudmart:step', Value: 'network.security-groups' },
              { Key: 'cloudmart:role', Value: 'alb-health' },
            ]),
          },
        ],
      });
      expect(
        ec2.commandCalls(AuthorizeSecurityGroupIngressCommand, { GroupId: 'sg-alb-health' })[0]!
          .args[0].input,
      ).toEqual({
        GroupId: 'sg-alb-health',
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            PrefixListIds: [
              {
                PrefixListId: 'pl-r53',
                Description:
                  'Route 53 health checkers (the https://api.shop.example.com/health check) on 443',
              },
            ],
          },
        ],
        TagSpecifications: [
          {
            ResourceType: 'security-group-rule',
            Tags: expect.arrayContaining([{ Key: 'Name', Value: 'cloudmart-alb-health-sg' }]),
          },
        ],
      });
      // Each list in its own group, and the new group keeps no egress of its own.
      expect(
        api.rules
          .filter((r) => r.GroupId === 'sg-alb' || r.GroupId === 'sg-alb-health')
          .map(show)
          .sort(),
      ).toEqual([
        'sg-alb in tcp 443-443 203.0.113.0/24',
        'sg-alb in tcp 443-443 pl-cf',
        'sg-alb in tcp 80-80 203.0.113.0/24',
        'sg-alb out -1 -1--1 0.0.0.0/0',
        'sg-alb-health in tcp 443-443 pl-r53',
      ]);

      const checks = await securityGroupsStep.verify(ctx({ config }));
      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['network.sg.exists', 'pass'],
        ['network.sg.no-world-ingress', 'pass'],
        ['network.sg.no-ssh', 'pass'],
        ['network.sg.rules-match-config', 'pass'],
        ['network.sg.descriptions', 'pass'],
      ]);
      expect(checks[0]!.evidence).toContain('cloudmart-alb-health-sg=sg-alb-health');

      ec2.resetHistory();
      await securityGroupsStep.create(ctx({ config }));
      expect(mutating(ec2)).toEqual([]);
    });

    it('plans the extra group only when it is needed', () => {
      expect(securityGroupsStep.describe(narrowed())).toContain(
        'Security group cloudmart-alb-health-sg: tcp 443 from Route 53 health checkers; no egress',
      );
      const open = testConfig({ dns: { domain: 'shop.example.com' } });
      expect(securityGroupsStep.describe(open).join('\n')).not.toContain('alb-health');
      const noDomain = testConfig({ network: { allowedCidrs: ['203.0.113.0/24'] } });
      expect(securityGroupsStep.describe(noDomain).join('\n')).not.toContain('alb-health');
    });

    it('verify reports the group missing, and its rule as not in the config once no longer needed', async () => {
      fakeSecurityGroups(ec2);
      prefixLists();
      await securityGroupsStep.create(ctx());
      let checks = await securityGroupsStep.verify(ctx({ config: narrowed() }));
      const by = (id: string) => checks.find((c) => c.id === id)!;
      expect(by('network.sg.exists')).toMatchObject({
        status: 'fail',
        evidence: 'missing: cloudmart-alb-health-sg',
      });

      await securityGroupsStep.create(ctx({ config: narrowed() }));
      const wide = testConfig({ dns: { domain: 'shop.example.com' } });
      checks = await securityGroupsStep.verify(ctx({ config: wide }));
      expect(by('network.sg.exists').status).toBe('pass');
      expect(by('network.sg.rules-match-config').evidence).toContain(
        'not in the config: cloudmart-alb-health-sg tcp 443 from pl-r53',
      );

      // up with the wider config empties the group (it may still sit on the ALB) and drops it
      // from the outputs, so the load balancer lets go of it.
      ec2.resetHistory();
      const out = await securityGroupsStep.create(ctx({ config: wide }));
      expect(out.albHealthCheckSgId).toBeUndefined();
      expect(
        ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input.GroupId),
      ).toContain('sg-alb-health');
      checks = await securityGroupsStep.verify(ctx({ config: wide }));
      expect(by('network.sg.rules-match-config').status).toBe('pass');
    });

    it('teardown deletes the extra group too', async () => {
      fakeSecurityGroups(ec2);
      prefixLists();
      await securityGroupsStep.create(ctx({ config: narrowed() }));
      ec2.on(DeleteSecurityGroupCommand).resolves({});

      await securityGroupsStep.teardown(ctx({ config: narrowed(), outputs: {} }));

      expect(
        ec2
          .commandCalls(DeleteSecurityGroupCommand)
          .map((c) => c.args[0].input.GroupId)
          .sort(),
      ).toEqual(['sg-alb', 'sg-alb-health', 'sg-app', 'sg-db', 'sg-redis']);
    });
  });

  it('converges: revokes a rule not in the config (SSH from the world) and restores a missing one', async () => {
    const api = fakeSecurityGroups(ec2);
    await securityGroupsStep.create(ctx());
    const appRule = api.rules.findIndex((r) => r.GroupId === 'sg-app' && !r.IsEgress);
    api.rules.splice(appRule, 1);
    api.rules.push({
      SecurityGroupRuleId: 'sgr-ssh',
      GroupId: 'sg-app',
      IsEgress: false,
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      CidrIpv4: '0.0.0.0/0',
      Description: 'ssh',
    });
    ec2.resetHistory();

    await securityGroupsStep.create(ctx());

    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input)).toEqual(
      [{ GroupId: 'sg-app', SecurityGroupRuleIds: ['sgr-ssh'] }],
    );
    expect(ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)).toHaveLength(1);
    expect(api.rules.filter((r) => r.GroupId === 'sg-app' && !r.IsEgress).map(show)).toEqual([
      'sg-app in tcp 8080-8080 sg-alb',
    ]);
    // The new rule was added before the stray one was revoked: no gap in allowed traffic.
    const names = ec2.calls().map((c) => (c.args[0] as object).constructor.name);
    expect(names.indexOf('AuthorizeSecurityGroupIngressCommand')).toBeLessThan(
      names.indexOf('RevokeSecurityGroupIngressCommand'),
    );
  });

  it('restores the default egress of the app group when someone revoked it', async () => {
    const api = fakeSecurityGroups(ec2);
    await securityGroupsStep.create(ctx());
    api.rules.splice(
      api.rules.findIndex((r) => r.GroupId === 'sg-app' && r.IsEgress),
      1,
    );
    ec2.resetHistory();

    await securityGroupsStep.create(ctx());

    expect(
      ec2.commandCalls(AuthorizeSecurityGroupEgressCommand).map((c) => c.args[0].input),
    ).toEqual([
      expect.objectContaining({
        GroupId: 'sg-app',
        IpPermissions: [
          expect.objectContaining({
            IpProtocol: '-1',
            IpRanges: [expect.objectContaining({ CidrIp: '0.0.0.0/0' })],
          }),
        ],
      }),
    ]);
    expect(api.rules.filter((r) => r.GroupId === 'sg-app' && r.IsEgress)).toHaveLength(1);
  });

  it('treats a rule AWS reports as a duplicate as already there', async () => {
    fakeSecurityGroups(ec2);
    ec2.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidPermission.Duplicate'));
    await expect(securityGroupsStep.create(ctx())).resolves.toMatchObject({ albSgId: 'sg-alb' });
  });

  describe('verify', () => {
    it('passes on what create made', async () => {
      fakeSecurityGroups(ec2);
      await securityGroupsStep.create(ctx());
      const checks = await securityGroupsStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status])).toEqual([
        ['network.sg.exists', 'pass'],
        ['network.sg.no-world-ingress', 'pass'],
        ['network.sg.no-ssh', 'pass'],
        ['network.sg.rules-match-config', 'pass'],
        ['network.sg.descriptions', 'pass'],
      ]);
    });

    it('flags a DB port opened to 0.0.0.0/0, SSH, a rule not in the config and a missing description', async () => {
      const api = fakeSecurityGroups(ec2);
      await securityGroupsStep.create(ctx());
      api.rules.push(
        {
          SecurityGroupRuleId: 'sgr-world-db',
          GroupId: 'sg-db',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          CidrIpv4: '0.0.0.0/0',
          Description: 'debug',
        },
        {
          SecurityGroupRuleId: 'sgr-ssh',
          GroupId: 'sg-app',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 0,
          ToPort: 1024,
          CidrIpv4: '10.0.0.0/8',
        },
      );

      const checks = await securityGroupsStep.verify(ctx());
      const by = (id: string) => checks.find((c) => c.id === id)!;

      expect(by('network.sg.no-world-ingress')).toMatchObject({
        status: 'fail',
        criterion: 'security-design',
        evidence: 'cloudmart-db-sg tcp 5432 from 0.0.0.0/0',
      });
      expect(by('network.sg.no-ssh')).toMatchObject({
        status: 'fail',
        evidence: 'cloudmart-app-sg tcp 0-1024 from 10.0.0.0/8',
      });
      expect(by('network.sg.rules-match-config').status).toBe('fail');
      expect(by('network.sg.rules-match-config').evidence).toBe(
        'not in the config: cloudmart-app-sg tcp 0-1024 from 10.0.0.0/8; not in the config: cloudmart-db-sg tcp 5432 from 0.0.0.0/0',
      );
      expect(by('network.sg.descriptions').status).toBe('warn');
    });

    it('flags IPv6 world ingress and a missing rule', async () => {
      const api = fakeSecurityGroups(ec2);
      await securityGroupsStep.create(ctx());
      const redis = api.rules.findIndex((r) => r.GroupId === 'sg-redis' && !r.IsEgress);
      api.rules.splice(redis, 1);
      api.rules.push({
        SecurityGroupRuleId: 'sgr-v6',
        GroupId: 'sg-alb',
        IsEgress: false,
        IpProtocol: 'tcp',
        FromPort: 8443,
        ToPort: 8443,
        CidrIpv6: '::/0',
        Description: 'alt',
      });

      const checks = await securityGroupsStep.verify(ctx());
      const by = (id: string) => checks.find((c) => c.id === id)!;

      expect(by('network.sg.no-world-ingress').evidence).toBe(
        'cloudmart-alb-sg tcp 8443 from ::/0',
      );
      expect(by('network.sg.rules-match-config').evidence).toContain(
        'missing: cloudmart-redis-sg: Redis from the app instances only',
      );
    });

    it('does not accept the ALB open to the world when the config restricts it', async () => {
      fakeSecurityGroups(ec2);
      await securityGroupsStep.create(ctx());
      const config = testConfig({ network: { allowedCidrs: ['203.0.113.0/24'] } });
      ec2.on(DescribeManagedPrefixListsCommand).resolves({
        PrefixLists: [
          {
            PrefixListId: 'pl-22a6434b',
            PrefixListName: 'com.amazonaws.global.cloudfront.origin-facing',
          },
        ],
      });
      const checks = await securityGroupsStep.verify(ctx({ config }));
      const check = checks.find((c) => c.id === 'network.sg.rules-match-config')!;
      expect(check.status).toBe('fail');
      expect(check.evidence).toContain('not in the config: cloudmart-alb-sg tcp 80 from 0.0.0.0/0');
      expect(check.evidence).toContain(
        'missing: cloudmart-alb-sg: CloudFront origin-facing addresses',
      );
    });

    it('fails when the groups are missing', async () => {
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      const checks = await securityGroupsStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({ id: 'network.sg.exists', status: 'fail' }),
      ]);
    });
  });

  describe('teardown', () => {
    it('revokes the cross-group references first, then deletes each group retrying DependencyViolation', async () => {
      fakeSecurityGroups(ec2);
      await securityGroupsStep.create(ctx());
      ec2.resetHistory();
      ec2.on(DeleteSecurityGroupCommand).resolves({});
      ec2
        .on(DeleteSecurityGroupCommand, { GroupId: 'sg-db' })
        .rejectsOnce(awsError('DependencyViolation', 'resource sg-db has a dependent object'))
        .resolves({});
      const c = ctx({ outputs: {} });

      await securityGroupsStep.teardown(c);

      const revoked = ec2
        .commandCalls(RevokeSecurityGroupIngressCommand)
        .map((x) => x.args[0].input.GroupId);
      expect(revoked.sort()).toEqual(['sg-app', 'sg-db', 'sg-redis']);
      const names = ec2.calls().map((x) => (x.args[0] as object).constructor.name);
      expect(names.lastIndexOf('RevokeSecurityGroupIngressCommand')).toBeLessThan(
        names.indexOf('DeleteSecurityGroupCommand'),
      );
      const deletes = ec2
        .commandCalls(DeleteSecurityGroupCommand)
        .map((x) => x.args[0].input.GroupId);
      expect(deletes.sort()).toEqual(['sg-alb', 'sg-app', 'sg-db', 'sg-db', 'sg-redis']);
      expect(
        c.progressLog.some((l) => l.includes('sg-db') && l.includes('DependencyViolation')),
      ).toBe(true);
    });

    it('names the ENIs that still hold a group when the bound is reached', async () => {
      ec2
        .on(DescribeSecurityGroupsCommand)
        .resolves({ SecurityGroups: [{ GroupId: 'sg-redis', GroupName: 'cloudmart-redis-sg' }] });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
      ec2.on(DeleteSecurityGroupCommand).rejects(awsError('DependencyViolation'));
      ec2.on(DescribeNetworkInterfacesCommand).resolves({
        NetworkInterfaces: [
          { NetworkInterfaceId: 'eni-7', Description: 'ElastiCache cloudmart-redis-001' },
        ],
      });

      const err = await securityGroupsStep.teardown(ctx()).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(CloudmartError);
      expect((err as Error).message).toContain('eni-7 (ElastiCache cloudmart-redis-001)');
    });

    it('succeeds when the groups are already gone, also for ids only the state remembers', async () => {
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
      ec2.on(DeleteSecurityGroupCommand).rejects(awsError('InvalidGroup.NotFound'));

      await expect(
        securityGroupsStep.teardown(ctx({ previous: { albSgId: 'sg-old' } })),
      ).resolves.toBeUndefined();
      expect(ec2.commandCalls(DeleteSecurityGroupCommand)).toHaveLength(1);
    });

    it('sends no delete when nothing is there', async () => {
      ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
      await securityGroupsStep.teardown(ctx());
      expect(mutating(ec2)).toEqual([]);
    });
  });
});
