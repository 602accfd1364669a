/**
 * What only the local stack has: RotateSecret driving a registered function step by step, the
 * way Secrets Manager drives a Lambda (asynchronous start, retries with the same token, stuck
 * AWSPENDING, configuration tests, cancellation, AWS's own rotation events, the schedule).
 */
import {
  CancelRotateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultRotationSettings } from '../../local/rotations.js';
import { eventually, failure, gate, protocolFunction, startTestStack, type TestStack } from './support.js';

const DAY_MS = 86_400_000;
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterEach(async () => {
  await t.stack.idle();
});

afterAll(async () => {
  await t.close();
});

/** Registers a protocol function under a fresh name and returns its ARN and invocations. */
function register(behaviour: Parameters<typeof protocolFunction>[1] = {}, sm = t.sm) {
  const { fn, invocations } = protocolFunction(sm, behaviour);
  const name = `rotator-${globalThis.crypto.randomUUID().slice(0, 8)}`;
  const arn = t.stack.registerFunction(name, fn);
  return { arn, name, invocations };
}

async function rotate(
  secretId: string,
  lambdaArn: string,
  extra: { token?: string; immediately?: boolean } = {},
) {
  return t.sm.send(
    new RotateSecretCommand({
      SecretId: secretId,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 7 },
      ...(extra.token === undefined ? {} : { ClientRequestToken: extra.token }),
      ...(extra.immediately === undefined ? {} : { RotateImmediately: extra.immediately }),
    }),
  );
}

function failingAt(step: string, times = Number.POSITIVE_INFINITY) {
  let failures = 0;
  return (current: string) => {
    if (current === step && failures < times) {
      failures += 1;
      throw new Error(`${step} failed on purpose`);
    }
  };
}

describe('RotateSecret', () => {
  it('invokes createSecret, setSecret, testSecret, finishSecret in order, with the ARN, token and a RotationToken', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    const out = await rotate(arn, fn.arn);
    await t.stack.idle();

    // Assess
    expect(fn.invocations.map((call) => call.event.Step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    for (const call of fn.invocations) {
      expect(call.event.SecretId).toBe(arn);
      expect(call.event.ClientRequestToken).toBe(out.VersionId);
      expect(call.event.RotationToken).toBe(fn.invocations[0]?.event.RotationToken);
    }
    expect(fn.invocations[0]?.event.RotationToken).toMatch(/^[0-9a-f]{64}$/);
  });

  it('returns before the rotation runs, with an empty version labelled AWSPENDING', async () => {
    // Prepare
    const arn = await t.createSecret();
    const held = gate();
    const fn = register({ during: () => held.wait });

    // Act
    const out = await rotate(arn, fn.arn);
    const labelsWhileRunning = await t.labels(arn);
    const pendingRead = await failure(() =>
      t.sm.send(
        new GetSecretValueCommand({ SecretId: arn, VersionId: out.VersionId, VersionStage: 'AWSPENDING' }),
      ),
    );
    held.open();

    // Assess
    expect(out.ARN).toBe(arn);
    expect(labelsWhileRunning.AWSPENDING).toBe(out.VersionId);
    expect(pendingRead.name).toBe('ResourceNotFoundException');
    expect(pendingRead.message).toBe(
      "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    );
  });

  it('ends with the token AWSCURRENT (AWSPENDING left on it, as the real service does), the old version AWSPREVIOUS', async () => {
    // Prepare
    const arn = await t.createSecret();
    const before = await t.labels(arn);
    const fn = register();

    // Act
    const out = await rotate(arn, fn.arn);
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(record?.status).toBe('succeeded');
    expect(await t.labels(arn)).toEqual({
      AWSCURRENT: out.VersionId,
      AWSPENDING: out.VersionId,
      AWSPREVIOUS: before.AWSCURRENT,
    });
    const value = await t.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(value.SecretString).toBe(JSON.stringify({ password: `rotated-${out.VersionId}` }));
  });

  it('takes AWSPENDING off the new version when configured to', async () => {
    // Prepare
    const other = await startTestStack({ rotation: { backoffMs: 0, clearPendingOnSuccess: true } });
    const arn = await other.createSecret();
    const fn = other.stack.registerFunction('fn-clear', protocolFunction(other.sm).fn);

    // Act
    const out = await other.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: fn }));
    await other.stack.idle();

    // Assess
    const described = await other.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.VersionIdsToStages?.[out.VersionId ?? '']).toEqual(['AWSCURRENT']);
    await other.close();
  });

  it('uses the ClientRequestToken given as the new VersionId', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();
    const token = globalThis.crypto.randomUUID();

    // Act
    const out = await rotate(arn, fn.arn, { token });
    await t.stack.idle();

    // Assess
    expect(out.VersionId).toBe(token);
    expect((await t.labels(arn)).AWSCURRENT).toBe(token);
  });

  it('records RotationEnabled, the function, the rules, LastRotatedDate and NextRotationDate', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    await rotate(arn, fn.arn);
    await t.stack.idle();

    // Assess
    const described = await t.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.RotationEnabled).toBe(true);
    expect(described.RotationLambdaARN).toBe(fn.arn);
    expect(described.RotationRules).toEqual({ AutomaticallyAfterDays: 7 });
    const rotatedAt = described.LastRotatedDate?.getTime() ?? 0;
    expect(Date.now() - rotatedAt).toBeLessThan(5000);
    expect(described.NextRotationDate?.getTime()).toBe(rotatedAt + 7 * DAY_MS);
  });

  it('hands the function a Lambda context whose remaining time counts down from the timeout', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    await rotate(arn, fn.arn);
    await t.stack.idle();

    // Assess
    const first = fn.invocations[0];
    expect(first?.functionName).toBe(fn.name);
    expect(first?.invokedFunctionArn).toBe(fn.arn);
    expect(first?.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(first?.remainingMs).toBeGreaterThan(29_000);
    expect(first?.remainingMs).toBeLessThanOrEqual(30_000);
    expect(new Set(fn.invocations.map((call) => call.awsRequestId)).size).toBe(4);
  });

  it('resolves the function by name as well as by ARN', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    await rotate(arn, fn.name);
    await t.stack.idle();

    // Assess
    expect(fn.invocations).toHaveLength(4);
  });

  it('refuses a function that is not registered with AccessDeniedException', async () => {
    // Prepare
    const arn = await t.createSecret();

    // Act
    const error = await failure(() => rotate(arn, t.stack.functionArn('not-registered')));

    // Assess
    expect(error.name).toBe('AccessDeniedException');
    expect(error.message).toBe(
      'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
    );
  });
});

