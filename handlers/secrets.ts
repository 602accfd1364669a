/**
 * The step machine's window on Secrets Manager: the only code that calls it during a rotation.
 *
 * Values are read by VersionId and cached per container: a version's value can never change once
 * stored (PutSecretValue with the same token and another value is refused), so a warm Lambda that
 * runs the four steps of a rotation back to back reads each version once. Which version holds
 * which label is never cached: every step reads it fresh with DescribeSecret.
 */
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { RotorError } from '../rotators/errors.js';
import { CURRENT, PENDING, PREVIOUS } from '../rotators/protocol.js';
import { awsError as classified } from './awsErrors.js';

// The staging labels are the protocol's words (rotators/protocol.ts); re-exported for the callers here.
export { CURRENT, PENDING, PREVIOUS };

/** How long a master/admin secret read for a rotation is reused by its later steps. */
const RELATED_TTL_MS = 60_000;

/** What DescribeSecret says about rotation and labels. */
export interface SecretDescription {
  arn: string;
  name: string;
  rotationEnabled: boolean;
  /** The secret's tags (RDS's own secrets are recognised by them). */
  tags: ReadonlyMap<string, string>;
  /** VersionId → its staging labels. */
  versions: ReadonlyMap<string, readonly string[]>;
  /** The rotation function the secret names, and when it last rotated (the rotation state needs both). */
  rotationLambdaArn?: string;
  lastRotated?: Date;
  /** The VersionId holding `label`, if any. */
  versionOf(label: string): string | undefined;
}

/** Who a secret is, as Secrets Manager answered (not as a caller spelt it). */
export interface SecretIdentity {
  arn: string;
  name: string;
}

/** Another secret's AWSCURRENT value and identity. */
export interface RelatedSecret extends SecretIdentity {
  value: string;
}

/** One version of a secret, as ListSecretVersionIds lists it (deprecated ones included). */
export interface VersionEntry {
  versionId: string;
  stages: readonly string[];
  created?: Date;
}

/** A bounded cache of immutable version values, keyed by secret ARN and VersionId. */
export class VersionCache {
  readonly #entries = new Map<string, { value: string; expires: number }>();
  constructor(
    private readonly maxEntries = 500,
    private readonly ttlMs = 15 * 60_000,
  ) {}

