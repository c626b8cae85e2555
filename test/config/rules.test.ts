import { describe, expect, it } from 'vitest';
import { configFromObject, parseConfig } from '../../src/config/load.js';
import { PREFIX_LIST_WEIGHTS } from '../../src/config/limits.js';
import { albInboundRuleEstimate } from '../../src/config/rules.js';
import { cacheEngineVersion, type ConfigInput } from '../../src/config/schema.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import {
  CLOUDFRONT_PREFIX_LIST,
  route53HealthCheckPrefixList,
  wantedRules,
} from '../../src/steps/phase1-foundation/security-groups.js';

const EMAIL = { alerts: { email: 'ops@example.com' } };

function issuesOf(overrides: Partial<ConfigInput> | Record<string, unknown>): ConfigIssue[] {
  try {
    configFromObject({ ...EMAIL, ...overrides });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
}

const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `203.0.${i}.0/24`);

describe('config rules: the cache engine version', () => {
  it('defaults per engine, as database.engineVersion does: 7.1 for redis, 8.0 for valkey', () => {
    const redis = configFromObject({ ...EMAIL });
    expect(redis.cache.engineVersion).toBeNull();
    expect(cacheEngineVersion(redis.cache)).toBe('7.1');
    const valkey = configFromObject({ ...EMAIL, cache: { engine: 'valkey' } });
    expect(cacheEngineVersion(valkey.cache)).toBe('8.0');
    expect(
      cacheEngineVersion(
        configFromObject({ ...EMAIL, cache: { engine: 'valkey', engineVersion: '7.2' } }).cache,
      ),
    ).toBe('7.2');
  });

  it('rejects Valkey below 7.2 and Redis OSS above 7.1, which ElastiCache does not offer', () => {
    expect(issuesOf({ cache: { engine: 'valkey', engineVersion: '7.1' } })).toEqual([
      {
        path: 'cache.engineVersion',
        message:
          'ElastiCache offers Valkey from 7.2 on, not 7.1: use 7.2 or later, or null for 8.0',
      },
    ]);
    expect(issuesOf({ cache: { engine: 'redis', engineVersion: '7.2' } })).toEqual([
      {
        path: 'cache.engineVersion',
        message:
          'ElastiCache offers Redis OSS up to 7.1, not 7.2: for 7.2 and later set cache.engine to valkey',
      },
    ]);
    expect(issuesOf({ cache: { engine: 'redis', engineVersion: '6.2' } })).toEqual([]);
    expect(issuesOf({ cache: { engine: 'valkey', engineVersion: '8.10' } })).toEqual([]);
    expect(issuesOf({ cache: { engineVersion: 'latest' } })).toEqual([
      { path: 'cache.engineVersion', message: 'must be an engine version such as 7.1 or 8.0' },
    ]);
  });

  it('points at the YAML line of the version', () => {
    const text =
      'alerts:\n  email: ops@example.com\ncache:\n  engine: valkey\n  engineVersion: "7.1"\n';
    expect(() => parseConfig(text)).toThrow(ConfigError);
    try {
      parseConfig(text);
    } catch (e) {
      expect((e as ConfigError).issues).toEqual([
        expect.objectContaining({ path: 'cache.engineVersion', line: 5 }),
      ]);
    }
  });
});

describe('config rules: tags', () => {
  it('accepts the characters every tagging API takes, in any script', () => {
    expect(
      issuesOf({
        tags: {
          'cost-center': 'a_b.c:d/e=f+g-h@i 42',
          팀: '결제 서비스',
          'team:owner': 'Ops Team',
          Empty: '',
        },
      }),
    ).toEqual([]);
  });

  it('rejects the aws: prefix, characters IAM and friends refuse, and over-long keys and values', () => {
    const found = issuesOf({
      tags: {
        'aws:owner': 'me',
        'AWS:cost': 'x',
        Team: 'R&D',
        'owner#1': 'x',
        ['k'.repeat(129)]: 'x',
        Long: 'v'.repeat(257),
      },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        {
          path: 'tags.aws:owner',
          message: 'a tag key must not start with "aws:": AWS reserves that prefix',
        },
        {
          path: 'tags.AWS:cost',
          message: 'a tag key must not start with "aws:": AWS reserves that prefix',
        },
        { path: 'tags.Team', message: expect.stringMatching(/^a tag value may use only letters/) },
        { path: 'tags.owner#1', message: expect.stringMatching(/^a tag key may use only letters/) },
        { path: `tags.${'k'.repeat(129)}`, message: 'a tag key is at most 128 characters' },
        { path: 'tags.Long', message: 'a tag value is at most 256 characters' },
      ]),
    );
    expect(found).toHaveLength(6);
  });

  it('rejects the keys cloudmart sets itself, which would be silently overwritten', () => {
    const found = issuesOf({ tags: { Name: 'x', 'cloudmart:stack': 'y' } });
    expect(found.map((i) => i.path)).toEqual(['tags.Name', 'tags.cloudmart:stack']);
    expect(found[0]!.message).toContain('cloudmart sets Name, cloudmart:stack, cloudmart:step');
  });

  it('leaves room for the tags cloudmart adds within the 50 per resource', () => {
    const tags = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    expect(issuesOf({ tags: tags(46) })).toEqual([]);
    expect(issuesOf({ tags: tags(47) })).toEqual([
      {
        path: 'tags',
        message:
          'has 47 tags; at most 46 fit next to the 4 cloudmart adds (AWS allows 50 per resource)',
      },
    ]);
  });

  it('checks the backup selection tag the same way', () => {
    expect(issuesOf({ backup: { selectionTag: { key: 'aws:backup', value: 'a&b' } } })).toEqual([
      {
        path: 'backup.selectionTag.key',
        message: 'a tag key must not start with "aws:": AWS reserves that prefix',
      },
      {
        path: 'backup.selectionTag.value',
        message: expect.stringMatching(/^a tag value may use only letters/),
      },
    ]);
  });
});

