/**
 * Strategies `revoke-at-finish`, `keep-until-next-rotation` and `keep-for-duration` (by the
 * secret's grace policy): createSecret mints a new key named for the rotation, setSecret activates
 * it where the provider needs that, and the replaced key stays valid until the grace policy
 * retires it (finish, keys.ts). AWSCURRENT's key is never touched.
 */
import { DeadlineExceededError, ForeignKeyError, ProviderError, RotorError } from '../../errors.js';
import type { ApplyRequest, CreatePendingRequest, CreatePendingResponse } from '../../types.js';
import type { ProviderAccess } from '../access.js';
import type { ListedKey } from '../client.js';
import { currentClaims, evictable, ownership, retirable, revokeAll } from '../keys.js';
import type { ApiKeySecret } from '../secret.js';
import type { KeyStrategy } from './strategy.js';

/**
 * Mints a key named `<tag>-[<label>-]<token>`. The step machine calls it without reading
 * AWSPENDING first (this rotator has `discard`): a key already named for this token may then
 * be the stored pending value's (an earlier call whose response was lost), so none is revoked
 * or evicted here, unless the step machine says nothing is stored (`nothingStored`, after a
 * read it makes when this call failed, at the live-key limit say): then they are orphans and
 * go. The step machine discards ours if the put is refused, and apply revokes the other keys
 * named for the token once the stored one is known. First proves that the keys AWSCURRENT
 * names are this secret's (ForeignKeyError otherwise, nothing minted or revoked), then
 * reconciles (expired grace, orphans of abandoned rotations), then makes room at the live-key
 * limit. A create whose outcome is unknown (network error, 5xx) is recovered once in the same
 * call: the key it may have made (named for the token, absent from the call's first list) is
 * revoked, and another is minted.
 */
async function createPending(
  access: ProviderAccess,
  { current, currentValue, token, nothingStored, ...request }: CreatePendingRequest<ApiKeySecret>,
): Promise<CreatePendingResponse> {
  const own = ownership(current, request);
  const client = await access.connect(current, request);
  const name = own.names.nameFor(token);
  /** Keys named for this token that may be the stored pending value's: never retired here. */
  let guarded: ReadonlySet<string> | undefined;
  for (let attempt = 1; ; attempt++) {
    let keys = await client.list();
    await own.assertOwned(keys, currentClaims(current));
    // Told nothing is stored, every key named for this token is an orphan (its value lost).
    // Otherwise only those this call's own lost create made (absent from its first list) are.
    guarded ??= new Set(
      nothingStored === true
        ? []
        : keys.filter((key) => own.names.mintedFor(key.name, token)).map((key) => key.id),
    );
    const mayGo = (key: ListedKey) =>
      key.id !== current.keyId && !(guarded as ReadonlySet<string>).has(key.id);
    const retire = [
      ...(await retirable(own, keys, current, access.now)),
      ...keys.filter((key) => own.names.mintedFor(key.name, token)),
    ].filter((key, index, all) => mayGo(key) && all.indexOf(key) === index);
    await revokeAll(client, retire);
    keys = keys.filter((key) => !retire.includes(key));
    const excess = keys.length + 1 - current.provider.maxLiveKeys;
    if (excess > 0) {
      const room = evictable(own, keys, current).filter(mayGo);
      if (room.length < excess) {
        // Keys named for this token kept in case one is the stored pending value's: told that
        // nothing is stored (the step machine reads and calls again), they go.
        const blocked = evictable(own, keys, current).length >= excess;
        throw new ProviderError(
          `${client.target} allows ${current.provider.maxLiveKeys} live keys and has ${keys.length}, of which ` +
            `${room.length} rotor may revoke (the current key never): revoke one by hand or raise maxLiveKeys`,
          undefined,
          { retryable: blocked },
        );
      }
      await revokeAll(client, room.slice(0, excess));
    }
    try {
      const minted = await client.create(name, token, current.parameters);
      return {
        pending: {
          ...currentValue,
          keyId: minted.id,
          apiKey: minted.key,
          previousKeyId: current.keyId,
          keyCreatedAt: new Date(access.now()).toISOString(),
        },
      };
    } catch (error) {
      const unknownOutcome =
        error instanceof RotorError && error.retryable && !(error instanceof DeadlineExceededError);
      if (!unknownOutcome || attempt >= 2) throw error;
    }
  }
}

/**
 * Activates the pending key when the provider needs it; otherwise nothing. The current key
 * stays valid either way. Activating an active key must be accepted by the provider
 * (`activate.okStatuses`), which makes a replay harmless. Only the key the provider lists as
 * minted for this secret in this rotation is activated (ForeignKeyError otherwise): a pending
 * value naming another key cannot switch that key on.
 */
async function apply(
  access: ProviderAccess,
  { pending, current, token, ...request }: ApplyRequest<ApiKeySecret>,
): Promise<void> {
  const own = ownership(pending, request);
  const client = await access.connect(pending, request);
  const keys = await client.list();
  // The stored pending value is known now: other keys named for this token were minted by
  // calls whose value lost (a lost response, a refused put) and are revoked.
  await revokeAll(
    client,
    keys.filter(
      (listed) =>
        own.names.mintedFor(listed.name, token) &&
        listed.id !== pending.keyId &&
        listed.id !== current.keyId &&
        listed.id !== current.previousKeyId,
    ),
  );
  if (pending.provider.activate === undefined) return;
  const key = keys.find((listed) => listed.id === pending.keyId);
  if (key === undefined || !own.names.mintedFor(key.name, token)) {
    throw new ForeignKeyError(
      `refused to activate keyId of AWSPENDING ${pending.keyId}: the provider lists no key of that id named ` +
        `for this rotation under this secret's tag "${own.names.prefix}"`,
    );
  }
  await client.activate(key.id);
}

export const mint: KeyStrategy = {
  name: (secret) =>
    ({
      none: 'revoke-at-finish',
      'until-next-rotation': 'keep-until-next-rotation',
      duration: 'keep-for-duration',
    })[secret.grace.kind],
  readsPendingFirst: false,
  createPending,
  apply,
  testFailed: (error) => error,
};
