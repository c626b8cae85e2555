import { describe, expect, it } from 'vitest';
import { FakeCloud, LATENCY_TIMINGS as L } from '../helpers/fake-cloud/index.js';
import type { ServiceName } from '../helpers/fake-cloud/index.js';
import { renderUserData } from '../../src/steps/phase1-foundation/user-data.js';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- responses are read loosely here */
const R = 'ap-northeast-2';

function virtual() {
  const cloud = new FakeCloud({ mode: 'virtual', startAt: Date.UTC(2025, 0, 1) });
  cloud.clock.quietMs = 60_000;
  const call = (service: ServiceName, command: string, input: any = {}, region = R): Promise<any> =>
    cloud.call(service, command, input, region);
  return { cloud, call };
}

/** A VPC with an internet gateway and two subnets in two AZs, plus a security group. */
async function base(call: ReturnType<typeof virtual>['call']) {
  const vpc = (await call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' })).Vpc.VpcId;
  const igw = (await call('ec2', 'CreateInternetGateway')).InternetGateway.InternetGatewayId;
  await call('ec2', 'AttachInternetGateway', { InternetGatewayId: igw, VpcId: vpc });
  const subnets: string[] = [];
  for (const [cidr, az] of [
    ['10.0.1.0/24', `${R}a`],
    ['10.0.2.0/24', `${R}c`],
  ]) {
    subnets.push(
      (await call('ec2', 'CreateSubnet', { VpcId: vpc, CidrBlock: cidr, AvailabilityZone: az }))
        .Subnet.SubnetId,
    );
  }
  const sg = (
    await call('ec2', 'CreateSecurityGroup', { GroupName: 'g', Description: 'g', VpcId: vpc })
  ).GroupId;
  const key = (await call('kms', 'CreateKey', {})).KeyMetadata.Arn as string;
  return { vpc, subnets, sg, key };
}

describe('RDS', () => {
  async function db(call: ReturnType<typeof virtual>['call'], extra: any = {}) {
    const b = await base(call);
    await call('rds', 'CreateDBSubnetGroup', {
      DBSubnetGroupName: 'db-subnets',
      DBSubnetGroupDescription: 'd',
      SubnetIds: b.subnets,
    });
    await call('rds', 'CreateDBParameterGroup', {
      DBParameterGroupName: 'pg16',
      DBParameterGroupFamily: 'postgres16',
      Description: 'p',
    });
    const out = await call('rds', 'CreateDBInstance', {
      DBInstanceIdentifier: 'DB',
      Engine: 'postgres',
      EngineVersion: '16',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MultiAZ: true,
      StorageEncrypted: true,
      KmsKeyId: b.key,
      MasterUsername: 'u',
      ManageMasterUserPassword: true,
      VpcSecurityGroupIds: [b.sg],
      DBSubnetGroupName: 'db-subnets',
      DBParameterGroupName: 'pg16',
      BackupRetentionPeriod: 7,
      EnableCloudwatchLogsExports: ['postgresql'],
      ...extra,
    });
    return { ...b, out };
  }

  it('creates a Multi-AZ instance: creating → backing-up → available, endpoint and PITR once available', async () => {
    const { cloud, call } = virtual();
    const { out, subnets } = await db(call);
    expect(out.DBInstance).toMatchObject({
      DBInstanceIdentifier: 'db',
      DBInstanceStatus: 'creating',
      MultiAZ: true,
      SecondaryAvailabilityZone: `${R}c`,
    });
    expect(out.DBInstance.Endpoint).toBeUndefined();
    expect(out.DBInstance.MasterUserSecret.SecretArn).toMatch(
      /^arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-/,
    );
    const describe = async () =>
      (await call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'db' })).DBInstances[0];
    cloud.advance(L.rdsCreate);
    expect(await describe()).toMatchObject({
      DBInstanceStatus: 'backing-up',
      Endpoint: {
        Address: expect.stringMatching(/^db\.c[a-z0-9]{11}\.ap-northeast-2\.rds\.amazonaws\.com$/),
        Port: 5432,
      },
    });
    expect((await describe()).LatestRestorableTime).toBeUndefined();
    cloud.advance(L.rdsFirstBackup);
    const ready = await describe();
    expect(ready.DBInstanceStatus).toBe('available');
    expect(cloud.now() - ready.LatestRestorableTime.getTime()).toBeLessThanOrEqual(5 * 60_000);
    // RDS made the group it exports into, untagged and never expiring.
    expect(cloud.resources({ type: 'logs:log-group' })).toMatchObject([
      { id: '/aws/rds/instance/db/postgresql', tags: {} },
    ]);
    // Its network interface sits in the primary AZ's subnet.
    expect(
      (
        await call('ec2', 'DescribeNetworkInterfaces', {
          Filters: [{ Name: 'description', Values: ['RDSNetworkInterface'] }],
        })
      ).NetworkInterfaces,
    ).toMatchObject([{ SubnetId: subnets[0] }]);
  });

  it('refuses modifications while busy and deletes only without protection, then lets go of its groups', async () => {
    const { cloud, call } = virtual();
    const { subnets } = await db(call, { DeletionProtection: true });
    await expect(
      call('rds', 'ModifyDBInstance', { DBInstanceIdentifier: 'db', DeletionProtection: false }),
    ).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' });
    cloud.advance(L.rdsCreate + L.rdsFirstBackup);
    await expect(
      call('rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'db', SkipFinalSnapshot: true }),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    const modified = await call('rds', 'ModifyDBInstance', {
      DBInstanceIdentifier: 'db',
      DeletionProtection: false,
      ApplyImmediately: true,
    });
    expect(modified.DBInstance.DBInstanceStatus).toBe('modifying');
    // RDS still describes the instance as it was once, then as it is.
    const describe = async () =>
      (
        (await call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'db' })) as {
          DBInstances: { DBInstanceStatus: string; DeletionProtection: boolean }[];
        }
      ).DBInstances[0];
    expect(await describe()).toMatchObject({
      DBInstanceStatus: 'available',
      DeletionProtection: true,
    });
    expect(await describe()).toMatchObject({
      DBInstanceStatus: 'modifying',
      DeletionProtection: false,
    });
    cloud.advance(L.rdsModify);
    await expect(
      call('rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'db' }),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombination' });
    await call('rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'db', SkipFinalSnapshot: true });
    await expect(
      call('rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'db', SkipFinalSnapshot: true }),
    ).rejects.toMatchObject({
      name: 'InvalidDBInstanceStateFault',
      message: 'Instance db is already being deleted.',
    });
    await expect(
      call('rds', 'DeleteDBSubnetGroup', { DBSubnetGroupName: 'db-subnets' }),
    ).rejects.toMatchObject({ name: 'InvalidDBSubnetGroupStateFault' });
    await expect(
      call('rds', 'DeleteDBParameterGroup', { DBParameterGroupName: 'pg16' }),
    ).rejects.toMatchObject({ name: 'InvalidDBParameterGroupStateFault' });
    cloud.advance(L.rdsDelete);
    await expect(
      call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'db' }),
    ).rejects.toMatchObject({ name: 'DBInstanceNotFoundFault' });
    // The managed master secret went with the instance; the ENI lingers a little longer.
    expect(cloud.resources({ type: 'secretsmanager:secret' })).toEqual([]);
    await expect(call('ec2', 'DeleteSubnet', { SubnetId: subnets[0] })).rejects.toMatchObject({
      name: 'DependencyViolation',
    });
    await call('rds', 'DeleteDBSubnetGroup', { DBSubnetGroupName: 'db-subnets' });
    await call('rds', 'DeleteDBParameterGroup', { DBParameterGroupName: 'pg16' });
    cloud.advance(L.eniRelease);
    await call('ec2', 'DeleteSubnet', { SubnetId: subnets[0] });
  });

  it("knows the engines' parameter names, and needs two AZs for a subnet group", async () => {
    const { call } = virtual();
    const b = await base(call);
    await expect(
      call('rds', 'CreateDBSubnetGroup', {
        DBSubnetGroupName: 'x',
        DBSubnetGroupDescription: 'd',
        SubnetIds: [b.subnets[0]],
      }),
    ).rejects.toMatchObject({ name: 'DBSubnetGroupDoesNotCoverEnoughAZs' });
    await call('rds', 'CreateDBParameterGroup', {
      DBParameterGroupName: 'pg',
      DBParameterGroupFamily: 'postgres16',
      Description: 'p',
    });
    await expect(
      call('rds', 'ModifyDBParameterGroup', {
        DBParameterGroupName: 'pg',
        Parameters: [
          {
            ParameterName: 'require_secure_transport',
            ParameterValue: '1',
            ApplyMethod: 'immediate',
          },
        ],
      }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await call('rds', 'ModifyDBParameterGroup', {
      DBParameterGroupName: 'pg',
      Parameters: [
        { ParameterName: 'rds.force_ssl', ParameterValue: '1', ApplyMethod: 'immediate' },
      ],
    });
    expect(
      (await call('rds', 'DescribeDBParameters', { DBParameterGroupName: 'pg', Source: 'user' }))
        .Parameters,
    ).toMatchObject([{ ParameterName: 'rds.force_ssl', ParameterValue: '1', Source: 'user' }]);
  });

  it('takes a snapshot only of an available instance, and replicates automated backups to another region', async () => {
    const { cloud, call } = virtual();
    const { out } = await db(call);
    await expect(
      call('rds', 'CreateDBSnapshot', { DBSnapshotIdentifier: 's1', DBInstanceIdentifier: 'db' }),
    ).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' });
    cloud.advance(L.rdsCreate + L.rdsFirstBackup);
    const snap = await call('rds', 'CreateDBSnapshot', {
      DBSnapshotIdentifier: 's1',
      DBInstanceIdentifier: 'db',
      Tags: [{ Key: 'k', Value: 'v' }],
    });
    expect(snap.DBSnapshot).toMatchObject({ Status: 'creating', Encrypted: true });
    await expect(
      call('rds', 'DeleteDBSnapshot', { DBSnapshotIdentifier: 's1' }),
    ).rejects.toMatchObject({ name: 'InvalidDBSnapshotStateFault' });
    cloud.advance(L.rdsSnapshot);
    expect(
      (await call('rds', 'DescribeDBSnapshots', { DBSnapshotIdentifier: 's1' })).DBSnapshots[0]
        .Status,
    ).toBe('available');

    const drKey = await call('kms', 'CreateKey', {}, 'ap-northeast-1');
    const dr = (command: string, input: any) => call('rds', command, input, 'ap-northeast-1');
    const source = out.DBInstance.DBInstanceArn;
    await expect(
      dr('StartDBInstanceAutomatedBackupsReplication', {
        SourceDBInstanceArn: source,
        KmsKeyId: 'nope',
      }),
    ).rejects.toMatchObject({ name: 'KMSKeyNotAccessibleFault' });
    const started = await dr('StartDBInstanceAutomatedBackupsReplication', {
      SourceDBInstanceArn: source,
      KmsKeyId: drKey.KeyMetadata.Arn,
      BackupRetentionPeriod: 7,
    });
    expect(started.DBInstanceAutomatedBackup).toMatchObject({
      Status: 'pending',
      DBInstanceArn: source,
      Region: R,
    });
    cloud.advance(L.rdsReplication);
    const dbi = out.DBInstance.DbiResourceId;
    expect(
      (await dr('DescribeDBInstanceAutomatedBackups', { DbiResourceId: dbi }))
        .DBInstanceAutomatedBackups[0].Status,
    ).toBe('Replicating'); // RDS spells it both ways (terraform-provider-aws #32597)
    await expect(
      dr('DeleteDBInstanceAutomatedBackup', { DbiResourceId: dbi }),
    ).rejects.toMatchObject({ name: 'InvalidDBInstanceAutomatedBackupStateFault' });
    await dr('StopDBInstanceAutomatedBackupsReplication', { SourceDBInstanceArn: source });
    // The stop modifies the source: a delete with a final snapshot waits until it is available.
    const status = async () =>
      (await call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'db' })).DBInstances[0]
        .DBInstanceStatus;
    expect(await status()).toBe('modifying');
    await expect(
      call('rds', 'DeleteDBInstance', {
        DBInstanceIdentifier: 'db',
        FinalDBSnapshotIdentifier: 'f',
      }),
    ).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' });
    cloud.advance(L.rdsModify);
    expect(await status()).toBe('available');
    // A second stop: "not replicating to the current region".
    await expect(
      dr('StopDBInstanceAutomatedBackupsReplication', { SourceDBInstanceArn: source }),
    ).rejects.toMatchObject({
      name: 'InvalidDBInstanceStateFault',
      message: expect.stringContaining('not replicating to the current region'),
    });
    await dr('DeleteDBInstanceAutomatedBackup', { DbiResourceId: dbi });
    cloud.advance(L.quick);
    await expect(
      dr('DescribeDBInstanceAutomatedBackups', { DbiResourceId: dbi }),
    ).rejects.toMatchObject({ name: 'DBInstanceAutomatedBackupNotFoundFault' });
  });
});

