/**
 * The API-key engine's "driver": HTTP calls to a provider, as its description says.
 *
 * The only file that calls `fetch` (Node's global, no dependency). It adds the management
 * credential, encodes bodies (JSON or form), follows a list's pages (on the provider's origin only)
 * and refuses an incomplete list, retries what is safe to send again, honours `Retry-After` and
 * rate-limit headers, never follows redirects and stays within the step's deadline. Response
 * bodies are never quoted in errors: a provider may echo a key in them.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AuthenticationFailedError,
  ConfigurationError,
  DeadlineExceededError,
  PermissionDeniedError,
  ProviderError,
  type RotorError,
  safeCause,
  TargetUnreachableError,
} from '../errors.js';
import { classifyNetworkError } from '../network.js';
import {
  type Json,
  keyFingerprint,
  MissingValueError,
  type Provider,
  type RequestTemplate,
  readPath,
  render,
  renderJson,
  requestUrl,
  type TemplateValues,
} from './provider.js';

/** The slice of `fetch` this client needs; Node's global `fetch` fits it. */
export type Fetch = (url: string, init: FetchInit) => Promise<FetchResponse>;

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** Always `manual`: a credential must never follow a redirect to another location. */
  redirect: 'manual';
}

export interface FetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** Waits `ms`, or rejects when `signal` aborts. Injectable so tests can see the waits. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export const defaultSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, { signal });
};

/** The admin credential: a bare string, or the fields of a JSON object. */
export type AdminCredential = string | Readonly<Record<string, unknown>>;

/** Reads the admin secret: a JSON object's fields, or the whole string when it is not one. */
export function parseAdmin(text: string): AdminCredential {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {}
  return text;
}

/** A key as the provider lists it: never its value. */
export interface ListedKey {
  readonly id: string;
  readonly name?: string;
  /** Epoch milliseconds, when the provider says. */
  readonly createdAt?: number;
}

export interface ClientOptions {
  readonly fetch: Fetch;
  readonly sleep: Sleep;
  readonly signal: AbortSignal;
  /** Epoch milliseconds by which every call must have returned. */
  readonly deadline: number;
  /**
   * The provider's rate-limit state, shared by every client of one provider in this container:
   * epoch milliseconds before which no request goes (the provider said its budget is spent).
   */
  readonly budget?: RateBudget;
}

export interface RateBudget {
  notBefore: number;
}

/** Statuses worth another try: the provider did not handle the request, or failed doing it. */
const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);
const MAX_BODY = 1 << 20;
const MAX_BACKOFF_MS = 5_000;

type Operation = 'create' | 'list' | 'revoke' | 'activate' | 'roll' | 'probe';

interface Exchange {
  readonly status: number;
  readonly body: unknown;
  readonly headers: { get(name: string): string | null };
}

export class ProviderClient {
  readonly #budget: RateBudget;
  /**
   * For a provider whose key id is the key's value (`keyInDeleteUrl`): the values of the keys
   * listed or minted by this client, by fingerprint. Read only to render a revoke's path.
   */
  readonly #byFingerprint = new Map<string, string>();

  constructor(
    private readonly provider: Provider,
    private readonly options: ClientOptions,
    /** The management credential; absent for a client that only probes. */
    private readonly admin?: AdminCredential,
  ) {
    this.#budget = options.budget ?? { notBefore: 0 };
  }

