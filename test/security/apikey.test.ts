/**
 * Trust boundaries of the API-key engine (issue 14, "API keys belong to their secret"), attacked
 * by someone who can write one secret, against the reference provider over real HTTP.
 *
 * Rule: rotor revokes (or activates) only keys whose provider-side name, as the provider lists it,
 * starts with the secret's own tag (`rotor-` + 12 hex digits of SHA-256 of the secret's ARN), or
 * whose id an operator adopted for the secret. A `keyId`, `previousKeyId` or `keyNamePrefix` in a
 * secret value that would make rotor act on another key is refused with ForeignKeyError
 * (category `security`) before anything changes, and the key it aimed at stays live.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProviderKey } from '../../local/apiKeyProvider.js';
import { type ApiKeyProvider, startApiKeyProvider } from '../../local/apiKeyProvider.js';
import { createApiKeyRotator } from '../../rotators/apikey/index.js';
import { KeyNames, keyTag } from '../../rotators/apikey/secret.js';
import {
  ForeignKeyError,
  InvalidSecretError,
  MasterBindingError,
  TrustBoundaryError,
  UnmanagedUserError,
} from '../../rotators/errors.js';
import { mintedFor, type ProviderFixture, skipApiKey, startProviderFixture } from '../apikey/support.js';
import { TEST_SECRET_ARN } from '../support/engines.js';

/** The attacker's secret (A) and the victim's (B), in the same provider account. */
const A = TEST_SECRET_ARN;
const B = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team-b/payments-XyZ123';

type Value = Record<string, unknown>;

