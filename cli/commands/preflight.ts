/**
 * `rotor preflight <secret>`: checks, without changing anything, what a rotation will need.
 *
 * What only the CLI can see (rotation configured, no stuck AWSPENDING, the value parses for its
 * engine) comes first; then the engine's own checks (`Rotator.preflight`: logins, privileges,
 * room for a new key), given a `fetchRelated` that reads other secrets through Secrets Manager;
 * then the rotator's own testSecret with AWSCURRENT as the pending value, as Secrets Manager's
 * configuration test does it (login, identity, the probe query; never a change). Each failed
 * check names the class of its cause (network, TLS, authentication, privilege, probe query,
 * provider, configuration) and the codes it quotes in words.
 */
import type { DescribeSecretResponse } from '@aws-sdk/client-secrets-manager';
import { rotatorRequest } from '../../handlers/rotatorRequest.js';
import type { VersionReader } from '../../handlers/versions.js';
import {
  CAUSE_FIX,
  CAUSE_WORDS,
  type CauseClass,
  causeClass,
  causeLine,
  explainCodes,
} from '../../rotators/causes.js';
import { asRotorError, InvalidSecretError, RotorError, UnknownEngineError } from '../../rotators/errors.js';
import type { PreflightCheck } from '../../rotators/types.js';
import { type AwsContext, EXIT, type GlobalOptions } from '../aws.js';
import { engineCheck, functionEngines } from '../functionEngines.js';
import { oldNote, type Terminal } from '../io.js';
import {
  describeSecret,
  functionArnFor,
  listVersions,
  type ParsedCurrent,
  parseCurrent,
  readCurrent,
  stuckPendingVersion,
} from '../secrets.js';
import type { Session } from '../session.js';
import type { ReadSecret } from './adopt.js';

export interface PreflightOptions extends GlobalOptions {
  json?: boolean;
  timeout?: number;
}

export interface PreflightResult {
  readonly secret: DescribeSecretResponse;
  readonly checks: PreflightCheck[];
  /** AWSCURRENT parsed, when it parsed. */
  readonly parsed?: ParsedCurrent;
  /** Why it did not parse, when it did not. */
  readonly invalid?: RotorError;
}

/**
 * The class of a failed check's cause. The engines' checks carry no error name, so their name and
 * detail decide; undefined when neither says.
 */
export function checkCause(check: PreflightCheck): CauseClass | undefined {
  if (check.ok) return undefined;
  const cause = (check as { cause?: unknown }).cause;
  if (typeof cause === 'string' && cause in CAUSE_WORDS) return cause as CauseClass;
  const { name, detail } = check;
  if (/^(rotation configured|no stuck rotation|secret value)$/.test(name)) return 'configuration';
  if (/probe/i.test(name) || /probe query/i.test(detail)) return 'probe-query';
  if (/privilege|grant/i.test(name) || /lacks|permission denied|SQLSTATE 42501|not allowed/i.test(detail))
    return 'privilege';
  if (/\bTLS\b|certificate/i.test(detail)) return 'tls';
  if (/refused the login|SCRAM|password|authentication|SQLSTATE 28|error (1045|1698)/i.test(detail))
    return 'authentication';
  if (/connect|refused|timed out|timeout|DNS|resolve|unreachable|reach/i.test(detail)) return 'network';
  if (/provider/i.test(name) || /provider|HTTP \d{3}/i.test(detail)) return 'provider';
  return undefined;
}

/** Whether a check list passed. */
export const passed = (checks: readonly PreflightCheck[]): boolean => checks.every((check) => check.ok);

/** The rotation settings, as a check (`rotor preflight` only: `attach` is what sets them). */
export function rotationCheck(secret: DescribeSecretResponse): PreflightCheck {
  const name = 'rotation configured';
  const id = secret.Name ?? secret.ARN ?? '<secret>';
  if (secret.RotationEnabled === true && secret.RotationLambdaARN !== undefined) {
    const rules = secret.RotationRules;
    const schedule =
      rules?.ScheduleExpression ??
      (rules?.AutomaticallyAfterDays === undefined
        ? 'no schedule'
        : `every ${rules.AutomaticallyAfterDays} days`);
    return {
      name,
      ok: true,
      detail: `rotated by ${secret.RotationLambdaARN} on ${schedule}${rules?.Duration ? `, window ${rules.Duration}` : ''}`,
    };
  }
  return {
    name,
    ok: false,
    detail:
      secret.RotationLambdaARN === undefined
        ? 'no rotation function is configured'
        : `rotation is disabled (function ${secret.RotationLambdaARN})`,
    fix: `rotor attach ${id} --function <rotor function> --schedule "rate(30 days)"`,
  };
}

