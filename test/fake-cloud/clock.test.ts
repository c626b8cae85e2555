import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/errors.js';
import { FakeCloud, LATENCY_TIMINGS } from '../helpers/fake-cloud/index.js';

const START = Date.UTC(2025, 0, 1);

describe('FakeCloud clock: instant and virtual modes', () => {
  it('has every timing 0 in instant mode and the latency model in virtual mode', () => {
    expect(new FakeCloud().timings.rdsCreate).toBe(0);
    expect(new FakeCloud({ mode: 'virtual' }).timings).toEqual(LATENCY_TIMINGS);
    expect(new FakeCloud({ timings: { natCreate: 5_000 } }).timings.natCreate).toBe(5_000);
  });

  it('lets parallel sleepers share time instead of adding it up', async () => {
    const cloud = new FakeCloud({ startAt: START });
    await Promise.all([cloud.sleep(15_000), cloud.sleep(15_000), cloud.sleep(10_000)]);
    expect(cloud.now() - START).toBe(15_000);
    await cloud.sleep(5_000);
    await cloud.sleep(5_000);
    expect(cloud.now() - START).toBe(25_000);
  });

  it('wakes sleepers in the order of their wake times', async () => {
    const cloud = new FakeCloud({ startAt: START });
    const order: string[] = [];
    await Promise.all([
      cloud.sleep(30_000).then(() => order.push(`b@${cloud.now() - START}`)),
      cloud.sleep(10_000).then(() => order.push(`a@${cloud.now() - START}`)),
    ]);
    expect(order).toEqual(['a@10000', 'b@30000']);
  });

  it('holds time still while calls keep coming, so pollers do not time out on busy steps', async () => {
    const cloud = new FakeCloud({ startAt: START });
    cloud.clock.quietMs = 50;
    let woke = false;
    const sleeper = cloud.sleep(60_000).then(() => (woke = true));
    for (let i = 0; i < 20; i++) {
      await cloud.call('ec2', 'DescribeVpcs');
      expect(cloud.now()).toBe(START);
    }
    expect(woke).toBe(false);
    await sleeper;
    expect(cloud.now() - START).toBe(60_000);
  });

  it('releases sleepers when a test moves time explicitly', async () => {
    const cloud = new FakeCloud({ startAt: START });
    cloud.clock.quietMs = 10_000;
    const sleeper = cloud.sleep(45_000);
    cloud.advance(45_000);
    await sleeper;
    expect(cloud.now() - START).toBe(45_000);
  });

  it('stops a sleep with the engine InterruptedError when the run is aborted', async () => {
    for (const mode of ['instant', 'latency'] as const) {
      const cloud = new FakeCloud({ mode });
      const ac = new AbortController();
      const sleeping = cloud.sleep(3_600_000, ac.signal);
      ac.abort();
      await expect(sleeping).rejects.toBeInstanceOf(InterruptedError);
      await expect(cloud.sleep(1, ac.signal)).rejects.toBeInstanceOf(InterruptedError);
    }
  });
});

describe('FakeCloud clock: latency mode', () => {
  it('runs simulated time msPerMinute-scaled: 1 simulated minute per 100 ms by default', async () => {
    const cloud = new FakeCloud({ mode: 'latency', startAt: START });
    expect(cloud.clock.speed).toBe(600);
    const real = performance.now();
    const sim = cloud.now();
    await cloud.sleep(6_000); // 6 simulated seconds = 10 ms real
    const realElapsed = performance.now() - real;
    // Scaled down, and never early: the sleep re-arms until simulated time has moved 6 s.
    expect(realElapsed).toBeLessThan(1_000);
    expect(cloud.now() - sim).toBeGreaterThanOrEqual(6_000);
  });

  it('moves resources through their states as simulated time passes', async () => {
    const cloud = new FakeCloud({ mode: 'latency', msPerMinute: 6, timings: { ec2Basic: 2_000 } });
    const out = (await cloud.call('ec2', 'CreateVpc', { CidrBlock: '10.0.0.0/16' })) as {
      Vpc: { VpcId: string; State: string };
    };
    expect(out.Vpc.State).toBe('pending');
    await cloud.sleep(2_000); // 0.2 ms real
    const vpc = (await cloud.call('ec2', 'DescribeVpcs', { VpcIds: [out.Vpc.VpcId] })) as {
      Vpcs: Array<{ State: string }>;
    };
    expect(vpc.Vpcs[0]?.State).toBe('available');
  });
});
