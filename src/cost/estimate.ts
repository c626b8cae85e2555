import type { Config } from '../config/schema.js';
import { GLOBAL, PRICE_TABLE_DATE, REGION_PRICES, perHour, type RegionPrices } from './prices.js';

export interface CostLine {
  resource: string;
  detail: string;
  /** USD per hour while the stack is up. */
  usdPerHour: number;
  /** One-off USD for the period (data processed, transfers). */
  usdOnce: number;
  /** USD for the whole period. */
  usd: number;
  /** False when the bundled table has no price for this item (counted as 0). */
  priced: boolean;
}

export interface CostEstimate {
  region: string;
  hours: number;
  priceTableDate: string;
  lines: CostLine[];
  totalPerHour: number;
  total: number;
  budgetUsd: number;
  withinBudget: boolean;
  /** Items the table could not price: the total is a lower bound when this is not empty. */
  unpriced: string[];
}

/** Assumptions for usage-based items during a ~1 hour exercise. */
export const USAGE = {
  /** Packages and images pulled through the NAT gateways at boot. */
  natGb: 0.5,
  /** ALB capacity units used by a short load test. */
  albLcu: 1,
  /** Logs ingested (app, flow logs, RDS). */
  logsGb: 0.1,
  /** Requests through CloudFront/WAF. */
  wafMillionRequests: 0.01,
  /** CloudTrail S3 data events. */
  dataEvents: 20_000,
  /** Size of the replicated RDS backup (a nearly empty database). */
  backupGb: 1,
  /** Public IPv4 addresses of an internet-facing ALB: one per AZ. */
  albIps: 2,
};

/** Instance prices the live Price List lookup found (they beat the table). */
export interface PriceOverrides {
  ec2?: number;
  rds?: number;
  elasticache?: number;
}

/**
 * What the configured stack costs per hour and for `hours` (default: the config's budget
 * window, the seed's 50 minutes), per resource, against the budget.
 */
export function estimateCost(
  config: Config,
  hours = config.budget.hours,
  overrides: PriceOverrides = {},
): CostEstimate {
  const p: RegionPrices | undefined = REGION_PRICES[config.region];
  const dr: RegionPrices | undefined = REGION_PRICES[config.drRegion];
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const line = (resource: string, detail: string, perHourUsd: number | undefined, onceUsd = 0) => {
    const priced = perHourUsd !== undefined;
    if (!priced) unpriced.push(resource);
    const h = perHourUsd ?? 0;
    lines.push({
      resource,
      detail,
      usdPerHour: h,
      usdOnce: onceUsd,
      usd: h * hours + onceUsd,
      priced,
    });
  };
  const azs = config.availabilityZones.length;
  const multiAz = config.database.multiAz ? 2 : 1;
  const domain = config.dns.domain !== null;

  line(
    'NAT gateways',
    `${azs} × NAT gateway, ${USAGE.natGb} GB processed`,
    p && azs * p.natGatewayHour,
    p ? USAGE.natGb * p.natGatewayGb : 0,
  );
  line(
    'Public IPv4 addresses',
    `${azs} NAT EIPs + ${USAGE.albIps} ALB addresses`,
    p && (azs + USAGE.albIps) * p.publicIpv4Hour,
  );
  line(
    'Application Load Balancer',
    `1 ALB + ${USAGE.albLcu} LCU`,
    p && p.albHour + USAGE.albLcu * p.albLcuHour,
  );

  const ec2Price = overrides.ec2 ?? p?.ec2[config.app.instanceType];
  const instances = config.app.desiredCapacity;
  line(
    'EC2 instances',
    `${instances} × ${config.app.instanceType}`,
    ec2Price !== undefined ? instances * ec2Price : undefined,
  );
  line(
    'EBS volumes',
    `${instances} × ${config.app.rootVolumeGiB} GiB gp3`,
    p && perHour(instances * config.app.rootVolumeGiB * p.ebsGp3GbMonth),
  );

  const rdsTable = config.database.engine === 'postgres' ? p?.rdsPostgres : p?.rdsMysql;
  const rdsPrice = overrides.rds ?? rdsTable?.[config.database.instanceClass];
  line(
    'RDS',
    `${config.database.instanceClass} ${config.database.engine}${config.database.multiAz ? ' Multi-AZ' : ''}`,
    rdsPrice !== undefined ? multiAz * rdsPrice : undefined,
  );
  line(
    'RDS storage',
    `${config.database.allocatedStorageGiB} GiB${config.database.multiAz ? ' × 2 (Multi-AZ)' : ''}`,
    p && perHour(multiAz * config.database.allocatedStorageGiB * p.rdsStorageGbMonth),
  );
  const cachePrice = overrides.elasticache ?? p?.elasticache[config.cache.nodeType];
  line(
    'ElastiCache',
    `2 × ${config.cache.nodeType}`,
    cachePrice !== undefined ? 2 * cachePrice : undefined,
  );

  const keys = config.database.crossRegionBackup ? 2 : 1;
  line(
    'KMS keys',
    `${keys} customer-managed key${keys > 1 ? 's' : ''}`,
    perHour(keys * GLOBAL.kmsKeyMonth),
  );
  line(
    'WAF',
    `web ACL + 4 rules, ${USAGE.wafMillionRequests * 1e6} requests`,
    perHour(GLOBAL.wafWebAclMonth + 4 * GLOBAL.wafRuleMonth),
    USAGE.wafMillionRequests * GLOBAL.wafPerMillionRequests,
  );
  line(
    'CloudWatch dashboard and alarms',
    '1 dashboard, 5 alarms',
    perHour(GLOBAL.dashboardMonth + 5 * GLOBAL.alarmMonth),
  );
  line('CloudWatch Logs', `${USAGE.logsGb} GB ingested`, 0, p ? USAGE.logsGb * p.logsIngestGb : 0);
  line(
    'CloudTrail data events',
    `${USAGE.dataEvents.toLocaleString('en-US')} S3 data events`,
    0,
    (USAGE.dataEvents / 100_000) * GLOBAL.cloudtrailDataEventsPer100k,
  );
  line('Secrets Manager', '2 secrets (DB password, Redis AUTH)', perHour(2 * GLOBAL.secretMonth));
  if (config.database.crossRegionBackup) {
    line(
      'Cross-region backup copies',
      `${USAGE.backupGb} GB to ${config.drRegion}`,
      dr && perHour(USAGE.backupGb * dr.snapshotGbMonth),
      p ? USAGE.backupGb * p.interRegionGb : 0,
    );
  }
  if (domain) {
    line(
      'Route 53',
      'hosted zone + health check',
      perHour(GLOBAL.route53ZoneMonth + GLOBAL.route53HealthCheckMonth),
    );
  }

  const totalPerHour = round(lines.reduce((s, l) => s + l.usdPerHour, 0));
  const total = round(lines.reduce((s, l) => s + l.usd, 0));
  for (const l of lines) {
    l.usdPerHour = round(l.usdPerHour);
    l.usdOnce = round(l.usdOnce);
    l.usd = round(l.usd);
  }
  return {
    region: config.region,
    hours,
    priceTableDate: PRICE_TABLE_DATE,
    lines,
    totalPerHour,
    total,
    budgetUsd: config.budget.usd,
    withinBudget: total <= config.budget.usd,
    unpriced,
  };
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

/** Cents for amounts of 10 cents and more ("$0.48"), four decimals for the small ones ("$0.0023"). */
export function usd(n: number): string {
  return Math.abs(n) >= 0.1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`;
}
