import { CloudWatchClient, ListDashboardsCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeNatGatewaysCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { beforeEach, describe, expect, it } from 'vitest';
import { sweep } from '../../src/aws/sweep.js';
import { strictMock, TestAws, testConfig } from '../helpers/context.js';

describe('destroy sweep', () => {
  let tagging: ReturnType<typeof strictMock>;
  let logs: ReturnType<typeof strictMock>;
  let kms: ReturnType<typeof strictMock>;
  let ec2: ReturnType<typeof strictMock>;
  let cloudwatch: ReturnType<typeof strictMock>;
  beforeEach(() => {
    tagging = strictMock(ResourceGroupsTaggingAPIClient);
    logs = strictMock(CloudWatchLogsClient);
    kms = strictMock(KMSClient);
    ec2 = strictMock(EC2Client);
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    cloudwatch = strictMock(CloudWatchClient);
    cloudwatch.on(ListDashboardsCommand).resolves({ DashboardEntries: [] });
  });

  it('finds nothing when nothing is tagged with the stack in any of its regions', async () => {
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] });
    expect(await sweep(new TestAws(), testConfig())).toEqual([]);
    expect(tagging.commandCalls(GetResourcesCommand)[0]!.args[0].input.TagFilters).toEqual([
      { Key: 'cloudmart:stack', Values: ['cloudmart'] },
    ]);
    // main region, DR region and us-east-1
    expect(tagging.commandCalls(GetResourcesCommand)).toHaveLength(3);
  });

  it('reports leftovers, keeps a KMS key pending deletion as "kept", drops a NAT that is already deleted', async () => {
    const arn = (s: string) => `arn:aws:${s}`;
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({
        ResourceTagMappingList: [
          { ResourceARN: arn('ec2:ap-northeast-2:123456789012:security-group/sg-1') },
          { ResourceARN: arn('kms:ap-northeast-2:123456789012:key/k-1') },
          { ResourceARN: arn('ec2:ap-northeast-2:123456789012:natgateway/nat-1') },
        ],
        PaginationToken: 'next',
      })
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: arn('s3:::cloudmart-frontend') }] })
      .resolves({ ResourceTagMappingList: [] });
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { KeyId: 'k-1', KeyState: 'PendingDeletion' } });
    ec2
      .on(DescribeNatGatewaysCommand)
      .resolves({ NatGateways: [{ NatGatewayId: 'nat-1', State: 'deleted' }] });
    logs
      .on(DescribeLogGroupsCommand, { logGroupNamePrefix: '/aws/rds/instance/cloudmart-db/' })
      .resolves({
        logGroups: [
          {
            logGroupName: '/aws/rds/instance/cloudmart-db/postgresql',
            arn: 'arn:aws:logs:ap-northeast-2:1:log-group:/aws/rds/instance/cloudmart-db/postgresql:*',
          },
        ],
      });

    cloudwatch.on(ListDashboardsCommand).resolves({
      DashboardEntries: [
        {
          DashboardName: 'CloudMart-Production',
          DashboardArn: 'arn:aws:cloudwatch::1:dashboard/CloudMart-Production',
        },
      ],
    });

    const found = await sweep(new TestAws(), testConfig());

    expect(found.map((f) => [f.type, f.kept])).toEqual([
      ['ec2:security-group', false],
      ['kms:key', true],
      ['s3:bucket', false],
      ['logs:log-group', false],
      ['cloudwatch:dashboard', false],
    ]);
    expect(found[1]!.note).toContain('scheduled for deletion');
    expect(tagging.commandCalls(GetResourcesCommand)[1]!.args[0].input.PaginationToken).toBe(
      'next',
    );
  });
});
