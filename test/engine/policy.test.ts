import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { boundaryPolicy, operatorScope } from '../../src/steps/permissions.js';
import { registry } from '../../src/steps/registry.js';
import { testConfig } from '../helpers/context.js';
import { recordingIo } from '../helpers/io.js';
import { PACKAGE_SERVICE } from '../helpers/aws-models/models.js';
import { ACTIONS_OF, IAM_PREFIX } from '../helpers/iam-requests.js';
import { sdkCommandsInSource } from '../helpers/sdk-commands.js';
import { ACTION_RESOURCE_TYPES } from '../../src/aws/iam-reference.js';

/** SDK client package → IAM service prefix (package → cloudmart service → IAM prefix). */
const PREFIX: Record<string, string> = Object.fromEntries(
  Object.entries(PACKAGE_SERVICE).map(([pkg, service]) => [pkg, IAM_PREFIX[service]!]),
);

/** Every SDK command named anywhere in src/, as `file: prefix:Operation` candidates. */
async function commandsInSource(): Promise<Array<{ file: string; operations: string[] }>> {
  return (await sdkCommandsInSource(Object.keys(PREFIX))).map(({ file, command, packages }) => ({
    file,
    operations: packages.map((p) => `${PREFIX[p]}:${command}`),
  }));
}

const SCOPE = operatorScope(testConfig());
/** The actions the policies allow (their explicit Deny statements aside). */
const actionsIn = (policies: NamedPolicy[]) =>
  policies.flatMap((p) =>
    p.document.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action),
  );

