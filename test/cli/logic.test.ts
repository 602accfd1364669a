/** The CLI's pure decisions: overdue, stuck, names to ARNs, durations, outcomes, exit codes. */
import { describe, expect, it } from 'vitest';
import { awsFailure, EXIT, exitCodeOf } from '../../cli/aws.js';
import { validRegion } from '../../cli/commands/replicate.js';
import { shortError, shortMessage } from '../../cli/commands/rotate.js';
import { lastOutcome } from '../../cli/commands/status.js';
import type { RotorEventRecord } from '../../cli/events.js';
import { parseDuration } from '../../cli/io.js';
import { functionArnFor, overdue, rotationInterval, stuckPendingVersion } from '../../cli/secrets.js';
import { scheduleProblem, windowHours } from '../../deploy/schedule.js';
import { isRotorFunction } from '../../handlers/healFunction.js';
import { ConfigurationError, InvalidSecretError, StageConflictError } from '../../rotators/errors.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-15T12:00:00Z');
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf';

function awsError(name: string, message = '', code?: string): Error {
  const error = new Error(message);
  error.name = name;
  if (code !== undefined) Object.assign(error, { code });
  return error;
}

describe('overdue', () => {
  it('is overdue when NextRotationDate has passed', () => {
    // Act
    const result = overdue({ RotationEnabled: true, NextRotationDate: new Date(NOW - 1000) }, NOW);
    // Assess
    expect(result.overdue).toBe(true);
    expect(result.reason).toContain('was due');
  });

  it('is overdue when no rotation happened within the interval and its window', () => {
    // Act
    const result = overdue(
      {
        RotationEnabled: true,
        RotationRules: { ScheduleExpression: 'rate(7 days)', Duration: '4h' },
        LastRotatedDate: new Date(NOW - 8 * DAY),
      },
      NOW,
    );
    // Assess
    expect(result).toEqual({ overdue: true, reason: expect.stringContaining('every 168 h') });
  });

  it('counts from the creation date of a secret never rotated', () => {
    // Act
    const result = overdue(
      {
        RotationEnabled: true,
        RotationRules: { AutomaticallyAfterDays: 30 },
        CreatedDate: new Date(NOW - 40 * DAY),
      },
      NOW,
    );
    // Assess
    expect(result.overdue).toBe(true);
  });

  it('is not overdue on schedule, inside the window, or with rotation disabled', () => {
    // Act
    const results = [
      overdue(
        {
          RotationEnabled: true,
          RotationRules: { ScheduleExpression: 'rate(7 days)' },
          LastRotatedDate: new Date(NOW - 7 * DAY - 3_600_000),
          NextRotationDate: new Date(NOW + DAY),
        },
        NOW,
      ),
      overdue({ RotationEnabled: false, NextRotationDate: new Date(NOW - DAY) }, NOW),
    ];
    // Assess
    expect(results.map((result) => result.overdue)).toEqual([false, false]);
  });

  it('reads rate expressions in days and hours and AutomaticallyAfterDays; not cron', () => {
    // Act
    const intervals = [
      rotationInterval({ ScheduleExpression: 'rate(30 days)' }),
      rotationInterval({ ScheduleExpression: 'rate(12 hours)' }),
      rotationInterval({ AutomaticallyAfterDays: 2 }),
      rotationInterval({ ScheduleExpression: 'cron(0 3 ? * SUN *)' }),
    ];
    // Assess
    expect(intervals).toEqual([30 * DAY, 12 * 3_600_000, 2 * DAY, undefined]);
  });
});

describe('stuck AWSPENDING', () => {
  it('is stuck only on a version that is not AWSCURRENT', () => {
    // Act
    const stuck = [
      stuckPendingVersion({ a: ['AWSCURRENT'], b: ['AWSPENDING'] }),
      stuckPendingVersion({ a: ['AWSCURRENT', 'AWSPENDING'], b: ['AWSPREVIOUS'] }),
      stuckPendingVersion({ a: ['AWSCURRENT'] }),
    ];
    // Assess
    expect(stuck).toEqual(['b', undefined, undefined]);
  });
});

