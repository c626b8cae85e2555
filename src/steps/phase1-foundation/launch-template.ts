import { randomUUID } from 'node:crypto';
import type {
  LaunchTemplate,
  RequestLaunchTemplateData,
  ResponseLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { isAlreadyExists, isNotFound } from '../../aws/errors.js';
import { retryWhile } from '../../aws/wait.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { parseJson, sameJson as sameJsonValue } from '../phase2-monitoring/compare.js';
import {
  STEP,
  type InstanceRoleOutputs,
  type KmsOutputs,
  type LaunchTemplateOutputs,
  type SecurityGroupsOutputs,
} from '../outputs.js';
import {
  agentConfig,
  NODE_MAJOR,
  readBackendFiles,
  renderUserData,
  userDataDigest,
} from './user-data.js';

const ec2sdk = () => import('@aws-sdk/client-ec2');
const ssmsdk = () => import('@aws-sdk/client-ssm');

/** Amazon Linux's root device: what the checks assume when the AMI can no longer be read. */
export const ROOT_DEVICE = '/dev/xvda';

/**
 * The device the AMI boots from. The template's volume settings (size, gp3, KMS) must name
 * exactly that device: under any other name EC2 attaches them as a second, billed volume and
 * the real root keeps the AMI's defaults, unencrypted ("Block device mappings": Amazon Linux
 * boots from /dev/xvda, Ubuntu and most others from /dev/sda1). Undefined when the AMI is
 * not found.
 */
async function findRootDevice(ctx: StepContext, amiId: string): Promise<string | undefined> {
  const { paginateDescribeImages } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  try {
    for await (const out of paginateDescribeImages({ client: ec2 }, { ImageIds: [amiId] })) {
      const device = out.Images?.[0]?.RootDeviceName;
      if (device) return device;
    }
    return undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function rootDeviceOf(ctx: StepContext, amiId: string): Promise<string> {
  const device = await findRootDevice(ctx, amiId);
  if (!device) {
    throw new CloudmartError(
      'USAGE',
      `app.ami: AMI ${amiId} was not found in ${ctx.config.region}`,
      {
        hint: 'Set app.ami to an AMI id of this region (ami-…) or to a public parameter such as /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      },
    );
  }
  return device;
}

/** The SSM parameter the instances' CloudWatch agent reads its config from. */
export function agentParameterName(config: StepContext['config']): string {
  return `${names.parameterPrefix(config)}/cloudwatch-agent`;
}

/** A new role or instance profile takes seconds to reach EC2 ("Invalid IamInstanceProfile"). */
export function isProfilePropagation(e: unknown): boolean {
  const err = e as { name?: string; message?: string } | null;
  return (
    /InvalidParameterValue|InvalidParameter|ValidationError|InvalidIamInstanceProfile/i.test(
      err?.name ?? '',
    ) && /iam ?instance ?profile|instance profile|iamInstanceProfile/i.test(err?.message ?? '')
  );
}

/** `config.app.ami` is an AMI id, or the SSM public parameter naming the latest AMI. */
async function resolveAmi(ctx: StepContext): Promise<string> {
  const ami = ctx.config.app.ami;
  if (ami.startsWith('ami-')) return ami;
  const { GetParameterCommand } = await ssmsdk();
  const ssm = await ctx.aws.get('ssm');
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: ami }));
    const value = out.Parameter?.Value;
    if (!value?.startsWith('ami-')) {
      throw new CloudmartError('AWS_ERROR', `SSM parameter ${ami} does not name an AMI`);
    }
    return value;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new CloudmartError(
      'USAGE',
      `app.ami: the SSM parameter ${ami} does not exist in ${ctx.config.region}`,
      {
        cause: e,
        hint: 'Set app.ami to an AMI id (ami-…) or to a public parameter such as /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
      },
    );
  }
}

