import { describe, expect, it } from 'vitest';
import { operatorPolicy, policySize, MANAGED_POLICY_MAX_CHARS } from '../../src/engine/policy.js';
import { asList, type PolicyDocument } from '../../src/aws/policy.js';
import { instancePolicy } from '../../src/steps/phase1-foundation/instance-role.js';
import { deliveryPolicy, logGroupArnOf } from '../../src/steps/phase4-security/flow-logs.js';
import { boundaryPolicy, operatorScope, SSM_AGENT_ACTIONS } from '../../src/steps/permissions.js';
import { registry } from '../../src/steps/registry.js';
import { ACCOUNT, testConfig } from '../helpers/context.js';
import { stackLimit } from '../../src/config/limits.js';
import {
  evaluate,
  evaluateBounded,
  type AuthRequest,
  type ContextValue,
  type Statement,
} from '../helpers/iam-evaluator.js';

/**
 * The privilege escalation the boundary closes: the operator policy lets its holder write the
 * stack's roles and pass the instance role to EC2. Without a boundary, `Action: "*"` on the
 * instance role and one instance launched with it made the holder an administrator.
 */
const config = testConfig();
const operator = operatorPolicy(registry, operatorScope(config)).Statement as Statement[];
const boundary = boundaryPolicy(config).Statement as Statement[];

