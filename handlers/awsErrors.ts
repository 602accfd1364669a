/**
 * The one AWS error classifier: what an SDK failure means, whichever service answered. Every AWS
 * adapter (handlers/secrets.ts, handlers/rds.ts, handlers/events.ts) and the CLI (cli/aws.ts, which
 * words it for an operator and maps it to an exit code) classify with it, so that events, metrics,
 * alarms and exit codes agree about the same cause:
 *
 * - `deadline`: the call was aborted or timed out (the Lambda deadline) — DeadlineExceededError;
 * - `denied`: IAM or KMS said no — PermissionDeniedError, never retryable;
 * - `credentials`: the caller's credentials were refused or missing — not retryable;
 * - `throttled` and `server` (throttling, 5xx): retryable;
 * - `network`: AWS could not be reached (refused, DNS, reset) — retryable;
 * - `not-found` and `bad-request`: the request names something absent or is refused — not retryable;
 * - `other`: retryable only when the SDK marked it so (`$retryable`).
 *
 * Only the error's name and code are kept (safeCause): AWS messages can quote request content.
 */
import {
  AwsCallError,
  DeadlineExceededError,
  PermissionDeniedError,
  RotorError,
  safeCause,
} from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';

export type AwsErrorKind =
  | 'deadline'
  | 'denied'
  | 'credentials'
  | 'throttled'
  | 'server'
  | 'network'
  | 'not-found'
  | 'bad-request'
  | 'other';

export interface AwsErrorClass {
  readonly kind: AwsErrorKind;
  readonly retryable: boolean;
  /** The error's name (`AccessDeniedException`) and code (`ECONNREFUSED`), nothing else. */
  readonly name: string;
  readonly code?: string;
}

/** AccessDenied, AccessDeniedException, KMSAccessDeniedException, UnauthorizedOperation, ... */
const DENIED = /AccessDenied|UnauthorizedOperation|AuthorizationError|NotAuthorized/;
const CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'TokenRefreshRequired',
]);
const THROTTLED = /Throttl|RequestLimitExceeded|TooManyRequests|SlowDown/;
const SERVER =
  /^(?:InternalServiceError(?:Exception)?|InternalFailure|InternalError|InternalServerError|ServiceUnavailable(?:Exception)?)$/;
const NOT_FOUND = new Set(['ResourceNotFoundException', 'DBInstanceNotFoundFault', 'DBClusterNotFoundFault']);
const BAD_REQUEST = new Set([
  'InvalidParameterException',
  'ValidationException',
  'InvalidRequestException',
  'ResourceExistsException',
  'MalformedPolicyDocumentException',
  'InvalidParameterValue',
  'InvalidParameterCombination',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EPIPE',
]);

interface SdkShape {
  $retryable?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** What an AWS SDK failure means (see the module comment). */
export function classifyAwsError(error: unknown): AwsErrorClass {
  const cause = safeCause(error);
  const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  const sdk = (typeof error === 'object' && error !== null ? error : {}) as SdkShape;
  const status = sdk.$metadata?.httpStatusCode;
  return classifyParts({
    name: cause.name,
    ...optional('code', code),
    ...(typeof status === 'number' ? { status } : {}),
    server: sdk.$fault === 'server',
    sdkRetryable: sdk.$retryable !== undefined,
  });
}

/**
 * An error name AWS returned in a response body (a PutEvents entry's `ErrorCode`, say), or the
 * name and code a RotorError kept of its cause.
 */
export function classifyAwsErrorCode(name: string, code?: string): AwsErrorClass {
  return classifyParts({ name, ...optional('code', code), server: false, sdkRetryable: false });
}

interface Parts {
  name: string;
  code?: string;
  status?: number;
  server: boolean;
  sdkRetryable: boolean;
}

function classifyParts({ name, code, status, server, sdkRetryable }: Parts): AwsErrorClass {
  const of = (kind: AwsErrorKind, retryable: boolean): AwsErrorClass =>
    code === undefined ? { kind, retryable, name } : { kind, retryable, name, code };
  if (name === 'AbortError' || name === 'TimeoutError') return of('deadline', true);
  if (DENIED.test(name)) return of('denied', false);
  if (CREDENTIALS.has(name) || /credential/i.test(name)) return of('credentials', false);
  if (THROTTLED.test(name) || status === 429) return of('throttled', true);
  if (SERVER.test(name) || server || (status !== undefined && status >= 500)) return of('server', true);
  if (code !== undefined && NETWORK_CODES.has(code)) return of('network', true);
  if (NOT_FOUND.has(name)) return of('not-found', false);
  if (BAD_REQUEST.has(name)) return of('bad-request', false);
  return of('other', sdkRetryable);
}

/** One AWS call, as error messages name it. */
export interface AwsCall {
  /** `Secrets Manager`, `RDS`, `EventBridge`. */
  readonly service: string;
  /** `DescribeSecret`, ... */
  readonly operation: string;
  /** What it was about (`DB instance orders`), when the message should say. */
  readonly target?: string;
  /** What to do about a denial (appended to the message). */
  readonly deniedFix?: string;
}

/**
 * An AWS SDK failure as the RotorError its class calls for, quoting nothing but its name. A
 * RotorError (thrown by rotor's own code inside the call) passes through unchanged.
 */
export function awsError(error: unknown, call: AwsCall): RotorError {
  if (error instanceof RotorError) return error;
  const cause = safeCause(error);
  const found = classifyAwsError(error);
  const what = `${call.service} ${call.operation}${call.target === undefined ? '' : ` on ${call.target}`}`;
  switch (found.kind) {
    case 'deadline':
      return new DeadlineExceededError(
        `${call.service} ${call.operation} did not answer before the Lambda deadline`,
      );
    case 'denied':
      return new PermissionDeniedError(
        `${what} was denied (${found.name})${call.deniedFix === undefined ? '' : `: ${call.deniedFix}`}`,
        { cause },
      );
    default:
      return new AwsCallError(`${what} failed: ${found.name}`, { cause, retryable: found.retryable });
  }
}
