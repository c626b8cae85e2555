import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyCommand } from '../../src/cli/commands/policy.js';
import {
  MANAGED_POLICIES_PER_PRINCIPAL,
  MANAGED_POLICY_MAX_CHARS,
  operatorActions,
  operatorPolicies,
  operatorPolicy,
  policySize,
  type NamedPolicy,
} from '../../src/engine/policy.js';
import { defineStep, type Step } from '../../src/engine/step.js';
import { registry } from '../../src/steps/registry.js';
import { recordingIo } from '../helpers/io.js';
import { sdkCommandsInSource } from '../helpers/sdk-commands.js';

/** SDK client package → IAM service prefix. */
const PREFIX: Record<string, string> = {
  acm: 'acm',
  'auto-scaling': 'autoscaling',
  backup: 'backup',
  cloudfront: 'cloudfront',
  cloudtrail: 'cloudtrail',
  cloudwatch: 'cloudwatch',
  'cloudwatch-logs': 'logs',
  ec2: 'ec2',
  elasticache: 'elasticache',
  'elastic-load-balancing-v2': 'elasticloadbalancing',
  iam: 'iam',
  kms: 'kms',
  pricing: 'pricing',
  rds: 'rds',
  'resource-groups-tagging-api': 'tag',
  'route-53': 'route53',
  s3: 's3',
  'secrets-manager': 'secretsmanager',
  sns: 'sns',
  ssm: 'ssm',
  sts: 'sts',
  wafv2: 'wafv2',
};

/**
 * Operations whose IAM actions are not `<prefix>:<Operation>` (S3's API and IAM names differ;
 * some calls need more than one action). From the Service Authorization Reference.
 */
const ACTIONS_OF: Record<string, string[]> = {
  's3:HeadBucket': ['s3:ListBucket'],
  's3:HeadObject': ['s3:GetObject'],
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:ListObjectVersions': ['s3:ListBucketVersions'],
  // cloudmart empties versioned buckets: DeleteObjects with version ids.
  's3:DeleteObjects': ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  's3:GetPublicAccessBlock': ['s3:GetBucketPublicAccessBlock'],
  's3:PutPublicAccessBlock': ['s3:PutBucketPublicAccessBlock'],
  's3:GetBucketEncryption': ['s3:GetEncryptionConfiguration'],
  's3:PutBucketEncryption': ['s3:PutEncryptionConfiguration'],
  's3:GetBucketLifecycleConfiguration': ['s3:GetLifecycleConfiguration'],
  's3:PutBucketLifecycleConfiguration': ['s3:PutLifecycleConfiguration'],
  's3:DeleteBucketLifecycle': ['s3:PutLifecycleConfiguration'],
  'cloudfront:CreateDistributionWithTags': [
    'cloudfront:CreateDistribution',
    'cloudfront:TagResource',
  ],
};

/** Every SDK command named anywhere in src/, as `file: prefix:Operation` candidates. */
async function commandsInSource(): Promise<Array<{ file: string; operations: string[] }>> {
  return (await sdkCommandsInSource(Object.keys(PREFIX))).map(({ file, command, packages }) => ({
    file,
    operations: packages.map((p) => `${PREFIX[p]}:${command}`),
  }));
}

const actionsIn = (policies: NamedPolicy[]) =>
  policies.flatMap((p) => p.document.Statement.flatMap((s) => s.Action));

