import { ACMClient } from '@aws-sdk/client-acm';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { BackupClient } from '@aws-sdk/client-backup';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { RDSClient } from '@aws-sdk/client-rds';
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { WAFV2Client } from '@aws-sdk/client-wafv2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { registry } from '../../src/steps/registry.js';
import { verifyStack } from '../../src/verify/run.js';
import { engineFor } from '../helpers/engine.js';

const CLIENTS = [
  ACMClient,
  AutoScalingClient,
  BackupClient,
  CloudFrontClient,
  CloudTrailClient,
  CloudWatchClient,
  CloudWatchLogsClient,
  EC2Client,
  ElastiCacheClient,
  ElasticLoadBalancingV2Client,
  IAMClient,
  KMSClient,
  RDSClient,
  ResourceGroupsTaggingAPIClient,
  Route53Client,
  S3Client,
  SecretsManagerClient,
  SNSClient,
  SSMClient,
  WAFV2Client,
];

/** Names of AWS API calls that only read. Everything else counts as mutating. */
const READ =
  /^(Describe|Get|List|Head|Lookup|Search|Check|Validate|Test|Preview|Select|Query|Scan|Filter)/;

describe('verify', () => {
  it('is read-only: across every step it sends no mutating command, whatever AWS answers', async () => {
    const mocks = CLIENTS.map((C) => mockClient(C as unknown as typeof EC2Client));
    for (const m of mocks) m.callsFake(() => Promise.resolve({}));
    const { options } = await engineFor([...registry]);

    const report = await verifyStack(options);

    const sent = mocks.flatMap((m) =>
      m.calls().map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, '')),
    );

    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((name) => !READ.test(name))).toEqual([]);
    // Nothing answered: the report is honest about it rather than passing.
    expect(report.score.total).toBeLessThan(60);
  });
});
