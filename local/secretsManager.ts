/**
 * A local stand-in for AWS Secrets Manager: state and operations, with the real service's
 * staging-label rules, error types and messages.
 *
 * Behaviour is taken from the Secrets Manager API reference and from responses recorded against
 * the real service; where the real wording is unknown the message says what happened plainly.
 * Rotation itself (invoking a function step by step, retries, events) is driven by
 * `LocalRotations` (./rotations.js), attached with `attachRotations`.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { scheduleProblem, windowProblem } from '../deploy/schedule.js';
import { everyDays, nextOccurrence, parseDuration, parseScheduleExpression, type Schedule } from './cron.js';
import {
  AwsError,
  CallCounter,
  epochSeconds,
  type FaultHandle,
  FaultPlan,
  type FaultSpec,
  InputValidator,
  type JsonInput,
} from './http.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";
const NEED_TOKEN = 'You must provide a ClientRequestToken value. We recommend a UUID-type value.';
const BOTH_VALUES =
  "You can't specify both a binary secret value and a string secret value in the same secret.";
const PREVIOUS_ROTATION = "A previous rotation isn't complete. That rotation will be reattempted.";
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** Versions kept before deprecated ones are deleted, and how young a version is spared. */
const MAX_VERSIONS = 100;
const DEPRECATED_GRACE_MS = 24 * 3_600_000;
const DAY_MS = 24 * 3_600_000;

export interface Tag {
  Key: string;
  Value: string;
}

export interface RotationRules {
  AutomaticallyAfterDays?: number;
  Duration?: string;
  ScheduleExpression?: string;
}

/** A stored value: exactly one of the two is set. `binary` is base64, as on the wire. */
export interface StoredValue {
  readonly string?: string;
  readonly binary?: string;
}

interface SecretVersion {
  readonly id: string;
  stages: string[];
  value: StoredValue | undefined;
  readonly createdAt: Date;
  lastAccessedAt: Date | undefined;
}

interface Replica {
  readonly region: string;
  readonly arn: string;
  readonly kmsKeyId: string;
}

interface Secret {
  readonly arn: string;
  readonly name: string;
  description: string | undefined;
  kmsKeyId: string | undefined;
  tags: Tag[] | undefined;
  readonly createdAt: Date;
  lastChangedAt: Date;
  lastAccessedAt: Date | undefined;
  deletedAt: Date | undefined;
  deletionDate: Date | undefined;
  /** Undefined until rotation was configured once (the service then omits the field). */
  rotationEnabled: boolean | undefined;
  rotationLambdaArn: string | undefined;
  rotationRules: RotationRules | undefined;
  lastRotatedAt: Date | undefined;
  nextRotationAt: Date | undefined;
  /** In creation order. */
  readonly versions: Map<string, SecretVersion>;
  replicas: Replica[];
}

/** What a rotation job is. `test` is the configuration test of `RotateImmediately: false`. */
export interface RotationJobRequest {
  readonly secretArn: string;
  readonly secretName: string;
  readonly token: string;
  /** The function as configured on the secret (ARN or name). */
  readonly lambdaArn: string;
  readonly kind: 'rotation' | 'test';
  /** Why it started: an API call, a reattempt of a stuck rotation, or the schedule. */
  readonly trigger: 'api' | 'reattempt' | 'schedule';
}

/** What the service needs from the rotation engine. */
export interface RotationDriver {
  /** Whether the configured function resolves to a registered one. */
  canInvoke(lambdaArn: string): boolean;
  /** Starts a job in the background, unless one already runs for this secret and token. */
  start(job: RotationJobRequest): void;
  /** Whether a job runs for this secret (and this token, when given). */
  isRunning(secretArn: string, token?: string): boolean;
  /** Stops the secret's running job before its next step. */
  stop(secretArn: string, reason: 'cancelled' | 'abandoned'): void;
  /** What a configuration test's AWSPENDING holds (an inference: AWS does not document it). */
  readonly configurationTestPending?: 'copy-of-current' | 'empty';
}

/** Publishes one of AWS's own CloudTrail service events (RotationAbandoned, ...). */
export type ServiceEventSink = (
  eventName: string,
  secretArn: string,
  details?: Record<string, unknown>,
) => void;

export interface LocalSecretsManagerOptions {
  readonly region: string;
  readonly accountId: string;
  readonly clock?: () => Date;
  readonly serviceEvents?: ServiceEventSink;
}

/** A read-only copy of a secret, for tests and the CLI (values included: this is a test tool). */
export interface SecretView {
  readonly arn: string;
  readonly name: string;
  readonly deletedAt: Date | undefined;
  readonly rotationEnabled: boolean | undefined;
  readonly lastRotatedAt: Date | undefined;
  readonly nextRotationAt: Date | undefined;
  readonly versions: readonly {
    readonly id: string;
    readonly stages: readonly string[];
    readonly value: StoredValue | undefined;
    readonly createdAt: Date;
  }[];
  readonly replicas: readonly { readonly region: string; readonly arn: string }[];
}

/** A request as received, with secret values masked (for tests: "was RotationToken passed?"). */
export interface RecordedRequest {
  readonly operation: string;
  readonly input: JsonInput;
  readonly at: Date;
}

/** How many recent requests `requests()` remembers. */
const RECENT_REQUESTS = 1000;

/** The persisted form of the service's state (dates as ISO strings). */
export interface SecretsSnapshot {
  readonly secrets: readonly JsonInput[];
}

type Operation = (input: JsonInput) => unknown;

export class LocalSecretsManager {
  readonly region: string;
  readonly accountId: string;
  private readonly clock: () => Date;
  private readonly serviceEvents: ServiceEventSink;
  private readonly secrets = new Map<string, Secret>();
  private readonly faults = new FaultPlan({
    type: 'InternalServiceError',
    message: 'An error occurred on the server side (injected fault).',
    status: 500,
  });
  private readonly counter = new CallCounter();
  private readonly recent: RecordedRequest[] = [];
  private readonly listeners = new Set<() => void>();
  private rotations: RotationDriver | undefined;
  private readonly operations: Readonly<Record<string, Operation>>;

