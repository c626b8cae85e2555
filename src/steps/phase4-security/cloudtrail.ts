import type {
  CloudTrailClient,
  EventSelector,
  GetEventSelectorsCommandOutput,
  Trail,
} from '@aws-sdk/client-cloudtrail';
import { ignoreNotFound, isAlreadyExists, isNotFound } from '../../aws/errors.js';
import { STACK_TAG } from '../../aws/tags.js';
import { retryWhile } from '../../aws/wait.js';
import { defineStep, type Check } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { STEP, type BucketOutputs } from '../outputs.js';
import type { AuditBucketOutputs } from './audit-bucket.js';

const ctSdk = () => import('@aws-sdk/client-cloudtrail');

export interface TrailOutputs {
  trailName: string;
  trailArn: string;
  bucketName: string;
  homeRegion: string;
  /** The bucket whose object-level (data) events the trail records. */
  dataEventBucket: string;
  [k: string]: unknown;
}

/** Management events, read and write, plus S3 object-level events on the frontend bucket. */
export function desiredSelectors(frontendBucket: string, partition: string): EventSelector[] {
  return [
    {
      ReadWriteType: 'All',
      IncludeManagementEvents: true,
      DataResources: [
        { Type: 'AWS::S3::Object', Values: [`arn:${partition}:s3:::${frontendBucket}/`] },
      ],
      ExcludeManagementEventSources: [],
    },
  ];
}

/** What differs between the live selectors and ours, in words (empty when converged). */
function selectorDrift(live: GetEventSelectorsCommandOutput, want: EventSelector[]): string[] {
  if ((live.AdvancedEventSelectors ?? []).length > 0) return ['advanced event selectors in use'];
  const sel = live.EventSelectors ?? [];
  if (sel.length !== 1) return [`${sel.length} event selectors`];
  const s = sel[0]!;
  const w = want[0]!;
  const diffs: string[] = [];
  if (s.ReadWriteType !== 'All') diffs.push(`management events ${s.ReadWriteType ?? 'none'}`);
  if (s.IncludeManagementEvents !== true) diffs.push('management events excluded');
  if ((s.ExcludeManagementEventSources ?? []).length > 0)
    diffs.push(`excluded sources ${s.ExcludeManagementEventSources!.join(',')}`);
  const data = (x: EventSelector) =>
    (x.DataResources ?? [])
      .flatMap((d) => (d.Values ?? []).map((v) => `${d.Type ?? '?'} ${v}`))
      .sort()
      .join(', ');
  if (data(s) !== data(w)) diffs.push(`data events ${data(s) || 'none'}`);
  return diffs;
}

/** CloudTrail's quota of trails per region. */
export const TRAILS_PER_REGION = 5;

async function getTrail(ct: CloudTrailClient, name: string): Promise<Trail | undefined> {
  const { GetTrailCommand } = await ctSdk();
  return (await ignoreNotFound(ct.send(new GetTrailCommand({ Name: name }))))?.Trail;
}

function trailDrift(trail: Trail, bucket: string): string[] {
  const diffs: string[] = [];
  if (trail.S3BucketName !== bucket) diffs.push(`bucket ${trail.S3BucketName ?? 'none'}`);
  if (trail.IsMultiRegionTrail !== true) diffs.push('single-region');
  if (trail.IncludeGlobalServiceEvents !== true) diffs.push('no global service events');
  if (trail.LogFileValidationEnabled !== true) diffs.push('log file validation off');
  return diffs;
}

