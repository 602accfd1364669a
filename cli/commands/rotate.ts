/**
 * `rotor rotate <secret> [--wait]`: starts a rotation now with the configured function and rules
 * (RotateSecret without rules changes nothing else) and, with `--wait`, follows it step by step
 * from rotor's events until it succeeds, fails, or the timeout passes. `--follow` starts nothing
 * and follows the rotation already running (its AWSPENDING version) the same way.
 *
 * How the end is recognised: success when the new version is AWSCURRENT; failure when Secrets
 * Manager reports RotationFailed (the local stack does; on AWS that event goes to EventBridge, not
 * to the logs), when the version disappears, or — on AWS — when a step failed and nothing else
 * happened for a while (the service's own retries come within seconds).
 */
import { randomUUID } from 'node:crypto';
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { CURRENT, PENDING } from '../../handlers/secrets.js';
import { type AwsContext, aws, EXIT, type GlobalOptions } from '../aws.js';
import type { RotorEventRecord } from '../events.js';
import { formatAge, type Printer } from '../io.js';
import { describeSecret, listVersions, stuckPendingVersion } from '../secrets.js';
import { type Session, sleep } from '../session.js';

export interface RotateOptions extends GlobalOptions {
  wait?: boolean;
  /** Start nothing: follow the rotation that is running (the AWSPENDING version) until it ends. */
  follow?: boolean;
  timeout: number;
  json?: boolean;
}

type Outcome = 'started' | 'succeeded' | 'failed' | 'timed-out' | 'interrupted';

interface StepLine {
  step: string;
  result: 'succeeded' | 'failed';
  attempt?: number;
  durationMs?: number;
  error?: { name: string; message?: string };
}

/** A step machine error message without its `<step> of <arn>: ` prefix (the line already says both). */
export function shortError(error: { name: string; message?: string }): string {
  const message = (error.message ?? '').replace(/^\w+ of \S+: /, '');
  return message === '' ? error.name : `${error.name}: ${message}`;
}

/** One output line for a step's outcome. */
export function stepLine(printer: Printer, event: RotorEventRecord): string {
  const ok = event.kind === 'step-succeeded';
  const result = ok ? printer.paint('green', 'succeeded') : printer.paint('red', 'FAILED   ');
  const duration = event.durationMs === undefined ? '' : formatAge(event.durationMs);
  const attempt = event.attempt === undefined ? '' : `attempt ${event.attempt}`;
  const error = event.error === undefined ? '' : `  ${shortError(event.error)}`;
  return `  ${(event.step ?? '?').padEnd(12)}  ${result}  ${duration.padStart(7)}  ${attempt}${error}`;
}

const eventKey = (event: RotorEventRecord) =>
  `${event.kind}|${event.step ?? ''}|${event.attempt ?? ''}|${event.time.toISOString()}`;

/** How long a failed step may be followed by silence before the rotation counts as failed (AWS only). */
const SETTLE_MS = 120_000;
/** Step events are asked for from this long before the start: clocks differ a little. */
const SKEW_MS = 60_000;

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
  let token: string;
  if (options.follow) {
    // Resume watching: the running rotation is the AWSPENDING version that is not AWSCURRENT.
    const running = stuckPendingVersion(secret.VersionIdsToStages);
    if (running === undefined) {
      if (options.json) out.json({ secret: name, arn, outcome: 'none' });
      else out.line(`no rotation of ${name} is running: AWSPENDING is absent or on AWSCURRENT`);
      return EXIT.ok;
    }
    token = running;
    const created = (await listVersions(context, arn)).find((v) => v.VersionId === running)?.CreatedDate;
    if (created !== undefined) startedAt = created.getTime();
    if (!options.json) out.line(`following the rotation of ${name} with ${functionArn}: version ${token}`);
  } else {
    token = randomUUID();
    await aws(
      context,
      'secretsmanager:RotateSecret',
      name,
      context.sm.send(new RotateSecretCommand({ SecretId: arn, ClientRequestToken: token })),
    );
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
    functionArn,
    startedAt,
    // The timeout counts from now, also when following a rotation that started earlier.
    timeoutMs: options.timeout * 1000 + (session.now() - startedAt),
    print: !options.json,
  });
  // Only a rotation that ended can be stuck: one still running holds AWSPENDING as it should.
  const stuck =
    followed.outcome === 'failed'
      ? stuckPendingVersion((await describeSecret(context, arn)).VersionIdsToStages)
      : undefined;
  if (options.json) {
    out.json({
      secret: name,
      arn,
      versionId: token,
      outcome: followed.outcome,
      durationMs: followed.durationMs,
      steps: followed.steps,
      ...(followed.reason === undefined ? {} : { reason: followed.reason }),
      ...(stuck === undefined ? {} : { stuckPendingVersionId: stuck }),
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
      default:
        out.line(
          `${out.paint('red', 'rotation failed')} after ${took}: ${followed.reason ?? 'see the steps above'}`,
        );
    }
    if (stuck !== undefined) {
      out.line(
        `AWSPENDING is stuck on version ${stuck}: the next rotation will be refused until \`rotor heal ${name}\` clears it`,
      );
    }
  }
  return followed.outcome === 'succeeded' ? EXIT.ok : EXIT.failure;
}

