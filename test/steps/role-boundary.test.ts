import {
  CreateRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePermissionsBoundaryCommand,
} from '@aws-sdk/client-iam';
import { afterEach, describe, expect, it } from 'vitest';
import { runUp, runVerify } from '../../src/engine/engine.js';
import type { Config } from '../../src/config/schema.js';
import { STEP } from '../../src/steps/outputs.js';
import { registry } from '../../src/steps/registry.js';
import { createBoundaryPolicy } from '../helpers/boundary.js';
import { awsError, testConfig } from '../helpers/context.js';
import { createRoleError } from '../../src/steps/role-boundary.js';
import { CloudmartError } from '../../src/errors.js';
import { engineFor } from '../helpers/engine.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { operatorPolicy } from '../../src/engine/policy.js';
import { operatorScope } from '../../src/steps/permissions.js';
import { evaluate, type AuthRequest } from '../helpers/iam-evaluator.js';
import { RequestMapper } from '../helpers/iam-requests.js';

/**
 * `security.permissionsBoundary`: every role cloudmart creates carries it, and a role whose
 * boundary is missing or another is reported by verify and fixed by the next up, before any of
 * its policies is written (the operator policy allows those writes only on a bounded role).
 */
const ROLES = ['cloudmart-ec2-role', 'cloudmart-flow-logs-role', 'cloudmart-backup-role'];
/** The role steps and what they need. */
const ROLE_STEPS = [STEP.kms, STEP.vpc, STEP.instanceRole, STEP.flowLogs, STEP.backupPlan];
const BOUNDARY = 'arn:aws:iam::123456789012:policy/cloudmart-role-boundary';

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

const iam = () => new IAMClient({ region: 'us-east-1', maxAttempts: 1 });
const boundaryOf = async (role: string) =>
  (await iam().send(new GetRoleCommand({ RoleName: role }))).Role?.PermissionsBoundary
    ?.PermissionsBoundaryArn;

async function setUp(config: Config) {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  const engine = await engineFor([...registry]);
  Object.assign(engine.options, { config, sleep: cloud.sleep, now: cloud.now });
  return engine;
}

const bounded = testConfig({ security: { permissionsBoundary: 'cloudmart-role-boundary' } });

