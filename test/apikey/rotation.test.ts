/**
 * API-key rotations end to end: the reference provider over HTTP, the local AWS stack, the real
 * SDK and rotor's real step machine, driven by RotateSecret.
 */
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import {
  PutSecretValueCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readConfig } from '../../handlers/config.js';
import { createRotationHandler } from '../../handlers/createHandler.js';
import type { ProviderKey } from '../../local/apiKeyProvider.js';
import type { RotationRecord } from '../../local/stack.js';
import type { ApiKeyRotatorOptions } from '../../rotators/apikey/index.js';
import { KeyNames } from '../../rotators/apikey/secret.js';
import { CliRunner } from '../cli/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { mintedFor, type ProviderFixture, skipApiKey, startProviderFixture } from './support.js';

const HOUR = 3_600_000;

describe.skipIf(skipApiKey)('API-key rotation through Secrets Manager', () => {
  // Everything printed, published or thrown in this file, searched for key values at the end.
  const output: string[] = [];
  const events: string[] = [];
  const failures: string[] = [];
  const keyValues = new Set<string>();

  let f: ProviderFixture;
  let h: RotationHarness;
  let stopped = true;

  beforeEach(() => {
    // Powertools writes to the streams; vitest reroutes `console`, so both are captured.
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        output.push(String(chunk));
        return true;
      });
    }
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        output.push(format(...args));
      });
    }
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    if (stopped) return;
    stopped = true;
    for (const event of h.stack.eventBridge.events) events.push(event.detail);
    for (const record of h.stack.rotations.history) failures.push(JSON.stringify(record.attempts));
    for (const key of f.provider.keys.all()) keyValues.add(key.value);
    keyValues.add(f.provider.adminToken);
    await h.close();
    await f.stop();
  });

  /** A provider, a harness whose rotor knows it, the admin secret, and the application's first key. */
  async function setup(
    options: {
      maxLiveKeys?: number;
      rotator?: Partial<ApiKeyRotatorOptions>;
      secret?: Record<string, unknown>;
    } = {},
  ): Promise<{ arn: string; first: ProviderKey }> {
    f = await startProviderFixture({
      provider: { maxLiveKeys: options.maxLiveKeys ?? 2 },
      ...(options.rotator === undefined ? {} : { rotator: options.rotator }),
    });
    // Logs and metrics on, at their most talkative: the last case searches them for key values.
    h = await startRotationHarness({
      rotators: [f.rotator],
      config: { logLevel: 'DEBUG', metricsEnabled: true },
    });
    stopped = false;
    await h.createSecret(JSON.parse(f.adminSecret) as Record<string, unknown>, f.adminSecretArn);
    // The operator names the first key with the secret's tag (the other way in is adopting it),
    // which needs the ARN first: the secret is created, then given the key's value.
    const arn = await h.createSecret({});
    const first = f.provider.keys.mint(`${new KeyNames(arn).prefix}app`);
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify(f.secretFor(first, options.secret ?? {})),
      }),
    );
    return { arn, first };
  }

  function live(): string[] {
    return f.provider.keys.live().map((key) => key.id);
  }

  async function lastRotation(arn: string): Promise<RotationRecord> {
    await h.stack.idle();
    const record = h.stack.rotations.history.filter((r) => r.secretArn === arn).at(-1);
    if (record === undefined) throw new Error('no rotation recorded');
    return record;
  }

  function failedSteps(): Record<string, unknown>[] {
    return h
      .rotorEvents()
      .filter((event) => event.detailType === 'Rotation Step Failed')
      .map((event) => event.detail.error as Record<string, unknown>);
  }

  it('RotateSecret puts a new live key in AWSCURRENT and keeps the old one valid as AWSPREVIOUS', async () => {
    // Prepare
    const { arn, first } = await setup();
    const before = await h.labels(arn);
    // Act
    await h.rotate(arn);
    // Assess
    const labels = await h.labels(arn);
    const current = await h.value(arn);
    expect((await lastRotation(arn)).status).toBe('succeeded');
    expect(labels.AWSPREVIOUS).toBe(before.AWSCURRENT);
    expect([undefined, labels.AWSCURRENT]).toContain(labels.AWSPENDING);
    expect(current).toMatchObject({ engine: 'apikey', provider: 'local', previousKeyId: first.id });
    expect(await f.canLogin(current.apiKey as string)).toBe(true);
    expect(await f.canLogin(first.value)).toBe(true);
    expect(live()).toEqual([first.id, current.keyId]);
  });

  it('reads the admin secret once per rotation and AWSPENDING never: 8 Secrets Manager calls in a warm container', async () => {
    // Prepare
    const { arn } = await setup();
    h.stack.secretsManager.resetCalls();
    // Act
    await h.rotate(arn);
    // Assess
    const { RotateSecret: _, ...calls } = h.stack.secretsManager.calls;
    expect(calls).toEqual({
      DescribeSecret: 4,
      // AWSCURRENT and the admin secret (reused by finishSecret): createSecret mints and puts
      // without reading the empty AWSPENDING (a refused put would discard the key it minted).
      GetSecretValue: 2,
      PutSecretValue: 1,
      UpdateSecretVersionStage: 1,
    });
  });

  it('until-next-rotation: the next rotation revokes the key two generations old', async () => {
    // Prepare
    const { arn, first } = await setup({ maxLiveKeys: 3 });
    await h.rotate(arn);
    const second = await h.value(arn);
    // Act
    await h.rotate(arn);
    // Assess
    const third = await h.value(arn);
    expect(await f.canLogin(first.value)).toBe(false);
    expect(await f.canLogin(second.apiKey as string)).toBe(true);
    expect(live()).toEqual([second.keyId, third.keyId]);
  });

  it('none: the old key is revoked when the rotation finishes', async () => {
    // Prepare
    const { arn, first } = await setup({ secret: { gracePolicy: 'none' } });
    // Act
    await h.rotate(arn);
    // Assess
    const current = await h.value(arn);
    expect(await f.canLogin(first.value)).toBe(false);
    expect(live()).toEqual([current.keyId]);
  });

  it('a duration: the old key stays valid within it and the first rotation after it revokes the key', async () => {
    // Prepare
    const { arn, first } = await setup({ maxLiveKeys: 3, secret: { gracePolicy: '2h' } });
    await h.rotate(arn);
    f.clock.advance(HOUR);
    const validWithin = await f.canLogin(first.value);
    f.clock.advance(2 * HOUR);
    // Act
    await h.rotate(arn);
    // Assess
    expect(validWithin).toBe(true);
    expect(await f.canLogin(first.value)).toBe(false);
    expect(f.provider.keys.get(first.id)?.revokedAt).toBeDefined();
  });

  it('at a live-key limit of 2 every rotation still succeeds, ending the previous key grace early', async () => {
    // Prepare
    const { arn } = await setup({ maxLiveKeys: 2 });
    await h.rotate(arn);
    const second = await h.value(arn);
    // Act
    await h.rotate(arn);
    // Assess
    const third = await h.value(arn);
    expect((await lastRotation(arn)).status).toBe('succeeded');
    expect(live()).toEqual([second.keyId, third.keyId]);
  });

  it('at the live-key limit with keys rotor does not manage, the rotation fails clearly and AWSCURRENT keeps working', async () => {
    // Prepare
    const { arn, first } = await setup({ maxLiveKeys: 2 });
    const foreign = f.provider.keys.mint('ci-pipeline');
    // Act
    await h.rotate(arn);
    // Assess
    expect((await lastRotation(arn)).status).toBe('failed');
    expect(failedSteps()[0]).toMatchObject({ name: 'ProviderError', step: 'createSecret' });
    expect(String(failedSteps()[0]?.message)).toMatch(/maxLiveKeys/);
    expect((await h.value(arn)).keyId).toBe(first.id);
    expect(await f.canLogin(first.value)).toBe(true);
    expect(live()).toEqual([first.id, foreign.id]);
  });

  it('each step invoked twice ends with one new live key and no orphan', async () => {
    // Prepare
    const { arn, first } = await setup();
    const twice = h.stack.registerFunction('rotor-twice', async (event, context) => {
      await h.handler(event, context);
      return h.handler(event, context);
    });
    // Act
    await h.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: twice,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    const record = await lastRotation(arn);
    // Assess
    const current = await h.value(arn);
    expect(record.status).toBe('succeeded');
    expect(record.attempts).toHaveLength(1);
    expect(mintedFor(f.provider, record.token, arn)).toHaveLength(1);
    expect(live()).toEqual([first.id, current.keyId]);
  });

  it('finishSecret replayed after promotion is a no-op that keeps every valid key', async () => {
    // Prepare
    const { arn, first } = await setup();
    await h.rotate(arn);
    const { token } = await lastRotation(arn);
    // Act
    const outcome = await h.invoke('finishSecret', arn, token);
    // Assess
    const current = await h.value(arn);
    expect(outcome.result).toBe('noop');
    expect(live()).toEqual([first.id, current.keyId]);
  });

  it('a create whose response is lost leaves no orphan live key', async () => {
    // Prepare
    const { arn, first } = await setup();
    f.provider.faults.loseCreateResponse();
    // Act
    await h.rotate(arn);
    // Assess
    const record = await lastRotation(arn);
    const current = await h.value(arn);
    expect(record.status).toBe('succeeded');
    expect(mintedFor(f.provider, record.token, arn).map((key) => key.revokedAt === undefined)).toEqual([
      false,
      true,
    ]);
    expect(live()).toEqual([first.id, current.keyId]);
  });

  it('a crash after the mint but before PutSecretValue leaves no orphan live key', async () => {
    // Prepare
    const { arn, first } = await setup();
    // A refusal the SDK does not retry: the step fails after minting, as if the Lambda had died.
    h.stack.secretsManager.injectFault('PutSecretValue', {
      error: { type: 'InvalidRequestException', status: 400 },
    });
    // Act
    await h.rotate(arn);
    // Assess
    const record = await lastRotation(arn);
    const current = await h.value(arn);
    expect(record.status).toBe('succeeded');
    expect(record.attempts).toHaveLength(2);
    expect(mintedFor(f.provider, record.token, arn).map((key) => key.revokedAt === undefined)).toEqual([
      false,
      true,
    ]);
    expect(live()).toEqual([first.id, current.keyId]);
  });

  it('a provider 5xx is retried within the step and the rotation succeeds at the first attempt', async () => {
    // Prepare
    const { arn } = await setup();
    f.provider.faults.fail('list', 503, 2);
    // Act
    await h.rotate(arn);
    // Assess
    const record = await lastRotation(arn);
    expect(record.status).toBe('succeeded');
    expect(record.attempts).toHaveLength(1);
    expect(f.waits).toHaveLength(2);
  });

  it('a provider 4xx is not retried: the rotation fails, AWSCURRENT keeps working and no key is left live', async () => {
    // Prepare
    const { arn, first } = await setup();
    f.provider.faults.fail('create', 400, 10);
    // Act
    await h.rotate(arn);
    // Assess
    const record = await lastRotation(arn);
    expect(record.status).toBe('failed');
    // One create per attempt of the rotation: none resent within a step.
    expect(f.provider.requests.filter((r) => r.operation === 'create')).toHaveLength(record.attempts.length);
    expect(failedSteps()[0]).toMatchObject({ name: 'ProviderError', status: 400, retryable: false });
    expect(await f.canLogin(first.value)).toBe(true);
    expect(live()).toEqual([first.id]);
  });

  it('throttling (429 with Retry-After) is waited out as the provider asks', async () => {
    // Prepare
    const { arn } = await setup();
    f.provider.faults.throttle('create', 3);
    // Act
    await h.rotate(arn);
    // Assess
    expect((await lastRotation(arn)).status).toBe('succeeded');
    expect(f.waits).toEqual([3000]);
  });

  it('a secret naming a provider the function does not know fails with the field named', async () => {
    // Prepare
    const { arn } = await setup({ secret: { provider: 'elsewhere' } });
    // Act
    await h.rotate(arn);
    // Assess
    expect((await lastRotation(arn)).status).toBe('failed');
    expect(failedSteps()[0]).toMatchObject({
      name: 'InvalidSecretError',
      field: 'provider',
      label: 'AWSCURRENT',
    });
    expect(f.provider.requests).toEqual([]);
  });

  it('a secret carrying its own description of another host is refused before any call', async () => {
    // Prepare
    const hostile = {
      baseUrl: 'https://collector.example.net/v1',
      auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
      create: {
        method: 'POST',
        path: '/keys',
        body: { name: '{{name}}' },
        response: { id: 'id', key: 'key' },
      },
      list: { method: 'GET', path: '/keys', response: { items: 'keys', id: 'id', name: 'name' } },
      revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
      probe: { method: 'GET', path: '/whoami', headers: { 'X-Api-Key': '{{key}}' } },
    };
    const { arn } = await setup({
      rotator: { inlineProviderHosts: ['127.0.0.1'] },
      secret: { provider: hostile },
    });
    // Act
    await h.rotate(arn);
    // Assess
    const record = await lastRotation(arn);
    expect(record.status).toBe('failed');
    // The error as thrown: the event's copy is scrubbed of every string in the secret, and an
    // inline description holds common words ("name", "keys") that the redactor then removes.
    expect(record.attempts[0]?.error?.name).toBe('InvalidSecretError');
    expect(failedSteps()[0]).toMatchObject({ field: 'provider.baseUrl', label: 'AWSCURRENT' });
    expect(f.provider.requests).toEqual([]);
  });

  it('a hand-made first key nobody adopted is refused at createSecret (ForeignKeyError, security category): nothing minted, AWSCURRENT unchanged and working', async () => {
    // Prepare
    await setup();
    const handMade = f.provider.keys.mint('app');
    const arn = await h.createSecret(f.secretFor(handMade));
    const before = await h.value(arn);
    // Act
    await h.rotate(arn);
    // Assess
    expect((await lastRotation(arn)).status).toBe('failed');
    expect(failedSteps()[0]).toMatchObject({
      name: 'ForeignKeyError',
      category: 'security',
      step: 'createSecret',
      retryable: false,
    });
    expect(String(failedSteps()[0]?.message)).toContain(handMade.id);
    expect(f.provider.requests.filter((r) => r.operation === 'create' || r.operation === 'revoke')).toEqual(
      [],
    );
    expect(await h.value(arn)).toEqual(before);
    expect(await f.canLogin(handMade.value)).toBe(true);
  });

  it('a rotation abandoned for good (its AWSPENDING cleared, as heal does) has its minted key revoked by the next rotation', async () => {
    // Prepare: testSecret keeps being refused, so the rotation fails with its key minted (three
    // attempts, each probing the pending key and then, after the failure, AWSCURRENT's).
    const { arn, first } = await setup({ maxLiveKeys: 3 });
    f.provider.faults.fail('probe', 401, 6);
    await h.rotate(arn);
    const failed = await lastRotation(arn);
    const abandoned = mintedFor(f.provider, failed.token, arn);
    await h.sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: failed.token,
      }),
    );
    // Act
    await h.rotate(arn);
    // Assess
    const current = await h.value(arn);
    expect(failed.status).toBe('failed');
    expect(abandoned.map((key) => key.revokedAt === undefined)).toEqual([false]);
    expect((await lastRotation(arn)).status).toBe('succeeded');
    expect(live()).toEqual([first.id, current.keyId]);
  });

  it('a hand-made first key adopted with rotor attach --adopt rotates, and is retired on schedule; adopted for another secret it is refused', async () => {
    // Prepare
    await setup({ maxLiveKeys: 5 });
    const cli = new CliRunner(h.stack.endpoint, { env: { ROTOR_OPERATOR: 'ops@example', NO_COLOR: '1' } });
    const handMade = f.provider.keys.mint('app');
    const name = `apikey/adopted-${randomUUID().slice(0, 8)}`;
    const arn = await h.createSecret(f.secretFor(handMade), name);
    const other = f.provider.keys.mint('other-app');
    const otherName = `apikey/other-${randomUUID().slice(0, 8)}`;
    const otherArn = await h.createSecret(f.secretFor(other), otherName);
    const adopted = await cli.run('attach', name, '--adopt', handMade.id);
    // The other secret's writer names the adopted key as its own previous key.
    await cli.run('attach', otherName, '--adopt', other.id);
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: otherArn,
        SecretString: JSON.stringify(f.secretFor(other, { previousKeyId: handMade.id })),
      }),
    );
    // Act
    await h.rotate(otherArn);
    const survivedOther = await f.canLogin(handMade.value);
    await h.rotate(arn);
    const second = await h.value(arn);
    const keptInGrace = await f.canLogin(handMade.value);
    await h.rotate(arn);
    // Assess
    expect(adopted.code).toBe(0);
    expect(survivedOther).toBe(true);
    expect(keptInGrace).toBe(true);
    expect(await f.canLogin(handMade.value)).toBe(false);
    expect(await f.canLogin(second.apiKey as string)).toBe(true);
    const refused = h.stack.rotations.history.filter((r) => r.secretArn === otherArn).at(-1);
    expect(refused?.status).toBe('failed');
    expect(refused?.attempts[0]?.error?.name).toBe('ForeignKeyError');
    expect(await f.canLogin(other.value)).toBe(true);
  });

  /** A handler of its own (a fresh container: no cache), on the same stack and rotator. */
  function container() {
    const config = { ...readConfig({ ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' }) };
    const handler = createRotationHandler({
      rotators: [f.rotator],
      secretsManager: h.sm,
      eventBridge: h.eb,
      config,
    });
    return (step: 'createSecret', arn: string, token: string) =>
      handler(
        { Step: step, SecretId: arn, ClientRequestToken: token },
        { getRemainingTimeInMillis: () => 30_000 },
      );
  }

  it('createSecret replayed after its response was lost keeps the stored pending key and revokes the one it minted again', async () => {
    // Prepare: createSecret stored a value, and its answer never reached Secrets Manager.
    const { arn, first } = await setup({ maxLiveKeys: 4 });
    const token = await h.stagePending(arn);
    await container()('createSecret', arn, token);
    const stored = await h.value(arn, 'AWSPENDING');
    h.stack.secretsManager.resetCalls();
    // Act: the replay runs in another container (nothing cached), then the rotation goes on.
    await container()('createSecret', arn, token);
    const afterReplay = mintedFor(f.provider, token, arn).map((key) => [key.id, key.revokedAt === undefined]);
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const) await h.invoke(step, arn, token);
    // Assess: the key minted again was revoked by createSecret itself (discard), not left to a later step.
    expect(afterReplay).toEqual([
      [stored.keyId, true],
      [expect.any(String), false],
    ]);
    expect(await h.value(arn, 'AWSCURRENT')).toEqual(stored);
    expect(await f.canLogin(String(stored.apiKey))).toBe(true);
    expect(await f.canLogin(first.value)).toBe(true);
    // The replay read AWSPENDING only after its put was refused.
    expect(h.stack.secretsManager.calls).toMatchObject({ PutSecretValue: 1 });
  });

  it('two concurrent createSecret calls for one token: one value is stored, the other call revokes the key it minted', async () => {
    // Prepare
    const { arn } = await setup({ maxLiveKeys: 4 });
    const token = await h.stagePending(arn);
    // Act
    await Promise.all([container()('createSecret', arn, token), container()('createSecret', arn, token)]);
    const pending = await h.value(arn, 'AWSPENDING');
    const liveAfterCreate = mintedFor(f.provider, token, arn)
      .filter((key) => key.revokedAt === undefined)
      .map((key) => key.id);
    for (const step of ['setSecret', 'testSecret', 'finishSecret'] as const) await h.invoke(step, arn, token);
    // Assess
    const current = await h.value(arn);
    expect(mintedFor(f.provider, token, arn)).toHaveLength(2);
    expect(liveAfterCreate).toEqual([pending.keyId]);
    expect(current.keyId).toBe(pending.keyId);
    expect(await f.canLogin(String(current.apiKey))).toBe(true);
  });

  it('no key value or admin credential appears in logs, events or errors', () => {
    // Assess
    expect(keyValues.size).toBeGreaterThan(20);
    expect(output.join('')).toMatch(/step succeeded/);
    expect(output.join('')).toMatch(/step failed/);
    expect(events.length).toBeGreaterThan(50);
    const everything = [...output, ...events, ...failures].join('\n');
    for (const value of keyValues) expect(everything.includes(value), 'a key value leaked').toBe(false);
  });
});
