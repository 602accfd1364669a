/**
 * single-user: the account changes its own password (no privilege needed). Between setSecret and
 * finishSecret only the pending password logs in: clients holding AWSCURRENT fail until they
 * re-read the secret. A failed testSecret rolls back: the account sets AWSCURRENT's password back.
 */
import { AuthenticationFailedError, PermissionDeniedError, RotorError } from '../../errors.js';
import { previousFallback } from '../../fallback.js';
import { attemptLogin } from '../../sql/kit.js';
import type { StrategyImpl } from '../../sql/strategy.js';
import type { ApplyRequest, ApplyResponse, RollbackRequest } from '../../types.js';
import { causeCode, type MysqlSession } from '../client.js';
import {
  assertIdentity,
  assertSameIdentity,
  assertServerSupported,
  type MysqlEngine,
  testPending,
} from '../engine.js';
import type { MysqlSecret } from '../secret.js';
import { atLeast, changeOwnPassword, discardOldPassword, formatAccount, setPrimaryPassword } from '../sql.js';

/**
 * On MySQL 8.0.14+ a secondary password (from earlier dual-password use) would keep logging in
 * after the rotation. Discarding one's own needs APPLICATION_PASSWORD_ADMIN (or CREATE USER, or
 * UPDATE on mysql); without it the secondary stays, as it was before rotor (README: single-user).
 */
async function discardOwnSecondary(session: MysqlSession, account: MysqlSecret['account']): Promise<void> {
  if (session.server.flavour !== 'mysql' || !atLeast(session.server, 8, 0, 14)) return;
  try {
    await session.query(discardOldPassword(account), `discard the old password of ${formatAccount(account)}`);
  } catch (error) {
    if (!(error instanceof PermissionDeniedError)) throw error;
  }
}

/** The account sets its own password to `pending`, logged in with `password`. */
async function changeOwn(session: MysqlSession, current: MysqlSecret, pending: string, password: string) {
  const what = `change the password of ${formatAccount(current.account)}`;
  try {
    await session.query(
      changeOwnPassword(session.server, {
        account: current.account,
        newPassword: pending,
        loginPassword: password,
      }),
      what,
    );
  } catch (error) {
    // MySQL compares REPLACE with the primary password only (3891, nothing changed): the login
    // used a secondary left from earlier dual-password use. Without REPLACE the account may
    // still change its own password unless password_require_current is on.
    if (!(error instanceof RotorError) || causeCode(error) !== '3891') throw error;
    await session.query(
      setPrimaryPassword(session.server, { account: current.account, password: pending, self: true }),
      what,
    );
  }
}

export function singleUser(engine: MysqlEngine): StrategyImpl<MysqlSecret> {
  async function apply(request: ApplyRequest<MysqlSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, 'single-user');
    const { session, used, password } = await engine.loginAsAccount(request);
    try {
      assertIdentity(session, current.account, used);
      // Logging in with the pending password means the change was made by an earlier attempt.
      if (used !== 'AWSPENDING') {
        assertServerSupported(session);
        await changeOwn(session, current, pending.password, password);
      }
      await discardOwnSecondary(session, current.account);
    } finally {
      await session.close();
    }
    return used === 'AWSPREVIOUS' ? previousFallback(formatAccount(current.account)) : {};
  }

  /**
   * The pending password logged in means apply changed it, and the account sets AWSCURRENT's back
   * (MariaDB gets its hash, MySQL `REPLACE`s the pending one). Pending first: rollback follows a
   * failed test, which usually follows a successful apply, so at most one login is refused. When
   * the pending password does not log in, AWSCURRENT must: then nothing was applied, or an
   * earlier rollback already restored it.
   */
  async function rollback(request: RollbackRequest<MysqlSecret>): Promise<void> {
    const { current, pending } = request;
    assertSameIdentity(current, pending, 'single-user');
    const session =
      current.password === pending.password
        ? undefined
        : await attemptLogin(() => engine.login(request, { ...current, password: pending.password }));
    if (session === undefined) {
      if (!(await engine.logsIn(request, current, 'AWSCURRENT'))) {
        throw new AuthenticationFailedError(
          `rollback: neither AWSPENDING nor AWSCURRENT logs in as ${formatAccount(current.account)} at ${current.host}:${current.port}; the password is neither rotor set`,
        );
      }
      return;
    }
    try {
      assertIdentity(session, current.account, 'AWSPENDING');
      assertServerSupported(session);
      await session.query(
        changeOwnPassword(session.server, {
          account: current.account,
          newPassword: current.password,
          loginPassword: pending.password,
        }),
        `put the AWSCURRENT password of ${formatAccount(current.account)} back`,
      );
    } finally {
      await session.close();
    }
  }

  return {
    createPending: async () => ({}),
    apply,
    test: (request) => testPending(engine, request),
    rollback,
    preflight: (request) => engine.preflight(request, {}),
  };
}
