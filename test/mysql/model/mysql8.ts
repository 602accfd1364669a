/**
 * A model of a MySQL 8.0 / 8.4 server's accounts, for driving the real MySQL rotator where no
 * MySQL server runs. It implements the rotator's `Connect` / `MysqlSession` slice (../../../rotators/mysql/client.ts),
 * interprets the statements rotor sends (and only those: anything else throws, so a new statement
 * is noticed), answers the reads rotor makes, and accepts a login by an account's primary or
 * secondary password.
 *
 * Every rule cites what it follows:
 * - [SRC] mysql/mysql-server `sql/auth/sql_user.cc` (8.0 / 8.4): `set_and_validate_user_attributes`,
 *   `validate_password_require_current`, `auth_verify_password_history`,
 *   `check_for_authentication_policy`.
 * - [PM] MySQL 8.0 / 8.4 Reference Manual, "Password Management" (dual passwords, history, reuse,
 *   verification-required, failed-login tracking) and [AU] "ALTER USER Statement", [CU] "CREATE USER
 *   Statement"; [NP] 8.4 "Native Pluggable Authentication" (mysql_native_password off by default).
 * - [ERR] the server error list (`mysqld_error.h`): 1045, 1064, 1227, 1396, 1524, 1827, 1862, 3118,
 *   3638, 3878, 3891, 3892, 3893, 3894, 3955, 4058.
 *
 * Passwords are kept in clear text inside the model (it is a test double); the server keeps hashes,
 * which changes nothing the rotator can observe. A password set with `IDENTIFIED WITH
 * caching_sha2_password AS '<string>'` is the one exception: the model keeps the string it was
 * given, as the server does, and checks logins against it with SHA-256-crypt. Errors are raised as mysql2 raises server errors
 * (`errno`, `code`) and classified by the rotator's own classify.ts, as client.ts does.
 *
 * Not modelled (rotor never relies on them): host-pattern matching beyond "exact host, else `%`",
 * multi-factor authentication, sandbox mode for expired passwords (the model refuses the login,
 * as a client without CAN_HANDLE_EXPIRED_PASSWORDS is refused), the grantor's own privileges on
 * GRANT (the model records grants as given).
 */

import type { Connect, ConnectOptions, MysqlSession, Row } from '../../../rotators/mysql/client.js';
import { classifyMysqlError } from '../../../rotators/mysql/client.js';
import {
  type Account,
  nativePasswordHash,
  parseServerVersion,
  passwordVerifies,
  type ServerInfo,
  sha256Crypt,
} from '../../../rotators/mysql/sql.js';

/** `DEFAULT` means "follow the global variable" ([PM]: per-account settings override globals). */
export type OrDefault<T> = T | 'DEFAULT';

export interface AccountPolicy {
  /** [AU] PASSWORD EXPIRE DEFAULT | NEVER | INTERVAL n DAY; mysql.user.password_lifetime (NULL = DEFAULT, 0 = NEVER). */
  lifetime: OrDefault<number | 'NEVER'>;
  /** [AU] PASSWORD EXPIRE (mysql.user.password_expired = 'Y'). */
  expired: boolean;
  /** [AU] PASSWORD HISTORY n | DEFAULT. */
  history: OrDefault<number>;
  /** [AU] PASSWORD REUSE INTERVAL n DAY | DEFAULT. */
  reuseInterval: OrDefault<number>;
  /** [AU] PASSWORD REQUIRE CURRENT [DEFAULT | OPTIONAL]. */
  requireCurrent: 'Y' | 'N' | 'DEFAULT';
  /** [AU] FAILED_LOGIN_ATTEMPTS n (0: not tracked). */
  failedLoginAttempts: number;
  /** [AU] PASSWORD_LOCK_TIME n | UNBOUNDED (days). */
  passwordLockTime: number | 'UNBOUNDED';
  /** [AU] ACCOUNT LOCK | UNLOCK. */
  locked: boolean;
  /** [AU] COMMENT / ATTRIBUTE: mysql.user.User_attributes' metadata, as JSON text. */
  metadata?: string | undefined;
}

export interface ModelAccount {
  user: string;
  host: string;
  plugin: string;
  /** '' is an empty password. */
  primary: string;
  secondary?: string | undefined;
  /** mysql.password_history, newest first: [SRC] auth_verify_password_history. */
  history: { password: string; day: number }[];
  passwordLastChanged: number;
  policy: AccountPolicy;
  /** Consecutive failed logins and the day the temporary lock ends ([PM] failed-login tracking). */
  failures: number;
  lockedUntil?: number | undefined;
  /** Global privileges (`CREATE USER`, `APPLICATION_PASSWORD_ADMIN`, ...). */
  globalPrivileges: Set<string>;
  globalGrantOption: boolean;
  /** Other SHOW GRANTS lines, with `{grantee}` for the account. */
  grants: string[];
  defaultRoles: Account[];
  ssl: { type: string; cipher: string; issuer: string; subject: string };
  limits: { questions: number; updates: number; connections: number; userConnections: number };
}

export interface ServerGlobals {
  password_history: number;
  password_reuse_interval: number;
  default_password_lifetime: number;
  password_require_current: boolean;
  /** 8.0.27+: e.g. `*,,` (8.0 default), `*` (8.4 default), `mysql_native_password,,`. */
  authentication_policy: string;
  /** 8.0's default_authentication_plugin (removed in 8.4, where the policy's `*` means caching_sha2_password). */
  default_authentication_plugin: string;
}

export interface ModelOptions {
  /** `SELECT VERSION()`, e.g. `8.0.36`, `8.4.3`, `8.0.mysql_aurora.3.05.2`. */
  version: string;
  globals?: Partial<ServerGlobals>;
  /** [NP] 8.4: mysql_native_password is loaded only with --mysql-native-password=ON; 9.0 removes it. */
  nativePasswordLoaded?: boolean;
  noBackslashEscapes?: boolean;
}