export const cloudtrailStep = defineStep<TrailOutputs>({
  id: STEP.trail,
  phase: 4,
  title: 'CloudTrail audit trail',
  needs: [STEP.auditBucket, STEP.frontendBucket],
  // The seed's cleanup order starts with the trail, so nothing writes into the audit bucket.
  cleanupRank: 1,
  // A trail that could not be deleted still logs into its audit bucket: keep the bucket then.
  // Its data events name the frontend bucket by ARN only, so that one goes regardless.
  teardownKeeps: [STEP.auditBucket],
  actions: [
    'cloudtrail:GetTrail',
    'cloudtrail:DescribeTrails',
    'cloudtrail:ListTags',
    'cloudtrail:CreateTrail',
    'cloudtrail:UpdateTrail',
    'cloudtrail:AddTags',
    'cloudtrail:GetEventSelectors',
    'cloudtrail:PutEventSelectors',
    'cloudtrail:GetTrailStatus',
    'cloudtrail:StartLogging',
    'cloudtrail:StopLogging',
    'cloudtrail:DeleteTrail',
  ],
  describe: (config) => [
    `CloudTrail ${config.security.trailName}: all regions, global service events, log file validation, management events read+write, S3 data events on the frontend bucket, logging started`,
  ],

  // Before anything bills: the trail name must be free (or this stack's trail, in this home
  // region), and the region must have room for one more trail. CloudTrail allows 5 trails per
  // region, multi-region trails counted in every region
  // (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html).
  preflightChecks: (config) => [
    `CloudTrail: the name ${config.security.trailName} is free (or this stack's), and ${config.region} has fewer than ${TRAILS_PER_REGION} trails`,
  ],
  async preflight(ctx) {
    const { DescribeTrailsCommand, paginateListTags } = await ctSdk();
    const ct = await ctx.aws.get('cloudtrail');
    const name = ctx.config.security.trailName;
    const trail = await getTrail(ct, name);
    const fix = 'Set security.trailName to another name in the config, then run the command again.';
    if (trail?.HomeRegion && trail.HomeRegion !== ctx.config.region)
      throw new CloudmartError(
        'AWS_ERROR',
        `CloudTrail ${name} already exists with home region ${trail.HomeRegion}, not ${ctx.config.region}: up would stop at Phase 4`,
        { exitCode: 2, hint: fix },
      );
    if (trail?.TrailARN) {
      let stack: string | undefined;
      for await (const page of paginateListTags(
        { client: ct },
        { ResourceIdList: [trail.TrailARN] },
      ))
        for (const r of page.ResourceTagList ?? [])
          stack ??= r.TagsList?.find((t) => t.Key === STACK_TAG)?.Value;
      if (stack !== ctx.config.stack)
        throw new CloudmartError(
          'AWS_ERROR',
          `CloudTrail ${name} already exists and is ${stack ? `stack "${stack}"'s` : 'not one cloudmart made'}: up would stop at Phase 4 rather than take it over`,
          { exitCode: 2, hint: fix },
        );
      return;
    }
    const { trailList = [] } = await ct.send(
      new DescribeTrailsCommand({ includeShadowTrails: true }),
    );
    if (trailList.length >= TRAILS_PER_REGION)
      throw new CloudmartError(
        'AWS_ERROR',
        `${ctx.config.region} already has ${trailList.length} CloudTrail trails (${trailList.map((t) => t.Name).join(', ')}), the most CloudTrail allows in a region: up would stop at Phase 4`,
        {
          exitCode: 2,
          hint: 'Delete a trail you no longer need (cloudmart only needs its own), then run the command again.',
        },
      );
  },

  async create(ctx) {
    const {
      CreateTrailCommand,
      GetEventSelectorsCommand,
      GetTrailStatusCommand,
      PutEventSelectorsCommand,
      StartLoggingCommand,
      UpdateTrailCommand,
    } = await ctSdk();
    const ct = await ctx.aws.get('cloudtrail');
    const name = ctx.config.security.trailName;
    const bucket = ctx.outputs<AuditBucketOutputs>(STEP.auditBucket).bucketName;
    const frontend = ctx.outputs<BucketOutputs>(STEP.frontendBucket).bucketName;

    let trail = await getTrail(ct, name);
    if (trail?.HomeRegion && trail.HomeRegion !== ctx.config.region) {
      throw new CloudmartError(
        'AWS_ERROR',
        `CloudTrail ${name} already exists with home region ${trail.HomeRegion}, not ${ctx.config.region}`,
        {
          hint: 'Set security.trailName to another name in the config, then run the command again.',
        },
      );
    }
    if (!trail) {
      ctx.progress(`creating CloudTrail ${name}`);
      try {
        // The bucket policy was just written; S3 can take a moment before CloudTrail sees it.
        const out = await retryWhile(
          ctx,
          () =>
            ct.send(
              new CreateTrailCommand({
                Name: name,
                S3BucketName: bucket,
                IsMultiRegionTrail: true,
                IncludeGlobalServiceEvents: true,
                EnableLogFileValidation: true,
                TagsList: ctx.tags.list(name),
              }),
            ),
          {
            what: `CloudTrail ${name} (bucket policy propagation)`,
            when: (e) => /InsufficientS3BucketPolicy/i.test((e as Error).name),
            timeoutMs: 2 * 60_000,
          },
        );
        trail = {
          Name: out.Name ?? name,
          TrailARN: out.TrailARN,
          S3BucketName: out.S3BucketName,
          IsMultiRegionTrail: out.IsMultiRegionTrail,
          IncludeGlobalServiceEvents: out.IncludeGlobalServiceEvents,
          LogFileValidationEnabled: out.LogFileValidationEnabled,
          HomeRegion: ctx.config.region,
        };
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        trail = await getTrail(ct, name);
        if (!trail) throw e;
      }
    } else {
      const drift = trailDrift(trail, bucket);
      if (drift.length > 0) {
        ctx.progress(`CloudTrail ${name}: updating (${drift.join(', ')})`);
        await ct.send(
          new UpdateTrailCommand({
            Name: name,
            S3BucketName: bucket,
            IsMultiRegionTrail: true,
            IncludeGlobalServiceEvents: true,
            EnableLogFileValidation: true,
          }),
        );
      }
    }

    const want = desiredSelectors(frontend, ctx.aws.partition());
    const live = await ct.send(new GetEventSelectorsCommand({ TrailName: name }));
    const drift = selectorDrift(live, want);
    if (drift.length > 0) {
      ctx.progress(`CloudTrail ${name}: writing event selectors (${drift.join(', ')})`);
      await ct.send(new PutEventSelectorsCommand({ TrailName: name, EventSelectors: want }));
    }

    const status = await ct.send(new GetTrailStatusCommand({ Name: name }));
    if (status.IsLogging !== true) {
      ctx.progress(`CloudTrail ${name}: starting logging`);
      await ct.send(new StartLoggingCommand({ Name: name }));
    }

    return {
      trailName: name,
      trailArn: trail.TrailARN ?? '',
      bucketName: bucket,
      homeRegion: trail.HomeRegion ?? ctx.config.region,
      dataEventBucket: frontend,
    };
  },

  async verify(ctx) {
    const { GetEventSelectorsCommand, GetTrailStatusCommand } = await ctSdk();
    const ct = await ctx.aws.get('cloudtrail');
    const name = ctx.config.security.trailName;
    const fix = 'cloudmart up --phase 4';
    const trail = await getTrail(ct, name);
    if (!trail) {
      return [
        {
          id: 'security.cloudtrail.exists',
          title: `CloudTrail ${name} exists`,
          criterion: 'audit-logs',
          status: 'fail',
          evidence: `no trail ${name}`,
          fix,
        },
      ];
    }
    const status = await ct.send(new GetTrailStatusCommand({ Name: name }));
    const checks: Check[] = [
      {
        id: 'security.cloudtrail.logging',
        title: `CloudTrail ${name} is logging`,
        criterion: 'audit-logs',
        status: status.IsLogging === true ? (status.LatestDeliveryError ? 'warn' : 'pass') : 'fail',
        evidence:
          `IsLogging=${status.IsLogging === true}` +
          (status.LatestDeliveryError
            ? `, latest delivery error: ${status.LatestDeliveryError}`
            : '') +
          (status.LatestDeliveryTime
            ? `, last delivery ${status.LatestDeliveryTime.toISOString()}`
            : ''),
        fix,
      },
      {
        id: 'security.cloudtrail.validation',
        title: 'Log file validation on',
        criterion: 'audit-logs',
        status: trail.LogFileValidationEnabled === true ? 'pass' : 'fail',
        evidence: `LogFileValidationEnabled=${trail.LogFileValidationEnabled === true}`,
        fix,
      },
      {
        id: 'security.cloudtrail.multi-region',
        title: 'Trail covers all regions and global service events',
        criterion: 'audit-logs',
        status:
          trail.IsMultiRegionTrail === true && trail.IncludeGlobalServiceEvents === true
            ? 'pass'
            : 'fail',
        evidence: `IsMultiRegionTrail=${trail.IsMultiRegionTrail === true} IncludeGlobalServiceEvents=${trail.IncludeGlobalServiceEvents === true}, bucket ${trail.S3BucketName ?? 'none'}`,
        fix,
      },
    ];

    const frontend = ctx.maybeOutputs<BucketOutputs>(STEP.frontendBucket)?.bucketName;
    if (!frontend) {
      checks.push({
        id: 'security.cloudtrail.selectors',
        title: 'Management events (read+write) and frontend S3 data events recorded',
        criterion: 'audit-logs',
        status: 'unknown',
        evidence: 'the frontend bucket has not been created',
        fix: 'cloudmart up --phase 1',
      });
      return checks;
    }
    const live = await ct.send(new GetEventSelectorsCommand({ TrailName: name }));
    const drift = selectorDrift(live, desiredSelectors(frontend, ctx.aws.partition()));
    checks.push({
      id: 'security.cloudtrail.selectors',
      title: 'Management events (read+write) and frontend S3 data events recorded',
      criterion: 'audit-logs',
      status: drift.length === 0 ? 'pass' : 'fail',
      evidence:
        drift.length === 0
          ? `management events All; data events on ${frontend}/`
          : drift.join('; '),
      fix,
    });
    return checks;
  },

  async teardown(ctx) {
    const { DeleteTrailCommand, StopLoggingCommand } = await ctSdk();
    const ct = await ctx.aws.get('cloudtrail');
    const name = ctx.config.security.trailName;
    // Stop first so no further log file lands in the audit bucket while the trail is deleted.
    try {
      await ct.send(new StopLoggingCommand({ Name: name }));
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    try {
      await ct.send(new DeleteTrailCommand({ Name: name }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
});
