/**
 * The rds-master strategy's pure logic (rotators/rdsMaster.ts): what parse refuses given RDS's
 * description, RDS's password rules, and how testSecret's wait decides, driven by a scripted port
 * (a stand-in for RDS's answers, not for a server: the suites in this folder run the real thing).
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidSecretError,
  UnboundDatabaseError,
  UnprovenUserError,
  UnsupportedError,
  VerificationFailedError,
} from '../../rotators/errors.js';
import {
  applyMasterPassword,
  applyRdsMaster,
  checkRdsSecret,
  rdsMasterChecks,
  rdsPasswordProblem,
  requireManagedDatabase,
  rollbackMasterPassword,
  rollbackRdsMaster,
  waitForMasterPassword,
} from '../../rotators/rdsMaster.js';
import type { ManagedDatabase } from '../../rotators/types.js';

/** A port whose answers are scripted; it records the passwords it was asked to set. */
function port(overrides: Partial<ManagedDatabase> & { pending?: boolean[] } = {}) {
  const pending = [...(overrides.pending ?? [false])];
  const set: string[] = [];
  const db: ManagedDatabase = {
    kind: 'instance',
    identifier: 'orders',
    engine: 'postgres',
    masterUsername: 'postgres',
    managesMasterPassword: false,
    boundToSecret: true,
    setMasterPassword: async (password) => {
      set.push(password);
    },
    masterPasswordChangePending: async () =>
      pending.length > 1 ? (pending.shift() as boolean) : (pending[0] ?? false),
    ...overrides,
  };
  return { db, set };
}

function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  return undefined;
}

const soon = (ms: number) => ({ signal: AbortSignal.timeout(ms + 1_000), deadline: Date.now() + ms });
const brisk = { settleMs: 100, firstPollMs: 10, maxPollMs: 20 };