interface Followed {
  outcome: Outcome;
  durationMs: number;
  steps: StepLine[];
  reason?: string;
}

async function follow(
  session: Session,
  context: AwsContext,
  target: {
    arn: string;
    token: string;
    functionArn: string;
    startedAt: number;
    timeoutMs: number;
    print: boolean;
  },
): Promise<Followed> {
  const { out, progress } = session.term;
  const { arn, token, startedAt } = target;
  const since = new Date(startedAt - SKEW_MS);
  const seen = new Set<string>();
  const steps: StepLine[] = [];
  let lastActivity = session.now();
  let lastKind: RotorEventRecord['kind'] | undefined;
  let eventsWarned = false;
  let currentPolls = 0;
  let succeededEvent = false;
  const result = (outcome: Outcome, reason?: string): Followed => ({
    outcome,
    durationMs: session.now() - startedAt,
    steps,
    ...(reason === undefined ? {} : { reason }),
  });

  for (;;) {
    let events: RotorEventRecord[] = [];
    try {
      events = await context.events.forSecret(arn, { since, functionArn: target.functionArn });
    } catch (error) {
      if (!eventsWarned) {
        eventsWarned = true;
        progress(
          `cannot read steps from ${context.events.description} (${error instanceof Error ? error.name : 'error'}): following the labels only`,
        );
      }
    }
    let failedReason: string | undefined;
    for (const event of events) {
      // The service's RotationFailed carries no token: only one from after this rotation started is
      // about it (a failure healed a minute ago is not).
      const ours =
        event.versionId === token ||
        (event.versionId === undefined &&
          event.kind === 'rotation-failed' &&
          event.time.getTime() >= startedAt - 1_000);
      if (!ours) continue;
      const key = eventKey(event);
      if (seen.has(key)) continue;
      seen.add(key);
      lastActivity = session.now();
      lastKind = event.kind;
      if (event.kind === 'step-started') {
        if (target.print) progress(`  ${event.step ?? '?'} started (attempt ${event.attempt ?? '?'})`);
      } else if (event.kind === 'step-succeeded' || event.kind === 'step-failed') {
        steps.push({
          step: event.step ?? '?',
          result: event.kind === 'step-succeeded' ? 'succeeded' : 'failed',
          ...(event.attempt === undefined ? {} : { attempt: event.attempt }),
          ...(event.durationMs === undefined ? {} : { durationMs: event.durationMs }),
          ...(event.error === undefined ? {} : { error: event.error }),
        });
        if (target.print) out.line(stepLine(out, event));
      } else if (event.kind === 'rotation-succeeded') {
        succeededEvent = true;
      } else if (event.kind === 'rotation-failed') {
        failedReason = event.note ?? 'Secrets Manager reported RotationFailed';
      }
    }
    if (failedReason !== undefined) return result('failed', lastFailure(steps) ?? failedReason);

    const stages = (await describeSecret(context, arn)).VersionIdsToStages ?? {};
    const labels = stages[token];
    if (labels?.includes(CURRENT)) {
      // Promoted. The last step's event may still be on its way: wait for it a little.
      currentPolls++;
      if (succeededEvent || currentPolls > 3) return result('succeeded');
    } else if (labels === undefined || !labels.includes(PENDING)) {
      return result(
        'failed',
        `version ${token} is no longer AWSPENDING (someone cancelled or cleared the rotation)`,
      );
    } else if (!context.local && lastKind === 'step-failed' && session.now() - lastActivity > SETTLE_MS) {
      return result('failed', lastFailure(steps) ?? 'a step failed');
    }
    if (session.now() - startedAt > target.timeoutMs) return result('timed-out');
    if (session.signal.aborted) return result('interrupted');
    await sleep(session.pollIntervalMs, session.signal);
  }
}

function lastFailure(steps: readonly StepLine[]): string | undefined {
  const failed = steps.findLast((step) => step.result === 'failed');
  if (failed === undefined) return undefined;
  const attempts = Math.max(...steps.map((step) => step.attempt ?? 1));
  return `${failed.step} failed${failed.error === undefined ? '' : ` (${shortError(failed.error)})`}, after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
}