const REGION = config.region;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const EC2_ROLE = role('cloudmart-ec2-role');
const FLOW_ROLE = role('cloudmart-flow-logs-role');
const BACKUP_ROLE = role('cloudmart-backup-role');
const BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/cloudmart-role-boundary`;
const OTHER_POLICY = `arn:aws:iam::${ACCOUNT}:policy/AnyoneCanDoAnything`;
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const mine = { 'aws:ResourceTag/cloudmart:stack': 'cloudmart' };

const ask = (action: string, resource: string, context: Record<string, ContextValue> = {}) =>
  evaluate(operator, { action, resource, context });

const ADMIN: Statement[] = [{ Effect: 'Allow', Action: '*', Resource: '*' }];

describe('the operator policy: roles only with the permissions boundary', () => {
  const withBoundary = { 'iam:PermissionsBoundary': BOUNDARY };
  const tag = { 'aws:RequestTag/cloudmart:stack': 'cloudmart' };

  it('creates a stack role only with the boundary: an explicit Deny, whatever else allows it', () => {
    expect(ask('iam:CreateRole', EC2_ROLE, { ...tag, ...withBoundary })).toBe('allow');
    // No boundary in the request: the key is absent, and ArnNotLike holds (the Deny applies).
    expect(ask('iam:CreateRole', EC2_ROLE, tag)).toBe('deny');
    expect(
      ask('iam:CreateRole', EC2_ROLE, { ...tag, 'iam:PermissionsBoundary': OTHER_POLICY }),
    ).toBe('deny');
    // An administrator-like Allow the holder has besides does not lift it.
    for (const r of [EC2_ROLE, FLOW_ROLE, BACKUP_ROLE]) {
      expect(
        evaluate([...ADMIN, ...operator], { action: 'iam:CreateRole', resource: r, context: tag }),
      ).toBe('deny');
      expect(
        evaluate([...ADMIN, ...operator], {
          action: 'iam:CreateRole',
          resource: r,
          context: { ...tag, ...withBoundary },
        }),
      ).toBe('allow');
    }
    // An AWS managed policy of the same name is not the account's boundary.
    expect(
      ask('iam:CreateRole', EC2_ROLE, {
        ...tag,
        'iam:PermissionsBoundary': 'arn:aws:iam::aws:policy/cloudmart-role-boundary',
      }),
    ).toBe('deny');
  });

  it('writes, attaches, deletes and detaches role policies only on a role that carries the boundary', () => {
    const ssm = { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore' };
    for (const r of [EC2_ROLE, FLOW_ROLE, BACKUP_ROLE]) {
      for (const action of ['iam:PutRolePolicy', 'iam:DeleteRolePolicy']) {
        expect(ask(action, r, withBoundary), `${action} ${r}`).toBe('allow');
        expect(ask(action, r), `${action} ${r} without the boundary`).toBe('deny');
        expect(ask(action, r, { 'iam:PermissionsBoundary': OTHER_POLICY })).toBe('deny');
        expect(evaluate([...ADMIN, ...operator], { action, resource: r, context: {} })).toBe(
          'deny',
        );
      }
      for (const action of ['iam:AttachRolePolicy', 'iam:DetachRolePolicy']) {
        expect(ask(action, r, { ...ssm, ...withBoundary }), `${action} ${r}`).toBe('allow');
        expect(ask(action, r, ssm), `${action} ${r} without the boundary`).toBe('deny');
      }
    }
  });

  it('sets only the stack boundary on a stack role, and never removes it', () => {
    expect(ask('iam:PutRolePermissionsBoundary', EC2_ROLE, withBoundary)).toBe('allow');
    expect(
      ask('iam:PutRolePermissionsBoundary', EC2_ROLE, { 'iam:PermissionsBoundary': OTHER_POLICY }),
    ).toBe('deny');
    expect(ask('iam:PutRolePermissionsBoundary', role('admin'), withBoundary)).toBe(
      'implicit-deny',
    );
    // An explicit Deny: whatever else the holder is given.
    for (const r of [EC2_ROLE, FLOW_ROLE, BACKUP_ROLE]) {
      expect(ask('iam:DeleteRolePermissionsBoundary', r, withBoundary)).toBe('deny');
      expect(
        evaluate([...ADMIN, ...operator], {
          action: 'iam:DeleteRolePermissionsBoundary',
          resource: r,
          context: withBoundary,
        }),
      ).toBe('deny');
    }
  });

  it('never changes or deletes the boundary policy itself (whoever can rewrite it can lift it)', () => {
    for (const action of [
      'iam:CreatePolicyVersion',
      'iam:DeletePolicy',
      'iam:DeletePolicyVersion',
      'iam:SetDefaultPolicyVersion',
    ]) {
      expect(ask(action, BOUNDARY), action).toBe('deny');
      expect(evaluate([...ADMIN, ...operator], { action, resource: BOUNDARY, context: {} })).toBe(
        'deny',
      );
    }
    // Nor creates it before the administrator does (then it would be the operator's to write).
    expect(ask('iam:CreatePolicy', BOUNDARY)).toBe('deny');
    expect(
      evaluate([...ADMIN, ...operator], {
        action: 'iam:CreatePolicy',
        resource: BOUNDARY,
        context: {},
      }),
    ).toBe('deny');
  });

  it("never rewrites a stack role's trust policy (the boundary does not cap who may assume the role)", () => {
    for (const r of [EC2_ROLE, FLOW_ROLE, BACKUP_ROLE]) {
      expect(ask('iam:UpdateAssumeRolePolicy', r, withBoundary), r).toBe('deny');
      expect(
        evaluate([...ADMIN, ...operator], {
          action: 'iam:UpdateAssumeRolePolicy',
          resource: r,
          context: withBoundary,
        }),
        r,
      ).toBe('deny');
    }
  });

  it('names the configured boundary: a name, or an ARN as written', () => {
    const arn = 'arn:aws:iam::210987654321:policy/teams/shop-boundary';
    const named = operatorPolicy(
      registry,
      operatorScope(testConfig({ security: { permissionsBoundary: arn } })),
    ).Statement as Statement[];
    const create = (b: string) =>
      evaluate(named, {
        action: 'iam:CreateRole',
        resource: EC2_ROLE,
        context: { ...tag, 'iam:PermissionsBoundary': b },
      });
    expect(create(arn)).toBe('allow');
    expect(create(BOUNDARY)).toBe('deny');
    expect(evaluate(named, { action: 'iam:CreatePolicyVersion', resource: arn, context: {} })).toBe(
      'deny',
    );
  });
});

/** A request of a role's own session: `aws:PrincipalArn` is the role. */
const as = (
  principal: string,
  action: string,
  resource: string,
  context: Record<string, ContextValue> = {},
): AuthRequest => ({ action, resource, context: { 'aws:PrincipalArn': principal, ...context } });

describe('the escalation through the instance role is closed', () => {
  const star: Statement[] = [{ Effect: 'Allow', Action: '*', Resource: '*' }];

  it('Action "*" on the instance role: the operator may write it only while the role has the boundary, and the boundary grants no "*"', () => {
    expect(ask('iam:PutRolePolicy', EC2_ROLE)).toBe('deny');
    expect(ask('iam:PutRolePolicy', EC2_ROLE, { 'iam:PermissionsBoundary': BOUNDARY })).toBe(
      'allow',
    );
    // …and may still pass the role to EC2: what the instances can do is the boundary's cap.
    expect(
      ask('iam:PassRole', 'arn:aws:iam::*:role/cloudmart-ec2-role', {
        'iam:PassedToService': 'ec2.amazonaws.com',
      }),
    ).toBe('allow');
    for (const st of boundaryPolicy(config).Statement)
      for (const a of asList(st.Action)) {
        expect(a, st.Sid).not.toMatch(/\*/);
        expect(a, st.Sid).not.toMatch(/^(iam|sts|organizations|account):/);
      }
  });

  it('an instance with "*" on its role can do nothing an administrator could: only what the boundary lets the instance role do', () => {
    const denied: Array<[string, string, Record<string, ContextValue>?]> = [
      ['iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/backdoor`],
      ['iam:AttachUserPolicy', `arn:aws:iam::${ACCOUNT}:user/backdoor`],
      ['iam:PutRolePolicy', EC2_ROLE],
      ['iam:DeleteRolePermissionsBoundary', EC2_ROLE],
      ['iam:CreatePolicyVersion', BOUNDARY],
      ['sts:AssumeRole', role('OrganizationAccountAccessRole')],
      ['ec2:RunInstances', `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`],
      ['ec2:TerminateInstances', `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`],
      ['s3:GetObject', 'arn:aws:s3:::someone-elses-bucket/secret.txt'],
      ['s3:DeleteBucket', `arn:aws:s3:::cloudmart-frontend-${ACCOUNT}-${REGION}`],
      [
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/db-AbCdEf`,
      ],
      ['ssm:GetParameter', `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/prod/api-key`],
      ['kms:Decrypt', KEY, { 'kms:ViaService': `ssm.${REGION}.amazonaws.com` }],
      ['kms:ScheduleKeyDeletion', KEY, mine],
      [
        'logs:DeleteLogGroup',
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/ec2/cloudmart-backend`,
      ],
      // Another role's share of the boundary is not the instance role's.
      [
        'ec2:DeleteSnapshot',
        'arn:aws:ec2:ap-northeast-2::snapshot/snap-0123',
        { 'aws:ResourceTag/aws:backup:source-resource': 'vol-1' },
      ],
      [
        'logs:PutLogEvents',
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/vpc/cloudmart-flow-logs`,
      ],
    ];
    for (const [action, resource, context] of denied)
      expect(
        evaluateBounded(star, boundary, as(EC2_ROLE, action, resource, context)),
        `${action} ${resource}`,
      ).not.toBe('allow');
    // What the instances are there for still works.
    const allowed: Array<[string, string, Record<string, ContextValue>?]> = [
      [
        'logs:PutLogEvents',
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/ec2/cloudmart-backend:log-stream:i-1`,
      ],
      [
        'ssm:GetParameter',
        `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/cloudmart/cloudmart/app/settings`,
      ],
      [
        'ssm:GetParameter',
        `arn:aws:ssm:${REGION}::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`,
      ],
      ['kms:Decrypt', KEY, { ...mine, 'kms:ViaService': `ssm.${REGION}.amazonaws.com` }],
      ['ssmmessages:OpenControlChannel', '*'],
    ];
    for (const [action, resource, context] of allowed)
      expect(
        evaluateBounded(star, boundary, as(EC2_ROLE, action, resource, context)),
        `${action} ${resource}`,
      ).toBe('allow');
  });

  it('without the boundary the same role would be an administrator (what the test above guards against)', () => {
    expect(
      evaluate(star, as(EC2_ROLE, 'iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/backdoor`)),
    ).toBe('allow');
  });
});

