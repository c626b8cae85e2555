import type { Step } from '../../engine/step.js';
import { rdsDatabaseStep } from './rds-database.js';
import { redisCacheStep } from './redis-cache.js';

/** Phase 1 data tier (issue 5): RDS first, the longest wait of the stack. */
export const dataSteps: Step[] = [rdsDatabaseStep, redisCacheStep];
