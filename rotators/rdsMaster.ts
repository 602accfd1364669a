/**
 * The `rds-master` strategy's engine-independent part, shared by the PostgreSQL and MySQL/MariaDB
 * rotators: rotating an RDS master user through the RDS API (the `ManagedDatabase` port of
 * ./types.ts) instead of SQL, for teams that keep the master in their own secret.
 *
 * The window: rds-master is single-user in nature. From the moment RDS applies the change (seconds
 * after setSecret, asynchronously) only the new password logs in, until finishSecret makes it
 * AWSCURRENT: clients holding the old one fail in between, as with `single-user`.
 *
 * Timing: RDS documents MasterUserPassword as "asynchronously applied as soon as possible", shown
 * in PendingModifiedValues until then, and gives no duration. rotor never issues a ModifyDB* while
 * one is pending (apply and rollback wait for it, within the Lambda deadline), and testSecret waits
 * for it up to the deadline less a reserve for the rollback: the database functions' timeout
 * (serverless.yml) bounds every wait. If testSecret gives up while RDS still has the change
 * pending, the rotation is retried and the retry waits again instead of asking twice.
 *
 * Trust: the database a secret names (`dbInstanceIdentifier` / `dbClusterIdentifier`) is its
 * writer's choice, and RDS tells anyone a database's master user name. So rotor resets a master
 * password through the RDS API only when the deployment's stage file binds this secret to this
 * database (`rdsMasters`, `ManagedDatabase.boundToSecret`): otherwise the writer of any secret
 * could name a database the function may modify and receive its new master password. Every path
 * that calls ModifyDB* (apply, rollback) checks it first (UnboundDatabaseError).
 *
 * Refused, with the reason: a database whose master password RDS manages itself
 * (ManageMasterUserPassword); a secret whose user is not the master; and, whatever the strategy,
 * changing the master password by SQL behind RDS's back when RDS manages it.
 */
import * as v from 'valibot';
import {
  ConfigurationError,
  DeadlineExceededError,
  InvalidSecretError,
  UnboundDatabaseError,
  UnsupportedError,
  VerificationFailedError,
} from './errors.js';
import { authorizeActingFor } from './trust.js';
import type { ApplyRequest, ManagedDatabase, PreflightCheck, RequestBase, RollbackRequest } from './types.js';

export const RDS_MASTER = 'rds-master';

/**
 * Whether `id` is an RDS identifier: 1 to 63 letters, digits or hyphens, starting with a letter,
 * no two hyphens in a row, no hyphen at the end.
 */
export function isRdsIdentifier(id: string): boolean {
  return /^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}$/.test(id) && !id.endsWith('-');
}

export const rdsIdentifierExpected = (what: string) =>
  `must be an RDS ${what} identifier (1 to 63 letters, digits or single hyphens, starting with a letter)`;

const identifierSchema = (what: string) =>
  v.pipe(v.string(), v.check(isRdsIdentifier, rdsIdentifierExpected(what)));

/** Schema entries for the keys that name the RDS database (spread into an engine's schema). */
export const rdsEntries = {
  dbInstanceIdentifier: v.optional(identifierSchema('DB instance')),
  dbClusterIdentifier: v.optional(identifierSchema('DB cluster')),
};

function describe(db: ManagedDatabase): string {
  return `RDS ${db.kind === 'instance' ? 'DB instance' : 'DB cluster'} "${db.identifier}"`;
}

/** What parse knows about a secret, for the checks below. */
export interface RdsParsed {
  username: string;
  strategy: string;
  dbInstanceIdentifier?: string | undefined;
  dbClusterIdentifier?: string | undefined;
  masterarn?: string | undefined;
}

/**
 * Parse-time checks, pure: the value's own consistency, and (when the step machine found the
 * database) the description RDS gave.
 */
