/**
 * The exact statements rotor sends to MySQL 8, per server version (8.0, 8.4, Aurora MySQL 3, whose
 * VERSION() answers the MySQL version, e.g. 8.0.32), for every strategy and for the recovery paths,
 * recorded from the real rotator driving the MySQL 8 model (./model/mysql8.ts). What changes with
 * the version is said next to the case.
 */
import { describe, expect, it } from 'vitest';
import { passwordVerifies, selectAccount } from '../../rotators/mysql/sql.js';
import { MysqlModel } from './model/mysql8.js';
import { Rotation, type Value } from './model/rotation.js';
import { MASTER_ARN } from './support.js';

const VERSIONS = ['8.0.36', '8.4.3', '8.0.32'];

function server(version: string): MysqlModel {
  const model = new MysqlModel({ version });
  model.addAccount({ user: 'admin', password: 'admin-pw', globalPrivileges: new Set(['CREATE USER']) });
  model.addAccount({ user: 'app', password: 'C', grants: ['GRANT SELECT ON `shop`.* TO {grantee}'] });
  return model;
}

const secret = (extra: Value): Value => ({
  engine: 'mysql',
  host: 'db.example.com',
  username: 'app',
  password: 'C',
  ...extra,
});

const DUAL = { strategy: 'dual-password', masterarn: MASTER_ARN };

describe.each(VERSIONS)('MySQL %s', (version) => {
  it('single-user: REPLACE the login password, then discard an old secondary', async () => {
    // Prepare
    const model = server(version);
    const rotation = new Rotation(model, secret({}));
    // Act
    await rotation.full();
    // Assess
    expect(model.changes()).toEqual([
      "ALTER USER USER() IDENTIFIED BY 'Pending-1-pw' REPLACE 'C'",
      'ALTER USER `app`@`%` DISCARD OLD PASSWORD',
    ]);
  });

  it('single-user logged in with a secondary: REPLACE refused (3891), then without REPLACE', async () => {
    // Prepare
    const model = server(version);
    Object.assign(model.account('app') ?? {}, { primary: 'abandoned-pw', secondary: 'C' });
    const rotation = new Rotation(model, secret({}));
    // Act
    await rotation.full();
    // Assess
    expect(model.changes()).toEqual([
      "ALTER USER USER() IDENTIFIED BY 'Pending-1-pw' REPLACE 'C'",
      "ALTER USER USER() IDENTIFIED BY 'Pending-1-pw'",
      'ALTER USER `app`@`%` DISCARD OLD PASSWORD',
    ]);
  });

  it('dual-password by the managing user: AWSCURRENT primary, one RETAIN', async () => {
    // Prepare
    const model = server(version);
    const rotation = new Rotation(model, secret(DUAL));
    // Act
    await rotation.full();
    // Assess
    expect(model.log.filter((e) => e.user === 'admin').map((e) => e.sql)).toEqual([
      "SELECT plugin, authentication_string AS authenticationString, User_attributes AS userAttributes FROM mysql.user WHERE User = 'app' AND Host = '%'",
      "ALTER USER `app`@`%` IDENTIFIED BY 'Pending-1-pw' RETAIN CURRENT PASSWORD",
    ]);
  });

  it('dual-password by the managing user after an abandoned rotation: AWSCURRENT is the secondary and is kept', async () => {
    // Prepare
    const model = server(version);
    const rotation = new Rotation(model, secret(DUAL));
    await rotation.createSecret();
    await rotation.setSecret();
    rotation.abandon();
    model.log.length = 0;
    // Act
    await rotation.full();
    // Assess
    expect(model.log.filter((e) => e.user === 'admin').map((e) => e.sql)).toEqual([
      "SELECT plugin, authentication_string AS authenticationString, User_attributes AS userAttributes FROM mysql.user WHERE User = 'app' AND Host = '%'",
      "ALTER USER `app`@`%` IDENTIFIED BY 'Pending-2-pw'",
    ]);
    expect([model.accepts('app', 'Pending-2-pw'), model.accepts('app', 'C')]).toEqual([true, true]);
  });

  it('dual-password by the account after an abandoned rotation: REPLACE refused (3891), then IDENTIFIED BY alone', async () => {
    // Prepare
    const model = server(version);
    model.account('app')?.globalPrivileges.add('APPLICATION_PASSWORD_ADMIN');
    const rotation = new Rotation(model, secret({ strategy: 'dual-password' }));
    await rotation.createSecret();
    await rotation.setSecret();
    rotation.abandon();
    const before = model.changes().length;
    // Act
    await rotation.full();
    // Assess
    expect(model.changes().slice(before)).toEqual([
      "ALTER USER USER() IDENTIFIED BY 'Pending-2-pw' REPLACE 'C' RETAIN CURRENT PASSWORD",
      "ALTER USER USER() IDENTIFIED BY 'Pending-2-pw'",
    ]);
  });

  it('alternating-users: the clone is recorded, created with the primary plugin, granted, and given the policy', async () => {
    // Prepare
    const model = server(version);
    Object.assign(model.account('app')?.policy ?? {}, {
      lifetime: 'NEVER',
      failedLoginAttempts: 3,
      passwordLockTime: 'UNBOUNDED',
      metadata: JSON.stringify({ comment: "owner's shop" }),
    });
    const rotation = new Rotation(model, secret({ masterarn: MASTER_ARN }));
    // Act
    await rotation.full();
    // Assess
    expect(model.changes().filter((sql) => !sql.startsWith('CREATE TABLE'))).toEqual([
      'CREATE DATABASE IF NOT EXISTS `rotor`',
      "INSERT INTO `rotor`.`accounts` (`user`, `host`, owner_user, owner_host) VALUES ('app_clone', '%', 'app', '%') ON DUPLICATE KEY UPDATE owner_user = 'app', owner_host = '%', created_at = CURRENT_TIMESTAMP",
      "CREATE USER `app_clone`@`%` IDENTIFIED WITH caching_sha2_password BY 'Pending-1-pw'",
      'GRANT SELECT ON `shop`.* TO `app_clone`@`%`',
      'ALTER USER `app_clone`@`%` REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE NEVER PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME UNBOUNDED ACCOUNT UNLOCK ATTRIBUTE \'{"comment":"owner\'\'s shop"}\'',
    ]);
  });

  it('alternating-users with mysqlPasswordHash client: the clone gets the stored string (AS), never the password', async () => {
    // Prepare
    const model = server(version);
    const rotation = new Rotation(model, secret({ masterarn: MASTER_ARN, mysqlPasswordHash: 'client' }));
    await rotation.full();
    const first = model.changes().filter((sql) => !sql.startsWith('CREATE TABLE'));
    const before = model.changes().length;
    // Act
    await rotation.full();
    const back = model.changes().slice(before);
    // Assess
    const as = (account: string) =>
      new RegExp(`^${account} IDENTIFIED WITH caching_sha2_password AS '(\\$A\\$005\\$[./0-9A-Za-z]{63})'$`);
    expect(first).toEqual([
      'CREATE DATABASE IF NOT EXISTS `rotor`',
      "INSERT INTO `rotor`.`accounts` (`user`, `host`, owner_user, owner_host) VALUES ('app_clone', '%', 'app', '%') ON DUPLICATE KEY UPDATE owner_user = 'app', owner_host = '%', created_at = CURRENT_TIMESTAMP",
      expect.stringMatching(as('CREATE USER `app_clone`@`%`')),
      'GRANT SELECT ON `shop`.* TO `app_clone`@`%`',
      'ALTER USER `app_clone`@`%` REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE DEFAULT PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT FAILED_LOGIN_ATTEMPTS 0 PASSWORD_LOCK_TIME 0 ACCOUNT UNLOCK',
    ]);
    expect(back).toEqual([
      expect.stringMatching(as('ALTER USER `app`@`%`')),
      'ALTER USER `app`@`%` DISCARD OLD PASSWORD',
    ]);
    const created = as('CREATE USER `app_clone`@`%`').exec(first[2] as string)?.[1] as string;
    const reset = as('ALTER USER `app`@`%`').exec(back[0] as string)?.[1] as string;
    expect(passwordVerifies('caching_sha2_password', created, 'Pending-1-pw')).toBe(true);
    expect(passwordVerifies('caching_sha2_password', reset, 'Pending-2-pw')).toBe(true);
    expect(model.log.filter((event) => /Pending-\d-pw/.test(event.sql))).toEqual([]);
    expect([rotation.logsIn(rotation.current), rotation.logsIn(rotation.previous)]).toEqual([true, true]);
  });

  it('alternating-users back to the primary: its password, the discard, nothing else when access is equal', async () => {
    // Prepare
    const model = server(version);
    const rotation = new Rotation(model, secret({ masterarn: MASTER_ARN }));
    await rotation.full();
    const before = model.changes().length;
    // Act
    await rotation.full();
    // Assess
    expect(model.changes().slice(before)).toEqual([
      "ALTER USER `app`@`%` IDENTIFIED WITH caching_sha2_password BY 'Pending-2-pw'",
      'ALTER USER `app`@`%` DISCARD OLD PASSWORD',
    ]);
  });
});

