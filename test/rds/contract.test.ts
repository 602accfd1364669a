/**
 * The rotator contract suite (test/support/contract.ts) for the rds-master strategy, on a real
 * PostgreSQL 17 and the machine's MariaDB behind the local RDS endpoint. The suite drives rotators
 * directly, without the step machine, so the fixture plays the step machine's part: it hands
 * every call the `ManagedDatabase` port that discovery (handlers/rds.ts, through the real
 * client-rds) made for the secret's instance. RDS applies changes asynchronously; where the suite
 * checks a login right after apply or rollback, the fixture first lets the local RDS settle, as
 * testSecret would wait.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe } from 'vitest';
import { RdsDiscovery } from '../../handlers/rds.js';
import {
  connectAdmin,
  MACHINE_HOST,
  MACHINE_PORT,
  type MysqlAdmin,
  uniqueName as mysqlName,
} from '../../local/mysql.js';
import {
  type LocalRds,
  mariadbMasterPassword,
  postgresMasterPassword,
  startLocalRds,
} from '../../local/rds.js';
import { connectMysql, createMysqlRotator } from '../../rotators/mysql/index.js';
import { connectPostgres, createPostgresRotator } from '../../rotators/postgres/index.js';
import type { AnyRotator, ManagedDatabase } from '../../rotators/types.js';
import { logsInAsAccount, newPassword as mysqlPassword } from '../mysql/support.js';
import { newPassword, TestServer, uniqueName } from '../postgres/support.js';
import { type ContractFixture, countRefusals, describeRotatorContract } from '../support/contract.js';
import { BRISK, identifier, skipMariadb, skipPostgres } from './support.js';

// The contract's rotators count the logins the servers refuse (none in a routine rotation: apply
// knows AWSCURRENT logged in and RDS had nothing pending, so the pending password cannot be in place).
const pgCounted = countRefusals(connectPostgres);
const postgres = createPostgresRotator({ rdsWait: BRISK, connect: pgCounted.connect });
const mariaCounted = countRefusals(connectMysql);
const mysql = createMysqlRotator({ rdsWait: BRISK, connect: mariaCounted.connect });

/** Ports of the fixture's instances, by instance identifier (for parse) and by username (for requests). */
class Ports {
  readonly byInstance = new Map<string, ManagedDatabase>();
  readonly byUser = new Map<string, ManagedDatabase>();
  readonly discovery: RdsDiscovery;

  constructor(
    readonly rds: LocalRds,
    client: RDSClient,
  ) {
    // A Secrets Manager client is never used: every fixture value names its instance.
    this.discovery = new RdsDiscovery({ rds: () => client, secretsManager: new SecretsManagerClient({}) });
  }

  async add(value: Record<string, unknown>): Promise<void> {
    const { managedDatabase } = await this.discovery
      .forInvocation(new AbortController().signal)
      .enrich(value, {
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:contract',
        label: 'AWSCURRENT',
      });
    if (managedDatabase === undefined) throw new Error('the fixture value names no instance');
    // The stage file binds the fixture's secrets to their instances (rdsMasters), as the step
    // machine then marks the port.
    const bound = { ...managedDatabase, boundToSecret: true };
    this.byInstance.set(String(value.dbInstanceIdentifier), bound);
    this.byUser.set(String(value.username), bound);
  }

  /** The rotator as the step machine drives it: every call gets the port of its secret's instance. */
  wrap(rotator: AnyRotator): AnyRotator {
    const byValue = (value: unknown) => {
      const id = (value as { dbInstanceIdentifier?: unknown } | null)?.dbInstanceIdentifier;
      const db = typeof id === 'string' ? this.byInstance.get(id) : undefined;
      return db === undefined ? {} : { managedDatabase: db };
    };
    const byUser = (secret: { username: string }) => {
      const db = this.byUser.get(secret.username);
      return db === undefined ? {} : { managedDatabase: db };
    };
    const settle = () => this.rds.settled();
    const rollback = rotator.rollback;
    return {
      ...rotator,
      parse: (request) => rotator.parse({ ...request, ...byValue(request.value) }),
      createPending: (request) => rotator.createPending({ ...request, ...byUser(request.current) }),
      apply: async (request) => {
        await rotator.apply({ ...request, ...byUser(request.current) });
        await settle();
      },
      test: (request) => rotator.test({ ...request, ...byUser(request.pending) }),
      ...(rollback === undefined
        ? {}
        : {
            rollback: async (request) => {
              const result = await rollback({ ...request, ...byUser(request.current) });
              await settle();
              return result;
            },
          }),
    };
  }
}

