import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineExceededError,
  ForeignKeyError,
  InvalidSecretError,
  MasterBindingError,
  ProviderError,
  RotorError,
  UnmanagedUserError,
  VerificationFailedError,
} from '../errors.js';
import { matchesPattern, namesSecret, refersToSecret } from '../trust.js';
import type { PreflightCheck, RequestBase, Rotator } from '../types.js';
import {
  type AdminCredential,
  defaultSleep,
  type Fetch,
  type ListedKey,
  ProviderClient,
  parseAdmin,
  type RateBudget,
  type Sleep,
} from './client.js';
import {
  checkParameters,
  compileProvider,
  keyFingerprint,
  type ParameterValue,
  type Provider,
} from './provider.js';
import { ENGINE, type GracePolicy, gracePolicy, KeyNames, parseApiKeyFields } from './secret.js';

/** An API-key secret, parsed, with its provider description resolved. */
export interface ApiKeySecret {
  readonly provider: Provider;
  readonly adminSecretArn: string;
  readonly keyId: string;
  readonly apiKey: string;
  readonly grace: GracePolicy;
  /**
   * A human-readable label for the keys rotor mints for this secret, added after the tag derived
   * from the secret's ARN (see `KeyNames`); it never replaces the tag.
   */
  readonly keyNamePrefix?: string;
  /** The key this one replaced (written by rotor; trusted only as far as the provider's list proves it). */
  readonly previousKeyId?: string;
  /** When rotor minted this key, epoch milliseconds (written by rotor): the start of the previous key's grace. */
  readonly keyCreatedAt?: number;
  /** The secret's own parameters for its keys, validated against the description's declaration. */
  readonly parameters: Readonly<Record<string, ParameterValue>>;
}

export interface ApiKeyRotatorOptions {
  /**
   * Provider descriptions by name: the function's own configuration, validated here. A secret
   * names its provider by `provider`. See provider.ts for the format.
   */
  readonly providers: Readonly<Record<string, unknown>>;
  /**
   * Host names a description kept inline in a secret may point at. Empty (the default): inline
   * descriptions are refused, so whoever can write a secret cannot send its admin credential or
   * keys to a host of their choosing.
   */
  readonly inlineProviderHosts?: readonly string[];
  /** Defaults to Node's global fetch. */
  readonly fetch?: Fetch;
  /** Waits between retries. Defaults to a timer. */
  readonly sleep?: Sleep;
  /** The clock, epoch milliseconds (grace periods are measured with it). */
  readonly now?: () => number;
}

/** A key id the secret names, where it names it (for messages). */
interface Claim {
  readonly id: string | undefined;
  readonly where: string;
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
 */
export function createApiKeyRotator(options: ApiKeyRotatorOptions) {
  const providers = new Map<string, Provider>();
  for (const [name, raw] of Object.entries(options.providers)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new ConfigurationError(
        `provider name "${name.slice(0, 64)}" must be 1 to 64 letters, digits or ._-`,
      );
    }
    const { provider, issue } = compileProvider(name, raw);
    if (issue !== undefined) {
      throw new ConfigurationError(
        `provider description "${name}": field "${issue.field}" ${issue.expected}`,
      );
    }
    providers.set(name, provider);
  }
  const inlineHosts = new Set((options.inlineProviderHosts ?? []).map((host) => host.toLowerCase()));
  const fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  /** Each provider's rate-limit state, shared by the calls this container makes to it. */
  const budgets = new WeakMap<Provider, RateBudget>();

