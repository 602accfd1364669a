/**
 * The PostgreSQL rotator.
 *
 * Strategies
 * - `single-user`: the role changes its own password (no other privilege needed). From apply on
 *   only the new password works, which is why apply recovers from every place a crash can leave
 *   it (see `applySingleUser`) and `rollback` puts the AWSCURRENT password back when the test
 *   fails.
 * - `alternating-users`: two login roles take turns, `<owner>` and `<owner>_clone`; a managing
 *   role (`masterarn`) sets the password of the one not in use, so the credential in AWSCURRENT
 *   keeps working during and after the rotation, until the rotation after next.
 *
 * Ownership (why not AWS's template): AWS's clone is a separate role that owns what it creates,
 * so tables created while the clone is AWSCURRENT are unreadable by the original user once the
 * roles swap back (privilege drift). Here both login roles act as ONE owner, the original role:
 * - the clone is a member of the owner with INHERIT and SET (`GRANT owner TO clone WITH INHERIT
 *   TRUE, SET TRUE` on PostgreSQL 16+, where membership options were split; a plain GRANT plus the
 *   clone's INHERIT attribute before), so it holds exactly the owner's privileges and nothing more;
 * - `ALTER ROLE clone SET role = owner` makes every session of the clone start as the owner, so
 *   `current_user` is the owner and everything the clone creates is owned by the owner.
 * A dedicated NOLOGIN owner role would be symmetric, but it means reassigning every existing
 * object of the user on the first rotation (REASSIGN OWNED, per database, under locks), and the
 * original role then loses ownership it may rely on; keeping the original role as the owner
 * changes nothing for existing objects and grants.
 * The managing role needs CREATEROLE (or superuser) and, on PostgreSQL 16+, ADMIN OPTION on the
 * owner (it gets ADMIN OPTION on the clone by creating it). `preflight` checks exactly that.
 *
 * Drift: testSecret, logged in as the pending role, fails (VerificationFailedError) when the clone
 * does not act as the owner (its membership or `role` setting is gone): a client using it would
 * create objects the owner cannot use. What does not break the rotation but is worth fixing (the
 * clone owning objects or holding grants in its own name, e.g. left by AWS's template; the idle
 * clone's setup gone) is reported in TestResponse.warnings; setSecret restores the clone's setup
 * whenever the clone is the pending role.
 *
 * Clone names: `<owner>_clone` (AWS's convention) when it fits in 63 bytes; a longer owner's name
 * is cut and a short hash of the full name added (`<cut>_<8 hex>_clone`), so two owners sharing a
 * prefix never share a clone. Clones named by the old rule (cut, no hash) are still recognised.
 *
 * Clones are rotor's only: the managing user marks every clone it creates, in the same
 * transaction, with a role comment `rotor clone of <owner>` (COMMENT ON ROLE needs CREATEROLE, and
 * ADMIN OPTION on the role since PostgreSQL 16: a role cannot mark itself, and the secret's writer
 * cannot write it). rotor changes an existing role of the clone's name, or the owner through it,
 * only when it carries that marker naming this owner; otherwise ForeignAccountError names it and
 * nothing changes. Upgrading (clones made before markers, or by AWS's template): an operator
 * adopts the clone for the secret (`rotor attach --adopt <clone>`; rotor then marks it at the next
 * rotation), or marks it as a CREATEROLE role with the statement the error message gives.
 *
 * Which role is the owner: a role whose name does not end in `_clone` is an owner. A name ending
 * in `_clone` is a clone when rotor's marker says so (naming an existing owner whose clone name it
 * is); without a marker, the older evidence (its `role` setting, else membership in the name
 * without the suffix) still names the pair so createPending picks the right partner, but apply
 * refuses to act on it until it is marked or adopted. A name ending in `_clone` with neither is
 * an owner itself (a user really named `data_clone` rotates with `data_clone_clone`).
 *
 * Trust (SECURITY.md): the secret's writer may not be trusted with the master.
 * - The master logs in only where its own secret (host, port, TLS keys) or its binding says, and
 *   the secret's host and port must be that endpoint (MasterBindingError, before any connection).
 * - Before the master acts for the pair, the rotation proves it holds it: AWSCURRENT (else
 *   AWSPREVIOUS) logs in as the secret's user or its partner in this very step, to the bound
 *   endpoint, authenticated by SCRAM or over verified TLS (a server that lets anyone in proves
 *   nothing); or an operator adopted the user. Both roles must match the binding's `manages`
 *   patterns (default: the secret's own pair). UnprovenUserError / UnmanagedUserError otherwise.
 * - rds-master asks RDS to reset a master password only after the same proof (or adoption).
 * - No login sends a cleartext or MD5 password without verified TLS (client.ts).
 *
 * `rds-master`: the master user of an RDS database, rotated through the RDS API (../rdsMaster.ts):
 * apply asks RDS to set the pending password, test waits until RDS applied it, rollback asks RDS
 * for the current one back. No SQL changes anything; the step machine provides the RDS port.
 *
 * Passwords reach the server only as SCRAM-SHA-256 verifiers computed here (scram.ts).
 */
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  ForeignAccountError,
  InsecureAuthenticationError,
  InvalidSecretError,
  MasterBindingError,
  PermissionDeniedError,
  RotorError,
  TargetUnreachableError,
  UnsupportedError,
  VerificationFailedError,
} from '../errors.js';
import { previousFallback } from '../fallback.js';
import {
  applyMasterPassword,
  checkGeneratedPassword,
  RDS_MASTER,
  type RdsWaitOptions,
  rdsMasterChecks,
  requireManagedDatabase,
  rollbackMasterPassword,
  waitForMasterPassword,
} from '../rdsMaster.js';
import type { TlsSettings } from '../tls.js';
import { authorizeActingFor, bindMaster, type MasterBinding, matchesPattern } from '../trust.js';
import type {
  ApplyRequest,
  ApplyResponse,
  PreflightCheck,
  PreflightRequest,
  RequestBase,
  RollbackRequest,
  Rotator,
  TestRequest,
} from '../types.js';
import { type ConnectPostgres, connectPostgres, describeTarget, type PgSession } from './client.js';
import { isScramSafe, scramSha256Verifier } from './scram.js';
import {
  DEFAULT_DBNAME,
  DEFAULT_PORT,
  ENGINES,
  type PostgresLogin,
  type PostgresSecret,
  parseMasterSecret,
  parsePostgresSecret,
} from './secret.js';
import {
  alterCloneSql,
  BEGIN_READ_ONLY_SQL,
  BEGIN_SQL,
  CLONE_MARKER_PREFIX,
  CLONE_OWNER_SQL,
  CLONE_SUFFIX,
  COMMIT_SQL,
  cloneMarker,
  cloneUsername,
  createCloneSql,
  grantOwnerSql,
  isCloneNameOf,
  MASTER_RIGHTS_SQL,
  markCloneSql,
  pairStateSql,
  quoteIdentifier,
  RESET_ROLE_SQL,
  ROLLBACK_SQL,
  roleSetting,
  setCloneRoleSql,
  setPasswordSql,
  WHOAMI_SQL,
} from './sql.js';

