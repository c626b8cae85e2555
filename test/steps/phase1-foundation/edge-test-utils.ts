/* eslint-disable @typescript-eslint/no-explicit-any */
import { strictMock } from '../../helpers/context.js';

/**
 * The edge tests' fixtures carry only the fields a step reads, while the CloudFront, Route 53
 * and WAF output types mark nested fields as required. This is strictMock with the response
 * types loosened; unexpected commands still reject.
 */
export interface LooseBehavior {
  resolves(response: unknown): LooseBehavior;
  resolvesOnce(response: unknown): LooseBehavior;
  rejects(error?: unknown): LooseBehavior;
  rejectsOnce(error?: unknown): LooseBehavior;
  callsFake(fn: (input: any, getClient: () => any) => unknown): LooseBehavior;
  callsFakeOnce(fn: (input: any, getClient: () => any) => unknown): LooseBehavior;
}

export interface LooseStub {
  on(command: unknown, input?: unknown): LooseBehavior;
  commandCalls(
    command: unknown,
    input?: unknown,
  ): Array<{ args: [{ input: Record<string, any> }] }>;
  calls(): Array<{ args: [unknown] }>;
  send: { getCall(index: number): { thisValue: unknown } };
}

export function looseMock(Client: new (...args: any[]) => any): LooseStub {
  return strictMock(Client);
}

/** The commands a stub received that are not reads, in order. */
export function mutating(stub: LooseStub): string[] {
  return stub
    .calls()
    .map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name)
    .filter((n) => !/^(Get|Head|List|Describe)/.test(n));
}
