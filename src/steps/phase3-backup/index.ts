import type { Step } from '../../engine/step.js';
import { backupPlanStep } from './backup-plan.js';
import { rdsBackupsStep } from './rds-backups.js';
import { rdsSnapshotStep } from './rds-snapshot.js';
import { s3LifecycleStep } from './s3-lifecycle.js';

/** Phase 3 steps, in registry order. */
export const phase3Steps: Step[] = [
  rdsBackupsStep,
  rdsSnapshotStep,
  s3LifecycleStep,
  backupPlanStep,
];
