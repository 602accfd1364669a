/**
 * The operations on a secret as a whole: DeleteSecret and RestoreSecret (the recovery window),
 * TagResource and UntagResource, ReplicateSecretToRegions and RemoveRegionsFromReplication.
 */
import { AwsError, epochSeconds, InputValidator, type JsonInput } from '../http.js';
import {
  checkRecoveryWindow,
  readReplicaRegions,
  readSecretId,
  readSecretIdMember,
  readTags,
  refuseSystemTags,
} from './checks.js';
import type { SecretRotation } from './rotation.js';
import type { SecretsState } from './state.js';
import { replicationStatus } from './wire.js';

const DAY_MS = 24 * 3_600_000;

export function deleteSecret(state: SecretsState, rotation: SecretRotation, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const window = v.integer('RecoveryWindowInDays');
  const force = v.boolean('ForceDeleteWithoutRecovery') ?? false;
  v.check();
  checkRecoveryWindow(window, force);
  const secret = state.requireSecret(secretId ?? '');
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
  const now = state.clock();
  rotation.stop(secret.arn);
  if (force) {
    state.remove(secret.arn);
    state.changed();
    return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(now) };
  }
  secret.deletedAt = now;
  secret.deletionDate = new Date(now.getTime() + (window ?? 30) * DAY_MS);
  secret.lastChangedAt = now;
  state.changed();
  return { ARN: secret.arn, Name: secret.name, DeletionDate: epochSeconds(secret.deletionDate) };
}

export function restoreSecret(state: SecretsState, input: JsonInput): unknown {
  const secret = state.requireSecret(readSecretId(input));
  secret.deletedAt = undefined;
  secret.deletionDate = undefined;
  secret.lastChangedAt = state.clock();
  state.changed();
  return { ARN: secret.arn, Name: secret.name };
}

export function tagResource(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const tags = readTags(v, 'Tags', true);
  v.check();
  refuseSystemTags(tags?.map((tag) => tag.Key));
  const secret = state.requireActive(secretId ?? '');
  const merged = new Map((secret.tags ?? []).map((tag) => [tag.Key, tag]));
  for (const tag of tags ?? []) merged.set(tag.Key, tag);
  if (merged.size > 50) throw new AwsError('InvalidParameterException', 'A secret can have at most 50 tags.');
  secret.tags = [...merged.values()];
  secret.lastChangedAt = state.clock();
  state.changed();
  return {};
}

export function untagResource(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const keys = v.list('TagKeys', { required: true });
  v.check();
  refuseSystemTags(keys?.map(String));
  const secret = state.requireActive(secretId ?? '');
  const removed = new Set(keys?.map(String));
  secret.tags = (secret.tags ?? []).filter((tag) => !removed.has(tag.Key));
  secret.lastChangedAt = state.clock();
  state.changed();
  return {};
}

export function replicateSecretToRegions(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const regions = readReplicaRegions(v, 'AddReplicaRegions', true);
  v.boolean('ForceOverwriteReplicaSecret');
  v.check();
  const secret = state.requireActive(secretId ?? '');
  state.addReplicas(secret, regions ?? []);
  secret.lastChangedAt = state.clock();
  state.changed();
  return { ARN: secret.arn, ReplicationStatus: replicationStatus(secret) };
}

export function removeRegionsFromReplication(state: SecretsState, input: JsonInput): unknown {
  const v = new InputValidator(input);
  const secretId = readSecretIdMember(v);
  const regions = v.list('RemoveReplicaRegions', { required: true, min: 1 });
  v.check();
  const secret = state.requireActive(secretId ?? '');
  const removed = new Set(regions?.map(String));
  secret.replicas = secret.replicas.filter((replica) => !removed.has(replica.region));
  secret.lastChangedAt = state.clock();
  state.changed();
  return { ARN: secret.arn, ReplicationStatus: replicationStatus(secret) };
}
