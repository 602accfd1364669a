/**
 * `rotor status`: every secret rotated by rotor's functions (a function whose engines are known:
 * its rotor:engines tag or rotor's name), one row each: engine and strategy (with --deep only,
 * from the parsed AWSCURRENT, whose other fields are never shown), whether rotation is enabled, the last and next
 * rotation, whether it is overdue, a stuck AWSPENDING with its age, the replicas, and the last
 * outcome rotor's events tell of.
 */
import {
  type DescribeSecretResponse,
  ListSecretsCommand,
  type SecretListEntry,
} from '@aws-sdk/client-secrets-manager';
import { RotorError } from '../../rotators/errors.js';
import { type AwsContext, aws, EXIT, type GlobalOptions } from '../aws.js';
import type { RotorEventRecord } from '../events.js';
import { functionEngines } from '../functionEngines.js';
import { formatAgeSeconds, formatDate, table } from '../io.js';
import {
  describeSecret,
  engineNamed,
  listVersions,
  type Overdue,
  overdue,
  parseCurrent,
  readCurrentText,
  stuckPendingVersion,
} from '../secrets.js';
import type { Session } from '../session.js';
import { shortError } from './rotate.js';

export interface StatusOptions extends GlobalOptions {
  prefix?: string;
  /** Also secrets whose rotation (by one of rotor's functions) is turned off. */
  all?: boolean;
  /** Read and parse each secret's value: engine, strategy, a value that does not parse. */
  deep?: boolean;
  json?: boolean;
}

export interface LastOutcome {
  readonly result: 'succeeded' | 'failed' | 'healed' | 'heal-needed';
  readonly time: string;
  readonly step?: string;
  readonly error?: string;
  readonly decision?: string;
}

export interface SecretStatus {
  name: string;
  arn: string;
  engine?: string;
  strategy?: string;
  /** Why the value does not parse for its engine. */
  invalid?: string;
  rotationEnabled: boolean;
  function?: string;
  schedule?: string;
  window?: string;
  lastRotated?: string;
  nextRotation?: string;
  overdue: Overdue;
  stuckPending?: { versionId: string; ageSeconds?: number };
  replicas: { region: string; status: string; message?: string }[];
  /** `null`: the events say nothing (or cannot be read). */
  lastOutcome: LastOutcome | null;
}

/** The last thing that ended: a rotation, a failed step, a heal. */
export function lastOutcome(events: readonly RotorEventRecord[]): LastOutcome | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event === undefined) continue;
    const time = event.time.toISOString();
    switch (event.kind) {
      case 'rotation-succeeded':
        return { result: 'succeeded', time };
      case 'step-succeeded':
        // Logs have no "rotation succeeded" line: a finished finishSecret is one.
        if (event.step === 'finishSecret') return { result: 'succeeded', time };
        break;
      case 'step-failed':
        return {
          result: 'failed',
          time,
          ...(event.step === undefined ? {} : { step: event.step }),
          ...(event.error === undefined ? {} : { error: event.error.name }),
        };
      case 'rotation-failed':
        return { result: 'failed', time, ...(event.note === undefined ? {} : { error: event.note }) };
      case 'healed':
        return {
          result: 'healed',
          time,
          ...(event.decision === undefined ? {} : { decision: event.decision }),
        };
      case 'heal-needed':
        return {
          result: 'heal-needed',
          time,
          ...(event.decision === undefined ? {} : { decision: event.decision }),
        };
      default:
        break;
    }
  }
  return null;
}

