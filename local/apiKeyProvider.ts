/**
 * A local reference API-key provider: the lifecycle real providers share, over HTTP.
 *
 * Management endpoints (admin bearer token): `POST /v1/keys` mints a key named by the body's
 * `name` and shows its value once; `GET /v1/keys` lists live keys (id, name, creation time, never
 * values); `DELETE /v1/keys/:id` revokes; `POST /v1/keys/:id/activate` activates a key when the
 * provider is started with `requireActivation`. `GET /v1/whoami` is the protected endpoint: it
 * answers 200 to a live, active key sent as `X-Api-Key`, 401 otherwise. At most `maxLiveKeys`
 * keys are live at once (409 beyond).
 *
 * `faults` injects what real providers do on bad days: 5xx, 429 with `Retry-After`, slow answers,
 * and a create whose response is lost (the key is made, the connection dropped). Options make it
 * speak the other shapes real providers use: a paged list (page number, cursor, next link in the
 * body, `Link` header), form-encoded creates, a Basic `<key id>:<key>` probe, new keys that take a
 * while to propagate, a rate limit announced in `X-RateLimit-*` headers, names shown in another
 * case. Nothing is logged: a provider's logs are a place keys must not reach.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ApiKeyProviderOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Default 2. */
  maxLiveKeys?: number;
  /** The management credential. Default: random. */
  adminToken?: string;
  /** Keys are minted inactive and must be activated before the probe accepts them. */
  requireActivation?: boolean;
  /** Honour an `Idempotency-Key` header on create (and say so in the description). */
  idempotency?: boolean;
  /**
   * How the list shows a key's name (default: as given at create). Some providers normalise names,
   * upper-casing them for instance: rotor must still know its own keys, and only its own.
   */
  listName?: (name: string) => string;
  /**
   * Pages the list, `size` keys a page, in one of the styles real APIs use (page number, cursor in
   * the body, next link in the body, `Link` header). `describe: false` leaves the pagination out of
   * the description, as a description written before the provider paged would.
   */
  pages?: { style: 'page' | 'cursor' | 'next-link' | 'link-header'; size: number; describe?: boolean };
  /** Create takes `application/x-www-form-urlencoded` (`name=...`) instead of JSON. */
  form?: boolean;
  /** The probe takes `Authorization: Basic base64(<key id>:<key>)` instead of `X-Api-Key`. */
  basicProbe?: boolean;
  /** A new key is accepted by the probe only this long after it was made (eventual consistency). */
  propagationMs?: number;
  /**
   * A rate limit: `limit` requests per `windowMs`, announced in `X-RateLimit-Limit`,
   * `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the window resets); beyond it, 429.
   */
  rateLimit?: { limit: number; windowMs: number };
}

/** A key as the provider keeps it. `value` is here for tests only; no endpoint lists it. */
export interface ProviderKey {
  readonly id: string;
  name: string;
  /** Changed in place by a roll (`ProviderKeys.roll`). */
  value: string;
  readonly createdAt: Date;
  active: boolean;
  revokedAt?: Date;
  /** The create request's body as the provider read it (JSON, or a form's fields), for assertions. */
  readonly createdWith?: unknown;
}

/** Calls the provider can fail (`roll`: the provider fakes' Roll Token, local/providerFakes.ts). */
export type ProviderOperation = 'create' | 'list' | 'revoke' | 'activate' | 'roll' | 'probe';

/** One request served, for assertions (no values: the path holds a key id at most). */
export interface ServedRequest {
  readonly operation: ProviderOperation | 'unknown';
  readonly method: string;
  readonly path: string;
  /** The status sent, or `dropped`. */
  readonly status: number | 'dropped';
}

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'lose-response' };

/** Switches that make the next calls of an operation fail. Faults are consumed in the order added. */
export class ProviderFaults {
  #armed: { operation: ProviderOperation; fault: Fault; remaining: number }[] = [];

  /** The next `times` calls answer `status` (default 503) without doing anything. */
  fail(operation: ProviderOperation, status = 503, times = 1): this {
    return this.#add(operation, { kind: 'status', status }, times);
  }

