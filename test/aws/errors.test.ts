import { Readable } from 'node:stream';
import { GetBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { withCallContext } from '../../src/aws/clients.js';
import { explainAwsError } from '../../src/aws/errors.js';

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
