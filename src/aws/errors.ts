import { CloudmartError, InterruptedError } from '../errors.js';
import { callTargetOf, describeTarget } from './clients.js';

/** Classification of AWS SDK errors. Every step asks these instead of matching names itself. */
interface AwsErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** The AWS error's name (`InvalidAllocationID.NotFound`), '' for anything else. */
export function awsErrorName(e: unknown): string {
  if (typeof e !== 'object' || e === null) return '';
  const x = e as AwsErrorLike;
  return x.name ?? x.Code ?? x.code ?? '';
}

function status(e: unknown): number | undefined {
  return (e as AwsErrorLike | null)?.$metadata?.httpStatusCode;
}

const NOT_FOUND =
  /NotFound|NoSuch|DoesNotExist|NonExistent|NotExist|^InvalidAllocationID\.NotFound$|^InvalidGroup\.NotFound$|WAFNonexistentItemException|ResourceNotFound|TrailNotFound|NoSuchEntity|InvalidParameterValue.*not found/i;

export function isNotFound(e: unknown): boolean {
  const n = awsErrorName(e);
  if (NOT_FOUND.test(n)) return true;
  // Some APIs (ELBv2 LoadBalancerNotFound, AutoScaling ValidationError "not found") only say it in the message.
  if (n === 'ValidationError' && /not found|does not exist/i.test((e as Error).message ?? ''))
    return true;
  return false;
}

/** Resolve to undefined when AWS says the resource is not there (Read treats NotFound as absent). */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function isThrottled(e: unknown): boolean {
  const n = awsErrorName(e);
  return (
    /Throttl|RequestLimitExceeded|TooManyRequests|SlowDown|RequestThrottled|PriorRequestNotComplete/i.test(
      n,
    ) || status(e) === 429
  );
}

export function isDependencyViolation(e: unknown): boolean {
  const n = awsErrorName(e);
  return (
    /DependencyViolation|ResourceInUse|InUse|DeleteConflict|InvalidDBSubnetGroupStateFault|InvalidCacheSubnetState|CannotDelete|WAFAssociatedItem|DistributionNotDisabled|HostedZoneNotEmpty|InvalidStateException/i.test(
      n,
    ) ||
    (n === 'ValidationError' && /in use|currently in use|being/i.test((e as Error).message ?? ''))
  );
}

export function isAlreadyExists(e: unknown): boolean {
  // InvalidSubnet.Conflict: a subnet with that CIDR is already in the VPC (ours, from a create
  // whose answer was lost).
  return /AlreadyExists|Duplicate|EntityAlreadyExists|BucketAlreadyOwnedByYou|ResourceExists|AlreadyOwned|InvalidSubnet\.Conflict/i.test(
    awsErrorName(e),
  );
}

export function isAccessDenied(e: unknown): boolean {
  return (
    /AccessDenied|UnauthorizedOperation|AuthorizationError|Forbidden|NotAuthorized/i.test(
      awsErrorName(e),
    ) || status(e) === 403
  );
}

export function isCredentialsError(e: unknown): boolean {
  const n = awsErrorName(e);
  return (
    /CredentialsProviderError|ExpiredToken|InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|InvalidAccessKeyId|TokenRefreshRequired|AuthFailure/i.test(
      n,
    ) ||
    (/Could not load credentials|credential/i.test((e as Error | null)?.message ?? '') &&
      n.includes('Credentials'))
  );
}

export function isTransient(e: unknown): boolean {
  const s = status(e);
  // Node's socket errors are plain Errors whose `code` says what happened (ECONNRESET, …).
  const code = (e as { code?: unknown } | null)?.code;
  const n = `${awsErrorName(e)} ${typeof code === 'string' ? code : ''}`;
  return (
    isThrottled(e) ||
    (s !== undefined && s >= 500) ||
    /ECONNRESET|ETIMEDOUT|EPIPE|ECONNREFUSED|EAI_AGAIN|TimeoutError|RequestTimeout|InternalError|ServiceUnavailable/i.test(
      n,
    )
  );
}

