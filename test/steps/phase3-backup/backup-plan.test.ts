import {
  BackupClient,
  CreateBackupPlanCommand,
  CreateBackupSelectionCommand,
  CreateBackupVaultCommand,
  DeleteBackupPlanCommand,
  DeleteBackupSelectionCommand,
  DeleteBackupVaultCommand,
  DeleteRecoveryPointCommand,
  DescribeBackupVaultCommand,
  GetBackupPlanCommand,
  GetBackupSelectionCommand,
  ListBackupPlansCommand,
  ListBackupVaultsCommand,
  ListBackupSelectionsCommand,
  ListRecoveryPointsByBackupVaultCommand,
  UpdateBackupPlanCommand,
} from '@aws-sdk/client-backup';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import { backupPlanStep } from '../../../src/steps/phase3-backup/backup-plan.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { mutatingCalls, role, seq } from './helpers.js';

const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/k-1`;
const VAULT_ARN = `arn:aws:backup:ap-northeast-2:${ACCOUNT}:backup-vault:cloudmart-vault`;
const OWN_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/cloudmart-backup-role`;
const DEFAULT_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole`;
const POLICIES = [
  'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup',
  'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores',
];
const noEntity = () => awsError('NoSuchEntityException', 'no such role', 404);
const noVault = () => awsError('ResourceNotFoundException', 'no vault', 404);

const rule = {
  RuleName: 'daily',
  TargetBackupVaultName: 'cloudmart-vault',
  ScheduleExpression: 'cron(0 2 * * ? *)',
  StartWindowMinutes: 60,
  CompletionWindowMinutes: 180,
  Lifecycle: { DeleteAfterDays: 7 },
};
const selection = (IamRoleArn: string) => ({
  SelectionName: 'cloudmart-tagged',
  IamRoleArn,
  Resources: ['*'],
  Conditions: {
    StringEquals: [
      { ConditionKey: 'aws:ResourceTag/Backup', ConditionValue: 'true' },
      { ConditionKey: 'aws:ResourceTag/cloudmart:stack', ConditionValue: 'cloudmart' },
    ],
  },
});

describe('backup.plan', () => {
  let backup: ReturnType<typeof strictMock>;
  let iam: ReturnType<typeof strictMock>;
  beforeEach(() => {
    backup = strictMock(BackupClient);
    iam = strictMock(IAMClient);
  });

  const ctx = (config = testConfig()) =>
    testContext({
      stepId: backupPlanStep.id,
      config,
      outputs: { [STEP.kms]: { keyId: 'k-1', keyArn: KEY_ARN, aliasName: 'alias/cloudmart' } },
    });

  it('is torn down in the seed cleanup order, after the dashboard and before RDS snapshots', () => {
    expect(backupPlanStep.cleanupRank).toBe(4);
    expect(backupPlanStep.needs).toEqual([STEP.kms]);
  });

  it('creates the encrypted vault, its own service role, the plan and the stack-scoped selection', async () => {
    backup.on(DescribeBackupVaultCommand).rejectsOnce(noVault()).resolves({
      BackupVaultName: 'cloudmart-vault',
      BackupVaultArn: VAULT_ARN,
      EncryptionKeyArn: KEY_ARN,
    });
    backup.on(CreateBackupVaultCommand).resolves({});
    iam.on(GetRoleCommand).rejects(noEntity());
    iam.on(CreateRoleCommand).resolves({ Role: role('cloudmart-backup-role', OWN_ROLE_ARN) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(AttachRolePolicyCommand).resolves({});
    backup.on(ListBackupPlansCommand).resolves({ BackupPlansList: [] });
    backup
      .on(CreateBackupPlanCommand)
      .resolves({ BackupPlanId: 'plan-1', BackupPlanArn: 'arn:plan-1' });
    backup.on(ListBackupSelectionsCommand).resolves({ BackupSelectionsList: [] });
    backup.on(CreateBackupSelectionCommand).resolves({ SelectionId: 'sel-1' });

    const out = await backupPlanStep.create(ctx());

    const vault = backup.commandCalls(CreateBackupVaultCommand)[0]!.args[0].input;
    expect(vault).toMatchObject({ BackupVaultName: 'cloudmart-vault', EncryptionKeyArn: KEY_ARN });
    expect(vault.BackupVaultTags).toMatchObject({
      'cloudmart:stack': 'cloudmart',
      Name: 'cloudmart-vault',
    });
    expect(vault.CreatorRequestId).toMatch(/^[A-Za-z0-9._-]{1,50}$/);

    const created = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(created.RoleName).toBe('cloudmart-backup-role');
    expect(JSON.parse(created.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'backup.amazonaws.com' },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    expect(created.Tags).toEqual(
      expect.arrayContaining([{ Key: 'cloudmart:stack', Value: 'cloudmart' }]),
    );
    expect(iam.commandCalls(AttachRolePolicyCommand).map((c) => c.args[0].input.PolicyArn)).toEqual(
      POLICIES,
    );

    const plan = backup.commandCalls(CreateBackupPlanCommand)[0]!.args[0].input;
    expect(plan.BackupPlan).toEqual({
      BackupPlanName: 'CloudMart-Daily-Backup',
      Rules: [
        {
          ...rule,
          // "Daily at 02:00" read as UTC, like the RDS window; stated, not left to the default.
          ScheduleExpressionTimezone: 'Etc/UTC',
          RecoveryPointTags: expect.objectContaining({ 'cloudmart:stack': 'cloudmart' }),
        },
      ],
    });
    expect(plan.BackupPlanTags).toMatchObject({ 'cloudmart:stack': 'cloudmart' });

    const sel = backup.commandCalls(CreateBackupSelectionCommand)[0]!.args[0].input;
    expect(sel.BackupPlanId).toBe('plan-1');
    expect(sel.BackupSelection).toEqual(selection(OWN_ROLE_ARN));

    expect(out).toEqual({
      vaultName: 'cloudmart-vault',
      vaultArn: VAULT_ARN,
      planId: 'plan-1',
      planArn: 'arn:plan-1',
      selectionId: 'sel-1',
      roleName: 'cloudmart-backup-role',
      roleArn: OWN_ROLE_ARN,
      roleCreated: true,
    });
  });

  it('uses the account AWSBackupDefaultServiceRole when it exists and creates no role', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ BackupVaultArn: VAULT_ARN, EncryptionKeyArn: KEY_ARN });
    iam.on(GetRoleCommand, { RoleName: 'cloudmart-backup-role' }).rejects(noEntity());
    iam
      .on(GetRoleCommand, { RoleName: 'AWSBackupDefaultServiceRole' })
      .resolves({ Role: role('AWSBackupDefaultServiceRole', DEFAULT_ROLE_ARN) });
    backup.on(ListBackupPlansCommand).resolves({ BackupPlansList: [] });
    backup
      .on(CreateBackupPlanCommand)
      .resolves({ BackupPlanId: 'plan-1', BackupPlanArn: 'arn:plan-1' });
    backup.on(ListBackupSelectionsCommand).resolves({ BackupSelectionsList: [] });
    backup.on(CreateBackupSelectionCommand).resolves({ SelectionId: 'sel-1' });

    const out = await backupPlanStep.create(ctx());

    expect(iam.commandCalls(CreateRoleCommand)).toHaveLength(0);
    expect(iam.commandCalls(AttachRolePolicyCommand)).toHaveLength(0);
    expect(out).toMatchObject({ roleArn: DEFAULT_ROLE_ARN, roleCreated: false });
    expect(
      backup.commandCalls(CreateBackupSelectionCommand)[0]!.args[0].input.BackupSelection!
        .IamRoleArn,
    ).toBe(DEFAULT_ROLE_ARN);
  });

  it('adopts vault, plan (found on the second page) and selection and sends no mutating call', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ BackupVaultArn: VAULT_ARN, EncryptionKeyArn: KEY_ARN });
    iam
      .on(GetRoleCommand, { RoleName: 'cloudmart-backup-role' })
      .resolves({ Role: role('cloudmart-backup-role', OWN_ROLE_ARN) });
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: POLICIES.map((PolicyArn) => ({ PolicyArn })) });
    backup
      .on(ListBackupPlansCommand)
      .resolvesOnce({
        BackupPlansList: [{ BackupPlanName: 'other', BackupPlanId: 'x' }],
        NextToken: 't',
      })
      .resolves({
        BackupPlansList: [
          {
            BackupPlanName: 'CloudMart-Daily-Backup',
            BackupPlanId: 'plan-1',
            BackupPlanArn: 'arn:plan-1',
          },
        ],
      });
    backup.on(GetBackupPlanCommand).resolves({
      BackupPlan: { BackupPlanName: 'CloudMart-Daily-Backup', Rules: [{ ...rule, RuleId: 'r-1' }] },
    });
    backup.on(ListBackupSelectionsCommand).resolves({
      BackupSelectionsList: [{ SelectionId: 'sel-1', SelectionName: 'cloudmart-tagged' }],
    });
    backup.on(GetBackupSelectionCommand).resolves({ BackupSelection: selection(OWN_ROLE_ARN) });

    const out = await backupPlanStep.create(ctx());

    expect(out).toMatchObject({ planId: 'plan-1', selectionId: 'sel-1', roleCreated: true });
    expect(backup.commandCalls(ListBackupPlansCommand)[1]!.args[0].input).toEqual({
      NextToken: 't',
    });
    expect(mutatingCalls(backup)).toEqual([]);
    expect(mutatingCalls(iam)).toEqual([]);
  });

  it('updates a drifted rule and replaces a selection that ORs the tags', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ BackupVaultArn: VAULT_ARN, EncryptionKeyArn: KEY_ARN });
    iam
      .on(GetRoleCommand, { RoleName: 'cloudmart-backup-role' })
      .resolves({ Role: role('cloudmart-backup-role', OWN_ROLE_ARN) });
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: POLICIES.map((PolicyArn) => ({ PolicyArn })) });
    backup.on(ListBackupPlansCommand).resolves({
      BackupPlansList: [{ BackupPlanName: 'CloudMart-Daily-Backup', BackupPlanId: 'plan-1' }],
    });
    backup.on(GetBackupPlanCommand).resolves({
      BackupPlan: {
        BackupPlanName: 'CloudMart-Daily-Backup',
        Rules: [{ ...rule, Lifecycle: { DeleteAfterDays: 35 } }],
      },
    });
    backup.on(UpdateBackupPlanCommand).resolves({});
    backup.on(ListBackupSelectionsCommand).resolves({
      BackupSelectionsList: [{ SelectionId: 'sel-old', SelectionName: 'cloudmart-tagged' }],
    });
    backup.on(GetBackupSelectionCommand).resolves({
      BackupSelection: {
        ...selection(OWN_ROLE_ARN),
        Conditions: {},
        ListOfTags: [
          { ConditionType: 'STRINGEQUALS', ConditionKey: 'Backup', ConditionValue: 'true' },
        ],
      },
    });
    backup.on(DeleteBackupSelectionCommand).resolves({});
    backup.on(CreateBackupSelectionCommand).resolves({ SelectionId: 'sel-new' });

    const c = ctx();
    const out = await backupPlanStep.create(c);

    expect(backup.commandCalls(UpdateBackupPlanCommand)[0]!.args[0].input).toMatchObject({
      BackupPlanId: 'plan-1',
      BackupPlan: {
        BackupPlanName: 'CloudMart-Daily-Backup',
        Rules: [expect.objectContaining(rule)],
      },
    });
    expect(backup.commandCalls(DeleteBackupSelectionCommand)[0]!.args[0].input).toEqual({
      BackupPlanId: 'plan-1',
      SelectionId: 'sel-old',
    });
    expect(out.selectionId).toBe('sel-new');
    expect(c.progressLog.some((l) => l.includes('retention days 35'))).toBe(true);
  });

  it('retries the selection while a just-created role propagates', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ BackupVaultArn: VAULT_ARN, EncryptionKeyArn: KEY_ARN });
    iam.on(GetRoleCommand).rejects(noEntity());
    iam.on(CreateRoleCommand).resolves({ Role: role('cloudmart-backup-role', OWN_ROLE_ARN) });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(AttachRolePolicyCommand).resolves({});
    backup.on(ListBackupPlansCommand).resolves({ BackupPlansList: [] });
    backup.on(CreateBackupPlanCommand).resolves({ BackupPlanId: 'plan-1' });
    backup.on(ListBackupSelectionsCommand).resolves({ BackupSelectionsList: [] });
    backup
      .on(CreateBackupSelectionCommand)
      .rejectsOnce(
        awsError('InvalidParameterValueException', 'IAM role cannot be assumed by AWS Backup'),
      )
      .resolves({ SelectionId: 'sel-1' });

    await backupPlanStep.create(ctx());
    expect(backup.commandCalls(CreateBackupSelectionCommand)).toHaveLength(2);
  });

  it('warns when an existing vault is encrypted with another key (it cannot be changed)', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ BackupVaultArn: VAULT_ARN, EncryptionKeyArn: 'arn:other' });
    iam
      .on(GetRoleCommand, { RoleName: 'cloudmart-backup-role' })
      .resolves({ Role: role('cloudmart-backup-role', OWN_ROLE_ARN) });
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: POLICIES.map((PolicyArn) => ({ PolicyArn })) });
    backup.on(ListBackupPlansCommand).resolves({
      BackupPlansList: [{ BackupPlanName: 'CloudMart-Daily-Backup', BackupPlanId: 'p' }],
    });
    backup
      .on(GetBackupPlanCommand)
      .resolves({ BackupPlan: { BackupPlanName: 'CloudMart-Daily-Backup', Rules: [rule] } });
    backup.on(ListBackupSelectionsCommand).resolves({
      BackupSelectionsList: [{ SelectionId: 's', SelectionName: 'cloudmart-tagged' }],
    });
    backup.on(GetBackupSelectionCommand).resolves({ BackupSelection: selection(OWN_ROLE_ARN) });
    const c = ctx();
    await backupPlanStep.create(c);
    expect(c.warnings[0]).toMatch(/cannot be changed/);
  });

  it('verify reports a drifted schedule and a missing selection', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ EncryptionKeyArn: KEY_ARN, NumberOfRecoveryPoints: 2 });
    backup.on(ListBackupPlansCommand).resolves({
      BackupPlansList: [{ BackupPlanName: 'CloudMart-Daily-Backup', BackupPlanId: 'p' }],
    });
    backup.on(GetBackupPlanCommand).resolves({
      BackupPlan: {
        BackupPlanName: 'CloudMart-Daily-Backup',
        Rules: [{ ...rule, ScheduleExpression: 'cron(0 5 * * ? *)' }],
      },
    });
    backup.on(ListBackupSelectionsCommand).resolves({ BackupSelectionsList: [] });
    const checks = await backupPlanStep.verify(ctx());
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['backup.plan.vault', 'pass'],
      ['backup.plan.rule', 'fail'],
      ['backup.plan.selection', 'fail'],
    ]);
    expect(checks[1]!.evidence).toContain('cron(0 5 * * ? *)');
  });

  it('sees a plan moved to another time zone as drift, and any spelling of UTC as none', async () => {
    backup
      .on(DescribeBackupVaultCommand)
      .resolves({ EncryptionKeyArn: KEY_ARN, NumberOfRecoveryPoints: 0 });
    backup.on(ListBackupPlansCommand).resolves({
      BackupPlansList: [{ BackupPlanName: 'CloudMart-Daily-Backup', BackupPlanId: 'p' }],
    });
    backup.on(ListBackupSelectionsCommand).resolves({ BackupSelectionsList: [] });
    const ruleCheck = async (zone: string) => {
      backup.on(GetBackupPlanCommand).resolves({
        BackupPlan: {
          BackupPlanName: 'CloudMart-Daily-Backup',
          Rules: [{ ...rule, ScheduleExpressionTimezone: zone }],
        },
      });
      return (await backupPlanStep.verify(ctx())).find((c) => c.id === 'backup.plan.rule')!;
    };
    expect(await ruleCheck('Etc/UTC')).toMatchObject({ status: 'pass' });
    expect(await ruleCheck('UTC')).toMatchObject({ status: 'pass' });
    expect(await ruleCheck('Asia/Seoul')).toMatchObject({
      status: 'fail',
      evidence: 'time zone Asia/Seoul (want Etc/UTC)',
    });
  });

  describe('teardown', () => {
    it('deletes selection, plan, every recovery point (paginated), waits for an empty vault, then vault and role', async () => {
      backup.on(ListBackupPlansCommand).resolves({
        BackupPlansList: [{ BackupPlanName: 'CloudMart-Daily-Backup', BackupPlanId: 'plan-1' }],
      });
      backup.on(ListBackupSelectionsCommand).resolves({
        BackupSelectionsList: [{ SelectionId: 'sel-1', SelectionName: 'cloudmart-tagged' }],
      });
      backup.on(DeleteBackupSelectionCommand).resolves({});
      backup.on(DeleteBackupPlanCommand).resolves({});
      backup.on(DescribeBackupVaultCommand).resolves({ BackupVaultName: 'cloudmart-vault' });
      backup
        .on(ListRecoveryPointsByBackupVaultCommand)
        .resolvesOnce({
          RecoveryPoints: [{ RecoveryPointArn: 'rp-1', Status: 'COMPLETED' }],
          NextToken: 'n',
        })
        .resolvesOnce({ RecoveryPoints: [{ RecoveryPointArn: 'rp-2', Status: 'COMPLETED' }] })
        .resolvesOnce({ RecoveryPoints: [{ RecoveryPointArn: 'rp-2', Status: 'DELETING' }] })
        .resolves({ RecoveryPoints: [] });
      backup
        .on(DeleteRecoveryPointCommand)
        .rejectsOnce(awsError('InvalidRequestException', 'backup job still running'))
        .resolves({});
      backup.on(DeleteBackupVaultCommand).resolves({});
      iam
        .on(GetRoleCommand, { RoleName: 'cloudmart-backup-role' })
        .resolves({ Role: role('cloudmart-backup-role', OWN_ROLE_ARN) });
      iam
        .on(ListAttachedRolePoliciesCommand)
        .resolves({ AttachedPolicies: POLICIES.map((PolicyArn) => ({ PolicyArn })) });
      iam.on(DetachRolePolicyCommand).resolves({});
      iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
      iam.on(DeleteRoleCommand).resolves({});

      await backupPlanStep.teardown(ctx());

      const order = [
        backup.commandCalls(DeleteBackupSelectionCommand)[0]!,
        backup.commandCalls(DeleteBackupPlanCommand)[0]!,
        backup.commandCalls(DeleteRecoveryPointCommand)[0]!,
        backup.commandCalls(DeleteBackupVaultCommand)[0]!,
      ].map(seq);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(
        backup
          .commandCalls(DeleteRecoveryPointCommand)
          .map((c) => c.args[0].input.RecoveryPointArn),
      ).toEqual(['rp-1', 'rp-1', 'rp-2']);
      expect(backup.commandCalls(DeleteBackupVaultCommand)[0]!.args[0].input).toEqual({
        BackupVaultName: 'cloudmart-vault',
      });
      // The vault was deleted only once a poll saw it empty.
      expect(backup.commandCalls(ListRecoveryPointsByBackupVaultCommand)).toHaveLength(4);
      expect(iam.commandCalls(DetachRolePolicyCommand)).toHaveLength(2);
      expect(iam.commandCalls(DeleteRoleCommand)[0]!.args[0].input).toEqual({
        RoleName: 'cloudmart-backup-role',
      });
    });

    it('keeps the vault and its recovery points, with a billing warning, when the config says so', async () => {
      backup.on(ListBackupPlansCommand).resolves({ BackupPlansList: [] });
      backup.on(DescribeBackupVaultCommand).resolves({ BackupVaultName: 'cloudmart-vault' });
      backup
        .on(ListRecoveryPointsByBackupVaultCommand)
        .resolves({ RecoveryPoints: [{ RecoveryPointArn: 'rp-1', Status: 'COMPLETED' }] });
      iam.on(GetRoleCommand).rejects(noEntity());
      const c = ctx(testConfig({ destroy: { deleteRecoveryPoints: false } }));
      await backupPlanStep.teardown(c);
      expect(backup.commandCalls(DeleteRecoveryPointCommand)).toHaveLength(0);
      expect(backup.commandCalls(DeleteBackupVaultCommand)).toHaveLength(0);
      expect(c.warnings[0]).toMatch(/keep billing/);
      expect(c.warnings[0]).toContain('destroy keeps that key too (about $1/month)');
    });

    it('treats "access denied" for a vault that is gone as deleted (a retried delete), not as a failure', async () => {
      backup.on(ListBackupPlansCommand).resolves({ BackupPlansList: [] });
      const denied = awsError('AccessDeniedException', 'Insufficient privileges', 403);
      backup
        .on(DescribeBackupVaultCommand)
        .resolvesOnce({ BackupVaultName: 'cloudmart-vault' })
        .rejects(denied);
      backup.on(ListRecoveryPointsByBackupVaultCommand).resolves({ RecoveryPoints: [] });
      backup.on(DeleteBackupVaultCommand).rejects(denied);
      backup.on(ListBackupVaultsCommand).resolves({ BackupVaultList: [] });
      iam.on(GetRoleCommand).rejects(noEntity());
      await expect(backupPlanStep.teardown(ctx())).resolves.toBeUndefined();
      expect(backup.commandCalls(DeleteBackupVaultCommand)).toHaveLength(1);
      // A vault that is still there keeps the error.
      backup.on(ListBackupVaultsCommand).resolves({
        BackupVaultList: [{ BackupVaultName: 'cloudmart-vault' }],
      });
      backup
        .on(DescribeBackupVaultCommand)
        .resolvesOnce({ BackupVaultName: 'cloudmart-vault' })
        .rejects(denied);
      await expect(backupPlanStep.teardown(ctx())).rejects.toThrow('Insufficient privileges');
    });

    it('never deletes the account default role and succeeds when everything is gone', async () => {
      backup.on(ListBackupPlansCommand).resolves({ BackupPlansList: [] });
      backup.on(DescribeBackupVaultCommand).rejects(noVault());
      iam.on(GetRoleCommand, { RoleName: 'cloudmart-backup-role' }).rejects(noEntity());
      await expect(backupPlanStep.teardown(ctx())).resolves.toBeUndefined();
      expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual([
        'cloudmart-backup-role',
      ]);
      expect(iam.commandCalls(DeleteRoleCommand)).toHaveLength(0);
    });
  });
});
