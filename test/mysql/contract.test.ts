/**
 * The shared rotator contract on the machine's MariaDB 10.11, once per strategy (dual-password
 * twice: run by the account itself, and by the managing user), with real password logins over TCP.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { connectMysql, createMysqlRotator } from '../../rotators/mysql/index.js';
import { type ContractFixture, countRefusals, describeRotatorContract } from '../support/contract.js';
import { logsInAsAccount, MASTER_ARN, MariadbTestBed, skipMysql } from './support.js';

describe.skipIf(skipMysql)('mysql rotator contract (MariaDB)', () => {
  let bed: MariadbTestBed;

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
  });

  afterAll(async () => {
    await bed?.cleanup();
  });

  const invalid: ContractFixture['invalid'] = [
    { name: 'no password', value: ({ password: _, ...rest }) => rest, field: 'password' },
    { name: 'port out of range', value: (valid) => ({ ...valid, port: 70000 }), field: 'port' },
    { name: 'port not numeric', value: (valid) => ({ ...valid, port: '33o6' }), field: 'port' },
    { name: 'another engine', value: (valid) => ({ ...valid, engine: 'postgres' }), field: 'engine' },
    {
      name: 'unknown strategy',
      value: (valid) => ({ ...valid, strategy: 'triple-password' }),
      field: 'strategy',
    },
    { name: 'empty username', value: (valid) => ({ ...valid, username: '' }), field: 'username' },
    { name: 'NUL in username', value: (valid) => ({ ...valid, username: 'a\0b' }), field: 'username' },
    { name: 'host part with @', value: (valid) => ({ ...valid, accountHost: 'a@b' }), field: 'accountHost' },
    {
      name: 'writing probe',
      value: (valid) => ({ ...valid, probeQuery: 'DELETE FROM t' }),
      field: 'probeQuery',
    },
    { name: 'unknown TLS mode', value: (valid) => ({ ...valid, tlsMode: 'sometimes' }), field: 'tlsMode' },
    {
      name: 'alternating-users without masterarn',
      value: ({ masterarn: _, ...rest }) => ({ ...rest, strategy: 'alternating-users' }),
      field: 'masterarn',
    },
  ];

  // The contract's rotator counts the logins the server refuses (none in a routine rotation).
  const counted = countRefusals(connectMysql);
  const mysqlRotator = createMysqlRotator({ connect: counted.connect });

  function fixture(
    strategy: string,
    options: { master: boolean; grants?: readonly string[]; currentAfterApply: 'works' | 'fails' },
  ): () => ContractFixture {
    return () => ({
      rotator: mysqlRotator,
      strategy,
      refusedLogins: counted.refused,
      freshSecret: () =>
        bed.secret(
          { strategy, ...(options.master ? { masterarn: MASTER_ARN } : {}) },
          options.grants === undefined ? {} : { grants: options.grants },
        ),
      fetchRelated: async (id) => {
        if (id !== MASTER_ARN) throw new Error(`unexpected related secret ${id}`);
        return bed.masterSecret();
      },
      canLogin: logsInAsAccount,
      currentAfterApply: options.currentAfterApply,
      invalid,
      snapshot: async (value) => {
        const account = { user: String(value.username), host: String(value.accountHost ?? '%') };
        return JSON.stringify({
          priv: await bed.admin.globalPriv(account),
          grants: await bed.admin.grants(account),
        });
      },
      wrongCredential: (pending) => ({ ...pending, password: `${String(pending.password)}-wrong` }),
    });
  }

  describeRotatorContract(
    'mysql single-user',
    fixture('single-user', { master: false, currentAfterApply: 'fails' }),
  );

  describeRotatorContract(
    'mysql dual-password (run by the account itself)',
    fixture('dual-password', {
      master: false,
      currentAfterApply: 'works',
      grants: [
        'GRANT SELECT ON `{db}`.* TO {account}',
        'GRANT CREATE USER ON *.* TO {account}',
        'GRANT SELECT ON mysql.global_priv TO {account}',
      ],
    }),
  );

  describeRotatorContract(
    'mysql dual-password (run by the managing user)',
    fixture('dual-password', { master: true, currentAfterApply: 'works' }),
  );

  describeRotatorContract(
    'mysql alternating-users',
    fixture('alternating-users', { master: true, currentAfterApply: 'works' }),
  );
});