describe('retries', () => {
  it('retries the whole rotation from createSecret with the same token after a failed step', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register({ during: failingAt('testSecret', 1) });

    // Act
    const out = await rotate(arn, fn.arn);
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(record?.status).toBe('succeeded');
    expect(record?.attempts.map((attempt) => attempt.outcome)).toEqual(['failed', 'succeeded']);
    expect(record?.attempts[0]?.steps.map((step) => `${step.step}:${step.outcome}`)).toEqual([
      'createSecret:succeeded',
      'setSecret:succeeded',
      'testSecret:failed',
    ]);
    expect(record?.attempts[0]?.error).toEqual({ name: 'Error', message: 'testSecret failed on purpose' });
    expect(fn.invocations.map((call) => call.event.Step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    expect(new Set(fn.invocations.map((call) => call.event.ClientRequestToken))).toEqual(
      new Set([out.VersionId]),
    );
    expect((await t.labels(arn)).AWSCURRENT).toBe(out.VersionId);
  });

  it('gives up after the configured attempts and leaves AWSPENDING on the token (a stuck rotation)', async () => {
    // Prepare
    const arn = await t.createSecret();
    const before = await t.labels(arn);
    const fn = register({ during: failingAt('setSecret') });

    // Act
    const out = await rotate(arn, fn.arn);
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(record?.status).toBe('failed');
    expect(record?.attempts).toHaveLength(defaultRotationSettings.attempts);
    expect(await t.labels(arn)).toEqual({ AWSCURRENT: before.AWSCURRENT, AWSPENDING: out.VersionId });
    expect((await t.sm.send(new DescribeSecretCommand({ SecretId: arn }))).LastRotatedDate).toBeUndefined();
  });

  it.each([1, 2, 5])(
    'retries as many times as configured (attempts: %i): the count is an inference, not documented',
    async (attempts) => {
      // Prepare
      const counted = await startTestStack({ rotation: { attempts, backoffMs: 0 } });
      try {
        const { fn } = protocolFunction(counted.sm);
        const functionArn = counted.stack.registerFunction('counted-attempts', async (event, context) => {
          if (event.Step === 'setSecret') throw new Error('setSecret fails');
          return fn(event, context);
        });
        const arn = await counted.createSecret();

        // Act
        const out = await counted.sm.send(
          new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }),
        );
        const record = await counted.stack.waitForRotation(arn, out.VersionId ?? '');

        // Assess
        expect(record?.status).toBe('failed');
        expect(record?.attempts).toHaveLength(attempts);
      } finally {
        await counted.close();
      }
    },
  );

  it('counts a finishSecret that did not promote the token as a failed attempt', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register({ skipPromotion: true });

    // Act
    const out = await rotate(arn, fn.arn);
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(record?.status).toBe('failed');
    expect(record?.attempts[0]?.error).toEqual({
      name: 'RotationNotFinished',
      message: `finishSecret returned but version ${out.VersionId} is not AWSCURRENT`,
    });
  });

  it('fails a step that outlives the function timeout', async () => {
    // Prepare
    // A limit far above what createSecret takes on a loaded 2-core machine, far below the pause.
    const slow = await startTestStack({ rotation: { timeoutMs: 1_000, attempts: 1 } });
    const { fn } = protocolFunction(slow.sm, {
      during: (step) =>
        step === 'setSecret' ? new Promise((resolve) => setTimeout(resolve, 3_000)) : undefined,
    });
    const functionArn = slow.stack.registerFunction('slow', fn);
    const arn = await slow.createSecret();

    // Act
    const out = await slow.sm.send(
      new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }),
    );
    const record = await slow.stack.waitForRotation(arn, out.VersionId ?? '');
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await slow.close();

    // Assess
    const step = record?.attempts[0]?.steps[1];
    expect(step?.outcome).toBe('timedOut');
    expect(step?.error).toEqual({ name: 'Sandbox.Timedout', message: 'Task timed out after 1.00 seconds' });
    expect(record?.status).toBe('failed');
  });
});

