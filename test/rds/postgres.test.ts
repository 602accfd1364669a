/**
 * RDS secrets of PostgreSQL, end to end: the local AWS stack, rotor's real step machine, the real
 * client-rds against the local RDS endpoint, and an embedded PostgreSQL 17 with SCRAM
 * authentication standing in for the RDS instance (its master password really changes, after the
 * delay RDS takes, when RDS applies a ModifyDB* request).
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Healer } from '../../handlers/heal.js';
import { RdsDiscovery } from '../../handlers/rds.js';
import { redactor } from '../../handlers/redact.js';
import { SecretsStore } from '../../handlers/secrets.js';
import { type LocalInstanceSpec, postgresMasterPassword } from '../../local/rds.js';
import { createRegistry } from '../../rotators/registry.js';
import { newPassword, TestServer, uniqueName } from '../postgres/support.js';
import { captureStdout } from '../support/stdout.js';
import {
  failures,
  identifier,
  postgres,
  type RdsHarness,
  skipPostgres,
  startRdsHarness,
  succeeded,
} from './support.js';

describe.skipIf(skipPostgres)('RDS for PostgreSQL through the step machine', () => {
  let db: TestServer;
  let h: RdsHarness;
  /** Every password any secret of this file held, for the leak checks. */
  const passwords = new Set<string>();

  beforeAll(async () => {
    db = await TestServer.start('embedded');
    h = await startRdsHarness({ rotators: [postgres] });
  });

  afterAll(async () => {
    await h?.close();
    await db?.stop();
  });

  /** A login role on the server, and an RDS instance (on `rds`) whose master it is. */
  async function instance(
    on: RdsHarness,
    spec: Partial<LocalInstanceSpec> = {},
  ): Promise<{ id: string; role: string; password: string }> {
    const role = uniqueName('master');
    const password = newPassword();
    passwords.add(password);
    await db.createUser(role, password);
    const id = spec.identifier ?? identifier('pg');
    on.rds.registerInstance({
      identifier: id,
      engine: 'postgres',
      endpoint: { address: db.server.host, port: db.server.port },
      masterUsername: role,
      setMasterPassword: postgresMasterPassword(db.server, role),
      ...spec,
    });
    return { id, role, password };
  }

  async function current(on: RdsHarness, arn: string, stage = 'AWSCURRENT') {
    const value = await on.value(arn, stage);
    passwords.add(String(value.password));
    return value;
  }

  it('discovery: a secret naming only its DB instance rotates, and keeps its stored shape', async () => {
    // Prepare
    const { id, role, password } = await instance(h);
    const arn = await h.createSecret({ username: role, password, dbInstanceIdentifier: id, ssl: false });
    const before = h.rds.count('DescribeDBInstances', id);

    // Act
    await h.rotate(arn);

    // Assess
    const after = await current(h, arn);
    expect(succeeded(h, arn)).toBe(true);
    expect(Object.keys(after).sort()).toEqual(['dbInstanceIdentifier', 'password', 'ssl', 'username']);
    expect(await db.canLogin(role, after.password)).toBe(true);
    expect(await db.canLogin(role, password)).toBe(false);
    // One DescribeDBInstances per step (each step is one invocation), nothing else.
    expect(h.rds.count('DescribeDBInstances', id) - before).toBe(4);
    expect(h.rds.count('ModifyDBInstance', id)).toBe(0);
  });

  it('rds-master: RDS applies the new password after a delay, testSecret waits for it, the old one stops', async () => {
    // Prepare
    const { id, role, password } = await instance(h, { applyDelayMs: 1_500 });
    const arn = await h.createSecret({
      engine: 'postgres',
      username: role,
      password,
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbInstanceIdentifier: id });

    // Act
    await h.rotate(arn);

    // Assess
    const after = await current(h, arn);
    expect(failures(h, arn)).toEqual([]);
    expect(succeeded(h, arn)).toBe(true);
    expect(after.password).not.toBe(password);
    expect(await db.canLogin(role, after.password)).toBe(true);
    expect(await db.canLogin(role, password)).toBe(false);
    expect(h.rds.count('ModifyDBInstance', id)).toBe(1);
    expect(h.rds.appliedChanges(id)).toBe(1);
  });

  it('rds-master on a cluster: ModifyDBCluster, found through the writer endpoint', async () => {
    // Prepare
    const role = uniqueName('master');
    const password = newPassword();
    passwords.add(password);
    await db.createUser(role, password);
    const id = identifier('aurora');
    h.rds.registerCluster({
      identifier: id,
      engine: 'aurora-postgresql',
      endpoint: { address: db.server.host, port: db.server.port },
      readerEndpoint: 'localhost',
      masterUsername: role,
      setMasterPassword: postgresMasterPassword(db.server, role),
      applyDelayMs: 300,
    });
    const arn = await h.createSecret({
      engine: 'postgres',
      host: db.server.host,
      username: role,
      password,
      dbClusterIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbClusterIdentifier: id });

    // Act
    await h.rotate(arn);

    // Assess
    const after = await current(h, arn);
    expect(succeeded(h, arn)).toBe(true);
    expect(await db.canLogin(role, after.password)).toBe(true);
    expect(h.rds.count('ModifyDBCluster', id)).toBe(1);
  });

  it('rds-master: a change RDS never applies fails testSecret with the reason; AWSCURRENT still logs in', async () => {
    // Prepare: one attempt, and a short Lambda timeout, so that waiting for RDS ends soon.
    const slow = await startRdsHarness({
      rotators: [postgres],
      stack: { rotation: { attempts: 1, timeoutMs: 6_000 } },
    });
    try {
      const { id, role, password } = await instance(slow, { applyChanges: 'never' });
      const arn = await slow.createSecret({
        engine: 'postgres',
        username: role,
        password,
        dbInstanceIdentifier: id,
        strategy: 'rds-master',
        ssl: false,
      });
      slow.bindRdsMaster(arn, { dbInstanceIdentifier: id });
      const before = await slow.labels(arn);

      // Act
      await slow.rotate(arn);

      // Assess
      const labels = await slow.labels(arn);
      expect(labels.AWSCURRENT).toBe(before.AWSCURRENT);
      expect(await db.canLogin(role, password)).toBe(true);
      const [failure, ...more] = failures(slow, arn);
      expect(more).toEqual([]);
      expect(failure).toMatchObject({
        step: 'testSecret',
        rolledBack: false,
        error: { name: 'VerificationFailedError' },
      });
      expect(failure?.error.message).toMatch(
        /RDS has not applied the master password change to RDS DB instance ".*" after \d+ s \(still pending\)/,
      );
      // setSecret asked once; the rollback waited for that change and asked nothing on top of it.
      expect(slow.rds.count('ModifyDBInstance', id)).toBe(1);
      passwords.add(String((await slow.value(arn, 'AWSPENDING')).password));
    } finally {
      await slow.close();
    }
  });

  it('rds-master: a retry while the first change is still pending waits for it and modifies nothing again', async () => {
    // Prepare: RDS takes longer than one invocation may wait; the service retries once.
    const slow = await startRdsHarness({
      rotators: [postgres],
      stack: { rotation: { attempts: 2, timeoutMs: 6_000 } },
    });
    try {
      const { id, role, password } = await instance(slow, { applyDelayMs: 5_000 });
      const arn = await slow.createSecret({
        engine: 'postgres',
        username: role,
        password,
        dbInstanceIdentifier: id,
        strategy: 'rds-master',
        ssl: false,
      });
      slow.bindRdsMaster(arn, { dbInstanceIdentifier: id });

      // Act
      await slow.rotate(arn);

      // Assess
      const after = await current(slow, arn);
      const [failure, ...more] = failures(slow, arn);
      expect(more).toEqual([]);
      expect(failure).toMatchObject({ step: 'testSecret', error: { name: 'VerificationFailedError' } });
      expect(succeeded(slow, arn)).toBe(true);
      expect(await db.canLogin(role, after.password)).toBe(true);
      expect(slow.rds.count('ModifyDBInstance', id)).toBe(1);
      expect(slow.rds.appliedChanges(id)).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('rds-master on a database whose master password RDS manages is refused at createSecret, with the reason', async () => {
    // Prepare
    const { id, role, password } = await instance(h, { manageMasterUserPassword: true });
    const arn = await h.createSecret({
      engine: 'postgres',
      username: role,
      password,
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbInstanceIdentifier: id });
    const before = await h.labels(arn);

    // Act
    await h.rotate(arn);

    // Assess
    const [failure] = failures(h, arn);
    expect(failure).toMatchObject({
      step: 'createSecret',
      error: { name: 'InvalidSecretError', field: 'strategy' },
    });
    expect(failure?.error.message).toMatch(
      /manages its master password .* itself \(ManageMasterUserPassword\)/,
    );
    expect((await h.labels(arn)).AWSCURRENT).toBe(before.AWSCURRENT);
    expect(h.rds.count('ModifyDBInstance', id)).toBe(0);
    expect(await db.canLogin(role, password)).toBe(true);
  });

  it('a host that is not an endpoint of the named instance is refused before anything changes', async () => {
    // Prepare
    const { id, role, password } = await instance(h);
    const arn = await h.createSecret({
      engine: 'postgres',
      host: 'db.elsewhere.example.com',
      username: role,
      password,
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbInstanceIdentifier: id });

    // Act
    await h.rotate(arn);

    // Assess
    const [failure] = failures(h, arn);
    expect(failure).toMatchObject({
      step: 'createSecret',
      error: { name: 'InvalidSecretError', field: 'host' },
    });
    expect(failure?.error.message).toContain(
      `must be an endpoint of RDS DB instance "${id}" (${db.server.host})`,
    );
    expect((await h.labels(arn)).AWSPENDING).toBeDefined();
    expect(h.rds.count('ModifyDBInstance', id)).toBe(0);
    expect(await db.canLogin(role, password)).toBe(true);
  });

  it('an RDS-style secret (username and password only) is found from its aws:rds tags and rotates', async () => {
    // Prepare
    const { id } = await instance(h);
    const user = uniqueName('app');
    const password = newPassword();
    passwords.add(password);
    await db.createUser(user, password);
    // `ssl: false` only because the local server has no TLS; RDS's own secrets carry no host or engine.
    // Created as RDS creates its secrets (the `aws:` tags are the service's own; callers cannot set them).
    const created = h.stack.secretsManager.createServiceSecret({
      Name: `rds!db-${randomUUID()}`,
      SecretString: JSON.stringify({ username: user, password, ssl: false }),
      Tags: [{ Key: 'aws:rds:primaryDBInstanceArn', Value: `arn:aws:rds:us-east-1:123456789012:db:${id}` }],
    });
    const arn = created.ARN;

    // Act
    await h.rotate(arn);

    // Assess
    const after = await current(h, arn);
    expect(failures(h, arn)).toEqual([]);
    expect(Object.keys(after).sort()).toEqual(['password', 'ssl', 'username']);
    expect(await db.canLogin(user, after.password)).toBe(true);
  });

  it("the master's own RDS-managed secret is refused whatever the strategy: RDS rotates it", async () => {
    // Prepare
    const { id, role, password } = await instance(h, { manageMasterUserPassword: true });
    const arn = await h.createSecret({ username: role, password, dbInstanceIdentifier: id, ssl: false });

    // Act
    await h.rotate(arn);

    // Assess
    const [failure] = failures(h, arn);
    expect(failure).toMatchObject({
      step: 'createSecret',
      error: { name: 'InvalidSecretError', field: 'username' },
    });
    expect(failure?.error.message).toMatch(/ManageMasterUserPassword/);
    expect(await db.canLogin(role, password)).toBe(true);
  });

  it('heal rolls an interrupted rds-master rotation forward, judging the secret through discovery', async () => {
    // Prepare: createSecret and setSecret ran, RDS applied the change, finishSecret never came.
    const { id, role, password } = await instance(h);
    const arn = await h.createSecret({
      engine: 'postgres',
      username: role,
      password,
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbInstanceIdentifier: id });
    h.stack.registerFunction('stage-only', async () => ({}));
    const token = randomUUID();
    await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        ClientRequestToken: token,
        RotationLambdaARN: h.stack.functionArn('stage-only'),
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await h.stack.idle();
    await h.invoke('createSecret', arn, token);
    await h.invoke('setSecret', arn, token);
    await h.rds.settled();
    const pending = await current(h, arn, 'AWSPENDING');
    const healer = new Healer({
      store: new SecretsStore(h.sm),
      registry: createRegistry([postgres]),
      redactor,
      minAgeMs: 0,
      discovery: new RdsDiscovery({ rds: () => h.rdsClient, secretsManager: h.sm }),
      trust: h.config,
    });

    // Act
    const report = await healer.heal(arn, { apply: true });

    // Assess
    expect(report).toMatchObject({
      decision: 'roll-forward',
      pendingWorks: true,
      currentWorks: false,
      acted: true,
    });
    expect((await h.labels(arn)).AWSCURRENT).toBe(token);
    expect(await db.canLogin(role, pending.password)).toBe(true);
  });

  it('no password reaches a log line, an event, an error or the server log', async () => {
    // Prepare: a loud harness (INFO logs), one successful and one failing rds-master rotation.
    const loud = await startRdsHarness({
      rotators: [postgres],
      logLevel: 'INFO',
      stack: { rotation: { attempts: 1, timeoutMs: 5_000 } },
    });
    const output = captureStdout();
    try {
      const ok = await instance(loud, { applyDelayMs: 200 });
      const never = await instance(loud, { applyChanges: 'never' });
      const arns: string[] = [];
      for (const { id, role, password } of [ok, never]) {
        const arn = await loud.createSecret({
          engine: 'postgres',
          username: role,
          password,
          dbInstanceIdentifier: id,
          strategy: 'rds-master',
          ssl: false,
        });
        loud.bindRdsMaster(arn, { dbInstanceIdentifier: id });
        arns.push(arn);
      }

      // Act
      for (const arn of arns) await loud.rotate(arn);

      // Assess
      const logs = output.stop();
      for (const arn of arns) {
        for (const stage of ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']) {
          const value = await loud.value(arn, stage).catch(() => undefined);
          if (value?.password !== undefined) passwords.add(String(value.password));
        }
      }
      expect(logs).toMatch(/step succeeded/);
      expect(logs).toMatch(/discoveryCalls/);
      const events = JSON.stringify(loud.rotorEvents());
      const records = JSON.stringify(loud.stack.rotations.history);
      const serverLog = db.server.serverLog();
      expect(passwords.size).toBeGreaterThan(4);
      for (const password of passwords) {
        expect(logs.includes(password), 'a log line holds a password').toBe(false);
        expect(events.includes(password), 'an event holds a password').toBe(false);
        expect(records.includes(password), 'a step error holds a password').toBe(false);
        expect(serverLog.includes(password), 'the server log holds a password').toBe(false);
      }
    } finally {
      output.stop();
      await loud.close();
    }
  });
});
