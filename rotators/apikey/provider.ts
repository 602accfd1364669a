/**
 * Provider descriptions: how to talk to an API-key provider, as data.
 *
 * A description says where the provider is (`baseUrl`), how management calls authenticate (one
 * header whose value is a template over the admin credential), the four requests rotor needs
 * (create, list, revoke, probe) plus an optional activate and an optional roll, how each body is encoded (JSON or
 * form), how the list pages, where the interesting fields sit in responses, and how many keys may
 * be live at once. Nothing in a description is code: templates substitute named variables or the
 * base64 of a concatenation (`{{base64(keyId ":" key)}}`), and paths are dot paths or JSON pointers.
 *
 * Security: a description decides where the admin credential and the keys are sent, so it is
 * validated before use. Requests go to `baseUrl`'s origin only: path templates are paths (no
 * scheme, no host, no `..`), rendered URLs are checked again, `https` is required except on
 * loopback hosts, redirects are never followed (client.ts). Credentials never go into a URL, where
 * access logs would keep them: `{{key}}` and `{{admin...}}` are refused in paths.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import type { Json } from './json.js';
import { expandPreset } from './presets.js';

export type { Json };

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** Methods HTTP defines as idempotent: the client may send them again after a failure. */
const IDEMPOTENT_METHODS: ReadonlySet<Method> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** One request as described: every string may hold template variables. */
export interface RequestTemplate {
  readonly method: Method;
  /** Path (and query) appended to the base URL's path; variables are URL-encoded. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Body template; string leaves are rendered, the structure is kept. */
  readonly body?: Json;
  /** How the body is sent: JSON, or `application/x-www-form-urlencoded` (a flat object). */
  readonly encoding: 'json' | 'form';
  /** Whether the client may send it again after a failure or a 5xx. */
  readonly idempotent: boolean;
}

/**
 * How a list is paged, in the styles real APIs use:
 * - `page`: a page number (and size) in the query, e.g. Datadog `page[number]`/`page[size]`,
 *   Cloudflare `page`/`per_page`; a page shorter than the size is the last one;
 * - `cursor`: the next page's cursor or token, read from the body at `next`, sent back as `param`
 *   (`next_cursor`, `PageToken`); none means the last page;
 * - `next-link`: the next page's URL or path, read from the body at `next` (`next_page_uri`,
 *   `links.next`);
 * - `link-header`: the `Link` header's `rel="next"` (RFC 8288).
 * Links are followed only on the provider's origin and under its base path.
 */
export type Pagination = (
  | {
      readonly style: 'page';
      readonly pageParam: string;
      readonly sizeParam?: string | undefined;
      readonly size: number;
      readonly firstPage: number;
    }
  | { readonly style: 'cursor'; readonly param: string; readonly next: string }
  | { readonly style: 'next-link'; readonly next: string }
  | { readonly style: 'link-header' }
) & { readonly maxPages: number };

