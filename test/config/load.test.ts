import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFromObject, parseConfig } from '../../src/config/load.js';
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

  it('says how many subnets a list needs, per AZ', () => {
    expect(issues(`${minimal}network:\n  publicSubnets: [10.0.1.0/24]\n`)).toEqual([
      {
        path: 'network.publicSubnets',
        message: 'exactly two CIDR blocks, one per availability zone',
        line: 4,
      },
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
    // The region table's two zones (src/config/regions.ts).
    expect(c.availabilityZones).toEqual(['us-west-2a', 'us-west-2b']);
    // ca-central-1 has no "c" zone: the table's pick, never the seed's a + c.
    expect(p(minimal, undefined, { region: 'ca-central-1' }).availabilityZones).toEqual([
      'ca-central-1a',
      'ca-central-1b',
    ]);
    // A region the table does not know cannot be priced or placed: refused, naming it.
    expect(() => p(minimal, undefined, { region: 'xx-test-1' })).toThrow(
      /region: xx-test-1 is not an AWS region cloudmart knows/,
    );
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

describe('config: every problem at once', () => {
  it('reports schema problems and cross-field problems in one run, each with its path and line', () => {
    const text = [
      'stack: shop', // 1
      'netwrok: {}', // 2: unknown key
      'alerts: {}', // 3: no email
      'network:', // 4
      '  allowedCidrs: [1.2.3.4/33]', // 5: bad CIDR, in the same section as the subnet rules
      '  publicSubnets: [10.0.1.0/24, 10.0.1.0/24]', // 6: duplicate
      '  dataSubnets: [10.9.21.0/24, 10.0.22.0/24]', // 7: outside the VPC
      'app:', // 8
      '  port: eighty', // 9: wrong type
      '  maxSize: 1', // 10: below desiredCapacity
      'cache:', // 11
      '  engine: valkey', // 12
      '  engineVersion: "7.1"', // 13: not a Valkey version
      'tags:', // 14
      '  aws:owner: me', // 15
      '',
    ].join('\n');
    expect(issues(text)).toEqual([
      {
        path: 'network.allowedCidrs.0',
        message: 'must be an IPv4 CIDR block such as 10.0.0.0/16',
        line: 5,
      },
      { path: 'app.port', message: expect.stringContaining('expected number'), line: 9 },
      { path: 'alerts.email', message: 'is required', line: 3 },
      {
        path: 'tags.aws:owner',
        message: 'a tag key must not start with "aws:": AWS reserves that prefix',
        line: 15,
      },
      { path: 'netwrok', message: 'unknown setting; did you mean "network"?', line: 2 },
      {
        path: 'network.dataSubnets.0',
        message: '10.9.21.0/24 is not inside the VPC block 10.0.0.0/16',
        line: 7,
      },
      {
        path: 'network.publicSubnets.1',
        message: '10.0.1.0/24 overlaps network.publicSubnets.0 (10.0.1.0/24)',
        line: 6,
      },
      { path: 'app.maxSize', message: 'must be at least desiredCapacity (2)', line: 10 },
      { path: 'cache.engineVersion', message: expect.stringContaining('from 7.2 on'), line: 13 },
    ]);
  });

  it('skips the rules whose inputs failed the schema, so nothing is reported twice', () => {
    // A broken VPC block: only that, not "every subnet is outside it".
    expect(issues(`${minimal}network:\n  vpcCidr: 10.0.0.0/99\n`)).toEqual([
      { path: 'network.vpcCidr', message: expect.stringContaining('CIDR'), line: 4 },
    ]);
    // A broken minSize: no "desiredCapacity must be at least minSize".
    expect(issues(`${minimal}app:\n  minSize: many\n  desiredCapacity: 1\n`)).toEqual([
      { path: 'app.minSize', message: expect.stringContaining('expected number'), line: 4 },
    ]);
    // A whole section of the wrong type: its rules are skipped, the others still run.
    expect(issues(`${minimal}network: 5\napp:\n  minSize: 3\n`)).toEqual([
      { path: 'network', message: expect.stringContaining('expected object'), line: 3 },
      // Not in the file: the line of its section.
      { path: 'app.desiredCapacity', message: 'must be at least minSize (3)', line: 4 },
    ]);
  });

  it('never crashes a rule, whichever setting is broken', () => {
    const base = configFromObject({ alerts: { email: 'ops@example.com' } });
    const paths: string[][] = [];
    const walk = (v: unknown, path: string[]) => {
      paths.push(path);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        for (const [k, sub] of Object.entries(v)) walk(sub, [...path, k]);
      }
    };
    walk(base, []);
    for (const path of paths.slice(1)) {
      // [[]] is wrong for every setting: scalar, list, section or record.
      const data = structuredClone(base) as unknown as Record<string, unknown>;
      let at = data;
      for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
      at[path.at(-1)!] = [[]];
      let error: unknown;
      try {
        configFromObject(data);
      } catch (e) {
        error = e;
      }
      expect(error, path.join('.')).toBeInstanceOf(ConfigError);
      expect(
        (error as ConfigError).issues.some((i) => i.path.startsWith(path.join('.'))),
        path.join('.'),
      ).toBe(true);
    }
    expect(paths.length).toBeGreaterThan(80);
  });
});

describe('config: security.permissionsBoundary', () => {
  const withBoundary = (value: string) =>
    `${minimal}security:\n  permissionsBoundary: "${value}"\n`;

  it('is off by default, and takes a customer managed policy by name or ARN', () => {
    expect(parseConfig(minimal).security.permissionsBoundary).toBeNull();
    expect(parseConfig(withBoundary('shop-role-boundary')).security.permissionsBoundary).toBe(
      'shop-role-boundary',
    );
    const arn = 'arn:aws:iam::123456789012:policy/teams/shop-role-boundary';
    expect(parseConfig(withBoundary(arn)).security.permissionsBoundary).toBe(arn);
  });

  it("refuses what is no customer managed policy: a bad name, an AWS managed policy's ARN", () => {
    for (const bad of [
      'my boundary',
      'arn:aws:iam::aws:policy/AdministratorAccess',
      'arn:aws:iam::123456789012:role/admin',
    ])
      expect(issues(withBoundary(bad))[0], bad).toMatchObject({
        path: 'security.permissionsBoundary',
        message: expect.stringContaining('customer managed IAM policy'),
      });
  });
});
