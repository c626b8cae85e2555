import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { beforeEach, describe, expect, it } from 'vitest';
import { scalingView } from '../../src/load/scaling-view.js';
import { strictMock, TestAws } from '../helpers/context.js';

/**
 * What the load test reports about scaling reads every page: CloudWatch splits a long
 * window's points over pages, Auto Scaling lists activities newest first, page by page.
 */
describe('scalingView', () => {
  let cw: ReturnType<typeof strictMock>;
  let asg: ReturnType<typeof strictMock>;
  beforeEach(() => {
    cw = strictMock(CloudWatchClient);
    asg = strictMock(AutoScalingClient);
  });

  const start = new Date('2026-03-01T10:00:00Z');
  const end = new Date('2026-03-01T10:10:00Z');
  const at = (minutes: number) => new Date(start.getTime() + minutes * 60_000);

  it('averages the CPU points of every page and keeps the activities of the window only', async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [{ Id: 'cpu', Values: [10, 20], Timestamps: [at(1), at(2)] }],
        NextToken: 'p2',
      })
      .resolves({ MetricDataResults: [{ Id: 'cpu', Values: [90], Timestamps: [at(3)] }] });
    asg
      .on(DescribeScalingActivitiesCommand)
      .resolvesOnce({
        Activities: [
          {
            ActivityId: 'a3',
            AutoScalingGroupName: 'g',
            Cause: 'alarm',
            StartTime: at(5),
            StatusCode: 'Successful',
            Description: 'Launching a new EC2 instance',
          },
        ],
        NextToken: 'n2',
      })
      .resolves({
        Activities: [
          {
            ActivityId: 'a2',
            AutoScalingGroupName: 'g',
            Cause: 'alarm',
            StartTime: at(4),
            StatusCode: 'Successful',
            Description: 'Launching a second',
          },
          {
            ActivityId: 'a1',
            AutoScalingGroupName: 'g',
            Cause: 'old',
            StartTime: at(-30),
            StatusCode: 'Successful',
            Description: 'before the test',
          },
        ],
        NextToken: 'n3',
      });
    asg.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [
        {
          AutoScalingGroupName: 'g',
          DesiredCapacity: 3,
          MinSize: 2,
          MaxSize: 4,
          Instances: [],
          AvailabilityZones: [],
          DefaultCooldown: 300,
          HealthCheckType: 'ELB',
          CreatedTime: start,
        },
      ],
    });

    const view = await scalingView(new TestAws(), 'g', {
      start,
      end,
      before: { desired: 2, inService: 2, min: 2, max: 4 },
    });

    expect(view.cpuDatapoints).toBe(3);
    expect(view.cpuAverage).toBe(40);
    expect(view.cpuMax).toBe(90);
    expect(view.activities.map((a) => a.description)).toEqual([
      'Launching a new EC2 instance',
      'Launching a second',
    ]);
    // The page holding an activity older than the window ends the listing.
    expect(asg.commandCalls(DescribeScalingActivitiesCommand)).toHaveLength(2);
    expect(view.scaled).toBe(true);
  });
});
