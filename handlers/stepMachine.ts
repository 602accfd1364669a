/**
 * The step machine: the Secrets Manager rotation protocol, one step per invocation, as a table of
 * step functions. Each reads what it needs (`prepare`: the engine and strategy are then known,
 * nothing has changed yet) and then acts, recording what happened in the invocation (rollback,
 * notes); it logs, counts and publishes nothing: handlers/observedMachine.ts wraps it for that.
 *
 * It owns every Secrets Manager call and every protocol check (../shared/PROTOCOL.md) and hands
 * rotators parsed values. Each step can be replayed after a crash at any instruction and finishes
 * the same rotation: createSecret never stores a second value for a token, setSecret and testSecret
 * rely on the rotators' idempotency promises, finishSecret re-runs the finish hook when replayed
 * after promotion.
 */
import {
  AuthenticationFailedError,
  asRotorError,
  DeadlineExceededError,
  InvalidEventError,
  RotationNotEnabledError,
  type RotorError,
  StageConflictError,
  TrustBoundaryError,
  VerificationFailedError,
  VersionNotFoundError,
} from '../rotators/errors.js';
import { optional } from '../rotators/optional.js';
import { CURRENT, isStep, PENDING, PREVIOUS, STEPS, type Step } from '../rotators/protocol.js';
import type { Registry } from '../rotators/registry.js';
import type { RequestBase, TestResponse } from '../rotators/types.js';
import { type Config, type TrustConfig, trustOf } from './config.js';
import { generatePassword, resolvePolicy } from './password.js';
import type { RedactionScope, Redactor } from './redact.js';
import { finishPromoted, type RequestContext, rotatorRequest } from './rotatorRequest.js';
import type { SecretDescription, SecretsStore } from './secrets.js';
import { type Discovery, type Loaded, type ValueEnricher, VersionReader } from './versions.js';

/** The event Secrets Manager invokes the rotation function with. */
export interface RotationEvent {
  Step: Step;
  SecretId: string;
  ClientRequestToken: string;
  /** Opaque and sensitive: forwarded to PutSecretValue, never logged. */
  RotationToken?: string;
}

export { STEPS };

/** Validates the raw Lambda event. */
export function parseEvent(raw: unknown): RotationEvent {
  if (typeof raw !== 'object' || raw === null) throw new InvalidEventError('(event)', 'must be an object');
  const event = raw as Record<string, unknown>;
  const step = event.Step;
  if (!isStep(step)) {
    throw new InvalidEventError('Step', `must be one of ${STEPS.join(', ')}`);
  }
  const secretId = event.SecretId;
  if (typeof secretId !== 'string' || secretId.length === 0 || secretId.length > 2048) {
    throw new InvalidEventError('SecretId', 'must be a secret ARN or name of 1 to 2048 characters');
  }
  const token = event.ClientRequestToken;
  // Secrets Manager version ids are 32 to 64 characters.
  if (typeof token !== 'string' || token.length < 32 || token.length > 64 || !/^[\w-]+$/.test(token)) {
    throw new InvalidEventError(
      'ClientRequestToken',
      'must be a version id of 32 to 64 letters, digits or dashes',
    );
  }
  const rotationToken = event.RotationToken;
  if (rotationToken !== undefined && typeof rotationToken !== 'string') {
    throw new InvalidEventError('RotationToken', 'must be a string when present');
  }
  return {
    Step: step,
    SecretId: secretId,
    ClientRequestToken: token,
    ...optional('RotationToken', rotationToken),
  };
}

export interface StepMachineDeps {
  store: SecretsStore;
  registry: Registry;
  /** The trust keys (master bindings, rds-master bindings, adoption record) default to none. */
  config: Pick<Config, 'passwordPolicy' | 'deadlineMarginMs'> & Partial<TrustConfig>;
  redactor: Redactor;
  /**
   * Enriches every version before it is parsed (RDS endpoint discovery, handlers/rds.ts). Absent:
   * values are parsed as stored.
   */
  discovery?: Discovery;
}

