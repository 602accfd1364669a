/**
 * Reading and parsing versions of a secret for one invocation: shared by the step machine and the
 * healer. Every value read is registered for redaction before anything can print it.
 *
 * Every version is enriched before its rotator parses it (when an enricher is given): an RDS
 * secret gets the host, port and engine of its database and the `ManagedDatabase` port
 * (handlers/rds.ts). Enrichment only adds to what the rotator sees: `raw` stays the JSON as stored,
 * so the pending value built from it keeps the stored shape.
 */
import {
  AwsCallError,
  InvalidSecretError,
  MasterBindingError,
  VersionNotFoundError,
} from '../rotators/errors.js';
import type { Registry } from '../rotators/registry.js';
import type { MasterBinding, MasterCredential } from '../rotators/trust.js';
import type { AnyRotator, ManagedDatabase } from '../rotators/types.js';
import { type TrustConfig, trustOf } from './config.js';
import {
  adoptedFor,
  boundToSecret,
  parseAdoptions,
  type RdsEndpointSource,
  resolveMasterBinding,
} from './masters.js';
import type { RedactionScope } from './redact.js';
import { PENDING, type RelatedSecret, type SecretsStore } from './secrets.js';

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

/**
 * Adds what a stored value leaves to discovery, before it is parsed. One per invocation (it caches).
 * RDS discovery also finds the endpoints a master binding names (`RdsEndpointSource`); only the
 * database functions have it.
 */
export interface ValueEnricher extends Partial<RdsEndpointSource> {
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

/** Everything a reader needs, given at construction. */
export interface VersionReaderOptions {
  readonly store: SecretsStore;
  readonly registry: Registry;
  /** Every value read is registered here for redaction. */
  readonly scope: RedactionScope;
  readonly signal: AbortSignal;
  /** Adds what a stored value leaves to discovery (RDS), before it is parsed. */
  readonly enricher?: ValueEnricher | undefined;
  /** Read at each use: the functions' configuration (tests and the demo add bindings live). Default: the environment's. */
  readonly trust?: TrustConfig | undefined;
  /** The secret's tags, when the caller already described the secret (tag-only RDS secrets need them). */
  readonly tags?: ReadonlyMap<string, string> | undefined;
  /** The rotation's token: related secrets read for it are reused by its other steps. */
  readonly rotationToken?: string | undefined;
  /**
   * ARN of the secret being read for (else the first one loaded): a binding's secret name
   * resolves in its account and region, as Secrets Manager resolves names.
   */
  readonly secretArn?: string | undefined;
}

export class VersionReader {
  readonly #store: SecretsStore;
  readonly #registry: Registry;
  readonly #scope: RedactionScope;
  readonly #signal: AbortSignal;
  readonly #enricher: ValueEnricher | undefined;
  readonly #trust: TrustConfig;
  readonly #tags: ReadonlyMap<string, string> | undefined;
  readonly #rotationToken: string | undefined;
  #secretArn: string | undefined;

  constructor(options: VersionReaderOptions) {
    this.#store = options.store;
    this.#registry = options.registry;
    this.#scope = options.scope;
    this.#signal = options.signal;
    this.#enricher = options.enricher;
    this.#trust = options.trust ?? trustOf();
    this.#tags = options.tags;
    this.#rotationToken = options.rotationToken;
    this.#secretArn = options.secretArn;
  }

  readonly #bindings = new Map<string, Promise<MasterBinding | undefined>>();
  #adoptions: Promise<readonly string[]> | undefined;

