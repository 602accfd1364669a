/**
 * Which listed keys are this secret's, and which of them are due: the rules every strategy
 * applies before it revokes, evicts or rolls anything. Whose key is whose is decided by the
 * provider (the name it lists carries the secret's tag) or by an operator (an adopted id), never
 * by what the secret says.
 */
import { ForeignKeyError } from '../errors.js';
import type { RequestBase } from '../types.js';
import type { ProviderAccess } from './access.js';
import type { ListedKey, ProviderClient } from './client.js';
import { type ApiKeySecret, KeyNames } from './secret.js';

/** A key id the secret names, where it names it (for messages). */
export interface Claim {
  readonly id: string | undefined;
  readonly where: string;
}

/** Whether the key `secret` replaced is still within its grace period. */
function previousInGrace(secret: ApiKeySecret, now: () => number): boolean {
  switch (secret.grace.kind) {
    case 'none':
      return false;
    case 'until-next-rotation':
      return true;
    case 'duration':
      return secret.keyCreatedAt === undefined || now() < secret.keyCreatedAt + secret.grace.ms;
  }
}

/**
 * What decides, for one request, whether a listed key is this secret's: its provider-side name
 * carries the secret's tag, or an operator adopted its id (read only when a name does not
 * decide). Throws ForeignKeyError when `keyNamePrefix` claims another secret's tag.
 */
export function ownership(secret: ApiKeySecret, request: Pick<RequestBase, 'secretArn' | 'adopted'>) {
  const names = new KeyNames(request.secretArn, secret.keyNamePrefix);
  let adopted: Promise<ReadonlySet<string>> | undefined;
  return {
    names,
    async owns(key: ListedKey): Promise<boolean> {
      if (names.carriesTag(key.name)) return true;
      adopted ??= request.adopted().then((ids) => new Set(ids));
      return (await adopted).has(key.id);
    },
    /**
     * Refuses (ForeignKeyError, before anything changes) when a key id the secret names is
     * listed by the provider and is not this secret's. Ids the provider does not list are left
     * alone: rotor acts only on listed keys.
     */
    async assertOwned(keys: readonly ListedKey[], claims: readonly Claim[]): Promise<void> {
      const refused: string[] = [];
      for (const { id, where } of claims) {
        const key = id === undefined ? undefined : keys.find((listed) => listed.id === id);
        if (key !== undefined && !(await this.owns(key))) refused.push(`${where} ${key.id}`);
      }
      if (refused.length === 0) return;
      throw new ForeignKeyError(
        `refused to act on ${refused.join(', ')}: the provider's name for ${refused.length === 1 ? 'it' : 'them'} ` +
          `does not start with this secret's tag "${names.prefix}" and no operator adopted ${refused.length === 1 ? 'it' : 'them'} ` +
          "for this secret. rotor revokes only keys it can prove are this secret's; if a key is, adopt it " +
          '(rotor attach <secret> --adopt <key id>); otherwise correct the secret',
      );
    },
  };
}

export type Ownership = ReturnType<typeof ownership>;

/**
 * The listed keys to revoke now: minted by rotor for this secret, or named by the secret as
 * older than `current`; never `current`'s key, nor the key it replaced while that is in grace.
 * `before` is AWSPREVIOUS, when known: its key is the replaced one, its own previous key is two
 * generations old. Refuses (ForeignKeyError) when a key the secret names for retirement is not
 * this secret's, before anything is revoked.
 */
export async function retirable(
  own: Ownership,
  keys: readonly ListedKey[],
  current: ApiKeySecret,
  now: () => number,
  before?: ApiKeySecret,
): Promise<ListedKey[]> {
  const older: Claim[] = [
    { id: current.previousKeyId, where: 'previousKeyId of AWSCURRENT' },
    { id: before?.keyId, where: 'keyId of AWSPREVIOUS' },
    { id: before?.previousKeyId, where: 'previousKeyId of AWSPREVIOUS' },
  ];
  const inGrace = previousInGrace(current, now) ? [current.previousKeyId, before?.keyId] : [];
  const keep = new Set([current.keyId, ...inGrace]);
  const due = older.filter((claim) => claim.id !== undefined && !keep.has(claim.id));
  await own.assertOwned(keys, due);
  const dueIds = new Set(due.map((claim) => claim.id));
  return keys.filter((key) => !keep.has(key.id) && (own.names.minted(key.name) || dueIds.has(key.id)));
}

/** createPending's room at the limit: what may go, oldest first (the current key never). */
export function evictable(own: Ownership, keys: readonly ListedKey[], current: ApiKeySecret): ListedKey[] {
  // `previousKeyId` was proven this secret's before this is called.
  return keys
    .filter(
      (key) => key.id !== current.keyId && (own.names.minted(key.name) || key.id === current.previousKeyId),
    )
    .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
}

/** AWSCURRENT's own keys: proven this secret's before anything is minted or revoked. */
export function currentClaims(current: ApiKeySecret): Claim[] {
  return [
    { id: current.keyId, where: 'keyId of AWSCURRENT' },
    { id: current.previousKeyId, where: 'previousKeyId of AWSCURRENT' },
  ];
}

/**
 * The listed key of id `keyId`, listing again with backoff while the provider may not show a new
 * key yet (`probe.propagation`, within its bound and the deadline); undefined if never listed.
 */
export async function findListed(
  access: Pick<ProviderAccess, 'sleep' | 'now'>,
  client: ProviderClient,
  secret: ApiKeySecret,
  keyId: string,
  /** When the key was minted (epoch ms), if known: past the propagation bound, one list decides. */
  mintedAt: number | undefined,
  request: Pick<RequestBase, 'deadline' | 'signal'>,
): Promise<ListedKey | undefined> {
  const propagation = secret.provider.probe.propagation;
  // `keyCreatedAt` is the secret's writer's to set: one in the future must not stretch the bound.
  const since = mintedAt === undefined ? undefined : Math.min(mintedAt, access.now());
  for (let attempt = 1; ; attempt++) {
    const key = (await client.list()).find((listed) => listed.id === keyId);
    if (key !== undefined || propagation === undefined || since === undefined) return key;
    const wait = Math.min(5_000, propagation.baseDelayMs * 2 ** (attempt - 1));
    if (access.now() + wait > since + propagation.maxWaitMs || Date.now() + wait >= request.deadline) {
      return undefined;
    }
    await access.sleep(wait, request.signal);
  }
}

export async function revokeAll(client: ProviderClient, keys: readonly ListedKey[]): Promise<void> {
  for (const key of keys) await client.revoke(key.id);
}
