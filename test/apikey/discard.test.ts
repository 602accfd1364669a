/**
 * The `discard` hook (issue 19 item 5): a pending value that will never be promoted (abandoned by
 * the healer, or that lost the put to another) has the key createPending minted for it revoked at
 * once. Against the reference provider over real HTTP.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderClient } from '../../rotators/apikey/client.js';
import { findListed } from '../../rotators/apikey/keys.js';
import type { ApiKeySecret } from '../../rotators/apikey/secret.js';
import { ForeignKeyError } from '../../rotators/errors.js';
import { type ProviderFixture, skipApiKey, startProviderFixture } from './support.js';

type Value = Record<string, unknown>;

describe.skipIf(skipApiKey)('API-key rotator: discard', () => {
  let fixture: ProviderFixture | undefined;

  afterEach(async () => {
    await fixture?.stop();
    fixture = undefined;
  });

  async function start(): Promise<ProviderFixture> {
    fixture = await startProviderFixture({ provider: { maxLiveKeys: 10 } });
    return fixture;
  }

  async function createPending(f: ProviderFixture, currentValue: Value, token: string): Promise<Value> {
    const { pending } = await f.rotator.createPending({
      ...f.request('createSecret', { token }),
      current: f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
      currentValue,
      generatePassword: () => {
        throw new Error('an API-key rotation never asks for a password');
      },
    });
    return pending;
  }

  async function discard(f: ProviderFixture, currentValue: Value, pendingValue: Value, token: string) {
    await f.rotator.discard({
      ...f.request('createSecret', { token }),
      current: f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
      pending: f.rotator.parse({ value: pendingValue, label: 'AWSPENDING' }),
    });
  }

  const revokes = (f: ProviderFixture) => f.provider.requests.filter((r) => r.operation === 'revoke').length;

  it("revokes the key minted for the abandoned pending value, leaves AWSCURRENT's working, and is idempotent", async () => {
    // Prepare
    const f = await start();
    const first = f.firstKey();
    const current = f.secretFor(first);
    const token = randomUUID();
    const pending = await createPending(f, current, token);
    // Act
    await discard(f, current, pending, token);
    const afterFirst = revokes(f);
    await discard(f, current, pending, token);
    // Assess
    expect(f.provider.keys.get(String(pending.keyId))?.revokedAt).toBeDefined();
    expect(await f.canLogin(String(pending.apiKey))).toBe(false);
    expect(await f.canLogin(first.value)).toBe(true);
    expect(afterFirst).toBe(1);
    expect(revokes(f)).toBe(1);
  });

  it("never touches AWSCURRENT's key, nor the key it replaced, even when the pending value names them", async () => {
    // Prepare
    const f = await start();
    const first = f.firstKey();
    const token = randomUUID();
    const second = await createPending(f, f.secretFor(first), token);
    // Act: AWSCURRENT is the second key; a pending value names each of AWSCURRENT's keys.
    await discard(f, second, { ...second, keyId: second.keyId }, randomUUID());
    await discard(f, second, { ...second, keyId: first.id }, randomUUID());
    // Assess
    expect(revokes(f)).toBe(0);
    expect(await f.canLogin(String(second.apiKey))).toBe(true);
    expect(await f.canLogin(first.value)).toBe(true);
  });

  it("a pending value naming AWSCURRENT's key (a key rolled in place) is done at once: no admin secret read, no request", async () => {
    // Prepare
    const f = await start();
    const first = f.firstKey();
    const current = f.secretFor(first);
    const requestsBefore = f.provider.requests.length;
    let adminReads = 0;
    const request = f.request('createSecret');
    // Act
    await f.rotator.discard({
      ...request,
      fetchRelated: async (id) => {
        adminReads++;
        return request.fetchRelated(id);
      },
      current: f.rotator.parse({ value: current, label: 'AWSCURRENT' }),
      pending: f.rotator.parse({ value: { ...current, apiKey: 'the-rolled-value' }, label: 'AWSPENDING' }),
    });
    // Assess
    expect(adminReads).toBe(0);
    expect(f.provider.requests.length).toBe(requestsBefore);
    expect(await f.canLogin(first.value)).toBe(true);
  });

  it("refuses a key that is not this secret's, or not this rotation's: ForeignKeyError, and it stays live", async () => {
    // Prepare
    const f = await start();
    const first = f.firstKey();
    const current = f.secretFor(first);
    const stranger = f.provider.keys.mint('team-b-key');
    const earlier = await createPending(f, current, randomUUID());
    const token = randomUUID();
    // Act
    const foreign = await discard(f, current, { ...current, keyId: stranger.id }, token).catch((e) => e);
    const otherRotation = await discard(f, current, { ...current, keyId: earlier.keyId }, token).catch(
      (e) => e,
    );
    // Assess
    expect(foreign).toBeInstanceOf(ForeignKeyError);
    expect(otherRotation).toBeInstanceOf(ForeignKeyError);
    expect(revokes(f)).toBe(0);
    expect(f.provider.keys.get(stranger.id)?.revokedAt).toBeUndefined();
    expect(f.provider.keys.get(String(earlier.keyId))?.revokedAt).toBeUndefined();
  });

  it('succeeds when nothing was minted or the key is already gone', async () => {
    // Prepare
    const f = await start();
    const first = f.firstKey();
    const current = f.secretFor(first);
    // Act
    await discard(f, current, { ...current, keyId: 'key_never_listed' }, randomUUID());
    // Assess
    expect(revokes(f)).toBe(0);
    expect(await f.canLogin(first.value)).toBe(true);
  });
});

describe('API-key rotator: discard, looking for a key that may not be listed yet', () => {
  it("a keyCreatedAt in the future (the writer's to set) waits no longer than the propagation bound from now", async () => {
    // Prepare: the key is never listed; the clock moves only by the waits asked for.
    let clock = Date.UTC(2026, 0, 1);
    let lists = 0;
    let sleeps = 0;
    const client = {
      list: async () => {
        lists++;
        return [];
      },
    } as unknown as ProviderClient;
    const secret = {
      provider: { probe: { propagation: { baseDelayMs: 100, maxWaitMs: 2_000, notYetStatuses: [403] } } },
    } as unknown as ApiKeySecret;
    const access = {
      now: () => clock,
      sleep: async (ms: number) => {
        if (++sleeps > 100) throw new Error('still waiting after 100 sleeps');
        clock += ms;
      },
    };
    const request = { deadline: Date.now() + 60_000, signal: new AbortController().signal };
    // Act
    const found = await findListed(access, client, secret, 'key_pending', clock + 365 * 86_400_000, request);
    // Assess
    expect(found).toBeUndefined();
    expect(clock - Date.UTC(2026, 0, 1)).toBeLessThanOrEqual(2_000);
    expect(lists).toBeLessThanOrEqual(6);
  });
});
