/**
 * Unit tests of the rotator's decisions on MySQL 8, which no local server runs: a scripted
 * connection records every statement, so the exact SQL of each flow (and of each replay) is
 * asserted. MariaDB flows run for real in the integration suites.
 */
import { describe, expect, it } from 'vitest';
import {
  AuthenticationFailedError,
  InvalidSecretError,
  UnsupportedError,
  VerificationFailedError,
} from '../../rotators/errors.js';
import type { Connect, ConnectOptions, MysqlSession, Row } from '../../rotators/mysql/client.js';
import { createMysqlRotator } from '../../rotators/mysql/index.js';
import type { MysqlSecret } from '../../rotators/mysql/secret.js';
import {
  type Account,
  CREATE_CATALOGUE_TABLE,
  nativePasswordHash,
  type ServerInfo,
} from '../../rotators/mysql/sql.js';
import { MASTER_ARN, rotatorRequest } from './support.js';

const MYSQL8: ServerInfo = { flavour: 'mysql', version: [8, 0, 36], noBackslashEscapes: false };

interface Login {
  password: string;
  /** What CURRENT_USER() says (default: the user at `%`). */
  account?: Account;
}

/** A scripted MySQL: who may log in, canned answers by statement prefix, and a log of statements. */
class ScriptedMysql {
  readonly statements: { user: string; sql: string }[] = [];
  readonly logins: string[] = [];
  readonly answers: [RegExp, Row[]][] = [];

  constructor(
    readonly server: ServerInfo,
    readonly users: Record<string, Login[]>,
  ) {}

  answer(pattern: RegExp, rows: Row[]): this {
    this.answers.push([pattern, rows]);
    return this;
  }

  readonly connect: Connect = async (options: ConnectOptions): Promise<MysqlSession> => {
    this.logins.push(options.user);
    const login = this.users[options.user]?.find((l) => l.password === options.password);
    if (login === undefined) throw new AuthenticationFailedError(`scripted server refused ${options.user}`);
    const account = login.account ?? { user: options.user, host: '%' };
    return {
      server: this.server,
      account,
      query: async (sql) => {
        this.statements.push({ user: options.user, sql });
        return this.answers.find(([pattern]) => pattern.test(sql))?.[1] ?? [];
      },
      close: async () => undefined,
    };
  };

  /** Statements that change something (everything but SELECT and SHOW). */
  changes(): string[] {
    return this.statements.map((s) => s.sql).filter((sql) => !/^(SELECT|SHOW)\b/.test(sql));
  }
}

const rotatorFor = (server: ScriptedMysql) => createMysqlRotator({ connect: server.connect });

function secret(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { engine: 'mysql', host: 'db.example.com', username: 'app', password: 'current-pw', ...extra };
}

/** The master secret names its own endpoint: nothing else decides where a master logs in. */
const MASTER = JSON.stringify({ username: 'admin', password: 'admin-pw', host: 'db.example.com' });

function parse(server: ScriptedMysql, value: Record<string, unknown>, label = 'AWSCURRENT'): MysqlSecret {
  return rotatorFor(server).parse({ value, label });
}

function apply(server: ScriptedMysql, current: Record<string, unknown>, pending: Record<string, unknown>) {
  return rotatorFor(server).apply({
    ...rotatorRequest('setSecret', { [MASTER_ARN]: MASTER }),
    current: parse(server, current),
    pending: parse(server, pending, 'AWSPENDING'),
    previous: async () => undefined,
  });
}

describe('createPending', () => {
  it("draws again a password without a symbol, which MySQL's validate_password would refuse", async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, {});
    const drawn = ['OnlyLetters0123456789abcdefABCDEF', 'With-Symbol0123456789abcdefABCDEF'];
    const current = secret();
    // Act
    const { pending } = await rotatorFor(server).createPending({
      ...rotatorRequest('createSecret'),
      current: parse(server, current),
      currentValue: current,
      generatePassword: () => drawn.shift() ?? 'unexpected',
    });
    // Assess
    expect(pending.password).toBe('With-Symbol0123456789abcdefABCDEF');
    expect(server.logins).toEqual([]);
  });
});

