/**
 * Pure SQL for MySQL and MariaDB: quoting, password hashes, server capabilities and every
 * statement the rotator sends, per server flavour. No I/O here, so the exact text of statements
 * for servers the test machine does not run (MySQL 8) is unit-tested.
 *
 * Two rules shape every builder:
 * - A password reaches MariaDB only as a mysql_native_password hash computed here: MariaDB writes
 *   `IDENTIFIED BY '<plaintext>'` into its general and binary logs as received. MySQL rewrites
 *   `CREATE USER` / `ALTER USER ... IDENTIFIED BY` (and `REPLACE`) before logging them, so MySQL
 *   gets those forms, except where the secret asks for `mysqlPasswordHash: client`
 *   (alternating-users): then `IDENTIFIED WITH caching_sha2_password AS '<stored string>'`.
 * - Names are quoted in forms whose meaning does not depend on the session's sql_mode: accounts and
 *   identifiers with backticks (no escape character in any mode), string literals according to
 *   the session's NO_BACKSLASH_ESCAPES, which the client reads when it connects.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CLONE_SUFFIX, cloneName as sharedCloneName } from '../trust.js';

export type Flavour = 'mysql' | 'mariadb';

/** What the rotator knows about the server it talks to. */
export interface ServerInfo {
  readonly flavour: Flavour;
  /** Major, minor, patch. */
  readonly version: readonly [number, number, number];
  /** Whether the session's sql_mode has NO_BACKSLASH_ESCAPES (changes string literal quoting). */
  readonly noBackslashEscapes: boolean;
}

/** An account: `user@host`. Host `%` is any host. */
export interface Account {
  readonly user: string;
  readonly host: string;
}

/** Reads the flavour and version from `SELECT VERSION()` (e.g. `10.11.6-MariaDB-0+deb12u1`, `8.0.36`). */
export function parseServerVersion(text: string): Pick<ServerInfo, 'flavour' | 'version'> | undefined {
  // Aurora MySQL 3 answers VERSION() with the MySQL version (8.0.x); its engine version string
  // (`8.0.mysql_aurora.3.05.2`) is read as the oldest MySQL any Aurora MySQL 3 is compatible
  // with, 8.0.23, should a server ever report it.
  if (/^8\.0\.mysql_aurora\.3\./i.test(text)) return { flavour: 'mysql', version: [8, 0, 23] };
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (match === null) return undefined;
  return {
    flavour: /mariadb/i.test(text) ? 'mariadb' : 'mysql',
    version: [Number(match[1]), Number(match[2]), Number(match[3])],
  };
}

export function atLeast(server: Pick<ServerInfo, 'version'>, major: number, minor = 0, patch = 0): boolean {
  const [a, b, c] = server.version;
  if (a !== major) return a > major;
  if (b !== minor) return b > minor;
  return c >= patch;
}

export function describeServer(server: Pick<ServerInfo, 'flavour' | 'version'>): string {
  return `${server.flavour === 'mariadb' ? 'MariaDB' : 'MySQL'} ${server.version.join('.')}`;
}

/** Whether the server can hold two passwords for one account (and which way). */
export function dualPasswordSupport(server: Pick<ServerInfo, 'flavour' | 'version'>): {
  supported: boolean;
  requirement: string;
} {
  return server.flavour === 'mariadb'
    ? // `IDENTIFIED VIA ... OR ...` (several authentication methods per account) came with 10.4.
      { supported: atLeast(server, 10, 4), requirement: 'MariaDB 10.4 or later' }
    : // `RETAIN CURRENT PASSWORD` came with 8.0.14.
      { supported: atLeast(server, 8, 0, 14), requirement: 'MySQL 8.0.14 or later' };
}

/** Whether the server has roles (and so default roles to keep in step). */
export function hasRoles(server: Pick<ServerInfo, 'flavour' | 'version'>): boolean {
  return server.flavour === 'mariadb' ? atLeast(server, 10, 0, 5) : atLeast(server, 8);
}

/**
 * The longest user name the server accepts, when `mysql.user`'s column length is not visible:
 * MariaDB 10.6+ accepts 128 characters and earlier versions 80; MySQL 5.7.8+ accepts 32 and earlier 16.
 */
export function fallbackUserNameLimit(server: Pick<ServerInfo, 'flavour' | 'version'>): number {
  if (server.flavour === 'mariadb') return atLeast(server, 10, 6) ? 128 : 80;
  return atLeast(server, 5, 7, 8) ? 32 : 16;
}

/** The oldest servers the rotator drives (for ALTER USER with IDENTIFIED, REQUIRE and WITH). */
export function minimumSupport(server: Pick<ServerInfo, 'flavour' | 'version'>): {
  supported: boolean;
  requirement: string;
} {
  return server.flavour === 'mariadb'
    ? { supported: atLeast(server, 10, 2), requirement: 'MariaDB 10.2 or later' }
    : { supported: atLeast(server, 5, 7, 6), requirement: 'MySQL 5.7.6 or later' };
}

// ---------------------------------------------------------------------------------------------
// Quoting
// ---------------------------------------------------------------------------------------------

/**
 * A string literal. Single quotes are doubled (valid in every mode); backslashes are doubled only
 * when the session treats them as escapes, because under NO_BACKSLASH_ESCAPES `\\` is two characters.
 * NUL is refused: the secret schema already keeps it out of names and passwords.
 */
export function quoteString(value: string, noBackslashEscapes: boolean): string {
  if (value.includes('\0')) throw new TypeError('a SQL string literal cannot hold NUL');
  const escaped = noBackslashEscapes ? value : value.replaceAll('\\', '\\\\');
  return `'${escaped.replaceAll("'", "''")}'`;
}

/**
 * An identifier (database, table, role or the parts of an account) in backticks. Inside backticks
 * only the backtick is special, and it is doubled; the meaning is the same under every sql_mode
 * (ANSI_QUOTES adds `"` quoting but keeps backticks).
 */
export function quoteIdentifier(value: string): string {
  if (value.includes('\0')) throw new TypeError('a SQL identifier cannot hold NUL');
  return `\`${value.replaceAll('`', '``')}\``;
}

