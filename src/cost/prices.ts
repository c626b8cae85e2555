/**
 * On-demand list prices in USD, bundled so that `cloudmart cost` works offline. They are
 * approximations of AWS's public price pages as of PRICE_TABLE_DATE, rounded; the estimate
 * says so. `cloudmart cost --live` refines the instance prices with the Price List API.
 */
export const PRICE_TABLE_DATE = '2026-10-01';

export interface RegionPrices {
  /** Per NAT gateway-hour. */
  natGatewayHour: number;
  /** Per GB processed by a NAT gateway. */
  natGatewayGb: number;
  /** Per ALB-hour, plus LCU-hours. */
  albHour: number;
  albLcuHour: number;
  /** Per in-use public IPv4 address-hour (NAT EIPs, ALB nodes). */
  publicIpv4Hour: number;
  /** EC2 Linux on-demand per instance-hour. */
  ec2: Record<string, number>;
  /** gp3 per GB-month. */
  ebsGp3GbMonth: number;
  /** RDS single-AZ per instance-hour (Multi-AZ is twice). */
  rdsPostgres: Record<string, number>;
  rdsMysql: Record<string, number>;
  /** RDS gp3/gp2 storage per GB-month, single-AZ (Multi-AZ is twice). */
  rdsStorageGbMonth: number;
  /** ElastiCache per node-hour. */
  elasticache: Record<string, number>;
  /** CloudWatch Logs ingestion per GB. */
  logsIngestGb: number;
  /** Snapshot storage per GB-month (cross-region copies). */
  snapshotGbMonth: number;
  /** Inter-region transfer per GB (backup replication). */
  interRegionGb: number;
}

const HOURS_PER_MONTH = 730;
export const perHour = (monthly: number): number => monthly / HOURS_PER_MONTH;

/** Prices that do not depend on the region (or are billed in us-east-1). */
export const GLOBAL = {
  kmsKeyMonth: 1,
  wafWebAclMonth: 5,
  wafRuleMonth: 1,
  wafPerMillionRequests: 0.6,
  dashboardMonth: 3,
  alarmMonth: 0.1,
  secretMonth: 0.4,
  route53ZoneMonth: 0.5,
  route53HealthCheckMonth: 0.75,
  cloudtrailDataEventsPer100k: 0.1,
  /** Management events of a second (or later) trail in the account; the first copy is free. */
  cloudtrailManagementEventsPer100k: 2,
};

export const REGION_PRICES: Record<string, RegionPrices> = {
  'ap-northeast-2': {
    natGatewayHour: 0.059,
    natGatewayGb: 0.059,
    albHour: 0.0225,
    albLcuHour: 0.008,
    publicIpv4Hour: 0.005,
    ec2: {
      't3.micro': 0.013,
      't3.small': 0.026,
      't3.medium': 0.052,
      't4g.micro': 0.0104,
      't4g.small': 0.0208,
    },
    ebsGp3GbMonth: 0.0912,
    rdsPostgres: {
      'db.t3.micro': 0.025,
      'db.t3.small': 0.051,
      'db.t4g.micro': 0.025,
      'db.t4g.small': 0.049,
    },
    rdsMysql: {
      'db.t3.micro': 0.026,
      'db.t3.small': 0.052,
      'db.t4g.micro': 0.025,
      'db.t4g.small': 0.05,
    },
    rdsStorageGbMonth: 0.131,
    elasticache: {
      'cache.t3.micro': 0.025,
      'cache.t3.small': 0.05,
      'cache.t4g.micro': 0.024,
      'cache.t4g.small': 0.047,
    },
    logsIngestGb: 0.76,
    snapshotGbMonth: 0.095,
    interRegionGb: 0.08,
  },
  'ap-northeast-1': {
    natGatewayHour: 0.062,
    natGatewayGb: 0.062,
    albHour: 0.0243,
    albLcuHour: 0.008,
    publicIpv4Hour: 0.005,
    ec2: {
      't3.micro': 0.0136,
      't3.small': 0.0272,
      't3.medium': 0.0544,
      't4g.micro': 0.0108,
      't4g.small': 0.0216,
    },
    ebsGp3GbMonth: 0.096,
    rdsPostgres: {
      'db.t3.micro': 0.026,
      'db.t3.small': 0.052,
      'db.t4g.micro': 0.025,
      'db.t4g.small': 0.05,
    },
    rdsMysql: {
      'db.t3.micro': 0.026,
      'db.t3.small': 0.052,
      'db.t4g.micro': 0.025,
      'db.t4g.small': 0.05,
    },
    rdsStorageGbMonth: 0.138,
    elasticache: {
      'cache.t3.micro': 0.026,
      'cache.t3.small': 0.052,
      'cache.t4g.micro': 0.025,
      'cache.t4g.small': 0.049,
    },
    logsIngestGb: 0.76,
    snapshotGbMonth: 0.095,
    interRegionGb: 0.09,
  },
  'us-east-1': {
    natGatewayHour: 0.045,
    natGatewayGb: 0.045,
    albHour: 0.0225,
    albLcuHour: 0.008,
    publicIpv4Hour: 0.005,
    ec2: {
      't3.micro': 0.0104,
      't3.small': 0.0208,
      't3.medium': 0.0416,
      't4g.micro': 0.0084,
      't4g.small': 0.0168,
    },
    ebsGp3GbMonth: 0.08,
    rdsPostgres: {
      'db.t3.micro': 0.018,
      'db.t3.small': 0.036,
      'db.t4g.micro': 0.016,
      'db.t4g.small': 0.032,
    },
    rdsMysql: {
      'db.t3.micro': 0.017,
      'db.t3.small': 0.034,
      'db.t4g.micro': 0.016,
      'db.t4g.small': 0.032,
    },
    rdsStorageGbMonth: 0.115,
    elasticache: {
      'cache.t3.micro': 0.017,
      'cache.t3.small': 0.034,
      'cache.t4g.micro': 0.016,
      'cache.t4g.small': 0.032,
    },
    logsIngestGb: 0.5,
    snapshotGbMonth: 0.095,
    interRegionGb: 0.02,
  },
  'eu-west-1': {
    natGatewayHour: 0.048,
    natGatewayGb: 0.048,
    albHour: 0.0252,
    albLcuHour: 0.008,
    publicIpv4Hour: 0.005,
    ec2: {
      't3.micro': 0.0114,
      't3.small': 0.0228,
      't3.medium': 0.0456,
      't4g.micro': 0.0092,
      't4g.small': 0.0184,
    },
    ebsGp3GbMonth: 0.088,
    rdsPostgres: {
      'db.t3.micro': 0.019,
      'db.t3.small': 0.038,
      'db.t4g.micro': 0.017,
      'db.t4g.small': 0.034,
    },
    rdsMysql: {
      'db.t3.micro': 0.018,
      'db.t3.small': 0.036,
      'db.t4g.micro': 0.016,
      'db.t4g.small': 0.032,
    },
    rdsStorageGbMonth: 0.127,
    elasticache: {
      'cache.t3.micro': 0.018,
      'cache.t3.small': 0.036,
      'cache.t4g.micro': 0.017,
      'cache.t4g.small': 0.034,
    },
    logsIngestGb: 0.57,
    snapshotGbMonth: 0.095,
    interRegionGb: 0.02,
  },
};
