/**
 * preflight: read-only checks of everything a rotation will need, one line each with a fix. Nothing
 * here changes the server: logins, SELECTs and SHOW statements only.
 */
import {
  AuthenticationFailedError,
  InvalidSecretError,
  MasterBindingError,
  PermissionDeniedError,
  RotorError,
  TargetUnreachableError,
  UnsupportedError,
  VerificationFailedError,
} from '../errors.js';
import type { PreflightCheck, PreflightRequest } from '../types.js';
import { alternateOf, catalogueOwner, userNameLimit } from './alternating.js';
import type { MysqlSession } from './client.js';
import type { MysqlLogin, MysqlSecret } from './secret.js';
import {
  atLeast,
  CATALOGUE,
  describeServer,
  dualPasswordState,
  dualPasswordSupport,
  formatAccount,
  minimumSupport,
  parseAuthMethods,
  sameAccount,
  selectAccount,
  selectGlobalPriv,
  showGrants,
} from './sql.js';

export interface PreflightContext extends PreflightRequest<MysqlSecret> {
  connect(
    timing: Pick<PreflightRequest<MysqlSecret>, 'signal' | 'deadline'>,
    who: MysqlLogin,
    database?: string,
  ): Promise<MysqlSession>;
  masterLogin(secret: MysqlSecret): Promise<MysqlLogin>;
}

/** What a failure means for the operator. */
function fixFor(error: unknown, whose: string): string {
  if (error instanceof InvalidSecretError) return `Correct the field "${error.field}" of the ${whose}.`;
  if (error instanceof AuthenticationFailedError) {
    return `Make the ${whose}'s username, password (and accountHost) match an account on the server, or reset that account's password to the secret's.`;
  }
  if (error instanceof TargetUnreachableError) {
    return error.reason === 'tls'
      ? 'Set tlsCa to the CA that signed the server certificate (RDS bundles are built in), tlsServerName to the name it carries, or ssl false / tlsMode "disable" to allow plaintext deliberately.'
      : 'Check host and port, and that the rotation function can reach the server (subnets, security groups, network ACLs).';
  }
  if (error instanceof PermissionDeniedError)
    return `Grant the ${whose}'s account the privilege named in the detail.`;
  return 'See the detail; the server refused or failed the check.';
}

function describeError(error: unknown): string {
  return error instanceof RotorError ? error.detail : 'unexpected failure';
}

/** Global privileges of the session's user and its active roles, from SHOW GRANTS. */
async function globalPrivileges(
  session: MysqlSession,
): Promise<{ has(privilege: string): boolean; grantOption: boolean; updatesMysql: boolean }> {
  const rows = await session.query('SHOW GRANTS', 'read its own grants');
  const privileges = new Set<string>();
  let grantOption = false;
  let updatesMysql = false;
  for (const row of rows) {
    const line = String(Object.values(row)[0] ?? '');
    const onMysql = /^GRANT (.+?) ON `mysql`\.\* TO /.exec(line);
    if (onMysql !== null) {
      const granted = (onMysql[1] as string).split(',').map((p) => p.trim().toUpperCase());
      if (granted.includes('UPDATE') || granted.includes('ALL PRIVILEGES')) updatesMysql = true;
    }
    const match = /^GRANT (.+?) ON \*\.\* TO (.*)$/.exec(line);
    if (match === null) continue;
    for (const privilege of (match[1] as string).split(',')) privileges.add(privilege.trim().toUpperCase());
    if (/ WITH GRANT OPTION\b/.test(match[2] as string)) grantOption = true;
  }
  const has = (privilege: string) => privileges.has('ALL PRIVILEGES') || privileges.has(privilege);
  return { has, grantOption, updatesMysql: updatesMysql || has('UPDATE') };
}

/** Whether a SELECT / SHOW works for this session (privilege probe without changing anything). */
async function canRun(
  session: MysqlSession,
  sql: string,
  what: string,
): Promise<{ ok: boolean; rows: number; detail: string }> {
  try {
    const rows = await session.query(sql, what);
    return { ok: true, rows: rows.length, detail: 'allowed' };
  } catch (error) {
    return { ok: false, rows: 0, detail: describeError(error) };
  }
}

function tlsDetail(secret: MysqlLogin): string {
  return secret.tls.mode === 'disable' ? 'plaintext (the secret disables TLS)' : `TLS (${secret.tls.mode})`;
}

