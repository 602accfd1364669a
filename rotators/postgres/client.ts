/**
 * The only file that talks to the PostgreSQL driver (node-postgres).
 *
 * It turns a login into a `PgSession` and every driver failure into a RotorError whose message is
 * built from names and SQLSTATE codes only: a driver or server message can quote the statement
 * (and so a password verifier), a connection parameter or a host, so none is forwarded.
 *
 * No replayable credential leaves without verified TLS: the server chooses the authentication
 * method, and a server that asks for `password` (cleartext) or MD5 would receive the password, or
 * a hash that logs in as the role anywhere the same password is set. Unless the connection is
 * verified TLS (verify-full or verify-ca), such a request is refused with
 * InsecureAuthenticationError and nothing is sent. SCRAM-SHA-256 sends nothing replayable, and its
 * last message proves the server knows the role's verifier. node-postgres emits the request on its
 * connection before it asks for the password (a function here): a listener put in front of
 * node-postgres's own notes the method, and the password function refuses.
 */
import type { ConnectionOptions } from 'node:tls';
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  InsecureAuthenticationError,
  InternalError,
  InvalidSecretError,
  PermissionDeniedError,
  RotorError,
  safeCause,
  TargetUnreachableError,
} from '../errors.js';
import { classifyNetworkError } from '../network.js';
import { lazyDriver } from '../sql/kit.js';
import { nodeTlsOptions } from '../tls.js';
import type { PostgresLogin } from './secret.js';

export type Row = Record<string, unknown>;

/**
 * How the server authenticated the login: `scram` (the SCRAM exchange completed, so the server
 * proved it knows the role's verifier), `password` / `md5` (only ever over verified TLS), or `none`
 * (the server let the role in without asking: trust).
 */
export type PgAuthentication = 'scram' | 'password' | 'md5' | 'none';

/** One logged-in connection. Statements run one at a time. */
export interface PgSession {
  /** `PostgreSQL at host:port` (for messages). */
  readonly target: string;
  /** How the server authenticated the session. Absent (a wrapper that drops it): proves nothing. */
  readonly authentication?: PgAuthentication;
  /** Whether the connection is TLS with a verified certificate (verify-full or verify-ca). */
  readonly verifiedTls?: boolean;
  /**
   * Runs one statement. `purpose` words the error ("set the password of role "x""). With
   * `extended`, the extended protocol is used even without parameters: it refuses several
   * statements in one string (for the user-supplied probe query).
   */
  query<R = Row>(
    sql: string,
    params?: readonly unknown[],
    options?: { purpose?: string; extended?: boolean },
  ): Promise<R[]>;
  close(): Promise<void>;
}

export interface ConnectRequest {
  login: PostgresLogin;
  signal: AbortSignal;
  /** Epoch ms: connect and statement timeouts never reach past it. */
  deadline: number;
  /**
   * Pins the session's search_path to `pg_catalog, pg_temp` with a startup option, which wins over
   * every `ALTER DATABASE` / `ALTER ROLE ... SET search_path`: for sessions of the managing role
   * (and proof logins), so that no function, operator or view a database user created (in a
   * schema of their own, or in `public`) can shadow a catalog one and run with the master's
   * privileges. Never for the pending user's test session: its probe query uses its own path.
   */
  catalogOnly?: boolean;
}

/** Logs in; throws AuthenticationFailedError, TargetUnreachableError, DeadlineExceededError, ... */
export type ConnectPostgres = (request: ConnectRequest) => Promise<PgSession>;

