/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { tagMap } from '../util.js';
import type { World } from '../world.js';
import { ensureAutoScalingRole } from './autoscaling.js';
import { date } from './shared.js';

/**
 * IAM (global; kept under us-east-1, where the client lives): roles with trust policies,
 * attached managed policies and inline policies (documents come back URL-encoded, as IAM
 * returns them), instance profiles (one role each), service-linked roles, and a small catalog
 * of AWS managed policies for GetPolicy / GetPolicyVersion.
 */

export const ROLE = 'iam:role';
export const PROFILE = 'iam:instance-profile';
export const POLICY = 'iam:policy';
const REGION = 'us-east-1';

const MANAGED: Record<string, In> = {
  'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'ssm:DescribeAssociation',
          'ssm:GetDeployablePatchSnapshotForInstance',
          'ssm:GetDocument',
          'ssm:DescribeDocument',
          'ssm:GetManifest',
          'ssm:GetParameter',
          'ssm:GetParameters',
          'ssm:ListAssociations',
          'ssm:ListInstanceAssociations',
          'ssm:PutInventory',
          'ssm:PutComplianceItems',
          'ssm:PutConfigurePackageResult',
          'ssm:UpdateAssociationStatus',
          'ssm:UpdateInstanceAssociationStatus',
          'ssm:UpdateInstanceInformation',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: [
          'ssmmessages:CreateControlChannel',
          'ssmmessages:CreateDataChannel',
          'ssmmessages:OpenControlChannel',
          'ssmmessages:OpenDataChannel',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: [
          'ec2messages:AcknowledgeMessage',
          'ec2messages:DeleteMessage',
          'ec2messages:FailMessage',
          'ec2messages:GetEndpoint',
          'ec2messages:GetMessages',
          'ec2messages:SendReply',
        ],
        Resource: '*',
      },
    ],
  },
  'arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'cloudwatch:PutMetricData',
          'ec2:DescribeVolumes',
          'ec2:DescribeTags',
          'logs:PutLogEvents',
          'logs:DescribeLogStreams',
          'logs:DescribeLogGroups',
          'logs:CreateLogStream',
          'logs:CreateLogGroup',
        ],
        Resource: '*',
      },
    ],
  },
  'arn:aws:iam::aws:policy/AdministratorAccess': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
  },
  'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'rds:CreateDBSnapshot',
          'rds:DescribeDBSnapshots',
          'rds:AddTagsToResource',
          'ec2:CreateSnapshot',
          'ec2:CreateTags',
          'ec2:DescribeVolumes',
          'ec2:DescribeSnapshots',
        ],
        Resource: '*',
      },
      { Effect: 'Allow', Action: 'tag:GetResources', Resource: '*' },
    ],
  },
  'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'rds:RestoreDBInstanceFromDBSnapshot',
          'ec2:CreateVolume',
          'ec2:DescribeSnapshots',
        ],
        Resource: '*',
      },
    ],
  },
  'arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'ec2:RunInstances',
          'ec2:TerminateInstances',
          'elasticloadbalancing:RegisterTargets',
        ],
        Resource: '*',
      },
    ],
  },
};

/** Service-linked roles AWS creates on first use of a service (AWS-owned: never leftovers). */
const SLR_NAMES: Record<string, string> = {
  'autoscaling.amazonaws.com': 'AWSServiceRoleForAutoScaling',
  'rds.amazonaws.com': 'AWSServiceRoleForRDS',
  'elasticache.amazonaws.com': 'AWSServiceRoleForElastiCache',
  'elasticloadbalancing.amazonaws.com': 'AWSServiceRoleForElasticLoadBalancing',
  'backup.amazonaws.com': 'AWSServiceRoleForBackup',
};

const encode = (doc: unknown) =>
  encodeURIComponent(typeof doc === 'string' ? doc : JSON.stringify(doc));

