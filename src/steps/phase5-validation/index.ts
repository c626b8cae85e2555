import type { Step } from '../../engine/step.js';
import { drillsStep } from './drills.js';
import { loadTestStep } from './load-test.js';

/** Phase 5 steps, in registry order. */
export const phase5Steps: Step[] = [loadTestStep, drillsStep];