describe('rds-master parse checks', () => {
  it('refuses a master whose password RDS manages, for rds-master and for SQL strategies alike', () => {
    // Prepare
    const { db } = port({ managesMasterPassword: true });

    // Act
    const rdsMaster = thrown(() =>
      checkRdsSecret({ username: 'postgres', strategy: 'rds-master' }, db, 'AWSCURRENT'),
    );
    const singleUser = thrown(() =>
      checkRdsSecret({ username: 'postgres', strategy: 'single-user' }, db, 'AWSCURRENT'),
    );
    const otherUser = thrown(() =>
      checkRdsSecret({ username: 'app', strategy: 'single-user' }, db, 'AWSCURRENT'),
    );

    // Assess
    expect(rdsMaster).toBeInstanceOf(InvalidSecretError);
    expect((rdsMaster as InvalidSecretError).field).toBe('strategy');
    expect((rdsMaster as Error).message).toMatch(/ManageMasterUserPassword/);
    expect((singleUser as InvalidSecretError).field).toBe('username');
    expect(otherUser).toBeUndefined();
  });

  it('refuses rds-master for a user that is not the master, or with no database to find', () => {
    // Act
    const notMaster = thrown(() =>
      checkRdsSecret({ username: 'app', strategy: 'rds-master' }, port().db, 'AWSPENDING'),
    );
    const nowhere = thrown(() =>
      checkRdsSecret({ username: 'postgres', strategy: 'rds-master' }, undefined, 'AWSCURRENT'),
    );

    // Assess
    expect([(notMaster as InvalidSecretError).field, (notMaster as InvalidSecretError).label]).toEqual([
      'username',
      'AWSPENDING',
    ]);
    expect((nowhere as InvalidSecretError).field).toBe('dbInstanceIdentifier');
  });

  it('apply without a port, or with a managed one, refuses before anything changes', () => {
    // Act
    const absent = thrown(() => requireManagedDatabase({}));
    const managed = thrown(() =>
      requireManagedDatabase({ managedDatabase: port({ managesMasterPassword: true }).db }),
    );

    // Assess
    expect(absent).toBeInstanceOf(UnsupportedError);
    expect((managed as InvalidSecretError).field).toBe('strategy');
  });

  it.each([
    ['postgres instance', { engine: 'postgres' }, 'p'.repeat(128), undefined],
    ['postgres instance, too long', { engine: 'postgres' }, 'p'.repeat(129), /8 to 128/],
    ['mariadb instance, too long', { engine: 'mariadb' }, 'p'.repeat(42), /8 to 41/],
    [
      'aurora cluster, too long',
      { kind: 'cluster' as const, engine: 'aurora-postgresql' },
      'p'.repeat(42),
      /8 to 41/,
    ],
    ['a slash', { engine: 'postgres' }, 'pass/word-1', /printable ASCII/],
    ['a space', { engine: 'postgres' }, 'pass word-1', /printable ASCII/],
    ['too short', { engine: 'postgres' }, 'Short-1', /8 to 128/],
  ])("RDS's master password rules: %s", (_name, overrides, password, problem) => {
    // Act
    const found = rdsPasswordProblem(password, port(overrides).db);

    // Assess
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});

describe('rds-master trust: the stage file binds the secret to the database', () => {
  it('refuses apply, test and rollback for a database not bound to the secret, before any ModifyDB call', async () => {
    // Prepare
    const { db, set } = port({ boundToSecret: false });
    let logins = 0;
    const logsIn = async () => {
      logins++;
      return false;
    };

    // Act
    const required = thrown(() => requireManagedDatabase({ managedDatabase: db }));
    const applied = await applyMasterPassword(db, 'Pending-password-1', logsIn, soon(1_000), brisk).catch(
      (e: unknown) => e,
    );
    const waited = await waitForMasterPassword(db, logsIn, soon(1_000), brisk).catch((e: unknown) => e);
    const rolledBack = await rollbackMasterPassword(db, 'Writer-chosen-1', logsIn, soon(1_000), brisk).catch(
      (e: unknown) => e,
    );

    // Assess
    for (const error of [required, applied, waited, rolledBack]) {
      expect(error).toBeInstanceOf(UnboundDatabaseError);
      expect((error as UnboundDatabaseError).category).toBe('security');
      expect((error as Error).message).toMatch(/RDS DB instance "orders".*rdsMasters/);
    }
    expect(set).toEqual([]);
    expect(logins).toBe(0);
  });
});

describe('rds-master preflight', () => {
  it('reports whether the stage file binds the secret to the database, with the fix', () => {
    // Act
    const bound = rdsMasterChecks('postgres', port().db).find((c) => c.name === 'rds binding');
    const unbound = rdsMasterChecks('postgres', port({ boundToSecret: false }).db).find(
      (c) => c.name === 'rds binding',
    );

    // Assess
    expect(bound?.ok).toBe(true);
    expect(unbound).toMatchObject({
      ok: false,
      fix: expect.stringMatching(/rdsMasters .*ROTOR_RDS_MASTERS/),
    });
  });
});

describe("rds-master testSecret's wait", () => {
  it('returns as soon as the pending password logs in', async () => {
    // Prepare
    const { db } = port({ pending: [true, true, false] });
    let logins = 0;

    // Act
    // (A settle window wide enough that a loaded machine's slow polls do not end the wait early.)
    await waitForMasterPassword(db, async () => ++logins >= 3, soon(5_000), { ...brisk, settleMs: 3_000 });

    // Assess
    expect(logins).toBe(3);
  });

  it('gives up once RDS reports nothing pending and the password stays refused: not retryable', async () => {
    // Prepare
    const { db } = port({ pending: [false] });

    // Act
    const error = await waitForMasterPassword(db, async () => false, soon(10_000), brisk).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as VerificationFailedError).retryable).toBe(false);
    expect((error as Error).message).toMatch(
      /RDS reports no master password change pending on RDS DB instance "orders"/,
    );
  });

  it('gives up while RDS still has the change pending: retryable, and says so', async () => {
    // Prepare
    const { db } = port({ pending: [true] });
    // Act
    const error = await waitForMasterPassword(db, async () => false, soon(1_500), brisk).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as VerificationFailedError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/still pending/);
  });
});

