import { roleLeftovers } from '../discover.js';
import type {
  BackupClient,
  BackupRule,
  BackupRuleInput,
  BackupSelection,
  DescribeBackupVaultOutput,
} from '@aws-sdk/client-backup';
import type { Role } from '@aws-sdk/client-iam';
import { BACKUP_VAULT_LOOKUP_ACTIONS, describeBackupVault } from '../../aws/backup.js';
import {
  isAccessDenied,
  isAlreadyExists,
  isDependencyViolation,
  isNotFound,
} from '../../aws/errors.js';
import { attachedRolePolicies, findRole, inlineRolePolicyNames } from '../../aws/find.js';
import { firstInPages } from '../../aws/pages.js';
import { STACK_TAG } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { afterCreate, justCreated } from '../../aws/consistency.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import { STEP, type KmsOutputs } from '../outputs.js';
import {
  boundaryCheck,
  boundaryMember,
  convergeBoundary,
  createRoleError,
  wantedBoundary,
  boundaryPreflight,
  boundaryPreflightChecks,
} from '../role-boundary.js';

const backupSdk = () => import('@aws-sdk/client-backup');
const iamSdk = () => import('@aws-sdk/client-iam');

export interface BackupPlanOutputs {
  vaultName: string;
  vaultArn: string;
  planId: string;
  planArn: string;
  selectionId: string;
  roleName: string;
  roleArn: string;
  /** True when cloudmart created the service role (teardown deletes only that one). */
  roleCreated: boolean;
  [k: string]: unknown;
}

/** The role AWS Backup creates for an account the first time the console is used. */
export const DEFAULT_BACKUP_ROLE = 'AWSBackupDefaultServiceRole';
export const RULE_NAME = 'daily';
const START_WINDOW_MINUTES = 60;
const COMPLETION_WINDOW_MINUTES = 180;

export const backupNames = (config: Config) => ({
  vault: names.of(config, 'vault'),
  role: names.of(config, 'backup-role'),
  selection: names.of(config, 'tagged'),
  plan: config.backup.planName,
});

export const BACKUP_MANAGED_POLICIES = (partition: string): string[] => [
  `arn:${partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup`,
  `arn:${partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores`,
];

const TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'backup.amazonaws.com' },
      Action: 'sts:AssumeRole',
    },
  ],
});

/**
 * The seed's "Daily at 02:00" names no time zone; cloudmart reads it as UTC, like the RDS
 * backup window beside it (RDS windows exist only in UTC), so the EBS backup still runs an hour
 * before the RDS one. In Seoul that is 11:00 KST: EBS snapshots are incremental and Multi-AZ
 * RDS backs up from the standby, so neither pauses the shop.
 */
export const SCHEDULE_TIME_ZONE = 'Etc/UTC';
const isUtc = (zone: string | undefined): boolean =>
  zone === undefined || zone === '' || /^(Etc\/)?(UTC|GMT|Universal|Zulu)$/i.test(zone);

function desiredRule(ctx: StepContext, vault: string): BackupRuleInput {
  return {
    RuleName: RULE_NAME,
    TargetBackupVaultName: vault,
    ScheduleExpression: ctx.config.backup.schedule,
    ScheduleExpressionTimezone: SCHEDULE_TIME_ZONE,
    StartWindowMinutes: START_WINDOW_MINUTES,
    CompletionWindowMinutes: COMPLETION_WINDOW_MINUTES,
    Lifecycle: { DeleteAfterDays: ctx.config.backup.retentionDays },
    RecoveryPointTags: ctx.tags.map(ctx.config.backup.planName),
  };
}

