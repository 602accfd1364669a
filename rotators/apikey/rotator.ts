import { ForeignKeyError, InvalidSecretError } from '../errors.js';
import type { Rotator } from '../types.js';
import { type ApiKeyRotatorOptions, ProviderAccess } from './access.js';
import { currentClaims, findListed, ownership, retirable, revokeAll } from './keys.js';
import { preflight } from './preflight.js';
import { probe } from './probe.js';
import { checkParameters, keyFingerprint } from './provider.js';
import { type ApiKeySecret, ENGINE, gracePolicy, parseApiKeyFields } from './secret.js';
import { mint } from './strategies/mint.js';
import { roll } from './strategies/roll.js';
import type { KeyStrategy } from './strategies/strategy.js';

export type { ApiKeyRotatorOptions } from './access.js';
export type { ApiKeySecret } from './secret.js';

/** The strategy a secret's description decides: rolled in place where it declares `roll`. */
function strategyFor(secret: ApiKeySecret): KeyStrategy {
  return secret.provider.roll === undefined ? mint : roll;
}

/**
 * Rotates API keys at an HTTP provider described by data.
 *
 * The lifecycle real providers share, mapped onto the four steps: createSecret mints a new key
 * named after the rotation token; setSecret activates it when the provider needs that; testSecret
 * calls the provider's probe with it; finishSecret retires keys by the grace policy:
 *
 * - `none` (strategy `revoke-at-finish`): the replaced key is revoked at finish.
 * - `until-next-rotation` (default, `keep-until-next-rotation`): the replaced key stays valid as
 *   AWSPREVIOUS and is revoked by the next rotation's finish, when it is two generations old.
 * - a duration such as `36h` (`keep-for-duration`): the replaced key stays valid that long after
 *   the new key was minted, and is revoked by the first finish or createPending that runs after it
 *   expired. Nothing runs on its own in between: schedule rotations accordingly.
 *
 * Retirement reconciles against the provider's list rather than trusting one remembered id: any
 * key rotor minted for this secret (named `rotor-<ARN tag>-[<label>-]<uuid>`) or that the secret
 * records as replaced, and that is neither the current key nor a previous key still in grace, is
 * revoked. At the provider's live-key limit, createPending makes room by revoking such keys, the
 * in-grace previous key included (its grace ends early), and never the current key.
 *
 * Whose key is whose is decided by the provider, never by the secret: a key is this secret's when
 * the name the provider lists for it starts with the secret's tag, or when an operator adopted its
 * id for this secret (`request.adopted()`: a hand-made first key, keys minted by versions before
 * the tag). A `keyId` or `previousKeyId` naming a listed key that is not this secret's is refused
 * with ForeignKeyError before anything changes; keys rotor cannot prove are this secret's are never
 * revoked. Keys the secret names but the provider does not list are never acted on either: rotor
 * revokes only ids it has just read from the provider's list.
 *
 * A description that declares `roll` rotates its secrets by regenerating the current key in place
 * instead (strategy `roll-in-place`, strategies/roll.ts): no overlap, no rollback.
 *
 * Layout: the strategy is chosen once per request (strategies/: what differs between minting and
 * rolling); access.ts resolves descriptions and binds admin secrets; keys.ts decides ownership and
 * what is due; probe.ts and preflight.ts are shared by every strategy.
 */
