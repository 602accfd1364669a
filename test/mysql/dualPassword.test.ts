/**
 * dual-password on MySQL 8 after an abandoned rotation (issue 20, finding 1), against a model of a
 * MySQL 8 account's credentials: no MySQL server runs here, so the rules of the MySQL 8.0
 * Reference Manual ("Dual Password Support", "ALTER USER Statement", "Password Verification-
 * Required Policy") are modelled, each where it is applied, and the rotator is driven through it.
 * The assertion that matters: AWSCURRENT's password logs in after every statement rotor sends.
 */
import { describe, expect, it } from 'vitest';
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  InternalError,
  PermissionDeniedError,
  type RotorError,
} from '../../rotators/errors.js';
import type { Connect, MysqlSession, Row } from '../../rotators/mysql/client.js';
import { createMysqlRotator } from '../../rotators/mysql/index.js';
import { nativePasswordHash, type ServerInfo, sha256Crypt } from '../../rotators/mysql/sql.js';
import { countRefusals } from '../support/contract.js';
import { MASTER_ARN, rotatorRequest } from './support.js';

const MYSQL8: ServerInfo = { flavour: 'mysql', version: [8, 0, 36], noBackslashEscapes: false };
const MASTER = JSON.stringify({ username: 'admin', password: 'admin-pw', host: 'db.example.com' });
const SALT = 'AbCdEfGhIjKlMnOpQrSt';

type Plugin = 'mysql_native_password' | 'caching_sha2_password' | 'sha256_password';

/** One MySQL 8 account: a primary password and an optional secondary one. */
class Account {
  secondary: string | undefined;

  constructor(
    public primary: string,
    secondary: string | undefined,
    readonly plugin: Plugin,
    /** password_require_current for the account (REPLACE required on the own-account form). */
    readonly requireCurrent = false,
  ) {
    this.secondary = secondary;
  }

  /** "Either password can be used to connect" (Dual Password Support). */
  logsIn(password: string): boolean {
    return password === this.primary || password === this.secondary;
  }

  /** What mysql.user.authentication_string holds for the primary password. */
  stored(): string {
    if (this.plugin === 'mysql_native_password') return nativePasswordHash(this.primary);
    if (this.plugin === 'caching_sha2_password') {
      return `$A$005$${SALT}${sha256Crypt(Buffer.from(this.primary), Buffer.from(SALT), 5000)}`;
    }
    return `$5$${SALT}$opaque`;
  }
}

const serverError = (code: string, kind: 'internal' | 'permission' = 'internal'): RotorError =>
  kind === 'permission'
    ? new PermissionDeniedError(`model: error ${code}`, { cause: { name: 'Error', code } })
    : new InternalError(`model: error ${code}`, { cause: { name: 'Error', code } });

/** A MySQL 8 server holding `app` (the rotated account) and `admin` (the managing user). */
class Mysql8Model {
  readonly changes: string[] = [];
  /** After each change: whether AWSCURRENT's password (`watched`) still logged in. */
  readonly watch: boolean[] = [];

  constructor(
    readonly app: Account,
    readonly watched: string,
    /** Whether the managing user may read mysql.user. */
    readonly adminReadsMysql = true,
  ) {}

  readonly connect: Connect = async (options): Promise<MysqlSession> => {
    const ok =
      options.user === 'admin'
        ? options.password === 'admin-pw'
        : options.user === 'app' && this.app.logsIn(options.password);
    if (!ok) throw new AuthenticationFailedError(`model refused ${options.user}`);
    const self = options.user;
    return {
      server: MYSQL8,
      account: { user: self, host: '%' },
      query: async (sql): Promise<Row[]> => {
        if (/^SELECT plugin, authentication_string/.test(sql)) {
          if (!(self === 'admin' && this.adminReadsMysql)) throw serverError('1142', 'permission');
          return [{ plugin: this.app.plugin, authenticationString: this.app.stored() }];
        }
        const alter =
          /^ALTER USER (USER\(\)|`app`@`%`) IDENTIFIED BY '([^']*)'(?: REPLACE '([^']*)')?( RETAIN CURRENT PASSWORD)?$/.exec(
            sql,
          );
        if (alter === null) throw new Error(`the model does not know: ${sql}`);
        const [, target, password, replace, retain] = alter as unknown as [
          string,
          string,
          string,
          string?,
          string?,
        ];
        const own = target === 'USER()';
        if (own && self !== 'app') throw new Error('the model runs the own-account form only as app');
        if (!own && self !== 'admin') throw serverError('1227', 'permission');
        // "REPLACE ... must be the current password" (the primary), else ER_INCORRECT_CURRENT_PASSWORD.
        if (own && replace !== undefined && replace !== this.app.primary) throw serverError('3891');
        // Password Verification-Required Policy: the own-account form must name the current password.
        if (own && replace === undefined && this.app.requireCurrent) throw serverError('3892', 'permission');
        if (retain !== undefined) {
          // "RETAIN CURRENT PASSWORD: the current password becomes the secondary, replacing any
          // existing secondary."
          this.app.secondary = this.app.primary;
        }
        // Without RETAIN: "the secondary password remains unchanged".
        this.app.primary = password;
        this.changes.push(sql);
        this.watch.push(this.app.logsIn(this.watched));
        return [];
      },
      close: async () => undefined,
    };
  };
}