describe('operator policy', () => {
  it('names each resource once per statement (a repeat only spends the 6,144-character budget)', () => {
    for (const policy of operatorPolicies(registry, SCOPE)) {
      for (const st of policy.document.Statement) {
        const resources = ([] as string[]).concat(st.Resource ?? []);
        expect(resources.length, st.Sid).toBe(new Set(resources).size);
      }
    }
  });

  it('allows every AWS operation cloudmart sends anywhere in src/ (steps, sweep, verify, cost, drills, load, engine)', async () => {
    const allowed = new Set(actionsIn(operatorPolicies(registry, SCOPE)));
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
    const policies = operatorPolicies(registry, SCOPE);
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
    expect([...new Set(actions)].sort()).toEqual(operatorActions(registry));
    const sids = policies.flatMap((p) => p.document.Statement.map((s) => s.Sid));
    expect(sids).toEqual([...new Set(sids)]);
    for (const a of actions) expect(a).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
    // Least privilege: named actions on the services cloudmart uses, no wildcard.
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('allows nothing on "*" but actions IAM has no resource type for: no IAM write, PassRole, key policy or bucket policy', () => {
    const statements = operatorPolicies(registry, SCOPE).flatMap((p) => p.document.Statement);
    const onAny = statements.filter((s) => s.Resource === '*' || s.Resource.includes('*'));
    for (const s of onAny)
      for (const a of s.Action) {
        expect(ACTION_RESOURCE_TYPES[a], `${a} on "*" in ${s.Sid}`).toEqual([]);
        expect(a).not.toMatch(
          /^iam:|^kms:(PutKeyPolicy|ScheduleKeyDeletion|CreateGrant)$|^s3:PutBucketPolicy$/,
        );
      }
    // The ones that create on "*" must carry the stack tag.
    for (const a of ['kms:CreateKey', 'cloudfront:CreateDistribution', 'acm:RequestCertificate'])
      expect(statements.find((s) => s.Resource === '*' && s.Action.includes(a))?.Condition).toEqual(
        { StringEquals: { 'aws:RequestTag/cloudmart:stack': 'cloudmart' } },
      );
    // PassRole: each role to its one service.
    const pass = statements.filter((s) => s.Action.includes('iam:PassRole'));
    expect(pass.map((s) => [s.Resource, s.Condition])).toEqual([
      [
        ['arn:aws:iam::*:role/cloudmart-ec2-role'],
        { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      ],
      [
        ['arn:aws:iam::*:role/cloudmart-backup-role'],
        { StringEquals: { 'iam:PassedToService': 'backup.amazonaws.com' } },
      ],
      [
        ['arn:aws:iam::*:role/cloudmart-flow-logs-role'],
        { StringEquals: { 'iam:PassedToService': 'vpc-flow-logs.amazonaws.com' } },
      ],
    ]);
    const attach = statements.filter(
      (s) => s.Effect === 'Allow' && s.Action.includes('iam:AttachRolePolicy'),
    );
    expect(attach).toHaveLength(1);
    expect(attach[0]!.Condition).toEqual({
      ArnEquals: {
        'iam:PolicyARN': [
          'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
          'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup',
          'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores',
        ],
      },
      // Only to a role that carries the stack's permissions boundary.
      ArnLike: {
        'iam:PermissionsBoundary': 'arn:aws:iam::????????????:policy/cloudmart-role-boundary',
      },
    });
  });

  it('includes what AWS checks besides the call itself (ELB API permissions, Backup vault with a KMS key)', () => {
    const actions = operatorActions(registry);
    for (const a of [
      'ec2:DescribeAccountAttributes',
      'ec2:DescribeAddresses',
      'ec2:DescribeInternetGateways',
      'ec2:DescribeVpcs',
      'kms:RetireGrant',
      'backup-storage:MountCapsule',
    ])
      expect(actions).toContain(a);
    const slr = operatorPolicies(registry, SCOPE)
      .flatMap((p) => p.document.Statement)
      .find((s) => s.Action.includes('iam:CreateServiceLinkedRole'));
    expect(slr?.Condition).toEqual({
      StringEquals: {
        'iam:AWSServiceName': [
          'autoscaling.amazonaws.com',
          'elasticloadbalancing.amazonaws.com',
          'rds.amazonaws.com',
          'elasticache.amazonaws.com',
        ],
      },
    });
  });

  it('splits a statement too big for one policy over several, in order', () => {
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
    // Every EC2 action IAM has no resource type for: more than one 700-character statement holds.
    const many = Object.keys(ACTION_RESOURCE_TYPES).filter(
      (a) => a.startsWith('ec2:') && ACTION_RESOURCE_TYPES[a]!.length === 0,
    );
    const steps = [fake('a', many), fake('b', ['sns:CreateTopic', 'sns:DeleteTopic'])];

    // (Without the hand-made ARN lists, which alone make a statement of 900 characters.)
    const scope = { ...SCOPE, overrides: {} };
    const policies = operatorPolicies(steps, scope, 700);

    for (const p of policies) expect(p.characters).toBeLessThanOrEqual(700);
    expect([...new Set(actionsIn(policies))].sort()).toEqual(operatorActions(steps));
    const sids = policies.flatMap((p) => p.document.Statement.map((s) => s.Sid));
    expect(sids).toContain('CloudmartEc2Any');
    expect(sids).toContain('CloudmartEc2Any2');
    // sns is small: one statement, in one policy.
    expect(sids.filter((s) => s.startsWith('CloudmartSns'))).toEqual([
      'CloudmartSnsCreate',
      'CloudmartSnsNamed',
    ]);
    // The single-document view holds the same actions.
    expect(
      [
        ...new Set(
          operatorPolicy(steps, scope)
            .Statement.filter((s) => s.Effect === 'Allow')
            .flatMap((s) => s.Action),
        ),
      ].sort(),
    ).toEqual(operatorActions(steps));
  });
});

/** `--config` of a minimal config file (stack cloudmart). */
function cmd(extra = '') {
  const config = join(
    mkdtempSync(join(tmpdir(), 'cloudmart-policy-config-')),
    'cloudmart.config.yaml',
  );
  writeFileSync(config, 'alerts:\n  email: ops@example.com\n' + extra);
  return { optsWithGlobals: () => ({ config }) };
}

describe('cloudmart policy', () => {
  it('--json prints the named documents', async () => {
    const io = recordingIo();
    expect(await policyCommand(io, { json: true }, cmd())).toBe(0);
    const printed = JSON.parse(io.stdout.join('\n')) as { stack: string; policies: NamedPolicy[] };
    expect(printed.stack).toBe('cloudmart');
    expect(printed.policies).toEqual(operatorPolicies(registry, SCOPE));
    expect(io.stderr).toEqual([]);
  });

  it('prints each document and says how to create and attach them', async () => {
    const io = recordingIo();
    expect(await policyCommand(io, {}, cmd())).toBe(0);
    const policies = operatorPolicies(registry, SCOPE);
    const err = io.stderr.join('\n');
    expect(err).toContain(`cloudmart needs ${policies.length} customer managed IAM policies`);
    expect(err).toContain('at most 6,144 characters per managed policy');
    expect(err).toContain('at most 10 managed policies per user or role');
    // What is scoped and what cannot be, per service, in words.
    expect(err).toContain('These policies let their holder work on stack "cloudmart" only');
    expect(err).toMatch(/ {2}ec2:\n {4}- only .*the VPC tagged cloudmart:stack=cloudmart/);
    expect(err).toContain('cannot be limited to the stack (any in the account): hosted zones');
    expect(err).toMatch(
      /iam:\n {4}- only .*the roles cloudmart-ec2-role, cloudmart-backup-role, cloudmart-flow-logs-role/,
    );
    for (const p of policies) {
      expect(err).toContain(
        `aws iam create-policy --policy-name ${p.name} --policy-document file://${p.name}.json`,
      );
      expect(err).toContain(`policy/${p.name}`);
    }
    // stdout is one JSON document: the policies by name.
    expect(JSON.parse(io.stdout.join('\n'))).toEqual(
      Object.fromEntries(policies.map((p) => [p.name, p.document])),
    );
  });

  it('--output-dir writes one file per policy, each exactly its document', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cloudmart-policy-')), 'policy');
    const io = recordingIo();
    expect(await policyCommand(io, { outputDir: dir }, cmd())).toBe(0);
    const policies = operatorPolicies(registry, SCOPE);
    expect(readdirSync(dir).sort()).toEqual(
      [...policies.map((p) => `${p.name}.json`), 'cloudmart-role-boundary.json'].sort(),
    );
    for (const p of policies)
      expect(JSON.parse(readFileSync(join(dir, `${p.name}.json`), 'utf8'))).toEqual(p.document);
    expect(JSON.parse(readFileSync(join(dir, 'cloudmart-role-boundary.json'), 'utf8'))).toEqual(
      boundaryPolicy(testConfig()),
    );
    expect(io.stderr.join('\n')).toContain(`file://${join(dir, policies[0]!.name)}.json`);
    expect(io.stdout).toEqual([]);
  });
});

describe('cloudmart policy --boundary', () => {
  it("prints the roles' permissions boundary as one JSON document, and how an administrator creates it", async () => {
    const io = recordingIo();
    expect(await policyCommand(io, { boundary: true }, cmd())).toBe(0);
    expect(JSON.parse(io.stdout.join('\n'))).toEqual(boundaryPolicy(testConfig()));
    const err = io.stderr.join('\n');
    expect(err).toContain(
      'aws iam create-policy --policy-name cloudmart-role-boundary --policy-document file://cloudmart-role-boundary.json',
    );
    // The config names no boundary yet: it says how to.
    expect(err).toContain('security:\n    permissionsBoundary: cloudmart-role-boundary');
  });

  it('a boundary ARN with a path: create-policy gets --path, and the operator policies name the whole ARN', async () => {
    const arn = 'arn:aws:iam::123456789012:policy/teams/shop-boundary';
    const extra = `security:\n  permissionsBoundary: ${arn}\n`;
    const io = recordingIo();
    expect(await policyCommand(io, { boundary: true }, cmd(extra))).toBe(0);
    expect(io.stderr.join('\n')).toContain(
      'aws iam create-policy --policy-name shop-boundary --path /teams/ --policy-document file://shop-boundary.json',
    );
    const notes = recordingIo();
    expect(await policyCommand(notes, {}, cmd(extra))).toBe(0);
    expect(notes.stderr.join('\n')).toContain(`only with the permissions boundary ${arn}:`);
  });

  it('the operator policies name the boundary, and --json carries it', async () => {
    const io = recordingIo();
    expect(await policyCommand(io, {}, cmd())).toBe(0);
    expect(io.stderr.join('\n')).toContain(
      'only with the permissions boundary arn:aws:iam::<account-id>:policy/cloudmart-role-boundary',
    );
    const json = recordingIo();
    expect(await policyCommand(json, { json: true }, cmd())).toBe(0);
    const printed = JSON.parse(json.stdout.join('\n')) as {
      boundary: { name: string; characters: number; document: unknown };
    };
    expect(printed.boundary.name).toBe('cloudmart-role-boundary');
    expect(printed.boundary.document).toEqual(boundaryPolicy(testConfig()));
    expect(printed.boundary.characters).toBeLessThanOrEqual(MANAGED_POLICY_MAX_CHARS);
  });
});
