/**
 * The API-key rotator driven directly (no Secrets Manager) against the reference provider over
 * HTTP: minting, recovery of lost keys, the live-key limit, retries, grace policies.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineExceededError,
  PermissionDeniedError,
  ProviderError,
  TargetUnreachableError,
} from '../../rotators/errors.js';
import { mintedFor, type ProviderFixture, skipApiKey, startProviderFixture } from './support.js';

const HOUR = 3_600_000;

describe.skipIf(skipApiKey)('API-key rotator', () => {
  let fixture: ProviderFixture | undefined;
  const errors: unknown[] = [];

  afterEach(async () => {
    await fixture?.stop();
    fixture = undefined;
  });

  async function start(options: Parameters<typeof startProviderFixture>[0] = {}): Promise<ProviderFixture> {
    fixture = await startProviderFixture(options);
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

  async function createPending(
    f: ProviderFixture,
    currentValue: Record<string, unknown>,
    token = randomUUID(),
    /** What the step machine says after reading AWSPENDING and finding nothing under the token. */
    nothingStored?: true,
  ) {
    const current = f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
    const { pending } = await f.rotator.createPending({
      ...f.request('createSecret', { token }),
      current,
      currentValue,
      ...(nothingStored ? { nothingStored } : {}),
      generatePassword: noPassword,
    });
    return pending;
  }

  /** The four steps, in order, as the step machine would run them. Returns the new AWSCURRENT value. */
  async function rotate(f: ProviderFixture, currentValue: Record<string, unknown>) {
    const token = randomUUID();
    const current = f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' });
    const pendingValue = await createPending(f, currentValue, token);
    const pending = f.rotator.parse({ value: pendingValue, label: 'AWSPENDING' });
    await f.rotator.apply({
      ...f.request('setSecret', { token }),
      current,
      pending,
      previous: async () => undefined,
    });
    await f.rotator.test({ ...f.request('testSecret', { token }), pending, current: async () => current });
    await finish(f, pendingValue, currentValue, token);
    return pendingValue;
  }

  async function finish(
    f: ProviderFixture,
    currentValue: Record<string, unknown>,
    previousValue: Record<string, unknown> | undefined,
    token = randomUUID(),
  ) {
    await f.rotator.finish({
      ...f.request('finishSecret', { token }),
      current: f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
      previous: async () =>
        previousValue === undefined
          ? undefined
          : f.rotator.parse({ value: previousValue, label: 'AWSPREVIOUS' }),
    });
  }

  function live(f: ProviderFixture): string[] {
    return f.provider.keys.live().map((key) => key.id);
  }

  describe('createPending', () => {
    it('mints a key named after the token and keeps the current key live', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const token = randomUUID();
      // Act
      const pending = await createPending(f, f.secretFor(first, { owner: 'billing' }), token);
      // Assess
      const [minted] = mintedFor(f.provider, token);
      expect(pending).toMatchObject({
        keyId: minted?.id,
        apiKey: minted?.value,
        previousKeyId: first.id,
        owner: 'billing',
      });
      expect(live(f)).toEqual([first.id, minted?.id]);
      expect(await f.canLogin(first.value)).toBe(true);
    });

    it('called again for the token, told nothing is stored, revokes the key it minted and mints another', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const token = randomUUID();
      const lost = await createPending(f, f.secretFor(first), token);
      // Act
      const pending = await createPending(f, f.secretFor(first), token, true);
      // Assess
      expect(pending.keyId).not.toBe(lost.keyId);
      expect(mintedFor(f.provider, token).map((key) => key.revokedAt === undefined)).toEqual([false, true]);
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('recovers a create whose response was lost: the key made is revoked and another minted', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const token = randomUUID();
      f.provider.faults.loseCreateResponse();
      // Act
      const pending = await createPending(f, f.secretFor(first), token);
      // Assess
      const minted = mintedFor(f.provider, token);
      expect(minted).toHaveLength(2);
      expect(minted[0]?.revokedAt).toBeDefined();
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('fails with a retryable error when creates keep being lost, and the next attempt leaves no orphan', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const token = randomUUID();
      f.provider.faults.loseCreateResponse(2);
      // Act
      const error = await caught(createPending(f, f.secretFor(first), token));
      const pending = await createPending(f, f.secretFor(first), token, true);
      // Assess
      expect(error).toBeInstanceOf(TargetUnreachableError);
      expect((error as TargetUnreachableError).retryable).toBe(true);
      expect(mintedFor(f.provider, token).filter((key) => key.revokedAt === undefined)).toHaveLength(1);
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('at the live-key limit revokes the previous key to make room, never the current one', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 2 } });
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first));
      expect(live(f)).toHaveLength(2);
      // Act
      const pending = await createPending(f, second);
      // Assess
      expect(live(f)).toEqual([second.keyId, pending.keyId]);
      expect(await f.canLogin(second.apiKey as string)).toBe(true);
    });

    it('at the live-key limit with no key rotor may revoke fails with a clear error and changes nothing', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 2 } });
      const first = f.firstKey();
      const foreign = f.provider.keys.mint('ci-pipeline');
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as Error).message).toMatch(/allows 2 live keys .* maxLiveKeys/);
      expect(live(f)).toEqual([first.id, foreign.id]);
      expect(f.provider.requests.filter((r) => r.operation !== 'list')).toEqual([]);
    });

    it('revokes keys left by abandoned rotations of this secret', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 5 } });
      const first = f.firstKey();
      const abandoned = f.provider.keys.mint(`${f.names().prefix}${randomUUID()}`);
      // Act
      const pending = await createPending(f, f.secretFor(first));
      // Assess
      expect(f.provider.keys.get(abandoned.id)?.revokedAt).toBeDefined();
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('never touches keys of another secret sharing the provider (another keyNamePrefix)', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 5 } });
      const first = f.firstKey();
      const other = f.provider.keys.mint(`rotor-billing-${randomUUID()}`);
      const unrelated = f.provider.keys.mint('ci-pipeline');
      // Act
      const second = await rotate(f, f.secretFor(first, { gracePolicy: 'none' }));
      await rotate(f, second);
      // Assess
      expect(live(f)).toContain(other.id);
      expect(live(f)).toContain(unrelated.id);
    });
  });

  describe('provider errors', () => {
    it('retries a 5xx on an idempotent call (list) with backoff', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.fail('list', 503, 2);
      // Act
      await createPending(f, f.secretFor(first));
      // Assess
      expect(f.provider.requests.filter((r) => r.operation === 'list').map((r) => r.status)).toEqual([
        503, 503, 200,
      ]);
      expect(f.waits).toHaveLength(2);
    });

    it('gives up on a 5xx after the configured attempts with a retryable ProviderError', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.fail('list', 500, 10);
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ status: 500, retryable: true });
      expect(f.provider.requests.filter((r) => r.operation === 'list')).toHaveLength(4);
    });

    it('never resends a create after a 5xx: it looks for the key by name first, then mints once more', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.fail('create', 500);
      // Act
      const pending = await createPending(f, f.secretFor(first));
      // Assess
      expect(f.provider.requests.map((r) => `${r.operation} ${r.status}`)).toEqual([
        'list 200',
        'create 500',
        'list 200',
        'create 201',
      ]);
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('resends a create when the provider takes an idempotency key', async () => {
      // Prepare
      const f = await start({ provider: { idempotency: true } });
      const first = f.firstKey();
      f.provider.faults.fail('create', 503);
      // Act
      const pending = await createPending(f, f.secretFor(first));
      // Assess
      expect(f.provider.requests.map((r) => `${r.operation} ${r.status}`)).toEqual([
        'list 200',
        'create 503',
        'create 201',
      ]);
      const creates = f.sent.filter((r) => r.method === 'POST');
      expect(creates[0]?.headers['idempotency-key']).toBeDefined();
      expect(creates[1]?.headers['idempotency-key']).toBe(creates[0]?.headers['idempotency-key']);
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('does not retry a 4xx', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first));
      f.provider.faults.fail('revoke', 400);
      const revokesBefore = f.provider.requests.filter((r) => r.operation === 'revoke').length;
      // Act
      const error = await caught(finish(f, { ...second, gracePolicy: 'none' }, f.secretFor(first)));
      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ status: 400, retryable: false });
      expect(f.provider.requests.filter((r) => r.operation === 'revoke')).toHaveLength(revokesBefore + 1);
    });

    it('honours Retry-After on a 429', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.throttle('list', 2);
      // Act
      await createPending(f, f.secretFor(first));
      // Assess
      expect(f.waits).toEqual([2000]);
      expect(f.provider.requests.filter((r) => r.operation === 'list').map((r) => r.status)).toEqual([
        429, 200,
      ]);
    });

    it('retries a throttled create, which the provider did not handle', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.throttle('create', 1);
      // Act
      const pending = await createPending(f, f.secretFor(first));
      // Assess
      expect(f.waits).toEqual([1000]);
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('fails fast with a retryable error when Retry-After ends past the deadline', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.throttle('list', 3600);
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ status: 429, retryable: true });
      expect(f.waits).toEqual([]);
    });

    it('retries an idempotent call that got no answer within the request timeout', async () => {
      // Prepare
      const f = await start({ describe: (d) => ({ ...d, timeoutMs: 200 }) });
      const first = f.firstKey();
      f.provider.faults.slow('list', 2_000);
      // Act
      await createPending(f, f.secretFor(first));
      // Assess
      expect(f.sent.filter((r) => r.method === 'GET')).toHaveLength(2);
    });

    it('stops at the Lambda deadline with DeadlineExceededError', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      f.provider.faults.slow('list', 5_000);
      // Act
      const error = await caught(
        f.rotator.createPending({
          ...f.request('createSecret', { deadlineMs: 300 }),
          current,
          currentValue: f.secretFor(first),
          generatePassword: noPassword,
        }),
      );
      // Assess
      expect(error).toBeInstanceOf(DeadlineExceededError);
    });

    it('reports a refused admin credential as AuthenticationFailedError', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      const request = {
        ...f.request('createSecret'),
        fetchRelated: async () => JSON.stringify({ token: 'wrong-token' }),
      };
      // Act
      const error = await caught(
        f.rotator.createPending({
          ...request,
          current,
          currentValue: f.secretFor(first),
          generatePassword: noPassword,
        }),
      );
      // Assess
      expect(error).toBeInstanceOf(AuthenticationFailedError);
      expect(f.provider.keys.all()).toHaveLength(1);
    });

    it('reports a 403 on a management call as PermissionDeniedError', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      f.provider.faults.fail('create', 403);
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(live(f)).toEqual([first.id]);
    });

    it('never follows a redirect, so no credential reaches the location it names', async () => {
      // Prepare
      const elsewhere: string[] = [];
      const attacker = createServer((request, response) => {
        elsewhere.push(`${request.method} ${request.url}`);
        response.end('{}');
      });
      await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
      const attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
      const redirecting = createServer((request, response) => {
        response.writeHead(307, { location: `${attackerUrl}${request.url}` });
        response.end();
      });
      await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
      const redirectUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/v1`;
      const f = await start({ describe: (d) => ({ ...d, baseUrl: redirectUrl }) });
      const first = f.firstKey();
      try {
        // Act
        const error = await caught(createPending(f, f.secretFor(first)));
        // Assess
        expect(error).toBeInstanceOf(ProviderError);
        expect((error as Error).message).toMatch(/redirect \(HTTP 307\)/);
        expect(elsewhere).toEqual([]);
      } finally {
        for (const server of [attacker, redirecting]) {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        }
      }
    });
  });

  describe('admin secret', () => {
    it('may be a bare string, used as {{admin}}', async () => {
      // Prepare
      const f = await start({
        describe: (d) => ({ ...d, auth: { header: 'Authorization', value: 'Bearer {{admin}}' } }),
      });
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      const request = { ...f.request('createSecret'), fetchRelated: async () => f.provider.adminToken };
      // Act
      const { pending } = await f.rotator.createPending({
        ...request,
        current,
        currentValue: f.secretFor(first),
        generatePassword: noPassword,
      });
      // Assess
      expect(live(f)).toEqual([first.id, pending.keyId]);
    });

    it('missing the field the description names is a ConfigurationError naming the field', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      const request = {
        ...f.request('createSecret'),
        fetchRelated: async () => JSON.stringify({ apiToken: 'x' }),
      };
      // Act
      const error = await caught(
        f.rotator.createPending({
          ...request,
          current,
          currentValue: f.secretFor(first),
          generatePassword: noPassword,
        }),
      );
      // Assess
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain('field "token"');
      expect(f.provider.requests).toEqual([]);
    });
  });

  describe('apply and test', () => {
    it('activates the pending key when the provider requires it, and a replay is harmless', async () => {
      // Prepare
      const f = await start({ provider: { requireActivation: true } });
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      const token = randomUUID();
      const pendingValue = await createPending(f, f.secretFor(first), token);
      const pending = f.rotator.parse({ value: pendingValue, label: 'AWSPENDING' });
      const inactive = await f.canLogin(pendingValue.apiKey as string);
      const apply = () =>
        f.rotator.apply({
          ...f.request('setSecret', { token }),
          current,
          pending,
          previous: async () => undefined,
        });
      // Act
      await apply();
      await apply();
      // Assess
      expect(inactive).toBe(false);
      expect(await f.canLogin(pendingValue.apiKey as string)).toBe(true);
      await f.rotator.test({ ...f.request('testSecret'), pending, current: async () => current });
    });

    it('test fails with AuthenticationFailedError for a key that is not live', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first, { gracePolicy: 'none' }));
      const revoked = f.rotator.parse({ value: f.secretFor(first), label: 'AWSPENDING' });
      // Act
      const error = await caught(
        f.rotator.test({ ...f.request('testSecret'), pending: revoked, current: async () => revoked }),
      );
      // Assess
      expect(error).toBeInstanceOf(AuthenticationFailedError);
      expect(second.keyId).toBeDefined();
    });

    it('test sends the key alone: no admin credential goes with the probe', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const pending = f.rotator.parse({ value: f.secretFor(first), label: 'AWSPENDING' });
      // Act
      await f.rotator.test({ ...f.request('testSecret'), pending, current: async () => pending });
      // Assess
      expect(f.sent).toHaveLength(1);
      expect(f.sent[0]?.headers.authorization).toBeUndefined();
      expect(f.sent[0]?.headers['x-api-key']).toBe(first.value);
    });
  });

  describe('finish and grace policies', () => {
    it('none: the replaced key is revoked at finish', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      // Act
      const second = await rotate(f, f.secretFor(first, { gracePolicy: 'none' }));
      // Assess
      expect(await f.canLogin(first.value)).toBe(false);
      expect(live(f)).toEqual([second.keyId]);
    });

    it('until-next-rotation: the replaced key stays valid until the next finish revokes it', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 3 } });
      const first = f.firstKey();
      // Act
      const second = await rotate(f, f.secretFor(first));
      const validDuringGrace = await f.canLogin(first.value);
      const third = await rotate(f, second);
      // Assess
      expect(validDuringGrace).toBe(true);
      expect(await f.canLogin(first.value)).toBe(false);
      expect(live(f)).toEqual([second.keyId, third.keyId]);
    });

    it('duration: the replaced key stays valid within the period', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 3 } });
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first, { gracePolicy: '2h' }));
      f.clock.advance(HOUR);
      // Act
      await createPending(f, second);
      // Assess
      expect(await f.canLogin(first.value)).toBe(true);
    });

    it('duration: the first createPending after the period revokes the replaced key', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 3 } });
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first, { gracePolicy: '2h' }));
      f.clock.advance(3 * HOUR);
      // Act
      await createPending(f, second);
      // Assess
      expect(await f.canLogin(first.value)).toBe(false);
      expect(await f.canLogin(second.apiKey as string)).toBe(true);
    });

    it('duration: a finish replayed after the period revokes the replaced key', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first, { gracePolicy: '30m' }));
      const validDuringGrace = await f.canLogin(first.value);
      f.clock.advance(HOUR);
      // Act
      await finish(f, second, f.secretFor(first));
      // Assess
      expect(validDuringGrace).toBe(true);
      expect(live(f)).toEqual([second.keyId]);
    });

    it('is idempotent, and reconciles against the list rather than one remembered id', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 5 } });
      const first = f.firstKey();
      const second = await rotate(f, f.secretFor(first, { gracePolicy: 'none' }));
      const orphan = f.provider.keys.mint(`${f.names().prefix}${randomUUID()}`);
      // Act
      await finish(f, second, f.secretFor(first));
      await finish(f, second, undefined);
      // Assess
      expect(f.provider.keys.get(orphan.id)?.revokedAt).toBeDefined();
      expect(live(f)).toEqual([second.keyId]);
    });
  });

  it('a listed key id that would climb out of the base URL (..) is refused; no revoke is sent', async () => {
    // Prepare
    const methods: string[] = [];
    let prefix = '';
    const f = await start({
      rotator: {
        fetch: async (url, init) => {
          methods.push(init.method);
          const response = await globalThis.fetch(url, init);
          if (init.method !== 'GET' || !new URL(url).pathname.endsWith('/keys')) return response;
          const listed = JSON.parse(await response.text()) as { keys: unknown[] };
          listed.keys.push({ id: '..', name: `${prefix}${randomUUID()}` });
          const text = JSON.stringify(listed);
          return { status: response.status, headers: response.headers, text: async () => text };
        },
      },
    });
    prefix = f.names().prefix;
    const first = f.firstKey();
    // Act
    const error = await caught(finish(f, f.secretFor(first, { gracePolicy: 'none' }), undefined));
    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect(String(error)).toMatch(/a key id would take the request outside the base URL/);
    expect(methods).not.toContain('DELETE');
  });

  describe('preflight', () => {
    it('reports the admin credential, the current key and room for a new key, changing nothing', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      // Act
      const checks = await f.rotator.preflight({ ...f.request('createSecret'), current });
      // Assess
      expect(checks.map((check) => [check.name, check.ok])).toEqual([
        ['admin credential lists keys', true],
        ['current key passes the probe', true],
        ["the keys AWSCURRENT names are this secret's", true],
        ['room for a new key', true],
      ]);
      expect(f.provider.requests.every((r) => r.operation === 'list' || r.operation === 'probe')).toBe(true);
    });

    it('reports a revoked current key and a provider at its limit, with fixes', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 2 } });
      const first = f.firstKey();
      f.provider.keys.mint('ci-pipeline');
      const stale = f.rotator.parse({
        value: f.secretFor(first, { apiKey: 'rk_live_revoked' }),
        label: 'AWSCURRENT',
      });
      // Act
      const checks = await f.rotator.preflight({ ...f.request('createSecret'), current: stale });
      // Assess
      expect(checks.filter((check) => !check.ok).map((check) => check.name)).toEqual([
        'current key passes the probe',
        'room for a new key',
      ]);
      expect(checks.every((check) => check.ok || (check.fix ?? '').length > 0)).toBe(true);
    });

    it('reads the admin secret once when the probe needs its public identifiers', async () => {
      // Prepare
      const f = await start({
        describe: (description) => ({ ...description, publicAdminFields: ['account'] }),
        admin: { account: 'acct-1' },
      });
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      const request = f.request('createSecret');
      let reads = 0;
      const fetchRelated = async (id: string) => {
        reads++;
        return request.fetchRelated(id);
      };
      // Act
      const checks = await f.rotator.preflight({ ...request, fetchRelated, current });
      // Assess
      expect(checks.every((check) => check.ok)).toBe(true);
      expect(reads).toBe(1);
    });

    it('reports ownership and room as unchecked when the keys cannot be listed', async () => {
      // Prepare
      const f = await start();
      const first = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' });
      const request = f.request('createSecret');
      const refused = JSON.stringify({ token: 'adm_wrong' });
      // Act
      const checks = await f.rotator.preflight({ ...request, fetchRelated: async () => refused, current });
      // Assess
      expect(checks.filter((check) => !check.ok).map((check) => check.name)).toEqual([
        'admin credential lists keys',
        "the keys AWSCURRENT names are this secret's",
        'room for a new key',
      ]);
    });
  });

  it('no error raised in this suite contains a key value or the admin credential', () => {
    // Assess
    expect(errors.length).toBeGreaterThan(10);
    const text = errors
      .map((error) =>
        [
          String(error),
          JSON.stringify(error),
          (error as Error).stack,
          JSON.stringify((error as Error).cause ?? null),
        ].join('\n'),
      )
      .join('\n');
    expect(text).not.toMatch(/rk_live_|adm_/);
  });
});
