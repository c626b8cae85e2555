import { CreatePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import type { Config } from '../../src/config/schema.js';
import { boundaryPolicy } from '../../src/steps/permissions.js';
import { boundaryName } from '../../src/steps/role-boundary.js';

/**
 * What the administrator does once before cloudmart runs with the operator policy: create the
 * stack's permissions boundary (`cloudmart policy --boundary`) as a customer managed policy, here
 * in whatever (fake) cloud is installed. Returns its ARN.
 */
export async function createBoundaryPolicy(config: Config): Promise<string> {
  const iam = new IAMClient({ region: 'us-east-1', maxAttempts: 1 });
  const out = await iam.send(
    new CreatePolicyCommand({
      PolicyName: boundaryName(config),
      PolicyDocument: JSON.stringify(boundaryPolicy(config)),
      Description: `Permissions boundary of the roles of cloudmart stack ${config.stack}`,
    }),
  );
  return out.Policy!.Arn!;
}