/** The call a client error came from (see withCallContext in clients.ts). */
interface CallContext {
  operation?: string;
  region?: string;
  resource?: string;
  /** The SDK's service id: `S3`, `RDS`, … */
  service?: string;
}

/**
 * What a wait says while it retries a transient failure: throttling is AWS being busy; a 5xx
 * or a dropped connection is a failure of that call, named as such on every retry.
 */
export function retryingStatus(e: unknown): string {
  if (isThrottled(e)) return `AWS is busy (${awsErrorName(e) || 'throttling'}), retrying`;
  const call = describeCall(e);
  if (call && status(e) !== undefined) return `${call}, retrying`;
  const code = (e as { code?: unknown } | null)?.code;
  const why = [awsErrorName(e), typeof code === 'string' ? code : ''].filter(Boolean).join(' ');
  return `${call || 'the request'} failed (${why || 'no answer'}), retrying`;
}

/**
 * "CreateDistribution cloudmart-cdn (us-east-1) answered HTTP 403": the API call, the resource
 * it named and the HTTP status, as far as the error tells them.
 */
export function describeCall(e: unknown): string {
  const call = (e as { $call?: CallContext } | null)?.$call;
  const code = status(e);
  const parts = [
    call?.operation,
    call?.resource,
    call?.region ? `(${call.region})` : undefined,
    code !== undefined ? `answered HTTP ${code}` : undefined,
  ].filter(Boolean);
  return parts.join(' ');
}

/**
 * The SDK's message, minus what only a developer could act on: a body it could not parse comes
 * as "…inspect the hidden field {error}.$response on this object", which says nothing to a user.
 */
function userMessage(e: unknown): string {
  const message = (e as Error | null)?.message ?? String(e);
  if (/hidden field \{error\}\.\$response|Deserialization error/i.test(message)) {
    return 'AWS answered with a body the SDK could not read (often a proxy or an emulator in between)';
  }
  return message;
}

/**
 * A brand-new account may not create CloudFront resources until AWS has verified it:
 * AccessDenied "Your account must be verified before you can add new CloudFront resources.
 * To verify your account, please contact AWS Support…" (no IAM policy changes that).
 */
export function isAccountNotVerified(e: unknown): boolean {
  return /account must be verified before you can add new CloudFront/i.test(
    (e as Error | null)?.message ?? '',
  );
}

/** A 403 that a resource's own policy decided (a bucket policy's explicit deny), not IAM. */
function isResourcePolicyDenial(e: unknown): boolean {
  return /explicit deny in a resource-based policy|bucket policy/i.test(
    (e as Error | null)?.message ?? '',
  );
}

function isS3(e: unknown): boolean {
  return (
    (e as { $call?: CallContext } | null)?.$call?.service === 'S3' ||
    callTargetOf(e)?.service === 's3'
  );
}

/** A request that never got an AWS answer: refused, reset, unresolvable or timed out. */
export function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const n = `${awsErrorName(e)} ${typeof code === 'string' ? code : ''}`;
  return (
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|TimeoutError/.test(
      n,
    ) || /socket hang up/i.test((e as Error | null)?.message ?? '')
  );
}

/** What a connection error means, in words. */
function connectionProblem(e: unknown): string {
  const text = `${(e as { code?: unknown } | null)?.code as string | undefined} ${awsErrorName(e)} ${(e as Error | null)?.message ?? ''}`;
  if (/ECONNREFUSED/.test(text)) return 'the connection was refused';
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return 'the host name does not resolve';
  if (/ECONNRESET|socket hang up|EPIPE/i.test(text))
    return 'the connection was closed before an answer (socket hang up)';
  if (/TimeoutError|ETIMEDOUT/.test(text)) return 'no answer in time';
  return 'the host cannot be reached';
}

