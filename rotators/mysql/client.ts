/**
 * The only file that imports the driver (mysql2). It opens one connection per call, bounded by the
 * request's deadline and signal, with TLS verified unless the secret says plaintext, and turns
 * every driver error into a RotorError before anything else sees it.
 *
 * No replayable credential leaves without verified TLS: on a plaintext connection the
 * authentication plugins that would send the password itself (`mysql_clear_password`, MariaDB's
 * PAM `dialog`) or encrypt it with an RSA key the server sends (`sha256_password`, and
 * `caching_sha2_password`'s full authentication) are replaced by ones that refuse with
 * InsecureAuthenticationError before sending anything. What is left on plaintext is the
 * challenge-response of `mysql_native_password` and `caching_sha2_password`'s fast path: a server
 * learns nothing it can log in with. (test/security/mysqlAuth.test.ts proves it with a fake server.)
 */
import { createHash } from 'node:crypto';
import { isIP, connect as netConnect } from 'node:net';
import type { AuthPlugin, Connection } from 'mysql2';
import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineExceededError,
  InsecureAuthenticationError,
  InternalError,
  PermissionDeniedError,
  RotorError,
  type SafeCause,
  safeCause,
  TargetUnreachableError,
  UnsupportedError,
} from '../errors.js';
import { classifyNetworkError } from '../network.js';
import { lazyDriver } from '../sql/kit.js';
import { driverSslOptions, type TlsSettings } from '../tls.js';
import {
  type Account,
  describeServer,
  formatAccount,
  parseCurrentUser,
  parseServerVersion,
  SESSION_INFO,
  type ServerInfo,
} from './sql.js';

// ---------------------------------------------------------------------------------------------
// The session slice the rotator uses

/**
 * The slice of a MySQL connection the rotator uses, declared here so that the rotator depends on
 * this and not on the driver (client.ts is the only file that imports mysql2), and so that unit
 * tests can record the statements of flows no local server runs (MySQL 8).
 */
export type Row = Readonly<Record<string, unknown>>;

export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Database to open (proves the account can use it). */
  database?: string;
  tls: TlsSettings;
  /** Aborts the connection (and any statement in flight). */
  signal: AbortSignal;
  /** Epoch milliseconds: bounds the connect and every statement. */
  deadline: number;
}

/** One open connection. Every failure is thrown as a RotorError that quotes no SQL and no secret. */
export interface MysqlSession {
  readonly server: ServerInfo;
  /** `CURRENT_USER()`: the account the server matched the login to. */
  readonly account: Account;
  /**
   * Runs one statement. `what` says what it does ("change the password of 'app'@'%'") for error
   * messages, which never quote the statement itself.
   */
  query(sql: string, what: string): Promise<Row[]>;
  /** Closes the connection; never throws. */
  close(): Promise<void>;
}

export type Connect = (options: ConnectOptions) => Promise<MysqlSession>;

/** Longest wait for a connection, whatever the deadline: a silent host should fail fast enough to retry. */
const MAX_CONNECT_MS = 10_000;

/** Whether the connection's server is authenticated by its certificate (any mode but `disable`). */
export function isVerifiedTls(settings: TlsSettings): boolean {
  return settings.mode !== 'disable';
}

/** Plugins whose client part sends the password itself. */
const CLEARTEXT_PLUGINS = ['mysql_clear_password', 'dialog'] as const;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** caching_sha2_password's scramble response: SHA256(p) XOR SHA256(SHA256(SHA256(p)) + scramble). */
function cachingSha2Token(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, 'utf8'));
  const stage3 = sha256(Buffer.concat([sha256(stage1), scramble]));
  return Buffer.from(stage1.map((byte, i) => byte ^ (stage3[i] as number)));
}

const FAST_AUTH_SUCCESS = 3;
const PERFORM_FULL_AUTHENTICATION = 4;

/**
 * The authentication plugins of a connection without verified TLS: every plugin that would put the
 * password (or the password encrypted with a key the server chose) on the wire refuses instead.
 * A refusal rejects the plugin's promise: mysql2 then fails the handshake with that error, and
 * nothing was written for it.
 */
function plaintextAuthPlugins(target: string, who: string): Record<string, AuthPlugin> {
  const refuse = (plugin: string, how: string) =>
    new InsecureAuthenticationError(
      `${target}: the server asked ${who} to authenticate with ${plugin}, which ${how}, on a connection without verified TLS; nothing was sent (enable TLS: remove ssl false / tlsMode "disable")`,
    );
  const refusing =
    (plugin: string, how: string): AuthPlugin =>
    () =>
    () =>
      Promise.reject<Buffer>(refuse(plugin, how));
  const plugins: Record<string, AuthPlugin> = {
    sha256_password: refusing(
      'sha256_password',
      'sends the password in cleartext or encrypted with an RSA key the server sends',
    ),
    caching_sha2_password: ({ connection }) => {
      let scrambled = false;
      return (data) => {
        // The first call carries the scramble; later ones the server's AuthMoreData status.
        if (!scrambled) {
          scrambled = true;
          const password = String((connection.config as { password?: unknown }).password ?? '');
          return cachingSha2Token(password, data.subarray(0, 20));
        }
        if (data.length === 1 && data[0] === FAST_AUTH_SUCCESS) return null;
        if (data.length === 1 && data[0] === PERFORM_FULL_AUTHENTICATION) {
          return Promise.reject<Buffer>(
            refuse(
              'caching_sha2_password full authentication',
              'sends the password encrypted with an RSA key the server itself sends (or in cleartext)',
            ),
          );
        }
        return Promise.reject<Buffer>(
          refuse('caching_sha2_password', 'answered with data rotor does not expect'),
        );
      };
    },
  };
  for (const plugin of CLEARTEXT_PLUGINS) {
    plugins[plugin] = refusing(plugin, 'sends the password in cleartext');
  }
  return plugins;
}

