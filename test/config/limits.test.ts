import { describe, expect, it } from 'vitest';
import { configFromObject } from '../../src/config/load.js';
import { DERIVED_NAMES, stackLimit } from '../../src/config/limits.js';
import type { Config } from '../../src/config/schema.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { albLogBucketName } from '../../src/steps/phase1-foundation/alb-log-bucket.js';
import { frontendBucketName } from '../../src/steps/phase1-foundation/frontend-bucket.js';
import { roleName } from '../../src/steps/phase1-foundation/instance-role.js';
import { albName, targetGroupName } from '../../src/steps/phase1-foundation/load-balancer.js';
import { healthCheckReference } from '../../src/steps/phase1-foundation/dns-records.js';
import { dbSettings } from '../../src/steps/phase1-foundation/rds-database.js';
import { cacheSettings } from '../../src/steps/phase1-foundation/redis-cache.js';
import { backupNames } from '../../src/steps/phase3-backup/backup-plan.js';
import { auditBucketName } from '../../src/steps/phase4-security/audit-bucket.js';
import { flowLogsRoleName } from '../../src/steps/phase4-security/flow-logs.js';
import { names } from '../../src/steps/names.js';
import { ACCOUNT, testContext } from '../helpers/context.js';

const EMAIL = { alerts: { email: 'ops@example.com' } };

