import {
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import type { strictMock } from './context.js';

/**
 * A bucket whose security settings are already what `ensureSecureBucket` converges to: every
 * public access block on, SSE-S3, ACLs off (BucketOwnerEnforced), versioning as given.
 */
export function secureBucketSettings(
  s3: ReturnType<typeof strictMock>,
  options: { versioning?: 'Enabled' | 'Suspended' } = {},
): void {
  s3.on(GetPublicAccessBlockCommand).resolves({
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    },
  });
  s3.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: {
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    },
  });
  s3.on(GetBucketOwnershipControlsCommand).resolves({
    OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
  });
  s3.on(GetBucketVersioningCommand).resolves(
    options.versioning ? { Status: options.versioning } : {},
  );
}

/** A bucket in the fake cloud for the S3 state, created as `init --remote-state` would leave it (versioned). */
export async function fakeStateBucket(
  cloud: {
    call(service: 's3', command: string, input: unknown, region?: string): Promise<unknown>;
  },
  bucket: string,
  region = 'ap-northeast-2',
): Promise<void> {
  await cloud.call(
    's3',
    'CreateBucket',
    {
      Bucket: bucket,
      CreateBucketConfiguration: { LocationConstraint: region },
    },
    region,
  );
  await cloud.call(
    's3',
    'PutBucketVersioning',
    {
      Bucket: bucket,
      VersioningConfiguration: { Status: 'Enabled' },
    },
    region,
  );
}
