/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { tagMap } from '../util.js';
import type { World } from '../world.js';
import { createEni, EC2_TYPES, releaseEnis } from './ec2.js';
import { date, usableKey } from './shared.js';

/**
 * ElastiCache: cache subnet groups and Redis/Valkey replication groups (one node group, a node
 * per AZ, creating → available, modifying, deleting → gone), with the AUTH token rules
 * (only with in-transit encryption, 16–128 printable characters) and node network interfaces.
 */

const T = {
  subnetGroup: 'elasticache:subnetgroup',
  group: 'elasticache:replicationgroup',
} as const;
export const CACHE_TYPES = T;

const AZ_CODE: Record<string, string> = {
  'ap-northeast-2': 'apn2',
  'ap-northeast-1': 'apn1',
  'us-east-1': 'use1',
  'us-west-2': 'usw2',
  'eu-west-1': 'euw1',
};

export function elasticacheService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('elasticache', code, message);

  const groupOf = (region: string, id: string): Resource => {
    const r = w.live(T.group, region, String(id).toLowerCase());
    if (!r) throw err('ReplicationGroupNotFoundFault', `ReplicationGroup ${String(id)} not found.`);
    return r;
  };

  function subnetGroupShape(r: Resource): In {
    return {
      CacheSubnetGroupName: r.id,
      CacheSubnetGroupDescription: r.data.description,
      VpcId: r.data.vpcId,
      Subnets: (r.data.subnets as string[]).map((s) => ({
        SubnetIdentifier: s,
        SubnetAvailabilityZone: { Name: w.get(EC2_TYPES.subnet, r.region, s)?.data.az },
        SupportedNetworkTypes: ['ipv4'],
      })),
      ARN: r.arn,
      SupportedNetworkTypes: ['ipv4'],
    };
  }

  function groupShape(r: Resource): In {
    const d = r.data;
    const available = r.state !== 'creating';
    const members = d.members as In[];
    return {
      ReplicationGroupId: r.id,
      Description: d.description,
      Status: r.state,
      PendingModifiedValues: {},
      MemberClusters: members.map((m) => m.id),
      NodeGroups: [
        {
          NodeGroupId: '0001',
          Status: r.state,
          ...(available
            ? {
                PrimaryEndpoint: { Address: d.primaryEndpoint, Port: d.port },
                ReaderEndpoint: { Address: d.readerEndpoint, Port: d.port },
              }
            : {}),
          NodeGroupMembers: members.map((m) => ({
            CacheClusterId: m.id,
            CacheNodeId: '0001',
            ...(available
              ? {
                  ReadEndpoint: {
                    Address: `${String(m.id)}.${String(d.suffix)}.cache.amazonaws.com`,
                    Port: d.port,
                  },
                }
              : {}),
            PreferredAvailabilityZone: m.az,
            CurrentRole: m.role,
          })),
        },
      ],
      AutomaticFailover: d.automaticFailover,
      MultiAZ: d.multiAz,
      SnapshotRetentionLimit: d.snapshotRetention,
      SnapshotWindow: d.snapshotWindow,
      ClusterEnabled: false,
      CacheNodeType: d.nodeType,
      AuthTokenEnabled: d.authTokenEnabled === true,
      ...(d.authTokenEnabled
        ? { AuthTokenLastModifiedDate: date(d.authTokenModifiedAt as number) }
        : {}),
      TransitEncryptionEnabled: d.transit === true,
      ...(d.transit && d.transitMode ? { TransitEncryptionMode: d.transitMode } : {}),
      AtRestEncryptionEnabled: d.atRest === true,
      ...(d.kmsKeyId ? { KmsKeyId: d.kmsKeyId } : {}),
      ARN: r.arn,
      Engine: d.engine,
      ReplicationGroupCreateTime: date(r.createdAt),
      DataTiering: 'disabled',
      AutoMinorVersionUpgrade: d.autoMinorVersionUpgrade !== false,
      NetworkType: 'ipv4',
      IpDiscovery: 'ipv4',
      ClusterMode: 'disabled',
    };
  }

  w.onEvent('elasticache.gone', (r) => {
    for (const m of r.data.members as In[])
      releaseEnis(w, r.region, `elasticache:${String(m.id)}`, w.t('eniRelease'));
  });

  function validToken(token: string): boolean {
    return token.length >= 16 && token.length <= 128 && /^[A-Za-z0-9!&#$^<>-]+$/.test(token);
  }

  const handlers: ServiceModule['handlers'] = {
    CreateCacheSubnetGroup(ctx, input) {
      const name = String(input.CacheSubnetGroupName).toLowerCase();
      if (w.live(T.subnetGroup, ctx.region, name))
        throw err(
          'CacheSubnetGroupAlreadyExistsFault',
          `Cache subnet group ${name} already exists.`,
        );
      const subnets = checkSubnets(ctx.region, input.SubnetIds as string[]);
      const r = w.add({
        service: 'elasticache',
        type: T.subnetGroup,
        region: ctx.region,
        id: name,
        arn: w.arn('elasticache', ctx.region, `subnetgroup:${name}`),
        name,
        tags: tagMap(input.Tags),
        state: 'available',
        data: {
          description: input.CacheSubnetGroupDescription,
          subnets,
          vpcId: w.get(EC2_TYPES.subnet, ctx.region, subnets[0]!)?.data.vpcId,
        },
      });
      return { CacheSubnetGroup: subnetGroupShape(r) };
    },
    DescribeCacheSubnetGroups(ctx, input) {
      if (input.CacheSubnetGroupName) {
        const r = w.live(
          T.subnetGroup,
          ctx.region,
          String(input.CacheSubnetGroupName).toLowerCase(),
        );
        if (!r)
          throw err(
            'CacheSubnetGroupNotFoundFault',
            `Cache subnet group ${String(input.CacheSubnetGroupName)} not found.`,
          );
        return { CacheSubnetGroups: [subnetGroupShape(r)] };
      }
      return { CacheSubnetGroups: w.find(T.subnetGroup, ctx.region).map(subnetGroupShape) };
    },
    ModifyCacheSubnetGroup(ctx, input) {
      const r = w.live(T.subnetGroup, ctx.region, String(input.CacheSubnetGroupName).toLowerCase());
      if (!r)
        throw err(
          'CacheSubnetGroupNotFoundFault',
          `Cache subnet group ${String(input.CacheSubnetGroupName)} not found.`,
        );
      if (input.SubnetIds) r.data.subnets = checkSubnets(ctx.region, input.SubnetIds as string[]);
      if (input.CacheSubnetGroupDescription) r.data.description = input.CacheSubnetGroupDescription;
      return { CacheSubnetGroup: subnetGroupShape(r) };
    },
    DeleteCacheSubnetGroup(ctx, input) {
      const name = String(input.CacheSubnetGroupName).toLowerCase();
      const r = w.live(T.subnetGroup, ctx.region, name);
      if (!r) throw err('CacheSubnetGroupNotFoundFault', `Cache subnet group ${name} not found.`);
      if (w.all(T.group, ctx.region).some((g) => g.data.subnetGroup === name)) {
        throw err(
          'CacheSubnetGroupInUse',
          `Cache subnet group ${name} is currently in use by a cache cluster.`,
        );
      }
      w.remove(r);
      return {};
    },

    CreateReplicationGroup(ctx, input) {
      const id = String(input.ReplicationGroupId).toLowerCase();
      if (w.get(T.group, ctx.region, id))
        throw err('ReplicationGroupAlreadyExistsFault', `Replication group ${id} already exists.`);
      const token = input.AuthToken as string | undefined;
      if (token !== undefined && input.TransitEncryptionEnabled !== true) {
        throw err(
          'InvalidParameterValueException',
          'The AUTH token is only supported when encryption-in-transit is enabled',
        );
      }
      if (token !== undefined && !validToken(token)) {
        throw err(
          'InvalidParameterValueException',
          'Invalid AuthToken provided: the token must be 16 to 128 printable characters; only !, &, #, $, ^, <, > and - are allowed as special characters.',
        );
      }
      const n = (input.NumCacheClusters as number | undefined) ?? 1;
      if (input.AutomaticFailoverEnabled && n < 2) {
        throw err(
          'InvalidParameterCombinationException',
          'Automatic failover requires at least two cache clusters.',
        );
      }
      if (input.MultiAZEnabled && !input.AutomaticFailoverEnabled) {
        throw err(
          'InvalidParameterCombinationException',
          'Multi-AZ requires automatic failover to be enabled.',
        );
      }
      // The preferred/required transit modes came with Redis OSS 7.0 (Valkey: 7.2, its first).
      const [major = 0, minor = 0] = String(input.EngineVersion ?? '7.1')
        .split('.')
        .map(Number);
      const takesMode =
        String(input.Engine ?? 'redis') === 'valkey'
          ? major > 7 || (major === 7 && minor >= 2)
          : major >= 7;
      if (input.TransitEncryptionMode !== undefined && !takesMode) {
        throw err(
          'InvalidParameterCombinationException',
          `TransitEncryptionMode is not supported for engine version ${String(input.EngineVersion)}.`,
        );
      }
      const sgName = String(input.CacheSubnetGroupName ?? 'default').toLowerCase();
      const subnetGroup = w.live(T.subnetGroup, ctx.region, sgName);
      if (!subnetGroup)
        throw err('CacheSubnetGroupNotFoundFault', `Cache subnet group ${sgName} not found.`);
      for (const g of (input.SecurityGroupIds ?? []) as string[]) {
        if (!w.live(EC2_TYPES.sg, ctx.region, g))
          throw err(
            'InvalidParameterValueException',
            `Some security group Id not recognized by EC2: ${g}`,
          );
      }
      let kmsKeyId: string | undefined;
      if (input.KmsKeyId) {
        if (input.AtRestEncryptionEnabled !== true)
          throw err(
            'InvalidParameterCombinationException',
            'KmsKeyId requires at-rest encryption.',
          );
        const key = usableKey(w, ctx.region, input.KmsKeyId as string);
        if (!key)
          throw err(
            'InvalidKMSKeyFault',
            `KMS key ${String(input.KmsKeyId)} is not valid or not enabled.`,
          );
        kmsKeyId = key.arn;
      }
      const subnets = subnetGroup.data.subnets as string[];
      const azFor = (i: number): string => {
        const preferred = (input.PreferredCacheClusterAZs as string[] | undefined)?.[i];
        if (preferred) return preferred;
        const azs = subnets.map((s) => w.get(EC2_TYPES.subnet, ctx.region, s)?.data.az as string);
        return azs[i % azs.length]!;
      };
      const members = Array.from({ length: n }, (_, i) => ({
        id: `${id}-${String(i + 1).padStart(3, '0')}`,
        az: azFor(i),
        role: i === 0 ? 'primary' : 'replica',
      }));
      const port = (input.Port as number | undefined) ?? 6379;
      const suffix = `${w.rng.chars(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}.${AZ_CODE[ctx.region] ?? 'xx1'}`;
      const r = w.add({
        service: 'elasticache',
        type: T.group,
        region: ctx.region,
        id,
        arn: w.arn('elasticache', ctx.region, `replicationgroup:${id}`),
        name: id,
        tags: tagMap(input.Tags),
        state: 'creating',
        data: {
          description: input.ReplicationGroupDescription,
          engine: input.Engine ?? 'redis',
          engineVersion: input.EngineVersion,
          nodeType: input.CacheNodeType,
          members,
          port,
          suffix,
          primaryEndpoint: `master.${id}.${suffix}.cache.amazonaws.com`,
          readerEndpoint: `replica.${id}.${suffix}.cache.amazonaws.com`,
          automaticFailover: input.AutomaticFailoverEnabled ? 'enabled' : 'disabled',
          multiAz: input.MultiAZEnabled ? 'enabled' : 'disabled',
          atRest: input.AtRestEncryptionEnabled === true,
          kmsKeyId,
          transit: input.TransitEncryptionEnabled === true,
          transitMode: input.TransitEncryptionMode ?? (takesMode ? 'required' : undefined),
          authTokenEnabled: token !== undefined,
          authTokenModifiedAt: w.now(),
          subnetGroup: sgName,
          securityGroups: [...((input.SecurityGroupIds ?? []) as string[])],
          snapshotRetention: input.SnapshotRetentionLimit ?? 0,
          snapshotWindow: input.SnapshotWindow ?? '05:00-06:00',
          maintenanceWindow: input.PreferredMaintenanceWindow,
          autoMinorVersionUpgrade: input.AutoMinorVersionUpgrade !== false,
        },
      });
      // The token itself is kept nowhere but in the data the caller sent; the fake only knows it is set.
      for (const m of members) {
        const subnet =
          subnets.find((s) => w.get(EC2_TYPES.subnet, ctx.region, s)?.data.az === m.az) ??
          subnets[0]!;
        createEni(w, {
          region: ctx.region,
          subnetId: subnet,
          groups: r.data.securityGroups as string[],
          description: `ElastiCache ${m.id}`,
          interfaceType: 'interface',
          requesterId: 'amazon-elasticache',
          owner: `elasticache:${m.id}`,
        });
      }
      w.schedule(r, w.t('redisCreate'), { state: 'available' });
      return { ReplicationGroup: groupShape(r) };
    },
    DescribeReplicationGroups(ctx, input) {
      if (input.ReplicationGroupId)
        return {
          ReplicationGroups: [groupShape(groupOf(ctx.region, input.ReplicationGroupId as string))],
        };
      return { ReplicationGroups: w.find(T.group, ctx.region).map(groupShape) };
    },
    ModifyReplicationGroup(ctx, input) {
      const r = groupOf(ctx.region, input.ReplicationGroupId as string);
      if (r.state !== 'available') {
        throw err(
          'InvalidReplicationGroupStateFault',
          `Replication group must be in available state to modify. Current state: ${r.state}`,
        );
      }
      const d = r.data;
      if (input.AuthToken !== undefined) {
        if (!d.transit)
          throw err(
            'InvalidParameterValueException',
            'The AUTH token is only supported when encryption-in-transit is enabled',
          );
        if (!validToken(input.AuthToken as string))
          throw err('InvalidParameterValueException', 'Invalid AuthToken provided.');
        d.authTokenEnabled = true;
        d.authTokenModifiedAt = w.now();
      }
      if (input.MultiAZEnabled === true && input.AutomaticFailoverEnabled === false) {
        throw err(
          'InvalidParameterCombinationException',
          'Multi-AZ requires automatic failover to be enabled.',
        );
      }
      if (input.AutomaticFailoverEnabled !== undefined)
        d.automaticFailover = input.AutomaticFailoverEnabled ? 'enabled' : 'disabled';
      if (input.MultiAZEnabled !== undefined)
        d.multiAz = input.MultiAZEnabled ? 'enabled' : 'disabled';
      if (input.SnapshotRetentionLimit !== undefined)
        d.snapshotRetention = input.SnapshotRetentionLimit;
      if (input.SnapshotWindow !== undefined) d.snapshotWindow = input.SnapshotWindow;
      if (input.PreferredMaintenanceWindow !== undefined)
        d.maintenanceWindow = input.PreferredMaintenanceWindow;
      if (input.SecurityGroupIds !== undefined)
        d.securityGroups = [...(input.SecurityGroupIds as string[])];
      r.state = 'modifying';
      w.schedule(r, w.t('redisModify'), { state: 'available' });
      return { ReplicationGroup: groupShape(r) };
    },
    DeleteReplicationGroup(ctx, input) {
      const r = groupOf(ctx.region, input.ReplicationGroupId as string);
      if (r.state === 'deleting')
        throw err(
          'InvalidReplicationGroupStateFault',
          `Replication group ${r.id} is already being deleted.`,
        );
      if (r.state !== 'available' && r.state !== 'create-failed') {
        throw err(
          'InvalidReplicationGroupStateFault',
          `Replication group ${r.id} is not in a valid state to be deleted (${r.state}).`,
        );
      }
      w.cancel(r);
      r.state = 'deleting';
      w.schedule(r, w.t('redisDelete'), { event: 'elasticache.gone', remove: true });
      return { ReplicationGroup: groupShape(r) };
    },
    DescribeCacheClusters(ctx, input) {
      const all = w
        .all(T.group, ctx.region)
        .flatMap((g) => (g.data.members as In[]).map((m) => ({ g, m })));
      const list = input.CacheClusterId ? all.filter((x) => x.m.id === input.CacheClusterId) : all;
      if (input.CacheClusterId && list.length === 0)
        throw err(
          'CacheClusterNotFoundFault',
          `CacheCluster not found: ${String(input.CacheClusterId)}`,
        );
      return {
        CacheClusters: list.map(({ g, m }) => ({
          CacheClusterId: m.id,
          CacheClusterStatus: g.state,
          CacheNodeType: g.data.nodeType,
          Engine: g.data.engine,
          EngineVersion: g.data.engineVersion,
          NumCacheNodes: 1,
          PreferredAvailabilityZone: m.az,
          CacheSubnetGroupName: g.data.subnetGroup,
          SecurityGroups: (g.data.securityGroups as string[]).map((s) => ({
            SecurityGroupId: s,
            Status: 'active',
          })),
          ReplicationGroupId: g.id,
          SnapshotRetentionLimit: g.data.snapshotRetention,
          SnapshotWindow: g.data.snapshotWindow,
          AuthTokenEnabled: g.data.authTokenEnabled === true,
          TransitEncryptionEnabled: g.data.transit === true,
          AtRestEncryptionEnabled: g.data.atRest === true,
          ARN: w.arn('elasticache', ctx.region, `cluster:${String(m.id)}`),
          CacheClusterCreateTime: date(g.createdAt),
        })),
      };
    },
    AddTagsToResource(ctx, input) {
      const r = w.byArn(input.ResourceName as string);
      if (!r || r.service !== 'elasticache')
        throw err('InvalidARNFault', `ARN ${String(input.ResourceName)} is invalid.`);
      Object.assign(r.tags, tagMap(input.Tags));
      return { TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
    },
    ListTagsForResource(ctx, input) {
      const r = w.byArn(input.ResourceName as string);
      if (!r || r.service !== 'elasticache')
        throw err('InvalidARNFault', `ARN ${String(input.ResourceName)} is invalid.`);
      return { TagList: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) };
    },
  };

  function checkSubnets(region: string, ids: string[]): string[] {
    for (const s of ids ?? []) {
      if (!w.live(EC2_TYPES.subnet, region, s))
        throw err('InvalidSubnet', `The subnet ID ${s} does not exist`);
    }
    return [...(ids ?? [])];
  }

  return { service: 'elasticache', handlers };
}