function secret(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    engine: 'mysql',
    host: 'db.example.com',
    username: 'app',
    password: 'C-pw',
    strategy: 'dual-password',
    ...extra,
  };
}

async function applyDual(
  model: Mysql8Model,
  current: Record<string, unknown>,
  pendingPassword: string,
  connect: Connect = model.connect,
) {
  const rotator = createMysqlRotator({ connect });
  const parse = (value: Record<string, unknown>, label: string) => rotator.parse({ value, label });
  await rotator.apply({
    ...rotatorRequest('setSecret', { [MASTER_ARN]: MASTER }),
    current: parse(current, 'AWSCURRENT'),
    pending: parse({ ...current, password: pendingPassword }, 'AWSPENDING'),
    previous: async () => undefined,
  });
}

describe('the MySQL 8 model', () => {
  it('drops AWSCURRENT when RETAIN runs while an abandoned pending password is primary (the bug)', async () => {
    // Prepare: P1 primary, C secondary, after a rotation that applied P1 and then failed.
    const model = new Mysql8Model(new Account('P1-pw', 'C-pw', 'mysql_native_password'), 'C-pw');
    const session = await model.connect({
      host: 'db',
      port: 3306,
      user: 'admin',
      password: 'admin-pw',
      tls: { mode: 'verify-full' },
      signal: new AbortController().signal,
      deadline: Date.now() + 1000,
    });
    // Act
    await session.query("ALTER USER `app`@`%` IDENTIFIED BY 'N-pw' RETAIN CURRENT PASSWORD", 'retain');
    // Assess
    expect(model.watch).toEqual([false]);
  });
});

describe('dual-password on MySQL 8 after an abandoned rotation', () => {
  for (const plugin of ['mysql_native_password', 'caching_sha2_password'] as const) {
    it(`run by the managing user (${plugin}): AWSCURRENT logs in after every statement, and ends as the secondary`, async () => {
      // Prepare
      const model = new Mysql8Model(new Account('P1-pw', 'C-pw', plugin), 'C-pw');
      // Act
      await applyDual(model, secret({ masterarn: MASTER_ARN }), 'N-pw');
      // Assess
      expect(model.changes).toEqual([
        "ALTER USER `app`@`%` IDENTIFIED BY 'C-pw'",
        "ALTER USER `app`@`%` IDENTIFIED BY 'N-pw' RETAIN CURRENT PASSWORD",
      ]);
      expect(model.watch).toEqual([true, true]);
      expect([model.app.primary, model.app.secondary]).toEqual(['N-pw', 'C-pw']);
    });
  }

  it('run by the managing user that cannot read mysql.user: the same, safe order', async () => {
    // Prepare
    const model = new Mysql8Model(new Account('P1-pw', 'C-pw', 'caching_sha2_password'), 'C-pw', false);
    // Act
    await applyDual(model, secret({ masterarn: MASTER_ARN }), 'N-pw');
    // Assess
    expect(model.watch).toEqual([true, true]);
    expect([model.app.primary, model.app.secondary]).toEqual(['N-pw', 'C-pw']);
  });

  it('run by the account itself: the refused REPLACE (3891) changes nothing; C, which logged in, is the secondary and is kept by one IDENTIFIED BY', async () => {
    // Prepare
    const model = new Mysql8Model(new Account('P1-pw', 'C-pw', 'caching_sha2_password'), 'C-pw');
    // Act
    await applyDual(model, secret({}), 'N-pw');
    // Assess: C is never set again (a password history would refuse it: test/mysql/mysql8Flows.test.ts).
    expect(model.changes).toEqual(["ALTER USER USER() IDENTIFIED BY 'N-pw'"]);
    expect(model.watch).toEqual([true]);
    expect([model.app.primary, model.app.secondary]).toEqual(['N-pw', 'C-pw']);
  });

  it('run by the account itself under password_require_current: refused loudly, nothing changed, AWSCURRENT still logs in', async () => {
    // Prepare
    const model = new Mysql8Model(new Account('P1-pw', 'C-pw', 'caching_sha2_password', true), 'C-pw');
    // Act
    const result = applyDual(model, secret({}), 'N-pw');
    // Assess
    await expect(result).rejects.toMatchObject({ name: 'ConfigurationError' });
    await expect(result).rejects.toThrow(/password_require_current/);
    expect(model.changes).toEqual([]);
    expect(model.app.logsIn('C-pw')).toBe(true);
  });
});

