import { randomBytes } from 'node:crypto';
import {
  CreateLaunchTemplateCommand,
  CreateLaunchTemplateVersionCommand,
  DeleteLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeLaunchTemplatesCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import { launchTemplateStep } from '../../../src/steps/phase1-foundation/launch-template.js';
import {
  agentConfig,
  NODE_MAJOR,
  userDataScript,
} from '../../../src/steps/phase1-foundation/user-data.js';
import type * as UserData from '../../../src/steps/phase1-foundation/user-data.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testConfig, testContext } from '../../helpers/context.js';

// The step reads backend/ from disk; tests ship a small fixed backend instead.
const backend = vi.hoisted(() => ({
  files: [] as Array<{ path: string; content: Buffer }>,
  reads: 0,
  /** Stands for a cloudmart release that writes another agent config. */
  agentEdit: undefined as undefined | ((c: Record<string, unknown>) => void),
}));
vi.mock('../../../src/steps/phase1-foundation/user-data.js', async (importOriginal) => {
  const real = await importOriginal<typeof UserData>();
  return {
    ...real,
    agentConfig: (o: { logGroup: string }) => {
      const c = real.agentConfig(o);
      backend.agentEdit?.(c);
      return c;
    },
    readBackendFiles: () => {
      backend.reads++;
      return Promise.resolve(backend.files);
    },
  };
});
const FIXTURE = [
  { path: 'src/server.js', content: Buffer.from("console.log('cloudmart');\n") },
  { path: 'package.json', content: Buffer.from('{"name":"cloudmart-backend"}\n') },
];

const AMI_PARAM = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const AGENT_PARAM = '/cloudmart/cloudmart/cloudwatch-agent';
const KEY_ARN = 'arn:aws:kms:ap-northeast-2:123456789012:key/1111-2222';
const OUTPUTS = {
  [STEP.securityGroups]: {
    albSgId: 'sg-alb',
    appSgId: 'sg-app',
    dbSgId: 'sg-db',
    redisSgId: 'sg-redis',
  },
  [STEP.instanceRole]: {
    roleName: 'cloudmart-app',
    roleArn: 'arn:aws:iam::123456789012:role/cloudmart-app',
    instanceProfileName: 'cloudmart-app',
    instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/cloudmart-app',
  },
  [STEP.kms]: { keyId: '1111-2222', keyArn: KEY_ARN, aliasName: 'alias/cloudmart' },
};
const AGENT_VALUE = JSON.stringify(agentConfig({ logGroup: '/aws/ec2/cloudmart-backend' }));

const decode = (b64: string | undefined) => userDataScript(b64 ?? '');
const mutating = (stub: ReturnType<typeof strictMock>) =>
  stub
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => !/^(Describe|Get)/.test(n));

