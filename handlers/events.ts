/**
 * Publishes rotor's events to EventBridge.
 *
 * Publishing must never break a rotation: failures are retried where EventBridge says it is worth
 * it (per-entry error codes the classifier in ./awsErrors.ts calls retryable, `InternalFailure` /
 * `ThrottlingException`, which the SDK does not retry because the HTTP call itself succeeded;
 * whole requests that failed after the SDK's own retries), then reported to `onFailure` and
 * swallowed.
 */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { classifyAwsError, classifyAwsErrorCode } from './awsErrors.js';
import type { Redactor } from './redact.js';

/** The detail types rotor emits. The README's event catalogue documents each. */
export type RotorDetailType =
  | 'Rotation Step Started'
  | 'Rotation Step Succeeded'
  | 'Rotation Step Failed'
  | 'Rotation Succeeded'
  | 'Rotation Healed'
  | 'Rotation Heal Needed';

export interface RotorEvent {
  detailType: RotorDetailType;
  /** The secret's ARN, also put in the event's `resources`. */
  secretArn: string;
  detail: Record<string, unknown>;
}

export interface PublishOutcome {
  sent: number;
  failed: number;
}

const BACKOFF_MS = [50, 200, 800];
/** Undelivered failure events kept for the next publish, at most (the newest). */
const MAX_KEPT = 20;

export interface EventPublisherOptions {
  busName: string;
  source: string;
  redactor: Redactor;
  /** Called once per publish that lost entries, with the count and the last error code. */
  onFailure?: (failed: number, reason: string) => void;
  sleep?: (ms: number) => Promise<void>;
  /** Pauses before each re-send of failed entries. Default 50, 200, 800 ms. */
  backoffMs?: readonly number[];
}

export class EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly options: EventPublisherOptions,
  ) {}

  /** Entries that must not be lost and could not be delivered yet (see `keepUndelivered`). */
  #undelivered: PutEventsRequestEntry[] = [];

  /**
   * Sends `events` in one PutEvents (per 10), re-sending retryable failures. With
   * `keepUndelivered`, entries that still failed are kept and sent again, first, with the next
   * publish of this container (failure events: the next step or retry carries them). Whatever is
   * kept is already scrubbed: it holds no secret.
   */
  async publish(
    events: readonly RotorEvent[],
    options: { keepUndelivered?: boolean } = {},
  ): Promise<PublishOutcome> {
    if (events.length === 0) return { sent: 0, failed: 0 };
    const { busName, source, redactor } = this.options;
    const carried = this.#undelivered;
    this.#undelivered = [];
    const fresh: PutEventsRequestEntry[] = events.map((event) => ({
      EventBusName: busName,
      Source: source,
      DetailType: event.detailType,
      Resources: [event.secretArn],
      // Scrubbed once more: an error message may quote something it should not have.
      Detail: JSON.stringify(redactor.scrubDeep(event.detail)),
    }));
    const keep = new Set<PutEventsRequestEntry>(options.keepUndelivered ? [...carried, ...fresh] : carried);
    let pending: PutEventsRequestEntry[] = [...carried, ...fresh];
    let lastReason = '';
    let failed = 0;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
    for (let attempt = 0; pending.length > 0; attempt++) {
      const retry: PutEventsRequestEntry[] = [];
      // PutEvents takes at most 10 entries.
      for (let i = 0; i < pending.length; i += 10) {
        const batch = pending.slice(i, i + 10);
        try {
          const out = await this.client.send(new PutEventsCommand({ Entries: batch }));
          if ((out.FailedEntryCount ?? 0) === 0) continue;
          (out.Entries ?? []).forEach((result, index) => {
            const entry = batch[index];
            if (result.ErrorCode === undefined || entry === undefined) return;
            lastReason = result.ErrorCode;
            if (classifyAwsErrorCode(result.ErrorCode).retryable) retry.push(entry);
            else {
              // Refused for good (malformed, too large): keeping it would only fail again.
              failed++;
              keep.delete(entry);
            }
          });
        } catch (error) {
          // The whole call failed after the SDK's own retries: the batch is worth another try.
          lastReason = classifyAwsError(error).name;
          retry.push(...batch);
        }
      }
      const delay = (this.options.backoffMs ?? BACKOFF_MS)[attempt];
      if (retry.length > 0 && delay === undefined) {
        failed += retry.length;
        this.#undelivered = retry.filter((entry) => keep.has(entry)).slice(-MAX_KEPT);
      }
      if (retry.length === 0 || delay === undefined) break;
      await sleep(delay);
      pending = retry;
    }
    if (failed > 0) this.options.onFailure?.(failed, lastReason);
    return { sent: carried.length + events.length - failed, failed };
  }
}
