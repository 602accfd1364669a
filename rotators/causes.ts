/**
 * The class of a failure's cause, in an on-call engineer's words: network, TLS, authentication,
 * privilege, probe query, provider, configuration (and security, AWS, internal). `rotor heal`,
 * `rotor preflight` and `rotor rotate` print it; events can carry it (`describeCause`).
 *
 * Also translates the codes rotor's messages quote: PostgreSQL SQLSTATEs and MySQL / MariaDB error
 * numbers, so that a missing probe table (SQLSTATE 42P01, MySQL 1146) does not read like a refused
 * connection. Pure: works on an error's name, `reason` and message (which never hold a secret).
 */

export type CauseClass =
  | 'network'
  | 'tls'
  | 'authentication'
  | 'privilege'
  | 'probe-query'
  | 'provider'
  | 'configuration'
  | 'security'
  | 'aws'
  | 'internal';

/** How each class reads in a sentence. */
export const CAUSE_WORDS: Readonly<Record<CauseClass, string>> = {
  network: 'network',
  tls: 'TLS',
  authentication: 'authentication',
  privilege: 'privilege',
  'probe-query': 'probe query',
  provider: 'provider',
  configuration: 'configuration',
  security: 'security',
  aws: 'AWS',
  internal: 'internal',
};

/** What to do about each class, in one clause. */
export const CAUSE_FIX: Readonly<Record<CauseClass, string>> = {
  network:
    'restore the path to the target (the server running, security groups, routes, DNS); the credentials were not tested',
  tls: 'fix the TLS settings (tlsCa, tlsServerName, tlsMode) or the server certificate; the credentials were not tested',
  authentication:
    'the target refuses the password: set a known password on the target and in AWSCURRENT (the database or provider owner)',
  privilege: 'grant the managing user the privilege the message names (the database owner)',
  'probe-query':
    'the credential logs in but the probe query fails: fix the probe query or restore what it reads; the password is not the problem',
  provider: "the API provider answered an error: check the provider's status and the admin credential",
  configuration: 'fix the secret value or the function configuration the message names',
  security: 'a trust boundary held: nothing was changed; find who wrote the secret before changing anything',
  aws: "fix the IAM or KMS policy the message names, or wait for the service's error to pass",
  internal: "an unexpected error: see the function's log line for it",
};

const SECURITY = new Set([
  'TrustBoundaryError',
  'MasterBindingError',
  'InsecureAuthenticationError',
  'UnprovenUserError',
  'UnmanagedUserError',
  'ForeignAccountError',
  'ForeignKeyError',
  'UnboundDatabaseError',
]);

const CONFIGURATION = new Set([
  'InvalidSecretError',
  'UnknownEngineError',
  'ConfigurationError',
  'UnsupportedError',
  'RotationNotEnabledError',
  'StageConflictError',
  'VersionNotFoundError',
  'InvalidEventError',
  'RotationNotFinished',
  'ResourceNotFoundException',
]);

/** The AWS error name an AWS denial's message quotes, e.g. `(AccessDeniedException)`. */
const AWS_DENIAL = /\(\w*(?:AccessDenied|UnauthorizedOperation|AuthorizationError|NotAuthorized)\w*\)/;

/** The fields of an error (a RotorError, its JSON in an event, or a name alone) that decide its class. */
export interface CauseInput {
  readonly name: string;
  readonly message?: string;
  /** TargetUnreachableError's reason (dns, refused, tls, timeout, network). */
  readonly reason?: string;
  /** TrustBoundaryError's `category`. */
  readonly category?: string;
}

/** The class of a failure's cause. */
export function causeClass(error: CauseInput): CauseClass {
  const { name } = error;
  const message = error.message ?? '';
  if (error.category === 'security' || SECURITY.has(name)) return 'security';
  switch (name) {
    case 'TargetUnreachableError':
      return error.reason === 'tls' || (error.reason === undefined && /\bTLS\b/.test(message))
        ? 'tls'
        : 'network';
    case 'DeadlineExceededError':
    case 'Sandbox.Timedout':
      return 'network';
    case 'AuthenticationFailedError':
      return 'authentication';
    case 'PermissionDeniedError':
      // AWS said no (handlers/awsErrors.ts quotes its error name): an IAM or KMS policy, not a grant.
      return AWS_DENIAL.test(message) ? 'aws' : 'privilege';
    case 'VerificationFailedError':
      return /probe/i.test(message) ? 'probe-query' : 'configuration';
    case 'ProviderError':
      return 'provider';
    case 'AwsCallError':
      return 'aws';
  }
  if (CONFIGURATION.has(name)) return 'configuration';
  // An unexpected error may still quote a code that says what happened.
  const state = /SQLSTATE ([0-9A-Z]{5})/.exec(message)?.[1];
  if (state !== undefined) {
    if (state.startsWith('08') || state === '57P03' || state === '53300') return 'network';
    if (state.startsWith('28')) return 'authentication';
    if (state === '42501') return 'privilege';
  }
  return 'internal';
}