describe('stuck rotations', () => {
  it('refuses another RotateSecret with "A previous rotation isn\'t complete" and reattempts the stuck one', async () => {
    // Prepare
    const arn = await t.createSecret();
    let broken = true;
    const fn = register({
      during: (step) => (broken && step === 'setSecret' ? Promise.reject(new Error('down')) : undefined),
    });
    const stuck = await rotate(arn, fn.arn);
    await t.stack.idle();
    broken = false;

    // Act
    const error = await failure(() => rotate(arn, fn.arn));
    await t.stack.idle();

    // Assess
    expect(error.name).toBe('InvalidRequestException');
    expect(error.message).toBe("A previous rotation isn't complete. That rotation will be reattempted.");
    const reattempt = t.stack.rotations.history.filter((record) => record.secretArn === arn).at(-1);
    expect(reattempt?.trigger).toBe('reattempt');
    expect(reattempt?.token).toBe(stuck.VersionId);
    expect(reattempt?.status).toBe('succeeded');
    expect((await t.labels(arn)).AWSCURRENT).toBe(stuck.VersionId);
  });

  it('does not reattempt in the background when reattemptStuck is off', async () => {
    // Prepare
    const quiet = await startTestStack({ rotation: { reattemptStuck: false, attempts: 1 } });
    const { fn, invocations } = protocolFunction(quiet.sm, { during: failingAt('createSecret') });
    const functionArn = quiet.stack.registerFunction('broken', fn);
    const arn = await quiet.createSecret();
    await quiet.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await quiet.stack.idle();

    // Act
    const error = await failure(() => quiet.sm.send(new RotateSecretCommand({ SecretId: arn })));
    await quiet.stack.idle();
    await quiet.close();

    // Assess
    expect(error.name).toBe('InvalidRequestException');
    expect(invocations).toHaveLength(1);
    expect(quiet.stack.rotations.history).toHaveLength(1);
  });

  it('RotateSecret with the stuck token reattempts that rotation', async () => {
    // Prepare
    const arn = await t.createSecret();
    let broken = true;
    const fn = register({
      during: (step) => (broken && step === 'testSecret' ? Promise.reject(new Error('down')) : undefined),
    });
    const stuck = await rotate(arn, fn.arn);
    await t.stack.idle();
    broken = false;

    // Act
    const again = await rotate(arn, fn.arn, { token: stuck.VersionId ?? '' });
    const record = await t.stack.waitForRotation(arn, stuck.VersionId ?? '');

    // Assess
    expect(again.VersionId).toBe(stuck.VersionId);
    expect(record?.status).toBe('succeeded');
    expect((await t.labels(arn)).AWSCURRENT).toBe(stuck.VersionId);
  });

  it('a value put by hand abandons the stuck rotation: AWSPENDING removed, RotationAbandoned reported', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register({ during: failingAt('createSecret') });
    const stuck = await rotate(arn, fn.arn);
    await t.stack.idle();

    // Act
    const manual = await t.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: '{"password":"by hand"}' }),
    );

    // Assess
    const labels = await t.labels(arn);
    expect(labels.AWSCURRENT).toBe(manual.VersionId);
    expect(labels.AWSPENDING).toBeUndefined();
    const abandoned = t.stack.eventBridge.find({
      source: 'aws.secretsmanager',
      eventName: 'RotationAbandoned',
    });
    expect(abandoned.map((event) => JSON.parse(event.detail).additionalEventData)).toContainEqual({
      SecretId: arn,
    });
    expect(stuck.VersionId).not.toBe(manual.VersionId);
  });
});

