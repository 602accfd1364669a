/**
 * Provider shapes beyond one JSON page (issue 19): pagination in the styles real APIs use, form
 * bodies, credential templates (base64, public admin fields), rate-limit headers and propagation
 * delays, against the reference provider over real HTTP.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiKeyProviderOptions } from '../../local/apiKeyProvider.js';
import { nextLink, rateLimit } from '../../rotators/apikey/client.js';
import { keyTag } from '../../rotators/apikey/index.js';
import { compileProvider, render } from '../../rotators/apikey/provider.js';
import { AuthenticationFailedError, DeadlineExceededError, ProviderError } from '../../rotators/errors.js';
import { TEST_SECRET_ARN } from '../support/engines.js';
import { type ProviderFixture, skipApiKey, startProviderFixture } from './support.js';

type Value = Record<string, unknown>;

describe.skipIf(skipApiKey)('provider shapes', () => {
  let fixture: ProviderFixture | undefined;
  let server: Server | undefined;
  const errors: unknown[] = [];

  afterEach(async () => {
    await fixture?.stop();
    fixture = undefined;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
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

  async function createPending(f: ProviderFixture, currentValue: Value, token = randomUUID()) {
    const { pending } = await f.rotator.createPending({
      ...f.request('createSecret', { token }),
      current: f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
      currentValue,
      generatePassword: noPassword,
    });
    return pending;
  }

  async function test(f: ProviderFixture, pendingValue: Value, deadlineMs?: number) {
    const pending = f.rotator.parse({ value: pendingValue, label: 'AWSPENDING' });
    await f.rotator.test({
      ...f.request('testSecret', deadlineMs === undefined ? {} : { deadlineMs }),
      pending,
      current: async () => pending,
    });
  }

  const isLive = (f: ProviderFixture, id: string) => f.provider.keys.get(id)?.revokedAt === undefined;
  const lists = (f: ProviderFixture) => f.provider.requests.filter((r) => r.operation === 'list').length;
  const changes = (f: ProviderFixture) =>
    f.provider.requests.filter((r) => r.operation === 'create' || r.operation === 'revoke');

  /** An account with more keys than one page: strangers first, this secret's orphans on the last page. */
  function crowd(f: ProviderFixture) {
    const first = f.firstKey();
    const strangers = Array.from({ length: 8 }, (_, i) => f.provider.keys.mint(`ci-${i}`));
    const orphans = [1, 2].map(() => f.provider.keys.mint(`${keyTag(TEST_SECRET_ARN)}-${randomUUID()}`));
    return { first, strangers, orphans };
  }

  describe('pagination', () => {
    for (const style of ['page', 'cursor', 'next-link', 'link-header'] as const) {
      it(`${style}: reconciles against every page (11 keys, pages of 3): this secret's orphans on the last page are revoked, strangers kept`, async () => {
        // Prepare
        const f = await start({ provider: { maxLiveKeys: 20, pages: { style, size: 3 } } });
        const { first, strangers, orphans } = crowd(f);
        // Act
        const pending = await createPending(f, f.secretFor(first));
        // Assess
        expect(lists(f)).toBe(4);
        for (const orphan of orphans) expect(isLive(f, orphan.id)).toBe(false);
        for (const stranger of strangers) expect(isLive(f, stranger.id)).toBe(true);
        expect(isLive(f, first.id)).toBe(true);
        expect(isLive(f, pending.keyId as string)).toBe(true);
      });

      it(`${style}: a provider that pages while the description does not say how fails with a ProviderError and changes nothing`, async () => {
        // Prepare
        const f = await start({ provider: { maxLiveKeys: 20, pages: { style, size: 3, describe: false } } });
        const { first, orphans } = crowd(f);
        // Act
        const error = await caught(createPending(f, f.secretFor(first)));
        // Assess
        expect(error).toBeInstanceOf(ProviderError);
        expect((error as ProviderError).retryable).toBe(false);
        expect((error as Error).message).toMatch(/list of keys is incomplete .*list\.pagination/);
        expect(changes(f)).toEqual([]);
        for (const orphan of orphans) expect(isLive(f, orphan.id)).toBe(true);
      });
    }

    it('more pages than maxPages fail the step rather than reconcile against part of the list', async () => {
      // Prepare
      const f = await start({
        provider: { maxLiveKeys: 20, pages: { style: 'cursor', size: 3 } },
        describe: (d) => ({
          ...d,
          list: {
            ...(d.list as Value),
            pagination: { style: 'cursor', param: 'cursor', next: 'next_cursor', maxPages: 2 },
          },
        }),
      });
      const { first } = crowd(f);
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect((error as Error).message).toMatch(/more than 2 pages/);
      expect(changes(f)).toEqual([]);
    });

    it('a page size above what the provider serves is caught by the total the provider announces', async () => {
      // Prepare: the description asks for 10 a page, the provider serves at most 3 (and says the total).
      const f = await start({
        provider: { maxLiveKeys: 20, pages: { style: 'page', size: 3 } },
        describe: (d) => ({
          ...d,
          list: {
            ...(d.list as Value),
            pagination: { style: 'page', pageParam: 'page', sizeParam: 'per_page', size: 10 },
          },
        }),
      });
      const { first } = crowd(f);
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect((error as Error).message).toMatch(/counts 11 keys .* 3 were listed/);
      expect(changes(f)).toEqual([]);
    });

    /** A provider answering every list with `body` (and `headers`), recording what it was sent. */
    async function answering(body: unknown, headers: Record<string, string> = {}) {
      const seen: { url: string; authorization: string | undefined }[] = [];
      server = createServer((request, response) => {
        seen.push({ url: request.url ?? '', authorization: request.headers.authorization });
        response.writeHead(200, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(body));
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return { seen, baseUrl: `http://127.0.0.1:${port}/v1` };
    }

    for (const [style, body, headers] of [
      ['next-link', { keys: [{ id: 'k1', name: 'x' }], links: { next: 'http://127.0.0.2:9/v1/keys' } }, {}],
      ['next-link', { keys: [{ id: 'k1', name: 'x' }], links: { next: '/elsewhere/keys?page=2' } }, {}],
      [
        'link-header',
        { keys: [{ id: 'k1', name: 'x' }] },
        { link: '<http://127.0.0.2:9/v1/keys?p=2>; rel="next"' },
      ],
    ] as const) {
      it(`${style}: a next page away from the base URL (${JSON.stringify(body).includes('elsewhere') ? 'another path' : 'another origin'}) is refused; the admin credential never follows it`, async () => {
        // Prepare
        const { seen, baseUrl } = await answering(body, headers);
        const f = await start({
          describe: (d) => ({
            ...d,
            baseUrl,
            list: {
              ...(d.list as Value),
              pagination: style === 'next-link' ? { style, next: 'links.next' } : { style },
            },
          }),
        });
        const first = f.firstKey();
        // Act
        const error = await caught(createPending(f, f.secretFor(first)));
        // Assess
        expect(error).toBeInstanceOf(ProviderError);
        expect((error as Error).message).toMatch(/points away from the provider/);
        expect(seen).toHaveLength(1);
      });
    }

    it('a flag the description declares (list.response.hasMore) still set after the last page fails the step', async () => {
      // Prepare: a provider-specific flag no heuristic knows.
      const { baseUrl } = await answering({ keys: [{ id: 'k1', name: 'x' }], more_to_come: true });
      const withFlag = await start({
        describe: (d) => ({
          ...d,
          baseUrl,
          list: {
            ...(d.list as Value),
            response: { ...((d.list as Value).response as Value), hasMore: 'more_to_come' },
          },
        }),
      });
      const first = withFlag.firstKey();
      // Act
      const error = await caught(createPending(withFlag, withFlag.secretFor(first)));
      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as Error).message).toMatch(/list\.response\.hasMore/);
    });

    it('a provider that ignores the page parameter (the same page again) fails instead of looping', async () => {
      // Prepare
      const { seen, baseUrl } = await answering({ keys: [1, 2, 3].map((i) => ({ id: `k${i}`, name: 'x' })) });
      const f = await start({
        describe: (d) => ({
          ...d,
          baseUrl,
          list: { ...(d.list as Value), pagination: { style: 'page', pageParam: 'page', size: 3 } },
        }),
      });
      const first = f.firstKey();
      // Act
      const error = await caught(createPending(f, f.secretFor(first)));
      // Assess
      expect((error as Error).message).toMatch(/repeated the previous one/);
      expect(seen).toHaveLength(2);
    });

    it('a description rejects a pagination it cannot follow', () => {
      // Prepare
      const f = { baseUrl: 'https://api.example.com/v1' };
      const base = {
        ...f,
        auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
        create: {
          method: 'POST',
          path: '/keys',
          body: { name: '{{name}}' },
          response: { id: 'id', key: 'key' },
        },
        revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
        probe: { method: 'GET', path: '/me', headers: { 'X-Api-Key': '{{key}}' } },
      };
      const list = (pagination: unknown) => ({
        ...base,
        list: {
          method: 'GET',
          path: '/keys',
          response: { items: 'keys', id: 'id', name: 'name' },
          pagination,
        },
      });
      // Act
      const issues = [
        compileProvider('x', list({ style: 'page', pageParam: 'page' })).issue,
        compileProvider('x', list({ style: 'cursor', param: 'a b', next: 'next' })).issue,
        compileProvider('x', list({ style: 'sideways' })).issue,
      ];
      // Assess
      expect(issues.map((issue) => issue?.field)).toEqual([
        'list.pagination.size',
        'list.pagination.param',
        'list.pagination.style',
      ]);
    });
  });

  describe('keys whose id is the secret', () => {
    it('a description whose key id is the key value (Algolia) is refused, saying why', () => {
      // Prepare: the shape of Algolia's /1/keys (https://www.algolia.com/doc/rest-api/search/#tag/Api-Keys).
      const algolia = {
        baseUrl: 'https://app-id.algolia.net/1',
        auth: { header: 'X-Algolia-API-Key', value: '{{admin.apiKey}}' },
        create: {
          method: 'POST',
          path: '/keys',
          body: { acl: ['search'], description: '{{name}}' },
          response: { id: 'key', key: 'key' },
        },
        list: { method: 'GET', path: '/keys', response: { items: 'keys', id: 'value', name: 'description' } },
        revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
        probe: { method: 'GET', path: '/indexes', headers: { 'X-Algolia-API-Key': '{{key}}' } },
      };
      // Act
      const { issue } = compileProvider('algolia', algolia);
      // Assess
      expect(issue).toMatchObject({
        field: 'create.response.id',
        expected: expect.stringMatching(/in a URL/),
      });
    });
  });

  describe('request encodings', () => {
    it('form: create sends application/x-www-form-urlencoded, and the name it carries finds a lost create', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 5, form: true } });
      const first = f.firstKey();
      const token = randomUUID();
      f.provider.faults.loseCreateResponse();
      // Act
      const pending = await createPending(f, f.secretFor(first), token);
      // Assess
      const creates = f.sent.filter((sent) => sent.method === 'POST');
      expect(creates.map((sent) => sent.headers['content-type'])).toEqual([
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded',
      ]);
      const named = f.provider.keys.all().filter((key) => key.name === `${keyTag(TEST_SECRET_ARN)}-${token}`);
      expect(named.map((key) => key.revokedAt === undefined)).toEqual([false, true]);
      expect(pending.keyId).toBe(named[1]?.id);
    });

    it('a form body must be flat, and an encoding needs a body', () => {
      // Prepare
      const base = {
        baseUrl: 'https://api.example.com/v1',
        auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
        list: { method: 'GET', path: '/keys', response: { items: 'keys', id: 'id', name: 'name' } },
        revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
        probe: { method: 'GET', path: '/me', headers: { 'X-Api-Key': '{{key}}' } },
      };
      const create = (extra: Value) => ({
        ...base,
        create: { method: 'POST', path: '/keys', response: { id: 'id', key: 'key' }, ...extra },
      });
      // Act
      const nested = compileProvider(
        'x',
        create({ encoding: 'form', body: { key: { name: '{{name}}' } } }),
      ).issue;
      const flat = compileProvider(
        'x',
        create({ encoding: 'form', body: { FriendlyName: '{{name}}', Tag: ['a', 'b'] } }),
      );
      const bodiless = compileProvider('x', {
        ...create({ body: { name: '{{name}}' } }),
        revoke: { method: 'DELETE', path: '/keys/{{keyId}}', encoding: 'form' },
      }).issue;
      // Assess
      expect(nested).toMatchObject({ field: 'create.body', expected: expect.stringMatching(/form/) });
      expect(flat.issue).toBeUndefined();
      expect(flat.provider?.create.encoding).toBe('form');
      expect(bodiless).toMatchObject({ field: 'revoke.encoding' });
    });
  });

  describe('credential templates', () => {
    it('renders base64 of variables and quoted text', () => {
      // Act
      const basic = render('Basic {{base64(keyId ":" key)}}', { keyId: 'SK1', key: 's3cret' });
      const single = render("{{ base64( admin.user ':' admin.password ) }}", {
        admin: { user: 'u', password: 'p' },
      });
      // Assess
      expect(basic).toBe(`Basic ${Buffer.from('SK1:s3cret').toString('base64')}`);
      expect(single).toBe(Buffer.from('u:p').toString('base64'));
    });

    it('a probe authenticating as Basic base64(keyId:key) proves the pending key; a wrong key is refused', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 5, basicProbe: true } });
      const first = f.firstKey();
      const pending = await createPending(f, f.secretFor(first));
      // Act
      await test(f, pending);
      const error = await caught(test(f, { ...pending, apiKey: `${pending.apiKey as string}-wrong` }));
      // Assess
      expect(error).toBeInstanceOf(AuthenticationFailedError);
      const probes = f.sent.filter((sent) => sent.url.endsWith('/whoami'));
      expect(probes[0]?.headers.authorization).toBe(
        `Basic ${Buffer.from(`${pending.keyId as string}:${pending.apiKey as string}`).toString('base64')}`,
      );
    });

    it('public admin fields may go in paths and the probe; credential fields may not, not even inside base64', () => {
      // Prepare
      const description = (publicAdminFields: string[], overrides: Value = {}) => ({
        baseUrl: 'https://api.example.com/2010-04-01',
        publicAdminFields,
        auth: { header: 'Authorization', value: 'Basic {{base64(admin.accountSid ":" admin.authToken)}}' },
        create: {
          method: 'POST',
          path: '/Accounts/{{admin.accountSid}}/Keys.json',
          encoding: 'form',
          body: { FriendlyName: '{{name}}' },
          response: { id: 'sid', key: 'secret' },
        },
        list: {
          method: 'GET',
          path: '/Accounts/{{admin.accountSid}}/Keys.json',
          response: { items: 'keys', id: 'sid', name: 'friendly_name' },
        },
        revoke: { method: 'DELETE', path: '/Accounts/{{admin.accountSid}}/Keys/{{keyId}}.json' },
        probe: {
          method: 'GET',
          path: '/Accounts/{{admin.accountSid}}.json',
          headers: { Authorization: 'Basic {{base64(keyId ":" key)}}' },
        },
        ...overrides,
      });
      // Act
      const declared = compileProvider('twilio', description(['accountSid']));
      const undeclared = compileProvider('twilio', description([])).issue;
      const tokenInPath = compileProvider(
        'twilio',
        description(['accountSid'], {
          revoke: { method: 'DELETE', path: '/Keys/{{base64(admin.authToken)}}/{{keyId}}' },
        }),
      ).issue;
      const tokenInProbe = compileProvider(
        'twilio',
        description(['accountSid'], {
          probe: {
            method: 'GET',
            path: '/me',
            headers: { 'X-Key': '{{key}}', 'X-Admin': '{{admin.authToken}}' },
          },
        }),
      ).issue;
      // Assess
      expect(declared.issue).toBeUndefined();
      expect(undeclared).toMatchObject({ field: 'create.path', expected: expect.stringMatching(/in a URL/) });
      expect(tokenInPath).toMatchObject({
        field: 'revoke.path',
        expected: expect.stringMatching(/in a URL/),
      });
      expect(tokenInProbe).toMatchObject({ field: 'probe.headers.X-Admin' });
    });

    it('the probe receives only the public admin fields at run time', async () => {
      // Prepare
      const f = await start({
        admin: { account: 'acct-42' },
        describe: (d) => ({
          ...d,
          publicAdminFields: ['account'],
          probe: {
            method: 'GET',
            path: '/whoami',
            headers: { 'X-Api-Key': '{{key}}', 'X-Account': '{{admin.account}}' },
          },
        }),
      });
      const first = f.firstKey();
      // Act
      await test(f, f.secretFor(first));
      // Assess
      expect(f.sent).toHaveLength(1);
      expect(f.sent[0]?.headers['x-account']).toBe('acct-42');
      expect(JSON.stringify(f.sent[0]?.headers)).not.toContain(f.provider.adminToken);
    });

    it('a template with a malformed expression is refused, naming the field', () => {
      // Act
      const { issue } = compileProvider('x', {
        baseUrl: 'https://api.example.com',
        auth: { header: 'Authorization', value: 'Basic {{base64(admin.user : admin.password)}}' },
        create: {
          method: 'POST',
          path: '/keys',
          body: { name: '{{name}}' },
          response: { id: 'id', key: 'key' },
        },
        list: { method: 'GET', path: '/keys', response: { items: 'keys', id: 'id', name: 'name' } },
        revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
        probe: { method: 'GET', path: '/me', headers: { 'X-Api-Key': '{{key}}' } },
      });
      // Assess
      expect(issue).toMatchObject({ field: 'auth.value', expected: expect.stringMatching(/base64/) });
    });
  });

  describe('rate limits', () => {
    const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] ?? null });

    it('reads the common rate-limit headers: seconds from now, an epoch time, the structured RateLimit field', () => {
      // Prepare
      const epoch = Math.floor(Date.now() / 1000) + 30;
      // Act
      const datadog = rateLimit(headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '12' }));
      const sendgrid = rateLimit(
        headers({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(epoch) }),
      );
      const draft = rateLimit(headers({ ratelimit: 'limit=100, remaining=0, reset=7' }));
      const plain = rateLimit(headers({ 'ratelimit-remaining': '5', 'ratelimit-reset': '3' }));
      const garbage = rateLimit(headers({ 'x-ratelimit-remaining': 'soon', 'x-ratelimit-reset': 'later' }));
      // Assess
      expect(datadog).toEqual({ remaining: 0, resetMs: 12_000 });
      expect(sendgrid.remaining).toBe(0);
      expect(sendgrid.resetMs).toBeGreaterThan(28_000);
      expect(sendgrid.resetMs).toBeLessThanOrEqual(30_000);
      expect(draft).toEqual({ remaining: 0, resetMs: 7_000 });
      expect(plain).toEqual({ remaining: 5, resetMs: 3_000 });
      expect(garbage).toEqual({});
    });

    it('reads the next target of a Link header among other relations', () => {
      // Act
      const found = nextLink(
        '<https://api.example.com/v1/keys?page=1>; rel="prev", <https://api.example.com/v1/keys?page=3>; rel="next"',
      );
      const none = nextLink('<https://api.example.com/v1/keys?page=1>; rel="first"');
      // Assess
      expect(found).toBe('https://api.example.com/v1/keys?page=3');
      expect(none).toBeUndefined();
    });

    /** A fixture whose waits really sleep (the provider's window must pass), recorded all the same. */
    async function throttled(rateLimit: NonNullable<ApiKeyProviderOptions['rateLimit']>) {
      const waits: number[] = [];
      const f = await start({
        provider: { maxLiveKeys: 5, rateLimit },
        rotator: {
          sleep: async (ms, signal) => {
            waits.push(ms);
            await delay(ms, undefined, { signal });
          },
        },
      });
      return { f, waits };
    }

    it('a 429 without Retry-After waits for X-RateLimit-Reset, then succeeds', async () => {
      // Prepare
      const { f, waits } = await throttled({ limit: 1, windowMs: 1000 });
      const first = f.firstKey();
      // Someone else spends the window's budget first.
      await f.canLogin(first.value);
      // Act
      const pending = await createPending(f, f.secretFor(first));
      // Assess
      expect(isLive(f, pending.keyId as string)).toBe(true);
      expect(f.provider.requests.filter((r) => r.status === 429).length).toBeGreaterThan(0);
      expect(waits.length).toBeGreaterThan(0);
      expect(waits.every((ms) => ms >= 500 && ms <= 1000)).toBe(true);
    });

    it('X-RateLimit-Remaining: 0 makes the next call wait for the reset instead of earning a 429', async () => {
      // Prepare
      const { f, waits } = await throttled({ limit: 2, windowMs: 1000 });
      const first = f.firstKey();
      // Act: list (1 of 2), create (2 of 2, remaining 0)... then the next step's list waits.
      const pending = await createPending(f, f.secretFor(first));
      await test(f, pending);
      await createPending(f, f.secretFor(first));
      // Assess
      expect(f.provider.requests.filter((r) => r.status === 429)).toEqual([]);
      expect(waits.length).toBeGreaterThan(0);
    });

    it('a reset past the deadline fails at once with a retryable error, without waiting', async () => {
      // Prepare
      const { f, waits } = await throttled({ limit: 1, windowMs: 60_000 });
      const first = f.firstKey();
      // Act
      const error = await caught(
        f.rotator.createPending({
          ...f.request('createSecret', { deadlineMs: 5_000 }),
          current: f.rotator.parse({ value: f.secretFor(first), label: 'AWSCURRENT' }),
          currentValue: f.secretFor(first),
          generatePassword: noPassword,
        }),
      );
      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).retryable).toBe(true);
      expect((error as ProviderError).status).toBe(429);
      expect(waits).toEqual([]);
    });
  });

  describe('propagation', () => {
    const propagating = (maxWaitMs: number) => ({
      provider: { maxLiveKeys: 5, propagationMs: 700 },
      describe: (d: Value) => ({
        ...d,
        probe: { ...(d.probe as Value), propagation: { maxWaitMs, baseDelayMs: 100 } },
      }),
      rotator: {
        sleep: async (ms: number, signal: AbortSignal) => {
          await delay(ms, undefined, { signal });
        },
      },
    });

    it('testSecret waits, with backoff, for a new key that is not live yet', async () => {
      // Prepare
      const f = await start(propagating(5_000));
      const first = f.firstKey();
      const pending = await createPending(f, f.secretFor(first));
      // Act
      await test(f, pending);
      // Assess
      const probes = f.provider.requests.filter((r) => r.operation === 'probe');
      expect(probes.length).toBeGreaterThan(1);
      expect(probes.at(-1)?.status).toBe(200);
    });

    it('without a declared propagation the same key is refused at once', async () => {
      // Prepare
      const f = await start({ provider: { maxLiveKeys: 5, propagationMs: 700 } });
      const first = f.firstKey();
      const pending = await createPending(f, f.secretFor(first));
      // Act
      const error = await caught(test(f, pending));
      // Assess
      expect(error).toBeInstanceOf(AuthenticationFailedError);
    });

    it('a key that never works is refused once the bound is spent: "not yet" and "refused" differ by the bound', async () => {
      // Prepare
      const f = await start(propagating(300));
      const first = f.firstKey();
      const pending = await createPending(f, f.secretFor(first));
      // Act
      const error = await caught(test(f, { ...pending, apiKey: 'rk_live_never' }));
      // Assess
      expect(error).toBeInstanceOf(AuthenticationFailedError);
      expect((error as Error).message).toMatch(/after waiting 300 ms/);
    });

    it('cut short by the deadline it is a retryable DeadlineExceededError, so testSecret runs again with the same key', async () => {
      // Prepare
      const f = await start(propagating(60_000));
      const first = f.firstKey();
      const pending = await createPending(f, f.secretFor(first));
      // Act
      const error = await caught(test(f, pending, 250));
      // Assess
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect(isLive(f, pending.keyId as string)).toBe(true);
    });

    it('preflight never waits: it reports the current key as it is', async () => {
      // Prepare
      const f = await start(propagating(5_000));
      const fresh = f.firstKey();
      const current = f.rotator.parse({ value: f.secretFor(fresh), label: 'AWSCURRENT' });
      // Act
      const checks = await f.rotator.preflight({ ...f.request('createSecret'), current });
      // Assess
      expect(checks.find((c) => c.name === 'current key passes the probe')?.ok).toBe(false);
      expect(f.provider.requests.filter((r) => r.operation === 'probe')).toHaveLength(1);
    });
  });

  it('no error in this suite carries a key value or the admin credential', () => {
    // Assess
    expect(errors.length).toBeGreaterThan(10);
    const text = errors
      .map((error) => `${String(error)}\n${JSON.stringify(error)}\n${(error as Error).stack}`)
      .join('\n');
    expect(text).not.toMatch(/rk_live_[A-Za-z0-9_-]{20}|adm_/);
  });
});
