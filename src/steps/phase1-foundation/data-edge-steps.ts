import type { Step } from '../../engine/step.js';

/** Phase 1 data and edge (issue 5), in registry order. */
export const dataEdgeSteps: Step[] = [];