export interface PostgresRotatorOptions {
  /** How to log in. Default: node-postgres (client.ts). Tests wrap it to count logins. */
  connect?: ConnectPostgres;
  /** rds-master: how testSecret polls while RDS applies the change (tests shorten it). */
  rdsWait?: RdsWaitOptions;
}

/** An owner role and its alternating partner. */
interface Pair {
  owner: string;
  clone: string;
}

/** Where the managing user logs in, as its own secret or its binding decided, and its binding. */
interface MasterAccess {
  login: PostgresLogin;
  binding?: MasterBinding;
  /** The `masterarn` (for messages). */
  secretId: string;
}

/** Which of the secret's own stored credentials logged in during this step. */
type Proof = 'AWSCURRENT' | 'AWSPREVIOUS' | undefined;

interface Whoami {
  session_user: string;
  current_user: string;
  version_num: number;
}

interface PairState {
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

interface MasterRights {
  superuser: boolean;
  createrole: boolean;
  version_num: number;
  owner_admin: boolean | null;
  clone_admin: boolean | null;
}

type Deadline = Pick<RequestBase, 'signal' | 'deadline'>;

const MIN_VERSION_NUM = 100_000; // SCRAM-SHA-256 verifiers: PostgreSQL 10.

function major(versionNum: number): number {
  return Math.floor(versionNum / 10_000);
}

function loginOf(secret: PostgresLogin, password = secret.password): PostgresLogin {
  return {
    host: secret.host,
    port: secret.port,
    dbname: secret.dbname,
    username: secret.username,
    password,
    tls: secret.tls,
  };
}

function describeTls(login: PostgresLogin): string {
  return login.tls.mode === 'disable' ? 'in plaintext (ssl: false)' : `over TLS (${login.tls.mode})`;
}

/**
 * The alternating pair of two role names, by name alone: `pending` is the clone of `current`, or
 * `current` is the clone of `pending`. createPending chose `pending` that way.
 */
function pairOf(current: string, pending: string): Pair & { pendingIs: 'owner' | 'clone' } {
  if (isCloneNameOf(pending, current)) return { owner: current, clone: pending, pendingIs: 'clone' };
  if (isCloneNameOf(current, pending)) return { owner: pending, clone: current, pendingIs: 'owner' };
  throw new InvalidSecretError(
    'username',
    `must be the alternating partner of role "${current}" (its clone "${cloneUsername(current)}" or its owner)`,
    'AWSPENDING',
  );
}

/** Refuses a pending value that points at another account or server than the current one. */
function requireSameServer(current: PostgresSecret, pending: PostgresSecret): void {
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

function requireScramSafe(pending: PostgresSecret): void {
  if (!isScramSafe(pending.password)) {
    throw new InvalidSecretError(
      'password',
      'must be printable ASCII: rotor computes the SCRAM verifier itself, and clients disagree on SASLprep beyond ASCII',
      'AWSPENDING',
    );
  }
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
async function onceMoreAfterWriteConflict<T>(apply: () => Promise<T>): Promise<T> {
  try {
    return await apply();
  } catch (error) {
    const code =
      error instanceof RotorError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
    if (typeof code !== 'string' || !WRITE_CONFLICTS.has(code)) throw error;
    return await apply();
  }
}

/** Whether the server checked the credential of this session (the proof of `proveOwnAccount`). */
function provesPossession(session: PgSession): boolean {
  if (session.authentication === 'scram') return true;
  return (
    (session.authentication === 'password' || session.authentication === 'md5') &&
    session.verifiedTls === true
  );
}

function isNetworkOrDeadline(error: unknown): boolean {
  return error instanceof TargetUnreachableError || error instanceof DeadlineExceededError;
}

export function createPostgresRotator(options: PostgresRotatorOptions = {}) {
  const connect = options.connect ?? connectPostgres;

  /** Logs in, or returns undefined when the server refuses these credentials (and only then). */
  async function tryLogin(
    login: PostgresLogin,
    request: Deadline,
    catalogOnly = false,
  ): Promise<PgSession | undefined> {
    try {
      return await connect({ login, signal: request.signal, deadline: request.deadline, catalogOnly });
    } catch (error) {
      if (error instanceof AuthenticationFailedError) return undefined;
      throw error;
    }
  }

  /**
   * The managing user's login: its credential from its own secret; where it logs in (and over
   * which TLS) from that secret's own fields or its binding, never from the rotated secret, whose
   * host and port must be that endpoint. Throws MasterBindingError before any connection is made.
   */
  async function masterLogin(
    secret: PostgresSecret,
    fetchMaster: RequestBase['fetchMaster'],
  ): Promise<MasterAccess> {
    if (secret.masterarn === undefined) {
      throw new InvalidSecretError(
        'masterarn',
        'is required by the alternating-users strategy',
        'AWSCURRENT',
      );
    }
    const { master, endpoint, binding } = await bindMaster({
      fetchMaster,
      masterSecretId: secret.masterarn,
      parse: parseMasterSecret,
      rotated: { host: secret.host, port: secret.port },
      defaultPort: DEFAULT_PORT,
    });
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
      secretId: secret.masterarn,
    };
  }

  /**
   * Proof of possession: which of the secret's own stored credentials (AWSCURRENT, else
   * AWSPREVIOUS) logs in now, during this step, as one of `accounts` (the secret's user and its
   * pair partner). Each login goes to the secret's endpoint (for alternating users the master's
   * bound endpoint: bindMasterEndpoint checked they are the same) over `tls`, and counts only when
   * the server authenticated it (a completed SCRAM exchange, or a password over verified TLS) and
   * `session_user` is that account: a server that lets anyone in proves nothing.
   */
  async function proveOwnAccount(
    request: Deadline & { current: PostgresSecret; previous?: () => Promise<PostgresSecret | undefined> },
    accounts: readonly string[],
    tls: TlsSettings,
  ): Promise<Proof> {
    const { current } = request;
    const candidates: [Exclude<Proof, undefined>, () => Promise<PostgresSecret | undefined>][] = [
      ['AWSCURRENT', async () => current],
      ['AWSPREVIOUS', request.previous ?? (async () => undefined)],
    ];
    for (const [label, read] of candidates) {
      const value = await read();
      if (value === undefined || !accounts.includes(value.username)) continue;
      if (value.host !== current.host || value.port !== current.port) continue;
      const session = await tryLogin(
        { ...loginOf(current, value.password), username: value.username, tls },
        request,
        true,
      );
      if (session === undefined) continue;
      try {
        // Only a login the server checked proves anything: SCRAM, or a password (or MD5) the client
        // sent over verified TLS. A server that let the session in without asking (trust), or a
        // session whose authentication is unknown, proves nothing.
        if (!provesPossession(session)) continue;
        const who = await whoami(session);
        if (who.session_user === value.username) return label;
      } finally {
        await session.close();
      }
    }
    return undefined;
  }

  /**
   * Before the master acts for the pair (creates or re-passwords the clone, sets the owner's
   * password): both roles must be allowed by the binding's `manages` (default: the secret's own
   * user and its clone), and the rotation must prove it holds one of them (`proveOwnAccount`), or
   * an operator adopted one of them for this secret. Throws UnmanagedUserError /
   * UnprovenUserError; changes nothing, and the master has not logged in yet.
   */
  async function authorizeForPair(
    request: ApplyRequest<PostgresSecret>,
    master: MasterAccess,
    pair: Pair,
  ): Promise<Proof> {
    const { current } = request;
    // The proof travels like the master: to the bound endpoint, over the master's TLS when it is
    // verified (the rotated secret's TLS keys are its writer's choice), else the secret's own.
    const tls = master.login.tls.mode === 'disable' ? current.tls : master.login.tls;
    const accounts = [pair.owner, pair.clone];
    const provenBy = await proveOwnAccount(request, accounts, tls);
    const adopted = provenBy === undefined ? await request.adopted() : [];
    const adoptedPair = accounts.some((account) => adopted.includes(account));
    for (const user of accounts) {
      authorizeActingFor({
        user,
        own: accounts,
        ...(master.binding === undefined ? {} : { binding: master.binding }),
        ...(provenBy === undefined ? {} : { provenBy }),
        adopted: adoptedPair ? [user] : [],
        actor: `the managing user of ${master.secretId}`,
      });
    }
    return provenBy;
  }

  /** Whether these credentials log in (false only when the server refuses them). */
  async function logsIn(login: PostgresLogin, request: Deadline): Promise<boolean> {
    const session = await tryLogin(login, request);
    await session?.close();
    return session !== undefined;
  }

  /**
   * rds-master apply: RDS sets the password (../rdsMaster.ts). When the pending password already
   * logs in and RDS has nothing pending, an earlier attempt's change was applied: nothing is
   * asked again.
   */
  async function applyRdsMaster(request: ApplyRequest<PostgresSecret>): Promise<void> {
    const { current, pending } = request;
    if (pending.username !== current.username) {
      throw new InvalidSecretError(
        'username',
        `must be "${current.username}" as in AWSCURRENT (rds-master changes the master's password)`,
        'AWSPENDING',
      );
    }
    const db = requireManagedDatabase(request);
    // The database a secret names is its writer's choice, and its master user's name is public:
    // RDS resets the password only for a writer who proves holding it (or an adopted user).
    const provenBy = await proveOwnAccount(request, [current.username], current.tls);
    let adopted: readonly string[] = [];
    if (provenBy === undefined) {
      // A replay after RDS applied this very change: nothing is asked of RDS, so nothing to prove.
      if (!(await db.masterPasswordChangePending()) && (await logsIn(loginOf(pending), request))) return;
      adopted = await request.adopted();
    }
    authorizeActingFor({
      user: current.username,
      own: [current.username],
      ...(provenBy === undefined ? {} : { provenBy }),
      adopted,
      actor: 'the RDS API',
    });
    await applyMasterPassword(
      db,
      pending.password,
      () => logsIn(loginOf(pending), request),
      request,
      options.rdsWait,
    );
  }

  /**
   * rds-master rollback puts AWSCURRENT's password on the master: right after this rotation's own
   * change (the pending password logs in, or RDS still has a change in flight), never as a way to
   * set a password the secret's writer chose. When neither AWSCURRENT nor AWSPENDING logs in and
   * RDS has nothing pending, this rotation changed nothing to undo: only an adopted user is reset.
   */
  async function guardRdsRollback(request: RollbackRequest<PostgresSecret>): Promise<void> {
    const { current, pending } = request;
    const db = request.managedDatabase;
    if (db === undefined || db.managesMasterPassword) return;
    if (await db.masterPasswordChangePending()) return;
    if (await logsIn(loginOf(current), request)) return;
    if (await logsIn(loginOf(pending), request)) return;
    authorizeActingFor({
      user: current.username,
      own: [current.username],
      adopted: await request.adopted(),
      actor: 'the RDS API (rollback)',
    });
  }

  /** Logs in as the managing user; a refusal says so (its secret, not the rotated one, is wrong). */
  async function masterSession({ login }: MasterAccess, request: Deadline): Promise<PgSession> {
    try {
      return await connect({ login, signal: request.signal, deadline: request.deadline, catalogOnly: true });
    } catch (error) {
      if (error instanceof AuthenticationFailedError) {
        throw new AuthenticationFailedError(
          `the managing user "${login.username}" (masterarn) could not log in: ${error.detail}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

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

  /**
   * The owner/clone pair `username` belongs to, read from the server (see the top comment). Only
   * rotor's marker is proof that a role is rotor's clone; the older evidence (role setting,
   * membership) names the pair of a clone made before markers, which apply then refuses to change
   * until an operator marks or adopts it.
   */
  async function resolvePair(session: PgSession, username: string): Promise<Pair> {
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
  }

  async function pairState(session: PgSession, versionNum: number, pair: Pair): Promise<PairState> {
    const [row] = await session.query<PairState>(pairStateSql(major(versionNum)), [pair.owner, pair.clone], {
      purpose: `read the state of roles "${pair.owner}" and "${pair.clone}"`,
    });
    if (row === undefined) throw new VerificationFailedError('the role catalog returned nothing');
    return row;
  }

  /**
   * single-user apply. The normal case is one login (current credentials) and one statement. A
   * refused login means an earlier attempt may have got further, so the fallbacks:
   * - AWSPENDING logs in: the change already happened (a replay after a crash): nothing to do;
   * - AWSPREVIOUS logs in: AWSCURRENT was replaced in Secrets Manager without the database: the
   *   database still has the older password, and changes from there.
   */
  async function applySingleUser(request: ApplyRequest<PostgresSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    let session = await tryLogin(loginOf(current), request);
    let response: ApplyResponse = {};
    if (session === undefined) {
      const applied = await tryLogin(loginOf(current, pending.password), request);
      if (applied !== undefined) {
        await applied.close();
        return {};
      }
      const previous = await request.previous();
      if (previous !== undefined && previous.username === current.username) {
        session = await tryLogin(loginOf(current, previous.password), request);
        if (session !== undefined) response = previousFallback(`role "${current.username}"`);
      }
      if (session === undefined) {
        throw new AuthenticationFailedError(
          `${describeTarget(current)}: role "${current.username}" logs in with none of AWSCURRENT, AWSPENDING, AWSPREVIOUS`,
        );
      }
    }
    try {
      // A `role` setting can make the session start as another role, and a role may change only
      // its own password: act as the session user.
      await session.query(RESET_ROLE_SQL, undefined, { purpose: 'act as the session user (SET ROLE NONE)' });
      await session.query(
        setPasswordSql(pending.username, scramSha256Verifier(pending.password)),
        undefined,
        {
          purpose: `set the password of role "${pending.username}"`,
        },
      );
    } finally {
      await session.close();
    }
    return response;
  }

  /**
   * alternating-users apply: as the managing user, set the pending role's password; when the
   * pending role is the clone, create it if needed (marked as rotor's, see the top comment) and
   * (re)establish its membership in the owner and its `role` setting, in one transaction (role DDL
   * is transactional in PostgreSQL). The role in AWSCURRENT is never touched.
   * Before any of it: the master's endpoint is bound (MasterBindingError before it logs in), the
   * rotation proves it holds the pair (UnprovenUserError, UnmanagedUserError), and an existing
   * clone must carry rotor's marker naming the owner (ForeignAccountError), unless an operator
   * adopted it, in which case it is marked now.
   */
  async function applyAlternating(request: ApplyRequest<PostgresSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    const pair = pairOf(current.username, pending.username);
    const master = await masterLogin(current, request.fetchMaster);
    // AWSCURRENT's role never has its password changed by rotor: when only AWSPREVIOUS proved the
    // pair, AWSCURRENT was changed elsewhere (and its users are failing), which on-call must see.
    const provenBy = await authorizeForPair(request, master, pair);
    const session = await masterSession(master, request);
    try {
      const { version_num } = await whoami(session);
      const state = await pairState(session, version_num, pair);
      if (!state.owner_exists) {
        throw new InvalidSecretError(
          'username',
          `names the owner role "${pair.owner}", which does not exist on ${session.target}`,
          pair.pendingIs === 'owner' ? 'AWSPENDING' : 'AWSCURRENT',
        );
      }
      const { owner, clone } = pair;
      const marked = state.clone_marker === cloneMarker(owner);
      if (state.clone_exists && !marked && !(await request.adopted()).includes(clone)) {
        throw new ForeignAccountError(
          `role "${clone}" on ${session.target} exists but is not marked as rotor's clone of "${owner}" (rotor marks the clones its managing user creates): rotor changes neither it nor "${owner}" through it. If it is this secret's clone, an operator adopts it (rotor attach --adopt "${clone}") or marks it as a role with CREATEROLE: ${markCloneSql(clone, owner)}`,
        );
      }
      const verifier = scramSha256Verifier(pending.password);
      await session.query(BEGIN_SQL, undefined, { purpose: 'begin a transaction' });
      try {
        if (pair.pendingIs === 'owner') {
          await session.query(setPasswordSql(owner, verifier), undefined, {
            purpose: `set the password of role "${owner}"`,
          });
        } else if (state.clone_exists) {
          await session.query(alterCloneSql(clone, verifier), undefined, {
            purpose: `set the password of role "${clone}"`,
          });
        } else {
          await session.query(createCloneSql(clone, verifier), undefined, {
            purpose: `create role "${clone}"`,
          });
        }
        if ((state.clone_exists || pair.pendingIs === 'clone') && !marked) {
          await session.query(markCloneSql(clone, owner), undefined, {
            purpose: `mark role "${clone}" as rotor's clone of "${owner}" (COMMENT ON ROLE)`,
          });
        }
        if (pair.pendingIs === 'clone') {
          const inherits = state.is_member === true && state.inherits === true && state.can_set === true;
          if (!inherits) {
            await session.query(grantOwnerSql(owner, clone, major(version_num)), undefined, {
              purpose: `grant role "${owner}" to "${clone}"`,
            });
          }
          if (roleSetting(state.clone_settings) !== owner) {
            await session.query(setCloneRoleSql(clone, owner), undefined, {
              purpose: `make role "${clone}" act as "${owner}" (ALTER ROLE ... SET role)`,
            });
          }
        }
        await session.query(COMMIT_SQL, undefined, { purpose: 'commit the role changes' });
      } catch (error) {
        await session.query(ROLLBACK_SQL).catch(() => undefined);
        throw error;
      }
    } finally {
      await session.close();
    }
    return provenBy === 'AWSPREVIOUS' ? previousFallback(`role "${current.username}"`) : {};
  }

