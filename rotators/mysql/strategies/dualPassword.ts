/**
 * dual-password: the account accepts the pending and the current password from setSecret on; the
 * password before those stops at the next rotation. Zero downtime with one account. MariaDB 10.4+
 * (`IDENTIFIED VIA ... OR ...`) or MySQL 8.0.14+ (`RETAIN CURRENT PASSWORD`).
 *
 * Who runs the ALTER USER: the `masterarn` user when the secret names one, else the account
 * itself. It is decided by the secret, not by probing privileges, so preflight checks the exact
 * account that will act and a revoked privilege fails loudly instead of silently switching
 * identities.
 *
 * "Already applied?" is decided without a refused login in a routine rotation (each counts towards
 * FAILED_LOGIN_ATTEMPTS / max_password_errors): MariaDB reads the account's methods
 * (mysql.global_priv); MySQL's managing user reads the stored verifiers (mysql.user, one SELECT);
 * the account itself runs its `REPLACE <current> RETAIN` first, and only when MySQL refuses it
 * (3891: the current password is not the primary) tries whether the pending one logs in.
 */
import {
  AuthenticationFailedError,
  ConfigurationError,
  PermissionDeniedError,
  RotorError,
  UnsupportedError,
} from '../../errors.js';
import { previousFallback } from '../../fallback.js';
import type { Proof, Used } from '../../sql/kit.js';
import { notApplicable, type StrategyImpl } from '../../sql/strategy.js';
import type { ApplyRequest, ApplyResponse } from '../../types.js';
import { causeCode, type MysqlSession } from '../client.js';
import { assertIdentity, assertSameIdentity, type MysqlEngine, testPending } from '../engine.js';
import { type Check, canRun, globalPrivileges } from '../preflight.js';
import type { MysqlSecret } from '../secret.js';
import {
  describeServer,
  dualPasswordState,
  dualPasswordSupport,
  formatAccount,
  parseAuthMethods,
  passwordVerifies,
  sameAccount,
  secondaryPasswordOf,
  selectGlobalPriv,
  selectStoredPasswords,
  setDualPassword,
  setPrimaryPassword,
} from '../sql.js';

/** Whether the account's stored primary and secondary verify a password; undefined: cannot tell. */
interface Stored {
  primary(password: string): boolean | undefined;
  secondary(password: string): boolean | undefined;
}

/**
 * The account's stored primary and secondary (mysql.user, MySQL 8.0.14+), in one SELECT. Only a
 * refusal to read (no SELECT on mysql.user) means "cannot tell" (undefined); any other failure,
 * a timeout or a lost connection, is thrown.
 */
async function readStored(
  session: MysqlSession,
  account: MysqlSecret['account'],
): Promise<Stored | undefined> {
  let rows: readonly Record<string, unknown>[];
  try {
    rows = await session.query(
      selectStoredPasswords(session.server, account),
      `read the stored passwords of ${formatAccount(account)}`,
    );
  } catch (error) {
    if (error instanceof PermissionDeniedError) return undefined;
    throw error;
  }
  const row = rows[0];
  if (row === undefined) return undefined;
  const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString('latin1') : String(value ?? ''));
  const secondary = secondaryPasswordOf(row);
  // Each verification of a caching_sha2_password string is 5000 rounds of SHA-256-crypt (~10 ms):
  // each (verifier, password) pair is computed once.
  const once = (verify: (password: string) => boolean | undefined) => {
    const known = new Map<string, boolean | undefined>();
    return (password: string) => {
      if (!known.has(password)) known.set(password, verify(password));
      return known.get(password);
    };
  };
  return {
    primary: once((password) => passwordVerifies(text(row.plugin), text(row.authenticationString), password)),
    secondary: once((password) =>
      secondary === undefined ? undefined : passwordVerifies(secondary.plugin, secondary.value, password),
    ),
  };
}

/** Whether AWSPREVIOUS (another password of the same account) logs in; false without one. */
async function previousLogsIn(engine: MysqlEngine, request: ApplyRequest<MysqlSecret>): Promise<boolean> {
  const previous = await request.previous();
  if (
    previous === undefined ||
    previous.password === request.current.password ||
    !sameAccount(previous.account, request.current.account)
  ) {
    return false;
  }
  return engine.logsIn(request, { ...request.current, password: previous.password }, 'AWSPREVIOUS');
}

