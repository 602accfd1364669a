/**
 * rds-master: the master user of an RDS database, rotated through the RDS API instead of SQL
 * (../../rdsMaster.ts): apply asks RDS to set the pending password, test waits until RDS applied
 * it, rollback asks for the current one back. Single-user in nature: once RDS applies the change,
 * the old password stops working.
 */
import { InvalidSecretError } from '../../errors.js';
import {
  applyRdsMaster,
  checkGeneratedPassword,
  RDS_MASTER,
  rdsMasterChecks,
  rollbackRdsMaster,
  waitForMasterPassword,
} from '../../rdsMaster.js';
import type { StrategyImpl } from '../../sql/strategy.js';
import { assertSameIdentity, type MysqlEngine, testPending } from '../engine.js';
import type { MysqlSecret } from '../secret.js';

export function rdsMaster(engine: MysqlEngine): StrategyImpl<MysqlSecret> {
  return {
    async createPending(request, password) {
      checkGeneratedPassword(password, request.managedDatabase);
      return {};
    },

    async apply(request) {
      const { current, pending } = request;
      assertSameIdentity(current, pending, RDS_MASTER);
      if (current.port !== pending.port) {
        throw new InvalidSecretError(
          'port',
          `must equal AWSCURRENT's for strategy ${RDS_MASTER}`,
          'AWSPENDING',
        );
      }
      await applyRdsMaster(
        request,
        {
          prove: () => engine.prove(request, [current.username]),
          pendingLogsIn: () => engine.logsIn(request, pending),
        },
        engine.rdsWait,
      );
    },

    /** Waits, within the deadline, until RDS applied the change, then tests as every strategy does. */
    async test(request) {
      const { pending } = request;
      if (request.managedDatabase !== undefined) {
        await waitForMasterPassword(
          request.managedDatabase,
          () => engine.logsIn(request, pending),
          request,
          engine.rdsWait,
        );
      }
      return testPending(engine, request);
    },

    /** Asks RDS for AWSCURRENT's password back after this rotation's own change (see ../../rdsMaster.ts). */
    async rollback(request) {
      const { current, pending } = request;
      await rollbackRdsMaster(
        request,
        {
          currentLogsIn: () => engine.logsIn(request, current, 'AWSCURRENT'),
          pendingLogsIn: () => engine.logsIn(request, pending),
        },
        engine.rdsWait,
      );
    },

    preflight: async (request) => [
      ...(await engine.preflight(request, { sendsPasswords: false })),
      ...rdsMasterChecks(request.current.username, request.managedDatabase),
    ],
  };
}
