/**
 * Local fakes of real API-key providers, each following its provider's public API documentation
 * (paths, authentication, JSON or form shapes, pagination, status codes, limits), so that rotor's
 * presets (rotators/apikey/presets.ts) are tested against what the providers document rather than
 * against what rotor expects. Each fake cites the pages it follows. Nothing is logged.
 *
 * What a fake does not model (it is not the provider): permissions beyond "the admin credential is
 * right", most optional fields, and error bodies beyond their documented shape.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderFaults, type ProviderKey, ProviderKeys } from './apiKeyProvider.js';

export type FakeKind = 'datadog' | 'sendgrid' | 'cloudflare' | 'twilio' | 'algolia';

/** One request served (no values: the path holds a key id at most). */
export interface FakeRequest {
  readonly operation: 'create' | 'list' | 'revoke' | 'roll' | 'probe' | 'unknown' | 'unauthorized';
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly status: number;
}

export interface ProviderFake {
  readonly kind: FakeKind;
  /** `http://127.0.0.1:<port>`: the preset's `baseUrl` is this plus the provider's own base path. */
  readonly url: string;
  /** The base URL to give the preset (the provider's documented base, on this fake). */
  readonly baseUrl: string;
  /** The admin secret's value for this provider, as its preset documents the fields. */
  readonly adminSecret: Record<string, string>;
  readonly keys: ProviderKeys;
  readonly requests: readonly FakeRequest[];
  /** Armed failures (`fail`, `throttle`): the next calls of an operation answer without acting. */
  readonly faults: ProviderFaults;
  /** Whether `key` authenticates at the provider's validation endpoint, over HTTP. */
  canLogin(key: ProviderKey | { id: string; value: string }): Promise<boolean>;
  stop(): Promise<void>;
}

interface Exchange {
  readonly request: IncomingMessage;
  readonly url: URL;
  readonly body: string;
  send(status: number, body?: unknown, headers?: Record<string, string>): void;
  /** Records what the request was, for assertions. */
  as(operation: FakeRequest['operation']): void;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const alnum = (length: number) =>
  randomBytes(length * 2)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, length);