  /** Drift between the two roles, as the pending role sees it. Throws when the clone would not act as the owner. */
  async function checkPair(
    session: PgSession,
    who: Whoami,
    pending: PostgresSecret,
    current: PostgresSecret,
  ): Promise<string[]> {
    const pair = pairOf(current.username, pending.username);
    const { owner, clone } = pair;
    if (pair.pendingIs === 'clone' && who.current_user !== owner) {
      throw new VerificationFailedError(
        `role "${clone}" logs in as itself, not as "${owner}": objects it created would not belong to "${owner}" (its membership in "${owner}" or its role setting is missing)`,
      );
    }
    const warnings: string[] = [];
    if (pair.pendingIs === 'owner' && who.current_user !== owner) {
      warnings.push(
        `role "${owner}" starts its sessions as "${who.current_user}" (a role setting): objects it creates belong to "${who.current_user}"`,
      );
    }
    const state = await pairState(session, who.version_num, pair);
    if (pair.pendingIs === 'owner' && state.clone_exists) {
      if (
        !(state.is_member && state.inherits && state.can_set) ||
        roleSetting(state.clone_settings) !== owner
      ) {
        warnings.push(
          `role "${clone}" is no longer set up to act as "${owner}" (membership with INHERIT and SET, and ALTER ROLE ... SET role); the next rotation restores it`,
        );
      }
    }
    if ((state.clone_owned ?? 0) > 0) {
      warnings.push(
        `role "${clone}" owns ${state.clone_owned} object(s) that "${owner}" does not: run REASSIGN OWNED BY ${quoteIdentifier(clone)} TO ${quoteIdentifier(owner)} in each database`,
      );
    }
    if ((state.clone_grants ?? 0) > 0) {
      warnings.push(
        `role "${clone}" holds ${state.clone_grants} privilege(s) in its own name: grant them to "${owner}" instead, the clone inherits them`,
      );
    }
    return warnings;
  }

