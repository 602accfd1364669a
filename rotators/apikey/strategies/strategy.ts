/** What differs between the API-key rotator's strategies; everything else is shared. */
import type { ApplyRequest, CreatePendingRequest, CreatePendingResponse } from '../../types.js';
import type { ProviderAccess } from '../access.js';
import type { ApiKeySecret } from '../secret.js';

export interface KeyStrategy {
  /** The strategy's name, reported in events and metrics. */
  name(secret: ApiKeySecret): string;
  /**
   * Whether createPending changes the target irreversibly, so that the step machine must read
   * AWSPENDING first and call it only while nothing is stored (`Rotator.readsPendingFirst`).
   */
  readonly readsPendingFirst: boolean;
  /** Builds the pending value (a key minted, or the current key rolled). */
  createPending(
    access: ProviderAccess,
    request: CreatePendingRequest<ApiKeySecret>,
  ): Promise<CreatePendingResponse>;
  /** Makes the provider accept the pending key (activation); idempotent. */
  apply(access: ProviderAccess, request: ApplyRequest<ApiKeySecret>): Promise<void>;
  /** The error a failed test reports: says what the failure leaves working, where that differs. */
  testFailed(error: unknown): unknown;
}
