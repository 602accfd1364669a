/**
 * EventBridge PutEvents conformance: validation and the partial-failure shape, through the real
 * SDK only. Runs against the local stack, or the endpoint in ROTOR_CONFORMANCE_ENDPOINT (events
 * then go to that account's default bus, under the source `rotor.conformance`).
 */
import {
  ListEventBusesCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConformanceTarget, failure, startConformanceTarget } from './target.js';

let target: ConformanceTarget;

beforeAll(async () => {
  target = await startConformanceTarget();
});

afterAll(async () => {
  await target.cleanup();
});

function entry(overrides: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry {
  return {
    Source: 'rotor.conformance',
    DetailType: 'Conformance Check',
    Detail: '{"ok":true}',
    ...overrides,
  };
}

async function putOne(overrides: Partial<PutEventsRequestEntry>) {
  const out = await target.eb.send(new PutEventsCommand({ Entries: [entry(overrides)] }));
  return { failed: out.FailedEntryCount, result: out.Entries?.[0] };
}

describe('PutEvents', () => {
  it('accepts a valid entry: no failure, an event id', async () => {
    // Act
    const out = await target.eb.send(new PutEventsCommand({ Entries: [entry()] }));

    // Assess
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries).toHaveLength(1);
    expect(out.Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.Entries?.[0]?.ErrorCode).toBeUndefined();
  });

  it('refuses an empty request with ValidationException', async () => {
    // Act
    const error = await failure(() => target.eb.send(new PutEventsCommand({ Entries: [] })));

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("at 'entries' failed to satisfy constraint");
  });

  it('refuses more than 10 entries with ValidationException', async () => {
    // Act
    const error = await failure(() =>
      target.eb.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry()) })),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('Member must have length less than or equal to 10');
  });

  it('fails an entry without Source: InvalidArgument', async () => {
    // Act
    const { failed, result } = await putOne({ Source: undefined });

    // Assess
    expect(failed).toBe(1);
    expect(result).toEqual({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.',
    });
  });

  it('fails an entry without DetailType: InvalidArgument', async () => {
    // Act
    const { result } = await putOne({ DetailType: undefined });

    // Assess
    expect(result).toEqual({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
    });
  });

  it('fails an entry without Detail: InvalidArgument', async () => {
    // Act
    const { result } = await putOne({ Detail: undefined });

    // Assess
    expect(result).toEqual({
      ErrorCode: 'InvalidArgument',
      ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.',
    });
  });

  it('fails an entry whose Detail is not JSON: MalformedDetail', async () => {
    // Act
    const { result } = await putOne({ Detail: '{not json' });

    // Assess
    expect(result).toEqual({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' });
  });

  it('fails an entry whose Detail is JSON but not an object: MalformedDetail', async () => {
    // Act
    const { result } = await putOne({ Detail: '["an", "array"]' });

    // Assess
    expect(result?.ErrorCode).toBe('MalformedDetail');
  });

  it('fails an entry whose DetailType is longer than 128 characters', async () => {
    // Act
    const { failed, result } = await putOne({ DetailType: 'x'.repeat(129) });

    // Assess
    expect(failed).toBe(1);
    expect(result?.ErrorCode).toBe('InvalidArgument');
    expect(result?.EventId).toBeUndefined();
  });

  it('refuses a source starting with aws.: NotAuthorizedForSourceException', async () => {
    // Act
    const { result } = await putOne({ Source: 'aws.secretsmanager' });

    // Assess
    expect(result).toEqual({
      ErrorCode: 'NotAuthorizedForSourceException',
      ErrorMessage: 'Not authorized for the source.',
    });
  });

  it('answers a partial failure with HTTP 200, FailedEntryCount and results in request order', async () => {
    // Act
    const out = await target.eb.send(
      new PutEventsCommand({
        Entries: [entry(), entry({ Source: 'aws.nope' }), entry(), entry({ Detail: 'nope' })],
      }),
    );

    // Assess
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.map((result) => result.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'NotAuthorizedForSourceException',
      'ok',
      'MalformedDetail',
    ]);
  });

  it('refuses a request over the size limit with ValidationException', async () => {
    // Prepare: one entry over 1 MB is over the limit whichever AWS applies (256 KB or 1 MB).
    const big = JSON.stringify({ padding: 'x'.repeat(1_100_000) });

    // Act
    const error = await failure(() =>
      target.eb.send(new PutEventsCommand({ Entries: [entry({ Detail: big })] })),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe('Total size of the entries in the request is over the limit.');
  });

  it('accepts the default bus by name and by ARN', async () => {
    // Prepare
    const account = target.stack?.accountId ?? (await accountFromSecretArn());
    const busArn = `arn:aws:events:${target.region}:${account}:event-bus/default`;

    // Act
    const out = await target.eb.send(
      new PutEventsCommand({
        Entries: [entry({ EventBusName: 'default' }), entry({ EventBusName: busArn })],
      }),
    );

    // Assess
    expect(out.FailedEntryCount).toBe(0);
  });
});

describe('ListEventBuses', () => {
  it('lists the default bus with its ARN', async () => {
    // Prepare
    const account = target.stack?.accountId ?? (await accountFromSecretArn());

    // Act
    const out = await target.eb.send(new ListEventBusesCommand({ NamePrefix: 'default' }));

    // Assess
    expect(out.EventBuses?.map((bus) => [bus.Name, bus.Arn])).toContainEqual([
      'default',
      `arn:aws:events:${target.region}:${account}:event-bus/default`,
    ]);
  });

  it('filters by name prefix', async () => {
    // Act
    const out = await target.eb.send(new ListEventBusesCommand({ NamePrefix: 'rotor-no-such-bus-' }));

    // Assess
    expect(out.EventBuses ?? []).toEqual([]);
  });
});

/** The remote endpoint's account, read from a secret ARN (this project has no STS client). */
async function accountFromSecretArn(): Promise<string> {
  const { arn } = await target.createSecret();
  return arn.split(':')[4] ?? '';
}
