/**
 * Ready provider descriptions for providers teams use, by name: a registered description
 * `{"preset": "<name>", ...options}` expands to the full description below (provider.ts format),
 * then is validated like any other. Each preset follows its provider's documented API and is
 * tested against a local fake of it (local/providerFakes.ts, test/apikey/presets.test.ts).
 *
 * | preset       | admin secret (adminSecretArn) fields                   | options                                   |
 * |--------------|--------------------------------------------------------|-------------------------------------------|
 * | `datadog`    | `apiKey`, `appKey` (with `api_keys_read`/`_write`)     | `site` (default `datadoghq.com`)          |
 * | `sendgrid`   | `apiKey` (a key allowed to manage API keys)            | `region` (`global`, `eu`), `scopes`       |
 * | `cloudflare` | `token` (a user API token with "API Tokens Write")    | `policies` (required unless `roll`), `roll` |
 * | `twilio`     | `accountSid` (public: used in paths), `authToken`      | none                                      |
 * | `algolia`    | `apiKey` (the admin API key, or a key with `admin` ACL) | `applicationId` (required), `probeIndex` |
 *
 * Every preset also takes `baseUrl` (another region or a proxy; still https, checked like any
 * base URL), `maxLiveKeys`, `adminSecret` / `adminSecrets` (the admin secrets it pins) and
 * `manages` (the rotated secrets that may name it), see provider.ts.
 */
import type { Json } from './json.js';

/** Where a preset's options are wrong. */
export interface PresetIssue {
  readonly field: string;
  readonly expected: string;
}

type Options = Readonly<Record<string, unknown>>;
type Preset = {
  readonly options: readonly string[];
  build(options: Options): Record<string, unknown> | PresetIssue;
};

const COMMON = ['preset', 'baseUrl', 'maxLiveKeys', 'adminSecret', 'adminSecrets', 'manages'];

/** The options every preset takes, as description fields. */
function common(options: Options, baseUrl: string): Record<string, unknown> {
  return {
    baseUrl: options.baseUrl ?? baseUrl,
    ...(options.maxLiveKeys === undefined ? {} : { maxLiveKeys: options.maxLiveKeys }),
    ...(options.adminSecret === undefined ? {} : { adminSecret: options.adminSecret }),
    ...(options.adminSecrets === undefined ? {} : { adminSecrets: options.adminSecrets }),
    ...(options.manages === undefined ? {} : { manages: options.manages }),
  };
}

