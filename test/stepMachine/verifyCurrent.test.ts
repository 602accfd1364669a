/**
 * What a failed step says about AWSCURRENT (`currentVerified`), and what a setSecret that had to
 * log in with AWSPREVIOUS says (`fallback`): the step machine's part, with the fake rotator on the
 * local stack. The engines' parts run on real servers (test/postgres, test/mysql rotation suites).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import type { FakeSecret } from '../../rotators/fake/secret.js';
import type { ApplyResponse, Rotator } from '../../rotators/types.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { captureStdout } from '../support/stdout.js';

const targets = new Map<string, FakeTarget>();
const fake = createFakeRotator(targets);
/** What the wrapped apply reports (per target name), and targets whose test throws a plain Error. */
const reports = new Map<string, unknown>();
const crashingTests = new Set<string>();
const wrapped: Rotator<FakeSecret> = {
  ...fake,
  async apply(request) {
    await fake.apply(request);
    return reports.get(request.current.target) as ApplyResponse | undefined;
  },
  async test(request) {
    if (crashingTests.has(request.pending.target)) throw new Error('a driver bug, not a rotor error');
    return fake.test(request);
  },
};
let h: RotationHarness;

beforeAll(async () => {
  h = await startRotationHarness({ rotators: [wrapped], config: { logLevel: 'INFO' } });
});

afterAll(async () => {
  await h.close();
});

// The function logs at INFO (two tests read its lines): keep them out of the test report.
let quiet: { stop(): string } | undefined;
beforeEach(() => {
  quiet = captureStdout();
});
afterEach(() => {
  quiet?.stop();
});

async function fixture() {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  const password = `initial-${randomUUID()}`;
  target.addAccount('app', password);
  targets.set(name, target);
  const arn = await h.createSecret({ engine: 'fake', target: name, username: 'app', password });
  return { arn, target, name, password };
}

/** A rotation stopped after createSecret, as Secrets Manager leaves it before setSecret. */
async function createdPending(arn: string): Promise<string> {
  const token = await h.stagePending(arn);
  await h.invoke('createSecret', arn, token);
  return token;
}

function failures(arn: string) {
  return h.rotorEvents().filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.secretArn === arn);
}

function logLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('currentVerified after a failed step', () => {
  it('is true in the event and the log line when setSecret failed but AWSCURRENT still logs in', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const token = await createdPending(arn);
    target.faults.add('failApply');
    const stdout = captureStdout();
    // Act
    const error = await h.invoke('setSecret', arn, token).catch((caught: unknown) => caught);
    const output = stdout.stop();
    // Assess
    expect((error as Error).name).toBe('TargetUnreachableError');
    const [failure] = failures(arn);
    expect(failure?.detail).toMatchObject({ step: 'setSecret', currentVerified: true });
    const line = logLines(output).find((l) => l.message === 'step failed' && l.secretArn === arn);
    expect(line).toMatchObject({ step: 'setSecret', currentVerified: true });
  });

  it('is false when the test failed and AWSCURRENT no longer logs in either', async () => {
    // Prepare: AWSCURRENT's password was changed on the target behind rotor's back.
    const { arn, target } = await fixture();
    const token = await createdPending(arn);
    target.addAccount('app', `elsewhere-${randomUUID()}`);
    // Act
    const error = await h.invoke('setSecret', arn, token).catch((caught: unknown) => caught);
    // Assess
    expect((error as Error).name).toBe('AuthenticationFailedError');
    expect(failures(arn)[0]?.detail).toMatchObject({ step: 'setSecret', currentVerified: false });
  });

  it('is absent when the target cannot be reached, and the step error is unchanged', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const token = await createdPending(arn);
    target.faults.add('unreachable');
    // Act
    const error = await h.invoke('setSecret', arn, token).catch((caught: unknown) => caught);
    // Assess
    expect((error as Error).name).toBe('TargetUnreachableError');
    const [failure] = failures(arn);
    expect(failure?.detail.step).toBe('setSecret');
    expect(failure?.detail).not.toHaveProperty('currentVerified');
  });

  it('is absent, and the step error unchanged, when the check itself throws something unexpected', async () => {
    // Prepare: apply fails; the rotator's test then throws a plain Error.
    const { arn, target, name } = await fixture();
    const token = await createdPending(arn);
    target.faults.add('failApply');
    crashingTests.add(name);
    // Act
    const error = await h.invoke('setSecret', arn, token).catch((caught: unknown) => caught);
    // Assess
    expect((error as Error).name).toBe('TargetUnreachableError');
    const [failure] = failures(arn);
    expect(failure?.detail.error).toMatchObject({ name: 'TargetUnreachableError' });
    expect(failure?.detail).not.toHaveProperty('currentVerified');
  });

  it('is absent when too little of the deadline is left to check', async () => {
    // Prepare: the same failure as the first test, with 300 ms of budget (1.5 s margin + 0.3 s).
    const { arn, target } = await fixture();
    const token = await createdPending(arn);
    target.faults.add('failApply');
    const loginsBefore = target.logins;
    // Act
    await h
      .handler(
        { Step: 'setSecret', SecretId: arn, ClientRequestToken: token },
        { getRemainingTimeInMillis: () => 1_800 },
      )
      .catch(() => undefined);
    // Assess
    const [failure] = failures(arn);
    expect(failure?.detail.step).toBe('setSecret');
    expect(failure?.detail).not.toHaveProperty('currentVerified');
    // apply logged in at most twice (pending, then current); the check never logged in.
    expect(target.logins - loginsBefore).toBeLessThanOrEqual(2);
  });

  it('is checked when setSecret finds no pending value (the secret, not the event, is at fault)', async () => {
    // Prepare: AWSPENDING staged, createSecret never ran.
    const { arn } = await fixture();
    const token = await h.stagePending(arn);
    // Act
    const error = await h.invoke('setSecret', arn, token).catch((caught: unknown) => caught);
    // Assess
    expect((error as Error).name).toBe('VersionNotFoundError');
    expect(failures(arn).at(-1)?.detail).toMatchObject({ step: 'setSecret', currentVerified: true });
  });

  for (const pending of ['copy-of-current', 'empty'] as const) {
    it(`is false for a failed configuration test (AWSPENDING ${pending}); with no pending value, its own test was AWSCURRENT's and is not run again`, async () => {
      // Prepare: a probe that fails for every credential of this secret.
      const harness = await startRotationHarness({
        rotators: [wrapped],
        stack: { rotation: { configurationTestPending: pending } },
      });
      try {
        const name = `target-${randomUUID()}`;
        const target = new FakeTarget();
        target.addAccount('app', 'initial');
        targets.set(name, target);
        const arn = await harness.createSecret({
          engine: 'fake',
          target: name,
          username: 'app',
          password: 'initial',
          breakTest: true,
        });
        // Act
        await harness.rotate(arn, { rotateImmediately: false });
        // Assess
        const tests = harness
          .rotorEvents()
          .filter((e) => e.detailType === 'Rotation Step Failed' && e.detail.step === 'testSecret');
        expect(tests.length).toBeGreaterThan(0);
        for (const failure of tests) expect(failure.detail).toMatchObject({ currentVerified: false });
        // The fake's failing test never logs in; only the rollback after a failed pending test does.
        expect(target.logins).toBe(pending === 'empty' ? 0 : tests.length);
      } finally {
        await harness.close();
      }
    });
  }

  it('is not checked for a stage conflict', async () => {
    // Prepare: a token the secret does not have.
    const { arn, target } = await fixture();
    await createdPending(arn);
    const loginsBefore = target.logins;
    // Act
    const error = await h.invoke('setSecret', arn, randomUUID()).catch((caught: unknown) => caught);
    // Assess
    expect((error as Error).name).toBe('StageConflictError');
    expect(failures(arn).at(-1)?.detail).not.toHaveProperty('currentVerified');
    expect(target.logins).toBe(loginsBefore);
  });
});

describe('fallback reported by apply', () => {
  it('puts fallback and warnings into the setSecret event and its log line', async () => {
    // Prepare
    const { arn, name } = await fixture();
    reports.set(name, { fallback: 'AWSPREVIOUS', warnings: ['logged in with AWSPREVIOUS'] });
    const stdout = captureStdout();
    // Act
    await h.rotate(arn);
    const output = stdout.stop();
    // Assess
    const succeeded = h
      .rotorEvents()
      .filter((e) => e.detailType === 'Rotation Step Succeeded' && e.detail.secretArn === arn);
    expect(succeeded.map((e) => [e.detail.step, e.detail.fallback ?? null])).toEqual([
      ['createSecret', null],
      ['setSecret', 'AWSPREVIOUS'],
      ['testSecret', null],
      ['finishSecret', null],
    ]);
    expect(succeeded[1]?.detail.warnings).toEqual(['logged in with AWSPREVIOUS']);
    const line = logLines(output).find(
      (l) => l.message === 'step succeeded' && l.secretArn === arn && l.step === 'setSecret',
    );
    expect(line).toMatchObject({ fallback: 'AWSPREVIOUS', warnings: ['logged in with AWSPREVIOUS'] });
  });

  it('drops a fallback value the contract does not define', async () => {
    // Prepare
    const { arn, name } = await fixture();
    reports.set(name, { fallback: 'AWSCURRENT' });
    // Act
    await h.rotate(arn);
    // Assess
    const set = h
      .rotorEvents()
      .find(
        (e) =>
          e.detailType === 'Rotation Step Succeeded' &&
          e.detail.secretArn === arn &&
          e.detail.step === 'setSecret',
      );
    expect(set?.detail.result).toBe('done');
    expect(set?.detail).not.toHaveProperty('fallback');
  });
});
