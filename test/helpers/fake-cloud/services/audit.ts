/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, page, statements, tagMap } from '../util.js';
import type { World } from '../world.js';
import { bucketByName, writeObject } from './s3.js';
import { date, usableKey } from './shared.js';

/**
 * CloudTrail (trails checked against the bucket policy, event selectors, logging that writes
 * log files into the bucket) and AWS Backup (vaults, plans, selections, recovery points).
 */

export const TRAIL = 'cloudtrail:trail';
export const VAULT = 'backup:backup-vault';
export const PLAN = 'backup:backup-plan';
export const RECOVERY_POINT = 'backup:recovery-point';

export function cloudtrailService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('cloudtrail', code, message);

  /** A trail by name or ARN; multi-region trails answer in every region. */
  function trail(region: string, nameOrArn: string): Resource {
    const r = w
      .find(TRAIL, undefined)
      .find(
        (t) =>
          (t.id === nameOrArn || t.arn === nameOrArn) &&
          (t.region === region || t.data.multiRegion === true),
      );
    if (!r)
      throw err('TrailNotFoundException', `Unknown trail: ${nameOrArn} for the user: ${w.account}`);
    return r;
  }

  function home(region: string, t: Resource): void {
    if (t.region !== region) {
      throw err(
        'InvalidHomeRegionException',
        `This operation must be called from the trail's home region ${t.region}.`,
      );
    }
  }

  /** CloudTrail checks the bucket: it must exist and let cloudtrail.amazonaws.com write. */
  function checkBucket(name: string, trailArn: string): void {
    const b = bucketByName(w, name);
    if (!b) throw err('S3BucketDoesNotExistException', `S3 bucket ${name} does not exist.`);
    const grants = (action: string) =>
      statements(b.data.policy).some((s) => {
        const principal = JSON.stringify(s.Principal ?? '');
        const actions = [s.Action].flat() as string[];
        const source = JSON.stringify(s.Condition ?? {});
        return (
          s.Effect === 'Allow' &&
          principal.includes('cloudtrail.amazonaws.com') &&
          actions.includes(action) &&
          (!source.includes('SourceArn') || source.includes(trailArn))
        );
      });
    if (!grants('s3:PutObject') || !grants('s3:GetBucketAcl')) {
      throw err(
        'InsufficientS3BucketPolicyException',
        `Incorrect S3 bucket policy is detected for bucket: ${name}`,
      );
    }
  }

  function shape(t: Resource): In {
    const d = t.data;
    return {
      Name: t.id,
      S3BucketName: d.bucket,
      ...(d.prefix ? { S3KeyPrefix: d.prefix } : {}),
      IncludeGlobalServiceEvents: d.globalEvents === true,
      IsMultiRegionTrail: d.multiRegion === true,
      HomeRegion: t.region,
      TrailARN: t.arn,
      LogFileValidationEnabled: d.validation === true,
      ...(d.kmsKeyId ? { KmsKeyId: d.kmsKeyId } : {}),
      HasCustomEventSelectors: d.customSelectors === true,
      HasInsightSelectors: false,
      IsOrganizationTrail: false,
    };
  }

  /**
   * What CreateTrail and UpdateTrail answer: the trail's settings without HomeRegion and the
   * selector flags, which only DescribeTrails and GetTrail carry (CreateTrailResponse).
   */
  function changed(t: Resource): In {
    const { HomeRegion, HasCustomEventSelectors, HasInsightSelectors, ...rest } = shape(t);
    void HomeRegion;
    void HasCustomEventSelectors;
    void HasInsightSelectors;
    return rest;
  }

  /** CloudTrail delivers log files (and digests, with validation on) as it runs. */
  function deliver(t: Resource): void {
    const b = bucketByName(w, t.data.bucket as string);
    if (!b) return;
    const day = new Date(w.now()).toISOString().slice(0, 10).replace(/-/g, '/');
    const stamp = new Date(w.now()).toISOString().replace(/[-:]/g, '').slice(0, 13) + 'Z';
    const base = `${t.data.prefix ? `${String(t.data.prefix)}/` : ''}AWSLogs/${w.account}`;
    writeObject(
      w,
      b,
      `${base}/CloudTrail/${t.region}/${day}/${w.account}_CloudTrail_${t.region}_${stamp}_${w.rng.chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}.json.gz`,
      '{"Records":[]}',
    );
    if (t.data.validation) {
      writeObject(
        w,
        b,
        `${base}/CloudTrail-Digest/${t.region}/${day}/${w.account}_CloudTrail-Digest_${t.region}_${t.id}_${t.region}_${stamp}.json.gz`,
        '{}',
      );
    }
    t.data.lastDelivery = w.now();
  }

  return {
    service: 'cloudtrail',
    handlers: {
      CreateTrail(ctx, input) {
        const name = input.Name as string;
        if (w.find(TRAIL, undefined, (t) => t.id === name).length > 0) {
          throw err(
            'TrailAlreadyExistsException',
            `Trail ${name} already exists for customer: ${w.account}`,
          );
        }
        // 5 trails per region, a multi-region trail counting in every region (CloudTrail quotas).
        const inRegion = w.find(
          TRAIL,
          undefined,
          (t) => t.region === ctx.region || t.data.multiRegion === true,
        );
        if (inRegion.length >= 5) {
          throw err(
            'MaximumNumberOfTrailsExceededException',
            'User: ' + w.account + ' already has 5 trails in ' + ctx.region + '.',
          );
        }
        if (input.IsMultiRegionTrail && input.IncludeGlobalServiceEvents === false) {
          throw err(
            'InvalidParameterCombinationException',
            'Multi-Region trail must include global service events.',
          );
        }
        const arn = w.arn('cloudtrail', ctx.region, `trail/${name}`);
        checkBucket(input.S3BucketName as string, arn);
        if (input.KmsKeyId && !usableKey(w, ctx.region, input.KmsKeyId as string))
          throw err('KmsKeyNotFoundException', 'KMS key not found');
        const t = w.add({
          service: 'cloudtrail',
          type: TRAIL,
          region: ctx.region,
          id: name,
          arn,
          name,
          tags: tagMap(input.TagsList),
          state: 'available',
          data: {
            bucket: input.S3BucketName,
            prefix: input.S3KeyPrefix,
            globalEvents: input.IncludeGlobalServiceEvents !== false,
            multiRegion: input.IsMultiRegionTrail === true,
            validation: input.EnableLogFileValidation === true,
            kmsKeyId: input.KmsKeyId,
            logging: false,
            selectors: [
              {
                ReadWriteType: 'All',
                IncludeManagementEvents: true,
                DataResources: [],
                ExcludeManagementEventSources: [],
              },
            ],
          },
        });
        return changed(t);
      },
      GetTrail(ctx, input) {
        return { Trail: shape(trail(ctx.region, input.Name as string)) };
      },
      DescribeTrails(ctx, input) {
        const names = input.trailNameList as string[] | undefined;
        const list = w.find(
          TRAIL,
          undefined,
          (t) =>
            (t.region === ctx.region || t.data.multiRegion === true) &&
            (!names?.length || names.includes(t.id) || names.includes(t.arn!)),
        );
        return { trailList: list.map(shape) };
      },
      UpdateTrail(ctx, input) {
        const t = trail(ctx.region, input.Name as string);
        home(ctx.region, t);
        if (input.S3BucketName !== undefined) {
          checkBucket(input.S3BucketName as string, t.arn!);
          t.data.bucket = input.S3BucketName;
        }
        if (input.IsMultiRegionTrail !== undefined) t.data.multiRegion = input.IsMultiRegionTrail;
        if (input.IncludeGlobalServiceEvents !== undefined)
          t.data.globalEvents = input.IncludeGlobalServiceEvents;
        if (input.EnableLogFileValidation !== undefined)
          t.data.validation = input.EnableLogFileValidation;
        if (input.S3KeyPrefix !== undefined) t.data.prefix = input.S3KeyPrefix;
        return changed(t);
      },
      DeleteTrail(ctx, input) {
        const t = trail(ctx.region, input.Name as string);
        home(ctx.region, t);
        w.remove(t);
        return {};
      },
      GetTrailStatus(ctx, input) {
        const t = trail(ctx.region, input.Name as string);
        return {
          IsLogging: t.data.logging === true,
          ...(t.data.startedAt ? { StartLoggingTime: date(t.data.startedAt as number) } : {}),
          ...(t.data.stoppedAt ? { StopLoggingTime: date(t.data.stoppedAt as number) } : {}),
          ...(t.data.lastDelivery
            ? { LatestDeliveryTime: date(t.data.lastDelivery as number) }
            : {}),
        };
      },
      StartLogging(ctx, input) {
        const t = trail(ctx.region, input.Name as string);
        home(ctx.region, t);
        t.data.logging = true;
        t.data.startedAt = w.now();
        deliver(t);
        return {};
      },
      StopLogging(ctx, input) {
        const t = trail(ctx.region, input.Name as string);
        home(ctx.region, t);
        if (t.data.logging) deliver(t);
        t.data.logging = false;
        t.data.stoppedAt = w.now();
        return {};
      },
      GetEventSelectors(ctx, input) {
        const t = trail(ctx.region, input.TrailName as string);
        return { TrailARN: t.arn, EventSelectors: clone(t.data.selectors) };
      },
      PutEventSelectors(ctx, input) {
        const t = trail(ctx.region, input.TrailName as string);
        home(ctx.region, t);
        const selectors = (input.EventSelectors ?? []) as In[];
        for (const s of selectors) {
          for (const d of (s.DataResources ?? []) as In[]) {
            if (
              d.Type === 'AWS::S3::Object' &&
              !(d.Values as string[]).every((v) => /^arn:aws:s3:::([a-z0-9.-]+\/.*)?$/.test(v))
            ) {
              throw err(
                'InvalidEventSelectorsException',
                `Value ${String(d.Values)} for parameter DataResources.Values is invalid.`,
              );
            }
          }
        }
        t.data.selectors = clone(selectors);
        t.data.customSelectors = true;
        return { TrailARN: t.arn, EventSelectors: clone(selectors) };
      },
      ListTags(ctx, input) {
        return {
          ResourceTagList: ((input.ResourceIdList ?? []) as string[]).map((arn) => ({
            ResourceId: arn,
            TagsList: Object.entries(trail(ctx.region, arn).tags).map(([Key, Value]) => ({
              Key,
              Value,
            })),
          })),
        };
      },
    },
  };
}

