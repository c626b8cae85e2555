import {
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  DeleteInternetGatewayCommand,
  DescribeInternetGatewaysCommand,
  DetachInternetGatewayCommand,
  EC2Client,
  type AttachmentStatus,
  type InternetGateway,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import { internetGatewayStep } from '../../../src/steps/phase1-foundation/internet-gateway.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testContext } from '../../helpers/context.js';

// AWS reports an attached internet gateway as "available", a value the SDK's type lacks.
const AVAILABLE = 'available' as unknown as AttachmentStatus;
const attached = (vpcId = 'vpc-1'): InternetGateway => ({
  InternetGatewayId: 'igw-1',
  Attachments: [{ VpcId: vpcId, State: AVAILABLE }],
});

describe('network.igw', () => {
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({
      stepId: internetGatewayStep.id,
      outputs: { [STEP.vpc]: { vpcId: 'vpc-1', cidr: '10.0.0.0/16' } },
      ...over,
    });

  it('retries the attach while the gateway it just created reads InvalidInternetGatewayID.NotFound', async () => {
    ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });
    ec2
      .on(CreateInternetGatewayCommand)
      .resolves({ InternetGateway: { InternetGatewayId: 'igw-1', Attachments: [] } });
    ec2
      .on(AttachInternetGatewayCommand)
      .rejectsOnce(awsError('InvalidInternetGatewayID.NotFound'))
      .rejectsOnce(awsError('InvalidInternetGatewayID.NotFound'))
      .resolves({});
    const c = ctx();

    await expect(internetGatewayStep.create(c)).resolves.toEqual({ internetGatewayId: 'igw-1' });
    expect(ec2.commandCalls(AttachInternetGatewayCommand).map((x) => x.args[0].input)).toEqual([
      { InternetGatewayId: 'igw-1', VpcId: 'vpc-1' },
      { InternetGatewayId: 'igw-1', VpcId: 'vpc-1' },
      { InternetGatewayId: 'igw-1', VpcId: 'vpc-1' },
    ]);
    expect(
      c.progressLog.filter((l) => l.includes('waiting (InvalidInternetGatewayID.NotFound)')),
    ).toHaveLength(2);
  });

  it('does not retry the attach of an adopted gateway that reads NotFound', async () => {
    ec2
      .on(DescribeInternetGatewaysCommand)
      .resolves({ InternetGateways: [{ InternetGatewayId: 'igw-1', Attachments: [] }] });
    ec2.on(AttachInternetGatewayCommand).rejects(awsError('InvalidInternetGatewayID.NotFound'));

    await expect(internetGatewayStep.create(ctx())).rejects.toThrow(
      'InvalidInternetGatewayID.NotFound',
    );
    expect(ec2.commandCalls(AttachInternetGatewayCommand)).toHaveLength(1);
  });

  it('creates the gateway tagged at creation and attaches it to the VPC', async () => {
    ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });
    ec2
      .on(CreateInternetGatewayCommand)
      .resolves({ InternetGateway: { InternetGatewayId: 'igw-1', Attachments: [] } });
    ec2.on(AttachInternetGatewayCommand).resolves({});

    const out = await internetGatewayStep.create(ctx());

    expect(out).toEqual({ internetGatewayId: 'igw-1' });
    expect(ec2.commandCalls(DescribeInternetGatewaysCommand)[0]!.args[0].input).toEqual({
      Filters: [
        { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
        { Name: 'tag:cloudmart:step', Values: ['network.igw'] },
      ],
    });
    expect(ec2.commandCalls(CreateInternetGatewayCommand)[0]!.args[0].input).toEqual({
      TagSpecifications: [
        {
          ResourceType: 'internet-gateway',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-igw' },
            { Key: 'cloudmart:stack', Value: 'cloudmart' },
            { Key: 'cloudmart:step', Value: 'network.igw' },
          ]),
        },
      ],
    });
    expect(ec2.commandCalls(AttachInternetGatewayCommand).map((c) => c.args[0].input)).toEqual([
      { InternetGatewayId: 'igw-1', VpcId: 'vpc-1' },
    ]);
  });

  it('adopts an attached gateway and sends nothing else', async () => {
    ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [attached()] });

    const out = await internetGatewayStep.create(ctx());

    expect(out.internetGatewayId).toBe('igw-1');
    expect(ec2.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual([
      'DescribeInternetGatewaysCommand',
    ]);
  });

  it('attaches an adopted gateway a crash left detached, without creating another', async () => {
    ec2
      .on(DescribeInternetGatewaysCommand)
      .resolves({ InternetGateways: [{ InternetGatewayId: 'igw-1', Attachments: [] }] });
    ec2.on(AttachInternetGatewayCommand).resolves({});

    await internetGatewayStep.create(ctx());

    expect(ec2.commandCalls(CreateInternetGatewayCommand)).toHaveLength(0);
    expect(ec2.commandCalls(AttachInternetGatewayCommand)).toHaveLength(1);
  });

  it('refuses a tagged gateway attached to another VPC', async () => {
    ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [attached('vpc-other')] });
    await expect(internetGatewayStep.create(ctx())).rejects.toBeInstanceOf(CloudmartError);
    expect(ec2.commandCalls(AttachInternetGatewayCommand)).toHaveLength(0);
  });

  describe('verify', () => {
    it('passes when attached to the VPC', async () => {
      ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [attached()] });
      const [check] = await internetGatewayStep.verify(ctx());
      expect(check).toMatchObject({ id: 'network.igw.attached', status: 'pass' });
      expect(check!.evidence).toBe('igw-1 attachments: vpc-1 available');
    });

    it('reports a detached gateway', async () => {
      ec2
        .on(DescribeInternetGatewaysCommand)
        .resolves({ InternetGateways: [{ InternetGatewayId: 'igw-1', Attachments: [] }] });
      const [check] = await internetGatewayStep.verify(ctx());
      expect(check).toMatchObject({ id: 'network.igw.attached', status: 'fail' });
      expect(check!.evidence).toContain('none');
    });

    it('reports a missing gateway', async () => {
      ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });
      const [check] = await internetGatewayStep.verify(ctx());
      expect(check).toMatchObject({ status: 'fail', fix: 'cloudmart up --phase 1' });
    });
  });

  describe('teardown', () => {
    it('detaches (retrying while NAT or ALB addresses are mapped), then deletes', async () => {
      ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [attached()] });
      ec2
        .on(DetachInternetGatewayCommand)
        .rejectsOnce(
          awsError('DependencyViolation', 'Network vpc-1 has some mapped public address(es)'),
        )
        .rejectsOnce(awsError('DependencyViolation'))
        .resolves({});
      ec2.on(DeleteInternetGatewayCommand).resolves({});
      const c = ctx();

      await internetGatewayStep.teardown(c);

      const names = ec2.calls().map((x) => (x.args[0] as object).constructor.name);
      expect(names).toEqual([
        'DescribeInternetGatewaysCommand',
        'DetachInternetGatewayCommand',
        'DetachInternetGatewayCommand',
        'DetachInternetGatewayCommand',
        'DeleteInternetGatewayCommand',
      ]);
      expect(ec2.commandCalls(DetachInternetGatewayCommand)[0]!.args[0].input).toEqual({
        InternetGatewayId: 'igw-1',
        VpcId: 'vpc-1',
      });
      expect(c.progressLog.filter((l) => l.includes('DependencyViolation'))).toHaveLength(2);
    });

    it('does not retry forever: the detach error surfaces after the bound', async () => {
      ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [attached()] });
      ec2.on(DetachInternetGatewayCommand).rejects(awsError('DependencyViolation'));
      const c = ctx();
      await expect(internetGatewayStep.teardown(c)).rejects.toThrow('DependencyViolation');
      expect(ec2.commandCalls(DeleteInternetGatewayCommand)).toHaveLength(0);
      expect(c.slept()).toBeLessThan(20 * 60_000);
    });

    it('deletes a gateway that is no longer attached (Gateway.NotAttached)', async () => {
      ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [attached()] });
      ec2.on(DetachInternetGatewayCommand).rejects(awsError('Gateway.NotAttached'));
      ec2.on(DeleteInternetGatewayCommand).resolves({});
      await internetGatewayStep.teardown(ctx());
      expect(ec2.commandCalls(DeleteInternetGatewayCommand)).toHaveLength(1);
    });

    it('succeeds when the gateway is already gone', async () => {
      ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });
      ec2
        .on(DescribeInternetGatewaysCommand, { InternetGatewayIds: ['igw-old'] })
        .rejects(awsError('InvalidInternetGatewayID.NotFound'));

      await expect(
        internetGatewayStep.teardown(ctx({ previous: { internetGatewayId: 'igw-old' } })),
      ).resolves.toBeUndefined();
      expect(ec2.commandCalls(DeleteInternetGatewayCommand)).toHaveLength(0);
      expect(ec2.commandCalls(DetachInternetGatewayCommand)).toHaveLength(0);
    });
  });
});
