import { operatorPolicy } from '../../engine/policy.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';

/** `policy`: the operator's least-privilege IAM policy, from the actions the steps declare. */
export function policyCommand(io: Io): Promise<number> {
  io.out(JSON.stringify(operatorPolicy(registry), null, 2));
  return Promise.resolve(0);
}
