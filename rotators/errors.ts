/**
 * rotor's one error family.
 *
 * Every failure rotor reports is a `RotorError` subclass with a stable `name` that events, metrics
 * and alarms carry. Messages say which secret, which step and which field, and never contain a
 * secret value: rotators build them from names and reasons only, and the step machine scrubs them
 * once more at the boundary. A foreign error (driver, SDK, network) is never kept as `cause`
 * verbatim, because drivers put SQL text and connection strings in their errors: `safeCause` keeps
 * its name and code only.
 */

import type { Step } from './protocol.js';

/** A step of the Secrets Manager rotation protocol (./protocol.ts holds the protocol's words). */
export type { Step };

/** Where an error happened, filled in by whoever knows it (the step machine knows the secret). */
export interface ErrorContext {
  /** ARN or name of the secret being rotated. */
  secretId?: string;
  /** The protocol step. */
  step?: Step;
  /** The version (ClientRequestToken) being rotated. */
  versionId?: string;
}

/** What is left of a foreign error once everything that might carry a secret is dropped. */
export interface SafeCause {
  name: string;
  code?: string;
}

export interface RotorErrorOptions {
  /** The underlying failure: another RotorError, or a foreign error reduced by `safeCause`. */
  cause?: RotorError | SafeCause;
  /** Whether trying the same step again may succeed (network blips, throttling, timeouts). */
  retryable?: boolean;
}

export abstract class RotorError extends Error {
  abstract override readonly name: string;
  /** The message without the context prefix. */
  readonly detail: string;
  readonly retryable: boolean;
  context: ErrorContext = {};

  constructor(detail: string, options: RotorErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.detail = detail;
    this.retryable = options.retryable ?? false;
  }

  /** Adds what the caller knows (secret, step, version) and rebuilds the message from it. */
  withContext(context: ErrorContext): this {
    this.context = { ...context, ...this.context };
    const { secretId, step } = this.context;
    const where =
      step === undefined
        ? secretId === undefined
          ? ''
          : `secret ${secretId}`
        : `${step}${secretId === undefined ? '' : ` of ${secretId}`}`;
    this.message = where === '' ? this.detail : `${where}: ${this.detail}`;
    return this;
  }

  /**
   * Rewrites every text this error carries (message, detail, stack, and rotor causes) through
   * `scrub`: the step machine's last line of defence against a value quoted by mistake.
   */
  scrubbed(scrub: (text: string) => string): this {
    this.message = scrub(this.message);
    (this as { detail: string }).detail = scrub(this.detail);
    if (this.stack !== undefined) this.stack = scrub(this.stack);
    if (this.cause instanceof RotorError) this.cause.scrubbed(scrub);
    return this;
  }

  /** A plain object for events, logs and CLI output. Contains no secret by construction. */
  toJSON(): { name: string; message: string; retryable: boolean } & ErrorContext & Record<string, unknown> {
    return { name: this.name, message: this.message, retryable: this.retryable, ...this.context };
  }
}

/** The Lambda event is not a rotation event rotor can act on (missing field, unknown step). */
export class InvalidEventError extends RotorError {
  override readonly name = 'InvalidEventError';
  constructor(
    readonly field: string,
    expected: string,
  ) {
    super(`invalid rotation event: field "${field}" ${expected}`);
  }
}

/** A secret's value does not have the shape its engine needs. Names the field, never the value. */
export class InvalidSecretError extends RotorError {
  override readonly name = 'InvalidSecretError';
  constructor(
    /** Dotted path of the offending field, `(json)` when the value is not JSON at all. */
    readonly field: string,
    /** What was expected, e.g. "a port number between 1 and 65535". */
    readonly expected: string,
    /** Which version the value came from (AWSCURRENT, AWSPENDING, ...), when known. */
    readonly label?: string,
  ) {
    super(`secret value${label === undefined ? '' : ` (${label})`}: field "${field}" ${expected}`);
  }

  override toJSON() {
    return {
      ...super.toJSON(),
      field: this.field,
      ...(this.label === undefined ? {} : { label: this.label }),
    };
  }
}

/** The secret's `engine` has no rotator in this function. */
export class UnknownEngineError extends RotorError {
  override readonly name = 'UnknownEngineError';
  constructor(engine: string, known: readonly string[]) {
    super(
      `no rotator for engine "${engine.slice(0, 64)}" in this function (it rotates: ${known.join(', ')})`,
    );
  }
}

/** Rotation is disabled on the secret. */
export class RotationNotEnabledError extends RotorError {
  override readonly name = 'RotationNotEnabledError';
  constructor() {
    super('secret is not enabled for rotation');
  }
}

/** The staging labels do not allow this step (token not staged, not AWSPENDING, pending elsewhere). */
export class StageConflictError extends RotorError {
  override readonly name = 'StageConflictError';
}

/** A version the step needs is missing (e.g. no AWSCURRENT value, pending value never created). */
export class VersionNotFoundError extends RotorError {
  override readonly name = 'VersionNotFoundError';
}

/** Secrets Manager or EventBridge refused or failed a call. */
export class AwsCallError extends RotorError {
  override readonly name = 'AwsCallError';
}

/** The target (database, provider) could not be reached: DNS, refused, TLS, timeout. */
export class TargetUnreachableError extends RotorError {
  override readonly name = 'TargetUnreachableError';
  constructor(
    readonly reason: 'dns' | 'refused' | 'tls' | 'timeout' | 'network',
    detail: string,
    options: RotorErrorOptions = {},
  ) {
    super(detail, { retryable: reason !== 'tls', ...options });
  }

