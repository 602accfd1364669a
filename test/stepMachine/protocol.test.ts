/**
 * The step machine against the local stack through the real SDK, with the fake rotator: one `it`
 * per protocol rule and failure mode.
 */
import { randomUUID } from 'node:crypto';
import {
  CancelRotateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { postgresRotator } from '../../rotators/postgres/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { captureStdout } from '../support/stdout.js';

const targets = new Map<string, FakeTarget>();
let h: RotationHarness;

beforeAll(async () => {
  h = await startRotationHarness({ rotators: [createFakeRotator(targets)] });
});

afterEach(async () => {
  await h.stack.idle();
  h.stack.secretsManager.clearFaults();
});

afterAll(async () => {
  await h.close();
});

/** A fake target with one account, and a secret for it. */
async function fixture(extra: Record<string, unknown> = {}, harness: RotationHarness = h) {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  target.addAccount('app', 'initial-password-1');
  targets.set(name, target);
  const value = { engine: 'fake', target: name, username: 'app', password: 'initial-password-1', ...extra };
  const arn = await harness.createSecret(value);
  return { arn, target, value };
}

const stagePending = (arn: string) => h.stagePending(arn);

async function caught(work: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await work;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure');
}

describe('step machine: a complete rotation', () => {
  it('rotates through RotateSecret: new password on the target, labels moved, events for every step', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const before = await h.labels(arn);
    const eventsBefore = h.rotorEvents().length;

    // Act
    await h.rotate(arn);

    // Assess
    const labels = await h.labels(arn);
    expect(labels.AWSCURRENT).not.toBe(before.AWSCURRENT);
    expect(labels.AWSPREVIOUS).toBe(before.AWSCURRENT);
    expect([undefined, labels.AWSCURRENT]).toContain(labels.AWSPENDING);
    const current = await h.value(arn);
    expect(current.password).not.toBe('initial-password-1');
    expect(() => target.login('app', current.password as string)).not.toThrow();
    expect(() => target.login('app', 'initial-password-1')).toThrow();
    const events = h
      .rotorEvents()
      .slice(eventsBefore)
      .filter((e) => e.detail.secretArn === arn);
    expect(events.map((e) => `${e.detailType}:${e.detail.step}`)).toEqual([
      'Rotation Step Succeeded:createSecret',
      'Rotation Step Succeeded:setSecret',
      'Rotation Step Succeeded:testSecret',
      'Rotation Step Succeeded:finishSecret',
      'Rotation Succeeded:finishSecret',
    ]);
    expect(events[0]?.detail).toMatchObject({
      secretArn: arn,
      versionId: labels.AWSCURRENT,
      engine: 'fake',
      strategy: 'single-user',
      attempt: 1,
    });
    expect(typeof events[0]?.detail.durationMs).toBe('number');
  });

  it('publishes one PutEvents per step by default, Rotation Succeeded in the same call as the last step', async () => {
    // Prepare
    const { arn } = await fixture();
    h.stack.eventBridge.resetCalls();

    // Act
    await h.rotate(arn);

    // Assess
    expect(h.stack.eventBridge.calls).toEqual({ PutEvents: 4 });
  });

  it('publishes Rotation Step Started before each outcome when configured', async () => {
    // Prepare
    const started = await startRotationHarness({
      rotators: [createFakeRotator(targets)],
      config: { stepStartedEvents: true },
    });
    try {
      const { arn } = await fixture({}, started);

      // Act
      await started.rotate(arn);

      // Assess
      const events = started.rotorEvents().filter((e) => e.detail.secretArn === arn);
      expect(events.map((e) => `${e.detailType}:${e.detail.step}`)).toEqual([
        'Rotation Step Started:createSecret',
        'Rotation Step Succeeded:createSecret',
        'Rotation Step Started:setSecret',
        'Rotation Step Succeeded:setSecret',
        'Rotation Step Started:testSecret',
        'Rotation Step Succeeded:testSecret',
        'Rotation Step Started:finishSecret',
        'Rotation Step Succeeded:finishSecret',
        'Rotation Succeeded:finishSecret',
      ]);
    } finally {
      await started.close();
    }
  });

  it('stores the pending value with VersionStages [AWSPENDING] and forwards the RotationToken', async () => {
    // Prepare
    const { arn } = await fixture();

    // Act
    await h.rotate(arn);

    // Assess
    const puts = h.stack.secretsManager.requests('PutSecretValue').filter((r) => r.input.SecretId === arn);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.input.VersionStages).toEqual(['AWSPENDING']);
    expect(typeof puts[0]?.input.RotationToken).toBe('string');
  });

  it('keeps keys it does not know and their representation', async () => {
    // Prepare
    const { arn } = await fixture({ applicationSetting: { pool: 5 }, port: '5432' });

    // Act
    await h.rotate(arn);

    // Assess
    const current = await h.value(arn);
    expect(current.applicationSetting).toEqual({ pool: 5 });
    expect(current.port).toBe('5432');
  });

  it('generates passwords with the configured policy', async () => {
    // Prepare
    const other = await startRotationHarness({
      rotators: [createFakeRotator(targets)],
      config: { passwordPolicy: { length: 48 } },
    });
    const name = `target-${randomUUID()}`;
    const target = new FakeTarget();
    target.addAccount('app', 'initial-password-1');
    targets.set(name, target);
    const arn = await other.createSecret({
      engine: 'fake',
      target: name,
      username: 'app',
      password: 'initial-password-1',
    });

    // Act
    await other.rotate(arn);

    // Assess
    const password = (await other.value(arn)).password as string;
    expect(password).toHaveLength(48);
    expect(password).toMatch(/^[A-Za-z0-9._-]+$/);
    await other.close();
  });
});

