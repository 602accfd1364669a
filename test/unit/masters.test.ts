/** Matching configured secret ids the way Secrets Manager resolves them, and the adoption record (pure logic). */
import { describe, expect, it } from 'vitest';
import { adoptedFor, boundToSecret, parseAdoptions } from '../../handlers/masters.js';
import { ConfigurationError } from '../../rotators/errors.js';
import { nameFromArn, namesSecret } from '../../rotators/trust.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/master-AbC123';
const master = { arn: ARN, name: 'prod/orders/master' };

describe('secret ids in the configuration', () => {
  it.each([
    ['the name', 'prod/orders/master', true],
    [
      'the partial ARN (without the 6 random characters)',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/master',
      true,
    ],
    ['the full ARN', ARN, true],
    ['another name', 'prod/orders/master2', false],
    ['a prefix of the name', 'prod/orders', false],
    [
      'a partial ARN of another account',
      'arn:aws:secretsmanager:eu-west-1:999999999999:secret:prod/orders/master',
      false,
    ],
    ['a full ARN with other random characters', `${ARN.slice(0, -6)}XyZ789`, false],
    [
      'a partial ARN cut too short',
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/mast',
      false,
    ],
  ])('%s: %s → %s', (_what, configured, expected) => {
    // Act
    const matches = namesSecret(configured, master);
    // Assess
    expect(matches).toBe(expected);
  });

  it('takes the name from a full ARN when Secrets Manager did not say it', () => {
    // Act
    const name = nameFromArn(ARN);
    const matches = namesSecret('prod/orders/master', { arn: ARN });
    // Assess
    expect(name).toBe('prod/orders/master');
    expect(matches).toBe(true);
  });

  it("resolves a name in the deployment's own account and region, as Secrets Manager does", () => {
    // Prepare: a secret of the same name in another account, and in another region.
    const home = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/orders/app-XyZ789';
    const foreignAccount = { arn: ARN.replace('123456789012', '999999999999') };
    const foreignRegion = { arn: ARN.replace('eu-west-1', 'us-east-1') };

    // Act
    const own = namesSecret('prod/orders/master', master, home);
    const otherAccount = namesSecret('prod/orders/master', foreignAccount, home);
    const otherRegion = namesSecret('prod/orders/master', foreignRegion, home);
    const byArn = namesSecret(foreignAccount.arn, foreignAccount, home);

    // Assess
    expect([own, otherAccount, otherRegion, byArn]).toEqual([true, false, false, true]);
  });

  it('binds a rotated secret to a database only for the kind and identifier the stage file names', () => {
    // Prepare
    const rdsMasters = [{ secret: 'prod/orders/master', kind: 'instance' as const, identifier: 'Orders' }];
    // Act
    const same = boundToSecret(rdsMasters, { arn: ARN }, { kind: 'instance', identifier: 'orders' });
    const cluster = boundToSecret(rdsMasters, { arn: ARN }, { kind: 'cluster', identifier: 'orders' });
    const other = boundToSecret(rdsMasters, { arn: ARN }, { kind: 'instance', identifier: 'billing' });
    const otherSecret = boundToSecret(
      rdsMasters,
      { arn: ARN.replace('orders/master', 'orders/app') },
      { kind: 'instance', identifier: 'orders' },
    );
    // Assess
    expect([same, cluster, other, otherSecret]).toEqual([true, false, false, false]);
  });
});

describe('the adoption record', () => {
  it('returns the users and key ids adopted for one secret only', () => {
    // Prepare
    const record = parseAdoptions(
      JSON.stringify({
        adoptions: [
          { secret: ARN, username: 'legacy_app', adoptedAt: '2026-01-01T00:00:00Z', by: 'ops' },
          { secret: ARN, keyId: 'key-1', adoptedAt: '2026-01-01T00:00:00Z', by: 'ops' },
          { secret: `${ARN}x`, username: 'other', adoptedAt: '2026-01-01T00:00:00Z', by: 'ops' },
        ],
      }),
      'rotor/adoptions',
    );
    // Act
    const adopted = adoptedFor(record, { arn: ARN });
    // Assess
    expect(adopted).toEqual(['legacy_app', 'key-1']);
  });

  it.each([
    ['not JSON', '{', /is not JSON/],
    ['no adoptions array', '{"adoption": []}', /has no "adoptions" array/],
    [
      'an entry without a user',
      `{"adoptions": [{"secret": "${ARN}"}]}`,
      /entry 0 needs "secret" and exactly one/,
    ],
    [
      'an entry naming its secret by name only',
      '{"adoptions": [{"secret": "prod/orders", "username": "a"}]}',
      /entry 0 must name its secret by ARN/,
    ],
    [
      'an entry with both a user and a key',
      `{"adoptions": [{"secret": "${ARN}", "username": "a", "keyId": "k"}]}`,
      /entry 0 needs/,
    ],
  ])('refuses a record that is %s with a ConfigurationError naming it', (_what, text, message) => {
    // Act
    const act = () => parseAdoptions(text, 'ops/adoptions');
    // Assess
    expect(act).toThrow(ConfigurationError);
    expect(act).toThrow(/the adoption record ops\/adoptions/);
    expect(act).toThrow(message);
  });
});
