/**
 * `rotor attach <secret...>`: turns rotation on for existing secrets (RotateSecret with the
 * function, the schedule and the window). A secret is refused, and left exactly as it was, when
 * its value does not parse for its engine (the error names the field) or, unless
 * `--skip-preflight`, when a preflight check fails. Whatever the flags, it is refused when the
 * function does not rotate the secret's engine (cli/functionEngines.ts), and when another rotation
 * function is configured on it, unless `--replace`.
 *
 * Once attached, it waits (unless `--no-wait`) for what RotateSecret started: the configuration
 * test (`--no-rotate-immediately`: testSecret only) or the first rotation, as `rotate --wait`
 * follows a rotation, and prints its outcome: passed, or failed with the failing step, the error,
 * the class of its cause in words and the runbook entry. Exit 1 when it failed or did not end
 * within `--timeout`.
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { windowProblem } from '../../deploy/schedule.js';
import { lastConfigurationTest, rotationState } from '../../handlers/rotationState.js';
import { runbookUrl } from '../../handlers/runbook.js';
import { PENDING } from '../../handlers/secrets.js';
import { describeCause } from '../../rotators/causes.js';
import { ConfigurationError, RotorError } from '../../rotators/errors.js';
import { type AwsContext, aws, EXIT, exitCodeOf, type GlobalOptions } from '../aws.js';
import { ENGINE_CHECK } from '../functionEngines.js';
import { formatAge } from '../io.js';
import { functionArnFor } from '../secrets.js';
import { type Session, sleep } from '../session.js';
import { stateFacts } from '../state.js';
import {
  type AdoptionResult,
  adopt,
  checkAdoptedNames,
  printAdoptions,
  type ReadSecret,
  readSecret,
} from './adopt.js';
import { checksJson, DEFAULT_PREFLIGHT_SECONDS, passed, printChecks, runPreflight } from './preflight.js';
import {
  errorWithCause,
  follow,
  followReader,
  recordStep,
  SKEW_MS,
  type StepLine,
  shortMessage,
} from './rotate.js';

export interface AttachOptions extends GlobalOptions {
  /** Required unless the command only adopts. */
  function?: string;
  schedule?: string;
  /** Accounts (or API key ids) to adopt for the secret (./adopt.ts). */
  adopt?: string[];
  window?: string;
  rotateImmediately: boolean;
  skipPreflight?: boolean;
  /** Replace a rotation function other than `--function` that the secret is configured with. */
  replace?: boolean;
  json?: boolean;
  /**
   * Seconds: how long to wait for the configuration test or first rotation (default 600). The
   * preflight checks keep their own limit (DEFAULT_PREFLIGHT_SECONDS).
   */
  timeout?: number;
  /** Wait for the configuration test or first rotation (default); `--no-wait` returns at once. */
  wait?: boolean;
}

/** How long attach waits for the configuration test or first rotation without `--timeout`. */
export const DEFAULT_WAIT_SECONDS = 600;

interface AttachResult {
  secret: string;
  arn?: string;
  attached: boolean;
  functionArn?: string;
  versionId?: string;
  refused?: { reason: string; error?: ReturnType<RotorError['toJSON']> };
  checks?: ReturnType<typeof checksJson>;
  /** When RotateSecret was sent (epoch ms): the test or rotation began after it. */
  startedAt?: number;
  /** What the attach waited for and how it ended (absent with `--no-wait`). */
  wait?: WaitOutcome;
  exitCode: number;
}

/** Why a configuration test or first rotation failed: what on-call needs, never a secret value. */
export interface WaitFailure {
  step?: string;
  error?: string;
  message?: string;
  /** The class of the cause, in words (`probe query`, `authentication`). */
  cause?: string;
  fix?: string;
  runbook?: string;
  reason: string;
}

export interface WaitOutcome {
  for: 'configuration-test' | 'rotation';
  versionId: string;
  /** `unknown`: the test ended but no event told how (events unreadable or too late). */
  outcome: 'passed' | 'succeeded' | 'failed' | 'unknown' | 'timed-out' | 'interrupted';
  durationMs: number;
  steps: StepLine[];
  failure?: WaitFailure;
}

