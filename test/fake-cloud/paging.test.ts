import { EC2Client, paginateDescribeVpcs, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { IAMClient, paginateListAttachedRolePolicies } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { FakeCloud } from '../helpers/fake-cloud/index.js';

/**
 * The fake cloud pages every list AWS's model paginates (paginators-1.json) with a small page
 * size in tests, so a step that reads only the first page misses resources here as it would on
 * AWS; a request that names the resources it wants comes back whole, as AWS answers it.
 */
const R = 'ap-northeast-2';
const tags = [{ ResourceType: 'vpc' as const, Tags: [{ Key: 'cloudmart:stack', Value: 's' }] }];
const filters = [{ Name: 'tag:cloudmart:stack', Values: ['s'] }];

describe('FakeCloud paging', () => {
  it('answers a filtered describe in pages of 2: the first page alone is not the list', async () => {
    const cloud = await new FakeCloud().install();
    try {
      const ec2 = new EC2Client({ region: R });
      // Five VPCs beside the region's default one: more than AWS's default quota allows.
      cloud.world.regionSettings(R).vpcQuota = 10;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const out = (await cloud.call('ec2', 'CreateVpc', {
          CidrBlock: `10.${i}.0.0/16`,
          TagSpecifications: tags,
        })) as { Vpc: { VpcId: string } };
        ids.push(out.Vpc.VpcId);
      }
      const first = await ec2.send(new DescribeVpcsCommand({ Filters: filters }));
      expect(first.Vpcs).toHaveLength(2);
      expect(first.NextToken).toBeTruthy();
      const all: string[] = [];
      for await (const page of paginateDescribeVpcs({ client: ec2 }, { Filters: filters }))
        all.push(...(page.Vpcs ?? []).map((v) => v.VpcId!));
      expect(all.sort()).toEqual([...ids].sort());
      // Named by id: one page, as AWS answers (MaxResults cannot be combined with ids).
      const named = await ec2.send(new DescribeVpcsCommand({ VpcIds: ids }));
      expect(named.Vpcs).toHaveLength(5);
      expect(named.NextToken).toBeUndefined();
    } finally {
      cloud.uninstall();
    }
  });

  it('pages lists its handlers return whole (IAM: Marker and IsTruncated)', async () => {
    const cloud = await new FakeCloud().install();
    try {
      await cloud.call('iam', 'CreateRole', {
        RoleName: 'r',
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
      });
      const arns = [
        'AmazonSSMManagedInstanceCore',
        'CloudWatchAgentServerPolicy',
        'AdministratorAccess',
      ].map((p) => `arn:aws:iam::aws:policy/${p}`);
      for (const PolicyArn of arns)
        await cloud.call('iam', 'AttachRolePolicy', { RoleName: 'r', PolicyArn });
      const first = (await cloud.call('iam', 'ListAttachedRolePolicies', { RoleName: 'r' })) as {
        AttachedPolicies: unknown[];
        IsTruncated: boolean;
        Marker?: string;
      };
      expect(first.AttachedPolicies).toHaveLength(2);
      expect(first.IsTruncated).toBe(true);
      const iam = new IAMClient({ region: 'us-east-1' });
      const all: string[] = [];
      for await (const page of paginateListAttachedRolePolicies({ client: iam }, { RoleName: 'r' }))
        all.push(...(page.AttachedPolicies ?? []).map((p) => p.PolicyArn!));
      expect(all.sort()).toEqual([...arns].sort());
    } finally {
      cloud.uninstall();
    }
  });
});
