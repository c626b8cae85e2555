import type { Step } from '../../engine/step.js';
import { albLogBucketStep } from './alb-log-bucket.js';
import { appSettingsStep } from './app-settings.js';
import { autoScalingGroupStep } from './auto-scaling-group.js';
import { launchTemplateStep } from './launch-template.js';
import { loadBalancerStep } from './load-balancer.js';

/** Phase 1 application tier (issue 4), in registry order. */
export const appSteps: Step[] = [
  albLogBucketStep,
  loadBalancerStep,
  appSettingsStep,
  launchTemplateStep,
  autoScalingGroupStep,
];