async function attachOne(
  session: Session,
  context: AwsContext,
  secretId: string,
  options: AttachOptions,
  /** The secret as adopting read it (`--adopt`): not read again. */
  read: ReadSecret | undefined,
): Promise<AttachResult> {
  const preflight = await runPreflight(session, context, secretId, {
    withRotation: false,
    timeoutMs: DEFAULT_PREFLIGHT_SECONDS * 1000,
    function: options.function as string,
    ...(read === undefined ? {} : { read }),
  });
  const arn = preflight.secret.ARN ?? secretId;
  const functionArn = functionArnFor(options.function as string, arn);
  const base = { secret: preflight.secret.Name ?? secretId, arn };
  if (preflight.invalid !== undefined) {
    // The value must parse whatever the flags: a rotation could only fail on it.
    return {
      ...base,
      attached: false,
      refused: { reason: preflight.invalid.message, error: preflight.invalid.toJSON() },
      checks: checksJson(preflight.checks),
      exitCode: exitCodeOf(preflight.invalid),
    };
  }
  // Another function already rotates it: replacing it is a decision, never a side effect.
  const configured = preflight.secret.RotationLambdaARN;
  // Without --replace, a person at a terminal may say yes; a script (or --json) is refused.
  const replacing = configured !== undefined && configured !== functionArn;
  const confirmed =
    options.replace === true ||
    (replacing &&
      !options.json &&
      session.io.ask !== undefined &&
      /^y(es)?$/i.test(
        (
          await session.io.ask(
            `${base.secret} is rotated by ${configured}: replace it with ${functionArn}? [y/N] `,
          )
        ).trim(),
      ));
  if (replacing && !confirmed) {
    const error = new ConfigurationError(
      `it is already rotated by ${configured}${preflight.secret.RotationEnabled === false ? ' (rotation disabled)' : ''}: add --replace to configure ${functionArn} instead`,
    );
    return {
      ...base,
      attached: false,
      refused: { reason: error.message, error: error.toJSON() },
      exitCode: EXIT.usage,
    };
  }
  // A function that does not rotate the secret's engine is refused whatever the flags.
  const engine = preflight.checks.find((check) => check.name === ENGINE_CHECK);
  if (engine !== undefined && !engine.ok) {
    const error = new ConfigurationError(engine.detail);
    return {
      ...base,
      attached: false,
      refused: { reason: engine.detail, error: error.toJSON() },
      checks: checksJson(preflight.checks),
      exitCode: EXIT.usage,
    };
  }
  if (!options.skipPreflight && !passed(preflight.checks)) {
    return {
      ...base,
      attached: false,
      refused: { reason: 'preflight failed' },
      checks: checksJson(preflight.checks),
      exitCode: EXIT.failure,
    };
  }
  const startedAt = session.now();
  const out = await aws(
    context,
    'secretsmanager:RotateSecret',
    base.secret,
    context.sm.send(
      new RotateSecretCommand({
        SecretId: arn,
        RotationLambdaARN: functionArn,
        RotationRules: {
          ScheduleExpression: options.schedule,
          ...(options.window === undefined ? {} : { Duration: options.window }),
        },
        RotateImmediately: options.rotateImmediately,
      }),
    ),
  );
  return {
    ...base,
    attached: true,
    functionArn,
    ...(out.VersionId === undefined ? {} : { versionId: out.VersionId }),
    ...(options.skipPreflight ? {} : { checks: checksJson(preflight.checks) }),
    startedAt,
    exitCode: EXIT.ok,
  };
}