export async function runPreflight(context: PreflightContext): Promise<PreflightCheck[]> {
  const { current } = context;
  const checks: PreflightCheck[] = [];
  const check = (name: string, ok: boolean, detail: string, fix?: string) =>
    checks.push({ name, ok, detail, ...(ok || fix === undefined ? {} : { fix }) });
  const account = formatAccount(current.account);

  check(
    'secret',
    true,
    `engine ${current.engine}, strategy ${current.strategy}, account ${account} at ${current.host}:${current.port} over ${tlsDetail(current)}`,
  );

  // The account itself, as clients will log in.
  let session: MysqlSession | undefined;
  try {
    session = await context.connect(context, current, current.dbname);
    check(
      'login',
      true,
      `logged in as ${account} to ${describeServer(session.server)} over ${tlsDetail(current)}`,
    );
  } catch (error) {
    check('login', false, describeError(error), fixFor(error, 'secret'));
  }
  const dualSelf = current.strategy === 'dual-password' && current.masterarn === undefined;
  try {
    if (session !== undefined) {
      const identityOk = sameAccount(session.account, current.account);
      check(
        'identity',
        identityOk,
        `CURRENT_USER() is ${formatAccount(session.account)}`,
        `Another account matches this login first (anonymous, or a more specific host): drop it or set accountHost to ${session.account.host}.`,
      );
      const minimum = minimumSupport(session.server);
      check(
        'server version',
        minimum.supported,
        `${describeServer(session.server)}`,
        `Upgrade the server: rotor needs ${minimum.requirement}.`,
      );
      if (current.strategy === 'dual-password') {
        const support = dualPasswordSupport(session.server);
        check(
          'dual-password support',
          support.supported,
          support.supported
            ? `${describeServer(session.server)} holds two passwords per account`
            : `${describeServer(session.server)} cannot hold two passwords per account`,
          `Upgrade to ${support.requirement}, or use strategy alternating-users.`,
        );
      }
      // rds-master sends no password to the server (RDS sets it): hash acceptance does not matter.
      if (session.server.flavour === 'mariadb' && current.strategy !== 'rds-master') {
        await checkHashesAccepted(session, check);
      }
      if (
        session.server.flavour === 'mysql' &&
        atLeast(session.server, 8, 0, 3) &&
        current.strategy !== 'rds-master'
      ) {
        await checkPasswordReuse(session, current, check);
      }
      if (dualSelf) await checkDualPrivileges(session, current, check, 'the account itself');
    }
  } finally {
    await session?.close();
  }

  if (current.masterarn === undefined) {
    if (current.strategy === 'dual-password') {
      check('runner', true, `dual-password's ALTER USER runs as ${account} itself (no masterarn)`);
    }
    return checks;
  }

  // The managing user: where it may log in is decided before any connection.
  let master: MysqlLogin;
  try {
    master = await context.masterLogin(current);
    check(
      'master binding',
      true,
      `the managing user logs in at ${master.host}:${master.port} over ${tlsDetail(master)}, as bound by its own secret or the deployment`,
    );
  } catch (error) {
    if (error instanceof MasterBindingError) {
      check(
        'master binding',
        false,
        describeError(error),
        `Bind the master to this database: add "host" (and "port", TLS keys) to the master secret, or a "masters" entry to the stage file (masters: [{secret: ${current.masterarn}, host: ${current.host}, port: ${current.port}, tls: {mode: verify-full}, manages: ["${current.username}*"]}]); the secret's host and port must be that endpoint.`,
      );
    } else {
      check('managing user secret', false, describeError(error), fixFor(error, 'masterarn secret'));
    }
    return checks;
  }
  let admin: MysqlSession;
  try {
    admin = await context.connect(context, master);
    check(
      'managing user login',
      true,
      `logged in as ${formatAccount(admin.account)} to ${describeServer(admin.server)} over ${tlsDetail(master)}`,
    );
  } catch (error) {
    check('managing user login', false, describeError(error), fixFor(error, 'masterarn secret'));
    return checks;
  }
  try {
    if (current.strategy === 'dual-password') {
      check(
        'runner',
        true,
        `dual-password's ALTER USER runs as the masterarn user ${formatAccount(admin.account)}`,
      );
      await checkDualPrivileges(admin, current, check, 'the masterarn user');
    } else if (current.strategy === 'alternating-users') {
      await checkAlternating(admin, current, master, check);
    }
  } finally {
    await admin.close();
  }
  return checks;
}

type Check = (name: string, ok: boolean, detail: string, fix?: string) => void;

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

/**
 * MySQL 8: the global password history and reuse interval (an account may override them; reading
 * mysql.user needs a privilege the account may lack). Informational: rotor never sets a password
 * the account held before, except where it says so below, so the rotation itself is not at risk.
 */