describe('function names', () => {
  it("expands a name with the secret's partition, region and account; keeps an ARN", () => {
    // Act
    const expanded = [
      functionArnFor('rotor-prod-postgres', ARN),
      functionArnFor('rotor-x', 'arn:aws-cn:secretsmanager:cn-north-1:210987654321:secret:x-AbCdEf'),
      functionArnFor('arn:aws:lambda:us-east-1:1:function:other', ARN),
    ];
    // Assess
    expect(expanded).toEqual([
      'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres',
      'arn:aws-cn:lambda:cn-north-1:210987654321:function:rotor-x',
      'arn:aws:lambda:us-east-1:1:function:other',
    ]);
  });

  it("recognises rotor's functions by ARN prefix or function-name prefix (the heal function's setting)", () => {
    // Prepare
    const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-postgres';
    // Act
    const matches = [
      isRotorFunction(fn, ['arn:aws:lambda:eu-west-1:123456789012:function:rotor-prod-']),
      isRotorFunction(fn, ['rotor-prod-']),
      isRotorFunction(fn, ['rotor-staging-', 'arn:aws:lambda:us-east-1:']),
      isRotorFunction(undefined, ['rotor-']),
    ];
    // Assess
    expect(matches).toEqual([true, true, false, false]);
  });
});

describe('option values', () => {
  it('parses durations: seconds, minutes (the default unit), hours, days', () => {
    // Act
    const values = ['90s', '60m', '15', '4h', '2d', 'soon', '-5m'].map((text) => parseDuration(text));
    const bareSeconds = ['90', '90s', '5m', '1h'].map((text) => parseDuration(text, 's'));
    // Assess
    expect(values).toEqual([90_000, 3_600_000, 900_000, 14_400_000, 2 * DAY, undefined, undefined]);
    expect(bareSeconds).toEqual([90_000, 90_000, 300_000, 3_600_000]);
  });

  it('accepts the schedule expressions and windows Secrets Manager accepts', () => {
    // Act
    const schedules = [
      'rate(30 days)',
      'rate(4 hours)',
      'cron(0 3 ? * SUN *)',
      'every month',
      'rate(0 days)',
      'cron(30 22 ? * SUN 2027)',
      'cron(0 22 ? * SUN 2027)',
    ].map((text) => scheduleProblem(text) === undefined);
    const windows = ['4h', '24h', '1h', '0h', '25h', '90m', '04h'].map(
      (text) => windowHours(text) !== undefined,
    );
    const regions = ['eu-west-1', 'us-gov-west-1', 'EU-WEST-1', 'mars'].map(validRegion);
    // Assess
    expect(schedules).toEqual([true, true, true, false, false, false, false]);
    expect(windows).toEqual([true, true, true, false, false, false, false]);
    expect(regions).toEqual([true, true, false, false]);
  });
});

describe('last outcome', () => {
  const at = (minutes: number) => new Date(NOW + minutes * 60_000);
  const event = (minutes: number, fields: Partial<RotorEventRecord>): RotorEventRecord => ({
    time: at(minutes),
    kind: 'step-succeeded',
    secretArn: ARN,
    ...fields,
  });

  it('is the last thing that ended: a finished finishSecret counts as success (logs have no rotation line)', () => {
    // Act
    const outcome = lastOutcome([
      event(1, { kind: 'step-failed', step: 'testSecret', error: { name: 'AuthenticationFailedError' } }),
      event(2, { step: 'finishSecret' }),
      event(3, { kind: 'step-started', step: 'createSecret' }),
    ]);
    // Assess
    expect(outcome).toEqual({ result: 'succeeded', time: at(2).toISOString() });
  });

  it('reports a failed step with its step and error class', () => {
    // Act
    const outcome = lastOutcome([
      event(1, { kind: 'rotation-succeeded' }),
      event(2, { kind: 'step-failed', step: 'setSecret', error: { name: 'PermissionDeniedError' } }),
    ]);
    // Assess
    expect(outcome).toEqual({
      result: 'failed',
      time: at(2).toISOString(),
      step: 'setSecret',
      error: 'PermissionDeniedError',
    });
  });

  it('is null when nothing is known', () => {
    // Act
    const outcome = lastOutcome([event(1, { kind: 'step-started' })]);
    // Assess
    expect(outcome).toBeNull();
  });

  it("drops the step machine's `<step> of <arn>:` prefix from error messages", () => {
    // Act
    const text = shortError({
      name: 'VerificationFailedError',
      message: `testSecret of ${ARN}: probe failed`,
    });
    // Assess
    expect(text).toBe('VerificationFailedError: probe failed');
    // attach's failure message drops the same prefix
    expect(shortMessage(`setSecret of ${ARN}: probe failed`)).toBe('probe failed');
  });
});

