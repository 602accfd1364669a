/**
 * The PostgreSQL rotator driven directly, on real servers with SCRAM authentication: PostgreSQL 17
 * (embedded) and 15 (system). The contract suite for each strategy, then the rules specific to
 * PostgreSQL: quoting, verifiers instead of plaintext, fallbacks, shared ownership, drift, probe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/postgres.js';
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  InternalError,
  InvalidSecretError,
  PermissionDeniedError,
  RotorError,
  TargetUnreachableError,
  VerificationFailedError,
} from '../../rotators/errors.js';
import {
  type ConnectPostgres,
  connectPostgres,
  createPostgresRotator,
  type PostgresSecret,
  postgresRotator,
} from '../../rotators/postgres/index.js';
import { scramSha256Verifier } from '../../rotators/postgres/scram.js';
import { cloneUsername } from '../../rotators/postgres/sql.js';
import { type ContractFixture, countRefusals, describeRotatorContract } from '../support/contract.js';
import {
  FLAVORS,
  MASTER_ARN,
  newPassword,
  rotatorRequest,
  skipPostgres,
  TestServer,
  uniqueName,
} from './support.js';

/** Names that need quoting, one per hazard; `tag` keeps the sets of two tests apart on one server. */
const awkwardNames = (tag: 'a' | 'b') => [
  tag === 'a' ? 'user' : 'select', // a reserved word
  `Mixed Case ${tag}`, // case and a space
  `we"ird'name ${tag}`, // both quote characters
  `semi;colon -- ${tag}`, // SQL punctuation
  `ünïcødé-角色-${tag}`, // multi-byte UTF-8
  `${tag}${'é'.repeat(31)}`, // 63 bytes exactly, multi-byte at the end
];

