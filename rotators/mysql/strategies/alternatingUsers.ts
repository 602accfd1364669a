/**
 * alternating-users: the managing user makes the other account (`app_clone`, or back `app`) accept
 * the pending password and gives it exactly the primary account's access: every SHOW GRANTS line
 * (WITH GRANT OPTION and WITH ADMIN OPTION kept, role grants shared rather than flattened, MySQL
 * partial revokes kept), the default role(s), the TLS requirement (REQUIRE SSL / X509 / ISSUER ...)
 * and the resource limits. The account rotated *from* is never touched.
 */

import {
  AuthenticationFailedError,
  ConfigurationError,
  ForeignAccountError,
  InvalidSecretError,
  PermissionDeniedError,
  UnsupportedError,
  VerificationFailedError,
} from '../../errors.js';
import { previousFallback } from '../../fallback.js';
import type { Proof } from '../../sql/kit.js';
import { notApplicable, type StrategyImpl } from '../../sql/strategy.js';
import type { MysqlSession, Row } from '../client.js';
import { causeCode } from '../client.js';
import { assertServerSupported, type MysqlEngine, testPending } from '../engine.js';
import { type Check, canRun, describeError, fixFor, globalPrivileges } from '../preflight.js';
import type { MysqlLogin, MysqlSecret } from '../secret.js';
import {
  type Account,
  type AccountOptions,
  accountOptionsFromRow,
  alterAccountOptions,
  alternateName,
  atLeast,
  CATALOGUE,
  CREATE_CATALOGUE_DATABASE,
  CREATE_CATALOGUE_TABLE,
  cachingSha2Verifier,
  createAccount,
  describeServer,
  discardOldPassword,
  fallbackUserNameLimit,
  formatAccount,
  type GrantLine,
  grantKey,
  grantStatement,
  hasRoles,
  isMysqlPasswordPlugin,
  needsGrant,
  parseGrantLine,
  quoteAccount,
  recordClone,
  revokeAllPrivileges,
  revokeRoleStatement,
  SELECT_USER_NAME_LIMIT,
  sameAccount,
  selectAccount,
  selectCatalogueOwner,
  selectDefaultRoles,
  setAccountPassword,
  setDefaultRoles,
  setOwnDefaultRole,
  showGrants,
  text,
} from '../sql.js';

/** The server's limit for user names: the width of mysql.user's column, else what the version implies. */
export async function userNameLimit(session: MysqlSession): Promise<number> {
  const rows = await session.query(SELECT_USER_NAME_LIMIT, 'read the user name length limit');
  const limit = Number(rows[0]?.limitChars);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : fallbackUserNameLimit(session.server);
}

/**
 * The account alternating-users rotates to from `current` and the pair it belongs to (owner and
 * clone), refused with a typed error when impossible.
 */
export function alternateOf(
  current: MysqlSecret,
  limit: number,
): { user: string; owner: string; clone: string; primaryUsername?: string } {
  try {
    return alternateName(current.username, current.primaryUsername, limit);
  } catch {
    throw new InvalidSecretError(
      current.primaryUsername === undefined ? 'username' : 'primaryUsername',
      `must name an account and its clone within the server's ${limit}-character limit (the username is the primary user, or its clone as rotor names it; not just "_clone")`,
      'AWSCURRENT',
    );
  }
}

/** Error numbers of a catalogue that is not there yet (unknown database, unknown table). */
const NO_CATALOGUE = new Set(['1049', '1146']);

/** The owner rotor's catalogue records for `clone`, or undefined (no row, or no catalogue yet). */
export async function catalogueOwner(session: MysqlSession, clone: Account): Promise<Account | undefined> {
  let rows: Row[];
  try {
    rows = await session.query(
      selectCatalogueOwner(session.server, clone),
      `read rotor's catalogue (${CATALOGUE.database}.${CATALOGUE.table})`,
    );
  } catch (error) {
    if (NO_CATALOGUE.has(causeCode(error) ?? '')) return undefined;
    throw error;
  }
  const row = rows[0];
  if (row === undefined) return undefined;
  return { user: text(row.ownerUser), host: text(row.ownerHost) };
}

/** Whether the pending password logs in as `target` (refusals are false; anything else throws). */
async function pendingLogsIn(loginAsTarget: () => Promise<MysqlSession>, target: Account): Promise<boolean> {
  let own: MysqlSession;
  try {
    own = await loginAsTarget();
  } catch (error) {
    if (error instanceof AuthenticationFailedError) return false;
    throw error;
  }
  try {
    return sameAccount(own.account, target);
  } finally {
    await own.close();
  }
}