export function backupService(w: World): ServiceModule {
  const err = (code: string, message: string, status?: number) =>
    w.error('backup', code, message, status);

  const vault = (region: string, name: string): Resource => {
    const r = w.live(VAULT, region, name);
    if (!r) throw err('ResourceNotFoundException', `Backup vault ${name} not found`);
    return r;
  };
  const plan = (region: string, id: string): Resource => {
    const r = w.live(PLAN, region, id);
    if (!r || r.data.deletionDate)
      throw err('ResourceNotFoundException', `Failed reading Backup plan with provided version`);
    return r;
  };

  function rules(plan: Resource): In[] {
    return (plan.data.rules as In[]).map((r) => clone(r));
  }

  function withIds(input: In[]): In[] {
    return (input ?? []).map((r) => ({
      ...clone(r),
      RuleId: w.rng.uuid(),
      // AWS keeps the zone it is given; without one the schedule is in UTC (BackupRuleInput).
      ScheduleExpressionTimezone: (r.ScheduleExpressionTimezone as string | undefined) ?? 'Etc/UTC',
    }));
  }

  return {
    service: 'backup',
    handlers: {
      CreateBackupVault(ctx, input) {
        const name = input.BackupVaultName as string;
        if (w.live(VAULT, ctx.region, name))
          throw err('AlreadyExistsException', `Backup vault with the same name already exists`);
        if (input.EncryptionKeyArn && !usableKey(w, ctx.region, input.EncryptionKeyArn as string)) {
          throw err(
            'InvalidParameterValueException',
            `Invalid EncryptionKeyArn ${String(input.EncryptionKeyArn)}`,
          );
        }
        const r = w.add({
          service: 'backup',
          type: VAULT,
          region: ctx.region,
          id: name,
          arn: w.arn('backup', ctx.region, `backup-vault:${name}`),
          name,
          tags: { ...((input.BackupVaultTags ?? {}) as Record<string, string>) },
          state: 'available',
          data: {
            encryptionKeyArn:
              input.EncryptionKeyArn ?? w.arn('kms', ctx.region, 'key/aws-backup-default'),
            creatorRequestId: input.CreatorRequestId,
          },
        });
        return { BackupVaultName: name, BackupVaultArn: r.arn, CreationDate: date(r.createdAt) };
      },
      DescribeBackupVault(ctx, input) {
        // Like AWS: a vault that does not exist is "access denied", not "not found".
        const name = input.BackupVaultName as string;
        if (!w.live(VAULT, ctx.region, name))
          throw err(
            'AccessDeniedException',
            'Insufficient privileges to perform this action.',
            403,
          );
        const r = vault(ctx.region, name);
        return {
          BackupVaultName: r.id,
          BackupVaultArn: r.arn,
          EncryptionKeyArn: r.data.encryptionKeyArn,
          CreationDate: date(r.createdAt),
          CreatorRequestId: r.data.creatorRequestId,
          NumberOfRecoveryPoints: w.find(RECOVERY_POINT, ctx.region, (p) => p.data.vault === r.id)
            .length,
          Locked: false,
          VaultType: 'BACKUP_VAULT',
          VaultState: 'AVAILABLE',
        };
      },
      DeleteBackupVault(ctx, input) {
        const r = vault(ctx.region, input.BackupVaultName as string);
        if (w.find(RECOVERY_POINT, ctx.region, (p) => p.data.vault === r.id).length > 0) {
          throw err(
            'InvalidRequestException',
            'Backup vault cannot be deleted because it contains recovery points.',
          );
        }
        w.remove(r);
        return {};
      },
      CreateBackupPlan(ctx, input) {
        const scope = `backup:${ctx.region}:plan`;
        const params = input.BackupPlan;
        const again = w.idempotent(
          scope,
          input.CreatorRequestId as string | undefined,
          params,
          () => err('AlreadyExistsException', 'CreatorRequestId reused with a different plan'),
        );
        if (again && w.live(PLAN, ctx.region, again)) {
          const p = w.live(PLAN, ctx.region, again)!;
          return {
            BackupPlanId: p.id,
            BackupPlanArn: p.arn,
            CreationDate: date(p.createdAt),
            VersionId: p.data.versionId,
          };
        }
        for (const rule of (input.BackupPlan?.Rules ?? []) as In[])
          vault(ctx.region, rule.TargetBackupVaultName as string);
        const id = w.rng.uuid();
        const r = w.add({
          service: 'backup',
          type: PLAN,
          region: ctx.region,
          id,
          arn: w.arn('backup', ctx.region, `backup-plan:${id}`),
          name: input.BackupPlan?.BackupPlanName,
          tags: { ...((input.BackupPlanTags ?? {}) as Record<string, string>) },
          state: 'available',
          data: {
            versionId: w.rng
              .chars(32, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')
              .slice(0, 32),
            rules: withIds(input.BackupPlan?.Rules as In[]),
            selections: [],
          },
        });
        w.rememberToken(scope, input.CreatorRequestId as string | undefined, params, id);
        return {
          BackupPlanId: id,
          BackupPlanArn: r.arn,
          CreationDate: date(r.createdAt),
          VersionId: r.data.versionId,
        };
      },
      ListBackupVaults(ctx, input) {
        const p = page(
          w.all(VAULT, ctx.region),
          input.NextToken as string | undefined,
          input.MaxResults as number | undefined,
          1000,
        );
        return {
          BackupVaultList: p.items.map((r) => ({
            BackupVaultName: r.id,
            BackupVaultArn: r.arn,
            EncryptionKeyArn: r.data.encryptionKeyArn,
            CreationDate: date(r.createdAt),
            NumberOfRecoveryPoints: w.find(RECOVERY_POINT, ctx.region, (x) => x.data.vault === r.id)
              .length,
            VaultType: 'BACKUP_VAULT',
            VaultState: 'AVAILABLE',
          })),
          ...(p.next ? { NextToken: p.next } : {}),
        };
      },
      ListBackupPlans(ctx, input) {
        const list = w
          .all(PLAN, ctx.region)
          .filter((p) => input.IncludeDeleted || !p.data.deletionDate);
        const p = page(
          list,
          input.NextToken as string | undefined,
          input.MaxResults as number | undefined,
          1000,
        );
        return {
          BackupPlansList: p.items.map((x) => ({
            BackupPlanArn: x.arn,
            BackupPlanId: x.id,
            BackupPlanName: x.name,
            CreationDate: date(x.createdAt),
            ...(x.data.deletionDate ? { DeletionDate: date(x.data.deletionDate as number) } : {}),
            VersionId: x.data.versionId,
          })),
          ...(p.next ? { NextToken: p.next } : {}),
        };
      },
      GetBackupPlan(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        return {
          BackupPlan: { BackupPlanName: r.name, Rules: rules(r) },
          BackupPlanId: r.id,
          BackupPlanArn: r.arn,
          VersionId: r.data.versionId,
          CreationDate: date(r.createdAt),
        };
      },
      UpdateBackupPlan(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        for (const rule of (input.BackupPlan?.Rules ?? []) as In[])
          vault(ctx.region, rule.TargetBackupVaultName as string);
        r.data.rules = withIds(input.BackupPlan?.Rules as In[]);
        if (input.BackupPlan?.BackupPlanName) r.name = input.BackupPlan.BackupPlanName as string;
        r.data.versionId = w.rng.chars(32, 'abcdefghijklmnopqrstuvwxyz0123456789');
        return { BackupPlanId: r.id, BackupPlanArn: r.arn, VersionId: r.data.versionId };
      },
      DeleteBackupPlan(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        if ((r.data.selections as In[]).length > 0) {
          throw err(
            'InvalidRequestException',
            'Related backup plan selections must be deleted prior to backup plan deletion.',
          );
        }
        r.data.deletionDate = w.now();
        r.gone = true;
        r.state = 'deleted';
        return {
          BackupPlanId: r.id,
          BackupPlanArn: r.arn,
          DeletionDate: date(w.now()),
          VersionId: r.data.versionId,
        };
      },
      CreateBackupSelection(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        const sel = input.BackupSelection ?? {};
        const roleName =
          String(sel.IamRoleArn ?? '')
            .split('/')
            .pop() ?? '';
        const role = w.live('iam:role', 'us-east-1', roleName);
        if (!role || w.now() - role.createdAt < w.t('iamPropagation')) {
          throw err(
            'InvalidParameterValueException',
            `IAM Role ${String(sel.IamRoleArn)} is not authorized to call tag:GetResources`,
          );
        }
        const selections = r.data.selections as In[];
        const scope = `backup:${ctx.region}:selection:${r.id}`;
        const again = w.idempotent(scope, input.CreatorRequestId as string | undefined, sel, () =>
          err('AlreadyExistsException', 'CreatorRequestId reused'),
        );
        const prior = again ? selections.find((s) => s.SelectionId === again) : undefined;
        if (prior)
          return {
            SelectionId: prior.SelectionId,
            BackupPlanId: r.id,
            CreationDate: date(prior.createdAt as number),
          };
        const id = w.rng.uuid();
        selections.push({
          SelectionId: id,
          selection: clone(sel),
          createdAt: w.now(),
          creatorRequestId: input.CreatorRequestId,
        });
        w.rememberToken(scope, input.CreatorRequestId as string | undefined, sel, id);
        return { SelectionId: id, BackupPlanId: r.id, CreationDate: date(w.now()) };
      },
      ListBackupSelections(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        return {
          BackupSelectionsList: (r.data.selections as In[]).map((s) => ({
            SelectionId: s.SelectionId,
            SelectionName: s.selection.SelectionName,
            BackupPlanId: r.id,
            CreationDate: date(s.createdAt as number),
            IamRoleArn: s.selection.IamRoleArn,
          })),
        };
      },
      GetBackupSelection(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        const s = (r.data.selections as In[]).find((x) => x.SelectionId === input.SelectionId);
        if (!s)
          throw err(
            'ResourceNotFoundException',
            `Backup selection ${String(input.SelectionId)} not found`,
          );
        return {
          BackupSelection: clone(s.selection),
          SelectionId: s.SelectionId,
          BackupPlanId: r.id,
          CreationDate: date(s.createdAt as number),
        };
      },
      DeleteBackupSelection(ctx, input) {
        const r = plan(ctx.region, input.BackupPlanId as string);
        const selections = r.data.selections as In[];
        if (!selections.some((x) => x.SelectionId === input.SelectionId)) {
          throw err(
            'ResourceNotFoundException',
            `Backup selection ${String(input.SelectionId)} not found`,
          );
        }
        r.data.selections = selections.filter((x) => x.SelectionId !== input.SelectionId);
        return {};
      },
      ListRecoveryPointsByBackupVault(ctx, input) {
        const v = vault(ctx.region, input.BackupVaultName as string);
        const list = w.find(RECOVERY_POINT, ctx.region, (p) => p.data.vault === v.id);
        const p = page(
          list,
          input.NextToken as string | undefined,
          input.MaxResults as number | undefined,
          1000,
        );
        return {
          RecoveryPoints: p.items.map((x) => ({
            RecoveryPointArn: x.arn,
            BackupVaultName: v.id,
            BackupVaultArn: v.arn,
            ResourceArn: x.data.resourceArn,
            ResourceType: x.data.resourceType,
            Status: x.state,
            CreationDate: date(x.createdAt),
          })),
          ...(p.next ? { NextToken: p.next } : {}),
        };
      },
      DeleteRecoveryPoint(ctx, input) {
        const v = vault(ctx.region, input.BackupVaultName as string);
        const p = w.find(
          RECOVERY_POINT,
          ctx.region,
          (x) => x.arn === input.RecoveryPointArn && x.data.vault === v.id,
        )[0];
        if (!p)
          throw err(
            'ResourceNotFoundException',
            `Recovery point ${String(input.RecoveryPointArn)} not found`,
          );
        if (p.state === 'CREATING')
          throw err('InvalidResourceStateException', 'Recovery point is still being created.');
        p.state = 'DELETING';
        w.schedule(p, w.t('quick'), { remove: true });
        return {};
      },
    },
  };
}

/** A recovery point in a vault, as a finished backup job leaves it (for tests of teardown). */
export function addRecoveryPoint(
  w: World,
  region: string,
  vaultName: string,
  resourceArn: string,
  resourceType = 'EC2',
): Resource {
  const id = w.rng.uuid();
  return w.add({
    service: 'backup',
    type: RECOVERY_POINT,
    region,
    id,
    arn:
      resourceType === 'EC2'
        ? w.arn('ec2', region, `snapshot/snap-0${w.rng.hex(16)}`)
        : w.arn('backup', region, `recovery-point:${id}`),
    state: 'COMPLETED',
    owner: vaultName,
    data: { vault: vaultName, resourceArn, resourceType },
  });
}
