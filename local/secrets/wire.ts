/**
 * The shapes of the local Secrets Manager's answers: the service omits absent fields rather than
 * sending null, sends dates as epoch seconds, and describes a secret the same way in
 * DescribeSecret and ListSecrets (under a different key for the version map).
 */
import { epochSeconds } from '../http.js';
import { readPageStart } from './checks.js';
import type { Secret } from './state.js';

/** Drops undefined members: the service omits fields rather than sending null. */
export function compact<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export function optionalSeconds(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : epochSeconds(date);
}

export function replicationStatus(secret: Secret): unknown[] {
  return secret.replicas.map((replica) => ({
    Region: replica.region,
    KmsKeyId: replica.kmsKeyId,
    Status: 'InSync',
    StatusMessage: 'Replication succeeded',
  }));
}

/** Pages through `items`; the token is the opaque offset of the next page. */
export function paginate<T>(
  items: readonly T[],
  size: number,
  token: string | undefined,
): { page: T[]; next?: string } {
  const start = readPageStart(token);
  const end = start + size;
  const page = items.slice(start, end);
  return end < items.length ? { page, next: Buffer.from(`offset:${end}`).toString('base64url') } : { page };
}

/** A secret as DescribeSecret (`VersionIdsToStages`) and ListSecrets (`SecretVersionsToStages`) show it. */
export function describe(
  secret: Secret,
  versionsKey: 'VersionIdsToStages' | 'SecretVersionsToStages',
): unknown {
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