/**
 * Every request a role's own policies allow, one per action and resource, with the condition
 * values those policies ask for: the boundary must allow each for that role.
 */
function requestsOf(
  doc: PolicyDocument,
  principal: string,
  extra: Record<string, ContextValue> = {},
): AuthRequest[] {
  const out: AuthRequest[] = [];
  for (const st of doc.Statement) {
    if (st.Effect !== 'Allow') continue;
    const context: Record<string, ContextValue> = { ...extra };
    for (const keys of Object.values(st.Condition ?? {}))
      for (const [k, v] of Object.entries(keys))
        context[k] = Array.isArray(v) ? v[0]! : typeof v === 'boolean' ? v : v;
    for (const action of asList(st.Action))
      for (const resource of asList(st.Resource))
        out.push(as(principal, action, resource.replace(/\*$/, 'x'), context));
  }
  return out;
}

describe('the boundary allows what each role is given, for that role only', () => {
  it('the instance role: its whole inline policy, and the SSM agent calls of AmazonSSMManagedInstanceCore', () => {
    const inline = instancePolicy(config, ACCOUNT, 'aws', KEY);
    const requests = [
      ...requestsOf(inline, EC2_ROLE, mine),
      ...SSM_AGENT_ACTIONS.map((a) => as(EC2_ROLE, a, '*')),
    ];
    expect(requests.length).toBeGreaterThan(20);
    const refused = requests.filter((r) => evaluate(boundary, r) !== 'allow');
    expect(refused).toEqual([]);
    // The flow-logs role gets none of it.
    const other = requests.map((r) => ({
      ...r,
      context: { ...r.context, 'aws:PrincipalArn': FLOW_ROLE },
    }));
    expect(other.filter((r) => evaluate(boundary, r) === 'allow')).toEqual([]);
  });

  it('the instance role with a private ECR image: that repository', () => {
    const ecr = testConfig({ app: { image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/shop:1` } });
    const b = boundaryPolicy(ecr).Statement as Statement[];
    const requests = requestsOf(instancePolicy(ecr, ACCOUNT, 'aws', KEY), EC2_ROLE, mine);
    expect(requests.some((r) => r.action === 'ecr:BatchGetImage')).toBe(true);
    expect(requests.filter((r) => evaluate(b, r) !== 'allow')).toEqual([]);
  });

  it('the flow-logs role: its delivery policy, on the flow-log group only', () => {
    const group = logGroupArnOf('aws', REGION, ACCOUNT, config.network.flowLogs.logGroup);
    const requests = requestsOf(deliveryPolicy(group) as unknown as PolicyDocument, FLOW_ROLE);
    expect(requests.length).toBe(6);
    expect(requests.filter((r) => evaluate(boundary, r) !== 'allow')).toEqual([]);
    expect(
      evaluate(
        boundary,
        as(
          FLOW_ROLE,
          'logs:PutLogEvents',
          `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/ec2/cloudmart-backend:log-stream:x`,
        ),
      ),
    ).toBe('implicit-deny');
  });

  it("the AWS Backup role: snapshots of the stack's volumes and their restore, its vault and key; no other snapshot deleted", () => {
    const snap = 'arn:aws:ec2:ap-northeast-2::snapshot/snap-0123';
    const volume = `arn:aws:ec2:${REGION}:${ACCOUNT}:volume/vol-0123`;
    const vault = `arn:aws:backup:${REGION}:${ACCOUNT}:backup-vault:cloudmart-vault`;
    expect(evaluate(boundary, as(BACKUP_ROLE, 'ec2:CreateSnapshot', volume, mine))).toBe('allow');
    expect(evaluate(boundary, as(BACKUP_ROLE, 'ec2:CreateSnapshot', volume))).toBe('implicit-deny');
    expect(evaluate(boundary, as(BACKUP_ROLE, 'ec2:CreateSnapshot', snap))).toBe('allow');
    expect(
      evaluate(
        boundary,
        as(BACKUP_ROLE, 'ec2:DeleteSnapshot', snap, {
          'aws:ResourceTag/aws:backup:source-resource': 'vol-0123',
        }),
      ),
    ).toBe('allow');
    expect(evaluate(boundary, as(BACKUP_ROLE, 'ec2:DeleteSnapshot', snap))).toBe('implicit-deny');
    expect(evaluate(boundary, as(BACKUP_ROLE, 'ec2:CreateVolume', volume))).toBe('allow');
    expect(evaluate(boundary, as(BACKUP_ROLE, 'backup:CopyIntoBackupVault', vault))).toBe('allow');
    expect(
      evaluate(
        boundary,
        as(BACKUP_ROLE, 'kms:CreateGrant', KEY, { ...mine, 'kms:GrantIsForAWSResource': true }),
      ),
    ).toBe('allow');
    expect(evaluate(boundary, as(BACKUP_ROLE, 'kms:CreateGrant', KEY, mine))).toBe('implicit-deny');
    expect(
      evaluate(
        boundary,
        as(BACKUP_ROLE, 'rds:DeleteDBSnapshot', `arn:aws:rds:${REGION}:${ACCOUNT}:snapshot:prod`),
      ),
    ).toBe('implicit-deny');
    // Not for the instance role.
    expect(evaluate(boundary, as(EC2_ROLE, 'ec2:CreateSnapshot', snap))).toBe('implicit-deny');
  });

  it('fits in one managed policy, for the longest stack name and a private image too', () => {
    const longest = testConfig({
      stack: 'a'.repeat(stackLimit('ap-northeast-2').max),
      app: { image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${'r'.repeat(60)}:1` },
    });
    for (const c of [config, longest])
      expect(policySize(boundaryPolicy(c) as never), c.stack).toBeLessThanOrEqual(
        MANAGED_POLICY_MAX_CHARS,
      );
  });
});