  override toJSON() {
    return { ...super.toJSON(), reason: this.reason };
  }
}

/** The target reached, but refused the credentials. */
export class AuthenticationFailedError extends RotorError {
  override readonly name = 'AuthenticationFailedError';
}

/** The managing identity lacks a privilege the strategy needs. */
export class PermissionDeniedError extends RotorError {
  override readonly name = 'PermissionDeniedError';
}

/** testSecret: the pending credential logged in but is not what it should be, or a probe failed. */
export class VerificationFailedError extends RotorError {
  override readonly name = 'VerificationFailedError';
}

/** The target lacks a capability the strategy needs (e.g. dual passwords). */
export class UnsupportedError extends RotorError {
  override readonly name = 'UnsupportedError';
}

/** An API provider answered with an error. */
export class ProviderError extends RotorError {
  override readonly name = 'ProviderError';
  constructor(
    detail: string,
    readonly status?: number,
    options: RotorErrorOptions = {},
  ) {
    super(detail, options);
  }

  override toJSON() {
    return { ...super.toJSON(), ...(this.status === undefined ? {} : { status: this.status }) };
  }
}

/** rotor's own configuration (environment, provider description, deploy config) is wrong. */
export class ConfigurationError extends RotorError {
  override readonly name = 'ConfigurationError';
}

/** The step ran out of the Lambda's remaining time. */
export class DeadlineExceededError extends RotorError {
  override readonly name = 'DeadlineExceededError';
  constructor(detail = 'ran out of time before the Lambda deadline') {
    super(detail, { retryable: true });
  }
}

/** Anything else: an unexpected foreign error, wrapped once at the boundary. */
export class InternalError extends RotorError {
  override readonly name = 'InternalError';
}

/**
 * Reduces a foreign error to its name and code. Messages of driver and SDK errors are dropped on
 * purpose: they can quote SQL (with a password hash), connection strings or response bodies.
 */
export function safeCause(error: unknown): RotorError | SafeCause {
  if (error instanceof RotorError) return error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' || typeof code === 'number'
      ? { name: error.name, code: String(code) }
      : { name: error.name };
  }
  return { name: typeof error };
}

/** Returns `error` when it is a RotorError, or wraps it once in an InternalError. */
export function asRotorError(error: unknown): RotorError {
  if (error instanceof RotorError) return error;
  const cause = safeCause(error);
  const code = 'code' in cause && cause.code !== undefined ? ` (${cause.code})` : '';
  return new InternalError(`unexpected ${cause.name}${code}`, { cause });
}

/**
 * A trust boundary held: rotor refused to use a master or admin credential, or to act on an
 * account or key, because what decided it came from a place the rotated secret's writer controls
 * (or could not be proven). Every refusal is somebody trying something, or a setup that needs an
 * operator's explicit decision: events carry `category: "security"`, the `TrustBoundaryRefused`
 * metric counts them and its alarm pages. Never retryable: the same input is refused again.
 * SECURITY.md lists each subclass, the rule it holds and the test that proves it.
 */
export abstract class TrustBoundaryError extends RotorError {
  readonly category = 'security' as const;

  constructor(detail: string, options: Omit<RotorErrorOptions, 'retryable'> = {}) {
    super(detail, { ...options, retryable: false });
  }

  override toJSON() {
    return { ...super.toJSON(), category: this.category };
  }
}

/**
 * A master credential would go to an endpoint nothing trusted decided: the master secret has no
 * host and no binding names one, the rotated secret's host or port is not the bound endpoint, or
 * the binding is ambiguous. Raised before any connection is made with the master's credential.
 */
export class MasterBindingError extends TrustBoundaryError {
  override readonly name = 'MasterBindingError';
}

/**
 * The server asked for a credential in a replayable form (PostgreSQL `password` or MD5; MySQL
 * cleartext plugins or an RSA key the server itself sent) on a connection that is not verified
 * TLS. Nothing was sent.
 */
export class InsecureAuthenticationError extends TrustBoundaryError {
  override readonly name = 'InsecureAuthenticationError';
}

/**
 * A master (or the RDS API) would act for a user that the rotation has not proven to own: neither
 * AWSCURRENT nor AWSPREVIOUS logged in as that user during this rotation, and no operator adopted
 * the user for this secret (`rotor attach --adopt`).
 */
export class UnprovenUserError extends TrustBoundaryError {
  override readonly name = 'UnprovenUserError';
}

/** A master would act for a user outside the `manages` patterns of its binding. */
export class UnmanagedUserError extends TrustBoundaryError {
  override readonly name = 'UnmanagedUserError';
}

/**
 * An account rotor would change (a clone name) exists but is not rotor's: it carries no marker
 * that only rotor's master sets, or the marker names another owner. Nothing was changed.
 */
export class ForeignAccountError extends TrustBoundaryError {
  override readonly name = 'ForeignAccountError';
}

/**
 * An API key rotor would revoke (or a key id or name prefix the secret names) was not minted for
 * this secret: its provider-side name does not carry the secret's own prefix.
 */
export class ForeignKeyError extends TrustBoundaryError {
  override readonly name = 'ForeignKeyError';
}

/** rds-master: the stage file does not bind this secret to the RDS database it names. */
export class UnboundDatabaseError extends TrustBoundaryError {
  override readonly name = 'UnboundDatabaseError';
}
