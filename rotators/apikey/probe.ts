/** The provider's probe with one key: how testSecret, preflight and heal prove a key works. */
import {
  AuthenticationFailedError,
  DeadlineExceededError,
  ProviderError,
  VerificationFailedError,
} from '../errors.js';
import type { RequestBase } from '../types.js';
import type { ProviderAccess } from './access.js';
import type { ProviderClient } from './client.js';
import type { ApiKeySecret } from './secret.js';

/**
 * Proves `secret`'s key works with the provider's probe, or throws a typed error. With
 * `waitForPropagation` (testSecret, for a key just minted) and a description that declares
 * propagation, a "not yet" answer is asked again with backoff within the declared bound and the
 * step's deadline: after the bound it is a refusal; cut short by the deadline, a retryable
 * DeadlineExceededError (Secrets Manager runs testSecret again, with the same key).
 */
export async function probe(
  access: ProviderAccess,
  secret: ApiKeySecret,
  request: Omit<RequestBase, 'token' | 'step'>,
  waitForPropagation = false,
  /** A management client already connected for `secret` in this step: its admin secret is not read again. */
  connected?: Promise<ProviderClient>,
): Promise<void> {
  // The admin secret is read only for its public identifiers (an application id, say): the
  // client never sends its credential fields with a probe.
  const client =
    secret.provider.publicAdminFields.size > 0
      ? await (connected ?? access.connect(secret, request))
      : access.clientFor(secret, request);
  const { expectStatus, propagation } = secret.provider.probe;
  // Counted in waits asked for, not by a clock: the bound holds however long each probe takes.
  let waited = 0;
  for (let attempt = 1; ; attempt++) {
    const status = await client.probe(secret.apiKey, secret.keyId);
    if (expectStatus.includes(status)) return;
    if (waitForPropagation && propagation?.notYetStatuses.includes(status)) {
      const wait = Math.min(5_000, propagation.baseDelayMs * 2 ** (attempt - 1));
      if (waited + wait <= propagation.maxWaitMs) {
        if (Date.now() + wait >= request.deadline) {
          throw new DeadlineExceededError(
            `${client.target} probe: the new key is not live yet (HTTP ${status}) and the step has no time left to wait for it`,
          );
        }
        try {
          await access.sleep(wait, request.signal);
        } catch {
          throw new DeadlineExceededError(`${client.target} probe: ran out of time waiting for the new key`);
        }
        waited += wait;
        continue;
      }
    }
    if (status === 401 || status === 403) {
      const after =
        waitForPropagation && propagation !== undefined
          ? ` after waiting ${waited} ms for it to propagate`
          : '';
      throw new AuthenticationFailedError(
        `${client.target} probe: the key was refused (HTTP ${status})${after}`,
      );
    }
    if (status === 429 || status >= 500) {
      throw new ProviderError(`${client.target} probe: HTTP ${status}`, status, { retryable: true });
    }
    throw new VerificationFailedError(
      `${client.target} probe: HTTP ${status} with the key, expected ${expectStatus.join(' or ')}`,
    );
  }
}