export interface Provider {
  /**
   * The name it is registered under, or `inline:<host>` (with a port other than the scheme's) for
   * a description kept in the secret.
   */
  readonly name: string;
  readonly baseUrl: URL;
  /**
   * Fields of the admin secret that are identifiers, not credentials (an account or application
   * id): they may appear in paths and in the probe. Every other admin field is a credential.
   */
  readonly publicAdminFields: ReadonlySet<string>;
  readonly auth: { readonly header: string; readonly value: string };
  /**
   * The admin secrets (names, partial or full ARNs) this description pins, from `adminSecret` /
   * `adminSecrets`: a secret naming this provider must name one of them as `adminSecretArn`. Empty:
   * none pinned (then an admin secret must bind itself with its own `provider` and `manages`).
   * Always empty for a description kept inline in a secret (its writer would pin their own choice).
   */
  readonly adminSecrets: readonly string[];
  /**
   * ARN patterns (`*` any run, `?` one character) of the rotated secrets that may name this
   * description (`manages`): absent, any secret the function rotates may. Like a pin, never taken
   * from a description kept inline in a secret.
   */
  readonly manages?: readonly string[];
  /** How many keys the provider lets live at once (the current one and the new one need 2). */
  readonly maxLiveKeys: number;
  /** Per-request timeout in milliseconds (the Lambda deadline caps it further). */
  readonly timeoutMs: number;
  readonly retry: { readonly attempts: number; readonly baseDelayMs: number };
  readonly create: RequestTemplate & {
    /** Header carrying an idempotency key, when the provider honours one: then a create may be resent. */
    readonly idempotencyKeyHeader?: string;
    readonly response: { readonly id: string; readonly key: string };
  };
  readonly list: RequestTemplate & {
    readonly response: {
      readonly items: string;
      readonly id: string;
      readonly name: string;
      readonly createdAt?: string | undefined;
      /** The number of keys across all pages, when the provider says: more than listed is a truncated list. */
      readonly total?: string | undefined;
      /** A flag saying more pages follow (`has_more`): still true after the last page followed is a truncated list. */
      readonly hasMore?: string | undefined;
    };
    readonly pagination?: Pagination | undefined;
  };
  readonly revoke: RequestTemplate & { readonly okStatuses: readonly number[] };
  readonly probe: RequestTemplate & {
    readonly expectStatus: readonly number[];
    /**
     * For providers whose new keys take a while to work everywhere ("might not be immediately
     * visible"): testSecret probes the pending key again, with backoff, while it answers one of
     * `notYetStatuses`, for at most `maxWaitMs` (and never past the step's deadline). After that
     * the same answer means the key was refused.
     */
    readonly propagation?:
      | {
          readonly maxWaitMs: number;
          readonly notYetStatuses: readonly number[];
          readonly baseDelayMs: number;
        }
      | undefined;
  };
  readonly activate?: RequestTemplate & { readonly okStatuses: readonly number[] };
  /**
   * The provider regenerates a key's value in place and answers with the new one (Cloudflare
   * `PUT /user/tokens/{id}/value`): declaring it makes every secret of this description rotate by
   * rolling (strategy `roll-in-place`) instead of minting a new key. The old value dies at the
   * roll, in createSecret: there is no overlap and no rollback (README, "Rolling a key in place").
   * Never resent by the client: a second roll would kill the value the first one returned.
   */
  readonly roll?: RequestTemplate & { readonly response: { readonly key: string } };
  /**
   * Values a secret may set for its own key (`parameters` in the secret: scopes, ACLs, a
   * description), declared here with their type and limits, and usable only in the create
   * request's body and headers as `{{params.<name>}}`. Never in a path, in the string that sends
   * the key's name, or in any other request: nothing a secret's writer sets this way decides where
   * a request goes, which keys are listed, or which are revoked.
   */
  readonly parameters: Readonly<Record<string, ParameterSpec>>;
  /**
   * The provider identifies a key by its value (Algolia: `DELETE /1/keys/{key}`), and the
   * description accepts the one exception this allows (`keyInDeleteUrl: true`): the value of a key
   * being retired goes in the revoke request's path, at the moment it is destroyed, and nowhere
   * else. rotor then knows every key by a fingerprint (`fp-` and 16 hex digits of SHA-256 of the
   * value): what the secret's `keyId` holds, what errors, logs and events show. Only the
   * function's own descriptions may set it (never an inline one); the revoke must be a DELETE to
   * `baseUrl`, which must be https (plain http only on loopback, as everywhere); no other request
   * may name the key in its path.
   */
  readonly keyInDeleteUrl: boolean;
}

/** How rotor names a key whose provider-side id is its value: never the value itself. */
export function keyFingerprint(value: string): string {
  return `fp-${createHash('sha256').update(`rotor key fingerprint\0${value}`, 'utf8').digest('hex').slice(0, 16)}`;
}

/** A per-secret parameter as a description declares it. */
export interface ParameterSpec {
  /** `string`, `strings` (a list of strings), `integer` or `boolean`. */
  readonly type: 'string' | 'strings' | 'integer' | 'boolean';
  /** The values a string (or each string of a list) may take; absent: any within `maxLength`. */
  readonly allowed?: readonly string[] | undefined;
  /** Most characters of a string (each string of a list). Default 256. */
  readonly maxLength: number;
  /** Most entries of a list. Default 64. */
  readonly maxItems: number;
  /** Whether a secret must set it (otherwise a body field holding only it is left out when unset). */
  readonly required: boolean;
}

/** A parameter value a secret set, as validated against its spec. */
export type ParameterValue = string | number | boolean | readonly string[];

/**
 * Variables a template may use; `admin.*` stands for every credential field `admin.<field>`,
 * `admin.public` for the fields the description declares public (identifiers).
 */
type Variable = 'token' | 'name' | 'keyId' | 'key' | 'admin' | 'admin.*' | 'admin.public' | 'params';

/**
 * What each request may refer to. The probe proves the key alone, so it never sees the admin
 * credential (only its public identifiers, such as an application id some probes need).
 */
const ALLOWED: Readonly<Record<string, readonly Variable[]>> = {
  auth: ['admin', 'admin.*', 'admin.public'],
  create: ['token', 'name', 'admin', 'admin.*', 'admin.public', 'params'],
  list: ['admin', 'admin.*', 'admin.public'],
  revoke: ['keyId', 'admin', 'admin.*', 'admin.public'],
  activate: ['keyId', 'admin', 'admin.*', 'admin.public'],
  roll: ['keyId', 'admin', 'admin.*', 'admin.public'],
  probe: ['key', 'keyId', 'admin.public'],
};

/** Credentials never go into a URL: proxies and access logs keep URLs. */
const NEVER_IN_PATH: readonly Variable[] = ['key', 'admin', 'admin.*', 'params'];

