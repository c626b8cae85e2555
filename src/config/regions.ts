/**
 * What `init` needs to know about each commercial AWS region to write a config that `up` can
 * build without asking: where to replicate the RDS automated backups, and which two
 * availability zones to use. Kept small and offline on purpose (init and plan never call AWS).
 */
export interface RegionInfo {
  /** The AWS name, for messages. */
  name: string;
  /**
   * The destination for RDS cross-Region automated-backup replication: same geography (or the
   * nearest one) and, where possible, a region that is enabled by default.
   */
  dr: string;
  /**
   * Whether the RDS User Guide ("Replicating automated backups to another AWS Region", AWS
   * Region support) lists `dr` as a destination for this source region. The regions added to
   * RDS backup replication since that table was last published have no documented pair:
   * init then asks, with `dr` as the suggestion.
   */
  drDocumented: boolean;
  /**
   * The AZ letters AWS gives accounts in this region. Accounts created long ago may see
   * letters retired for newer accounts (ap-northeast-1b, ca-central-1c): those are left out,
   * so a config naming them is warned about, not refused.
   */
  zones: readonly string[];
  /**
   * Two of `zones` that every account has, or null where AWS maps the region's zones per
   * account (us-west-1 gives each account two of its three letters): init then asks.
   */
  defaultZones: readonly [string, string] | null;
}

const abc = ['a', 'b', 'c'] as const;
const ab = ['a', 'b'] as const;

/**
 * The commercial regions (not China or GovCloud: another partition, other endpoints).
 * DR pairs marked documented are from the RDS User Guide's backup-replication region table.
 */
export const REGIONS: Readonly<Record<string, RegionInfo>> = {
  // North America
  'us-east-1': {
    name: 'US East (N. Virginia)',
    dr: 'us-west-2',
    drDocumented: true,
    zones: ['a', 'b', 'c', 'd', 'e', 'f'],
    defaultZones: ab,
  },
  'us-east-2': {
    name: 'US East (Ohio)',
    dr: 'us-east-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'us-west-1': {
    name: 'US West (N. California)',
    dr: 'us-east-1',
    drDocumented: true,
    zones: abc,
    defaultZones: null,
  },
  'us-west-2': {
    name: 'US West (Oregon)',
    dr: 'us-east-1',
    drDocumented: true,
    zones: ['a', 'b', 'c', 'd'],
    defaultZones: ab,
  },
  'ca-central-1': {
    name: 'Canada (Central)',
    dr: 'us-east-1',
    drDocumented: true,
    zones: ['a', 'b', 'd'],
    defaultZones: ab,
  },
  'ca-west-1': {
    name: 'Canada West (Calgary)',
    dr: 'ca-central-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'mx-central-1': {
    name: 'Mexico (Central)',
    dr: 'us-east-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  // South America
  'sa-east-1': {
    name: 'South America (São Paulo)',
    dr: 'us-east-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  // Europe
  'eu-central-1': {
    name: 'Europe (Frankfurt)',
    dr: 'eu-west-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'eu-west-1': {
    name: 'Europe (Ireland)',
    dr: 'eu-central-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'eu-west-2': {
    name: 'Europe (London)',
    dr: 'eu-west-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'eu-west-3': {
    name: 'Europe (Paris)',
    dr: 'eu-central-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'eu-north-1': {
    name: 'Europe (Stockholm)',
    dr: 'eu-central-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'eu-central-2': {
    name: 'Europe (Zurich)',
    dr: 'eu-central-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'eu-south-1': {
    name: 'Europe (Milan)',
    dr: 'eu-central-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'eu-south-2': {
    name: 'Europe (Spain)',
    dr: 'eu-west-3',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  // Middle East and Africa
  'il-central-1': {
    name: 'Israel (Tel Aviv)',
    dr: 'eu-central-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'me-south-1': {
    name: 'Middle East (Bahrain)',
    dr: 'me-central-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'me-central-1': {
    name: 'Middle East (UAE)',
    dr: 'me-south-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'af-south-1': {
    name: 'Africa (Cape Town)',
    dr: 'eu-west-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  // Asia Pacific
  'ap-northeast-1': {
    name: 'Asia Pacific (Tokyo)',
    dr: 'ap-northeast-3',
    drDocumented: true,
    zones: ['a', 'c', 'd'],
    defaultZones: ['a', 'c'],
  },
  'ap-northeast-2': {
    name: 'Asia Pacific (Seoul)',
    dr: 'ap-northeast-1',
    drDocumented: true,
    zones: ['a', 'b', 'c', 'd'],
    defaultZones: ['a', 'c'],
  },
  'ap-northeast-3': {
    name: 'Asia Pacific (Osaka)',
    dr: 'ap-northeast-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'ap-south-1': {
    name: 'Asia Pacific (Mumbai)',
    dr: 'ap-southeast-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'ap-southeast-1': {
    name: 'Asia Pacific (Singapore)',
    dr: 'ap-southeast-2',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'ap-southeast-2': {
    name: 'Asia Pacific (Sydney)',
    dr: 'ap-southeast-1',
    drDocumented: true,
    zones: abc,
    defaultZones: ab,
  },
  'ap-south-2': {
    name: 'Asia Pacific (Hyderabad)',
    dr: 'ap-south-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'ap-east-1': {
    name: 'Asia Pacific (Hong Kong)',
    dr: 'ap-southeast-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'ap-east-2': {
    name: 'Asia Pacific (Taipei)',
    dr: 'ap-northeast-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'ap-southeast-3': {
    name: 'Asia Pacific (Jakarta)',
    dr: 'ap-southeast-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'ap-southeast-4': {
    name: 'Asia Pacific (Melbourne)',
    dr: 'ap-southeast-2',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'ap-southeast-5': {
    name: 'Asia Pacific (Malaysia)',
    dr: 'ap-southeast-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
  'ap-southeast-7': {
    name: 'Asia Pacific (Thailand)',
    dr: 'ap-southeast-1',
    drDocumented: false,
    zones: abc,
    defaultZones: ab,
  },
};

export function regionInfo(region: string): RegionInfo | undefined {
  return Object.hasOwn(REGIONS, region) ? REGIONS[region] : undefined;
}

/** The two AZ names init suggests for a region, or null when the table has none to suggest. */
export function defaultZonesOf(region: string): [string, string] | null {
  const z = regionInfo(region)?.defaultZones;
  return z ? [`${region}${z[0]}`, `${region}${z[1]}`] : null;
}