describe.skipIf(skipApiKey)('API keys belong to their secret', () => {
  let fixture: ProviderFixture | undefined;
  const errors: unknown[] = [];

  afterEach(async () => {
    await fixture?.stop();
    fixture = undefined;
  });

  async function start(options: Parameters<typeof startProviderFixture>[0] = {}): Promise<ProviderFixture> {
    fixture = await startProviderFixture({ provider: { maxLiveKeys: 20 }, ...options });
    return fixture;
  }

  async function caught(work: Promise<unknown>): Promise<unknown> {
    try {
      await work;
    } catch (error) {
      errors.push(error);
      return error;
    }
    throw new Error('expected the call to fail');
  }

  const noPassword = () => {
    throw new Error('an API-key rotation never asks for a password');
  };

  function parse(f: ProviderFixture, value: Value, label: string) {
    return f.rotator.parse({ value, label });
  }

  async function createPending(
    f: ProviderFixture,
    arn: string,
    currentValue: Value,
    token = randomUUID(),
    /** What the step machine says after reading AWSPENDING and finding nothing under the token. */
    nothingStored?: true,
  ) {
    const { pending } = await f.rotator.createPending({
      ...f.request('createSecret', { token, secretArn: arn }),
      current: parse(f, currentValue, 'AWSCURRENT'),
      currentValue,
      ...(nothingStored ? { nothingStored } : {}),
      generatePassword: noPassword,
    });
    return pending;
  }

  async function finish(f: ProviderFixture, arn: string, currentValue: Value, previousValue?: Value) {
    await f.rotator.finish({
      ...f.request('finishSecret', { secretArn: arn }),
      current: parse(f, currentValue, 'AWSCURRENT'),
      previous: async () =>
        previousValue === undefined ? undefined : parse(f, previousValue, 'AWSPREVIOUS'),
    });
  }

  /** The four steps as the step machine runs them. Returns the new AWSCURRENT value. */
  async function rotate(f: ProviderFixture, arn: string, currentValue: Value): Promise<Value> {
    const token = randomUUID();
    const pendingValue = await createPending(f, arn, currentValue, token);
    const current = parse(f, currentValue, 'AWSCURRENT');
    const pending = parse(f, pendingValue, 'AWSPENDING');
    await f.rotator.apply({
      ...f.request('setSecret', { token, secretArn: arn }),
      current,
      pending,
      previous: async () => undefined,
    });
    await f.rotator.test({
      ...f.request('testSecret', { token, secretArn: arn }),
      pending,
      current: async () => current,
    });
    await finish(f, arn, pendingValue, currentValue);
    return pendingValue;
  }

  function live(f: ProviderFixture): string[] {
    return f.provider.keys.live().map((key) => key.id);
  }

  const isLive = (f: ProviderFixture, id: unknown) =>
    f.provider.keys.get(String(id))?.revokedAt === undefined;

  /** Whether anything but a list (and the probe) reached the provider since `from`. */
  function changes(f: ProviderFixture, from = 0) {
    return f.provider.requests
      .slice(from)
      .filter((request) => request.operation !== 'list' && request.operation !== 'probe');
  }

  function expectForeign(error: unknown, ...mentions: string[]): void {
    expect(error).toBeInstanceOf(ForeignKeyError);
    expect(error).toBeInstanceOf(TrustBoundaryError);
    const refusal = error as ForeignKeyError;
    expect(refusal.category).toBe('security');
    expect(refusal.retryable).toBe(false);
    expect(refusal.toJSON()).toMatchObject({ name: 'ForeignKeyError', category: 'security' });
    for (const mention of mentions) expect(refusal.message).toContain(mention);
  }

  /** B, rotated once by rotor: its current key carries B's tag, its first key is in grace. */
  async function victim(f: ProviderFixture): Promise<{ first: ProviderKey; current: Value }> {
    const first = f.firstKey('team-b-app', B);
    const current = await rotate(f, B, f.secretFor(first));
    return { first, current };
  }

  describe('names', () => {
    it('derives a different tag for every secret ARN, and mints names that start with it', () => {
      // Prepare
      const arns = [A, B, `${A}x`, A.replace('us-east-1', 'eu-west-1')];
      // Act
      const tags = arns.map(keyTag);
      const name = new KeyNames(A, 'payments').nameFor('0f8fad5b-d9cb-469f-a165-70867728950e');
      // Assess
      expect(new Set(tags).size).toBe(arns.length);
      for (const tag of tags) expect(tag).toMatch(/^rotor-[0-9a-f]{12}$/);
      expect(name).toBe(`${keyTag(A)}-payments-0f8fad5b-d9cb-469f-a165-70867728950e`);
    });

    it('a keyNamePrefix adds a label after the tag and never replaces it; the former default adds nothing', () => {
      // Prepare
      const token = randomUUID();
      // Act
      const labelled = new KeyNames(A, 'billing-').nameFor(token);
      const legacy = new KeyNames(A, 'rotor-').nameFor(token);
      const none = new KeyNames(A).nameFor(token);
      // Assess
      expect(labelled).toBe(`${keyTag(A)}-billing-${token}`);
      expect(legacy).toBe(`${keyTag(A)}-${token}`);
      expect(none).toBe(`${keyTag(A)}-${token}`);
    });

    it('only a name that starts with the tag proves ownership: containing it elsewhere proves nothing', () => {
      // Prepare
      const names = new KeyNames(A);
      const tag = keyTag(A);
      const token = randomUUID();
      const impostors = [
        `x-${tag}-${token}`, // the tag, but not first
        `app ${tag}-${token}`,
        `${tag}${token}`, // no separator after the tag
        `${tag}0-${token}`, // a longer hex run
        `${tag.replace('o', '\u043e')}-${token}`, // a Cyrillic o
        `${tag.replace('rotor', 'rotor\u200b')}-${token}`, // a zero-width space
        `rotor-${token}`, // a key minted by a version before tags
        `${keyTag(B)}-${token}`, // another secret's key
      ];
      // Act
      const owned = impostors.filter((name) => names.carriesTag(name) || names.mintedFor(name, token));
      // Assess
      expect(owned).toEqual([]);
      expect(names.mintedFor(`${tag}-${token}`, token)).toBe(true);
      expect(names.mintedFor(`${tag}-${token}`.toUpperCase(), token)).toBe(true);
    });
  });

  describe('two secrets in one provider account', () => {
    it('rotate in turn, each grace policy, without touching each other’s keys', async () => {
      // Prepare
      const f = await start();
      const a = f.firstKey('team-a-app', A);
      const b = f.firstKey('team-b-app', B);
      let currentA: Value = f.secretFor(a, { gracePolicy: 'none' });
      let currentB: Value = f.secretFor(b);
      const history: { a: Value; b: Value; previousB?: Value }[] = [];
      // Act
      let previousB: Value | undefined;
      for (let round = 0; round < 3; round++) {
        currentA = await rotate(f, A, currentA);
        const next = await rotate(f, B, currentB);
        previousB = currentB;
        currentB = next;
        history.push({ a: currentA, b: currentB, previousB });
      }
      // Assess
      // A (grace none) keeps its current key only; B (until next rotation) its current and previous.
      expect(live(f).sort()).toEqual(
        [currentA.keyId, currentB.keyId, previousB?.keyId].map((id) => String(id)).sort(),
      );
      for (const key of f.provider.keys.live()) {
        const owner = key.id === currentA.keyId ? A : B;
        expect(new KeyNames(owner).carriesTag(key.name)).toBe(true);
      }
      expect(history).toHaveLength(3);
    });

    it('a rotation of one never revokes keys minted for the other, even those its own clean-up would take', async () => {
      // Prepare
      const f = await start();
      await victim(f);
      // Keys B's rotations left behind (an abandoned rotation's key, a lost create's key): B's to clean.
      const orphanOfB = f.provider.keys.mint(`${keyTag(B)}-${randomUUID()}`);
      const a = f.firstKey('team-a-app', A);
      const before = f.provider.keys.live().filter((key) => key.id !== a.id);
      // Act
      const second = await rotate(f, A, f.secretFor(a, { gracePolicy: 'none' }));
      await rotate(f, A, second);
      // Assess
      for (const key of before) expect(isLive(f, key.id), key.name).toBe(true);
      expect(isLive(f, orphanOfB.id)).toBe(true);
    });
  });

  describe('a writer naming keys that are not the secret’s', () => {
    it('previousKeyId naming another secret’s key: ForeignKeyError, nothing minted or revoked, that key still live', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      const from = f.provider.requests.length;
      // Act
      const error = await caught(
        createPending(f, A, f.secretFor(a, { previousKeyId: b.keyId, gracePolicy: 'none' })),
      );
      // Assess
      expectForeign(error, 'previousKeyId of AWSCURRENT', String(b.keyId), keyTag(A));
      expect(changes(f, from)).toEqual([]);
      expect(isLive(f, b.keyId)).toBe(true);
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
    });

    it('previousKeyId naming a hand-made key nobody adopted for this secret: refused the same way', async () => {
      // Prepare
      const f = await start();
      const ci = f.provider.keys.mint('ci-pipeline');
      const a = f.firstKey('team-a-app', A);
      // Act
      const error = await caught(createPending(f, A, f.secretFor(a, { previousKeyId: ci.id })));
      // Assess
      expectForeign(error, ci.id);
      expect(changes(f)).toEqual([]);
      expect(await f.canLogin(ci.value)).toBe(true);
    });

    it('keyId naming another secret’s key (to have it revoked as "replaced" next time): refused before minting', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      const from = f.provider.requests.length;
      // Act
      const error = await caught(
        createPending(f, A, { ...f.secretFor(a), keyId: b.keyId, gracePolicy: 'none' }),
      );
      // Assess
      expectForeign(error, 'keyId of AWSCURRENT', String(b.keyId));
      expect(changes(f, from)).toEqual([]);
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
    });

    it('a key adopted for another secret is not this secret’s', async () => {
      // Prepare
      const f = await start();
      const b = f.firstKey('team-b-app', B);
      const a = f.firstKey('team-a-app', A);
      // Act
      const error = await caught(createPending(f, A, f.secretFor(a, { previousKeyId: b.id })));
      // Assess
      expectForeign(error, b.id);
      expect(await f.canLogin(b.value)).toBe(true);
    });

    it('AWSPREVIOUS rewritten between steps to name another secret’s key: finish refuses before revoking anything', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      const first = f.secretFor(a, { gracePolicy: 'none' });
      const pending = await createPending(f, A, first);
      const tampered = { ...first, keyId: b.keyId };
      const from = f.provider.requests.length;
      // Act
      const error = await caught(finish(f, A, pending, tampered));
      // Assess
      expectForeign(error, 'keyId of AWSPREVIOUS', String(b.keyId));
      expect(changes(f, from)).toEqual([]);
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
      expect(await f.canLogin(pending.apiKey as string)).toBe(true);
    });

    it('AWSPENDING rewritten before finishSecret to name another secret’s key as previousKeyId: refused, nothing revoked', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      const first = f.secretFor(a, { gracePolicy: 'none' });
      const pending = await createPending(f, A, first);
      const from = f.provider.requests.length;
      // Act
      const error = await caught(finish(f, A, { ...pending, previousKeyId: b.keyId }, first));
      // Assess
      expectForeign(error, 'previousKeyId of AWSCURRENT', String(b.keyId));
      expect(changes(f, from)).toEqual([]);
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
      expect(await f.canLogin(a.value)).toBe(true);
    });

    it('AWSPREVIOUS naming another secret’s key as its previousKeyId (two generations old): refused', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      const second = await rotate(f, A, f.secretFor(a));
      const third = await createPending(f, A, second);
      // Act
      const error = await caught(finish(f, A, third, { ...second, previousKeyId: b.keyId }));
      // Assess
      expectForeign(error, 'previousKeyId of AWSPREVIOUS', String(b.keyId));
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
    });

    it('a key id differing from another secret’s only in case is never sent to the provider', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      const lookalike = String(b.keyId).toUpperCase();
      // Act
      const second = await rotate(f, A, f.secretFor(a, { previousKeyId: lookalike, gracePolicy: 'none' }));
      await rotate(f, A, second);
      // Assess
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
      expect(f.provider.requests.filter((r) => r.operation === 'revoke').map((r) => r.path)).not.toContain(
        `/v1/keys/${lookalike}`,
      );
    });

    it('AWSPENDING rewritten before setSecret to name another key: activation refused, that key stays inactive', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 20, requireActivation: true } });
      const dormant = f.provider.keys.mint(`${keyTag(B)}-${randomUUID()}`, { active: false });
      const a = f.firstKey('team-a-app', A);
      const token = randomUUID();
      const pendingValue = await createPending(f, A, f.secretFor(a), token);
      const tampered = parse(f, { ...pendingValue, keyId: dormant.id }, 'AWSPENDING');
      // Act
      const error = await caught(
        f.rotator.apply({
          ...f.request('setSecret', { token, secretArn: A }),
          current: parse(f, f.secretFor(a), 'AWSCURRENT'),
          pending: tampered,
          previous: async () => undefined,
        }),
      );
      // Assess
      expectForeign(error, 'keyId of AWSPENDING', dormant.id);
      expect(f.provider.keys.get(dormant.id)?.active).toBe(false);
      expect(f.provider.requests.filter((r) => r.operation === 'activate')).toEqual([]);
    });
  });

  describe('keyNamePrefix', () => {
    for (const [name, prefix] of [
      ['another secret’s tag', () => `${keyTag(B)}-`],
      ['another secret’s tag in capitals', () => `${keyTag(B)}-`.toUpperCase()],
      ['another secret’s tag inside a label', () => `billing.${keyTag(B)}.x`],
    ] as const) {
      it(`naming ${name} is refused before any call`, async () => {
        // Prepare
        const f = await start();
        await victim(f);
        const a = f.firstKey('team-a-app', A);
        const from = f.provider.requests.length;
        // Act
        const error = await caught(createPending(f, A, f.secretFor(a, { keyNamePrefix: prefix() })));
        // Assess
        expectForeign(error, 'keyNamePrefix', keyTag(A));
        expect(f.provider.requests.slice(from)).toEqual([]);
        expect(live(f)).toHaveLength(3);
      });
    }

    it('a label of the writer’s choice still mints under the tag, and a retry under another label finds the lost key', async () => {
      // Prepare
      const f = await start();
      const a = f.firstKey('team-a-app', A);
      const token = randomUUID();
      // The first attempt's value is never stored (the Lambda died before PutSecretValue)...
      await createPending(f, A, f.secretFor(a, { keyNamePrefix: 'first-label' }), token);
      // Act
      // ...and the writer changed the label before the retry.
      const pending = await createPending(
        f,
        A,
        f.secretFor(a, { keyNamePrefix: 'second-label' }),
        token,
        true,
      );
      // Assess
      const minted = mintedFor(f.provider, token, A);
      expect(minted.map((key) => key.name)).toEqual([
        `${keyTag(A)}-first-label-${token}`,
        `${keyTag(A)}-second-label-${token}`,
      ]);
      expect(minted.map((key) => key.revokedAt === undefined)).toEqual([false, true]);
      expect(pending.keyId).toBe(minted[1]?.id);
    });
  });

  describe('lost-create clean-up', () => {
    it('revokes only the key this secret minted for this token, not another secret’s key for the same token', async () => {
      // Prepare
      const f = await start();
      // Whoever may call RotateSecret on A picks its token: B's rotation in flight uses it too.
      const token = randomUUID();
      const b = f.firstKey('team-b-app', B);
      const pendingB = await createPending(f, B, f.secretFor(b), token);
      const legacyNamed = f.provider.keys.mint(`rotor-${token}`);
      const a = f.firstKey('team-a-app', A);
      f.provider.faults.loseCreateResponse();
      // Act
      const pendingA = await createPending(f, A, f.secretFor(a), token);
      // Assess
      const minted = mintedFor(f.provider, token, A);
      expect(minted.map((key) => key.revokedAt === undefined)).toEqual([false, true]);
      expect(pendingA.keyId).toBe(minted[1]?.id);
      expect(await f.canLogin(pendingB.apiKey as string)).toBe(true);
      expect(await f.canLogin(legacyNamed.value)).toBe(true);
    });
  });

  describe('names the provider shows differently', () => {
    it('a provider that upper-cases names: rotor still cleans its own keys, and still only its own', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 20, listName: (name) => name.toUpperCase() } });
      const { current: b } = await victim(f);
      const orphanOfB = f.provider.keys.mint(`${keyTag(B)}-${randomUUID()}`);
      const orphanOfA = f.provider.keys.mint(`${keyTag(A)}-${randomUUID()}`);
      const a = f.firstKey('team-a-app', A);
      const token = randomUUID();
      f.provider.faults.loseCreateResponse();
      // Act
      const pending = await createPending(f, A, f.secretFor(a, { gracePolicy: 'none' }), token);
      await finish(f, A, pending, f.secretFor(a, { gracePolicy: 'none' }));
      // Assess
      expect(isLive(f, orphanOfA.id)).toBe(false);
      expect(mintedFor(f.provider, token, A).map((key) => key.revokedAt === undefined)).toEqual([
        false,
        true,
      ]);
      expect(isLive(f, a.id)).toBe(false);
      expect(isLive(f, orphanOfB.id)).toBe(true);
      expect(await f.canLogin(b.apiKey as string)).toBe(true);
    });

    it('keys whose names merely contain the tag are never cleaned up, and are refused when named', async () => {
      // Prepare
      const f = await start();
      const tag = keyTag(A);
      const impostors = [
        f.provider.keys.mint(`team-b-${tag}-${randomUUID()}`),
        f.provider.keys.mint(`${tag}${randomUUID()}`),
        f.provider.keys.mint(`${tag.replace('o', '\u043e')}-${randomUUID()}`),
      ];
      const a = f.firstKey('team-a-app', A);
      // Act
      const second = await rotate(f, A, f.secretFor(a, { gracePolicy: 'none' }));
      await rotate(f, A, second);
      const error = await caught(createPending(f, A, { ...second, previousKeyId: impostors[0]?.id }));
      // Assess
      for (const key of impostors) expect(isLive(f, key.id), key.name).toBe(true);
      expectForeign(error, String(impostors[0]?.id));
    });
  });

  describe('keys rotor cannot prove are the secret’s: hand-made first keys, keys of older versions', () => {
    it('a hand-made first key nobody adopted: the first rotation is refused, nothing minted, the key still works', async () => {
      // Prepare
      const f = await start();
      const handMade = f.provider.keys.mint('app');
      // Act
      const error = await caught(createPending(f, A, f.secretFor(handMade)));
      // Assess
      expectForeign(error, 'keyId of AWSCURRENT', handMade.id, 'rotor attach');
      expect(changes(f)).toEqual([]);
      expect(await f.canLogin(handMade.value)).toBe(true);
    });

    it('once adopted, it rotates and is retired on schedule', async () => {
      // Prepare
      const f = await start();
      const handMade = f.provider.keys.mint('app');
      f.adopt(handMade, A);
      // Act
      const second = await rotate(f, A, f.secretFor(handMade));
      const keptInGrace = isLive(f, handMade.id);
      await rotate(f, A, second);
      // Assess
      expect(keptInGrace).toBe(true);
      expect(isLive(f, handMade.id)).toBe(false);
      expect(await f.canLogin(second.apiKey as string)).toBe(true);
    });

    it('upgrade: keys minted before tags (rotor-<uuid>) are refused until adopted, then retired; unknown ones are never touched', async () => {
      // Prepare
      const f = await start();
      const older = f.provider.keys.mint(`rotor-${randomUUID()}`);
      const current = f.provider.keys.mint(`rotor-${randomUUID()}`);
      const someoneElses = f.provider.keys.mint(`rotor-${randomUUID()}`);
      const value = f.secretFor(current, { previousKeyId: older.id });
      const refused = await caught(createPending(f, A, value));
      f.adopt(current, A);
      f.adopt(older, A);
      // Act
      const second = await rotate(f, A, value);
      await rotate(f, A, second);
      // Assess
      expectForeign(refused, current.id, older.id);
      expect(isLive(f, older.id)).toBe(false);
      expect(isLive(f, current.id)).toBe(false);
      expect(isLive(f, someoneElses.id)).toBe(true);
    });

    it('preflight reports a key the secret names that is not its own, with the fix', async () => {
      // Prepare
      const f = await start();
      const { current: b } = await victim(f);
      const a = f.firstKey('team-a-app', A);
      // Act
      const checks = await f.rotator.preflight({
        ...f.request('createSecret', { secretArn: A }),
        current: parse(f, f.secretFor(a, { previousKeyId: b.keyId }), 'AWSCURRENT'),
      });
      // Assess
      const check = checks.find((c) => c.name === "the keys AWSCURRENT names are this secret's");
      expect(check).toMatchObject({ ok: false, fix: expect.stringContaining('--adopt') });
      expect(check?.detail).toContain(String(b.keyId));
    });
  });

  describe('admin secrets bound by their own fields', () => {
    it('an admin secret bound to one provider is never sent with another description, even of the same host', async () => {
      // Prepare
      const f = await start({ admin: { provider: 'local' } });
      // Both descriptions pin the admin secret: its own provider field still decides.
      const pinned = { ...f.provider.description, adminSecret: f.adminSecretArn };
      const both = createApiKeyRotator({ providers: { local: pinned, elsewhere: pinned } });
      const a = f.firstKey('team-a-app', A);
      const value = { ...f.secretFor(a), provider: 'elsewhere' };
      const requests = f.provider.requests.length;
      // Act
      const error = await caught(
        both.createPending({
          ...f.request('createSecret', { secretArn: A }),
          current: both.parse({ value, label: 'AWSCURRENT' }),
          currentValue: value,
          generatePassword: noPassword,
        }),
      );
      const allowed = await both.createPending({
        ...f.request('createSecret', { secretArn: A }),
        current: both.parse({ value: f.secretFor(a), label: 'AWSCURRENT' }),
        currentValue: f.secretFor(a),
        generatePassword: noPassword,
      });
      // Assess
      expect(error).toBeInstanceOf(MasterBindingError);
      expect((error as MasterBindingError).toJSON()).toMatchObject({ category: 'security' });
      expect((error as Error).message).toMatch(/bound to provider "local" .* "elsewhere"/);
      expect(f.provider.requests.slice(requests, requests + 1).map((r) => r.operation)).toEqual(['list']);
      expect(isLive(f, allowed.pending.keyId)).toBe(true);
    });

    it('an admin secret self-bound to an inline description is sent only with inline descriptions of that host and port', async () => {
      // Prepare: admin secrets bind themselves to inline descriptions: bare, another port, this one.
      const freePort = await new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const { port } = server.address() as AddressInfo;
          server.close(() => resolve(port));
        });
      });
      const attempt = async (provider: string) => {
        const f = await start({
          admin: { provider, manages: ['*'] },
          rotator: { inlineProviderHosts: [`127.0.0.1:${freePort}`] },
          provider: { maxLiveKeys: 20, port: freePort },
        });
        const a = f.firstKey('team-a-app', A);
        const value = { ...f.secretFor(a), provider: f.provider.description };
        const result = await f.rotator
          .createPending({
            ...f.request('createSecret', { secretArn: A }),
            current: f.rotator.parse({ value, label: 'AWSCURRENT' }),
            currentValue: value,
            generatePassword: noPassword,
          })
          .catch((error: unknown) => error);
        const requests = f.provider.requests.length;
        await f.stop();
        fixture = undefined;
        return { result, requests };
      };
      // Act
      const bare = await attempt('inline');
      const otherPort = await attempt(`inline:127.0.0.1:${freePort === 1 ? 2 : 1}`);
      const own = await attempt(`inline:127.0.0.1:${freePort}`);
      // Assess
      expect(bare.result).toBeInstanceOf(MasterBindingError);
      expect(otherPort.result).toBeInstanceOf(MasterBindingError);
      expect([bare.requests, otherPort.requests]).toEqual([0, 0]);
      expect(own.result).toMatchObject({ pending: { keyId: expect.any(String) } });
    });

    it('an admin secret that manages other secrets (ARN patterns) refuses this one before any call', async () => {
      // Prepare
      const f = await start({
        admin: { manages: ['arn:aws:secretsmanager:*:123456789012:secret:team-b/*'] },
      });
      const a = f.firstKey('team-a-app', A);
      const b = f.firstKey('team-b-app', B);
      // Act
      const error = await caught(createPending(f, A, f.secretFor(a)));
      const refusedRequests = f.provider.requests.length;
      const pendingB = await createPending(f, B, f.secretFor(b));
      // Assess
      expect(error).toBeInstanceOf(UnmanagedUserError);
      expect((error as UnmanagedUserError).category).toBe('security');
      expect(refusedRequests).toBe(0);
      expect(isLive(f, pendingB.keyId)).toBe(true);
    });
  });

  describe('admin secrets are bound', () => {
    /** Team B's admin secret, as Secrets Manager names it. */
    const HOME = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';
    const B_ADMIN = `${HOME}team-b/provider-admin-Qw12Er`;
    const A_ADMIN = `${HOME}team-a/provider-admin-Zx34Cv`;
    const accounts: ApiKeyProvider[] = [];

    afterEach(async () => {
      for (const account of accounts.splice(0)) await account.stop();
    });

    /**
     * Two provider accounts, team A's (the writer's) and team B's (the victim's), registered as
     * `team-a` and `team-b` with the descriptions `describe` makes; each admin secret readable by
     * its full ARN (or any other form naming it), and what was read, sent and served recorded.
     */
    async function twoAccounts(
      options: {
        describe?: (description: Value, admin: string) => Value;
        admins?: { a?: Value; b?: Value };
        /** Hosts for inline descriptions, given team A's provider (its URL carries its port). */
        inlineProviderHosts?: (teamA: { url: string }) => string[];
      } = {},
    ) {
      const teamA = await startApiKeyProvider({ maxLiveKeys: 20 });
      const teamB = await startApiKeyProvider({ maxLiveKeys: 20 });
      accounts.push(teamA, teamB);
      const describe = options.describe ?? ((description, admin) => ({ ...description, adminSecret: admin }));
      const sent: { url: string; headers: Record<string, string> }[] = [];
      const rotator = createApiKeyRotator({
        providers: {
          'team-a': describe(teamA.description, A_ADMIN),
          'team-b': describe(teamB.description, B_ADMIN),
        },
        fetch: (url, init) => {
          sent.push({ url, headers: { ...init.headers } });
          return globalThis.fetch(url, init);
        },
        ...(options.inlineProviderHosts === undefined
          ? {}
          : { inlineProviderHosts: options.inlineProviderHosts(teamA) }),
      });
      const admins = [
        { arn: A_ADMIN, value: JSON.stringify({ token: teamA.adminToken, ...options.admins?.a }) },
        { arn: B_ADMIN, value: JSON.stringify({ token: teamB.adminToken, ...options.admins?.b }) },
      ];
      const read: string[] = [];
      const first = teamA.keys.mint('team-a-app');
      /** Resolves an id the way Secrets Manager does (name, partial or full ARN, in this account). */
      const resolve = (id: string) =>
        admins.find(
          ({ arn }) => id === arn || id === arn.slice(0, -7) || `${HOME}${id}` === arn.slice(0, -7),
        );
      /** What Secrets Manager answers for an id: `resolved` overrides it (a look-alike id). */
      type Resolver = (id: string) => { arn: string; value: string } | undefined;
      const request = (step: 'createSecret' | 'testSecret', resolved?: Resolver) => ({
        signal: AbortSignal.timeout(20_000),
        deadline: Date.now() + 20_000,
        token: randomUUID(),
        step,
        secretArn: A,
        adopted: async () => [first.id],
        fetchRelated: async (id: string) => {
          read.push(id);
          const found = resolve(id);
          if (found === undefined) throw new Error(`no secret ${id}`);
          return found.value;
        },
        fetchRelatedSecret: async (id: string) => {
          read.push(id);
          const found = resolved?.(id) ?? resolve(id);
          if (found === undefined) throw new Error(`no secret ${id}`);
          return { value: found.value, arn: found.arn };
        },
        fetchMaster: async (id: string) => {
          throw new Error(`unexpected master secret ${id}`);
        },
      });
      const value = (fields: Value): Value => ({
        engine: 'apikey',
        provider: 'team-a',
        adminSecretArn: A_ADMIN,
        keyId: first.id,
        apiKey: first.value,
        ...fields,
      });
      const createPendingFor = (currentValue: Value, resolved?: Resolver) =>
        rotator.createPending({
          ...request('createSecret', resolved),
          current: rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
          currentValue,
          generatePassword: noPassword,
        });
      /** Whether any request the client sent, to anyone, carried team B's admin credential. */
      const carriedB = () => sent.some(({ headers }) => JSON.stringify(headers).includes(teamB.adminToken));
      return { teamA, teamB, admins, rotator, read, sent, first, value, createPendingFor, carriedB };
    }

    function expectBinding(error: unknown, ...mentions: RegExp[]): void {
      expect(error).toBeInstanceOf(MasterBindingError);
      expect(error).toBeInstanceOf(TrustBoundaryError);
      expect((error as MasterBindingError).toJSON()).toMatchObject({
        name: 'MasterBindingError',
        category: 'security',
      });
      expect((error as MasterBindingError).retryable).toBe(false);
      for (const mention of mentions) expect((error as Error).message).toMatch(mention);
    }

    it('a writer naming another provider’s admin secret is refused before it is read; the credential reaches no provider', async () => {
      // Prepare
      const w = await twoAccounts();
      const attacks = [
        w.value({ adminSecretArn: B_ADMIN }),
        w.value({ adminSecretArn: 'team-b/provider-admin' }),
        w.value({ adminSecretArn: B_ADMIN.slice(0, -7) }),
      ];
      // Act
      const refusals = [];
      for (const attack of attacks) refusals.push(await caught(w.createPendingFor(attack)));
      // Assess
      for (const refusal of refusals)
        expectBinding(refusal, /team-b\/provider-admin/, /"team-a"/, /adminSecret/);
      expect(w.read).toEqual([]);
      expect(w.sent).toEqual([]);
      expect(w.carriedB()).toBe(false);
      expect(w.teamA.requests).toEqual([]);
      expect(w.teamB.requests).toEqual([]);
      expect(w.teamB.keys.all()).toEqual([]);
    });

    it('an id that looks like the pinned secret’s full ARN but resolves to another secret is refused after the read, before anything is sent', async () => {
      // Prepare: pinned by name; the id reads as a full ARN of that name (other random characters),
      // and Secrets Manager resolves it as the partial ARN of a secret named `<name>-Hj78Kl`.
      const w = await twoAccounts({ describe: (d) => ({ ...d, adminSecret: 'team-a/provider-admin' }) });
      const lookalike = `${HOME}team-a/provider-admin-Hj78Kl`;
      const other = { arn: `${lookalike}-Mn90Pq`, value: w.admins[1]?.value ?? '' };
      // Act
      const error = await caught(
        w.createPendingFor(w.value({ adminSecretArn: lookalike }), (id) =>
          id === lookalike ? other : undefined,
        ),
      );
      // Assess
      expectBinding(error, /resolved to .*provider-admin-Hj78Kl-Mn90Pq/, /does not pin/);
      expect(w.sent).toEqual([]);
      expect(w.carriedB()).toBe(false);
      expect(w.teamA.requests).toEqual([]);
      expect(w.teamB.requests).toEqual([]);
    });

    it('an admin secret bound by nothing (no pin, neither provider nor manages of its own) is refused, nothing sent', async () => {
      // Prepare
      const w = await twoAccounts({ describe: (description) => description });
      // Act
      const own = await caught(w.createPendingFor(w.value({})));
      const victims = await caught(
        w.createPendingFor(w.value({ provider: 'team-b', adminSecretArn: B_ADMIN })),
      );
      // Assess
      for (const refusal of [own, victims]) {
        expectBinding(
          refusal,
          /bound neither by provider description "team-[ab]" \(adminSecret\) nor by its own provider and manages fields/,
        );
      }
      expect(w.sent).toEqual([]);
      expect(w.teamA.requests).toEqual([]);
      expect(w.teamB.requests).toEqual([]);
      expect(w.teamB.keys.all()).toEqual([]);
    });

    it.each([
      ['name', 'team-a/provider-admin', A_ADMIN],
      ['partial ARN', A_ADMIN.slice(0, -7), A_ADMIN],
      ['full ARN', A_ADMIN, A_ADMIN],
      ['full ARN, the secret naming it by name', A_ADMIN, 'team-a/provider-admin'],
      [
        'list (adminSecrets), the secret naming it by partial ARN',
        [B_ADMIN, 'team-a/provider-admin'],
        A_ADMIN.slice(0, -7),
      ],
    ])('a pinned admin secret works when pinned by %s', async (_form, pin, written) => {
      // Prepare
      const w = await twoAccounts({
        describe: (d, admin) =>
          admin === A_ADMIN
            ? { ...d, ...(Array.isArray(pin) ? { adminSecrets: pin } : { adminSecret: pin }) }
            : d,
      });
      // Act
      const { pending } = await w.createPendingFor(w.value({ adminSecretArn: written }));
      // Assess
      expect(w.teamA.keys.get(String(pending.keyId))?.revokedAt).toBeUndefined();
      expect(w.read).toEqual([written]);
      expect(w.carriedB()).toBe(false);
    });

    it('a pin by name does not name a secret of that name in another account', async () => {
      // Prepare
      const w = await twoAccounts({ describe: (d) => ({ ...d, adminSecret: 'team-a/provider-admin' }) });
      const foreign = 'arn:aws:secretsmanager:us-east-1:210987654321:secret:team-a/provider-admin-Zx34Cv';
      // Act
      const error = await caught(w.createPendingFor(w.value({ adminSecretArn: foreign })));
      // Assess
      expectBinding(error, /not one that provider description "team-a" pins/);
      expect(w.read).toEqual([]);
      expect(w.sent).toEqual([]);
    });

    it('a self-bound admin secret with provider but no manages is refused; with both it works', async () => {
      // Prepare
      const w = await twoAccounts({
        describe: (description) => description,
        admins: { a: { provider: 'team-a' }, b: { provider: 'team-b', manages: [A] } },
      });
      // Act
      const half = await caught(w.createPendingFor(w.value({})));
      const { pending } = await w.createPendingFor(w.value({ provider: 'team-b', adminSecretArn: B_ADMIN }));
      // Assess
      expectBinding(half, /bound neither by provider description "team-a"/);
      expect(w.teamA.requests).toEqual([]);
      expect(w.teamB.keys.get(String(pending.keyId))?.revokedAt).toBeUndefined();
    });

    it('a description’s own manages keeps other teams’ secrets from minting keys in its account with its pinned admin secret', async () => {
      // Prepare: team B's description pins B's admin secret and serves team B's secrets only.
      const w = await twoAccounts({
        describe: (d, admin) => ({
          ...d,
          adminSecret: admin,
          manages: [admin === B_ADMIN ? `${HOME}team-b/*` : A],
        }),
      });
      // Act
      const error = await caught(
        w.createPendingFor(w.value({ provider: 'team-b', adminSecretArn: B_ADMIN })),
      );
      const { pending } = await w.createPendingFor(w.value({}));
      // Assess
      expect(error).toBeInstanceOf(UnmanagedUserError);
      expect((error as UnmanagedUserError).toJSON()).toMatchObject({ category: 'security' });
      expect((error as Error).message).toMatch(/provider description "team-b" serves other secrets/);
      expect(w.read).toEqual([A_ADMIN]);
      expect(w.carriedB()).toBe(false);
      expect(w.teamB.requests).toEqual([]);
      expect(w.teamB.keys.all()).toEqual([]);
      expect(w.teamA.keys.get(String(pending.keyId))?.revokedAt).toBeUndefined();
    });

    it('an inline provider description cannot pin an admin secret nor say which secrets it serves (refused as the secret’s own fields)', async () => {
      // Prepare
      const w = await twoAccounts({
        describe: (description) => description,
        inlineProviderHosts: (teamA) => [new URL(teamA.url).host],
      });
      const inline = (pin: Value) => w.value({ provider: { ...w.teamA.description, ...pin } });
      // Act
      const refusals = [
        (() => {
          try {
            return w.rotator.parse({ value: inline({ adminSecret: A_ADMIN }), label: 'AWSCURRENT' });
          } catch (error) {
            return error;
          }
        })(),
        (() => {
          try {
            return w.rotator.parse({ value: inline({ adminSecrets: [A_ADMIN] }), label: 'AWSCURRENT' });
          } catch (error) {
            return error;
          }
        })(),
        (() => {
          try {
            return w.rotator.parse({ value: inline({ manages: [A] }), label: 'AWSCURRENT' });
          } catch (error) {
            return error;
          }
        })(),
      ];
      const unpinned = await caught(w.createPendingFor(inline({})));
      // Assess
      expect(refusals[0]).toBeInstanceOf(InvalidSecretError);
      expect(refusals[0]).toMatchObject({ field: 'provider.adminSecret' });
      expect(refusals[1]).toMatchObject({ field: 'provider.adminSecrets' });
      expect(refusals[2]).toMatchObject({ field: 'provider.manages' });
      expectBinding(unpinned, /bound neither by provider description "inline:127\.0\.0\.1:\d+"/);
      expect(w.sent).toEqual([]);
    });
  });

  it('no refusal in this suite contains a key value or the admin credential', () => {
    // Assess
    expect(errors.length).toBeGreaterThan(10);
    const text = errors
      .map((error) => [String(error), JSON.stringify(error), (error as Error).stack].join('\n'))
      .join('\n');
    expect(text).not.toMatch(/rk_live_|adm_/);
  });
});
