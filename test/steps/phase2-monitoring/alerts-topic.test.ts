import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetSMSSandboxAccountStatusCommand,
  GetTopicAttributesCommand,
  ListSMSSandboxPhoneNumbersCommand,
  ListSubscriptionsByTopicCommand,
  SetTopicAttributesCommand,
  SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  alertsTopicStep,
  subscriptionStatus,
} from '../../../src/steps/phase2-monitoring/alerts-topic.js';
import { STEP } from '../../../src/steps/outputs.js';
import { ACCOUNT, awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';
import { EDGE_TOPIC_ARN, KMS, regionOf, TOPIC_ARN } from './fixtures.js';

const POLICY = {
  Version: '2012-10-17',
  Id: 'cloudmart-alerts',
  Statement: [
    {
      Sid: 'AllowCloudWatchAlarmsToPublish',
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: TOPIC_ARN,
      Condition: {
        StringEquals: { 'aws:SourceAccount': ACCOUNT },
        ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:ap-northeast-2:${ACCOUNT}:alarm:*` },
      },
    },
  ],
};

const confirmedEmail = {
  SubscriptionArn: `${TOPIC_ARN}:9f1c`,
  Protocol: 'email',
  Endpoint: 'ops@example.com',
  TopicArn: TOPIC_ARN,
};

// The config refuses SMS from ap-northeast-2 (SNS does not send it from Seoul): the step's
// handling of a phone is tested on a config that skipped that rule.
const withPhone = () => ({
  ...testConfig(),
  alerts: { email: 'ops@example.com', phone: '+821012345678' },
});

describe('monitoring.sns', () => {
  let sns: ReturnType<typeof strictMock>;
  beforeEach(() => {
    sns = strictMock(SNSClient);
  });

  const ctx = (config = testConfig(), previous?: Record<string, unknown>) =>
    testContext({
      stepId: alertsTopicStep.id,
      config,
      outputs: { [STEP.kms]: KMS },
      ...(previous ? { previous } : {}),
    });

  const writes = () => [
    ...sns.commandCalls(CreateTopicCommand),
    ...sns.commandCalls(SetTopicAttributesCommand),
    ...sns.commandCalls(SubscribeCommand),
  ];

  it('creates the topic encrypted with the stack key, tagged at creation, and subscribes the email', async () => {
    sns
      .on(GetTopicAttributesCommand)
      .rejects(awsError('NotFoundException', 'Topic does not exist', 404));
    sns.on(CreateTopicCommand).resolves({ TopicArn: TOPIC_ARN });
    sns.on(SubscribeCommand).resolves({ SubscriptionArn: `${TOPIC_ARN}:pending-1` });
    const c = ctx();

    const out = await alertsTopicStep.create(c);

    expect(out).toEqual({ topicArn: TOPIC_ARN, topicName: 'cloudmart-alerts' });
    expect(sns.commandCalls(GetTopicAttributesCommand)[0]!.args[0].input).toEqual({
      TopicArn: TOPIC_ARN,
    });
    const create = sns.commandCalls(CreateTopicCommand);
    expect(create).toHaveLength(1);
    const input = create[0]!.args[0].input;
    expect(input).toEqual({
      Name: 'cloudmart-alerts',
      Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: expect.any(String) },
      Tags: expect.arrayContaining([
        { Key: 'Name', Value: 'cloudmart-alerts' },
        { Key: 'cloudmart:stack', Value: 'cloudmart' },
        { Key: 'cloudmart:step', Value: 'monitoring.sns' },
        { Key: 'Project', Value: 'CloudMart' },
      ]),
    });
    expect(JSON.parse(input.Attributes!.Policy!)).toEqual(POLICY);
    expect(sns.commandCalls(SubscribeCommand).map((x) => x.args[0].input)).toEqual([
      {
        TopicArn: TOPIC_ARN,
        Protocol: 'email',
        Endpoint: 'ops@example.com',
        ReturnSubscriptionArn: true,
      },
    ]);
    expect(c.warnings.join('\n')).toMatch(/confirmation email to ops@example.com/);
  });

  it('subscribes the phone by SMS when one is configured', async () => {
    sns.on(GetTopicAttributesCommand).rejects(awsError('NotFoundException'));
    sns.on(CreateTopicCommand).resolves({ TopicArn: TOPIC_ARN });
    sns.on(SubscribeCommand).resolves({});
    await alertsTopicStep.create(ctx(withPhone()));
    expect(sns.commandCalls(SubscribeCommand).map((x) => x.args[0].input)).toEqual([
      expect.objectContaining({ Protocol: 'email', Endpoint: 'ops@example.com' }),
      expect.objectContaining({ Protocol: 'sms', Endpoint: '+821012345678' }),
    ]);
  });

  it('adopts a converged topic and sends no write at all', async () => {
    // AWS hands the policy back with its own formatting: arrays, key order.
    const livePolicy = {
      Statement: [{ ...POLICY.Statement[0], Action: ['sns:Publish'] }],
      Id: 'cloudmart-alerts',
      Version: '2012-10-17',
    };
    sns.on(GetTopicAttributesCommand).resolves({
      Attributes: {
        TopicArn: TOPIC_ARN,
        KmsMasterKeyId: KMS.keyArn,
        Policy: JSON.stringify(livePolicy, null, 2),
      },
    });
    sns.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [{ ...confirmedEmail, Endpoint: 'OPS@example.com' }],
    });
    const c = ctx();

    const out = await alertsTopicStep.create(c);

    expect(out.topicArn).toBe(TOPIC_ARN);
    expect(writes()).toHaveLength(0);
    expect(c.warnings).toEqual([]);
  });

  it('converges only KmsMasterKeyId when the topic uses another key', async () => {
    sns.on(GetTopicAttributesCommand).resolves({
      Attributes: { KmsMasterKeyId: 'alias/aws/sns', Policy: JSON.stringify(POLICY) },
    });
    sns.on(SetTopicAttributesCommand).resolves({});
    sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [confirmedEmail] });

    await alertsTopicStep.create(ctx());

    expect(sns.commandCalls(SetTopicAttributesCommand).map((x) => x.args[0].input)).toEqual([
      { TopicArn: TOPIC_ARN, AttributeName: 'KmsMasterKeyId', AttributeValue: KMS.keyArn },
    ]);
    expect(sns.commandCalls(CreateTopicCommand)).toHaveLength(0);
  });

  it('accepts the key by alias and restores a policy that lost the CloudWatch grant', async () => {
    sns.on(GetTopicAttributesCommand).resolves({
      Attributes: { KmsMasterKeyId: KMS.aliasName, Policy: JSON.stringify({ Statement: [] }) },
    });
    sns.on(SetTopicAttributesCommand).resolves({});
    sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [confirmedEmail] });

    await alertsTopicStep.create(ctx());

    const calls = sns.commandCalls(SetTopicAttributesCommand).map((x) => x.args[0].input);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.AttributeName).toBe('Policy');
    expect(JSON.parse(calls[0]!.AttributeValue!)).toEqual(POLICY);
  });

  it('does not subscribe again while the email is pending, and warns', async () => {
    sns.on(GetTopicAttributesCommand).resolves({
      Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: JSON.stringify(POLICY) },
    });
    sns.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [{ ...confirmedEmail, SubscriptionArn: 'PendingConfirmation' }],
    });
    const c = ctx();

    await alertsTopicStep.create(c);

    expect(writes()).toHaveLength(0);
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatch(/ops@example.com .*still waiting for confirmation/);
  });

  it('subscribes again when the listed subscription is being deleted, and pages through the list', async () => {
    sns.on(GetTopicAttributesCommand).resolves({
      Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: JSON.stringify(POLICY) },
    });
    sns
      .on(ListSubscriptionsByTopicCommand, { TopicArn: TOPIC_ARN, NextToken: undefined })
      .resolves({ Subscriptions: [], NextToken: 't2' })
      .on(ListSubscriptionsByTopicCommand, { TopicArn: TOPIC_ARN, NextToken: 't2' })
      .resolves({ Subscriptions: [{ ...confirmedEmail, SubscriptionArn: 'Deleted' }] });
    sns.on(SubscribeCommand).resolves({});

    await alertsTopicStep.create(ctx());

    expect(sns.commandCalls(ListSubscriptionsByTopicCommand)).toHaveLength(2);
    expect(sns.commandCalls(SubscribeCommand)).toHaveLength(1);
  });

  it('with a domain also creates the unencrypted us-east-1 edge topic with the same subscriptions', async () => {
    sns.on(GetTopicAttributesCommand).rejects(awsError('NotFoundException'));
    sns
      .on(CreateTopicCommand, { Name: 'cloudmart-alerts' })
      .resolves({ TopicArn: TOPIC_ARN })
      .on(CreateTopicCommand, { Name: 'cloudmart-alerts-edge' })
      .resolves({ TopicArn: EDGE_TOPIC_ARN });
    sns.on(SubscribeCommand).resolves({});

    const out = await alertsTopicStep.create(
      ctx(testConfig({ dns: { domain: 'shop.example.com' } })),
    );

    expect(out.edgeTopicArn).toBe(EDGE_TOPIC_ARN);
    const edge = sns.commandCalls(CreateTopicCommand)[1]!;
    expect(await regionOf(edge)).toBe('us-east-1');
    const attributes = edge.args[0].input.Attributes as Record<string, string>;
    expect(attributes.KmsMasterKeyId).toBeUndefined();
    expect(JSON.parse(attributes.Policy!).Statement[0]).toMatchObject({
      Resource: EDGE_TOPIC_ARN,
      Condition: {
        ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:*` },
      },
    });
    expect(sns.commandCalls(SubscribeCommand).map((x) => x.args[0].input.TopicArn)).toEqual([
      TOPIC_ARN,
      EDGE_TOPIC_ARN,
    ]);
  });

  it('surfaces a create failure', async () => {
    sns.on(GetTopicAttributesCommand).rejects(awsError('NotFoundException'));
    sns.on(CreateTopicCommand).rejects(awsError('AuthorizationErrorException', 'not allowed', 403));
    await expect(alertsTopicStep.create(ctx())).rejects.toThrow('not allowed');
    expect(sns.commandCalls(SubscribeCommand)).toHaveLength(0);
  });

  it('adopts a topic created between the read and the create', async () => {
    sns
      .on(GetTopicAttributesCommand)
      .rejectsOnce(awsError('NotFoundException'))
      .resolves({ Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: JSON.stringify(POLICY) } });
    sns
      .on(CreateTopicCommand)
      .rejects(
        awsError(
          'InvalidParameterException',
          'Invalid parameter: Attributes Reason: Topic already exists with different attributes',
        ),
      );
    sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [confirmedEmail] });
    await expect(alertsTopicStep.create(ctx())).resolves.toMatchObject({ topicArn: TOPIC_ARN });
    expect(sns.commandCalls(SubscribeCommand)).toHaveLength(0);
  });

  describe('subscriptionStatus', () => {
    it('reports pending and confirmed endpoints', async () => {
      sns.on(ListSubscriptionsByTopicCommand).resolves({
        Subscriptions: [
          { ...confirmedEmail, SubscriptionArn: 'PendingConfirmation' },
          { SubscriptionArn: `${TOPIC_ARN}:s1`, Protocol: 'sms', Endpoint: '+821012345678' },
        ],
      });
      const c = ctx(withPhone());
      expect(await subscriptionStatus(c)).toEqual([
        {
          topicArn: TOPIC_ARN,
          region: 'ap-northeast-2',
          protocol: 'email',
          endpoint: 'ops@example.com',
          status: 'pending',
        },
        {
          topicArn: TOPIC_ARN,
          region: 'ap-northeast-2',
          protocol: 'sms',
          endpoint: '+821012345678',
          status: 'confirmed',
        },
      ]);
    });

    it('reports missing when the topic does not exist', async () => {
      sns.on(ListSubscriptionsByTopicCommand).rejects(awsError('NotFoundException'));
      expect((await subscriptionStatus(ctx())).map((s) => s.status)).toEqual(['missing']);
    });
  });

  describe('verify', () => {
    it('passes an encrypted topic and warns while the email is pending', async () => {
      sns.on(GetTopicAttributesCommand).resolves({
        Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: JSON.stringify(POLICY) },
      });
      sns.on(ListSubscriptionsByTopicCommand).resolves({
        Subscriptions: [{ ...confirmedEmail, SubscriptionArn: 'PendingConfirmation' }],
      });
      const checks = await alertsTopicStep.verify(ctx());
      const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
      expect(byId['monitoring.sns.encrypted']?.status).toBe('pass');
      expect(byId['monitoring.sns.policy']?.status).toBe('pass');
      expect(byId['monitoring.sns.subscription.email']).toMatchObject({
        status: 'warn',
        criterion: 'alarms',
        evidence: 'ops@example.com: PendingConfirmation',
      });
    });

    it('fails an unencrypted topic and a missing subscription', async () => {
      sns
        .on(GetTopicAttributesCommand)
        .resolves({ Attributes: { Policy: JSON.stringify(POLICY) } });
      sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [] });
      const checks = await alertsTopicStep.verify(ctx());
      expect(checks.find((c) => c.id === 'monitoring.sns.encrypted')).toMatchObject({
        status: 'fail',
        criterion: 'encryption',
        evidence: 'KmsMasterKeyId=(none)',
      });
      expect(checks.find((c) => c.id === 'monitoring.sns.subscription.email')?.status).toBe('fail');
    });

    describe('SMS alerts and the SMS sandbox', () => {
      const PHONE = '+821012345678';
      const sandbox = async () => {
        sns.on(GetTopicAttributesCommand).resolves({
          Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: JSON.stringify(POLICY) },
        });
        sns.on(ListSubscriptionsByTopicCommand).resolves({
          Subscriptions: [
            confirmedEmail,
            {
              ...confirmedEmail,
              SubscriptionArn: `${TOPIC_ARN}:sms`,
              Protocol: 'sms',
              Endpoint: PHONE,
            },
          ],
        });
        const checks = await alertsTopicStep.verify(ctx(withPhone()));
        return checks.find((c) => c.id === 'monitoring.sns.sms-sandbox');
      };

      it('warns, with the fix, when the account is in the sandbox and the phone is not verified there', async () => {
        sns.on(GetSMSSandboxAccountStatusCommand).resolves({ IsInSandbox: true });
        sns
          .on(ListSMSSandboxPhoneNumbersCommand)
          .resolves({ PhoneNumbers: [{ PhoneNumber: PHONE, Status: 'Pending' }] });
        expect(await sandbox()).toEqual({
          id: 'monitoring.sns.sms-sandbox',
          title: `SMS alerts can reach ${PHONE}`,
          criterion: 'alarms',
          status: 'warn',
          evidence: `the account is in the SMS sandbox in ap-northeast-2 and ${PHONE} is Pending there: SNS sends it no SMS`,
          fix: expect.stringContaining(
            `aws sns create-sms-sandbox-phone-number --phone-number ${PHONE} --region ap-northeast-2`,
          ),
        });
        const unlisted = (await (async () => {
          sns.reset();
          sns.on(GetSMSSandboxAccountStatusCommand).resolves({ IsInSandbox: true });
          sns.on(ListSMSSandboxPhoneNumbersCommand).resolves({ PhoneNumbers: [] });
          return sandbox();
        })())!;
        expect(unlisted.status).toBe('warn');
        expect(unlisted.fix).toMatch(/move the account out of the SMS sandbox/);
      });

      it('passes a verified number in the sandbox, and an account out of it', async () => {
        sns.on(GetSMSSandboxAccountStatusCommand).resolves({ IsInSandbox: true });
        sns.on(ListSMSSandboxPhoneNumbersCommand).resolves({
          PhoneNumbers: [
            { PhoneNumber: '+821099999999', Status: 'Verified' },
            { PhoneNumber: PHONE, Status: 'Verified' },
          ],
        });
        expect(await sandbox()).toMatchObject({ status: 'pass' });
        sns.reset();
        sns.on(GetSMSSandboxAccountStatusCommand).resolves({ IsInSandbox: false });
        expect(await sandbox()).toMatchObject({
          status: 'pass',
          evidence: 'the account is out of the SMS sandbox in ap-northeast-2',
        });
        expect(sns.commandCalls(ListSMSSandboxPhoneNumbersCommand)).toHaveLength(0);
      });

      it('is unknown, not failed, when SNS does not answer; nothing is asked without a phone', async () => {
        sns
          .on(GetSMSSandboxAccountStatusCommand)
          .rejects(awsError('AuthorizationErrorException', 'not authorized', 403));
        expect(await sandbox()).toMatchObject({
          status: 'unknown',
          evidence:
            'could not read the SMS sandbox status in ap-northeast-2: AuthorizationErrorException: not authorized',
        });
        sns.reset();
        sns.on(GetTopicAttributesCommand).resolves({
          Attributes: { KmsMasterKeyId: KMS.keyArn, Policy: JSON.stringify(POLICY) },
        });
        sns.on(ListSubscriptionsByTopicCommand).resolves({ Subscriptions: [confirmedEmail] });
        const checks = await alertsTopicStep.verify(ctx());
        expect(checks.map((c) => c.id)).not.toContain('monitoring.sns.sms-sandbox');
        expect(sns.commandCalls(GetSMSSandboxAccountStatusCommand)).toHaveLength(0);
      });
    });

    it('fails when the topic does not exist', async () => {
      sns.on(GetTopicAttributesCommand).rejects(awsError('NotFoundException'));
      const checks = await alertsTopicStep.verify(ctx());
      expect(checks).toEqual([
        expect.objectContaining({ id: 'monitoring.sns.topic', status: 'fail' }),
      ]);
    });
  });

  describe('teardown', () => {
    it('deletes the topic (its subscriptions go with it)', async () => {
      sns.on(DeleteTopicCommand).resolves({});
      await alertsTopicStep.teardown(ctx());
      expect(sns.commandCalls(DeleteTopicCommand).map((x) => x.args[0].input)).toEqual([
        { TopicArn: TOPIC_ARN },
      ]);
    });

    it('succeeds when the topic is already gone, and also removes the edge topic of a previous run', async () => {
      sns.on(DeleteTopicCommand).rejects(awsError('NotFoundException'));
      await expect(
        alertsTopicStep.teardown(
          ctx(testConfig(), { topicArn: TOPIC_ARN, edgeTopicArn: EDGE_TOPIC_ARN }),
        ),
      ).resolves.toBeUndefined();
      const calls = sns.commandCalls(DeleteTopicCommand);
      expect(calls.map((x) => x.args[0].input.TopicArn)).toEqual([TOPIC_ARN, EDGE_TOPIC_ARN]);
      expect(await regionOf(calls[1]!)).toBe('us-east-1');
    });

    it('throws other errors', async () => {
      sns.on(DeleteTopicCommand).rejects(awsError('AuthorizationErrorException', 'denied', 403));
      await expect(alertsTopicStep.teardown(ctx())).rejects.toThrow('denied');
    });
  });
});