export async function attachCommand(
  session: Session,
  secretIds: readonly string[],
  options: AttachOptions,
): Promise<number> {
  const { out, err } = session.term;
  const adoptions = options.adopt ?? [];
  if (options.function === undefined && adoptions.length === 0) {
    err.line(`${err.paint('red', 'rotor: error:')} attach needs --function and --schedule (or --adopt)`);
    return EXIT.usage;
  }
  if (options.function !== undefined && options.schedule === undefined) {
    err.line(`${err.paint('red', 'rotor: error:')} attach --function needs --schedule`);
    return EXIT.usage;
  }
  // The window must fit the schedule (not past midnight UTC, not into the next window), as AWS checks.
  const windowIssue =
    options.window === undefined || options.schedule === undefined
      ? undefined
      : windowProblem(options.schedule, options.window);
  if (windowIssue !== undefined) throw new ConfigurationError(`--window ${options.window}: ${windowIssue}`);
  const context = await session.aws(options);
  // Adoptions first: the attach's preflight and first rotation then see them. Each secret is
  // read once: preflight parses what adopting read (adopting writes only the adoption record).
  const adopted: AdoptionResult[] = [];
  const reads = new Map<string, ReadSecret>();
  for (const secretId of adoptions.length === 0 ? [] : secretIds) {
    try {
      checkAdoptedNames(adoptions);
      const read = await readSecret(session, context, secretId);
      reads.set(secretId, read);
      adopted.push(...(await adopt(session, context, read, adoptions)));
    } catch (error) {
      if (!(error instanceof RotorError)) throw error;
      err.line(`${err.paint('red', 'refused')} ${secretId}: ${error.message}; nothing was adopted`);
      if (options.json) out.json({ secret: secretId, adopted: false, refused: { reason: error.message } });
      return exitCodeOf(error);
    }
  }
  if (!options.json) printAdoptions(session, adopted);
  if (options.function === undefined) {
    if (options.json) out.json(adopted);
    return EXIT.ok;
  }
  const results: AttachResult[] = [];
  for (const secretId of secretIds) {
    let result: AttachResult;
    session.term.progress(
      `${secretId}: ${options.skipPreflight ? 'reading the value' : 'preflight checks'}...`,
    );
    try {
      result = await attachOne(session, context, secretId, options, reads.get(secretId));
    } catch (error) {
      // One secret's failure (not found, denied) does not stop the others.
      if (!(error instanceof RotorError)) throw error;
      result = {
        secret: secretId,
        attached: false,
        refused: { reason: error.message, error: error.toJSON() },
        exitCode: exitCodeOf(error),
      };
    }
    results.push(result);
    if (!options.json && result.attached) {
      const what = options.rotateImmediately
        ? `rotation started (version ${result.versionId})`
        : 'configuration test started (testSecret only; nothing rotates until the schedule)';
      out.line(
        `${out.paint('green', 'attached')} ${result.secret}: ${result.functionArn} on ${options.schedule}${options.window ? `, window ${options.window}` : ''}; ${what}`,
      );
    }
    if (result.attached && options.wait !== false && result.versionId !== undefined) {
      result.wait = await waitForStart(session, context, result, options);
      if (result.wait.outcome !== 'passed' && result.wait.outcome !== 'succeeded') {
        result.exitCode = Math.max(result.exitCode, EXIT.failure);
      }
      if (!options.json) printWait(session, result.secret, result.wait);
    }
    if (options.json || result.attached) continue;
    err.line(
      `${err.paint('red', 'refused')} ${result.secret}: ${result.refused?.reason ?? 'unknown reason'}; nothing was changed`,
    );
    if (result.checks !== undefined && result.refused?.reason === 'preflight failed') {
      printChecks(session.term, result.checks);
    }
  }
  if (options.json) {
    const attached = results.map(({ exitCode: _code, startedAt: _started, ...result }) => result);
    out.json(adopted.length === 0 ? attached : { adopted, attached });
  }
  return Math.max(EXIT.ok, ...results.map((result) => result.exitCode));
}

/** How long, after the test's AWSPENDING is gone, its outcome's event may take to arrive (logs lag). */
const OUTCOME_LAG_MS = 60_000;