describe('dual-password on MySQL 8', () => {
  it('retains the current password when the managing user runs it', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, {
      app: [{ password: 'current-pw' }],
      admin: [{ password: 'admin-pw' }],
    }).answer(/^SELECT plugin, authentication_string/, [
      { plugin: 'mysql_native_password', authenticationString: nativePasswordHash('current-pw') },
    ]);
    const current = secret({ strategy: 'dual-password', masterarn: MASTER_ARN });
    // Act
    await apply(server, current, { ...current, password: 'new-pw' });
    // Assess: the primary is AWSCURRENT's already, so one statement (no re-set to trip password history).
    expect(server.statements.filter((s) => s.user === 'admin').map((s) => s.sql)).toEqual([
      "SELECT plugin, authentication_string AS authenticationString, User_attributes AS userAttributes FROM mysql.user WHERE User = 'app' AND Host = '%'",
      "ALTER USER `app`@`%` IDENTIFIED BY 'new-pw' RETAIN CURRENT PASSWORD",
    ]);
  });

  it('does nothing on a replay where the pending password already logs in (RETAIN would drop AWSCURRENT)', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, {
      app: [{ password: 'new-pw' }, { password: 'current-pw' }],
      admin: [{ password: 'admin-pw' }],
    });
    const current = secret({ strategy: 'dual-password', masterarn: MASTER_ARN });
    // Act
    await apply(server, current, { ...current, password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([]);
  });

  it('uses the own-account form with REPLACE when the account runs it itself', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, { app: [{ password: 'current-pw' }] });
    const current = secret({ strategy: 'dual-password' });
    // Act
    await apply(server, current, { ...current, password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([
      "ALTER USER USER() IDENTIFIED BY 'new-pw' REPLACE 'current-pw' RETAIN CURRENT PASSWORD",
    ]);
  });

  it('refuses MySQL before 8.0.14 with UnsupportedError and changes nothing', async () => {
    // Prepare
    const server = new ScriptedMysql(
      { ...MYSQL8, version: [8, 0, 13] },
      { app: [{ password: 'current-pw' }] },
    );
    const current = secret({ strategy: 'dual-password' });
    // Act
    const result = apply(server, current, { ...current, password: 'new-pw' });
    // Assess
    await expect(result).rejects.toBeInstanceOf(UnsupportedError);
    expect(server.changes()).toEqual([]);
  });
});

describe('single-user on MySQL 8', () => {
  it('changes its own password with REPLACE, quoting by the session mode', async () => {
    // Prepare
    const server = new ScriptedMysql(
      { ...MYSQL8, noBackslashEscapes: true },
      { app: [{ password: "cur\\'pw" }] },
    );
    const current = secret({ password: "cur\\'pw" });
    // Act
    await apply(server, current, { ...current, password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([
      "ALTER USER USER() IDENTIFIED BY 'new-pw' REPLACE 'cur\\''pw'",
      // A secondary left from earlier dual-password use would keep logging in.
      'ALTER USER `app`@`%` DISCARD OLD PASSWORD',
    ]);
  });

  it('changes nothing when the login lands on another account (shadowing)', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, {
      app: [{ password: 'current-pw', account: { user: 'app', host: 'db.example.com' } }],
    });
    const current = secret();
    // Act
    const result = apply(server, current, { ...current, password: 'new-pw' });
    // Assess
    await expect(result).rejects.toBeInstanceOf(VerificationFailedError);
    expect(server.changes()).toEqual([]);
  });

  it('refuses a pending value naming another account', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, { app: [{ password: 'current-pw' }] });
    const current = secret();
    // Act
    const result = apply(server, current, { ...current, username: 'other', password: 'new-pw' });
    // Assess
    await expect(result).rejects.toBeInstanceOf(InvalidSecretError);
    expect(server.logins).toEqual([]);
  });
});

