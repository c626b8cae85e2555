import { afterEach, describe, expect, it } from 'vitest';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { runDestroy, runUp, runVerify } from '../../src/engine/engine.js';
import type { Step } from '../../src/engine/step.js';
import type { CloudmartError } from '../../src/errors.js';
import { STEP } from '../../src/steps/outputs.js';
import { registry } from '../../src/steps/registry.js';
import { TestAws, testConfig } from '../helpers/context.js';
import { engineFor } from '../helpers/engine.js';
import {
  awsError,
  FakeCloud,
  faults,
  type FakeCloudMode,
  type Timings,
} from '../helpers/fake-cloud/index.js';

/**
 * What real AWS does that would break `up` or `destroy` on a fresh account (issue 14), played
 * against the fake cloud, which behaves the same way.
 */
const STEPS: Step[] = registry.filter((s) => s.phase <= 4);
const DR = 'ap-northeast-1';

type ConfigOverrides = Parameters<typeof testConfig>[0];

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

async function setUp(
  mode: FakeCloudMode,
  overrides: ConfigOverrides = {},
  timings: Partial<Timings> = {},
  startAt?: number,
) {
  cloud = await new FakeCloud({ mode, timings, ...(startAt ? { startAt } : {}) }).install();
  const engine = await engineFor(STEPS);
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
      expect(cloud.resources({ type, live: true, system: false }), type).toEqual([]);
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

describe('IAM and ACM are eventually consistent', () => {
  it('up waits out NoSuchEntity on a role just created and CertificateNotFound on a certificate just issued', async () => {
    // ELB learns of a certificate some time after ACM issues it (AWS: seconds to a minute). When
    // the first listener is asked for depends on how the steps interleave on the virtual clock,
    // which moves whenever the cloud is quiet for a moment (a busy machine makes it jump further
    // between two calls): so the test does not bet on a race. ELB is made to learn of the
    // certificate only 60 s after the first HTTPS listener is asked for, which AWS may do too.
    const { cloud, options } = await setUp(
      'virtual',
      { dns: { domain: 'shop.example.com', createHostedZone: true } },
      { acmToElb: 60_000 },
    );
    let first = true;
    cloud.onCall((c) => {
      const input = c.input as { Protocol?: string; Certificates?: { CertificateArn: string }[] };
      if (c.phase !== 'before' || c.command !== 'CreateListener' || input.Protocol !== 'HTTPS')
        return;
      if (!first) return;
      first = false;
      for (const { CertificateArn } of input.Certificates ?? []) {
        const cert = cloud.resource('acm:certificate', c.region, CertificateArn);
        if (cert) cert.data.issuedAt = cloud.now();
      }
    });
    const up = await runUp({ ...options, steps: STEPS.filter((s) => s.phase === 1) });
    expect(failures(up)).toBe('');
    const refused = (command: string, error: string) =>
      cloud.calls.filter((c) => c.command === command && c.error === error).length;
    // AWS said so, and the steps waited: the listener and the role are in place.
    expect(refused('AddRoleToInstanceProfile', 'NoSuchEntityException')).toBeGreaterThan(0);
    expect(refused('CreateListener', 'CertificateNotFoundException')).toBeGreaterThan(0);
    expect(cloud.resources({ type: 'elasticloadbalancing:listener', live: true })).toHaveLength(2);
  });
});

describe('RDS right after ModifyDBInstance', () => {
  it('a second up converges an adopted instance and returns only once RDS shows the change, not on the old "available" it still answers', async () => {
    const { cloud, options, config, store } = await setUp('virtual');
    const ids = [STEP.kms, STEP.vpc, STEP.subnets, STEP.securityGroups, STEP.rds];
    const steps = STEPS.filter((s) => ids.includes(s.id as never));
    expect(failures(await runUp({ ...options, steps }))).toBe('');
    // An instance someone made without the RDS-managed password and turned single-AZ.
    const db = cloud.resource('rds:db', config.region, `${config.stack}-db`)!;
    Object.assign(db.data, { multiAz: false, secretArn: undefined });
    const mark = cloud.lastSeq;

    const again = await runUp({ ...options, steps });

    expect(failures(again)).toBe('');
    const after = cloud.calls.filter((c) => c.seq > mark);
    const modify = after.find((c) => c.command === 'ModifyDBInstance');
    expect(modify?.input).toMatchObject({ MultiAZ: true, ManageMasterUserPassword: true });
    // The fake answered the old settings first, as RDS does; the step waited past them.
    const rds = store.current.steps[STEP.rds]?.outputs as { masterUserSecretArn?: string };
    expect(rds.masterUserSecretArn).toMatch(/^arn:aws:secretsmanager:/);
    expect(db.state).toBe('available');
    expect(db.data.multiAz).toBe(true);
  });
});

describe('destroy deletes only what carries this stack tag', () => {
  it("leaves a hand-made snapshot with the seed's name and another stack's log group, and says why", async () => {
    const { cloud, options, config, events } = await setUp('instant');
    const R = config.region;
    // Another stack (or a person) already has the backend log group name, tagged for itself.
    await cloud.call(
      'logs',
      'CreateLogGroup',
      { logGroupName: config.monitoring.logs.backend.name, tags: { 'cloudmart:stack': 'other' } },
      R,
    );
    expect(failures(await runUp(options))).toBe('');
    const group = () =>
      cloud
        .resources({ type: 'logs:log-group', live: true })
        .find((g) => g.id === config.monitoring.logs.backend.name);
    expect(group()?.tags['cloudmart:stack']).toBe('other');
    // The student took the seed's snapshot by hand: delete ours, make theirs with that name.
    const name = config.database.snapshotName;
    await cloud.call('rds', 'DeleteDBSnapshot', { DBSnapshotIdentifier: name }, R);
    cloud.advance(60_000);
    await cloud.call(
      'rds',
      'CreateDBSnapshot',
      { DBSnapshotIdentifier: name, DBInstanceIdentifier: `${config.stack}-db` },
      R,
    );

    const destroy = await runDestroy(options);

    expect(failures(destroy)).toBe('');
    expect(cloud.resources({ type: 'rds:snapshot', live: true }).map((s) => s.id)).toEqual([name]);
    expect(group()).toBeDefined();
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    expect(warnings).toContainEqual(
      expect.stringContaining(
        `Left RDS snapshot ${name}: it is not tagged cloudmart:stack=${config.stack}`,
      ),
    );
    expect(warnings).toContainEqual(
      expect.stringContaining(`Left log group ${config.monitoring.logs.backend.name}`),
    );
  });
});

describe('settings AWS takes only for some versions', () => {
  it('creates a Redis OSS 6.2 cache without TransitEncryptionMode, which that version refuses', async () => {
    const { cloud, options } = await setUp('instant', { cache: { engineVersion: '6.2' } });
    const ids = [STEP.kms, STEP.vpc, STEP.subnets, STEP.securityGroups, STEP.redis];
    const steps = STEPS.filter((s) => ids.includes(s.id as never));
    expect(failures(await runUp({ ...options, steps }))).toBe('');
    const create = cloud.calls.find((c) => c.command === 'CreateReplicationGroup');
    expect(create?.input).toMatchObject({ EngineVersion: '6.2', TransitEncryptionEnabled: true });
    expect(create?.input).not.toHaveProperty('TransitEncryptionMode');
  });

  it('MySQL by default: a version in standard support, never enrolled in paid Extended Support', async () => {
    // The fake's clock is today's date: MySQL 8.0 left standard support on 2026-07-31.
    const { cloud, options } = await setUp(
      'instant',
      { database: { engine: 'mysql' } },
      {},
      Date.UTC(2026, 11, 1),
    );
    const ids = [STEP.kms, STEP.vpc, STEP.subnets, STEP.securityGroups, STEP.rds];
    const steps = STEPS.filter((s) => ids.includes(s.id as never));
    expect(failures(await runUp({ ...options, steps }))).toBe('');
    const db = (await cloud.call('rds', 'DescribeDBInstances', {}, options.config.region)) as {
      DBInstances: unknown[];
    };
    expect(db.DBInstances[0]).toMatchObject({
      Engine: 'mysql',
      EngineVersion: expect.stringMatching(/^8\.4/),
      EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
    });
    // Asked for 8.0 after that date, RDS refuses instead of billing Extended Support.
    await expect(
      cloud.call(
        'rds',
        'CreateDBInstance',
        {
          DBInstanceIdentifier: 'old',
          Engine: 'mysql',
          EngineVersion: '8.0',
          DBInstanceClass: 'db.t3.micro',
          AllocatedStorage: 20,
          MasterUsername: 'u',
          ManageMasterUserPassword: true,
          DBSubnetGroupName: `${options.config.stack}-db-subnets`,
          EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
        },
        options.config.region,
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
  });
});

describe('the AMI decides the root device', () => {
  it('an Ubuntu AMI (root /dev/sda1): one encrypted root volume per instance, no second billed one', async () => {
    const { cloud, options, config } = await setUp('instant', {
      app: {
        ami: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
      },
    });
    const up = await runUp({ ...options, steps: STEPS.filter((s) => s.phase === 1) });
    expect(failures(up)).toBe('');
    const instances = cloud.resources({ type: 'ec2:instance', live: true });
    expect(instances.length).toBeGreaterThan(0);
    const key = cloud.resources({ type: 'kms:key', region: config.region })[0]!.arn;
    for (const i of instances) {
      const volumes = cloud
        .resources({ type: 'ec2:volume', live: true })
        .filter((v) => v.owner === i.id)
        .map((v) => cloud.resource(v.type, v.region, v.id)!.data as Record<string, unknown>);
      expect(volumes.map((v) => [v.device, v.encrypted, v.kmsKeyId])).toEqual([
        ['/dev/sda1', true, key],
      ]);
    }
  });
});

describe('ACM validation records are shared per domain and account', () => {
  it('destroy leaves the validation CNAME that another certificate for the domain still needs, in a zone it did not create', async () => {
    const { cloud, options, config, events } = await setUp('instant', {
      dns: { domain: 'shop.example.com', createHostedZone: false },
    });
    // The student's own zone, and their own certificate for the same domain.
    const zone = (await cloud.call('route53', 'CreateHostedZone', {
      Name: 'shop.example.com',
      CallerReference: 'mine',
    })) as { HostedZone: { Id: string } };
    await cloud.call(
      'acm',
      'RequestCertificate',
      {
        DomainName: 'shop.example.com',
        ValidationMethod: 'DNS',
      },
      config.region,
    );
    expect(failures(await runUp({ ...options, steps: STEPS.filter((s) => s.phase === 1) }))).toBe(
      '',
    );

    expect(failures(await runDestroy(options))).toBe('');

    const records = (await cloud.call('route53', 'ListResourceRecordSets', {
      HostedZoneId: zone.HostedZone.Id,
    })) as { ResourceRecordSets: Array<{ Name: string; Type: string }> };
    expect(records.ResourceRecordSets.filter((r) => r.Type === 'CNAME')).toHaveLength(1);
    expect(
      events.some(
        (e) => e.type === 'warning' && e.message.includes('Left the ACM validation record'),
      ),
    ).toBe(true);
  });
});

describe('a brand-new account AWS has not verified for CloudFront', () => {
  it('up refuses before anything bills, with what to do (a support case), not "run cloudmart policy"', async () => {
    const { cloud, options } = await setUp('instant');
    cloud.world.regionSettings('us-east-1').cloudfrontUnverified = true;
    const mark = cloud.calls.length;
    const error = await runUp({ ...options, steps: STEPS.filter((s) => s.phase === 1) }).then(
      () => undefined,
      (e: unknown) => e as CloudmartError,
    );
    expect(error?.code).toBe('ACCOUNT_NOT_VERIFIED');
    expect(error?.exitCode).toBe(2);
    expect(error?.hint).toContain('AWS Support');
    // The refused CreateDistribution is the only create sent: no NAT gateway, Elastic IP, KMS
    // key, database, cache or load balancer.
    expect(cloud.mutatingCalls(mark).map((c) => c.command)).toEqual(['CreateDistributionWithTags']);
    expect(cloud.resources({ live: true }).filter((r) => r.tags['cloudmart:stack'])).toEqual([]);
  });

  it('once verified, up builds the distribution it reserved disabled, and destroy removes it', async () => {
    const { cloud, options } = await setUp('instant');
    const phase1 = STEPS.filter((s) => s.phase === 1);
    let seenBillable = false;
    let reservedFirst = false;
    cloud.onCall((c) => {
      if (c.phase !== 'before') return;
      if (['AllocateAddress', 'CreateNatGateway', 'CreateKey'].includes(c.command))
        seenBillable = true;
      if (c.command === 'CreateDistributionWithTags' && !seenBillable) reservedFirst = true;
    });
    const up = await runUp({ ...options, steps: phase1 });
    expect(failures(up)).toBe('');
    expect(reservedFirst).toBe(true);
    const dists = cloud.world.all('cloudfront:distribution').filter((d) => !d.gone);
    expect(dists).toHaveLength(1);
    const config = dists[0]!.data.config as { Enabled: boolean; Origins: { Quantity: number } };
    expect(config.Enabled).toBe(true);
    expect(config.Origins.Quantity).toBe(2);
    expect(cloud.duplicates()).toEqual([]);
    const down = await runDestroy({ ...options, steps: phase1 });
    expect(down.failed).toEqual([]);
    expect(cloud.resources({ type: 'cloudfront:distribution', live: true })).toEqual([]);
  });
});

describe('EC2 creates without a client token', () => {
  it.each([
    ['AllocateAddress', 'ec2:elastic-ip', 2],
    ['CreateVpc', 'ec2:vpc', 1],
    ['CreateInternetGateway', 'ec2:internet-gateway', 1],
  ])(
    'a lost %s answer (a 5xx after AWS made it) leaves no spare %s billing or adopted',
    async (command, type, count) => {
      const { cloud, options } = await setUp('instant');
      let sent = 0;
      cloud.onCall((c) => {
        if (c.phase === 'after' && c.command === command && sent++ === 0)
          throw faults.serverError('ec2', 500);
      });
      // The SDK's own retries on, as in cloudmart (a 500 is retried).
      const account = cloud.account;
      const aws = new (class extends AwsClientFactory {
        override accountId() {
          return Promise.resolve(account);
        }
      })({ region: options.config.region, maxAttempts: 8 });
      const phase1 = STEPS.filter((s) => s.phase === 1);
      expect(failures(await runUp({ ...options, aws, steps: phase1 }))).toBe('');
      expect(sent).toBe(count + 1); // the lost one and its SDK retry (and the other AZ's)
      expect(cloud.resources({ type, live: true, system: false })).toHaveLength(count);
      expect(cloud.duplicates()).toEqual([]);
      // Run again (a resume): the same resources, nothing new.
      expect(failures(await runUp({ ...options, aws, steps: phase1 }))).toBe('');
      expect(cloud.duplicates()).toEqual([]);
    },
  );
});

describe('SMS sandbox per region', () => {
  it('verify checks the edge topic region (us-east-1) too: out of the sandbox at home, still in it there', async () => {
    const phone = '+821012345678';
    // Tokyo: SNS sends SMS from there (not from Seoul, which the config refuses for SMS).
    const { cloud, options, config } = await setUp('instant', {
      region: 'ap-northeast-1',
      availabilityZones: ['ap-northeast-1a', 'ap-northeast-1c'],
      drRegion: 'ap-northeast-3',
      dns: { domain: 'shop.example.com', createHostedZone: true },
      alerts: { email: 'ops@example.com', phone },
    });
    options.aws = new TestAws(config.region);
    expect(failures(await runUp({ ...options, steps: STEPS.filter((s) => s.phase <= 2) }))).toBe(
      '',
    );
    // The account left the sandbox in its own region only: SNS in us-east-1 still texts no one.
    cloud.world.regionSettings(config.region).smsSandbox = false;

    const verify = await runVerify({ ...options, steps: STEPS.filter((s) => s.phase <= 2) });

    const sandbox = verify.checks.filter((c) => c.id.startsWith('monitoring.sns.sms-sandbox'));
    expect(sandbox.map((c) => [c.id, c.status])).toEqual([
      ['monitoring.sns.sms-sandbox', 'pass'],
      ['monitoring.sns.sms-sandbox.edge', 'warn'],
    ]);
    expect(sandbox[1]?.fix).toContain(`--region ${config.edgeRegion}`);
  });
});
