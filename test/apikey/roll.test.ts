/**
 * Rolling a key in place (issue 19 item 8): Cloudflare's "Roll Token" (PUT
 * /user/tokens/{token_id}/value) as the API-key rotator's `roll-in-place` strategy, through
 * RotateSecret on the local stack against the Cloudflare fake. The old value dies at the roll, so
 * what matters is that a stored value is never rolled again, that a lost value is recovered by
 * another roll, and that a failed test is healed forward.
 */
import { randomUUID } from 'node:crypto';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfig } from '../../handlers/config.js';
import { createRotationHandler } from '../../handlers/createHandler.js';
import { Healer } from '../../handlers/heal.js';
import { redactor } from '../../handlers/redact.js';
import { SecretsStore } from '../../handlers/secrets.js';
import { type ProviderFake, startProviderFake } from '../../local/providerFakes.js';
import { createApiKeyRotator, keyTag } from '../../rotators/apikey/index.js';
import { createRegistry } from '../../rotators/registry.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { skipApiKey } from './support.js';

describe.skipIf(skipApiKey)('API-key rotator: roll in place (Cloudflare Roll Token)', () => {
  let fake: ProviderFake | undefined;
  let h: RotationHarness | undefined;

  afterEach(async () => {
    await h?.close();
    await fake?.stop();
    h = undefined;
    fake = undefined;
  });

  async function setUp() {
    fake = await startProviderFake('cloudflare');
    const adminName = `cloudflare/admin-${randomUUID()}`;
    const rotator = createApiKeyRotator({
      providers: {
        cloudflare: { preset: 'cloudflare', roll: true, baseUrl: fake.baseUrl, adminSecret: adminName },
      },
    });
    // No reattempt of a failed rotation on its own: the heal test decides what happens next.
    h = await startRotationHarness({ rotators: [rotator], stack: { rotation: { reattemptStuck: false } } });
    const adminSecretArn = await h.createSecret(fake.adminSecret, adminName);
    const first = fake.keys.mint('app');
    const arn = await h.createSecret({
      engine: 'apikey',
      provider: 'cloudflare',
      adminSecretArn,
      keyId: first.id,
      apiKey: first.value,
    });
    // The operator puts the hand-made token under the secret's tag (or adopts it).
    fake.keys.rename(first.id, `${keyTag(arn)}-app`);
    const initialValue = first.value;
    return { fake, h, rotator, arn, first, initialValue };
  }

  const rolls = (f: ProviderFake) => f.requests.filter((r) => r.operation === 'roll').length;

  it('rotates twice end to end: same token id, a new value each time, only the latest works, nothing minted', async () => {
    // Prepare
    const { fake, h, arn, first, initialValue } = await setUp();
    const liveBefore = fake.keys.live().length;
    // Act
    await h.rotate(arn);
    const second = await h.value(arn);
    await h.rotate(arn);
    const third = await h.value(arn);
    // Assess
    expect(h.stack.rotations.history.map((record) => record.status)).toEqual(['succeeded', 'succeeded']);
    expect([second.keyId, third.keyId]).toEqual([first.id, first.id]);
    expect(new Set([initialValue, second.apiKey, third.apiKey]).size).toBe(3);
    expect(await fake.canLogin({ id: first.id, value: String(third.apiKey) })).toBe(true);
    expect(await fake.canLogin({ id: first.id, value: String(second.apiKey) })).toBe(false);
    expect(await fake.canLogin({ id: first.id, value: initialValue })).toBe(false);
    expect(rolls(fake)).toBe(2);
    expect(fake.requests.filter((r) => r.operation === 'create' || r.operation === 'revoke')).toEqual([]);
    expect(fake.keys.live().length).toBe(liveBefore);
    expect(second).not.toHaveProperty('previousKeyId');
    const strategies = h
      .rotorEvents()
      .filter((event) => event.detailType === 'Rotation Succeeded')
      .map((event) => event.detail.strategy);
    expect(strategies).toEqual(['roll-in-place', 'roll-in-place']);
  });

  it('a crash between the roll and PutSecretValue is recovered by the retry rolling again: one value works', async () => {
    // Prepare
    const { fake, h, arn, first, initialValue } = await setUp();
    // A refusal the SDK does not retry: the step fails after the roll, as if the Lambda had died.
    h.stack.secretsManager.injectFault('PutSecretValue', {
      error: { type: 'InvalidRequestException', status: 400 },
    });
    // Act
    await h.rotate(arn);
    // Assess
    const record = h.stack.rotations.history.at(-1);
    const current = await h.value(arn);
    expect(record?.status).toBe('succeeded');
    expect(record?.attempts).toHaveLength(2);
    expect(rolls(fake)).toBe(2);
    expect(await fake.canLogin({ id: first.id, value: String(current.apiKey) })).toBe(true);
    expect(await fake.canLogin({ id: first.id, value: initialValue })).toBe(false);
    expect(fake.keys.get(first.id)?.value).toBe(current.apiKey);
  });

  it('a replayed createSecret after the put never rolls again, even in a container that stored nothing', async () => {
    // Prepare
    const { fake, h, rotator, arn, first } = await setUp();
    const token = await h.stagePending(arn);
    await h.invoke('createSecret', arn, token);
    const stored = await h.value(arn, 'AWSPENDING');
    // A cold container: it knows nothing of the put and must read AWSPENDING to learn of it.
    const cold = createRotationHandler({
      rotators: [rotator],
      secretsManager: h.sm,
      eventBridge: h.eb,
      config: { ...readConfig({ ROTOR_LOG_LEVEL: 'SILENT', ROTOR_METRICS: 'off' }) },
    });
    // Act
    await h.invoke('createSecret', arn, token);
    await cold(
      { Step: 'createSecret', SecretId: arn, ClientRequestToken: token },
      { getRemainingTimeInMillis: () => 30_000 },
    );
    // Assess
    expect(rolls(fake)).toBe(1);
    expect(await h.value(arn, 'AWSPENDING')).toEqual(stored);
    expect(await fake.canLogin({ id: first.id, value: String(stored.apiKey) })).toBe(true);
  });

  it('a failed test says AWSPENDING holds the only working value, and heal rolls forward to it', async () => {
    // Prepare
    const { fake, h, rotator, arn, first, initialValue } = await setUp();
    // Every probe refused while the rotation runs (its retries included), then the provider recovers.
    fake.faults.fail('probe', 401, 100);
    await h.rotate(arn);
    const pending = await h.value(arn, 'AWSPENDING');
    fake.faults.clear();
    const healer = new Healer({
      store: new SecretsStore(h.sm),
      registry: createRegistry([rotator]),
      redactor,
      minAgeMs: 0,
    });
    // Act
    const report = await healer.heal(arn, { apply: true, force: true });
    // Assess
    expect(h.stack.rotations.history.at(-1)?.status).toBe('failed');
    // The retries of the failed rotation found the stored value and rolled nothing more.
    expect(rolls(fake)).toBe(1);
    const failure = h
      .rotorEvents()
      .filter((event) => event.detailType === 'Rotation Step Failed')
      .map((event) => event.detail.error as { message: string })
      .at(-1);
    expect(failure?.message).toContain(
      "AWSCURRENT's value no longer works and AWSPENDING's is the only value that can; no rollback is possible",
    );
    expect(report.decision).toBe('roll-forward');
    expect(report.acted).toBe(true);
    expect(await h.value(arn)).toEqual(pending);
    expect(await fake.canLogin({ id: first.id, value: String(pending.apiKey) })).toBe(true);
    expect(await fake.canLogin({ id: first.id, value: initialValue })).toBe(false);
  });

  it('preflight reports whether the key AWSCURRENT names may be rolled, and rolls nothing', async () => {
    // Prepare
    const { fake, h, rotator, arn, first } = await setUp();
    const adminSecretArn = String((await h.value(arn)).adminSecretArn);
    const stranger = fake.keys.mint('another team');
    const request = {
      signal: AbortSignal.timeout(10_000),
      deadline: Date.now() + 10_000,
      secretArn: arn,
      fetchRelated: async (id: string) => {
        expect(id).toBe(adminSecretArn);
        return JSON.stringify(fake.adminSecret);
      },
      fetchMaster: async () => {
        throw new Error('an API-key preflight reads no master');
      },
      adopted: async () => [],
    };
    const value = await h.value(arn);
    const verdict = async (keyId: string) => {
      const current = rotator.parse({ value: { ...value, keyId }, label: 'AWSCURRENT' });
      const checks = await rotator.preflight({ ...request, current });
      return checks.find((check) => check.name === 'the key AWSCURRENT names can be rolled')?.ok;
    };
    // Act
    const own = await verdict(first.id);
    const foreign = await verdict(stranger.id);
    // Assess
    expect(own).toBe(true);
    expect(foreign).toBe(false);
    expect(rolls(fake)).toBe(0);
  });

  it("refuses to roll a listed token that is not this secret's (the writer chooses keyId): nothing is rolled", async () => {
    // Prepare
    const { fake, h, arn } = await setUp();
    const stranger = fake.keys.mint('another team');
    const strangerValue = stranger.value;
    const value = await h.value(arn);
    await h.sm.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: JSON.stringify({ ...value, keyId: stranger.id }),
      }),
    );
    // Act
    await h.rotate(arn);
    // Assess
    expect(h.stack.rotations.history.at(-1)?.status).toBe('failed');
    expect(rolls(fake)).toBe(0);
    expect(fake.keys.get(stranger.id)?.value).toBe(strangerValue);
    const names = h
      .rotorEvents()
      .filter((event) => event.detailType === 'Rotation Step Failed')
      .map((event) => (event.detail.error as { name: string }).name);
    expect(names).toContain('ForeignKeyError');
  });
});
