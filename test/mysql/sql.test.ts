/**
 * Unit tests of the pure SQL layer: quoting, hashes, capabilities and the exact text of every
 * statement, for MariaDB and for MySQL 8 (which no local server runs).
 */
import { describe, expect, it } from 'vitest';
import {
  accountOptionsFromRow,
  alterAccountOptions,
  alternateName,
  cachingSha2Verifier,
  changeOwnPassword,
  cloneName,
  createAccount,
  discardOldPassword,
  dualPasswordState,
  dualPasswordSupport,
  fallbackUserNameLimit,
  grantStatement,
  isReadOnlyProbe,
  legacyCloneName,
  nativePasswordHash,
  parseAuthMethods,
  parseCurrentUser,
  parseGrantLine,
  parseServerVersion,
  passwordVerifies,
  quoteAccount,
  quoteIdentifier,
  quoteString,
  revokeRoleStatement,
  type ServerInfo,
  selectAccount,
  selectDefaultRoles,
  selectGlobalPriv,
  setAccountPassword,
  setDefaultRoles,
  setDualPassword,
  sha256Crypt,
} from '../../rotators/mysql/sql.js';

const MARIADB: ServerInfo = { flavour: 'mariadb', version: [10, 11, 6], noBackslashEscapes: false };
const MYSQL8: ServerInfo = { flavour: 'mysql', version: [8, 0, 36], noBackslashEscapes: false };
const MYSQL8_NBE: ServerInfo = { ...MYSQL8, noBackslashEscapes: true };
const APP = { user: 'app', host: '%' };
// SELECT PASSWORD('pw1') on MariaDB 10.11.
const PW1_HASH = '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3';

describe('quoteString', () => {
  it('doubles quotes and backslashes when backslashes are escapes', () => {
    // Act
    const quoted = quoteString("o'bri\\en", false);
    // Assess
    expect(quoted).toBe("'o''bri\\\\en'");
  });

  it('doubles only quotes under NO_BACKSLASH_ESCAPES, where a backslash is a plain character', () => {
    // Act
    const quoted = quoteString("o'bri\\en", true);
    // Assess
    expect(quoted).toBe("'o''bri\\en'");
  });

  it('cannot be closed early by a backslash before a quote in either mode', () => {
    // Prepare
    const hostile = "x\\' OR 1=1 -- ";
    // Act
    const normal = quoteString(hostile, false);
    const ansi = quoteString(hostile, true);
    // Assess
    expect(normal).toBe("'x\\\\'' OR 1=1 -- '");
    expect(ansi).toBe("'x\\'' OR 1=1 -- '");
  });

  it('refuses NUL', () => {
    // Act / Assess
    expect(() => quoteString('a\0b', false)).toThrow(TypeError);
  });
});

describe('quoteAccount', () => {
  it.each([
    [{ user: 'app.user', host: '%' }, '`app.user`@`%`'],
    [{ user: "o'brien", host: '127.0.0.1' }, "`o'brien`@`127.0.0.1`"],
    [{ user: 'back\\slash', host: 'localhost' }, '`back\\slash`@`localhost`'],
    [{ user: 'tick`name', host: '10.0.%' }, '`tick``name`@`10.0.%`'],
    [{ user: 'josé_ユーザー', host: '%' }, '`josé_ユーザー`@`%`'],
    [{ user: 'a@b', host: '%.example.com' }, '`a@b`@`%.example.com`'],
  ])('quotes %j with backticks, the form SHOW GRANTS prints', (account, expected) => {
    // Act
    const quoted = quoteAccount(account);
    // Assess
    expect(quoted).toBe(expected);
  });

  it('keeps a dotted name in one piece (unlike mysql2 ??, which splits it)', () => {
    // Act
    const quoted = quoteAccount({ user: 'app.user', host: '%' });
    // Assess
    expect(quoted).not.toContain('`app`.`user`');
  });
});

describe('parseCurrentUser', () => {
  it('splits at the last @, since user names may contain @ and hosts may not', () => {
    // Act
    const account = parseCurrentUser('a@b@127.0.0.1');
    // Assess
    expect(account).toEqual({ user: 'a@b', host: '127.0.0.1' });
  });
});

