import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, generatePassword, resolvePolicy } from '../../handlers/password.js';
import { ConfigurationError } from '../../rotators/errors.js';

describe('password policy', () => {
  it('defaults to 32 characters of letters, digits and -_. only', () => {
    // Act
    const passwords = Array.from({ length: 200 }, () => generatePassword(DEFAULT_POLICY));
    // Assess
    for (const password of passwords) {
      expect(password).toHaveLength(32);
      expect(password).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[0-9]/);
    }
    expect(new Set(passwords).size).toBe(200);
  });

  it('applies the rotator policy, then the environment overrides', () => {
    // Act
    const policy = resolvePolicy(
      { length: 40, excludeCharacters: `${DEFAULT_POLICY.excludeCharacters}-` },
      { length: 24 },
    );
    const password = generatePassword(policy);
    // Assess
    expect(password).toHaveLength(24);
    expect(password).not.toContain('-');
  });

  it('refuses a policy that is too short or excludes nearly everything', () => {
    // Assess
    expect(() => resolvePolicy({ length: 8 })).toThrow(ConfigurationError);
    const everything = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');
    expect(() => resolvePolicy({ excludeCharacters: everything.slice(5) })).toThrow(ConfigurationError);
  });
});
