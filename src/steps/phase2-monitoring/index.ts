import type { Step } from '../../engine/step.js';
import { alarmsStep } from './alarms.js';
import { alertsTopicStep } from './alerts-topic.js';
import { dashboardStep } from './dashboard.js';
import { logGroupsStep } from './log-groups.js';

/** Phase 2 steps, in registry order. */
export const phase2Steps: Step[] = [alertsTopicStep, logGroupsStep, dashboardStep, alarmsStep];
