import type { DBSnapshot, RDSClient } from '@aws-sdk/client-rds';
import { ignoreNotFound, isNotFound } from '../../aws/errors.js';
import { STACK_TAG, tagValue } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import { defineStep, settleLater, type Check } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { STEP, type RdsOutputs } from '../outputs.js';

const rdsSdk = () => import('@aws-sdk/client-rds');

/** The tag that records how long the manual snapshot is meant to be kept. */
export const RETENTION_TAG = 'cloudmart:retention-days';

export interface RdsSnapshotOutputs {
  snapshotIdentifier: string;
  snapshotArn: string;
  dbInstanceIdentifier: string;
  retentionDays: number;
  [k: string]: unknown;
}

async function findSnapshot(rds: RDSClient, name: string): Promise<DBSnapshot | undefined> {
  const { DescribeDBSnapshotsCommand } = await rdsSdk();
  return (
    await ignoreNotFound(rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: name })))
  )?.DBSnapshots?.[0];
}

const DAY_MS = 86_400_000;

export const rdsSnapshotStep = defineStep<RdsSnapshotOutputs>({
  id: STEP.rdsSnapshot,
  phase: 3,
  title: 'RDS manual snapshot',
  needs: [STEP.rds],
  // The seed's cleanup order: trail, alarms, dashboard, Backup plan, then RDS snapshots.
  cleanupRank: 5,
  actions: [
    'rds:DescribeDBSnapshots',
    'rds:CreateDBSnapshot',
    'rds:AddTagsToResource',
    'rds:DeleteDBSnapshot',
  ],
  describe: (config) => [
    `Manual RDS snapshot ${config.database.snapshotName}, tagged ${RETENTION_TAG}=${config.database.snapshotRetentionDays}` +
      (config.destroy.deleteManualSnapshots
        ? ' (deleted by destroy)'
        : ' (kept by destroy, and with it the stack KMS key it is encrypted with)'),
  ],

  discover: {
    what: 'RDS manual snapshot',
    keeps: (_aws, config, listed) => {
      const id = listed.arn.split(':').slice(6).join(':');
      return Promise.resolve(
        listed.type === 'rds:snapshot' &&
          id === config.database.snapshotName.toLowerCase() &&
          !config.destroy.deleteManualSnapshots
          ? `manual snapshot ${id} kept on purpose (destroy.deleteManualSnapshots: false); it bills until you delete it`
          : undefined,
      );
    },
  },
  async create(ctx) {
    const { AddTagsToResourceCommand, CreateDBSnapshotCommand } = await rdsSdk();
    const { snapshotName: name, snapshotRetentionDays: days } = ctx.config.database;
    const id = ctx.outputs<RdsOutputs>(STEP.rds).dbInstanceIdentifier;
    const rds = await ctx.aws.get('rds');

    let snapshot = await findSnapshot(rds, name);
    if (snapshot && snapshot.DBInstanceIdentifier !== id) {
      throw new CloudmartError(
        'AWS_ERROR',
        `RDS snapshot ${name} already exists but is a snapshot of ${snapshot.DBInstanceIdentifier ?? 'another instance'}, not ${id}`,
        {
          hint: 'Set database.snapshotName to another name in the config, then run the command again.',
        },
      );
    }
    if (!snapshot) {
      ctx.progress(`creating RDS snapshot ${name} of ${id}`);
      // RDS refuses a snapshot while the instance is modifying or taking its own backup.
      const out = await retryWhile(
        ctx,
        () =>
          rds.send(
            new CreateDBSnapshotCommand({
              DBSnapshotIdentifier: name,
              DBInstanceIdentifier: id,
              Tags: ctx.tags.list(name, { [RETENTION_TAG]: String(days) }),
            }),
          ),
        {
          what: `RDS snapshot ${name}`,
          when: (e) => /InvalidDBInstanceState/i.test((e as Error).name),
          minDelayMs: 10_000,
          timeoutMs: 30 * 60_000,
        },
      );
      snapshot = out.DBSnapshot;
    } else if (
      tagValue(snapshot.TagList, RETENTION_TAG) !== String(days) &&
      snapshot.DBSnapshotArn
    ) {
      await rds.send(
        new AddTagsToResourceCommand({
          ResourceName: snapshot.DBSnapshotArn,
          Tags: [{ Key: RETENTION_TAG, Value: String(days) }],
        }),
      );
    }

    // Nothing later needs the snapshot finished: the wait runs off the critical path (verify
    // scores the snapshot only once it is available).
    if (snapshot?.Status !== 'available') {
      await settleLater(ctx, `RDS snapshot ${name} to be available`, () =>
        waitUntil(
          ctx,
          async () => {
            const live = await findSnapshot(rds, name);
            snapshot = live ?? snapshot;
            const status = live?.Status ?? 'creating';
            return {
              done: status === 'available',
              failed: status === 'failed' ? status : undefined,
              status: `${status} ${live?.PercentProgress ?? 0}%`,
            };
          },
          { what: `RDS snapshot ${name}`, minDelayMs: 5_000, timeoutMs: 60 * 60_000 },
        ),
      );
    }

    return {
      snapshotIdentifier: name,
      snapshotArn: snapshot?.DBSnapshotArn ?? '',
      dbInstanceIdentifier: id,
      retentionDays: days,
    };
  },

  async verify(ctx) {
    const { snapshotName: name, snapshotRetentionDays: days } = ctx.config.database;
    const snapshot = await findSnapshot(await ctx.aws.get('rds'), name);
    const checks: Check[] = [
      {
        id: 'backup.rds-snapshot.available',
        title: `Manual snapshot ${name} available`,
        criterion: 'backup',
        status: snapshot?.Status === 'available' ? 'pass' : snapshot ? 'warn' : 'fail',
        evidence: snapshot
          ? `${name} of ${snapshot.DBInstanceIdentifier ?? '?'}: ${snapshot.Status ?? '?'} ${snapshot.PercentProgress ?? 0}%, created ${snapshot.SnapshotCreateTime?.toISOString() ?? '?'}`
          : `no snapshot ${name}`,
        fix: 'cloudmart up --phase 3',
      },
    ];
    if (snapshot) {
      const tagged = tagValue(snapshot.TagList, RETENTION_TAG);
      const created = snapshot.SnapshotCreateTime?.getTime();
      const expired = created !== undefined && ctx.now() - created > days * DAY_MS;
      checks.push({
        id: 'backup.rds-snapshot.retention',
        title: `Manual snapshot tagged for ${days}-day retention`,
        criterion: 'backup',
        status: tagged !== String(days) || expired ? 'warn' : 'pass',
        evidence: `${RETENTION_TAG}=${tagged ?? 'missing'}${expired ? `; older than ${days} days` : ''}`,
        fix: expired
          ? `The snapshot is past its retention: delete it (cloudmart destroy, or aws rds delete-db-snapshot --db-snapshot-identifier ${name}).`
          : 'cloudmart up --phase 3',
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteDBSnapshotCommand } = await rdsSdk();
    const name = ctx.config.database.snapshotName;
    const rds = await ctx.aws.get('rds');
    const snapshot = await findSnapshot(rds, name);
    if (!snapshot) return;
    // The name is the seed's (cloudmart-db-snapshot-day5): a student may well have taken it by
    // hand. Only a snapshot this stack tagged at creation is deleted.
    const owner = tagValue(snapshot.TagList, STACK_TAG);
    if (owner !== ctx.config.stack) {
      ctx.warn(
        `Left RDS snapshot ${name}: it is not tagged ${STACK_TAG}=${ctx.config.stack} (${owner === undefined ? 'no stack tag: someone made it by hand' : `tagged for stack "${owner}"`}), so destroy does not delete it. Delete it yourself if it is no longer needed (aws rds delete-db-snapshot --db-snapshot-identifier ${name}).`,
      );
      return;
    }
    if (!ctx.config.destroy.deleteManualSnapshots) {
      ctx.warn(
        `Kept the manual RDS snapshot ${name} (destroy.deleteManualSnapshots is false): its storage keeps billing until you delete it. ` +
          `It is encrypted with the stack KMS key, so destroy keeps that key too (about $1/month) to keep the snapshot restorable; delete the snapshot first, then schedule the key's deletion (destroy prints the command).`,
      );
      return;
    }
    ctx.progress(`deleting RDS snapshot ${name}`);
    try {
      // A snapshot still being created cannot be deleted yet.
      await retryWhile(
        ctx,
        () => rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: name })),
        {
          what: `deleting RDS snapshot ${name}`,
          when: (e) => /InvalidDBSnapshotState/i.test((e as Error).name),
          minDelayMs: 5_000,
          timeoutMs: 60 * 60_000,
        },
      );
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    await waitUntil(
      ctx,
      async () => {
        const live = await findSnapshot(rds, name);
        return { done: !live, status: live?.Status ?? 'deleted' };
      },
      { what: `RDS snapshot ${name} to be deleted`, timeoutMs: 30 * 60_000 },
    );
  },
});
