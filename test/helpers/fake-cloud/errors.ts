import type { ServiceName } from './types.js';

/**
 * Errors shaped like the SDK's service exceptions: `name` (the AWS error code, e.g.
 * `InvalidVpcID.NotFound`), `message`, `$fault`, `$metadata.httpStatusCode`. When the service
 * package exports a class of that name (most services do; EC2 does not), the fake throws an
 * instance of it, so `instanceof DBInstanceNotFoundFault` holds as with the real SDK.
 */
export class FakeAwsError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId: string; attempts: number };
  readonly Code: string;
  $retryable?: { throttling: boolean };
  constructor(name: string, message: string, httpStatusCode = 400) {
    super(message);
    this.name = name;
    this.Code = name;
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode, requestId: 'fake-request', attempts: 1 };
  }
}

/** The SDK module namespaces, by service, filled by `FakeCloud.install()`. */
const errorClasses = new Map<ServiceName, Record<string, unknown>>();

export function registerErrorClasses(service: ServiceName, mod: Record<string, unknown>): void {
  errorClasses.set(service, mod);
}

interface ServiceExceptionCtor {
  new (opts: { message: string; $metadata: object }): Error;
}

/** An SDK-shaped service error; an instance of the SDK's own class when there is one. */
export function awsError(
  service: ServiceName,
  name: string,
  message: string,
  httpStatusCode = 400,
): Error {
  const $metadata = { httpStatusCode, requestId: 'fake-request', attempts: 1 };
  const Ctor = errorClasses.get(service)?.[name] as ServiceExceptionCtor | undefined;
  if (typeof Ctor === 'function' && Ctor.prototype instanceof Error) {
    try {
      const e = new Ctor({ message, $metadata }) as Error & Record<string, unknown>;
      if (e.name === name) {
        e.message = message;
        e.$metadata = $metadata;
        e.Code ??= name;
        return e;
      }
    } catch {
      // fall back to the generic shape
    }
  }
  return new FakeAwsError(name, message, httpStatusCode);
}

/** Thrown for an operation the fake does not model: the message names it exactly. */
export class FakeNotImplementedError extends Error {
  constructor(service: string, command: string) {
    super(
      `FakeCloud does not implement ${service}.${command} (add a handler in test/helpers/fake-cloud/services/)`,
    );
    this.name = 'FakeNotImplementedError';
  }
}

/**
 * Faults for `cloud.onCall` hooks, shaped as the SDK surfaces them. Throttling uses each
 * service's own code (EC2 RequestLimitExceeded, S3 SlowDown, everything else
 * ThrottlingException / Throttling).
 */
export const faults = {
  throttling(service: ServiceName): Error {
    const name =
      service === 'ec2'
        ? 'RequestLimitExceeded'
        : service === 's3'
          ? 'SlowDown'
          : ['iam', 'sts', 'rds', 'elasticache', 'autoscaling', 'cloudwatch', 'sns'].includes(
                service,
              )
            ? 'Throttling'
            : 'ThrottlingException';
    const e = new FakeAwsError(name, 'Rate exceeded', service === 's3' ? 503 : 400);
    e.$retryable = { throttling: true };
    return e;
  },
  /** A 5xx: InternalError (EC2, S3), InternalFailure elsewhere, or ServiceUnavailable. */
  serverError(service: ServiceName, status: 500 | 502 | 503 = 500): Error {
    const name =
      status === 503
        ? 'ServiceUnavailable'
        : service === 'ec2' || service === 's3'
          ? 'InternalError'
          : 'InternalFailure';
    return new FakeAwsError(name, 'We encountered an internal error. Please try again.', status);
  },
  /**
   * A socket reset as Node's HTTP handler reports it: a plain Error with `code` ECONNRESET and
   * no service metadata (the SDK retries it; code that only looks at `name` sees "Error").
   */
  connectionReset(): Error {
    return Object.assign(new Error('read ECONNRESET'), {
      code: 'ECONNRESET',
      errno: -104,
      syscall: 'read',
      $metadata: { attempts: 1 },
    });
  },
  /** A request timeout as the SDK reports it (name TimeoutError). */
  timeout(): Error {
    const e = new Error('Connection timed out after 30000 ms');
    e.name = 'TimeoutError';
    return e;
  },
};

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const TRANSIENT = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

/** What the SDK's standard and adaptive retry strategies retry on their own. */
export function sdkRetries(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const x = e as {
    name?: string;
    code?: string;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = x.$metadata?.httpStatusCode;
  return (
    x.$retryable !== undefined ||
    THROTTLING.has(x.name ?? '') ||
    TRANSIENT.has(x.name ?? '') ||
    NETWORK.has(x.code ?? '') ||
    status === 429 ||
    status === 500 ||
    status === 502 ||
    status === 503 ||
    status === 504
  );
}