/**
 * An account as `\`user\`@\`host\``, the form SHOW GRANTS prints. Not mysql2's `??`, which splits
 * names on dots (`app.user` would become `app`.`user`).
 */
export function quoteAccount(account: Account): string {
  return `${quoteIdentifier(account.user)}@${quoteIdentifier(account.host)}`;
}

/** `user@host` for messages (not SQL). */
export function formatAccount(account: Account): string {
  return `'${account.user}'@'${account.host}'`;
}

/**
 * Splits `CURRENT_USER()`'s `user@host`. Host parts never contain `@` (the secret schema refuses
 * it), so the last `@` separates them even when the user name has one.
 */
export function parseCurrentUser(text: string): Account {
  const at = text.lastIndexOf('@');
  return at < 0 ? { user: text, host: '' } : { user: text.slice(0, at), host: text.slice(at + 1) };
}

/** Whether two accounts are the same: user names are case-sensitive, host names are not. */
export function sameAccount(a: Account, b: Account): boolean {
  return a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase();
}

/** mysql_native_password's stored form: `*` and the upper-case hex of SHA1(SHA1(password)). */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

const NATIVE_HASH = /^\*[0-9A-F]{40}$/;

/** Plugins whose password MySQL hashes itself from `IDENTIFIED WITH <plugin> BY '<password>'`. */
const MYSQL_PASSWORD_PLUGINS = new Set(['caching_sha2_password', 'mysql_native_password', 'sha256_password']);

export function isMysqlPasswordPlugin(plugin: string): boolean {
  return MYSQL_PASSWORD_PLUGINS.has(plugin);
}

// ---------------------------------------------------------------------------------------------
// Password statements
// ---------------------------------------------------------------------------------------------

export interface OwnPasswordChange {
  /** The account logged in (already checked against CURRENT_USER()). */
  account: Account;
  newPassword: string;
  /** The password the session logged in with (MySQL's REPLACE clause). */
  loginPassword: string;
}

/**
 * single-user: an account changes its own password, which needs no privilege.
 * - MariaDB: `SET PASSWORD FOR <account> = '<hash>'`: a literal is taken as a hash (a plaintext is
 *   refused with error 1372), so nothing readable reaches the logs.
 * - MySQL: `ALTER USER USER() IDENTIFIED BY ...` (the own-account form), with `REPLACE '<current>'`
 *   from 8.0.13 so that password_require_current does not refuse it. MySQL logs both as `<secret>`.
 */
export function changeOwnPassword(server: ServerInfo, change: OwnPasswordChange): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  if (server.flavour === 'mariadb') {
    return `SET PASSWORD FOR ${quoteAccount(change.account)} = ${q(nativePasswordHash(change.newPassword))}`;
  }
  const replace = atLeast(server, 8, 0, 13) ? ` REPLACE ${q(change.loginPassword)}` : '';
  return `ALTER USER USER() IDENTIFIED BY ${q(change.newPassword)}${replace}`;
}

export interface DualPasswordChange {
  account: Account;
  newPassword: string;
  /** AWSCURRENT's password, kept as the second one. */
  currentPassword: string;
  /** Whether the session is the account itself (MySQL needs the own-account form then). */
  self: boolean;
}

/**
 * dual-password: the new password becomes the first, the current one stays as the second, and
 * whatever else the account accepted (the password before, from the last rotation) is dropped.
 * - MariaDB 10.4+: both hashes, explicitly: applying it again gives the same account.
 * - MySQL 8.0.14+: `RETAIN CURRENT PASSWORD` keeps the account's primary password, whatever it is;
 *   replaying it after it worked would retain the *new* one and drop AWSCURRENT's. The rotator
 *   must therefore run it only when the new password does not log in yet.
 */
export function setDualPassword(server: ServerInfo, change: DualPasswordChange): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  if (server.flavour === 'mariadb') {
    const first = q(nativePasswordHash(change.newPassword));
    const second = q(nativePasswordHash(change.currentPassword));
    return `ALTER USER ${quoteAccount(change.account)} IDENTIFIED VIA mysql_native_password USING ${first} OR mysql_native_password USING ${second}`;
  }
  if (change.self) {
    return `ALTER USER USER() IDENTIFIED BY ${q(change.newPassword)} REPLACE ${q(change.currentPassword)} RETAIN CURRENT PASSWORD`;
  }
  return `ALTER USER ${quoteAccount(change.account)} IDENTIFIED BY ${q(change.newPassword)} RETAIN CURRENT PASSWORD`;
}

export interface AccountPassword {
  account: Account;
  password: string;
  /** MySQL: the plugin to keep (the primary account's). Ignored on MariaDB (always mysql_native_password). */
  plugin?: string;
  /**
   * MySQL, plugin caching_sha2_password only: the stored string (`cachingSha2Verifier`) to send
   * with `IDENTIFIED WITH caching_sha2_password AS` instead of the password (the secret's
   * `mysqlPasswordHash: client`). Ignored on MariaDB, which gets a hash anyway.
   */
  verifier?: string;
}

function identifiedBy(server: ServerInfo, target: AccountPassword): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  const { password, plugin, verifier } = target;
  if (server.flavour === 'mariadb') return `IDENTIFIED BY PASSWORD ${q(nativePasswordHash(password))}`;
  if (verifier !== undefined) {
    // Never the password in its place: only a stored string of the one plugin it is made for.
    if (plugin !== 'caching_sha2_password' || !CACHING_SHA2_VERIFIER.test(verifier)) {
      throw new TypeError('not a caching_sha2_password verifier for a caching_sha2_password account');
    }
    return `IDENTIFIED WITH caching_sha2_password AS ${q(verifier)}`;
  }
  if (plugin === undefined) return `IDENTIFIED BY ${q(password)}`;
  if (!isMysqlPasswordPlugin(plugin)) throw new TypeError('not a password plugin');
  return `IDENTIFIED WITH ${plugin} BY ${q(password)}`;
}

