/**
 * The one AWS error classifier (handlers/awsErrors.ts): the same failure means the same thing
 * whichever service answered, and every adapter turns it into the same error class.
 */
import { describe, expect, it } from 'vitest';
import {
  type AwsErrorKind,
  awsError,
  classifyAwsError,
  classifyAwsErrorCode,
} from '../../handlers/awsErrors.js';
import { causeClass } from '../../rotators/causes.js';
import {
  AwsCallError,
  DeadlineExceededError,
  PermissionDeniedError,
  StageConflictError,
} from '../../rotators/errors.js';

/** An SDK-shaped failure: a named Error with the SDK's own fields. */
function sdkError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error('message that may quote a request: hunter2'), { name }, extra);
}

const TABLE: [string, Error, AwsErrorKind, boolean][] = [
  ['Secrets Manager AccessDeniedException', sdkError('AccessDeniedException'), 'denied', false],
  ['RDS AccessDenied', sdkError('AccessDenied'), 'denied', false],
  ['KMS denial', sdkError('KMSAccessDeniedException'), 'denied', false],
  ['EC2-style UnauthorizedOperation', sdkError('UnauthorizedOperation'), 'denied', false],
  ['NotAuthorized', sdkError('NotAuthorized'), 'denied', false],
  ['expired token', sdkError('ExpiredTokenException'), 'credentials', false],
  ['no credentials', sdkError('CredentialsProviderError'), 'credentials', false],
  ['Secrets Manager throttling', sdkError('ThrottlingException'), 'throttled', true],
  ['RDS throttling', sdkError('Throttling'), 'throttled', true],
  ['request limit', sdkError('RequestLimitExceeded'), 'throttled', true],
  ['HTTP 429', sdkError('Unknown', { $metadata: { httpStatusCode: 429 } }), 'throttled', true],
  ['Secrets Manager InternalServiceError', sdkError('InternalServiceError'), 'server', true],
  ['InternalFailure', sdkError('InternalFailure'), 'server', true],
  ['ServiceUnavailable', sdkError('ServiceUnavailable'), 'server', true],
  ['SDK server fault', sdkError('Unknown', { $fault: 'server' }), 'server', true],
  ['HTTP 503', sdkError('Unknown', { $metadata: { httpStatusCode: 503 } }), 'server', true],
  ['connection refused', sdkError('Error', { code: 'ECONNREFUSED' }), 'network', true],
  ['DNS failure', sdkError('Error', { code: 'ENOTFOUND' }), 'network', true],
  ['aborted', sdkError('AbortError'), 'deadline', true],
  ['timed out', sdkError('TimeoutError'), 'deadline', true],
  ['not found', sdkError('ResourceNotFoundException'), 'not-found', false],
  ['RDS instance not found', sdkError('DBInstanceNotFoundFault'), 'not-found', false],
  ['invalid request', sdkError('InvalidRequestException'), 'bad-request', false],
  ['invalid parameter', sdkError('InvalidParameterException'), 'bad-request', false],
  ['validation', sdkError('ValidationException'), 'bad-request', false],
  ['unknown, SDK says retryable', sdkError('Weird', { $retryable: {} }), 'other', true],
  ['unknown', sdkError('Weird'), 'other', false],
];

describe('classifyAwsError', () => {
  it.each(TABLE)('%s', (_label, error, kind, retryable) => {
    // Act
    const found = classifyAwsError(error);
    // Assess
    expect(found).toMatchObject({ kind, retryable, name: error.name });
  });

  it('classifies a response-body error code the same way as a thrown error of that name', () => {
    // Prepare / Act / Assess
    for (const [, error, kind] of TABLE.filter(([, error]) => Object.keys(error).length === 1)) {
      if ((error as { code?: string }).code !== undefined) continue;
      expect(classifyAwsErrorCode(error.name).kind, error.name).toBe(kind);
    }
    expect(classifyAwsErrorCode('Error', 'ECONNRESET').kind).toBe('network');
  });

  it('keeps nothing of the message', () => {
    // Act
    const found = classifyAwsError(sdkError('AccessDeniedException'));
    // Assess
    expect(JSON.stringify(found)).not.toContain('hunter2');
  });
});

describe('awsError', () => {
  const call = { service: 'RDS', operation: 'DescribeDBInstances', target: 'DB instance orders' };

  it.each([
    ['AccessDeniedException', PermissionDeniedError, false],
    ['AccessDenied', PermissionDeniedError, false],
    ['ThrottlingException', AwsCallError, true],
    ['InternalServiceError', AwsCallError, true],
    ['ResourceNotFoundException', AwsCallError, false],
    ['TimeoutError', DeadlineExceededError, true],
  ] as const)('%s becomes %O (retryable %s), whichever service', (name, type, retryable) => {
    for (const service of ['Secrets Manager', 'RDS', 'EventBridge']) {
      // Act
      const error = awsError(sdkError(name), { ...call, service });
      // Assess
      expect(error).toBeInstanceOf(type);
      expect(error.retryable).toBe(retryable);
      expect(error.message).not.toContain('hunter2');
    }
  });

  it('words a denial with the call, the target and the fix', () => {
    // Act
    const error = awsError(sdkError('AccessDenied'), { ...call, deniedFix: 'allow it' });
    // Assess
    expect(error.message).toBe(
      'RDS DescribeDBInstances on DB instance orders was denied (AccessDenied): allow it',
    );
  });

  it('gives an AWS denial the AWS cause class, and a database privilege the privilege class', () => {
    // Prepare
    const denial = awsError(sdkError('AccessDeniedException'), {
      service: 'Secrets Manager',
      operation: 'X',
    });
    const grant = new PermissionDeniedError('the master lacks CREATEROLE');
    // Act / Assess
    expect(causeClass({ name: denial.name, message: denial.message })).toBe('aws');
    expect(causeClass({ name: grant.name, message: grant.message })).toBe('privilege');
  });

  it("passes rotor's own errors through", () => {
    // Prepare
    const own = new StageConflictError('stuck');
    // Act / Assess
    expect(awsError(own, call)).toBe(own);
  });
});
