/**
 * Presets (issue 19): Datadog, SendGrid, Cloudflare and Twilio by name, each rotating end to end
 * through RotateSecret on the local stack against a local fake that follows that provider's
 * documented API (local/providerFakes.ts cites the pages), with more keys than one page.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfig } from '../../handlers/config.js';
import { type FakeKind, type ProviderFake, startProviderFake } from '../../local/providerFakes.js';
import { createApiKeyRotator, keyTag } from '../../rotators/apikey/index.js';
import { compileProvider } from '../../rotators/apikey/provider.js';
import { ConfigurationError, ProviderError } from '../../rotators/errors.js';
import { type RotationHarness, startRotationHarness } from '../support/rotation.js';
import { skipApiKey } from './support.js';

/** Options each preset needs, and how many keys make more than one of its pages. */
const CASES: Record<
  FakeKind,
  {
    options: Record<string, unknown>;
    strangers: number;
    pageSize?: number;
    /** Options taken from the running fake. */
    fromFake?: (fake: ProviderFake) => Record<string, unknown>;
    /** Fields of the secret beyond the key (per-secret parameters). */
    secret?: Record<string, unknown>;
  }
> = {
  // Algolia lists every key in one answer (no paging), and its new keys take a while to be visible.
  algolia: {
    options: {},
    strangers: 20,
    fromFake: (fake) => ({ applicationId: fake.adminSecret.applicationId }),
    secret: { parameters: { acl: ['search', 'listIndexes'] } },
  },
  datadog: { options: {}, strangers: 120, pageSize: 100 },
  sendgrid: { options: { scopes: ['mail.send'] }, strangers: 20 },
  cloudflare: {
    options: {
      policies: [
        {
          effect: 'allow',
          resources: { 'com.cloudflare.api.account.zone.*': '*' },
          permission_groups: [{ id: 'c8fed203ed3043cba015a93ad1616f1f' }],
        },
      ],
    },
    strangers: 60,
    pageSize: 50,
  },
  twilio: { options: {}, strangers: 60, pageSize: 50 },
};