describe('rds-master never modifies twice: apply and rollback wait while a change is pending', () => {
  it('a retried apply while the first change is pending asks RDS nothing, waits, and finds the password in place', async () => {
    // Prepare: the first attempt's change is still pending for three polls, then applied.
    const { db, set } = port({ pending: [true, true, true, false] });
    let logins = 0;

    // Act
    await applyMasterPassword(
      db,
      'Pending-password-1',
      async () => {
        logins++;
        return true;
      },
      soon(5_000),
      brisk,
    );

    // Assess
    expect(set).toEqual([]);
    expect(logins).toBe(1);
  });

  it("apply asks RDS once the pending change (a rollback's) has landed and the password does not log in", async () => {
    // Prepare
    const { db, set } = port({ pending: [true, false] });

    // Act
    await applyMasterPassword(db, 'Pending-password-1', async () => false, soon(5_000), brisk);

    // Assess
    expect(set).toEqual(['Pending-password-1']);
  });

  it('apply still pending at the deadline: retryable, nothing asked, the wait bounded by the deadline', async () => {
    // Prepare
    const { db, set } = port({ pending: [true] });
    const request = soon(1_500);

    // Act
    const error = await applyMasterPassword(db, 'Pending-password-1', async () => true, request, brisk).catch(
      (e: unknown) => e,
    );
    const finished = Date.now();

    // Assess
    expect(error).toBeInstanceOf(VerificationFailedError);
    expect((error as VerificationFailedError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/still has a master password change pending.*never asks twice/);
    expect(set).toEqual([]);
    expect(finished).toBeLessThanOrEqual(request.deadline);
  });

  it("rollback while this rotation's change is pending waits for it, then asks RDS for AWSCURRENT once", async () => {
    // Prepare
    const { db, set } = port({ pending: [true, true, false] });
    let logins = 0;

    // Act
    await rollbackMasterPassword(
      db,
      'Current-password-1',
      async () => {
        logins++;
        return false;
      },
      soon(5_000),
      brisk,
    );

    // Assess
    expect(set).toEqual(['Current-password-1']);
    expect(logins).toBe(1);
  });

  it('rollback still pending at the deadline asks nothing and fails retryably within the deadline', async () => {
    // Prepare
    const { db, set } = port({ pending: [true] });
    let logins = 0;
    const request = soon(1_500);

    // Act
    const error = await rollbackMasterPassword(
      db,
      'Current-password-1',
      async () => {
        logins++;
        return false;
      },
      request,
      brisk,
    ).catch((e: unknown) => e);

    // Assess
    expect((error as VerificationFailedError).retryable).toBe(true);
    expect(set).toEqual([]);
    expect(logins).toBe(0);
    expect(Date.now()).toBeLessThanOrEqual(request.deadline);
  });

  it("testSecret's wait ends before the deadline, keeping a reserve for the rollback", async () => {
    // Prepare
    const { db } = port({ pending: [true] });
    const request = soon(3_000);

    // Act
    await waitForMasterPassword(db, async () => false, request, brisk).catch(() => undefined);
    const left = request.deadline - Date.now();

    // Assess: the reserve (20 % of the time left, at least 1 s) is kept back, no more than one
    // poll's pause beyond it.
    expect(left).toBeGreaterThanOrEqual(900);
    expect(left).toBeLessThan(1_200);
  });
});

describe('rds-master rollback', () => {
  it('does nothing when AWSCURRENT logs in and RDS has nothing pending', async () => {
    // Prepare
    const { db, set } = port({ pending: [false] });

    // Act
    await rollbackMasterPassword(db, 'Current-password-1', async () => true, soon(5_000), brisk);

    // Assess
    expect(set).toEqual([]);
  });

  it('asks RDS for AWSCURRENT back when it no longer logs in', async () => {
    // Prepare
    const { db, set } = port({ pending: [false] });

    // Act
    await rollbackMasterPassword(db, 'Current-password-1', async () => false, soon(5_000), brisk);

    // Assess
    expect(set).toEqual(['Current-password-1']);
  });
});

describe('rds-master asks each question once, and no login it expects refused', () => {
  /** A port that also counts how often RDS is asked whether a change is pending. */
  function countingPort(pending: boolean[] = [false]) {
    const { db, set } = port({ pending });
    let asked = 0;
    const counted: ManagedDatabase = {
      ...db,
      masterPasswordChangePending: async () => {
        asked++;
        return db.masterPasswordChangePending();
      },
    };
    return { db: counted, set, asked: () => asked };
  }

  const request = (adopted: readonly string[] = []) => ({
    ...soon(5_000),
    adopted: async () => adopted,
    current: { username: 'postgres', password: 'Current-password-1' },
    pending: { username: 'postgres', password: 'Pending-password-1' },
  });

  it('apply after AWSCURRENT proved itself, with nothing pending, asks RDS without trying the pending password', async () => {
    // Prepare
    const { db, set } = countingPort([false]);
    let pendingLogins = 0;

    // Act
    await applyRdsMaster(
      { ...request(), managedDatabase: db } as unknown as Parameters<typeof applyRdsMaster>[0],
      {
        prove: async () => 'AWSCURRENT',
        pendingLogsIn: async () => {
          pendingLogins++;
          return false;
        },
      },
      brisk,
    );

    // Assess: a routine rotation makes no login the server refuses (lockout policies count them).
    expect(pendingLogins).toBe(0);
    expect(set).toEqual(['Pending-password-1']);
  });

  it('apply still tries the pending password when a change was in flight (it may have landed)', async () => {
    // Prepare
    const { db, set } = countingPort([true, false]);

    // Act
    await applyRdsMaster(
      { ...request(), managedDatabase: db } as unknown as Parameters<typeof applyRdsMaster>[0],
      { prove: async () => 'AWSCURRENT', pendingLogsIn: async () => true },
      brisk,
    );

    // Assess
    expect(set).toEqual([]);
  });

  it('rollback asks RDS whether a change is pending once and logs in with AWSCURRENT once', async () => {
    // Prepare
    const { db, set, asked } = countingPort([false]);
    let currentLogins = 0;

    // Act
    await rollbackRdsMaster(
      { ...request(), managedDatabase: db } as unknown as Parameters<typeof rollbackRdsMaster>[0],
      {
        currentLogsIn: async () => {
          currentLogins++;
          return true;
        },
        pendingLogsIn: async () => true,
      },
      brisk,
    );

    // Assess
    expect([asked(), currentLogins]).toEqual([1, 1]);
    expect(set).toEqual([]);
  });

  it('rollback with neither password logging in and nothing pending resets only an adopted user', async () => {
    // Prepare
    const refused = { currentLogsIn: async () => false, pendingLogsIn: async () => false };
    const first = countingPort([false]);
    const second = countingPort([false]);

    // Act
    const unproven = await rollbackRdsMaster(
      { ...request(), managedDatabase: first.db } as unknown as Parameters<typeof rollbackRdsMaster>[0],
      refused,
      brisk,
    ).catch((e: unknown) => e);
    await rollbackRdsMaster(
      { ...request(['postgres']), managedDatabase: second.db } as unknown as Parameters<
        typeof rollbackRdsMaster
      >[0],
      refused,
      brisk,
    );

    // Assess
    expect(unproven).toBeInstanceOf(UnprovenUserError);
    expect(first.set).toEqual([]);
    expect(second.set).toEqual(['Current-password-1']);
  });
});