describe.skipIf(skipPostgres).each(FLAVORS)('PostgreSQL rotator on the %s server', (flavor) => {
  let db: TestServer;
  const related = (): Record<string, string> => ({ [MASTER_ARN]: db.masterSecret });

  beforeAll(async () => {
    db = await TestServer.start(flavor);
  });

  afterAll(async () => {
    await db?.stop();
  });

  /** A fresh user and its AWSCURRENT value. */
  async function freshUser(prefix: string, extra: Record<string, unknown> = {}, name = uniqueName(prefix)) {
    const password = newPassword();
    await db.createUser(name, password);
    return db.secret(name, password, extra);
  }

  /** createPending → apply → test, as the step machine runs them (`adopted`: the operator's adoptions). */
  async function rotate(
    currentValue: Record<string, unknown>,
    rotator = postgresRotator,
    adopted: readonly string[] = [],
  ): Promise<{ pendingValue: Record<string, unknown>; warnings: readonly string[] }> {
    const current = rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
    const { pending: pendingValue } = await rotator.createPending({
      ...rotatorRequest('createSecret', related()),
      current,
      currentValue,
      generatePassword: newPassword,
    });
    const pending = rotator.parse({ value: pendingValue, label: 'AWSPENDING' });
    await rotator.apply({
      ...rotatorRequest('setSecret', related()),
      adopted: async () => adopted,
      current,
      pending,
      previous: async () => undefined,
    });
    const result = await rotator.test({
      ...rotatorRequest('testSecret', related()),
      pending,
      current: async () => current,
    });
    return { pendingValue: { ...pendingValue }, warnings: result?.warnings ?? [] };
  }

  function parse(value: Record<string, unknown>, label = 'AWSCURRENT'): PostgresSecret {
    return postgresRotator.parse({ value, label });
  }

  const invalid: ContractFixture['invalid'] = [
    { name: 'no host', value: (v) => ({ ...v, host: undefined }), field: 'host' },
    { name: 'port out of range', value: (v) => ({ ...v, port: 70_000 }), field: 'port' },
    { name: 'username over 63 bytes', value: (v) => ({ ...v, username: 'x'.repeat(64) }), field: 'username' },
    { name: 'empty password', value: (v) => ({ ...v, password: '' }), field: 'password' },
    { name: 'unknown strategy', value: (v) => ({ ...v, strategy: 'rolling' }), field: 'strategy' },
    { name: 'bad tlsMode', value: (v) => ({ ...v, tlsMode: 'prefer' }), field: 'tlsMode' },
    { name: 'dbname not a string', value: (v) => ({ ...v, dbname: 5 }), field: 'dbname' },
  ];

  // The contract's rotator counts the logins the server refuses (none in a routine rotation).
  const counted = countRefusals(connectPostgres);
  const contractRotator = createPostgresRotator({ connect: counted.connect });

  describeRotatorContract(`postgres single-user (${flavor})`, () => ({
    rotator: contractRotator,
    strategy: 'single-user',
    refusedLogins: counted.refused,
    // A string port, as some RDS secrets have it: it must stay a string in AWSPENDING.
    freshSecret: async () => freshUser('single', { port: String(db.server.port) }),
    canLogin: (value) => db.canLogin(value.username, value.password),
    currentAfterApply: 'fails',
    invalid,
    snapshot: (value) => db.snapshot(String(value.username)),
    wrongCredential: (pending) => ({ ...pending, password: `${pending.password}-wrong` }),
  }));

  describeRotatorContract(`postgres alternating-users (${flavor})`, () => ({
    rotator: contractRotator,
    strategy: 'alternating-users',
    refusedLogins: counted.refused,
    freshSecret: async () => freshUser('alt', { masterarn: MASTER_ARN }),
    fetchRelated: async (id) => related()[id] ?? '',
    canLogin: (value) => db.canLogin(value.username, value.password),
    currentAfterApply: 'works',
    invalid: [
      ...invalid,
      {
        name: 'alternating without masterarn',
        value: (v) => ({ ...v, masterarn: undefined, strategy: 'alternating-users' }),
        field: 'masterarn',
      },
    ],
    snapshot: (value) => db.snapshot(String(value.username)),
    wrongCredential: (pending) => ({ ...pending, password: `${pending.password}-wrong` }),
  }));

  describe('SCRAM verifier', () => {
    it('equals the verifier the server computes for the same password and salt', async () => {
      // Prepare: the server hashes a password itself.
      const name = uniqueName('vector');
      const password = newPassword();
      await db.sql("SET password_encryption = 'scram-sha-256'");
      await db.sql(`CREATE ROLE ${name} PASSWORD '${password}'`);
      const [row] = await db.sql<{ rolpassword: string }>(
        'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
        [name],
      );
      const serverMade = String(row?.rolpassword);
      const [iterations, salt] = serverMade.split('$')[1]?.split(':') ?? [];
      // Act
      const ours = scramSha256Verifier(password, {
        salt: Buffer.from(String(salt), 'base64'),
        iterations: Number(iterations),
      });
      // Assess
      expect(ours).toBe(serverMade);
    });
  });

  describe('single-user', () => {
    it('sends only a SCRAM verifier: the statement log never holds the new password', async () => {
      // Prepare
      const currentValue = await freshUser('logged');
      // Act
      const { pendingValue } = await rotate(currentValue);
      // Assess
      const log = db.server.serverLog();
      expect(log).toContain(`ALTER ROLE "${currentValue.username}" WITH PASSWORD 'SCRAM-SHA-256$4096:`);
      expect(log).not.toContain(String(pendingValue.password));
      expect(log).not.toContain(String(currentValue.password));
    });

    it('makes the old password stop working and the new one work', async () => {
      // Prepare
      const currentValue = await freshUser('swap');
      // Act
      const { pendingValue } = await rotate(currentValue);
      // Assess
      expect(await db.canLogin(pendingValue.username, pendingValue.password)).toBe(true);
      expect(await db.canLogin(currentValue.username, currentValue.password)).toBe(false);
    });

    it('rotates users whose names need quoting', async () => {
      for (const name of awkwardNames('a')) {
        // Prepare
        const currentValue = await freshUser('', {}, name);
        // Act
        const { pendingValue } = await rotate(currentValue);
        // Assess
        expect(await db.canLogin(name, pendingValue.password), name).toBe(true);
        expect(await db.canLogin(name, currentValue.password), name).toBe(false);
      }
    });

    it('a replay after the server changed the password but the step died succeeds via AWSPENDING', async () => {
      // Prepare: the change reached the server, the step never returned.
      const currentValue = await freshUser('crash');
      const current = parse(currentValue);
      const pendingValue = { ...currentValue, password: newPassword() };
      const pending = parse(pendingValue, 'AWSPENDING');
      await db.sql(`ALTER ROLE "${current.username}" PASSWORD '${pending.password}'`);
      // Act
      await postgresRotator.apply({
        ...rotatorRequest('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      // Assess
      expect(await db.canLogin(pending.username, pending.password)).toBe(true);
    });

    it('falls back to AWSPREVIOUS when AWSCURRENT was replaced without changing the database', async () => {
      // Prepare: the database still has the AWSPREVIOUS password.
      const previousValue = await freshUser('previous');
      const current = parse({ ...previousValue, password: newPassword() });
      const pending = parse({ ...previousValue, password: newPassword() }, 'AWSPENDING');
      // Act
      await postgresRotator.apply({
        ...rotatorRequest('setSecret'),
        current,
        pending,
        previous: async () => parse(previousValue, 'AWSPREVIOUS'),
      });
      // Assess
      expect(await db.canLogin(pending.username, pending.password)).toBe(true);
    });

    it('fails with AuthenticationFailedError when no known password logs in, changing nothing', async () => {
      // Prepare
      const realValue = await freshUser('lost');
      const current = parse({ ...realValue, password: newPassword() });
      const pending = parse({ ...realValue, password: newPassword() }, 'AWSPENDING');
      // Act
      const result = postgresRotator.apply({
        ...rotatorRequest('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(AuthenticationFailedError);
      expect(await db.canLogin(realValue.username, realValue.password)).toBe(true);
    });

    it('refuses a pending value for another user or host before changing anything', async () => {
      // Prepare
      const currentValue = await freshUser('other');
      const current = parse(currentValue);
      const cases: [string, Record<string, unknown>][] = [
        ['username', { ...currentValue, username: 'postgres', password: newPassword() }],
        ['host', { ...currentValue, host: 'localhost', password: newPassword() }],
      ];
      for (const [field, pendingValue] of cases) {
        // Act
        const result = postgresRotator.apply({
          ...rotatorRequest('setSecret'),
          current,
          pending: parse(pendingValue, 'AWSPENDING'),
          previous: async () => undefined,
        });
        // Assess
        await expect(result).rejects.toMatchObject({ name: 'InvalidSecretError', field });
      }
      expect(await db.canLogin(currentValue.username, currentValue.password)).toBe(true);
    });

    it('rollback after a failed test puts the AWSCURRENT password back', async () => {
      // Prepare: a probe that fails makes the test fail after apply changed the password.
      const currentValue = await freshUser('rollback', { probeQuery: 'SELECT * FROM no_such_table' });
      const current = parse(currentValue);
      const pending = parse({ ...currentValue, password: newPassword() }, 'AWSPENDING');
      await postgresRotator.apply({
        ...rotatorRequest('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      const test = postgresRotator.test({
        ...rotatorRequest('testSecret'),
        pending,
        current: async () => current,
      });
      await expect(test).rejects.toBeInstanceOf(VerificationFailedError);
      // Act
      await postgresRotator.rollback({ ...rotatorRequest('testSecret'), current, pending });
      // Assess
      expect(await db.canLogin(current.username, current.password)).toBe(true);
      expect(await db.canLogin(pending.username, pending.password)).toBe(false);
    });

    it('rollback when nothing was applied changes nothing, and can be repeated', async () => {
      // Prepare
      const currentValue = await freshUser('norollback');
      const current = parse(currentValue);
      const pending = parse({ ...currentValue, password: newPassword() }, 'AWSPENDING');
      const before = await db.snapshot(current.username);
      // Act
      await postgresRotator.rollback({ ...rotatorRequest('testSecret'), current, pending });
      await postgresRotator.rollback({ ...rotatorRequest('testSecret'), current, pending });
      // Assess
      expect(await db.snapshot(current.username)).toBe(before);
      expect(await db.canLogin(current.username, current.password)).toBe(true);
    });

    it('logs in at most twice for a whole rotation (once to apply, once to test)', async () => {
      // Prepare
      let logins = 0;
      const counting: ConnectPostgres = (request) => {
        logins++;
        return connectPostgres(request);
      };
      const currentValue = await freshUser('count');
      // Act
      await rotate(currentValue, createPostgresRotator({ connect: counting }));
      // Assess
      expect(logins).toBe(2);
    });
  });

  describe('alternating-users', () => {
    it('logs in three times a rotation (proof, master, test), and the master only catalog-only', async () => {
      // Prepare
      const logins: { username: string; catalogOnly: boolean }[] = [];
      const counting: ConnectPostgres = (request) => {
        logins.push({ username: request.login.username, catalogOnly: request.catalogOnly === true });
        return connectPostgres(request);
      };
      const rotator = createPostgresRotator({ connect: counting });
      const master = String(JSON.parse(db.masterSecret).username);
      const first = await freshUser('logins', { masterarn: MASTER_ARN });
      const owner = String(first.username);
      // Act
      const { pendingValue: second } = await rotate(first, rotator);
      const toClone = logins.splice(0);
      await rotate(second, rotator);
      const toOwner = logins.splice(0);
      // Assess: AWSCURRENT proves the pair, the master applies, AWSPENDING is tested; from the clone,
      // createPending asks the master which role owns it as well.
      expect(toClone).toEqual([
        { username: owner, catalogOnly: true },
        { username: master, catalogOnly: true },
        { username: `${owner}_clone`, catalogOnly: false },
      ]);
      expect(toOwner).toEqual([
        { username: master, catalogOnly: true },
        { username: `${owner}_clone`, catalogOnly: true },
        { username: master, catalogOnly: true },
        { username: owner, catalogOnly: false },
      ]);
    });

    it('apply runs once more after a write conflict with a concurrent run (the clone just created)', async () => {
      // Prepare: the first CREATE ROLE collides (SQLSTATE 42710, as when another run of the same
      // step created the clone a moment before); nothing else fails.
      let collided = false;
      const colliding: ConnectPostgres = async (request) => {
        const session = await connectPostgres(request);
        return {
          ...session,
          target: session.target,
          query: async (sql, params, options) => {
            if (!collided && sql.startsWith('CREATE ROLE')) {
              collided = true;
              throw new InternalError('could not create role (SQLSTATE 42710)', {
                cause: { name: 'error', code: '42710' },
              });
            }
            return session.query(sql, params, options);
          },
          close: () => session.close(),
        } as typeof session;
      };
      const currentValue = await freshUser('conflict', { masterarn: MASTER_ARN });
      const owner = String(currentValue.username);
      // Act
      const { pendingValue, warnings } = await rotate(
        currentValue,
        createPostgresRotator({ connect: colliding }),
      );
      // Assess
      expect(collided).toBe(true);
      expect(warnings).toEqual([]);
      expect(pendingValue.username).toBe(`${owner}_clone`);
      expect(await db.canLogin(`${owner}_clone`, String(pendingValue.password))).toBe(true);
    });

    it('creates the clone as a member of the owner that acts as the owner', async () => {
      // Prepare
      const currentValue = await freshUser('owner', { masterarn: MASTER_ARN });
      const owner = String(currentValue.username);
      // Act
      const { pendingValue, warnings } = await rotate(currentValue);
      // Assess
      expect(pendingValue.username).toBe(`${owner}_clone`);
      expect(warnings).toEqual([]);
      const client = await db.connectAs(`${owner}_clone`, String(pendingValue.password));
      const [who] = (await client.query('SELECT session_user::text AS s, current_user::text AS c')).rows;
      await client.end();
      expect(who).toEqual({ s: `${owner}_clone`, c: owner });
    });

    it('keeps both users working, and returns to the owner on the next rotation', async () => {
      // Prepare
      const first = await freshUser('pair', { masterarn: MASTER_ARN });
      // Act
      const { pendingValue: second } = await rotate(first);
      const { pendingValue: third, warnings } = await rotate(second);
      // Assess
      expect(warnings).toEqual([]);
      expect(third.username).toBe(first.username);
      expect(await db.canLogin(second.username, second.password)).toBe(true);
      expect(await db.canLogin(third.username, third.password)).toBe(true);
      expect(await db.canLogin(first.username, first.password)).toBe(false);
    });

    it('a table created by either user is readable and writable by the other', async () => {
      // Prepare
      const ownerValue = await freshUser('shared', { masterarn: MASTER_ARN });
      const { pendingValue: cloneValue } = await rotate(ownerValue);
      const owner = await db.connectAs(String(ownerValue.username), String(ownerValue.password));
      const clone = await db.connectAs(String(cloneValue.username), String(cloneValue.password));
      const ownerTable = uniqueName('by_owner');
      const cloneTable = uniqueName('by_clone');
      try {
        // Act
        await owner.query(`CREATE TABLE ${ownerTable} (x int)`);
        await clone.query(`CREATE TABLE ${cloneTable} (x int)`);
        await owner.query(`INSERT INTO ${cloneTable} VALUES (1)`);
        await clone.query(`INSERT INTO ${ownerTable} VALUES (2)`);
        // Assess
        expect((await owner.query(`SELECT x FROM ${cloneTable}`)).rows).toEqual([{ x: 1 }]);
        expect((await clone.query(`SELECT x FROM ${ownerTable}`)).rows).toEqual([{ x: 2 }]);
        const owners = await db.sql('SELECT tableowner FROM pg_tables WHERE tablename = ANY($1) ORDER BY 1', [
          [ownerTable, cloneTable],
        ]);
        expect(owners).toEqual([{ tableowner: ownerValue.username }, { tableowner: ownerValue.username }]);
      } finally {
        await owner.end();
        await clone.end();
      }
    });

    it('rotates users whose names need quoting, back and forth', async () => {
      for (const name of awkwardNames('b')) {
        // Prepare
        const first = await freshUser('', { masterarn: MASTER_ARN }, name);
        // Act
        const { pendingValue: second } = await rotate(first);
        const { pendingValue: third } = await rotate(second);
        // Assess
        expect(second.username, name).toBe(cloneUsername(name));
        expect(third.username, name).toBe(name);
        expect(await db.canLogin(second.username, second.password), name).toBe(true);
        expect(await db.canLogin(third.username, third.password), name).toBe(true);
      }
    });

    it('a 63-byte owner name: the clone name is cut to fit and the next rotation finds the owner again', async () => {
      // Prepare
      const name = `${'o'.repeat(60)}${uniqueName('').slice(1, 4)}`;
      const first = await freshUser('', { masterarn: MASTER_ARN }, name);
      // Act
      const { pendingValue: second } = await rotate(first);
      const { pendingValue: third } = await rotate(second);
      // Assess
      expect(Buffer.byteLength(String(second.username))).toBe(63);
      expect(String(second.username).endsWith('_clone')).toBe(true);
      expect(third.username).toBe(name);
    });

    it('treats a name ending in _clone that belongs to no owner as an owner', async () => {
      // Prepare
      const first = await freshUser('', { masterarn: MASTER_ARN }, uniqueName('data_clone'));
      // Act
      const { pendingValue } = await rotate(first);
      // Assess
      expect(pendingValue.username).toBe(`${first.username}_clone`);
    });

    it("takes over a clone made by AWS's template (a member without role setting) once an operator adopted it, marks it, and warns about what it owns", async () => {
      // Prepare: the old clone owns a table in its own name; it carries no rotor marker.
      const ownerValue = await freshUser('aws', { masterarn: MASTER_ARN });
      const owner = String(ownerValue.username);
      const clonePassword = newPassword();
      await db.createUser(`${owner}_clone`, clonePassword);
      await db.sql(`GRANT "${owner}" TO "${owner}_clone"`);
      const oldClone = await db.connectAs(`${owner}_clone`, clonePassword);
      await oldClone.query(`CREATE TABLE ${uniqueName('legacy')} (x int)`);
      await oldClone.end();
      const unadopted = rotate(ownerValue);
      await expect(unadopted).rejects.toMatchObject({ name: 'ForeignAccountError' });
      // Act
      const { pendingValue, warnings } = await rotate(ownerValue, postgresRotator, [`${owner}_clone`]);
      // Assess
      expect(pendingValue.username).toBe(`${owner}_clone`);
      const [marker] = await db.sql<{ d: string }>(
        "SELECT shobj_description(oid, 'pg_authid') AS d FROM pg_roles WHERE rolname = $1",
        [`${owner}_clone`],
      );
      expect(marker?.d).toBe(`rotor clone of ${owner}`);
      expect(warnings.join('\n')).toContain(`role "${owner}_clone" owns 1 object(s)`);
      const client = await db.connectAs(`${owner}_clone`, String(pendingValue.password));
      const [who] = (await client.query('SELECT current_user::text AS c')).rows;
      await client.end();
      expect(who?.c).toBe(owner);
    });

    it('testSecret fails when the clone no longer acts as the owner', async () => {
      // Prepare
      const ownerValue = await freshUser('drift', { masterarn: MASTER_ARN });
      const { pendingValue } = await rotate(ownerValue);
      await db.sql(`ALTER ROLE "${pendingValue.username}" RESET role`);
      // Act
      const result = postgresRotator.test({
        ...rotatorRequest('testSecret', related()),
        pending: parse(pendingValue, 'AWSPENDING'),
        current: async () => parse(ownerValue),
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(VerificationFailedError);
    });

    it('testSecret warns when the idle clone lost its setup, and setSecret restores it', async () => {
      // Prepare
      const ownerValue = await freshUser('restore', { masterarn: MASTER_ARN });
      const { pendingValue: cloneValue } = await rotate(ownerValue);
      const grantedBy = db.version >= 16 ? ' GRANTED BY rotor_master' : '';
      await db.sql(`REVOKE "${ownerValue.username}" FROM "${cloneValue.username}"${grantedBy}`);
      // Act
      const { pendingValue: backToOwner, warnings } = await rotate(cloneValue);
      const { pendingValue: cloneAgain } = await rotate(backToOwner);
      // Assess
      expect(warnings.join('\n')).toContain('is no longer set up to act as');
      const client = await db.connectAs(String(cloneAgain.username), String(cloneAgain.password));
      const [who] = (await client.query('SELECT current_user::text AS c')).rows;
      await client.end();
      expect(who?.c).toBe(ownerValue.username);
    });

    it('wrong master credentials: AuthenticationFailedError naming the managing user, nothing changed', async () => {
      // Prepare
      const currentValue = await freshUser('badmaster', { masterarn: MASTER_ARN });
      const current = parse(currentValue);
      const pending = parse(
        { ...currentValue, username: `${currentValue.username}_clone`, password: newPassword() },
        'AWSPENDING',
      );
      const wrong = JSON.stringify(db.masterValue({ password: 'not-the-master-password' }));
      // Act
      const result = postgresRotator.apply({
        ...rotatorRequest('setSecret', { [MASTER_ARN]: wrong }),
        current,
        pending,
        previous: async () => undefined,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(AuthenticationFailedError);
      await expect(result).rejects.toThrow(/managing user "rotor_master"/);
      await expect(result).rejects.not.toThrow(/not-the-master-password/);
      expect(await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [pending.username])).toEqual([]);
      expect(await db.canLogin(currentValue.username, currentValue.password)).toBe(true);
    });

    it('a managing user without the rights gets PermissionDeniedError, and no role is created', async () => {
      // Prepare: CREATEROLE without ADMIN OPTION on the owner (16+), or without CREATEROLE (15).
      const weakPassword = newPassword();
      const weak = uniqueName('weak_master');
      await db.sql(
        `CREATE ROLE ${weak} LOGIN ${db.version >= 16 ? 'CREATEROLE' : ''} PASSWORD '${weakPassword}'`,
      );
      const currentValue = await freshUser('denied', { masterarn: MASTER_ARN });
      const current = parse(currentValue);
      const pending = parse(
        { ...currentValue, username: `${currentValue.username}_clone`, password: newPassword() },
        'AWSPENDING',
      );
      // Act
      const result = postgresRotator.apply({
        ...rotatorRequest('setSecret', {
          [MASTER_ARN]: JSON.stringify(db.masterValue({ username: weak, password: weakPassword })),
        }),
        current,
        pending,
        previous: async () => undefined,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(PermissionDeniedError);
      expect(await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [pending.username])).toEqual([]);
    });

    it('rollback leaves both users as they are (the current one was never touched)', async () => {
      // Prepare
      const first = await freshUser('altrollback', { masterarn: MASTER_ARN });
      const { pendingValue } = await rotate(first);
      // Act
      await postgresRotator.rollback({
        ...rotatorRequest('testSecret', related()),
        current: parse(first),
        pending: parse(pendingValue, 'AWSPENDING'),
      });
      // Assess
      expect(await db.canLogin(first.username, first.password)).toBe(true);
      expect(await db.canLogin(pendingValue.username, pendingValue.password)).toBe(true);
    });

    it('refuses a pending value that names the user in use', async () => {
      // Prepare
      const currentValue = await freshUser('same', { masterarn: MASTER_ARN });
      // Act
      const result = postgresRotator.apply({
        ...rotatorRequest('setSecret', related()),
        current: parse(currentValue),
        pending: parse({ ...currentValue, password: newPassword() }, 'AWSPENDING'),
        previous: async () => undefined,
      });
      // Assess
      await expect(result).rejects.toMatchObject({ name: 'InvalidSecretError', field: 'username' });
      expect(await db.canLogin(currentValue.username, currentValue.password)).toBe(true);
    });
  });

  describe('probe query', () => {
    async function testWithProbe(probeQuery: string) {
      const currentValue = await freshUser('probe', { probeQuery });
      const { pending: pendingValue } = await postgresRotator.createPending({
        ...rotatorRequest('createSecret'),
        current: parse(currentValue),
        currentValue,
        generatePassword: newPassword,
      });
      const pending = parse(pendingValue, 'AWSPENDING');
      await postgresRotator.apply({
        ...rotatorRequest('setSecret'),
        current: parse(currentValue),
        pending,
        previous: async () => undefined,
      });
      return postgresRotator.test({
        ...rotatorRequest('testSecret'),
        pending,
        current: async () => parse(currentValue),
      });
    }

    it('runs a read-only probe', async () => {
      // Act / Assess
      await expect(testWithProbe('SELECT count(*) FROM pg_class')).resolves.toBeUndefined();
    });

    it('a probe that writes fails with VerificationFailedError, and writes nothing', async () => {
      // Prepare
      const table = uniqueName('probe_target');
      await db.sql(`CREATE TABLE ${table} (x int)`);
      await db.sql(`GRANT INSERT ON ${table} TO PUBLIC`);
      // Act
      const result = testWithProbe(`INSERT INTO ${table} VALUES (1)`);
      // Assess
      await expect(result).rejects.toBeInstanceOf(VerificationFailedError);
      await expect(result).rejects.toThrow(/SQLSTATE 25006/);
      expect(await db.sql(`SELECT * FROM ${table}`)).toEqual([]);
    });

    it('a probe of several statements cannot escape the read-only transaction', async () => {
      // Prepare
      const table = uniqueName('probe_escape');
      await db.sql(`CREATE TABLE ${table} (x int)`);
      await db.sql(`GRANT INSERT ON ${table} TO PUBLIC`);
      // Act
      const result = testWithProbe(`SELECT 1; COMMIT; INSERT INTO ${table} VALUES (1)`);
      // Assess
      await expect(result).rejects.toBeInstanceOf(VerificationFailedError);
      expect(await db.sql(`SELECT * FROM ${table}`)).toEqual([]);
    });

    it("a failing probe reports its SQLSTATE, not the server's message", async () => {
      // Act
      const result = testWithProbe('SELECT * FROM no_such_table_with_a_secret_name_s3cr3t');
      // Assess
      await expect(result).rejects.toThrow(/SQLSTATE 42P01/);
      await expect(result).rejects.not.toThrow(/s3cr3t/);
    });
  });

  describe('preflight', () => {
    it('reports every check ok for a working single-user secret', async () => {
      // Prepare
      const current = parse(await freshUser('pre'));
      // Act
      const checks = await postgresRotator.preflight({ ...rotatorRequest('setSecret'), current });
      // Assess
      expect(checks.map((check) => [check.name, check.ok])).toEqual([
        ['secret', true],
        ['login', true],
      ]);
      expect(checks[1]?.detail).toContain(`PostgreSQL ${db.version}`);
    });

    it("reports the managing user's rights and the clone for alternating users", async () => {
      // Prepare
      const current = parse(await freshUser('prealt', { masterarn: MASTER_ARN }));
      // Act
      const checks = await postgresRotator.preflight({ ...rotatorRequest('setSecret', related()), current });
      // Assess
      expect(checks.map((check) => [check.name, check.ok])).toEqual([
        ['secret', true],
        ['login', true],
        ['master secret', true],
        ['master login', true],
        ['master privileges', true],
        ['clone role', true],
        ['privilege drift', true],
      ]);
    });

    it('names what the managing user lacks, with a fix', async () => {
      // Prepare
      const weakPassword = newPassword();
      const weak = uniqueName('pre_weak');
      await db.sql(
        `CREATE ROLE ${weak} LOGIN ${db.version >= 16 ? 'CREATEROLE' : ''} PASSWORD '${weakPassword}'`,
      );
      const current = parse(await freshUser('prefix', { masterarn: MASTER_ARN }));
      const master = JSON.stringify(db.masterValue({ username: weak, password: weakPassword }));
      // Act
      const checks = await postgresRotator.preflight({
        ...rotatorRequest('setSecret', { [MASTER_ARN]: master }),
        current,
      });
      // Assess
      const rights = checks.find((check) => check.name === 'master privileges');
      expect(rights?.ok).toBe(false);
      expect(rights?.fix).toMatch(db.version >= 16 ? /WITH ADMIN OPTION/ : /CREATEROLE/);
    });

    it('reports a refused login with a fix and no secret', async () => {
      // Prepare
      const value = await freshUser('prebad');
      const current = parse({ ...value, password: 'definitely-wrong-password' });
      // Act
      const checks = await postgresRotator.preflight({ ...rotatorRequest('setSecret'), current });
      // Assess
      const login = checks.find((check) => check.name === 'login');
      expect(login?.ok).toBe(false);
      expect(login?.fix).toMatch(/password/);
      expect(JSON.stringify(checks)).not.toContain('definitely-wrong-password');
    });
  });

  describe('time and reachability', () => {
    it('a statement that would outlive the deadline is cut with DeadlineExceededError', async () => {
      // Prepare
      const currentValue = await freshUser('slow', { probeQuery: 'SELECT pg_sleep(30)' });
      const pending = parse(currentValue);
      // Act
      const result = postgresRotator.test({
        ...rotatorRequest('testSecret'),
        signal: AbortSignal.timeout(1_500),
        deadline: Date.now() + 1_500,
        pending,
        current: async () => pending,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(DeadlineExceededError);
    });

    it('no time left: DeadlineExceededError without connecting', async () => {
      // Prepare
      const pending = parse(await freshUser('late'));
      // Act
      const result = postgresRotator.test({
        ...rotatorRequest('testSecret'),
        deadline: Date.now() - 1,
        pending,
        current: async () => pending,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(DeadlineExceededError);
    });

    it('a port nobody listens on is reported as refused', async () => {
      // Prepare
      const pending = parse({ ...(await freshUser('refused')), port: await freePort() });
      // Act
      const result = postgresRotator.test({
        ...rotatorRequest('testSecret'),
        pending,
        current: async () => pending,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(TargetUnreachableError);
      await expect(result).rejects.toMatchObject({ reason: 'refused', retryable: true });
    });
  });

  it('errors are typed RotorErrors whose messages hold no SQL text', async () => {
    // Prepare
    const currentValue = await freshUser('typed');
    const current = parse({ ...currentValue, dbname: 'no_such_database' });
    // Act
    const result = postgresRotator.test({
      ...rotatorRequest('testSecret'),
      pending: current,
      current: async () => current,
    });
    // Assess
    await expect(result).rejects.toBeInstanceOf(RotorError);
    await expect(result).rejects.toBeInstanceOf(InvalidSecretError);
    await expect(result).rejects.toMatchObject({ field: 'dbname' });
  });
});