export function checkRdsSecret(secret: RdsParsed, db: ManagedDatabase | undefined, label: string): void {
  if (secret.dbInstanceIdentifier !== undefined && secret.dbClusterIdentifier !== undefined) {
    throw new InvalidSecretError(
      'dbClusterIdentifier',
      'must not be set together with dbInstanceIdentifier (name the instance or the cluster the secret belongs to)',
      label,
    );
  }
  if (secret.strategy === RDS_MASTER) {
    if (secret.masterarn !== undefined) {
      throw new InvalidSecretError(
        'masterarn',
        'must be absent for strategy "rds-master": RDS sets the master password, no managing user takes part',
        label,
      );
    }
    if (
      db === undefined &&
      secret.dbInstanceIdentifier === undefined &&
      secret.dbClusterIdentifier === undefined
    ) {
      throw new InvalidSecretError(
        'dbInstanceIdentifier',
        'or dbClusterIdentifier is required for strategy "rds-master" (the RDS database whose master password rotates)',
        label,
      );
    }
  }
  if (db === undefined) return;
  if (db.managesMasterPassword && (secret.strategy === RDS_MASTER || secret.username === db.masterUsername)) {
    throw new InvalidSecretError(
      secret.strategy === RDS_MASTER ? 'strategy' : 'username',
      `cannot be rotated by rotor: ${describe(db)} manages its master password "${db.masterUsername}" itself (ManageMasterUserPassword) and rotates its own secret; changing the password elsewhere would break that secret. Use RDS's secret, or turn ManageMasterUserPassword off to keep the master in this one`,
      label,
    );
  }
  if (secret.strategy === RDS_MASTER && secret.username !== db.masterUsername) {
    throw new InvalidSecretError(
      'username',
      `must be the master user "${db.masterUsername}" of ${describe(db)} for strategy "rds-master"`,
      label,
    );
  }
}

/**
 * Refuses to act through the RDS API for a secret the stage file does not bind to `db`
 * (UnboundDatabaseError). Called before any ModifyDB* call.
 */
export function requireBound(db: ManagedDatabase): void {
  if (db.boundToSecret) return;
  throw new UnboundDatabaseError(
    `strategy "rds-master" would reset the master password of ${describe(db)}, but the stage file does not bind this secret to it: the database a secret names is its writer's choice. An operator adds it to rdsMasters in the stage file (ROTOR_RDS_MASTERS) to allow it`,
  );
}

/** The port, or why rds-master cannot run without it (absent, RDS-managed, or not bound to the secret). */
export function requireManagedDatabase(request: Pick<RequestBase, 'managedDatabase'>): ManagedDatabase {
  const db = request.managedDatabase;
  if (db === undefined) {
    throw new UnsupportedError(
      'strategy "rds-master" needs the RDS database the secret belongs to, and none was found: name it with dbInstanceIdentifier or dbClusterIdentifier',
    );
  }
  if (db.managesMasterPassword) {
    throw new InvalidSecretError(
      'strategy',
      `cannot be "rds-master": ${describe(db)} manages its master password itself (ManageMasterUserPassword)`,
      'AWSCURRENT',
    );
  }
  requireBound(db);
  return db;
}