describe('step machine: replays', () => {
  it('createSecret replayed never generates a second value', async () => {
    // Prepare
    const { arn } = await fixture();
    const token = await stagePending(arn);
    await h.invoke('createSecret', arn, token);
    const first = await h.value(arn, 'AWSPENDING');

    // Act
    await h.invoke('createSecret', arn, token);

    // Assess
    expect(await h.value(arn, 'AWSPENDING')).toEqual(first);
    const versions = await h.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    expect(versions.Versions).toHaveLength(2);
  });

  it('setSecret and testSecret replayed succeed and leave the target as one run would', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const token = await stagePending(arn);
    await h.invoke('createSecret', arn, token);
    await h.invoke('setSecret', arn, token);
    const changes = target.changes.length;

    // Act
    await h.invoke('setSecret', arn, token);
    await h.invoke('testSecret', arn, token);
    await h.invoke('testSecret', arn, token);

    // Assess
    expect(target.changes.length).toBe(changes);
    const pending = await h.value(arn, 'AWSPENDING');
    expect(() => target.login('app', pending.password as string)).not.toThrow();
  });

  it('finishSecret replayed after promotion is a success that re-runs only the finish hook', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const token = await stagePending(arn);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) {
      await h.invoke(step, arn, token);
    }
    const labels = await h.labels(arn);

    // Act
    const outcome = await h.invoke('finishSecret', arn, token);

    // Assess
    expect(outcome.result).toBe('noop');
    expect(await h.labels(arn)).toEqual(labels);
    expect(target.changes.filter((c) => c.startsWith('finish'))).toHaveLength(2);
  });

  it('a step replayed for a token that is already AWSCURRENT does nothing', async () => {
    // Prepare
    const { arn, target } = await fixture();
    await h.rotate(arn);
    const { AWSCURRENT: token } = await h.labels(arn);
    const changes = target.changes.length;

    // Act
    const outcome = await h.invoke('setSecret', arn, token as string);

    // Assess
    expect(outcome.result).toBe('noop');
    expect(target.changes.length).toBe(changes);
  });
});

describe('step machine: crashes and retries', () => {
  it('a crash right after PutSecretValue is resumed by the retry with the value already stored', async () => {
    // Prepare: the put is applied, then the response is lost with an error the SDK does not retry.
    const { arn, target } = await fixture();
    h.stack.secretsManager.injectFault('PutSecretValue', {
      when: 'after',
      match: (input) => input.SecretId === arn,
      error: { type: 'AccessDeniedException', message: 'connection lost (injected)', status: 400 },
    });

    // Act
    await h.rotate(arn);

    // Assess
    const rotation = h.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1);
    expect(rotation?.status).toBe('succeeded');
    expect(rotation?.attempts.length).toBe(2);
    const versions = await h.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    expect(versions.Versions).toHaveLength(2);
    const current = await h.value(arn);
    expect(() => target.login('app', current.password as string)).not.toThrow();
  });

  it('a crash right after the password changed is resumed: setSecret sees the change already applied', async () => {
    // Prepare
    const { arn, target } = await fixture();
    let crashed = false;
    const original = target.setPassword.bind(target);
    target.setPassword = (username, password) => {
      original(username, password);
      if (!crashed) {
        crashed = true;
        throw new Error('Lambda died after the change (injected)');
      }
    };

    // Act
    await h.rotate(arn);

    // Assess
    const current = await h.value(arn);
    expect(() => target.login('app', current.password as string)).not.toThrow();
    expect(target.changes.filter((c) => c.startsWith('set'))).toHaveLength(1);
  });
});