  /** The configured probe, in a READ ONLY transaction that is always rolled back. */
  async function probe(session: PgSession, query: string): Promise<void> {
    await session.query(BEGIN_READ_ONLY_SQL, undefined, { purpose: 'begin a read-only transaction' });
    try {
      // The extended protocol refuses a string of several statements (no "; COMMIT; ..." escape).
      await session.query(query, [], { purpose: 'run the probe query', extended: true });
    } catch (error) {
      if (isNetworkOrDeadline(error)) throw error;
      const detail = error instanceof RotorError ? error.detail : 'unexpected error';
      throw new VerificationFailedError(`the probe query failed: ${detail}`, {
        ...(error instanceof RotorError ? { cause: error } : {}),
      });
    } finally {
      await session.query(ROLLBACK_SQL).catch(() => undefined);
    }
  }

  /** One preflight line for a login, and the session when it worked. */
  async function loginCheck(
    name: string,
    login: PostgresLogin,
    request: Deadline,
    catalogOnly = false,
  ): Promise<{ check: PreflightCheck; session?: PgSession; who?: Whoami }> {
    const target = describeTarget(login);
    let session: PgSession;
    try {
      session = await connect({ login, signal: request.signal, deadline: request.deadline, catalogOnly });
    } catch (error) {
      return { check: { name, ok: false, detail: errorDetail(error), fix: loginFix(error) } };
    }
    try {
      const who = await whoami(session);
      const version = major(who.version_num);
      if (who.version_num < MIN_VERSION_NUM) {
        return {
          check: {
            name,
            ok: false,
            detail: `${target} runs PostgreSQL ${version}`,
            fix: 'Upgrade to PostgreSQL 10 or later: rotor sets SCRAM-SHA-256 verifiers',
          },
          session,
          who,
        };
      }
      return {
        check: {
          name,
          ok: true,
          detail: `role "${who.session_user}" logs in to ${target} (PostgreSQL ${version}) ${describeTls(login)}`,
        },
        session,
        who,
      };
    } catch (error) {
      await session.close();
      return { check: { name, ok: false, detail: errorDetail(error), fix: loginFix(error) } };
    }
  }

