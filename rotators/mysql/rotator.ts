/**
 * The MySQL / MariaDB rotator: one password per secret, three strategies.
 *
 * - `single-user`: the account changes its own password (no privilege needed). Between setSecret
 *   and finishSecret only the pending password logs in: clients holding AWSCURRENT fail until they
 *   re-read the secret. Pick it when the application retries on authentication errors. A failed
 *   testSecret rolls back: the account sets AWSCURRENT's password back.
 * - `dual-password`: the account accepts the pending and the current password from setSecret on;
 *   the password before those stops at the next rotation. Zero downtime with one account. MariaDB
 *   10.4+ (`IDENTIFIED VIA ... OR ...`) or MySQL 8.0.14+ (`RETAIN CURRENT PASSWORD`).
 * - `alternating-users`: the managing user (`masterarn`) keeps a second account (`<name>_clone`)
 *   with the same access; each rotation moves the secret to the other account, whose password
 *   changes, so AWSCURRENT and AWSPREVIOUS both keep working.
 * - `rds-master`: the master user of an RDS database, rotated through the RDS API instead of SQL
 *   (../rdsMaster.ts): apply asks RDS to set the pending password, test waits until RDS applied
 *   it, rollback asks for the current one back. Single-user in nature: once RDS applies the
 *   change, the old password stops working.
 *
 * Who runs dual-password's ALTER USER: the `masterarn` user when the secret names one, else the
 * account itself. It is decided by the secret, not by probing privileges, so preflight checks the
 * exact account that will act and a revoked privilege fails loudly instead of silently switching
 * identities. The acting account needs CREATE USER (MariaDB, or MySQL for another account) or
 * APPLICATION_PASSWORD_ADMIN (MySQL, own account), and on MariaDB SELECT on mysql.global_priv.
 *
 * Trust boundaries (README "Trust boundaries", ../trust.ts): the managing user logs in only where
 * its own secret or its binding says (`masterLogin`), acts for an account only once AWSCURRENT or
 * AWSPREVIOUS logged in as it or an operator adopted it, within the binding's `manages`
 * (`prove`, `authorize`), and alters a clone only when rotor's catalogue records it (alternating.ts).
 * No login sends a replayable credential without verified TLS (client.ts).
 *
 * Passwords reach MariaDB only as mysql_native_password hashes computed here; MySQL gets the
 * statements it rewrites before logging (see ./sql.ts). Every login goes over TLS, verified with
 * the host name, unless the secret says plaintext (../tls.ts).
 *
 * Exercised for real: MariaDB 10.11 (every strategy, TLS on a throwaway server). MySQL 8.0 / 8.4
 * and Aurora MySQL 3: no server was available; every strategy runs against a model of MySQL's
 * documented account semantics (test/mysql/model/mysql8.ts) through every fault and retry order,
 * and the exact statements per version are pinned (test/mysql/mysql8Sql.test.ts).
 */
