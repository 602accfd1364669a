/**
 * Reading and parsing versions of a secret for one invocation: shared by the step machine and the
 * healer. Every value read is registered for redaction before anything can print it.
 */
import { InvalidSecretError, VersionNotFoundError } from '../rotators/errors.js';
import type { Registry } from '../rotators/registry.js';
import type { AnyRotator } from '../rotators/types.js';
import type { RedactionScope } from './redact.js';
import { PENDING, type SecretsStore } from './secrets.js';

/** A version's value, parsed by the rotator its engine names. */
export interface Loaded {
  engine: string;
  rotator: AnyRotator;
  /** The JSON object as stored. */
  raw: Record<string, unknown>;
  /** What the rotator's `parse` made of it. */
  value: unknown;
}

export class VersionReader {
  constructor(
    private readonly store: SecretsStore,
    private readonly registry: Registry,
    private readonly scope: RedactionScope,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Reads a version and parses it with the rotator its `engine` names. `stage` is passed to
   * GetSecretValue with the version id (AWSPENDING for the rotation's own version).
   */
  async load(arn: string, versionId: string, label: string, stage?: string): Promise<Loaded> {
    const text = await this.#read(arn, versionId, label, stage);
    const json = parseJson(text, label);
    const { engine, rotator } = this.registry.resolve(json, label);
    return { engine, rotator, raw: json, value: rotator.parse({ value: json, label }) };
  }

  /** Another version, required, parsed by `anchor`'s rotator (the engine must match). */
  async loadWith(anchor: Loaded, arn: string, versionId: string, label: string): Promise<Loaded> {
    return this.parseWith(anchor, await this.#read(arn, versionId, label), label);
  }

  async #read(arn: string, versionId: string, label: string, stage?: string): Promise<string> {
    const text = await this.store.getVersion(arn, versionId, stage, this.signal);
    if (text === undefined) {
      if (stage === PENDING) {
        throw new VersionNotFoundError('the AWSPENDING version has no value: createSecret has not completed');
      }
      throw new InvalidSecretError(
        '(value)',
        'is missing: the version must hold a SecretString with JSON',
        label,
      );
    }
    this.scope.addSecretString(text);
    return text;
  }

  /** The AWSPENDING value stored under `token`, or `undefined` while the version is empty. */
  async loadPending(arn: string, token: string, current: Loaded): Promise<Loaded | undefined> {
    const text = await this.store.getVersion(arn, token, PENDING, this.signal);
    if (text === undefined) return undefined;
    this.scope.addSecretString(text);
    return this.parseWith(current, text, PENDING);
  }

  /** Like `loadPending`, for steps that cannot run without it. */
  async requirePending(arn: string, token: string, current: Loaded): Promise<Loaded> {
    const pending = await this.loadPending(arn, token, current);
    if (pending === undefined) {
      throw new VersionNotFoundError('the AWSPENDING version has no value: createSecret has not completed');
    }
    return pending;
  }

  /**
   * Another version (AWSPREVIOUS, say) for fallbacks: `undefined` when absent, empty or unusable —
   * an old value in an old format is not this rotation's problem. `onUnusable` hears why.
   */
  async loadOptional(
    arn: string,
    versionId: string | undefined,
    current: Loaded,
    label: string,
    onUnusable: (error: unknown) => void,
  ): Promise<unknown> {
    if (versionId === undefined) return undefined;
    const text = await this.store.getVersion(arn, versionId, undefined, this.signal);
    if (text === undefined) return undefined;
    this.scope.addSecretString(text);
    try {
      return this.parseWith(current, text, label).value;
    } catch (error) {
      onUnusable(error);
      return undefined;
    }
  }

  /** Parses another version of the secret, which must name the same engine as AWSCURRENT. */
  parseWith(current: Loaded, text: string, label: string): Loaded {
    const json = parseJson(text, label);
    if (json.engine !== current.engine) {
      throw new InvalidSecretError('engine', `must be "${current.engine}" as in AWSCURRENT`, label);
    }
    return { ...current, raw: json, value: current.rotator.parse({ value: json, label }) };
  }

  /** `fetchRelated` for rotator requests: another secret's AWSCURRENT, registered for redaction. */
  readonly fetchRelated = async (secretId: string): Promise<string> => {
    const value = await this.store.getCurrent(secretId, this.signal);
    if (value === undefined) {
      throw new VersionNotFoundError(`related secret ${secretId} has no SecretString in AWSCURRENT`);
    }
    this.scope.addSecretString(value);
    return value;
  };
}

export function parseJson(text: string, label: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidSecretError('(json)', 'is not valid JSON', label);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidSecretError('(json)', 'must be a JSON object', label);
  }
  return json as Record<string, unknown>;
}