/** The template data this config asks for, and the digest of its user data. */
async function desiredData(
  ctx: StepContext,
  amiId: string,
  rootDevice: string,
): Promise<{ data: RequestLaunchTemplateData; digest: string }> {
  const { config } = ctx;
  const sg = ctx.outputs<SecurityGroupsOutputs>(STEP.securityGroups);
  const role = ctx.outputs<InstanceRoleOutputs>(STEP.instanceRole);
  const kms = ctx.outputs<KmsOutputs>(STEP.kms);
  const { userData, digest } = renderUserData({
    region: config.region,
    parameterPrefix: names.parameterPrefix(config),
    agentParameter: agentParameterName(config),
    agentConfig: agentConfigValue(config),
    image: config.app.image,
    files: config.app.image === null ? await readBackendFiles() : [],
  });
  const backup = config.backup.selectionTag;
  const data: RequestLaunchTemplateData = {
    ImageId: amiId,
    InstanceType: config.app.instanceType as RequestLaunchTemplateData['InstanceType'],
    IamInstanceProfile: { Name: role.instanceProfileName },
    // An explicit interface: no public address, whatever the subnet's default says.
    NetworkInterfaces: [
      {
        DeviceIndex: 0,
        AssociatePublicIpAddress: false,
        DeleteOnTermination: true,
        Groups: [sg.appSgId],
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
        DeviceName: rootDevice,
        Ebs: {
          VolumeSize: config.app.rootVolumeGiB,
          VolumeType: 'gp3',
          Encrypted: true,
          KmsKeyId: kms.keyArn,
          DeleteOnTermination: true,
        },
      },
    ],
    TagSpecifications: [
      { ResourceType: 'instance', Tags: ctx.tags.list(names.of(config, 'app')) },
      {
        ResourceType: 'volume',
        Tags: ctx.tags.list(names.of(config, 'app-volume'), { [backup.key]: backup.value }),
      },
    ],
    UserData: userData,
  };
  return { data, digest };
}

type AnyTemplateData = RequestLaunchTemplateData | ResponseLaunchTemplateData;

/**
 * The settings cloudmart manages, in one canonical shape for request and response data alike
 * (AWS echoes defaults and orders lists its own way). The user data compares by its digest.
 */
export function projection(d: AnyTemplateData | undefined): Record<string, unknown> {
  const sortTags = (tags: Array<{ Key?: string; Value?: string }> | undefined) =>
    [...(tags ?? [])]
      .map((t) => `${t.Key ?? ''}=${t.Value ?? ''}`)
      .sort()
      .join(',');
  const profile = d?.IamInstanceProfile;
  return {
    imageId: d?.ImageId,
    instanceType: d?.InstanceType,
    profile: profile?.Name ?? profile?.Arn?.split('/').pop(),
    network: (d?.NetworkInterfaces ?? []).map((n) => ({
      index: n.DeviceIndex ?? 0,
      publicIp: n.AssociatePublicIpAddress ?? null,
      groups: [...(n.Groups ?? [])].sort(),
    })),
    groups: [...(d?.SecurityGroupIds ?? [])].sort(),
    metadata: {
      tokens: d?.MetadataOptions?.HttpTokens,
      hops: d?.MetadataOptions?.HttpPutResponseHopLimit,
      endpoint: d?.MetadataOptions?.HttpEndpoint ?? 'enabled',
    },
    monitoring: d?.Monitoring?.Enabled === true,
    disks: (d?.BlockDeviceMappings ?? []).map((b) => ({
      device: b.DeviceName,
      size: b.Ebs?.VolumeSize,
      type: b.Ebs?.VolumeType,
      encrypted: b.Ebs?.Encrypted === true,
      kms: b.Ebs?.KmsKeyId,
    })),
    tags: [...(d?.TagSpecifications ?? [])]
      .map((t) => `${t.ResourceType ?? ''}:${sortTags(t.Tags)}`)
      .sort(),
    userData: userDataDigest(d?.UserData) ?? d?.UserData,
  };
}

/**
 * One token per create() call: the SDK's and our own retries of the same request stay
 * idempotent, while a template re-created after a destroy never gets a stale answer for a
 * token EC2 still remembers. Duplicates across runs are prevented by the unique name.
 */
function token(digest: string): string {
  return `${digest.slice(0, 16)}-${randomUUID()}`;
}

