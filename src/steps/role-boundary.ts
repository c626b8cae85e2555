import type { IAMClient, Role } from '@aws-sdk/client-iam';
import { afterCreate } from '../aws/consistency.js';
import { asList, decodePolicy, samePolicy, type PolicyDocument } from '../aws/policy.js';
import { isAccessDenied, isNotFound } from '../aws/errors.js';
import type { Config } from '../config/schema.js';
import type { Check, Criterion, StepContext } from '../engine/step.js';
import { CloudmartError } from '../errors.js';

/**
 * The permissions boundary of the roles cloudmart creates (`security.permissionsBoundary`).
 *
 * Why: the operator policy lets its holder write the stack's roles (CreateRole, PutRolePolicy)
 * and pass them to EC2, so without a boundary the holder could put `Action: "*"` on the instance
 * role, launch an instance with it and act as an administrator. A boundary caps what a role can
 * ever do whatever its policies say ("Permissions boundaries for IAM entities",
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html), and the
 * operator policy allows role writes only with this boundary on the role (condition key
 * `iam:PermissionsBoundary`, Service Authorization Reference for IAM,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
 * The boundary policy itself is made by an administrator (`cloudmart policy --boundary`), never
 * by cloudmart: whoever can change it can lift the cap.
 */

/** The name the operator policy and the README use when the config names no boundary. */
export const defaultBoundaryName = (config: Config): string => `${config.stack}-role-boundary`;

/** The boundary policy's name: the configured one (an ARN's last part), else the default. */
export function boundaryName(config: Config): string {
  const b = config.security.permissionsBoundary;
  return b ? b.split('/').at(-1)! : defaultBoundaryName(config);
}

/**
 * The boundary policy's IAM path: an ARN's folders (`arn:…:policy/teams/x` → `/teams/`), else `/`.
 * `aws iam create-policy` needs it as `--path` to make the policy at that ARN.
 */
export function boundaryPath(config: Config): string {
  const b = config.security.permissionsBoundary;
  if (!b?.startsWith('arn:')) return '/';
  const rest = b.slice(b.indexOf(':policy/') + ':policy'.length);
  return rest.slice(0, rest.lastIndexOf('/') + 1);
}

/** The administrator's command that creates the boundary policy from `file`. */
export function createBoundaryCommand(config: Config, file: string): string {
  const path = boundaryPath(config);
  return `aws iam create-policy --policy-name ${boundaryName(config)}${path === '/' ? '' : ` --path ${path}`} --policy-document file://${file}`;
}

/** The boundary in words, for a message: the configured ARN, else its name in `<account-id>`. */
export function boundaryArnText(config: Config): string {
  const b = config.security.permissionsBoundary;
  return b?.startsWith('arn:') ? b : `arn:aws:iam::<account-id>:policy/${boundaryName(config)}`;
}

/** How an administrator creates the boundary, in one line. */
const createHint = (config: Config): string =>
  `An administrator creates it once: cloudmart policy --boundary > ${boundaryName(config)}.json, then ${createBoundaryCommand(config, `${boundaryName(config)}.json`)}`;

/**
 * The boundary ARN the operator policy requires: the configured ARN as written, else the name in
 * any 12-digit account (`?` × 12 never matches the `aws` of AWS managed policies).
 */
export function boundaryArnPattern(config: Config): string {
  const b = config.security.permissionsBoundary;
  if (b?.startsWith('arn:')) return b;
  return `arn:aws:iam::????????????:policy/${boundaryName(config)}`;
}

/** The configured boundary's ARN in this account, or undefined when none is configured. */
export async function wantedBoundary(ctx: StepContext): Promise<string | undefined> {
  const b = ctx.config.security.permissionsBoundary;
  if (!b) return undefined;
  if (b.startsWith('arn:')) return b;
  return `arn:${ctx.aws.partition()}:iam::${await ctx.aws.accountId()}:policy/${b}`;
}

/** CreateRole's `PermissionsBoundary` member: present only when a boundary is configured. */
export const boundaryMember = (arn: string | undefined): { PermissionsBoundary?: string } =>
  arn ? { PermissionsBoundary: arn } : {};

/**
 * A CreateRole error in plain words. IAM answers a boundary policy that does not exist with
 * NoSuchEntity ("Scope ARN: … does not exist or is not attachable"); AccessDenied with no
 * boundary configured is what the operator policy answers to a role without one.
 */
