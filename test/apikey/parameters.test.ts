/**
 * Per-secret parameters (issue 19 item 4): values a secret sets for its own key (scopes, ACLs, a
 * description), declared and validated by the provider description, sent in the create request,
 * and never able to decide where a request goes or which keys are listed or revoked. Against the
 * reference provider over real HTTP.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { compileProvider } from '../../rotators/apikey/provider.js';
import { InvalidSecretError } from '../../rotators/errors.js';
import { type ProviderFixture, skipApiKey, startProviderFixture } from './support.js';

type Value = Record<string, unknown>;

/** The reference description with scopes, a note and a limit declared and sent at create. */
function withParameters(description: Record<string, unknown>, form = false): Record<string, unknown> {
  const create = description.create as Record<string, unknown>;
  return {
    ...description,
    parameters: {
      scopes: { type: 'strings', allowed: ['read', 'write', 'mail.send'], maxItems: 3 },
      note: { type: 'string', maxLength: 20 },
      ttlDays: { type: 'integer' },
    },
    create: {
      ...create,
      body: {
        name: '{{name}}',
        scopes: '{{params.scopes}}',
        description: 'rotor: {{params.note}}',
        ttl: '{{params.ttlDays}}',
      },
      headers: { 'X-Key-Note': '{{params.note}}' },
      ...(form ? { encoding: 'form' } : {}),
    },
  };
}

