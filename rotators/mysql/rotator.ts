/**
 * The MySQL / MariaDB rotator: one password per secret, three strategies.
 *
 * - `single-user`: the account changes its own password (no privilege needed). Between setSecret
 *   and finishSecret only the pending password logs in: clients holding AWSCURRENT fail until they
 *   re-read the secret. Pick it when the application retries on authentication errors. A failed
 *   testSecret rolls back: the account sets AWSCURRENT's password back.
 * - `dual-password`: the account accepts the pending and the current password from setSecret on;
 *   the password before those stops at the next rotation. Zero downtime with one account. MariaDB
 *   10.4+ (`IDENTIFIED VIA ... OR ...`) or MySQL 8.0.14+ (`RETAIN CURRENT PASSWORD`).
 * - `alternating-users`: the managing user (`masterarn`) keeps a second account (`<name>_clone`)
 *   with the same access; each rotation moves the secret to the other account, whose password
 *   changes, so AWSCURRENT and AWSPREVIOUS both keep working.
 * - `rds-master`: the master user of an RDS database, rotated through the RDS API instead of SQL
 *   (../rdsMaster.ts): apply asks RDS to set the pending password, test waits until RDS applied
 *   it, rollback asks for the current one back. Single-user in nature: once RDS applies the
 *   change, the old password stops working.
 *
 * Who runs dual-password's ALTER USER: the `masterarn` user when the secret names one, else the
 * account itself. It is decided by the secret, not by probing privileges, so preflight checks the
 * exact account that will act and a revoked privilege fails loudly instead of silently switching
 * identities. The acting account needs CREATE USER (MariaDB, or MySQL for another account) or
 * APPLICATION_PASSWORD_ADMIN (MySQL, own account), and on MariaDB SELECT on mysql.global_priv.
 *
 * Trust boundaries (README "Trust boundaries", ../trust.ts): the managing user logs in only where
 * its own secret or its binding says (`masterLogin`), acts for an account only once AWSCURRENT or
 * AWSPREVIOUS logged in as it or an operator adopted it, within the binding's `manages`
 * (`prove`, `authorize`), and alters a clone only when rotor's catalogue records it
 * (strategies/alternatingUsers.ts).
 * No login sends a replayable credential without verified TLS (client.ts).
 *
 * Passwords reach MariaDB only as mysql_native_password hashes computed here; MySQL gets the
 * statements it rewrites before logging (see ./sql.ts). Every login goes over TLS, verified with
 * the host name, unless the secret says plaintext (../tls.ts).
 *
 * Files: this one holds the strategy table and dispatches once per request; each strategy is one
 * file in ./strategies/ (createPending, apply, test, rollback, preflight parts); ./engine.ts holds
 * what they share (logins, proof, the managing user), on top of ../sql/kit.ts.
 *
 * Exercised for real: MariaDB 10.11 (every strategy, TLS on a throwaway server). MySQL 8.0 / 8.4
 * and Aurora MySQL 3: no server was available; every strategy runs against a model of MySQL's
 * documented account semantics (test/mysql/model/mysql8.ts) through every fault and retry order,
 * and the exact statements per version are pinned (test/mysql/mysql8Sql.test.ts).
 */
import type { StrategyImpl } from '../sql/strategy.js';
import type { Rotator } from '../types.js';
import { createMysqlEngine, type MysqlRotatorOptions, passwordWithSymbol } from './engine.js';
import { ENGINES, type MysqlSecret, parseMysqlSecret, type Strategy } from './secret.js';
import { alternatingUsers } from './strategies/alternatingUsers.js';
import { dualPassword } from './strategies/dualPassword.js';
import { rdsMaster } from './strategies/rdsMaster.js';
import { singleUser } from './strategies/singleUser.js';

export type { MysqlRotatorOptions } from './engine.js';

export function createMysqlRotator(options: MysqlRotatorOptions = {}) {
  const engine = createMysqlEngine(options);
  const strategies: Record<Strategy, StrategyImpl<MysqlSecret>> = {
    'single-user': singleUser(engine),
    'dual-password': dualPassword(engine),
    'alternating-users': alternatingUsers(engine),
    'rds-master': rdsMaster(engine),
  };

  return {
    engines: ENGINES,
    /** createPending only reads (see there): PutSecretValue alone tells whether a value is stored. */
    createPendingChangesNothing: true,

    parse: ({ value, label, managedDatabase }) => parseMysqlSecret(value, label, managedDatabase),

    strategy: (secret) => secret.strategy,

    /**
     * A new password on the same account (single-user, dual-password, rds-master) or on the other
     * account (alternating-users). Mints nothing: calling it again only draws another password.
     */
    async createPending(request) {
      const password = passwordWithSymbol(request.generatePassword);
      const changes = await strategies[request.current.strategy].createPending(request, password);
      return { pending: { ...request.currentValue, ...changes, password } };
    },

    /** Makes the pending password log in; succeeds without change when already applied. */
    apply: (request) => strategies[request.current.strategy].apply(request),

    /** Logs in with the pending credentials and checks them; changes nothing. */
    test: (request) => strategies[request.pending.strategy].test(request),

    /** After a failed test, puts the AWSCURRENT password back where apply replaced it. */
    rollback: (request) => strategies[request.current.strategy].rollback(request),

    /** Read-only checks of what a rotation will need; one line per check, each with a fix. */
    preflight: (request) => strategies[request.current.strategy].preflight(request),
  } satisfies Rotator<MysqlSecret>;
}

/** The rotator with the mysql2 driver. */
export const mysqlRotator = createMysqlRotator();
