import type { Step } from '../../engine/step.js';
import { vpcStep } from './vpc.js';

/** Phase 1 network, keys and identity (issue 3), in registry order. */
export const networkSteps: Step[] = [vpcStep];
