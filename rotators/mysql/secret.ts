/**
 * The MySQL / MariaDB secret: the keys RDS and AWS's rotation templates use, plus rotor's own.
 *
 * - `engine`: `mysql` | `aurora-mysql` | `mariadb`; `host`; `port` (number or numeric string,
 *   default 3306); `username`; `password`; `dbname` (optional: testSecret opens it when given).
 * - `accountHost`: the host part of the account, default `%` (`'app'@'10.0.%'`, `'app'@'localhost'`).
 * - `masterarn`: ARN or name of the secret of a managing user. Where it logs in is decided by its
 *   own `host` / `port` / TLS keys or by its binding (stage file, RDS), never by this secret: this
 *   secret's host and port must be that endpoint (../trust.ts).
 * - `strategy`: `single-user` | `alternating-users` | `dual-password` | `rds-master`; default
 *   `alternating-users` when `masterarn` is set, else `single-user`. `rds-master` rotates an RDS
 *   master user through the RDS API (../rdsMaster.ts).
 * - `dbInstanceIdentifier` / `dbClusterIdentifier`: the RDS database the secret belongs to. The
 *   step machine then fills in host, port and engine when absent, and checks a given host is one
 *   of its endpoints, before parse sees the value.
 * - `probeQuery`: a read-only query testSecret runs, in a READ ONLY transaction rolled back after.
 * - `primaryUsername`: written by alternating-users when the clone's name had to be truncated to
 *   the server's limit, so that the next rotation finds the way back.
 * - TLS: `ssl`, `tlsMode`, `tlsCa`, `tlsServerName` (see ../tls.ts).
 * - `mysqlPasswordHash`: `server` (default) | `client`. `client`, with alternating-users only: on
 *   MySQL the other account's password is sent as the caching_sha2_password stored string rotor
 *   computes (`IDENTIFIED WITH caching_sha2_password AS '$A$005$...'`), never as text; the
 *   account must use caching_sha2_password, and the server, never seeing the password, cannot
 *   apply validate_password or the password history / reuse checks to it. MariaDB always gets a
 *   hash. Not for single-user or dual-password: MySQL's `AS` takes neither REPLACE nor RETAIN
 *   CURRENT PASSWORD (ALTER USER syntax), which those need.
 *
 * Unknown keys are allowed (applications keep their own there); the rotator builds the pending value
 * from the stored JSON, so neither they nor the representation of known keys change.
 */
import * as v from 'valibot';
import { InvalidSecretError } from '../errors.js';
import { checkRdsSecret, rdsEntries } from '../rdsMaster.js';
import { hostSchema, parseRelatedSecret, parseSecret, portSchema, secretRefSchema } from '../schema.js';
import { hasTlsKeys, resolveTls, type TlsSettings, tlsEntries } from '../tls.js';
import type { ManagedDatabase } from '../types.js';
import { type Account, isReadOnlyProbe } from './sql.js';

export const ENGINES = ['mysql', 'aurora-mysql', 'mariadb'] as const;
export const STRATEGIES = ['single-user', 'alternating-users', 'dual-password', 'rds-master'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Who computes the stored string of a new password on MySQL: the server (from `IDENTIFIED BY`) or rotor. */
export const PASSWORD_HASHING = ['server', 'client'] as const;
export type PasswordHashing = (typeof PASSWORD_HASHING)[number];

export const DEFAULT_PORT = 3306;
export const ANY_HOST = '%';
/** MariaDB's column is 128 characters wide; the server's own limit is checked when it matters. */
const MAX_USER_NAME = 128;
const MAX_HOST_NAME = 255;

/**
 * Characters the server stores in account names: the Basic Multilingual Plane without NUL
 * (identifiers cannot hold supplementary characters or NUL).
 */
const storable = (text: string) => !/[\0\uD800-\uDFFF]/.test(text);

const userNameSchema = v.pipe(
  v.string(),
  v.check(
    (name) => name.length > 0 && name.length <= MAX_USER_NAME && storable(name),
    `must be a user name of 1 to ${MAX_USER_NAME} characters, without NUL or characters outside the Basic Multilingual Plane`,
  ),
);

const accountHostSchema = v.pipe(
  v.string(),
  v.check(
    (host) => host.length > 0 && host.length <= MAX_HOST_NAME && storable(host) && !host.includes('@'),
    `must be an account host part of 1 to ${MAX_HOST_NAME} characters (e.g. %, localhost, 10.0.%), without @ or NUL`,
  ),
);

const passwordSchema = v.pipe(
  v.string(),
  v.check(
    (password) => password.length > 0 && !password.includes('\0'),
    'must be a non-empty string without NUL characters',
  ),
);

const tlsServerNameSchema = v.optional(
  v.pipe(
    v.string(),
    v.check(
      (name) => /^[A-Za-z0-9.-]{1,253}$/.test(name) && !/^[\d.]+$/.test(name),
      'must be a DNS name (the MySQL driver verifies an IP address only as the host it dials)',
    ),
  ),
);

const MysqlSecretSchema = v.looseObject({
  engine: v.picklist(ENGINES, `must be one of ${ENGINES.join(', ')}`),
  host: hostSchema,
  port: v.optional(portSchema, DEFAULT_PORT),
  username: userNameSchema,
  password: passwordSchema,
  dbname: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (name) => name.length > 0 && name.length <= 64 && storable(name),
        'must be a database name of 1 to 64 characters',
      ),
    ),
  ),
  accountHost: v.optional(accountHostSchema),
  masterarn: v.optional(secretRefSchema),
  strategy: v.optional(v.picklist(STRATEGIES, `must be one of ${STRATEGIES.join(', ')}`)),
  probeQuery: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (query) => query.length <= 10_000 && isReadOnlyProbe(query),
        'must be one read-only statement (SELECT, SHOW, WITH, VALUES, TABLE, DESCRIBE) of at most 10000 characters, without executable comments or INTO OUTFILE',
      ),
    ),
  ),
  primaryUsername: v.optional(userNameSchema),
  mysqlPasswordHash: v.optional(
    v.picklist(PASSWORD_HASHING, `must be one of ${PASSWORD_HASHING.join(', ')}`),
  ),
  ...tlsEntries,
  tlsServerName: tlsServerNameSchema,
  ...rdsEntries,
});

