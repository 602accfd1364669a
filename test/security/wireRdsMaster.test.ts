/**
 * Attack: master takeover through the RDS API. The writer of any secret the function rotates names
 * a database the deployment may modify (`dbInstanceIdentifier`), sets `username` to its master user
 * (DescribeDBInstances tells anyone) and `strategy: "rds-master"`, and waits for rotor to reset the
 * master password to a value stored in the writer's own secret. Nothing proves the writer ever held
 * that master's password: unless the stage file binds this secret to this database
 * (`rdsMasters`), rotor refuses (UnboundDatabaseError) before any ModifyDB* call, and the master's
 * password is unchanged.
 *
 * Real servers: an embedded PostgreSQL 17 (SCRAM) behind the local RDS endpoint, rotor's real step
 * machine driven by the local Secrets Manager through the real SDK.
 */
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresMasterPassword } from '../../local/rds.js';
import { newPassword, TestServer, uniqueName } from '../postgres/support.js';
import {
  failures,
  identifier,
  postgres,
  type RdsHarness,
  skipPostgres,
  startRdsHarness,
} from '../rds/support.js';

describe.skipIf(skipPostgres)('rds-master on a database the stage file does not bind to the secret', () => {
  let db: TestServer;
  let h: RdsHarness;

  beforeAll(async () => {
    db = await TestServer.start('embedded');
    h = await startRdsHarness({ rotators: [postgres], stack: { rotation: { attempts: 2 } } });
  });

  afterAll(async () => {
    await h?.close();
    await db?.stop();
  });

  /** The victim: an RDS instance whose master password the deployment may modify. */
  async function victim() {
    const role = uniqueName('victim_master');
    const password = newPassword();
    await db.createUser(role, password);
    const id = identifier('victim');
    h.rds.registerInstance({
      identifier: id,
      engine: 'postgres',
      endpoint: { address: db.server.host, port: db.server.port },
      masterUsername: role,
      setMasterPassword: postgresMasterPassword(db.server, role),
    });
    return { id, role, password };
  }

  it('refuses a rotation of a writer-made secret naming the victim and its master user; the master password is unchanged', async () => {
    // Prepare: the attacker's secret, with a password of the attacker's choosing.
    const { id, role, password } = await victim();
    const arn = await h.createSecret({
      engine: 'postgres',
      username: role,
      password: 'Attacker-chosen-1',
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    // Another secret IS bound to the victim: a binding is per secret, not per database.
    h.bindRdsMaster(`${arn}-other`, { dbInstanceIdentifier: id });

    // Act
    await h.rotate(arn);

    // Assess
    const refusals = failures(h, arn);
    expect(refusals.length).toBeGreaterThan(0);
    for (const failure of refusals) {
      expect(failure.error).toMatchObject({ name: 'UnboundDatabaseError', category: 'security' });
      expect(failure.error.message).toContain(`RDS DB instance "${id}"`);
    }
    expect(h.rds.count('ModifyDBInstance', id)).toBe(0);
    await h.rds.settled();
    expect(h.rds.appliedChanges(id)).toBe(0);
    expect(await db.canLogin(role, password)).toBe(true);
  });

  it('refuses the configuration test (testSecret alone) too: its rollback would reset the master to AWSCURRENT', async () => {
    // Prepare
    const { id, role, password } = await victim();
    const arn = await h.createSecret({
      engine: 'postgres',
      username: role,
      password: 'Attacker-chosen-2',
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });

    // Act
    await h.rotate(arn, { rotateImmediately: false });

    // Assess
    const [failure] = failures(h, arn);
    expect(failure).toMatchObject({ step: 'testSecret', error: { name: 'UnboundDatabaseError' } });
    expect(h.rds.count('ModifyDBInstance', id)).toBe(0);
    expect(await db.canLogin(role, password)).toBe(true);
    expect(await db.canLogin(role, 'Attacker-chosen-2')).toBe(false);
  });

  it('a secret bound to one database cannot send rds-master to another by naming it instead', async () => {
    // Prepare: the stage file binds the writer's secret to the writer's own instance; the writer
    // then points the secret at the victim's instance, with the victim's master user.
    const own = await victim();
    const target = await victim();
    const arn = await h.createSecret({
      engine: 'postgres',
      username: own.role,
      password: own.password,
      dbInstanceIdentifier: own.id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbInstanceIdentifier: own.id });
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({
          engine: 'postgres',
          username: target.role,
          password: 'Attacker-chosen-3',
          dbInstanceIdentifier: target.id,
          strategy: 'rds-master',
          ssl: false,
        }),
      }),
    );

    // Act
    await h.rotate(arn);

    // Assess
    const [failure] = failures(h, arn);
    expect(failure?.error).toMatchObject({ name: 'UnboundDatabaseError', category: 'security' });
    expect(failure?.error.message).toContain(`RDS DB instance "${target.id}"`);
    expect(h.rds.count('ModifyDBInstance', target.id)).toBe(0);
    expect(await db.canLogin(target.role, target.password)).toBe(true);
  });

  it('rotates once the stage file binds the secret to the database (the operator decided)', async () => {
    // Prepare
    const { id, role, password } = await victim();
    const arn = await h.createSecret({
      engine: 'postgres',
      username: role,
      password,
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    // Bound by name (the stage file's usual form): the ARN without its 6 random characters.
    const name = String(arn.split(':secret:')[1]).slice(0, -7);
    h.bindRdsMaster(name, { dbInstanceIdentifier: id });

    // Act
    await h.rotate(arn);

    // Assess
    expect(failures(h, arn)).toEqual([]);
    const after = await h.value(arn);
    expect(await db.canLogin(role, String(after.password))).toBe(true);
    expect(h.rds.count('ModifyDBInstance', id)).toBe(1);
  });
});