describe('nativePasswordHash', () => {
  it("equals MariaDB's PASSWORD()", () => {
    // Act
    const hash = nativePasswordHash('pw1');
    // Assess
    expect(hash).toBe(PW1_HASH);
  });
});

describe('server capabilities', () => {
  it('recognises MariaDB and MySQL version strings', () => {
    // Act / Assess
    expect(parseServerVersion('10.11.19-MariaDB-0+deb12u1')).toEqual({
      flavour: 'mariadb',
      version: [10, 11, 19],
    });
    expect(parseServerVersion('8.0.36')).toEqual({ flavour: 'mysql', version: [8, 0, 36] });
    expect(parseServerVersion('8.0.28-mysql_aurora')).toEqual({ flavour: 'mysql', version: [8, 0, 28] });
  });

  it('allows dual passwords from MariaDB 10.4 and MySQL 8.0.14', () => {
    // Act / Assess
    expect(dualPasswordSupport({ flavour: 'mariadb', version: [10, 4, 0] }).supported).toBe(true);
    expect(dualPasswordSupport({ flavour: 'mariadb', version: [10, 3, 39] }).supported).toBe(false);
    expect(dualPasswordSupport({ flavour: 'mysql', version: [8, 0, 14] }).supported).toBe(true);
    expect(dualPasswordSupport({ flavour: 'mysql', version: [8, 0, 13] }).supported).toBe(false);
    expect(dualPasswordSupport({ flavour: 'mysql', version: [5, 7, 44] }).supported).toBe(false);
  });

  it('knows the user name limits when the column width is not visible', () => {
    // Act / Assess
    expect(fallbackUserNameLimit({ flavour: 'mariadb', version: [10, 11, 0] })).toBe(128);
    expect(fallbackUserNameLimit({ flavour: 'mariadb', version: [10, 5, 0] })).toBe(80);
    expect(fallbackUserNameLimit({ flavour: 'mysql', version: [8, 0, 36] })).toBe(32);
    expect(fallbackUserNameLimit({ flavour: 'mysql', version: [5, 7, 7] })).toBe(16);
  });
});