/** alternating-users: creates the other account with its password. */
export function createAccount(server: ServerInfo, target: AccountPassword): string {
  return `CREATE USER ${quoteAccount(target.account)} ${identifiedBy(server, target)}`;
}

/** alternating-users: replaces the other account's password (every method it had). */
export function setAccountPassword(server: ServerInfo, target: AccountPassword): string {
  return `ALTER USER ${quoteAccount(target.account)} ${identifiedBy(server, target)}`;
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/** `SELECT VERSION(), @@SESSION.sql_mode, CURRENT_USER()`: what a session learns when it opens. */
export const SESSION_INFO =
  'SELECT VERSION() AS version, @@SESSION.sql_mode AS sqlMode, CURRENT_USER() AS currentUser';

function whereAccount(server: ServerInfo, account: Account, user = 'User', host = 'Host'): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  return `${user} = ${q(account.user)} AND ${host} = ${q(account.host)}`;
}

/**
 * An account's row of mysql.user (a view over mysql.global_priv on MariaDB 10.4+): its TLS
 * requirement, resource limits, plugin, and on MariaDB its statement time limit and default role.
 */
export function selectAccount(server: ServerInfo, account: Account): string {
  const mariadb =
    server.flavour === 'mariadb'
      ? `, max_statement_time, ${atLeast(server, 10, 0, 5) ? 'default_role' : "'' AS default_role"}`
      : '';
  return `SELECT plugin, ssl_type, ssl_cipher, x509_issuer, x509_subject, max_questions, max_updates, max_connections, max_user_connections${mariadb}${mysqlPolicyColumns(server)} FROM mysql.user WHERE ${whereAccount(server, account)}`;
}

/**
 * MySQL: the columns of mysql.user holding an account's password and lock policy, by the version
 * that added them (5.7.6 password_lifetime and account_locked; 8.0.3 the history and reuse
 * columns; 8.0.13 Password_require_current; 8.0.14 User_attributes, which holds
 * FAILED_LOGIN_ATTEMPTS / PASSWORD_LOCK_TIME from 8.0.19 and COMMENT / ATTRIBUTE from 8.0.21).
 */
function mysqlPolicyColumns(server: ServerInfo): string {
  if (server.flavour !== 'mysql') return '';
  return [
    ...(atLeast(server, 5, 7, 6) ? ['password_lifetime', 'account_locked'] : []),
    ...(atLeast(server, 8, 0, 3) ? ['Password_reuse_history', 'Password_reuse_time'] : []),
    ...(atLeast(server, 8, 0, 13) ? ['Password_require_current'] : []),
    ...(atLeast(server, 8, 0, 14) ? ['User_attributes'] : []),
  ]
    .map((column) => `, ${column}`)
    .join('');
}

/** MariaDB 10.4+: the account's authentication methods as JSON (`auth_or` lists the alternatives). */
export function selectGlobalPriv(server: ServerInfo, account: Account): string {
  return `SELECT Priv FROM mysql.global_priv WHERE ${whereAccount(server, account)}`;
}

/** MySQL 8: the account's default roles. */
export function selectDefaultRoles(server: ServerInfo, account: Account): string {
  return `SELECT DEFAULT_ROLE_USER AS user, DEFAULT_ROLE_HOST AS host FROM mysql.default_roles WHERE ${whereAccount(server, account, 'USER', 'HOST')} ORDER BY DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST`;
}

/** The user-name column's length: the server's limit for account names. */
export const SELECT_USER_NAME_LIMIT =
  "SELECT CHARACTER_MAXIMUM_LENGTH AS limitChars FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'User'";

export function showGrants(account: Account): string {
  return `SHOW GRANTS FOR ${quoteAccount(account)}`;
}

// ---------------------------------------------------------------------------------------------
// MariaDB authentication methods (mysql.global_priv)
// ---------------------------------------------------------------------------------------------

export interface AuthMethod {
  plugin: string;
  /** The stored string (a hash for mysql_native_password). Never logged. */
  authenticationString: string;
}

/**
 * The authentication methods of a MariaDB account, in the order the server tries them. The JSON
 * keeps one method at the top level and, with several, lists them all in `auth_or`, where an empty
 * object stands for the top-level one.
 */
export function parseAuthMethods(priv: unknown): AuthMethod[] {
  // mysql2 hands the column over parsed (MariaDB declares it JSON) or as text.
  let json: Record<string, unknown>;
  try {
    json = (typeof priv === 'string' ? JSON.parse(priv) : priv) as Record<string, unknown>;
  } catch {
    // JSON.parse quotes its input in the message: that input holds password hashes.
    throw new TypeError('mysql.global_priv holds unreadable JSON');
  }
  if (typeof json !== 'object' || json === null) throw new TypeError('mysql.global_priv holds no object');
  const method = (entry: Record<string, unknown>): AuthMethod => ({
    plugin: typeof entry.plugin === 'string' ? entry.plugin : 'mysql_native_password',
    authenticationString: typeof entry.authentication_string === 'string' ? entry.authentication_string : '',
  });
  const top = method(json);
  const alternatives = json.auth_or;
  if (!Array.isArray(alternatives)) return [top];
  return alternatives.map((entry) =>
    typeof entry === 'object' && entry !== null && Object.keys(entry).length > 0
      ? method(entry as Record<string, unknown>)
      : top,
  );
}

/**
 * Where a MariaDB account stands for dual-password: `applied` when it accepts exactly the new then
 * the current password, `pending` when it holds only mysql_native_password methods (the ALTER will
 * replace them), `foreign` when it also authenticates another way (unix_socket, ed25519, PAM...),
 * which the ALTER would drop: the rotator refuses rather than remove a way in it does not manage.
 */
export function dualPasswordState(
  methods: readonly AuthMethod[],
  newPassword: string,
  currentPassword: string,
): 'applied' | 'pending' | 'foreign' {
  if (methods.some((m) => m.plugin !== 'mysql_native_password')) return 'foreign';
  const have = methods.map((m) => m.authenticationString);
  const want = [nativePasswordHash(newPassword), nativePasswordHash(currentPassword)];
  const applied =
    have.every((hash) => NATIVE_HASH.test(hash)) &&
    have.length === want.length &&
    have.every((hash, i) => hash === want[i]);
  return applied ? 'applied' : 'pending';
}

