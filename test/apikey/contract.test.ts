/** The shared rotator contract, once per grace policy, against the reference provider over HTTP. */
import { afterAll, describe } from 'vitest';
import { describeRotatorContract } from '../support/contract.js';
import { type ProviderFixture, skipApiKey, startProviderFixture } from './support.js';

describe.skipIf(skipApiKey)('API-key rotator contract', () => {
  const fixtures: ProviderFixture[] = [];

  afterAll(async () => {
    await Promise.all(fixtures.map((fixture) => fixture.stop()));
  });

  for (const [strategy, gracePolicy] of [
    ['revoke-at-finish', 'none'],
    ['keep-until-next-rotation', 'until-next-rotation'],
    ['keep-for-duration', '1h'],
  ] as const) {
    describeRotatorContract(`apikey (${strategy})`, async () => {
      // Every contract case mints a fresh application key: leave room for all of them.
      const f = await startProviderFixture({ provider: { maxLiveKeys: 100 } });
      fixtures.push(f);
      let count = 0;
      return {
        rotator: f.rotator,
        // Each named with the contract secret's tag, as an operator names a first key made by hand.
        freshSecret: async () =>
          f.secretFor(f.provider.keys.mint(`${f.names().prefix}app-${++count}`), { gracePolicy }),
        fetchRelated: async (id) => {
          if (id !== f.adminSecretArn) throw new Error(`unexpected related secret ${id}`);
          return f.adminSecret;
        },
        canLogin: (value) => f.canLogin(value.apiKey as string),
        // Minting a key never retires the current one: that is finish's job, after promotion.
        currentAfterApply: 'works',
        invalid: [
          { name: 'no keyId', value: ({ keyId: _, ...valid }) => valid, field: 'keyId' },
          { name: 'apiKey not a string', value: (valid) => ({ ...valid, apiKey: 42 }), field: 'apiKey' },
          {
            name: 'unknown provider',
            value: (valid) => ({ ...valid, provider: 'nowhere' }),
            field: 'provider',
          },
          {
            name: 'no adminSecretArn',
            value: ({ adminSecretArn: _, ...valid }) => valid,
            field: 'adminSecretArn',
          },
          {
            name: 'bad gracePolicy',
            value: (valid) => ({ ...valid, gracePolicy: 'forever' }),
            field: 'gracePolicy',
          },
          { name: 'not an object', value: () => 'sk_live_plain', field: '(json)' },
        ],
        snapshot: async () =>
          JSON.stringify(
            f.provider.keys
              .all()
              .map((key) => ({ id: key.id, active: key.active, revoked: key.revokedAt !== undefined })),
          ),
        wrongCredential: (pending) => ({ ...pending, apiKey: `${pending.apiKey as string}-wrong` }),
      };
    });
  }
});
