import { afterEach, describe, expect, it } from 'vitest';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { runUp, runVerify } from '../../src/engine/engine.js';
import { STEP } from '../../src/steps/outputs.js';
import { registry } from '../../src/steps/registry.js';
import { testConfig } from '../helpers/context.js';
import { engineFor } from '../helpers/engine.js';
import { FakeCloud, faults } from '../helpers/fake-cloud/index.js';

/**
 * network.vpc against the fake cloud: CreateVpc takes no client token, so a lost answer leaves a
 * second VPC with the stack's tags. Every run must converge to one VPC per stack.
 */
const NET = registry.filter((s) => ([STEP.vpc, STEP.subnets, STEP.igw] as string[]).includes(s.id));
const R = 'ap-northeast-2';

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

async function stack(c: FakeCloud, name = 'cloudmart') {
  const engine = await engineFor(NET);
  const config = testConfig(name === 'cloudmart' ? {} : { stack: name });
  await engine.store.load(config.stack, config.region);
  Object.assign(engine.options, { config, sleep: c.sleep, now: c.now });
  return { config, ...engine };
}

function failures(result: { errors: Map<string, Error> }): string {
  return [...result.errors].map(([id, e]) => `${id}: ${e.message}`).join('\n');
}

/** The VPCs the fake holds, as `id stack` (the default VPC as `id default`). */
function vpcs(c: FakeCloud): string[] {
  return c
    .resources({ type: 'ec2:vpc', live: true })
    .map(
      (v) =>
        `${v.id} ${c.resource('ec2:vpc', R, v.id)?.data.isDefault ? 'default' : (v.tags['cloudmart:stack'] ?? 'untagged')}`,
    );
}

/** A VPC tagged for a stack's network.vpc, as a lost CreateVpc answer leaves one. */
async function spareOf(c: FakeCloud, stackName: string): Promise<string> {
  const out = (await c.call('ec2', 'CreateVpc', {
    CidrBlock: '10.0.0.0/16',
    TagSpecifications: [
      {
        ResourceType: 'vpc',
        Tags: [
          { Key: 'Name', Value: `${stackName}-vpc` },
          { Key: 'cloudmart:stack', Value: stackName },
          { Key: 'cloudmart:step', Value: STEP.vpc },
        ],
      },
    ],
  })) as { Vpc: { VpcId: string } };
  return out.Vpc.VpcId;
}

describe('network.vpc: spares of a lost CreateVpc answer', () => {
  it('a spare whose delete was interrupted is deleted by the next run, which keeps the VPC it built on', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const c = cloud;
    const { options, store } = await stack(c);
    // The SDK's own retries on, as in cloudmart: a 500 after AWS made the VPC makes a second one.
    const account = c.account;
    options.aws = new (class extends AwsClientFactory {
      override accountId() {
        return Promise.resolve(account);
      }
    })({ region: R, maxAttempts: 8 });
    let lost = 0;
    const ac = new AbortController();
    const removeHook = c.onCall((e) => {
      if (e.phase === 'after' && e.command === 'CreateVpc' && lost++ === 0)
        throw faults.serverError('ec2', 500);
      // The run dies as it deletes the spare.
      if (e.phase === 'before' && e.command === 'DeleteVpc') {
        ac.abort();
        throw new Error('process died');
      }
    });
    const first = await runUp({ ...options, signal: ac.signal });
    expect(first.ok).toBe(false);
    removeHook();
    const mine = () => vpcs(c).filter((v) => v.endsWith(' cloudmart'));
    expect(mine()).toHaveLength(2);

    const second = await runUp(options);
    expect(failures(second)).toBe('');
    const vpcId = store.current.steps[STEP.vpc]?.outputs?.vpcId as string;
    expect(mine()).toEqual([`${vpcId} cloudmart`]);
    expect(c.duplicates()).toEqual([]);
    // Its subnets and gateway are in the VPC the state names.
    const subnets = c
      .resources({ type: 'ec2:subnet', live: true, system: false })
      .map((s) => c.resource('ec2:subnet', R, s.id)?.data.vpcId as string);
    expect(new Set(subnets)).toEqual(new Set([vpcId]));
  });

  it('every later up deletes an empty spare and keeps the VPC in the state; verify only reports it', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const c = cloud;
    const { options, store } = await stack(c);
    expect(failures(await runUp(options))).toBe('');
    const vpcId = store.current.steps[STEP.vpc]?.outputs?.vpcId as string;
    const spare = await spareOf(c, 'cloudmart');

    const mark = c.lastSeq;
    const verify = await runVerify(options);
    expect(c.mutatingCalls(mark)).toEqual([]);
    const check = verify.checks.find((x) => x.id === 'network.vpc.spares');
    expect(check).toMatchObject({ status: 'warn' });
    expect(check?.evidence).toContain(spare);
    expect(verify.checks.find((x) => x.id === 'network.vpc.cidr')?.evidence).toContain(vpcId);

    expect(failures(await runUp(options))).toBe('');
    expect(vpcs(c).filter((v) => v.endsWith(' cloudmart'))).toEqual([`${vpcId} cloudmart`]);
    expect(store.current.steps[STEP.vpc]?.outputs?.vpcId).toBe(vpcId);
    expect(
      c
        .mutatingCalls(mark)
        .map((x) => `${x.command} ${String((x.input as { VpcId?: string }).VpcId)}`),
    ).toEqual([`DeleteVpc ${spare}`]);
  });

  it('a VPC tagged for the stack that holds resources is never deleted by up: a warning, and it stays', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const c = cloud;
    const { options, store, events } = await stack(c);
    expect(failures(await runUp(options))).toBe('');
    const vpcId = store.current.steps[STEP.vpc]?.outputs?.vpcId as string;
    const busy = await spareOf(c, 'cloudmart');
    await c.call('ec2', 'CreateSubnet', { VpcId: busy, CidrBlock: '10.0.200.0/24' });

    expect(failures(await runUp(options))).toBe('');
    expect(vpcs(c)).toContain(`${busy} cloudmart`);
    expect(store.current.steps[STEP.vpc]?.outputs?.vpcId).toBe(vpcId);
    expect(
      events.some(
        (e) =>
          e.type === 'warning' &&
          e.message.includes(busy) &&
          e.message.includes('DependencyViolation'),
      ),
    ).toBe(true);
  });
});
