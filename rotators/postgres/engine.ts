/**
 * What the PostgreSQL strategies share: logins (through ../sql/kit.ts), the session identity, the
 * managing role's login, proof of possession by PostgreSQL's rules, the owner/clone pair read
 * from the catalog, and the probe. One object per rotator (`createPostgresEngine`), handed to
 * every strategy in ./strategies/.
 */
import { InvalidSecretError, RotorError, VerificationFailedError } from '../errors.js';
import type { RdsWaitOptions } from '../rdsMaster.js';
import {
  attemptLogin,
  logsIn,
  type MasterAccess,
  masterAccess,
  openMasterSession,
  type Proof,
  proveOwnAccount,
  runProbe,
  type Timing,
} from '../sql/kit.js';
import type { TlsSettings } from '../tls.js';
import type { MasterBinding } from '../trust.js';
import type { RequestBase } from '../types.js';
import { type ConnectPostgres, connectPostgres, type PgSession } from './client.js';
import { isScramSafe } from './scram.js';
import {
  DEFAULT_DBNAME,
  DEFAULT_PORT,
  type MasterSecret,
  type PostgresLogin,
  type PostgresSecret,
  parseMasterSecret,
} from './secret.js';
import {
  BEGIN_READ_ONLY_SQL,
  CLONE_MARKER_PREFIX,
  CLONE_OWNER_SQL,
  CLONE_SUFFIX,
  cloneUsername,
  isCloneNameOf,
  pairStateSql,
  ROLLBACK_SQL,
  roleSetting,
  WHOAMI_SQL,
} from './sql.js';

export interface PostgresRotatorOptions {
  /** How to log in. Default: node-postgres (client.ts). Tests wrap it to count logins. */
  connect?: ConnectPostgres;
  /** rds-master: how testSecret polls while RDS applies the change (tests shorten it). */
  rdsWait?: RdsWaitOptions;
}

/** An owner role and its alternating partner. */
export interface Pair {
  owner: string;
  clone: string;
}

/** Where the managing user logs in, as its own secret or its binding decided, and its binding. */
export interface MasterLogin {
  login: PostgresLogin;
  binding?: MasterBinding;
  /** The `masterarn` (for messages). */
  secretId: string;
}

export interface Whoami {
  session_user: string;
  current_user: string;
  version_num: number;
}

export interface PairState {
  owner_exists: boolean;
  owner_superuser: boolean | null;
  clone_exists: boolean;
  is_member: boolean | null;
  inherits: boolean | null;
  can_set: boolean | null;
  clone_settings: string[] | null;
  clone_marker: string | null;
  clone_owned: number | null;
  clone_grants: number | null;
}

export const MIN_VERSION_NUM = 100_000; // SCRAM-SHA-256 verifiers: PostgreSQL 10.

export function major(versionNum: number): number {
  return Math.floor(versionNum / 10_000);
}

export function loginOf(secret: PostgresLogin, password = secret.password): PostgresLogin {
  return {
    host: secret.host,
    port: secret.port,
    dbname: secret.dbname,
    username: secret.username,
    password,
    tls: secret.tls,
  };
}

export function describeTls(login: PostgresLogin): string {
  return login.tls.mode === 'disable' ? 'in plaintext (ssl: false)' : `over TLS (${login.tls.mode})`;
}

/**
 * The alternating pair of two role names, by name alone: `pending` is the clone of `current`, or
 * `current` is the clone of `pending`. createPending chose `pending` that way.
 */
export function pairOf(current: string, pending: string): Pair & { pendingIs: 'owner' | 'clone' } {
  if (isCloneNameOf(pending, current)) return { owner: current, clone: pending, pendingIs: 'clone' };
  if (isCloneNameOf(current, pending)) return { owner: pending, clone: current, pendingIs: 'owner' };
  throw new InvalidSecretError(
    'username',
    `must be the alternating partner of role "${current}" (its clone "${cloneUsername(current)}" or its owner)`,
    'AWSPENDING',
  );
}

/** Whether the server checked the credential of this session (what a proof of possession needs). */
function provesPossession(session: PgSession): boolean {
  if (session.authentication === 'scram') return true;
  return (
    (session.authentication === 'password' || session.authentication === 'md5') &&
    session.verifiedTls === true
  );
}

/**
 * SQLSTATEs of a role change that collided with another session's change of the same catalog rows:
 * 23505 / 42710 (the role, membership or setting was just created), XX000 ("tuple concurrently
 * updated", two ALTER ROLE at once), 40001 / 40P01 (serialization failure, deadlock).
 */
