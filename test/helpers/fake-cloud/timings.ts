/**
 * How long things take, in SIMULATED milliseconds, after ../shared/latency-model.md (typical
 * values). In `instant` mode every timing is 0 unless the test overrides it.
 */
export interface Timings {
  /** VPC and subnet pending → available. */
  ec2Basic: number;
  /** NAT gateway pending → available (~2 min). */
  natCreate: number;
  /** NAT gateway deleting → deleted (~1 min). */
  natDelete: number;
  /** After a NAT reads deleted, its interface still holds the Elastic IP (and the IGW mapping). */
  natEniRelease: number;
  /** ALB provisioning → active (~3 min). */
  albActive: number;
  /** DeleteLoadBalancer until the ALB no longer describes. */
  albDelete: number;
  /** Network interfaces of a deleted ALB, RDS or ElastiCache linger this long (minutes). */
  eniRelease: number;
  /** EC2 instance pending → running. */
  instanceRunning: number;
  /** Auto Scaling instance Pending → InService. */
  instanceInService: number;
  /** Target registered → healthy (app boot + 2 health checks); ~4 min from launch in total. */
  targetHealthy: number;
  /**
   * cloudmart's reference backend, once its settings (SSM) name a database that answers: the
   * service's next restart (every 5 s) reads them and listens, then two health checks 15 s
   * apart pass.
   */
  appStart: number;
  /** Auto Scaling group deletion with its instances (2–3 min). */
  asgDelete: number;
  /** Instance refresh from start to Successful. */
  instanceRefresh: number;
  /** RDS creating → backing-up (the first automated backup follows). */
  rdsCreate: number;
  /** RDS backing-up → available (creating + this ≈ 15 min). */
  rdsFirstBackup: number;
  /** RDS modifying → available. */
  rdsModify: number;
  /** RDS deleting → gone (5–10 min). */
  rdsDelete: number;
  /** RDS reboot / failover. */
  rdsReboot: number;
  /** RDS snapshot creating → available. */
  rdsSnapshot: number;
  /** Automated-backup replication pending → replicating. */
  rdsReplication: number;
  /** ElastiCache creating → available (~12 min). */
  redisCreate: number;
  /** ElastiCache modifying → available. */
  redisModify: number;
  /** ElastiCache deleting → gone. */
  redisDelete: number;
  /** CloudFront InProgress → Deployed (~5 min). */
  cloudfrontDeploy: number;
  /** ACM: the DNS validation records appear in DescribeCertificate. */
  acmRecords: number;
  /** ACM: PENDING_VALIDATION → ISSUED once the validation record exists in Route 53. */
  acmIssue: number;
  /** Route 53 change PENDING → INSYNC. */
  route53Insync: number;
  /** A new IAM role / instance profile is not yet usable by other services. */
  iamPropagation: number;
  /**
   * A new IAM role / instance profile is not yet visible to IAM's own calls that name it
   * (AttachRolePolicy, PutRolePolicy, AddRoleToInstanceProfile answer NoSuchEntity).
   */
  iamVisible: number;
  /** A certificate ACM just issued is not yet known to ELB (CertificateNotFound). */
  acmToElb: number;
  /** Secrets Manager, KMS, S3, CloudWatch, SNS, SSM, Backup: nearly instant. */
  quick: number;
}

export const LATENCY_TIMINGS: Timings = {
  ec2Basic: 2_000,
  natCreate: 120_000,
  natDelete: 60_000,
  natEniRelease: 15_000,
  albActive: 180_000,
  albDelete: 5_000,
  eniRelease: 90_000,
  instanceRunning: 30_000,
  instanceInService: 60_000,
  targetHealthy: 180_000,
  appStart: 35_000,
  asgDelete: 150_000,
  instanceRefresh: 300_000,
  rdsCreate: 12 * 60_000,
  rdsFirstBackup: 3 * 60_000,
  rdsModify: 60_000,
  rdsDelete: 7 * 60_000,
  rdsReboot: 90_000,
  rdsSnapshot: 5 * 60_000,
  rdsReplication: 5 * 60_000,
  redisCreate: 12 * 60_000,
  redisModify: 60_000,
  redisDelete: 7 * 60_000,
  cloudfrontDeploy: 5 * 60_000,
  acmRecords: 5_000,
  acmIssue: 3 * 60_000,
  route53Insync: 45_000,
  iamPropagation: 10_000,
  iamVisible: 3_000,
  acmToElb: 20_000,
  quick: 1_000,
};

export const INSTANT_TIMINGS: Timings = Object.fromEntries(
  Object.keys(LATENCY_TIMINGS).map((k) => [k, 0]),
) as unknown as Timings;
