import { roleLeftovers } from '../discover.js';
import { ignoreNotFound } from '../../aws/errors.js';
import { attachedRolePolicies, findRole, inlineRolePolicyNames } from '../../aws/find.js';
import type { IAMClient } from '@aws-sdk/client-iam';
import { waitUntil } from '../../aws/wait.js';
import { afterCreate, justCreated } from '../../aws/consistency.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import { STEP, type InstanceRoleOutputs, type KmsOutputs } from '../outputs.js';
import { deleteRetrying, FIX_PHASE1, missing } from './ec2-lookup.js';
import { dbSettings } from './rds-database.js';
import {
  boundaryCheck,
  boundaryCurrentCheck,
  boundaryMember,
  convergeBoundary,
  createRoleError,
  trustCheck,
  trustDriftError,
  wantedBoundary,
  boundaryPreflight,
  boundaryPreflightChecks,
} from '../role-boundary.js';
import {
  broadGrants,
  decodePolicy,
  describeStatement,
  samePolicy,
  samePolicyValue,
  type PolicyDocument,
  type PolicyStatement,
} from '../../aws/policy.js';

const iamSdk = () => import('@aws-sdk/client-iam');

export const SSM_CORE_POLICY = 'AmazonSSMManagedInstanceCore';

export function roleName(config: Config): string {
  return names.of(config, 'ec2-role');
}
export function profileName(config: Config): string {
  return names.of(config, 'ec2-profile');
}
export function inlinePolicyName(config: Config): string {
  return names.of(config, 'ec2-least-privilege');
}

export const TRUST_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Ec2InstancesAssumeRole',
      Effect: 'Allow',
      Principal: { Service: 'ec2.amazonaws.com' },
      Action: 'sts:AssumeRole',
    },
  ],
};

export const PARAMETER_READS = ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'];
export const DENY_OTHER_PARAMETERS_SID = 'DenyParametersOutsideTheStack';

/**
 * The explicit Deny that keeps parameter reads inside the stack's prefix and /aws/service:
 * AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on every parameter of the account,
 * and an explicit Deny wins over any Allow. The instances' own reads (app settings and the
 * CloudWatch agent config, both under the prefix) stay allowed.
 */
export function parameterDeny(config: Config, account: string, partition: string): PolicyStatement {
  const base = `arn:${partition}:ssm:${config.region}:${account}:parameter`;
  const prefix = names.parameterPrefix(config);
  return {
    Sid: DENY_OTHER_PARAMETERS_SID,
    Effect: 'Deny',
    Action: PARAMETER_READS,
    NotResource: [
      `${base}${prefix}`,
      `${base}${prefix}/*`,
      // Public parameters have no account in their ARN (arn:aws:ssm:<region>::parameter/…).
      `arn:${partition}:ssm:*:*:parameter/aws/service/*`,
    ],
  };
}

/**
 * What the instances need and nothing more: write the backend log group and the stack's
 * metric namespaces, read the stack's own parameters and secrets (and the RDS-managed master
 * secret of the stack's database), decrypt those through SSM / Secrets Manager only, and no
 * parameter outside the stack's prefix or AWS's public `/aws/service/*` ones (parameterDeny).
 */
