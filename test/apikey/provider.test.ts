/**
 * Provider descriptions and API-key secrets: validation (pure logic, no server). Every bad
 * description is refused with the field named; descriptions that would send the admin credential
 * or a key anywhere but the provider are refused.
 */
import { describe, expect, it } from 'vitest';
import { createApiKeyRotator } from '../../rotators/apikey/index.js';
import { compileProvider, type Provider, readPath, requestUrl } from '../../rotators/apikey/provider.js';
import { ConfigurationError, InvalidSecretError } from '../../rotators/errors.js';

type Description = Record<string, unknown> & {
  create: Record<string, unknown>;
  list: Record<string, unknown>;
  revoke: Record<string, unknown>;
  probe: Record<string, unknown>;
};

function valid(): Description {
  return {
    baseUrl: 'https://api.example.com/v1',
    auth: { header: 'Authorization', value: 'Bearer {{admin.token}}' },
    maxLiveKeys: 2,
    create: {
      method: 'POST',
      path: '/keys',
      body: { name: '{{name}}' },
      response: { id: 'id', key: 'secret' },
    },
    list: { method: 'GET', path: '/keys', response: { items: '/data', id: 'id', name: 'label' } },
    revoke: { method: 'DELETE', path: '/keys/{{keyId}}' },
    probe: { method: 'GET', path: '/me', headers: { 'X-Api-Key': '{{key}}' } },
  };
}

function compiled(description: unknown = valid()): Provider {
  const { provider, issue } = compileProvider('acme', description);
  if (provider === undefined) throw new Error(`unexpected issue ${JSON.stringify(issue)}`);
  return provider;
}

const secret = {
  engine: 'apikey',
  provider: 'acme',
  adminSecretArn: 'acme-admin',
  keyId: 'key_1',
  apiKey: 'sk_live_DO_NOT_ECHO',
};

describe('provider descriptions', () => {
  it('a complete description compiles with its defaults', () => {
    // Act
    const provider = compiled();
    // Assess
    expect(provider.baseUrl.href).toBe('https://api.example.com/v1');
    expect(provider.revoke.okStatuses).toContain(404);
    expect(provider.probe.expectStatus).toEqual([200]);
    expect(provider.list.idempotent).toBe(true);
    expect(provider.create.idempotent).toBe(false);
  });

  const bad: { name: string; change: (d: Description) => unknown; field: string }[] = [
    { name: 'not an object', change: () => 'acme', field: '(description)' },
    { name: 'no baseUrl', change: ({ baseUrl: _, ...d }) => d, field: 'baseUrl' },
    { name: 'baseUrl not a URL', change: (d) => ({ ...d, baseUrl: 'api.example.com' }), field: 'baseUrl' },
    {
      name: 'baseUrl with a query',
      change: (d) => ({ ...d, baseUrl: 'https://api.example.com/?a=1' }),
      field: 'baseUrl',
    },
    { name: 'an unknown field', change: (d) => ({ ...d, retries: 3 }), field: 'retries' },
    {
      name: 'an unknown method',
      change: (d) => ({ ...d, list: { ...d.list, method: 'TRACE' } }),
      field: 'list.method',
    },
    { name: 'no auth', change: ({ auth: _, ...d }) => d, field: 'auth' },
    {
      name: 'auth without the admin credential',
      change: (d) => ({ ...d, auth: { header: 'Authorization', value: 'Bearer fixed' } }),
      field: 'auth.value',
    },
    { name: 'maxLiveKeys of 1', change: (d) => ({ ...d, maxLiveKeys: 1 }), field: 'maxLiveKeys' },
    {
      name: 'a path without a leading /',
      change: (d) => ({ ...d, list: { ...d.list, path: 'keys' } }),
      field: 'list.path',
    },
    {
      name: 'an unknown variable',
      change: (d) => ({ ...d, revoke: { ...d.revoke, path: '/keys/{{id}}' } }),
      field: 'revoke.path',
    },
    {
      name: 'stray braces',
      change: (d) => ({ ...d, create: { ...d.create, body: { name: '{{name}}', note: '{{oops' } } }),
      field: 'create.body.note',
    },
    {
      name: 'create without {{name}}',
      change: (d) => ({ ...d, create: { ...d.create, body: {} } }),
      field: 'create.body',
    },
    {
      name: 'revoke without {{keyId}}',
      change: (d) => ({ ...d, revoke: { ...d.revoke, path: '/keys' } }),
      field: 'revoke.path',
    },
    {
      name: 'probe without {{key}}',
      change: (d) => ({ ...d, probe: { method: 'GET', path: '/me' } }),
      field: 'probe.headers',
    },
    {
      name: 'a body on a GET',
      change: (d) => ({ ...d, list: { ...d.list, body: { all: true } } }),
      field: 'list.body',
    },
    {
      name: 'a bad response path',
      change: (d) => ({ ...d, create: { ...d.create, response: { id: 'data..id', key: 'secret' } } }),
      field: 'create.response.id',
    },
    {
      name: 'a missing response path',
      change: (d) => ({ ...d, list: { ...d.list, response: { items: 'data', id: 'id' } } }),
      field: 'list.response.name',
    },
    {
      name: 'an expected status out of range',
      change: (d) => ({ ...d, probe: { ...d.probe, expectStatus: [99] } }),
      field: 'probe.expectStatus.0',
    },
    {
      name: 'a header value with a line break',
      change: (d) => ({ ...d, probe: { ...d.probe, headers: { 'X-Api-Key': '{{key}}\r\nX-Other: 1' } } }),
      field: 'probe.headers.X-Api-Key',
    },
  ];

  for (const { name, change, field } of bad) {
    it(`refuses ${name}, naming ${field}`, () => {
      // Act
      const { issue } = compileProvider('acme', change(valid()));
      // Assess
      expect(issue?.field).toBe(field);
      expect(issue?.expected.length).toBeGreaterThan(5);
    });
  }

  it('createApiKeyRotator refuses a bad registered description with a ConfigurationError naming provider and field', () => {
    // Act
    const act = () => createApiKeyRotator({ providers: { acme: { ...valid(), maxLiveKeys: 1 } } });
    // Assess
    expect(act).toThrow(ConfigurationError);
    expect(act).toThrow(/provider description "acme": field "maxLiveKeys" must be at least 2/);
  });

  it('createApiKeyRotator refuses a provider name that is not a plain name', () => {
    // Act
    const act = () => createApiKeyRotator({ providers: { 'acme prod': valid() } });
    // Assess
    expect(act).toThrow(ConfigurationError);
  });
});