describe('step machine: refusals', () => {
  it('refuses a token that is not AWSPENDING', async () => {
    // Prepare
    const { arn } = await fixture();
    await h.rotate(arn);
    const { AWSPREVIOUS: previous } = await h.labels(arn);

    // Act
    const error = await caught(h.invoke('setSecret', arn, previous as string));

    // Assess
    expect(error.name).toBe('StageConflictError');
    expect(error.message).toContain('version not set as AWSPENDING');
    expect(error.message).toContain(arn);
  });

  it('refuses a token with no stage on the secret', async () => {
    // Prepare
    const { arn } = await fixture();
    await stagePending(arn);

    // Act
    const error = await caught(h.invoke('createSecret', arn, randomUUID()));

    // Assess
    expect(error.name).toBe('StageConflictError');
    expect(error.message).toContain('version has no stage for rotation');
  });

  it('refuses a secret whose rotation is disabled', async () => {
    // Prepare
    const { arn } = await fixture();
    const token = await stagePending(arn);
    await h.sm.send(new CancelRotateSecretCommand({ SecretId: arn }));

    // Act
    const error = await caught(h.invoke('createSecret', arn, token));

    // Assess
    expect(error.name).toBe('RotationNotEnabledError');
    expect(error.message).toContain('secret is not enabled for rotation');
  });

  it('refuses an engine this function has no rotator for, and changes nothing', async () => {
    // Prepare
    const arn = await h.createSecret({ engine: 'oracle', host: 'db', username: 'u', password: 'p4ssw0rd-x' });
    const token = await stagePending(arn);

    // Act
    const error = await caught(h.invoke('createSecret', arn, token));

    // Assess
    expect(error.name).toBe('UnknownEngineError');
    expect(error.message).toContain('"oracle"');
    await expect(
      h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' })),
    ).rejects.toThrow(/can't find/);
  });

  it.each(['copy-of-current', 'empty'] as const)(
    'passes a configuration test (RotateImmediately: false) whatever the temporary AWSPENDING holds (%s: AWS does not document it)',
    async (configurationTestPending) => {
      // Prepare
      const local = await startRotationHarness({
        rotators: [createFakeRotator(targets)],
        stack: { rotation: { configurationTestPending } },
      });
      try {
        const { arn, target } = await fixture({}, local);
        const before = await local.labels(arn);

        // Act
        await local.rotate(arn, { rotateImmediately: false });

        // Assess
        const record = local.stack.rotations.history.findLast((entry) => entry.secretArn === arn);
        expect(record?.kind).toBe('test');
        expect(record?.status).toBe('succeeded');
        expect(await local.labels(arn)).toEqual(before);
        expect(() => target.login('app', 'initial-password-1')).not.toThrow();
      } finally {
        await local.close();
      }
    },
  );

  it('names the engines of the function that was invoked, not of every function, when it refuses an engine', async () => {
    // Prepare: a PostgreSQL-only function (as deployed) and a MySQL secret configured to it.
    const postgresOnly = await startRotationHarness({ rotators: [postgresRotator] });
    try {
      const arn = await postgresOnly.createSecret({
        engine: 'mysql',
        host: '127.0.0.1',
        username: 'app',
        password: 'p4ssw0rd-x',
      });
      const token = await postgresOnly.stagePending(arn);

      // Act
      const error = await caught(postgresOnly.invoke('createSecret', arn, token));

      // Assess
      expect(error.name).toBe('UnknownEngineError');
      expect(error.message).toContain(
        'no rotator for engine "mysql" in this function (it rotates: postgres, aurora-postgresql)',
      );
      expect(error.message).not.toMatch(/mariadb|apikey|fake/);
    } finally {
      await postgresOnly.close();
    }
  });

  it.each([
    ['not JSON', 'this is { not json', '(json)'],
    ['a JSON array', '[1,2]', '(json)'],
    ['a missing field', JSON.stringify({ engine: 'fake', target: 't', password: 'p4ssw0rd-x' }), 'username'],
    [
      'a wrong type',
      JSON.stringify({ engine: 'fake', target: 't', username: 7, password: 'p4ssw0rd-x' }),
      'username',
    ],
  ])(
    'refuses a secret value that is %s with an InvalidSecretError naming the field',
    async (_name, text, field) => {
      // Prepare
      const { arn } = await fixture();
      await h.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: text }));
      const token = await stagePending(arn);

      // Act
      const error = await caught(h.invoke('createSecret', arn, token));

      // Assess
      expect(error.name).toBe('InvalidSecretError');
      expect(error.field).toBe(field);
      expect(error.message).toContain(arn);
      expect(error.message).toContain('createSecret');
      expect(error.message).not.toContain('p4ssw0rd-x');
      await expect(
        h.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' })),
      ).rejects.toThrow();
    },
  );

  it('refuses a pending value whose engine differs from AWSCURRENT', async () => {
    // Prepare
    const { arn, value } = await fixture();
    const token = await stagePending(arn);
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: JSON.stringify({ ...value, engine: 'oracle' }),
        VersionStages: ['AWSPENDING'],
      }),
    );

    // Act
    const error = await caught(h.invoke('setSecret', arn, token));

    // Assess
    expect(error.name).toBe('InvalidSecretError');
    expect(error.field).toBe('engine');
  });

  it('refuses setSecret before createSecret stored a value', async () => {
    // Prepare
    const { arn } = await fixture();
    const token = await stagePending(arn);

    // Act
    const error = await caught(h.invoke('setSecret', arn, token));

    // Assess
    expect(error.name).toBe('VersionNotFoundError');
  });

  it('refuses a malformed event', async () => {
    // Act
    const error = await caught(
      h.handler({ Step: 'rotateAll', SecretId: 'x' }, { getRemainingTimeInMillis: () => 30_000 }),
    );

    // Assess
    expect(error.name).toBe('InvalidEventError');
    expect(error.field).toBe('Step');
  });

  it('fails with DeadlineExceededError when the Lambda has no time left', async () => {
    // Prepare
    const { arn } = await fixture();
    const token = await stagePending(arn);

    // Act
    const error = await caught(
      h.handler(
        { Step: 'createSecret', SecretId: arn, ClientRequestToken: token },
        { getRemainingTimeInMillis: () => 1 },
      ),
    );

    // Assess
    expect(error.name).toBe('DeadlineExceededError');
  });
});

