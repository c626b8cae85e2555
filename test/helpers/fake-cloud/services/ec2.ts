/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import {
  cidrContains,
  cidrOverlap,
  clone,
  ipAt,
  page,
  parseCidr,
  sha,
  tagsFromSpecs,
} from '../util.js';
import type { World } from '../world.js';
import { applyFilters, date, findKey, tags, type Fields } from './shared.js';

/**
 * EC2: VPCs, subnets, internet gateways, Elastic IPs, NAT gateways, route tables, security
 * groups and their rules, launch templates, instances, volumes, network interfaces, flow logs
 * and the per-region EBS encryption defaults.
 */

const T = {
  vpc: 'ec2:vpc',
  subnet: 'ec2:subnet',
  igw: 'ec2:internet-gateway',
  eip: 'ec2:elastic-ip',
  nat: 'ec2:natgateway',
  rtb: 'ec2:route-table',
  sg: 'ec2:security-group',
  lt: 'ec2:launch-template',
  instance: 'ec2:instance',
  volume: 'ec2:volume',
  eni: 'ec2:network-interface',
  flowLog: 'ec2:vpc-flow-log',
} as const;

export const EC2_TYPES = T;

const HOUR = 3_600_000;

/** The Availability Zones the fake gives every region (CreateSubnet accepts them, a–d). */
const DEFAULT_AZ_LETTERS = ['a', 'b', 'c', 'd'];

function notFound(w: World, code: string, what: string, id: string): Error {
  return w.error('ec2', code, `The ${what} ID '${id}' does not exist`);
}

function dependency(w: World, message: string): Error {
  return w.error('ec2', 'DependencyViolation', message);
}

/** Look up resources by id list (NotFound for any unknown id) or everything in the region. */
function byIds(
  w: World,
  type: string,
  region: string,
  ids: string[] | undefined,
  missing: (id: string) => Error,
  includeGone = false,
): Resource[] {
  if (!ids || ids.length === 0) return w.all(type, region).filter((r) => includeGone || !r.gone);
  return ids.map((id) => {
    const r = w.get(type, region, id);
    if (!r || (!includeGone && r.gone)) throw missing(id);
    return r;
  });
}

// ---------------------------------------------------------------------------------------------
// Network interfaces (created by NAT gateways, ALBs, RDS, ElastiCache and instances)
// ---------------------------------------------------------------------------------------------

export interface EniSpec {
  region: string;
  subnetId: string;
  groups: string[];
  description: string;
  interfaceType: string;
  requesterId?: string;
  /** Who owns it: the NAT id, LB ARN, DB identifier, cache cluster id or instance id. */
  owner: string;
  publicIp?: string;
  instanceId?: string;
}

/** Allocate the next private address of a subnet. */
export function nextPrivateIp(w: World, region: string, subnetId: string): string {
  const subnet = w.get(T.subnet, region, subnetId);
  if (!subnet) return '10.0.0.10';
  const n = (subnet.data.nextIp as number) ?? 4;
  subnet.data.nextIp = n + 1;
  return ipAt(subnet.data.cidr as string, n);
}

export function publicIp(w: World): string {
  return `${[3, 13, 15, 43, 52][w.rng.int(5)]}.${w.rng.int(255)}.${w.rng.int(255)}.${1 + w.rng.int(253)}`;
}

export function createEni(w: World, s: EniSpec): Resource {
  const subnet = w.get(T.subnet, s.region, s.subnetId);
  const id = w.ec2Id('eni');
  return w.add({
    service: 'ec2',
    type: T.eni,
    region: s.region,
    id,
    arn: w.arn('ec2', s.region, `network-interface/${id}`),
    state: 'in-use',
    owner: s.owner,
    data: {
      subnetId: s.subnetId,
      vpcId: subnet?.data.vpcId,
      az: subnet?.data.az,
      groups: s.groups,
      description: s.description,
      interfaceType: s.interfaceType,
      requesterId: s.requesterId,
      privateIp: nextPrivateIp(w, s.region, s.subnetId),
      publicIp: s.publicIp,
      instanceId: s.instanceId,
    },
  });
}