export interface StepOutcome {
  step: Step;
  secretArn: string;
  versionId: string;
  engine?: string;
  strategy?: string;
  /** `noop`: the token was already AWSCURRENT (a finished rotation replayed). */
  result: 'done' | 'noop';
  warnings?: readonly string[];
  /** setSecret: apply had to log in with AWSPREVIOUS (AWSCURRENT's password did not log in). */
  fallback?: 'AWSPREVIOUS';
}

/** Something the step noticed and went on from, for the log (the wrapper writes it). */
export interface StepNote {
  message: string;
  fields: Record<string, unknown>;
}

/**
 * What one invocation knows about itself and what happened in it: the wrapper
 * (handlers/observedMachine.ts) reads it for logs, metrics, events and error context.
 */
export interface Invocation {
  event: RotationEvent;
  secretArn: string;
  engine?: string;
  strategy?: string;
  /** `performance.now()` when the invocation began. */
  started: number;
  signal: AbortSignal;
  deadline: number;
  scope: RedactionScope;
  reader: VersionReader;
  enricher?: ValueEnricher;
  /** Set when a failed test triggered the rotator's rollback: whether it completed. */
  rolledBack?: boolean;
  /** The rollback's own failure, when it did not complete (the test's error is what is reported). */
  rollbackError?: RotorError;
  /**
   * setSecret and testSecret of a rotation: reads AWSCURRENT, so that a failed step can check
   * whether it still logs in (`verifyCurrent`).
   */
  current?: () => Promise<Loaded>;
  /** A configuration test's testSecret: the step's own test ran on AWSCURRENT. */
  testedCurrent?: boolean;
  /** What the step noticed and went on from, in order. */
  notes: StepNote[];
}

/**
 * A step ready to act: everything it reads first is read (the engine and strategy are known), and
 * nothing has changed yet. `act` is undefined when there is nothing to do (`outcome` says so).
 */
export type PreparedStep =
  | { readonly act: () => Promise<StepOutcome>; readonly outcome?: undefined }
  | { readonly act?: undefined; readonly outcome: StepOutcome };

/** What a step function's work reports, besides its error. */
interface StepReport {
  warnings?: readonly string[] | undefined;
  fallback?: StepOutcome['fallback'];
}

/** A step function's first part: what it read; its second: the work, reporting what happened. */
interface Ready {
  anchor: Loaded;
  act: () => Promise<StepReport | undefined>;
}

type StepFunction = (inv: Invocation, secret: SecretDescription, currentId: string) => Promise<Ready>;

