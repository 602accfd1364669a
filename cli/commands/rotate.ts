/**
 * `rotor rotate <secret> [--wait]`: starts a rotation now with the configured function and rules
 * (RotateSecret without rules changes nothing else) and, with `--wait`, follows it step by step
 * from rotor's events until it succeeds, fails, or the timeout passes.
 *
 * The end is recognised with the rotation state model (handlers/rotationState.ts), as `status` and
 * `heal` judge it: success when the new version is AWSCURRENT; failure when the state is `failed`
 * (Secrets Manager's RotationFailed, or a failed step followed by more silence than its retries
 * take) or `stuck`, or when the version stops being AWSPENDING (cleared, or abandoned by a manual
 * put-secret-value). When Secrets Manager refuses to start because a previous rotation is still
 * running (just attached, or being reattempted), `--wait` follows that one instead. `--follow`
 * starts nothing and follows the rotation already running (its AWSPENDING version) the same way.
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { type RotationState, rotationState } from '../../handlers/rotationState.js';
import { runbookUrl } from '../../handlers/runbook.js';
import { CURRENT, PENDING } from '../../handlers/secrets.js';
import { CAUSE_WORDS, causeClass, explainCodes } from '../../rotators/causes.js';
import { StageConflictError } from '../../rotators/errors.js';
import { type AwsContext, aws, EXIT, type GlobalOptions } from '../aws.js';
import type { RotorEventRecord } from '../events.js';
import { formatAge, type Printer } from '../io.js';
import { describeSecret, listVersions, stuckPendingVersion } from '../secrets.js';
import { type Session, sleep } from '../session.js';
import { readEvents, readState, stateFacts } from '../state.js';

export interface RotateOptions extends GlobalOptions {
  wait?: boolean;
  /** Start nothing: follow the rotation that is running (the AWSPENDING version) until it ends. */
  follow?: boolean;
  timeout: number;
  json?: boolean;
}

export type Outcome = 'started' | 'succeeded' | 'failed' | 'timed-out' | 'interrupted';

export interface StepLine {
  step: string;
  result: 'succeeded' | 'failed';
  attempt?: number;
  durationMs?: number;
  error?: { name: string; message?: string };
}

/**
 * A step machine error message without its `<step> of <arn>: ` prefix (the line already says
 * both), with the SQLSTATE or MySQL error number it quotes in words.
 */
export function shortError(error: { name: string; message?: string }): string {
  const message = shortMessage(error.message ?? '');
  return message === '' ? error.name : `${error.name}: ${message}`;
}

/** A step machine error message without its `<step> of <arn>: ` prefix, its codes in words. */
export function shortMessage(message: string): string {
  return explainCodes(message.replace(/^\w+ of \S+: /, ''));
}

/** `<class of the cause>: <short error>`, e.g. `probe query: VerificationFailedError: ...`. */
export function errorWithCause(error: { name: string; message?: string; reason?: string }): string {
  return `${CAUSE_WORDS[causeClass(error)]}: ${shortError(error)}`;
}

/** One output line for a step's outcome. */
export function stepLine(printer: Printer, event: RotorEventRecord): string {
  const ok = event.kind === 'step-succeeded';
  const result = ok ? printer.paint('green', 'succeeded') : printer.paint('red', 'FAILED   ');
  const duration = event.durationMs === undefined ? '' : formatAge(event.durationMs);
  const attempt = event.attempt === undefined ? '' : `attempt ${event.attempt}`;
  const error = event.error === undefined ? '' : `  ${errorWithCause(event.error)}`;
  return `  ${(event.step ?? '?').padEnd(12)}  ${result}  ${duration.padStart(7)}  ${attempt}${error}`;
}

const eventKey = (event: RotorEventRecord) =>
  `${event.kind}|${event.step ?? ''}|${event.attempt ?? ''}|${event.time.toISOString()}`;

