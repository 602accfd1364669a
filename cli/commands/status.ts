/**
 * `rotor status`: every secret rotated by rotor's functions (a function whose engines are known:
 * its rotor:engines tag or rotor's name; `--all` adds those whose rotation is turned off), one row
 * each: engine and strategy (with --deep only, from the parsed AWSCURRENT, whose other fields are
 * never shown), whether rotation is enabled, the last and next rotation, whether it is overdue, the
 * rotation state (handlers/rotationState.ts: healthy, rotating, failed, stuck, never-rotated,
 * not-rotor), the replicas, the last outcome rotor's events tell of, the configuration test's
 * outcome, and any fallback or warning the last rotation reported.
 */
import {
  type DescribeSecretResponse,
  ListSecretsCommand,
  type SecretListEntry,
} from '@aws-sdk/client-secrets-manager';
import type { RotationFailure, RotationStateName, TestOutcome } from '../../handlers/rotationState.js';
import { runbookUrl } from '../../handlers/runbook.js';
import { RotorError } from '../../rotators/errors.js';
import { type AwsContext, aws, EXIT, type GlobalOptions } from '../aws.js';
import type { RotorEventRecord } from '../events.js';
import { functionEngines } from '../functionEngines.js';
import { formatAgeSeconds, formatDate, type Printer, table } from '../io.js';
import {
  describeSecret,
  engineNamed,
  type Overdue,
  overdue,
  parseCurrent,
  readCurrentText,
  stuckPendingVersion,
} from '../secrets.js';
import type { Session } from '../session.js';
import { readState } from '../state.js';
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
  readonly result:
    | 'succeeded'
    | 'failed'
    | 'healed'
    | 'heal-needed'
    | 'abandoned'
    | 'test-passed'
    | 'test-failed';
  readonly time: string;
  readonly step?: string;
  readonly error?: string;
  readonly decision?: string;
  /** A failed step: whether AWSCURRENT passed the rotator's test after it (absent: not checked). */
  readonly currentVerified?: boolean;
  /** A failed single-user test: whether the server's password was put back. */
  readonly rolledBack?: boolean;
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
  /** The rotation state (handlers/rotationState.ts), and why, in a sentence. */
  state: RotationStateName;
  stateReason: string;
  /** `failed`: the step and error; `runbook` links the error's entry. */
  failure?: RotationFailure & { runbook?: string };
  /** AWSPENDING left on a version of its own, while the state is `failed` or `stuck`. */
  stuckPending?: { versionId: string; ageSeconds?: number };
  /** The latest configuration test (RotateImmediately=false) the events tell of. */
  lastTest?: TestOutcome;
  /** What the last completed rotation reported beside success: a fallback (AWSPREVIOUS), warnings. */
  lastRotationNotes?: { versionId?: string; fallback?: string; warnings: string[] };
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
          ...(event.currentVerified === undefined ? {} : { currentVerified: event.currentVerified }),
          ...(event.rolledBack === undefined ? {} : { rolledBack: event.rolledBack }),
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
      case 'rotation-abandoned':
        return { result: 'abandoned', time };
      case 'test-passed':
        return { result: 'test-passed', time };
      case 'test-failed':
        return { result: 'test-failed', time, ...(event.note === undefined ? {} : { error: event.note }) };
      default:
        break;
    }
  }
  return null;
}

/**
 * Whether a row shows something an operator must act on: a failed or stuck rotation, an overdue
 * secret, a value that does not parse, or a configuration test that failed and was not followed
 * by a rotation. A failure that was healed since is history, not a problem.
 */
export function hasProblem(status: SecretStatus): boolean {
  return (
    status.state === 'failed' ||
    status.state === 'stuck' ||
    status.overdue.overdue ||
    status.invalid !== undefined ||
    (status.state === 'never-rotated' && status.lastTest?.result === 'failed')
  );
}

/**
 * What the last failure's events said, in sentences: whether AWSCURRENT passed the rotator's test
 * after it (`currentVerified`), whether a single-user password was put back (`rolledBack`), and a
 * fallback to AWSPREVIOUS a step of that rotation needed. Each sentence only from a field present.
 */
export function failureSentences(failure: {
  readonly currentVerified?: boolean;
  readonly rolledBack?: boolean;
  readonly fallback?: string;
}): { text: string; warning: boolean }[] {
  const sentences: { text: string; warning: boolean }[] = [];
  if (failure.currentVerified === true) {
    sentences.push({
      text: "after the failure, AWSCURRENT still passed the rotator's test (currentVerified: true)",
      warning: false,
    });
  } else if (failure.currentVerified === false) {
    sentences.push({
      text: "after the failure, AWSCURRENT did NOT pass the rotator's test (currentVerified: false): applications using it may be failing",
      warning: true,
    });
  } else {
    sentences.push({
      text: 'whether AWSCURRENT still logs in after the failure was not checked (no currentVerified): rotor heal tests it',
      warning: false,
    });
  }
  if (failure.rolledBack === true) {
    sentences.push({
      text: "the server's password was put back to AWSCURRENT's (rolledBack: true)",
      warning: false,
    });
  } else if (failure.rolledBack === false) {
    sentences.push({
      text: "putting the server's password back to AWSCURRENT's did not complete (rolledBack: false)",
      warning: true,
    });
  }
  if (failure.fallback !== undefined) {
    sentences.push({
      text: `a step of the failed rotation logged in with ${failure.fallback}: AWSCURRENT's credential did not work on the target`,
      warning: true,
    });
  }
  return sentences;
}

