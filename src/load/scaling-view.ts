import type { Activity, AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { Aws } from '../aws/clients.js';
import { allPages } from '../aws/pages.js';
import { InterruptedError } from '../errors.js';

const asgsdk = () => import('@aws-sdk/client-auto-scaling');
const cwsdk = () => import('@aws-sdk/client-cloudwatch');

export interface GroupCounts {
  desired: number;
  inService: number;
  min: number;
  max: number;
}

export interface ScalingActivity {
  at: string;
  status: string;
  description: string;
}

/**
 * The group's scaling activities since `since`, newest first: pages are read until one holds
 * an activity older than that (Auto Scaling lists the newest first).
 */
async function activitiesSince(
  asg: AutoScalingClient,
  name: string,
  since: Date,
): Promise<Activity[]> {
  const { paginateDescribeScalingActivities } = await asgsdk();
  const out: Activity[] = [];
  for await (const page of paginateDescribeScalingActivities(
    { client: asg },
    { AutoScalingGroupName: name },
  )) {
    const activities = page.Activities ?? [];
    out.push(...activities);
    if (activities.some((a) => a.StartTime && a.StartTime.getTime() < since.getTime())) break;
  }
  return out.filter((a) => a.StartTime && a.StartTime.getTime() >= since.getTime());
}

/** What Auto Scaling and CloudWatch say about a load test's window. */
export interface ScalingView {
  autoScalingGroupName: string;
  before: GroupCounts | null;
  after: GroupCounts | null;
  /** Average of the group's CPUUtilization (1-minute points) over the window, %. */
  cpuAverage: number | null;
  cpuMax: number | null;
  cpuDatapoints: number;
  activities: ScalingActivity[];
  /** The desired capacity changed, or a scaling activity started in the window. */
  scaled: boolean;
}

export async function groupCounts(aws: Aws, name: string): Promise<GroupCounts | null> {
  const { DescribeAutoScalingGroupsCommand } = await asgsdk();
  const client = await aws.get('autoscaling');
  const out = await client.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
  );
  const g = out.AutoScalingGroups?.[0];
  if (!g) return null;
  return {
    desired: g.DesiredCapacity ?? 0,
    inService: (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length,
    min: g.MinSize ?? 0,
    max: g.MaxSize ?? 0,
  };
}

/** CPU of the group over [start, end] and the scaling activities that started in it. */
export async function scalingView(
  aws: Aws,
  name: string,
  window: { start: Date; end: Date; before: GroupCounts | null },
): Promise<ScalingView> {
  const { paginateGetMetricData } = await cwsdk();
  const cw = await aws.get('cloudwatch');
  const asg = await aws.get('autoscaling');
  // Whole minutes around the window: CloudWatch aligns 60 s points on the minute.
  const start = new Date(Math.floor(window.start.getTime() / 60_000) * 60_000);
  const end = new Date(Math.ceil(window.end.getTime() / 60_000) * 60_000 + 60_000);
  const [values, activities, after] = await Promise.all([
    // A long window's points come over several pages, each with part of the values.
    allPages(
      paginateGetMetricData(
        { client: cw },
        {
          StartTime: start,
          EndTime: end,
          MetricDataQueries: [
            {
              Id: 'cpu',
              MetricStat: {
                Metric: {
                  Namespace: 'AWS/EC2',
                  MetricName: 'CPUUtilization',
                  Dimensions: [{ Name: 'AutoScalingGroupName', Value: name }],
                },
                Period: 60,
                Stat: 'Average',
              },
            },
          ],
        },
      ),
      (page) => page.MetricDataResults?.find((r) => r.Id === 'cpu')?.Values,
    ),
    activitiesSince(asg, name, window.start),
    groupCounts(aws, name),
  ]);
  const recent = activities.map((a) => ({
    at: a.StartTime!.toISOString(),
    status: a.StatusCode ?? '?',
    description: a.Description ?? '',
  }));
  const round1 = (n: number) => Math.round(n * 10) / 10;
  return {
    autoScalingGroupName: name,
    before: window.before,
    after,
    cpuAverage:
      values.length > 0 ? round1(values.reduce((a, b) => a + b, 0) / values.length) : null,
    cpuMax: values.length > 0 ? round1(Math.max(...values)) : null,
    cpuDatapoints: values.length,
    activities: recent,
    scaled:
      recent.length > 0 ||
      (window.before !== null && after !== null && after.desired !== window.before.desired),
  };
}

export interface WatchContext {
  aws: Aws;
  signal: AbortSignal;
  sleep(ms: number): Promise<void>;
  now(): number;
  report(line: string): void;
}

/**
 * After the test, follow the group for a bounded time: report every change of desired or
 * in-service counts; stop once the group scaled and every desired instance is in service.
 */
export async function watchScaling(
  ctx: WatchContext,
  name: string,
  before: GroupCounts | null,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<GroupCounts | null> {
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const everyMs = options.everyMs ?? 15_000;
  const start = ctx.now();
  let last = before;
  for (;;) {
    if (ctx.signal.aborted) throw new InterruptedError('Stopped watching the Auto Scaling group');
    const now = await groupCounts(ctx.aws, name);
    const elapsed = Math.round((ctx.now() - start) / 1000);
    if (now && (!last || now.desired !== last.desired || now.inService !== last.inService))
      ctx.report(`  +${elapsed}s desired ${now.desired}, in service ${now.inService}`);
    last = now;
    const scaled = before !== null && now !== null && now.desired !== before.desired;
    if (scaled && now.inService >= now.desired) return now;
    if (ctx.now() - start >= timeoutMs) {
      ctx.report(
        `  no ${scaled ? 'settled ' : ''}scaling within ${Math.round(timeoutMs / 60_000)} min (desired ${now?.desired ?? '?'}, in service ${now?.inService ?? '?'})`,
      );
      return now;
    }
    await ctx.sleep(everyMs);
  }
}