// ---------------------------------------------------------------------------------------------
// MySQL 8 dual passwords: which password is primary
// ---------------------------------------------------------------------------------------------

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * SHA-256-crypt (Drepper, "Unix crypt using SHA-256 and SHA-512", the `$5$` scheme): the 43
 * characters of the hash of `key` with `salt` (whole, not cut to 16 as `$5$` does: MySQL uses 20
 * bytes) after `rounds` rounds. caching_sha2_password and sha256_password store this.
 */
export function sha256Crypt(key: Buffer, salt: Buffer, rounds: number): string {
  const sha = (...parts: Buffer[]) => {
    const hash = createHash('sha256');
    for (const part of parts) hash.update(part);
    return hash.digest();
  };
  const repeat = (block: Buffer, length: number) => {
    const out = Buffer.alloc(length);
    for (let at = 0; at < length; at += block.length)
      block.copy(out, at, 0, Math.min(block.length, length - at));
    return out;
  };
  const b = sha(key, salt, key);
  const a = createHash('sha256').update(key).update(salt);
  let n = key.length;
  for (; n > 32; n -= 32) a.update(b);
  a.update(b.subarray(0, n));
  for (let bits = key.length; bits > 0; bits >>= 1) a.update(bits & 1 ? b : key);
  let c = a.digest();
  const p = repeat(sha(...Array.from({ length: key.length }, () => key)), key.length);
  const s = repeat(sha(...Array.from({ length: 16 + (c[0] as number) }, () => salt)), salt.length);
  for (let round = 0; round < rounds; round++) {
    const h = createHash('sha256');
    h.update(round & 1 ? p : c);
    if (round % 3) h.update(s);
    if (round % 7) h.update(p);
    h.update(round & 1 ? c : p);
    c = h.digest();
  }
  const order = [
    [0, 10, 20],
    [21, 1, 11],
    [12, 22, 2],
    [3, 13, 23],
    [24, 4, 14],
    [15, 25, 5],
    [6, 16, 26],
    [27, 7, 17],
    [18, 28, 8],
    [9, 19, 29],
  ] as const;
  let out = '';
  const encode = (word: number, chars: number) => {
    for (let i = 0; i < chars; i++) out += CRYPT_ALPHABET[(word >> (6 * i)) & 0x3f];
  };
  for (const [x, y, z] of order)
    encode(((c[x] as number) << 16) | ((c[y] as number) << 8) | (c[z] as number), 4);
  encode(((c[31] as number) << 8) | (c[30] as number), 3);
  return out;
}

/**
 * Whether `password` is the one a stored authentication string verifies: mysql_native_password
 * (`*` + SHA1(SHA1)), caching_sha2_password (`$A$` + rounds/1000 in 3 hex digits + `$` + 20-byte
 * salt + 43 characters of SHA-256-crypt). `undefined` when the form is not one of those (another
 * plugin, an unexpected layout): the caller must then not rely on it either way.
 */
export function passwordVerifies(plugin: string, stored: string, password: string): boolean | undefined {
  if (plugin === 'mysql_native_password') {
    return NATIVE_HASH.test(stored) ? stored === nativePasswordHash(password) : undefined;
  }
  if (plugin !== 'caching_sha2_password') return undefined;
  const match = CACHING_SHA2_VERIFIER.exec(stored);
  if (match === null) return undefined;
  const rounds = Number.parseInt(match[1] as string, 16) * 1000;
  return (
    sha256Crypt(Buffer.from(password, 'utf8'), Buffer.from(match[2] as string, 'latin1'), rounds) === match[3]
  );
}

/** caching_sha2_password's stored string with SHA-256-crypt (`$A$`, the only form MySQL 8.0 / 8.4 write). */
const CACHING_SHA2_VERIFIER = /^\$A\$([0-9A-F]{3})\$([\s\S]{20})([./0-9A-Za-z]{43})$/;

/** The rounds MySQL 8.0 / 8.4 use by default (`caching_sha2_password_digest_rounds`, written `005`). */
export const CACHING_SHA2_ROUNDS = 5000;

/**
 * The string caching_sha2_password stores for `password` (mysql.user.authentication_string), as
 * MySQL computes it (`sql/auth/sha2_password.cc`, `Caching_sha2_password::generate_stored_digest`
 * and `serialize`): `$A$`, rounds / 1000 in three upper-case hex digits, `$`, a 20-byte salt, then
 * the 43 characters of SHA-256-crypt of the password with that salt. MySQL draws the salt from
 * bytes 1..127 other than `$`; the one drawn here comes from the crypt alphabet (`./0-9A-Za-z`, a
 * subset of those), so the string needs no escaping and survives any connection character set.
 * `salt` is for tests; a rotation always draws a new one. Checked against strings MySQL itself
 * printed for known passwords (test/mysql/sql.test.ts).
 */
export function cachingSha2Verifier(password: string, salt?: Buffer): string {
  const bytes = salt ?? Buffer.from(Array.from(randomBytes(20), (b) => CRYPT_ALPHABET.charCodeAt(b & 0x3f)));
  if (bytes.length !== 20 || bytes.includes(0x24) || bytes.includes(0)) {
    throw new TypeError('the salt must be 20 bytes without NUL or $');
  }
  const rounds = (CACHING_SHA2_ROUNDS / 1000).toString(16).toUpperCase().padStart(3, '0');
  return `$A$${rounds}$${bytes.toString('latin1')}${sha256Crypt(Buffer.from(password, 'utf8'), bytes, CACHING_SHA2_ROUNDS)}`;
}

/**
 * MySQL 8.0.14+ (dual-password): the account's plugin, its primary's stored string and its
 * User_attributes, whose `additional_password` is the secondary's stored string, in one read.
 */
