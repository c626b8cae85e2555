import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { EXAMPLE_ANSWERS, renderConfig } from '../../src/config/render.js';
import { configJsonSchema } from '../../src/config/json-schema.js';
import { ConfigError } from '../../src/errors.js';

function issues(text: string | Buffer) {
  try {
    parseConfig(text, 'test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const minimal = 'alerts:\n  email: ops@example.com\n';

describe('config', () => {
  it('accepts the example in the repository, which is what init writes with the defaults', () => {
    const example = readFileSync('cloudmart.config.yaml', 'utf8');
    expect(example).toBe(renderConfig(EXAMPLE_ANSWERS));
    const config = parseConfig(example);
    expect(config.network.vpcCidr).toBe('10.0.0.0/16');
  });

  it("fills every unset value with the seed's default", () => {
    const c = parseConfig(minimal);
    expect(c.region).toBe('ap-northeast-2');
    expect(c.drRegion).toBe('ap-northeast-1');
    expect(c.availabilityZones).toEqual(['ap-northeast-2a', 'ap-northeast-2c']);
    expect(c.app).toMatchObject({
      minSize: 2,
      desiredCapacity: 2,
      maxSize: 4,
      cpuTarget: 70,
      instanceType: 't3.micro',
    });
    expect(c.database).toMatchObject({
      multiAz: true,
      backupRetentionDays: 7,
      backupWindow: '03:00-04:00',
      snapshotName: 'cloudmart-db-snapshot-day5',
    });
    expect(c.monitoring.alarms).toEqual({
      ec2HighCpuPercent: 80,
      rdsHighConnections: 80,
      albSlowResponseSeconds: 1,
      unhealthyHosts: 1,
      rdsLowStorageGiB: 2,
    });
    expect(c.monitoring.logs.alb).toEqual({ name: '/aws/alb/cloudmart-alb', retentionDays: 30 });
    expect(c.backup).toMatchObject({ planName: 'CloudMart-Daily-Backup', retentionDays: 7 });
    expect(c.security.trailName).toBe('CloudMart-Audit-Trail');
    expect(c.budget.usd).toBe(0.8);
  });

  it('reports a missing required value with its path', () => {
    expect(issues('stack: shop\n')).toEqual([{ path: 'alerts', message: 'is required', line: 1 }]);
    expect(issues('alerts: {}\n')).toEqual([
      { path: 'alerts.email', message: 'is required', line: 1 },
    ]);
  });

  it('reports a wrong type with its path and line', () => {
    const found = issues(`${minimal}app:\n  minSize: two\n`);
    expect(found).toEqual([
      { path: 'app.minSize', message: expect.stringContaining('expected number'), line: 4 },
    ]);
  });

  it('rejects an unknown key and suggests the right one', () => {
    const found = issues(`${minimal}netwrok:\n  vpcCidr: 10.0.0.0/16\n`);
    expect(found).toEqual([
      { path: 'netwrok', message: 'unknown setting; did you mean "network"?', line: 3 },
    ]);
    const nested = issues(`${minimal}database:\n  multiAZ: true\n`);
    expect(nested[0]).toMatchObject({
      path: 'database.multiAZ',
      message: expect.stringContaining('"multiAz"'),
      line: 4,
    });
  });

  it('rejects a bad CIDR', () => {
    const found = issues(`${minimal}network:\n  vpcCidr: 10.0.0.0/33\n`);
    expect(found).toEqual([
      { path: 'network.vpcCidr', message: expect.stringContaining('CIDR'), line: 4 },
    ]);
  });

  it('rejects overlapping subnets and subnets outside the VPC, all at once', () => {
    const found = issues(
      `${minimal}network:\n  publicSubnets: [10.0.1.0/24, 10.1.2.0/24]\n  appSubnets: [10.0.1.0/24, 10.0.12.0/24]\n`,
    );
    expect(found).toEqual(
      expect.arrayContaining([
        {
          path: 'network.publicSubnets.1',
          message: '10.1.2.0/24 is not inside the VPC block 10.0.0.0/16',
          line: 4,
        },
        {
          path: 'network.appSubnets.0',
          message: expect.stringContaining('overlaps network.publicSubnets.0'),
          line: 5,
        },
      ]),
    );
  });

  it('applies the cross-field rules: min ≤ desired ≤ max, AZs in the region, distinct DR region', () => {
    const found = issues(
      `${minimal}region: eu-west-1\navailabilityZones: [eu-west-1a, ap-northeast-2c]\ndrRegion: eu-west-1\napp:\n  minSize: 3\n  desiredCapacity: 2\n`,
    );
    const paths = found.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['availabilityZones.1', 'drRegion', 'app.desiredCapacity']),
    );
    expect(found.find((i) => i.path === 'availabilityZones.1')?.line).toBe(4);
  });

  it('reports YAML syntax errors with their line', () => {
    const found = issues('alerts:\n  email: [ops@example.com\n');
    expect(found[0]).toMatchObject({
      path: '',
      message: expect.stringContaining('YAML syntax error'),
      line: expect.any(Number),
    });
  });

  it('rejects an empty file, a list, invalid UTF-8 and a huge file', () => {
    expect(issues('')).toEqual([{ path: 'alerts', message: 'is required', line: undefined }]);
    expect(issues('- a\n- b\n')[0]?.message).toContain('mapping');
    expect(issues(Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe]))[0]?.message).toContain('UTF-8');
    expect(issues('#'.repeat(2 * 1024 * 1024))[0]?.message).toContain('larger than');
  });

  it('lets --region override the file and moves default AZs with it', async () => {
    const { parseConfig: p } = await import('../../src/config/load.js');
    const c = p(minimal, undefined, { region: 'us-west-2' });
    expect(c.region).toBe('us-west-2');
    expect(c.availabilityZones).toEqual(['us-west-2a', 'us-west-2c']);
    expect(
      p(`region: eu-west-1\n${minimal}`, undefined, { fallbackRegion: 'us-west-2' }).region,
    ).toBe('eu-west-1');
  });

  it('generates a JSON Schema that the example references', () => {
    const schema = configJsonSchema();
    expect(schema).toMatchObject({
      type: 'object',
      properties: { stack: { default: 'cloudmart' } },
    });
    expect(JSON.parse(readFileSync('cloudmart.schema.json', 'utf8'))).toEqual(schema);
    expect(readFileSync('cloudmart.config.yaml', 'utf8')).toMatch(
      /^# yaml-language-server: \$schema=\.\/cloudmart\.schema\.json/,
    );
  });
});

describe('config: hostile or odd input', () => {
  it('refuses a YAML alias bomb as a config error (exit 2), not a crash', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(issues(bomb)[0]?.message).toMatch(/YAML cannot be read/);
  });

  it('names the allowed values of a log retention', () => {
    const found = issues(`${minimal}network:\n  flowLogs:\n    retentionDays: 10\n`);
    expect(found[0]).toMatchObject({
      path: 'network.flowLogs.retentionDays',
      message: expect.stringContaining('1, 3, 5, 7, 14, 30'),
    });
  });
});