/**
 * dual-password on MySQL 8.0.14+. `RETAIN CURRENT PASSWORD` keeps whatever is *primary* and
 * replaces the secondary, so AWSCURRENT's password must be the primary when it runs. It is not
 * after an abandoned rotation (its pending password P1 became primary, AWSCURRENT's C secondary):
 * retaining then would keep P1 and drop C. So:
 * - applied already when the stored primary verifies the pending password and the secondary the
 *   current one (managing user), or when `REPLACE C` is refused and the pending password logs in
 *   (the account itself); only when neither can be told, when both log in;
 * - run by the managing user: when the stored primary verifies C (read from mysql.user;
 *   mysql_native_password and caching_sha2_password), `IDENTIFIED BY N RETAIN`; when the stored
 *   secondary (User_attributes' additional_password) verifies C, `IDENTIFIED BY N` alone, which
 *   keeps the secondary and never sets C again (a password history would refuse that, 3638);
 *   when neither can be told, C is made primary first (`IDENTIFIED BY C`, which keeps the
 *   secondary: C logs in throughout), then `IDENTIFIED BY N RETAIN`;
 * - run by the account: `... REPLACE C RETAIN` is refused (3891) exactly when C is not the
 *   primary, changing nothing; having logged in with C, C is then the secondary and
 *   `IDENTIFIED BY N` alone keeps it (else C is made primary, with REPLACE of the pending
 *   password when that is what logged in, and the statement runs again).
 * Every step leaves C logging in. test/mysql/dualPassword.test.ts and
 * test/mysql/mysql8Flows.test.ts drive it through models of MySQL's documented semantics.
 */
async function applyMysql(
  engine: MysqlEngine,
  request: ApplyRequest<MysqlSecret>,
  session: MysqlSession,
  self: boolean,
  currentKnownToLogIn: boolean,
  used: Used | undefined,
): Promise<void> {
  const { current, pending } = request;
  const { server } = session;
  const account = current.account;
  const what = `give ${formatAccount(account)} the pending and the current password`;
  const retain = () =>
    session.query(
      setDualPassword(server, {
        account,
        newPassword: pending.password,
        currentPassword: current.password,
        self,
      }),
      what,
    );
  const makePrimary = () =>
    session.query(
      setPrimaryPassword(server, {
        account,
        password: current.password,
        self,
        ...(self && used === 'AWSPENDING' ? { replace: pending.password } : {}),
      }),
      `make the AWSCURRENT password the primary one of ${formatAccount(account)}`,
    );
  // With C the secondary, `IDENTIFIED BY N` without RETAIN gives (N, C) at once: the secondary
  // "remains unchanged", and C is never set again (a password history or reuse interval would
  // refuse that with 3638).
  const keepSecondary = () =>
    session.query(setPrimaryPassword(server, { account, password: pending.password, self }), what);
  /** The replay check by logins, where nothing else can tell (a refused login when not applied). */
  const appliedByLogins = async () =>
    (currentKnownToLogIn || (await engine.logsIn(request, current, 'AWSCURRENT'))) &&
    (used === 'AWSPENDING' || (await engine.logsIn(request, pending)));
  if (self) {
    if (used !== 'AWSCURRENT' && (await appliedByLogins())) return;
    await retainAsAccount({ retain, keepSecondary, makePrimary, used, account });
    return;
  }
  const stored = await readStored(session, account);
  const primaryIsCurrent = stored?.primary(current.password);
  if (primaryIsCurrent !== true) {
    // Not the ordinary state (AWSCURRENT primary): a replay, or an abandoned rotation's leftover.
    const pendingPrimary = primaryIsCurrent === false ? stored?.primary(pending.password) : undefined;
    const currentSecondary = stored?.secondary(current.password);
    if (pendingPrimary === true && currentSecondary === true) return;
    // Only where the verifiers cannot tell, logins do (the replay check that may be refused).
    const told = pendingPrimary === false || currentSecondary === false;
    if (!told && (await appliedByLogins())) return;
  }
  if (
    primaryIsCurrent === true ||
    (primaryIsCurrent === undefined && (await previousLogsIn(engine, request)))
  ) {
    // Without a verifier to read (sha256_password, no SELECT on mysql.user), AWSPREVIOUS logging
    // in shows the ordinary state (C primary, AWSPREVIOUS secondary): an abandoned rotation's
    // RETAIN would have dropped AWSPREVIOUS. C is then not set again (a password history would
    // refuse it, 3638).
    await retain();
  } else if (stored?.secondary(current.password) === true) {
    await keepSecondary();
  } else {
    await makePrimary();
    await retain();
  }

  /**
   * Run by the account: `... REPLACE C RETAIN` is refused (3891) exactly when C is not the
   * primary, changing nothing. Logged in with C, C is then the secondary: either this very
   * change was made before (the pending password logs in: done), or `IDENTIFIED BY N` alone
   * keeps C. Else C is made primary and the statement runs again.
   */
  async function retainAsAccount(steps: {
    retain(): Promise<unknown>;
    keepSecondary(): Promise<unknown>;
    makePrimary(): Promise<unknown>;
    used: Used | undefined;
    account: MysqlSecret['account'];
  }): Promise<void> {
    try {
      await steps.retain();
      return;
    } catch (error) {
      // 3891: REPLACE does not name the primary; 3638: the history holds the pending password
      // (checked first). Either way nothing changed, and this very change may be in place.
      const code = error instanceof RotorError ? causeCode(error) : undefined;
      if (code !== '3891' && code !== '3638') throw error;
      if (steps.used === 'AWSCURRENT' && (await engine.logsIn(request, pending))) return;
      if (code !== '3891') throw error;
    }
    try {
      if (steps.used === 'AWSCURRENT') await steps.keepSecondary();
      else await steps.makePrimary();
    } catch (inner) {
      if (!(inner instanceof RotorError) || causeCode(inner) !== '3892') throw inner;
      throw new ConfigurationError(
        `the primary password of ${formatAccount(steps.account)} is not AWSCURRENT's (an abandoned rotation left its pending password there), and password_require_current wants that primary password to change it, which rotor no longer has; nothing was changed and AWSCURRENT still logs in: set masterarn so that a managing user runs dual-password, or reset the password to AWSCURRENT's`,
        { cause: inner },
      );
    }
    if (steps.used !== 'AWSCURRENT') await steps.retain();
  }
}

