/**
 * The S3 state backend against the fake cloud's S3, which refuses conditional writes as AWS
 * does (412 PreconditionFailed, 404 NoSuchKey, 409 ConditionalRequestConflict).
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { S3Backend, type S3StateLocation } from '../../src/state/s3.js';
import { StateStore, type LockInfo } from '../../src/state/store.js';
import { thisMachine } from '../../src/state/machine.js';
import { FakeCloud, faults } from '../helpers/fake-cloud/index.js';
import { FakeAwsError } from '../helpers/fake-cloud/errors.js';
import { fakeStateBucket } from '../helpers/s3.js';

const WHERE: S3StateLocation = {
  bucket: 'team-state',
  key: 'cloudmart/cloudmart.state.json',
  region: 'ap-northeast-2',
};
const LOCK_KEY = `${WHERE.key}.lock`;

let cloud: FakeCloud;
beforeEach(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  await fakeStateBucket(cloud, WHERE.bucket);
});
afterEach(() => cloud.uninstall());

/** One "machine": its own client factory and store on the shared bucket. */
function machine(): StateStore {
  const aws = new AwsClientFactory({ region: WHERE.region, maxAttempts: 1 });
  return new StateStore(
    new S3Backend(WHERE, () => aws.get('s3', WHERE.region), { sleep: () => Promise.resolve() }),
  );
}

async function objectText(key: string): Promise<string | undefined> {
  try {
    const out = (await cloud.call('s3', 'GetObject', { Bucket: WHERE.bucket, Key: key })) as {
      Body: { transformToString(): Promise<string> };
    };
    return await out.Body.transformToString();
  } catch {
    return undefined;
  }
}

const putCalls = (key: string) =>
  cloud.calls.filter((c) => c.command === 'PutObject' && (c.input as { Key?: string }).Key === key);

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  return new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
}

