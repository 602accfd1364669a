/**
 * `rotor replicate <secret> --regions a,b`: replicates a secret to other regions
 * (ReplicateSecretToRegions). Rotation stays on the primary: Secrets Manager copies every new
 * version to the replicas, which are read-only and never rotate on their own.
 */
import { ReplicateSecretToRegionsCommand, type ReplicationStatusType } from '@aws-sdk/client-secrets-manager';
import { aws, EXIT, type GlobalOptions } from '../aws.js';
import { table } from '../io.js';
import { describeSecret } from '../secrets.js';
import type { Session } from '../session.js';

export interface ReplicateOptions extends GlobalOptions {
  regions: string[];
  kmsKey?: string;
  overwrite?: boolean;
  json?: boolean;
}

/** An AWS region name such as `eu-west-1` or `us-gov-west-1`. */
export function validRegion(text: string): boolean {
  return /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(text);
}

export function replicaRows(status: readonly ReplicationStatusType[] | undefined): string[][] {
  return (status ?? []).map((replica) => [
    replica.Region ?? '?',
    replica.Status ?? '?',
    replica.StatusMessage ?? '',
  ]);
}

export async function replicateCommand(
  session: Session,
  secretId: string,
  options: ReplicateOptions,
): Promise<number> {
  const context = await session.aws(options);
  const { out } = session.term;
  const secret = await describeSecret(context, secretId);
  const name = secret.Name ?? secretId;
  const result = await aws(
    context,
    'secretsmanager:ReplicateSecretToRegions',
    name,
    context.sm.send(
      new ReplicateSecretToRegionsCommand({
        SecretId: secret.ARN ?? secretId,
        AddReplicaRegions: options.regions.map((region) => ({
          Region: region,
          ...(options.kmsKey === undefined ? {} : { KmsKeyId: options.kmsKey }),
        })),
        ...(options.overwrite ? { ForceOverwriteReplicaSecret: true } : {}),
      }),
    ),
  );
  const status = result.ReplicationStatus ?? [];
  const failed = status.some((replica) => replica.Status === 'Failed');
  if (options.json) {
    out.json({
      secret: name,
      arn: result.ARN ?? secret.ARN,
      replicas: status.map((replica) => ({
        region: replica.Region,
        status: replica.Status,
        ...(replica.StatusMessage === undefined ? {} : { message: replica.StatusMessage }),
      })),
    });
  } else {
    out.line(`replicas of ${name} (rotation stays on the primary; each new version is copied to them):`);
    table(out, ['REGION', 'STATUS', 'MESSAGE'], replicaRows(status));
  }
  return failed ? EXIT.failure : EXIT.ok;
}