describe('password statements', () => {
  it('single-user on MariaDB sets a hash, never the plaintext', () => {
    // Act
    const sql = changeOwnPassword(MARIADB, { account: APP, newPassword: 'pw1', loginPassword: 'old' });
    // Assess
    expect(sql).toBe(`SET PASSWORD FOR \`app\`@\`%\` = '${PW1_HASH}'`);
  });

  it('single-user on MySQL 8 uses the own-account ALTER USER with REPLACE', () => {
    // Act
    const sql = changeOwnPassword(MYSQL8, { account: APP, newPassword: "n'ew", loginPassword: 'ol\\d' });
    // Assess
    expect(sql).toBe("ALTER USER USER() IDENTIFIED BY 'n''ew' REPLACE 'ol\\\\d'");
  });

  it('single-user on MySQL before 8.0.13 has no REPLACE clause', () => {
    // Act
    const sql = changeOwnPassword(
      { ...MYSQL8, version: [5, 7, 44] },
      { account: APP, newPassword: 'n', loginPassword: 'o' },
    );
    // Assess
    expect(sql).toBe("ALTER USER USER() IDENTIFIED BY 'n'");
  });

  it('single-user on MySQL quotes by the session mode', () => {
    // Act
    const sql = changeOwnPassword(MYSQL8_NBE, { account: APP, newPassword: 'a\\b', loginPassword: 'c' });
    // Assess
    expect(sql).toBe("ALTER USER USER() IDENTIFIED BY 'a\\b' REPLACE 'c'");
  });

  it('dual-password on MariaDB names both hashes, new first', () => {
    // Act
    const sql = setDualPassword(MARIADB, {
      account: APP,
      newPassword: 'new',
      currentPassword: 'pw1',
      self: false,
    });
    // Assess
    expect(sql).toBe(
      `ALTER USER \`app\`@\`%\` IDENTIFIED VIA mysql_native_password USING '${nativePasswordHash('new')}' OR mysql_native_password USING '${PW1_HASH}'`,
    );
  });

  it('dual-password on MySQL 8 by the managing user retains the current password', () => {
    // Act
    const sql = setDualPassword(MYSQL8, {
      account: APP,
      newPassword: 'new',
      currentPassword: 'cur',
      self: false,
    });
    // Assess
    expect(sql).toBe("ALTER USER `app`@`%` IDENTIFIED BY 'new' RETAIN CURRENT PASSWORD");
  });

  it('dual-password on MySQL 8 by the account itself uses the own-account form with REPLACE', () => {
    // Act
    const sql = setDualPassword(MYSQL8, {
      account: APP,
      newPassword: 'new',
      currentPassword: 'cur',
      self: true,
    });
    // Assess
    expect(sql).toBe("ALTER USER USER() IDENTIFIED BY 'new' REPLACE 'cur' RETAIN CURRENT PASSWORD");
  });

  it('alternating-users creates and updates the other account with a hash on MariaDB', () => {
    // Prepare
    const target = { account: { user: 'app_clone', host: '%' }, password: 'pw1' };
    // Act
    const create = createAccount(MARIADB, target);
    const alter = setAccountPassword(MARIADB, target);
    // Assess
    expect(create).toBe(`CREATE USER \`app_clone\`@\`%\` IDENTIFIED BY PASSWORD '${PW1_HASH}'`);
    expect(alter).toBe(`ALTER USER \`app_clone\`@\`%\` IDENTIFIED BY PASSWORD '${PW1_HASH}'`);
  });

  it("alternating-users keeps the primary's plugin on MySQL 8", () => {
    // Prepare
    const target = {
      account: { user: 'app_clone', host: '%' },
      password: 'pw',
      plugin: 'mysql_native_password',
    };
    // Act
    const create = createAccount(MYSQL8, target);
    const alter = setAccountPassword(MYSQL8, target);
    const discard = discardOldPassword(target.account);
    // Assess
    expect(create).toBe("CREATE USER `app_clone`@`%` IDENTIFIED WITH mysql_native_password BY 'pw'");
    expect(alter).toBe("ALTER USER `app_clone`@`%` IDENTIFIED WITH mysql_native_password BY 'pw'");
    expect(discard).toBe('ALTER USER `app_clone`@`%` DISCARD OLD PASSWORD');
  });

  it('refuses a plugin name that is not a known password plugin', () => {
    // Act / Assess
    expect(() =>
      createAccount(MYSQL8, { account: APP, password: 'pw', plugin: 'auth_socket; DROP USER x' }),
    ).toThrow(TypeError);
  });
});

describe('reads', () => {
  it('select the account by quoted literals, per session mode', () => {
    // Prepare
    const account = { user: "o'b\\x", host: '%' };
    // Act
    const normal = selectGlobalPriv(MARIADB, account);
    const ansi = selectGlobalPriv({ ...MARIADB, noBackslashEscapes: true }, account);
    // Assess
    expect(normal).toBe("SELECT Priv FROM mysql.global_priv WHERE User = 'o''b\\\\x' AND Host = '%'");
    expect(ansi).toBe("SELECT Priv FROM mysql.global_priv WHERE User = 'o''b\\x' AND Host = '%'");
  });

  it('read MariaDB-only columns only on MariaDB', () => {
    // Act
    const mariadb = selectAccount(MARIADB, APP);
    const mysql = selectAccount(MYSQL8, APP);
    // Assess
    expect(mariadb).toContain('max_statement_time, default_role FROM mysql.user');
    expect(mysql).toBe(
      "SELECT plugin, ssl_type, ssl_cipher, x509_issuer, x509_subject, max_questions, max_updates, max_connections, max_user_connections, password_lifetime, account_locked, Password_reuse_history, Password_reuse_time, Password_require_current, User_attributes FROM mysql.user WHERE User = 'app' AND Host = '%'",
    );
    expect(mariadb).not.toContain('password_lifetime');
  });

  it('read MySQL 8 default roles from mysql.default_roles', () => {
    // Act
    const sql = selectDefaultRoles(MYSQL8, APP);
    // Assess
    expect(sql).toBe(
      "SELECT DEFAULT_ROLE_USER AS user, DEFAULT_ROLE_HOST AS host FROM mysql.default_roles WHERE USER = 'app' AND HOST = '%' ORDER BY DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST",
    );
  });
});