async function findTemplate(ctx: StepContext): Promise<LaunchTemplate | undefined> {
  const { DescribeLaunchTemplatesCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  try {
    const out = await ec2.send(
      new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [names.of(ctx.config, 'lt')] }),
    );
    return out.LaunchTemplates?.[0];
  } catch (e) {
    // InvalidLaunchTemplateName.NotFoundException
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function latestData(
  ctx: StepContext,
  templateId: string,
): Promise<{ version: number; data: ResponseLaunchTemplateData | undefined }> {
  const { DescribeLaunchTemplateVersionsCommand } = await ec2sdk();
  const ec2 = await ctx.aws.get('ec2');
  const out = await ec2.send(
    new DescribeLaunchTemplateVersionsCommand({
      LaunchTemplateId: templateId,
      Versions: ['$Latest'],
    }),
  );
  const v = out.LaunchTemplateVersions?.[0];
  return { version: v?.VersionNumber ?? 0, data: v?.LaunchTemplateData };
}

/** The CloudWatch agent config's text, as the parameter holds it and the user data digests it. */
function agentConfigValue(config: StepContext['config']): string {
  return JSON.stringify(agentConfig({ logGroup: config.monitoring.logs.backend.name }));
}

/** Put the CloudWatch agent config in SSM: tagged at creation, overwritten only when it differs. */
async function ensureAgentConfig(ctx: StepContext): Promise<string> {
  const { GetParameterCommand, PutParameterCommand } = await ssmsdk();
  const ssm = await ctx.aws.get('ssm');
  const name = agentParameterName(ctx.config);
  const value = agentConfigValue(ctx.config);
  let current: string | undefined;
  try {
    current = (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (current === undefined) {
    ctx.progress(`writing the CloudWatch agent config to ${name}`);
    try {
      await ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: value,
          Type: 'String',
          Description: 'CloudWatch agent config for the CloudMart app instances',
          Tags: ctx.tags.list(name),
        }),
      );
      return name;
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  } else if (sameJson(current, value)) {
    return name;
  }
  await ssm.send(
    new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }),
  );
  return name;
}

/** Where two JSON values differ, as dotted paths, down to `depth` object levels. */
function jsonDiffPaths(a: unknown, b: unknown, path: string, depth: number): string[] {
  if (sameJsonValue(a, b)) return [];
  const isObject = (x: unknown): x is Record<string, unknown> =>
    x !== null && typeof x === 'object' && !Array.isArray(x);
  if (depth === 0 || !isObject(a) || !isObject(b)) return [path || '(the whole document)'];
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .sort()
    .flatMap((k) => jsonDiffPaths(a[k], b[k], path ? `${path}.${k}` : k, depth - 1));
}

