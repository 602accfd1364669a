/**
 * The operations that create secrets and read or write their values: CreateSecret,
 * GetSecretValue, PutSecretValue, UpdateSecret.
 */
import { randomInt } from 'node:crypto';
import { AwsError, epochSeconds, InputValidator, type JsonInput } from '../http.js';
import {
  checkName,
  NEED_TOKEN,
  readReplicaRegions,
  readSecretIdMember,
  readStages,
  readTags,
  readToken,
  readValue,
  refuseSystemTags,
} from './checks.js';
import type { SecretRotation } from './rotation.js';
import {
  AWSCURRENT,
  holderOf,
  type Secret,
  type SecretsState,
  type SecretVersion,
  type StoredValue,
  sameValue,
} from './state.js';
import { compact, replicationStatus } from './wire.js';

export function createSecret(state: SecretsState, input: JsonInput, serviceOwned = false): unknown {
  const v = new InputValidator(input);
  const name = v.string('Name', { required: true, min: 1, max: 512 });
  const token = readToken(v);
  const description = v.string('Description', { max: 2048 });
  const kmsKeyId = v.string('KmsKeyId', { max: 2048 });
  const value = readValue(v);
  const tags = readTags(v, 'Tags');
  const replicaRegions = readReplicaRegions(v, 'AddReplicaRegions', false);
  v.check();
  if (name === undefined) throw new Error('unreachable: Name is required');
  checkName(name, serviceOwned);
  if (token === undefined) throw new AwsError('InvalidRequestException', NEED_TOKEN);
  if (!serviceOwned) refuseSystemTags(tags?.map((tag) => tag.Key));

  const existing = state.findByName(name);
  if (existing !== undefined) return createSecretAgain(existing, token, value);
  const now = state.clock();
  const arn = `arn:aws:secretsmanager:${state.region}:${state.accountId}:secret:${name}-${randomSuffix()}`;
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
  state.addReplicas(secret, replicaRegions ?? []);
  if (value !== undefined) state.addVersion(secret, token, value, [AWSCURRENT]);
  state.add(secret);
  state.changed();
  return compact({
    ARN: arn,
    Name: name,
    VersionId: value === undefined ? undefined : token,
    ReplicationStatus: secret.replicas.length === 0 ? undefined : replicationStatus(secret),
  });
}

/** CreateSecret for a name in use: an idempotent replay succeeds, anything else fails. */
function createSecretAgain(existing: Secret, token: string, value: StoredValue | undefined): unknown {
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

export function getSecretValue(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const versionId = readToken(v, 'VersionId');
  const versionStage = v.string('VersionStage', { min: 1, max: 256 });
  v.check();
  const secret = state.requireActive(secretId ?? '');
  const version = versionToRead(secret, versionId, versionStage);
  const now = state.clock();
  const today = startOfUtcDay(now);
  secret.lastAccessedAt = today;
  version.lastAccessedAt = today;
  state.changed();
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
function versionToRead(
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
    version = holderOf(secret, versionStage ?? AWSCURRENT);
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

export function putSecretValue(state: SecretsState, rotation: SecretRotation, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const token = readToken(v);
  const value = readValue(v);
  const stages = readStages(v, 'VersionStages');
  v.string('RotationToken', { min: 36, max: 256 });
  v.check();
  if (token === undefined) throw new AwsError('InvalidRequestException', NEED_TOKEN);
  if (value === undefined) {
    throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
  }
  const secret = state.requireActive(secretId ?? '');
  const version = storeValue(state, rotation, secret, { token, value, stages: stages ?? [AWSCURRENT] });
  return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
}

export function updateSecret(state: SecretsState, rotation: SecretRotation, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const token = readToken(v);
  const description = v.string('Description', { max: 2048 });
  const kmsKeyId = v.string('KmsKeyId', { max: 2048 });
  const value = readValue(v);
  v.check();
  const secret = state.requireActive(secretId ?? '');
  if (description !== undefined) secret.description = description;
  if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
  let versionId: string | undefined;
  if (value !== undefined) {
    if (token === undefined) throw new AwsError('InvalidRequestException', NEED_TOKEN);
    versionId = storeValue(state, rotation, secret, { token, value, stages: [AWSCURRENT] }).id;
  }
  secret.lastChangedAt = state.clock();
  state.changed();
  return compact({ ARN: secret.arn, Name: secret.name, VersionId: versionId });
}

/**
 * Stores a value under `token` with `stages`. Same token and same value: nothing happens.
 * Same token, other value: refused. A token naming the empty version RotateSecret created
 * receives the value (that is what createSecret does).
 */
function storeValue(
  state: SecretsState,
  rotation: SecretRotation,
  secret: Secret,
  put: { token: string; value: StoredValue; stages: readonly string[] },
): SecretVersion {
  const { token, value, stages } = put;
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
    version = state.addVersion(secret, token, value, stages);
  } else {
    existing.value = value;
    for (const stage of stages) state.attachStage(secret, existing, stage);
    version = existing;
  }
  if (stages.includes(AWSCURRENT)) rotation.abandonStuckRotation(secret, version);
  secret.lastChangedAt = state.clock();
  state.changed();
  return version;
}

/** LastAccessedDate carries the day only, as the real service reports it. */
function startOfUtcDay(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The 6 random alphanumerics the service appends to a secret's name in its ARN. */
function randomSuffix(): string {
  let suffix = '';
  for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return suffix;
}
