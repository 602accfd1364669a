/** Unit tests of the SQL the PostgreSQL rotator sends: exact text, quoting, clone names. */
import { describe, expect, it } from 'vitest';
import {
  alterCloneSql,
  cloneUsername,
  createCloneSql,
  grantOwnerSql,
  isCloneNameOf,
  legacyCloneUsername,
  markCloneSql,
  quoteIdentifier,
  quoteLiteral,
  quoteVerifier,
  roleSetting,
  setCloneRoleSql,
  setPasswordSql,
  truncateUtf8,
} from '../../rotators/postgres/sql.js';

const VERIFIER =
  'SCRAM-SHA-256$4096:g/DMcB1taL+1uQlTrAy0og==$atfD6dC7jSqcQt+QRM05YsXJBkLrU1b+G1NRKroKrT4=:Z1mU9O75Cgxip3O7VDPxrkAcEzTV20W7cR8ovNNQFRE=';

describe('quoteIdentifier', () => {
  it('double-quotes a name and doubles the double quotes inside it', () => {
    // Act
    const quoted = ['app', 'user', 'Mixed Case', 'we"ird', '"; DROP ROLE x; --', 'ünï-角色'].map(
      quoteIdentifier,
    );
    // Assess
    expect(quoted).toEqual([
      '"app"',
      '"user"',
      '"Mixed Case"',
      '"we""ird"',
      '"""; DROP ROLE x; --"',
      '"ünï-角色"',
    ]);
  });

  it('refuses what PostgreSQL would truncate or cannot carry: over 63 bytes, NUL, empty', () => {
    // Prepare
    const bad = ['a'.repeat(64), 'é'.repeat(32), 'a\0b', ''];
    // Act / Assess
    for (const name of bad) expect(() => quoteIdentifier(name), JSON.stringify(name)).toThrow(RangeError);
    expect(quoteIdentifier('a'.repeat(63))).toBe(`"${'a'.repeat(63)}"`);
  });
});

describe('quoteVerifier', () => {
  it('writes a SCRAM verifier as a literal unchanged', () => {
    // Act / Assess
    expect(quoteVerifier(VERIFIER)).toBe(`'${VERIFIER}'`);
  });

  it('refuses anything that is not a verifier, without quoting it in the error', () => {
    // Prepare
    const bad = ["plain-password'; --", `${VERIFIER}'`, 'SCRAM-SHA-256$4096:abc$de\\f:ghi', 'md5abcdef'];
    for (const value of bad) {
      // Act
      let message = '';
      try {
        quoteVerifier(value);
      } catch (error) {
        message = (error as Error).message;
      }
      // Assess
      expect(message, value).toBe('not a SCRAM-SHA-256 verifier');
    }
  });
});

describe('cloneUsername', () => {
  it('appends _clone when the name fits', () => {
    // Act / Assess
    expect(cloneUsername('app')).toBe('app_clone');
    expect(cloneUsername('a'.repeat(57))).toBe(`${'a'.repeat(57)}_clone`);
  });

  it('cuts a long owner name to fit 63 bytes, on a character boundary, with a hash of the full name', () => {
    // Prepare: 'é' is 2 bytes, '角' is 3: a cut cannot end inside either.
    const ascii = 'a'.repeat(63);
    const twoByte = `a${'é'.repeat(31)}`; // 63 bytes
    const threeByte = `ab${'角'.repeat(20)}x`; // 63 bytes
    // Act
    const clones = [ascii, twoByte, threeByte].map(cloneUsername);
    // Assess: <cut>_<8 hex>_clone
    expect(clones[0]).toMatch(new RegExp(`^${'a'.repeat(48)}_[0-9a-f]{8}_clone$`));
    expect(clones[1]).toMatch(new RegExp(`^a${'é'.repeat(23)}_[0-9a-f]{8}_clone$`)); // 47 bytes of name
    expect(clones[2]).toMatch(new RegExp(`^ab${'角'.repeat(15)}_[0-9a-f]{8}_clone$`)); // 47 bytes
    for (const clone of clones) {
      expect(Buffer.byteLength(clone, 'utf8')).toBeLessThanOrEqual(63);
      expect(clone).not.toContain('\uFFFD');
    }
  });

  it('gives two owners sharing a 57-byte prefix different clones (the old cut names collided)', () => {
    // Prepare
    const prefix = 'p'.repeat(57);
    const [a, b] = [`${prefix}_a`, `${prefix}_b`];
    // Act
    const clones = [cloneUsername(a), cloneUsername(b)];
    // Assess
    expect(legacyCloneUsername(a)).toBe(legacyCloneUsername(b));
    expect(clones[0]).not.toBe(clones[1]);
    expect(isCloneNameOf(String(clones[0]), a)).toBe(true);
    expect(isCloneNameOf(String(clones[0]), b)).toBe(false);
  });

  it('marks a clone with a comment naming its owner, quoted as a literal whatever the name', () => {
    // Act / Assess
    expect(markCloneSql('app_clone', 'app')).toBe(`COMMENT ON ROLE "app_clone" IS 'rotor clone of app'`);
    expect(markCloneSql(`o'k"_clone`, `o'k"`)).toBe(
      `COMMENT ON ROLE "o'k""_clone" IS 'rotor clone of o''k"'`,
    );
    expect(quoteLiteral('a\\b')).toBe("E'a\\\\b'");
  });

  it('truncateUtf8 never splits a surrogate pair', () => {
    // Act / Assess
    expect(truncateUtf8('ab😀', 5)).toBe('ab');
    expect(truncateUtf8('ab😀', 6)).toBe('ab😀');
  });
});

describe('statements', () => {
  it('sets a password from a verifier, never a plaintext', () => {
    // Act / Assess
    expect(setPasswordSql('user', VERIFIER)).toBe(`ALTER ROLE "user" WITH PASSWORD '${VERIFIER}'`);
    expect(alterCloneSql('a"b', VERIFIER)).toBe(
      `ALTER ROLE "a""b" WITH LOGIN INHERIT PASSWORD '${VERIFIER}'`,
    );
    expect(createCloneSql('app_clone', VERIFIER)).toBe(
      `CREATE ROLE "app_clone" WITH LOGIN INHERIT PASSWORD '${VERIFIER}'`,
    );
    expect(() => setPasswordSql('app', 'hunter2')).toThrow(RangeError);
  });

  it('grants the owner with INHERIT and SET from PostgreSQL 16, a plain GRANT before', () => {
    // Act / Assess
    expect(grantOwnerSql('app', 'app_clone', 17)).toBe(
      'GRANT "app" TO "app_clone" WITH INHERIT TRUE, SET TRUE',
    );
    expect(grantOwnerSql('app', 'app_clone', 16)).toBe(
      'GRANT "app" TO "app_clone" WITH INHERIT TRUE, SET TRUE',
    );
    expect(grantOwnerSql('app', 'app_clone', 15)).toBe('GRANT "app" TO "app_clone"');
  });

  it('makes the clone start its sessions as the owner, with the owner quoted as an identifier', () => {
    // Act / Assess
    expect(setCloneRoleSql('my app_clone', 'my app')).toBe('ALTER ROLE "my app_clone" SET role = "my app"');
  });

  it('reads the role setting back from pg_db_role_setting', () => {
    // Act / Assess
    expect(roleSetting(['search_path=a, b', 'role=my=app'])).toBe('my=app');
    expect(roleSetting(['search_path=a'])).toBeUndefined();
    expect(roleSetting(null)).toBeUndefined();
  });
});
