/**
 * Fault injection and call counting: what crash tests and benchmarks use to make the local stack
 * fail on purpose (before an operation is applied, or after it with the response lost) and to
 * count the API calls a rotation makes.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failure, protocolFunction, startTestStack, type TestStack } from './support.js';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterEach(() => {
  t.stack.secretsManager.clearFaults();
  t.stack.eventBridge.clearFaults();
});

afterAll(async () => {
  await t.close();
});

async function versionCount(secretId: string): Promise<number> {
  const out = await t.sm.send(
    new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
  );
  return out.Versions?.length ?? 0;
}

describe('Secrets Manager faults', () => {
  it('a "before" fault returns the error and applies nothing', async () => {
    // Prepare
    const arn = await t.createSecret();
    t.stack.secretsManager.injectFault('PutSecretValue');

    // Act
    const error = await failure(() =>
      t.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'lost' })),
    );

    // Assess
    expect(error.name).toBe('InternalServiceError');
    expect(await versionCount(arn)).toBe(1);
  });

  it('an "after" fault applies the operation and drops the response (a lost response)', async () => {
    // Prepare
    const arn = await t.createSecret();
    t.stack.secretsManager.injectFault('PutSecretValue', { when: 'after' });

    // Act
    const error = await failure(() =>
      t.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'applied' })),
    );

    // Assess
    expect(error.name).not.toBe('InternalServiceError');
    expect((await t.sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString).toBe('applied');
  });

  it('after a lost response the SDK retries with the same token, and the idempotent put succeeds', async () => {
    // Prepare
    const arn = await t.createSecret();
    const retrying = new SecretsManagerClient({ ...t.stack.clientConfig, maxAttempts: 3 });
    t.stack.secretsManager.injectFault('PutSecretValue', { when: 'after' });

    // Act
    const out = await retrying.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'once' }));
    retrying.destroy();

    // Assess
    expect(out.$metadata.attempts).toBe(2);
    expect(await versionCount(arn)).toBe(2);
    expect((await t.labels(arn)).AWSCURRENT).toBe(out.VersionId);
  });

  it('an "after" fault can return an error instead of dropping the connection', async () => {
    // Prepare
    const arn = await t.createSecret();
    t.stack.secretsManager.injectFault('PutSecretValue', {
      when: 'after',
      error: { type: 'ThrottlingException', message: 'Rate exceeded', status: 400 },
    });

    // Act
    const error = await failure(() =>
      t.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'applied' })),
    );

    // Assess
    expect(error.name).toBe('ThrottlingException');
    expect(error.message).toBe('Rate exceeded');
    expect(await versionCount(arn)).toBe(2);
  });

  it('fails only the next N matching calls', async () => {
    // Prepare
    const [first, second] = [await t.createSecret(), await t.createSecret()];
    const handle = t.stack.secretsManager.injectFault('GetSecretValue', {
      times: 2,
      match: (input) => input.SecretId === second,
    });

    // Act
    const untouched = await t.sm.send(new GetSecretValueCommand({ SecretId: first }));
    const errors = [
      await failure(() => t.sm.send(new GetSecretValueCommand({ SecretId: second }))),
      await failure(() => t.sm.send(new GetSecretValueCommand({ SecretId: second }))),
    ];
    const third = await t.sm.send(new GetSecretValueCommand({ SecretId: second }));

    // Assess
    expect(untouched.ARN).toBe(first);
    expect(errors.map((error) => error.name)).toEqual(['InternalServiceError', 'InternalServiceError']);
    expect(third.ARN).toBe(second);
    expect(handle.remaining).toBe(0);
  });

  it('a fault can be withdrawn before it trips', async () => {
    // Prepare
    const arn = await t.createSecret();
    const handle = t.stack.secretsManager.injectFault('GetSecretValue');

    // Act
    handle.clear();
    const out = await t.sm.send(new GetSecretValueCommand({ SecretId: arn }));

    // Assess
    expect(out.ARN).toBe(arn);
  });
});

describe('call counting', () => {
  it('counts calls per operation, faulted ones included, until reset', async () => {
    // Prepare
    const arn = await t.createSecret();
    t.stack.secretsManager.resetCalls();
    t.stack.secretsManager.injectFault('PutSecretValue');

    // Act
    await t.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    await t.sm.send(new GetSecretValueCommand({ SecretId: arn }));
    await failure(() => t.sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'x' })));
    const counted = t.stack.secretsManager.calls;
    const total = t.stack.secretsManager.totalCalls;
    t.stack.secretsManager.resetCalls();

    // Assess
    expect(counted).toEqual({ GetSecretValue: 2, PutSecretValue: 1 });
    expect(total).toBe(3);
    expect(t.stack.secretsManager.calls).toEqual({});
  });

  it('counts the calls one rotation makes, by operation (what benchmarks report)', async () => {
    // Prepare
    const arn = await t.createSecret();
    const functionArn = t.stack.registerFunction('counted', protocolFunction(t.sm).fn);
    t.stack.secretsManager.resetCalls();

    // Act
    await t.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await t.stack.idle();

    // Assess
    expect(t.stack.secretsManager.calls).toEqual({
      RotateSecret: 1,
      DescribeSecret: 4,
      GetSecretValue: 2,
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
  });
});

describe('request log', () => {
  it('remembers recent requests with secret values masked, RotationToken included', async () => {
    // Prepare
    const arn = await t.createSecret();
    const { fn, invocations } = protocolFunction(t.sm);
    const functionArn = t.stack.registerFunction('logged', fn);

    // Act
    await t.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await t.stack.idle();

    // Assess
    const puts = t.stack.secretsManager
      .requests('PutSecretValue')
      .filter((request) => request.input.SecretId === arn);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.input).toMatchObject({
      SecretString: '<masked>',
      VersionStages: ['AWSPENDING'],
      RotationToken: invocations[0]?.event.RotationToken,
    });
  });
});

describe('EventBridge faults', () => {
  const entry = { Source: 'rotor', DetailType: 'Rotation Step Succeeded', Detail: '{"step":"createSecret"}' };

  it('fails the next entries with a retryable per-entry error in an HTTP 200 response', async () => {
    // Prepare
    t.stack.eventBridge.injectEntryFailures({ entries: 2, errorCode: 'ThrottlingException' });
    const before = t.stack.eventBridge.events.length;

    // Act
    const out = await t.eb.send(new PutEventsCommand({ Entries: [entry, entry, entry] }));

    // Assess
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.map((result) => result.ErrorCode ?? 'ok')).toEqual([
      'ThrottlingException',
      'ThrottlingException',
      'ok',
    ]);
    expect(t.stack.eventBridge.events.length - before).toBe(1);
  });

  it('fails an entry with InternalFailure by default', async () => {
    // Prepare
    t.stack.eventBridge.injectEntryFailures();

    // Act
    const out = await t.eb.send(new PutEventsCommand({ Entries: [entry] }));

    // Assess
    expect(out.Entries?.[0]).toEqual({
      ErrorCode: 'InternalFailure',
      ErrorMessage: 'Internal Failure (injected fault)',
    });
  });

  it('fails a whole request with HTTP 500', async () => {
    // Prepare
    t.stack.eventBridge.injectFault();
    const before = t.stack.eventBridge.events.length;

    // Act
    const error = await failure(() => t.eb.send(new PutEventsCommand({ Entries: [entry] })));

    // Assess
    expect(error.name).toBe('InternalException');
    expect((error as Error & { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(500);
    expect(t.stack.eventBridge.events.length).toBe(before);
  });

  it('counts PutEvents calls', async () => {
    // Prepare
    t.stack.eventBridge.resetCalls();

    // Act
    await t.eb.send(new PutEventsCommand({ Entries: [entry] }));

    // Assess
    expect(t.stack.eventBridge.calls).toEqual({ PutEvents: 1 });
  });
});