  function resolveProvider(value: string | Readonly<Record<string, unknown>>, label: string): Provider {
    if (typeof value === 'string') {
      const found = providers.get(value);
      if (found === undefined) {
        const known = [...providers.keys()].join(', ') || 'none';
        throw new InvalidSecretError(
          'provider',
          `must name a provider this function knows (${known})`,
          label,
        );
      }
      return found;
    }
    if (inlineHosts.size === 0) {
      throw new InvalidSecretError(
        'provider',
        'must be a provider name: this function accepts no inline provider description',
        label,
      );
    }
    // Which admin fields are mere identifiers (allowed in URLs and the probe) is the function's
    // decision: a writer declaring the credential "public" would have it put in URLs.
    // Which admin secrets a description pins is the operator's decision too: a writer pinning their
    // own choice would bind any admin secret to their description.
    // Whether a key's value may go in a URL is the operator's trade-off too.
    for (const field of ['publicAdminFields', 'adminSecret', 'adminSecrets', 'manages', 'keyInDeleteUrl']) {
      if (Object.hasOwn(value, field)) {
        throw new InvalidSecretError(
          `provider.${field}`,
          "may only be declared in the function's own provider descriptions",
          label,
        );
      }
    }
    const compiled = compileProvider('inline', value);
    if (compiled.issue !== undefined)
      throw new InvalidSecretError(`provider.${compiled.issue.field}`, compiled.issue.expected, label);
    const { manages: _never, ...inline } = compiled.provider;
    // Named for its host (and port): an admin secret binding itself to `inline:<host>` is sent only
    // with descriptions pointing there, never with every inline description.
    const provider: Provider = { ...inline, name: `inline:${inline.baseUrl.host}`, adminSecrets: [] };
    const { host, hostname } = provider.baseUrl;
    if (!inlineHosts.has(hostname) && !inlineHosts.has(host)) {
      throw new InvalidSecretError(
        'provider.baseUrl',
        `must point at a host this function allows for inline descriptions (${[...inlineHosts].join(', ')})`,
        label,
      );
    }
    return provider;
  }

  /** A client for `secret`'s provider. The probe needs no admin credential: it proves the key alone. */
  function clientFor(
    secret: ApiKeySecret,
    request: Omit<RequestBase, 'token' | 'step'>,
    admin?: AdminCredential,
  ): ProviderClient {
    const { signal, deadline } = request;
    let budget = budgets.get(secret.provider);
    if (budget === undefined) {
      budget = { notBefore: 0 };
      budgets.set(secret.provider, budget);
    }
    return new ProviderClient(secret.provider, { fetch, sleep, signal, deadline, budget }, admin);
  }

  /**
   * A client for management calls, with the admin credential read from `adminSecretArn`. The
   * rotated secret's writer chooses `adminSecretArn`, so the admin secret must be bound by
   * something that writer cannot change, or nothing is read or sent:
   * (a) the provider description (the function's configuration) pins it: `adminSecret` /
   *     `adminSecrets` lists ids, and `adminSecretArn` must name one of them (names, partial and
   *     full ARNs compared the way Secrets Manager resolves them), checked before the admin secret
   *     is read; a pin is never taken from a description kept inline in a secret; or
   * (b) the admin secret binds itself, in its own JSON (written by whoever holds the provider
   *     account): `provider` (a name or list of names) to the descriptions its credential may be
   *     sent with, and `manages` (ARN patterns, `*` and `?`) to the rotated secrets that may use it.
   *     A self-binding needs both.
   * A description's own `manages` (ARN patterns) limits which rotated secrets may name it at all,
   * checked first: a pin alone lets any secret naming the description use its admin secret.
   * Whichever binds it, fields the admin secret declares are enforced too. A refusal is a
   * MasterBindingError (UnmanagedUserError for a `manages` that excludes this secret).
   */
  async function connect(secret: ApiKeySecret, request: Omit<RequestBase, 'token' | 'step'>) {
    const { provider, adminSecretArn } = secret;
    if (
      provider.manages !== undefined &&
      !provider.manages.some((pattern) => matchesPattern(request.secretArn, pattern))
    ) {
      throw new UnmanagedUserError(
        `provider description "${provider.name}" serves other secrets (its "manages" patterns do not match this ` +
          "secret's ARN): no admin secret is read or used for this secret through it",
      );
    }
    const pins = provider.adminSecrets;
    const pinned = pins.length > 0;
    if (pinned && !pins.some((pin) => refersToSecret(adminSecretArn, pin, request.secretArn))) {
      throw new MasterBindingError(
        `the admin secret ${adminSecretArn} is not one that provider description "${provider.name}" pins ` +
          `(adminSecret: ${pins.join(', ')}): its credential is never read for this secret`,
      );
    }
    let text: string;
    if (pinned && request.fetchRelatedSecret !== undefined) {
      // The id as written passed; the secret Secrets Manager resolved it to must be a pinned one too
      // (a full-ARN-looking id can be the partial ARN of another secret whose name ends in 6 characters).
      const read = await request.fetchRelatedSecret(adminSecretArn);
      if (!pins.some((pin) => namesSecret(pin, read, request.secretArn))) {
        throw new MasterBindingError(
          `the admin secret ${adminSecretArn} resolved to ${read.arn}, which provider description "${provider.name}" ` +
            'does not pin (adminSecret): its credential is never sent for this secret',
        );
      }
      text = read.value;
    } else text = await request.fetchRelated(adminSecretArn);
    const admin = parseAdmin(text);
    const bound = typeof admin === 'object' ? boundList(admin.provider) : undefined;
    const manages = typeof admin === 'object' ? boundList(admin.manages) : undefined;
    if (!pinned && (bound === undefined || manages === undefined)) {
      throw new MasterBindingError(
        `admin secret ${adminSecretArn} is bound neither by provider description "${provider.name}" (adminSecret) ` +
          'nor by its own provider and manages fields: rotor sends its credential nowhere until an operator pins it ' +
          "in the function's provider description or the admin secret names both",
      );
    }
    if (bound !== undefined && !bound.includes(provider.name)) {
      throw new MasterBindingError(
        `the admin secret ${adminSecretArn} is bound to provider ${bound.map((p) => `"${p}"`).join(', ')} ` +
          `and this secret names provider "${provider.name}": its credential is never sent elsewhere`,
      );
    }
    if (manages !== undefined && !manages.some((pattern) => matchesPattern(request.secretArn, pattern))) {
      throw new UnmanagedUserError(
        `the admin secret ${adminSecretArn} manages keys for other secrets (its "manages" patterns do not match this secret's ARN)`,
      );
    }
    return clientFor(secret, request, admin);
  }