describe.skipIf(skipApiKey)('API-key presets', () => {
  let fake: ProviderFake | undefined;
  let h: RotationHarness | undefined;

  afterEach(async () => {
    await h?.close();
    await fake?.stop();
    h = undefined;
    fake = undefined;
  });

  async function setUp(kind: FakeKind, given: Record<string, unknown> = CASES[kind].options) {
    fake = await startProviderFake(kind);
    const options = { ...given, ...CASES[kind].fromFake?.(fake) };
    // The operator pins the admin secret in the preset entry, by name.
    const adminName = `${kind}/admin-${randomUUID()}`;
    const rotator = createApiKeyRotator({
      providers: { [kind]: { preset: kind, baseUrl: fake.baseUrl, adminSecret: adminName, ...options } },
    });
    h = await startRotationHarness({ rotators: [rotator] });
    const adminSecretArn = await h.createSecret(fake.adminSecret, adminName);
    return { fake, h, adminSecretArn };
  }

  /** The provider's own id of the key a secret value holds (Algolia's is the key itself). */
  const providerId = (kind: FakeKind, value: Record<string, unknown>) =>
    String(kind === 'algolia' ? value.apiKey : value.keyId);

  for (const kind of ['datadog', 'sendgrid', 'cloudflare', 'twilio', 'algolia'] as const) {
    it(`${kind}: rotates twice through RotateSecret with more keys than a page; old keys revoked on schedule, nothing else touched`, async () => {
      // Prepare
      const { fake, h, adminSecretArn } = await setUp(kind);
      const strangers = Array.from({ length: CASES[kind].strangers }, (_, i) => fake.keys.mint(`team-${i}`));
      const first = fake.keys.mint('app', { createdWith: { acl: ['search', 'listIndexes'] } });
      const arn = await h.createSecret({
        engine: 'apikey',
        provider: kind,
        adminSecretArn,
        keyId: first.id,
        apiKey: first.value,
        ...CASES[kind].secret,
      });
      // The operator puts the hand-made key under the secret's tag; an abandoned rotation left a key last.
      fake.keys.rename(first.id, `${keyTag(arn)}-app`);
      const orphan = fake.keys.mint(`${keyTag(arn)}-${randomUUID()}`);
      const untouched = fake.keys.live().filter((key) => key.id !== first.id && key.id !== orphan.id);
      // Act
      await h.rotate(arn);
      const second = await h.value(arn);
      await h.rotate(arn);
      const third = await h.value(arn);
      // Assess
      const statuses = h.stack.rotations.history.map((record) => record.status);
      expect(statuses).toEqual(['succeeded', 'succeeded']);
      expect(await fake.canLogin({ id: String(third.keyId), value: String(third.apiKey) })).toBe(true);
      expect(await fake.canLogin({ id: String(second.keyId), value: String(second.apiKey) })).toBe(true);
      expect(await fake.canLogin(first)).toBe(false);
      expect(fake.keys.get(orphan.id)?.revokedAt).toBeDefined();
      expect(
        fake.keys
          .live()
          .map((key) => key.id)
          .sort(),
      ).toEqual(
        [...untouched.map((key) => key.id), providerId(kind, second), providerId(kind, third)].sort(),
      );
      // Every admin credential but Twilio's (AccountSid and AuthToken) and Algolia's admin API key
      // is itself a key of the account.
      expect(untouched.length).toBe(strangers.length + (kind === 'twilio' || kind === 'algolia' ? 0 : 1));
      for (const value of [second, third]) {
        expect(fake.keys.get(providerId(kind, value))?.name.startsWith(`${keyTag(arn)}-`)).toBe(true);
      }
      const pageSize = CASES[kind].pageSize;
      if (pageSize !== undefined) {
        // Every list read every page (and did not stop at the first).
        const lists = fake.requests.filter((r) => r.operation === 'list');
        const perList = Math.ceil(fake.keys.live().length / pageSize);
        expect(lists.length).toBeGreaterThanOrEqual(perList * 2);
      }
      expect(
        fake.requests.filter((r) => r.operation === 'unauthorized' || r.operation === 'unknown'),
      ).toEqual([]);
    });
  }

  it('twilio: the key is created by a form with its FriendlyName (a JSON body would make it unnamed)', async () => {
    // Prepare
    const { fake, h, adminSecretArn } = await setUp('twilio');
    const first = fake.keys.mint('app');
    const arn = await h.createSecret({
      engine: 'apikey',
      provider: 'twilio',
      adminSecretArn,
      keyId: first.id,
      apiKey: first.value,
    });
    fake.keys.rename(first.id, `${keyTag(arn)}-app`);
    // Act
    await h.rotate(arn);
    // Assess
    const current = await h.value(arn);
    expect(String(current.keyId)).toMatch(/^SK[0-9a-f]{32}$/);
    expect(fake.keys.get(String(current.keyId))?.name).toBe(
      `${keyTag(arn)}-${(await h.labels(arn)).AWSCURRENT}`,
    );
  });

  it('sendgrid: at the documented 100 keys with none rotor may revoke, the rotation fails before any create', async () => {
    // Prepare
    const { fake, h, adminSecretArn } = await setUp('sendgrid');
    const first = fake.keys.mint('app');
    for (let i = fake.keys.live().length; i < 100; i++) fake.keys.mint(`team-${i}`);
    const arn = await h.createSecret({
      engine: 'apikey',
      provider: 'sendgrid',
      adminSecretArn,
      keyId: first.id,
      apiKey: first.value,
    });
    fake.keys.rename(first.id, `${keyTag(arn)}-app`);
    // Act
    await h.rotate(arn);
    // Assess
    const record = h.stack.rotations.history.at(-1);
    expect(record?.status).toBe('failed');
    expect(record?.attempts[0]?.error?.name).toBe(ProviderError.name);
    expect(fake.requests.filter((r) => r.operation === 'create')).toEqual([]);
    expect(await fake.canLogin(first)).toBe(true);
  });

  it('a preset refuses options it does not know or lacks, naming them', () => {
    // Act
    const unknownPreset = compileProvider('x', { preset: 'mailchimp' }).issue;
    const missingPolicies = compileProvider('x', { preset: 'cloudflare' }).issue;
    const stray = compileProvider('x', { preset: 'twilio', accountSid: 'AC1' }).issue;
    const badSite = compileProvider('x', { preset: 'datadog', site: 'evil.com/x' }).issue;
    const plainHttp = compileProvider('x', {
      preset: 'sendgrid',
      baseUrl: 'http://api.sendgrid.example/v3',
    }).issue;
    // Assess
    expect(unknownPreset).toMatchObject({ field: 'preset', expected: expect.stringContaining('twilio') });
    expect(missingPolicies).toMatchObject({ field: 'policies' });
    expect(stray).toMatchObject({ field: 'accountSid' });
    expect(badSite).toMatchObject({ field: 'site' });
    expect(plainHttp).toMatchObject({ field: 'baseUrl' });
    expect(() => createApiKeyRotator({ providers: { cf: { preset: 'cloudflare' } } })).toThrow(
      ConfigurationError,
    );
  });

  it('a preset is usable by name from the function configuration (ROTOR_APIKEY_PROVIDERS, which the stage file apiKeyProviders becomes)', () => {
    // Prepare
    const config = readConfig({
      ROTOR_APIKEY_PROVIDERS: JSON.stringify({
        observability: { preset: 'datadog', site: 'datadoghq.eu', adminSecret: 'dd-admin' },
      }),
    });
    // Act
    const rotator = createApiKeyRotator({ providers: config.apiKeyProviders });
    const parsed = rotator.parse({
      value: {
        engine: 'apikey',
        provider: 'observability',
        adminSecretArn: 'dd-admin',
        keyId: 'k',
        apiKey: 'v',
      },
      label: 'AWSCURRENT',
    });
    // Assess
    expect(parsed.provider.baseUrl.href).toBe('https://api.datadoghq.eu/api');
    expect(parsed.provider.adminSecrets).toEqual(['dd-admin']);
    expect(parsed.provider.list.pagination).toMatchObject({
      style: 'page',
      pageParam: 'page[number]',
      size: 100,
    });
  });

  it('each preset compiles with its documented defaults', () => {
    // Act
    const compiled = (['datadog', 'sendgrid', 'cloudflare', 'twilio'] as const).map((kind) =>
      compileProvider(kind, { preset: kind, ...CASES[kind].options }),
    );
    // Assess
    expect(compiled.map((c) => c.issue)).toEqual([undefined, undefined, undefined, undefined]);
    expect(compiled.map((c) => c.provider?.baseUrl.href)).toEqual([
      'https://api.datadoghq.com/api',
      'https://api.sendgrid.com/v3',
      'https://api.cloudflare.com/client/v4',
      'https://api.twilio.com/2010-04-01',
    ]);
    expect(compiled[1]?.provider?.maxLiveKeys).toBe(100);
  });
});