describe('MariaDB authentication methods', () => {
  it('lists auth_or alternatives in order, the empty object standing for the top level', () => {
    // Prepare
    const priv = JSON.stringify({
      plugin: 'mysql_native_password',
      authentication_string: '*A',
      auth_or: [{}, { plugin: 'mysql_native_password', authentication_string: '*B' }],
    });
    // Act
    const methods = parseAuthMethods(priv);
    // Assess
    expect(methods.map((m) => m.authenticationString)).toEqual(['*A', '*B']);
  });

  it('reads a single method from the top level', () => {
    // Act
    const methods = parseAuthMethods(
      JSON.stringify({ plugin: 'mysql_native_password', authentication_string: '*A' }),
    );
    // Assess
    expect(methods).toEqual([{ plugin: 'mysql_native_password', authenticationString: '*A' }]);
  });

  it('calls the pair (new, current) applied, anything else pending, other plugins foreign', () => {
    // Prepare
    const native = (password: string) => ({
      plugin: 'mysql_native_password',
      authenticationString: nativePasswordHash(password),
    });
    // Act / Assess
    expect(dualPasswordState([native('new'), native('cur')], 'new', 'cur')).toBe('applied');
    expect(dualPasswordState([native('cur')], 'new', 'cur')).toBe('pending');
    expect(dualPasswordState([native('cur'), native('old')], 'new', 'cur')).toBe('pending');
    expect(dualPasswordState([native('cur'), native('new')], 'new', 'cur')).toBe('pending');
    expect(
      dualPasswordState([{ plugin: 'unix_socket', authenticationString: '' }, native('cur')], 'new', 'cur'),
    ).toBe('foreign');
  });
});

describe('account options', () => {
  it('copies REQUIRE SSL and every limit, zeros included', () => {
    // Prepare
    const options = accountOptionsFromRow({
      plugin: 'mysql_native_password',
      ssl_type: 'ANY',
      ssl_cipher: Buffer.from(''),
      x509_issuer: Buffer.from(''),
      x509_subject: Buffer.from(''),
      max_questions: 7,
      max_updates: 0,
      max_connections: 0,
      max_user_connections: 3,
      max_statement_time: '1.500000',
    });
    // Act
    const sql = alterAccountOptions(MARIADB, { user: 'app_clone', host: '%' }, options);
    // Assess
    expect(sql).toBe(
      'ALTER USER `app_clone`@`%` REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 7 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 1.500000',
    );
  });

  it('copies ISSUER, SUBJECT and CIPHER as quoted strings, without MariaDB-only limits on MySQL', () => {
    // Prepare
    const options = accountOptionsFromRow({
      plugin: 'caching_sha2_password',
      ssl_type: 'SPECIFIED',
      ssl_cipher: Buffer.from('ECDHE-RSA-AES256-GCM-SHA384'),
      x509_issuer: Buffer.from("/CN=O'Reilly CA"),
      x509_subject: Buffer.from('/CN=app'),
      max_questions: 0,
      max_updates: 0,
      max_connections: 0,
      max_user_connections: 0,
    });
    // Act
    const sql = alterAccountOptions(MYSQL8, { user: 'app_clone', host: '%' }, options);
    // Assess
    expect(sql).toBe(
      "ALTER USER `app_clone`@`%` REQUIRE ISSUER '/CN=O''Reilly CA' AND SUBJECT '/CN=app' AND CIPHER 'ECDHE-RSA-AES256-GCM-SHA384' WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0",
    );
  });

  it('writes REQUIRE X509 and REQUIRE NONE', () => {
    // Prepare
    const base = {
      plugin: 'p',
      ssl_cipher: '',
      x509_issuer: '',
      x509_subject: '',
      max_questions: 0,
      max_updates: 0,
      max_connections: 0,
      max_user_connections: 0,
    };
    // Act
    const x509 = alterAccountOptions(MYSQL8, APP, accountOptionsFromRow({ ...base, ssl_type: 'X509' }));
    const none = alterAccountOptions(MYSQL8, APP, accountOptionsFromRow({ ...base, ssl_type: '' }));
    // Assess
    expect(x509).toContain('REQUIRE X509 WITH');
    expect(none).toContain('REQUIRE NONE WITH');
  });

  it('sets default roles: one on MariaDB, a list on MySQL 8', () => {
    // Act / Assess
    expect(setDefaultRoles(MARIADB, APP, ['`reader`'])).toBe('SET DEFAULT ROLE `reader` FOR `app`@`%`');
    expect(setDefaultRoles(MARIADB, APP, [])).toBe('SET DEFAULT ROLE NONE FOR `app`@`%`');
    expect(setDefaultRoles(MYSQL8, APP, ['`r1`@`%`', '`r2`@`%`'])).toBe(
      'ALTER USER `app`@`%` DEFAULT ROLE `r1`@`%`, `r2`@`%`',
    );
    expect(setDefaultRoles(MYSQL8, APP, [])).toBe('ALTER USER `app`@`%` DEFAULT ROLE NONE');
  });
});