export function selectStoredPasswords(server: ServerInfo, account: Account): string {
  return `SELECT plugin, authentication_string AS authenticationString, User_attributes AS userAttributes FROM mysql.user WHERE ${whereAccount(server, account)}`;
}

/** The secondary password's stored string from a `selectStoredPasswords` row; undefined when there is none or it cannot be read. */
export function secondaryPasswordOf(
  row: Readonly<Record<string, unknown>> | undefined,
): { plugin: string; value: string } | undefined {
  if (row === undefined) return undefined;
  const raw = row.userAttributes;
  let json: unknown;
  try {
    json =
      typeof raw === 'string'
        ? JSON.parse(raw)
        : Buffer.isBuffer(raw)
          ? JSON.parse(raw.toString('utf8'))
          : raw;
  } catch {
    // JSON.parse quotes its input in the message, and that input holds password verifiers.
    return undefined;
  }
  const value = (json as { additional_password?: unknown } | null)?.additional_password;
  if (typeof value !== 'string' || value === '') return undefined;
  return { plugin: String(row.plugin ?? ''), value };
}

/**
 * MySQL: makes `password` the account's primary password, keeping its secondary ("If an account
 * has a secondary password and you change its primary password without specifying RETAIN CURRENT
 * PASSWORD, the secondary password remains unchanged": MySQL 8.0 manual, Dual Password Support).
 * The own-account form takes `replace` (the primary's password) when known.
 */
export function setPrimaryPassword(
  server: ServerInfo,
  change: { account: Account; password: string; self: boolean; replace?: string },
): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  if (!change.self) return `ALTER USER ${quoteAccount(change.account)} IDENTIFIED BY ${q(change.password)}`;
  const replace = change.replace === undefined ? '' : ` REPLACE ${q(change.replace)}`;
  return `ALTER USER USER() IDENTIFIED BY ${q(change.password)}${replace}`;
}

/** MySQL 8.0.14+: drops a secondary password the other account may hold from an earlier dual setup. */
export function discardOldPassword(target: Account): string {
  return `ALTER USER ${quoteAccount(target)} DISCARD OLD PASSWORD`;
}

// ---------------------------------------------------------------------------------------------
// Account profile: what alternating-users keeps identical between the two accounts
// ---------------------------------------------------------------------------------------------

/** An account's row from `selectAccount`, reduced to what is copied. */
export interface AccountOptions {
  plugin: string;
  /** '' (none), 'ANY' (REQUIRE SSL), 'X509', 'SPECIFIED' (issuer / subject / cipher). */
  sslType: string;
  sslCipher: string;
  x509Issuer: string;
  x509Subject: string;
  maxQuestions: number;
  maxUpdates: number;
  maxConnections: number;
  maxUserConnections: number;
  /** MariaDB only: seconds, as the server prints it (e.g. `1.500000`). */
  maxStatementTime?: string;
  /** MySQL only: the password and lock policy, as far as the server version has it. */
  policy?: MysqlAccountPolicy;
}

/**
 * A MySQL account's own password and lock policy (ALTER USER's password_option / lock_option and
 * COMMENT / ATTRIBUTE). `DEFAULT` follows the global variable. Undefined fields: the server has
 * no such column. A manual PASSWORD EXPIRE is not copied: the clone gets a fresh password.
 */
export interface MysqlAccountPolicy {
  lifetime?: 'DEFAULT' | 'NEVER' | number;
  locked?: boolean;
  history?: 'DEFAULT' | number;
  reuseInterval?: 'DEFAULT' | number;
  requireCurrent?: 'DEFAULT' | 'Y' | 'N';
  failedLoginAttempts?: number;
  /** Days, or -1 for UNBOUNDED (as User_attributes stores it). */
  passwordLockTime?: number;
  /** User_attributes' `metadata` (COMMENT / ATTRIBUTE), a JSON object. */
  metadata?: Record<string, unknown>;
}

function nullableCount(value: unknown): 'DEFAULT' | number {
  return value === null || value === undefined ? 'DEFAULT' : count(value);
}

/** The policy columns of a MySQL `selectAccount` row; undefined on a row without them. */
function mysqlPolicyFromRow(row: Readonly<Record<string, unknown>>): MysqlAccountPolicy | undefined {
  if (!('password_lifetime' in row)) return undefined;
  const policy: MysqlAccountPolicy = {};
  const lifetime = nullableCount(row.password_lifetime);
  policy.lifetime = lifetime === 0 ? 'NEVER' : lifetime;
  policy.locked = text(row.account_locked).toUpperCase() === 'Y';
  if ('Password_reuse_history' in row) policy.history = nullableCount(row.Password_reuse_history);
  if ('Password_reuse_time' in row) policy.reuseInterval = nullableCount(row.Password_reuse_time);
  if ('Password_require_current' in row) {
    const value = text(row.Password_require_current).toUpperCase();
    policy.requireCurrent = value === 'Y' ? 'Y' : value === 'N' ? 'N' : 'DEFAULT';
  }
  if ('User_attributes' in row) {
    let attributes: Record<string, unknown> = {};
    const raw = row.User_attributes;
    if (raw !== null && raw !== undefined) {
      try {
        const parsed = typeof raw === 'string' || Buffer.isBuffer(raw) ? JSON.parse(text(raw)) : raw;
        if (typeof parsed === 'object' && parsed !== null) attributes = parsed as Record<string, unknown>;
      } catch {
        // JSON.parse quotes its input, which holds a password verifier (additional_password).
        throw new TypeError('mysql.user.User_attributes holds unreadable JSON');
      }
    }
    const locking = attributes.Password_locking as Record<string, unknown> | undefined;
    policy.failedLoginAttempts = Number(locking?.failed_login_attempts ?? 0);
    policy.passwordLockTime = Number(locking?.password_lock_time_days ?? 0);
    if (!Number.isSafeInteger(policy.failedLoginAttempts) || !Number.isSafeInteger(policy.passwordLockTime)) {
      throw new TypeError('mysql.user.User_attributes holds an unreadable Password_locking');
    }
    const metadata = attributes.metadata;
    policy.metadata =
      typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
  }
  return policy;
}

