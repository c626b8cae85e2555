import {
  type EventSelector,
  CloudTrailClient,
  CreateTrailCommand,
  DeleteTrailCommand,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  StopLoggingCommand,
  UpdateTrailCommand,
} from '@aws-sdk/client-cloudtrail';
import { beforeEach, describe, expect, it } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import { cloudtrailStep } from '../../../src/steps/phase4-security/cloudtrail.js';
import { ACCOUNT, awsError, strictMock, testContext } from '../../helpers/context.js';
import { mutatingCalls, seq } from '../phase3-backup/helpers.js';

const AUDIT = `cloudmart-audit-logs-${ACCOUNT}-ap-northeast-2`;
const FRONTEND = `cloudmart-frontend-${ACCOUNT}-ap-northeast-2`;
const TRAIL_ARN = `arn:aws:cloudtrail:ap-northeast-2:${ACCOUNT}:trail/CloudMart-Audit-Trail`;
const notFound = () => awsError('TrailNotFoundException', 'Unknown trail', 404);

const liveTrail = (over: Record<string, unknown> = {}) => ({
  Name: 'CloudMart-Audit-Trail',
  TrailARN: TRAIL_ARN,
  S3BucketName: AUDIT,
  IsMultiRegionTrail: true,
  IncludeGlobalServiceEvents: true,
  LogFileValidationEnabled: true,
  HomeRegion: 'ap-northeast-2',
  ...over,
});
const wantedSelectors: EventSelector[] = [
  {
    ReadWriteType: 'All',
    IncludeManagementEvents: true,
    DataResources: [{ Type: 'AWS::S3::Object', Values: [`arn:aws:s3:::${FRONTEND}/`] }],
    ExcludeManagementEventSources: [],
  },
];