/** One `{{...}}`: a variable, or `base64(` operands `)` where operands are variables and quoted literals. */
const EXPRESSION = /\{\{([^{}]*)\}\}/g;
const NAME = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?$/;
const OPERAND = /\s*(?:"([^"{}\\]*)"|'([^'{}\\]*)'|([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)?))\s*/y;

type Operand = { readonly literal: string } | { readonly variable: string };
type Expression = { readonly variable: string } | { readonly base64: readonly Operand[] };

function parseExpression(inner: string): Expression {
  const text = inner.trim();
  if (NAME.test(text)) return { variable: text };
  const call = /^base64\((.*)\)$/s.exec(text);
  if (call === null) throw new TemplateSyntaxError();
  const body = call[1] as string;
  const operands: Operand[] = [];
  for (let at = 0; at < body.length; ) {
    OPERAND.lastIndex = at;
    const match = OPERAND.exec(body);
    if (match === null || OPERAND.lastIndex === at) throw new TemplateSyntaxError();
    const literal = match[1] ?? match[2];
    operands.push(literal === undefined ? { variable: match[3] as string } : { literal });
    at = OPERAND.lastIndex;
  }
  if (!operands.some((operand) => 'variable' in operand)) throw new TemplateSyntaxError();
  return { base64: operands };
}

function expressionVariables(expression: Expression): string[] {
  if ('variable' in expression) return [expression.variable];
  return expression.base64.flatMap((operand) => ('variable' in operand ? [operand.variable] : []));
}

/** The variables a template names, e.g. `['admin.token']`; throws on stray braces or a bad expression. */
function templateVariables(template: string): string[] {
  const names = [...template.matchAll(EXPRESSION)].flatMap((match) =>
    expressionVariables(parseExpression(match[1] as string)),
  );
  const rest = template.replace(EXPRESSION, '');
  if (rest.includes('{{') || rest.includes('}}')) throw new TemplateSyntaxError();
  return names;
}

class TemplateSyntaxError extends Error {}

function variableKind(name: string, publicFields: ReadonlySet<string>): Variable | undefined {
  if (name.startsWith('params.')) return 'params';
  if (name.startsWith('admin.'))
    return publicFields.has(name.slice('admin.'.length)) ? 'admin.public' : 'admin.*';
  return (['token', 'name', 'keyId', 'key', 'admin'] as const).find((known) => known === name);
}

/** Values a template is rendered with. `admin` is the admin secret: a bare string or a JSON object. */
export interface TemplateValues {
  readonly token?: string;
  readonly name?: string;
  readonly keyId?: string;
  readonly key?: string;
  readonly admin?: string | Readonly<Record<string, unknown>>;
  /** The secret's own parameters (already validated against the description's specs). */
  readonly params?: Readonly<Record<string, ParameterValue>>;
}

/** A template names something the values cannot provide (a missing admin field, say). */
export class MissingValueError extends Error {
  constructor(readonly variable: string) {
    super(`no value for {{${variable}}}`);
  }
}

/** Renders a template; `encode` is applied to every substituted value (URL-encoding in paths). */
export function render(template: string, values: TemplateValues, encode = (s: string) => s): string {
  return template.replace(EXPRESSION, (_match, inner: string) => {
    const expression = parseExpression(inner);
    if ('variable' in expression) return encode(lookup(expression.variable, values));
    const joined = expression.base64
      .map((operand) => ('literal' in operand ? operand.literal : lookup(operand.variable, values)))
      .join('');
    return encode(Buffer.from(joined, 'utf8').toString('base64'));
  });
}

function lookup(name: string, values: TemplateValues): string {
  let value: unknown;
  if (name.startsWith('params.')) {
    // A parameter inside a longer string: an unset optional one renders as nothing.
    const param = values.params?.[name.slice('params.'.length)];
    if (param === undefined) return '';
    return Array.isArray(param) ? param.join(',') : String(param);
  }
  if (name.startsWith('admin.')) {
    const admin = values.admin;
    value = typeof admin === 'object' ? admin[name.slice('admin.'.length)] : undefined;
    if (typeof value === 'number') value = String(value);
  } else value = values[name as keyof TemplateValues];
  if (typeof value !== 'string' || value === '') throw new MissingValueError(name);
  return value;
}

/** A string leaf that is one parameter and nothing else: it takes the parameter's own JSON type. */
const WHOLE_PARAMETER = /^\{\{\s*params\.([A-Za-z0-9_-]+)\s*\}\}$/;

/** Marks a field whose only content is an unset optional parameter: the field is left out. */
const UNSET = Symbol('unset');

/**
 * Renders every string leaf of a JSON body template. A leaf that is exactly `{{params.<name>}}`
 * becomes the parameter's value with its type (a list stays a list), or is left out when unset.
 */
