/**
 * Red team: attacks on rotor's trust boundaries by someone who can write one rotated secret (any
 * staging label), or who is an ordinary database user, and wants more than that secret. Each test
 * asserts that the attack gets nothing: a typed error, nothing changed, the victim's AWSCURRENT
 * still logs in. A comment starting with `WAS A HOLE:` marks an attack that worked when this suite
 * was written; rotor was fixed and the test now proves the fix: master sessions pin their
 * search_path to `pg_catalog, pg_temp` with a startup option (rotators/postgres/client.ts
 * `catalogOnly`) and log in to the master's own database, never the rotated secret's.
 *
 * Real server: embedded PostgreSQL 17 with SCRAM (test/postgres/support.ts); a fake server on
 * loopback (test/support/fakePostgres.ts) records every byte a client sends. Pure functions of
 * rotators/trust.ts are attacked directly.
 */

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import type { Account } from '../../rotators/mysql/sql.js';
import { type PostgresSecret, postgresRotator } from '../../rotators/postgres/index.js';
import { cloneUsername } from '../../rotators/postgres/sql.js';
import { bindMasterEndpoint, cloneName, type MasterBinding, matchesPattern } from '../../rotators/trust.js';
import type { ManagedDatabase, RequestBase } from '../../rotators/types.js';
import { skipApiKey, startProviderFixture } from '../apikey/support.js';
import {
  loginAs,
  MariadbTestBed,
  MASTER_ARN as MYSQL_MASTER_ARN,
  rejection,
  skipMysql,
} from '../mysql/support.js';
import {
  MASTER_ARN,
  newPassword,
  rotatorRequest,
  skipPostgres,
  TestServer,
  uniqueName,
} from '../postgres/support.js';
import { type FakeAuthMethod, type FakePostgres, startFakePostgres } from '../support/fakePostgres.js';

type Value = Record<string, unknown>;