describe('SHOW GRANTS rewriting', () => {
  const primary = { user: "o'bri`en.x@y", host: '127.0.0.1' };
  const clone = { user: "o'bri`en.x@y_clone", host: '127.0.0.1' };
  const G = "`o'bri``en.x@y`@`127.0.0.1`";
  const T = "`o'bri``en.x@y_clone`@`127.0.0.1`";

  it("drops MariaDB's hash, REQUIRE and limits from the global line but keeps WITH GRANT OPTION", () => {
    // Prepare
    const line = `GRANT RELOAD ON *.* TO ${G} IDENTIFIED BY PASSWORD '${PW1_HASH}' REQUIRE SSL WITH GRANT OPTION MAX_QUERIES_PER_HOUR 7`;
    // Act
    const grant = parseGrantLine(line, primary);
    // Assess
    expect(grant).toEqual({
      kind: 'privilege',
      head: 'GRANT RELOAD ON *.*',
      grantOption: true,
      adminOption: false,
    });
    expect(grantStatement(grant as NonNullable<typeof grant>, clone)).toBe(
      `GRANT RELOAD ON *.* TO ${T} WITH GRANT OPTION`,
    );
  });

  it('keeps database, table, column and routine grants with their options', () => {
    // Prepare
    // A column named like the grantee, as SHOW GRANTS prints it (backticks doubled).
    const column = quoteIdentifier(`a TO ${G}`);
    const lines = [
      `GRANT SELECT, INSERT ON \`te\`\`st.db\`.* TO ${G} WITH GRANT OPTION`,
      `GRANT SELECT (${column}) ON \`db\`.\`t\` TO ${G}`,
      `GRANT EXECUTE ON PROCEDURE \`db\`.\`p\` TO ${G}`,
    ];
    // Act
    const statements = lines.map((line) => grantStatement(parseGrantLine(line, primary) as never, clone));
    // Assess
    expect(statements).toEqual([
      `GRANT SELECT, INSERT ON \`te\`\`st.db\`.* TO ${T} WITH GRANT OPTION`,
      `GRANT SELECT (${column}) ON \`db\`.\`t\` TO ${T}`,
      `GRANT EXECUTE ON PROCEDURE \`db\`.\`p\` TO ${T}`,
    ]);
  });

  it('shares roles (MariaDB and MySQL 8 forms) with their ADMIN OPTION, and revokes them by the same head', () => {
    // Prepare
    const mariadb = parseGrantLine(`GRANT \`rôle.x\` TO ${G} WITH ADMIN OPTION`, primary);
    const mysql = parseGrantLine('GRANT `r1`@`%`,`r2`@`%` TO `app`@`%`', APP);
    // Act / Assess
    expect(mariadb?.kind).toBe('role');
    expect(grantStatement(mariadb as never, clone)).toBe(`GRANT \`rôle.x\` TO ${T} WITH ADMIN OPTION`);
    expect(grantStatement(mysql as never, { user: 'app_clone', host: '%' })).toBe(
      'GRANT `r1`@`%`,`r2`@`%` TO `app_clone`@`%`',
    );
    expect(revokeRoleStatement(mysql as never, { user: 'app_clone', host: '%' })).toBe(
      'REVOKE `r1`@`%`,`r2`@`%` FROM `app_clone`@`%`',
    );
  });

  it("keeps MariaDB's default role line and MySQL 8's partial revokes and dynamic privileges", () => {
    // Prepare
    const lines = [
      { line: `SET DEFAULT ROLE \`rôle.x\` FOR ${G}`, account: primary, target: clone },
      {
        line: 'REVOKE INSERT ON `mysql`.* FROM `app`@`%`',
        account: APP,
        target: { user: 'app_clone', host: '%' },
      },
      {
        line: 'GRANT APPLICATION_PASSWORD_ADMIN,BACKUP_ADMIN ON *.* TO `app`@`%` WITH GRANT OPTION',
        account: APP,
        target: { user: 'app_clone', host: '%' },
      },
    ];
    // Act
    const statements = lines.map(({ line, account, target }) =>
      grantStatement(parseGrantLine(line, account) as never, target),
    );
    // Assess
    expect(statements).toEqual([
      `SET DEFAULT ROLE \`rôle.x\` FOR ${T}`,
      'REVOKE INSERT ON `mysql`.* FROM `app_clone`@`%`',
      'GRANT APPLICATION_PASSWORD_ADMIN,BACKUP_ADMIN ON *.* TO `app_clone`@`%` WITH GRANT OPTION',
    ]);
  });

  it('refuses lines it does not understand, or for another grantee', () => {
    // Act / Assess
    expect(parseGrantLine('GRANT SELECT ON *.* TO `other`@`%`', APP)).toBeUndefined();
    expect(parseGrantLine('GRANT SELECT ON *.* TO `app`@`%x`', APP)).toBeUndefined();
    expect(parseGrantLine('SOMETHING NEW FOR `app`@`%`', APP)).toBeUndefined();
  });

  it('does not mistake a quoted "WITH GRANT OPTION" in a REQUIRE string for the option', () => {
    // Act
    const grant = parseGrantLine(
      "GRANT USAGE ON *.* TO `app`@`%` REQUIRE ISSUER '/CN= WITH GRANT OPTION'",
      APP,
    );
    // Assess
    expect(grant?.grantOption).toBe(false);
  });
});

