import {
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  DescribeMetricFiltersCommand,
  ListTagsForResourceCommand,
  PutMetricFilterCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
  type LogGroup,
  type MetricFilter,
} from '@aws-sdk/client-cloudwatch-logs';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DB_GONE_CHECK_MS,
  logGroupsStep,
  metricFilterSpecs,
  rdsExportLogGroups,
} from '../../../src/steps/phase2-monitoring/log-groups.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { KMS } from './fixtures.js';

const BACKEND = '/aws/ec2/cloudmart-backend';
const ALB = '/aws/alb/cloudmart-alb';
const RDS_SEED = '/aws/rds/cloudmart-db';
const RDS_EXPORT = '/aws/rds/instance/cloudmart-db/postgresql';
const RDS_UPGRADE = '/aws/rds/instance/cloudmart-db/upgrade';
const ALL = [BACKEND, ALB, RDS_SEED, RDS_EXPORT, RDS_UPGRADE];
const RETENTION: Record<string, number> = {
  [BACKEND]: 7,
  [ALB]: 30,
  [RDS_SEED]: 7,
  [RDS_EXPORT]: 7,
  [RDS_UPGRADE]: 7,
};

const arnOf = (name: string) => `arn:aws:logs:ap-northeast-2:${ACCOUNT}:log-group:${name}`;
const group = (name: string, extra: Partial<LogGroup> = {}): LogGroup => ({
  logGroupName: name,
  arn: `${arnOf(name)}:*`,
  logGroupArn: arnOf(name),
  retentionInDays: RETENTION[name],
  kmsKeyId: KMS.keyArn,
  ...extra,
});

/** The filters exactly as the seed and the brief define them (written out, not derived). */
const EXPECTED_FILTERS = [
  {
    logGroupName: BACKEND,
    filterName: 'ErrorCount',
    filterPattern: '{ ($.level = "ERROR") && ($.path = "/api/*") }',
    metricTransformations: [
      {
        metricName: 'ErrorCount',
        metricNamespace: 'CloudMart',
        metricValue: '1',
        defaultValue: 0,
        unit: 'Count',
      },
    ],
  },
  {
    logGroupName: BACKEND,
    filterName: 'SlowQuery',
    filterPattern: '{ $.query_time > 1 }',
    metricTransformations: [
      {
        metricName: 'SlowQuery',
        metricNamespace: 'CloudMart',
        metricValue: '1',
        defaultValue: 0,
        unit: 'Count',
      },
    ],
  },
  {
    logGroupName: BACKEND,
    filterName: 'ApiResponseTime',
    filterPattern: '{ $.path = "/api/*" }',
    metricTransformations: [
      {
        metricName: 'ApiResponseTime',
        metricNamespace: 'CloudMart',
        metricValue: '$.duration_ms',
        unit: 'Milliseconds',
      },
    ],
  },
  {
    logGroupName: BACKEND,
    filterName: 'RequestCount',
    filterPattern: '{ $.path = "/api/*" }',
    metricTransformations: [
      {
        metricName: 'RequestCount',
        metricNamespace: 'CloudMart',
        metricValue: '1',
        defaultValue: 0,
        unit: 'Count',
      },
    ],
  },
  {
    logGroupName: BACKEND,
    filterName: 'ActiveUsers',
    filterPattern: '{ ($.path = "/api/*") && ($.user = "*") }',
    metricTransformations: [
      { metricName: 'ActiveUsers', metricNamespace: 'CloudMart', metricValue: '1', unit: 'Count' },
    ],
  },
];

/** What DescribeMetricFilters returns on a converged backend group. */
const liveFilters = (): MetricFilter[] =>
  metricFilterSpecs(testConfig()).map((s) => ({
    filterName: s.filterName,
    filterPattern: s.filterPattern,
    logGroupName: BACKEND,
    creationTime: 1,
    metricTransformations: [{ ...s.transformation }],
  }));

describe('rdsExportLogGroups', () => {
  it('names the groups after the instance id and the exported log types', () => {
    // Stack names are lower case (config schema), so the id RDS stores is the one we build.
    expect(rdsExportLogGroups(testConfig({ stack: 'shop' }))).toEqual([
      '/aws/rds/instance/shop-db/postgresql',
      '/aws/rds/instance/shop-db/upgrade',
    ]);
  });
});

