/**
 * The `/_rotor/*` routes (events, rotation history, calls, health) and the in-process event
 * store, which tests and the CLI read instead of a real EventBridge target.
 */

import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolFunction, startTestStack, type TestStack } from './support.js';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});

afterAll(async () => {
  await t.close();
});

async function getJson(path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${t.stack.endpoint}${path}`);
  return { status: response.status, body: await response.json() };
}

function put(source: string, detailType: string, detail: Record<string, unknown>) {
  return t.eb.send(
    new PutEventsCommand({
      Entries: [{ Source: source, DetailType: detailType, Detail: JSON.stringify(detail) }],
    }),
  );
}

describe('stored events', () => {
  it('keeps accepted events with id, time, region, account, resources and bus', async () => {
    // Prepare
    const resource = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kept-AbCdEf';

    // Act
    const out = await t.eb.send(
      new PutEventsCommand({
        Entries: [{ Source: 'rotor.kept', DetailType: 'Kept', Detail: '{"n":1}', Resources: [resource] }],
      }),
    );

    // Assess
    const [event] = t.stack.eventBridge.find({ source: 'rotor.kept' });
    expect(event).toMatchObject({
      id: out.Entries?.[0]?.EventId,
      source: 'rotor.kept',
      detailType: 'Kept',
      detail: '{"n":1}',
      resources: [resource],
      eventBusName: 'default',
      region: t.stack.region,
      account: t.stack.accountId,
    });
    expect(Date.parse(event?.time ?? '')).not.toBeNaN();
  });

  it('does not keep refused entries', async () => {
    // Act
    await t.eb.send(
      new PutEventsCommand({ Entries: [{ Source: 'rotor.refused', DetailType: 'X', Detail: 'not json' }] }),
    );

    // Assess
    expect(t.stack.eventBridge.find({ source: 'rotor.refused' })).toEqual([]);
  });

  it('records the bus named by ARN', async () => {
    // Prepare
    const busArn = `arn:aws:events:${t.stack.region}:${t.stack.accountId}:event-bus/rotor-bus`;

    // Act
    await t.eb.send(
      new PutEventsCommand({
        Entries: [{ Source: 'rotor.bus', DetailType: 'X', Detail: '{}', EventBusName: busArn }],
      }),
    );

    // Assess
    expect(t.stack.eventBridge.find({ source: 'rotor.bus' }).map((event) => event.eventBusName)).toEqual([
      'rotor-bus',
    ]);
  });
});

describe('event buses', () => {
  it('refuses entries for unknown buses when acceptUnknownEventBuses is off, until the bus is created', async () => {
    // Prepare
    const strict = await startTestStack({ acceptUnknownEventBuses: false });
    const entry = { Source: 'rotor.strict', DetailType: 'X', Detail: '{}', EventBusName: 'rotor-bus' };

    // Act
    const refused = await strict.eb.send(new PutEventsCommand({ Entries: [entry] }));
    strict.stack.eventBridge.createEventBus('rotor-bus');
    const accepted = await strict.eb.send(new PutEventsCommand({ Entries: [entry] }));
    const onDefault = await strict.eb.send(
      new PutEventsCommand({ Entries: [{ ...entry, EventBusName: 'default' }] }),
    );
    await strict.close();

    // Assess
    expect(refused.Entries?.[0]).toEqual({
      ErrorCode: 'ResourceNotFoundException',
      ErrorMessage: 'Event bus rotor-bus does not exist.',
    });
    expect(accepted.FailedEntryCount).toBe(0);
    expect(onDefault.FailedEntryCount).toBe(0);
  });
});

describe('GET /_rotor/events', () => {
  it('returns the stored events as a JSON array, filtered by source', async () => {
    // Prepare
    await put('rotor.http', 'Over HTTP', { n: 1 });
    await put('rotor.other', 'Elsewhere', { n: 2 });

    // Act
    const { status, body } = await getJson('/_rotor/events?source=rotor.http');

    // Assess
    expect(status).toBe(200);
    expect(
      (body as { source: string; detail: string }[]).map((event) => [event.source, event.detail]),
    ).toEqual([['rotor.http', '{"n":1}']]);
  });

  it('filters by since (ISO or epoch seconds)', async () => {
    // Prepare
    await put('rotor.since', 'Old', {});
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cut = new Date();
    await put('rotor.since', 'New', {});

    // Act
    const iso = await getJson(`/_rotor/events?source=rotor.since&since=${cut.toISOString()}`);
    const seconds = await getJson(`/_rotor/events?source=rotor.since&since=${cut.getTime() / 1000}`);

    // Assess
    expect((iso.body as { detailType: string }[]).map((event) => event.detailType)).toEqual(['New']);
    expect((seconds.body as { detailType: string }[]).map((event) => event.detailType)).toEqual(['New']);
  });

  it('refuses an unreadable since with HTTP 400', async () => {
    // Act
    const { status, body } = await getJson('/_rotor/events?since=yesterday-ish');

    // Assess
    expect(status).toBe(400);
    expect(body).toMatchObject({ __type: 'ValidationException' });
  });
});

describe('GET /_rotor/rotations and /_rotor/calls', () => {
  it('returns the rotation history, optionally for one secret', async () => {
    // Prepare
    const functionArn = t.stack.registerFunction('http-history', protocolFunction(t.sm).fn);
    const arn = await t.createSecret();
    const out = await t.sm.send(new RotateSecretCommand({ SecretId: arn, RotationLambdaARN: functionArn }));
    await t.stack.idle();

    // Act
    const { status, body } = await getJson(`/_rotor/rotations?secretId=${encodeURIComponent(arn)}`);

    // Assess
    expect(status).toBe(200);
    const records = body as {
      token: string;
      status: string;
      attempts: { steps: { step: string; durationMs: number }[] }[];
    }[];
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ token: out.VersionId, status: 'succeeded' });
    expect(records[0]?.attempts[0]?.steps.map((step) => step.step)).toEqual([
      'createSecret',
      'setSecret',
      'testSecret',
      'finishSecret',
    ]);
    expect(records[0]?.attempts[0]?.steps[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('returns call counts and health', async () => {
    // Act
    const calls = await getJson('/_rotor/calls');
    const health = await getJson('/_rotor/health');

    // Assess
    expect(calls.body).toMatchObject({ eventBridge: { PutEvents: expect.any(Number) } });
    expect(health.body).toEqual({ ok: true, region: t.stack.region, accountId: t.stack.accountId });
  });

  it('answers 404 for an unknown route', async () => {
    // Act
    const { status } = await getJson('/_rotor/nothing');

    // Assess
    expect(status).toBe(404);
  });
});

describe('the stack handle', () => {
  it('answers Lambda GetFunction for a registered function with its tags, and ResourceNotFoundException otherwise', async () => {
    // Prepare
    const lambda = new LambdaClient(t.stack.clientConfig);
    const arn = t.stack.registerFunction('tagged-fn', async () => undefined, { 'rotor:engines': 'postgres' });

    // Act
    const found = await lambda.send(new GetFunctionCommand({ FunctionName: arn }));
    const byName = await lambda.send(new GetFunctionCommand({ FunctionName: 'tagged-fn' }));
    const missing = await lambda.send(new GetFunctionCommand({ FunctionName: 'no-such-fn' })).catch((e) => e);
    lambda.destroy();

    // Assess
    expect(found.Configuration).toMatchObject({ FunctionName: 'tagged-fn', FunctionArn: arn });
    expect(found.Tags).toEqual({ 'rotor:engines': 'postgres' });
    expect(byName.Configuration?.FunctionArn).toBe(arn);
    expect((missing as Error).name).toBe('ResourceNotFoundException');
  });

  it.each([
    [
      'CreateSecret',
      () =>
        new CreateSecretCommand({
          Name: `tags-${Date.now()}`,
          SecretString: '{}',
          Tags: [{ Key: 'aws:rds:primaryDBInstanceArn', Value: 'x' }],
        }),
    ],
    [
      'TagResource',
      (arn: string) => new TagResourceCommand({ SecretId: arn, Tags: [{ Key: 'AWS:owner', Value: 'x' }] }),
    ],
    [
      'UntagResource',
      (arn: string) => new UntagResourceCommand({ SecretId: arn, TagKeys: ['aws:rds:primaryDBInstanceArn'] }),
    ],
  ] as const)(
    'refuses aws: tags from callers in %s, as Secrets Manager does',
    async (_operation, command) => {
      // Prepare
      const arn = await t.createSecret();

      // Act
      const error = await t.sm.send(command(arn) as never).catch((caught: Error) => caught);

      // Assess
      expect((error as Error).name).toBe('InvalidParameterException');
      expect((error as Error).message).toMatch(/^You can't modify system tags\. Tag key: '(aws|AWS):/);
    },
  );

  it('keeps the aws:rds tags of a secret a service creates (RDS-managed master secrets)', async () => {
    // Prepare
    const tags = [
      { Key: 'aws:rds:primaryDBInstanceArn', Value: 'arn:aws:rds:us-east-1:123456789012:db:orders' },
    ];

    // Act
    const created = t.stack.secretsManager.createServiceSecret({
      Name: `rds!db-${Date.now()}`,
      SecretString: '{}',
      Tags: tags,
    });
    const described = await t.sm.send(new DescribeSecretCommand({ SecretId: created.ARN }));

    // Assess
    expect(described.Tags).toEqual(tags);
  });

  it('offers the environment a separate process needs, without touching process.env', () => {
    // Assess
    expect(t.stack.env).toEqual({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: t.stack.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: t.stack.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: t.stack.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'rotor-local',
      AWS_SECRET_ACCESS_KEY: 'rotor-local',
    });
    expect(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER).not.toBe(t.stack.endpoint);
    expect(t.stack.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.stack.functionArn('f')).toBe('arn:aws:lambda:us-east-1:123456789012:function:f');
  });
});