/** Creates the catalogue when missing and records `clone` as `owner`'s. */
async function record(session: MysqlSession, clone: Account, owner: Account): Promise<void> {
  const what = `record ${formatAccount(clone)} in rotor's catalogue (${CATALOGUE.database}.${CATALOGUE.table})`;
  await session.query(CREATE_CATALOGUE_DATABASE, what);
  await session.query(CREATE_CATALOGUE_TABLE, what);
  await session.query(recordClone(session.server, clone, owner), what);
}

/** SHOW GRANTS of an account, parsed; refuses a line it cannot copy rather than drop it. */
async function grantsOf(session: MysqlSession, account: Account): Promise<GrantLine[]> {
  const rows = await session.query(showGrants(account), `read the grants of ${formatAccount(account)}`);
  return rows.map((row, index) => {
    const line = String(Object.values(row)[0] ?? '');
    const grant = parseGrantLine(line, account);
    if (grant === undefined) {
      // The line is not quoted: on MariaDB it can hold the account's password hash.
      throw new UnsupportedError(
        `line ${index + 1} of SHOW GRANTS for ${formatAccount(account)} has a form rotor cannot copy; no privilege was changed`,
      );
    }
    return grant;
  });
}

async function accountRow(session: MysqlSession, account: Account): Promise<AccountOptions | undefined> {
  const rows = await session.query(
    selectAccount(session.server, account),
    `read the account ${formatAccount(account)}`,
  );
  const row = rows[0];
  return row === undefined ? undefined : accountOptionsFromRow(row);
}

/** MySQL 8 default roles (quoted); MariaDB's come with SHOW GRANTS. */
async function defaultRolesOf(session: MysqlSession, account: Account, grants: readonly GrantLine[]) {
  if (session.server.flavour === 'mariadb') {
    return grants
      .filter((g) => g.kind === 'default-role')
      .map((g) => g.head.replace(/^SET DEFAULT ROLE /, ''));
  }
  if (!hasRoles(session.server)) return [];
  const rows = await session.query(
    selectDefaultRoles(session.server, account),
    `read the default roles of ${formatAccount(account)}`,
  );
  return rows.map((row) => quoteAccount({ user: String(row.user), host: String(row.host) }));
}

function optionsKey(options: AccountOptions | undefined): string {
  if (options === undefined) return '';
  const { plugin: _plugin, ...rest } = options;
  return JSON.stringify(rest);
}

interface AlternatingApply {
  session: MysqlSession;
  current: MysqlSecret;
  pending: MysqlSecret;
  /** The managing user's login name (the other account must never be it). */
  masterUser: string;
  /** Logs in as the other account with the pending password (MariaDB default roles, see below). */
  loginAsTarget: () => Promise<MysqlSession>;
  /**
   * Called with the pair (owner, clone) once the names are known and before anything changes:
   * throws unless the master may act for them (proof of possession or adoption, `manages`).
   */
  authorize: (pair: readonly [string, string]) => Promise<void>;
  /** Users an operator adopted for this secret: an adopted clone without a catalogue row is recorded. */
  adopted: () => Promise<readonly string[]>;
}

/**
 * Makes the pending (other) account log in with the pending password and have the primary's access.
 * Idempotent: the password statement sets the same password again; grants and options are compared
 * first and rewritten only when they differ, so a replay after success changes nothing.
 */