/** MariaDB: the account's methods decide; equal to (pending, current) means a replay after the change. */
async function applyMariadb(request: ApplyRequest<MysqlSecret>, session: MysqlSession, self: boolean) {
  const { current, pending } = request;
  const { server } = session;
  const rows = await session.query(
    selectGlobalPriv(server, current.account),
    `read the authentication of ${formatAccount(current.account)}`,
  );
  const priv = rows[0]?.Priv;
  if (priv === undefined) {
    throw new AuthenticationFailedError(`the account ${formatAccount(current.account)} does not exist`);
  }
  const state = dualPasswordState(parseAuthMethods(priv), pending.password, current.password);
  if (state === 'applied') return;
  if (state === 'foreign') {
    throw new UnsupportedError(
      `${formatAccount(current.account)} also authenticates with a method other than mysql_native_password; dual-password would remove it`,
    );
  }
  await session.query(
    setDualPassword(server, {
      account: current.account,
      newPassword: pending.password,
      currentPassword: current.password,
      self,
    }),
    `give ${formatAccount(current.account)} the pending and the current password`,
  );
}

export function dualPassword(engine: MysqlEngine): StrategyImpl<MysqlSecret> {
  /** New password first, AWSCURRENT's second, the one before dropped. */
  async function apply(request: ApplyRequest<MysqlSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, 'dual-password');
    const self = current.masterarn === undefined;
    let session: MysqlSession;
    let used: Used | undefined;
    let provenBy: Proof | undefined;
    if (self) {
      ({ session, used } = await engine.loginAsAccount(request));
    } else {
      const master = await engine.masterLogin(request, current);
      const pair = [current.username];
      provenBy = await engine.prove(request, pair, master.tls);
      await engine.authorize(request, master, pair, provenBy);
      session = await engine.masterSession(request, master);
    }
    try {
      if (self) assertIdentity(session, current.account, used ?? 'AWSCURRENT');
      const support = dualPasswordSupport(session.server);
      if (!support.supported) {
        throw new UnsupportedError(
          `${describeServer(session.server)} cannot hold two passwords per account: dual-password needs ${support.requirement}`,
        );
      }
      if (session.server.flavour === 'mariadb') await applyMariadb(request, session, self);
      else
        await applyMysql(
          engine,
          request,
          session,
          self,
          used === 'AWSCURRENT' || provenBy === 'AWSCURRENT',
          used,
        );
    } finally {
      await session.close();
    }
    // AWSCURRENT's password did not log in (only AWSPREVIOUS's did): it was changed elsewhere.
    return used === 'AWSPREVIOUS' || provenBy === 'AWSPREVIOUS'
      ? previousFallback(formatAccount(current.account))
      : {};
  }

  return {
    createPending: async () => ({}),
    apply,
    test: (request) => testPending(engine, request),
    /** AWSCURRENT keeps logging in throughout: nothing to roll back. */
    rollback: notApplicable,
    preflight: (request) =>
      engine.preflight(request, {
        account: async (session, current, check) => {
          const support = dualPasswordSupport(session.server);
          check(
            'dual-password support',
            support.supported,
            support.supported
              ? `${describeServer(session.server)} holds two passwords per account`
              : `${describeServer(session.server)} cannot hold two passwords per account`,
            `Upgrade to ${support.requirement}, or use strategy alternating-users.`,
          );
          if (current.masterarn === undefined)
            await checkDualPrivileges(session, current, check, 'the account itself');
        },
        withoutMaster: (check) =>
          check(
            'runner',
            true,
            `dual-password's ALTER USER runs as ${formatAccount(request.current.account)} itself (no masterarn)`,
          ),
        master: async (admin, current, _master, check) => {
          check(
            'runner',
            true,
            `dual-password's ALTER USER runs as the masterarn user ${formatAccount(admin.account)}`,
          );
          await checkDualPrivileges(admin, current, check, 'the masterarn user');
        },
      }),
  };
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
