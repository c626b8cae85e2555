import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

/**
 * plan and up refuse what is known to fail or cannot be priced: exit 2, and not one call to
 * AWS (the fake cloud records every call).
 */
describe('plan and up refuse what would fail or cannot be priced', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  const run = async (args: string[], yaml: string) => {
    const dir = tempDir();
    const config = join(dir, 'c.yaml');
    writeFileSync(config, `alerts:\n  email: ops@example.com\n${yaml}`);
    const io = recordingIo();
    const code = await main(
      ['node', 'cloudmart', ...args, '--config', config, '--state', join(dir, 's.json')],
      io,
    );
    return { code, text: io.text() };
  };

  const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/24`).join(', ');

  it.each([
    [
      'an unknown region',
      'region: ap-northeast-9\n',
      'region: ap-northeast-9 is not an AWS region',
    ],
    [
      'a misspelt instance type',
      'app:\n  instanceType: t3.mikro\n',
      'app.instanceType: t3.mikro is not an instance type',
    ],
    [
      'SMS from a region SNS does not send it from',
      // Goes on under the alerts section run() starts the file with.
      '  phone: "+821012345678"\n',
      'alerts.phone: Amazon SNS does not send SMS from ap-northeast-2',
    ],
    [
      'more ALB rules than the security group quota',
      `network:\n  allowedCidrs: [${cidrs(40)}]\n`,
      'network.allowedCidrs: the ALB security group needs 135 inbound rules',
    ],
  ])('%s: exit 2, no AWS call', async (_, yaml, message) => {
    for (const command of [['plan'], ['up', '--yes']]) {
      const r = await run(command, yaml);
      expect(r.code, r.text).toBe(2);
      expect(r.text).toContain(message);
    }
    expect(cloud.calls).toEqual([]);
  });

  it('over the budget or not priced: refused without --accept-cost, built with it', async () => {
    for (const yaml of ['budget:\n  usd: 0.05\n', 'app:\n  instanceType: m7i.large\n']) {
      for (const command of [['plan'], ['up', '--yes']]) {
        const r = await run(command, yaml);
        expect(r.code, r.text).toBe(2);
        expect(r.text).toContain('Not building:');
        expect(r.text).toContain('Pass --accept-cost to build it anyway');
      }
      expect(cloud.calls).toEqual([]);
      const plan = await run(['plan', '--accept-cost'], yaml);
      expect(plan.code, plan.text).toBe(0);
    }
    const up = await run(
      ['up', '--yes', '--step', 'network.vpc', '--accept-cost'],
      'budget:\n  usd: 0.05\n',
    );
    expect(up.code, up.text).toBe(0);
    expect(up.text).toContain('Going ahead anyway: --accept-cost was given.');
    expect(cloud.calls.some((c) => c.command === 'CreateVpc')).toBe(true);
  });

  /** A trail someone else made (no cloudmart tag), straight into the fake's store. */
  const foreignTrail = (name: string, multiRegion = false) =>
    cloud.world.add({
      service: 'cloudtrail',
      type: 'cloudtrail:trail',
      region: 'ap-northeast-2',
      id: name,
      arn: `arn:aws:cloudtrail:ap-northeast-2:${cloud.account}:trail/${name}`,
      name,
      tags: {},
      state: 'available',
      data: {
        bucket: 'someone-elses-bucket',
        globalEvents: true,
        multiRegion,
        validation: true,
        logging: true,
        selectors: [],
      },
    });

  it.each([
    [
      'the trail name is taken by a trail cloudmart did not make',
      () => foreignTrail('CloudMart-Audit-Trail'),
      'CloudTrail CloudMart-Audit-Trail already exists and is not one cloudmart made',
    ],
    [
      'the region already has the 5 trails CloudTrail allows',
      () => ['a', 'b', 'c', 'd', 'e'].forEach((n) => foreignTrail(`other-${n}`)),
      'ap-northeast-2 already has 5 CloudTrail trails',
    ],
  ])('up refuses before anything bills when %s (exit 2)', async (_, arrange, message) => {
    arrange();
    const r = await run(['up', '--yes'], '');
    expect(r.code, r.text).toBe(2);
    expect(r.text).toContain(message);
    expect(r.text).toMatch(/security\.trailName|Delete a trail/);
    expect(cloud.mutatingCalls()).toEqual([]);
  });

  /** Elastic IPs someone else holds in the region (another team's stack, a forgotten test). */
  const foreignEips = async (n: number) => {
    for (let i = 0; i < n; i++) await cloud.call('ec2', 'AllocateAddress', { Domain: 'vpc' });
  };

  it("up refuses before anything bills when the region has no room for the NAT gateways' 2 Elastic IPs (exit 2)", async () => {
    await foreignEips(4);
    const mark = cloud.calls.length;
    // plan cannot know (it sends nothing) but says what up checks first.
    const plan = await run(['plan'], '');
    expect(plan.code, plan.text).toBe(0);
    expect(plan.text).toContain('Before anything bills, up checks the account');
    expect(plan.text).toContain('Elastic IPs: room in ap-northeast-2 for 2 more');
    expect(plan.text).toContain('CloudFront: the account may create distributions');
    expect(cloud.calls.length).toBe(mark);
    const r = await run(['up', '--yes'], '');
    expect(r.code, r.text).toBe(2);
    expect(r.text).toContain(
      "Elastic IPs: ap-northeast-2 holds 4 of the account's 5 (vpc-max-elastic-ips) and the NAT gateways need 2 more",
    );
    expect(r.text).toContain('L-0263D0A3');
    expect(cloud.mutatingCalls(mark)).toEqual([]);
    // What up saved the user from: AWS refuses the sixth address.
    await cloud.call('ec2', 'AllocateAddress', { Domain: 'vpc' });
    await expect(cloud.call('ec2', 'AllocateAddress', { Domain: 'vpc' })).rejects.toMatchObject({
      name: 'AddressLimitExceeded',
    });
  });

  it("up refuses before anything bills when the roles' permissions boundary policy does not exist (exit 2)", async () => {
    const yaml = 'security:\n  permissionsBoundary: cloudmart-role-boundary\n';
    const plan = await run(['plan'], yaml);
    expect(plan.code, plan.text).toBe(0);
    expect(plan.text).toContain(
      "IAM: the roles' permissions boundary policy arn:aws:iam::<account-id>:policy/cloudmart-role-boundary exists (iam:GetPolicy)",
    );
    const r = await run(['up', '--yes'], yaml);
    expect(r.code, r.text).toBe(2);
    expect(r.text).toContain(
      'The permissions boundary policy arn:aws:iam::123456789012:policy/cloudmart-role-boundary (security.permissionsBoundary) does not exist',
    );
    expect(r.text).toContain(
      'aws iam create-policy --policy-name cloudmart-role-boundary --policy-document file://cloudmart-role-boundary.json',
    );
    expect(cloud.mutatingCalls()).toEqual([]);
  });

  it('a raised Elastic IP quota (EC2 says so in vpc-max-elastic-ips) is not refused', async () => {
    await foreignEips(4);
    cloud.world.regionSettings('ap-northeast-2').eipQuota = 10;
    const r = await run(['up', '--yes', '--phase', '1'], '');
    expect(r.code, r.text).toBe(0);
    expect(cloud.calls.some((c) => c.command === 'DescribeAccountAttributes')).toBe(true);
    expect(cloud.resources({ type: 'ec2:natgateway', live: true })).toHaveLength(2);
  });

  it('up refuses before anything bills when AWS has not verified the account for CloudFront (exit 2)', async () => {
    cloud.world.regionSettings('us-east-1').cloudfrontUnverified = true;
    const r = await run(['up', '--yes'], '');
    expect(r.code, r.text).toBe(2);
    expect(r.text).toContain('This AWS account is not yet verified for CloudFront');
    expect(r.text).toContain('AWS Support');
    expect(r.text).not.toContain('cloudmart policy');
    const sent = cloud.mutatingCalls().map((c) => c.command);
    expect(sent).toEqual(['CreateDistributionWithTags']);
  });

  it('a region already at 5 VPCs (its default VPC and 4 more): a warning before anything bills, then a clear stop at the VPC', async () => {
    // The default VPC every region comes with counts toward the quota: 4 more fill it.
    for (let i = 0; i < 4; i++)
      await cloud.call('ec2', 'CreateVpc', { CidrBlock: `10.${100 + i}.0.0/16` });
    const plan = await run(['plan'], '');
    expect(plan.text).toContain('VPCs: room in ap-northeast-2 for 1 more');
    const r = await run(['up', '--yes', '--phase', '1'], '');
    expect(r.code, r.text).toBe(1);
    const warning = r.text.indexOf('ap-northeast-2 already has 5 VPCs (the default VPC included)');
    expect(warning, r.text).toBeGreaterThan(-1);
    // Warned before the run, stopped at the VPC with the quota's code.
    const stop = r.text.indexOf('Creating cloudmart-vpc failed');
    expect(stop, r.text).toBeGreaterThan(warning);
    expect(r.text.slice(stop)).toContain('VpcLimitExceeded');
    expect(r.text.slice(stop)).toContain('L-F678F1CE');
  });

  it('a raised VPC quota: the same warning (cloudmart cannot read the quota), and up builds', async () => {
    cloud.world.regionSettings('ap-northeast-2').vpcQuota = 10;
    for (let i = 0; i < 4; i++)
      await cloud.call('ec2', 'CreateVpc', { CidrBlock: `10.${100 + i}.0.0/16` });
    const r = await run(['up', '--yes', '--phase', '1'], '');
    expect(r.code, r.text).toBe(0);
    expect(r.text).toContain('ap-northeast-2 already has 5 VPCs');
  });
});
