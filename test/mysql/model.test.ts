/**
 * The MySQL 8 model's own rules (./model/mysql8.ts), one test per documented behaviour, each naming
 * the manual section or source function it follows. The flow tests trust these.
 */
import { describe, expect, it } from 'vitest';
import { AuthenticationFailedError, RotorError } from '../../rotators/errors.js';
import type { MysqlSession } from '../../rotators/mysql/client.js';
import { cachingSha2Verifier } from '../../rotators/mysql/sql.js';
import { type ModelAccount, type ModelOptions, MysqlModel, serverInfoOf } from './model/mysql8.js';

function server(options: Partial<ModelOptions> = {}): MysqlModel {
  const model = new MysqlModel({ version: '8.0.36', ...options });
  model.addAccount({ user: 'admin', password: 'admin-pw', globalPrivileges: new Set(['CREATE USER']) });
  model.addAccount({ user: 'app', password: 'C' });
  return model;
}

function login(model: MysqlModel, user: string, password: string): Promise<MysqlSession> {
  return model.connect({
    host: 'db.example.com',
    port: 3306,
    user,
    password,
    tls: { mode: 'disable' },
    signal: AbortSignal.timeout(5000),
    deadline: Date.now() + 5000,
  });
}

async function run(model: MysqlModel, user: string, password: string, sql: string): Promise<unknown> {
  const session = await login(model, user, password);
  try {
    return await session.query(sql, 'run a statement');
  } finally {
    await session.close();
  }
}

/** The server error number a statement failed with (through the rotator's classify.ts). */
async function errnoOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (!(error instanceof RotorError)) throw error;
    return (error.cause as { code?: string } | undefined)?.code;
  }
}