describe('sha256Crypt (caching_sha2_password verifiers)', () => {
  it("matches the SHA-crypt specification's test vectors (as glibc's crypt computes them)", () => {
    // Act / Assess
    expect(sha256Crypt(Buffer.from('Hello world!'), Buffer.from('saltstring'), 5000)).toBe(
      '5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
    );
    expect(sha256Crypt(Buffer.from('Hello world!'), Buffer.from('saltstringsaltst'), 10000)).toBe(
      '3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
    );
    expect(
      sha256Crypt(
        Buffer.from('we have a short salt string but not a short password'),
        Buffer.from('short'),
        77777,
      ),
    ).toBe('JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/');
  });

  it("verifies MySQL's stored layout ($A$005$, 20-byte salt) and says undefined for forms it does not know", () => {
    // Prepare
    const salt = 'AbCdEfGhIjKlMnOpQrSt';
    const stored = `$A$005$${salt}${sha256Crypt(Buffer.from('pw'), Buffer.from(salt), 5000)}`;
    // Act / Assess
    expect(passwordVerifies('caching_sha2_password', stored, 'pw')).toBe(true);
    expect(passwordVerifies('caching_sha2_password', stored, 'other')).toBe(false);
    expect(passwordVerifies('mysql_native_password', nativePasswordHash('pw'), 'pw')).toBe(true);
    expect(passwordVerifies('caching_sha2_password', '$A$005$short', 'pw')).toBeUndefined();
    expect(passwordVerifies('sha256_password', stored, 'pw')).toBeUndefined();
  });
});