export function renderJson(template: Json, values: TemplateValues): Json {
  const rendered = renderNode(template, values);
  return rendered === UNSET ? null : rendered;
}

function renderNode(template: Json, values: TemplateValues): Json | typeof UNSET {
  if (typeof template === 'string') {
    const whole = WHOLE_PARAMETER.exec(template);
    if (whole === null) return render(template, values);
    const param = values.params?.[whole[1] as string];
    return param === undefined ? UNSET : (param as Json);
  }
  if (Array.isArray(template)) {
    return template.map((item: Json) => renderNode(item, values)).filter((item) => item !== UNSET) as Json;
  }
  if (typeof template === 'object' && template !== null) {
    const entries = Object.entries(template).map(([k, item]) => [k, renderNode(item, values)] as const);
    return Object.fromEntries(entries.filter(([, item]) => item !== UNSET)) as Json;
  }
  return template;
}

/** A value that would be a dot segment: URL parsers resolve `..` (and `%2E%2E`) and climb out. */
class DotSegmentError extends Error {}

function encodePathValue(value: string): string {
  if (value === '.' || value === '..') throw new DotSegmentError();
  return encodeURIComponent(value);
}

/**
 * Reads a value at a dot path (`data.keys`, `items.0.id`) or a JSON pointer (`/data/keys`).
 * The empty string is the whole document.
 */
export function readPath(document: unknown, path: string): unknown {
  if (path === '') return document;
  const segments = path.startsWith('/')
    ? path
        .slice(1)
        .split('/')
        .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    : path.split('.');
  let node: unknown = document;
  for (const segment of segments) {
    if (Array.isArray(node)) node = /^\d+$/.test(segment) ? node[Number(segment)] : undefined;
    else if (typeof node === 'object' && node !== null && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return node;
}

/** Whether a host may be reached over plain http (only this machine). */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Where a description is wrong: the dotted field and what it expected. */
interface DescriptionIssue {
  readonly field: string;
  readonly expected: string;
}

const pathSyntax = v.pipe(
  v.string(),
  v.check(
    (path) =>
      path === '' || /^(\/([^~/]|~[01])*)+$/.test(path) || /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(path),
    'must be a dot path (data.keys) or a JSON pointer (/data/keys)',
  ),
);

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** Headers that would change where or how the request travels rather than what it says. */
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-authorization',
  'forwarded',
  'x-forwarded-host',
]);

const headerName = v.pipe(
  v.string(),
  v.regex(HEADER_NAME, 'must be an HTTP header name'),
  v.check((name) => !FORBIDDEN_HEADERS.has(name.toLowerCase()), 'must not be a hop-by-hop or routing header'),
);
const headerValue = v.pipe(
  v.string(),
  v.maxLength(4096, 'must be at most 4096 characters'),
  v.check((value) => !/[\r\n\0]/.test(value), 'must not contain line breaks'),
);

function int(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return v.pipe(v.number(), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
}

const statusList = v.pipe(v.array(int(100, 599)), v.minLength(1, 'must list at least one HTTP status'));

const json: v.GenericSchema<Json> = v.lazy(() =>
  v.union([v.null(), v.boolean(), v.number(), v.string(), v.array(json), v.record(v.string(), json)]),
);

function requestEntries() {
  return {
    method: v.picklist(METHODS, `must be one of ${METHODS.join(', ')}`),
    path: v.pipe(
      v.string(),
      v.minLength(1, 'must be a path starting with /'),
      v.maxLength(2048, 'must be at most 2048 characters'),
    ),
    headers: v.optional(v.record(headerName, headerValue)),
    body: v.optional(json),
    encoding: v.optional(v.picklist(['json', 'form'], 'must be "json" or "form"')),
  };
}

const queryParam = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9_.[\]-]{1,64}$/,
    'must be a query parameter name of at most 64 letters, digits or _.[]-',
  ),
);

const maxPages = v.optional(int(1, 1000), 100);

const PaginationSchema = v.variant('style', [
  v.strictObject({
    style: v.literal('page'),
    pageParam: queryParam,
    sizeParam: v.optional(queryParam),
    size: int(1, 1000),
    firstPage: v.optional(int(0, 1), 1),
    maxPages,
  }),
  v.strictObject({ style: v.literal('cursor'), param: queryParam, next: pathSyntax, maxPages }),
  v.strictObject({ style: v.literal('next-link'), next: pathSyntax, maxPages }),
  v.strictObject({ style: v.literal('link-header'), maxPages }),
]);

const secretId = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9/_+=.@!:-]{1,2048}$/,
    'must be a secret name, partial ARN or full ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
  ),
);

