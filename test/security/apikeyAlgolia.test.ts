/**
 * Keys whose id is their value (Algolia, issue 19 items 6 and 9): the one exception to "no key in
 * a URL" is the DELETE that destroys a retiring key, over https (loopback http here) to the pinned
 * host, opted into by the function's own description (`keyInDeleteUrl`). Leak canaries: no key
 * value reaches any log line, event, error or stored rotation record, and no request line but that
 * DELETE, at the moment the key dies. rotor knows every such key by its fingerprint.
 */
import { randomUUID } from 'node:crypto';
import { format, inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ProviderFake, startProviderFake } from '../../local/providerFakes.js';
import { type FetchResponse, ProviderClient } from '../../rotators/apikey/client.js';
import { createApiKeyRotator, keyTag } from '../../rotators/apikey/index.js';
import { compileProvider, keyFingerprint } from '../../rotators/apikey/provider.js';
import { InvalidSecretError, TargetUnreachableError } from '../../rotators/errors.js';
import { skipApiKey } from '../apikey/support.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';

describe.skipIf(skipApiKey)('API keys whose id is the key (Algolia)', () => {
  let fake: ProviderFake | undefined;
  let h: RotationHarness | undefined;
  const output: string[] = [];

  beforeEach(() => {
    output.length = 0;
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
    await h?.close();
    await fake?.stop();
    h = undefined;
    fake = undefined;
  });

  async function setUp() {
    fake = await startProviderFake('algolia', { propagationMs: 1500 });
    const adminName = `algolia/admin-${randomUUID()}`;
    const rotator = createApiKeyRotator({
      providers: {
        algolia: {
          preset: 'algolia',
          applicationId: fake.adminSecret.applicationId,
          baseUrl: fake.baseUrl,
          adminSecret: adminName,
        },
      },
    });
    h = await startRotationHarness({
      rotators: [rotator],
      config: { logLevel: 'DEBUG', metricsEnabled: true },
    });
    const adminSecretArn = await h.createSecret(fake.adminSecret, adminName);
    const first = fake.keys.mint('app', { createdWith: { acl: ['search', 'listIndexes'] } });
    const arn = await h.createSecret({
      engine: 'apikey',
      provider: 'algolia',
      adminSecretArn,
      keyId: first.id,
      apiKey: first.value,
      gracePolicy: 'none',
      parameters: { acl: ['search', 'listIndexes'] },
    });
    fake.keys.rename(first.id, `${keyTag(arn)}-app`);
    return { fake, h, arn, first };
  }

  it('rotates with the propagation delay; no key value in any log, event, error or request line but its own DELETE', async () => {
    // Prepare
    const { fake, h, arn, first } = await setUp();
    // Act: one clean rotation, then one whose first revokes fail (errors are recorded, then retried).
    await h.rotate(arn);
    const second = await h.value(arn);
    fake.faults.fail('revoke', 500, 4);
    await h.rotate(arn);
    const third = await h.value(arn);
    // Assess: it rotated, waiting for the new keys to become visible.
    expect(await fake.canLogin({ id: String(third.apiKey), value: String(third.apiKey) })).toBe(true);
    expect(fake.keys.get(first.id)?.revokedAt).toBeDefined();
    expect(fake.keys.get(String(second.apiKey))?.revokedAt).toBeDefined();
    expect(fake.requests.some((r) => r.operation === 'probe' && r.status === 403)).toBe(true);
    expect(fake.requests.some((r) => r.operation === 'revoke' && r.status === 500)).toBe(true);
    // rotor knows the keys by fingerprint.
    expect(third.keyId).toBe(keyFingerprint(String(third.apiKey)));
    expect(third.previousKeyId).toBe(keyFingerprint(String(second.apiKey)));
    // The canaries: every key value ever made, and the admin key.
    const values = [...fake.keys.all().map((key) => key.value), String(fake.adminSecret.apiKey)];
    const records = [
      ...output,
      ...h.stack.eventBridge.events.map((event) => JSON.stringify(event)),
      ...h.stack.rotations.history.map((record) => JSON.stringify(record)),
    ];
    // The failed revokes were recorded (the canaries search an error too).
    expect(records.join('\n')).toContain('ProviderError');
    for (const value of values) {
      for (const record of records) expect(record).not.toContain(value);
    }
    // Request lines: a key value appears only in DELETE /1/keys/{key}, of a key now revoked.
    for (const request of fake.requests) {
      const line = `${request.path}${request.query}`;
      const named = values.filter((value) => line.includes(value));
      if (named.length === 0) continue;
      expect(request.method).toBe('DELETE');
      expect(line).toMatch(/^\/1\/keys\/[0-9a-f]{32}$/);
      expect(fake.keys.get(String(named[0]))?.revokedAt).toBeDefined();
    }
    const paths = fake.requests.map((r) => `${r.path}${r.query}`).join('\n');
    expect(paths).not.toContain(String(third.apiKey));
  });

  it("a revoke whose fetch throws with the DELETE's URL in its message or cause never carries the key value on", async () => {
    // Prepare: a list naming one key; every DELETE fails the way fetch and its proxies report a
    // network failure, quoting the URL (the key value is in its path).
    const { provider } = compileProvider('algolia', { preset: 'algolia', applicationId: 'APP1' });
    if (provider === undefined) throw new Error('the preset compiles');
    const value = 'a3f1c0de5b7a49e2a3f1c0de5b7a49e2';
    const thrown = [
      (url: string) =>
        new TypeError('fetch failed', {
          cause: Object.assign(new Error(`connect ECONNRESET ${url}`), { code: 'ECONNRESET' }),
        }),
      (url: string) => new TypeError('fetch failed', { cause: new Error(`socket hang up at ${url}`) }),
      (url: string) => new Error(`request to ${url} failed`),
    ];
    const errors: unknown[] = [];
    for (const fail of thrown) {
      const client = new ProviderClient(
        provider,
        {
          fetch: async (url, init): Promise<FetchResponse> => {
            if (init.method === 'DELETE') throw fail(url);
            const body = JSON.stringify({ keys: [{ value, description: 'rotor-x-app' }] });
            return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
          },
          sleep: async () => {},
          signal: new AbortController().signal,
          deadline: Date.now() + 30_000,
        },
        { apiKey: 'admin-key-value' },
      );
      const [listed] = await client.list();
      // Act
      try {
        await client.revoke(String(listed?.id));
      } catch (error) {
        errors.push(error);
      }
    }
    // Assess
    expect(errors).toHaveLength(thrown.length);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TargetUnreachableError);
      const rendered = [
        inspect(error, { depth: 10 }),
        JSON.stringify(error),
        JSON.stringify((error as Error).cause),
        String(error),
      ].join('\n');
      expect(rendered).not.toContain(value);
      expect(rendered).not.toContain('admin-key-value');
    }
  });

  it('only the function may accept a key in a DELETE path: an inline description cannot, and the revoke must be a DELETE naming nothing else', async () => {
    // Prepare
    const base = compileProvider('a', { preset: 'algolia', applicationId: 'APP1' });
    const preset = { preset: 'algolia', applicationId: 'APP1' };
    const raw = {
      baseUrl: 'https://app1.algolia.net',
      keyInDeleteUrl: true,
      auth: { header: 'X-Algolia-API-Key', value: '{{admin.apiKey}}' },
      create: {
        method: 'POST',
        path: '/1/keys',
        body: { description: '{{name}}' },
        response: { id: 'key', key: 'key' },
      },
      list: { method: 'GET', path: '/1/keys', response: { items: 'keys', id: 'value', name: 'description' } },
      revoke: { method: 'DELETE', path: '/1/keys/{{keyId}}' },
      probe: { method: 'GET', path: '/1/indexes', headers: { 'X-Algolia-API-Key': '{{key}}' } },
    };
    const rotator = createApiKeyRotator({ providers: {}, inlineProviderHosts: ['app1.algolia.net'] });
    // Act
    const inline = (() => {
      try {
        rotator.parse({
          value: { engine: 'apikey', provider: raw, adminSecretArn: 'admin', keyId: 'k', apiKey: 'v' },
          label: 'AWSCURRENT',
        });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    const post = compileProvider('a', {
      ...raw,
      revoke: { method: 'POST', path: '/1/keys/{{keyId}}' },
    }).issue;
    const probeById = compileProvider('a', {
      ...raw,
      probe: { method: 'GET', path: '/1/keys/{{keyId}}', headers: { 'X-Algolia-API-Key': '{{key}}' } },
    }).issue;
    const withoutFlag = compileProvider('a', { ...raw, keyInDeleteUrl: undefined }).issue;
    const plainHttp = compileProvider('a', { ...preset, baseUrl: 'http://app1.algolia.net' }).issue;
    // Assess
    expect(base.issue).toBeUndefined();
    expect(base.provider?.keyInDeleteUrl).toBe(true);
    expect(base.provider?.baseUrl.href).toBe('https://app1.algolia.net/');
    expect(inline).toBeInstanceOf(InvalidSecretError);
    expect((inline as InvalidSecretError).field).toBe('provider.keyInDeleteUrl');
    expect(post?.field).toBe('revoke.method');
    expect(probeById?.field).toBe('probe');
    expect(withoutFlag?.field).toBe('create.response.id');
    expect(plainHttp?.field).toBe('baseUrl');
  });
});
