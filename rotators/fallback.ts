/**
 * What a single-user apply reports when it could log in only with AWSPREVIOUS's password: the
 * rotation goes on, and on-call sees that AWSCURRENT did not log in (rotators/types.ts ApplyResponse).
 */
import type { ApplyResponse } from './types.js';

/** `account` names the login in words (e.g. `role "app"`), never a secret value. */
export function previousFallback(account: string): ApplyResponse {
  return {
    fallback: 'AWSPREVIOUS',
    warnings: [
      `AWSCURRENT's password did not log in as ${account}; AWSPREVIOUS's did, and the rotation changed the password from it (AWSCURRENT was changed without the database, or the database restored an older password)`,
    ],
  };
}