describe('app.launch-template', () => {
  let ec2: ReturnType<typeof strictMock>;
  let ssm: ReturnType<typeof strictMock>;
  let secrets: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
    // Amazon Linux boots from /dev/xvda.
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ RootDeviceName: '/dev/xvda' }] });
    ssm = strictMock(SSMClient);
    // Nothing here may read a secret: any Secrets Manager call fails the test.
    secrets = strictMock(SecretsManagerClient);
    backend.files = FIXTURE;
    backend.reads = 0;
    backend.agentEdit = undefined;
  });

  const ctx = (config = testConfig(), previous?: Record<string, unknown>) =>
    testContext({
      stepId: launchTemplateStep.id,
      outputs: OUTPUTS,
      config,
      ...(previous ? { previous } : {}),
    });

  function absent() {
    ssm.on(GetParameterCommand, { Name: AGENT_PARAM }).rejects(awsError('ParameterNotFound'));
    ssm.on(PutParameterCommand).resolves({ Version: 1 });
    ssm
      .on(GetParameterCommand, { Name: AMI_PARAM })
      .resolves({ Parameter: { Value: 'ami-0abc1234def567890' } });
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .rejects(awsError('InvalidLaunchTemplateName.NotFoundException', 'not found'));
    ec2.on(CreateLaunchTemplateCommand).resolves({
      LaunchTemplate: {
        LaunchTemplateId: 'lt-0123',
        LaunchTemplateName: 'cloudmart-lt',
        LatestVersionNumber: 1,
        DefaultVersionNumber: 1,
      },
    });
  }

  /** Run a create against an empty account and return the template data it sent. */
  async function firstCreate(config = testConfig()): Promise<RequestLaunchTemplateData> {
    absent();
    await launchTemplateStep.create(ctx(config));
    const data = ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input
      .LaunchTemplateData!;
    ec2 = strictMock(EC2Client);
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ RootDeviceName: '/dev/xvda' }] });
    ssm = strictMock(SSMClient);
    return data;
  }

  it("names the AMI's own root device, so the encrypted gp3 settings apply to the real root", async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ RootDeviceName: '/dev/sda1' }] });
    const data = await firstCreate();
    expect(data.BlockDeviceMappings).toEqual([
      expect.objectContaining({
        DeviceName: '/dev/sda1',
        Ebs: expect.objectContaining({ Encrypted: true, VolumeType: 'gp3' }),
      }),
    ]);
  });

  it('refuses an AMI that does not exist in the region before creating anything', async () => {
    absent();
    ec2
      .on(DescribeImagesCommand)
      .rejects(
        awsError('InvalidAMIID.NotFound', "The image id '[ami-0abc1234def567890]' does not exist"),
      );
    const e = await launchTemplateStep.create(ctx()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CloudmartError);
    expect((e as CloudmartError).message).toMatch(
      /^app\.ami: AMI ami-0abc1234def567890 was not found/,
    );
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(0);
  });

  it('creates the template with the exact seed settings, a client token and tags at creation', async () => {
    absent();
    const out = await launchTemplateStep.create(ctx());

    const input = ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input;
    const { UserData, ...data } = input.LaunchTemplateData!;
    expect(data).toEqual({
      ImageId: 'ami-0abc1234def567890',
      InstanceType: 't3.micro',
      IamInstanceProfile: { Name: 'cloudmart-app' },
      NetworkInterfaces: [
        {
          DeviceIndex: 0,
          AssociatePublicIpAddress: false,
          DeleteOnTermination: true,
          Groups: ['sg-app'],
        },
      ],
      MetadataOptions: {
        HttpTokens: 'required',
        HttpPutResponseHopLimit: 2,
        HttpEndpoint: 'enabled',
      },
      Monitoring: { Enabled: true },
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/xvda',
          Ebs: {
            VolumeSize: 8,
            VolumeType: 'gp3',
            Encrypted: true,
            KmsKeyId: KEY_ARN,
            DeleteOnTermination: true,
          },
        },
      ],
      TagSpecifications: [
        {
          ResourceType: 'instance',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-app' },
            { Key: 'cloudmart:stack', Value: 'cloudmart' },
          ]),
        },
        {
          ResourceType: 'volume',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-app-volume' },
            { Key: 'Backup', Value: 'true' },
          ]),
        },
      ],
    });
    expect(input.LaunchTemplateName).toBe('cloudmart-lt');
    expect(input.ClientToken).toMatch(/^[0-9a-f]{16}-[0-9a-f-]{36}$/);
    expect(input.TagSpecifications).toEqual([
      {
        ResourceType: 'launch-template',
        Tags: expect.arrayContaining([{ Key: 'cloudmart:step', Value: 'app.launch-template' }]),
      },
    ]);
    const script = decode(UserData);
    expect(script).toContain('#!/bin/bash');
    expect(script).toContain('ssm:/cloudmart/cloudmart/cloudwatch-agent');
    expect(backend.reads).toBe(1);

    expect(ssm.commandCalls(PutParameterCommand)[0]!.args[0].input).toEqual({
      Name: AGENT_PARAM,
      Value: AGENT_VALUE,
      Type: 'String',
      Description: 'CloudWatch agent config for the CloudMart app instances',
      Tags: expect.arrayContaining([{ Key: 'Name', Value: AGENT_PARAM }]),
    });
    expect(out).toEqual({
      launchTemplateId: 'lt-0123',
      launchTemplateName: 'cloudmart-lt',
      version: '1',
      amiId: 'ami-0abc1234def567890',
      rootDeviceName: '/dev/xvda',
      agentParameter: AGENT_PARAM,
      userDataDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('plan names the Node.js the instances really install, not an end-of-life one', () => {
    const lines = launchTemplateStep.describe(testConfig()).join('\n');
    expect(lines).toContain(`Node.js ${NODE_MAJOR} + CloudWatch agent`);
    expect(lines).toContain('npm ci');
    expect(NODE_MAJOR).toBeGreaterThanOrEqual(22);
  });

  it('never puts a password in the user data and never reads a secret', async () => {
    absent();
    await launchTemplateStep.create(ctx());
    const script = decode(
      ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input.LaunchTemplateData!.UserData,
    );
    expect(script).not.toMatch(/(DB_PASSWORD|REDIS_AUTH_TOKEN|PASSWORD)=/i);
    expect(script).not.toMatch(/SecretString"?\s*:/);
    expect(secrets.calls()).toHaveLength(0);
  });

  it('uses an AMI id from the config as is', async () => {
    absent();
    await launchTemplateStep.create(ctx(testConfig({ app: { ami: 'ami-0123456789abcdef0' } })));
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input.Name)).toEqual([
      AGENT_PARAM,
    ]);
    expect(
      ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input.LaunchTemplateData!.ImageId,
    ).toBe('ami-0123456789abcdef0');
  });

  it('explains a missing AMI parameter', async () => {
    absent();
    ssm.on(GetParameterCommand, { Name: AMI_PARAM }).rejects(awsError('ParameterNotFound'));
    await expect(launchTemplateStep.create(ctx())).rejects.toThrow(
      /app\.ami: the SSM parameter .* does not exist/,
    );
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)).toHaveLength(0);
  });

  it('retries while the new instance profile propagates', async () => {
    absent();
    ec2
      .on(CreateLaunchTemplateCommand)
      .rejectsOnce(
        awsError(
          'InvalidParameterValue',
          'Value (cloudmart-app) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name',
        ),
      )
      .resolves({ LaunchTemplate: { LaunchTemplateId: 'lt-0123', LatestVersionNumber: 1 } });
    const c = ctx();
    await launchTemplateStep.create(c);
    const calls = ec2.commandCalls(CreateLaunchTemplateCommand);
    expect(calls).toHaveLength(2);
    // Same request, same token: a retry can never make two templates.
    expect(calls[1]!.args[0].input.ClientToken).toBe(calls[0]!.args[0].input.ClientToken);
    expect(c.progressLog.some((l) => l.includes('InvalidParameterValue'))).toBe(true);
  });

  it('runs the configured container image without reading the backend', async () => {
    absent();
    await launchTemplateStep.create(
      ctx(testConfig({ app: { image: 'public.ecr.aws/acme/shop:1.0' } })),
    );
    const script = decode(
      ec2.commandCalls(CreateLaunchTemplateCommand)[0]!.args[0].input.LaunchTemplateData!.UserData,
    );
    expect(script).toContain('docker run');
    expect(script).toContain('public.ecr.aws/acme/shop:1.0');
    expect(backend.reads).toBe(0);
  });

  it('fails clearly, before any EC2 call, when the backend makes the user data too large', async () => {
    absent();
    backend.files = [...FIXTURE, { path: 'src/huge.js', content: randomBytes(20_000) }];
    const err = await launchTemplateStep.create(ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudmartError);
    expect((err as Error).message).toMatch(/16384-byte limit/);
    expect(mutating(ec2)).toEqual([]);
    expect(mutating(ssm)).toEqual([]);
  });

  it('adopts an unchanged template: no create, no new version, no SSM write', async () => {
    const data = await firstCreate();
    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: AGENT_VALUE } });
    ssm
      .on(GetParameterCommand, { Name: AMI_PARAM })
      .resolves({ Parameter: { Value: 'ami-0abc1234def567890' } });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        {
          LaunchTemplateId: 'lt-0123',
          LaunchTemplateName: 'cloudmart-lt',
          LatestVersionNumber: 3,
          DefaultVersionNumber: 3,
        },
      ],
    });
    // AWS echoes the data in its own order: tags reversed, lists rebuilt.
    const echoed = {
      ...data,
      TagSpecifications: data
        .TagSpecifications!.map((t) => ({ ...t, Tags: [...t.Tags!].reverse() }))
        .reverse(),
    };
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ VersionNumber: 3, LaunchTemplateData: echoed }],
    });

    const out = await launchTemplateStep.create(ctx());

    expect(mutating(ec2)).toEqual([]);
    expect(mutating(ssm)).toEqual([]);
    expect(out.version).toBe('3');
    expect(ec2.commandCalls(DescribeLaunchTemplateVersionsCommand)[0]!.args[0].input).toEqual({
      LaunchTemplateId: 'lt-0123',
      Versions: ['$Latest'],
    });
  });

  it('creates a new default version when the settings change (instance type, backend code)', async () => {
    const data = await firstCreate();
    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: AGENT_VALUE } });
    ssm
      .on(GetParameterCommand, { Name: AMI_PARAM })
      .resolves({ Parameter: { Value: 'ami-0abc1234def567890' } });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        { LaunchTemplateId: 'lt-0123', LatestVersionNumber: 3, DefaultVersionNumber: 3 },
      ],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ VersionNumber: 3, LaunchTemplateData: data }],
    });
    ec2
      .on(CreateLaunchTemplateVersionCommand)
      .resolves({ LaunchTemplateVersion: { VersionNumber: 4 } });
    ec2.on(ModifyLaunchTemplateCommand).resolves({});
    backend.files = [
      FIXTURE[0]!,
      { path: 'package.json', content: Buffer.from('{"name":"v2"}\n') },
    ];

    const out = await launchTemplateStep.create(
      ctx(testConfig({ app: { instanceType: 't3.small' } })),
    );

    const version = ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]!.args[0].input;
    expect(version.LaunchTemplateId).toBe('lt-0123');
    expect(version.LaunchTemplateData!.InstanceType).toBe('t3.small');
    expect(version.ClientToken).toMatch(/^[0-9a-f]{16}-[0-9a-f-]{36}$/);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0]!.args[0].input).toEqual({
      LaunchTemplateId: 'lt-0123',
      DefaultVersion: '4',
    });
    expect(out.version).toBe('4');
  });

  it('an agent config up writes differently (an upgrade) is a new version, so the instances that read the old one at boot are replaced', async () => {
    const data = await firstCreate();
    // The release before wrote the same config without the CPU metric.
    backend.agentEdit = (c) => {
      delete (c as { metrics: { metrics_collected: { cpu?: unknown } } }).metrics.metrics_collected
        .cpu;
    };
    const older = await firstCreate();
    const olderAgent = JSON.stringify(agentConfig({ logGroup: '/aws/ec2/cloudmart-backend' }));
    backend.agentEdit = undefined;
    expect(olderAgent).not.toBe(AGENT_VALUE);
    expect(older.UserData).not.toBe(data.UserData);
    expect(decode(data.UserData)).toMatch(/^# Agent config read at boot: sha256 [0-9a-f]{16}$/m);

    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: olderAgent } });
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    ssm
      .on(GetParameterCommand, { Name: AMI_PARAM })
      .resolves({ Parameter: { Value: 'ami-0abc1234def567890' } });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        { LaunchTemplateId: 'lt-0123', LatestVersionNumber: 1, DefaultVersionNumber: 1 },
      ],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ VersionNumber: 1, LaunchTemplateData: older }],
    });
    ec2
      .on(CreateLaunchTemplateVersionCommand)
      .resolves({ LaunchTemplateVersion: { VersionNumber: 2 } });
    ec2.on(ModifyLaunchTemplateCommand).resolves({});

    const out = await launchTemplateStep.create(ctx());

    expect(ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: AGENT_PARAM, Value: AGENT_VALUE, Type: 'String', Overwrite: true },
    ]);
    // The new version (what the group's instance refresh rolls out) boots with the new config.
    const sent = ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]!.args[0].input;
    expect(sent.LaunchTemplateData!.UserData).toBe(data.UserData);
    expect(out.version).toBe('2');
  });

  it('overwrites the agent config when it drifted', async () => {
    const data = await firstCreate();
    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: '{"agent":{}}' } });
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    ssm
      .on(GetParameterCommand, { Name: AMI_PARAM })
      .resolves({ Parameter: { Value: 'ami-0abc1234def567890' } });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({
      LaunchTemplates: [
        { LaunchTemplateId: 'lt-0123', LatestVersionNumber: 1, DefaultVersionNumber: 1 },
      ],
    });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ VersionNumber: 1, LaunchTemplateData: data }],
    });
    await launchTemplateStep.create(ctx());
    expect(ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: AGENT_PARAM, Value: AGENT_VALUE, Type: 'String', Overwrite: true },
    ]);
    expect(mutating(ec2)).toEqual([]);
  });

  it('verify reports IMDSv1, an unencrypted volume, a public IP and a missing Backup tag', async () => {
    const data = await firstCreate();
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .resolves({ LaunchTemplates: [{ LaunchTemplateId: 'lt-0123' }] });
    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: AGENT_VALUE } });

    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ VersionNumber: 1, LaunchTemplateData: data }],
    });
    const good = await launchTemplateStep.verify(ctx());
    expect(good.every((c) => c.status === 'pass')).toBe(true);

    // The agent config an older cloudmart wrote: no CPU metric for the per-instance CPU lines.
    const older = JSON.parse(AGENT_VALUE) as { metrics: { metrics_collected: { cpu?: unknown } } };
    delete older.metrics.metrics_collected.cpu;
    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: JSON.stringify(older) } });
    const agent = (await launchTemplateStep.verify(ctx())).find(
      (c) => c.id === 'app.launch-template.cloudwatch-agent',
    );
    expect(agent).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(
        /; differs from the config up writes at metrics\.metrics_collected\.cpu$/,
      ),
    });
    // Configs that still name cpu_usage_active but publish no series the dashboard's SEARCH finds.
    type Agent = {
      metrics: { append_dimensions?: unknown; metrics_collected: { cpu: unknown } };
    };
    const edits: Array<[string, (c: Agent) => void]> = [
      // Per-core series only (cpu="cpu0"…): no cpu-total line.
      [
        'metrics.metrics_collected.cpu',
        (c) => {
          c.metrics.metrics_collected.cpu = {
            measurement: ['cpu_usage_active'],
            totalcpu: false,
            resources: ['*'],
          };
        },
      ],
      // Series {cpu, host}: no group, no instance id.
      ['metrics.append_dimensions', (c) => delete c.metrics.append_dimensions],
    ];
    for (const [path, edit] of edits) {
      const edited = JSON.parse(AGENT_VALUE) as Agent;
      edit(edited);
      ssm
        .on(GetParameterCommand, { Name: AGENT_PARAM })
        .resolves({ Parameter: { Value: JSON.stringify(edited) } });
      expect(
        (await launchTemplateStep.verify(ctx())).find(
          (c) => c.id === 'app.launch-template.cloudwatch-agent',
        ),
        path,
      ).toMatchObject({
        status: 'fail',
        evidence: expect.stringContaining(`differs from the config up writes at ${path}`),
        fix: 'cloudmart up --phase 1',
      });
    }
    // Key order is not a difference (SSM hands back the text as written, but a hand edit may not).
    const reordered = JSON.parse(AGENT_VALUE) as Record<string, unknown>;
    ssm.on(GetParameterCommand, { Name: AGENT_PARAM }).resolves({
      Parameter: {
        Value: JSON.stringify(Object.fromEntries(Object.entries(reordered).reverse())),
      },
    });
    expect(
      (await launchTemplateStep.verify(ctx())).find(
        (c) => c.id === 'app.launch-template.cloudwatch-agent',
      )?.status,
    ).toBe('pass');
    ssm
      .on(GetParameterCommand, { Name: AGENT_PARAM })
      .resolves({ Parameter: { Value: AGENT_VALUE } });

    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [
        {
          VersionNumber: 2,
          LaunchTemplateData: {
            ...data,
            MetadataOptions: { HttpTokens: 'optional' },
            NetworkInterfaces: [
              { DeviceIndex: 0, AssociatePublicIpAddress: true, Groups: ['sg-app'] },
            ],
            BlockDeviceMappings: [
              { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 8, Encrypted: false } },
            ],
            TagSpecifications: [{ ResourceType: 'instance', Tags: [] }],
          },
        },
      ],
    });
    const bad = Object.fromEntries((await launchTemplateStep.verify(ctx())).map((c) => [c.id, c]));
    expect(bad['app.launch-template.imdsv2']).toMatchObject({
      status: 'fail',
      evidence: 'cloudmart-lt v2 HttpTokens=optional',
    });
    expect(bad['app.launch-template.ebs-encrypted']?.status).toBe('fail');
    expect(bad['app.launch-template.no-public-ip']?.status).toBe('fail');
    expect(bad['app.launch-template.backup-tag']?.status).toBe('fail');
    expect(bad['app.launch-template.instance-profile']?.status).toBe('pass');
  });

  it('verify fails when the template is missing', async () => {
    ec2
      .on(DescribeLaunchTemplatesCommand)
      .rejects(awsError('InvalidLaunchTemplateName.NotFoundException', 'not found'));
    const checks = await launchTemplateStep.verify(ctx());
    expect(checks).toEqual([
      expect.objectContaining({ id: 'app.launch-template.exists', status: 'fail' }),
    ]);
  });

  it('teardown deletes the template and the agent config; both already gone is fine', async () => {
    ec2.on(DeleteLaunchTemplateCommand).resolves({});
    ssm.on(DeleteParameterCommand).resolves({});
    await launchTemplateStep.teardown(testContext({ stepId: launchTemplateStep.id }));
    expect(ec2.commandCalls(DeleteLaunchTemplateCommand)[0]!.args[0].input).toEqual({
      LaunchTemplateName: 'cloudmart-lt',
    });
    expect(ssm.commandCalls(DeleteParameterCommand)[0]!.args[0].input).toEqual({
      Name: AGENT_PARAM,
    });

    ec2 = strictMock(EC2Client);
    ssm = strictMock(SSMClient);
    ec2
      .on(DeleteLaunchTemplateCommand)
      .rejects(awsError('InvalidLaunchTemplateName.NotFoundException', 'not found'));
    ssm.on(DeleteParameterCommand).rejects(awsError('ParameterNotFound'));
    await expect(
      launchTemplateStep.teardown(testContext({ stepId: launchTemplateStep.id })),
    ).resolves.toBeUndefined();
  });
});