  /**
   * Every live key, as listed by the provider, following its pages. A list that says it has more
   * than was read (a `total` above the count, `hasMore` still set, a next link nobody declared how
   * to follow, more pages than `maxPages`) fails with a ProviderError: rotor never reconciles
   * against part of a list, which would leave keys live while reporting success.
   */
  async list(): Promise<ListedKey[]> {
    const { list } = this.provider;
    const pagination = list.pagination;
    const keys = new Map<string, ListedKey>();
    const seen = new Set<string>();
    let url: URL | undefined;
    if (pagination?.style === 'page') {
      url = this.#withQuery(this.#url('list', list, {}), {
        [pagination.pageParam]: String(pagination.firstPage),
        ...(pagination.sizeParam === undefined ? {} : { [pagination.sizeParam]: String(pagination.size) }),
      });
    }
    for (let page = 1; ; page++) {
      const exchange = await this.#send('list', list, {}, {}, url);
      this.#expect('list', exchange.status, [200]);
      const items = this.#items(exchange.body);
      for (const key of items) keys.set(key.id, key);
      const next = this.#nextPage(exchange, items.length, url ?? this.#url('list', list, {}));
      // A page that adds nothing new would loop: the provider ignores the page parameter.
      if (next !== undefined && items.length > 0 && items.every((key) => seen.has(key.id))) {
        throw this.#truncated('a page repeated the previous one; the provider ignores the page parameter');
      }
      for (const key of items) seen.add(key.id);
      if (next === undefined) {
        this.#checkComplete(exchange, keys.size);
        return [...keys.values()];
      }
      if (page >= (pagination?.maxPages ?? 1)) {
        throw this.#truncated(`more than ${pagination?.maxPages ?? 1} pages (list.pagination.maxPages)`);
      }
      url = next;
    }
  }

  #items(body: unknown): ListedKey[] {
    const paths = this.provider.list.response;
    const items = readPath(body, paths.items);
    if (!Array.isArray(items))
      throw this.#shape('list', `no array at list.response.items ("${paths.items}")`);
    return items.map((item: unknown) => {
      const id = this.#idOf(scalar(readPath(item, paths.id)));
      if (id === undefined)
        throw this.#shape('list', `an item has no id at list.response.id ("${paths.id}")`);
      const name = scalar(readPath(item, paths.name));
      const createdAt =
        paths.createdAt === undefined ? undefined : timestamp(readPath(item, paths.createdAt));
      return {
        id,
        ...(name === undefined ? {} : { name }),
        ...(createdAt === undefined ? {} : { createdAt }),
      };
    });
  }

  /** A provider's key id as rotor names it: a fingerprint when the id is the key's value. */
  #idOf(id: string | undefined): string | undefined {
    if (id === undefined || !this.provider.keyInDeleteUrl) return id;
    const fingerprint = keyFingerprint(id);
    this.#byFingerprint.set(fingerprint, id);
    return fingerprint;
  }

  /** The next page's URL, or undefined on the last page. Throws when there is more that cannot be followed. */
  #nextPage(exchange: Exchange, count: number, current: URL): URL | undefined {
    const pagination = this.provider.list.pagination;
    const linkNext = nextLink(exchange.headers.get('link'));
    if (pagination === undefined) return undefined;
    switch (pagination.style) {
      case 'page': {
        if (count < pagination.size || count === 0) return undefined;
        const number = Number(current.searchParams.get(pagination.pageParam) ?? pagination.firstPage);
        return this.#withQuery(current, { [pagination.pageParam]: String(number + 1) });
      }
      case 'cursor': {
        const cursor = scalar(readPath(exchange.body, pagination.next));
        return cursor === undefined ? undefined : this.#withQuery(current, { [pagination.param]: cursor });
      }
      case 'next-link': {
        const link = scalar(readPath(exchange.body, pagination.next));
        return link === undefined ? undefined : this.#follow(link);
      }
      case 'link-header':
        return linkNext === undefined ? undefined : this.#follow(linkNext);
    }
  }

  /**
   * After the last page: the provider's own count and flags must agree that nothing is left, those
   * the description declares and those providers commonly send (a next link, a cursor, a total).
   */
  #checkComplete(exchange: Exchange, count: number): void {
    const { total, hasMore } = this.provider.list.response;
    const how =
      this.provider.list.pagination === undefined
        ? ', and the description does not say how to follow it (list.pagination)'
        : '';
    if (
      this.provider.list.pagination?.style !== 'link-header' &&
      nextLink(exchange.headers.get('link')) !== undefined
    ) {
      throw this.#truncated(`a Link header with rel="next" on the last page read${how}`);
    }
    if (total !== undefined) {
      const announced = Number(scalar(readPath(exchange.body, total)));
      if (Number.isFinite(announced) && announced > count) {
        throw this.#truncated(
          `the provider counts ${announced} keys (list.response.total) and ${count} were listed`,
        );
      }
    }
    if (hasMore !== undefined && readPath(exchange.body, hasMore) === true) {
      throw this.#truncated('the last page followed still says more follow (list.response.hasMore)');
    }
    const signal = undeclaredMore(exchange.body, count);
    if (signal !== undefined) throw this.#truncated(`${signal}${how}`);
  }

  /** A next link, resolved against the provider: on its origin and under its base path, or refused. */
  #follow(link: string): URL {
    const base = this.provider.baseUrl;
    const basePath = base.pathname.replace(/\/+$/, '');
    let url: URL;
    try {
      url = new URL(link, base.origin);
    } catch {
      throw this.#truncated('a next link that is not a URL');
    }
    if (
      url.origin !== base.origin ||
      !url.pathname.startsWith(`${basePath}/`) ||
      url.username ||
      url.password
    ) {
      throw new ProviderError(
        `${this.target} list: a next-page link points away from the provider's base URL; rotor never sends the admin credential there`,
      );
    }
    url.hash = '';
    return url;
  }

  #withQuery(url: URL, params: Record<string, string>): URL {
    const next = new URL(url.href);
    for (const [name, value] of Object.entries(params)) next.searchParams.set(name, value);
    return next;
  }

  #url(operation: Operation, template: RequestTemplate, values: TemplateValues): URL {
    const url = requestUrl(this.provider, template, this.#values(operation, values));
    if (url === undefined) {
      throw new ProviderError(
        `${this.target} ${operation}: a key id would take the request outside the base URL`,
      );
    }
    return url;
  }

  #truncated(detail: string): ProviderError {
    return new ProviderError(
      `${this.target} list: the list of keys is incomplete (${detail}); rotor reconciles only against a complete list`,
    );
  }

  /**
   * Mints a key named `name`. Sent once unless the provider takes an idempotency key, since a
   * create resent after a lost response makes a second key. The caller recovers a lost one by name.
   */
  async create(
    name: string,
    token: string,
    params: TemplateValues['params'] = {},
  ): Promise<{ id: string; key: string }> {
    const { idempotencyKeyHeader, response } = this.provider.create;
    // One idempotency key per mint: a later mint for the same token must make a new key, not
    // replay one whose value was lost.
    const extra = idempotencyKeyHeader === undefined ? {} : { [idempotencyKeyHeader]: randomUUID() };
    const { status, body } = await this.#send('create', this.provider.create, { token, name, params }, extra);
    this.#expect('create', status, [200, 201, 202]);
    const key = readPath(body, response.key);
    const id = this.#idOf(
      this.provider.keyInDeleteUrl && typeof key === 'string' && key !== ''
        ? key
        : scalar(readPath(body, response.id)),
    );
    if (id === undefined) throw this.#shape('create', `no key id at create.response.id ("${response.id}")`);
    if (typeof key !== 'string' || key === '') {
      // A key whose value cannot be read is of no use to anyone: retire it now rather than leak it.
      await this.revoke(id);
      throw this.#shape(
        'create',
        `no key value at create.response.key ("${response.key}"); the key was revoked`,
      );
    }
    return { id, key };
  }

  /** Revokes a key. A key already gone (404, 410 by default) counts as revoked. */
  async revoke(keyId: string): Promise<void> {
    let id = keyId;
    if (this.provider.keyInDeleteUrl) {
      // Only a key this client listed or minted can be revoked: its value is known by fingerprint.
      const value = this.#byFingerprint.get(keyId);
      if (value === undefined) {
        throw new ProviderError(`${this.target} revoke: key ${keyId} was not listed by this client`);
      }
      id = value;
    }
    const { status } = await this.#send('revoke', this.provider.revoke, { keyId: id });
    this.#expect('revoke', status, this.provider.revoke.okStatuses);
  }

  /** Activates a minted key, for providers that need it. */
  async activate(keyId: string): Promise<void> {
    const activate = this.provider.activate;
    if (activate === undefined) return;
    const { status } = await this.#send('activate', activate, { keyId });
    this.#expect('activate', status, activate.okStatuses);
  }

  /**
   * Regenerates key `keyId`'s value in place (`roll`) and returns the new value: from this moment
   * the old value is refused. Sent once, never resent (the request is not idempotent): after a
   * lost response the value is lost, and only another roll makes a usable one.
   */
  async roll(keyId: string): Promise<string> {
    const roll = this.provider.roll;
    if (roll === undefined) throw new ConfigurationError(`${this.target} has no roll request`);
    const { status, body } = await this.#send('roll', roll, { keyId });
    this.#expect('roll', status, [200, 201]);
    const key = readPath(body, roll.response.key);
    if (typeof key !== 'string' || key === '') {
      throw this.#shape('roll', `no key value at roll.response.key ("${roll.response.key}")`);
    }
    return key;
  }

  /** Calls the probe with `key` and returns the HTTP status; interpreting it is the caller's job. */
  async probe(key: string, keyId: string): Promise<number> {
    const { status } = await this.#send('probe', this.provider.probe, { key, keyId });
    return status;
  }

  /** What to call the provider in messages: its name and host, never a path or a value. */
  get target(): string {
    return `provider "${this.provider.name}" (${this.provider.baseUrl.host})`;
  }

  #expect(operation: Operation, status: number, ok: readonly number[]): void {
    if (ok.includes(status)) return;
    const what = `${this.target} ${operation}`;
    // The probe authenticates with the key, every other call with the admin credential.
    if (status === 401) {
      throw new AuthenticationFailedError(`${what}: the admin credential was refused (HTTP 401)`);
    }
    if (status === 403) {
      throw new PermissionDeniedError(`${what}: the admin credential lacks the permission (HTTP 403)`);
    }
    if (status >= 300 && status < 400) {
      throw new ProviderError(
        `${what}: answered with a redirect (HTTP ${status}), which rotor never follows with credentials; fix baseUrl`,
        status,
      );
    }
    throw new ProviderError(`${what}: HTTP ${status}`, status, { retryable: TRANSIENT.has(status) });
  }

  /** A template names a value nobody provided: the admin secret lacks a field, most likely. */
  #missing(operation: Operation, variable: string): ConfigurationError {
    const where = `${this.target} ${operation}`;
    if (variable === 'admin') {
      return new ConfigurationError(
        `${where}: the admin secret (adminSecretArn) must be a bare string for {{admin}}`,
      );
    }
    if (variable.startsWith('admin.')) {
      const field = variable.slice('admin.'.length);
      return new ConfigurationError(
        `${where}: the admin secret (adminSecretArn) has no non-empty field "${field}" for {{${variable}}}`,
      );
    }
    return new ConfigurationError(`${where}: no value for {{${variable}}}`);
  }

  #shape(operation: Operation, detail: string): ProviderError {
    return new ProviderError(
      `${this.target} ${operation}: the response does not match the description: ${detail}`,
    );
  }

  /** Renders and sends one request, retrying what is safe to retry. */
  async #send(
    operation: Operation,
    template: RequestTemplate,
    values: TemplateValues,
    extraHeaders: Record<string, string> = {},
    /** A URL already built (a list's next page); otherwise the template's. */
    at?: URL,
  ): Promise<Exchange> {
    const { provider, options } = this;
    const withAdmin = this.#values(operation, values);
    let url: URL;
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    try {
      // Key ids come from the provider: one that would resolve as `..` is refused, not followed.
      url = at ?? this.#url(operation, template, values);
      if (operation !== 'probe') {
        headers[provider.auth.header.toLowerCase()] = render(provider.auth.value, withAdmin);
      }
      for (const [name, value] of Object.entries(template.headers))
        headers[name.toLowerCase()] = render(value, withAdmin);
      if (template.body !== undefined) {
        const rendered = renderJson(template.body as Json, withAdmin);
        if (template.encoding === 'form') {
          body = formBody(rendered);
          headers['content-type'] ??= 'application/x-www-form-urlencoded';
        } else {
          body = JSON.stringify(rendered);
          headers['content-type'] ??= 'application/json';
        }
      }
    } catch (error) {
      if (error instanceof MissingValueError) throw this.#missing(operation, error.variable);
      throw error;
    }
    for (const [name, value] of Object.entries(extraHeaders)) headers[name.toLowerCase()] = value;
    if (Object.values(headers).some((value) => /[\r\n\0]/.test(value))) {
      throw new ConfigurationError(
        `${this.target} ${operation}: a rendered header value contains a line break`,
      );
    }
    // A 429 says the request was not handled, so even a create may be sent again after it.
    const mayRetry = (status: number) => status === 429 || (template.idempotent && TRANSIENT.has(status));

    for (let attempt = 1; ; attempt++) {
      await this.#waitForBudget(operation);
      let exchange: (Exchange & { retryAfterMs?: number }) | undefined;
      let failure: RotorError | undefined;
      try {
        exchange = await this.#once(operation, url, template.method, headers, body);
      } catch (error) {
        failure = error as RotorError;
      }
      const retry =
        exchange !== undefined
          ? mayRetry(exchange.status)
          : template.idempotent && failure?.retryable === true && !(failure instanceof DeadlineExceededError);
      const wait = exchange?.retryAfterMs ?? this.#backoff(attempt);
      // Give up when out of attempts, or when the wait would end past the deadline.
      if (!retry || attempt >= provider.retry.attempts || Date.now() + wait >= options.deadline) {
        if (exchange !== undefined) return exchange;
        throw failure;
      }
      try {
        await options.sleep(wait, options.signal);
      } catch {
        throw new DeadlineExceededError(
          `${this.target} ${operation}: ran out of time while waiting to retry`,
        );
      }
    }
  }

  /**
   * Waits until the rate-limit window the provider announced (`X-RateLimit-Remaining: 0` with a
   * reset) has passed, or fails at once with a retryable error when it ends past the deadline.
   */
  async #waitForBudget(operation: Operation): Promise<void> {
    const wait = this.#budget.notBefore - Date.now();
    if (wait <= 0) return;
    if (Date.now() + wait >= this.options.deadline) {
      throw new ProviderError(
        `${this.target} ${operation}: the provider's rate limit is spent until after the Lambda deadline`,
        429,
        { retryable: true },
      );
    }
    try {
      await this.options.sleep(wait, this.options.signal);
    } catch {
      throw new DeadlineExceededError(
        `${this.target} ${operation}: ran out of time while waiting for the rate limit`,
      );
    }
    if (this.#budget.notBefore <= Date.now()) this.#budget.notBefore = 0;
  }

  /**
   * The values a request is rendered with. The probe proves the key alone: the admin credential
   * never goes with it, only the fields the description declares public (identifiers).
   */
  #values(operation: Operation, values: TemplateValues): TemplateValues {
    const { admin } = this;
    if (admin === undefined) return values;
    if (operation !== 'probe') return { ...values, admin };
    if (typeof admin === 'string') return values;
    const identifiers = Object.entries(admin).filter(([field]) => this.provider.publicAdminFields.has(field));
    return { ...values, admin: Object.fromEntries(identifiers) };
  }

  /** Half the exponential bound plus a random half, so that many Lambdas do not retry in step. */
  #backoff(attempt: number): number {
    const bound = Math.min(MAX_BACKOFF_MS, this.provider.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.ceil(bound / 2 + (Math.random() * bound) / 2);
  }

  async #once(
    operation: Operation,
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Exchange & { retryAfterMs?: number }> {
    const { options, provider } = this;
    const remaining = options.deadline - Date.now();
    if (remaining <= 0 || options.signal.aborted) {
      throw new DeadlineExceededError(`${this.target} ${operation}: no time left before the Lambda deadline`);
    }
    // When the deadline is nearer than the request timeout, a timeout is the deadline itself.
    const deadlineBound = remaining <= provider.timeoutMs;
    const timeout = AbortSignal.timeout(Math.min(provider.timeoutMs, remaining));
    const signal = AbortSignal.any([options.signal, timeout]);
    try {
      const response = await options.fetch(url.href, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal,
        redirect: 'manual',
      });
      const text = await readBody(response);
      if (text === undefined) {
        throw new ProviderError(`${this.target} ${operation}: response body larger than ${MAX_BODY} bytes`);
      }
      const limits = rateLimit(response.headers);
      // The budget is spent: the next call waits for the window to reset (within the deadline).
      if (limits.remaining === 0 && limits.resetMs !== undefined) {
        this.#budget.notBefore = Date.now() + limits.resetMs;
      }
      const retryAfterMs =
        retryAfter(response.headers.get('retry-after')) ??
        (response.status === 429 ? limits.resetMs : undefined);
      return {
        status: response.status,
        body: parseJson(text),
        headers: response.headers,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      const target = `${this.target} ${operation}`;
      if (options.signal.aborted || (timeout.aborted && deadlineBound)) {
        throw new DeadlineExceededError(`${target}: no answer before the Lambda deadline`);
      }
      if (timeout.aborted) {
        throw new TargetUnreachableError('timeout', `${target}: no answer within ${provider.timeoutMs} ms`);
      }
      // fetch reports every network failure as `TypeError: fetch failed` with the reason as cause.
      const reason = error instanceof TypeError && error.cause !== undefined ? error.cause : error;
      const cause = safeCause(reason);
      throw (
        classifyNetworkError(reason, target) ??
        new TargetUnreachableError(
          'network',
          `${target}: network error (${'code' in cause && cause.code !== undefined ? cause.code : cause.name})`,
          { cause },
        )
      );
    }
  }
}