/** Error names RUNBOOK.md has entries for: rotor's errors, AWS's exceptions, Lambda's and the service's own. */
const RUNBOOK_NAME = /^(?:[A-Z]\w+(?:Error|Exception)|Sandbox\.Timedout|RotationNotFinished|Interrupted)$/;

/** Why it failed, from the failing step's error (or only its name): cause, fix, runbook. */
function failureOf(
  reason: string,
  step: string | undefined,
  error: { name: string; message?: string; reason?: string } | undefined,
  serviceEvent: 'RotationFailed' | 'TestRotationFailed',
): WaitFailure {
  if (error === undefined) {
    return { ...(step === undefined ? {} : { step }), runbook: runbookUrl(serviceEvent), reason };
  }
  const cause = describeCause(error);
  return {
    ...(step === undefined ? {} : { step }),
    error: error.name,
    ...(error.message === undefined ? {} : { message: shortMessage(error.message) }),
    cause: cause.words,
    fix: cause.fix,
    // A bare `Error` (a function that died outside rotor's handler) has no entry: the service's event has.
    runbook: runbookUrl(RUNBOOK_NAME.test(error.name) ? error.name : serviceEvent),
    reason,
  };
}

/** Waits for what RotateSecret started: the configuration test, or the first rotation. */
async function waitForStart(
  session: Session,
  context: AwsContext,
  result: AttachResult,
  options: AttachOptions,
): Promise<WaitOutcome> {
  const arn = result.arn ?? result.secret;
  const token = result.versionId as string;
  const created = new Date(result.startedAt ?? session.now());
  const timeoutMs = (options.timeout ?? DEFAULT_WAIT_SECONDS) * 1000;
  const print = !options.json;
  if (!options.rotateImmediately) {
    return followTest(session, context, { arn, token, created, timeoutMs, print });
  }
  const followed = await follow(session, context, { arn, token, created, timeoutMs, print });
  const failedStep = followed.steps.findLast((step) => step.result === 'failed');
  const failure = followed.state?.failure;
  const error = failedStep?.error ?? (failure?.error === undefined ? undefined : { name: failure.error });
  return {
    for: 'rotation',
    versionId: token,
    outcome: followed.outcome,
    durationMs: followed.durationMs,
    steps: followed.steps,
    ...(followed.outcome === 'failed'
      ? {
          failure: failureOf(
            followed.reason ?? 'the first rotation failed',
            failure?.step ?? failedStep?.step,
            error,
            'RotationFailed',
          ),
        }
      : {}),
  };
}

/**
 * Follows a configuration test (testSecret on a temporary AWSPENDING version) to its outcome: the
 * service's test events or the token's own step events say passed or failed; the rotation state
 * model (handlers/rotationState.ts) says when a test that reports nothing more has failed or is
 * stuck, as `status` judges it.
 */
