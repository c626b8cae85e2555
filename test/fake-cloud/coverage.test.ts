import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeCloud, type ServiceName } from '../helpers/fake-cloud/index.js';

/**
 * The fake must answer every AWS operation cloudmart sends. This reads src/ for every
 * `XxxCommand` of an @aws-sdk client package and asks the fake whether it models it; a new
 * command in a step fails here first, naming the handler to add.
 */
const ROOT = join(import.meta.dirname, '..', '..');

const PACKAGES: Record<string, ServiceName> = {
  acm: 'acm',
  'auto-scaling': 'autoscaling',
  backup: 'backup',
  cloudfront: 'cloudfront',
  cloudtrail: 'cloudtrail',
  cloudwatch: 'cloudwatch',
  'cloudwatch-logs': 'logs',
  ec2: 'ec2',
  elasticache: 'elasticache',
  'elastic-load-balancing-v2': 'elbv2',
  iam: 'iam',
  kms: 'kms',
  pricing: 'pricing',
  rds: 'rds',
  'resource-groups-tagging-api': 'tagging',
  'route-53': 'route53',
  s3: 's3',
  'secrets-manager': 'secretsmanager',
  sns: 'sns',
  ssm: 'ssm',
  sts: 'sts',
  wafv2: 'wafv2',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('FakeCloud coverage of what cloudmart sends', () => {
  it('models every SDK command used anywhere in src/', async () => {
    const modules = Object.fromEntries(
      await Promise.all(
        Object.keys(PACKAGES).map(
          async (p) =>
            [p, (await import(`@aws-sdk/client-${p}`)) as Record<string, unknown>] as const,
        ),
      ),
    );
    const cloud = new FakeCloud();
    const used: string[] = [];
    const missing: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      // The packages a file names (type imports included) decide which service a command is.
      const named = [
        ...new Set([...text.matchAll(/@aws-sdk\/client-([a-z0-9-]+)/g)].map((m) => m[1]!)),
      ];
      const commands = new Set(
        [...text.matchAll(/\b([A-Z][A-Za-z0-9]+)Command\b/g)].map((m) => m[1]!),
      );
      for (const command of commands) {
        const exports = (p: string) => modules[p]?.[`${command}Command`] !== undefined;
        let packages = named.filter((p) => p in PACKAGES && exports(p));
        if (packages.length === 0) packages = Object.keys(PACKAGES).filter(exports);
        if (packages.length === 0) continue; // not an SDK command
        const services = packages.map((p) => PACKAGES[p]!);
        used.push(`${services.join('|')}.${command}`);
        if (!services.some((s) => cloud.implements(s, command))) {
          missing.push(`${relative(ROOT, file)}: ${services.join('|')}.${command}`);
        }
      }
    }
    expect(missing).toEqual([]);
    // The scan itself must find what it is meant to find.
    expect(used).toContain('ec2.CreateVpc');
    expect(used).toContain('tagging.GetResources');
    expect(new Set(used).size).toBeGreaterThan(250);
  });
});
