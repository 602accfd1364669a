/**
 * Strategy `roll-in-place` (the description declares `roll`): the provider regenerates the key's
 * value in place (Cloudflare "Roll Token"). The old value dies at the roll, in createSecret: no
 * overlap, no rollback. The step machine reads AWSPENDING before createPending
 * (`readsPendingFirst`), so a stored value is never rolled again; setSecret has nothing to do.
 */
import { ForeignKeyError, RotorError } from '../../errors.js';
import type { CreatePendingRequest, CreatePendingResponse } from '../../types.js';
import type { ProviderAccess } from '../access.js';
import { currentClaims, ownership } from '../keys.js';
import type { ApiKeySecret } from '../secret.js';
import type { KeyStrategy } from './strategy.js';

/**
 * Regenerates AWSCURRENT's key in place and returns its new value as the pending one. From the roll until finishSecret,
 * AWSCURRENT's value is refused: there is no overlap. The step machine calls this only while no
 * pending value is stored (`readsPendingFirst`), so a replayed createSecret never rolls again
 * once a value is stored; a roll whose value was lost (a crash before the put, a lost response)
 * is recovered by rolling again, since nobody holds the lost value. Only a key the provider
 * lists and that is proven this secret's (its name carries the tag, or an operator adopted it)
 * is rolled: the secret's writer chooses `keyId`, and a roll both kills a key's value and hands
 * the new one to whoever reads this secret.
 */
async function createPending(
  access: ProviderAccess,
  { current, currentValue, ...request }: CreatePendingRequest<ApiKeySecret>,
): Promise<CreatePendingResponse> {
  const own = ownership(current, request);
  const client = await access.connect(current, request);
  const keys = await client.list();
  const key = keys.find((listed) => listed.id === current.keyId);
  if (key === undefined || !(await own.owns(key))) {
    throw new ForeignKeyError(
      `refused to roll keyId of AWSCURRENT ${current.keyId}: the provider lists no key of that id ` +
        `${key === undefined ? '' : "that is this secret's "}(rotor rolls only a listed key whose name starts with ` +
        `this secret's tag "${own.names.prefix}" or that an operator adopted, rotor attach --adopt <key id>)`,
    );
  }
  await own.assertOwned(keys, currentClaims(current));
  const apiKey = await client.roll(key.id);
  // The id does not change; a key replaced by an earlier mint is retired by this rotation's finish.
  const { previousKeyId: _replaced, ...kept } = currentValue;
  return { pending: { ...kept, keyId: key.id, apiKey, keyCreatedAt: new Date(access.now()).toISOString() } };
}

/**
 * A failed test of a rolled key: says what that leaves (the pending value is the only one that
 * can work) and what to do, in the error the step's event and log line carry.
 */
function testFailed(error: unknown): unknown {
  if (!(error instanceof RotorError)) return error;
  const detail =
    `${error.detail}. The key was rolled in place by createSecret (strategy roll-in-place): AWSCURRENT's value ` +
    "no longer works and AWSPENDING's is the only value that can; no rollback is possible. Let Secrets Manager " +
    'retry, or run rotor heal: it rolls forward (promotes AWSPENDING) once its value passes the probe; ' +
    'do not cancel the rotation';
  (error as { detail: string }).detail = detail;
  error.message = detail;
  return error;
}

export const roll: KeyStrategy = {
  name: () => 'roll-in-place',
  readsPendingFirst: true,
  createPending,
  // A rolled key is the current key with its new value: the roll already applied it.
  apply: async () => {},
  testFailed,
};
