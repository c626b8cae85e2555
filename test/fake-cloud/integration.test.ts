import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { sweep } from '../../src/engine/sweep.js';
import { isEnabled, runDestroy, runUp, runVerify } from '../../src/engine/engine.js';
import type { Step } from '../../src/engine/step.js';
import { fakeLoad } from '../helpers/load-result.js';
import { STEP } from '../../src/steps/outputs.js';
import { makeLoadTestStep } from '../../src/steps/phase5-validation/load-test.js';
import { registry } from '../../src/steps/registry.js';
import { TestAws, testConfig } from '../helpers/context.js';
import { engineFor, tempDir } from '../helpers/engine.js';
import {
  awsError,
  FakeCloud,
  type CallRecord,
  type FakeCloudMode,
} from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';

/**
 * The whole tool against the fake cloud: every step of the registry, up, verify, up again on
 * the complete stack, destroy, and what is left. The failure drills are left out (they need
 * the operator's consent and real instances to kill); the load test runs with its HTTP
 * runner replaced, since the fake ALB's DNS name serves nothing.
 */

const STEPS: Step[] = registry
  .filter((s) => s.id !== STEP.drills)
  .map((s) => (s.id === STEP.load ? (makeLoadTestStep(fakeLoad) as Step) : s));

type ConfigOverrides = Parameters<typeof testConfig>[0];

/** What bills by the hour: the sweep always confirms these with their service. */
const BILLING = [
  'ec2:natgateway',
  'ec2:instance',
  'ec2:volume',
  'ec2:elastic-ip',
  'rds:db',
  'elasticache:replicationgroup',
  'elasticache:cluster',
  'elasticloadbalancing:loadbalancer',
  'cloudfront:distribution',
  's3:bucket',
];

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

async function setUp(mode: FakeCloudMode, overrides: ConfigOverrides = {}) {
  cloud = await new FakeCloud({ mode }).install();
  const engine = await engineFor(STEPS);
  const config = testConfig(overrides);
  Object.assign(engine.options, { config, sleep: cloud.sleep, now: cloud.now });
  const enabled = STEPS.filter((s) => isEnabled(s, config)).map((s) => s.id);
  return { cloud, config, enabled, ...engine };
}

function show(calls: CallRecord[]): string {
  return calls
    .map((c) => `  ${c.service}.${c.command} ${JSON.stringify(c.input).slice(0, 300)}`)
    .join('\n');
}

function failures(result: { errors: Map<string, Error> }): string {
  return [...result.errors].map(([id, e]) => `${id}: ${e.message}`).join('\n');
}

/** Live resources of the stack per type (AWS-owned ones left out). */
function counts(c: FakeCloud): Record<string, number> {
  return c.countByType();
}