  get(arn: string, versionId: string): string | undefined {
    const key = `${arn}\n${versionId}`;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires < Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(arn: string, versionId: string, value: string, ttlMs = this.ttlMs): void {
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(`${arn}\n${versionId}`, { value, expires: Date.now() + ttlMs });
  }

  /** Drops every cached version of a secret (after a rotation finished). */
  forgetSecret(arn: string): void {
    for (const key of this.#entries.keys()) if (key.startsWith(`${arn}\n`)) this.#entries.delete(key);
  }
}

function awsError(operation: string, error: unknown): RotorError {
  return classified(error, { service: 'Secrets Manager', operation });
}

/** SDK call options: the abort signal when there is one. */
function opts(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

export class SecretsStore {
  constructor(
    private readonly client: SecretsManagerClient,
    readonly cache: VersionCache = new VersionCache(),
  ) {}

  async describe(secretId: string, signal?: AbortSignal): Promise<SecretDescription> {
    const out = await this.client
      .send(new DescribeSecretCommand({ SecretId: secretId }), opts(signal))
      .catch((error: unknown) => {
        throw awsError('DescribeSecret', error);
      });
    const versions = new Map(Object.entries(out.VersionIdsToStages ?? {}));
    return {
      arn: out.ARN ?? secretId,
      name: out.Name ?? secretId,
      rotationEnabled: out.RotationEnabled === true,
      tags: new Map((out.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
      versions,
      ...(out.RotationLambdaARN === undefined ? {} : { rotationLambdaArn: out.RotationLambdaARN }),
      ...(out.LastRotatedDate === undefined ? {} : { lastRotated: out.LastRotatedDate }),
      versionOf: (label) => [...versions].find(([, labels]) => labels.includes(label))?.[0],
    };
  }

  /**
   * The value of one version, or `undefined` when it has none (the empty AWSPENDING version that
   * RotateSecret creates answers ResourceNotFoundException).
   */
  async getVersion(
    arn: string,
    versionId: string,
    stage?: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const cached = this.cache.get(arn, versionId);
    if (cached !== undefined) return cached;
    try {
      const out = await this.client.send(
        new GetSecretValueCommand({
          SecretId: arn,
          VersionId: versionId,
          ...(stage ? { VersionStage: stage } : {}),
        }),
        opts(signal),
      );
      if (out.SecretString === undefined) return undefined;
      this.cache.set(arn, versionId, out.SecretString);
      return out.SecretString;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw awsError('GetSecretValue', error);
    }
  }

  /**
   * Another secret's AWSCURRENT value (master or admin credentials), with the ARN and name Secrets
   * Manager answered (what a master's binding is matched against, whatever form `secretId` had).
   * With a token it is kept for a minute under the rotation's token: the steps of a rotation run
   * back to back, and the related secret may rotate too, so a stale value must not outlive a
   * retry. Without one it is read now and not kept.
   */
  async getRelatedSecret(
    secretId: string,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<RelatedSecret | undefined> {
    const scope = `related:${token}`;
    if (token !== undefined) {
      const value = this.cache.get(scope, secretId);
      const id = this.cache.get(scope, `${secretId}\n(id)`);
      if (value !== undefined && id !== undefined) return { value, ...(JSON.parse(id) as SecretIdentity) };
    }
    const out = await this.#getCurrentOutput(secretId, signal);
    if (out.SecretString === undefined) return undefined;
    const related = { value: out.SecretString, arn: out.ARN ?? secretId, name: out.Name ?? secretId };
    if (token !== undefined) {
      this.cache.set(scope, secretId, related.value, RELATED_TTL_MS);
      this.cache.set(
        scope,
        `${secretId}\n(id)`,
        JSON.stringify({ arn: related.arn, name: related.name }),
        RELATED_TTL_MS,
      );
    }
    return related;
  }

  /** Forgets the related secrets read for a rotation (it is over). */
  forgetRelated(token: string): void {
    this.cache.forgetSecret(`related:${token}`);
  }

  /**
   * GetSecretValue of AWSCURRENT, asked for by label although AWS defaults to it: an endpoint that
   * gets the default wrong (one widely used emulator answers AWSPREVIOUS once the master itself was
   * rotated) must not hand rotor an old master password.
   */
  async #getCurrentOutput(secretId: string, signal?: AbortSignal) {
    try {
      return await this.client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: CURRENT }),
        opts(signal),
      );
    } catch (error) {
      throw awsError('GetSecretValue', error);
    }
  }

  /**
   * Stores the pending value under the rotation's token, labelled AWSPENDING only (without
   * VersionStages the service would move AWSCURRENT to it). Returns false when another value is
   * already stored under the token (a concurrent or earlier invocation won): the caller re-reads.
   */
  async putPending(
    arn: string,
    token: string,
    value: string,
    rotationToken: string | undefined,
    signal?: AbortSignal,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: token,
          SecretString: value,
          VersionStages: [PENDING],
          ...(rotationToken ? { RotationToken: rotationToken } : {}),
        }),
        opts(signal),
      );
      this.cache.set(arn, token, value);
      return true;
    } catch (error) {
      if (errorName(error) === 'ResourceExistsException') return false;
      throw awsError('PutSecretValue', error);
    }
  }

  /** Moves AWSCURRENT to `token`, naming the version it leaves (the service then labels it AWSPREVIOUS). */
  async promote(
    arn: string,
    token: string,
    fromVersionId: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.client
      .send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: CURRENT,
          MoveToVersionId: token,
          ...(fromVersionId ? { RemoveFromVersionId: fromVersionId } : {}),
        }),
        opts(signal),
      )
      .catch((error: unknown) => {
        throw awsError('UpdateSecretVersionStage', error);
      });
  }

  /** Every version of a secret, deprecated ones included (up to 100 pages of 100). */
  async listVersions(arn: string, signal?: AbortSignal): Promise<VersionEntry[]> {
    const versions: VersionEntry[] = [];
    let next: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await this.client
        .send(
          new ListSecretVersionIdsCommand({
            SecretId: arn,
            IncludeDeprecated: true,
            MaxResults: 100,
            ...(next === undefined ? {} : { NextToken: next }),
          }),
          opts(signal),
        )
        .catch((error: unknown) => {
          throw awsError('ListSecretVersionIds', error);
        });
      for (const version of out.Versions ?? []) {
        if (version.VersionId === undefined) continue;
        versions.push({
          versionId: version.VersionId,
          stages: version.VersionStages ?? [],
          ...(version.CreatedDate === undefined ? {} : { created: version.CreatedDate }),
        });
      }
      next = out.NextToken;
      if (next === undefined) break;
    }
    return versions;
  }

  /**
   * Takes AWSPENDING off `versionId` (a rotation that will not finish): the next RotateSecret can
   * start. The version's value stays (unlabelled, as Secrets Manager keeps deprecated versions).
   */
  async clearPending(arn: string, versionId: string, signal?: AbortSignal): Promise<void> {
    await this.client
      .send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: PENDING,
          RemoveFromVersionId: versionId,
        }),
        opts(signal),
      )
      .catch((error: unknown) => {
        throw awsError('UpdateSecretVersionStage', error);
      });
  }
}
