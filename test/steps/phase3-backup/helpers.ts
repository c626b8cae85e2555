import type { Role } from '@aws-sdk/client-iam';
import type { strictMock } from '../../helpers/context.js';

type Stub = ReturnType<typeof strictMock>;

/** The names of the commands a mock received that change something (not Describe/Get/List/Head). */
export function mutatingCalls(stub: Stub): string[] {
  return stub
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => !/^(Describe|Get|List|Head)/.test(n));
}

/** Sinon's global call order, to assert that one call came before another. */
export function seq(call: unknown): number {
  return (call as { callId: number }).callId;
}

/** The region of the client a recorded call was sent through. */
export function regionOf(call: { thisValue: unknown }): Promise<string> {
  return (call.thisValue as { config: { region: () => Promise<string> } }).config.region();
}

/** An IAM role as GetRole/CreateRole return it. */
export function role(RoleName: string, Arn: string, extra: Partial<Role> = {}): Role {
  return {
    RoleName,
    Arn,
    Path: '/',
    RoleId: `AROA${RoleName.length}`,
    CreateDate: new Date(0),
    ...extra,
  };
}
