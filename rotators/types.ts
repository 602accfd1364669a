/**
 * The rotator contract: what an engine plugin (PostgreSQL, MySQL, API keys, ...) implements.
 *
 * A rotator knows its target and nothing about AWS. The step machine (handlers/) reads and writes
 * Secrets Manager, checks the protocol, generates passwords and hands the rotator parsed values.
 * Every method gets one request object, so fields can be added without breaking rotators, and
 * every method states what it promises when it is called again for the same rotation: Secrets
 * Manager retries whole rotations with the same token, and a Lambda can die at any instruction.
 */
import type { Step } from './errors.js';
import type { MasterCredential } from './trust.js';

/** What every request carries. */
export interface RequestBase {
  /** Aborted shortly before the Lambda times out. Pass it to every network call. */
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which the method must have returned. */
  readonly deadline: number;
  /** The rotation's token: the version id of the pending value. Lets minting rotators tag what they make. */
  readonly token: string;
  /** The step being run (for messages; rotators must not branch on it). */
  readonly step: Step;
  /**
   * Reads another secret's AWSCURRENT value (a master user's or provider admin's credential) by ARN
   * or name. The step machine fetches it with its own permissions and redacts it like the rest.
   */
  readonly fetchRelated: (secretId: string) => Promise<string>;
  /**
   * `fetchRelated` with the identity Secrets Manager answered (its full ARN and name), for a check
   * that the id a secret's writer wrote resolved to the secret the configuration names. Optional:
   * callers that cannot tell leave it out, and rotators then judge the id as written.
   */
  readonly fetchRelatedSecret?: (
    secretId: string,
  ) => Promise<{ readonly value: string; readonly arn: string; readonly name?: string }>;
  /**
   * Reads a master secret (`masterarn`) like `fetchRelated`, together with its binding: where its
   * credential may be used and for which users, as decided by something the rotated secret's writer
   * cannot change (the stage file, or RDS for a master secret RDS manages). See ./trust.ts.
   */
  readonly fetchMaster: (secretId: string) => Promise<MasterCredential>;
  /** ARN of the secret being rotated (API keys derive their name prefix from it). */
  readonly secretArn: string;
  /**
   * Users an operator adopted for this secret (`rotor attach --adopt`, recorded where the secret's
   * writer cannot write): a master may act for them without the rotation proving possession first.
   * Read only when asked (most rotations prove possession and never need it).
   */
  readonly adopted: () => Promise<readonly string[]>;
  /**
   * The RDS instance or cluster the secret belongs to, when the step machine found one (see
   * `ManagedDatabase`). Absent for every other secret.
   */
  readonly managedDatabase?: ManagedDatabase;
}

/**
 * The RDS DB instance or DB cluster (Aurora, Multi-AZ) a secret belongs to: rotators' only window
 * on RDS, provided by the step machine (handlers/rds.ts), which found it from the secret's
 * `dbInstanceIdentifier` / `dbClusterIdentifier` or from the `aws:rds:primaryDBInstanceArn` /
 * `aws:rds:primaryDBClusterArn` tags RDS puts on its own secrets.
 *
 * Promises of the step machine when it provides one:
 * - the value handed to `parse` has the instance's host, port and engine where the stored value
 *   had none, and a stored `host` was checked to be one of the database's endpoints (instance
 *   endpoint; cluster writer, reader or custom endpoint; endpoint of a member instance);
 * - every version of the secret names the same database (AWSPENDING cannot point elsewhere);
 * - the description was read once for the invocation (it does not change during a step); only
 *   `masterPasswordChangePending` asks RDS again;
 * - no method puts a password in an error, log line or event.
 */
export interface ManagedDatabase {
  readonly kind: 'instance' | 'cluster';
  /**
   * DBInstanceIdentifier or DBClusterIdentifier of what holds the master password. For an
   * instance of a cluster that is the cluster (`kind: 'cluster'`): Aurora keeps the master there.
   */
  readonly identifier: string;
  /** RDS's engine: `postgres`, `aurora-postgresql`, `mysql`, `aurora-mysql`, `mariadb`. */
  readonly engine: string;
  /** The master user (MasterUsername). */
  readonly masterUsername: string;
  /**
   * Whether the deployment's stage file binds this secret to this database for `rds-master`
   * (`rdsMasters`). The database a secret names is the writer's choice: without the binding, rotor
   * never resets a master password through the RDS API (UnboundDatabaseError).
   */
  readonly boundToSecret: boolean;
  /**
   * RDS keeps the master password in a secret of its own (ManageMasterUserPassword: a
   * MasterUserSecret is reported) and rotates it itself. Nothing else may change that password:
   * RDS's secret would stop working, and RDS refuses MasterUserPassword anyway.
   */
  readonly managesMasterPassword: boolean;
  /**
   * Asks RDS to set the master password (ModifyDBInstance / ModifyDBCluster with
   * MasterUserPassword and ApplyImmediately). Resolves when RDS accepted the request, NOT when the
   * password works: RDS applies it asynchronously (usually within seconds; the old password keeps
   * working until then, and stops working at that moment). Idempotent: asking again for the same
   * password is harmless, and a later request supersedes an earlier one still pending.
   * Throws InvalidSecretError (`password`: RDS refused the value), PermissionDeniedError (this
   * function may not modify the database), AwsCallError (retryable when RDS is busy or
   * throttling), DeadlineExceededError.
   */
  setMasterPassword(password: string): Promise<void>;
  /**
   * Whether RDS still has a master password change to apply (PendingModifiedValues has
   * MasterUserPassword). Asks RDS on every call; never changes anything.
   */
  masterPasswordChangePending(): Promise<boolean>;
}

