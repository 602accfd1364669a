/**
 * The MySQL rotator against the machine's MariaDB 10.11, driven directly (the step machine's
 * protocol is covered by rotation.test.ts): account names that need quoting, identity checks,
 * what alternating-users copies, dual-password's overlap, replays after a crash, the managing
 * user's failures, read-only probes, TLS refusal, NO_BACKSLASH_ESCAPES, and preflight.
 */
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../local/mysql.js';
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  PermissionDeniedError,
  TargetUnreachableError,
  VerificationFailedError,
} from '../../rotators/errors.js';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import type { MysqlSecret } from '../../rotators/mysql/secret.js';
import type { RequestBase } from '../../rotators/types.js';
import {
  loginAs,
  logsInAsAccount,
  MASTER_ARN,
  MariadbTestBed,
  newPassword,
  rejection,
  rotatorRequest,
  skipMysql,
} from './support.js';

type Value = Record<string, unknown>;

describe.skipIf(skipMysql)('mysql rotator on MariaDB', () => {
  let bed: MariadbTestBed;

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
  });

  afterAll(async () => {
    await bed?.cleanup();
  });

  const parse = (value: Value, label = 'AWSCURRENT'): MysqlSecret => mysqlRotator.parse({ value, label });
  const request = (step: RequestBase['step'], related = bed.related()) => rotatorRequest(step, related);

  /** createSecret, setSecret and testSecret as the step machine runs them; returns the pending value. */
  async function rotate(currentValue: Value, options: { previous?: Value } = {}): Promise<Value> {
    const current = parse(currentValue);
    const { pending } = await mysqlRotator.createPending({
      ...request('createSecret'),
      current,
      currentValue,
      generatePassword: newPassword,
    });
    const pendingValue = { ...pending };
    const parsedPending = parse(pendingValue, 'AWSPENDING');
    await mysqlRotator.apply({
      ...request('setSecret'),
      current,
      pending: parsedPending,
      previous: async () =>
        options.previous === undefined ? undefined : parse(options.previous, 'AWSPREVIOUS'),
    });
    await mysqlRotator.test({
      ...request('testSecret'),
      pending: parsedPending,
      current: async () => current,
    });
    return pendingValue;
  }

  function applyOnly(currentValue: Value, pendingValue: Value, related = bed.related()) {
    return mysqlRotator.apply({
      ...request('setSecret', related),
      current: parse(currentValue),
      pending: parse(pendingValue, 'AWSPENDING'),
      previous: async () => undefined,
    });
  }

  describe('account names', () => {
    it.each([
      ['a dot', { user: uniqueName('app.user.') }],
      ['a quote', { user: uniqueName("o'brien_") }],
      ['a backslash and a backtick', { user: uniqueName('back\\sl`ash_') }],
      ['unicode', { user: uniqueName('josé_ユーザー_') }],
      ['an @ and a %', { user: uniqueName('a@b%c_') }],
      ['host part 127.0.0.1', { user: uniqueName('rt_local_'), host: '127.0.0.1' }],
    ])('an account with %s rotates with every strategy', async (_, spec) => {
      // Prepare
      const single = await bed.secret({}, spec);
      // Act
      const afterSingle = await rotate(single);
      const afterDual = await rotate({ ...afterSingle, strategy: 'dual-password', masterarn: MASTER_ARN });
      const afterAlternating = await rotate({ ...afterDual, strategy: 'alternating-users' });
      const back = await rotate(afterAlternating, { previous: afterDual });
      // Assess
      expect(afterAlternating.username).toBe(`${spec.user}_clone`);
      expect(back.username).toBe(spec.user);
      expect(await logsInAsAccount(back)).toBe(true);
      expect(await logsInAsAccount(afterAlternating)).toBe(true);
      expect(await logsInAsAccount(single)).toBe(false);
    });
  });

  describe('identity', () => {
    it('refuses to test or change an account shadowed by a more specific host', async () => {
      // Prepare: 'x'@'127.0.0.1' matches TCP logins from here before 'x'@'%'.
      const value = await bed.secret();
      const user = String(value.username);
      await bed.admin.createAccount({ user, host: '127.0.0.1' }, String(value.password));
      bed.accounts.push({ user, host: '127.0.0.1' });
      const before = await bed.admin.globalPriv({ user, host: '%' });
      // Act
      const tested = await rejection(
        mysqlRotator.test({
          ...request('testSecret'),
          pending: parse(value),
          current: async () => parse(value),
        }),
      );
      const applied = await rejection(applyOnly(value, { ...value, password: newPassword() }));
      // Assess
      expect(tested).toBeInstanceOf(VerificationFailedError);
      expect(applied).toBeInstanceOf(VerificationFailedError);
      expect(await bed.admin.globalPriv({ user, host: '%' })).toEqual(before);
    });

    it('refuses a pending value that changes the account in single-user', async () => {
      // Prepare
      const value = await bed.secret();
      // Act
      const applied = applyOnly(value, { ...value, accountHost: '10.0.0.%', password: newPassword() });
      // Assess
      await expect(applied).rejects.toMatchObject({ name: 'InvalidSecretError', field: 'accountHost' });
      expect(await logsInAsAccount(value)).toBe(true);
    });
  });

  describe('alternating-users copies access exactly', () => {
    it('needs no global GRANT OPTION: a managing user with exactly the documented privileges will do', async () => {
      // Prepare: CREATE USER, SELECT on mysql.*, and the application's privileges WITH GRANT OPTION.
      const minimal = { user: uniqueName('rt_min_'), host: '%' };
      const minimalPassword = newPassword();
      bed.accounts.push(minimal);
      await bed.admin.createAccount(minimal, minimalPassword, [
        'GRANT CREATE USER ON *.* TO {account}',
        'GRANT SELECT ON mysql.* TO {account}',
        `GRANT SELECT ON \`${bed.database}\`.* TO {account} WITH GRANT OPTION`,
        'GRANT CREATE, SELECT, INSERT, UPDATE ON `rotor`.* TO {account}',
      ]);
      const related = { [MASTER_ARN]: bed.masterSecretAs(minimal.user, minimalPassword) };
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const clone = { user: `${String(value.username)}_clone`, host: '%' };

      // Act
      await applyOnly(value, { ...value, username: clone.user, password: newPassword() }, related);

      // Assess
      const rename = (lines: string[]) =>
        lines.map((line) => line.replaceAll(`\`${clone.user}\``, `\`${value.username}\``));
      expect(rename(await bed.admin.grants(clone))).toEqual(
        await bed.admin.grants({ user: String(value.username), host: '%' }),
      );
    });

    it('keeps WITH GRANT OPTION, REQUIRE SSL and every resource limit', async () => {
      // Prepare
      const value = await bed.secret(
        { masterarn: MASTER_ARN },
        {
          grants: [
            'GRANT SELECT, INSERT ON `{db}`.* TO {account} WITH GRANT OPTION',
            'GRANT RELOAD ON *.* TO {account} WITH GRANT OPTION',
            'GRANT UPDATE ON `{db}`.* TO {account}',
            'ALTER USER {account} REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 7 MAX_UPDATES_PER_HOUR 5 MAX_CONNECTIONS_PER_HOUR 4 MAX_USER_CONNECTIONS 3 MAX_STATEMENT_TIME 1.5',
          ],
        },
      );
      const user = String(value.username);
      const primary = { user, host: '%' };
      const clone = { user: `${user}_clone`, host: '%' };
      // Act: the account's own logins need TLS (REQUIRE SSL), which the machine's server does not
      // offer: nothing can prove possession, so an operator adopted it; only setSecret runs here.
      await mysqlRotator.apply({
        ...request('setSecret'),
        adopted: async () => [user],
        current: parse(value),
        pending: parse({ ...value, username: clone.user, password: newPassword() }, 'AWSPENDING'),
        previous: async () => undefined,
      });
      // Assess
      const rename = (lines: string[]) =>
        lines.map((line) => line.replaceAll(`\`${clone.user}\``, `\`${user}\``));
      expect(rename(await bed.admin.grants(clone))).toEqual(await bed.admin.grants(primary));
      const options = async (account: { user: string; host: string }) => {
        const {
          access,
          ssl_type,
          max_questions,
          max_updates,
          max_connections,
          max_user_connections,
          max_statement_time,
        } = (await bed.admin.globalPriv(account)) ?? {};
        return {
          access,
          ssl_type,
          max_questions,
          max_updates,
          max_connections,
          max_user_connections,
          max_statement_time,
        };
      };
      expect(await options(clone)).toEqual(await options(primary));
      expect((await options(clone)).ssl_type).toBe(1);
    });

    it('shares roles with their ADMIN OPTION and sets the same default role', async () => {
      // Prepare
      const role = await bed.role(['GRANT SELECT ON `{db}`.* TO {role}']);
      await bed.admin.query(`GRANT \`${role}\` TO \`${bed.master.username}\`@\`%\` WITH ADMIN OPTION`);
      const value = await bed.secret(
        { masterarn: MASTER_ARN },
        {
          grants: [
            `GRANT \`${role}\` TO {account} WITH ADMIN OPTION`,
            `SET DEFAULT ROLE \`${role}\` FOR {account}`,
          ],
        },
      );
      const user = String(value.username);
      // Act
      const pending = await rotate(value);
      // Assess
      const grants = await bed.admin.grants({ user: String(pending.username), host: '%' });
      expect(grants).toContain(`GRANT \`${role}\` TO \`${user}_clone\`@\`%\` WITH ADMIN OPTION`);
      expect(grants).toContain(`SET DEFAULT ROLE \`${role}\` FOR \`${user}_clone\`@\`%\``);
    });

    it('brings a clone whose grants drifted back to the primary grants', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const pending = await rotate(value);
      const clone = { user: String(pending.username), host: '%' };
      await bed.admin.query(`GRANT DELETE ON \`${bed.database}\`.* TO \`${clone.user}\`@\`%\``);
      const back = await rotate(pending);
      // Act
      await rotate(back, { previous: pending });
      // Assess
      const rename = (lines: string[]) =>
        lines.map((line) => line.replaceAll(`\`${clone.user}\``, `\`${value.username}\``));
      expect(rename(await bed.admin.grants(clone))).toEqual(
        await bed.admin.grants({ user: String(value.username), host: '%' }),
      );
    });

    it('finishes a setSecret that died between creating the clone and copying its grants', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const clone = { user: `${value.username}_clone`, host: '%' };
      const password = newPassword();
      // The earlier attempt recorded the clone in rotor's catalogue, then created it.
      await bed.recordClone(clone, { user: String(value.username), host: '%' });
      await bed.admin.createAccount(clone, 'an-earlier-attempt-pw');
      // Act
      await applyOnly(value, { ...value, username: clone.user, password });
      // Assess
      expect(await logsInAsAccount({ ...value, username: clone.user, password })).toBe(true);
      expect(await bed.admin.grants(clone)).toContain(
        `GRANT SELECT ON \`${bed.database}\`.* TO \`${clone.user}\`@\`%\``,
      );
    });

    it('refuses, changing nothing, when the managing credentials are wrong', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const wrong = {
        [MASTER_ARN]: bed.masterSecretAs(bed.master.username, 'not-the-password'),
      };
      // Act
      const created = await rejection(
        mysqlRotator.createPending({
          ...request('createSecret', wrong),
          current: parse(value),
          currentValue: value,
          generatePassword: newPassword,
        }),
      );
      const applied = await rejection(
        applyOnly(value, { ...value, username: `${value.username}_clone`, password: newPassword() }, wrong),
      );
      // Assess
      expect(created).toBeInstanceOf(AuthenticationFailedError);
      expect(applied).toBeInstanceOf(AuthenticationFailedError);
      expect(JSON.stringify([String(applied), applied])).not.toContain('not-the-password');
      expect(await bed.admin.globalPriv({ user: `${value.username}_clone`, host: '%' })).toBeUndefined();
    });

    it('reports a managing user without CREATE USER as PermissionDeniedError, AWSCURRENT still working', async () => {
      // Prepare
      const weak = await bed.account({ grants: ['GRANT SELECT ON mysql.* TO {account}'] });
      const related = {
        [MASTER_ARN]: bed.masterSecretAs(weak.account.user, weak.password),
      };
      const value = await bed.secret({ masterarn: MASTER_ARN });
      // Act
      const applied = applyOnly(
        value,
        { ...value, username: `${value.username}_clone`, password: newPassword() },
        related,
      );
      // Assess
      await expect(applied).rejects.toBeInstanceOf(PermissionDeniedError);
      expect(await logsInAsAccount(value)).toBe(true);
    });
  });

  describe('dual-password', () => {
    it('keeps AWSCURRENT working with the new password, and retires the older one at the next rotation', async () => {
      // Prepare
      const first = await bed.secret({ strategy: 'dual-password', masterarn: MASTER_ARN });
      // Act
      const second = await rotate(first);
      const bothAfterFirst = [await logsInAsAccount(first), await logsInAsAccount(second)];
      const third = await rotate(second, { previous: first });
      // Assess
      expect(bothAfterFirst).toEqual([true, true]);
      expect(await logsInAsAccount(first)).toBe(false);
      expect(await logsInAsAccount(second)).toBe(true);
      expect(await logsInAsAccount(third)).toBe(true);
    });

    it('replays setSecret after the ALTER happened without touching the account', async () => {
      // Prepare
      const value = await bed.secret({ strategy: 'dual-password', masterarn: MASTER_ARN });
      const pending = { ...value, password: newPassword() };
      await applyOnly(value, pending);
      const account = { user: String(value.username), host: '%' };
      const after = await bed.admin.globalPriv(account);
      // Act: the step died after the ALTER; Secrets Manager runs setSecret again.
      await applyOnly(value, pending);
      // Assess
      expect(await bed.admin.globalPriv(account)).toEqual(after);
      expect([await logsInAsAccount(value), await logsInAsAccount(pending)]).toEqual([true, true]);
    });

    it('refuses an account that also authenticates through unix_socket, changing nothing', async () => {
      // Prepare
      const value = await bed.secret({ strategy: 'dual-password', masterarn: MASTER_ARN });
      const quoted = `\`${value.username}\`@\`%\``;
      const hash = String(
        (await bed.admin.globalPriv({ user: String(value.username), host: '%' }))?.authentication_string,
      );
      await bed.admin.query(
        `ALTER USER ${quoted} IDENTIFIED VIA unix_socket OR mysql_native_password USING '${hash}'`,
      );
      // Act
      const applied = applyOnly(value, { ...value, password: newPassword() });
      // Assess
      await expect(applied).rejects.toMatchObject({ name: 'UnsupportedError' });
      expect(await logsInAsAccount(value)).toBe(true);
    });
  });

  describe('single-user', () => {
    it('replays setSecret after the change (the pending password already logs in)', async () => {
      // Prepare
      const value = await bed.secret();
      const pending = { ...value, password: newPassword() };
      await applyOnly(value, pending);
      // Act
      await applyOnly(value, pending);
      // Assess
      expect(await logsInAsAccount(pending)).toBe(true);
      expect(await logsInAsAccount(value)).toBe(false);
    });

    it('recovers with AWSPREVIOUS when AWSCURRENT never reached the server', async () => {
      // Prepare: the server still has the previous password; AWSCURRENT holds one it never got.
      const previous = await bed.secret();
      const current = { ...previous, password: newPassword() };
      // Act
      const pending = await rotate(current, { previous });
      // Assess
      expect(await logsInAsAccount(pending)).toBe(true);
    });

    it('rollback after a failed test puts AWSCURRENT back, sending only a hash, and is idempotent', async () => {
      // Prepare: apply worked, then the test step failed (a probe on a missing table).
      const value = await bed.secret({ probeQuery: 'SELECT * FROM no_such_table_here' });
      const pendingValue = { ...value, password: newPassword() };
      await applyOnly(value, pendingValue);
      const current = parse(value);
      const pending = parse(pendingValue, 'AWSPENDING');
      const failed = await rejection(
        mysqlRotator.test({ ...request('testSecret'), pending, current: async () => current }),
      );
      const rollback = () => mysqlRotator.rollback({ ...request('testSecret'), current, pending });
      // Act
      const first = await rollback();
      const second = await rollback();
      // Assess
      expect(failed).toBeInstanceOf(VerificationFailedError);
      expect(first).toBeUndefined();
      expect(second).toBeUndefined();
      expect(await logsInAsAccount(value)).toBe(true);
      expect(await logsInAsAccount(pendingValue)).toBe(false);
    });

    it('rollback changes nothing when nothing was applied', async () => {
      // Prepare
      const value = await bed.secret();
      const account = { user: String(value.username), host: '%' };
      const before = await bed.admin.globalPriv(account);
      const pendingValue = { ...value, password: newPassword() };
      // Act
      await mysqlRotator.rollback({
        ...request('testSecret'),
        current: parse(value),
        pending: parse(pendingValue, 'AWSPENDING'),
      });
      // Assess
      expect(await bed.admin.globalPriv(account)).toEqual(before);
      expect(await logsInAsAccount(value)).toBe(true);
    });

    it('fails with AuthenticationFailedError when no version logs in', async () => {
      // Prepare
      const value = await bed.secret();
      const current = { ...value, password: newPassword() };
      // Act
      const applied = applyOnly(current, { ...value, password: newPassword() });
      // Assess
      await expect(applied).rejects.toBeInstanceOf(AuthenticationFailedError);
      expect(await logsInAsAccount(value)).toBe(true);
    });
  });

  describe('probe query', () => {
    it('passes a read-only probe', async () => {
      // Prepare
      const value = await bed.secret({ probeQuery: 'SELECT COUNT(*) FROM information_schema.SCHEMATA' });
      // Act
      const tested = mysqlRotator.test({
        ...request('testSecret'),
        pending: parse(value),
        current: async () => parse(value),
      });
      // Assess
      await expect(tested).resolves.toBeUndefined();
    });

    it('fails a probe that would write (through a function) in its READ ONLY transaction', async () => {
      // Prepare
      const db = `\`${bed.database}\``;
      await bed.admin.query(`CREATE TABLE IF NOT EXISTS ${db}.probe_log (n INT) ENGINE=InnoDB`);
      await bed.admin.query(
        `CREATE FUNCTION IF NOT EXISTS ${db}.writes() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO ${db}.probe_log VALUES (1); RETURN 1; END`,
      );
      const value = await bed.secret(
        { probeQuery: `SELECT ${db}.writes()` },
        { grants: ['GRANT SELECT, INSERT, EXECUTE ON `{db}`.* TO {account}'] },
      );
      // Act
      const tested = mysqlRotator.test({
        ...request('testSecret'),
        pending: parse(value),
        current: async () => parse(value),
      });
      // Assess
      await expect(tested).rejects.toBeInstanceOf(VerificationFailedError);
      expect(await bed.admin.query(`SELECT n FROM ${db}.probe_log`)).toEqual([]);
    });
  });

  describe('connections', () => {
    it('never falls back to plaintext when the server offers no TLS', async () => {
      // Prepare: no ssl / tlsMode key means TLS verified, and this server has TLS off.
      const { ssl: _, ...value } = await bed.secret();
      // Act
      const tested = mysqlRotator.test({
        ...request('testSecret'),
        pending: parse(value),
        current: async () => parse(value),
      });
      // Assess
      await expect(tested).rejects.toBeInstanceOf(TargetUnreachableError);
      await expect(tested).rejects.toMatchObject({ reason: 'tls' });
    });

    it('stops at the deadline', async () => {
      // Prepare
      const value = await bed.secret();
      const controller = new AbortController();
      controller.abort();
      // Act
      const tested = mysqlRotator.test({
        ...request('testSecret'),
        signal: controller.signal,
        pending: parse(value),
        current: async () => parse(value),
      });
      // Assess
      await expect(tested).rejects.toBeInstanceOf(DeadlineExceededError);
    });

    it('stops at the deadline when the server never answers the handshake', async () => {
      // Prepare: a listener that accepts connections and stays silent.
      const silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as AddressInfo).port;
      const value = { ...(await bed.secret()), port };
      try {
        // Act
        const tested = await rejection(
          mysqlRotator.test({
            ...request('testSecret'),
            signal: AbortSignal.timeout(200),
            pending: parse(value),
            current: async () => parse(value),
          }),
        );
        // Assess
        expect(tested).toBeInstanceOf(DeadlineExceededError);
      } finally {
        silent.close();
      }
    });

    it('quotes correctly when the server runs with NO_BACKSLASH_ESCAPES', async () => {
      // Prepare
      const [saved] = await bed.admin.query<{ mode: string }>('SELECT @@GLOBAL.sql_mode AS mode');
      const mode = String(saved?.mode);
      const value = await bed.secret(
        { strategy: 'dual-password', masterarn: MASTER_ARN },
        { user: uniqueName("nbe\\'x_") },
      );
      await bed.admin.query(`SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')`);
      try {
        // Act
        const dual = await rotate(value);
        const alternate = await rotate({ ...dual, strategy: 'alternating-users' });
        // Assess
        expect(await logsInAsAccount(dual)).toBe(true);
        expect(await logsInAsAccount(alternate)).toBe(true);
      } finally {
        await bed.admin.query(`SET GLOBAL sql_mode = '${mode}'`);
      }
    });
  });

  describe('preflight', () => {
    it('passes every check for alternating-users with a capable managing user', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      // Act
      const checks = await mysqlRotator.preflight({ ...request('createSecret'), current: parse(value) });
      // Assess
      expect(checks.filter((c) => !c.ok)).toEqual([]);
      expect(checks.map((c) => c.name)).toEqual(
        expect.arrayContaining([
          'login',
          'identity',
          'managing user login',
          'privilege CREATE USER',
          'alternate account',
        ]),
      );
    });

    it('names the missing privileges of an account that would run dual-password itself, with fixes', async () => {
      // Prepare
      const value = await bed.secret({ strategy: 'dual-password' });
      // Act
      const checks = await mysqlRotator.preflight({ ...request('createSecret'), current: parse(value) });
      // Assess
      const failed = checks.filter((c) => !c.ok);
      expect(failed.map((c) => c.name)).toEqual(['privilege CREATE USER', 'read mysql.global_priv']);
      for (const check of failed) expect(check.fix).toMatch(/^GRANT /);
    });

    it('reports wrong managing credentials on one line with a fix, without the password', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const wrong = {
        [MASTER_ARN]: bed.masterSecretAs(bed.master.username, 'not-the-password'),
      };
      // Act
      const checks = await mysqlRotator.preflight({
        ...request('createSecret', wrong),
        current: parse(value),
      });
      // Assess
      const failed = checks.filter((c) => !c.ok);
      expect(failed.map((c) => c.name)).toEqual(['managing user login']);
      expect(failed[0]?.fix).toBeDefined();
      expect(JSON.stringify(checks)).not.toContain('not-the-password');
      expect(JSON.stringify(checks)).not.toContain(String(value.password));
    });

    it('changes nothing on the server', async () => {
      // Prepare
      const value = await bed.secret({ masterarn: MASTER_ARN });
      const account = { user: String(value.username), host: '%' };
      const before = JSON.stringify([await bed.admin.globalPriv(account), await bed.admin.grants(account)]);
      // Act
      await mysqlRotator.preflight({ ...request('createSecret'), current: parse(value) });
      // Assess
      expect(JSON.stringify([await bed.admin.globalPriv(account), await bed.admin.grants(account)])).toBe(
        before,
      );
      expect(await loginAs({ username: `${account.user}_clone`, password: 'x' })).toBeUndefined();
    });
  });
});
