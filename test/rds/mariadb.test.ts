/**
 * RDS for MariaDB (and an Aurora MySQL cluster) with the rds-master strategy, end to end: the local
 * AWS stack, rotor's real step machine, the real client-rds against the local RDS endpoint, and
 * the machine's MariaDB standing in for the database (root applies what RDS applies, after RDS's
 * delay).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MACHINE_HOST, MACHINE_PORT } from '../../local/mysql.js';
import { type LocalInstanceSpec, mariadbMasterPassword } from '../../local/rds.js';
import type { Account } from '../../rotators/mysql/sql.js';
import { loginAs, MariadbTestBed } from '../mysql/support.js';
import {
  failures,
  identifier,
  mysql,
  type RdsHarness,
  skipMariadb,
  startRdsHarness,
  succeeded,
} from './support.js';

describe.skipIf(skipMariadb)('RDS for MariaDB through the step machine (rds-master)', () => {
  let bed: MariadbTestBed;
  let h: RdsHarness;

  beforeAll(async () => {
    bed = await MariadbTestBed.start();
    h = await startRdsHarness({ rotators: [mysql] });
  });

  afterAll(async () => {
    await h?.close();
    await bed?.cleanup();
  });

  const logsIn = async (account: Account, password: unknown) =>
    (await loginAs({ username: account.user, password: String(password) })) === `${account.user}@%`;

  /** A master account and an RDS instance (on `on`) whose master it is; returns the secret's ARN too. */
  async function rdsMaster(on: RdsHarness, spec: Partial<LocalInstanceSpec> = {}) {
    const { account, password } = await bed.account({ grants: [] });
    const id = identifier('maria');
    on.rds.registerInstance({
      identifier: id,
      engine: 'mariadb',
      endpoint: { address: MACHINE_HOST, port: MACHINE_PORT },
      masterUsername: account.user,
      setMasterPassword: mariadbMasterPassword(account),
      ...spec,
    });
    const arn = await on.createSecret({
      username: account.user,
      password,
      dbInstanceIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    on.bindRdsMaster(arn, { dbInstanceIdentifier: id });
    return { id, account, password, arn };
  }

  it('rotates the master through ModifyDBInstance; testSecret waits for RDS; the old password stops', async () => {
    // Prepare
    const { id, account, password, arn } = await rdsMaster(h, { applyDelayMs: 1_200 });

    // Act
    await h.rotate(arn);

    // Assess
    const after = await h.value(arn);
    expect(failures(h, arn)).toEqual([]);
    expect(succeeded(h, arn)).toBe(true);
    expect(after).not.toHaveProperty('host');
    expect(await logsIn(account, after.password)).toBe(true);
    expect(await logsIn(account, password)).toBe(false);
    expect(h.rds.count('ModifyDBInstance', id)).toBe(1);
  });

  it('rotates the master of an Aurora MySQL cluster through ModifyDBCluster', async () => {
    // Prepare
    const { account, password } = await bed.account({ grants: [] });
    const id = identifier('aurora');
    h.rds.registerCluster({
      identifier: id,
      engine: 'aurora-mysql',
      endpoint: { address: MACHINE_HOST, port: MACHINE_PORT },
      masterUsername: account.user,
      setMasterPassword: mariadbMasterPassword(account),
      applyDelayMs: 300,
    });
    const arn = await h.createSecret({
      username: account.user,
      password,
      dbClusterIdentifier: id,
      strategy: 'rds-master',
      ssl: false,
    });
    h.bindRdsMaster(arn, { dbClusterIdentifier: id });

    // Act
    await h.rotate(arn);

    // Assess
    const after = await h.value(arn);
    expect(succeeded(h, arn)).toBe(true);
    expect(await logsIn(account, after.password)).toBe(true);
    expect(h.rds.count('ModifyDBCluster', id)).toBe(1);
  });

  it('a change RDS never applies fails testSecret, saying so; AWSCURRENT keeps logging in', async () => {
    // Prepare
    const slow = await startRdsHarness({
      rotators: [mysql],
      stack: { rotation: { attempts: 1, timeoutMs: 6_000 } },
    });
    try {
      const { account, password, arn } = await rdsMaster(slow, { applyChanges: 'never' });
      const before = await slow.labels(arn);

      // Act
      await slow.rotate(arn);

      // Assess
      expect((await slow.labels(arn)).AWSCURRENT).toBe(before.AWSCURRENT);
      expect(await logsIn(account, password)).toBe(true);
      const [failure] = failures(slow, arn);
      expect(failure).toMatchObject({
        step: 'testSecret',
        rolledBack: false,
        error: { name: 'VerificationFailedError' },
      });
      expect(failure?.error.message).toMatch(
        /RDS has not applied the master password change .* \(still pending\)/,
      );
      // setSecret asked once; the rollback waited for that change and asked nothing on top of it.
      expect(slow.rds.count('ModifyDBInstance')).toBe(1);
      const pending = await slow.value(arn, 'AWSPENDING');
      expect(JSON.stringify(slow.rotorEvents())).not.toContain(String(pending.password));
      expect(JSON.stringify(slow.stack.rotations.history)).not.toContain(String(pending.password));
    } finally {
      await slow.close();
    }
  });

  it('a retry while the first change is still pending waits for it and modifies nothing again', async () => {
    // Prepare: RDS takes longer than one invocation may wait; the service retries once.
    const slow = await startRdsHarness({
      rotators: [mysql],
      stack: { rotation: { attempts: 2, timeoutMs: 6_000 } },
    });
    try {
      const { id, account, arn } = await rdsMaster(slow, { applyDelayMs: 5_000 });

      // Act
      await slow.rotate(arn);

      // Assess
      const [failure, ...more] = failures(slow, arn);
      expect(more).toEqual([]);
      expect(failure).toMatchObject({ step: 'testSecret', error: { name: 'VerificationFailedError' } });
      expect(succeeded(slow, arn)).toBe(true);
      expect(await logsIn(account, (await slow.value(arn)).password)).toBe(true);
      expect(slow.rds.count('ModifyDBInstance', id)).toBe(1);
      expect(slow.rds.appliedChanges(id)).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('refuses a database whose master password RDS manages, explaining why, and changes nothing', async () => {
    // Prepare
    const { id, account, password, arn } = await rdsMaster(h, { manageMasterUserPassword: true });

    // Act
    await h.rotate(arn);

    // Assess
    const [failure] = failures(h, arn);
    expect(failure).toMatchObject({
      step: 'createSecret',
      error: { name: 'InvalidSecretError', field: 'strategy' },
    });
    expect(failure?.error.message).toMatch(/RDS rotates|ManageMasterUserPassword/);
    expect(h.rds.count('ModifyDBInstance', id)).toBe(0);
    expect(await logsIn(account, password)).toBe(true);
  });

  it('refuses an rds-master secret for a user that is not the master', async () => {
    // Prepare
    const { id } = await rdsMaster(h);
    const other = await bed.account({ grants: [] });
    const arn = await h.createSecret({
      username: other.account.user,
      password: other.password,
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
      error: { name: 'InvalidSecretError', field: 'username' },
    });
    expect(failure?.error.message).toMatch(/must be the master user/);
    expect(await logsIn(other.account, other.password)).toBe(true);
  });
});
