import { describe, expect, it } from 'vitest';
import { DESCRIPTIVE_KEYS, REDACTED, Redactor } from '../../handlers/redact.js';

describe('redactor', () => {
  it('scrubs every sensitive leaf of a secret but keeps descriptive keys readable', () => {
    // Prepare
    const redactor = new Redactor();
    const scope = redactor.scope();
    scope.addSecretString(
      JSON.stringify({
        engine: 'postgres',
        host: 'db.internal',
        username: 'app',
        password: 'hunter2-secret',
        extra: { token: 'tok-123456' },
      }),
    );
    // Act
    const text = redactor.scrub('login app@db.internal with hunter2-secret and tok-123456');
    // Assess
    expect(text).toBe(`login app@db.internal with ${REDACTED} and ${REDACTED}`);
  });

  it('treats a non-JSON secret string as one value', () => {
    // Prepare
    const redactor = new Redactor();
    redactor.scope().addSecretString('plain-api-key-value');
    // Assess
    expect(redactor.scrub('key=plain-api-key-value;')).toBe(`key=${REDACTED};`);
  });

  it('forgets values when their scope closes, but not values another scope still holds', () => {
    // Prepare
    const redactor = new Redactor();
    const a = redactor.scope();
    const b = redactor.scope();
    a.add('shared-value');
    b.add('shared-value');
    a.add('only-in-a');
    // Act
    a.close();
    // Assess
    expect(redactor.scrub('shared-value only-in-a')).toBe(`${REDACTED} only-in-a`);
    b.close();
    expect(redactor.contains('shared-value')).toBe(false);
  });

  it('escapes regular-expression characters in values', () => {
    // Prepare
    const redactor = new Redactor();
    redactor.scope().add('a.b*c(d)$');
    // Assess
    expect(redactor.scrub('xa.b*c(d)$y axbbc')).toBe(`x${REDACTED}y axbbc`);
  });

  it('ignores values too short to be credentials', () => {
    // Prepare
    const redactor = new Redactor();
    redactor.scope().add('ab');
    // Assess
    expect(redactor.scrub('abc')).toBe('abc');
  });

  it('scrubs nested structures', () => {
    // Prepare
    const redactor = new Redactor();
    redactor.scope().add('s3cr3t-value');
    // Assess
    expect(redactor.scrubDeep({ a: ['x s3cr3t-value'], b: { c: 's3cr3t-value' } })).toEqual({
      a: [`x ${REDACTED}`],
      b: { c: REDACTED },
    });
  });
});

describe('redactor and JSON structure', () => {
  it('never rewrites object keys, even when a key equals a registered value', () => {
    // Prepare
    const redactor = new Redactor();
    redactor
      .scope()
      .addSecretString(JSON.stringify({ engine: 'apikey', apiKey: 'name', other: 'keys-value' }));
    // Act
    const scrubbed = redactor.scrubDeep({ name: 'InvalidSecretError', list: ['keys-value'] });
    // Assess
    expect(scrubbed).toEqual({ name: 'InvalidSecretError', list: [REDACTED] });
  });

  it('treats everything under a descriptive key as description (an inline provider, say)', () => {
    // Prepare
    const redactor = new Redactor();
    redactor.scope().addSecretString(
      JSON.stringify({
        engine: 'apikey',
        provider: { name: 'acme-provider', path: '/keys' },
        apiKey: 'k-123456789',
      }),
    );
    // Assess
    expect(redactor.scrub('acme-provider /keys k-123456789')).toBe(`acme-provider /keys ${REDACTED}`);
  });
});

describe('descriptive keys', () => {
  it('never include a key that holds a credential', () => {
    // Assess: everything else in a secret is redacted, so this list is the only way a value escapes.
    for (const key of DESCRIPTIVE_KEYS) {
      expect(key, key).not.toMatch(
        /pass|secret(?!arn)|token|apikey|^key$|credential|private|cert(?!ificate)/,
      );
    }
    expect([...DESCRIPTIVE_KEYS].every((key) => key === key.toLowerCase())).toBe(true);
  });
});