describe('ElastiCache', () => {
  it('accepts an AUTH token only with in-transit encryption and in the allowed characters', async () => {
    const { call } = virtual();
    const b = await base(call);
    await call('elasticache', 'CreateCacheSubnetGroup', {
      CacheSubnetGroupName: 'cache',
      CacheSubnetGroupDescription: 'c',
      SubnetIds: b.subnets,
    });
    const group = {
      ReplicationGroupId: 'Redis',
      ReplicationGroupDescription: 'r',
      CacheNodeType: 'cache.t3.micro',
      Engine: 'redis',
      NumCacheClusters: 2,
      CacheSubnetGroupName: 'cache',
      SecurityGroupIds: [b.sg],
    };
    await expect(
      call('elasticache', 'CreateReplicationGroup', { ...group, AuthToken: 'a'.repeat(32) }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(
      call('elasticache', 'CreateReplicationGroup', {
        ...group,
        TransitEncryptionEnabled: true,
        AuthToken: 'short',
      }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(
      call('elasticache', 'CreateReplicationGroup', {
        ...group,
        TransitEncryptionEnabled: true,
        AuthToken: `${'a'.repeat(20)}@@`,
      }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(
      call('elasticache', 'CreateReplicationGroup', { ...group, MultiAZEnabled: true }),
    ).rejects.toMatchObject({ name: 'InvalidParameterCombinationException' });
    const out = await call('elasticache', 'CreateReplicationGroup', {
      ...group,
      TransitEncryptionEnabled: true,
      AuthToken: 'Abc-123!&#$^<>xyz',
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      AtRestEncryptionEnabled: true,
      KmsKeyId: b.key,
      PreferredCacheClusterAZs: [`${R}a`, `${R}c`],
    });
    expect(out.ReplicationGroup).toMatchObject({
      ReplicationGroupId: 'redis',
      Status: 'creating',
      AuthTokenEnabled: true,
      MemberClusters: ['redis-001', 'redis-002'],
    });
    expect(JSON.stringify(out)).not.toContain('Abc-123');
  });

  it('moves creating → available → deleting → gone and keeps its subnet group busy until then', async () => {
    const { cloud, call } = virtual();
    const b = await base(call);
    await call('elasticache', 'CreateCacheSubnetGroup', {
      CacheSubnetGroupName: 'cache',
      CacheSubnetGroupDescription: 'c',
      SubnetIds: b.subnets,
    });
    await call('elasticache', 'CreateReplicationGroup', {
      ReplicationGroupId: 'r',
      ReplicationGroupDescription: 'r',
      CacheNodeType: 'cache.t3.micro',
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      CacheSubnetGroupName: 'cache',
      PreferredCacheClusterAZs: [`${R}a`, `${R}c`],
    });
    const status = async () =>
      (await call('elasticache', 'DescribeReplicationGroups', { ReplicationGroupId: 'r' }))
        .ReplicationGroups[0];
    expect((await status()).NodeGroups[0].PrimaryEndpoint).toBeUndefined();
    await expect(
      call('elasticache', 'DeleteReplicationGroup', { ReplicationGroupId: 'r' }),
    ).rejects.toMatchObject({ name: 'InvalidReplicationGroupStateFault' });
    cloud.advance(L.redisCreate);
    const ready = await status();
    expect(ready).toMatchObject({
      Status: 'available',
      NodeGroups: [
        {
          PrimaryEndpoint: { Address: expect.stringMatching(/^master\.r\./), Port: 6379 },
          NodeGroupMembers: [
            { PreferredAvailabilityZone: `${R}a`, CurrentRole: 'primary' },
            { PreferredAvailabilityZone: `${R}c`, CurrentRole: 'replica' },
          ],
        },
      ],
    });
    expect(
      (await call('elasticache', 'DescribeCacheClusters', { CacheClusterId: 'r-002' }))
        .CacheClusters[0],
    ).toMatchObject({ PreferredAvailabilityZone: `${R}c`, CacheSubnetGroupName: 'cache' });
    await call('elasticache', 'DeleteReplicationGroup', { ReplicationGroupId: 'r' });
    await expect(
      call('elasticache', 'DeleteReplicationGroup', { ReplicationGroupId: 'r' }),
    ).rejects.toMatchObject({ message: 'Replication group r is already being deleted.' });
    await expect(
      call('elasticache', 'DeleteCacheSubnetGroup', { CacheSubnetGroupName: 'cache' }),
    ).rejects.toMatchObject({ name: 'CacheSubnetGroupInUse' });
    cloud.advance(L.redisDelete);
    await expect(status()).rejects.toMatchObject({ name: 'ReplicationGroupNotFoundFault' });
    await call('elasticache', 'DeleteCacheSubnetGroup', { CacheSubnetGroupName: 'cache' });
  });
});

describe('Load balancing and Auto Scaling', () => {
  async function app({ cloud, call }: ReturnType<typeof virtual>) {
    const b = await base(call);
    const profile = 'prof';
    await call('iam', 'CreateRole', {
      RoleName: 'role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'ec2.amazonaws.com' },
            Action: 'sts:AssumeRole',
          },
        ],
      }),
    });
    await call('iam', 'CreateInstanceProfile', { InstanceProfileName: profile });
    cloud.advance(L.iamVisible);
    await call('iam', 'AddRoleToInstanceProfile', {
      InstanceProfileName: profile,
      RoleName: 'role',
    });
    const lt = (
      await call('ec2', 'CreateLaunchTemplate', {
        LaunchTemplateName: 'lt',
        LaunchTemplateData: {
          ImageId: 'ami-0123456789abcdef0',
          InstanceType: 't3.micro',
          IamInstanceProfile: { Name: profile },
          NetworkInterfaces: [{ DeviceIndex: 0, AssociatePublicIpAddress: false, Groups: [b.sg] }],
          MetadataOptions: { HttpTokens: 'required' },
          BlockDeviceMappings: [
            { DeviceName: '/dev/xvda', Ebs: { VolumeSize: 8, Encrypted: true, KmsKeyId: b.key } },
          ],
          TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'Backup', Value: 'true' }] }],
        },
      })
    ).LaunchTemplate.LaunchTemplateId;
    const tg = (
      await call('elbv2', 'CreateTargetGroup', {
        Name: 'tg',
        Protocol: 'HTTP',
        Port: 8080,
        VpcId: b.vpc,
        HealthCheckPath: '/health',
      })
    ).TargetGroups[0].TargetGroupArn;
    const lb = (
      await call('elbv2', 'CreateLoadBalancer', {
        Name: 'alb',
        Subnets: b.subnets,
        SecurityGroups: [b.sg],
      })
    ).LoadBalancers[0];
    await call('elbv2', 'CreateListener', {
      LoadBalancerArn: lb.LoadBalancerArn,
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }],
    });
    return { ...b, lt, tg, lb };
  }

  it('activates an ALB after provisioning and refuses an internet-facing one without an internet gateway', async () => {
    const env = virtual();
    const { cloud, call } = env;
    const { lb, tg } = await app(env);
    expect(lb).toMatchObject({
      State: { Code: 'provisioning' },
      Scheme: 'internet-facing',
      DNSName: expect.stringMatching(/^alb-\d+\.ap-northeast-2\.elb\.amazonaws\.com$/),
      CanonicalHostedZoneId: 'ZWKZPGTI48KDX',
    });
    cloud.advance(L.albActive);
    expect(
      (await call('elbv2', 'DescribeLoadBalancers', { Names: ['alb'] })).LoadBalancers[0].State
        .Code,
    ).toBe('active');
    await expect(call('elbv2', 'DeleteTargetGroup', { TargetGroupArn: tg })).rejects.toMatchObject({
      name: 'ResourceInUseException',
    });

    const vpc = (await call('ec2', 'CreateVpc', { CidrBlock: '10.5.0.0/16' })).Vpc.VpcId;
    const s1 = (
      await call('ec2', 'CreateSubnet', {
        VpcId: vpc,
        CidrBlock: '10.5.1.0/24',
        AvailabilityZone: `${R}a`,
      })
    ).Subnet.SubnetId;
    const s2 = (
      await call('ec2', 'CreateSubnet', {
        VpcId: vpc,
        CidrBlock: '10.5.2.0/24',
        AvailabilityZone: `${R}c`,
      })
    ).Subnet.SubnetId;
    await expect(
      call('elbv2', 'CreateLoadBalancer', { Name: 'other', Subnets: [s1, s2] }),
    ).rejects.toMatchObject({
      name: 'InvalidSubnetException',
      message: `VPC ${vpc} has no internet gateway`,
    });
  });

  it("checks the log bucket policy when access logs are turned on, and leaves ELB's test file", async () => {
    const env = virtual();
    const { call } = env;
    const { lb } = await app(env);
    await call('s3', 'CreateBucket', {
      Bucket: 'logs',
      CreateBucketConfiguration: { LocationConstraint: R },
    });
    const attrs = [
      { Key: 'access_logs.s3.enabled', Value: 'true' },
      { Key: 'access_logs.s3.bucket', Value: 'logs' },
      { Key: 'access_logs.s3.prefix', Value: 'alb' },
    ];
    await expect(
      call('elbv2', 'ModifyLoadBalancerAttributes', {
        LoadBalancerArn: lb.LoadBalancerArn,
        Attributes: attrs,
      }),
    ).rejects.toMatchObject({
      name: 'InvalidConfigurationRequestException',
      message: 'Access Denied for bucket: logs. Please check S3bucket permission',
    });
    await call('s3', 'PutBucketPolicy', {
      Bucket: 'logs',
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::600734575887:root' },
            Action: 's3:PutObject',
            Resource: 'arn:aws:s3:::logs/alb/AWSLogs/123456789012/*',
          },
        ],
      }),
    });
    await call('elbv2', 'ModifyLoadBalancerAttributes', {
      LoadBalancerArn: lb.LoadBalancerArn,
      Attributes: attrs,
    });
    expect(
      (await call('s3', 'ListObjectVersions', { Bucket: 'logs' })).Versions.map((v: any) => v.Key),
    ).toEqual(['alb/AWSLogs/123456789012/ELBAccessLogTestFile']);
    await expect(call('s3', 'DeleteBucket', { Bucket: 'logs' })).rejects.toMatchObject({
      name: 'BucketNotEmpty',
    });
  });

  it('launches instances Pending → InService across both subnets, healthy in the target group after boot', async () => {
    const env = virtual();
    const { cloud, call } = env;
    const { lt, tg, subnets } = await app(env);
    // A profile created a moment ago is not yet visible to Auto Scaling.
    const group = {
      AutoScalingGroupName: 'asg',
      LaunchTemplate: { LaunchTemplateId: lt, Version: '$Latest' },
      MinSize: 2,
      MaxSize: 4,
      DesiredCapacity: 2,
      VPCZoneIdentifier: subnets.join(','),
      TargetGroupARNs: [tg],
      HealthCheckType: 'ELB',
      Tags: [
        { Key: 'cloudmart:stack', Value: 's', PropagateAtLaunch: true },
        { Key: 'Name', Value: 'asg', PropagateAtLaunch: false },
      ],
    };
    await expect(call('autoscaling', 'CreateAutoScalingGroup', group)).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('iamInstanceProfile.name is invalid'),
    });
    cloud.advance(L.iamPropagation);
    await call('autoscaling', 'CreateAutoScalingGroup', group);
    const asg = async () =>
      (await call('autoscaling', 'DescribeAutoScalingGroups', { AutoScalingGroupNames: ['asg'] }))
        .AutoScalingGroups[0];
    const health = async () =>
      (
        await call('elbv2', 'DescribeTargetHealth', { TargetGroupArn: tg })
      ).TargetHealthDescriptions.map((t: any) => t.TargetHealth.State);
    const first = await asg();
    expect(first.Instances.map((i: any) => i.LifecycleState)).toEqual(['Pending', 'Pending']);
    expect(new Set(first.Instances.map((i: any) => i.AvailabilityZone))).toEqual(
      new Set([`${R}a`, `${R}c`]),
    );
    expect(await health()).toEqual([]);
    cloud.advance(L.instanceInService);
    expect(
      (await asg()).Instances.map((i: any) => `${i.LifecycleState} v${i.LaunchTemplate.Version}`),
    ).toEqual(['InService v1', 'InService v1']);
    expect(await health()).toEqual(['initial', 'initial']);
    cloud.advance(L.targetHealthy);
    expect(await health()).toEqual(['healthy', 'healthy']);

    const ids = first.Instances.map((i: any) => i.InstanceId);
    const instances = (
      await call('ec2', 'DescribeInstances', { InstanceIds: ids })
    ).Reservations.flatMap((r: any) => r.Instances);
    expect(instances[0]).toMatchObject({
      State: { Name: 'running' },
      MetadataOptions: { HttpTokens: 'required' },
      Tags: expect.arrayContaining([
        { Key: 'cloudmart:stack', Value: 's' },
        { Key: 'aws:autoscaling:groupName', Value: 'asg' },
      ]),
    });
    expect(instances[0].PublicIpAddress).toBeUndefined();
    const volumes = (
      await call('ec2', 'DescribeVolumes', {
        Filters: [{ Name: 'attachment.instance-id', Values: ids }],
      })
    ).Volumes;
    expect(volumes).toHaveLength(2);
    expect(volumes[0]).toMatchObject({
      Encrypted: true,
      Tags: expect.arrayContaining([{ Key: 'Backup', Value: 'true' }]),
    });
    // The service-linked role appeared with the first group.
    expect(
      cloud.resources({ type: 'iam:role' }).map((r) => `${r.id} system=${r.system}`),
    ).toContain('AWSServiceRoleForAutoScaling system=true');
  });

  it("cloudmart's reference backend answers its health checks only once its settings name a database that answers", async () => {
    const env = virtual();
    const { cloud, call } = env;
    const b = await app(env);
    const { userData } = renderUserData({
      region: R,
      parameterPrefix: '/cloudmart/s',
      agentParameter: '/cloudmart/s/agent',
      agentConfig: '{}',
      image: null,
      files: [{ path: 'src/server.js', content: Buffer.from('// app') }],
    });
    const lt = (
      await call('ec2', 'CreateLaunchTemplate', {
        LaunchTemplateName: 'lt-app',
        LaunchTemplateData: {
          ImageId: 'ami-0123456789abcdef0',
          InstanceType: 't3.micro',
          IamInstanceProfile: { Name: 'prof' },
          UserData: userData,
        },
      })
    ).LaunchTemplate.LaunchTemplateId;
    cloud.advance(L.iamPropagation);
    await call('autoscaling', 'CreateAutoScalingGroup', {
      AutoScalingGroupName: 'asg',
      LaunchTemplate: { LaunchTemplateId: lt, Version: '$Latest' },
      MinSize: 1,
      MaxSize: 1,
      DesiredCapacity: 1,
      VPCZoneIdentifier: b.subnets.join(','),
      TargetGroupARNs: [b.tg],
    });
    const health = async () =>
      (await call('elbv2', 'DescribeTargetHealth', { TargetGroupArn: b.tg }))
        .TargetHealthDescriptions[0]?.TargetHealth;
    cloud.advance(L.instanceInService);
    expect((await health())?.State).toBe('initial');
    cloud.advance(L.targetHealthy + L.albActive);
    // Booted, but the settings do not exist yet: the service cannot start.
    expect(await health()).toEqual({ State: 'unhealthy', Reason: 'Target.FailedHealthChecks' });

    await call('rds', 'CreateDBSubnetGroup', {
      DBSubnetGroupName: 'db',
      DBSubnetGroupDescription: 'db',
      SubnetIds: b.subnets,
    });
    await call('rds', 'CreateDBInstance', {
      DBInstanceIdentifier: 'db',
      Engine: 'postgres',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'u',
      MasterUserPassword: 'password123',
      DBSubnetGroupName: 'db',
      VpcSecurityGroupIds: [b.sg],
    });
    const put = (name: string, value: string) =>
      call('ssm', 'PutParameter', { Name: `/cloudmart/s${name}`, Value: value, Overwrite: true });
    await put('/redis/endpoint', 'master.cache.example');
    await put('/db/endpoint', 'no-such-db.example');
    cloud.advance(L.appStart);
    expect((await health())?.State).toBe('unhealthy');

    cloud.advance(L.rdsCreate);
    const endpoint = (await call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'db' }))
      .DBInstances[0].Endpoint.Address as string;
    await put('/db/endpoint', endpoint);
    cloud.advance(L.appStart - 1);
    expect((await health())?.State).not.toBe('healthy');
    cloud.advance(1);
    expect(await health()).toEqual({ State: 'healthy' });
  });

  it('deletes a group only with ForceDelete while it has instances, terminating them', async () => {
    const env = virtual();
    const { cloud, call } = env;
    const { lt, tg, subnets } = await app(env);
    cloud.advance(L.iamPropagation);
    await call('autoscaling', 'CreateAutoScalingGroup', {
      AutoScalingGroupName: 'asg',
      LaunchTemplate: { LaunchTemplateId: lt },
      MinSize: 1,
      MaxSize: 1,
      VPCZoneIdentifier: subnets.join(','),
      TargetGroupARNs: [tg],
    });
    const policy = await call('autoscaling', 'PutScalingPolicy', {
      AutoScalingGroupName: 'asg',
      PolicyName: 'cpu',
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'ASGAverageCPUUtilization' },
        TargetValue: 70,
      },
    });
    expect(policy.Alarms).toHaveLength(2);
    await expect(
      call('autoscaling', 'DeleteAutoScalingGroup', { AutoScalingGroupName: 'asg' }),
    ).rejects.toMatchObject({ name: 'ResourceInUseFault' });
    await call('autoscaling', 'DeleteAutoScalingGroup', {
      AutoScalingGroupName: 'asg',
      ForceDelete: true,
    });
    expect(
      (await call('autoscaling', 'DescribeAutoScalingGroups', { AutoScalingGroupNames: ['asg'] }))
        .AutoScalingGroups[0],
    ).toMatchObject({
      Status: 'Delete in progress',
      Instances: [{ LifecycleState: 'Terminating' }],
    });
    cloud.advance(L.asgDelete);
    expect(
      (await call('autoscaling', 'DescribeAutoScalingGroups', { AutoScalingGroupNames: ['asg'] }))
        .AutoScalingGroups,
    ).toEqual([]);
    const states = cloud
      .resources({ type: 'ec2:instance' })
      .map((i) => `${i.state} live=${i.live}`);
    expect(states).toEqual(['terminated live=false']);
    expect(cloud.resources({ type: 'ec2:volume' })).toEqual([]);
    expect(cloud.resources({ type: 'cloudwatch:alarm' })).toEqual([]);
  });

  /** A group of two instances, InService and healthy in the target group. */
  async function servingGroup() {
    const env = virtual();
    const { cloud, call } = env;
    const { lt, tg, subnets } = await app(env);
    cloud.advance(L.iamPropagation);
    await call('autoscaling', 'CreateAutoScalingGroup', {
      AutoScalingGroupName: 'asg',
      LaunchTemplate: { LaunchTemplateId: lt, Version: '$Latest' },
      MinSize: 2,
      MaxSize: 4,
      DesiredCapacity: 2,
      VPCZoneIdentifier: subnets.join(','),
      TargetGroupARNs: [tg],
      HealthCheckType: 'ELB',
    });
    // InService (registered in the target group) first, then healthy after the health checks.
    cloud.advance(L.instanceInService);
    cloud.advance(L.targetHealthy);
    const asg = async () =>
      (await call('autoscaling', 'DescribeAutoScalingGroups', { AutoScalingGroupNames: ['asg'] }))
        .AutoScalingGroups[0];
    const health = async () =>
      Object.fromEntries(
        (
          await call('elbv2', 'DescribeTargetHealth', { TargetGroupArn: tg })
        ).TargetHealthDescriptions.map((t: any) => [t.Target.Id, t.TargetHealth.State]),
      );
    const [victim, survivor] = (await asg()).Instances.map((i: any) => i.InstanceId as string);
    expect(await health()).toEqual({ [victim!]: 'healthy', [survivor!]: 'healthy' });
    return { cloud, call, tg, asg, health, victim: victim!, survivor: survivor! };
  }

  it('EC2 TerminateInstances on a group instance: the group sees it Unhealthy, deregisters it after the termination and launches a healthy replacement, desired capacity kept', async () => {
    const { cloud, call, tg, asg, health, victim, survivor } = await servingGroup();

    const out = await call('ec2', 'TerminateInstances', { InstanceIds: [victim] });

    expect(out.TerminatingInstances).toEqual([
      {
        InstanceId: victim,
        PreviousState: { Code: 16, Name: 'running' },
        CurrentState: { Code: 32, Name: 'shutting-down' },
      },
    ]);
    // Nobody was told beforehand: the target is still registered (not draining) while the
    // instance is already shutting down.
    const targets = () =>
      cloud.world.get('elasticloadbalancing:targetgroup', R, tg)!.data.targets as any[];
    expect(targets().find((t) => t.id === victim)).not.toHaveProperty('drainingUntil');
    expect(cloud.world.get('ec2:instance', R, victim)!.state).toBe('shutting-down');

    // The group's EC2 health check notices it, takes it out and launches a replacement.
    const after = await asg();
    expect(after.DesiredCapacity).toBe(2);
    const byId = Object.fromEntries(
      after.Instances.map((i: any) => [i.InstanceId, `${i.LifecycleState} ${i.HealthStatus}`]),
    );
    const replacement = Object.keys(byId).find((id) => id !== victim && id !== survivor)!;
    expect(byId).toEqual({
      [victim]: 'Terminating Unhealthy',
      [survivor]: 'InService Healthy',
      [replacement]: 'Pending Healthy',
    });
    expect(await health()).toEqual({ [victim]: 'draining', [survivor]: 'healthy' });
    const activities = (
      await call('autoscaling', 'DescribeScalingActivities', { AutoScalingGroupName: 'asg' })
    ).Activities;
    expect(activities.slice(0, 2)).toMatchObject([
      { Description: `Launching a new EC2 instance: ${replacement}`, StatusCode: 'Successful' },
      {
        Description: `Terminating EC2 instance: ${victim}`,
        Cause: expect.stringContaining(
          'in response to an EC2 health check indicating it has been terminated or stopped',
        ),
      },
    ]);

    // Terminating again is idempotent and launches nothing more.
    expect(
      (await call('ec2', 'TerminateInstances', { InstanceIds: [victim] })).TerminatingInstances,
    ).toEqual([
      {
        InstanceId: victim,
        PreviousState: { Code: 32, Name: 'shutting-down' },
        CurrentState: { Code: 32, Name: 'shutting-down' },
      },
    ]);

    cloud.advance(L.instanceInService);
    cloud.advance(L.targetHealthy);
    const healed = await asg();
    expect(
      healed.Instances.map(
        (i: any) => `${i.InstanceId} ${i.LifecycleState} ${i.HealthStatus}`,
      ).sort(),
    ).toEqual([`${replacement} InService Healthy`, `${survivor} InService Healthy`].sort());
    expect(healed.DesiredCapacity).toBe(2);
    // Serving from the replacement while the old target still drains (300 s by default).
    expect(await health()).toEqual({
      [victim]: 'draining',
      [replacement]: 'healthy',
      [survivor]: 'healthy',
    });
    cloud.advance(300_000 - L.instanceInService - L.targetHealthy);
    expect(await health()).toEqual({ [replacement]: 'healthy', [survivor]: 'healthy' });
    const [terminated] = (
      await call('ec2', 'DescribeInstances', { InstanceIds: [victim] })
    ).Reservations.flatMap((r: any) => r.Instances);
    expect(terminated.State).toEqual({ Code: 48, Name: 'terminated' });
    expect(
      (await call('ec2', 'TerminateInstances', { InstanceIds: [victim] })).TerminatingInstances[0],
    ).toMatchObject({ CurrentState: { Code: 48, Name: 'terminated' } });
  });

  it('TerminateInstances with an unknown id fails as a whole and terminates nothing', async () => {
    const { call, asg, victim } = await servingGroup();
    const unknown = 'i-0123456789abcdef0';

    await expect(
      call('ec2', 'TerminateInstances', { InstanceIds: [victim, unknown] }),
    ).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: `The instance ID '${unknown}' does not exist`,
    });
    await expect(
      call('ec2', 'TerminateInstances', { InstanceIds: [unknown, 'i-0fedcba9876543210'] }),
    ).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: `The instance IDs '${unknown}, i-0fedcba9876543210' do not exist`,
    });
    await expect(call('ec2', 'TerminateInstances', { InstanceIds: [] })).rejects.toMatchObject({
      name: 'MissingParameter',
    });
    await expect(
      call('ec2', 'TerminateInstances', { InstanceIds: [victim], DryRun: true }),
    ).rejects.toMatchObject({ name: 'DryRunOperation' });
    expect((await asg()).Instances.map((i: any) => i.LifecycleState)).toEqual([
      'InService',
      'InService',
    ]);
  });

  it('with ReplaceUnhealthy suspended the group marks a terminated instance Unhealthy but replaces it only once resumed', async () => {
    const { call, asg, victim } = await servingGroup();
    await call('autoscaling', 'SuspendProcesses', {
      AutoScalingGroupName: 'asg',
      ScalingProcesses: ['ReplaceUnhealthy'],
    });

    await call('ec2', 'TerminateInstances', { InstanceIds: [victim] });

    const held = await asg();
    expect(held.Instances).toHaveLength(2);
    expect(held.Instances.find((i: any) => i.InstanceId === victim)).toMatchObject({
      LifecycleState: 'InService',
      HealthStatus: 'Unhealthy',
    });
    await call('autoscaling', 'ResumeProcesses', {
      AutoScalingGroupName: 'asg',
      ScalingProcesses: ['ReplaceUnhealthy'],
    });
    const replaced = await asg();
    expect(replaced.Instances.map((i: any) => i.LifecycleState).sort()).toEqual([
      'InService',
      'Pending',
      'Terminating',
    ]);
  });
});