async function readBody(response: FetchResponse): Promise<string | undefined> {
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_BODY) return undefined;
  const text = await response.text();
  return text.length > MAX_BODY ? undefined : text;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A creation time in ISO 8601, epoch seconds or epoch milliseconds. */
function timestamp(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** A flat object as `application/x-www-form-urlencoded`; lists repeat their field. */
function formBody(body: Json): string {
  const form = new URLSearchParams();
  for (const [field, value] of Object.entries(body as Record<string, Json>)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(field, String(item));
  }
  return form.toString();
}

/** The `rel="next"` target of a `Link` header (RFC 8288), if any. */
export function nextLink(header: string | null): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match === null) continue;
    const rels =
      /;\s*rel\s*=\s*"?([^";]*)"?/i
        .exec(match[2] as string)?.[1]
        ?.toLowerCase()
        .split(/\s+/) ?? [];
    if (rels.includes('next')) return match[1];
  }
  return undefined;
}

/**
 * Signs of more pages that providers commonly put in a list's body, checked on the last page read
 * (`count` is every key listed so far): a list that still announces more is incomplete.
 */
function undeclaredMore(body: unknown, count: number): string | undefined {
  const present = (path: string) => {
    const value = readPath(body, path);
    return (typeof value === 'string' && value !== '') || (typeof value === 'number' && value > 0);
  };
  // A bare `next` counts only as a link (a path or URL): other providers use the word for other things.
  const next = readPath(body, 'next');
  if (typeof next === 'string' && /^(\/|https?:\/\/)/.test(next)) return 'a next page at "next"';
  for (const path of [
    'next_page_uri',
    'links.next',
    'next_cursor',
    'meta.next_cursor',
    'meta.page.next_cursor',
  ]) {
    if (present(path)) return `a next page at "${path}"`;
  }
  if (readPath(body, 'has_more') === true || readPath(body, 'meta.has_more') === true) return 'has_more set';
  for (const path of [
    'meta.page.total_filtered_count',
    'meta.page.total_count',
    'result_info.total_count',
    'total_count',
    'total',
  ]) {
    const total = readPath(body, path);
    if (typeof total === 'number' && total > count)
      return `a total of ${total} keys at "${path}" for ${count} listed`;
  }
  const pages = readPath(body, 'result_info.total_pages');
  const page = readPath(body, 'result_info.page');
  if (typeof pages === 'number' && pages > (typeof page === 'number' ? page : 1)) {
    return `${pages} pages at "result_info.total_pages"`;
  }
  return undefined;
}

