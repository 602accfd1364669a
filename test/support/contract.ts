/**
 * The rotator contract suite: one set of assertions every rotator must pass, on a real target.
 *
 * Each engine's test file calls `describeRotatorContract` once per strategy with a fixture that
 * knows how to make a fresh account and how to check a login. The rotator is driven directly (no
 * Secrets Manager): the step machine's own suites cover the protocol; this covers the promises of
 * rotators/types.ts.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationFailedError, InvalidSecretError, RotorError } from '../../rotators/errors.js';
import type { AnyRotator, RequestBase } from '../../rotators/types.js';
import { TEST_SECRET_ARN } from './engines.js';

export interface ContractFixture {
  rotator: AnyRotator;
  /** Creates a fresh account on the target and returns the AWSCURRENT value for it. */
  freshSecret(): Promise<Record<string, unknown>>;
  /** The AWSCURRENT values of related secrets (masterarn, adminSecretArn) by id. */
  fetchRelated?(secretId: string): Promise<string>;
  /** Whether the credentials in a secret value log in (and are who they say). */
  canLogin(value: Record<string, unknown>): Promise<boolean>;
  /** Whether the current credentials still log in once the pending one is applied. */
  currentAfterApply: 'works' | 'fails';
  /** Values `parse` must refuse, and the field each must be blamed on. */
  invalid: readonly { name: string; value: (valid: Record<string, unknown>) => unknown; field: string }[];
  /** A description of the target's state that `test` must not change (e.g. password hashes). */
  snapshot(value: Record<string, unknown>): Promise<string>;
  /** A pending value the test step must reject (a wrong password, say). */
  wrongCredential(pending: Record<string, unknown>): Record<string, unknown>;
  /**
   * The strategy, for the promises every engine keeps alike for the same strategy
   * (`SAME_STRATEGY_SAME_BEHAVIOUR`).
   */
  strategy?: string;
  /** How many logins the target refused so far (the rotator's `connect` wrapped by `countRefusals`). */
  refusedLogins?(): number;
}

/**
 * What every engine does for the same strategy: a strategy whose apply stops AWSCURRENT restores
 * it on rollback; one that never touches it says `not-applicable`. (The SQL engines share their
 * strategies' names: README "Strategies".)
 */
export const SAME_STRATEGY_SAME_BEHAVIOUR: Readonly<
  Record<string, { rollback: 'restores' | 'not-applicable' }>
> = {
  'single-user': { rollback: 'restores' },
  'rds-master': { rollback: 'restores' },
  'alternating-users': { rollback: 'not-applicable' },
  'dual-password': { rollback: 'not-applicable' },
};

/**
 * Wraps a rotator's `connect` option to count the logins the server refused (each counts towards
 * lockout policies: MySQL's FAILED_LOGIN_ATTEMPTS, MariaDB's max_password_errors, PAM behind
 * PostgreSQL).
 */
export function countRefusals<A extends unknown[], R>(
  connect: (...args: A) => Promise<R>,
): { connect: (...args: A) => Promise<R>; refused(): number } {
  let refused = 0;
  return {
    connect: async (...args: A) => {
      try {
        return await connect(...args);
      } catch (error) {
        if (error instanceof AuthenticationFailedError) refused++;
        throw error;
      }
    },
    refused: () => refused,
  };
}

/** Every string a secret value holds that could be a credential. */
function secretsOf(value: Record<string, unknown>): string[] {
  return Object.entries(value)
    .filter(([key, v]) => typeof v === 'string' && /pass|key|secret|token/i.test(key))
    .map(([, v]) => v as string);
}