async function fullCycle(mode: FakeCloudMode, overrides: ConfigOverrides = {}) {
  const env = await setUp(mode, overrides);
  const { cloud, options, store, config, enabled } = env;

  // up: every step done, nothing twice.
  const t0 = cloud.now();
  const up = await runUp(options);
  const upMs = cloud.now() - t0;
  expect(failures(up)).toBe('');
  expect(up.ok).toBe(true);
  for (const id of enabled) expect(`${id} ${store.current.steps[id]?.status}`).toBe(`${id} done`);
  expect(cloud.duplicates()).toEqual([]);

  // verify reads only, and every step could check its resources.
  const mark = cloud.lastSeq;
  const verify = await runVerify(options);
  expect(failures(verify)).toBe('');
  // The one failure of a default config: EBS encryption by default is account-wide, so the
  // config does not turn it on unless asked (security.ebsEncryptionByDefault), and it is off.
  expect(verify.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(
    config.security.ebsEncryptionByDefault ? [] : ['security.encryption.ebs-default'],
  );
  // Only what `up` does not measure stays unknown: the 1,000-user run is `cloudmart load --users`.
  expect(verify.checks.filter((c) => c.status === 'unknown').map((c) => c.id)).toEqual([
    'criteria.performance.concurrency',
  ]);
  expect(show(cloud.mutatingCalls(mark)), 'verify must not change anything').toBe('');

  // up again on the complete stack: not a single mutating call.
  const again = cloud.lastSeq;
  const second = await runUp(options);
  expect(failures(second)).toBe('');
  expect(show(cloud.mutatingCalls(again)), 'a second up must send no mutating call').toBe('');
  const inventory = counts(cloud);

  // destroy: nothing left but the KMS keys pending deletion (and their aliases).
  const t1 = cloud.now();
  const destroy = await runDestroy(options);
  const destroyMs = cloud.now() - t1;
  expect(failures(destroy)).toBe('');
  expect(destroy.ok).toBe(true);
  const left = cloud.leftovers(config.stack);
  expect(left.filter((l) => !l.kept).map((l) => `${l.type} ${l.id} ${l.state}`)).toEqual([]);
  expect(left.filter((l) => l.type === 'kms:key').map((l) => l.state)).toEqual([
    'PendingDeletion',
    'PendingDeletion',
  ]);
  // cloudmart's own sweep agrees: only the keys, kept on purpose. The Tagging API still lists
  // what was just deleted: what bills is confirmed gone with its service, the rest is said
  // as "listed, not confirmed".
  const swept = await sweep(new TestAws(), config, registry);
  expect(swept.filter((l) => !l.unconfirmed).map((l) => `${l.type} kept=${l.kept}`)).toEqual([
    'kms:key kept=true',
    'kms:key kept=true',
  ]);
  const unconfirmed = new Set(swept.filter((l) => l.unconfirmed).map((l) => l.type));
  expect(unconfirmed.size).toBeGreaterThan(0);
  for (const billing of BILLING) expect(unconfirmed, billing).not.toContain(billing);

  return { ...env, inventory, upMs, destroyMs };
}

/**
 * A whole up → verify → up → destroy is CPU-bound work of a few seconds on an idle machine; the
 * first one in the file also loads every SDK client. On a busy 2-CPU machine (CI beside other
 * jobs) it took over 10 s: this bound is for a hang, not a speed goal (the bench measures speed).
 */
const FULL_CYCLE_TIMEOUT_MS = 120_000;

describe('the whole tool against the fake cloud', () => {
  it(
    'builds the seed stack once, verifies it, changes nothing on a second up, and destroys it (instant)',
    async () => {
      const { inventory } = await fullCycle('instant');
      // One of each resource the seed asks for (and the defaults AWS adds to a VPC).
      expect(inventory).toMatchObject({
        'ec2:vpc': 1,
        'ec2:subnet': 6,
        'ec2:internet-gateway': 1,
        'ec2:natgateway': 2,
        'ec2:elastic-ip': 2,
        'ec2:route-table': 4,
        'ec2:security-group': 5,
        'ec2:launch-template': 1,
        'ec2:instance': 2,
        'ec2:vpc-flow-log': 1,
        'autoscaling:autoScalingGroup': 1,
        'elasticloadbalancing:loadbalancer': 1,
        'elasticloadbalancing:targetgroup': 1,
        'rds:db': 1,
        'rds:snapshot': 1,
        'rds:auto-backup': 1,
        'elasticache:replicationgroup': 1,
        'cloudfront:distribution': 1,
        'wafv2:webacl': 1,
        's3:bucket': 3,
        'sns:topic': 1,
        'cloudwatch:dashboard': 1,
        'cloudtrail:trail': 1,
        'backup:backup-plan': 1,
        'backup:backup-vault': 1,
      });
    },
    FULL_CYCLE_TIMEOUT_MS,
  );

  it(
    'does the same with the latency model on the virtual clock, waits and retries included',
    async () => {
      const { cloud, upMs, destroyMs } = await fullCycle('virtual');
      // The simulated runs took as long as AWS would: RDS alone is ~15 minutes to create, 7 to delete.
      expect(upMs).toBeGreaterThan(15 * 60_000);
      expect(upMs).toBeLessThan(45 * 60_000);
      expect(destroyMs).toBeGreaterThan(7 * 60_000);
      expect(destroyMs).toBeLessThan(30 * 60_000);
      // Teardown really met AWS's refusals and waited them out.
      const refused = new Set(
        cloud.calls.filter((c) => c.error === 'DependencyViolation').map((c) => c.command),
      );
      // (The IGW is detached only after the ALB is gone: app.alb needs network.igw.)
      expect([...refused].sort()).toEqual(['DeleteSecurityGroup', 'DeleteSubnet']);
    },
    FULL_CYCLE_TIMEOUT_MS,
  );

  it(
    'builds and destroys the stack with a domain: hosted zone, certificates, DNS records',
    async () => {
      const { cloud } = await fullCycle('instant', {
        dns: { domain: 'shop.example.com', createHostedZone: true },
      });
      expect(cloud.resources({ type: 'route53:hostedzone', live: true })).toEqual([]);
      expect(cloud.resources({ type: 'acm:certificate', live: true })).toEqual([]);
    },
    FULL_CYCLE_TIMEOUT_MS,
  );

  it('opens the ALB to CloudFront through its managed prefix list when the allow-list is narrow', async () => {
    const { cloud, options, config } = await setUp('instant', {
      network: { allowedCidrs: ['203.0.113.0/24'] },
    });
    const steps = STEPS.filter((s) => [STEP.vpc, STEP.securityGroups].includes(s.id as never));
    const run = { ...options, steps };
    expect(failures(await runUp(run))).toBe('');
    const rules = cloud
      .resources({ type: 'ec2:security-group' })
      .flatMap((g) =>
        (cloud.resource(g.type, g.region, g.id)?.data.rules as Array<{ prefixList?: string }>)
          .filter((r) => r.prefixList)
          .map(() => g.tags.Name),
      );
    expect(rules).toEqual([`${config.stack}-alb-sg`]);
    const mark = cloud.lastSeq;
    expect(failures(await runUp(run))).toBe('');
    expect(show(cloud.mutatingCalls(mark)), 'a second up must send no mutating call').toBe('');
  });

  it('finds what a run that died right after a create had made, instead of making it twice', async () => {
    const { cloud, options, store, enabled } = await setUp('instant');
    const ac = new AbortController();
    let killedAt = '';
    // The run dies the moment the VPC exists, before network.vpc could record it.
    cloud.onCall((e) => {
      if (e.phase === 'after' && e.command === 'CreateVpc' && !killedAt) {
        killedAt = `${e.command} #${e.seq}`;
        ac.abort();
        throw new Error('process died');
      }
    });
    const first = await runUp({ ...options, signal: ac.signal });
    expect(killedAt).toMatch(/^CreateVpc #\d+$/);
    expect(first.ok).toBe(false);
    expect(store.current.steps[STEP.vpc]?.status).toBe('failed');
    expect(cloud.resources({ type: 'ec2:vpc', live: true, system: false })).toHaveLength(1);

    const resumed = await runUp(options);
    expect(failures(resumed)).toBe('');
    for (const id of enabled) expect(`${id} ${store.current.steps[id]?.status}`).toBe(`${id} done`);
    expect(cloud.duplicates()).toEqual([]);
    expect(cloud.resources({ type: 'ec2:vpc', live: true, system: false })).toHaveLength(1);
  });

  it('cloudmart destroy with DeleteAlarms denied: reports the alarms, still deletes everything that bills, exits 1', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const dir = tempDir();
    const config = join(dir, 'cloudmart.config.yaml');
    writeFileSync(config, 'alerts:\n  email: ops@example.com\n');
    const common = ['--config', config, '--state', join(dir, 'cloudmart.state.json')];
    const run = async (args: string[]) => {
      const io = recordingIo();
      const code = await main(['node', 'cloudmart', ...args], io);
      return { code, io, err: io.stderr.join('\n') };
    };
    const billing = [
      'ec2:natgateway',
      'rds:db',
      'elasticache:replicationgroup',
      'elasticloadbalancing:loadbalancer',
      'ec2:instance',
    ];
    const up = await run(['up', '--yes', '--to', '4', ...common]);
    expect(up.code, up.err).toBe(0);
    for (const type of billing) expect(cloud.resources({ type, live: true }), type).not.toEqual([]);
    const denied =
      'User: arn:aws:iam::123456789012:user/op is not authorized to perform: cloudwatch:DeleteAlarms';
    cloud.onCall((c) => {
      if (c.phase === 'before' && c.service === 'cloudwatch' && c.command === 'DeleteAlarms')
        throw awsError('cloudwatch', 'AccessDenied', denied, 403);
    });

    const destroy = await run(['destroy', '--yes', '--json', ...common]);

    expect(destroy.code, destroy.err).toBe(1);
    expect(destroy.err).toContain(STEP.alarms);
    expect(destroy.err).toContain(denied);
    expect(destroy.err).toContain('1 step failed, 0 skipped.');
    expect(cloud.calls.filter((c) => c.command === 'DeleteAlarms').length).toBeGreaterThan(0);
    const result = JSON.parse(destroy.io.stdout.at(-1)!) as {
      ok: boolean;
      failed: string[];
      skipped: string[];
      remaining: { type: string; arn: string }[];
    };
    expect(result).toMatchObject({ ok: false, failed: [STEP.alarms], skipped: [] });
    // The sweep: what bills is gone; only the alarms the step could not delete remain.
    const remainingTypes = result.remaining.map((l) => l.type);
    for (const type of [...billing, 'autoscaling:autoScalingGroup'])
      expect(remainingTypes, type).not.toContain(type);
    expect(remainingTypes.length).toBeGreaterThan(0);
    expect([...new Set(remainingTypes)]).toEqual(['cloudwatch:alarm']);
    // The fake cloud agrees: nothing that bills is left.
    for (const type of billing) expect(cloud.resources({ type, live: true }), type).toEqual([]);
  });
});