function remaining(deadline: number): number {
  return deadline - Date.now();
}

/** mysql2, loaded on the first connection (../sql/kit.ts `lazyDriver`). */
const loadDriver = lazyDriver('mysql2', () => import('mysql2'));

export const connectMysql: Connect = async (options: ConnectOptions): Promise<MysqlSession> => {
  const { host, port, signal, deadline } = options;
  // The flavour is known once logged in; until then the target is named neutrally.
  const target = `MySQL/MariaDB at ${host}:${port}`;
  const who = `'${options.user}'`;
  if (signal.aborted || remaining(deadline) <= 0) {
    throw new DeadlineExceededError(`${target}: no time left to connect before the Lambda deadline`);
  }
  const ssl = driverSslOptions(options.tls);
  // mysql2 verifies the certificate against (and sends SNI for) the host it is given. To verify
  // another name (tlsServerName: a tunnel, a proxy), it is given that name and dials the real host
  // through its stream option.
  const serverName = options.tls.mode !== 'disable' ? options.tls.serverName : undefined;
  const nameHost = serverName !== undefined && serverName !== host ? serverName : undefined;
  const dial = () => {
    const socket = netConnect({ host, port });
    socket.setNoDelay(true);
    // For an IP address mysql2 sends no servername, and Node then checks the certificate against
    // the socket's `_host`, which net leaves null for IP addresses: the check falls back to the
    // name "localhost", and any certificate for localhost would pass for every IP. Naming the
    // address makes Node check the certificate's IP entries. (test/mysql/tls.test.ts guards it.)
    if (nameHost === undefined && isIP(host) !== 0) (socket as unknown as { _host: string })._host = host;
    return socket;
  };
  const { createConnection } = await loadDriver();
  let connection: Connection;
  try {
    connection = createConnection({
      host: nameHost ?? host,
      port,
      user: options.user,
      password: options.password,
      ...(options.database === undefined ? {} : { database: options.database }),
      ...(ssl === undefined ? {} : { ssl }),
      ...(isVerifiedTls(options.tls) ? {} : { authPlugins: plaintextAuthPlugins(target, who) }),
      stream: dial,
      connectTimeout: Math.max(1, Math.min(MAX_CONNECT_MS, remaining(deadline))),
      // Never send a file a server asks for (LOAD DATA LOCAL), never more than one statement.
      flags: ['-LOCAL_FILES', '-MULTI_STATEMENTS'],
      multipleStatements: false,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      charset: 'utf8mb4_general_ci',
    });
  } catch (error) {
    throw classifyMysqlError(error, { target, who, phase: 'login', signal });
  }
  // Errors after the handshake surface through the command that was running; an idle connection
  // that breaks must not crash the process with an unhandled 'error' event.
  connection.on('error', () => undefined);
  const abort = () => connection.destroy();
  signal.addEventListener('abort', abort, { once: true });
  const release = () => signal.removeEventListener('abort', abort);

  /**
   * Settles with the driver's callback or with the abort, whichever comes first: mysql2 never
   * calls back a handshake or a query whose connection was destroyed.
   */
  const untilAborted = <T>(work: (callback: (error: unknown, value?: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onAbort = () =>
        reject(new DeadlineExceededError(`${target}: no answer before the Lambda deadline`));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      work((error, value) => {
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value as T);
      });
    });

  const run = (sql: string): Promise<Row[]> => {
    const timeout = remaining(deadline);
    if (timeout <= 0) {
      return Promise.reject(
        new DeadlineExceededError(`${target}: no time left for a statement before the Lambda deadline`),
      );
    }
    return untilAborted<Row[]>((done) =>
      connection.query({ sql, timeout }, (error, rows) =>
        done(error, Array.isArray(rows) ? (rows as Row[]) : []),
      ),
    );
  };

  const close = async (): Promise<void> => {
    release();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        connection.destroy();
        resolve();
      }, 1_000);
      connection.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  };

  let server: ServerInfo;
  let account: MysqlSession['account'];
  try {
    await untilAborted<void>((done) => connection.connect((error) => done(error)));
  } catch (error) {
    release();
    connection.destroy();
    throw classifyMysqlError(error, { target, who, phase: 'login', signal });
  }
  try {
    const [info] = await run(SESSION_INFO);
    const parsed = parseServerVersion(String(info?.version ?? ''));
    if (parsed === undefined) throw new TypeError('unrecognised server version');
    server = { ...parsed, noBackslashEscapes: /NO_BACKSLASH_ESCAPES/i.test(String(info?.sqlMode ?? '')) };
    account = parseCurrentUser(String(info?.currentUser ?? ''));
  } catch (error) {
    await close();
    throw classifyMysqlError(error, {
      target,
      who,
      phase: 'statement',
      what: 'read the server version',
      signal,
    });
  }
  const named = `${describeServer(server)} at ${host}:${port}`;
  const whoAmI = formatAccount(account);
  return {
    server,
    account,
    async query(sql, what) {
      try {
        return await run(sql);
      } catch (error) {
        throw classifyMysqlError(error, { target: named, who: whoAmI, phase: 'statement', what, signal });
      }
    },
    close,
  };
};

// ---------------------------------------------------------------------------------------------
// Error classification

/**
 * Turns a MySQL / MariaDB driver error into a RotorError without quoting it: mysql2's errors carry
 * the SQL text (`sql`, and `sqlMessage` can echo parts of it), so only the error number and code
 * are used. The same server error number means different things at login and afterwards (MariaDB
 * answers a GRANT of a privilege the grantor lacks with 1045 "Access denied"), hence `phase`.
 */
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