describe('descriptions that would send credentials elsewhere', () => {
  const hostile: { name: string; change: (d: Description) => unknown; field: string }[] = [
    {
      name: 'plain http to a remote host',
      change: (d) => ({ ...d, baseUrl: 'http://api.example.com/v1' }),
      field: 'baseUrl',
    },
    {
      name: 'credentials in the base URL',
      change: (d) => ({ ...d, baseUrl: 'https://me:pw@api.example.com/v1' }),
      field: 'baseUrl',
    },
    {
      name: 'another host in a path (scheme-relative)',
      change: (d) => ({ ...d, create: { ...d.create, path: '//evil.example.net/keys' } }),
      field: 'create.path',
    },
    {
      name: 'another host in a path (absolute URL)',
      change: (d) => ({ ...d, list: { ...d.list, path: '/x?next=https://evil.example.net/' } }),
      field: 'list.path',
    },
    {
      name: 'a backslash in a path',
      change: (d) => ({ ...d, probe: { ...d.probe, path: '/\\evil.example.net' } }),
      field: 'probe.path',
    },
    {
      name: 'a path climbing out of the base path',
      change: (d) => ({ ...d, revoke: { ...d.revoke, path: '/keys/../../admin/{{keyId}}' } }),
      field: 'revoke.path',
    },
    {
      name: 'an encoded slash in a path',
      change: (d) => ({ ...d, revoke: { ...d.revoke, path: '/keys%2F..%2F{{keyId}}' } }),
      field: 'revoke.path',
    },
    {
      name: 'a Host header',
      change: (d) => ({ ...d, list: { ...d.list, headers: { Host: 'evil.example.net' } } }),
      field: 'list.headers.Host',
    },
    {
      name: 'the key in a URL',
      change: (d) => ({ ...d, probe: { method: 'GET', path: '/me?api_key={{key}}' } }),
      field: 'probe.path',
    },
    {
      name: 'the admin credential in a URL',
      change: (d) => ({ ...d, list: { ...d.list, path: '/keys?token={{admin.token}}' } }),
      field: 'list.path',
    },
    {
      name: 'the admin credential sent with the probe',
      change: (d) => ({
        ...d,
        probe: { ...d.probe, headers: { 'X-Api-Key': '{{key}}', Authorization: 'Bearer {{admin.token}}' } },
      }),
      field: 'probe.headers.Authorization',
    },
    {
      name: 'the key sent with a management call',
      change: (d) => ({ ...d, create: { ...d.create, body: { name: '{{name}}', copy: '{{key}}' } } }),
      field: 'create.body.copy',
    },
  ];

  for (const { name, change, field } of hostile) {
    it(`refuses ${name}, naming ${field}`, () => {
      // Act
      const { issue } = compileProvider('acme', change(valid()));
      // Assess
      expect(issue?.field).toBe(field);
    });
  }

  it('allows plain http on this machine only', () => {
    // Act
    const local = compileProvider('local', { ...valid(), baseUrl: 'http://127.0.0.1:8080/v1' });
    // Assess
    expect(local.issue).toBeUndefined();
  });

  it('keeps a substituted key id on the provider and under its base path, or refuses it', () => {
    // Prepare
    const provider = compiled();
    // Act
    const dots = requestUrl(provider, provider.revoke, { keyId: '..' });
    const climbing = requestUrl(provider, provider.revoke, { keyId: '../../evil.example.net/x?y#z' });
    // Assess
    expect(dots).toBeUndefined();
    expect(climbing?.origin).toBe('https://api.example.com');
    expect(climbing?.pathname).toBe('/v1/keys/..%2F..%2Fevil.example.net%2Fx%3Fy%23z');
  });

  it('refuses a description inline in a secret unless the function allows inline descriptions', () => {
    // Prepare
    const rotator = createApiKeyRotator({ providers: {} });
    // Act
    const act = () => rotator.parse({ value: { ...secret, provider: valid() }, label: 'AWSCURRENT' });
    // Assess
    expect(act).toThrow(InvalidSecretError);
    expect(act).toThrow(/field "provider" must be a provider name/);
  });

  it('refuses an inline description pointing at a host the function does not allow', () => {
    // Prepare
    const rotator = createApiKeyRotator({ providers: {}, inlineProviderHosts: ['api.example.com'] });
    const elsewhere = { ...valid(), baseUrl: 'https://api.example.com.evil.example.net/v1' };
    // Act
    const act = () => rotator.parse({ value: { ...secret, provider: elsewhere }, label: 'AWSCURRENT' });
    // Assess
    expect(act).toThrow(/field "provider.baseUrl" must point at a host this function allows/);
  });

  it('an allowed host without a port admits only the default port; with a port, only that port', () => {
    // Prepare
    const bare = createApiKeyRotator({ providers: {}, inlineProviderHosts: ['api.example.com'] });
    const ported = createApiKeyRotator({ providers: {}, inlineProviderHosts: ['api.example.com:8443'] });
    const explicitDefault = createApiKeyRotator({
      providers: {},
      inlineProviderHosts: ['api.example.com:443'],
    });
    const at = (baseUrl: string) => ({ ...secret, provider: { ...valid(), baseUrl } });
    const verdict = (rotator: typeof bare, baseUrl: string) => {
      try {
        rotator.parse({ value: at(baseUrl), label: 'AWSCURRENT' });
        return 'accepted';
      } catch (error) {
        return error instanceof Error && /provider\.baseUrl/.test(error.message) ? 'refused' : String(error);
      }
    };
    // Act
    const verdicts = {
      bareDefault: verdict(bare, 'https://api.example.com/v1'),
      bareExplicit443: verdict(bare, 'https://api.example.com:443/v1'),
      bareOtherPort: verdict(bare, 'https://api.example.com:8443/v1'),
      portedThatPort: verdict(ported, 'https://api.example.com:8443/v1'),
      portedDefault: verdict(ported, 'https://api.example.com/v1'),
      portedOtherPort: verdict(ported, 'https://api.example.com:9443/v1'),
      explicitDefaultDefault: verdict(explicitDefault, 'https://api.example.com/v1'),
      explicitDefaultOther: verdict(explicitDefault, 'https://api.example.com:8443/v1'),
    };
    // Assess
    expect(verdicts).toEqual({
      bareDefault: 'accepted',
      bareExplicit443: 'accepted',
      bareOtherPort: 'refused',
      portedThatPort: 'accepted',
      portedDefault: 'refused',
      portedOtherPort: 'refused',
      explicitDefaultDefault: 'accepted',
      explicitDefaultOther: 'refused',
    });
  });

  it('accepts an inline description on an allowed host, and validates it like any other', () => {
    // Prepare
    const rotator = createApiKeyRotator({ providers: {}, inlineProviderHosts: ['api.example.com'] });
    const broken = { ...valid(), create: { ...valid().create, path: '//evil.example.net/keys' } };
    // Act
    const parsed = rotator.parse({ value: { ...secret, provider: valid() }, label: 'AWSCURRENT' });
    const act = () => rotator.parse({ value: { ...secret, provider: broken }, label: 'AWSCURRENT' });
    // Assess
    expect(parsed.provider.baseUrl.host).toBe('api.example.com');
    expect(act).toThrow(/field "provider.create.path"/);
  });

  it('refuses an inline description that declares admin fields public (they would go into URLs)', () => {
    // Prepare
    const rotator = createApiKeyRotator({ providers: {}, inlineProviderHosts: ['api.example.com'] });
    const leaky = {
      ...valid(),
      publicAdminFields: ['token'],
      revoke: { method: 'DELETE', path: '/keys/{{keyId}}?t={{admin.token}}' },
    };
    // Act
    const act = () => rotator.parse({ value: { ...secret, provider: leaky }, label: 'AWSCURRENT' });
    // Assess
    expect(act).toThrow(/field "provider.publicAdminFields" may only be declared in the function's own/);
  });
});

describe('API-key secrets', () => {
  const rotator = createApiKeyRotator({ providers: { acme: valid() } });
  const bad: { name: string; value: Record<string, unknown>; field: string }[] = [
    { name: 'another engine', value: { ...secret, engine: 'postgres' }, field: 'engine' },
    { name: 'an unknown provider', value: { ...secret, provider: 'other' }, field: 'provider' },
    { name: 'a provider that is not a name', value: { ...secret, provider: 'a b' }, field: 'provider' },
    { name: 'no adminSecretArn', value: { ...secret, adminSecretArn: undefined }, field: 'adminSecretArn' },
    { name: 'no keyId', value: { ...secret, keyId: undefined }, field: 'keyId' },
    { name: 'an empty apiKey', value: { ...secret, apiKey: '' }, field: 'apiKey' },
    {
      name: 'an unknown grace policy',
      value: { ...secret, gracePolicy: 'sk_live_DO_NOT_ECHO' },
      field: 'gracePolicy',
    },
    {
      name: 'a bad keyNamePrefix',
      value: { ...secret, keyNamePrefix: 'sk_live DO_NOT_ECHO' },
      field: 'keyNamePrefix',
    },
    { name: 'a bad keyCreatedAt', value: { ...secret, keyCreatedAt: 'yesterday' }, field: 'keyCreatedAt' },
  ];

  for (const { name, value, field } of bad) {
    it(`refuses ${name}, naming ${field} and never the value`, () => {
      // Act
      let thrown: unknown;
      try {
        rotator.parse({ value, label: 'AWSCURRENT' });
      } catch (error) {
        thrown = error;
      }
      // Assess
      expect(thrown).toBeInstanceOf(InvalidSecretError);
      expect((thrown as InvalidSecretError).field).toBe(field);
      expect(String(thrown)).not.toContain('DO_NOT_ECHO');
    });
  }

  it('reads each grace policy into a strategy', () => {
    // Act
    const strategies = [undefined, 'none', 'until-next-rotation', '36h'].map((gracePolicy) =>
      rotator.strategy(rotator.parse({ value: { ...secret, gracePolicy }, label: 'AWSCURRENT' })),
    );
    // Assess
    expect(strategies).toEqual([
      'keep-until-next-rotation',
      'revoke-at-finish',
      'keep-until-next-rotation',
      'keep-for-duration',
    ]);
  });
});

describe('response paths', () => {
  it('reads dot paths, JSON pointers and the whole document', () => {
    // Prepare
    const document = { data: { keys: [{ id: 'k1' }], 'a/b': 1 } };
    // Act
    const found = [
      readPath(document, 'data.keys.0.id'),
      readPath(document, '/data/keys/0/id'),
      readPath(document, '/data/a~1b'),
      readPath(document, ''),
      readPath(document, 'data.missing.id'),
    ];
    // Assess
    expect(found).toEqual(['k1', 'k1', 1, document, undefined]);
  });
});
