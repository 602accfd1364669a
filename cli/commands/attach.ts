/**
 * `rotor attach <secret...>`: turns rotation on for existing secrets (RotateSecret with the
 * function, the schedule and the window). A secret is refused, and left exactly as it was, when
 * its value does not parse for its engine (the error names the field) or, unless
 * `--skip-preflight`, when a preflight check fails. Whatever the flags, it is refused when the
 * function does not rotate the secret's engine (cli/functionEngines.ts), and when another rotation
 * function is configured on it, unless `--replace`.
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { scheduleProblem, windowProblem } from '../../deploy/schedule.js';
import { ConfigurationError, RotorError } from '../../rotators/errors.js';
import { type AwsContext, aws, EXIT, exitCodeOf, type GlobalOptions } from '../aws.js';
import { ENGINE_CHECK } from '../functionEngines.js';
import { functionArnFor } from '../secrets.js';
import type { Session } from '../session.js';
import { type AdoptionResult, adopt, printAdoptions } from './adopt.js';
import { checksJson, passed, printChecks, runPreflight } from './preflight.js';

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
  timeout?: number;
}

/**
 * Why Secrets Manager would refuse a schedule, or undefined: its documented rules
 * (deploy/schedule.ts, shared with the stage file and the local stack).
 */
export function scheduleUsageProblem(text: string): string | undefined {
  return scheduleProblem(text);
}

/** `1h` to `24h`: Secrets Manager's rotation window (how it fits the schedule is checked with both). */
export function validWindow(text: string): boolean {
  const match = /^(\d{1,2})h$/.exec(text);
  return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 24;
}

interface AttachResult {
  secret: string;
  arn?: string;
  attached: boolean;
  functionArn?: string;
  versionId?: string;
  refused?: { reason: string; error?: ReturnType<RotorError['toJSON']> };
  checks?: ReturnType<typeof checksJson>;
  exitCode: number;
}

async function attachOne(
  session: Session,
  context: AwsContext,
  secretId: string,
  options: AttachOptions,
): Promise<AttachResult> {
  const preflight = await runPreflight(session, context, secretId, {
    withRotation: false,
    timeoutMs: (options.timeout ?? 30) * 1000,
    function: options.function as string,
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
  // Adoptions first: the attach's preflight and first rotation then see them.
  const adopted: AdoptionResult[] = [];
  for (const secretId of adoptions.length === 0 ? [] : secretIds) {
    try {
      adopted.push(...(await adopt(session, context, secretId, adoptions)));
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
      result = await attachOne(session, context, secretId, options);
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
    if (options.json) continue;
    if (result.attached) {
      const what = options.rotateImmediately
        ? `rotation started (version ${result.versionId})`
        : 'configuration test started (testSecret only; nothing rotates until the schedule)';
      out.line(
        `${out.paint('green', 'attached')} ${result.secret}: ${result.functionArn} on ${options.schedule}${options.window ? `, window ${options.window}` : ''}; ${what}`,
      );
    } else {
      err.line(
        `${err.paint('red', 'refused')} ${result.secret}: ${result.refused?.reason ?? 'unknown reason'}; nothing was changed`,
      );
      if (result.checks !== undefined && result.refused?.reason === 'preflight failed') {
        printChecks(session.term, result.checks);
      }
    }
  }
  if (options.json) {
    const attached = results.map(({ exitCode: _code, ...result }) => result);
    out.json(adopted.length === 0 ? attached : { adopted, attached });
  }
  return Math.max(EXIT.ok, ...results.map((result) => result.exitCode));
}