/** What differs between the live rules and the one rule we want (empty when converged). */
function ruleDrift(live: BackupRule[] | undefined, want: BackupRuleInput): string[] {
  if (!live || live.length !== 1) return [`${live?.length ?? 0} rules instead of 1`];
  const r = live[0]!;
  const diffs: string[] = [];
  const cmp = (what: string, a: unknown, b: unknown) => {
    if (a !== b) diffs.push(`${what} ${String(a)} (want ${String(b)})`);
  };
  cmp('rule', r.RuleName, want.RuleName);
  cmp('vault', r.TargetBackupVaultName, want.TargetBackupVaultName);
  cmp('schedule', r.ScheduleExpression, want.ScheduleExpression);
  // AWS answers Etc/UTC for a rule created without a zone: any spelling of UTC is the same.
  if (!isUtc(r.ScheduleExpressionTimezone)) {
    diffs.push(`time zone ${r.ScheduleExpressionTimezone} (want ${SCHEDULE_TIME_ZONE})`);
  }
  cmp('start window', r.StartWindowMinutes, want.StartWindowMinutes);
  cmp('completion window', r.CompletionWindowMinutes, want.CompletionWindowMinutes);
  cmp('retention days', r.Lifecycle?.DeleteAfterDays, want.Lifecycle?.DeleteAfterDays);
  cmp('cold storage after', r.Lifecycle?.MoveToColdStorageAfterDays, undefined);
  return diffs;
}

function desiredSelection(config: Config, roleArn: string): BackupSelection {
  return {
    SelectionName: backupNames(config).selection,
    IamRoleArn: roleArn,
    Resources: ['*'],
    // Conditions are ANDed (ListOfTags would be ORed): the Backup tag AND this stack, so the
    // plan never picks up another stack's resources that also carry Backup=true.
    Conditions: {
      StringEquals: [
        {
          ConditionKey: `aws:ResourceTag/${config.backup.selectionTag.key}`,
          ConditionValue: config.backup.selectionTag.value,
        },
        { ConditionKey: `aws:ResourceTag/${STACK_TAG}`, ConditionValue: config.stack },
      ],
    },
  };
}

function selectionDrift(live: BackupSelection | undefined, want: BackupSelection): string[] {
  if (!live) return ['missing'];
  const conds = (s: BackupSelection) =>
    (s.Conditions?.StringEquals ?? [])
      .map((c) => `${c.ConditionKey}=${c.ConditionValue}`)
      .sort()
      .join(',');
  const diffs: string[] = [];
  if (live.IamRoleArn !== want.IamRoleArn) diffs.push(`role ${live.IamRoleArn ?? 'none'}`);
  if ((live.Resources ?? []).join(',') !== '*')
    diffs.push(`resources ${(live.Resources ?? []).join(',')}`);
  if (conds(live) !== conds(want)) diffs.push(`conditions ${conds(live) || 'none'}`);
  if ((live.ListOfTags ?? []).length > 0) diffs.push('ORed tag list');
  return diffs;
}

async function describeVault(
  backup: BackupClient,
  name: string,
): Promise<DescribeBackupVaultOutput | undefined> {
  return describeBackupVault(backup, name);
}

async function findPlan(
  backup: BackupClient,
  name: string,
): Promise<{ id: string; arn: string } | undefined> {
  const { paginateListBackupPlans } = await backupSdk();
  const plan = await firstInPages(
    paginateListBackupPlans({ client: backup }, {}),
    (page) => page.BackupPlansList,
    (p) => p.BackupPlanName === name && !p.DeletionDate && p.BackupPlanId !== undefined,
  );
  return plan ? { id: plan.BackupPlanId!, arn: plan.BackupPlanArn ?? '' } : undefined;
}

