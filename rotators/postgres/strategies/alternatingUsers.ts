/**
 * alternating-users: two login roles take turns, `<owner>` and `<owner>_clone`; a managing role
 * (`masterarn`) sets the password of the one not in use, so the credential in AWSCURRENT keeps
 * working during and after the rotation, until the rotation after next. Ownership, markers and
 * drift: see ../rotator.ts.
 */
import {
  ForeignAccountError,
  InvalidSecretError,
  MasterBindingError,
  VerificationFailedError,
} from '../../errors.js';
import { previousFallback } from '../../fallback.js';
import { authorizeFor, errorDetail, type Proof } from '../../sql/kit.js';
import { notApplicable, type StrategyImpl } from '../../sql/strategy.js';
import { matchesPattern } from '../../trust.js';
import type { ApplyRequest, ApplyResponse, PreflightCheck, PreflightRequest } from '../../types.js';
import { describeTarget, type PgSession } from '../client.js';
import {
  describeTls,
  type MasterLogin,
  major,
  onceMoreAfterWriteConflict,
  type Pair,
  type PairState,
  type PostgresEngine,
  pairOf,
  requireSameServer,
  requireScramSafe,
  testPending,
  type Whoami,
} from '../engine.js';
import {
  cloneCheck,
  driftCheck,
  loginCheck,
  type MasterRights,
  managedCheck,
  masterRightsCheck,
} from '../preflight.js';
import { scramSha256Verifier } from '../scram.js';
import type { PostgresSecret } from '../secret.js';
import {
  alterCloneSql,
  BEGIN_SQL,
  CLONE_SUFFIX,
  COMMIT_SQL,
  cloneMarker,
  cloneUsername,
  createCloneSql,
  grantOwnerSql,
  MASTER_RIGHTS_SQL,
  markCloneSql,
  quoteIdentifier,
  ROLLBACK_SQL,
  roleSetting,
  setCloneRoleSql,
  setPasswordSql,
} from '../sql.js';

/** The statements of one apply, in one transaction (role DDL is transactional in PostgreSQL). */
async function writePair(
  session: PgSession,
  pair: Pair & { pendingIs: 'owner' | 'clone' },
  state: PairState,
  versionNum: number,
  password: string,
): Promise<void> {
  const { owner, clone } = pair;
  const marked = state.clone_marker === cloneMarker(owner);
  const verifier = scramSha256Verifier(password);
  const run = (sql: string, purpose: string) => session.query(sql, undefined, { purpose });
  await run(BEGIN_SQL, 'begin a transaction');
  try {
    if (pair.pendingIs === 'owner')
      await run(setPasswordSql(owner, verifier), `set the password of role "${owner}"`);
    else if (state.clone_exists)
      await run(alterCloneSql(clone, verifier), `set the password of role "${clone}"`);
    else await run(createCloneSql(clone, verifier), `create role "${clone}"`);
    if ((state.clone_exists || pair.pendingIs === 'clone') && !marked) {
      await run(
        markCloneSql(clone, owner),
        `mark role "${clone}" as rotor's clone of "${owner}" (COMMENT ON ROLE)`,
      );
    }
    if (pair.pendingIs === 'clone') {
      const inherits = state.is_member === true && state.inherits === true && state.can_set === true;
      if (!inherits)
        await run(grantOwnerSql(owner, clone, major(versionNum)), `grant role "${owner}" to "${clone}"`);
      if (roleSetting(state.clone_settings) !== owner) {
        await run(
          setCloneRoleSql(clone, owner),
          `make role "${clone}" act as "${owner}" (ALTER ROLE ... SET role)`,
        );
      }
    }
    await run(COMMIT_SQL, 'commit the role changes');
  } catch (error) {
    await session.query(ROLLBACK_SQL).catch(() => undefined);
    throw error;
  }
}

