/**
 * Turns a MySQL / MariaDB driver error into a RotorError without quoting it: mysql2's errors carry
 * the SQL text (`sql`, and `sqlMessage` can echo parts of it), so only the error number and code
 * are used. The same server error number means different things at login and afterwards (MariaDB
 * answers a GRANT of a privilege the grantor lacks with 1045 "Access denied"), hence `phase`.
 */
import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineExceededError,
  InternalError,
  PermissionDeniedError,
  RotorError,
  type SafeCause,
  safeCause,
  TargetUnreachableError,
  UnsupportedError,
} from '../errors.js';
import { classifyNetworkError } from '../network.js';

export interface ClassifyContext {
  /** What was dialled, e.g. `MariaDB at db.example.com:3306`. */
  target: string;
  /** Who logged in / tried to, e.g. `'app'@'%'`. */
  who: string;
  phase: 'login' | 'statement';
  /** For statements: what it was doing, e.g. `create the account 'app_clone'@'%'`. */
  what?: string;
  signal?: AbortSignal;
}

/** Login refusals: wrong password, no such account, locked or blocked account, expired password. */
const AUTH_ERRNOS = new Map<number, string>([
  [1045, 'access denied (wrong password or no such account)'],
  [1698, 'access denied (the account requires another authentication method)'],
  [1130, 'no account matches this user from this client host'],
  [1251, 'the server requires an authentication method the client does not support'],
  [
    1524,
    "the account's authentication plugin is not loaded (MySQL 8.4 disables mysql_native_password by default)",
  ],
  [1820, 'the password has expired'],
  [1862, 'the password has expired'],
  [3118, 'the account is locked'],
  [3955, 'the account is temporarily locked after failed logins'],
  [4150, 'the account is blocked after too many password errors (FLUSH PRIVILEGES unblocks it)'],
  [4151, 'the account is locked'],
]);

/** Privilege refusals of statements. */
const PRIVILEGE_ERRNOS = new Set([
  1044, // database access denied
  1045, // MariaDB: GRANT of a privilege the grantor lacks
  1132, // changing other accounts' passwords needs privileges on mysql
  1142, // table access denied
  1143, // column access denied
  1227, // needs a global privilege (CREATE USER, SUPER, APPLICATION_PASSWORD_ADMIN ...)
  1370, // routine access denied
  1410, // GRANT to a non-existing user without CREATE USER
  3530, // MySQL: role not granted / not allowed
  3892, // MySQL: password_require_current
]);

/**
 * MySQL 8 refusals of a password statement, each with what to do (the numbers are mysqld_error.h's;
 * what causes them: sql/auth/sql_user.cc, and the manual's "Password Management"). None is fixed by
 * retrying the same statement.
 */
const MYSQL8_ACCOUNT_ERRNOS = new Map<number, [typeof ConfigurationError | typeof UnsupportedError, string]>([
  [
    3638,
    [
      ConfigurationError,
      "the account's password history or reuse interval (password_history, password_reuse_interval, or the account's PASSWORD HISTORY / PASSWORD REUSE INTERVAL) refused a password it held before, so rotor cannot set it again (a single-user rollback cannot restore AWSCURRENT's password this way): let this rotation fail so that the next one draws a new password, or reset the account's password by hand, or relax the policy for this account",
    ],
  ],
  [
    3891,
    [
      ConfigurationError,
      "REPLACE named a password that is not the account's primary one (a secondary password or an abandoned rotation's password is in the way): reset the account's password to AWSCURRENT's, or set masterarn so that a managing user changes it",
    ],
  ],
  [
    3894,
    [
      UnsupportedError,
      'RETAIN CURRENT PASSWORD cannot keep a password across a change of authentication plugin: move the account to its new plugin by hand (ALTER USER ... IDENTIFIED WITH ...) before rotating',
    ],
  ],
  [
    1524,
    [
      ConfigurationError,
      'the authentication plugin is not loaded (MySQL 8.4 disables mysql_native_password by default and 9.0 removes it): move the account to caching_sha2_password (ALTER USER ... IDENTIFIED WITH caching_sha2_password BY ...), or load the plugin (--mysql-native-password=ON)',
    ],
  ],
  [
    3878,
    [
      ConfigurationError,
      'the account has an empty password, which RETAIN CURRENT PASSWORD cannot keep as the second one: give the account the AWSCURRENT password first',
    ],
  ],
  [
    3895,
    [
      ConfigurationError,
      'an empty password cannot be set while RETAIN CURRENT PASSWORD keeps the current one',
    ],
  ],
  [
    4058,
    [
      ConfigurationError,
      "authentication_policy names another plugin for the first factor than the account uses: grant AUTHENTICATION_POLICY_ADMIN to the user running the statement, or move the account to the policy's plugin",
    ],
  ],
]);