const WRITE_CONFLICTS = new Set(['23505', '42710', 'XX000', '40001', '40P01']);

/**
 * Runs an apply, and once more when it collided with a concurrent run of the same step (an
 * operator invoking the function while Secrets Manager does, say). Apply is idempotent: the second
 * pass reads the catalog again and finds the other run's work (the password in place, the clone
 * created), so both runs complete.
 */
export async function onceMoreAfterWriteConflict<T>(apply: () => Promise<T>): Promise<T> {
  try {
    return await apply();
  } catch (error) {
    const code =
      error instanceof RotorError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
    if (typeof code !== 'string' || !WRITE_CONFLICTS.has(code)) throw error;
    return await apply();
  }
}

/** The managing role's login from its master access: its own database, never the rotated secret's. */
export function masterLoginOf(access: MasterAccess<MasterSecret>): MasterLogin {
  const { master, endpoint, binding } = access;
  return {
    login: {
      host: endpoint.host,
      port: endpoint.port,
      // The master's own database, never the rotated secret's: a database the writer owns is
      // theirs to fill with objects and settings (search_path is pinned as well, see client.ts).
      dbname: master.dbname ?? DEFAULT_DBNAME,
      username: master.username,
      password: master.password,
      tls: endpoint.tls,
    },
    ...(binding === undefined ? {} : { binding }),
    secretId: access.secretId,
  };
}

export type PostgresEngine = ReturnType<typeof createPostgresEngine>;

export function createPostgresEngine(options: PostgresRotatorOptions = {}) {
  const connect = options.connect ?? connectPostgres;
  const open = (login: PostgresLogin, timing: Timing, catalogOnly = false) =>
    connect({ login, signal: timing.signal, deadline: timing.deadline, catalogOnly });

  async function whoami(session: PgSession): Promise<Whoami> {
    const [row] = await session.query<Record<string, unknown>>(WHOAMI_SQL, undefined, {
      purpose: 'read the session identity',
    });
    return {
      session_user: String(row?.session_user),
      current_user: String(row?.current_user),
      version_num: Number(row?.version_num),
    };
  }

  return {
    rdsWait: options.rdsWait,
    open,
    whoami,

    /** Logs in, or returns undefined when the server refuses these credentials (and only then). */
    tryLogin: (login: PostgresLogin, timing: Timing, catalogOnly = false) =>
      attemptLogin(() => open(login, timing, catalogOnly)),

    /** Whether these credentials log in (false only when the server refuses them). */
    logsIn: (login: PostgresLogin, timing: Timing) => logsIn(() => open(login, timing)),

    /**
     * The managing user's login: its credential from its own secret; where it logs in (and over
     * which TLS) from that secret's own fields or its binding, never from the rotated secret.
     */
    async masterLogin(secret: PostgresSecret, fetchMaster: RequestBase['fetchMaster']): Promise<MasterLogin> {
      return masterLoginOf(
        await masterAccess({ secret, fetchMaster, parse: parseMasterSecret, defaultPort: DEFAULT_PORT }),
      );
    },

    /** Logs in as the managing user, catalog-only; a refusal blames the master's secret. */
    masterSession: ({ login }: MasterLogin, timing: Timing) =>
      openMasterSession(() => open(login, timing, true), login.username),

    /**
     * Proof of possession: which of the secret's own stored credentials (AWSCURRENT, else
     * AWSPREVIOUS) logs in now as one of `accounts`, to the secret's endpoint over `tls`. It counts
     * only when the server authenticated it (a completed SCRAM exchange, or a password over
     * verified TLS) and `session_user` is that account: a server that lets anyone in proves nothing.
     */
    prove(
      request: Timing &
        Pick<RequestBase, never> & {
          current: PostgresSecret;
          previous?: () => Promise<PostgresSecret | undefined>;
        },
      accounts: readonly string[],
      tls: TlsSettings,
    ): Promise<Proof | undefined> {
      const { current } = request;
      return proveOwnAccount({
        current,
        previous: request.previous,
        eligible: (value) =>
          accounts.includes(value.username) && value.host === current.host && value.port === current.port,
        proves: (value) =>
          logsIn(
            () => open({ ...loginOf(current, value.password), username: value.username, tls }, request, true),
            async (session) =>
              provesPossession(session) && (await whoami(session)).session_user === value.username,
          ),
      });
    },

    /**
     * The owner/clone pair `username` belongs to, read from the server. Only rotor's marker is
     * proof that a role is rotor's clone; the older evidence (role setting, membership) names the
     * pair of a clone made before markers, which apply then refuses to change until an operator
     * marks or adopts it.
     */
    async resolvePair(session: PgSession, username: string): Promise<Pair> {
      if (!username.endsWith(CLONE_SUFFIX)) return { owner: username, clone: cloneUsername(username) };
      const [row] = await session.query<{
        settings: string[] | null;
        marker: string | null;
        marker_owner_exists: boolean;
        setting_role_exists: boolean;
        member_of: string[];
      }>(CLONE_OWNER_SQL, [username], { purpose: `read the memberships of role "${username}"` });
      if (row === undefined) {
        throw new InvalidSecretError(
          'username',
          `names role "${username}", which does not exist on ${session.target}`,
          'AWSCURRENT',
        );
      }
      if (row.marker?.startsWith(CLONE_MARKER_PREFIX) && row.marker_owner_exists) {
        const owner = row.marker.slice(CLONE_MARKER_PREFIX.length);
        if (isCloneNameOf(username, owner)) return { owner, clone: username };
      }
      // Before markers: the role setting rotor wrote names the owner even when the membership was lost.
      const fromSetting = roleSetting(row.settings);
      if (fromSetting !== undefined && row.setting_role_exists && isCloneNameOf(username, fromSetting)) {
        return { owner: fromSetting, clone: username };
      }
      // A clone made by AWS's template: a member of the name without the suffix.
      const stripped = username.slice(0, -CLONE_SUFFIX.length);
      if (row.member_of.includes(stripped)) return { owner: stripped, clone: username };
      return { owner: username, clone: cloneUsername(username) };
    },

    async pairState(session: PgSession, versionNum: number, pair: Pair): Promise<PairState> {
      const [row] = await session.query<PairState>(
        pairStateSql(major(versionNum)),
        [pair.owner, pair.clone],
        {
          purpose: `read the state of roles "${pair.owner}" and "${pair.clone}"`,
        },
      );
      if (row === undefined) throw new VerificationFailedError('the role catalog returned nothing');
      return row;
    },

    /** The configured probe, in a READ ONLY transaction that is always rolled back. */
    probe: (session: PgSession, query: string) =>
      runProbe({
        begin: () =>
          session.query(BEGIN_READ_ONLY_SQL, undefined, { purpose: 'begin a read-only transaction' }),
        // The extended protocol refuses a string of several statements (no "; COMMIT; ..." escape).
        run: () => session.query(query, [], { purpose: 'run the probe query', extended: true }),
        end: () => session.query(ROLLBACK_SQL),
      }),
  };
}

