import type { Step } from '../../engine/step.js';

/** Phase 1 application tier (issue 4), in registry order. */
export const appSteps: Step[] = [];