const PRESETS: Readonly<Record<string, Preset>> = {
  algolia: { options: [...COMMON, 'applicationId', 'probeIndex'], build: algoliaPreset },
  /**
   * Datadog API keys v2: https://docs.datadoghq.com/api/latest/key-management/ (both admin keys on
   * every management call; JSON:API bodies; `page[number]` from 0, `page[size]` at most 100;
   * `meta.page.total_filtered_count`), GET /api/v1/validate for the probe
   * (https://docs.datadoghq.com/api/latest/authentication/).
   */
  datadog: {
    options: [...COMMON, 'site'],
    build(options) {
      const site = options.site ?? 'datadoghq.com';
      if (typeof site !== 'string' || !/^[a-z0-9]+(?:[.-][a-z0-9]+)*$/.test(site)) {
        return {
          field: 'site',
          expected: 'must be a Datadog site such as "datadoghq.com" or "datadoghq.eu"',
        };
      }
      const headers = { 'DD-APPLICATION-KEY': '{{admin.appKey}}' };
      return {
        ...common(options, `https://api.${site}/api`),
        auth: { header: 'DD-API-KEY', value: '{{admin.apiKey}}' },
        maxLiveKeys: options.maxLiveKeys ?? 1000,
        create: {
          method: 'POST',
          path: '/v2/api_keys',
          headers,
          body: { data: { type: 'api_keys', attributes: { name: '{{name}}' } } },
          response: { id: 'data.id', key: 'data.attributes.key' },
        },
        list: {
          method: 'GET',
          path: '/v2/api_keys',
          headers,
          response: {
            items: 'data',
            id: 'id',
            name: 'attributes.name',
            createdAt: 'attributes.created_at',
            total: 'meta.page.total_filtered_count',
          },
          pagination: {
            style: 'page',
            pageParam: 'page[number]',
            sizeParam: 'page[size]',
            size: 100,
            firstPage: 0,
          },
        },
        revoke: { method: 'DELETE', path: '/v2/api_keys/{{keyId}}', headers },
        probe: { method: 'GET', path: '/v1/validate', headers: { 'DD-API-KEY': '{{key}}' } },
      };
    },
  },

  /**
   * SendGrid v3 API keys: https://www.twilio.com/docs/sendgrid/api-reference/api-keys (Bearer;
   * `{"name", "scopes"}`; at most 100 keys per account, so one `limit=100` list is all of them),
   * GET /v3/scopes for the probe.
   */
  sendgrid: {
    options: [...COMMON, 'region', 'scopes'],
    build(options) {
      const region = options.region ?? 'global';
      if (region !== 'global' && region !== 'eu')
        return { field: 'region', expected: 'must be "global" or "eu"' };
      const scopes = options.scopes;
      if (
        scopes !== undefined &&
        (!Array.isArray(scopes) ||
          scopes.length === 0 ||
          !scopes.every((s) => typeof s === 'string' && /^[a-z0-9_.-]{1,128}$/.test(s)))
      ) {
        return {
          field: 'scopes',
          expected: 'must be a non-empty list of SendGrid scopes such as "mail.send"',
        };
      }
      return {
        ...common(
          options,
          region === 'eu' ? 'https://api.eu.sendgrid.com/v3' : 'https://api.sendgrid.com/v3',
        ),
        auth: { header: 'Authorization', value: 'Bearer {{admin.apiKey}}' },
        maxLiveKeys: options.maxLiveKeys ?? 100,
        create: {
          method: 'POST',
          path: '/api_keys',
          body: { name: '{{name}}', ...(scopes === undefined ? {} : { scopes: scopes as Json }) },
          response: { id: 'api_key_id', key: 'api_key' },
        },
        list: {
          method: 'GET',
          path: '/api_keys?limit=100',
          response: { items: 'result', id: 'api_key_id', name: 'name' },
        },
        revoke: { method: 'DELETE', path: '/api_keys/{{keyId}}' },
        probe: { method: 'GET', path: '/scopes', headers: { Authorization: 'Bearer {{key}}' } },
      };
    },
  },

  /**
   * Cloudflare user API tokens: https://developers.cloudflare.com/api/resources/user/subresources/tokens/
   * (policies required at creation; `page`/`per_page` at most 50 with `result_info.total_count`;
   * the secret is `result.value`), GET /user/tokens/verify with the token for the probe.
   */
  cloudflare: {
    options: [...COMMON, 'policies', 'roll'],
    build(options) {
      const { policies, roll } = options;
      if (roll !== undefined && roll !== true)
        return { field: 'roll', expected: 'must be true (or left out)' };
      // Rolling never mints: the policies of minted tokens are then not needed.
      if (roll === true && policies === undefined) return cloudflarePreset(options, undefined);
      if (
        !Array.isArray(policies) ||
        policies.length === 0 ||
        !policies.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p))
      ) {
        return {
          field: 'policies',
          expected:
            'is required: the Cloudflare policies of the tokens rotor mints (a non-empty list of objects)',
        };
      }
      return cloudflarePreset(options, policies as Json);
    },
  },

  /**
   * Twilio Key resource v2010: https://www.twilio.com/docs/iam/api-keys/key-resource-v2010
   * (form-encoded `FriendlyName`; Basic AccountSid:AuthToken; paging by `next_page_uri`). A
   * Standard key cannot read the Keys or Accounts resources, so the probe reads Messages with
   * Basic `<key sid>:<secret>`.
   */
  twilio: {
    options: COMMON,
    build(options) {
      const account = '/Accounts/{{admin.accountSid}}';
      return {
        ...common(options, 'https://api.twilio.com/2010-04-01'),
        publicAdminFields: ['accountSid'],
        auth: { header: 'Authorization', value: 'Basic {{base64(admin.accountSid ":" admin.authToken)}}' },
        maxLiveKeys: options.maxLiveKeys ?? 1000,
        create: {
          method: 'POST',
          path: `${account}/Keys.json`,
          encoding: 'form',
          body: { FriendlyName: '{{name}}' },
          response: { id: 'sid', key: 'secret' },
        },
        list: {
          method: 'GET',
          path: `${account}/Keys.json?PageSize=50`,
          response: { items: 'keys', id: 'sid', name: 'friendly_name', createdAt: 'date_created' },
          pagination: { style: 'next-link', next: 'next_page_uri' },
        },
        revoke: { method: 'DELETE', path: `${account}/Keys/{{keyId}}.json` },
        probe: {
          method: 'GET',
          path: `${account}/Messages.json?PageSize=1`,
          headers: { Authorization: 'Basic {{base64(keyId ":" key)}}' },
        },
      };
    },
  },
};

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
];

/**
 * Algolia Search API keys: https://www.algolia.com/doc/rest-api/search/ (POST /1/keys with `acl`
 * (required) and `description`, answering `{key, createdAt}`; GET /1/keys, every key in one
 * answer; DELETE /1/keys/{key}; `X-Algolia-Application-Id` + `X-Algolia-API-Key`). A key's id is
 * its value: the preset accepts `keyInDeleteUrl` (the retiring key goes in its DELETE request line,
 * over https to `<applicationId>.algolia.net`, and nowhere else), and rotor finds its keys by the
 * `description` it gives them. A new key "might not be immediately visible": testSecret waits up to
 * 60 s for it. Each secret sets its key's `acl` (required) and `indexes` as `parameters`. The probe
 * lists indices (ACL `listIndexes`), or searches `probeIndex` (ACL `search`) when set.
 */
