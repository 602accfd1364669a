/**
 * Both SQL engines read the managing user's secret through one kit (rotators/sql/kit.ts
 * `masterAccess`, on trust.ts `bindMaster`): the master secret's own TLS keys decide how its
 * credential travels, `tlsServerName` included, never the rotated secret's. Pure: no connection
 * is made (the endpoint is decided before any).
 */
import { describe, expect, it } from 'vitest';
import { createMysqlEngine } from '../../rotators/mysql/engine.js';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import { createPostgresEngine } from '../../rotators/postgres/engine.js';
import { postgresRotator } from '../../rotators/postgres/index.js';

const MASTER = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf';

/** A master secret naming its endpoint and the certificate name to verify. */
const masterValue = (port: number) =>
  JSON.stringify({
    username: 'admin',
    password: 'Master-password-1',
    host: 'db.internal',
    port,
    tlsMode: 'verify-full',
    tlsServerName: 'db.example.com',
  });

const fetchMaster = (port: number) => async (id: string) => {
  if (id !== MASTER) throw new Error(`unexpected master ${id}`);
  return { value: masterValue(port) };
};

describe("the master secret's TLS server name", () => {
  it('PostgreSQL keeps it for the managing role (the rotated secret names another)', async () => {
    // Prepare
    const secret = postgresRotator.parse({
      value: {
        engine: 'postgres',
        host: 'db.internal',
        port: 5432,
        username: 'app',
        password: 'App-password-1',
        masterarn: MASTER,
        tlsServerName: 'writer-chosen.example.org',
      },
      label: 'AWSCURRENT',
    });

    // Act
    const master = await createPostgresEngine().masterLogin(secret, fetchMaster(5432));

    // Assess
    expect(master.login.tls).toEqual({ mode: 'verify-full', serverName: 'db.example.com' });
    expect(master.login.host).toBe('db.internal');
  });

  it('MySQL keeps it for the managing user (the rotated secret names another)', async () => {
    // Prepare
    const secret = mysqlRotator.parse({
      value: {
        engine: 'mysql',
        host: 'db.internal',
        port: 3306,
        username: 'app',
        password: 'App-password-1',
        masterarn: MASTER,
        tlsServerName: 'writer-chosen.example.org',
      },
      label: 'AWSCURRENT',
    });

    // Act
    const master = await createMysqlEngine().masterLogin({ fetchMaster: fetchMaster(3306) }, secret);

    // Assess
    expect(master.tls).toEqual({ mode: 'verify-full', serverName: 'db.example.com' });
    expect(master.host).toBe('db.internal');
  });
});