describe.skipIf(skipApiKey)('per-secret parameters', () => {
  let fixture: ProviderFixture | undefined;

  afterEach(async () => {
    await fixture?.stop();
    fixture = undefined;
  });

  const noPassword = () => {
    throw new Error('an API-key rotation never asks for a password');
  };

  async function createPending(f: ProviderFixture, currentValue: Value, token = randomUUID()) {
    const { pending } = await f.rotator.createPending({
      ...f.request('createSecret', { token }),
      current: f.rotator.parse({ value: currentValue, label: 'AWSCURRENT' }),
      currentValue,
      generatePassword: noPassword,
    });
    return pending;
  }

  function parseError(f: ProviderFixture, value: Value): InvalidSecretError {
    try {
      f.rotator.parse({ value, label: 'AWSCURRENT' });
    } catch (error) {
      if (error instanceof InvalidSecretError) return error;
      throw error;
    }
    throw new Error('expected parse to refuse the value');
  }

  it("accepted values reach the provider's create body (lists as lists, integers as numbers) and header", async () => {
    // Prepare
    const f = await startProviderFixture({
      describe: (d) => withParameters(d),
      provider: { maxLiveKeys: 5 },
    });
    fixture = f;
    const first = f.firstKey();
    const value = f.secretFor(first, {
      parameters: { scopes: ['read', 'mail.send'], note: 'billing', ttlDays: 30 },
    });
    // Act
    const pending = await createPending(f, value);
    // Assess
    const minted = f.provider.keys.get(String(pending.keyId));
    expect(minted?.createdWith).toEqual({
      name: minted?.name,
      scopes: ['read', 'mail.send'],
      description: 'rotor: billing',
      ttl: 30,
    });
    expect(f.sent.find((r) => r.method === 'POST')?.headers['x-key-note']).toBe('billing');
    // The parameters are the secret's own: they carry over to the pending value.
    expect((pending as Value).parameters).toEqual(value.parameters);
  });

  it('an unset optional parameter leaves its body field out; a form repeats a list', async () => {
    // Prepare
    const f = await startProviderFixture({
      describe: (d) => withParameters(d, true),
      provider: { maxLiveKeys: 5, form: true },
    });
    fixture = f;
    const first = f.firstKey();
    // Act
    const pending = await createPending(f, f.secretFor(first, { parameters: { scopes: ['read', 'write'] } }));
    // Assess
    const minted = f.provider.keys.get(String(pending.keyId));
    expect(minted?.createdWith).toEqual({
      name: minted?.name,
      scopes: ['read', 'write'],
      description: 'rotor: ',
    });
  });

  it('an undeclared or invalid value is refused with InvalidSecretError naming the field, and nothing changes', async () => {
    // Prepare
    const f = await startProviderFixture({
      describe: (d) => withParameters(d),
      provider: { maxLiveKeys: 5 },
    });
    fixture = f;
    const first = f.firstKey();
    const cases: [Value, string, RegExp][] = [
      [
        { acl: ['admin'] },
        'parameters.acl',
        /is not a parameter provider "local" declares \(scopes, note, ttlDays\)/,
      ],
      [{ scopes: ['admin'] }, 'parameters.scopes', /must each be one of read, write, mail.send/],
      [{ scopes: 'read' }, 'parameters.scopes', /must be a list of strings/],
      [{ scopes: ['read', 'read', 'read', 'read'] }, 'parameters.scopes', /at most 3 values/],
      [{ note: 'x'.repeat(21) }, 'parameters.note', /at most 20 characters/],
      [{ note: 'line\nbreak' }, 'parameters.note', /control characters/],
      [{ ttlDays: '30' }, 'parameters.ttlDays', /must be an integer/],
      [{ 'secret value sk_live_1': 1 }, 'parameters', /is not a parameter/],
    ];
    const before = f.provider.requests.length;
    for (const [parameters, field, expected] of cases) {
      // Act
      const error = parseError(f, f.secretFor(first, { parameters }));
      // Assess
      expect(error.field).toBe(field);
      expect(error.expected).toMatch(expected);
      expect(error.message).not.toContain('sk_live_1');
      expect(error.message).not.toContain('x'.repeat(21));
    }
    expect(parseError(f, f.secretFor(first, { parameters: ['read'] })).field).toBe('parameters');
    expect(f.provider.requests.length).toBe(before);
    expect(f.provider.keys.live().map((key) => key.id)).toEqual([first.id]);
  });

  it('a required parameter must be set', async () => {
    // Prepare
    const f = await startProviderFixture({
      describe: (d) => ({
        ...withParameters(d),
        parameters: {
          ...(withParameters(d).parameters as object),
          scopes: { type: 'strings', required: true },
        },
      }),
    });
    fixture = f;
    // Act
    const error = parseError(f, f.secretFor(f.firstKey()));
    // Assess
    expect(error.field).toBe('parameters.scopes');
    expect(error.expected).toMatch(/is required/);
  });

  it('a parameter cannot reach a path, the key name, the list, the revoke, the probe or the auth header', async () => {
    // Prepare
    const f = await startProviderFixture();
    fixture = f;
    const base = withParameters(f.provider.description);
    const declare = { parameters: { ...(base.parameters as object), p: { type: 'string' } } };
    const create = base.create as Record<string, unknown>;
    const attempts: [Record<string, unknown>, string][] = [
      [{ ...base, ...declare, create: { ...create, path: '/keys/{{params.p}}' } }, 'create.path'],
      [
        { ...base, ...declare, create: { ...create, body: { name: '{{name}}{{params.p}}' } } },
        'create.body.name',
      ],
      [
        { ...base, ...declare, create: { ...create, body: { name: '{{params.p}}-{{name}}' } } },
        'create.body.name',
      ],
      [
        { ...base, ...declare, list: { ...(base.list as object), headers: { 'X-Filter': '{{params.p}}' } } },
        'list.headers.X-Filter',
      ],
      [
        { ...base, ...declare, revoke: { ...(base.revoke as object), path: '/keys/{{params.p}}' } },
        'revoke.path',
      ],
      [
        {
          ...base,
          ...declare,
          probe: { ...(base.probe as object), headers: { 'X-Api-Key': '{{key}}{{params.p}}' } },
        },
        'probe.headers.X-Api-Key',
      ],
      [
        {
          ...base,
          ...declare,
          auth: { header: 'Authorization', value: 'Bearer {{admin.token}}{{params.p}}' },
        },
        'auth.value',
      ],
      [
        { ...base, create: { ...create, body: { name: '{{name}}', x: '{{params.undeclared}}' } } },
        'create.body.x',
      ],
    ];
    for (const [description, field] of attempts) {
      // Act
      const { issue } = compileProvider('x', description);
      // Assess
      expect(issue?.field).toBe(field);
    }
  });

  it('whatever a secret sets, which keys are listed and revoked, and where requests go, stay the same', async () => {
    // Prepare: the secret sets every parameter to values that look like ids, hosts and tags.
    const f = await startProviderFixture({
      describe: (d) => ({
        ...withParameters(d),
        parameters: { scopes: { type: 'strings' }, note: { type: 'string' }, ttlDays: { type: 'integer' } },
      }),
      provider: { maxLiveKeys: 5 },
    });
    fixture = f;
    const first = f.firstKey();
    const stranger = f.provider.keys.mint('team-b');
    const hostile = {
      scopes: [stranger.id, 'https://evil.example/', '../../keys'],
      note: f
        .names('arn:aws:secretsmanager:us-east-1:123456789012:secret:other-AbCdEf')
        .nameFor(randomUUID()),
      ttlDays: 1,
    };
    const value = f.secretFor(first, { parameters: hostile });
    // Act
    const pending = await createPending(f, value);
    const current = f.rotator.parse({ value: pending, label: 'AWSCURRENT' });
    await f.rotator.finish({
      ...f.request('finishSecret'),
      current,
      previous: async () => f.rotator.parse({ value, label: 'AWSPREVIOUS' }),
    });
    // Assess
    expect(f.provider.keys.get(stranger.id)?.revokedAt).toBeUndefined();
    expect(f.provider.keys.get(String(pending.keyId))?.name.startsWith(f.names().prefix)).toBe(true);
    expect(new Set(f.sent.map((r) => new URL(r.url).host))).toEqual(new Set([new URL(f.provider.url).host]));
    expect(f.sent.filter((r) => r.method === 'DELETE').map((r) => r.url)).toEqual([]);
  });
});
