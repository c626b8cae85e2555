import type { Config } from '../config/schema.js';
import { STEP } from '../steps/outputs.js';
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
  /** The steps that create what this line bills (`status` counts a line once one is done). */
  steps: string[];
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
  /** Management events the stack's trail delivers during the exercise (API calls of the run). */
  managementEvents: 20_000,
};

/** Options of an estimate beyond the price table. */
export interface EstimateOptions {
  /**
   * Other trails in the account already deliver management events: the stack's trail is then
   * an additional copy, which CloudTrail bills (the first copy of management events is free).
   */
  otherTrails?: number;
}

/**
 * Hours AWS bills for an item billed per started hour (NAT gateway and load balancer hours:
 * "each partial hour is billed as a full hour", Amazon VPC and Elastic Load Balancing pricing,
 * https://aws.amazon.com/vpc/pricing/ and https://aws.amazon.com/elasticloadbalancing/pricing/).
 */
export function startedHours(hours: number): number {
  return hours <= 0 ? 0 : Math.ceil(hours - 1e-9);
}

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
  options: EstimateOptions = {},
): CostEstimate {
  const p: RegionPrices | undefined = REGION_PRICES[config.region];
  const dr: RegionPrices | undefined = REGION_PRICES[config.drRegion];
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const line = (
    resource: string,
    detail: string,
    perHourUsd: number | undefined,
    onceUsd: number,
    steps: string[],
    billed: 'second' | 'started-hour' = 'second',
  ) => {
    const priced = perHourUsd !== undefined;
    if (!priced) unpriced.push(resource);
    const h = perHourUsd ?? 0;
    const billedHours = billed === 'started-hour' ? startedHours(hours) : hours;
    lines.push({
      resource,
      detail: billed === 'started-hour' ? `${detail}; billed per started hour` : detail,
      usdPerHour: h,
      usdOnce: onceUsd,
      usd: h * billedHours + onceUsd,
      priced,
      steps,
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
    [STEP.nat],
    'started-hour',
  );
  line(
    'Public IPv4 addresses',
    `${azs} NAT EIPs + ${USAGE.albIps} ALB addresses`,
    p && (azs + USAGE.albIps) * p.publicIpv4Hour,
    0,
    [STEP.nat, STEP.alb],
  );
  line(
    'Application Load Balancer',
    `1 ALB + ${USAGE.albLcu} LCU`,
    p && p.albHour + USAGE.albLcu * p.albLcuHour,
    0,
    [STEP.alb],
    'started-hour',
  );

  const ec2Price = overrides.ec2 ?? p?.ec2[config.app.instanceType];
  const instances = config.app.desiredCapacity;
  line(
    'EC2 instances',
    `${instances} × ${config.app.instanceType}`,
    ec2Price !== undefined ? instances * ec2Price : undefined,
    0,
    [STEP.asg],
  );
  line(
    'EBS volumes',
    `${instances} × ${config.app.rootVolumeGiB} GiB gp3`,
    p && perHour(instances * config.app.rootVolumeGiB * p.ebsGp3GbMonth),
    0,
    [STEP.asg],
  );

  const rdsTable = config.database.engine === 'postgres' ? p?.rdsPostgres : p?.rdsMysql;
  const rdsPrice = overrides.rds ?? rdsTable?.[config.database.instanceClass];
  line(
    'RDS',
    `${config.database.instanceClass} ${config.database.engine}${config.database.multiAz ? ' Multi-AZ' : ''}`,
    rdsPrice !== undefined ? multiAz * rdsPrice : undefined,
    0,
    [STEP.rds],
  );
  line(
    'RDS storage',
    `${config.database.allocatedStorageGiB} GiB${config.database.multiAz ? ' × 2 (Multi-AZ)' : ''}`,
    p && perHour(multiAz * config.database.allocatedStorageGiB * p.rdsStorageGbMonth),
    0,
    [STEP.rds],
  );
  const cachePrice = overrides.elasticache ?? p?.elasticache[config.cache.nodeType];
  line(
    'ElastiCache',
    `2 × ${config.cache.nodeType}`,
    cachePrice !== undefined ? 2 * cachePrice : undefined,
    0,
    [STEP.redis],
  );

  const keys = config.database.crossRegionBackup ? 2 : 1;
  line(
    'KMS keys',
    `${keys} customer-managed key${keys > 1 ? 's' : ''}`,
    perHour(keys * GLOBAL.kmsKeyMonth),
    0,
    [STEP.kms],
  );
  line(
    'WAF',
    `web ACL + 4 rules, ${USAGE.wafMillionRequests * 1e6} requests`,
    perHour(GLOBAL.wafWebAclMonth + 4 * GLOBAL.wafRuleMonth),
    USAGE.wafMillionRequests * GLOBAL.wafPerMillionRequests,
    [STEP.waf],
  );
  line(
    'CloudWatch dashboard and alarms',
    '1 dashboard, 5 alarms',
    perHour(GLOBAL.dashboardMonth + 5 * GLOBAL.alarmMonth),
    0,
    [STEP.dashboard, STEP.alarms],
  );
  line('CloudWatch Logs', `${USAGE.logsGb} GB ingested`, 0, p ? USAGE.logsGb * p.logsIngestGb : 0, [
    STEP.logs,
    STEP.flowLogs,
  ]);
  line(
    'CloudTrail data events',
    `${USAGE.dataEvents.toLocaleString('en-US')} S3 data events`,
    0,
    (USAGE.dataEvents / 100_000) * GLOBAL.cloudtrailDataEventsPer100k,
    [STEP.trail],
  );
  if ((options.otherTrails ?? 0) > 0) {
    // https://aws.amazon.com/cloudtrail/pricing/: the first copy of management events in a
    // region is free; a further trail's copy is billed per 100,000 events.
    line(
      'CloudTrail management events',
      `${USAGE.managementEvents.toLocaleString('en-US')} events: the account already has ${options.otherTrails} trail(s), so this copy is billed`,
      0,
      (USAGE.managementEvents / 100_000) * GLOBAL.cloudtrailManagementEventsPer100k,
      [STEP.trail],
    );
  }
  line(
    'Secrets Manager',
    '2 secrets (DB password, Redis AUTH)',
    perHour(2 * GLOBAL.secretMonth),
    0,
    [STEP.rds, STEP.redis],
  );
  if (config.database.crossRegionBackup) {
    line(
      'Cross-region backup copies',
      `${USAGE.backupGb} GB to ${config.drRegion}`,
      dr && perHour(USAGE.backupGb * dr.snapshotGbMonth),
      p ? USAGE.backupGb * p.interRegionGb : 0,
      [STEP.rdsBackup],
    );
  }
  if (domain) {
    line(
      'Route 53',
      'hosted zone + health check',
      perHour(GLOBAL.route53ZoneMonth + GLOBAL.route53HealthCheckMonth),
      0,
      [STEP.dns],
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

/**
 * Whether the stack fits the budget: "over" when even the priced part exceeds it, "unpriced"
 * when something has no price (the total is only a lower bound: no verdict), else "within".
 */
export function costVerdict(e: CostEstimate): 'within' | 'over' | 'unpriced' {
  if (!e.withinBudget) return 'over';
  return e.unpriced.length > 0 ? 'unpriced' : 'within';
}

/** Cents for amounts of 10 cents and more ("$0.48"), four decimals for the small ones ("$0.0023"). */
export function usd(n: number): string {
  return Math.abs(n) >= 0.1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`;
}

/**
 * The cost so far of a stack that has been up `hours`: only the lines whose resources exist
 * (one of their steps is done in the state); usage items (NAT traffic, logs, …) count in
 * proportion to how much of the budget window has passed.
 */
export function costSoFar(
  estimate: CostEstimate,
  isDone: (stepId: string) => boolean,
  windowHours: number,
): { usd: number; lines: CostLine[] } {
  const existing = estimate.lines.filter((l) => l.steps.some(isDone));
  const share = windowHours > 0 ? Math.min(1, estimate.hours / windowHours) : 1;
  const usd = existing.reduce((sum, l) => sum + (l.usd - l.usdOnce) + l.usdOnce * share, 0);
  return { usd: round(usd), lines: existing };
}

/** When the stack went up: the earliest start of a step that is done (undefined when none). */
export function upSince(
  steps: Record<string, { status: string; startedAt?: string } | undefined>,
): string | undefined {
  return Object.values(steps)
    .filter((st) => st?.status === 'done' && st.startedAt)
    .map((st) => st!.startedAt!)
    .sort()[0];
}