  /**
   * Reads a version and parses it with the rotator its `engine` names. `stage` is passed to
   * GetSecretValue with the version id (AWSPENDING for the rotation's own version).
   */
  async load(arn: string, versionId: string, label: string, stage?: string): Promise<Loaded> {
    return this.parse(arn, await this.#read(arn, versionId, label, stage), label);
  }

  /** Another version, required, parsed by `anchor`'s rotator (the engine must match). */
  async loadWith(anchor: Loaded, arn: string, versionId: string, label: string): Promise<Loaded> {
    return this.parse(arn, await this.#read(arn, versionId, label), label, anchor);
  }

  async #enrich(arn: string, json: Record<string, unknown>, label: string): Promise<Enriched> {
    this.#secretArn ??= arn;
    if (this.#enricher === undefined) return { value: json };
    const enriched = await this.#enricher.enrich(json, {
      secretArn: arn,
      label,
      ...(this.#tags ? { tags: this.#tags } : {}),
    });
    const db = enriched.managedDatabase;
    if (db === undefined) return enriched;
    // Whether rds-master may reset this database's master password for this secret is the stage
    // file's decision (ROTOR_RDS_MASTERS), never the secret's: it names the database itself.
    return {
      ...enriched,
      managedDatabase: { ...db, boundToSecret: boundToSecret(this.#trust.rdsMasters, { arn }, db) },
    };
  }

  async #read(arn: string, versionId: string, label: string, stage?: string): Promise<string> {
    const text = await this.#store.getVersion(arn, versionId, stage, this.#signal);
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
    return text;
  }

  /** The AWSPENDING value stored under `token`, or `undefined` while the version is empty. */
  async loadPending(arn: string, token: string, current: Loaded): Promise<Loaded | undefined> {
    const text = await this.#store.getVersion(arn, token, PENDING, this.#signal);
    if (text === undefined) return undefined;
    return this.parse(arn, text, PENDING, current);
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
    const text = await this.#store.getVersion(arn, versionId, undefined, this.#signal);
    if (text === undefined) return undefined;
    // parse registers it for redaction first, so even a value that does not parse is redacted.
    try {
      return (await this.parse(arn, text, label, current)).value;
    } catch (error) {
      onUnusable(error);
      return undefined;
    }
  }

  /**
   * The one way a version is read as rotation reads it: registered for redaction, parsed as JSON,
   * enriched (RDS discovery), then parsed by a rotator. Without `anchor`, the rotator its `engine`
   * names; with one (another version of the same secret), the anchor's, and the value must name
   * the same engine and the same RDS database as the anchor.
   */
  async parse(arn: string, text: string, label: string, anchor?: Loaded): Promise<Loaded> {
    this.#scope.addSecretString(text);
    const json = parseJson(text, label);
    const { value, managedDatabase } = await this.#enrich(arn, json, label);
    const { engine, rotator } =
      anchor === undefined
        ? this.#registry.resolve(value, label)
        : sameAs(anchor, value, managedDatabase, label);
    return {
      engine,
      rotator,
      raw: json,
      value: rotator.parse({ value, label, ...(managedDatabase ? { managedDatabase } : {}) }),
      ...(managedDatabase ? { managedDatabase } : {}),
    };
  }

  /**
   * `fetchMaster` for rotator requests: the master secret's AWSCURRENT (read once per rotation) and
   * its binding (handlers/masters.ts): the stage file's entry for it, else RDS's for a secret RDS
   * manages (database functions only), else none.
   */
  readonly fetchMaster = async (secretId: string): Promise<MasterCredential> => {
    const master = await this.#related(secretId);
    let binding = this.#bindings.get(master.arn);
    if (binding === undefined) {
      binding = this.#bind(master);
      binding.catch(() => this.#bindings.delete(master.arn));
      this.#bindings.set(master.arn, binding);
    }
    const resolved = await binding;
    return { value: master.value, ...(resolved === undefined ? {} : { binding: resolved }) };
  };

  async #bind(master: RelatedSecret): Promise<MasterBinding | undefined> {
    const enricher = this.#enricher;
    const rds =
      enricher?.endpointsOf !== undefined && enricher.targetOfTags !== undefined
        ? (enricher as RdsEndpointSource)
        : undefined;
    try {
      return await resolveMasterBinding({
        master,
        ...(this.#secretArn === undefined ? {} : { home: this.#secretArn }),
        trust: this.#trust,
        ...(rds === undefined ? {} : { rds }),
        tags: async () => (await this.#store.describe(master.arn, this.#signal)).tags,
      });
    } catch (error) {
      // A database the binding names that RDS does not know: nothing trusted says where to go.
      if (error instanceof InvalidSecretError) {
        throw new MasterBindingError(`the binding of master secret ${master.arn}: ${error.detail}`);
      }
      throw error;
    }
  }

  /** `fetchRelated` for rotator requests: another secret's AWSCURRENT, registered for redaction. */
  readonly fetchRelated = async (secretId: string): Promise<string> => (await this.#related(secretId)).value;

  /** `fetchRelatedSecret` for rotator requests: `fetchRelated` with the ARN and name Secrets Manager answered. */
  readonly fetchRelatedSecret = async (secretId: string): Promise<RelatedSecret> => this.#related(secretId);

  async #related(secretId: string): Promise<RelatedSecret> {
    const related = await this.#store.getRelatedSecret(secretId, this.#rotationToken, this.#signal);
    if (related === undefined) {
      throw new VersionNotFoundError(`related secret ${secretId} has no SecretString in AWSCURRENT`);
    }
    this.#scope.addSecretString(related.value);
    return related;
  }

  /**
   * `adopted` for rotator requests: the users (and API key ids) an operator adopted for the secret
   * `secretArn` (`rotor attach --adopt`), from the adoption record only operators write. Read
   * once, on first ask, and kept for the rotation. No record: nothing is adopted. The record holds
   * no credential, so it is not registered for redaction (user names stay readable in errors).
   */
  adopted(secretArn: string): Promise<readonly string[]> {
    this.#adoptions ??= this.#readAdoptions(secretArn);
    this.#adoptions.catch(() => {
      this.#adoptions = undefined;
    });
    return this.#adoptions;
  }

  async #readAdoptions(secretArn: string): Promise<readonly string[]> {
    const id = this.#trust.adoptionsSecret;
    let record: RelatedSecret | undefined;
    try {
      record = await this.#store.getRelatedSecret(id, this.#rotationToken, this.#signal);
    } catch (error) {
      if (
        error instanceof AwsCallError &&
        (error.cause as { name?: string } | undefined)?.name === 'ResourceNotFoundException'
      )
        return [];
      throw error;
    }
    if (record === undefined) return [];
    return adoptedFor(parseAdoptions(record.value, id), { arn: secretArn });
  }
}

/** The anchor's engine and rotator, when `value` names the same engine and RDS database as the anchor. */
function sameAs(
  anchor: Loaded,
  value: Record<string, unknown>,
  managedDatabase: ManagedDatabase | undefined,
  label: string,
): Pick<Loaded, 'engine' | 'rotator'> {
  if (value.engine !== anchor.engine) {
    throw new InvalidSecretError('engine', `must be "${anchor.engine}" as in AWSCURRENT`, label);
  }
  const was = anchor.managedDatabase;
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
  return { engine: anchor.engine, rotator: anchor.rotator };
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