async function applyAlternating({
  session,
  current,
  pending,
  masterUser,
  loginAsTarget,
  authorize,
  adopted,
}: AlternatingApply): Promise<void> {
  const { server } = session;
  const limit = await userNameLimit(session);
  const alternate = alternateOf(current, limit);
  const expected = alternate.user;
  if (pending.username !== expected) {
    throw new InvalidSecretError(
      'username',
      `must be "${expected}", the account that alternates with AWSCURRENT's (rotor never changes another account)`,
      'AWSPENDING',
    );
  }
  if (pending.username === masterUser) {
    throw new InvalidSecretError('username', 'must not be the managing (masterarn) user', 'AWSPENDING');
  }
  const primary = current.account;
  const target = pending.account;
  if (sameAccount(primary, target)) {
    throw new InvalidSecretError(
      'username',
      'must differ from AWSCURRENT for alternating-users',
      'AWSPENDING',
    );
  }

  if (alternate.owner === masterUser || alternate.clone === masterUser) {
    throw new InvalidSecretError(
      'username',
      'must not name the managing (masterarn) user or its clone',
      'AWSCURRENT',
    );
  }
  // Before anything changes: the master may act for this pair (proof of possession or adoption,
  // and the binding's manages patterns).
  await authorize([alternate.owner, alternate.clone]);

  const { primaryOptions, plugin, clientHash } = await primaryPlugin(session, current, pending);
  const targetOptions = await accountRow(session, target);
  await requireOwnClone(session, alternate, target, targetOptions !== undefined, adopted);
  const password = {
    account: target,
    password: pending.password,
    ...(plugin === undefined ? {} : { plugin }),
    // A new salt per statement, as the server draws one per IDENTIFIED BY.
    ...(clientHash && server.flavour === 'mysql' ? { verifier: cachingSha2Verifier(pending.password) } : {}),
  };
  /**
   * MySQL checks every IDENTIFIED BY against the account's password history, the password set a
   * moment ago included: with password_history >= 1 or a reuse interval, a retry after a failure
   * later in this step (or the 1396 race below) is refused with 3638. Refused so, the statement
   * changed nothing; when the pending password already logs in as the clone, an earlier attempt
   * set it, which is what this one came to do. (Checked after the refusal, not before, so that an
   * ordinary rotation adds no refused login to the clone's FAILED_LOGIN_ATTEMPTS count.)
   */
  const setPassword = async () => {
    try {
      await session.query(
        setAccountPassword(server, password),
        `set the password of ${formatAccount(target)}`,
      );
    } catch (error) {
      if (causeCode(error) !== '3638' || !(await pendingLogsIn(loginAsTarget, target))) throw error;
    }
  };
  if (targetOptions === undefined) {
    try {
      await session.query(createAccount(server, password), `create the account ${formatAccount(target)}`);
    } catch (error) {
      // Error 1396: the account exists after all. The same step run twice at once: the other run
      // created it since it was read. Setting its password is what this run came to do.
      if (causeCode(error) !== '1396') throw error;
      await setPassword();
    }
  } else {
    await setPassword();
    if (server.flavour === 'mysql' && atLeast(server, 8, 0, 14)) {
      // A secondary password left from an earlier dual-password setup would still log in.
      await session.query(discardOldPassword(target), `discard the old password of ${formatAccount(target)}`);
    }
  }

  await copyAccess(session, primary, target, { primaryOptions, targetOptions }, loginAsTarget);
}

/**
 * The primary account's options and the plugin the other account gets (MySQL: the primary's, so
 * clients that speak only mysql_native_password keep working), refused before anything changes
 * when it cannot be copied.
 */
async function primaryPlugin(
  session: MysqlSession,
  current: MysqlSecret,
  pending: MysqlSecret,
): Promise<{ primaryOptions: AccountOptions; plugin: string | undefined; clientHash: boolean }> {
  const { server } = session;
  const primary = current.account;
  const primaryOptions = await accountRow(session, primary);
  if (primaryOptions === undefined) {
    throw new AuthenticationFailedError(
      `the account ${formatAccount(primary)} of AWSCURRENT does not exist on ${describeServer(server)}`,
    );
  }
  let plugin: string | undefined;
  if (server.flavour === 'mysql') {
    // Keep the primary's plugin: clients that speak only mysql_native_password keep working.
    if (!isMysqlPasswordPlugin(primaryOptions.plugin)) {
      throw new UnsupportedError(
        `${formatAccount(primary)} authenticates with a plugin that takes no password; alternating-users cannot copy it`,
      );
    }
    plugin = primaryOptions.plugin;
  }
  // mysqlPasswordHash client: rotor computes the stored string, which exists for
  // caching_sha2_password only here; any other plugin would need the password as text, so the
  // rotation stops before anything changes rather than send it.
  const clientHash = pending.mysqlPasswordHash === 'client' || current.mysqlPasswordHash === 'client';
  if (clientHash && server.flavour === 'mysql' && plugin !== 'caching_sha2_password') {
    throw new ConfigurationError(
      `mysqlPasswordHash is client but ${formatAccount(primary)} authenticates with ${plugin ?? 'no password plugin'}: rotor computes only caching_sha2_password's stored string; move the account to caching_sha2_password or set mysqlPasswordHash to server. Nothing was changed`,
    );
  }
  return { primaryOptions, plugin, clientHash };
}

/**
 * Clones are rotor's only: an existing clone must be in rotor's catalogue as this owner's, and
 * when the target is the owner, the clone the secret holds must be recorded as that owner's. A new
 * clone is recorded before it is made.
 */
