/** preflight: what a rotation will need, checked without changing anything. */
import { ProviderError, RotorError } from '../errors.js';
import type { PreflightCheck, PreflightRequest } from '../types.js';
import type { ProviderAccess } from './access.js';
import type { ListedKey } from './client.js';
import { currentClaims, evictable, type Ownership, ownership } from './keys.js';
import { probe } from './probe.js';
import type { ApiKeySecret } from './secret.js';

/**
 * Checks the admin credential, the current key, and room for a new key (or, for a key rolled in
 * place, that it may be rolled). Changes nothing.
 */
export async function preflight(
  access: ProviderAccess,
  { current, ...request }: PreflightRequest<ApiKeySecret>,
): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  const check = async (name: string, fix: string, run: () => Promise<string>) => {
    try {
      checks.push({ name, ok: true, detail: await run() });
    } catch (error) {
      const detail = error instanceof RotorError ? error.detail : 'unexpected error';
      checks.push({ name, ok: false, detail, fix });
    }
  };
  // One read of the admin secret serves the list and the probe.
  const connected = access.connect(current, request);
  connected.catch(() => {});
  let keys: ListedKey[] | undefined;
  let own: Ownership | undefined;
  // The checks that judge the list need one: without it they would pass on an empty list.
  const listed = (): ListedKey[] => {
    if (keys === undefined) {
      throw new ProviderError(
        `the keys at ${current.provider.name} could not be listed (see "admin credential lists keys")`,
      );
    }
    return keys;
  };
  await check('admin credential lists keys', 'check adminSecretArn and the admin credential', async () => {
    const all = await (await connected).list();
    keys = all;
    return `${all.length} live keys at ${current.provider.name}`;
  });
  await check('current key passes the probe', 'check keyId and apiKey in AWSCURRENT', async () => {
    await probe(access, current, request, false, connected);
    return 'the probe accepts the current key';
  });
  await check(
    "the keys AWSCURRENT names are this secret's",
    'adopt a hand-made or older key with rotor attach --adopt <key id>, or correct keyId, previousKeyId and keyNamePrefix',
    async () => {
      own = ownership(current, request);
      await own.assertOwned(listed(), currentClaims(current));
      return `their provider-side names carry this secret's tag "${own.names.prefix}" or an operator adopted them`;
    },
  );
  if (current.provider.roll !== undefined) {
    // Rolling makes no new key: what matters is that the one AWSCURRENT names may be rolled.
    await check(
      'the key AWSCURRENT names can be rolled',
      "put the key under this secret's tag or adopt it with rotor attach --adopt <key id>, or correct keyId",
      async () => {
        const key = listed().find((listedKey) => listedKey.id === current.keyId);
        if (key === undefined || own === undefined || !(await own.owns(key))) {
          throw new ProviderError(
            `the provider lists no key ${current.keyId} that is this secret's: createSecret would refuse to roll it`,
          );
        }
        return `key ${key.id} is listed and this secret's: each rotation rolls it in place (no overlap)`;
      },
    );
    return checks;
  }
  await check('room for a new key', 'revoke a key by hand or raise maxLiveKeys', async () => {
    const all = listed();
    const room = own === undefined ? [] : evictable(own, all, current);
    const free = current.provider.maxLiveKeys - all.length + room.length;
    if (free < 1)
      throw new ProviderError(`no room: ${all.length} of ${current.provider.maxLiveKeys} live keys`);
    return `${all.length} of ${current.provider.maxLiveKeys} live keys`;
  });
  return checks;
}