describe('RotateImmediately: false', () => {
  it('runs only testSecret against a temporary AWSPENDING copy of the current value, then removes it', async () => {
    // Prepare
    const arn = await t.createSecret('{"password":"current"}');
    const before = await t.labels(arn);
    const seen: string[] = [];
    const fn = register({
      during: async (step) => {
        const pending = await t.sm.send(
          new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' }),
        );
        seen.push(`${step}:${pending.SecretString}`);
      },
    });

    // Act
    const out = await rotate(arn, fn.arn, { immediately: false });
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(seen).toEqual(['testSecret:{"password":"current"}']);
    expect(record?.kind).toBe('test');
    expect(record?.status).toBe('succeeded');
    expect(await t.labels(arn)).toEqual(before);
    const described = await t.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.RotationEnabled).toBe(true);
    expect(Object.keys(described.VersionIdsToStages ?? {})).not.toContain(out.VersionId);
    const events = t.stack.eventBridge.find({ source: 'aws.secretsmanager' });
    const names = events
      .filter((event) => event.detail.includes(arn))
      .map((event) => JSON.parse(event.detail).eventName);
    expect(names).toEqual(['TestRotationStarted', 'TestRotationSucceeded']);
  });

  it('can hold no value in the temporary AWSPENDING instead (configurationTestPending: empty; AWS does not say)', async () => {
    // Prepare
    const empty = await startTestStack({ rotation: { configurationTestPending: 'empty' } });
    try {
      const arn = await empty.createSecret('{"password":"current"}');
      const seen: string[] = [];
      const { fn } = protocolFunction(empty.sm);
      const functionArn = empty.stack.registerFunction('empty-pending', async (event, context) => {
        const pending = await empty.sm
          .send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' }))
          .then(
            (out) => out.SecretString ?? '',
            (error: Error) => error.name,
          );
        seen.push(`${event.Step}:${pending}`);
        return fn(event, context);
      });

      // Act
      const out = await empty.sm.send(
        new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn, RotateImmediately: false }),
      );
      await empty.stack.waitForRotation(arn, out.VersionId ?? '');

      // Assess
      expect(seen).toEqual(['testSecret:ResourceNotFoundException']);
    } finally {
      await empty.close();
    }
  });

  it('records a failed configuration test without rotating', async () => {
    // Prepare
    const arn = await t.createSecret();
    const before = await t.labels(arn);
    const fn = register({ during: failingAt('testSecret') });

    // Act
    const out = await rotate(arn, fn.arn, { immediately: false });
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(record?.status).toBe('failed');
    expect(record?.attempts).toHaveLength(1);
    expect(await t.labels(arn)).toEqual(before);
  });
});

describe('CancelRotateSecret', () => {
  it('disables rotation and stops a running rotation before its next step, leaving AWSPENDING', async () => {
    // Prepare
    const arn = await t.createSecret();
    const held = gate();
    const fn = register({ during: (step) => (step === 'setSecret' ? held.wait : undefined) });
    const out = await rotate(arn, fn.arn);
    await eventually(() => fn.invocations.some((call) => call.event.Step === 'setSecret'));

    // Act
    const cancelled = await t.sm.send(new CancelRotateSecretCommand({ SecretId: arn }));
    held.open();
    const record = await t.stack.waitForRotation(arn, out.VersionId ?? '');

    // Assess
    expect(cancelled.VersionId).toBe(out.VersionId);
    expect(record?.status).toBe('cancelled');
    expect(fn.invocations.map((call) => call.event.Step)).toEqual(['createSecret', 'setSecret']);
    expect((await t.labels(arn)).AWSPENDING).toBe(out.VersionId);
    expect((await t.sm.send(new DescribeSecretCommand({ SecretId: arn }))).RotationEnabled).toBe(false);
  });
});