/** What a login needs. */
export interface MysqlLogin {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The account the login must land on. */
  account: Account;
  tls: TlsSettings;
}

export interface MysqlSecret extends MysqlLogin {
  engine: (typeof ENGINES)[number];
  dbname?: string;
  masterarn?: string;
  strategy: Strategy;
  probeQuery?: string;
  primaryUsername?: string;
  mysqlPasswordHash: PasswordHashing;
}

/** `managedDatabase`: the RDS database the step machine found for the secret, if any. */
export function parseMysqlSecret(
  value: unknown,
  label: string,
  managedDatabase?: ManagedDatabase,
): MysqlSecret {
  const parsed = parseSecret(MysqlSecretSchema, value, label);
  const strategy: Strategy =
    parsed.strategy ?? (parsed.masterarn === undefined ? 'single-user' : 'alternating-users');
  checkRdsSecret({ ...parsed, strategy }, managedDatabase, label);
  if (strategy === 'alternating-users' && parsed.masterarn === undefined) {
    throw new InvalidSecretError(
      'masterarn',
      'is required for strategy alternating-users (the managing user creates and updates the other account)',
      label,
    );
  }
  const mysqlPasswordHash = parsed.mysqlPasswordHash ?? 'server';
  if (mysqlPasswordHash === 'client' && strategy !== 'alternating-users') {
    throw new InvalidSecretError(
      'mysqlPasswordHash',
      `must be server (or absent) for strategy ${strategy}: client works with alternating-users only (MySQL's IDENTIFIED WITH ... AS takes neither REPLACE nor RETAIN CURRENT PASSWORD${strategy === 'rds-master' ? ', and the RDS API takes the password itself' : ''})`,
      label,
    );
  }
  return {
    engine: parsed.engine,
    host: parsed.host,
    port: parsed.port,
    username: parsed.username,
    password: parsed.password,
    account: { user: parsed.username, host: parsed.accountHost ?? ANY_HOST },
    tls: resolveTls(parsed),
    strategy,
    mysqlPasswordHash,
    ...(parsed.dbname === undefined ? {} : { dbname: parsed.dbname }),
    ...(parsed.masterarn === undefined ? {} : { masterarn: parsed.masterarn }),
    ...(parsed.probeQuery === undefined ? {} : { probeQuery: parsed.probeQuery }),
    ...(parsed.primaryUsername === undefined ? {} : { primaryUsername: parsed.primaryUsername }),
  };
}

/**
 * The managing user's secret: its credentials and, when it says so, where it logs in and how. Its
 * writer owns the master, so its fields are trusted; the rotated secret's never decide where the
 * master's credential goes (../trust.ts `bindMasterEndpoint`).
 */
const MasterSecretSchema = v.looseObject({
  username: userNameSchema,
  password: passwordSchema,
  host: v.optional(hostSchema),
  port: v.optional(portSchema),
  accountHost: v.optional(accountHostSchema),
  ...tlsEntries,
  tlsServerName: tlsServerNameSchema,
});

export const MASTER_LABEL = 'masterarn secret';

/** What a master secret itself says; host, port and TLS only when it has them. */
export interface MasterSecret {
  username: string;
  password: string;
  account: Account;
  host?: string;
  port?: number;
  /** Set only when the master secret has TLS keys of its own. */
  tls?: TlsSettings;
}

/**
 * Parses the managing user's secret (the text `fetchMaster` returned). Nothing is taken from the
 * rotated secret: an RDS-managed master secret holds only a username and password, and is bound
 * to its endpoint by RDS or the stage file instead.
 */
export function parseMasterSecret(text: string): MasterSecret {
  const master = parseRelatedSecret(MasterSecretSchema, text, MASTER_LABEL);
  return {
    username: master.username,
    password: master.password,
    account: { user: master.username, host: master.accountHost ?? ANY_HOST },
    ...(master.host === undefined ? {} : { host: master.host }),
    ...(master.port === undefined ? {} : { port: master.port }),
    ...(hasTlsKeys(master) ? { tls: resolveTls(master) } : {}),
  };
}