/** The slice of node-postgres's Client this file uses. */
interface DriverClient {
  connect(): Promise<void>;
  query(config: { text: string; values?: unknown[]; queryMode?: 'extended' }): Promise<{ rows: Row[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  connection?: {
    stream?: { destroy(): void };
    prependListener(event: string, listener: () => void): unknown;
  };
}

/** The authentication requests node-postgres's connection emits, and what each sends. */
const AUTH_REQUESTS: readonly [string, PgAuthentication][] = [
  ['authenticationCleartextPassword', 'password'],
  ['authenticationMD5Password', 'md5'],
  ['authenticationSASLFinal', 'scram'],
];

/** A login that cannot connect within this long fails, leaving time for a fallback login. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The startup option of `catalogOnly` sessions (pg_temp last: it is never searched for functions). */
export const CATALOG_ONLY_OPTIONS = '-c search_path=pg_catalog,pg_temp';

export function describeTarget(login: Pick<PostgresLogin, 'host' | 'port'>): string {
  return `PostgreSQL at ${login.host}:${login.port}`;
}

/** node-postgres, loaded on the first connection (../sql/kit.ts `lazyDriver`). */
const loadDriver = lazyDriver('pg', () => import('pg'));

export const connectPostgres: ConnectPostgres = async ({ login, signal, deadline, catalogOnly }) => {
  const target = describeTarget(login);
  const remaining = deadline - Date.now();
  if (signal.aborted || remaining <= 0) {
    throw new DeadlineExceededError(`${target}: no time left to log in before the Lambda deadline`);
  }
  const tls: ConnectionOptions | undefined = nodeTlsOptions(login.tls, login.host);
  // Both modes other than disable verify the certificate chain (tls.ts): rejectUnauthorized.
  const verifiedTls = tls !== undefined && tls.rejectUnauthorized === true;
  let authentication: PgAuthentication = 'none';
  const { default: pg } = await loadDriver();
  const client = new pg.Client({
    host: login.host,
    port: login.port,
    database: login.dbname,
    user: login.username,
    // Called by node-postgres right before it answers an authentication request.
    password: async () => {
      if ((authentication === 'password' || authentication === 'md5') && !verifiedTls) {
        throw new InsecureAuthenticationError(
          `${target}: the server asked for the password of role "${login.username}" ${authentication === 'password' ? 'in cleartext (password authentication)' : 'as an MD5 hash (md5 authentication, replayable)'} on a connection that is not verified TLS: nothing was sent. Use scram-sha-256 in pg_hba.conf, or verified TLS (tlsMode verify-full or verify-ca)`,
        );
      }
      return login.password;
    },
    ssl: tls ?? false,
    // Bind SCRAM to the TLS channel when the server offers it (SCRAM-SHA-256-PLUS).
    enableChannelBinding: tls !== undefined,
    connectionTimeoutMillis: Math.max(1, Math.min(CONNECT_TIMEOUT_MS, remaining)),
    // Server side: no statement outlives the Lambda. Client side: nor does a wait for an answer.
    statement_timeout: Math.max(1, remaining),
    query_timeout: Math.max(1, remaining),
    application_name: 'rotor',
    ...(catalogOnly === true ? { options: CATALOG_ONLY_OPTIONS } : {}),
  }) as unknown as DriverClient;
  // An error on an idle connection is emitted as an event; unhandled, it would crash the process.
  client.on('error', () => undefined);
  // In front of node-postgres's own listeners: the method is known before anything is answered.
  // Without its connection object the guard cannot hold, so no login is attempted (fail closed).
  const connection = client.connection;
  if (typeof connection?.prependListener !== 'function') {
    throw new InternalError(
      `${target}: the PostgreSQL driver exposes no connection to guard its authentication`,
    );
  }
  for (const [event, method] of AUTH_REQUESTS) {
    connection.prependListener(event, () => {
      authentication = method;
    });
  }
  const abort = () => client.connection?.stream?.destroy();
  signal.addEventListener('abort', abort, { once: true });
  const release = () => signal.removeEventListener('abort', abort);

  try {
    await client.connect();
  } catch (error) {
    release();
    await client.end().catch(() => undefined);
    throw error instanceof RotorError ? error : loginFailure(error, target, login.username, signal);
  }

  return {
    target,
    authentication,
    verifiedTls,
    async query<R>(
      sql: string,
      params?: readonly unknown[],
      options: { purpose?: string; extended?: boolean } = {},
    ): Promise<R[]> {
      try {
        const result = await client.query({
          text: sql,
          ...(params === undefined ? {} : { values: [...params] }),
          ...(options.extended ? { queryMode: 'extended' as const } : {}),
        });
        return result.rows as R[];
      } catch (error) {
        throw statementFailure(error, target, options.purpose ?? 'run a statement', signal);
      }
    },
    async close() {
      release();
      await client.end().catch(() => undefined);
    },
  };
};

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Why a login failed, without the driver's words. */
export function loginFailure(
  error: unknown,
  target: string,
  username: string,
  signal?: AbortSignal,
): RotorError {
  const state = sqlState(error);
  const cause = safeCause(error);
  const who = `role "${username}"`;
  // SQLSTATE first: a pg_hba refusal (28000) mentions encryption/SSL in its text.
  switch (state) {
    case '28P01':
    case '28000':
      return new AuthenticationFailedError(
        `${target}: the server refused the login of ${who} (SQLSTATE ${state})`,
        {
          cause,
        },
      );
    case '3D000':
      return new InvalidSecretError('dbname', `names a database that does not exist on ${target}`);
    case '53300':
    case '57P03':
      return new TargetUnreachableError(
        'refused',
        `${target}: the server accepts no connection now (SQLSTATE ${state})`,
        { cause },
      );
    case '57014':
      return new DeadlineExceededError(`${target}: login timed out before the Lambda deadline`);
  }
  if (state === undefined && error instanceof Error && error.message.startsWith('SASL:')) {
    // node-postgres's own SCRAM checks: the server could not prove it knows the password.
    return new AuthenticationFailedError(`${target}: the SCRAM exchange for ${who} failed`, { cause });
  }
  const network = classifyNetworkError(error, target, signal);
  if (network !== undefined) return network;
  if (state !== undefined) {
    return new AuthenticationFailedError(`${target}: the login of ${who} failed (SQLSTATE ${state})`, {
      cause,
    });
  }
  if (error instanceof Error && /^Connection terminated/.test(error.message)) {
    return new TargetUnreachableError('network', `${target}: the server closed the connection during login`, {
      cause,
    });
  }
  return new InternalError(`${target}: the login of ${who} failed (${cause.name})`, { cause });
}

/** Why a statement failed, worded with `purpose` and the SQLSTATE. */
export function statementFailure(
  error: unknown,
  target: string,
  purpose: string,
  signal?: AbortSignal,
): RotorError {
  const state = sqlState(error);
  const cause = safeCause(error);
  if (signal?.aborted)
    return new DeadlineExceededError(`${target}: could not ${purpose} before the Lambda deadline`);
  if (state === '42501') {
    return new PermissionDeniedError(`${target}: permission denied to ${purpose} (SQLSTATE 42501)`, {
      cause,
    });
  }
  if (state === '57014') {
    return new DeadlineExceededError(
      `${target}: could not ${purpose} before the Lambda deadline (statement timeout)`,
    );
  }
  if (state === undefined) {
    // node-postgres's own query_timeout: the deadline, seen from the client side.
    if (error instanceof Error && error.message === 'Query read timeout') {
      return new DeadlineExceededError(`${target}: could not ${purpose} before the Lambda deadline`);
    }
    const network = classifyNetworkError(error, target, signal);
    if (network !== undefined) return network;
    if (error instanceof Error && /^Connection terminated/.test(error.message)) {
      return new TargetUnreachableError(
        'network',
        `${target}: the connection was lost while trying to ${purpose}`,
        {
          cause,
        },
      );
    }
  }
  const retryable = state !== undefined && /^(40|53|57P|08)/.test(state);
  return new InternalError(
    `${target}: could not ${purpose} (${state === undefined ? cause.name : `SQLSTATE ${state}`})`,
    {
      cause,
      retryable,
    },
  );
}
