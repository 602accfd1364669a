/**
 * The PostgreSQL secret: the keys RDS and AWS's rotation templates use, plus rotor's own.
 *
 * - `engine`: `postgres` | `aurora-postgresql`; `host`; `port` (number or numeric string, default
 *   5432); `username`; `password`; `dbname` (default `postgres`).
 * - `masterarn`: ARN or name of the secret of a user allowed to manage this one (alternating users).
 *   That secret names its own `host` (and `port`, TLS keys), or a binding in the stage file does:
 *   the rotated secret's host and port must be that endpoint (../trust.ts).
 * - `strategy`: `single-user` | `alternating-users` | `rds-master`; default `alternating-users` when
 *   `masterarn` is set, else `single-user`. `rds-master` rotates an RDS master user through the
 *   RDS API (../rdsMaster.ts).
 * - `dbInstanceIdentifier` / `dbClusterIdentifier`: the RDS database the secret belongs to. The
 *   step machine then fills in host, port and engine when absent, and checks a given host is one
 *   of its endpoints, before parse sees the value.
 * - `probeQuery`: a read-only query testSecret runs, inside a READ ONLY transaction.
 * - TLS: `ssl`, `tlsMode`, `tlsCa`, `tlsServerName` (see ../tls.ts).
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

export const ENGINES = ['postgres', 'aurora-postgresql'] as const;
export const STRATEGIES = ['single-user', 'alternating-users', 'rds-master'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const DEFAULT_PORT = 5432;
export const DEFAULT_DBNAME = 'postgres';
/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes): a longer name would be another role. */
export const MAX_IDENTIFIER_BYTES = 63;

const utf8Length = (text: string) => Buffer.byteLength(text, 'utf8');

/** A role or database name: 1 to 63 bytes of UTF-8, no NUL (the wire protocol cannot carry it). */
const identifierSchema = (what: string) =>
  v.pipe(
    v.string(),
    v.check(
      (name) => name.length > 0 && utf8Length(name) <= MAX_IDENTIFIER_BYTES && !name.includes('\0'),
      `must be a ${what} of 1 to ${MAX_IDENTIFIER_BYTES} bytes (UTF-8) without NUL characters`,
    ),
  );

const passwordSchema = v.pipe(
  v.string(),
  v.check(
    (password) => password.length > 0 && !password.includes('\0'),
    'must be a non-empty string without NUL characters',
  ),
);

const PostgresSecretSchema = v.looseObject({
  engine: v.picklist(ENGINES),
  host: hostSchema,
  port: v.optional(portSchema, DEFAULT_PORT),
  username: identifierSchema('role name'),
  password: passwordSchema,
  dbname: v.optional(identifierSchema('database name'), DEFAULT_DBNAME),
  masterarn: v.optional(secretRefSchema),
  strategy: v.optional(v.picklist(STRATEGIES)),
  probeQuery: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (query) => query.trim().length > 0 && query.length <= 10_000,
        'must be one read-only SQL statement of at most 10000 characters',
      ),
    ),
  ),
  ...tlsEntries,
  ...rdsEntries,
});

/** What a login needs. */
export interface PostgresLogin {
  host: string;
  port: number;
  dbname: string;
  username: string;
  password: string;
  tls: TlsSettings;
}

export interface PostgresSecret extends PostgresLogin {
  engine: (typeof ENGINES)[number];
  strategy: Strategy;
  masterarn?: string;
  probeQuery?: string;
}

/** `managedDatabase`: the RDS database the step machine found for the secret, if any. */
export function parsePostgresSecret(
  value: unknown,
  label: string,
  managedDatabase?: ManagedDatabase,
): PostgresSecret {
  const parsed = parseSecret(PostgresSecretSchema, value, label);
  const strategy = parsed.strategy ?? (parsed.masterarn === undefined ? 'single-user' : 'alternating-users');
  checkRdsSecret({ ...parsed, strategy }, managedDatabase, label);
  if (strategy === 'alternating-users' && parsed.masterarn === undefined) {
    throw new InvalidSecretError(
      'masterarn',
      'is required when strategy is "alternating-users" (the secret of the user that manages both users)',
      label,
    );
  }
  return {
    engine: parsed.engine,
    host: parsed.host,
    port: parsed.port,
    username: parsed.username,
    password: parsed.password,
    dbname: parsed.dbname,
    strategy,
    tls: resolveTls(parsed),
    ...(parsed.masterarn === undefined ? {} : { masterarn: parsed.masterarn }),
    ...(parsed.probeQuery === undefined ? {} : { probeQuery: parsed.probeQuery }),
  };
}

const MasterSecretSchema = v.looseObject({
  username: identifierSchema('role name'),
  password: passwordSchema,
  host: v.optional(hostSchema),
  port: v.optional(portSchema),
  dbname: v.optional(identifierSchema('database name')),
  ...tlsEntries,
});

/** The label master-secret errors carry, so a message says which secret is wrong. */
export const MASTER_LABEL = 'masterarn secret';

/** What the managing user's secret itself says: its credential, and where it lives if it says so. */
export interface MasterSecret {
  username: string;
  password: string;
  host?: string;
  port?: number;
  dbname?: string;
  /** Only when the master secret sets TLS keys itself. */
  tls?: TlsSettings;
}

/**
 * Parses the managing user's secret (the JSON `masterarn` points to). Nothing is filled in from
 * the rotated secret: where the master logs in is decided by its own host, port and TLS keys or by
 * its binding (../trust.ts `bindMasterEndpoint`), never by the secret being rotated, whose writer
 * may not be trusted with the master.
 */
export function parseMasterSecret(text: string): MasterSecret {
  const parsed = parseRelatedSecret(MasterSecretSchema, text, MASTER_LABEL);
  return {
    username: parsed.username,
    password: parsed.password,
    ...(parsed.host === undefined ? {} : { host: parsed.host }),
    ...(parsed.port === undefined ? {} : { port: parsed.port }),
    ...(parsed.dbname === undefined ? {} : { dbname: parsed.dbname }),
    ...(hasTlsKeys(parsed) ? { tls: resolveTls(parsed) } : {}),
  };
}