describe('security.cloudtrail', () => {
  let ct: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ct = strictMock(CloudTrailClient);
  });

  const ctx = () =>
    testContext({
      stepId: cloudtrailStep.id,
      outputs: {
        [STEP.auditBucket]: { bucketName: AUDIT },
        [STEP.frontendBucket]: { bucketName: FRONTEND },
      },
    });

  it('is the first thing destroy tears down (seed cleanup order) and needs the audit bucket', () => {
    expect(cloudtrailStep.cleanupRank).toBe(1);
    expect(cloudtrailStep.needs).toEqual([STEP.auditBucket, STEP.frontendBucket]);
  });

  it('creates the multi-region validated trail tagged at creation, writes selectors and starts logging', async () => {
    ct.on(GetTrailCommand).rejects(notFound());
    ct.on(CreateTrailCommand).resolves({
      Name: 'CloudMart-Audit-Trail',
      TrailARN: TRAIL_ARN,
      S3BucketName: AUDIT,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      LogFileValidationEnabled: true,
    });
    // A new trail records management events only.
    ct.on(GetEventSelectorsCommand).resolves({
      EventSelectors: [{ ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [] }],
    });
    ct.on(PutEventSelectorsCommand).resolves({});
    ct.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    ct.on(StartLoggingCommand).resolves({});

    const out = await cloudtrailStep.create(ctx());

    expect(ct.commandCalls(CreateTrailCommand)[0]!.args[0].input).toEqual({
      Name: 'CloudMart-Audit-Trail',
      S3BucketName: AUDIT,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      TagsList: expect.arrayContaining([
        { Key: 'cloudmart:stack', Value: 'cloudmart' },
        { Key: 'cloudmart:step', Value: 'security.cloudtrail' },
        { Key: 'Name', Value: 'CloudMart-Audit-Trail' },
      ]),
    });
    expect(ct.commandCalls(PutEventSelectorsCommand)[0]!.args[0].input).toEqual({
      TrailName: 'CloudMart-Audit-Trail',
      EventSelectors: wantedSelectors,
    });
    expect(ct.commandCalls(StartLoggingCommand)[0]!.args[0].input).toEqual({
      Name: 'CloudMart-Audit-Trail',
    });
    expect(out).toEqual({
      trailName: 'CloudMart-Audit-Trail',
      trailArn: TRAIL_ARN,
      bucketName: AUDIT,
      homeRegion: 'ap-northeast-2',
      dataEventBucket: FRONTEND,
    });
  });

  it('retries CreateTrail while CloudTrail does not see the fresh bucket policy yet', async () => {
    ct.on(GetTrailCommand).rejects(notFound());
    ct.on(CreateTrailCommand)
      .rejectsOnce(awsError('InsufficientS3BucketPolicyException'))
      .resolves({ TrailARN: TRAIL_ARN });
    ct.on(GetEventSelectorsCommand).resolves({ EventSelectors: wantedSelectors });
    ct.on(GetTrailStatusCommand).resolves({ IsLogging: true });
    await cloudtrailStep.create(ctx());
    expect(ct.commandCalls(CreateTrailCommand)).toHaveLength(2);
  });

  it('adopts a converged, logging trail and sends no mutating call', async () => {
    ct.on(GetTrailCommand).resolves({ Trail: liveTrail() });
    ct.on(GetEventSelectorsCommand).resolves({
      TrailARN: TRAIL_ARN,
      EventSelectors: wantedSelectors,
    });
    ct.on(GetTrailStatusCommand).resolves({ IsLogging: true });
    const out = await cloudtrailStep.create(ctx());
    expect(out.trailArn).toBe(TRAIL_ARN);
    expect(mutatingCalls(ct)).toEqual([]);
  });

  it('converges a stopped trail with validation off and advanced selectors', async () => {
    ct.on(GetTrailCommand).resolves({ Trail: liveTrail({ LogFileValidationEnabled: false }) });
    ct.on(UpdateTrailCommand).resolves({});
    ct.on(GetEventSelectorsCommand).resolves({
      AdvancedEventSelectors: [
        { Name: 'x', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
      ],
    });
    ct.on(PutEventSelectorsCommand).resolves({});
    ct.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    ct.on(StartLoggingCommand).resolves({});

    await cloudtrailStep.create(ctx());

    expect(ct.commandCalls(UpdateTrailCommand)[0]!.args[0].input).toEqual({
      Name: 'CloudMart-Audit-Trail',
      S3BucketName: AUDIT,
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
    });
    expect(ct.commandCalls(PutEventSelectorsCommand)).toHaveLength(1);
    expect(ct.commandCalls(StartLoggingCommand)).toHaveLength(1);
  });

  it('refuses a trail of that name whose home is another region', async () => {
    ct.on(GetTrailCommand).resolves({ Trail: liveTrail({ HomeRegion: 'us-east-1' }) });
    await expect(cloudtrailStep.create(ctx())).rejects.toThrow(/home region us-east-1/);
  });

  it('verify reports a stopped trail, validation off and a missing data-event selector', async () => {
    ct.on(GetTrailCommand).resolves({ Trail: liveTrail({ LogFileValidationEnabled: false }) });
    ct.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    ct.on(GetEventSelectorsCommand).resolves({
      EventSelectors: [
        { ReadWriteType: 'WriteOnly', IncludeManagementEvents: true, DataResources: [] },
      ],
    });
    const checks = await cloudtrailStep.verify(ctx());
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['security.cloudtrail.logging', 'fail'],
      ['security.cloudtrail.validation', 'fail'],
      ['security.cloudtrail.multi-region', 'pass'],
      ['security.cloudtrail.selectors', 'fail'],
    ]);
    expect(checks.every((c) => c.criterion === 'audit-logs')).toBe(true);
    expect(checks[3]!.evidence).toMatch(/WriteOnly.*data events none/);
    expect(checks[0]!.fix).toBe('cloudmart up --phase 4');
  });

  it.each([
    ['a single-region trail', { IsMultiRegionTrail: false }, /IsMultiRegionTrail=false/],
    [
      'a trail without global service events',
      { IncludeGlobalServiceEvents: false },
      /IncludeGlobalServiceEvents=false/,
    ],
  ])(
    'verify fails the multi-region check for %s (seed: "Apply to All Regions: Yes")',
    async (_what, over, evidence) => {
      ct.on(GetTrailCommand).resolves({ Trail: liveTrail(over) });
      ct.on(GetTrailStatusCommand).resolves({ IsLogging: true });
      ct.on(GetEventSelectorsCommand).resolves({ EventSelectors: wantedSelectors });
      const checks = await cloudtrailStep.verify(ctx());
      const multiRegion = checks.find((c) => c.id === 'security.cloudtrail.multi-region');
      expect(multiRegion?.status).toBe('fail');
      expect(multiRegion?.evidence).toMatch(evidence);
      // Only that check: the rest of the trail is as wanted.
      expect(checks.filter((c) => c.status !== 'pass').map((c) => c.id)).toEqual([
        'security.cloudtrail.multi-region',
      ]);
    },
  );

  it('verify passes a logging, validated trail with the selectors', async () => {
    ct.on(GetTrailCommand).resolves({ Trail: liveTrail() });
    ct.on(GetTrailStatusCommand).resolves({ IsLogging: true, LatestDeliveryTime: new Date(0) });
    ct.on(GetEventSelectorsCommand).resolves({ EventSelectors: wantedSelectors });
    const checks = await cloudtrailStep.verify(ctx());
    expect(checks.every((c) => c.status === 'pass')).toBe(true);
  });

  it('verify fails when the trail does not exist', async () => {
    ct.on(GetTrailCommand).rejects(notFound());
    const checks = await cloudtrailStep.verify(ctx());
    expect(checks).toEqual([
      expect.objectContaining({ id: 'security.cloudtrail.exists', status: 'fail' }),
    ]);
  });

  it('teardown stops logging, then deletes the trail', async () => {
    ct.on(StopLoggingCommand).resolves({});
    ct.on(DeleteTrailCommand).resolves({});
    await cloudtrailStep.teardown(ctx());
    const stop = ct.commandCalls(StopLoggingCommand);
    const del = ct.commandCalls(DeleteTrailCommand);
    expect(stop[0]!.args[0].input).toEqual({ Name: 'CloudMart-Audit-Trail' });
    expect(del[0]!.args[0].input).toEqual({ Name: 'CloudMart-Audit-Trail' });
    expect(seq(stop[0])).toBeLessThan(seq(del[0]));
  });

  it('teardown succeeds when the trail is already gone', async () => {
    ct.on(StopLoggingCommand).rejects(notFound());
    await expect(cloudtrailStep.teardown(ctx())).resolves.toBeUndefined();
    expect(ct.commandCalls(DeleteTrailCommand)).toHaveLength(0);
  });
});