export function createApiKeyRotator(options: ApiKeyRotatorOptions) {
  const access = new ProviderAccess(options);

  return {
    engines: [ENGINE],

    parse({ value, label }) {
      const fields = parseApiKeyFields(value, label);
      const keyCreatedAt = fields.keyCreatedAt === undefined ? undefined : Date.parse(fields.keyCreatedAt);
      const provider = access.resolve(fields.provider, label);
      const checked = checkParameters(provider, fields.parameters);
      if (checked.issue !== undefined) {
        throw new InvalidSecretError(checked.issue.field, checked.issue.expected, label);
      }
      return {
        provider,
        parameters: checked.values,
        adminSecretArn: fields.adminSecretArn,
        // Where the provider's id is the value, rotor knows the key by its fingerprint only.
        keyId: provider.keyInDeleteUrl ? keyFingerprint(fields.apiKey) : fields.keyId,
        apiKey: fields.apiKey,
        grace: gracePolicy(fields.gracePolicy),
        ...(fields.keyNamePrefix === undefined ? {} : { keyNamePrefix: fields.keyNamePrefix }),
        ...(fields.previousKeyId === undefined ? {} : { previousKeyId: fields.previousKeyId }),
        ...(keyCreatedAt === undefined ? {} : { keyCreatedAt }),
      };
    },

    strategy(secret) {
      return strategyFor(secret).name(secret);
    },

    /** A roll in place runs once per stored value: the step machine reads AWSPENDING first. */
    readsPendingFirst(secret) {
      return strategyFor(secret).readsPendingFirst;
    },

    /** Mints a key (strategies/mint.ts) or rolls the current one in place (strategies/roll.ts). */
    async createPending(request) {
      return strategyFor(request.current).createPending(access, request);
    },

    /** Activates a minted key where the provider needs it; nothing for a rolled key. */
    async apply(request) {
      await strategyFor(request.pending).apply(access, request);
    },

    /**
     * Revokes the key `pending` names when it was minted for this rotation (its provider-side name
     * carries this secret's tag and the token): a pending value that will never be promoted, or
     * one that lost the put to another. Never AWSCURRENT's key nor the one it replaced; a listed
     * key that is not this secret's, or not this rotation's, is refused (ForeignKeyError) and left
     * alone. Idempotent: a key already gone, or never listed, is done. Where new keys take a while
     * to be listed (`probe.propagation`), the list is read again within that bound.
     */
    async discard({ current, pending, token, ...request }) {
      const own = ownership(current, request);
      // A rolled value (or one naming AWSCURRENT's keys) has nothing to discard: no admin secret read.
      if (pending.keyId === current.keyId || pending.keyId === current.previousKeyId) return;
      const client = await access.connect(current, request);
      const key = await findListed(access, client, current, pending.keyId, pending.keyCreatedAt, request);
      if (key === undefined) return;
      if (!(await own.owns(key)) || !own.names.mintedFor(key.name, token)) {
        throw new ForeignKeyError(
          `refused to discard keyId of AWSPENDING ${key.id}: the provider lists it under a name that is not this ` +
            `rotation's under this secret's tag "${own.names.prefix}"`,
        );
      }
      await client.revoke(key.id);
    },

    /**
     * Calls the probe with the pending key. Changes nothing (the probe must be a read). A rolled
     * key's failure says that AWSPENDING holds the only value that can work.
     */
    async test({ pending, ...request }) {
      try {
        await probe(access, pending, request, true);
      } catch (error) {
        throw strategyFor(pending).testFailed(error);
      }
      return undefined;
    },

    /**
     * Nothing to put back: a minted key never touched the current one, and a rolled key's old
     * value is gone for good (`not-applicable`: events report no rollback).
     */
    async rollback() {
      return 'not-applicable' as const;
    },

    /**
     * Retires what the grace policy retires, by reconciling the provider's list with the current
     * key and AWSPREVIOUS. Idempotent: a replay finds nothing left to revoke. A key the secret names
     * for retirement that is not this secret's is refused (ForeignKeyError) before anything is revoked.
     */
    async finish({ current, previous, ...request }) {
      const own = ownership(current, request);
      const client = await access.connect(current, request);
      const before = await previous();
      const keys = await client.list();
      // The promoted value's own keys must be this secret's too: a hostile value promoted by hand
      // names another secret's key as its own. Nothing of it would be revoked (the current key is
      // never revoked), but the attempt is refused loudly rather than kept quietly.
      await own.assertOwned(keys, currentClaims(current));
      await revokeAll(client, await retirable(own, keys, current, access.now, before));
    },

    /** Checks the admin credential, the current key, and room for a new key. Changes nothing. */
    async preflight(request) {
      return preflight(access, request);
    },
  } satisfies Rotator<ApiKeySecret>;
}