/**
 * ALTER USER's password and lock options giving an account `policy`. `replaced` (the target's own
 * metadata) lets ATTRIBUTE, which merges like JSON_MERGE_PATCH, remove keys the primary lacks.
 */
export function policyClauses(
  server: ServerInfo,
  policy: MysqlAccountPolicy,
  replaced?: MysqlAccountPolicy,
): string[] {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  const clauses: string[] = [];
  if (policy.lifetime !== undefined) {
    clauses.push(
      policy.lifetime === 'DEFAULT' || policy.lifetime === 'NEVER'
        ? `PASSWORD EXPIRE ${policy.lifetime}`
        : `PASSWORD EXPIRE INTERVAL ${policy.lifetime} DAY`,
    );
  }
  if (policy.history !== undefined) clauses.push(`PASSWORD HISTORY ${policy.history}`);
  if (policy.reuseInterval !== undefined) {
    clauses.push(
      policy.reuseInterval === 'DEFAULT'
        ? 'PASSWORD REUSE INTERVAL DEFAULT'
        : `PASSWORD REUSE INTERVAL ${policy.reuseInterval} DAY`,
    );
  }
  if (policy.requireCurrent !== undefined) {
    clauses.push(
      {
        Y: 'PASSWORD REQUIRE CURRENT',
        N: 'PASSWORD REQUIRE CURRENT OPTIONAL',
        DEFAULT: 'PASSWORD REQUIRE CURRENT DEFAULT',
      }[policy.requireCurrent],
    );
  }
  if (policy.failedLoginAttempts !== undefined && atLeast(server, 8, 0, 19)) {
    clauses.push(`FAILED_LOGIN_ATTEMPTS ${policy.failedLoginAttempts}`);
    clauses.push(
      `PASSWORD_LOCK_TIME ${policy.passwordLockTime === -1 ? 'UNBOUNDED' : (policy.passwordLockTime ?? 0)}`,
    );
  }
  if (policy.locked !== undefined) clauses.push(policy.locked ? 'ACCOUNT LOCK' : 'ACCOUNT UNLOCK');
  if (policy.metadata !== undefined && atLeast(server, 8, 0, 21)) {
    const patch: Record<string, unknown> = { ...policy.metadata };
    for (const key of Object.keys(replaced?.metadata ?? {})) if (!(key in patch)) patch[key] = null;
    if (Object.keys(patch).length > 0) clauses.push(`ATTRIBUTE ${q(JSON.stringify(patch))}`);
  }
  return clauses;
}

/** A column's value as text (mysql2 hands binary columns over as Buffers); '' for NULL. */
export function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

function count(value: unknown): number {
  const n = Number(text(value) || '0');
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError('a resource limit is not a count');
  return n;
}

/** Reads a `selectAccount` row (column names as MySQL and MariaDB spell them). */
export function accountOptionsFromRow(row: Readonly<Record<string, unknown>>): AccountOptions {
  const statementTime = row.max_statement_time;
  const seconds = statementTime === undefined ? undefined : text(statementTime) || '0';
  if (seconds !== undefined && !/^\d+(\.\d+)?$/.test(seconds)) throw new TypeError('max_statement_time');
  const policy = mysqlPolicyFromRow(row);
  return {
    plugin: text(row.plugin),
    sslType: text(row.ssl_type).toUpperCase(),
    sslCipher: text(row.ssl_cipher),
    x509Issuer: text(row.x509_issuer),
    x509Subject: text(row.x509_subject),
    maxQuestions: count(row.max_questions),
    maxUpdates: count(row.max_updates),
    maxConnections: count(row.max_connections),
    maxUserConnections: count(row.max_user_connections),
    ...(seconds === undefined ? {} : { maxStatementTime: seconds }),
    ...(policy === undefined ? {} : { policy }),
  };
}

/** `REQUIRE ...` for an account's TLS requirement. */
export function requireClause(server: ServerInfo, options: AccountOptions): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  switch (options.sslType) {
    case '':
      return 'REQUIRE NONE';
    case 'ANY':
      return 'REQUIRE SSL';
    case 'X509':
      return 'REQUIRE X509';
    case 'SPECIFIED': {
      const parts = [
        options.x509Issuer === '' ? undefined : `ISSUER ${q(options.x509Issuer)}`,
        options.x509Subject === '' ? undefined : `SUBJECT ${q(options.x509Subject)}`,
        options.sslCipher === '' ? undefined : `CIPHER ${q(options.sslCipher)}`,
      ].filter((part) => part !== undefined);
      return parts.length === 0 ? 'REQUIRE SSL' : `REQUIRE ${parts.join(' AND ')}`;
    }
    default:
      throw new TypeError('unknown ssl_type');
  }
}

/**
 * alternating-users: gives `target` the TLS requirement and resource limits of `options` (the
 * primary account's). Every limit is written, zeros included, so a stale limit on the other
 * account is reset.
 */
export function alterAccountOptions(
  server: ServerInfo,
  target: Account,
  options: AccountOptions,
  replaced?: AccountOptions,
): string {
  const limits = [
    `MAX_QUERIES_PER_HOUR ${options.maxQuestions}`,
    `MAX_UPDATES_PER_HOUR ${options.maxUpdates}`,
    `MAX_CONNECTIONS_PER_HOUR ${options.maxConnections}`,
    `MAX_USER_CONNECTIONS ${options.maxUserConnections}`,
    ...(server.flavour === 'mariadb' && options.maxStatementTime !== undefined
      ? [`MAX_STATEMENT_TIME ${options.maxStatementTime}`]
      : []),
  ];
  const policy =
    server.flavour === 'mysql' && options.policy !== undefined
      ? policyClauses(server, options.policy, replaced?.policy)
          .map((clause) => ` ${clause}`)
          .join('')
      : '';
  return `ALTER USER ${quoteAccount(target)} ${requireClause(server, options)} WITH ${limits.join(' ')}${policy}`;
}

/**
 * MariaDB: an account sets its own default role, which needs no privilege (setting another
 * account's needs UPDATE on the whole mysql database). `role` is already quoted.
 */
