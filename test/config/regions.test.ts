import { describe, expect, it } from 'vitest';
import { configFromObject, parseConfig } from '../../src/config/load.js';
import { defaultZonesOf, regionInfo, REGIONS } from '../../src/config/regions.js';
import { EXAMPLE_ANSWERS, renderConfig, type InitAnswers } from '../../src/config/render.js';
import { configWarnings } from '../../src/config/rules.js';
import type { ConfigIssue } from '../../src/errors.js';

/**
 * RDS User Guide, "Replicating automated backups to another AWS Region", AWS Region support:
 * the destinations each source region can replicate automated backups to (commercial regions).
 */
const RDS_BACKUP_REPLICATION: Record<string, string[]> = {
  'ap-south-1': ['ap-southeast-1', 'us-east-1', 'us-east-2', 'us-west-2'],
  'ap-northeast-3': ['ap-northeast-1'],
  'ap-northeast-2': ['ap-southeast-1', 'ap-northeast-1', 'us-east-1', 'us-east-2', 'us-west-2'],
  'ap-southeast-1': [
    'ap-south-1',
    'ap-northeast-2',
    'ap-southeast-2',
    'ap-northeast-1',
    'us-east-1',
    'us-east-2',
    'us-west-2',
  ],
  'ap-southeast-2': ['ap-southeast-1', 'us-east-1', 'us-west-1', 'us-west-2'],
  'ap-northeast-1': [
    'ap-northeast-3',
    'ap-northeast-2',
    'ap-southeast-1',
    'us-east-1',
    'us-east-2',
    'us-west-2',
  ],
  'ca-central-1': ['eu-west-1', 'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2'],
  'eu-central-1': [
    'eu-west-1',
    'eu-west-2',
    'eu-west-3',
    'eu-north-1',
    'us-east-1',
    'us-east-2',
    'us-west-2',
  ],
  'eu-west-1': [
    'ca-central-1',
    'eu-central-1',
    'eu-west-2',
    'eu-west-3',
    'eu-north-1',
    'us-east-1',
    'us-east-2',
    'us-west-1',
    'us-west-2',
  ],
  'eu-west-2': ['eu-central-1', 'eu-west-1', 'eu-west-3', 'eu-north-1', 'us-east-1'],
  'eu-west-3': ['eu-central-1', 'eu-west-1', 'eu-west-2', 'eu-north-1', 'us-east-1'],
  'eu-north-1': ['eu-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'us-east-1'],
  'sa-east-1': ['us-east-1', 'us-east-2'],
  'us-east-1': [
    'ap-south-1',
    'ap-northeast-2',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-northeast-1',
    'ca-central-1',
    'eu-central-1',
    'eu-west-1',
    'eu-west-2',
    'eu-west-3',
    'eu-north-1',
    'sa-east-1',
    'us-east-2',
    'us-west-1',
    'us-west-2',
  ],
  'us-east-2': [
    'ap-south-1',
    'ap-northeast-2',
    'ap-southeast-1',
    'ap-northeast-1',
    'ca-central-1',
    'eu-central-1',
    'eu-west-1',
    'sa-east-1',
    'us-east-1',
    'us-west-1',
    'us-west-2',
  ],
  'us-west-1': [
    'ap-southeast-2',
    'ca-central-1',
    'eu-west-1',
    'us-east-1',
    'us-east-2',
    'us-west-2',
  ],
  'us-west-2': [
    'ap-south-1',
    'ap-northeast-2',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-northeast-1',
    'ca-central-1',
    'eu-central-1',
    'eu-west-1',
    'us-east-1',
    'us-east-2',
    'us-west-1',
  ],
};

/** What init writes for a region: the table's DR region and zones (the first two when none is safe). */
function answersFor(region: string): InitAnswers {
  const info = regionInfo(region)!;
  const zones = defaultZonesOf(region) ?? [
    `${region}${info.zones[0]}`,
    `${region}${info.zones[1]}`,
  ];
  return { ...EXAMPLE_ANSWERS, region, drRegion: info.dr, availabilityZones: zones };
}

describe('config: the region table init uses', () => {
  it('renders, for every region in it, a config that validates without a warning', () => {
    expect(Object.keys(REGIONS).length).toBeGreaterThanOrEqual(30);
    for (const region of Object.keys(REGIONS)) {
      const warnings: ConfigIssue[] = [];
      const config = parseConfig(renderConfig(answersFor(region)), `${region}.yaml`, {
        onWarning: (w) => warnings.push(w),
      });
      expect(config.region, region).toBe(region);
      expect(config.drRegion, region).not.toBe(region);
      expect(warnings, region).toEqual([]);
    }
  });

  it('replicates backups to another region of the table, and to a documented pair where it says so', () => {
    for (const [region, info] of Object.entries(REGIONS)) {
      expect(REGIONS[info.dr], `${region} → ${info.dr}`).toBeDefined();
      if (info.drDocumented) expect(RDS_BACKUP_REPLICATION[region], region).toContain(info.dr);
      // A source the RDS table lists always gets one of its documented destinations.
      else expect(RDS_BACKUP_REPLICATION[region], region).toBeUndefined();
    }
  });

  it('suggests only zones it knows for the region', () => {
    for (const [region, info] of Object.entries(REGIONS)) {
      if (info.defaultZones === null) continue;
      const [a, b] = info.defaultZones;
      expect(a, region).not.toBe(b);
      expect(info.zones, region).toEqual(expect.arrayContaining([a, b]));
    }
  });

  it('keeps the default config: Seoul with zones a and c, backups to Tokyo', () => {
    expect(answersFor('ap-northeast-2')).toEqual(EXAMPLE_ANSWERS);
    const defaults = configFromObject({ alerts: { email: 'ops@example.com' } });
    expect([defaults.drRegion, defaults.availabilityZones]).toEqual([
      regionInfo('ap-northeast-2')!.dr,
      defaultZonesOf('ap-northeast-2'),
    ]);
  });

  it('gives Tokyo another DR region (Osaka) and zones that exist there (no 1b)', () => {
    const config = parseConfig(renderConfig(answersFor('ap-northeast-1')));
    expect(config.drRegion).toBe('ap-northeast-3');
    expect(config.availabilityZones).toEqual(['ap-northeast-1a', 'ap-northeast-1c']);
  });

  it('gives ca-central-1 zones it has (a, b, d: no c)', () => {
    expect(defaultZonesOf('ca-central-1')).toEqual(['ca-central-1a', 'ca-central-1b']);
    expect(parseConfig(renderConfig(answersFor('ca-central-1'))).availabilityZones).toEqual([
      'ca-central-1a',
      'ca-central-1b',
    ]);
  });

  it('suggests no zones where each account sees other letters (us-west-1), nor for a region it does not know', () => {
    expect(defaultZonesOf('us-west-1')).toBeNull();
    expect(defaultZonesOf('xx-nowhere-1')).toBeNull();
    expect(regionInfo('toString')).toBeUndefined();
  });
});

describe('config rules: availability zones the region does not have', () => {
  const warningsOf = (region: string, availabilityZones: string[]) =>
    configWarnings(
      configFromObject({
        alerts: { email: 'ops@example.com' },
        region,
        drRegion: region === 'us-east-1' ? 'us-west-2' : 'us-east-1',
        availabilityZones,
      }),
    );

  it('warns (an old account may still have it, so not an error) about ca-central-1c, naming the zone', () => {
    expect(warningsOf('ca-central-1', ['ca-central-1a', 'ca-central-1c'])).toEqual([
      {
        path: 'availabilityZones.1',
        message: expect.stringContaining(
          'ca-central-1c is not one of the zones AWS gives accounts in ca-central-1 (ca-central-1a, ca-central-1b, ca-central-1d)',
        ),
      },
    ]);
    expect(warningsOf('ap-northeast-1', ['ap-northeast-1b', 'ap-northeast-1c'])).toEqual([
      expect.objectContaining({ path: 'availabilityZones.0' }),
    ]);
  });

  it('is quiet for known zones and for the default config', () => {
    expect(warningsOf('ca-central-1', ['ca-central-1a', 'ca-central-1d'])).toEqual([]);
    expect(warningsOf('us-west-1', ['us-west-1b', 'us-west-1c'])).toEqual([]);
    expect(configWarnings(configFromObject({ alerts: { email: 'ops@example.com' } }))).toEqual([]);
  });

  it('hands the warning to plan and up with its YAML line', () => {
    const seen: ConfigIssue[] = [];
    parseConfig(
      'alerts:\n  email: ops@example.com\nregion: ca-central-1\ndrRegion: us-east-1\navailabilityZones:\n  - ca-central-1a\n  - ca-central-1c\n',
      'c.yaml',
      { onWarning: (w) => seen.push(w) },
    );
    expect(seen).toEqual([
      { path: 'availabilityZones.1', message: expect.stringContaining('ca-central-1c'), line: 7 },
    ]);
  });
});

describe('defaults that follow the region when the file does not set them', () => {
  it('takes the DR region and the zones from the table, and warns where zones differ per account', async () => {
    const { parseConfig } = await import('../../src/config/load.js');
    const minimal = 'alerts:\n  email: ops@example.com\n';
    const tokyo = parseConfig(minimal, undefined, { region: 'ap-northeast-1' });
    expect(tokyo.drRegion).toBe('ap-northeast-3');
    expect(tokyo.availabilityZones).toEqual(['ap-northeast-1a', 'ap-northeast-1c']);
    // The seed's default is unchanged.
    expect(parseConfig(minimal).drRegion).toBe('ap-northeast-1');
    const warnings: string[] = [];
    const cal = parseConfig(minimal, undefined, {
      region: 'us-west-1',
      onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
    });
    expect(cal.availabilityZones).toEqual(['us-west-1a', 'us-west-1c']);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^availabilityZones: not set, so us-west-1a and us-west-1c are used; in us-west-1 each account sees its own zones/,
      ),
    ]);
  });
});