function sameJson(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

function tagOf(
  data: ResponseLaunchTemplateData | undefined,
  resourceType: string,
  key: string,
): string | undefined {
  return data?.TagSpecifications?.find((t) => t.ResourceType === resourceType)?.Tags?.find(
    (t) => t.Key === key,
  )?.Value;
}

export const launchTemplateStep = defineStep<LaunchTemplateOutputs>({
  id: STEP.launchTemplate,
  phase: 1,
  title: 'Launch template',
  needs: [STEP.securityGroups, STEP.instanceRole, STEP.kms],
  actions: [
    'ssm:GetParameter',
    'ssm:PutParameter',
    'ssm:AddTagsToResource',
    'ssm:DeleteParameter',
    'ec2:DescribeLaunchTemplates',
    'ec2:DescribeImages',
    'ec2:DescribeLaunchTemplateVersions',
    'ec2:CreateLaunchTemplate',
    'ec2:CreateLaunchTemplateVersion',
    'ec2:ModifyLaunchTemplate',
    'ec2:DeleteLaunchTemplate',
    'ec2:CreateTags',
    'iam:PassRole',
  ],
  describe: (config) => [
    `Launch template ${names.of(config, 'lt')}: ${config.app.instanceType}, AMI ${config.app.ami}, IMDSv2 required, ` +
      `gp3 ${config.app.rootVolumeGiB} GiB root volume encrypted with the stack KMS key, volumes tagged ` +
      `${config.backup.selectionTag.key}=${config.backup.selectionTag.value}`,
    config.app.image === null
      ? `User data: Node.js ${NODE_MAJOR} + CloudWatch agent, the reference backend (backend/src) installed from its lockfile (npm ci) as a systemd service on port ${config.app.port}`
      : `User data: Docker + CloudWatch agent, container ${config.app.image} on port ${config.app.port}`,
    `CloudWatch agent config in SSM ${agentParameterName(config)}: ${config.monitoring.logs.backend.name}, CPU, memory and disk metrics`,
  ],

  async create(ctx) {
    const {
      CreateLaunchTemplateCommand,
      CreateLaunchTemplateVersionCommand,
      ModifyLaunchTemplateCommand,
    } = await ec2sdk();
    const ec2 = await ctx.aws.get('ec2');
    const name = names.of(ctx.config, 'lt');

    // Everything that can fail on input (AMI, backend size) before the first write.
    const amiId = await resolveAmi(ctx);
    const rootDevice = await rootDeviceOf(ctx, amiId);
    const { data, digest } = await desiredData(ctx, amiId, rootDevice);
    const clientToken = token(digest);
    const agentParameter = await ensureAgentConfig(ctx);

    let template = await findTemplate(ctx);
    let version: number;
    if (!template) {
      ctx.progress(`creating ${name} (${amiId})`);
      try {
        const out = await retryWhile(
          ctx,
          () =>
            ec2.send(
              new CreateLaunchTemplateCommand({
                LaunchTemplateName: name,
                VersionDescription: `cloudmart ${digest.slice(0, 12)}`,
                LaunchTemplateData: data,
                ClientToken: clientToken,
                TagSpecifications: [{ ResourceType: 'launch-template', Tags: ctx.tags.list(name) }],
              }),
            ),
          { what: `creating ${name}`, when: isProfilePropagation, timeoutMs: 120_000 },
        );
        template = out.LaunchTemplate;
      } catch (e) {
        // Another run created it between our lookup and our create.
        if (!isAlreadyExists(e)) throw e;
        template = await findTemplate(ctx);
      }
      if (!template?.LaunchTemplateId) throw new Error('CreateLaunchTemplate returned no id');
      version = template.LatestVersionNumber ?? 1;
    } else {
      const latest = await latestData(ctx, template.LaunchTemplateId!);
      version = latest.version;
      if (JSON.stringify(projection(latest.data)) !== JSON.stringify(projection(data))) {
        ctx.progress(`${name}: settings changed, creating a new version`);
        const out = await retryWhile(
          ctx,
          () =>
            ec2.send(
              new CreateLaunchTemplateVersionCommand({
                LaunchTemplateId: template!.LaunchTemplateId,
                VersionDescription: `cloudmart ${digest.slice(0, 12)}`,
                LaunchTemplateData: data,
                ClientToken: clientToken,
              }),
            ),
          { what: `updating ${name}`, when: isProfilePropagation, timeoutMs: 120_000 },
        );
        version = out.LaunchTemplateVersion?.VersionNumber ?? version + 1;
      }
      // The default version is what a plain reference launches; keep it on the newest.
      if (template.DefaultVersionNumber !== version) {
        await ec2.send(
          new ModifyLaunchTemplateCommand({
            LaunchTemplateId: template.LaunchTemplateId,
            DefaultVersion: String(version),
          }),
        );
      }
    }

    return {
      launchTemplateId: template.LaunchTemplateId!,
      launchTemplateName: name,
      version: String(version),
      amiId,
      rootDeviceName: rootDevice,
      agentParameter,
      userDataDigest: digest,
    };
  },

  async verify(ctx) {
    const template = await findTemplate(ctx);
    const name = names.of(ctx.config, 'lt');
    if (!template?.LaunchTemplateId) {
      return [
        {
          id: 'app.launch-template.exists',
          title: 'Launch template exists',
          criterion: 'auto-scaling',
          status: 'fail',
          evidence: `no launch template named ${name}`,
          fix: 'cloudmart up --phase 1',
        },
      ];
    }
    const { version, data } = await latestData(ctx, template.LaunchTemplateId);
    const at = `${name} v${version}`;
    const kms = ctx.maybeOutputs<KmsOutputs>(STEP.kms);
    const device = (data?.ImageId && (await findRootDevice(ctx, data.ImageId))) || ROOT_DEVICE;
    const root = data?.BlockDeviceMappings?.find((b) => b.DeviceName === device)?.Ebs;
    const iface = data?.NetworkInterfaces?.[0];
    const backup = ctx.config.backup.selectionTag;
    const volumeTag = tagOf(data, 'volume', backup.key);
    const fix = 'cloudmart up --phase 1';

    const checks: Check[] = [
      {
        id: 'app.launch-template.imdsv2',
        title: 'Instances require IMDSv2',
        criterion: 'security-design',
        status: data?.MetadataOptions?.HttpTokens === 'required' ? 'pass' : 'fail',
        evidence: `${at} HttpTokens=${data?.MetadataOptions?.HttpTokens ?? 'optional'}`,
        fix,
      },
      {
        id: 'app.launch-template.ebs-encrypted',
        title: 'Root volume encrypted with the stack KMS key',
        criterion: 'encryption',
        status:
          root?.Encrypted !== true
            ? 'fail'
            : kms && root.KmsKeyId !== kms.keyArn && root.KmsKeyId !== kms.keyId
              ? 'warn'
              : 'pass',
        evidence: `${at} ${device} Encrypted=${root?.Encrypted ?? false} KmsKeyId=${root?.KmsKeyId ?? 'aws/ebs'}`,
        fix,
      },
      {
        id: 'app.launch-template.no-public-ip',
        title: 'Instances get no public IP',
        criterion: 'security-design',
        status: iface?.AssociatePublicIpAddress === false ? 'pass' : 'fail',
        evidence: `${at} AssociatePublicIpAddress=${String(iface?.AssociatePublicIpAddress ?? 'subnet default')}`,
        fix,
      },
      {
        id: 'app.launch-template.instance-profile',
        title: 'Instances run with the least-privilege instance profile',
        criterion: 'iam',
        status: data?.IamInstanceProfile?.Name || data?.IamInstanceProfile?.Arn ? 'pass' : 'fail',
        evidence: `${at} IamInstanceProfile=${data?.IamInstanceProfile?.Name ?? data?.IamInstanceProfile?.Arn ?? 'none'}`,
        fix,
      },
      {
        id: 'app.launch-template.backup-tag',
        title: `Volumes tagged ${backup.key}=${backup.value} for AWS Backup`,
        criterion: 'backup',
        status: volumeTag === backup.value ? 'pass' : 'fail',
        evidence: `${at} volume tag ${backup.key}=${volumeTag ?? '(none)'}`,
        fix,
      },
    ];

    const { GetParameterCommand } = await ssmsdk();
    const ssm = await ctx.aws.get('ssm');
    const param = agentParameterName(ctx.config);
    let agent: string | undefined;
    try {
      agent = (await ssm.send(new GetParameterCommand({ Name: param }))).Parameter?.Value;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    // The config as a whole, compared with what `up` writes: the dashboard's per-instance
    // SEARCHes (dashboard.ts INSTANCE_SEARCHES) find only the series this exact config publishes;
    // a substring test passed `totalcpu: false` with per-core `resources: ["*"]` (no cpu-total
    // series) or a config without append_dimensions (no group or instance dimension).
    const wanted = agentConfig({ logGroup: ctx.config.monitoring.logs.backend.name });
    const parsed = parseJson(agent);
    const differs = agent === undefined ? [] : jsonDiffPaths(parsed, wanted, '', 3);
    checks.push({
      id: 'app.launch-template.cloudwatch-agent',
      title: 'CloudWatch agent config ships the app log and CPU/memory/disk metrics',
      criterion: 'dashboard',
      status: agent !== undefined && differs.length === 0 ? 'pass' : 'fail',
      evidence:
        agent === undefined
          ? `${param} missing`
          : parsed === undefined
            ? `${param} is not JSON`
            : `${param} present (${agent.length} chars)${differs.length > 0 ? `; differs from the config up writes at ${differs.join(', ')}` : ''}`,
      fix,
    });
    return checks;
  },

  async teardown(ctx) {
    const { DeleteLaunchTemplateCommand } = await ec2sdk();
    const { DeleteParameterCommand } = await ssmsdk();
    const ec2 = await ctx.aws.get('ec2');
    const ssm = await ctx.aws.get('ssm');
    try {
      await ec2.send(
        new DeleteLaunchTemplateCommand({ LaunchTemplateName: names.of(ctx.config, 'lt') }),
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    try {
      await ssm.send(new DeleteParameterCommand({ Name: agentParameterName(ctx.config) }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
});