/** The fallback and warnings the last completed rotation reported (its step events say so). */
export function lastRotationNotes(
  events: readonly RotorEventRecord[],
): SecretStatus['lastRotationNotes'] | undefined {
  const done = events.findLast(
    (event) =>
      event.kind === 'rotation-succeeded' ||
      (event.kind === 'step-succeeded' && event.step === 'finishSecret'),
  );
  if (done?.versionId === undefined) return undefined;
  const own = events.filter((event) => event.versionId === done.versionId && event.kind === 'step-succeeded');
  const fallback = own.find((event) => event.fallback !== undefined)?.fallback;
  const warnings = [...new Set(own.flatMap((event) => event.warnings ?? []))];
  if (fallback === undefined && warnings.length === 0) return undefined;
  return { versionId: done.versionId, ...(fallback === undefined ? {} : { fallback }), warnings };
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
  // functionEngines asks once per function, however many secrets it rotates.
  const isRotors = (functionArn: string) =>
    functionEngines(context, functionArn).then(
      (found) => found.engines !== undefined,
      () => false,
    );
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
    state: 'healthy',
    stateReason: '',
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
      const signal = AbortSignal.any([AbortSignal.timeout(30_000), session.signal]);
      const reader = session.reader(context, signal);
      const parsed = await parseCurrent(reader, arn, text);
      status.engine = parsed.engine;
      status.strategy = parsed.strategy;
    } catch (error) {
      if (!(error instanceof RotorError)) throw error;
      status.invalid = error.message;
      const engine = engineNamed(text);
      if (engine !== undefined) status.engine = engine;
    }
  }

  // readState lists the versions itself when a rotation is pending (the creation date matters then).
  const stuck = stuckPendingVersion(secret.VersionIdsToStages);
  const read = await readState(context, secret, session.now());
  if (read.eventsNote !== undefined) warn(`last outcomes unknown: ${read.eventsNote}`);
  const { state } = read;
  status.state = state.state;
  status.stateReason = state.reason;
  if (state.failure !== undefined) {
    status.failure = {
      ...state.failure,
      ...(state.failure.error === undefined ? {} : { runbook: runbookUrl(state.failure.error) }),
    };
  }
  if (stuck !== undefined && (state.state === 'failed' || state.state === 'stuck')) {
    status.stuckPending = {
      versionId: stuck,
      ...(state.pendingAgeSeconds === undefined ? {} : { ageSeconds: state.pendingAgeSeconds }),
    };
  }
  if (state.lastTest !== undefined) status.lastTest = state.lastTest;
  const notes = lastRotationNotes(read.events);
  if (notes !== undefined) status.lastRotationNotes = notes;
  status.lastOutcome = read.eventsNote === undefined ? lastOutcome(read.events) : null;
  return status;
}

function stateCell(out: Printer, status: SecretStatus): string {
  switch (status.state) {
    case 'healthy':
      return out.paint('green', 'healthy');
    case 'rotating':
      return out.paint('yellow', 'rotating');
    case 'failed': {
      const f = status.failure;
      return out.paint(
        'red',
        `failed${f?.step === undefined ? '' : ` in ${f.step}`}${f?.error === undefined ? '' : ` (${f.error})`}`,
      );
    }
    case 'stuck': {
      const pending = status.stuckPending;
      return out.paint(
        'red',
        `stuck${pending === undefined ? '' : ` ${pending.versionId.slice(0, 8)} (${pending.ageSeconds === undefined ? '?' : formatAgeSeconds(pending.ageSeconds)})`}`,
      );
    }
    case 'never-rotated':
      return status.lastTest === undefined
        ? 'never rotated'
        : `never rotated, test ${status.lastTest.result}`;
    default:
      return 'not rotor';
  }
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
    case 'abandoned':
      return `abandoned ${when} (AWSCURRENT put by hand)`;
    case 'test-passed':
      return `test passed ${when}`;
    case 'test-failed':
      return `test failed ${when}`;
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
    stateCell(out, status),
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
      'STATE',
      'REPLICAS',
      'LAST OUTCOME',
    ],
    rows,
  );
  for (const status of statuses) {
    if (status.invalid !== undefined) out.line(`${status.name}: ${status.invalid}`);
    if (status.overdue.overdue) out.line(`${status.name}: overdue: ${status.overdue.reason}`);
    if (status.state === 'failed' || status.state === 'stuck') {
      const runbook = status.failure?.runbook === undefined ? '' : `; runbook: ${status.failure.runbook}`;
      out.line(
        `${status.name}: ${status.state}: ${status.stateReason}: see \`rotor heal ${status.name}\`${runbook}`,
      );
    } else if (status.state === 'rotating') {
      out.line(`${status.name}: rotating: ${status.stateReason}`);
    }
    const failed =
      status.failure ?? (status.lastOutcome?.result === 'failed' ? status.lastOutcome : undefined);
    if (failed !== undefined && status.state !== 'healthy') {
      for (const { text, warning } of failureSentences(failed)) {
        out.line(`${status.name}: ${warning ? `${out.paint('yellow', 'warning')}: ` : ''}${text}`);
      }
    }
    if (status.lastTest !== undefined && status.state !== 'rotating') {
      out.line(
        `${status.name}: configuration test ${status.lastTest.result} ${formatDate(new Date(status.lastTest.time))}${status.lastTest.error === undefined ? '' : ` (${status.lastTest.error})`}`,
      );
    }
    const notes = status.lastRotationNotes;
    if (notes?.fallback !== undefined) {
      out.line(
        `${status.name}: ${out.paint('yellow', 'warning')}: the last rotation logged in with ${notes.fallback}: AWSCURRENT's credential did not work on the target before it`,
      );
    }
    for (const warning of notes?.warnings ?? []) {
      out.line(`${status.name}: ${out.paint('yellow', 'warning')}: ${warning}`);
    }
  }
  return problems > 0 ? EXIT.failure : EXIT.ok;
}