describe('monitoring.logs', () => {
  let logs: ReturnType<typeof strictMock>;
  let rds: ReturnType<typeof strictMock>;
  beforeEach(() => {
    logs = strictMock(CloudWatchLogsClient);
    rds = strictMock(RDSClient);
  });

  const ctx = (
    config = testConfig(),
    extra: {
      previous?: Record<string, unknown>;
      outputs?: Record<string, Record<string, unknown>>;
    } = {},
  ) =>
    testContext({
      stepId: logGroupsStep.id,
      config,
      outputs: { [STEP.kms]: KMS, ...extra.outputs },
      ...(extra.previous ? { previous: extra.previous } : {}),
    });

  const writes = () => [
    ...logs.commandCalls(CreateLogGroupCommand),
    ...logs.commandCalls(PutRetentionPolicyCommand),
    ...logs.commandCalls(AssociateKmsKeyCommand),
    ...logs.commandCalls(TagResourceCommand),
    ...logs.commandCalls(PutMetricFilterCommand),
  ];

  it('creates every group with the key and tags at creation, sets the seed retentions and the five filters', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    logs.on(CreateLogGroupCommand).resolves({});
    logs.on(PutRetentionPolicyCommand).resolves({});
    logs.on(PutMetricFilterCommand).resolves({});

    const out = await logGroupsStep.create(ctx());

    expect(out).toEqual({
      backendLogGroup: BACKEND,
      albLogGroup: ALB,
      rdsLogGroup: RDS_SEED,
      rdsExportLogGroups: [RDS_EXPORT, RDS_UPGRADE],
      metricNamespace: 'CloudMart',
    });
    expect(logs.commandCalls(DescribeLogGroupsCommand)[0]!.args[0].input).toEqual({
      logGroupIdentifiers: ALL,
      nextToken: undefined,
    });
    const creates = logs.commandCalls(CreateLogGroupCommand).map((c) => c.args[0].input);
    expect(creates.map((c) => c.logGroupName)).toEqual(ALL);
    for (const c of creates) {
      expect(c).toEqual({
        logGroupName: c.logGroupName,
        kmsKeyId: KMS.keyArn,
        tags: {
          Project: 'CloudMart',
          Environment: 'production',
          Name: c.logGroupName,
          'cloudmart:stack': 'cloudmart',
          'cloudmart:step': 'monitoring.logs',
        },
      });
    }
    expect(logs.commandCalls(PutRetentionPolicyCommand).map((c) => c.args[0].input)).toEqual([
      { logGroupName: BACKEND, retentionInDays: 7 },
      { logGroupName: ALB, retentionInDays: 30 },
      { logGroupName: RDS_SEED, retentionInDays: 7 },
      { logGroupName: RDS_EXPORT, retentionInDays: 7 },
      { logGroupName: RDS_UPGRADE, retentionInDays: 7 },
    ]);
    // A fresh group has no filters to read: none is described, all five are written.
    expect(logs.commandCalls(DescribeMetricFiltersCommand)).toHaveLength(0);
    expect(logs.commandCalls(PutMetricFilterCommand).map((c) => c.args[0].input)).toEqual(
      EXPECTED_FILTERS,
    );
  });

  it('pre-creates the MySQL slow-query and error export groups for a MySQL database', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    logs.on(CreateLogGroupCommand).resolves({});
    logs.on(PutRetentionPolicyCommand).resolves({});
    logs.on(PutMetricFilterCommand).resolves({});
    const out = await logGroupsStep.create(ctx(testConfig({ database: { engine: 'mysql' } })));
    expect(out.rdsExportLogGroups).toEqual([
      '/aws/rds/instance/cloudmart-db/error',
      '/aws/rds/instance/cloudmart-db/slowquery',
    ]);
    expect(
      logs.commandCalls(CreateLogGroupCommand).map((c) => c.args[0].input.logGroupName),
    ).toEqual([
      BACKEND,
      ALB,
      RDS_SEED,
      '/aws/rds/instance/cloudmart-db/error',
      '/aws/rds/instance/cloudmart-db/slowquery',
    ]);
  });

  it('adopts converged groups and filters and sends no write at all', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: ALL.map((n) => group(n)) });
    logs.on(ListTagsForResourceCommand).resolves({ tags: { 'cloudmart:stack': 'cloudmart' } });
    logs.on(DescribeMetricFiltersCommand).resolves({ metricFilters: liveFilters() });

    await logGroupsStep.create(ctx());

    expect(writes()).toHaveLength(0);
    expect(logs.commandCalls(DescribeMetricFiltersCommand)[0]!.args[0].input.logGroupName).toBe(
      BACKEND,
    );
  });

  it('converges the export group RDS created itself: retention, key and tags, nothing else', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: [
        group(BACKEND),
        group(ALB),
        group(RDS_SEED),
        group(RDS_EXPORT, { retentionInDays: undefined, kmsKeyId: undefined }),
        group(RDS_UPGRADE),
      ],
    });
    logs
      .on(ListTagsForResourceCommand)
      .resolves({ tags: { 'cloudmart:stack': 'cloudmart' } })
      .on(ListTagsForResourceCommand, { resourceArn: arnOf(RDS_EXPORT) })
      .resolves({ tags: {} });
    logs.on(DescribeMetricFiltersCommand).resolves({ metricFilters: liveFilters() });
    logs.on(PutRetentionPolicyCommand).resolves({});
    logs.on(AssociateKmsKeyCommand).resolves({});
    logs.on(TagResourceCommand).resolves({});
    const c = ctx();

    await logGroupsStep.create(c);

    expect(logs.commandCalls(CreateLogGroupCommand)).toHaveLength(0);
    expect(logs.commandCalls(PutRetentionPolicyCommand).map((x) => x.args[0].input)).toEqual([
      { logGroupName: RDS_EXPORT, retentionInDays: 7 },
    ]);
    expect(logs.commandCalls(AssociateKmsKeyCommand).map((x) => x.args[0].input)).toEqual([
      { logGroupName: RDS_EXPORT, kmsKeyId: KMS.keyArn },
    ]);
    expect(logs.commandCalls(TagResourceCommand).map((x) => x.args[0].input)).toEqual([
      {
        resourceArn: arnOf(RDS_EXPORT),
        tags: expect.objectContaining({ 'cloudmart:stack': 'cloudmart', Name: RDS_EXPORT }),
      },
    ]);
    expect(logs.commandCalls(PutMetricFilterCommand)).toHaveLength(0);
    expect(c.progressLog.some((l) => l.includes('never expire → 7 days'))).toBe(true);
  });

  it('rewrites only the filter whose pattern drifted', async () => {
    const filters = liveFilters();
    filters[0]!.filterPattern = '[ERROR]';
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: ALL.map((n) => group(n)) });
    logs.on(ListTagsForResourceCommand).resolves({ tags: { 'cloudmart:stack': 'cloudmart' } });
    logs.on(DescribeMetricFiltersCommand).resolves({ metricFilters: filters });
    logs.on(PutMetricFilterCommand).resolves({});

    await logGroupsStep.create(ctx());

    expect(logs.commandCalls(PutMetricFilterCommand).map((c) => c.args[0].input)).toEqual([
      EXPECTED_FILTERS[0],
    ]);
  });

  it('adopts a group that RDS created between the read and the create', async () => {
    logs
      .on(DescribeLogGroupsCommand)
      .resolves({ logGroups: [group(BACKEND), group(ALB), group(RDS_SEED), group(RDS_UPGRADE)] })
      .on(DescribeLogGroupsCommand, { logGroupIdentifiers: [RDS_EXPORT] })
      .resolves({ logGroups: [group(RDS_EXPORT, { retentionInDays: undefined })] });
    logs
      .on(CreateLogGroupCommand)
      .rejects(
        awsError('ResourceAlreadyExistsException', 'The specified log group already exists'),
      );
    logs.on(ListTagsForResourceCommand).resolves({ tags: { 'cloudmart:stack': 'cloudmart' } });
    logs.on(DescribeMetricFiltersCommand).resolves({ metricFilters: liveFilters() });
    logs.on(PutRetentionPolicyCommand).resolves({});

    await logGroupsStep.create(ctx());

    expect(logs.commandCalls(CreateLogGroupCommand)).toHaveLength(1);
    expect(logs.commandCalls(PutRetentionPolicyCommand).map((x) => x.args[0].input)).toEqual([
      { logGroupName: RDS_EXPORT, retentionInDays: 7 },
    ]);
  });

  it('warns and neither retags, re-points nor re-times a group that another stack owns', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: ALL.map((n) =>
        n === BACKEND ? group(n, { retentionInDays: 90, kmsKeyId: undefined }) : group(n),
      ),
    });
    logs
      .on(ListTagsForResourceCommand)
      .resolves({ tags: { 'cloudmart:stack': 'cloudmart' } })
      .on(ListTagsForResourceCommand, { resourceArn: arnOf(BACKEND) })
      .resolves({ tags: { 'cloudmart:stack': 'other' } });
    logs.on(DescribeMetricFiltersCommand).resolves({ metricFilters: liveFilters() });
    const c = ctx();
    await logGroupsStep.create(c);
    expect(writes()).toHaveLength(0);
    expect(c.warnings[0]).toMatch(/tagged for stack "other": left as it is/);
  });

  it('surfaces a KMS permission error from CreateLogGroup', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    logs
      .on(CreateLogGroupCommand)
      .rejects(
        awsError(
          'AccessDeniedException',
          'The specified KMS key does not exist or is not allowed',
          400,
        ),
      );
    await expect(logGroupsStep.create(ctx())).rejects.toThrow(/KMS key/);
    expect(logs.commandCalls(PutRetentionPolicyCommand)).toHaveLength(0);
  });

  describe('verify', () => {
    it('reports drifted retention, a missing key and a drifted filter', async () => {
      const filters = liveFilters().filter((f) => f.filterName !== 'ActiveUsers');
      filters[1]!.filterPattern = '{ $.query_time > 5 }';
      logs.on(DescribeLogGroupsCommand).resolves({
        logGroups: [
          group(BACKEND),
          group(ALB, { retentionInDays: 14 }),
          group(RDS_SEED),
          group(RDS_EXPORT, { kmsKeyId: undefined }),
          group(RDS_UPGRADE),
        ],
      });
      logs.on(DescribeMetricFiltersCommand).resolves({ metricFilters: filters });

      const checks = await logGroupsStep.verify(ctx());
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));

      expect(byId['monitoring.logs.backend.retention']?.status).toBe('pass');
      expect(byId['monitoring.logs.alb.retention']).toMatchObject({
        status: 'fail',
        evidence: 'retentionInDays=14',
      });
      expect(byId['monitoring.logs.backend.kms']).toMatchObject({
        status: 'pass',
        criterion: 'encryption',
      });
      expect(byId['monitoring.logs.rds-export-postgresql.kms']).toMatchObject({
        status: 'fail',
        evidence: 'kmsKeyId=(none)',
      });
      expect(byId['monitoring.logs.filter.ErrorCount']?.status).toBe('pass');
      expect(byId['monitoring.logs.filter.SlowQuery']?.status).toBe('fail');
      expect(byId['monitoring.logs.filter.SlowQuery']?.evidence).toContain('$.query_time > 5');
      expect(byId['monitoring.logs.filter.ActiveUsers']).toMatchObject({
        status: 'fail',
        evidence: expect.stringContaining('missing'),
      });
    });

    it('fails every check of a group that does not exist', async () => {
      logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
      const checks = await logGroupsStep.verify(ctx());
      expect(checks.filter((c) => c.status === 'pass')).toEqual([]);
      expect(checks.find((c) => c.id === 'monitoring.logs.backend.retention')?.evidence).toMatch(
        /does not exist/,
      );
    });
  });

  describe('teardown', () => {
    /** The named groups exist, tagged for this stack unless `tags` says otherwise. */
    const present = (names: string[], tags: Record<string, Record<string, string>> = {}) => {
      logs.on(DescribeLogGroupsCommand).resolves({ logGroups: names.map((n) => group(n)) });
      logs.on(ListTagsForResourceCommand).callsFake((input: { resourceArn: string }) => {
        const name = names.find((n) => arnOf(n) === input.resourceArn) ?? '';
        return Promise.resolve({ tags: tags[name] ?? { 'cloudmart:stack': 'cloudmart' } });
      });
    };

    it('succeeds when every group is already gone', async () => {
      logs.on(DeleteLogGroupCommand).rejects(awsError('ResourceNotFoundException'));
      present([]);
      await expect(logGroupsStep.teardown(ctx())).resolves.toBeUndefined();
      expect(logs.commandCalls(DeleteLogGroupCommand)).toHaveLength(0);
      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(0);
    });

    it("deletes only this stack's groups: another stack's and untagged seed groups are left, with a warning", async () => {
      logs.on(DeleteLogGroupCommand).resolves({});
      present([BACKEND, ALB, RDS_SEED, RDS_EXPORT], {
        [BACKEND]: { 'cloudmart:stack': 'other-shop' },
        [ALB]: {},
        // RDS creates its export groups untagged for this stack's instance: still ours.
        [RDS_EXPORT]: {},
      });
      rds.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault', 'gone', 404));
      const c = ctx();

      await logGroupsStep.teardown(c);

      expect(
        logs.commandCalls(DeleteLogGroupCommand).map((x) => x.args[0].input.logGroupName),
      ).toEqual([RDS_SEED, RDS_EXPORT]);
      expect(c.warnings).toEqual([
        expect.stringContaining(
          `Left log group ${BACKEND}: it is not tagged cloudmart:stack=cloudmart (tagged for stack "other-shop")`,
        ),
        expect.stringContaining(
          `Left log group ${ALB}: it is not tagged cloudmart:stack=cloudmart (no stack tag)`,
        ),
      ]);
    });

    it('is torn down after data.rds, whose teardown waits until the instance is gone', () => {
      expect(logGroupsStep.teardownAfter).toEqual([STEP.rds]);
    });

    it('deletes the export group at once when the instance is already gone', async () => {
      logs.on(DeleteLogGroupCommand).resolves({});
      present([BACKEND, ALB, RDS_SEED, RDS_EXPORT]);
      rds
        .on(DescribeDBInstancesCommand)
        .rejects(awsError('DBInstanceNotFoundFault', 'DBInstance cloudmart-db not found', 404));
      const c = ctx();

      await logGroupsStep.teardown(c);

      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
      expect(rds.commandCalls(DescribeDBInstancesCommand)[0]!.args[0].input).toEqual({
        DBInstanceIdentifier: 'cloudmart-db',
      });
      expect(
        logs.commandCalls(DeleteLogGroupCommand).map((x) => x.args[0].input.logGroupName),
      ).toEqual([BACKEND, ALB, RDS_SEED, RDS_EXPORT]);
      expect(c.slept()).toBe(0);
      expect(c.warnings).toEqual([]);
    });

    it('waits briefly for an instance still being deleted, then deletes the export group', async () => {
      logs.on(DeleteLogGroupCommand).resolves({});
      present([BACKEND, ALB, RDS_SEED, RDS_EXPORT]);
      rds
        .on(DescribeDBInstancesCommand)
        .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'deleting' }] })
        .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'deleting' }] })
        .rejects(awsError('DBInstanceNotFoundFault', 'DBInstance cloudmart-db not found', 404));
      const c = ctx();

      await logGroupsStep.teardown(c);

      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(3);
      expect(
        logs.commandCalls(DeleteLogGroupCommand).map((x) => x.args[0].input.logGroupName),
      ).toEqual([BACKEND, ALB, RDS_SEED, RDS_EXPORT]);
      expect(c.progressLog.some((l) => l.includes('still deleting'))).toBe(true);
    });

    it('leaves the export group with a warning, without waiting, while the instance still runs', async () => {
      // data.rds's teardown failed, or was not part of this destroy (destroy --phase 2).
      logs.on(DeleteLogGroupCommand).resolves({});
      present([BACKEND, ALB, RDS_SEED, RDS_EXPORT]);
      rds
        .on(DescribeDBInstancesCommand)
        .resolves({ DBInstances: [{ DBInstanceStatus: 'available' }] });
      const c = ctx();

      await logGroupsStep.teardown(c);

      expect(
        logs.commandCalls(DeleteLogGroupCommand).map((x) => x.args[0].input.logGroupName),
      ).toEqual([BACKEND, ALB, RDS_SEED]);
      expect(c.warnings[0]).toMatch(/Left \/aws\/rds\/instance\/cloudmart-db\/postgresql/);
      expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
      expect(c.slept()).toBe(0);
    });

    it('leaves the export group with a warning when the deletion outlives the short bound', async () => {
      logs.on(DeleteLogGroupCommand).resolves({});
      present([BACKEND, ALB, RDS_SEED, RDS_EXPORT]);
      rds
        .on(DescribeDBInstancesCommand)
        .resolves({ DBInstances: [{ DBInstanceStatus: 'deleting' }] });
      const c = ctx();

      await logGroupsStep.teardown(c);

      expect(
        logs.commandCalls(DeleteLogGroupCommand).map((x) => x.args[0].input.logGroupName),
      ).not.toContain(RDS_EXPORT);
      expect(c.warnings[0]).toMatch(/Left \/aws\/rds\/instance\/cloudmart-db\/postgresql/);
      expect(c.slept()).toBeGreaterThanOrEqual(DB_GONE_CHECK_MS);
      expect(c.slept()).toBeLessThan(DB_GONE_CHECK_MS + 60_000);
    });

    it('retries a delete that collides with another operation on the group', async () => {
      logs
        .on(DeleteLogGroupCommand)
        .rejectsOnce(awsError('OperationAbortedException'))
        .resolves({});
      present([BACKEND, ALB, RDS_SEED]);
      await logGroupsStep.teardown(ctx());
      expect(logs.commandCalls(DeleteLogGroupCommand)).toHaveLength(4);
    });
  });
});
