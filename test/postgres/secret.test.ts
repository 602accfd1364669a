/** Unit tests of the PostgreSQL secret format: defaults, compatibility with RDS keys, named errors. */
import { describe, expect, it } from 'vitest';
import { InvalidSecretError } from '../../rotators/errors.js';
import { parseMasterSecret, parsePostgresSecret } from '../../rotators/postgres/secret.js';

const RDS = {
  engine: 'postgres',
  host: 'db.abc.eu-west-1.rds.amazonaws.com',
  username: 'app',
  password: 'current-password',
  dbname: 'orders',
  port: '5432',
};

function refusal(value: unknown): InvalidSecretError {
  try {
    parsePostgresSecret(value, 'AWSCURRENT');
  } catch (error) {
    if (error instanceof InvalidSecretError) return error;
    throw error;
  }
  throw new Error('parse accepted the value');
}

describe('parsePostgresSecret', () => {
  it('reads an RDS secret: a string port, single-user, TLS verified by default', () => {
    // Act
    const secret = parsePostgresSecret(RDS, 'AWSCURRENT');
    // Assess
    expect(secret).toMatchObject({ port: 5432, dbname: 'orders', strategy: 'single-user' });
    expect(secret.tls).toEqual({ mode: 'verify-full' });
  });

  it('defaults port to 5432 and dbname to postgres', () => {
    // Prepare
    const { port: _port, dbname: _dbname, ...minimal } = RDS;
    // Act
    const secret = parsePostgresSecret(minimal, 'AWSCURRENT');
    // Assess
    expect(secret.port).toBe(5432);
    expect(secret.dbname).toBe('postgres');
  });

  it('defaults to alternating-users when masterarn is present', () => {
    // Act
    const secret = parsePostgresSecret(
      { ...RDS, engine: 'aurora-postgresql', masterarn: 'arn:master' },
      'AWSCURRENT',
    );
    // Assess
    expect(secret.strategy).toBe('alternating-users');
    expect(secret.masterarn).toBe('arn:master');
  });

  it('lets strategy override the default, and plaintext only when asked', () => {
    // Act
    const secret = parsePostgresSecret(
      { ...RDS, masterarn: 'arn:master', strategy: 'single-user', ssl: false },
      'x',
    );
    // Assess
    expect(secret.strategy).toBe('single-user');
    expect(secret.tls.mode).toBe('disable');
  });

  it('names the field of each invalid value and never echoes the value', () => {
    // Prepare
    const cases: [string, Record<string, unknown>][] = [
      ['engine', { ...RDS, engine: 'mysql' }],
      ['host', { ...RDS, host: 'not a host/' }],
      ['port', { ...RDS, port: '70000' }],
      ['username', { ...RDS, username: 'a'.repeat(64) }],
      ['username', { ...RDS, username: 'é'.repeat(32) }],
      ['username', { ...RDS, username: '' }],
      ['password', { ...RDS, password: '' }],
      ['password', { ...RDS, password: 'nul\0byte' }],
      ['dbname', { ...RDS, dbname: 7 }],
      ['strategy', { ...RDS, strategy: 'rolling' }],
      ['masterarn', { ...RDS, strategy: 'alternating-users' }],
      ['probeQuery', { ...RDS, probeQuery: '   ' }],
      ['ssl', { ...RDS, ssl: 'yes' }],
      ['tlsMode', { ...RDS, tlsMode: 'prefer' }],
    ];
    for (const [field, value] of cases) {
      // Act
      const error = refusal(value);
      // Assess
      expect(error.field, JSON.stringify(value)).toBe(field);
      expect(error.message).not.toContain('current-password');
      expect(error.message).toContain(`"${field}"`);
    }
  });

  it('requires a JSON object', () => {
    // Act / Assess
    expect(refusal('just a string').field).toBe('(json)');
  });
});

describe('parseMasterSecret', () => {
  it("takes nothing from the rotated secret: only the master's own fields", () => {
    // Act
    const master = parseMasterSecret(JSON.stringify({ username: 'master', password: 'master-password' }));
    // Assess: no host, port, dbname or TLS appear that the master secret does not hold.
    expect(master).toEqual({ username: 'master', password: 'master-password' });
  });

  it('keeps its own host, port, dbname and TLS keys', () => {
    // Act
    const own = parseMasterSecret(
      JSON.stringify({
        username: 'm',
        password: 'p',
        host: 'db.internal',
        port: '6432',
        dbname: 'x',
        ssl: false,
      }),
    );
    const verified = parseMasterSecret(
      JSON.stringify({ username: 'm', password: 'p', host: 'db.internal', tlsServerName: 'db' }),
    );
    // Assess
    expect(own).toEqual({
      username: 'm',
      password: 'p',
      host: 'db.internal',
      port: 6432,
      dbname: 'x',
      tls: { mode: 'disable' },
    });
    expect(verified.tls).toEqual({ mode: 'verify-full', serverName: 'db' });
  });

  it('names the missing field of the master secret', () => {
    // Act
    let error: unknown;
    try {
      parseMasterSecret(JSON.stringify({ username: 'master' }));
    } catch (caught) {
      error = caught;
    }
    // Assess
    expect(error).toBeInstanceOf(InvalidSecretError);
    expect((error as InvalidSecretError).field).toBe('password');
    expect((error as InvalidSecretError).label).toBe('masterarn secret');
  });

  it('refuses a master secret that is not JSON', () => {
    // Act / Assess
    expect(() => parseMasterSecret('not json')).toThrow(InvalidSecretError);
  });
});