async function requireOwnClone(
  session: MysqlSession,
  alternate: { owner: string; clone: string },
  target: Account,
  targetExists: boolean,
  adopted: () => Promise<readonly string[]>,
): Promise<void> {
  const owner = { user: alternate.owner, host: target.host };
  const clone = { user: alternate.clone, host: target.host };
  const mustBeRecorded = target.user === alternate.owner || targetExists;
  if (mustBeRecorded) {
    const recorded = await catalogueOwner(session, clone);
    if (recorded === undefined && (await adopted()).includes(clone.user)) {
      await record(session, clone, owner);
    } else if (recorded === undefined || !sameAccount(recorded, owner)) {
      throw new ForeignAccountError(
        `the account ${formatAccount(clone)} exists but rotor's catalogue (${CATALOGUE.database}.${CATALOGUE.table}) ${recorded === undefined ? 'does not record it as a clone rotor made' : `records it as the clone of ${formatAccount(recorded)}`}, not of ${formatAccount(owner)}: rotor never alters an account it did not create, and nothing was changed (if it is this secret's clone from before the catalogue, adopt it: rotor attach --adopt ${clone.user})`,
      );
    }
  } else {
    // A new clone: recorded first, so that a crash between the two leaves a row for an account
    // that does not exist (harmless; replaced when the clone is made) rather than an unrecorded clone.
    await record(session, clone, owner);
  }
}

/**
 * Gives `target` exactly the primary's grants, default roles and account options; compared first
 * and rewritten only when they differ, so a replay after success changes nothing.
 */
async function copyAccess(
  session: MysqlSession,
  primary: Account,
  target: Account,
  {
    primaryOptions,
    targetOptions,
  }: { primaryOptions: AccountOptions; targetOptions: AccountOptions | undefined },
  loginAsTarget: () => Promise<MysqlSession>,
): Promise<void> {
  const { server } = session;
  const want = await grantsOf(session, primary);
  const have = targetOptions === undefined ? [] : await grantsOf(session, target);
  const wantDefaults = await defaultRolesOf(session, primary, want);
  const haveDefaults = targetOptions === undefined ? [] : await defaultRolesOf(session, target, have);
  const sameGrants =
    JSON.stringify(want.map(grantKey).sort()) === JSON.stringify(have.map(grantKey).sort()) &&
    JSON.stringify(wantDefaults) === JSON.stringify(haveDefaults);
  if (!sameGrants) {
    // Start from nothing, then copy in SHOW GRANTS order (roles before default roles, grants
    // before partial revokes). The account is the one not in use: AWSCURRENT's is never touched.
    for (const grant of have.filter((g) => g.kind === 'role')) {
      await session.query(revokeRoleStatement(grant, target), `revoke a role from ${formatAccount(target)}`);
    }
    if (targetOptions !== undefined) {
      await session.query(revokeAllPrivileges(target), `revoke the privileges of ${formatAccount(target)}`);
    }
    for (const grant of want.filter((g) => g.kind !== 'default-role' && needsGrant(g))) {
      await session.query(grantStatement(grant, target), `copy a grant to ${formatAccount(target)}`);
    }
    if (hasRoles(server) && (wantDefaults.length > 0 || haveDefaults.length > 0)) {
      const what = `set the default role of ${formatAccount(target)}`;
      try {
        await session.query(setDefaultRoles(server, target, wantDefaults), what);
      } catch (error) {
        // MariaDB lets a managing user set another account's default role only with UPDATE on
        // the whole mysql database; the account itself needs nothing to set its own.
        if (!(error instanceof PermissionDeniedError) || server.flavour !== 'mariadb') throw error;
        const own = await loginAsTarget();
        try {
          await own.query(setOwnDefaultRole(wantDefaults[0]), what);
        } finally {
          await own.close();
        }
      }
    }
  }
  if (optionsKey(primaryOptions) !== optionsKey(targetOptions)) {
    await session.query(
      alterAccountOptions(server, target, primaryOptions, targetOptions),
      `copy the TLS requirement, limits and password policy to ${formatAccount(target)}`,
    );
  }
}
/**
 * MySQL, mysqlPasswordHash client: rotor computes only caching_sha2_password's stored string, and
 * the clone keeps the primary's plugin, so the account must use caching_sha2_password.
 */