/** The password policy the step machine generates passwords with. */
export interface PasswordPolicy {
  /** Number of characters. Default 32. */
  length: number;
  /** Characters never used. Default: everything but letters, digits and `-_.`. */
  excludeCharacters: string;
}

export interface ParseRequest {
  /** The secret value, already JSON-parsed (any shape: validating it is the point). */
  readonly value: unknown;
  /** Which version it came from, for messages: AWSCURRENT, AWSPENDING, AWSPREVIOUS. */
  readonly label: string;
  /**
   * The RDS database the secret belongs to, when the step machine found one. `parse` may check
   * the value against its description (it must not call its methods: parse is synchronous).
   */
  readonly managedDatabase?: ManagedDatabase;
}

export interface CreatePendingRequest<S> extends RequestBase {
  /** The AWSCURRENT value. */
  readonly current: S;
  /**
   * The AWSCURRENT value as stored (JSON object). Build the pending value from it, so that keys
   * rotor does not know (an application's own) and the representation of known ones (a port kept
   * as a string) survive rotation.
   */
  readonly currentValue: Readonly<Record<string, unknown>>;
  /** A fresh password from the policy. Call it only if the new credential is a password. */
  readonly generatePassword: () => string;
  /**
   * `true` when the step machine read AWSPENDING and found no value under the token: whatever an
   * earlier call minted for `token` is an orphan (its value was lost) and may be retired. Absent
   * for a rotator called without that read (see `createPendingChangesNothing`).
   */
  readonly nothingStored?: boolean;
}

export interface CreatePendingResponse {
  /** The JSON object to store as AWSPENDING. It must pass `parse`. */
  readonly pending: Readonly<Record<string, unknown>>;
}

export interface ApplyRequest<S> extends RequestBase {
  readonly current: S;
  readonly pending: S;
  /** The AWSPREVIOUS value, read only when asked for (a fallback login, say). */
  readonly previous: () => Promise<S | undefined>;
}

/**
 * What `apply` may report beside success (optional: resolving nothing stays valid). The step
 * machine puts both into the setSecret step's event and log line.
 */
export interface ApplyResponse {
  /**
   * The stored credential apply had to log in with, when it was not AWSCURRENT's: AWSCURRENT's
   * password did not log in on the target (it was changed elsewhere), and AWSPREVIOUS's did.
   */
  readonly fallback?: 'AWSPREVIOUS';
  /** Observations worth reporting that did not stop apply (never a secret value). */
  readonly warnings?: readonly string[];
}

export interface TestRequest<S> extends RequestBase {
  readonly pending: S;
  /** The AWSCURRENT value, read only when asked for. */
  readonly current: () => Promise<S>;
}

export interface TestResponse {
  /** Observations worth reporting that do not fail the test (e.g. privilege drift). */
  readonly warnings?: readonly string[];
}

export interface RollbackRequest<S> extends RequestBase {
  readonly current: S;
  readonly pending: S;
}

export interface FinishRequest<S> extends RequestBase {
  /** The value just promoted to AWSCURRENT. */
  readonly current: S;
  /** The value that was AWSCURRENT until now (AWSPREVIOUS after promotion), read when asked for. */
  readonly previous: () => Promise<S | undefined>;
}

export interface DiscardRequest<S> extends RequestBase {
  /** The AWSCURRENT value (it stays AWSCURRENT and must keep working). */
  readonly current: S;
  /** The AWSPENDING value being abandoned. */
  readonly pending: S;
}

export interface PreflightRequest<S> extends Omit<RequestBase, 'token' | 'step'> {
  readonly current: S;
}

