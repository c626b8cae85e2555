import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  UpdateAssumeRolePolicyCommand,
  type InstanceProfile,
  type Role,
} from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  instancePolicy,
  instanceRoleStep,
  TRUST_POLICY,
} from '../../../src/steps/phase1-foundation/instance-role.js';
import type { PolicyDocument } from '../../../src/aws/policy.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

type Stub = ReturnType<typeof strictMock>;

const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/k-1`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/cloudmart-ec2-role`;
const PROFILE_ARN = `arn:aws:iam::${ACCOUNT}:instance-profile/cloudmart-ec2-profile`;
const SSM_CORE = 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore';
const A = `ap-northeast-2:${ACCOUNT}`;

const mutating = (stub: Stub) =>
  stub
    .calls()
    .map((c) => (c.args[0] as object).constructor.name)
    .filter((n) => !/^(Describe|Get|List)/.test(n));

/** IAM hands policy documents back URL-encoded. */
const encoded = (doc: unknown) => encodeURIComponent(JSON.stringify(doc));
const seedInline = () => instancePolicy(testConfig(), ACCOUNT, 'aws', KEY_ARN);
const role = (over: Partial<Role> = {}): Role => ({
  RoleName: 'cloudmart-ec2-role',
  Arn: ROLE_ARN,
  Path: '/',
  RoleId: 'AROAEXAMPLE',
  CreateDate: new Date(0),
  ...over,
});
const profile = (roleNames: string[]): InstanceProfile => ({
  InstanceProfileName: 'cloudmart-ec2-profile',
  Arn: PROFILE_ARN,
  Path: '/',
  InstanceProfileId: 'AIPAEXAMPLE',
  CreateDate: new Date(0),
  Roles: roleNames.map((n) => role({ RoleName: n })),
});
const SSM_CORE_DOC = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['ssm:UpdateInstanceInformation', 'ssm:GetParameters'],
      Resource: '*',
    },
    { Effect: 'Allow', Action: ['ssmmessages:CreateControlChannel'], Resource: '*' },
  ],
};