describe('the permissions boundary of the stack roles', () => {
  it('creates every role with the configured boundary, and verify passes', async () => {
    const engine = await setUp(bounded);
    await createBoundaryPolicy(bounded);
    const up = await runUp(engine.options, { stepIds: ROLE_STEPS });
    expect(up.errors).toEqual(new Map());
    expect(up.ok).toBe(true);
    for (const role of ROLES) expect(await boundaryOf(role), role).toBe(BOUNDARY);
    const creates = cloud!.calls.filter((c) => c.command === 'CreateRole');
    expect(
      creates.map((c) => (c.input as { PermissionsBoundary?: string }).PermissionsBoundary),
    ).toEqual([BOUNDARY, BOUNDARY, BOUNDARY]);
    const verify = await runVerify(engine.options, { stepIds: ROLE_STEPS });
    const checks = verify.checks.filter((c) => c.id.endsWith('.boundary'));
    expect(checks.map((c) => [c.id, c.status]).sort()).toEqual([
      ['backup.plan.boundary', 'pass'],
      ['iam.instance-role.boundary', 'pass'],
      ['security.flow-logs.boundary', 'pass'],
    ]);
  }, 60_000);

  it('reports a role whose boundary was removed or replaced, and the next up puts it back before writing any policy', async () => {
    const engine = await setUp(bounded);
    await createBoundaryPolicy(bounded);
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    // Someone (an administrator: the operator policy denies it) lifts the instance role's
    // boundary, and puts another policy as the flow-logs and backup roles' boundary.
    const other = await createBoundaryPolicy(
      testConfig({ stack: 'other', security: { permissionsBoundary: 'other-role-boundary' } }),
    );
    await iam().send(new DeleteRolePermissionsBoundaryCommand({ RoleName: ROLES[0] }));
    for (const role of ROLES.slice(1))
      await iam().send(
        new PutRolePermissionsBoundaryCommand({ RoleName: role, PermissionsBoundary: other }),
      );
    // …and changes a policy, which up rewrites.
    cloud!.resource('iam:role', 'us-east-1', ROLES[0]!)!.data.inline = {};

    const verify = await runVerify(engine.options, { stepIds: ROLE_STEPS });
    const byId = Object.fromEntries(
      verify.checks.filter((c) => c.id.endsWith('.boundary')).map((c) => [c.id, c]),
    );
    expect(byId['iam.instance-role.boundary']?.status).toBe('fail');
    expect(byId['iam.instance-role.boundary']?.evidence).toBe(
      `no permissions boundary (want ${BOUNDARY})`,
    );
    expect(byId['security.flow-logs.boundary']?.status).toBe('fail');
    expect(byId['security.flow-logs.boundary']?.evidence).toBe(
      `permissions boundary ${other}, not ${BOUNDARY}`,
    );
    expect(byId['backup.plan.boundary']?.status).toBe('fail');
    expect(byId['backup.plan.boundary']?.evidence).toBe(
      `permissions boundary ${other}, not ${BOUNDARY}`,
    );

    const before = cloud!.calls.length;
    const again = await runUp(engine.options, { stepIds: ROLE_STEPS });
    expect(again.errors).toEqual(new Map());
    for (const role of ROLES) expect(await boundaryOf(role), role).toBe(BOUNDARY);
    const sent = cloud!.calls
      .slice(before)
      .map((c) => `${c.command} ${String((c.input as { RoleName?: string }).RoleName)}`);
    for (const role of ROLES) expect(sent, role).toContain(`PutRolePermissionsBoundary ${role}`);
    // The boundary first: the instance role's inline policy is written only once it is bounded.
    expect(sent.indexOf(`PutRolePermissionsBoundary ${ROLES[0]}`)).toBeLessThan(
      sent.indexOf(`PutRolePolicy ${ROLES[0]}`),
    );
    expect(sent).toContain(`PutRolePolicy ${ROLES[0]}`);
  }, 60_000);

  it('stops up before anything is made when the boundary policy does not exist: only reads are sent, exit 2 with the exact command', async () => {
    const engine = await setUp(bounded);
    await expect(runUp(engine.options)).rejects.toMatchObject({
      exitCode: 2,
      message: `The permissions boundary policy ${BOUNDARY} (security.permissionsBoundary) does not exist: up would stop at the first stack role, after creating billable resources`,
      hint: 'An administrator creates it once: cloudmart policy --boundary > cloudmart-role-boundary.json, then aws iam create-policy --policy-name cloudmart-role-boundary --policy-document file://cloudmart-role-boundary.json',
    });
    const sent = cloud!.calls.map((c) => c.command);
    expect(sent).toContain('GetPolicy');
    expect(sent.filter((c) => !/^(Get|Describe|List|Head)/.test(c))).toEqual([]);
    expect(
      cloud!.resources({}).filter((r) => r.type === 'iam:role' && ROLES.includes(r.id)),
    ).toEqual([]);
  }, 60_000);

  it('the preflight names the path of a boundary ARN with one (create-policy --path)', async () => {
    const arn = 'arn:aws:iam::123456789012:policy/teams/shop-boundary';
    const engine = await setUp(testConfig({ security: { permissionsBoundary: arn } }));
    await expect(
      runUp(engine.options, { stepIds: [STEP.kms, STEP.instanceRole] }),
    ).rejects.toMatchObject({
      exitCode: 2,
      hint: 'An administrator creates it once: cloudmart policy --boundary > shop-boundary.json, then aws iam create-policy --policy-name shop-boundary --path /teams/ --policy-document file://shop-boundary.json',
    });
  }, 60_000);

  it('a boundary deleted between the preflight and CreateRole: the role step still says what to do', async () => {
    const engine = await setUp(bounded);
    await createBoundaryPolicy(bounded);
    // The preflight finds it; then someone deletes it.
    cloud!.onCall((e) => {
      if (e.phase === 'before' && e.command === 'CreateRole')
        cloud!.world.remove(cloud!.resource('iam:policy', 'us-east-1', BOUNDARY)!);
    });
    const up = await runUp(engine.options, { stepIds: [STEP.kms, STEP.instanceRole] });
    expect(up.ok).toBe(false);
    const error = up.errors.get(STEP.instanceRole);
    expect(error?.message).toBe(
      `Creating IAM role cloudmart-ec2-role: the permissions boundary policy ${BOUNDARY} does not exist`,
    );
    expect((error as { hint?: string }).hint).toContain(
      'aws iam create-policy --policy-name cloudmart-role-boundary --policy-document file://cloudmart-role-boundary.json',
    );
  }, 60_000);

  it('creates the roles without a boundary when none is configured (an administrator with zero setup)', async () => {
    const engine = await setUp(testConfig());
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    for (const role of ROLES) expect(await boundaryOf(role), role).toBeUndefined();
    expect(
      cloud!.calls
        .filter((c) => c.command === 'CreateRole')
        .map((c) => 'PermissionsBoundary' in (c.input as object)),
    ).toEqual([false, false, false]);
    const verify = await runVerify(engine.options, { stepIds: ROLE_STEPS });
    expect(verify.checks.filter((c) => c.id.endsWith('.boundary'))).toEqual([]);
  }, 60_000);
});