/** Drift between the two roles, as the pending role sees it. Throws when the clone would not act as the owner. */
async function checkPair(
  engine: PostgresEngine,
  session: PgSession,
  who: Whoami,
  pending: PostgresSecret,
  current: PostgresSecret,
): Promise<string[]> {
  const pair = pairOf(current.username, pending.username);
  const { owner, clone } = pair;
  if (pair.pendingIs === 'clone' && who.current_user !== owner) {
    throw new VerificationFailedError(
      `role "${clone}" logs in as itself, not as "${owner}": objects it created would not belong to "${owner}" (its membership in "${owner}" or its role setting is missing)`,
    );
  }
  const warnings: string[] = [];
  if (pair.pendingIs === 'owner' && who.current_user !== owner) {
    warnings.push(
      `role "${owner}" starts its sessions as "${who.current_user}" (a role setting): objects it creates belong to "${who.current_user}"`,
    );
  }
  const state = await engine.pairState(session, who.version_num, pair);
  if (pair.pendingIs === 'owner' && state.clone_exists) {
    if (
      !(state.is_member && state.inherits && state.can_set) ||
      roleSetting(state.clone_settings) !== owner
    ) {
      warnings.push(
        `role "${clone}" is no longer set up to act as "${owner}" (membership with INHERIT and SET, and ALTER ROLE ... SET role); the next rotation restores it`,
      );
    }
  }
  if ((state.clone_owned ?? 0) > 0) {
    warnings.push(
      `role "${clone}" owns ${state.clone_owned} object(s) that "${owner}" does not: run REASSIGN OWNED BY ${quoteIdentifier(clone)} TO ${quoteIdentifier(owner)} in each database`,
    );
  }
  if ((state.clone_grants ?? 0) > 0) {
    warnings.push(
      `role "${clone}" holds ${state.clone_grants} privilege(s) in its own name: grant them to "${owner}" instead, the clone inherits them`,
    );
  }
  return warnings;
}

/** The managing role's secret, login and rights, the clone's state and drift. Reads only. */
async function preflightAlternating(
  engine: PostgresEngine,
  request: PreflightRequest<PostgresSecret>,
): Promise<PreflightCheck[]> {
  const { current } = request;
  let access: MasterLogin;
  try {
    access = await engine.masterLogin(current, request.fetchMaster);
  } catch (error) {
    return [
      {
        name: 'master secret',
        ok: false,
        detail: errorDetail(error),
        fix:
          error instanceof MasterBindingError
            ? `Name where the master logs in, outside this secret: "host" (and "port", TLS keys) in the master secret, or a "masters" entry binding ${current.masterarn} in the stage file; and give this secret that host and port`
            : "Point masterarn at a secret whose JSON holds the managing role's username, password and host (and port, dbname, TLS keys when they differ)",
      },
    ];
  }
  const master = access.login;
  const checks: PreflightCheck[] = [
    {
      name: 'master secret',
      ok: true,
      detail: `managing role "${master.username}" on ${describeTarget(master)} ${describeTls(master)}, as ${access.binding === undefined ? 'the master secret itself says' : `the ${access.binding.source} binds it`}`,
    },
  ];
  const { check, session, who } = await loginCheck(engine, 'master login', master, request, true);
  checks.push(check);
  if (session === undefined || who === undefined) return checks;
  try {
    const pair = await engine.resolvePair(session, current.username);
    const [rights] = await session.query<MasterRights>(MASTER_RIGHTS_SQL, [pair.owner, pair.clone], {
      purpose: "read the managing role's privileges",
    });
    const state = await engine.pairState(session, who.version_num, pair);
    checks.push(masterRightsCheck(master.username, pair, rights, state));
    const managed = access.binding?.manages;
    if (managed !== undefined) checks.push(managedCheck(pair, managed, matchesPattern));
    checks.push(cloneCheck(pair, state), driftCheck(pair, state));
  } catch (error) {
    checks.push({
      name: 'master privileges',
      ok: false,
      detail: errorDetail(error),
      fix: 'See the detail',
    });
  } finally {
    await session.close();
  }
  return checks;
}