  constructor(options: LocalSecretsManagerOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.clock = options.clock ?? (() => new Date());
    this.serviceEvents = options.serviceEvents ?? (() => undefined);
    this.operations = {
      CancelRotateSecret: (input) => this.cancelRotateSecret(input),
      CreateSecret: (input) => this.createSecret(input),
      DeleteSecret: (input) => this.deleteSecret(input),
      DescribeSecret: (input) => this.describeSecret(input),
      GetRandomPassword: (input) => this.getRandomPassword(input),
      GetSecretValue: (input) => this.getSecretValue(input),
      ListSecretVersionIds: (input) => this.listSecretVersionIds(input),
      ListSecrets: (input) => this.listSecrets(input),
      PutSecretValue: (input) => this.putSecretValue(input),
      RemoveRegionsFromReplication: (input) => this.removeRegionsFromReplication(input),
      ReplicateSecretToRegions: (input) => this.replicateSecretToRegions(input),
      RestoreSecret: (input) => this.restoreSecret(input),
      RotateSecret: (input) => this.rotateSecret(input),
      TagResource: (input) => this.tagResource(input),
      UntagResource: (input) => this.untagResource(input),
      UpdateSecret: (input) => this.updateSecret(input),
      UpdateSecretVersionStage: (input) => this.updateSecretVersionStage(input),
    };
  }

  // ---------------------------------------------------------------- wiring, faults, counting

  /** Connects the rotation engine (done once by `startLocalStack`). */
  attachRotations(driver: RotationDriver): void {
    this.rotations = driver;
  }

  /** Calls `listener` after every change of state (used to persist it). Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs one API operation as the HTTP server does: counted, then faults, then the operation. */
  async handle(operation: string, input: JsonInput): Promise<unknown> {
    this.counter.count(operation);
    this.record(operation, input);
    const run = this.operations[operation];
    if (run === undefined) {
      throw new AwsError('UnknownOperationException', `Unknown operation secretsmanager.${operation}`);
    }
    this.purgeExpired();
    return this.faults.run(operation, input, () => run(input));
  }