describe('S3 state backend', () => {
  it('writes the first state with If-None-Match "*", then every write with If-Match of the last ETag', async () => {
    const store = machine();
    await store.load('cloudmart', 'ap-northeast-2');
    await Promise.all(
      [1, 2, 3].map((i) =>
        store.update((s) => {
          s.steps[`s${i}`] = { status: 'done', attempts: 1 };
        }),
      ),
    );
    const puts = putCalls(WHERE.key).map(
      (c) => c.input as { IfMatch?: string; IfNoneMatch?: string },
    );
    expect(puts[0]).toMatchObject({ IfNoneMatch: '*' });
    expect(puts.slice(1).every((p) => typeof p.IfMatch === 'string')).toBe(true);
    // Each If-Match names the ETag the previous write returned.
    const etags = cloud.calls
      .filter((c) => c.command === 'PutObject' && !c.error)
      .map((c) => (c.input as { IfMatch?: string }).IfMatch);
    expect(new Set(etags.slice(1)).size).toBe(2);
    const other = machine();
    const seen = await other.load('cloudmart', 'ap-northeast-2');
    expect(Object.keys(seen.steps)).toEqual(['s1', 's2', 's3']);
    expect(other.path).toBe('s3://team-state/cloudmart/cloudmart.state.json');
  });

  it('a writer holding a stale copy is refused (412) and never overwrites the newer state', async () => {
    const a = machine();
    const b = machine();
    await a.load('cloudmart', 'ap-northeast-2');
    await a.update((s) => (s.steps.first = { status: 'done', attempts: 1 }));
    await b.load('cloudmart', 'ap-northeast-2');
    await b.update((s) => (s.steps.fromB = { status: 'done', attempts: 1 }));
    const before = await objectText(WHERE.key);
    // A read this before B wrote: its copy is stale.
    const err = await a
      .update((s) => (s.steps.fromA = { status: 'done', attempts: 1 }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'STATE_CONFLICT',
      exitCode: 1,
      message: expect.stringContaining('was changed by another run since this run read it'),
      hint: expect.stringContaining('cloudmart status'),
    });
    expect(await objectText(WHERE.key)).toBe(before);
    expect(JSON.parse(before!).steps).toHaveProperty('fromB');
  });

  it('two first writers: only one creates the state, the other is refused', async () => {
    const a = machine();
    const b = machine();
    await a.load('cloudmart', 'ap-northeast-2');
    await b.load('cloudmart', 'ap-northeast-2');
    await a.update((s) => (s.steps.a = { status: 'done', attempts: 1 }));
    await expect(
      b.update((s) => (s.steps.b = { status: 'done', attempts: 1 })),
    ).rejects.toMatchObject({
      code: 'STATE_CONFLICT',
      message: expect.stringContaining('was created by another run'),
    });
    expect(JSON.parse((await objectText(WHERE.key))!).steps).toEqual({
      a: { status: 'done', attempts: 1 },
    });
  });

  it("the lock has one winner; the loser is refused with the holder's user, host, command and start time", async () => {
    const a = machine();
    const b = machine();
    await a.lock('up');
    const held = JSON.parse((await objectText(LOCK_KEY))!) as LockInfo;
    const err = await b.lock('destroy').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_LOCKED', exitCode: 1 });
    expect((err as Error).message).toBe(
      `Another cloudmart run holds the lock on s3://team-state/cloudmart/cloudmart.state.json: "up" (pid ${process.pid} on ${hostname()}, user ${held.user}, since ${held.startedAt})`,
    );
    expect(held.user).toBeTruthy();
    // The loser changed nothing; the winner's unlock removes the lock; then b gets it.
    expect(JSON.parse((await objectText(LOCK_KEY))!)).toEqual(held);
    await a.unlock();
    expect(await objectText(LOCK_KEY)).toBeUndefined();
    await b.lock('destroy');
    expect(JSON.parse((await objectText(LOCK_KEY))!)).toMatchObject({ command: 'destroy' });
    await b.unlock();
  });

  it('two runs locking at the same instant: one wins, the other gets 409 from S3, retries and is refused', async () => {
    const runs = [machine(), machine()];
    const outcomes = await Promise.allSettled(
      runs.map((r, i) => r.lock(i === 0 ? 'up' : 'destroy')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'STATE_LOCKED' });
    const lockPuts = putCalls(LOCK_KEY).map((c) => c.error ?? 'ok');
    expect(lockPuts).toContain('ConditionalRequestConflict');
    expect(lockPuts.filter((e) => e === 'ok')).toHaveLength(1);
  });

  it('takes over a stale lock (dead process on this host) with If-Match on its ETag; of two takers only one wins', async () => {
    const pid = await deadPid();
    const stale = {
      pid,
      host: hostname(),
      machine: thisMachine(),
      user: 'me',
      command: 'up',
      startedAt: 'then',
    };
    await cloud.call('s3', 'PutObject', {
      Bucket: WHERE.bucket,
      Key: LOCK_KEY,
      Body: JSON.stringify(stale),
    });
    const told: LockInfo[] = [];
    const takers = [machine(), machine()];
    const outcomes = await Promise.allSettled(
      takers.map((t) => t.lock('up', { onStale: (info) => told.push(info) })),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(
      (outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason,
    ).toMatchObject({
      code: 'STATE_LOCKED',
      message: expect.stringContaining(`"up" (pid ${process.pid}`),
    });
    expect(told).toEqual([stale]);
    const takeovers = putCalls(LOCK_KEY).filter((c) => (c.input as { IfMatch?: string }).IfMatch);
    expect(takeovers.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await objectText(LOCK_KEY))!)).toMatchObject({ pid: process.pid });
  });

  it('does not take over a live lock of another machine without --force-unlock; with it, the old holder can neither release the new lock nor write', async () => {
    const old = machine();
    await old.load('cloudmart', 'ap-northeast-2');
    await old.lock('up');
    await old.update((s) => (s.steps.a = { status: 'done', attempts: 1 }));
    // Pretend the holder is on another machine.
    const foreign = { ...JSON.parse((await objectText(LOCK_KEY))!), host: 'laptop-2', pid: 1 };
    const body = JSON.stringify(foreign);
    await cloud.call('s3', 'PutObject', { Bucket: WHERE.bucket, Key: LOCK_KEY, Body: body });
    const forcing = machine();
    await expect(forcing.lock('destroy')).rejects.toMatchObject({
      code: 'STATE_LOCKED',
      message: expect.stringContaining('pid 1 on laptop-2'),
      hint: expect.stringContaining('--force-unlock'),
    });
    await forcing.lock('destroy', { force: true });
    await forcing.load('cloudmart', 'ap-northeast-2');
    await forcing.update((s) => (s.steps.b = { status: 'done', attempts: 1 }));
    // The old run's unlock leaves the new lock (If-Match no longer matches)…
    await old.unlock();
    expect(JSON.parse((await objectText(LOCK_KEY))!)).toMatchObject({ command: 'destroy' });
    // …and its next write is refused rather than overwriting the forcing run's.
    await expect(
      old.update((s) => (s.steps.c = { status: 'done', attempts: 1 })),
    ).rejects.toMatchObject({ code: 'STATE_CONFLICT' });
    expect(Object.keys(JSON.parse((await objectText(WHERE.key))!).steps)).toEqual(['a', 'b']);
    await forcing.unlock();
    expect(await objectText(LOCK_KEY)).toBeUndefined();
  });

  it('a write or a lock whose answer was lost is retried by the SDK and recognised as its own (no false conflict)', async () => {
    // The client retries as the CLI's does; S3 applies each first attempt but its answer is lost.
    const aws = new AwsClientFactory({ region: WHERE.region, maxAttempts: 3 });
    const store = new StateStore(
      new S3Backend(WHERE, () => aws.get('s3', WHERE.region), { sleep: () => Promise.resolve() }),
    );
    cloud.onCall((e) => {
      if (e.phase === 'after' && e.command === 'PutObject' && e.attempt === 1)
        throw faults.serverError('s3', 500);
    });
    await store.lock('up');
    await store.load('cloudmart', 'ap-northeast-2');
    await store.update((s) => (s.steps.a = { status: 'done', attempts: 1 }));
    await store.update((s) => (s.steps.b = { status: 'done', attempts: 1 }));
    // Each PutObject was applied, answered 500, re-sent and refused (412) by its own write.
    const retried = cloud.calls.filter((c) => c.command === 'PutObject' && c.attempt === 2);
    expect(retried.map((c) => c.error)).toEqual([
      'PreconditionFailed',
      'PreconditionFailed',
      'PreconditionFailed',
    ]);
    expect(Object.keys(JSON.parse((await objectText(WHERE.key))!).steps)).toEqual(['a', 'b']);
    await store.unlock();
    expect(await objectText(LOCK_KEY)).toBeUndefined();
  });

  it("unlock retries S3's 409 ConditionalRequestConflict on the conditional delete, as writes do", async () => {
    const store = machine();
    await store.lock('up');
    let conflicts = 2;
    cloud.onCall((e) => {
      if (e.phase === 'before' && e.command === 'DeleteObject' && conflicts-- > 0)
        throw new FakeAwsError(
          'ConditionalRequestConflict',
          'A conflicting conditional operation is currently in progress against this resource. Please try again.',
          409,
        );
    });
    await store.unlock();
    expect(cloud.calls.filter((c) => c.command === 'DeleteObject').map((c) => c.error)).toEqual([
      'ConditionalRequestConflict',
      'ConditionalRequestConflict',
      undefined,
    ]);
    expect(await objectText(LOCK_KEY)).toBeUndefined();
  });

  it('an unlock whose delete failed (a 5xx the SDK gave up on) keeps the lock to release, so unlock can be tried again', async () => {
    const store = machine();
    await store.lock('up');
    const stop = cloud.onCall((e) => {
      if (e.phase === 'before' && e.command === 'DeleteObject') throw faults.serverError('s3', 503);
    });
    await expect(store.unlock()).rejects.toMatchObject({ code: 'AWS_ERROR' });
    expect(await objectText(LOCK_KEY)).toBeDefined();
    stop();
    await store.unlock();
    expect(await objectText(LOCK_KEY)).toBeUndefined();
    // Released: a third unlock sends nothing.
    const deletes = cloud.calls.filter((c) => c.command === 'DeleteObject').length;
    await store.unlock();
    expect(cloud.calls.filter((c) => c.command === 'DeleteObject')).toHaveLength(deletes);
  });

  it("a state bucket in another region: S3's 301 names the region; the backend goes there for this and every later call, and says so once", async () => {
    await fakeStateBucket(cloud, 'state-in-oregon', 'us-west-2');
    const where = { ...WHERE, bucket: 'state-in-oregon' };
    const aws = new AwsClientFactory({ region: WHERE.region, maxAttempts: 1 });
    const told: string[][] = [];
    const store = new StateStore(
      new S3Backend(where, (region) => aws.get('s3', region), {
        sleep: () => Promise.resolve(),
        onRegion: (actual, configured) => told.push([actual, configured]),
      }),
    );
    const mark = cloud.lastSeq;
    await store.lock('up');
    await store.load('cloudmart', 'ap-northeast-2');
    await store.update((s) => (s.steps.a = { status: 'done', attempts: 1 }));
    await store.unlock();
    expect(told).toEqual([['us-west-2', 'ap-northeast-2']]);
    const calls = cloud.calls.filter((c) => c.seq > mark);
    expect(calls.map((c) => `${c.region} ${c.command} ${c.error ?? 'ok'}`)).toEqual([
      'ap-northeast-2 PutObject PermanentRedirect',
      'us-west-2 PutObject ok',
      'us-west-2 GetObject NoSuchKey',
      'us-west-2 PutObject ok',
      'us-west-2 DeleteObject ok',
    ]);
    const out = (await cloud.call(
      's3',
      'GetObject',
      { Bucket: where.bucket, Key: where.key },
      'us-west-2',
    )) as { Body: { transformToString(): Promise<string> } };
    expect(JSON.parse(await out.Body.transformToString()).steps).toHaveProperty('a');
  });

  it('a 301 that does not name the region: an error that says the bucket is elsewhere and how to set its region', async () => {
    const store = machine();
    cloud.onCall((e) => {
      if (e.phase === 'before' && e.command === 'GetObject')
        throw new FakeAwsError(
          'PermanentRedirect',
          'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
          301,
        );
    });
    await expect(store.load('cloudmart', 'ap-northeast-2')).rejects.toMatchObject({
      message:
        'The state bucket team-state is not in ap-northeast-2: S3 answered 301 PermanentRedirect',
      hint: expect.stringContaining("region in the config's state: block"),
    });
  });

  it('a missing bucket is an error naming the bucket and init --remote-state', async () => {
    const aws = new AwsClientFactory({ region: WHERE.region, maxAttempts: 1 });
    const store = new StateStore(
      new S3Backend({ ...WHERE, bucket: 'nobody-made-this' }, () => aws.get('s3', WHERE.region)),
    );
    await expect(store.load('cloudmart', 'ap-northeast-2')).rejects.toMatchObject({
      message: 'The state bucket nobody-made-this does not exist (in ap-northeast-2)',
      hint: expect.stringContaining('cloudmart init --remote-state'),
    });
  });
});
