/**
 * TLS on a throwaway MariaDB 10.11 (own data directory and port) whose certificate, made by openssl
 * here, names `localhost` only. The test account REQUIRES SSL, so every successful login below
 * went over TLS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeCertificates,
  startThrowawayMariadb,
  type TestCertificates,
  type ThrowawayMariadb,
} from '../../local/mysql.js';
import { TargetUnreachableError } from '../../rotators/errors.js';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import { newPassword, rejection, rotatorRequest, skipMysql } from './support.js';

type Value = Record<string, unknown>;

describe.skipIf(skipMysql)('mysql TLS (throwaway MariaDB)', () => {
  let certs: TestCertificates;
  let otherCa: TestCertificates;
  let server: ThrowawayMariadb;
  const password = newPassword();

  beforeAll(async () => {
    certs = await makeCertificates(['localhost']);
    otherCa = await makeCertificates(['localhost']);
    server = await startThrowawayMariadb({ tls: certs });
    await server.admin.createAccount({ user: 'app', host: '%' }, password, [
      'ALTER USER {account} REQUIRE SSL',
    ]);
  });

  afterAll(async () => {
    await server?.stop();
  });

  function secret(extra: Value = {}): Value {
    return {
      engine: 'mariadb',
      host: 'localhost',
      port: server.port,
      username: 'app',
      password,
      tlsCa: certs.caPem,
      ...extra,
    };
  }

  function test(value: Value) {
    const parsed = mysqlRotator.parse({ value, label: 'AWSPENDING' });
    return mysqlRotator.test({
      ...rotatorRequest('testSecret'),
      pending: parsed,
      current: async () => parsed,
    });
  }

  it('logs in with the certificate and host name verified', async () => {
    // Act
    const result = test(secret());
    // Assess
    await expect(result).resolves.toBeUndefined();
  });

  it('refuses a certificate from a CA it does not trust', async () => {
    // Act
    const result = test(secret({ tlsCa: otherCa.caPem }));
    // Assess
    await expect(result).rejects.toBeInstanceOf(TargetUnreachableError);
    await expect(result).rejects.toMatchObject({
      reason: 'tls',
      message: expect.stringMatching(/trusted CA/),
    });
  });

  it('refuses a certificate that does not name the host dialled', async () => {
    // Act
    const result = test(secret({ host: '127.0.0.1' }));
    // Assess
    await expect(result).rejects.toMatchObject({
      reason: 'tls',
      message: expect.stringMatching(/does not name/),
    });
  });

  it('accepts that certificate with tlsMode verify-ca (chain only)', async () => {
    // Act
    const result = test(secret({ host: '127.0.0.1', tlsMode: 'verify-ca' }));
    // Assess
    await expect(result).resolves.toBeUndefined();
  });

  it('verifies tlsServerName instead of the host dialled', async () => {
    // Act
    const right = await rejection(test(secret({ host: '127.0.0.1', tlsServerName: 'localhost' })));
    const wrong = await rejection(test(secret({ host: '127.0.0.1', tlsServerName: 'db.example.com' })));
    // Assess
    expect(right).toBeUndefined();
    expect(wrong).toMatchObject({ reason: 'tls' });
  });

  it('rotates over TLS (single-user)', async () => {
    // Prepare
    const currentValue = secret();
    const current = mysqlRotator.parse({ value: currentValue, label: 'AWSCURRENT' });
    const { pending } = await mysqlRotator.createPending({
      ...rotatorRequest('createSecret'),
      current,
      currentValue,
      generatePassword: newPassword,
    });
    const parsed = mysqlRotator.parse({ value: pending, label: 'AWSPENDING' });
    // Act
    await mysqlRotator.apply({
      ...rotatorRequest('setSecret'),
      current,
      pending: parsed,
      previous: async () => undefined,
    });
    // Assess
    await expect(test({ ...pending })).resolves.toBeUndefined();
    await expect(test(currentValue)).rejects.toMatchObject({ name: 'AuthenticationFailedError' });
  });
});
