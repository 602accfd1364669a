/**
 * The local Secrets Manager's state: secrets, their versions and the staging labels on them, with
 * the service's label rules (one version per label, AWSCURRENT leaving AWSPREVIOUS behind), the
 * version limit, the recovery window and the state file's form. No API input is read here.
 */
import { AwsError, type JsonInput } from '../http.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';
export const AWSPREVIOUS = 'AWSPREVIOUS';

const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";
/** Versions kept before deprecated ones are deleted, and how young a version is spared. */
const MAX_VERSIONS = 100;
const DEPRECATED_GRACE_MS = 24 * 3_600_000;

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

export interface SecretVersion {
  readonly id: string;
  stages: string[];
  value: StoredValue | undefined;
  readonly createdAt: Date;
  lastAccessedAt: Date | undefined;
}

export interface Replica {
  readonly region: string;
  readonly arn: string;
  readonly kmsKeyId: string;
}

export interface Secret {
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

/** The persisted form of the service's state (dates as ISO strings). */
export interface SecretsSnapshot {
  readonly secrets: readonly JsonInput[];
}

/** The secrets of one account and region, and who to tell when they change. */
export class SecretsState {
  readonly region: string;
  readonly accountId: string;
  readonly clock: () => Date;
  private readonly secrets = new Map<string, Secret>();
  private readonly listeners = new Set<() => void>();

  constructor(region: string, accountId: string, clock: () => Date) {
    this.region = region;
    this.accountId = accountId;
    this.clock = clock;
  }

  /** Calls `listener` after every change of state (used to persist it). Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** Every secret, deleted ones included, in creation order. */
  all(): Secret[] {
    return [...this.secrets.values()];
  }

  byArn(arn: string): Secret | undefined {
    return this.secrets.get(arn);
  }

  add(secret: Secret): void {
    this.secrets.set(secret.arn, secret);
  }

  remove(arn: string): void {
    this.secrets.delete(arn);
  }

  /** Resolves a SecretId: full ARN, partial ARN (without the random suffix) or name. */
  find(secretId: string): Secret | undefined {
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

  findByName(name: string): Secret | undefined {
    for (const secret of this.secrets.values()) if (secret.name === name) return secret;
    return undefined;
  }

  requireSecret(secretId: string): Secret {
    const secret = this.find(secretId);
    if (secret === undefined) throw new AwsError('ResourceNotFoundException', NOT_FOUND);
    return secret;
  }

  /** A secret that is not scheduled for deletion. */
  requireActive(secretId: string): Secret {
    const secret = this.requireSecret(secretId);
    if (secret.deletedAt !== undefined) throw new AwsError('InvalidRequestException', MARKED_FOR_DELETION);
    return secret;
  }

  /**
   * Moves `stage` onto `target`. A label sits on one version at a time; moving AWSCURRENT puts
   * AWSPREVIOUS on the version it left (and takes AWSPREVIOUS off the target).
   */
  attachStage(secret: Secret, target: SecretVersion, stage: string): void {
    const holder = holderOf(secret, stage);
    if (holder === target) return;
    if (holder !== undefined) removeStage(holder, stage);
    addStage(target, stage);
    if (stage !== AWSCURRENT) return;
    removeStage(target, AWSPREVIOUS);
    if (holder === undefined) return;
    const previous = holderOf(secret, AWSPREVIOUS);
    if (previous !== undefined) removeStage(previous, AWSPREVIOUS);
    addStage(holder, AWSPREVIOUS);
  }

  addVersion(
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

  /** Adds replicas in other regions (a region already replicated to is left as it is). */
  addReplicas(secret: Secret, replicas: readonly { region: string; kmsKeyId: string | undefined }[]): void {
    for (const { region, kmsKeyId } of replicas) {
      if (region === this.region) throw new AwsError('InvalidParameterException', 'Invalid replica region.');
      if (secret.replicas.some((replica) => replica.region === region)) continue;
      // A replica keeps the primary's name and suffix; only the region differs.
      const arn = secret.arn.replace(`:secretsmanager:${this.region}:`, `:secretsmanager:${region}:`);
      secret.replicas.push({ region, arn, kmsKeyId: kmsKeyId ?? 'alias/aws/secretsmanager' });
    }
  }

  /** Forgets secrets whose recovery window has passed. */
  purgeExpired(): void {
    const now = this.clock().getTime();
    for (const secret of [...this.secrets.values()]) {
      if (secret.deletionDate !== undefined && secret.deletionDate.getTime() <= now) {
        this.secrets.delete(secret.arn);
        this.changed();
      }
    }
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
}

export function requireVersion(secret: Secret, versionId: string): SecretVersion {
  const version = secret.versions.get(versionId);
  if (version === undefined) {
    throw new AwsError(
      'InvalidParameterException',
      `The version ${versionId} doesn't exist for this secret.`,
    );
  }
  return version;
}

export function holderOf(secret: Secret, stage: string): SecretVersion | undefined {
  for (const version of secret.versions.values()) if (version.stages.includes(stage)) return version;
  return undefined;
}

/** The version AWSPENDING sits on when it is not also AWSCURRENT: an unfinished rotation. */
export function stuckPending(secret: Secret): SecretVersion | undefined {
  const pending = holderOf(secret, AWSPENDING);
  return pending === undefined || pending.stages.includes(AWSCURRENT) ? undefined : pending;
}

function addStage(version: SecretVersion, stage: string): void {
  if (!version.stages.includes(stage)) version.stages = [...version.stages, stage].sort();
}

export function removeStage(version: SecretVersion, stage: string): void {
  version.stages = version.stages.filter((other) => other !== stage);
}

export function sameValue(a: StoredValue | undefined, b: StoredValue | undefined): boolean {
  return a?.string === b?.string && a?.binary === b?.binary;
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