  /** The next `times` calls answer 429 with `Retry-After: <retryAfterSeconds>`. */
  throttle(operation: ProviderOperation, retryAfterSeconds: number, times = 1): this {
    return this.#add(
      operation,
      { kind: 'status', status: 429, retryAfter: String(retryAfterSeconds) },
      times,
    );
  }

  /** The next `times` calls wait `delayMs` before they are handled. */
  slow(operation: ProviderOperation, delayMs: number, times = 1): this {
    return this.#add(operation, { kind: 'slow', delayMs }, times);
  }

  /** The next `times` creates make their key, then drop the connection instead of answering. */
  loseCreateResponse(times = 1): this {
    return this.#add('create', { kind: 'lose-response' }, times);
  }

  /** Withdraws every armed fault. */
  clear(): void {
    this.#armed = [];
  }

  /** How many injected failures are still armed. */
  get pending(): number {
    return this.#armed.reduce((sum, armed) => sum + armed.remaining, 0);
  }

  /** @internal The fault for this call, if one is armed. */
  take(operation: ProviderOperation): Fault | undefined {
    const armed = this.#armed.find((candidate) => candidate.operation === operation);
    if (armed === undefined) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#armed = this.#armed.filter((other) => other !== armed);
    return armed.fault;
  }

  #add(operation: ProviderOperation, fault: Fault, times: number): this {
    this.#armed.push({ operation, fault, remaining: times });
    return this;
  }
}

/** The provider's keys, for tests to inspect and seed. */
export class ProviderKeys {
  readonly #keys = new Map<string, ProviderKey>();

  /** `formats` makes ids and values look like a given provider's (the defaults are this provider's). */
  constructor(
    private readonly formats: { id: () => string; value: () => string } = {
      id: () => `key_${randomBytes(8).toString('hex')}`,
      value: () => `rk_live_${randomBytes(24).toString('base64url')}`,
    },
  ) {}

  /** Mints a key directly (an application's first key, made by hand before rotor manages it). */
  mint(name: string, options: { active?: boolean; createdWith?: unknown } = {}): ProviderKey {
    const key: ProviderKey = {
      id: this.formats.id(),
      name,
      value: this.formats.value(),
      createdAt: new Date(),
      active: options.active ?? true,
      ...(options.createdWith === undefined ? {} : { createdWith: options.createdWith }),
    };
    this.#keys.set(key.id, key);
    return key;
  }

  /**
   * Renames a key, as an operator does in a provider's console: the way to put a key made by hand
   * under a secret's tag (`rotor-<tag>-...`) so that rotor may retire it (the other way is adopting it).
   */
  rename(id: string, name: string): ProviderKey {
    const key = this.#keys.get(id);
    if (key === undefined) throw new Error(`no key ${id}`);
    key.name = name;
    return key;
  }