async function checkPasswordReuse(session: MysqlSession, current: MysqlSecret, check: Check): Promise<void> {
  try {
    const [row] = await session.query(
      'SELECT @@GLOBAL.password_history AS history, @@GLOBAL.password_reuse_interval AS reuseInterval',
      'read the password history settings',
    );
    const history = Number(row?.history ?? 0);
    const interval = Number(row?.reuseInterval ?? 0);
    const active = history > 0 || interval > 0;
    const consequence =
      current.strategy === 'single-user'
        ? "a rollback after a failed test cannot set AWSCURRENT's password again (error 3638), so the pending one stays"
        : current.strategy === 'dual-password'
          ? "after an abandoned rotation AWSCURRENT's password is kept, not set again, where mysql.user's verifiers (or a refused REPLACE) show it is the secondary; otherwise setting it again can be refused (error 3638)"
          : current.mysqlPasswordHash === 'client'
            ? 'the stored strings rotor sends (mysqlPasswordHash client) are recorded but never checked against it'
            : 'a retried step recognises the password it already set';
    check(
      'password history',
      true,
      active
        ? `password_history ${history}, password_reuse_interval ${interval} days (globally; accounts may override): ${consequence}`
        : 'no global password history or reuse interval (accounts may set their own)',
    );
  } catch (error) {
    check('password history', false, describeError(error), 'See the detail.');
  }
}

/** MariaDB refuses hashed passwords while a validation plugin is on and strict_password_validation is set. */
async function checkHashesAccepted(session: MysqlSession, check: Check): Promise<void> {
  try {
    const plugins = await session.query(
      "SELECT PLUGIN_NAME AS name FROM information_schema.PLUGINS WHERE PLUGIN_TYPE = 'PASSWORD VALIDATION' AND PLUGIN_STATUS = 'ACTIVE'",
      'list password validation plugins',
    );
    const [strict] = await session.query(
      'SELECT @@GLOBAL.strict_password_validation AS strict',
      'read strict_password_validation',
    );
    const refuses = plugins.length > 0 && Number(strict?.strict) === 1;
    check(
      'password hashes accepted',
      !refuses,
      refuses
        ? `password validation (${plugins.map((p) => String(p.name)).join(', ')}) with strict_password_validation refuses hashed passwords`
        : 'the server accepts mysql_native_password hashes (rotor never sends a plaintext password to MariaDB)',
      'Set strict_password_validation=OFF: rotor sends only hashes so that no plaintext password reaches the server logs, and hashes cannot be validated.',
    );
  } catch (error) {
    check('password hashes accepted', false, describeError(error), 'See the detail.');
  }
}

async function checkDualPrivileges(
  session: MysqlSession,
  current: MysqlSecret,
  check: Check,
  who: string,
): Promise<void> {
  const grants = await globalPrivileges(session).catch(() => undefined);
  const self = current.masterarn === undefined;
  if (session.server.flavour === 'mariadb') {
    check(
      'privilege CREATE USER',
      grants?.has('CREATE USER') ?? false,
      `${who} ${grants?.has('CREATE USER') ? 'has' : 'lacks'} CREATE USER (MariaDB's ALTER USER needs it)`,
      `GRANT CREATE USER ON *.* TO ${formatAccount(session.account)}`,
    );
    const read = await canRun(
      session,
      selectGlobalPriv(session.server, current.account),
      'read mysql.global_priv',
    );
    check(
      'read mysql.global_priv',
      read.ok && read.rows === 1,
      read.ok
        ? read.rows === 1
          ? `${who} can read how ${formatAccount(current.account)} authenticates (to make replays no-ops)`
          : `the account ${formatAccount(current.account)} does not exist`
        : read.detail,
      `GRANT SELECT ON mysql.global_priv TO ${formatAccount(session.account)}`,
    );
    if (read.ok && read.rows === 1) {
      const rows = await session.query(
        selectGlobalPriv(session.server, current.account),
        'read mysql.global_priv',
      );
      // The state is computed with the current password twice: only "foreign" matters here.
      const state = dualPasswordState(
        parseAuthMethods(rows[0]?.Priv ?? {}),
        current.password,
        current.password,
      );
      check(
        'authentication methods',
        state !== 'foreign',
        state === 'foreign'
          ? `${formatAccount(current.account)} also authenticates with a method other than mysql_native_password, which dual-password would remove`
          : `${formatAccount(current.account)} authenticates with mysql_native_password only`,
        'Use single-user or alternating-users for this account, or drop its other authentication methods.',
      );
    }
    return;
  }
  // RETAIN CURRENT PASSWORD on one's own account: APPLICATION_PASSWORD_ADMIN, or what makes a user
  // privileged for credential changes (CREATE USER, or UPDATE on the mysql schema: sql_user.cc
  // is_privileged_user_for_credential_change); on another account: CREATE USER.
  const privilege = self ? 'APPLICATION_PASSWORD_ADMIN' : 'CREATE USER';
  const ok =
    (grants?.has(privilege) ?? false) ||
    (grants?.has('CREATE USER') ?? false) ||
    (self && (grants?.updatesMysql ?? false));
  check(
    `privilege ${privilege}`,
    ok,
    `${who} ${ok ? 'has' : 'lacks'} ${self ? 'APPLICATION_PASSWORD_ADMIN (or CREATE USER, or UPDATE on mysql)' : privilege} (RETAIN CURRENT PASSWORD needs it)`,
    `GRANT ${privilege} ON *.* TO ${formatAccount(session.account)}`,
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