async function checkClientHash(admin: MysqlSession, current: MysqlSecret, check: Check): Promise<void> {
  const account = formatAccount(current.account);
  const fix =
    'Move the account to caching_sha2_password (ALTER USER ... IDENTIFIED WITH caching_sha2_password BY ...), or set mysqlPasswordHash to server.';
  try {
    const [row] = await admin.query(selectAccount(admin.server, current.account), 'read mysql.user');
    const plugin = row === undefined ? undefined : String(row.plugin ?? '');
    check(
      'client-side password hash',
      plugin === 'caching_sha2_password',
      plugin === 'caching_sha2_password'
        ? `the new password reaches the server only as caching_sha2_password's stored string (IDENTIFIED WITH caching_sha2_password AS): validate_password and the password history cannot check it`
        : plugin === undefined
          ? `the account ${account} does not exist`
          : `${account} authenticates with ${plugin}: mysqlPasswordHash client needs caching_sha2_password (the rotation would stop before changing anything)`,
      fix,
    );
  } catch (error) {
    check('client-side password hash', false, describeError(error), 'See the detail.');
  }
}

/**
 * The master keeps rotor's catalogue of clones (rotor.accounts): it needs SELECT, INSERT and UPDATE
 * on it, and CREATE on the `rotor` database while the table does not exist yet.
 */
async function checkCatalogue(admin: MysqlSession, check: Check): Promise<void> {
  const table = `${CATALOGUE.database}.${CATALOGUE.table}`;
  const who = formatAccount(admin.account);
  const fix = `GRANT CREATE, SELECT, INSERT, UPDATE ON \`${CATALOGUE.database}\`.* TO ${who} (and no write privilege on it to the rotated accounts)`;
  const read = await canRun(
    admin,
    `SELECT COUNT(*) AS n FROM \`${CATALOGUE.database}\`.\`${CATALOGUE.table}\``,
    `read ${table}`,
  );
  const lines = await admin
    .query('SHOW GRANTS', 'read its own grants')
    .then((rows) => rows.map((row) => String(Object.values(row)[0] ?? '')))
    .catch(() => [] as string[]);
  const granted = new Set<string>();
  for (const line of lines) {
    const match = /^GRANT (.+?) ON (\*\.\*|`rotor`\.\*|`rotor`\.`accounts`) TO /.exec(line);
    if (match === null) continue;
    for (const privilege of (match[1] as string).split(',')) granted.add(privilege.trim().toUpperCase());
  }
  const has = (privilege: string) => granted.has('ALL PRIVILEGES') || granted.has(privilege);
  const needed = read.ok ? ['SELECT', 'INSERT', 'UPDATE'] : ['CREATE', 'SELECT', 'INSERT', 'UPDATE'];
  const missing = needed.filter((privilege) => !has(privilege));
  check(
    'clone catalogue',
    missing.length === 0,
    missing.length === 0
      ? `the masterarn user can ${read.ok ? 'read and write' : 'create, read and write'} rotor's catalogue of clones (${table})`
      : `the masterarn user lacks ${missing.join(', ')} on ${table}${read.ok ? '' : ' (which does not exist yet)'}: rotor records there which accounts are its clones`,
    fix,
  );
}