describe('dual-password on MySQL 8 in the ordinary case', () => {
  for (const plugin of ['mysql_native_password', 'caching_sha2_password'] as const) {
    it(`run by the managing user (${plugin}): AWSCURRENT is primary already, one statement (no re-set that password history would refuse)`, async () => {
      // Prepare: C primary, the previous rotation's password secondary.
      const model = new Mysql8Model(new Account('C-pw', 'Prev-pw', plugin), 'C-pw');
      // Act
      await applyDual(model, secret({ masterarn: MASTER_ARN }), 'N-pw');
      // Assess
      expect(model.changes).toEqual(["ALTER USER `app`@`%` IDENTIFIED BY 'N-pw' RETAIN CURRENT PASSWORD"]);
      expect([model.app.primary, model.app.secondary]).toEqual(['N-pw', 'C-pw']);
    });
  }

  it('run by the account itself: one statement', async () => {
    // Prepare
    const model = new Mysql8Model(new Account('C-pw', 'Prev-pw', 'caching_sha2_password', true), 'C-pw');
    // Act
    await applyDual(model, secret({}), 'N-pw');
    // Assess
    expect(model.changes).toEqual([
      "ALTER USER USER() IDENTIFIED BY 'N-pw' REPLACE 'C-pw' RETAIN CURRENT PASSWORD",
    ]);
  });

  it('a routine rotation makes no refused login, on either path (each counts towards FAILED_LOGIN_ATTEMPTS)', async () => {
    for (const extra of [{ masterarn: MASTER_ARN }, {}]) {
      // Prepare: C primary, the previous rotation's password secondary.
      const model = new Mysql8Model(new Account('C-pw', 'Prev-pw', 'caching_sha2_password'), 'C-pw');
      const counted = countRefusals(model.connect);
      // Act
      await applyDual(model, secret(extra), 'N-pw', counted.connect);
      // Assess
      expect(counted.refused(), JSON.stringify(extra)).toBe(0);
      expect([model.app.primary, model.app.secondary]).toEqual(['N-pw', 'C-pw']);
    }
  });

  it('a failure reading the stored passwords that is not a refusal (a timeout) stops the apply: it is not taken for "cannot tell"', async () => {
    // Prepare: the managing user's SELECT on mysql.user times out.
    const model = new Mysql8Model(new Account('P1-pw', 'C-pw', 'caching_sha2_password'), 'C-pw');
    const connect: Connect = async (options) => {
      const session = await model.connect(options);
      return {
        ...session,
        query: async (sql, what) => {
          if (sql.startsWith('SELECT plugin, authentication_string')) {
            throw new DeadlineExceededError('the statement ran out of time');
          }
          return session.query(sql, what);
        },
      };
    };
    // Act
    const result = applyDual(model, secret({ masterarn: MASTER_ARN }), 'N-pw', connect);
    // Assess
    await expect(result).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(model.changes).toEqual([]);
  });

  it('replaying setSecret after it worked changes nothing, on either path', async () => {
    for (const extra of [{ masterarn: MASTER_ARN }, {}]) {
      // Prepare
      const model = new Mysql8Model(new Account('N-pw', 'C-pw', 'caching_sha2_password'), 'C-pw');
      // Act
      await applyDual(model, secret(extra), 'N-pw');
      // Assess
      expect(model.changes).toEqual([]);
    }
  });

  it('an abandoned rotation, then the next one, then a replay: AWSCURRENT logs in throughout', async () => {
    // Prepare: rotation 1 applied P1 and was abandoned; rotation 2 brings N.
    const model = new Mysql8Model(new Account('C-pw', 'Prev-pw', 'caching_sha2_password'), 'C-pw');
    await applyDual(model, secret({ masterarn: MASTER_ARN }), 'P1-pw');
    // Act
    await applyDual(model, secret({ masterarn: MASTER_ARN }), 'N-pw');
    await applyDual(model, secret({ masterarn: MASTER_ARN }), 'N-pw');
    // Assess
    expect(model.watch.every(Boolean)).toBe(true);
    expect([model.app.primary, model.app.secondary]).toEqual(['N-pw', 'C-pw']);
  });
});
