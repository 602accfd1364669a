/**
 * What an apply reports when it could log in (single-user, dual-password by the account) or prove
 * that it holds the account (alternating-users, dual-password by a managing user) only with
 * AWSPREVIOUS's password: the rotation goes on, and on-call sees that AWSCURRENT did not log in
 * (rotators/types.ts ApplyResponse).
 */
import type { ApplyResponse } from './types.js';

/** `account` names the login in words (e.g. `role "app"`), never a secret value. */
export function previousFallback(account: string): ApplyResponse {
  return {
    fallback: 'AWSPREVIOUS',
    warnings: [
      `AWSCURRENT's password did not log in as ${account}; AWSPREVIOUS's did, and the rotation went on from it (AWSCURRENT or the database was changed by hand, or the database restored an older password)`,
    ],
  };
}