function issuesOf(data: Record<string, unknown>): ConfigIssue[] {
  try {
    configFromObject({ ...EMAIL, ...data });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
}

/** Region settings that pass the cross-field rules (AZs in the region, another DR region). */
const inRegion = (region: string) => ({
  region,
  drRegion: region === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1',
  availabilityZones: [`${region}a`, `${region}c`],
});

/** A valid stack name of exactly n characters. */
const stackOf = (n: number) => `s${'a1-b'.repeat(n)}`.slice(0, n).replace(/-$/, 'z');

/** The names the steps really build, with the longest each AWS API accepts. */
async function realNames(config: Config): Promise<Array<[string, string, number]>> {
  const ctx = testContext({ stepId: 'test', config });
  return [
    ['load-balancer.ts albName', albName(config), 32],
    ['load-balancer.ts targetGroupName', targetGroupName(config), 32],
    ['redis-cache.ts cacheSettings', cacheSettings(config).replicationGroupId, 40],
    ['backup-plan.ts backupNames', backupNames(config).selection, 50],
    ['backup-plan.ts backupNames', backupNames(config).vault, 50],
    ['rds-database.ts dbSettings', dbSettings(config).instanceId, 63],
    ['flow-logs.ts flowLogsRoleName', flowLogsRoleName(config), 64],
    ['backup-plan.ts backupNames', backupNames(config).role, 64],
    ['instance-role.ts roleName', roleName(config), 64],
    ['distribution.ts oacName', names.of(config, 'oac'), 64],
    [
      'dns-records.ts healthCheckReference',
      healthCheckReference(config, 'alb.example', 'HTTPS', 0).replace(
        /[0-9a-f]{16}$/,
        '0'.repeat(16),
      ),
      64,
    ],
    ['alb-log-bucket.ts albLogBucketName', albLogBucketName(config, ACCOUNT), 63],
    ['frontend-bucket.ts frontendBucketName', await frontendBucketName(ctx), 63],
    [
      'audit-bucket.ts auditBucketName (security.auditBucketPrefix unset)',
      auditBucketName(config, ACCOUNT),
      63,
    ],
  ];
}

describe('config limits: the stack name', () => {
  it('has a table entry for each name the steps build from it, built the same way', async () => {
    const config = configFromObject({ ...EMAIL, stack: 'shop' });
    const real = await realNames(config);
    expect(DERIVED_NAMES.map((d) => [d.from, d.name('shop', config.region), d.max])).toEqual(
      real.map(([from, name, max]) => [from, name.replace(ACCOUNT, '123456789012'), max]),
    );
  });

  it('at the longest allowed length, every derived name fits AWS, and no bucket name is cut', async () => {
    for (const region of ['ap-northeast-2', 'us-east-1', 'eu-west-1']) {
      const max = stackLimit(region).max;
      const stack = stackOf(max);
      expect(stack).toHaveLength(max);
      const config = configFromObject({ ...EMAIL, stack, ...inRegion(region) });
      for (const [from, name, limit] of await realNames(config)) {
        expect(name.length, `${from} ${name}`).toBeLessThanOrEqual(limit);
        expect(name.includes(`${stack}-`), from).toBe(true);
      }
      expect(albLogBucketName(config, ACCOUNT)).toBe(`${stack}-alb-logs-${ACCOUNT}-${region}`);
    }
    expect(stackLimit('ap-northeast-2').max).toBe(24);
    expect(stackLimit('us-east-1').max).toBe(28);
    expect(stackLimit().max).toBe(28);
  });

  it('one character more is a config error naming the name that no longer fits', () => {
    expect(issuesOf({ stack: stackOf(25) })).toEqual([
      {
        path: 'stack',
        message:
          'is too long for ap-northeast-2: at most 24 characters there, since the S3 bucket name <stack>-audit-logs-<account id>-ap-northeast-2 must fit in 63 characters',
      },
    ]);
    expect(issuesOf({ stack: stackOf(29), ...inRegion('us-east-1') })).toEqual([
      {
        path: 'stack',
        message:
          'is too long: at most 28 characters, since the Elastic Load Balancing load balancer name <stack>-alb must fit in 32 characters',
      },
    ]);
    expect(issuesOf({ stack: stackOf(28), ...inRegion('us-east-1') })).toEqual([]);
  });

  it('takes lower case, digits and single inner hyphens only, as RDS, ElastiCache and S3 require', () => {
    for (const ok of ['a', 'shop', 'shop-2', 'my-shop-prod', 'a1b2']) {
      expect(issuesOf({ stack: ok }), ok).toEqual([]);
    }
    for (const bad of [
      'Shop',
      'shop-',
      'shop--prod',
      '9lives',
      '-shop',
      'shop_prod',
      'shop.prod',
    ]) {
      expect(issuesOf({ stack: bad }), bad).toEqual([
        {
          path: 'stack',
          message:
            'must start with a letter and use only lower-case letters, digits and single hyphens, not at the end (RDS, ElastiCache and S3 names are built from it)',
        },
      ]);
    }
    expect(issuesOf({ stack: '' })[0]).toMatchObject({ path: 'stack' });
    // S3 refuses bucket names starting with these.
    expect(issuesOf({ stack: 'sthree' })).toEqual([
      {
        path: 'stack',
        message:
          'must not start with "xn--", "sthree-", "amzn-s3-demo-": S3 refuses bucket names that do',
      },
    ]);
    expect(issuesOf({ stack: 'amzn-s3-demo' })).toHaveLength(1);
  });
});

describe('config limits: the audit bucket prefix', () => {
  it('must fit the bucket name with the account id and region, in S3 characters', () => {
    // 63 - "-123456789012-ap-northeast-2".length = 35
    expect(issuesOf({ security: { auditBucketPrefix: 'a'.repeat(35) } })).toEqual([]);
    expect(issuesOf({ security: { auditBucketPrefix: 'a'.repeat(36) } })).toEqual([
      {
        path: 'security.auditBucketPrefix',
        message:
          'is too long for ap-northeast-2: at most 35 characters, since the bucket name <prefix>-<account id>-ap-northeast-2 must fit in 63',
      },
    ]);
    expect(issuesOf({ security: { auditBucketPrefix: 'Audit_Logs' } })).toEqual([
      {
        path: 'security.auditBucketPrefix',
        message:
          'must start with a lower-case letter or digit and use only lower-case letters, digits and -',
      },
    ]);
  });
});
