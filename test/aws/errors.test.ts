import { Readable } from 'node:stream';
import { GetBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { describe, expect, it, vi } from 'vitest';
import { AwsClientFactory, withCallContext } from '../../src/aws/clients.js';
import { explainAwsError } from '../../src/aws/errors.js';
import { waitUntil } from '../../src/aws/wait.js';

/** A real SDK client whose HTTP layer answers `status` with `body`: errors as AWS sends them. */
function answering<T>(Client: new (c: Record<string, unknown>) => T, status: number, body: string) {
  return withCallContext(
    new Client({
      region: 'ap-northeast-2',
      maxAttempts: 1,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' },
      requestHandler: {
        handle: () =>
          Promise.resolve({
            response: {
              statusCode: status,
              headers: { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-1' },
              body: Readable.from([Buffer.from(body)]),
            },
          }),
      },
    }),
    'ap-northeast-2',
  );
}

describe('AWS errors a user can act on', () => {
  it('names the API call, the resource and the HTTP status, and a bucket policy denial is not an IAM problem', async () => {
    const s3 = answering(
      S3Client,
      403,
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/op is not authorized to perform: s3:GetBucketPolicy on resource: "arn:aws:s3:::shop-frontend" with an explicit deny in a resource-based policy</Message><RequestId>req-1</RequestId></Error>',
    );
    const e = await s3
      .send(new GetBucketPolicyCommand({ Bucket: 'shop-frontend' }))
      .catch((x: unknown) => x);
    const explained = explainAwsError(e, 'Frontend bucket (edge.frontend-bucket) verify');
    expect(explained.message).toContain(
      "Frontend bucket (edge.frontend-bucket) verify failed (GetBucketPolicy shop-frontend (ap-northeast-2) answered HTTP 403): the resource's own policy denies it",
    );
    expect(explained.hint).toContain('bucket (resource) policy, not your IAM permissions');
    expect(explained.hint).not.toContain('cloudmart policy');
  });

  it("never passes on the SDK's 'inspect the hidden field' message", async () => {
    const rds = answering(RDSClient, 502, '<html><body>Bad Gateway</body></html>');
    const e = await rds
      .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'cloudmart-db' }))
      .catch((x: unknown) => x);
    const explained = explainAwsError(e, 'RDS (data.rds) verify');
    expect(explained.message).not.toMatch(/hidden field|\$response/);
    expect(explained.message).toContain(
      'DescribeDBInstances cloudmart-db (ap-northeast-2) answered HTTP 502',
    );
  });

  it("a proxy's HTML 502 reaches no message with the SDK's 'inspect the hidden field' text", async () => {
    // A local server in place of KMS (a JSON API): the SDK cannot parse the page it answers.
    const server = createServer((req, res) => {
      req.resume();
      res
        .writeHead(502, { 'content-type': 'text/html' })
        .end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_PROFILE', undefined);
    try {
      const { port } = server.address() as AddressInfo;
      const aws = new AwsClientFactory({
        region: 'ap-northeast-2',
        endpoint: `http://127.0.0.1:${port}`,
        maxAttempts: 1,
      });
      const kms = await aws.get('kms');
      const e = (await kms
        .send(new DescribeKeyCommand({ KeyId: 'alias/cloudmart' }))
        .catch((x: unknown) => x)) as Error;
      // The error itself, which verify evidence and the leftover sweep quote as they are.
      expect(e.message).not.toMatch(/hidden field|\$response|Unexpected token/);
      expect(`${e.name}: ${e.message}`).toBe(
        'UnreadableResponse: AWS answered HTTP 502 with a body that is not an AWS response (often a proxy or an emulator in between)',
      );
      const explained = explainAwsError(e, 'KMS key (foundation.kms) verify');
      expect(explained.message).toContain(
        'KMS key (foundation.kms) verify failed (DescribeKey alias/cloudmart (ap-northeast-2) answered HTTP 502): UnreadableResponse: AWS answered HTTP 502',
      );
      expect(explained.message).not.toMatch(/hidden field|SyntaxError/);
    } finally {
      vi.unstubAllEnvs();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a wait names the call and its 5xx on every retry; only throttling is "AWS is busy"', async () => {
    const bad = Object.assign(new Error('Bad Gateway'), {
      name: 'InternalFailure',
      $metadata: { httpStatusCode: 502 },
      $call: {
        operation: 'DescribeDBInstances',
        region: 'ap-northeast-2',
        resource: 'cloudmart-db',
      },
    });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'Throttling',
      $metadata: { httpStatusCode: 400 },
    });
    const answers: Error[] = [bad, bad, reset, throttled];
    const progress: string[] = [];
    let t = 0;
    await waitUntil(
      {
        progress: (m) => progress.push(m),
        signal: new AbortController().signal,
        sleep: (ms) => Promise.resolve(void (t += ms)),
        now: () => t,
      },
      () => {
        const a = answers.shift();
        return a ? Promise.reject(a) : Promise.resolve({ done: true, status: 'available' });
      },
      { what: 'RDS cloudmart-db', timeoutMs: 600_000 },
    );
    expect(progress.map((p) => p.replace(/ \([^()]*\)$/, ''))).toEqual([
      'RDS cloudmart-db: DescribeDBInstances cloudmart-db (ap-northeast-2) answered HTTP 502, retrying',
      'RDS cloudmart-db: DescribeDBInstances cloudmart-db (ap-northeast-2) answered HTTP 502, retrying',
      'RDS cloudmart-db: the request failed (Error ECONNRESET), retrying',
      'RDS cloudmart-db: AWS is busy (Throttling), retrying',
    ]);
  });

  it('an S3 403 that does not say who denied it points at the bucket policy too, not only at IAM', async () => {
    const s3 = answering(
      S3Client,
      403,
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>req-1</RequestId></Error>',
    );
    const e = await s3
      .send(new GetBucketPolicyCommand({ Bucket: 'shop-frontend' }))
      .catch((x: unknown) => x);
    const explained = explainAwsError(e, 'Frontend bucket (edge.frontend-bucket) verify');
    expect(explained.message).toContain('answered HTTP 403');
    expect(explained.hint).toMatch(/bucket policy's Deny statements/);
    // Another service's 403 is IAM's: the policy hint alone.
    const rds = answering(
      RDSClient,
      403,
      '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/op is not authorized to perform: rds:DescribeDBInstances</Message></Error><RequestId>r</RequestId></ErrorResponse>',
    );
    const denied = await rds.send(new DescribeDBInstancesCommand({})).catch((x: unknown) => x);
    expect(explainAwsError(denied, 'RDS (data.rds) verify').hint).toBe(
      'Run "cloudmart policy" for the IAM policy the operator needs, attach it, then run the command again.',
    );
  });

  it('says a brand-new account must have CloudFront verified by AWS Support, not that IAM is missing', () => {
    const e = Object.assign(
      new Error(
        'Your account must be verified before you can add new CloudFront resources. To verify your account, please contact AWS Support (https://console.aws.amazon.com/support/home#/) and include this error message.',
      ),
      { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } },
    );
    const explained = explainAwsError(e, 'CloudFront (edge.cdn) create');
    expect(explained.code).toBe('ACCOUNT_NOT_VERIFIED');
    expect(explained.hint).toContain('AWS Support');
    expect(explained.hint).not.toContain('cloudmart policy');
  });
});
