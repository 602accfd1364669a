/**
 * Shared fixtures of the RDS suites: the local RDS endpoint wired to the rotation harness (the real
 * step machine talks to it through the real client-rds), rotators whose rds-master test polls
 * briskly, and helpers to read rotor's failure events.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { type LocalRds, type StartLocalRdsOptions, startLocalRds } from '../../local/rds.js';
import type { LocalStackOptions } from '../../local/stack.js';
import { createMysqlRotator } from '../../rotators/mysql/index.js';
import { createPostgresRotator } from '../../rotators/postgres/index.js';
import type { RdsWaitOptions } from '../../rotators/rdsMaster.js';
import type { AnyRotator } from '../../rotators/types.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

export { skipMysql as skipMariadb } from '../mysql/support.js';
export { skipPostgres } from '../postgres/support.js';

/** Polls fast and gives up soon after RDS reports nothing pending (the defaults suit real RDS). */
export const BRISK: RdsWaitOptions = { settleMs: 300, firstPollMs: 50, maxPollMs: 400 };

export const postgres = createPostgresRotator({ rdsWait: BRISK });
export const mysql = createMysqlRotator({ rdsWait: BRISK });

export interface RdsHarness extends RotationHarness {
  rds: LocalRds;
  rdsClient: RDSClient;
  /** Binds a secret to the database rds-master may reset (the stage file's `rdsMasters`). */
  bindRdsMaster(
    secret: string,
    database: { dbInstanceIdentifier: string } | { dbClusterIdentifier: string },
  ): void;
}

/** The local stack, rotor's step machine and a local RDS endpoint it reaches through client-rds. */
export async function startRdsHarness(options: {
  rotators: readonly AnyRotator[];
  stack?: LocalStackOptions;
  rds?: StartLocalRdsOptions;
  logLevel?: 'INFO' | 'SILENT';
}): Promise<RdsHarness> {
  const rds = await startLocalRds(options.rds);
  const rdsClient = new RDSClient(rds.clientConfig);
  const harness = await startRotationHarness({
    rotators: options.rotators,
    rds: rdsClient,
    ...(options.stack === undefined ? {} : { stack: options.stack }),
    ...(options.logLevel === undefined ? {} : { config: { logLevel: options.logLevel } }),
  });
  return {
    ...harness,
    rds,
    rdsClient,
    bindRdsMaster(secret, database) {
      harness.config.rdsMasters.push(
        'dbInstanceIdentifier' in database
          ? { secret, kind: 'instance', identifier: database.dbInstanceIdentifier }
          : { secret, kind: 'cluster', identifier: database.dbClusterIdentifier },
      );
    },
    async close() {
      await harness.close();
      rdsClient.destroy();
      await rds.stop();
    },
  };
}

/** rotor's "Rotation Step Failed" events of one secret. */
export function failures(harness: RotationHarness, arn: string) {
  return harness
    .rotorEvents()
    .filter((event) => event.detailType === 'Rotation Step Failed' && event.detail.secretArn === arn)
    .map(
      (event) =>
        event.detail as {
          step: string;
          rolledBack?: boolean;
          error: { name: string; message: string; field?: string };
        },
    );
}

/** Whether the rotation of a secret ended with a "Rotation Succeeded" event. */
export function succeeded(harness: RotationHarness, arn: string): boolean {
  return harness
    .rotorEvents()
    .some((event) => event.detailType === 'Rotation Succeeded' && event.detail.secretArn === arn);
}

/** A unique RDS identifier. */
export function identifier(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}