/**
 * testSecret's common part: the pending credentials log in (or `session`, a login already made),
 * `session_user` is the pending role (a clone's `current_user` is its owner by design), then
 * `extra` (the strategy's own checks, returning warnings) and the probe query, read-only.
 */
export async function testPending(
  engine: PostgresEngine,
  request: Timing & { pending: PostgresSecret },
  session: PgSession | undefined,
  extra: (session: PgSession, who: Whoami) => Promise<string[]> = async () => [],
): Promise<{ warnings: string[] } | undefined> {
  const { pending } = request;
  const open = session ?? (await engine.open(loginOf(pending), request));
  try {
    const who = await engine.whoami(open);
    if (who.session_user !== pending.username) {
      throw new VerificationFailedError(
        `the pending credentials logged in as "${who.session_user}", not as "${pending.username}"`,
      );
    }
    const warnings = await extra(open, who);
    if (pending.probeQuery !== undefined) await engine.probe(open, pending.probeQuery);
    return warnings.length > 0 ? { warnings } : undefined;
  } finally {
    await open.close();
  }
}

/** Refuses a pending value that points at another server or strategy than the current one. */
export function requireSameServer(current: PostgresSecret, pending: PostgresSecret): void {
  if (pending.host !== current.host) {
    throw new InvalidSecretError('host', 'must be the same as in AWSCURRENT', 'AWSPENDING');
  }
  if (pending.port !== current.port) {
    throw new InvalidSecretError('port', 'must be the same as in AWSCURRENT', 'AWSPENDING');
  }
  if (pending.strategy !== current.strategy) {
    throw new InvalidSecretError('strategy', `must be "${current.strategy}" as in AWSCURRENT`, 'AWSPENDING');
  }
}

export function requireScramSafe(pending: PostgresSecret): void {
  if (!isScramSafe(pending.password)) {
    throw new InvalidSecretError(
      'password',
      'must be printable ASCII: rotor computes the SCRAM verifier itself, and clients disagree on SASLprep beyond ASCII',
      'AWSPENDING',
    );
  }
}