  /** Every key ever minted, revoked ones included, oldest first. */
  all(): ProviderKey[] {
    return [...this.#keys.values()];
  }

  /** Keys not revoked. */
  live(): ProviderKey[] {
    return this.all().filter((key) => key.revokedAt === undefined);
  }

  get(id: string): ProviderKey | undefined {
    return this.#keys.get(id);
  }

  /** Whether `value` is a live, active key (what the protected endpoint checks). */
  accepts(value: string): boolean {
    return this.live().some((key) => key.value === value && key.active);
  }

  /**
   * Regenerates a live key's value in place (a provider's "roll"): the old value is refused from
   * now on. Returns the key, or undefined when no live key has that id.
   */
  roll(id: string): ProviderKey | undefined {
    const key = this.#keys.get(id);
    if (key === undefined || key.revokedAt !== undefined) return undefined;
    key.value = this.formats.value();
    return key;
  }

  /** @internal */
  revoke(id: string): boolean {
    const key = this.#keys.get(id);
    if (key === undefined || key.revokedAt !== undefined) return false;
    key.revokedAt = new Date();
    return true;
  }
}

/** A provider description (rotators/apikey/provider.ts) as plain JSON. */
export type ProviderDescriptionJson = Record<string, unknown>;

export interface ApiKeyProvider {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** A provider description for this provider, to register with `createApiKeyRotator`. */
  readonly description: ProviderDescriptionJson;
  /** The management credential; the admin secret is `{"token": adminToken}`. */
  readonly adminToken: string;
  readonly keys: ProviderKeys;
  readonly faults: ProviderFaults;
  /** Every request served, in order. */
  readonly requests: readonly ServedRequest[];
  stop(): Promise<void>;
}

export async function startApiKeyProvider(options: ApiKeyProviderOptions = {}): Promise<ApiKeyProvider> {
  const state: ProviderState = {
    options,
    maxLiveKeys: options.maxLiveKeys ?? 2,
    adminToken: options.adminToken ?? `adm_${randomBytes(24).toString('base64url')}`,
    keys: new ProviderKeys(),
    faults: new ProviderFaults(),
    requests: [],
    idempotent: new Map(),
    limit: rateLimiter(options.rateLimit),
  };
  const server = createServer((request, response) => serve(state, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    description: describeProvider(url, state.maxLiveKeys, options),
    adminToken: state.adminToken,
    keys: state.keys,
    faults: state.faults,
    requests: state.requests,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** What the provider keeps between requests. */
interface ProviderState {
  readonly options: ApiKeyProviderOptions;
  readonly maxLiveKeys: number;
  readonly adminToken: string;
  readonly keys: ProviderKeys;
  readonly faults: ProviderFaults;
  readonly requests: ServedRequest[];
  /** Create answers by idempotency key. */
  readonly idempotent: Map<string, { status: number; body: unknown }>;
  /** Counts a request against the rate limit; the headers to announce, and whether it is over. */
  readonly limit: () => { headers: Record<string, string>; over: boolean };
}

/** One request being answered. */
interface Exchange {
  readonly request: IncomingMessage;
  readonly url: URL;
  readonly route: Route;
  readonly text: string;
  send(status: number, body?: unknown, headers?: Record<string, string>): void;
  record(status: number | 'dropped'): void;
}

/** The rate limit's counter (a fixed window), when there is one. */
function rateLimiter(rate: ApiKeyProviderOptions['rateLimit']) {
  const window = { start: Date.now(), used: 0 };
  return (): { headers: Record<string, string>; over: boolean } => {
    if (rate === undefined) return { headers: {}, over: false };
    if (Date.now() - window.start >= rate.windowMs) Object.assign(window, { start: Date.now(), used: 0 });
    const over = window.used >= rate.limit;
    if (!over) window.used += 1;
    const reset = Math.max(1, Math.ceil((window.start + rate.windowMs - Date.now()) / 1000));
    return {
      over,
      headers: {
        'x-ratelimit-limit': String(rate.limit),
        'x-ratelimit-remaining': String(rate.limit - window.used),
        'x-ratelimit-reset': String(reset),
      },
    };
  };
}

function serve(state: ProviderState, request: IncomingMessage, response: ServerResponse): void {
  const rate = state.limit();
  const url = new URL(request.url ?? '/', 'http://localhost');
  const route = routeOf(request.method ?? 'GET', url.pathname);
  const record = (status: number | 'dropped') =>
    state.requests.push({
      operation: route.operation,
      method: request.method ?? '',
      path: url.pathname,
      status,
    });
  const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
    record(status);
    const text = body === undefined ? '' : JSON.stringify(body);
    response.writeHead(status, {
      ...rate.headers,
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  };
  readBody(request)
    .then((text) => answer(state, { request, url, route, text, send, record }, rate.over))
    .catch(() => {
      if (!response.headersSent) send(500, { error: 'internal error' });
    });
}

async function answer(state: ProviderState, x: Exchange, overLimit: boolean) {
  const { route, request } = x;
  if (route.operation === 'unknown') return x.send(404, { error: 'no such route' });
  if (overLimit) return x.send(429, { error: 'rate limit exceeded' });
  const fault = state.faults.take(route.operation);
  if (fault?.kind === 'status') {
    return x.send(
      fault.status,
      { error: 'injected failure' },
      fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter },
    );
  }
  if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
  if (route.operation !== 'probe' && request.headers.authorization !== `Bearer ${state.adminToken}`) {
    return x.send(401, { error: 'admin token required' });
  }
  switch (route.operation) {
    case 'create':
      return create(state, x, fault?.kind === 'lose-response');
    case 'list':
      return list(state, x);
    case 'revoke':
      return state.keys.revoke(route.id) ? x.send(204) : x.send(404, { error: 'no live key with this id' });
    case 'activate': {
      const key = state.keys.get(route.id);
      if (key === undefined || key.revokedAt !== undefined) return x.send(404, { error: 'no live key' });
      key.active = true;
      return x.send(204);
    }
    case 'probe':
      return probe(state, x);
  }
}

function create(state: ProviderState, x: Exchange, loseResponse: boolean) {
  const key = idempotencyKey(x.request);
  const replay = key === undefined ? undefined : state.idempotent.get(key);
  if (replay !== undefined) return x.send(replay.status, replay.body);
  const name =
    state.options.form === true ? new URLSearchParams(x.text).get('name') || undefined : nameOf(x.text);
  if (name === undefined) return x.send(400, { error: 'body must be {"name": "..."}' });
  if (state.keys.live().length >= state.maxLiveKeys) {
    return x.send(409, { error: `live key limit (${state.maxLiveKeys}) reached` });
  }
  const minted = state.keys.mint(name, {
    active: state.options.requireActivation !== true,
    createdWith: state.options.form === true ? formFields(x.text) : parsedJson(x.text),
  });
  const body = {
    id: minted.id,
    name: minted.name,
    key: minted.value,
    createdAt: minted.createdAt.toISOString(),
  };
  if (key !== undefined) state.idempotent.set(key, { status: 201, body });
  if (loseResponse) {
    // Made, never answered: the client cannot know the key exists, let alone its value.
    x.record('dropped');
    x.request.socket.destroy();
    return;
  }
  return x.send(201, body);
}

function list(state: ProviderState, x: Exchange) {
  const all = state.keys.live().map((key) => ({
    id: key.id,
    name: state.options.listName?.(key.name) ?? key.name,
    createdAt: key.createdAt.toISOString(),
    active: key.active,
  }));
  const pages = state.options.pages;
  if (pages === undefined) return x.send(200, { keys: all });
  const page = pageOf(pages, x.url, all.length);
  const slice = all.slice(page.start, page.start + page.size);
  const after = page.start + page.size < all.length ? String(page.start + page.size) : undefined;
  const nextUrl = after === undefined ? undefined : `/v1/keys?after=${after}`;
  switch (pages.style) {
    case 'page':
      return x.send(200, { keys: slice, total: all.length });
    case 'cursor':
      return x.send(200, { keys: slice, next_cursor: after === undefined ? null : cursorOf(after) });
    case 'next-link':
      return x.send(200, { keys: slice, links: { next: nextUrl ?? null } });
    case 'link-header':
      return x.send(
        200,
        { keys: slice },
        nextUrl === undefined ? {} : { link: `<${baseOf(x.request)}${nextUrl}>; rel="next"` },
      );
  }
  return x.send(500, { error: 'unknown paging' });
}

function probe(state: ProviderState, x: Exchange) {
  const presented =
    state.options.basicProbe === true ? basicKey(x.request, state.keys) : x.request.headers['x-api-key'];
  const key =
    typeof presented === 'string' ? state.keys.live().find((live) => live.value === presented) : undefined;
  const propagated =
    key !== undefined && Date.now() - key.createdAt.getTime() >= (state.options.propagationMs ?? 0);
  const ok = typeof presented === 'string' && state.keys.accepts(presented) && propagated;
  return ok ? x.send(200, { ok: true }) : x.send(401, { error: 'invalid API key' });
}

/** A provider description for this provider, to register with `createApiKeyRotator`. */
function describeProvider(
  url: string,
  maxLiveKeys: number,
  options: ApiKeyProviderOptions,
): ProviderDescriptionJson {
  return {
    baseUrl: `${url}/v1`,
    auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
    maxLiveKeys,
    create: {
      method: 'POST',
      path: '/keys',
      body: { name: '{{name}}' },
      ...(options.form === true ? { encoding: 'form' } : {}),
      response: { id: 'id', key: 'key' },
      ...(options.idempotency === true ? { idempotencyKeyHeader: 'Idempotency-Key' } : {}),
    },
    list: {
      method: 'GET',
      path: '/keys',
      response: {
        items: 'keys',
        id: 'id',
        name: 'name',
        createdAt: 'createdAt',
        ...(options.pages?.style === 'page' && options.pages.describe !== false ? { total: 'total' } : {}),
      },
      ...(options.pages === undefined || options.pages.describe === false
        ? {}
        : { pagination: paginationOf(options.pages) }),
    },
    revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
    probe: {
      method: 'GET',
      path: '/whoami',
      headers:
        options.basicProbe === true
          ? { Authorization: 'Basic {{base64(keyId ":" key)}}' }
          : { 'X-Api-Key': '{{key}}' },
    },
    ...(options.requireActivation === true
      ? { activate: { method: 'POST', path: '/keys/{{keyId}}/activate', idempotent: true } }
      : {}),
  };
}

type Route = { operation: ProviderOperation; id: string } | { operation: 'unknown'; id: string };

function routeOf(method: string, path: string): Route {
  if (path === '/v1/keys' && method === 'POST') return { operation: 'create', id: '' };
  if (path === '/v1/keys' && method === 'GET') return { operation: 'list', id: '' };
  if (path === '/v1/whoami' && method === 'GET') return { operation: 'probe', id: '' };
  const match = /^\/v1\/keys\/([^/]+)(\/activate)?$/.exec(path);
  if (match !== null) {
    const id = decodeURIComponent(match[1] ?? '');
    if (match[2] === undefined && method === 'DELETE') return { operation: 'revoke', id };
    if (match[2] !== undefined && method === 'POST') return { operation: 'activate', id };
  }
  return { operation: 'unknown', id: '' };
}

function idempotencyKey(request: IncomingMessage): string | undefined {
  const value = request.headers['idempotency-key'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A form's fields; a repeated field becomes a list. */
function formFields(text: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const had = fields[name];
    fields[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  }
  return fields;
}

function nameOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { name?: unknown };
    return typeof body.name === 'string' && body.name !== '' ? body.name : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

type Pages = NonNullable<ApiKeyProviderOptions['pages']>;

/** The description's `list.pagination` for each paging style this provider speaks. */
function paginationOf(pages: Pages): Record<string, unknown> {
  switch (pages.style) {
    case 'page':
      return { style: 'page', pageParam: 'page', sizeParam: 'per_page', size: pages.size, firstPage: 1 };
    case 'cursor':
      return { style: 'cursor', param: 'cursor', next: 'next_cursor' };
    case 'next-link':
      return { style: 'next-link', next: 'links.next' };
    case 'link-header':
      return { style: 'link-header' };
  }
}

/** Where a list request starts and how many keys it gets. */
function pageOf(pages: Pages, url: URL, total: number): { start: number; size: number } {
  const size = Math.min(pages.size, Number(url.searchParams.get('per_page') ?? pages.size) || pages.size);
  if (pages.style === 'page') {
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    return { start: (page - 1) * size, size };
  }
  const cursor = url.searchParams.get('cursor');
  const after = cursor === null ? url.searchParams.get('after') : Buffer.from(cursor, 'base64url').toString();
  return { start: Math.min(total, Number(after ?? 0) || 0), size };
}

/** An opaque cursor, as providers hand them out. */
function cursorOf(offset: string): string {
  return Buffer.from(offset).toString('base64url');
}

function baseOf(request: IncomingMessage): string {
  return `http://${request.headers.host ?? '127.0.0.1'}`;
}

/** The key presented as `Basic base64(<key id>:<key>)`, when the id and the key belong together. */
function basicKey(request: IncomingMessage, keys: ProviderKeys): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.authorization ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const key = keys.get(decoded.slice(0, colon));
  return key !== undefined && key.value === decoded.slice(colon + 1) ? key.value : undefined;
}