describe('policy columns by version (mysql.user gained them over 5.7.6 … 8.0.21)', () => {
  it.each([
    ['5.7.44', ', password_lifetime, account_locked FROM'],
    ['8.0.12', ', password_lifetime, account_locked, Password_reuse_history, Password_reuse_time FROM'],
    [
      '8.0.18',
      ', password_lifetime, account_locked, Password_reuse_history, Password_reuse_time, Password_require_current, User_attributes FROM',
    ],
  ])('MySQL %s reads %s', (version, columns) => {
    // Prepare
    const parsed = version.split('.').map(Number) as [number, number, number];
    // Act
    const sql = selectAccount(
      { flavour: 'mysql', version: parsed, noBackslashEscapes: false },
      { user: 'app', host: '%' },
    );
    // Assess
    expect(sql).toContain(`max_user_connections${columns}`);
  });

  it('MySQL 8.0.18 writes no FAILED_LOGIN_ATTEMPTS (8.0.19) and no ATTRIBUTE (8.0.21)', async () => {
    // Prepare
    const model = server('8.0.18');
    Object.assign(model.account('app')?.policy ?? {}, {
      lifetime: 30,
      history: 2,
      reuseInterval: 7,
      requireCurrent: 'Y',
    });
    const rotation = new Rotation(model, secret({ masterarn: MASTER_ARN }));
    // Act
    await rotation.full();
    // Assess
    expect(model.changes().at(-1)).toBe(
      'ALTER USER `app_clone`@`%` REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE INTERVAL 30 DAY PASSWORD HISTORY 2 PASSWORD REUSE INTERVAL 7 DAY PASSWORD REQUIRE CURRENT ACCOUNT UNLOCK',
    );
  });
});
