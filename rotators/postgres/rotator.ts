/**
 * The PostgreSQL rotator.
 *
 * Strategies
 * - `single-user`: the role changes its own password (no other privilege needed). From apply on
 *   only the new password works, which is why apply recovers from every place a crash can leave
 *   it (see `applySingleUser`) and `rollback` puts the AWSCURRENT password back when the test
 *   fails.
 * - `alternating-users`: two login roles take turns, `<owner>` and `<owner>_clone`; a managing
 *   role (`masterarn`) sets the password of the one not in use, so the credential in AWSCURRENT
 *   keeps working during and after the rotation, until the rotation after next.
 *
 * Ownership (why not AWS's template): AWS's clone is a separate role that owns what it creates,
 * so tables created while the clone is AWSCURRENT are unreadable by the original user once the
 * roles swap back (privilege drift). Here both login roles act as ONE owner, the original role:
 * - the clone is a member of the owner with INHERIT and SET (`GRANT owner TO clone WITH INHERIT
 *   TRUE, SET TRUE` on PostgreSQL 16+, where membership options were split; a plain GRANT plus the
 *   clone's INHERIT attribute before), so it holds exactly the owner's privileges and nothing more;
 * - `ALTER ROLE clone SET role = owner` makes every session of the clone start as the owner, so
 *   `current_user` is the owner and everything the clone creates is owned by the owner.
 * A dedicated NOLOGIN owner role would be symmetric, but it means reassigning every existing
 * object of the user on the first rotation (REASSIGN OWNED, per database, under locks), and the
 * original role then loses ownership it may rely on; keeping the original role as the owner
 * changes nothing for existing objects and grants.
 * The managing role needs CREATEROLE (or superuser) and, on PostgreSQL 16+, ADMIN OPTION on the
 * owner (it gets ADMIN OPTION on the clone by creating it). `preflight` checks exactly that.
 *
 * Drift: testSecret, logged in as the pending role, fails (VerificationFailedError) when the clone
 * does not act as the owner (its membership or `role` setting is gone): a client using it would
 * create objects the owner cannot use. What does not break the rotation but is worth fixing (the
 * clone owning objects or holding grants in its own name, e.g. left by AWS's template; the idle
 * clone's setup gone) is reported in TestResponse.warnings; setSecret restores the clone's setup
 * whenever the clone is the pending role.
 *
 * Clone names: `<owner>_clone` (AWS's convention) when it fits in 63 bytes; a longer owner's name
 * is cut and a short hash of the full name added (`<cut>_<8 hex>_clone`), so two owners sharing a
 * prefix never share a clone. Clones named by the old rule (cut, no hash) are still recognised.
 *
 * Clones are rotor's only: the managing user marks every clone it creates, in the same
 * transaction, with a role comment `rotor clone of <owner>` (COMMENT ON ROLE needs CREATEROLE, and
 * ADMIN OPTION on the role since PostgreSQL 16: a role cannot mark itself, and the secret's writer
 * cannot write it). rotor changes an existing role of the clone's name, or the owner through it,
 * only when it carries that marker naming this owner; otherwise ForeignAccountError names it and
 * nothing changes. Upgrading (clones made before markers, or by AWS's template): an operator
 * adopts the clone for the secret (`rotor attach --adopt <clone>`; rotor then marks it at the next
 * rotation), or marks it as a CREATEROLE role with the statement the error message gives.
 *
 * Which role is the owner: a role whose name does not end in `_clone` is an owner. A name ending
 * in `_clone` is a clone when rotor's marker says so (naming an existing owner whose clone name it
 * is); without a marker, the older evidence (its `role` setting, else membership in the name
 * without the suffix) still names the pair so createPending picks the right partner, but apply
 * refuses to act on it until it is marked or adopted. A name ending in `_clone` with neither is
 * an owner itself (a user really named `data_clone` rotates with `data_clone_clone`).
 *
 * Trust (SECURITY.md): the secret's writer may not be trusted with the master.
 * - The master logs in only where its own secret (host, port, TLS keys) or its binding says, and
 *   the secret's host and port must be that endpoint (MasterBindingError, before any connection).
 * - Before the master acts for the pair, the rotation proves it holds it: AWSCURRENT (else
 *   AWSPREVIOUS) logs in as the secret's user or its partner in this very step, to the bound
 *   endpoint, authenticated by SCRAM or over verified TLS (a server that lets anyone in proves
 *   nothing); or an operator adopted the user. Both roles must match the binding's `manages`
 *   patterns (default: the secret's own pair). UnprovenUserError / UnmanagedUserError otherwise.
 * - rds-master asks RDS to reset a master password only after the same proof (or adoption).
 * - No login sends a cleartext or MD5 password without verified TLS (client.ts).
 *
 * `rds-master`: the master user of an RDS database, rotated through the RDS API (../rdsMaster.ts):
 * apply asks RDS to set the pending password, test waits until RDS applied it, rollback asks RDS
 * for the current one back. No SQL changes anything; the step machine provides the RDS port.
 *
 * Passwords reach the server only as SCRAM-SHA-256 verifiers computed here (scram.ts).
 *
 * Files: this one holds the strategy table and dispatches once per request; each strategy is one
 * file in ./strategies/ (createPending, apply, test, rollback, preflight parts); ./engine.ts holds
 * what they share (logins, proof, the managing role, the pair), on top of ../sql/kit.ts.
 */