export function createRoleError(
  e: unknown,
  role: string,
  boundary: string | undefined,
  config: Config,
): unknown {
  if (boundary && isNotFound(e))
    return new CloudmartError(
      'AWS_ERROR',
      `Creating IAM role ${role}: the permissions boundary policy ${boundary} does not exist`,
      {
        hint: createHint(config),
        cause: e,
      },
    );
  if (!boundary && isAccessDenied(e))
    return new CloudmartError(
      'ACCESS_DENIED',
      `Creating IAM role ${role}: access denied. The operator policy of cloudmart policy allows it only with the permissions boundary`,
      {
        hint: 'Set security.permissionsBoundary in the config to the boundary policy your administrator created (cloudmart policy --boundary)',
        cause: e,
      },
    );
  return e;
}

/**
 * Converges an existing role's boundary: a role created before the boundary was configured, or
 * whose boundary was changed or removed, gets the configured one (PutRolePermissionsBoundary
 * adds or replaces it). Runs before the role's policies are written: the operator policy allows
 * those writes only once the role has the boundary.
 */
export async function convergeBoundary(
  ctx: StepContext,
  iam: IAMClient,
  role: Role,
  young: boolean,
): Promise<void> {
  const want = await wantedBoundary(ctx);
  if (!want || role.PermissionsBoundary?.PermissionsBoundaryArn === want) return;
  const { PutRolePermissionsBoundaryCommand } = await import('@aws-sdk/client-iam');
  const had = role.PermissionsBoundary?.PermissionsBoundaryArn;
  ctx.progress(
    `${role.RoleName}: ${had ? `replacing the permissions boundary ${had} with` : 'setting the permissions boundary'} ${want}`,
  );
  await afterCreate(
    ctx,
    young,
    () =>
      iam.send(
        new PutRolePermissionsBoundaryCommand({
          RoleName: role.RoleName,
          PermissionsBoundary: want,
        }),
      ),
    { what: `setting the permissions boundary of ${role.RoleName}` },
  );
}

/** verify: the role carries the configured boundary (no check when none is configured). */
export async function boundaryCheck(
  ctx: StepContext,
  id: string,
  role: Role,
  criterion: Criterion,
  fix: string,
): Promise<Check[]> {
  const want = await wantedBoundary(ctx);
  if (!want) return [];
  const have = role.PermissionsBoundary?.PermissionsBoundaryArn;
  return [
    {
      id,
      title: `Role ${role.RoleName} is capped by the permissions boundary`,
      criterion,
      status: have === want ? 'pass' : 'fail',
      evidence:
        have === want
          ? `permissions boundary ${have}`
          : have
            ? `permissions boundary ${have}, not ${want}`
            : `no permissions boundary (want ${want})`,
      fix,
    },
  ];
}

/**
 * A stack role whose trust policy is not the one cloudmart wrote, with a boundary configured.
 * The operator policy denies iam:UpdateAssumeRolePolicy on the stack's roles: the boundary caps
 * what a role may do, not who may assume it, and `iam:PermissionsBoundary` does not condition
 * UpdateAssumeRolePolicy (Service Authorization Reference for IAM,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html),
 * so an operator allowed to rewrite it could make the role trust their own user and assume it.
 * up therefore never rewrites it: it stops, and an administrator restores it.
 */
export function trustDriftError(role: string, want: unknown): CloudmartError {
  return new CloudmartError(
    'AWS_ERROR',
    `IAM role ${role}: its trust policy was changed (it may now let someone else assume the role); cloudmart does not rewrite a trust policy when security.permissionsBoundary is set`,
    { hint: trustFix(role, want) },
  );
}

/** The administrator's command that restores a stack role's trust policy. */
export const trustFix = (role: string, want: unknown): string =>
  `An administrator checks who changed it and restores it: aws iam update-assume-role-policy --role-name ${role} --policy-document '${JSON.stringify(want)}'`;

/** verify (boundary configured): the role's trust policy is the one cloudmart wrote. */
export async function trustCheck(
  ctx: StepContext,
  id: string,
  role: Role,
  same: boolean,
  want: unknown,
): Promise<Check[]> {
  if (!(await wantedBoundary(ctx))) return [];
  return [
    {
      id,
      title: `Role ${role.RoleName} is trusted only by the service it serves`,
      criterion: 'iam',
      status: same ? 'pass' : 'fail',
      evidence: same
        ? 'trust policy as cloudmart wrote it'
        : `trust policy changed: ${decodeURIComponent(role.AssumeRolePolicyDocument ?? '')}`,
      fix: trustFix(role.RoleName ?? '', want),
    },
  ];
}