describe('the live boundary against what the roles are given now', () => {
  it('passes as printed; fails, naming the actions, once the config gives a role more (a private ECR image)', async () => {
    const engine = await setUp(bounded);
    await createBoundaryPolicy(bounded);
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    const current = async () =>
      (await runVerify(engine.options, { stepIds: [STEP.kms, STEP.instanceRole] })).checks.find(
        (c) => c.id === 'iam.boundary.current',
      );
    expect((await current())?.status).toBe('pass');
    const before = cloud!.calls.length;
    Object.assign(engine.options, {
      config: testConfig({
        security: { permissionsBoundary: 'cloudmart-role-boundary' },
        app: { image: '123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop:1' },
      }),
    });
    const stale = await current();
    expect(stale?.status).toBe('fail');
    expect(stale?.evidence).toContain('ecr:GetAuthorizationToken');
    expect(stale?.evidence).toContain('ecr:BatchGetImage');
    expect(stale?.fix).toContain(
      `aws iam create-policy-version --policy-arn ${BOUNDARY} --policy-document file://cloudmart-role-boundary.json --set-as-default`,
    );
    const sent = cloud!.calls.slice(before).map((c) => c.command);
    expect(sent).toContain('GetPolicyVersion');
  }, 60_000);
});

describe("AWS Backup's role with a boundary: never the account's AWSBackupDefaultServiceRole", () => {
  const selectionRoles = () =>
    cloud!.calls
      .filter((c) => c.command === 'CreateBackupSelection' && !c.error)
      .map(
        (c) => (c.input as { BackupSelection: { IamRoleArn: string } }).BackupSelection.IamRoleArn,
      );
  const defaultRole = () =>
    iam().send(
      new CreateRoleCommand({
        RoleName: 'AWSBackupDefaultServiceRole',
        Path: '/service-role/',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'backup.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
      }),
    );

  it("an administrator's stack without a boundary uses the account's role; once the boundary is configured, up moves the selection to the stack's own bounded role", async () => {
    const engine = await setUp(testConfig());
    await defaultRole();
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    expect(selectionRoles()).toEqual([
      expect.stringMatching(/:role\/service-role\/AWSBackupDefaultServiceRole$/),
    ]);

    await createBoundaryPolicy(bounded);
    Object.assign(engine.options, { config: bounded });
    const verify = await runVerify(engine.options, { stepIds: [STEP.backupPlan] });
    const byId = Object.fromEntries(verify.checks.map((c) => [c.id, c]));
    expect(byId['backup.plan.selection']?.status).toBe('fail');
    expect(byId['backup.plan.boundary']?.status).toBe('fail');

    cloud!.advance(60_000); // a later run: another CreatorRequestId
    const again = await runUp(engine.options, { stepIds: ROLE_STEPS });
    expect(again.errors).toEqual(new Map());
    expect(selectionRoles()[1]).toBe('arn:aws:iam::123456789012:role/cloudmart-backup-role');
    expect(await boundaryOf('cloudmart-backup-role')).toBe(BOUNDARY);
    const after = await runVerify(engine.options, { stepIds: [STEP.backupPlan] });
    expect(
      after.checks.filter((c) => c.id.startsWith('backup.plan.')).map((c) => [c.id, c.status]),
    ).toEqual([
      ['backup.plan.vault', 'pass'],
      ['backup.plan.rule', 'pass'],
      ['backup.plan.selection', 'pass'],
      ['backup.plan.boundary', 'pass'],
    ]);
  }, 60_000);
});