describe("AWS's own rotation events", () => {
  it('publishes RotationStarted then RotationSucceeded, as CloudTrail service events', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    await rotate(arn, fn.arn);
    await t.stack.idle();

    // Assess
    const events = t.stack.eventBridge
      .find({ source: 'aws.secretsmanager' })
      .filter((event) => JSON.parse(event.detail).additionalEventData.SecretId === arn);
    expect(events.map((event) => JSON.parse(event.detail).eventName)).toEqual([
      'RotationStarted',
      'RotationSucceeded',
    ]);
    const detail = JSON.parse(events[1]?.detail ?? '{}');
    expect(events[1]?.detailType).toBe('AWS Service Event via CloudTrail');
    expect(detail).toMatchObject({
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: 'RotationSucceeded',
      eventType: 'AwsServiceEvent',
      awsRegion: t.stack.region,
      additionalEventData: { SecretId: arn },
    });
  });

  it('publishes RotationFailed once the attempts are exhausted, naming the step and the error class only', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register({ during: failingAt('testSecret') });

    // Act
    await rotate(arn, fn.arn);
    await t.stack.idle();

    // Assess
    const failed = t.stack.eventBridge
      .find({ eventName: 'RotationFailed' })
      .map((event) => JSON.parse(event.detail))
      .filter((detail) => detail.additionalEventData.SecretId === arn);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.errorMessage).toBe('Rotation failed in step testSecret after 3 attempts: Error');
  });
});

describe('stopping the stack', () => {
  it('interrupts a step that never returns instead of waiting for its timeout', async () => {
    // Prepare
    const blocked = await startTestStack();
    const never = gate();
    const { fn, invocations } = protocolFunction(blocked.sm, { during: () => never.wait });
    const functionArn = blocked.stack.registerFunction('blocked', fn);
    const arn = await blocked.createSecret();
    const out = await blocked.sm.send(
      new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }),
    );
    await eventually(() => invocations.length > 0);
    const started = Date.now();

    // Act
    await blocked.close();

    // Assess
    expect(Date.now() - started).toBeLessThan(1000);
    const record = blocked.stack.rotations.history.find((entry) => entry.token === out.VersionId);
    expect(record?.status).toBe('interrupted');
    expect(record?.attempts[0]?.steps[0]?.error?.name).toBe('Interrupted');
  });
});