async function checkAlternating(
  admin: MysqlSession,
  current: MysqlSecret,
  master: MysqlLogin,
  check: Check,
): Promise<void> {
  const grants = await globalPrivileges(admin).catch(() => undefined);
  const who = formatAccount(admin.account);
  check(
    'privilege CREATE USER',
    grants?.has('CREATE USER') ?? false,
    `the masterarn user ${grants?.has('CREATE USER') ? 'has' : 'lacks'} CREATE USER`,
    `GRANT CREATE USER ON *.* TO ${who}`,
  );
  check(
    'privilege GRANT OPTION',
    grants?.grantOption ?? false,
    grants?.grantOption
      ? 'the masterarn user holds global privileges WITH GRANT OPTION (it must also hold every privilege it copies)'
      : 'the masterarn user has no global privilege WITH GRANT OPTION',
    `Grant the masterarn user the application's privileges WITH GRANT OPTION (and its roles WITH ADMIN OPTION).`,
  );
  const grantsRead = await canRun(admin, showGrants(current.account), 'read the grants of the account');
  check(
    'read grants',
    grantsRead.ok,
    grantsRead.ok
      ? `the masterarn user can read the grants of ${formatAccount(current.account)}`
      : grantsRead.detail,
    `GRANT SELECT ON mysql.* TO ${who}`,
  );
  const accountRead = await canRun(admin, selectAccount(admin.server, current.account), 'read mysql.user');
  check(
    'read mysql.user',
    accountRead.ok && accountRead.rows === 1,
    accountRead.ok
      ? accountRead.rows === 1
        ? `the masterarn user can read the TLS requirement and limits of ${formatAccount(current.account)}`
        : `the account ${formatAccount(current.account)} does not exist`
      : accountRead.detail,
    `GRANT SELECT ON mysql.* TO ${who}`,
  );
  if (admin.server.flavour === 'mysql' && current.mysqlPasswordHash === 'client') {
    await checkClientHash(admin, current, check);
  }
  await checkCatalogue(admin, check);
  try {
    const limit = await userNameLimit(admin);
    const alternate = alternateOf(current, limit);
    const other = alternate.user;
    const clash = other === master.username;
    check(
      'alternate account',
      !clash,
      clash
        ? `the alternate account "${other}" is the masterarn user`
        : `rotates between ${formatAccount(current.account)} and ${formatAccount({ user: other, host: current.account.host })} (user names up to ${limit} characters)`,
      'Use a managing user that is neither the application account nor its clone.',
    );
    const clone = { user: alternate.clone, host: current.account.host };
    const owner = { user: alternate.owner, host: current.account.host };
    const exists = await canRun(admin, selectAccount(admin.server, clone), 'read mysql.user');
    if (exists.ok && exists.rows === 1) {
      const recorded = await catalogueOwner(admin, clone).catch(() => undefined);
      const ours = recorded !== undefined && sameAccount(recorded, owner);
      check(
        "clone is rotor's",
        ours,
        ours
          ? `${formatAccount(clone)} is recorded in rotor's catalogue as the clone of ${formatAccount(owner)}`
          : `${formatAccount(clone)} exists but rotor's catalogue does not record it as the clone of ${formatAccount(owner)}: rotation would refuse to alter it (ForeignAccountError)`,
        `If it is this secret's clone (made before the catalogue existed), adopt it: rotor attach --adopt ${clone.user}; otherwise rename or drop that account, or rotate another user.`,
      );
    }
  } catch (error) {
    const known =
      error instanceof InvalidSecretError ||
      error instanceof UnsupportedError ||
      error instanceof VerificationFailedError;
    check(
      'alternate account',
      false,
      describeError(error),
      known ? fixFor(error, 'secret') : 'See the detail.',
    );
  }
}

export function alternatingUsers(engine: MysqlEngine): StrategyImpl<MysqlSecret> {
  return {
    /** The other account: the managing user reads the server's user-name limit to name the clone. */
    async createPending(request) {
      const { current } = request;
      const session = await engine.masterSession(request, await engine.masterLogin(request, current));
      let alternate: { user: string; primaryUsername?: string };
      try {
        alternate = alternateOf(current, await userNameLimit(session));
      } finally {
        await session.close();
      }
      return {
        username: alternate.user,
        ...(alternate.primaryUsername === undefined ? {} : { primaryUsername: alternate.primaryUsername }),
      };
    },

    /** Password set again, grants rewritten only if they differ; AWSCURRENT's account is never touched. */
    async apply(request) {
      const { current, pending } = request;
      const master = await engine.masterLogin(request, current);
      for (const field of ['host', 'port'] as const) {
        if (current[field] !== pending[field]) {
          throw new InvalidSecretError(field, "must equal AWSCURRENT's", 'AWSPENDING');
        }
      }
      if (current.account.host !== pending.account.host) {
        throw new InvalidSecretError('accountHost', "must equal AWSCURRENT's", 'AWSPENDING');
      }
      const session = await engine.masterSession(request, master);
      let provenBy: Proof | undefined;
      try {
        assertServerSupported(session);
        await applyAlternating({
          session,
          current,
          pending,
          masterUser: master.username,
          loginAsTarget: () => engine.login(request, pending),
          authorize: async (pair) => {
            provenBy = await engine.prove(request, pair, master.tls);
            await engine.authorize(request, master, pair, provenBy);
          },
          adopted: request.adopted,
        });
      } finally {
        await session.close();
      }
      // rotor never changes AWSCURRENT's account here: proven only by AWSPREVIOUS, it was changed elsewhere.
      return provenBy === 'AWSPREVIOUS' ? previousFallback(formatAccount(current.account)) : {};
    },

    test: (request) => testPending(engine, request),

    /** The credential in use is never touched: nothing to roll back. */
    rollback: notApplicable,

    preflight: (request) =>
      engine.preflight(request, {
        master: (admin, current, master, check) => checkAlternating(admin, current, master, check),
      }),
  };
}
