/**
 * The crash check itself must be able to fail: a VPC step that creates without looking up
 * first leaves a second VPC after a crash right after CreateVpc, and the check sees it; the
 * real step, crashed at the same point, leaves one.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Step } from '../../src/engine/step.js';
import { vpcStep } from '../../src/steps/phase1-foundation/vpc.js';
import { names } from '../../src/steps/names.js';
import { registry } from '../../src/steps/registry.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { crashAt, engineRun, errorsOf, removeDir, tempDir, up } from './harness.js';

/** network.vpc without its find-by-tag: what the crash suite exists to catch. */
const naiveVpc: Step = {
  ...vpcStep,
  async create(ctx) {
    const { CreateVpcCommand } = await import('@aws-sdk/client-ec2');
    const ec2 = await ctx.aws.get('ec2');
    const out = await ec2.send(
      new CreateVpcCommand({
        CidrBlock: ctx.config.network.vpcCidr,
        TagSpecifications: [
          { ResourceType: 'vpc', Tags: ctx.tags.list(names.of(ctx.config, 'vpc')) },
        ],
      }),
    );
    return { vpcId: out.Vpc!.VpcId!, cidr: ctx.config.network.vpcCidr };
  },
};

async function crashAfterCreateVpc(steps: readonly Step[]) {
  const cloud = await new FakeCloud({ mode: 'instant' }).install();
  const dir = tempDir();
  try {
    const statePath = join(dir, 'state.json');
    const first = await engineRun(cloud, statePath, { steps });
    const crash = crashAt(cloud, first, {
      phase: 'after',
      index: 1,
      mutatingOnly: true,
      command: 'CreateVpc',
    });
    await up(first);
    await crash.restoreDisk();
    expect(crash.crashed()).toBe(true);
    const resumed = await up(await engineRun(cloud, statePath, { steps }));
    return { ok: resumed.ok, duplicates: cloud.duplicates() };
  } finally {
    cloud.uninstall();
    removeDir(dir);
  }
}

it('a step that creates without looking up first is caught: two VPCs named cloudmart-vpc', async () => {
  const steps = registry.map((s) => (s.id === 'network.vpc' ? naiveVpc : s));
  const { duplicates } = await crashAfterCreateVpc(steps);
  expect(duplicates).toEqual([
    expect.objectContaining({ type: 'ec2:vpc', name: 'cloudmart-vpc', ids: expect.any(Array) }),
  ]);
  expect(duplicates[0]!.ids).toHaveLength(2);
}, 60_000);

it('the real network.vpc, crashed at the same point, adopts the VPC it made', async () => {
  const { ok, duplicates } = await crashAfterCreateVpc(registry);
  expect(ok).toBe(true);
  expect(duplicates).toEqual([]);
}, 60_000);

/**
 * A regression case the crash suite found: security.kms used to retry CreateKey on
 * MalformedPolicyDocumentException only when it had created Auto Scaling's service-linked role
 * in the same run, so a run resumed within IAM's propagation time (~10 s) of a crash right
 * after CreateServiceLinkedRole failed "Policy contains a statement with one or more invalid
 * principals".
 */
it('a run resumed at once after a crash right after CreateServiceLinkedRole completes', async () => {
  const cloud = await new FakeCloud({ mode: 'virtual' }).install();
  const dir = tempDir();
  try {
    const statePath = join(dir, 'state.json');
    const first = await engineRun(cloud, statePath);
    const crash = crashAt(cloud, first, {
      phase: 'after',
      index: 1,
      mutatingOnly: true,
      command: 'CreateServiceLinkedRole',
    });
    await up(first);
    await crash.restoreDisk();
    expect(crash.crashed()).toBe(true);
    const resumed = await up(await engineRun(cloud, statePath));
    expect(errorsOf(resumed)).toBe('');
  } finally {
    cloud.uninstall();
    removeDir(dir);
  }
}, 60_000);
