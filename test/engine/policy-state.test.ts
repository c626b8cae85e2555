/**
 * The operator policy and the S3 state: exactly the calls the backend makes, on the configured
 * bucket and key only, and only when the run uses the S3 backend.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { operatorPolicy } from '../../src/engine/policy.js';
import { S3Backend, type S3StateLocation } from '../../src/state/s3.js';
import { StateStore } from '../../src/state/store.js';
import { operatorScope } from '../../src/steps/permissions.js';
import { registry } from '../../src/steps/registry.js';
import { testConfig } from '../helpers/context.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { evaluate, type AuthRequest } from '../helpers/iam-evaluator.js';
import { fakeStateBucket } from '../helpers/s3.js';

const WHERE: S3StateLocation = {
  bucket: 'team-state',
  key: 'cloudmart/cloudmart.state.json',
  region: 'ap-northeast-2',
};

let cloud: FakeCloud;
beforeEach(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  await fakeStateBucket(cloud, WHERE.bucket);
});
afterEach(() => cloud.uninstall());

/**
 * The IAM requests of the backend's calls: the object action on the object's ARN; a
 * conditional write or delete with If-Match needs s3:GetObject too (AWS: "you must have the
 * s3:PutObject and s3:GetObject permissions").
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
function requestsOf(calls: FakeCloud['calls']): AuthRequest[] {
  return calls.flatMap((c) => {
    const input = c.input as { Bucket: string; Key: string; IfMatch?: string };
    const resource = `arn:aws:s3:::${input.Bucket}/${input.Key}`;
    const actions = [`s3:${c.command}`, ...(input.IfMatch ? ['s3:GetObject'] : [])];
    return actions.map((action) => ({ action, resource, context: {} }));
  });
}

async function backendCalls(where: S3StateLocation): Promise<AuthRequest[]> {
  const mark = cloud.lastSeq;
  const aws = new AwsClientFactory({ region: where.region, maxAttempts: 1 });
  const store = new StateStore(new S3Backend(where, (region) => aws.get('s3', region)));
  await store.lock('up');
  await store.load('cloudmart', 'ap-northeast-2');
  await store.update((s) => (s.steps.a = { status: 'done', attempts: 1 }));
  await store.update((s) => (s.steps.b = { status: 'done', attempts: 1 }));
  await store.unlock();
  return requestsOf(cloud.calls.filter((c) => c.seq > mark));
}

describe('operator policy for the S3 state', () => {
  it('allows every call the backend makes (lock, read, conditional writes, unlock) on the configured state, and the same calls on another key are denied', async () => {
    const policy = operatorPolicy(registry, operatorScope(testConfig(), WHERE));
    const requests = await backendCalls(WHERE);
    expect([...new Set(requests.map((r) => r.action))].sort()).toEqual([
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
    ]);
    expect(
      requests.filter((r) => evaluate(policy.Statement, r) !== 'allow').map((r) => r.action),
    ).toEqual([]);
    const elsewhere = await backendCalls({ ...WHERE, key: 'someone-else/state.json' });
    expect(elsewhere.filter((r) => evaluate(policy.Statement, r) === 'allow')).toEqual([]);
    // Deleting the state itself or the bucket is never granted.
    for (const r of [
      { action: 's3:DeleteObject', resource: `arn:aws:s3:::${WHERE.bucket}/${WHERE.key}` },
      { action: 's3:DeleteBucket', resource: `arn:aws:s3:::${WHERE.bucket}` },
    ])
      expect(evaluate(policy.Statement, { ...r, context: {} })).not.toBe('allow');
  });

  it("a state bucket in another region than configured: the calls that follow S3's redirect are allowed too (S3 ARNs name no region)", async () => {
    await fakeStateBucket(cloud, 'team-state-oregon', 'us-west-2');
    const where = { ...WHERE, bucket: 'team-state-oregon' };
    const policy = operatorPolicy(registry, operatorScope(testConfig(), where));
    const requests = await backendCalls(where);
    expect(cloud.calls.some((c) => c.region === 'us-west-2' && c.command === 'DeleteObject')).toBe(
      true,
    );
    expect(requests.filter((r) => evaluate(policy.Statement, r) !== 'allow')).toEqual([]);
  });

  it('a config on local state gets no statement naming a state bucket', () => {
    const local = operatorPolicy(registry, operatorScope(testConfig()));
    expect(JSON.stringify(local)).not.toContain('team-state');
    expect(local.Statement.map((s) => s.Sid)).not.toContain('CloudmartStateObjects');
    const remote = operatorPolicy(registry, operatorScope(testConfig(), WHERE));
    expect(remote.Statement.find((s) => s.Sid === 'CloudmartStateObjects')).toEqual({
      Sid: 'CloudmartStateObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: [
        'arn:aws:s3:::team-state/cloudmart/cloudmart.state.json',
        'arn:aws:s3:::team-state/cloudmart/cloudmart.state.json.lock',
      ],
    });
  });
});