/** What an attempt threw (or `undefined`), for asserting its type and message. */
async function failure(work: Promise<unknown>): Promise<Error | undefined> {
  try {
    await work;
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

describe('trust.ts under attack (pure)', () => {
  const binding: MasterBinding = { source: 'stage file', hosts: ['db.example.com'], port: 5432 };
  const bind = (host: string, port = 5432) =>
    bindMasterEndpoint({
      masterSecretId: MASTER_ARN,
      master: {},
      binding,
      rotated: { host, port },
      defaultPort: 5432,
    });

  it.each([
    'db.example.com.',
    ' db.example.com',
    'db.example.com ',
    'db.example.com.evil.net',
    'evil.net#db.example.com',
    'user@db.example.com',
    'db.example.com:5432',
    'db.example.com\u0000.evil.net',
    'db.exampIe.com',
    'ｄｂ.example.com',
  ])('a rotated host %j that only looks like the bound host is refused (MasterBindingError)', (host) => {
    // Prepare: the binding names db.example.com; the writer crafts a look-alike.
    // Act
    let error: unknown;
    try {
      bind(host);
    } catch (caught) {
      error = caught;
    }
    // Assess
    expect((error as Error | undefined)?.name).toBe('MasterBindingError');
  });

  it('a bound host in other case is dialled as the same name, on the bound port only', () => {
    // Prepare / Act
    const endpoint = bind('DB.Example.COM');
    let error: unknown;
    try {
      bind('db.example.com', 5433);
    } catch (caught) {
      error = caught;
    }
    // Assess
    expect(endpoint.host.toLowerCase()).toBe('db.example.com');
    expect(endpoint.port).toBe(5432);
    expect((error as Error | undefined)?.name).toBe('MasterBindingError');
  });

  it('manages patterns are literal apart from * and ?: regex characters, case and prefixes give nothing', () => {
    // Prepare: patterns an operator wrote; names a writer would like to slip through.
    const cases: [string, string][] = [
      ['APP_x', 'app_*'],
      ['xapp_y', 'app_*'],
      ['app', 'app_*'],
      ['appXy', 'app.y'],
      ['app_x\nvictim', 'app_?'],
      ['a', 'a|victim'],
      ['victim', 'a|victim'],
      ['team_a', '(team_a)+b'],
    ];
    // Act
    const matched = cases.filter(([name, pattern]) => matchesPattern(name, pattern));
    // Assess
    expect(matched).toEqual([]);
  });

  it.each([
    [63, 'x'],
    [32, 'y'],
    [80, 'z'],
  ] as const)(
    'clone names within %i bytes stay unique for owners sharing a long prefix, multi-byte included',
    (max, letter) => {
      // Prepare: owners that differ only after the cut, some with multi-byte characters at the cut.
      const base = letter.repeat(max);
      const owners = [
        `${base}1`,
        `${base}2`,
        `${letter.repeat(max - 10)}éééééé1`,
        `${letter.repeat(max - 10)}éééééé2`,
        `${letter.repeat(max - 9)}😀😀😀1`,
        `${letter.repeat(max - 9)}😀😀😀2`,
      ];
      // Act
      const clones = owners.map((owner) => cloneName(owner, max));
      // Assess
      expect(new Set(clones).size).toBe(owners.length);
      for (const clone of clones) expect(Buffer.byteLength(clone, 'utf8')).toBeLessThanOrEqual(max);
      for (const clone of clones) expect(clone).not.toMatch(/\uFFFD/);
    },
  );
});

describe.skipIf(skipPostgres)('PostgreSQL red team (embedded PostgreSQL 17, SCRAM)', () => {
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

  async function fake(method: FakeAuthMethod): Promise<FakePostgres> {
    const server = await startFakePostgres(method, {});
    fakes.push(server);
    return server;
  }

  function request(step: RequestBase['step'], master: Value = db.masterValue()): RequestBase {
    const base = rotatorRequest(step, { [MASTER_ARN]: JSON.stringify(master) });
    return {
      ...base,
      fetchMaster: async (id) => ({ value: await base.fetchRelated(id) }),
      adopted: async () => [],
    };
  }

  function parse(value: Value, label = 'AWSCURRENT'): PostgresSecret {
    return postgresRotator.parse({ value, label });
  }

  async function user(prefix: string, extra: Value = {}, name = uniqueName(prefix)): Promise<Value> {
    const password = newPassword();
    await db.createUser(name, password);
    return db.secret(name, password, extra);
  }

  async function roleExists(name: string): Promise<boolean> {
    return (await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length > 0;
  }

  /** apply with a pending value the writer rewrote after createPending. */
  async function applyPending(currentValue: Value, pendingValue: Value, master?: Value): Promise<void> {
    await postgresRotator.apply({
      ...request('setSecret', master),
      current: parse(currentValue),
      pending: parse(pendingValue, 'AWSPENDING'),
      previous: async () => undefined,
    });
  }

  async function expectUntouched(victim: Value, before: string): Promise<void> {
    expect(await db.canLogin(victim.username, victim.password)).toBe(true);
    expect(await db.snapshot(String(victim.username))).toBe(before);
  }

  it("AWSPENDING rewritten after createPending to name the victim's clone: refused (InvalidSecretError), no clone made", async () => {
    // Prepare: the writer holds their own role; the pending value names the victim's clone.
    const victim = await user('rt_victim');
    const before = await db.snapshot(String(victim.username));
    const writer = await user('rt_writer', { masterarn: MASTER_ARN });
    const victimClone = cloneUsername(String(victim.username));
    // Act
    const error = await failure(
      applyPending(writer, { ...writer, username: victimClone, password: newPassword() }),
    );
    // Assess
    expect(error?.name).toBe('InvalidSecretError');
    expect(await roleExists(victimClone)).toBe(false);
    await expectUntouched(victim, before);
  });

  it('AWSPENDING rewritten to another host: refused before any connection, the fake server gets nothing', async () => {
    // Prepare
    const trap = await fake('password');
    const writer = await user('rt_host', { masterarn: MASTER_ARN });
    const pending = {
      ...writer,
      username: cloneUsername(String(writer.username)),
      password: newPassword(),
      host: trap.host,
      port: trap.port,
    };
    // Act
    const error = await failure(applyPending(writer, pending));
    // Assess
    expect(error?.name).toBe('InvalidSecretError');
    expect(error?.message).toMatch(/host|port/);
    expect(trap.connections()).toBe(0);
  });

  it("single-user with AWSPENDING naming the victim: refused (InvalidSecretError), the victim's password unchanged", async () => {
    // Prepare
    const victim = await user('rt_su_victim');
    const before = await db.snapshot(String(victim.username));
    const writer = await user('rt_su_writer');
    // Act
    const error = await failure(
      applyPending(writer, { ...writer, username: victim.username, password: newPassword() }),
    );
    // Assess
    expect(error?.name).toBe('InvalidSecretError');
    await expectUntouched(victim, before);
  });

  it("the writer's clone name truncated by the server (owner of 70 bytes) proves nothing and touches no one", async () => {
    // Prepare: the server cuts names to 63 bytes; the writer's secret names a 70-byte user whose
    // first 63 bytes are the victim's role.
    const victimName = `rt_cut_${'v'.repeat(56)}`.slice(0, 63);
    const victim = await user('', {}, victimName);
    const before = await db.snapshot(victimName);
    const writer = { ...victim, username: `${victimName}zzzzzzz`, password: 'any', masterarn: MASTER_ARN };
    // Act
    const error = await failure(
      applyPending(writer, {
        ...writer,
        username: cloneUsername(String(writer.username)),
        password: newPassword(),
      }),
    );
    // Assess: refused as a name the server would cut (or, at worst, as unproven).
    expect(['InvalidSecretError', 'UnprovenUserError']).toContain(error?.name);
    await expectUntouched(victim, before);
  });

  // WAS A HOLE: the master logs in to the database the ROTATED secret names (`dbname`) when its own
  // secret has none (RDS-managed master secrets never have one): rotators/postgres/engine.ts
  // masterLogin (then rotators/postgres/rotator.ts), `dbname: master.dbname ?? secret.dbname`. A database owner (an ordinary, very
  // common setup: the application's role owns its database) sets
  // `ALTER DATABASE <theirs> SET search_path = evil, pg_catalog`; the master's session then
  // resolves unqualified names of rotor's own SQL (current_setting in WHOAMI_SQL, pg_roles,
  // shobj_description, pg_has_role, count …) in the writer's schema first, and runs the writer's
  // function with the master's privileges: here it re-passwords another team's role (it could as
  // well grant itself any role the master administers, or forge the clone marker rotor reads).
  // rotators/postgres/client.ts connectPostgres never pins search_path. Fix: pin the master's (and
  // every) session with the startup option `options: '-c search_path=pg_catalog'` (a startup
  // option overrides ALTER DATABASE/ROLE settings), schema-qualify every catalog object in sql.ts
  // (pg_catalog.current_setting, pg_catalog.pg_roles, …), and connect the master to its own dbname
  // (or `postgres`), never to the rotated secret's.
  it("a database owner's search_path makes the master run the writer's function: the victim's password stays unchanged", async () => {
    // Prepare: the writer's role owns its database, puts a function named like one rotor calls in
    // a schema of its own, and puts that schema before pg_catalog in the database's search_path.
    const victim = await user('rt_sp_victim');
    const before = await db.snapshot(String(victim.username));
    const writer = await user('rt_sp_writer', { masterarn: MASTER_ARN });
    const database = uniqueName('rt_sp_db');
    await db.sql(
      `CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(String(writer.username))}`,
    );
    const own = new pg.Client({
      host: String(writer.host),
      port: Number(writer.port),
      user: String(writer.username),
      password: String(writer.password),
      database,
    });
    await own.connect();
    await own.query('CREATE SCHEMA evil');
    await own.query('GRANT USAGE ON SCHEMA evil TO PUBLIC');
    await own.query(`CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  BEGIN
    EXECUTE pg_catalog.format('ALTER ROLE %I PASSWORD %L', ${pg.escapeLiteral(String(victim.username))}, 'owned-by-the-writer');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN pg_catalog.current_setting($1);
END $fn$`);
    await own.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} SET search_path = evil, pg_catalog`);
    await own.end();
    const secret = { ...writer, dbname: database };
    // Act: an ordinary rotation of the writer's own secret (proof holds: it is their role).
    await failure(
      applyPending(secret, {
        ...secret,
        username: cloneUsername(String(writer.username)),
        password: newPassword(),
      }),
    );
    // Assess: the victim's password must be as it was.
    expect(await db.canLogin(victim.username, 'owned-by-the-writer')).toBe(false);
    await expectUntouched(victim, before);
  });

  // WAS A HOLE: the same without touching any setting (CVE-2018-1058 style). Since PostgreSQL 15 the
  // `public` schema belongs to the database's owner, and the default search_path
  // ("$user", public) still includes it after pg_catalog. For a call with an untyped literal
  // argument, PostgreSQL prefers a candidate taking `text` (the preferred string type) over
  // pg_catalog's taking `name`: `shobj_description(c.oid, 'pg_authid')` in pairStateSql and
  // CLONE_OWNER_SQL (rotators/postgres/sql.ts) resolves to the writer's
  // public.shobj_description(oid, text), run by the master with the master's privileges (it could
  // equally return a forged "rotor clone of …" marker). Fix as above: pin
  // search_path=pg_catalog in the startup options of every rotor session, qualify catalog names
  // and cast literals (`'pg_authid'::pg_catalog.name`), connect the master to its own database.
  it("a database owner's public.shobj_description(oid, text) is not run by the master: the victim's password stays unchanged", async () => {
    // Prepare: the writer owns its database (so its public schema) and defines an overload that
    // wins over pg_catalog's for rotor's call; no setting is changed.
    const victim = await user('rt_pub_victim');
    const before = await db.snapshot(String(victim.username));
    const writer = await user('rt_pub_writer', { masterarn: MASTER_ARN });
    const database = uniqueName('rt_pub_db');
    await db.sql(
      `CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(String(writer.username))}`,
    );
    const own = new pg.Client({
      host: String(writer.host),
      port: Number(writer.port),
      user: String(writer.username),
      password: String(writer.password),
      database,
    });
    await own.connect();
    await own.query(`CREATE FUNCTION public.shobj_description(oid, text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  BEGIN
    EXECUTE pg_catalog.format('ALTER ROLE %I PASSWORD %L', ${pg.escapeLiteral(String(victim.username))}, 'owned-by-the-writer');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN pg_catalog.shobj_description($1, $2::pg_catalog.name);
END $fn$`);
    await own.end();
    const secret = { ...writer, dbname: database };
    // Act: an ordinary rotation of the writer's own secret.
    await failure(
      applyPending(secret, {
        ...secret,
        username: cloneUsername(String(writer.username)),
        password: newPassword(),
      }),
    );
    // Assess
    expect(await db.canLogin(victim.username, 'owned-by-the-writer')).toBe(false);
    await expectUntouched(victim, before);
  });

  // WAS A HOLE: connecting the master to its own database is not enough. Here the master secret names
  // its own dbname (`postgres`), and the writer only has CREATE on that database's public schema
  // (the default for everyone before PostgreSQL 15, still common on RDS; granted here as the test
  // server grants it to its users). The overload in public is run by the master all the same.
  // The fix must pin search_path=pg_catalog (startup option) and qualify catalog names.
  it("an overload in the public schema of the master's own database is not run by the master: the victim's password stays unchanged", async () => {
    // Prepare
    const victim = await user('rt_own_victim');
    const before = await db.snapshot(String(victim.username));
    const writer = await user('rt_own_writer', { masterarn: MASTER_ARN });
    const own = await db.connectAs(String(writer.username), String(writer.password));
    await own.query(`CREATE FUNCTION public.shobj_description(oid, text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  IF pg_catalog.session_user() = 'rotor_master' THEN
    BEGIN
      EXECUTE pg_catalog.format('ALTER ROLE %I PASSWORD %L', ${pg.escapeLiteral(String(victim.username))}, 'owned-by-the-writer');
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
  END IF;
  RETURN pg_catalog.shobj_description($1, $2::pg_catalog.name);
END $fn$`);
    await own.end();
    const master = db.masterValue({ dbname: 'postgres' });
    // Act
    await failure(
      applyPending(
        writer,
        { ...writer, username: cloneUsername(String(writer.username)), password: newPassword() },
        master,
      ),
    );
    // Assess
    expect(await db.canLogin(victim.username, 'owned-by-the-writer')).toBe(false);
    await expectUntouched(victim, before);
  });

  // WAS A HOLE: the same search_path attack through preflight (`rotor preflight`, the CLI's checks before
  // attach), which an operator runs on the writer's secret: preflightAlternating logs the master in
  // to the rotated secret's dbname with no proof of anything (rotators/postgres/engine.ts
  // masterLogin, then MASTER_RIGHTS_SQL's unqualified current_setting / pg_has_role / pg_roles).
  // Fix as above.
  it("preflight (run by an operator) does not run the writer's function as the master: the victim's password stays unchanged", async () => {
    // Prepare
    const victim = await user('rt_pre_victim');
    const before = await db.snapshot(String(victim.username));
    const writer = await user('rt_pre_writer', { masterarn: MASTER_ARN });
    const database = uniqueName('rt_pre_db');
    await db.sql(
      `CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(String(writer.username))}`,
    );
    const own = new pg.Client({
      host: String(writer.host),
      port: Number(writer.port),
      user: String(writer.username),
      password: String(writer.password),
      database,
    });
    await own.connect();
    await own.query('CREATE SCHEMA evil');
    await own.query('GRANT USAGE ON SCHEMA evil TO PUBLIC');
    await own.query(`CREATE FUNCTION evil.current_setting(text) RETURNS text LANGUAGE plpgsql AS $fn$
BEGIN
  BEGIN
    EXECUTE pg_catalog.format('ALTER ROLE %I PASSWORD %L', ${pg.escapeLiteral(String(victim.username))}, 'owned-by-the-writer');
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN pg_catalog.current_setting($1);
END $fn$`);
    await own.query(`ALTER DATABASE ${pg.escapeIdentifier(database)} SET search_path = evil, pg_catalog`);
    await own.end();
    // Act: the operator's preflight of the writer's secret.
    await failure(
      postgresRotator.preflight({ ...request('setSecret'), current: parse({ ...writer, dbname: database }) }),
    );
    // Assess
    expect(await db.canLogin(victim.username, 'owned-by-the-writer')).toBe(false);
    await expectUntouched(victim, before);
  });

  /** A ManagedDatabase stand-in (bound by the stage file, for the worst case) recording every reset. */
  function rds(masterUsername: string, bound = true) {
    const set: string[] = [];
    const port: ManagedDatabase = {
      kind: 'instance',
      identifier: 'orders',
      engine: 'postgres',
      masterUsername,
      managesMasterPassword: false,
      boundToSecret: bound,
      setMasterPassword: async (password) => {
        set.push(password);
      },
      masterPasswordChangePending: async () => false,
    };
    return { port, set };
  }

  function rdsRequest(step: RequestBase['step'], port: ManagedDatabase): RequestBase {
    return { ...request(step), managedDatabase: port };
  }

  it("rds-master rollback with AWSCURRENT on a server that lets anyone in: RDS never sets the writer's password", async () => {
    // Prepare: the writer's AWSCURRENT names the master user, a password of their choosing, and a
    // server of theirs that accepts any login (so "AWSCURRENT logs in" holds there).
    const trap = await fake('trust');
    const master = await user('rt_rds_trust');
    const { port, set } = rds(String(master.username));
    const value = {
      ...master,
      strategy: 'rds-master',
      dbInstanceIdentifier: 'orders',
      host: trap.host,
      port: trap.port,
    };
    const current = postgresRotator.parse({
      value: { ...value, password: 'writer-chosen-password' },
      label: 'AWSCURRENT',
      managedDatabase: port,
    });
    const pending = postgresRotator.parse({
      value: { ...value, password: newPassword() },
      label: 'AWSPENDING',
      managedDatabase: port,
    });
    // Act
    await failure(postgresRotator.rollback({ ...rdsRequest('testSecret', port), current, pending }));
    // Assess
    expect(set).toEqual([]);
    expect(await db.canLogin(master.username, master.password)).toBe(true);
  });

  it('rds-master for a database the stage file does not bind, with a proven AWSCURRENT: UnboundDatabaseError, RDS never asked', async () => {
    // Prepare: the writer really holds this master (proof would pass), but the database the secret
    // names is not bound to it.
    const master = await user('rt_rds_unbound');
    const { port, set } = rds(String(master.username), false);
    const value = { ...master, strategy: 'rds-master', dbInstanceIdentifier: 'orders' };
    // Act
    const error = await failure(
      (async () => {
        const current = postgresRotator.parse({ value, label: 'AWSCURRENT', managedDatabase: port });
        const pending = postgresRotator.parse({
          value: { ...value, password: newPassword() },
          label: 'AWSPENDING',
          managedDatabase: port,
        });
        await postgresRotator.apply({
          ...rdsRequest('setSecret', port),
          current,
          pending,
          previous: async () => undefined,
        });
      })(),
    );
    // Assess
    expect(error?.name).toBe('UnboundDatabaseError');
    expect(set).toEqual([]);
  });
});

describe.skipIf(skipMysql)("MariaDB red team (the machine's MariaDB)", () => {
  let bed: MariadbTestBed;

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
  });

  afterAll(async () => {
    await bed?.cleanup();
  });

  function request(step: RequestBase['step']): RequestBase {
    return {
      ...rotatorRequest(step),
      fetchMaster: async (id) => {
        if (id !== MYSQL_MASTER_ARN) throw new Error(`unexpected master secret ${id}`);
        return { value: bed.masterSecret() };
      },
      adopted: async () => [],
    };
  }

  const state = async (account: Account) =>
    JSON.stringify({ priv: await bed.admin.globalPriv(account), grants: await bed.admin.grants(account) });

  it("a writer holding user@localhost claims user@'%' (another team's account of the same name) with accountHost: UnprovenUserError, no clone", async () => {
    // Prepare: the victim's account 'u'@'%' has write grants; the writer's own account has the
    // same user name on a more specific host (so its password logs in from here), SELECT only.
    const victim = await bed.secret(
      {},
      { grants: ['GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO {account}'] },
    );
    const user = String(victim.username);
    const before = await state({ user, host: '%' });
    const writerPassword = newPassword();
    for (const host of ['localhost', '127.0.0.1', '::1']) {
      bed.accounts.push({ user, host });
      await bed.admin.createAccount({ user, host }, writerPassword, [`GRANT USAGE ON *.* TO {account}`]);
    }
    const me = await loginAs({ username: user, password: writerPassword });
    const attack = { ...victim, password: writerPassword, masterarn: MYSQL_MASTER_ARN };
    const current = mysqlRotator.parse({ value: attack, label: 'AWSCURRENT' });
    // Act
    const error = await rejection(
      (async () => {
        const { pending } = await mysqlRotator.createPending({
          ...request('createSecret'),
          current,
          currentValue: attack,
          generatePassword: newPassword,
        });
        await mysqlRotator.apply({
          ...request('setSecret'),
          current,
          pending: mysqlRotator.parse({ value: pending, label: 'AWSPENDING' }),
          previous: async () => undefined,
        });
      })(),
    );
    // Assess: the writer's password logs in here, but as its own account, which proves nothing.
    expect(me).toMatch(new RegExp(`^${user}@(localhost|127\\.0\\.0\\.1|::1)$`));
    expect(error).toMatchObject({ name: 'UnprovenUserError' });
    expect(await bed.admin.globalPriv({ user: `${user}_clone`, host: '%' })).toBeUndefined();
    // Its authentication (password hash) and grants are as they were.
    expect(await state({ user, host: '%' })).toBe(before);
  });
});

describe.skipIf(skipApiKey)('API-key red team (the reference provider)', () => {
  const VICTIM = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team-b/payments-XyZ123';

  it("a provider-account user's key named for the victim's next rotation is revoked by setSecret, never handed to the victim", async () => {
    // Prepare: the victim's secret holds its adopted first key; an ordinary user of the shared
    // provider account (who knows the victim's ARN, so its tag, and has seen the rotation token)
    // makes a key under exactly the name rotor would mint, hoping rotor adopts it as the
    // victim's new key (whose value that user then knows).
    const f = await startProviderFixture({ provider: { maxLiveKeys: 20 } });
    try {
      const first = f.firstKey('team-b-app', VICTIM);
      const currentValue = f.secretFor(first);
      const token = randomUUID();
      const planted = f.provider.keys.mint(f.names(VICTIM).nameFor(token));
      // Act
      const { pending } = await f.rotator.createPending({
        ...f.request('createSecret', { token, secretArn: VICTIM }),
        current: f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
        currentValue,
        generatePassword: () => {
          throw new Error('an API-key rotation never asks for a password');
        },
      });
      // createSecret cannot tell a key named for the token from the stored pending value's (it
      // reads nothing first): setSecret, once the stored value is known, revokes the others.
      const current = f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
      await f.rotator.apply({
        ...f.request('setSecret', { token, secretArn: VICTIM }),
        current,
        pending: f.rotator.parse({ value: pending, label: 'AWSPENDING' }),
        previous: async () => undefined,
      });
      // Assess: the planted key is revoked and the victim's new key is another one.
      expect(pending.keyId).not.toBe(planted.id);
      expect(pending.apiKey).not.toBe(planted.value);
      expect(f.provider.keys.get(planted.id)?.revokedAt).toBeDefined();
      expect(await f.canLogin(planted.value)).toBe(false);
      expect(await f.canLogin(first.value)).toBe(true);
    } finally {
      await f.stop();
    }
  });

  it("heal's roll-forward of a hostile pending that names the victim's key id (with the writer's working key value): the victim's key stays live", async () => {
    // Prepare: the writer's secret A and the victim's B share a provider account. The writer puts
    // an AWSPENDING holding its own working key value but the victim's key id; heal's test (the
    // probe) passes with that value, so heal promotes it and runs finish with it as AWSCURRENT,
    // the writer's real key id as AWSPREVIOUS.
    const ATTACKER = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team-a/app-AbC123';
    const f = await startProviderFixture({ provider: { maxLiveKeys: 20 } });
    try {
      const victimKey = f.firstKey('team-b-app', VICTIM);
      const own = f.firstKey('team-a-app', ATTACKER);
      const previousValue = f.secretFor(own);
      const hostile = { ...previousValue, keyId: victimKey.id, previousKeyId: victimKey.id };
      // Act
      const error = await failure(
        f.rotator.finish({
          ...f.request('finishSecret', { secretArn: ATTACKER }),
          current: f.rotator.parse({ value: hostile, label: 'AWSCURRENT' }),
          previous: async () => f.rotator.parse({ value: previousValue, label: 'AWSPREVIOUS' }),
        }),
      );
      // Assess: refused loudly (ForeignKeyError), and nothing of the victim's revoked (its key is "current" to rotor,
      // which never revokes the current key); only keys of the writer's may be touched.
      expect(error?.name).toBe('ForeignKeyError');
      const revoked = f.provider.keys
        .all()
        .filter((key) => key.revokedAt !== undefined)
        .map((key) => key.id);
      expect(revoked.filter((id) => id !== own.id)).toEqual([]);
      expect(f.provider.keys.get(victimKey.id)?.revokedAt).toBeUndefined();
      expect(await f.canLogin(victimKey.value)).toBe(true);
    } finally {
      await f.stop();
    }
  });
});
