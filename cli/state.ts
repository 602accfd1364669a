/**
 * Gathers the facts the rotation state model needs (handlers/rotationState.ts) for one secret:
 * its description, the pending version's creation date, and the events of the last weeks. Every
 * command that shows a state (`status`, `rotate --wait`, `history`, `heal`) goes through here, so
 * they judge with the same facts and the same function.
 */
import type { DescribeSecretResponse, SecretVersionsListEntry } from '@aws-sdk/client-secrets-manager';
import { type RotationState, rotationState, type StateFacts } from '../handlers/rotationState.js';
import type { AwsContext } from './aws.js';
import type { RotorEventRecord } from './events.js';
import { listVersions, stuckPendingVersion } from './secrets.js';

/** How far back events are read for a state: beyond a month, a rotation's story is in `history`. */
export const STATE_EVENTS_MS = 35 * 86_400_000;

/** The facts of one secret, for `rotationState`. */
export function stateFacts(
  secret: DescribeSecretResponse,
  now: number,
  events: readonly RotorEventRecord[],
  versions: readonly SecretVersionsListEntry[] | undefined,
  quietMs?: number,
  serviceEventsVisible?: boolean,
): StateFacts {
  const pending = stuckPendingVersion(secret.VersionIdsToStages);
  const created =
    pending === undefined
      ? undefined
      : versions?.find((version) => version.VersionId === pending)?.CreatedDate;
  return {
    now,
    rotationEnabled: secret.RotationEnabled === true,
    functionArn: secret.RotationLambdaARN,
    lastRotated: secret.LastRotatedDate,
    stages: secret.VersionIdsToStages ?? {},
    pendingCreated: created,
    events,
    serviceEventsVisible,
    ...(quietMs === undefined ? {} : { timing: { quietMs } }),
  };
}

/** A secret's events since `since`, or none with a note saying why they could not be read. */
export async function readEvents(
  context: AwsContext,
  secret: DescribeSecretResponse,
  since: Date,
): Promise<{ events: RotorEventRecord[]; note?: string }> {
  const arn = secret.ARN ?? secret.Name ?? '';
  try {
    const events = await context.events.forSecret(arn, {
      since,
      ...(secret.RotationLambdaARN === undefined ? {} : { functionArn: secret.RotationLambdaARN }),
    });
    return { events };
  } catch (error) {
    return {
      events: [],
      note: `cannot read ${context.events.description} (${error instanceof Error ? error.name : 'error'})`,
    };
  }
}

export interface ReadState {
  readonly state: RotationState;
  readonly events: RotorEventRecord[];
  /** Why the events are missing, when they are. */
  readonly eventsNote?: string;
}

/**
 * The state of one secret: lists its versions only when a rotation is pending (the creation date
 * matters then), reads the events unless given.
 */
export async function readState(
  context: AwsContext,
  secret: DescribeSecretResponse,
  now: number,
  options: {
    events?: RotorEventRecord[];
    /** Why the given events are missing, when readEvents could not read them. */
    eventsNote?: string | undefined;
    versions?: readonly SecretVersionsListEntry[];
    quietMs?: number;
  } = {},
): Promise<ReadState> {
  const arn = secret.ARN ?? secret.Name ?? '';
  const read =
    options.events === undefined
      ? await readEvents(context, secret, new Date(now - STATE_EVENTS_MS))
      : { events: options.events, note: options.eventsNote };
  const versions =
    options.versions ??
    (stuckPendingVersion(secret.VersionIdsToStages) === undefined
      ? undefined
      : await listVersions(context, arn));
  // Events that could not be read say nothing about the service either.
  const visible = read.note === undefined && context.events.includesServiceEvents;
  const state = rotationState(stateFacts(secret, now, read.events, versions, options.quietMs, visible));
  return { state, events: read.events, ...(read.note === undefined ? {} : { eventsNote: read.note }) };
}