const DescriptionSchema = v.strictObject({
  baseUrl: v.pipe(v.string(), v.maxLength(2048, 'must be at most 2048 characters')),
  adminSecret: v.optional(secretId),
  adminSecrets: v.optional(
    v.pipe(v.array(secretId), v.minLength(1, 'must list at least one admin secret when present')),
  ),
  manages: v.optional(
    v.array(
      v.pipe(
        v.string(),
        v.regex(/^[A-Za-z0-9/_+=.@!:*?-]{1,2048}$/, 'must be secret ARN patterns (* and ? as wildcards)'),
      ),
    ),
  ),
  auth: v.strictObject({ header: headerName, value: headerValue }),
  publicAdminFields: v.optional(
    v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be admin secret field names'))),
    [],
  ),
  maxLiveKeys: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be an integer'),
      v.minValue(2, 'must be at least 2: the current key and the new one are live together during rotation'),
      v.maxValue(1000, 'must be at most 1000'),
    ),
    2,
  ),
  timeoutMs: v.optional(int(100, 60_000), 10_000),
  retry: v.optional(
    v.strictObject({
      attempts: v.optional(int(1, 10), 4),
      baseDelayMs: v.optional(int(1, 10_000), 200),
    }),
    {},
  ),
  create: v.strictObject({
    ...requestEntries(),
    idempotencyKeyHeader: v.optional(headerName),
    response: v.strictObject({ id: pathSyntax, key: pathSyntax }),
  }),
  list: v.strictObject({
    ...requestEntries(),
    response: v.strictObject({
      items: pathSyntax,
      id: pathSyntax,
      name: pathSyntax,
      createdAt: v.optional(pathSyntax),
      total: v.optional(pathSyntax),
      hasMore: v.optional(pathSyntax),
    }),
    pagination: v.optional(PaginationSchema),
  }),
  revoke: v.strictObject({
    ...requestEntries(),
    idempotent: v.optional(v.boolean()),
    okStatuses: v.optional(statusList),
  }),
  probe: v.strictObject({
    ...requestEntries(),
    idempotent: v.optional(v.boolean()),
    expectStatus: v.optional(statusList),
    propagation: v.optional(
      v.strictObject({
        maxWaitMs: int(100, 600_000),
        notYetStatuses: v.optional(statusList, [401, 403, 404]),
        baseDelayMs: v.optional(int(10, 60_000), 500),
      }),
    ),
  }),
  activate: v.optional(
    v.strictObject({
      ...requestEntries(),
      idempotent: v.optional(v.boolean()),
      okStatuses: v.optional(statusList),
    }),
  ),
  roll: v.optional(
    v.strictObject({
      ...requestEntries(),
      response: v.strictObject({ key: pathSyntax }),
    }),
  ),
  keyInDeleteUrl: v.optional(v.literal(true, 'must be true (or left out)')),
  parameters: v.optional(
    v.record(
      v.pipe(
        v.string(),
        v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be parameter names of 1 to 64 letters, digits or _-'),
      ),
      v.strictObject({
        type: v.picklist(
          ['string', 'strings', 'integer', 'boolean'],
          'must be "string", "strings", "integer" or "boolean"',
        ),
        allowed: v.optional(
          v.pipe(
            v.array(v.pipe(v.string(), v.maxLength(1024, 'must be values of at most 1024 characters'))),
            v.minLength(1, 'must list at least one value when present'),
            v.maxLength(1000, 'must list at most 1000 values'),
          ),
        ),
        maxLength: v.optional(int(1, 4096), 256),
        maxItems: v.optional(int(1, 1000), 64),
        required: v.optional(v.boolean(), false),
      }),
    ),
    {},
  ),
});

type RawDescription = v.InferOutput<typeof DescriptionSchema>;
type RawRequest = RawDescription['revoke'];

function schemaIssue(issue: v.BaseIssue<unknown>): DescriptionIssue {
  const field = v.getDotPath(issue) ?? '(description)';
  if (issue.type === 'strict_object' && issue.received !== 'undefined' && issue.expected === 'never') {
    return { field, expected: 'is not a known field' };
  }
  // Default messages quote the received value: only messages written here are shown.
  if (issue.kind === 'validation' && issue.message && !/received/i.test(issue.message)) {
    return { field, expected: issue.message };
  }
  if (issue.received === 'undefined')
    return { field, expected: `is required (expected ${issue.expected ?? 'a value'})` };
  return { field, expected: `must be ${issue.expected ?? 'valid'}` };
}

class Invalid extends Error {
  constructor(readonly issue: DescriptionIssue) {
    super(issue.field);
  }
}

function fail(field: string, expected: string): never {
  throw new Invalid({ field, expected });
}

/** The parameters the description being compiled declares (set by compileProvider). */
let declared: ReadonlySet<string> = new Set();

