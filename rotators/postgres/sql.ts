/**
 * The SQL the PostgreSQL rotator sends, built in one place so unit tests can pin its exact text.
 *
 * Values travel as bind parameters. Role names cannot (DDL takes identifiers, not parameters), so
 * they are quoted by `quoteIdentifier`, which is safe for any name PostgreSQL accepts. The SCRAM
 * verifier cannot be a parameter either (ALTER ROLE ... PASSWORD takes a literal); it is checked
 * to hold only base64 characters, `$` and `:` before it is written between single quotes.
 */

import { CLONE_SUFFIX, cloneName, truncateUtf8 } from '../trust.js';
import { VERIFIER_PATTERN } from './scram.js';
import { MAX_IDENTIFIER_BYTES } from './secret.js';

/**
 * Double-quotes an identifier: any text, with embedded double quotes doubled. Quoted identifiers
 * are case-sensitive and immune to keywords (`"user"`), spaces and every other character; only
 * NUL cannot be represented, and names longer than 63 bytes would be silently truncated.
 */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\0') || Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new RangeError(`an identifier must be 1 to ${MAX_IDENTIFIER_BYTES} bytes without NUL`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SCRAM verifier as a SQL string literal. Throws (without quoting it) if it is anything else. */
export function quoteVerifier(verifier: string): string {
  if (!VERIFIER_PATTERN.test(verifier)) throw new RangeError('not a SCRAM-SHA-256 verifier');
  return `'${verifier}'`;
}

export { CLONE_SUFFIX, truncateUtf8 };

/**
 * The alternating partner of an owner role: `<owner>_clone` (AWS's convention) when it fits in
 * PostgreSQL's 63 bytes; else the owner's name is cut and a short hash of the full name keeps two
 * owners with the same prefix apart (`<cut>_<8 hex>_clone`, ../trust.ts `cloneName`).
 */
export function cloneUsername(owner: string): string {
  return cloneName(owner, MAX_IDENTIFIER_BYTES);
}

/**
 * The clone name rotor used before clone names carried a hash: the owner's name cut to fit, then
 * `_clone`. Two owners sharing a 57-byte prefix got the same one; only read, to recognise pairs
 * made back then (a new clone of a long name gets `cloneUsername`).
 */
export function legacyCloneUsername(owner: string): string {
  return truncateUtf8(owner, MAX_IDENTIFIER_BYTES - CLONE_SUFFIX.length) + CLONE_SUFFIX;
}

/** Whether `clone` is a name rotor gives (or gave) to `owner`'s clone. */
export function isCloneNameOf(clone: string, owner: string): boolean {
  return clone === cloneUsername(owner) || clone === legacyCloneUsername(owner);
}

/**
 * The marker rotor's master puts on a clone it creates (a role comment): only a role with
 * CREATEROLE (and, on PostgreSQL 16+, ADMIN OPTION on the clone) or a superuser may write one, so
 * a role cannot mark itself, and the secret's writer cannot write it at all.
 */
export const CLONE_MARKER_PREFIX = 'rotor clone of ';

export function cloneMarker(owner: string): string {
  return `${CLONE_MARKER_PREFIX}${owner}`;
}

/** A SQL string literal for any text without NUL (E'' with doubled backslashes when it has any). */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new RangeError('a literal cannot hold NUL');
  const quoted = text.replaceAll("'", "''");
  return text.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** Marks `clone` as rotor's clone of `owner` (see `CLONE_MARKER_PREFIX`). */
export function markCloneSql(clone: string, owner: string): string {
  return `COMMENT ON ROLE ${quoteIdentifier(clone)} IS ${quoteLiteral(cloneMarker(owner))}`;
}

/** `ALTER ROLE ... PASSWORD` with a client-computed verifier: the plaintext never reaches the server. */
export function setPasswordSql(role: string, verifier: string): string {
  return `ALTER ROLE ${quoteIdentifier(role)} WITH PASSWORD ${quoteVerifier(verifier)}`;
}

/**
 * Sets an existing clone's password, and makes sure it may log in and inherits what it is
 * granted (before PostgreSQL 16 the member's INHERIT attribute decides for every membership).
 */
export function alterCloneSql(clone: string, verifier: string): string {
  return `ALTER ROLE ${quoteIdentifier(clone)} WITH LOGIN INHERIT PASSWORD ${quoteVerifier(verifier)}`;
}

export function createCloneSql(clone: string, verifier: string): string {
  return `CREATE ROLE ${quoteIdentifier(clone)} WITH LOGIN INHERIT PASSWORD ${quoteVerifier(verifier)}`;
}

/**
 * Makes the clone a member of the owner. PostgreSQL 16 split membership into INHERIT (use the
 * owner's privileges) and SET (SET ROLE to it): the clone needs both. Before 16, membership
 * always allows SET ROLE and inheritance follows the member's INHERIT attribute.
 */
export function grantOwnerSql(owner: string, clone: string, major: number): string {
  const grant = `GRANT ${quoteIdentifier(owner)} TO ${quoteIdentifier(clone)}`;
  return major >= 16 ? `${grant} WITH INHERIT TRUE, SET TRUE` : grant;
}