  async function preflightAlternating(
    request: PreflightRequest<PostgresSecret>,
    checks: PreflightCheck[],
  ): Promise<void> {
    const { current } = request;
    let access: MasterAccess;
    try {
      access = await masterLogin(current, request.fetchMaster);
      checks.push({
        name: 'master secret',
        ok: true,
        detail: `managing role "${access.login.username}" on ${describeTarget(access.login)} ${describeTls(access.login)}, as ${access.binding === undefined ? 'the master secret itself says' : `the ${access.binding.source} binds it`}`,
      });
    } catch (error) {
      checks.push({
        name: 'master secret',
        ok: false,
        detail: errorDetail(error),
        fix:
          error instanceof MasterBindingError
            ? `Name where the master logs in, outside this secret: "host" (and "port", TLS keys) in the master secret, or a "masters" entry binding ${current.masterarn} in the stage file; and give this secret that host and port`
            : "Point masterarn at a secret whose JSON holds the managing role's username, password and host (and port, dbname, TLS keys when they differ)",
      });
      return;
    }
    const master = access.login;
    const managed = access.binding?.manages;
    const { check, session, who } = await loginCheck('master login', master, request, true);
    checks.push(check);
    if (session === undefined || who === undefined) return;
    try {
      const pair = await resolvePair(session, current.username);
      const [rights] = await session.query<MasterRights>(MASTER_RIGHTS_SQL, [pair.owner, pair.clone], {
        purpose: "read the managing role's privileges",
      });
      const state = await pairState(session, who.version_num, pair);
      checks.push(masterRightsCheck(master.username, pair, rights, state));
      if (managed !== undefined) {
        const outside = [pair.owner, pair.clone].filter(
          (user) => !managed.some((pattern) => matchesPattern(user, pattern)),
        );
        checks.push(
          outside.length === 0
            ? {
                name: 'managed users',
                ok: true,
                detail: `the binding's manages patterns allow "${pair.owner}" and "${pair.clone}"`,
              }
            : {
                name: 'managed users',
                ok: false,
                detail: `the binding's manages patterns (${managed.join(', ')}) do not allow ${outside.map((u) => `"${u}"`).join(' and ')}`,
                fix: `Add a pattern for ${outside.map((u) => `"${u}"`).join(' and ')} to the "manages" of the master's stage file entry`,
              },
        );
      }
      checks.push(cloneCheck(pair, state));
      const drift = (state.clone_owned ?? 0) + (state.clone_grants ?? 0);
      checks.push(
        drift === 0
          ? {
              name: 'privilege drift',
              ok: true,
              detail: `role "${pair.clone}" owns nothing and holds no grant in its own name`,
            }
          : {
              name: 'privilege drift',
              ok: false,
              detail: `role "${pair.clone}" owns ${state.clone_owned} object(s) and holds ${state.clone_grants} grant(s) in its own name`,
              fix: `In each database: REASSIGN OWNED BY ${quoteIdentifier(pair.clone)} TO ${quoteIdentifier(pair.owner)}; grant privileges to "${pair.owner}" only`,
            },
      );
    } catch (error) {
      checks.push({
        name: 'master privileges',
        ok: false,
        detail: errorDetail(error),
        fix: 'See the detail',
      });
    } finally {
      await session.close();
    }
  }