/**
 * Strings MySQL printed for known passwords, as `SHOW CREATE USER` shows them with
 * print_identified_with_as_hex (hex of mysql.user.authentication_string):
 * - MYSQL_MANUAL: MySQL 8.0 Reference Manual, "SHOW CREATE USER Statement" (section 13.7.7.12,
 *   https://dev.mysql.com/doc/refman/8.0/en/show-create-user.html, also as
 *   https://docs.oracle.com/cd/E17952_01/mysql-8.0-ja/show-create-user.html): `CREATE USER
 *   'u1'@'localhost' IDENTIFIED BY 'secret'`, then the hex below.
 * - TIDB: pingcap/tidb `pkg/parser/auth/caching_sha2_test.go` (`foobarPwdSHA2Hash`, password
 *   `foobar`), the vector TiDB checks its MySQL-compatible caching_sha2_password against.
 */
const MYSQL_MANUAL = {
  password: 'secret',
  hex: '244124303035240C7745603626313D613C4C10633E0A104B1E14135A544A7871567245614F4872344643546336546F624F6C7861326932752F45622F4F473273597557627139',
};
const TIDB = {
  password: 'foobar',
  hex: '24412430303524031A69251C34295C4B35167C7F1E5A7B63091349503974624D34504B5A424679354856336868686F52485A736E4A733368786E427575516C73446469496537',
};

describe('cachingSha2Verifier (mysqlPasswordHash client)', () => {
  it.each([
    ['the MySQL 8.0 manual (SHOW CREATE USER)', MYSQL_MANUAL],
    ["TiDB's caching_sha2_password test", TIDB],
  ])('reproduces the string MySQL stored for a known password: %s', (_source, vector) => {
    // Prepare
    const stored = Buffer.from(vector.hex, 'hex').toString('latin1');
    const salt = Buffer.from(stored.slice(7, 27), 'latin1');
    // Act
    const computed = cachingSha2Verifier(vector.password, salt);
    // Assess
    expect(computed).toBe(stored);
    expect(passwordVerifies('caching_sha2_password', stored, vector.password)).toBe(true);
    expect(passwordVerifies('caching_sha2_password', stored, `${vector.password}x`)).toBe(false);
  });

  it('draws a new 20-character salt from the crypt alphabet each time; the string verifies the password', () => {
    // Act
    const first = cachingSha2Verifier('Pending-1-pw');
    const second = cachingSha2Verifier('Pending-1-pw');
    // Assess
    expect(first).toMatch(/^\$A\$005\$[./0-9A-Za-z]{63}$/);
    expect(first).not.toBe(second);
    expect(passwordVerifies('caching_sha2_password', first, 'Pending-1-pw')).toBe(true);
    expect(passwordVerifies('caching_sha2_password', second, 'Pending-1-pw')).toBe(true);
    expect(() => cachingSha2Verifier('pw', Buffer.from('$'.repeat(20)))).toThrow(TypeError);
  });

  it('exact SQL: IDENTIFIED WITH caching_sha2_password AS the string, never the password', () => {
    // Prepare
    const verifier = cachingSha2Verifier('Pending-1-pw', Buffer.from('AbCdEfGhIjKlMnOpQrSt'));
    const target = {
      account: { user: 'app_clone', host: '%' },
      password: 'Pending-1-pw',
      plugin: 'caching_sha2_password',
      verifier,
    };
    // Act
    const create = createAccount(MYSQL8, target);
    const alter = setAccountPassword(MYSQL8, target);
    // Assess
    expect(verifier).toBe(`$A$005$AbCdEfGhIjKlMnOpQrSt${verifier.slice(27)}`);
    expect(create).toBe(
      `CREATE USER \`app_clone\`@\`%\` IDENTIFIED WITH caching_sha2_password AS '${verifier}'`,
    );
    expect(alter).toBe(
      `ALTER USER \`app_clone\`@\`%\` IDENTIFIED WITH caching_sha2_password AS '${verifier}'`,
    );
    expect(setAccountPassword(MARIADB, target)).toBe(
      `ALTER USER \`app_clone\`@\`%\` IDENTIFIED BY PASSWORD '${nativePasswordHash('Pending-1-pw')}'`,
    );
    expect(() => setAccountPassword(MYSQL8, { ...target, plugin: 'mysql_native_password' })).toThrow(
      TypeError,
    );
    expect(() => setAccountPassword(MYSQL8, { ...target, verifier: 'Pending-1-pw' })).toThrow(TypeError);
  });
});