import {
  AuthenticationFailedError,
  ConfigurationError,
  InvalidSecretError,
  PermissionDeniedError,
  RotorError,
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
import { authorizeActingFor, bindMaster, type MasterBinding } from '../trust.js';
import type { ApplyRequest, ApplyResponse, RequestBase, RollbackRequest, Rotator } from '../types.js';
import { alternateOf, applyAlternating, userNameLimit } from './alternating.js';
import type { Connect, MysqlSession } from './client.js';
import { causeCode, connectMysql } from './client.js';
import { runPreflight } from './preflight.js';
import {
  DEFAULT_PORT,
  ENGINES,
  type MysqlLogin,
  type MysqlSecret,
  parseMasterSecret,
  parseMysqlSecret,
} from './secret.js';
import {
  atLeast,
  changeOwnPassword,
  describeServer,
  discardOldPassword,
  dualPasswordState,
  dualPasswordSupport,
  formatAccount,
  minimumSupport,
  parseAuthMethods,
  passwordVerifies,
  sameAccount,
  secondaryPasswordOf,
  selectGlobalPriv,
  selectPrimaryPassword,
  selectSecondaryPassword,
  setDualPassword,
  setPrimaryPassword,
} from './sql.js';

export interface MysqlRotatorOptions {
  /** The driver connection (tests record statements with their own). */
  connect?: Connect;
  /** rds-master: how testSecret polls while RDS applies the change (tests shorten it). */
  rdsWait?: RdsWaitOptions;
}

type Timing = Pick<RequestBase, 'signal' | 'deadline'>;

/** Which version a login used, for messages and for "already applied" decisions. */
type Used = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';

/**
 * MySQL's validate_password (MEDIUM, the usual setting) and MariaDB's simple_password_check want a
 * character that is neither letter nor digit; the generator guarantees upper, lower and digit only.
 * A value the server refuses would be stored by createSecret and fail every retry of setSecret.
 */
function passwordWithSymbol(generate: () => string): string {
  let password = generate();
  for (let attempt = 0; attempt < 20 && !/[^A-Za-z0-9]/.test(password); attempt++) password = generate();
  return password;
}

/** single-user and dual-password change a password, never who the secret is. */
function assertSameIdentity(current: MysqlSecret, pending: MysqlSecret, strategy: string): void {
  const fields: [string, unknown, unknown][] = [
    ['username', current.username, pending.username],
    ['host', current.host, pending.host],
    ['accountHost', current.account.host, pending.account.host],
  ];
  for (const [field, a, b] of fields) {
    if (a !== b)
      throw new InvalidSecretError(field, `must equal AWSCURRENT's for strategy ${strategy}`, 'AWSPENDING');
  }
}

/** The login the session landed on must be the secret's account (an anonymous or more specific one can shadow it). */
function assertIdentity(session: MysqlSession, expected: MysqlLogin['account'], label: Used): void {
  if (!sameAccount(session.account, expected)) {
    throw new VerificationFailedError(
      `the ${label} credentials log in as ${formatAccount(session.account)}, not as ${formatAccount(expected)}: another account (anonymous, or with a more specific host) matches this login first`,
    );
  }
}

/** The managing user's login, with where it is bound and what decided it. */
interface MasterLogin extends MysqlLogin {
  /** ARN or name of the master secret. */
  secretId: string;
  binding?: MasterBinding;
}

const masterActor = (master: MasterLogin) => `the managing user of master secret ${master.secretId}`;

export function createMysqlRotator(options: MysqlRotatorOptions = {}) {
  const connect = options.connect ?? connectMysql;

  const login = (timing: Timing, who: MysqlLogin, database?: string): Promise<MysqlSession> =>
    connect({
      host: who.host,
      port: who.port,
      user: who.username,
      password: who.password,
      tls: who.tls,
      signal: timing.signal,
      deadline: timing.deadline,
      ...(database === undefined ? {} : { database }),
    });

  /**
   * The managing user's credential and where it may log in, decided before any connection: the
   * master secret's own host / port / TLS keys or its binding (stage file, RDS), never the rotated
   * secret's (whose host and port must be that endpoint). MasterBindingError otherwise.
   */
  async function masterLogin(
    request: Pick<RequestBase, 'fetchMaster'>,
    secret: MysqlSecret,
  ): Promise<MasterLogin> {
    const secretId = secret.masterarn;
    if (secretId === undefined) {
      throw new InvalidSecretError('masterarn', `is required for strategy ${secret.strategy}`, 'AWSCURRENT');
    }
    const { master, endpoint, binding } = await bindMaster({
      fetchMaster: request.fetchMaster,
      masterSecretId: secretId,
      parse: parseMasterSecret,
      rotated: { host: secret.host, port: secret.port },
      defaultPort: DEFAULT_PORT,
    });
    return {
      host: endpoint.host,
      port: endpoint.port,
      tls: endpoint.tls,
      username: master.username,
      password: master.password,
      account: master.account,
      secretId,
      ...(binding === undefined ? {} : { binding }),
    };
  }

  /**
   * Proof of possession: which of the secret's own stored credentials logs in, now, as an account
   * of `pair` (the secret's account and its clone) on the secret's server, checked by
   * CURRENT_USER(). AWSCURRENT first, then AWSPREVIOUS (only when it names an account of the pair
   * on the same server). Refusals and logins landing elsewhere are no proof; other failures throw.
   */
  async function prove(
    request: Timing & { previous?: () => Promise<MysqlSecret | undefined> },
    current: MysqlSecret,
    pair: readonly string[],
    /** The bound endpoint's TLS, when a master is involved: the proof is no weaker than its login. */
    tls?: MysqlLogin['tls'],
  ): Promise<'AWSCURRENT' | 'AWSPREVIOUS' | undefined> {
    const attempt = async (secret: MysqlSecret, label: Used): Promise<boolean> => {
      try {
        return await logsIn(request, tls === undefined ? secret : { ...secret, tls }, label);
      } catch (error) {
        if (error instanceof VerificationFailedError) return false;
        throw error;
      }
    };
    if (pair.includes(current.username) && (await attempt(current, 'AWSCURRENT'))) return 'AWSCURRENT';
    const previous = await request.previous?.();
    if (
      previous !== undefined &&
      previous.password !== current.password &&
      pair.includes(previous.username) &&
      previous.account.host.toLowerCase() === current.account.host.toLowerCase()
    ) {
      const login = {
        ...current,
        username: previous.username,
        password: previous.password,
        account: previous.account,
      };
      if (await attempt(login, 'AWSPREVIOUS')) return 'AWSPREVIOUS';
    }
    return undefined;
  }

  /**
   * Before the master acts for `users`: each is allowed by the master's binding (`manages`;
   * default: the secret's own pair), and the rotation proved it holds the pair's credential, or
   * an operator adopted the pair. UnmanagedUserError / UnprovenUserError otherwise (../trust.ts).
   */
  async function authorize(
    request: Pick<RequestBase, 'adopted'>,
    actor: string,
    binding: MasterBinding | undefined,
    users: readonly string[],
    pair: readonly string[],
    provenBy: 'AWSCURRENT' | 'AWSPREVIOUS' | undefined,
  ): Promise<void> {
    const adopted = provenBy === undefined ? await request.adopted() : [];
    // Adopting an account adopts its pair: the master may then make or re-password its clone.
    const adoptedPair = pair.some((user) => adopted.includes(user)) ? [...adopted, ...pair] : adopted;
    for (const user of new Set(users)) {
      authorizeActingFor({
        user,
        own: pair,
        ...(binding === undefined ? {} : { binding }),
        ...(provenBy === undefined ? {} : { provenBy }),
        adopted: adoptedPair,
        actor,
      });
    }
  }

  /**
   * Logs in as the account with AWSCURRENT, else AWSPENDING (the change was already made), else
   * AWSPREVIOUS (AWSCURRENT never reached the server). Current first: every refused login counts
   * towards MariaDB's max_password_errors and MySQL's FAILED_LOGIN_ATTEMPTS, which lock the
   * account for every client. Only refusals fall through; a network error stops at once.
   */
  async function loginAsAccount(
    request: ApplyRequest<MysqlSecret>,
  ): Promise<{ session: MysqlSession; used: Used; password: string }> {
    const candidates: [Used, () => Promise<MysqlSecret | undefined>][] = [
      ['AWSCURRENT', async () => request.current],
      ['AWSPENDING', async () => request.pending],
      ['AWSPREVIOUS', request.previous],
    ];
    const tried = new Set<string>();
    for (const [used, read] of candidates) {
      const secret = await read();
      if (secret === undefined || tried.has(secret.password)) continue;
      if (!sameAccount(secret.account, request.current.account)) continue;
      tried.add(secret.password);
      try {
        const session = await login(request, { ...request.current, password: secret.password });
        return { session, used, password: secret.password };
      } catch (error) {
        if (!(error instanceof AuthenticationFailedError)) throw error;
      }
    }
    throw new AuthenticationFailedError(
      `none of AWSCURRENT, AWSPENDING and AWSPREVIOUS log in as ${formatAccount(request.current.account)} at ${request.current.host}:${request.current.port}`,
    );
  }

  /** Whether `secret` logs in as its account; refusals are `false`, anything else throws. */
  async function logsIn(timing: Timing, secret: MysqlSecret, label: Used = 'AWSPENDING'): Promise<boolean> {
    let session: MysqlSession;
    try {
      session = await login(timing, secret);
    } catch (error) {
      if (error instanceof AuthenticationFailedError) return false;
      throw error;
    }
    try {
      assertIdentity(session, secret.account, label);
      return true;
    } finally {
      await session.close();
    }
  }

  function assertServerSupported(session: MysqlSession): void {
    const minimum = minimumSupport(session.server);
    if (!minimum.supported) {
      throw new UnsupportedError(
        `${describeServer(session.server)} is too old: rotor needs ${minimum.requirement}`,
      );
    }
  }

  /** single-user: the account sets its own password. */
  async function applySingleUser(request: ApplyRequest<MysqlSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, 'single-user');
    const { session, used, password } = await loginAsAccount(request);
    try {
      assertIdentity(session, current.account, used);
      // Logging in with the pending password means the change was made by an earlier attempt.
      if (used !== 'AWSPENDING') {
        assertServerSupported(session);
        const what = `change the password of ${formatAccount(current.account)}`;
        try {
          await session.query(
            changeOwnPassword(session.server, {
              account: current.account,
              newPassword: pending.password,
              loginPassword: password,
            }),
            what,
          );
        } catch (error) {
          // MySQL compares REPLACE with the primary password only (3891, nothing changed): the
          // login used a secondary left from earlier dual-password use. Without REPLACE the
          // account may still change its own password unless password_require_current is on.
          if (!(error instanceof RotorError) || causeCode(error) !== '3891') throw error;
          await session.query(
            setPrimaryPassword(session.server, {
              account: current.account,
              password: pending.password,
              self: true,
            }),
            what,
          );
        }
      }
      await discardOwnSecondary(session, current.account);
    } finally {
      await session.close();
    }
    return used === 'AWSPREVIOUS' ? previousFallback(formatAccount(current.account)) : {};
  }

  /**
   * single-user on MySQL 8.0.14+: a secondary password (from earlier dual-password use) would keep
   * logging in after the rotation. Discarding one's own needs APPLICATION_PASSWORD_ADMIN (or
   * CREATE USER, or UPDATE on mysql); without it the secondary stays, as it was before rotor
   * (README: single-user), and the rotation goes on.
   */
  async function discardOwnSecondary(session: MysqlSession, account: MysqlSecret['account']): Promise<void> {
    if (session.server.flavour !== 'mysql' || !atLeast(session.server, 8, 0, 14)) return;
    try {
      await session.query(
        discardOldPassword(account),
        `discard the old password of ${formatAccount(account)}`,
      );
    } catch (error) {
      if (!(error instanceof PermissionDeniedError)) throw error;
    }
  }

  /**
   * single-user rollback: the pending password logged in means apply changed it, and the account
   * sets AWSCURRENT's back (MariaDB gets its hash, MySQL `REPLACE`s the pending one). Pending first:
   * rollback follows a failed test, which usually follows a successful apply, so at most one login
   * is refused (each refusal counts towards the server's failed-login lock). When the pending
   * password does not log in, AWSCURRENT must: then nothing was applied, or an earlier rollback
   * already restored it.
   */
  async function rollbackSingleUser(request: RollbackRequest<MysqlSecret>): Promise<void> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, 'single-user');
    if (current.password !== pending.password) {
      let session: MysqlSession | undefined;
      try {
        session = await login(request, { ...current, password: pending.password });
      } catch (error) {
        if (!(error instanceof AuthenticationFailedError)) throw error;
      }
      if (session !== undefined) {
        try {
          assertIdentity(session, current.account, 'AWSPENDING');
          assertServerSupported(session);
          await session.query(
            changeOwnPassword(session.server, {
              account: current.account,
              newPassword: current.password,
              loginPassword: pending.password,
            }),
            `put the AWSCURRENT password of ${formatAccount(current.account)} back`,
          );
        } finally {
          await session.close();
        }
        return;
      }
    }
    if (!(await logsIn(request, current, 'AWSCURRENT'))) {
      throw new AuthenticationFailedError(
        `rollback: neither AWSPENDING nor AWSCURRENT logs in as ${formatAccount(current.account)} at ${current.host}:${current.port}; the password is neither rotor set`,
      );
    }
  }

  /** dual-password: new password first, AWSCURRENT's second, the one before dropped. */
  async function applyDualPassword(request: ApplyRequest<MysqlSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, 'dual-password');
    const self = current.masterarn === undefined;
    let session: MysqlSession;
    let used: Used | undefined;
    let provenBy: 'AWSCURRENT' | 'AWSPREVIOUS' | undefined;
    if (self) {
      ({ session, used } = await loginAsAccount(request));
    } else {
      const master = await masterLogin(request, current);
      const pair = [current.username];
      provenBy = await prove(request, current, pair, master.tls);
      await authorize(request, masterActor(master), master.binding, pair, pair, provenBy);
      session = await login(request, master);
    }
    // AWSCURRENT's password did not log in (only AWSPREVIOUS's did): it was changed elsewhere.
    const response =
      used === 'AWSPREVIOUS' || provenBy === 'AWSPREVIOUS'
        ? previousFallback(formatAccount(current.account))
        : {};
    try {
      if (self) assertIdentity(session, current.account, used ?? 'AWSCURRENT');
      const { server } = session;
      const support = dualPasswordSupport(server);
      if (!support.supported) {
        throw new UnsupportedError(
          `${describeServer(server)} cannot hold two passwords per account: dual-password needs ${support.requirement}`,
        );
      }
      const what = `give ${formatAccount(current.account)} the pending and the current password`;
      if (server.flavour === 'mariadb') {
        // The account's methods decide: equal to (pending, current) means a replay after the change.
        const rows = await session.query(
          selectGlobalPriv(server, current.account),
          `read the authentication of ${formatAccount(current.account)}`,
        );
        const priv = rows[0]?.Priv;
        if (priv === undefined) {
          throw new AuthenticationFailedError(`the account ${formatAccount(current.account)} does not exist`);
        }
        const state = dualPasswordState(parseAuthMethods(priv), pending.password, current.password);
        if (state === 'applied') return response;
        if (state === 'foreign') {
          throw new UnsupportedError(
            `${formatAccount(current.account)} also authenticates with a method other than mysql_native_password; dual-password would remove it`,
          );
        }
      } else {
        await applyMysqlDualPassword(
          request,
          session,
          self,
          used === 'AWSCURRENT' || provenBy === 'AWSCURRENT',
          used,
        );
        return response;
      }
      await session.query(
        setDualPassword(server, {
          account: current.account,
          newPassword: pending.password,
          currentPassword: current.password,
          self,
        }),
        what,
      );
    } finally {
      await session.close();
    }
    return response;
  }

  /**
   * dual-password on MySQL 8.0.14+. `RETAIN CURRENT PASSWORD` keeps whatever is *primary* and
   * replaces the secondary, so AWSCURRENT's password must be the primary when it runs. It is not
   * after an abandoned rotation (its pending password P1 became primary, AWSCURRENT's C secondary):
   * retaining then would keep P1 and drop C. So:
   * - applied already when the pending and the current password both log in (a replay);
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
  async function applyMysqlDualPassword(
    request: ApplyRequest<MysqlSecret>,
    session: MysqlSession,
    self: boolean,
    currentKnownToLogIn: boolean,
    used: Used | undefined,
  ): Promise<void> {
    const { current, pending } = request;
    const { server } = session;
    const account = current.account;
    const currentLogsIn = currentKnownToLogIn || (await logsIn(request, current, 'AWSCURRENT'));
    if (currentLogsIn && (used === 'AWSPENDING' || (await logsIn(request, pending)))) return;
    const retain = setDualPassword(server, {
      account,
      newPassword: pending.password,
      currentPassword: current.password,
      self,
    });
    const what = `give ${formatAccount(account)} the pending and the current password`;
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
    if (self) {
      try {
        await session.query(retain, what);
      } catch (error) {
        // 3891: REPLACE does not name the primary: C is not primary. Nothing was changed.
        if (!(error instanceof RotorError) || causeCode(error) !== '3891') throw error;
        try {
          // Logged in with C, which is not the primary: C is the secondary.
          if (used === 'AWSCURRENT') await keepSecondary();
          else await makePrimary();
        } catch (inner) {
          if (!(inner instanceof RotorError) || causeCode(inner) !== '3892') throw inner;
          throw new ConfigurationError(
            `the primary password of ${formatAccount(account)} is not AWSCURRENT's (an abandoned rotation left its pending password there), and password_require_current wants that primary password to change it, which rotor no longer has; nothing was changed and AWSCURRENT still logs in: set masterarn so that a managing user runs dual-password, or reset the password to AWSCURRENT's`,
            { cause: inner },
          );
        }
        if (used !== 'AWSCURRENT') await session.query(retain, what);
      }
      return;
    }
    const stored = await storedPasswords(session, account, current.password);
    if (stored.primary === true || (stored.primary === undefined && (await previousLogsIn(request)))) {
      // Without a verifier to read (sha256_password, no SELECT on mysql.user), AWSPREVIOUS logging
      // in shows the ordinary state (C primary, AWSPREVIOUS secondary): an abandoned rotation's
      // RETAIN would have dropped AWSPREVIOUS. C is then not set again (a password history would
      // refuse it, 3638).
      await session.query(retain, what);
    } else if (stored.secondary === true) {
      await keepSecondary();
    } else {
      await makePrimary();
      await session.query(retain, what);
    }
  }

  /** Whether AWSPREVIOUS (another password of the same account) logs in; false without one. */
  async function previousLogsIn(request: ApplyRequest<MysqlSecret>): Promise<boolean> {
    const previous = await request.previous();
    if (
      previous === undefined ||
      previous.password === request.current.password ||
      !sameAccount(previous.account, request.current.account)
    ) {
      return false;
    }
    return logsIn(request, { ...request.current, password: previous.password }, 'AWSPREVIOUS');
  }

  /**
   * Whether the account's stored primary, and else its secondary (mysql.user.User_attributes'
   * `additional_password`, MySQL 8.0.14+), verify `password`; undefined when that cannot be read
   * or told.
   */
  async function storedPasswords(
    session: MysqlSession,
    account: MysqlSecret['account'],
    password: string,
  ): Promise<{ primary: boolean | undefined; secondary: boolean | undefined }> {
    const primary = await primaryVerifies(session, account, password);
    if (primary !== false) return { primary, secondary: undefined };
    try {
      const [row] = await session.query(
        selectSecondaryPassword(session.server, account),
        `read the secondary password of ${formatAccount(account)}`,
      );
      const stored = secondaryPasswordOf(row);
      return {
        primary,
        secondary: stored === undefined ? undefined : passwordVerifies(stored.plugin, stored.value, password),
      };
    } catch {
      return { primary, secondary: undefined };
    }
  }

  /** Whether the account's stored primary verifies `password`; undefined when that cannot be read or told. */
  async function primaryVerifies(
    session: MysqlSession,
    account: MysqlSecret['account'],
    password: string,
  ): Promise<boolean | undefined> {
    try {
      const [row] = await session.query(
        selectPrimaryPassword(session.server, account),
        `read the primary password of ${formatAccount(account)}`,
      );
      if (row === undefined) return undefined;
      const text = (value: unknown) =>
        Buffer.isBuffer(value) ? value.toString('latin1') : String(value ?? '');
      return passwordVerifies(text(row.plugin), text(row.authenticationString), password);
    } catch {
      return undefined;
    }
  }

  /**
   * rds-master: RDS sets the password (../rdsMaster.ts). When the pending password already logs
   * in and RDS has nothing pending, an earlier attempt's change was applied: nothing is asked
   * again.
   */
  async function applyRdsMaster(request: ApplyRequest<MysqlSecret>): Promise<void> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, RDS_MASTER);
    if (current.port !== pending.port) {
      throw new InvalidSecretError(
        'port',
        `must equal AWSCURRENT's for strategy ${RDS_MASTER}`,
        'AWSPENDING',
      );
    }
    const db = requireManagedDatabase(request);
    const pair = [current.username];
    const provenBy = await prove(request, current, pair);
    // A replay after RDS applied the change: AWSCURRENT is gone and the pending password logs in;
    // nothing is asked of RDS again, so nothing needs proving.
    if (
      provenBy === undefined &&
      !(await db.masterPasswordChangePending()) &&
      (await logsIn(request, pending))
    ) {
      return;
    }
    await authorize(request, 'the RDS API', undefined, pair, pair, provenBy);
    await applyMasterPassword(db, pending.password, () => logsIn(request, pending), request, options.rdsWait);
  }

  return {
    engines: ENGINES,
    /** createPending only reads (see there): PutSecretValue alone tells whether a value is stored. */
    createPendingChangesNothing: true,

    parse: ({ value, label, managedDatabase }) => parseMysqlSecret(value, label, managedDatabase),

    strategy: (secret) => secret.strategy,

    /**
     * A new password on the same account (single-user, dual-password) or on the other account
     * (alternating-users: the managing user reads the server's user-name limit to name the clone).
     * Mints nothing: calling it again for the same token only draws another password.
     */
    async createPending({ current, currentValue, generatePassword, ...request }) {
      const password = passwordWithSymbol(generatePassword);
      if (current.strategy === RDS_MASTER) checkGeneratedPassword(password, request.managedDatabase);
      if (current.strategy !== 'alternating-users') return { pending: { ...currentValue, password } };
      const session = await login(request, await masterLogin(request, current));
      let alternate: { user: string; primaryUsername?: string };
      try {
        alternate = alternateOf(current, await userNameLimit(session));
      } finally {
        await session.close();
      }
      return {
        pending: {
          ...currentValue,
          username: alternate.user,
          password,
          ...(alternate.primaryUsername === undefined ? {} : { primaryUsername: alternate.primaryUsername }),
        },
      };
    },

    /**
     * Makes the pending password log in; AWSCURRENT keeps working except in single-user. Succeeds
     * without change when already applied (single-user: the pending password logs in; dual-password:
     * the account already holds exactly the pending and current passwords, or on MySQL the pending
     * one logs in; alternating-users: password set again, grants rewritten only if they differ;
     * rds-master: the pending password logs in, or RDS is asked again, which is harmless).
     */
    async apply(request) {
      switch (request.current.strategy) {
        case 'rds-master':
          return applyRdsMaster(request);
        case 'single-user':
          return applySingleUser(request);
        case 'dual-password':
          return applyDualPassword(request);
        case 'alternating-users': {
          const master = await masterLogin(request, request.current);
          for (const field of ['host', 'port'] as const) {
            if (request.current[field] !== request.pending[field]) {
              throw new InvalidSecretError(field, "must equal AWSCURRENT's", 'AWSPENDING');
            }
          }
          if (request.current.account.host !== request.pending.account.host) {
            throw new InvalidSecretError('accountHost', "must equal AWSCURRENT's", 'AWSPENDING');
          }
          const session = await login(request, master);
          // Set by the authorize callback (a closure: a holder keeps the type checker honest).
          const proof: { by?: 'AWSCURRENT' | 'AWSPREVIOUS' } = {};
          try {
            assertServerSupported(session);
            await applyAlternating({
              session,
              current: request.current,
              pending: request.pending,
              masterUser: master.username,
              loginAsTarget: () => login(request, request.pending),
              authorize: async (pair) => {
                const provenBy = await prove(request, request.current, pair, master.tls);
                if (provenBy !== undefined) proof.by = provenBy;
                await authorize(request, masterActor(master), master.binding, pair, pair, provenBy);
              },
              adopted: request.adopted,
            });
          } finally {
            await session.close();
          }
          // rotor never changes AWSCURRENT's account here: proven only by AWSPREVIOUS, it was changed
          // elsewhere.
          return proof.by === 'AWSPREVIOUS' ? previousFallback(formatAccount(request.current.account)) : {};
        }
      }
    },

    /**
     * Logs in with the pending credentials (opening `dbname` when set), checks CURRENT_USER() is
     * the secret's account and runs the probe query in a READ ONLY transaction rolled back after.
     * rds-master first waits, within the deadline, until RDS has applied the change. Changes
     * nothing.
     */
    async test({ pending, ...request }) {
      if (pending.strategy === RDS_MASTER && request.managedDatabase !== undefined) {
        await waitForMasterPassword(
          request.managedDatabase,
          () => logsIn(request, pending),
          request,
          options.rdsWait,
        );
      }
      const session = await login(request, pending, pending.dbname);
      try {
        assertIdentity(session, pending.account, 'AWSPENDING');
        if (pending.probeQuery !== undefined) {
          await session.query('START TRANSACTION READ ONLY', 'start a read-only transaction');
          try {
            await session.query(pending.probeQuery, 'run the probe query');
          } catch (error) {
            const reason = error instanceof RotorError ? error.detail : 'it failed';
            throw new VerificationFailedError(`the probe query failed: ${reason}`, {
              ...(error instanceof RotorError ? { cause: error } : {}),
            });
          } finally {
            await session.query('ROLLBACK', 'end the read-only transaction').catch(() => undefined);
          }
        }
      } finally {
        await session.close();
      }
      return undefined;
    },

    /**
     * After a failed test, puts the AWSCURRENT password back where apply replaced it:
     * - single-user: the account, logged in with the pending password, sets its own password back
     *   to AWSCURRENT's (as a hash on MariaDB, like apply);
     * - rds-master: asks RDS to set the AWSCURRENT password again unless it logs in with nothing
     *   pending.
     * dual-password and alternating-users keep AWSCURRENT working and say `not-applicable`.
     * Idempotent; changes nothing when nothing was applied (AWSCURRENT already logs in).
     */
    async rollback(request) {
      const { current } = request;
      if (current.strategy === RDS_MASTER) {
        await rollbackMasterPassword(
          request.managedDatabase,
          current.password,
          () => logsIn(request, current, 'AWSCURRENT'),
          request,
          options.rdsWait,
        );
        return;
      }
      if (current.strategy !== 'single-user') return 'not-applicable';
      await rollbackSingleUser(request);
    },

    /** Read-only checks of what a rotation will need; one line per check, each with a fix. */
    async preflight(request) {
      const checks = await runPreflight({
        ...request,
        connect: login,
        masterLogin: (secret) => masterLogin(request, secret),
      });
      return request.current.strategy === RDS_MASTER
        ? [...checks, ...rdsMasterChecks(request.current.username, request.managedDatabase)]
        : checks;
    },
  } satisfies Rotator<MysqlSecret>;
}

/** The rotator with the mysql2 driver. */
export const mysqlRotator = createMysqlRotator();