export class StepMachine {
  /** The protocol, one function per step. */
  readonly #steps: Readonly<Record<Step, StepFunction>> = {
    createSecret: (inv, secret, currentId) => this.#createStep(inv, secret, currentId),
    setSecret: (inv, secret, currentId) => this.#setStep(inv, secret, currentId),
    testSecret: (inv, secret, currentId) => this.#testStep(inv, secret, currentId),
    finishSecret: (inv, secret, currentId) => this.#finishStep(inv, secret, currentId),
  };

  constructor(private readonly deps: StepMachineDeps) {}

  /**
   * Checks the raw event and sets up the invocation (`remainingMs`: the Lambda's remaining time).
   * Throws InvalidEventError; the caller closes `scope` when the invocation is over.
   */
  open(raw: unknown, remainingMs: number, started: number, scope: RedactionScope): Invocation {
    const budget = Math.max(remainingMs - this.deps.config.deadlineMarginMs, 1);
    const event = parseEvent(raw);
    scope.add(event.RotationToken);
    const signal = AbortSignal.timeout(budget);
    // One enricher per invocation: discovery is cached for this step only (a database can change
    // between steps), and every version the step reads goes through it.
    const enricher = this.deps.discovery?.forInvocation(signal);
    return {
      event,
      secretArn: event.SecretId,
      started,
      signal,
      deadline: Date.now() + budget,
      scope,
      reader: this.#reader(signal, scope, enricher, event.ClientRequestToken),
      notes: [],
      ...optional('enricher', enricher),
    };
  }

  /** The protocol's checks, in the reference order, then the step's reads. Changes nothing. */
  async prepare(inv: Invocation): Promise<PreparedStep> {
    const { event } = inv;
    const token = event.ClientRequestToken;
    const secret = await this.deps.store.describe(event.SecretId, inv.signal);
    inv.secretArn = secret.arn;
    // Now that the secret's tags are known (tag-only RDS secrets need them), before anything is read.
    inv.reader = this.#reader(inv.signal, inv.scope, inv.enricher, token, secret.tags);

    if (!secret.rotationEnabled) throw new RotationNotEnabledError();
    const stages = secret.versions.get(token);
    if (stages === undefined) throw new StageConflictError('version has no stage for rotation');
    const base = { step: event.Step, secretArn: secret.arn, versionId: token } as const;
    if (stages.includes(CURRENT)) {
      // A finished rotation replayed. Only finishSecret has work left: the finish hook, in case the
      // previous run died between promotion and retirement. The hook is idempotent by contract.
      if (event.Step !== 'finishSecret') return { outcome: { ...base, result: 'noop' } };
      const current = await this.#load(inv, secret.arn, token, CURRENT);
      return {
        act: async () => {
          await this.#finishHook(inv, secret, current);
          return { ...base, engine: current.engine, strategy: inv.strategy ?? '', result: 'noop' };
        },
      };
    }
    if (!stages.includes(PENDING)) throw new StageConflictError('version not set as AWSPENDING');

    const currentId = secret.versionOf(CURRENT);
    if (currentId === undefined) throw new VersionNotFoundError('the secret has no AWSCURRENT version');

    // Each step reads only the versions it needs, so that a cold container makes as few calls as
    // possible: createSecret and setSecret start from AWSCURRENT, testSecret and finishSecret from
    // the pending value (setSecret already checked that both name the same engine).
    const ready = await this.#steps[event.Step](inv, secret, currentId);
    return {
      act: async () => {
        const report = await ready.act();
        const warnings = report?.warnings;
        return {
          ...base,
          engine: ready.anchor.engine,
          strategy: inv.strategy ?? '',
          result: 'done',
          ...(warnings && warnings.length > 0 ? { warnings } : {}),
          ...optional('fallback', report?.fallback),
        };
      },
    };
  }

  async #createStep(inv: Invocation, secret: SecretDescription, currentId: string): Promise<Ready> {
    const anchor = await this.#load(inv, secret.arn, currentId, CURRENT);
    return {
      anchor,
      act: async () => {
        await this.#createSecret(inv, secret, anchor);
        return undefined;
      },
    };
  }

  async #setStep(inv: Invocation, secret: SecretDescription, currentId: string): Promise<Ready> {
    const token = inv.event.ClientRequestToken;
    const current = await this.#load(inv, secret.arn, currentId, CURRENT);
    inv.current = async () => current;
    const pending = await inv.reader.requirePending(secret.arn, token, current);
    return {
      anchor: current,
      act: async () => {
        const response = await current.rotator.apply({
          ...this.#request(inv, current),
          current: current.value,
          pending: pending.value,
          previous: () => this.#loadPrevious(inv, secret, current),
        });
        // A rotator's report is read defensively: only the documented values reach events.
        return {
          warnings: response?.warnings,
          ...(response?.fallback === 'AWSPREVIOUS' ? { fallback: 'AWSPREVIOUS' as const } : {}),
        };
      },
    };
  }

  async #testStep(inv: Invocation, secret: SecretDescription, currentId: string): Promise<Ready> {
    const token = inv.event.ClientRequestToken;
    const pending = await this.#load(inv, secret.arn, token, PENDING, PENDING).catch((error: unknown) => {
      if (error instanceof VersionNotFoundError) return undefined;
      throw error;
    });
    if (pending === undefined) {
      // Only a configuration test (RotateImmediately: false) runs testSecret on an AWSPENDING
      // version createSecret never filled (a rotation's attempt starts with createSecret). What
      // that temporary version holds is not documented: when it holds nothing, the
      // configuration to test is AWSCURRENT's, which this step tests without changing anything.
      const current = await this.#load(inv, secret.arn, currentId, CURRENT);
      inv.testedCurrent = true;
      return {
        anchor: current,
        act: async () => {
          inv.notes.push({
            message: 'AWSPENDING has no value (a configuration test): testing AWSCURRENT',
            fields: { secretArn: secret.arn, versionId: token },
          });
          const response = await current.rotator.test({
            ...this.#request(inv, current),
            pending: current.value,
            current: async () => current.value,
          });
          return { warnings: response?.warnings };
        },
      };
    }
    const current = once(() => inv.reader.loadWith(pending, secret.arn, currentId, CURRENT));
    return {
      anchor: pending,
      act: async () => {
        inv.current = current;
        let response: TestResponse | undefined;
        try {
          response = await pending.rotator.test({
            ...this.#request(inv, pending),
            pending: pending.value,
            current: async () => (await current()).value,
          });
        } catch (error) {
          await this.#rollback(inv, current, pending);
          throw error;
        }
        return { warnings: response?.warnings };
      },
    };
  }

  async #finishStep(inv: Invocation, secret: SecretDescription, currentId: string): Promise<Ready> {
    const token = inv.event.ClientRequestToken;
    const pending = await this.#load(inv, secret.arn, token, PENDING, PENDING);
    return {
      anchor: pending,
      act: async () => {
        await this.#promote(inv, secret.arn, token, currentId);
        await this.#finishHook(
          inv,
          secret,
          pending,
          async () => (await inv.reader.loadWith(pending, secret.arn, currentId, PREVIOUS)).value,
        );
        return undefined;
      },
    };
  }

  /**
   * finishSecret: moves AWSCURRENT to the token. Naming the version AWSCURRENT leaves is required,
   * and makes the service label it AWSPREVIOUS. When the call fails because the label is no longer
   * there, another run of this step (invoked at the same time, or the same call resent after its
   * answer was lost) promoted the token first: the step's goal is reached, so it goes on.
   */
  async #promote(inv: Invocation, arn: string, token: string, currentId: string): Promise<void> {
    const { store } = this.deps;
    try {
      await store.promote(arn, token, currentId, inv.signal);
    } catch (error) {
      const now = await store.describe(arn, inv.signal).catch(() => undefined);
      if (now?.versions.get(token)?.includes(CURRENT) !== true) throw error;
      inv.notes.push({
        message: 'the pending version was already promoted (a concurrent or resent call); going on',
        fields: { secretArn: arn, versionId: token },
      });
    }
  }

  /**
   * createSecret: store a pending value unless one is already stored under the token.
   *
   * A value this container stored is known without a call. Otherwise a rotator whose createPending
   * changes nothing, or that can discard what it made, gets no read first: the value is built and
   * put, and PutSecretValue itself says whether another was stored under the token before
   * (ResourceExistsException: a crashed earlier run or a concurrent one); that value wins and is
   * read, and what our createPending made for the losing value is discarded (an API key minted for
   * nothing is revoked, not left live). Other rotators, and secrets whose rotator asks for it
   * (`readsPendingFirst`: a key rolled in place), read first and build a value only while none is
   * stored.
   */
  async #createSecret(inv: Invocation, secret: SecretDescription, current: Loaded): Promise<void> {
    const { store } = this.deps;
    const token = inv.event.ClientRequestToken;
    const { rotator } = current;
    // A rotator may ask for the read per secret: a roll in place must never run twice.
    const mustRead = rotator.readsPendingFirst?.(current.value) === true;
    const discards =
      !mustRead && rotator.createPendingChangesNothing !== true && rotator.discard !== undefined;
    const readFirst =
      mustRead ||
      store.cache.get(secret.arn, token) !== undefined ||
      (rotator.createPendingChangesNothing !== true && !discards);
    // A replay: the value stored by the earlier run stands. Validate it, never regenerate it.
    const stored = async (): Promise<boolean> =>
      (await inv.reader.loadPending(secret.arn, token, current)) !== undefined;
    if (readFirst && (await stored())) return;
    const policy = resolvePolicy(rotator.passwordPolicy, this.deps.config.passwordPolicy);
    const create = (nothingStored: boolean) =>
      rotator.createPending({
        ...this.#request(inv, current),
        current: current.value,
        currentValue: current.raw,
        ...(nothingStored ? { nothingStored } : {}),
        generatePassword: () => {
          const password = generatePassword(policy);
          inv.scope.add(password);
          return password;
        },
      });
    let pending: Awaited<ReturnType<typeof create>>['pending'];
    try {
      pending = (await create(readFirst)).pending;
    } catch (error) {
      // Without a read, createPending could not tell a stored pending value's key from an orphan
      // (at a provider's live-key limit, say): a retryable failure is tried once more, told.
      const retryable = asRotorError(error).retryable && !(error instanceof DeadlineExceededError);
      if (readFirst || !discards || !retryable) throw error;
      if (await stored()) return;
      pending = (await create(true)).pending;
    }
    const serialised = JSON.stringify(pending);
    // The rotator's own output must pass its own validation before it is stored (parse registers
    // it for redaction first).
    const ours = await inv.reader.parse(secret.arn, serialised, PENDING, current);
    if (await store.putPending(secret.arn, token, serialised, inv.event.RotationToken, inv.signal)) return;
    // Another value was stored under this token first (an earlier run, or a concurrent invocation):
    // that value wins. Ours is dropped (what was made for it discarded), and the stored one validated.
    inv.notes.push({
      message: 'a pending value was already stored under this token; keeping it',
      fields: { secretArn: secret.arn, versionId: token },
    });
    if (discards) {
      await rotator.discard?.({
        ...this.#request(inv, current),
        current: current.value,
        pending: ours.value,
      });
    }
    await inv.reader.requirePending(secret.arn, token, current);
  }

  /**
   * The test failed: where apply replaced the only working credential (single-user), put it back so
   * that AWSCURRENT logs in while the failure is investigated. The test's error is what is reported;
   * the rollback's own failure is recorded in `inv.rollbackError`.
   */
  async #rollback(inv: Invocation, current: () => Promise<Loaded>, pending: Loaded): Promise<void> {
    const { rotator } = pending;
    if (rotator.rollback === undefined) return;
    try {
      const result = await rotator.rollback({
        ...this.#request(inv, pending),
        current: (await current()).value,
        pending: pending.value,
      });
      // A strategy without rollback says so: the event then reports none.
      if (result !== 'not-applicable') inv.rolledBack = true;
    } catch (error) {
      inv.rolledBack = false;
      inv.rollbackError = asRotorError(error);
    }
  }

  #finishHook(
    inv: Invocation,
    secret: SecretDescription,
    promoted: Loaded,
    previous: () => Promise<unknown> = () => this.#loadPrevious(inv, secret, promoted),
  ): Promise<void> {
    return finishPromoted(this.deps.store, this.#context(inv), promoted, previous);
  }

  /** The request fields every rotator method gets; `loaded` carries the RDS port when there is one. */
  #request(inv: Invocation, loaded?: Loaded): RequestBase {
    return rotatorRequest(this.#context(inv), loaded);
  }

  #context(inv: Invocation): RequestContext {
    return {
      signal: inv.signal,
      deadline: inv.deadline,
      token: inv.event.ClientRequestToken,
      step: inv.event.Step,
      secretArn: inv.secretArn,
      reader: inv.reader,
    };
  }

  /** The version reader of one invocation of the rotation `token`. */
  #reader(
    signal: AbortSignal,
    scope: RedactionScope,
    enricher: ValueEnricher | undefined,
    token: string,
    tags?: ReadonlyMap<string, string>,
  ): VersionReader {
    const { store, registry, config } = this.deps;
    return new VersionReader({
      store,
      registry,
      scope,
      signal,
      enricher,
      trust: trustOf(config),
      rotationToken: token,
      tags,
    });
  }

  /** Loads a version with the invocation's reader and records its engine and strategy. */
  async #load(
    inv: Invocation,
    arn: string,
    versionId: string,
    label: string,
    stage?: string,
  ): Promise<Loaded> {
    const loaded = await inv.reader.load(arn, versionId, label, stage);
    inv.engine = loaded.engine;
    inv.strategy = loaded.rotator.strategy(loaded.value);
    return loaded;
  }

  #loadPrevious(inv: Invocation, secret: SecretDescription, current: Loaded): Promise<unknown> {
    return inv.reader.loadOptional(secret.arn, secret.versionOf(PREVIOUS), current, PREVIOUS, (error) =>
      inv.notes.push({
        message: 'AWSPREVIOUS is not usable; ignoring it',
        fields: { secretArn: secret.arn, error: asRotorError(error).toJSON() },
      }),
    );
  }

  /** The error as the step reports it: a RotorError with the invocation's context, scrubbed. */
  contextualise(error: unknown, inv: Invocation | undefined, raw: unknown): RotorError {
    const rotorError = asRotorError(error);
    const step = inv?.event.Step;
    // A SecretId the event check refused is named only when it could be one (a megabyte of input
    // would otherwise become the message, the log line and the Lambda's error).
    const rawId = (raw as { SecretId?: unknown } | null)?.SecretId;
    rotorError.withContext({
      secretId:
        inv?.secretArn ??
        (typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 2048 ? rawId : 'unknown secret'),
      ...optional('step', step),
      ...(inv === undefined ? {} : { versionId: inv.event.ClientRequestToken }),
    });
    // Messages are built from names, not values; scrub anyway before anything can print them.
    return rotorError.scrubbed((text) => this.deps.redactor.scrub(text));
  }

  /**
   * After a failed setSecret or testSecret (after the rollback, when one ran): whether AWSCURRENT
   * still passes the rotator's own test, which changes nothing (run as a configuration test runs
   * it: AWSCURRENT's value as the pending one), within what is left of the deadline.
   * `true`: it passes; `false`: it fails as a credential or its test fails (authentication,
   * verification, a trust-boundary refusal); `undefined`: it could not be checked (another step,
   * an invalid event, rotation turned off, a stage conflict, no AWSCURRENT value, no time left,
   * the target unreachable: a note says why). Never throws, never changes the step's error, which
   * is what is reported. The check logs in once more with AWSCURRENT (one more refused login on a
   * target that counts them) and may take what is left of the step's budget (a hanging target).
   */
  async verifyCurrent(inv: Invocation, failure: RotorError): Promise<boolean | undefined> {
    // A configuration test's failure is AWSCURRENT's own: testing it again would tell nothing new.
    if (inv.testedCurrent === true) return failsAsCredential(failure) ? false : undefined;
    const load = inv.current;
    if (load === undefined || NOT_VERIFIABLE.some((type) => failure instanceof type)) return undefined;
    if (inv.signal.aborted || inv.deadline - Date.now() < MIN_VERIFY_MS) return undefined;
    try {
      const current = await load();
      await current.rotator.test({
        ...this.#request(inv, current),
        pending: current.value,
        current: async () => current.value,
      });
      return true;
    } catch (error) {
      if (inv.signal.aborted) return undefined;
      if (failsAsCredential(error)) return false;
      inv.notes.push({
        message: 'could not check whether AWSCURRENT still logs in',
        fields: { error: asRotorError(error).name },
      });
      return undefined;
    }
  }
}

/** Errors after which checking AWSCURRENT means nothing: the event or the secret's state is wrong. */
const NOT_VERIFIABLE = [InvalidEventError, RotationNotEnabledError, StageConflictError];

/** Errors that say a credential does not pass its test (rather than that it could not be tested). */
function failsAsCredential(error: unknown): boolean {
  return (
    error instanceof AuthenticationFailedError ||
    error instanceof VerificationFailedError ||
    error instanceof TrustBoundaryError
  );
}

/** Below this much time left, the check of AWSCURRENT after a failure is not started. */
const MIN_VERIFY_MS = 500;

/** Runs `work` at most once, on first call, and shares its promise. */
function once<T>(work: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= work();
    return result;
  };
}
