import { describe, expect, it } from 'vitest';
import {
  afterCreate,
  CONSISTENCY_WINDOW_MS,
  pendingWhileNotFound,
} from '../../src/aws/consistency.js';
import { waitUntil } from '../../src/aws/wait.js';
import { awsError, testContext } from '../helpers/context.js';

/** A call that answers the given errors first, then `value`. */
function answers<T>(errors: Error[], value: T) {
  let calls = 0;
  const fn = () => {
    calls += 1;
    const e = errors[calls - 1];
    return e ? Promise.reject(e) : Promise.resolve(value);
  };
  return { fn, calls: () => calls };
}

describe('afterCreate', () => {
  it('retries NotFound on a resource created moments ago, with progress, until the call succeeds', async () => {
    const c = testContext();
    const call = answers(
      [awsError('InvalidGroup.NotFound'), awsError('InvalidGroup.NotFound')],
      'ok',
    );

    await expect(afterCreate(c, true, call.fn, { what: 'allowing 443 on sg-1' })).resolves.toBe(
      'ok',
    );

    expect(call.calls()).toBe(3);
    expect(c.progressLog).toEqual([
      'allowing 443 on sg-1 (just created; AWS may not show it yet): waiting (InvalidGroup.NotFound) (0s)',
      'allowing 443 on sg-1 (just created; AWS may not show it yet): waiting (InvalidGroup.NotFound) (1s)',
    ]);
    expect(c.slept()).toBe(1_000 + 1_500);
  });

  it('gives up after the bound and throws the last NotFound', async () => {
    const c = testContext();
    const notFound = awsError('InvalidVpcID.NotFound');

    await expect(
      afterCreate(c, true, () => Promise.reject(notFound), { what: 'x', timeoutMs: 30_000 }),
    ).rejects.toBe(notFound);
    expect(c.slept()).toBeGreaterThanOrEqual(30_000);
    expect(c.slept()).toBeLessThan(30_000 + 5_000 + 1);
  });

  it('defaults to a two-minute bound', async () => {
    const c = testContext();
    await expect(
      afterCreate(c, true, () => Promise.reject(awsError('InvalidSubnetID.NotFound')), {
        what: 'x',
      }),
    ).rejects.toThrow('InvalidSubnetID.NotFound');
    expect(CONSISTENCY_WINDOW_MS).toBe(120_000);
    expect(c.slept()).toBeGreaterThanOrEqual(120_000);
    expect(c.slept()).toBeLessThan(125_001);
  });

  it('never retries other errors', async () => {
    const c = testContext();
    const call = answers([awsError('InvalidPermission.Duplicate')], 'ok');
    await expect(afterCreate(c, true, call.fn, { what: 'x' })).rejects.toThrow(
      'InvalidPermission.Duplicate',
    );
    expect(call.calls()).toBe(1);
  });

  it('runs the call once for an adopted resource: there NotFound means absent', async () => {
    const c = testContext();
    const call = answers([awsError('InvalidRouteTableID.NotFound')], 'ok');
    await expect(afterCreate(c, false, call.fn, { what: 'x' })).rejects.toThrow(
      'InvalidRouteTableID.NotFound',
    );
    expect(call.calls()).toBe(1);
    expect(c.slept()).toBe(0);
  });

  it('stops when the run is interrupted', async () => {
    const ac = new AbortController();
    const c = testContext({ signal: ac.signal });
    const fn = () => {
      ac.abort();
      return Promise.reject(awsError('InvalidGroup.NotFound'));
    };
    await expect(afterCreate(c, true, fn, { what: 'x' })).rejects.toThrow(/interrupt/i);
  });
});

describe('pendingWhileNotFound', () => {
  it('turns NotFound into "not visible yet" during the window, so waitUntil keeps polling', async () => {
    const c = testContext();
    let polls = 0;
    await waitUntil(
      c,
      pendingWhileNotFound(c, true, () => {
        polls += 1;
        if (polls <= 2) return Promise.reject(awsError('NatGatewayNotFound'));
        return Promise.resolve({ done: polls >= 4, status: 'pending' });
      }),
      { what: 'NAT gateway nat-1', minDelayMs: 1_000, timeoutMs: 600_000 },
    );
    expect(polls).toBe(4);
    expect(c.progressLog[0]).toBe('NAT gateway nat-1: not visible yet (NatGatewayNotFound) (0s)');
    expect(c.progressLog[2]).toMatch(/^NAT gateway nat-1: pending/);
  });

  it('throws NotFound once the window is over', async () => {
    const c = testContext();
    const poll = pendingWhileNotFound(
      c,
      true,
      () => Promise.reject(awsError('InvalidVpcID.NotFound')),
      10_000,
    );
    await expect(
      waitUntil(c, poll, { what: 'VPC', minDelayMs: 1_000, maxDelayMs: 1_000, timeoutMs: 600_000 }),
    ).rejects.toThrow('InvalidVpcID.NotFound');
    expect(c.slept()).toBe(10_000);
  });

  it('leaves the poll as it is for a resource that was not just created', async () => {
    const c = testContext();
    const poll = () => Promise.reject(awsError('InvalidSubnetID.NotFound'));
    expect(pendingWhileNotFound(c, false, poll)).toBe(poll);
  });

  it('still fails on errors other than NotFound', async () => {
    const c = testContext();
    const poll = pendingWhileNotFound(c, true, () =>
      Promise.reject(awsError('UnauthorizedOperation', 'no', 403)),
    );
    await expect(poll()).rejects.toThrow('no');
  });
});
