import type { ConfigIssue } from '../errors.js';
import { contains, hasHostBits, overlaps } from './cidr.js';
import type { Config } from './schema.js';

/** Rules that span several fields. Runs after the schema; returns every problem. */
export function crossFieldIssues(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const { network } = config;

  const subnets: Array<[string, string]> = [
    ...network.publicSubnets.map((c, i): [string, string] => [`network.publicSubnets.${i}`, c]),
    ...network.appSubnets.map((c, i): [string, string] => [`network.appSubnets.${i}`, c]),
    ...network.dataSubnets.map((c, i): [string, string] => [`network.dataSubnets.${i}`, c]),
  ];
  if (hasHostBits(network.vpcCidr)) {
    issues.push({ path: 'network.vpcCidr', message: `${network.vpcCidr} has host bits set` });
  }
  const vpcPrefix = Number(network.vpcCidr.split('/')[1]);
  if (vpcPrefix < 16 || vpcPrefix > 28) {
    issues.push({ path: 'network.vpcCidr', message: 'a VPC block must be between /16 and /28' });
  }
  for (const [path, c] of subnets) {
    const prefix = Number(c.split('/')[1]);
    if (hasHostBits(c)) issues.push({ path, message: `${c} has host bits set` });
    if (prefix < 16 || prefix > 28)
      issues.push({ path, message: 'a subnet must be between /16 and /28' });
    if (!contains(network.vpcCidr, c)) {
      issues.push({ path, message: `${c} is not inside the VPC block ${network.vpcCidr}` });
    }
  }
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const [pa, a] = subnets[i]!;
      const [pb, b] = subnets[j]!;
      if (overlaps(a, b)) issues.push({ path: pb, message: `${b} overlaps ${pa} (${a})` });
    }
  }

  config.availabilityZones.forEach((az, i) => {
    if (!az.startsWith(config.region)) {
      issues.push({
        path: `availabilityZones.${i}`,
        message: `${az} is not in the region ${config.region}`,
      });
    }
  });
  if (config.availabilityZones[0] === config.availabilityZones[1]) {
    issues.push({ path: 'availabilityZones.1', message: 'the two availability zones must differ' });
  }
  if (config.drRegion === config.region) {
    issues.push({ path: 'drRegion', message: 'the DR region must differ from the main region' });
  }

  const { app } = config;
  if (app.minSize > app.desiredCapacity) {
    issues.push({
      path: 'app.desiredCapacity',
      message: `must be at least minSize (${app.minSize})`,
    });
  }
  if (app.desiredCapacity > app.maxSize) {
    issues.push({
      path: 'app.maxSize',
      message: `must be at least desiredCapacity (${app.desiredCapacity})`,
    });
  }
  if (!/^ami-[0-9a-f]{8,17}$/.test(app.ami) && !app.ami.startsWith('/')) {
    issues.push({
      path: 'app.ami',
      message: 'must be an AMI id (ami-…) or an SSM parameter path (/aws/…)',
    });
  }

  const { backup, database } = config;
  if (backup.s3.noncurrentExpireDays <= backup.s3.noncurrentToGlacierDays) {
    issues.push({
      path: 'backup.s3.noncurrentExpireDays',
      message: `must be later than noncurrentToGlacierDays (${backup.s3.noncurrentToGlacierDays})`,
    });
  }
  const [bStart, bEnd] = database.backupWindow.split('-');
  if (
    bStart &&
    bEnd &&
    minutesOf(bEnd) - minutesOf(bStart) < 30 &&
    minutesOf(bEnd) > minutesOf(bStart)
  ) {
    issues.push({ path: 'database.backupWindow', message: 'must be at least 30 minutes long' });
  }

  if (
    config.dns.domain === null &&
    (config.dns.hostedZoneId !== null || config.dns.createHostedZone)
  ) {
    issues.push({
      path: 'dns.domain',
      message: 'is required when hostedZoneId or createHostedZone is set',
    });
  }
  return issues;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}