describe('errors and exit codes', () => {
  it('names the IAM permission AWS denied, and exits 3', () => {
    // Act
    const error = awsFailure(
      awsError('AccessDeniedException'),
      'secretsmanager:DescribeSecret',
      'prod/db',
      'AWS',
    );
    // Assess
    expect(error.message).toContain("allow secretsmanager:DescribeSecret in the caller's IAM policy");
    expect(exitCodeOf(error)).toBe(EXIT.aws);
  });

  it('adds kms:Decrypt when reading a value was denied', () => {
    // Act
    const error = awsFailure(
      awsError('AccessDeniedException'),
      'secretsmanager:GetSecretValue',
      'prod/db',
      'AWS',
    );
    // Assess
    expect(error.message).toContain('kms:Decrypt');
  });

  it('says a secret was not found (exit 2), and points at heal for a stuck rotation (exit 1)', () => {
    // Act
    const missing = awsFailure(
      awsError('ResourceNotFoundException'),
      'secretsmanager:DescribeSecret',
      'prod/x',
      'AWS',
    );
    const stuck = awsFailure(
      awsError(
        'InvalidRequestException',
        "A previous rotation isn't complete. That rotation will be reattempted.",
      ),
      'secretsmanager:RotateSecret',
      'prod/db',
      'AWS',
    );
    // Assess
    expect([missing.message, exitCodeOf(missing)]).toEqual([
      expect.stringContaining('was not found'),
      EXIT.usage,
    ]);
    expect(stuck).toBeInstanceOf(StageConflictError);
    expect([stuck.message, exitCodeOf(stuck)]).toEqual([
      expect.stringContaining('rotor heal prod/db'),
      EXIT.failure,
    ]);
  });

  it('explains bad credentials, a missing region and an unreachable endpoint', () => {
    // Act
    const credentials = awsFailure(
      awsError('ExpiredTokenException'),
      'secretsmanager:ListSecrets',
      undefined,
      'AWS',
    );
    const region = awsFailure(
      awsError('Error', 'Region is missing'),
      'secretsmanager:ListSecrets',
      undefined,
      'AWS',
    );
    const network = awsFailure(
      awsError('Error', 'connect ECONNREFUSED', 'ECONNREFUSED'),
      'secretsmanager:ListSecrets',
      undefined,
      'http://127.0.0.1:1',
    );
    // Assess
    expect([credentials.message, exitCodeOf(credentials)]).toEqual([
      expect.stringContaining('--profile'),
      EXIT.aws,
    ]);
    expect(region).toBeInstanceOf(ConfigurationError);
    expect(exitCodeOf(region)).toBe(EXIT.usage);
    expect([network.message, exitCodeOf(network)]).toEqual([
      expect.stringContaining('cannot reach http://127.0.0.1:1'),
      EXIT.aws,
    ]);
  });

  it('exits 2 for a secret value that does not parse', () => {
    // Act
    const code = exitCodeOf(new InvalidSecretError('port', 'must be a port number'));
    // Assess
    expect(code).toBe(EXIT.usage);
  });
});
