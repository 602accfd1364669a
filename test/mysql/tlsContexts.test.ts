/**
 * Secure contexts are built once per trust configuration and container, and every MariaDB
 * connection reuses them (counted, not timed), with verification exactly as strict as before.
 */
import { rm } from 'node:fs/promises';
import tls from 'node:tls';
import { createConnection } from 'mysql2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  makeCertificates,
  startThrowawayMariadb,
  type TestCertificates,
  type ThrowawayMariadb,
} from '../../local/mysql.js';
import { TargetUnreachableError } from '../../rotators/errors.js';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import { driverSslOptions } from '../../rotators/tls.js';
import { newPassword, rotatorRequest, skipMysql } from './support.js';

type Value = Record<string, unknown>;

/** Counts every secure context built in the process, by rotor or by a driver. */
function countContexts() {
  const original = tls.createSecureContext;
  const counter = {
    count: 0,
    restore: () => {
      tls.createSecureContext = original;
    },
  };
  tls.createSecureContext = (...args) => {
    counter.count++;
    return original(...args);
  };
  return counter;
}

describe.skipIf(skipMysql)('MariaDB secure contexts', () => {
  let certs: TestCertificates;
  let otherCa: TestCertificates;
  let server: ThrowawayMariadb;
  let counter: ReturnType<typeof countContexts>;
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
    for (const dir of [certs?.dir, otherCa?.dir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    counter = countContexts();
  });

  afterEach(() => {
    counter.restore();
  });

  function login(extra: Value = {}) {
    const value = {
      engine: 'mariadb',
      host: 'localhost',
      port: server.port,
      username: 'app',
      password,
      tlsCa: certs.caPem,
      ...extra,
    };
    const parsed = mysqlRotator.parse({ value, label: 'AWSPENDING' });
    // The account REQUIRES SSL: a test that passes logged in over TLS.
    return mysqlRotator.test({
      ...rotatorRequest('testSecret'),
      pending: parsed,
      current: async () => parsed,
    });
  }

  it('builds one context for a trust configuration and none for the connections after it', async () => {
    // Act
    await login();
    const afterFirst = counter.count;
    for (let i = 0; i < 5; i++) await login();
    const afterSix = counter.count;
    // Another trust configuration: one more context (the login fails: that CA did not sign the server).
    await login({ tlsCa: otherCa.caPem }).catch(() => undefined);

    // Assess
    expect(afterFirst).toBeLessThanOrEqual(1);
    expect(afterSix).toBe(afterFirst);
    expect(counter.count).toBe(afterSix + 1);
  });

  it('keeps verifying the host name with a reused context', async () => {
    // Prepare
    await login();

    // Act
    const result = login({ host: '127.0.0.1' });

    // Assess
    await expect(result).rejects.toBeInstanceOf(TargetUnreachableError);
    await expect(result).rejects.toMatchObject({ reason: 'tls' });
  });

  it('keeps verifying the chain with a reused context', async () => {
    // Prepare: the context for the other CA exists after a first refused login.
    await login({ tlsCa: otherCa.caPem }).catch(() => undefined);
    const built = counter.count;

    // Act
    const result = login({ tlsCa: otherCa.caPem });

    // Assess
    await expect(result).rejects.toMatchObject({ reason: 'tls' });
    expect(counter.count).toBe(built);
  });

  it('resumes the TLS session of the previous connection to the same server', async () => {
    // Prepare: the options object the MySQL client hands mysql2 for these settings.
    const ssl = driverSslOptions({ mode: 'verify-full', ca: certs.caPem });
    const connectOnce = async (): Promise<boolean> => {
      const connection = createConnection({
        host: 'localhost',
        port: server.port,
        user: 'app',
        password,
        ...(ssl === undefined ? {} : { ssl }),
      });
      await new Promise<void>((resolve, reject) =>
        connection.connect((error) => (error ? reject(error) : resolve())),
      );
      const stream = (connection as unknown as { stream: { isSessionReused(): boolean } }).stream;
      const resumed = stream.isSessionReused();
      await new Promise<void>((resolve) => connection.end(() => resolve()));
      return resumed;
    };
    await connectOnce();

    // Act
    const resumed = await connectOnce();

    // Assess
    expect(ssl).toBe(driverSslOptions({ mode: 'verify-full', ca: certs.caPem }));
    expect(resumed).toBe(true);
  });
});