/** The ENIs of an owner disappear `delay` simulated ms from now (they outlive their owner). */
export function releaseEnis(w: World, region: string, owner: string, delay: number): void {
  for (const eni of w.find(T.eni, region, (e) => e.owner === owner)) {
    w.cancel(eni, (t) => t.remove === true);
    w.schedule(eni, delay, { remove: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Instances and volumes (launched by Auto Scaling)
// ---------------------------------------------------------------------------------------------

export interface LaunchSpec {
  region: string;
  subnetId: string;
  templateId: string;
  templateVersion: number;
  templateData: In;
  extraTags: Record<string, string>;
  owner: string;
}

/** A public AMI AWS publishes (AWS-owned), with the device it boots from. */
export const IMAGE = 'ec2:image';
export function registerPublicImage(
  w: World,
  region: string,
  id: string,
  rootDevice: string,
): Resource {
  return (
    w.live(IMAGE, region, id) ??
    w.add({
      service: 'ec2',
      type: IMAGE,
      region,
      id,
      state: 'available',
      system: true,
      data: { rootDevice, public: true },
    })
  );
}

/**
 * RunInstances as Auto Scaling does it: the instance, its volumes and its interface. The root
 * volume is the AMI's root device: a mapping that names it sets its size and encryption; a
 * mapping under any other name is a second volume, and the root keeps the AMI's defaults.
 */
export function launchInstance(w: World, s: LaunchSpec): Resource {
  const subnet = w.get(T.subnet, s.region, s.subnetId)!;
  const d = s.templateData ?? {};
  const rootDevice =
    (w.get(IMAGE, s.region, String(d.ImageId))?.data.rootDevice as string | undefined) ??
    '/dev/xvda';
  const id = w.ec2Id('i');
  const iface = (d.NetworkInterfaces ?? [])[0] ?? {};
  const groups: string[] = iface.Groups ?? d.SecurityGroupIds ?? [];
  const instanceTags = {
    ...tagsFromSpecs(d.TagSpecifications, 'instance'),
    ...s.extraTags,
    'aws:ec2launchtemplate:id': s.templateId,
    'aws:ec2launchtemplate:version': String(s.templateVersion),
  };
  const volumeTags = { ...tagsFromSpecs(d.TagSpecifications, 'volume'), ...s.extraTags };
  const publicAddr =
    iface.AssociatePublicIpAddress === true ||
    (iface.AssociatePublicIpAddress === undefined && subnet.data.mapPublicIp === true)
      ? publicIp(w)
      : undefined;
  const eni = createEni(w, {
    region: s.region,
    subnetId: s.subnetId,
    groups,
    description: '',
    interfaceType: 'interface',
    owner: id,
    instanceId: id,
    ...(publicAddr ? { publicIp: publicAddr } : {}),
  });
  const volumes: string[] = [];
  const mappings = (d.BlockDeviceMappings ?? []) as In[];
  const devices = mappings.some((m) => m.DeviceName === rootDevice)
    ? mappings
    : [{ DeviceName: rootDevice, Ebs: {} }, ...mappings];
  for (const m of devices) {
    const ebs = m.Ebs ?? {};
    const settings = w.regionSettings(s.region);
    const encrypted = ebs.Encrypted === true || settings.ebsEncryptionByDefault === true;
    const keyRef: string | undefined = encrypted
      ? (ebs.KmsKeyId ??
        (settings.ebsDefaultKmsKeyId as string | undefined) ??
        w.arn('kms', s.region, 'alias/aws/ebs'))
      : undefined;
    const key = keyRef ? findKey(w, s.region, keyRef) : undefined;
    const volId = w.ec2Id('vol');
    volumes.push(volId);
    w.add({
      service: 'ec2',
      type: T.volume,
      region: s.region,
      id: volId,
      arn: w.arn('ec2', s.region, `volume/${volId}`),
      tags: volumeTags,
      state: 'in-use',
      owner: id,
      data: {
        size: ebs.VolumeSize ?? 8,
        volumeType: ebs.VolumeType ?? 'gp3',
        encrypted,
        kmsKeyId: key?.arn ?? keyRef,
        az: subnet.data.az,
        instanceId: id,
        device: m.DeviceName ?? rootDevice,
        deleteOnTermination: ebs.DeleteOnTermination !== false,
      },
    });
  }
  const instance = w.add({
    service: 'ec2',
    type: T.instance,
    region: s.region,
    id,
    arn: w.arn('ec2', s.region, `instance/${id}`),
    tags: instanceTags,
    state: 'pending',
    owner: s.owner,
    data: {
      reservationId: w.ec2Id('r'),
      imageId: d.ImageId,
      rootDevice,
      instanceType: d.InstanceType,
      subnetId: s.subnetId,
      vpcId: subnet.data.vpcId,
      az: subnet.data.az,
      privateIp: eni.data.privateIp,
      publicIp: publicAddr,
      groups,
      eniId: eni.id,
      volumes,
      metadataOptions: {
        HttpTokens: d.MetadataOptions?.HttpTokens ?? 'optional',
        HttpPutResponseHopLimit: d.MetadataOptions?.HttpPutResponseHopLimit ?? 1,
        HttpEndpoint: d.MetadataOptions?.HttpEndpoint ?? 'enabled',
        State: 'applied',
      },
      iamInstanceProfile: d.IamInstanceProfile?.Name ?? d.IamInstanceProfile?.Arn,
      monitoring: d.Monitoring?.Enabled === true ? 'enabled' : 'disabled',
      launchTime: w.now(),
      templateId: s.templateId,
      templateVersion: s.templateVersion,
      userData: d.UserData,
    },
  });
  w.schedule(instance, w.t('instanceRunning'), { state: 'running' });
  return instance;
}

/** Terminate: shutting-down, then terminated (visible for an hour), volumes and ENI go. */
export function terminateInstance(w: World, region: string, id: string, delay: number): void {
  const i = w.get(T.instance, region, id);
  if (!i || i.gone || i.state === 'shutting-down') return;
  w.cancel(i);
  i.state = 'shutting-down';
  w.schedule(i, delay, { state: 'terminated', gone: true, event: 'ec2.terminated' });
  w.schedule(i, delay + HOUR, { remove: true });
}

/** EC2's instance state codes (the low byte of InstanceState.Code). */
const INSTANCE_STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

const instanceState = (r: Resource): In => ({
  Code: INSTANCE_STATE_CODES[r.state] ?? 0,
  Name: r.state,
});

function instanceShape(w: World, r: Resource): In {
  const d = r.data;
  const gone = r.state === 'terminated';
  const profile = d.iamInstanceProfile as string | undefined;
  return {
    InstanceId: r.id,
    ImageId: d.imageId,
    InstanceType: d.instanceType,
    State: instanceState(r),
    LaunchTime: date(d.launchTime as number),
    Placement: { AvailabilityZone: d.az, Tenancy: 'default' },
    ...(gone
      ? {}
      : {
          SubnetId: d.subnetId,
          VpcId: d.vpcId,
          PrivateIpAddress: d.privateIp,
          ...(d.publicIp ? { PublicIpAddress: d.publicIp } : {}),
        }),
    MetadataOptions: d.metadataOptions,
    Monitoring: { State: d.monitoring },
    ...(profile
      ? {
          IamInstanceProfile: {
            Arn: profile.startsWith('arn:')
              ? profile
              : `arn:aws:iam::${w.account}:instance-profile/${profile}`,
            Id: 'AIPA' + r.id.slice(2, 19).toUpperCase(),
          },
        }
      : {}),
    SecurityGroups: gone
      ? []
      : (d.groups as string[]).map((g) => ({
          GroupId: g,
          GroupName: w.get(T.sg, r.region, g)?.data.groupName,
        })),
    BlockDeviceMappings: gone
      ? []
      : (d.volumes as string[]).map((v) => ({
          DeviceName: w.get(T.volume, r.region, v)?.data.device,
          Ebs: { VolumeId: v, Status: 'attached', DeleteOnTermination: true },
        })),
    RootDeviceName: d.rootDevice ?? '/dev/xvda',
    Tags: tags(r),
  };
}

// ---------------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------------

function vpcShape(w: World, r: Resource): In {
  return {
    VpcId: r.id,
    CidrBlock: r.data.cidr,
    State: r.state,
    OwnerId: w.account,
    IsDefault: r.data.isDefault === true,
    InstanceTenancy: 'default',
    DhcpOptionsId: r.data.dhcpOptionsId,
    CidrBlockAssociationSet: [
      {
        AssociationId: r.data.cidrAssociationId,
        CidrBlock: r.data.cidr,
        CidrBlockState: { State: 'associated' },
      },
    ],
    Tags: tags(r),
  };
}

function subnetShape(w: World, r: Resource): In {
  const used = w.find(T.eni, r.region, (e) => e.data.subnetId === r.id).length;
  const size = 2 ** (32 - (parseCidr(r.data.cidr as string)?.bits ?? 24)) - 5;
  return {
    SubnetId: r.id,
    SubnetArn: r.arn,
    VpcId: r.data.vpcId,
    CidrBlock: r.data.cidr,
    AvailabilityZone: r.data.az,
    AvailabilityZoneId: r.data.azId,
    State: r.state,
    MapPublicIpOnLaunch: r.data.mapPublicIp === true,
    AvailableIpAddressCount: size - used,
    DefaultForAz: r.data.defaultForAz === true,
    OwnerId: w.account,
    Tags: tags(r),
  };
}

function igwShape(w: World, r: Resource): In {
  return {
    InternetGatewayId: r.id,
    OwnerId: w.account,
    Attachments: (r.data.attachments as In[]).map((a) => ({ VpcId: a.vpcId, State: 'available' })),
    Tags: tags(r),
  };
}

function eipShape(r: Resource): In {
  const d = r.data;
  return {
    AllocationId: r.id,
    PublicIp: d.publicIp,
    Domain: 'vpc',
    NetworkBorderGroup: r.region,
    PublicIpv4Pool: 'amazon',
    ...(d.associationId
      ? {
          AssociationId: d.associationId,
          NetworkInterfaceId: d.eniId,
          NetworkInterfaceOwnerId: d.eniOwner,
          PrivateIpAddress: d.privateIp,
        }
      : {}),
    Tags: tags(r),
  };
}

function natShape(r: Resource): In {
  const d = r.data;
  return {
    NatGatewayId: r.id,
    SubnetId: d.subnetId,
    VpcId: d.vpcId,
    State: r.state,
    ConnectivityType: d.connectivityType,
    CreateTime: date(r.createdAt),
    ...(d.deleteTime ? { DeleteTime: date(d.deleteTime as number) } : {}),
    ...(d.failureCode ? { FailureCode: d.failureCode, FailureMessage: d.failureMessage } : {}),
    NatGatewayAddresses: [
      {
        AllocationId: d.allocationId,
        PublicIp: d.publicIp,
        PrivateIp: d.privateIp,
        NetworkInterfaceId: d.eniId,
        IsPrimary: true,
        // NatGatewayAddressStatus: the last association change, done or under way.
        Status:
          r.state === 'pending'
            ? 'associating'
            : r.state === 'deleting'
              ? 'disassociating'
              : r.state === 'failed'
                ? 'failed'
                : 'succeeded',
      },
    ],
    Tags: tags(r),
  };
}

function routeState(w: World, region: string, vpcId: string, route: In): string {
  if (route.natGatewayId) {
    const nat = w.get(T.nat, region, route.natGatewayId as string);
    return nat && (nat.state === 'available' || nat.state === 'pending') ? 'active' : 'blackhole';
  }
  if (route.gatewayId && route.gatewayId !== 'local') {
    const igw = w.get(T.igw, region, route.gatewayId as string);
    return igw && (igw.data.attachments as In[]).some((a) => a.vpcId === vpcId)
      ? 'active'
      : 'blackhole';
  }
  return 'active';
}

function rtbShape(w: World, r: Resource): In {
  const d = r.data;
  return {
    RouteTableId: r.id,
    VpcId: d.vpcId,
    OwnerId: w.account,
    Routes: (d.routes as In[]).map((rt) => ({
      DestinationCidrBlock: rt.dest,
      ...(rt.gatewayId ? { GatewayId: rt.gatewayId } : {}),
      ...(rt.natGatewayId ? { NatGatewayId: rt.natGatewayId } : {}),
      Origin: rt.origin,
      State: routeState(w, r.region, d.vpcId as string, rt),
    })),
    Associations: (d.associations as In[]).map((a) => ({
      Main: a.main === true,
      RouteTableAssociationId: a.id,
      RouteTableId: r.id,
      ...(a.subnetId ? { SubnetId: a.subnetId } : {}),
      AssociationState: { State: 'associated' },
    })),
    PropagatingVgws: [],
    Tags: tags(r),
  };
}

function ruleShape(w: World, region: string, groupId: string, rule: In): In {
  return {
    SecurityGroupRuleId: rule.id,
    GroupId: groupId,
    GroupOwnerId: w.account,
    IsEgress: rule.isEgress === true,
    IpProtocol: rule.proto,
    FromPort: rule.from,
    ToPort: rule.to,
    ...(rule.cidr ? { CidrIpv4: rule.cidr } : {}),
    ...(rule.cidr6 ? { CidrIpv6: rule.cidr6 } : {}),
    ...(rule.refGroup
      ? { ReferencedGroupInfo: { GroupId: rule.refGroup, UserId: w.account } }
      : {}),
    ...(rule.prefixList ? { PrefixListId: rule.prefixList } : {}),
    ...(rule.description !== undefined ? { Description: rule.description } : {}),
    SecurityGroupRuleArn: w.arn('ec2', region, `security-group-rule/${String(rule.id)}`),
    Tags: Object.entries((rule.tags ?? {}) as Record<string, string>).map(([Key, Value]) => ({
      Key,
      Value,
    })),
  };
}

function permissions(w: World, rules: In[]): In[] {
  const byKey = new Map<string, In>();
  for (const rule of rules) {
    const key = `${rule.proto}|${rule.from}|${rule.to}`;
    let p = byKey.get(key);
    if (!p) {
      p = {
        IpProtocol: rule.proto,
        ...(rule.proto === '-1' ? {} : { FromPort: rule.from, ToPort: rule.to }),
        IpRanges: [],
        Ipv6Ranges: [],
        UserIdGroupPairs: [],
        PrefixListIds: [],
      };
      byKey.set(key, p);
    }
    const desc = rule.description !== undefined ? { Description: rule.description } : {};
    if (rule.cidr) p.IpRanges.push({ CidrIp: rule.cidr, ...desc });
    if (rule.cidr6) p.Ipv6Ranges.push({ CidrIpv6: rule.cidr6, ...desc });
    if (rule.refGroup)
      p.UserIdGroupPairs.push({ GroupId: rule.refGroup, UserId: w.account, ...desc });
    if (rule.prefixList) p.PrefixListIds.push({ PrefixListId: rule.prefixList, ...desc });
  }
  return [...byKey.values()];
}

function sgShape(w: World, r: Resource): In {
  const rules = r.data.rules as In[];
  return {
    GroupId: r.id,
    GroupName: r.data.groupName,
    Description: r.data.description,
    VpcId: r.data.vpcId,
    OwnerId: w.account,
    SecurityGroupArn: r.arn,
    IpPermissions: permissions(
      w,
      rules.filter((x) => !x.isEgress),
    ),
    IpPermissionsEgress: permissions(
      w,
      rules.filter((x) => x.isEgress),
    ),
    Tags: tags(r),
  };
}

function ltShape(r: Resource): In {
  return {
    LaunchTemplateId: r.id,
    LaunchTemplateName: r.data.name,
    CreateTime: date(r.createdAt),
    CreatedBy: r.data.createdBy,
    DefaultVersionNumber: r.data.defaultVersion,
    LatestVersionNumber: r.data.latestVersion,
    Tags: tags(r),
  };
}

function ltVersionShape(r: Resource, v: In): In {
  return {
    LaunchTemplateId: r.id,
    LaunchTemplateName: r.data.name,
    VersionNumber: v.number,
    VersionDescription: v.description,
    CreateTime: date(v.createTime as number),
    CreatedBy: r.data.createdBy,
    DefaultVersion: v.number === r.data.defaultVersion,
    LaunchTemplateData: clone(v.data),
  };
}

function volumeShape(r: Resource): In {
  const d = r.data;
  return {
    VolumeId: r.id,
    Size: d.size,
    VolumeType: d.volumeType,
    Encrypted: d.encrypted === true,
    ...(d.kmsKeyId ? { KmsKeyId: d.kmsKeyId } : {}),
    AvailabilityZone: d.az,
    State: r.state,
    CreateTime: date(r.createdAt),
    Iops: 3000,
    Throughput: 125,
    Attachments: d.instanceId
      ? [
          {
            InstanceId: d.instanceId,
            Device: d.device,
            State: 'attached',
            VolumeId: r.id,
            DeleteOnTermination: d.deleteOnTermination,
            AttachTime: date(r.createdAt),
          },
        ]
      : [],
    Tags: tags(r),
  };
}

function eniShape(w: World, r: Resource): In {
  const d = r.data;
  return {
    NetworkInterfaceId: r.id,
    SubnetId: d.subnetId,
    VpcId: d.vpcId,
    AvailabilityZone: d.az,
    Description: d.description,
    InterfaceType: d.interfaceType,
    ...(d.requesterId
      ? { RequesterId: d.requesterId, RequesterManaged: true }
      : { RequesterManaged: false }),
    Status: r.state,
    OwnerId: w.account,
    PrivateIpAddress: d.privateIp,
    Groups: (d.groups as string[]).map((g) => ({
      GroupId: g,
      GroupName: w.get(T.sg, r.region, g)?.data.groupName,
    })),
    ...(d.publicIp ? { Association: { PublicIp: d.publicIp, IpOwnerId: 'amazon' } } : {}),
    ...(d.instanceId
      ? { Attachment: { InstanceId: d.instanceId, Status: 'attached', DeviceIndex: 0 } }
      : {}),
    TagSet: tags(r),
  };
}

function flowLogShape(r: Resource): In {
  const d = r.data;
  return {
    FlowLogId: r.id,
    ResourceId: d.resourceId,
    TrafficType: d.trafficType,
    LogDestinationType: d.destinationType,
    ...(d.logGroupName ? { LogGroupName: d.logGroupName } : {}),
    LogDestination: d.destination,
    DeliverLogsPermissionArn: d.roleArn,
    DeliverLogsStatus: d.deliverStatus,
    ...(d.deliverError ? { DeliverLogsErrorMessage: d.deliverError } : {}),
    FlowLogStatus: 'ACTIVE',
    CreationTime: date(r.createdAt),
    MaxAggregationInterval: 600,
    LogFormat:
      '${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}',
    Tags: tags(r),
  };
}

// ---------------------------------------------------------------------------------------------
// Filter fields
// ---------------------------------------------------------------------------------------------

function vpcFields(r: Resource, account: string): Fields {
  return {
    'vpc-id': r.id,
    'cidr-block': r.data.cidr,
    cidr: r.data.cidr,
    state: r.state,
    'is-default': String(r.data.isDefault === true),
    'owner-id': account,
  };
}
function subnetFields(r: Resource): Fields {
  return {
    'subnet-id': r.id,
    'vpc-id': r.data.vpcId,
    'cidr-block': r.data.cidr,
    'availability-zone': r.data.az,
    state: r.state,
    'map-public-ip-on-launch': String(r.data.mapPublicIp === true),
    'default-for-az': String(r.data.defaultForAz === true),
  };
}
function igwFields(r: Resource): Fields {
  return {
    'internet-gateway-id': r.id,
    'attachment.vpc-id': (r.data.attachments as In[]).map((a) => a.vpcId),
    'attachment.state': (r.data.attachments as In[]).map(() => 'available'),
  };
}
function eipFields(r: Resource): Fields {
  return {
    'allocation-id': r.id,
    'public-ip': r.data.publicIp,
    domain: 'vpc',
    'association-id': r.data.associationId,
    'network-interface-id': r.data.eniId,
  };
}
function natFields(r: Resource): Fields {
  return {
    'nat-gateway-id': r.id,
    state: r.state,
    'subnet-id': r.data.subnetId,
    'vpc-id': r.data.vpcId,
  };
}
function rtbFields(r: Resource): Fields {
  const a = r.data.associations as In[];
  return {
    'route-table-id': r.id,
    'vpc-id': r.data.vpcId,
    'association.subnet-id': a.map((x) => x.subnetId),
    'association.route-table-association-id': a.map((x) => x.id),
    'association.main': a.map((x) => String(x.main === true)),
    'route.nat-gateway-id': (r.data.routes as In[]).map((x) => x.natGatewayId),
    'route.gateway-id': (r.data.routes as In[]).map((x) => x.gatewayId),
  };
}
function sgFields(r: Resource): Fields {
  return {
    'group-id': r.id,
    'group-name': r.data.groupName,
    'vpc-id': r.data.vpcId,
    description: r.data.description,
  };
}
function eniFields(r: Resource): Fields {
  return {
    'network-interface-id': r.id,
    'subnet-id': r.data.subnetId,
    'vpc-id': r.data.vpcId,
    'group-id': r.data.groups,
    description: r.data.description,
    'interface-type': r.data.interfaceType,
    'requester-id': r.data.requesterId,
    'attachment.instance-id': r.data.instanceId,
    status: r.state,
    'availability-zone': r.data.az,
  };
}
function instanceFields(r: Resource): Fields {
  return {
    'instance-id': r.id,
    'instance-state-name': r.state,
    'subnet-id': r.data.subnetId,
    'vpc-id': r.data.vpcId,
    'availability-zone': r.data.az,
    'instance-type': r.data.instanceType,
  };
}
function volumeFields(r: Resource): Fields {
  return {
    'volume-id': r.id,
    'attachment.instance-id': r.data.instanceId,
    status: r.state,
    encrypted: String(r.data.encrypted === true),
    'availability-zone': r.data.az,
  };
}
function flowLogFields(r: Resource): Fields {
  return {
    'flow-log-id': r.id,
    'resource-id': r.data.resourceId,
    'log-group-name': r.data.logGroupName,
    'traffic-type': r.data.trafficType,
    'deliver-log-status': r.data.deliverStatus,
    'log-destination-type': r.data.destinationType,
  };
}
function ltFields(r: Resource): Fields {
  return { 'launch-template-name': r.data.name, 'launch-template-id': r.id };
}

// ---------------------------------------------------------------------------------------------
// Security group rules
// ---------------------------------------------------------------------------------------------

function normProto(p: unknown): string {
  const s = (typeof p === 'string' || typeof p === 'number' ? String(p) : '-1').toLowerCase();
  if (s === '6') return 'tcp';
  if (s === '17') return 'udp';
  if (s === '1') return 'icmp';
  if (s === 'all' || s === '-1') return '-1';
  return s;
}

function expandPermissions(
  w: World,
  region: string,
  perms: In[],
  isEgress: boolean,
  tagsIn: Record<string, string>,
): In[] {
  const rules: In[] = [];
  for (const p of perms ?? []) {
    const proto = normProto(p.IpProtocol);
    const from = proto === '-1' ? -1 : (p.FromPort ?? -1);
    const to = proto === '-1' ? -1 : (p.ToPort ?? -1);
    const base = { isEgress, proto, from, to, tags: { ...tagsIn } };
    for (const r of p.IpRanges ?? []) {
      if (!parseCidr(r.CidrIp as string)) {
        throw w.error(
          'ec2',
          'InvalidParameterValue',
          `CIDR block ${String(r.CidrIp)} is malformed`,
        );
      }
      rules.push({ ...base, cidr: r.CidrIp, description: r.Description });
    }
    for (const r of p.Ipv6Ranges ?? [])
      rules.push({ ...base, cidr6: r.CidrIpv6, description: r.Description });
    for (const r of p.UserIdGroupPairs ?? []) {
      if (!w.live(T.sg, region, r.GroupId as string)) {
        throw w.error(
          'ec2',
          'InvalidGroup.NotFound',
          `The security group '${String(r.GroupId)}' does not exist`,
        );
      }
      rules.push({ ...base, refGroup: r.GroupId, description: r.Description });
    }
    for (const r of p.PrefixListIds ?? []) {
      if (!managedPrefixLists(w, region).some((l) => l.PrefixListId === r.PrefixListId)) {
        throw w.error(
          'ec2',
          'InvalidPrefixListID.NotFound',
          `The prefix list ID '${String(r.PrefixListId)}' does not exist`,
        );
      }
      rules.push({ ...base, prefixList: r.PrefixListId, description: r.Description });
    }
  }
  return rules;
}

/** The AWS-managed prefix lists of a region (ids are per region, as in AWS). */
function managedPrefixLists(w: World, region: string): In[] {
  return [
    { name: 'com.amazonaws.global.cloudfront.origin-facing', max: 55 },
    { name: `com.amazonaws.${region}.route53-healthchecks`, max: 25 },
    { name: `com.amazonaws.${region}.s3`, max: 10 },
    { name: `com.amazonaws.${region}.dynamodb`, max: 10 },
  ].map((l) => {
    const id = `pl-${sha(`${region}|${l.name}`).slice(0, 8)}`;
    return {
      PrefixListId: id,
      AddressFamily: 'IPv4',
      State: 'create-complete',
      PrefixListArn: `arn:aws:ec2:${region}:aws:prefix-list/${id}`,
      PrefixListName: l.name,
      MaxEntries: l.max,
      Version: 1,
      OwnerId: 'AWS',
      Tags: [],
    };
  });
}

function sameRule(a: In, b: In): boolean {
  return (
    a.isEgress === b.isEgress &&
    a.proto === b.proto &&
    a.from === b.from &&
    a.to === b.to &&
    (a.cidr ?? '') === (b.cidr ?? '') &&
    (a.cidr6 ?? '') === (b.cidr6 ?? '') &&
    (a.refGroup ?? '') === (b.refGroup ?? '') &&
    (a.prefixList ?? '') === (b.prefixList ?? '')
  );
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

export function ec2Service(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('ec2', code, message);

  const vpc = (region: string, id: string) => {
    const r = w.live(T.vpc, region, id);
    if (!r) throw notFound(w, 'InvalidVpcID.NotFound', 'vpc', id);
    return r;
  };
  const subnet = (region: string, id: string) => {
    const r = w.live(T.subnet, region, id);
    if (!r) throw notFound(w, 'InvalidSubnetID.NotFound', 'subnet', id);
    return r;
  };
  const sg = (region: string, id: string) => {
    const r = w.live(T.sg, region, id);
    if (!r) throw err('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    return r;
  };
  const rtb = (region: string, id: string) => {
    const r = w.live(T.rtb, region, id);
    if (!r) throw notFound(w, 'InvalidRouteTableID.NotFound', 'routeTable', id);
    return r;
  };
  const igw = (region: string, id: string) => {
    const r = w.live(T.igw, region, id);
    if (!r) throw notFound(w, 'InvalidInternetGatewayID.NotFound', 'internetGateway', id);
    return r;
  };
  const newRule = (rule: In): In => ({ id: w.ec2Id('sgr'), ...rule });

  /** Elastic IPs the account may hold in a region: AWS's default 5 unless a test raised it. */
  function eipQuota(region: string): number {
    return (w.regionSettings(region).eipQuota as number | undefined) ?? 5;
  }

  function createSecurityGroup(
    region: string,
    vpcId: string,
    name: string,
    description: string,
    tagsIn: Record<string, string>,
    owner?: string,
  ): Resource {
    const id = w.ec2Id('sg');
    const r = w.add({
      service: 'ec2',
      type: T.sg,
      region,
      id,
      arn: w.arn('ec2', region, `security-group/${id}`),
      tags: tagsIn,
      state: 'available',
      ...(owner ? { owner } : {}),
      data: { vpcId, groupName: name, description, rules: [] },
    });
    r.data.rules.push(
      newRule({ isEgress: true, proto: '-1', from: -1, to: -1, cidr: '0.0.0.0/0', tags: {} }),
    );
    return r;
  }

  function lookupTemplate(region: string, input: In): Resource {
    if (input.LaunchTemplateId) {
      const r = w.live(T.lt, region, input.LaunchTemplateId as string);
      if (!r) {
        throw err(
          'InvalidLaunchTemplateId.NotFound',
          `The specified launch template, with template ID ${String(input.LaunchTemplateId)}, does not exist.`,
        );
      }
      return r;
    }
    const r = w.find(T.lt, region, (x) => x.data.name === input.LaunchTemplateName)[0];
    if (!r) {
      throw err(
        'InvalidLaunchTemplateName.NotFoundException',
        `The specified launch template, with template name ${String(input.LaunchTemplateName)}, does not exist.`,
      );
    }
    return r;
  }

  function templateVersion(r: Resource, spec: string): In {
    const versions = r.data.versions as In[];
    const n =
      spec === '$Latest'
        ? r.data.latestVersion
        : spec === '$Default'
          ? r.data.defaultVersion
          : Number(spec);
    return versions.find((v) => v.number === n);
  }

  /** Mapped public addresses in a VPC: what keeps an internet gateway from detaching. */
  function mappedAddresses(region: string, vpcId: string): string[] {
    const enis = w.find(T.eni, region, (e) => e.data.vpcId === vpcId && !!e.data.publicIp);
    const eips = w.find(T.eip, region, (e) => {
      if (!e.data.eniId) return false;
      const eni = w.get(T.eni, region, e.data.eniId as string);
      return eni?.data.vpcId === vpcId;
    });
    return [
      ...enis.map((e) => e.data.publicIp as string),
      ...eips.map((e) => e.data.publicIp as string),
    ];
  }

  /** The region's default VPC while it exists. */
  function defaultVpc(region: string): Resource | undefined {
    const id = w.regionSettings(region).defaultVpcId as string | undefined;
    return id === undefined ? undefined : w.live(T.vpc, region, id);
  }

  /**
   * Every region of an AWS account comes with a default VPC: 172.31.0.0/16 with DNS support and
   * hostnames on, a default /20 subnet per Availability Zone that gives instances public
   * addresses, an attached internet gateway, a main route table sending 0.0.0.0/0 to it and a
   * default security group (https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html;
   * its network ACL is not modelled, as no ACL is). It counts toward the VPC quota. Made the
   * first time EC2 is called in a region, AWS-owned as far as the inventory goes (`system`: no
   * leftover of any stack), with ids derived from the account and region rather than the id
   * generator, so every other id stays what it was. Once deleted it stays deleted.
   */
  function ensureDefaultVpc(region: string): void {
    const settings = w.regionSettings(region);
    if (settings.defaultVpcId !== undefined) return;
    const idOf = (prefix: string, what: string) =>
      `${prefix}-0${sha(`${w.account}|${region}|default-vpc|${what}`).slice(0, 16)}`;
    const cidr = '172.31.0.0/16';
    const vpcId = idOf('vpc', 'vpc');
    const sgId = idOf('sg', 'sg');
    const rtbId = idOf('rtb', 'rtb');
    const igwId = idOf('igw', 'igw');
    settings.defaultVpcId = vpcId;
    w.add({
      service: 'ec2',
      type: T.vpc,
      region,
      id: vpcId,
      arn: w.arn('ec2', region, `vpc/${vpcId}`),
      state: 'available',
      system: true,
      data: {
        cidr,
        isDefault: true,
        dnsSupport: true,
        dnsHostnames: true,
        dhcpOptionsId: idOf('dopt', 'dopt'),
        cidrAssociationId: idOf('vpc-cidr-assoc', 'cidr'),
        defaultSgId: sgId,
        mainRouteTableId: rtbId,
      },
    });
    w.add({
      service: 'ec2',
      type: T.sg,
      region,
      id: sgId,
      arn: w.arn('ec2', region, `security-group/${sgId}`),
      state: 'available',
      system: true,
      owner: vpcId,
      data: {
        vpcId,
        groupName: 'default',
        description: 'default VPC security group',
        rules: [
          {
            id: idOf('sgr', 'in'),
            isEgress: false,
            proto: '-1',
            from: -1,
            to: -1,
            refGroup: sgId,
            tags: {},
          },
          {
            id: idOf('sgr', 'out'),
            isEgress: true,
            proto: '-1',
            from: -1,
            to: -1,
            cidr: '0.0.0.0/0',
            tags: {},
          },
        ],
      },
    });
    w.add({
      service: 'ec2',
      type: T.igw,
      region,
      id: igwId,
      arn: w.arn('ec2', region, `internet-gateway/${igwId}`),
      state: 'available',
      system: true,
      data: { attachments: [{ vpcId }] },
    });
    w.add({
      service: 'ec2',
      type: T.rtb,
      region,
      id: rtbId,
      arn: w.arn('ec2', region, `route-table/${rtbId}`),
      state: 'available',
      system: true,
      owner: vpcId,
      data: {
        vpcId,
        routes: [
          { dest: cidr, gatewayId: 'local', origin: 'CreateRouteTable' },
          { dest: '0.0.0.0/0', gatewayId: igwId, origin: 'CreateRoute' },
        ],
        associations: [{ id: idOf('rtbassoc', 'main'), main: true }],
      },
    });
    // The fake's zones a–d (CreateSubnet's list), 172.31.0.0/20, 172.31.16.0/20, …
    DEFAULT_AZ_LETTERS.forEach((letter, i) => {
      const subnetId = idOf('subnet', letter);
      w.add({
        service: 'ec2',
        type: T.subnet,
        region,
        id: subnetId,
        arn: w.arn('ec2', region, `subnet/${subnetId}`),
        state: 'available',
        system: true,
        data: {
          vpcId,
          cidr: `172.31.${16 * i}.0/20`,
          az: `${region}${letter}`,
          azId: `apne2-az${i + 1}`,
          mapPublicIp: true,
          defaultForAz: true,
          nextIp: 4,
        },
      });
    });
  }

  w.onEvent('ec2.nat.released', (nat) => {
    releaseEnis(w, nat.region, nat.id, 0);
    const eni = w.get(T.eni, nat.region, nat.data.eniId as string);
    if (eni) w.remove(eni);
    const eip = w.get(T.eip, nat.region, nat.data.allocationId as string);
    if (eip && eip.data.eniId === nat.data.eniId) {
      delete eip.data.associationId;
      delete eip.data.eniId;
      delete eip.data.privateIp;
      delete eip.data.eniOwner;
    }
  });
  w.onEvent('ec2.nat.failed', (nat) => w.schedule(nat, 0, { event: 'ec2.nat.released' }));
  w.onEvent('ec2.terminated', (i) => {
    for (const v of i.data.volumes as string[]) {
      const vol = w.get(T.volume, i.region, v);
      if (vol?.data.deleteOnTermination) w.remove(vol);
    }
    const eni = w.get(T.eni, i.region, i.data.eniId as string);
    if (eni) w.remove(eni);
  });

  const handlers: ServiceModule['handlers'] = {
    // -- VPC -------------------------------------------------------------------------------
    CreateVpc(ctx, input) {
      // 5 per region unless raised (`regionSettings(region).vpcQuota`), as AWS counts them.
      const quota = (w.regionSettings(ctx.region).vpcQuota as number | undefined) ?? 5;
      if (w.all(T.vpc, ctx.region).filter((v) => !v.gone).length >= quota) {
        throw err('VpcLimitExceeded', 'The maximum number of VPCs has been reached.');
      }
      const cidr = input.CidrBlock as string;
      const c = parseCidr(cidr);
      if (!c || c.bits < 16 || c.bits > 28) {
        throw err('InvalidVpc.Range', `The CIDR '${cidr}' is invalid.`);
      }
      const id = w.ec2Id('vpc');
      const r = w.add({
        service: 'ec2',
        type: T.vpc,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `vpc/${id}`),
        tags: tagsFromSpecs(input.TagSpecifications, 'vpc'),
        state: 'pending',
        data: {
          cidr,
          dnsSupport: true,
          dnsHostnames: false,
          dhcpOptionsId: w.ec2Id('dopt'),
          cidrAssociationId: w.ec2Id('vpc-cidr-assoc'),
        },
      });
      // Every VPC comes with a default security group and a main route table.
      const def = createSecurityGroup(
        ctx.region,
        id,
        'default',
        'default VPC security group',
        {},
        id,
      );
      def.data.rules = [
        newRule({ isEgress: false, proto: '-1', from: -1, to: -1, refGroup: def.id, tags: {} }),
        newRule({ isEgress: true, proto: '-1', from: -1, to: -1, cidr: '0.0.0.0/0', tags: {} }),
      ];
      const mainId = w.ec2Id('rtb');
      w.add({
        service: 'ec2',
        type: T.rtb,
        region: ctx.region,
        id: mainId,
        arn: w.arn('ec2', ctx.region, `route-table/${mainId}`),
        state: 'available',
        owner: id,
        data: {
          vpcId: id,
          routes: [{ dest: cidr, gatewayId: 'local', origin: 'CreateRouteTable' }],
          associations: [{ id: w.ec2Id('rtbassoc'), main: true }],
        },
      });
      r.data.defaultSgId = def.id;
      r.data.mainRouteTableId = mainId;
      w.schedule(r, w.t('ec2Basic'), { state: 'available' });
      return { Vpc: vpcShape(w, r) };
    },
    DescribeVpcs(ctx, input) {
      const list = byIds(w, T.vpc, ctx.region, input.VpcIds, (id) =>
        notFound(w, 'InvalidVpcID.NotFound', 'vpc', id),
      );
      return {
        Vpcs: applyFilters(w, 'ec2', list, input.Filters, (r) => vpcFields(r, w.account)).map((r) =>
          vpcShape(w, r),
        ),
      };
    },
    DescribeVpcAttribute(ctx, input) {
      const r = vpc(ctx.region, input.VpcId as string);
      const a = input.Attribute as string;
      if (a === 'enableDnsSupport')
        return { VpcId: r.id, EnableDnsSupport: { Value: r.data.dnsSupport } };
      if (a === 'enableDnsHostnames')
        return { VpcId: r.id, EnableDnsHostnames: { Value: r.data.dnsHostnames } };
      throw err('InvalidParameterValue', `Value (${a}) for parameter attribute is invalid.`);
    },
    ModifyVpcAttribute(ctx, input) {
      const r = vpc(ctx.region, input.VpcId as string);
      const both = input.EnableDnsSupport !== undefined && input.EnableDnsHostnames !== undefined;
      if (both) {
        throw err('InvalidParameterCombination', 'Only one attribute can be modified at a time.');
      }
      if (input.EnableDnsSupport !== undefined)
        r.data.dnsSupport = input.EnableDnsSupport.Value === true;
      if (input.EnableDnsHostnames !== undefined) {
        if (input.EnableDnsHostnames.Value === true && !r.data.dnsSupport) {
          throw err('InvalidParameterValue', 'DNS hostnames require DNS support.');
        }
        r.data.dnsHostnames = input.EnableDnsHostnames.Value === true;
      }
      return {};
    },
    DeleteVpc(ctx, input) {
      const r = vpc(ctx.region, input.VpcId as string);
      const msg = `The vpc '${r.id}' has dependencies and cannot be deleted.`;
      const inVpc = (type: string, pred: (x: Resource) => boolean = () => true) =>
        w.find(type, ctx.region, (x) => x.data.vpcId === r.id && pred(x));
      if (
        inVpc(T.subnet).length > 0 ||
        inVpc(T.sg, (x) => x.id !== r.data.defaultSgId).length > 0 ||
        inVpc(T.rtb, (x) => x.id !== r.data.mainRouteTableId).length > 0 ||
        inVpc(T.eni).length > 0 ||
        inVpc(T.nat).length > 0 ||
        w.find(T.igw, ctx.region, (g) => (g.data.attachments as In[]).some((a) => a.vpcId === r.id))
          .length > 0
      ) {
        throw dependency(w, msg);
      }
      for (const x of [...inVpc(T.sg), ...inVpc(T.rtb)]) w.remove(x);
      for (const f of w.all(T.flowLog, ctx.region)) if (f.data.resourceId === r.id) w.remove(f);
      w.remove(r);
      return {};
    },

    // -- Subnets ---------------------------------------------------------------------------
    CreateSubnet(ctx, input) {
      const v = vpc(ctx.region, input.VpcId as string);
      const cidr = input.CidrBlock as string;
      if (!parseCidr(cidr) || !cidrContains(v.data.cidr as string, cidr)) {
        throw err('InvalidSubnet.Range', `The CIDR '${cidr}' is invalid.`);
      }
      const az = (input.AvailabilityZone as string | undefined) ?? `${ctx.region}a`;
      if (!new RegExp(`^${ctx.region}[a-f]$`).test(az)) {
        throw err(
          'InvalidParameterValue',
          `Value (${az}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${ctx.region}a, ${ctx.region}b, ${ctx.region}c, ${ctx.region}d.`,
        );
      }
      const clash = w.find(
        T.subnet,
        ctx.region,
        (s) => s.data.vpcId === v.id && cidrOverlap(s.data.cidr as string, cidr),
      );
      if (clash.length > 0)
        throw err('InvalidSubnet.Conflict', `The CIDR '${cidr}' conflicts with another subnet`);
      const id = w.ec2Id('subnet');
      const r = w.add({
        service: 'ec2',
        type: T.subnet,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `subnet/${id}`),
        tags: tagsFromSpecs(input.TagSpecifications, 'subnet'),
        state: 'pending',
        data: {
          vpcId: v.id,
          cidr,
          az,
          azId: `apne2-az${az.charCodeAt(az.length - 1) - 96}`,
          mapPublicIp: false,
          nextIp: 4,
        },
      });
      w.schedule(r, w.t('ec2Basic'), { state: 'available' });
      return { Subnet: subnetShape(w, r) };
    },
    DescribeSubnets(ctx, input) {
      const list = byIds(w, T.subnet, ctx.region, input.SubnetIds, (id) =>
        notFound(w, 'InvalidSubnetID.NotFound', 'subnet', id),
      );
      return {
        Subnets: applyFilters(w, 'ec2', list, input.Filters, subnetFields).map((r) =>
          subnetShape(w, r),
        ),
      };
    },
    ModifySubnetAttribute(ctx, input) {
      const r = subnet(ctx.region, input.SubnetId as string);
      if (input.MapPublicIpOnLaunch !== undefined)
        r.data.mapPublicIp = input.MapPublicIpOnLaunch.Value === true;
      return {};
    },
    DeleteSubnet(ctx, input) {
      const r = subnet(ctx.region, input.SubnetId as string);
      if (w.find(T.eni, ctx.region, (e) => e.data.subnetId === r.id).length > 0) {
        throw dependency(w, `The subnet '${r.id}' has dependencies and cannot be deleted.`);
      }
      for (const t of w.find(T.rtb, ctx.region)) {
        t.data.associations = (t.data.associations as In[]).filter((a) => a.subnetId !== r.id);
      }
      w.remove(r);
      return {};
    },

    // -- Internet gateways -----------------------------------------------------------------
    CreateInternetGateway(ctx, input) {
      const id = w.ec2Id('igw');
      const r = w.add({
        service: 'ec2',
        type: T.igw,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `internet-gateway/${id}`),
        tags: tagsFromSpecs(input.TagSpecifications, 'internet-gateway'),
        state: 'available',
        data: { attachments: [] },
      });
      return { InternetGateway: igwShape(w, r) };
    },
    DescribeInternetGateways(ctx, input) {
      const list = byIds(w, T.igw, ctx.region, input.InternetGatewayIds, (id) =>
        notFound(w, 'InvalidInternetGatewayID.NotFound', 'internetGateway', id),
      );
      return {
        InternetGateways: applyFilters(w, 'ec2', list, input.Filters, igwFields).map((r) =>
          igwShape(w, r),
        ),
      };
    },
    AttachInternetGateway(ctx, input) {
      const g = igw(ctx.region, input.InternetGatewayId as string);
      const v = vpc(ctx.region, input.VpcId as string);
      const atts = g.data.attachments as In[];
      if (atts.length > 0) {
        throw err(
          'Resource.AlreadyAssociated',
          `resource ${g.id} is already attached to network ${String(atts[0].vpcId)}`,
        );
      }
      const other = w.find(T.igw, ctx.region, (x) =>
        (x.data.attachments as In[]).some((a) => a.vpcId === v.id),
      );
      if (other.length > 0) {
        throw err(
          'InvalidParameterValue',
          `Network ${v.id} already has an internet gateway attached`,
        );
      }
      atts.push({ vpcId: v.id });
      return {};
    },
    DetachInternetGateway(ctx, input) {
      const g = igw(ctx.region, input.InternetGatewayId as string);
      const vpcId = input.VpcId as string;
      const atts = g.data.attachments as In[];
      if (!atts.some((a) => a.vpcId === vpcId)) {
        throw err('Gateway.NotAttached', `resource ${g.id} is not attached to network ${vpcId}`);
      }
      const mapped = mappedAddresses(ctx.region, vpcId);
      if (mapped.length > 0) {
        throw dependency(
          w,
          `Network ${vpcId} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
        );
      }
      g.data.attachments = atts.filter((a) => a.vpcId !== vpcId);
      return {};
    },
    DeleteInternetGateway(ctx, input) {
      const g = igw(ctx.region, input.InternetGatewayId as string);
      if ((g.data.attachments as In[]).length > 0) {
        throw dependency(
          w,
          `The internetGateway '${g.id}' has dependencies and cannot be deleted.`,
        );
      }
      w.remove(g);
      return {};
    },

    // -- Elastic IPs -----------------------------------------------------------------------
    AllocateAddress(ctx, input) {
      // 5 per region unless raised (`regionSettings(region).eipQuota`); AWS answers
      // AddressLimitExceeded once the region holds that many.
      if (w.all(T.eip, ctx.region).length >= eipQuota(ctx.region)) {
        throw err('AddressLimitExceeded', 'The maximum number of addresses has been reached.');
      }
      const id = w.ec2Id('eipalloc');
      const r = w.add({
        service: 'ec2',
        type: T.eip,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `elastic-ip/${id}`),
        tags: tagsFromSpecs(input.TagSpecifications, 'elastic-ip'),
        state: 'allocated',
        data: { publicIp: publicIp(w) },
      });
      return {
        AllocationId: r.id,
        PublicIp: r.data.publicIp,
        Domain: 'vpc',
        PublicIpv4Pool: 'amazon',
        NetworkBorderGroup: ctx.region,
      };
    },
    DescribeAccountAttributes(ctx, input) {
      const values: Record<string, string> = {
        'supported-platforms': 'VPC',
        'default-vpc': defaultVpc(ctx.region)?.id ?? 'none',
        'max-instances': '20',
        'max-elastic-ips': String(eipQuota(ctx.region)),
        'vpc-max-elastic-ips': String(eipQuota(ctx.region)),
        'vpc-max-security-groups-per-interface': '5',
      };
      const wanted = (input.AttributeNames as string[] | undefined) ?? Object.keys(values);
      return {
        AccountAttributes: wanted
          .filter((n) => n in values)
          .map((n) => ({ AttributeName: n, AttributeValues: [{ AttributeValue: values[n] }] })),
      };
    },
    DescribeAddresses(ctx, input) {
      const list = byIds(w, T.eip, ctx.region, input.AllocationIds, (id) =>
        err('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`),
      );
      return { Addresses: applyFilters(w, 'ec2', list, input.Filters, eipFields).map(eipShape) };
    },
    ReleaseAddress(ctx, input) {
      const id = input.AllocationId as string;
      const r = w.live(T.eip, ctx.region, id);
      if (!r) throw err('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
      if (r.data.associationId)
        throw err('InvalidIPAddress.InUse', `Address ${r.data.publicIp as string} is in use.`);
      w.remove(r);
      return {};
    },

    // -- NAT gateways ----------------------------------------------------------------------
    CreateNatGateway(ctx, input) {
      const params = {
        s: input.SubnetId,
        a: input.AllocationId,
        c: input.ConnectivityType ?? 'public',
      };
      const scope = `ec2:${ctx.region}:CreateNatGateway`;
      const again = w.idempotent(scope, input.ClientToken as string | undefined, params, () =>
        err('IdempotentParameterMismatch', 'Client token already used with other parameters.'),
      );
      if (again) {
        const prev = w.get(T.nat, ctx.region, again);
        if (prev) return { ClientToken: input.ClientToken, NatGateway: natShape(prev) };
      }
      const s = subnet(ctx.region, input.SubnetId as string);
      const eip = w.live(T.eip, ctx.region, input.AllocationId as string);
      if (!eip)
        throw err(
          'InvalidAllocationID.NotFound',
          `The allocation ID '${String(input.AllocationId)}' does not exist`,
        );
      if (eip.data.associationId) {
        throw err(
          'Resource.AlreadyAssociated',
          `Elastic IP address [${eip.id}] is already associated`,
        );
      }
      const id = w.ec2Id('nat');
      const eni = createEni(w, {
        region: ctx.region,
        subnetId: s.id,
        groups: [],
        description: `Interface for NAT Gateway ${id}`,
        interfaceType: 'nat_gateway',
        requesterId: 'amazon-nat-gateway',
        owner: id,
      });
      eip.data.associationId = w.ec2Id('eipassoc');
      eip.data.eniId = eni.id;
      eip.data.privateIp = eni.data.privateIp;
      eip.data.eniOwner = 'amazon';
      const r = w.add({
        service: 'ec2',
        type: T.nat,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `natgateway/${id}`),
        tags: tagsFromSpecs(input.TagSpecifications, 'natgateway'),
        state: 'pending',
        data: {
          subnetId: s.id,
          vpcId: s.data.vpcId,
          allocationId: eip.id,
          publicIp: eip.data.publicIp,
          privateIp: eni.data.privateIp,
          eniId: eni.id,
          connectivityType: params.c,
        },
      });
      w.rememberToken(scope, input.ClientToken as string | undefined, params, id);
      const hasIgw =
        w.find(T.igw, ctx.region, (g) =>
          (g.data.attachments as In[]).some((a) => a.vpcId === s.data.vpcId),
        ).length > 0;
      if (params.c === 'public' && !hasIgw) {
        w.schedule(r, Math.min(w.t('natCreate'), 30_000), {
          state: 'failed',
          gone: true,
          patch: {
            failureCode: 'Gateway.NotAttached',
            failureMessage: `Network ${String(s.data.vpcId)} has no Internet gateway attached`,
          },
          event: 'ec2.nat.failed',
        });
        w.schedule(r, HOUR, { remove: true });
      } else {
        w.schedule(r, w.t('natCreate'), { state: 'available' });
      }
      return { ClientToken: input.ClientToken, NatGateway: natShape(r) };
    },
    DescribeNatGateways(ctx, input) {
      const list = byIds(
        w,
        T.nat,
        ctx.region,
        input.NatGatewayIds,
        (id) => err('NatGatewayNotFound', `The Nat Gateway ${id} was not found`),
        true,
      );
      // DescribeNatGateways names its filters `Filter`; a `Filters` field is ignored by the SDK.
      const filtered = applyFilters(w, 'ec2', list, input.Filter, natFields);
      const p = page(
        filtered,
        input.NextToken as string | undefined,
        input.MaxResults as number | undefined,
      );
      return { NatGateways: p.items.map(natShape), ...(p.next ? { NextToken: p.next } : {}) };
    },
    DeleteNatGateway(ctx, input) {
      const id = input.NatGatewayId as string;
      const r = w.get(T.nat, ctx.region, id);
      if (!r) throw err('NatGatewayNotFound', `The Nat Gateway ${id} was not found`);
      if (r.state === 'pending' || r.state === 'available') {
        w.cancel(r);
        r.state = 'deleting';
        w.schedule(r, w.t('natDelete'), {
          state: 'deleted',
          gone: true,
          patch: { deleteTime: w.now() + w.t('natDelete') },
        });
        w.schedule(r, w.t('natDelete') + w.t('natEniRelease'), { event: 'ec2.nat.released' });
        w.schedule(r, w.t('natDelete') + HOUR, { remove: true });
      }
      return { NatGatewayId: id };
    },

    // -- Route tables ----------------------------------------------------------------------
    CreateRouteTable(ctx, input) {
      const v = vpc(ctx.region, input.VpcId as string);
      const scope = `ec2:${ctx.region}:CreateRouteTable`;
      const params = { v: v.id };
      const again = w.idempotent(scope, input.ClientToken as string | undefined, params, () =>
        err('IdempotentParameterMismatch', 'Client token already used with other parameters.'),
      );
      if (again) {
        const prev = w.get(T.rtb, ctx.region, again);
        if (prev) return { RouteTable: rtbShape(w, prev), ClientToken: input.ClientToken };
      }
      const id = w.ec2Id('rtb');
      const r = w.add({
        service: 'ec2',
        type: T.rtb,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `route-table/${id}`),
        tags: tagsFromSpecs(input.TagSpecifications, 'route-table'),
        state: 'available',
        data: {
          vpcId: v.id,
          routes: [{ dest: v.data.cidr, gatewayId: 'local', origin: 'CreateRouteTable' }],
          associations: [],
        },
      });
      w.rememberToken(scope, input.ClientToken as string | undefined, params, id);
      return { RouteTable: rtbShape(w, r), ClientToken: input.ClientToken };
    },
    DescribeRouteTables(ctx, input) {
      const list = byIds(w, T.rtb, ctx.region, input.RouteTableIds, (id) =>
        notFound(w, 'InvalidRouteTableID.NotFound', 'routeTable', id),
      );
      const filtered = applyFilters(w, 'ec2', list, input.Filters, rtbFields);
      const p = page(
        filtered,
        input.NextToken as string | undefined,
        input.MaxResults as number | undefined,
      );
      return {
        RouteTables: p.items.map((r) => rtbShape(w, r)),
        ...(p.next ? { NextToken: p.next } : {}),
      };
    },
    CreateRoute(ctx, input) {
      const t = rtb(ctx.region, input.RouteTableId as string);
      const dest = input.DestinationCidrBlock as string;
      const routes = t.data.routes as In[];
      if (routes.some((r) => r.dest === dest)) {
        throw err('RouteAlreadyExists', `The route identified by ${dest} already exists.`);
      }
      routes.push({ dest, ...validTarget(ctx.region, t, input), origin: 'CreateRoute' });
      return { Return: true };
    },
    ReplaceRoute(ctx, input) {
      const t = rtb(ctx.region, input.RouteTableId as string);
      const dest = input.DestinationCidrBlock as string;
      const routes = t.data.routes as In[];
      const i = routes.findIndex((r) => r.dest === dest);
      if (i < 0) {
        throw err(
          'InvalidRoute.NotFound',
          `no route with destination-cidr-block ${dest} in route table ${t.id}`,
        );
      }
      routes[i] = { dest, ...validTarget(ctx.region, t, input), origin: 'CreateRoute' };
      return {};
    },
    AssociateRouteTable(ctx, input) {
      const t = rtb(ctx.region, input.RouteTableId as string);
      const s = subnet(ctx.region, input.SubnetId as string);
      if (s.data.vpcId !== t.data.vpcId) {
        throw err(
          'InvalidParameterValue',
          `Route table ${t.id} and subnet ${s.id} belong to different networks`,
        );
      }
      const taken = w.find(T.rtb, ctx.region, (x) =>
        (x.data.associations as In[]).some((a) => a.subnetId === s.id),
      );
      if (taken.length > 0) {
        throw err(
          'Resource.AlreadyAssociated',
          `the specified association for route table ${t.id} conflicts with an existing association`,
        );
      }
      const id = w.ec2Id('rtbassoc');
      (t.data.associations as In[]).push({ id, subnetId: s.id, main: false });
      return { AssociationId: id, AssociationState: { State: 'associated' } };
    },
    ReplaceRouteTableAssociation(ctx, input) {
      const t = rtb(ctx.region, input.RouteTableId as string);
      const assocId = input.AssociationId as string;
      const from = w.find(T.rtb, ctx.region, (x) =>
        (x.data.associations as In[]).some((a) => a.id === assocId),
      )[0];
      if (!from)
        throw err(
          'InvalidAssociationID.NotFound',
          `The association ID '${assocId}' does not exist`,
        );
      const a = (from.data.associations as In[]).find((x) => x.id === assocId)!;
      from.data.associations = (from.data.associations as In[]).filter((x) => x.id !== assocId);
      const id = w.ec2Id('rtbassoc');
      (t.data.associations as In[]).push({ ...a, id });
      return { NewAssociationId: id, AssociationState: { State: 'associated' } };
    },
    DisassociateRouteTable(ctx, input) {
      const assocId = input.AssociationId as string;
      const t = w.find(T.rtb, ctx.region, (x) =>
        (x.data.associations as In[]).some((a) => a.id === assocId),
      )[0];
      if (!t)
        throw err(
          'InvalidAssociationID.NotFound',
          `The association ID '${assocId}' does not exist`,
        );
      const a = (t.data.associations as In[]).find((x) => x.id === assocId)!;
      if (a.main)
        throw err(
          'InvalidParameterValue',
          `cannot disassociate the main route table association ${assocId}`,
        );
      t.data.associations = (t.data.associations as In[]).filter((x) => x.id !== assocId);
      return {};
    },
    DeleteRouteTable(ctx, input) {
      const t = rtb(ctx.region, input.RouteTableId as string);
      if ((t.data.associations as In[]).length > 0) {
        throw dependency(w, `The routeTable '${t.id}' has dependencies and cannot be deleted.`);
      }
      w.remove(t);
      return {};
    },

    // -- Security groups -------------------------------------------------------------------
    CreateSecurityGroup(ctx, input) {
      const v = vpc(ctx.region, input.VpcId as string);
      const name = input.GroupName as string;
      if (!name || name === 'default' || name.startsWith('sg-')) {
        throw err('InvalidParameterValue', `Invalid security group name ${name}`);
      }
      if (
        w.find(T.sg, ctx.region, (g) => g.data.vpcId === v.id && g.data.groupName === name).length >
        0
      ) {
        throw err(
          'InvalidGroup.Duplicate',
          `The security group '${name}' already exists for VPC '${v.id}'`,
        );
      }
      const r = createSecurityGroup(
        ctx.region,
        v.id,
        name,
        input.Description as string,
        tagsFromSpecs(input.TagSpecifications, 'security-group'),
      );
      return { GroupId: r.id, SecurityGroupArn: r.arn, Tags: tags(r) };
    },
    DescribeSecurityGroups(ctx, input) {
      const list = byIds(w, T.sg, ctx.region, input.GroupIds, (id) =>
        err('InvalidGroup.NotFound', `The security group '${id}' does not exist`),
      );
      const filtered = applyFilters(w, 'ec2', list, input.Filters, sgFields);
      const p = page(
        filtered,
        input.NextToken as string | undefined,
        input.MaxResults as number | undefined,
      );
      return {
        SecurityGroups: p.items.map((r) => sgShape(w, r)),
        ...(p.next ? { NextToken: p.next } : {}),
      };
    },
    DescribeSecurityGroupRules(ctx, input) {
      const rules: Array<{ g: Resource; rule: In }> = [];
      for (const g of w.find(T.sg, ctx.region))
        for (const rule of g.data.rules as In[]) rules.push({ g, rule });
      const ids = input.SecurityGroupRuleIds as string[] | undefined;
      let list = ids?.length ? rules.filter((x) => ids.includes(x.rule.id as string)) : rules;
      for (const f of (input.Filters ?? []) as Array<{ Name: string; Values: string[] }>) {
        if (f.Name === 'group-id') list = list.filter((x) => f.Values.includes(x.g.id));
        else if (f.Name === 'security-group-rule-id')
          list = list.filter((x) => f.Values.includes(x.rule.id as string));
        else if (f.Name.startsWith('tag:')) {
          const k = f.Name.slice(4);
          list = list.filter((x) => f.Values.includes((x.rule.tags ?? {})[k] as string));
        } else throw err('InvalidParameterValue', `The filter '${f.Name}' is invalid`);
      }
      const p = page(
        list,
        input.NextToken as string | undefined,
        input.MaxResults as number | undefined,
      );
      return {
        SecurityGroupRules: p.items.map((x) => ruleShape(w, ctx.region, x.g.id, x.rule)),
        ...(p.next ? { NextToken: p.next } : {}),
      };
    },
    AuthorizeSecurityGroupIngress: (ctx, input) => authorize(ctx.region, input, false),
    AuthorizeSecurityGroupEgress: (ctx, input) => authorize(ctx.region, input, true),
    RevokeSecurityGroupIngress: (ctx, input) => revoke(ctx.region, input, false),
    RevokeSecurityGroupEgress: (ctx, input) => revoke(ctx.region, input, true),
    ModifySecurityGroupRules(ctx, input) {
      const g = sg(ctx.region, input.GroupId as string);
      for (const m of (input.SecurityGroupRules ?? []) as In[]) {
        const rule = (g.data.rules as In[]).find((x) => x.id === m.SecurityGroupRuleId);
        if (!rule) {
          throw err(
            'InvalidSecurityGroupRuleId.NotFound',
            `The security group rule ID '${String(m.SecurityGroupRuleId)}' does not exist`,
          );
        }
        const s = m.SecurityGroupRule ?? {};
        const proto = normProto(s.IpProtocol);
        Object.assign(rule, {
          proto,
          from: proto === '-1' ? -1 : (s.FromPort ?? -1),
          to: proto === '-1' ? -1 : (s.ToPort ?? -1),
          cidr: s.CidrIpv4,
          cidr6: s.CidrIpv6,
          refGroup: s.ReferencedGroupId,
          prefixList: s.PrefixListId,
          description: s.Description,
        });
      }
      return { Return: true };
    },
    DeleteSecurityGroup(ctx, input) {
      const g = sg(ctx.region, input.GroupId as string);
      if (g.data.groupName === 'default') {
        throw err(
          'CannotDelete',
          `the specified group: "${g.id}" name: "default" cannot be deleted by a user`,
        );
      }
      const users = w.find(T.eni, ctx.region, (e) => (e.data.groups as string[]).includes(g.id));
      const referrers = w.find(
        T.sg,
        ctx.region,
        (o) => o.id !== g.id && (o.data.rules as In[]).some((x) => x.refGroup === g.id),
      );
      if (users.length > 0 || referrers.length > 0) {
        throw dependency(w, `resource ${g.id} has a dependent object`);
      }
      w.remove(g);
      return { Return: true, GroupId: g.id };
    },

    DescribeManagedPrefixLists(ctx, input) {
      let lists = managedPrefixLists(w, ctx.region);
      const ids = input.PrefixListIds as string[] | undefined;
      if (ids?.length) {
        for (const id of ids) {
          if (!lists.some((l) => l.PrefixListId === id)) {
            throw err('InvalidPrefixListID.NotFound', `The prefix list ID '${id}' does not exist`);
          }
        }
        lists = lists.filter((l) => ids.includes(l.PrefixListId as string));
      }
      for (const f of (input.Filters ?? []) as Array<{ Name: string; Values: string[] }>) {
        const field: Record<string, string> = {
          'prefix-list-name': 'PrefixListName',
          'prefix-list-id': 'PrefixListId',
          'owner-id': 'OwnerId',
        };
        const key = field[f.Name];
        if (!key) throw err('InvalidParameterValue', `The filter '${f.Name}' is invalid`);
        lists = lists.filter((l) => f.Values.includes(String(l[key])));
      }
      return { PrefixLists: lists };
    },

    // -- Launch templates ------------------------------------------------------------------
    CreateLaunchTemplate(ctx, input) {
      const name = input.LaunchTemplateName as string;
      const scope = `ec2:${ctx.region}:CreateLaunchTemplate`;
      const params = { n: name, d: input.LaunchTemplateData };
      const again = w.idempotent(scope, input.ClientToken as string | undefined, params, () =>
        err('IdempotentParameterMismatch', 'Client token already used with other parameters.'),
      );
      if (again) {
        const prev = w.get(T.lt, ctx.region, again);
        if (prev) return { LaunchTemplate: ltShape(prev) };
      }
      if (w.find(T.lt, ctx.region, (x) => x.data.name === name).length > 0) {
        throw err(
          'InvalidLaunchTemplateName.AlreadyExistsException',
          `Launch template name already in use.`,
        );
      }
      validateTemplateData(input.LaunchTemplateData);
      const id = w.ec2Id('lt');
      const r = w.add({
        service: 'ec2',
        type: T.lt,
        region: ctx.region,
        id,
        arn: w.arn('ec2', ctx.region, `launch-template/${id}`),
        name,
        tags: tagsFromSpecs(input.TagSpecifications, 'launch-template'),
        state: 'available',
        data: {
          name,
          createdBy: `arn:aws:iam::${w.account}:user/cloudmart`,
          defaultVersion: 1,
          latestVersion: 1,
          versions: [
            {
              number: 1,
              description: input.VersionDescription,
              data: clone(input.LaunchTemplateData ?? {}),
              createTime: w.now(),
            },
          ],
        },
      });
      w.rememberToken(scope, input.ClientToken as string | undefined, params, id);
      return { LaunchTemplate: ltShape(r) };
    },
    CreateLaunchTemplateVersion(ctx, input) {
      const r = lookupTemplate(ctx.region, input);
      const scope = `ec2:${ctx.region}:CreateLaunchTemplateVersion`;
      const params = { t: r.id, d: input.LaunchTemplateData };
      const again = w.idempotent(scope, input.ClientToken as string | undefined, params, () =>
        err('IdempotentParameterMismatch', 'Client token already used with other parameters.'),
      );
      const versions = r.data.versions as In[];
      if (again) {
        const v = versions.find((x) => `${r.id}:${String(x.number)}` === again);
        if (v) return { LaunchTemplateVersion: ltVersionShape(r, v) };
      }
      validateTemplateData(input.LaunchTemplateData);
      let data = clone(input.LaunchTemplateData ?? {});
      if (input.SourceVersion) {
        const src = templateVersion(r, input.SourceVersion as string);
        data = { ...clone(src?.data ?? {}), ...data };
      }
      const number = (r.data.latestVersion as number) + 1;
      const v = { number, description: input.VersionDescription, data, createTime: w.now() };
      versions.push(v);
      r.data.latestVersion = number;
      w.rememberToken(scope, input.ClientToken as string | undefined, params, `${r.id}:${number}`);
      return { LaunchTemplateVersion: ltVersionShape(r, v) };
    },
    ModifyLaunchTemplate(ctx, input) {
      const r = lookupTemplate(ctx.region, input);
      if (input.DefaultVersion !== undefined) {
        const v = templateVersion(r, String(input.DefaultVersion));
        if (!v) {
          throw err(
            'InvalidLaunchTemplateId.VersionNotFound',
            `Could not find launch template version ${String(input.DefaultVersion)}`,
          );
        }
        r.data.defaultVersion = v.number;
      }
      return { LaunchTemplate: ltShape(r) };
    },
    DescribeLaunchTemplates(ctx, input) {
      let list: Resource[];
      if (input.LaunchTemplateIds?.length)
        list = (input.LaunchTemplateIds as string[]).map((id) =>
          lookupTemplate(ctx.region, { LaunchTemplateId: id }),
        );
      else if (input.LaunchTemplateNames?.length)
        list = (input.LaunchTemplateNames as string[]).map((n) =>
          lookupTemplate(ctx.region, { LaunchTemplateName: n }),
        );
      else list = w.find(T.lt, ctx.region);
      return {
        LaunchTemplates: applyFilters(w, 'ec2', list, input.Filters, ltFields).map(ltShape),
      };
    },
    DescribeLaunchTemplateVersions(ctx, input) {
      const r = lookupTemplate(ctx.region, input);
      const specs = (input.Versions as string[] | undefined) ?? [];
      const versions = specs.length
        ? specs.map((s) => {
            const v = templateVersion(r, s);
            if (!v)
              throw err(
                'InvalidLaunchTemplateId.VersionNotFound',
                `Could not find launch template version ${s}`,
              );
            return v;
          })
        : [...(r.data.versions as In[])].reverse();
      return { LaunchTemplateVersions: versions.map((v) => ltVersionShape(r, v)) };
    },
    DeleteLaunchTemplate(ctx, input) {
      const r = lookupTemplate(ctx.region, input);
      w.remove(r);
      return { LaunchTemplate: ltShape(r) };
    },

    // -- Instances, volumes, interfaces (read side; Auto Scaling launches) -----------------
    DescribeInstances(ctx, input) {
      const list = byIds(
        w,
        T.instance,
        ctx.region,
        input.InstanceIds,
        (id) => notFound(w, 'InvalidInstanceID.NotFound', 'instance', id),
        true,
      );
      const filtered = applyFilters(w, 'ec2', list, input.Filters, instanceFields);
      const byReservation = new Map<string, Resource[]>();
      for (const i of filtered) {
        const key = i.data.reservationId as string;
        byReservation.set(key, [...(byReservation.get(key) ?? []), i]);
      }
      return {
        Reservations: [...byReservation].map(([id, instances]) => ({
          ReservationId: id,
          OwnerId: w.account,
          RequesterId: '940372691376',
          Instances: instances.map((i) => instanceShape(w, i)),
        })),
      };
    },
    /**
     * The seed's instance drill: shutting-down now, terminated after the shutdown (visible for
     * an hour). Idempotent (an instance already shutting down or terminated answers its state);
     * one unknown id fails the whole request and nothing is terminated. Nothing tells Auto
     * Scaling or the load balancer beforehand: the group finds out through its EC2 health check
     * (autoscaling.ts healthCheck()), which then deregisters and replaces the instance.
     */
    TerminateInstances(ctx, input) {
      const ids = [...new Set((input.InstanceIds ?? []) as string[])];
      if (ids.length === 0)
        throw err('MissingParameter', 'The request must contain the parameter InstanceId');
      const unknown = ids.filter((id) => !w.get(T.instance, ctx.region, id));
      if (unknown.length === 1)
        throw notFound(w, 'InvalidInstanceID.NotFound', 'instance', unknown[0]!);
      if (unknown.length > 1)
        throw err(
          'InvalidInstanceID.NotFound',
          `The instance IDs '${unknown.join(', ')}' do not exist`,
        );
      if (input.DryRun === true)
        throw w.error(
          'ec2',
          'DryRunOperation',
          'Request would have succeeded, but DryRun flag is set.',
          412,
        );
      return {
        TerminatingInstances: ids.map((id) => {
          const i = w.get(T.instance, ctx.region, id)!;
          const previous = instanceState(i);
          terminateInstance(w, ctx.region, id, w.t('instanceRunning'));
          return { InstanceId: id, PreviousState: previous, CurrentState: instanceState(i) };
        }),
      };
    },
    DescribeImages(ctx, input) {
      const ids = (input.ImageIds ?? []) as string[];
      const images = ids.map((id) => {
        const image = w.live(IMAGE, ctx.region, id);
        if (!image) throw err('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
        return image;
      });
      return {
        Images: images.map((i) => ({
          ImageId: i.id,
          State: 'available',
          Public: true,
          ImageOwnerAlias: 'amazon',
          RootDeviceType: 'ebs',
          RootDeviceName: i.data.rootDevice,
          BlockDeviceMappings: [
            {
              DeviceName: i.data.rootDevice,
              Ebs: { VolumeSize: 8, VolumeType: 'gp3', Encrypted: false },
            },
          ],
        })),
      };
    },
    DescribeVolumes(ctx, input) {
      const list = byIds(w, T.volume, ctx.region, input.VolumeIds, (id) =>
        err('InvalidVolume.NotFound', `The volume '${id}' does not exist.`),
      );
      const filtered = applyFilters(w, 'ec2', list, input.Filters, volumeFields);
      const p = page(
        filtered,
        input.NextToken as string | undefined,
        input.MaxResults as number | undefined,
      );
      return { Volumes: p.items.map(volumeShape), ...(p.next ? { NextToken: p.next } : {}) };
    },
    DescribeNetworkInterfaces(ctx, input) {
      const list = byIds(w, T.eni, ctx.region, input.NetworkInterfaceIds, (id) =>
        notFound(w, 'InvalidNetworkInterfaceID.NotFound', 'network interface', id),
      );
      const filtered = applyFilters(w, 'ec2', list, input.Filters, eniFields);
      const p = page(
        filtered,
        input.NextToken as string | undefined,
        input.MaxResults as number | undefined,
      );
      return {
        NetworkInterfaces: p.items.map((r) => eniShape(w, r)),
        ...(p.next ? { NextToken: p.next } : {}),
      };
    },

    // -- Flow logs -------------------------------------------------------------------------
    CreateFlowLogs(ctx, input) {
      const type = (input.LogDestinationType as string | undefined) ?? 'cloud-watch-logs';
      if (type === 'cloud-watch-logs' && !input.DeliverLogsPermissionArn) {
        throw err(
          'InvalidParameter',
          'DeliverLogsPermissionArn is required for cloud-watch-logs destinations.',
        );
      }
      const scope = `ec2:${ctx.region}:CreateFlowLogs`;
      const params = {
        r: input.ResourceIds,
        t: input.TrafficType,
        g: input.LogGroupName ?? input.LogDestination,
      };
      const again = w.idempotent(scope, input.ClientToken as string | undefined, params, () =>
        err('IdempotentParameterMismatch', 'Client token already used with other parameters.'),
      );
      if (again)
        return { ClientToken: input.ClientToken, FlowLogIds: again.split(','), Unsuccessful: [] };
      const ids: string[] = [];
      const unsuccessful: In[] = [];
      const group =
        (input.LogGroupName as string | undefined) ??
        (input.LogDestination as string | undefined)?.split(':log-group:')[1];
      for (const resourceId of (input.ResourceIds ?? []) as string[]) {
        if (!w.live(T.vpc, ctx.region, resourceId) && !w.live(T.subnet, ctx.region, resourceId)) {
          unsuccessful.push({
            ResourceId: resourceId,
            Error: {
              Code: 'InvalidVpcID.NotFound',
              Message: `The vpc ID '${resourceId}' does not exist`,
            },
          });
          continue;
        }
        const same = w.find(
          T.flowLog,
          ctx.region,
          (f) =>
            f.data.resourceId === resourceId &&
            f.data.trafficType === input.TrafficType &&
            f.data.logGroupName === group,
        );
        if (same.length > 0) {
          unsuccessful.push({
            ResourceId: resourceId,
            Error: {
              Code: 'FlowLogAlreadyExists',
              Message:
                'Error. There is an existing Flow Log with the same configuration and log destination.',
            },
          });
          continue;
        }
        const roleName =
          String(input.DeliverLogsPermissionArn ?? '')
            .split('/')
            .pop() ?? '';
        const role = w.live('iam:role', 'us-east-1', roleName);
        const id = `fl-0${w.rng.hex(16)}`;
        w.add({
          service: 'ec2',
          type: T.flowLog,
          region: ctx.region,
          id,
          arn: w.arn('ec2', ctx.region, `vpc-flow-log/${id}`),
          tags: tagsFromSpecs(input.TagSpecifications, 'vpc-flow-log'),
          state: 'ACTIVE',
          data: {
            resourceId,
            trafficType: input.TrafficType,
            destinationType: type,
            logGroupName: group,
            destination: input.LogDestination ?? w.arn('logs', ctx.region, `log-group:${group}`),
            roleArn: input.DeliverLogsPermissionArn,
            deliverStatus: role || type !== 'cloud-watch-logs' ? 'SUCCESS' : 'FAILED',
            ...(role || type !== 'cloud-watch-logs' ? {} : { deliverError: 'Access error' }),
          },
        });
        ids.push(id);
      }
      if (ids.length > 0)
        w.rememberToken(scope, input.ClientToken as string | undefined, params, ids.join(','));
      return { ClientToken: input.ClientToken, FlowLogIds: ids, Unsuccessful: unsuccessful };
    },
    DescribeFlowLogs(ctx, input) {
      const ids = input.FlowLogIds as string[] | undefined;
      let list = w.find(T.flowLog, ctx.region);
      if (ids?.length) list = list.filter((f) => ids.includes(f.id));
      // DescribeFlowLogs names its filters `Filter`, like DescribeNatGateways.
      const filtered = applyFilters(w, 'ec2', list, input.Filter, flowLogFields);
      return { FlowLogs: filtered.map(flowLogShape) };
    },
    DeleteFlowLogs(ctx, input) {
      const unsuccessful: In[] = [];
      for (const id of (input.FlowLogIds ?? []) as string[]) {
        const r = w.live(T.flowLog, ctx.region, id);
        if (!r) {
          unsuccessful.push({
            ResourceId: id,
            Error: { Code: 'InvalidFlowLogId.NotFound', Message: `Flow Log ${id} does not exist` },
          });
          continue;
        }
        w.remove(r);
      }
      return { Unsuccessful: unsuccessful };
    },

    // -- EBS encryption by default ---------------------------------------------------------
    GetEbsEncryptionByDefault(ctx) {
      return {
        EbsEncryptionByDefault: w.regionSettings(ctx.region).ebsEncryptionByDefault === true,
        SseType: 'sse-ebs',
      };
    },
    EnableEbsEncryptionByDefault(ctx) {
      w.regionSettings(ctx.region).ebsEncryptionByDefault = true;
      return { EbsEncryptionByDefault: true };
    },
    DisableEbsEncryptionByDefault(ctx) {
      w.regionSettings(ctx.region).ebsEncryptionByDefault = false;
      return { EbsEncryptionByDefault: false };
    },
    GetEbsDefaultKmsKeyId(ctx) {
      return {
        KmsKeyId:
          (w.regionSettings(ctx.region).ebsDefaultKmsKeyId as string | undefined) ??
          w.arn('kms', ctx.region, 'alias/aws/ebs'),
      };
    },
    ModifyEbsDefaultKmsKeyId(ctx, input) {
      const key = findKey(w, ctx.region, input.KmsKeyId as string);
      if (!key) throw err('InvalidParameterValue', `Invalid KMS key ${String(input.KmsKeyId)}`);
      w.regionSettings(ctx.region).ebsDefaultKmsKeyId = key.arn;
      return { KmsKeyId: key.arn };
    },
    ResetEbsDefaultKmsKeyId(ctx) {
      delete w.regionSettings(ctx.region).ebsDefaultKmsKeyId;
      return { KmsKeyId: w.arn('kms', ctx.region, 'alias/aws/ebs') };
    },
  };

  function validTarget(region: string, t: Resource, input: In): In {
    if (input.NatGatewayId) {
      const nat = w.get(T.nat, region, input.NatGatewayId as string);
      if (!nat || nat.gone) {
        throw err(
          'InvalidNatGatewayID.NotFound',
          `The natGateway ID '${String(input.NatGatewayId)}' does not exist`,
        );
      }
      return { natGatewayId: nat.id };
    }
    if (input.GatewayId) {
      const g = igw(region, input.GatewayId as string);
      if (!(g.data.attachments as In[]).some((a) => a.vpcId === t.data.vpcId)) {
        throw err(
          'InvalidParameterValue',
          `route table ${t.id} and network gateway ${g.id} belong to different networks`,
        );
      }
      return { gatewayId: g.id };
    }
    throw err('InvalidParameterCombination', 'No route target was specified.');
  }

  function authorize(region: string, input: In, isEgress: boolean): In {
    const g = sg(region, input.GroupId as string);
    const tagsIn = tagsFromSpecs(input.TagSpecifications, 'security-group-rule');
    const rules = expandPermissions(w, region, input.IpPermissions as In[], isEgress, tagsIn);
    for (const rule of rules) {
      if ((g.data.rules as In[]).some((x) => sameRule(x, rule))) {
        throw err(
          'InvalidPermission.Duplicate',
          `the specified rule "peer: ${String(rule.cidr ?? rule.refGroup)}, ${String(rule.proto).toUpperCase()}, from port: ${String(rule.from)}, to port: ${String(rule.to)}, ALLOW" already exists`,
        );
      }
    }
    const added = rules.map(newRule);
    (g.data.rules as In[]).push(...added);
    return { Return: true, SecurityGroupRules: added.map((r) => ruleShape(w, region, g.id, r)) };
  }

  function revoke(region: string, input: In, isEgress: boolean): In {
    const g = sg(region, input.GroupId as string);
    const ids = input.SecurityGroupRuleIds as string[] | undefined;
    if (ids?.length) {
      for (const id of ids) {
        const rule = (g.data.rules as In[]).find((x) => x.id === id);
        if (!rule || rule.isEgress !== isEgress) {
          throw err(
            'InvalidSecurityGroupRuleId.NotFound',
            `The security group rule ID '${id}' does not exist`,
          );
        }
      }
      g.data.rules = (g.data.rules as In[]).filter((x) => !ids.includes(x.id as string));
      return { Return: true };
    }
    const rules = expandPermissions(w, region, input.IpPermissions as In[], isEgress, {});
    const unknown = rules.filter((r) => !(g.data.rules as In[]).some((x) => sameRule(x, r)));
    g.data.rules = (g.data.rules as In[]).filter((x) => !rules.some((r) => sameRule(x, r)));
    return {
      Return: true,
      ...(unknown.length ? { UnknownIpPermissions: input.IpPermissions } : {}),
    };
  }

  function validateTemplateData(d: In): void {
    if (!d || typeof d !== 'object')
      throw err('MissingParameter', 'The request must contain the parameter LaunchTemplateData');
    if (d.ImageId !== undefined && !/^ami-[0-9a-f]{8,17}$/.test(String(d.ImageId))) {
      throw err(
        'InvalidAMIID.Malformed',
        `Invalid id: "${String(d.ImageId)}" (expecting "ami-...")`,
      );
    }
    const iface = (d.NetworkInterfaces ?? [])[0];
    if (iface?.Groups && d.SecurityGroupIds) {
      throw err(
        'InvalidParameterCombination',
        'Network interfaces and an instance-level security groups may not be specified on the same request',
      );
    }
  }

  // A real account's regions are never empty: every EC2 call first finds the default VPC there.
  for (const [command, handler] of Object.entries(handlers)) {
    handlers[command] = (ctx, input) => {
      ensureDefaultVpc(ctx.region);
      return handler(ctx, input);
    };
  }

  return { service: 'ec2', handlers };
}
