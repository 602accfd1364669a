/**
 * Where the conformance suites run: the local stack by default, or any other endpoint speaking
 * the same protocol (real AWS, another emulator) when `ROTOR_CONFORMANCE_ENDPOINT` is set.
 *
 * Against another endpoint, credentials and region come from the SDK's default chain
 * (`AWS_REGION`, `AWS_PROFILE`, ...), every secret gets a unique name under
 * `rotor-conformance/<run>/`, and `cleanup()` force-deletes them.
 */
import { randomBytes } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateSecretCommand,
  type CreateSecretCommandInput,
  DeleteSecretCommand,
  DescribeSecretCommand,
  RemoveRegionsFromReplicationCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

/** Test configuration, read here only: the endpoint of a non-local run. */
const REMOTE_ENDPOINT = process.env.ROTOR_CONFORMANCE_ENDPOINT;

export interface ConformanceTarget {
  readonly sm: SecretsManagerClient;
  readonly eb: EventBridgeClient;
  /** Undefined when running against another endpoint. */
  readonly stack: LocalStack | undefined;
  readonly region: string;
  /** A name no other run uses: `rotor-conformance/<run>/<label>-<n>`. */
  uniqueName(label: string): string;
  /** CreateSecret with a unique name (unless given); remembered for cleanup. Returns the ARN. */
  createSecret(
    input?: Partial<CreateSecretCommandInput>,
  ): Promise<{ arn: string; name: string; versionId?: string }>;
  /** Remembers a secret created another way, for cleanup. */
  track(secretId: string): void;
  /** Deletes every secret this run created, then closes clients (and the local stack). */
  cleanup(): Promise<void>;
}

export async function startConformanceTarget(): Promise<ConformanceTarget> {
  const stack = REMOTE_ENDPOINT === undefined ? await startLocalStack() : undefined;
  const config = stack?.clientConfig ?? { endpoint: REMOTE_ENDPOINT as string };
  // One attempt: conformance asserts on the service's first answer, not on SDK retries.
  const sm = new SecretsManagerClient({ ...config, maxAttempts: 1 });
  const eb = new EventBridgeClient({ ...config, maxAttempts: 1 });
  const region = await sm.config.region();
  const run = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const created = new Set<string>();
  let counter = 0;

  const uniqueName = (label: string) => `rotor-conformance/${run}/${label}-${++counter}`;
  return {
    sm,
    eb,
    stack,
    region,
    uniqueName,
    async createSecret(input = {}) {
      const name = input.Name ?? uniqueName('secret');
      const out = await sm.send(new CreateSecretCommand({ SecretString: '{"v":1}', ...input, Name: name }));
      if (out.ARN === undefined) throw new Error('CreateSecret returned no ARN');
      created.add(out.ARN);
      return { arn: out.ARN, name, ...(out.VersionId === undefined ? {} : { versionId: out.VersionId }) };
    },
    track(secretId) {
      created.add(secretId);
    },
    async cleanup() {
      for (const secretId of created) await deleteQuietly(sm, secretId);
      sm.destroy();
      eb.destroy();
      await stack?.stop();
    },
  };
}

/** Removes replicas (a secret with replicas can't be deleted), then force-deletes. */
async function deleteQuietly(sm: SecretsManagerClient, secretId: string): Promise<void> {
  try {
    const described = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
    const regions = (described.ReplicationStatus ?? []).flatMap((status) => status.Region ?? []);
    if (regions.length > 0) {
      await sm.send(
        new RemoveRegionsFromReplicationCommand({ SecretId: secretId, RemoveReplicaRegions: regions }),
      );
    }
    await sm.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
  } catch {
    // Already gone, or deleted by the test itself.
  }
}

/** Runs `action` and returns the error it throws (fails the test if it does not throw). */
export async function failure(
  action: () => Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await action();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`expected an Error, got ${String(error)}`);
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/** Label → version id, from DescribeSecret's VersionIdsToStages. */
export function labelsOf(versionIdsToStages: Record<string, string[]> | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [versionId, stages] of Object.entries(versionIdsToStages ?? {})) {
    for (const stage of stages) labels[stage] = versionId;
  }
  return labels;
}

/** A fresh ClientRequestToken (the SDK would make one; tests make theirs to refer to it). */
export function token(): string {
  return globalThis.crypto.randomUUID();
}