/** Step events are asked for from this long before the start: clocks differ a little. */
export const SKEW_MS = 60_000;

/**
 * Records a step's outcome event once (`seen` holds the events already recorded) into `steps`,
 * printing its line and any fallback warning when `print`: `rotate --wait` and attach's
 * configuration test follow steps alike.
 */
export function recordStep(
  printer: Printer,
  event: RotorEventRecord,
  seen: Set<string>,
  steps: StepLine[],
  print: boolean,
): void {
  const key = eventKey(event);
  if (seen.has(key)) return;
  seen.add(key);
  steps.push({
    step: event.step ?? '?',
    result: event.kind === 'step-succeeded' ? 'succeeded' : 'failed',
    ...(event.attempt === undefined ? {} : { attempt: event.attempt }),
    ...(event.durationMs === undefined ? {} : { durationMs: event.durationMs }),
    ...(event.error === undefined ? {} : { error: event.error }),
  });
  if (print) printer.line(stepLine(printer, event));
  if (print && event.fallback !== undefined) {
    printer.line(
      `  ${printer.paint('yellow', 'warning')}: ${event.step ?? 'the step'} logged in with ${event.fallback}: AWSCURRENT's credential did not work on the target`,
    );
  }
}

export async function rotateCommand(
  session: Session,
  secretId: string,
  options: RotateOptions,
): Promise<number> {
  const context = await session.aws(options);
  const { out } = session.term;
  const secret = await describeSecret(context, secretId);
  const arn = secret.ARN ?? secretId;
  const name = secret.Name ?? arn;
  const functionArn = secret.RotationLambdaARN;
  if (functionArn === undefined || secret.RotationEnabled !== true) {
    session.term.err.line(
      `rotor: ${name} has no rotation ${functionArn === undefined ? 'configured' : 'enabled'}: run \`rotor attach ${name} --function <rotor function> --schedule "rate(30 days)"\` first`,
    );
    return EXIT.usage;
  }
  let startedAt = session.now();
  let token: string = randomUUID();
  let created = new Date(startedAt);
  if (options.follow) {
    // Resume watching: start nothing, follow the AWSPENDING version that is not AWSCURRENT.
    // The labels say which version (the state model's pendingVersionId, without reading events).
    const pending = stuckPendingVersion(secret.VersionIdsToStages);
    if (pending === undefined) {
      if (options.json) out.json({ secret: name, arn, outcome: 'none' });
      else out.line(`no rotation of ${name} is running: AWSPENDING is absent or on AWSCURRENT`);
      return EXIT.ok;
    }
    const versions = await listVersions(context, arn);
    token = pending;
    created = versions.find((version) => version.VersionId === pending)?.CreatedDate ?? created;
    startedAt = created.getTime();
    if (!options.json) out.line(`following the rotation of ${name} with ${functionArn}: version ${token}`);
  } else {
    try {
      await aws(
        context,
        'secretsmanager:RotateSecret',
        name,
        context.sm.send(new RotateSecretCommand({ SecretId: arn, ClientRequestToken: token })),
      );
    } catch (error) {
      // Refused because AWSPENDING is on another version: what that version is doing decides what to say.
      if (!(error instanceof StageConflictError)) throw error;
      const now = await describeSecret(context, arn);
      const versions = await listVersions(context, arn);
      const { state } = await readState(context, now, session.now(), { versions });
      const pending = state.pendingVersionId;
      if (state.state !== 'rotating' || pending === undefined || !options.wait) {
        const what =
          state.state === 'rotating'
            ? `a rotation is already running (${state.reason}): follow it with \`rotor rotate ${name} --wait\` or \`rotor history ${name}\``
            : `${state.state}: ${state.reason}. Secrets Manager reattempts it; \`rotor heal ${name}\` says whether to roll it forward or clear it`;
        session.term.err.line(`rotor: ${name}: a previous rotation isn't complete: ${what}`);
        return EXIT.failure;
      }
      // A rotation is running (just attached, or the service reattempting): follow that one.
      token = pending;
      created = versions.find((version) => version.VersionId === pending)?.CreatedDate ?? created;
      startedAt = created.getTime();
      if (!options.json) {
        out.line(`a rotation of ${name} is already running (${state.reason}): following version ${token}`);
      }
    }
    if (!options.wait) {
      if (options.json) out.json({ secret: name, arn, versionId: token, outcome: 'started' });
      else
        out.line(
          `rotation of ${name} started: version ${token} (follow it with \`rotor rotate ${name} --follow\`)`,
        );
      return EXIT.ok;
    }

    if (!options.json) out.line(`rotating ${name} with ${functionArn}: version ${token}`);
  }

  const followed = await follow(session, context, {
    arn,
    token,
    created,
    timeoutMs: options.timeout * 1000,
    print: !options.json,
  });
  const left = followed.state?.pendingVersionId;
  if (options.json) {
    out.json({
      secret: name,
      arn,
      versionId: token,
      outcome: followed.outcome,
      durationMs: followed.durationMs,
      steps: followed.steps,
      ...(followed.state === undefined ? {} : { state: followed.state.state }),
      ...(followed.state?.failure === undefined ? {} : { failure: followed.state.failure }),
      ...(followed.reason === undefined ? {} : { reason: followed.reason }),
      ...(left === undefined ? {} : { pendingVersionId: left }),
    });
  } else {
    const took = formatAge(followed.durationMs);
    switch (followed.outcome) {
      case 'succeeded':
        out.line(`${out.paint('green', 'rotation succeeded')} in ${took}: version ${token} is AWSCURRENT`);
        break;
      case 'timed-out':
        out.line(
          `${out.paint('yellow', 'still running')} after ${took}: follow it with \`rotor rotate ${name} --follow\``,
        );
        break;
      case 'interrupted':
        out.line(`stopped following after ${took}; the rotation goes on in Secrets Manager`);
        break;
      default: {
        out.line(
          `${out.paint('red', 'rotation failed')} after ${took}: ${followed.reason ?? 'see the steps above'}`,
        );
        const error = followed.state?.failure?.error;
        if (error !== undefined) out.line(`runbook: ${runbookUrl(error)}`);
      }
    }
    if (left !== undefined && followed.outcome === 'failed') {
      out.line(
        `AWSPENDING is left on version ${left}: the next rotation is refused until it is cleared; \`rotor heal ${name}\` decides (no --force needed for a failed rotation)`,
      );
    }
  }
  return followed.outcome === 'succeeded' ? EXIT.ok : EXIT.failure;
}

