import { randomInt } from 'node:crypto';
import { ConfigurationError } from '../rotators/errors.js';
import type { PasswordPolicy } from '../rotators/types.js';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
/** The only punctuation that needs no quoting in SQL literals, URLs (unreserved) or shells. */
const SAFE_PUNCTUATION = '-_.';
const ALL_PRINTABLE = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).join('');

/** Default: 32 characters from letters, digits and `-_.` (about 192 bits). */
export const DEFAULT_POLICY: PasswordPolicy = {
  length: 32,
  excludeCharacters: [...ALL_PRINTABLE]
    .filter((c) => !(UPPER + LOWER + DIGITS + SAFE_PUNCTUATION).includes(c))
    .join(''),
};

/** Default, then the rotator's policy, then the environment's overrides. */
export function resolvePolicy(...layers: readonly (Partial<PasswordPolicy> | undefined)[]): PasswordPolicy {
  const policy = Object.assign({}, DEFAULT_POLICY, ...layers.filter(Boolean)) as PasswordPolicy;
  const alphabet = [...ALL_PRINTABLE].filter((c) => !policy.excludeCharacters.includes(c));
  if (alphabet.length < 10) throw new ConfigurationError('password policy excludes nearly every character');
  if (policy.length < 16) throw new ConfigurationError('password policy length must be at least 16');
  return policy;
}

/**
 * Generates a password locally with a CSPRNG (no GetRandomPassword round trip), one character of
 * each class the alphabet allows (upper, lower, digit) guaranteed, then shuffled.
 */
export function generatePassword(policy: PasswordPolicy): string {
  const allowed = (set: string) => [...set].filter((c) => !policy.excludeCharacters.includes(c));
  const alphabet = allowed(ALL_PRINTABLE);
  const required = [allowed(UPPER), allowed(LOWER), allowed(DIGITS)].filter((set) => set.length > 0);
  const chars: string[] = required.map((set) => set[randomInt(set.length)] as string);
  while (chars.length < policy.length) chars.push(alphabet[randomInt(alphabet.length)] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