describe('iam.instance-role', () => {
  let iam: Stub;
  beforeEach(() => {
    iam = strictMock(IAMClient);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({
      stepId: instanceRoleStep.id,
      outputs: { [STEP.kms]: { keyId: 'k-1', keyArn: KEY_ARN, aliasName: 'alias/cloudmart' } },
      ...over,
    });

  function converged() {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: role({ AssumeRolePolicyDocument: encoded(TRUST_POLICY) }) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({
      AttachedPolicies: [{ PolicyName: 'AmazonSSMManagedInstanceCore', PolicyArn: SSM_CORE }],
    });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['cloudmart-ec2-least-privilege'] });
    iam.on(GetRolePolicyCommand).resolves({
      RoleName: 'cloudmart-ec2-role',
      PolicyName: 'cloudmart-ec2-least-privilege',
      PolicyDocument: encoded(seedInline()),
    });
    iam
      .on(GetInstanceProfileCommand)
      .resolves({ InstanceProfile: profile(['cloudmart-ec2-role']) });
    iam.on(GetPolicyCommand).resolves({ Policy: { DefaultVersionId: 'v9' } });
    iam
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { Document: encoded(SSM_CORE_DOC) } });
  }

  it('creates the role, the SSM core attachment, the least-privilege inline policy and the profile', async () => {
    let profileRoles: Array<{ RoleName: string }> | undefined;
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntity'));
    iam.on(CreateRoleCommand).resolves({ Role: role() });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(AttachRolePolicyCommand).resolves({});
    iam.on(GetRolePolicyCommand).rejects(awsError('NoSuchEntity'));
    iam.on(PutRolePolicyCommand).resolves({});
    let profileReads = 0;
    iam.on(GetInstanceProfileCommand).callsFake(() => {
      profileReads += 1;
      if (!profileRoles) throw awsError('NoSuchEntity');
      // IAM is eventually consistent: the first read after the add does not show the role yet.
      return {
        InstanceProfile: { Arn: PROFILE_ARN, Roles: profileReads > 2 ? profileRoles : [] },
      };
    });
    iam.on(CreateInstanceProfileCommand).callsFake(() => {
      profileRoles = [];
      return { InstanceProfile: { Arn: PROFILE_ARN, Roles: [] } };
    });
    iam.on(AddRoleToInstanceProfileCommand).callsFake((input: { RoleName: string }) => {
      profileRoles = [{ RoleName: input.RoleName }];
      return {};
    });
    const c = ctx();

    const out = await instanceRoleStep.create(c);

    expect(out).toEqual({
      roleName: 'cloudmart-ec2-role',
      roleArn: ROLE_ARN,
      instanceProfileName: 'cloudmart-ec2-profile',
      instanceProfileArn: PROFILE_ARN,
    });
    const created = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(created).toEqual({
      RoleName: 'cloudmart-ec2-role',
      AssumeRolePolicyDocument: expect.any(String),
      Description: expect.any(String),
      MaxSessionDuration: 3600,
      Tags: expect.arrayContaining([
        { Key: 'Name', Value: 'cloudmart-ec2-role' },
        { Key: 'cloudmart:stack', Value: 'cloudmart' },
        { Key: 'cloudmart:step', Value: 'iam.instance-role' },
      ]),
    });
    expect(JSON.parse(created.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Ec2InstancesAssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'ec2.amazonaws.com' },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    expect(iam.commandCalls(AttachRolePolicyCommand)[0]!.args[0].input).toEqual({
      RoleName: 'cloudmart-ec2-role',
      PolicyArn: SSM_CORE,
    });

    const put = iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input;
    expect(put.PolicyName).toBe('cloudmart-ec2-least-privilege');
    const doc = JSON.parse(put.PolicyDocument!) as PolicyDocument;
    expect(doc.Statement).toEqual([
      {
        Sid: 'BackendLogGroupOnly',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [
          `arn:aws:logs:${A}:log-group:/aws/ec2/cloudmart-backend`,
          `arn:aws:logs:${A}:log-group:/aws/ec2/cloudmart-backend:*`,
        ],
      },
      {
        // Phase 1's instances log before Phase 2 creates the group: that one group only.
        Sid: 'CreateBackendLogGroupOnly',
        Effect: 'Allow',
        Action: 'logs:CreateLogGroup',
        Resource: `arn:aws:logs:${A}:log-group:/aws/ec2/cloudmart-backend`,
      },
      {
        Sid: 'StackMetricNamespacesOnly',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': ['CWAgent', 'CloudMart'] } },
      },
      {
        Sid: 'StackParametersOnly',
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        Resource: [
          `arn:aws:ssm:${A}:parameter/cloudmart/cloudmart`,
          `arn:aws:ssm:${A}:parameter/cloudmart/cloudmart/*`,
        ],
      },
      {
        // AmazonSSMManagedInstanceCore allows GetParameter(s) on *: this Deny narrows it.
        Sid: 'DenyParametersOutsideTheStack',
        Effect: 'Deny',
        Action: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        NotResource: [
          `arn:aws:ssm:${A}:parameter/cloudmart/cloudmart`,
          `arn:aws:ssm:${A}:parameter/cloudmart/cloudmart/*`,
          'arn:aws:ssm:*:*:parameter/aws/service/*',
        ],
      },
      {
        Sid: 'StackSecretsOnly',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: `arn:aws:secretsmanager:${A}:secret:cloudmart/cloudmart/*`,
      },
      {
        Sid: 'StackDatabaseMasterSecretOnly',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: `arn:aws:secretsmanager:${A}:secret:rds!db-*`,
        Condition: {
          StringEquals: {
            'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': `arn:aws:rds:${A}:db:cloudmart-db`,
          },
        },
      },
      {
        Sid: 'DecryptStackKeyThroughSsmAndSecretsManager',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: {
          StringEquals: {
            'kms:ViaService': [
              'secretsmanager.ap-northeast-2.amazonaws.com',
              'ssm.ap-northeast-2.amazonaws.com',
            ],
          },
        },
      },
      {
        Sid: 'CloudWatchAgentDescribe',
        Effect: 'Allow',
        Action: ['ec2:DescribeTags', 'ec2:DescribeInstances'],
        Resource: '*',
      },
    ]);
    // No `*` or `service:*` action anywhere.
    for (const s of doc.Statement) {
      for (const a of [s.Action].flat()) expect(a).not.toMatch(/(^\*$|:\*$)/);
    }

    expect(iam.commandCalls(CreateInstanceProfileCommand)[0]!.args[0].input).toEqual({
      InstanceProfileName: 'cloudmart-ec2-profile',
      Tags: expect.arrayContaining([{ Key: 'Name', Value: 'cloudmart-ec2-profile' }]),
    });
    expect(iam.commandCalls(AddRoleToInstanceProfileCommand)[0]!.args[0].input).toEqual({
      InstanceProfileName: 'cloudmart-ec2-profile',
      RoleName: 'cloudmart-ec2-role',
    });
    // Waited until the profile read back with the role.
    expect(profileReads).toBe(3);
    expect(c.progressLog.some((l) => l.includes('propagating'))).toBe(true);
  });

  it('adopts the converged role and profile and sends no mutating call', async () => {
    converged();
    const out = await instanceRoleStep.create(ctx());
    expect(mutating(iam)).toEqual([]);
    expect(out.instanceProfileArn).toBe(PROFILE_ARN);
  });

  it('rewrites the inline policy only when its decoded document differs', async () => {
    converged();
    const widened = seedInline();
    widened.Statement.push({ Effect: 'Allow', Action: 's3:*', Resource: '*' });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encoded(widened) });
    iam.on(PutRolePolicyCommand).resolves({});

    await instanceRoleStep.create(ctx());

    expect(mutating(iam)).toEqual(['PutRolePolicyCommand']);
    expect(
      JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!),
    ).toEqual(seedInline());
  });

  it('restores a trust policy someone changed, and the SSM core attachment', async () => {
    converged();
    iam.on(GetRoleCommand).resolves({
      Role: role({
        AssumeRolePolicyDocument: encoded({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(UpdateAssumeRolePolicyCommand).resolves({});
    iam.on(AttachRolePolicyCommand).resolves({});

    await instanceRoleStep.create(ctx());

    expect(mutating(iam)).toEqual(['UpdateAssumeRolePolicyCommand', 'AttachRolePolicyCommand']);
  });

  it('fixes a profile that holds another role', async () => {
    converged();
    let roles = [{ RoleName: 'someone-else' }];
    iam.on(GetInstanceProfileCommand).callsFake(() => ({
      InstanceProfile: { Arn: PROFILE_ARN, Roles: roles },
    }));
    iam.on(RemoveRoleFromInstanceProfileCommand).callsFake(() => {
      roles = [];
      return {};
    });
    iam.on(AddRoleToInstanceProfileCommand).callsFake(() => {
      roles = [{ RoleName: 'cloudmart-ec2-role' }];
      return {};
    });

    await instanceRoleStep.create(ctx());

    expect(iam.commandCalls(RemoveRoleFromInstanceProfileCommand)[0]!.args[0].input.RoleName).toBe(
      'someone-else',
    );
    expect(mutating(iam)).toEqual([
      'RemoveRoleFromInstanceProfileCommand',
      'AddRoleToInstanceProfileCommand',
    ]);
  });

  describe('verify', () => {
    it('passes on the converged role', async () => {
      converged();
      const checks = await instanceRoleStep.verify(ctx());
      expect(checks.map((c) => [c.id, c.status, c.criterion])).toEqual([
        ['iam.instance-role.least-privilege', 'pass', 'iam'],
        ['iam.instance-role.ssm', 'pass', 'iam'],
        ['iam.instance-role.inline-policy', 'pass', 'iam'],
        ['iam.instance-role.parameters-scoped', 'pass', 'iam'],
        ['iam.instance-role.profile', 'pass', 'iam'],
      ]);
      expect(checks.find((c) => c.id === 'iam.instance-role.parameters-scoped')!.evidence).toBe(
        'cloudmart-ec2-least-privilege denies ssm:GetParameter, ssm:GetParameters, ssm:GetParametersByPath outside /cloudmart/cloudmart/* and /aws/service/*',
      );
    });

    it('reports a role that can read every parameter of the account (the Deny removed)', async () => {
      converged();
      const opened = seedInline();
      opened.Statement = opened.Statement.filter((s) => s.Sid !== 'DenyParametersOutsideTheStack');
      iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encoded(opened) });

      const checks = await instanceRoleStep.verify(ctx());

      expect(checks.find((c) => c.id === 'iam.instance-role.parameters-scoped')).toMatchObject({
        status: 'fail',
        criterion: 'iam',
        evidence:
          'no Deny keeps parameter reads inside /cloudmart/cloudmart/*: AmazonSSMManagedInstanceCore lets the instances read every parameter in the account',
      });
    });

    it('reports AdministratorAccess and a service:* inline grant on *', async () => {
      converged();
      iam.on(ListAttachedRolePoliciesCommand).resolves({
        AttachedPolicies: [
          { PolicyName: 'AmazonSSMManagedInstanceCore', PolicyArn: SSM_CORE },
          {
            PolicyName: 'AdministratorAccess',
            PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
          },
        ],
      });
      iam.on(ListRolePoliciesCommand).resolves({
        PolicyNames: ['cloudmart-ec2-least-privilege', 'debug'],
      });
      iam.on(GetRolePolicyCommand, { PolicyName: 'debug' }).resolves({
        PolicyDocument: encoded({
          Version: '2012-10-17',
          Statement: { Sid: 'Everything', Effect: 'Allow', Action: 's3:*', Resource: '*' },
        }),
      });

      const checks = await instanceRoleStep.verify(ctx());
      const check = checks.find((c) => c.id === 'iam.instance-role.least-privilege')!;

      expect(check.status).toBe('fail');
      expect(check.evidence).toBe(
        'managed AdministratorAccess (arn:aws:iam::aws:policy/AdministratorAccess); inline debug: Sid Everything: s3:* on *',
      );
    });

    it('reads a customer managed policy and reports a * action on *', async () => {
      converged();
      const custom = `arn:aws:iam::${ACCOUNT}:policy/ops`;
      iam.on(ListAttachedRolePoliciesCommand).resolves({
        AttachedPolicies: [
          { PolicyName: 'AmazonSSMManagedInstanceCore', PolicyArn: SSM_CORE },
          { PolicyName: 'ops', PolicyArn: custom },
        ],
      });
      iam.on(GetPolicyVersionCommand, { PolicyArn: custom }).resolves({
        PolicyVersion: {
          Document: encoded({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
          }),
        },
      });

      const checks = await instanceRoleStep.verify(ctx());

      expect(checks.find((c) => c.id === 'iam.instance-role.least-privilege')!.evidence).toBe(
        'managed ops: * on *',
      );
    });

    it('reports a missing SSM attachment, a drifted inline policy and an empty profile', async () => {
      converged();
      iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
      const changed = seedInline();
      changed.Statement.pop();
      iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encoded(changed) });
      iam.on(GetInstanceProfileCommand).resolves({ InstanceProfile: profile([]) });

      const checks = await instanceRoleStep.verify(ctx());
      const by = (id: string) => checks.find((c) => c.id === id)!;

      expect(by('iam.instance-role.ssm').status).toBe('fail');
      expect(by('iam.instance-role.inline-policy').status).toBe('warn');
      expect(by('iam.instance-role.profile')).toMatchObject({
        status: 'fail',
        evidence: 'cloudmart-ec2-profile roles: none',
      });
    });

    it('fails when the role is missing', async () => {
      iam.on(GetRoleCommand).rejects(awsError('NoSuchEntity'));
      const checks = await instanceRoleStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({ id: 'iam.instance-role.exists', status: 'fail' }),
      ]);
    });
  });

  describe('teardown', () => {
    it('removes the role from the profile, deletes the profile, detaches and deletes policies, then the role', async () => {
      converged();
      iam.on(RemoveRoleFromInstanceProfileCommand).resolves({});
      iam.on(DeleteInstanceProfileCommand).resolves({});
      iam.on(DetachRolePolicyCommand).resolves({});
      iam.on(DeleteRolePolicyCommand).resolves({});
      iam
        .on(DeleteRoleCommand)
        .rejectsOnce(
          awsError(
            'DeleteConflict',
            'Cannot delete entity, must remove roles from instance profile first.',
          ),
        )
        .resolves({});

      await instanceRoleStep.teardown(ctx({ outputs: {} }));

      expect(mutating(iam)).toEqual([
        'RemoveRoleFromInstanceProfileCommand',
        'DeleteInstanceProfileCommand',
        'DetachRolePolicyCommand',
        'DeleteRolePolicyCommand',
        'DeleteRoleCommand',
        'DeleteRoleCommand',
      ]);
      expect(iam.commandCalls(DetachRolePolicyCommand)[0]!.args[0].input).toEqual({
        RoleName: 'cloudmart-ec2-role',
        PolicyArn: SSM_CORE,
      });
      expect(iam.commandCalls(DeleteRolePolicyCommand)[0]!.args[0].input).toEqual({
        RoleName: 'cloudmart-ec2-role',
        PolicyName: 'cloudmart-ec2-least-privilege',
      });
    });

    it('succeeds when the role and profile are already gone', async () => {
      iam.on(GetInstanceProfileCommand).rejects(awsError('NoSuchEntity'));
      iam.on(GetRoleCommand).rejects(awsError('NoSuchEntity'));
      await expect(instanceRoleStep.teardown(ctx())).resolves.toBeUndefined();
      expect(mutating(iam)).toEqual([]);
    });

    it('deletes a role whose profile is already gone', async () => {
      converged();
      iam.on(GetInstanceProfileCommand).rejects(awsError('NoSuchEntity'));
      iam.on(DetachRolePolicyCommand).resolves({});
      iam.on(DeleteRolePolicyCommand).rejects(awsError('NoSuchEntity'));
      iam.on(DeleteRoleCommand).resolves({});
      await instanceRoleStep.teardown(ctx());
      expect(iam.commandCalls(DeleteRoleCommand)).toHaveLength(1);
    });
  });
});

