/**
 * Full MySQL rotations the way Secrets Manager runs them: the local AWS stack, the real SDK, rotor's
 * real step machine, and the machine's MariaDB 10.11 with real password logins.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RotationEvent } from '../../local/stack.js';
import type { Step } from '../../rotators/errors.js';
import { mysqlRotator } from '../../rotators/mysql/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { logsInAsAccount, MariadbTestBed, newPassword, skipMysql } from './support.js';

type Value = Record<string, unknown>;
const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

describe.skipIf(skipMysql)('MySQL rotations through Secrets Manager (MariaDB)', () => {
  let bed: MariadbTestBed;
  let harness: RotationHarness;
  let masterArn: string;

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
    harness = await startRotationHarness({ rotators: [mysqlRotator] });
    masterArn = await harness.createSecret(JSON.parse(bed.masterSecret()), `test/master-${randomUUID()}`);
  });

  afterAll(async () => {
    await harness?.close();
    await bed?.cleanup();
  });

  async function secretFor(extra: Value = {}, grants?: readonly string[]) {
    const value = await bed.secret(extra, grants === undefined ? {} : { grants });
    return { value, arn: await harness.createSecret(value) };
  }

  /** Registers a rotation function that dies (throws) right after the first setSecret succeeded. */
  function crashingAfterFirstSetSecret(name: string): string {
    let crashed = false;
    harness.stack.registerFunction(name, async (event: RotationEvent, context) => {
      const outcome = await harness.handler(event, context);
      if (event.Step === 'setSecret' && !crashed) {
        crashed = true;
        throw new Error('the Lambda died after setSecret changed the database');
      }
      return outcome;
    });
    return harness.stack.functionArn(name);
  }

  async function rotateWith(arn: string, functionArn: string): Promise<string> {
    const token = randomUUID();
    await harness.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        ClientRequestToken: token,
        RotationLambdaARN: functionArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await harness.stack.idle();
    return token;
  }

  it('single-user: RotateSecret changes the password, keeps unknown keys and the port as written', async () => {
    // Prepare
    const { value: before, arn } = await secretFor({ port: '3306', appKey: 'kept' });
    // Act
    await harness.rotate(arn);
    // Assess
    const after = await harness.value(arn);
    const labels = await harness.labels(arn);
    expect(after.password).not.toBe(before.password);
    expect([after.port, after.appKey]).toEqual(['3306', 'kept']);
    expect(await logsInAsAccount(after)).toBe(true);
    expect(await logsInAsAccount(before)).toBe(false);
    expect(labels.AWSPENDING === undefined || labels.AWSPENDING === labels.AWSCURRENT).toBe(true);
  });

  it('single-user: AWSCURRENT wrong on the server but AWSPREVIOUS right: the rotation succeeds from AWSPREVIOUS and setSecret reports fallback AWSPREVIOUS', async () => {
    // Prepare: the server has the first password; AWSCURRENT was replaced without the database.
    const { value: first, arn } = await secretFor();
    const replaced = newPassword();
    await harness.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({ ...first, password: replaced }),
      }),
    );
    // Act
    await harness.rotate(arn);
    // Assess
    const after = await harness.value(arn);
    expect([after.password === first.password, after.password === replaced]).toEqual([false, false]);
    expect(await logsInAsAccount(after)).toBe(true);
    expect(await logsInAsAccount(first)).toBe(false);
    const events = harness.rotorEvents().filter((e) => e.detail.secretArn === arn);
    const set = events.filter(
      (e) => e.detailType === 'Rotation Step Succeeded' && e.detail.step === 'setSecret',
    );
    expect(set).toHaveLength(1);
    expect(set[0]?.detail.fallback).toBe('AWSPREVIOUS');
    expect(set[0]?.detail.warnings).toEqual([expect.stringContaining(String(first.username))]);
    expect(events.some((e) => e.detailType === 'Rotation Succeeded')).toBe(true);
    for (const password of [first.password, replaced, after.password]) {
      expect(JSON.stringify(events)).not.toContain(String(password));
    }
  });

  it('single-user: AWSCURRENT whose password is wrong on the server fails setSecret with currentVerified false', async () => {
    // Prepare: the account's password on the server is not the one the secret holds; no AWSPREVIOUS.
    const { value } = await secretFor();
    const arn = await harness.createSecret({ ...value, password: newPassword() });
    // Act
    await harness.rotate(arn);
    // Assess
    const failures = harness
      .rotorEvents()
      .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure.detail).toMatchObject({ step: 'setSecret', currentVerified: false });
      expect((failure.detail.error as { name: string }).name).toBe('AuthenticationFailedError');
    }
    expect(await logsInAsAccount(value)).toBe(true);
  });

  it('dual-password: AWSCURRENT replaced without the database but AWSPREVIOUS right: the managing user proves the account with AWSPREVIOUS, the rotation succeeds, and setSecret reports fallback AWSPREVIOUS', async () => {
    // Prepare: the server has the first password; AWSCURRENT was replaced without the database.
    const { value: first, arn } = await secretFor({ strategy: 'dual-password', masterarn: masterArn });
    const replaced = newPassword();
    await harness.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({ ...first, password: replaced }),
      }),
    );
    // Act
    await harness.rotate(arn);
    // Assess
    const after = await harness.value(arn);
    expect(await logsInAsAccount(after)).toBe(true);
    const set = harness
      .rotorEvents()
      .filter(
        (e) =>
          e.detailType === 'Rotation Step Succeeded' &&
          e.detail.secretArn === arn &&
          e.detail.step === 'setSecret',
      );
    expect(set.map((e) => e.detail.fallback ?? null)).toEqual(['AWSPREVIOUS']);
    expect(
      harness.rotorEvents().some((e) => e.detailType === 'Rotation Succeeded' && e.detail.secretArn === arn),
    ).toBe(true);
  });

  it('alternating-users: AWSCURRENT changed on the server by hand but AWSPREVIOUS right: setSecret reports fallback AWSPREVIOUS', async () => {
    // Prepare: one rotation (account → clone), then the clone's password is changed by hand.
    const { value: first, arn } = await secretFor({ masterarn: masterArn });
    await harness.rotate(arn);
    const second = await harness.value(arn);
    const account = second.username as string;
    const host = String((second as { accountHost?: unknown }).accountHost ?? '%');
    await bed.admin.query(`ALTER USER '${account}'@'${host}' IDENTIFIED BY '${newPassword()}'`);
    expect(await logsInAsAccount(second)).toBe(false);
    // Act
    await harness.rotate(arn);
    // Assess
    const third = await harness.value(arn);
    expect(third.username).toBe(first.username);
    expect(await logsInAsAccount(third)).toBe(true);
    const set = harness
      .rotorEvents()
      .filter(
        (e) =>
          e.detailType === 'Rotation Step Succeeded' &&
          e.detail.secretArn === arn &&
          e.detail.step === 'setSecret',
      );
    expect(set.map((e) => e.detail.fallback ?? null)).toEqual([null, 'AWSPREVIOUS']);
  });

  it('dual-password: AWSCURRENT and AWSPREVIOUS both log in; the one before stops at the next rotation', async () => {
    // Prepare
    const { value: first, arn } = await secretFor({ strategy: 'dual-password', masterarn: masterArn });
    // Act
    await harness.rotate(arn);
    const second = await harness.value(arn);
    const overlap = [await logsInAsAccount(first), await logsInAsAccount(second)];
    await harness.rotate(arn);
    const third = await harness.value(arn);
    // Assess
    expect(overlap).toEqual([true, true]);
    expect(await logsInAsAccount(first)).toBe(false);
    expect([await logsInAsAccount(second), await logsInAsAccount(third)]).toEqual([true, true]);
    expect(await harness.value(arn, 'AWSPREVIOUS')).toEqual(second);
  });

  it('alternating-users: the secret moves between the account and its clone, AWSPREVIOUS still logs in', async () => {
    // Prepare
    const { value: first, arn } = await secretFor({ masterarn: masterArn });
    // Act
    await harness.rotate(arn);
    const second = await harness.value(arn);
    await harness.rotate(arn);
    const third = await harness.value(arn);
    // Assess
    expect(second.username).toBe(`${first.username}_clone`);
    expect(third.username).toBe(first.username);
    expect([await logsInAsAccount(second), await logsInAsAccount(third)]).toEqual([true, true]);
    expect(await logsInAsAccount(first)).toBe(false);
  });

  it.each([
    ['single-user', {}],
    ['dual-password', { strategy: 'dual-password', masterarn: 'MASTER' }],
    ['alternating-users', { masterarn: 'MASTER' }],
  ])(
    '%s: a rotation whose Lambda died after setSecret changed the database succeeds on the retry',
    async (strategy, extra) => {
      // Prepare
      const { value: before, arn } = await secretFor(
        Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v === 'MASTER' ? masterArn : v])),
      );
      const functionArn = crashingAfterFirstSetSecret(`crash-${strategy}-${randomUUID()}`);
      // Act
      const token = await rotateWith(arn, functionArn);
      // Assess
      const record = await harness.stack.waitForRotation(arn, token);
      expect(record?.status).toBe('succeeded');
      expect(record?.attempts.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
      expect((await harness.labels(arn)).AWSCURRENT).toBe(token);
      expect(await logsInAsAccount(await harness.value(arn))).toBe(true);
      expect(await logsInAsAccount(before)).toBe(strategy !== 'single-user');
    },
  );

  it('replaying every step of a finished rotation changes nothing', async () => {
    // Prepare
    const { arn } = await secretFor({ strategy: 'dual-password', masterarn: masterArn });
    await harness.rotate(arn);
    const token = (await harness.labels(arn)).AWSCURRENT as string;
    const account = { user: String((await harness.value(arn)).username), host: '%' };
    const before = await bed.admin.globalPriv(account);
    // Act
    const outcomes = [];
    for (const step of STEPS) outcomes.push((await harness.invoke(step, arn, token)).result);
    // Assess
    expect(outcomes).toEqual(['noop', 'noop', 'noop', 'noop']);
    expect(await bed.admin.globalPriv(account)).toEqual(before);
  });

  it('wrong managing credentials fail the rotation with AuthenticationFailedError; AWSCURRENT keeps working', async () => {
    // Prepare
    const wrongMaster = await harness.createSecret(
      JSON.parse(bed.masterSecretAs(bed.master.username, 'not-the-password')),
    );
    const { value: before, arn } = await secretFor({ masterarn: wrongMaster });
    // Act
    await harness.rotate(arn);
    // Assess
    const failures = harness
      .rotorEvents()
      .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.map((e) => (e.detail.error as { name: string }).name)).toContain(
      'AuthenticationFailedError',
    );
    expect(JSON.stringify(failures)).not.toContain('not-the-password');
    expect(await harness.value(arn)).toEqual(before);
    expect(await logsInAsAccount(before)).toBe(true);
  });

  it('no plaintext password reaches the server general log', async () => {
    // Prepare
    const [saved] = await bed.admin.query<{ general: number; output: string; now: string; rows: number }>(
      'SELECT @@GLOBAL.general_log AS general, @@GLOBAL.log_output AS output, NOW(6) AS now, (SELECT COUNT(*) FROM mysql.general_log) AS `rows`',
    );
    const secrets = [
      await secretFor(),
      await secretFor({ strategy: 'dual-password', masterarn: masterArn }),
      await secretFor({ strategy: 'dual-password' }, [
        'GRANT SELECT ON `{db}`.* TO {account}',
        'GRANT CREATE USER ON *.* TO {account}',
        'GRANT SELECT ON mysql.global_priv TO {account}',
      ]),
      await secretFor({ masterarn: masterArn }),
    ];
    const passwords = new Set<string>([bed.master.password, ...secrets.map((s) => String(s.value.password))]);
    await bed.admin.query("SET GLOBAL log_output = 'TABLE'");
    await bed.admin.query('SET GLOBAL general_log = ON');
    let logged: string[];
    try {
      // Act
      for (const { arn } of secrets) {
        await harness.rotate(arn);
        await harness.rotate(arn);
        passwords.add(String((await harness.value(arn)).password));
        passwords.add(String((await harness.value(arn, 'AWSPREVIOUS')).password));
      }
      const rows = await bed.admin.query<{ text: string }>(
        `SELECT CONVERT(argument USING utf8mb4) AS text FROM mysql.general_log WHERE event_time >= '${saved?.now}'`,
      );
      logged = rows.map((row) => String(row.text));
    } finally {
      await bed.admin.query(`SET GLOBAL general_log = ${Number(saved?.general) === 1 ? 'ON' : 'OFF'}`);
      await bed.admin.query(`SET GLOBAL log_output = '${saved?.output}'`);
      // The table was empty and off before: leave it so (it now holds password hashes).
      if (Number(saved?.rows) === 0 && Number(saved?.general) !== 1) {
        await bed.admin.query('TRUNCATE TABLE mysql.general_log');
      }
    }
    // Assess
    const changes = logged.filter((text) => /^(ALTER USER|SET PASSWORD|CREATE USER)/.test(text));
    expect(changes.length).toBeGreaterThanOrEqual(8);
    for (const password of passwords) {
      expect(logged.some((text) => text.includes(password))).toBe(false);
    }
  });
});