/** Whether a row shows something an operator must act on. */
export function hasProblem(status: SecretStatus): boolean {
  return (
    status.overdue.overdue ||
    status.stuckPending !== undefined ||
    status.invalid !== undefined ||
    status.lastOutcome?.result === 'failed' ||
    status.lastOutcome?.result === 'heal-needed'
  );
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function listRotated(context: AwsContext, options: StatusOptions): Promise<SecretListEntry[]> {
  const entries: SecretListEntry[] = [];
  let token: string | undefined;
  do {
    const page = await aws(
      context,
      'secretsmanager:ListSecrets',
      undefined,
      context.sm.send(
        new ListSecretsCommand({
          MaxResults: 100,
          ...(options.prefix === undefined ? {} : { Filters: [{ Key: 'name', Values: [options.prefix] }] }),
          ...(token === undefined ? {} : { NextToken: token }),
        }),
      ),
    );
    for (const entry of page.SecretList ?? []) {
      if (entry.RotationLambdaARN !== undefined && (options.all || entry.RotationEnabled === true))
        entries.push(entry);
    }
    token = page.NextToken;
  } while (token !== undefined);
  // Only secrets rotated by rotor's functions: another rotator's secrets are not rotor's to report.
  const rotors = new Map<string, Promise<boolean>>();
  const isRotors = (functionArn: string) => {
    let known = rotors.get(functionArn);
    if (known === undefined) {
      known = functionEngines(context, functionArn).then(
        (found) => found.engines !== undefined,
        () => false,
      );
      rotors.set(functionArn, known);
    }
    return known;
  };
  const owned = await Promise.all(entries.map((entry) => isRotors(entry.RotationLambdaARN as string)));
  return entries
    .filter((_entry, index) => owned[index])
    .sort((a, b) => (a.Name ?? '').localeCompare(b.Name ?? ''));
}

async function statusOf(
  session: Session,
  context: AwsContext,
  entry: SecretListEntry,
  warn: (text: string) => void,
  deep = false,
): Promise<SecretStatus> {
  const arn = entry.ARN ?? entry.Name ?? '?';
  const secret: DescribeSecretResponse = await describeSecret(context, arn);
  const status: SecretStatus = {
    name: secret.Name ?? arn,
    arn,
    rotationEnabled: secret.RotationEnabled === true,
    ...(secret.RotationLambdaARN === undefined ? {} : { function: secret.RotationLambdaARN }),
    ...(secret.RotationRules?.ScheduleExpression !== undefined
      ? { schedule: secret.RotationRules.ScheduleExpression }
      : secret.RotationRules?.AutomaticallyAfterDays !== undefined
        ? { schedule: `every ${secret.RotationRules.AutomaticallyAfterDays} days` }
        : {}),
    ...(secret.RotationRules?.Duration === undefined ? {} : { window: secret.RotationRules.Duration }),
    ...(secret.LastRotatedDate === undefined ? {} : { lastRotated: secret.LastRotatedDate.toISOString() }),
    ...(secret.NextRotationDate === undefined ? {} : { nextRotation: secret.NextRotationDate.toISOString() }),
    overdue: overdue(secret, session.now()),
    replicas: (secret.ReplicationStatus ?? []).map((replica) => ({
      region: replica.Region ?? '?',
      status: replica.Status ?? '?',
      ...(replica.StatusMessage === undefined ? {} : { message: replica.StatusMessage }),
    })),
    lastOutcome: null,
  };

  let text: string | undefined;
  try {
    // Values are read only when asked (--deep): listing needs no access to them.
    if (deep) text = await readCurrentText(context, arn, session.scope);
  } catch (error) {
    // Listing may be allowed where reading values is not: the row shows what it can.
    if (!(error instanceof RotorError)) throw error;
    warn(`engines unknown for some secrets: ${error.message}`);
  }
  if (text !== undefined) {
    try {
      const enricher = context.discovery.forInvocation(
        AbortSignal.any([AbortSignal.timeout(30_000), session.signal]),
      );
      const parsed = await parseCurrent(text, arn, session.registry(), enricher);
      status.engine = parsed.engine;
      status.strategy = parsed.strategy;
    } catch (error) {
      if (!(error instanceof RotorError)) throw error;
      status.invalid = error.message;
      const engine = engineNamed(text);
      if (engine !== undefined) status.engine = engine;
    }
  }

  const stuck = stuckPendingVersion(secret.VersionIdsToStages);
  if (stuck !== undefined) {
    const created = (await listVersions(context, arn)).find((v) => v.VersionId === stuck)?.CreatedDate;
    status.stuckPending = {
      versionId: stuck,
      ...(created === undefined
        ? {}
        : { ageSeconds: Math.round((session.now() - created.getTime()) / 1000) }),
    };
  }

  try {
    const since = new Date(session.now() - 35 * 86_400_000);
    const events = await context.events.forSecret(arn, {
      since,
      ...(secret.RotationLambdaARN === undefined ? {} : { functionArn: secret.RotationLambdaARN }),
    });
    status.lastOutcome = lastOutcome(events);
  } catch (error) {
    warn(
      `last outcomes unknown: cannot read ${context.events.description} (${error instanceof Error ? error.name : 'error'})`,
    );
  }
  return status;
}

function outcomeCell(outcome: LastOutcome | null): string {
  if (outcome === null) return 'unknown';
  const when = formatDate(new Date(outcome.time));
  switch (outcome.result) {
    case 'succeeded':
      return `succeeded ${when}`;
    case 'failed':
      return `failed ${when}${outcome.step === undefined ? '' : ` in ${outcome.step}`}${outcome.error === undefined ? '' : ` (${shortError({ name: outcome.error })})`}`;
    case 'healed':
      return `healed ${when}${outcome.decision === undefined ? '' : ` (${outcome.decision})`}`;
    default:
      return `heal needed ${when}${outcome.decision === undefined ? '' : ` (${outcome.decision})`}`;
  }
}

export async function statusCommand(session: Session, options: StatusOptions): Promise<number> {
  const context = await session.aws(options);
  const { out } = session.term;
  const warned = new Set<string>();
  const warn = (text: string) => {
    if (warned.has(text)) return;
    warned.add(text);
    session.term.progress(text);
  };
  const entries = await listRotated(context, options);
  if (!options.json && entries.length > 5) session.term.progress(`reading ${entries.length} secrets...`);
  const statuses = await mapLimited(entries, 4, (entry) =>
    statusOf(session, context, entry, warn, options.deep),
  );
  const problems = statuses.filter(hasProblem).length;

  if (options.json) {
    out.json(statuses);
    return problems > 0 ? EXIT.failure : EXIT.ok;
  }
  if (statuses.length === 0) {
    out.line(
      `no secret rotated by rotor's functions${options.prefix === undefined ? '' : ` whose name starts with "${options.prefix}"`}`,
    );
    return EXIT.ok;
  }
  const rows = statuses.map((status) => [
    status.name,
    status.engine ?? (options.deep ? '?' : '-'),
    status.invalid === undefined
      ? (status.strategy ?? (options.deep ? '?' : '-'))
      : out.paint('red', 'INVALID VALUE'),
    status.rotationEnabled ? 'yes' : out.paint('yellow', 'no'),
    formatDate(status.lastRotated === undefined ? undefined : new Date(status.lastRotated)),
    formatDate(status.nextRotation === undefined ? undefined : new Date(status.nextRotation)),
    status.overdue.overdue ? out.paint('red', 'OVERDUE') : 'no',
    status.stuckPending === undefined
      ? '-'
      : out.paint(
          'red',
          `${status.stuckPending.versionId.slice(0, 8)} (${status.stuckPending.ageSeconds === undefined ? '?' : formatAgeSeconds(status.stuckPending.ageSeconds)})`,
        ),
    status.replicas.length === 0 ? '-' : status.replicas.map((r) => `${r.region}:${r.status}`).join(', '),
    outcomeCell(status.lastOutcome),
  ]);
  table(
    out,
    [
      'NAME',
      'ENGINE',
      'STRATEGY',
      'ENABLED',
      'LAST ROTATED',
      'NEXT ROTATION',
      'OVERDUE',
      'STUCK PENDING',
      'REPLICAS',
      'LAST OUTCOME',
    ],
    rows,
  );
  for (const status of statuses) {
    if (status.invalid !== undefined) out.line(`${status.name}: ${status.invalid}`);
    if (status.overdue.overdue) out.line(`${status.name}: overdue: ${status.overdue.reason}`);
    if (status.stuckPending !== undefined) {
      out.line(
        `${status.name}: AWSPENDING stuck on version ${status.stuckPending.versionId}: see \`rotor heal ${status.name}\``,
      );
    }
  }
  return problems > 0 ? EXIT.failure : EXIT.ok;
}
