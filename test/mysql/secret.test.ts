/** Unit tests of the MySQL secret's parsing: defaults, the managing user's secret, refusals. */
import { describe, expect, it } from 'vitest';
import { InvalidSecretError } from '../../rotators/errors.js';
import { parseMasterSecret, parseMysqlSecret } from '../../rotators/mysql/secret.js';

const BASE = { engine: 'mysql', host: 'db.example.com', username: 'app', password: 'pw' };

function refusal(value: unknown, parse: (v: unknown) => unknown = (v) => parseMysqlSecret(v, 'AWSCURRENT')) {
  try {
    parse(value);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('parseMysqlSecret', () => {
  it('defaults port 3306, account host %, TLS verify-full and strategy single-user', () => {
    // Act
    const secret = parseMysqlSecret(BASE, 'AWSCURRENT');
    // Assess
    expect(secret).toMatchObject({
      port: 3306,
      account: { user: 'app', host: '%' },
      tls: { mode: 'verify-full' },
      strategy: 'single-user',
    });
  });

  it('defaults to alternating-users when masterarn is set, and reads a port given as a string', () => {
    // Act
    const secret = parseMysqlSecret({ ...BASE, port: '3307', masterarn: 'arn:master' }, 'AWSCURRENT');
    // Assess
    expect(secret).toMatchObject({ port: 3307, strategy: 'alternating-users', masterarn: 'arn:master' });
  });

  it('keeps the account host part and plaintext only when asked', () => {
    // Act
    const secret = parseMysqlSecret({ ...BASE, accountHost: '10.0.%', ssl: 'false' }, 'AWSCURRENT');
    // Assess
    expect(secret.account).toEqual({ user: 'app', host: '10.0.%' });
    expect(secret.tls.mode).toBe('disable');
  });

  it.each([
    [{ ...BASE, tlsServerName: '10.0.0.1' }, 'tlsServerName'],
    [{ ...BASE, username: 'x'.repeat(129) }, 'username'],
    [{ ...BASE, username: 'emoji😀' }, 'username'],
    [{ ...BASE, password: 'a\0b' }, 'password'],
    [{ ...BASE, probeQuery: '/*!50000 DROP TABLE t */ SELECT 1' }, 'probeQuery'],
    [{ ...BASE, strategy: 'alternating-users' }, 'masterarn'],
  ])('refuses %j naming the field %s, without the value', (value, field) => {
    // Act
    const error = refusal(value);
    // Assess
    expect(error).toBeInstanceOf(InvalidSecretError);
    expect((error as InvalidSecretError).field).toBe(field);
    expect(String(error)).not.toContain('a\0b');
  });

  it('mysqlPasswordHash: server by default; client with alternating-users; refused with the other strategies', () => {
    // Act
    const plain = parseMysqlSecret({ ...BASE, masterarn: 'arn:master' }, 'AWSCURRENT');
    const client = parseMysqlSecret(
      { ...BASE, masterarn: 'arn:master', mysqlPasswordHash: 'client' },
      'AWSCURRENT',
    );
    const refused = ['single-user', 'dual-password'].map((strategy) =>
      refusal({ ...BASE, masterarn: 'arn:master', strategy, mysqlPasswordHash: 'client' }),
    );
    const unknown = refusal({ ...BASE, masterarn: 'arn:master', mysqlPasswordHash: 'yes' });
    // Assess
    expect(plain.mysqlPasswordHash).toBe('server');
    expect(client.mysqlPasswordHash).toBe('client');
    for (const error of refused) {
      expect(error).toBeInstanceOf(InvalidSecretError);
      expect(error).toMatchObject({ field: 'mysqlPasswordHash' });
      expect((error as Error).message).toMatch(/RETAIN CURRENT PASSWORD/);
    }
    expect(unknown).toMatchObject({ name: 'InvalidSecretError', field: 'mysqlPasswordHash' });
  });
});

describe('parseMasterSecret', () => {
  it("takes nothing from the rotated secret: a master holding only credentials (RDS's managed secret) has no host, port or TLS of its own", () => {
    // Act
    const master = parseMasterSecret(JSON.stringify({ username: 'admin', password: 'apw' }));
    // Assess
    expect(master).toEqual({ username: 'admin', password: 'apw', account: { user: 'admin', host: '%' } });
  });

  it('keeps its own host, port and TLS keys when it has them', () => {
    // Act
    const master = parseMasterSecret(
      JSON.stringify({
        username: 'admin',
        password: 'apw',
        host: 'writer.example.com',
        port: 3307,
        ssl: true,
      }),
    );
    // Assess
    expect(master).toMatchObject({ host: 'writer.example.com', port: 3307, tls: { mode: 'verify-full' } });
  });

  it('refuses text that is not JSON, naming the masterarn secret and not quoting it', () => {
    // Act
    const error = refusal('{"username":"admin","password":"apw"', (text) => parseMasterSecret(String(text)));
    // Assess
    expect(error).toMatchObject({ name: 'InvalidSecretError', field: '(json)', label: 'masterarn secret' });
    expect(String(error)).not.toContain('apw');
  });
});