async function followTest(
  session: Session,
  context: AwsContext,
  target: { arn: string; token: string; created: Date; timeoutMs: number; print: boolean },
): Promise<WaitOutcome> {
  const { out, progress } = session.term;
  const { arn, token, created } = target;
  const since = new Date(created.getTime() - SKEW_MS);
  const followingSince = session.now();
  const versions = [{ VersionId: token, CreatedDate: created }];
  const seen = new Set<string>();
  const steps: StepLine[] = [];
  let eventsWarned = false;
  let endedAt: number | undefined;
  const done = (outcome: WaitOutcome['outcome'], failure?: WaitFailure): WaitOutcome => ({
    for: 'configuration-test',
    versionId: token,
    outcome,
    durationMs: session.now() - created.getTime(),
    steps,
    ...(failure === undefined ? {} : { failure }),
  });

  const reader = followReader(context, arn, since, progress);
  for (;;) {
    const { secret, events } = await reader.read();
    eventsWarned = reader.warned;
    // This test's own events: its token's steps, and the service's test events since it began.
    const own = events.filter(
      (event) =>
        event.versionId === token ||
        (event.versionId === undefined &&
          event.kind.startsWith('test-') &&
          event.time.getTime() >= created.getTime() - 1_000),
    );
    for (const event of own) {
      if (event.kind === 'step-succeeded' || event.kind === 'step-failed')
        recordStep(out, event, seen, steps, target.print);
    }

    const test = lastConfigurationTest(own);
    const lastFailedStep = own.findLast((event) => event.kind === 'step-failed');
    const ended = !(secret.VersionIdsToStages?.[token]?.includes(PENDING) ?? false);
    const serviceFailed = own.some((event) => event.kind === 'test-failed');
    if (test?.result === 'passed') return done('passed');
    if (test?.result === 'failed' && (serviceFailed || ended)) {
      const error = lastFailedStep?.error ?? (test.error === undefined ? undefined : { name: test.error });
      const step = lastFailedStep?.step ?? 'testSecret';
      return done(
        'failed',
        failureOf(
          `${step} failed${error === undefined ? '' : ` (${errorWithCause(error)})`}`,
          step,
          error,
          'TestRotationFailed',
        ),
      );
    }
    if (ended) {
      // The test is over; its outcome's event may still be on its way.
      endedAt ??= session.now();
      if (session.now() - endedAt > OUTCOME_LAG_MS || (eventsWarned && session.now() - endedAt > 0)) {
        return done('unknown', {
          runbook: runbookUrl('TestRotationFailed'),
          reason: `the configuration test ended (version ${token} is no longer AWSPENDING) but no event tells its outcome: see \`rotor history\``,
        });
      }
    } else {
      const visible = !eventsWarned && context.events.includesServiceEvents;
      const state = rotationState(stateFacts(secret, session.now(), events, versions, undefined, visible));
      if (state.pendingVersionId === token && (state.state === 'failed' || state.state === 'stuck')) {
        const f = state.failure;
        const error = lastFailedStep?.error ?? (f?.error === undefined ? undefined : { name: f.error });
        return done(
          'failed',
          failureOf(state.reason, f?.step ?? lastFailedStep?.step, error, 'TestRotationFailed'),
        );
      }
    }
    if (session.now() - followingSince > target.timeoutMs) return done('timed-out');
    if (session.signal.aborted) return done('interrupted');
    await sleep(session.pollIntervalMs, session.signal);
  }
}

/** The outcome's lines: passed, or failed with step, error, cause in words, what to do, runbook. */
function printWait(session: Session, name: string, wait: WaitOutcome): void {
  const { out } = session.term;
  const what = wait.for === 'configuration-test' ? 'configuration test' : 'first rotation';
  const took = formatAge(Math.max(0, wait.durationMs));
  switch (wait.outcome) {
    case 'passed':
      out.line(`${out.paint('green', `${what} passed`)} in ${took}: ${name}`);
      return;
    case 'succeeded':
      out.line(
        `${out.paint('green', `${what} succeeded`)} in ${took}: version ${wait.versionId} of ${name} is AWSCURRENT`,
      );
      return;
    case 'timed-out':
      out.line(
        `${out.paint('yellow', `${what} still running`)} after ${took}: follow it with \`rotor status\` or \`rotor history ${name}\``,
      );
      return;
    case 'interrupted':
      out.line(`stopped waiting after ${took}; the ${what} goes on in Secrets Manager`);
      return;
    case 'unknown':
      out.line(
        `${out.paint('yellow', `${what} outcome unknown`)} after ${took}: ${wait.failure?.reason ?? ''}`,
      );
      return;
    default: {
      const f = wait.failure;
      out.line(`${out.paint('red', `${what} FAILED`)} after ${took}: ${f?.reason ?? 'see the steps above'}`);
      if (f?.step !== undefined) out.line(`  step:    ${f.step}`);
      if (f?.error !== undefined) out.line(`  error:   ${f.error}`);
      if (f?.cause !== undefined) out.line(`  cause:   ${f.cause}`);
      if (f?.fix !== undefined) out.line(`  to do:   ${f.fix}`);
      if (f?.runbook !== undefined) out.line(`  runbook: ${f.runbook}`);
    }
  }
}