  /**
   * Makes the next `spec.times` calls of `operation` (matching `spec.match`) fail, either before
   * anything is applied or after (a lost response). See `FaultSpec`.
   */
  injectFault(operation: string, spec?: FaultSpec): FaultHandle {
    return this.faults.add(operation, spec);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Calls received per operation since the start or the last `resetCalls()`. */
  get calls(): Record<string, number> {
    return this.counter.snapshot();
  }

  get totalCalls(): number {
    return this.counter.total();
  }

  resetCalls(): void {
    this.counter.reset();
  }

  /** The last requests received (all, or of one operation), oldest first; values are masked. */
  requests(operation?: string): RecordedRequest[] {
    return this.recent.filter((request) => operation === undefined || request.operation === operation);
  }

  private record(operation: string, input: JsonInput): void {
    const masked = { ...input };
    for (const member of ['SecretString', 'SecretBinary']) if (member in masked) masked[member] = '<masked>';
    this.recent.push({ operation, input: masked, at: this.clock() });
    if (this.recent.length > RECENT_REQUESTS) this.recent.splice(0, this.recent.length - RECENT_REQUESTS);
  }

  // ---------------------------------------------------------------- secrets and versions

  /**
   * Creates a secret the way another AWS service creates its own: RDS names its master secrets
   * `rds!db-…` / `rds!cluster-…` (a name the CreateSecret API refuses to customers) and tags them
   * `aws:rds:primaryDBInstanceArn` / `aws:rds:primaryDBClusterArn`. Not reachable over the wire.
   */
  createServiceSecret(input: {
    Name: string;
    SecretString: string;
    Tags?: readonly { Key: string; Value: string }[];
  }): { ARN: string; Name: string } {
    if (!/^[a-z]+![A-Za-z0-9/_+=.@-]+$/.test(input.Name)) {
      throw new Error(`a service's secret is named "<service>!<name>", not "${input.Name}"`);
    }
    const out = this.createSecret(
      { ...input, Tags: input.Tags?.map((tag) => ({ ...tag })), ClientRequestToken: randomUUID() },
      true,
    ) as { ARN: string; Name: string };
    return { ARN: out.ARN, Name: out.Name };
  }

  private createSecret(input: JsonInput, serviceOwned = false): unknown {
    const v = new InputValidator(input);
    const name = v.string('Name', { required: true, min: 1, max: 512 });
    const token = v.string('ClientRequestToken', { min: 32, max: 64 });
    const description = v.string('Description', { max: 2048 });
    const kmsKeyId = v.string('KmsKeyId', { max: 2048 });
    const value = readValue(v);
    const tags = readTags(v, 'Tags');
    const replicaRegions = readReplicaRegions(v, 'AddReplicaRegions', false);
    v.check();
    if (name === undefined) throw new Error('unreachable: Name is required');
    if (!serviceOwned && !NAME_PATTERN.test(name)) {
      throw new AwsError(
        'ValidationException',
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    if (token === undefined) throw new AwsError('InvalidRequestException', NEED_TOKEN);
    if (!serviceOwned) refuseSystemTags(tags?.map((tag) => tag.Key));

    const existing = this.findByName(name);
    if (existing !== undefined) return this.createSecretAgain(existing, token, value);
    const now = this.clock();
    const arn = `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${randomSuffix()}`;
    const secret: Secret = {
      arn,
      name,
      description,
      kmsKeyId,
      tags,
      createdAt: now,
      lastChangedAt: now,
      lastAccessedAt: undefined,
      deletedAt: undefined,
      deletionDate: undefined,
      rotationEnabled: undefined,
      rotationLambdaArn: undefined,
      rotationRules: undefined,
      lastRotatedAt: undefined,
      nextRotationAt: undefined,
      versions: new Map(),
      replicas: [],
    };
    this.addReplicas(secret, replicaRegions ?? []);
    if (value !== undefined) this.addVersion(secret, token, value, [AWSCURRENT]);
    this.secrets.set(arn, secret);
    this.changed();
    return compact({
      ARN: arn,
      Name: name,
      VersionId: value === undefined ? undefined : token,
      ReplicationStatus: secret.replicas.length === 0 ? undefined : replicationStatus(secret),
    });
  }

  /** CreateSecret for a name in use: an idempotent replay succeeds, anything else fails. */
  private createSecretAgain(existing: Secret, token: string, value: StoredValue | undefined): unknown {
    if (existing.deletedAt !== undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    }
    const version = existing.versions.get(token);
    if (version !== undefined && sameValue(version.value, value)) {
      return compact({
        ARN: existing.arn,
        Name: existing.name,
        VersionId: value === undefined ? undefined : token,
      });
    }
    throw new AwsError(
      'ResourceExistsException',
      `The operation failed because the secret ${existing.name} already exists.`,
    );
  }

  private describeSecret(input: JsonInput): unknown {
    const secret = this.requireSecret(readSecretId(input));
    return this.describe(secret, 'VersionIdsToStages');
  }

  private getSecretValue(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const versionId = v.string('VersionId', { min: 32, max: 64 });
    const versionStage = v.string('VersionStage', { min: 1, max: 256 });
    v.check();
    const secret = this.requireActive(secretId ?? '');
    const version = this.versionToRead(secret, versionId, versionStage);
    const now = this.clock();
    const today = startOfUtcDay(now);
    secret.lastAccessedAt = today;
    version.lastAccessedAt = today;
    this.changed();
    return compact({
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      SecretString: version.value?.string,
      SecretBinary: version.value?.binary,
      VersionStages: [...version.stages],
      CreatedDate: epochSeconds(version.createdAt),
    });
  }

  /** Finds the version GetSecretValue reads, with the service's error for each way it can fail. */
  private versionToRead(
    secret: Secret,
    versionId: string | undefined,
    versionStage: string | undefined,
  ): SecretVersion & { value: StoredValue } {
    let version: SecretVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (version === undefined) {
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
        );
      }
      if (versionStage !== undefined && !version.stages.includes(versionStage)) {
        throw new AwsError(
          'InvalidRequestException',
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
    } else {
      version = this.holderOf(secret, versionStage ?? AWSCURRENT);
    }
    if (version?.value === undefined) {
      // The empty AWSPENDING version RotateSecret creates lands here: this is how createSecret
      // learns it must generate the value.
      const what =
        versionStage === undefined && versionId !== undefined
          ? `VersionId: ${versionId}`
          : `staging label: ${versionStage ?? AWSCURRENT}`;
      throw new AwsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${what}`,
      );
    }
    return version as SecretVersion & { value: StoredValue };
  }

  private putSecretValue(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const token = v.string('ClientRequestToken', { min: 32, max: 64 });
    const value = readValue(v);
    const stages = readStages(v, 'VersionStages');
    v.string('RotationToken', { min: 36, max: 256 });
    v.check();
    if (token === undefined) throw new AwsError('InvalidRequestException', NEED_TOKEN);
    if (value === undefined) {
      throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    }
    const secret = this.requireActive(secretId ?? '');
    const version = this.storeValue(secret, token, value, stages ?? [AWSCURRENT]);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  private updateSecret(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const token = v.string('ClientRequestToken', { min: 32, max: 64 });
    const description = v.string('Description', { max: 2048 });
    const kmsKeyId = v.string('KmsKeyId', { max: 2048 });
    const value = readValue(v);
    v.check();
    const secret = this.requireActive(secretId ?? '');
    if (description !== undefined) secret.description = description;
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    let versionId: string | undefined;
    if (value !== undefined) {
      if (token === undefined) throw new AwsError('InvalidRequestException', NEED_TOKEN);
      versionId = this.storeValue(secret, token, value, [AWSCURRENT]).id;
    }
    secret.lastChangedAt = this.clock();
    this.changed();
    return compact({ ARN: secret.arn, Name: secret.name, VersionId: versionId });
  }

  /**
   * Stores a value under `token` with `stages`. Same token and same value: nothing happens.
   * Same token, other value: refused. A token naming the empty version RotateSecret created
   * receives the value (that is what createSecret does).
   */
  private storeValue(
    secret: Secret,
    token: string,
    value: StoredValue,
    stages: readonly string[],
  ): SecretVersion {
    const existing = secret.versions.get(token);
    if (existing?.value !== undefined) {
      if (sameValue(existing.value, value)) return existing;
      throw new AwsError(
        'ResourceExistsException',
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    let version: SecretVersion;
    if (existing === undefined) {
      version = this.addVersion(secret, token, value, stages);
    } else {
      existing.value = value;
      for (const stage of stages) this.attachStage(secret, existing, stage);
      version = existing;
    }
    if (stages.includes(AWSCURRENT)) this.abandonStuckRotation(secret, version);
    secret.lastChangedAt = this.clock();
    this.changed();
    return version;
  }

  /**
   * A new AWSCURRENT value put by hand while AWSPENDING sits on another version abandons that
   * rotation: the service removes AWSPENDING (so later rotations can start) and reports
   * `RotationAbandoned`.
   */
  private abandonStuckRotation(secret: Secret, newCurrent: SecretVersion): void {
    const pending = this.holderOf(secret, AWSPENDING);
    if (pending === undefined || pending === newCurrent || pending.stages.includes(AWSCURRENT)) return;
    removeStage(pending, AWSPENDING);
    this.rotations?.stop(secret.arn, 'abandoned');
    this.serviceEvents('RotationAbandoned', secret.arn, { versionId: pending.id });
  }

  private updateSecretVersionStage(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const stage = v.string('VersionStage', { required: true, min: 1, max: 256 });
    const removeFrom = v.string('RemoveFromVersionId', { min: 32, max: 64 });
    const moveTo = v.string('MoveToVersionId', { min: 32, max: 64 });
    v.check();
    if (stage === undefined) throw new Error('unreachable: VersionStage is required');
    const secret = this.requireActive(secretId ?? '');
    if (removeFrom === undefined && moveTo === undefined) {
      throw new AwsError(
        'InvalidParameterException',
        'You must specify MoveToVersionId, RemoveFromVersionId, or both.',
      );
    }
    const holder = this.holderOf(secret, stage);
    const source = removeFrom === undefined ? undefined : this.requireVersion(secret, removeFrom);
    if (source !== undefined && holder !== source) {
      throw new AwsError(
        'InvalidParameterException',
        `The staging label ${stage} is not attached to version ${removeFrom}, so it can't be removed from it.`,
      );
    }
    if (moveTo === undefined) {
      if (stage === AWSCURRENT) {
        throw new AwsError(
          'InvalidParameterException',
          'The staging label AWSCURRENT can only be moved to another version, not removed.',
        );
      }
      if (source !== undefined) removeStage(source, stage);
    } else {
      const target = this.requireVersion(secret, moveTo);
      if (holder !== undefined && holder !== target && source === undefined) {
        throw new AwsError(
          'InvalidParameterException',
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      this.attachStage(secret, target, stage);
    }
    secret.lastChangedAt = this.clock();
    this.changed();
    return { ARN: secret.arn, Name: secret.name };
  }

  private listSecretVersionIds(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const maxResults = v.integer('MaxResults', { min: 1, max: 100 });
    const nextToken = v.string('NextToken', { min: 1, max: 4096 });
    const includeDeprecated = v.boolean('IncludeDeprecated') ?? false;
    v.check();
    const secret = this.requireActive(secretId ?? '');
    const versions = [...secret.versions.values()].filter(
      (version) => includeDeprecated || version.stages.length > 0,
    );
    const { page, next } = paginate(versions, maxResults ?? 100, nextToken);
    return compact({
      ARN: secret.arn,
      Name: secret.name,
      NextToken: next,
      Versions: page.map((version) =>
        compact({
          VersionId: version.id,
          VersionStages: version.stages.length === 0 ? undefined : [...version.stages],
          LastAccessedDate: optionalSeconds(version.lastAccessedAt),
          CreatedDate: epochSeconds(version.createdAt),
          KmsKeyIds: ['DefaultEncryptionKey'],
        }),
      ),
    });
  }

  private listSecrets(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const includeDeleted = v.boolean('IncludePlannedDeletion') ?? false;
    const maxResults = v.integer('MaxResults', { min: 1, max: 100 });
    const nextToken = v.string('NextToken', { min: 1, max: 4096 });
    const filters = readFilters(v);
    const sortOrder = v.string('SortOrder');
    const sortBy = v.string('SortBy');
    if (sortOrder !== undefined && sortOrder !== 'asc' && sortOrder !== 'desc') {
      v.problem('SortOrder', sortOrder, 'Member must satisfy enum value set: [asc, desc]');
    }
    if (sortBy !== undefined && !SORT_KEYS.includes(sortBy)) {
      v.problem('SortBy', sortBy, `Member must satisfy enum value set: [${SORT_KEYS.join(', ')}]`);
    }
    v.check();
    const matching = [...this.secrets.values()]
      .filter((secret) => includeDeleted || secret.deletedAt === undefined)
      .filter((secret) => filters.every((filter) => matchesFilter(secret, filter)));
    const sorted = sortSecrets(matching, sortBy ?? 'created-date', sortOrder ?? 'asc');
    const { page, next } = paginate(sorted, maxResults ?? 100, nextToken);
    return compact({
      SecretList: page.map((secret) => this.describe(secret, 'SecretVersionsToStages')),
      NextToken: next,
    });
  }

  private getRandomPassword(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const length = v.integer('PasswordLength', { min: 1, max: 4096 }) ?? 32;
    const exclude = v.string('ExcludeCharacters', { max: 4096 }) ?? '';
    const options = {
      excludeNumbers: v.boolean('ExcludeNumbers') ?? false,
      excludePunctuation: v.boolean('ExcludePunctuation') ?? false,
      excludeUppercase: v.boolean('ExcludeUppercase') ?? false,
      excludeLowercase: v.boolean('ExcludeLowercase') ?? false,
      includeSpace: v.boolean('IncludeSpace') ?? false,
      requireEachIncludedType: v.boolean('RequireEachIncludedType') ?? true,
    };
    v.check();
    return { RandomPassword: randomPassword(length, exclude, options) };
  }

  // ---------------------------------------------------------------- rotation

  private rotateSecret(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const token = v.string('ClientRequestToken', { min: 32, max: 64 });
    const lambdaArn = v.string('RotationLambdaARN', { max: 2048 });
    const rules = readRotationRules(v);
    const rotateImmediately = v.boolean('RotateImmediately') ?? true;
    v.check();
    if (token === undefined) throw new AwsError('InvalidParameterException', NEED_TOKEN);
    const secret = this.requireActive(secretId ?? '');
    const functionArn = lambdaArn ?? secret.rotationLambdaArn;
    if (functionArn === undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.",
      );
    }
    if (this.rotations === undefined || !this.rotations.canInvoke(functionArn)) {
      throw new AwsError(
        'AccessDeniedException',
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
      );
    }
    const stuck = this.stuckPending(secret);
    if (stuck !== undefined && stuck.id !== token) {
      this.reattemptStuck(secret, stuck);
      throw new AwsError('InvalidRequestException', PREVIOUS_ROTATION);
    }
    this.configureRotation(secret, functionArn, rules);
    const response = { ARN: secret.arn, Name: secret.name, VersionId: token };
    if (stuck !== undefined) {
      // The same token as the stuck rotation: Secrets Manager reattempts that rotation.
      this.startJob(secret, token, 'rotation', 'api');
      return response;
    }
    const existing = secret.versions.get(token);
    if (existing !== undefined) {
      // A replay of a RotateSecret that already finished: nothing left to do.
      if (existing.stages.includes(AWSCURRENT)) return response;
      throw new AwsError(
        'ResourceExistsException',
        `A version with the ClientRequestToken ${token} already exists and is not being rotated.`,
      );
    }
    if (!rotateImmediately) {
      // Configuration test: a temporary pending version holding a copy of the current value (or,
      // configured, none: what AWS puts there is inferred, not documented).
      const copy = this.rotations?.configurationTestPending !== 'empty';
      this.addVersion(secret, token, copy ? this.holderOf(secret, AWSCURRENT)?.value : undefined, [
        AWSPENDING,
      ]);
      this.changed();
      this.startJob(secret, token, 'test', 'api');
      return response;
    }
    this.addVersion(secret, token, undefined, [AWSPENDING]);
    this.changed();
    this.startJob(secret, token, 'rotation', 'api');
    return response;
  }

  private configureRotation(secret: Secret, functionArn: string, rules: RotationRules | undefined): void {
    const now = this.clock();
    secret.rotationEnabled = true;
    secret.rotationLambdaArn = functionArn;
    if (rules !== undefined) secret.rotationRules = rules;
    secret.nextRotationAt = this.nextRotation(secret, secret.lastRotatedAt ?? now);
    secret.lastChangedAt = now;
    this.changed();
  }

  /** Reattempts a stuck rotation in the background, as the error message promises. */
  private reattemptStuck(secret: Secret, stuck: SecretVersion): void {
    const driver = this.rotations;
    if (driver === undefined || secret.rotationLambdaArn === undefined) return;
    if (secret.rotationEnabled === false || driver.isRunning(secret.arn)) return;
    driver.start({
      secretArn: secret.arn,
      secretName: secret.name,
      token: stuck.id,
      lambdaArn: secret.rotationLambdaArn,
      kind: 'rotation',
      trigger: 'reattempt',
    });
  }

  private startJob(
    secret: Secret,
    token: string,
    kind: 'rotation' | 'test',
    trigger: 'api' | 'schedule',
  ): void {
    if (secret.rotationLambdaArn === undefined) return;
    this.rotations?.start({
      secretArn: secret.arn,
      secretName: secret.name,
      token,
      lambdaArn: secret.rotationLambdaArn,
      kind,
      trigger,
    });
  }

  private cancelRotateSecret(input: JsonInput): unknown {
    const secret = this.requireActive(readSecretId(input));
    if (secret.rotationLambdaArn === undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.",
      );
    }
    secret.rotationEnabled = false;
    secret.lastChangedAt = this.clock();
    // AWSPENDING stays where it is: cancelling does not clean up a half-done rotation.
    this.rotations?.stop(secret.arn, 'cancelled');
    this.changed();
    return compact({ ARN: secret.arn, Name: secret.name, VersionId: this.stuckPending(secret)?.id });
  }

  /**
   * Starts the rotations the schedule says are due (`NextRotationDate` reached), the way the
   * service's scheduler does. A stuck rotation is reattempted with its token instead.
   * Returns the jobs started.
   */
  rotateDue(): { secretArn: string; token: string }[] {
    const now = this.clock().getTime();
    const started: { secretArn: string; token: string }[] = [];
    for (const secret of this.secrets.values()) {
      const due = secret.nextRotationAt !== undefined && secret.nextRotationAt.getTime() <= now;
      const lambdaArn = secret.rotationLambdaArn;
      if (
        !due ||
        secret.rotationEnabled !== true ||
        secret.deletedAt !== undefined ||
        lambdaArn === undefined
      ) {
        continue;
      }
      if (this.rotations === undefined || this.rotations.isRunning(secret.arn)) continue;
      const token = this.stuckPending(secret)?.id ?? randomUUID();
      if (!secret.versions.has(token)) this.addVersion(secret, token, undefined, [AWSPENDING]);
      this.changed();
      this.startJob(secret, token, 'rotation', 'schedule');
      started.push({ secretArn: secret.arn, token });
    }
    return started;
  }

  // ---------------------------------------------------------------- used by the rotation engine

  /** The labels on a version, or undefined when the secret or the version is gone. */
  versionStages(secretArn: string, token: string): readonly string[] | undefined {
    return this.secrets.get(secretArn)?.versions.get(token)?.stages.slice();
  }

  /** Whether rotation is still enabled and the secret not deleted (checked before each step). */
  rotationActive(secretArn: string): boolean {
    const secret = this.secrets.get(secretArn);
    return secret !== undefined && secret.deletedAt === undefined && secret.rotationEnabled === true;
  }

  /** Records a successful rotation: dates move on; AWSPENDING leaves the token's version if asked. */
  finishRotation(secretArn: string, token: string, clearPending: boolean): void {
    const secret = this.secrets.get(secretArn);
    const version = secret?.versions.get(token);
    if (secret === undefined || version === undefined) return;
    if (clearPending) removeStage(version, AWSPENDING);
    const now = this.clock();
    secret.lastRotatedAt = now;
    secret.nextRotationAt = this.nextRotation(secret, now);
    this.changed();
  }

  /** Removes the temporary version of a configuration test (unless someone promoted it). */
  endConfigurationTest(secretArn: string, token: string): void {
    const secret = this.secrets.get(secretArn);
    const version = secret?.versions.get(token);
    if (secret === undefined || version === undefined) return;
    if (version.stages.some((stage) => stage !== AWSPENDING)) {
      removeStage(version, AWSPENDING);
    } else {
      secret.versions.delete(token);
    }
    this.changed();
  }

  // ---------------------------------------------------------------- deletion, tags, replicas

  private deleteSecret(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const window = v.integer('RecoveryWindowInDays');
    const force = v.boolean('ForceDeleteWithoutRecovery') ?? false;
    v.check();
    if (window !== undefined && force) {
      throw new AwsError(
        'InvalidParameterException',
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    if (window !== undefined && (window < 7 || window > 30)) {
      throw new AwsError(
        'InvalidParameterException',
        'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      );
    }
    const secret = this.requireSecret(secretId ?? '');
    if (secret.replicas.length > 0) {
      throw new AwsError(
        'InvalidParameterException',
        `You can't delete secret ${secret.name} that still has replica regions [${secret.replicas.map((r) => r.region).join(', ')}]`,
      );
    }
    if (secret.deletedAt !== undefined && !force) {
      throw new AwsError(
        'InvalidRequestException',
        "You tried to perform the operation on a secret that's currently marked deleted.",
      );
    }
    const now = this.clock();
    this.rotations?.stop(secret.arn, 'cancelled');
    if (force) {
      this.secrets.delete(secret.arn);
      this.changed();
      return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(now) };
    }
    secret.deletedAt = now;
    secret.deletionDate = new Date(now.getTime() + (window ?? 30) * DAY_MS);
    secret.lastChangedAt = now;
    this.changed();
    return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(secret.deletionDate) };
  }

  private restoreSecret(input: JsonInput): unknown {
    const secret = this.requireSecret(readSecretId(input));
    secret.deletedAt = undefined;
    secret.deletionDate = undefined;
    secret.lastChangedAt = this.clock();
    this.changed();
    return { ARN: secret.arn, Name: secret.name };
  }

  private tagResource(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const tags = readTags(v, 'Tags', true);
    v.check();
    refuseSystemTags(tags?.map((tag) => tag.Key));
    const secret = this.requireActive(secretId ?? '');
    const merged = new Map((secret.tags ?? []).map((tag) => [tag.Key, tag]));
    for (const tag of tags ?? []) merged.set(tag.Key, tag);
    if (merged.size > 50)
      throw new AwsError('InvalidParameterException', 'A secret can have at most 50 tags.');
    secret.tags = [...merged.values()];
    secret.lastChangedAt = this.clock();
    this.changed();
    return {};
  }

  private untagResource(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const keys = v.list('TagKeys', { required: true });
    v.check();
    refuseSystemTags(keys?.map(String));
    const secret = this.requireActive(secretId ?? '');
    const removed = new Set(keys?.map(String));
    secret.tags = (secret.tags ?? []).filter((tag) => !removed.has(tag.Key));
    secret.lastChangedAt = this.clock();
    this.changed();
    return {};
  }

  private replicateSecretToRegions(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const regions = readReplicaRegions(v, 'AddReplicaRegions', true);
    v.boolean('ForceOverwriteReplicaSecret');
    v.check();
    const secret = this.requireActive(secretId ?? '');
    this.addReplicas(secret, regions ?? []);
    secret.lastChangedAt = this.clock();
    this.changed();
    return { ARN: secret.arn, ReplicationStatus: replicationStatus(secret) };
  }

  private removeRegionsFromReplication(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
    const regions = v.list('RemoveReplicaRegions', { required: true, min: 1 });
    v.check();
    const secret = this.requireActive(secretId ?? '');
    const removed = new Set(regions?.map(String));
    secret.replicas = secret.replicas.filter((replica) => !removed.has(replica.region));
    secret.lastChangedAt = this.clock();
    this.changed();
    return { ARN: secret.arn, ReplicationStatus: replicationStatus(secret) };
  }

  private addReplicas(
    secret: Secret,
    replicas: readonly { region: string; kmsKeyId: string | undefined }[],
  ): void {
    for (const { region, kmsKeyId } of replicas) {
      if (region === this.region) throw new AwsError('InvalidParameterException', 'Invalid replica region.');
      if (secret.replicas.some((replica) => replica.region === region)) continue;
      // A replica keeps the primary's name and suffix; only the region differs.
      const arn = secret.arn.replace(`:secretsmanager:${this.region}:`, `:secretsmanager:${region}:`);
      secret.replicas.push({ region, arn, kmsKeyId: kmsKeyId ?? 'alias/aws/secretsmanager' });
    }
  }

  // ---------------------------------------------------------------- inspection and persistence

  /** A copy of a secret's state (values included), by name, full or partial ARN. */
  inspect(secretId: string): SecretView | undefined {
    const secret = this.find(secretId);
    if (secret === undefined) return undefined;
    return {
      arn: secret.arn,
      name: secret.name,
      deletedAt: secret.deletedAt,
      rotationEnabled: secret.rotationEnabled,
      lastRotatedAt: secret.lastRotatedAt,
      nextRotationAt: secret.nextRotationAt,
      versions: [...secret.versions.values()].map((version) => ({
        id: version.id,
        stages: [...version.stages],
        value: version.value,
        createdAt: version.createdAt,
      })),
      replicas: secret.replicas.map(({ region, arn }) => ({ region, arn })),
    };
  }

  /** The full ARN of a secret, by name, full or partial ARN. */
  arnOf(secretId: string): string | undefined {
    return this.find(secretId)?.arn;
  }

  snapshot(): SecretsSnapshot {
    return { secrets: [...this.secrets.values()].map(serializeSecret) };
  }

  restore(snapshot: SecretsSnapshot): void {
    this.secrets.clear();
    for (const raw of snapshot.secrets) {
      const secret = deserializeSecret(raw);
      this.secrets.set(secret.arn, secret);
    }
  }

  // ---------------------------------------------------------------- helpers

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Resolves a SecretId: full ARN, partial ARN (without the random suffix) or name. */
  private find(secretId: string): Secret | undefined {
    if (secretId.startsWith('arn:')) {
      const exact = this.secrets.get(secretId);
      if (exact !== undefined) return exact;
      for (const secret of this.secrets.values()) {
        if (secret.arn.slice(0, -7) === secretId) return secret;
      }
      return undefined;
    }
    return this.findByName(secretId);
  }

  private findByName(name: string): Secret | undefined {
    for (const secret of this.secrets.values()) if (secret.name === name) return secret;
    return undefined;
  }

  private requireSecret(secretId: string): Secret {
    const secret = this.find(secretId);
    if (secret === undefined) throw new AwsError('ResourceNotFoundException', NOT_FOUND);
    return secret;
  }

  /** A secret that is not scheduled for deletion. */
  private requireActive(secretId: string): Secret {
    const secret = this.requireSecret(secretId);
    if (secret.deletedAt !== undefined) throw new AwsError('InvalidRequestException', MARKED_FOR_DELETION);
    return secret;
  }

  private requireVersion(secret: Secret, versionId: string): SecretVersion {
    const version = secret.versions.get(versionId);
    if (version === undefined) {
      throw new AwsError(
        'InvalidParameterException',
        `The version ${versionId} doesn't exist for this secret.`,
      );
    }
    return version;
  }

  private holderOf(secret: Secret, stage: string): SecretVersion | undefined {
    for (const version of secret.versions.values()) if (version.stages.includes(stage)) return version;
    return undefined;
  }

  /** The version AWSPENDING sits on when it is not also AWSCURRENT: an unfinished rotation. */
  private stuckPending(secret: Secret): SecretVersion | undefined {
    const pending = this.holderOf(secret, AWSPENDING);
    return pending === undefined || pending.stages.includes(AWSCURRENT) ? undefined : pending;
  }

  /**
   * Moves `stage` onto `target`. A label sits on one version at a time; moving AWSCURRENT puts
   * AWSPREVIOUS on the version it left (and takes AWSPREVIOUS off the target).
   */
  private attachStage(secret: Secret, target: SecretVersion, stage: string): void {
    const holder = this.holderOf(secret, stage);
    if (holder === target) return;
    if (holder !== undefined) removeStage(holder, stage);
    addStage(target, stage);
    if (stage !== AWSCURRENT) return;
    removeStage(target, AWSPREVIOUS);
    if (holder === undefined) return;
    const previous = this.holderOf(secret, AWSPREVIOUS);
    if (previous !== undefined) removeStage(previous, AWSPREVIOUS);
    addStage(holder, AWSPREVIOUS);
  }

  private addVersion(
    secret: Secret,
    id: string,
    value: StoredValue | undefined,
    stages: readonly string[],
  ): SecretVersion {
    const version: SecretVersion = {
      id,
      stages: [],
      value,
      createdAt: this.clock(),
      lastAccessedAt: undefined,
    };
    secret.versions.set(id, version);
    for (const stage of stages) this.attachStage(secret, version, stage);
    this.pruneVersions(secret);
    return version;
  }

  /** Deletes the oldest unlabelled versions beyond 100, sparing those younger than 24 hours. */
  private pruneVersions(secret: Secret): void {
    const cutoff = this.clock().getTime() - DEPRECATED_GRACE_MS;
    for (const version of [...secret.versions.values()]) {
      if (secret.versions.size <= MAX_VERSIONS) return;
      if (version.stages.length === 0 && version.createdAt.getTime() < cutoff)
        secret.versions.delete(version.id);
    }
  }

  /** Forgets secrets whose recovery window has passed. */
  private purgeExpired(): void {
    const now = this.clock().getTime();
    for (const secret of [...this.secrets.values()]) {
      if (secret.deletionDate !== undefined && secret.deletionDate.getTime() <= now) {
        this.secrets.delete(secret.arn);
        this.changed();
      }
    }
  }

  private nextRotation(secret: Secret, from: Date): Date | undefined {
    const schedule = scheduleOf(secret.rotationRules);
    return schedule === undefined ? undefined : nextOccurrence(schedule, from);
  }

  private describe(secret: Secret, versionsKey: 'VersionIdsToStages' | 'SecretVersionsToStages'): unknown {
    const staged = [...secret.versions.values()].filter((version) => version.stages.length > 0);
    return compact({
      ARN: secret.arn,
      Name: secret.name,
      Description: secret.description,
      KmsKeyId: secret.kmsKeyId,
      RotationEnabled: secret.rotationEnabled,
      RotationLambdaARN: secret.rotationLambdaArn,
      RotationRules: secret.rotationRules,
      LastRotatedDate: optionalSeconds(secret.lastRotatedAt),
      LastChangedDate: epochSeconds(secret.lastChangedAt),
      LastAccessedDate: optionalSeconds(secret.lastAccessedAt),
      DeletedDate: optionalSeconds(secret.deletedAt),
      NextRotationDate: secret.rotationEnabled === true ? optionalSeconds(secret.nextRotationAt) : undefined,
      Tags: secret.tags?.map((tag) => ({ ...tag })),
      [versionsKey]:
        staged.length === 0
          ? undefined
          : Object.fromEntries(staged.map((version) => [version.id, [...version.stages]])),
      CreatedDate: epochSeconds(secret.createdAt),
      ReplicationStatus: secret.replicas.length === 0 ? undefined : replicationStatus(secret),
    });
  }
}

// ---------------------------------------------------------------- input readers

function readSecretId(input: JsonInput): string {
  const v = new InputValidator(input);
  const secretId = v.string('SecretId', { required: true, min: 1, max: 2048 });
  v.check();
  return secretId ?? '';
}

/** SecretString / SecretBinary: at most one of them. */
function readValue(v: InputValidator): StoredValue | undefined {
  const string = v.string('SecretString', { max: 65536 });
  const binary = v.string('SecretBinary', { max: 87384 });
  if (string !== undefined && binary !== undefined)
    throw new AwsError('InvalidParameterException', BOTH_VALUES);
  if (string !== undefined) return { string };
  if (binary !== undefined) return { binary };
  return undefined;
}

function readStages(v: InputValidator, member: string): string[] | undefined {
  const list = v.list(member, { min: 1, max: 20 });
  if (list === undefined) return undefined;
  return list.map((stage, index) => {
    if (typeof stage !== 'string' || stage.length < 1 || stage.length > 256) {
      v.problem(`${member}.${index + 1}.member`, stage, 'Member must have length between 1 and 256');
    }
    return String(stage);
  });
}

/**
 * AWS reserves the `aws:` prefix (any case) for tags its services set (RDS on its master secrets,
 * CloudFormation on stacks' resources): callers can neither add nor remove them. The message is
 * Secrets Manager's own for TagResource.
 */
function refuseSystemTags(keys: readonly string[] | undefined): void {
  const reserved = keys?.find((key) => key.toLowerCase().startsWith('aws:'));
  if (reserved !== undefined) {
    throw new AwsError('InvalidParameterException', `You can't modify system tags. Tag key: '${reserved}'.`);
  }
}

function readTags(v: InputValidator, member: string, required = false): Tag[] | undefined {
  const list = v.list(member, { required });
  if (list === undefined) return undefined;
  return list.map((raw, index) => {
    const tag = (raw ?? {}) as Record<string, unknown>;
    const key = typeof tag.Key === 'string' ? tag.Key : '';
    const value = typeof tag.Value === 'string' ? tag.Value : '';
    if (key.length < 1 || key.length > 128) {
      v.problem(`${member}.${index + 1}.member.Key`, key, 'Member must have length between 1 and 128');
    }
    if (value.length > 256) {
      v.problem(
        `${member}.${index + 1}.member.Value`,
        value,
        'Member must have length less than or equal to 256',
      );
    }
    return { Key: key, Value: value };
  });
}

function readReplicaRegions(
  v: InputValidator,
  member: string,
  required: boolean,
): { region: string; kmsKeyId: string | undefined }[] | undefined {
  const list = v.list(member, { required, min: 1 });
  return list?.map((raw, index) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const region = typeof entry.Region === 'string' ? entry.Region : '';
    if (!REGION_PATTERN.test(region)) {
      v.problem(
        `${member}.${index + 1}.member.Region`,
        region,
        `Member must satisfy regular expression pattern: ${REGION_PATTERN.source}`,
      );
    }
    return { region, kmsKeyId: typeof entry.KmsKeyId === 'string' ? entry.KmsKeyId : undefined };
  });
}

function readRotationRules(v: InputValidator): RotationRules | undefined {
  const raw = v.object('RotationRules');
  if (raw === undefined) return undefined;
  const rules: RotationRules = {};
  const days = raw.AutomaticallyAfterDays;
  if (days !== undefined) {
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 1000) {
      throw new AwsError(
        'InvalidParameterException',
        'RotationRules.AutomaticallyAfterDays must be within 1-1000.',
      );
    }
    rules.AutomaticallyAfterDays = days;
  }
  if (typeof raw.ScheduleExpression === 'string') rules.ScheduleExpression = raw.ScheduleExpression;
  if (typeof raw.Duration === 'string') rules.Duration = raw.Duration;
  if (rules.AutomaticallyAfterDays !== undefined && rules.ScheduleExpression !== undefined) {
    throw new AwsError(
      'InvalidParameterException',
      "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.",
    );
  }
  // Secrets Manager's documented schedule rules (deploy/schedule.ts, shared with the stage file and
  // `rotor attach`); the error type is the one AWS returns for other bad RotationRules.
  const problem = rotationRulesProblem(rules);
  if (problem !== undefined)
    throw new AwsError('InvalidParameterException', `Invalid RotationRules: ${problem}.`);
  try {
    if (rules.ScheduleExpression !== undefined) parseScheduleExpression(rules.ScheduleExpression);
    if (rules.Duration !== undefined) parseDuration(rules.Duration);
  } catch (error) {
    throw new AwsError('InvalidParameterException', `Invalid RotationRules: ${(error as Error).message}.`);
  }
  return rules;
}

function rotationRulesProblem(rules: RotationRules): string | undefined {
  const expression =
    rules.ScheduleExpression ??
    (rules.AutomaticallyAfterDays === undefined ? undefined : `rate(${rules.AutomaticallyAfterDays} days)`);
  if (rules.ScheduleExpression !== undefined) {
    const problem = scheduleProblem(rules.ScheduleExpression);
    if (problem !== undefined) return `ScheduleExpression ${problem}`;
  }
  if (rules.Duration === undefined || expression === undefined) return undefined;
  const problem = windowProblem(expression, rules.Duration);
  return problem === undefined ? undefined : `Duration ${problem}`;
}

function scheduleOf(rules: RotationRules | undefined): Schedule | undefined {
  if (rules?.ScheduleExpression !== undefined) return parseScheduleExpression(rules.ScheduleExpression);
  if (rules?.AutomaticallyAfterDays !== undefined) return everyDays(rules.AutomaticallyAfterDays);
  return undefined;
}

// ---------------------------------------------------------------- ListSecrets filters and sorting

const FILTER_KEYS = [
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
];
const SORT_KEYS = ['created-date', 'last-accessed-date', 'last-changed-date', 'name'];

interface Filter {
  key: string;
  values: string[];
}

function readFilters(v: InputValidator): Filter[] {
  const list = v.list('Filters', { max: 10 }) ?? [];
  return list.map((raw, index) => {
    const entry = (raw ?? {}) as Record<string, unknown>;
    const key = typeof entry.Key === 'string' ? entry.Key : '';
    if (!FILTER_KEYS.includes(key)) {
      v.problem(
        `Filters.${index + 1}.member.Key`,
        key,
        `Member must satisfy enum value set: [${FILTER_KEYS.join(', ')}]`,
      );
    }
    const values = Array.isArray(entry.Values) ? entry.Values.map(String) : [];
    if (values.length < 1 || values.length > 10) {
      v.problem(`Filters.${index + 1}.member.Values`, '[...]', 'Member must have length between 1 and 10');
    }
    return { key, values };
  });
}

/** Values of one filter are OR-ed; a value starting with `!` matches the secrets the rest does not. */
function matchesFilter(secret: Secret, filter: Filter): boolean {
  return filter.values.some((value) => {
    const negated = value.startsWith('!');
    const matched = matchesValue(secret, filter.key, negated ? value.slice(1) : value);
    return negated ? !matched : matched;
  });
}

function matchesValue(secret: Secret, key: string, value: string): boolean {
  const tags = secret.tags ?? [];
  switch (key) {
    case 'name':
      return secret.name.startsWith(value);
    case 'description':
      return wordsStartWith(secret.description ?? '', value);
    case 'tag-key':
      return tags.some((tag) => tag.Key.startsWith(value));
    case 'tag-value':
      return tags.some((tag) => tag.Value.startsWith(value));
    case 'primary-region':
      return secret.replicas.length > 0 && value === secret.arn.split(':')[3];
    case 'all':
      return [secret.name, secret.description ?? '', ...tags.flatMap((tag) => [tag.Key, tag.Value])].some(
        (text) => text.toLowerCase().startsWith(value.toLowerCase()) || wordsStartWith(text, value),
      );
    default:
      // owning-service: no secret here is managed by another service.
      return false;
  }
}

function wordsStartWith(text: string, prefix: string): boolean {
  const wanted = prefix.toLowerCase();
  return text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((word) => word !== '' && word.startsWith(wanted));
}

function sortSecrets(secrets: Secret[], sortBy: string, order: string): Secret[] {
  const key = (secret: Secret): number | string => {
    switch (sortBy) {
      case 'name':
        return secret.name;
      case 'last-accessed-date':
        return secret.lastAccessedAt?.getTime() ?? 0;
      case 'last-changed-date':
        return secret.lastChangedAt.getTime();
      default:
        return secret.createdAt.getTime();
    }
  };
  const sorted = [...secrets].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return order === 'desc' ? sorted.reverse() : sorted;
}

// ---------------------------------------------------------------- small helpers

/** Pages through `items`; the token is the opaque offset of the next page. */
function paginate<T>(
  items: readonly T[],
  size: number,
  token: string | undefined,
): { page: T[]; next?: string } {
  let start = 0;
  if (token !== undefined) {
    start = Number(
      Buffer.from(token, 'base64url')
        .toString('utf8')
        .replace(/^offset:/, ''),
    );
    if (!Number.isInteger(start) || start < 0) {
      throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
    }
  }
  const end = start + size;
  const page = items.slice(start, end);
  return end < items.length ? { page, next: Buffer.from(`offset:${end}`).toString('base64url') } : { page };
}

function addStage(version: SecretVersion, stage: string): void {
  if (!version.stages.includes(stage)) version.stages = [...version.stages, stage].sort();
}

function removeStage(version: SecretVersion, stage: string): void {
  version.stages = version.stages.filter((other) => other !== stage);
}

function sameValue(a: StoredValue | undefined, b: StoredValue | undefined): boolean {
  return a?.string === b?.string && a?.binary === b?.binary;
}

function replicationStatus(secret: Secret): unknown[] {
  return secret.replicas.map((replica) => ({
    Region: replica.region,
    KmsKeyId: replica.kmsKeyId,
    Status: 'InSync',
    StatusMessage: 'Replication succeeded',
  }));
}

function optionalSeconds(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : epochSeconds(date);
}

/** LastAccessedDate carries the day only, as the real service reports it. */
function startOfUtcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/** Drops undefined members: the service omits fields rather than sending null. */
function compact<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The 6 random alphanumerics the service appends to a secret's name in its ARN. */
function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return suffix;
}

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** GetRandomPassword: picks from the allowed character classes, one of each when required. */
function randomPassword(
  length: number,
  exclude: string,
  options: {
    excludeNumbers: boolean;
    excludePunctuation: boolean;
    excludeUppercase: boolean;
    excludeLowercase: boolean;
    includeSpace: boolean;
    requireEachIncludedType: boolean;
  },
): string {
  const classes = [
    options.excludeLowercase ? '' : 'abcdefghijklmnopqrstuvwxyz',
    options.excludeUppercase ? '' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    options.excludeNumbers ? '' : '0123456789',
    options.excludePunctuation ? '' : PUNCTUATION,
    options.includeSpace ? ' ' : '',
  ]
    .map((chars) => [...chars].filter((char) => !exclude.includes(char)).join(''))
    .filter((chars) => chars.length > 0);
  if (classes.length === 0) {
    throw new AwsError('InvalidParameterException', 'No characters are left to build a password from.');
  }
  if (options.requireEachIncludedType && length < classes.length) {
    throw new AwsError(
      'InvalidParameterException',
      'Password length is too short based on the required types.',
    );
  }
  const all = classes.join('');
  const chars = options.requireEachIncludedType ? classes.map((set) => pick(set)) : [];
  while (chars.length < length) chars.push(pick(all));
  // Shuffle so the required characters are not always first (Fisher-Yates).
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

function pick(chars: string): string {
  return chars[randomInt(chars.length)] as string;
}

// ---------------------------------------------------------------- persistence
// The state file is written by serializeSecret and read back by deserializeSecret only: its
// fields are trusted as they are, and only the dates and the version map need reviving.

function serializeSecret(secret: Secret): JsonInput {
  return {
    ...secret,
    versions: [...secret.versions.values()],
    replicas: secret.replicas,
  } as unknown as JsonInput;
}

const SECRET_DATES = [
  'createdAt',
  'lastChangedAt',
  'lastAccessedAt',
  'deletedAt',
  'deletionDate',
  'lastRotatedAt',
  'nextRotationAt',
] as const;

function deserializeSecret(raw: JsonInput): Secret {
  const secret = { ...raw } as Record<string, unknown>;
  for (const key of SECRET_DATES) secret[key] = reviveDate(secret[key]);
  const versions = Array.isArray(raw.versions) ? (raw.versions as Record<string, unknown>[]) : [];
  secret.versions = new Map(
    versions.map((version) => [
      String(version.id),
      {
        ...version,
        createdAt: reviveDate(version.createdAt) ?? new Date(0),
        lastAccessedAt: reviveDate(version.lastAccessedAt),
      },
    ]),
  );
  secret.replicas = Array.isArray(raw.replicas) ? raw.replicas : [];
  return secret as unknown as Secret;
}

function reviveDate(value: unknown): Date | undefined {
  return typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
}
