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
} from '../errors.js';
import type { PreflightCheck, PreflightRequest } from '../types.js';
import type { MysqlSession } from './client.js';
import type { MysqlLogin, MysqlSecret } from './secret.js';
import { atLeast, describeServer, formatAccount, minimumSupport, sameAccount } from './sql.js';

export interface PreflightContext extends PreflightRequest<MysqlSecret> {
  connect(
    timing: Pick<PreflightRequest<MysqlSecret>, 'signal' | 'deadline'>,
    who: MysqlLogin,
    database?: string,
  ): Promise<MysqlSession>;
  masterLogin(secret: MysqlSecret): Promise<MysqlLogin>;
}

/** What a failure means for the operator. */
export function fixFor(error: unknown, whose: string): string {
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

export function describeError(error: unknown): string {
  return error instanceof RotorError ? error.detail : 'unexpected failure';
}

/** Global privileges of the session's user and its active roles, from SHOW GRANTS. */
export async function globalPrivileges(
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
export async function canRun(
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

export function tlsDetail(secret: MysqlLogin): string {
  return secret.tls.mode === 'disable' ? 'plaintext (the secret disables TLS)' : `TLS (${secret.tls.mode})`;
}

/** What a strategy adds to the engine's preflight. */
export interface PreflightParts {
  /** False for rds-master: RDS sets the password, so hash acceptance and reuse do not matter. */
  sendsPasswords?: boolean;
  /** Checks on the account's own session (after login, identity and version). */
  account?(session: MysqlSession, current: MysqlSecret, check: Check): Promise<void>;
  /** The line to add when the secret names no managing user. */
  withoutMaster?(check: Check): void;
  /** Checks as the managing user, when the secret names one. */
  master?(admin: MysqlSession, current: MysqlSecret, master: MysqlLogin, check: Check): Promise<void>;
}

export async function runPreflight(
  context: PreflightContext,
  parts: PreflightParts,
): Promise<PreflightCheck[]> {
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
      // rds-master sends no password to the server (RDS sets it): hash acceptance does not matter.
      if (session.server.flavour === 'mariadb' && parts.sendsPasswords !== false) {
        await checkHashesAccepted(session, check);
      }
      if (
        session.server.flavour === 'mysql' &&
        atLeast(session.server, 8, 0, 3) &&
        parts.sendsPasswords !== false
      ) {
        await checkPasswordReuse(session, current, check);
      }
      await parts.account?.(session, current, check);
    }
  } finally {
    await session?.close();
  }

  if (current.masterarn === undefined) {
    parts.withoutMaster?.(check);
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
    await parts.master?.(admin, current, master, check);
  } finally {
    await admin.close();
  }
  return checks;
}

export type Check = (name: string, ok: boolean, detail: string, fix?: string) => void;

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
