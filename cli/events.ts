/**
 * Where the CLI reads what rotations did: rotor's own events (one per step, with duration, attempt
 * and error class) and the service's rotation outcome events.
 *
 * Two sources behind one small interface:
 * - the local stack keeps every event it was sent and serves them on `GET /_rotor/events`;
 * - on AWS, rotor's step machine logs one JSON line per step (`step succeeded` / `step failed`)
 *   to its function's log group, read with FilterLogEvents on the secret's ARN.
 *
 * Neither source carries a secret value: events and log lines are built from names and scrubbed.
 */
import { type CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { RotationEventKind } from '../handlers/rotationState.js';
import { STEPS as PROTOCOL_STEPS, type Step } from '../rotators/protocol.js';

export type RotorEventKind = RotationEventKind;

/** One thing that happened to a secret's rotation. */
export interface RotorEventRecord {
  readonly time: Date;
  readonly kind: RotorEventKind;
  readonly secretArn: string;
  /** The rotation's token; absent on the service's own events, which do not carry it. */
  readonly versionId?: string;
  readonly step?: Step;
  readonly engine?: string;
  readonly strategy?: string;
  readonly attempt?: number;
  readonly durationMs?: number;
  /** The error's class and message (messages are built from names, never values). */
  readonly error?: { readonly name: string; readonly message?: string; readonly reason?: string };
  /** Heal events: the decision taken or needed. */
  readonly decision?: string;
  /** Free text the source gave (a service event's reason, a heal reason). */
  readonly note?: string;
  /** What a step reported beside success (privilege drift, a fallback it needed). */
  readonly warnings?: readonly string[];
  /**
   * The label a step had to fall back to (`AWSPREVIOUS`: AWSCURRENT's password was wrong on the
   * target and the rotation logged in with the previous one).
   */
  readonly fallback?: string;
  /**
   * A failed setSecret or testSecret: whether AWSCURRENT still passed the rotator's own test after
   * the failure (absent: not checked). See README, events.
   */
  readonly currentVerified?: boolean;
  /** A failed single-user testSecret: whether the server's password was put back (absent: no rollback). */
  readonly rolledBack?: boolean;
  /** `service`: Secrets Manager's own event; otherwise rotor's. */
  readonly source?: 'service';
}

export interface RotationEvents {
  /** A description for messages: `local stack events`, `CloudWatch Logs /aws/lambda/...`. */
  readonly description: string;
  /** Whether the source has Secrets Manager's own rotation events too (not only rotor's steps). */
  readonly includesServiceEvents: boolean;
  /** The secret's events at or after `since`, oldest first. `functionArn` says where to look on AWS. */
  forSecret(secretArn: string, options?: { since?: Date; functionArn?: string }): Promise<RotorEventRecord[]>;
}

const STEPS = new Set<string>(PROTOCOL_STEPS);

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function object(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The step-machine fields every rotor event and log line shares. */
function common(fields: Record<string, unknown>): Omit<RotorEventRecord, 'time' | 'kind' | 'secretArn'> {
  const step = str(fields.step);
  const versionId = str(fields.versionId);
  const engine = str(fields.engine);
  const strategy = str(fields.strategy);
  const attempt = num(fields.attempt);
  const durationMs = num(fields.durationMs);
  const error = object(fields.error);
  const errorName = str(error?.name);
  const errorMessage = str(error?.message);
  const errorReason = str(error?.reason);
  const warnings = Array.isArray(fields.warnings)
    ? fields.warnings.filter((warning): warning is string => typeof warning === 'string')
    : [];
  const fallback = str(fields.fallback);
  const currentVerified = typeof fields.currentVerified === 'boolean' ? fields.currentVerified : undefined;
  const rolledBack = typeof fields.rolledBack === 'boolean' ? fields.rolledBack : undefined;
  return {
    ...(currentVerified === undefined ? {} : { currentVerified }),
    ...(rolledBack === undefined ? {} : { rolledBack }),
    ...(warnings.length === 0 ? {} : { warnings }),
    ...(fallback === undefined ? {} : { fallback }),
    ...(versionId === undefined ? {} : { versionId }),
    ...(step !== undefined && STEPS.has(step) ? { step: step as Step } : {}),
    ...(engine === undefined ? {} : { engine }),
    ...(strategy === undefined ? {} : { strategy }),
    ...(attempt === undefined ? {} : { attempt }),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(errorName === undefined
      ? {}
      : {
          error: {
            name: errorName,
            ...(errorMessage === undefined ? {} : { message: errorMessage }),
            ...(errorReason === undefined ? {} : { reason: errorReason }),
          },
        }),
  };
}

// ---------------------------------------------------------------- EventBridge events (local stack)

/** An event as the local stack stores it (`GET /_rotor/events`). */
export interface StoredEventShape {
  readonly source: string;
  readonly detailType: string;
  readonly detail: string;
  readonly resources: readonly string[];
  readonly time: string;
}

const DETAIL_KINDS: Readonly<Record<string, RotorEventKind>> = {
  'Rotation Step Started': 'step-started',
  'Rotation Step Succeeded': 'step-succeeded',
  'Rotation Step Failed': 'step-failed',
  'Rotation Succeeded': 'rotation-succeeded',
  'Rotation Healed': 'healed',
  'Rotation Heal Needed': 'heal-needed',
};

/**
 * Secrets Manager's CloudTrail events about rotation. `RotationSucceeded` is left out: rotor's own
 * `Rotation Succeeded` says the same with the token.
 */
const SERVICE_KINDS: Readonly<Record<string, RotorEventKind>> = {
  RotationStarted: 'rotation-started',
  RotationFailed: 'rotation-failed',
  RotationAbandoned: 'rotation-abandoned',
  TestRotationStarted: 'test-started',
  TestRotationSucceeded: 'test-passed',
  TestRotationFailed: 'test-failed',
};

/**
 * One EventBridge event as a record, or undefined when it is neither rotor's nor a rotation
 * outcome of Secrets Manager. `rotorSource` is rotor's `Source` (default `rotor`).
 */
export function fromEventBridge(event: StoredEventShape, rotorSource: string): RotorEventRecord | undefined {
  let detail: Record<string, unknown> | undefined;
  try {
    detail = object(JSON.parse(event.detail));
  } catch {
    return undefined;
  }
  if (detail === undefined) return undefined;
  const time = new Date(event.time);
  if (event.source === rotorSource) {
    const kind = DETAIL_KINDS[event.detailType];
    const secretArn = str(detail.secretArn) ?? event.resources[0];
    if (kind === undefined || secretArn === undefined) return undefined;
    const decision = str(detail.decision);
    const reason = str(detail.reason);
    return {
      time,
      kind,
      secretArn,
      ...common(detail),
      // A heal report names the version as pendingVersionId.
      ...(detail.versionId === undefined && str(detail.pendingVersionId) !== undefined
        ? { versionId: str(detail.pendingVersionId) as string }
        : {}),
      ...(decision === undefined ? {} : { decision }),
      ...(reason === undefined ? {} : { note: reason }),
    };
  }
  if (event.source === 'aws.secretsmanager') {
    // CloudTrail's rotation events: the outcome of a whole rotation, without its token.
    const name = str(detail.eventName);
    const secretArn = str(object(detail.additionalEventData)?.SecretId) ?? event.resources[0];
    if (secretArn === undefined) return undefined;
    const note = str(object(detail.additionalEventData)?.errorMessage) ?? str(detail.errorMessage);
    const kind = name === undefined ? undefined : SERVICE_KINDS[name];
    if (kind !== undefined) {
      return { time, kind, secretArn, source: 'service', ...(note === undefined ? {} : { note }) };
    }
  }
  return undefined;
}

/** The local stack's event store. */
export class LocalStackEvents implements RotationEvents {
  readonly description: string;
  readonly includesServiceEvents = true;

  constructor(
    private readonly endpoint: string,
    private readonly rotorSource: string,
    private readonly fetchJson: (url: string) => Promise<unknown> = defaultFetchJson,
  ) {
    this.description = `local stack events (${endpoint}/_rotor/events)`;
  }

  async forSecret(secretArn: string, options: { since?: Date } = {}): Promise<RotorEventRecord[]> {
    const since = options.since === undefined ? '' : `?since=${options.since.getTime()}`;
    const stored = await this.fetchJson(`${this.endpoint}/_rotor/events${since}`);
    if (!Array.isArray(stored)) return [];
    return stored
      .map((event) => fromEventBridge(event as StoredEventShape, this.rotorSource))
      .filter((record): record is RotorEventRecord => record?.secretArn === secretArn)
      .sort((a, b) => a.time.getTime() - b.time.getTime());
  }
}

async function defaultFetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return response.json();
}

/** Whether `endpoint` is rotor's local stack (it answers `GET /_rotor/health`), and its region. */
export async function probeLocalStack(endpoint: string): Promise<{ region: string } | undefined> {
  try {
    const response = await fetch(`${endpoint.replace(/\/+$/, '')}/_rotor/health`, {
      signal: AbortSignal.timeout(3_000),
    });
    if (!response.ok) return undefined;
    const body = object(await response.json());
    return body?.ok === true && typeof body.region === 'string' ? { region: body.region } : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- CloudWatch Logs (AWS)

/** One log event as FilterLogEvents returns it. */
export interface LogEventShape {
  readonly timestamp?: number | undefined;
  readonly message?: string | undefined;
}

const LOG_MESSAGES: Readonly<Record<string, RotorEventKind>> = {
  'step succeeded': 'step-succeeded',
  'step failed': 'step-failed',
};

/**
 * One log event of a rotation function as a record, or undefined when it is not a step line.
 *
 * The step machine logs JSON (Powertools). Depending on the function's log format the line arrives
 * as the JSON itself, behind Lambda's text prefix (`<time>\t<request id>\tINFO\t{...}`), or wrapped
 * in Lambda's JSON envelope (`{"record": {...}}`): all three are read.
 */
export function fromLogEvent(event: LogEventShape): RotorEventRecord | undefined {
  const text = event.message;
  if (text === undefined) return undefined;
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = object(JSON.parse(text.slice(start)));
  } catch {
    return undefined;
  }
  const fields = object(parsed?.record) ?? parsed;
  if (fields === undefined) return undefined;
  const kind = LOG_MESSAGES[str(fields.message) ?? ''];
  const secretArn = str(fields.secretArn);
  if (kind === undefined || secretArn === undefined) return undefined;
  const stamp = str(fields.timestamp);
  const time =
    stamp !== undefined && !Number.isNaN(Date.parse(stamp))
      ? new Date(stamp)
      : new Date(event.timestamp ?? 0);
  return { time, kind, secretArn, ...common(fields) };
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` → `<name>`; a name stays. */
export function lambdaFunctionName(functionArn: string): string {
  if (!functionArn.startsWith('arn:')) return functionArn;
  const parts = functionArn.split(':');
  const at = parts.indexOf('function');
  return (at >= 0 ? parts[at + 1] : parts.at(-1)) ?? functionArn;
}

/** The log group Lambda writes a function's logs to by default. */
export function defaultLogGroup(functionArn: string): string {
  return `/aws/lambda/${lambdaFunctionName(functionArn)}`;
}

/**
 * The filter pattern for one secret: its ARN as a quoted term, so it matches in every log format.
 * Quotes inside are escaped (an ARN has none, but a name passed by hand might).
 */
export function filterPatternFor(secretArn: string): string {
  return `"${secretArn.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** rotor's step lines in the rotation function's CloudWatch log group. */
export class CloudWatchEvents implements RotationEvents {
  readonly description: string;
  readonly includesServiceEvents = false;

  constructor(
    private readonly client: CloudWatchLogsClient,
    /** A log group to read instead of the function's default one. */
    private readonly logGroup?: string,
    /** At most this many pages per call (each up to 10,000 events). */
    private readonly maxPages = 20,
  ) {
    this.description = `CloudWatch Logs (${logGroup ?? '/aws/lambda/<rotation function>'})`;
  }

  async forSecret(
    secretArn: string,
    options: { since?: Date; functionArn?: string } = {},
  ): Promise<RotorEventRecord[]> {
    const logGroupName =
      this.logGroup ?? (options.functionArn === undefined ? undefined : defaultLogGroup(options.functionArn));
    if (logGroupName === undefined) return [];
    const records: RotorEventRecord[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < this.maxPages; page++) {
      const out = await this.client.send(
        new FilterLogEventsCommand({
          logGroupName,
          filterPattern: filterPatternFor(secretArn),
          ...(options.since === undefined ? {} : { startTime: options.since.getTime() }),
          ...(nextToken === undefined ? {} : { nextToken }),
        }),
      );
      for (const event of out.events ?? []) {
        const record = fromLogEvent(event);
        if (record?.secretArn === secretArn) records.push(record);
      }
      nextToken = out.nextToken;
      if (nextToken === undefined) break;
    }
    return records.sort((a, b) => a.time.getTime() - b.time.getTime());
  }
}
