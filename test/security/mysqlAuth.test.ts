/**
 * No replayable credential on the wire without verified TLS (issue 14, MySQL/MariaDB): a hostile
 * server that asks for a cleartext plugin, or for full authentication with an RSA key of its own,
 * gets nothing from rotor (not the password, not the password encrypted for it), whoever logs in:
 * the master, the rotated user, the clone. The fake server (test/support/fakeMysql.ts) records every
 * byte; a control test shows that an unguarded client does hand it the password.
 */
import { createConnection } from 'mysql2';
import { afterEach, describe, expect, it } from 'vitest';
import { InsecureAuthenticationError } from '../../rotators/errors.js';
import { connectMysql, mysqlRotator } from '../../rotators/mysql/index.js';
import type { MysqlSecret } from '../../rotators/mysql/secret.js';
import type { MasterBinding } from '../../rotators/trust.js';
import { newPassword, rotatorRequest } from '../support/engines.js';
import { type FakeMysql, type FakeMysqlMode, startFakeMysql } from '../support/fakeMysql.js';

const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rotor/fake-master-AbCdEf';

const servers: FakeMysql[] = [];
async function fake(mode: FakeMysqlMode, options: { cleartextPlugin?: string } = {}): Promise<FakeMysql> {
  const server = await startFakeMysql(mode, options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function settle(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** What a hostile server learnt: nothing, whichever way it asked. */
function expectNothingLeaked(server: FakeMysql, password: string): void {
  expect(server.logins()).toBeGreaterThan(0);
  expect(server.sawBytes(password)).toBe(false);
  expect(server.recovered).toEqual([]);
}

const MODES: readonly { mode: FakeMysqlMode; cleartextPlugin?: string; name: string }[] = [
  { mode: 'cleartext', name: 'mysql_clear_password' },
  { mode: 'cleartext', cleartextPlugin: 'dialog', name: "MariaDB's PAM dialog (cleartext)" },
  { mode: 'caching-sha2-rsa', name: 'caching_sha2_password full authentication with the server RSA key' },
  { mode: 'sha256-rsa', name: 'sha256_password with the server RSA key' },
];

describe('the fake server is able to steal a password', () => {
  it('an unguarded mysql2 client hands it the password through caching_sha2_password with its RSA key', async () => {
    // Prepare
    const server = await fake('caching-sha2-rsa');
    const password = newPassword();
    // Act
    await new Promise<void>((resolve) => {
      const connection = createConnection({ host: server.host, port: server.port, user: 'app', password });
      connection.on('error', () => undefined);
      connection.connect(() => {
        connection.destroy();
        resolve();
      });
    });
    // Assess
    expect(server.recovered).toEqual([password]);
  });

  it('an unguarded mysql2 client with cleartext enabled hands it the password in cleartext', async () => {
    // Prepare
    const server = await fake('cleartext');
    const password = newPassword();
    // Act
    await new Promise<void>((resolve) => {
      const connection = createConnection({
        host: server.host,
        port: server.port,
        user: 'app',
        password,
        enableCleartextPlugin: true,
      });
      connection.on('error', () => undefined);
      connection.connect(() => {
        connection.destroy();
        resolve();
      });
    });
    // Assess
    expect(server.sawBytes(password)).toBe(true);
  });
});

describe('rotor sends no replayable credential without verified TLS', () => {
  for (const { mode, cleartextPlugin, name } of MODES) {
    it(`the client refuses ${name} with InsecureAuthenticationError, sending nothing`, async () => {
      // Prepare
      const server = await fake(mode, cleartextPlugin === undefined ? {} : { cleartextPlugin });
      const password = newPassword();
      // Act
      const error = await settle(
        connectMysql({
          host: server.host,
          port: server.port,
          user: 'app',
          password,
          tls: { mode: 'disable' },
          signal: AbortSignal.timeout(10_000),
          deadline: Date.now() + 10_000,
        }),
      );
      // Assess
      expect(error).toBeInstanceOf(InsecureAuthenticationError);
      expect((error as Error).name).toBe('InsecureAuthenticationError');
      expect(String((error as Error).message)).not.toContain(password);
      expectNothingLeaked(server, password);
    });
  }

  function secretOn(server: FakeMysql, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      engine: 'mysql',
      host: server.host,
      port: server.port,
      username: 'app',
      password: newPassword(),
      ssl: false,
      ...extra,
    };
  }
  const parse = (value: Record<string, unknown>, label = 'AWSCURRENT'): MysqlSecret =>
    mysqlRotator.parse({ value, label });

  it('the rotated user: testSecret against a server asking for its RSA key fails with InsecureAuthenticationError, nothing sent', async () => {
    // Prepare
    const server = await fake('caching-sha2-rsa');
    const value = secretOn(server);
    // Act
    const error = await settle(
      mysqlRotator.test({
        ...rotatorRequest('testSecret'),
        pending: parse(value, 'AWSPENDING'),
        current: async () => parse(value),
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(InsecureAuthenticationError);
    expectNothingLeaked(server, String(value.password));
  });

  it('the clone: testSecret of an alternating pending value against a cleartext server sends nothing', async () => {
    // Prepare
    const server = await fake('cleartext');
    const value = secretOn(server, { username: 'app_clone', masterarn: MASTER_ARN });
    // Act
    const error = await settle(
      mysqlRotator.test({
        ...rotatorRequest('testSecret'),
        pending: parse(value, 'AWSPENDING'),
        current: async () => parse({ ...value, username: 'app' }),
      }),
    );
    // Assess
    expect(error).toBeInstanceOf(InsecureAuthenticationError);
    expectNothingLeaked(server, String(value.password));
  });

  it('the master: a binding that allows plaintext still never sends the master password to a server asking for cleartext or its RSA key', async () => {
    for (const mode of ['cleartext', 'caching-sha2-rsa', 'sha256-rsa'] as const) {
      // Prepare
      const server = await fake(mode);
      const masterPassword = newPassword();
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [server.host],
        port: server.port,
        tls: { mode: 'disable' },
      };
      const value = secretOn(server, { masterarn: MASTER_ARN });
      const request = {
        ...rotatorRequest('createSecret'),
        fetchMaster: async () => ({
          value: JSON.stringify({ username: 'admin', password: masterPassword }),
          binding,
        }),
      };
      // Act
      const error = await settle(
        mysqlRotator.createPending({
          ...request,
          current: parse(value),
          currentValue: value,
          generatePassword: newPassword,
        }),
      );
      // Assess
      expect(error, mode).toBeInstanceOf(InsecureAuthenticationError);
      expectNothingLeaked(server, masterPassword);
    }
  });
});