export function describeRotatorContract(
  name: string,
  makeFixture: () => ContractFixture | Promise<ContractFixture>,
) {
  describe(`rotator contract: ${name}`, () => {
    let fixture: ContractFixture;
    const errors: unknown[] = [];
    const seen: string[] = [];

    beforeAll(async () => {
      fixture = await makeFixture();
    });

    function request(step: RequestBase['step']): RequestBase {
      return {
        signal: AbortSignal.timeout(20_000),
        deadline: Date.now() + 20_000,
        token: randomUUID(),
        step,
        secretArn: TEST_SECRET_ARN,
        adopted: async () => [],
        fetchRelated: async (id) => {
          if (!fixture.fetchRelated) throw new Error(`unexpected related secret ${id}`);
          return fixture.fetchRelated(id);
        },
        fetchMaster: async (id) => {
          if (!fixture.fetchRelated) throw new Error(`unexpected master secret ${id}`);
          return { value: await fixture.fetchRelated(id) };
        },
      };
    }

    let counter = 0;
    function password(): string {
      counter++;
      const value = `Pw${counter}-${randomUUID().replaceAll('-', '')}`;
      seen.push(value);
      return value;
    }

    async function rotateToPending() {
      const currentValue = await fixture.freshSecret();
      seen.push(...secretsOf(currentValue));
      const current = fixture.rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
      const { pending: pendingValue } = await fixture.rotator.createPending({
        ...request('createSecret'),
        current,
        currentValue,
        generatePassword: password,
      });
      seen.push(...secretsOf(pendingValue));
      const pending = fixture.rotator.parse({ value: pendingValue, label: 'AWSPENDING' });
      return { currentValue, current, pendingValue, pending };
    }

    async function capture<T>(work: Promise<T>): Promise<T> {
      try {
        return await work;
      } catch (error) {
        errors.push(error);
        throw error;
      }
    }

    it('parse refuses each invalid value with an InvalidSecretError naming the field', async () => {
      // Prepare
      const valid = await fixture.freshSecret();
      seen.push(...secretsOf(valid));
      for (const bad of fixture.invalid) {
        // Act
        let thrown: unknown;
        try {
          fixture.rotator.parse({ value: bad.value(valid), label: 'AWSCURRENT' });
        } catch (error) {
          thrown = error;
          errors.push(error);
        }
        // Assess
        expect(thrown, bad.name).toBeInstanceOf(InvalidSecretError);
        expect((thrown as InvalidSecretError).field, bad.name).toBe(bad.field);
      }
    });

    it('createPending keeps unknown keys and produces a value that parses', async () => {
      // Prepare
      const currentValue = { ...(await fixture.freshSecret()), applicationKey: 'kept-as-is' };
      const current = fixture.rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
      // Act
      const { pending } = await fixture.rotator.createPending({
        ...request('createSecret'),
        current,
        currentValue,
        generatePassword: password,
      });
      // Assess
      expect(pending.applicationKey).toBe('kept-as-is');
      expect(() => fixture.rotator.parse({ value: pending, label: 'AWSPENDING' })).not.toThrow();
      expect(secretsOf(pending)).not.toEqual(secretsOf(currentValue));
    });

    it('apply makes the pending credential log in, and is idempotent', async () => {
      // Prepare
      const { currentValue, current, pendingValue, pending } = await rotateToPending();
      const apply = () =>
        capture(
          fixture.rotator.apply({
            ...request('setSecret'),
            current,
            pending,
            previous: async () => undefined,
          }),
        );
      // Act
      await apply();
      await apply();
      // Assess
      expect(await fixture.canLogin(pendingValue)).toBe(true);
      expect(await fixture.canLogin(currentValue)).toBe(fixture.currentAfterApply === 'works');
    });

    it('test passes for an applied pending credential and changes nothing', async () => {
      // Prepare
      const { currentValue, current, pendingValue, pending } = await rotateToPending();
      await fixture.rotator.apply({
        ...request('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      const before = await fixture.snapshot(pendingValue);
      // Act
      await capture(
        fixture.rotator.test({ ...request('testSecret'), pending, current: async () => current }),
      );
      // Assess
      expect(await fixture.snapshot(pendingValue)).toBe(before);
      expect(await fixture.canLogin(pendingValue)).toBe(true);
      expect(currentValue).toBeDefined();
    });

    it("test passes for a copy of the current value (Secrets Manager's configuration test)", async () => {
      // Prepare
      const currentValue = await fixture.freshSecret();
      seen.push(...secretsOf(currentValue));
      const current = fixture.rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
      const copy = fixture.rotator.parse({ value: { ...currentValue }, label: 'AWSPENDING' });
      // Act
      const response = await capture(
        fixture.rotator.test({ ...request('testSecret'), pending: copy, current: async () => current }),
      );
      // Assess: it resolved (a rejection fails the test above); nothing to warn about either.
      expect(response?.warnings ?? []).toEqual([]);
    });

    it('test fails for a wrong credential with a typed error', async () => {
      // Prepare
      const { current, pendingValue, pending } = await rotateToPending();
      await fixture.rotator.apply({
        ...request('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      const wrongValue = fixture.wrongCredential(pendingValue);
      seen.push(...secretsOf(wrongValue));
      const wrong = fixture.rotator.parse({ value: wrongValue, label: 'AWSPENDING' });
      const refusedBefore = fixture.refusedLogins?.();
      // Act
      const result = fixture.rotator.test({
        ...request('testSecret'),
        pending: wrong,
        current: async () => current,
      });
      // Assess
      await expect(result).rejects.toBeInstanceOf(RotorError);
      await result.catch((error: unknown) => errors.push(error));
      // The refusal counter is live (else "makes no login the target refuses" below could not fail).
      if (refusedBefore !== undefined) {
        expect((fixture.refusedLogins as () => number)() - refusedBefore).toBeGreaterThan(0);
      }
    });

    it('rollback makes the current credential log in again after apply, and is idempotent; a strategy whose apply stops AWSCURRENT must have one', async () => {
      // Prepare
      const { currentValue, current, pending } = await rotateToPending();
      await fixture.rotator.apply({
        ...request('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      const required = fixture.currentAfterApply === 'fails';
      if (required) expect(fixture.rotator.rollback, 'single-user strategies need a rollback').toBeDefined();
      if (!fixture.rotator.rollback) return;
      const rollback = () =>
        capture(
          (fixture.rotator.rollback as NonNullable<AnyRotator['rollback']>)({
            ...request('testSecret'),
            current,
            pending,
          }),
        );
      // Act
      const first = await rollback();
      await rollback();
      // Assess: only a strategy that keeps AWSCURRENT working may say it has no rollback.
      if (required) expect(first, 'single-user rollback is not optional').not.toBe('not-applicable');
      const promised = SAME_STRATEGY_SAME_BEHAVIOUR[fixture.strategy ?? '']?.rollback;
      if (promised !== undefined) {
        expect(first === 'not-applicable' ? 'not-applicable' : 'restores', fixture.strategy).toBe(promised);
      }
      if (first === 'not-applicable') return;
      expect(await fixture.canLogin(currentValue)).toBe(true);
    });

    it('a routine rotation (createPending, apply, test) makes no login the target refuses', async (context) => {
      // Prepare
      const counted = fixture.refusedLogins;
      if (counted === undefined) {
        context.skip();
        return;
      }
      const { current, pending } = await rotateToPending();
      const before = counted();
      // Act
      await capture(
        fixture.rotator.apply({ ...request('setSecret'), current, pending, previous: async () => undefined }),
      );
      await capture(
        fixture.rotator.test({ ...request('testSecret'), pending, current: async () => current }),
      );
      // Assess: a refused login counts towards lockout policies; only a failure may cause one.
      expect(counted() - before).toBe(0);
    });

    it('rollback succeeds and keeps the current credential working when nothing was applied', async () => {
      // Prepare
      const { currentValue, current, pending } = await rotateToPending();
      if (!fixture.rotator.rollback) return;
      // Act
      await capture(
        (fixture.rotator.rollback as NonNullable<AnyRotator['rollback']>)({
          ...request('testSecret'),
          current,
          pending,
        }),
      );
      // Assess
      expect(await fixture.canLogin(currentValue)).toBe(true);
    });

    it('finish, when the rotator has one, is idempotent', async () => {
      // Prepare
      const { current, pendingValue, pending } = await rotateToPending();
      await fixture.rotator.apply({
        ...request('setSecret'),
        current,
        pending,
        previous: async () => undefined,
      });
      if (!fixture.rotator.finish) return;
      const finish = () =>
        capture(
          (fixture.rotator.finish as NonNullable<AnyRotator['finish']>)({
            ...request('finishSecret'),
            current: pending,
            previous: async () => current,
          }),
        );
      // Act
      await finish();
      await finish();
      // Assess
      expect(await fixture.canLogin(pendingValue)).toBe(true);
    });

    it('no error raised in this suite contains a credential', () => {
      // Assess
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) {
        const text = [
          String(error),
          JSON.stringify(error),
          error instanceof Error ? (error.stack ?? '') : '',
          JSON.stringify((error as { cause?: unknown }).cause ?? null),
        ].join('\n');
        for (const value of seen)
          expect(text.includes(value), `error leaks a credential: ${error}`).toBe(false);
      }
    });
  });
}