describe('alternate account names', () => {
  it('appends _clone, and comes back by removing it', () => {
    // Act / Assess
    expect(alternateName('app', undefined, 32)).toEqual({
      user: 'app_clone',
      owner: 'app',
      clone: 'app_clone',
    });
    expect(alternateName('app_clone', undefined, 32)).toEqual({
      user: 'app',
      owner: 'app',
      clone: 'app_clone',
    });
  });

  it('truncates to the server limit with a digest, and records the primary name to come back', () => {
    // Prepare
    const long = 'reporting_service_account_east_1';
    // Act
    const there = alternateName(long, undefined, 32);
    const back = alternateName(there.user, there.primaryUsername, 32);
    // Assess
    expect(there.user).toHaveLength(32);
    expect(there.user).toMatch(/^reporting_service_[0-9a-f]{8}_clone$/);
    expect(there.primaryUsername).toBe(long);
    expect(back).toEqual({ user: long, owner: long, clone: there.user, primaryUsername: long });
    expect(alternateName(back.user, back.primaryUsername, 32).user).toBe(there.user);
  });

  it('gives two long names sharing a prefix different clones', () => {
    // Act
    const a = cloneName('reporting_service_account_east_1', 32);
    const b = cloneName('reporting_service_account_east_2', 32);
    // Assess
    expect(a).not.toBe(b);
  });

  it('comes back from a clone cut the way rotor cut them before (6 hex digits, by characters)', () => {
    // Prepare
    const long = 'reporting_service_account_east_1';
    const old = legacyCloneName(long, 32);
    // Act
    const back = alternateName(old, long, 32);
    // Assess
    expect(old).toMatch(/^reporting_service_a_[0-9a-f]{6}_clone$/);
    expect(back.user).toBe(long);
  });

  it('refuses a primaryUsername whose clone the current user is not (the writer sets it)', () => {
    // Act / Assess
    expect(() => alternateName('mallory', 'victim', 32)).toThrow(RangeError);
    expect(() => alternateName('mallory_clone', 'victim', 32)).toThrow(RangeError);
  });

  it('cuts within the limit in bytes, so a name with multi-byte characters stays within the character limit', () => {
    // Act
    const clone = cloneName('ü'.repeat(30), 32);
    // Assess
    expect(Buffer.byteLength(clone)).toBeLessThanOrEqual(32);
    expect(clone).toMatch(/^ü+_[0-9a-f]{8}_clone$/);
  });

  it('does not truncate on MariaDB where 128 characters are allowed', () => {
    // Act
    const clone = cloneName('reporting_service_account_east_1', 128);
    // Assess
    expect(clone).toBe('reporting_service_account_east_1_clone');
  });
});

describe('probe queries', () => {
  it.each([
    'SELECT 1',
    '  select count(*) from t',
    'SHOW TABLES',
    'WITH a AS (SELECT 1) SELECT * FROM a',
    'TABLE t',
  ])('accepts the read-only statement %j', (query) => {
    // Act / Assess
    expect(isReadOnlyProbe(query)).toBe(true);
  });

  it.each([
    'DELETE FROM t',
    'DROP TABLE t',
    '/*!50000 DROP TABLE t */ SELECT 1',
    'SELECT 1 /*M!100000 , SLEEP(1) */',
    "SELECT * FROM t INTO OUTFILE '/tmp/x'",
    'EXPLAIN ANALYZE DELETE FROM t',
  ])('refuses %j', (query) => {
    // Act / Assess
    expect(isReadOnlyProbe(query)).toBe(false);
  });
});
