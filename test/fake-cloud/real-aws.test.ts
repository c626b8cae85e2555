import { afterEach, describe, expect, it } from 'vitest';
import { runDestroy, runUp } from '../../src/engine/engine.js';
import type { Step } from '../../src/engine/step.js';
import { STEP } from '../../src/steps/outputs.js';
import { registry } from '../../src/steps/registry.js';
import { testConfig } from '../helpers/context.js';
import { engineFor } from '../helpers/engine.js';
import { awsError, FakeCloud, type FakeCloudMode } from '../helpers/fake-cloud/index.js';

/**
 * What real AWS does that would break `up` or `destroy` on a fresh account (issue 14), played
 * against the fake cloud, which behaves the same way.
 */
const STEPS: Step[] = registry.filter((s) => s.phase <= 4);
const DR = 'ap-northeast-1';

type ConfigOverrides = Parameters<typeof testConfig>[0];

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

async function setUp(mode: FakeCloudMode, overrides: ConfigOverrides = {}, steps = STEPS) {
  cloud = await new FakeCloud({ mode }).install();
  const engine = await engineFor(steps);
  const config = testConfig(overrides);
  Object.assign(engine.options, { config, sleep: cloud.sleep, now: cloud.now });
  return { cloud, config, ...engine };
}

function failures(result: { errors: Map<string, Error> }): string {
  return [...result.errors].map(([id, e]) => `${id}: ${e.message}`).join('\n');
}

describe('RDS automated-backup replication on teardown', () => {
  it('a denied replication stop does not keep the database billing; the next destroy deletes the copies RDS retained', async () => {
    const { cloud, options, config, events } = await setUp('instant');
    expect(failures(await runUp(options))).toBe('');
    const denied = cloud.onCall((c) => {
      if (c.phase === 'before' && c.command === 'StopDBInstanceAutomatedBackupsReplication')
        throw awsError('rds', 'AccessDenied', 'not authorized to perform this action', 403);
    });

    const first = await runDestroy(options);

    expect(first.failed).toEqual([STEP.rdsBackup]);
    expect(first.skipped).toEqual([]);
    // The Multi-AZ instance, its subnets, the VPC: gone.
    for (const type of ['rds:db', 'rds:subgrp', 'ec2:subnet', 'ec2:vpc', 'ec2:natgateway']) {
      expect(cloud.resources({ type, live: true }), type).toEqual([]);
    }
    expect(
      events.some(
        (e) =>
          e.type === 'warning' &&
          e.id === STEP.rds &&
          e.message.includes(`although ${STEP.rdsBackup} could not be`),
      ),
    ).toBe(true);
    // Deleting the source ended the replication; RDS keeps the copies until someone deletes them.
    expect(cloud.resources({ type: 'rds:auto-backup', region: DR }).map((r) => r.state)).toEqual([
      'retained',
    ]);

    denied();
    const second = await runDestroy(options);
    expect(failures(second)).toBe('');
    expect(cloud.leftovers(config.stack).filter((l) => !l.kept)).toEqual([]);
  });

  it('takes the final snapshot once the instance is available again after the stop, in title-case statuses', async () => {
    const { cloud, options } = await setUp('virtual', { destroy: { finalSnapshot: true } });
    // Waiting for what up hands off (as up --drills does), so the replication is running.
    expect(failures(await runUp({ ...options, awaitSettling: true }))).toBe('');
    const replica = cloud.resources({ type: 'rds:auto-backup', region: DR });
    expect(replica.map((r) => r.state)).toEqual(['replicating']);

    const destroy = await runDestroy(options);

    expect(failures(destroy)).toBe('');
    const stops = cloud.calls.filter(
      (c) => c.command === 'StopDBInstanceAutomatedBackupsReplication',
    );
    expect(stops.map((c) => c.error ?? 'ok')).toEqual(['ok']);
    const deletes = cloud.calls.filter((c) => c.command === 'DeleteDBInstance');
    expect(deletes.at(-1)?.error).toBeUndefined();
    expect(deletes.at(-1)?.seq).toBeGreaterThan(stops[0]!.seq);
    const snapshots = cloud.resources({ type: 'rds:snapshot', live: true });
    expect(snapshots.map((s) => s.id)).toEqual([
      expect.stringMatching(/^cloudmart-db-final-\d{14}$/),
    ]);
  });

  it('counts "not replicating to the current region" on stop as stopped', async () => {
    const { cloud, options, config } = await setUp('instant');
    expect(failures(await runUp(options))).toBe('');
    // The replication ends between the listing and the stop (another destroy, the console).
    cloud.onCall((c) => {
      if (c.phase !== 'before' || c.command !== 'StopDBInstanceAutomatedBackupsReplication') return;
      for (const r of cloud.resources({ type: 'rds:auto-backup', region: DR })) {
        cloud.resource(r.type, r.region, r.id)!.state = 'retained';
      }
      throw awsError(
        'rds',
        'InvalidDBInstanceStateFault',
        `Automated backups for the DB instance ${config.stack}-db are not replicating to the current region.`,
      );
    });

    const destroy = await runDestroy(options);

    expect(failures(destroy)).toBe('');
    expect(cloud.leftovers(config.stack).filter((l) => !l.kept)).toEqual([]);
  });
});
