/**
 * Events, metrics and logs of the step machine: publishing survives EventBridge's partial
 * failures, and no value of any version of a secret reaches a log line, event, metric or error.
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTarget } from '../../rotators/fake/client.js';
import { createFakeRotator } from '../../rotators/fake/index.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { captureStdout } from '../support/stdout.js';

const targets = new Map<string, FakeTarget>();
let h: RotationHarness;

beforeAll(async () => {
  h = await startRotationHarness({
    rotators: [createFakeRotator(targets)],
    config: { metricsEnabled: true, logLevel: 'DEBUG' },
  });
});

afterAll(async () => {
  await h.close();
});

async function fixture(extra: Record<string, unknown> = {}) {
  const name = `target-${randomUUID()}`;
  const target = new FakeTarget();
  const password = `initial-${randomUUID()}`;
  target.addAccount('app', password);
  targets.set(name, target);
  const arn = await h.createSecret({ engine: 'fake', target: name, username: 'app', password, ...extra });
  return { arn, target, password };
}

function eventsOf(arn: string) {
  return h.rotorEvents().filter((e) => e.detail.secretArn === arn);
}

describe('events', () => {
  it('re-sends entries EventBridge throttled, so every event arrives once', async () => {
    // Prepare
    const { arn } = await fixture();
    h.stack.eventBridge.injectEntryFailures({ entries: 3, errorCode: 'ThrottlingException' });
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    stdout.stop();

    // Assess
    const events = eventsOf(arn);
    expect(events).toHaveLength(5);
    expect(new Set(events.map((e) => `${e.detailType}:${e.detail.step}`)).size).toBe(5);
  });

  it('re-sends entries that failed with InternalFailure', async () => {
    // Prepare
    const { arn } = await fixture();
    h.stack.eventBridge.injectEntryFailures({ entries: 2, errorCode: 'InternalFailure' });
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    stdout.stop();

    // Assess
    expect(eventsOf(arn)).toHaveLength(5);
  });

  it('never lets a publishing failure break the rotation: it is logged and counted', async () => {
    // Prepare
    const { arn, target } = await fixture();
    const fault = h.stack.eventBridge.injectEntryFailures({ entries: 1000, errorCode: 'InternalFailure' });
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    const output = stdout.stop();
    fault.clear();

    // Assess
    const current = await h.value(arn);
    expect(() => target.login('app', current.password as string)).not.toThrow();
    expect(eventsOf(arn)).toHaveLength(0);
    const lines = output.split('\n').filter(Boolean);
    expect(lines.some((line) => line.includes('"events not published"'))).toBe(true);
    expect(lines.some((line) => line.includes('"EventPublishFailed"'))).toBe(true);
  });

  it('survives EventBridge refusing whole requests', async () => {
    // Prepare
    const { arn } = await fixture();
    h.stack.eventBridge.injectFault({ times: 2 });
    const stdout = captureStdout();

    // Act
    await h.rotate(arn);
    stdout.stop();

    // Assess
    expect(eventsOf(arn).length).toBeGreaterThanOrEqual(4);
  });

  it('re-sends an undelivered failure event with the next event the container publishes', async () => {
    // Prepare: testSecret fails; EventBridge fails its event on every try of the first publish.
    const { arn } = await fixture({ breakTest: true });
    const token = await h.stagePending(arn);
    await h.invoke('createSecret', arn, token);
    await h.invoke('setSecret', arn, token);
    h.stack.eventBridge.injectEntryFailures({
      entries: 4, // the first send and its three re-sends
      errorCode: 'InternalFailure',
      match: (entry) => entry.DetailType === 'Rotation Step Failed',
    });
    const stdout = captureStdout();

    // Act
    await h.invoke('testSecret', arn, token).catch(() => undefined);
    const afterFirst = eventsOf(arn).filter((e) => e.detailType === 'Rotation Step Failed').length;
    await h.invoke('testSecret', arn, token).catch(() => undefined);
    stdout.stop();

    // Assess
    expect(afterFirst).toBe(0);
    const failed = eventsOf(arn).filter((e) => e.detailType === 'Rotation Step Failed');
    expect(failed.map((e) => e.detail.attempt)).toEqual([1, 2]);
  });
});

describe('the canary: no secret value leaves its place', () => {
  it('finds no value of any version, nor the RotationToken, in logs, metrics, events or errors', async () => {
    // Prepare: a rotation that succeeds, one whose test fails, and one whose driver quotes the password.
    const ok = await fixture();
    const failing = await fixture({ breakTest: true });
    const leaky = await fixture();
    leaky.target.faults.add('leakInError');
    const thrown: unknown[] = [];
    const catching = h.stack.registerFunction('catching', async (event, context) => {
      try {
        return await h.handler(event, context);
      } catch (error) {
        thrown.push(error);
        throw error;
      }
    });
    const stdout = captureStdout();

    // Act
    await h.rotate(ok.arn);
    await h.rotate(failing.arn);
    await h.sm.send(
      new RotateSecretCommand({
        SecretId: leaky.arn,
        RotationLambdaARN: catching,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await h.stack.idle();
    const token = randomUUID();
    const direct = await h.invoke('createSecret', leaky.arn, token).catch((error: unknown) => error);
    const output = stdout.stop();

    // Assess
    const secrets = new Set<string>([ok.password, failing.password, leaky.password]);
    for (const { arn } of [ok, failing, leaky]) {
      for (const stage of ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']) {
        const value = await h.value(arn, stage).catch(() => undefined);
        if (value?.password) secrets.add(value.password as string);
      }
    }
    for (const request of h.stack.secretsManager.requests('PutSecretValue')) {
      if (typeof request.input.RotationToken === 'string') secrets.add(request.input.RotationToken);
    }
    expect(secrets.size).toBeGreaterThanOrEqual(6);
    const errors = h.stack.rotations.history.flatMap((r) =>
      r.attempts.flatMap((a) => a.steps.map((s) => JSON.stringify(s.error ?? null))),
    );
    const haystacks = {
      stdout: output,
      events: JSON.stringify(h.stack.eventBridge.events),
      errors: errors.join('\n'),
      direct: `${String(direct)} ${JSON.stringify(direct)} ${(direct as Error).stack ?? ''}`,
      thrown: thrown
        .map(
          (error) =>
            `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack} ${JSON.stringify((error as Error).cause ?? null)}`,
        )
        .join('\n'),
    };
    expect(thrown.length).toBeGreaterThan(0);
    expect(haystacks.thrown).toContain('AuthenticationFailedError');
    expect(output).toContain('step failed'); // the logs were really captured
    expect(haystacks.events).toContain('AuthenticationFailedError');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets)
        expect(text.includes(secret), `${where} leaks a secret value`).toBe(false);
    }
  });
});