/** One line of a preflight report. */
export interface PreflightCheck {
  readonly name: string;
  readonly ok: boolean;
  /** What was found (never a secret). */
  readonly detail: string;
  /** How to fix it, when not ok. */
  readonly fix?: string;
}

/**
 * An engine plugin. `S` is the parsed secret value.
 *
 * Errors: throw the classes of `./errors.js`. Never put a credential in a message or a cause.
 */
export interface Rotator<S = unknown> {
  /** Values of the secret's `engine` field this rotator handles, e.g. `['postgres', 'aurora-postgresql']`. */
  readonly engines: readonly string[];

  /** Overrides of the default password policy (the environment can override both). */
  readonly passwordPolicy?: Partial<PasswordPolicy>;

  /**
   * Validates a secret value. Pure and synchronous. Throws `InvalidSecretError` naming the field
   * and what was expected; never echoes the value.
   */
  parse(request: ParseRequest): S;

  /** The strategy a parsed secret asks for (reported in events and metrics). */
  strategy(secret: S): string;

  /**
   * `true` when createPending changes nothing anywhere (it may read: a master login to choose a
   * user name): the step machine may then call it before knowing whether a value is already
   * stored under the token, and learn that from PutSecretValue itself (a different value stored
   * earlier is refused, and that value wins), saving a read. A rotator that implements `discard`
   * gets the same treatment though its createPending mints something: when the put is refused,
   * the step machine calls `discard` with the losing value, and createPending must then never
   * retire a credential minted for this token (it may be the stored pending value's). Neither:
   * the stored value is read first and createPending runs only while there is none.
   */
  readonly createPendingChangesNothing?: boolean;

  /**
   * Optional, per secret: `true` when createPending for `secret` changes the target irreversibly
   * (an API key rolled in place: its old value dies at once, and a second roll would kill the
   * stored one). The step machine then reads AWSPENDING first and calls createPending only while
   * no value is stored under the token (`nothingStored: true`), whatever `discard` and
   * `createPendingChangesNothing` say: a replayed createSecret never changes the target again
   * once a value is stored.
   */
  readsPendingFirst?(secret: S): boolean;

  /**
   * Builds the pending value from the current one.
   *
   * Called only while no pending value is stored, unless `createPendingChangesNothing` or
   * `discard` (its result is then dropped when one was, and discarded). It may be called again for
   * the same token if the step died before the value was stored, or after (its response lost): a
   * rotator that mints credentials elsewhere must not leak what an earlier call minted for `token`
   * (revoke it once the stored value is known, in apply or finish) nor, when it has `discard`,
   * retire it here, since it may be the stored pending value's.
   */
  createPending(request: CreatePendingRequest<S>): Promise<CreatePendingResponse>;

  /**
   * Makes the target accept the pending credential, keeping the current one working wherever
   * the strategy allows. Must succeed when the pending credential is already in place. May report
   * a fallback login or warnings (`ApplyResponse`).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: an apply that returns nothing stays valid.
  apply(request: ApplyRequest<S>): Promise<ApplyResponse | void>;

  /**
   * Proves the pending credential works (logs in, checks identity, runs the configured probe).
   * Never changes anything. Throws `VerificationFailedError` / `AuthenticationFailedError`.
   */
  test(request: TestRequest<S>): Promise<TestResponse | undefined>;

  /**
   * Optional, for strategies whose `apply` replaces the only working credential (single-user).
   * Called when `test` failed: puts the current credential back, so that AWSCURRENT logs in again
   * while the failure is investigated. Must be idempotent and must succeed when nothing was applied.
   * Resolves `'not-applicable'` when the secret's strategy has no rollback (events then report
   * none, rather than a rollback that did nothing).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a rollback that returns nothing stays valid.
  rollback?(request: RollbackRequest<S>): Promise<void | 'not-applicable'>;

  /**
   * Optional. Runs after the pending value became AWSCURRENT: retires what the strategy retires
   * (an API key two generations old, a dual password's older half). Must be idempotent: it is
   * called again if finishSecret is replayed after promotion.
   */
  finish?(request: FinishRequest<S>): Promise<void>;

  /**
   * Optional. Called when a pending value will never be promoted (the healer abandons it, or a
   * later rotation supersedes it): retires what createPending minted for it (an API key), so that
   * nothing it made stays live. Never touches the current credential. Must be idempotent and must
   * succeed when nothing was minted or it is already gone.
   */
  discard?(request: DiscardRequest<S>): Promise<void>;

  /** Optional. Checks, without changing anything, what a rotation will need. */
  preflight?(request: PreflightRequest<S>): Promise<readonly PreflightCheck[]>;
}

/** A rotator whose value type is erased, for registries. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds rotators of different value types.
export type AnyRotator = Rotator<any>;