import type { StrategyImpl } from '../sql/strategy.js';
import type { PreflightCheck, Rotator } from '../types.js';
import { describeTarget } from './client.js';
import { createPostgresEngine, describeTls, loginOf, type PostgresRotatorOptions } from './engine.js';
import { loginCheck } from './preflight.js';
import { ENGINES, type PostgresSecret, parsePostgresSecret, type Strategy } from './secret.js';
import { alternatingUsers } from './strategies/alternatingUsers.js';
import { rdsMaster } from './strategies/rdsMaster.js';
import { singleUser } from './strategies/singleUser.js';

export type { PostgresRotatorOptions } from './engine.js';

export function createPostgresRotator(options: PostgresRotatorOptions = {}) {
  const engine = createPostgresEngine(options);
  const strategies: Record<Strategy, StrategyImpl<PostgresSecret>> = {
    'single-user': singleUser(engine),
    'alternating-users': alternatingUsers(engine),
    'rds-master': rdsMaster(engine),
  };

  return {
    engines: ENGINES,
    /** createPending only reads (see there): PutSecretValue alone tells whether a value is stored. */
    createPendingChangesNothing: true,

    parse: ({ value, label, managedDatabase }) => parsePostgresSecret(value, label, managedDatabase),

    strategy: (secret) => secret.strategy,

    /**
     * A new password; for alternating users, the other role of the pair. Read-only: a repeated
     * call changes nothing anywhere, and the value it returns is stored only once by the step
     * machine. Built from the stored JSON: unknown keys and the representation of known ones survive.
     */
    async createPending(request) {
      const password = request.generatePassword();
      const changes = await strategies[request.current.strategy].createPending(request, password);
      return { pending: { ...request.currentValue, password, ...changes } };
    },

    /**
     * Makes the pending password work. Idempotent. Checks the pending value against the current
     * one before any change, so a bad value changes nothing.
     */
    apply: (request) => strategies[request.current.strategy].apply(request),

    /** Logs in with the pending credentials and checks them; only reads, so it can be repeated. */
    test: (request) => strategies[request.pending.strategy].test(request),

    /** After a failed test: puts AWSCURRENT back where apply replaced it (single-user, rds-master). */
    rollback: (request) => strategies[request.current.strategy].rollback(request),

    /** Reads only: the login over the configured TLS mode, and what the strategy needs. */
    async preflight(request) {
      const { current } = request;
      const checks: PreflightCheck[] = [
        {
          name: 'secret',
          ok: true,
          detail: `${current.strategy}: role "${current.username}" on ${describeTarget(current)}, database "${current.dbname}", ${describeTls(current)}`,
        },
      ];
      const { check, session } = await loginCheck(engine, 'login', loginOf(current), request);
      checks.push(check);
      await session?.close();
      checks.push(...(await strategies[current.strategy].preflight(request)));
      return checks;
    },
  } satisfies Rotator<PostgresSecret>;
}

/** The PostgreSQL rotator with the real driver. */
export const postgresRotator = createPostgresRotator();