describe('config rules: the ALB security group against the rule quota', () => {
  const issuesOf = (overrides: Partial<ConfigInput>): ConfigIssue[] => {
    try {
      configFromObject({ ...EMAIL, ...overrides });
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.issues;
      throw e;
    }
  };

  it('is quiet for the default 0.0.0.0/0 and for a short allow-list', () => {
    expect(issuesOf({})).toEqual([]);
    // 2 CIDRs × 2 ports + CloudFront's 55 = 59.
    expect(issuesOf({ network: { allowedCidrs: cidrs(2) } })).toEqual([]);
  });

  it('refuses (exit 2, before anything is built) once the count passes the quota, naming allowedCidrs', () => {
    const issues = issuesOf({ network: { allowedCidrs: cidrs(3) } });
    expect(issues).toEqual([
      {
        path: 'network.allowedCidrs',
        message: expect.stringContaining(
          "needs 61 inbound rules (3 CIDRs × ports 80 and 443 = 6, plus CloudFront's origin-facing prefix list, which counts as 55), more than the quota of 60",
        ),
      },
    ]);
    expect(issues[0]!.message).toContain('Inbound or outbound rules per security group');
    // Without the prefix list (0.0.0.0/0 among them) only the CIDRs count: 30 × 2 = 60 fits.
    expect(issuesOf({ network: { allowedCidrs: ['0.0.0.0/0', ...cidrs(29)] } })).toEqual([]);
    expect(issuesOf({ network: { allowedCidrs: ['0.0.0.0/0', ...cidrs(30)] } })).toHaveLength(1);
    // An account whose quota was raised says so in the config.
    expect(issuesOf({ network: { allowedCidrs: cidrs(3), securityGroupRuleQuota: 100 } })).toEqual(
      [],
    );
  });

  it('names the YAML line of the allow-list', () => {
    const text = `alerts:\n  email: ops@example.com\nnetwork:\n  allowedCidrs: [${cidrs(3).join(', ')}]\n`;
    expect(() => parseConfig(text, 'c.yaml')).toThrow(/61 inbound.*\(line 4\)/s);
  });

  it('counts what the security-groups step really authorises (prefix lists by their weight)', () => {
    const weight: Record<string, number> = {
      [CLOUDFRONT_PREFIX_LIST]: PREFIX_LIST_WEIGHTS.cloudfront,
      [route53HealthCheckPrefixList('ap-northeast-2')]: PREFIX_LIST_WEIGHTS.route53HealthChecks,
    };
    for (const overrides of [
      {},
      { network: { allowedCidrs: cidrs(1) } },
      { network: { allowedCidrs: cidrs(3), securityGroupRuleQuota: 200 } },
      {
        network: { allowedCidrs: cidrs(3), securityGroupRuleQuota: 200 },
        dns: { domain: 'shop.example.com' },
      },
      {
        network: { allowedCidrs: ['0.0.0.0/0', ...cidrs(4)] },
        dns: { domain: 'shop.example.com' },
      },
    ] satisfies Array<Partial<ConfigInput>>) {
      const config = configFromObject({ ...EMAIL, ...overrides });
      const counted = wantedRules(config)
        .alb.filter((r) => !r.egress)
        .reduce((n, r) => n + ('prefixList' in r.peer ? weight[r.peer.prefixList]! : 1), 0);
      expect(albInboundRuleEstimate(config), JSON.stringify(overrides)).toBe(counted);
    }
  });
});
