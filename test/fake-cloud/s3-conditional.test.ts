/* eslint-disable @typescript-eslint/no-explicit-any -- SDK-shaped answers */
import { describe, expect, it } from 'vitest';
import { FakeCloud } from '../helpers/fake-cloud/index.js';

const R = 'ap-northeast-2';

async function bucket(versioned = true) {
  const cloud = new FakeCloud({ mode: 'virtual', startAt: Date.UTC(2025, 0, 1) });
  cloud.clock.quietMs = 60_000;
  const call = (command: string, input: any = {}): Promise<any> =>
    cloud.call('s3', command, { Bucket: 'state', ...input }, R);
  await call('CreateBucket', { CreateBucketConfiguration: { LocationConstraint: R } });
  if (versioned)
    await call('PutBucketVersioning', { VersioningConfiguration: { Status: 'Enabled' } });
  return { cloud, call };
}

describe('S3 conditional writes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)', () => {
  it('If-None-Match "*" creates once; a second create is 412 PreconditionFailed and changes nothing', async () => {
    const { cloud, call } = await bucket();
    const first = await call('PutObject', { Key: 'k.lock', Body: 'mine', IfNoneMatch: '*' });
    cloud.advance(1000);
    await expect(
      call('PutObject', { Key: 'k.lock', Body: 'theirs', IfNoneMatch: '*' }),
    ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    const got = await call('GetObject', { Key: 'k.lock' });
    expect(await got.Body.transformToString()).toBe('mine');
    expect(got.ETag).toBe(first.ETag);
  });

  it('a delete marker counts as no object: If-None-Match "*" succeeds after a delete', async () => {
    const { cloud, call } = await bucket();
    await call('PutObject', { Key: 'k.lock', Body: 'a', IfNoneMatch: '*' });
    cloud.advance(1000);
    await call('DeleteObject', { Key: 'k.lock' });
    await expect(call('GetObject', { Key: 'k.lock' })).rejects.toMatchObject({
      name: 'NoSuchKey',
      $metadata: { httpStatusCode: 404 },
    });
    await call('PutObject', { Key: 'k.lock', Body: 'b', IfNoneMatch: '*' });
    expect(await (await call('GetObject', { Key: 'k.lock' })).Body.transformToString()).toBe('b');
  });

  it('If-Match with the current ETag writes and the ETag changes; a stale ETag is 412; a missing key is 404 NoSuchKey', async () => {
    const { cloud, call } = await bucket();
    await expect(
      call('PutObject', { Key: 's.json', Body: 'x', IfMatch: '"0"' }),
    ).rejects.toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    const v1 = await call('PutObject', { Key: 's.json', Body: '1', IfNoneMatch: '*' });
    cloud.advance(1000);
    const v2 = await call('PutObject', { Key: 's.json', Body: '2', IfMatch: v1.ETag });
    expect(v2.ETag).not.toBe(v1.ETag);
    cloud.advance(1000);
    await expect(
      call('PutObject', { Key: 's.json', Body: 'stale', IfMatch: v1.ETag }),
    ).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    expect(await (await call('GetObject', { Key: 's.json' })).Body.transformToString()).toBe('2');
  });

  it('two conditional writes at the same instant against the same object: the second gets 409 ConditionalRequestConflict once, then 412', async () => {
    const { call } = await bucket();
    const base = await call('PutObject', { Key: 's.json', Body: '0', IfNoneMatch: '*' });
    const [a, b] = await Promise.allSettled([
      call('PutObject', { Key: 's.json', Body: 'a', IfMatch: base.ETag }),
      call('PutObject', { Key: 's.json', Body: 'b', IfMatch: base.ETag }),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b).toMatchObject({
      status: 'rejected',
      reason: { name: 'ConditionalRequestConflict', $metadata: { httpStatusCode: 409 } },
    });
    // The retry AWS asks for sees the winner's write.
    await expect(
      call('PutObject', { Key: 's.json', Body: 'b', IfMatch: base.ETag }),
    ).rejects.toMatchObject({ name: 'PreconditionFailed' });
    // Two creates at once: one lock, one 409.
    const locks = await Promise.allSettled([
      call('PutObject', { Key: 'l', Body: '1', IfNoneMatch: '*' }),
      call('PutObject', { Key: 'l', Body: '2', IfNoneMatch: '*' }),
    ]);
    expect(locks.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((locks[1] as PromiseRejectedResult).reason.name).toBe('ConditionalRequestConflict');
  });

  it('a conditional delete (If-Match) removes only the object it names: 412 on another ETag, 404 when absent', async () => {
    const { cloud, call } = await bucket(false);
    const v1 = await call('PutObject', { Key: 'k.lock', Body: 'a', IfNoneMatch: '*' });
    cloud.advance(1000);
    const v2 = await call('PutObject', { Key: 'k.lock', Body: 'b', IfMatch: v1.ETag });
    await expect(call('DeleteObject', { Key: 'k.lock', IfMatch: v1.ETag })).rejects.toMatchObject({
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    await call('DeleteObject', { Key: 'k.lock', IfMatch: v2.ETag });
    await expect(call('DeleteObject', { Key: 'k.lock', IfMatch: '*' })).rejects.toMatchObject({
      name: 'NoSuchKey',
      $metadata: { httpStatusCode: 404 },
    });
  });
});
