import type { Step } from '../../engine/step.js';
import { instanceRoleStep } from './instance-role.js';
import { internetGatewayStep } from './internet-gateway.js';
import { kmsKeyStep } from './kms-key.js';
import { natGatewaysStep } from './nat-gateways.js';
import { routeTablesStep } from './route-tables.js';
import { securityGroupsStep } from './security-groups.js';
import { subnetsStep } from './subnets.js';
import { vpcStep } from './vpc.js';

/** Phase 1 network, keys and identity (issue 3), in registry order. */
export const networkSteps: Step[] = [
  kmsKeyStep,
  vpcStep,
  subnetsStep,
  internetGatewayStep,
  natGatewaysStep,
  routeTablesStep,
  securityGroupsStep,
  instanceRoleStep,
] as Step[];
