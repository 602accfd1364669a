/**
 * PostgreSQL preflight lines shared by the strategies: the login check, and the managing role's
 * rights, the clone's state and privilege drift for alternating users. Reads only.
 */
import {
  AuthenticationFailedError,
  InsecureAuthenticationError,
  InvalidSecretError,
  PermissionDeniedError,
  TargetUnreachableError,
} from '../errors.js';
import { errorDetail, type Timing } from '../sql/kit.js';
import type { PreflightCheck } from '../types.js';
import { describeTarget, type PgSession } from './client.js';
import {
  describeTls,
  MIN_VERSION_NUM,
  major,
  type Pair,
  type PairState,
  type PostgresEngine,
  type Whoami,
} from './engine.js';
import type { PostgresLogin } from './secret.js';
import { cloneMarker, markCloneSql, quoteIdentifier, roleSetting } from './sql.js';

export interface MasterRights {
  superuser: boolean;
  createrole: boolean;
  version_num: number;
  owner_admin: boolean | null;
  clone_admin: boolean | null;
}

/** One preflight line for a login, and the session when it worked. */
export async function loginCheck(
  engine: PostgresEngine,
  name: string,
  login: PostgresLogin,
  request: Timing,
  catalogOnly = false,
): Promise<{ check: PreflightCheck; session?: PgSession; who?: Whoami }> {
  const target = describeTarget(login);
  let session: PgSession;
  try {
    session = await engine.open(login, request, catalogOnly);
  } catch (error) {
    return { check: { name, ok: false, detail: errorDetail(error), fix: loginFix(error) } };
  }
  try {
    const who = await engine.whoami(session);
    const version = major(who.version_num);
    const check: PreflightCheck =
      who.version_num < MIN_VERSION_NUM
        ? {
            name,
            ok: false,
            detail: `${target} runs PostgreSQL ${version}`,
            fix: 'Upgrade to PostgreSQL 10 or later: rotor sets SCRAM-SHA-256 verifiers',
          }
        : {
            name,
            ok: true,
            detail: `role "${who.session_user}" logs in to ${target} (PostgreSQL ${version}) ${describeTls(login)}`,
          };
    return { check, session, who };
  } catch (error) {
    await session.close();
    return { check: { name, ok: false, detail: errorDetail(error), fix: loginFix(error) } };
  }
}

/** Whether the binding's manages patterns allow both roles of the pair. */
export function managedCheck(
  pair: Pair,
  managed: readonly string[],
  matches: (user: string, pattern: string) => boolean,
): PreflightCheck {
  const outside = [pair.owner, pair.clone].filter(
    (user) => !managed.some((pattern) => matches(user, pattern)),
  );
  return outside.length === 0
    ? {
        name: 'managed users',
        ok: true,
        detail: `the binding's manages patterns allow "${pair.owner}" and "${pair.clone}"`,
      }
    : {
        name: 'managed users',
        ok: false,
        detail: `the binding's manages patterns (${managed.join(', ')}) do not allow ${outside.map((u) => `"${u}"`).join(' and ')}`,
        fix: `Add a pattern for ${outside.map((u) => `"${u}"`).join(' and ')} to the "manages" of the master's stage file entry`,
      };
}

/** Objects or grants the clone holds in its own name. */
export function driftCheck(pair: Pair, state: PairState): PreflightCheck {
  const drift = (state.clone_owned ?? 0) + (state.clone_grants ?? 0);
  return drift === 0
    ? {
        name: 'privilege drift',
        ok: true,
        detail: `role "${pair.clone}" owns nothing and holds no grant in its own name`,
      }
    : {
        name: 'privilege drift',
        ok: false,
        detail: `role "${pair.clone}" owns ${state.clone_owned} object(s) and holds ${state.clone_grants} grant(s) in its own name`,
        fix: `In each database: REASSIGN OWNED BY ${quoteIdentifier(pair.clone)} TO ${quoteIdentifier(pair.owner)}; grant privileges to "${pair.owner}" only`,
      };
}