export function setOwnDefaultRole(role: string | undefined): string {
  return `SET DEFAULT ROLE ${role ?? 'NONE'}`;
}

/** Removes every privilege of `target` (roles are revoked separately, by name). */
export function revokeAllPrivileges(target: Account): string {
  return `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${quoteAccount(target)}`;
}

/**
 * Sets `target`'s default roles. `roles` are already-quoted role names as SHOW GRANTS or
 * mysql.default_roles give them; empty means none.
 */
export function setDefaultRoles(server: ServerInfo, target: Account, roles: readonly string[]): string {
  if (server.flavour === 'mariadb') {
    // MariaDB has one default role per account.
    return `SET DEFAULT ROLE ${roles[0] ?? 'NONE'} FOR ${quoteAccount(target)}`;
  }
  return `ALTER USER ${quoteAccount(target)} DEFAULT ROLE ${roles.length === 0 ? 'NONE' : roles.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// SHOW GRANTS rewriting
// ---------------------------------------------------------------------------------------------

/** A grant of the primary account, with the grantee taken out. */
export interface GrantLine {
  kind: 'privilege' | 'role' | 'revoke' | 'default-role';
  /**
   * The statement up to the grantee, e.g. "GRANT SELECT, INSERT ON `db`.*" or "GRANT `role`", or
   * for a partial revoke "REVOKE INSERT ON `mysql`.*", or for a default role "SET DEFAULT ROLE `r`".
   */
  head: string;
  grantOption: boolean;
  adminOption: boolean;
}

/**
 * Index of `needle` in `text` outside backtick identifiers and quoted strings, from `from`.
 * SHOW GRANTS quotes every name, so keywords found here are real keywords.
 */
function indexOutsideQuotes(text: string, needle: string, from = 0): number {
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const c = text[i] as string;
    if (quote !== undefined) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) {
        if (text[i + 1] === quote) i++;
        else quote = undefined;
      }
      continue;
    }
    if (c === '`' || c === "'" || c === '"') {
      quote = c;
      continue;
    }
    if (text.startsWith(needle, i)) return i;
  }
  return -1;
}

/** The text with quoted strings and identifiers blanked, for keyword tests on clause tails. */
function withoutQuoted(text: string): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote !== undefined) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) {
        if (text[i + 1] === quote) i++;
        else {
          quote = undefined;
          out += c;
        }
      }
      continue;
    }
    if (c === '`' || c === "'" || c === '"') quote = c;
    out += c;
  }
  return out;
}

/**
 * Parses one line of `SHOW GRANTS FOR <grantee>`, or returns `undefined` for a line of a form the
 * rotator does not know (the caller refuses then: silently dropping a privilege is not an option).
 * What follows the grantee is reduced to WITH GRANT OPTION / WITH ADMIN OPTION: MariaDB appends the
 * password hash, REQUIRE and limits there, which are copied from mysql.user instead.
 */
export function parseGrantLine(line: string, grantee: Account): GrantLine | undefined {
  const quoted = quoteAccount(grantee);
  const defaultRole = /^SET DEFAULT ROLE /.exec(line);
  if (defaultRole !== null) {
    const at = indexOutsideQuotes(line, ` FOR ${quoted}`);
    if (at < 0 || at + ` FOR ${quoted}`.length !== line.length) return undefined;
    return { kind: 'default-role', head: line.slice(0, at), grantOption: false, adminOption: false };
  }
  const verb = /^(GRANT|REVOKE) /.exec(line)?.[1];
  if (verb === undefined) return undefined;
  const joiner = verb === 'GRANT' ? ` TO ${quoted}` : ` FROM ${quoted}`;
  const at = indexOutsideQuotes(line, joiner);
  if (at < 0) return undefined;
  const head = line.slice(0, at);
  const tail = line.slice(at + joiner.length);
  // The grantee must end there (not be the prefix of a longer name).
  if (tail !== '' && !tail.startsWith(' ')) return undefined;
  const keywords = withoutQuoted(tail);
  const onObject = indexOutsideQuotes(head, ' ON ') >= 0;
  if (verb === 'REVOKE') {
    return onObject ? { kind: 'revoke', head, grantOption: false, adminOption: false } : undefined;
  }
  return {
    kind: onObject ? 'privilege' : 'role',
    head,
    grantOption: /\bWITH\b.*\bGRANT OPTION\b/.test(keywords),
    adminOption: /\bWITH ADMIN OPTION\b/.test(keywords),
  };
}

/**
 * Whether a grant must be given explicitly. The bare `GRANT USAGE ON *.*` that SHOW GRANTS lists
 * for every account means "no privilege" and comes with CREATE USER; granting it again needs a
 * global GRANT OPTION on MariaDB, which the managing user should not need.
 */
export function needsGrant(grant: GrantLine): boolean {
  return !(grant.kind === 'privilege' && /^GRANT USAGE ON \*\.\*$/i.test(grant.head) && !grant.grantOption);
}

/** The statement that gives `grant` to `target`. */
export function grantStatement(grant: GrantLine, target: Account): string {
  const account = quoteAccount(target);
  switch (grant.kind) {
    case 'privilege':
      return `${grant.head} TO ${account}${grant.grantOption ? ' WITH GRANT OPTION' : ''}`;
    case 'role':
      return `${grant.head} TO ${account}${grant.adminOption ? ' WITH ADMIN OPTION' : ''}`;
    case 'revoke':
      return `${grant.head} FROM ${account}`;
    case 'default-role':
      return `${grant.head} FOR ${account}`;
  }
}

/** For a role grant of `target` (from its own SHOW GRANTS), the statement that takes it back. */
export function revokeRoleStatement(grant: GrantLine, target: Account): string {
  return `REVOKE ${grant.head.replace(/^GRANT /, '')} FROM ${quoteAccount(target)}`;
}

/** A canonical text of a grant, to compare two accounts' grants. */
export function grantKey(grant: GrantLine): string {
  return `${grant.kind}|${grant.head}|${grant.grantOption}|${grant.adminOption}`;
}