describe('step machine: a failing testSecret', () => {
  it('leaves AWSCURRENT working, emits a failure event for testSecret and the TestSecretFailed metric', async () => {
    // Prepare
    const loud = await startRotationHarness({
      rotators: [createFakeRotator(targets)],
      config: { metricsEnabled: true, logLevel: 'SILENT' },
    });
    const { arn, target } = await fixture({ breakTest: true }, loud);
    const before = await loud.labels(arn);
    const stdout = captureStdout();

    // Act
    await loud.rotate(arn);
    const output = stdout.stop();

    // Assess
    const labels = await loud.labels(arn);
    expect(labels.AWSCURRENT).toBe(before.AWSCURRENT);
    expect((await loud.value(arn)).password).toBe('initial-password-1');
    expect(labels.AWSPENDING).toBeDefined();
    expect(labels.AWSPENDING).not.toBe(labels.AWSCURRENT);
    const failures = loud.rotorEvents().filter((e) => e.detailType === 'Rotation Step Failed');
    expect(failures.length).toBe(3); // one per attempt
    expect(failures[0]?.detail).toMatchObject({
      secretArn: arn,
      step: 'testSecret',
      error: { name: 'VerificationFailedError' },
      rolledBack: true,
    });
    expect(failures.map((f) => f.detail.attempt)).toEqual([1, 2, 3]);
    const emf = output
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf.filter((m) => m.TestSecretFailed === 1)).toHaveLength(3);
    // Single-user replaced the only password in setSecret: the rollback hook put it back.
    expect(() => target.login('app', 'initial-password-1')).not.toThrow();
    await loud.close();
  });
});

describe('step machine: createSecret without a read first', () => {
  it('a value stored first wins; a discard that fails is noted, not a failed step, and the stored value is kept', async () => {
    // Prepare: a rotator that mints elsewhere (no createPendingChangesNothing) and whose discard
    // fails; a value is already stored under the token (a concurrent or lost-response attempt).
    const discardTargets = new Map<string, FakeTarget>();
    const discarded: unknown[] = [];
    const { createPendingChangesNothing: _reads, ...fake } = createFakeRotator(discardTargets);
    const rotator = {
      ...fake,
      discard: async (request: unknown) => {
        discarded.push(request);
        throw new Error('provider unreachable (injected)');
      },
    };
    const harness = await startRotationHarness({ rotators: [rotator] });
    try {
      const { arn, value } = await fixture({}, harness);
      discardTargets.set(value.target as string, targets.get(value.target as string) as FakeTarget);
      const token = await harness.stagePending(arn);
      const stored = { ...value, password: 'stored-first-password-1' };
      await harness.sm.send(
        new PutSecretValueCommand({
          SecretId: arn,
          ClientRequestToken: token,
          SecretString: JSON.stringify(stored),
          VersionStages: ['AWSPENDING'],
        }),
      );

      // Act
      const outcome = await harness.invoke('createSecret', arn, token);

      // Assess: the step succeeded, ours was offered to discard, the stored value stands.
      expect(outcome.result).not.toBe('failed');
      expect(discarded).toHaveLength(1);
      expect((await harness.value(arn, 'AWSPENDING')).password).toBe('stored-first-password-1');
    } finally {
      await harness.close();
    }
  });
});