describe('dual passwords (Manual: Password Management, Dual Password Support; sql_user.cc)', () => {
  it('RETAIN CURRENT PASSWORD makes the primary the secondary and drops the old secondary', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1' RETAIN CURRENT PASSWORD");
    // Act
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P2' RETAIN CURRENT PASSWORD");
    // Assess
    expect([model.accepts('app', 'P2'), model.accepts('app', 'P1'), model.accepts('app', 'C')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('IDENTIFIED BY without RETAIN leaves the secondary unchanged', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1' RETAIN CURRENT PASSWORD");
    // Act
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P2'");
    // Assess
    expect([model.accepts('app', 'P2'), model.accepts('app', 'C'), model.accepts('app', 'P1')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('DISCARD OLD PASSWORD removes the secondary', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1' RETAIN CURRENT PASSWORD");
    // Act
    await run(model, 'admin', 'admin-pw', 'ALTER USER `app`@`%` DISCARD OLD PASSWORD');
    // Assess
    expect([model.accepts('app', 'P1'), model.accepts('app', 'C')]).toEqual([true, false]);
  });

  it('a plugin change with RETAIN fails with 3894, and without RETAIN discards the secondary', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1' RETAIN CURRENT PASSWORD");
    // Act
    const retained = await errnoOf(
      run(
        model,
        'admin',
        'admin-pw',
        "ALTER USER `app`@`%` IDENTIFIED WITH mysql_native_password BY 'P2' RETAIN CURRENT PASSWORD",
      ),
    );
    await run(
      model,
      'admin',
      'admin-pw',
      "ALTER USER `app`@`%` IDENTIFIED WITH mysql_native_password BY 'P2'",
    );
    // Assess
    expect(retained).toBe('3894');
    expect([model.accepts('app', 'P2'), model.accepts('app', 'P1'), model.accepts('app', 'C')]).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('RETAIN on an account with an empty primary fails with 3878', async () => {
    // Prepare
    const model = server();
    model.addAccount({ user: 'blank', password: '' });
    // Act
    const errno = await errnoOf(
      run(model, 'admin', 'admin-pw', "ALTER USER `blank`@`%` IDENTIFIED BY 'P1' RETAIN CURRENT PASSWORD"),
    );
    // Assess
    expect(errno).toBe('3878');
  });

  it('RETAIN on the own account needs APPLICATION_PASSWORD_ADMIN, CREATE USER or UPDATE on mysql (1227)', async () => {
    // Prepare
    const model = server();
    model.addAccount({
      user: 'viaupdate',
      password: 'U',
      grants: ['GRANT UPDATE ON `mysql`.* TO {grantee}'],
    });
    const statement = "ALTER USER USER() IDENTIFIED BY 'N1' REPLACE 'C' RETAIN CURRENT PASSWORD";
    // Act
    const plain = await errnoOf(run(model, 'app', 'C', statement));
    const viaUpdate = await errnoOf(
      run(
        model,
        'viaupdate',
        'U',
        "ALTER USER USER() IDENTIFIED BY 'N1' REPLACE 'U' RETAIN CURRENT PASSWORD",
      ),
    );
    // Assess
    expect(plain).toBe('1227');
    expect(viaUpdate).toBeUndefined();
  });
});

describe('REPLACE (sql_user.cc validate_password_require_current)', () => {
  it('is compared with the primary only: logging in with the secondary and replacing it fails with 3891', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1' RETAIN CURRENT PASSWORD");
    // Act
    const errno = await errnoOf(run(model, 'app', 'C', "ALTER USER USER() IDENTIFIED BY 'P2' REPLACE 'C'"));
    // Assess
    expect(errno).toBe('3891');
    expect(model.accepts('app', 'P2')).toBe(false);
  });

  it('is refused for another account with 3893', async () => {
    // Prepare
    const model = server();
    // Act
    const errno = await errnoOf(
      run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P2' REPLACE 'C'"),
    );
    // Assess
    expect(errno).toBe('3893');
  });

  it('is required under password_require_current for an unprivileged own change (3892)', async () => {
    // Prepare
    const model = server({ globals: { password_require_current: true } });
    // Act
    const errno = await errnoOf(run(model, 'app', 'C', "ALTER USER USER() IDENTIFIED BY 'P2'"));
    // Assess
    expect(errno).toBe('3892');
  });
});

describe('password history and reuse (sql_user.cc auth_verify_password_history)', () => {
  it('with password_history 1 the current password cannot be set again (3638)', async () => {
    // Prepare
    const model = server({ globals: { password_history: 1 } });
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'");
    // Act
    const errno = await errnoOf(run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'"));
    // Assess
    expect(errno).toBe('3638');
  });

  it('a per-account PASSWORD HISTORY overrides the global; history is recorded only while a policy is on', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'");
    await run(model, 'admin', 'admin-pw', 'ALTER USER `app`@`%` PASSWORD HISTORY 2');
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P2'");
    // Act
    const unrecorded = await errnoOf(
      run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'"),
    );
    const recorded = await errnoOf(
      run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P2'"),
    );
    // Assess
    expect(unrecorded).toBeUndefined();
    expect(recorded).toBe('3638');
  });

  it('a reuse interval refuses a password set within that many days, not after', async () => {
    // Prepare
    const model = server({ globals: { password_reuse_interval: 10 } });
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'");
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P2'");
    // Act
    const soon = await errnoOf(run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'"));
    model.day += 11;
    const later = await errnoOf(run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'"));
    // Assess
    expect([soon, later]).toEqual(['3638', undefined]);
  });
});

describe('IDENTIFIED WITH caching_sha2_password AS (Manual: ALTER USER syntax; sha2_password.cc, sql_user.cc)', () => {
  it('stores the string given: the password it was made from logs in, another does not', async () => {
    // Prepare
    const model = server();
    const stored = cachingSha2Verifier('P1');
    // Act
    await run(
      model,
      'admin',
      'admin-pw',
      `ALTER USER \`app\`@\`%\` IDENTIFIED WITH caching_sha2_password AS '${stored}'`,
    );
    await run(
      model,
      'admin',
      'admin-pw',
      `CREATE USER \`new\`@\`%\` IDENTIFIED WITH caching_sha2_password AS '${stored}'`,
    );
    // Assess
    expect([model.accepts('app', 'P1'), model.accepts('app', 'C'), model.accepts('new', 'P1')]).toEqual([
      true,
      false,
      true,
    ]);
    expect(model.userRow(model.account('app') as ModelAccount).authentication_string).toBe(stored);
  });

  it('takes neither RETAIN CURRENT PASSWORD nor REPLACE (1064); a malformed string is 1827', async () => {
    // Prepare
    const model = server();
    const stored = cachingSha2Verifier('P1');
    const alter = `ALTER USER \`app\`@\`%\` IDENTIFIED WITH caching_sha2_password AS '${stored}'`;
    // Act
    const retain = await errnoOf(run(model, 'admin', 'admin-pw', `${alter} RETAIN CURRENT PASSWORD`));
    const replace = await errnoOf(run(model, 'app', 'C', `${alter} REPLACE 'C'`));
    const malformed = await errnoOf(
      run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED WITH caching_sha2_password AS 'P1'"),
    );
    // Assess
    expect([retain, replace, malformed]).toEqual(['1064', '1064', '1827']);
    expect(model.accepts('app', 'C')).toBe(true);
  });

  it('is not checked against the password history, but recorded in it (auth_verify_password_history)', async () => {
    // Prepare
    const model = server({ globals: { password_history: 2 } });
    await run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'");
    const again = `ALTER USER \`app\`@\`%\` IDENTIFIED WITH caching_sha2_password AS '${cachingSha2Verifier('P1')}'`;
    // Act
    const sameAsHash = await errnoOf(run(model, 'admin', 'admin-pw', again));
    const sameAsText = await errnoOf(
      run(model, 'admin', 'admin-pw', "ALTER USER `app`@`%` IDENTIFIED BY 'P1'"),
    );
    // Assess
    expect([sameAsHash, sameAsText]).toEqual([undefined, '3638']);
    expect(model.accepts('app', 'P1')).toBe(true);
  });
});

describe('plugins and policy', () => {
  it('8.4 leaves mysql_native_password unloaded: creating such an account fails with 1524', async () => {
    // Prepare
    const model = server({ version: '8.4.3' });
    // Act
    const errno = await errnoOf(
      run(model, 'admin', 'admin-pw', "CREATE USER `x`@`%` IDENTIFIED WITH mysql_native_password BY 'P1'"),
    );
    // Assess
    expect(errno).toBe('1524');
  });

  it('an authentication_policy naming another plugin refuses it (4058) unless AUTHENTICATION_POLICY_ADMIN', async () => {
    // Prepare
    const model = server({ globals: { authentication_policy: 'caching_sha2_password,,' } });
    model.addAccount({
      user: 'policyadmin',
      password: 'pa',
      globalPrivileges: new Set(['CREATE USER', 'AUTHENTICATION_POLICY_ADMIN']),
    });
    const sql = (user: string) =>
      `CREATE USER \`${user}\`@\`%\` IDENTIFIED WITH mysql_native_password BY 'P1'`;
    // Act
    const plain = await errnoOf(run(model, 'admin', 'admin-pw', sql('x')));
    const admin = await errnoOf(run(model, 'policyadmin', 'pa', sql('y')));
    // Assess
    expect([plain, admin]).toEqual(['4058', undefined]);
  });

  it('CREATE USER without a plugin takes the default (caching_sha2_password)', async () => {
    // Prepare
    const model = server();
    // Act
    await run(model, 'admin', 'admin-pw', "CREATE USER `x`@`%` IDENTIFIED BY 'P1'");
    // Assess
    expect(model.account('x')?.plugin).toBe('caching_sha2_password');
  });
});

describe('logins and account policy (Manual: Password Management, Account Locking)', () => {
  it('FAILED_LOGIN_ATTEMPTS locks the account for PASSWORD_LOCK_TIME days, then it logs in again', async () => {
    // Prepare
    const model = server();
    await run(
      model,
      'admin',
      'admin-pw',
      'ALTER USER `app`@`%` FAILED_LOGIN_ATTEMPTS 2 PASSWORD_LOCK_TIME 1',
    );
    await login(model, 'app', 'wrong').catch(() => undefined);
    await login(model, 'app', 'wrong').catch(() => undefined);
    // Act
    const locked = await errnoOf(login(model, 'app', 'C'));
    model.day += 1;
    const later = await errnoOf(login(model, 'app', 'C'));
    // Assess
    expect([locked, later]).toEqual(['3955', undefined]);
  });

  it('a password past the lifetime is refused (1862) unless PASSWORD EXPIRE NEVER', async () => {
    // Prepare
    const model = server({ globals: { default_password_lifetime: 30 } });
    model.addAccount({ user: 'never', password: 'N', policy: { lifetime: 'NEVER' } as never });
    model.day += 31;
    // Act
    const expired = await errnoOf(login(model, 'app', 'C'));
    const never = await errnoOf(login(model, 'never', 'N'));
    // Assess
    expect([expired, never]).toEqual(['1862', undefined]);
  });

  it('ACCOUNT LOCK refuses every password (3118); a wrong password is AuthenticationFailedError', async () => {
    // Prepare
    const model = server();
    await run(model, 'admin', 'admin-pw', 'ALTER USER `app`@`%` ACCOUNT LOCK');
    // Act
    const locked = await errnoOf(login(model, 'app', 'C'));
    const wrong = login(model, 'admin', 'nope');
    // Assess
    expect(locked).toBe('3118');
    await expect(wrong).rejects.toBeInstanceOf(AuthenticationFailedError);
  });

  it('mysql.user shows policy columns with NULL for DEFAULT', async () => {
    // Prepare
    const model = server();
    await run(
      model,
      'admin',
      'admin-pw',
      "ALTER USER `app`@`%` PASSWORD EXPIRE NEVER PASSWORD HISTORY 3 PASSWORD REQUIRE CURRENT OPTIONAL COMMENT 'owner: shop'",
    );
    // Act
    const rows = (await run(
      model,
      'admin',
      'admin-pw',
      "SELECT plugin FROM mysql.user WHERE User = 'app' AND Host = '%'",
    )) as Record<string, unknown>[];
    // Assess
    expect(rows[0]).toMatchObject({
      password_lifetime: 0,
      Password_reuse_history: 3,
      Password_reuse_time: null,
      Password_require_current: 'N',
      User_attributes: JSON.stringify({ metadata: { comment: 'owner: shop' } }),
    });
  });
});

describe('versions', () => {
  it.each([
    ['8.0.36', [8, 0, 36]],
    ['8.4.3', [8, 4, 3]],
    ['8.0.mysql_aurora.3.05.2', [8, 0, 23]],
    ['8.0.32', [8, 0, 32]],
  ])('reads %s as MySQL %j', (version, expected) => {
    // Act
    const info = serverInfoOf(version);
    // Assess
    expect(info).toEqual({ flavour: 'mysql', version: expected, noBackslashEscapes: false });
  });

  it('refuses a statement rotor does not send, so a new one is noticed', async () => {
    // Prepare
    const model = server();
    // Act
    const result = run(model, 'admin', 'admin-pw', 'DROP USER `app`@`%`');
    // Assess
    await expect(result).rejects.toThrow(/cannot interpret/);
  });
});