// ---------------------------------------------------------------------------------------------
// Alternating account names
// ---------------------------------------------------------------------------------------------

export { CLONE_SUFFIX };

/**
 * The clone of `user` within the server's `limit` (characters: 32 on MySQL 5.7.8+, 80 on MariaDB
 * before 10.6, 128 since): `user_clone`, or a cut `user` plus 8 hex digits of the SHA-256 of the
 * full name plus `_clone` (../trust.ts). The shared helper counts UTF-8 bytes; a name of at most
 * `limit` bytes has at most `limit` characters, so passing the character limit is safe (a name with
 * non-ASCII characters is only cut earlier than it must).
 */
export function cloneName(user: string, limit: number): string {
  if (limit < CLONE_SUFFIX.length + 10) throw new RangeError('user name limit too small for a clone');
  return sharedCloneName(user, limit);
}

/**
 * Clone names of rotor before the shared helper: cut by characters with 6 hex digits. Accepted as
 * the way back from a clone made then (with `primaryUsername` recorded), never made any more.
 */
export function legacyCloneName(user: string, limit: number): string {
  if (user.length + CLONE_SUFFIX.length <= limit) return `${user}${CLONE_SUFFIX}`;
  const digest = createHash('sha256').update(user, 'utf8').digest('hex').slice(0, 6);
  const keep = limit - CLONE_SUFFIX.length - digest.length - 1;
  if (keep < 1) throw new RangeError('user name limit too small for a clone');
  return `${user.slice(0, keep)}_${digest}${CLONE_SUFFIX}`;
}

/**
 * The account alternating-users rotates to from `user`, the primary (owner) of the pair, and the
 * primary name to record when it cannot be derived back from the clone's name (a cut clone). When
 * `user` is the clone, its name must be the owner's clone name (today's, or one rotor made before);
 * a name that is not is refused: `primaryUsername` is the secret writer's to set.
 */
export function alternateName(
  user: string,
  primaryUsername: string | undefined,
  limit: number,
): { user: string; owner: string; clone: string; primaryUsername?: string } {
  const primary =
    primaryUsername ?? (user.endsWith(CLONE_SUFFIX) ? user.slice(0, -CLONE_SUFFIX.length) : user);
  if (primary === '') throw new RangeError('empty primary user name');
  if (user !== primary) {
    if (user !== cloneName(primary, limit) && user !== legacyCloneName(primary, limit)) {
      throw new RangeError('the user is not the clone of the primary user');
    }
    return {
      user: primary,
      owner: primary,
      clone: user,
      ...(primaryUsername === undefined ? {} : { primaryUsername }),
    };
  }
  const clone = cloneName(primary, limit);
  const derivable = clone === `${primary}${CLONE_SUFFIX}`;
  return {
    user: clone,
    owner: primary,
    clone,
    ...(derivable && primaryUsername === undefined ? {} : { primaryUsername: primary }),
  };
}

// ---------------------------------------------------------------------------------------------
// The clone catalogue: which accounts rotor's master created, and for whom
// ---------------------------------------------------------------------------------------------

/**
 * `rotor.accounts`: one row per clone rotor's master created (or an operator adopted), naming its
 * owner. Written only by the master (the rotated accounts get no privilege on `rotor`): an account
 * with a clone's name and no row naming the owner is not rotor's and is never altered. (MariaDB
 * has no account comments; one table serves both flavours.)
 */
export const CATALOGUE = { database: 'rotor', table: 'accounts' } as const;
const catalogueTable = `${quoteIdentifier(CATALOGUE.database)}.${quoteIdentifier(CATALOGUE.table)}`;

export const CREATE_CATALOGUE_DATABASE = `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(CATALOGUE.database)}`;

/** Names are compared as the server stores them: binary (user names are case-sensitive). */
export const CREATE_CATALOGUE_TABLE = `CREATE TABLE IF NOT EXISTS ${catalogueTable} (\`user\` VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \`host\` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, owner_user VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, owner_host VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (\`user\`, \`host\`)) ENGINE=InnoDB`;

/** The owner the catalogue records for `clone`: no row, or `ownerUser` / `ownerHost`. */
export function selectCatalogueOwner(server: ServerInfo, clone: Account): string {
  return `SELECT owner_user AS ownerUser, owner_host AS ownerHost FROM ${catalogueTable} WHERE ${whereAccount(server, clone, '`user`', '`host`')}`;
}

/**
 * Records `clone` as `owner`'s. Run only when rotor creates the clone (an older row for an account
 * that did not exist is replaced) or an operator adopted it.
 */
export function recordClone(server: ServerInfo, clone: Account, owner: Account): string {
  const q = (value: string) => quoteString(value, server.noBackslashEscapes);
  return `INSERT INTO ${catalogueTable} (\`user\`, \`host\`, owner_user, owner_host) VALUES (${q(clone.user)}, ${q(clone.host)}, ${q(owner.user)}, ${q(owner.host)}) ON DUPLICATE KEY UPDATE owner_user = ${q(owner.user)}, owner_host = ${q(owner.host)}, created_at = CURRENT_TIMESTAMP`;
}

// ---------------------------------------------------------------------------------------------
// Probe queries
// ---------------------------------------------------------------------------------------------

/**
 * Whether a probe query is read-only by construction: it starts with SELECT, SHOW, WITH, VALUES,
 * TABLE, DESCRIBE or DESC, has no executable comment (`/*!`, `/*M!`, run by the server) and writes
 * no file (INTO OUTFILE / DUMPFILE). It also runs in a READ ONLY transaction that is rolled back.
 */
export function isReadOnlyProbe(query: string): boolean {
  const trimmed = query.trim();
  if (!/^(SELECT|SHOW|WITH|VALUES|TABLE|DESCRIBE|DESC)\b/i.test(trimmed)) return false;
  if (/\/\*\s*M?!/i.test(trimmed)) return false;
  if (/\bINTO\s+(OUTFILE|DUMPFILE)\b/i.test(trimmed)) return false;
  return true;
}