describe('the trust policies of the stack roles, with a boundary', () => {
  it('up on a converged stack never rewrites a trust policy (the operator policy denies it)', async () => {
    const engine = await setUp(bounded);
    await createBoundaryPolicy(bounded);
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    const before = cloud!.calls.length;
    const again = await runUp(engine.options, { stepIds: ROLE_STEPS });
    expect(again.errors).toEqual(new Map());
    const sent = cloud!.calls.slice(before).map((c) => c.command);
    expect(sent).toContain('GetRole');
    expect(sent).not.toContain('UpdateAssumeRolePolicy');
    const verify = await runVerify(engine.options, { stepIds: ROLE_STEPS });
    expect(
      verify.checks.filter((c) => c.id.endsWith('.trust')).map((c) => [c.id, c.status]),
    ).toEqual([
      ['iam.instance-role.trust', 'pass'],
      ['security.flow-logs.trust', 'pass'],
    ]);
  }, 60_000);

  it('a trust policy someone changed: verify fails it, and up stops with the administrator fix instead of rewriting it', async () => {
    const engine = await setUp(bounded);
    await createBoundaryPolicy(bounded);
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    // Someone makes both roles trust their own user.
    const foreign = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:user/mallory' },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    for (const r of ROLES.slice(0, 2))
      cloud!.resource('iam:role', 'us-east-1', r)!.data.trust = foreign;

    const verify = await runVerify(engine.options, { stepIds: ROLE_STEPS });
    const trust = verify.checks.filter((c) => c.id.endsWith('.trust'));
    expect(trust.map((c) => [c.id, c.status])).toEqual([
      ['iam.instance-role.trust', 'fail'],
      ['security.flow-logs.trust', 'fail'],
    ]);
    expect(trust[0]!.evidence).toContain('mallory');
    expect(trust[0]!.fix).toContain(
      'aws iam update-assume-role-policy --role-name cloudmart-ec2-role',
    );

    const before = cloud!.calls.length;
    const up = await runUp(engine.options, { stepIds: [STEP.kms, STEP.instanceRole] });
    expect(up.ok).toBe(false);
    const error = up.errors.get(STEP.instanceRole) as CloudmartError;
    expect(error.message).toContain('cloudmart-ec2-role: its trust policy was changed');
    expect(error.hint).toContain(
      `aws iam update-assume-role-policy --role-name cloudmart-ec2-role --policy-document '{"Version":"2012-10-17"`,
    );
    expect(cloud!.calls.slice(before).map((c) => c.command)).not.toContain(
      'UpdateAssumeRolePolicy',
    );
  }, 60_000);

  it('without a boundary (an administrator) up still restores a changed trust policy', async () => {
    const engine = await setUp(testConfig());
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    cloud!.resource('iam:role', 'us-east-1', ROLES[0]!)!.data.trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
    });
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    expect(cloud!.calls.map((c) => c.command)).toContain('UpdateAssumeRolePolicy');
  }, 60_000);
});

describe("the steps' own CreateRole requests against the operator policy", () => {
  /** The IAM requests the role steps make, as IAM authorizes them. */
  async function roleRequests(config: Config): Promise<AuthRequest[]> {
    const engine = await setUp(config);
    if (config.security.permissionsBoundary) await createBoundaryPolicy(config);
    const mapper = new RequestMapper(cloud!);
    const out: AuthRequest[] = [];
    cloud!.onCall((e) => {
      if (e.phase === 'before') mapper.snapshot(e);
      else out.push(...mapper.requests(e));
    });
    expect((await runUp(engine.options, { stepIds: ROLE_STEPS })).ok).toBe(true);
    return out.filter((r) => r.action === 'iam:CreateRole');
  }
  const policy = operatorPolicy(registry, operatorScope(bounded)).Statement as Parameters<
    typeof evaluate
  >[0];

  it('the roles up creates with the boundary configured are allowed; the same roles created without it are denied', async () => {
    const withBoundary = await roleRequests(bounded);
    expect(withBoundary.map((r) => r.resource.split('/').at(-1)).sort()).toEqual([...ROLES].sort());
    for (const r of withBoundary) expect(evaluate(policy, r), r.resource).toBe('allow');
    cloud!.uninstall();
    // An operator who leaves the setting out: each CreateRole the steps send is denied.
    const without = await roleRequests(testConfig());
    expect(without).toHaveLength(3);
    for (const r of without) expect(evaluate(policy, r), r.resource).toBe('deny');
  }, 60_000);
});

describe('a CreateRole refusal in plain words', () => {
  it('names the setting when the operator policy refuses a role without the boundary, and leaves other errors alone', () => {
    const denied = awsError('AccessDenied', 'not authorized to perform: iam:CreateRole', 403);
    const e = createRoleError(
      denied,
      'cloudmart-ec2-role',
      undefined,
      testConfig(),
    ) as CloudmartError;
    expect(e).toBeInstanceOf(CloudmartError);
    expect(e.code).toBe('ACCESS_DENIED');
    expect(e.hint).toContain('security.permissionsBoundary');
    expect(e.cause).toBe(denied);
    // With a boundary configured, AccessDenied is some other refusal: passed on as it is.
    expect(createRoleError(denied, 'cloudmart-ec2-role', BOUNDARY, bounded)).toBe(denied);
    const missing = awsError('NoSuchEntity', 'Scope ARN: … does not exist', 404);
    expect(createRoleError(missing, 'cloudmart-ec2-role', undefined, testConfig())).toBe(missing);
  });
});
