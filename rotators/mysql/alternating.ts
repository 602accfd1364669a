/**
 * alternating-users: the managing user makes the other account (`app_clone`, or back `app`) accept
 * the pending password and gives it exactly the primary account's access: every SHOW GRANTS line
 * (WITH GRANT OPTION and WITH ADMIN OPTION kept, role grants shared rather than flattened, MySQL
 * partial revokes kept), the default role(s), the TLS requirement (REQUIRE SSL / X509 / ISSUER ...)
 * and the resource limits. The account rotated *from* is never touched.
 */
import {
  AuthenticationFailedError,
  InvalidSecretError,
  PermissionDeniedError,
  UnsupportedError,
} from '../errors.js';
import type { MysqlSecret } from './secret.js';
import type { MysqlSession } from './session.js';
import {
  type Account,
  type AccountOptions,
  accountOptionsFromRow,
  alterAccountOptions,
  alternateName,
  atLeast,
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
  revokeAllPrivileges,
  revokeRoleStatement,
  SELECT_USER_NAME_LIMIT,
  sameAccount,
  selectAccount,
  selectDefaultRoles,
  setAccountPassword,
  setDefaultRoles,
  setOwnDefaultRole,
  showGrants,
} from './sql.js';

/** The server's limit for user names: the width of mysql.user's column, else what the version implies. */
export async function userNameLimit(session: MysqlSession): Promise<number> {
  const rows = await session.query(SELECT_USER_NAME_LIMIT, 'read the user name length limit');
  const limit = Number(rows[0]?.limitChars);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : fallbackUserNameLimit(session.server);
}

/** The account alternating-users rotates to from `current`, refused with a typed error when impossible. */
export function alternateOf(current: MysqlSecret, limit: number): { user: string; primaryUsername?: string } {
  try {
    return alternateName(current.username, current.primaryUsername, limit);
  } catch {
    throw new InvalidSecretError(
      'username',
      `must leave room for a clone name within the server's ${limit}-character limit (and not be just "_clone")`,
      'AWSCURRENT',
    );
  }
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

export interface AlternatingApply {
  session: MysqlSession;
  current: MysqlSecret;
  pending: MysqlSecret;
  /** The managing user's login name (the other account must never be it). */
  masterUser: string;
  /** Logs in as the other account with the pending password (MariaDB default roles, see below). */
  loginAsTarget: () => Promise<MysqlSession>;
}

/**
 * Makes the pending (other) account log in with the pending password and have the primary's access.
 * Idempotent: the password statement sets the same password again; grants and options are compared
 * first and rewritten only when they differ, so a replay after success changes nothing.
 */
export async function applyAlternating({
  session,
  current,
  pending,
  masterUser,
  loginAsTarget,
}: AlternatingApply): Promise<void> {
  const { server } = session;
  const limit = await userNameLimit(session);
  const expected = alternateOf(current, limit).user;
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
  const targetOptions = await accountRow(session, target);
  const password = {
    account: target,
    password: pending.password,
    ...(plugin === undefined ? {} : { plugin }),
  };
  if (targetOptions === undefined) {
    try {
      await session.query(createAccount(server, password), `create the account ${formatAccount(target)}`);
    } catch (error) {
      // Error 1396: the account exists after all. The same step run twice at once: the other run
      // created it since it was read. Setting its password is what this run came to do.
      if ((error as { cause?: { code?: unknown } }).cause?.code !== '1396') throw error;
      await session.query(
        setAccountPassword(server, password),
        `set the password of ${formatAccount(target)}`,
      );
    }
  } else {
    await session.query(setAccountPassword(server, password), `set the password of ${formatAccount(target)}`);
    if (server.flavour === 'mysql' && atLeast(server, 8, 0, 14)) {
      // A secondary password left from an earlier dual-password setup would still log in.
      await session.query(discardOldPassword(target), `discard the old password of ${formatAccount(target)}`);
    }
  }

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
      alterAccountOptions(server, target, primaryOptions),
      `copy the TLS requirement and limits to ${formatAccount(target)}`,
    );
  }
}
