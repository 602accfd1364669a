/**
 * A local stand-in for Amazon EventBridge's `PutEvents`, with the real validation and the real
 * partial-failure shape (HTTP 200, `FailedEntryCount`, per-entry `ErrorCode`/`ErrorMessage`).
 *
 * Accepted events are kept in memory, in the envelope AWS delivers to targets, so tests and the
 * CLI can read what was published. The store also receives AWS's own service events (the
 * CloudTrail rotation events Secrets Manager emits), which no client may put itself.
 */
import { randomUUID } from 'node:crypto';
import {
  AwsError,
  CallCounter,
  type FaultHandle,
  FaultPlan,
  type FaultSpec,
  InputValidator,
  type JsonInput,
} from './http.js';

/** An accepted event: what was put, where, and when. */
export interface StoredEvent {
  readonly id: string;
  readonly source: string;
  readonly detailType: string;
  /** The `Detail` JSON text as put (always a JSON object): `JSON.parse(event.detail)`. */
  readonly detail: string;
  readonly resources: readonly string[];
  readonly eventBusName: string;
  /** The event's time (the entry's `Time`, or when it was put), ISO 8601. */
  readonly time: string;
  readonly region: string;
  readonly account: string;
  /** When the stack received it (ISO, millisecond precision): what `since` filters on. */
  readonly receivedAt: string;
}

export interface EventFilter {
  readonly source?: string;
  readonly detailType?: string;
  /** Events received at or after this instant. */
  readonly since?: Date;
  readonly eventBusName?: string;
  /** For AWS service events: `detail.eventName` (`RotationSucceeded`, ...). */
  readonly eventName?: string;
  readonly match?: (event: StoredEvent) => boolean;
}

/** Per-entry error codes a fault can return. */
export type EntryErrorCode = 'InternalFailure' | 'ThrottlingException';

export interface EntryFaultSpec {
  /** How many entries fail (across requests). Default 1. */
  readonly entries?: number;
  readonly errorCode?: EntryErrorCode;
  readonly errorMessage?: string;
  /** Only entries passing this fail. */
  readonly match?: (entry: JsonInput) => boolean;
}

export interface LocalEventBridgeOptions {
  readonly region: string;
  readonly accountId: string;
  readonly clock?: () => Date;
  /** Accept events for buses nobody created. Default true. */
  readonly acceptUnknownBuses?: boolean;
  /** Size limit of one request's entries, in bytes. Default 256 KiB. */
  readonly maxRequestBytes?: number;
}

const DEFAULT_BUS = 'default';
const ENTRY_ERROR_MESSAGES: Record<EntryErrorCode, string> = {
  InternalFailure: 'Internal Failure (injected fault)',
  ThrottlingException: 'Rate exceeded (injected fault)',
};

interface ArmedEntryFault {
  remaining: number;
  readonly errorCode: EntryErrorCode;
  readonly errorMessage: string;
  readonly match: (entry: JsonInput) => boolean;
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

export class LocalEventBridge {
  readonly region: string;
  readonly accountId: string;
  private readonly clock: () => Date;
  private readonly acceptUnknownBuses: boolean;
  private readonly maxRequestBytes: number;
  private readonly stored: StoredEvent[] = [];
  private readonly buses = new Set([DEFAULT_BUS]);
  private readonly faults = new FaultPlan({
    type: 'InternalException',
    message: 'Internal error (injected fault).',
    status: 500,
  });
  private entryFaults: ArmedEntryFault[] = [];
  private readonly counter = new CallCounter();
  private readonly listeners = new Set<() => void>();

  constructor(options: LocalEventBridgeOptions) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.clock = options.clock ?? (() => new Date());
    this.acceptUnknownBuses = options.acceptUnknownBuses ?? true;
    this.maxRequestBytes = options.maxRequestBytes ?? 256 * 1024;
  }

  /** Every accepted event, oldest first. */
  get events(): readonly StoredEvent[] {
    return this.stored;
  }

  /** The accepted events matching every given criterion. */
  find(filter: EventFilter = {}): StoredEvent[] {
    const since = filter.since?.getTime();
    return this.stored.filter(
      (event) =>
        (filter.source === undefined || event.source === filter.source) &&
        (filter.detailType === undefined || event.detailType === filter.detailType) &&
        (filter.eventBusName === undefined || event.eventBusName === filter.eventBusName) &&
        (since === undefined || Date.parse(event.receivedAt) >= since) &&
        (filter.eventName === undefined || detailEventName(event) === filter.eventName) &&
        (filter.match === undefined || filter.match(event)),
    );
  }

