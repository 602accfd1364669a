/** Unit tests of the client-side SCRAM-SHA-256 verifier (the server-made comparison is in scram.server.test.ts). */
import { describe, expect, it } from 'vitest';
import { isScramSafe, scramSha256Verifier, VERIFIER_PATTERN } from '../../rotators/postgres/scram.js';

/** What PostgreSQL 15 stored for `CREATE ROLE vec PASSWORD 'correct horse battery staple'`. */
const SERVER_MADE =
  'SCRAM-SHA-256$4096:g/DMcB1taL+1uQlTrAy0og==$atfD6dC7jSqcQt+QRM05YsXJBkLrU1b+G1NRKroKrT4=:Z1mU9O75Cgxip3O7VDPxrkAcEzTV20W7cR8ovNNQFRE=';

describe('scramSha256Verifier', () => {
  it('matches a verifier PostgreSQL computed for the same password and salt', () => {
    // Prepare
    const salt = Buffer.from('g/DMcB1taL+1uQlTrAy0og==', 'base64');
    // Act
    const verifier = scramSha256Verifier('correct horse battery staple', { salt, iterations: 4096 });
    // Assess
    expect(verifier).toBe(SERVER_MADE);
  });

  it('uses a fresh 16-byte salt and 4096 iterations by default', () => {
    // Act
    const first = scramSha256Verifier('same-password');
    const second = scramSha256Verifier('same-password');
    // Assess
    expect(first).not.toBe(second);
    expect(first).toMatch(VERIFIER_PATTERN);
    expect(first.startsWith('SCRAM-SHA-256$4096:')).toBe(true);
    const salt = first.split('$')[1]?.split(':')[1] ?? '';
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(first).not.toContain('same-password');
  });

  it('refuses passwords beyond printable ASCII, where clients disagree on SASLprep', () => {
    // Prepare
    const unsafe = ['pässword', 'tab\tpassword', '', 'ｆｕｌｌｗｉｄｔｈ'];
    // Act / Assess
    for (const password of unsafe) {
      expect(isScramSafe(password), JSON.stringify(password)).toBe(false);
      expect(() => scramSha256Verifier(password)).toThrow(RangeError);
    }
    expect(isScramSafe('Aa0-_. ~!"#$%&\'()*+,/:;<=>?@[\\]^`{|}')).toBe(true);
  });
});