/** Turn an SDK error into a CloudmartError with a clear message and the fix. */
export function explainAwsError(e: unknown, action: string): CloudmartError {
  if (e instanceof CloudmartError) return e;
  // The SDK's answer to an aborted call: the first Ctrl-C or SIGTERM cancelled it.
  if (awsErrorName(e) === 'AbortError') return new InterruptedError();
  const call = describeCall(e);
  const failed = `${action} failed${call ? ` (${call})` : ''}`;
  const message = userMessage(e);
  // --profile / AWS_PROFILE naming a profile that is not there: the SDK's message says so.
  const profile = /Profile (\S+) could not be found/i.exec(message)?.[1];
  if (profile !== undefined) {
    return new CloudmartError(
      'CREDENTIALS',
      `${failed}: there is no AWS profile "${profile}" in ~/.aws/config or ~/.aws/credentials`,
      {
        cause: e,
        hint: `Check the name ("aws configure list-profiles" lists them), or create it with "aws configure --profile ${profile}" ("aws configure sso" for SSO); then run the command again.`,
      },
    );
  }
  if (isConnectionError(e)) {
    const target = callTargetOf(e);
    const where = target ? describeTarget(target) : 'AWS';
    return new CloudmartError(
      'AWS_UNREACHABLE',
      `${failed}: cannot reach ${where}: ${connectionProblem(e)} (${message})`,
      {
        cause: e,
        hint: target?.endpoint
          ? `Start the emulator at ${target.endpoint} (or fix the URL), or unset AWS_ENDPOINT_URL to use real AWS; then run the command again (it resumes where it stopped).`
          : 'Check the network connection and any firewall or proxy in the way to *.amazonaws.com on port 443 (the AWS SDK does not use HTTPS_PROXY); then run the command again (it resumes where it stopped).',
      },
    );
  }
  if (isAccountNotVerified(e)) {
    return new CloudmartError(
      'ACCOUNT_NOT_VERIFIED',
      `${failed}: this AWS account is not yet verified for CloudFront (${message})`,
      {
        cause: e,
        hint: 'No IAM policy changes this: open a case with AWS Support (https://console.aws.amazon.com/support/home#/, "Account and billing") asking to verify the account for CloudFront, quoting the error. Once they confirm, run "cloudmart up" again; it resumes.',
      },
    );
  }
  if (isCredentialsError(e)) {
    return new CloudmartError(
      'CREDENTIALS',
      `${failed}: AWS credentials are missing or expired (${message})`,
      {
        cause: e,
        hint: 'Set AWS_PROFILE (and run "aws sso login" for SSO profiles) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then run the command again.',
      },
    );
  }
  if (isAccessDenied(e) && isResourcePolicyDenial(e)) {
    return new CloudmartError(
      'ACCESS_DENIED',
      `${failed}: the resource's own policy denies it (${message})`,
      {
        cause: e,
        hint: 'This is the bucket (resource) policy, not your IAM permissions: check its Deny statements (for example one that requires HTTPS or a VPC endpoint), then run the command again.',
      },
    );
  }
  // S3 often says only "Access Denied": IAM or the bucket's own policy may have decided it.
  if (isAccessDenied(e) && isS3(e)) {
    return new CloudmartError('ACCESS_DENIED', `${failed}: access denied (${message})`, {
      cause: e,
      hint: 'S3 does not say whether IAM or the bucket policy denied it: if "cloudmart policy" (the IAM policy the operator needs) is attached, check the bucket policy\'s Deny statements (for example one that requires HTTPS or a VPC endpoint); then run the command again.',
    });
  }
  if (isAccessDenied(e)) {
    return new CloudmartError('ACCESS_DENIED', `${failed}: access denied (${message})`, {
      cause: e,
      hint: 'Run "cloudmart policy" for the IAM policy the operator needs, attach it, then run the command again.',
    });
  }
  if (isThrottled(e)) {
    return new CloudmartError(
      'THROTTLED',
      `${failed}: AWS kept throttling the requests (${message})`,
      {
        cause: e,
        hint: 'Wait a minute and run the same command again; it resumes where it stopped.',
      },
    );
  }
  return new CloudmartError('AWS_ERROR', `${failed}: ${awsErrorName(e) || 'Error'}: ${message}`, {
    cause: e,
  });
}