/** plan's line for the boundary preflight (none when no boundary is configured). */
export const boundaryPreflightChecks = (config: Config): string[] =>
  config.security.permissionsBoundary
    ? [
        `IAM: the roles' permissions boundary policy ${boundaryArnText(config)} exists (iam:GetPolicy)`,
      ]
    : [];

/**
 * Before anything bills (Step.preflight): the configured boundary policy exists. Without it the
 * first CreateRole fails (NoSuchEntity), but only after Phase 1 has made the VPC, NAT gateways,
 * Elastic IPs, the database…: a read now stops up with nothing made.
 */
export async function boundaryPreflight(ctx: StepContext): Promise<void> {
  const want = await wantedBoundary(ctx);
  if (!want) return;
  const { GetPolicyCommand } = await import('@aws-sdk/client-iam');
  const iam = await ctx.aws.get('iam');
  try {
    await iam.send(new GetPolicyCommand({ PolicyArn: want }));
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new CloudmartError(
      'AWS_ERROR',
      `The permissions boundary policy ${want} (security.permissionsBoundary) does not exist: up would stop at the first stack role, after creating billable resources`,
      { exitCode: 2, hint: createHint(ctx.config), cause: e },
    );
  }
}

/** IAM's action wildcard match (`*`, `?`), case-insensitive as IAM reads actions. */
const actionMatches = (pattern: string, action: string): boolean =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  ).test(action);

/**
 * verify (boundary configured): the live boundary policy still covers what the roles are given
 * now. It is a snapshot of the config it was printed from: a change such as `app.image` to a
 * private ECR image gives the instance role actions the old boundary refuses, and nothing else
 * notices until the instances are refused. Reads the default version (GetPolicy, then
 * GetPolicyVersion) and compares it with what `cloudmart policy --boundary` prints for this
 * config: every action of that must be allowed (fail otherwise); any other difference
 * (resources, conditions, an administrator's own tightening) is a warning.
 */
export async function boundaryCurrentCheck(
  ctx: StepContext,
  iam: IAMClient,
  id: string,
): Promise<Check[]> {
  const want = await wantedBoundary(ctx);
  if (!want) return [];
  const { GetPolicyCommand, GetPolicyVersionCommand } = await import('@aws-sdk/client-iam');
  const { boundaryPolicy } = await import('./permissions.js');
  const file = `${boundaryName(ctx.config)}.json`;
  const fix = `An administrator updates it: cloudmart policy --boundary > ${file}, then aws iam create-policy-version --policy-arn ${want} --policy-document file://${file} --set-as-default (IAM keeps 5 versions: delete the oldest first when it has 5)`;
  const check = (status: Check['status'], evidence: string): Check[] => [
    {
      id,
      title: `The permissions boundary ${boundaryName(ctx.config)} covers what the stack's roles are given`,
      criterion: 'iam',
      status,
      evidence,
      fix,
    },
  ];
  let live: PolicyDocument | undefined;
  try {
    const meta = await iam.send(new GetPolicyCommand({ PolicyArn: want }));
    const version = meta.Policy?.DefaultVersionId;
    if (version)
      live = decodePolicy(
        (await iam.send(new GetPolicyVersionCommand({ PolicyArn: want, VersionId: version })))
          .PolicyVersion?.Document,
      );
  } catch (e) {
    if (!isNotFound(e)) throw e;
    return check('fail', `no policy ${want}`);
  }
  const wanted = boundaryPolicy(ctx.config);
  if (samePolicy(live, wanted)) return check('pass', `${want}: as printed for this config`);
  const allowed = (live?.Statement ?? [])
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => asList(s.Action));
  const needed = [
    ...new Set(
      wanted.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => asList(s.Action)),
    ),
  ];
  const missingActions = needed.filter((a) => !allowed.some((p) => actionMatches(p, a)));
  return missingActions.length > 0
    ? check(
        'fail',
        `${want} allows none of ${missingActions.join(', ')}, which the roles are given for this config`,
      )
    : check(
        'warn',
        `${want} allows every action the roles are given, but differs from what cloudmart policy --boundary prints for this config (resources or conditions)`,
      );
}