/** The engine checks' time limit without `--timeout` (`rotor preflight`, and `rotor attach` always). */
export const DEFAULT_PREFLIGHT_SECONDS = 30;

/** Runs the checks; `withRotation` adds the rotation-settings check. Never changes anything. */
export async function runPreflight(
  session: Session,
  context: AwsContext,
  secretId: string,
  options: {
    withRotation: boolean;
    timeoutMs: number;
    /** The rotation function (name or ARN) attach will set; else the configured one. */
    function?: string;
    /** The secret as already read (attach --adopt): described and AWSCURRENT read once, not twice. */
    read?: ReadSecret;
  },
): Promise<PreflightResult> {
  const secret = options.read?.secret ?? (await describeSecret(context, secretId));
  const arn = secret.ARN ?? secretId;
  const id = secret.Name ?? arn;
  const checks: PreflightCheck[] = [];
  if (options.withRotation) checks.push(rotationCheck(secret));

  const stuck = stuckPendingVersion(secret.VersionIdsToStages);
  if (stuck === undefined) {
    checks.push({ name: 'no stuck rotation', ok: true, detail: 'AWSPENDING is absent or on AWSCURRENT' });
  } else {
    const created = (await listVersions(context, arn)).find((v) => v.VersionId === stuck)?.CreatedDate;
    const age =
      created === undefined ? '' : ` (${oldNote(Math.round((session.now() - created.getTime()) / 1000))})`;
    checks.push({
      name: 'no stuck rotation',
      ok: false,
      detail: `AWSPENDING is on version ${stuck}${age}, not on AWSCURRENT: the next rotation would be refused`,
      fix: `rotor heal ${id}`,
    });
  }

  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), session.signal]);
  // The rotation's reader: AWSCURRENT parsed, masters bound and related secrets read as the function does.
  const reader = session.reader(context, signal, arn);
  let parsed: ParsedCurrent;
  const text = options.read?.currentText;
  try {
    // A value read already is parsed as readCurrent parses it; one that was not text is read
    // again, for readCurrent's own refusal.
    parsed =
      text === undefined
        ? await readCurrent(context, arn, reader, session.scope)
        : await parseCurrent(reader, arn, text);
  } catch (error) {
    if (!(error instanceof RotorError)) throw error;
    checks.push({
      name: 'secret value',
      ok: false,
      detail: error.detail,
      fix:
        error instanceof InvalidSecretError
          ? `Fix the field "${error.field}" of the secret's JSON`
          : error instanceof UnknownEngineError
            ? `Set "engine" to one of: ${session.registry().engines.join(', ')}`
            : 'See the detail',
    });
    return { secret, checks, invalid: error };
  }
  checks.push({
    name: 'secret value',
    ok: true,
    detail: `engine ${parsed.engine}, strategy ${parsed.strategy}`,
  });
  // The function that will rotate it (attach's --function, else the configured one) must rotate its engine.
  const functionArn =
    options.function === undefined ? secret.RotationLambdaARN : functionArnFor(options.function, arn);
  if (functionArn !== undefined) {
    checks.push(engineCheck(functionArn, parsed.engine, await functionEngines(context, functionArn)));
  }

  const { rotator, value, managedDatabase } = parsed;
  if (rotator.preflight === undefined) {
    checks.push({
      name: 'engine checks',
      ok: true,
      detail: `the ${parsed.engine} rotator has no preflight checks`,
    });
    checks.push(await testCheck(parsed, arn, signal, options.timeoutMs, reader));
    return { secret, checks, parsed };
  }
  try {
    checks.push(
      ...(await rotator.preflight({
        current: value,
        signal,
        deadline: Date.now() + options.timeoutMs,
        fetchRelated: reader.fetchRelated,
        // The master and its binding as the rotation function resolves them (ROTOR_MASTERS etc. in
        // the CLI's environment, RDS for a master RDS manages), and the adoption record.
        fetchMaster: reader.fetchMaster,
        secretArn: arn,
        adopted: () => reader.adopted(arn),
        ...(managedDatabase === undefined ? {} : { managedDatabase }),
      })),
    );
  } catch (error) {
    checks.push({
      name: 'engine checks',
      ok: false,
      detail:
        error instanceof RotorError
          ? causeLine({ ...error.toJSON(), message: error.detail })
          : `unexpected ${error instanceof Error ? error.name : typeof error}`,
      fix: 'See the detail',
    });
  }
  checks.push(await testCheck(parsed, arn, signal, options.timeoutMs, reader));
  return { secret, checks, parsed };
}