/** Every session of the clone starts as the owner, so what it creates belongs to the owner. */
export function setCloneRoleSql(clone: string, owner: string): string {
  return `ALTER ROLE ${quoteIdentifier(clone)} SET role = ${quoteIdentifier(owner)}`;
}

/** Reads the session's identity and the server's version. */
export const WHOAMI_SQL =
  "SELECT session_user::text AS session_user, current_user::text AS current_user, current_setting('server_version_num')::int AS version_num";

/**
 * The state of an owner/clone pair, as the catalogs any role may read tell it ($1 owner, $2 clone):
 * whether each exists, whether the clone is a direct member of the owner with inheritance and SET,
 * the clone's `role` setting (all databases), and what the clone holds in its own name.
 */
export function pairStateSql(major: number): string {
  // Before 16, membership always allows SET ROLE and inheritance is the member's attribute.
  const [inherits, canSet, options] =
    major >= 16
      ? [
          'm.inherits',
          'm.can_set',
          ', bool_or(m.inherit_option) AS inherits, bool_or(m.set_option) AS can_set',
        ]
      : ['c.rolinherit', 'm.member_count > 0', ''];
  return `SELECT o.oid IS NOT NULL AS owner_exists,
  o.rolsuper AS owner_superuser,
  c.oid IS NOT NULL AS clone_exists,
  m.member_count > 0 AS is_member,
  ${inherits} AS inherits,
  ${canSet} AS can_set,
  (SELECT s.setconfig::text[] FROM pg_db_role_setting s WHERE s.setrole = c.oid AND s.setdatabase = 0) AS clone_settings,
  shobj_description(c.oid, 'pg_authid') AS clone_marker,
  (SELECT count(*)::int FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = c.oid AND d.deptype = 'o') AS clone_owned,
  (SELECT count(*)::int FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = c.oid AND d.deptype = 'a') AS clone_grants
FROM (SELECT 1) AS one
LEFT JOIN pg_roles o ON o.rolname = $1
LEFT JOIN pg_roles c ON c.rolname = $2
LEFT JOIN LATERAL (
  SELECT count(*) AS member_count${options}
  FROM pg_auth_members m WHERE m.roleid = o.oid AND m.member = c.oid
) m ON true`;
}

/** The role a clone's `role` setting names, from `pg_db_role_setting.setconfig`. */
export function roleSetting(settings: readonly string[] | null | undefined): string | undefined {
  for (const entry of settings ?? []) {
    if (entry.startsWith('role=')) return entry.slice('role='.length);
  }
  return undefined;
}

/**
 * What tells the owner of a role named like a clone ($1): rotor's marker (a role comment, and
 * whether the role it names exists), its `role` setting (and whether that role exists) and the
 * roles it is a direct member of. Only the marker is trusted to decide what rotor may change; the
 * rest recognises pairs made before markers existed.
 */
export const CLONE_OWNER_SQL = `SELECT s.settings,
  shobj_description(c.oid, 'pg_authid') AS marker,
  EXISTS (SELECT 1 FROM pg_roles r WHERE '${CLONE_MARKER_PREFIX}' || r.rolname = shobj_description(c.oid, 'pg_authid')) AS marker_owner_exists,
  EXISTS (SELECT 1 FROM pg_roles r WHERE 'role=' || r.rolname = ANY(s.settings)) AS setting_role_exists,
  ARRAY(SELECT o.rolname::text FROM pg_auth_members m JOIN pg_roles o ON o.oid = m.roleid WHERE m.member = c.oid) AS member_of
FROM pg_roles c
LEFT JOIN LATERAL (
  SELECT d.setconfig::text[] AS settings FROM pg_db_role_setting d WHERE d.setrole = c.oid AND d.setdatabase = 0
) s ON true
WHERE c.rolname = $1`;

/**
 * What the managing user may do ($1 owner, $2 clone): superuser, CREATEROLE, and ADMIN OPTION on
 * each role (PostgreSQL 16+ requires it besides CREATEROLE to alter or grant a role).
 */
export const MASTER_RIGHTS_SQL = `SELECT r.rolsuper AS superuser, r.rolcreaterole AS createrole,
  current_setting('server_version_num')::int AS version_num,
  (SELECT pg_has_role(o.oid, 'USAGE WITH ADMIN OPTION') FROM pg_roles o WHERE o.rolname = $1) AS owner_admin,
  (SELECT pg_has_role(c.oid, 'USAGE WITH ADMIN OPTION') FROM pg_roles c WHERE c.rolname = $2) AS clone_admin
FROM pg_roles r WHERE r.rolname = session_user`;

export const BEGIN_READ_ONLY_SQL = 'BEGIN TRANSACTION READ ONLY';
export const ROLLBACK_SQL = 'ROLLBACK';
export const BEGIN_SQL = 'BEGIN';
export const COMMIT_SQL = 'COMMIT';
/** Acts as the session user even if a `role` setting made the session start as another role. */
export const RESET_ROLE_SQL = 'SET ROLE NONE';
