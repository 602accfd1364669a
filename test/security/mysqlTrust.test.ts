/**
 * Issue 14 on MySQL/MariaDB: whoever can write one rotated secret gains nothing beyond it. Each
 * test is an attack by a secret's writer against the machine's MariaDB 10.11 (and fake servers on
 * loopback where a hostile endpoint is the point), and asserts that the attack gets nothing, that
 * a typed error names the refusal, and that the victim's AWSCURRENT still logs in with nothing of it
 * changed (authentication, grants).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MACHINE_HOST, MACHINE_PORT, uniqueName } from '../../local/mysql.js';
import { TargetUnreachableError } from '../../rotators/errors.js';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import type { MysqlSecret } from '../../rotators/mysql/secret.js';
import type { Account } from '../../rotators/mysql/sql.js';
import type { MasterBinding } from '../../rotators/trust.js';
import type { ManagedDatabase, RequestBase } from '../../rotators/types.js';
import {
  loginAs,
  logsInAsAccount,
  MASTER_ARN,
  MariadbTestBed,
  newPassword,
  rejection,
  rotatorRequest,
  skipMysql,
} from '../mysql/support.js';
import { type FakeMysql, startFakeMysql } from '../support/fakeMysql.js';

type Value = Record<string, unknown>;

describe.skipIf(skipMysql)('MySQL/MariaDB trust boundaries (attacks by a secret writer)', () => {
  let bed: MariadbTestBed;
  const fakes: FakeMysql[] = [];

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
  });

  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });

  afterAll(async () => {
    await bed?.cleanup();
  });

  async function hostile(): Promise<FakeMysql> {
    const fake = await startFakeMysql('caching-sha2-rsa');
    fakes.push(fake);
    return fake;
  }

  interface Options {
    /** The master secret's value (default: the bed's, with its own host, port and TLS keys). */
    master?: string;
    binding?: MasterBinding;
    adopted?: readonly string[];
  }

  function request(step: RequestBase['step'], options: Options = {}): RequestBase {
    return {
      ...rotatorRequest(step),
      fetchMaster: async (id) => {
        if (id !== MASTER_ARN) throw new Error(`unexpected master secret ${id}`);
        return {
          value: options.master ?? bed.masterSecret(),
          ...(options.binding === undefined ? {} : { binding: options.binding }),
        };
      },
      adopted: async () => options.adopted ?? [],
    };
  }

  const parse = (value: Value, label = 'AWSCURRENT'): MysqlSecret => mysqlRotator.parse({ value, label });

  /** createSecret then setSecret, as the step machine runs them; returns the pending value. */
  async function createAndApply(currentValue: Value, options: Options = {}): Promise<Value> {
    const current = parse(currentValue);
    const { pending } = await mysqlRotator.createPending({
      ...request('createSecret', options),
      current,
      currentValue,
      generatePassword: newPassword,
    });
    await mysqlRotator.apply({
      ...request('setSecret', options),
      current,
      pending: parse(pending, 'AWSPENDING'),
      previous: async () => undefined,
    });
    return { ...pending };
  }

  /** setSecret alone, with a pending value the attacker chose. */
  function applyOnly(currentValue: Value, pendingValue: Value, options: Options = {}) {
    return mysqlRotator.apply({
      ...request('setSecret', options),
      current: parse(currentValue),
      pending: parse(pendingValue, 'AWSPENDING'),
      previous: async () => undefined,
    });
  }

  const accountOf = (value: Value): Account => ({
    user: String(value.username),
    host: String(value.accountHost ?? '%'),
  });

  /** Everything of an account an attack could change: authentication (password hashes) and grants. */
  async function state(account: Account): Promise<string> {
    return JSON.stringify({
      priv: await bed.admin.globalPriv(account),
      grants: await bed.admin.grants(account),
    });
  }

  /** A victim: another team's account with its own secret, and what it looks like now. */
  async function victim(extra: Value = {}) {
    const value = await bed.secret(extra, {
      grants: ['GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO {account}'],
    });
    const account = accountOf(value);
    const clone = { user: `${account.user}_clone`, host: account.host };
    return { value, account, clone, before: await state(account) };
  }

  async function expectVictimUntouched(v: Awaited<ReturnType<typeof victim>>): Promise<void> {
    expect(await state(v.account)).toBe(v.before);
    expect(await logsInAsAccount(v.value)).toBe(true);
  }

  describe('the master credential goes only where its own secret or its binding says', () => {
    it('a rotated secret pointing at the writer host gets no connection with the master credential (MasterBindingError)', async () => {
      // Prepare: the master secret names the real server; the writer points the secret at theirs.
      const fake = await hostile();
      const value = await bed.secret({ masterarn: MASTER_ARN, host: fake.host, port: fake.port });
      // Act
      const error = await rejection(createAndApply(value));
      // Assess
      expect(error).toMatchObject({ name: 'MasterBindingError', category: 'security' });
      expect(fake.received).toEqual([]);
      expect(String(error)).not.toContain(bed.master.password);
    });

    it('a master secret without host and without binding is used nowhere, not at the rotated secret host (MasterBindingError)', async () => {
      // Prepare: an RDS-managed master secret holds only a user name and password.
      const fake = await hostile();
      const master = JSON.stringify({ username: bed.master.username, password: bed.master.password });
      const value = await bed.secret({ masterarn: MASTER_ARN, host: fake.host, port: fake.port });
      // Act
      const error = await rejection(createAndApply(value, { master }));
      // Assess
      expect(error).toMatchObject({ name: 'MasterBindingError' });
      expect(String(error)).toContain('names no host');
      expect(fake.received).toEqual([]);
    });

    it('a rotated host that is not the bound host is refused before any connection (MasterBindingError), victim untouched', async () => {
      // Prepare: the stage file binds the master to another endpoint; the writer names this server.
      const v = await victim();
      const master = JSON.stringify({ username: bed.master.username, password: bed.master.password });
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: ['db.internal.example'],
        port: MACHINE_PORT,
      };
      const attack = { ...v.value, masterarn: MASTER_ARN, password: newPassword() };
      // Act
      const error = await rejection(createAndApply(attack, { master, binding }));
      // Assess
      expect(error).toMatchObject({ name: 'MasterBindingError' });
      expect(String(error)).toContain('db.internal.example');
      expect(await bed.admin.globalPriv(v.clone)).toBeUndefined();
      await expectVictimUntouched(v);
    });

    it('a master secret naming a host its binding does not list is refused (MasterBindingError)', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const master = bed.masterSecretAs(bed.master.username, bed.master.password, {
        host: 'elsewhere.example',
      });
      const binding: MasterBinding = { source: 'stage file', hosts: [MACHINE_HOST], port: MACHINE_PORT };
      // Act
      const error = await rejection(createAndApply(value, { master, binding }));
      // Assess
      expect(error).toMatchObject({ name: 'MasterBindingError' });
      expect(
        await bed.admin.globalPriv({ user: `${String(value.username)}_clone`, host: '%' }),
      ).toBeUndefined();
    });

    it('ssl false in the rotated secret does not downgrade the master: verified TLS is required, the plaintext server gets nothing', async () => {
      // Prepare: the master is bound to an endpoint (its own host, no TLS keys: verified TLS); the
      // writer sets ssl false and that endpoint speaks plaintext, asking for its RSA key.
      const fake = await hostile();
      const master = JSON.stringify({
        username: bed.master.username,
        password: bed.master.password,
        host: fake.host,
        port: fake.port,
      });
      const value = {
        engine: 'mariadb',
        host: fake.host,
        port: fake.port,
        username: uniqueName('rt_'),
        password: newPassword(),
        masterarn: MASTER_ARN,
        ssl: false,
      };
      // Act
      const error = await rejection(createAndApply(value, { master }));
      // Assess
      expect(error).toBeInstanceOf(TargetUnreachableError);
      expect((error as TargetUnreachableError).reason).toBe('tls');
      expect(fake.logins()).toBe(0);
      expect(fake.sawBytes(bed.master.password)).toBe(false);
      expect(fake.recovered).toEqual([]);
    });

    it('the same with a stage-file binding that names no TLS: verified TLS, never the rotated secret ssl false', async () => {
      // Prepare
      const fake = await hostile();
      const master = JSON.stringify({ username: bed.master.username, password: bed.master.password });
      const binding: MasterBinding = { source: 'stage file', hosts: [fake.host], port: fake.port };
      const value = {
        engine: 'mysql',
        host: fake.host,
        port: fake.port,
        username: uniqueName('rt_'),
        password: newPassword(),
        masterarn: MASTER_ARN,
        ssl: false,
      };
      // Act
      const error = await rejection(createAndApply(value, { master, binding }));
      // Assess
      expect(error).toBeInstanceOf(TargetUnreachableError);
      expect(fake.logins()).toBe(0);
      expect(fake.sawBytes(bed.master.password)).toBe(false);
    });

    it('preflight reports an unbound master on its own line with a fix, and never connects with it', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const master = JSON.stringify({ username: bed.master.username, password: bed.master.password });
      const { token: _t, step: _s, ...base } = request('createSecret', { master });
      // Act
      const checks = await mysqlRotator.preflight({ ...base, current: parse(value) });
      // Assess
      const line = checks.find((check) => check.name === 'master binding');
      expect(line).toMatchObject({ ok: false });
      expect(line?.fix).toContain('masters');
      expect(checks.map((check) => check.name)).not.toContain('managing user login');
      expect(JSON.stringify(checks)).not.toContain(bed.master.password);
    });
  });

  describe('the master acts only for users the rotation proved it holds (or an operator adopted) and the binding manages', () => {
    it("username = another team's account: UnprovenUserError, no clone created, the victim unchanged", async () => {
      // Prepare: the writer names the victim's account with a password of their own.
      const v = await victim();
      const attack = { ...v.value, masterarn: MASTER_ARN, password: newPassword() };
      // Act
      const error = await rejection(createAndApply(attack));
      // Assess
      expect(error).toMatchObject({ name: 'UnprovenUserError', category: 'security' });
      expect(String(error)).toContain(v.account.user);
      expect(await bed.admin.globalPriv(v.clone)).toBeUndefined();
      expect(await bed.catalogued(v.clone)).toBeUndefined();
      await expectVictimUntouched(v);
    });

    it('an AWSPREVIOUS naming the victim proves nothing either (UnprovenUserError)', async () => {
      // Prepare
      const v = await victim();
      const attack = { ...v.value, masterarn: MASTER_ARN, password: newPassword() };
      const previous = { ...v.value, username: v.clone.user, password: newPassword(), masterarn: MASTER_ARN };
      const current = parse(attack);
      const { pending } = await mysqlRotator.createPending({
        ...request('createSecret'),
        current,
        currentValue: attack,
        generatePassword: newPassword,
      });
      // Act
      const error = await rejection(
        mysqlRotator.apply({
          ...request('setSecret'),
          current,
          pending: parse(pending, 'AWSPENDING'),
          previous: async () => parse(previous, 'AWSPREVIOUS'),
        }),
      );
      // Assess
      expect(error).toMatchObject({ name: 'UnprovenUserError' });
      expect(await bed.admin.globalPriv(v.clone)).toBeUndefined();
      await expectVictimUntouched(v);
    });

    it('dual-password run by the master for the victim: UnprovenUserError, the victim passwords unchanged', async () => {
      // Prepare
      const v = await victim();
      const attack = {
        ...v.value,
        strategy: 'dual-password',
        masterarn: MASTER_ARN,
        password: newPassword(),
      };
      // Act
      const error = await rejection(applyOnly(attack, { ...attack, password: newPassword() }));
      // Assess
      expect(error).toMatchObject({ name: 'UnprovenUserError' });
      await expectVictimUntouched(v);
    });

    it('holding an account named <victim>_clone does not let the master re-password the victim (ForeignAccountError)', async () => {
      // Prepare: an unrelated account happens to be called <victim>_clone, and the writer holds it.
      const v = await victim();
      const decoy = await bed.account({
        user: v.clone.user,
        grants: ['GRANT SELECT ON `{db}`.* TO {account}'],
      });
      const decoyBefore = await state(decoy.account);
      const attack = { ...v.value, username: v.clone.user, password: decoy.password, masterarn: MASTER_ARN };
      // Act
      const error = await rejection(createAndApply(attack));
      // Assess
      expect(error).toMatchObject({ name: 'ForeignAccountError', category: 'security' });
      expect(String(error)).toContain(v.clone.user);
      expect(await state(decoy.account)).toBe(decoyBefore);
      await expectVictimUntouched(v);
    });

    it('a primaryUsername naming the victim is refused (InvalidSecretError), the victim unchanged', async () => {
      // Prepare: the writer holds their own account and names the victim as its "primary".
      const v = await victim();
      const own = await bed.secret({ masterarn: MASTER_ARN, primaryUsername: v.account.user });
      // Act
      const error = await rejection(createAndApply(own));
      // Assess
      expect(error).toMatchObject({ name: 'InvalidSecretError', field: 'primaryUsername' });
      await expectVictimUntouched(v);
    });

    it('a user outside the binding manages patterns is refused (UnmanagedUserError), no clone created', async () => {
      // Prepare: the writer holds the account, but the master may only manage app_* users.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const account = accountOf(value);
      const before = await state(account);
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [MACHINE_HOST],
        port: MACHINE_PORT,
        tls: { mode: 'disable' },
        manages: ['app_*'],
      };
      // Act
      const error = await rejection(createAndApply(value, { binding }));
      // Assess
      expect(error).toMatchObject({ name: 'UnmanagedUserError', category: 'security' });
      expect(String(error)).toContain('app_*');
      expect(await bed.admin.globalPriv({ user: `${account.user}_clone`, host: '%' })).toBeUndefined();
      expect(await state(account)).toBe(before);
      expect(await logsInAsAccount(value)).toBe(true);
    });

    it('a user the binding manages and the rotation proved rotates as before', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const binding: MasterBinding = {
        source: 'stage file',
        hosts: [MACHINE_HOST],
        port: MACHINE_PORT,
        tls: { mode: 'disable' },
        manages: ['rt_*'],
      };
      // Act
      const pending = await createAndApply(value, { binding });
      // Assess
      expect(await logsInAsAccount(pending)).toBe(true);
      expect(await logsInAsAccount(value)).toBe(true);
      expect(await bed.catalogued(accountOf(pending))).toBe(`${String(value.username)}@%`);
    });

    it('an adopted user is accepted without proof: the clone is made for it', async () => {
      // Prepare: AWSCURRENT does not log in (say, it was never set), but an operator adopted the user.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const unproven = { ...value, password: newPassword() };
      // Act
      const pending = await createAndApply(unproven, { adopted: [String(value.username)] });
      // Assess
      expect(await logsInAsAccount(pending)).toBe(true);
      expect(await logsInAsAccount(value)).toBe(true);
    });

    it('rds-master for a master user whose password the writer does not hold: UnprovenUserError, RDS never asked', async () => {
      // Prepare: a stand-in for the RDS port, bound to the secret, recording what it is asked.
      const v = await victim();
      const asked: string[] = [];
      const db: ManagedDatabase = {
        kind: 'instance',
        identifier: 'orders',
        engine: 'mariadb',
        masterUsername: v.account.user,
        boundToSecret: true,
        managesMasterPassword: false,
        setMasterPassword: async () => {
          asked.push('setMasterPassword');
        },
        masterPasswordChangePending: async () => false,
      };
      const attack = {
        ...v.value,
        strategy: 'rds-master',
        dbInstanceIdentifier: 'orders',
        password: newPassword(),
      };
      const current = mysqlRotator.parse({ value: attack, label: 'AWSCURRENT', managedDatabase: db });
      const pending = mysqlRotator.parse({
        value: { ...attack, password: newPassword() },
        label: 'AWSPENDING',
        managedDatabase: db,
      });
      // Act
      const error = await rejection(
        mysqlRotator.apply({
          ...request('setSecret'),
          managedDatabase: db,
          current,
          pending,
          previous: async () => undefined,
        }),
      );
      // Assess
      expect(error).toMatchObject({ name: 'UnprovenUserError' });
      expect(asked).toEqual([]);
      await expectVictimUntouched(v);
    });
  });

  describe('clones are rotor’s only', () => {
    it('an unrelated <user>_clone account is not altered: ForeignAccountError naming it, its password and grants intact', async () => {
      // Prepare: the secret's user is held and proven; an unrelated account has the clone's name.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const other = await bed.account({
        user: `${String(value.username)}_clone`,
        grants: ['GRANT INSERT ON `{db}`.* TO {account}'],
      });
      const otherBefore = await state(other.account);
      // Act
      const error = await rejection(createAndApply(value));
      // Assess
      expect(error).toMatchObject({ name: 'ForeignAccountError', category: 'security' });
      expect(String(error)).toContain(other.account.user);
      expect(await state(other.account)).toBe(otherBefore);
      expect(await loginAs({ username: other.account.user, password: other.password })).toBe(
        `${other.account.user}@%`,
      );
      expect(await logsInAsAccount(value)).toBe(true);
    });

    it('a clone the catalogue records for another owner is not altered (ForeignAccountError)', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const other = await bed.account({ user: `${String(value.username)}_clone` });
      await bed.recordClone(other.account, { user: 'someone_else', host: '%' });
      const otherBefore = await state(other.account);
      // Act
      const error = await rejection(createAndApply(value));
      // Assess
      expect(error).toMatchObject({ name: 'ForeignAccountError' });
      expect(String(error)).toContain('someone_else');
      expect(await state(other.account)).toBe(otherBefore);
    });

    it('an adopted clone from before the catalogue is recorded and rotated', async () => {
      // Prepare: the clone exists (made by an older rotor, no catalogue row); the operator adopted it.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const clone = await bed.account({ user: `${String(value.username)}_clone` });
      // Act
      const pending = await createAndApply(value, { adopted: [clone.account.user] });
      // Assess
      expect(await logsInAsAccount(pending)).toBe(true);
      expect(await bed.catalogued(clone.account)).toBe(`${String(value.username)}@%`);
    });

    it('the rotated user cannot write the catalogue (only the master can)', async () => {
      // Prepare: a rotation made the catalogue and a row.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const pending = await createAndApply(value);
      const { createConnection } = await import('mysql2/promise');
      const connection = await createConnection({
        host: MACHINE_HOST,
        port: MACHINE_PORT,
        user: String(pending.username),
        password: String(pending.password),
      });
      // Act
      const forged = await rejection(
        connection.query(
          "INSERT INTO rotor.accounts (user, host, owner_user, owner_host) VALUES ('victim_clone', '%', 'mallory', '%')",
        ),
      );
      await connection.end();
      // Assess
      expect((forged as { errno?: number }).errno).toBe(1142);
      expect(await bed.catalogued({ user: 'victim_clone', host: '%' })).toBeUndefined();
    });

    it('preflight names an existing clone rotor did not make, and a master that cannot keep the catalogue, each with a fix', async () => {
      // Prepare: an unrelated <user>_clone, and a managing user without privileges on rotor.*.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      await bed.account({ user: `${String(value.username)}_clone` });
      const weak = await bed.account({
        grants: ['GRANT CREATE USER ON *.* TO {account}', 'GRANT SELECT ON mysql.* TO {account}'],
      });
      const {
        token: _t,
        step: _s,
        ...base
      } = request('createSecret', {
        master: bed.masterSecretAs(weak.account.user, weak.password),
      });
      // Act
      const checks = await mysqlRotator.preflight({ ...base, current: parse(value) });
      // Assess
      const byName = Object.fromEntries(checks.map((check) => [check.name, check]));
      expect(byName["clone is rotor's"]).toMatchObject({ ok: false });
      expect(byName["clone is rotor's"]?.fix).toContain('--adopt');
      expect(byName['clone catalogue']).toMatchObject({ ok: false });
      expect(byName['clone catalogue']?.fix).toContain('ON `rotor`.*');
      expect(JSON.stringify(checks)).not.toContain(weak.password);
    });

    it('a master that cannot record the clone in the catalogue creates no clone (PermissionDeniedError)', async () => {
      // Prepare: CREATE USER and SELECT on mysql.*, but no privilege on rotor.*.
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const weak = await bed.account({
        grants: [
          'GRANT CREATE USER ON *.* TO {account}',
          'GRANT SELECT ON mysql.* TO {account}',
          'GRANT SELECT ON `{db}`.* TO {account} WITH GRANT OPTION',
        ],
      });
      // Act
      const error = await rejection(
        createAndApply(value, { master: bed.masterSecretAs(weak.account.user, weak.password) }),
      );
      // Assess
      expect(error).toMatchObject({ name: 'PermissionDeniedError' });
      expect(
        await bed.admin.globalPriv({ user: `${String(value.username)}_clone`, host: '%' }),
      ).toBeUndefined();
      expect(await logsInAsAccount(value)).toBe(true);
    });

    it('a clone rotor made keeps rotating back and forth (the catalogue names its owner)', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const there = await createAndApply(value);
      // Act
      const back = await createAndApply(there);
      const again = await createAndApply(back);
      // Assess
      expect(back.username).toBe(value.username);
      expect(again.username).toBe(there.username);
      expect(await logsInAsAccount(again)).toBe(true);
      expect(await logsInAsAccount(back)).toBe(true);
    });
  });
});
