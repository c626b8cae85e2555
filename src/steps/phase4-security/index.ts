import type { Step } from '../../engine/step.js';
import { auditBucketStep } from './audit-bucket.js';
import { cloudtrailStep } from './cloudtrail.js';
import { encryptionStep } from './encryption.js';
import { flowLogsStep } from './flow-logs.js';

/** Phase 4 steps, in registry order. */
export const phase4Steps: Step[] = [encryptionStep, auditBucketStep, cloudtrailStep, flowLogsStep];