export interface Followed {
  /** How following ended (never `started`: that is `rotate` without `--wait`). */
  outcome: Exclude<Outcome, 'started'>;
  durationMs: number;
  steps: StepLine[];
  reason?: string;
  /** The rotation state when following ended (rotate, status, heal and history judge alike). */
  state?: RotationState;
}

/** Follows one rotation (its token) until it succeeds, fails, times out or is interrupted: `rotate --wait`, `attach`. */
export async function follow(
  session: Session,
  context: AwsContext,
  target: {
    arn: string;
    token: string;
    /** When the followed version was created (this command's RotateSecret, or the running rotation's). */
    created: Date;
    timeoutMs: number;
    print: boolean;
  },
): Promise<Followed> {
  const { out, progress } = session.term;
  const { arn, token } = target;
  const startedAt = target.created.getTime();
  const followingSince = session.now();
  const since = new Date(startedAt - SKEW_MS);
  const versions = [{ VersionId: token, CreatedDate: target.created }];
  const seen = new Set<string>();
  const steps: StepLine[] = [];
  let eventsWarned = false;
  let currentPolls = 0;
  let succeededEvent = false;
  const result = (outcome: Followed['outcome'], reason?: string, state?: RotationState): Followed => ({
    outcome,
    durationMs: session.now() - startedAt,
    steps,
    ...(reason === undefined ? {} : { reason }),
    ...(state === undefined ? {} : { state }),
  });

  const reader = followReader(context, arn, since, progress);
  for (;;) {
    const { secret, events } = await reader.read();
    eventsWarned = reader.warned;
    let abandoned = false;
    for (const event of events) {
      if (event.versionId !== token) {
        // The service's events carry no token: an abandon after this rotation began is about it.
        if (event.kind === 'rotation-abandoned' && event.time.getTime() >= startedAt - 1_000)
          abandoned = true;
        continue;
      }
      if (event.kind === 'step-succeeded' || event.kind === 'step-failed') {
        recordStep(out, event, seen, steps, target.print);
        continue;
      }
      const key = eventKey(event);
      if (seen.has(key)) continue;
      seen.add(key);
      if (event.kind === 'step-started') {
        if (target.print) progress(`  ${event.step ?? '?'} started (attempt ${event.attempt ?? '?'})`);
      } else if (event.kind === 'rotation-succeeded') {
        succeededEvent = true;
      }
    }

    const labels = secret.VersionIdsToStages?.[token];
    if (labels?.includes(CURRENT)) {
      // Promoted. The last step's event may still be on its way: wait for it a little.
      currentPolls++;
      if (succeededEvent || currentPolls > 3) return result('succeeded');
    } else if (labels === undefined || !labels.includes(PENDING)) {
      return result(
        'failed',
        abandoned
          ? `version ${token} was abandoned: someone put a new AWSCURRENT by hand (put-secret-value) while it rotated; AWSCURRENT changed`
          : `version ${token} is no longer AWSPENDING (someone cancelled or cleared the rotation)`,
      );
    } else {
      const visible = !eventsWarned && context.events.includesServiceEvents;
      const state = rotationState(stateFacts(secret, session.now(), events, versions, undefined, visible));
      if (state.state === 'failed' || state.state === 'stuck') {
        return result('failed', failureReason(state, steps), state);
      }
    }
    if (session.now() - followingSince > target.timeoutMs) return result('timed-out');
    if (session.signal.aborted) return result('interrupted');
    await sleep(session.pollIntervalMs, session.signal);
  }
}

