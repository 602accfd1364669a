/**
 * How every operation reaches a secret's provider: the function's provider descriptions (compiled
 * once), the description a secret names (a registered name, or an inline description on a host the
 * function allows), and clients for it, the admin credential read only when something the secret's
 * writer cannot change binds it (`connect`).
 */
import { ConfigurationError, InvalidSecretError, MasterBindingError, UnmanagedUserError } from '../errors.js';
import { matchesPattern, namesSecret, refersToSecret } from '../trust.js';
import type { RequestBase } from '../types.js';
import {
  type AdminCredential,
  defaultSleep,
  type Fetch,
  ProviderClient,
  parseAdmin,
  type RateBudget,
  type Sleep,
} from './client.js';
import { compileProvider, type Provider } from './provider.js';
import type { ApiKeySecret } from './secret.js';

export interface ApiKeyRotatorOptions {
  /**
   * Provider descriptions by name: the function's own configuration, validated here. A secret
   * names its provider by `provider`. See provider.ts for the format.
   */
  readonly providers: Readonly<Record<string, unknown>>;
  /**
   * Hosts a description kept inline in a secret may point at: `host` (the scheme's default port
   * only) or `host:port` (that port only). Empty (the default): inline descriptions are refused,
   * so whoever can write a secret cannot send its admin credential or keys to a host of their
   * choosing.
   */
  readonly inlineProviderHosts?: readonly string[];
  /** Defaults to Node's global fetch. */
  readonly fetch?: Fetch;
  /** Waits between retries. Defaults to a timer. */
  readonly sleep?: Sleep;
  /** The clock, epoch milliseconds (grace periods are measured with it). */
  readonly now?: () => number;
}

export class ProviderAccess {
  readonly #providers = new Map<string, Provider>();
  readonly #inlineHosts: ReadonlySet<string>;
  readonly #fetch: Fetch;
  /** Waits between retries. */
  readonly sleep: Sleep;
  /** The clock, epoch milliseconds. */
  readonly now: () => number;
  /** Each provider's rate-limit state, shared by the calls this container makes to it. */
  readonly #budgets = new WeakMap<Provider, RateBudget>();

  constructor(options: ApiKeyRotatorOptions) {
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
      this.#providers.set(name, provider);
    }
    this.#inlineHosts = new Set((options.inlineProviderHosts ?? []).map((host) => host.toLowerCase()));
    this.#fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
  }

  resolve(value: string | Readonly<Record<string, unknown>>, label: string): Provider {
    if (typeof value === 'string') {
      const found = this.#providers.get(value);
      if (found === undefined) {
        const known = [...this.#providers.keys()].join(', ') || 'none';
        throw new InvalidSecretError(
          'provider',
          `must name a provider this function knows (${known})`,
          label,
        );
      }
      return found;
    }
    if (this.#inlineHosts.size === 0) {
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
    if (!inlineHostAllowed(this.#inlineHosts, provider.baseUrl)) {
      throw new InvalidSecretError(
        'provider.baseUrl',
        `must point at a host this function allows for inline descriptions (${[...this.#inlineHosts].join(', ')})`,
        label,
      );
    }
    return provider;
  }

  /** A client for `secret`'s provider. The probe needs no admin credential: it proves the key alone. */
  clientFor(
    secret: ApiKeySecret,
    request: Omit<RequestBase, 'token' | 'step'>,
    admin?: AdminCredential,
  ): ProviderClient {
    const { signal, deadline } = request;
    let budget = this.#budgets.get(secret.provider);
    if (budget === undefined) {
      budget = { notBefore: 0 };
      this.#budgets.set(secret.provider, budget);
    }
    return new ProviderClient(
      secret.provider,
      { fetch: this.#fetch, sleep: this.sleep, signal, deadline, budget },
      admin,
    );
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
  async connect(secret: ApiKeySecret, request: Omit<RequestBase, 'token' | 'step'>) {
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
    return this.clientFor(secret, request, admin);
  }
}

/** A binding field of the admin secret: a string or a list of strings; anything else binds to nothing. */
function boundList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * Whether an inline description's base URL is on an allowed host. An entry with a port
 * (`api.example.com:8443`) admits that port only; an entry without one (`api.example.com`) admits
 * the scheme's default port only (443 for https): a writer cannot reach another service on the
 * same host by picking a port.
 */
function inlineHostAllowed(allowed: ReadonlySet<string>, url: URL): boolean {
  const { hostname, port } = url;
  if (port !== '') return allowed.has(`${hostname}:${port}`);
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  return allowed.has(hostname) || allowed.has(`${hostname}:${defaultPort}`);
}