  /** Forgets the stored events. */
  clear(): void {
    this.stored.length = 0;
    this.changed();
  }

  /** Declares a custom bus (only matters with `acceptUnknownBuses: false`). */
  createEventBus(name: string): void {
    this.buses.add(name);
  }

  /** Runs one API operation as the HTTP server does: `PutEvents` and `ListEventBuses`. */
  async handle(operation: string, input: JsonInput): Promise<unknown> {
    this.counter.count(operation);
    if (operation === 'ListEventBuses') return this.listEventBuses(input);
    if (operation !== 'PutEvents') {
      throw new AwsError('UnknownOperationException', `Unknown operation AWSEvents.${operation}`);
    }
    return this.faults.run(operation, input, () => this.putEvents(input));
  }

  /**
   * `ListEventBuses`: the default bus and the declared ones, filtered by `NamePrefix`. Tools probe
   * it before they put events (the AWS CLI's and consoles' first call); no pagination is needed
   * for the few buses a local stack has.
   */
  private listEventBuses(input: JsonInput): { EventBuses: { Name: string; Arn: string }[] } {
    const prefix = input.NamePrefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 256)) {
      throw new AwsError('ValidationException', "Value at 'namePrefix' failed to satisfy constraint");
    }
    const names = [DEFAULT_BUS, ...[...this.buses].filter((name) => name !== DEFAULT_BUS).sort()];
    return {
      EventBuses: names
        .filter((name) => prefix === undefined || name.startsWith(prefix))
        .map((name) => ({
          Name: name,
          Arn: `arn:aws:events:${this.region}:${this.accountId}:event-bus/${name}`,
        })),
    };
  }

  /** Fails whole `PutEvents` requests (default: HTTP 500 `InternalException`). See `FaultSpec`. */
  injectFault(spec?: FaultSpec): FaultHandle {
    return this.faults.add('PutEvents', spec);
  }

  /** Fails the next entries with a retryable per-entry error, in an otherwise successful response. */
  injectEntryFailures(spec: EntryFaultSpec = {}): FaultHandle {
    const errorCode = spec.errorCode ?? 'InternalFailure';
    const fault: ArmedEntryFault = {
      remaining: spec.entries ?? 1,
      errorCode,
      errorMessage: spec.errorMessage ?? ENTRY_ERROR_MESSAGES[errorCode],
      match: spec.match ?? (() => true),
    };
    this.entryFaults.push(fault);
    return {
      get remaining() {
        return fault.remaining;
      },
      clear: () => {
        this.entryFaults = this.entryFaults.filter((other) => other !== fault);
      },
    };
  }

  clearFaults(): void {
    this.faults.clear();
    this.entryFaults = [];
  }

  get calls(): Record<string, number> {
    return this.counter.snapshot();
  }

  resetCalls(): void {
    this.counter.reset();
  }

  /**
   * Stores an event AWS itself emits (source `aws.*`), bypassing the checks that stop clients
   * from impersonating AWS services.
   */
  recordServiceEvent(event: {
    source: string;
    detailType: string;
    detail: Record<string, unknown>;
    resources?: string[];
  }): StoredEvent {
    return this.store({
      source: event.source,
      detailType: event.detailType,
      detail: JSON.stringify(event.detail),
      resources: event.resources ?? [],
      eventBusName: DEFAULT_BUS,
      time: this.clock(),
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): readonly StoredEvent[] {
    return this.stored;
  }

  restore(events: readonly StoredEvent[]): void {
    this.stored.length = 0;
    this.stored.push(...events);
  }

  private putEvents(input: JsonInput): unknown {
    const v = new InputValidator(input);
    const entries = v.list('Entries', { required: true, min: 1, max: 10 });
    v.string('EndpointId');
    v.check();
    const list = (entries ?? []).map(
      (entry) => (typeof entry === 'object' && entry !== null ? entry : {}) as JsonInput,
    );
    const size = list.reduce((sum, entry) => sum + entrySize(entry), 0);
    if (size > this.maxRequestBytes) {
      throw new AwsError(
        'ValidationException',
        'Total size of the entries in the request is over the limit.',
      );
    }
    const results = list.map((entry) => this.putEntry(entry));
    return {
      FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length,
      Entries: results,
    };
  }

  private putEntry(entry: JsonInput): EntryResult {
    const source = stringField(entry, 'Source');
    const detailType = stringField(entry, 'DetailType');
    const detailText = stringField(entry, 'Detail');
    if (source === undefined) return invalidArgument('Source', 'Source is a required argument.');
    if (detailType === undefined) return invalidArgument('DetailType', 'DetailType is a required argument.');
    if (detailText === undefined) return invalidArgument('Detail', 'Detail is a required argument.');
    if (detailType.length > 128) {
      return invalidArgument('DetailType', 'DetailType must be at most 128 characters long.');
    }
    if (!isJsonObject(detailText))
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    if (source.startsWith('aws.')) {
      return { ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: 'Not authorized for the source.' };
    }
    const eventBusName = busName(stringField(entry, 'EventBusName') ?? DEFAULT_BUS);
    if (!this.acceptUnknownBuses && !this.buses.has(eventBusName)) {
      return {
        ErrorCode: 'ResourceNotFoundException',
        ErrorMessage: `Event bus ${eventBusName} does not exist.`,
      };
    }
    const fault = this.entryFaults.find((candidate) => candidate.match(entry));
    if (fault !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.entryFaults = this.entryFaults.filter((other) => other !== fault);
      return { ErrorCode: fault.errorCode, ErrorMessage: fault.errorMessage };
    }
    const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : this.clock();
    const resources = Array.isArray(entry.Resources) ? entry.Resources.map(String) : [];
    const stored = this.store({ source, detailType, detail: detailText, resources, eventBusName, time });
    return { EventId: stored.id };
  }

  private store(event: {
    source: string;
    detailType: string;
    detail: string;
    resources: string[];
    eventBusName: string;
    time: Date;
  }): StoredEvent {
    const stored: StoredEvent = {
      id: randomUUID(),
      source: event.source,
      detailType: event.detailType,
      detail: event.detail,
      resources: event.resources,
      eventBusName: event.eventBusName,
      time: event.time.toISOString(),
      region: this.region,
      account: this.accountId,
      receivedAt: this.clock().toISOString(),
    };
    this.stored.push(stored);
    this.changed();
    return stored;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/**
 * A CloudTrail "AWS Service Event" the way EventBridge delivers it (detail-type
 * `AWS Service Event via CloudTrail`), e.g. Secrets Manager's `RotationSucceeded`.
 */
export function cloudTrailServiceEvent(event: {
  service: 'secretsmanager';
  eventName: string;
  region: string;
  accountId: string;
  time: Date;
  additionalEventData: Record<string, unknown>;
  extra?: Record<string, unknown>;
}): { source: string; detailType: string; detail: Record<string, unknown> } {
  const principal = `${event.service}.amazonaws.com`;
  return {
    source: `aws.${event.service}`,
    detailType: 'AWS Service Event via CloudTrail',
    detail: {
      eventVersion: '1.08',
      userIdentity: { accountId: event.accountId, invokedBy: principal },
      eventTime: `${event.time.toISOString().slice(0, 19)}Z`,
      eventSource: principal,
      eventName: event.eventName,
      awsRegion: event.region,
      sourceIPAddress: principal,
      userAgent: principal,
      requestParameters: null,
      responseElements: null,
      additionalEventData: event.additionalEventData,
      requestID: randomUUID(),
      eventID: randomUUID(),
      readOnly: false,
      eventType: 'AwsServiceEvent',
      managementEvent: true,
      recipientAccountId: event.accountId,
      eventCategory: 'Management',
      ...event.extra,
    },
  };
}

function detailEventName(event: StoredEvent): unknown {
  try {
    return (JSON.parse(event.detail) as Record<string, unknown>).eventName;
  } catch {
    return undefined;
  }
}

function invalidArgument(parameter: string, reason: string): EntryResult {
  return {
    ErrorCode: 'InvalidArgument',
    ErrorMessage: `Parameter ${parameter} is not valid. Reason: ${reason}`,
  };
}

function stringField(entry: JsonInput, name: string): string | undefined {
  const value = entry[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Detail must be a JSON object (not an array, string or number). */
function isJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** `arn:aws:events:<region>:<account>:event-bus/<name>` → `<name>`. */
function busName(nameOrArn: string): string {
  const marker = ':event-bus/';
  const at = nameOrArn.indexOf(marker);
  return nameOrArn.startsWith('arn:') && at >= 0 ? nameOrArn.slice(at + marker.length) : nameOrArn;
}

/** An entry's size as AWS counts it: Time 14 bytes, then the UTF-8 bytes of each text field. */
function entrySize(entry: JsonInput): number {
  let size = entry.Time === undefined ? 0 : 14;
  for (const name of ['Source', 'DetailType', 'Detail']) {
    const value = entry[name];
    if (typeof value === 'string') size += Buffer.byteLength(value, 'utf8');
  }
  if (Array.isArray(entry.Resources)) {
    for (const resource of entry.Resources) size += Buffer.byteLength(String(resource), 'utf8');
  }
  return size;
}
