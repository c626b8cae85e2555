import {
  AssociateKmsKeyCommand,
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DescribeLogGroupsCommand,
  PutRetentionPolicyCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateFlowLogsCommand,
  DeleteFlowLogsCommand,
  DescribeFlowLogsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { STEP } from '../../../src/steps/outputs.js';
import {
  deliveryPolicy,
  flowLogsStep,
  trustPolicy,
} from '../../../src/steps/phase4-security/flow-logs.js';
import { ACCOUNT, awsError, strictMock, testContext } from '../../helpers/context.js';
import { mutatingCalls, role, seq } from '../phase3-backup/helpers.js';

const GROUP = '/aws/vpc/cloudmart-flow-logs';
const GROUP_ARN = `arn:aws:logs:ap-northeast-2:${ACCOUNT}:log-group:${GROUP}`;
const KEY_ARN = `arn:aws:kms:ap-northeast-2:${ACCOUNT}:key/k-1`;
const ROLE = 'cloudmart-flow-logs-role';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/${ROLE}`;
const noEntity = () => awsError('NoSuchEntityException', 'not found', 404);
const encoded = (doc: unknown) => encodeURIComponent(JSON.stringify(doc));

describe('security.flow-logs', () => {
  let logs: ReturnType<typeof strictMock>;
  let iam: ReturnType<typeof strictMock>;
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    logs = strictMock(CloudWatchLogsClient);
    iam = strictMock(IAMClient);
    ec2 = strictMock(EC2Client);
  });

  const ctx = (previous?: Record<string, unknown>, withOutputs = true) =>
    testContext({
      stepId: flowLogsStep.id,
      ...(previous ? { previous } : {}),
      outputs: withOutputs
        ? {
            [STEP.vpc]: { vpcId: 'vpc-1', cidr: '10.0.0.0/16' },
            [STEP.kms]: { keyId: 'k-1', keyArn: KEY_ARN, aliasName: 'alias/cloudmart' },
          }
        : {},
    });

  it('creates the encrypted log group, the scoped role and the flow log with exact parameters', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    logs.on(CreateLogGroupCommand).resolves({});
    logs.on(PutRetentionPolicyCommand).resolves({});
    iam.on(GetRoleCommand).rejects(noEntity());
    iam.on(CreateRoleCommand).resolves({ Role: role(ROLE, ROLE_ARN) });
    iam.on(GetRolePolicyCommand).rejects(noEntity());
    iam.on(PutRolePolicyCommand).resolves({});
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [] });
    ec2
      .on(DescribeFlowLogsCommand, { FlowLogIds: ['fl-1'] })
      .resolves({ FlowLogs: [{ FlowLogId: 'fl-1', ResourceId: 'vpc-1' }] });
    ec2.on(CreateFlowLogsCommand).resolves({ FlowLogIds: ['fl-1'] });

    const out = await flowLogsStep.create(ctx());

    expect(logs.commandCalls(CreateLogGroupCommand)[0]!.args[0].input).toEqual({
      logGroupName: GROUP,
      kmsKeyId: KEY_ARN,
      tags: expect.objectContaining({ 'cloudmart:stack': 'cloudmart', Name: GROUP }),
    });
    expect(logs.commandCalls(PutRetentionPolicyCommand)[0]!.args[0].input).toEqual({
      logGroupName: GROUP,
      retentionInDays: 7,
    });
    expect(logs.commandCalls(AssociateKmsKeyCommand)).toHaveLength(0);

    const created = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(created.RoleName).toBe(ROLE);
    expect(JSON.parse(created.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': ACCOUNT },
            ArnLike: { 'aws:SourceArn': `arn:aws:ec2:ap-northeast-2:${ACCOUNT}:vpc-flow-log/*` },
          },
        },
      ],
    });
    const policy = iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input;
    expect(policy.RoleName).toBe(ROLE);
    // Only that log group (and its streams): no wildcard resource.
    expect(JSON.parse(policy.PolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          Resource: [GROUP_ARN, `${GROUP_ARN}:log-stream:*`],
        },
      ],
    });

    expect(ec2.commandCalls(DescribeFlowLogsCommand)[0]!.args[0].input.Filter).toEqual([
      { Name: 'resource-id', Values: ['vpc-1'] },
      { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
      { Name: 'tag:cloudmart:step', Values: ['security.flow-logs'] },
    ]);
    expect(ec2.commandCalls(CreateFlowLogsCommand)[0]!.args[0].input).toEqual({
      ResourceIds: ['vpc-1'],
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: GROUP,
      DeliverLogsPermissionArn: ROLE_ARN,
      TagSpecifications: [
        {
          ResourceType: 'vpc-flow-log',
          Tags: expect.arrayContaining([{ Key: 'cloudmart:stack', Value: 'cloudmart' }]),
        },
      ],
      // Unique per run (the clock) and per attempt.
      ClientToken: 'cloudmart-flow-logs-1700000000000-1',
    });
    // The returned id is recorded only once EC2 lists it.
    expect(ec2.commandCalls(DescribeFlowLogsCommand)[1]!.args[0].input).toEqual({
      FlowLogIds: ['fl-1'],
    });
    expect(out).toEqual({
      flowLogId: 'fl-1',
      logGroupName: GROUP,
      logGroupArn: GROUP_ARN,
      roleName: ROLE,
      roleArn: ROLE_ARN,
    });
  });

  it('retries CreateFlowLogs with a fresh token while the new role propagates', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: [{ logGroupName: GROUP, retentionInDays: 7, kmsKeyId: KEY_ARN }],
    });
    iam.on(GetRoleCommand).rejects(noEntity());
    iam.on(CreateRoleCommand).resolves({ Role: role(ROLE, ROLE_ARN) });
    iam.on(GetRolePolicyCommand).rejects(noEntity());
    iam.on(PutRolePolicyCommand).resolves({});
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [] });
    ec2
      .on(CreateFlowLogsCommand)
      .resolvesOnce({
        Unsuccessful: [
          {
            ResourceId: 'vpc-1',
            Error: { Code: 'InvalidParameter', Message: 'Unable to assume given IAM role' },
          },
        ],
      })
      .resolves({ FlowLogIds: ['fl-2'] });
    ec2
      .on(DescribeFlowLogsCommand, { FlowLogIds: ['fl-2'] })
      .resolves({ FlowLogs: [{ FlowLogId: 'fl-2' }] });

    const out = await flowLogsStep.create(ctx());

    const calls = ec2.commandCalls(CreateFlowLogsCommand);
    expect(calls.map((c) => c.args[0].input.ClientToken)).toEqual([
      'cloudmart-flow-logs-1700000000000-1',
      'cloudmart-flow-logs-1700000000000-2',
    ]);
    expect(out.flowLogId).toBe('fl-2');
  });

  /** The group, role and policy as create leaves them: only the flow log is in question. */
  function convergedGroupAndRole() {
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: [{ logGroupName: GROUP, retentionInDays: 7, kmsKeyId: KEY_ARN }],
    });
    iam.on(GetRoleCommand).resolves({
      Role: role(ROLE, ROLE_ARN, {
        AssumeRolePolicyDocument: encoded(trustPolicy(ACCOUNT, 'aws', 'ap-northeast-2')),
      }),
    });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encoded(deliveryPolicy(GROUP_ARN)) });
  }

  /**
   * EC2 as it treats client tokens: a token it has seen gets the first answer again (here the
   * id of a flow log deleted since), whatever exists now. Flow logs live in `live`.
   */
  function ec2WithTokenReplay(live: Set<string>) {
    const answers = new Map<string, string>();
    let next = 1;
    ec2.on(CreateFlowLogsCommand).callsFake((input: { ClientToken: string }) => {
      let id = answers.get(input.ClientToken);
      if (!id) {
        id = `fl-${next++}`;
        answers.set(input.ClientToken, id);
        live.add(id);
      }
      return Promise.resolve({ FlowLogIds: [id], Unsuccessful: [] });
    });
    ec2
      .on(DescribeFlowLogsCommand)
      .callsFake((input: { FlowLogIds?: string[]; Filter?: unknown[] }) =>
        Promise.resolve({
          FlowLogs: [...live]
            .filter((id) => !input.FlowLogIds || input.FlowLogIds.includes(id))
            .map((id) => ({ FlowLogId: id, ResourceId: 'vpc-1' })),
        }),
      );
  }

  it('drift: a flow log deleted after the last run is created again by the next up', async () => {
    convergedGroupAndRole();
    const live = new Set<string>();
    ec2WithTokenReplay(live);

    const first = ctx();
    const out1 = await flowLogsStep.create(first);
    expect(out1.flowLogId).toBe('fl-1');

    // Someone deletes the flow log; a later run (its clock has moved on) must make a new one.
    live.delete('fl-1');
    const second = ctx({ flowLogId: 'fl-1' });
    await second.sleep(3_600_000);
    const out2 = await flowLogsStep.create(second);

    const tokens = ec2.commandCalls(CreateFlowLogsCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).not.toBe(tokens[0]);
    expect(out2.flowLogId).toBe('fl-2');
    expect([...live]).toEqual(['fl-2']);
  });

  it('refuses to record an id CreateFlowLogs returned that EC2 does not list', async () => {
    convergedGroupAndRole();
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [] });
    ec2.on(CreateFlowLogsCommand).resolves({ FlowLogIds: ['fl-gone'], Unsuccessful: [] });
    const c = ctx();

    await expect(flowLogsStep.create(c)).rejects.toThrow(
      /answered with flow log fl-gone, but EC2 does not list it/,
    );
    // Polled a bounded while for eventual consistency, then gave up.
    expect(ec2.commandCalls(DescribeFlowLogsCommand).length).toBeGreaterThan(2);
    expect(c.slept()).toBeGreaterThanOrEqual(60_000);
    expect(c.slept()).toBeLessThan(120_000);
  });

  it('waits until a new flow log shows up in DescribeFlowLogs', async () => {
    convergedGroupAndRole();
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [] });
    ec2
      .on(DescribeFlowLogsCommand, { FlowLogIds: ['fl-1'] })
      .resolvesOnce({ FlowLogs: [] })
      .resolves({ FlowLogs: [{ FlowLogId: 'fl-1' }] });
    ec2.on(CreateFlowLogsCommand).resolves({ FlowLogIds: ['fl-1'] });

    const out = await flowLogsStep.create(ctx());

    expect(out.flowLogId).toBe('fl-1');
    expect(ec2.commandCalls(CreateFlowLogsCommand)).toHaveLength(1);
  });

  it('surfaces a per-resource failure that is not IAM propagation', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: [{ logGroupName: GROUP, retentionInDays: 7, kmsKeyId: KEY_ARN }],
    });
    iam.on(GetRoleCommand).resolves({
      Role: role(ROLE, ROLE_ARN, {
        AssumeRolePolicyDocument: encoded(trustPolicy(ACCOUNT, 'aws', 'ap-northeast-2')),
      }),
    });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encoded(deliveryPolicy(GROUP_ARN)) });
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [] });
    ec2.on(CreateFlowLogsCommand).resolves({
      Unsuccessful: [{ Error: { Code: 'FlowLogsLimitExceeded', Message: 'too many flow logs' } }],
    });
    await expect(flowLogsStep.create(ctx())).rejects.toMatchObject({
      name: 'FlowLogsLimitExceeded',
    });
    expect(ec2.commandCalls(CreateFlowLogsCommand)).toHaveLength(1);
  });

  it('adopts group, role, policy and flow log and sends no mutating call', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: [
        { logGroupName: `${GROUP}-other`, retentionInDays: 1 },
        { logGroupName: GROUP, retentionInDays: 7, kmsKeyId: KEY_ARN },
      ],
    });
    // IAM returns documents URL-encoded and with its own key order.
    const trust = trustPolicy(ACCOUNT, 'aws', 'ap-northeast-2') as {
      Statement: Array<Record<string, unknown>>;
    };
    const reordered = {
      Statement: [
        {
          Condition: trust.Statement[0]!.Condition,
          Action: 'sts:AssumeRole',
          Principal: trust.Statement[0]!.Principal,
          Effect: 'Allow',
        },
      ],
      Version: '2012-10-17',
    };
    iam.on(GetRoleCommand).resolves({
      Role: role(ROLE, ROLE_ARN, { AssumeRolePolicyDocument: encoded(reordered) }),
    });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encoded(deliveryPolicy(GROUP_ARN)) });
    ec2
      .on(DescribeFlowLogsCommand)
      .resolves({ FlowLogs: [{ FlowLogId: 'fl-9', ResourceId: 'vpc-1' }] });

    const out = await flowLogsStep.create(ctx());

    expect(out.flowLogId).toBe('fl-9');
    expect(mutatingCalls(logs)).toEqual([]);
    expect(mutatingCalls(iam)).toEqual([]);
    expect(mutatingCalls(ec2)).toEqual([]);
  });

  it('converges drifted retention, key, an unconditioned trust and a wildcard delivery policy', async () => {
    logs
      .on(DescribeLogGroupsCommand)
      .resolves({ logGroups: [{ logGroupName: GROUP, retentionInDays: 30 }] });
    logs.on(PutRetentionPolicyCommand).resolves({});
    logs.on(AssociateKmsKeyCommand).resolves({});
    // A trust without the aws:SourceAccount condition (confused deputy).
    const open = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
          Action: 'sts:AssumeRole',
        },
      ],
    };
    iam.on(GetRoleCommand).resolves({
      Role: role(ROLE, ROLE_ARN, { AssumeRolePolicyDocument: encoded(open) }),
    });
    iam.on(UpdateAssumeRolePolicyCommand).resolves({});
    iam.on(GetRolePolicyCommand).resolves({
      PolicyDocument: encoded({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }],
      }),
    });
    iam.on(PutRolePolicyCommand).resolves({});
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [{ FlowLogId: 'fl-9' }] });

    await flowLogsStep.create(ctx());

    const trust = iam.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input;
    expect(trust.RoleName).toBe(ROLE);
    expect(JSON.parse(trust.PolicyDocument!)).toEqual(
      trustPolicy(ACCOUNT, 'aws', 'ap-northeast-2'),
    );
    expect(logs.commandCalls(PutRetentionPolicyCommand)[0]!.args[0].input.retentionInDays).toBe(7);
    expect(logs.commandCalls(AssociateKmsKeyCommand)[0]!.args[0].input).toEqual({
      logGroupName: GROUP,
      kmsKeyId: KEY_ARN,
    });
    expect(
      JSON.parse(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input.PolicyDocument!),
    ).toEqual(deliveryPolicy(GROUP_ARN));
  });

  it('verify reports a failing delivery and an unencrypted log group', async () => {
    ec2.on(DescribeFlowLogsCommand).resolves({
      FlowLogs: [
        {
          FlowLogId: 'fl-1',
          ResourceId: 'vpc-1',
          FlowLogStatus: 'ACTIVE',
          TrafficType: 'ALL',
          LogGroupName: GROUP,
          DeliverLogsStatus: 'FAILED',
          DeliverLogsErrorMessage: 'Access error',
        },
      ],
    });
    logs
      .on(DescribeLogGroupsCommand)
      .resolves({ logGroups: [{ logGroupName: GROUP, retentionInDays: 7 }] });
    const checks = await flowLogsStep.verify(ctx());
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      ['security.flow-logs.active', 'fail'],
      ['security.flow-logs.log-group', 'fail'],
    ]);
    expect(checks[0]!.evidence).toContain('Access error');
  });

  it('verify passes an active ALL-traffic flow log into the encrypted group', async () => {
    ec2.on(DescribeFlowLogsCommand).resolves({
      FlowLogs: [
        {
          FlowLogId: 'fl-1',
          ResourceId: 'vpc-1',
          FlowLogStatus: 'ACTIVE',
          TrafficType: 'ALL',
          LogGroupName: GROUP,
          DeliverLogsStatus: 'SUCCESS',
        },
      ],
    });
    logs.on(DescribeLogGroupsCommand).resolves({
      logGroups: [{ logGroupName: GROUP, retentionInDays: 7, kmsKeyId: KEY_ARN }],
    });
    const checks = await flowLogsStep.verify(ctx());
    expect(checks.every((c) => c.status === 'pass')).toBe(true);
  });

  it('teardown deletes the flow log, the role (inline policy first) and the log group', async () => {
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [{ FlowLogId: 'fl-1' }] });
    ec2.on(DeleteFlowLogsCommand).resolves({ Unsuccessful: [] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['flow-logs-delivery'] });
    iam.on(DeleteRolePolicyCommand).resolves({});
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(DeleteRoleCommand).rejectsOnce(awsError('DeleteConflictException')).resolves({});
    logs.on(DeleteLogGroupCommand).resolves({});

    await flowLogsStep.teardown(ctx());

    expect(ec2.commandCalls(DeleteFlowLogsCommand)[0]!.args[0].input).toEqual({
      FlowLogIds: ['fl-1'],
    });
    const delPolicy = iam.commandCalls(DeleteRolePolicyCommand)[0]!;
    expect(delPolicy.args[0].input).toEqual({ RoleName: ROLE, PolicyName: 'flow-logs-delivery' });
    const delRole = iam.commandCalls(DeleteRoleCommand);
    expect(delRole).toHaveLength(2);
    expect(seq(delPolicy)).toBeLessThan(seq(delRole[0]));
    expect(logs.commandCalls(DeleteLogGroupCommand)[0]!.args[0].input).toEqual({
      logGroupName: GROUP,
    });
  });

  it('teardown finds the flow log by tag without state and succeeds when all is gone', async () => {
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [] });
    iam.on(ListRolePoliciesCommand).rejects(noEntity());
    logs.on(DeleteLogGroupCommand).rejects(awsError('ResourceNotFoundException', 'gone', 400));

    await expect(flowLogsStep.teardown(ctx(undefined, false))).resolves.toBeUndefined();

    expect(ec2.commandCalls(DescribeFlowLogsCommand)[0]!.args[0].input.Filter).toEqual([
      { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
      { Name: 'tag:cloudmart:step', Values: ['security.flow-logs'] },
    ]);
    expect(ec2.commandCalls(DeleteFlowLogsCommand)).toHaveLength(0);
    expect(iam.commandCalls(DeleteRoleCommand)).toHaveLength(0);
  });

  it('teardown fails on a delete failure other than NotFound', async () => {
    ec2.on(DescribeFlowLogsCommand).resolves({ FlowLogs: [{ FlowLogId: 'fl-1' }] });
    ec2.on(DeleteFlowLogsCommand).resolves({
      Unsuccessful: [
        { ResourceId: 'fl-1', Error: { Code: 'UnauthorizedOperation', Message: 'denied' } },
      ],
    });
    await expect(flowLogsStep.teardown(ctx())).rejects.toThrow(/UnauthorizedOperation/);
  });
});
