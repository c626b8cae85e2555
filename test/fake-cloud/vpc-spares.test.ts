import { afterEach, describe, expect, it } from 'vitest';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { runDestroy, runUp, runVerify } from '../../src/engine/engine.js';
import { sweep } from '../../src/engine/sweep.js';
import { STEP } from '../../src/steps/outputs.js';
import { registry } from '../../src/steps/registry.js';
import { testConfig } from '../helpers/context.js';
import { engineFor } from '../helpers/engine.js';
import { FakeCloud, faults } from '../helpers/fake-cloud/index.js';

/**
 * network.vpc against the fake cloud: CreateVpc takes no client token, so a lost answer leaves a
 * second VPC with the stack's tags. Every run must converge to one VPC per stack, and destroy
 * must remove every VPC of the stack and nothing else (another stack's, the default VPC, an
 * untagged one).
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
    // destroy removes both (the subnet a hand put there aside, which is no stack's).
    await c.call('ec2', 'DeleteSubnet', {
      SubnetId: c
        .resources({ type: 'ec2:subnet', live: true })
        .find((s) => c.resource('ec2:subnet', R, s.id)?.data.vpcId === busy)!.id,
    });
    expect((await runDestroy(options)).failed).toEqual([]);
    expect(vpcs(c).filter((v) => v.endsWith(' cloudmart'))).toEqual([]);
  });
  it('a spare that holds a subnet survives destroy, and the sweep says it remains (checked by id, not taken for tagging lag)', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const c = cloud;
    const { options } = await stack(c);
    expect(failures(await runUp(options))).toBe('');
    const busy = await spareOf(c, 'cloudmart');
    await c.call('ec2', 'CreateSubnet', { VpcId: busy, CidrBlock: '10.0.200.0/24' });

    await runDestroy(options);

    expect(vpcs(c)).toContain(`${busy} cloudmart`);
    const swept = await sweep(options.aws, options.config, NET);
    expect(
      swept
        .filter((l) => l.type === 'ec2:vpc')
        .map((l) => [l.arn.split('/').at(-1), l.kept, l.unconfirmed === true]),
    ).toEqual([[busy, false, false]]);
  });
});

describe('network.vpc teardown', () => {
  it("two stacks in one account: destroy of one deletes every VPC of its own (a spare too), and the other stack's, the default and an untagged VPC remain", async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const c = cloud;
    const a = await stack(c);
    const b = await stack(c, 'team2');
    expect(failures(await runUp(a.options))).toBe('');
    expect(failures(await runUp(b.options))).toBe('');
    const spare = await spareOf(c, 'cloudmart');
    const untagged = (
      (await c.call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' })) as {
        Vpc: { VpcId: string };
      }
    ).Vpc.VpcId;
    const before = vpcs(c);
    expect(before.filter((v) => v.endsWith(' default'))).toHaveLength(1);
    expect(before).toContain(`${spare} cloudmart`);

    const down = await runDestroy(a.options);

    expect(down.failed).toEqual([]);
    expect(vpcs(c)).toEqual(before.filter((v) => !v.endsWith(' cloudmart')));
    expect(vpcs(c)).toContain(`${untagged} untagged`);
    expect(vpcs(c).filter((v) => v.endsWith(' team2'))).toHaveLength(1);
    // The default VPC is whole: its four subnets, its gateway still attached.
    const defaultVpc = before.find((v) => v.endsWith(' default'))!.split(' ')[0]!;
    expect(
      c
        .resources({ type: 'ec2:subnet', live: true, system: true })
        .map((s) => c.resource('ec2:subnet', R, s.id)?.data.vpcId as string),
    ).toEqual([defaultVpc, defaultVpc, defaultVpc, defaultVpc]);
    expect(
      c
        .resources({ type: 'ec2:internet-gateway', live: true, system: true })
        .map((g) => c.resource('ec2:internet-gateway', R, g.id)?.data.attachments as unknown),
    ).toEqual([[{ vpcId: defaultVpc }]]);
    // destroy's leftover sweep (the Tagging API) never names the default VPC or its parts.
    const swept = await sweep(a.options.aws, a.options.config, NET);
    expect(swept.filter((l) => l.arn.includes(defaultVpc) || !l.unconfirmed)).toEqual([]);
    // Nothing of the stack is left; the untagged VPC (and its default group and main table),
    // which counts as anyone's, is all there is.
    expect(new Set(c.leftovers('cloudmart').map((l) => l.owner ?? l.id))).toEqual(
      new Set([untagged]),
    );
  });

  it('a default VPC carrying the stack tag is listed by the Tagging API, as AWS lists it, and the sweep keeps it, saying how to remove the tag', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const c = cloud;
    const { options } = await stack(c);
    const defaults = (await c.call('ec2', 'DescribeVpcs', {
      Filters: [{ Name: 'is-default', Values: ['true'] }],
    })) as { Vpcs: Array<{ VpcId: string }> };
    const defaultVpc = defaults.Vpcs[0]!.VpcId;
    // As a hand (ec2 create-tags) would tag it; the fake has no CreateTags handler.
    c.resource('ec2:vpc', R, defaultVpc)!.tags['cloudmart:stack'] = 'cloudmart';

    const listed = (await c.call('tagging', 'GetResources', {
      TagFilters: [{ Key: 'cloudmart:stack', Values: ['cloudmart'] }],
    })) as { ResourceTagMappingList: Array<{ ResourceARN: string }> };
    expect(listed.ResourceTagMappingList.map((r) => r.ResourceARN.split('/').at(-1))).toEqual([
      defaultVpc,
    ]);
    const swept = await sweep(options.aws, options.config, NET);
    expect(swept.map((l) => [l.arn.split('/').at(-1), l.kept])).toEqual([[defaultVpc, true]]);
    expect(swept[0]!.note).toContain('default VPC');
    // Its untagged parts (subnets, gateway, default group) stay out of the Tagging API.
  });
});