const PASSWORD_PLUGINS = new Set(['caching_sha2_password', 'mysql_native_password', 'sha256_password']);

/** What the rotator's client makes of `SELECT VERSION()` (rotators/mysql/sql.ts parseServerVersion). */
export function serverInfoOf(version: string, noBackslashEscapes = false): ServerInfo {
  const parsed = parseServerVersion(version);
  if (parsed === undefined) throw new Error(`model: unreadable version ${version}`);
  return { ...parsed, noBackslashEscapes };
}

/** A server error as mysql2 raises it. */
export class ServerError extends Error {
  constructor(
    readonly errno: number,
    readonly code: string,
  ) {
    super(code);
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer: only what rotor emits (identifiers in backticks, string literals, words, numbers)
// ---------------------------------------------------------------------------------------------

type Token =
  | { kind: 'word'; text: string }
  | { kind: 'ident'; text: string }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'punct'; text: string };

export function tokenize(sql: string, noBackslashEscapes: boolean): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '`') {
      let text = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new Error('model: unterminated identifier');
        if (sql[i] === '`') {
          if (sql[i + 1] === '`') {
            text += '`';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += sql[i];
        i++;
      }
      tokens.push({ kind: 'ident', text });
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new Error('model: unterminated string');
        const d = sql[i] as string;
        if (d === '\\' && !noBackslashEscapes) {
          text += sql[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (d === "'") {
          if (sql[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += d;
        i++;
      }
      tokens.push({ kind: 'string', text });
    } else if (/[0-9]/.test(c)) {
      const match = /^[0-9]+(\.[0-9]+)?/.exec(sql.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'number', text: match[0] });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(sql.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'word', text: match[0].toUpperCase() });
      i += match[0].length;
    } else {
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

class Cursor {
  private at = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly sql: string,
  ) {}
  done(): boolean {
    return this.at >= this.tokens.length;
  }
  peek(offset = 0): Token | undefined {
    return this.tokens[this.at + offset];
  }
  /** Consumes the words if they come next. */
  accept(...words: string[]): boolean {
    for (const [k, word] of words.entries()) {
      const token = this.peek(k);
      if (token?.kind !== 'word' || token.text !== word) return false;
    }
    this.at += words.length;
    return true;
  }
  expect(...words: string[]): void {
    if (!this.accept(...words)) this.fail(`expected ${words.join(' ')}`);
  }
  take(kind: Token['kind']): string {
    const token = this.peek();
    if (token?.kind !== kind) this.fail(`expected a ${kind}`);
    this.at++;
    return (token as Token).text;
  }
  number(): number {
    return Number(this.take('number'));
  }
  account(): Account | 'USER()' {
    if (this.accept('USER')) {
      this.take('punct');
      this.take('punct');
      return 'USER()';
    }
    const user = this.take('ident');
    if (this.take('punct') !== '@') this.fail('expected @');
    return { user, host: this.take('ident') };
  }
  fail(why: string): never {
    throw new Error(
      `model: cannot interpret (${why}) at token ${this.at} of: ${this.sql.replace(/'[^']*'/g, "'…'")}`,
    );
  }
}

/** The string literals of a statement, unquoted (backslash escapes as in the default sql_mode). */
function literalsOf(sql: string): string[] {
  return [...sql.matchAll(/'((?:[^'\\]|''|\\.)*)'/g)].map((m) =>
    (m[1] as string).replaceAll("''", "'").replace(/\\(.)/g, '$1'),
  );
}

/**
 * The authentication string the server stores for `password` (mysql.user.authentication_string,
 * and User_attributes.additional_password for the secondary): mysql_native_password's
 * `*` + SHA1(SHA1(p)); caching_sha2_password's `$A$005$` + 20-byte salt + SHA-256-crypt with 5000
 * rounds (`sql/auth/sha2_password.cc`, `sql/auth/sha2_password_common.cc`); sha256_password's `$5$`.
 * The salt here is derived from the password so the model stays deterministic; the server draws it.
 */
const verifiers = new Map<string, string>();

/**
 * A credential the model holds: a password in clear text, or — set by `IDENTIFIED WITH plugin AS
 * 'string'`, where the server never sees the password — the stored string itself, marked by a
 * leading NUL (no password rotor sets holds one). Logins and REPLACE are then checked as the server
 * checks them, against the string ([SRC] `compare_password_with_hash`).
 */
const STORED = '\0';

function credentialMatches(plugin: string, credential: string, password: string): boolean {
  if (!credential.startsWith(STORED)) return credential === password;
  return password !== '' && passwordVerifies(plugin, credential.slice(1), password) === true;
}

export function verifier(plugin: string, password: string): string {
  if (password.startsWith(STORED)) return password.slice(1);
  const key = `${plugin}\0${password}`;
  const known = verifiers.get(key);
  if (known !== undefined) return known;
  const value = computeVerifier(plugin, password);
  verifiers.set(key, value);
  return value;
}

function computeVerifier(plugin: string, password: string): string {
  if (password === '') return '';
  if (plugin === 'mysql_native_password') return nativePasswordHash(password);
  const salt = Buffer.from(nativePasswordHash(password).slice(1, 21), 'latin1');
  const digest = sha256Crypt(Buffer.from(password, 'utf8'), salt, 5000);
  return plugin === 'caching_sha2_password'
    ? `$A$005$${salt.toString('latin1')}${digest}`
    : `$5$${salt.toString('latin1')}$${digest}`;
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

export interface StatementEvent {
  user: string;
  sql: string;
}

/**
 * What happens to a statement a fault picks: `before` fails it without effect (the server refused,
 * the connection dropped before it ran); `after` runs it and then loses the reply (a timeout).
 */
export interface Fault {
  match: (event: StatementEvent, index: number) => boolean;
  when: 'before' | 'after';
}

export class MysqlModel {
  readonly server: ServerInfo;
  readonly versionText: string;
  readonly globals: ServerGlobals;
  nativePasswordLoaded: boolean;
  readonly accounts = new Map<string, ModelAccount>();
  /** rotor's catalogue table (`rotor`.`accounts`): clone key → owner; undefined until created. */
  catalogue: Map<string, Account> | undefined;
  private catalogueDatabase = false;
  /** Every statement run, in order (reads included). */
  readonly log: StatementEvent[] = [];
  /** Days since an epoch; advance it to age passwords and history. */
  day = 20_000;
  faults: Fault[] = [];
  /** Called after every statement that changed something (flow tests check invariants here). */
  afterChange?: () => void;
  private mutations = 0;

  constructor(options: ModelOptions) {
    this.versionText = options.version;
    this.server = serverInfoOf(options.version, options.noBackslashEscapes ?? false);
    const is84 = this.server.version[0] > 8 || this.server.version[1] >= 4;
    this.globals = {
      password_history: 0,
      password_reuse_interval: 0,
      default_password_lifetime: 0,
      password_require_current: false,
      authentication_policy: is84 ? '*' : '*,,',
      default_authentication_plugin: 'caching_sha2_password',
      ...options.globals,
    };
    this.nativePasswordLoaded = options.nativePasswordLoaded ?? !is84;
  }

  static key(account: Account): string {
    return `${account.user}@${account.host.toLowerCase()}`;
  }

  /** Creates an account directly (test setup, not through SQL). */
  addAccount(spec: Partial<ModelAccount> & { user: string; password: string }): ModelAccount {
    const { password, ...rest } = spec;
    const account: ModelAccount = {
      host: '%',
      plugin: 'caching_sha2_password',
      primary: password,
      history: [],
      passwordLastChanged: this.day,
      failures: 0,
      globalPrivileges: new Set(),
      globalGrantOption: false,
      grants: [],
      defaultRoles: [],
      ssl: { type: '', cipher: '', issuer: '', subject: '' },
      limits: { questions: 0, updates: 0, connections: 0, userConnections: 0 },
      ...rest,
      policy: {
        lifetime: 'DEFAULT',
        expired: false,
        history: 'DEFAULT',
        reuseInterval: 'DEFAULT',
        requireCurrent: 'DEFAULT',
        failedLoginAttempts: 0,
        passwordLockTime: 0,
        locked: false,
        ...spec.policy,
      },
    };
    this.accounts.set(MysqlModel.key(account), account);
    return account;
  }

  account(user: string, host = '%'): ModelAccount | undefined {
    return this.accounts.get(MysqlModel.key({ user, host }));
  }

  /**
   * Whether `password` logs in as `user`, without counting a failure (for test assertions):
   * [PM] "Dual Password Support": either the primary or the secondary password is accepted.
   */
  accepts(user: string, password: string, host = '%'): boolean {
    const account = this.account(user, host);
    return account !== undefined && this.refusal(account, password) === undefined;
  }

  private pluginLoaded(plugin: string): boolean {
    if (plugin === 'mysql_native_password') return this.nativePasswordLoaded;
    return PASSWORD_PLUGINS.has(plugin);
  }

  private effective(account: ModelAccount) {
    const p = account.policy;
    return {
      history: p.history === 'DEFAULT' ? this.globals.password_history : p.history,
      reuseInterval: p.reuseInterval === 'DEFAULT' ? this.globals.password_reuse_interval : p.reuseInterval,
      lifetime:
        p.lifetime === 'DEFAULT'
          ? this.globals.default_password_lifetime
          : p.lifetime === 'NEVER'
            ? 0
            : p.lifetime,
      requireCurrent:
        p.requireCurrent === 'DEFAULT' ? this.globals.password_require_current : p.requireCurrent === 'Y',
    };
  }

  /** Why a login with `password` is refused, or undefined when it is accepted. */
  private refusal(account: ModelAccount, password: string): ServerError | undefined {
    // [PM] "Account Locking": a locked account is refused whatever the password (ER_ACCOUNT_HAS_BEEN_LOCKED).
    if (account.policy.locked) return new ServerError(3118, 'ER_ACCOUNT_HAS_BEEN_LOCKED');
    // [PM] failed-login tracking: a temporarily locked account is refused (ER_USER_ACCESS_DENIED_FOR_USER_ACCOUNT_BLOCKED_BY_PASSWORD_LOCK).
    if (account.lockedUntil !== undefined && this.day < account.lockedUntil) {
      return new ServerError(3955, 'ER_USER_ACCESS_DENIED_FOR_USER_ACCOUNT_BLOCKED_BY_PASSWORD_LOCK');
    }
    // [NP] an account whose plugin is not loaded cannot log in (ER_PLUGIN_IS_NOT_LOADED).
    if (!this.pluginLoaded(account.plugin)) return new ServerError(1524, 'ER_PLUGIN_IS_NOT_LOADED');
    // [PM] dual passwords: the primary, then the secondary.
    const plugin = account.plugin;
    if (
      !credentialMatches(plugin, account.primary, password) &&
      (account.secondary === undefined || !credentialMatches(plugin, account.secondary, password))
    ) {
      return new ServerError(1045, 'ER_ACCESS_DENIED_ERROR');
    }
    // [PM] "Password Expiration Policy": expired manually or by lifetime; a client that does not
    // handle expired passwords is refused (ER_MUST_CHANGE_PASSWORD_LOGIN).
    const { lifetime } = this.effective(account);
    if (account.policy.expired || (lifetime > 0 && this.day - account.passwordLastChanged >= lifetime)) {
      return new ServerError(1862, 'ER_MUST_CHANGE_PASSWORD_LOGIN');
    }
    return undefined;
  }

  readonly connect: Connect = async (options: ConnectOptions): Promise<MysqlSession> => {
    const target = `MySQL ${this.server.version.join('.')} at ${options.host}:${options.port}`;
    const who = `'${options.user}'`;
    // The most specific host first ([PM] "Access Control, Stage 1"): only exact names and `%` here.
    const candidates = [...this.accounts.values()]
      .filter((a) => a.user === options.user)
      .sort((a, b) => (a.host === '%' ? 1 : 0) - (b.host === '%' ? 1 : 0));
    const account = candidates[0];
    if (account === undefined) {
      throw classifyMysqlError(new ServerError(1045, 'ER_ACCESS_DENIED_ERROR'), {
        target,
        who,
        phase: 'login',
      });
    }
    const refused = this.refusal(account, options.password);
    if (refused !== undefined) {
      if (refused.errno === 1045 && account.policy.failedLoginAttempts > 0) {
        // [PM] FAILED_LOGIN_ATTEMPTS N: N consecutive failures lock the account for PASSWORD_LOCK_TIME days.
        account.failures++;
        if (account.failures >= account.policy.failedLoginAttempts && account.policy.passwordLockTime !== 0) {
          account.lockedUntil =
            account.policy.passwordLockTime === 'UNBOUNDED'
              ? Number.POSITIVE_INFINITY
              : this.day + account.policy.passwordLockTime;
          account.failures = 0;
        }
      }
      throw classifyMysqlError(refused, { target, who, phase: 'login' });
    }
    account.failures = 0;
    const me: Account = { user: account.user, host: account.host };
    const named = `MySQL ${this.server.version.join('.')} at ${options.host}:${options.port}`;
    return {
      server: this.server,
      account: me,
      query: async (sql, what) => {
        const event = { user: options.user, sql };
        const index = this.log.length;
        this.log.push(event);
        const fault = this.faults.find((f) => f.match(event, index));
        if (fault !== undefined) this.faults = this.faults.filter((f) => f !== fault);
        if (fault?.when === 'before') {
          throw classifyMysqlError(Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST' }), {
            target: named,
            who,
            phase: 'statement',
            what,
          });
        }
        let rows: Row[];
        try {
          rows = this.execute(me, sql);
        } catch (error) {
          if (error instanceof ServerError) {
            throw classifyMysqlError(error, { target: named, who, phase: 'statement', what });
          }
          throw error;
        }
        if (fault?.when === 'after') {
          throw classifyMysqlError(Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST' }), {
            target: named,
            who,
            phase: 'statement',
            what,
          });
        }
        return rows;
      },
      close: async () => undefined,
    };
  };

  /** Statements that changed something, in order. */
  changes(): string[] {
    return this.log
      .map((e) => e.sql)
      .filter((sql) => !/^(SELECT|SHOW|START TRANSACTION|ROLLBACK)\b/.test(sql));
  }

  private find(account: Account): ModelAccount {
    const found = this.accounts.get(MysqlModel.key(account));
    // ER_CANNOT_USER: ALTER USER of an account that does not exist ([AU]).
    if (found === undefined) throw new ServerError(1396, 'ER_CANNOT_USER');
    return found;
  }

  private hasPrivilege(session: Account, privilege: string): boolean {
    const me = this.accounts.get(MysqlModel.key(session));
    if (me === undefined) return false;
    return me.globalPrivileges.has('ALL PRIVILEGES') || me.globalPrivileges.has(privilege);
  }

  /** [SRC] is_privileged_user_for_credential_change: CREATE USER, or UPDATE on the mysql schema. */
  private privilegedForCredentials(session: Account): boolean {
    const me = this.accounts.get(MysqlModel.key(session));
    if (me === undefined) return false;
    return (
      this.hasPrivilege(session, 'CREATE USER') ||
      this.hasPrivilege(session, 'UPDATE') ||
      me.grants.some(
        (g) =>
          /^GRANT (.*\b)?UPDATE\b.* ON `mysql`\.\*/.test(g) || /^GRANT ALL PRIVILEGES ON `mysql`\.\*/.test(g),
      )
    );
  }

  execute(session: Account, sql: string): Row[] {
    const cursor = new Cursor(tokenize(sql, this.server.noBackslashEscapes), sql);
    if (cursor.accept('START', 'TRANSACTION') || cursor.accept('ROLLBACK')) return [];
    if (cursor.accept('SHOW', 'GRANTS')) {
      const target = cursor.accept('FOR') ? cursor.account() : session;
      return this.showGrants(target === 'USER()' ? session : target);
    }
    if (cursor.accept('SELECT')) return this.select(sql);
    let rows: Row[];
    if (cursor.accept('CREATE', 'DATABASE')) rows = this.createCatalogue('database');
    else if (cursor.accept('CREATE', 'TABLE')) rows = this.createCatalogue('table');
    else if (cursor.accept('INSERT', 'INTO')) rows = this.recordClone(sql);
    else if (cursor.accept('CREATE', 'USER')) rows = this.createUser(session, cursor);
    else if (cursor.accept('ALTER', 'USER')) rows = this.alterUser(session, cursor);
    else if (cursor.accept('GRANT')) rows = this.grant(sql);
    else if (cursor.accept('REVOKE')) rows = this.revoke(sql);
    else return cursor.fail('statement rotor does not send');
    this.mutations++;
    this.afterChange?.();
    return rows;
  }

  // ------------------------------------------------------------------------------ rotor's catalogue

  private createCatalogue(what: 'database' | 'table'): Row[] {
    if (what === 'database') this.catalogueDatabase = true;
    else {
      // ER_BAD_DB_ERROR: a table in a database that does not exist.
      if (!this.catalogueDatabase) throw new ServerError(1049, 'ER_BAD_DB_ERROR');
      this.catalogue ??= new Map();
    }
    return [];
  }

  private recordClone(sql: string): Row[] {
    if (this.catalogue === undefined) throw new ServerError(1146, 'ER_NO_SUCH_TABLE');
    const [user, host, ownerUser, ownerHost] = literalsOf(sql);
    this.catalogue.set(MysqlModel.key({ user: user ?? '', host: host ?? '' }), {
      user: ownerUser ?? '',
      host: ownerHost ?? '',
    });
    return [];
  }

  // ------------------------------------------------------------------------------ reads

  private select(sql: string): Row[] {
    const literals = literalsOf(sql);
    if (/^SELECT owner_user AS ownerUser, owner_host AS ownerHost FROM `rotor`\.`accounts` WHERE/.test(sql)) {
      if (this.catalogue === undefined) throw new ServerError(1146, 'ER_NO_SUCH_TABLE');
      const owner = this.catalogue.get(MysqlModel.key({ user: literals[0] ?? '', host: literals[1] ?? '' }));
      return owner === undefined ? [] : [{ ownerUser: owner.user, ownerHost: owner.host }];
    }
    if (/^SELECT CHARACTER_MAXIMUM_LENGTH AS limitChars FROM information_schema\.COLUMNS/.test(sql)) {
      return [{ limitChars: 32 }];
    }
    if (
      /^SELECT DEFAULT_ROLE_USER AS user, DEFAULT_ROLE_HOST AS host FROM mysql\.default_roles WHERE/.test(sql)
    ) {
      const account = this.accounts.get(MysqlModel.key({ user: literals[0] ?? '', host: literals[1] ?? '' }));
      return (account?.defaultRoles ?? []).map((r) => ({ user: r.user, host: r.host }));
    }
    if (/^SELECT .* FROM mysql\.user WHERE User = '/.test(sql)) {
      const account = this.accounts.get(MysqlModel.key({ user: literals[0] ?? '', host: literals[1] ?? '' }));
      return account === undefined ? [] : [this.userRow(account)];
    }
    if (/^SELECT @@/.test(sql)) {
      // `SELECT @@GLOBAL.name AS alias, ...`: the globals rotor reads.
      const row: Record<string, unknown> = {};
      for (const m of sql.matchAll(/@@(?:GLOBAL\.)?(\w+)(?: AS (\w+))?/g)) {
        const name = m[1] as keyof ServerGlobals;
        if (!(name in this.globals)) throw new Error(`model: unknown variable ${name}`);
        const value = this.globals[name];
        row[m[2] ?? `@@${name}`] = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      }
      return [row];
    }
    if (/^SELECT 1\b/.test(sql)) return [{ 1: 1 }];
    throw new Error(
      `model: cannot interpret a SELECT rotor was not known to send: ${sql.replace(/'[^']*'/g, "'…'")}`,
    );
  }

  /** mysql.user as the server stores it ([AU]: column meanings; NULL = DEFAULT). */
  userRow(a: ModelAccount): Row {
    const p = a.policy;
    return {
      plugin: a.plugin,
      ssl_type: a.ssl.type,
      ssl_cipher: Buffer.from(a.ssl.cipher),
      x509_issuer: Buffer.from(a.ssl.issuer),
      x509_subject: Buffer.from(a.ssl.subject),
      max_questions: a.limits.questions,
      max_updates: a.limits.updates,
      max_connections: a.limits.connections,
      max_user_connections: a.limits.userConnections,
      authentication_string: verifier(a.plugin, a.primary),
      authenticationString: verifier(a.plugin, a.primary),
      password_expired: p.expired ? 'Y' : 'N',
      password_lifetime: p.lifetime === 'DEFAULT' ? null : p.lifetime === 'NEVER' ? 0 : p.lifetime,
      Password_reuse_history: p.history === 'DEFAULT' ? null : p.history,
      Password_reuse_time: p.reuseInterval === 'DEFAULT' ? null : p.reuseInterval,
      Password_require_current: p.requireCurrent === 'DEFAULT' ? null : p.requireCurrent,
      account_locked: p.locked ? 'Y' : 'N',
      User_attributes: this.userAttributes(a),
      userAttributes: this.userAttributes(a),
    };
  }

  /** mysql.user.User_attributes ([SRC] acl_table: additional_password, Password_locking, metadata). */
  private userAttributes(a: ModelAccount): string | null {
    const json: Record<string, unknown> = {};
    if (a.secondary !== undefined) json.additional_password = verifier(a.plugin, a.secondary);
    if (a.policy.failedLoginAttempts !== 0 || a.policy.passwordLockTime !== 0) {
      json.Password_locking = {
        failed_login_attempts: a.policy.failedLoginAttempts,
        password_lock_time_days: a.policy.passwordLockTime === 'UNBOUNDED' ? -1 : a.policy.passwordLockTime,
      };
    }
    if (a.policy.metadata !== undefined) json.metadata = JSON.parse(a.policy.metadata);
    return Object.keys(json).length === 0 ? null : JSON.stringify(json);
  }

  private showGrants(target: Account): Row[] {
    const a = this.find(target);
    const grantee = `\`${a.user}\`@\`${a.host}\``;
    const column = `Grants for ${a.user}@${a.host}`;
    const global = a.globalPrivileges.size === 0 ? 'USAGE' : [...a.globalPrivileges].join(', ');
    const lines = [
      `GRANT ${global} ON *.* TO ${grantee}${a.globalGrantOption ? ' WITH GRANT OPTION' : ''}`,
      ...a.grants.map((g) => g.replaceAll('{grantee}', grantee)),
    ];
    return lines.map((line) => ({ [column]: line }));
  }

  // ------------------------------------------------------------------------------ CREATE / ALTER USER

  /**
   * `IDENTIFIED [WITH plugin] [BY 'x' [REPLACE 'y'] [RETAIN CURRENT PASSWORD]]` or
   * `IDENTIFIED WITH plugin AS 'string'`. [AU] grammar: AS needs WITH and takes neither REPLACE nor
   * RETAIN CURRENT PASSWORD (a syntax error, ER_PARSE_ERROR 1064). [SRC] the plugin validates the
   * string (`validate_authentication_string`; caching_sha2_password: `Caching_sha2_password::
   * deserialize`, `$A$`, three hex digits, `$`, 20 bytes of salt, 43 of digest); a string it refuses
   * is ER_PASSWORD_FORMAT (1827). `password` is then the marked stored string (see STORED).
   */
  private identified(cursor: Cursor) {
    let plugin: string | undefined;
    let password: string | undefined;
    let replace: string | undefined;
    let retain = false;
    let stored = false;
    if (cursor.accept('WITH')) plugin = cursor.take('word').toLowerCase();
    if (cursor.accept('BY')) password = cursor.take('string');
    else if (cursor.accept('AS')) {
      if (plugin === undefined) throw new ServerError(1064, 'ER_PARSE_ERROR');
      const value = cursor.take('string');
      if (plugin !== 'caching_sha2_password') cursor.fail(`IDENTIFIED WITH ${plugin} AS`);
      if (value !== '' && passwordVerifies(plugin, value, 'x') === undefined) {
        throw new ServerError(1827, 'ER_PASSWORD_FORMAT');
      }
      password = value === '' ? '' : `${STORED}${value}`;
      stored = true;
    }
    if (cursor.accept('REPLACE')) {
      if (stored) throw new ServerError(1064, 'ER_PARSE_ERROR');
      replace = cursor.take('string');
    }
    if (cursor.accept('RETAIN', 'CURRENT', 'PASSWORD')) {
      if (stored) throw new ServerError(1064, 'ER_PARSE_ERROR');
      retain = true;
    }
    return { plugin, password, replace, retain, stored };
  }

  /** Password, lock, TLS, limit and comment options ([AU] / [CU] grammar), applied to `policy`. */
  private options(cursor: Cursor, a: ModelAccount): void {
    while (!cursor.done()) {
      if (cursor.accept('REQUIRE')) {
        if (cursor.accept('NONE')) a.ssl = { type: '', cipher: '', issuer: '', subject: '' };
        else if (cursor.accept('SSL')) a.ssl = { type: 'ANY', cipher: '', issuer: '', subject: '' };
        else if (cursor.accept('X509')) a.ssl = { type: 'X509', cipher: '', issuer: '', subject: '' };
        else {
          a.ssl = { type: 'SPECIFIED', cipher: '', issuer: '', subject: '' };
          do {
            if (cursor.accept('ISSUER')) a.ssl.issuer = cursor.take('string');
            else if (cursor.accept('SUBJECT')) a.ssl.subject = cursor.take('string');
            else if (cursor.accept('CIPHER')) a.ssl.cipher = cursor.take('string');
            else cursor.fail('REQUIRE option');
          } while (cursor.accept('AND'));
        }
      } else if (cursor.accept('WITH')) {
        for (;;) {
          if (cursor.accept('MAX_QUERIES_PER_HOUR')) a.limits.questions = cursor.number();
          else if (cursor.accept('MAX_UPDATES_PER_HOUR')) a.limits.updates = cursor.number();
          else if (cursor.accept('MAX_CONNECTIONS_PER_HOUR')) a.limits.connections = cursor.number();
          else if (cursor.accept('MAX_USER_CONNECTIONS')) a.limits.userConnections = cursor.number();
          else break;
        }
      } else if (cursor.accept('PASSWORD', 'EXPIRE')) {
        if (cursor.accept('DEFAULT')) a.policy.lifetime = 'DEFAULT';
        else if (cursor.accept('NEVER')) a.policy.lifetime = 'NEVER';
        else if (cursor.accept('INTERVAL')) {
          a.policy.lifetime = cursor.number();
          cursor.expect('DAY');
        } else a.policy.expired = true;
      } else if (cursor.accept('PASSWORD', 'HISTORY')) {
        a.policy.history = cursor.accept('DEFAULT') ? 'DEFAULT' : cursor.number();
      } else if (cursor.accept('PASSWORD', 'REUSE', 'INTERVAL')) {
        if (cursor.accept('DEFAULT')) a.policy.reuseInterval = 'DEFAULT';
        else {
          a.policy.reuseInterval = cursor.number();
          cursor.expect('DAY');
        }
      } else if (cursor.accept('PASSWORD', 'REQUIRE', 'CURRENT')) {
        a.policy.requireCurrent = cursor.accept('DEFAULT')
          ? 'DEFAULT'
          : cursor.accept('OPTIONAL')
            ? 'N'
            : 'Y';
      } else if (cursor.accept('FAILED_LOGIN_ATTEMPTS')) {
        a.policy.failedLoginAttempts = cursor.number();
      } else if (cursor.accept('PASSWORD_LOCK_TIME')) {
        a.policy.passwordLockTime = cursor.accept('UNBOUNDED') ? 'UNBOUNDED' : cursor.number();
      } else if (cursor.accept('ACCOUNT', 'LOCK')) {
        a.policy.locked = true;
      } else if (cursor.accept('ACCOUNT', 'UNLOCK')) {
        a.policy.locked = false;
        a.lockedUntil = undefined;
      } else if (cursor.accept('COMMENT')) {
        // [AU] COMMENT 'x' sets the metadata to {"comment": "x"}; ATTRIBUTE merges a JSON object.
        a.policy.metadata = JSON.stringify({ comment: cursor.take('string') });
      } else if (cursor.accept('ATTRIBUTE')) {
        // [AU] ATTRIBUTE merges as JSON_MERGE_PATCH() does: a null value removes the key.
        const value = JSON.parse(cursor.take('string')) as Record<string, unknown>;
        const merged: Record<string, unknown> = {
          ...(a.policy.metadata === undefined ? {} : JSON.parse(a.policy.metadata)),
          ...value,
        };
        for (const [key, v] of Object.entries(value)) if (v === null) delete merged[key];
        a.policy.metadata = Object.keys(merged).length === 0 ? undefined : JSON.stringify(merged);
      } else {
        cursor.fail('account option');
      }
    }
  }

  /**
   * [SRC] auth_verify_password_history: the new password is compared with the newest
   * `password_history` entries and with every entry younger than `password_reuse_interval` days
   * (the current password is the newest entry); a match is ER_CREDENTIALS_CONTRADICT_TO_HISTORY
   * (3638). Entries are recorded only while either setting is non-zero, and a plugin change skips
   * the check and empties the history. Empty passwords are never checked.
   */
  private checkHistory(a: ModelAccount, password: string, pluginChanged: boolean): void {
    const { history, reuseInterval } = this.effective(a);
    if (pluginChanged) {
      a.history = [];
    } else if (password !== '' && !password.startsWith(STORED)) {
      // [SRC] only a clear-text password is compared (`cleartext_length && cleartext`): a string
      // given with AS is never checked, though it is recorded below like any other.
      a.history.forEach((entry, i) => {
        if (
          (i < history || this.day - entry.day < reuseInterval) &&
          credentialMatches(a.plugin, entry.password, password)
        ) {
          throw new ServerError(3638, 'ER_CREDENTIALS_CONTRADICT_TO_HISTORY');
        }
      });
    }
    a.history = a.history.filter(
      (entry, i) => i + 1 < history || (reuseInterval > 0 && this.day - entry.day <= reuseInterval),
    );
  }

  private recordHistory(a: ModelAccount, password: string): void {
    const { history, reuseInterval } = this.effective(a);
    if ((history > 0 || reuseInterval > 0) && password !== '') a.history.unshift({ password, day: this.day });
  }

  /**
   * [SRC] check_for_authentication_policy: with IDENTIFIED (or on CREATE USER) the first factor's
   * plugin — named, or implied (the account's own on ALTER, the default on CREATE) — must equal the
   * policy's first element unless that is `*`; else ER_AUTHENTICATION_POLICY_MISMATCH (4058), only
   * a warning for a session with AUTHENTICATION_POLICY_ADMIN.
   */
  private checkPolicy(session: Account, plugin: string): void {
    const first = this.globals.authentication_policy.split(',')[0]?.trim() ?? '*';
    const mismatch = first !== '*' && first !== '' && first !== plugin;
    if (mismatch && !this.hasPrivilege(session, 'AUTHENTICATION_POLICY_ADMIN')) {
      throw new ServerError(4058, 'ER_AUTHENTICATION_POLICY_MISMATCH');
    }
  }

  /** The plugin CREATE USER uses without IDENTIFIED WITH ([SRC]: the policy's first element, else the default plugin). */
  private defaultPlugin(): string {
    const first = this.globals.authentication_policy.split(',')[0]?.trim() ?? '*';
    return first === '*' || first === '' ? this.globals.default_authentication_plugin : first;
  }

  private createUser(session: Account, cursor: Cursor): Row[] {
    if (!this.privilegedForCredentials(session) && !this.hasPrivilege(session, 'CREATE USER')) {
      throw new ServerError(1227, 'ER_SPECIFIC_ACCESS_DENIED_ERROR');
    }
    const target = cursor.account();
    if (target === 'USER()') return cursor.fail('CREATE USER USER()');
    // [CU] CREATE USER of an existing account fails with ER_CANNOT_USER (1396).
    if (this.accounts.has(MysqlModel.key(target))) throw new ServerError(1396, 'ER_CANNOT_USER');
    let spec = { plugin: undefined as string | undefined, password: '' };
    if (cursor.accept('IDENTIFIED')) {
      const id = this.identified(cursor);
      if (id.replace !== undefined || id.retain) cursor.fail('REPLACE / RETAIN in CREATE USER');
      spec = { plugin: id.plugin, password: id.password ?? '' };
    }
    const plugin = spec.plugin ?? this.defaultPlugin();
    // [SRC] the plugin must be loaded (ER_PLUGIN_IS_NOT_LOADED, 1524): 8.4 leaves mysql_native_password off.
    if (!this.pluginLoaded(plugin)) throw new ServerError(1524, 'ER_PLUGIN_IS_NOT_LOADED');
    const account = this.addAccount({
      user: target.user,
      host: target.host,
      plugin,
      password: spec.password,
    });
    try {
      this.options(cursor, account);
      this.checkPolicy(session, plugin);
    } catch (error) {
      this.accounts.delete(MysqlModel.key(target));
      throw error;
    }
    this.recordHistory(account, spec.password);
    return [];
  }

  private alterUser(session: Account, cursor: Cursor): Row[] {
    const named = cursor.account();
    const self = named === 'USER()' || MysqlModel.key(named) === MysqlModel.key(session);
    const a = this.find(named === 'USER()' ? session : named);
    const privileged = this.privilegedForCredentials(session);
    // [AU] altering another account needs CREATE USER (or UPDATE on mysql: [SRC] is_privileged_user).
    if (!self && !privileged) throw new ServerError(1227, 'ER_SPECIFIC_ACCESS_DENIED_ERROR');
    if (cursor.accept('DISCARD', 'OLD', 'PASSWORD')) {
      this.requireSecondaryPrivilege(session, self);
      // [PM] "DISCARD OLD PASSWORD discards the secondary password, if one exists."
      a.secondary = undefined;
      return [];
    }
    if (cursor.accept('DEFAULT', 'ROLE')) {
      a.defaultRoles = [];
      if (!cursor.accept('NONE')) {
        do {
          const role = cursor.account();
          if (role !== 'USER()') a.defaultRoles.push(role);
        } while (cursor.peek()?.text === ',' && cursor.take('punct'));
      }
      return [];
    }
    if (!cursor.accept('IDENTIFIED')) {
      const copy = structuredClone({ policy: a.policy, ssl: a.ssl, limits: a.limits });
      try {
        this.options(cursor, a);
      } catch (error) {
        Object.assign(a, copy);
        throw error;
      }
      return [];
    }
    const id = this.identified(cursor);
    if (id.password === undefined) cursor.fail('IDENTIFIED WITH without BY');
    const newPassword = id.password as string;
    const plugin = id.plugin ?? a.plugin;
    // [SRC] "detect changes in the plugin name": RETAIN with another plugin is
    // ER_PASSWORD_CANNOT_BE_RETAINED_ON_PLUGIN_CHANGE (3894); otherwise the secondary is discarded.
    const pluginChanged = plugin !== a.plugin;
    if (pluginChanged && id.retain)
      throw new ServerError(3894, 'ER_PASSWORD_CANNOT_BE_RETAINED_ON_PLUGIN_CHANGE');
    if (!this.pluginLoaded(plugin)) throw new ServerError(1524, 'ER_PLUGIN_IS_NOT_LOADED');
    if (id.retain) this.requireSecondaryPrivilege(session, self);
    // [SRC] the history check runs while hashing, before the REPLACE check.
    const historyBefore = [...a.history];
    this.checkHistory(a, newPassword, pluginChanged);
    try {
      // [SRC] validate_password_require_current.
      if (id.replace !== undefined) {
        // REPLACE names the caller's own account only (ER_CURRENT_PASSWORD_NOT_REQUIRED, 3893)...
        if (!self) throw new ServerError(3893, 'ER_CURRENT_PASSWORD_NOT_REQUIRED');
        // ... and is compared with the PRIMARY password only (ER_INCORRECT_CURRENT_PASSWORD, 3891).
        if (!credentialMatches(a.plugin, a.primary, id.replace))
          throw new ServerError(3891, 'ER_INCORRECT_CURRENT_PASSWORD');
      } else if (self && !privileged && this.effective(a).requireCurrent) {
        throw new ServerError(3892, 'ER_MISSING_CURRENT_PASSWORD');
      }
      // [SRC] RETAIN of an empty primary: ER_SECOND_PASSWORD_CANNOT_BE_EMPTY (3878); RETAIN with an
      // empty new password: ER_CURRENT_PASSWORD_CANNOT_BE_RETAINED (3895).
      if (id.retain && a.primary === '') throw new ServerError(3878, 'ER_SECOND_PASSWORD_CANNOT_BE_EMPTY');
      if (id.retain && newPassword === '')
        throw new ServerError(3895, 'ER_CURRENT_PASSWORD_CANNOT_BE_RETAINED');
      this.checkPolicy(session, plugin);
      this.options(cursor, a);
    } catch (error) {
      a.history = historyBefore;
      throw error;
    }
    // [PM] "RETAIN CURRENT PASSWORD": the current primary becomes the secondary, replacing any
    // secondary. Without it "the secondary password remains unchanged" — except on a plugin
    // change, which discards it ([SRC]).
    if (id.retain) a.secondary = a.primary;
    else if (pluginChanged) a.secondary = undefined;
    a.primary = newPassword;
    a.plugin = plugin;
    a.passwordLastChanged = this.day;
    // [AU] setting a password clears a manual PASSWORD EXPIRE.
    a.policy.expired = false;
    this.recordHistory(a, newPassword);
    return [];
  }

  /**
   * [PM] "Dual Password Support": RETAIN CURRENT PASSWORD / DISCARD OLD PASSWORD on one's own
   * account need APPLICATION_PASSWORD_ADMIN (or CREATE USER, or UPDATE on mysql); on another
   * account, CREATE USER (checked by the caller). Missing: ER_SPECIFIC_ACCESS_DENIED_ERROR (1227).
   */
  private requireSecondaryPrivilege(session: Account, self: boolean): void {
    if (!self) return;
    if (this.hasPrivilege(session, 'APPLICATION_PASSWORD_ADMIN') || this.privilegedForCredentials(session))
      return;
    throw new ServerError(1227, 'ER_SPECIFIC_ACCESS_DENIED_ERROR');
  }

  // ------------------------------------------------------------------------------ GRANT / REVOKE

  private grantee(sql: string, joiner: 'TO' | 'FROM'): { head: string; target: ModelAccount; tail: string } {
    const match = new RegExp(`^(.*) ${joiner} \`((?:[^\`]|\`\`)*)\`@\`((?:[^\`]|\`\`)*)\`(.*)$`).exec(sql);
    if (match === null) throw new Error('model: unreadable grant');
    const target = this.find({
      user: (match[2] as string).replaceAll('``', '`'),
      host: (match[3] as string).replaceAll('``', '`'),
    });
    return { head: match[1] as string, target, tail: match[4] as string };
  }

  private grant(sql: string): Row[] {
    const { head, target, tail } = this.grantee(sql, 'TO');
    const global = /^GRANT (.+) ON \*\.\*$/.exec(head);
    if (global !== null) {
      for (const p of (global[1] as string).split(','))
        if (p.trim() !== 'USAGE') target.globalPrivileges.add(p.trim());
      if (/WITH GRANT OPTION/.test(tail)) target.globalGrantOption = true;
    } else {
      const line = `${head} TO {grantee}${tail}`;
      if (!target.grants.includes(line)) target.grants.push(line);
    }
    return [];
  }

  private revoke(sql: string): Row[] {
    const { head, target } = this.grantee(sql, 'FROM');
    if (head === 'REVOKE ALL PRIVILEGES, GRANT OPTION') {
      target.globalPrivileges.clear();
      target.globalGrantOption = false;
      target.grants = target.grants.filter(
        (g) => !/ ON /.test(g.split(' TO ')[0] as string) && !g.startsWith('REVOKE'),
      );
      return [];
    }
    const role = /^REVOKE (`.*`@`.*`)$/.exec(head);
    if (role !== null) {
      target.grants = target.grants.filter(
        (g) => g !== `GRANT ${role[1]} TO {grantee}` && !g.startsWith(`GRANT ${role[1]} TO {grantee} `),
      );
      return [];
    }
    // A partial revoke is recorded as a line ([AU] partial_revokes).
    target.grants.push(`${head} FROM {grantee}`);
    return [];
  }

  /** How many statements changed something so far. */
  get changeCount(): number {
    return this.mutations;
  }
}