/** What failed, in one sentence: the step and error with its cause's class, and the attempts. */
function failureReason(state: RotationState, steps: readonly StepLine[]): string {
  const failed = steps.findLast((step) => step.result === 'failed');
  const f = state.failure;
  if (f === undefined) return state.reason;
  const error =
    failed?.error !== undefined
      ? errorWithCause(failed.error)
      : f.error === undefined
        ? undefined
        : errorWithCause({ name: f.error });
  const attempts = f.attempts ?? Math.max(0, ...steps.map((step) => step.attempt ?? 1));
  return `${f.step ?? failed?.step ?? 'a step'} failed${error === undefined ? '' : ` (${error})`}${attempts > 0 ? `, after ${attempts} attempt${attempts === 1 ? '' : 's'}` : ''}${f.evidence === 'service' ? '; Secrets Manager gave up' : ''}`;
}

/**
 * One poll of a rotation being followed: the secret's description and its events since `since`.
 * When the events cannot be read, says so once and follows the labels alone (`warned`).
 */
export function followReader(
  context: AwsContext,
  arn: string,
  since: Date,
  progress: (line: string) => void,
) {
  const reader = {
    warned: false,
    async read(): Promise<{
      secret: Awaited<ReturnType<typeof describeSecret>>;
      events: RotorEventRecord[];
    }> {
      const secret = await describeSecret(context, arn);
      // The same reading (and note) every state is judged with (../state.ts).
      const { events, note } = await readEvents(context, secret, since);
      if (note !== undefined && !reader.warned) {
        reader.warned = true;
        progress(`${note}: following the labels only`);
      }
      return { secret, events };
    },
  };
  return reader;
}
