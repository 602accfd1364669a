/**
 * Secure contexts are built once per trust configuration and container, and every PostgreSQL
 * connection reuses them (counted, not timed), with verification exactly as strict as before.
 */

import { rm } from 'node:fs/promises';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeCertificates, type TestCertificates } from '../../local/mysql.js';
import { TargetUnreachableError } from '../../rotators/errors.js';
import { connectPostgres, type PostgresSecret, postgresRotator } from '../../rotators/postgres/index.js';
import { newPassword, rotatorRequest, skipPostgres, TestServer, uniqueName } from './support.js';

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

describe.skipIf(skipPostgres)('PostgreSQL secure contexts', () => {
  let certificates: TestCertificates;
  let otherCa: TestCertificates;
  let db: TestServer;
  let counter: ReturnType<typeof countContexts>;

  beforeAll(async () => {
    certificates = await makeCertificates(['localhost']);
    otherCa = await makeCertificates(['localhost']);
    db = await TestServer.start('embedded', {
      tls: { certFile: certificates.certFile, keyFile: certificates.keyFile },
    });
  });

  afterAll(async () => {
    await db?.stop();
    for (const dir of [certificates?.dir, otherCa?.dir]) {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  beforeEach(() => {
    counter = countContexts();
  });

  afterEach(() => {
    counter.restore();
  });

  async function secret(settings: Record<string, unknown>): Promise<PostgresSecret> {
    const username = uniqueName('ctx');
    const password = newPassword();
    await db.createUser(username, password);
    const { ssl: _plaintext, ...base } = db.secret(username, password, { host: 'localhost' });
    return postgresRotator.parse({ value: { ...base, ...settings }, label: 'AWSCURRENT' });
  }

  async function login(value: PostgresSecret): Promise<boolean> {
    const session = await connectPostgres({ login: value, ...rotatorRequest('testSecret') });
    try {
      const [row] = await session.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      return row?.ssl === true;
    } finally {
      await session.close();
    }
  }

  it('builds one context for a trust configuration and none for the connections after it', async () => {
    // Prepare: a CA this process has not trusted before.
    const ca = (await makeCertificates(['localhost'])).caPem;
    const first = await secret({ tlsCa: certificates.caPem });

    // Act
    await login(first);
    const afterFirst = counter.count;
    const encrypted: boolean[] = [];
    for (let i = 0; i < 5; i++) encrypted.push(await login(await secret({ tlsCa: certificates.caPem })));
    // verify-ca and another server name trust the same CAs: the same context serves them.
    encrypted.push(await login(await secret({ tlsCa: certificates.caPem, tlsMode: 'verify-ca' })));
    encrypted.push(
      await login(await secret({ tlsCa: certificates.caPem, host: '127.0.0.1', tlsServerName: 'localhost' })),
    );
    const afterSeven = counter.count;
    // Another trust configuration: one more context (its login fails: that CA did not sign the server).
    await login(await secret({ tlsCa: ca })).catch(() => undefined);

    // Assess
    expect(afterFirst).toBeLessThanOrEqual(1);
    expect(afterSeven).toBe(afterFirst);
    expect(counter.count).toBe(afterSeven + 1);
    expect(encrypted).toEqual([true, true, true, true, true, true, true]);
  });

  it('keeps verifying the host name with a reused context', async () => {
    // Prepare: the context for this CA is built by a successful login first.
    await login(await secret({ tlsCa: certificates.caPem }));
    const wrongName = await secret({ tlsCa: certificates.caPem, host: '127.0.0.1' });

    // Act
    const result = login(wrongName);

    // Assess
    await expect(result).rejects.toBeInstanceOf(TargetUnreachableError);
    await expect(result).rejects.toMatchObject({ reason: 'tls' });
    expect(counter.count).toBeLessThanOrEqual(1);
  });

  it('keeps verifying the chain with a reused context', async () => {
    // Prepare: a context for another CA, built by a first (refused) login.
    const untrusted = await secret({ tlsCa: otherCa.caPem });
    await login(untrusted).catch(() => undefined);
    const built = counter.count;

    // Act
    const result = login(await secret({ tlsCa: otherCa.caPem }));

    // Assess
    await expect(result).rejects.toMatchObject({ reason: 'tls' });
    expect(counter.count).toBe(built);
  });
});