describe('operator policy', () => {
  it('allows every AWS operation cloudmart sends anywhere in src/ (steps, sweep, verify, cost, drills, load, engine)', async () => {
    const allowed = new Set(actionsIn(operatorPolicies(registry)));
    const used = await commandsInSource();
    const missing = used
      .filter(({ operations }) =>
        // One of the candidate services must grant every action the operation needs.
        operations.every((op) => (ACTIONS_OF[op] ?? [op]).some((a) => !allowed.has(a))),
      )
      .map(({ file, operations }) => `${file}: ${operations.join('|')}`);
    expect(missing).toEqual([]);
    // The scan itself must find what it is meant to find, the sweep's calls included.
    const all = new Set(used.flatMap((u) => u.operations));
    for (const op of [
      'ec2:CreateVpc',
      'cloudwatch:ListDashboards',
      'autoscaling:DescribeAutoScalingGroups',
      'iam:GetInstanceProfile',
      'tag:GetResources',
      'pricing:GetProducts',
    ])
      expect(all).toContain(op);
    expect(all.size).toBeGreaterThan(250);
  });

  it('splits into managed policies IAM accepts: each within 6,144 characters, at most 10, nothing lost or repeated', () => {
    const policies = operatorPolicies(registry);
    expect(policies.length).toBeGreaterThan(1); // the whole policy is too big for one
    expect(policies.length).toBeLessThanOrEqual(MANAGED_POLICIES_PER_PRINCIPAL);
    for (const p of policies) {
      expect(policySize(p.document)).toBe(p.characters);
      expect(p.characters).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
      // IAM's own count: the JSON as sent, whitespace left out.
      expect(JSON.stringify(p.document, null, 2).replace(/\s/g, '').length).toBe(p.characters);
      expect(p.document.Version).toBe('2012-10-17');
    }
    expect(policies.map((p) => p.name)).toEqual(
      policies.map((_, i) => `cloudmart-operator-${i + 1}`),
    );
    const actions = actionsIn(policies);
    expect(actions).toEqual([...new Set(actions)]);
    expect([...actions].sort()).toEqual(operatorActions(registry));
    const sids = policies.flatMap((p) => p.document.Statement.map((s) => s.Sid));
    expect(sids).toEqual([...new Set(sids)]);
    for (const a of actions) expect(a).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
    // Least privilege: named actions on the services cloudmart uses, no wildcard.
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('keeps a service in one policy, and splits a service too big for one over statements', () => {
    const fake = (id: string, actions: string[]): Step =>
      defineStep({
        id,
        phase: 1,
        title: id,
        needs: [],
        actions,
        describe: () => [],
        create: () => Promise.resolve({}),
        verify: () => Promise.resolve([]),
        teardown: () => Promise.resolve(),
      });
    const many = Array.from(
      { length: 40 },
      (_, i) => `ec2:DescribeSomething${String(i).padStart(2, '0')}`,
    );
    const steps = [fake('a', many), fake('b', ['sns:CreateTopic', 'sns:DeleteTopic'])];

    const policies = operatorPolicies(steps, 600);

    for (const p of policies) expect(p.characters).toBeLessThanOrEqual(600);
    expect([...actionsIn(policies)].sort()).toEqual(operatorActions(steps));
    const sids = policies.flatMap((p) => p.document.Statement.map((s) => s.Sid));
    expect(sids).toContain('CloudmartEc2');
    expect(sids).toContain('CloudmartEc2Part2');
    // sns is small: one statement, in one policy.
    expect(sids.filter((s) => s.startsWith('CloudmartSns'))).toEqual(['CloudmartSns']);
    // The single-document view holds the same actions.
    expect(
      operatorPolicy(steps)
        .Statement.flatMap((s) => s.Action)
        .sort(),
    ).toEqual(operatorActions(steps));
  });
});

describe('cloudmart policy', () => {
  it('--json prints the named documents', async () => {
    const io = recordingIo();
    expect(await policyCommand(io, { json: true })).toBe(0);
    const printed = JSON.parse(io.stdout.join('\n')) as NamedPolicy[];
    expect(printed).toEqual(operatorPolicies(registry));
    expect(io.stderr).toEqual([]);
  });

  it('prints each document and says how to create and attach them', async () => {
    const io = recordingIo();
    expect(await policyCommand(io)).toBe(0);
    const policies = operatorPolicies(registry);
    const err = io.stderr.join('\n');
    expect(err).toContain(`cloudmart needs ${policies.length} customer managed IAM policies`);
    expect(err).toContain('at most 6,144 characters per managed policy');
    expect(err).toContain('at most 10 managed policies per user or role');
    for (const p of policies) {
      expect(err).toContain(
        `aws iam create-policy --policy-name ${p.name} --policy-document file://${p.name}.json`,
      );
      expect(err).toContain(`policy/${p.name}`);
      expect(io.stdout).toContain(JSON.stringify(p.document, null, 2));
    }
  });

  it('--output-dir writes one file per policy, each exactly its document', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cloudmart-policy-')), 'policy');
    const io = recordingIo();
    expect(await policyCommand(io, { outputDir: dir })).toBe(0);
    const policies = operatorPolicies(registry);
    expect(readdirSync(dir).sort()).toEqual(policies.map((p) => `${p.name}.json`).sort());
    for (const p of policies)
      expect(JSON.parse(readFileSync(join(dir, `${p.name}.json`), 'utf8'))).toEqual(p.document);
    expect(io.stderr.join('\n')).toContain(`file://${join(dir, policies[0]!.name)}.json`);
    expect(io.stdout).toEqual([]);
  });
});