/** Values the rds-master strategy must refuse, and the field each names. */
function invalid(): ContractFixture['invalid'] {
  return [
    {
      name: 'a masterarn (no managing user takes part)',
      value: (v) => ({ ...v, masterarn: 'arn:aws:secretsmanager:us-east-1:1:secret:m-AbCdEf' }),
      field: 'masterarn',
    },
    {
      name: 'a user other than the master',
      value: (v) => ({ ...v, username: 'not_the_master' }),
      field: 'username',
    },
    {
      name: 'an instance and a cluster',
      value: (v) => ({ ...v, dbClusterIdentifier: 'other' }),
      field: 'dbClusterIdentifier',
    },
    {
      name: 'a malformed identifier',
      value: (v) => ({ ...v, dbInstanceIdentifier: '1-db' }),
      field: 'dbInstanceIdentifier',
    },
    {
      name: 'no database named',
      value: ({ dbInstanceIdentifier: _id, ...rest }) => rest,
      field: 'dbInstanceIdentifier',
    },
  ];
}

describe.skipIf(skipPostgres)('rds-master on PostgreSQL', () => {
  let db: TestServer;
  let rds: LocalRds;
  let client: RDSClient;
  let ports: Ports;

  beforeAll(async () => {
    db = await TestServer.start('embedded');
    rds = await startLocalRds();
    client = new RDSClient(rds.clientConfig);
    ports = new Ports(rds, client);
  });

  afterAll(async () => {
    client?.destroy();
    await rds?.stop();
    await db?.stop();
  });

  describeRotatorContract('postgres rds-master', () => ({
    rotator: ports.wrap(postgres),
    strategy: 'rds-master',
    refusedLogins: pgCounted.refused,
    async freshSecret() {
      const role = uniqueName('master');
      const password = newPassword();
      await db.createUser(role, password);
      const id = identifier('pg');
      rds.registerInstance({
        identifier: id,
        engine: 'postgres',
        endpoint: { address: db.server.host, port: db.server.port },
        masterUsername: role,
        setMasterPassword: postgresMasterPassword(db.server, role),
      });
      const value = db.secret(role, password, { dbInstanceIdentifier: id, strategy: 'rds-master' });
      await ports.add(value);
      return value;
    },
    canLogin: (value) => db.canLogin(value.username, value.password),
    currentAfterApply: 'fails',
    invalid: invalid(),
    snapshot: (value) => db.snapshot(String(value.username)),
    wrongCredential: (pending) => ({ ...pending, password: 'Wrong-password-123' }),
  }));
});

describe.skipIf(skipMariadb)('rds-master on MariaDB', () => {
  let admin: MysqlAdmin;
  let rds: LocalRds;
  let client: RDSClient;
  let ports: Ports;
  const users: string[] = [];

  beforeAll(async () => {
    admin = await connectAdmin();
    rds = await startLocalRds();
    client = new RDSClient(rds.clientConfig);
    ports = new Ports(rds, client);
  });

  afterAll(async () => {
    await admin?.drop(...users.map((user) => ({ user, host: '%' })));
    await admin?.close();
    client?.destroy();
    await rds?.stop();
  });

  describeRotatorContract('mariadb rds-master', () => ({
    rotator: ports.wrap(mysql),
    strategy: 'rds-master',
    refusedLogins: mariaCounted.refused,
    async freshSecret() {
      const account = { user: mysqlName('rt_admin_'), host: '%' };
      const password = mysqlPassword();
      users.push(account.user);
      await admin.createAccount(account, password);
      const id = identifier('maria');
      rds.registerInstance({
        identifier: id,
        engine: 'mariadb',
        endpoint: { address: MACHINE_HOST, port: MACHINE_PORT },
        masterUsername: account.user,
        setMasterPassword: mariadbMasterPassword(account),
      });
      const value = {
        engine: 'mariadb',
        host: MACHINE_HOST,
        port: MACHINE_PORT,
        username: account.user,
        password,
        dbInstanceIdentifier: id,
        strategy: 'rds-master',
        ssl: false,
      };
      await ports.add(value);
      return value;
    },
    canLogin: logsInAsAccount,
    currentAfterApply: 'fails',
    invalid: invalid(),
    snapshot: async (value) =>
      JSON.stringify(await admin.globalPriv({ user: String(value.username), host: '%' })),
    wrongCredential: (pending) => ({ ...pending, password: 'Wrong-password-123' }),
  }));
});
