/** Whether a secret id as a writer wrote it names a configured secret, judged before any read (pure logic). */
import { describe, expect, it } from 'vitest';
import { refersToSecret } from '../../rotators/trust.js';

const HOME = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:';
const FULL = `${HOME}team-a/admin-AbC123`;
const PARTIAL = `${HOME}team-a/admin`;
/** The rotated secret: names resolve in its account and region. */
const ROTATED = `${HOME}team-a/app-XyZ789`;

describe('secret ids as written, against the ids the configuration pins', () => {
  it.each([
    ['the same name', 'team-a/admin', 'team-a/admin', true],
    ['a full ARN, pinned by name', FULL, 'team-a/admin', true],
    ['a partial ARN, pinned by name', PARTIAL, 'team-a/admin', true],
    ['a name, pinned by full ARN', 'team-a/admin', FULL, true],
    ['a name, pinned by partial ARN', 'team-a/admin', PARTIAL, true],
    ['a partial ARN, pinned by full ARN', PARTIAL, FULL, true],
    ['a full ARN, pinned by partial ARN', FULL, PARTIAL, true],
    ['another name', 'team-b/admin', 'team-a/admin', false],
    ['a name that extends the pinned one', 'team-a/admin-2', 'team-a/admin', false],
    [
      'a full ARN of another account, pinned by name',
      FULL.replace('123456789012', '999999999999'),
      'team-a/admin',
      false,
    ],
    [
      'a partial ARN of another region, pinned by name',
      PARTIAL.replace('eu-west-1', 'us-east-1'),
      'team-a/admin',
      false,
    ],
    ['a full ARN with other random characters, pinned by full ARN', `${PARTIAL}-Zz9999`, FULL, false],
    [
      'a name, pinned by an ARN of another account',
      'team-a/admin',
      FULL.replace('123456789012', '999999999999'),
      false,
    ],
    [
      'a partial ARN of another account, pinned by partial ARN',
      PARTIAL.replace('123456789012', '999999999999'),
      PARTIAL,
      false,
    ],
  ])('%s: %s against %s → %s', (_what, written, pinned, expected) => {
    // Act
    const refers = refersToSecret(written, pinned, ROTATED);
    // Assess
    expect(refers).toBe(expected);
  });
});