  return {
    engines: ENGINES,
    /** createPending only reads (see there): PutSecretValue alone tells whether a value is stored. */
    createPendingChangesNothing: true,

    parse: ({ value, label, managedDatabase }) => parsePostgresSecret(value, label, managedDatabase),

    strategy: (secret) => secret.strategy,

    /**
     * A new password; for alternating users, the other role of the pair (which may need the
     * server to tell a clone from an owner, see the top comment). Read-only: a repeated call
     * changes nothing anywhere, and the value it returns is stored only once by the step machine.
     */
    async createPending(request) {
      const { current, currentValue } = request;
      let username = current.username;
      if (current.strategy === 'alternating-users') {
        if (current.username.endsWith(CLONE_SUFFIX)) {
          const master = await masterLogin(current, request.fetchMaster);
          const session = await masterSession(master, request);
          try {
            const pair = await resolvePair(session, current.username);
            username = pair.owner === current.username ? pair.clone : pair.owner;
          } finally {
            await session.close();
          }
        } else {
          username = cloneUsername(current.username);
        }
      }
      const password = request.generatePassword();
      if (current.strategy === RDS_MASTER) checkGeneratedPassword(password, request.managedDatabase);
      // Built from the stored JSON: unknown keys and the representation of known ones survive.
      const pending: Record<string, unknown> = { ...currentValue, password };
      if (username !== current.username) pending.username = username;
      return { pending };
    },

    /**
     * Makes the pending password work. Idempotent: a replay sets the same password again (with a
     * fresh salt), or (single-user, rds-master) finds it already in place and does nothing.
     * rds-master only asks RDS, which applies the change asynchronously: test waits for it.
     * Checks the pending value against the current one before any change, so a bad value changes
     * nothing.
     */
    async apply(request) {
      const { current, pending } = request;
      requireSameServer(current, pending);
      requireScramSafe(pending);
      if (current.strategy === RDS_MASTER) {
        await applyRdsMaster(request);
      } else if (current.strategy === 'single-user') {
        if (pending.username !== current.username) {
          throw new InvalidSecretError(
            'username',
            `must be "${current.username}" as in AWSCURRENT (single-user rotation changes one role's password)`,
            'AWSPENDING',
          );
        }
        return await onceMoreAfterWriteConflict(() => applySingleUser(request));
      } else {
        if (pending.username === current.username) {
          throw new InvalidSecretError(
            'username',
            "must differ from AWSCURRENT's: alternating-users rotation never changes the password in use",
            'AWSPENDING',
          );
        }
        return await onceMoreAfterWriteConflict(() => applyAlternating(request));
      }
    },

    /**
     * Logs in with the pending credentials and checks the session's identity: `session_user` (who
     * authenticated), since a clone's `current_user` is its owner by design. For alternating users
     * it checks the pair (see Drift above); then it runs the probe query, read-only. rds-master
     * first waits, within the deadline, until RDS has applied the change. It only reads, so it can
     * be repeated at will.
     */
    async test(request: TestRequest<PostgresSecret>) {
      const { pending } = request;
      // rds-master: the wait's successful login is the test's session (no second login).
      let waited: PgSession | undefined;
      if (pending.strategy === RDS_MASTER && request.managedDatabase !== undefined) {
        await waitForMasterPassword(
          request.managedDatabase,
          async () => {
            waited = await tryLogin(loginOf(pending), request);
            return waited !== undefined;
          },
          request,
          options.rdsWait,
        );
      }
      const session =
        waited ??
        (await connect({ login: loginOf(pending), signal: request.signal, deadline: request.deadline }));
      try {
        const who = await whoami(session);
        if (who.session_user !== pending.username) {
          throw new VerificationFailedError(
            `the pending credentials logged in as "${who.session_user}", not as "${pending.username}"`,
          );
        }
        // RotateSecret with RotateImmediately=false tests the configuration with a copy of
        // AWSCURRENT as the pending value: there is no pair to compare then.
        const current = pending.strategy === 'alternating-users' ? await request.current() : undefined;
        const warnings =
          current !== undefined && current.username !== pending.username
            ? await checkPair(session, who, pending, current)
            : [];
        if (pending.probeQuery !== undefined) await probe(session, pending.probeQuery);
        return warnings.length > 0 ? { warnings } : undefined;
      } finally {
        await session.close();
      }
    },

    /**
     * single-user and rds-master (alternating users never touch the credential in use): after a
     * failed test, sets the AWSCURRENT password again so that clients holding it log in while the
     * failure is looked into (rds-master: first waits, within the deadline, for a change RDS still
     * has pending, then asks RDS only if AWSCURRENT no longer logs in; never a second change on a
     * pending one). Idempotent: when AWSCURRENT already logs in (nothing was applied, or it was
     * rolled back before) and RDS has nothing pending, it changes nothing.
     */
    async rollback(request: RollbackRequest<PostgresSecret>) {
      const { current, pending } = request;
      if (current.strategy === RDS_MASTER) {
        await guardRdsRollback(request);
        await rollbackMasterPassword(
          request.managedDatabase,
          current.password,
          () => logsIn(loginOf(current), request),
          request,
          options.rdsWait,
        );
        return;
      }
      if (current.strategy !== 'single-user' || pending.username !== current.username) return;
      // Usually apply worked and only the test failed: the pending password is the one in place.
      const session = await tryLogin(loginOf(current, pending.password), request);
      if (session === undefined) {
        const restored = await tryLogin(loginOf(current), request);
        if (restored === undefined) {
          throw new AuthenticationFailedError(
            `${describeTarget(current)}: role "${current.username}" logs in with neither AWSPENDING nor AWSCURRENT`,
          );
        }
        await restored.close();
        return;
      }
      try {
        if (!isScramSafe(current.password)) {
          throw new UnsupportedError(
            'the AWSCURRENT password is not printable ASCII: rotor cannot restore it without sending it in plaintext',
          );
        }
        await session.query(RESET_ROLE_SQL, undefined, {
          purpose: 'act as the session user (SET ROLE NONE)',
        });
        await session.query(
          setPasswordSql(current.username, scramSha256Verifier(current.password)),
          undefined,
          {
            purpose: `restore the password of role "${current.username}"`,
          },
        );
      } finally {
        await session.close();
      }
    },

    /** Reads only: the login over the configured TLS mode, and what the strategy needs. */
    async preflight(request) {
      const { current } = request;
      const checks: PreflightCheck[] = [
        {
          name: 'secret',
          ok: true,
          detail: `${current.strategy}: role "${current.username}" on ${describeTarget(current)}, database "${current.dbname}", ${describeTls(current)}`,
        },
      ];
      const { check, session } = await loginCheck('login', loginOf(current), request);
      checks.push(check);
      await session?.close();
      if (current.strategy === 'alternating-users') await preflightAlternating(request, checks);
      if (current.strategy === RDS_MASTER)
        checks.push(...rdsMasterChecks(current.username, request.managedDatabase));
      return checks;
    },
  } satisfies Rotator<PostgresSecret>;
}