export function iamService(w: World): ServiceModule {
  const err = (code: string, message: string, status = 400) =>
    w.error('iam', code, message, status);

  const role = (name: string): Resource => {
    const r = w.live(ROLE, REGION, name);
    if (!r) throw err('NoSuchEntityException', `The role with name ${name} cannot be found.`, 404);
    return r;
  };
  const profile = (name: string): Resource => {
    const r = w.live(PROFILE, REGION, name);
    if (!r) throw err('NoSuchEntityException', `Instance Profile ${name} cannot be found.`, 404);
    return r;
  };
  /**
   * IAM is eventually consistent: for a few seconds after CreateRole / CreateInstanceProfile,
   * calls that change the new entity can still answer NoSuchEntity ("Troubleshooting IAM:
   * changes that I make are not always immediately visible"; terraform-provider-aws PR #6079
   * retries AddRoleToInstanceProfile on it). Reads are kept consistent here.
   */
  const visible = (r: Resource): Resource => {
    if (w.now() - r.createdAt < w.t('iamVisible')) {
      throw r.type === ROLE
        ? err('NoSuchEntityException', `The role with name ${r.id} cannot be found.`, 404)
        : err('NoSuchEntityException', `Instance Profile ${r.id} cannot be found.`, 404);
    }
    return r;
  };

  function parse(text: unknown): In {
    try {
      const doc = JSON.parse(String(text));
      if (!doc || typeof doc !== 'object' || !doc.Statement) throw new Error('no statement');
      return doc;
    } catch {
      throw err('MalformedPolicyDocumentException', 'This policy contains invalid Json');
    }
  }

  function roleShape(r: Resource): In {
    const d = r.data;
    return {
      Path: d.path,
      RoleName: r.id,
      RoleId: d.roleId,
      Arn: r.arn,
      CreateDate: date(r.createdAt),
      AssumeRolePolicyDocument: encode(d.trust),
      ...(d.description ? { Description: d.description } : {}),
      MaxSessionDuration: d.maxSessionDuration,
      ...(d.boundary
        ? {
            PermissionsBoundary: {
              PermissionsBoundaryType: 'PermissionsBoundaryPolicy',
              PermissionsBoundaryArn: d.boundary,
            },
          }
        : {}),
      Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
      RoleLastUsed: {},
    };
  }

  /** A managed policy a boundary or an attachment may name: AWS's catalog, or the account's own. */
  const policyExists = (arn: string): boolean => !!MANAGED[arn] || !!w.live(POLICY, REGION, arn);
  /**
   * IAM refuses a boundary that names no existing managed policy: NoSuchEntity, "Scope ARN: …
   * does not exist or is not attachable" (the message AWS users report for CreateRole and
   * PutRolePermissionsBoundary).
   */
  const checkBoundary = (arn: string): void => {
    if (!policyExists(arn))
      throw err(
        'NoSuchEntityException',
        `Scope ARN: ${arn} does not exist or is not attachable.`,
        404,
      );
  };

  function profileShape(p: Resource): In {
    return {
      Path: '/',
      InstanceProfileName: p.id,
      InstanceProfileId: p.data.profileId,
      Arn: p.arn,
      CreateDate: date(p.createdAt),
      Roles: (p.data.roles as string[])
        .map((n) => w.live(ROLE, REGION, n))
        .filter(Boolean)
        .map((r) => roleShape(r as Resource)),
      Tags: Object.entries(p.tags).map(([Key, Value]) => ({ Key, Value })),
    };
  }

  function customerPolicyShape(p: Resource): In {
    return {
      PolicyName: p.name,
      PolicyId: p.data.policyId,
      Arn: p.arn,
      Path: p.data.path,
      DefaultVersionId: 'v1',
      AttachmentCount: w.find(ROLE, REGION, (r) => (r.data.attached as string[]).includes(p.id))
        .length,
      PermissionsBoundaryUsageCount: w.find(ROLE, REGION, (r) => r.data.boundary === p.id).length,
      IsAttachable: true,
      CreateDate: date(p.createdAt),
      UpdateDate: date(p.createdAt),
    };
  }

  const handlers: ServiceModule['handlers'] = {
    CreateRole(_ctx, input) {
      const name = input.RoleName as string;
      if (w.live(ROLE, REGION, name))
        throw err('EntityAlreadyExistsException', `Role with name ${name} already exists.`, 409);
      parse(input.AssumeRolePolicyDocument);
      const boundary = input.PermissionsBoundary as string | undefined;
      if (boundary !== undefined) checkBoundary(boundary);
      const path = (input.Path as string | undefined) ?? '/';
      const r = w.add({
        service: 'iam',
        type: ROLE,
        region: REGION,
        id: name,
        arn: `arn:aws:iam::${w.account}:role${path}${name}`,
        name,
        tags: tagMap(input.Tags),
        state: 'available',
        data: {
          path,
          roleId: 'AROA' + w.rng.chars(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'),
          trust: String(input.AssumeRolePolicyDocument),
          description: input.Description,
          maxSessionDuration: input.MaxSessionDuration ?? 3600,
          attached: [],
          inline: {},
          ...(boundary !== undefined ? { boundary } : {}),
        },
      });
      return { Role: roleShape(r) };
    },
    PutRolePermissionsBoundary(_ctx, input) {
      const r = visible(role(input.RoleName as string));
      if (r.data.serviceLinked)
        throw err(
          'UnmodifiableEntityException',
          `Cannot perform the operation on the protected role '${r.id}' - this role is only modifiable by AWS`,
        );
      const arn = input.PermissionsBoundary as string;
      checkBoundary(arn);
      r.data.boundary = arn;
      return {};
    },
    DeleteRolePermissionsBoundary(_ctx, input) {
      const r = role(input.RoleName as string);
      if (r.data.serviceLinked)
        throw err(
          'UnmodifiableEntityException',
          `Cannot perform the operation on the protected role '${r.id}' - this role is only modifiable by AWS`,
        );
      delete r.data.boundary;
      return {};
    },
    /** Customer managed policies: what an administrator makes (the role boundary); one version. */
    CreatePolicy(_ctx, input) {
      const name = input.PolicyName as string;
      const path = (input.Path as string | undefined) ?? '/';
      // The model's constraints (iam service-2.json: policyNameType, policyPathType), answered
      // as IAM answers a constraint: ValidationError.
      const invalid = (member: string, value: string, pattern: string) =>
        err(
          'ValidationError',
          `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern}`,
        );
      if (!/^[\w+=,.@-]{1,128}$/.test(name)) throw invalid('policyName', name, '[\\w+=,.@-]+');
      if (path.length > 512 || !/^(\/[A-Za-z0-9.,+@=_-]+)*\/$/.test(path))
        throw invalid('path', path, '((/[A-Za-z0-9\\.,\\+@=_-]+)*)/');
      // A managed policy holds 6,144 characters, white space not counted ("IAM and AWS STS
      // quotas", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
      const size = String(input.PolicyDocument).replace(/\s/g, '').length;
      if (size > 6144)
        throw err('LimitExceededException', 'Cannot exceed quota for PolicySize: 6144', 409);
      const arn = `arn:aws:iam::${w.account}:policy${path}${name}`;
      if (w.live(POLICY, REGION, arn))
        throw err(
          'EntityAlreadyExistsException',
          `A policy called ${name} already exists. Duplicate names are not allowed.`,
          409,
        );
      const document = parse(input.PolicyDocument);
      const p = w.add({
        service: 'iam',
        type: POLICY,
        region: REGION,
        id: arn,
        arn,
        name,
        tags: tagMap(input.Tags),
        state: 'available',
        // An administrator's, not the stack's: never a leftover of destroy.
        system: true,
        data: {
          path,
          policyId: 'ANPA' + w.rng.chars(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'),
          document,
        },
      });
      return { Policy: customerPolicyShape(p) };
    },
    DeletePolicy(_ctx, input) {
      const arn = input.PolicyArn as string;
      const p = w.live(POLICY, REGION, arn);
      if (!p) throw err('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
      const users = w.find(
        ROLE,
        REGION,
        (r) => r.data.boundary === arn || (r.data.attached as string[]).includes(arn),
      );
      if (users.length > 0)
        throw err('DeleteConflictException', 'Cannot delete a policy attached to entities.', 409);
      w.remove(p);
      return {};
    },
    GetRole(_ctx, input) {
      return { Role: roleShape(role(input.RoleName as string)) };
    },
    UpdateAssumeRolePolicy(_ctx, input) {
      const r = role(input.RoleName as string);
      parse(input.PolicyDocument);
      r.data.trust = String(input.PolicyDocument);
      return {};
    },
    DeleteRole(_ctx, input) {
      const r = role(input.RoleName as string);
      if (r.data.serviceLinked)
        throw err(
          'UnmodifiableEntityException',
          `Cannot perform the operation on the protected role '${r.id}' - this role is only modifiable by AWS`,
        );
      if ((r.data.attached as string[]).length > 0)
        throw err(
          'DeleteConflictException',
          'Cannot delete entity, must detach all policies first.',
          409,
        );
      if (Object.keys(r.data.inline as object).length > 0)
        throw err(
          'DeleteConflictException',
          'Cannot delete entity, must delete policies first.',
          409,
        );
      if (w.find(PROFILE, REGION, (p) => (p.data.roles as string[]).includes(r.id)).length > 0) {
        throw err(
          'DeleteConflictException',
          'Cannot delete entity, must remove roles from instance profile first.',
          409,
        );
      }
      w.remove(r);
      return {};
    },
    CreateServiceLinkedRole(_ctx, input) {
      const service = String(input.AWSServiceName);
      const name = SLR_NAMES[service];
      if (!name)
        throw err(
          'InvalidInputException',
          `Unknown service name ${service} for a service-linked role`,
        );
      if (w.live(ROLE, REGION, name)) {
        throw err(
          'InvalidInputException',
          `Service role name ${name} has been taken in this account, please try a different suffix.`,
        );
      }
      if (name === 'AWSServiceRoleForAutoScaling')
        return { Role: roleShape(ensureAutoScalingRole(w)) };
      const r = w.add({
        service: 'iam',
        type: ROLE,
        region: REGION,
        id: name,
        arn: `arn:aws:iam::${w.account}:role/aws-service-role/${service}/${name}`,
        name,
        state: 'available',
        system: true,
        data: {
          path: `/aws-service-role/${service}/`,
          roleId: 'AROA' + w.rng.chars(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'),
          trust: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' },
            ],
          }),
          maxSessionDuration: 3600,
          attached: [],
          inline: {},
          serviceLinked: true,
        },
      });
      return { Role: roleShape(r) };
    },
    ListAttachedRolePolicies(_ctx, input) {
      const r = role(input.RoleName as string);
      return {
        AttachedPolicies: (r.data.attached as string[]).map((arn) => ({
          PolicyName: arn.split('/').pop(),
          PolicyArn: arn,
        })),
        IsTruncated: false,
      };
    },
    AttachRolePolicy(_ctx, input) {
      const r = visible(role(input.RoleName as string));
      const arn = input.PolicyArn as string;
      if (!policyExists(arn))
        throw err(
          'NoSuchEntityException',
          `Policy ${arn} does not exist or is not attachable.`,
          404,
        );
      const list = r.data.attached as string[];
      if (!list.includes(arn)) list.push(arn);
      return {};
    },
    DetachRolePolicy(_ctx, input) {
      const r = role(input.RoleName as string);
      const arn = input.PolicyArn as string;
      const list = r.data.attached as string[];
      if (!list.includes(arn))
        throw err('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
      r.data.attached = list.filter((a) => a !== arn);
      return {};
    },
    ListRolePolicies(_ctx, input) {
      const r = role(input.RoleName as string);
      return { PolicyNames: Object.keys(r.data.inline as object), IsTruncated: false };
    },
    GetRolePolicy(_ctx, input) {
      const r = role(input.RoleName as string);
      const doc = (r.data.inline as Record<string, string>)[input.PolicyName as string];
      if (doc === undefined) {
        throw err(
          'NoSuchEntityException',
          `The role policy with name ${String(input.PolicyName)} cannot be found.`,
          404,
        );
      }
      return { RoleName: r.id, PolicyName: input.PolicyName, PolicyDocument: encode(doc) };
    },
    PutRolePolicy(_ctx, input) {
      const r = visible(role(input.RoleName as string));
      parse(input.PolicyDocument);
      (r.data.inline as Record<string, string>)[input.PolicyName as string] = String(
        input.PolicyDocument,
      );
      return {};
    },
    DeleteRolePolicy(_ctx, input) {
      const r = role(input.RoleName as string);
      const inline = r.data.inline as Record<string, string>;
      if (!(String(input.PolicyName) in inline)) {
        throw err(
          'NoSuchEntityException',
          `The role policy with name ${String(input.PolicyName)} cannot be found.`,
          404,
        );
      }
      delete inline[input.PolicyName as string];
      return {};
    },
    GetPolicy(_ctx, input) {
      const arn = input.PolicyArn as string;
      const own = w.live(POLICY, REGION, arn);
      if (own) return { Policy: customerPolicyShape(own) };
      if (!MANAGED[arn]) throw err('NoSuchEntityException', `Policy ${arn} was not found.`, 404);
      return {
        Policy: {
          PolicyName: arn.split('/').pop(),
          PolicyId: 'ANPA' + arn.length,
          Arn: arn,
          Path: arn.includes('/service-role/') ? '/service-role/' : '/',
          DefaultVersionId: 'v1',
          AttachmentCount: w.find(ROLE, REGION, (r) => (r.data.attached as string[]).includes(arn))
            .length,
          IsAttachable: true,
        },
      };
    },
    GetPolicyVersion(_ctx, input) {
      const arn = input.PolicyArn as string;
      const own = w.live(POLICY, REGION, arn);
      if (own && input.VersionId === 'v1')
        return {
          PolicyVersion: {
            Document: encode(own.data.document),
            VersionId: 'v1',
            IsDefaultVersion: true,
            CreateDate: date(own.createdAt),
          },
        };
      if (!MANAGED[arn] || input.VersionId !== 'v1')
        throw err(
          'NoSuchEntityException',
          `Policy ${arn} version ${String(input.VersionId)} does not exist.`,
          404,
        );
      return {
        PolicyVersion: { Document: encode(MANAGED[arn]), VersionId: 'v1', IsDefaultVersion: true },
      };
    },

    CreateInstanceProfile(_ctx, input) {
      const name = input.InstanceProfileName as string;
      if (w.live(PROFILE, REGION, name))
        throw err('EntityAlreadyExistsException', `Instance Profile ${name} already exists.`, 409);
      const p = w.add({
        service: 'iam',
        type: PROFILE,
        region: REGION,
        id: name,
        arn: `arn:aws:iam::${w.account}:instance-profile/${name}`,
        name,
        tags: tagMap(input.Tags),
        state: 'available',
        data: {
          profileId: 'AIPA' + w.rng.chars(17, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'),
          roles: [],
        },
      });
      return { InstanceProfile: profileShape(p) };
    },
    GetInstanceProfile(_ctx, input) {
      return { InstanceProfile: profileShape(profile(input.InstanceProfileName as string)) };
    },
    AddRoleToInstanceProfile(_ctx, input) {
      const p = visible(profile(input.InstanceProfileName as string));
      const r = visible(role(input.RoleName as string));
      const roles = p.data.roles as string[];
      if (roles.includes(r.id))
        throw err(
          'LimitExceededException',
          'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1',
          409,
        );
      if (roles.length >= 1)
        throw err(
          'LimitExceededException',
          'Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1',
          409,
        );
      roles.push(r.id);
      return {};
    },
    RemoveRoleFromInstanceProfile(_ctx, input) {
      const p = profile(input.InstanceProfileName as string);
      const roles = p.data.roles as string[];
      if (!roles.includes(input.RoleName as string)) {
        throw err(
          'NoSuchEntityException',
          `The role with name ${String(input.RoleName)} cannot be found.`,
          404,
        );
      }
      p.data.roles = roles.filter((n) => n !== input.RoleName);
      return {};
    },
    DeleteInstanceProfile(_ctx, input) {
      const p = profile(input.InstanceProfileName as string);
      if ((p.data.roles as string[]).length > 0) {
        throw err(
          'DeleteConflictException',
          'Cannot delete entity, must remove roles from instance profile first.',
          409,
        );
      }
      w.remove(p);
      return {};
    },
    ListRoleTags(_ctx, input) {
      const r = role(input.RoleName as string);
      return {
        Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
        IsTruncated: false,
      };
    },
    TagRole(_ctx, input) {
      Object.assign(role(input.RoleName as string).tags, tagMap(input.Tags));
      return {};
    },
  };
  return { service: 'iam', handlers };
}