  /** A binding field of the admin secret: a string or a list of strings; anything else binds to nothing. */
  function boundList(value: unknown): string[] | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string') return [value];
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  }

  /** Whether the key `secret` replaced is still within its grace period. */
  function previousInGrace(secret: ApiKeySecret): boolean {
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
  function ownership(secret: ApiKeySecret, request: Pick<RequestBase, 'secretArn' | 'adopted'>) {
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

  type Ownership = ReturnType<typeof ownership>;

  /**
   * The listed keys to revoke now: minted by rotor for this secret, or named by the secret as
   * older than `current`; never `current`'s key, nor the key it replaced while that is in grace.
   * `before` is AWSPREVIOUS, when known: its key is the replaced one, its own previous key is two
   * generations old. Refuses (ForeignKeyError) when a key the secret names for retirement is not
   * this secret's, before anything is revoked.
   */
  async function retirable(
    own: Ownership,
    keys: readonly ListedKey[],
    current: ApiKeySecret,
    before?: ApiKeySecret,
  ): Promise<ListedKey[]> {
    const older: Claim[] = [
      { id: current.previousKeyId, where: 'previousKeyId of AWSCURRENT' },
      { id: before?.keyId, where: 'keyId of AWSPREVIOUS' },
      { id: before?.previousKeyId, where: 'previousKeyId of AWSPREVIOUS' },
    ];
    const inGrace = previousInGrace(current) ? [current.previousKeyId, before?.keyId] : [];
    const keep = new Set([current.keyId, ...inGrace]);
    const due = older.filter((claim) => claim.id !== undefined && !keep.has(claim.id));
    await own.assertOwned(keys, due);
    const dueIds = new Set(due.map((claim) => claim.id));
    return keys.filter((key) => !keep.has(key.id) && (own.names.minted(key.name) || dueIds.has(key.id)));
  }

  /** createPending's room at the limit: what may go, oldest first (the current key never). */
  function evictable(own: Ownership, keys: readonly ListedKey[], current: ApiKeySecret): ListedKey[] {
    // `previousKeyId` was proven this secret's before this is called.
    return keys
      .filter(
        (key) => key.id !== current.keyId && (own.names.minted(key.name) || key.id === current.previousKeyId),
      )
      .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
  }

  /** AWSCURRENT's own keys: proven this secret's before anything is minted or revoked. */
  function currentClaims(current: ApiKeySecret): Claim[] {
    return [
      { id: current.keyId, where: 'keyId of AWSCURRENT' },
      { id: current.previousKeyId, where: 'previousKeyId of AWSCURRENT' },
    ];
  }

  /**
   * The listed key of id `keyId`, listing again with backoff while the provider may not show a new
   * key yet (`probe.propagation`, within its bound and the deadline); undefined if never listed.
   */
  async function findListed(
    client: ProviderClient,
    secret: ApiKeySecret,
    keyId: string,
    /** When the key was minted (epoch ms), if known: past the propagation bound, one list decides. */
    mintedAt: number | undefined,
    request: Pick<RequestBase, 'deadline' | 'signal'>,
  ): Promise<ListedKey | undefined> {
    const propagation = secret.provider.probe.propagation;
    for (let attempt = 1; ; attempt++) {
      const key = (await client.list()).find((listed) => listed.id === keyId);
      if (key !== undefined || propagation === undefined || mintedAt === undefined) return key;
      const wait = Math.min(5_000, propagation.baseDelayMs * 2 ** (attempt - 1));
      if (now() + wait > mintedAt + propagation.maxWaitMs || Date.now() + wait >= request.deadline) {
        return undefined;
      }
      await sleep(wait, request.signal);
    }
  }

  async function revokeAll(client: ProviderClient, keys: readonly ListedKey[]): Promise<void> {
    for (const key of keys) await client.revoke(key.id);
  }

  /**
   * Proves `secret`'s key works with the provider's probe, or throws a typed error. With
   * `waitForPropagation` (testSecret, for a key just minted) and a description that declares
   * propagation, a "not yet" answer is asked again with backoff within the declared bound and the
   * step's deadline: after the bound it is a refusal; cut short by the deadline, a retryable
   * DeadlineExceededError (Secrets Manager runs testSecret again, with the same key).
   */
  async function probe(
    secret: ApiKeySecret,
    request: Omit<RequestBase, 'token' | 'step'>,
    waitForPropagation = false,
    /** A management client already connected for `secret` in this step: its admin secret is not read again. */
    connected?: Promise<ProviderClient>,
  ): Promise<void> {
    // The admin secret is read only for its public identifiers (an application id, say): the
    // client never sends its credential fields with a probe.
    const client =
      secret.provider.publicAdminFields.size > 0
        ? await (connected ?? connect(secret, request))
        : clientFor(secret, request);
    const { expectStatus, propagation } = secret.provider.probe;
    // Counted in waits asked for, not by a clock: the bound holds however long each probe takes.
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const status = await client.probe(secret.apiKey, secret.keyId);
      if (expectStatus.includes(status)) return;
      if (waitForPropagation && propagation?.notYetStatuses.includes(status)) {
        const wait = Math.min(5_000, propagation.baseDelayMs * 2 ** (attempt - 1));
        if (waited + wait <= propagation.maxWaitMs) {
          if (Date.now() + wait >= request.deadline) {
            throw new DeadlineExceededError(
              `${client.target} probe: the new key is not live yet (HTTP ${status}) and the step has no time left to wait for it`,
            );
          }
          try {
            await sleep(wait, request.signal);
          } catch {
            throw new DeadlineExceededError(
              `${client.target} probe: ran out of time waiting for the new key`,
            );
          }
          waited += wait;
          continue;
        }
      }
      if (status === 401 || status === 403) {
        const after =
          waitForPropagation && propagation !== undefined
            ? ` after waiting ${waited} ms for it to propagate`
            : '';
        throw new AuthenticationFailedError(
          `${client.target} probe: the key was refused (HTTP ${status})${after}`,
        );
      }
      if (status === 429 || status >= 500) {
        throw new ProviderError(`${client.target} probe: HTTP ${status}`, status, { retryable: true });
      }
      throw new VerificationFailedError(
        `${client.target} probe: HTTP ${status} with the key, expected ${expectStatus.join(' or ')}`,
      );
    }
  }

  return {
    engines: [ENGINE],

    parse({ value, label }) {
      const fields = parseApiKeyFields(value, label);
      const keyCreatedAt = fields.keyCreatedAt === undefined ? undefined : Date.parse(fields.keyCreatedAt);
      const provider = resolveProvider(fields.provider, label);
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
      return {
        none: 'revoke-at-finish',
        'until-next-rotation': 'keep-until-next-rotation',
        duration: 'keep-for-duration',
      }[secret.grace.kind];
    },

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
    async createPending({ current, currentValue, token, nothingStored, ...request }) {
      const own = ownership(current, request);
      const client = await connect(current, request);
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
          ...(await retirable(own, keys, current)),
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
              keyCreatedAt: new Date(now()).toISOString(),
            },
          };
        } catch (error) {
          const unknownOutcome =
            error instanceof RotorError && error.retryable && !(error instanceof DeadlineExceededError);
          if (!unknownOutcome || attempt >= 2) throw error;
        }
      }
    },

    /**
     * Activates the pending key when the provider needs it; otherwise nothing. The current key
     * stays valid either way. Activating an active key must be accepted by the provider
     * (`activate.okStatuses`), which makes a replay harmless. Only the key the provider lists as
     * minted for this secret in this rotation is activated (ForeignKeyError otherwise): a pending
     * value naming another key cannot switch that key on.
     */
    async apply({ pending, current, token, ...request }) {
      const own = ownership(pending, request);
      const client = await connect(pending, request);
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
      const client = await connect(current, request);
      if (pending.keyId === current.keyId || pending.keyId === current.previousKeyId) return;
      const key = await findListed(client, current, pending.keyId, pending.keyCreatedAt, request);
      if (key === undefined) return;
      if (!(await own.owns(key)) || !own.names.mintedFor(key.name, token)) {
        throw new ForeignKeyError(
          `refused to discard keyId of AWSPENDING ${key.id}: the provider lists it under a name that is not this ` +
            `rotation's under this secret's tag "${own.names.prefix}"`,
        );
      }
      await client.revoke(key.id);
    },

    /** Calls the probe with the pending key. Changes nothing (the probe must be a read). */
    async test({ pending, ...request }) {
      await probe(pending, request, true);
      return undefined;
    },

    /**
     * Retires what the grace policy retires, by reconciling the provider's list with the current
     * key and AWSPREVIOUS. Idempotent: a replay finds nothing left to revoke. A key the secret names
     * for retirement that is not this secret's is refused (ForeignKeyError) before anything is revoked.
     */
    async finish({ current, previous, ...request }) {
      const own = ownership(current, request);
      const client = await connect(current, request);
      const before = await previous();
      const keys = await client.list();
      // The promoted value's own keys must be this secret's too: a hostile value promoted by hand
      // names another secret's key as its own. Nothing of it would be revoked (the current key is
      // never revoked), but the attempt is refused loudly rather than kept quietly.
      await own.assertOwned(keys, currentClaims(current));
      await revokeAll(client, await retirable(own, keys, current, before));
    },

    /** Checks the admin credential, the current key, and room for a new key. Changes nothing. */
    async preflight({ current, ...request }) {
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
      const connected = connect(current, request);
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
      await check(
        'admin credential lists keys',
        'check adminSecretArn and the admin credential',
        async () => {
          const all = await (await connected).list();
          keys = all;
          return `${all.length} live keys at ${current.provider.name}`;
        },
      );
      await check('current key passes the probe', 'check keyId and apiKey in AWSCURRENT', async () => {
        await probe(current, request, false, connected);
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
      await check('room for a new key', 'revoke a key by hand or raise maxLiveKeys', async () => {
        const all = listed();
        const room = own === undefined ? [] : evictable(own, all, current);
        const free = current.provider.maxLiveKeys - all.length + room.length;
        if (free < 1)
          throw new ProviderError(`no room: ${all.length} of ${current.provider.maxLiveKeys} live keys`);
        return `${all.length} of ${current.provider.maxLiveKeys} live keys`;
      });
      return checks;
    },
  } satisfies Rotator<ApiKeySecret>;
}