describe('the rotation schedule', () => {
  it('rotateDue starts the rotation of a secret whose NextRotationDate has passed', async () => {
    // Prepare
    let now = new Date('2030-01-01T00:00:00Z');
    const timed = await startTestStack({ clock: () => now });
    const { fn, invocations } = protocolFunction(timed.sm);
    const functionArn = timed.stack.registerFunction('scheduled', fn);
    const arn = await timed.createSecret();
    await timed.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: functionArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    await timed.stack.idle();
    const notYet = timed.stack.secretsManager.rotateDue();

    // Act
    now = new Date('2030-02-01T00:00:00Z');
    const started = timed.stack.secretsManager.rotateDue();
    await timed.stack.idle();
    const history = [...timed.stack.rotations.history];
    const described = await timed.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    await timed.close();

    // Assess
    expect(notYet).toEqual([]);
    expect(started).toHaveLength(1);
    expect(history.at(-1)?.trigger).toBe('schedule');
    expect(history.at(-1)?.status).toBe('succeeded');
    expect(invocations.map((call) => call.event.Step).slice(-4)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    expect(described.LastRotatedDate?.toISOString()).toBe('2030-02-01T00:00:00.000Z');
    expect(described.NextRotationDate?.toISOString()).toBe('2030-03-03T00:00:00.000Z');
  });

  it('computes NextRotationDate from a cron ScheduleExpression', async () => {
    // Prepare
    const now = new Date('2030-01-01T10:00:00Z');
    const timed = await startTestStack({ clock: () => now });
    const functionArn = timed.stack.registerFunction('cron', protocolFunction(timed.sm).fn);
    const arn = await timed.createSecret();

    // Act
    await timed.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: functionArn,
        RotationRules: { ScheduleExpression: 'cron(0 16 ? * MON *)', Duration: '2h' },
        RotateImmediately: false,
      }),
    );
    await timed.stack.idle();
    const described = await timed.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    await timed.close();

    // Assess: 2030-01-01 is a Tuesday; the next Monday 16:00 UTC is the 7th.
    expect(described.NextRotationDate?.toISOString()).toBe('2030-01-07T16:00:00.000Z');
  });

  it.each([
    [{ ScheduleExpression: 'cron(30 22 ? * SUN 2027)' }, /cron minutes must be 0/],
    [{ ScheduleExpression: 'cron(0 22 ? * SUN 2027)' }, /cron year must be \*/],
    [{ ScheduleExpression: 'rate(3 hours)' }, /at most every 4 hours/],
    [{ ScheduleExpression: 'cron(0 22 * * ? *)', Duration: '4h' }, /would pass midnight/],
    [{ ScheduleExpression: 'rate(6 hours)', Duration: '8h' }, /longer than the 6 hours between rotations/],
    [{ AutomaticallyAfterDays: 30, Duration: '25h' }, /1h to 24h/],
    [{ AutomaticallyAfterDays: 30, Duration: '04h' }, /1h to 24h/],
    [{ Duration: '04h' }, /1h to 24h/],
  ])(
    'refuses RotationRules %o as Secrets Manager does (InvalidParameterException), changing nothing',
    async (rules, why) => {
      // Prepare
      const arn = await t.createSecret();
      const fn = register();

      // Act
      const error = await failure(() =>
        t.sm.send(
          new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: fn.arn, RotationRules: rules }),
        ),
      );

      // Assess
      expect(error.name).toBe('InvalidParameterException');
      expect(error.message).toMatch(why);
      const described = await t.sm.send(new DescribeSecretCommand({ SecretId: arn }));
      expect(described.RotationEnabled).not.toBe(true);
    },
  );

  it.each([
    [{ ScheduleExpression: 'cron(0 4/12 * * ? *)', Duration: '4h' }],
    [{ ScheduleExpression: 'cron(0 16 L * ? *)', Duration: '8h' }],
    [{ ScheduleExpression: 'rate(4 hours)', Duration: '4h' }],
    [{ ScheduleExpression: 'cron(0 0 ? * SUN#1 *)', Duration: '24h' }],
  ])("accepts AWS's example RotationRules %o", async (rules) => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    await t.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: fn.arn,
        RotationRules: rules,
        RotateImmediately: false,
      }),
    );
    await t.stack.idle();

    // Assess
    const described = await t.sm.send(new DescribeSecretCommand({ SecretId: arn }));
    expect(described.RotationRules).toMatchObject(rules);
  });

  it.each([
    ['cron(0 16 L * ? *)', '2030-01-31T16:00:00.000Z'],
    ['cron(0 0 ? * SUN#1 *)', '2030-01-06T00:00:00.000Z'],
    ['cron(0 3 ? * 6L *)', '2030-01-25T03:00:00.000Z'],
  ])(
    'computes NextRotationDate of %s (last day, n-th and last weekday of the month)',
    async (expression, next) => {
      // Prepare
      const now = new Date('2030-01-01T10:00:00Z');
      const timed = await startTestStack({ clock: () => now });
      const functionArn = timed.stack.registerFunction('cron-l', protocolFunction(timed.sm).fn);
      const arn = await timed.createSecret();

      // Act
      await timed.sm.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: functionArn,
          RotationRules: { ScheduleExpression: expression },
          RotateImmediately: false,
        }),
      );
      await timed.stack.idle();
      const described = await timed.sm.send(new DescribeSecretCommand({ SecretId: arn }));
      await timed.close();

      // Assess
      expect(described.NextRotationDate?.toISOString()).toBe(next);
    },
  );

  it('refuses an invalid ScheduleExpression with InvalidParameterException', async () => {
    // Prepare
    const arn = await t.createSecret();
    const fn = register();

    // Act
    const error = await failure(() =>
      t.sm.send(
        new RotateSecretCommand({
          SecretId: arn,
          RotationLambdaARN: fn.arn,
          RotationRules: { ScheduleExpression: 'cron(bad)' },
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidParameterException');
  });
});