describe('iam.instance-role: a private ECR image', () => {
  it('lets the instances pull exactly that repository, and nothing when the image is public or unset', async () => {
    const { ecrStatements, instancePolicy } =
      await import('../../../src/steps/phase1-foundation/instance-role.js');
    expect(
      ecrStatements('123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/api:1.2', 'aws'),
    ).toEqual([
      { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Sid: 'EcrPullAppImageOnly',
        Effect: 'Allow',
        Action: [
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
          'ecr:BatchCheckLayerAvailability',
        ],
        Resource: 'arn:aws:ecr:ap-northeast-2:123456789012:repository/shop/api',
      },
    ]);
    expect(ecrStatements('nginx:1.27', 'aws')).toEqual([]);
    expect(ecrStatements(null, 'aws')).toEqual([]);
    const withImage = instancePolicy(
      testConfig({
        app: { image: '123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/api:1.2' },
      }),
      '123456789012',
      'aws',
      'arn:aws:kms:ap-northeast-2:123456789012:key/k',
    );
    expect(withImage.Statement.map((s) => s.Sid)).toContain('EcrPullAppImageOnly');
  });
});

describe('iam.instance-role: which parameters the instances can read', () => {
  /** IAM's ARN match: each colon-separated field on its own, `*` and `?` as wildcards. */
  const arnMatches = (pattern: string, arn: string): boolean => {
    const p = pattern.split(':');
    const a = arn.split(':');
    if (p.length !== 6 || a.length < 6) return false;
    const tail = [...a.slice(0, 5), a.slice(5).join(':')];
    return p.every((field, i) =>
      new RegExp(
        `^${field
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      ).test(tail[i]!),
    );
  };
  const denied = (doc: PolicyDocument, action: string, arn: string) =>
    doc.Statement.some(
      (s) =>
        s.Effect === 'Deny' &&
        [s.Action].flat().includes(action) &&
        ![s.NotResource ?? []].flat().some((p) => arnMatches(p, arn)),
    );
  const param = (name: string) => `arn:aws:ssm:${A}:parameter${name}`;

  it("denies reads outside the stack's prefix, never the instances' own reads", async () => {
    const { agentParameterName } =
      await import('../../../src/steps/phase1-foundation/launch-template.js');
    const { SETTING_NAMES } = await import('../../../src/steps/phase1-foundation/app-settings.js');
    const config = testConfig();
    const doc = seedInline();

    // What the instance itself reads: the agent config, every app setting, the path read.
    const own = [
      agentParameterName(config),
      ...SETTING_NAMES.map((n) => `/cloudmart/cloudmart${n}`),
    ];
    for (const name of own) {
      expect(denied(doc, 'ssm:GetParameter', param(name)), name).toBe(false);
      expect(denied(doc, 'ssm:GetParameters', param(name)), name).toBe(false);
    }
    expect(denied(doc, 'ssm:GetParametersByPath', param('/cloudmart/cloudmart'))).toBe(false);
    // AWS's public parameters (no account in the ARN).
    expect(
      denied(
        doc,
        'ssm:GetParameter',
        'arn:aws:ssm:ap-northeast-2::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      ),
    ).toBe(false);

    // Anything else of the account, including another stack whose name starts the same.
    for (const name of [
      '/prod/db-password',
      '/cloudmart/other/db/endpoint',
      '/cloudmart/cloudmart-2/app/port',
    ]) {
      expect(denied(doc, 'ssm:GetParameter', param(name)), name).toBe(true);
      expect(denied(doc, 'ssm:GetParameters', param(name)), name).toBe(true);
    }
    expect(denied(doc, 'ssm:GetParametersByPath', param('/cloudmart'))).toBe(true);
    // Only parameter reads are denied.
    expect(denied(doc, 'ssm:PutParameter', param('/prod/x'))).toBe(false);
  });
});

describe('iam.instance-role: an upper-case stack name', () => {
  it('names the database in the master-secret condition as RDS spells it (lower case)', async () => {
    const { dbSettings } = await import('../../../src/steps/phase1-foundation/rds-database.js');
    // Built directly: the config schema may reject upper case; the policy must not depend on it.
    const config = { ...testConfig(), stack: 'CloudMart' };
    const doc = instancePolicy(config, ACCOUNT, 'aws', KEY_ARN);
    const stmt = doc.Statement.find((s) => s.Sid === 'StackDatabaseMasterSecretOnly')!;
    // StringEquals is case-sensitive: the tag RDS writes names the DB in lower case.
    expect(stmt.Condition).toEqual({
      StringEquals: {
        'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': `arn:aws:rds:${A}:db:cloudmart-db`,
      },
    });
    expect(dbSettings(config).instanceId).toBe('cloudmart-db');
  });
});
