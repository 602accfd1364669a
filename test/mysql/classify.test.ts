/**
 * Unit tests of how driver errors become RotorErrors: by error number and phase, never quoting the
 * driver's message or SQL (mysql2 errors carry the statement, which can hold a password).
 */
import { describe, expect, it } from 'vitest';
import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineExceededError,
  InternalError,
  PermissionDeniedError,
  TargetUnreachableError,
  UnsupportedError,
} from '../../rotators/errors.js';
import { type ClassifyContext, classifyMysqlError } from '../../rotators/mysql/client.js';

const LOGIN: ClassifyContext = { target: 'MariaDB at db:3306', who: "'app'@'%'", phase: 'login' };
const STATEMENT: ClassifyContext = {
  ...LOGIN,
  phase: 'statement',
  what: "set the password of 'app_clone'@'%'",
};

/** An error shaped like mysql2's, carrying the SQL and a message that quotes it. */
function driverError(errno: number, code: string, sql = "ALTER USER x IDENTIFIED BY 'S3cret-pw'") {
  return Object.assign(new Error(`Access denied near '${sql}'`), {
    errno,
    code,
    sqlState: '28000',
    sql,
    sqlMessage: `near '${sql}'`,
  });
}

describe('classifyMysqlError', () => {
  it('calls access denied at login an authentication failure', () => {
    // Act
    const error = classifyMysqlError(driverError(1045, 'ER_ACCESS_DENIED_ERROR'), LOGIN);
    // Assess
    expect(error).toBeInstanceOf(AuthenticationFailedError);
  });

  it("calls MariaDB's access denied for a GRANT a missing privilege", () => {
    // Act
    const error = classifyMysqlError(driverError(1045, 'ER_ACCESS_DENIED_ERROR'), STATEMENT);
    // Assess
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error.message).toContain("set the password of 'app_clone'@'%'");
  });

  it.each([
    [3118, 'MySQL locked account'],
    [4151, 'MariaDB locked account'],
    [4150, 'MariaDB blocked after password errors'],
    [1862, 'expired password'],
  ])('calls error %i (%s) at login an authentication failure', (errno) => {
    // Act
    const error = classifyMysqlError(driverError(errno, 'ER_WHATEVER'), LOGIN);
    // Assess
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    expect(error.message).toContain(`error ${errno}`);
  });

  it.each([
    [3638, ConfigurationError, /password history or reuse interval/],
    [3891, ConfigurationError, /REPLACE named a password that is not the account's primary/],
    [3894, UnsupportedError, /change of authentication plugin/],
    [1524, ConfigurationError, /mysql_native_password by default/],
    [3878, ConfigurationError, /empty password/],
    [4058, ConfigurationError, /AUTHENTICATION_POLICY_ADMIN/],
  ])('names a fix for MySQL 8 password statement error %i, not retryable', (errno, Kind, fix) => {
    // Act
    const error = classifyMysqlError(driverError(errno, 'ER_WHATEVER'), STATEMENT);
    // Assess
    expect(error).toBeInstanceOf(Kind);
    expect(error.message).toMatch(fix);
    expect(error.message).toContain(`error ${errno}`);
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain('S3cret-pw');
  });

  it("calls a login to an account whose plugin is not loaded (8.4's mysql_native_password) an authentication failure", () => {
    // Act
    const error = classifyMysqlError(driverError(1524, 'ER_PLUGIN_IS_NOT_LOADED'), LOGIN);
    // Assess
    expect(error).toBeInstanceOf(AuthenticationFailedError);
    expect(error.message).toContain('mysql_native_password');
  });

  it('refuses to fall back to plaintext when the server offers no TLS', () => {
    // Prepare
    const driver = Object.assign(new Error('Server does not support secure connection'), {
      code: 'HANDSHAKE_NO_SSL_SUPPORT',
    });
    // Act
    const error = classifyMysqlError(driver, LOGIN);
    // Assess
    expect(error).toBeInstanceOf(TargetUnreachableError);
    expect((error as TargetUnreachableError).reason).toBe('tls');
  });

  it('reports a refused connection as unreachable and retryable', () => {
    // Prepare
    const driver = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:3306'), { code: 'ECONNREFUSED' });
    // Act
    const error = classifyMysqlError(driver, LOGIN);
    // Assess
    expect(error).toMatchObject({ name: 'TargetUnreachableError', reason: 'refused', retryable: true });
  });

  it('reports anything after the signal aborted as the deadline', () => {
    // Prepare
    const controller = new AbortController();
    controller.abort();
    // Act
    const error = classifyMysqlError(driverError(1045, 'ER_ACCESS_DENIED_ERROR'), {
      ...LOGIN,
      signal: controller.signal,
    });
    // Assess
    expect(error).toBeInstanceOf(DeadlineExceededError);
  });

  it("points a password-policy refusal at rotor's policy and the server's", () => {
    // Act
    const error = classifyMysqlError(driverError(1819, 'ER_NOT_VALID_PASSWORD'), STATEMENT);
    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
  });

  it('wraps an unknown server error without its message', () => {
    // Act
    const error = classifyMysqlError(driverError(1396, 'ER_CANNOT_USER'), STATEMENT);
    // Assess
    expect(error).toBeInstanceOf(InternalError);
    expect(error.message).toContain('error 1396');
  });

  it('never carries the SQL, the driver message or the password', () => {
    // Prepare
    const samples = [
      classifyMysqlError(driverError(1045, 'ER_ACCESS_DENIED_ERROR'), LOGIN),
      classifyMysqlError(driverError(1227, 'ER_SPECIFIC_ACCESS_DENIED_ERROR'), STATEMENT),
      classifyMysqlError(driverError(1064, 'ER_PARSE_ERROR'), STATEMENT),
    ];
    // Act
    const text = samples
      .map((error) =>
        [String(error), JSON.stringify(error), error.stack, JSON.stringify(error.cause)].join('\n'),
      )
      .join('\n');
    // Assess
    expect(text).not.toContain('S3cret-pw');
    expect(text).not.toContain('ALTER USER');
    expect(samples.map((error) => error.cause)).toEqual([
      { name: 'Error', code: '1045' },
      { name: 'Error', code: '1227' },
      { name: 'Error', code: '1064' },
    ]);
  });
});
