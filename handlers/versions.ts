/**
 * Reading and parsing versions of a secret for one invocation: shared by the step machine and the
 * healer. Every value read is registered for redaction before anything can print it.
 *
 * Every version is enriched before its rotator parses it (when an enricher is given): an RDS
 * secret gets the host, port and engine of its database and the `ManagedDatabase` port
 * (handlers/rds.ts). Enrichment only adds to what the rotator sees: `raw` stays the JSON as stored,
 * so the pending value built from it keeps the stored shape.
 */
import { InvalidSecretError, VersionNotFoundError } from '../rotators/errors.js';
import type { Registry } from '../rotators/registry.js';
import type { MasterCredential } from '../rotators/trust.js';
import type { AnyRotator, ManagedDatabase } from '../rotators/types.js';
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
  /** The RDS database the version belongs to, when enrichment found one. */
  managedDatabase?: ManagedDatabase;
}

/** What enrichment made of a stored value. */
export interface Enriched {
  /** The value the rotator parses: the stored one plus what was discovered. */
  value: Record<string, unknown>;
  managedDatabase?: ManagedDatabase;
}

export interface EnrichContext {
  secretArn: string;
  label: string;
  /** The secret's tags, when the caller already described the secret (saves a DescribeSecret). */
  tags?: ReadonlyMap<string, string>;
}

/** Adds what a stored value leaves to discovery, before it is parsed. One per invocation (it caches). */
export interface ValueEnricher {
  /**
   * Returns `json` itself when there is nothing to discover (no extra call is made then). Throws
   * InvalidSecretError naming the field when the value contradicts what was discovered.
   */
  enrich(json: Record<string, unknown>, context: EnrichContext): Promise<Enriched>;
  /** The AWS calls enrichment made so far, by API (the step's log line reports them). */
  readonly calls?: Readonly<Record<string, number>>;
}

/** Makes the enricher of one invocation (its caches live as long as the invocation). */
export interface Discovery {
  forInvocation(signal: AbortSignal): ValueEnricher;
}

export class VersionReader {
  /** The secret's tags once the caller has described it (tag-only RDS secrets need them). */
  tags: ReadonlyMap<string, string> | undefined;
  /** The rotation's token: related secrets read for it are reused by its other steps. */
  rotationToken: string | undefined;

  constructor(
    private readonly store: SecretsStore,
    private readonly registry: Registry,
    private readonly scope: RedactionScope,
    private readonly signal: AbortSignal,
    private readonly enricher?: ValueEnricher,
  ) {}

  /**
   * Reads a version and parses it with the rotator its `engine` names. `stage` is passed to
   * GetSecretValue with the version id (AWSPENDING for the rotation's own version).
   */
  async load(arn: string, versionId: string, label: string, stage?: string): Promise<Loaded> {
    const text = await this.#read(arn, versionId, label, stage);
    const json = parseJson(text, label);
    const { value, managedDatabase } = await this.#enrich(arn, json, label);
    const { engine, rotator } = this.registry.resolve(value, label);
    return {
      engine,
      rotator,
      raw: json,
      value: rotator.parse({ value, label, ...(managedDatabase ? { managedDatabase } : {}) }),
      ...(managedDatabase ? { managedDatabase } : {}),
    };
  }

  /** Another version, required, parsed by `anchor`'s rotator (the engine must match). */
  async loadWith(anchor: Loaded, arn: string, versionId: string, label: string): Promise<Loaded> {
    return this.parseWith(arn, anchor, await this.#read(arn, versionId, label), label);
  }

  async #enrich(arn: string, json: Record<string, unknown>, label: string): Promise<Enriched> {
    if (this.enricher === undefined) return { value: json };
    return this.enricher.enrich(json, { secretArn: arn, label, ...(this.tags ? { tags: this.tags } : {}) });
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
    return this.parseWith(arn, current, text, PENDING);
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
      return (await this.parseWith(arn, current, text, label)).value;
    } catch (error) {
      onUnusable(error);
      return undefined;
    }
  }

  /**
   * Parses another version of the secret, which must name the same engine (and the same RDS
   * database) as `current`.
   */
  async parseWith(arn: string, current: Loaded, text: string, label: string): Promise<Loaded> {
    const json = parseJson(text, label);
    const { value, managedDatabase } = await this.#enrich(arn, json, label);
    if (value.engine !== current.engine) {
      throw new InvalidSecretError('engine', `must be "${current.engine}" as in AWSCURRENT`, label);
    }
    const was = current.managedDatabase;
    if (was?.kind !== managedDatabase?.kind || was?.identifier !== managedDatabase?.identifier) {
      const kind = (managedDatabase ?? was)?.kind;
      throw new InvalidSecretError(
        kind === 'cluster' ? 'dbClusterIdentifier' : 'dbInstanceIdentifier',
        was === undefined
          ? 'must be absent: the other version of the secret belongs to no RDS database'
          : `must name the RDS ${was.kind === 'instance' ? 'DB instance' : 'DB cluster'} "${was.identifier}" as the other version of the secret does`,
        label,
      );
    }
    const { managedDatabase: _other, ...rest } = current;
    return {
      ...rest,
      raw: json,
      value: current.rotator.parse({ value, label, ...(managedDatabase ? { managedDatabase } : {}) }),
      ...(managedDatabase ? { managedDatabase } : {}),
    };
  }

  /** `fetchMaster` for rotator requests: a master secret and its binding (none yet). */
  readonly fetchMaster = async (secretId: string): Promise<MasterCredential> => ({
    value: await this.fetchRelated(secretId),
  });

  /** `fetchRelated` for rotator requests: another secret's AWSCURRENT, registered for redaction. */
  readonly fetchRelated = async (secretId: string): Promise<string> => {
    const value =
      this.rotationToken === undefined
        ? await this.store.getCurrent(secretId, this.signal)
        : await this.store.getRelated(secretId, this.rotationToken, this.signal);
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