describe('single-user rollback', () => {
  const rollback = (
    server: ScriptedMysql,
    current: Record<string, unknown>,
    pending: Record<string, unknown>,
  ) =>
    rotatorFor(server).rollback({
      ...rotatorRequest('testSecret'),
      current: parse(server, current),
      pending: parse(server, pending, 'AWSPENDING'),
    });

  it('MySQL 8: the account sets AWSCURRENT back with REPLACE of the pending password', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, { app: [{ password: 'new-pw' }] });
    const current = secret();
    // Act
    await rollback(server, current, { ...current, password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual(["ALTER USER USER() IDENTIFIED BY 'current-pw' REPLACE 'new-pw'"]);
  });

  it('MariaDB: only the hash of AWSCURRENT is sent, never the plaintext', async () => {
    // Prepare
    const server = new ScriptedMysql(
      { flavour: 'mariadb', version: [10, 11, 6], noBackslashEscapes: false },
      {
        app: [{ password: 'new-pw' }],
      },
    );
    const current = secret({ engine: 'mariadb' });
    // Act
    await rollback(server, current, { ...current, password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([
      `SET PASSWORD FOR \`app\`@\`%\` = '${nativePasswordHash('current-pw')}'`,
    ]);
    expect(server.statements.some((s) => s.sql.includes('current-pw') || s.sql.includes('new-pw'))).toBe(
      false,
    );
  });

  it('changes nothing when the pending password lands on another account (shadowing)', async () => {
    // Prepare
    const server = new ScriptedMysql(MYSQL8, {
      app: [{ password: 'new-pw', account: { user: 'app', host: 'db.example.com' } }],
    });
    const current = secret();
    // Act
    const result = rollback(server, current, { ...current, password: 'new-pw' });
    // Assess
    await expect(result).rejects.toBeInstanceOf(VerificationFailedError);
    expect(server.changes()).toEqual([]);
  });
});

describe('alternating-users on MySQL 8', () => {
  const primaryRow: Row = {
    plugin: 'caching_sha2_password',
    ssl_type: 'X509',
    ssl_cipher: Buffer.from(''),
    x509_issuer: Buffer.from(''),
    x509_subject: Buffer.from(''),
    max_questions: 0,
    max_updates: 100,
    max_connections: 0,
    max_user_connections: 5,
  };

  function scripted(user: string, clone: string, cloneExists: boolean, cloneGrants: string[] = []) {
    const grants = (name: string) => [
      { [`Grants for ${name}@%`]: `GRANT USAGE ON *.* TO \`${name}\`@\`%\`` },
      {
        [`Grants for ${name}@%`]: `GRANT SELECT, INSERT ON \`shop\`.* TO \`${name}\`@\`%\` WITH GRANT OPTION`,
      },
      { [`Grants for ${name}@%`]: `GRANT \`reader\`@\`%\` TO \`${name}\`@\`%\`` },
    ];
    // AWSCURRENT logs in as the secret's account (proof of possession); an existing clone is in
    // rotor's catalogue as the owner's.
    const owner = user.endsWith('_clone') ? clone : user;
    return new ScriptedMysql(MYSQL8, {
      admin: [{ password: 'admin-pw' }],
      [user]: [{ password: 'current-pw' }],
    })
      .answer(/^SELECT CHARACTER_MAXIMUM_LENGTH/, [{ limitChars: 32 }])
      .answer(
        /^SELECT owner_user/,
        cloneExists || owner === clone ? [{ ownerUser: owner, ownerHost: '%' }] : [],
      )
      .answer(new RegExp(`^SELECT plugin.* WHERE User = '${user}'`), [primaryRow])
      .answer(new RegExp(`^SELECT plugin.* WHERE User = '${clone}'`), cloneExists ? [primaryRow] : [])
      .answer(new RegExp(`^SHOW GRANTS FOR \`${user}\``), grants(user))
      .answer(
        new RegExp(`^SHOW GRANTS FOR \`${clone}\``),
        cloneGrants.length > 0 ? cloneGrants.map((line) => ({ g: line })) : grants(clone),
      )
      .answer(/^SELECT DEFAULT_ROLE_USER/, [{ user: 'reader', host: '%' }]);
  }

  it('names a long account within 32 characters and records the way back', async () => {
    // Prepare
    const user = 'reporting_service_account_east_1';
    const server = scripted(user, 'unused', false);
    const current = secret({ username: user, masterarn: MASTER_ARN });
    // Act
    const { pending } = await rotatorFor(server).createPending({
      ...rotatorRequest('createSecret', { [MASTER_ARN]: MASTER }),
      current: parse(server, current),
      currentValue: current,
      generatePassword: () => 'Generated-pw1',
    });
    // Assess
    const value: Readonly<Record<string, unknown>> = pending;
    expect(String(value.username)).toHaveLength(32);
    expect(value.primaryUsername).toBe(user);
    expect(server.changes()).toEqual([]);
  });

  it('creates the clone with the primary plugin, grants, shared role, default role, X509 and limits', async () => {
    // Prepare
    const server = scripted('app', 'app_clone', false);
    const current = secret({ masterarn: MASTER_ARN });
    // Act
    await apply(server, current, { ...current, username: 'app_clone', password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([
      // Recorded in rotor's catalogue first: a crash before CREATE USER leaves a harmless row.
      'CREATE DATABASE IF NOT EXISTS `rotor`',
      CREATE_CATALOGUE_TABLE,
      "INSERT INTO `rotor`.`accounts` (`user`, `host`, owner_user, owner_host) VALUES ('app_clone', '%', 'app', '%') ON DUPLICATE KEY UPDATE owner_user = 'app', owner_host = '%', created_at = CURRENT_TIMESTAMP",
      "CREATE USER `app_clone`@`%` IDENTIFIED WITH caching_sha2_password BY 'new-pw'",
      // No bare GRANT USAGE: every account has it, and granting it needs a global GRANT OPTION.
      'GRANT SELECT, INSERT ON `shop`.* TO `app_clone`@`%` WITH GRANT OPTION',
      'GRANT `reader`@`%` TO `app_clone`@`%`',
      'ALTER USER `app_clone`@`%` DEFAULT ROLE `reader`@`%`',
      'ALTER USER `app_clone`@`%` REQUIRE X509 WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 100 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 5',
    ]);
  });

  it('on an existing clone with the same access only sets the password and discards an old one', async () => {
    // Prepare
    const server = scripted('app_clone', 'app', true);
    const current = secret({ username: 'app_clone', masterarn: MASTER_ARN });
    // Act
    await apply(server, current, { ...current, username: 'app', password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([
      "ALTER USER `app`@`%` IDENTIFIED WITH caching_sha2_password BY 'new-pw'",
      'ALTER USER `app`@`%` DISCARD OLD PASSWORD',
    ]);
  });

  it('rewrites the grants of a clone that drifted: revokes its roles and privileges, then copies', async () => {
    // Prepare
    const server = scripted('app', 'app_clone', true, [
      'GRANT USAGE ON *.* TO `app_clone`@`%`',
      'GRANT DELETE ON `shop`.* TO `app_clone`@`%`',
      'GRANT `writer`@`%` TO `app_clone`@`%`',
    ]);
    const current = secret({ masterarn: MASTER_ARN });
    // Act
    await apply(server, current, { ...current, username: 'app_clone', password: 'new-pw' });
    // Assess
    expect(server.changes()).toEqual([
      "ALTER USER `app_clone`@`%` IDENTIFIED WITH caching_sha2_password BY 'new-pw'",
      'ALTER USER `app_clone`@`%` DISCARD OLD PASSWORD',
      'REVOKE `writer`@`%` FROM `app_clone`@`%`',
      'REVOKE ALL PRIVILEGES, GRANT OPTION FROM `app_clone`@`%`',
      'GRANT SELECT, INSERT ON `shop`.* TO `app_clone`@`%` WITH GRANT OPTION',
      'GRANT `reader`@`%` TO `app_clone`@`%`',
      'ALTER USER `app_clone`@`%` DEFAULT ROLE `reader`@`%`',
    ]);
  });

  it('refuses a pending account that is not the alternate of the current one', async () => {
    // Prepare
    const server = scripted('app', 'app_clone', false);
    const current = secret({ masterarn: MASTER_ARN });
    // Act
    const result = apply(server, current, { ...current, username: 'root', password: 'new-pw' });
    // Assess
    await expect(result).rejects.toMatchObject({ name: 'InvalidSecretError', field: 'username' });
    expect(server.changes()).toEqual([]);
  });

  it('refuses a primary account that authenticates without a password', async () => {
    // Prepare
    const server = scripted('app', 'app_clone', false);
    server.answers.unshift([
      /^SELECT plugin.* WHERE User = 'app'/,
      [{ ...primaryRow, plugin: 'auth_socket' }],
    ]);
    const current = secret({ masterarn: MASTER_ARN });
    // Act
    const result = apply(server, current, { ...current, username: 'app_clone', password: 'new-pw' });
    // Assess
    await expect(result).rejects.toBeInstanceOf(UnsupportedError);
    expect(server.changes()).toEqual([]);
  });
});
