import type { Step } from '../../engine/step.js';

/** Phase 5 steps, in registry order. */
export const phase5Steps: Step[] = [];