const json = (text: string): Record<string, unknown> | undefined => {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------
// Datadog: API keys v2.
// https://docs.datadoghq.com/api/latest/key-management/ (Get all API keys, Create an API key,
// Delete an API key: DD-API-KEY + DD-APPLICATION-KEY headers; JSON:API bodies `data.attributes`;
// `page[size]` (max 100, default 10) and `page[number]` (from 0); `meta.page.total_filtered_count`),
// https://docs.datadoghq.com/api/latest/authentication/ (GET /api/v1/validate: 200 `{"valid":true}`,
// 403 otherwise), https://docs.datadoghq.com/api/latest/rate-limits/ (X-RateLimit-* headers).

function datadog(keys: ProviderKeys, admin: { apiKey: string; appKey: string }) {
  return (x: Exchange) => {
    const { request, url } = x;
    const rate = {
      'x-ratelimit-limit': '1000',
      'x-ratelimit-period': '60',
      'x-ratelimit-remaining': '999',
      'x-ratelimit-reset': '30',
      'x-ratelimit-name': 'api_keys',
    };
    if (url.pathname === '/api/v1/validate' && request.method === 'GET') {
      x.as('probe');
      const key = request.headers['dd-api-key'];
      return typeof key === 'string' && keys.accepts(key)
        ? x.send(200, { valid: true })
        : x.send(403, { errors: ['Forbidden'] });
    }
    if (
      request.headers['dd-api-key'] !== admin.apiKey ||
      request.headers['dd-application-key'] !== admin.appKey
    ) {
      x.as('unauthorized');
      return x.send(403, { errors: ['Forbidden'] });
    }
    const attributes = (key: ProviderKey, withValue: boolean) => ({
      type: 'api_keys',
      id: key.id,
      attributes: {
        created_at: key.createdAt.toISOString(),
        modified_at: key.createdAt.toISOString(),
        last4: key.value.slice(-4),
        name: key.name,
        ...(withValue ? { key: key.value } : {}),
      },
    });
    if (url.pathname === '/api/v2/api_keys' && request.method === 'POST') {
      x.as('create');
      const name = (json(x.body)?.data as { attributes?: { name?: unknown } } | undefined)?.attributes?.name;
      if (typeof name !== 'string' || name === '') return x.send(400, { errors: ['Missing name'] }, rate);
      return x.send(201, { data: attributes(keys.mint(name), true) }, rate);
    }
    if (url.pathname === '/api/v2/api_keys' && request.method === 'GET') {
      x.as('list');
      const size = Number(url.searchParams.get('page[size]') ?? 10);
      const number = Number(url.searchParams.get('page[number]') ?? 0);
      if (!Number.isInteger(size) || size < 1 || size > 100 || !Number.isInteger(number) || number < 0) {
        return x.send(400, { errors: ['Invalid page parameters'] }, rate);
      }
      const live = keys.live();
      const page = live.slice(number * size, (number + 1) * size);
      return x.send(
        200,
        {
          data: page.map((key) => attributes(key, false)),
          meta: { page: { total_count: live.length, total_filtered_count: live.length } },
        },
        rate,
      );
    }
    const match = /^\/api\/v2\/api_keys\/([^/]+)$/.exec(url.pathname);
    if (match !== null && request.method === 'DELETE') {
      x.as('revoke');
      return keys.revoke(decodeURIComponent(match[1] as string))
        ? x.send(204, undefined, rate)
        : x.send(404, { errors: ['Not found'] }, rate);
    }
    x.as('unknown');
    return x.send(404, { errors: ['Not found'] });
  };
}

// ---------------------------------------------------------------------------------------------
// SendGrid: v3 API keys.
// https://www.twilio.com/docs/sendgrid/api-reference/api-keys/create-api-keys (POST /v3/api_keys,
// JSON `{"name", "scopes"}`, 201 `{"api_key", "api_key_id", "name", "scopes"}`, "a limit of 100 API
// Keys on your account", 403 beyond; keys are 69 characters), .../retrieve-all-api-keys-belonging-
// to-the-authenticated-user (GET /v3/api_keys?limit=, `{"result": [{"api_key_id", "name"}]}`),
// .../delete-api-keys (DELETE /v3/api_keys/{api_key_id}, 204), Bearer authentication;
// https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions/retrieve-a-list-of-scopes-for-which-this-user-has-access
// (GET /v3/scopes: what a key may do, 200 with a valid key, 401 otherwise: the probe).

function sendgrid(keys: ProviderKeys, admin: { apiKey: string }) {
  return (x: Exchange) => {
    const { request, url } = x;
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const unauthorized = () => x.send(401, { errors: [{ field: null, message: 'authorization required' }] });
    if (url.pathname === '/v3/scopes' && request.method === 'GET') {
      x.as('probe');
      return bearer !== undefined && keys.accepts(bearer)
        ? x.send(200, { scopes: ['mail.send'] })
        : unauthorized();
    }
    if (bearer !== admin.apiKey) {
      x.as('unauthorized');
      return unauthorized();
    }
    if (url.pathname === '/v3/api_keys' && request.method === 'POST') {
      x.as('create');
      const body = json(x.body);
      if (typeof body?.name !== 'string' || body.name === '') {
        return x.send(400, { errors: [{ field: 'name', message: 'missing required argument' }] });
      }
      if (keys.live().length >= 100) {
        return x.send(403, { errors: [{ field: null, message: 'Cannot create more than 100 API keys' }] });
      }
      const key = keys.mint(body.name);
      return x.send(201, {
        api_key: key.value,
        api_key_id: key.id,
        name: key.name,
        scopes: Array.isArray(body.scopes) ? body.scopes : ['mail.send'],
      });
    }
    if (url.pathname === '/v3/api_keys' && request.method === 'GET') {
      x.as('list');
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const result = keys
        .live()
        .slice(0, limit)
        .map((key) => ({ api_key_id: key.id, name: key.name }));
      return x.send(200, { result });
    }
    const match = /^\/v3\/api_keys\/([^/]+)$/.exec(url.pathname);
    if (match !== null && request.method === 'DELETE') {
      x.as('revoke');
      return keys.revoke(decodeURIComponent(match[1] as string))
        ? x.send(204)
        : x.send(404, { errors: [{ field: null, message: 'unable to find API Key' }] });
    }
    x.as('unknown');
    return x.send(404, { errors: [{ field: null, message: 'not found' }] });
  };
}

// ---------------------------------------------------------------------------------------------
// Cloudflare: user API tokens.
// https://developers.cloudflare.com/api/resources/user/subresources/tokens/ (POST /user/tokens with
// `{"name", "policies"}` (policies required), GET /user/tokens?page=&per_page= (per_page 5 to 50,
// default 20) with `result_info {page, per_page, count, total_count, total_pages}`, DELETE
// /user/tokens/{token_id}, GET /user/tokens/verify with the token itself), "Roll Token"
// (https://developers.cloudflare.com/api/resources/user/subresources/tokens/subresources/value/methods/update:
// PUT /user/tokens/{token_id}/value with body `{}`, "API Tokens Write", the new value (40 to 80
// characters) as `result`; the old value stops working at once), the v4 envelope
// `{"success", "errors", "messages", "result"}`, Bearer authentication; the token's secret is
// `result.value`, shown only at creation.

function cloudflare(keys: ProviderKeys, admin: { token: string }) {
  return (x: Exchange) => {
    const { request, url } = x;
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const envelope = (result: unknown, extra: Record<string, unknown> = {}) => ({
      success: true,
      errors: [],
      messages: [],
      result,
      ...extra,
    });
    const failure = (status: number, code: number, message: string) =>
      x.send(status, { success: false, errors: [{ code, message }], messages: [], result: null });
    const token = (key: ProviderKey, withValue: boolean) => ({
      id: key.id,
      name: key.name,
      status: 'active',
      issued_on: key.createdAt.toISOString(),
      modified_on: key.createdAt.toISOString(),
      policies: [],
      ...(withValue ? { value: key.value } : {}),
    });
    if (url.pathname === '/client/v4/user/tokens/verify' && request.method === 'GET') {
      x.as('probe');
      const key = keys.live().find((live) => live.value === bearer);
      return key === undefined
        ? failure(401, 1000, 'Invalid API Token')
        : x.send(200, envelope({ id: key.id, status: 'active' }));
    }
    if (bearer !== admin.token) {
      x.as('unauthorized');
      return failure(403, 9109, 'Unauthorized to access requested resource');
    }
    if (url.pathname === '/client/v4/user/tokens' && request.method === 'POST') {
      x.as('create');
      const body = json(x.body);
      if (typeof body?.name !== 'string' || body.name === '') return failure(400, 1001, 'name is required');
      if (!Array.isArray(body.policies) || body.policies.length === 0) {
        return failure(400, 1001, 'policies are required');
      }
      return x.send(200, envelope(token(keys.mint(body.name), true)));
    }
    if (url.pathname === '/client/v4/user/tokens' && request.method === 'GET') {
      x.as('list');
      const perPage = Math.min(50, Math.max(5, Number(url.searchParams.get('per_page') ?? 20) || 20));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      const live = keys.live();
      const slice = live.slice((page - 1) * perPage, page * perPage);
      return x.send(
        200,
        envelope(
          slice.map((key) => token(key, false)),
          {
            result_info: {
              page,
              per_page: perPage,
              count: slice.length,
              total_count: live.length,
              total_pages: Math.ceil(live.length / perPage),
            },
          },
        ),
      );
    }
    const rolled = /^\/client\/v4\/user\/tokens\/([^/]+)\/value$/.exec(url.pathname);
    if (rolled !== null && request.method === 'PUT') {
      x.as('roll');
      const key = keys.roll(decodeURIComponent(rolled[1] as string));
      return key === undefined ? failure(404, 1003, 'Token not found') : x.send(200, envelope(key.value));
    }
    const match = /^\/client\/v4\/user\/tokens\/([^/]+)$/.exec(url.pathname);
    if (match !== null && request.method === 'DELETE') {
      x.as('revoke');
      const id = decodeURIComponent(match[1] as string);
      return keys.revoke(id) ? x.send(200, envelope({ id })) : failure(404, 1003, 'Token not found');
    }
    x.as('unknown');
    return failure(404, 7000, 'No route for that URI');
  };
}

// ---------------------------------------------------------------------------------------------
// Twilio: Key resource v2010.
// https://www.twilio.com/docs/iam/api-keys/key-resource-v2010 (POST /2010-04-01/Accounts/{AccountSid}
// /Keys.json, form-encoded `FriendlyName` (up to 64 characters), 201 with `sid` (SK + 32 hex) and
// `secret` (shown once); GET .../Keys.json with `PageSize` (default 50) and paging by
// `next_page_uri`; DELETE .../Keys/{Sid}.json, 204; dates in RFC 2822),
// https://www.twilio.com/docs/usage/requests-to-twilio (form-encoded parameters, HTTP Basic with
// AccountSid:AuthToken, or an API key's Sid:Secret), https://www.twilio.com/docs/usage/twilios-response
// (paging fields). A Standard key cannot reach the Keys or Accounts resources, so the probe reads
// .../Messages.json with the new key.

function twilio(keys: ProviderKeys, admin: { accountSid: string; authToken: string }) {
  return (x: Exchange) => {
    const { request, url } = x;
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(request.headers.authorization ?? '')?.[1];
    const [user, password] = (() => {
      if (basic === undefined) return [undefined, undefined];
      const text = Buffer.from(basic, 'base64').toString('utf8');
      const colon = text.indexOf(':');
      return colon < 0 ? [undefined, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
    })();
    const account = `/2010-04-01/Accounts/${admin.accountSid}`;
    const unauthorized = () =>
      x.send(401, {
        code: 20003,
        message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003',
        status: 401,
      });
    if (url.pathname === `${account}/Messages.json` && request.method === 'GET') {
      x.as('probe');
      const key = user === undefined ? undefined : keys.get(user);
      return key !== undefined && key.revokedAt === undefined && key.value === password
        ? x.send(200, { messages: [], next_page_uri: null, page: 0, page_size: 50 })
        : unauthorized();
    }
    if (user !== admin.accountSid || password !== admin.authToken) {
      x.as('unauthorized');
      return unauthorized();
    }
    const rfc2822 = (date: Date) => date.toUTCString().replace('GMT', '+0000');
    const resource = (key: ProviderKey) => ({
      sid: key.id,
      friendly_name: key.name,
      date_created: rfc2822(key.createdAt),
      date_updated: rfc2822(key.createdAt),
    });
    if (url.pathname === `${account}/Keys.json` && request.method === 'POST') {
      x.as('create');
      // Parameters are form-encoded: a JSON body carries none, and the key is made unnamed.
      const form = (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
        ? new URLSearchParams(x.body)
        : new URLSearchParams();
      const name = form.get('FriendlyName') ?? '';
      if (name.length > 64)
        return x.send(400, { code: 21618, message: 'FriendlyName too long', status: 400 });
      const key = keys.mint(name);
      return x.send(201, { ...resource(key), secret: key.value });
    }
    if (url.pathname === `${account}/Keys.json` && request.method === 'GET') {
      x.as('list');
      const size = Math.min(1000, Math.max(1, Number(url.searchParams.get('PageSize') ?? 50) || 50));
      const page = Math.max(0, Number(url.searchParams.get('Page') ?? 0) || 0);
      const live = keys.live();
      const slice = live.slice(page * size, (page + 1) * size);
      const uri = (n: number) => `${account}/Keys.json?PageSize=${size}&Page=${n}&PageToken=PA${hex(8)}`;
      return x.send(200, {
        keys: slice.map(resource),
        first_page_uri: `${account}/Keys.json?PageSize=${size}&Page=0`,
        next_page_uri: (page + 1) * size < live.length ? uri(page + 1) : null,
        previous_page_uri: page > 0 ? uri(page - 1) : null,
        page,
        page_size: size,
        start: page * size,
        end: page * size + Math.max(0, slice.length - 1),
        uri: `${account}/Keys.json?PageSize=${size}&Page=${page}`,
      });
    }
    const match = new RegExp(`^${account}/Keys/([^/]+)\\.json$`).exec(url.pathname);
    if (match !== null && request.method === 'DELETE') {
      x.as('revoke');
      return keys.revoke(decodeURIComponent(match[1] as string))
        ? x.send(204)
        : x.send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    }
    x.as('unknown');
    return x.send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
  };
}

// ---------------------------------------------------------------------------------------------
// Algolia: API keys of the Search REST API.
// https://www.algolia.com/doc/rest-api/search/ (Add API key: POST /1/keys with `{"acl", "description",
// "indexes", "validity", ...}` (acl required), 200 `{"key", "createdAt"}`; List API keys: GET /1/keys,
// `{"keys": [{"value", "createdAt", "acl", "description", "indexes", "validity"}]}`, all keys in one
// response (no paging); Delete API key: DELETE /1/keys/{key}, 200 `{"deletedAt"}`; List indices:
// GET /1/indexes, ACL `listIndexes`; Search an index: GET /1/indexes/{indexName}, ACL `search`;
// authentication by `X-Algolia-Application-Id` and `X-Algolia-API-Key` headers; errors
// `{"message", "status"}`, 403 "Invalid Application-ID or API key"). A new key "might not be
// immediately visible": here it is neither listed nor accepted for `propagationMs` after it was added.
// The key's id is its value (32 hex digits). The admin API key is not one of the listed keys.

const ALGOLIA_ACLS = [
  'search',
  'browse',
  'addObject',
  'deleteObject',
  'listIndexes',
  'deleteIndex',
  'settings',
  'editSettings',
  'analytics',
  'recommendation',
  'usage',
  'logs',
  'seeUnretrievableAttributes',
] as const;

function algolia(
  keys: ProviderKeys,
  admin: { applicationId: string; apiKey: string },
  propagationMs: number,
) {
  return (x: Exchange) => {
    const { request, url } = x;
    const appId = request.headers['x-algolia-application-id'];
    const apiKey = request.headers['x-algolia-api-key'];
    const invalid = () => x.send(403, { message: 'Invalid Application-ID or API key', status: 403 });
    const visible = (key: ProviderKey) => Date.now() - key.createdAt.getTime() >= propagationMs;
    const acl = (key: ProviderKey) => {
      const body = key.createdWith as { acl?: unknown } | undefined;
      return Array.isArray(body?.acl) ? (body.acl as string[]) : [];
    };
    const asKey = (permission: string) => {
      x.as('probe');
      const key = typeof apiKey === 'string' ? keys.get(apiKey) : undefined;
      if (
        appId !== admin.applicationId ||
        key === undefined ||
        key.revokedAt !== undefined ||
        !visible(key)
      ) {
        return invalid();
      }
      return acl(key).includes(permission)
        ? x.send(200, { items: [], nbPages: 0, hits: [], nbHits: 0 })
        : x.send(403, { message: 'Method not allowed with this API key', status: 403 });
    };
    if (url.pathname === '/1/indexes' && request.method === 'GET') return asKey('listIndexes');
    if (/^\/1\/indexes\/[^/]+$/.test(url.pathname) && request.method === 'GET') return asKey('search');
    if (appId !== admin.applicationId || apiKey !== admin.apiKey) {
      x.as('unauthorized');
      return invalid();
    }
    if (url.pathname === '/1/keys' && request.method === 'POST') {
      x.as('create');
      const body = json(x.body);
      const list = body?.acl;
      if (!Array.isArray(list) || list.some((a) => !(ALGOLIA_ACLS as readonly unknown[]).includes(a))) {
        return x.send(400, { message: 'Invalid ACL', status: 400 });
      }
      const description = typeof body?.description === 'string' ? body.description : '';
      const key = keys.mint(description, { createdWith: body });
      return x.send(200, { key: key.value, createdAt: key.createdAt.toISOString() });
    }
    if (url.pathname === '/1/keys' && request.method === 'GET') {
      x.as('list');
      const listed = keys
        .live()
        .filter(visible)
        .map((key) => ({
          value: key.value,
          createdAt: Math.floor(key.createdAt.getTime() / 1000),
          acl: acl(key),
          description: key.name,
          validity: 0,
        }));
      return x.send(200, { keys: listed });
    }
    const match = /^\/1\/keys\/([^/]+)$/.exec(url.pathname);
    if (match !== null && request.method === 'DELETE') {
      x.as('revoke');
      return keys.revoke(decodeURIComponent(match[1] as string))
        ? x.send(200, { deletedAt: new Date().toISOString() })
        : x.send(404, { message: 'Key does not exist', status: 404 });
    }
    x.as('unknown');
    return x.send(404, { message: 'Not found', status: 404 });
  };
}

// ---------------------------------------------------------------------------------------------

class InjectedFault extends Error {
  constructor(
    readonly status: number,
    readonly retryAfter?: string,
  ) {
    super('injected failure');
  }
}

/** Algolia's key id is the key: the value generator hands back the id just made. */
let algoliaLast = '';

const FORMATS: Record<FakeKind, { id: () => string; value: () => string; basePath: string }> = {
  datadog: { id: () => randomUUID(), value: () => hex(16), basePath: '/api' },
  sendgrid: { id: () => alnum(22), value: () => `SG.${alnum(22)}.${alnum(43)}`, basePath: '/v3' },
  cloudflare: { id: () => hex(16), value: () => alnum(40), basePath: '/client/v4' },
  twilio: { id: () => `SK${hex(16)}`, value: () => alnum(32), basePath: '/2010-04-01' },
  algolia: {
    id: () => {
      algoliaLast = hex(16);
      return algoliaLast;
    },
    value: () => algoliaLast,
    basePath: '',
  },
};

export interface ProviderFakeOptions {
  /** Algolia: how long a new key is neither listed nor accepted. Default 300 ms. */
  readonly propagationMs?: number;
}

/** Starts a fake of `kind` on loopback, with the admin credential its preset expects. */
export async function startProviderFake(
  kind: FakeKind,
  options: ProviderFakeOptions = {},
): Promise<ProviderFake> {
  const format = FORMATS[kind];
  const keys = new ProviderKeys(format);
  const requests: FakeRequest[] = [];
  let adminSecret: Record<string, string>;
  let handle: (x: Exchange) => void;
  switch (kind) {
    case 'datadog': {
      // The admin API key is itself a key of the account, listed like the others.
      const apiKey = keys.mint('admin');
      const admin = { apiKey: apiKey.value, appKey: hex(20) };
      adminSecret = admin;
      handle = datadog(keys, admin);
      break;
    }
    case 'sendgrid': {
      const admin = { apiKey: keys.mint('key management').value };
      adminSecret = admin;
      handle = sendgrid(keys, admin);
      break;
    }
    case 'cloudflare': {
      const admin = { token: keys.mint('API Tokens Write').value };
      adminSecret = admin;
      handle = cloudflare(keys, admin);
      break;
    }
    case 'twilio': {
      const admin = { accountSid: `AC${hex(16)}`, authToken: hex(16) };
      adminSecret = admin;
      handle = twilio(keys, admin);
      break;
    }
    case 'algolia': {
      const admin = { applicationId: alnum(10).toUpperCase(), apiKey: hex(16) };
      adminSecret = admin;
      handle = algolia(keys, admin, options.propagationMs ?? 300);
      break;
    }
  }

  const faults = new ProviderFaults();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let operation: FakeRequest['operation'] = 'unknown';
      const exchange: Exchange = {
        request,
        url,
        body: Buffer.concat(chunks).toString('utf8'),
        as: (what) => {
          operation = what;
          if (what === 'unknown' || what === 'unauthorized') return;
          const fault = faults.take(what);
          if (fault === undefined) return;
          // Answered before the handler acts: an injected failure changes nothing.
          if (fault.kind !== 'status')
            throw new Error(`the provider fakes inject statuses only, not ${fault.kind}`);
          throw new InjectedFault(fault.status, fault.retryAfter);
        },
        send: (status, body, headers = {}) => {
          requests.push({
            operation,
            method: request.method ?? '',
            path: url.pathname,
            query: url.search,
            status,
          });
          const text = body === undefined ? '' : JSON.stringify(body);
          response.writeHead(status, {
            ...headers,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            'content-length': Buffer.byteLength(text),
          });
          response.end(text);
        },
      };
      try {
        handle(exchange);
      } catch (error) {
        if (!(error instanceof InjectedFault)) throw error;
        exchange.send(
          error.status,
          { message: 'injected failure', status: error.status },
          error.retryAfter === undefined ? {} : { 'retry-after': error.retryAfter },
        );
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const probes: Record<FakeKind, (key: { id: string; value: string }) => [string, Record<string, string>]> = {
    datadog: (key) => ['/api/v1/validate', { 'dd-api-key': key.value }],
    sendgrid: (key) => ['/v3/scopes', { authorization: `Bearer ${key.value}` }],
    cloudflare: (key) => ['/client/v4/user/tokens/verify', { authorization: `Bearer ${key.value}` }],
    twilio: (key) => [
      `/2010-04-01/Accounts/${adminSecret.accountSid}/Messages.json`,
      { authorization: `Basic ${Buffer.from(`${key.id}:${key.value}`).toString('base64')}` },
    ],
    algolia: (key) => [
      '/1/indexes',
      { 'x-algolia-application-id': String(adminSecret.applicationId), 'x-algolia-api-key': key.value },
    ],
  };

  return {
    kind,
    url,
    baseUrl: `${url}${format.basePath}`,
    adminSecret,
    keys,
    requests,
    faults,
    async canLogin(key) {
      const [path, headers] = probes[kind](key);
      const response = await fetch(`${url}${path}`, { headers });
      await response.text();
      return response.status === 200;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
