/**
 * Trust boundaries of the PostgreSQL rotator, attacked by someone who can write one rotated
 * secret (its value, even its AWSPREVIOUS) and nothing else: each test tries to get a master
 * credential, another role's privileges or another role's password, and asserts that the attempt
 * gets nothing, that a typed error names what was refused, and that the victim's AWSCURRENT still
 * logs in with nothing of it changed. Real server: embedded PostgreSQL 17 with SCRAM; a fake
 * server on loopback (test/support/fakePostgres.ts) records every byte a client sends.
 */
import { readFile, rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConnectPostgres,
  connectPostgres,
  createPostgresRotator,
  type PostgresSecret,
  postgresRotator,
} from '../../rotators/postgres/index.js';
import { cloneUsername, legacyCloneUsername } from '../../rotators/postgres/sql.js';
import type { MasterBinding } from '../../rotators/trust.js';
import type { ManagedDatabase, RequestBase } from '../../rotators/types.js';
import { type Certificates, makeCertificates } from '../postgres/certificates.js';
import {
  MASTER_ARN,
  newPassword,
  rotatorRequest,
  skipPostgres,
  TestServer,
  uniqueName,
} from '../postgres/support.js';
import {
  type FakeAuthMethod,
  type FakePostgres,
  md5Answer,
  startFakePostgres,
} from '../support/fakePostgres.js';

type Value = Record<string, unknown>;

interface RequestOptions {
  /** The master secret's value (default: the test server's master, with its host). */
  master?: Value;
  binding?: MasterBinding;
  adopted?: readonly string[];
  managedDatabase?: ManagedDatabase;
}