/**
 * What a response says of the provider's rate limit: `X-RateLimit-*`, `RateLimit-*` (and the
 * structured `RateLimit: limit=.., remaining=.., reset=..`). A reset above 10^9 is an epoch time in
 * seconds (GitHub, SendGrid), otherwise seconds from now (Datadog, the IETF draft).
 */
export function rateLimit(headers: { get(name: string): string | null }): {
  remaining?: number;
  resetMs?: number;
} {
  const first = (...names: string[]) => {
    for (const name of names) {
      const value = headers.get(name);
      if (value !== null && value.trim() !== '') return value.trim();
    }
    return undefined;
  };
  const structured = first('ratelimit');
  const field = (name: string) =>
    structured === undefined
      ? undefined
      : new RegExp(`(?:^|[,;\\s])${name}=(\\d+)`, 'i').exec(structured)?.[1];
  const remainingText =
    first('x-ratelimit-remaining', 'ratelimit-remaining', 'x-rate-limit-remaining') ?? field('remaining');
  const resetText = first('x-ratelimit-reset', 'ratelimit-reset', 'x-rate-limit-reset') ?? field('reset');
  const remaining =
    remainingText !== undefined && /^\d+$/.test(remainingText) ? Number(remainingText) : undefined;
  let resetMs: number | undefined;
  if (resetText !== undefined && /^\d+(\.\d+)?$/.test(resetText)) {
    const value = Number(resetText);
    resetMs = Math.max(0, Math.ceil(value > 1e9 ? value * 1000 - Date.now() : value * 1000));
  }
  return {
    ...(remaining === undefined ? {} : { remaining }),
    ...(resetMs === undefined ? {} : { resetMs }),
  };
}
