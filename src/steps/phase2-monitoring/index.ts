import type { Step } from '../../engine/step.js';

/** Phase 2 steps, in registry order. */
export const phase2Steps: Step[] = [];
