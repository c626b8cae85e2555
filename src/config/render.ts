import { configNames } from './names.js';
import { defaultZonesOf, regionInfo } from './regions.js';

/** What `init` asks; everything else keeps the seed's defaults. */
export interface InitAnswers {
  stack: string;
  region: string;
  /** Where RDS automated backups are replicated; must differ from region. */
  drRegion: string;
  /** Two zone names of region. */
  availabilityZones: [string, string];
  email: string;
  domain: string | null;
  allowedCidrs: string[];
  budgetUsd: number;
}

export const EXAMPLE_ANSWERS: InitAnswers = {
  stack: 'cloudmart',
  region: 'ap-northeast-2',
  drRegion: 'ap-northeast-1',
  availabilityZones: ['ap-northeast-2a', 'ap-northeast-2c'],
  email: 'ops@example.com',
  domain: null,
  allowedCidrs: ['0.0.0.0/0'],
  budgetUsd: 0.8,
};

const q = (s: string) => JSON.stringify(s);

/**
 * A setting that follows another one unless the file sets it: written as a comment with the
 * value it takes, so the file does not pin it (a --region or a new stack name moves it along).
 */
const derived = (key: string, value: string, from: string) => `# ${key}: ${value} # ${from}`;

/**
 * The commented config file `init` writes (and the example in the repository). Every value
 * shown is the default unless the wizard changed it; delete a line to get the default back.
 */
export function renderConfig(a: InitAnswers): string {
  const n = configNames(a.stack);
  const zones = defaultZonesOf(a.region);
  const zonesLine = `availabilityZones: [${a.availabilityZones.join(', ')}] # exactly two`;
  const drLine = `drRegion: ${a.drRegion} # where RDS automated backups are replicated`;
  const fromStack = 'default: derived from the stack name';
  return `# yaml-language-server: $schema=./cloudmart.schema.json
# cloudmart config: the production CloudMart stack (see README.md).
# Every setting has the seed's default; only alerts.email is required.
# Validate it offline with: cloudmart plan

stack: ${a.stack} # every resource name derives from it, and the cloudmart:stack tag (a-z, 0-9, single -)
region: ${a.region}
${
  regionInfo(a.region)?.dr === a.drRegion
    ? derived('drRegion', a.drRegion, 'where RDS backups are copied; default: follows the region')
    : drLine
}
${
  zones !== null && zones.join() === a.availabilityZones.join()
    ? derived(
        'availabilityZones',
        `[${a.availabilityZones.join(', ')}]`,
        'exactly two; default: follows the region',
      )
    : zonesLine
}

network:
  vpcCidr: 10.0.0.0/16
  publicSubnets: [10.0.1.0/24, 10.0.2.0/24] # ALB and NAT gateways, one per AZ
  appSubnets: [10.0.11.0/24, 10.0.12.0/24] # EC2 instances (private)
  dataSubnets: [10.0.21.0/24, 10.0.22.0/24] # RDS and Redis (private)
  allowedCidrs: [${a.allowedCidrs.join(', ')}] # who may reach the ALB on 80/443
  securityGroupRuleQuota: 60 # your account's inbound rules per security group (raise it in Service Quotas first)
  flowLogs:
    ${derived('logGroup', n['network.flowLogs.logGroup'], fromStack)}
    retentionDays: 7
    trafficType: ALL

app:
  port: 8080
  instanceType: t3.micro
  ami: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64 # or ami-…
  image: null # a container image to run instead of the reference backend
  minSize: 2
  desiredCapacity: 2
  maxSize: 4
  cpuTarget: 70 # target tracking on average CPU %
  healthCheckGracePeriod: 300
  rootVolumeGiB: 8
  healthCheckPath: /health/live # ALB target check (liveness); /health is the deep DB + Redis check

database:
  engine: postgres # or mysql
  engineVersion: null # null: 16 for postgres, 8.4 for mysql (never paid Extended Support)
  instanceClass: db.t3.micro
  allocatedStorageGiB: 20
  multiAz: true
  dbName: cloudmart
  masterUsername: cloudmart # the password is generated and kept by RDS in Secrets Manager
  backupRetentionDays: 7
  backupWindow: 03:00-04:00 # UTC
  maintenanceWindow: sun:05:00-sun:06:00
  deletionProtection: false # destroy turns it off first when true
  crossRegionBackup: true
  ${derived('snapshotName', n['database.snapshotName'], fromStack)}
  snapshotRetentionDays: 30

cache:
  engine: redis # or valkey
  engineVersion: null # null: 7.1 for redis, 8.0 for valkey (ElastiCache: Redis OSS up to 7.1, Valkey from 7.2)
  nodeType: cache.t3.micro
  snapshotRetentionDays: 1

cdn:
  priceClass: PriceClass_200
  wafRateLimit: 2000 # requests per 5 minutes per IP

dns:
  domain: ${a.domain === null ? 'null # e.g. shop.example.com: enables Route 53, ACM and HTTPS on the ALB' : q(a.domain)}
  hostedZoneId: null # null: found by the domain name
  createHostedZone: false
  apiSubdomain: api

alerts:
  email: ${q(a.email)} # required: receives the alarm notifications (confirm the email!)
  phone: null # E.164, e.g. "+821012345678", for SMS

monitoring:
  ${derived('dashboardName', n['monitoring.dashboardName'], fromStack)}
  ${derived('namespace', n['monitoring.namespace'], `custom metrics; ${fromStack}`)}
  alarms:
    ec2HighCpuPercent: 80
    rdsHighConnections: 80
    albSlowResponseSeconds: 1
    unhealthyHosts: 1
    rdsLowStorageGiB: 2
  logs:
    backend: { retentionDays: 7 } # name: ${n['monitoring.logs.backend.name']} (${fromStack})
    alb: { retentionDays: 30 } # name: ${n['monitoring.logs.alb.name']}
    rds: { retentionDays: 7 } # name: ${n['monitoring.logs.rds.name']}

backup:
  ${derived('planName', n['backup.planName'], fromStack)}
  schedule: cron(0 2 * * ? *) # daily at 02:00 UTC
  retentionDays: 7
  selectionTag: { key: Backup, value: "true" }
  s3:
    noncurrentToGlacierDays: 30
    noncurrentExpireDays: 90
    abortMultipartDays: 7

security:
  ${derived('trailName', n['security.trailName'], fromStack)}
  ${derived('auditBucketPrefix', n['security.auditBucketPrefix'], `${fromStack}; the bucket is <prefix>-<account>-<region>`)}
  ebsEncryptionByDefault: false # account-wide for the region: opt in deliberately
  # permissionsBoundary: ${a.stack}-role-boundary # the roles' boundary an administrator created (cloudmart policy --boundary); default: none

budget:
  usd: ${a.budgetUsd}
  hours: 0.8333 # the seed's 50 minutes

tags:
  Project: CloudMart
  Environment: production

destroy:
  finalSnapshot: false # keep a final RDS snapshot (it keeps billing)
  deleteRecoveryPoints: true # delete AWS Backup recovery points
  deleteManualSnapshots: true
`;
}