/** What an attempt threw (or `undefined`), for asserting its type and message. */
async function failure(work: Promise<unknown>): Promise<Error | undefined> {
  try {
    await work;
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

describe.skipIf(skipPostgres)('PostgreSQL trust boundaries (embedded PostgreSQL 17, SCRAM)', () => {
  let db: TestServer;
  const fakes: FakePostgres[] = [];

  beforeAll(async () => {
    db = await TestServer.start('embedded');
  });

  afterAll(async () => {
    await db?.stop();
  });

  afterEach(async () => {
    for (const fake of fakes.splice(0)) await fake.close();
  });

  async function fake(method: FakeAuthMethod, tls?: { cert: string; key: string }): Promise<FakePostgres> {
    const server = await startFakePostgres(method, tls === undefined ? {} : { tls });
    fakes.push(server);
    return server;
  }

  function request(step: RequestBase['step'], options: RequestOptions = {}): RequestBase {
    const master = JSON.stringify(options.master ?? db.masterValue());
    const base = rotatorRequest(step, { [MASTER_ARN]: master });
    return {
      ...base,
      fetchMaster: async (id) => ({
        value: await base.fetchRelated(id),
        ...(options.binding === undefined ? {} : { binding: options.binding }),
      }),
      adopted: async () => options.adopted ?? [],
      ...(options.managedDatabase === undefined ? {} : { managedDatabase: options.managedDatabase }),
    };
  }

  function parse(value: Value, label = 'AWSCURRENT', managedDatabase?: ManagedDatabase): PostgresSecret {
    return postgresRotator.parse({ value, label, ...(managedDatabase ? { managedDatabase } : {}) });
  }

  /** A role on the test server (the master may manage it) and its AWSCURRENT value. */
  async function user(prefix: string, extra: Value = {}, name = uniqueName(prefix)): Promise<Value> {
    const password = newPassword();
    await db.createUser(name, password);
    return db.secret(name, password, extra);
  }

  async function roleExists(name: string): Promise<boolean> {
    return (await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length > 0;
  }

  /** createPending then apply, as the step machine runs them for the writer's AWSCURRENT. */
  async function createAndApply(
    currentValue: Value,
    options: RequestOptions = {},
    previous?: Value,
  ): Promise<Value> {
    const current = parse(currentValue);
    const { pending: pendingValue } = await postgresRotator.createPending({
      ...request('createSecret', options),
      current,
      currentValue,
      generatePassword: newPassword,
    });
    await postgresRotator.apply({
      ...request('setSecret', options),
      current,
      pending: parse(pendingValue, 'AWSPENDING'),
      previous: async () => (previous === undefined ? undefined : parse(previous, 'AWSPREVIOUS')),
    });
    return { ...pendingValue };
  }

  /** A full legitimate rotation (createPending, apply, test). */
  async function rotate(currentValue: Value, options: RequestOptions = {}): Promise<Value> {
    const pendingValue = await createAndApply(currentValue, options);
    await postgresRotator.test({
      ...request('testSecret', options),
      pending: parse(pendingValue, 'AWSPENDING'),
      current: async () => parse(currentValue),
    });
    return pendingValue;
  }

  /** The victim's AWSCURRENT logs in, and its role is exactly as it was. */
  async function expectUntouched(victim: Value, before: string): Promise<void> {
    expect(await db.canLogin(victim.username, victim.password)).toBe(true);
    expect(await db.snapshot(String(victim.username))).toBe(before);
  }

  describe('the master logs in only where its own secret or its binding says', () => {
    it("master sent to the writer's host: MasterBindingError before any connection; the fake server receives nothing", async () => {
      // Prepare: the master secret names the real server; the writer points the secret at theirs.
      const trap = await fake('password');
      const writer = {
        ...(await user('writer', { masterarn: MASTER_ARN })),
        host: trap.host,
        port: trap.port,
      };
      // Act
      const error = await failure(createAndApply(writer));
      // Assess
      expect(error?.name).toBe('MasterBindingError');
      expect(error?.message).toMatch(/not master secret .*'s endpoint/);
      expect(trap.connections()).toBe(0);
      expect(trap.allBytes().includes(db.master.password)).toBe(false);
    });

    it("master sent to the writer's host on the same machine (another port): MasterBindingError, nothing sent", async () => {
      // Prepare: same host name as the master secret, the writer's port.
      const trap = await fake('password');
      const writer = { ...(await user('writerport', { masterarn: MASTER_ARN })), port: trap.port };
      // Act
      const error = await failure(createAndApply(writer));
      // Assess
      expect(error?.name).toBe('MasterBindingError');
      expect(trap.connections()).toBe(0);
    });

    it('a master secret with no host and no binding: MasterBindingError, nothing sent anywhere', async () => {
      // Prepare: an RDS-style master secret (only username and password), the secret on the trap.
      const trap = await fake('password');
      const master = { username: db.master.username, password: db.master.password };
      const writer = {
        ...(await user('nohost', { masterarn: MASTER_ARN })),
        host: trap.host,
        port: trap.port,
      };
      // Act
      const error = await failure(createAndApply(writer, { master }));
      // Assess
      expect(error?.name).toBe('MasterBindingError');
      expect(error?.message).toMatch(/names no host and no binding names one/);
      expect(trap.connections()).toBe(0);
    });

    it("the rotated secret's host is not the bound host: MasterBindingError, the victim's role unchanged", async () => {
      // Prepare: the stage file binds the master to another host; the secret names the test server.
      const victim = await user('boundvictim', { masterarn: MASTER_ARN });
      const before = await db.snapshot(String(victim.username));
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: ['orders.db.internal'],
        port: db.server.port,
        tls: { mode: 'disable' },
      };
      const master = { username: db.master.username, password: db.master.password };
      // Act
      const error = await failure(createAndApply(victim, { master, binding }));
      // Assess
      expect(error?.name).toBe('MasterBindingError');
      expect(error?.message).toMatch(/is not an endpoint the stage file binds/);
      expect(await roleExists(cloneUsername(String(victim.username)))).toBe(false);
      await expectUntouched(victim, before);
    });

    it('a binding decides where the master logs in: a legitimate rotation through it works', async () => {
      // Prepare: the master secret has no host; the binding names the test server.
      const owner = await user('bound', { masterarn: MASTER_ARN });
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [db.server.host],
        port: db.server.port,
        tls: { mode: 'disable' },
      };
      const master = { username: db.master.username, password: db.master.password };
      // Act
      const pending = await rotate(owner, { master, binding });
      // Assess
      expect(await db.canLogin(pending.username, pending.password)).toBe(true);
      expect(await db.canLogin(owner.username, owner.password)).toBe(true);
    });

    it('ssl: false in the rotated secret does not downgrade the master: it asks the server for TLS, and sends nothing else', async () => {
      // Prepare: the master secret names the trap's endpoint but no TLS keys (verified TLS by
      // default); the secret says ssl: false and names a clone, so the master logs in first.
      const trap = await fake('password');
      const master = {
        username: db.master.username,
        password: db.master.password,
        host: trap.host,
        port: trap.port,
      };
      const writer = db.secret('app_clone', 'whatever-password', {
        host: trap.host,
        port: trap.port,
        ssl: false,
        masterarn: MASTER_ARN,
      });
      // Act
      const error = await failure(
        postgresRotator.createPending({
          ...request('createSecret', { master }),
          current: parse(writer),
          currentValue: writer,
          generatePassword: newPassword,
        }),
      );
      // Assess: TLS refused by the server, so the master never even sent its user name.
      expect(error).toMatchObject({ name: 'TargetUnreachableError', reason: 'tls' });
      expect(trap.sslRequested()).toBe(true);
      expect(trap.startupUsers()).toEqual([]);
      expect(trap.allBytes().includes(db.master.password)).toBe(false);
    });

    it("ssl: false in the rotated secret does not downgrade the master on a real server: the master's own secret decides", async () => {
      // Prepare: the master secret says nothing about TLS (so verified TLS); the server has none.
      const victim = await user('downgrade', { masterarn: MASTER_ARN });
      const before = await db.snapshot(String(victim.username));
      const { ssl: _plaintext, ...master } = db.masterValue();
      // Act
      const error = await failure(createAndApply(victim, { master }));
      // Assess
      expect(error).toMatchObject({ name: 'TargetUnreachableError', reason: 'tls' });
      expect(await roleExists(cloneUsername(String(victim.username)))).toBe(false);
      await expectUntouched(victim, before);
    });

    it('preflight reports an unbound master as a failed check with a fix, and connects nowhere with it', async () => {
      // Prepare
      const trap = await fake('password');
      const master = { username: db.master.username, password: db.master.password };
      const writer = db.secret('pre_writer', 'whatever-password', {
        host: trap.host,
        port: trap.port,
        masterarn: MASTER_ARN,
      });
      // Act
      const checks = await postgresRotator.preflight({
        ...request('setSecret', { master }),
        current: parse(writer),
      });
      // Assess
      const check = checks.find((c) => c.name === 'master secret');
      expect(check?.ok).toBe(false);
      expect(check?.fix).toMatch(/"host".*master secret.*"masters" entry/);
      expect(trap.startupUsers()).not.toContain(db.master.username);
    });
  });

  describe('no replayable credential without verified TLS', () => {
    /** Asserts the trap received no password message, and neither the password nor its MD5 answer. */
    function expectNothingSent(trap: FakePostgres, username: string, password: string): void {
      const bytes = trap.allBytes();
      expect(trap.passwordMessages()).toBe(0);
      expect(bytes.includes(password)).toBe(false);
      expect(bytes.includes(md5Answer(username, password))).toBe(false);
    }

    it('control: an unguarded node-postgres client sends the password to the same fake server', async () => {
      // Prepare
      const trap = await fake('password');
      const client = new pg.Client({
        host: trap.host,
        port: trap.port,
        user: 'control',
        password: 'control-password',
        database: 'postgres',
      });
      client.on('error', () => undefined);
      // Act
      await client.connect().catch(() => undefined);
      await client.end().catch(() => undefined);
      // Assess: the fake sees a password when one is sent, so the assertions below can fail.
      expect(trap.passwordMessages()).toBe(1);
      expect(trap.allBytes().includes('control-password')).toBe(true);
    });

    for (const method of ['password', 'md5'] as const) {
      it(`${method}: the rotated user's login is refused with InsecureAuthenticationError, nothing sent`, async () => {
        // Prepare: single-user; the secret's own host is the fake.
        const trap = await fake(method);
        const value = db.secret('app', 'user-password-1', { host: trap.host, port: trap.port });
        const current = parse(value);
        // Act
        const error = await failure(
          postgresRotator.apply({
            ...request('setSecret'),
            current,
            pending: parse({ ...value, password: 'user-password-2' }, 'AWSPENDING'),
            previous: async () => undefined,
          }),
        );
        // Assess
        expect(error?.name).toBe('InsecureAuthenticationError');
        expect(error?.message).not.toContain('user-password');
        expectNothingSent(trap, 'app', 'user-password-1');
        expectNothingSent(trap, 'app', 'user-password-2');
      });

      it(`${method}: the master's login is refused with InsecureAuthenticationError, nothing sent`, async () => {
        // Prepare: the master secret itself names the fake (a plaintext master the binding allows).
        const trap = await fake(method);
        const master = { ...db.masterValue(), host: trap.host, port: trap.port };
        const writer = db.secret('app_clone', 'user-password', {
          host: trap.host,
          port: trap.port,
          masterarn: MASTER_ARN,
        });
        // Act: a clone's name makes createPending ask the server (as the master) for its owner.
        const error = await failure(
          postgresRotator.createPending({
            ...request('createSecret', { master }),
            current: parse(writer),
            currentValue: writer,
            generatePassword: newPassword,
          }),
        );
        // Assess
        expect(error?.name).toBe('InsecureAuthenticationError');
        expect(trap.startupUsers()).toEqual([db.master.username]);
        expectNothingSent(trap, db.master.username, db.master.password);
      });

      it(`${method}: the clone's login is refused with InsecureAuthenticationError, nothing sent`, async () => {
        // Prepare: testSecret logs in as the pending clone.
        const trap = await fake(method);
        const owner = db.secret('app', 'owner-password', {
          host: trap.host,
          port: trap.port,
          masterarn: MASTER_ARN,
        });
        const clone = { ...owner, username: 'app_clone', password: 'clone-password' };
        // Act
        const error = await failure(
          postgresRotator.test({
            ...request('testSecret'),
            pending: parse(clone, 'AWSPENDING'),
            current: async () => parse(owner),
          }),
        );
        // Assess
        expect(error?.name).toBe('InsecureAuthenticationError');
        expect(trap.startupUsers()).toEqual(['app_clone']);
        expectNothingSent(trap, 'app_clone', 'clone-password');
      });

      it(`${method}: alternating users stop at the proof login, before the master logs in`, async () => {
        // Prepare
        const trap = await fake(method);
        const master = { ...db.masterValue(), host: trap.host, port: trap.port };
        const owner = db.secret('app', 'owner-password', {
          host: trap.host,
          port: trap.port,
          masterarn: MASTER_ARN,
        });
        // Act
        const error = await failure(
          postgresRotator.apply({
            ...request('setSecret', { master }),
            current: parse(owner),
            pending: parse({ ...owner, username: 'app_clone', password: 'clone-password' }, 'AWSPENDING'),
            previous: async () => undefined,
          }),
        );
        // Assess
        expect(error?.name).toBe('InsecureAuthenticationError');
        expect(trap.startupUsers()).toEqual(['app']);
        expectNothingSent(trap, 'app', 'owner-password');
        expectNothingSent(trap, db.master.username, db.master.password);
      });
    }

    describe('over TLS', () => {
      let certificates: Certificates;
      let tls: { cert: string; key: string };

      beforeAll(async () => {
        certificates = await makeCertificates();
        tls = {
          cert: await readFile(certificates.certFile, 'utf8'),
          key: await readFile(certificates.keyFile, 'utf8'),
        };
      });

      afterAll(async () => {
        if (certificates) await rm(certificates.dir, { recursive: true, force: true });
      });

      for (const [method, tlsMode] of [
        ['password', 'verify-full'],
        ['md5', 'verify-ca'],
      ] as const) {
        it(`${method} over verified TLS (${tlsMode}) is answered: the refusal is about the channel, not the method`, async () => {
          // Prepare: a fake server whose certificate the secret's CA verifies.
          const server = await fake(method, tls);
          const value = db.secret('app', 'tls-password', {
            host: 'localhost',
            port: server.port,
            ssl: undefined,
            tlsMode,
            tlsCa: certificates.caPem,
          });
          // Act
          const error = await failure(
            postgresRotator.test({
              ...request('testSecret'),
              pending: parse(value),
              current: async () => parse(value),
            }),
          );
          // Assess: the password (or its hash) went inside TLS; the fake then refused the login.
          expect(error?.name).toBe('AuthenticationFailedError');
          expect(server.passwordMessages()).toBe(1);
        });
      }

      it('password over TLS whose certificate is not verified: nothing sent (the handshake fails first)', async () => {
        // Prepare: the secret does not trust the fake's CA.
        const server = await fake('password', tls);
        const value = db.secret('app', 'tls-password', {
          host: 'localhost',
          port: server.port,
          ssl: undefined,
        });
        // Act
        const error = await failure(
          postgresRotator.test({
            ...request('testSecret'),
            pending: parse(value),
            current: async () => parse(value),
          }),
        );
        // Assess
        expect(error).toMatchObject({ name: 'TargetUnreachableError', reason: 'tls' });
        expect(server.passwordMessages()).toBe(0);
        expect(server.startupUsers()).toEqual([]);
      });
    });

    it('SCRAM is answered: its first message carries the user name and a nonce, never the password', async () => {
      // Prepare
      const trap = await fake('scram');
      const value = db.secret('app', 'scram-password', { host: trap.host, port: trap.port });
      // Act
      const error = await failure(
        postgresRotator.test({
          ...request('testSecret'),
          pending: parse(value),
          current: async () => parse(value),
        }),
      );
      // Assess: the exchange started (one SASL message), the fake could not finish it.
      expect(error).toBeDefined();
      expect(error?.name).not.toBe('InsecureAuthenticationError');
      expect(trap.passwordMessages()).toBe(1);
      expect(trap.allBytes().includes('scram-password')).toBe(false);
    });
  });

  describe('proof of possession and the manages allow-list', () => {
    it("privilege escalation via username=victim with any password: UnprovenUserError, no clone, the victim's role unchanged", async () => {
      // Prepare: the writer names another team's role in their own secret.
      const victim = await user('victim');
      const before = await db.snapshot(String(victim.username));
      const writer = { ...victim, password: 'any-password-the-writer-likes', masterarn: MASTER_ARN };
      // Act
      const error = await failure(createAndApply(writer));
      // Assess
      expect(error?.name).toBe('UnprovenUserError');
      expect(error?.message).toContain(String(victim.username));
      expect(await roleExists(cloneUsername(String(victim.username)))).toBe(false);
      await expectUntouched(victim, before);
    });

    it('username=the managing role itself with any password: UnprovenUserError, the master unchanged', async () => {
      // Prepare: the writer asks the master to make a clone of the master.
      const before = await db.snapshot(db.master.username);
      const writer = db.secret(db.master.username, 'any-password', { masterarn: MASTER_ARN });
      // Act
      const error = await failure(createAndApply(writer));
      // Assess
      expect(error?.name).toBe('UnprovenUserError');
      expect(await roleExists(cloneUsername(db.master.username))).toBe(false);
      await expectUntouched(db.masterValue(), before);
    });

    it("AWSPREVIOUS holding the writer's own working credential does not prove the victim: UnprovenUserError", async () => {
      // Prepare: the writer also controls AWSPREVIOUS, with a real login of their own.
      const victim = await user('victim_prev');
      const before = await db.snapshot(String(victim.username));
      const own = await user('writer_prev');
      const writer = { ...victim, password: 'any-password', masterarn: MASTER_ARN };
      // Act
      const error = await failure(createAndApply(writer, {}, { ...own, masterarn: MASTER_ARN }));
      // Assess
      expect(error?.name).toBe('UnprovenUserError');
      expect(await roleExists(cloneUsername(String(victim.username)))).toBe(false);
      await expectUntouched(victim, before);
    });

    it("AWSPREVIOUS naming the victim on a server of the writer's choosing proves nothing: UnprovenUserError, that server never dialled", async () => {
      // Prepare: the writer's AWSPREVIOUS names the victim on a server that lets anyone in.
      const trap = await fake('trust');
      const victim = await user('victim_elsewhere');
      const before = await db.snapshot(String(victim.username));
      const writer = { ...victim, password: 'any-password', masterarn: MASTER_ARN };
      const previous = { ...writer, host: trap.host, port: trap.port };
      // Act
      const error = await failure(createAndApply(writer, {}, previous));
      // Assess
      expect(error?.name).toBe('UnprovenUserError');
      expect(trap.connections()).toBe(0);
      expect(await roleExists(cloneUsername(String(victim.username)))).toBe(false);
      await expectUntouched(victim, before);
    });

    it("username=the victim's clone (rotor's, marked) with any password: UnprovenUserError, neither role changed", async () => {
      // Prepare: the victim rotates legitimately once, so its marked clone exists and is idle.
      const victim = await user('victim_pair', { masterarn: MASTER_ARN });
      const clone = await rotate(victim);
      const ownerBefore = await db.snapshot(String(victim.username));
      const cloneBefore = await db.snapshot(String(clone.username));
      const writer = { ...clone, password: 'any-password' };
      // Act: createPending finds the owner through rotor's marker; apply would set its password.
      const error = await failure(createAndApply(writer));
      // Assess
      expect(error?.name).toBe('UnprovenUserError');
      await expectUntouched(victim, ownerBefore);
      await expectUntouched(clone, cloneBefore);
    });

    it('a server that lets anyone in without a password proves nothing: UnprovenUserError, the master never logs in', async () => {
      // Prepare: the master is (mis)bound to a server that trusts every login.
      const trap = await fake('trust');
      const master = { ...db.masterValue(), host: trap.host, port: trap.port };
      const writer = db.secret('victim', 'any-password', {
        host: trap.host,
        port: trap.port,
        masterarn: MASTER_ARN,
      });
      // Act
      const error = await failure(
        postgresRotator.apply({
          ...request('setSecret', { master }),
          current: parse(writer),
          pending: parse({ ...writer, username: 'victim_clone', password: newPassword() }, 'AWSPENDING'),
          previous: async () => undefined,
        }),
      );
      // Assess
      expect(error?.name).toBe('UnprovenUserError');
      expect(trap.startupUsers()).not.toContain(db.master.username);
    });

    it("the binding's manages patterns refuse a user outside them: UnmanagedUserError, nothing created", async () => {
      // Prepare: the master manages team A's roles; the secret is team B's, with a working password.
      const other = await user('team_b');
      const before = await db.snapshot(String(other.username));
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [db.server.host],
        port: db.server.port,
        tls: { mode: 'disable' },
        manages: ['team_a_*'],
      };
      // Act
      const error = await failure(createAndApply({ ...other, masterarn: MASTER_ARN }, { binding }));
      // Assess
      expect(error?.name).toBe('UnmanagedUserError');
      expect(error?.message).toMatch(/manages patterns \(team_a_\*\)/);
      expect(await roleExists(cloneUsername(String(other.username)))).toBe(false);
      await expectUntouched(other, before);
    });

    it("the binding's manages patterns let a user inside them rotate", async () => {
      // Prepare
      const member = await user('team_a', { masterarn: MASTER_ARN });
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [db.server.host],
        port: db.server.port,
        tls: { mode: 'disable' },
        manages: ['team_a_*'],
      };
      // Act
      const pending = await rotate(member, { binding });
      // Assess
      expect(await db.canLogin(pending.username, pending.password)).toBe(true);
    });

    it('an adopted user is accepted without proof (its AWSCURRENT password was lost)', async () => {
      // Prepare: the operator adopted the user for this secret; the stored password is stale.
      const lost = await user('adopted');
      const value = { ...lost, password: 'stale-password', masterarn: MASTER_ARN };
      // Act
      const pending = await rotate(value, { adopted: [String(lost.username)] });
      // Assess
      expect(pending.username).toBe(cloneUsername(String(lost.username)));
      expect(await db.canLogin(pending.username, pending.password)).toBe(true);
    });

    describe('rds-master', () => {
      /** A ManagedDatabase stand-in that records every password it is asked to set. */
      function rds(masterUsername: string) {
        const set: string[] = [];
        const db: ManagedDatabase = {
          kind: 'instance',
          identifier: 'orders',
          engine: 'postgres',
          masterUsername,
          managesMasterPassword: false,
          boundToSecret: true,
          setMasterPassword: async (password) => {
            set.push(password);
          },
          masterPasswordChangePending: async () => false,
        };
        return { db, set };
      }

      async function applyRdsMaster(value: Value, port: ManagedDatabase, adopted: readonly string[] = []) {
        const currentValue = { ...value, strategy: 'rds-master', dbInstanceIdentifier: 'orders' };
        const current = parse(currentValue, 'AWSCURRENT', port);
        const pending = parse({ ...currentValue, password: newPassword() }, 'AWSPENDING', port);
        await postgresRotator.apply({
          ...request('setSecret', { managedDatabase: port, adopted }),
          current,
          pending,
          previous: async () => undefined,
        });
      }

      it('without proof: UnprovenUserError, RDS is never asked to reset the master password', async () => {
        // Prepare: the writer names the database's (public) master user with a password of theirs.
        const master = await user('rds_master');
        const { db: port, set } = rds(String(master.username));
        // Act
        const error = await failure(applyRdsMaster({ ...master, password: 'guessed-password' }, port));
        // Assess
        expect(error?.name).toBe('UnprovenUserError');
        expect(error?.message).toMatch(/the RDS API/);
        expect(set).toEqual([]);
        expect(await db.canLogin(master.username, master.password)).toBe(true);
      });

      it('with proof (AWSCURRENT logs in as the master): RDS is asked', async () => {
        // Prepare
        const master = await user('rds_proven');
        const { db: port, set } = rds(String(master.username));
        // Act
        await applyRdsMaster(master, port);
        // Assess
        expect(set).toHaveLength(1);
      });

      it("rollback with nothing of this rotation to undo does not set the writer's AWSCURRENT password: UnprovenUserError, RDS never asked", async () => {
        // Prepare: AWSCURRENT and AWSPENDING both hold passwords that do not log in; RDS has
        // nothing pending (the writer wants RDS to "restore" a password of their choosing).
        const master = await user('rds_rollback');
        const { db: port, set } = rds(String(master.username));
        const value = { ...master, strategy: 'rds-master', dbInstanceIdentifier: 'orders' };
        const current = parse({ ...value, password: 'writer-chosen-password' }, 'AWSCURRENT', port);
        const pending = parse({ ...value, password: newPassword() }, 'AWSPENDING', port);
        // Act
        const error = await failure(
          postgresRotator.rollback({ ...request('testSecret', { managedDatabase: port }), current, pending }),
        );
        // Assess
        expect(error?.name).toBe('UnprovenUserError');
        expect(set).toEqual([]);
        expect(await db.canLogin(master.username, master.password)).toBe(true);
      });

      it("rollback right after this rotation's change landed still restores AWSCURRENT", async () => {
        // Prepare: RDS applied the pending password (done here by hand on the stand-in server).
        const master = await user('rds_rollback_ok');
        const { db: port, set } = rds(String(master.username));
        const value = { ...master, strategy: 'rds-master', dbInstanceIdentifier: 'orders' };
        const current = parse(value, 'AWSCURRENT', port);
        const pending = parse({ ...value, password: newPassword() }, 'AWSPENDING', port);
        await db.sql(`ALTER ROLE "${master.username}" PASSWORD '${pending.password}'`);
        // Act
        await postgresRotator.rollback({
          ...request('testSecret', { managedDatabase: port }),
          current,
          pending,
        });
        // Assess
        expect(set).toEqual([master.password]);
      });

      it("testSecret logs in once when RDS has applied the change: the wait's login is the test's session", async () => {
        // Prepare: RDS applied the pending password (done here by hand on the stand-in server).
        const master = await user('rds_test_once');
        const { db: port } = rds(String(master.username));
        const value = { ...master, strategy: 'rds-master', dbInstanceIdentifier: 'orders' };
        const pending = parse({ ...value, password: newPassword() }, 'AWSPENDING', port);
        await db.sql(`ALTER ROLE "${master.username}" PASSWORD '${pending.password}'`);
        let logins = 0;
        const counting: ConnectPostgres = (login) => {
          logins++;
          return connectPostgres(login);
        };
        // Act
        await createPostgresRotator({ connect: counting }).test({
          ...request('testSecret', { managedDatabase: port }),
          pending: { ...pending, probeQuery: 'SELECT 1' },
          current: async () => parse(value, 'AWSCURRENT', port),
        });
        // Assess
        expect(logins).toBe(1);
      });

      it('an adopted master user without proof: RDS is asked', async () => {
        // Prepare
        const master = await user('rds_adopted');
        const { db: port, set } = rds(String(master.username));
        // Act
        await applyRdsMaster({ ...master, password: 'stale-password' }, port, [String(master.username)]);
        // Assess
        expect(set).toHaveLength(1);
      });
    });
  });

  describe("clones are rotor's and only rotor's", () => {
    /** Two owners whose 63-byte names share their first 57 bytes. */
    async function longOwners(): Promise<[Value, Value]> {
      const prefix = `${uniqueName('p').replace('_', '')}${'x'.repeat(47)}`.slice(0, 57);
      return [
        await user('', { masterarn: MASTER_ARN }, `${prefix}_a`),
        await user('', { masterarn: MASTER_ARN }, `${prefix}_b`),
      ];
    }

    it("two owners sharing a 57-byte prefix get different clones: rotating B leaves A's clone alone", async () => {
      // Prepare: A rotated once, its clone is its AWSCURRENT now.
      const [a, b] = await longOwners();
      const aClone = await rotate(a);
      const aCloneBefore = await db.snapshot(String(aClone.username));
      // Act
      const bClone = await rotate(b);
      // Assess
      expect(bClone.username).not.toBe(aClone.username);
      expect(Buffer.byteLength(String(bClone.username))).toBeLessThanOrEqual(63);
      await expectUntouched(aClone, aCloneBefore);
    });

    it("a pending value naming the old cut clone name (A's, shared with B): ForeignAccountError, A's clone unchanged", async () => {
      // Prepare: A's clone made under the old naming (cut, no hash), marked for A; the writer of B's
      // secret forges AWSPENDING with that name.
      const [a, b] = await longOwners();
      const legacy = legacyCloneUsername(String(a.username));
      expect(legacyCloneUsername(String(b.username))).toBe(legacy);
      const legacyPassword = newPassword();
      await db.createUser(legacy, legacyPassword);
      await db.sql(`COMMENT ON ROLE "${legacy}" IS 'rotor clone of ${a.username}'`);
      const legacyValue = db.secret(legacy, legacyPassword);
      const before = await db.snapshot(legacy);
      // Act
      const error = await failure(
        postgresRotator.apply({
          ...request('setSecret'),
          current: parse(b),
          pending: parse({ ...b, username: legacy, password: newPassword() }, 'AWSPENDING'),
          previous: async () => undefined,
        }),
      );
      // Assess
      expect(error?.name).toBe('ForeignAccountError');
      expect(error?.message).toContain(legacy);
      await expectUntouched(legacyValue, before);
    });

    it('a marked clone named by the old rule (cut, no hash) still rotates back to its owner; the owner then gets a hashed clone', async () => {
      // Prepare: a long owner whose clone was made under the old naming, marked, in AWSCURRENT.
      const [owner] = await longOwners();
      const legacy = legacyCloneUsername(String(owner.username));
      const legacyPassword = newPassword();
      await db.createUser(legacy, legacyPassword);
      await db.sql(`GRANT "${owner.username}" TO "${legacy}"`);
      await db.sql(`ALTER ROLE "${legacy}" SET role = "${owner.username}"`);
      await db.sql(`COMMENT ON ROLE "${legacy}" IS 'rotor clone of ${owner.username}'`);
      const onClone = db.secret(legacy, legacyPassword, { masterarn: MASTER_ARN });
      // Act
      const back = await rotate(onClone);
      const next = await rotate(back);
      // Assess
      expect(back.username).toBe(owner.username);
      expect(next.username).toBe(cloneUsername(String(owner.username)));
      expect(next.username).not.toBe(legacy);
      expect(await db.canLogin(next.username, next.password)).toBe(true);
    });

    it('an unrelated <user>_clone role: ForeignAccountError naming it, its password unchanged', async () => {
      // Prepare: somebody else's account happens to be called like the user's clone.
      const owner = await user('named', { masterarn: MASTER_ARN });
      const bystander = await user('', {}, `${owner.username}_clone`);
      const before = await db.snapshot(String(bystander.username));
      // Act
      const error = await failure(createAndApply(owner));
      // Assess
      expect(error?.name).toBe('ForeignAccountError');
      expect(error?.message).toContain(`role "${bystander.username}"`);
      await expectUntouched(bystander, before);
    });

    it("a writer holding an unrelated <victim>_clone that is a member of the victim cannot reach the victim's password", async () => {
      // Prepare: the writer's own role is named like the victim's clone and inherits the victim;
      // it even tries to mark itself as rotor's clone.
      const victim = await user('victim_member');
      const victimBefore = await db.snapshot(String(victim.username));
      const own = await user('', { masterarn: MASTER_ARN }, `${victim.username}_clone`);
      await db.sql(`GRANT "${victim.username}" TO "${own.username}"`);
      const session = await db.connectAs(String(own.username), String(own.password));
      const forged = await session
        .query(`COMMENT ON ROLE "${own.username}" IS 'rotor clone of ${victim.username}'`)
        .then(
          () => 'written',
          (error: { code?: string }) => error.code,
        );
      await session.end();
      // Act
      const error = await failure(createAndApply(own));
      // Assess
      expect(forged).toBe('42501');
      expect(error?.name).toBe('ForeignAccountError');
      await expectUntouched(victim, victimBefore);
    });

    it('preflight names an unmarked clone and a user outside manages as failed checks with fixes, changing nothing', async () => {
      // Prepare
      const owner = await user('prenamed', { masterarn: MASTER_ARN });
      const bystander = await user('', {}, `${owner.username}_clone`);
      const before = await db.snapshot(String(bystander.username));
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [db.server.host],
        port: db.server.port,
        tls: { mode: 'disable' },
        manages: ['nobody_*'],
      };
      // Act
      const checks = await postgresRotator.preflight({
        ...request('setSecret', { binding }),
        current: parse(owner),
      });
      // Assess
      const clone = checks.find((c) => c.name === 'clone role');
      const managed = checks.find((c) => c.name === 'managed users');
      expect(clone?.ok).toBe(false);
      expect(clone?.fix).toMatch(/--adopt .*COMMENT ON ROLE/);
      expect(managed?.ok).toBe(false);
      expect(managed?.fix).toMatch(/manages/);
      await expectUntouched(bystander, before);
    });

    it('a pair made before markers, on its clone: ForeignAccountError until the clone is adopted, then rotor marks it', async () => {
      // Prepare: an old rotor pair (membership and role setting, no marker), AWSCURRENT on the clone.
      const owner = await user('premarker');
      const clone = await user('', { masterarn: MASTER_ARN }, `${owner.username}_clone`);
      await db.sql(`GRANT "${owner.username}" TO "${clone.username}"`);
      await db.sql(`ALTER ROLE "${clone.username}" SET role = "${owner.username}"`);
      const ownerBefore = await db.snapshot(String(owner.username));
      const refused = await failure(createAndApply(clone));
      await expectUntouched(owner, ownerBefore);
      // Act
      const pending = await rotate(clone, { adopted: [String(clone.username)] });
      // Assess
      expect(refused?.name).toBe('ForeignAccountError');
      expect(pending.username).toBe(owner.username);
      expect(await db.canLogin(pending.username, pending.password)).toBe(true);
      const [marker] = await db.sql<{ d: string }>(
        "SELECT shobj_description(oid, 'pg_authid') AS d FROM pg_roles WHERE rolname = $1",
        [clone.username],
      );
      expect(marker?.d).toBe(`rotor clone of ${owner.username}`);
    });
  });
});
