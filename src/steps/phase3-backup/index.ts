import type { Step } from '../../engine/step.js';

/** Phase 3 steps, in registry order. */
export const phase3Steps: Step[] = [];
