/**
 * Full PostgreSQL rotations the way Secrets Manager runs them: the local AWS stack, the real SDK,
 * rotor's real step machine, and real servers (PostgreSQL 17 and 15) with SCRAM authentication.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step } from '../../rotators/errors.js';
import {
  type ConnectPostgres,
  connectPostgres,
  createPostgresRotator,
  postgresRotator,
} from '../../rotators/postgres/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { FLAVORS, newPassword, skipPostgres, TestServer, uniqueName } from './support.js';

const STEPS: readonly Step[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

describe.skipIf(skipPostgres).each(FLAVORS)(
  'PostgreSQL rotations through Secrets Manager on the %s server',
  (flavor) => {
    let db: TestServer;
    let harness: RotationHarness;
    let masterArn: string;
    /** Every password any version of any secret held in this file, for the statement log check. */
    const passwords = new Set<string>();

    beforeAll(async () => {
      db = await TestServer.start(flavor);
      harness = await startRotationHarness({ rotators: [postgresRotator] });
      masterArn = await harness.createSecret(JSON.parse(db.masterSecret), uniqueName('master'));
    });

    afterAll(async () => {
      await harness?.close();
      await db?.stop();
    });

    async function userSecret(
      prefix: string,
      extra: Record<string, unknown> = {},
      name = uniqueName(prefix),
    ) {
      const password = newPassword();
      await db.createUser(name, password);
      passwords.add(password);
      const value = db.secret(name, password, extra);
      return { value, arn: await harness.createSecret(value) };
    }

    async function current(arn: string, on = harness) {
      const value = await on.value(arn);
      passwords.add(String(value.password));
      return value;
    }

    /** A token staged as AWSPENDING with no value, as RotateSecret leaves it before createSecret. */
    async function stagedToken(arn: string): Promise<string> {
      const functionArn = harness.stack.functionArn('stage-only');
      harness.stack.registerFunction('stage-only', async () => ({}));
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

    it('single-user: RotateSecret changes the password; the old one stops working', async () => {
      // Prepare
      const { value: before, arn } = await userSecret('rot', {
        port: String(db.server.port),
        appKey: 'kept',
      });
      // Act
      await harness.rotate(arn);
      // Assess
      const after = await current(arn);
      const labels = await harness.labels(arn);
      // The rotation is over: AWSPENDING is gone or sits on AWSCURRENT (PROTOCOL.md).
      expect([undefined, labels.AWSCURRENT]).toContain(labels.AWSPENDING);
      expect(after.password).not.toBe(before.password);
      expect(after).toMatchObject({
        port: String(db.server.port),
        appKey: 'kept',
        username: before.username,
      });
      expect(await db.canLogin(after.username, after.password)).toBe(true);
      expect(await db.canLogin(before.username, before.password)).toBe(false);
      expect(
        harness
          .rotorEvents()
          .some((e) => e.detailType === 'Rotation Succeeded' && e.detail.engine === 'postgres'),
      ).toBe(true);
    });

    it('alternating-users: both users work during the overlap, and the owner comes back', async () => {
      // Prepare
      const { value: first, arn } = await userSecret('alt', { masterarn: masterArn });
      // Act
      await harness.rotate(arn);
      const second = await current(arn);
      const previousAfterFirst = await harness.value(arn, 'AWSPREVIOUS');
      await harness.rotate(arn);
      const third = await current(arn);
      // Assess
      expect(second.username).toBe(`${first.username}_clone`);
      expect(previousAfterFirst).toEqual(first);
      expect(await db.canLogin(first.username, first.password)).toBe(false);
      expect(await db.canLogin(second.username, second.password)).toBe(true);
      expect(third.username).toBe(first.username);
      expect(await db.canLogin(third.username, third.password)).toBe(true);
    });

    it('alternating-users: a name that needs quoting rotates back and forth', async () => {
      // Prepare
      const name = `Order "Service" ${uniqueName('ü')}`;
      const { arn } = await userSecret('', { masterarn: masterArn }, name);
      // Act
      await harness.rotate(arn);
      await harness.rotate(arn);
      // Assess
      const after = await current(arn);
      expect(after.username).toBe(name);
      expect(await db.canLogin(after.username, after.password)).toBe(true);
    });

    for (const strategy of ['single-user', 'alternating-users'] as const) {
      it(`${strategy}: every step invoked twice completes the rotation once`, async () => {
        // Prepare
        const { value: before, arn } = await userSecret(
          'replay',
          strategy === 'alternating-users' ? { masterarn: masterArn } : {},
        );
        const token = await stagedToken(arn);
        // Act
        const outcomes = [];
        for (const step of STEPS) {
          outcomes.push(await harness.invoke(step, arn, token));
          outcomes.push(await harness.invoke(step, arn, token));
        }
        // Assess
        expect(outcomes.map((o) => o.result)).toEqual([
          'done',
          'done',
          'done',
          'done',
          'done',
          'done',
          'done',
          'noop',
        ]);
        const labels = await harness.labels(arn);
        expect(labels.AWSCURRENT).toBe(token);
        const after = await current(arn);
        expect(await db.canLogin(after.username, after.password)).toBe(true);
        expect(await db.canLogin(before.username, before.password)).toBe(strategy === 'alternating-users');
      });
    }

    it('single-user: a setSecret that dies after the server changed the password is retried to success', async () => {
      // Prepare: the first ALTER ROLE reaches the server, then the "Lambda" dies before returning.
      let crashes = 0;
      const crashing: ConnectPostgres = async (request) => {
        const session = await connectPostgres(request);
        return {
          ...session,
          query: async (sql, params, options) => {
            const rows = await session.query(sql, params, options);
            if (sql.startsWith('ALTER ROLE') && crashes === 0) {
              crashes++;
              throw new Error('the Lambda died after the statement');
            }
            return rows as never;
          },
        };
      };
      const crashHarness = await startRotationHarness({
        rotators: [createPostgresRotator({ connect: crashing })],
      });
      try {
        const password = newPassword();
        const name = uniqueName('crash');
        await db.createUser(name, password);
        passwords.add(password);
        const arn = await crashHarness.createSecret(db.secret(name, password));
        // Act
        await crashHarness.rotate(arn);
        // Assess
        const after = await current(arn, crashHarness);
        expect(crashes).toBe(1);
        expect(
          crashHarness.rotorEvents().filter((e) => e.detailType === 'Rotation Step Failed'),
        ).toHaveLength(1);
        const labels = await crashHarness.labels(arn);
        expect([undefined, labels.AWSCURRENT]).toContain(labels.AWSPENDING);
        expect(labels.AWSCURRENT).not.toBe(labels.AWSPREVIOUS);
        expect(after.password).not.toBe(password);
        expect(await db.canLogin(name, after.password)).toBe(true);
      } finally {
        await crashHarness.close();
      }
    });

    it('single-user: a failing test rolls the password back, so AWSCURRENT keeps logging in', async () => {
      // Prepare: the probe fails on every attempt.
      const { value: before, arn } = await userSecret('rollback', {
        probeQuery: 'SELECT * FROM no_such_table',
      });
      const labelsBefore = await harness.labels(arn);
      // Act
      await harness.rotate(arn);
      // Assess
      expect((await harness.labels(arn)).AWSCURRENT).toBe(labelsBefore.AWSCURRENT);
      expect(await db.canLogin(before.username, before.password)).toBe(true);
      const failures = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        // The rollback restored AWSCURRENT's password, but the probe fails for it too: it does not
        // pass the rotator's test.
        expect(failure.detail).toMatchObject({
          step: 'testSecret',
          rolledBack: true,
          currentVerified: false,
        });
        expect((failure.detail.error as { name: string }).name).toBe('VerificationFailedError');
      }
      passwords.add(String((await harness.value(arn, 'AWSPENDING')).password));
    });

    it('single-user: AWSCURRENT whose password is wrong on the server fails setSecret, and the event says AWSCURRENT was checked and does not log in (currentVerified false)', async () => {
      // Prepare: the role's password on the server is not the one the secret holds; no AWSPREVIOUS.
      const name = uniqueName('wrongcur');
      const serverPassword = newPassword();
      await db.createUser(name, serverPassword);
      passwords.add(serverPassword);
      const stored = newPassword();
      passwords.add(stored);
      const arn = await harness.createSecret(db.secret(name, stored));
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
      expect(await db.canLogin(name, serverPassword)).toBe(true);
    });

    it('alternating-users: a probe that fails for the clone fails testSecret, and the event says AWSCURRENT still passes the test (currentVerified true)', async () => {
      // Prepare: a wrong probe that holds for the owner only (division by zero for any other user).
      const owner = uniqueName('probeowner');
      const { value: before, arn } = await userSecret(
        'probe',
        {
          masterarn: masterArn,
          probeQuery: `SELECT 1 / (CASE WHEN session_user = '${owner}' THEN 1 ELSE 0 END)`,
        },
        owner,
      );
      const labelsBefore = await harness.labels(arn);
      // Act
      await harness.rotate(arn);
      // Assess
      expect((await harness.labels(arn)).AWSCURRENT).toBe(labelsBefore.AWSCURRENT);
      const failures = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure.detail).toMatchObject({ step: 'testSecret', currentVerified: true });
        expect((failure.detail.error as { name: string }).name).toBe('VerificationFailedError');
      }
      expect(await db.canLogin(before.username, before.password)).toBe(true);
      passwords.add(String((await harness.value(arn, 'AWSPENDING')).password));
    });

    it('single-user: AWSCURRENT wrong on the server but AWSPREVIOUS right: the rotation succeeds from AWSPREVIOUS and setSecret reports fallback AWSPREVIOUS', async () => {
      // Prepare: the server has the first password; AWSCURRENT was replaced without the database.
      const { value: first, arn } = await userSecret('fallback');
      const replaced = newPassword();
      passwords.add(replaced);
      await harness.sm.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: JSON.stringify({ ...first, password: replaced }),
        }),
      );
      // Act
      await harness.rotate(arn);
      // Assess
      const after = await current(arn);
      expect(after.password).not.toBe(first.password);
      expect(after.password).not.toBe(replaced);
      expect(await db.canLogin(after.username, after.password)).toBe(true);
      expect(await db.canLogin(first.username, first.password)).toBe(false);
      const events = harness.rotorEvents().filter((e) => e.detail.secretArn === arn);
      const set = events.filter(
        (e) => e.detailType === 'Rotation Step Succeeded' && e.detail.step === 'setSecret',
      );
      expect(set).toHaveLength(1);
      expect(set[0]?.detail.fallback).toBe('AWSPREVIOUS');
      expect(set[0]?.detail.warnings).toEqual([expect.stringContaining(`role "${first.username}"`)]);
      expect(events.some((e) => e.detailType === 'Rotation Succeeded')).toBe(true);
      expect(
        events.filter((e) => e.detailType === 'Rotation Step Succeeded' && e.detail.step !== 'setSecret'),
      ).not.toContainEqual(
        expect.objectContaining({ detail: expect.objectContaining({ fallback: expect.anything() }) }),
      );
      for (const password of [first.password, replaced, after.password]) {
        expect(JSON.stringify(events)).not.toContain(String(password));
      }
    });

    it('alternating-users: AWSCURRENT changed on the server by hand but AWSPREVIOUS right: the rotation proves the pair with AWSPREVIOUS, succeeds, and setSecret reports fallback AWSPREVIOUS', async () => {
      // Prepare: one rotation (owner → clone), then the clone's password is changed by hand.
      const { value: first, arn } = await userSecret('altfallback', { masterarn: masterArn });
      await harness.rotate(arn);
      const second = await current(arn);
      const byHand = newPassword();
      passwords.add(byHand);
      await db.sql(`ALTER ROLE "${second.username}" PASSWORD '${byHand}'`);
      // Act
      await harness.rotate(arn);
      // Assess
      const third = await current(arn);
      expect(third.username).toBe(first.username);
      expect(await db.canLogin(third.username, third.password)).toBe(true);
      const set = harness
        .rotorEvents()
        .filter(
          (e) =>
            e.detailType === 'Rotation Step Succeeded' &&
            e.detail.secretArn === arn &&
            e.detail.step === 'setSecret',
        );
      expect(set.map((e) => e.detail.fallback ?? null)).toEqual([null, 'AWSPREVIOUS']);
      expect(set[1]?.detail.warnings).toEqual([expect.stringContaining(`role "${second.username}"`)]);
    });

    it('alternating-users: wrong master credentials fail setSecret with a typed error; AWSCURRENT untouched', async () => {
      // Prepare
      const wrongMaster = await harness.createSecret(
        db.masterValue({ password: 'wrong-master-password' }),
        uniqueName('wrong-master'),
      );
      const { value: before, arn } = await userSecret('badmaster', { masterarn: wrongMaster });
      const labelsBefore = await harness.labels(arn);
      // Act
      await harness.rotate(arn);
      // Assess
      expect((await harness.labels(arn)).AWSCURRENT).toBe(labelsBefore.AWSCURRENT);
      expect(await current(arn)).toEqual(before);
      expect(await db.canLogin(before.username, before.password)).toBe(true);
      const failures = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure.detail.step).toBe('setSecret');
        expect((failure.detail.error as { name: string }).name).toBe('AuthenticationFailedError');
        expect(JSON.stringify(failure)).not.toContain('wrong-master-password');
      }
      expect(await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [`${before.username}_clone`])).toEqual(
        [],
      );
    });

    it('alternating-users: a writer naming another role with any password fails setSecret with UnprovenUserError; the role is untouched', async () => {
      // Prepare: the victim's role exists; the writer's secret names it with a password of theirs.
      const victimPassword = newPassword();
      const victim = uniqueName('victim');
      await db.createUser(victim, victimPassword);
      passwords.add(victimPassword);
      const before = await db.snapshot(victim);
      const arn = await harness.createSecret(
        db.secret(victim, 'the-writers-guess', { masterarn: masterArn }),
      );
      // Act
      await harness.rotate(arn);
      // Assess
      const failures = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure.detail.step).toBe('setSecret');
        expect(failure.detail.error).toMatchObject({ name: 'UnprovenUserError', category: 'security' });
      }
      expect(await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [`${victim}_clone`])).toEqual([]);
      expect(await db.snapshot(victim)).toBe(before);
      expect(await db.canLogin(victim, victimPassword)).toBe(true);
    });

    it('alternating-users: a master bound by the stage file (its secret holds no host) rotates the users its manages patterns allow, and refuses another with UnmanagedUserError in the security category', async () => {
      // Prepare: an RDS-style master secret (username and password only), bound as an operator
      // would in the stage file's masters:, managing the "bound_" roles only.
      const boundMaster = await harness.createSecret(
        { username: db.master.username, password: db.master.password },
        uniqueName('bound-master'),
      );
      harness.config.masters.push({
        secret: boundMaster,
        hosts: [db.server.host],
        port: db.server.port,
        tls: { mode: 'disable' },
        manages: ['bound_*'],
      });
      const managed = await userSecret('bound', { masterarn: boundMaster });
      const other = await userSecret('unbound', { masterarn: boundMaster });
      const otherBefore = await db.snapshot(String(other.value.username));
      // Act
      await harness.rotate(managed.arn);
      await harness.rotate(other.arn);
      // Assess
      const rotated = await current(managed.arn);
      expect(rotated.username).toBe(`${managed.value.username}_clone`);
      expect(await db.canLogin(rotated.username, rotated.password)).toBe(true);
      const failures = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === other.arn);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure.detail.error).toMatchObject({ name: 'UnmanagedUserError', category: 'security' });
      }
      expect(await db.snapshot(String(other.value.username))).toBe(otherBefore);
      expect(
        await db.sql('SELECT 1 FROM pg_roles WHERE rolname = $1', [`${other.value.username}_clone`]),
      ).toEqual([]);
    });

    it('alternating-users: a secret pointing a stage-file-bound master at another port fails with MasterBindingError; the master logs in nowhere', async () => {
      // Prepare: the master is bound to the test server; the writer names another port.
      const boundMaster = await harness.createSecret(
        { username: db.master.username, password: db.master.password },
        uniqueName('bound-master'),
      );
      harness.config.masters.push({
        secret: boundMaster,
        hosts: [db.server.host],
        port: db.server.port,
        tls: { mode: 'disable' },
      });
      const password = newPassword();
      const name = uniqueName('moved');
      await db.createUser(name, password);
      passwords.add(password);
      const arn = await harness.createSecret(
        db.secret(name, password, { masterarn: boundMaster, port: db.server.port + 1 }),
      );
      // Act
      await harness.rotate(arn);
      // Assess
      const failures = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure.detail.error).toMatchObject({ name: 'MasterBindingError', category: 'security' });
      }
      expect(await db.canLogin(name, password)).toBe(true);
    });

    it('alternating-users: a clone rotor did not make is refused with ForeignAccountError until the adoption record lists it; then rotor marks and uses it', async () => {
      // Prepare: a clone made by AWS's template (a member of the owner, no rotor marker).
      const { value: owner, arn } = await userSecret('legacy', { masterarn: masterArn });
      const clone = `${owner.username}_clone`;
      const clonePassword = newPassword();
      await db.createUser(clone, clonePassword);
      passwords.add(clonePassword);
      await db.sql(`GRANT "${owner.username}" TO "${clone}"`);
      const cloneBefore = await db.snapshot(clone);
      await harness.rotate(arn);
      const refused = harness
        .rotorEvents()
        .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
      const cloneAfterRefusal = await db.snapshot(clone);
      // Act: an operator adopts the clone for this secret (what rotor attach --adopt records).
      await harness.createSecret(
        { adoptions: [{ secret: arn, username: clone, adoptedAt: new Date().toISOString(), by: 'test' }] },
        'rotor/adoptions',
      );
      // Secrets Manager's next attempt of the same rotation (the token still AWSPENDING).
      const token = String((await harness.labels(arn)).AWSPENDING);
      const outcomes = [];
      for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const) {
        outcomes.push((await harness.invoke(step, arn, token)).result);
      }
      // Assess
      expect(outcomes).toEqual(['done', 'done', 'done']);
      expect(refused.length).toBeGreaterThan(0);
      for (const failure of refused) {
        expect(failure.detail.error).toMatchObject({ name: 'ForeignAccountError', category: 'security' });
      }
      expect(cloneAfterRefusal).toBe(cloneBefore);
      const after = await current(arn);
      expect(after.username).toBe(clone);
      expect(await db.canLogin(after.username, after.password)).toBe(true);
      const [marker] = await db.sql<{ d: string }>(
        "SELECT shobj_description(oid, 'pg_authid') AS d FROM pg_roles WHERE rolname = $1",
        [clone],
      );
      expect(marker?.d).toBe(`rotor clone of ${owner.username}`);
    });

    it('the statement log never contains a plaintext password, across every rotation of this file', async () => {
      // Prepare: one more rotation of each strategy, so this test stands on its own.
      const single = await userSecret('log');
      const alternating = await userSecret('logalt', { masterarn: masterArn });
      // Act
      await harness.rotate(single.arn);
      await harness.rotate(alternating.arn);
      await current(single.arn);
      await current(alternating.arn);
      // Assess
      const log = db.server.serverLog();
      expect(log).toMatch(/ALTER ROLE .* PASSWORD 'SCRAM-SHA-256\$4096:/);
      expect(log).toMatch(/CREATE ROLE .* PASSWORD 'SCRAM-SHA-256\$4096:/);
      expect(passwords.size).toBeGreaterThan(10);
      for (const password of passwords) expect(log.includes(password)).toBe(false);
    });
  },
);
