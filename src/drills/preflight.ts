import type { AutoScalingGroup, Instance } from '@aws-sdk/client-auto-scaling';
import type { TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DBInstance } from '@aws-sdk/client-rds';
import { CloudmartError } from '../errors.js';
import { joinUrl, stackBaseUrl } from '../load/target.js';
import {
  STEP,
  type AlbOutputs,
  type AsgOutputs,
  type DnsOutputs,
  type RdsOutputs,
} from '../steps/outputs.js';
import type { DrillContext, DrillName } from './context.js';

const asgsdk = () => import('@aws-sdk/client-auto-scaling');
const elbsdk = () => import('@aws-sdk/client-elastic-load-balancing-v2');
const rdssdk = () => import('@aws-sdk/client-rds');

/** What the drills read before (and while) they break something. */
export interface StackSnapshot {
  alb: AlbOutputs;
  asg: AsgOutputs;
  rds: RdsOutputs;
  /** http://<ALB> or https://api.<domain>. */
  baseUrl: string;
  group: AutoScalingGroup;
  targets: TargetHealthDescription[];
  db: DBInstance;
}

export async function describeGroup(
  ctx: DrillContext,
  name: string,
): Promise<AutoScalingGroup | undefined> {
  const { DescribeAutoScalingGroupsCommand } = await asgsdk();
  const client = await ctx.aws.get('autoscaling');
  const out = await client.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  return out.AutoScalingGroups?.[0];
}

export async function describeTargets(
  ctx: DrillContext,
  targetGroupArn: string,
): Promise<TargetHealthDescription[]> {
  const { DescribeTargetHealthCommand } = await elbsdk();
  const client = await ctx.aws.get('elbv2');
  const out = await client.send(
    new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }),
  );
  return out.TargetHealthDescriptions ?? [];
}

export async function describeDb(
  ctx: DrillContext,
  identifier: string,
): Promise<DBInstance | undefined> {
  const { DescribeDBInstancesCommand } = await rdssdk();
  const client = await ctx.aws.get('rds');
  try {
    const out = await client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
    );
    return out.DBInstances?.[0];
  } catch (e) {
    if ((e as Error).name === 'DBInstanceNotFoundFault') return undefined;
    throw e;
  }
}

export const targetState = (targets: TargetHealthDescription[], id: string): string =>
  targets.find((t) => t.Target?.Id === id)?.TargetHealth?.State ?? 'not registered';

export const isServing = (i: Instance): boolean =>
  i.LifecycleState === 'InService' && i.HealthStatus === 'Healthy';

/** An instance on its way out (terminated by a drill or scale-in): not a fault of the stack. */
const isLeaving = (i: Instance): boolean =>
  i.LifecycleState?.startsWith('Terminat') === true || i.LifecycleState === 'Detaching';

/** Steps a drill reads the outputs of, with the phase that builds them. */
const NEEDED = [STEP.alb, STEP.asg, STEP.rds] as const;

/**
 * Refuse to break anything unless the stack is whole: the steps are done, every instance is
 * InService and healthy, every target is healthy (at least two, so one can go), RDS is
 * available and Multi-AZ, and the app answers through the ALB. Every problem is listed at once.
 */
export async function preflight(
  ctx: DrillContext,
  drill: DrillName,
  probePath: string,
): Promise<StackSnapshot> {
  const missing = NEEDED.filter((id) => ctx.outputs(id) === undefined);
  if (missing.length > 0) {
    throw new CloudmartError(
      'NOT_READY',
      `The ${drill} drill needs a running stack, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not done`,
      { exitCode: 2, hint: 'Build the stack first: cloudmart up --phase 1' },
    );
  }
  const alb = ctx.outputs<AlbOutputs>(STEP.alb)!;
  const asg = ctx.outputs<AsgOutputs>(STEP.asg)!;
  const rds = ctx.outputs<RdsOutputs>(STEP.rds)!;
  const baseUrl = stackBaseUrl(ctx.config, alb, ctx.outputs<DnsOutputs>(STEP.dns));
  ctx.progress(`checking that the stack is healthy before the ${drill} drill`);

  const [group, targets, db] = await Promise.all([
    describeGroup(ctx, asg.autoScalingGroupName),
    describeTargets(ctx, alb.targetGroupArn),
    describeDb(ctx, rds.dbInstanceIdentifier),
  ]);
  const url = joinUrl(baseUrl, probePath);
  const probe = await ctx.probe(url, 5_000);

  const problems: string[] = [];
  if (!group) problems.push(`Auto Scaling group ${asg.autoScalingGroupName} does not exist`);
  else {
    const instances = group.Instances ?? [];
    const serving = instances.filter(isServing);
    if (serving.length < (group.DesiredCapacity ?? 0))
      problems.push(
        `Auto Scaling group ${asg.autoScalingGroupName} has ${serving.length} InService and healthy instance(s) of ${group.DesiredCapacity ?? '?'} desired`,
      );
    for (const i of instances.filter((i) => !isServing(i) && !isLeaving(i)))
      problems.push(`instance ${i.InstanceId} is ${i.LifecycleState}/${i.HealthStatus}`);
  }
  const healthy = targets.filter((t) => t.TargetHealth?.State === 'healthy');
  // A draining target is one leaving (e.g. the instance an earlier drill terminated): not a fault.
  for (const t of targets.filter(
    (t) => t.TargetHealth?.State !== 'healthy' && t.TargetHealth?.State !== 'draining',
  ))
    problems.push(
      `target ${t.Target?.Id} is ${t.TargetHealth?.State}${t.TargetHealth?.Reason ? ` (${t.TargetHealth.Reason})` : ''}`,
    );
  if (healthy.length < 2)
    problems.push(
      `only ${healthy.length} healthy target(s) behind the ALB; the drills need at least 2 so the service can stay up`,
    );
  if (!db) problems.push(`RDS instance ${rds.dbInstanceIdentifier} does not exist`);
  else {
    if (db.DBInstanceStatus !== 'available')
      problems.push(`RDS ${rds.dbInstanceIdentifier} is ${db.DBInstanceStatus}, not available`);
    if (db.MultiAZ !== true) problems.push(`RDS ${rds.dbInstanceIdentifier} is not Multi-AZ`);
  }
  if (!probe.ok)
    problems.push(
      `the app does not answer at ${url} (${probe.status !== undefined ? `HTTP ${probe.status}` : probe.error})`,
    );

  if (problems.length > 0 || !group || !db) {
    throw new CloudmartError(
      'NOT_READY',
      `The stack is not healthy, so the ${drill} drill did not start (nothing was changed):\n  - ${problems.join('\n  - ')}`,
      {
        hint: 'Wait until "cloudmart verify" passes (instances replaced, targets healthy, RDS available), then run the drill again.',
      },
    );
  }
  return { alb, asg, rds, baseUrl, group, targets, db };
}