async function listSelections(
  backup: BackupClient,
  planId: string,
): Promise<Array<{ id: string; name: string }>> {
  const { paginateListBackupSelections } = await backupSdk();
  const found: Array<{ id: string; name: string }> = [];
  try {
    for await (const out of paginateListBackupSelections(
      { client: backup },
      { BackupPlanId: planId },
    )) {
      for (const s of out.BackupSelectionsList ?? []) {
        if (s.SelectionId) found.push({ id: s.SelectionId, name: s.SelectionName ?? '' });
      }
    }
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
  return found;
}

/**
 * The service role: cloudmart's own if an earlier run made it (stable across runs), else the
 * account's AWSBackupDefaultServiceRole, else a new `<stack>-backup-role`. With a permissions
 * boundary configured, always the stack's own: the account's role carries no boundary (whatever
 * is attached to it, AWS Backup may do), and the operator policy lets its holder pass only the
 * stack's own role to AWS Backup.
 */
async function ensureRole(ctx: StepContext): Promise<{ role: Role; created: boolean }> {
  const { AttachRolePolicyCommand, CreateRoleCommand } = await iamSdk();
  const iam = await ctx.aws.get('iam');
  const ownName = backupNames(ctx.config).role;
  const boundary = await wantedBoundary(ctx);
  let role = await findRole(iam, ownName);
  let roleCreated = false;
  if (!role) {
    const fallback = boundary ? undefined : await findRole(iam, DEFAULT_BACKUP_ROLE);
    if (fallback) return { role: fallback, created: false };
    ctx.progress(`creating IAM role ${ownName} for AWS Backup`);
    try {
      role = (
        await iam.send(
          new CreateRoleCommand({
            RoleName: ownName,
            AssumeRolePolicyDocument: TRUST_POLICY,
            Description: `AWS Backup service role for cloudmart stack ${ctx.config.stack}`,
            ...boundaryMember(boundary),
            Tags: ctx.tags.list(ownName),
          }),
        )
      ).Role;
      roleCreated = true;
    } catch (e) {
      if (!isAlreadyExists(e)) throw createRoleError(e, ownName, boundary, ctx.config);
      role = await findRole(iam, ownName);
    }
    if (!role?.Arn) throw new Error(`IAM CreateRole ${ownName} returned no role`);
  }
  // Before the policies are attached: the operator policy allows that only on a role with the
  // boundary. (AWSBackupDefaultServiceRole, the account's own, is used as it is, and only
  // when no boundary is configured.)
  if (!roleCreated) await convergeBoundary(ctx, iam, role, justCreated(ctx, role.CreateDate));
  // A role created a moment ago has nothing attached, and IAM may not show it yet
  // (NoSuchEntity while it propagates: terraform-provider-aws PR #6079).
  const attached = roleCreated ? [] : await attachedRolePolicies(iam, ownName);
  const have = new Set(attached.map((p) => p.PolicyArn));
  for (const arn of BACKUP_MANAGED_POLICIES(ctx.aws.partition())) {
    if (!have.has(arn)) {
      await afterCreate(
        ctx,
        roleCreated || justCreated(ctx, role.CreateDate),
        () => iam.send(new AttachRolePolicyCommand({ RoleName: ownName, PolicyArn: arn })),
        { what: `attaching ${arn} to ${ownName}` },
      );
    }
  }
  return { role, created: true };
}

async function listRecoveryPoints(
  backup: BackupClient,
  vault: string,
): Promise<Array<{ arn: string; status: string }>> {
  const { paginateListRecoveryPointsByBackupVault } = await backupSdk();
  const points: Array<{ arn: string; status: string }> = [];
  try {
    for await (const out of paginateListRecoveryPointsByBackupVault(
      { client: backup },
      { BackupVaultName: vault },
    )) {
      for (const p of out.RecoveryPoints ?? []) {
        if (p.RecoveryPointArn) points.push({ arn: p.RecoveryPointArn, status: p.Status ?? '' });
      }
    }
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
  return points;
}

/**
 * Idempotency token for one create call: the SDK's own retries of that call reuse it, so a
 * lost response never makes a second plan (plan names are not unique in AWS Backup). It is
 * unique per run, because a token reused after destroy could hand back the deleted plan;
 * across runs the find-by-name lookup is the guard.
 */
const requestId = (ctx: StepContext, what: string): string =>
  `${ctx.config.stack}-${what}-${ctx.now()}`.slice(0, 50);

/** A role that was just created is not yet visible to AWS Backup for a few seconds. */
const isRolePropagation = (e: unknown): boolean =>
  /InvalidParameterValue/i.test((e as Error).name) && /role|iam/i.test((e as Error).message);

export const backupPlanStep = defineStep<BackupPlanOutputs>({
  id: STEP.backupPlan,
  phase: 3,
  title: 'AWS Backup vault, plan and tag selection',
  needs: [STEP.kms],
  // The seed's cleanup order: trail, alarms, dashboard, then the Backup plan.
  cleanupRank: 4,
  actions: [
    ...BACKUP_VAULT_LOOKUP_ACTIONS,
    'backup:CreateBackupVault',
    'backup:DeleteBackupVault',
    'backup:ListBackupPlans',
    'backup:GetBackupPlan',
    'backup:CreateBackupPlan',
    'backup:UpdateBackupPlan',
    'backup:DeleteBackupPlan',
    'backup:ListBackupSelections',
    'backup:GetBackupSelection',
    'backup:CreateBackupSelection',
    'backup:DeleteBackupSelection',
    'backup:ListRecoveryPointsByBackupVault',
    'backup:DeleteRecoveryPoint',
    'backup:TagResource',
    // CreateBackupVault with a customer managed key: "Backup vault creation and deletion",
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault.html (Required permissions).
    'backup-storage:MountCapsule',
    'kms:RetireGrant',
    'kms:CreateGrant',
    'kms:GenerateDataKey',
    'kms:Decrypt',
    'kms:DescribeKey',
    'iam:GetRole',
    'iam:GetPolicy',
    'iam:CreateRole',
    'iam:TagRole',
    'iam:PutRolePermissionsBoundary',
    'iam:ListAttachedRolePolicies',
    'iam:AttachRolePolicy',
    'iam:DetachRolePolicy',
    'iam:ListRolePolicies',
    'iam:DeleteRolePolicy',
    'iam:DeleteRole',
    'iam:PassRole',
  ],
  describe: (config) => {
    const n = backupNames(config);
    return [
      `AWS Backup vault ${n.vault} encrypted with the stack's KMS key`,
      `Backup plan ${n.plan}: ${config.backup.schedule} UTC, start within ${START_WINDOW_MINUTES} min, complete within ${COMPLETION_WINDOW_MINUTES} min, kept ${config.backup.retentionDays} days`,
      `Selection ${n.selection}: resources tagged ${config.backup.selectionTag.key}=${config.backup.selectionTag.value} and ${STACK_TAG}=${config.stack}, using ${DEFAULT_BACKUP_ROLE} or ${n.role}`,
    ];
  },

  discover: {
    what: 'IAM role of AWS Backup',
    find: (aws, config) => roleLeftovers(aws, [backupNames(config).role]),
  },
  // Before anything bills: the configured permissions boundary exists (src/steps/role-boundary.ts).
  preflightChecks: boundaryPreflightChecks,
  preflight: boundaryPreflight,

  async create(ctx) {
    const {
      CreateBackupPlanCommand,
      CreateBackupSelectionCommand,
      CreateBackupVaultCommand,
      DeleteBackupSelectionCommand,
      GetBackupPlanCommand,
      GetBackupSelectionCommand,
      UpdateBackupPlanCommand,
    } = await backupSdk();
    const backup = await ctx.aws.get('backup');
    const n = backupNames(ctx.config);
    const key = ctx.outputs<KmsOutputs>(STEP.kms);

    // 1. The vault, encrypted with the stack key (the key cannot be changed afterwards).
    let vault = await describeVault(backup, n.vault);
    if (!vault) {
      ctx.progress(`creating backup vault ${n.vault}`);
      try {
        await backup.send(
          new CreateBackupVaultCommand({
            BackupVaultName: n.vault,
            EncryptionKeyArn: key.keyArn,
            BackupVaultTags: ctx.tags.map(n.vault),
            CreatorRequestId: requestId(ctx, 'vault'),
          }),
        );
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      vault = await describeVault(backup, n.vault);
      if (!vault) throw new Error(`backup vault ${n.vault} was created but cannot be described`);
    } else if (vault.EncryptionKeyArn && vault.EncryptionKeyArn !== key.keyArn) {
      ctx.warn(
        `Backup vault ${n.vault} is encrypted with ${vault.EncryptionKeyArn}, not the stack key; a vault's key cannot be changed (delete the empty vault and run cloudmart up --phase 3 again to fix it).`,
      );
    }

    // 2. The service role.
    const { role, created } = await ensureRole(ctx);

    // 3. The plan: adopted by name, updated only when its rule drifted.
    const rule = desiredRule(ctx, n.vault);
    let plan = await findPlan(backup, n.plan);
    if (!plan) {
      ctx.progress(`creating backup plan ${n.plan}`);
      const out = await backup.send(
        new CreateBackupPlanCommand({
          BackupPlan: { BackupPlanName: n.plan, Rules: [rule] },
          BackupPlanTags: ctx.tags.map(n.plan),
          CreatorRequestId: requestId(ctx, 'plan'),
        }),
      );
      if (!out.BackupPlanId) throw new Error('CreateBackupPlan returned no plan id');
      plan = { id: out.BackupPlanId, arn: out.BackupPlanArn ?? '' };
    } else {
      const live = await backup.send(new GetBackupPlanCommand({ BackupPlanId: plan.id }));
      const drift = ruleDrift(live.BackupPlan?.Rules, rule);
      if (drift.length > 0) {
        ctx.progress(`backup plan ${n.plan}: updating (${drift.join(', ')})`);
        await backup.send(
          new UpdateBackupPlanCommand({
            BackupPlanId: plan.id,
            BackupPlan: { BackupPlanName: n.plan, Rules: [rule] },
          }),
        );
      }
    }
    const planId = plan.id;

    // 4. The selection. Selections cannot be updated: a drifted one is replaced.
    const want = desiredSelection(ctx.config, role.Arn!);
    let selectionId = (await listSelections(backup, planId)).find(
      (s) => s.name === n.selection,
    )?.id;
    if (selectionId) {
      const live = await backup.send(
        new GetBackupSelectionCommand({ BackupPlanId: planId, SelectionId: selectionId }),
      );
      const drift = selectionDrift(live.BackupSelection, want);
      if (drift.length > 0) {
        ctx.progress(`backup selection ${n.selection}: replacing (${drift.join(', ')})`);
        await backup.send(
          new DeleteBackupSelectionCommand({ BackupPlanId: planId, SelectionId: selectionId }),
        );
        selectionId = undefined;
      }
    }
    if (!selectionId) {
      ctx.progress(`creating backup selection ${n.selection}`);
      const out = await retryWhile(
        ctx,
        () =>
          backup.send(
            new CreateBackupSelectionCommand({
              BackupPlanId: planId,
              BackupSelection: want,
              CreatorRequestId: requestId(ctx, 'selection'),
            }),
          ),
        {
          what: `backup selection ${n.selection} (IAM role propagation)`,
          when: created ? isRolePropagation : () => false,
          timeoutMs: 2 * 60_000,
        },
      );
      selectionId = out.SelectionId;
      if (!selectionId) throw new Error('CreateBackupSelection returned no selection id');
    }

    return {
      vaultName: n.vault,
      vaultArn: vault.BackupVaultArn ?? '',
      planId,
      planArn: plan.arn,
      selectionId,
      roleName: role.RoleName ?? '',
      roleArn: role.Arn ?? '',
      roleCreated: created,
    };
  },

  async verify(ctx) {
    const { GetBackupPlanCommand, GetBackupSelectionCommand } = await backupSdk();
    const backup = await ctx.aws.get('backup');
    const n = backupNames(ctx.config);
    const fix = 'cloudmart up --phase 3';
    const checks: Check[] = [];
    const keyArn = ctx.maybeOutputs<KmsOutputs>(STEP.kms)?.keyArn;

    const vault = await describeVault(backup, n.vault);
    checks.push({
      id: 'backup.plan.vault',
      title: `Backup vault ${n.vault} encrypted with the stack key`,
      criterion: 'backup',
      status: !vault ? 'fail' : keyArn && vault.EncryptionKeyArn !== keyArn ? 'warn' : 'pass',
      evidence: vault
        ? `${n.vault}: key ${vault.EncryptionKeyArn ?? 'none'}, ${vault.NumberOfRecoveryPoints ?? 0} recovery points`
        : `no vault ${n.vault}`,
      fix,
    });

    const plan = await findPlan(backup, n.plan);
    if (!plan) {
      checks.push({
        id: 'backup.plan.rule',
        title: `Backup plan ${n.plan} exists`,
        criterion: 'backup',
        status: 'fail',
        evidence: `no backup plan ${n.plan}`,
        fix,
      });
      return checks;
    }
    const live = await backup.send(new GetBackupPlanCommand({ BackupPlanId: plan.id }));
    const drift = ruleDrift(live.BackupPlan?.Rules, desiredRule(ctx, n.vault));
    checks.push({
      id: 'backup.plan.rule',
      title: `Backup plan ${n.plan}: ${ctx.config.backup.schedule} UTC, ${ctx.config.backup.retentionDays}-day retention`,
      criterion: 'backup',
      status: drift.length === 0 ? 'pass' : 'fail',
      evidence: drift.length === 0 ? `${n.plan} (${plan.id}) as configured` : drift.join('; '),
      fix,
    });

    const selection = (await listSelections(backup, plan.id)).find((s) => s.name === n.selection);
    const liveSel = selection
      ? (
          await backup.send(
            new GetBackupSelectionCommand({ BackupPlanId: plan.id, SelectionId: selection.id }),
          )
        ).BackupSelection
      : undefined;
    // With a boundary, the selection must use the stack's own (bounded) role, never the account's.
    const boundary = await wantedBoundary(ctx);
    const ownRole = boundary ? await findRole(await ctx.aws.get('iam'), n.role) : undefined;
    const selDrift = liveSel
      ? selectionDrift(
          liveSel,
          desiredSelection(
            ctx.config,
            boundary ? (ownRole?.Arn ?? `(no role ${n.role})`) : (liveSel.IamRoleArn ?? ''),
          ),
        )
      : ['missing'];
    checks.push({
      id: 'backup.plan.selection',
      title: `Selection of resources tagged ${ctx.config.backup.selectionTag.key}=${ctx.config.backup.selectionTag.value} in this stack`,
      criterion: 'backup',
      status: selDrift.length === 0 ? 'pass' : 'fail',
      evidence:
        selDrift.length === 0
          ? `${n.selection} with role ${liveSel?.IamRoleArn ?? '?'}`
          : `${n.selection}: ${selDrift.join('; ')}`,
      fix,
    });
    // The backup role's boundary, when one is configured.
    if (boundary) {
      if (ownRole)
        checks.push(...(await boundaryCheck(ctx, 'backup.plan.boundary', ownRole, 'iam', fix)));
      else
        checks.push({
          id: 'backup.plan.boundary',
          title: `Role ${n.role} is capped by the permissions boundary`,
          criterion: 'iam',
          status: 'fail',
          evidence: `no role ${n.role} (want it with the permissions boundary ${boundary})`,
          fix,
        });
    }
    return checks;
  },

  async teardown(ctx) {
    const {
      DeleteBackupPlanCommand,
      DeleteBackupSelectionCommand,
      DeleteBackupVaultCommand,
      DeleteRecoveryPointCommand,
    } = await backupSdk();
    const backup = await ctx.aws.get('backup');
    const n = backupNames(ctx.config);

    // 1. Selections, then the plan (a plan with selections cannot be deleted).
    const plan = await findPlan(backup, n.plan);
    if (plan) {
      for (const s of await listSelections(backup, plan.id)) {
        try {
          await backup.send(
            new DeleteBackupSelectionCommand({ BackupPlanId: plan.id, SelectionId: s.id }),
          );
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      try {
        await backup.send(new DeleteBackupPlanCommand({ BackupPlanId: plan.id }));
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    // 2. Recovery points outlive the plan, and a vault can only be deleted when empty.
    if (await describeVault(backup, n.vault)) {
      const points = await listRecoveryPoints(backup, n.vault);
      if (points.length > 0 && !ctx.config.destroy.deleteRecoveryPoints) {
        ctx.warn(
          `Kept backup vault ${n.vault} with ${points.length} recovery point(s) (destroy.deleteRecoveryPoints is false): they keep billing until they expire after ${ctx.config.backup.retentionDays} days or you delete them. ` +
            `The vault and the EBS snapshots are encrypted with the stack KMS key, so destroy keeps that key too (about $1/month) to keep them restorable; schedule its deletion once they are gone (destroy prints the command).`,
        );
      } else {
        for (const p of points.filter((x) => x.status !== 'DELETING')) {
          ctx.progress(`deleting recovery point ${p.arn}`);
          try {
            // A point whose backup job is still running cannot be deleted yet.
            await retryWhile(
              ctx,
              () =>
                backup.send(
                  new DeleteRecoveryPointCommand({
                    BackupVaultName: n.vault,
                    RecoveryPointArn: p.arn,
                  }),
                ),
              {
                what: `deleting recovery point ${p.arn}`,
                when: (e) => /InvalidRequest|InvalidResourceState/i.test((e as Error).name),
                minDelayMs: 10_000,
                timeoutMs: 30 * 60_000,
              },
            );
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        }
        if (points.length > 0) {
          await waitUntil(
            ctx,
            async () => {
              const left = (await listRecoveryPoints(backup, n.vault)).length;
              return { done: left === 0, status: `${left} recovery point(s) left` };
            },
            {
              what: `backup vault ${n.vault} to be empty`,
              minDelayMs: 5_000,
              timeoutMs: 30 * 60_000,
            },
          );
        }
        try {
          await retryWhile(
            ctx,
            () => backup.send(new DeleteBackupVaultCommand({ BackupVaultName: n.vault })),
            {
              what: `deleting backup vault ${n.vault}`,
              when: (e) => /InvalidRequest/i.test((e as Error).name),
              timeoutMs: 5 * 60_000,
            },
          );
        } catch (e) {
          // Gone is done. A vault that is gone answers "access denied" too (see
          // describeBackupVault), e.g. when an SDK retry repeats a delete that had worked.
          if (!isNotFound(e) && !(isAccessDenied(e) && !(await describeVault(backup, n.vault))))
            throw e;
        }
      }
    }

    // 3. The service role, only if cloudmart created it (never the account's default role).
    await deleteOwnRole(ctx);
  },
});

async function deleteOwnRole(ctx: StepContext): Promise<void> {
  const { DeleteRoleCommand, DeleteRolePolicyCommand, DetachRolePolicyCommand } = await iamSdk();
  const iam = await ctx.aws.get('iam');
  const name = backupNames(ctx.config).role;
  if (!(await findRole(iam, name))) return;
  try {
    for (const p of await attachedRolePolicies(iam, name)) {
      await iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: p.PolicyArn }));
    }
    for (const policy of await inlineRolePolicyNames(iam, name)) {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy }));
    }
    await retryWhile(ctx, () => iam.send(new DeleteRoleCommand({ RoleName: name })), {
      what: `deleting IAM role ${name}`,
      when: isDependencyViolation,
      timeoutMs: 2 * 60_000,
    });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