function checkTemplate(
  template: string,
  field: string,
  request: string,
  inPath: boolean,
  publicFields: ReadonlySet<string>,
): void {
  let names: string[];
  try {
    names = templateVariables(template);
  } catch {
    fail(
      field,
      'has a "{{" or "}}" that is not a {{variable}} or a {{base64(...)}} of variables and quoted text',
    );
  }
  const allowed = ALLOWED[request] ?? [];
  for (const name of names) {
    const kind = variableKind(name, publicFields);
    if (kind === undefined || !allowed.includes(kind)) {
      fail(field, `uses {{${name}}}; ${request} templates may use ${allowed.map(shown).join(', ')}`);
    }
    if (inPath && kind === 'params') {
      fail(field, `uses {{${name}}} in a path: a secret's parameters never choose where a request goes`);
    }
    if (inPath && NEVER_IN_PATH.includes(kind)) {
      fail(field, `uses {{${name}}} in a URL, where logs would keep it; send it in a header or the body`);
    }
    if (kind === 'params' && !declared.has(name.slice('params.'.length))) {
      fail(field, `uses {{${name}}}, which "parameters" does not declare`);
    }
  }
  if (names.includes('name') && names.some((name) => name.startsWith('params.'))) {
    // The key's name proves whose it is: a writer's value next to it could forge or hide the tag.
    fail(field, "mixes {{name}} with a parameter: the key name is rotor's alone");
  }
}

function shown(variable: Variable): string {
  if (variable === 'admin.*') return '{{admin.<field>}}';
  if (variable === 'admin.public') return '{{admin.<public field>}}';
  return `{{${variable}}}`;
}

function checkJsonTemplate(
  template: Json,
  field: string,
  request: string,
  publicFields: ReadonlySet<string>,
): void {
  if (typeof template === 'string') checkTemplate(template, field, request, false, publicFields);
  else if (typeof template === 'object' && template !== null) {
    // Arrays too: their entries are keyed by index.
    for (const [key, item] of Object.entries(template))
      checkJsonTemplate(item, `${field}.${key}`, request, publicFields);
  }
}

function checkBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail('baseUrl', 'must be an absolute URL such as https://api.example.com/v1');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    fail('baseUrl', 'must use https (plain http is allowed for localhost only)');
  }
  if (url.username !== '' || url.password !== '') fail('baseUrl', 'must not carry a user name or password');
  if (url.search !== '' || url.hash !== '') fail('baseUrl', 'must not have a query or a fragment');
  return url;
}

function checkPath(
  template: string,
  field: string,
  request: string,
  publicFields: ReadonlySet<string>,
): void {
  checkTemplate(template, field, request, true, publicFields);
  // A path, never a location: no scheme, no authority, no backslashes, no climbing out of the base path.
  if (!template.startsWith('/') || template.startsWith('//'))
    fail(field, 'must be a path starting with a single /');
  if (/[\\#\s]|:\/\/|%2f|%5c/i.test(template)) {
    fail(field, 'must be a path on the provider (no host, scheme, backslash, fragment or encoded slash)');
  }
  const pathOnly = template.split('?')[0] ?? '';
  if (pathOnly.split('/').some((segment) => segment === '.' || segment === '..' || /^%2e/i.test(segment))) {
    fail(field, 'must not contain . or .. segments');
  }
}

/**
 * `keyInDeleteUrl`: the key's value may go only in a DELETE's path (the revoke), nowhere else a
 * key id could be rendered (the probe, an activation), and only over https (or loopback).
 */
function checkKeyInDeleteUrl(d: RawDescription): void {
  if (d.revoke.method !== 'DELETE') fail('revoke.method', 'must be DELETE with keyInDeleteUrl');
  if (!templateVariables(d.revoke.path).includes('keyId')) {
    fail('revoke.path', 'must name the key ({{keyId}}) with keyInDeleteUrl');
  }
  if (d.activate !== undefined)
    fail('activate', 'is not allowed with keyInDeleteUrl (it would name the key)');
  if (d.roll !== undefined) fail('roll', 'is not allowed with keyInDeleteUrl (it would name the key)');
  if (requestVariables(d.probe).includes('keyId')) {
    fail('probe', 'must not use {{keyId}} with keyInDeleteUrl: the id is the key');
  }
  const revokeRest = [...Object.values(d.revoke.headers ?? {})];
  if (revokeRest.some((value) => templateVariables(value).includes('keyId')) || d.revoke.body !== undefined) {
    fail('revoke', 'must name the key in its path only with keyInDeleteUrl');
  }
}

/** Every variable a request template names, wherever it sits. */
function requestVariables(raw: Pick<RawRequest, 'path' | 'headers' | 'body'>): string[] {
  const strings: string[] = [raw.path, ...Object.values(raw.headers ?? {})];
  const walk = (node: Json | undefined): void => {
    if (typeof node === 'string') strings.push(node);
    else if (typeof node === 'object' && node !== null) for (const item of Object.values(node)) walk(item);
  };
  walk(raw.body);
  return strings.flatMap(templateVariables);
}

function compileRequest(
  raw: RawRequest,
  request: string,
  publicFields: ReadonlySet<string>,
): RequestTemplate {
  checkPath(raw.path, `${request}.path`, request, publicFields);
  for (const [name, value] of Object.entries(raw.headers ?? {})) {
    checkTemplate(value, `${request}.headers.${name}`, request, false, publicFields);
  }
  const encoding = raw.encoding ?? 'json';
  if (raw.body !== undefined) {
    if (raw.method === 'GET' || raw.method === 'HEAD')
      fail(`${request}.body`, `is not allowed on a ${raw.method} request`);
    checkJsonTemplate(raw.body, `${request}.body`, request, publicFields);
    if (encoding === 'form' && !isFlatForm(raw.body)) {
      fail(
        `${request}.body`,
        'must be an object of strings, numbers, booleans or lists of them to be sent as a form',
      );
    }
  } else if (raw.encoding !== undefined) {
    fail(`${request}.encoding`, 'is set, but the request has no body');
  }
  return {
    method: raw.method,
    path: raw.path,
    headers: raw.headers ?? {},
    ...(raw.body === undefined ? {} : { body: raw.body }),
    encoding,
    idempotent: raw.idempotent ?? IDEMPOTENT_METHODS.has(raw.method),
  };
}

const isScalar = (value: Json): boolean => ['string', 'number', 'boolean'].includes(typeof value);

/** A body a form can carry: one level of fields, each a scalar or a list of scalars (repeated). */
function isFlatForm(body: Json): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return Object.values(body).every(
    (value) => isScalar(value) || (Array.isArray(value) && value.every((item: Json) => isScalar(item))),
  );
}

