import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { tagSet } from '../../src/aws/tags.js';
import { configFromObject } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';
import type { Outputs, StepContext } from '../../src/engine/step.js';

export const ACCOUNT = '123456789012';
export const REGION = 'ap-northeast-2';

/** The smallest valid config: only the required fields, everything else the seed's defaults. */
export function testConfig(overrides: Partial<ConfigInput> = {}): Config {
  return configFromObject({ alerts: { email: 'ops@example.com' }, ...overrides });
}

/** A client factory whose account id is fixed; clients are real SDK clients whose send is mocked. */
export class TestAws extends AwsClientFactory {
  constructor(region = REGION) {
    super({ region, maxAttempts: 1 });
  }
  override accountId(): Promise<string> {
    return Promise.resolve(ACCOUNT);
  }
}

export interface TestContext extends StepContext {
  /** Progress lines the step reported. */
  readonly progressLog: string[];
  readonly warnings: string[];
  /** Total ms the step slept (the clock advances by every sleep). */
  slept(): number;
}

export interface ContextOptions {
  config?: Config;
  stepId?: string;
  outputs?: Record<string, Outputs>;
  previous?: Outputs;
  signal?: AbortSignal;
}

/** A StepContext for one step: instant sleeps on a fake clock, recorded progress. */
export function testContext(options: ContextOptions = {}): TestContext {
  const config = options.config ?? testConfig();
  const stepId = options.stepId ?? 'test.step';
  const outputs = options.outputs ?? {};
  const progressLog: string[] = [];
  const warnings: string[] = [];
  let clock = 1_700_000_000_000;
  let slept = 0;
  return {
    config,
    aws: new TestAws(config.region),
    stepId,
    outputs<T extends Outputs>(id: string): T {
      const o = outputs[id];
      if (!o) throw new Error(`test context: no outputs for ${id}`);
      return o as T;
    },
    maybeOutputs<T extends Outputs>(id: string): T | undefined {
      return outputs[id] as T | undefined;
    },
    previous: options.previous,
    tags: tagSet(config, stepId),
    progress: (m) => progressLog.push(m),
    warn: (m) => warnings.push(m),
    signal: options.signal ?? new AbortController().signal,
    sleep: (ms) => {
      clock += ms;
      slept += ms;
      return Promise.resolve();
    },
    now: () => clock,
    progressLog,
    warnings,
    slept: () => slept,
  };
}

/**
 * A mock of one SDK client class whose unexpected commands reject loudly, so an accidental
 * second create fails the test. Set expected commands with `.on(Command)`; call in beforeEach
 * (aws-sdk-client-mock's `mockClient` replaces any previous mock of the class).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export function strictMock<T extends new (...args: any[]) => any>(
  Client: T,
): AwsStub<any, any, any> {
  const stub = mockClient(Client);
  stub.send.callsFake((command: { constructor: { name: string }; input: unknown }) =>
    Promise.reject(
      new Error(
        `Unexpected AWS command ${command.constructor.name} ${JSON.stringify(command.input)}`,
      ),
    ),
  );
  return stub;
}

/** An SDK-shaped service error (name + http status), as the SDK throws them. */
export function awsError(name: string, message = name, httpStatusCode = 400): Error {
  const e = new Error(message) as Error & { $metadata: { httpStatusCode: number }; $fault: string };
  e.name = name;
  e.$metadata = { httpStatusCode };
  e.$fault = httpStatusCode >= 500 ? 'server' : 'client';
  return e;
}