export function instancePolicy(
  config: Config,
  account: string,
  partition: string,
  keyArn: string,
): PolicyDocument {
  const region = config.region;
  const arn = (service: string, resource: string) =>
    `arn:${partition}:${service}:${region}:${account}:${resource}`;
  const logGroup = arn('logs', `log-group:${config.monitoring.logs.backend.name}`);
  const prefix = names.parameterPrefix(config);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'BackendLogGroupOnly',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [logGroup, `${logGroup}:*`],
      },
      {
        // The instances boot in Phase 1; monitoring.logs creates the group (KMS, retention)
        // only in Phase 2. Until then the CloudWatch agent creates it itself, or every log
        // line of the first boot is lost; monitoring.logs then adopts it (tag, key,
        // retention). Only this one group.
        Sid: 'CreateBackendLogGroupOnly',
        Effect: 'Allow',
        Action: 'logs:CreateLogGroup',
        Resource: logGroup,
      },
      {
        // PutMetricData has no resource: the namespace condition is what scopes it.
        Sid: 'StackMetricNamespacesOnly',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: {
          StringEquals: { 'cloudwatch:namespace': ['CWAgent', config.monitoring.namespace] },
        },
      },
      {
        // The app settings and the CloudWatch agent config live under the stack's prefix.
        Sid: 'StackParametersOnly',
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        Resource: [arn('ssm', `parameter${prefix}`), arn('ssm', `parameter${prefix}/*`)],
      },
      parameterDeny(config, account, partition),
      {
        Sid: 'StackSecretsOnly',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: arn('secretsmanager', `secret:${names.secretPrefix(config)}/*`),
      },
      {
        // RDS names its managed master secret rds!db-<uuid>: the tag RDS puts on it names the DB.
        Sid: 'StackDatabaseMasterSecretOnly',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: arn('secretsmanager', 'secret:rds!db-*'),
        Condition: {
          StringEquals: {
            // RDS stores its ids in lower case: the tag names the instance as RDS spells it.
            'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': arn(
              'rds',
              `db:${dbSettings(config).instanceId}`,
            ),
          },
        },
      },
      {
        Sid: 'DecryptStackKeyThroughSsmAndSecretsManager',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: keyArn,
        Condition: {
          StringEquals: {
            'kms:ViaService': [
              `secretsmanager.${region}.amazonaws.com`,
              `ssm.${region}.amazonaws.com`,
            ],
          },
        },
      },
      {
        // The CloudWatch agent reads its instance's tags; these actions have no resource scoping.
        Sid: 'CloudWatchAgentDescribe',
        Effect: 'Allow',
        Action: ['ec2:DescribeTags', 'ec2:DescribeInstances'],
        Resource: '*',
      },
      ...ecrStatements(config.app.image, partition),
    ],
  };
}

/**
 * `app.image` in a private ECR repository: pull that one repository. GetAuthorizationToken has
 * no resource of its own (AWS requires `*` for it); the image reads are scoped to the repository.
 */
export function ecrStatements(
  image: string | null,
  partition: string,
): PolicyDocument['Statement'] {
  const m = image
    ? /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)/.exec(image)
    : null;
  if (!m) return [];
  const [, repoAccount, repoRegion, repository] = m;
  return [
    { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
    {
      Sid: 'EcrPullAppImageOnly',
      Effect: 'Allow',
      Action: [
        'ecr:BatchGetImage',
        'ecr:GetDownloadUrlForLayer',
        'ecr:BatchCheckLayerAvailability',
      ],
      Resource: `arn:${partition}:ecr:${repoRegion}:${repoAccount}:repository/${repository}`,
    },
  ];
}

function ssmCoreArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/${SSM_CORE_POLICY}`;
}

async function iamClient(ctx: StepContext): Promise<IAMClient> {
  return ctx.aws.get('iam');
}

async function attachedPolicies(ctx: StepContext, role: string) {
  return attachedRolePolicies(await iamClient(ctx), role);
}

async function inlineNames(ctx: StepContext, role: string): Promise<string[]> {
  return inlineRolePolicyNames(await iamClient(ctx), role);
}

export const instanceRoleStep = defineStep<InstanceRoleOutputs>({
  id: STEP.instanceRole,
  phase: 1,
  title: 'EC2 instance role and profile',
  needs: [STEP.kms],
  actions: [
    'iam:GetRole',
    'iam:CreateRole',
    'iam:TagRole',
    'iam:UpdateAssumeRolePolicy',
    'iam:PutRolePermissionsBoundary',
    'iam:ListAttachedRolePolicies',
    'iam:AttachRolePolicy',
    'iam:DetachRolePolicy',
    'iam:ListRolePolicies',
    'iam:GetRolePolicy',
    'iam:PutRolePolicy',
    'iam:DeleteRolePolicy',
    'iam:GetInstanceProfile',
    'iam:CreateInstanceProfile',
    'iam:TagInstanceProfile',
    'iam:AddRoleToInstanceProfile',
    'iam:RemoveRoleFromInstanceProfile',
    'iam:DeleteInstanceProfile',
    'iam:DeleteRole',
    'iam:GetPolicy',
    'iam:GetPolicyVersion',
  ],
  describe: (config) => [
    `IAM role ${roleName(config)} (trusted by EC2) in instance profile ${profileName(config)}`,
    `Policies: ${SSM_CORE_POLICY} (Session Manager, no SSH); inline ${inlinePolicyName(config)}: logs to ${config.monitoring.logs.backend.name}, metrics in CWAgent/${config.monitoring.namespace}, ${names.parameterPrefix(config)}/* parameters (reads of any other parameter denied, /aws/service/* aside), ${names.secretPrefix(config)}/* secrets and the DB's master secret`,
  ],

  // The Tagging API does not list IAM: the role and the profile by the names create adopts.
  discover: {
    what: 'IAM role and instance profile of the instances',
    async find(aws, config) {
      const { GetInstanceProfileCommand } = await import('@aws-sdk/client-iam');
      const iam = await aws.get('iam');
      const found = await roleLeftovers(aws, [roleName(config)]);
      const name = profileName(config);
      const profile = (
        await ignoreNotFound(iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name })))
      )?.InstanceProfile;
      if (profile?.Arn)
        found.push({
          arn: profile.Arn,
          region: 'global',
          type: 'iam:instance-profile',
          kept: false,
          note: name,
        });
      return found;
    },
  },
  // Before anything bills: the configured permissions boundary exists (src/steps/role-boundary.ts).
  preflightChecks: boundaryPreflightChecks,
  preflight: boundaryPreflight,

  async create(ctx) {
    const {
      CreateRoleCommand,
      UpdateAssumeRolePolicyCommand,
      AttachRolePolicyCommand,
      GetRolePolicyCommand,
      PutRolePolicyCommand,
      GetInstanceProfileCommand,
      CreateInstanceProfileCommand,
      AddRoleToInstanceProfileCommand,
      RemoveRoleFromInstanceProfileCommand,
    } = await iamSdk();
    const iam = await iamClient(ctx);
    const account = await ctx.aws.accountId();
    const partition = ctx.aws.partition();
    const { keyArn } = ctx.outputs<KmsOutputs>(STEP.kms);
    const role = roleName(ctx.config);
    const profile = profileName(ctx.config);
    const policyName = inlinePolicyName(ctx.config);

    // IAM names are unique per account: the name is the lookup, a crash cannot duplicate.
    const boundary = await wantedBoundary(ctx);
    let roleOut = await findRole(iam, role);
    const roleCreated = !roleOut;
    if (!roleOut) {
      ctx.progress(`creating IAM role ${role}`);
      try {
        roleOut = (
          await iam.send(
            new CreateRoleCommand({
              RoleName: role,
              AssumeRolePolicyDocument: JSON.stringify(TRUST_POLICY),
              Description: `CloudMart ${ctx.config.stack} backend instances`,
              MaxSessionDuration: 3600,
              ...boundaryMember(boundary),
              Tags: ctx.tags.list(role),
            }),
          )
        ).Role;
      } catch (e) {
        throw createRoleError(e, role, boundary, ctx.config);
      }
      if (!roleOut?.Arn) throw new Error('CreateRole returned no role');
    } else if (!samePolicy(decodePolicy(roleOut.AssumeRolePolicyDocument), TRUST_POLICY)) {
      // With a boundary the operator policy denies UpdateAssumeRolePolicy: an administrator fixes it.
      if (boundary) throw trustDriftError(role, TRUST_POLICY);
      ctx.progress(`${role}: restoring the trust policy (EC2 only)`);
      await iam.send(
        new UpdateAssumeRolePolicyCommand({
          RoleName: role,
          PolicyDocument: JSON.stringify(TRUST_POLICY),
        }),
      );
    }

    // IAM is eventually consistent: calls naming a role created a moment ago (by this run or
    // by one that died right after) can answer NoSuchEntity ("Troubleshooting IAM: changes
    // that I make are not always immediately visible"; terraform-provider-aws PR #6079).
    // A role this run created has nothing attached yet.
    const roleYoung = roleCreated || justCreated(ctx, roleOut.CreateDate);
    // Before any policy is written: the operator policy allows those writes only on a role that
    // carries the boundary.
    if (!roleCreated) await convergeBoundary(ctx, iam, roleOut, roleYoung);
    const attached = roleCreated ? [] : await attachedPolicies(ctx, role);
    if (!attached.some((p) => p.PolicyArn === ssmCoreArn(partition))) {
      await afterCreate(
        ctx,
        roleYoung,
        () =>
          iam.send(
            new AttachRolePolicyCommand({ RoleName: role, PolicyArn: ssmCoreArn(partition) }),
          ),
        { what: `attaching ${SSM_CORE_POLICY} to ${role}` },
      );
    }

    const wanted = instancePolicy(ctx.config, account, partition, keyArn);
    const inline = roleCreated
      ? undefined
      : await ignoreNotFound(
          iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policyName })),
        );
    if (!samePolicy(decodePolicy(inline?.PolicyDocument), wanted)) {
      ctx.progress(`${role}: writing the inline policy ${policyName}`);
      await afterCreate(
        ctx,
        roleYoung,
        () =>
          iam.send(
            new PutRolePolicyCommand({
              RoleName: role,
              PolicyName: policyName,
              PolicyDocument: JSON.stringify(wanted),
            }),
          ),
        { what: `writing the inline policy of ${role}` },
      );
    }

    let profileOut = (
      await ignoreNotFound(
        iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile })),
      )
    )?.InstanceProfile;
    const profileCreated = !profileOut;
    if (!profileOut) {
      ctx.progress(`creating instance profile ${profile}`);
      profileOut = (
        await iam.send(
          new CreateInstanceProfileCommand({
            InstanceProfileName: profile,
            Tags: ctx.tags.list(profile),
          }),
        )
      ).InstanceProfile;
      if (!profileOut?.Arn) throw new Error('CreateInstanceProfile returned no profile');
    }
    const roles = profileOut.Roles ?? [];
    for (const other of roles.filter((r) => r.RoleName !== role)) {
      await iam.send(
        new RemoveRoleFromInstanceProfileCommand({
          InstanceProfileName: profile,
          RoleName: other.RoleName,
        }),
      );
    }
    if (!roles.some((r) => r.RoleName === role)) {
      // NoSuchEntity for the role or the profile right after their creation: IAM propagation.
      await afterCreate(
        ctx,
        roleYoung || profileCreated || justCreated(ctx, profileOut.CreateDate),
        () =>
          iam.send(
            new AddRoleToInstanceProfileCommand({ InstanceProfileName: profile, RoleName: role }),
          ),
        { what: `adding ${role} to instance profile ${profile}` },
      );
      // IAM is eventually consistent: wait until the profile reads back with the role. EC2 may
      // still refuse the profile for ~10 s more; the launch template step retries on
      // "Invalid IamInstanceProfile".
      await waitUntil(
        ctx,
        async () => {
          const out = await ignoreNotFound(
            iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile })),
          );
          const has = out?.InstanceProfile?.Roles?.some((r) => r.RoleName === role) === true;
          return { done: has, status: has ? 'role attached' : 'propagating' };
        },
        {
          what: `instance profile ${profile}`,
          minDelayMs: 1_000,
          maxDelayMs: 5_000,
          timeoutMs: 120_000,
        },
      );
      ctx.progress(`instance profile ${profile} holds ${role} (IAM propagation takes ~10 s more)`);
    }

    return {
      roleName: role,
      roleArn: roleOut.Arn!,
      instanceProfileName: profile,
      instanceProfileArn: profileOut.Arn!,
    };
  },

  async verify(ctx) {
    const {
      GetRolePolicyCommand,
      GetPolicyCommand,
      GetPolicyVersionCommand,
      GetInstanceProfileCommand,
    } = await iamSdk();
    const iam = await iamClient(ctx);
    const role = roleName(ctx.config);
    const profile = profileName(ctx.config);
    const partition = ctx.aws.partition();
    const live = await findRole(iam, role);
    if (!live) {
      return [
        missing('iam.instance-role.exists', `IAM role ${role} exists`, 'iam', `no role ${role}`),
      ];
    }

    const [attached, inline, profileOut] = await Promise.all([
      attachedPolicies(ctx, role),
      inlineNames(ctx, role),
      ignoreNotFound(iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile }))),
    ]);

    const offenders: string[] = [];
    for (const p of attached) {
      if (
        p.PolicyName === 'AdministratorAccess' ||
        p.PolicyArn?.endsWith(':policy/AdministratorAccess')
      ) {
        offenders.push(`managed AdministratorAccess (${p.PolicyArn ?? '?'})`);
        continue;
      }
      if (!p.PolicyArn) continue;
      const meta = await iam.send(new GetPolicyCommand({ PolicyArn: p.PolicyArn }));
      const version = meta.Policy?.DefaultVersionId;
      if (!version) continue;
      const doc = await iam.send(
        new GetPolicyVersionCommand({ PolicyArn: p.PolicyArn, VersionId: version }),
      );
      const parsed = decodePolicy(doc.PolicyVersion?.Document);
      for (const s of parsed ? broadGrants(parsed) : []) {
        offenders.push(`managed ${p.PolicyName ?? p.PolicyArn}: ${describeStatement(s)}`);
      }
    }
    let ownInline: PolicyDocument | undefined;
    for (const name of inline) {
      const out = await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: name }));
      const parsed = decodePolicy(out.PolicyDocument);
      if (name === inlinePolicyName(ctx.config)) ownInline = parsed;
      for (const s of parsed ? broadGrants(parsed) : []) {
        offenders.push(`inline ${name}: ${describeStatement(s)}`);
      }
    }

    const kms = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
    const wanted = kms
      ? instancePolicy(ctx.config, await ctx.aws.accountId(), partition, kms.keyArn)
      : undefined;
    const profileRoles = profileOut?.InstanceProfile?.Roles?.map((r) => r.RoleName) ?? [];
    const deny = parameterDeny(ctx.config, await ctx.aws.accountId(), partition);
    const scoped = ownInline?.Statement.some((s) => samePolicyValue(s, deny)) === true;
    const prefix = names.parameterPrefix(ctx.config);
    const hasSsm = attached.some((p) => p.PolicyArn === ssmCoreArn(partition));

    const checks: Check[] = [
      {
        id: 'iam.instance-role.least-privilege',
        title: 'Instance role grants no admin or wildcard action on a wildcard resource',
        criterion: 'iam',
        status: offenders.length === 0 ? 'pass' : 'fail',
        evidence:
          offenders.length === 0
            ? `managed: ${attached.map((p) => p.PolicyName).join(', ') || 'none'}; inline: ${inline.join(', ') || 'none'}; no * or service:* action on *`
            : offenders.join('; '),
        fix: `Detach the policies named here from ${role}, then run cloudmart up --phase 1`,
      },
      {
        id: 'iam.instance-role.ssm',
        title: `${SSM_CORE_POLICY} attached (instances reached through Session Manager, no SSH)`,
        criterion: 'iam',
        status: hasSsm ? 'pass' : 'fail',
        evidence: hasSsm
          ? `${ssmCoreArn(partition)} attached`
          : `${SSM_CORE_POLICY} not attached to ${role}`,
        fix: FIX_PHASE1,
      },
      {
        id: 'iam.instance-role.inline-policy',
        title: 'Inline policy is the least-privilege policy cloudmart writes',
        criterion: 'iam',
        status: !ownInline
          ? 'fail'
          : !wanted
            ? 'unknown'
            : samePolicy(ownInline, wanted)
              ? 'pass'
              : 'warn',
        evidence: !ownInline
          ? `${inlinePolicyName(ctx.config)} is missing from ${role}`
          : !wanted
            ? 'the KMS key of the stack is not recorded; the policy cannot be compared'
            : samePolicy(ownInline, wanted)
              ? `${inlinePolicyName(ctx.config)}: ${ownInline.Statement.length} statements as written`
              : `${inlinePolicyName(ctx.config)} was changed outside cloudmart`,
        fix: FIX_PHASE1,
      },
      {
        id: 'iam.instance-role.parameters-scoped',
        title: "Instances read only the stack's SSM parameters",
        criterion: 'iam',
        status: scoped ? 'pass' : 'fail',
        evidence: scoped
          ? `${inlinePolicyName(ctx.config)} denies ${PARAMETER_READS.join(', ')} outside ${prefix}/* and /aws/service/*`
          : `no Deny keeps parameter reads inside ${prefix}/*${hasSsm ? `: ${SSM_CORE_POLICY} lets the instances read every parameter in the account` : ''}`,
        fix: FIX_PHASE1,
      },
      {
        id: 'iam.instance-role.profile',
        title: `Instance profile ${profile} holds the role`,
        criterion: 'iam',
        status: profileRoles.length === 1 && profileRoles[0] === role ? 'pass' : 'fail',
        evidence: profileOut?.InstanceProfile
          ? `${profile} roles: ${profileRoles.join(', ') || 'none'}`
          : `no instance profile ${profile}`,
        fix: FIX_PHASE1,
      },
      ...(await boundaryCheck(ctx, 'iam.instance-role.boundary', live, 'iam', FIX_PHASE1)),
      ...(await boundaryCurrentCheck(ctx, iam, 'iam.boundary.current')),
      ...(await trustCheck(
        ctx,
        'iam.instance-role.trust',
        live,
        samePolicy(decodePolicy(live.AssumeRolePolicyDocument), TRUST_POLICY),
        TRUST_POLICY,
      )),
    ];
    return checks;
  },

  async teardown(ctx) {
    const {
      GetInstanceProfileCommand,
      RemoveRoleFromInstanceProfileCommand,
      DeleteInstanceProfileCommand,
      DetachRolePolicyCommand,
      DeleteRolePolicyCommand,
      DeleteRoleCommand,
    } = await iamSdk();
    const iam = await iamClient(ctx);
    const role = roleName(ctx.config);
    const profile = profileName(ctx.config);

    const profileOut = await ignoreNotFound(
      iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profile })),
    );
    if (profileOut?.InstanceProfile) {
      for (const r of profileOut.InstanceProfile.Roles ?? []) {
        await ignoreNotFound(
          iam.send(
            new RemoveRoleFromInstanceProfileCommand({
              InstanceProfileName: profile,
              RoleName: r.RoleName,
            }),
          ),
        );
      }
      ctx.progress(`deleting instance profile ${profile}`);
      await deleteRetrying(
        ctx,
        `deleting instance profile ${profile}`,
        () => iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: profile })),
        undefined,
        5 * 60_000,
      );
    }

    if (!(await findRole(iam, role))) return;
    // A role cannot be deleted while policies are attached to it or written into it.
    for (const p of await attachedPolicies(ctx, role)) {
      await ignoreNotFound(
        iam.send(new DetachRolePolicyCommand({ RoleName: role, PolicyArn: p.PolicyArn })),
      );
    }
    for (const name of await inlineNames(ctx, role)) {
      await ignoreNotFound(
        iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: name })),
      );
    }
    ctx.progress(`deleting IAM role ${role}`);
    await deleteRetrying(
      ctx,
      `deleting IAM role ${role}`,
      () => iam.send(new DeleteRoleCommand({ RoleName: role })),
      undefined,
      5 * 60_000,
    );
  },
});