/**
 * Validates a description and compiles it. Returns the first problem found instead of throwing,
 * so the caller picks the error class: ConfigurationError for the function's own providers,
 * InvalidSecretError for a description kept inline in a secret.
 */
export function compileProvider(
  name: string,
  raw: unknown,
): { provider: Provider; issue?: undefined } | { provider?: undefined; issue: DescriptionIssue } {
  // A preset by name (`{"preset": "twilio"}`) becomes a full description, validated like any other.
  const expanded = expandPreset(raw);
  if (expanded.issue !== undefined) return { issue: expanded.issue };
  const result = v.safeParse(DescriptionSchema, expanded.description, { abortEarly: true });
  if (!result.success) return { issue: schemaIssue(result.issues[0]) };
  const d = result.output;
  declared = new Set(Object.keys(d.parameters));
  try {
    const baseUrl = checkBaseUrl(d.baseUrl);
    const publicFields: ReadonlySet<string> = new Set(d.publicAdminFields);
    checkTemplate(d.auth.value, 'auth.value', 'auth', false, publicFields);
    if (templateVariables(d.auth.value).length === 0)
      fail('auth.value', 'must use the admin credential ({{admin}} or {{admin.<field>}})');
    const create = compileRequest(
      { ...d.create, idempotent: d.create.idempotencyKeyHeader !== undefined },
      'create',
      publicFields,
    );
    const list = compileRequest(d.list, 'list', publicFields);
    if (!requestVariables(d.create).includes('name')) {
      // The name is how a retried step recognises the key it minted: without it, keys leak.
      fail('create.body', 'must send the key name ({{name}}) so a retried step can find the key it minted');
    }
    const byValue = d.keyInDeleteUrl === true;
    if (byValue) checkKeyInDeleteUrl(d);
    else if (d.create.response.id === d.create.response.key) {
      // Algolia, for one: revoking would put the key in a URL, where access logs keep it.
      fail(
        'create.response.id',
        'names the key itself: a provider that identifies keys by their value needs the key in a URL to revoke it, which rotor does only for a description that accepts it (keyInDeleteUrl: true)',
      );
    }
    const revoke = compileRequest(d.revoke, 'revoke', publicFields);
    if (!requestVariables(d.revoke).includes('keyId')) {
      fail('revoke.path', 'must name the key to revoke ({{keyId}})');
    }
    const probe = compileRequest(d.probe, 'probe', publicFields);
    if (!requestVariables(d.probe).includes('key')) {
      fail('probe.headers', 'must send the key ({{key}}) in a header or the body');
    }
    // Never resent: a second roll kills the value the first one answered with.
    const roll =
      d.roll === undefined
        ? undefined
        : { ...compileRequest(d.roll, 'roll', publicFields), idempotent: false, response: d.roll.response };
    if (d.roll !== undefined && !requestVariables(d.roll).includes('keyId')) {
      fail('roll.path', 'must name the key to roll ({{keyId}})');
    }
    const provider: Provider = {
      name,
      baseUrl,
      publicAdminFields: publicFields,
      adminSecrets: [...(d.adminSecret === undefined ? [] : [d.adminSecret]), ...(d.adminSecrets ?? [])],
      ...(d.manages === undefined ? {} : { manages: d.manages }),
      auth: d.auth,
      maxLiveKeys: d.maxLiveKeys,
      timeoutMs: d.timeoutMs,
      retry: { attempts: d.retry.attempts, baseDelayMs: d.retry.baseDelayMs },
      create: {
        ...create,
        ...(d.create.idempotencyKeyHeader === undefined
          ? {}
          : { idempotencyKeyHeader: d.create.idempotencyKeyHeader }),
        response: d.create.response,
      },
      list: {
        ...list,
        response: d.list.response,
        ...(d.list.pagination === undefined ? {} : { pagination: d.list.pagination }),
      },
      revoke: { ...revoke, okStatuses: d.revoke.okStatuses ?? [200, 202, 204, 404, 410] },
      probe: {
        ...probe,
        expectStatus: d.probe.expectStatus ?? [200],
        ...(d.probe.propagation === undefined ? {} : { propagation: d.probe.propagation }),
      },
      parameters: d.parameters,
      keyInDeleteUrl: byValue,
      ...(d.activate === undefined
        ? {}
        : {
            activate: {
              ...compileRequest(d.activate, 'activate', publicFields),
              okStatuses: d.activate.okStatuses ?? [200, 201, 202, 204],
            },
          }),
      ...(roll === undefined ? {} : { roll }),
    };
    return { provider };
  } catch (error) {
    if (error instanceof Invalid) return { issue: error.issue };
    throw error;
  } finally {
    declared = new Set();
  }
}