function errorDetail(error: unknown): string {
  return error instanceof RotorError
    ? error.detail
    : `unexpected ${error instanceof Error ? error.name : typeof error}`;
}

function loginFix(error: unknown): string {
  if (error instanceof InsecureAuthenticationError) {
    return "Make the role's login use SCRAM: scram-sha-256 in pg_hba.conf and the password set again with password_encryption = scram-sha-256 (or connect over verified TLS: tlsMode verify-full or verify-ca)";
  }
  if (error instanceof AuthenticationFailedError) {
    return "Check the username and password, and that pg_hba.conf lets this role in from the Lambda's network (scram-sha-256)";
  }
  if (error instanceof TargetUnreachableError) {
    return error.reason === 'tls'
      ? "Trust the server's CA with tlsCa (PEM) or name the certificate's host with tlsServerName; use ssl: false only on a network you trust"
      : 'Check host and port, and that the Lambda can reach the database (VPC, subnets, security groups)';
  }
  if (error instanceof InvalidSecretError) return `Fix the field "${error.field}"`;
  if (error instanceof PermissionDeniedError) return 'Grant the privilege named in the detail';
  return 'See the detail';
}

function masterRightsCheck(
  master: string,
  pair: Pair,
  rights: MasterRights | undefined,
  state: PairState,
): PreflightCheck {
  const name = 'master privileges';
  if (rights === undefined)
    return { name, ok: false, detail: 'the role catalog returned nothing', fix: 'See the detail' };
  if (rights.superuser) return { name, ok: true, detail: `role "${master}" is a superuser` };
  const m = quoteIdentifier(master);
  if (!rights.createrole) {
    return {
      name,
      ok: false,
      detail: `role "${master}" lacks CREATEROLE`,
      fix: `ALTER ROLE ${m} CREATEROLE`,
    };
  }
  if (!state.owner_exists) {
    return {
      name,
      ok: false,
      detail: `role "${pair.owner}" does not exist`,
      fix: "Fix the secret's username",
    };
  }
  if (major(rights.version_num) >= 16) {
    // Since PostgreSQL 16 CREATEROLE alone no longer lets a role alter or grant another role.
    const missing = [
      ...(rights.owner_admin ? [] : [pair.owner]),
      ...(state.clone_exists && !rights.clone_admin ? [pair.clone] : []),
    ];
    if (missing.length > 0) {
      return {
        name,
        ok: false,
        detail: `role "${master}" has CREATEROLE but not ADMIN OPTION on ${missing.map((r) => `"${r}"`).join(' and ')} (required since PostgreSQL 16)`,
        fix: missing
          .map((r) => `GRANT ${quoteIdentifier(r)} TO ${m} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`)
          .join('; '),
      };
    }
    return {
      name,
      ok: true,
      detail: `role "${master}" has CREATEROLE and ADMIN OPTION on the roles it manages`,
    };
  }
  if (state.owner_superuser) {
    return {
      name,
      ok: false,
      detail: `role "${pair.owner}" is a superuser: a CREATEROLE role cannot manage it`,
      fix: 'Rotate a non-superuser role, or use a superuser as the managing role',
    };
  }
  return { name, ok: true, detail: `role "${master}" has CREATEROLE` };
}