/**
 * The rotator's testSecret with AWSCURRENT as the pending value: what Secrets Manager's
 * configuration test runs (a login, the identity check, the probe query), never a change.
 */
async function testCheck(
  parsed: ParsedCurrent,
  arn: string,
  signal: AbortSignal,
  timeoutMs: number,
  reader: VersionReader,
): Promise<PreflightCheck> {
  const name = 'test (as testSecret)';
  const { rotator, value } = parsed;
  try {
    // The request the step machine builds (as the engine checks above: the master and its binding,
    // and the adoption record, read by the rotation's reader).
    const context = {
      signal,
      deadline: Date.now() + timeoutMs,
      token: 'rotor-preflight',
      step: 'testSecret',
      secretArn: arn,
      reader,
    } as const;
    const response = await rotator.test({
      ...rotatorRequest(context, parsed),
      pending: value,
      current: async () => value,
    });
    const warnings = response?.warnings ?? [];
    return {
      name,
      ok: true,
      detail: `AWSCURRENT passes the rotator's test${(value as { probeQuery?: unknown }).probeQuery === undefined ? '' : ' (probe query included)'}${warnings.length === 0 ? '' : `; warnings: ${warnings.join('; ')}`}`,
    };
  } catch (error) {
    const rotorError = asRotorError(error);
    const facts = { ...rotorError.toJSON(), message: rotorError.detail };
    const cls = causeClass(facts);
    return { name, ok: false, detail: causeLine(facts), fix: CAUSE_FIX[cls], cause: cls } as PreflightCheck;
  }
}

/** One line per check; the fix under each failed one. */
export function printChecks(term: Terminal, checks: readonly PreflightCheck[]): void {
  const { out } = term;
  const width = Math.max(...checks.map((check) => check.name.length));
  for (const check of checks) {
    const mark = check.ok ? out.paint('green', 'PASS') : out.paint('red', 'FAIL');
    const cause = checkCause(check);
    const detail = explainCodes(check.detail);
    // A detail that already starts with its class (the test check) does not say it twice.
    const suffix =
      cause === undefined || detail.startsWith(`${CAUSE_WORDS[cause]} (`)
        ? ''
        : `  [cause: ${CAUSE_WORDS[cause]}]`;
    out.line(`  ${mark}  ${check.name.padEnd(width)}  ${detail}${suffix}`);
    if (!check.ok && check.fix !== undefined) out.line(`        ${' '.repeat(width)}  fix: ${check.fix}`);
  }
}

export function checksJson(checks: readonly PreflightCheck[]) {
  return checks.map((check) => {
    const cause = checkCause(check);
    return {
      name: check.name,
      ok: check.ok,
      detail: explainCodes(check.detail),
      ...(cause === undefined ? {} : { cause }),
      ...(check.fix === undefined ? {} : { fix: check.fix }),
    };
  });
}

export async function preflightCommand(
  session: Session,
  secretId: string,
  options: PreflightOptions,
): Promise<number> {
  const context = await session.aws(options);
  const timeout = options.timeout ?? DEFAULT_PREFLIGHT_SECONDS;
  session.term.progress(`checking ${secretId} (logins may take up to ${timeout} s)...`);
  const result = await runPreflight(session, context, secretId, {
    withRotation: true,
    timeoutMs: timeout * 1000,
  });
  const ok = passed(result.checks);
  if (options.json) {
    session.term.out.json({
      secret: { name: result.secret.Name, arn: result.secret.ARN },
      ok,
      checks: checksJson(result.checks),
    });
  } else {
    session.term.out.line(`preflight of ${result.secret.Name} (${result.secret.ARN})`);
    printChecks(session.term, result.checks);
    const failed = result.checks.filter((check) => !check.ok).length;
    session.term.out.line(
      ok ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed: fix them before rotating`,
    );
  }
  return ok ? EXIT.ok : EXIT.failure;
}
