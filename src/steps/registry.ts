import type { Step } from '../engine/step.js';
import { appSteps } from './phase1-foundation/app-steps.js';
import { dataEdgeSteps } from './phase1-foundation/data-edge-steps.js';
import { dataSteps } from './phase1-foundation/data-steps.js';
import { networkSteps } from './phase1-foundation/network-steps.js';
import { phase2Steps } from './phase2-monitoring/index.js';
import { phase3Steps } from './phase3-backup/index.js';
import { phase4Steps } from './phase4-security/index.js';
import { phase5Steps } from './phase5-validation/index.js';

/**
 * The one ordered list of steps, Phase 1 → 5. Step modules import the AWS SDK lazily inside
 * their functions, so loading the registry (for `plan` and `--help`) loads no SDK package.
 */
export const registry: readonly Step[] = [
  ...networkSteps,
  ...dataSteps,
  ...dataEdgeSteps,
  ...appSteps,
  ...phase2Steps,
  ...phase3Steps,
  ...phase4Steps,
  ...phase5Steps,
];
