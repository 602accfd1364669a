/**
 * rds-master: the master user of an RDS database, rotated through the RDS API (../../rdsMaster.ts):
 * apply asks RDS to set the pending password, test waits until RDS applied it, rollback asks RDS
 * for the current one back. No SQL changes anything; the step machine provides the RDS port.
 */
import { InvalidSecretError } from '../../errors.js';
import {
  applyRdsMaster,
  checkGeneratedPassword,
  rdsMasterChecks,
  rollbackRdsMaster,
  waitForMasterPassword,
} from '../../rdsMaster.js';
import type { StrategyImpl } from '../../sql/strategy.js';
import type { PgSession } from '../client.js';
import { loginOf, type PostgresEngine, requireSameServer, requireScramSafe, testPending } from '../engine.js';
import type { PostgresSecret } from '../secret.js';

export function rdsMaster(engine: PostgresEngine): StrategyImpl<PostgresSecret> {
  return {
    async createPending(request, password) {
      checkGeneratedPassword(password, request.managedDatabase);
      return {};
    },

    async apply(request) {
      const { current, pending } = request;
      requireSameServer(current, pending);
      requireScramSafe(pending);
      if (pending.username !== current.username) {
        throw new InvalidSecretError(
          'username',
          `must be "${current.username}" as in AWSCURRENT (rds-master changes the master's password)`,
          'AWSPENDING',
        );
      }
      await applyRdsMaster(
        request,
        {
          prove: () => engine.prove(request, [current.username], current.tls),
          pendingLogsIn: () => engine.logsIn(loginOf(pending), request),
        },
        engine.rdsWait,
      );
    },

    /** Waits, within the deadline, until RDS applied the change; that login is the test's session. */
    async test(request) {
      const { pending } = request;
      let waited: PgSession | undefined;
      if (request.managedDatabase !== undefined) {
        await waitForMasterPassword(
          request.managedDatabase,
          async () => {
            waited = await engine.tryLogin(loginOf(pending), request);
            return waited !== undefined;
          },
          request,
          engine.rdsWait,
        );
      }
      return testPending(engine, request, waited);
    },

    /**
     * Puts AWSCURRENT's password back through RDS after this rotation's own change (see
     * rollbackMasterPassword); changes nothing when AWSCURRENT logs in and RDS has nothing pending.
     */
    async rollback(request) {
      const { current, pending } = request;
      await rollbackRdsMaster(
        request,
        {
          currentLogsIn: () => engine.logsIn(loginOf(current), request),
          pendingLogsIn: () => engine.logsIn(loginOf(pending), request),
        },
        engine.rdsWait,
      );
    },

    preflight: async (request) => rdsMasterChecks(request.current.username, request.managedDatabase),
  };
}
