/**
 * TLS for PostgreSQL, on real servers: verified by default (chain and host name), plaintext only
 * when the secret says so, and never a silent fallback. A throwaway CA and a certificate for
 * `localhost` are made with openssl for this file.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalPostgres, startPostgres } from '../../local/postgres.js';
import { TargetUnreachableError } from '../../rotators/errors.js';
import { connectPostgres, type PostgresSecret, postgresRotator } from '../../rotators/postgres/index.js';
import { type Certificates, makeCertificates } from './certificates.js';
import { FLAVORS, newPassword, rotatorRequest, skipPostgres, TestServer, uniqueName } from './support.js';

describe.skipIf(skipPostgres).each(FLAVORS)('PostgreSQL TLS on the %s server', (flavor) => {
  let certificates: Certificates;
  let tlsDb: TestServer;
  let plain: LocalPostgres;

  beforeAll(async () => {
    certificates = await makeCertificates();
    tlsDb = await TestServer.start(flavor, {
      tls: { certFile: certificates.certFile, keyFile: certificates.keyFile },
    });
    plain = await startPostgres({ flavor });
  });

  afterAll(async () => {
    await tlsDb?.stop();
    await plain?.stop();
    if (certificates) await rm(certificates.dir, { recursive: true, force: true });
  });

  /** A user of the TLS server, and its secret with `settings` (host defaults to localhost). */
  async function tlsSecret(settings: Record<string, unknown>): Promise<PostgresSecret> {
    const username = uniqueName('tls');
    const password = newPassword();
    await tlsDb.createUser(username, password);
    // The suites' secrets say ssl: false; these start from the default (TLS verified).
    const { ssl: _plaintext, ...base } = tlsDb.secret(username, password, { host: 'localhost' });
    return postgresRotator.parse({ value: { ...base, ...settings }, label: 'AWSCURRENT' });
  }

  /** Logs in as the secret says and reports whether the session is encrypted. */
  async function sessionIsEncrypted(secret: PostgresSecret): Promise<boolean> {
    const session = await connectPostgres({ login: secret, ...rotatorRequest('testSecret') });
    try {
      const [row] = await session.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      return row?.ssl === true;
    } finally {
      await session.close();
    }
  }

  async function tlsFailure(secret: PostgresSecret): Promise<TargetUnreachableError> {
    try {
      await sessionIsEncrypted(secret);
    } catch (error) {
      if (error instanceof TargetUnreachableError) return error;
      throw error;
    }
    throw new Error('the login succeeded');
  }

  it('logs in over TLS when the certificate is verified with tlsCa', async () => {
    // Prepare
    const secret = await tlsSecret({ tlsCa: certificates.caPem });
    // Act / Assess
    expect(await sessionIsEncrypted(secret)).toBe(true);
  });

  it('rotates a single-user secret over verified TLS', async () => {
    // Prepare
    const current = await tlsSecret({ tlsCa: certificates.caPem });
    const pending = { ...current, password: newPassword() };
    // Act
    await postgresRotator.apply({
      ...rotatorRequest('setSecret'),
      current,
      pending,
      previous: async () => undefined,
    });
    await postgresRotator.test({ ...rotatorRequest('testSecret'), pending, current: async () => current });
    // Assess
    expect(await tlsDb.canLogin(pending.username, pending.password)).toBe(true);
  });

  it('refuses a certificate that does not name the host dialled', async () => {
    // Prepare: the certificate names localhost only.
    const secret = await tlsSecret({ host: '127.0.0.1', tlsCa: certificates.caPem });
    // Act
    const error = await tlsFailure(secret);
    // Assess
    expect(error.reason).toBe('tls');
    expect(error.retryable).toBe(false);
  });

  it('verifies the name given by tlsServerName instead of the host', async () => {
    // Prepare
    const secret = await tlsSecret({
      host: '127.0.0.1',
      tlsServerName: 'localhost',
      tlsCa: certificates.caPem,
    });
    // Act / Assess
    expect(await sessionIsEncrypted(secret)).toBe(true);
  });

  it('verify-ca checks the chain but not the name', async () => {
    // Prepare
    const secret = await tlsSecret({ host: '127.0.0.1', tlsMode: 'verify-ca', tlsCa: certificates.caPem });
    // Act / Assess
    expect(await sessionIsEncrypted(secret)).toBe(true);
  });

  it('refuses a server whose CA is not trusted', async () => {
    // Prepare
    const secret = await tlsSecret({});
    // Act
    const error = await tlsFailure(secret);
    // Assess
    expect(error.reason).toBe('tls');
    expect(error.message).toMatch(/tlsCa/);
  });

  it('refuses a server without TLS under default settings: no plaintext fallback', async () => {
    // Prepare: the secret does not say ssl: false.
    const secret = postgresRotator.parse({
      value: {
        engine: 'postgres',
        host: plain.host,
        port: plain.port,
        username: plain.superuser.username,
        password: plain.superuser.password,
      },
      label: 'AWSCURRENT',
    });
    // Act
    const error = await tlsFailure(secret);
    // Assess
    expect(error.reason).toBe('tls');
    expect(String(error.message)).not.toContain(plain.superuser.password);
  });

  it('logs in in plaintext when the secret says ssl: false', async () => {
    // Prepare
    const secret = await tlsSecret({ ssl: false });
    // Act / Assess
    expect(await sessionIsEncrypted(secret)).toBe(false);
  });

  it('preflight reports a TLS failure with a fix', async () => {
    // Prepare
    const current = await tlsSecret({});
    // Act
    const checks = await postgresRotator.preflight({ ...rotatorRequest('setSecret'), current });
    // Assess
    const login = checks.find((check) => check.name === 'login');
    expect(login?.ok).toBe(false);
    expect(login?.fix).toMatch(/tlsCa/);
  });
});