function loginFix(error: unknown): string {
  if (error instanceof InsecureAuthenticationError) {
    return "Make the role's login use SCRAM: scram-sha-256 in pg_hba.conf and the password set again with password_encryption = scram-sha-256 (or connect over verified TLS: tlsMode verify-full or verify-ca)";
  }
  if (error instanceof AuthenticationFailedError) {
    return "Check the username and password, and that pg_hba.conf lets this role in from the Lambda's network (scram-sha-256)";
  }
  if (error instanceof TargetUnreachableError) {
    return error.reason === 'tls'
      ? "Trust the server's CA with tlsCa (PEM) or name the certificate's host with tlsServerName; use ssl: false only on a network you trust"
      : 'Check host and port, and that the Lambda can reach the database (VPC, subnets, security groups)';
  }
  if (error instanceof InvalidSecretError) return `Fix the field "${error.field}"`;
  if (error instanceof PermissionDeniedError) return 'Grant the privilege named in the detail';
  return 'See the detail';
}

export function masterRightsCheck(
  master: string,
  pair: Pair,
  rights: MasterRights | undefined,
  state: PairState,
): PreflightCheck {
  const name = 'master privileges';
  if (rights === undefined)
    return { name, ok: false, detail: 'the role catalog returned nothing', fix: 'See the detail' };
  if (rights.superuser) return { name, ok: true, detail: `role "${master}" is a superuser` };
  const m = quoteIdentifier(master);
  if (!rights.createrole) {
    return {
      name,
      ok: false,
      detail: `role "${master}" lacks CREATEROLE`,
      fix: `ALTER ROLE ${m} CREATEROLE`,
    };
  }
  if (!state.owner_exists) {
    return {
      name,
      ok: false,
      detail: `role "${pair.owner}" does not exist`,
      fix: "Fix the secret's username",
    };
  }
  if (major(rights.version_num) >= 16) {
    // Since PostgreSQL 16 CREATEROLE alone no longer lets a role alter or grant another role.
    const missing = [
      ...(rights.owner_admin ? [] : [pair.owner]),
      ...(state.clone_exists && !rights.clone_admin ? [pair.clone] : []),
    ];
    if (missing.length > 0) {
      return {
        name,
        ok: false,
        detail: `role "${master}" has CREATEROLE but not ADMIN OPTION on ${missing.map((r) => `"${r}"`).join(' and ')} (required since PostgreSQL 16)`,
        fix: missing
          .map((r) => `GRANT ${quoteIdentifier(r)} TO ${m} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`)
          .join('; '),
      };
    }
    return {
      name,
      ok: true,
      detail: `role "${master}" has CREATEROLE and ADMIN OPTION on the roles it manages`,
    };
  }
  if (state.owner_superuser) {
    return {
      name,
      ok: false,
      detail: `role "${pair.owner}" is a superuser: a CREATEROLE role cannot manage it`,
      fix: 'Rotate a non-superuser role, or use a superuser as the managing role',
    };
  }
  return { name, ok: true, detail: `role "${master}" has CREATEROLE` };
}

export function cloneCheck(pair: Pair, state: PairState): PreflightCheck {
  const name = 'clone role';
  if (!state.clone_exists) {
    return {
      name,
      ok: true,
      detail: `role "${pair.clone}" does not exist yet: the first rotation creates it as a member of "${pair.owner}"`,
    };
  }
  if (state.clone_marker !== cloneMarker(pair.owner)) {
    return {
      name,
      ok: false,
      detail: `role "${pair.clone}" exists but is not marked as rotor's clone of "${pair.owner}": rotation refuses to change it (ForeignAccountError)`,
      fix: `If it is this secret's clone: rotor attach --adopt "${pair.clone}", or as a role with CREATEROLE: ${markCloneSql(pair.clone, pair.owner)}; else rename it or rotate another user`,
    };
  }
  const setUp =
    state.is_member && state.inherits && state.can_set && roleSetting(state.clone_settings) === pair.owner;
  return {
    name,
    ok: true,
    detail: setUp
      ? `role "${pair.clone}" acts as "${pair.owner}"`
      : `role "${pair.clone}" exists but does not act as "${pair.owner}" yet: the next rotation that sets its password restores its membership and role setting`,
  };
}