export function alternatingUsers(engine: PostgresEngine): StrategyImpl<PostgresSecret> {
  /**
   * Before the master acts for the pair: both roles must be allowed by the binding's `manages`,
   * and the rotation must prove it holds one of them, or an operator adopted one of them. The
   * proof travels like the master: to the bound endpoint, over the master's TLS when it is
   * verified (the rotated secret's TLS keys are its writer's choice), else the secret's own.
   */
  async function authorizeForPair(
    request: ApplyRequest<PostgresSecret>,
    master: MasterLogin,
    pair: Pair,
  ): Promise<Proof | undefined> {
    const tls = master.login.tls.mode === 'disable' ? request.current.tls : master.login.tls;
    const own = [pair.owner, pair.clone];
    const provenBy = await engine.prove(request, own, tls);
    await authorizeFor({
      request,
      actor: `the managing user of ${master.secretId}`,
      binding: master.binding,
      users: own,
      own,
      provenBy,
    });
    return provenBy;
  }

  /**
   * As the managing user, set the pending role's password; when the pending role is the clone,
   * create it if needed (marked as rotor's) and (re)establish its membership in the owner and its
   * `role` setting. The role in AWSCURRENT is never touched. Before any of it: the master's
   * endpoint is bound, the rotation proves it holds the pair, and an existing clone must carry
   * rotor's marker naming the owner (ForeignAccountError), unless an operator adopted it.
   */
  async function applyOnce(request: ApplyRequest<PostgresSecret>): Promise<ApplyResponse> {
    const { current, pending } = request;
    const pair = pairOf(current.username, pending.username);
    const master = await engine.masterLogin(current, request.fetchMaster);
    // AWSCURRENT's role never has its password changed by rotor: when only AWSPREVIOUS proved the
    // pair, AWSCURRENT was changed elsewhere (and its users are failing), which on-call must see.
    const provenBy = await authorizeForPair(request, master, pair);
    const session = await engine.masterSession(master, request);
    try {
      const { version_num } = await engine.whoami(session);
      const state = await engine.pairState(session, version_num, pair);
      if (!state.owner_exists) {
        throw new InvalidSecretError(
          'username',
          `names the owner role "${pair.owner}", which does not exist on ${session.target}`,
          pair.pendingIs === 'owner' ? 'AWSPENDING' : 'AWSCURRENT',
        );
      }
      const { owner, clone } = pair;
      const marked = state.clone_marker === cloneMarker(owner);
      if (state.clone_exists && !marked && !(await request.adopted()).includes(clone)) {
        throw new ForeignAccountError(
          `role "${clone}" on ${session.target} exists but is not marked as rotor's clone of "${owner}" (rotor marks the clones its managing user creates): rotor changes neither it nor "${owner}" through it. If it is this secret's clone, an operator adopts it (rotor attach --adopt "${clone}") or marks it as a role with CREATEROLE: ${markCloneSql(clone, owner)}`,
        );
      }
      await writePair(session, pair, state, version_num, pending.password);
    } finally {
      await session.close();
    }
    return provenBy === 'AWSPREVIOUS' ? previousFallback(`role "${current.username}"`) : {};
  }

  return {
    /**
     * The other role of the pair, which may need the server to tell a clone from an owner.
     * Read-only: a repeated call changes nothing anywhere.
     */
    async createPending(request) {
      const { current } = request;
      if (!current.username.endsWith(CLONE_SUFFIX)) return { username: cloneUsername(current.username) };
      const master = await engine.masterLogin(current, request.fetchMaster);
      const session = await engine.masterSession(master, request);
      try {
        const pair = await engine.resolvePair(session, current.username);
        return { username: pair.owner === current.username ? pair.clone : pair.owner };
      } finally {
        await session.close();
      }
    },

    async apply(request) {
      const { current, pending } = request;
      requireSameServer(current, pending);
      requireScramSafe(pending);
      if (pending.username === current.username) {
        throw new InvalidSecretError(
          'username',
          "must differ from AWSCURRENT's: alternating-users rotation never changes the password in use",
          'AWSPENDING',
        );
      }
      return await onceMoreAfterWriteConflict(() => applyOnce(request));
    },

    /**
     * Checks the pair (see Drift in ../rotator.ts). RotateSecret with RotateImmediately=false tests
     * the configuration with a copy of AWSCURRENT as the pending value: no pair to compare then.
     */
    test: (request) =>
      testPending(engine, request, undefined, async (session, who) => {
        const current = await request.current();
        return current !== undefined && current.username !== request.pending.username
          ? checkPair(engine, session, who, request.pending, current)
          : [];
      }),

    /** The credential in use is never touched: nothing to roll back. */
    rollback: notApplicable,

    preflight: (request) => preflightAlternating(engine, request),
  };
}