/** RDS's master password rules, or undefined when `password` follows them. */
export function rdsPasswordProblem(password: string, db: ManagedDatabase): string | undefined {
  // Documented limits: RDS for PostgreSQL 8 to 128, MySQL and MariaDB 8 to 41, DB clusters 8 to 41.
  const max = db.kind === 'instance' && db.engine.includes('postgres') ? 128 : 41;
  if (password.length < 8 || password.length > max) {
    return `must be ${8} to ${max} characters for an RDS master password (${db.engine})`;
  }
  if (!/^[\x21-\x7e]+$/.test(password) || /[/"@]/.test(password)) {
    return 'must be printable ASCII without spaces, "/", "\\"" or "@" (RDS master password rules)';
  }
  return undefined;
}

/** createPending: a generated password RDS would refuse is a configuration problem, not a secret one. */
export function checkGeneratedPassword(password: string, db: ManagedDatabase | undefined): void {
  if (db === undefined) return;
  const problem = rdsPasswordProblem(password, db);
  if (problem !== undefined) {
    throw new ConfigurationError(
      `the password policy makes passwords RDS refuses: a master password ${problem}; adjust ROTOR_PASSWORD_LENGTH / ROTOR_PASSWORD_EXCLUDE_CHARACTERS`,
    );
  }
}

/** apply: the pending password must be one RDS accepts (checked before anything changes). */
function checkPendingPassword(password: string, db: ManagedDatabase): void {
  const problem = rdsPasswordProblem(password, db);
  if (problem !== undefined) throw new InvalidSecretError('password', problem, 'AWSPENDING');
}

/**
 * apply: asks RDS to set `password` unless it already logs in once RDS has nothing pending (a
 * replay after RDS applied it). It never asks while a change is still pending (an earlier
 * attempt's, or a rollback's): it waits, within the deadline, until RDS has applied it, then
 * decides. So a retry of setSecret issues no second ModifyDB* on top of the first, and whatever
 * was in flight has landed before rotor decides whether to ask. Still pending when time runs out:
 * a retryable VerificationFailedError, nothing asked.
 *
 * `facts.currentLoggedIn`: AWSCURRENT logged in during this step. With nothing pending, the
 * pending password cannot be in place then, so it is not tried: a routine rotation makes no
 * refused login (each counts towards the server's lockout policies).
 */
export async function applyMasterPassword(
  db: ManagedDatabase,
  password: string,
  logsIn: () => Promise<boolean>,
  request: Pick<RequestBase, 'signal' | 'deadline'>,
  options: RdsWaitOptions = {},
  facts: { currentLoggedIn?: boolean } = {},
): Promise<void> {
  requireBound(db);
  checkPendingPassword(password, db);
  const waited = await waitWhilePending(db, request, options, 'asking RDS for the AWSPENDING password');
  if ((waited || facts.currentLoggedIn !== true) && (await logsIn())) return;
  await db.setMasterPassword(password);
}

/**
 * The rds-master apply of both SQL engines. The database a secret names is its writer's choice,
 * and its master user's name is public: RDS resets the password only for a writer who proves
 * holding it (`prove`: AWSCURRENT, else AWSPREVIOUS, logs in as the master now) or for an adopted
 * user. A replay after RDS applied this very change (nothing pending, the pending password logs
 * in) asks RDS nothing, so nothing needs proving.
 */
export async function applyRdsMaster(
  request: ApplyRequest<{ username: string; password: string }>,
  engine: { prove(): Promise<'AWSCURRENT' | 'AWSPREVIOUS' | undefined>; pendingLogsIn(): Promise<boolean> },
  options?: RdsWaitOptions,
): Promise<void> {
  const { current, pending } = request;
  const db = requireManagedDatabase(request);
  const provenBy = await engine.prove();
  let adopted: readonly string[] = [];
  if (provenBy === undefined) {
    if (!(await db.masterPasswordChangePending()) && (await engine.pendingLogsIn())) return;
    adopted = await request.adopted();
  }
  authorizeActingFor({
    user: current.username,
    own: [current.username],
    ...(provenBy === undefined ? {} : { provenBy }),
    adopted,
    actor: 'the RDS API',
  });
  await applyMasterPassword(db, pending.password, () => engine.pendingLogsIn(), request, options, {
    currentLoggedIn: provenBy === 'AWSCURRENT',
  });
}

export interface RdsWaitOptions {
  /**
   * Once RDS reports no change pending, refused logins are retried this long before the test
   * gives up (RDS's status and the server may disagree for a moment). Default 5 s.
   */
  settleMs?: number;
  /** First pause between polls; each pause is 1.5 times the previous, up to `maxPollMs`. */
  firstPollMs?: number;
  /** Default 5 s. */
  maxPollMs?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DeadlineExceededError('ran out of time waiting for RDS before the Lambda deadline'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DeadlineExceededError('ran out of time waiting for RDS before the Lambda deadline'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * When the waits stop: the Lambda deadline less a reserve kept for what follows (the rollback the
 * step machine runs when a test fails, its report): 20 % of the time left, between 1 and 5 s.
 */
function giveUpTime(request: Pick<RequestBase, 'deadline'>, started: number): number {
  const reserve = Math.min(5_000, Math.max(1_000, (request.deadline - started) * 0.2));
  return request.deadline - reserve;
}

/**
 * Waits, polling with backoff, until RDS reports no master password change pending; fails with a
 * retryable VerificationFailedError (nothing changed) if it still does when time runs out. No
 * login is tried meanwhile.
 */
async function waitWhilePending(
  db: ManagedDatabase,
  request: Pick<RequestBase, 'signal' | 'deadline'>,
  options: RdsWaitOptions,
  before: string,
): Promise<boolean> {
  const started = Date.now();
  const giveUpAt = giveUpTime(request, started);
  const maxPoll = options.maxPollMs ?? 5_000;
  let pause = options.firstPollMs ?? 250;
  let waited = false;
  while (await db.masterPasswordChangePending()) {
    waited = true;
    if (Date.now() + pause > giveUpAt) {
      throw new VerificationFailedError(
        `RDS still has a master password change pending on ${describe(db)} after ${Math.round((Date.now() - started) / 1000)} s; rotor waits for it before ${before} and never asks twice. The rotation is retried: the retry waits again`,
        { retryable: true },
      );
    }
    await sleep(pause, request.signal);
    pause = Math.min(pause * 1.5, maxPoll);
  }
  return waited;
}

/**
 * testSecret: waits until RDS has nothing pending and `logsIn` (the engine's login with the
 * pending password: true when it logs in, false when refused, throws otherwise) succeeds, polling
 * with backoff, because RDS applies a master password change asynchronously. Nothing pending is
 * part of the proof: a change still in flight could replace the password after promotion. While
 * RDS reports the change pending, no login is tried (each refused login counts towards lockout
 * policies). It keeps part of the remaining time back for the rollback the step machine runs when
 * the test fails. Fails with a VerificationFailedError that says why: RDS still has the change
 * pending (retryable: the rotation's retry asks and waits again), or RDS reports nothing pending
 * and the password is still refused.
 */
export async function waitForMasterPassword(
  db: ManagedDatabase,
  logsIn: () => Promise<boolean>,
  request: Pick<RequestBase, 'signal' | 'deadline'>,
  options: RdsWaitOptions = {},
): Promise<void> {
  requireBound(db);
  const started = Date.now();
  const giveUpAt = giveUpTime(request, started);
  const settleMs = options.settleMs ?? 5_000;
  const maxPoll = options.maxPollMs ?? 5_000;
  let pause = options.firstPollMs ?? 250;
  let quietSince: number | undefined;
  for (;;) {
    const pending = await db.masterPasswordChangePending();
    if (!pending && (await logsIn())) return;
    const now = Date.now();
    if (pending) quietSince = undefined;
    else quietSince ??= now;
    const seconds = Math.round((now - started) / 1000);
    if (!pending && now - (quietSince ?? now) >= settleMs) {
      throw new VerificationFailedError(
        `the AWSPENDING password of master user "${db.masterUsername}" is refused, and RDS reports no master password change pending on ${describe(db)}: RDS holds another password (changed by someone else, or the change was dropped). AWSCURRENT was not replaced`,
      );
    }
    if (now + pause > giveUpAt) {
      throw pending
        ? new VerificationFailedError(
            `RDS has not applied the master password change to ${describe(db)} after ${seconds} s (still pending): the old password keeps working until it does. The rotation is retried: setSecret waits for this change (asking RDS nothing again) and testSecret waits again`,
            { retryable: true },
          )
        : new VerificationFailedError(
            `the AWSPENDING password of master user "${db.masterUsername}" is still refused after ${seconds} s, and RDS reports no master password change pending on ${describe(db)}`,
            { retryable: true },
          );
    }
    await sleep(pause, request.signal);
    pause = Math.min(pause * 1.5, maxPoll);
  }
}

/**
 * rollback: asks RDS to put the AWSCURRENT password back unless it already logs in. Like apply, it
 * never asks while a change is pending: it waits, within the deadline, until RDS has applied it
 * (usually this rotation's own), then decides; still pending when time runs out, it asks nothing
 * and fails retryably (the rotation's retry then finds the pending password in place and
 * finishes, or the next rollback restores AWSCURRENT). Idempotent; changes nothing when nothing
 * was applied.
 *
 * `guard`: rollback puts AWSCURRENT back right after this rotation's own change (RDS had one in
 * flight, or the pending password logs in), never as a way to set a password the secret's writer
 * chose: when neither holds, `guard.unchanged` decides (an adopted user only). RDS's pending flag
 * and AWSCURRENT's login are each asked once.
 */
export async function rollbackMasterPassword(
  db: ManagedDatabase | undefined,
  currentPassword: string,
  currentLogsIn: () => Promise<boolean>,
  request: Pick<RequestBase, 'signal' | 'deadline'>,
  options: RdsWaitOptions = {},
  guard?: { pendingLogsIn(): Promise<boolean>; unchanged(): Promise<void> },
): Promise<void> {
  if (db === undefined || db.managesMasterPassword) return;
  // A configuration test (testSecret alone) of an unbound secret would otherwise reset the
  // master password to the writer's AWSCURRENT here.
  requireBound(db);
  const problem = rdsPasswordProblem(currentPassword, db);
  const waited = await waitWhilePending(db, request, options, 'asking RDS for the AWSCURRENT password back');
  if (await currentLogsIn()) return;
  if (guard !== undefined && !waited && !(await guard.pendingLogsIn())) await guard.unchanged();
  if (problem !== undefined) {
    throw new UnsupportedError(`the AWSCURRENT password cannot be restored through RDS: it ${problem}`);
  }
  await db.setMasterPassword(currentPassword);
}

/** The rds-master rollback of both SQL engines (see `rollbackMasterPassword`). */
export async function rollbackRdsMaster(
  request: RollbackRequest<{ username: string; password: string }>,
  engine: { currentLogsIn(): Promise<boolean>; pendingLogsIn(): Promise<boolean> },
  options?: RdsWaitOptions,
): Promise<void> {
  const { current } = request;
  await rollbackMasterPassword(
    request.managedDatabase,
    current.password,
    () => engine.currentLogsIn(),
    request,
    options,
    {
      pendingLogsIn: () => engine.pendingLogsIn(),
      unchanged: async () =>
        authorizeActingFor({
          user: current.username,
          own: [current.username],
          adopted: await request.adopted(),
          actor: 'the RDS API (rollback)',
        }),
    },
  );
}

/** Preflight lines of rds-master (nothing is changed). */
export function rdsMasterChecks(username: string, db: ManagedDatabase | undefined): PreflightCheck[] {
  if (db === undefined) {
    return [
      {
        name: 'rds database',
        ok: false,
        detail: 'the secret names no RDS DB instance or cluster that could be found',
        fix: 'Add dbInstanceIdentifier or dbClusterIdentifier to the secret, and let the function describe it (stage file)',
      },
    ];
  }
  const checks: PreflightCheck[] = [
    {
      name: 'rds database',
      ok: true,
      detail: `${describe(db)} (${db.engine}), master user "${db.masterUsername}"`,
    },
  ];
  checks.push(
    db.managesMasterPassword
      ? {
          name: 'master password management',
          ok: false,
          detail: `${describe(db)} manages its master password itself (ManageMasterUserPassword) and rotates its own secret`,
          fix: 'Use the secret RDS keeps (MasterUserSecret) instead of this one, or turn ManageMasterUserPassword off to keep the master in this secret',
        }
      : {
          name: 'master password management',
          ok: true,
          detail: 'RDS does not manage the master password: rotor sets it through ModifyDB*',
        },
  );
  checks.push(
    db.boundToSecret
      ? { name: 'rds binding', ok: true, detail: `the stage file binds this secret to ${describe(db)}` }
      : {
          name: 'rds binding',
          ok: false,
          detail: `the stage file does not bind this secret to ${describe(db)}: rds-master would refuse to reset its master password`,
          fix: 'Add the secret and the database to rdsMasters in the stage file (ROTOR_RDS_MASTERS), then deploy',
        },
  );
  checks.push(
    username === db.masterUsername
      ? { name: 'master user', ok: true, detail: `the secret holds the master user "${username}"` }
      : {
          name: 'master user',
          ok: false,
          detail: `the secret holds "${username}", not the master user "${db.masterUsername}"`,
          fix: 'Use single-user or alternating-users for users other than the master',
        },
  );
  return checks;
}
