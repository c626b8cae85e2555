import type { Step } from '../../engine/step.js';
import { certificatesStep } from './certificates.js';
import { distributionStep } from './distribution.js';
import { dnsRecordsStep } from './dns-records.js';
import { frontendBucketStep } from './frontend-bucket.js';
import { webAclStep } from './web-acl.js';

/** Phase 1 edge (issue 5), in registry order. The RDS/Redis steps live in data-steps.ts. */
export const dataEdgeSteps: Step[] = [
  certificatesStep,
  frontendBucketStep,
  webAclStep,
  distributionStep,
  dnsRecordsStep,
];