function algoliaPreset(options: Options): Record<string, unknown> | PresetIssue {
  const app = options.applicationId;
  if (typeof app !== 'string' || !/^[A-Za-z0-9]{1,32}$/.test(app)) {
    return {
      field: 'applicationId',
      expected: 'is required: the Algolia application id (letters and digits)',
    };
  }
  const index = options.probeIndex;
  if (index !== undefined && (typeof index !== 'string' || !/^[A-Za-z0-9_.-]{1,128}$/.test(index))) {
    return { field: 'probeIndex', expected: 'must be an index name of letters, digits or _.-' };
  }
  const headers = { 'X-Algolia-Application-Id': app };
  return {
    ...common(options, `https://${app.toLowerCase()}.algolia.net`),
    keyInDeleteUrl: true,
    auth: { header: 'X-Algolia-API-Key', value: '{{admin.apiKey}}' },
    maxLiveKeys: options.maxLiveKeys ?? 1000,
    parameters: {
      acl: { type: 'strings', allowed: ALGOLIA_ACLS, required: true, maxItems: ALGOLIA_ACLS.length },
      indexes: { type: 'strings', maxLength: 256, maxItems: 100 },
    },
    create: {
      method: 'POST',
      path: '/1/keys',
      headers,
      body: { acl: '{{params.acl}}', description: '{{name}}', indexes: '{{params.indexes}}' },
      response: { id: 'key', key: 'key' },
    },
    list: {
      method: 'GET',
      path: '/1/keys',
      headers,
      response: { items: 'keys', id: 'value', name: 'description', createdAt: 'createdAt' },
    },
    revoke: { method: 'DELETE', path: '/1/keys/{{keyId}}', headers },
    probe: {
      method: 'GET',
      path: index === undefined ? '/1/indexes' : `/1/indexes/${index}?hitsPerPage=0`,
      headers: { ...headers, 'X-Algolia-API-Key': '{{key}}' },
      propagation: { maxWaitMs: 60_000, notYetStatuses: [403], baseDelayMs: 250 },
    },
  };
}

/** The names `preset` may take. */
const PRESET_NAMES: readonly string[] = Object.keys(PRESETS);

/**
 * Expands `{"preset": name, ...options}` into a full description, or says what is wrong. A value
 * without `preset` is returned as it is.
 */
export function expandPreset(
  raw: unknown,
): { description: unknown; issue?: undefined } | { issue: PresetIssue } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('preset' in raw)) {
    return { description: raw };
  }
  const options = raw as Options;
  const preset = typeof options.preset === 'string' ? PRESETS[options.preset] : undefined;
  if (preset === undefined || !Object.hasOwn(PRESETS, options.preset as string)) {
    return { issue: { field: 'preset', expected: `must be one of ${PRESET_NAMES.join(', ')}` } };
  }
  const unknown = Object.keys(options).find((field) => !preset.options.includes(field));
  if (unknown !== undefined) {
    return {
      issue: {
        field: unknown.slice(0, 64),
        expected: `is not an option of preset "${String(options.preset)}" (it takes ${preset.options.slice(1).join(', ')})`,
      },
    };
  }
  const built = preset.build(options);
  return 'expected' in built ? { issue: built as PresetIssue } : { description: built };
}

/**
 * Cloudflare's description; with `roll: true`, also "Roll Token" (PUT
 * /user/tokens/{token_id}/value, https://developers.cloudflare.com/api/resources/user/subresources/tokens/subresources/value/methods/update:
 * body `{}`, the new secret in `result`), which makes its secrets rotate by rolling.
 */
function cloudflarePreset(options: Options, policies: Json | undefined): Record<string, unknown> {
  return {
    ...common(options, 'https://api.cloudflare.com/client/v4'),
    auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
    maxLiveKeys: options.maxLiveKeys ?? 1000,
    create: {
      method: 'POST',
      path: '/user/tokens',
      body: { name: '{{name}}', ...(policies === undefined ? {} : { policies }) },
      response: { id: 'result.id', key: 'result.value' },
    },
    list: {
      method: 'GET',
      path: '/user/tokens',
      response: {
        items: 'result',
        id: 'id',
        name: 'name',
        createdAt: 'issued_on',
        total: 'result_info.total_count',
      },
      pagination: { style: 'page', pageParam: 'page', sizeParam: 'per_page', size: 50, firstPage: 1 },
    },
    revoke: { method: 'DELETE', path: '/user/tokens/{{keyId}}' },
    probe: { method: 'GET', path: '/user/tokens/verify', headers: { Authorization: 'Bearer {{key}}' } },
    ...(options.roll === true
      ? {
          roll: {
            method: 'PUT',
            path: '/user/tokens/{{keyId}}/value',
            body: {},
            response: { key: 'result' },
          },
        }
      : {}),
  };
}