function cloneCheck(pair: Pair, state: PairState): PreflightCheck {
  const name = 'clone role';
  if (!state.clone_exists) {
    return {
      name,
      ok: true,
      detail: `role "${pair.clone}" does not exist yet: the first rotation creates it as a member of "${pair.owner}"`,
    };
  }
  if (state.clone_marker !== cloneMarker(pair.owner)) {
    return {
      name,
      ok: false,
      detail: `role "${pair.clone}" exists but is not marked as rotor's clone of "${pair.owner}": rotation refuses to change it (ForeignAccountError)`,
      fix: `If it is this secret's clone: rotor attach --adopt "${pair.clone}", or as a role with CREATEROLE: ${markCloneSql(pair.clone, pair.owner)}; else rename it or rotate another user`,
    };
  }
  const setUp =
    state.is_member && state.inherits && state.can_set && roleSetting(state.clone_settings) === pair.owner;
  return {
    name,
    ok: true,
    detail: setUp
      ? `role "${pair.clone}" acts as "${pair.owner}"`
      : `role "${pair.clone}" exists but does not act as "${pair.owner}" yet: the next rotation that sets its password restores its membership and role setting`,
  };
}

/** The PostgreSQL rotator with the real driver. */
export const postgresRotator = createPostgresRotator();