/** PostgreSQL SQLSTATE codes rotor's messages can quote, in words. */
const SQLSTATES: Readonly<Record<string, string>> = {
  '08000': 'connection exception',
  '08001': 'unable to establish a connection',
  '08003': 'connection does not exist',
  '08004': 'the server rejected the connection',
  '08006': 'connection failure',
  '08P01': 'protocol violation',
  '0A000': 'feature not supported',
  '22001': 'string data too long',
  '22012': 'division by zero',
  '22P02': 'invalid text representation',
  '23505': 'unique violation',
  '25006': 'read-only transaction (the probe tried to write)',
  '28000': 'invalid authorization (pg_hba.conf refuses this login)',
  '28P01': 'invalid password',
  '3D000': 'the database does not exist',
  '3F000': 'the schema does not exist',
  '40001': 'serialization failure',
  '40P01': 'deadlock detected',
  '42501': 'insufficient privilege',
  '42601': 'syntax error',
  '42703': 'undefined column',
  '42704': 'undefined object',
  '42710': 'the object already exists',
  '42883': 'undefined function',
  '42P01': 'undefined table',
  '53100': 'disk full',
  '53200': 'out of memory',
  '53300': 'too many connections',
  '55P03': 'lock not available',
  '57014': 'statement cancelled (timeout)',
  '57P01': 'the server is shutting down',
  '57P03': 'the server cannot accept connections now',
  XX000: 'internal error of the server',
};

/** SQLSTATE classes (the first two characters), for codes not listed one by one. */
const SQLSTATE_CLASSES: Readonly<Record<string, string>> = {
  '08': 'connection exception',
  '22': 'data exception',
  '23': 'integrity constraint violation',
  '25': 'invalid transaction state',
  '28': 'invalid authorization',
  '3D': 'invalid database name',
  '40': 'transaction rollback',
  '42': 'syntax error or access rule violation',
  '53': 'insufficient resources',
  '54': 'program limit exceeded',
  '55': 'object not in prerequisite state',
  '57': 'operator intervention',
  '58': 'system error',
  XX: 'internal error of the server',
};

/** A PostgreSQL SQLSTATE in words, or undefined when it is not one. */
export function sqlStateWords(code: string): string | undefined {
  if (!/^[0-9A-Z]{5}$/.test(code)) return undefined;
  return SQLSTATES[code] ?? SQLSTATE_CLASSES[code.slice(0, 2)];
}

/** MySQL / MariaDB error numbers rotor's messages can quote, in words. */
const MYSQL_ERRNOS: Readonly<Record<number, string>> = {
  1040: 'too many connections',
  1044: 'access denied to the database',
  1045: 'access denied (wrong password, or no such account for this host)',
  1049: 'unknown database',
  1054: 'unknown column',
  1064: 'SQL syntax error',
  1129: 'host blocked after connection errors',
  1142: 'command denied on the table (privilege)',
  1143: 'command denied on the column (privilege)',
  1146: 'table does not exist',
  1203: 'the account has reached its connection limit',
  1205: 'lock wait timeout',
  1211: 'not allowed to create a user',
  1213: 'deadlock',
  1227: 'access denied: a privilege such as CREATE USER or SUPER is needed',
  1251: 'the client does not support the authentication protocol',
  1290: 'the server runs read-only',
  1370: 'execute command denied (privilege)',
  1372: 'password hash not in the expected format',
  1396: 'the user operation failed (the account exists or is missing)',
  1698: 'access denied (no such account, or a plugin refused)',
  1792: 'cannot write in a READ ONLY transaction (the probe tried to write)',
  1819: 'the password does not satisfy the server policy',
  1820: 'the password must be reset (expired)',
  1827: 'password hash not in the expected format',
  1862: 'the password has expired',
  2002: 'cannot connect through the socket',
  2003: 'cannot connect to the server (refused or unreachable)',
  2005: 'unknown server host',
  2006: 'the server has gone away',
  2013: 'lost the connection during the query',
  2026: 'TLS connection error',
  3118: 'the account is locked',
  4151: 'the account is locked',
};

/** A MySQL / MariaDB error number in words, or undefined when it is not one rotor knows. */
export function mysqlErrnoWords(errno: number): string | undefined {
  return MYSQL_ERRNOS[errno];
}

/**
 * Adds words to the codes a message quotes: `(SQLSTATE 42P01)` becomes
 * `(SQLSTATE 42P01: undefined table)`, `(error 1146)` becomes `(error 1146: table does not exist)`.
 * Codes already explained, and unknown ones, are left as they are.
 */
export function explainCodes(text: string): string {
  return text
    .replace(/SQLSTATE ([0-9A-Z]{5})(?!:)/g, (match, code: string) => {
      const words = sqlStateWords(code);
      return words === undefined ? match : `${match}: ${words}`;
    })
    .replace(/\berror (\d{4})\b(?!:)/g, (match, errno: string) => {
      const words = mysqlErrnoWords(Number(errno));
      return words === undefined ? match : `${match}: ${words}`;
    });
}

export interface CauseDescription {
  readonly class: CauseClass;
  /** The class in words (`probe query`). */
  readonly words: string;
  /** What to do, in one clause. */
  readonly fix: string;
}

/** The class of a failure, in words, with what to do about it. Events may carry it as `cause`. */
export function describeCause(error: CauseInput): CauseDescription {
  const cls = causeClass(error);
  return { class: cls, words: CAUSE_WORDS[cls], fix: CAUSE_FIX[cls] };
}

/** `<class> (<name>): <message with codes explained>`: one line for CLI output. */
export function causeLine(error: CauseInput): string {
  const words = CAUSE_WORDS[causeClass(error)];
  const message = error.message === undefined ? '' : `: ${explainCodes(error.message)}`;
  return `${words} (${error.name})${message}`;
}