/**
 * The URL of a rendered request, checked once more against the base URL: whatever the values
 * (key ids come from the provider), the request stays on the provider's origin and under its path.
 */
export function requestUrl(
  provider: Provider,
  template: RequestTemplate,
  values: TemplateValues,
): URL | undefined {
  const base = provider.baseUrl;
  const basePath = base.pathname.replace(/\/+$/, '');
  let path: string;
  try {
    path = render(template.path, values, encodePathValue);
  } catch (error) {
    if (error instanceof DotSegmentError) return undefined;
    throw error;
  }
  const url = new URL(`${base.origin}${basePath}${path}`);
  if (url.origin !== base.origin || !url.pathname.startsWith(`${basePath}/`)) return undefined;
  return url;
}

/**
 * Validates the parameters a secret sets (`parameters`) against what its provider description
 * declares: an undeclared name, a wrong type, a value not allowed or too long, a required one
 * missing. Returns the values, or the first problem (field and what was expected, never the value).
 */
export function checkParameters(
  provider: Provider,
  raw: unknown,
): { values: Readonly<Record<string, ParameterValue>>; issue?: undefined } | { issue: DescriptionIssue } {
  const given = raw === undefined ? {} : raw;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    return { issue: { field: 'parameters', expected: 'must be an object of parameter values' } };
  }
  const values: Record<string, ParameterValue> = {};
  for (const [name, value] of Object.entries(given)) {
    const spec = Object.hasOwn(provider.parameters, name) ? provider.parameters[name] : undefined;
    // A name the writer chose is shown only when it is a plain identifier.
    const field = /^[A-Za-z0-9_-]{1,64}$/.test(name) ? `parameters.${name}` : 'parameters';
    if (spec === undefined) {
      const known = Object.keys(provider.parameters);
      return {
        issue: {
          field,
          expected: `is not a parameter provider "${provider.name}" declares (${known.length === 0 ? 'none' : known.join(', ')})`,
        },
      };
    }
    const problem = parameterProblem(spec, value);
    if (problem !== undefined) return { issue: { field, expected: problem } };
    values[name] = value as ParameterValue;
  }
  for (const [name, spec] of Object.entries(provider.parameters)) {
    if (spec.required && values[name] === undefined) {
      return {
        issue: { field: `parameters.${name}`, expected: `is required by provider "${provider.name}"` },
      };
    }
  }
  return { values };
}

function parameterProblem(spec: ParameterSpec, value: unknown): string | undefined {
  const text = (item: unknown): string | undefined => {
    if (typeof item !== 'string') return 'must be a string';
    if (item.length > spec.maxLength) return `must be at most ${spec.maxLength} characters`;
    if ([...item].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
      return 'must not contain control characters';
    if (spec.allowed !== undefined && !spec.allowed.includes(item)) {
      return `must be one of ${spec.allowed.slice(0, 20).join(', ')}${spec.allowed.length > 20 ? ', ...' : ''}`;
    }
    return undefined;
  };
  switch (spec.type) {
    case 'string':
      return text(value);
    case 'strings': {
      if (!Array.isArray(value)) return 'must be a list of strings';
      if (value.length > spec.maxItems) return `must list at most ${spec.maxItems} values`;
      for (const item of value) {
        const problem = text(item);
        if (problem !== undefined) return `entries ${problem.replace(/^must be /, 'must each be ')}`;
      }
      return undefined;
    }
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : 'must be an integer';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
  }
}
