/**
 * single-user: the role changes its own password (no other privilege needed). From apply on only
 * the new password works, which is why apply recovers from every place a crash can leave it and
 * rollback puts the AWSCURRENT password back when the test fails.
 */
import { AuthenticationFailedError, InvalidSecretError, UnsupportedError } from '../../errors.js';
import { previousFallback } from '../../fallback.js';
import { firstLogin } from '../../sql/kit.js';
import type { StrategyImpl } from '../../sql/strategy.js';
import type { ApplyRequest, ApplyResponse, RollbackRequest } from '../../types.js';
import { describeTarget, type PgSession } from '../client.js';
import {
  loginOf,
  onceMoreAfterWriteConflict,
  type PostgresEngine,
  requireSameServer,
  requireScramSafe,
  testPending,
} from '../engine.js';
import { isScramSafe, scramSha256Verifier } from '../scram.js';
import type { PostgresSecret } from '../secret.js';
import { RESET_ROLE_SQL, setPasswordSql } from '../sql.js';

/**
 * The role sets its own password. A `role` setting can make the session start as another role,
 * and a role may change only its own password: it acts as the session user.
 */
async function setOwnPassword(session: PgSession, role: string, password: string, purpose: string) {
  await session.query(RESET_ROLE_SQL, undefined, { purpose: 'act as the session user (SET ROLE NONE)' });
  await session.query(setPasswordSql(role, scramSha256Verifier(password)), undefined, { purpose });
}

export function singleUser(engine: PostgresEngine): StrategyImpl<PostgresSecret> {
  /**
   * The normal case is one login (current credentials) and one statement. A refused login means
   * an earlier attempt may have got further, so the fallbacks:
   * - AWSPENDING logs in: the change already happened (a replay after a crash): nothing to do;
   * - AWSPREVIOUS logs in: AWSCURRENT was replaced in Secrets Manager without the database: the
   *   database still has the older password, and changes from there.
   */
  async function applyOnce(request: ApplyRequest<PostgresSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    const found = await firstLogin(
      [
        ['AWSCURRENT', async () => current],
        ['AWSPENDING', async () => pending],
        ['AWSPREVIOUS', request.previous],
      ],
      (value) => value.username === current.username,
      (value) => engine.open(loginOf(current, value.password), request),
    );
    if (found === undefined) {
      throw new AuthenticationFailedError(
        `${describeTarget(current)}: role "${current.username}" logs in with none of AWSCURRENT, AWSPENDING, AWSPREVIOUS`,
      );
    }
    const { session, used } = found;
    try {
      if (used === 'AWSPENDING') return {};
      await setOwnPassword(
        session,
        pending.username,
        pending.password,
        `set the password of role "${pending.username}"`,
      );
    } finally {
      await session.close();
    }
    return used === 'AWSPREVIOUS' ? previousFallback(`role "${current.username}"`) : {};
  }

  return {
    createPending: async () => ({}),

    /** Idempotent: a replay finds the pending password in place and does nothing. */
    async apply(request) {
      const { current, pending } = request;
      requireSameServer(current, pending);
      requireScramSafe(pending);
      if (pending.username !== current.username) {
        throw new InvalidSecretError(
          'username',
          `must be "${current.username}" as in AWSCURRENT (single-user rotation changes one role's password)`,
          'AWSPENDING',
        );
      }
      return await onceMoreAfterWriteConflict(() => applyOnce(request));
    },

    test: (request) => testPending(engine, request, undefined),

    /**
     * After a failed test, sets the AWSCURRENT password again so that clients holding it log in
     * while the failure is looked into. Pending first: usually apply worked and only the test
     * failed. Idempotent: when AWSCURRENT already logs in, it changes nothing.
     */
    async rollback(request: RollbackRequest<PostgresSecret>) {
      const { current, pending } = request;
      if (pending.username !== current.username) return;
      const session = await engine.tryLogin(loginOf(current, pending.password), request);
      if (session === undefined) {
        if (!(await engine.logsIn(loginOf(current), request))) {
          throw new AuthenticationFailedError(
            `${describeTarget(current)}: role "${current.username}" logs in with neither AWSPENDING nor AWSCURRENT`,
          );
        }
        return;
      }
      try {
        if (!isScramSafe(current.password)) {
          throw new UnsupportedError(
            'the AWSCURRENT password is not printable ASCII: rotor cannot restore it without sending it in plaintext',
          );
        }
        await setOwnPassword(
          session,
          current.username,
          current.password,
          `restore the password of role "${current.username}"`,
        );
      } finally {
        await session.close();
      }
    },

    preflight: async () => [],
  };
}
