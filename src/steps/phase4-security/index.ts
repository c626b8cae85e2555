import type { Step } from '../../engine/step.js';

/** Phase 4 steps, in registry order. */
export const phase4Steps: Step[] = [];