/** Server refusals of a connection that say nothing about the credentials: retry later. */
const BUSY_ERRNOS = new Map<number, string>([
  [1040, 'too many connections'],
  [1129, 'this client host is blocked after connection errors (FLUSH HOSTS unblocks it)'],
  [1203, 'the account has reached its connection limit'],
]);

/**
 * The server's error number a classified error keeps as its cause's code (see `cause` below), or
 * undefined for an error that carries none.
 */
export function causeCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } } | null | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

export function classifyMysqlError(error: unknown, context: ClassifyContext): RotorError {
  if (error instanceof RotorError) return error;
  const { target, who } = context;
  if (context.signal?.aborted) {
    return classifyNetworkError(error, target, context.signal) ?? new DeadlineExceededError();
  }
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    errno?: unknown;
    code?: unknown;
    message?: unknown;
  };
  const errno = typeof fields.errno === 'number' ? fields.errno : undefined;
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  // mysql2 names server errors after MySQL's list, which MariaDB's numbers above 4000 do not
  // follow: the number is what identifies a server error on both.
  const cause: SafeCause =
    errno === undefined ? safeCause(error) : { name: safeCause(error).name, code: String(errno) };
  const ref = errno === undefined ? (code ?? cause.name) : `error ${errno}`;

  if (code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return new TargetUnreachableError(
      'tls',
      `${target}: the server does not offer TLS; rotor never falls back to plaintext (set tlsMode "disable" or ssl false to allow it)`,
      { cause },
    );
  }
  if (code === 'HANDSHAKE_SSL_ERROR') {
    // mysql2 replaces Node's certificate error code with its own; the message says which check
    // failed. It is matched, never quoted.
    const message = typeof fields.message === 'string' ? fields.message : '';
    const reason = /altname|does not match/i.test(message)
      ? 'the certificate does not name the host (set tlsServerName, or tlsMode "verify-ca")'
      : /expired/i.test(message)
        ? 'the certificate has expired'
        : /self.signed|verify|issuer/i.test(message)
          ? 'the certificate is not signed by a trusted CA (set tlsCa)'
          : 'the handshake failed (set tlsCa, tlsServerName or tlsMode)';
    return new TargetUnreachableError(
      'tls',
      `${target}: TLS verification failed: ${reason}; plaintext is never used silently`,
      { cause },
    );
  }
  if (code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' || code === 'AUTH_SWITCH_PLUGIN_ERROR') {
    return new AuthenticationFailedError(
      `${target}: the server asked ${who} for an authentication method rotor does not use (${code})`,
      { cause },
    );
  }
  if (errno === undefined || errno >= 2000) {
    const network = classifyNetworkError(error, target, context.signal);
    if (network !== undefined) return network;
    if (code === 'PROTOCOL_CONNECTION_LOST' || code === 'PROTOCOL_SEQUENCE_TIMEOUT') {
      return new TargetUnreachableError('network', `${target}: the connection was lost (${code})`, { cause });
    }
  }

  if (errno !== undefined) {
    const busy = BUSY_ERRNOS.get(errno);
    if (busy !== undefined) {
      return new TargetUnreachableError('refused', `${target}: ${busy} (${ref})`, { cause });
    }
    if (context.phase === 'login') {
      const reason = AUTH_ERRNOS.get(errno);
      if (reason !== undefined) {
        return new AuthenticationFailedError(`${target} refused the login of ${who}: ${reason} (${ref})`, {
          cause,
        });
      }
      if (errno === 1044) {
        return new PermissionDeniedError(`${target}: ${who} may not use the configured database (${ref})`, {
          cause,
        });
      }
    } else {
      if (PRIVILEGE_ERRNOS.has(errno)) {
        return new PermissionDeniedError(
          `${target}: ${who} lacks a privilege to ${context.what ?? 'run a statement'} (${ref})`,
          { cause },
        );
      }
      if (errno === 1819) {
        return new ConfigurationError(
          `${target}: the server's password validation refused the new password (${ref}); align rotor's password policy (ROTOR_PASSWORD_LENGTH, ROTOR_PASSWORD_EXCLUDE_CHARACTERS) with validate_password / simple_password_check, or on MariaDB set strict_password_validation=OFF (rotor sends hashes, which cannot be validated)`,
          { cause },
        );
      }
      const mysql8 = MYSQL8_ACCOUNT_ERRNOS.get(errno);
      if (mysql8 !== undefined) {
        const [Kind, explanation] = mysql8;
        return new Kind(`${target}: ${explanation} (${ref})`, { cause });
      }
      if (errno === 1372 || errno === 1827) {
        return new UnsupportedError(
          `${target}: the account's authentication method does not take a mysql_native_password hash (${ref})`,
          { cause },
        );
      }
    }
  }
  const doing = context.phase === 'login' ? `log in as ${who}` : (context.what ?? 'run a statement');
  return new InternalError(`${target}: failed to ${doing} (${ref})`, { cause });
}
